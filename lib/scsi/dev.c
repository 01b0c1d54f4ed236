/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SCSI devices and their LUNs (management path, app thread), the I_T nexuses known to a
 * dev and their pending unit attentions (SAM-5 5.14), task abort.
 *
 * The dev learns a nexus from the first task that carries it (lock-free lookup, insertion
 * under dev->lock) and forgets it in ftgt_scsi_dev_nexus_lost(). Unit attentions are
 * queued per (LUN, nexus) under the LUN's lock; lun->attn tells the I/O path whether it
 * has to look at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "ftgt/string.h"
#include "ftgt/thread.h"
#include "scsi_internal.h"

FTGT_LOG_REGISTER_COMPONENT(scsi)

/* ---- nexus table and unit attentions ------------------------------------------------ */

static int
nexus_find(struct ftgt_scsi_dev *dev, uint64_t i_id, uint64_t t_id)
{
	uint32_t hwm = atomic_load_explicit(&dev->nexus_hwm, memory_order_acquire), i;

	for (i = 0; i < hwm; i++) {
		struct scsi_nexus *n = &dev->nexus[i];

		/* Pairs with the release store of `used` in scsi_nexus_get(). */
		if (atomic_load_explicit(&n->used, memory_order_acquire) &&
		    atomic_load_explicit(&n->i_id, memory_order_relaxed) == i_id &&
		    atomic_load_explicit(&n->t_id, memory_order_relaxed) == t_id) {
			return (int)i;
		}
	}
	return -1;
}

int
scsi_nexus_get(struct ftgt_scsi_dev *dev, const struct ftgt_scsi_port *ip,
               const struct ftgt_scsi_port *tp)
{
	uint64_t t_id = tp != NULL ? tp->id : 0;
	struct scsi_nexus *n;
	int idx, i;

	if (dev == NULL || ip == NULL) {
		return -1;
	}
	idx = nexus_find(dev, ip->id, t_id);
	if (idx >= 0) {
		return idx;
	}
	/* First command of this nexus (rare path). */
	pthread_mutex_lock(&dev->lock);
	idx = nexus_find(dev, ip->id, t_id);
	if (idx >= 0) {
		goto out;
	}
	for (i = 0; i < SCSI_MAX_NEXUS; i++) {
		if (!atomic_load_explicit(&dev->nexus[i].used, memory_order_relaxed)) {
			break;
		}
	}
	if (i == SCSI_MAX_NEXUS) {
		if (!dev->nexus_full_logged) {
			dev->nexus_full_logged = true;
			FTGT_WARNLOG("scsi dev %s: more than %d I_T nexuses; %s gets no unit "
			             "attentions\n",
			             dev->name, SCSI_MAX_NEXUS, ip->name);
		}
		goto out;
	}
	/* The slot's UA queues were emptied when it was freed (nexus_lost) and nobody
	 * queues for a slot whose `used` is false. */
	n = &dev->nexus[i];
	atomic_store_explicit(&n->i_id, ip->id, memory_order_relaxed);
	atomic_store_explicit(&n->t_id, t_id, memory_order_relaxed);
	ftgt_strlcpy(n->i_name, ip->name, sizeof(n->i_name));
	ftgt_strlcpy(n->t_name, tp != NULL ? tp->name : "", sizeof(n->t_name));
	/* Pairs with the acquire loads in nexus_find() and the UA walkers. */
	atomic_store_explicit(&n->used, true, memory_order_release);
	if ((uint32_t)i >= atomic_load_explicit(&dev->nexus_hwm, memory_order_relaxed)) {
		atomic_store_explicit(&dev->nexus_hwm, (uint32_t)i + 1, memory_order_release);
	}
	idx = i;
	FTGT_DEBUGLOG(scsi, "dev %s: nexus %d is %s / %s\n", dev->name, idx, n->i_name, n->t_name);
out:
	pthread_mutex_unlock(&dev->lock);
	return idx;
}

void
scsi_lun_update_attn(struct ftgt_scsi_lun *lun)
{
	uint32_t attn = lun->ua_total + (lun->reserved ? 1u : 0u) + (lun->pr_held ? 1u : 0u);

	/* Pairs with the acquire load in ftgt_scsi_task_execute(). */
	atomic_store_explicit(&lun->attn, attn, memory_order_release);
}

void
scsi_ua_add(struct ftgt_scsi_lun *lun, int idx, uint8_t asc, uint8_t ascq)
{
	struct scsi_ua_queue *q = &lun->ua[idx];
	uint16_t ua = (uint16_t)((asc << 8) | ascq);
	uint8_t i;

	for (i = 0; i < q->count; i++) {
		if (q->ua[i] == ua) {
			return;
		}
	}
	if (q->count == SCSI_UA_QUEUE_LEN) {
		q->ua[SCSI_UA_QUEUE_LEN - 1] = ua;
		return;
	}
	q->ua[q->count++] = ua;
	lun->ua_total++;
	scsi_lun_update_attn(lun);
}

