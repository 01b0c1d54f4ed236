/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe-oF bdev: one remote controller (lib/nvme) per bdev_nvme_attach_controller, one
 * bdev per active namespace, one I/O queue pair per thread (the io channel), polled.
 *
 * Ownership: a controller (struct nvme_bdev_ctrlr) and its lib/nvme admin queue belong
 * to the app thread; lib/nvme controller calls (connect, qpair allocation, detach, admin
 * polling, Abort) happen there, and none of them blocks: connects (attach and reconnect)
 * use lib/nvme's non-blocking connect driven by a poller (struct connect_job), I/O qpairs
 * its non-blocking qpair connect, driven by the channel's poller. A channel asks the app
 * thread for a qpair with a message (struct qpair_req) and gets it back with a message;
 * from then on the qpair belongs to the channel's thread, which polls it and frees it.
 * `gen` counts controller incarnations: a qpair of an older generation is dropped when it
 * arrives.
 *
 * Namespaces: lib/nvme keeps the active namespace list current (Namespace Attribute
 * Changed events, reconnects); ns_sync() makes the bdevs follow: new namespaces become
 * bdevs, vanished ones are hot-removed, a new size is announced to the bdev layer.
 *
 * Failures: the admin poller notices a failed admin queue, a channel a failed qpair, and a
 * RESET bdev I/O (or bdev_nvme_reset_controller) asks for one. The controller then goes
 * RESETTING: every channel frees its qpair (their commands complete ABORTED_SQ_DELETION and
 * are given back to the bdev core as NOMEM, which retries them), the old controller is
 * detached, and connect is retried every reconnect_delay_sec until ctrlr_loss_timeout_sec
 * has passed since the failure (-1: forever). Then the controller is FAILED and every I/O
 * fails at once. I/O submitted while RESETTING is answered NOMEM (queued and retried by the
 * core), so it waits at most the loss timeout, or fast_io_fail_timeout_sec when set.
 * (lib/nvme's own automatic reconnect is left off: see doc/bdev_nvme.md for why.)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "ftgt/bdev_module.h"
#include "ftgt/log.h"
#include "ftgt/nvme.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"
#include "bdev_nvme.h"
#include "bdev_nvme_internal.h"
#include "bdev_nvme_policy.h"

FTGT_LOG_REGISTER_COMPONENT(bdev_nvme)

static TAILQ_HEAD(, nvme_bdev_ctrlr) g_ctrlrs = TAILQ_HEAD_INITIALIZER(g_ctrlrs);

static struct ftgt_bdev_module g_nvme_module;
static void ctrlr_teardown(struct nvme_bdev_ctrlr *nctrlr);
static void ctrlr_remove_all(struct nvme_bdev_ctrlr *nctrlr);
static void ns_sync(struct nvme_bdev_ctrlr *nctrlr);
static void aer_cb(void *cb_arg, const struct nvme_cpl *cpl);
static void reset_waiters_done(struct nvme_bdev_ctrlr *nctrlr, int rc);

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
set_state(struct nvme_bdev_ctrlr *nctrlr, enum bdev_nvme_state state)
{
	if (!bdev_nvme_state_can_move(nctrlr->state, state)) {
		FTGT_ERRLOG("nvme controller %s: bad state change %s -> %s\n", nctrlr->name,
		            bdev_nvme_state_name(nctrlr->state), bdev_nvme_state_name(state));
	}
	FTGT_DEBUGLOG(bdev_nvme, "nvme controller %s: %s -> %s\n", nctrlr->name,
	              bdev_nvme_state_name(nctrlr->state), bdev_nvme_state_name(state));
	nctrlr->state = state;
	__atomic_store_n(&nctrlr->fail_io, state == BDEV_NVME_FAILED || state == BDEV_NVME_DELETING,
	                 __ATOMIC_RELAXED);
}

/* ---- connect jobs ------------------------------------------------------------------ */

#define CONNECT_POLL_PERIOD_US 1000

static void
job_free(struct connect_job *job)
{
	ftgt_poller_unregister(&job->poller);
	if (job->ctrlr != NULL) {
		ftgt_nvme_detach_no_shutdown(job->ctrlr); /* abandoned: no blocking shutdown */
	}
	free(job);
}

static int
job_poll(void *ctx)
{
	struct connect_job *job = ctx;
	struct nvme_bdev_ctrlr *nctrlr = job->nctrlr;
	int rc = -EINVAL; /* connect_async refused the address (job->err says why) */

	if (job->ctrlr != NULL) {
		rc = ftgt_nvme_ctrlr_process_admin_completions(job->ctrlr);
		if (rc == -EAGAIN) {
			return FTGT_POLLER_IDLE;
		}
		if (rc < 0) {
			rc = ftgt_nvme_ctrlr_get_connect_error(job->ctrlr, job->err,
			                                       sizeof(job->err));
			if (rc >= 0) {
				rc = -EIO;
			}
			ftgt_nvme_detach_no_shutdown(job->ctrlr);
			job->ctrlr = NULL;
		}
	}
	job->rc = rc < 0 ? rc : 0;
	nctrlr->job = NULL;
	job->done(nctrlr, job);
	job_free(job); /* disconnects job->ctrlr unless done() took it */
	return FTGT_POLLER_BUSY;
}

static int
job_start(struct nvme_bdev_ctrlr *nctrlr,
          void (*done)(struct nvme_bdev_ctrlr *nctrlr, struct connect_job *job))
{
	struct connect_job *job = calloc(1, sizeof(*job));

	if (job == NULL) {
		return -ENOMEM;
	}
	job->nctrlr = nctrlr;
	job->done = done;
	job->poller = FTGT_POLLER_REGISTER(job_poll, job, CONNECT_POLL_PERIOD_US);
	if (job->poller == NULL) {
		free(job);
		return -ENOMEM;
	}
	/* NULL (bad address, no memory): job_poll reports it, like any failed connect. */
	job->ctrlr = ftgt_nvme_connect_async(&nctrlr->opts.trid, &nctrlr->copts, job->err,
	                                     sizeof(job->err));
	nctrlr->job = job;
	return 0;
}

/* App thread: nobody wants the connect's answer any more (detach, shutdown). */
static void
job_orphan(struct nvme_bdev_ctrlr *nctrlr)
{
	if (nctrlr->job != NULL) {
		job_free(nctrlr->job);
		nctrlr->job = NULL;
	}
}

static struct nvme_bdev_ctrlr *
ctrlr_find(const char *name)
{
	struct nvme_bdev_ctrlr *c;

	TAILQ_FOREACH (c, &g_ctrlrs, link) {
		if (strcmp(c->name, name) == 0) {
			return c;
		}
	}
	return NULL;
}

/* ---- channel side ----------------------------------------------------------------- */

static void app_qpair_req(void *ctx);

/* A channel left without a qpair or a request asks again this often. */
#define BDEV_NVME_CHAN_RETRY_US 100000

static void
qpair_release(struct nvme_bdev_ctrlr *nctrlr, struct ftgt_nvme_qpair *qpair)
{
	ftgt_nvme_ctrlr_free_io_qpair(qpair);
	/* Release: pairs with the acquire load in the app thread's teardown checks. */
	__atomic_fetch_sub(&nctrlr->nqpairs, 1, __ATOMIC_RELEASE);
}

static void
req_free(struct qpair_req *req)
{
	struct nvme_bdev_ctrlr *nctrlr = req->nctrlr;

	free(req);
	__atomic_fetch_sub(&nctrlr->nreqs, 1, __ATOMIC_RELEASE);
}

static struct qpair_req *
req_alloc(struct nvme_bdev_ctrlr *nctrlr)
{
	struct qpair_req *req = calloc(1, sizeof(*req));

	if (req == NULL) {
		return NULL;
	}
	req->nctrlr = nctrlr;
	req->thread = ftgt_get_thread();
	__atomic_fetch_add(&nctrlr->nreqs, 1, __ATOMIC_RELAXED);
	return req;
}

static void
req_send(struct qpair_req *req)
{
	if (ftgt_thread_send_msg(ftgt_thread_get_app_thread(), app_qpair_req, req) != 0) {
		FTGT_ERRLOG("nvme controller %s: cannot message the app thread\n",
		            req->nctrlr->name);
		if (req->ch != NULL) {
			req->ch->req = NULL;
		}
		req_free(req);
	}
}

static void
chan_request(struct nvme_io_channel *ch)
{
	struct qpair_req *req;

	if (ch->req != NULL) {
		return;
	}
	req = req_alloc(ch->nctrlr);
	if (req == NULL) {
		return; /* I/O answers NOMEM; the next failure notice or reset asks again */
	}
	req->ch = ch;
	req->gen = ch->gen;
	ch->req = req;
	req_send(req);
}

/* Channel thread: the app thread's answer. */
static void
chan_qpair_reply(void *ctx)
{
	struct qpair_req *req = ctx;
	struct nvme_io_channel *ch = req->ch;

	if (ch == NULL) {
		if (req->qpair != NULL) {
			qpair_release(req->nctrlr, req->qpair);
		}
		req_free(req);
		return;
	}
	ch->req = NULL;
	if (req->gen < ch->gen) {
		if (req->qpair != NULL) {
			qpair_release(req->nctrlr, req->qpair);
		}
		req_free(req);
		chan_request(ch);
		return;
	}
	ch->gen = req->gen;
	ch->qpair = req->qpair;
	req_free(req);
}

static void
chan_qpair_failed(struct nvme_io_channel *ch)
{
	struct qpair_req *notice;

	FTGT_WARNLOG("nvme controller %s: I/O qpair %u failed\n", ch->nctrlr->name,
	             ftgt_nvme_qpair_get_id(ch->qpair));
	qpair_release(ch->nctrlr, ch->qpair);
	ch->qpair = NULL;
	notice = req_alloc(ch->nctrlr);
	if (notice != NULL) {
		notice->failed_notice = true;
		notice->gen = ch->gen;
		req_send(notice);
	}
	chan_request(ch);
}

static int
chan_poll(void *ctx)
{
	struct nvme_io_channel *ch = ctx;
	int rc;

	if (ch->qpair == NULL) {
		/*
		 * No qpair and no request: the request could not be made or sent (memory, the
		 * app thread's ring). Ask again now and then rather than fail I/O for ever.
		 */
		if (ch->req == NULL && !bdev_nvme_ctrlr_fail_io(ch->nctrlr)) {
			uint64_t now = now_us();

			if (now >= ch->next_req_us) {
				ch->next_req_us = now + BDEV_NVME_CHAN_RETRY_US;
				chan_request(ch);
			}
		}
		return FTGT_POLLER_IDLE;
	}
	rc = ftgt_nvme_qpair_process_completions(ch->qpair, 0);
	if (rc >= 0 || rc == -EAGAIN) {
		/* -EAGAIN: still connecting (its I/O is answered NOMEM meanwhile). */
		return rc > 0 ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
	}
	chan_qpair_failed(ch);
	return FTGT_POLLER_BUSY;
}

static int
chan_create(void *io_device, void *ctx_buf)
{
	struct nvme_io_channel *ch = ctx_buf;

	memset(ch, 0, sizeof(*ch));
	ch->nctrlr = io_device;
	ch->poller = FTGT_POLLER_REGISTER(chan_poll, ch, 0);
	if (ch->poller == NULL) {
		return -ENOMEM;
	}
	chan_request(ch);
	return 0;
}

static void
chan_destroy(void *io_device, void *ctx_buf)
{
	struct nvme_io_channel *ch = ctx_buf;

	(void)io_device;
	ftgt_poller_unregister(&ch->poller);
	if (ch->req != NULL) {
		ch->req->ch = NULL;
		ch->req = NULL;
	}
	if (ch->qpair != NULL) {
		qpair_release(ch->nctrlr, ch->qpair);
		ch->qpair = NULL;
	}
}

/* ---- app thread: qpairs, reset, teardown --------------------------------------------- */

static void ctrlr_start_reset(struct nvme_bdev_ctrlr *nctrlr, const char *why, bool loss);

static void
req_reply(struct qpair_req *req)
{
	if (ftgt_thread_send_msg(req->thread, chan_qpair_reply, req) != 0) {
		/* The channel's thread is gone: so is the channel. */
		if (req->qpair != NULL) {
			qpair_release(req->nctrlr, req->qpair);
		}
		req_free(req);
	}
}

static void
req_serve(struct nvme_bdev_ctrlr *nctrlr, struct qpair_req *req)
{
	req->gen = nctrlr->gen;
	req->qpair = NULL;
	if (nctrlr->state == BDEV_NVME_ENABLED) {
		__atomic_fetch_add(&nctrlr->nqpairs, 1, __ATOMIC_RELAXED);
		/* Non-blocking: the channel's poller drives the connect on its own thread. */
		req->qpair = ftgt_nvme_ctrlr_alloc_io_qpair_async(nctrlr->ctrlr, 0);
		if (req->qpair == NULL) {
			__atomic_fetch_sub(&nctrlr->nqpairs, 1, __ATOMIC_RELAXED);
			/* The controller answers no more: reset it; the request waits for that. */
			ctrlr_start_reset(nctrlr, "an I/O qpair connect failed", true);
			TAILQ_INSERT_TAIL(&nctrlr->waiting, req, link);
			return;
		}
	}
	req_reply(req);
}

static void
serve_waiting(struct nvme_bdev_ctrlr *nctrlr)
{
	struct qpair_req *req;

	while ((req = TAILQ_FIRST(&nctrlr->waiting)) != NULL) {
		TAILQ_REMOVE(&nctrlr->waiting, req, link);
		req_serve(nctrlr, req);
		if (nctrlr->state == BDEV_NVME_RESETTING) {
			break; /* that one failed: the rest waits for the reconnect */
		}
	}
}

static void
reset_chan(struct ftgt_io_channel_iter *i)
{
	struct nvme_io_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	struct nvme_bdev_ctrlr *nctrlr = ftgt_io_channel_iter_get_io_device(i);

	ch->gen = nctrlr->gen;
	if (ch->qpair != NULL) {
		qpair_release(nctrlr, ch->qpair);
		ch->qpair = NULL;
	}
	chan_request(ch);
	ftgt_for_each_channel_continue(i, 0);
}

static void
reset_chan_done(struct ftgt_io_channel_iter *i, int status)
{
	struct nvme_bdev_ctrlr *nctrlr = ftgt_io_channel_iter_get_io_device(i);

	(void)status;
	nctrlr->reset_chans_running = false;
}

/* loss: a failure was noticed (counted in losses); otherwise a reset was asked for. */
static void
ctrlr_start_reset(struct nvme_bdev_ctrlr *nctrlr, const char *why, bool loss)
{
	if (nctrlr->state != BDEV_NVME_ENABLED) {
		return;
	}
	if (loss) {
		nctrlr->losses++;
		FTGT_WARNLOG(
		        "nvme controller %s: %s; reconnecting (loss timeout %d s, delay %u s)\n",
		        nctrlr->name, why, nctrlr->ropts.ctrlr_loss_timeout_sec,
		        nctrlr->ropts.reconnect_delay_sec);
	} else {
		FTGT_NOTICELOG("nvme controller %s: %s\n", nctrlr->name, why);
	}
	set_state(nctrlr, BDEV_NVME_RESETTING);
	nctrlr->gen++;
	nctrlr->lost_at_us = now_us();
	nctrlr->next_try_us = 0;
	if (nctrlr->io_dev_registered) {
		nctrlr->reset_chans_running = true;
		ftgt_for_each_channel(nctrlr, reset_chan, NULL, reset_chan_done);
	}
}

static void
reconnect_done(struct nvme_bdev_ctrlr *nctrlr, struct connect_job *job)
{
	uint64_t now = now_us();

	if (nctrlr->state != BDEV_NVME_RESETTING) {
		return; /* job->ctrlr, if any, is disconnected by job_poll */
	}
	if (job->rc == 0) {
		FTGT_NOTICELOG("nvme controller %s: reconnected (cntlid %u)\n", nctrlr->name,
		               ftgt_nvme_ctrlr_get_cntlid(job->ctrlr));
		nctrlr->ctrlr = job->ctrlr;
		job->ctrlr = NULL;
		set_state(nctrlr, BDEV_NVME_ENABLED);
		nctrlr->reconnects++;
		ftgt_nvme_ctrlr_register_aer_callback(nctrlr->ctrlr, aer_cb, nctrlr);
		reset_waiters_done(nctrlr, 0);
		/* Namespaces may have come or gone while it was away. */
		ns_sync(nctrlr);
		serve_waiting(nctrlr);
		return;
	}
	reset_waiters_done(nctrlr, -EIO);
	nctrlr->next_try_us = bdev_nvme_next_try_us(&nctrlr->ropts, nctrlr->lost_at_us, now);
	if (nctrlr->next_try_us != 0) {
		FTGT_WARNLOG("nvme controller %s: reconnect failed: %s\n", nctrlr->name, job->err);
		return;
	}
	FTGT_ERRLOG("nvme controller %s: reconnect failed (%s); loss timeout reached: "
	            "I/O now fails\n",
	            nctrlr->name, job->err);
	set_state(nctrlr, BDEV_NVME_FAILED);
	serve_waiting(nctrlr);
}

static void
ctrlr_reset_step(struct nvme_bdev_ctrlr *nctrlr)
{
	uint64_t now = now_us();

	if (!nctrlr->fail_io &&
	    bdev_nvme_fast_io_fail_due(&nctrlr->ropts, nctrlr->lost_at_us, now)) {
		FTGT_WARNLOG("nvme controller %s: fast_io_fail_timeout_sec %u passed: I/O fails "
		             "while reconnecting\n",
		             nctrlr->name, nctrlr->ropts.fast_io_fail_timeout_sec);
		__atomic_store_n(&nctrlr->fail_io, true, __ATOMIC_RELAXED);
	}
	if (nctrlr->job != NULL || nctrlr->reset_chans_running ||
	    __atomic_load_n(&nctrlr->nqpairs, __ATOMIC_ACQUIRE) != 0) {
		return;
	}
	if (nctrlr->ctrlr != NULL) {
		/* Replaced by a new connect: close at once, the app thread does not wait. */
		ftgt_nvme_detach_no_shutdown(nctrlr->ctrlr);
		nctrlr->ctrlr = NULL;
	}
	if (now < nctrlr->next_try_us) {
		return;
	}
	nctrlr->reconnect_tries++;
	if (job_start(nctrlr, reconnect_done) != 0) {
		nctrlr->next_try_us = now + 100000; /* out of memory: soon again */
	}
}

static void
ctrlr_free(struct nvme_bdev_ctrlr *nctrlr)
{
	free(nctrlr->name);
	free(nctrlr);
}

static void
ctrlr_finish_teardown(struct nvme_bdev_ctrlr *nctrlr)
{
	struct nvme_bdev *last = nctrlr->last_bdev;

	ftgt_poller_unregister(&nctrlr->poller);
	if (nctrlr->ctrlr != NULL) {
		ftgt_nvme_detach(nctrlr->ctrlr);
		nctrlr->ctrlr = NULL;
	}
	TAILQ_REMOVE(&g_ctrlrs, nctrlr, link);
	FTGT_NOTICELOG("nvme controller %s: detached\n", nctrlr->name);
	ctrlr_free(nctrlr);
	if (last != NULL) {
		ftgt_bdev_destruct_done(&last->bdev, 0);
		free(last->bdev.name);
		free(last);
	}
}

static int
ctrlr_poll(void *ctx)
{
	struct nvme_bdev_ctrlr *nctrlr = ctx;
	int rc;

	switch (nctrlr->state) {
	case BDEV_NVME_ENABLED:
		rc = ftgt_nvme_ctrlr_process_admin_completions(nctrlr->ctrlr);
		if (rc < 0 || ftgt_nvme_ctrlr_is_failed(nctrlr->ctrlr)) {
			ctrlr_start_reset(nctrlr, "admin queue failed", true);
			return FTGT_POLLER_BUSY;
		}
		if (nctrlr->ns_resync) {
			ns_sync(nctrlr);
		}
		return rc > 0 ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
	case BDEV_NVME_RESETTING:
		ctrlr_reset_step(nctrlr);
		return FTGT_POLLER_BUSY;
	case BDEV_NVME_CONNECTING:
	case BDEV_NVME_FAILED:
		return FTGT_POLLER_IDLE;
	case BDEV_NVME_DELETING:
		if (nctrlr->io_dev_gone && !nctrlr->reset_chans_running &&
		    __atomic_load_n(&nctrlr->nqpairs, __ATOMIC_ACQUIRE) == 0 &&
		    __atomic_load_n(&nctrlr->nreqs, __ATOMIC_ACQUIRE) == 0) {
			ctrlr_finish_teardown(nctrlr);
		}
		return FTGT_POLLER_BUSY;
	case BDEV_NVME_NUM_STATES:
		break;
	}
	return FTGT_POLLER_IDLE;
}

/* App thread: a channel's request or failure notice. */
static void
app_qpair_req(void *ctx)
{
	struct qpair_req *req = ctx;
	struct nvme_bdev_ctrlr *nctrlr = req->nctrlr;

	if (req->failed_notice) {
		if (req->gen == nctrlr->gen) {
			ctrlr_start_reset(nctrlr, "an I/O qpair failed", true);
		}
		req_free(req);
		return;
	}
	if (nctrlr->state == BDEV_NVME_RESETTING) {
		TAILQ_INSERT_TAIL(&nctrlr->waiting, req, link);
		return;
	}
	req_serve(nctrlr, req);
}

static void
io_dev_gone(void *io_device)
{
	struct nvme_bdev_ctrlr *c;

	/* Looked up: module_fini may have freed a controller whose teardown was running. */
	TAILQ_FOREACH (c, &g_ctrlrs, link) {
		if (c == io_device) {
			c->io_dev_gone = true;
		}
	}
}

static void
ctrlr_teardown(struct nvme_bdev_ctrlr *nctrlr)
{
	set_state(nctrlr, BDEV_NVME_DELETING);
	/* A reconnect in flight is not waited for: it is dropped here. */
	job_orphan(nctrlr);
	reset_waiters_done(nctrlr, -ENODEV);
	serve_waiting(nctrlr);
	if (nctrlr->io_dev_registered) {
		nctrlr->io_dev_registered = false;
		ftgt_io_device_unregister(nctrlr, io_dev_gone);
	} else {
		nctrlr->io_dev_gone = true;
	}
}

/* ---- reset ------------------------------------------------------------------------- */

static void
reset_waiters_done(struct nvme_bdev_ctrlr *nctrlr, int rc)
{
	struct reset_waiter *w;

	while ((w = TAILQ_FIRST(&nctrlr->reset_waiters)) != NULL) {
		TAILQ_REMOVE(&nctrlr->reset_waiters, w, link);
		w->fn(w, rc);
	}
}

int
bdev_nvme_ctrlr_reset(struct nvme_bdev_ctrlr *nctrlr, struct reset_waiter *w)
{
	switch (nctrlr->state) {
	case BDEV_NVME_ENABLED:
		nctrlr->resets++;
		ctrlr_start_reset(nctrlr, "reset requested", false);
		break;
	case BDEV_NVME_RESETTING:
		/* One is running (reset or reconnect): its next try answers this one too. */
		nctrlr->resets++;
		break;
	default:
		return -EBUSY;
	}
	TAILQ_INSERT_TAIL(&nctrlr->reset_waiters, w, link);
	return 0;
}

static void
reset_rpc_done(struct reset_waiter *w, int rc)
{
	w->cb_fn(w->cb_arg, rc);
	free(w);
}

int
bdev_nvme_reset_controller(const char *name, bdev_nvme_reset_cb cb_fn, void *cb_arg, char *err,
                           size_t err_len)
{
	struct nvme_bdev_ctrlr *nctrlr = ctrlr_find(name);
	struct reset_waiter *w;

	if (nctrlr == NULL) {
		snprintf(err, err_len, "nvme controller '%s' does not exist", name);
		return -ENODEV;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	w->fn = reset_rpc_done;
	w->cb_fn = cb_fn;
	w->cb_arg = cb_arg;
	if (bdev_nvme_ctrlr_reset(nctrlr, w) != 0) {
		free(w);
		snprintf(err, err_len, "nvme controller '%s' is %s: it cannot be reset", name,
		         bdev_nvme_state_name(nctrlr->state));
		return -EBUSY;
	}
	return 0;
}

/* ---- bdev fn table ----------------------------------------------------------------- */

static int
nvme_bdev_destruct(void *ctxt)
{
	struct nvme_bdev *nbdev = ctxt;
	struct nvme_bdev_ctrlr *nctrlr = nbdev->nctrlr;

	TAILQ_REMOVE(&nctrlr->bdevs, nbdev, link);
	/*
	 * The controller goes with its last bdev when that is detach or shutdown; a namespace
	 * removed on the remote side leaves the controller attached (maybe with none).
	 */
	if (--nctrlr->live_bdevs > 0 || (nbdev->removing && !nctrlr->detaching)) {
		free(nbdev->bdev.name);
		free(nbdev);
		return 0;
	}
	/* The last one: finish once the controller is down (shutdown waits for it). */
	nctrlr->last_bdev = nbdev;
	ctrlr_teardown(nctrlr);
	return 1;
}

static struct ftgt_io_channel *
nvme_bdev_get_io_channel(void *ctxt)
{
	struct nvme_bdev *nbdev = ctxt;

	return ftgt_get_io_channel(nbdev->nctrlr);
}

static json_t *
trid_json(const struct ftgt_nvme_transport_id *trid)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "trtype", "TCP", "adrfam",
	                 trid->adrfam == NVMF_ADRFAM_IPV6 ? "IPv6" : "IPv4", "traddr", trid->traddr,
	                 "trsvcid", trid->trsvcid, "subnqn", trid->subnqn);
}

