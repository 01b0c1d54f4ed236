/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the split bdev (module/bdev/split) through the bdev API. */
#include "ut_stack_common.h"
#include "bdev_split.h"

static void
test_split_io_and_params(void)
{
	static uint8_t wbuf[4096], rbuf[4096];
	struct ftgt_bdev_desc *d_part, *d_base;
	struct ftgt_io_channel *ch_part, *ch_base;
	const char *names[3];
	struct ftgt_bdev *p1;
	struct ut_cpl c = {0};
	json_t *cfg;
	char err[256];

	ut_malloc("S", 3000, 4096);
	CU_ASSERT(bdev_split_create("S", 0, 0, NULL, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(bdev_split_create("nope", 2, 0, NULL, err, sizeof(err)) == -ENODEV);
	CU_ASSERT(strstr(err, "nope") != NULL);
	/* 3 x 8 MiB = 6144 blocks > 3000: refused, nothing created. */
	CU_ASSERT(bdev_split_create("S", 3, 8, NULL, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(ftgt_bdev_get_by_name("Sp0") == NULL);
	CU_ASSERT_FATAL(bdev_split_create("S", 3, 0, names, err, sizeof(err)) == 0);
	CU_ASSERT(strcmp(names[2], "Sp2") == 0);
	CU_ASSERT(bdev_split_create("S", 3, 0, NULL, err, sizeof(err)) == -EEXIST);
	p1 = ftgt_bdev_get_by_name("Sp1");
	CU_ASSERT_FATAL(p1 != NULL);
	CU_ASSERT(ftgt_bdev_get_num_blocks(p1) == 1000);
	CU_ASSERT(strcmp(ftgt_bdev_get_claim_owner(ftgt_bdev_get_by_name("S")), "split") == 0);
	/* The base cannot be deleted while split. */
	CU_ASSERT(bdev_malloc_delete("S", ut_del_cb, NULL, err, sizeof(err)) == -EBUSY);

	/* A write to Sp1 block 5 lands at base block 1005. */
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("Sp1", true, ut_ev_cb, NULL, &d_part) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("S", false, ut_ev_cb, NULL, &d_base) == 0);
	ch_part = ftgt_bdev_get_io_channel(d_part);
	ch_base = ftgt_bdev_get_io_channel(d_base);
	memset(wbuf, 0x5a, sizeof(wbuf));
	CU_ASSERT(ftgt_bdev_write_blocks(d_part, ch_part, wbuf, 5, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 1 && c.success);
	CU_ASSERT(ftgt_bdev_read_blocks(d_base, ch_base, rbuf, 1005, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && c.success);
	CU_ASSERT(memcmp(wbuf, rbuf, sizeof(rbuf)) == 0);
	/* Past the part's end: refused by the core, never reaching the next part. */
	CU_ASSERT(ftgt_bdev_read_blocks(d_part, ch_part, rbuf, 1000, 1, ut_io_done, &c) == -EINVAL);
	/* Deleting the split while a part is open is refused. */
	CU_ASSERT(bdev_split_delete("S", ut_del_cb, NULL, err, sizeof(err)) == -EBUSY);
	ftgt_put_io_channel(ch_part);
	ftgt_put_io_channel(ch_base);
	ftgt_bdev_close(d_part);
	ftgt_bdev_close(d_base);
	ut_poll();

	/* save_config: one create call, from the first part only. */
	cfg = json_array();
	ftgt_bdev_get_by_name("Sp0")->fn_table->write_config_json(ftgt_bdev_get_by_name("Sp0"),
	                                                          cfg);
	p1->fn_table->write_config_json(p1, cfg);
	CU_ASSERT(json_array_size(cfg) == 1);
	CU_ASSERT(strcmp(json_string_value(json_object_get(json_array_get(cfg, 0), "method")),
	                 "bdev_split_create") == 0);
	json_decref(cfg);

	g_ut_del_rc = 1;
	CU_ASSERT(bdev_split_delete("S", ut_del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_ut_del_rc == 0);
	CU_ASSERT(ftgt_bdev_get_by_name("Sp0") == NULL && ftgt_bdev_get_by_name("Sp2") == NULL);
	CU_ASSERT(bdev_split_delete("S", ut_del_cb, NULL, err, sizeof(err)) == -ENODEV);
	ut_malloc_delete("S");
}

static void
test_split_name_clash_and_hot_remove(void)
{
	struct ftgt_bdev *base;
	char err[256];
	int removed = 0;
	struct ftgt_bdev_desc *d;

	base = ut_malloc("H", 64, 512);
	ut_malloc("Hp1", 8, 512);
	CU_ASSERT(bdev_split_create("H", 2, 0, NULL, err, sizeof(err)) == -EEXIST);
	CU_ASSERT(strstr(err, "Hp1") != NULL);
	CU_ASSERT(ftgt_bdev_get_by_name("Hp0") == NULL);
	CU_ASSERT(ftgt_bdev_get_claim_owner(base) == NULL);
	ut_malloc_delete("Hp1");

	/* Hot remove of the base removes the splits (and notifies their holders). */
	CU_ASSERT_FATAL(bdev_split_create("H", 2, 0, NULL, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("Hp0", false, ut_ev_cb, &removed, &d) == 0);
	ftgt_bdev_unregister(base, ut_del_cb, NULL);
	ut_poll();
	CU_ASSERT(removed == 1);
	ftgt_bdev_close(d);
	ut_poll();
	CU_ASSERT(ftgt_bdev_get_by_name("Hp0") == NULL && ftgt_bdev_get_by_name("Hp1") == NULL);
	CU_ASSERT(ftgt_bdev_get_by_name("H") == NULL);
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "split_io_and_params", test_split_io_and_params);
	CU_add_test(s, "split_name_clash_and_hot_remove", test_split_name_clash_and_hot_remove);
}

int
main(void)
{
	return ut_bdev_run("bdev_split", add_tests, NULL);
}
