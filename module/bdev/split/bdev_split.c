/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split bdev: "<base>p0" .. "<base>pN-1", each a window of the base bdev. The base is
 * opened and claimed once per split group (struct split_base), which is also the io
 * device: every part's channel on a thread is the group's channel there, holding that
 * thread's channel of the base. I/O is passed through with the window's offset added.
 *
 * Lifetime: the group lives while any part is registered. The last part's destruct
 * unregisters the io device; once every channel is gone the base descriptor is closed
 * (on its own thread) and the group freed. Hot remove of the base unregisters the parts.
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

struct split_part;

struct split_base {
	char *base_name;
	struct ftgt_bdev *base;
	struct ftgt_bdev_desc *desc;
	struct ftgt_thread *thread; /* owns desc */
	uint32_t split_count;
	uint64_t split_size_mb; /* as asked (0 = base size / count) */
	uint32_t num_registered;
	bool removing;
	struct split_part **parts;
	struct split_part *last; /* the part whose destruct finishes after the group */
	TAILQ_ENTRY(split_base) link;
};

struct split_part {
	struct ftgt_bdev disk;
	struct split_base *sb;
	uint64_t offset_blocks;
	uint32_t index;
	bool registered;
};

struct split_channel {
	struct ftgt_io_channel *base_ch;
};

static struct ftgt_bdev_module g_split_module;
static TAILQ_HEAD(, split_base) g_split_bases = TAILQ_HEAD_INITIALIZER(g_split_bases);

static struct split_base *
split_base_find(const char *base_name)
{
	struct split_base *sb;

	TAILQ_FOREACH (sb, &g_split_bases, link) {
		if (strcmp(sb->base_name, base_name) == 0) {
			return sb;
		}
	}
	return NULL;
}

static void
split_base_free(struct split_base *sb)
{
	uint32_t i;

	if (sb->parts != NULL) {
		for (i = 0; i < sb->split_count; i++) {
			if (sb->parts[i] != NULL) {
				free(sb->parts[i]->disk.name);
				free(sb->parts[i]);
			}
		}
	}
	free(sb->parts);
	free(sb->base_name);
	free(sb);
}

/* ---- I/O ---------------------------------------------------------------------------- */

static void
split_base_io_done(struct ftgt_bdev_io *base_io, bool success, void *arg)
{
	struct ftgt_bdev_io *io = arg;

	if (ftgt_likely(success)) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
	} else {
		ftgt_bdev_io_complete_from(io, base_io);
	}
	ftgt_bdev_free_io(base_io);
}

static void
split_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct split_part *p = io->bdev->ctxt;
	struct split_channel *sch = ftgt_io_channel_get_ctx(ch);
	struct ftgt_bdev_desc *desc = p->sb->desc;
	struct ftgt_bdev_ext_io_opts opts = {
	        .size = sizeof(opts), .io_flags = io->io_flags, .md_buf = io->u.bdev.md_buf};
	uint64_t off = io->u.bdev.offset_blocks + p->offset_blocks;
	uint64_t n = io->u.bdev.num_blocks;
	int rc;

	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		rc = ftgt_bdev_readv_blocks_ext(desc, sch->base_ch, io->u.bdev.iovs,
		                                io->u.bdev.iovcnt, off, n, split_base_io_done, io,
		                                &opts);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		rc = ftgt_bdev_writev_blocks_ext(desc, sch->base_ch, io->u.bdev.iovs,
		                                 io->u.bdev.iovcnt, off, n, split_base_io_done, io,
		                                 &opts);
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		rc = ftgt_bdev_unmap_blocks(desc, sch->base_ch, off, n, split_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		rc = ftgt_bdev_flush_blocks(desc, sch->base_ch, off, n, split_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		rc = ftgt_bdev_write_zeroes_blocks(desc, sch->base_ch, off, n, split_base_io_done,
		                                   io);
		break;
	case FTGT_BDEV_IO_TYPE_RESET:
		/* Resetting the base affects every split of it, as in SPDK. */
		rc = ftgt_bdev_reset(desc, sch->base_ch, split_base_io_done, io);
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
}

static bool
split_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	struct split_part *p = ctxt;

	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
		return true;
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_RESET:
		return ftgt_bdev_io_type_supported(p->sb->base, type);
	default:
		return false;
	}
}

static struct ftgt_io_channel *
split_get_io_channel(void *ctxt)
{
	struct split_part *p = ctxt;

	return ftgt_get_io_channel(p->sb);
}

static int
split_ch_create(void *dev, void *ctx)
{
	struct split_base *sb = dev;
	struct split_channel *sch = ctx;

	sch->base_ch = ftgt_bdev_get_io_channel(sb->desc);
	return sch->base_ch == NULL ? -ENOMEM : 0;
}

static void
split_ch_destroy(void *dev, void *ctx)
{
	struct split_channel *sch = ctx;

	ftgt_put_io_channel(sch->base_ch);
}

/* ---- teardown ----------------------------------------------------------------------- */

