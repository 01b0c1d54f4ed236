/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe-oF bdev: one remote controller (lib/nvme) per bdev_nvme_attach_controller, one
 * bdev per active namespace, one I/O queue pair per thread (the io channel), polled.
 *
 * Ownership: a controller (struct nvme_bdev_ctrlr) and its lib/nvme admin queue belong
 * to the app thread; lib/nvme controller calls (qpair allocation, detach, admin polling)
 * happen there, except the blocking ftgt_nvme_connect() of attach and reconnect, which
 * runs on a pthread of its own (struct connect_job) and hands the result over by message. A channel asks the app thread for a qpair with a message
 * (struct qpair_req) and gets it back with a message; from then on the qpair belongs to
 * the channel's thread, which polls it and frees it. `gen` counts controller incarnations:
 * a qpair of an older generation is dropped when it arrives.
 *
 * Failures: the admin poller notices a failed admin queue, a channel a failed qpair. The
 * controller then goes RESETTING: every channel frees its qpair (their commands complete
 * ABORTED_SQ_DELETION and are given back to the bdev core as NOMEM, which retries them),
 * the old controller is detached, and connect is retried every reconnect_delay_sec until
 * ctrlr_loss_timeout_sec has passed since the failure (-1: forever). Then the controller
 * is FAILED and every I/O fails at once. I/O submitted while RESETTING is answered NOMEM
 * (queued and retried by the core), so it waits at most the loss timeout.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/bdev_module.h"
#include "ftgt/log.h"
#include "ftgt/nvme.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"
#include "bdev_nvme.h"

FTGT_LOG_REGISTER_COMPONENT(bdev_nvme)

#define ADMIN_POLL_PERIOD_US 10000

/* Controller state (app thread). */
enum nvme_ctrlr_state {
	NVME_CTRLR_CONNECTING, /* attach: first connect running off-thread; no bdevs yet */
	NVME_CTRLR_ENABLED,    /* connected; channels get qpairs */
	NVME_CTRLR_RESETTING,  /* failed; reconnecting; I/O waits (NOMEM) */
	NVME_CTRLR_FAILED,     /* loss timeout passed; I/O fails */
	NVME_CTRLR_DELETING,   /* bdevs gone; tearing down */
};

static const char *const g_state_names[] = {
        [NVME_CTRLR_CONNECTING] = "connecting", [NVME_CTRLR_ENABLED] = "enabled",
        [NVME_CTRLR_RESETTING] = "resetting",   [NVME_CTRLR_FAILED] = "failed",
        [NVME_CTRLR_DELETING] = "deleting",
};

struct nvme_bdev_ctrlr;
struct nvme_io_channel;

struct nvme_bdev {
	struct ftgt_bdev bdev; /* freed in destruct (or after destruct_done) */
	struct nvme_bdev_ctrlr *nctrlr;
	uint32_t nsid;
	uint32_t idx;
};

/* A channel's request for a qpair, or (failed_notice) its report of a failed qpair. */
struct qpair_req {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_thread *thread;
	struct nvme_io_channel *ch; /* channel thread only; NULL once the channel is gone */
	struct ftgt_nvme_qpair *qpair;
	uint64_t gen;
	bool failed;
	bool failed_notice;
	TAILQ_ENTRY(qpair_req) link;
};

struct nvme_io_channel {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_nvme_qpair *qpair;
	struct ftgt_poller *poller;
	struct qpair_req *req; /* pending request, or NULL */
	uint64_t gen;
	bool failed;
};

/*
 * A connect run on a pthread of its own (ftgt_nvme_connect blocks for up to the connect
 * timeout), answered on the app thread by message. nctrlr is NULL once orphaned.
 */
struct connect_job {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_thread *app_thread;
	struct ftgt_nvme_transport_id trid;
	struct ftgt_nvme_ctrlr_opts copts;
	struct ftgt_nvme_ctrlr *ctrlr;
	int rc;
	char err[256];
	void (*done)(struct nvme_bdev_ctrlr *nctrlr, struct connect_job *job);
};

