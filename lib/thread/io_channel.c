/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io devices and their per-thread io channels.
 *
 * Locking: g_devlist_lock protects g_devices and, in each io_device, channel_count,
 * for_each_count, unregistered and the unregister fields. It is taken on the management
 * path only (register, unregister, channel create and destroy, for_each_channel start
 * and end); a thread's list of channels (thread->io_channels) and each channel's
 * reference count are touched only by the owning thread, without a lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "ftgt/util.h"
#include "thread_internal.h"

struct io_device {
	void *io_device;
	ftgt_io_channel_create_cb create_cb;
	ftgt_io_channel_destroy_cb destroy_cb;
	ftgt_io_device_unregister_cb unregister_cb;
	struct ftgt_thread *unregister_thread;
	uint32_t ctx_size;
	uint32_t channel_count;  /* channels that exist, on any thread */
	uint32_t for_each_count; /* ftgt_for_each_channel() walks in flight */
	bool unregistered;
	char name[THREAD_NAME_LEN];
	TAILQ_ENTRY(io_device) link;
};

struct ftgt_io_channel {
	struct ftgt_thread *thread;
	struct io_device *dev;
	uint32_t ref;
	bool destroy_pending; /* a destroy message is on its way to this thread */
	TAILQ_ENTRY(ftgt_io_channel) tailq;
	/* The device's per-channel context follows, cache-line aligned. */
	uint8_t ctx[] __attribute__((aligned(FTGT_CACHE_LINE_SIZE)));
};

struct ftgt_io_channel_iter {
	struct io_device *dev;
	void *io_device;
	ftgt_channel_msg fn;
	ftgt_channel_for_each_cpl cpl;
	void *ctx;
	struct ftgt_thread *orig;
	uint64_t cur_id;
	struct ftgt_io_channel *ch;
	int status;
};

static pthread_mutex_t g_devlist_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, io_device) g_devices = TAILQ_HEAD_INITIALIZER(g_devices);

/* Under g_devlist_lock: the registered (not unregistering) device for a pointer. */
static struct io_device *
io_device_find_locked(void *io_device)
{
	struct io_device *dev;

	TAILQ_FOREACH (dev, &g_devices, link) {
		if (dev->io_device == io_device && !dev->unregistered) {
			return dev;
		}
	}
	return NULL;
}

void
ftgt_io_device_register(void *io_device, ftgt_io_channel_create_cb create_cb,
                        ftgt_io_channel_destroy_cb destroy_cb, uint32_t ctx_size, const char *name)
{
	struct io_device *dev;

	dev = calloc(1, sizeof(*dev));
	if (dev == NULL) {
		FTGT_ERRLOG("io_device %s: out of memory\n", name != NULL ? name : "?");
		return;
	}
	dev->io_device = io_device;
	dev->create_cb = create_cb;
	dev->destroy_cb = destroy_cb;
	dev->ctx_size = ctx_size;
	snprintf(dev->name, sizeof(dev->name), "%s", name != NULL ? name : "io_device");

	pthread_mutex_lock(&g_devlist_lock);
	if (io_device_find_locked(io_device) != NULL) {
		pthread_mutex_unlock(&g_devlist_lock);
		FTGT_ERRLOG("io_device %s (%p) is already registered\n", dev->name, io_device);
		free(dev);
		return;
	}
	TAILQ_INSERT_TAIL(&g_devices, dev, link);
	pthread_mutex_unlock(&g_devlist_lock);
}

static void
io_device_unregister_done(void *arg)
{
	struct io_device *dev = arg;

	if (dev->unregister_cb != NULL) {
		dev->unregister_cb(dev->io_device);
	}
	free(dev);
}

/*
 * Under g_devlist_lock: when an unregistering device has no channel and no walk left,
 * take it off the list and return true; the caller then sends the completion.
 */