static void
split_close_msg(void *arg)
{
	struct split_base *sb = arg;
	struct split_part *last = sb->last;
	uint32_t i;

	ftgt_bdev_close(sb->desc);
	/* Parts other than `last` were freed in their destruct. */
	for (i = 0; i < sb->split_count; i++) {
		if (sb->parts[i] == last) {
			sb->parts[i] = NULL;
		}
	}
	split_base_free(sb);
	if (last != NULL) {
		ftgt_bdev_destruct_done(&last->disk, 0);
		free(last->disk.name);
		free(last);
	}
}

static void
split_io_device_gone(void *dev)
{
	struct split_base *sb = dev;

	if (ftgt_get_thread() == sb->thread ||
	    ftgt_thread_send_msg(sb->thread, split_close_msg, sb) != 0) {
		split_close_msg(sb);
	}
}

static int
split_destruct(void *ctxt)
{
	struct split_part *p = ctxt;
	struct split_base *sb = p->sb;

	p->registered = false;
	if (--sb->num_registered > 0) {
		sb->parts[p->index] = NULL;
		free(p->disk.name);
		free(p);
		return 0;
	}
	TAILQ_REMOVE(&g_split_bases, sb, link);
	sb->last = p;
	ftgt_io_device_unregister(sb, split_io_device_gone);
	return 1;
}

static void
split_unregister_all(struct split_base *sb, ftgt_bdev_unregister_cb cb_fn, void *cb_arg)
{
	uint32_t i;

	sb->removing = true;
	for (i = 0; i < sb->split_count; i++) {
		if (sb->parts[i] != NULL && sb->parts[i]->registered) {
			ftgt_bdev_unregister(&sb->parts[i]->disk, cb_fn, cb_arg);
		}
	}
}

static void
split_base_event(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	struct split_base *sb = ctx;

	if (type != FTGT_BDEV_EVENT_REMOVE || sb->removing) {
		return;
	}
	FTGT_NOTICELOG("base bdev '%s' is going away: removing its splits\n", sb->base_name);
	split_unregister_all(sb, NULL, NULL);
}

/* ---- config and info ---------------------------------------------------------------- */

static void
split_dump_info_json(void *ctxt, json_t *ds)
{
	struct split_part *p = ctxt;
	json_t *o = json_object();

	json_object_set_new(o, "base_bdev", json_string(p->sb->base_name));
	json_object_set_new(o, "offset_blocks", json_integer((json_int_t)p->offset_blocks));
	json_object_set_new(ds, "split", o);
}

static void
split_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	struct split_part *p = bdev->ctxt;
	json_t *m, *params;

	/* One create call per group, written by the first part. */
	if (p->index != 0) {
		return;
	}
	m = json_object();
	params = json_object();
	json_object_set_new(params, "base_bdev", json_string(p->sb->base_name));
	json_object_set_new(params, "split_count", json_integer(p->sb->split_count));
	if (p->sb->split_size_mb != 0) {
		json_object_set_new(params, "split_size_mb",
		                    json_integer((json_int_t)p->sb->split_size_mb));
	}
	json_object_set_new(m, "method", json_string("bdev_split_create"));
	json_object_set_new(m, "params", params);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_split_fn_table = {
        .destruct = split_destruct,
        .submit_request = split_submit,
        .io_type_supported = split_io_type_supported,
        .get_io_channel = split_get_io_channel,
        .dump_info_json = split_dump_info_json,
        .write_config_json = split_write_config_json,
};

/* ---- create and delete -------------------------------------------------------------- */

