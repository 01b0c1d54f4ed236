/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI connections: the PDU state machine and I/O. A connection lives on one reactor
 * thread, polled there (non-blocking socket), from login to close. A session (struct
 * iscsi_sess) belongs to the thread of its leading connection; a connection that joins it
 * (login with the session's TSIH, MaxConnections > 1) logs in on the thread it was
 * accepted on and is then moved by message to the session's thread, so that session state
 * (CmdSN window, LUN channels, LUN counters, the list of connections) is only ever touched
 * by one thread. Error recovery level 0. Tasks and control PDUs are preallocated per
 * connection (a command's whole exchange stays on the connection that carried it); the
 * I/O path takes no lock, allocates nothing once a task's buffer has grown to the
 * workload's size, and logs nothing above debug.
 *
 * Login is in login.c, sessions (MC/S, reinstatement, LUN changes) in session.c, SCSI
 * commands and Data-Out in cmd.c, task management in tmf.c, counters in stats.c; the
 * structs they share are in iscsi_internal.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/scsi.h"
#include "ftgt/spec/scsi.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

FTGT_LOG_REGISTER_COMPONENT(iscsi)

static uint8_t residual(const struct iscsi_task *task, uint32_t moved, ftgt_be32 *count);
static void task_credit_back(struct iscsi_conn *conn, struct iscsi_task *task);

static uint64_t g_next_conn_id = 1;

/* ---- helpers ---------------------------------------------------------------------- */

static uint32_t
conn_exp_cmd_sn(const struct iscsi_conn *conn)
{
	return conn->sess != NULL ? conn->sess->win.exp_cmd_sn : conn->login_exp_cmd_sn;
}

static uint32_t
conn_max_cmd_sn(const struct iscsi_conn *conn)
{
	/* During login the window is closed to one command (the login itself). */
	return conn->sess != NULL ? conn->sess->win.max_cmd_sn : conn->login_exp_cmd_sn;
}

/* StatSN now (advanced when the PDU carries a status); ExpCmdSN/MaxCmdSN are set again
 * when the PDU is staged for sending, so the initiator always sees the latest window. */
void
iscsi_fill_sn(struct iscsi_conn *conn, ftgt_be32 *stat_sn, ftgt_be32 *exp_cmd_sn,
              ftgt_be32 *max_cmd_sn, bool advance_stat)
{
	*stat_sn = ftgt_cpu_to_be32(conn->stat_sn);
	if (advance_stat) {
		conn->stat_sn++;
	}
	*exp_cmd_sn = ftgt_cpu_to_be32(conn_exp_cmd_sn(conn));
	*max_cmd_sn = ftgt_cpu_to_be32(conn_max_cmd_sn(conn));
}

/* Every target PDU has ExpCmdSN at byte 28 and MaxCmdSN at byte 32 (RFC 7143 11). */
static void
refresh_window(const struct iscsi_conn *conn, uint8_t *hdr)
{
	ftgt_be32 v;

	v = ftgt_cpu_to_be32(conn_exp_cmd_sn(conn));
	memcpy(hdr + 28, &v, 4);
	v = ftgt_cpu_to_be32(conn_max_cmd_sn(conn));
	memcpy(hdr + 32, &v, 4);
}

struct ctrl_pdu *
iscsi_ctrl_get(struct iscsi_conn *conn)
{
	struct ctrl_pdu *c = TAILQ_FIRST(&conn->ctrl_free);

	if (c == NULL) {
		/* Cannot happen while receiving stops at CONN_CTRL_RX_RESERVE; never grow
		 * without bound: the connection ends. */
		if (!conn->drop_requested) {
			FTGT_ERRLOG("iscsi conn %llu (%s): out of control PDUs, closing\n",
			            (unsigned long long)conn->id, conn->peer_addr);
		}
		conn->drop_requested = true;
		return NULL;
	}
	TAILQ_REMOVE(&conn->ctrl_free, c, free_link);
	conn->ctrl_free_count--;
	memset(c->hdr, 0, sizeof(c->hdr));
	c->item.is_task = false;
	c->data = c->inline_data;
	c->data_len = 0;
	c->owned = false;
	c->owned_len = 0;
	c->plain = false;
	return c;
}

static void
ctrl_put(struct iscsi_conn *conn, struct ctrl_pdu *c)
{
	if (c->owned) {
		conn->ctrl_data_bytes -= c->owned_len;
		free(c->data);
	}
	TAILQ_INSERT_HEAD(&conn->ctrl_free, c, free_link);
	conn->ctrl_free_count++;
}

/* Attach data to a control PDU (copied). */
int
iscsi_ctrl_set_data(struct ctrl_pdu *c, const void *data, uint32_t len)
{
	if (len <= sizeof(c->inline_data)) {
		c->data = c->inline_data;
	} else {
		c->data = malloc(len);
		if (c->data == NULL) {
			c->data = c->inline_data;
			return -ENOMEM;
		}
		c->owned = true;
	}
	memcpy(c->data, data, len);
	c->data_len = len;
	return 0;
}

void
iscsi_ctrl_queue(struct iscsi_conn *conn, struct ctrl_pdu *c)
{
	if (c->owned) {
		c->owned_len = c->data_len;
		conn->ctrl_data_bytes += c->owned_len;
	}
	TAILQ_INSERT_TAIL(&conn->outq, &c->item, link);
}

static void
sockaddr_str(const struct sockaddr_storage *ss, char *buf, size_t len, uint16_t *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len);
		*port = ntohs(s4->sin_port);
	}
}

/* ---- send path ---------------------------------------------------------------------- */

static const uint8_t g_pad[4];

