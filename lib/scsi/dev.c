/* SPDX-License-Identifier: BSD-3-Clause */
/* SCSI devices and their LUNs (management path, app thread). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "ftgt/string.h"
#include "ftgt/thread.h"
#include "scsi_internal.h"

FTGT_LOG_REGISTER_COMPONENT(scsi)

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
	free(dev);
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
		/* The owner of the dev (iSCSI target node) removes the LUN; until then
		 * the LUN reports NOT READY. */
		FTGT_WARNLOG("scsi dev %s: LUN %u: bdev %s is going away\n", lun->dev->name,
		             lun->id, lun->bdev_name);
		lun->stopped = true;
		break;
	case FTGT_BDEV_EVENT_RESIZE:
		FTGT_NOTICELOG("scsi dev %s: LUN %u: bdev %s resized to %llu blocks\n",
		               lun->dev->name, lun->id, lun->bdev_name,
		               (unsigned long long)ftgt_bdev_get_num_blocks(bdev));
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
	rc = ftgt_bdev_open_ext(bdev_name, true, lun_event_cb, lun, &lun->desc);
	if (rc != 0) {
		free(lun);
		return rc;
	}
	rc = ftgt_bdev_claim(lun->desc, "scsi");
	if (rc != 0) {
		ftgt_bdev_close(lun->desc);
		free(lun);
		return rc;
	}
	lun->bdev = ftgt_bdev_desc_get_bdev(lun->desc);
	lun->block_size = ftgt_bdev_get_block_size(lun->bdev);
	lun->write_cache = ftgt_bdev_has_write_cache(lun->bdev);
	dev->luns[lun_id] = lun;
	return 0;
}

int
ftgt_scsi_dev_remove_lun(struct ftgt_scsi_dev *dev, uint32_t lun_id)
{
	struct ftgt_scsi_lun *lun;

	if (lun_id >= FTGT_SCSI_DEV_MAX_LUNS || dev->luns[lun_id] == NULL) {
		return -ENOENT;
	}
	lun = dev->luns[lun_id];
	dev->luns[lun_id] = NULL;
	ftgt_bdev_close(lun->desc);
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
	uint32_t i;

	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		struct ftgt_scsi_lun *lun = dev->luns[i];

		if (lun != NULL && lun->reserved &&
		    strcmp(lun->reserve_i_name, initiator->name) == 0) {
			lun->reserved = false;
		}
	}
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
	/* SPC-4 5.13: a LUN reset releases SPC-2 reservations; PRs stay. */
	lun->reserved = false;
	rc = ftgt_bdev_reset(lun->desc, ch, lun_reset_done, ctx);
	if (rc != 0) {
		free(ctx);
	}
	return rc;
}

/* TEMPORARY (being replaced by the lib/scsi owner): no-op bodies so that callers link. */
void
ftgt_scsi_task_abort(struct ftgt_scsi_task *task)
{
	(void)task;
}

void
ftgt_scsi_dev_raise_ua(struct ftgt_scsi_dev *dev, uint32_t lun_id,
                       const struct ftgt_scsi_port *except, uint8_t asc, uint8_t ascq)
{
	(void)dev;
	(void)lun_id;
	(void)except;
	(void)asc;
	(void)ascq;
}

void
ftgt_scsi_dev_luns_changed(struct ftgt_scsi_dev *dev)
{
	(void)dev;
}
