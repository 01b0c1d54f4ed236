/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI sessions and connections. A connection lives on one reactor thread, polled there
 * (non-blocking socket), from login to close. A session (struct iscsi_sess) belongs to the
 * thread of its leading connection; a connection that joins it (login with the session's
 * TSIH, MaxConnections > 1) logs in on the thread it was accepted on and is then moved by
 * message to the session's thread, so that session state (CmdSN window, LUN channels, LUN
 * counters, the list of connections) is only ever touched by one thread. Error recovery
 * level 0. Tasks and control PDUs are preallocated per connection (a command's whole
 * exchange stays on the connection that carried it); the I/O path takes no lock,
 * allocates nothing once a task's buffer has grown to the workload's size, and logs
 * nothing above debug.
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

#include <openssl/rand.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/scsi.h"
#include "ftgt/spec/scsi.h"
#include "ftgt/string.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

FTGT_LOG_REGISTER_COMPONENT(iscsi)

#define CONN_MAX_TASKS    128
#define CONN_CTRL_PDUS    (2 * CONN_MAX_TASKS + 32)
#define CONN_MAX_XFER     (16u * 1024 * 1024)
#define LOGIN_DSL         8192
#define LOGIN_TEXT_MAX    (64 * 1024)
#define CONN_RSP_TEXT_MAX (64 * 1024)
#define CONN_STAGE_PDUS   16

enum conn_state {
	CONN_LOGIN,   /* login phase */
	CONN_FFP,     /* full feature phase */
	CONN_CLOSING, /* send what is queued, then exit (logout, login failure) */
	CONN_EXITING, /* socket closed; waiting for tasks in the SCSI layer */
};

enum task_state {
	TASK_FREE,
	TASK_DATA_OUT, /* waiting for solicited Data-Out */
	TASK_EXEC,     /* in the SCSI layer */
	TASK_SEND,     /* queued for Data-In / response */
};

enum chap_state { CHAP_NONE, CHAP_WAIT_A, CHAP_WAIT_NR, CHAP_OK };

/* Something to send: a control PDU or a task's Data-In/response stream. */
struct out_item {
	TAILQ_ENTRY(out_item) link;
	bool is_task;
};

struct ctrl_pdu {
	struct out_item item;
	uint8_t hdr[ISCSI_BHS_LEN];
	uint8_t inline_data[32];
	uint8_t *data; /* inline_data or owned (malloc) */
	uint32_t data_len;
	bool owned;
	bool heap;  /* the ctrl_pdu itself came from malloc (pool empty) */
	bool plain; /* sent without digests (the final login response) */
	TAILQ_ENTRY(ctrl_pdu) free_link;
};

/* One PDU on its way out: header (+digest), data iovecs, pad, data digest. */
struct out_pdu {
	struct out_item *item;
	bool done; /* the item's last PDU: the item is finished once this is written */
	int iovcnt;
	uint32_t len;
	struct iovec iov[5];
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t digest[ISCSI_DIGEST_LEN];
};

struct iscsi_task {
	struct out_item item;
	struct ftgt_scsi_task scsi;
	struct iscsi_conn *conn;
	enum task_state state;
	uint32_t idx;
	uint32_t itt;
	uint32_t ttt;
	uint32_t cmd_sn;
	uint8_t lun[8];
	uint8_t cdb[ISCSI_MAX_CDB_LEN];
	uint8_t *buf;
	uint32_t buf_cap;
	struct iovec iov;
	uint32_t edtl;
	bool read;
	bool write;
	uint32_t received;  /* write data received */
	uint32_t burst_end; /* end offset of the outstanding R2T */
	uint32_t r2t_sn;
	uint32_t data_sn; /* Data-In/R2T PDUs sent (ExpDataSN) */
	uint32_t sent;    /* Data-In bytes queued so far */
	bool resp_in_data;
	bool aborted;
	bool immediate;      /* I bit: took no CmdSN credit */
	bool credit_back;    /* its CmdSN credit was given back (status on its way) */
	struct tmf_ctx *tmf; /* the ABORT waiting for this task's completion */
};

/*
 * A session: owned by `thread` (that of its leading connection); every connection of the
 * session runs there. Fields marked (lock) are also read by other threads under
 * g_iscsi.lock (login of a joining connection, RPCs); they change only under it.
 */
struct iscsi_sess {
	struct ftgt_thread *thread;
	uint64_t id;
	uint16_t tsih;                           /* (lock) */
	uint8_t isid[6];                         /* (lock) */
	bool discovery;                          /* (lock) */
	char initiator_name[ISCSI_MAX_NAME + 1]; /* (lock) */
	char target_name[ISCSI_MAX_NAME + 1];    /* (lock) */
	struct iscsi_tgt_node *tgt;              /* (lock) */
	uint32_t max_conns;                      /* (lock) negotiated MaxConnections */
	uint32_t num_conns;                      /* (lock) */
	uint32_t pending_joins;                  /* (lock) logged in, not moved yet */
	bool closing;                            /* (lock) no connection may join */
	TAILQ_HEAD(, iscsi_conn) conns;          /* (lock) */
	struct iscsi_sess_params sp;
	uint32_t queue_depth;
	struct ftgt_scsi_dev *dev;
	struct ftgt_scsi_port iport;
	struct ftgt_scsi_port tport;
	struct iscsi_cmdsn_window win;
	struct ftgt_io_channel *lun_ch[FTGT_SCSI_DEV_MAX_LUNS];
	bool lun_gone[FTGT_SCSI_DEV_MAX_LUNS]; /* being removed: "LUN not supported" */
	struct iscsi_lun_stats lun_stats[FTGT_SCSI_DEV_MAX_LUNS];
	TAILQ_ENTRY(iscsi_sess) link; /* g_iscsi.sessions (lock) */
};