static bool
nexus_used(const struct ftgt_scsi_dev *dev, int i)
{
	/* Pairs with the release store in scsi_nexus_get(): names and ids are complete. */
	return atomic_load_explicit(&dev->nexus[i].used, memory_order_acquire);
}

void
scsi_ua_raise(struct ftgt_scsi_lun *lun, int except_idx, const struct ftgt_scsi_port *except_port,
              uint8_t asc, uint8_t ascq)
{
	struct ftgt_scsi_dev *dev = lun->dev;
	uint32_t hwm = atomic_load_explicit(&dev->nexus_hwm, memory_order_acquire);
	int i;

	for (i = 0; i < (int)hwm; i++) {
		if (i == except_idx || !nexus_used(dev, i)) {
			continue;
		}
		if (except_port != NULL &&
		    atomic_load_explicit(&dev->nexus[i].i_id, memory_order_relaxed) ==
		            except_port->id) {
			continue;
		}
		scsi_ua_add(lun, i, asc, ascq);
	}
}

void
scsi_ua_raise_names(struct ftgt_scsi_lun *lun, const char *i_name, const char *t_name,
                    int except_idx, uint8_t asc, uint8_t ascq)
{
	struct ftgt_scsi_dev *dev = lun->dev;
	uint32_t hwm = atomic_load_explicit(&dev->nexus_hwm, memory_order_acquire);
	int i;

	for (i = 0; i < (int)hwm; i++) {
		if (i == except_idx || !nexus_used(dev, i)) {
			continue;
		}
		if (strcmp(dev->nexus[i].i_name, i_name) == 0 &&
		    strcmp(dev->nexus[i].t_name, t_name) == 0) {
			scsi_ua_add(lun, i, asc, ascq);
		}
	}
}

bool
scsi_ua_take(struct ftgt_scsi_lun *lun, int idx, uint8_t *asc, uint8_t *ascq)
{
	struct scsi_ua_queue *q;

	if (idx < 0 || lun->ua[idx].count == 0) {
		return false;
	}
	q = &lun->ua[idx];
	*asc = (uint8_t)(q->ua[0] >> 8);
	*ascq = (uint8_t)q->ua[0];
	q->count--;
	memmove(&q->ua[0], &q->ua[1], q->count * sizeof(q->ua[0]));
	lun->ua_total--;
	scsi_lun_update_attn(lun);
	return true;
}

void
scsi_ua_clear(struct ftgt_scsi_lun *lun, int idx, uint8_t asc, uint8_t ascq)
{
	struct scsi_ua_queue *q = &lun->ua[idx];
	uint16_t ua = (uint16_t)((asc << 8) | ascq);
	uint8_t i, n = 0;

	for (i = 0; i < q->count; i++) {
		if (q->ua[i] != ua) {
			q->ua[n++] = q->ua[i];
		}
	}
	lun->ua_total -= (uint32_t)(q->count - n);
	q->count = n;
	scsi_lun_update_attn(lun);
}

/* ---- devices and LUNs ---------------------------------------------------------------- */

struct ftgt_scsi_dev *
ftgt_scsi_dev_create(const char *name)
{
	struct ftgt_scsi_dev *dev;

	if (name == NULL || strlen(name) > FTGT_SCSI_DEV_MAX_NAME) {
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL) {
		return NULL;
	}
	ftgt_strlcpy(dev->name, name, sizeof(dev->name));
	if (pthread_mutex_init(&dev->lock, NULL) != 0) {
		free(dev);
		return NULL;
	}
	return dev;
}

void
ftgt_scsi_dev_destroy(struct ftgt_scsi_dev *dev)
{
	uint32_t i;

	if (dev == NULL) {
		return;
	}
	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		if (dev->luns[i] != NULL) {
			ftgt_scsi_dev_remove_lun(dev, i);
		}
	}
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

void
ftgt_scsi_dev_set_lun_removed_cb(struct ftgt_scsi_dev *dev, ftgt_scsi_lun_removed_cb cb_fn,
                                 void *cb_arg)
{
	dev->lun_removed_cb = cb_fn;
	dev->lun_removed_arg = cb_arg;
}

const char *
ftgt_scsi_dev_get_name(const struct ftgt_scsi_dev *dev)
{
	return dev->name;
}