static void
nvme_bdev_dump_info_json(void *ctxt, json_t *driver_specific)
{
	struct nvme_bdev *nbdev = ctxt;
	json_t *o = json_object();

	json_object_set_new(o, "ctrlr", json_string(nbdev->nctrlr->name));
	json_object_set_new(o, "nsid", json_integer(nbdev->nsid));
	json_object_set_new(o, "state", json_string(bdev_nvme_state_name(nbdev->nctrlr->state)));
	json_object_set_new(o, "trid", trid_json(&nbdev->nctrlr->opts.trid));
	json_object_set_new(driver_specific, "nvme", o);
}

static void
nvme_bdev_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	struct nvme_bdev *nbdev = bdev->ctxt;
	struct nvme_bdev_ctrlr *nctrlr = nbdev->nctrlr;
	const struct bdev_nvme_attach_opts *o = &nctrlr->opts;
	struct nvme_bdev *first;
	json_t *params;

	/* One attach per controller: written with its first namespace still there. */
	TAILQ_FOREACH (first, &nctrlr->bdevs, link) {
		if (!first->removing) {
			break;
		}
	}
	if (first != nbdev) {
		return;
	}
	params = trid_json(&o->trid);
	json_object_set_new(params, "name", json_string(nctrlr->name));
	if (o->hostnqn[0] != '\0') {
		json_object_set_new(params, "hostnqn", json_string(o->hostnqn));
	}
	json_object_set_new(params, "hdgst", json_boolean(o->hdgst));
	json_object_set_new(params, "ddgst", json_boolean(o->ddgst));
	json_object_set_new(params, "ctrlr_loss_timeout_sec",
	                    json_integer(o->ctrlr_loss_timeout_sec));
	json_object_set_new(params, "reconnect_delay_sec", json_integer(o->reconnect_delay_sec));
	json_object_set_new(params, "fast_io_fail_timeout_sec",
	                    json_integer(o->fast_io_fail_timeout_sec));
	json_object_set_new(params, "fabrics_connect_timeout_us",
	                    json_integer((json_int_t)o->connect_timeout_ms * 1000));
	json_array_append_new(config, json_pack("{s:s, s:o}", "method",
	                                        "bdev_nvme_attach_controller", "params", params));
}

