/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bdev core: modules, registration, descriptors, claims, hot remove, channels, library
 * start and stop. The I/O path is in bdev_io.c.
 *
 * Locking: the global bdev list and each bdev's descriptors, claim and status are
 * management state, touched from several threads (opens from front-end threads, RPCs on
 * the app thread), so they sit under g_bdev_mutex (list) and the bdev's own mutex. No
 * lock is taken on the I/O path.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/util.h"
#include "bdev_internal.h"

FTGT_LOG_REGISTER_COMPONENT(bdev)

static pthread_mutex_t g_bdev_mutex = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(bdev_internal_tailq,
                  ftgt_bdev_internal) g_bdevs = TAILQ_HEAD_INITIALIZER(g_bdevs);
static TAILQ_HEAD(ftgt_bdev_module_tailq,
                  ftgt_bdev_module) g_modules = TAILQ_HEAD_INITIALIZER(g_modules);

static struct ftgt_bdev_opts g_opts = {
        .size = sizeof(struct ftgt_bdev_opts),
        .bdev_io_pool_size = 65535,
        .bdev_io_cache_size = 256,
};

static struct ftgt_mempool *g_bdev_io_pool;
uint32_t g_bdev_io_elt_size;
static void *g_zero_buf;
static bool g_initialized;
static int g_bdev_mgr; /* io device of the per-thread management channels */

void
bdev_lock(void)
{
	pthread_mutex_lock(&g_bdev_mutex);
}

void
bdev_unlock(void)
{
	pthread_mutex_unlock(&g_bdev_mutex);
}

bool
bdev_is_initialized(void)
{
	return g_initialized;
}

void *
bdev_zero_buf(void)
{
	return g_zero_buf;
}

/* ---- modules ----------------------------------------------------------------------- */

void
ftgt_bdev_module_list_add(struct ftgt_bdev_module *module)
{
	if (ftgt_bdev_module_find(module->name) != NULL) {
		FTGT_ERRLOG("bdev module '%s' registered twice\n", module->name);
		return;
	}
	TAILQ_INSERT_TAIL(&g_modules, module, link);
}

struct ftgt_bdev_module *
ftgt_bdev_module_find(const char *name)
{
	struct ftgt_bdev_module *m;

	TAILQ_FOREACH (m, &g_modules, link) {
		if (strcmp(m->name, name) == 0) {
			return m;
		}
	}
	return NULL;
}

struct ftgt_bdev_module *
bdev_module_first(void)
{
	return TAILQ_FIRST(&g_modules);
}

struct ftgt_bdev_module *
bdev_module_next(struct ftgt_bdev_module *m)
{
	return TAILQ_NEXT(m, link);
}

/* ---- options, init, fini ----------------------------------------------------------- */

void
ftgt_bdev_get_opts(struct ftgt_bdev_opts *opts)
{
	*opts = g_opts;
}

int
ftgt_bdev_set_opts(const struct ftgt_bdev_opts *opts)
{
	if (g_initialized) {
		return -EBUSY;
	}
	if (opts->bdev_io_pool_size == 0 || opts->bdev_io_cache_size == 0 ||
	    opts->bdev_io_cache_size > opts->bdev_io_pool_size) {
		return -EINVAL;
	}
	g_opts.bdev_io_pool_size = opts->bdev_io_pool_size;
	g_opts.bdev_io_cache_size = opts->bdev_io_cache_size;
	return 0;
}

static int
mgmt_channel_create(void *io_device, void *ctx_buf)
{
	struct bdev_mgmt_channel *mgmt = ctx_buf;
	struct bdev_io_priv *p;
	uint32_t i;

	STAILQ_INIT(&mgmt->cache);
	TAILQ_INIT(&mgmt->io_wait_queue);
	mgmt->cache_max = g_opts.bdev_io_cache_size;
	mgmt->cache_count = 0;
	/* Fill half the cache now; the rest comes from the pool on demand. */
	for (i = 0; i < mgmt->cache_max / 2; i++) {
		p = ftgt_mempool_get(g_bdev_io_pool);
		if (p == NULL) {
			break;
		}
		STAILQ_INSERT_HEAD(&mgmt->cache, p, cache_link);
		mgmt->cache_count++;
	}
	return 0;
}

static void
mgmt_channel_destroy(void *io_device, void *ctx_buf)
{
	struct bdev_mgmt_channel *mgmt = ctx_buf;
	struct bdev_io_priv *p;

	if (!TAILQ_EMPTY(&mgmt->io_wait_queue)) {
		FTGT_ERRLOG("bdev: thread %s gone with I/O waiters queued\n",
		            ftgt_thread_get_name(ftgt_get_thread()));
	}
	while ((p = STAILQ_FIRST(&mgmt->cache)) != NULL) {
		STAILQ_REMOVE_HEAD(&mgmt->cache, cache_link);
		ftgt_mempool_put(g_bdev_io_pool, p);
	}
	mgmt->cache_count = 0;
}

struct bdev_io_priv *
bdev_io_get(struct bdev_channel *ch)
{
	struct bdev_mgmt_channel *mgmt = ch->mgmt;
	struct bdev_io_priv *p = STAILQ_FIRST(&mgmt->cache);

	if (ftgt_likely(p != NULL)) {
		STAILQ_REMOVE_HEAD(&mgmt->cache, cache_link);
		mgmt->cache_count--;
		return p;
	}
	return ftgt_mempool_get(g_bdev_io_pool);
}

void
bdev_io_put(struct bdev_mgmt_channel *mgmt, struct bdev_io_priv *p)
{
	struct ftgt_bdev_io_wait_entry *w;

	if (ftgt_likely(mgmt->cache_count < mgmt->cache_max)) {
		STAILQ_INSERT_HEAD(&mgmt->cache, p, cache_link);
		mgmt->cache_count++;
	} else {
		ftgt_mempool_put(g_bdev_io_pool, p);
	}
	/* Wake waiters while there is something to take (each may take one or more). */
	while (ftgt_unlikely(!TAILQ_EMPTY(&mgmt->io_wait_queue)) && mgmt->cache_count > 0) {
		w = TAILQ_FIRST(&mgmt->io_wait_queue);
		TAILQ_REMOVE(&mgmt->io_wait_queue, w, link);
		w->cb_fn(w->cb_arg);
	}
}

