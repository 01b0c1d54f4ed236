/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the stacked-bdev helper (lib/bdev/part.c: ftgt_bdev_base and
 * ftgt_bdev_part) through a small test module stacked on malloc bdevs.
 */
#include <stdlib.h>

#include "ut_stack_common.h"
#include "bdev_split.h"

static struct ftgt_bdev_module g_ut_module = {.name = "ut_part"};
FTGT_BDEV_MODULE_REGISTER(ut_part, &g_ut_module)

static int g_ch_created, g_ch_destroyed, g_removed_parts;

static int
ut_ch_create(void *ctx)
{
	*(int *)ctx = 42;
	g_ch_created++;
	return 0;
}

static void
ut_ch_destroy(void *ctx)
{
	CU_ASSERT(*(int *)ctx == 42);
	g_ch_destroyed++;
}

static void
ut_remove(struct ftgt_bdev_part *part)
{
	g_removed_parts++;
	ftgt_bdev_unregister(&part->bdev, NULL, NULL);
}

static const struct ftgt_bdev_base_opts g_ut_opts = {
        .module = &g_ut_module,
        .ch_ctx_size = sizeof(int),
        .ch_create_cb = ut_ch_create,
        .ch_destroy_cb = ut_ch_destroy,
        .remove_cb = ut_remove,
};

static void
ut_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	CU_ASSERT(*(int *)ftgt_bdev_part_get_channel_ctx(ch) == 42);
	ftgt_bdev_part_submit(io, NULL, 0, NULL);
}

static bool
ut_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	return ftgt_bdev_part_io_type_supported(ctxt, type);
}

static const struct ftgt_bdev_fn_table g_ut_fn_table = {
        .destruct = ftgt_bdev_part_destruct,
        .submit_request = ut_submit,
        .io_type_supported = ut_io_type_supported,
        .get_io_channel = ftgt_bdev_part_get_io_channel,
};

static struct ftgt_bdev_part *
ut_part(struct ftgt_bdev_base *base, const char *name, uint64_t offset, uint64_t num)
{
	struct ftgt_bdev_part *part = calloc(1, sizeof(*part));
	char err[256];

	CU_ASSERT_FATAL(part != NULL);
	part->bdev.fn_table = &g_ut_fn_table;
	CU_ASSERT_FATAL(ftgt_bdev_part_register(part, base, name, offset, num, err, sizeof(err)) ==
	                0);
	return part;
}