int
bdev_split_create(const char *base_name, uint32_t split_count, uint64_t split_size_mb,
                  const char **names, char *err, size_t err_len)
{
	struct ftgt_bdev *base;
	struct split_base *sb;
	struct split_part *p;
	const char *owner;
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
	if (split_base_find(base_name) != NULL) {
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

	sb = calloc(1, sizeof(*sb));
	if (sb == NULL) {
		goto err_nomem;
	}
	sb->base_name = strdup(base_name);
	sb->parts = calloc(split_count, sizeof(*sb->parts));
	if (sb->base_name == NULL || sb->parts == NULL) {
		split_base_free(sb);
		goto err_nomem;
	}
	sb->split_count = split_count;
	sb->split_size_mb = split_size_mb;
	sb->thread = ftgt_get_thread();
	rc = ftgt_bdev_open_ext(base_name, true, split_base_event, sb, &sb->desc);
	if (rc != 0) {
		owner = ftgt_bdev_get_claim_owner(base);
		if (rc == -EPERM && owner != NULL) {
			snprintf(err, err_len, "bdev '%s' is claimed by module '%s'", base_name,
			         owner);
		} else {
			snprintf(err, err_len, "cannot open base bdev '%s': %s", base_name,
			         strerror(-rc));
		}
		split_base_free(sb);
		return rc;
	}
	sb->base = ftgt_bdev_desc_get_bdev(sb->desc);
	rc = ftgt_bdev_module_claim_bdev(sb->base, sb->desc, &g_split_module);
	if (rc != 0) {
		owner = ftgt_bdev_get_claim_owner(sb->base);
		snprintf(err, err_len, "bdev '%s' is claimed by module '%s'", base_name,
		         owner != NULL ? owner : "?");
		ftgt_bdev_close(sb->desc);
		split_base_free(sb);
		return -EBUSY;
	}
	for (i = 0; i < split_count; i++) {
		p = calloc(1, sizeof(*p));
		if (p == NULL) {
			goto err_parts;
		}
		sb->parts[i] = p;
		snprintf(name, sizeof(name), "%sp%" PRIu32, base_name, i);
		p->disk.name = strdup(name);
		if (p->disk.name == NULL) {
			goto err_parts;
		}
		p->sb = sb;
		p->index = i;
		p->offset_blocks = (uint64_t)i * size_blocks;
		p->disk.ctxt = p;
		p->disk.product_name = "Split Disk";
		/* Stable across restarts: derived from the base's UUID and the part's name. */
		ftgt_uuid_generate_sha1(&p->disk.uuid, ftgt_bdev_get_uuid(sb->base), name,
		                        strlen(name));
		p->disk.blocklen = sb->base->blocklen;
		p->disk.blockcnt = size_blocks;
		p->disk.md_len = sb->base->md_len;
		p->disk.md_interleave = sb->base->md_interleave;
		p->disk.write_cache = sb->base->write_cache;
		p->disk.optimal_io_boundary = sb->base->optimal_io_boundary;
		p->disk.split_on_optimal_io_boundary = sb->base->split_on_optimal_io_boundary;
		p->disk.max_rw_size = sb->base->max_rw_size;
		p->disk.max_unmap_blocks = sb->base->max_unmap_blocks;
		p->disk.max_write_zeroes_blocks = sb->base->max_write_zeroes_blocks;
		p->disk.required_alignment = sb->base->required_alignment;
		p->disk.acwu = sb->base->acwu;
		p->disk.fn_table = &g_split_fn_table;
		p->disk.module = &g_split_module;
	}
	ftgt_io_device_register(sb, split_ch_create, split_ch_destroy, sizeof(struct split_channel),
	                        base_name);
	TAILQ_INSERT_TAIL(&g_split_bases, sb, link);
	for (i = 0; i < split_count; i++) {
		rc = ftgt_bdev_register(&sb->parts[i]->disk);
		if (rc != 0) {
			snprintf(err, err_len, "cannot register bdev '%s': %s",
			         sb->parts[i]->disk.name, strerror(-rc));
			if (sb->num_registered == 0) {
				TAILQ_REMOVE(&g_split_bases, sb, link);
				ftgt_io_device_unregister(sb, NULL);
				ftgt_bdev_close(sb->desc);
				split_base_free(sb);
			} else {
				/* The registered ones go through destruct, which frees the group. */
				split_unregister_all(sb, NULL, NULL);
			}
			return rc;
		}
		sb->parts[i]->registered = true;
		sb->num_registered++;
		if (names != NULL) {
			names[i] = sb->parts[i]->disk.name;
		}
	}
	FTGT_NOTICELOG("split bdev '%s' into %" PRIu32 " bdevs of %" PRIu64 " blocks\n", base_name,
	               split_count, size_blocks);
	return 0;

err_parts:
	ftgt_bdev_close(sb->desc);
	split_base_free(sb);
err_nomem:
	snprintf(err, err_len, "out of memory");
	return -ENOMEM;
}

struct split_delete_ctx {
	ftgt_bdev_unregister_cb cb_fn;
	void *cb_arg;
	uint32_t remaining;
	int rc;
};

static void
split_delete_one_done(void *arg, int rc)
{
	struct split_delete_ctx *c = arg;

	if (rc != 0 && c->rc == 0) {
		c->rc = rc;
	}
	if (--c->remaining == 0) {
		if (c->cb_fn != NULL) {
			c->cb_fn(c->cb_arg, c->rc);
		}
		free(c);
	}
}

int
bdev_split_delete(const char *base_name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                  size_t err_len)
{
	struct split_base *sb = base_name != NULL ? split_base_find(base_name) : NULL;
	struct split_delete_ctx *c;
	uint32_t i;

	if (sb == NULL) {
		snprintf(err, err_len, "bdev '%s' is not split", base_name ? base_name : "");
		return -ENODEV;
	}
	if (sb->removing) {
		snprintf(err, err_len, "splits of bdev '%s' are being removed", base_name);
		return -EBUSY;
	}
	for (i = 0; i < sb->split_count; i++) {
		if (sb->parts[i] != NULL && sb->parts[i]->registered &&
		    ftgt_bdev_check_delete(&sb->parts[i]->disk, err, err_len) != 0) {
			return -EBUSY;
		}
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	c->cb_fn = cb_fn;
	c->cb_arg = cb_arg;
	c->remaining = sb->num_registered;
	split_unregister_all(sb, split_delete_one_done, c);
	return 0;
}

static void
split_module_fini(void)
{
	/* Every part was unregistered before this; groups free themselves. */
}

static struct ftgt_bdev_module g_split_module = {
        .name = "split",
        .module_fini = split_module_fini,
};
FTGT_BDEV_MODULE_REGISTER(split, &g_split_module)
