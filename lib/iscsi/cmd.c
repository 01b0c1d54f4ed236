/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI SCSI Command, Data-Out and R2T (RFC 7143 11.2-11.8): tasks handed to lib/scsi and
 * their completions, on the connection's thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "ftgt/scsi.h"
#include "ftgt/spec/scsi.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

static void conn_handle_task_done(struct ftgt_scsi_task *st);
static void conn_queue_r2t(struct iscsi_conn *conn, struct iscsi_task *task);

/* ---- SCSI commands ----------------------------------------------------------------- */

/* A SCSI command: takes a credit of the session's window until its task is released.
 * RFC 7143 4.2.2.1: outside [ExpCmdSN, MaxCmdSN] (or a duplicate) -> silently ignored. */
static bool
cmd_sn_check(struct iscsi_conn *conn, const struct iscsi_pdu_info *info, uint32_t cmd_sn)
{
	if (info->immediate) {
		return true;
	}
	if (conn->sess == NULL) {
		return false;
	}
	return iscsi_cmdsn_accept(&conn->sess->win, cmd_sn) == 0;
}

/* Any other command: answered at once, so its credit comes back at once. */
bool
iscsi_cmd_sn_check_done(struct iscsi_conn *conn, const struct iscsi_pdu_info *info, uint32_t cmd_sn)
{
	if (!cmd_sn_check(conn, info, cmd_sn)) {
		return false;
	}
	if (!info->immediate) {
		iscsi_cmdsn_complete(&conn->sess->win);
	}
	return true;
}

static struct iscsi_task *
task_get(struct iscsi_conn *conn)
{
	uint32_t i;

	if (conn->active_tasks >= CONN_MAX_TASKS) {
		return NULL;
	}
	for (i = 0; i < CONN_MAX_TASKS; i++) {
		if (conn->tasks[i].state == TASK_FREE) {
			conn->active_tasks++;
			return &conn->tasks[i];
		}
	}
	return NULL;
}

uint64_t
iscsi_lun_to_u64(const uint8_t *l)
{
	return scsi_from_be64(l);
}

/* The session's channel for LUN lun_id, taken now if the LUN exists (session thread). */
static struct ftgt_io_channel *
sess_lun_channel(struct iscsi_sess *sess, uint32_t lun_id)
{
	struct ftgt_scsi_lun *lun;

	if (sess->lun_ch[lun_id] == NULL && !sess->lun_gone[lun_id]) {
		/* A LUN added after login whose message has not come yet. */
		lun = ftgt_scsi_dev_get_lun(sess->dev, lun_id);
		if (lun != NULL) {
			sess->lun_ch[lun_id] = ftgt_scsi_lun_get_io_channel(lun);
		}
	}
	return sess->lun_ch[lun_id];
}

static void
task_execute(struct iscsi_conn *conn, struct iscsi_task *task)
{
	struct ftgt_scsi_task *st = &task->scsi;
	struct iscsi_sess *sess = conn->sess;
	uint32_t lun_id;
	uint64_t raw = iscsi_lun_to_u64(task->lun);

	st->dev = sess->dev;
	st->lun_id = raw;
	st->ch = NULL;
	/* Single-level LUN: the channel of that LUN (see lib/scsi for the decoding). */
	lun_id = (uint32_t)(raw >> 48) & 0x3fff;
	if (lun_id < FTGT_SCSI_DEV_MAX_LUNS) {
		if (sess->lun_gone[lun_id]) {
			ftgt_scsi_task_set_sense(st, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0);
			iscsi_send_scsi_error_now(conn, task);
			return;
		}
		st->ch = sess_lun_channel(sess, lun_id);
	}
	st->initiator_port = &sess->iport;
	st->target_port = &sess->tport;
	task->iov.iov_base = task->buf;
	task->iov.iov_len = task->edtl;
	st->iovs = &task->iov;
	st->iovcnt = 1;
	st->transfer_len = task->edtl;
	st->dir = task->write ? FTGT_SCSI_DIR_TO_DEV
	                      : (task->read ? FTGT_SCSI_DIR_FROM_DEV : FTGT_SCSI_DIR_NONE);
	st->cpl_fn = conn_handle_task_done;
	st->cpl_arg = task;
	task->state = TASK_EXEC;
	conn->exec_tasks++;
	ftgt_scsi_task_execute(st);
}