static const struct ftgt_bdev_fn_table g_nvme_fn_table = {
        .destruct = nvme_bdev_destruct,
        .submit_request = bdev_nvme_submit_request,
        .io_type_supported = bdev_nvme_io_type_supported,
        .get_io_channel = nvme_bdev_get_io_channel,
        .dump_info_json = nvme_bdev_dump_info_json,
        .write_config_json = nvme_bdev_write_config_json,
};

/* ---- public ----------------------------------------------------------------------- */

static void
attach_fail(struct nvme_bdev_ctrlr *nctrlr, struct ftgt_nvme_ctrlr *ctrlr, int rc, const char *err)
{
	bdev_nvme_attach_cb cb_fn = nctrlr->attach_cb;
	void *cb_arg = nctrlr->attach_cb_arg;

	if (ctrlr != NULL) {
		ftgt_nvme_detach_no_shutdown(ctrlr);
	}
	TAILQ_REMOVE(&g_ctrlrs, nctrlr, link);
	ctrlr_free(nctrlr);
	cb_fn(cb_arg, rc, NULL, err);
}

/* App thread: register bdev <name>n<nsid> for an active namespace of nctrlr->ctrlr. */

/*
 * Blocks a compare-and-write may cover at the remote controller: the namespace's NACWU
 * when NSFEAT says its atomicity fields are valid, else the controller's ACWU (both 0's
 * based, NVMe Base 2.0, 5.17.2).
 */