struct init_ctx {
	ftgt_bdev_init_cb cb_fn;
	void *cb_arg;
	int rc;
};

static void
init_done_msg(void *arg)
{
	struct init_ctx *ctx = arg;

	ctx->cb_fn(ctx->cb_arg, ctx->rc);
	free(ctx);
}

void
ftgt_bdev_initialize(ftgt_bdev_init_cb cb_fn, void *cb_arg)
{
	struct init_ctx *ctx = calloc(1, sizeof(*ctx));
	struct ftgt_bdev_module *m, *failed = NULL;
	size_t ctx_size = 0;
	int rc = 0, sz;

	if (ctx == NULL) {
		cb_fn(cb_arg, -ENOMEM); /* cannot defer without memory */
		return;
	}
	ctx->cb_fn = cb_fn;
	ctx->cb_arg = cb_arg;
	if (g_initialized) {
		rc = -EBUSY;
		goto out;
	}
	TAILQ_FOREACH (m, &g_modules, link) {
		if (m->get_ctx_size != NULL) {
			sz = m->get_ctx_size();
			if (sz > 0 && (size_t)sz > ctx_size) {
				ctx_size = (size_t)sz;
			}
		}
	}
	g_bdev_io_elt_size =
	        (uint32_t)FTGT_ALIGN_UP(sizeof(struct bdev_io_priv) + ctx_size, (size_t)64);
	g_bdev_io_pool = ftgt_mempool_create("bdev_io", g_opts.bdev_io_pool_size,
	                                     g_bdev_io_elt_size, 0, FTGT_ENV_SOCKET_ANY);
	if (g_bdev_io_pool == NULL) {
		FTGT_ERRLOG("bdev: cannot create the bdev_io pool (%" PRIu32 " x %" PRIu32
		            " bytes)\n",
		            g_opts.bdev_io_pool_size, g_bdev_io_elt_size);
		rc = -ENOMEM;
		goto out;
	}
	g_zero_buf = ftgt_dma_zmalloc(BDEV_ZERO_BUF_BYTES, 4096);
	if (g_zero_buf == NULL) {
		rc = -ENOMEM;
		goto err_pool;
	}
	ftgt_io_device_register(&g_bdev_mgr, mgmt_channel_create, mgmt_channel_destroy,
	                        sizeof(struct bdev_mgmt_channel), "bdev_mgr");
	TAILQ_FOREACH (m, &g_modules, link) {
		if (m->module_init != NULL) {
			rc = m->module_init();
			if (rc != 0) {
				FTGT_ERRLOG("bdev module '%s' failed to start: %s\n", m->name,
				            strerror(-rc));
				failed = m;
				break;
			}
		}
	}
	if (failed != NULL) {
		for (m = TAILQ_PREV(failed, ftgt_bdev_module_tailq, link); m != NULL;
		     m = TAILQ_PREV(m, ftgt_bdev_module_tailq, link)) {
			if (m->module_fini != NULL) {
				m->module_fini();
			}
		}
		ftgt_io_device_unregister(&g_bdev_mgr, NULL);
		ftgt_dma_free(g_zero_buf);
		g_zero_buf = NULL;
		goto err_pool;
	}
	g_initialized = true;
	goto out;
err_pool:
	ftgt_mempool_free(g_bdev_io_pool);
	g_bdev_io_pool = NULL;
out:
	ctx->rc = rc;
	if (ftgt_thread_send_msg(ftgt_get_thread(), init_done_msg, ctx) != 0) {
		init_done_msg(ctx);
	}
}

struct fini_ctx {
	ftgt_bdev_fini_cb cb_fn;
	void *cb_arg;
	struct ftgt_thread *thread;
};

static void fini_next_bdev(void *arg);

static struct fini_ctx *g_fini_ctx;

static void
fini_mgr_done(void *io_device)
{
	struct fini_ctx *ctx = g_fini_ctx;

	/* The last mgmt channel is gone; every bdev_io is back in the pool. */
	g_fini_ctx = NULL;
	ftgt_mempool_free(g_bdev_io_pool);
	g_bdev_io_pool = NULL;
	ftgt_dma_free(g_zero_buf);
	g_zero_buf = NULL;
	g_initialized = false;
	ctx->cb_fn(ctx->cb_arg);
	free(ctx);
}

static void
fini_free_pool_msg(void *arg)
{
	struct fini_ctx *ctx = arg;
	struct ftgt_bdev_module *m;

	if (!g_initialized) {
		ctx->cb_fn(ctx->cb_arg);
		free(ctx);
		return;
	}
	for (m = TAILQ_LAST(&g_modules, ftgt_bdev_module_tailq); m != NULL;
	     m = TAILQ_PREV(m, ftgt_bdev_module_tailq, link)) {
		if (m->module_fini != NULL) {
			m->module_fini();
		}
	}
	/* The mgmt channels go one message after the last bdev channel. */
	g_fini_ctx = ctx;
	ftgt_io_device_unregister(&g_bdev_mgr, fini_mgr_done);
}

static void
fini_bdev_done(void *arg, int rc)
{
	struct fini_ctx *ctx = arg;

	if (ftgt_thread_send_msg(ctx->thread, fini_next_bdev, ctx) != 0) {
		fini_next_bdev(ctx);
	}
}

static void
fini_next_bdev(void *arg)
{
	struct fini_ctx *ctx = arg;
	struct ftgt_bdev_internal *in;
	struct ftgt_bdev *bdev = NULL;

	/* Newest first: stacked bdevs were registered after their bases. */
	bdev_lock();
	TAILQ_FOREACH_REVERSE (in, &g_bdevs, bdev_internal_tailq, link) {
		pthread_mutex_lock(&in->mutex);
		if (in->status == BDEV_STATUS_READY) {
			bdev = in->bdev;
		}
		pthread_mutex_unlock(&in->mutex);
		if (bdev != NULL) {
			break;
		}
	}
	if (bdev == NULL && !TAILQ_EMPTY(&g_bdevs)) {
		/* Some are being removed already: wait for them. */
		bdev_unlock();
		ftgt_thread_send_msg(ctx->thread, fini_next_bdev, ctx);
		return;
	}
	bdev_unlock();
	if (bdev != NULL) {
		ftgt_bdev_unregister(bdev, fini_bdev_done, ctx);
		return;
	}
	if (ftgt_thread_send_msg(ctx->thread, fini_free_pool_msg, ctx) != 0) {
		fini_free_pool_msg(ctx);
	}
}

