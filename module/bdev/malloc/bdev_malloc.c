/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Malloc bdev: data in one DMA-able buffer (hugepage memory when the env has some),
 * every request done by memcpy inside submit_request. Each disk is its own io device;
 * its channels hold nothing but let the core count per-thread state.
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
#include "bdev_malloc.h"

struct malloc_disk {
	struct ftgt_bdev disk;
	uint8_t *data;
	uint8_t *md; /* separate metadata, or NULL */
	uint64_t data_bytes;
};

struct malloc_channel {
	uint64_t unused;
};

static struct ftgt_bdev_module g_malloc_module;
static uint32_t g_malloc_next_id;

static int
malloc_destruct(void *ctxt)
{
	struct malloc_disk *d = ctxt;

	ftgt_io_device_unregister(d, NULL);
	ftgt_dma_free(d->data);
	ftgt_dma_free(d->md);
	free(d->disk.name);
	free(d);
	return 0;
}

static bool
malloc_compare(struct malloc_disk *d, struct ftgt_bdev_io *io, uint64_t off)
{
	size_t done = 0, n;
	int i;

	for (i = 0; i < io->u.bdev.iovcnt; i++) {
		n = io->u.bdev.iovs[i].iov_len;
		if (memcmp(d->data + off + done, io->u.bdev.iovs[i].iov_base, n) != 0) {
			return false;
		}
		done += n;
	}
	return true;
}

static void
malloc_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct malloc_disk *d = io->bdev->ctxt;
	uint32_t bl = d->disk.blocklen;
	uint64_t off = io->u.bdev.offset_blocks * bl;
	uint64_t len = io->u.bdev.num_blocks * bl;
	struct iovec *iov = io->u.bdev.iovs;
	int i;

	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		if (ftgt_likely(io->u.bdev.iovcnt == 1)) {
			memcpy(iov[0].iov_base, d->data + off, len);
		} else {
			for (i = 0; i < io->u.bdev.iovcnt; i++) {
				memcpy(iov[i].iov_base, d->data + off, iov[i].iov_len);
				off += iov[i].iov_len;
			}
		}
		if (io->u.bdev.md_buf != NULL && d->md != NULL) {
			memcpy(io->u.bdev.md_buf, d->md + io->u.bdev.offset_blocks * d->disk.md_len,
			       io->u.bdev.num_blocks * d->disk.md_len);
		}
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		if (ftgt_likely(io->u.bdev.iovcnt == 1)) {
			memcpy(d->data + off, iov[0].iov_base, len);
		} else {
			for (i = 0; i < io->u.bdev.iovcnt; i++) {
				memcpy(d->data + off, iov[i].iov_base, iov[i].iov_len);
				off += iov[i].iov_len;
			}
		}
		if (io->u.bdev.md_buf != NULL && d->md != NULL) {
			memcpy(d->md + io->u.bdev.offset_blocks * d->disk.md_len, io->u.bdev.md_buf,
			       io->u.bdev.num_blocks * d->disk.md_len);
		}
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		memset(d->data + off, 0, len);
		if (d->md != NULL) {
			memset(d->md + io->u.bdev.offset_blocks * d->disk.md_len, 0,
			       io->u.bdev.num_blocks * d->disk.md_len);
		}
		break;
	case FTGT_BDEV_IO_TYPE_COMPARE:
		ftgt_bdev_io_complete(io, malloc_compare(d, io, off)
		                                  ? FTGT_BDEV_IO_STATUS_SUCCESS
		                                  : FTGT_BDEV_IO_STATUS_MISCOMPARE);
		return;
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
malloc_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_RESET:
	case FTGT_BDEV_IO_TYPE_COMPARE:
		return true;
	default:
		return false;
	}
}

static struct ftgt_io_channel *
malloc_get_io_channel(void *ctxt)
{
	return ftgt_get_io_channel(ctxt);
}

static void
malloc_dump_info_json(void *ctxt, json_t *ds)
{
	struct malloc_disk *d = ctxt;
	json_t *o = json_object();

	json_object_set_new(o, "hugepages", json_boolean(ftgt_env_has_hugepages()));
	json_object_set_new(o, "size_bytes", json_integer((json_int_t)d->data_bytes));
	json_object_set_new(ds, "malloc", o);
}

