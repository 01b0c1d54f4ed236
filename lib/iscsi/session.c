/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI sessions: creating or joining one at the end of login (MC/S, session and
 * connection reinstatement), LUN channels, and LUNs added to or removed from live
 * target nodes. A session belongs to the thread of its leading connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/log.h"
#include "ftgt/scsi.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

/* ---- sessions ------------------------------------------------------------------------ */

void
iscsi_lun_stats_add(struct iscsi_lun_stats *to, const struct iscsi_lun_stats *from)
{
	to->reads += from->reads;
	to->writes += from->writes;
	to->read_bytes += from->read_bytes;
	to->write_bytes += from->write_bytes;
	to->errors += from->errors;
}

/* The session's io channels for the LUNs it has none for yet (session thread). */
static int
sess_get_channels(struct iscsi_sess *sess)
{
	uint32_t i;

	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		struct ftgt_scsi_lun *lun = ftgt_scsi_dev_get_lun(sess->dev, i);

		if (lun != NULL && sess->lun_ch[i] == NULL && !sess->lun_gone[i]) {
			sess->lun_ch[i] = ftgt_scsi_lun_get_io_channel(lun);
			if (sess->lun_ch[i] == NULL) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

static void
sess_put_channels(struct iscsi_sess *sess)
{
	uint32_t i;

	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		if (sess->lun_ch[i] != NULL) {
			ftgt_put_io_channel(sess->lun_ch[i]);
			sess->lun_ch[i] = NULL;
		}
	}
}

/* The last connection is gone and none is joining (closing is set): free the session on
 * its thread. Its target node is still alive: the caller still holds a connection count. */
void
iscsi_sess_free(struct iscsi_sess *sess)
{
	uint32_t i;

	sess_put_channels(sess);
	if (sess->dev != NULL) {
		ftgt_scsi_dev_nexus_lost(sess->dev, &sess->iport);
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_REMOVE(&g_iscsi.sessions, sess, link);
	g_iscsi.num_sessions--;
	if (sess->tgt != NULL) {
		struct iscsi_retired_stats *r;

		TAILQ_FOREACH (r, &sess->tgt->retired, link) {
			if (r->thread == sess->thread) {
				break;
			}
		}
		if (r == NULL) {
			r = calloc(1, sizeof(*r));
			if (r != NULL) {
				r->thread = sess->thread;
				TAILQ_INSERT_TAIL(&sess->tgt->retired, r, link);
			} else {
				FTGT_ERRLOG("iscsi: out of memory: counters of tsih %u lost\n",
				            sess->tsih);
			}
		}
		for (i = 0; r != NULL && i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
			iscsi_lun_stats_add(&r->luns[i], &sess->lun_stats[i]);
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	FTGT_INFOLOG("iscsi session tsih %u of %s ended\n", sess->tsih, sess->initiator_name);
	free(sess);
}

/* ---- end of login: create or join a session ------------------------------------------- */

bool
iscsi_sess_reinstated_alive(const struct iscsi_conn *conn)
{
	const struct iscsi_sess *s, *sess = conn->sess;
	bool alive = false;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (s, &g_iscsi.sessions, link) {
		if (s != sess && !s->discovery && memcmp(s->isid, sess->isid, 6) == 0 &&
		    strcmp(s->initiator_name, sess->initiator_name) == 0 &&
		    strcasecmp(s->target_name, sess->target_name) == 0) {
			alive = true;
			break;
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	return alive;
}

/* A connection for an existing session (login with its TSIH, RFC 7143 6.3.1). Returns 0 or
 * a status detail of class "initiator error". Lock: management path, once per login. */
static int
login_join(struct iscsi_conn *conn)
{
	struct iscsi_sess *s, *sess = NULL;
	struct iscsi_conn *c;
	uint32_t n;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (s, &g_iscsi.sessions, link) {
		if (s->tsih == conn->login_tsih) {
			sess = s;
		}
	}
	if (sess == NULL || sess->closing || sess->discovery || conn->discovery ||
	    sess->tport.id != conn->pg_tag || sess->tgt != conn->tgt ||
	    (conn->tgt != NULL && conn->tgt->deleting) || memcmp(sess->isid, conn->isid, 6) != 0 ||
	    strcmp(sess->initiator_name, conn->initiator_name) != 0 ||
	    strcasecmp(sess->target_name, conn->target_name) != 0) {
		pthread_mutex_unlock(&g_iscsi.lock);
		return ISCSI_LOGIN_DETAIL_NO_SESSION;
	}
	n = sess->num_conns + sess->pending_joins;
	TAILQ_FOREACH (c, &sess->conns, sess_link) {
		if (c->cid == conn->cid) {
			n--; /* connection reinstatement: this one replaces it */
			break;
		}
	}
	if (n >= sess->max_conns) {
		pthread_mutex_unlock(&g_iscsi.lock);
		return ISCSI_LOGIN_DETAIL_TOO_MANY_CONNECTIONS;
	}
	sess->pending_joins++;
	conn->join_sess = sess;
	conn->tsih = sess->tsih;
	g_iscsi.stats.logins_ok++;
	pthread_mutex_unlock(&g_iscsi.lock);
	return 0;
}

/* Full feature phase starts. Returns 0, or a status detail with its class in *status_class. */
int
iscsi_login_finish(struct iscsi_conn *conn, uint8_t *status_class)
{
	struct iscsi_sess *sess, *s;
	struct iscsi_conn *c;
	char isid[16];

	if (conn->login_tsih != 0) {
		*status_class = ISCSI_LOGIN_CLASS_INITIATOR_ERROR;
		return login_join(conn);
	}
	*status_class = ISCSI_LOGIN_CLASS_TARGET_ERROR;
	sess = calloc(1, sizeof(*sess));
	if (sess == NULL) {
		return ISCSI_LOGIN_DETAIL_OUT_OF_RESOURCES;
	}
	sess->thread = ftgt_get_thread();
	sess->id = conn->id;
	TAILQ_INIT(&sess->conns);
	memcpy(sess->isid, conn->isid, 6);
	sess->discovery = conn->discovery;
	sess->tgt = conn->tgt;
	snprintf(sess->initiator_name, sizeof(sess->initiator_name), "%s", conn->initiator_name);
	snprintf(sess->target_name, sizeof(sess->target_name), "%s", conn->target_name);
	sess->sp = conn->neg.params;
	sess->sp.target_max_recv_dsl = conn->neg.target_limits.target_max_recv_dsl;
	sess->max_conns = sess->discovery ? 1 : FTGT_MAX(sess->sp.max_connections, 1u);
	snprintf(isid, sizeof(isid), "%02x%02x%02x%02x%02x%02x", conn->isid[0], conn->isid[1],
	         conn->isid[2], conn->isid[3], conn->isid[4], conn->isid[5]);
	snprintf(sess->iport.name, sizeof(sess->iport.name), "%s,i,0x%s", conn->initiator_name,
	         isid);
	sess->iport.id = conn->id;
	snprintf(sess->tport.name, sizeof(sess->tport.name), "%s,t,0x%04x", conn->target_name,
	         conn->pg_tag);
	sess->tport.relative_id = conn->pg_tag;
	sess->tport.id = conn->pg_tag;

	pthread_mutex_lock(&g_iscsi.lock);
	if (g_iscsi.num_sessions >= g_iscsi.opts.max_sessions) {
		pthread_mutex_unlock(&g_iscsi.lock);
		free(sess);
		return ISCSI_LOGIN_DETAIL_OUT_OF_RESOURCES;
	}
	if (conn->tgt != NULL && conn->tgt->deleting) {
		/* Deleted while this login ran: the node is going away. */
		pthread_mutex_unlock(&g_iscsi.lock);
		free(sess);
		*status_class = ISCSI_LOGIN_CLASS_INITIATOR_ERROR;
		return ISCSI_LOGIN_DETAIL_NOT_FOUND;
	}
	/* Session reinstatement (RFC 7143 6.3.5): same initiator port (name + ISID) and
	 * target: the old session and all its connections end. */
	TAILQ_FOREACH (s, &g_iscsi.sessions, link) {
		if (!s->discovery && !sess->discovery && !s->closing &&
		    memcmp(s->isid, sess->isid, 6) == 0 &&
		    strcmp(s->initiator_name, sess->initiator_name) == 0 &&
		    strcasecmp(s->target_name, sess->target_name) == 0) {
			s->closing = true;
			TAILQ_FOREACH (c, &s->conns, sess_link) {
				iscsi_request_drop(c);
			}
			/* The final login response waits until its tasks are gone. */
			conn->reinstating = true;
		}
	}
	g_iscsi.num_sessions++;
	sess->tsih = g_iscsi.next_tsih++;
	if (g_iscsi.next_tsih == 0) {
		g_iscsi.next_tsih = 1;
	}
	conn->tsih = sess->tsih;
	if (conn->tgt != NULL) {
		sess->dev = conn->tgt->dev;
		memcpy(sess->lun_gone, conn->tgt->lun_removing, sizeof(sess->lun_gone));
		sess->queue_depth = FTGT_MIN(conn->tgt->queue_depth, (uint32_t)CONN_MAX_TASKS);
	} else {
		sess->queue_depth = 8; /* discovery: Text and Logout */
	}
	iscsi_cmdsn_init(&sess->win, conn->login_exp_cmd_sn, sess->queue_depth);
	TAILQ_INSERT_TAIL(&g_iscsi.sessions, sess, link);
	TAILQ_INSERT_TAIL(&sess->conns, conn, sess_link);
	sess->num_conns = 1;
	conn->sess = sess;
	g_iscsi.stats.logins_ok++;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (sess->dev != NULL && sess_get_channels(sess) != 0) {
		return ISCSI_LOGIN_DETAIL_OUT_OF_RESOURCES;
	}
	return 0;
}

/* On the session's thread: a connection that logged in with the session's TSIH joins. */
static void
conn_join_msg(void *ctx)
{
	struct iscsi_conn *conn = ctx, *c, *old = NULL;
	struct iscsi_sess *sess = conn->join_sess;
	bool failed, last = false;

	pthread_mutex_lock(&g_iscsi.lock);
	sess->pending_joins--;
	failed = sess->closing || g_iscsi.stopping;
	if (!failed) {
		TAILQ_FOREACH (c, &sess->conns, sess_link) {
			if (c->cid == conn->cid && c->state != CONN_EXITING) {
				old = c;
			}
		}
		TAILQ_INSERT_TAIL(&sess->conns, conn, sess_link);
		sess->num_conns++;
		conn->sess = sess;
	} else {
		last = sess->num_conns == 0 && sess->pending_joins == 0;
	}
	conn->join_sess = NULL;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (last) {
		iscsi_sess_free(sess);
	}
	if (old != NULL) {
		/* Connection reinstatement (RFC 7143 6.3.4) at ERL 0: the old connection
		 * ends and its tasks are terminated. */
		FTGT_NOTICELOG("iscsi conn %llu: reinstates cid %u of session tsih %u\n",
		               (unsigned long long)conn->id, conn->cid, sess->tsih);
		iscsi_conn_begin_exit(old);
	}
	conn->poller = ftgt_poller_register(iscsi_conn_poll, conn, 0, "iscsi_conn");
	if (conn->poller == NULL) {
		iscsi_conn_begin_exit(conn);
		iscsi_conn_try_destroy(conn);
		return;
	}
	/* The final login response: success only now that it is in the session. */
	iscsi_login_join_respond(conn, !failed);
	if (failed) {
		return; /* CLOSING: the response goes out, then the connection ends */
	}
	FTGT_INFOLOG("iscsi conn %llu: cid %u joined session tsih %u (%u connections)\n",
	             (unsigned long long)conn->id, conn->cid, sess->tsih, sess->num_conns);
}

/* Logged in to an existing session: move to the session's thread (this poller ends). */
void
iscsi_conn_move_to_session(struct iscsi_conn *conn)
{
	struct ftgt_thread *me = conn->thread;

	ftgt_poller_unregister(&conn->poller);
	pthread_mutex_lock(&g_iscsi.lock);
	conn->thread = conn->join_sess->thread;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (ftgt_thread_send_msg(conn->thread, conn_join_msg, conn) == 0) {
		return;
	}
	/* Ring full: stay here and try again on the next poll. */
	pthread_mutex_lock(&g_iscsi.lock);
	conn->thread = me;
	pthread_mutex_unlock(&g_iscsi.lock);
	conn->poller = ftgt_poller_register(iscsi_conn_poll, conn, 0, "iscsi_conn");
	if (conn->poller == NULL) {
		FTGT_ERRLOG("iscsi conn %llu: cannot move to its session's thread\n",
		            (unsigned long long)conn->id);
	}
}

/* ---- LUNs added to live target nodes ---------------------------------------------------- */

struct lun_added_ctx {
	char name[ISCSI_MAX_NAME + 1];
	uint32_t lun_id;
	void (*done)(void *cb_arg);
	void *cb_arg;
};

static void
lun_added_on_thread(void *arg)
{
	struct lun_added_ctx *ctx = arg;
	struct ftgt_thread *me = ftgt_get_thread();
	struct iscsi_sess *s;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (s, &g_iscsi.sessions, link) {
		struct ftgt_scsi_lun *lun;

		if (s->thread != me || s->dev == NULL || s->closing ||
		    strcasecmp(s->target_name, ctx->name) != 0 || s->lun_ch[ctx->lun_id] != NULL ||
		    (s->tgt != NULL && s->tgt->lun_removing[ctx->lun_id])) {
			continue; /* (a removal that started since: it stays gone) */
		}
		s->lun_gone[ctx->lun_id] = false; /* the id may have been removed before */
		/* This thread owns the session: its channel table is ours to change. */
		lun = ftgt_scsi_dev_get_lun(s->dev, ctx->lun_id);
		if (lun != NULL) {
			s->lun_ch[ctx->lun_id] = ftgt_scsi_lun_get_io_channel(lun);
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
}

static void
lun_added_done(void *arg)
{
	struct lun_added_ctx *ctx = arg;

	ctx->done(ctx->cb_arg);
	free(ctx);
}

void
iscsi_sessions_lun_added(const char *tgt_name, uint32_t lun_id, void (*done)(void *cb_arg),
                         void *cb_arg)
{
	struct lun_added_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL || lun_id >= FTGT_SCSI_DEV_MAX_LUNS) {
		free(ctx);
		done(cb_arg);
		return;
	}
	snprintf(ctx->name, sizeof(ctx->name), "%s", tgt_name);
	ctx->lun_id = lun_id;
	ctx->done = done;
	ctx->cb_arg = cb_arg;
	ftgt_for_each_thread(lun_added_on_thread, ctx, lun_added_done);
}

/* ---- LUNs removed from live target nodes ------------------------------------------------ */

struct lun_remove_ctx {
	char name[ISCSI_MAX_NAME + 1];
	uint32_t lun_id;
	uint32_t busy;
	void (*done)(uint32_t busy, void *cb_arg);
	void *cb_arg;
};

/* Whether a task of the session on lun_id is in the SCSI layer (session thread). */
static bool
sess_lun_busy(const struct iscsi_sess *sess, uint32_t lun_id)
{
	const struct iscsi_conn *c;
	uint32_t i;

	if (sess->lun_resets[lun_id] > 0) {
		return true; /* a LUN reset on its channel is in flight */
	}
	TAILQ_FOREACH (c, &sess->conns, sess_link) {
		for (i = 0; i < CONN_MAX_TASKS; i++) {
			const struct iscsi_task *t = &c->tasks[i];

			if (t->state == TASK_EXEC &&
			    ((uint32_t)(iscsi_lun_to_u64(t->lun) >> 48) & 0x3fff) == lun_id) {
				return true;
			}
		}
	}
	return false;
}

static void
lun_remove_on_thread(void *arg)
{
	struct lun_remove_ctx *ctx = arg;
	struct ftgt_thread *me = ftgt_get_thread();
	struct iscsi_sess *s;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (s, &g_iscsi.sessions, link) {
		if (s->thread != me || s->dev == NULL ||
		    strcasecmp(s->target_name, ctx->name) != 0) {
			continue;
		}
		/* New commands to the LUN are refused; those in flight drain. */
		s->lun_gone[ctx->lun_id] = true;
		if (sess_lun_busy(s, ctx->lun_id)) {
			ctx->busy++;
		} else if (s->lun_ch[ctx->lun_id] != NULL) {
			ftgt_put_io_channel(s->lun_ch[ctx->lun_id]);
			s->lun_ch[ctx->lun_id] = NULL;
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
}

static void
lun_remove_done(void *arg)
{
	struct lun_remove_ctx *ctx = arg;

	ctx->done(ctx->busy, ctx->cb_arg);
	free(ctx);
}

void
iscsi_sessions_lun_remove(const char *tgt_name, uint32_t lun_id,
                          void (*done)(uint32_t busy, void *cb_arg), void *cb_arg)
{
	struct lun_remove_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL || lun_id >= FTGT_SCSI_DEV_MAX_LUNS) {
		free(ctx);
		done(UINT32_MAX, cb_arg);
		return;
	}
	snprintf(ctx->name, sizeof(ctx->name), "%s", tgt_name);
	ctx->lun_id = lun_id;
	ctx->done = done;
	ctx->cb_arg = cb_arg;
	ftgt_for_each_thread(lun_remove_on_thread, ctx, lun_remove_done);
}
