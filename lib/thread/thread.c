/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Threads, messages and pollers.
 *
 * Hot path (ftgt_thread_poll, ftgt_thread_send_msg): no allocation, no lock, no log
 * above debug. The only shared state a sender touches is the receiver's MPSC ring and
 * its state word.
 *
 * Locking: g_threads_lock protects g_threads (the list of live threads), g_thread_count,
 * g_next_id and g_app_thread. It is taken only on the management path: create,
 * destroy, lookups and iteration (ftgt_thread_get_*, ftgt_for_each_thread's hops).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "ftgt/util.h"
#include "thread_internal.h"

FTGT_LOG_REGISTER_COMPONENT(thread)

static pthread_mutex_t g_threads_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, ftgt_thread) g_threads = TAILQ_HEAD_INITIALIZER(g_threads);
static uint32_t g_thread_count;
static uint64_t g_next_id = 1;
static struct ftgt_thread *g_app_thread;
static size_t g_msg_ring_size = THREAD_DEFAULT_RING_SIZE;
static bool g_lib_initialized;

static __thread struct ftgt_thread *tls_thread;

int
ftgt_thread_lib_init(size_t msg_ring_size)
{
	if (g_lib_initialized) {
		return -EALREADY;
	}
	if (!ftgt_env_is_initialized()) {
		FTGT_ERRLOG("thread: ftgt_env_init() first\n");
		return -EINVAL;
	}
	g_msg_ring_size = msg_ring_size != 0 ? msg_ring_size : THREAD_DEFAULT_RING_SIZE;
	g_next_id = 1;
	g_lib_initialized = true;
	return 0;
}

void
ftgt_thread_lib_fini(void)
{
	struct ftgt_thread *t;

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_FOREACH (t, &g_threads, tailq) {
		FTGT_WARNLOG("thread %s (id %" PRIu64 ") still exists at lib fini\n", t->name,
		             t->id);
	}
	pthread_mutex_unlock(&g_threads_lock);
	io_device_lib_fini();
	g_lib_initialized = false;
}

/* ---- threads ------------------------------------------------------------------------ */

static inline int
thread_state(const struct ftgt_thread *thread)
{
	/* Acquire: pairs with the release store in thread_set_state(). */
	return __atomic_load_n(&thread->state, __ATOMIC_ACQUIRE);
}

static inline void
thread_set_state(struct ftgt_thread *thread, int state)
{
	__atomic_store_n(&thread->state, state, __ATOMIC_RELEASE);
}

struct ftgt_thread *
ftgt_thread_create(const char *name, uint32_t core)
{
	struct ftgt_thread *thread;
	char ring_name[THREAD_NAME_LEN + 8];

	if (!g_lib_initialized) {
		FTGT_ERRLOG("thread: ftgt_thread_lib_init() first\n");
		return NULL;
	}
	thread = calloc(1, sizeof(*thread));
	if (thread == NULL) {
		return NULL;
	}
	snprintf(thread->name, sizeof(thread->name), "%s", name != NULL ? name : "thread");
	snprintf(ring_name, sizeof(ring_name), "msg_%s", thread->name);
	thread->msgs = ftgt_ring_create(ring_name, g_msg_ring_size, sizeof(struct thread_msg),
	                                FTGT_RING_MP_SC, FTGT_ENV_SOCKET_ANY);
	if (thread->msgs == NULL) {
		FTGT_ERRLOG("thread %s: cannot create its message ring\n", thread->name);
		free(thread);
		return NULL;
	}
	thread->core = core;
	TAILQ_INIT(&thread->active_pollers);
	TAILQ_INIT(&thread->timed_pollers);
	TAILQ_INIT(&thread->paused_pollers);
	TAILQ_INIT(&thread->io_channels);
	thread->last_now = ftgt_get_ticks();
	thread->state = THREAD_STATE_RUNNING;

	pthread_mutex_lock(&g_threads_lock);
	thread->id = g_next_id++;
	TAILQ_INSERT_TAIL(&g_threads, thread, tailq); /* the list stays sorted by id */
	g_thread_count++;
	if (g_app_thread == NULL) {
		g_app_thread = thread;
	}
	pthread_mutex_unlock(&g_threads_lock);
	FTGT_DEBUGLOG(thread, "thread %s: id %" PRIu64 ", core %" PRIu32 "\n", thread->name,
	              thread->id, core);
	return thread;
}

static void
poller_list_free(struct poller_list *list)
{
	struct ftgt_poller *p;

	while ((p = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, p, link);
		free(p);
	}
}

