/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI task management (RFC 7143 11.5): ABORT TASK, ABORT TASK SET, CLEAR TASK SET,
 * LUN RESET, TARGET WARM/COLD RESET, on the connection's thread.
 */
#include <stdlib.h>
#include <string.h>

#include "ftgt/scsi.h"
#include "iscsi_internal.h"

/* ---- task management ---------------------------------------------------------------- */

struct tmf_ctx {
	struct iscsi_conn *conn; /* where the TMF came in; it waits (pending_tmfs) for us */
	uint32_t itt;
	uint8_t response;
	int pending; /* aborted tasks and resets not finished yet, + 1 while starting */
};

static void
send_tmf_rsp(struct iscsi_conn *conn, uint32_t itt, uint8_t response)
{
	struct ctrl_pdu *c = iscsi_ctrl_get(conn);
	struct iscsi_bhs_task_rsp *r;

	if (c == NULL) {
		return;
	}
	r = (struct iscsi_bhs_task_rsp *)c->hdr;
	r->opcode = ISCSI_OP_TASK_RSP;
	r->flags = ISCSI_FLAG_FINAL;
	r->response = response;
	r->itt = ftgt_cpu_to_be32(itt);
	iscsi_fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	iscsi_ctrl_queue(conn, c);
}

static struct tmf_ctx *
tmf_ctx_new(struct iscsi_conn *conn, uint32_t itt)
{
	struct tmf_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		return NULL;
	}
	ctx->conn = conn;
	ctx->itt = itt;
	ctx->response = ISCSI_TMF_RSP_COMPLETE;
	ctx->pending = 1;
	conn->pending_tmfs++;
	return ctx;
}

/* One thing the TMF waited for is done; the last one sends the TMF response (after every
 * aborted task's cpl_fn ran, RFC 7143 11.5.1 / SAM-5 7.2). */
void
iscsi_tmf_task_done(struct tmf_ctx *ctx)
{
	struct iscsi_conn *conn = ctx->conn;

	if (--ctx->pending > 0) {
		return;
	}
	conn->pending_tmfs--;
	if (conn->state == CONN_FFP) {
		send_tmf_rsp(conn, ctx->itt, ctx->response);
	}
	free(ctx);
}

/* One LUN reset of a TMF: its LUN's channel counts busy (LUN removal) until it ends. */
struct tmf_reset {
	struct tmf_ctx *ctx;
	uint32_t lun_id;
};

static void
tmf_reset_done(void *arg, int rc)
{
	struct tmf_reset *r = arg;
	struct tmf_ctx *ctx = r->ctx;

	/* The connection (and so its session) stays until pending_tmfs drops to 0. */
	if (ctx->conn->sess != NULL) {
		ctx->conn->sess->lun_resets[r->lun_id]--;
	}
	free(r);
	if (rc != 0) {
		ctx->response = ISCSI_TMF_RSP_REJECTED;
	}
	iscsi_tmf_task_done(ctx);
}

/* Abort one task of `owner`: one waiting for Data-Out is freed at once; one in the SCSI
 * layer is aborted there (ftgt_scsi_task_abort), its response is suppressed and ctx (if
 * any) waits for its cpl_fn; a task whose response is being sent is left alone. */
static void
task_abort(struct iscsi_conn *owner, struct iscsi_task *t, struct tmf_ctx *ctx)
{
	if (t->state == TASK_DATA_OUT) {
		iscsi_task_release(owner, t);
	} else if (t->state == TASK_EXEC) {
		if (ctx != NULL && t->tmf == NULL) {
			t->tmf = ctx;
			ctx->pending++;
		}
		if (!t->aborted) {
			t->aborted = true;
			/* cpl_fn may run inside (counted above first). */
			ftgt_scsi_task_abort(&t->scsi);
		}
	}
}

/* Abort the tasks of one connection on `lun` (all LUNs when NULL), or only ITT only_itt. */
void
iscsi_abort_conn_tasks(struct iscsi_conn *conn, const uint8_t *lun, int64_t only_itt,
                       struct tmf_ctx *ctx)
{
	uint32_t i;

	for (i = 0; i < CONN_MAX_TASKS; i++) {
		struct iscsi_task *t = &conn->tasks[i];

		if (t->state == TASK_FREE || (lun != NULL && memcmp(t->lun, lun, 8) != 0) ||
		    (only_itt >= 0 && t->itt != (uint32_t)only_itt)) {
			continue;
		}
		task_abort(conn, t, ctx);
	}
}

/* The same over every connection of the session (they all run on this thread). */
static void
abort_sess_tasks(struct iscsi_conn *conn, const uint8_t *lun, int64_t only_itt, struct tmf_ctx *ctx)
{
	struct iscsi_conn *c;

	if (conn->sess == NULL) {
		iscsi_abort_conn_tasks(conn, lun, only_itt, ctx);
		return;
	}
	TAILQ_FOREACH (c, &conn->sess->conns, sess_link) {
		iscsi_abort_conn_tasks(c, lun, only_itt, ctx);
	}
}

