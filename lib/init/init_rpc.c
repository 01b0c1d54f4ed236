/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The app framework's RPC methods (SPDK's names and result shapes): start-up state,
 * subsystems and their config, save/load config, shutdown, reactor/thread/poller stats.
 * Stats are kept by each thread; a message visits every thread to copy them, and the
 * answer goes out when the last one replied.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

#include "ftgt/env.h"
#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/rpc.h"
#include "ftgt/thread.h"
#include "init_internal.h"

/* ---- framework_wait_init ------------------------------------------------------------ */

struct wait_init_req {
	struct ftgt_rpc_request *req;
	TAILQ_ENTRY(wait_init_req) link;
};
static TAILQ_HEAD(, wait_init_req) g_wait_init = TAILQ_HEAD_INITIALIZER(g_wait_init);

static void
rpc_framework_wait_init(struct ftgt_rpc_request *req, const json_t *params)
{
	struct wait_init_req *w;

	if (!ftgt_rpc_decode_or_error(req, params, NULL, 0, NULL)) {
		return;
	}
	if (ftgt_app_is_running()) {
		ftgt_rpc_send_bool(req, true);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INTERNAL_ERROR, "out of memory");
		return;
	}
	w->req = req;
	TAILQ_INSERT_TAIL(&g_wait_init, w, link);
}
FTGT_RPC_REGISTER("framework_wait_init", rpc_framework_wait_init)

static void
wait_init_answer(bool ok)
{
	struct wait_init_req *w;

	while ((w = TAILQ_FIRST(&g_wait_init)) != NULL) {
		TAILQ_REMOVE(&g_wait_init, w, link);
		if (ok) {
			ftgt_rpc_send_bool(w->req, true);
		} else {
			ftgt_rpc_send_error(w->req, FTGT_JSONRPC_ERROR_INVALID_STATE,
			                    "start-up did not finish: shutting down");
		}
		free(w);
	}
}

void
init_rpc_started(void)
{
	wait_init_answer(true);
}

void
init_rpc_shutdown(void)
{
	wait_init_answer(false);
}

/* ---- subsystems and config ---------------------------------------------------------- */

static void
rpc_framework_get_subsystems(struct ftgt_rpc_request *req, const json_t *params)
{
	if (!ftgt_rpc_decode_or_error(req, params, NULL, 0, NULL)) {
		return;
	}
	ftgt_rpc_send_result(req, ftgt_subsystem_list_json());
}
FTGT_RPC_REGISTER("framework_get_subsystems", rpc_framework_get_subsystems)

struct get_config_params {
	char *name;
	bool with_batches;
};

static const struct ftgt_rpc_field g_get_config_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct get_config_params, name), false},
        {"with_batches", FTGT_RPC_BOOL, offsetof(struct get_config_params, with_batches), true},
};

static void
rpc_framework_get_config(struct ftgt_rpc_request *req, const json_t *params)
{
	struct get_config_params p = {0};
	struct ftgt_subsystem *s;

	if (!ftgt_rpc_decode_or_error(req, params, g_get_config_fields, 2, &p)) {
		return;
	}
	s = ftgt_subsystem_find(p.name);
	if (s == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'name': no subsystem '%s'", p.name);
	} else {
		ftgt_rpc_send_result(req, ftgt_subsystem_write_config(s));
	}
	ftgt_rpc_decode_free(g_get_config_fields, 2, &p);
}
FTGT_RPC_REGISTER("framework_get_config", rpc_framework_get_config)

struct save_config_params {
	char *filename;
	int32_t indent;
};

static const struct ftgt_rpc_field g_save_config_fields[] = {
        {"filename", FTGT_RPC_STRING, offsetof(struct save_config_params, filename), true},
        {"indent", FTGT_RPC_INT32, offsetof(struct save_config_params, indent), true},
};

static void
rpc_save_config(struct ftgt_rpc_request *req, const json_t *params)
{
	struct save_config_params p = {.indent = 2};
	json_t *config;
	char tmp[4096];

	if (!ftgt_rpc_decode_or_error(req, params, g_save_config_fields, 2, &p)) {
		return;
	}
	config = ftgt_subsystem_config_json();
	if (config == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	if (p.filename != NULL) {
		/* Write a temporary file and rename it: a reader never sees half a config. */
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d", p.filename, (int)getpid());
		if (json_dump_file(config, tmp,
		                   p.indent > 0 ? JSON_INDENT(p.indent & 0x1f) : JSON_COMPACT) !=
		            0 ||
		    rename(tmp, p.filename) != 0) {
			int err = errno;

			unlink(tmp);
			json_decref(config);
			ftgt_rpc_send_error(req, err ? -err : -EIO,
			                    "cannot write config to '%s': %s", p.filename,
			                    strerror(err ? err : EIO));
			goto out;
		}
	}
	ftgt_rpc_send_result(req, config);
out:
	ftgt_rpc_decode_free(g_save_config_fields, 2, &p);
}
FTGT_RPC_REGISTER("save_config", rpc_save_config)

static void
load_config_done(void *cb_arg, int rc, const char *msg)
{
	struct ftgt_rpc_request *req = cb_arg;

	if (rc != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS, "%s", msg);
	} else {
		ftgt_rpc_send_bool(req, true);
	}
}