static void
lun_event_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	struct ftgt_scsi_lun *lun = ctx;

	switch (type) {
	case FTGT_BDEV_EVENT_REMOVE:
		/* The owner of the dev (iSCSI target node) drains and removes the LUN
		 * when told; until then the LUN reports NOT READY. */
		FTGT_WARNLOG("scsi dev %s: LUN %u: bdev %s is going away\n", lun->dev->name,
		             lun->id, lun->bdev_name);
		atomic_store_explicit(&lun->stopped, true, memory_order_relaxed);
		if (lun->dev->lun_removed_cb != NULL) {
			lun->dev->lun_removed_cb(lun->dev, lun->id, lun->dev->lun_removed_arg);
		}
		break;
	case FTGT_BDEV_EVENT_RESIZE:
		FTGT_NOTICELOG("scsi dev %s: LUN %u: bdev %s resized to %llu blocks\n",
		               lun->dev->name, lun->id, lun->bdev_name,
		               (unsigned long long)ftgt_bdev_get_num_blocks(bdev));
		/* SBC-3 4.6: every nexus re-reads the capacity. */
		pthread_mutex_lock(&lun->lock);
		scsi_ua_raise(lun, -1, NULL, SCSI_ASC_PARAMETERS_CHANGED,
		              SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
		pthread_mutex_unlock(&lun->lock);
		break;
	}
}

int
ftgt_scsi_dev_add_lun(struct ftgt_scsi_dev *dev, uint32_t lun_id, const char *bdev_name)
{
	struct ftgt_scsi_lun *lun;
	int rc;

	if (lun_id >= FTGT_SCSI_DEV_MAX_LUNS || bdev_name == NULL ||
	    strlen(bdev_name) > FTGT_BDEV_MAX_NAME_LEN) {
		return -EINVAL;
	}
	if (dev->luns[lun_id] != NULL) {
		return -EEXIST;
	}
	lun = calloc(1, sizeof(*lun));
	if (lun == NULL) {
		return -ENOMEM;
	}
	lun->dev = dev;
	lun->id = lun_id;
	lun->pr_holder = -1;
	ftgt_strlcpy(lun->bdev_name, bdev_name, sizeof(lun->bdev_name));
	if (pthread_mutex_init(&lun->lock, NULL) != 0) {
		free(lun);
		return -ENOMEM;
	}
	rc = ftgt_bdev_open_ext(bdev_name, true, lun_event_cb, lun, &lun->desc);
	if (rc != 0) {
		goto err_lock;
	}
	rc = ftgt_bdev_claim(lun->desc, "scsi");
	if (rc != 0) {
		goto err_close;
	}
	lun->bdev = ftgt_bdev_desc_get_bdev(lun->desc);
	lun->block_size = ftgt_bdev_get_block_size(lun->bdev);
	atomic_init(&lun->write_cache, ftgt_bdev_has_write_cache(lun->bdev));
	pthread_mutex_lock(&dev->lock);
	dev->luns[lun_id] = lun;
	pthread_mutex_unlock(&dev->lock);
	return 0;
err_close:
	ftgt_bdev_close(lun->desc);
err_lock:
	pthread_mutex_destroy(&lun->lock);
	free(lun);
	return rc;
}

int
ftgt_scsi_dev_remove_lun(struct ftgt_scsi_dev *dev, uint32_t lun_id)
{
	struct ftgt_scsi_lun *lun;

	if (lun_id >= FTGT_SCSI_DEV_MAX_LUNS || dev->luns[lun_id] == NULL) {
		return -ENOENT;
	}
	pthread_mutex_lock(&dev->lock);
	lun = dev->luns[lun_id];
	dev->luns[lun_id] = NULL;
	pthread_mutex_unlock(&dev->lock);
	ftgt_bdev_close(lun->desc);
	pthread_mutex_destroy(&lun->lock);
	free(lun);
	return 0;
}

struct ftgt_scsi_lun *
ftgt_scsi_dev_get_lun(struct ftgt_scsi_dev *dev, uint32_t lun_id)
{
	if (lun_id >= FTGT_SCSI_DEV_MAX_LUNS) {
		return NULL;
	}
	return dev->luns[lun_id];
}

uint32_t
ftgt_scsi_lun_get_id(const struct ftgt_scsi_lun *lun)
{
	return lun->id;
}

const char *
ftgt_scsi_lun_get_bdev_name(const struct ftgt_scsi_lun *lun)
{
	return lun->bdev_name;
}

struct ftgt_io_channel *
ftgt_scsi_lun_get_io_channel(struct ftgt_scsi_lun *lun)
{
	return ftgt_bdev_get_io_channel(lun->desc);
}