/* Build the next PDU of a control item into o. */
static void
prepare_ctrl(struct iscsi_conn *conn, struct ctrl_pdu *c, struct out_pdu *o)
{
	struct iscsi_pdu_params plain = conn->rx, *p = &conn->rx;
	uint32_t hl, pad;

	if (c->plain) {
		plain.header_digest = false;
		plain.data_digest = false;
		p = &plain;
	}
	memcpy(o->hdr, c->hdr, ISCSI_BHS_LEN);
	refresh_window(conn, o->hdr);
	hl = iscsi_pdu_finish_hdr(o->hdr, c->data_len, p);
	o->iov[0].iov_base = o->hdr;
	o->iov[0].iov_len = hl;
	o->iovcnt = 1;
	o->len = hl;
	if (c->data_len > 0) {
		struct iovec div = {c->data, c->data_len};

		pad = iscsi_pad4(c->data_len) - c->data_len;
		o->iov[o->iovcnt].iov_base = c->data;
		o->iov[o->iovcnt++].iov_len = c->data_len;
		o->len += c->data_len;
		if (pad) {
			o->iov[o->iovcnt].iov_base = (void *)g_pad;
			o->iov[o->iovcnt++].iov_len = pad;
			o->len += pad;
		}
		if (p->data_digest) {
			iscsi_pdu_put_digest(o->digest,
			                     iscsi_pdu_data_digest(&div, 1, c->data_len));
			o->iov[o->iovcnt].iov_base = o->digest;
			o->iov[o->iovcnt++].iov_len = ISCSI_DIGEST_LEN;
			o->len += ISCSI_DIGEST_LEN;
		}
	}
	o->done = true;
}

/* RFC 7143 11.4.5: residual flags (O/U) and count from the CDB's and iSCSI lengths. */
static uint8_t
residual(const struct iscsi_task *task, uint32_t moved, ftgt_be32 *count)
{
	uint32_t want = task->scsi.cdb_data_len;

	if (want > task->edtl) {
		*count = ftgt_cpu_to_be32(want - task->edtl);
		return ISCSI_SCSI_RSP_FLAG_OVERFLOW;
	}
	if (want == 0 || !task->write) {
		want = moved;
	}
	if (want < task->edtl) {
		*count = ftgt_cpu_to_be32(task->edtl - want);
		return ISCSI_SCSI_RSP_FLAG_UNDERFLOW;
	}
	return 0;
}

static void
build_scsi_rsp(struct iscsi_conn *conn, struct iscsi_task *task, uint8_t *hdr, uint32_t *dlen)
{
	struct iscsi_bhs_scsi_rsp *r = (struct iscsi_bhs_scsi_rsp *)hdr;
	struct ftgt_scsi_task *st = &task->scsi;
	uint32_t moved = st->data_transferred;

	memset(r, 0, sizeof(*r));
	r->opcode = ISCSI_OP_SCSI_RSP;
	r->flags = ISCSI_FLAG_FINAL;
	r->response = ISCSI_SCSI_RSP_COMPLETED;
	r->status = st->status;
	r->itt = ftgt_cpu_to_be32(task->itt);
	iscsi_fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	r->exp_data_sn = ftgt_cpu_to_be32(task->read ? task->data_sn : task->r2t_sn);
	if (st->status == SCSI_STATUS_GOOD) {
		r->flags |= residual(task, moved, &r->residual_count);
	}
	*dlen = 0;
	if (st->sense_len > 0) {
		*dlen = 2 + st->sense_len;
	}
}

static void
prepare_task(struct iscsi_conn *conn, struct iscsi_task *task, struct out_pdu *o)
{
	struct iscsi_pdu_params *p = &conn->rx;
	struct ftgt_scsi_task *st = &task->scsi;
	uint32_t total = st->data_transferred, hl, dlen, pad;

	o->iovcnt = 0;
	o->len = 0;
	if (task->read && task->sent < total) {
		struct iscsi_bhs_data_in *d = (struct iscsi_bhs_data_in *)o->hdr;
		uint32_t max = conn->sp.initiator_max_recv_dsl;
		uint32_t burst_left =
		        conn->sp.max_burst_len - (task->sent % conn->sp.max_burst_len);
		uint32_t n = FTGT_MIN(FTGT_MIN(max, total - task->sent), burst_left);
		bool last = task->sent + n == total;
		struct iovec div;

		memset(d, 0, ISCSI_BHS_LEN);
		d->opcode = ISCSI_OP_DATA_IN;
		if (last || n == burst_left) {
			d->flags |= ISCSI_FLAG_FINAL;
		}
		memcpy(d->lun, task->lun, 8);
		d->itt = ftgt_cpu_to_be32(task->itt);
		d->ttt = ftgt_cpu_to_be32(ISCSI_RESERVED_TAG);
		d->data_sn = ftgt_cpu_to_be32(task->data_sn++);
		d->buffer_offset = ftgt_cpu_to_be32(task->sent);
		if (last && task->resp_in_data) {
			uint32_t moved = st->data_transferred;

			task_credit_back(conn, task);
			d->flags |= ISCSI_FLAG_FINAL | ISCSI_DATA_IN_FLAG_STATUS;
			d->status = st->status;
			/* Same bit positions (O, U) as in the SCSI Response. */
			d->flags |= residual(task, moved, &d->residual_count);
			iscsi_fill_sn(conn, &d->stat_sn, &d->exp_cmd_sn, &d->max_cmd_sn, true);
		} else {
			d->exp_cmd_sn = ftgt_cpu_to_be32(conn_exp_cmd_sn(conn));
			d->max_cmd_sn = ftgt_cpu_to_be32(conn_max_cmd_sn(conn));
		}
		hl = iscsi_pdu_finish_hdr(o->hdr, n, p);
		o->iov[0].iov_base = o->hdr;
		o->iov[0].iov_len = hl;
		o->iov[1].iov_base = task->buf + task->sent;
		o->iov[1].iov_len = n;
		o->iovcnt = 2;
		o->len = hl + n;
		pad = iscsi_pad4(n) - n;
		if (pad) {
			o->iov[o->iovcnt].iov_base = (void *)g_pad;
			o->iov[o->iovcnt++].iov_len = pad;
			o->len += pad;
		}
		if (p->data_digest) {
			div.iov_base = task->buf + task->sent;
			div.iov_len = n;
			iscsi_pdu_put_digest(o->digest, iscsi_pdu_data_digest(&div, 1, n));
			o->iov[o->iovcnt].iov_base = o->digest;
			o->iov[o->iovcnt++].iov_len = ISCSI_DIGEST_LEN;
			o->len += ISCSI_DIGEST_LEN;
		}
		task->sent += n;
		conn->read_bytes += n;
		o->done = last && task->resp_in_data;
		return;
	}
	/* SCSI Response */
	task_credit_back(conn, task);
	build_scsi_rsp(conn, task, o->hdr, &dlen);
	hl = iscsi_pdu_finish_hdr(o->hdr, dlen, p);
	o->iov[0].iov_base = o->hdr;
	o->iov[0].iov_len = hl;
	o->iovcnt = 1;
	o->len = hl;
	if (dlen > 0) {
		/* SenseLength (2 bytes, big endian) + sense: staged in the task's cdb area,
		 * which is no longer needed. */
		uint8_t *sd = task->cdb;
		struct iovec div = {sd, dlen};

		scsi_to_be16(sd, (uint16_t)st->sense_len);
		memcpy(sd + 2, st->sense, st->sense_len);
		pad = iscsi_pad4(dlen) - dlen;
		memset(sd + dlen, 0, pad);
		o->iov[1].iov_base = sd;
		o->iov[1].iov_len = dlen + pad;
		o->iovcnt = 2;
		o->len += dlen + pad;
		if (p->data_digest) {
			iscsi_pdu_put_digest(o->digest, iscsi_pdu_data_digest(&div, 1, dlen));
			o->iov[2].iov_base = o->digest;
			o->iov[2].iov_len = ISCSI_DIGEST_LEN;
			o->iovcnt = 3;
			o->len += ISCSI_DIGEST_LEN;
		}
	}
	o->done = true;
}

