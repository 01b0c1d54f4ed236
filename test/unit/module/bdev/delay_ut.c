/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the delay bdev (module/bdev/delay) through the bdev API. */
#include "ut_stack_common.h"
#include "bdev_delay.h"

static void
test_delay_params(void)
{
	struct delay_bdev_opts o = {.name = "D", .base_bdev_name = "nope"};
	enum delay_latency_type t;
	struct ftgt_bdev *b;
	char err[256];

	CU_ASSERT(bdev_delay_create(&b, &o, err, sizeof(err)) == -ENODEV);
	CU_ASSERT(strstr(err, "nope") != NULL);
	ut_malloc("DB", 128, 512);
	o.base_bdev_name = "DB";
	o.name = "DB";
	CU_ASSERT(bdev_delay_create(&b, &o, err, sizeof(err)) == -EEXIST);
	o.name = "D";
	o.latency_us[DELAY_AVG_READ] = 4000ull * 1000 * 1000;
	CU_ASSERT(bdev_delay_create(&b, &o, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(ftgt_bdev_get_by_name("D") == NULL);
	CU_ASSERT(ftgt_bdev_get_claim_owner(ftgt_bdev_get_by_name("DB")) == NULL);
	o.latency_us[DELAY_AVG_READ] = 0;
	CU_ASSERT_FATAL(bdev_delay_create(&b, &o, err, sizeof(err)) == 0);
	o.name = "D2";
	CU_ASSERT(bdev_delay_create(&b, &o, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "delay") != NULL);
	CU_ASSERT(bdev_delay_latency_type_parse("p99_write", &t) == 0 && t == DELAY_P99_WRITE);
	CU_ASSERT(bdev_delay_latency_type_parse("p98_write", &t) == -EINVAL);
	CU_ASSERT(bdev_delay_update_latency("nope", DELAY_AVG_READ, 1, err, sizeof(err)) ==
	          -ENODEV);
}

static void
test_delay_latency_and_abort(void)
{
	static uint8_t buf[512];
	struct ftgt_bdev_desc *d;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0}, held = {0}, ab = {0};
	uint64_t start, hz = ftgt_get_ticks_hz();
	char err[256];

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("D", true, ut_ev_cb, NULL, &d) == 0);
	ch = ftgt_bdev_get_io_channel(d);
	/* No latency: completes at the next polls. */
	CU_ASSERT(ftgt_bdev_write_blocks(d, ch, buf, 0, 1, ut_io_done, &c) == 0);
	ut_wait(&c.count, 1);
	CU_ASSERT(c.count == 1 && c.success);
	/* 20 ms on every read (avg and p99): not before, but soon after. */
	CU_ASSERT(bdev_delay_update_latency("D", DELAY_AVG_READ, 20000, err, sizeof(err)) == 0);
	CU_ASSERT(bdev_delay_update_latency("D", DELAY_P99_READ, 20000, err, sizeof(err)) == 0);
	start = ftgt_get_ticks();
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, buf, 0, 1, ut_io_done, &c) == 0);
	while (c.count < 2 && ftgt_get_ticks() - start < 2 * hz) {
		ut_poll_once();
	}
	CU_ASSERT(c.count == 2 && c.success);
	CU_ASSERT(ftgt_get_ticks() - start >= hz / 50);
	/* A held read can be aborted: ABORTED at once, the abort succeeds. */
	CU_ASSERT(bdev_delay_update_latency("D", DELAY_AVG_READ, 60000000, err, sizeof(err)) == 0);
	CU_ASSERT(bdev_delay_update_latency("D", DELAY_P99_READ, 60000000, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, buf, 0, 1, ut_io_done, &held) == 0);
	ut_poll_rounds(1000);
	CU_ASSERT(held.count == 0);
	CU_ASSERT(ftgt_bdev_abort(d, ch, &held, ut_io_done, &ab) == 0);
	ut_wait(&ab.count, 1);
	CU_ASSERT(held.count == 1 && held.status == FTGT_BDEV_IO_STATUS_ABORTED);
	CU_ASSERT(ab.count == 1 && ab.success);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(d);
	ut_poll();

	g_ut_del_rc = 1;
	CU_ASSERT(bdev_delay_delete("D", ut_del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_ut_del_rc == 0 && ftgt_bdev_get_by_name("D") == NULL);
	ut_malloc_delete("DB");
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "delay_params", test_delay_params);
	CU_add_test(s, "delay_latency_and_abort", test_delay_latency_and_abort);
}

int
main(void)
{
	return ut_bdev_run("bdev_delay", add_tests, NULL);
}