void
ftgt_bdev_finish(ftgt_bdev_fini_cb cb_fn, void *cb_arg)
{
	struct fini_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		FTGT_ERRLOG("bdev: out of memory at finish\n");
		cb_fn(cb_arg);
		return;
	}
	ctx->cb_fn = cb_fn;
	ctx->cb_arg = cb_arg;
	ctx->thread = ftgt_get_thread();
	if (!g_initialized) {
		ftgt_thread_send_msg(ctx->thread, fini_free_pool_msg, ctx);
		return;
	}
	fini_next_bdev(ctx);
}

/* ---- names and params -------------------------------------------------------------- */

static bool
bdev_name_taken_locked(const char *name)
{
	return bdev_get_by_name_locked(name) != NULL;
}

struct ftgt_bdev *
bdev_get_by_name_locked(const char *name)
{
	struct ftgt_bdev_internal *in;
	struct bdev_alias *a;

	TAILQ_FOREACH (in, &g_bdevs, link) {
		if (strcmp(in->bdev->name, name) == 0) {
			return in->bdev;
		}
		TAILQ_FOREACH (a, &in->aliases, link) {
			if (strcmp(a->name, name) == 0) {
				return in->bdev;
			}
		}
	}
	return NULL;
}

static int
bdev_check_name(const char *name, char *err, size_t err_len)
{
	size_t len;

	if (name == NULL || name[0] == '\0') {
		snprintf(err, err_len, "bdev name must not be empty");
		return -EINVAL;
	}
	len = strlen(name);
	if (len > FTGT_BDEV_MAX_NAME_LEN) {
		snprintf(err, err_len, "bdev name is %zu characters long; at most %d allowed", len,
		         FTGT_BDEV_MAX_NAME_LEN);
		return -EINVAL;
	}
	if (strchr(name, '/') != NULL) {
		snprintf(err, err_len, "bdev name '%s' must not contain '/'", name);
		return -EINVAL;
	}
	return 0;
}

int
ftgt_bdev_check_params(const char *name, uint32_t blocklen, uint32_t md_len, bool md_interleave,
                       uint64_t blockcnt, char *err, size_t err_len)
{
	char dummy[8];
	uint32_t data_len;
	int rc;

	if (err == NULL) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	if (name != NULL) {
		rc = bdev_check_name(name, err, err_len);
		if (rc != 0) {
			return rc;
		}
		bdev_lock();
		rc = bdev_name_taken_locked(name) ? -EEXIST : 0;
		bdev_unlock();
		if (rc != 0) {
			snprintf(err, err_len, "bdev name '%s' already exists", name);
			return rc;
		}
	}
	if (md_interleave && md_len >= blocklen) {
		snprintf(err, err_len, "metadata size %" PRIu32 " is not below block size %" PRIu32,
		         md_len, blocklen);
		return -EINVAL;
	}
	data_len = md_interleave ? blocklen - md_len : blocklen;
	if (!FTGT_IS_POW2(data_len) || data_len < 512 || data_len > 65536) {
		if (md_interleave && md_len != 0) {
			snprintf(err, err_len,
			         "block size %" PRIu32 " with %" PRIu32
			         " bytes of interleaved metadata leaves %" PRIu32
			         " data bytes: use 512 or 4096 data bytes per block (e.g. 520, "
			         "4104)",
			         blocklen, md_len, data_len);
		} else {
			snprintf(err, err_len,
			         "block size %" PRIu32
			         " is not supported: use 512 or 4096 (520 or 4104 with metadata)",
			         blocklen);
		}
		return -EINVAL;
	}
	if (md_len > 128) {
		snprintf(err, err_len, "metadata size %" PRIu32 " is too large (at most 128)",
		         md_len);
		return -EINVAL;
	}
	if (blockcnt == 0) {
		snprintf(err, err_len, "the number of blocks must be greater than 0");
		return -EINVAL;
	}
	if (blockcnt > UINT64_MAX / blocklen) {
		snprintf(err, err_len, "size %" PRIu64 " blocks of %" PRIu32 " bytes overflows",
		         blockcnt, blocklen);
		return -EINVAL;
	}
	return 0;
}

/* ---- register / unregister --------------------------------------------------------- */

int
ftgt_bdev_register(struct ftgt_bdev *bdev)
{
	struct ftgt_bdev_internal *in;
	char err[256];
	int rc;

	if (bdev == NULL || bdev->fn_table == NULL || bdev->module == NULL ||
	    bdev->fn_table->destruct == NULL || bdev->fn_table->submit_request == NULL ||
	    bdev->fn_table->io_type_supported == NULL || bdev->fn_table->get_io_channel == NULL) {
		FTGT_ERRLOG("bdev register: fn_table or module missing\n");
		return -EINVAL;
	}
	if (!g_initialized) {
		FTGT_ERRLOG("bdev register '%s': the bdev library is not started\n",
		            bdev->name ? bdev->name : "");
		return -EINVAL;
	}
	rc = ftgt_bdev_check_params(NULL, bdev->blocklen, bdev->md_len, bdev->md_interleave,
	                            bdev->blockcnt, err, sizeof(err));
	if (rc == 0) {
		rc = bdev_check_name(bdev->name, err, sizeof(err));
	}
	if (rc != 0) {
		FTGT_ERRLOG("bdev register: %s\n", err);
		return rc;
	}
	in = calloc(1, sizeof(*in));
	if (in == NULL) {
		return -ENOMEM;
	}
	in->bdev = bdev;
	pthread_mutex_init(&in->mutex, NULL);
	TAILQ_INIT(&in->aliases);
	TAILQ_INIT(&in->open_descs);
	in->status = BDEV_STATUS_READY;
	bdev_stat_init(&in->stat_gone);
	in->stat_reset_tsc = ftgt_get_ticks();
	if (ftgt_uuid_is_null(&bdev->uuid)) {
		ftgt_uuid_generate(&bdev->uuid);
	}
	if (bdev->acwu == 0) {
		bdev->acwu = 1;
	}

	bdev_lock();
	if (bdev_name_taken_locked(bdev->name)) {
		bdev_unlock();
		FTGT_ERRLOG("bdev register: name '%s' already exists\n", bdev->name);
		pthread_mutex_destroy(&in->mutex);
		free(in);
		return -EEXIST;
	}
	bdev->internal = in;
	ftgt_io_device_register(in, bdev_channel_create, bdev_channel_destroy,
	                        sizeof(struct bdev_channel), bdev->name);
	TAILQ_INSERT_TAIL(&g_bdevs, in, link);
	bdev_unlock();
	FTGT_DEBUGLOG(bdev, "registered bdev %s (%s)\n", bdev->name, bdev->module->name);

	/* Let stacking modules look at it. */
	struct ftgt_bdev_module *m;
	TAILQ_FOREACH (m, &g_modules, link) {
		if (m->examine != NULL && m != bdev->module) {
			m->examine(bdev);
		}
	}
	return 0;
}

