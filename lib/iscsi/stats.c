/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI counters and listings (iscsi_get_connections, _sessions, _stats, _lun_stats),
 * each value read on the thread that owns it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "ftgt/scsi.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

/* ---- counters, read on the owning threads ------------------------------------------- */

struct collect_tgt {
	char name[ISCSI_MAX_NAME + 1];
	uint64_t sessions;
	uint64_t connections;
	struct iscsi_lun_stats luns[FTGT_SCSI_DEV_MAX_LUNS];
};

struct collect_ctx {
	enum iscsi_collect_kind kind;
	bool has_filter;
	char filter[ISCSI_MAX_NAME + 1];
	json_t *arr;
	uint64_t running;
	uint64_t exiting;
	uint32_t ntgts;
	struct collect_tgt *tgts;
	void (*done)(json_t *result, void *cb_arg);
	void *cb_arg;
};

static const char *
conn_state_str(enum conn_state s)
{
	switch (s) {
	case CONN_LOGIN:
		return "login";
	case CONN_FFP:
		return "full_feature";
	case CONN_CLOSING:
		return "closing";
	default:
		return "exiting";
	}
}

static json_t *
lun_stats_json(const struct iscsi_lun_stats *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "reads", (json_int_t)s->reads, "writes",
	                 (json_int_t)s->writes, "read_bytes", (json_int_t)s->read_bytes,
	                 "write_bytes", (json_int_t)s->write_bytes, "errors",
	                 (json_int_t)s->errors);
}

/* On c's thread. */
static json_t *
conn_json(const struct iscsi_conn *c)
{
	json_t *o =
	        json_pack("{s:I, s:i, s:i, s:s, s:s, s:I, s:s, s:s, s:i, s:s, s:s}", "id",
	                  (json_int_t)c->id, "cid", c->cid, "tsih", c->tsih, "initiator_name",
	                  c->initiator_name, "initiator_addr", c->peer_addr, "initiator_port",
	                  (json_int_t)c->peer_port, "target_addr", c->local_addr,
	                  "target_node_name", c->target_name, "pg_tag", c->pg_tag, "session_type",
	                  c->discovery ? "discovery" : "normal", "state", conn_state_str(c->state));

	json_object_set_new(o, "target_port", json_integer(c->local_port));
	json_object_set_new(o, "lcore_id", json_integer(ftgt_thread_get_core(c->thread)));
	json_object_set_new(o, "thread", json_string(ftgt_thread_get_name(c->thread)));
	json_object_set_new(o, "pdus_rx", json_integer((json_int_t)c->pdus_rx));
	json_object_set_new(o, "pdus_tx", json_integer((json_int_t)c->pdus_tx));
	json_object_set_new(o, "read_bytes", json_integer((json_int_t)c->read_bytes));
	json_object_set_new(o, "write_bytes", json_integer((json_int_t)c->write_bytes));
	json_object_set_new(o, "active_tasks", json_integer(c->active_tasks));
	return o;
}

/* On s's thread. */
static json_t *
sess_json(const struct iscsi_sess *s)
{
	json_t *cids = json_array(), *o;
	const struct iscsi_conn *c;
	char isid[16];

	TAILQ_FOREACH (c, &s->conns, sess_link) {
		json_array_append_new(cids, json_integer(c->cid));
	}
	snprintf(isid, sizeof(isid), "%02x%02x%02x%02x%02x%02x", s->isid[0], s->isid[1], s->isid[2],
	         s->isid[3], s->isid[4], s->isid[5]);
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:I, s:I, s:I}", "tsih", s->tsih,
	              "isid", isid, "initiator_name", s->initiator_name, "target_node_name",
	              s->target_name, "session_type", s->discovery ? "discovery" : "normal",
	              "connections", (json_int_t)s->num_conns, "max_connections",
	              (json_int_t)s->max_conns, "cids", cids, "queue_depth",
	              (json_int_t)s->queue_depth, "exp_cmd_sn", (json_int_t)s->win.exp_cmd_sn,
	              "max_cmd_sn", (json_int_t)s->win.max_cmd_sn);
	json_object_set_new(o, "lcore_id", json_integer(ftgt_thread_get_core(s->thread)));
	return o;
}