void
ftgt_thread_destroy(struct ftgt_thread *thread)
{
	if (thread == NULL) {
		return;
	}
	if (thread_state(thread) != THREAD_STATE_EXITED &&
	    (thread->poller_count != 0 || !TAILQ_EMPTY(&thread->io_channels))) {
		FTGT_WARNLOG("thread %s destroyed before it exited\n", thread->name);
		thread_log_leftovers(thread);
	} else if (ftgt_ring_count(thread->msgs) != 0) {
		/* Sent while it was becoming exited (see ftgt_thread_send_msg): never run. */
		FTGT_WARNLOG("thread %s: %zu messages sent as it exited were not run\n",
		             thread->name, ftgt_ring_count(thread->msgs));
	}
	pthread_mutex_lock(&g_threads_lock);
	TAILQ_REMOVE(&g_threads, thread, tailq);
	g_thread_count--;
	if (g_app_thread == thread) {
		g_app_thread = NULL;
	}
	pthread_mutex_unlock(&g_threads_lock);

	io_channel_free_leftovers(thread);
	poller_list_free(&thread->active_pollers);
	poller_list_free(&thread->timed_pollers);
	poller_list_free(&thread->paused_pollers);
	ftgt_ring_free(thread->msgs);
	if (tls_thread == thread) {
		tls_thread = NULL;
	}
	free(thread);
}

void
ftgt_thread_exit(struct ftgt_thread *thread)
{
	if (thread_state(thread) == THREAD_STATE_RUNNING) {
		FTGT_DEBUGLOG(thread, "thread %s: exiting\n", thread->name);
		thread_set_state(thread, THREAD_STATE_EXITING);
	}
}

bool
ftgt_thread_is_exited(const struct ftgt_thread *thread)
{
	return thread_state(thread) == THREAD_STATE_EXITED;
}

struct ftgt_thread *
ftgt_get_thread(void)
{
	return tls_thread;
}

void
ftgt_set_thread(struct ftgt_thread *thread)
{
	tls_thread = thread;
}

const char *
ftgt_thread_get_name(const struct ftgt_thread *thread)
{
	return thread->name;
}

uint64_t
ftgt_thread_get_id(const struct ftgt_thread *thread)
{
	return thread->id;
}

uint32_t
ftgt_thread_get_core(const struct ftgt_thread *thread)
{
	return thread->core;
}

struct ftgt_thread *
ftgt_thread_get_app_thread(void)
{
	struct ftgt_thread *t;

	pthread_mutex_lock(&g_threads_lock);
	t = g_app_thread;
	pthread_mutex_unlock(&g_threads_lock);
	return t;
}

uint32_t
ftgt_thread_get_count(void)
{
	uint32_t n;

	pthread_mutex_lock(&g_threads_lock);
	n = g_thread_count;
	pthread_mutex_unlock(&g_threads_lock);
	return n;
}

struct ftgt_thread *
ftgt_thread_get_first(void)
{
	struct ftgt_thread *t;

	pthread_mutex_lock(&g_threads_lock);
	t = TAILQ_FIRST(&g_threads);
	pthread_mutex_unlock(&g_threads_lock);
	return t;
}

struct ftgt_thread *
ftgt_thread_get_next(struct ftgt_thread *prev)
{
	struct ftgt_thread *t;

	pthread_mutex_lock(&g_threads_lock);
	t = TAILQ_NEXT(prev, tailq);
	pthread_mutex_unlock(&g_threads_lock);
	return t;
}

struct ftgt_thread *
ftgt_thread_get_by_id(uint64_t id)
{
	struct ftgt_thread *t;

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_FOREACH (t, &g_threads, tailq) {
		if (t->id == id) {
			break;
		}
	}
	pthread_mutex_unlock(&g_threads_lock);
	return t;
}

/*
 * Send fn(ctx) to the live thread with the smallest id above *cur_id (ids only grow),
 * skipping threads that refuse it (exited; ring full, logged), and set *cur_id to the
 * id of the one that took it. 0, or -ENOENT when no thread after *cur_id took it.
 *
 * The lookup and the send happen under g_threads_lock: a thread is taken off the list
 * (under that lock) before ftgt_thread_destroy() frees it, so the thread we send to
 * cannot be freed between finding it and writing to its ring.
 */
