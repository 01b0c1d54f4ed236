/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error bdev: "EE_<base>" on top of a base bdev it claims. Every I/O is passed through
 * unless an injection for its type has a count left; then it is failed, held, corrupted
 * or answered with NOMEM instead (one count used per I/O).
 *
 * The injection table is shared by every channel: the app thread writes it (RPC), the
 * I/O threads read it and take counts with atomic compare-and-swap, so each count is
 * used by exactly one I/O. Held ("pending") I/O sits in its channel's list until an
 * ABORT names it, the injection is cleared, or the base goes away.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/bdev_module.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"
#include "bdev_error.h"

FTGT_LOG_REGISTER_COMPONENT(bdev_error)

struct error_inject {
	uint32_t type; /* enum error_inject_type; written before num (release) */
	uint32_t num;  /* injections left; taken with CAS */
	uint64_t corrupt_offset;
	uint8_t corrupt_value;
};

struct error_disk {
	struct ftgt_bdev disk;
	char *base_name;
	struct ftgt_bdev *base;
	struct ftgt_bdev_desc *desc;
	struct ftgt_thread *thread; /* owns desc */
	bool removing;
	struct error_inject inject[FTGT_BDEV_NUM_IO_TYPES];
	TAILQ_ENTRY(error_disk) link;
};

struct error_io {
	TAILQ_ENTRY(error_io) link;
	void *bounce; /* corrupted copy of a write's data */
	struct iovec bounce_iov;
	uint64_t corrupt_offset;
	uint8_t corrupt_value;
	bool corrupt_read;
};

struct error_channel {
	struct ftgt_io_channel *base_ch;
	TAILQ_HEAD(, error_io) pending;
};

static struct ftgt_bdev_module g_error_module;
static TAILQ_HEAD(, error_disk) g_error_disks = TAILQ_HEAD_INITIALIZER(g_error_disks);