/* The command is finished: its CmdSN credit comes back, before its status PDU is built so
 * that the status carries the MaxCmdSN that includes it. */
static void
task_credit_back(struct iscsi_conn *conn, struct iscsi_task *task)
{
	if (!task->immediate && !task->credit_back && conn->sess != NULL) {
		task->credit_back = true;
		iscsi_cmdsn_complete(&conn->sess->win);
	}
}

void
iscsi_task_release(struct iscsi_conn *conn, struct iscsi_task *task)
{
	task->state = TASK_FREE;
	if (conn->active_tasks > 0) {
		conn->active_tasks--;
	}
	task_credit_back(conn, task);
}

static void
item_finished(struct iscsi_conn *conn, struct out_item *item)
{
	TAILQ_REMOVE(&conn->outq, item, link);
	if (item->is_task) {
		iscsi_task_release(conn, FTGT_CONTAINEROF(item, struct iscsi_task, item));
	} else {
		ctrl_put(conn, FTGT_CONTAINEROF(item, struct ctrl_pdu, item));
	}
}

/* The item the next PDU is built from: after the last staged PDU, or the queue head. */
static struct out_item *
stage_cursor(struct iscsi_conn *conn)
{
	struct out_pdu *last;

	if (conn->nstage == 0) {
		return TAILQ_FIRST(&conn->outq);
	}
	last = &conn->stage[(conn->stage_head + conn->nstage - 1) % CONN_STAGE_PDUS];
	return last->done ? TAILQ_NEXT(last->item, link) : last->item;
}

/* Write queued PDUs, several per writev, until the socket is full. Returns -1 when the
 * connection broke. */
static int
conn_flush(struct iscsi_conn *conn, bool *busy)
{
	for (int budget = 0; budget < 64; budget++) {
		struct iovec iov[CONN_STAGE_PDUS * 5];
		uint32_t skip = conn->woff, staged_bytes = 0;
		int n = 0;
		ssize_t rc;
		uint32_t i;

		while (conn->nstage < CONN_STAGE_PDUS) {
			struct out_item *item = stage_cursor(conn);
			struct out_pdu *o;

			if (item == NULL) {
				break;
			}
			o = &conn->stage[(conn->stage_head + conn->nstage) % CONN_STAGE_PDUS];
			o->item = item;
			if (item->is_task) {
				prepare_task(conn, FTGT_CONTAINEROF(item, struct iscsi_task, item),
				             o);
			} else {
				prepare_ctrl(conn, FTGT_CONTAINEROF(item, struct ctrl_pdu, item),
				             o);
			}
			conn->nstage++;
		}
		if (conn->nstage == 0) {
			return 0;
		}
		for (i = 0; i < conn->nstage; i++) {
			struct out_pdu *o = &conn->stage[(conn->stage_head + i) % CONN_STAGE_PDUS];
			int j;

			staged_bytes += o->len;
			for (j = 0; j < o->iovcnt; j++) {
				if (skip >= o->iov[j].iov_len) {
					skip -= (uint32_t)o->iov[j].iov_len;
					continue;
				}
				iov[n].iov_base = (uint8_t *)o->iov[j].iov_base + skip;
				iov[n].iov_len = o->iov[j].iov_len - skip;
				skip = 0;
				n++;
			}
		}
		rc = writev(conn->fd, iov, n);
		if (rc < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				return 0;
			}
			return -1;
		}
		*busy = true;
		staged_bytes -= conn->woff;
		conn->woff += (uint32_t)rc;
		while (conn->nstage > 0) {
			struct out_pdu *o = &conn->stage[conn->stage_head];

			if (conn->woff < o->len) {
				break;
			}
			conn->woff -= o->len;
			conn->pdus_tx++;
			conn->stage_head = (conn->stage_head + 1) % CONN_STAGE_PDUS;
			conn->nstage--;
			if (o->done) {
				item_finished(conn, o->item);
			}
		}
		if ((uint32_t)rc < staged_bytes) {
			return 0; /* socket full */
		}
	}
	return 0;
}