/* ITTs are unique in the session (RFC 7143 11.1): search every connection. */
static struct iscsi_task *
find_sess_task_itt(struct iscsi_conn *conn, uint32_t itt)
{
	struct iscsi_conn *c;
	struct iscsi_task *t;

	TAILQ_FOREACH (c, &conn->sess->conns, sess_link) {
		t = iscsi_find_task_itt(c, itt);
		if (t != NULL) {
			return t;
		}
	}
	return NULL;
}

void
iscsi_handle_tmf(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_task_req *t = (const struct iscsi_bhs_task_req *)info->bhs;
	uint8_t func = t->flags & ISCSI_TMF_FUNC_MASK;
	uint64_t raw = iscsi_lun_to_u64(t->lun);
	uint32_t lun_id = (uint32_t)(raw >> 48) & 0x3fff;
	struct iscsi_sess *sess = conn->sess;
	struct ftgt_scsi_lun *lun = NULL;
	struct tmf_ctx *ctx;
	struct tmf_reset *reset;
	uint32_t i;

	if (!iscsi_cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(t->cmd_sn))) {
		return;
	}
	if (sess->dev != NULL && lun_id < FTGT_SCSI_DEV_MAX_LUNS) {
		lun = ftgt_scsi_dev_get_lun(sess->dev, lun_id);
	}
	if (sess->discovery) {
		send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_NOT_SUPPORTED);
		return;
	}
	switch (func) {
	case ISCSI_TMF_ABORT_TASK: {
		struct iscsi_task *victim =
		        find_sess_task_itt(conn, ftgt_be32_to_cpu(t->ref_task_tag));
		uint32_t ref_sn = ftgt_be32_to_cpu(t->ref_cmd_sn);

		if (victim != NULL && victim->state != TASK_SEND) {
			ctx = tmf_ctx_new(conn, info->itt);
			if (ctx == NULL) {
				send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_REJECTED);
				return;
			}
			task_abort(victim->conn, victim, ctx);
			iscsi_tmf_task_done(ctx);
		} else if (!iscsi_sn_lt(ref_sn, sess->win.exp_cmd_sn) &&
		           !iscsi_sn_gt(ref_sn, sess->win.max_cmd_sn) &&
		           iscsi_sn_lt(ref_sn, ftgt_be32_to_cpu(t->cmd_sn))) {
			/* Not received yet, in the window and before this TMF (RFC 7143
			 * 11.5.1 b): consider it received, so ExpCmdSN moves past it. */
			if (iscsi_cmdsn_accept(&sess->win, ref_sn) == 0) {
				iscsi_cmdsn_complete(&sess->win);
			}
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_COMPLETE);
		} else {
			/* Answered already, or outside the window (11.5.1 c). */
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_NO_TASK);
		}
		return;
	}
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_TASK_SET:
		if (lun == NULL) {
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_NO_LUN);
			return;
		}
		ctx = tmf_ctx_new(conn, info->itt);
		if (ctx == NULL) {
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_REJECTED);
			return;
		}
		/* The tasks of this I_T nexus on the LUN, on every connection. */
		abort_sess_tasks(conn, t->lun, -1, ctx);
		iscsi_tmf_task_done(ctx);
		return;
	case ISCSI_TMF_LUN_RESET:
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		if (func == ISCSI_TMF_LUN_RESET && lun == NULL) {
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_NO_LUN);
			return;
		}
		ctx = tmf_ctx_new(conn, info->itt);
		if (ctx == NULL) {
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_REJECTED);
			return;
		}
		/* Our tasks' responses are suppressed and the answer waits for their cpl_fn
		 * (as for ABORT TASK SET); the SCSI layer's reset waits for the I/O in flight
		 * and raises the unit attentions for the other nexuses. */
		abort_sess_tasks(conn, func == ISCSI_TMF_LUN_RESET ? t->lun : NULL, -1, ctx);
		for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
			struct ftgt_scsi_lun *l = ftgt_scsi_dev_get_lun(sess->dev, i);

			if (l == NULL || sess->lun_ch[i] == NULL ||
			    (func == ISCSI_TMF_LUN_RESET && l != lun)) {
				continue;
			}
			reset = calloc(1, sizeof(*reset));
			if (reset == NULL) {
				ctx->response = ISCSI_TMF_RSP_REJECTED;
				continue;
			}
			reset->ctx = ctx;
			reset->lun_id = i;
			ctx->pending++;
			sess->lun_resets[i]++;
			if (ftgt_scsi_lun_reset(l, sess->lun_ch[i], &sess->iport, tmf_reset_done,
			                        reset) != 0) {
				ctx->pending--;
				sess->lun_resets[i]--;
				free(reset);
				ctx->response = ISCSI_TMF_RSP_REJECTED;
			}
		}
		iscsi_tmf_task_done(ctx);
		return;
	default:
		send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_NOT_SUPPORTED);
		return;
	}
}