static uint32_t
remote_acwu(struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	const struct nvme_ns_data *nsd = ftgt_nvme_ctrlr_get_ns_data(ctrlr, nsid);

	if (nsd != NULL && (nsd->nsfeat & NVME_NS_NSFEAT_NSABP) != 0) {
		return (uint32_t)ftgt_le16_to_cpu(nsd->nacwu) + 1;
	}
	return (uint32_t)ftgt_le16_to_cpu(ftgt_nvme_ctrlr_get_data(ctrlr)->acwu) + 1;
}

static int
ns_add(struct nvme_bdev_ctrlr *nctrlr, uint32_t nsid, struct nvme_bdev **out)
{
	struct ftgt_nvme_ctrlr *ctrlr = nctrlr->ctrlr;
	uint32_t bs = ftgt_nvme_ns_get_block_size(ctrlr, nsid);
	char bname[FTGT_BDEV_MAX_NAME_LEN + 32];
	struct nvme_bdev *nbdev;
	int rc;

	snprintf(bname, sizeof(bname), "%sn%u", nctrlr->name, nsid);
	nbdev = calloc(1, sizeof(*nbdev));
	if (nbdev == NULL || (nbdev->bdev.name = strdup(bname)) == NULL) {
		free(nbdev);
		return -ENOMEM;
	}
	nbdev->nctrlr = nctrlr;
	nbdev->nsid = nsid;
	nbdev->bdev.ctxt = nbdev;
	nbdev->bdev.product_name = "NVMe disk";
	nbdev->bdev.blocklen = bs;
	nbdev->bdev.blockcnt = ftgt_nvme_ns_get_num_blocks(ctrlr, nsid);
	nbdev->bdev.write_cache = (ftgt_nvme_ctrlr_get_data(ctrlr)->vwc & 1) != 0;
	nbdev->bdev.max_rw_size = bs != 0 ? ftgt_nvme_ctrlr_get_max_xfer_size(ctrlr) / bs : 0;
	nbdev->bdev.max_unmap_blocks = UINT32_MAX;
	nbdev->bdev.max_write_zeroes_blocks = 65536;
	nbdev->bdev.acwu = remote_acwu(ctrlr, nsid);
	nbdev->bdev.fn_table = &g_nvme_fn_table;
	nbdev->bdev.module = &g_nvme_module;
	/* Listed before it is registered: from then on destruct may run for it. */
	TAILQ_INSERT_TAIL(&nctrlr->bdevs, nbdev, link);
	nctrlr->live_bdevs++;
	rc = ftgt_bdev_register(&nbdev->bdev);
	if (rc != 0) {
		TAILQ_REMOVE(&nctrlr->bdevs, nbdev, link);
		nctrlr->live_bdevs--;
		free(nbdev->bdev.name);
		free(nbdev);
		return rc;
	}
	if (out != NULL) {
		*out = nbdev;
	}
	return 0;
}

