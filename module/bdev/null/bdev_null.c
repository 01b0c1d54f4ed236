/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Null bdev: no storage. Writes complete at once, reads fill the buffer with zeroes
 * (and separate metadata too). Each disk is its own io device.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/bdev_module.h"
#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"
#include "bdev_null.h"

struct null_disk {
	struct ftgt_bdev disk;
};

struct null_channel {
	uint64_t unused;
};

static struct ftgt_bdev_module g_null_module;

static int
null_destruct(void *ctxt)
{
	struct null_disk *d = ctxt;

	ftgt_io_device_unregister(d, NULL);
	free(d->disk.name);
	free(d);
	return 0;
}

static void
null_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct iovec *iov;
	int i;

	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		iov = io->u.bdev.iovs;
		for (i = 0; i < io->u.bdev.iovcnt; i++) {
			memset(iov[i].iov_base, 0, iov[i].iov_len);
		}
		if (io->u.bdev.md_buf != NULL) {
			memset(io->u.bdev.md_buf, 0, io->u.bdev.num_blocks * io->bdev->md_len);
		}
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_RESET:
		break;
	default:
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	}
	ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
}

static bool
null_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_RESET:
		return true;
	default:
		return false;
	}
}

static struct ftgt_io_channel *
null_get_io_channel(void *ctxt)
{
	return ftgt_get_io_channel(ctxt);
}

static void
null_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	char uuid[FTGT_UUID_STRING_LEN];
	json_t *m = json_object(), *p = json_object();

	ftgt_uuid_fmt(uuid, sizeof(uuid), &bdev->uuid);
	json_object_set_new(p, "name", json_string(bdev->name));
	json_object_set_new(p, "num_blocks", json_integer((json_int_t)bdev->blockcnt));
	json_object_set_new(p, "block_size", json_integer(bdev->blocklen));
	json_object_set_new(p, "uuid", json_string(uuid));
	if (bdev->md_len != 0) {
		json_object_set_new(p, "md_size", json_integer(bdev->md_len));
		json_object_set_new(p, "md_interleave", json_boolean(bdev->md_interleave));
	}
	json_object_set_new(m, "method", json_string("bdev_null_create"));
	json_object_set_new(m, "params", p);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_null_fn_table = {
        .destruct = null_destruct,
        .submit_request = null_submit,
        .io_type_supported = null_io_type_supported,
        .get_io_channel = null_get_io_channel,
        .write_config_json = null_write_config_json,
};

static int
null_ch_create(void *dev, void *ctx)
{
	return 0;
}

static void
null_ch_destroy(void *dev, void *ctx)
{
}

int
bdev_null_create(struct ftgt_bdev **bdevp, const struct null_bdev_opts *opts, char *err,
                 size_t err_len)
{
	struct null_disk *d;
	uint32_t blocklen;
	int rc;

	if (opts->name == NULL) {
		snprintf(err, err_len, "missing parameter 'name'");
		return -EINVAL;
	}
	if (opts->block_size == 0) {
		snprintf(err, err_len, "block size must be given: use 512 or 4096");
		return -EINVAL;
	}
	blocklen = ftgt_bdev_blocklen_from_params(opts->block_size, opts->md_size,
	                                          opts->md_interleave);
	rc = ftgt_bdev_check_params(opts->name, blocklen, opts->md_size, opts->md_interleave,
	                            opts->num_blocks, err, err_len);
	if (rc != 0) {
		return rc;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	d->disk.name = strdup(opts->name);
	if (d->disk.name == NULL) {
		free(d);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	d->disk.product_name = "Null disk";
	d->disk.ctxt = d;
	d->disk.uuid = opts->uuid;
	d->disk.blocklen = blocklen;
	d->disk.blockcnt = opts->num_blocks;
	d->disk.md_len = opts->md_size;
	d->disk.md_interleave = opts->md_interleave;
	d->disk.acwu = 64;
	d->disk.fn_table = &g_null_fn_table;
	d->disk.module = &g_null_module;
	ftgt_io_device_register(d, null_ch_create, null_ch_destroy, sizeof(struct null_channel),
	                        d->disk.name);
	rc = ftgt_bdev_register(&d->disk);
	if (rc != 0) {
		snprintf(err, err_len,
		         rc == -EEXIST ? "bdev name '%s' already exists"
		                       : "cannot register bdev '%s'",
		         opts->name);
		ftgt_io_device_unregister(d, NULL);
		free(d->disk.name);
		free(d);
		return rc;
	}
	if (bdevp != NULL) {
		*bdevp = &d->disk;
	}
	return 0;
}

int
bdev_null_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                 size_t err_len)
{
	return ftgt_bdev_unregister_by_name(name, &g_null_module, cb_fn, cb_arg, err, err_len);
}

int
bdev_null_resize(const char *name, uint64_t new_size_mib, char *err, size_t err_len)
{
	struct ftgt_bdev *bdev = ftgt_bdev_get_by_name(name);
	uint64_t blocks;
	int rc;

	if (bdev == NULL) {
		snprintf(err, err_len, "bdev '%s' does not exist", name);
		return -ENODEV;
	}
	if (bdev->module != &g_null_module) {
		snprintf(err, err_len, "bdev '%s' is a %s bdev, not a null bdev", name,
		         bdev->module->name);
		return -EINVAL;
	}
	if (new_size_mib == 0 || new_size_mib > UINT64_MAX / (1024 * 1024)) {
		snprintf(err, err_len, "new_size must be between 1 and %" PRIu64 " MiB",
		         UINT64_MAX / (1024 * 1024));
		return -EINVAL;
	}
	blocks = new_size_mib * 1024 * 1024 / bdev->blocklen;
	if (blocks == 0) {
		snprintf(err, err_len, "new_size is smaller than one block");
		return -EINVAL;
	}
	rc = ftgt_bdev_notify_blockcnt_change(bdev, blocks);
	if (rc == -EBUSY) {
		snprintf(err, err_len, "bdev '%s' is in use: it cannot shrink", name);
	} else if (rc != 0) {
		snprintf(err, err_len, "cannot resize bdev '%s': %s", name, strerror(-rc));
	}
	return rc;
}

static struct ftgt_bdev_module g_null_module = {
        .name = "null",
};
FTGT_BDEV_MODULE_REGISTER(null, &g_null_module)