static void
malloc_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	char uuid[FTGT_UUID_STRING_LEN];
	json_t *m = json_object(), *p = json_object();
	uint32_t bs = bdev->blocklen;

	ftgt_uuid_fmt(uuid, sizeof(uuid), &bdev->uuid);
	json_object_set_new(p, "name", json_string(bdev->name));
	json_object_set_new(p, "num_blocks", json_integer((json_int_t)bdev->blockcnt));
	json_object_set_new(p, "block_size", json_integer(bs));
	json_object_set_new(p, "uuid", json_string(uuid));
	if (bdev->md_len != 0) {
		json_object_set_new(p, "md_size", json_integer(bdev->md_len));
		json_object_set_new(p, "md_interleave", json_boolean(bdev->md_interleave));
	}
	if (bdev->optimal_io_boundary != 0) {
		json_object_set_new(p, "optimal_io_boundary",
		                    json_integer(bdev->optimal_io_boundary));
	}
	json_object_set_new(m, "method", json_string("bdev_malloc_create"));
	json_object_set_new(m, "params", p);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_malloc_fn_table = {
        .destruct = malloc_destruct,
        .submit_request = malloc_submit,
        .io_type_supported = malloc_io_type_supported,
        .get_io_channel = malloc_get_io_channel,
        .dump_info_json = malloc_dump_info_json,
        .write_config_json = malloc_write_config_json,
};

static int
malloc_ch_create(void *dev, void *ctx)
{
	return 0;
}

static void
malloc_ch_destroy(void *dev, void *ctx)
{
}

int
bdev_malloc_create(struct ftgt_bdev **bdevp, const struct malloc_bdev_opts *opts, char *err,
                   size_t err_len)
{
	char namebuf[32];
	const char *name = opts->name;
	struct malloc_disk *d;
	uint32_t blocklen;
	int rc;

	if (name == NULL) {
		do {
			snprintf(namebuf, sizeof(namebuf), "Malloc%" PRIu32, g_malloc_next_id++);
		} while (ftgt_bdev_get_by_name(namebuf) != NULL);
		name = namebuf;
	}
	if (opts->block_size == 0) {
		snprintf(err, err_len, "block size must be given: use 512 or 4096");
		return -EINVAL;
	}
	blocklen = ftgt_bdev_blocklen_from_params(opts->block_size, opts->md_size,
	                                          opts->md_interleave);
	rc = ftgt_bdev_check_params(name, blocklen, opts->md_size, opts->md_interleave,
	                            opts->num_blocks, err, err_len);
	if (rc != 0) {
		return rc;
	}
	if (opts->optimal_io_boundary > opts->num_blocks) {
		snprintf(err, err_len,
		         "optimal_io_boundary %" PRIu32 " is beyond the disk (%" PRIu64 " blocks)",
		         opts->optimal_io_boundary, opts->num_blocks);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	d->data_bytes = opts->num_blocks * blocklen;
	d->data = ftgt_dma_zmalloc(d->data_bytes, 4096);
	if (d->data == NULL) {
		snprintf(err, err_len, "cannot allocate %" PRIu64 " bytes for malloc bdev '%s'",
		         d->data_bytes, name);
		rc = -ENOMEM;
		goto err_free;
	}
	if (opts->md_size != 0 && !opts->md_interleave) {
		d->md = ftgt_dma_zmalloc(opts->num_blocks * opts->md_size, 64);
		if (d->md == NULL) {
			snprintf(err, err_len, "cannot allocate metadata for malloc bdev '%s'",
			         name);
			rc = -ENOMEM;
			goto err_free;
		}
	}
	d->disk.name = strdup(name);
	if (d->disk.name == NULL) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto err_free;
	}
	d->disk.product_name = "Malloc disk";
	d->disk.ctxt = d;
	d->disk.uuid = opts->uuid;
	d->disk.blocklen = blocklen;
	d->disk.blockcnt = opts->num_blocks;
	d->disk.md_len = opts->md_size;
	d->disk.md_interleave = opts->md_interleave;
	d->disk.write_cache = false;
	d->disk.optimal_io_boundary = opts->optimal_io_boundary;
	d->disk.split_on_optimal_io_boundary = opts->optimal_io_boundary != 0;
	d->disk.acwu = 64;
	d->disk.fn_table = &g_malloc_fn_table;
	d->disk.module = &g_malloc_module;
	ftgt_io_device_register(d, malloc_ch_create, malloc_ch_destroy,
	                        sizeof(struct malloc_channel), d->disk.name);
	rc = ftgt_bdev_register(&d->disk);
	if (rc != 0) {
		snprintf(err, err_len,
		         rc == -EEXIST ? "bdev name '%s' already exists"
		                       : "cannot register bdev '%s'",
		         name);
		ftgt_io_device_unregister(d, NULL);
		goto err_free;
	}
	if (bdevp != NULL) {
		*bdevp = &d->disk;
	}
	return 0;
err_free:
	free(d->disk.name);
	ftgt_dma_free(d->md);
	ftgt_dma_free(d->data);
	free(d);
	return rc;
}

int
bdev_malloc_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                   size_t err_len)
{
	return ftgt_bdev_unregister_by_name(name, &g_malloc_module, cb_fn, cb_arg, err, err_len);
}

static struct ftgt_bdev_module g_malloc_module = {
        .name = "malloc",
};
FTGT_BDEV_MODULE_REGISTER(malloc, &g_malloc_module)
