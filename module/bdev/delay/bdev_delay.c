/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Delay bdev. Each read/write goes to the base at once; when the base completes it
 * successfully, the completion is held in the channel's queue for its latency class
 * (average, or p99 for 1 I/O in 100, picked per I/O) and released by the channel's
 * poller once its deadline passed. One latency per queue keeps every queue in deadline
 * order, so the poller stops at the first entry still due later. Failures are not held.
 * An ABORT naming a held I/O completes it with ABORTED at once.
 *
 * Latencies are written by the app thread (RPC) and read by I/O threads with relaxed
 * atomics: an I/O uses whichever value it sees when its base I/O completes.
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
#include "bdev_delay.h"

FTGT_LOG_REGISTER_COMPONENT(bdev_delay)

struct delay_disk {
	struct ftgt_bdev disk;
	char *base_name;
	struct ftgt_bdev *base;
	struct ftgt_bdev_desc *desc;
	struct ftgt_thread *thread; /* owns desc */
	bool removing;
	uint64_t latency_us[DELAY_NUM_LATENCY_TYPES]; /* relaxed atomics */
	TAILQ_ENTRY(delay_disk) link;
};

struct delay_io {
	TAILQ_ENTRY(delay_io) link;
	uint64_t deadline_ticks;
};

TAILQ_HEAD(delay_io_tailq, delay_io);

struct delay_channel {
	struct ftgt_io_channel *base_ch;
	struct ftgt_poller *poller;
	struct delay_io_tailq held[DELAY_NUM_LATENCY_TYPES];
	uint64_t rng;
};

static struct ftgt_bdev_module g_delay_module;
static TAILQ_HEAD(, delay_disk) g_delay_disks = TAILQ_HEAD_INITIALIZER(g_delay_disks);