struct iscsi_conn {
	/* ---- owned by the connection's thread ---- */
	int fd;
	uint64_t id;
	enum conn_state state;
	struct ftgt_thread *thread;
	struct ftgt_poller *poller;
	uint16_t pg_tag;
	char peer_addr[64];
	char local_addr[64];
	uint16_t peer_port;
	uint16_t local_port;

	uint8_t *rbuf;
	uint32_t rcap;
	uint32_t rlen;
	struct iscsi_pdu_params rx;

	TAILQ_HEAD(, out_item) outq;
	/* PDUs built from the head of outq and not yet fully written (a ring), sent
	 * together with one writev; woff: bytes of the first one already written. */
	struct out_pdu stage[CONN_STAGE_PDUS];
	uint32_t stage_head;
	uint32_t nstage;
	uint32_t woff;

	struct iscsi_task tasks[CONN_MAX_TASKS];
	uint32_t active_tasks;
	uint32_t exec_tasks;
	struct ctrl_pdu ctrl[CONN_CTRL_PDUS];
	TAILQ_HEAD(, ctrl_pdu) ctrl_free;

	/* ---- session ---- */
	struct iscsi_sess *sess;      /* set on the session's thread (lock) */
	struct iscsi_sess *join_sess; /* joining: the session it moves to (lock) */
	TAILQ_ENTRY(iscsi_conn) sess_link;
	bool counted_in_tgt; /* holds one of tgt->num_active_conns */
	bool discovery;
	struct iscsi_tgt_node *tgt;
	uint8_t isid[6];
	uint16_t tsih; /* (lock) for listings */
	uint16_t cid;  /* (lock) */
	uint16_t login_tsih;
	uint32_t stat_sn;               /* StatSN is per connection */
	uint32_t login_exp_cmd_sn;      /* before the session exists */
	uint32_t pending_tmfs;          /* TMFs of this connection waiting for aborted tasks */
	uint64_t logout_deadline_ticks; /* AsyncEvent 1 sent: drop after this (0: none) */
	struct iscsi_sess_params sp;
	char initiator_name[ISCSI_MAX_NAME + 1];
	char target_name[ISCSI_MAX_NAME + 1];

	/* ---- login ---- */
	struct iscsi_negotiation neg;
	uint8_t *login_text;
	uint32_t login_text_len;
	bool login_first_done;
	bool op_declared;
	uint8_t login_csg;
	uint32_t login_itt;
	enum chap_state chap;
	struct iscsi_auth_opts auth;
	uint8_t chap_id;
	uint8_t chap_challenge[ISCSI_CHAP_CHALLENGE_LEN];

	/* ---- keep-alive ---- */
	uint64_t last_rx_ticks;
	uint64_t ping_sent_ticks;
	bool ping_outstanding;
	uint32_t next_ttt;

	/* ---- stats (this thread) ---- */
	uint64_t pdus_rx;
	uint64_t pdus_tx;
	uint64_t read_bytes;
	uint64_t write_bytes;

	bool drop_requested;          /* set by message on the owner thread */
	TAILQ_ENTRY(iscsi_conn) link; /* g_iscsi.conns, under g_iscsi.lock */
};

static uint64_t g_next_conn_id = 1;

static void conn_handle_task_done(struct ftgt_scsi_task *st);
static void conn_queue_r2t(struct iscsi_conn *conn, struct iscsi_task *task);
static void conn_begin_exit(struct iscsi_conn *conn);
static void request_drop(struct iscsi_conn *c);
struct tmf_ctx;
static void tmf_task_done(struct tmf_ctx *ctx);
static int conn_poll(void *ctx);
static bool conn_try_destroy(struct iscsi_conn *conn);
static void task_credit_back(struct iscsi_conn *conn, struct iscsi_task *task);

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
static void
fill_sn(struct iscsi_conn *conn, ftgt_be32 *stat_sn, ftgt_be32 *exp_cmd_sn, ftgt_be32 *max_cmd_sn,
        bool advance_stat)
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

static struct ctrl_pdu *
ctrl_get(struct iscsi_conn *conn)
{
	struct ctrl_pdu *c = TAILQ_FIRST(&conn->ctrl_free);

	if (c != NULL) {
		TAILQ_REMOVE(&conn->ctrl_free, c, free_link);
		c->heap = false;
	} else {
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			return NULL;
		}
		c->heap = true;
	}
	memset(c->hdr, 0, sizeof(c->hdr));
	c->item.is_task = false;
	c->data = c->inline_data;
	c->data_len = 0;
	c->owned = false;
	c->plain = false;
	return c;
}

static void
ctrl_put(struct iscsi_conn *conn, struct ctrl_pdu *c)
{
	if (c->owned) {
		free(c->data);
	}
	if (c->heap) {
		free(c);
		return;
	}
	TAILQ_INSERT_HEAD(&conn->ctrl_free, c, free_link);
}

/* Attach data to a control PDU (copied). */
static int
ctrl_set_data(struct ctrl_pdu *c, const void *data, uint32_t len)
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

