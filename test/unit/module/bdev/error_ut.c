/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the error bdev (module/bdev/error) through the bdev API. */
#include "ut_stack_common.h"
#include "bdev_error.h"

static struct ftgt_bdev_desc *g_desc;
static struct ftgt_io_channel *g_ch;

static void
open_ee(void)
{
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("EE_E", true, ut_ev_cb, NULL, &g_desc) == 0);
	g_ch = ftgt_bdev_get_io_channel(g_desc);
	CU_ASSERT_FATAL(g_ch != NULL);
}

static void
close_ee(void)
{
	ftgt_put_io_channel(g_ch);
	ftgt_bdev_close(g_desc);
	ut_poll();
}

static void
test_error_params(void)
{
	struct ftgt_bdev *b;
	enum error_inject_type t;
	uint32_t mask;
	bool clear;
	char err[256];

	CU_ASSERT(bdev_error_create("nope", NULL, &b, err, sizeof(err)) == -ENODEV);
	CU_ASSERT(ftgt_bdev_get_by_name("EE_nope") == NULL);
	ut_malloc("E", 256, 512);
	CU_ASSERT_FATAL(bdev_error_create("E", NULL, &b, err, sizeof(err)) == 0);
	CU_ASSERT(strcmp(ftgt_bdev_get_name(b), "EE_E") == 0);
	CU_ASSERT(bdev_error_create("E", NULL, &b, err, sizeof(err)) == -EEXIST);
	CU_ASSERT(bdev_malloc_delete("E", ut_del_cb, NULL, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "error") != NULL);
	CU_ASSERT(bdev_error_inject("EE_x", 2, ERROR_INJECT_FAILURE, 1, 0, 0, err, sizeof(err)) ==
	          -ENODEV);
	CU_ASSERT(bdev_error_io_type_parse("read", &mask, &clear) == 0 &&
	          mask == 1u << FTGT_BDEV_IO_TYPE_READ && !clear);
	CU_ASSERT(bdev_error_io_type_parse("bogus", &mask, &clear) == -EINVAL);
	CU_ASSERT(bdev_error_inject_type_parse("corrupt_data", &t) == 0 &&
	          t == ERROR_INJECT_CORRUPT);
	CU_ASSERT(bdev_error_inject_type_parse("x", &t) == -EINVAL);
}

