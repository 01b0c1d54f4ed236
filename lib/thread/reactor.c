/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reactors: one per core of the env's mask, each polling its own ftgt_thread in a loop
 * on its pinned core.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "ftgt/util.h"
#include "thread_internal.h"

/* How long a stopping reactor waits for its thread to release everything. */
#define REACTOR_EXIT_TIMEOUT_MS 2000

struct reactor {
	uint32_t core;
	struct ftgt_thread *thread;
	/* Written by the reactor only (relaxed stores), read by anyone (relaxed loads). */
	uint64_t busy_tsc;
	uint64_t idle_tsc;
	uint64_t iterations;
} __attribute__((aligned(FTGT_CACHE_LINE_SIZE)));

static struct reactor *g_reactors[FTGT_ENV_MAX_CORES];
/*
 * Set by ftgt_reactors_stop() with a release store; each reactor's loop reads it with an
 * acquire load, so whatever the stopper wrote before stopping is visible to reactors
 * as they exit.
 */
static bool g_reactors_stop;
static bool g_reactors_running;

static void
reactor_free(uint32_t core)
{
	struct reactor *r = g_reactors[core];

	if (r == NULL) {
		return;
	}
	if (r->thread != NULL) {
		ftgt_thread_destroy(r->thread);
	}
	free(r);
	g_reactors[core] = NULL;
}

static int
reactor_create(uint32_t core)
{
	char name[32];
	struct reactor *r;

	r = aligned_alloc(FTGT_CACHE_LINE_SIZE, sizeof(*r));
	if (r == NULL) {
		return -ENOMEM;
	}
	memset(r, 0, sizeof(*r));
	r->core = core;
	snprintf(name, sizeof(name), "reactor_%" PRIu32, core);
	r->thread = ftgt_thread_create(name, core);
	if (r->thread == NULL) {
		free(r);
		return -ENOMEM;
	}
	g_reactors[core] = r;
	return 0;
}

int
ftgt_reactors_init(void)
{
	uint32_t main_core = ftgt_env_get_main_core();
	uint32_t core;
	int rc;

	if (!ftgt_env_is_initialized()) {
		return -EINVAL;
	}
	/* The main core's thread first: the first thread created is the app thread. */
	rc = reactor_create(main_core);
	if (rc != 0) {
		return rc;
	}
	FTGT_ENV_FOREACH_CORE (core) {
		if (core == main_core) {
			continue;
		}
		rc = reactor_create(core);
		if (rc != 0) {
			ftgt_reactors_fini();
			return rc;
		}
	}
	__atomic_store_n(&g_reactors_stop, false, __ATOMIC_RELAXED);
	return 0;
}

void
ftgt_reactors_fini(void)
{
	for (uint32_t core = 0; core < FTGT_ENV_MAX_CORES; core++) {
		reactor_free(core);
	}
}

struct ftgt_thread *
ftgt_reactor_get_thread(uint32_t core)
{
	if (core >= FTGT_ENV_MAX_CORES || g_reactors[core] == NULL) {
		return NULL;
	}
	return g_reactors[core]->thread;
}

static inline void
reactor_account(struct reactor *r, int busy, uint64_t ticks)
{
	uint64_t *counter = busy ? &r->busy_tsc : &r->idle_tsc;

	/* Single writer: a relaxed load + store is enough, readers see whole values. */
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + ticks,
	                 __ATOMIC_RELAXED);
	__atomic_store_n(&r->iterations, __atomic_load_n(&r->iterations, __ATOMIC_RELAXED) + 1,
	                 __ATOMIC_RELAXED);
}

static int
reactor_run(void *arg)
{
	struct reactor *r = arg;
	struct ftgt_thread *thread = r->thread;
	uint64_t now, next, deadline;
	int busy;

	ftgt_set_thread(thread);
	now = ftgt_get_ticks();
	/* Acquire: pairs with the release store in ftgt_reactors_stop(). */
	while (!__atomic_load_n(&g_reactors_stop, __ATOMIC_ACQUIRE)) {
		busy = ftgt_thread_poll(thread, 0, now);
		next = ftgt_get_ticks();
		reactor_account(r, busy, next - now);
		now = next;
	}

	/* Stop: the thread exits once its pollers and channels are gone. */
	ftgt_set_thread(thread);
	ftgt_thread_exit(thread);
	deadline = now + REACTOR_EXIT_TIMEOUT_MS * (ftgt_get_ticks_hz() / 1000);
	while (!ftgt_thread_is_exited(thread) && now < deadline) {
		busy = ftgt_thread_poll(thread, 0, now);
		next = ftgt_get_ticks();
		reactor_account(r, busy, next - now);
		now = next;
	}
	if (!ftgt_thread_is_exited(thread)) {
		FTGT_WARNLOG("reactor %" PRIu32 ": thread %s did not exit within %d ms\n", r->core,
		             ftgt_thread_get_name(thread), REACTOR_EXIT_TIMEOUT_MS);
		thread_log_leftovers(thread);
	}
	ftgt_set_thread(NULL);
	return 0;
}

void
ftgt_reactors_start(void)
{
	uint32_t main_core = ftgt_env_get_main_core();
	struct reactor *main_r = g_reactors[main_core];
	uint32_t core;
	int rc;

	if (main_r == NULL || g_reactors_running) {
		FTGT_ERRLOG("reactors: not initialized or already running\n");
		return;
	}
	g_reactors_running = true;
	FTGT_ENV_FOREACH_CORE (core) {
		if (core == main_core || g_reactors[core] == NULL) {
			continue;
		}
		rc = ftgt_env_thread_launch_pinned(core, reactor_run, g_reactors[core]);
		if (rc != 0) {
			FTGT_ERRLOG("reactor %" PRIu32 ": launch failed: %s\n", core,
			            strerror(-rc));
		}
	}
	reactor_run(main_r);
	ftgt_env_thread_wait_all();
	g_reactors_running = false;
}

void
ftgt_reactors_stop(void)
{
	/* Release: pairs with the acquire load in reactor_run()'s loop. */
	__atomic_store_n(&g_reactors_stop, true, __ATOMIC_RELEASE);
}

int
ftgt_reactor_get_stats(uint32_t core, struct ftgt_reactor_stats *stats)
{
	struct reactor *r;

	if (core >= FTGT_ENV_MAX_CORES || g_reactors[core] == NULL) {
		return -ENOENT;
	}
	r = g_reactors[core];
	stats->core = core;
	stats->busy_tsc = __atomic_load_n(&r->busy_tsc, __ATOMIC_RELAXED);
	stats->idle_tsc = __atomic_load_n(&r->idle_tsc, __ATOMIC_RELAXED);
	stats->iterations = __atomic_load_n(&r->iterations, __ATOMIC_RELAXED);
	return 0;
}