static void
ctrl_queue(struct iscsi_conn *conn, struct ctrl_pdu *c)
{
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
	fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
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
			fill_sn(conn, &d->stat_sn, &d->exp_cmd_sn, &d->max_cmd_sn, true);
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

static void
task_release(struct iscsi_conn *conn, struct iscsi_task *task)
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
		task_release(conn, FTGT_CONTAINEROF(item, struct iscsi_task, item));
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

static void
send_reject(struct iscsi_conn *conn, const struct iscsi_bhs *bad, uint8_t reason)
{
	struct ctrl_pdu *c = ctrl_get(conn);
	struct iscsi_bhs_reject *r;

	if (c == NULL) {
		return;
	}
	r = (struct iscsi_bhs_reject *)c->hdr;
	r->opcode = ISCSI_OP_REJECT;
	r->flags = ISCSI_FLAG_FINAL;
	r->reason = reason;
	r->itt = ftgt_cpu_to_be32(ISCSI_RESERVED_TAG);
	fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	ctrl_set_data(c, bad, ISCSI_BHS_LEN);
	ctrl_queue(conn, c);
}

static void
send_nop_in(struct iscsi_conn *conn, uint32_t itt, uint32_t ttt, const uint8_t *lun,
            const uint8_t *data, uint32_t len, bool response)
{
	struct ctrl_pdu *c = ctrl_get(conn);
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
	fill_sn(conn, &n->stat_sn, &n->exp_cmd_sn, &n->max_cmd_sn, response);
	if (len > 0 && ctrl_set_data(c, data, len) != 0) {
		c->data_len = 0;
	}
	ctrl_queue(conn, c);
}

static void
send_scsi_error_now(struct iscsi_conn *conn, struct iscsi_task *task)
{
	task->state = TASK_SEND;
	task->resp_in_data = false;
	task->read = false;
	TAILQ_INSERT_TAIL(&conn->outq, &task->item, link);
}

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
static bool
cmd_sn_check_done(struct iscsi_conn *conn, const struct iscsi_pdu_info *info, uint32_t cmd_sn)
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

static uint64_t
lun_to_u64(const uint8_t *l)
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
	uint64_t raw = lun_to_u64(task->lun);

	st->dev = sess->dev;
	st->lun_id = raw;
	st->ch = NULL;
	/* Single-level LUN: the channel of that LUN (see lib/scsi for the decoding). */
	lun_id = (uint32_t)(raw >> 48) & 0x3fff;
	if (lun_id < FTGT_SCSI_DEV_MAX_LUNS) {
		if (sess->lun_gone[lun_id]) {
			ftgt_scsi_task_set_sense(st, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0);
			send_scsi_error_now(conn, task);
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
	uint32_t lun_id = (uint32_t)(lun_to_u64(task->lun) >> 48) & 0x3fff;

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
		tmf_task_done(tmf);
	}
	if (conn->state == CONN_EXITING || task->aborted) {
		/* RFC 7143 11.5.1: no SCSI Response for an aborted task. */
		task_release(conn, task);
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

static void
handle_scsi_cmd(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
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
		send_reject(conn, info->bhs, ISCSI_REJECT_IMMEDIATE_COMMAND_REJECT);
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
		send_scsi_error_now(conn, task);
		return;
	}
	if (!task->read && !task->write) {
		task->edtl = 0;
	}
	if (task->write) {
		uint32_t imm = FTGT_MIN(info->data_len, task->edtl);

		if (info->data_len > 0 && !conn->sp.immediate_data) {
			send_reject(conn, info->bhs, ISCSI_REJECT_PROTOCOL_ERROR);
			task_release(conn, task);
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
	struct ctrl_pdu *c = ctrl_get(conn);
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
	fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, false);
	r->r2t_sn = ftgt_cpu_to_be32(task->r2t_sn++);
	r->buffer_offset = ftgt_cpu_to_be32(task->received);
	r->desired_data_xfer_len = ftgt_cpu_to_be32(len);
	task->burst_end = task->received + len;
	task->data_sn = 0; /* DataSN restarts per R2T sequence */
	ctrl_queue(conn, c);
}

static struct iscsi_task *
find_task_itt(struct iscsi_conn *conn, uint32_t itt)
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
static int
handle_data_out(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_data_out *d = (const struct iscsi_bhs_data_out *)info->bhs;
	struct iscsi_task *task = find_task_itt(conn, info->itt);
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
	struct ctrl_pdu *c = ctrl_get(conn);
	struct iscsi_bhs_task_rsp *r;

	if (c == NULL) {
		return;
	}
	r = (struct iscsi_bhs_task_rsp *)c->hdr;
	r->opcode = ISCSI_OP_TASK_RSP;
	r->flags = ISCSI_FLAG_FINAL;
	r->response = response;
	r->itt = ftgt_cpu_to_be32(itt);
	fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	ctrl_queue(conn, c);
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
static void
tmf_task_done(struct tmf_ctx *ctx)
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

static void
tmf_reset_done(void *arg, int rc)
{
	struct tmf_ctx *ctx = arg;

	if (rc != 0) {
		ctx->response = ISCSI_TMF_RSP_REJECTED;
	}
	tmf_task_done(ctx);
}

/* Abort one task of `owner`: one waiting for Data-Out is freed at once; one in the SCSI
 * layer is aborted there (ftgt_scsi_task_abort), its response is suppressed and ctx (if
 * any) waits for its cpl_fn; a task whose response is being sent is left alone. */
static void
task_abort(struct iscsi_conn *owner, struct iscsi_task *t, struct tmf_ctx *ctx)
{
	if (t->state == TASK_DATA_OUT) {
		task_release(owner, t);
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
static void
abort_conn_tasks(struct iscsi_conn *conn, const uint8_t *lun, int64_t only_itt, struct tmf_ctx *ctx)
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
		abort_conn_tasks(conn, lun, only_itt, ctx);
		return;
	}
	TAILQ_FOREACH (c, &conn->sess->conns, sess_link) {
		abort_conn_tasks(c, lun, only_itt, ctx);
	}
}

/* ITTs are unique in the session (RFC 7143 11.1): search every connection. */
static struct iscsi_task *
find_sess_task_itt(struct iscsi_conn *conn, uint32_t itt)
{
	struct iscsi_conn *c;
	struct iscsi_task *t;

	TAILQ_FOREACH (c, &conn->sess->conns, sess_link) {
		t = find_task_itt(c, itt);
		if (t != NULL) {
			return t;
		}
	}
	return NULL;
}

static void
handle_tmf(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_task_req *t = (const struct iscsi_bhs_task_req *)info->bhs;
	uint8_t func = t->flags & ISCSI_TMF_FUNC_MASK;
	uint64_t raw = lun_to_u64(t->lun);
	uint32_t lun_id = (uint32_t)(raw >> 48) & 0x3fff;
	struct iscsi_sess *sess = conn->sess;
	struct ftgt_scsi_lun *lun = NULL;
	struct tmf_ctx *ctx;
	uint32_t i;

	if (!cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(t->cmd_sn))) {
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
			tmf_task_done(ctx);
		} else if (iscsi_sn_lt(ref_sn, sess->win.exp_cmd_sn)) {
			/* Received and answered already (11.6.1): "task does not exist". */
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_NO_TASK);
		} else {
			/* Not received yet (RFC 7143 11.6.1): function complete. */
			send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_COMPLETE);
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
		tmf_task_done(ctx);
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
		/* Our tasks' responses are suppressed; the SCSI layer's reset waits for the
		 * I/O in flight and raises the unit attentions for the other nexuses. */
		abort_sess_tasks(conn, func == ISCSI_TMF_LUN_RESET ? t->lun : NULL, -1, NULL);
		for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
			struct ftgt_scsi_lun *l = ftgt_scsi_dev_get_lun(sess->dev, i);

			if (l == NULL || sess->lun_ch[i] == NULL ||
			    (func == ISCSI_TMF_LUN_RESET && l != lun)) {
				continue;
			}
			ctx->pending++;
			if (ftgt_scsi_lun_reset(l, sess->lun_ch[i], &sess->iport, tmf_reset_done,
			                        ctx) != 0) {
				ctx->pending--;
				ctx->response = ISCSI_TMF_RSP_REJECTED;
			}
		}
		tmf_task_done(ctx);
		return;
	default:
		send_tmf_rsp(conn, info->itt, ISCSI_TMF_RSP_NOT_SUPPORTED);
		return;
	}
}

