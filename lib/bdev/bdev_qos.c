/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QoS: per-bdev rate limits, enforced by one thread per bdev (the thread of the first
 * channel found when limits are enabled, or the caller's when there is none yet).
 *
 * While a limit is set, every channel sends its rate-limited I/O (read, write, compare,
 * compare-and-write) to the QoS thread by message. The QoS thread keeps one credit per
 * limit, refilled every 1 ms time slice by limit/1000 (debt from a large I/O carries
 * over), admits queued I/O in FIFO order while every credit is positive, and sends each
 * admitted I/O back to its own thread, where it is submitted on its own channel and
 * completes as usual. So QoS is admission control only: module channels stay per thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/util.h"
#include "bdev_internal.h"

struct bdev_qos {
	struct ftgt_bdev *bdev;
	struct ftgt_thread *thread;
	struct ftgt_io_channel *ch_ref; /* keeps the bdev (and module) channel on thread */
	uint64_t limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES];
	int64_t credit[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES];
	uint64_t frac[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES]; /* sub-unit remainder, / 1000 */
	uint64_t last_tsc;
	struct ftgt_poller *poller;
	struct bdev_io_tailq queued;
};

bool
bdev_qos_io_limited(const struct ftgt_bdev_io *io)
{
	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_COMPARE:
	case FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE:
		return true;
	default:
		return false;
	}
}

static int64_t
slice_quota(uint64_t limit)
{
	uint64_t q = limit / (1000000 / BDEV_QOS_SLICE_US);

	return q == 0 ? 1 : (int64_t)q;
}

static void
qos_refill(struct bdev_qos *qos)
{
	uint64_t now = bdev_get_ticks();
	uint64_t slice_ticks = ftgt_get_ticks_hz() / (1000000 / BDEV_QOS_SLICE_US);
	uint64_t slices;
	int t;

	if (slice_ticks == 0) {
		slice_ticks = 1;
	}
	if (now < qos->last_tsc + slice_ticks) {
		return;
	}
	slices = (now - qos->last_tsc) / slice_ticks;
	qos->last_tsc += slices * slice_ticks;
	slices = FTGT_MIN(slices, (uint64_t)1000);
	for (t = 0; t < FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES; t++) {
		uint64_t per_sec = 1000000 / BDEV_QOS_SLICE_US, num, add;

		if (qos->limits[t] == 0) {
			continue;
		}
		/*
		 * limit/1000 per slice; the remainder accumulates so limits below 1000/s
		 * are exact too. A new slice: debt carries over, unused credit does not.
		 */
		num = qos->limits[t] * slices + qos->frac[t];
		add = num / per_sec;
		qos->frac[t] = num % per_sec;
		add = FTGT_MIN(add, (uint64_t)slice_quota(qos->limits[t]));
		qos->credit[t] = FTGT_MIN(qos->credit[t], 0) + (int64_t)add;
	}
}

/* 0: admitted (credit taken); else 1 + the limit that holds it back. */
static int
qos_admit(struct bdev_qos *qos, struct bdev_io_priv *p)
{
	uint64_t bytes = p->io.u.bdev.num_blocks * p->io.bdev->blocklen;
	bool is_read =
	        p->io.type == FTGT_BDEV_IO_TYPE_READ || p->io.type == FTGT_BDEV_IO_TYPE_COMPARE;
	int t;

	for (t = 0; t < FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES; t++) {
		if (qos->limits[t] == 0) {
			continue;
		}
		if (t == FTGT_BDEV_QOS_R_BPS_RATE_LIMIT && !is_read) {
			continue;
		}
		if (t == FTGT_BDEV_QOS_W_BPS_RATE_LIMIT && is_read) {
			continue;
		}
		if (qos->credit[t] <= 0) {
			return 1 + t;
		}
	}
	if (qos->limits[FTGT_BDEV_QOS_RW_IOPS_RATE_LIMIT] != 0) {
		qos->credit[FTGT_BDEV_QOS_RW_IOPS_RATE_LIMIT] -= 1;
	}
	if (qos->limits[FTGT_BDEV_QOS_RW_BPS_RATE_LIMIT] != 0) {
		qos->credit[FTGT_BDEV_QOS_RW_BPS_RATE_LIMIT] -= (int64_t)bytes;
	}
	if (is_read && qos->limits[FTGT_BDEV_QOS_R_BPS_RATE_LIMIT] != 0) {
		qos->credit[FTGT_BDEV_QOS_R_BPS_RATE_LIMIT] -= (int64_t)bytes;
	}
	if (!is_read && qos->limits[FTGT_BDEV_QOS_W_BPS_RATE_LIMIT] != 0) {
		qos->credit[FTGT_BDEV_QOS_W_BPS_RATE_LIMIT] -= (int64_t)bytes;
	}
	return 0;
}

static void
qos_io_back_msg(void *arg)
{
	bdev_io_submit_qos_ready(arg);
}