static bool
io_device_try_release_locked(struct io_device *dev)
{
	if (!dev->unregistered || dev->channel_count != 0 || dev->for_each_count != 0) {
		return false;
	}
	TAILQ_REMOVE(&g_devices, dev, link);
	return true;
}

static void
io_device_complete_unregister(struct io_device *dev)
{
	int rc = ftgt_thread_send_msg(dev->unregister_thread, io_device_unregister_done, dev);

	if (rc != 0) {
		FTGT_ERRLOG("io_device %s: cannot complete unregister on %s: %s\n", dev->name,
		            ftgt_thread_get_name(dev->unregister_thread), strerror(-rc));
		free(dev);
	}
}

void
ftgt_io_device_unregister(void *io_device, ftgt_io_device_unregister_cb unregister_cb)
{
	struct ftgt_thread *thread = ftgt_get_thread();
	struct io_device *dev;
	bool done;

	if (thread == NULL) {
		FTGT_ERRLOG("io_device %p: unregister outside a thread\n", io_device);
		return;
	}
	pthread_mutex_lock(&g_devlist_lock);
	dev = io_device_find_locked(io_device);
	if (dev == NULL) {
		pthread_mutex_unlock(&g_devlist_lock);
		FTGT_ERRLOG("io_device %p is not registered\n", io_device);
		return;
	}
	dev->unregistered = true;
	dev->unregister_cb = unregister_cb;
	dev->unregister_thread = thread;
	done = io_device_try_release_locked(dev);
	pthread_mutex_unlock(&g_devlist_lock);
	/* Even with no channel, unregister_cb runs later (by message), never inside. */
	if (done) {
		io_device_complete_unregister(dev);
	}
}

/* The calling thread's channel for dev (any state), or NULL. Owner thread only. */
static struct ftgt_io_channel *
thread_find_channel(struct ftgt_thread *thread, struct io_device *dev)
{
	struct ftgt_io_channel *ch;

	TAILQ_FOREACH (ch, &thread->io_channels, tailq) {
		if (ch->dev == dev) {
			return ch;
		}
	}
	return NULL;
}

static void
io_device_channel_released(struct io_device *dev)
{
	bool done;

	pthread_mutex_lock(&g_devlist_lock);
	dev->channel_count--;
	done = io_device_try_release_locked(dev);
	pthread_mutex_unlock(&g_devlist_lock);
	if (done) {
		io_device_complete_unregister(dev);
	}
}

struct ftgt_io_channel *
ftgt_get_io_channel(void *io_device)
{
	struct ftgt_thread *thread = ftgt_get_thread();
	struct ftgt_io_channel *ch;
	struct io_device *dev;
	size_t alloc_size;
	int rc;

	if (thread == NULL) {
		FTGT_ERRLOG("io_device %p: get_io_channel outside a thread\n", io_device);
		return NULL;
	}
	pthread_mutex_lock(&g_devlist_lock);
	dev = io_device_find_locked(io_device);
	if (dev == NULL) {
		pthread_mutex_unlock(&g_devlist_lock);
		FTGT_ERRLOG("io_device %p is not registered\n", io_device);
		return NULL;
	}
	ch = thread_find_channel(thread, dev);
	if (ch != NULL) {
		/* Possibly with a destroy message pending: that message will find ref > 0. */
		pthread_mutex_unlock(&g_devlist_lock);
		ch->ref++;
		return ch;
	}
	if (ftgt_thread_is_exited(thread)) {
		pthread_mutex_unlock(&g_devlist_lock);
		return NULL;
	}
	dev->channel_count++;
	pthread_mutex_unlock(&g_devlist_lock);

	/* The ctx is cache-line aligned: so must the channel be. */
	alloc_size = FTGT_ALIGN_UP(sizeof(*ch) + dev->ctx_size, FTGT_CACHE_LINE_SIZE);
	ch = aligned_alloc(FTGT_CACHE_LINE_SIZE, alloc_size);
	if (ch == NULL) {
		io_device_channel_released(dev);
		return NULL;
	}
	memset(ch, 0, alloc_size);
	ch->thread = thread;
	ch->dev = dev;
	ch->ref = 1;
	TAILQ_INSERT_TAIL(&thread->io_channels, ch, tailq);
	rc = dev->create_cb != NULL ? dev->create_cb(io_device, ch->ctx) : 0;
	if (rc != 0) {
		FTGT_ERRLOG("io_device %s: create_cb failed on %s: %d\n", dev->name,
		            ftgt_thread_get_name(thread), rc);
		TAILQ_REMOVE(&thread->io_channels, ch, tailq);
		free(ch);
		io_device_channel_released(dev);
		return NULL;
	}
	return ch;
}