/* ---- text, logout, nop ------------------------------------------------------------ */

static void
send_text_like(struct iscsi_conn *conn, uint8_t opcode, const struct iscsi_bhs *req,
               const uint8_t *text, uint32_t len, uint32_t ttt)
{
	struct ctrl_pdu *c = ctrl_get(conn);
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
	fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	if (len > 0 && ctrl_set_data(c, text, len) != 0) {
		c->data_len = 0;
	}
	ctrl_queue(conn, c);
}

static void
handle_text(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_text_req *t = (const struct iscsi_bhs_text_req *)info->bhs;
	struct iscsi_text_out out;
	uint32_t pos = 0, kl, vl;
	const char *k, *v;
	uint8_t *buf;

	if (!cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(t->cmd_sn))) {
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
			iscsi_text_out_add(&out, "", "");
			out.len -= 2;
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
	(void)cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(l->cmd_sn));
	c = ctrl_get(conn);
	if (c == NULL) {
		conn_begin_exit(conn);
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
	fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	r->time2wait = ftgt_cpu_to_be16((uint16_t)conn->sp.default_time2wait);
	r->time2retain = ftgt_cpu_to_be16((uint16_t)conn->sp.default_time2retain);
	ctrl_queue(conn, c);
	if (r->response != ISCSI_LOGOUT_RSP_SUCCESS) {
		return;
	}
	if (reason == ISCSI_LOGOUT_CLOSE_CONNECTION && victim != conn) {
		/* Closing another connection of the session from this one (11.14.1):
		 * that one ends with its tasks, this one goes on. */
		FTGT_INFOLOG("iscsi conn %llu: logout closes cid %u\n",
		             (unsigned long long)conn->id, cid);
		conn_begin_exit(victim);
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
				conn_begin_exit(other);
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
	if (!cmd_sn_check_done(conn, info, ftgt_be32_to_cpu(n->cmd_sn))) {
		return;
	}
	if (ftgt_be32_to_cpu(n->ttt) != ISCSI_RESERVED_TAG) {
		return; /* a reply to a target ping with an ITT: no answer */
	}
	send_nop_in(conn, info->itt, ISCSI_RESERVED_TAG, n->lun, info->data, info->data_len, true);
}

/* ---- login ------------------------------------------------------------------------- */

static void
send_login_rsp(struct iscsi_conn *conn, const struct iscsi_bhs_login_req *req, uint8_t flags,
               uint8_t status_class, uint8_t status_detail, const uint8_t *text, uint32_t len)
{
	struct ctrl_pdu *c = ctrl_get(conn);
	struct iscsi_bhs_login_rsp *r;

	if (c == NULL) {
		conn->state = CONN_EXITING;
		return;
	}
	r = (struct iscsi_bhs_login_rsp *)c->hdr;
	r->opcode = ISCSI_OP_LOGIN_RSP;
	r->flags = flags;
	r->version_max = 0;
	r->version_act = 0;
	memcpy(r->isid, req->isid, 6);
	r->tsih = ftgt_cpu_to_be16(status_class != 0 ? 0
	                           : conn->tsih != 0 ? conn->tsih
	                                             : conn->login_tsih);
	r->itt = req->itt;
	fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	r->status_class = status_class;
	r->status_detail = status_detail;
	if (len > 0 && ctrl_set_data(c, text, len) != 0) {
		c->data_len = 0;
	}
	c->plain = true; /* digests start after the final login response */
	ctrl_queue(conn, c);
	if (status_class != ISCSI_LOGIN_CLASS_SUCCESS) {
		conn->state = CONN_CLOSING;
		pthread_mutex_lock(&g_iscsi.lock);
		g_iscsi.stats.logins_failed++;
		pthread_mutex_unlock(&g_iscsi.lock);
	}
}

static bool
text_get(const uint8_t *text, uint32_t len, const char *key, char *val, size_t val_len)
{
	uint32_t pos = 0, kl, vl;
	const char *k, *v;

	while (iscsi_text_next(text, len, &pos, &k, &kl, &v, &vl) == 1) {
		if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
			snprintf(val, val_len, "%.*s", (int)vl, v);
			return true;
		}
	}
	return false;
}

