/* SPDX-License-Identifier: BSD-3-Clause */
/* The session-wide CmdSN window (lib/iscsi/sn.c). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "../../../../lib/iscsi/iscsi_internal.h"

/* In order: ExpCmdSN follows, MaxCmdSN moves only as commands finish. */
static void
test_in_order_and_credits(void)
{
	struct iscsi_cmdsn_window w;
	uint32_t i;

	iscsi_cmdsn_init(&w, 100, 4);
	CU_ASSERT_EQUAL(w.exp_cmd_sn, 100);
	CU_ASSERT_EQUAL(w.max_cmd_sn, 103);
	for (i = 100; i <= 103; i++) {
		CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, i), 0);
	}
	CU_ASSERT_EQUAL(w.exp_cmd_sn, 104);
	/* The window is closed until a command finishes. */
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 104), -ERANGE);
	iscsi_cmdsn_complete(&w);
	CU_ASSERT_EQUAL(w.max_cmd_sn, 104);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 104), 0);
	/* Old and duplicate CmdSNs are ignored. */
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 99), -ERANGE);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 102), -ERANGE);
	CU_ASSERT_EQUAL(w.exp_cmd_sn, 105);
}

/* Two connections: CmdSN 11 arrives before 10; ExpCmdSN waits for the hole, then jumps. */
static void
test_out_of_order_across_connections(void)
{
	struct iscsi_cmdsn_window w;

	iscsi_cmdsn_init(&w, 10, 8);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 11), 0);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 13), 0);
	CU_ASSERT_EQUAL(w.exp_cmd_sn, 10);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 11), -EEXIST);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 10), 0);
	CU_ASSERT_EQUAL(w.exp_cmd_sn, 12);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 12), 0);
	CU_ASSERT_EQUAL(w.exp_cmd_sn, 14);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 13), -ERANGE);
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 18), -ERANGE); /* above MaxCmdSN 17 */
	CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, 17), 0);
	CU_ASSERT_EQUAL(w.exp_cmd_sn, 14);
}

/* Serial number arithmetic across 2^32, and a long run that reuses the bitmap. */
static void
test_wrap_and_long_run(void)
{
	struct iscsi_cmdsn_window w;
	uint32_t sn = 0xfffffff0u, i, done = 0;

	iscsi_cmdsn_init(&w, sn, ISCSI_CMDSN_WINDOW_MAX);
	CU_ASSERT_EQUAL(w.max_cmd_sn, sn + ISCSI_CMDSN_WINDOW_MAX - 1);
	/* Pairs swapped: sn+1 then sn, 10000 times over the wrap. */
	for (i = 0; i < 10000; i += 2) {
		CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, sn + i + 1), 0);
		CU_ASSERT_EQUAL(iscsi_cmdsn_accept(&w, sn + i), 0);
		CU_ASSERT_EQUAL(w.exp_cmd_sn, sn + i + 2);
		iscsi_cmdsn_complete(&w);
		iscsi_cmdsn_complete(&w);
		done += 2;
	}
	CU_ASSERT_EQUAL(w.exp_cmd_sn, sn + 10000);
	CU_ASSERT_EQUAL(w.max_cmd_sn, sn + ISCSI_CMDSN_WINDOW_MAX - 1 + done);
	/* Depth is clamped to what the bitmap holds. */
	iscsi_cmdsn_init(&w, 5, 100000);
	CU_ASSERT_EQUAL(w.max_cmd_sn, 5 + ISCSI_CMDSN_WINDOW_MAX - 1);
	iscsi_cmdsn_init(&w, 5, 0);
	CU_ASSERT_EQUAL(w.max_cmd_sn, 5);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("iscsi_sn", NULL, NULL);
	CU_ADD_TEST(s, test_in_order_and_credits);
	CU_ADD_TEST(s, test_out_of_order_across_connections);
	CU_ADD_TEST(s, test_wrap_and_long_run);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
