/* SPDX-License-Identifier: BSD-3-Clause */
/* module/bdev/nvme/bdev_nvme_policy.c: reconnect parameters, timing, states, completions. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "ftgt/spec/nvme.h"
#include "bdev_nvme_policy.h"

#define SEC 1000000ull

static int
check(int32_t loss, uint32_t delay, uint32_t fast, char *err, size_t err_len)
{
	struct bdev_nvme_reconnect_opts o = {
	        .ctrlr_loss_timeout_sec = loss,
	        .reconnect_delay_sec = delay,
	        .fast_io_fail_timeout_sec = fast,
	};

	err[0] = '\0';
	return bdev_nvme_check_reconnect_opts(&o, err, err_len);
}

static void
test_reconnect_opts_valid(void)
{
	char err[256];

	CU_ASSERT(check(0, 0, 0, err, sizeof(err)) == 0);
	CU_ASSERT(check(-1, 1, 0, err, sizeof(err)) == 0);
	CU_ASSERT(check(-1, 2, 5, err, sizeof(err)) == 0);
	CU_ASSERT(check(-1, 2, 2, err, sizeof(err)) == 0);
	CU_ASSERT(check(10, 2, 0, err, sizeof(err)) == 0);
	CU_ASSERT(check(10, 10, 10, err, sizeof(err)) == 0);
	CU_ASSERT(check(10, 2, 5, err, sizeof(err)) == 0);
	CU_ASSERT(err[0] == '\0');
}

static void
test_reconnect_opts_invalid(void)
{
	char err[256];

	CU_ASSERT(check(-2, 1, 0, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "'ctrlr_loss_timeout_sec'") != NULL);
	/* Loss timeout 0: no reconnect, so neither delay nor fast fail. */
	CU_ASSERT(check(0, 1, 0, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "'reconnect_delay_sec'") != NULL);
	CU_ASSERT(check(0, 0, 1, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "'fast_io_fail_timeout_sec'") != NULL);
	/* Reconnecting needs a delay, not longer than the loss timeout. */
	CU_ASSERT(check(-1, 0, 0, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "'reconnect_delay_sec'") != NULL);
	CU_ASSERT(check(10, 0, 0, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(check(2, 5, 0, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "5 is longer than ctrlr_loss_timeout_sec 2") != NULL);
	/* Fast fail: between the delay and the loss timeout. */
	CU_ASSERT(check(10, 2, 1, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "'fast_io_fail_timeout_sec': 1 is shorter") != NULL);
	CU_ASSERT(check(10, 2, 11, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "'fast_io_fail_timeout_sec': 11 is longer") != NULL);
	CU_ASSERT(check(-1, 3, 2, err, sizeof(err)) == -EINVAL);
	/* A short buffer still gets a terminated sentence. */
	CU_ASSERT(check(-2, 0, 0, err, 8) == -EINVAL);
	CU_ASSERT(strlen(err) == 7);
}

static void
test_next_try(void)
{
	struct bdev_nvme_reconnect_opts o = {.ctrlr_loss_timeout_sec = 3, .reconnect_delay_sec = 1};
	uint64_t lost = 100 * SEC;

	/* Tries every second while the next one still falls inside the loss timeout. */
	CU_ASSERT(bdev_nvme_next_try_us(&o, lost, lost) == lost + 1 * SEC);
	CU_ASSERT(bdev_nvme_next_try_us(&o, lost, lost + 1 * SEC) == lost + 2 * SEC);
	CU_ASSERT(bdev_nvme_next_try_us(&o, lost, lost + 2 * SEC) == lost + 3 * SEC);
	CU_ASSERT(bdev_nvme_next_try_us(&o, lost, lost + 2 * SEC + 1) == 0);
	CU_ASSERT(bdev_nvme_next_try_us(&o, lost, lost + 3 * SEC) == 0);
	/* Loss timeout 0: the first (immediate) try was the only one. */
	o.ctrlr_loss_timeout_sec = 0;
	o.reconnect_delay_sec = 0;
	CU_ASSERT(bdev_nvme_next_try_us(&o, lost, lost) == 0);
	/* -1: forever. */
	o.ctrlr_loss_timeout_sec = -1;
	o.reconnect_delay_sec = 2;
	CU_ASSERT(bdev_nvme_next_try_us(&o, lost, lost + 86400 * SEC) == lost + 86402 * SEC);
}

static void
test_fast_io_fail(void)
{
	struct bdev_nvme_reconnect_opts o = {.ctrlr_loss_timeout_sec = -1,
	                                     .reconnect_delay_sec = 1};
	uint64_t lost = 5 * SEC;

	CU_ASSERT(!bdev_nvme_fast_io_fail_due(&o, lost, lost + 1000 * SEC));
	o.fast_io_fail_timeout_sec = 2;
	CU_ASSERT(!bdev_nvme_fast_io_fail_due(&o, lost, lost));
	CU_ASSERT(!bdev_nvme_fast_io_fail_due(&o, lost, lost + 2 * SEC - 1));
	CU_ASSERT(bdev_nvme_fast_io_fail_due(&o, lost, lost + 2 * SEC));
}

static void
test_states(void)
{
	enum bdev_nvme_state s, t;
	int n = 0;

	CU_ASSERT_STRING_EQUAL(bdev_nvme_state_name(BDEV_NVME_CONNECTING), "connecting");
	CU_ASSERT_STRING_EQUAL(bdev_nvme_state_name(BDEV_NVME_ENABLED), "enabled");
	CU_ASSERT_STRING_EQUAL(bdev_nvme_state_name(BDEV_NVME_RESETTING), "resetting");
	CU_ASSERT_STRING_EQUAL(bdev_nvme_state_name(BDEV_NVME_FAILED), "failed");
	CU_ASSERT_STRING_EQUAL(bdev_nvme_state_name(BDEV_NVME_DELETING), "deleting");
	CU_ASSERT_STRING_EQUAL(bdev_nvme_state_name(BDEV_NVME_NUM_STATES), "invalid");

	CU_ASSERT(bdev_nvme_state_can_move(BDEV_NVME_CONNECTING, BDEV_NVME_ENABLED));
	CU_ASSERT(bdev_nvme_state_can_move(BDEV_NVME_ENABLED, BDEV_NVME_RESETTING));
	CU_ASSERT(bdev_nvme_state_can_move(BDEV_NVME_RESETTING, BDEV_NVME_ENABLED));
	CU_ASSERT(bdev_nvme_state_can_move(BDEV_NVME_RESETTING, BDEV_NVME_FAILED));
	/* A failed controller stays failed until detach; connecting never "resets". */
	CU_ASSERT(!bdev_nvme_state_can_move(BDEV_NVME_FAILED, BDEV_NVME_ENABLED));
	CU_ASSERT(!bdev_nvme_state_can_move(BDEV_NVME_FAILED, BDEV_NVME_RESETTING));
	CU_ASSERT(!bdev_nvme_state_can_move(BDEV_NVME_CONNECTING, BDEV_NVME_RESETTING));
	CU_ASSERT(!bdev_nvme_state_can_move(BDEV_NVME_ENABLED, BDEV_NVME_FAILED));
	CU_ASSERT(!bdev_nvme_state_can_move(BDEV_NVME_ENABLED, BDEV_NVME_CONNECTING));
	CU_ASSERT(!bdev_nvme_state_can_move(BDEV_NVME_ENABLED, BDEV_NVME_NUM_STATES));
	for (s = 0; s < BDEV_NVME_NUM_STATES; s++) {
		/* Every state can be torn down except the teardown itself, which is final. */
		CU_ASSERT(bdev_nvme_state_can_move(s, BDEV_NVME_DELETING) ==
		          (s != BDEV_NVME_DELETING));
		CU_ASSERT(!bdev_nvme_state_can_move(BDEV_NVME_DELETING, s));
		CU_ASSERT(!bdev_nvme_state_can_move(s, s));
		for (t = 0; t < BDEV_NVME_NUM_STATES; t++) {
			n += bdev_nvme_state_can_move(s, t);
		}
	}
	CU_ASSERT(n == 8); /* the moves above, nothing else */
}

static void
test_cpl_action(void)
{
	/* A queue that went away: retried while reconnecting, failed once I/O fails. */
	CU_ASSERT(bdev_nvme_cpl_action(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, false) ==
	          BDEV_NVME_CPL_RETRY);
	CU_ASSERT(bdev_nvme_cpl_action(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, true) ==
	          BDEV_NVME_CPL_FAIL);
	/* Everything else goes up as it came: success, an abort asked for, media errors. */
	CU_ASSERT(bdev_nvme_cpl_action(NVME_SCT_GENERIC, 0, true) == BDEV_NVME_CPL_STATUS);
	CU_ASSERT(bdev_nvme_cpl_action(NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST, false) ==
	          BDEV_NVME_CPL_STATUS);
	CU_ASSERT(bdev_nvme_cpl_action(2, 0x85, false) == BDEV_NVME_CPL_STATUS);
	CU_ASSERT(bdev_nvme_cpl_action(1, NVME_SC_ABORTED_SQ_DELETION, false) ==
	          BDEV_NVME_CPL_STATUS);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("bdev_nvme_policy", NULL, NULL);
	CU_add_test(s, "reconnect_opts_valid", test_reconnect_opts_valid);
	CU_add_test(s, "reconnect_opts_invalid", test_reconnect_opts_invalid);
	CU_add_test(s, "next_try", test_next_try);
	CU_add_test(s, "fast_io_fail", test_fast_io_fail);
	CU_add_test(s, "states", test_states);
	CU_add_test(s, "cpl_action", test_cpl_action);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
