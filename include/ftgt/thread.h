/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Threads, pollers, messages and io channels.
 *
 * A `struct ftgt_thread` is a lightweight, cooperative thread of control: a message
 * ring, a set of pollers and a set of io channels. It runs whenever something calls
 * ftgt_thread_poll() on it. Reactors (below) own one ftgt_thread per core and poll it
 * in a loop on a pinned core; unit tests create threads and poll them by hand, which
 * makes them deterministic.
 *
 * Ownership: every object belongs to the thread that created it, and only that thread
 * touches it. Other threads reach it with ftgt_thread_send_msg().
 */
#ifndef FTGT_THREAD_H
#define FTGT_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ftgt_thread;
struct ftgt_poller;
struct ftgt_io_channel;

typedef void (*ftgt_msg_fn)(void *ctx);

/* Poller return values: whether the poller did work this time. */
#define FTGT_POLLER_IDLE 0
#define FTGT_POLLER_BUSY 1
typedef int (*ftgt_poller_fn)(void *ctx);

/* ---- library ---------------------------------------------------------------------- */

/*
 * Set up the thread library. msg_ring_size: entries of each thread's message ring
 * (0 = default 65536). Call once, after ftgt_env_init().
 */
int ftgt_thread_lib_init(size_t msg_ring_size);
/* Every thread must have been destroyed. */
void ftgt_thread_lib_fini(void);

/* ---- threads ------------------------------------------------------------------------ */

/*
 * Create a thread. It is not bound to any OS thread until polled; `core` is advisory
 * (reported in stats; FTGT_ENV_CORE_ANY when none). NULL on failure. Any OS thread.
 */
struct ftgt_thread *ftgt_thread_create(const char *name, uint32_t core);

/*
 * Ask a thread to exit: from its own context. It keeps polling until every poller it
 * owns is unregistered and every io channel is released; then ftgt_thread_is_exited()
 * turns true and the owner may ftgt_thread_destroy() it.
 */
void ftgt_thread_exit(struct ftgt_thread *thread);
bool ftgt_thread_is_exited(const struct ftgt_thread *thread);
/* Free an exited thread (or one that never ran). Any OS thread except its own. */
void ftgt_thread_destroy(struct ftgt_thread *thread);

/*
 * Run one iteration: up to max_msgs messages (0 = default batch), then every active
 * poller, then timed pollers whose time has come. now: ftgt_get_ticks(), or 0 to let
 * the call read it. Returns FTGT_POLLER_BUSY if anything did work. Sets the calling
 * OS thread's current thread for the duration.
 */
int ftgt_thread_poll(struct ftgt_thread *thread, uint32_t max_msgs, uint64_t now);

/* The thread that is running on this OS thread now (NULL outside ftgt_thread_poll). */
struct ftgt_thread *ftgt_get_thread(void);
/* Make `thread` current on this OS thread without polling (tests, start-up code). */
void ftgt_set_thread(struct ftgt_thread *thread);

const char *ftgt_thread_get_name(const struct ftgt_thread *thread);
uint64_t ftgt_thread_get_id(const struct ftgt_thread *thread);
uint32_t ftgt_thread_get_core(const struct ftgt_thread *thread);
/* The first thread created: it runs management (RPC, config, start-up, shutdown). */
struct ftgt_thread *ftgt_thread_get_app_thread(void);
uint32_t ftgt_thread_get_count(void);
/* Iterate live threads (management path only; takes the library's list lock). */
struct ftgt_thread *ftgt_thread_get_first(void);
struct ftgt_thread *ftgt_thread_get_next(struct ftgt_thread *prev);
struct ftgt_thread *ftgt_thread_get_by_id(uint64_t id);

/* Busy/idle time and poller counters, kept by the thread itself. */
struct ftgt_thread_stats {
	uint64_t busy_tsc; /* ticks spent in iterations that did work */
	uint64_t idle_tsc; /* ticks spent in iterations that did none */
	uint64_t msgs;     /* messages executed */
};
/* Copy `thread`'s stats. Call on `thread` itself (others: send it a message). */
void ftgt_thread_get_stats(const struct ftgt_thread *thread, struct ftgt_thread_stats *stats);

/* ---- messages ----------------------------------------------------------------------- */

/*
 * Run fn(ctx) on `thread`, later, in its context. Any OS thread. Messages from one
 * sender to one thread run in the order sent. Returns 0, or -ENOMEM when the ring
 * is full (fn never runs), or -EIO when the thread has exited.
 */
int ftgt_thread_send_msg(const struct ftgt_thread *thread, ftgt_msg_fn fn, void *ctx);

/*
 * Run fn(ctx) on every thread, one after another, then cpl(ctx) on the calling
 * thread. Must be called from a thread's context.
 */
void ftgt_for_each_thread(ftgt_msg_fn fn, void *ctx, ftgt_msg_fn cpl);

/* ---- pollers ------------------------------------------------------------------------ */