static struct nvme_bdev *
ns_find(struct nvme_bdev_ctrlr *nctrlr, uint32_t nsid, bool removing)
{
	struct nvme_bdev *nbdev;

	TAILQ_FOREACH (nbdev, &nctrlr->bdevs, link) {
		if (nbdev->nsid == nsid && nbdev->removing == removing) {
			return nbdev;
		}
	}
	return NULL;
}

/*
 * App thread: make the bdevs match the controller's active namespaces (after a Namespace
 * Attribute Changed event, and after a reconnect): a namespace gone is hot-removed (its
 * users get the REMOVE event), a new one becomes a bdev, a size change is announced.
 */
static void
ns_sync(struct nvme_bdev_ctrlr *nctrlr)
{
	struct ftgt_nvme_ctrlr *ctrlr = nctrlr->ctrlr;
	struct nvme_bdev *nbdev, *tmp;
	uint32_t i, n, nsid;
	uint64_t blocks;
	int rc;

	if (ctrlr == NULL || nctrlr->state != BDEV_NVME_ENABLED || nctrlr->detaching) {
		return;
	}
	nctrlr->ns_resync = false;
	n = ftgt_nvme_ctrlr_get_num_ns(ctrlr);
	nctrlr->num_ns = n;
	for (nbdev = TAILQ_FIRST(&nctrlr->bdevs); nbdev != NULL; nbdev = tmp) {
		tmp = TAILQ_NEXT(nbdev, link);
		if (nbdev->removing) {
			continue;
		}
		blocks = ftgt_nvme_ns_get_num_blocks(ctrlr, nbdev->nsid);
		if (blocks == 0 ||
		    ftgt_nvme_ns_get_block_size(ctrlr, nbdev->nsid) != nbdev->bdev.blocklen) {
			FTGT_NOTICELOG(
			        "nvme controller %s: namespace %u is gone: removing bdev %s\n",
			        nctrlr->name, nbdev->nsid, nbdev->bdev.name);
			nbdev->removing = true;
			ftgt_bdev_unregister(&nbdev->bdev, NULL, NULL);
			continue;
		}
		if (blocks != nbdev->bdev.blockcnt) {
			rc = ftgt_bdev_notify_blockcnt_change(&nbdev->bdev, blocks);
			FTGT_NOTICELOG("nvme controller %s: namespace %u resized to %" PRIu64
			               " blocks%s\n",
			               nctrlr->name, nbdev->nsid, blocks,
			               rc == 0 ? "" : " (refused by the bdev layer: in use)");
		}
	}
	for (i = 0; i < n; i++) {
		nsid = ftgt_nvme_ctrlr_get_ns_id(ctrlr, i);
		if (ns_find(nctrlr, nsid, false) != NULL) {
			continue;
		}
		rc = ns_add(nctrlr, nsid, NULL);
		if (rc == -EEXIST && ns_find(nctrlr, nsid, true) != NULL) {
			/* The old bdev of this NSID is still going away: the poller tries again. */
			nctrlr->ns_resync = true;
			continue;
		}
		if (rc != 0) {
			FTGT_ERRLOG("nvme controller %s: namespace %u: cannot add its bdev: %s\n",
			            nctrlr->name, nsid, strerror(-rc));
			continue;
		}
		FTGT_NOTICELOG("nvme controller %s: namespace %u appeared: bdev %sn%u\n",
		               nctrlr->name, nsid, nctrlr->name, nsid);
	}
}