int
thread_send_msg_to_next(uint64_t *cur_id, ftgt_msg_fn fn, void *ctx, const char *what)
{
	struct ftgt_thread *t;
	int rc = -ENOENT;

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_FOREACH (t, &g_threads, tailq) {
		if (t->id <= *cur_id) {
			continue;
		}
		*cur_id = t->id;
		rc = ftgt_thread_send_msg(t, fn, ctx);
		if (rc == 0) {
			break;
		}
		if (rc != -EIO) {
			FTGT_ERRLOG("%s: thread %s skipped: %s\n", what, t->name, strerror(-rc));
		}
		rc = -ENOENT;
	}
	pthread_mutex_unlock(&g_threads_lock);
	return rc;
}

void
ftgt_thread_get_stats(const struct ftgt_thread *thread, struct ftgt_thread_stats *stats)
{
	*stats = thread->stats;
}

void
thread_log_leftovers(struct ftgt_thread *thread)
{
	struct poller_list *lists[] = {&thread->active_pollers, &thread->timed_pollers,
	                               &thread->paused_pollers};
	struct ftgt_poller *p;

	for (size_t i = 0; i < FTGT_COUNTOF(lists); i++) {
		TAILQ_FOREACH (p, lists[i], link) {
			if (p->state != POLLER_STATE_UNREGISTERED) {
				FTGT_WARNLOG("thread %s: poller %s still registered\n",
				             thread->name, p->name);
			}
		}
	}
	io_channel_log_leftovers(thread);
	if (ftgt_ring_count(thread->msgs) != 0) {
		FTGT_WARNLOG("thread %s: %zu messages not run\n", thread->name,
		             ftgt_ring_count(thread->msgs));
	}
}

/* ---- messages ----------------------------------------------------------------------- */

int
ftgt_thread_send_msg(const struct ftgt_thread *thread, ftgt_msg_fn fn, void *ctx)
{
	struct thread_msg msg = {.fn = fn, .ctx = ctx};

	if (ftgt_unlikely(thread_state(thread) == THREAD_STATE_EXITED)) {
		return -EIO;
	}
	if (ftgt_unlikely(ftgt_ring_enqueue(thread->msgs, &msg, 1) != 1)) {
		return -ENOMEM;
	}
	return 0;
}

struct for_each_thread_ctx {
	ftgt_msg_fn fn;
	ftgt_msg_fn cpl;
	void *ctx;
	struct ftgt_thread *orig;
	uint64_t cur_id;
};

static void for_each_thread_visit(void *arg);

static void
for_each_thread_done(void *arg)
{
	struct for_each_thread_ctx *c = arg;

	c->cpl(c->ctx);
	free(c);
}

/* Send the walk to the next live thread after c->cur_id, or finish on the caller's. */
static void
for_each_thread_next(struct for_each_thread_ctx *c)
{
	int rc;

	if (thread_send_msg_to_next(&c->cur_id, for_each_thread_visit, c, "for_each_thread") == 0) {
		return;
	}
	rc = ftgt_thread_send_msg(c->orig, for_each_thread_done, c);
	if (rc != 0) {
		FTGT_ERRLOG("for_each_thread: cannot complete on %s: %s\n", c->orig->name,
		            strerror(-rc));
	}
}

static void
for_each_thread_visit(void *arg)
{
	struct for_each_thread_ctx *c = arg;

	c->fn(c->ctx);
	for_each_thread_next(c);
}

void
ftgt_for_each_thread(ftgt_msg_fn fn, void *ctx, ftgt_msg_fn cpl)
{
	struct ftgt_thread *orig = ftgt_get_thread();
	struct for_each_thread_ctx *c;

	if (orig == NULL) {
		FTGT_ERRLOG("for_each_thread: called outside a thread\n");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		FTGT_ERRLOG("for_each_thread: out of memory\n");
		return;
	}
	c->fn = fn;
	c->cpl = cpl;
	c->ctx = ctx;
	c->orig = orig;
	c->cur_id = 0;
	for_each_thread_next(c);
}

/* ---- pollers ------------------------------------------------------------------------ */

static uint64_t
period_us_to_ticks(uint64_t period_us)
{
	uint64_t hz = ftgt_get_ticks_hz();
	uint64_t ticks;

	if (period_us == 0) {
		return 0;
	}
	ticks = (period_us / 1000000) * hz + (period_us % 1000000) * hz / 1000000;
	return ticks != 0 ? ticks : 1;
}

/* Insert into the timed list, kept sorted by next_run_tick (equal deadlines: FIFO). */
static void
timed_poller_insert(struct ftgt_thread *thread, struct ftgt_poller *poller)
{
	struct ftgt_poller *p;

	TAILQ_FOREACH_REVERSE (p, &thread->timed_pollers, poller_list, link) {
		if (p->next_run_tick <= poller->next_run_tick) {
			TAILQ_INSERT_AFTER(&thread->timed_pollers, p, poller, link);
			return;
		}
	}
	TAILQ_INSERT_HEAD(&thread->timed_pollers, poller, link);
}