/* ---- control PDUs -------------------------------------------------------------------- */

void
iscsi_send_reject(struct iscsi_conn *conn, const struct iscsi_bhs *bad, uint8_t reason)
{
	struct ctrl_pdu *c = iscsi_ctrl_get(conn);
	struct iscsi_bhs_reject *r;

	if (c == NULL) {
		return;
	}
	r = (struct iscsi_bhs_reject *)c->hdr;
	r->opcode = ISCSI_OP_REJECT;
	r->flags = ISCSI_FLAG_FINAL;
	r->reason = reason;
	r->itt = ftgt_cpu_to_be32(ISCSI_RESERVED_TAG);
	iscsi_fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	iscsi_ctrl_set_data(c, bad, ISCSI_BHS_LEN);
	iscsi_ctrl_queue(conn, c);
}

static void
send_nop_in(struct iscsi_conn *conn, uint32_t itt, uint32_t ttt, const uint8_t *lun,
            const uint8_t *data, uint32_t len, bool response)
{
	struct ctrl_pdu *c = iscsi_ctrl_get(conn);
	struct iscsi_bhs_nop_in *n;

	if (c == NULL) {
		return;
	}
	n = (struct iscsi_bhs_nop_in *)c->hdr;
	n->opcode = ISCSI_OP_NOPIN;
	n->flags = ISCSI_FLAG_FINAL;
	if (lun != NULL) {
		memcpy(n->lun, lun, 8);
	}
	n->itt = ftgt_cpu_to_be32(itt);
	n->ttt = ftgt_cpu_to_be32(ttt);
	iscsi_fill_sn(conn, &n->stat_sn, &n->exp_cmd_sn, &n->max_cmd_sn, response);
	if (len > 0 && iscsi_ctrl_set_data(c, data, len) != 0) {
		c->data_len = 0;
	}
	iscsi_ctrl_queue(conn, c);
}

void
iscsi_send_scsi_error_now(struct iscsi_conn *conn, struct iscsi_task *task)
{
	task->state = TASK_SEND;
	task->resp_in_data = false;
	task->read = false;
	TAILQ_INSERT_TAIL(&conn->outq, &task->item, link);
}

/* ---- text, logout, nop ------------------------------------------------------------ */

static void
send_text_like(struct iscsi_conn *conn, uint8_t opcode, const struct iscsi_bhs *req,
               const uint8_t *text, uint32_t len, uint32_t ttt)
{
	struct ctrl_pdu *c = iscsi_ctrl_get(conn);
	struct iscsi_bhs_text_rsp *r;

	if (c == NULL) {
		return;
	}
	r = (struct iscsi_bhs_text_rsp *)c->hdr;
	r->opcode = opcode;
	r->flags = ISCSI_FLAG_FINAL;
	memcpy(r->lun, req->lun, 8);
	r->itt = req->itt;
	r->ttt = ftgt_cpu_to_be32(ttt);
	iscsi_fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	if (len > 0 && iscsi_ctrl_set_data(c, text, len) != 0) {
		c->data_len = 0;
	}
	iscsi_ctrl_queue(conn, c);
}

static void
handle_text(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_text_req *t = (const struct iscsi_bhs_text_req *)info->bhs;
	struct iscsi_text_out out;
	uint32_t pos = 0, kl, vl;
	const char *k, *v;
	uint8_t *buf;

	if (!iscsi_cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(t->cmd_sn))) {
		return;
	}
	if (!info->final || (t->flags & ISCSI_TEXT_FLAG_CONTINUE)) {
		/* Multi-PDU text requests are not supported: answer with nothing. */
		send_text_like(conn, ISCSI_OP_TEXT_RSP, info->bhs, NULL, 0, ISCSI_RESERVED_TAG);
		return;
	}
	buf = malloc(CONN_RSP_TEXT_MAX);
	if (buf == NULL) {
		return;
	}
	memset(&out, 0, sizeof(out));
	out.buf = buf;
	out.cap = FTGT_MIN((uint32_t)CONN_RSP_TEXT_MAX, conn->sp.initiator_max_recv_dsl);
	while (iscsi_text_next(info->data, info->data_len, &pos, &k, &kl, &v, &vl) == 1) {
		char which[ISCSI_MAX_NAME + 1];

		if (kl == 11 && memcmp(k, "SendTargets", 11) == 0) {
			snprintf(which, sizeof(which), "%.*s", (int)vl, v);
			if (!conn->discovery && strcmp(which, "All") == 0) {
				/* Normal sessions: only their own target (RFC 7143 C.1). */
				snprintf(which, sizeof(which), "%s", conn->target_name);
			} else if (which[0] == '\0') {
				snprintf(which, sizeof(which), "%s", conn->target_name);
			}
			iscsi_send_targets(conn->initiator_name, conn->peer_addr, conn->local_addr,
			                   conn->pg_tag, which, &out);
		} else {
			if (kl < 64) {
				char key[64];

				snprintf(key, sizeof(key), "%.*s", (int)kl, k);
				iscsi_text_out_add(&out, key, "NotUnderstood");
			}
		}
	}
	send_text_like(conn, ISCSI_OP_TEXT_RSP, info->bhs, buf, out.len, ISCSI_RESERVED_TAG);
	free(buf);
}