static void
aer_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct nvme_bdev_ctrlr *nctrlr = cb_arg;
	uint32_t cdw0 = ftgt_le32_to_cpu(cpl->cdw0);

	if (ftgt_nvme_cpl_is_error(cpl)) {
		return;
	}
	/* lib/nvme has read the Changed Namespace List and refreshed its namespaces. */
	if ((cdw0 & 0x7) == NVME_AER_TYPE_NOTICE &&
	    ((cdw0 >> 8) & 0xff) == NVME_AER_NOTICE_NS_ATTR_CHANGED) {
		ns_sync(nctrlr);
	}
}

static void
attach_connected(struct nvme_bdev_ctrlr *nctrlr, struct connect_job *job)
{
	const struct bdev_nvme_attach_opts *opts = &nctrlr->opts;
	struct ftgt_nvme_ctrlr *ctrlr = job->ctrlr;
	struct nvme_bdev *nbdev;
	char err[1024], cerr[256], bname[FTGT_BDEV_MAX_NAME_LEN + 32];
	uint32_t i, n, nsid;
	json_t *names;
	int rc;

	job->ctrlr = NULL; /* ours now */
	if (job->rc != 0) {
		snprintf(err, sizeof(err),
		         "cannot attach nvme controller '%s' at %s port %s (%s): %s", opts->name,
		         opts->trid.traddr, opts->trid.trsvcid, opts->trid.subnqn, job->err);
		attach_fail(nctrlr, NULL, job->rc, err);
		return;
	}
	if (ftgt_nvme_ctrlr_is_discovery(ctrlr)) {
		snprintf(err, sizeof(err),
		         "cannot attach nvme controller '%s': %s is a discovery subsystem; give an "
		         "NVM subsystem's subnqn",
		         opts->name, opts->trid.subnqn);
		attach_fail(nctrlr, ctrlr, -EINVAL, err);
		return;
	}
	n = ftgt_nvme_ctrlr_get_num_ns(ctrlr);
	/* Check every name and geometry first, so that nothing is half-registered. */
	for (i = 0; i < n; i++) {
		nsid = ftgt_nvme_ctrlr_get_ns_id(ctrlr, i);
		snprintf(bname, sizeof(bname), "%sn%u", opts->name, nsid);
		rc = ftgt_bdev_check_params(bname, ftgt_nvme_ns_get_block_size(ctrlr, nsid), 0,
		                            false, ftgt_nvme_ns_get_num_blocks(ctrlr, nsid), cerr,
		                            sizeof(cerr));
		if (rc != 0) {
			snprintf(err, sizeof(err),
			         "cannot attach nvme controller '%s': namespace %u: %s", opts->name,
			         nsid, cerr);
			attach_fail(nctrlr, ctrlr, rc, err);
			return;
		}
	}
	names = json_array();
	if (names == NULL) {
		attach_fail(nctrlr, ctrlr, -ENOMEM, "out of memory");
		return;
	}
	nctrlr->poller = FTGT_POLLER_REGISTER(ctrlr_poll, nctrlr, ADMIN_POLL_PERIOD_US);
	if (nctrlr->poller == NULL) {
		json_decref(names);
		attach_fail(nctrlr, ctrlr, -ENOMEM, "out of memory");
		return;
	}
	nctrlr->ctrlr = ctrlr;
	nctrlr->oncs = ftgt_le16_to_cpu(ftgt_nvme_ctrlr_get_data(ctrlr)->oncs);
	nctrlr->fuses = ftgt_le16_to_cpu(ftgt_nvme_ctrlr_get_data(ctrlr)->fuses);
	nctrlr->num_ns = n;
	set_state(nctrlr, BDEV_NVME_ENABLED);
	ftgt_io_device_register(nctrlr, chan_create, chan_destroy, sizeof(struct nvme_io_channel),
	                        nctrlr->name);
	nctrlr->io_dev_registered = true;
	rc = 0;
	for (i = 0; i < n; i++) {
		nsid = ftgt_nvme_ctrlr_get_ns_id(ctrlr, i);
		rc = ns_add(nctrlr, nsid, &nbdev);
		if (rc != 0) {
			break;
		}
		json_array_append_new(names, json_string(nbdev->bdev.name));
	}
	if (i < n) {
		snprintf(err, sizeof(err),
		         "cannot attach nvme controller '%s': registering namespace %u failed: %s",
		         opts->name, ftgt_nvme_ctrlr_get_ns_id(ctrlr, i), strerror(-rc));
		json_decref(names);
		/* Take down what was made: the last bdev's destruct (or the poller) finishes. */
		nctrlr->attach_cb(nctrlr->attach_cb_arg, rc, NULL, err);
		ctrlr_remove_all(nctrlr);
		return;
	}
	ftgt_nvme_ctrlr_register_aer_callback(ctrlr, aer_cb, nctrlr);
	FTGT_NOTICELOG("nvme controller %s: attached %s port %s (%s), %u namespace(s)\n",
	               nctrlr->name, opts->trid.traddr, opts->trid.trsvcid, opts->trid.subnqn, n);
	nctrlr->attach_cb(nctrlr->attach_cb_arg, 0, names, NULL);
}

