/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split bdev: "<base>p0" .. "<base>pN-1", each a window of the base bdev: parts of one
 * ftgt_bdev_base (lib/bdev/part.c), which opens and claims the base, shares one channel
 * of it per thread between the parts, adds each window's offset to the I/O passed
 * through, and removes the parts when the base goes away.
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
#include "bdev_split.h"

FTGT_LOG_REGISTER_COMPONENT(bdev_split)

#define MIB_BYTES_SPLIT (1024ull * 1024)

struct split_part {
	struct ftgt_bdev_part part; /* first: freed by ftgt_bdev_part_destruct */
	uint32_t index;
	uint32_t split_count;
	uint64_t split_size_mb; /* as asked (0 = base size / count) */
};
FTGT_STATIC_ASSERT(offsetof(struct split_part, part) == 0);

static struct ftgt_bdev_module g_split_module;

static const struct ftgt_bdev_base_opts g_split_base_opts = {.module = &g_split_module};

static void
split_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	ftgt_bdev_part_submit(io, NULL, 0, NULL);
}

static bool
split_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	return ftgt_bdev_part_io_type_supported(ctxt, type);
}

/* ---- config and info ---------------------------------------------------------------- */

static void
split_dump_info_json(void *ctxt, json_t *ds)
{
	struct split_part *p = ctxt;
	json_t *o = json_object();

	json_object_set_new(o, "base_bdev", json_string(ftgt_bdev_part_get_base_name(ctxt)));
	json_object_set_new(o, "offset_blocks", json_integer((json_int_t)p->part.offset_blocks));
	json_object_set_new(ds, "split", o);
}

static void
split_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	struct split_part *p = bdev->ctxt;
	json_t *m, *params;

	/* One create call per base, written by the first part. */
	if (p->index != 0) {
		return;
	}
	m = json_object();
	params = json_object();
	json_object_set_new(params, "base_bdev",
	                    json_string(ftgt_bdev_part_get_base_name(&p->part)));
	json_object_set_new(params, "split_count", json_integer(p->split_count));
	if (p->split_size_mb != 0) {
		json_object_set_new(params, "split_size_mb",
		                    json_integer((json_int_t)p->split_size_mb));
	}
	json_object_set_new(m, "method", json_string("bdev_split_create"));
	json_object_set_new(m, "params", params);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_split_fn_table = {
        .destruct = ftgt_bdev_part_destruct,
        .submit_request = split_submit,
        .io_type_supported = split_io_type_supported,
        .get_io_channel = ftgt_bdev_part_get_io_channel,
        .dump_info_json = split_dump_info_json,
        .write_config_json = split_write_config_json,
};

/* ---- create and delete -------------------------------------------------------------- */