static struct collect_tgt *
collect_find_tgt(struct collect_ctx *ctx, const char *name)
{
	uint32_t i;

	for (i = 0; i < ctx->ntgts; i++) {
		if (strcasecmp(ctx->tgts[i].name, name) == 0) {
			return &ctx->tgts[i];
		}
	}
	return NULL;
}

static void
collect_on_thread(void *arg)
{
	struct collect_ctx *ctx = arg;
	struct ftgt_thread *me = ftgt_get_thread();
	struct iscsi_conn *c;
	struct iscsi_sess *s;
	struct collect_tgt *ct;
	struct iscsi_tgt_node *t;
	struct iscsi_retired_stats *r;
	uint32_t i;

	pthread_mutex_lock(&g_iscsi.lock);
	/* Sessions that ended on this thread: in the same locked walk as the live ones, as
	 * a session ends on its thread (no double count, none missed). */
	for (i = 0; i < ctx->ntgts; i++) {
		uint32_t l;

		t = iscsi_tgt_find(ctx->tgts[i].name);
		if (t == NULL) {
			continue;
		}
		TAILQ_FOREACH (r, &t->retired, link) {
			if (r->thread != me) {
				continue;
			}
			for (l = 0; l < FTGT_SCSI_DEV_MAX_LUNS; l++) {
				iscsi_lun_stats_add(&ctx->tgts[i].luns[l], &r->luns[l]);
			}
		}
	}
	TAILQ_FOREACH (c, &g_iscsi.conns, link) {
		if (c->thread != me ||
		    (ctx->has_filter && strcasecmp(c->target_name, ctx->filter) != 0)) {
			continue;
		}
		if (c->state == CONN_LOGIN || c->state == CONN_FFP) {
			ctx->running++;
		} else {
			ctx->exiting++;
		}
		if (ctx->kind == ISCSI_COLLECT_CONNECTIONS) {
			json_array_append_new(ctx->arr, conn_json(c));
		}
	}
	TAILQ_FOREACH (s, &g_iscsi.sessions, link) {
		if (s->thread != me ||
		    (ctx->has_filter && strcasecmp(s->target_name, ctx->filter) != 0)) {
			continue;
		}
		if (ctx->kind == ISCSI_COLLECT_SESSIONS) {
			json_array_append_new(ctx->arr, sess_json(s));
		}
		ct = s->discovery ? NULL : collect_find_tgt(ctx, s->target_name);
		if (ct != NULL) {
			ct->sessions++;
			ct->connections += s->num_conns;
			for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
				iscsi_lun_stats_add(&ct->luns[i], &s->lun_stats[i]);
			}
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
}

static void
collect_done(void *arg)
{
	struct collect_ctx *ctx = arg;
	json_t *result = NULL, *arr;
	struct iscsi_tgt_node *t;
	uint32_t i, l;

	pthread_mutex_lock(&g_iscsi.lock);
	switch (ctx->kind) {
	case ISCSI_COLLECT_CONNECTIONS:
	case ISCSI_COLLECT_SESSIONS:
		result = ctx->arr;
		ctx->arr = NULL;
		break;
	case ISCSI_COLLECT_STATS:
		arr = json_array();
		for (i = 0; i < ctx->ntgts; i++) {
			struct iscsi_lun_stats sum = {0};

			t = iscsi_tgt_find(ctx->tgts[i].name);
			if (t == NULL) {
				continue;
			}
			for (l = 0; l < FTGT_SCSI_DEV_MAX_LUNS; l++) {
				iscsi_lun_stats_add(&sum, &ctx->tgts[i].luns[l]);
			}
			json_array_append_new(arr, lun_stats_json(&sum));
			json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "name",
			                    json_string(t->name));
			json_object_set_new(json_array_get(arr, json_array_size(arr) - 1),
			                    "sessions",
			                    json_integer((json_int_t)ctx->tgts[i].sessions));
			json_object_set_new(json_array_get(arr, json_array_size(arr) - 1),
			                    "connections",
			                    json_integer((json_int_t)ctx->tgts[i].connections));
		}
		result =
		        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
		                  "invalid", (json_int_t)0, "running", (json_int_t)ctx->running,
		                  "exiting", (json_int_t)ctx->exiting, "exited", (json_int_t)0,
		                  "sessions", (json_int_t)g_iscsi.num_sessions, "connections",
		                  (json_int_t)(ctx->running + ctx->exiting), "connections_accepted",
		                  (json_int_t)g_iscsi.stats.connections_accepted, "logins_ok",
		                  (json_int_t)g_iscsi.stats.logins_ok, "logins_failed",
		                  (json_int_t)g_iscsi.stats.logins_failed, "pdus_malformed",
		                  (json_int_t)g_iscsi.stats.pdus_malformed, "targets", arr);
		break;
	case ISCSI_COLLECT_LUN_STATS:
		result = json_array();
		for (i = 0; i < ctx->ntgts; i++) {
			json_t *luns = json_array();

			t = iscsi_tgt_find(ctx->tgts[i].name);
			if (t == NULL) {
				json_decref(luns);
				continue;
			}
			for (l = 0; l < FTGT_SCSI_DEV_MAX_LUNS; l++) {
				struct ftgt_scsi_lun *lun = ftgt_scsi_dev_get_lun(t->dev, l);
				struct iscsi_lun_stats sum = ctx->tgts[i].luns[l];
				json_t *o;

				if (lun == NULL) {
					continue;
				}
				o = lun_stats_json(&sum);
				json_object_set_new(o, "lun_id", json_integer(l));
				json_object_set_new(o, "bdev_name",
				                    json_string(ftgt_scsi_lun_get_bdev_name(lun)));
				json_array_append_new(luns, o);
			}
			json_array_append_new(
			        result, json_pack("{s:s, s:o}", "name", t->name, "luns", luns));
		}
		break;
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	ctx->done(result, ctx->cb_arg);
	json_decref(ctx->arr);
	free(ctx->tgts);
	free(ctx);
}