static void
conn_handle_task_done(struct ftgt_scsi_task *st)
{
	struct iscsi_task *task = st->cpl_arg;
	struct iscsi_conn *conn = task->conn;
	struct iscsi_sess *sess = conn->sess;
	uint32_t lun_id = (uint32_t)(iscsi_lun_to_u64(task->lun) >> 48) & 0x3fff;

	conn->exec_tasks--;
	if (task->write && st->status == SCSI_STATUS_GOOD) {
		conn->write_bytes += st->data_transferred;
	}
	if (sess != NULL && lun_id < FTGT_SCSI_DEV_MAX_LUNS) {
		struct iscsi_lun_stats *ls = &sess->lun_stats[lun_id];

		if (st->status != SCSI_STATUS_GOOD) {
			ls->errors++;
		} else if (task->read) {
			ls->reads++;
			ls->read_bytes += st->data_transferred;
		} else if (task->write) {
			ls->writes++;
			ls->write_bytes += st->data_transferred;
		}
	}
	if (task->tmf != NULL) {
		struct tmf_ctx *tmf = task->tmf;

		task->tmf = NULL;
		iscsi_tmf_task_done(tmf);
	}
	if (conn->state == CONN_EXITING || task->aborted) {
		/* RFC 7143 11.5.1: no SCSI Response for an aborted task. */
		iscsi_task_release(conn, task);
		return;
	}
	task->state = TASK_SEND;
	task->sent = 0;
	if (!task->read || st->data_transferred > task->edtl) {
		st->data_transferred = FTGT_MIN(st->data_transferred, task->edtl);
	}
	/* Status goes in the last Data-In when there is data and no sense (11.7.4). */
	task->resp_in_data = task->read && st->data_transferred > 0 && st->sense_len == 0;
	TAILQ_INSERT_TAIL(&conn->outq, &task->item, link);
}

static int
task_buf_reserve(struct iscsi_task *task, uint32_t len)
{
	uint8_t *b;

	if (len <= task->buf_cap) {
		return 0;
	}
	/* Grows once to the workload's largest transfer, then reused. */
	b = realloc(task->buf, FTGT_MAX(len, 4096u));
	if (b == NULL) {
		return -ENOMEM;
	}
	task->buf = b;
	task->buf_cap = FTGT_MAX(len, 4096u);
	return 0;
}

