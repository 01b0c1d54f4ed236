/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The application frame: start-up and the shutdown state machine.
 *
 *   main thread: env -> thread lib -> reactors -> ftgt_reactors_start() (blocks)
 *   app thread:  STARTING (subsystems, RPC server, config, start_fn) -> RUNNING
 *                -> STOPPING (refuse RPC, subsystems fini in reverse, RPC server stop,
 *                   reactors stop) ; the main thread then frees everything.
 *
 * Signals: SIGINT/SIGTERM only set a flag (async-signal-safe) that a poller on the app
 * thread turns into a shutdown; a second one exits at once with status 1. SIGPIPE is
 * ignored (sockets use MSG_NOSIGNAL anyway).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftgt/env.h"
#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/rpc.h"
#include "ftgt/thread.h"
#include "init_internal.h"

#define APP_SIGNAL_POLL_US   10000
#define APP_DRAIN_TIMEOUT_MS 1000

enum app_state {
	APP_IDLE,     /* ftgt_app_start() not called, or returned */
	APP_STARTING, /* an async start-up step is in progress */
	APP_RUNNING,  /* started; serving */
	APP_STOPPING, /* the shutdown state machine runs */
};

static struct {
	struct ftgt_app_opts opts;
	ftgt_app_start_fn start_fn;
	void *start_ctx;
	enum app_state state;
	struct ftgt_thread *thread;
	struct ftgt_poller *signal_poller;
	struct ftgt_poller *drain_poller;
	uint64_t drain_deadline; /* ticks */
	bool stop_requested;     /* shutdown asked for while a start-up step ran */
	int exit_code;
} g_app;

/* Written by signal handlers and other threads; read on the app thread. */
static sig_atomic_t g_signal_count; /* __atomic_* only */
static volatile sig_atomic_t g_signal_last;
static int g_shutdown_calls;
static bool g_shutting_down;
static bool g_running;

bool
ftgt_app_is_shutting_down(void)
{
	return __atomic_load_n(&g_shutting_down, __ATOMIC_ACQUIRE);
}

bool
ftgt_app_is_running(void)
{
	return __atomic_load_n(&g_running, __ATOMIC_ACQUIRE);
}

void
ftgt_app_opts_init(struct ftgt_app_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->name = "ftgt";
	opts->core_mask = "0x1";
	opts->rpc_addr = FTGT_RPC_DEFAULT_SOCKET;
}

/* ---- shutdown ----------------------------------------------------------------------- */

static void
app_stopped_subsystems(void *arg)
{
	ftgt_rpc_server_stop();
	ftgt_poller_unregister(&g_app.signal_poller);
	FTGT_INFOLOG("app: stopping reactors\n");
	ftgt_reactors_stop();
}

/*
 * Requests already running (e.g. statistics gathered from every thread, a create
 * waiting for its back end) finish before the subsystems they use go away; a handler
 * that never answers holds the shutdown up for APP_DRAIN_TIMEOUT_MS at most.
 */
static int
app_drain_poll(void *ctx)
{
	uint32_t n = ftgt_rpc_requests_in_flight();

	if (n > 0 && ftgt_get_ticks() < g_app.drain_deadline) {
		return FTGT_POLLER_IDLE;
	}
	if (n > 0) {
		FTGT_WARNLOG("app: %u RPC requests still unanswered; stopping anyway\n", n);
	}
	ftgt_poller_unregister(&g_app.drain_poller);
	ftgt_subsystem_fini_all(app_stopped_subsystems, NULL);
	return FTGT_POLLER_BUSY;
}