static void
rpc_load_config(struct ftgt_rpc_request *req, const json_t *params)
{
	if (params == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "missing parameter 'subsystems'");
		return;
	}
	ftgt_json_config_load(params, load_config_done, req);
}
FTGT_RPC_REGISTER("load_config", rpc_load_config)

/* ---- shutdown ----------------------------------------------------------------------- */

struct kill_params {
	char *sig_name;
};

static const struct ftgt_rpc_field g_kill_fields[] = {
        {"sig_name", FTGT_RPC_STRING, offsetof(struct kill_params, sig_name), false},
};

static const struct {
	const char *name;
	int sig;
} g_signals[] = {
        {"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGQUIT", SIGQUIT},
        {"SIGHUP", SIGHUP}, {"SIGKILL", SIGKILL},
};

static void
rpc_spdk_kill_instance(struct ftgt_rpc_request *req, const json_t *params)
{
	struct kill_params p = {0};
	const char *name;
	int sig = 0;
	size_t i;

	if (!ftgt_rpc_decode_or_error(req, params, g_kill_fields, 1, &p)) {
		return;
	}
	for (i = 0; i < sizeof(g_signals) / sizeof(g_signals[0]); i++) {
		name = g_signals[i].name;
		if (strcasecmp(p.sig_name, name) == 0 || strcasecmp(p.sig_name, name + 3) == 0) {
			sig = g_signals[i].sig;
		}
	}
	if (sig == 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'sig_name': expected SIGINT, SIGTERM, "
		                    "SIGQUIT, SIGHUP or SIGKILL; got '%s'",
		                    p.sig_name);
		ftgt_rpc_decode_free(g_kill_fields, 1, &p);
		return;
	}
	ftgt_rpc_decode_free(g_kill_fields, 1, &p);
	ftgt_rpc_send_bool(req, true);
	if (sig == SIGINT || sig == SIGTERM) {
		/* The same path as the signal, without a second-signal surprise. */
		ftgt_app_stop(0);
		return;
	}
	ftgt_rpc_server_flush_all();
	kill(getpid(), sig);
}
FTGT_RPC_REGISTER("spdk_kill_instance", rpc_spdk_kill_instance)

static void
rpc_app_shutdown(struct ftgt_rpc_request *req, const json_t *params)
{
	if (!ftgt_rpc_decode_or_error(req, params, NULL, 0, NULL)) {
		return;
	}
	ftgt_rpc_send_bool(req, true);
	ftgt_app_stop(0);
}
FTGT_RPC_REGISTER("app_shutdown", rpc_app_shutdown)

/* ---- reactors, threads, pollers ----------------------------------------------------- */

enum stats_kind {
	STATS_REACTORS,
	STATS_THREADS,
	STATS_POLLERS,
};

struct stats_ctx {
	struct ftgt_rpc_request *req;
	enum stats_kind kind;
	uint64_t hz;
	json_t *threads; /* one object per thread, filled on that thread */
};

static char *
core_mask_str(uint32_t core, char *buf, size_t len)
{
	uint64_t mask = 0;
	uint32_t i;

	if (core != FTGT_ENV_CORE_ANY && core < 64) {
		mask = 1ull << core;
	} else {
		FTGT_ENV_FOREACH_CORE (i) {
			if (i < 64) {
				mask |= 1ull << i;
			}
		}
	}
	snprintf(buf, len, "%" PRIx64, mask);
	return buf;
}

struct poller_lists {
	json_t *active;
	json_t *timed;
	json_t *paused;
	uint64_t hz;
	uint32_t active_count;
	uint32_t timed_count;
	uint32_t paused_count;
};

static void
stats_poller_visit(const struct ftgt_poller_stats *ps, void *arg)
{
	struct poller_lists *l = arg;
	json_t *o, *list;

	if (ps->paused) {
		l->paused_count++;
		list = l->paused;
	} else if (ps->period_us != 0) {
		l->timed_count++;
		list = l->timed;
	} else {
		l->active_count++;
		list = l->active;
	}
	if (list == NULL) {
		return;
	}
	o = json_pack("{s:s, s:s, s:I, s:I}", "name", ps->name ? ps->name : "", "state",
	              ps->paused ? "paused" : "waiting", "run_count", (json_int_t)ps->run_count,
	              "busy_count", (json_int_t)ps->busy_count);
	if (o != NULL && ps->period_us != 0) {
		json_object_set_new(o, "period_ticks",
		                    json_integer((json_int_t)(ps->period_us * (l->hz / 1000000))));
	}
	json_array_append_new(list, o);
}