static void
io_channel_destroy(struct ftgt_io_channel *ch)
{
	struct io_device *dev = ch->dev;

	TAILQ_REMOVE(&ch->thread->io_channels, ch, tailq);
	if (dev->destroy_cb != NULL) {
		dev->destroy_cb(dev->io_device, ch->ctx);
	}
	free(ch);
	io_device_channel_released(dev);
}

static void
io_channel_put_msg(void *arg)
{
	struct ftgt_io_channel *ch = arg;

	ch->destroy_pending = false;
	if (ch->ref == 0) {
		io_channel_destroy(ch);
	}
}

void
ftgt_put_io_channel(struct ftgt_io_channel *ch)
{
	if (ch->ref == 0) {
		FTGT_ERRLOG("io_device %s: put of a released channel\n", ch->dev->name);
		return;
	}
	if (--ch->ref != 0 || ch->destroy_pending) {
		return;
	}
	/* Deferred: a get on this thread before the message runs keeps the channel. */
	if (ftgt_thread_send_msg(ch->thread, io_channel_put_msg, ch) == 0) {
		ch->destroy_pending = true;
	} else {
		io_channel_destroy(ch);
	}
}

void *
ftgt_io_channel_get_ctx(struct ftgt_io_channel *ch)
{
	return ch->ctx;
}

struct ftgt_io_channel *
ftgt_io_channel_from_ctx(void *ctx)
{
	return (struct ftgt_io_channel *)((uint8_t *)ctx - offsetof(struct ftgt_io_channel, ctx));
}

struct ftgt_thread *
ftgt_io_channel_get_thread(struct ftgt_io_channel *ch)
{
	return ch->thread;
}

void *
ftgt_io_channel_get_io_device(struct ftgt_io_channel *ch)
{
	return ch->dev->io_device;
}

/* ---- for_each_channel --------------------------------------------------------------- */

static void for_each_channel_visit(void *arg);

static void
for_each_channel_done(void *arg)
{
	struct ftgt_io_channel_iter *i = arg;
	struct io_device *dev = i->dev;
	bool done = false;

	if (dev != NULL) {
		pthread_mutex_lock(&g_devlist_lock);
		dev->for_each_count--;
		done = io_device_try_release_locked(dev);
		pthread_mutex_unlock(&g_devlist_lock);
	}
	if (i->cpl != NULL) {
		i->cpl(i, i->status);
	}
	free(i);
	if (done) {
		io_device_complete_unregister(dev);
	}
}

static void
for_each_channel_finish(struct ftgt_io_channel_iter *i)
{
	int rc = ftgt_thread_send_msg(i->orig, for_each_channel_done, i);

	if (rc != 0) {
		FTGT_ERRLOG("for_each_channel: cannot complete on %s: %s\n",
		            ftgt_thread_get_name(i->orig), strerror(-rc));
	}
}

/* Hop to the next live thread after i->cur_id; each looks for its own channel. */
static void
for_each_channel_next(struct ftgt_io_channel_iter *i)
{
	if (thread_send_msg_to_next(&i->cur_id, for_each_channel_visit, i, "for_each_channel") !=
	    0) {
		for_each_channel_finish(i);
	}
}