int
bdev_nvme_attach_controller(const struct bdev_nvme_attach_opts *opts, bdev_nvme_attach_cb cb_fn,
                            void *cb_arg, char *err, size_t err_len)
{
	struct bdev_nvme_reconnect_opts ropts = {
	        .ctrlr_loss_timeout_sec = opts->ctrlr_loss_timeout_sec,
	        .reconnect_delay_sec = opts->reconnect_delay_sec,
	        .fast_io_fail_timeout_sec = opts->fast_io_fail_timeout_sec,
	};
	struct nvme_bdev_ctrlr *nctrlr;
	int rc;

	if (opts->name == NULL || opts->name[0] == '\0') {
		snprintf(err, err_len, "invalid parameter 'name': must not be empty");
		return -EINVAL;
	}
	if (ctrlr_find(opts->name) != NULL) {
		snprintf(err, err_len, "nvme controller '%s' already exists", opts->name);
		return -EEXIST;
	}
	rc = bdev_nvme_check_reconnect_opts(&ropts, err, err_len);
	if (rc != 0) {
		return rc;
	}

	nctrlr = calloc(1, sizeof(*nctrlr));
	if (nctrlr == NULL || (nctrlr->name = strdup(opts->name)) == NULL) {
		free(nctrlr);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	nctrlr->opts = *opts;
	nctrlr->opts.name = nctrlr->name;
	nctrlr->ropts = ropts;
	nctrlr->state = BDEV_NVME_CONNECTING;
	nctrlr->attach_cb = cb_fn;
	nctrlr->attach_cb_arg = cb_arg;
	TAILQ_INIT(&nctrlr->waiting);
	TAILQ_INIT(&nctrlr->reset_waiters);
	TAILQ_INIT(&nctrlr->bdevs);
	ftgt_nvme_ctrlr_opts_default(&nctrlr->copts);
	if (opts->hostnqn[0] != '\0') {
		snprintf(nctrlr->copts.hostnqn, sizeof(nctrlr->copts.hostnqn), "%s", opts->hostnqn);
	}
	/* Reconnecting is this module's (SPDK's parameters, see doc/bdev_nvme.md). */
	nctrlr->copts.reconnect_delay_ms = 0;
	nctrlr->copts.header_digest = opts->hdgst;
	nctrlr->copts.data_digest = opts->ddgst;
	if (opts->connect_timeout_ms != 0) {
		nctrlr->copts.connect_timeout_ms = opts->connect_timeout_ms;
	}
	nctrlr->opts.connect_timeout_ms = nctrlr->copts.connect_timeout_ms;
	rc = job_start(nctrlr, attach_connected);
	if (rc != 0) {
		snprintf(err, err_len, "cannot start a connect thread: %s", strerror(-rc));
		ctrlr_free(nctrlr);
		return rc;
	}
	/* The name is taken from now on (a second attach of it gets -EEXIST). */
	TAILQ_INSERT_TAIL(&g_ctrlrs, nctrlr, link);
	return 0;
}

/* Unregister every bdev; the last destruct (or, with none, this) tears the controller down. */
static void
ctrlr_remove_all(struct nvme_bdev_ctrlr *nctrlr)
{
	struct nvme_bdev *nbdev, *tmp;

	nctrlr->detaching = true;
	if (nctrlr->live_bdevs == 0) {
		ctrlr_teardown(nctrlr);
		return;
	}
	for (nbdev = TAILQ_FIRST(&nctrlr->bdevs); nbdev != NULL; nbdev = tmp) {
		tmp = TAILQ_NEXT(nbdev, link);
		if (!nbdev->removing) {
			nbdev->removing = true;
			ftgt_bdev_unregister(&nbdev->bdev, NULL, NULL);
		}
	}
}

/* Detach answers once the controller is gone from the list (bdevs, qpairs, controller). */
struct detach_wait {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_poller *poller;
	bdev_nvme_detach_cb cb_fn;
	void *cb_arg;
};

static int
detach_wait_poll(void *ctx)
{
	struct detach_wait *w = ctx;
	struct nvme_bdev_ctrlr *c;

	TAILQ_FOREACH (c, &g_ctrlrs, link) {
		if (c == w->nctrlr) {
			return FTGT_POLLER_IDLE;
		}
	}
	ftgt_poller_unregister(&w->poller);
	w->cb_fn(w->cb_arg, 0);
	free(w);
	return FTGT_POLLER_BUSY;
}

int
bdev_nvme_detach_controller(const char *name, bdev_nvme_detach_cb cb_fn, void *cb_arg, char *err,
                            size_t err_len)
{
	struct nvme_bdev_ctrlr *nctrlr = ctrlr_find(name);
	struct nvme_bdev *nbdev;
	struct detach_wait *w;
	int rc;

	if (nctrlr == NULL) {
		snprintf(err, err_len, "nvme controller '%s' does not exist", name);
		return -ENODEV;
	}
	if (nctrlr->state == BDEV_NVME_DELETING || nctrlr->detaching) {
		snprintf(err, err_len, "nvme controller '%s' is being detached", name);
		return -EBUSY;
	}
	if (nctrlr->state == BDEV_NVME_CONNECTING) {
		snprintf(err, err_len, "nvme controller '%s' is still connecting", name);
		return -EBUSY;
	}
	TAILQ_FOREACH (nbdev, &nctrlr->bdevs, link) {
		if (!nbdev->removing) {
			rc = ftgt_bdev_check_delete(&nbdev->bdev, err, err_len);
			if (rc != 0) {
				return rc;
			}
		}
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	w->nctrlr = nctrlr;
	w->cb_fn = cb_fn;
	w->cb_arg = cb_arg;
	w->poller = FTGT_POLLER_REGISTER(detach_wait_poll, w, ADMIN_POLL_PERIOD_US);
	if (w->poller == NULL) {
		free(w);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ctrlr_remove_all(nctrlr);
	return 0;
}

int
bdev_nvme_get_controllers(const char *name, json_t **out)
{
	struct nvme_bdev_ctrlr *c;
	json_t *arr = json_array(), *o, *ctrlr, *bdevs;
	struct nvme_bdev *nbdev;

	TAILQ_FOREACH (c, &g_ctrlrs, link) {
		if (name != NULL && strcmp(name, c->name) != 0) {
			continue;
		}
		ctrlr = json_object();
		json_object_set_new(ctrlr, "state", json_string(bdev_nvme_state_name(c->state)));
		json_object_set_new(ctrlr, "trid", trid_json(&c->opts.trid));
		json_object_set_new(
		        ctrlr, "cntlid",
		        json_integer(c->ctrlr ? ftgt_nvme_ctrlr_get_cntlid(c->ctrlr) : 0));
		json_object_set_new(ctrlr, "host", json_pack("{s:s}", "nqn", c->copts.hostnqn));
		json_object_set_new(ctrlr, "num_namespaces", json_integer(c->num_ns));
		json_object_set_new(ctrlr, "io_failing", json_boolean(c->fail_io));
		bdevs = json_array();
		TAILQ_FOREACH (nbdev, &c->bdevs, link) {
			if (!nbdev->removing) {
				json_array_append_new(bdevs, json_string(nbdev->bdev.name));
			}
		}
		o = json_object();
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "ctrlrs", json_pack("[o]", ctrlr));
		json_object_set_new(o, "bdevs", bdevs);
		json_object_set_new(o, "losses", json_integer((json_int_t)c->losses));
		json_object_set_new(o, "resets", json_integer((json_int_t)c->resets));
		json_object_set_new(o, "reconnect_tries",
		                    json_integer((json_int_t)c->reconnect_tries));
		json_object_set_new(o, "reconnects", json_integer((json_int_t)c->reconnects));
		json_object_set_new(o, "aborts_sent", json_integer((json_int_t)c->aborts_sent));
		json_object_set_new(o, "aborts_done", json_integer((json_int_t)c->aborts_done));
		json_object_set_new(o, "ctrlr_loss_timeout_sec",
		                    json_integer(c->ropts.ctrlr_loss_timeout_sec));
		json_object_set_new(o, "reconnect_delay_sec",
		                    json_integer(c->ropts.reconnect_delay_sec));
		json_object_set_new(o, "fast_io_fail_timeout_sec",
		                    json_integer(c->ropts.fast_io_fail_timeout_sec));
		json_array_append_new(arr, o);
	}
	if (name != NULL && json_array_size(arr) == 0) {
		json_decref(arr);
		return -ENODEV;
	}
	*out = arr;
	return 0;
}

/* ---- module ------------------------------------------------------------------------ */

static int
nvme_get_ctx_size(void)
{
	return (int)sizeof(struct nvme_bdev_io);
}

static void
nvme_module_fini(void)
{
	struct nvme_bdev_ctrlr *c;
	bdev_nvme_attach_cb cb_fn;
	void *cb_arg;

	/*
	 * Every bdev is gone, so only controllers without namespaces (or still connecting)
	 * can be left. A connect in flight is not waited for: its thread cleans up alone.
	 */
	while ((c = TAILQ_FIRST(&g_ctrlrs)) != NULL) {
		if (c->state == BDEV_NVME_CONNECTING) {
			job_orphan(c);
			cb_fn = c->attach_cb;
			cb_arg = c->attach_cb_arg;
			TAILQ_REMOVE(&g_ctrlrs, c, link);
			ctrlr_free(c);
			cb_fn(cb_arg, -ESHUTDOWN, NULL, "the daemon is shutting down");
			continue;
		}
		job_orphan(c);
		if (c->state != BDEV_NVME_DELETING) {
			set_state(c, BDEV_NVME_DELETING);
		}
		/* Nobody is left hanging: a reset RPC hears of the shutdown, requests are answered. */
		reset_waiters_done(c, -ESHUTDOWN);
		serve_waiting(c);
		if (c->io_dev_registered) {
			c->io_dev_registered = false;
			ftgt_io_device_unregister(c, NULL);
		}
		ftgt_poller_unregister(&c->poller);
		TAILQ_REMOVE(&g_ctrlrs, c, link);
		if (__atomic_load_n(&c->nqpairs, __ATOMIC_ACQUIRE) != 0 ||
		    __atomic_load_n(&c->nreqs, __ATOMIC_ACQUIRE) != 0) {
			/* Other threads still hold qpairs or answers that point here: leak it. */
			FTGT_ERRLOG("nvme controller %s: %u qpairs and %u requests still out at "
			            "shutdown: not freed\n",
			            c->name, __atomic_load_n(&c->nqpairs, __ATOMIC_ACQUIRE),
			            __atomic_load_n(&c->nreqs, __ATOMIC_ACQUIRE));
			continue;
		}
		if (c->ctrlr != NULL) {
			ftgt_nvme_detach(c->ctrlr);
		}
		ctrlr_free(c);
	}
}

static struct ftgt_bdev_module g_nvme_module = {
        .name = "nvme",
        .module_fini = nvme_module_fini,
        .get_ctx_size = nvme_get_ctx_size,
};
FTGT_BDEV_MODULE_REGISTER(nvme, &g_nvme_module)
