/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stacked bdevs: a base bdev opened and claimed once (struct ftgt_bdev_base) and the
 * parts registered on it (struct ftgt_bdev_part), shared by delay, error and split.
 * See include/ftgt/bdev_module.h for the contract.
 *
 * Management (open, register, destruct, hot remove) runs on the app thread; the base
 * descriptor belongs to the thread that opened it (normally the same), so its REMOVE
 * event and its close run there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/bdev_module.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"

struct ftgt_bdev_base {
	struct ftgt_bdev_desc *desc;
	struct ftgt_thread *thread; /* owns desc */
	const struct ftgt_bdev_base_opts *opts;
	TAILQ_HEAD(, ftgt_bdev_part) parts; /* registered parts: the base's references */
	struct ftgt_bdev_part *last;        /* the part whose destruct ends with the base */
	bool removing;
	ftgt_bdev_unregister_cb gone_cb; /* ftgt_bdev_base_delete's, once the base is closed */
	void *gone_arg;
	TAILQ_ENTRY(ftgt_bdev_base) link;
};

/* The channel of every part on a base: the base's channel, then the module's context. */
struct part_channel {
	struct ftgt_io_channel *base_ch;
	uint8_t module_ctx[] __attribute__((aligned(16)));
};

static TAILQ_HEAD(, ftgt_bdev_base) g_bases = TAILQ_HEAD_INITIALIZER(g_bases);

static struct ftgt_bdev *
base_bdev(const struct ftgt_bdev_base *base)
{
	return ftgt_bdev_desc_get_bdev(base->desc);
}

const char *
ftgt_bdev_part_get_base_name(const struct ftgt_bdev_part *part)
{
	return ftgt_bdev_get_name(base_bdev(part->base));
}

struct ftgt_bdev_base *
ftgt_bdev_base_find(const char *base_name, const struct ftgt_bdev_module *module)
{
	struct ftgt_bdev_base *base;

	TAILQ_FOREACH (base, &g_bases, link) {
		if (base->opts->module == module &&
		    strcmp(ftgt_bdev_get_name(base_bdev(base)), base_name) == 0) {
			return base;
		}
	}
	return NULL;
}

/* ---- channels ----------------------------------------------------------------------- */

static int
part_ch_create(void *dev, void *ctx)
{
	struct ftgt_bdev_base *base = dev;
	struct part_channel *pch = ctx;

	pch->base_ch = ftgt_bdev_get_io_channel(base->desc);
	if (pch->base_ch == NULL) {
		return -ENOMEM;
	}
	if (base->opts->ch_create_cb != NULL && base->opts->ch_create_cb(pch->module_ctx) != 0) {
		ftgt_put_io_channel(pch->base_ch);
		return -ENOMEM;
	}
	return 0;
}

static void
part_ch_destroy(void *dev, void *ctx)
{
	struct ftgt_bdev_base *base = dev;
	struct part_channel *pch = ctx;

	if (base->opts->ch_destroy_cb != NULL) {
		base->opts->ch_destroy_cb(pch->module_ctx);
	}
	ftgt_put_io_channel(pch->base_ch);
}

struct ftgt_io_channel *
ftgt_bdev_part_get_io_channel(void *ctxt)
{
	struct ftgt_bdev_part *part = ctxt;

	return ftgt_get_io_channel(part->base);
}

struct ftgt_io_channel *
ftgt_bdev_part_get_base_channel(struct ftgt_io_channel *ch)
{
	return ((struct part_channel *)ftgt_io_channel_get_ctx(ch))->base_ch;
}

void *
ftgt_bdev_part_get_channel_ctx(struct ftgt_io_channel *ch)
{
	return ((struct part_channel *)ftgt_io_channel_get_ctx(ch))->module_ctx;
}

/* ---- open, hot remove, release ------------------------------------------------------ */

static void
base_event(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	struct ftgt_bdev_base *base = ctx;
	struct ftgt_bdev_part *part;

	if (type != FTGT_BDEV_EVENT_REMOVE || base->removing) {
		return;
	}
	base->removing = true;
	/* Destructs run later (after the channel walks), so the list holds still here. */
	TAILQ_FOREACH (part, &base->parts, link) {
		FTGT_NOTICELOG("base bdev '%s' is going away: removing '%s'\n", bdev->name,
		               part->bdev.name);
		if (base->opts->remove_cb != NULL) {
			base->opts->remove_cb(part);
		} else {
			ftgt_bdev_unregister(&part->bdev, NULL, NULL);
		}
	}
}

int
ftgt_bdev_base_open(const char *base_name, const struct ftgt_bdev_base_opts *opts,
                    struct ftgt_bdev_base **basep, char *err, size_t err_len)
{
	struct ftgt_bdev_base *base;
	struct ftgt_bdev *bdev;
	const char *owner;
	int rc;

