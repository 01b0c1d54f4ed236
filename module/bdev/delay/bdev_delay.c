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
	struct ftgt_bdev_part part;                   /* first: freed by ftgt_bdev_part_destruct */
	uint64_t latency_us[DELAY_NUM_LATENCY_TYPES]; /* relaxed atomics */
};
FTGT_STATIC_ASSERT(offsetof(struct delay_disk, part) == 0);

struct delay_io {
	TAILQ_ENTRY(delay_io) link;
	uint64_t deadline_ticks;
};

TAILQ_HEAD(delay_io_tailq, delay_io);

struct delay_channel {
	struct ftgt_poller *poller;
	struct delay_io_tailq held[DELAY_NUM_LATENCY_TYPES];
	uint64_t rng;
};

static struct ftgt_bdev_module g_delay_module;

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
	struct ftgt_bdev *bdev = ftgt_bdev_get_by_name(name);

	return bdev != NULL && bdev->module == &g_delay_module ? bdev->ctxt : NULL;
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
	struct delay_channel *dch = ftgt_bdev_part_get_channel_ctx(ftgt_bdev_io_get_io_channel(io));
	struct delay_io *dio = ftgt_bdev_io_get_driver_ctx(io);
	enum delay_latency_type lt;
	uint64_t us, hz;

	if (!success ||
	    (io->type != FTGT_BDEV_IO_TYPE_READ && io->type != FTGT_BDEV_IO_TYPE_WRITE)) {
		ftgt_bdev_part_io_done(base_io, success, io);
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
delay_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct delay_channel *dch = ftgt_bdev_part_get_channel_ctx(ch);
	struct ftgt_bdev_io *victim;
	struct delay_io *dio;
	int i;

	if (io->type == FTGT_BDEV_IO_TYPE_ABORT) {
		victim = io->u.abort.bio_to_abort;
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
		/* Not held: still at the base, where the abort goes. */
	}
	ftgt_bdev_part_submit(io, NULL, 0, delay_base_io_done);
}

static bool
delay_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	return type == FTGT_BDEV_IO_TYPE_ABORT || ftgt_bdev_part_io_type_supported(ctxt, type);
}

static int
delay_ch_create(void *ctx)
{
	struct delay_channel *dch = ctx;
	int i;

	for (i = 0; i < DELAY_NUM_LATENCY_TYPES; i++) {
		TAILQ_INIT(&dch->held[i]);
	}
	dch->rng = ftgt_get_ticks() | 1;
	dch->poller = FTGT_POLLER_REGISTER(delay_poll, dch, 0);
	return dch->poller == NULL ? -ENOMEM : 0;
}

static void
delay_ch_destroy(void *ctx)
{
	struct delay_channel *dch = ctx;

	ftgt_poller_unregister(&dch->poller);
}

static const struct ftgt_bdev_base_opts g_delay_base_opts = {
        .module = &g_delay_module,
        .ch_ctx_size = sizeof(struct delay_channel),
        .ch_create_cb = delay_ch_create,
        .ch_destroy_cb = delay_ch_destroy,
};

/* ---- info and config --------------------------------------------------------------- */

static const char *const g_latency_params[] = {"avg_read_latency", "p99_read_latency",
                                               "avg_write_latency", "p99_write_latency"};

static void
delay_dump_info_json(void *ctxt, json_t *ds)
{
	struct delay_disk *dd = ctxt;
	json_t *o = json_object();
	int i;

	json_object_set_new(o, "base_bdev_name", json_string(ftgt_bdev_part_get_base_name(ctxt)));
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
	json_object_set_new(p, "base_bdev_name",
	                    json_string(ftgt_bdev_part_get_base_name(&dd->part)));
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
        .destruct = ftgt_bdev_part_destruct,
        .submit_request = delay_submit,
        .io_type_supported = delay_io_type_supported,
        .get_io_channel = ftgt_bdev_part_get_io_channel,
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
	struct delay_disk *dd;
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
	dd = calloc(1, sizeof(*dd));
	if (dd == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	memcpy(dd->latency_us, opts->latency_us, sizeof(dd->latency_us));
	dd->part.bdev.product_name = "delay";
	dd->part.bdev.uuid = opts->uuid;
	dd->part.bdev.fn_table = &g_delay_fn_table;
	rc = ftgt_bdev_part_create(&dd->part, opts->base_bdev_name, &g_delay_base_opts, opts->name,
	                           err, err_len);
	if (rc == 0 && bdevp != NULL) {
		*bdevp = &dd->part.bdev;
	}
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