int
bdev_error_inject_type_parse(const char *str, enum error_inject_type *type)
{
	static const char *const names[] = {
	        [ERROR_INJECT_NONE] = "clear",      [ERROR_INJECT_FAILURE] = "failure",
	        [ERROR_INJECT_PENDING] = "pending", [ERROR_INJECT_CORRUPT] = "corrupt_data",
	        [ERROR_INJECT_NOMEM] = "nomem",
	};
	size_t i;

	for (i = 0; str != NULL && i < FTGT_COUNTOF(names); i++) {
		if (strcmp(str, names[i]) == 0) {
			*type = (enum error_inject_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

int
bdev_error_io_type_parse(const char *str, uint32_t *type_mask, bool *clear)
{
	uint32_t all = 0;
	int t;

	for (t = FTGT_BDEV_IO_TYPE_READ; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		if (t != FTGT_BDEV_IO_TYPE_ABORT) {
			all |= 1u << t;
		}
	}
	*clear = false;
	if (str == NULL) {
		return -EINVAL;
	}
	if (strcmp(str, "all") == 0 || strcmp(str, "clear") == 0) {
		*type_mask = all;
		*clear = strcmp(str, "clear") == 0;
		return 0;
	}
	for (t = FTGT_BDEV_IO_TYPE_READ; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		if (t != FTGT_BDEV_IO_TYPE_ABORT &&
		    strcmp(str, ftgt_bdev_io_type_name((enum ftgt_bdev_io_type)t)) == 0) {
			*type_mask = 1u << t;
			return 0;
		}
	}
	return -EINVAL;
}

static struct error_disk *
error_disk_find(const char *name)
{
	struct error_disk *ed;

	TAILQ_FOREACH (ed, &g_error_disks, link) {
		if (strcmp(ed->disk.name, name) == 0) {
			return ed;
		}
	}
	return NULL;
}

/* Take one injection for `type`: its kind, or ERROR_INJECT_NONE when none is left. */
static enum error_inject_type
error_take(struct error_disk *ed, enum ftgt_bdev_io_type type, struct error_io *eio)
{
	struct error_inject *in = &ed->inject[type];
	uint32_t n = __atomic_load_n(&in->num, __ATOMIC_ACQUIRE);

	while (n != 0) {
		/* Acquire pairs with the release store of num in bdev_error_inject. */
		if (__atomic_compare_exchange_n(&in->num, &n, n - 1, false, __ATOMIC_ACQUIRE,
		                                __ATOMIC_ACQUIRE)) {
			eio->corrupt_offset = in->corrupt_offset;
			eio->corrupt_value = in->corrupt_value;
			return (enum error_inject_type)__atomic_load_n(&in->type, __ATOMIC_RELAXED);
		}
	}
	return ERROR_INJECT_NONE;
}

/* ---- I/O ---------------------------------------------------------------------------- */

static void
error_xor_iov(struct iovec *iovs, int iovcnt, uint64_t offset, uint8_t value)
{
	int i;

	for (i = 0; i < iovcnt; i++) {
		if (offset < iovs[i].iov_len) {
			((uint8_t *)iovs[i].iov_base)[offset] ^= value;
			return;
		}
		offset -= iovs[i].iov_len;
	}
}

static void
error_base_io_done(struct ftgt_bdev_io *base_io, bool success, void *arg)
{
	struct ftgt_bdev_io *io = arg;
	struct error_io *eio = ftgt_bdev_io_get_driver_ctx(io);

	free(eio->bounce);
	eio->bounce = NULL;
	if (ftgt_likely(success)) {
		if (ftgt_unlikely(eio->corrupt_read)) {
			error_xor_iov(io->u.bdev.iovs, io->u.bdev.iovcnt, eio->corrupt_offset,
			              eio->corrupt_value);
		}
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
	} else {
		ftgt_bdev_io_complete_from(io, base_io);
	}
	ftgt_bdev_free_io(base_io);
}

static void
error_abort_done(struct ftgt_bdev_io *base_io, bool success, void *arg)
{
	ftgt_bdev_free_io(base_io);
	ftgt_bdev_io_complete(arg,
	                      success ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_FAILED);
}

static void
error_abort(struct error_disk *ed, struct error_channel *ech, struct ftgt_bdev_io *io)
{
	struct ftgt_bdev_io *victim = io->u.abort.bio_to_abort;
	struct error_io *eio;
	int rc;

	TAILQ_FOREACH (eio, &ech->pending, link) {
		if (ftgt_bdev_io_from_driver_ctx(eio) == victim) {
			TAILQ_REMOVE(&ech->pending, eio, link);
			ftgt_bdev_io_complete(victim, FTGT_BDEV_IO_STATUS_ABORTED);
			ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
			return;
		}
	}
	/* At the base: the base I/O's cb_arg is the victim. */
	rc = ftgt_bdev_abort(ed->desc, ech->base_ch, victim, error_abort_done, io);
	if (rc == -ENOMEM) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
	} else if (rc != 0) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
	}
}

static void
error_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct error_disk *ed = io->bdev->ctxt;
	struct error_channel *ech = ftgt_io_channel_get_ctx(ch);
	struct error_io *eio = ftgt_bdev_io_get_driver_ctx(io);
	struct ftgt_bdev_ext_io_opts opts = {
	        .size = sizeof(opts), .io_flags = io->io_flags, .md_buf = io->u.bdev.md_buf};
	struct iovec *iovs = io->u.bdev.iovs;
	int iovcnt = io->u.bdev.iovcnt;
	uint64_t off = io->u.bdev.offset_blocks, n = io->u.bdev.num_blocks, len;
	int rc;

	eio->bounce = NULL;
	eio->corrupt_read = false;
	if (io->type == FTGT_BDEV_IO_TYPE_ABORT) {
		error_abort(ed, ech, io);
		return;
	}
	switch (error_take(ed, io->type, eio)) {
	case ERROR_INJECT_FAILURE:
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	case ERROR_INJECT_PENDING:
		TAILQ_INSERT_TAIL(&ech->pending, eio, link);
		return;
	case ERROR_INJECT_NOMEM:
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	case ERROR_INJECT_CORRUPT:
		if (io->type == FTGT_BDEV_IO_TYPE_READ) {
			eio->corrupt_read = true;
		} else if (io->type == FTGT_BDEV_IO_TYPE_WRITE) {
			/* Corrupt a copy: the caller's buffer stays as it gave it. */
			len = ftgt_bdev_io_get_len_bytes(io);
			eio->bounce = aligned_alloc(4096, FTGT_ALIGN_UP(len, 4096));
			if (eio->bounce == NULL) {
				ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
				return;
			}
			ftgt_iovec_to_buf(iovs, iovcnt, eio->bounce, len);
			eio->bounce_iov.iov_base = eio->bounce;
			eio->bounce_iov.iov_len = len;
			iovs = &eio->bounce_iov;
			iovcnt = 1;
			error_xor_iov(iovs, 1, eio->corrupt_offset, eio->corrupt_value);
		}
		break;
	default:
		break;
	}

	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		rc = ftgt_bdev_readv_blocks_ext(ed->desc, ech->base_ch, iovs, iovcnt, off, n,
		                                error_base_io_done, io, &opts);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		rc = ftgt_bdev_writev_blocks_ext(ed->desc, ech->base_ch, iovs, iovcnt, off, n,
		                                 error_base_io_done, io, &opts);
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		rc = ftgt_bdev_unmap_blocks(ed->desc, ech->base_ch, off, n, error_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		rc = ftgt_bdev_flush_blocks(ed->desc, ech->base_ch, off, n, error_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		rc = ftgt_bdev_write_zeroes_blocks(ed->desc, ech->base_ch, off, n,
		                                   error_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_RESET:
		rc = ftgt_bdev_reset(ed->desc, ech->base_ch, error_base_io_done, io);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (ftgt_unlikely(rc != 0)) {
		free(eio->bounce);
		eio->bounce = NULL;
		if (rc == -ENOMEM) {
			ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		} else {
			ftgt_bdev_io_complete_aio_status(io, rc == -EAGAIN ? -EIO : rc);
		}
	}
}

static bool
error_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	struct error_disk *ed = ctxt;

	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_ABORT:
		return true;
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_RESET:
		return ftgt_bdev_io_type_supported(ed->base, type);
	default:
		return false;
	}
}

static struct ftgt_io_channel *
error_get_io_channel(void *ctxt)
{
	return ftgt_get_io_channel(ctxt);
}

static int
error_ch_create(void *dev, void *ctx)
{
	struct error_disk *ed = dev;
	struct error_channel *ech = ctx;

	TAILQ_INIT(&ech->pending);
	ech->base_ch = ftgt_bdev_get_io_channel(ed->desc);
	return ech->base_ch == NULL ? -ENOMEM : 0;
}

static void
error_ch_destroy(void *dev, void *ctx)
{
	struct error_channel *ech = ctx;

	ftgt_put_io_channel(ech->base_ch);
}

/* Complete every held I/O of every channel with ABORTED. */
static void
error_release_ch(struct ftgt_io_channel_iter *i)
{
	struct error_channel *ech = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	struct error_io *eio;

	while ((eio = TAILQ_FIRST(&ech->pending)) != NULL) {
		TAILQ_REMOVE(&ech->pending, eio, link);
		ftgt_bdev_io_complete(ftgt_bdev_io_from_driver_ctx(eio),
		                      FTGT_BDEV_IO_STATUS_ABORTED);
	}
	ftgt_for_each_channel_continue(i, 0);
}

static void
error_release_done(struct ftgt_io_channel_iter *i, int status)
{
	struct error_disk *ed = ftgt_io_channel_iter_get_ctx(i);

	if (ed != NULL) {
		ftgt_bdev_unregister(&ed->disk, NULL, NULL);
	}
}

static void
error_release_pending(struct error_disk *ed, bool then_unregister)
{
	ftgt_for_each_channel(ed, error_release_ch, then_unregister ? ed : NULL,
	                      error_release_done);
}

/* ---- teardown ----------------------------------------------------------------------- */

static void
error_close_msg(void *arg)
{
	struct error_disk *ed = arg;

	ftgt_bdev_close(ed->desc);
	ftgt_bdev_destruct_done(&ed->disk, 0);
	free(ed->base_name);
	free(ed->disk.name);
	free(ed);
}

static void
error_io_device_gone(void *dev)
{
	struct error_disk *ed = dev;

	if (ftgt_get_thread() == ed->thread ||
	    ftgt_thread_send_msg(ed->thread, error_close_msg, ed) != 0) {
		error_close_msg(ed);
	}
}

static int
error_destruct(void *ctxt)
{
	struct error_disk *ed = ctxt;

	TAILQ_REMOVE(&g_error_disks, ed, link);
	ftgt_io_device_unregister(ed, error_io_device_gone);
	return 1;
}

static void
error_base_event(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	struct error_disk *ed = ctx;

	if (type != FTGT_BDEV_EVENT_REMOVE || ed->removing) {
		return;
	}
	ed->removing = true;
	FTGT_NOTICELOG("base bdev '%s' is going away: removing '%s'\n", ed->base_name,
	               ed->disk.name);
	error_release_pending(ed, true);
}

static void
error_dump_info_json(void *ctxt, json_t *ds)
{
	struct error_disk *ed = ctxt;
	json_t *o = json_object();

	json_object_set_new(o, "base_bdev", json_string(ed->base_name));
	json_object_set_new(ds, "error", o);
}

static void
error_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	struct error_disk *ed = bdev->ctxt;
	char uuid[FTGT_UUID_STRING_LEN];
	json_t *m = json_object(), *p = json_object();

	/* Injections are test state and are not saved (as in SPDK). */
	ftgt_uuid_fmt(uuid, sizeof(uuid), &bdev->uuid);
	json_object_set_new(p, "base_name", json_string(ed->base_name));
	json_object_set_new(p, "uuid", json_string(uuid));
	json_object_set_new(m, "method", json_string("bdev_error_create"));
	json_object_set_new(m, "params", p);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_error_fn_table = {
        .destruct = error_destruct,
        .submit_request = error_submit,
        .io_type_supported = error_io_type_supported,
        .get_io_channel = error_get_io_channel,
        .dump_info_json = error_dump_info_json,
        .write_config_json = error_write_config_json,
};

/* ---- create, delete, inject --------------------------------------------------------- */

int
bdev_error_create(const char *base_name, const struct ftgt_uuid *uuid, struct ftgt_bdev **bdevp,
                  char *err, size_t err_len)
{
	struct ftgt_bdev *base;
	struct error_disk *ed;
	const char *owner;
	char name[FTGT_BDEV_MAX_NAME_LEN + 8];
	int rc;

	if (base_name == NULL || base_name[0] == '\0') {
		snprintf(err, err_len, "base_name must be given");
		return -EINVAL;
	}
	base = ftgt_bdev_get_by_name(base_name);
	if (base == NULL) {
		snprintf(err, err_len, "base bdev '%s' does not exist", base_name);
		return -ENODEV;
	}
	snprintf(name, sizeof(name), "EE_%s", base_name);
	if (strlen(name) > FTGT_BDEV_MAX_NAME_LEN) {
		snprintf(err, err_len, "name 'EE_%.40s...' is too long", base_name);
		return -EINVAL;
	}
	if (ftgt_bdev_get_by_name(name) != NULL) {
		snprintf(err, err_len, "bdev name '%s' already exists", name);
		return -EEXIST;
	}
	ed = calloc(1, sizeof(*ed));
	if (ed == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ed->base_name = strdup(base_name);
	ed->disk.name = strdup(name);
	if (ed->base_name == NULL || ed->disk.name == NULL) {
		snprintf(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto err_free;
	}
	ed->thread = ftgt_get_thread();
	rc = ftgt_bdev_open_ext(base_name, true, error_base_event, ed, &ed->desc);
	if (rc != 0) {
		owner = ftgt_bdev_get_claim_owner(base);
		if (rc == -EPERM && owner != NULL) {
			snprintf(err, err_len, "bdev '%s' is claimed by module '%s'", base_name,
			         owner);
			rc = -EBUSY;
		} else {
			snprintf(err, err_len, "cannot open base bdev '%s': %s", base_name,
			         strerror(-rc));
		}
		goto err_free;
	}
	ed->base = ftgt_bdev_desc_get_bdev(ed->desc);
	if (ftgt_bdev_module_claim_bdev(ed->base, ed->desc, &g_error_module) != 0) {
		owner = ftgt_bdev_get_claim_owner(ed->base);
		snprintf(err, err_len, "bdev '%s' is claimed by module '%s'", base_name,
		         owner != NULL ? owner : "?");
		rc = -EBUSY;
		goto err_close;
	}
	ed->disk.ctxt = ed;
	ed->disk.product_name = "Error Injection Disk";
	if (uuid != NULL) {
		ed->disk.uuid = *uuid;
	}
	ed->disk.blocklen = ed->base->blocklen;
	ed->disk.blockcnt = ed->base->blockcnt;
	ed->disk.md_len = ed->base->md_len;
	ed->disk.md_interleave = ed->base->md_interleave;
	ed->disk.write_cache = ed->base->write_cache;
	ed->disk.optimal_io_boundary = ed->base->optimal_io_boundary;
	ed->disk.split_on_optimal_io_boundary = ed->base->split_on_optimal_io_boundary;
	ed->disk.max_rw_size = ed->base->max_rw_size;
	ed->disk.max_unmap_blocks = ed->base->max_unmap_blocks;
	ed->disk.max_write_zeroes_blocks = ed->base->max_write_zeroes_blocks;
	ed->disk.required_alignment = ed->base->required_alignment;
	ed->disk.acwu = ed->base->acwu;
	ed->disk.fn_table = &g_error_fn_table;
	ed->disk.module = &g_error_module;
	ftgt_io_device_register(ed, error_ch_create, error_ch_destroy, sizeof(struct error_channel),
	                        name);
	rc = ftgt_bdev_register(&ed->disk);
	if (rc != 0) {
		snprintf(err, err_len, "cannot register bdev '%s': %s", name, strerror(-rc));
		ftgt_io_device_unregister(ed, NULL);
		goto err_close;
	}
	TAILQ_INSERT_TAIL(&g_error_disks, ed, link);
	if (bdevp != NULL) {
		*bdevp = &ed->disk;
	}
	return 0;
err_close:
	ftgt_bdev_close(ed->desc);
err_free:
	free(ed->base_name);
	free(ed->disk.name);
	free(ed);
	return rc;
}

int
bdev_error_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                  size_t err_len)
{
	return ftgt_bdev_unregister_by_name(name, &g_error_module, cb_fn, cb_arg, err, err_len);
}

int
bdev_error_inject(const char *name, uint32_t type_mask, enum error_inject_type type, uint32_t num,
                  uint64_t corrupt_offset, uint8_t corrupt_value, char *err, size_t err_len)
{
	struct error_disk *ed = name != NULL ? error_disk_find(name) : NULL;
	struct error_inject *in;
	int t;

	if (ed == NULL) {
		snprintf(err, err_len, "error bdev '%s' does not exist", name ? name : "");
		return -ENODEV;
	}
	if (type == ERROR_INJECT_CORRUPT && corrupt_value == 0) {
		snprintf(err, err_len, "corrupt_value must be non-zero for corrupt_data");
		return -EINVAL;
	}
	if (type != ERROR_INJECT_NONE && num == 0) {
		snprintf(err, err_len, "num must be at least 1");
		return -EINVAL;
	}
	for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		if ((type_mask & (1u << t)) == 0) {
			continue;
		}
		in = &ed->inject[t];
		/* Stop first, then rewrite, then publish the count (release). */
		__atomic_store_n(&in->num, 0, __ATOMIC_RELEASE);
		in->corrupt_offset = corrupt_offset;
		in->corrupt_value = corrupt_value;
		__atomic_store_n(&in->type, (uint32_t)type, __ATOMIC_RELAXED);
		__atomic_store_n(&in->num, type == ERROR_INJECT_NONE ? 0 : num, __ATOMIC_RELEASE);
	}
	if (type == ERROR_INJECT_NONE) {
		error_release_pending(ed, false);
	}
	return 0;
}

static int
error_get_ctx_size(void)
{
	return sizeof(struct error_io);
}

static struct ftgt_bdev_module g_error_module = {
        .name = "error",
        .get_ctx_size = error_get_ctx_size,
};
FTGT_BDEV_MODULE_REGISTER(error, &g_error_module)
