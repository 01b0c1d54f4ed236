/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stats: counters and latency histograms live in each channel, written only by the
 * channel's thread (no atomics). A query walks the channels with ftgt_for_each_channel,
 * adding each one on its own thread, and adds what channels already gone left behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/util.h"
#include "bdev_internal.h"

void
bdev_stat_init(struct ftgt_bdev_io_stat *stat)
{
	int t;

	memset(stat, 0, sizeof(*stat));
	for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		stat->type[t].min_latency_ticks = UINT64_MAX;
	}
}

void
bdev_stat_add(struct ftgt_bdev_io_stat *dst, const struct ftgt_bdev_io_stat *src)
{
	int t;

	for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		dst->type[t].ops += src->type[t].ops;
		dst->type[t].bytes += src->type[t].bytes;
		dst->type[t].errors += src->type[t].errors;
		dst->type[t].latency_ticks += src->type[t].latency_ticks;
		dst->type[t].min_latency_ticks =
		        FTGT_MIN(dst->type[t].min_latency_ticks, src->type[t].min_latency_ticks);
		dst->type[t].max_latency_ticks =
		        FTGT_MAX(dst->type[t].max_latency_ticks, src->type[t].max_latency_ticks);
	}
	dst->nomem_retries += src->nomem_retries;
}

struct ftgt_histogram *
bdev_hist_alloc(void)
{
	struct ftgt_histogram *h = malloc(sizeof(*h) * FTGT_BDEV_NUM_IO_TYPES);
	int t;

	if (h == NULL) {
		return NULL;
	}
	for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		ftgt_histogram_init(&h[t]);
	}
	return h;
}

struct stat_op {
	struct ftgt_bdev *bdev;
	struct ftgt_bdev_io_stat *stat;
	struct ftgt_histogram *hist;
	ftgt_bdev_op_cb cb_fn;
	void *cb_arg;
	bool enable;
	int status;
};

static struct stat_op *
stat_op_new(struct ftgt_bdev *bdev, ftgt_bdev_op_cb cb_fn, void *cb_arg)
{
	struct stat_op *op = calloc(1, sizeof(*op));

	if (op != NULL) {
		op->bdev = bdev;
		op->cb_fn = cb_fn;
		op->cb_arg = cb_arg;
	}
	return op;
}

static void
stat_op_done(struct ftgt_io_channel_iter *i, int status)
{
	struct stat_op *op = ftgt_io_channel_iter_get_ctx(i);

	op->cb_fn(op->cb_arg, op->status != 0 ? op->status : status);
	free(op);
}

/* ---- counters ---------------------------------------------------------------------- */

static void
stat_get_ch(struct ftgt_io_channel_iter *i)
{
	struct stat_op *op = ftgt_io_channel_iter_get_ctx(i);
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));

	bdev_stat_add(op->stat, &ch->stat);
	ftgt_for_each_channel_continue(i, 0);
}

int
ftgt_bdev_get_io_stat(struct ftgt_bdev *bdev, struct ftgt_bdev_io_stat *stat, ftgt_bdev_op_cb cb_fn,
                      void *cb_arg)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct stat_op *op;

	if (stat == NULL || cb_fn == NULL) {
		return -EINVAL;
	}
	op = stat_op_new(bdev, cb_fn, cb_arg);
	if (op == NULL) {
		return -ENOMEM;
	}
	op->stat = stat;
	bdev_stat_init(stat);
	pthread_mutex_lock(&in->mutex);
	bdev_stat_add(stat, &in->stat_gone);
	stat->ticks_since_reset = ftgt_get_ticks() - in->stat_reset_tsc;
	pthread_mutex_unlock(&in->mutex);
	stat->ticks_hz = ftgt_get_ticks_hz();
	ftgt_for_each_channel(in, stat_get_ch, op, stat_op_done);
	return 0;
}

static void
stat_reset_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	int t;

	bdev_stat_init(&ch->stat);
	if (ch->hist != NULL) {
		for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
			ftgt_histogram_init(&ch->hist[t]);
		}
	}
	ftgt_for_each_channel_continue(i, 0);
}