struct nvme_bdev_ctrlr {
	char *name;
	struct connect_job *job; /* connect in flight, or NULL */
	bdev_nvme_attach_cb attach_cb;
	void *attach_cb_arg;
	struct bdev_nvme_attach_opts opts; /* opts.name points at name */
	struct ftgt_nvme_ctrlr_opts copts;
	struct ftgt_nvme_ctrlr *ctrlr; /* NULL between detach and reconnect */
	enum nvme_ctrlr_state state;
	uint64_t gen;
	uint64_t reconnects;
	uint16_t oncs; /* from the first connect: what io_type_supported answers */
	uint64_t failed_at_us;
	uint64_t next_try_us;
	bool reset_chans_running;
	bool io_dev_registered;
	bool io_dev_gone;
	/* Counted on any thread: qpairs alive and requests alive (lifetime of this struct). */
	uint32_t nqpairs;
	uint32_t nreqs;
	struct nvme_bdev **bdevs;
	uint32_t num_bdevs;
	uint32_t live_bdevs;
	struct nvme_bdev *last_bdev; /* destruct returned 1 for it */
	struct ftgt_poller *poller;
	TAILQ_HEAD(, qpair_req) waiting;
	TAILQ_ENTRY(nvme_bdev_ctrlr) link;
};

/* Per-I/O context. */
struct nvme_bdev_io {
	struct nvme_dsm_range range;
	void *bounce;
	struct nvme_io_channel *ch;
};

static TAILQ_HEAD(, nvme_bdev_ctrlr) g_ctrlrs = TAILQ_HEAD_INITIALIZER(g_ctrlrs);

static struct ftgt_bdev_module g_nvme_module;
static void ctrlr_teardown(struct nvme_bdev_ctrlr *nctrlr);

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
job_done_msg(void *ctx)
{
	struct connect_job *job = ctx;

	if (job->nctrlr == NULL) {
		if (job->ctrlr != NULL) {
			ftgt_nvme_detach(job->ctrlr);
		}
	} else {
		job->nctrlr->job = NULL;
		job->done(job->nctrlr, job);
	}
	free(job);
}

static void *
job_thread(void *arg)
{
	struct connect_job *job = arg;
	int i;

	job->rc =
	        ftgt_nvme_connect(&job->trid, &job->copts, &job->ctrlr, job->err, sizeof(job->err));
	/* The controller now goes to the app thread (the message orders the handover). */
	for (i = 0; i < 10000; i++) {
		if (ftgt_thread_send_msg(job->app_thread, job_done_msg, job) == 0) {
			break;
		}
		usleep(1000);
	}
	return NULL;
}

static int
job_start(struct nvme_bdev_ctrlr *nctrlr,
          void (*done)(struct nvme_bdev_ctrlr *nctrlr, struct connect_job *job))
{
	struct connect_job *job = calloc(1, sizeof(*job));
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	if (job == NULL) {
		return -ENOMEM;
	}
	job->nctrlr = nctrlr;
	job->app_thread = ftgt_thread_get_app_thread();
	job->trid = nctrlr->opts.trid;
	job->copts = nctrlr->copts;
	job->done = done;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	nctrlr->job = job;
	rc = pthread_create(&tid, &attr, job_thread, job);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		nctrlr->job = NULL;
		free(job);
		return -rc;
	}
	return 0;
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
	ch->failed = req->failed;
	ch->qpair = req->qpair;
	req_free(req);
}

