/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pure decisions of the NVMe-oF bdev, kept apart from the threads and lib/nvme so that
 * test/unit/module/bdev/nvme tests them directly: reconnect parameters (SPDK's rules), when
 * to try again / give up / fail I/O fast, the controller state machine, and what to do with
 * a completed NVMe command.
 */
#ifndef FTGT_BDEV_NVME_POLICY_H
#define FTGT_BDEV_NVME_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Controller state (app thread). Allowed moves: bdev_nvme_state_can_move(). */
enum bdev_nvme_state {
	BDEV_NVME_CONNECTING, /* attach: first connect running; no bdevs yet */
	BDEV_NVME_ENABLED,    /* connected; channels get qpairs */
	BDEV_NVME_RESETTING,  /* lost or reset asked: reconnecting; I/O waits (or fails fast) */
	BDEV_NVME_FAILED,     /* loss timeout passed: I/O fails until detach */
	BDEV_NVME_DELETING,   /* detach or shutdown: tearing down */
	BDEV_NVME_NUM_STATES,
};

/* "connecting", "enabled", "resetting", "failed", "deleting" ("invalid" otherwise). */
const char *bdev_nvme_state_name(enum bdev_nvme_state state);
/* Whether the state machine may go from `from` to `to` (a move to itself is not one). */
bool bdev_nvme_state_can_move(enum bdev_nvme_state from, enum bdev_nvme_state to);

/* SPDK's I/O error resiliency parameters of bdev_nvme_attach_controller. */
struct bdev_nvme_reconnect_opts {
	int32_t ctrlr_loss_timeout_sec;    /* -1: reconnect forever; 0: one immediate try */
	uint32_t reconnect_delay_sec;      /* between tries; 0 only with loss timeout 0 */
	uint32_t fast_io_fail_timeout_sec; /* fail I/O this long after a loss; 0: no */
};

/*
 * SPDK's rules: ctrlr_loss_timeout_sec >= -1; when it is not 0, reconnect_delay_sec > 0
 * and (positive timeout) not above it; fast_io_fail_timeout_sec 0 or between
 * reconnect_delay_sec and ctrlr_loss_timeout_sec; with loss timeout 0 both others 0.
 * Returns 0 or -EINVAL with one sentence naming the parameter in err.
 */
int bdev_nvme_check_reconnect_opts(const struct bdev_nvme_reconnect_opts *o, char *err,
                                   size_t err_len);

/*
 * A reconnect try failed at now_us; the controller was lost at lost_at_us. Returns when
 * to try again (now + delay), or 0: give up (ctrlr_loss_timeout_sec has passed; 0 means
 * after the one immediate try).
 */
uint64_t bdev_nvme_next_try_us(const struct bdev_nvme_reconnect_opts *o, uint64_t lost_at_us,
                               uint64_t now_us);
/* Whether I/O should fail at once while still reconnecting (fast_io_fail_timeout_sec). */
bool bdev_nvme_fast_io_fail_due(const struct bdev_nvme_reconnect_opts *o, uint64_t lost_at_us,
                                uint64_t now_us);

/* What a channel does with an NVMe completion for a bdev I/O. */
enum bdev_nvme_cpl_action {
	BDEV_NVME_CPL_STATUS, /* complete with the NVMe status as it came */
	BDEV_NVME_CPL_RETRY,  /* give it back to the bdev core (NOMEM): it submits it again */
	BDEV_NVME_CPL_FAIL,   /* fail it (the controller is failed / failing I/O fast) */
};

/*
 * sct/sc of the completion; fail_io: the controller fails I/O now. A command that died
 * with its queue (ABORTED_SQ_DELETION: reset, lost connection) is retried unless I/O fails.
 */
enum bdev_nvme_cpl_action bdev_nvme_cpl_action(int sct, int sc, bool fail_io);

#endif /* FTGT_BDEV_NVME_POLICY_H */