static void
handle_logout(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_logout_req *l = (const struct iscsi_bhs_logout_req *)info->bhs;
	uint8_t reason = l->flags & ISCSI_LOGOUT_REASON_MASK;
	uint16_t cid = ftgt_be16_to_cpu(l->cid);
	struct iscsi_sess *sess = conn->sess;
	struct iscsi_conn *victim = NULL, *other, *tmp;
	struct ctrl_pdu *c;
	struct iscsi_bhs_logout_rsp *r;

	/* A Logout out of the window is still answered: the initiator waits for it. */
	(void)iscsi_cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(l->cmd_sn));
	c = iscsi_ctrl_get(conn);
	if (c == NULL) {
		iscsi_conn_begin_exit(conn);
		return;
	}
	r = (struct iscsi_bhs_logout_rsp *)c->hdr;
	r->opcode = ISCSI_OP_LOGOUT_RSP;
	r->flags = ISCSI_FLAG_FINAL;
	if (reason == ISCSI_LOGOUT_CLOSE_CONNECTION) {
		TAILQ_FOREACH (other, &sess->conns, sess_link) {
			if (other->cid == cid && other->state != CONN_EXITING) {
				victim = other;
			}
		}
	}
	if (reason == ISCSI_LOGOUT_REMOVE_FOR_RECOVERY) {
		/* ErrorRecoveryLevel 0 (RFC 7143 11.15.1). */
		r->response = ISCSI_LOGOUT_RSP_RECOVERY_UNSUPPORTED;
	} else if (reason == ISCSI_LOGOUT_CLOSE_CONNECTION && victim == NULL) {
		r->response = ISCSI_LOGOUT_RSP_CID_NOT_FOUND;
	} else {
		r->response = ISCSI_LOGOUT_RSP_SUCCESS;
	}
	r->itt = l->itt;
	iscsi_fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	r->time2wait = ftgt_cpu_to_be16((uint16_t)conn->sp.default_time2wait);
	r->time2retain = ftgt_cpu_to_be16((uint16_t)conn->sp.default_time2retain);
	iscsi_ctrl_queue(conn, c);
	if (r->response != ISCSI_LOGOUT_RSP_SUCCESS) {
		return;
	}
	if (reason == ISCSI_LOGOUT_CLOSE_CONNECTION && victim != conn) {
		/* Closing another connection of the session from this one (11.14.1):
		 * that one ends with its tasks, this one goes on. */
		FTGT_INFOLOG("iscsi conn %llu: logout closes cid %u\n",
		             (unsigned long long)conn->id, cid);
		iscsi_conn_begin_exit(victim);
		return;
	}
	if (reason == ISCSI_LOGOUT_CLOSE_SESSION) {
		/* Every other connection of the session ends now; this one once the
		 * response is out. No connection may join any more. */
		pthread_mutex_lock(&g_iscsi.lock);
		sess->closing = true;
		pthread_mutex_unlock(&g_iscsi.lock);
		TAILQ_FOREACH_SAFE (other, &sess->conns, sess_link, tmp) {
			if (other != conn && other->state != CONN_EXITING) {
				iscsi_conn_begin_exit(other);
			}
		}
	}
	conn->state = CONN_CLOSING;
}

static void
handle_nop_out(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_nop_out *n = (const struct iscsi_bhs_nop_out *)info->bhs;

	if (info->itt == ISCSI_RESERVED_TAG) {
		/* Answer to our NOP-In ping. */
		conn->ping_outstanding = false;
		return;
	}
	if (!iscsi_cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(n->cmd_sn))) {
		return;
	}
	if (ftgt_be32_to_cpu(n->ttt) != ISCSI_RESERVED_TAG) {
		return; /* a reply to a target ping with an ITT: no answer */
	}
	send_nop_in(conn, info->itt, ISCSI_RESERVED_TAG, n->lun, info->data, info->data_len, true);
}

/* ---- messages to connections ---------------------------------------------------------- */

enum conn_op {
	CONN_OP_DROP,           /* end the connection now */
	CONN_OP_LOGOUT_REQUEST, /* AsyncEvent 1; arg: seconds to log out */
};

struct conn_msg {
	uint64_t conn_id;
	enum conn_op op;
	uint32_t arg;
};

static void
send_async(struct iscsi_conn *conn, uint8_t event, uint16_t p1, uint16_t p2, uint16_t p3)
{
	struct ctrl_pdu *c = iscsi_ctrl_get(conn);
	struct iscsi_bhs_async *a;

	if (c == NULL) {
		return;
	}
	a = (struct iscsi_bhs_async *)c->hdr;
	a->opcode = ISCSI_OP_ASYNC;
	a->flags = ISCSI_FLAG_FINAL;
	a->itt = ftgt_cpu_to_be32(ISCSI_RESERVED_TAG);
	iscsi_fill_sn(conn, &a->stat_sn, &a->exp_cmd_sn, &a->max_cmd_sn, true);
	a->async_event = event;
	a->param1 = ftgt_cpu_to_be16(p1);
	a->param2 = ftgt_cpu_to_be16(p2);
	a->param3 = ftgt_cpu_to_be16(p3);
	iscsi_ctrl_queue(conn, c);
}

/* RFC 7143 11.9.1 AsyncEvent 1: log out within Parameter3 seconds. */
static void
conn_logout_request(struct iscsi_conn *conn, uint32_t timeout_s)
{
	if (conn->state != CONN_FFP || conn->logout_deadline_ticks != 0) {
		return;
	}
	FTGT_NOTICELOG("iscsi conn %llu (%s): logout requested (within %us)\n",
	               (unsigned long long)conn->id, conn->peer_addr, timeout_s);
	send_async(conn, ISCSI_ASYNC_LOGOUT_REQUEST, 0, 0, (uint16_t)FTGT_MIN(timeout_s, 65535u));
	conn->logout_deadline_ticks =
	        ftgt_get_ticks() + (uint64_t)timeout_s * ftgt_get_ticks_hz() + 1;
}