	base = calloc(1, sizeof(*base));
	if (base == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	TAILQ_INIT(&base->parts);
	base->opts = opts;
	base->thread = ftgt_get_thread();
	rc = ftgt_bdev_open_ext(base_name, true, base_event, base, &base->desc);
	if (rc == 0) {
		bdev = ftgt_bdev_desc_get_bdev(base->desc);
		rc = ftgt_bdev_module_claim_bdev(bdev, base->desc, opts->module);
		if (rc != 0) {
			ftgt_bdev_close(base->desc);
		}
	}
	if (rc != 0) {
		bdev = ftgt_bdev_get_by_name(base_name);
		owner = bdev != NULL ? ftgt_bdev_get_claim_owner(bdev) : NULL;
		if (rc == -ENODEV) {
			snprintf(err, err_len, "base bdev '%s' does not exist", base_name);
		} else if (rc == -EPERM && owner != NULL) {
			snprintf(err, err_len, "bdev '%s' is claimed by module '%s'", base_name,
			         owner);
			rc = -EBUSY;
		} else {
			snprintf(err, err_len, "cannot open base bdev '%s': %s", base_name,
			         strerror(-rc));
		}
		free(base);
		return rc;
	}
	ftgt_io_device_register(base, part_ch_create, part_ch_destroy,
	                        sizeof(struct part_channel) + opts->ch_ctx_size, base_name);
	TAILQ_INSERT_TAIL(&g_bases, base, link);
	*basep = base;
	return 0;
}

static void
base_unregister_parts(struct ftgt_bdev_base *base)
{
	struct ftgt_bdev_part *part;

	base->removing = true;
	TAILQ_FOREACH (part, &base->parts, link) {
		ftgt_bdev_unregister(&part->bdev, NULL, NULL);
	}
}

void
ftgt_bdev_base_release(struct ftgt_bdev_base *base)
{
	if (!TAILQ_EMPTY(&base->parts)) {
		base_unregister_parts(base);
		return;
	}
	TAILQ_REMOVE(&g_bases, base, link);
	ftgt_io_device_unregister(base, NULL);
	ftgt_bdev_close(base->desc);
	free(base);
}

int
ftgt_bdev_base_delete(struct ftgt_bdev_base *base, ftgt_bdev_unregister_cb cb_fn, void *cb_arg,
                      char *err, size_t err_len)
{
	struct ftgt_bdev_part *part;

	if (base->removing) {
		snprintf(err, err_len, "the bdevs on '%s' are being removed",
		         ftgt_bdev_get_name(base_bdev(base)));
		return -EBUSY;
	}
	TAILQ_FOREACH (part, &base->parts, link) {
		if (ftgt_bdev_check_delete(&part->bdev, err, err_len) != 0) {
			return -EBUSY;
		}
	}
	base->gone_cb = cb_fn;
	base->gone_arg = cb_arg;
	base_unregister_parts(base);
	return 0;
}

/* ---- parts -------------------------------------------------------------------------- */

int
ftgt_bdev_part_register(struct ftgt_bdev_part *part, struct ftgt_bdev_base *base, const char *name,
                        uint64_t offset_blocks, uint64_t num_blocks, char *err, size_t err_len)
{
	const struct ftgt_bdev *b = base_bdev(base);
	struct ftgt_bdev *d = &part->bdev;
	int rc;

	d->name = strdup(name);
	if (d->name == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	part->base = base;
	part->offset_blocks = offset_blocks;
	d->ctxt = part;
	d->blocklen = b->blocklen;
	d->blockcnt = num_blocks != 0 ? num_blocks : b->blockcnt - offset_blocks;
	d->md_len = b->md_len;
	d->md_interleave = b->md_interleave;
	d->write_cache = b->write_cache;
	d->optimal_io_boundary = b->optimal_io_boundary;
	d->split_on_optimal_io_boundary = b->split_on_optimal_io_boundary;
	d->max_rw_size = b->max_rw_size;
	d->max_unmap_blocks = b->max_unmap_blocks;
	d->max_write_zeroes_blocks = b->max_write_zeroes_blocks;
	d->required_alignment = b->required_alignment;
	d->acwu = b->acwu;
	d->module = base->opts->module;
	rc = ftgt_bdev_register(d);
	if (rc != 0) {
		snprintf(err, err_len,
		         rc == -EEXIST ? "bdev name '%s' already exists"
		                       : "cannot register bdev '%s'",
		         name);
		free(d->name);
		d->name = NULL;
		return rc;
	}
	TAILQ_INSERT_TAIL(&base->parts, part, link);
	return 0;
}

int
ftgt_bdev_part_create(struct ftgt_bdev_part *part, const char *base_name,
                      const struct ftgt_bdev_base_opts *opts, const char *name, char *err,
                      size_t err_len)
{
	struct ftgt_bdev_base *base;
	int rc;

	rc = ftgt_bdev_base_open(base_name, opts, &base, err, err_len);
	if (rc == 0) {
		rc = ftgt_bdev_part_register(part, base, name, 0, 0, err, err_len);
		if (rc != 0) {
			ftgt_bdev_base_release(base);
		}
	}
	if (rc != 0) {
		free(part);
	}
	return rc;
}

static void
part_free(struct ftgt_bdev_part *part)
{
	free(part->bdev.name);
	free(part);
}

static void
base_close_msg(void *arg)
{
	struct ftgt_bdev_base *base = arg;

	ftgt_bdev_close(base->desc);
	ftgt_bdev_destruct_done(&base->last->bdev, 0);
	part_free(base->last);
	if (base->gone_cb != NULL) {
		base->gone_cb(base->gone_arg, 0);
	}
	free(base);
}

static void
base_io_device_gone(void *dev)
{
	struct ftgt_bdev_base *base = dev;

	if (ftgt_get_thread() == base->thread ||
	    ftgt_thread_send_msg(base->thread, base_close_msg, base) != 0) {
		base_close_msg(base);
	}
}

int
ftgt_bdev_part_destruct(void *ctxt)
{
	struct ftgt_bdev_part *part = ctxt;
	struct ftgt_bdev_base *base = part->base;

	TAILQ_REMOVE(&base->parts, part, link);
	if (!TAILQ_EMPTY(&base->parts)) {
		part_free(part);
		return 0;
	}
	/* The last part: it finishes once the base's channels are gone and desc closed. */
	TAILQ_REMOVE(&g_bases, base, link);
	base->last = part;
	ftgt_io_device_unregister(base, base_io_device_gone);
	return 1;
}

/* ---- I/O ---------------------------------------------------------------------------- */

bool
ftgt_bdev_part_io_type_supported(struct ftgt_bdev_part *part, enum ftgt_bdev_io_type type)
{
	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
		return true;
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_RESET:
		return ftgt_bdev_io_type_supported(base_bdev(part->base), type);
	default:
		return false;
	}
}

void
ftgt_bdev_part_io_done(struct ftgt_bdev_io *base_io, bool success, void *io)
{
	if (ftgt_likely(success)) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
	} else {
		ftgt_bdev_io_complete_from(io, base_io);
	}
	ftgt_bdev_free_io(base_io);
}