int
bdev_split_create(const char *base_name, uint32_t split_count, uint64_t split_size_mb,
                  const char **names, char *err, size_t err_len)
{
	struct ftgt_bdev_base *sb;
	struct ftgt_bdev *base;
	struct split_part *p;
	uint64_t size_blocks;
	char name[FTGT_BDEV_MAX_NAME_LEN + 16];
	uint32_t i;
	int rc;

	if (base_name == NULL || base_name[0] == '\0') {
		snprintf(err, err_len, "base_bdev must be given");
		return -EINVAL;
	}
	if (split_count == 0 || split_count > 1024) {
		snprintf(err, err_len, "split_count %" PRIu32 " is out of range (1 to 1024)",
		         split_count);
		return -EINVAL;
	}
	if (ftgt_bdev_base_find(base_name, &g_split_module) != NULL) {
		snprintf(err, err_len, "bdev '%s' is already split", base_name);
		return -EEXIST;
	}
	base = ftgt_bdev_get_by_name(base_name);
	if (base == NULL) {
		snprintf(err, err_len, "base bdev '%s' does not exist", base_name);
		return -ENODEV;
	}
	if (split_size_mb != 0) {
		if (split_size_mb > UINT64_MAX / MIB_BYTES_SPLIT ||
		    split_size_mb * MIB_BYTES_SPLIT % ftgt_bdev_get_block_size(base) != 0) {
			snprintf(err, err_len,
			         "split_size_mb %" PRIu64 " is not a multiple of the block size",
			         split_size_mb);
			return -EINVAL;
		}
		size_blocks = split_size_mb * MIB_BYTES_SPLIT / ftgt_bdev_get_block_size(base);
		if (size_blocks == 0 ||
		    size_blocks > ftgt_bdev_get_num_blocks(base) / split_count) {
			snprintf(err, err_len,
			         "%" PRIu32 " splits of %" PRIu64 " MiB do not fit in bdev '%s' "
			         "(%" PRIu64 " blocks of %" PRIu32 " bytes)",
			         split_count, split_size_mb, base_name,
			         ftgt_bdev_get_num_blocks(base), ftgt_bdev_get_block_size(base));
			return -EINVAL;
		}
	} else {
		size_blocks = ftgt_bdev_get_num_blocks(base) / split_count;
		if (size_blocks == 0) {
			snprintf(err, err_len,
			         "bdev '%s' (%" PRIu64 " blocks) is too small for %" PRIu32
			         " splits",
			         base_name, ftgt_bdev_get_num_blocks(base), split_count);
			return -EINVAL;
		}
	}
	for (i = 0; i < split_count; i++) {
		snprintf(name, sizeof(name), "%sp%" PRIu32, base_name, i);
		if (strlen(name) > FTGT_BDEV_MAX_NAME_LEN) {
			snprintf(err, err_len, "split name '%.40s...' is too long", name);
			return -EINVAL;
		}
		if (ftgt_bdev_get_by_name(name) != NULL) {
			snprintf(err, err_len, "bdev name '%s' already exists", name);
			return -EEXIST;
		}
	}

	rc = ftgt_bdev_base_open(base_name, &g_split_base_opts, &sb, err, err_len);
	if (rc != 0) {
		return rc;
	}
	for (i = 0; i < split_count; i++) {
		p = calloc(1, sizeof(*p));
		if (p == NULL) {
			snprintf(err, err_len, "out of memory");
			rc = -ENOMEM;
			goto err_release;
		}
		snprintf(name, sizeof(name), "%sp%" PRIu32, base_name, i);
		p->index = i;
		p->split_count = split_count;
		p->split_size_mb = split_size_mb;
		p->part.bdev.product_name = "Split Disk";
		/* Stable across restarts: derived from the base's UUID and the part's name. */
		ftgt_uuid_generate_sha1(&p->part.bdev.uuid, ftgt_bdev_get_uuid(base), name,
		                        strlen(name));
		p->part.bdev.fn_table = &g_split_fn_table;
		rc = ftgt_bdev_part_register(&p->part, sb, name, (uint64_t)i * size_blocks,
		                             size_blocks, err, err_len);
		if (rc != 0) {
			free(p);
			goto err_release;
		}
		if (names != NULL) {
			names[i] = p->part.bdev.name;
		}
	}
	FTGT_NOTICELOG("split bdev '%s' into %" PRIu32 " bdevs of %" PRIu64 " blocks\n", base_name,
	               split_count, size_blocks);
	return 0;
err_release:
	/* The registered parts are unregistered; the base goes with the last. */
	ftgt_bdev_base_release(sb);
	return rc;
}

int
bdev_split_delete(const char *base_name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                  size_t err_len)
{
	struct ftgt_bdev_base *sb =
	        base_name != NULL ? ftgt_bdev_base_find(base_name, &g_split_module) : NULL;

	if (sb == NULL) {
		snprintf(err, err_len, "bdev '%s' is not split", base_name ? base_name : "");
		return -ENODEV;
	}
	return ftgt_bdev_base_delete(sb, cb_fn, cb_arg, err, err_len);
}

static struct ftgt_bdev_module g_split_module = {
        .name = "split",
};
FTGT_BDEV_MODULE_REGISTER(split, &g_split_module)
