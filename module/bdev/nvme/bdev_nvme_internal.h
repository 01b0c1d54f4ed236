/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to module/bdev/nvme: the controller (bdev_nvme.c) and the I/O path
 * (bdev_nvme_io.c) share these. See bdev_nvme.c for ownership and threads.
 */
#ifndef FTGT_BDEV_NVME_INTERNAL_H
#define FTGT_BDEV_NVME_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ftgt/bdev_module.h"
#include "ftgt/nvme.h"
#include "ftgt/thread.h"
#include "bdev_nvme.h"
#include "bdev_nvme_policy.h"

#define ADMIN_POLL_PERIOD_US 10000

struct nvme_bdev_ctrlr;
struct nvme_io_channel;

struct nvme_bdev {
	struct ftgt_bdev bdev; /* freed in destruct (or after destruct_done) */
	struct nvme_bdev_ctrlr *nctrlr;
	uint32_t nsid;
	bool removing; /* its namespace went away: hot-removed by us */
	TAILQ_ENTRY(nvme_bdev) link;
};

/* A channel's request for a qpair, or (failed_notice) its report of a failed qpair. */
struct qpair_req {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_thread *thread;
	struct nvme_io_channel *ch; /* channel thread only; NULL once the channel is gone */
	struct ftgt_nvme_qpair *qpair;
	uint64_t gen;
	bool failed_notice;
	TAILQ_ENTRY(qpair_req) link;
};

struct nvme_io_channel {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_nvme_qpair *qpair;
	struct ftgt_poller *poller;
	struct qpair_req *req; /* pending request, or NULL */
	uint64_t gen;
	uint64_t next_req_us; /* no qpair and no request (it could not be sent): ask again then */
};

/*
 * A connect in flight (attach or reconnect): lib/nvme's non-blocking connect, driven by a
 * poller on the app thread, so no thread blocks on it; a silent peer costs a poll per
 * millisecond until connect_timeout_ms. Freed (and the half-made controller with it) at
 * once when nobody wants the answer any more (detach, shutdown).
 */
struct connect_job {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_nvme_ctrlr *ctrlr; /* CONNECTING, then ENABLED; NULL once taken or failed */
	struct ftgt_poller *poller;
	int rc;
	char err[256];
	void (*done)(struct nvme_bdev_ctrlr *nctrlr, struct connect_job *job);
};

/* Someone waiting for a reset to finish (a RESET bdev I/O, or the RPC). */
struct reset_waiter {
	void (*fn)(struct reset_waiter *w, int rc);
	void *cb_arg;
	bdev_nvme_reset_cb cb_fn;
	TAILQ_ENTRY(reset_waiter) link;
};

struct nvme_bdev_ctrlr {
	char *name;
	struct connect_job *job; /* connect in flight, or NULL */
	bdev_nvme_attach_cb attach_cb;
	void *attach_cb_arg;
	struct bdev_nvme_attach_opts opts; /* opts.name points at name */
	struct bdev_nvme_reconnect_opts ropts;
	struct ftgt_nvme_ctrlr_opts copts;
	struct ftgt_nvme_ctrlr *ctrlr; /* NULL between detach and reconnect */
	enum bdev_nvme_state state;
	uint64_t gen;
	uint16_t oncs;  /* from the first connect: what io_type_supported answers */
	uint16_t fuses; /* Identify FUSES: bit 0 fused compare-and-write */
	uint32_t num_ns;
	uint64_t lost_at_us;
	uint64_t next_try_us;
	/* Counters (app thread), shown by bdev_nvme_get_controllers. */
	uint64_t losses;          /* failures noticed (admin queue, I/O qpair, qpair connect) */
	uint64_t resets;          /* resets asked for (RESET I/O, RPC) */
	uint64_t reconnect_tries; /* connects tried after a loss or reset */
	uint64_t reconnects;      /* ... that succeeded */
	uint64_t aborts_sent;     /* NVMe Abort commands sent for ABORT bdev I/O */
	uint64_t aborts_done;     /* ... that the controller says aborted the command */
	/*
	 * I/O fails at once instead of waiting: FAILED, DELETING, or fast_io_fail_timeout_sec
	 * passed while RESETTING. Written by the app thread, read by the channels (relaxed:
	 * it only chooses between failing and retrying an I/O that has no queue pair).
	 */
	bool fail_io;
	bool reset_chans_running;
	bool io_dev_registered;
	bool io_dev_gone;
	/* Counted on any thread: qpairs alive and requests alive (lifetime of this struct). */
	uint32_t nqpairs;
	uint32_t nreqs;
	TAILQ_HEAD(, nvme_bdev) bdevs; /* registered, until destruct */
	uint32_t live_bdevs;
	bool detaching;              /* the last bdev's destruct tears the controller down */
	bool ns_resync;              /* a namespace change is still to be applied */
	struct nvme_bdev *last_bdev; /* destruct returned 1 for it */
	struct ftgt_poller *poller;
	TAILQ_HEAD(, qpair_req) waiting;
	TAILQ_HEAD(, reset_waiter) reset_waiters;
	TAILQ_ENTRY(nvme_bdev_ctrlr) link;
};

/* Per-I/O context. */
struct nvme_bdev_io {
	struct nvme_dsm_range range;
	void *bounce;
	struct nvme_io_channel *ch;
	struct ftgt_nvme_qpair *qpair; /* the command is outstanding on it (channel thread) */
	bool outstanding;
	/* RESET: waiting on the app thread. ABORT: what to abort, and the answer. */
	struct reset_waiter waiter;
	uint16_t abort_sqid;
	uint16_t abort_cid;
	uint64_t abort_gen;
	int status;
};

static inline bool
bdev_nvme_ctrlr_fail_io(struct nvme_bdev_ctrlr *nctrlr)
{
	return __atomic_load_n(&nctrlr->fail_io, __ATOMIC_RELAXED);
}

/* App thread. 0: w->fn runs once the reset is over; -EBUSY: it cannot be reset now. */
int bdev_nvme_ctrlr_reset(struct nvme_bdev_ctrlr *nctrlr, struct reset_waiter *w);

/* bdev_nvme_io.c: the fn_table's submit_request and io_type_supported. */
void bdev_nvme_submit_request(struct ftgt_io_channel *chan, struct ftgt_bdev_io *io);
bool bdev_nvme_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type);
/* Whether ABORT can be carried out (lib/nvme can name a command's CID). */

#endif /* FTGT_BDEV_NVME_INTERNAL_H */