void
iscsi_handle_scsi_cmd(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_scsi_cmd *c = (const struct iscsi_bhs_scsi_cmd *)info->bhs;
	uint32_t cmd_sn = ftgt_be32_to_cpu(c->cmd_sn);
	struct iscsi_task *task;

	if (!cmd_sn_check(conn, info, cmd_sn)) {
		return;
	}
	task = task_get(conn);
	if (task == NULL) {
		/* The window was respected by a sane initiator; this one overran it. */
		if (!info->immediate) {
			iscsi_cmdsn_complete(&conn->sess->win);
		}
		iscsi_send_reject(conn, info->bhs, ISCSI_REJECT_IMMEDIATE_COMMAND_REJECT);
		return;
	}
	memset(&task->scsi, 0, sizeof(task->scsi));
	task->conn = conn;
	task->item.is_task = true;
	task->itt = info->itt;
	task->cmd_sn = cmd_sn;
	task->aborted = false;
	task->immediate = info->immediate;
	task->credit_back = false;
	task->tmf = NULL;
	task->data_sn = 0;
	task->r2t_sn = 0;
	task->sent = 0;
	memcpy(task->lun, c->lun, 8);
	memcpy(task->cdb, info->cdb, info->cdb_len);
	task->scsi.cdb = task->cdb;
	task->scsi.cdb_len = info->cdb_len;
	task->edtl = ftgt_be32_to_cpu(c->expected_data_xfer_len);
	task->read = (c->flags & ISCSI_SCSI_CMD_FLAG_READ) != 0;
	task->write = (c->flags & ISCSI_SCSI_CMD_FLAG_WRITE) != 0;
	task->received = 0;
	task->ttt = (conn->next_ttt++ << 8) | task->idx;
	if (task->ttt == ISCSI_RESERVED_TAG) {
		task->ttt = task->idx;
	}

	if ((task->read && task->write) || task->edtl > CONN_MAX_XFER ||
	    task_buf_reserve(task, task->edtl) != 0) {
		/* Bidirectional commands and huge transfers are not supported. */
		ftgt_scsi_task_set_sense(&task->scsi, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
		task->write = false;
		iscsi_send_scsi_error_now(conn, task);
		return;
	}
	if (!task->read && !task->write) {
		task->edtl = 0;
	}
	if (task->write) {
		uint32_t imm = FTGT_MIN(info->data_len, task->edtl);

		if (info->data_len > 0 && !conn->sp.immediate_data) {
			iscsi_send_reject(conn, info->bhs, ISCSI_REJECT_PROTOCOL_ERROR);
			iscsi_task_release(conn, task);
			return;
		}
		memcpy(task->buf, info->data, imm);
		task->received = imm;
		if (task->received < task->edtl) {
			task->state = TASK_DATA_OUT;
			conn_queue_r2t(conn, task);
			return;
		}
	}
	task_execute(conn, task);
}

static void
conn_queue_r2t(struct iscsi_conn *conn, struct iscsi_task *task)
{
	struct ctrl_pdu *c = iscsi_ctrl_get(conn);
	struct iscsi_bhs_r2t *r;
	uint32_t len = FTGT_MIN(task->edtl - task->received, conn->sp.max_burst_len);

	if (c == NULL) {
		return;
	}
	r = (struct iscsi_bhs_r2t *)c->hdr;
	r->opcode = ISCSI_OP_R2T;
	r->flags = ISCSI_FLAG_FINAL;
	memcpy(r->lun, task->lun, 8);
	r->itt = ftgt_cpu_to_be32(task->itt);
	r->ttt = ftgt_cpu_to_be32(task->ttt);
	iscsi_fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, false);
	r->r2t_sn = ftgt_cpu_to_be32(task->r2t_sn++);
	r->buffer_offset = ftgt_cpu_to_be32(task->received);
	r->desired_data_xfer_len = ftgt_cpu_to_be32(len);
	task->burst_end = task->received + len;
	task->data_sn = 0; /* DataSN restarts per R2T sequence */
	iscsi_ctrl_queue(conn, c);
}

struct iscsi_task *
iscsi_find_task_itt(struct iscsi_conn *conn, uint32_t itt)
{
	uint32_t i;

	for (i = 0; i < CONN_MAX_TASKS; i++) {
		if (conn->tasks[i].state != TASK_FREE && conn->tasks[i].itt == itt) {
			return &conn->tasks[i];
		}
	}
	return NULL;
}

/* Returns -1 for a protocol error that ends the connection. */
int
iscsi_handle_data_out(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_data_out *d = (const struct iscsi_bhs_data_out *)info->bhs;
	struct iscsi_task *task = iscsi_find_task_itt(conn, info->itt);
	uint32_t off = ftgt_be32_to_cpu(d->buffer_offset);

	if (task == NULL || task->state != TASK_DATA_OUT || ftgt_be32_to_cpu(d->ttt) != task->ttt) {
		/* Data for a task we do not expect data for (maybe aborted): drop it. */
		return 0;
	}
	/* DataPDUInOrder=Yes: data arrives in order, within the R2T's burst, with DataSN
	 * counting from 0 in each burst; at ERL 0 anything else ends the connection. */
	if (ftgt_be32_to_cpu(d->data_sn) != task->data_sn) {
		FTGT_ERRLOG("iscsi conn %llu: Data-Out DataSN %u, expected %u\n",
		            (unsigned long long)conn->id, ftgt_be32_to_cpu(d->data_sn),
		            task->data_sn);
		return -1;
	}
	if (off != task->received || info->data_len > task->burst_end - task->received) {
		FTGT_ERRLOG("iscsi conn %llu: Data-Out offset %u len %u, expected %u..%u\n",
		            (unsigned long long)conn->id, off, info->data_len, task->received,
		            task->burst_end);
		return -1;
	}
	memcpy(task->buf + off, info->data, info->data_len);
	task->received += info->data_len;
	task->data_sn++;
	if (!info->final) {
		return 0;
	}
	if (task->received < task->burst_end) {
		return -1; /* F bit before the burst was complete */
	}
	if (task->received < task->edtl) {
		conn_queue_r2t(conn, task);
		return 0;
	}
	task->data_sn = 0;
	task_execute(conn, task);
	return 0;
}
