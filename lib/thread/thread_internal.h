/* SPDX-License-Identifier: BSD-3-Clause */
/* Private declarations of lib/thread. */
#ifndef FTGT_THREAD_INTERNAL_H
#define FTGT_THREAD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ftgt/env.h"
#include "ftgt/thread.h"

/* glibc's sys/queue.h lacks the _SAFE iterators. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                                         \
	for ((var) = TAILQ_FIRST((head)); (var) && ((tvar) = TAILQ_NEXT((var), field), 1); \
	     (var) = (tvar))
#endif

#define THREAD_NAME_LEN          64
#define THREAD_MSG_BATCH         64
#define THREAD_DEFAULT_RING_SIZE 65536

/* One message: 16 bytes, copied into the receiver's ring (no allocation per message). */
struct thread_msg {
	ftgt_msg_fn fn;
	void *ctx;
};

enum poller_state {
	POLLER_STATE_WAITING,      /* on the active or timed list, runs when due */
	POLLER_STATE_RUNNING,      /* its fn is executing now */
	POLLER_STATE_PAUSING,      /* paused; moved to the paused list by the next sweep */
	POLLER_STATE_PAUSED,       /* on the paused list */
	POLLER_STATE_UNREGISTERED, /* freed by the next sweep (or after its fn returns) */
};

struct ftgt_poller {
	TAILQ_ENTRY(ftgt_poller) link;
	struct ftgt_thread *thread;
	ftgt_poller_fn fn;
	void *ctx;
	uint64_t period_us;
	uint64_t period_ticks; /* 0: active poller */
	uint64_t next_run_tick;
	uint64_t run_count;
	uint64_t busy_count;
	enum poller_state state;
	char name[THREAD_NAME_LEN];
};

TAILQ_HEAD(poller_list, ftgt_poller);

enum thread_state {
	THREAD_STATE_RUNNING,
	THREAD_STATE_EXITING, /* ftgt_thread_exit() called; waits for pollers and channels */
	THREAD_STATE_EXITED,
};

struct ftgt_io_channel;
TAILQ_HEAD(io_channel_list, ftgt_io_channel);

struct ftgt_thread {
	/* Read by senders on other OS threads. */
	struct ftgt_ring *msgs;
	int state; /* enum thread_state; atomic: written by the owner, read by anyone */
	uint64_t id;
	uint32_t core;
	char name[THREAD_NAME_LEN];

	/* Owned by the thread itself: touched only inside its poll / its context. */
	struct poller_list active_pollers;
	struct poller_list timed_pollers; /* sorted by next_run_tick */
	struct poller_list paused_pollers;
	uint32_t pending_poller_changes; /* pollers in PAUSING or UNREGISTERED state */
	uint32_t poller_count;           /* registered, not yet unregistered */
	struct io_channel_list io_channels;
	uint64_t last_now; /* `now` of the latest poll: base for new timed pollers */
	struct ftgt_thread_stats stats;

	/* Protected by g_threads_lock. */
	TAILQ_ENTRY(ftgt_thread) tailq;
};

/* thread.c */
int thread_send_msg_to_next(uint64_t *cur_id, ftgt_msg_fn fn, void *ctx, const char *what);
void thread_log_leftovers(struct ftgt_thread *thread);

/* io_channel.c */
bool io_channel_thread_has_channels(const struct ftgt_thread *thread);
void io_channel_log_leftovers(struct ftgt_thread *thread);
void io_channel_free_leftovers(struct ftgt_thread *thread);
void io_device_lib_fini(void);

#endif /* FTGT_THREAD_INTERNAL_H */