/* Send p back to its own thread to be carried out. */
static void
qos_release_io(struct bdev_qos *qos, struct bdev_io_priv *p)
{
	p->queue = BDEV_IO_Q_NONE;
	if (p->ch->thread == qos->thread ||
	    ftgt_thread_send_msg(p->ch->thread, qos_io_back_msg, p) != 0) {
		if (p->ch->thread != qos->thread) {
			FTGT_ERRLOG("bdev %s: QoS cannot return an I/O to its thread\n",
			            qos->bdev->name);
		}
		bdev_io_submit_qos_ready(p);
	}
}

/*
 * Admit queued I/O in FIFO order. An I/O held back by a read-only or write-only limit
 * does not hold back I/O of the other direction behind it (none of those could take
 * that limit's credit, so nothing starves); a limit on all I/O stops the scan.
 */
static int
qos_dispatch(struct bdev_qos *qos)
{
	struct bdev_io_priv *p, *next;
	int n = 0, held;

	qos_refill(qos);
	for (p = TAILQ_FIRST(&qos->queued); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);
		held = qos_admit(qos, p);
		if (held == 1 + FTGT_BDEV_QOS_RW_IOPS_RATE_LIMIT ||
		    held == 1 + FTGT_BDEV_QOS_RW_BPS_RATE_LIMIT) {
			break;
		}
		if (held != 0) {
			continue;
		}
		TAILQ_REMOVE(&qos->queued, p, link);
		qos_release_io(qos, p);
		n++;
	}
	return n;
}

static int
qos_poll(void *arg)
{
	return qos_dispatch(arg) > 0 ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
}

static void
qos_enqueue_msg(void *arg)
{
	struct bdev_io_priv *p = arg;
	struct bdev_qos *qos = p->ch->qos_fwd;

	TAILQ_INSERT_TAIL(&qos->queued, p, link);
	qos_dispatch(qos);
}

void
bdev_qos_enqueue(struct bdev_channel *ch, struct bdev_io_priv *p)
{
	struct bdev_qos *qos = ch->qos;

	p->queue = BDEV_IO_Q_QOS;
	if (qos->thread == ch->thread) {
		TAILQ_INSERT_TAIL(&qos->queued, p, link);
		qos_dispatch(qos);
		return;
	}
	ch->qos_fwd = qos;
	if (ftgt_thread_send_msg(qos->thread, qos_enqueue_msg, p) != 0) {
		/* The QoS thread cannot take it now: run it unpaced rather than lose it. */
		p->queue = BDEV_IO_Q_NONE;
		bdev_io_submit_qos_ready(p);
	}
}

void
bdev_qos_channel_attach(struct bdev_channel *ch)
{
	struct ftgt_bdev_internal *in = ch->bdev->internal;

	pthread_mutex_lock(&in->mutex);
	if (in->qos != NULL) {
		ch->qos = in->qos;
		ch->flags |= BDEV_CH_QOS;
	}
	pthread_mutex_unlock(&in->mutex);
}

/* ---- configuration ----------------------------------------------------------------- */

struct qos_op {
	struct ftgt_bdev *bdev;
	struct bdev_qos *qos;
	ftgt_bdev_op_cb cb_fn;
	void *cb_arg;
	void (*done)(void *arg);
	struct ftgt_thread *caller;
	uint64_t limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES];
	int status;
};

static void
qos_op_finish_msg(void *arg)
{
	struct qos_op *op = arg;

	if (op->cb_fn != NULL) {
		op->cb_fn(op->cb_arg, op->status);
	}
	if (op->done != NULL) {
		op->done(op->cb_arg);
	}
	free(op);
}

static void
qos_op_finish(struct qos_op *op)
{
	if (ftgt_thread_send_msg(op->caller, qos_op_finish_msg, op) != 0) {
		qos_op_finish_msg(op);
	}
}

/* On the QoS thread. */
static void
qos_start_here(struct bdev_qos *qos)
{
	qos->thread = ftgt_get_thread();
	qos->ch_ref = ftgt_get_io_channel(qos->bdev->internal);
	qos->last_tsc = bdev_get_ticks();
	qos->poller = ftgt_poller_register(qos_poll, qos, BDEV_QOS_SLICE_US, "bdev_qos");
}

static void
qos_attach_ch(struct ftgt_io_channel_iter *i)
{
	struct qos_op *op = ftgt_io_channel_iter_get_ctx(i);
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));

	if (op->qos->thread == NULL) {
		qos_start_here(op->qos);
	}
	ch->qos = op->qos;
	ch->flags |= BDEV_CH_QOS;
	ftgt_for_each_channel_continue(i, 0);
}

static void
qos_attach_done(struct ftgt_io_channel_iter *i, int status)
{
	struct qos_op *op = ftgt_io_channel_iter_get_ctx(i);

	if (op->qos->thread == NULL) {
		qos_start_here(op->qos);
	}
	qos_op_finish(op);
}