static void
conn_msg_fn(void *ctx)
{
	struct conn_msg *m = ctx;
	struct ftgt_thread *me = ftgt_get_thread();
	struct iscsi_conn *c, *found = NULL;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (c, &g_iscsi.conns, link) {
		if (c->id == m->conn_id) {
			found = c;
		}
	}
	if (found != NULL && found->thread != me) {
		/* The connection moved to its session's thread meanwhile: follow it. */
		if (ftgt_thread_send_msg(found->thread, conn_msg_fn, m) != 0) {
			free(m);
		}
		pthread_mutex_unlock(&g_iscsi.lock);
		return;
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	/* A connection is freed only on its own thread (this one): still valid. */
	if (found != NULL) {
		switch (m->op) {
		case CONN_OP_DROP:
			found->drop_requested = true;
			break;
		case CONN_OP_LOGOUT_REQUEST:
			conn_logout_request(found, m->arg);
			break;
		}
	}
	free(m);
}

/* Call with g_iscsi.lock held (c->thread). */
static void
conn_send_op(struct iscsi_conn *c, enum conn_op op, uint32_t arg)
{
	struct conn_msg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		return;
	}
	m->conn_id = c->id;
	m->op = op;
	m->arg = arg;
	if (ftgt_thread_send_msg(c->thread, conn_msg_fn, m) != 0) {
		free(m);
	}
}

void
iscsi_request_drop(struct iscsi_conn *c)
{
	conn_send_op(c, CONN_OP_DROP, 0);
}

/* ---- receive path ------------------------------------------------------------------- */