/* Security stage with CHAP. Returns 0 (continue), or a login status detail (class 2). */
static int
login_chap(struct iscsi_conn *conn, const uint8_t *text, uint32_t len, struct iscsi_text_out *out)
{
	char val[1100], user[ISCSI_MAX_SECRET_LEN + 1];
	uint8_t resp[64], digest[16], ichal[1024];
	struct iscsi_secret sec;
	int n, ichal_len;

	switch (conn->chap) {
	case CHAP_WAIT_A:
		if (!text_get(text, len, "CHAP_A", val, sizeof(val))) {
			return 0;
		}
		if (!iscsi_text_list_has(val, (uint32_t)strlen(val), "5")) {
			iscsi_text_out_add(out, "CHAP_A", "Reject");
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		iscsi_text_out_add(out, "CHAP_A", "5");
		if (RAND_bytes(&conn->chap_id, 1) != 1 ||
		    RAND_bytes(conn->chap_challenge, sizeof(conn->chap_challenge)) != 1) {
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		iscsi_text_out_add_num(out, "CHAP_I", conn->chap_id);
		iscsi_chap_encode_hex(conn->chap_challenge, sizeof(conn->chap_challenge), val,
		                      sizeof(val));
		iscsi_text_out_add(out, "CHAP_C", val);
		conn->chap = CHAP_WAIT_NR;
		return 0;
	case CHAP_WAIT_NR:
		if (!text_get(text, len, "CHAP_N", user, sizeof(user)) ||
		    !text_get(text, len, "CHAP_R", val, sizeof(val))) {
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		n = iscsi_chap_decode(val, resp, sizeof(resp));
		if (n != 16 || iscsi_auth_find_secret(conn->auth.chap_group, user, &sec) != 0 ||
		    iscsi_chap_md5(conn->chap_id, sec.secret, conn->chap_challenge,
		                   sizeof(conn->chap_challenge), digest) != 0 ||
		    memcmp(digest, resp, 16) != 0) {
			FTGT_NOTICELOG("iscsi conn %llu: CHAP authentication of '%s' failed\n",
			               (unsigned long long)conn->id, user);
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		if (text_get(text, len, "CHAP_I", val, sizeof(val))) {
			char cval[1100];
			uint64_t id;

			/* Mutual CHAP: answer the initiator's challenge. */
			if (!text_get(text, len, "CHAP_C", cval, sizeof(cval)) ||
			    sec.muser[0] == '\0' || sscanf(val, "%" SCNu64, &id) != 1 || id > 255) {
				return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
			}
			ichal_len = iscsi_chap_decode(cval, ichal, sizeof(ichal));
			if (ichal_len <= 0 ||
			    ((size_t)ichal_len == sizeof(conn->chap_challenge) &&
			     memcmp(ichal, conn->chap_challenge, (size_t)ichal_len) == 0)) {
				return ISCSI_LOGIN_DETAIL_AUTH_FAILURE; /* reflection */
			}
			if (iscsi_chap_md5((uint8_t)id, sec.msecret, ichal, (size_t)ichal_len,
			                   digest) != 0) {
				return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
			}
			iscsi_text_out_add(out, "CHAP_N", sec.muser);
			iscsi_chap_encode_hex(digest, 16, val, sizeof(val));
			iscsi_text_out_add(out, "CHAP_R", val);
		} else if (conn->auth.mutual_chap) {
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		conn->chap = CHAP_OK;
		return 0;
	default:
		return 0;
	}
}

/* ---- sessions ------------------------------------------------------------------------ */

static void
lun_stats_add(struct iscsi_lun_stats *to, const struct iscsi_lun_stats *from)
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
static void
sess_free(struct iscsi_sess *sess)
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
		for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
			lun_stats_add(&sess->tgt->retired[i], &sess->lun_stats[i]);
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	FTGT_INFOLOG("iscsi session tsih %u of %s ended\n", sess->tsih, sess->initiator_name);
	free(sess);
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
	struct ctrl_pdu *c = ctrl_get(conn);
	struct iscsi_bhs_async *a;

	if (c == NULL) {
		return;
	}
	a = (struct iscsi_bhs_async *)c->hdr;
	a->opcode = ISCSI_OP_ASYNC;
	a->flags = ISCSI_FLAG_FINAL;
	a->itt = ftgt_cpu_to_be32(ISCSI_RESERVED_TAG);
	fill_sn(conn, &a->stat_sn, &a->exp_cmd_sn, &a->max_cmd_sn, true);
	a->async_event = event;
	a->param1 = ftgt_cpu_to_be16(p1);
	a->param2 = ftgt_cpu_to_be16(p2);
	a->param3 = ftgt_cpu_to_be16(p3);
	ctrl_queue(conn, c);
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

static void
request_drop(struct iscsi_conn *c)
{
	conn_send_op(c, CONN_OP_DROP, 0);
}

/* ---- end of login: create or join a session ------------------------------------------- */

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
	    memcmp(sess->isid, conn->isid, 6) != 0 ||
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
	if (sess->tgt != NULL) {
		sess->tgt->num_active_conns++;
		conn->counted_in_tgt = true;
	}
	g_iscsi.stats.logins_ok++;
	pthread_mutex_unlock(&g_iscsi.lock);
	return 0;
}

/* Full feature phase starts. Returns 0, or a status detail with its class in *status_class. */
static int
login_finish(struct iscsi_conn *conn, uint8_t *status_class)
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
	/* Session reinstatement (RFC 7143 6.3.5): same initiator port (name + ISID) and
	 * target: the old session and all its connections end. */
	TAILQ_FOREACH (s, &g_iscsi.sessions, link) {
		if (!s->discovery && !sess->discovery && !s->closing &&
		    memcmp(s->isid, sess->isid, 6) == 0 &&
		    strcmp(s->initiator_name, sess->initiator_name) == 0 &&
		    strcasecmp(s->target_name, sess->target_name) == 0) {
			s->closing = true;
			TAILQ_FOREACH (c, &s->conns, sess_link) {
				request_drop(c);
			}
		}
	}
	g_iscsi.num_sessions++;
	sess->tsih = g_iscsi.next_tsih++;
	if (g_iscsi.next_tsih == 0) {
		g_iscsi.next_tsih = 1;
	}
	conn->tsih = sess->tsih;
	if (conn->tgt != NULL) {
		conn->tgt->num_active_conns++;
		conn->counted_in_tgt = true;
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
		sess_free(sess);
	}
	if (old != NULL) {
		/* Connection reinstatement (RFC 7143 6.3.4) at ERL 0: the old connection
		 * ends and its tasks are terminated. */
		FTGT_NOTICELOG("iscsi conn %llu: reinstates cid %u of session tsih %u\n",
		               (unsigned long long)conn->id, conn->cid, sess->tsih);
		conn_begin_exit(old);
	}
	conn->poller = ftgt_poller_register(conn_poll, conn, 0, "iscsi_conn");
	if (failed || conn->poller == NULL) {
		conn_begin_exit(conn);
		if (conn->poller == NULL) {
			conn_try_destroy(conn);
		}
		return;
	}
	FTGT_INFOLOG("iscsi conn %llu: cid %u joined session tsih %u (%u connections)\n",
	             (unsigned long long)conn->id, conn->cid, sess->tsih, sess->num_conns);
}

/* Logged in to an existing session: move to the session's thread (this poller ends). */
static void
conn_move_to_session(struct iscsi_conn *conn)
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
	conn->poller = ftgt_poller_register(conn_poll, conn, 0, "iscsi_conn");
	if (conn->poller == NULL) {
		FTGT_ERRLOG("iscsi conn %llu: cannot move to its session's thread\n",
		            (unsigned long long)conn->id);
	}
}

static void
handle_login(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_login_req *req = (const struct iscsi_bhs_login_req *)info->bhs;
	uint8_t csg = (req->flags & ISCSI_LOGIN_CSG_MASK) >> ISCSI_LOGIN_CSG_SHIFT;
	uint8_t nsg = req->flags & ISCSI_LOGIN_NSG_MASK;
	bool transit = (req->flags & ISCSI_LOGIN_FLAG_TRANSIT) != 0;
	struct iscsi_text_out out;
	uint8_t *rsp = NULL, flags;
	int rc, detail = 0;
	char val[64];

	if (info->opcode != ISCSI_OP_LOGIN_REQ) {
		/* Only login PDUs before the full feature phase (RFC 7143 6.1). */
		send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
		               ISCSI_LOGIN_DETAIL_INVALID_REQUEST, NULL, 0);
		return;
	}
	if (!conn->login_first_done) {
		conn->login_first_done = true;
		memcpy(conn->isid, req->isid, 6);
		conn->cid = ftgt_be16_to_cpu(req->cid);
		conn->login_exp_cmd_sn = ftgt_be32_to_cpu(req->cmd_sn);
		conn->stat_sn = ftgt_be32_to_cpu(req->exp_stat_sn);
		conn->login_itt = info->itt;
		/* TSIH != 0: a new connection for that session (checked at the end). */
		conn->login_tsih = ftgt_be16_to_cpu(req->tsih);
		if (req->version_min > 0) {
			send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
			               ISCSI_LOGIN_DETAIL_UNSUPPORTED_VERSION, NULL, 0);
			return;
		}
	}
	if (csg == 2 || (transit && nsg == 2) || (transit && nsg < csg) || csg < conn->login_csg) {
		send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
		               ISCSI_LOGIN_DETAIL_INIT_ERR, NULL, 0);
		return;
	}
	/* Accumulate text split over several PDUs (C bit). */
	if (conn->login_text_len + info->data_len > LOGIN_TEXT_MAX) {
		send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
		               ISCSI_LOGIN_DETAIL_INIT_ERR, NULL, 0);
		return;
	}
	memcpy(conn->login_text + conn->login_text_len, info->data, info->data_len);
	conn->login_text_len += info->data_len;
	if (req->flags & ISCSI_LOGIN_FLAG_CONTINUE) {
		send_login_rsp(conn, req, (uint8_t)(csg << ISCSI_LOGIN_CSG_SHIFT), 0, 0, NULL, 0);
		return;
	}

	rsp = malloc(LOGIN_DSL);
	if (rsp == NULL) {
		conn->state = CONN_EXITING;
		return;
	}
	memset(&out, 0, sizeof(out));
	out.buf = rsp;
	out.cap = LOGIN_DSL;
	rc = iscsi_negotiate(&conn->neg, conn->login_text, conn->login_text_len, &out);
	if (rc == -EINVAL) {
		detail = ISCSI_LOGIN_DETAIL_INIT_ERR;
		goto fail;
	}
	if (conn->initiator_name[0] == '\0') {
		struct iscsi_tgt_node *tgt = NULL;
		char err[128];

		if (conn->neg.initiator_name[0] == '\0') {
			detail = ISCSI_LOGIN_DETAIL_MISSING_PARAMETER;
			goto fail;
		}
		if (!ftgt_iscsi_name_is_valid(conn->neg.initiator_name, err, sizeof(err))) {
			detail = ISCSI_LOGIN_DETAIL_INIT_ERR;
			goto fail;
		}
		snprintf(conn->initiator_name, sizeof(conn->initiator_name), "%s",
		         conn->neg.initiator_name);
		conn->discovery = conn->neg.discovery;
		pthread_mutex_lock(&g_iscsi.lock);
		if (conn->discovery) {
			conn->auth = g_iscsi.opts.discovery_auth;
		} else {
			if (!conn->neg.target_name_given) {
				pthread_mutex_unlock(&g_iscsi.lock);
				detail = ISCSI_LOGIN_DETAIL_MISSING_PARAMETER;
				goto fail;
			}
			tgt = iscsi_tgt_find(conn->neg.target_name);
			if (tgt == NULL) {
				pthread_mutex_unlock(&g_iscsi.lock);
				detail = ISCSI_LOGIN_DETAIL_NOT_FOUND;
				goto fail;
			}
			if (!iscsi_tgt_access_ok(tgt, conn->pg_tag, conn->initiator_name,
			                         conn->peer_addr)) {
				pthread_mutex_unlock(&g_iscsi.lock);
				detail = ISCSI_LOGIN_DETAIL_AUTHORIZATION;
				goto fail;
			}
			conn->tgt = tgt;
			conn->auth = tgt->auth;
			conn->neg.allow_header_digest = true;
			conn->neg.allow_data_digest = true;
			snprintf(conn->target_name, sizeof(conn->target_name), "%s", tgt->name);
		}
		pthread_mutex_unlock(&g_iscsi.lock);
		if (!conn->discovery) {
			snprintf(val, sizeof(val), "%u", conn->pg_tag);
			iscsi_text_out_add(&out, "TargetPortalGroupTag", val);
			if (tgt->alias[0] != '\0') {
				iscsi_text_out_add(&out, "TargetAlias", tgt->alias);
			}
		}
	}

	if (csg == ISCSI_SECURITY_NEGOTIATION) {
		if (conn->neg.auth_method_seen && conn->chap == CHAP_NONE) {
			bool chap_ok = conn->neg.auth_chap_offered && !conn->auth.disable_chap;
			bool none_ok = conn->neg.auth_none_offered && !conn->auth.require_chap;

			conn->neg.auth_method_seen = false;
			if (chap_ok && (conn->auth.require_chap || !none_ok)) {
				iscsi_text_out_add(&out, "AuthMethod", "CHAP");
				conn->chap = CHAP_WAIT_A;
				/* CHAP_A may come in the same PDU. */
				detail = login_chap(conn, conn->login_text, conn->login_text_len,
				                    &out);
				if (detail != 0) {
					goto fail;
				}
			} else if (none_ok) {
				iscsi_text_out_add(&out, "AuthMethod", "None");
				conn->chap = CHAP_OK;
			} else {
				iscsi_text_out_add(&out, "AuthMethod", "Reject");
				detail = ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
				goto fail;
			}
		} else {
			detail = login_chap(conn, conn->login_text, conn->login_text_len, &out);
			if (detail != 0) {
				goto fail;
			}
		}
		if (transit && conn->chap != CHAP_OK) {
			if (conn->chap == CHAP_NONE && !conn->auth.require_chap) {
				conn->chap = CHAP_OK; /* no AuthMethod given: None */
			} else if (conn->chap == CHAP_NONE) {
				detail = ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
				goto fail;
			} else {
				transit = false; /* CHAP still running: stay in this stage */
			}
		}
	} else if (conn->chap != CHAP_OK) {
		if (conn->auth.require_chap) {
			detail = ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
			goto fail;
		}
		conn->chap = CHAP_OK;
	}
	if (csg == ISCSI_OPERATIONAL_NEGOTIATION && !conn->op_declared) {
		conn->op_declared = true;
		iscsi_text_out_add_num(&out, "MaxRecvDataSegmentLength",
		                       conn->neg.target_limits.target_max_recv_dsl);
	}
	conn->login_text_len = 0;

	flags = (uint8_t)(csg << ISCSI_LOGIN_CSG_SHIFT);
	if (transit) {
		flags |= ISCSI_LOGIN_FLAG_TRANSIT | nsg;
		conn->login_csg = nsg;
		if (nsg == ISCSI_FULL_FEATURE_PHASE) {
			uint8_t status_class;

			detail = login_finish(conn, &status_class);
			if (detail != 0) {
				FTGT_NOTICELOG("iscsi conn %llu (%s): login of '%s' refused: "
				               "status %02x/%02x\n",
				               (unsigned long long)conn->id, conn->peer_addr,
				               conn->initiator_name, status_class, detail);
				send_login_rsp(conn, req, 0, status_class, (uint8_t)detail, NULL,
				               0);
				free(rsp);
				return;
			}
		}
	}
	send_login_rsp(conn, req, flags, 0, 0, rsp, out.len);
	free(rsp);
	if (transit && nsg == ISCSI_FULL_FEATURE_PHASE) {
		conn->sp = conn->neg.params;
		conn->sp.target_max_recv_dsl = conn->neg.target_limits.target_max_recv_dsl;
		if (conn->join_sess != NULL) {
			/* Session-wide keys are the session's; only the connection-only
			 * ones (digests, MaxRecvDataSegmentLength) are this login's. */
			struct iscsi_sess_params own = conn->sp;

			conn->sp = conn->join_sess->sp;
			conn->sp.header_digest = own.header_digest;
			conn->sp.data_digest = own.data_digest;
			conn->sp.initiator_max_recv_dsl = own.initiator_max_recv_dsl;
			conn->sp.target_max_recv_dsl = own.target_max_recv_dsl;
		}
		conn->state = CONN_FFP;
		/* Digests apply from the first PDU after the final login response (which
		 * goes out plain); the initiator sends nothing before it has it. */
		conn->rx.header_digest = conn->sp.header_digest;
		conn->rx.data_digest = conn->sp.data_digest;
		conn->rx.max_recv_dsl = conn->sp.target_max_recv_dsl;
		FTGT_INFOLOG("iscsi conn %llu: %s logged in to %s (tsih %u)\n",
		             (unsigned long long)conn->id, conn->initiator_name,
		             conn->discovery ? "discovery" : conn->target_name, conn->tsih);
	}
	return;