struct unreg_done_ctx {
	ftgt_bdev_unregister_cb cb_fn;
	void *cb_arg;
	int rc;
};

static void
unreg_done_msg(void *arg)
{
	struct unreg_done_ctx *c = arg;

	if (c->cb_fn != NULL) {
		c->cb_fn(c->cb_arg, c->rc);
	}
	free(c);
}

static void
bdev_free_internal(struct ftgt_bdev_internal *in)
{
	struct bdev_alias *a;

	while ((a = TAILQ_FIRST(&in->aliases)) != NULL) {
		TAILQ_REMOVE(&in->aliases, a, link);
		free(a->name);
		free(a);
	}
	free(in->claim_owner);
	free(in->hist_gone);
	pthread_mutex_destroy(&in->mutex);
	free(in);
}

/* On the unregistering thread: destruct, then the caller's callback. */
static void
bdev_destruct_msg(void *arg)
{
	struct ftgt_bdev_internal *in = arg;
	struct ftgt_bdev *bdev = in->bdev;
	ftgt_bdev_unregister_cb cb_fn = in->unregister_cb;
	void *cb_arg = in->unregister_arg;
	int rc;

	rc = bdev->fn_table->destruct(bdev->ctxt);
	if (rc > 0) {
		return; /* ftgt_bdev_destruct_done() finishes */
	}
	if (rc < 0) {
		FTGT_ERRLOG("bdev: destruct failed: %s\n", strerror(-rc));
	}
	bdev_free_internal(in);
	if (cb_fn != NULL) {
		cb_fn(cb_arg, rc);
	}
}

struct destruct_done_ctx {
	struct ftgt_bdev_internal *in;
	int rc;
};

static void
destruct_done_msg(void *arg)
{
	struct destruct_done_ctx *c = arg;
	ftgt_bdev_unregister_cb cb_fn = c->in->unregister_cb;
	void *cb_arg = c->in->unregister_arg;
	int rc = c->rc;

	bdev_free_internal(c->in);
	free(c);
	if (cb_fn != NULL) {
		cb_fn(cb_arg, rc);
	}
}

void
ftgt_bdev_destruct_done(struct ftgt_bdev *bdev, int rc)
{
	/* The core keeps `internal` alive through bdev->internal until here. */
	struct ftgt_bdev_internal *in = bdev->internal;
	struct destruct_done_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		FTGT_ERRLOG("bdev: out of memory in destruct_done\n");
		return;
	}
	c->in = in;
	c->rc = rc;
	if (ftgt_thread_send_msg(in->unregister_thread, destruct_done_msg, c) != 0) {
		destruct_done_msg(c);
	}
}

static void
bdev_device_gone(void *io_device)
{
	struct ftgt_bdev_internal *in = io_device;

	if (ftgt_thread_send_msg(in->unregister_thread, bdev_destruct_msg, in) != 0) {
		bdev_destruct_msg(in);
	}
}

/*
 * With in->mutex held: whether the end may start now (nothing holds the bdev). The
 * caller then calls bdev_unregister_finish() after dropping in->mutex (the list lock is
 * always taken before a bdev's mutex, never after).
 */
static bool
bdev_unregister_should_finish_locked(struct ftgt_bdev_internal *in)
{
	if (in->status != BDEV_STATUS_REMOVING || in->open_count != 0 || !in->remove_walk_done ||
	    in->event_msgs != 0 || in->finishing) {
		return false;
	}
	in->finishing = true;
	return true;
}

static void
bdev_unregister_finish(struct ftgt_bdev_internal *in)
{
	bdev_lock();
	TAILQ_REMOVE(&g_bdevs, in, link);
	bdev_unlock();
	ftgt_io_device_unregister(in, bdev_device_gone);
}

static void
remove_walk_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));

	ch->flags |= BDEV_CH_REMOVING;
	bdev_channel_abort_queued(ch);
	ftgt_for_each_channel_continue(i, 0);
}

static void
remove_walk_qos_done(void *arg)
{
	struct ftgt_bdev_internal *in = arg;

	bool finish;

	pthread_mutex_lock(&in->mutex);
	in->remove_walk_done = true;
	finish = bdev_unregister_should_finish_locked(in);
	pthread_mutex_unlock(&in->mutex);
	if (finish) {
		bdev_unregister_finish(in);
	}
}

static void
remove_walk_done(struct ftgt_io_channel_iter *i, int status)
{
	struct ftgt_bdev_internal *in = ftgt_io_channel_iter_get_io_device(i);

	bdev_qos_unregister(in->bdev, remove_walk_qos_done, in);
}

static void
desc_put_locked(struct ftgt_bdev_desc *desc, bool *free_it)
{
	*free_it = (--desc->refs == 0);
}