struct ftgt_poller *
ftgt_poller_register(ftgt_poller_fn fn, void *ctx, uint64_t period_us, const char *name)
{
	struct ftgt_thread *thread = ftgt_get_thread();
	struct ftgt_poller *poller;

	if (thread == NULL) {
		FTGT_ERRLOG("poller %s: no current thread\n", name != NULL ? name : "?");
		return NULL;
	}
	if (thread_state(thread) == THREAD_STATE_EXITED) {
		FTGT_ERRLOG("poller %s: thread %s has exited\n", name != NULL ? name : "?",
		            thread->name);
		return NULL;
	}
	poller = calloc(1, sizeof(*poller));
	if (poller == NULL) {
		return NULL;
	}
	snprintf(poller->name, sizeof(poller->name), "%s", name != NULL ? name : "poller");
	poller->thread = thread;
	poller->fn = fn;
	poller->ctx = ctx;
	poller->period_us = period_us;
	poller->period_ticks = period_us_to_ticks(period_us);
	poller->state = POLLER_STATE_WAITING;
	if (poller->period_ticks == 0) {
		TAILQ_INSERT_TAIL(&thread->active_pollers, poller, link);
	} else {
		poller->next_run_tick = thread->last_now + poller->period_ticks;
		timed_poller_insert(thread, poller);
	}
	thread->poller_count++;
	return poller;
}

/*
 * Unregister and pause only mark the poller: the poll loop may be walking the list
 * that holds it (or the next one). thread_sweep_pollers() moves or frees marked pollers
 * once no loop is walking.
 */
void
ftgt_poller_unregister(struct ftgt_poller **ppoller)
{
	struct ftgt_poller *poller = *ppoller;
	struct ftgt_thread *thread;

	if (poller == NULL) {
		return;
	}
	*ppoller = NULL;
	thread = poller->thread;
	if (poller->state == POLLER_STATE_UNREGISTERED) {
		return;
	}
	if (poller->state != POLLER_STATE_PAUSING) {
		thread->pending_poller_changes++;
	}
	poller->state = POLLER_STATE_UNREGISTERED;
	thread->poller_count--;
}

void
ftgt_poller_pause(struct ftgt_poller *poller)
{
	switch (poller->state) {
	case POLLER_STATE_WAITING:
	case POLLER_STATE_RUNNING:
		poller->state = POLLER_STATE_PAUSING;
		poller->thread->pending_poller_changes++;
		break;
	default:
		break;
	}
}

void
ftgt_poller_resume(struct ftgt_poller *poller)
{
	struct ftgt_thread *thread = poller->thread;

	switch (poller->state) {
	case POLLER_STATE_PAUSING:
		/* Still on its home list: just cancel the pause. */
		poller->state = POLLER_STATE_WAITING;
		thread->pending_poller_changes--;
		break;
	case POLLER_STATE_PAUSED:
		TAILQ_REMOVE(&thread->paused_pollers, poller, link);
		poller->state = POLLER_STATE_WAITING;
		if (poller->period_ticks == 0) {
			TAILQ_INSERT_TAIL(&thread->active_pollers, poller, link);
		} else {
			poller->next_run_tick = thread->last_now + poller->period_ticks;
			timed_poller_insert(thread, poller);
		}
		break;
	default:
		break;
	}
}

/* Apply pending pauses and unregistrations. No poller fn runs here. */
static void
thread_sweep_list(struct ftgt_thread *thread, struct poller_list *list)
{
	struct ftgt_poller *p, *tmp;

	TAILQ_FOREACH_SAFE (p, list, link, tmp) {
		if (p->state == POLLER_STATE_UNREGISTERED) {
			TAILQ_REMOVE(list, p, link);
			free(p);
			thread->pending_poller_changes--;
		} else if (p->state == POLLER_STATE_PAUSING) {
			TAILQ_REMOVE(list, p, link);
			p->state = POLLER_STATE_PAUSED;
			TAILQ_INSERT_TAIL(&thread->paused_pollers, p, link);
			thread->pending_poller_changes--;
		}
	}
}

static void
thread_sweep_pollers(struct ftgt_thread *thread)
{
	thread_sweep_list(thread, &thread->active_pollers);
	thread_sweep_list(thread, &thread->timed_pollers);
	/* An unregistered paused poller stays on the paused list until here. */
	thread_sweep_list(thread, &thread->paused_pollers);
}