static void
test_error_failure_and_nomem(void)
{
	static uint8_t buf[512];
	struct ut_cpl c = {0};
	char err[256];
	int i;

	open_ee();
	CU_ASSERT(bdev_error_inject("EE_E", 1u << FTGT_BDEV_IO_TYPE_READ, ERROR_INJECT_FAILURE, 2,
	                            0, 0, err, sizeof(err)) == 0);
	for (i = 0; i < 3; i++) {
		CU_ASSERT(ftgt_bdev_read_blocks(g_desc, g_ch, buf, 0, 1, ut_io_done, &c) == 0);
		ut_poll();
	}
	/* Exactly two failed, reported as failed; the third passed through. */
	CU_ASSERT(c.count == 3 && c.failed == 2 && c.success);
	/* Writes were not affected. */
	CU_ASSERT(ftgt_bdev_write_blocks(g_desc, g_ch, buf, 0, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 4 && c.failed == 2);
	/* NOMEM: the core retries, the user sees success. */
	CU_ASSERT(bdev_error_inject("EE_E", 1u << FTGT_BDEV_IO_TYPE_WRITE, ERROR_INJECT_NOMEM, 1, 0,
	                            0, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_write_blocks(g_desc, g_ch, buf, 0, 1, ut_io_done, &c) == 0);
	ut_wait(&c.count, 5);
	CU_ASSERT(c.count == 5 && c.success);
	close_ee();
}

static void
test_error_corrupt(void)
{
	static uint8_t wbuf[1024], rbuf[1024];
	struct ftgt_bdev_desc *bd;
	struct ftgt_io_channel *bch;
	struct ut_cpl c = {0};
	char err[256];

	open_ee();
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("E", false, ut_ev_cb, NULL, &bd) == 0);
	bch = ftgt_bdev_get_io_channel(bd);
	/* Corrupted write: the base holds data differing in byte 700; the caller's buffer
	 * is untouched. */
	memset(wbuf, 0x11, sizeof(wbuf));
	CU_ASSERT(bdev_error_inject("EE_E", 1u << FTGT_BDEV_IO_TYPE_WRITE, ERROR_INJECT_CORRUPT, 1,
	                            700, 0x0f, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_write_blocks(g_desc, g_ch, wbuf, 4, 2, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 1 && c.success && wbuf[700] == 0x11);
	CU_ASSERT(ftgt_bdev_read_blocks(bd, bch, rbuf, 4, 2, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(rbuf[700] == (0x11 ^ 0x0f) && rbuf[699] == 0x11 && rbuf[701] == 0x11);
	/* Corrupted read: the base is fine, the reader sees byte 3 flipped, once. */
	CU_ASSERT(bdev_error_inject("EE_E", 1u << FTGT_BDEV_IO_TYPE_READ, ERROR_INJECT_CORRUPT, 1,
	                            3, 0xff, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_read_blocks(g_desc, g_ch, rbuf, 4, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(rbuf[3] == (0x11 ^ 0xff) && rbuf[2] == 0x11);
	CU_ASSERT(ftgt_bdev_read_blocks(g_desc, g_ch, rbuf, 4, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(rbuf[3] == 0x11);
	CU_ASSERT(c.count == 4 && c.failed == 0);
	ftgt_put_io_channel(bch);
	ftgt_bdev_close(bd);
	close_ee();
}

static void
abort_done(struct ftgt_bdev_io *io, bool success, void *arg)
{
	ut_io_done(io, success, arg);
}

static void
test_error_pending_abort_and_clear(void)
{
	static uint8_t buf[512];
	struct ut_cpl held = {0}, held2 = {0}, ab = {0};
	uint32_t all;
	bool clear;
	char err[256];

	open_ee();
	CU_ASSERT(bdev_error_inject("EE_E", 1u << FTGT_BDEV_IO_TYPE_READ, ERROR_INJECT_PENDING, 2,
	                            0, 0, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_read_blocks(g_desc, g_ch, buf, 0, 1, ut_io_done, &held) == 0);
	CU_ASSERT(ftgt_bdev_read_blocks(g_desc, g_ch, buf, 1, 1, ut_io_done, &held2) == 0);
	ut_poll();
	CU_ASSERT(held.count == 0 && held2.count == 0);
	/* Abort the first: it completes ABORTED, the abort succeeds. */
	CU_ASSERT(ftgt_bdev_abort(g_desc, g_ch, &held, abort_done, &ab) == 0);
	ut_poll();
	CU_ASSERT(held.count == 1 && !held.success && held.status == FTGT_BDEV_IO_STATUS_ABORTED);
	CU_ASSERT(ab.count == 1 && ab.success);
	CU_ASSERT(held2.count == 0);
	/* Clearing the injection releases the other one (as failed, never as success). */
	CU_ASSERT(bdev_error_io_type_parse("clear", &all, &clear) == 0 && clear);
	CU_ASSERT(bdev_error_inject("EE_E", all, ERROR_INJECT_NONE, 0, 0, 0, err, sizeof(err)) ==
	          0);
	ut_poll();
	CU_ASSERT(held2.count == 1 && !held2.success);
	close_ee();

	g_ut_del_rc = 1;
	CU_ASSERT(bdev_error_delete("EE_E", ut_del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_ut_del_rc == 0 && ftgt_bdev_get_by_name("EE_E") == NULL);
	ut_malloc_delete("E");
}

static void
test_error_base_hot_remove_releases_pending(void)
{
	static uint8_t buf[512];
	struct ftgt_bdev_desc *d;
	struct ftgt_io_channel *ch;
	struct ftgt_bdev *base, *b;
	struct ut_cpl held = {0};
	int removed = 0;
	char err[256];

	base = ut_malloc("E2", 64, 512);
	CU_ASSERT_FATAL(bdev_error_create("E2", NULL, &b, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("EE_E2", true, ut_ev_cb, &removed, &d) == 0);
	ch = ftgt_bdev_get_io_channel(d);
	CU_ASSERT(bdev_error_inject("EE_E2", 1u << FTGT_BDEV_IO_TYPE_READ, ERROR_INJECT_PENDING, 1,
	                            0, 0, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, buf, 0, 1, ut_io_done, &held) == 0);
	ut_poll();
	CU_ASSERT(held.count == 0);
	/* The base goes: the held read fails (aborted), the error bdev is removed too. */
	ftgt_bdev_unregister(base, NULL, NULL);
	ut_poll();
	CU_ASSERT(held.count == 1 && !held.success);
	CU_ASSERT(removed == 1);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(d);
	ut_poll();
	CU_ASSERT(ftgt_bdev_get_by_name("EE_E2") == NULL && ftgt_bdev_get_by_name("E2") == NULL);
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "error_params", test_error_params);
	CU_add_test(s, "error_failure_and_nomem", test_error_failure_and_nomem);
	CU_add_test(s, "error_corrupt", test_error_corrupt);
	CU_add_test(s, "error_pending_abort_and_clear", test_error_pending_abort_and_clear);
	CU_add_test(s, "error_base_hot_remove_releases_pending",
	            test_error_base_hot_remove_releases_pending);
}

int
main(void)
{
	return ut_bdev_run("bdev_error", add_tests, NULL);
}
