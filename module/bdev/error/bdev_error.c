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
	struct ftgt_bdev_part part; /* first: freed by ftgt_bdev_part_destruct */
	struct error_inject inject[FTGT_BDEV_NUM_IO_TYPES];
};
FTGT_STATIC_ASSERT(offsetof(struct error_disk, part) == 0);

struct error_io {
	TAILQ_ENTRY(error_io) link;
	void *bounce; /* corrupted copy of a write's data */
	struct iovec bounce_iov;
	uint64_t corrupt_offset;
	uint8_t corrupt_value;
	bool corrupt_read;
};

struct error_channel {
	TAILQ_HEAD(, error_io) pending;
};

static struct ftgt_bdev_module g_error_module;

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
	struct ftgt_bdev *bdev = ftgt_bdev_get_by_name(name);

	return bdev != NULL && bdev->module == &g_error_module ? bdev->ctxt : NULL;
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
	if (ftgt_unlikely(success && eio->corrupt_read)) {
		error_xor_iov(io->u.bdev.iovs, io->u.bdev.iovcnt, eio->corrupt_offset,
		              eio->corrupt_value);
	}
	ftgt_bdev_part_io_done(base_io, success, io);
}

/* An ABORT of a held I/O; false when the victim is not held (it is at the base). */
static bool
error_abort_pending(struct error_channel *ech, struct ftgt_bdev_io *io)
{
	struct ftgt_bdev_io *victim = io->u.abort.bio_to_abort;
	struct error_io *eio;

	TAILQ_FOREACH (eio, &ech->pending, link) {
		if (ftgt_bdev_io_from_driver_ctx(eio) == victim) {
			TAILQ_REMOVE(&ech->pending, eio, link);
			ftgt_bdev_io_complete(victim, FTGT_BDEV_IO_STATUS_ABORTED);
			ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
			return true;
		}
	}
	return false;
}

static void
error_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct error_disk *ed = io->bdev->ctxt;
	struct error_channel *ech = ftgt_bdev_part_get_channel_ctx(ch);
	struct error_io *eio = ftgt_bdev_io_get_driver_ctx(io);
	struct iovec *iovs = NULL;
	uint64_t len;

	eio->bounce = NULL;
	eio->corrupt_read = false;
	if (io->type == FTGT_BDEV_IO_TYPE_ABORT) {
		if (!error_abort_pending(ech, io)) {
			ftgt_bdev_part_submit(io, NULL, 0, NULL);
		}
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
			ftgt_iovec_to_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, eio->bounce, len);
			eio->bounce_iov.iov_base = eio->bounce;
			eio->bounce_iov.iov_len = len;
			iovs = &eio->bounce_iov;
			error_xor_iov(iovs, 1, eio->corrupt_offset, eio->corrupt_value);
		}
		break;
	default:
		break;
	}

	if (ftgt_bdev_part_submit(io, iovs, 1, error_base_io_done) != 0) {
		/* io was completed (NOMEM is retried later, never inline). */
		free(eio->bounce);
		eio->bounce = NULL;
	}
}

static bool
error_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	return type == FTGT_BDEV_IO_TYPE_ABORT || ftgt_bdev_part_io_type_supported(ctxt, type);
}

static int
error_ch_create(void *ctx)
{
	struct error_channel *ech = ctx;

	TAILQ_INIT(&ech->pending);
	return 0;
}

/* Complete every held I/O of every channel with ABORTED. */
static void
error_release_ch(struct ftgt_io_channel_iter *i)
{
	struct error_channel *ech =
	        ftgt_bdev_part_get_channel_ctx(ftgt_io_channel_iter_get_channel(i));
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
		ftgt_bdev_unregister(&ed->part.bdev, NULL, NULL);
	}
}

static void
error_release_pending(struct error_disk *ed, bool then_unregister)
{
	ftgt_for_each_channel(ed->part.base, error_release_ch, then_unregister ? ed : NULL,
	                      error_release_done);
}

/* The base is going away: held I/O fails (ABORTED), then the error bdev goes. */
static void
error_base_removed(struct ftgt_bdev_part *part)
{
	error_release_pending((struct error_disk *)part, true);
}

static const struct ftgt_bdev_base_opts g_error_base_opts = {
        .module = &g_error_module,
        .ch_ctx_size = sizeof(struct error_channel),
        .ch_create_cb = error_ch_create,
        .remove_cb = error_base_removed,
};

/* ---- info and config --------------------------------------------------------------- */

static void
error_dump_info_json(void *ctxt, json_t *ds)
{
	json_t *o = json_object();

	json_object_set_new(o, "base_bdev", json_string(ftgt_bdev_part_get_base_name(ctxt)));
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
	json_object_set_new(p, "base_name", json_string(ftgt_bdev_part_get_base_name(&ed->part)));
	json_object_set_new(p, "uuid", json_string(uuid));
	json_object_set_new(m, "method", json_string("bdev_error_create"));
	json_object_set_new(m, "params", p);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_error_fn_table = {
        .destruct = ftgt_bdev_part_destruct,
        .submit_request = error_submit,
        .io_type_supported = error_io_type_supported,
        .get_io_channel = ftgt_bdev_part_get_io_channel,
        .dump_info_json = error_dump_info_json,
        .write_config_json = error_write_config_json,
};

/* ---- create, delete, inject --------------------------------------------------------- */

int
bdev_error_create(const char *base_name, const struct ftgt_uuid *uuid, struct ftgt_bdev **bdevp,
                  char *err, size_t err_len)
{
	struct error_disk *ed;
	char name[FTGT_BDEV_MAX_NAME_LEN + 8];
	int rc;

	if (base_name == NULL || base_name[0] == '\0') {
		snprintf(err, err_len, "base_name must be given");
		return -EINVAL;
	}
	if (ftgt_bdev_get_by_name(base_name) == NULL) {
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
	ed->part.bdev.product_name = "Error Injection Disk";
	if (uuid != NULL) {
		ed->part.bdev.uuid = *uuid;
	}
	ed->part.bdev.fn_table = &g_error_fn_table;
	rc = ftgt_bdev_part_create(&ed->part, base_name, &g_error_base_opts, name, err, err_len);
	if (rc == 0 && bdevp != NULL) {
		*bdevp = &ed->part.bdev;
	}
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