void
iscsi_collect(enum iscsi_collect_kind kind, const char *filter,
              void (*done)(json_t *result, void *cb_arg), void *cb_arg)
{
	struct collect_ctx *ctx = calloc(1, sizeof(*ctx));
	struct iscsi_tgt_node *t;
	uint32_t n = 0;

	if (ctx == NULL) {
		done(NULL, cb_arg);
		return;
	}
	ctx->kind = kind;
	ctx->done = done;
	ctx->cb_arg = cb_arg;
	ctx->arr = json_array();
	if (filter != NULL) {
		ctx->has_filter = true;
		snprintf(ctx->filter, sizeof(ctx->filter), "%s", filter);
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (t, &g_iscsi.tgts, link) {
		n++;
	}
	ctx->tgts = calloc(n + 1, sizeof(*ctx->tgts));
	TAILQ_FOREACH (t, &g_iscsi.tgts, link) {
		if (ctx->tgts == NULL) {
			break;
		}
		if (filter == NULL || strcasecmp(t->name, filter) == 0) {
			snprintf(ctx->tgts[ctx->ntgts].name, sizeof(ctx->tgts[0].name), "%s",
			         t->name);
			ctx->ntgts++;
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	if (ctx->tgts == NULL) {
		json_decref(ctx->arr);
		free(ctx);
		done(NULL, cb_arg);
		return;
	}
	ftgt_for_each_thread(collect_on_thread, ctx, collect_done);
}