void
ftgt_scsi_dev_nexus_lost(struct ftgt_scsi_dev *dev, const struct ftgt_scsi_port *initiator)
{
	bool lost[SCSI_MAX_NEXUS] = {false};
	uint32_t i, hwm;
	int n;

	pthread_mutex_lock(&dev->lock);
	/* Unpublish first: from here on nobody queues for these slots; the LUN locks
	 * below then wait for any walker that saw them used. */
	hwm = atomic_load_explicit(&dev->nexus_hwm, memory_order_relaxed);
	for (n = 0; n < (int)hwm; n++) {
		if (atomic_load_explicit(&dev->nexus[n].used, memory_order_relaxed) &&
		    atomic_load_explicit(&dev->nexus[n].i_id, memory_order_relaxed) ==
		            initiator->id) {
			lost[n] = true;
			atomic_store_explicit(&dev->nexus[n].used, false, memory_order_release);
		}
	}
	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		struct ftgt_scsi_lun *lun = dev->luns[i];

		if (lun == NULL) {
			continue;
		}
		pthread_mutex_lock(&lun->lock);
		if (lun->reserved && strcmp(lun->reserve_i_name, initiator->name) == 0 &&
		    lun->reserve_i_id == initiator->id) {
			lun->reserved = false;
		}
		for (n = 0; n < (int)hwm; n++) {
			if (lost[n]) {
				lun->ua_total -= lun->ua[n].count;
				lun->ua[n].count = 0;
			}
		}
		scsi_lun_update_attn(lun);
		pthread_mutex_unlock(&lun->lock);
	}
	pthread_mutex_unlock(&dev->lock);
}

struct lun_reset_ctx {
	struct ftgt_scsi_lun *lun;
	void (*cb_fn)(void *cb_arg, int rc);
	void *cb_arg;
};

static void
lun_reset_done(struct ftgt_bdev_io *io, bool success, void *cb_arg)
{
	struct lun_reset_ctx *ctx = cb_arg;

	ftgt_bdev_free_io(io);
	ctx->cb_fn(ctx->cb_arg, success ? 0 : -EIO);
	free(ctx);
}

int
ftgt_scsi_lun_reset(struct ftgt_scsi_lun *lun, struct ftgt_io_channel *ch,
                    const struct ftgt_scsi_port *initiator, void (*cb_fn)(void *cb_arg, int rc),
                    void *cb_arg)
{
	struct lun_reset_ctx *ctx;
	int rc;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return -ENOMEM;
	}
	ctx->lun = lun;
	ctx->cb_fn = cb_fn;
	ctx->cb_arg = cb_arg;
	/* SPC-4 5.13: a LUN reset releases SPC-2 reservations; PRs stay. SAM-5 5.14:
	 * every other nexus learns of the reset by a unit attention. */
	pthread_mutex_lock(&lun->lock);
	lun->reserved = false;
	scsi_ua_raise(lun, -1, initiator, SCSI_ASC_POWER_ON_RESET,
	              SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	scsi_lun_update_attn(lun);
	pthread_mutex_unlock(&lun->lock);
	rc = ftgt_bdev_reset(lun->desc, ch, lun_reset_done, ctx);
	if (rc != 0) {
		free(ctx);
	}
	return rc;
}

static void
task_abort_done(struct ftgt_bdev_io *io, bool success, void *cb_arg)
{
	(void)success;
	(void)cb_arg;
	/* The task's own I/O completions decide its status (see sbc.c). */
	ftgt_bdev_free_io(io);
}

void
ftgt_scsi_task_abort(struct ftgt_scsi_task *task)
{
	int rc;

	if (task->lun == NULL || task->ch == NULL || task->abort_requested) {
		return;
	}
	task->abort_requested = true;
	/* Every bdev I/O of a task is submitted with the task as cb_arg, so one call
	 * aborts all the pieces of a split command. -ENOENT: nothing in the bdev layer
	 * (the task completed or completes with its own status); -ENOMEM: best effort,
	 * the I/O completes on its own. */
	rc = ftgt_bdev_abort(task->lun->desc, task->ch, task, task_abort_done, NULL);
	if (rc != 0 && rc != -ENOENT) {
		FTGT_DEBUGLOG(scsi, "dev %s: LUN %u: abort: %d\n", task->lun->dev->name,
		              task->lun->id, rc);
	}
}

void
ftgt_scsi_dev_raise_ua(struct ftgt_scsi_dev *dev, uint32_t lun_id,
                       const struct ftgt_scsi_port *except, uint8_t asc, uint8_t ascq)
{
	uint32_t i;

	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		struct ftgt_scsi_lun *lun = dev->luns[i];

		if (lun == NULL || (lun_id != FTGT_SCSI_ALL_LUNS && lun_id != i)) {
			continue;
		}
		pthread_mutex_lock(&lun->lock);
		scsi_ua_raise(lun, -1, except, asc, ascq);
		pthread_mutex_unlock(&lun->lock);
	}
	pthread_mutex_unlock(&dev->lock);
}

void
ftgt_scsi_dev_luns_changed(struct ftgt_scsi_dev *dev)
{
	ftgt_scsi_dev_raise_ua(dev, FTGT_SCSI_ALL_LUNS, NULL, SCSI_ASC_REPORTED_LUNS_DATA_CHANGED,
	                       SCSI_ASCQ_REPORTED_LUNS_DATA_CHANGED);
}