static void
part_abort_done(struct ftgt_bdev_io *base_io, bool success, void *io)
{
	ftgt_bdev_free_io(base_io);
	ftgt_bdev_io_complete(io,
	                      success ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_FAILED);
}

int
ftgt_bdev_part_submit(struct ftgt_bdev_io *io, struct iovec *iovs, int iovcnt,
                      ftgt_bdev_io_completion_cb cb_fn)
{
	struct ftgt_bdev_part *part = io->bdev->ctxt;
	struct ftgt_bdev_desc *desc = part->base->desc;
	struct ftgt_io_channel *ch =
	        ftgt_bdev_part_get_base_channel(ftgt_bdev_io_get_io_channel(io));
	struct ftgt_bdev_ext_io_opts opts = {.size = sizeof(opts), .io_flags = io->io_flags};
	uint64_t off, n;
	int rc;

	if (io->type == FTGT_BDEV_IO_TYPE_ABORT) {
		/* The base I/O's cb_arg is the I/O it carries out for the part. */
		rc = ftgt_bdev_abort(desc, ch, io->u.abort.bio_to_abort, part_abort_done, io);
		if (rc != 0) {
			ftgt_bdev_io_complete(io, rc == -ENOMEM ? FTGT_BDEV_IO_STATUS_NOMEM
			                                        : FTGT_BDEV_IO_STATUS_FAILED);
		}
		return rc;
	}
	if (iovs == NULL) {
		iovs = io->u.bdev.iovs;
		iovcnt = io->u.bdev.iovcnt;
	}
	if (cb_fn == NULL) {
		cb_fn = ftgt_bdev_part_io_done;
	}
	opts.md_buf = io->u.bdev.md_buf;
	off = io->u.bdev.offset_blocks + part->offset_blocks;
	n = io->u.bdev.num_blocks;
	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		rc = ftgt_bdev_readv_blocks_ext(desc, ch, iovs, iovcnt, off, n, cb_fn, io, &opts);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		rc = ftgt_bdev_writev_blocks_ext(desc, ch, iovs, iovcnt, off, n, cb_fn, io, &opts);
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		rc = ftgt_bdev_unmap_blocks(desc, ch, off, n, cb_fn, io);
		break;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		rc = ftgt_bdev_flush_blocks(desc, ch, off, n, cb_fn, io);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		rc = ftgt_bdev_write_zeroes_blocks(desc, ch, off, n, cb_fn, io);
		break;
	case FTGT_BDEV_IO_TYPE_RESET:
		/* Resetting the base affects every part of it, as in SPDK. */
		rc = ftgt_bdev_reset(desc, ch, cb_fn, io);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (ftgt_unlikely(rc != 0)) {
		if (rc == -ENOMEM) {
			ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		} else {
			ftgt_bdev_io_complete_aio_status(io, rc == -EAGAIN ? -EIO : rc);
		}
	}
	return rc;
}