static inline int
poller_run(struct ftgt_poller *poller)
{
	int rc;

	poller->state = POLLER_STATE_RUNNING;
	rc = poller->fn(poller->ctx);
	poller->run_count++;
	if (rc > 0) {
		poller->busy_count++;
	}
	/* The fn may have paused or unregistered its own poller: keep that state. */
	if (poller->state == POLLER_STATE_RUNNING) {
		poller->state = POLLER_STATE_WAITING;
	}
	return rc > 0 ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
}

void
ftgt_thread_for_each_poller(void (*fn)(const struct ftgt_poller_stats *stats, void *ctx), void *ctx)
{
	struct ftgt_thread *thread = ftgt_get_thread();
	struct poller_list *lists[3];
	struct ftgt_poller *p;

	if (thread == NULL) {
		return;
	}
	lists[0] = &thread->active_pollers;
	lists[1] = &thread->timed_pollers;
	lists[2] = &thread->paused_pollers;
	for (size_t i = 0; i < FTGT_COUNTOF(lists); i++) {
		TAILQ_FOREACH (p, lists[i], link) {
			struct ftgt_poller_stats s = {
			        .name = p->name,
			        .period_us = p->period_us,
			        .run_count = p->run_count,
			        .busy_count = p->busy_count,
			        .paused = p->state == POLLER_STATE_PAUSING ||
			                  p->state == POLLER_STATE_PAUSED,
			};

			if (p->state != POLLER_STATE_UNREGISTERED) {
				fn(&s, ctx);
			}
		}
	}
}

/* ---- poll --------------------------------------------------------------------------- */

static void
thread_check_exited(struct ftgt_thread *thread)
{
	if (thread->poller_count == 0 && thread->pending_poller_changes == 0 &&
	    TAILQ_EMPTY(&thread->io_channels) && ftgt_ring_count(thread->msgs) == 0) {
		FTGT_DEBUGLOG(thread, "thread %s: exited\n", thread->name);
		thread_set_state(thread, THREAD_STATE_EXITED);
	}
}

int
ftgt_thread_poll(struct ftgt_thread *thread, uint32_t max_msgs, uint64_t now)
{
	struct ftgt_thread *prev = tls_thread;
	struct thread_msg msgs[THREAD_MSG_BATCH];
	struct ftgt_poller *p, *tmp;
	uint64_t start, end;
	int busy = FTGT_POLLER_IDLE;
	size_t left, n;

	start = ftgt_get_ticks();
	if (now == 0) {
		now = start;
	}
	thread->last_now = now;
	tls_thread = thread;

	/* Messages. */
	left = max_msgs != 0 ? max_msgs : THREAD_MSG_BATCH;
	while (left > 0) {
		n = ftgt_ring_dequeue(thread->msgs, msgs, FTGT_MIN(left, FTGT_COUNTOF(msgs)));
		for (size_t i = 0; i < n; i++) {
			msgs[i].fn(msgs[i].ctx);
		}
		thread->stats.msgs += n;
		if (n != 0) {
			busy = FTGT_POLLER_BUSY;
		}
		if (n < FTGT_MIN(left, FTGT_COUNTOF(msgs))) {
			break;
		}
		left -= n;
	}

	/*
	 * Active pollers. A fn may register pollers (appended: they may run in this pass),
	 * and pause or unregister any poller (only marked: `tmp` stays on this list).
	 */
	TAILQ_FOREACH_SAFE (p, &thread->active_pollers, link, tmp) {
		if (p->state == POLLER_STATE_WAITING) {
			busy |= poller_run(p);
		}
	}

	/* Timed pollers: pop each that is due and put it back at its next deadline. */
	while ((p = TAILQ_FIRST(&thread->timed_pollers)) != NULL && p->next_run_tick <= now) {
		if (p->state != POLLER_STATE_WAITING) {
			/* Marked: the sweep below moves or frees it; stop here (list order). */
			thread_sweep_list(thread, &thread->timed_pollers);
			continue;
		}
		TAILQ_REMOVE(&thread->timed_pollers, p, link);
		busy |= poller_run(p);
		p->next_run_tick = now + p->period_ticks;
		timed_poller_insert(thread, p);
	}

	if (thread->pending_poller_changes != 0) {
		thread_sweep_pollers(thread);
	}
	if (ftgt_unlikely(thread_state(thread) == THREAD_STATE_EXITING)) {
		thread_check_exited(thread);
	}

	end = ftgt_get_ticks();
	if (busy) {
		thread->stats.busy_tsc += end - start;
	} else {
		thread->stats.idle_tsc += end - start;
	}
	tls_thread = prev;
	return busy;
}