static void
desc_event_msg(void *arg)
{
	struct ftgt_bdev_desc *desc = arg;
	struct ftgt_bdev_internal *in = desc->bdev->internal;
	bool closed, free_it, finish;

	pthread_mutex_lock(&in->mutex);
	closed = desc->closed;
	pthread_mutex_unlock(&in->mutex);
	if (!closed) {
		desc->event_cb(FTGT_BDEV_EVENT_REMOVE, desc->bdev, desc->event_ctx);
	}
	pthread_mutex_lock(&in->mutex);
	in->event_msgs--;
	desc_put_locked(desc, &free_it);
	finish = bdev_unregister_should_finish_locked(in);
	pthread_mutex_unlock(&in->mutex);
	if (free_it) {
		free(desc);
	}
	if (finish) {
		bdev_unregister_finish(in);
	}
}

static void bdev_unregister_here(struct ftgt_bdev *bdev, ftgt_bdev_unregister_cb cb_fn,
                                 void *cb_arg);

/*
 * Unregistration (and so the freeing of the bdev's state) always happens on the app
 * thread, where the management path iterates the bdev list; a module's hot remove from
 * a reactor hops there, and its callback hops back.
 */
struct unreg_hop {
	struct ftgt_bdev *bdev;
	ftgt_bdev_unregister_cb cb_fn;
	void *cb_arg;
	struct ftgt_thread *caller;
	int rc;
};

static void
unreg_hop_back_msg(void *arg)
{
	struct unreg_hop *h = arg;

	if (h->cb_fn != NULL) {
		h->cb_fn(h->cb_arg, h->rc);
	}
	free(h);
}

static void
unreg_hop_done(void *arg, int rc)
{
	struct unreg_hop *h = arg;

	h->rc = rc;
	if (ftgt_thread_send_msg(h->caller, unreg_hop_back_msg, h) != 0) {
		FTGT_ERRLOG("bdev: cannot return an unregister completion to its thread\n");
		free(h);
	}
}

static void
unreg_hop_msg(void *arg)
{
	struct unreg_hop *h = arg;

	bdev_unregister_here(h->bdev, unreg_hop_done, h);
}

void
ftgt_bdev_unregister(struct ftgt_bdev *bdev, ftgt_bdev_unregister_cb cb_fn, void *cb_arg)
{
	struct ftgt_thread *app = ftgt_thread_get_app_thread();
	struct unreg_hop *h;

	if (app == NULL || app == ftgt_get_thread()) {
		bdev_unregister_here(bdev, cb_fn, cb_arg);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (h != NULL) {
		h->bdev = bdev;
		h->cb_fn = cb_fn;
		h->cb_arg = cb_arg;
		h->caller = ftgt_get_thread();
		if (ftgt_thread_send_msg(app, unreg_hop_msg, h) == 0) {
			return;
		}
		free(h);
	}
	FTGT_ERRLOG("bdev %s: cannot reach the app thread; unregistering here\n", bdev->name);
	bdev_unregister_here(bdev, cb_fn, cb_arg);
}

static void
bdev_unregister_here(struct ftgt_bdev *bdev, ftgt_bdev_unregister_cb cb_fn, void *cb_arg)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct ftgt_bdev_desc *desc;
	struct unreg_done_ctx *c;

	pthread_mutex_lock(&in->mutex);
	if (in->status == BDEV_STATUS_REMOVING) {
		pthread_mutex_unlock(&in->mutex);
		c = calloc(1, sizeof(*c));
		if (c != NULL) {
			c->cb_fn = cb_fn;
			c->cb_arg = cb_arg;
			c->rc = -ENODEV;
			ftgt_thread_send_msg(ftgt_get_thread(), unreg_done_msg, c);
		}
		return;
	}
	in->status = BDEV_STATUS_REMOVING;
	in->unregister_cb = cb_fn;
	in->unregister_arg = cb_arg;
	in->unregister_thread = ftgt_get_thread();
	TAILQ_FOREACH (desc, &in->open_descs, link) {
		desc->refs++;
		in->event_msgs++;
		if (ftgt_thread_send_msg(desc->thread, desc_event_msg, desc) != 0) {
			desc->refs--;
			in->event_msgs--;
			FTGT_ERRLOG("bdev %s: cannot notify a holder of the removal\n", bdev->name);
		}
	}
	pthread_mutex_unlock(&in->mutex);
	FTGT_DEBUGLOG(bdev, "unregistering bdev %s\n", bdev->name);
	ftgt_for_each_channel(in, remove_walk_ch, NULL, remove_walk_done);
}

int
ftgt_bdev_check_delete(const struct ftgt_bdev *bdev, char *err, size_t err_len)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	char dummy[8];
	int rc = 0;

	if (err == NULL) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	pthread_mutex_lock(&in->mutex);
	if (in->claim_owner != NULL) {
		snprintf(err, err_len, "bdev '%s' is claimed by %s '%s'", bdev->name,
		         in->claim_module != NULL ? "module" : "", in->claim_owner);
		if (in->claim_module == NULL) {
			snprintf(err, err_len, "bdev '%s' is claimed by '%s'", bdev->name,
			         in->claim_owner);
		}
		rc = -EBUSY;
	} else if (in->open_count != 0) {
		snprintf(err, err_len, "bdev '%s' is open by %" PRIu32 " descriptor%s", bdev->name,
		         in->open_count, in->open_count == 1 ? "" : "s");
		rc = -EBUSY;
	} else if (in->status == BDEV_STATUS_REMOVING) {
		snprintf(err, err_len, "bdev '%s' is already being deleted", bdev->name);
		rc = -ENODEV;
	}
	pthread_mutex_unlock(&in->mutex);
	return rc;
}