static int
handle_pdu(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	conn->pdus_rx++;
	if (conn->state == CONN_LOGIN) {
		iscsi_handle_login(conn, info);
		return 0;
	}
	if (conn->state != CONN_FFP) {
		return 0;
	}
	switch (info->opcode) {
	case ISCSI_OP_SCSI_CMD:
		if (conn->discovery) {
			iscsi_send_reject(conn, info->bhs, ISCSI_REJECT_PROTOCOL_ERROR);
			return 0;
		}
		iscsi_handle_scsi_cmd(conn, info);
		return 0;
	case ISCSI_OP_DATA_OUT:
		return iscsi_handle_data_out(conn, info);
	case ISCSI_OP_NOPOUT:
		handle_nop_out(conn, info);
		return 0;
	case ISCSI_OP_TASK_REQ:
		iscsi_handle_tmf(conn, info);
		return 0;
	case ISCSI_OP_TEXT_REQ:
		handle_text(conn, info);
		return 0;
	case ISCSI_OP_LOGOUT_REQ:
		handle_logout(conn, info);
		return 0;
	case ISCSI_OP_LOGIN_REQ:
		/* Login in full feature phase: protocol error. */
		iscsi_send_reject(conn, info->bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	default:
		iscsi_send_reject(conn, info->bhs, ISCSI_REJECT_COMMAND_NOT_SUPPORTED);
		return 0;
	}
}

/* Backpressure: what is queued to the initiator must go out before more is read. */
static bool
conn_rx_blocked(const struct iscsi_conn *conn)
{
	return conn->ctrl_free_count < CONN_CTRL_RX_RESERVE ||
	       conn->ctrl_data_bytes > CONN_CTRL_DATA_MAX;
}

/* Returns -1 when the connection must end. */
static int
conn_recv(struct iscsi_conn *conn, bool *busy)
{
	uint32_t off = 0;
	ssize_t n;

	if (conn_rx_blocked(conn)) {
		return 0;
	}
	if (conn->rlen < conn->rcap) {
		n = recv(conn->fd, conn->rbuf + conn->rlen, conn->rcap - conn->rlen, MSG_DONTWAIT);
		if (n == 0) {
			return -1;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				return -1;
			}
			if (!conn->rx_held) {
				return 0;
			}
		} else {
			*busy = true;
			conn->rlen += (uint32_t)n;
			conn->last_rx_ticks = ftgt_get_ticks();
		}
	}
	conn->rx_held = false;
	/* A connection that just joined a session stops here: it moves to the session's
	 * thread with what is left in its buffer. */
	while ((conn->state == CONN_LOGIN || conn->state == CONN_FFP) &&
	       !(conn->join_sess != NULL && conn->sess == NULL)) {
		struct iscsi_pdu_info info;
		ssize_t rc = iscsi_pdu_parse(conn->rbuf + off, conn->rlen - off, &conn->rx, &info);

		if (rc == -EAGAIN) {
			uint32_t hl, tl;

			/* A PDU bigger than the buffer cannot come (lengths are checked). */
			if (conn->rlen - off >= ISCSI_BHS_LEN &&
			    iscsi_pdu_lengths(conn->rbuf + off, &conn->rx, &hl, &tl) != 0) {
				goto malformed;
			}
			break;
		}
		if (rc == -EILSEQ || rc == -EINVAL || rc == -EPROTONOSUPPORT) {
			conn->pdus_rx++;
			if (conn->state == CONN_LOGIN) {
				goto malformed;
			}
			iscsi_send_reject(conn, info.bhs, info.reject_reason);
			off += info.total_len;
			continue;
		}
		if (rc < 0) {
			goto malformed;
		}
		if (conn_rx_blocked(conn)) {
			conn->rx_held = true; /* parsed again once the output is flushed */
			break;
		}
		if (handle_pdu(conn, &info) != 0) {
			goto malformed;
		}
		off += (uint32_t)rc;
	}
	if (off > 0) {
		memmove(conn->rbuf, conn->rbuf + off, conn->rlen - off);
		conn->rlen -= off;
	}
	return 0;
malformed:
	pthread_mutex_lock(&g_iscsi.lock);
	g_iscsi.stats.pdus_malformed++;
	pthread_mutex_unlock(&g_iscsi.lock);
	FTGT_ERRLOG("iscsi conn %llu (%s): malformed PDU, closing the connection\n",
	            (unsigned long long)conn->id, conn->peer_addr);
	return -1;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void
conn_free(struct iscsi_conn *conn)
{
	uint32_t i;

	while (!TAILQ_EMPTY(&conn->outq)) {
		item_finished(conn, TAILQ_FIRST(&conn->outq));
	}
	for (i = 0; i < CONN_MAX_TASKS; i++) {
		free(conn->tasks[i].buf);
	}
	free(conn->rbuf);
	free(conn->login_text);
	free(conn->join_rsp_text);
	free(conn);
}

void
iscsi_conn_begin_exit(struct iscsi_conn *conn)
{
	if (conn->fd >= 0) {
		close(conn->fd);
		conn->fd = -1;
	}
	conn->state = CONN_EXITING;
	/* Tasks waiting for data go now; those in the SCSI layer are aborted there and
	 * the connection is freed only when their cpl_fn ran. */
	iscsi_abort_conn_tasks(conn, NULL, -1, NULL);
}

/* Finishes the exit once no task is in the SCSI layer. Returns true when freed. */
bool
iscsi_conn_try_destroy(struct iscsi_conn *conn)
{
	struct iscsi_sess *sess = conn->sess;
	bool last = false;

	if (conn->exec_tasks > 0 || conn->pending_tmfs > 0) {
		return false;
	}
	ftgt_poller_unregister(&conn->poller);
	/* Queued responses are dropped; their CmdSN credits go back to the session. */
	while (!TAILQ_EMPTY(&conn->outq)) {
		item_finished(conn, TAILQ_FIRST(&conn->outq));
	}
	if (sess != NULL) {
		pthread_mutex_lock(&g_iscsi.lock);
		TAILQ_REMOVE(&sess->conns, conn, sess_link);
		sess->num_conns--;
		if (sess->num_conns == 0 && sess->pending_joins == 0) {
			sess->closing = true;
			last = true;
		}
		conn->sess = NULL;
		pthread_mutex_unlock(&g_iscsi.lock);
		if (last) {
			iscsi_sess_free(sess);
		}
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_REMOVE(&g_iscsi.conns, conn, link);
	if (conn->counted_in_tgt) {
		conn->tgt->num_active_conns--;
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	conn_free(conn);
	return true;
}

static void
conn_keepalive(struct iscsi_conn *conn, bool *busy)
{
	uint64_t now = ftgt_get_ticks(), hz = ftgt_get_ticks_hz();
	uint32_t interval = g_iscsi.opts.nop_in_interval_s, timeout = g_iscsi.opts.nop_timeout_s;

	if (conn->state == CONN_FFP && conn->logout_deadline_ticks != 0 &&
	    now > conn->logout_deadline_ticks) {
		/* No Logout within Parameter3 seconds (RFC 7143 11.9.1): say the connection
		 * is dropped (AsyncEvent 2) and close it once that is out. */
		FTGT_NOTICELOG("iscsi conn %llu (%s): no logout after the request, dropping\n",
		               (unsigned long long)conn->id, conn->peer_addr);
		send_async(conn, ISCSI_ASYNC_DROP_CONNECTION, conn->cid,
		           (uint16_t)conn->sp.default_time2wait,
		           (uint16_t)conn->sp.default_time2retain);
		conn->state = CONN_CLOSING;
		*busy = true;
		return;
	}
	if (interval == 0 || conn->state != CONN_FFP) {
		return;
	}
	if (conn->ping_outstanding) {
		if (now - conn->ping_sent_ticks > (uint64_t)timeout * hz) {
			FTGT_NOTICELOG("iscsi conn %llu (%s): no answer to NOP-In for %us, "
			               "dropping\n",
			               (unsigned long long)conn->id, conn->peer_addr, timeout);
			iscsi_conn_begin_exit(conn);
		}
		return;
	}
	if (now - conn->last_rx_ticks > (uint64_t)interval * hz) {
		send_nop_in(conn, ISCSI_RESERVED_TAG, 0x10000u | (conn->next_ttt++ & 0xffff), NULL,
		            NULL, 0, false);
		conn->ping_outstanding = true;
		conn->ping_sent_ticks = now;
		*busy = true;
	}
}

int
iscsi_conn_poll(void *ctx)
{
	struct iscsi_conn *conn = ctx;
	bool busy = false;

	if (conn->join_sess != NULL && conn->sess == NULL) {
		/* Logged in to an existing session (or failed just after): move to the
		 * session's thread, which sends the final login response or ends it. */
		iscsi_conn_move_to_session(conn);
		return FTGT_POLLER_BUSY;
	}
	if (conn->state == CONN_EXITING) {
		iscsi_conn_try_destroy(conn);
		return FTGT_POLLER_BUSY;
	}
	if (conn->drop_requested || g_iscsi.stopping) {
		iscsi_conn_begin_exit(conn);
		return FTGT_POLLER_BUSY;
	}
	if (conn->reinstating) {
		/* Session reinstatement (RFC 7143 6.3.5): the new session starts only when
		 * the old one ended, so no old task runs beside the new ones. */
		if (conn->sess == NULL || iscsi_sess_reinstated_alive(conn)) {
			return FTGT_POLLER_IDLE;
		}
		conn->reinstating = false;
		iscsi_login_join_respond(conn, true);
	}
	if ((conn->state == CONN_LOGIN || conn->state == CONN_FFP) && conn_recv(conn, &busy) != 0) {
		iscsi_conn_begin_exit(conn);
		return FTGT_POLLER_BUSY;
	}
	conn_keepalive(conn, &busy);
	if (conn->fd >= 0 && conn_flush(conn, &busy) != 0) {
		iscsi_conn_begin_exit(conn);
		return FTGT_POLLER_BUSY;
	}
	if (conn->state == CONN_CLOSING && TAILQ_EMPTY(&conn->outq) && conn->nstage == 0) {
		iscsi_conn_begin_exit(conn);
	} else if (conn->state == CONN_CLOSING) {
		/* An initiator that stops reading must not keep the connection, its tasks
		 * and its session slot: what is still unsent after a while is dropped. */
		uint64_t now = ftgt_get_ticks();

		if (conn->closing_deadline_ticks == 0) {
			conn->closing_deadline_ticks =
			        now + (uint64_t)ISCSI_CLOSING_TIMEOUT_S * ftgt_get_ticks_hz();
		} else if (now > conn->closing_deadline_ticks) {
			FTGT_NOTICELOG("iscsi conn %llu (%s): closing for %us, dropping\n",
			               (unsigned long long)conn->id, conn->peer_addr,
			               ISCSI_CLOSING_TIMEOUT_S);
			iscsi_conn_begin_exit(conn);
		}
	}
	return busy ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
}

static void
conn_start(void *ctx)
{
	struct iscsi_conn *conn = ctx;

	conn->thread = ftgt_get_thread();
	conn->last_rx_ticks = ftgt_get_ticks();
	conn->poller = ftgt_poller_register(iscsi_conn_poll, conn, 0, "iscsi_conn");
	if (conn->poller == NULL) {
		iscsi_conn_begin_exit(conn);
		iscsi_conn_try_destroy(conn);
	}
}

static struct ftgt_thread *
pick_thread(void)
{
	struct ftgt_thread *t, *first = NULL;
	uint32_t n = 0, want;

	for (t = ftgt_thread_get_first(); t != NULL; t = ftgt_thread_get_next(t)) {
		n++;
	}
	if (n == 0) {
		return NULL;
	}
	want = g_iscsi.next_thread++ % n;
	for (t = ftgt_thread_get_first(); t != NULL; t = ftgt_thread_get_next(t)) {
		if (first == NULL) {
			first = t;
		}
		if (want-- == 0) {
			return t;
		}
	}
	return first;
}

void
iscsi_conn_create(int fd, uint16_t pg_tag, const struct sockaddr_storage *peer,
                  const struct sockaddr_storage *local)
{
	struct iscsi_conn *conn;
	struct ftgt_thread *thread;
	uint32_t i;

	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		close(fd);
		return;
	}
	conn->fd = fd;
	conn->pg_tag = pg_tag;
	conn->id = g_next_conn_id++;
	sockaddr_str(peer, conn->peer_addr, sizeof(conn->peer_addr), &conn->peer_port);
	sockaddr_str(local, conn->local_addr, sizeof(conn->local_addr), &conn->local_port);
	TAILQ_INIT(&conn->outq);
	TAILQ_INIT(&conn->ctrl_free);
	for (i = 0; i < CONN_CTRL_PDUS; i++) {
		TAILQ_INSERT_TAIL(&conn->ctrl_free, &conn->ctrl[i], free_link);
	}
	conn->ctrl_free_count = CONN_CTRL_PDUS;
	for (i = 0; i < CONN_MAX_TASKS; i++) {
		conn->tasks[i].idx = i;
		conn->tasks[i].conn = conn;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	iscsi_sess_params_init_defaults(&conn->neg.params);
	iscsi_sess_params_init_defaults(&conn->neg.target_limits);
	conn->neg.target_limits.max_connections = g_iscsi.opts.max_connections_per_session;
	conn->neg.target_limits.initial_r2t = true;
	conn->neg.target_limits.immediate_data = g_iscsi.opts.immediate_data;
	conn->neg.target_limits.max_burst_len = g_iscsi.opts.max_burst_length;
	conn->neg.target_limits.first_burst_len = g_iscsi.opts.first_burst_length;
	conn->neg.target_limits.default_time2wait = g_iscsi.opts.default_time2wait;
	conn->neg.target_limits.default_time2retain = g_iscsi.opts.default_time2retain;
	conn->neg.target_limits.max_outstanding_r2t = 1;
	conn->neg.target_limits.error_recovery_level = 0;
	conn->neg.target_limits.target_max_recv_dsl = g_iscsi.opts.max_recv_data_segment_length;
	conn->neg.allow_header_digest = true;
	conn->neg.allow_data_digest = true;
	pthread_mutex_unlock(&g_iscsi.lock);
	conn->rx.max_recv_dsl = LOGIN_DSL;
	conn->rx.erl0 = true;
	conn->rcap = ISCSI_BHS_LEN + ISCSI_MAX_AHS_LEN + 2 * ISCSI_DIGEST_LEN + 4 +
	             FTGT_MAX(conn->neg.target_limits.target_max_recv_dsl, (uint32_t)LOGIN_DSL);
	conn->rbuf = malloc(conn->rcap);
	conn->login_text = malloc(LOGIN_TEXT_MAX);
	thread = pick_thread();
	if (conn->rbuf == NULL || conn->login_text == NULL || thread == NULL) {
		close(fd);
		conn_free(conn);
		return;
	}
	conn->thread = thread;
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_INSERT_TAIL(&g_iscsi.conns, conn, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	if (ftgt_thread_send_msg(thread, conn_start, conn) != 0) {
		pthread_mutex_lock(&g_iscsi.lock);
		TAILQ_REMOVE(&g_iscsi.conns, conn, link);
		pthread_mutex_unlock(&g_iscsi.lock);
		close(fd);
		conn_free(conn);
	}
}

uint32_t
iscsi_conn_count(void)
{
	struct iscsi_conn *c;
	uint32_t n = 0;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (c, &g_iscsi.conns, link) {
		n++;
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	return n;
}

void
iscsi_conns_drop_target(const char *name)
{
	struct iscsi_conn *c;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (c, &g_iscsi.conns, link) {
		if (name == NULL || strcasecmp(c->target_name, name) == 0 ||
		    (c->tgt != NULL && strcasecmp(c->tgt->name, name) == 0)) {
			iscsi_request_drop(c);
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
}

uint32_t
iscsi_conns_request_logout(const char *name, uint16_t pg_tag, uint32_t timeout_s)
{
	struct iscsi_conn *c;
	uint32_t n = 0;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (c, &g_iscsi.conns, link) {
		if (strcasecmp(c->target_name, name) == 0 && (pg_tag == 0 || c->pg_tag == pg_tag)) {
			conn_send_op(c, CONN_OP_LOGOUT_REQUEST, timeout_s);
			n++;
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	return n;
}