/* Two parts on one base: windows, one shared channel, hot remove takes both. */
static void
test_two_parts_hot_remove(void)
{
	static uint8_t wbuf[512], rbuf[512];
	struct ftgt_bdev_desc *da, *db, *dbase;
	struct ftgt_io_channel *cha, *chb, *chbase;
	struct ftgt_bdev_base *base;
	struct ftgt_bdev *mb;
	struct ut_cpl c = {0};
	int removed = 0;
	char err[256];

	mb = ut_malloc("PB", 64, 512);
	CU_ASSERT_FATAL(ftgt_bdev_base_open("PB", &g_ut_opts, &base, err, sizeof(err)) == 0);
	CU_ASSERT(strcmp(ftgt_bdev_get_claim_owner(mb), "ut_part") == 0);
	CU_ASSERT(ftgt_bdev_base_find("PB", &g_ut_module) == base);
	CU_ASSERT(ftgt_bdev_base_find("PB", ftgt_bdev_module_find("split")) == NULL);
	ut_part(base, "PBa", 0, 16);
	ut_part(base, "PBb", 16, 0);
	CU_ASSERT(ftgt_bdev_get_num_blocks(ftgt_bdev_get_by_name("PBa")) == 16);
	CU_ASSERT(ftgt_bdev_get_num_blocks(ftgt_bdev_get_by_name("PBb")) == 48);
	CU_ASSERT(ftgt_bdev_get_block_size(ftgt_bdev_get_by_name("PBb")) == 512);
	CU_ASSERT(strcmp(ftgt_bdev_get_module_name(ftgt_bdev_get_by_name("PBb")), "ut_part") == 0);

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("PBa", true, ut_ev_cb, &removed, &da) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("PBb", true, ut_ev_cb, &removed, &db) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("PB", false, ut_ev_cb, NULL, &dbase) == 0);
	cha = ftgt_bdev_get_io_channel(da);
	chb = ftgt_bdev_get_io_channel(db);
	chbase = ftgt_bdev_get_io_channel(dbase);
	CU_ASSERT_FATAL(cha != NULL && chb != NULL && chbase != NULL);
	/* The parts of a base share one channel per thread. */
	CU_ASSERT(g_ch_created == 1);

	/* Block 3 of PBb is block 19 of the base. */
	memset(wbuf, 0xa5, sizeof(wbuf));
	CU_ASSERT(ftgt_bdev_write_blocks(db, chb, wbuf, 3, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(ftgt_bdev_read_blocks(dbase, chbase, rbuf, 19, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && c.failed == 0);
	CU_ASSERT(memcmp(wbuf, rbuf, sizeof(rbuf)) == 0);

	/* The base goes: every part is removed, each holder told once. */
	ftgt_put_io_channel(chbase);
	ftgt_bdev_close(dbase);
	ftgt_bdev_unregister(mb, NULL, NULL);
	ut_poll();
	CU_ASSERT(g_removed_parts == 2);
	CU_ASSERT(removed == 2);
	/* The holders still have them: nothing is freed yet. */
	CU_ASSERT(ftgt_bdev_base_find("PB", &g_ut_module) == base);
	CU_ASSERT(g_ch_destroyed == 0);
	ftgt_put_io_channel(cha);
	ftgt_put_io_channel(chb);
	ftgt_bdev_close(da);
	ftgt_bdev_close(db);
	ut_poll();
	CU_ASSERT(g_ch_destroyed == 1);
	CU_ASSERT(ftgt_bdev_get_by_name("PBa") == NULL && ftgt_bdev_get_by_name("PBb") == NULL);
	CU_ASSERT(ftgt_bdev_base_find("PB", &g_ut_module) == NULL);
	CU_ASSERT(ftgt_bdev_get_by_name("PB") == NULL);
}

static void
test_claim_conflicts(void)
{
	struct ftgt_bdev_base *base, *base2;
	struct ftgt_bdev_desc *d;
	struct ftgt_bdev *mb;
	char err[256];

	CU_ASSERT(ftgt_bdev_base_open("nope", &g_ut_opts, &base, err, sizeof(err)) == -ENODEV);
	CU_ASSERT(strstr(err, "nope") != NULL);
	mb = ut_malloc("CB", 64, 512);
	/* Claimed by another module (split) or by ourselves: refused, naming the holder. */
	CU_ASSERT_FATAL(bdev_split_create("CB", 2, 0, NULL, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_base_open("CB", &g_ut_opts, &base, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "claimed by module 'split'") != NULL);
	CU_ASSERT(bdev_split_delete("CB", ut_del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(ftgt_bdev_get_claim_owner(mb) == NULL);
	CU_ASSERT_FATAL(ftgt_bdev_base_open("CB", &g_ut_opts, &base, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_base_open("CB", &g_ut_opts, &base2, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "ut_part") != NULL);
	CU_ASSERT(bdev_split_create("CB", 2, 0, NULL, err, sizeof(err)) == -EBUSY);
	/* Released with no part: the claim goes at once. */
	ftgt_bdev_base_release(base);
	CU_ASSERT(ftgt_bdev_get_claim_owner(mb) == NULL);
	CU_ASSERT(ftgt_bdev_base_find("CB", &g_ut_module) == NULL);
	/* A front end's claim also stops it. */
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("CB", false, ut_ev_cb, NULL, &d) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_claim(d, "nvmf test") == 0);
	CU_ASSERT(ftgt_bdev_base_open("CB", &g_ut_opts, &base, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "nvmf test") != NULL);
	ftgt_bdev_close(d);
	ut_poll();
	ut_malloc_delete("CB");
}

static bool g_base_claimed_at_last_cb;
static int g_last_cb_rc = 1;

static void
ut_last_part_gone(void *arg, int rc)
{
	g_base_claimed_at_last_cb = ftgt_bdev_get_claim_owner(arg) != NULL;
	g_last_cb_rc = rc;
}

/* The base stays claimed until its last part is gone, and is released before that
 * part's removal completes. ftgt_bdev_base_delete refuses while a part is held. */
static void
test_destroy_order(void)
{
	struct ftgt_bdev_base *base;
	struct ftgt_bdev_desc *d;
	struct ftgt_bdev *mb;
	char err[256];

	mb = ut_malloc("OB", 64, 512);
	CU_ASSERT_FATAL(ftgt_bdev_base_open("OB", &g_ut_opts, &base, err, sizeof(err)) == 0);
	ut_part(base, "OBa", 0, 8);
	ut_part(base, "OBb", 8, 8);
	ut_part(base, "OBc", 16, 8);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("OBb", false, ut_ev_cb, NULL, &d) == 0);
	CU_ASSERT(ftgt_bdev_base_delete(base, ut_del_cb, NULL, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "OBb") != NULL);
	ftgt_bdev_close(d);

	/* One part goes: the others and the claim stay. */
	g_ut_del_rc = 1;
	CU_ASSERT(ftgt_bdev_unregister_by_name("OBa", &g_ut_module, ut_del_cb, NULL, err,
	                                       sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_ut_del_rc == 0);
	CU_ASSERT(ftgt_bdev_get_by_name("OBb") != NULL);
	CU_ASSERT(strcmp(ftgt_bdev_get_claim_owner(mb), "ut_part") == 0);
	CU_ASSERT(ftgt_bdev_base_find("OB", &g_ut_module) == base);

	/* The rest together, one callback; the base is closed before it runs. */
	CU_ASSERT(ftgt_bdev_base_delete(base, ut_last_part_gone, mb, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_base_delete(base, ut_del_cb, NULL, err, sizeof(err)) == -EBUSY);
	ut_poll();
	CU_ASSERT(g_last_cb_rc == 0);
	CU_ASSERT(!g_base_claimed_at_last_cb);
	CU_ASSERT(ftgt_bdev_get_by_name("OBb") == NULL && ftgt_bdev_get_by_name("OBc") == NULL);
	CU_ASSERT(ftgt_bdev_base_find("OB", &g_ut_module) == NULL);
	ut_malloc_delete("OB");
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "two_parts_hot_remove", test_two_parts_hot_remove);
	CU_add_test(s, "claim_conflicts", test_claim_conflicts);
	CU_add_test(s, "destroy_order", test_destroy_order);
}

int
main(void)
{
	return ut_bdev_run("bdev_part", add_tests, NULL);
}