/*
 * Register a poller on the current thread. period_us 0: every iteration; otherwise
 * at most once per period. NULL on failure. The poller may unregister itself.
 */
struct ftgt_poller *ftgt_poller_register(ftgt_poller_fn fn, void *ctx, uint64_t period_us,
                                         const char *name);
#define FTGT_POLLER_REGISTER(fn, ctx, period_us) ftgt_poller_register(fn, ctx, period_us, #fn)
/* Unregister and NULL *poller; no-op when *poller is NULL. From the owning thread. */
void ftgt_poller_unregister(struct ftgt_poller **poller);
void ftgt_poller_pause(struct ftgt_poller *poller);
void ftgt_poller_resume(struct ftgt_poller *poller);

struct ftgt_poller_stats {
	const char *name;
	uint64_t period_us;
	uint64_t run_count;
	uint64_t busy_count;
	bool paused;
};
/* Call fn for each poller of the current thread. */
void ftgt_thread_for_each_poller(void (*fn)(const struct ftgt_poller_stats *stats, void *ctx),
                                 void *ctx);

/* ---- io channels -------------------------------------------------------------------- */

/*
 * An io device is any object that wants per-thread context. Its channel on a thread is
 * created on first ftgt_get_io_channel() there (create_cb runs on that thread),
 * reference counted, and destroyed (destroy_cb on that thread) after the last
 * ftgt_put_io_channel() — deferred by one message so a put followed by a get on the
 * same thread keeps the channel.
 */
typedef int (*ftgt_io_channel_create_cb)(void *io_device, void *ctx_buf);
typedef void (*ftgt_io_channel_destroy_cb)(void *io_device, void *ctx_buf);
typedef void (*ftgt_io_device_unregister_cb)(void *io_device);

void ftgt_io_device_register(void *io_device, ftgt_io_channel_create_cb create_cb,
                             ftgt_io_channel_destroy_cb destroy_cb, uint32_t ctx_size,
                             const char *name);
/*
 * Unregister: unregister_cb (may be NULL) runs on the calling thread once every
 * channel of the device is destroyed. No new channels may be got after this call.
 */
void ftgt_io_device_unregister(void *io_device, ftgt_io_device_unregister_cb unregister_cb);

/* Get (create or reference) the calling thread's channel for io_device; NULL on failure. */
struct ftgt_io_channel *ftgt_get_io_channel(void *io_device);
void ftgt_put_io_channel(struct ftgt_io_channel *ch);
void *ftgt_io_channel_get_ctx(struct ftgt_io_channel *ch);
struct ftgt_io_channel *ftgt_io_channel_from_ctx(void *ctx);
struct ftgt_thread *ftgt_io_channel_get_thread(struct ftgt_io_channel *ch);
void *ftgt_io_channel_get_io_device(struct ftgt_io_channel *ch);

/*
 * Visit every channel of io_device, each on its own thread, one after another.
 * fn must call ftgt_for_each_channel_continue(i, status) exactly once (possibly
 * later); a non-zero status stops the walk. cpl(i, status) then runs on the caller's
 * thread.
 */
struct ftgt_io_channel_iter;
typedef void (*ftgt_channel_msg)(struct ftgt_io_channel_iter *i);
typedef void (*ftgt_channel_for_each_cpl)(struct ftgt_io_channel_iter *i, int status);
void ftgt_for_each_channel(void *io_device, ftgt_channel_msg fn, void *ctx,
                           ftgt_channel_for_each_cpl cpl);
void *ftgt_io_channel_iter_get_io_device(struct ftgt_io_channel_iter *i);
struct ftgt_io_channel *ftgt_io_channel_iter_get_channel(struct ftgt_io_channel_iter *i);
void *ftgt_io_channel_iter_get_ctx(struct ftgt_io_channel_iter *i);
void ftgt_for_each_channel_continue(struct ftgt_io_channel_iter *i, int status);

/* ---- reactors ----------------------------------------------------------------------- */

/*
 * One reactor per core of the env's core mask, each owning one ftgt_thread named
 * "reactor_<core>" and polling it in a loop on its pinned core. The main core's
 * thread is the app thread.
 */
int ftgt_reactors_init(void);
void ftgt_reactors_fini(void);
/*
 * Run the reactors: launches one per non-main core and runs the main core's reactor on
 * the calling OS thread. Returns after ftgt_reactors_stop() once every reactor's
 * thread has exited.
 */
void ftgt_reactors_start(void);
/* Ask every reactor to stop. Any thread. */
void ftgt_reactors_stop(void);
/* The thread of the reactor on `core`, or NULL. */
struct ftgt_thread *ftgt_reactor_get_thread(uint32_t core);

struct ftgt_reactor_stats {
	uint32_t core;
	uint64_t busy_tsc;
	uint64_t idle_tsc;
	uint64_t iterations;
};
/* Snapshot of every reactor's counters (relaxed reads of counters its reactor writes). */
int ftgt_reactor_get_stats(uint32_t core, struct ftgt_reactor_stats *stats);

#endif /* FTGT_THREAD_H */
