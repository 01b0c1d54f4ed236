/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the malloc bdev (module/bdev/malloc) through the bdev API. */
#include <errno.h>
#include <string.h>

#include "../../lib/bdev/bdev_ut_common.h"
#include "bdev_malloc.h"

static void
ev_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
}

struct cpl {
	int count;
	bool success;
	enum ftgt_bdev_io_status status;
};

static void
io_done(struct ftgt_bdev_io *io, bool success, void *arg)
{
	struct cpl *c = arg;

	c->count++;
	c->success = success;
	c->status = ftgt_bdev_io_get_status(io);
	ftgt_bdev_free_io(io);
}

static int g_del_rc = 1;
static void
del_cb(void *arg, int rc)
{
	g_del_rc = rc;
}

static int
count_bdevs(void)
{
	int n = 0;

	for (struct ftgt_bdev *b = ftgt_bdev_first(); b != NULL; b = ftgt_bdev_next(b)) {
		n++;
	}
	return n;
}

static void
test_bad_params(void)
{
	struct malloc_bdev_opts o = {.name = "m_bad", .num_blocks = 16, .block_size = 1000};
	struct ftgt_bdev *b;
	char err[256];
	int n = count_bdevs();

	CU_ASSERT(bdev_malloc_create(&b, &o, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "block size 1000 is not supported") != NULL);
	o.block_size = 512;
	o.num_blocks = 0;
	CU_ASSERT(bdev_malloc_create(&b, &o, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "number of blocks") != NULL);
	o.num_blocks = 16;
	o.block_size = 0;
	CU_ASSERT(bdev_malloc_create(&b, &o, err, sizeof(err)) == -EINVAL);
	o.block_size = 512;
	CU_ASSERT(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(bdev_malloc_create(&b, &o, err, sizeof(err)) == -EEXIST);
	CU_ASSERT(strstr(err, "already exists") != NULL);
	CU_ASSERT(count_bdevs() == n + 1);
	CU_ASSERT(bdev_malloc_delete("m_none", del_cb, NULL, err, sizeof(err)) == -ENODEV);
	CU_ASSERT(strstr(err, "does not exist") != NULL);
	g_del_rc = 1;
	CU_ASSERT(bdev_malloc_delete("m_bad", del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_del_rc == 0);
	CU_ASSERT(count_bdevs() == n);
	/* Default names. */
	o.name = NULL;
	CU_ASSERT(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(strncmp(ftgt_bdev_get_name(b), "Malloc", 6) == 0);
	CU_ASSERT(bdev_malloc_delete(ftgt_bdev_get_name(b), del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
}

static void
test_data_path(void)
{
	struct malloc_bdev_opts o = {.name = "m_data", .num_blocks = 256, .block_size = 4096};
	static uint8_t wbuf[3 * 4096], rbuf[3 * 4096];
	struct iovec wiov[2] = {{wbuf, 4096 + 100}, {wbuf + 4196, 2 * 4096 - 100}};
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ftgt_bdev *b;
	struct cpl c = {0};
	char err[256];
	int i;

	CU_ASSERT_FATAL(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_get_block_size(b) == 4096 && ftgt_bdev_get_num_blocks(b) == 256);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("m_data", true, ev_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	for (i = 0; i < (int)sizeof(wbuf); i++) {
		wbuf[i] = (uint8_t)(i * 7 + i / 4096);
	}
	CU_ASSERT(ftgt_bdev_writev_blocks(desc, ch, wiov, 2, 10, 3, io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, rbuf, 10, 3, io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && c.success);
	CU_ASSERT(memcmp(wbuf, rbuf, sizeof(rbuf)) == 0);
	/* Compare: equal, then different. */
	CU_ASSERT(ftgt_bdev_compare_blocks(desc, ch, wbuf, 10, 3, io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 3 && c.success);
	CU_ASSERT(ftgt_bdev_compare_blocks(desc, ch, wbuf, 11, 1, io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 4 && c.status == FTGT_BDEV_IO_STATUS_MISCOMPARE);
	/* Write zeroes and unmap read back as zeroes. */
	CU_ASSERT(ftgt_bdev_write_zeroes_blocks(desc, ch, 10, 1, io_done, &c) == 0);
	CU_ASSERT(ftgt_bdev_unmap_blocks(desc, ch, 11, 1, io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, rbuf, 10, 3, io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 7 && c.success);
	for (i = 0; i < 2 * 4096; i++) {
		if (rbuf[i] != 0) {
			CU_FAIL("not zero");
			break;
		}
	}
	CU_ASSERT(memcmp(rbuf + 2 * 4096, wbuf + 2 * 4096, 4096) == 0);
	/* Open by a front end: delete refused with a clear error; claimed likewise. */
	CU_ASSERT(bdev_malloc_delete("m_data", del_cb, NULL, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(ftgt_bdev_claim(desc, "nvmf") == 0);
	CU_ASSERT(bdev_malloc_delete("m_data", del_cb, NULL, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "claimed by 'nvmf'") != NULL);
	CU_ASSERT(ftgt_bdev_get_by_name("m_data") == b);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	g_del_rc = 1;
	CU_ASSERT(bdev_malloc_delete("m_data", del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_del_rc == 0 && ftgt_bdev_get_by_name("m_data") == NULL);
}

static void
test_metadata(void)
{
	struct malloc_bdev_opts o = {.name = "m_md",
	                             .num_blocks = 16,
	                             .block_size = 512,
	                             .md_size = 8,
	                             .md_interleave = true};
	struct ftgt_bdev_opts dummy;
	struct ftgt_bdev_ext_io_opts eo = {.size = sizeof(eo)};
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ftgt_bdev *b;
	uint8_t buf[2 * 520], md[16], rmd[16];
	struct iovec iov = {buf, 512 * 2};
	struct cpl c = {0};
	char err[256];

	(void)dummy;
	CU_ASSERT_FATAL(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_get_block_size(b) == 520);
	CU_ASSERT(ftgt_bdev_get_data_block_size(b) == 512);
	CU_ASSERT(ftgt_bdev_is_md_interleaved(b));
	CU_ASSERT(bdev_malloc_delete("m_md", del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	/* 520 given directly means the same. */
	o.block_size = 520;
	CU_ASSERT_FATAL(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_get_block_size(b) == 520);
	CU_ASSERT(bdev_malloc_delete("m_md", del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	/* Separate metadata travels in md_buf. */
	o.block_size = 512;
	o.md_interleave = false;
	CU_ASSERT_FATAL(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_is_md_separate(b) && ftgt_bdev_get_block_size(b) == 512);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("m_md", true, ev_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	memset(buf, 1, sizeof(buf));
	memset(md, 0x5a, sizeof(md));
	eo.md_buf = md;
	CU_ASSERT(ftgt_bdev_writev_blocks_ext(desc, ch, &iov, 1, 3, 2, io_done, &c, &eo) == 0);
	ut_poll();
	eo.md_buf = rmd;
	CU_ASSERT(ftgt_bdev_readv_blocks_ext(desc, ch, &iov, 1, 3, 2, io_done, &c, &eo) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && c.success);
	CU_ASSERT(memcmp(md, rmd, sizeof(md)) == 0);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	CU_ASSERT(bdev_malloc_delete("m_md", del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
}

static void
test_config_json(void)
{
	struct malloc_bdev_opts o = {
	        .name = "m_cfg", .num_blocks = 8, .block_size = 512, .optimal_io_boundary = 4};
	void bdev_subsystem_write_config(json_t * config);
	struct ftgt_bdev *b;
	json_t *cfg = json_array(), *e, *p;
	char err[256];
	size_t i;
	bool found = false;

	CU_ASSERT_FATAL(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	bdev_subsystem_write_config(cfg);
	json_array_foreach(cfg, i, e)
	{
		p = json_object_get(e, "params");
		if (strcmp(json_string_value(json_object_get(e, "method")), "bdev_malloc_create") ==
		            0 &&
		    strcmp(json_string_value(json_object_get(p, "name")), "m_cfg") == 0) {
			found = true;
			CU_ASSERT(json_integer_value(json_object_get(p, "num_blocks")) == 8);
			CU_ASSERT(json_integer_value(json_object_get(p, "block_size")) == 512);
			CU_ASSERT(json_integer_value(json_object_get(p, "optimal_io_boundary")) ==
			          4);
			CU_ASSERT(json_object_get(p, "uuid") != NULL);
		}
	}
	CU_ASSERT(found);
	json_decref(cfg);
	CU_ASSERT(bdev_malloc_delete("m_cfg", del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "bad_params", test_bad_params);
	CU_add_test(s, "data_path", test_data_path);
	CU_add_test(s, "metadata", test_metadata);
	CU_add_test(s, "config_json", test_config_json);
}

int
main(void)
{
	return ut_bdev_run("bdev_malloc", add_tests, NULL);
}