static void
app_begin_stop(void)
{
	if (g_app.state == APP_STOPPING) {
		return;
	}
	if (g_app.state == APP_STARTING) {
		/* The running start-up step finishes first, then sees this flag. */
		g_app.stop_requested = true;
		__atomic_store_n(&g_shutting_down, true, __ATOMIC_RELEASE);
		return;
	}
	g_app.state = APP_STOPPING;
	__atomic_store_n(&g_shutting_down, true, __ATOMIC_RELEASE);
	__atomic_store_n(&g_running, false, __ATOMIC_RELEASE);
	FTGT_NOTICELOG("app: shutting down\n");
	ftgt_rpc_server_refuse();
	init_rpc_shutdown();
	g_app.drain_deadline = ftgt_get_ticks() + ftgt_get_ticks_hz() / 1000 * APP_DRAIN_TIMEOUT_MS;
	g_app.drain_poller = ftgt_poller_register(app_drain_poll, NULL, 1000, "app_drain");
	if (g_app.drain_poller == NULL) {
		ftgt_subsystem_fini_all(app_stopped_subsystems, NULL);
	}
}

static void
app_stop_msg(void *ctx)
{
	int code = (int)(intptr_t)ctx;

	if (code != 0 && g_app.exit_code == 0) {
		g_app.exit_code = code;
	}
	app_begin_stop();
}

void
ftgt_app_stop(int exit_code)
{
	struct ftgt_thread *t = g_app.thread;

	if (t == NULL) {
		return;
	}
	if (ftgt_thread_send_msg(t, app_stop_msg, (void *)(intptr_t)exit_code) != 0) {
		FTGT_ERRLOG("app: cannot reach the app thread; exiting\n");
		_exit(exit_code != 0 ? exit_code : 1);
	}
}

void
ftgt_app_shutdown(void)
{
	if (__atomic_fetch_add(&g_shutdown_calls, 1, __ATOMIC_ACQ_REL) > 0) {
		FTGT_ERRLOG("app: second shutdown request: exiting now\n");
		_exit(1);
	}
	ftgt_app_stop(0);
}

static void
app_signal_handler(int sig)
{
	/*
	 * Atomic: SIGINT and SIGTERM may land on two reactors at the same time; a plain ++
	 * could let both see 0 and the second signal would not force the exit.
	 */
	g_signal_last = sig; /* before the count: the poller reads it once the count is set */
	if (__atomic_fetch_add(&g_signal_count, 1, __ATOMIC_SEQ_CST) > 0) {
		/* Only async-signal-safe calls here. */
		static const char msg[] = "ftgt: second signal: exiting now\n";
		ssize_t rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);

		(void)rc;
		_exit(1);
	}
}

static int
app_signal_poll(void *ctx)
{
	if (__atomic_load_n(&g_signal_count, __ATOMIC_ACQUIRE) == 0 ||
	    g_app.state == APP_STOPPING || g_app.stop_requested) {
		return FTGT_POLLER_IDLE;
	}
	FTGT_NOTICELOG("app: received %s\n", strsignal(g_signal_last));
	app_begin_stop();
	return FTGT_POLLER_BUSY;
}

