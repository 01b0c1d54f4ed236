/* SPDX-License-Identifier: BSD-3-Clause */
/* Pure decisions of the NVMe-oF bdev (see bdev_nvme_policy.h). */
#include <errno.h>
#include <stdio.h>

#include "ftgt/spec/nvme.h"
#include "bdev_nvme_policy.h"

static const char *const g_state_names[BDEV_NVME_NUM_STATES] = {
        [BDEV_NVME_CONNECTING] = "connecting", [BDEV_NVME_ENABLED] = "enabled",
        [BDEV_NVME_RESETTING] = "resetting",   [BDEV_NVME_FAILED] = "failed",
        [BDEV_NVME_DELETING] = "deleting",
};

const char *
bdev_nvme_state_name(enum bdev_nvme_state state)
{
	if ((unsigned)state >= BDEV_NVME_NUM_STATES) {
		return "invalid";
	}
	return g_state_names[state];
}

bool
bdev_nvme_state_can_move(enum bdev_nvme_state from, enum bdev_nvme_state to)
{
	/* Rows: from; bits: to. Every live state can be torn down (detach, shutdown). */
	static const unsigned moves[BDEV_NVME_NUM_STATES] = {
	        [BDEV_NVME_CONNECTING] = 1u << BDEV_NVME_ENABLED | 1u << BDEV_NVME_DELETING,
	        [BDEV_NVME_ENABLED] = 1u << BDEV_NVME_RESETTING | 1u << BDEV_NVME_DELETING,
	        [BDEV_NVME_RESETTING] =
	                1u << BDEV_NVME_ENABLED | 1u << BDEV_NVME_FAILED | 1u << BDEV_NVME_DELETING,
	        [BDEV_NVME_FAILED] = 1u << BDEV_NVME_DELETING,
	        [BDEV_NVME_DELETING] = 0,
	};

	if ((unsigned)from >= BDEV_NVME_NUM_STATES || (unsigned)to >= BDEV_NVME_NUM_STATES) {
		return false;
	}
	return (moves[from] & (1u << to)) != 0;
}

int
bdev_nvme_check_reconnect_opts(const struct bdev_nvme_reconnect_opts *o, char *err, size_t err_len)
{
	int32_t loss = o->ctrlr_loss_timeout_sec;
	uint32_t delay = o->reconnect_delay_sec, fast = o->fast_io_fail_timeout_sec;

	if (loss < -1) {
		snprintf(err, err_len,
		         "invalid parameter 'ctrlr_loss_timeout_sec': %d (use -1, 0 or a number of "
		         "seconds)",
		         loss);
		return -EINVAL;
	}
	if (loss == 0) {
		if (delay != 0 || fast != 0) {
			snprintf(err, err_len,
			         "invalid parameter '%s': must be 0 when ctrlr_loss_timeout_sec is "
			         "0",
			         delay != 0 ? "reconnect_delay_sec" : "fast_io_fail_timeout_sec");
			return -EINVAL;
		}
		return 0;
	}
	if (delay == 0) {
		snprintf(err, err_len,
		         "invalid parameter 'reconnect_delay_sec': must be > 0 when "
		         "ctrlr_loss_timeout_sec is not 0");
		return -EINVAL;
	}
	if (loss > 0 && delay > (uint32_t)loss) {
		snprintf(err, err_len,
		         "invalid parameter 'reconnect_delay_sec': %u is longer than "
		         "ctrlr_loss_timeout_sec %d",
		         delay, loss);
		return -EINVAL;
	}
	if (fast != 0 && fast < delay) {
		snprintf(err, err_len,
		         "invalid parameter 'fast_io_fail_timeout_sec': %u is shorter than "
		         "reconnect_delay_sec %u",
		         fast, delay);
		return -EINVAL;
	}
	if (fast != 0 && loss > 0 && fast > (uint32_t)loss) {
		snprintf(err, err_len,
		         "invalid parameter 'fast_io_fail_timeout_sec': %u is longer than "
		         "ctrlr_loss_timeout_sec %d",
		         fast, loss);
		return -EINVAL;
	}
	return 0;
}

uint64_t
bdev_nvme_next_try_us(const struct bdev_nvme_reconnect_opts *o, uint64_t lost_at_us,
                      uint64_t now_us)
{
	uint64_t next = now_us + (uint64_t)o->reconnect_delay_sec * 1000000u;

	if (o->ctrlr_loss_timeout_sec == 0) {
		return 0;
	}
	if (o->ctrlr_loss_timeout_sec > 0 &&
	    next - lost_at_us > (uint64_t)o->ctrlr_loss_timeout_sec * 1000000u) {
		/* The next try would come after the limit: this was the last one. */
		return 0;
	}
	return next == 0 ? 1 : next;
}

bool
bdev_nvme_fast_io_fail_due(const struct bdev_nvme_reconnect_opts *o, uint64_t lost_at_us,
                           uint64_t now_us)
{
	return o->fast_io_fail_timeout_sec != 0 &&
	       now_us - lost_at_us >= (uint64_t)o->fast_io_fail_timeout_sec * 1000000u;
}

enum bdev_nvme_cpl_action
bdev_nvme_cpl_action(int sct, int sc, bool fail_io)
{
	if (sct == NVME_SCT_GENERIC && sc == NVME_SC_ABORTED_SQ_DELETION) {
		return fail_io ? BDEV_NVME_CPL_FAIL : BDEV_NVME_CPL_RETRY;
	}
	return BDEV_NVME_CPL_STATUS;
}