int
bdev_delay_latency_type_parse(const char *str, enum delay_latency_type *type)
{
	static const char *const names[] = {"avg_read", "p99_read", "avg_write", "p99_write"};
	size_t i;

	for (i = 0; str != NULL && i < FTGT_COUNTOF(names); i++) {
		if (strcmp(str, names[i]) == 0) {
			*type = (enum delay_latency_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

static struct delay_disk *
delay_disk_find(const char *name)
{
	struct delay_disk *dd;

	TAILQ_FOREACH (dd, &g_delay_disks, link) {
		if (strcmp(dd->disk.name, name) == 0) {
			return dd;
		}
	}
	return NULL;
}

/* ---- I/O ---------------------------------------------------------------------------- */

/* xorshift64: cheap, per channel, good enough to pick 1 in 100. */
static uint64_t
delay_rand(struct delay_channel *dch)
{
	uint64_t x = dch->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	dch->rng = x;
	return x;
}

static void
delay_base_io_done(struct ftgt_bdev_io *base_io, bool success, void *arg)
{
	struct ftgt_bdev_io *io = arg;
	struct delay_disk *dd = io->bdev->ctxt;
	struct delay_channel *dch = ftgt_io_channel_get_ctx(ftgt_bdev_io_get_io_channel(io));
	struct delay_io *dio = ftgt_bdev_io_get_driver_ctx(io);
	enum delay_latency_type lt;
	uint64_t us, hz;

	if (!success ||
	    (io->type != FTGT_BDEV_IO_TYPE_READ && io->type != FTGT_BDEV_IO_TYPE_WRITE)) {
		if (success) {
			ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
		} else {
			ftgt_bdev_io_complete_from(io, base_io);
		}
		ftgt_bdev_free_io(base_io);
		return;
	}
	ftgt_bdev_free_io(base_io);
	lt = io->type == FTGT_BDEV_IO_TYPE_READ ? DELAY_AVG_READ : DELAY_AVG_WRITE;
	if (delay_rand(dch) % 100 == 0) {
		lt++; /* the p99 class follows its average */
	}
	us = __atomic_load_n(&dd->latency_us[lt], __ATOMIC_RELAXED);
	hz = ftgt_get_ticks_hz();
	dio->deadline_ticks = ftgt_get_ticks() + us / 1000000 * hz + us % 1000000 * hz / 1000000;
	TAILQ_INSERT_TAIL(&dch->held[lt], dio, link);
}

static int
delay_poll(void *arg)
{
	struct delay_channel *dch = arg;
	struct delay_io *dio;
	uint64_t now = ftgt_get_ticks();
	int i, busy = FTGT_POLLER_IDLE;

	for (i = 0; i < DELAY_NUM_LATENCY_TYPES; i++) {
		while ((dio = TAILQ_FIRST(&dch->held[i])) != NULL && dio->deadline_ticks <= now) {
			TAILQ_REMOVE(&dch->held[i], dio, link);
			ftgt_bdev_io_complete(ftgt_bdev_io_from_driver_ctx(dio),
			                      FTGT_BDEV_IO_STATUS_SUCCESS);
			busy = FTGT_POLLER_BUSY;
		}
	}
	return busy;
}

static void
delay_abort_done(struct ftgt_bdev_io *base_io, bool success, void *arg)
{
	ftgt_bdev_free_io(base_io);
	ftgt_bdev_io_complete(arg,
	                      success ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_FAILED);
}

static void
delay_abort(struct delay_disk *dd, struct delay_channel *dch, struct ftgt_bdev_io *io)
{
	struct ftgt_bdev_io *victim = io->u.abort.bio_to_abort;
	struct delay_io *dio;
	int i, rc;

	for (i = 0; i < DELAY_NUM_LATENCY_TYPES; i++) {
		TAILQ_FOREACH (dio, &dch->held[i], link) {
			if (ftgt_bdev_io_from_driver_ctx(dio) == victim) {
				TAILQ_REMOVE(&dch->held[i], dio, link);
				ftgt_bdev_io_complete(victim, FTGT_BDEV_IO_STATUS_ABORTED);
				ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
				return;
			}
		}
	}
	/* Still at the base: the base I/O's cb_arg is the victim. */
	rc = ftgt_bdev_abort(dd->desc, dch->base_ch, victim, delay_abort_done, io);
	if (rc == -ENOMEM) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
	} else if (rc != 0) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
	}
}

static void
delay_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct delay_disk *dd = io->bdev->ctxt;
	struct delay_channel *dch = ftgt_io_channel_get_ctx(ch);
	struct ftgt_bdev_ext_io_opts opts = {
	        .size = sizeof(opts), .io_flags = io->io_flags, .md_buf = io->u.bdev.md_buf};
	uint64_t off = io->u.bdev.offset_blocks, n = io->u.bdev.num_blocks;
	int rc;

	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		rc = ftgt_bdev_readv_blocks_ext(dd->desc, dch->base_ch, io->u.bdev.iovs,
		                                io->u.bdev.iovcnt, off, n, delay_base_io_done, io,
		                                &opts);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		rc = ftgt_bdev_writev_blocks_ext(dd->desc, dch->base_ch, io->u.bdev.iovs,
		                                 io->u.bdev.iovcnt, off, n, delay_base_io_done, io,
		                                 &opts);
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		rc = ftgt_bdev_unmap_blocks(dd->desc, dch->base_ch, off, n, delay_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		rc = ftgt_bdev_flush_blocks(dd->desc, dch->base_ch, off, n, delay_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		rc = ftgt_bdev_write_zeroes_blocks(dd->desc, dch->base_ch, off, n,
		                                   delay_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_RESET:
		rc = ftgt_bdev_reset(dd->desc, dch->base_ch, delay_base_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_ABORT:
		delay_abort(dd, dch, io);
		return;
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
delay_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	struct delay_disk *dd = ctxt;

	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_ABORT:
		return true;
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_RESET:
		return ftgt_bdev_io_type_supported(dd->base, type);
	default:
		return false;
	}
}

static struct ftgt_io_channel *
delay_get_io_channel(void *ctxt)
{
	return ftgt_get_io_channel(ctxt);
}

static int
delay_ch_create(void *dev, void *ctx)
{
	struct delay_disk *dd = dev;
	struct delay_channel *dch = ctx;
	int i;

	for (i = 0; i < DELAY_NUM_LATENCY_TYPES; i++) {
		TAILQ_INIT(&dch->held[i]);
	}
	dch->rng = ftgt_get_ticks() | 1;
	dch->base_ch = ftgt_bdev_get_io_channel(dd->desc);
	if (dch->base_ch == NULL) {
		return -ENOMEM;
	}
	dch->poller = FTGT_POLLER_REGISTER(delay_poll, dch, 0);
	if (dch->poller == NULL) {
		ftgt_put_io_channel(dch->base_ch);
		return -ENOMEM;
	}
	return 0;
}

static void
delay_ch_destroy(void *dev, void *ctx)
{
	struct delay_channel *dch = ctx;

	ftgt_poller_unregister(&dch->poller);
	ftgt_put_io_channel(dch->base_ch);
}

/* ---- teardown ----------------------------------------------------------------------- */

static void
delay_close_msg(void *arg)
{
	struct delay_disk *dd = arg;

	ftgt_bdev_close(dd->desc);
	ftgt_bdev_destruct_done(&dd->disk, 0);
	free(dd->base_name);
	free(dd->disk.name);
	free(dd);
}

static void
delay_io_device_gone(void *dev)
{
	struct delay_disk *dd = dev;

	if (ftgt_get_thread() == dd->thread ||
	    ftgt_thread_send_msg(dd->thread, delay_close_msg, dd) != 0) {
		delay_close_msg(dd);
	}
}

static int
delay_destruct(void *ctxt)
{
	struct delay_disk *dd = ctxt;

	TAILQ_REMOVE(&g_delay_disks, dd, link);
	ftgt_io_device_unregister(dd, delay_io_device_gone);
	return 1;
}

static void
delay_base_event(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	struct delay_disk *dd = ctx;

	if (type != FTGT_BDEV_EVENT_REMOVE || dd->removing) {
		return;
	}
	dd->removing = true;
	FTGT_NOTICELOG("base bdev '%s' is going away: removing '%s'\n", dd->base_name,
	               dd->disk.name);
	ftgt_bdev_unregister(&dd->disk, NULL, NULL);
}

static const char *const g_latency_params[] = {"avg_read_latency", "p99_read_latency",
                                               "avg_write_latency", "p99_write_latency"};

static void
delay_dump_info_json(void *ctxt, json_t *ds)
{
	struct delay_disk *dd = ctxt;
	json_t *o = json_object();
	int i;

	json_object_set_new(o, "base_bdev_name", json_string(dd->base_name));
	for (i = 0; i < DELAY_NUM_LATENCY_TYPES; i++) {
		json_object_set_new(o, g_latency_params[i],
		                    json_integer((json_int_t)__atomic_load_n(&dd->latency_us[i],
		                                                             __ATOMIC_RELAXED)));
	}
	json_object_set_new(ds, "delay", o);
}

static void
delay_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	struct delay_disk *dd = bdev->ctxt;
	char uuid[FTGT_UUID_STRING_LEN];
	json_t *m = json_object(), *p = json_object();
	int i;

	ftgt_uuid_fmt(uuid, sizeof(uuid), &bdev->uuid);
	json_object_set_new(p, "name", json_string(bdev->name));
	json_object_set_new(p, "base_bdev_name", json_string(dd->base_name));
	json_object_set_new(p, "uuid", json_string(uuid));
	for (i = 0; i < DELAY_NUM_LATENCY_TYPES; i++) {
		json_object_set_new(p, g_latency_params[i],
		                    json_integer((json_int_t)__atomic_load_n(&dd->latency_us[i],
		                                                             __ATOMIC_RELAXED)));
	}
	json_object_set_new(m, "method", json_string("bdev_delay_create"));
	json_object_set_new(m, "params", p);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_delay_fn_table = {
        .destruct = delay_destruct,
        .submit_request = delay_submit,
        .io_type_supported = delay_io_type_supported,
        .get_io_channel = delay_get_io_channel,
        .dump_info_json = delay_dump_info_json,
        .write_config_json = delay_write_config_json,
};

/* ---- create, delete, update --------------------------------------------------------- */

/* Largest latency accepted: one hour (keeps us * ticks_hz far from overflow). */
#define DELAY_MAX_LATENCY_US (3600ull * 1000 * 1000)

int
bdev_delay_create(struct ftgt_bdev **bdevp, const struct delay_bdev_opts *opts, char *err,
                  size_t err_len)
{
	struct ftgt_bdev *base;
	struct delay_disk *dd;
	const char *owner;
	int i, rc;

	if (opts->name == NULL || opts->name[0] == '\0') {
		snprintf(err, err_len, "name must be given");
		return -EINVAL;
	}
	if (opts->base_bdev_name == NULL || opts->base_bdev_name[0] == '\0') {
		snprintf(err, err_len, "base_bdev_name must be given");
		return -EINVAL;
	}
	for (i = 0; i < DELAY_NUM_LATENCY_TYPES; i++) {
		if (opts->latency_us[i] > DELAY_MAX_LATENCY_US) {
			snprintf(err, err_len, "%s %" PRIu64 " us is over the limit (%llu us)",
			         g_latency_params[i], opts->latency_us[i], DELAY_MAX_LATENCY_US);
			return -EINVAL;
		}
	}
	if (opts->latency_us[DELAY_P99_READ] < opts->latency_us[DELAY_AVG_READ] ||
	    opts->latency_us[DELAY_P99_WRITE] < opts->latency_us[DELAY_AVG_WRITE]) {
		FTGT_WARNLOG("delay bdev '%s': a p99 latency is below its average\n", opts->name);
	}
	if (ftgt_bdev_get_by_name(opts->name) != NULL) {
		snprintf(err, err_len, "bdev name '%s' already exists", opts->name);
		return -EEXIST;
	}
	base = ftgt_bdev_get_by_name(opts->base_bdev_name);
	if (base == NULL) {
		snprintf(err, err_len, "base bdev '%s' does not exist", opts->base_bdev_name);
		return -ENODEV;
	}
	dd = calloc(1, sizeof(*dd));
	if (dd == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	dd->base_name = strdup(opts->base_bdev_name);
	dd->disk.name = strdup(opts->name);
	if (dd->base_name == NULL || dd->disk.name == NULL) {
		snprintf(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto err_free;
	}
	memcpy(dd->latency_us, opts->latency_us, sizeof(dd->latency_us));
	dd->thread = ftgt_get_thread();
	rc = ftgt_bdev_open_ext(opts->base_bdev_name, true, delay_base_event, dd, &dd->desc);
	if (rc != 0) {
		owner = ftgt_bdev_get_claim_owner(base);
		if (rc == -EPERM && owner != NULL) {
			snprintf(err, err_len, "bdev '%s' is claimed by module '%s'",
			         opts->base_bdev_name, owner);
			rc = -EBUSY;
		} else {
			snprintf(err, err_len, "cannot open base bdev '%s': %s",
			         opts->base_bdev_name, strerror(-rc));
		}
		goto err_free;
	}
	dd->base = ftgt_bdev_desc_get_bdev(dd->desc);
	if (ftgt_bdev_module_claim_bdev(dd->base, dd->desc, &g_delay_module) != 0) {
		owner = ftgt_bdev_get_claim_owner(dd->base);
		snprintf(err, err_len, "bdev '%s' is claimed by module '%s'", opts->base_bdev_name,
		         owner != NULL ? owner : "?");
		rc = -EBUSY;
		goto err_close;
	}
	dd->disk.ctxt = dd;
	dd->disk.product_name = "delay";
	dd->disk.uuid = opts->uuid;
	dd->disk.blocklen = dd->base->blocklen;
	dd->disk.blockcnt = dd->base->blockcnt;
	dd->disk.md_len = dd->base->md_len;
	dd->disk.md_interleave = dd->base->md_interleave;
	dd->disk.write_cache = dd->base->write_cache;
	dd->disk.optimal_io_boundary = dd->base->optimal_io_boundary;
	dd->disk.split_on_optimal_io_boundary = dd->base->split_on_optimal_io_boundary;
	dd->disk.max_rw_size = dd->base->max_rw_size;
	dd->disk.max_unmap_blocks = dd->base->max_unmap_blocks;
	dd->disk.max_write_zeroes_blocks = dd->base->max_write_zeroes_blocks;
	dd->disk.required_alignment = dd->base->required_alignment;
	dd->disk.acwu = dd->base->acwu;
	dd->disk.fn_table = &g_delay_fn_table;
	dd->disk.module = &g_delay_module;
	ftgt_io_device_register(dd, delay_ch_create, delay_ch_destroy, sizeof(struct delay_channel),
	                        opts->name);
	rc = ftgt_bdev_register(&dd->disk);
	if (rc != 0) {
		snprintf(err, err_len,
		         rc == -EEXIST ? "bdev name '%s' already exists"
		                       : "cannot register bdev '%s'",
		         opts->name);
		ftgt_io_device_unregister(dd, NULL);
		goto err_close;
	}
	TAILQ_INSERT_TAIL(&g_delay_disks, dd, link);
	if (bdevp != NULL) {
		*bdevp = &dd->disk;
	}
	return 0;
err_close:
	ftgt_bdev_close(dd->desc);
err_free:
	free(dd->base_name);
	free(dd->disk.name);
	free(dd);
	return rc;
}

int
bdev_delay_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                  size_t err_len)
{
	return ftgt_bdev_unregister_by_name(name, &g_delay_module, cb_fn, cb_arg, err, err_len);
}

int
bdev_delay_update_latency(const char *name, enum delay_latency_type type, uint64_t latency_us,
                          char *err, size_t err_len)
{
	struct delay_disk *dd = name != NULL ? delay_disk_find(name) : NULL;

	if (dd == NULL) {
		snprintf(err, err_len, "delay bdev '%s' does not exist", name ? name : "");
		return -ENODEV;
	}
	if ((unsigned)type >= DELAY_NUM_LATENCY_TYPES || latency_us > DELAY_MAX_LATENCY_US) {
		snprintf(err, err_len, "latency %" PRIu64 " us is over the limit (%llu us)",
		         latency_us, DELAY_MAX_LATENCY_US);
		return -EINVAL;
	}
	__atomic_store_n(&dd->latency_us[type], latency_us, __ATOMIC_RELAXED);
	return 0;
}

static int
delay_get_ctx_size(void)
{
	return sizeof(struct delay_io);
}

static struct ftgt_bdev_module g_delay_module = {
        .name = "delay",
        .get_ctx_size = delay_get_ctx_size,
};
FTGT_BDEV_MODULE_REGISTER(delay, &g_delay_module)