static void
app_signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = app_signal_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
app_signals_restore(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---- start-up ----------------------------------------------------------------------- */

/* A start-up step failed: log why, then stop with status 1. */
static void
app_start_failed(void)
{
	g_app.exit_code = 1;
	g_app.state = APP_RUNNING; /* no step in progress: the stop can begin */
	app_begin_stop();
}

/* Returns true when a stop was requested during the step that just ended. */
static bool
app_step_ended(void)
{
	if (!g_app.stop_requested) {
		return false;
	}
	g_app.state = APP_RUNNING;
	app_begin_stop();
	return true;
}

static void
app_config_loaded(void *arg, int rc, const char *msg)
{
	if (rc != 0) {
		FTGT_ERRLOG("%s\n", msg);
		app_start_failed();
		return;
	}
	if (app_step_ended()) {
		return;
	}
	g_app.state = APP_RUNNING;
	__atomic_store_n(&g_running, true, __ATOMIC_RELEASE);
	init_rpc_started();
	if (g_app.start_fn != NULL) {
		g_app.start_fn(g_app.start_ctx);
	}
}

static void
app_subsystems_started(void *arg, int rc)
{
	if (rc != 0) {
		FTGT_ERRLOG("app: subsystems failed to start: %s\n", strerror(-rc));
		app_start_failed();
		return;
	}
	if (app_step_ended()) {
		return;
	}
	if (g_app.opts.rpc_addr != NULL) {
		rc = ftgt_rpc_server_start(g_app.opts.rpc_addr);
		if (rc != 0) {
			FTGT_ERRLOG("app: cannot serve RPC on %s: %s\n", g_app.opts.rpc_addr,
			            strerror(-rc));
			app_start_failed();
			return;
		}
	}
	if (g_app.opts.config_file != NULL) {
		ftgt_json_config_load_file(g_app.opts.config_file, app_config_loaded, NULL);
	} else if (g_app.opts.config_json != NULL) {
		ftgt_json_config_load(g_app.opts.config_json, app_config_loaded, NULL);
	} else {
		app_config_loaded(NULL, 0, NULL);
	}
}

static void
app_start_msg(void *ctx)
{
	g_app.signal_poller =
	        ftgt_poller_register(app_signal_poll, NULL, APP_SIGNAL_POLL_US, "app_signal");
	if (g_app.signal_poller == NULL) {
		FTGT_ERRLOG("app: cannot register the signal poller\n");
		app_start_failed();
		return;
	}
	ftgt_subsystem_init_all(app_subsystems_started, NULL);
}

int
ftgt_app_start(const struct ftgt_app_opts *opts, ftgt_app_start_fn start_fn, void *ctx)
{
	struct ftgt_env_opts env_opts;
	int rc;

	if (g_app.state != APP_IDLE) {
		return -EALREADY;
	}
	memset(&g_app, 0, sizeof(g_app));
	g_app.opts = *opts;
	g_app.start_fn = start_fn;
	g_app.start_ctx = ctx;
	g_shutdown_calls = 0;
	g_shutting_down = false;
	__atomic_store_n(&g_signal_count, 0, __ATOMIC_RELEASE);
	app_signals_setup();

	ftgt_env_opts_init(&env_opts);
	env_opts.name = opts->name ? opts->name : "ftgt";
	env_opts.core_mask = opts->core_mask ? opts->core_mask : "0x1";
	env_opts.mem_size_mb = opts->mem_size_mb;
	env_opts.no_huge = opts->no_huge;
	rc = ftgt_env_init(&env_opts);
	if (rc != 0) {
		FTGT_ERRLOG("app: cannot start the environment (core mask %s): %s\n",
		            env_opts.core_mask, strerror(-rc));
		goto err_signals;
	}
	rc = ftgt_thread_lib_init(0);
	if (rc != 0) {
		FTGT_ERRLOG("app: cannot start the thread library: %s\n", strerror(-rc));
		goto err_env;
	}
	rc = ftgt_reactors_init();
	if (rc != 0) {
		FTGT_ERRLOG("app: cannot create reactors: %s\n", strerror(-rc));
		goto err_thread;
	}
	g_app.thread = ftgt_thread_get_app_thread();
	g_app.state = APP_STARTING;
	if (g_app.thread == NULL || ftgt_thread_send_msg(g_app.thread, app_start_msg, NULL) != 0) {
		FTGT_ERRLOG("app: no app thread\n");
		rc = -EIO;
		goto err_reactors;
	}
	ftgt_reactors_start();

	ftgt_reactors_fini();
	ftgt_thread_lib_fini();
	ftgt_env_fini();
	app_signals_restore();
	g_app.thread = NULL;
	g_app.state = APP_IDLE;
	return g_app.exit_code;

err_reactors:
	ftgt_reactors_fini();
err_thread:
	ftgt_thread_lib_fini();
err_env:
	ftgt_env_fini();
err_signals:
	app_signals_restore();
	g_app.thread = NULL;
	g_app.state = APP_IDLE;
	return 1;
}