/* Runs on each thread in turn. */
static void
stats_collect(void *arg)
{
	struct stats_ctx *ctx = arg;
	struct ftgt_thread *t = ftgt_get_thread();
	struct ftgt_thread_stats st = {0};
	struct poller_lists l = {.hz = ctx->hz};
	char mask[24];
	json_t *o;

	if (t == NULL) {
		return;
	}
	ftgt_thread_get_stats(t, &st);
	o = json_pack("{s:s, s:I}", "name", ftgt_thread_get_name(t), "id",
	              (json_int_t)ftgt_thread_get_id(t));
	if (o == NULL) {
		return;
	}
	if (ctx->kind == STATS_POLLERS) {
		l.active = json_array();
		l.timed = json_array();
		l.paused = json_array();
	}
	ftgt_thread_for_each_poller(stats_poller_visit, &l);
	core_mask_str(ftgt_thread_get_core(t), mask, sizeof(mask));
	switch (ctx->kind) {
	case STATS_REACTORS:
		json_object_set_new(o, "cpumask", json_string(mask));
		json_object_set_new(o, "elapsed",
		                    json_integer((json_int_t)(st.busy_tsc + st.idle_tsc)));
		json_object_set_new(o, "core", json_integer(ftgt_thread_get_core(t)));
		break;
	case STATS_THREADS:
		json_object_set_new(o, "cpumask", json_string(mask));
		json_object_set_new(o, "busy", json_integer((json_int_t)st.busy_tsc));
		json_object_set_new(o, "idle", json_integer((json_int_t)st.idle_tsc));
		json_object_set_new(o, "in_interrupt", json_false());
		json_object_set_new(o, "active_pollers_count", json_integer(l.active_count));
		json_object_set_new(o, "timed_pollers_count", json_integer(l.timed_count));
		json_object_set_new(o, "paused_pollers_count", json_integer(l.paused_count));
		break;
	case STATS_POLLERS:
		json_object_set_new(o, "active_pollers", l.active);
		json_object_set_new(o, "timed_pollers", l.timed);
		json_object_set_new(o, "paused_pollers", l.paused);
		break;
	}
	json_array_append_new(ctx->threads, o);
}

static json_t *
stats_reactors_result(struct stats_ctx *ctx)
{
	struct ftgt_reactor_stats rs;
	json_t *reactors = json_array(), *r, *lw, *t;
	uint32_t core, main_core = ftgt_env_get_main_core();
	json_int_t tcore;
	size_t i;

	FTGT_ENV_FOREACH_CORE (core) {
		memset(&rs, 0, sizeof(rs));
		ftgt_reactor_get_stats(core, &rs);
		lw = json_array();
		json_array_foreach(ctx->threads, i, t)
		{
			tcore = json_integer_value(json_object_get(t, "core"));
			/* Threads not bound to a core are listed under the main core. */
			if (tcore == core ||
			    (tcore == (json_int_t)FTGT_ENV_CORE_ANY && core == main_core)) {
				json_t *c = json_deep_copy(t);

				json_object_del(c, "core");
				json_array_append_new(lw, c);
			}
		}
		r = json_pack("{s:i, s:I, s:I, s:i, s:i, s:b, s:o}", "lcore", (int)core, "busy",
		              (json_int_t)rs.busy_tsc, "idle", (json_int_t)rs.idle_tsc, "irq", 0,
		              "sys", 0, "in_interrupt", 0, "lw_threads", lw);
		json_array_append_new(reactors, r);
	}
	return json_pack("{s:I, s:i, s:o}", "tick_rate", (json_int_t)ctx->hz, "pid", (int)getpid(),
	                 "reactors", reactors);
}

static void
stats_done(void *arg)
{
	struct stats_ctx *ctx = arg;
	json_t *result;

	if (ctx->kind == STATS_REACTORS) {
		result = stats_reactors_result(ctx);
	} else {
		result = json_pack("{s:I, s:O}", "tick_rate", (json_int_t)ctx->hz, "threads",
		                   ctx->threads);
	}
	json_decref(ctx->threads);
	ftgt_rpc_send_result(ctx->req, result);
	free(ctx);
}

static void
rpc_stats(struct ftgt_rpc_request *req, const json_t *params, enum stats_kind kind)
{
	struct stats_ctx *ctx;

	if (!ftgt_rpc_decode_or_error(req, params, NULL, 0, NULL)) {
		return;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL || (ctx->threads = json_array()) == NULL) {
		free(ctx);
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INTERNAL_ERROR, "out of memory");
		return;
	}
	ctx->req = req;
	ctx->kind = kind;
	ctx->hz = ftgt_get_ticks_hz();
	ftgt_for_each_thread(stats_collect, ctx, stats_done);
}

static void
rpc_framework_get_reactors(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_stats(req, params, STATS_REACTORS);
}
FTGT_RPC_REGISTER("framework_get_reactors", rpc_framework_get_reactors)

static void
rpc_thread_get_stats(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_stats(req, params, STATS_THREADS);
}
FTGT_RPC_REGISTER("thread_get_stats", rpc_thread_get_stats)

static void
rpc_thread_get_pollers(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_stats(req, params, STATS_POLLERS);
}
FTGT_RPC_REGISTER("thread_get_pollers", rpc_thread_get_pollers)