static void
qos_update_msg(void *arg)
{
	struct qos_op *op = arg;
	int t;

	for (t = 0; t < FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES; t++) {
		op->qos->limits[t] = op->limits[t];
		op->qos->credit[t] = op->limits[t] ? slice_quota(op->limits[t]) : 0;
	}
	qos_dispatch(op->qos);
	qos_op_finish(op);
}

/* On the QoS thread: release everything and free. */
static void
qos_stop_msg(void *arg)
{
	struct qos_op *op = arg;
	struct bdev_qos *qos = op->qos;
	struct bdev_io_priv *p;

	ftgt_poller_unregister(&qos->poller);
	while ((p = TAILQ_FIRST(&qos->queued)) != NULL) {
		TAILQ_REMOVE(&qos->queued, p, link);
		qos_release_io(qos, p);
	}
	if (qos->ch_ref != NULL) {
		ftgt_put_io_channel(qos->ch_ref);
	}
	free(qos);
	qos_op_finish(op);
}

static void
qos_detach_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));

	ch->qos = NULL;
	ch->flags &= ~BDEV_CH_QOS;
	ftgt_for_each_channel_continue(i, 0);
}

static void
qos_detach_done(struct ftgt_io_channel_iter *i, int status)
{
	struct qos_op *op = ftgt_io_channel_iter_get_ctx(i);

	if (op->qos->thread == NULL ||
	    ftgt_thread_send_msg(op->qos->thread, qos_stop_msg, op) != 0) {
		qos_stop_msg(op);
	}
}

int
ftgt_bdev_set_qos_rate_limits(struct ftgt_bdev *bdev, const uint64_t *limits, ftgt_bdev_op_cb cb_fn,
                              void *cb_arg)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct qos_op *op;
	bool any = false, enable = false, disable = false;
	int t;

	if (limits == NULL) {
		return -EINVAL;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return -ENOMEM;
	}
	op->bdev = bdev;
	op->cb_fn = cb_fn;
	op->cb_arg = cb_arg;
	op->caller = ftgt_get_thread();

	pthread_mutex_lock(&in->mutex);
	for (t = 0; t < FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES; t++) {
		if (limits[t] != FTGT_BDEV_QOS_LIMIT_NOT_DEFINED) {
			in->qos_limits[t] = limits[t];
		}
		op->limits[t] = in->qos_limits[t];
		any |= in->qos_limits[t] != 0;
	}
	if (any && in->qos == NULL) {
		op->qos = calloc(1, sizeof(*op->qos));
		if (op->qos == NULL) {
			pthread_mutex_unlock(&in->mutex);
			free(op);
			return -ENOMEM;
		}
		op->qos->bdev = bdev;
		TAILQ_INIT(&op->qos->queued);
		for (t = 0; t < FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES; t++) {
			op->qos->limits[t] = op->limits[t];
			op->qos->credit[t] = op->limits[t] ? slice_quota(op->limits[t]) : 0;
		}
		in->qos = op->qos;
		enable = true;
	} else if (!any && in->qos != NULL) {
		op->qos = in->qos;
		in->qos = NULL;
		disable = true;
	} else {
		op->qos = in->qos;
	}
	pthread_mutex_unlock(&in->mutex);

	if (enable) {
		ftgt_for_each_channel(in, qos_attach_ch, op, qos_attach_done);
	} else if (disable) {
		ftgt_for_each_channel(in, qos_detach_ch, op, qos_detach_done);
	} else if (op->qos != NULL) {
		if (ftgt_thread_send_msg(op->qos->thread, qos_update_msg, op) != 0) {
			free(op);
			return -ENOMEM;
		}
	} else {
		qos_op_finish(op);
	}
	return 0;
}

void
ftgt_bdev_get_qos_rate_limits(struct ftgt_bdev *bdev, uint64_t *limits)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	int t;

	pthread_mutex_lock(&in->mutex);
	for (t = 0; t < FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES; t++) {
		limits[t] = in->qos_limits[t];
	}
	pthread_mutex_unlock(&in->mutex);
}

void
bdev_qos_unregister(struct ftgt_bdev *bdev, void (*done)(void *arg), void *arg)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct qos_op *op;
	struct bdev_qos *qos;

	pthread_mutex_lock(&in->mutex);
	qos = in->qos;
	in->qos = NULL;
	pthread_mutex_unlock(&in->mutex);
	if (qos == NULL) {
		done(arg);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		FTGT_ERRLOG("bdev %s: out of memory stopping QoS\n", bdev->name);
		done(arg);
		return;
	}
	op->bdev = bdev;
	op->qos = qos;
	op->done = done;
	op->cb_arg = arg;
	op->caller = ftgt_get_thread();
	ftgt_for_each_channel(in, qos_detach_ch, op, qos_detach_done);
}