int
ftgt_bdev_unregister_by_name(const char *name, struct ftgt_bdev_module *module,
                             ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err, size_t err_len)
{
	struct ftgt_bdev *bdev;
	char dummy[8];
	int rc;

	if (err == NULL) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	if (name == NULL) {
		snprintf(err, err_len, "bdev name missing");
		return -EINVAL;
	}
	/*
	 * The check and the unregister are not atomic against an open from another thread;
	 * an open that slips in between gets a REMOVE event like any holder.
	 */
	bdev_lock();
	bdev = bdev_get_by_name_locked(name);
	bdev_unlock();
	if (bdev == NULL) {
		snprintf(err, err_len, "bdev '%s' does not exist", name);
		return -ENODEV;
	}
	if (module != NULL && bdev->module != module) {
		snprintf(err, err_len, "bdev '%s' is a %s bdev, not a %s bdev", name,
		         bdev->module->name, module->name);
		return -EINVAL;
	}
	rc = ftgt_bdev_check_delete(bdev, err, err_len);
	if (rc != 0) {
		return rc;
	}
	ftgt_bdev_unregister(bdev, cb_fn, cb_arg);
	return 0;
}

/* ---- open / close / claims --------------------------------------------------------- */

int
ftgt_bdev_open_ext(const char *name, bool write, ftgt_bdev_event_cb event_cb, void *event_ctx,
                   struct ftgt_bdev_desc **descp)
{
	struct ftgt_bdev_internal *in;
	struct ftgt_bdev_desc *desc;
	struct ftgt_bdev *bdev;

	if (name == NULL || event_cb == NULL || descp == NULL) {
		return -EINVAL;
	}
	desc = calloc(1, sizeof(*desc));
	if (desc == NULL) {
		return -ENOMEM;
	}
	bdev_lock();
	bdev = bdev_get_by_name_locked(name);
	if (bdev == NULL) {
		bdev_unlock();
		free(desc);
		return -ENODEV;
	}
	in = bdev->internal;
	pthread_mutex_lock(&in->mutex);
	bdev_unlock();
	if (in->status != BDEV_STATUS_READY) {
		pthread_mutex_unlock(&in->mutex);
		free(desc);
		return -ENODEV;
	}
	if (write && in->claim_owner != NULL) {
		FTGT_ERRLOG("bdev %s: claimed by '%s'; no write access\n", bdev->name,
		            in->claim_owner);
		pthread_mutex_unlock(&in->mutex);
		free(desc);
		return -EPERM;
	}
	desc->bdev = bdev;
	desc->thread = ftgt_get_thread();
	desc->event_cb = event_cb;
	desc->event_ctx = event_ctx;
	desc->write = write;
	desc->refs = 1;
	TAILQ_INSERT_TAIL(&in->open_descs, desc, link);
	in->open_count++;
	pthread_mutex_unlock(&in->mutex);
	*descp = desc;
	return 0;
}

static void
claim_release_locked(struct ftgt_bdev_internal *in)
{
	free(in->claim_owner);
	in->claim_owner = NULL;
	in->claim_module = NULL;
	in->claim_desc = NULL;
}

void
ftgt_bdev_close(struct ftgt_bdev_desc *desc)
{
	struct ftgt_bdev_internal *in = desc->bdev->internal;
	bool free_it, finish;

	pthread_mutex_lock(&in->mutex);
	TAILQ_REMOVE(&in->open_descs, desc, link);
	in->open_count--;
	if (in->claim_desc == desc) {
		claim_release_locked(in);
	}
	desc->closed = true;
	desc_put_locked(desc, &free_it);
	finish = bdev_unregister_should_finish_locked(in);
	pthread_mutex_unlock(&in->mutex);
	if (free_it) {
		free(desc);
	}
	if (finish) {
		bdev_unregister_finish(in);
	}
}

struct ftgt_bdev *
ftgt_bdev_desc_get_bdev(struct ftgt_bdev_desc *desc)
{
	return desc->bdev;
}

bool bdev_desc_is_write(const struct ftgt_bdev_desc *desc);
bool
bdev_desc_is_write(const struct ftgt_bdev_desc *desc)
{
	return desc->write;
}

static int
bdev_claim(struct ftgt_bdev_desc *desc, const char *owner, struct ftgt_bdev_module *module)
{
	struct ftgt_bdev_internal *in = desc->bdev->internal;
	char *dup;

	if (owner == NULL || owner[0] == '\0') {
		return -EINVAL;
	}
	dup = strdup(owner);
	if (dup == NULL) {
		return -ENOMEM;
	}
	pthread_mutex_lock(&in->mutex);
	if (in->claim_owner != NULL) {
		FTGT_ERRLOG("bdev %s: already claimed by '%s'\n", desc->bdev->name,
		            in->claim_owner);
		pthread_mutex_unlock(&in->mutex);
		free(dup);
		return -EPERM;
	}
	in->claim_owner = dup;
	in->claim_module = module;
	in->claim_desc = desc;
	/* The claimer writes through its descriptor. */
	desc->write = true;
	pthread_mutex_unlock(&in->mutex);
	return 0;
}

int
ftgt_bdev_claim(struct ftgt_bdev_desc *desc, const char *owner)
{
	if (desc == NULL) {
		return -EINVAL;
	}
	return bdev_claim(desc, owner, NULL);
}

void
ftgt_bdev_release(struct ftgt_bdev_desc *desc)
{
	struct ftgt_bdev_internal *in = desc->bdev->internal;

	pthread_mutex_lock(&in->mutex);
	if (in->claim_desc == desc) {
		claim_release_locked(in);
	}
	pthread_mutex_unlock(&in->mutex);
}

int
ftgt_bdev_module_claim_bdev(struct ftgt_bdev *bdev, struct ftgt_bdev_desc *desc,
                            struct ftgt_bdev_module *module)
{
	if (bdev == NULL || desc == NULL || module == NULL || desc->bdev != bdev) {
		return -EINVAL;
	}
	return bdev_claim(desc, module->name, module);
}

void
ftgt_bdev_module_release_bdev(struct ftgt_bdev *bdev)
{
	struct ftgt_bdev_internal *in = bdev->internal;

	pthread_mutex_lock(&in->mutex);
	claim_release_locked(in);
	pthread_mutex_unlock(&in->mutex);
}

const char *
ftgt_bdev_get_claim_owner(const struct ftgt_bdev *bdev)
{
	/* Read without the lock: management display only. */
	return bdev->internal->claim_owner;
}

/* ---- resize ------------------------------------------------------------------------ */