fail:
	FTGT_NOTICELOG("iscsi conn %llu (%s): login of '%s' failed: status 02/%02x (stage %u, "
	               "chap state %d)\n",
	               (unsigned long long)conn->id, conn->peer_addr, conn->neg.initiator_name,
	               detail, csg, (int)conn->chap);
	send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR, (uint8_t)detail, NULL, 0);
	free(rsp);
}

/* ---- receive path ------------------------------------------------------------------- */

static int
handle_pdu(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	conn->pdus_rx++;
	if (conn->state == CONN_LOGIN) {
		handle_login(conn, info);
		return 0;
	}
	if (conn->state != CONN_FFP) {
		return 0;
	}
	switch (info->opcode) {
	case ISCSI_OP_SCSI_CMD:
		if (conn->discovery) {
			send_reject(conn, info->bhs, ISCSI_REJECT_PROTOCOL_ERROR);
			return 0;
		}
		handle_scsi_cmd(conn, info);
		return 0;
	case ISCSI_OP_DATA_OUT:
		return handle_data_out(conn, info);
	case ISCSI_OP_NOPOUT:
		handle_nop_out(conn, info);
		return 0;
	case ISCSI_OP_TASK_REQ:
		handle_tmf(conn, info);
		return 0;
	case ISCSI_OP_TEXT_REQ:
		handle_text(conn, info);
		return 0;
	case ISCSI_OP_LOGOUT_REQ:
		handle_logout(conn, info);
		return 0;
	case ISCSI_OP_LOGIN_REQ:
		/* Login in full feature phase: protocol error. */
		send_reject(conn, info->bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	default:
		send_reject(conn, info->bhs, ISCSI_REJECT_COMMAND_NOT_SUPPORTED);
		return 0;
	}
}

/* Returns -1 when the connection must end. */
static int
conn_recv(struct iscsi_conn *conn, bool *busy)
{
	uint32_t off = 0;
	ssize_t n;

	n = recv(conn->fd, conn->rbuf + conn->rlen, conn->rcap - conn->rlen, MSG_DONTWAIT);
	if (n == 0) {
		return -1;
	}
	if (n < 0) {
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
	}
	*busy = true;
	conn->rlen += (uint32_t)n;
	conn->last_rx_ticks = ftgt_get_ticks();
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
			send_reject(conn, info.bhs, info.reject_reason);
			off += info.total_len;
			continue;
		}
		if (rc < 0) {
			goto malformed;
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
	free(conn);
}

static void
conn_begin_exit(struct iscsi_conn *conn)
{
	if (conn->fd >= 0) {
		close(conn->fd);
		conn->fd = -1;
	}
	conn->state = CONN_EXITING;
	/* Tasks waiting for data go now; those in the SCSI layer are aborted there and
	 * the connection is freed only when their cpl_fn ran. */
	abort_conn_tasks(conn, NULL, -1, NULL);
}

/* Finishes the exit once no task is in the SCSI layer. Returns true when freed. */
static bool
conn_try_destroy(struct iscsi_conn *conn)
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
			sess_free(sess);
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
			conn_begin_exit(conn);
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

static int
conn_poll(void *ctx)
{
	struct iscsi_conn *conn = ctx;
	bool busy = false;

	if (conn->join_sess != NULL && conn->sess == NULL) {
		/* Logged in to an existing session (or failed just after): move to the
		 * session's thread, which sends the final login response or ends it. */
		conn_move_to_session(conn);
		return FTGT_POLLER_BUSY;
	}
	if (conn->state == CONN_EXITING) {
		conn_try_destroy(conn);
		return FTGT_POLLER_BUSY;
	}
	if (conn->drop_requested || g_iscsi.stopping) {
		conn_begin_exit(conn);
		return FTGT_POLLER_BUSY;
	}
	if ((conn->state == CONN_LOGIN || conn->state == CONN_FFP) && conn_recv(conn, &busy) != 0) {
		conn_begin_exit(conn);
		return FTGT_POLLER_BUSY;
	}
	conn_keepalive(conn, &busy);
	if (conn->fd >= 0 && conn_flush(conn, &busy) != 0) {
		conn_begin_exit(conn);
		return FTGT_POLLER_BUSY;
	}
	if (conn->state == CONN_CLOSING && TAILQ_EMPTY(&conn->outq) && conn->nstage == 0) {
		conn_begin_exit(conn);
	}
	return busy ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
}

static void
conn_start(void *ctx)
{
	struct iscsi_conn *conn = ctx;

	conn->thread = ftgt_get_thread();
	conn->last_rx_ticks = ftgt_get_ticks();
	conn->poller = ftgt_poller_register(conn_poll, conn, 0, "iscsi_conn");
	if (conn->poller == NULL) {
		conn_begin_exit(conn);
		conn_try_destroy(conn);
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
		if (name == NULL || strcasecmp(c->target_name, name) == 0) {
			request_drop(c);
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
	uint32_t i;

	pthread_mutex_lock(&g_iscsi.lock);
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
				lun_stats_add(&ct->luns[i], &s->lun_stats[i]);
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
				lun_stats_add(&sum, &ctx->tgts[i].luns[l]);
				lun_stats_add(&sum, &t->retired[l]);
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
				lun_stats_add(&sum, &t->retired[l]);
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
		    strcasecmp(s->target_name, ctx->name) != 0 || s->lun_ch[ctx->lun_id] != NULL) {
			continue;
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

	TAILQ_FOREACH (c, &sess->conns, sess_link) {
		for (i = 0; i < CONN_MAX_TASKS; i++) {
			const struct iscsi_task *t = &c->tasks[i];

			if (t->state == TASK_EXEC &&
			    ((uint32_t)(lun_to_u64(t->lun) >> 48) & 0x3fff) == lun_id) {
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