int
ftgt_bdev_reset_io_stat(struct ftgt_bdev *bdev, ftgt_bdev_op_cb cb_fn, void *cb_arg)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct stat_op *op = stat_op_new(bdev, cb_fn, cb_arg);
	int t;

	if (op == NULL) {
		return -ENOMEM;
	}
	pthread_mutex_lock(&in->mutex);
	bdev_stat_init(&in->stat_gone);
	in->stat_reset_tsc = ftgt_get_ticks();
	if (in->hist_gone != NULL) {
		for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
			ftgt_histogram_init(&in->hist_gone[t]);
		}
	}
	pthread_mutex_unlock(&in->mutex);
	ftgt_for_each_channel(in, stat_reset_ch, op, stat_op_done);
	return 0;
}

/* ---- histograms -------------------------------------------------------------------- */

static void
hist_enable_ch(struct ftgt_io_channel_iter *i)
{
	struct stat_op *op = ftgt_io_channel_iter_get_ctx(i);
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));

	if (op->enable) {
		if (ch->hist == NULL) {
			ch->hist = bdev_hist_alloc();
			if (ch->hist == NULL) {
				op->status = -ENOMEM;
			}
		}
	} else {
		free(ch->hist);
		ch->hist = NULL;
	}
	ftgt_for_each_channel_continue(i, 0);
}

static void
hist_enable_done(struct ftgt_io_channel_iter *i, int status)
{
	struct stat_op *op = ftgt_io_channel_iter_get_ctx(i);
	struct ftgt_bdev_internal *in = op->bdev->internal;

	if (op->enable && op->status != 0) {
		/* Some channel had no memory: enable none. */
		pthread_mutex_lock(&in->mutex);
		in->histogram_enabled = false;
		free(in->hist_gone);
		in->hist_gone = NULL;
		pthread_mutex_unlock(&in->mutex);
		op->enable = false;
		ftgt_for_each_channel(in, hist_enable_ch, op, stat_op_done);
		return;
	}
	stat_op_done(i, status);
}

int
ftgt_bdev_histogram_enable(struct ftgt_bdev *bdev, bool enable, ftgt_bdev_op_cb cb_fn, void *cb_arg)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct stat_op *op = stat_op_new(bdev, cb_fn, cb_arg);
	struct ftgt_histogram *gone = NULL;

	if (op == NULL) {
		return -ENOMEM;
	}
	op->enable = enable;
	if (enable) {
		gone = bdev_hist_alloc();
		if (gone == NULL) {
			free(op);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&in->mutex);
	in->histogram_enabled = enable;
	if (enable && in->hist_gone == NULL) {
		in->hist_gone = gone;
		gone = NULL;
	} else if (!enable) {
		gone = in->hist_gone;
		in->hist_gone = NULL;
	}
	pthread_mutex_unlock(&in->mutex);
	free(gone);
	ftgt_for_each_channel(in, hist_enable_ch, op, hist_enable_done);
	return 0;
}

bool
ftgt_bdev_histogram_is_enabled(const struct ftgt_bdev *bdev)
{
	return bdev->internal->histogram_enabled;
}

static void
hist_get_ch(struct ftgt_io_channel_iter *i)
{
	struct stat_op *op = ftgt_io_channel_iter_get_ctx(i);
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	int t;

	if (ch->hist != NULL) {
		for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
			ftgt_histogram_merge(&op->hist[t], &ch->hist[t]);
		}
	}
	ftgt_for_each_channel_continue(i, 0);
}

int
ftgt_bdev_histogram_get(struct ftgt_bdev *bdev, struct ftgt_histogram *hist, ftgt_bdev_op_cb cb_fn,
                        void *cb_arg)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct stat_op *op;
	int t;

	if (hist == NULL || cb_fn == NULL) {
		return -EINVAL;
	}
	pthread_mutex_lock(&in->mutex);
	if (!in->histogram_enabled) {
		pthread_mutex_unlock(&in->mutex);
		return -EINVAL;
	}
	op = stat_op_new(bdev, cb_fn, cb_arg);
	if (op == NULL) {
		pthread_mutex_unlock(&in->mutex);
		return -ENOMEM;
	}
	op->hist = hist;
	if (in->hist_gone != NULL) {
		for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
			ftgt_histogram_merge(&hist[t], &in->hist_gone[t]);
		}
	}
	pthread_mutex_unlock(&in->mutex);
	ftgt_for_each_channel(in, hist_get_ch, op, stat_op_done);
	return 0;
}