static void
for_each_channel_visit(void *arg)
{
	struct ftgt_io_channel_iter *i = arg;
	struct ftgt_io_channel *ch = thread_find_channel(ftgt_get_thread(), i->dev);

	if (ch == NULL || ch->ref == 0) {
		/* None here, or one on its way out. */
		for_each_channel_next(i);
		return;
	}
	/* Hold it while fn (maybe asynchronously) works on it. */
	ch->ref++;
	i->ch = ch;
	i->fn(i);
}

void
ftgt_for_each_channel_continue(struct ftgt_io_channel_iter *i, int status)
{
	struct ftgt_io_channel *ch = i->ch;

	i->ch = NULL;
	if (ch != NULL) {
		ftgt_put_io_channel(ch);
	}
	if (status != 0) {
		i->status = status;
		for_each_channel_finish(i);
		return;
	}
	for_each_channel_next(i);
}

void
ftgt_for_each_channel(void *io_device, ftgt_channel_msg fn, void *ctx,
                      ftgt_channel_for_each_cpl cpl)
{
	struct ftgt_thread *orig = ftgt_get_thread();
	struct ftgt_io_channel_iter *i;

	if (orig == NULL) {
		FTGT_ERRLOG("for_each_channel: called outside a thread\n");
		return;
	}
	i = calloc(1, sizeof(*i));
	if (i == NULL) {
		FTGT_ERRLOG("for_each_channel: out of memory\n");
		return;
	}
	i->io_device = io_device;
	i->fn = fn;
	i->cpl = cpl;
	i->ctx = ctx;
	i->orig = orig;
	pthread_mutex_lock(&g_devlist_lock);
	i->dev = io_device_find_locked(io_device);
	if (i->dev != NULL) {
		i->dev->for_each_count++;
	}
	pthread_mutex_unlock(&g_devlist_lock);
	if (i->dev == NULL) {
		FTGT_ERRLOG("for_each_channel: io_device %p is not registered\n", io_device);
		for_each_channel_finish(i);
		return;
	}
	for_each_channel_next(i);
}

void *
ftgt_io_channel_iter_get_io_device(struct ftgt_io_channel_iter *i)
{
	return i->io_device;
}

struct ftgt_io_channel *
ftgt_io_channel_iter_get_channel(struct ftgt_io_channel_iter *i)
{
	return i->ch;
}

void *
ftgt_io_channel_iter_get_ctx(struct ftgt_io_channel_iter *i)
{
	return i->ctx;
}

/* ---- thread lib internals ----------------------------------------------------------- */

bool
io_channel_thread_has_channels(const struct ftgt_thread *thread)
{
	return !TAILQ_EMPTY(&thread->io_channels);
}

void
io_channel_log_leftovers(struct ftgt_thread *thread)
{
	struct ftgt_io_channel *ch;

	TAILQ_FOREACH (ch, &thread->io_channels, tailq) {
		FTGT_WARNLOG("thread %s: io channel of %s still held (ref %u)\n",
		             ftgt_thread_get_name(thread), ch->dev->name, ch->ref);
	}
}

/* A thread destroyed with channels left: destroy them here (wrong thread, but last). */
void
io_channel_free_leftovers(struct ftgt_thread *thread)
{
	struct ftgt_io_channel *ch;

	while ((ch = TAILQ_FIRST(&thread->io_channels)) != NULL) {
		io_channel_destroy(ch);
	}
}

void
io_device_lib_fini(void)
{
	struct io_device *dev;

	pthread_mutex_lock(&g_devlist_lock);
	while ((dev = TAILQ_FIRST(&g_devices)) != NULL) {
		FTGT_WARNLOG("io_device %s still registered at lib fini\n", dev->name);
		TAILQ_REMOVE(&g_devices, dev, link);
		free(dev);
	}
	pthread_mutex_unlock(&g_devlist_lock);
}