static int
chan_poll(void *ctx)
{
	struct nvme_io_channel *ch = ctx;
	struct qpair_req *notice;
	int rc;

	if (ch->qpair == NULL) {
		return FTGT_POLLER_IDLE;
	}
	rc = ftgt_nvme_qpair_process_completions(ch->qpair, 0);
	if (rc >= 0) {
		return rc > 0 ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
	}
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
	req->failed = nctrlr->state == NVME_CTRLR_FAILED || nctrlr->state == NVME_CTRLR_DELETING;
	if (nctrlr->state == NVME_CTRLR_ENABLED) {
		__atomic_fetch_add(&nctrlr->nqpairs, 1, __ATOMIC_RELAXED);
		req->qpair = ftgt_nvme_ctrlr_alloc_io_qpair(nctrlr->ctrlr, 0);
		if (req->qpair == NULL) {
			__atomic_fetch_sub(&nctrlr->nqpairs, 1, __ATOMIC_RELAXED);
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

static void
ctrlr_start_reset(struct nvme_bdev_ctrlr *nctrlr, const char *why)
{
	if (nctrlr->state != NVME_CTRLR_ENABLED) {
		return;
	}
	FTGT_WARNLOG("nvme controller %s: %s; reconnecting (loss timeout %d s, delay %u s)\n",
	             nctrlr->name, why, nctrlr->opts.ctrlr_loss_timeout_sec,
	             nctrlr->opts.reconnect_delay_sec);
	nctrlr->state = NVME_CTRLR_RESETTING;
	nctrlr->gen++;
	nctrlr->failed_at_us = now_us();
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

	if (nctrlr->state != NVME_CTRLR_RESETTING) {
		/* Being detached meanwhile. */
		if (job->ctrlr != NULL) {
			ftgt_nvme_detach(job->ctrlr);
		}
		return;
	}
	if (job->rc == 0) {
		FTGT_NOTICELOG("nvme controller %s: reconnected\n", nctrlr->name);
		nctrlr->ctrlr = job->ctrlr;
		nctrlr->state = NVME_CTRLR_ENABLED;
		nctrlr->reconnects++;
		serve_waiting(nctrlr);
		return;
	}
	if (nctrlr->opts.ctrlr_loss_timeout_sec < 0 ||
	    now - nctrlr->failed_at_us < (uint64_t)nctrlr->opts.ctrlr_loss_timeout_sec * 1000000u) {
		FTGT_WARNLOG("nvme controller %s: reconnect failed: %s\n", nctrlr->name, job->err);
		nctrlr->next_try_us = now + (uint64_t)nctrlr->opts.reconnect_delay_sec * 1000000u;
		return;
	}
	FTGT_ERRLOG("nvme controller %s: reconnect failed (%s); loss timeout reached: "
	            "I/O now fails\n",
	            nctrlr->name, job->err);
	nctrlr->state = NVME_CTRLR_FAILED;
	serve_waiting(nctrlr);
}

static void
ctrlr_reset_step(struct nvme_bdev_ctrlr *nctrlr)
{
	uint64_t now;

	if (nctrlr->job != NULL || nctrlr->reset_chans_running ||
	    __atomic_load_n(&nctrlr->nqpairs, __ATOMIC_ACQUIRE) != 0) {
		return;
	}
	if (nctrlr->ctrlr != NULL) {
		ftgt_nvme_detach(nctrlr->ctrlr);
		nctrlr->ctrlr = NULL;
	}
	now = now_us();
	if (now < nctrlr->next_try_us) {
		return;
	}
	if (job_start(nctrlr, reconnect_done) != 0) {
		nctrlr->next_try_us = now + 100000; /* out of memory or threads: soon again */
	}
}

static void
ctrlr_free(struct nvme_bdev_ctrlr *nctrlr)
{
	free(nctrlr->bdevs);
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
	case NVME_CTRLR_ENABLED:
		rc = ftgt_nvme_ctrlr_process_admin_completions(nctrlr->ctrlr);
		if (rc < 0 || ftgt_nvme_ctrlr_is_failed(nctrlr->ctrlr)) {
			ctrlr_start_reset(nctrlr, "admin queue failed");
			return FTGT_POLLER_BUSY;
		}
		return rc > 0 ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
	case NVME_CTRLR_RESETTING:
		ctrlr_reset_step(nctrlr);
		return FTGT_POLLER_BUSY;
	case NVME_CTRLR_CONNECTING:
	case NVME_CTRLR_FAILED:
		return FTGT_POLLER_IDLE;
	case NVME_CTRLR_DELETING:
		if (nctrlr->io_dev_gone && !nctrlr->reset_chans_running && nctrlr->job == NULL &&
		    __atomic_load_n(&nctrlr->nqpairs, __ATOMIC_ACQUIRE) == 0 &&
		    __atomic_load_n(&nctrlr->nreqs, __ATOMIC_ACQUIRE) == 0) {
			ctrlr_finish_teardown(nctrlr);
		}
		return FTGT_POLLER_BUSY;
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
			ctrlr_start_reset(nctrlr, "an I/O qpair failed");
		}
		req_free(req);
		return;
	}
	if (nctrlr->state == NVME_CTRLR_RESETTING) {
		TAILQ_INSERT_TAIL(&nctrlr->waiting, req, link);
		return;
	}
	req_serve(nctrlr, req);
}

static void
io_dev_gone(void *io_device)
{
	struct nvme_bdev_ctrlr *nctrlr = io_device;

	nctrlr->io_dev_gone = true;
}

static void
ctrlr_teardown(struct nvme_bdev_ctrlr *nctrlr)
{
	nctrlr->state = NVME_CTRLR_DELETING;
	serve_waiting(nctrlr);
	if (nctrlr->io_dev_registered) {
		nctrlr->io_dev_registered = false;
		ftgt_io_device_unregister(nctrlr, io_dev_gone);
	} else {
		nctrlr->io_dev_gone = true;
	}
}

/* ---- bdev fn table ----------------------------------------------------------------- */

static int
nvme_bdev_destruct(void *ctxt)
{
	struct nvme_bdev *nbdev = ctxt;
	struct nvme_bdev_ctrlr *nctrlr = nbdev->nctrlr;

	nctrlr->bdevs[nbdev->idx] = NULL;
	if (--nctrlr->live_bdevs > 0) {
		free(nbdev->bdev.name);
		free(nbdev);
		return 0;
	}
	/* The last one: finish once the controller is down (shutdown waits for it). */
	nctrlr->last_bdev = nbdev;
	ctrlr_teardown(nctrlr);
	return 1;
}

static void
nvme_io_done(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_bdev_io *io = cb_arg;
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	uint16_t status = ftgt_le16_to_cpu(cpl->status);
	int sct = (status >> 9) & 0x7, sc = (status >> 1) & 0xff;

	if (nio->bounce != NULL) {
		if (io->type == FTGT_BDEV_IO_TYPE_READ && !ftgt_nvme_cpl_is_error(cpl)) {
			ftgt_iovec_from_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, nio->bounce,
			                    ftgt_bdev_io_get_len_bytes(io));
		}
		free(nio->bounce);
		nio->bounce = NULL;
	}
	if (sct == NVME_SCT_GENERIC && sc == NVME_SC_ABORTED_SQ_DELETION) {
		/* The qpair went away (reset): the core retries it. */
		ftgt_bdev_io_complete(io, nio->ch->failed ? FTGT_BDEV_IO_STATUS_FAILED
		                                          : FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	ftgt_bdev_io_complete_nvme_status(io, ftgt_le32_to_cpu(cpl->cdw0), sct, sc);
}

static void *
io_data_buf(struct ftgt_bdev_io *io, struct nvme_bdev_io *nio, bool copy_in)
{
	uint64_t len = ftgt_bdev_io_get_len_bytes(io);

	if (io->u.bdev.iovcnt == 1 && io->u.bdev.iovs[0].iov_len >= len) {
		return io->u.bdev.iovs[0].iov_base;
	}
	/* lib/nvme takes one flat buffer per command. */
	nio->bounce = malloc(len);
	if (nio->bounce != NULL && copy_in) {
		ftgt_iovec_to_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, nio->bounce, len);
	}
	return nio->bounce;
}

static void
nvme_bdev_submit(struct ftgt_io_channel *chan, struct ftgt_bdev_io *io)
{
	struct nvme_io_channel *ch = ftgt_io_channel_get_ctx(chan);
	struct nvme_bdev *nbdev = io->bdev->ctxt;
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	uint32_t flags = 0;
	void *buf;
	int rc;

	nio->bounce = NULL;
	nio->ch = ch;
	if (io->type == FTGT_BDEV_IO_TYPE_RESET) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
		return;
	}
	if (ch->qpair == NULL) {
		ftgt_bdev_io_complete(io, ch->failed ? FTGT_BDEV_IO_STATUS_FAILED
		                                     : FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		buf = io_data_buf(io, nio, false);
		rc = buf == NULL ? -ENOMEM
		                 : ftgt_nvme_ns_cmd_read(
		                           ch->qpair, nbdev->nsid, buf, io->u.bdev.offset_blocks,
		                           (uint32_t)io->u.bdev.num_blocks, 0, nvme_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		if (io->io_flags & FTGT_BDEV_IO_FLAG_FUA) {
			flags |= NVME_RW_FUA;
		}
		buf = io_data_buf(io, nio, true);
		rc = buf == NULL ? -ENOMEM
		                 : ftgt_nvme_ns_cmd_write(ch->qpair, nbdev->nsid, buf,
		                                          io->u.bdev.offset_blocks,
		                                          (uint32_t)io->u.bdev.num_blocks, flags,
		                                          nvme_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		rc = ftgt_nvme_ns_cmd_flush(ch->qpair, nbdev->nsid, nvme_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		rc = ftgt_nvme_ns_cmd_write_zeroes(ch->qpair, nbdev->nsid, io->u.bdev.offset_blocks,
		                                   (uint32_t)io->u.bdev.num_blocks, 0, nvme_io_done,
		                                   io);
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		nio->range.attributes = 0;
		nio->range.nlb = ftgt_cpu_to_le32((uint32_t)io->u.bdev.num_blocks);
		nio->range.slba = ftgt_cpu_to_le64(io->u.bdev.offset_blocks);
		rc = ftgt_nvme_ns_cmd_dsm(ch->qpair, nbdev->nsid, NVME_DSM_ATTR_DEALLOCATE,
		                          &nio->range, 1, nvme_io_done, io);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (rc == 0) {
		return;
	}
	free(nio->bounce);
	nio->bounce = NULL;
	if (rc == -ENOMEM || rc == -ENXIO) {
		/* Queue full, or the qpair failed (the poller notices): the core retries. */
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
}

static bool
nvme_bdev_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	struct nvme_bdev *nbdev = ctxt;
	uint16_t oncs = nbdev->nctrlr->oncs;

	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_RESET:
		return true;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		return nbdev->bdev.write_cache;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_UNMAP:
		return type == FTGT_BDEV_IO_TYPE_UNMAP ? (oncs & NVME_CTRLR_ONCS_DSM) != 0
		                                       : (oncs & NVME_CTRLR_ONCS_WRITE_ZEROES) != 0;
	default:
		return false;
	}
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
	json_object_set_new(o, "state", json_string(g_state_names[nbdev->nctrlr->state]));
	json_object_set_new(o, "trid", trid_json(&nbdev->nctrlr->opts.trid));
	json_object_set_new(driver_specific, "nvme", o);
}

static void
nvme_bdev_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	struct nvme_bdev *nbdev = bdev->ctxt;
	struct nvme_bdev_ctrlr *nctrlr = nbdev->nctrlr;
	const struct bdev_nvme_attach_opts *o = &nctrlr->opts;
	uint32_t i;
	json_t *params;

	/* One attach per controller: written with its first live namespace. */
	for (i = 0; i < nctrlr->num_bdevs; i++) {
		if (nctrlr->bdevs[i] != NULL) {
			break;
		}
	}
	if (i == nctrlr->num_bdevs || nctrlr->bdevs[i] != nbdev) {
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
	json_object_set_new(params, "fabrics_connect_timeout_us",
	                    json_integer((json_int_t)o->connect_timeout_ms * 1000));
	json_array_append_new(config, json_pack("{s:s, s:o}", "method",
	                                        "bdev_nvme_attach_controller", "params", params));
}

static const struct ftgt_bdev_fn_table g_nvme_fn_table = {
        .destruct = nvme_bdev_destruct,
        .submit_request = nvme_bdev_submit,
        .io_type_supported = nvme_bdev_io_type_supported,
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
		ftgt_nvme_detach(ctrlr);
	}
	TAILQ_REMOVE(&g_ctrlrs, nctrlr, link);
	ctrlr_free(nctrlr);
	cb_fn(cb_arg, rc, NULL, err);
}

static void
attach_connected(struct nvme_bdev_ctrlr *nctrlr, struct connect_job *job)
{
	const struct bdev_nvme_attach_opts *opts = &nctrlr->opts;
	struct ftgt_nvme_ctrlr *ctrlr = job->ctrlr;
	struct nvme_bdev *nbdev;
	char err[1024], cerr[256], bname[FTGT_BDEV_MAX_NAME_LEN + 32];
	uint32_t i, n, nsid, bs;
	json_t *names;
	int rc;

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
	nctrlr->bdevs = calloc(n ? n : 1, sizeof(*nctrlr->bdevs));
	if (names == NULL || nctrlr->bdevs == NULL) {
		json_decref(names);
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
	nctrlr->state = NVME_CTRLR_ENABLED;
	ftgt_io_device_register(nctrlr, chan_create, chan_destroy, sizeof(struct nvme_io_channel),
	                        nctrlr->name);
	nctrlr->io_dev_registered = true;
	rc = 0;
	for (i = 0; i < n; i++) {
		nsid = ftgt_nvme_ctrlr_get_ns_id(ctrlr, i);
		bs = ftgt_nvme_ns_get_block_size(ctrlr, nsid);
		snprintf(bname, sizeof(bname), "%sn%u", opts->name, nsid);
		nbdev = calloc(1, sizeof(*nbdev));
		if (nbdev == NULL || (nbdev->bdev.name = strdup(bname)) == NULL) {
			free(nbdev);
			rc = -ENOMEM;
			break;
		}
		nbdev->nctrlr = nctrlr;
		nbdev->nsid = nsid;
		nbdev->idx = i;
		nbdev->bdev.ctxt = nbdev;
		nbdev->bdev.product_name = "NVMe disk";
		nbdev->bdev.blocklen = bs;
		nbdev->bdev.blockcnt = ftgt_nvme_ns_get_num_blocks(ctrlr, nsid);
		nbdev->bdev.write_cache = (ftgt_nvme_ctrlr_get_data(ctrlr)->vwc & 1) != 0;
		nbdev->bdev.max_rw_size = ftgt_nvme_ctrlr_get_max_xfer_size(ctrlr) / bs;
		nbdev->bdev.max_unmap_blocks = UINT32_MAX;
		nbdev->bdev.max_write_zeroes_blocks = 65536;
		nbdev->bdev.fn_table = &g_nvme_fn_table;
		nbdev->bdev.module = &g_nvme_module;
		rc = ftgt_bdev_register(&nbdev->bdev);
		if (rc != 0) {
			free(nbdev->bdev.name);
			free(nbdev);
			break;
		}
		nctrlr->bdevs[i] = nbdev;
		nctrlr->num_bdevs = i + 1;
		nctrlr->live_bdevs++;
		json_array_append_new(names, json_string(nbdev->bdev.name));
	}
	if (i < n) {
		snprintf(err, sizeof(err),
		         "cannot attach nvme controller '%s': registering namespace %u failed: %s",
		         opts->name, ftgt_nvme_ctrlr_get_ns_id(ctrlr, i), strerror(-rc));
		json_decref(names);
		/* Take down what was made: the last bdev's destruct (or the poller) finishes. */
		nctrlr->attach_cb(nctrlr->attach_cb_arg, rc, NULL, err);
		if (nctrlr->live_bdevs == 0) {
			ctrlr_teardown(nctrlr);
		} else {
			for (i = 0; i < nctrlr->num_bdevs; i++) {
				ftgt_bdev_unregister(&nctrlr->bdevs[i]->bdev, NULL, NULL);
			}
		}
		return;
	}
	FTGT_NOTICELOG("nvme controller %s: attached %s port %s (%s), %u namespace(s)\n",
	               nctrlr->name, opts->trid.traddr, opts->trid.trsvcid, opts->trid.subnqn, n);
	nctrlr->attach_cb(nctrlr->attach_cb_arg, 0, names, NULL);
}

int
bdev_nvme_attach_controller(const struct bdev_nvme_attach_opts *opts, bdev_nvme_attach_cb cb_fn,
                            void *cb_arg, char *err, size_t err_len)
{
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
	if (opts->ctrlr_loss_timeout_sec < -1) {
		snprintf(err, err_len,
		         "invalid parameter 'ctrlr_loss_timeout_sec': %d (use -1, 0 "
		         "or a number of seconds)",
		         opts->ctrlr_loss_timeout_sec);
		return -EINVAL;
	}
	if (opts->ctrlr_loss_timeout_sec != 0 && opts->reconnect_delay_sec == 0) {
		snprintf(err, err_len,
		         "invalid parameter 'reconnect_delay_sec': must be > 0 when "
		         "ctrlr_loss_timeout_sec is not 0");
		return -EINVAL;
	}
	if (opts->ctrlr_loss_timeout_sec > 0 &&
	    opts->reconnect_delay_sec > (uint32_t)opts->ctrlr_loss_timeout_sec) {
		snprintf(err, err_len,
		         "invalid parameter 'reconnect_delay_sec': %u is longer than "
		         "ctrlr_loss_timeout_sec %d",
		         opts->reconnect_delay_sec, opts->ctrlr_loss_timeout_sec);
		return -EINVAL;
	}

	nctrlr = calloc(1, sizeof(*nctrlr));
	if (nctrlr == NULL || (nctrlr->name = strdup(opts->name)) == NULL) {
		free(nctrlr);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	nctrlr->opts = *opts;
	nctrlr->opts.name = nctrlr->name;
	nctrlr->state = NVME_CTRLR_CONNECTING;
	nctrlr->attach_cb = cb_fn;
	nctrlr->attach_cb_arg = cb_arg;
	TAILQ_INIT(&nctrlr->waiting);
	ftgt_nvme_ctrlr_opts_default(&nctrlr->copts);
	if (opts->hostnqn[0] != '\0') {
		snprintf(nctrlr->copts.hostnqn, sizeof(nctrlr->copts.hostnqn), "%s", opts->hostnqn);
	}
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

struct detach_ctx {
	bdev_nvme_detach_cb cb_fn;
	void *cb_arg;
	uint32_t pending;
	int rc;
};

static void
detach_bdev_done(void *cb_arg, int rc)
{
	struct detach_ctx *d = cb_arg;

	if (rc != 0 && d->rc == 0) {
		d->rc = rc;
	}
	if (--d->pending == 0) {
		d->cb_fn(d->cb_arg, d->rc);
		free(d);
	}
}

/* Zero-namespace controllers: wait for the teardown with a poller of our own. */
struct detach_wait {
	struct nvme_bdev_ctrlr *nctrlr;
	struct ftgt_poller *poller;
	struct detach_ctx *d;
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
	detach_bdev_done(w->d, 0);
	free(w);
	return FTGT_POLLER_BUSY;
}

int
bdev_nvme_detach_controller(const char *name, bdev_nvme_detach_cb cb_fn, void *cb_arg, char *err,
                            size_t err_len)
{
	struct nvme_bdev_ctrlr *nctrlr = ctrlr_find(name);
	struct detach_ctx *d;
	struct detach_wait *w;
	uint32_t i;
	int rc;

	if (nctrlr == NULL) {
		snprintf(err, err_len, "nvme controller '%s' does not exist", name);
		return -ENODEV;
	}
	if (nctrlr->state == NVME_CTRLR_DELETING) {
		snprintf(err, err_len, "nvme controller '%s' is being detached", name);
		return -EBUSY;
	}
	if (nctrlr->state == NVME_CTRLR_CONNECTING) {
		snprintf(err, err_len, "nvme controller '%s' is still connecting", name);
		return -EBUSY;
	}
	for (i = 0; i < nctrlr->num_bdevs; i++) {
		if (nctrlr->bdevs[i] != NULL) {
			rc = ftgt_bdev_check_delete(&nctrlr->bdevs[i]->bdev, err, err_len);
			if (rc != 0) {
				return rc;
			}
		}
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	d->cb_fn = cb_fn;
	d->cb_arg = cb_arg;
	if (nctrlr->live_bdevs == 0) {
		w = calloc(1, sizeof(*w));
		if (w == NULL) {
			free(d);
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		w->nctrlr = nctrlr;
		w->d = d;
		w->poller = FTGT_POLLER_REGISTER(detach_wait_poll, w, ADMIN_POLL_PERIOD_US);
		d->pending = 1;
		ctrlr_teardown(nctrlr);
		return 0;
	}
	d->pending = nctrlr->live_bdevs;
	for (i = 0; i < nctrlr->num_bdevs; i++) {
		if (nctrlr->bdevs[i] != NULL) {
			ftgt_bdev_unregister(&nctrlr->bdevs[i]->bdev, detach_bdev_done, d);
		}
	}
	return 0;
}

int
bdev_nvme_get_controllers(const char *name, json_t **out)
{
	struct nvme_bdev_ctrlr *c;
	json_t *arr = json_array(), *o, *ctrlr, *bdevs;
	uint32_t i;

	TAILQ_FOREACH (c, &g_ctrlrs, link) {
		if (name != NULL && strcmp(name, c->name) != 0) {
			continue;
		}
		ctrlr = json_object();
		json_object_set_new(ctrlr, "state", json_string(g_state_names[c->state]));
		json_object_set_new(ctrlr, "trid", trid_json(&c->opts.trid));
		json_object_set_new(
		        ctrlr, "cntlid",
		        json_integer(c->ctrlr ? ftgt_nvme_ctrlr_get_cntlid(c->ctrlr) : 0));
		json_object_set_new(ctrlr, "host", json_pack("{s:s}", "nqn", c->copts.hostnqn));
		bdevs = json_array();
		for (i = 0; i < c->num_bdevs; i++) {
			if (c->bdevs[i] != NULL) {
				json_array_append_new(bdevs, json_string(c->bdevs[i]->bdev.name));
			}
		}
		o = json_object();
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "ctrlrs", json_pack("[o]", ctrlr));
		json_object_set_new(o, "bdevs", bdevs);
		json_object_set_new(o, "reconnects", json_integer((json_int_t)c->reconnects));
		json_object_set_new(o, "ctrlr_loss_timeout_sec",
		                    json_integer(c->opts.ctrlr_loss_timeout_sec));
		json_object_set_new(o, "reconnect_delay_sec",
		                    json_integer(c->opts.reconnect_delay_sec));
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

	/* Every bdev is gone, so only controllers without namespaces can be left. */
	while ((c = TAILQ_FIRST(&g_ctrlrs)) != NULL) {
		if (c->job != NULL) {
			c->job->nctrlr = NULL; /* it detaches what it got when it answers */
		}
		if (c->io_dev_registered) {
			c->io_dev_registered = false;
			ftgt_io_device_unregister(c, NULL);
		}
		ftgt_poller_unregister(&c->poller);
		if (c->ctrlr != NULL) {
			ftgt_nvme_detach(c->ctrlr);
		}
		TAILQ_REMOVE(&g_ctrlrs, c, link);
		ctrlr_free(c);
	}
}

static struct ftgt_bdev_module g_nvme_module = {
        .name = "nvme",
        .module_fini = nvme_module_fini,
        .get_ctx_size = nvme_get_ctx_size,
};
FTGT_BDEV_MODULE_REGISTER(nvme, &g_nvme_module)