static void
desc_resize_msg(void *arg)
{
	struct ftgt_bdev_desc *desc = arg;
	struct ftgt_bdev_internal *in = desc->bdev->internal;
	bool closed, free_it, finish;

	pthread_mutex_lock(&in->mutex);
	closed = desc->closed;
	pthread_mutex_unlock(&in->mutex);
	if (!closed) {
		desc->event_cb(FTGT_BDEV_EVENT_RESIZE, desc->bdev, desc->event_ctx);
	}
	pthread_mutex_lock(&in->mutex);
	in->event_msgs--;
	desc_put_locked(desc, &free_it);
	finish = bdev_unregister_should_finish_locked(in);
	pthread_mutex_unlock(&in->mutex);
	if (free_it) {
		free(desc);
	}
	if (finish) {
		bdev_unregister_finish(in);
	}
}

int
ftgt_bdev_notify_blockcnt_change(struct ftgt_bdev *bdev, uint64_t blockcnt)
{
	struct ftgt_bdev_internal *in = bdev->internal;
	struct ftgt_bdev_desc *desc;

	if (blockcnt == 0) {
		return -EINVAL;
	}
	pthread_mutex_lock(&in->mutex);
	if (blockcnt < bdev->blockcnt && (in->open_count != 0 || in->claim_owner != NULL)) {
		pthread_mutex_unlock(&in->mutex);
		return -EBUSY;
	}
	bdev->blockcnt = blockcnt;
	TAILQ_FOREACH (desc, &in->open_descs, link) {
		desc->refs++;
		in->event_msgs++;
		if (ftgt_thread_send_msg(desc->thread, desc_resize_msg, desc) != 0) {
			desc->refs--;
			in->event_msgs--;
		}
	}
	pthread_mutex_unlock(&in->mutex);
	return 0;
}

/* ---- lookup and properties --------------------------------------------------------- */

struct ftgt_bdev *
ftgt_bdev_get_by_name(const char *name)
{
	struct ftgt_bdev *bdev;

	if (name == NULL) {
		return NULL;
	}
	bdev_lock();
	bdev = bdev_get_by_name_locked(name);
	bdev_unlock();
	return bdev;
}

struct ftgt_bdev *
ftgt_bdev_first(void)
{
	struct ftgt_bdev_internal *in;

	bdev_lock();
	in = TAILQ_FIRST(&g_bdevs);
	bdev_unlock();
	return in ? in->bdev : NULL;
}

struct ftgt_bdev *
ftgt_bdev_next(struct ftgt_bdev *prev)
{
	struct ftgt_bdev_internal *in;

	bdev_lock();
	in = TAILQ_NEXT(prev->internal, link);
	bdev_unlock();
	return in ? in->bdev : NULL;
}

struct ftgt_bdev *
ftgt_bdev_first_leaf(void)
{
	struct ftgt_bdev *b = ftgt_bdev_first();

	while (b != NULL && b->internal->claim_owner != NULL) {
		b = ftgt_bdev_next(b);
	}
	return b;
}

struct ftgt_bdev *
ftgt_bdev_next_leaf(struct ftgt_bdev *prev)
{
	struct ftgt_bdev *b = ftgt_bdev_next(prev);

	while (b != NULL && b->internal->claim_owner != NULL) {
		b = ftgt_bdev_next(b);
	}
	return b;
}

const char *
ftgt_bdev_get_name(const struct ftgt_bdev *bdev)
{
	return bdev->name;
}

const char *
ftgt_bdev_get_product_name(const struct ftgt_bdev *bdev)
{
	return bdev->product_name ? bdev->product_name : "";
}

const char *
ftgt_bdev_get_module_name(const struct ftgt_bdev *bdev)
{
	return bdev->module->name;
}

void
ftgt_bdev_for_each_alias(const struct ftgt_bdev *bdev, int (*fn)(const char *alias, void *ctx),
                         void *ctx)
{
	struct bdev_alias *a;

	bdev_lock();
	TAILQ_FOREACH (a, &bdev->internal->aliases, link) {
		if (fn(a->name, ctx) != 0) {
			break;
		}
	}
	bdev_unlock();
}

int
ftgt_bdev_alias_add(struct ftgt_bdev *bdev, const char *alias)
{
	struct bdev_alias *a;
	char err[128];

	if (bdev_check_name(alias, err, sizeof(err)) != 0) {
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return -ENOMEM;
	}
	a->name = strdup(alias);
	if (a->name == NULL) {
		free(a);
		return -ENOMEM;
	}
	bdev_lock();
	if (bdev_name_taken_locked(alias)) {
		bdev_unlock();
		free(a->name);
		free(a);
		return -EEXIST;
	}
	TAILQ_INSERT_TAIL(&bdev->internal->aliases, a, link);
	bdev_unlock();
	return 0;
}

int
ftgt_bdev_alias_del(struct ftgt_bdev *bdev, const char *alias)
{
	struct bdev_alias *a;

	if (alias == NULL) {
		return -EINVAL;
	}
	bdev_lock();
	TAILQ_FOREACH (a, &bdev->internal->aliases, link) {
		if (strcmp(a->name, alias) == 0) {
			TAILQ_REMOVE(&bdev->internal->aliases, a, link);
			bdev_unlock();
			free(a->name);
			free(a);
			return 0;
		}
	}
	bdev_unlock();
	return -ENOENT;
}

uint32_t
ftgt_bdev_get_block_size(const struct ftgt_bdev *bdev)
{
	return bdev->blocklen;
}

uint32_t
ftgt_bdev_get_data_block_size(const struct ftgt_bdev *bdev)
{
	return bdev->md_interleave ? bdev->blocklen - bdev->md_len : bdev->blocklen;
}

uint64_t
ftgt_bdev_get_num_blocks(const struct ftgt_bdev *bdev)
{
	return bdev->blockcnt;
}

uint32_t
ftgt_bdev_get_md_size(const struct ftgt_bdev *bdev)
{
	return bdev->md_len;
}

bool
ftgt_bdev_is_md_interleaved(const struct ftgt_bdev *bdev)
{
	return bdev->md_len != 0 && bdev->md_interleave;
}

bool
ftgt_bdev_is_md_separate(const struct ftgt_bdev *bdev)
{
	return bdev->md_len != 0 && !bdev->md_interleave;
}

const struct ftgt_uuid *
ftgt_bdev_get_uuid(const struct ftgt_bdev *bdev)
{
	return &bdev->uuid;
}

bool
ftgt_bdev_has_write_cache(const struct ftgt_bdev *bdev)
{
	return bdev->write_cache;
}

uint32_t
ftgt_bdev_get_optimal_io_boundary(const struct ftgt_bdev *bdev)
{
	return bdev->optimal_io_boundary;
}

uint32_t
ftgt_bdev_get_max_rw_blocks(const struct ftgt_bdev *bdev)
{
	return bdev->max_rw_size;
}

size_t
ftgt_bdev_get_buf_align(const struct ftgt_bdev *bdev)
{
	return (size_t)1 << bdev->required_alignment;
}

uint32_t
ftgt_bdev_get_acwu(const struct ftgt_bdev *bdev)
{
	return bdev->acwu ? bdev->acwu : 1;
}

bool
ftgt_bdev_io_type_supported(struct ftgt_bdev *bdev, enum ftgt_bdev_io_type type)
{
	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES: /* emulated with writes */
	case FTGT_BDEV_IO_TYPE_COMPARE:      /* emulated with a read */
	case FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE:
	case FTGT_BDEV_IO_TYPE_RESET: /* the core's reset waits for in-flight I/O */
	case FTGT_BDEV_IO_TYPE_ABORT: /* of I/O queued in the core at least */
		return true;
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_FLUSH:
		return bdev->fn_table->io_type_supported(bdev->ctxt, type);
	default:
		return false;
	}
}

const char *
ftgt_bdev_io_type_name(enum ftgt_bdev_io_type type)
{
	static const char *const names[FTGT_BDEV_NUM_IO_TYPES] = {
	        [FTGT_BDEV_IO_TYPE_INVALID] = "invalid",
	        [FTGT_BDEV_IO_TYPE_READ] = "read",
	        [FTGT_BDEV_IO_TYPE_WRITE] = "write",
	        [FTGT_BDEV_IO_TYPE_UNMAP] = "unmap",
	        [FTGT_BDEV_IO_TYPE_FLUSH] = "flush",
	        [FTGT_BDEV_IO_TYPE_RESET] = "reset",
	        [FTGT_BDEV_IO_TYPE_WRITE_ZEROES] = "write_zeroes",
	        [FTGT_BDEV_IO_TYPE_COMPARE] = "compare",
	        [FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE] = "compare_and_write",
	        [FTGT_BDEV_IO_TYPE_ABORT] = "abort",
	};

	if ((unsigned int)type >= FTGT_BDEV_NUM_IO_TYPES) {
		return "invalid";
	}
	return names[type];
}

/* ---- channels ---------------------------------------------------------------------- */

struct ftgt_io_channel *
ftgt_bdev_get_io_channel(struct ftgt_bdev_desc *desc)
{
	struct ftgt_bdev_internal *in = desc->bdev->internal;
	enum bdev_status st;

	pthread_mutex_lock(&in->mutex);
	st = in->status;
	pthread_mutex_unlock(&in->mutex);
	if (st != BDEV_STATUS_READY) {
		return NULL;
	}
	return ftgt_get_io_channel(in);
}

int
bdev_channel_create(void *io_device, void *ctx_buf)
{
	struct ftgt_bdev_internal *in = io_device;
	struct ftgt_bdev *bdev = in->bdev;
	struct bdev_channel *ch = ctx_buf;

	memset(ch, 0, sizeof(*ch));
	ch->bdev = bdev;
	ch->thread = ftgt_get_thread();
	TAILQ_INIT(&ch->io_submitted);
	TAILQ_INIT(&ch->nomem_io);
	TAILQ_INIT(&ch->locked_io);
	TAILQ_INIT(&ch->held_io);
	TAILQ_INIT(&ch->cpl_deferred);
	TAILQ_INIT(&ch->locked_ranges);
	bdev_stat_init(&ch->stat);
	ch->mgmt_ch = ftgt_get_io_channel(&g_bdev_mgr);
	if (ch->mgmt_ch == NULL) {
		return -ENOMEM;
	}
	ch->mgmt = ftgt_io_channel_get_ctx(ch->mgmt_ch);
	ch->module_ch = bdev->fn_table->get_io_channel(bdev->ctxt);
	if (ch->module_ch == NULL) {
		ftgt_put_io_channel(ch->mgmt_ch);
		return -ENOMEM;
	}
	pthread_mutex_lock(&in->mutex);
	if (in->histogram_enabled) {
		ch->hist = bdev_hist_alloc();
	}
	if (in->status == BDEV_STATUS_REMOVING) {
		ch->flags |= BDEV_CH_REMOVING;
	}
	pthread_mutex_unlock(&in->mutex);
	bdev_qos_channel_attach(ch);
	return 0;
}

void
bdev_channel_destroy(void *io_device, void *ctx_buf)
{
	struct ftgt_bdev_internal *in = io_device;
	struct bdev_channel *ch = ctx_buf;
	uint32_t t;

	bdev_channel_abort_queued(ch);
	if (!TAILQ_EMPTY(&ch->io_submitted) || ch->io_outstanding != 0) {
		FTGT_ERRLOG("bdev %s: channel on %s released with I/O in flight\n", ch->bdev->name,
		            ftgt_thread_get_name(ch->thread));
	}
	ftgt_poller_unregister(&ch->nomem_poller);
	ftgt_poller_unregister(&ch->cpl_poller);
	pthread_mutex_lock(&in->mutex);
	bdev_stat_add(&in->stat_gone, &ch->stat);
	if (ch->hist != NULL && in->hist_gone != NULL) {
		for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
			ftgt_histogram_merge(&in->hist_gone[t], &ch->hist[t]);
		}
	}
	pthread_mutex_unlock(&in->mutex);
	free(ch->hist);
	ch->hist = NULL;
	ftgt_put_io_channel(ch->module_ch);
	ftgt_put_io_channel(ch->mgmt_ch);
}
