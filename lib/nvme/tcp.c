/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Host side of NVMe/TCP (NVMe/TCP Transport Specification 1.0): one TCP connection per
 * queue pair, a send ring of PDUs flushed with one sendmsg() per poll (payloads sent
 * straight from the caller's iovecs), and a streaming receive parser fed by one recv()
 * of many PDUs (large C2HData payloads are received straight into the caller's iovecs).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/crc32c.h"
#include "ftgt/log.h"
#include "ftgt/string.h"
#include "nvme_internal.h"

FTGT_LOG_REGISTER_COMPONENT(nvme_tcp)

/* iovecs of one direct recvmsg() into a read's buffers (plus the staging buffer). */
#define NVME_TCP_RX_IOV_MAX 64

uint64_t
nvme_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t
crc_final(uint32_t crc)
{
	return crc ^ FTGT_CRC32C_XOR;
}

/* Where byte off of req's payload is: iov[*idx] + *ioff. */
static void
req_iov_seek(const struct nvme_req *req, uint32_t off, uint32_t *idx, size_t *ioff)
{
	uint32_t i = 0;
	size_t o = off;

	while (i < req->iovcnt && o >= req->iov[i].iov_len) {
		o -= req->iov[i].iov_len;
		i++;
	}
	*idx = i;
	*ioff = o;
}

/* CRC32C over len bytes of req's payload from off. */
static uint32_t
req_crc(const struct nvme_req *req, uint32_t off, uint32_t len, uint32_t crc)
{
	uint32_t i;
	size_t ioff;

	req_iov_seek(req, off, &i, &ioff);
	while (len > 0 && i < req->iovcnt) {
		size_t n = FTGT_MIN(req->iov[i].iov_len - ioff, (size_t)len);

		crc = ftgt_crc32c_update((const uint8_t *)req->iov[i].iov_base + ioff, n, crc);
		len -= (uint32_t)n;
		ioff = 0;
		i++;
	}
	return crc;
}

static void abort_all(struct ftgt_nvme_qpair *q, bool dnr);

struct ftgt_nvme_qpair *
nvme_tcp_qpair_create(struct ftgt_nvme_ctrlr *ctrlr, uint16_t qid, uint32_t num_entries)
{
	struct ftgt_nvme_qpair *q;
	uint32_t i;

	if (num_entries < 2 || num_entries > NVME_HOST_MAX_QUEUE_SIZE) {
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		return NULL;
	}
	q->ctrlr = ctrlr;
	q->fd = -1;
	q->qid = qid;
	q->num_entries = num_entries;
	q->maxh2cdata_bytes = 4096;
	q->state = NVME_QPAIR_DISCONNECTED;
	q->reqs = calloc(num_entries, sizeof(*q->reqs));
	/* A capsule per command plus H2CData PDUs for R2Ts; more is deferred. */
	q->tx_num_slots = num_entries * 2 + 16;
	q->tx_slots = calloc(q->tx_num_slots, sizeof(*q->tx_slots));
	q->rx_buf = malloc(NVME_TCP_RX_BUF_BYTES);
	q->connect_data = calloc(1, sizeof(*q->connect_data));
	if (q->reqs == NULL || q->tx_slots == NULL || q->rx_buf == NULL ||
	    q->connect_data == NULL) {
		nvme_tcp_qpair_destroy(q);
		return NULL;
	}
	for (i = num_entries; i > 0; i--) {
		q->reqs[i - 1].cid = (uint16_t)(i - 1);
		q->reqs[i - 1].next = q->free_reqs;
		q->free_reqs = &q->reqs[i - 1];
	}
	return q;
}

void
nvme_tcp_qpair_destroy(struct ftgt_nvme_qpair *q)
{
	if (q == NULL) {
		return;
	}
	if (q->reqs != NULL) {
		q->connected_once = false; /* closing for good: no reconnect */
		if (!nvme_qpair_is_dead(q)) {
			nvme_tcp_qpair_fail(q, "queue pair closed");
		} else {
			abort_all(q, true);
		}
	}
	if (q->fd >= 0) {
		close(q->fd);
	}
	free(q->reqs);
	free(q->tx_slots);
	free(q->rx_buf);
	free(q->connect_data);
	free(q);
}

static void
req_release(struct ftgt_nvme_qpair *q, struct nvme_req *req)
{
	req->active = false;
	req->fuse_peer = NULL;
	req->fuse_done = false;
	req->next = q->free_reqs;
	q->free_reqs = req;
	q->outstanding--;
}

static void
req_complete(struct ftgt_nvme_qpair *q, struct nvme_req *req, const struct nvme_cpl *cpl)
{
	ftgt_nvme_cmd_cb cb_fn = req->cb_fn;
	void *cb_arg = req->cb_arg;
	struct nvme_cpl fused;

	if (ftgt_unlikely(req->fuse_peer != NULL)) {
		struct nvme_req *peer = req->fuse_peer;
		const struct nvme_cpl *cmp, *wr;

		if (!peer->fuse_done) {
			/* Keep the slot (and its cid) until the other half is in. */
			req->fuse_done = true;
			req->fuse_cpl = *cpl;
			return;
		}
		cmp = req->fuse_first ? cpl : &peer->fuse_cpl;
		wr = req->fuse_first ? &peer->fuse_cpl : cpl;
		/* The Compare's status if it failed (the Write was then not done), else the Write's. */
		fused = ftgt_nvme_cpl_is_error(cmp) ? *cmp : *wr;
		cpl = &fused;
		req_release(q, peer);
	}
	req_release(q, req);
	q->stats.completions++;
	if (cb_fn != NULL) {
		q->cb_depth++;
		cb_fn(cb_arg, cpl);
		q->cb_depth--;
	}
}

/* End every outstanding command with ABORTED_SQ_DELETION (dnr: do not retry). */
static void
abort_all(struct ftgt_nvme_qpair *q, bool dnr)
{
	struct nvme_cpl cpl;
	uint32_t i;

	q->tx_head = q->tx_tail = q->tx_count = 0;
	q->tx_off = 0;
	q->r2t_head = q->r2t_tail = NULL;
	q->rx_left_len = 0;
	for (i = 0; i < q->num_entries; i++) {
		q->reqs[i].tx_refs = 0; /* the send ring is empty now */
	}
	for (i = 0; i < q->num_entries; i++) {
		struct nvme_req *req = &q->reqs[i];

		if (!req->active || req->fuse_done) {
			continue;
		}
		memset(&cpl, 0, sizeof(cpl));
		cpl.cid = ftgt_cpu_to_le16(req->cid);
		cpl.sqid = ftgt_cpu_to_le16(q->qid);
		cpl.status = ftgt_cpu_to_le16(
		        NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION) |
		        (dnr ? NVME_STATUS_DNR : 0));
		req_complete(q, req, &cpl);
	}
}

void
nvme_tcp_qpair_fail(struct ftgt_nvme_qpair *q, const char *reason)
{
	struct ftgt_nvme_ctrlr *ctrlr = q->ctrlr;
	bool retry;

	if (nvme_qpair_is_dead(q)) {
		return;
	}
	retry = q->connected_once && nvme_ctrlr_reconnect_enabled(ctrlr) &&
	        __atomic_load_n(&ctrlr->state, __ATOMIC_ACQUIRE) != FTGT_NVME_CTRLR_FAILED;
	q->state = retry ? NVME_QPAIR_DISCONNECTED : NVME_QPAIR_FAILED;
	if (reason != q->fail_reason) {
		ftgt_strlcpy(q->fail_reason, reason, sizeof(q->fail_reason));
	}
	if (q->conn_rc == 0) {
		q->conn_rc = -EIO;
	}
	FTGT_DEBUGLOG(nvme_tcp, "qpair %u: failed: %s\n", q->qid, reason);
	if (q->fd >= 0) {
		shutdown(q->fd, SHUT_RDWR);
	}
	if (retry && q->qid != 0) {
		/* Only a controller reset brings it back (the admin thread takes this). */
		q->wait_gen_change = true;
		nvme_ctrlr_request_reset(ctrlr, q->gen);
	}
	abort_all(q, !retry);
}

void
nvme_tcp_qpair_disconnect(struct ftgt_nvme_qpair *q)
{
	if (q->state == NVME_QPAIR_FAILED) {
		return;
	}
	q->state = NVME_QPAIR_DISCONNECTED;
	if (q->fd >= 0) {
		shutdown(q->fd, SHUT_RDWR);
	}
	abort_all(q, false);
}

static int fatal(struct ftgt_nvme_qpair *q, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
fatal(struct ftgt_nvme_qpair *q, const char *fmt, ...)
{
	va_list ap;

	if (nvme_qpair_is_dead(q)) {
		return -EPROTO;
	}
	va_start(ap, fmt);
	vsnprintf(q->fail_reason, sizeof(q->fail_reason), fmt, ap);
	va_end(ap);
	q->conn_rc = -EPROTO;
	nvme_tcp_qpair_fail(q, q->fail_reason);
	return -EPROTO;
}

/* ---- Sending ----------------------------------------------------------------------- */

static struct nvme_tcp_tx_slot *
tx_slot_get(struct ftgt_nvme_qpair *q)
{
	struct nvme_tcp_tx_slot *s;

	if (q->tx_count == q->tx_num_slots) {
		return NULL;
	}
	s = &q->tx_slots[q->tx_tail];
	q->tx_tail = (q->tx_tail + 1) % q->tx_num_slots;
	q->tx_count++;
	s->hdr_len = 0;
	s->req = NULL;
	s->data_off = 0;
	s->data_len = 0;
	s->has_ddgst = false;
	return s;
}

/*
 * Fill a slot's header: the PDU header of hlen bytes is already in s->hdr. Adds the
 * header digest, padding up to the data offset, and data_len bytes of req's payload from
 * data_off with their digest.
 */
static void
tx_slot_finish(struct ftgt_nvme_qpair *q, struct nvme_tcp_tx_slot *s, uint32_t hlen,
               struct nvme_req *req, uint32_t data_off, uint32_t data_len)
{
	struct nvme_tcp_ch *ch = (struct nvme_tcp_ch *)s->hdr;
	uint32_t hdr_len = hlen, pdo = 0, plen;

	if (q->hdgst) {
		ch->flags |= NVME_TCP_CH_FLAGS_HDGSTF;
	}
	if (data_len > 0) {
		pdo = hlen + (q->hdgst ? NVME_TCP_DIGEST_LEN : 0);
		if (q->cpda_bytes > 0) {
			pdo = FTGT_ALIGN_UP(pdo, (uint32_t)q->cpda_bytes);
		}
		if (q->ddgst) {
			ch->flags |= NVME_TCP_CH_FLAGS_DDGSTF;
		}
	}
	ch->hlen = (uint8_t)hlen;
	ch->pdo = (uint8_t)pdo;
	plen = (data_len > 0 ? pdo : hlen + (q->hdgst ? NVME_TCP_DIGEST_LEN : 0)) + data_len +
	       (data_len > 0 && q->ddgst ? NVME_TCP_DIGEST_LEN : 0);
	ch->plen = ftgt_cpu_to_le32(plen);
	if (q->hdgst) {
		ftgt_le32 d = ftgt_cpu_to_le32(
		        crc_final(ftgt_crc32c_update(s->hdr, hlen, FTGT_CRC32C_INIT)));

		memcpy(s->hdr + hlen, &d, sizeof(d));
		hdr_len += NVME_TCP_DIGEST_LEN;
	}
	if (data_len > 0 && pdo > hdr_len) {
		memset(s->hdr + hdr_len, 0, pdo - hdr_len);
		hdr_len = pdo;
	}
	s->hdr_len = hdr_len;
	s->req = data_len > 0 ? req : NULL;
	if (data_len > 0) {
		req->tx_refs++; /* dropped when the flush retires the slot */
	}
	s->data_off = data_off;
	s->data_len = data_len;
	if (data_len > 0 && q->ddgst) {
		s->ddgst = ftgt_cpu_to_le32(
		        crc_final(req_crc(req, data_off, data_len, FTGT_CRC32C_INIT)));
		s->has_ddgst = true;
	}
}

/* Turn pending R2Ts into H2CData PDUs while send slots last. */
static void
tx_pending_r2t(struct ftgt_nvme_qpair *q)
{
	struct nvme_req *req;

	while ((req = q->r2t_head) != NULL) {
		while (req->r2t_len_bytes > 0) {
			struct nvme_tcp_tx_slot *s;
			struct nvme_tcp_data_hdr *h;
			uint32_t chunk = FTGT_MIN(req->r2t_len_bytes, q->maxh2cdata_bytes);

			s = tx_slot_get(q);
			if (s == NULL) {
				return;
			}
			h = (struct nvme_tcp_data_hdr *)s->hdr;
			memset(h, 0, sizeof(*h));
			h->ch.pdu_type = NVME_TCP_PDU_TYPE_H2C_DATA;
			h->cccid = ftgt_cpu_to_le16(req->cid);
			h->ttag = ftgt_cpu_to_le16(req->r2t_ttag);
			h->datao = ftgt_cpu_to_le32(req->r2t_off_bytes);
			h->datal = ftgt_cpu_to_le32(chunk);
			if (chunk == req->r2t_len_bytes) {
				h->ch.flags = NVME_TCP_H2C_DATA_FLAGS_LAST_PDU;
			}
			tx_slot_finish(q, s, NVME_TCP_DATA_HLEN, req, req->r2t_off_bytes, chunk);
			req->r2t_off_bytes += chunk;
			req->r2t_len_bytes -= chunk;
			req->h2c_sent_bytes += chunk;
		}
		req->r2t_pending = false;
		q->r2t_head = req->next;
		if (q->r2t_head == NULL) {
			q->r2t_tail = NULL;
		}
		req->next = NULL;
	}
}

/* Gathers the iovecs of one sendmsg(), skipping what an earlier call already sent. */
struct tx_iov_builder {
	struct iovec iov[NVME_TCP_TX_IOV_BATCH];
	int cnt;
	size_t skip;
	bool full;
};

static void
tx_add(struct tx_iov_builder *b, const void *p, size_t len)
{
	if (b->full || len == 0) {
		return;
	}
	if (b->skip >= len) {
		b->skip -= len;
		return;
	}
	if (b->cnt == NVME_TCP_TX_IOV_BATCH) {
		b->full = true;
		return;
	}
	b->iov[b->cnt].iov_base = (uint8_t *)(uintptr_t)p + b->skip;
	b->iov[b->cnt].iov_len = len - b->skip;
	b->skip = 0;
	b->cnt++;
}

static void
tx_add_slot(struct tx_iov_builder *b, struct nvme_tcp_tx_slot *s)
{
	tx_add(b, s->hdr, s->hdr_len);
	if (s->data_len > 0) {
		if (b->skip >= s->data_len) {
			b->skip -= s->data_len;
		} else if (!b->full) {
			const struct nvme_req *req = s->req;
			uint32_t i, left = s->data_len - (uint32_t)b->skip;
			size_t ioff;

			req_iov_seek(req, s->data_off + (uint32_t)b->skip, &i, &ioff);
			b->skip = 0;
			while (left > 0 && i < req->iovcnt && !b->full) {
				size_t n = FTGT_MIN(req->iov[i].iov_len - ioff, (size_t)left);

				tx_add(b, (const uint8_t *)req->iov[i].iov_base + ioff, n);
				left -= (uint32_t)n;
				ioff = 0;
				i++;
			}
		}
	}
	if (s->has_ddgst) {
		tx_add(b, &s->ddgst, sizeof(s->ddgst));
	}
}

int
nvme_tcp_qpair_flush(struct ftgt_nvme_qpair *q)
{
	struct tx_iov_builder b;
	struct msghdr msg;
	ssize_t n;

	if (nvme_qpair_is_dead(q)) {
		return -ENXIO;
	}
	if (q->state == NVME_QPAIR_SOCK_CONNECTING) {
		return 0;
	}
	tx_pending_r2t(q);
	while (q->tx_count > 0) {
		uint32_t idx = q->tx_head, left = q->tx_count;

		b.cnt = 0;
		b.skip = q->tx_off;
		b.full = false;
		while (left > 0 && !b.full) {
			tx_add_slot(&b, &q->tx_slots[idx]);
			idx = (idx + 1) % q->tx_num_slots;
			left--;
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = b.iov;
		msg.msg_iovlen = (size_t)b.cnt;
		q->stats.tx_calls++;
		n = sendmsg(q->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return 0;
			}
			if (errno == EINTR) {
				continue;
			}
			q->conn_rc = -errno;
			snprintf(q->fail_reason, sizeof(q->fail_reason),
			         "qpair %u: send failed: %s", q->qid, strerror(errno));
			nvme_tcp_qpair_fail(q, q->fail_reason);
			return -ENXIO;
		}
		/* Retire the slots the kernel took. */
		{
			size_t done = (size_t)n + q->tx_off;

			while (q->tx_count > 0) {
				struct nvme_tcp_tx_slot *s = &q->tx_slots[q->tx_head];
				size_t slen = s->hdr_len + s->data_len +
				              (s->has_ddgst ? sizeof(s->ddgst) : 0);

				if (done < slen) {
					break;
				}
				if (s->req != NULL) {
					s->req->tx_refs--;
					s->req = NULL;
				}
				done -= slen;
				q->tx_head = (q->tx_head + 1) % q->tx_num_slots;
				q->tx_count--;
			}
			q->tx_off = done;
		}
		tx_pending_r2t(q);
	}
	return 0;
}

static uint8_t
cmd_xfer(const struct nvme_cmd *cmd)
{
	if (cmd->opc == NVME_OPC_FABRIC) {
		/* Fabrics commands: direction from the fctype (Connect sends data). */
		return ((const struct nvmf_capsule_cmd *)cmd)->fctype & 0x3;
	}
	return NVME_OPC_GET_XFER(cmd->opc);
}

/* Checks that can fail without side effects. */
static int
submit_check(struct ftgt_nvme_qpair *q, const struct nvme_cmd *cmd, const struct iovec *iov,
             uint32_t iovcnt, uint32_t len_bytes)
{
	uint8_t xfer;

	if (ftgt_unlikely(q->state != NVME_QPAIR_READY && q->state != NVME_QPAIR_CONNECTING)) {
		return q->state == NVME_QPAIR_FAILED ? -ENXIO : -EAGAIN;
	}
	if (ftgt_unlikely(len_bytes > NVME_HOST_MAX_XFER_BYTES * 16)) {
		return -EINVAL;
	}
	if (len_bytes > 0) {
		uint64_t total = 0;
		uint32_t i;

		if (ftgt_unlikely(iov == NULL || iovcnt == 0 || iovcnt > FTGT_NVME_MAX_IOVCNT)) {
			return -EINVAL;
		}
		for (i = 0; i < iovcnt; i++) {
			total += iov[i].iov_len;
		}
		if (ftgt_unlikely(total < len_bytes)) {
			return -EINVAL;
		}
		xfer = cmd_xfer(cmd);
		if (xfer != NVME_OPC_XFER_HOST_TO_CTRLR && xfer != NVME_OPC_XFER_CTRLR_TO_HOST) {
			return -EINVAL;
		}
	}
	return 0;
}

/* Queue the capsule; submit_check() passed and a request and a send slot are free. */
static struct nvme_req *
submit_one(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, struct iovec *iov, uint32_t iovcnt,
           uint32_t len_bytes, uint32_t flags, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_tcp_tx_slot *s = tx_slot_get(q);
	struct nvme_req *req = q->free_reqs;
	struct nvme_tcp_cmd *pdu;
	uint32_t icd = 0;
	uint8_t xfer = cmd_xfer(cmd);

	q->free_reqs = req->next;
	req->next = NULL;
	req->active = true;
	req->cb_fn = cb_fn;
	req->cb_arg = cb_arg;
	if (len_bytes > 0 && iovcnt == 1) {
		/* Kept in the request: the caller's one-entry iovec may be on its stack. */
		req->iov1 = iov[0];
		req->iov = &req->iov1;
	} else {
		req->iov = iov;
	}
	req->iovcnt = len_bytes > 0 ? iovcnt : 0;
	req->len_bytes = len_bytes;
	req->c2h_done_bytes = 0;
	req->h2c_sent_bytes = 0;
	req->c2h_success = false;
	req->r2t_pending = false;
	req->tx_refs = 0;
	req->abort_requested = false;
	req->reset_requested = false;
	req->no_timeout = (flags & NVME_REQ_F_NO_TIMEOUT) != 0;
	req->fuse_peer = NULL;
	req->fuse_first = false;
	req->fuse_done = false;
	req->submit_ms = q->timeout_ms != 0 ? nvme_now_ms() : 0;
	req->dir = len_bytes == 0                        ? NVME_REQ_DIR_NONE
	           : xfer == NVME_OPC_XFER_HOST_TO_CTRLR ? NVME_REQ_DIR_H2C
	                                                 : NVME_REQ_DIR_C2H;
	q->outstanding++;

	pdu = (struct nvme_tcp_cmd *)s->hdr;
	memset(&pdu->ch, 0, sizeof(pdu->ch));
	pdu->ch.pdu_type = NVME_TCP_PDU_TYPE_CAPSULE_CMD;
	pdu->ccsqe = *cmd;
	pdu->ccsqe.cid = ftgt_cpu_to_le16(req->cid);
	pdu->ccsqe.flags = (uint8_t)((cmd->flags & NVME_CMD_FUSE_MASK) |
	                             (NVME_PSDT_SGL_MPTR_CONTIG << NVME_CMD_PSDT_SHIFT));
	memset(&pdu->ccsqe.dptr, 0, sizeof(pdu->ccsqe.dptr));
	if (len_bytes > 0) {
		pdu->ccsqe.dptr.length = ftgt_cpu_to_le32(len_bytes);
		if (req->dir == NVME_REQ_DIR_H2C && len_bytes <= q->icd_max_bytes) {
			/* NVMe/TCP 1.0, 3.3.4: in-capsule data, SGL data block, offset. */
			pdu->ccsqe.dptr.type = (uint8_t)((NVME_SGL_TYPE_DATA_BLOCK << 4) |
			                                 NVME_SGL_SUBTYPE_OFFSET);
			icd = len_bytes;
			req->h2c_sent_bytes = len_bytes;
		} else {
			pdu->ccsqe.dptr.type = (uint8_t)((NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4) |
			                                 NVME_SGL_SUBTYPE_TRANSPORT);
		}
	}
	tx_slot_finish(q, s, NVME_TCP_CMD_HLEN, req, 0, icd);
	return req;
}

static bool
have_room(const struct ftgt_nvme_qpair *q, uint32_t n)
{
	const struct nvme_req *r = q->free_reqs;
	uint32_t i;

	if (q->outstanding + n >= q->num_entries || q->tx_count + n > q->tx_num_slots) {
		return false;
	}
	for (i = 0; i < n; i++, r = r->next) {
		if (r == NULL) {
			return false;
		}
	}
	return true;
}

int
nvme_tcp_qpair_submitv(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, struct iovec *iov,
                       uint32_t iovcnt, uint32_t len_bytes, uint32_t flags, ftgt_nvme_cmd_cb cb_fn,
                       void *cb_arg)
{
	int rc = submit_check(q, cmd, iov, iovcnt, len_bytes);

	if (ftgt_unlikely(rc != 0)) {
		return rc;
	}
	if (ftgt_unlikely(!have_room(q, 1))) {
		return -ENOMEM;
	}
	submit_one(q, cmd, iov, iovcnt, len_bytes, flags, cb_fn, cb_arg);
	return 0;
}

int
nvme_tcp_qpair_submit(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, void *buf,
                      uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct iovec one = {.iov_base = buf, .iov_len = len_bytes};
	int rc = submit_check(q, cmd, &one, 1, len_bytes);

	if (ftgt_unlikely(rc != 0)) {
		return rc;
	}
	if (ftgt_unlikely(!have_room(q, 1))) {
		return -ENOMEM;
	}
	submit_one(q, cmd, &one, 1, len_bytes, 0, cb_fn, cb_arg);
	return 0;
}

int
nvme_tcp_qpair_submit_fused(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd1, struct iovec *iov1,
                            uint32_t iovcnt1, struct nvme_cmd *cmd2, struct iovec *iov2,
                            uint32_t iovcnt2, uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn,
                            void *cb_arg)
{
	struct nvme_req *r1, *r2;
	int rc;

	rc = submit_check(q, cmd1, iov1, iovcnt1, len_bytes);
	if (rc == 0) {
		rc = submit_check(q, cmd2, iov2, iovcnt2, len_bytes);
	}
	if (ftgt_unlikely(rc != 0)) {
		return rc;
	}
	if (ftgt_unlikely(!have_room(q, 2))) {
		return -ENOMEM;
	}
	cmd1->flags = (uint8_t)((cmd1->flags & ~NVME_CMD_FUSE_MASK) | NVME_CMD_FUSE_FIRST);
	cmd2->flags = (uint8_t)((cmd2->flags & ~NVME_CMD_FUSE_MASK) | NVME_CMD_FUSE_SECOND);
	/* Adjacent in the send ring: nothing can be queued between the two capsules. */
	r1 = submit_one(q, cmd1, iov1, iovcnt1, len_bytes, 0, cb_fn, cb_arg);
	r2 = submit_one(q, cmd2, iov2, iovcnt2, len_bytes, 0, cb_fn, cb_arg);
	r1->fuse_peer = r2;
	r1->fuse_first = true;
	r2->fuse_peer = r1;
	return 0;
}

/* ---- Receiving --------------------------------------------------------------------- */

static struct nvme_req *
rx_lookup_req(struct ftgt_nvme_qpair *q, uint16_t cid)
{
	if (cid >= q->num_entries || !q->reqs[cid].active) {
		return NULL;
	}
	return &q->reqs[cid];
}

static int
rx_capsule_resp(struct ftgt_nvme_qpair *q, const struct nvme_tcp_rsp *rsp)
{
	struct nvme_req *req = rx_lookup_req(q, ftgt_le16_to_cpu(rsp->rccqe.cid));

	if (req == NULL || req->fuse_done) {
		return fatal(q, "qpair %u: CapsuleResp for unknown cid %u", q->qid,
		             ftgt_le16_to_cpu(rsp->rccqe.cid));
	}
	if (req->r2t_pending || req->tx_refs > 0) {
		/* Its data is still to be sent: the callback could free the buffer under us. */
		return fatal(q, "qpair %u: CapsuleResp for cid %u before its data was sent", q->qid,
		             req->cid);
	}
	if (req->dir == NVME_REQ_DIR_C2H && req->c2h_done_bytes != req->len_bytes &&
	    !ftgt_nvme_cpl_is_error(&rsp->rccqe)) {
		return fatal(q, "qpair %u: read cid %u succeeded with %u of %u bytes", q->qid,
		             req->cid, req->c2h_done_bytes, req->len_bytes);
	}
	req_complete(q, req, &rsp->rccqe);
	return 0;
}

static int
rx_r2t(struct ftgt_nvme_qpair *q, const struct nvme_tcp_r2t_hdr *r2t)
{
	struct nvme_req *req = rx_lookup_req(q, ftgt_le16_to_cpu(r2t->cccid));
	uint32_t off = ftgt_le32_to_cpu(r2t->r2to), len = ftgt_le32_to_cpu(r2t->r2tl);

	if (req == NULL || req->dir != NVME_REQ_DIR_H2C || req->fuse_done) {
		return fatal(q, "qpair %u: R2T for cid %u that sends no data", q->qid,
		             ftgt_le16_to_cpu(r2t->cccid));
	}
	if (req->r2t_pending || len == 0 || off != req->h2c_sent_bytes ||
	    len > req->len_bytes - off) {
		return fatal(q, "qpair %u: R2T cid %u offset %u length %u out of range", q->qid,
		             req->cid, off, len);
	}
	req->r2t_pending = true;
	req->r2t_off_bytes = off;
	req->r2t_len_bytes = len;
	req->r2t_ttag = ftgt_le16_to_cpu(r2t->ttag);
	req->next = NULL;
	if (q->r2t_tail != NULL) {
		q->r2t_tail->next = req;
	} else {
		q->r2t_head = req;
	}
	q->r2t_tail = req;
	return 0;
}

static void
rx_c2h_finish(struct ftgt_nvme_qpair *q, struct nvme_req *req, uint8_t flags)
{
	struct nvme_cpl cpl;

	if (flags & NVME_TCP_C2H_DATA_FLAGS_SUCCESS) {
		if (req->c2h_done_bytes != req->len_bytes) {
			/* No CapsuleResp follows: the command would never end. */
			fatal(q, "qpair %u: C2HData SUCCESS for cid %u after %u of %u bytes",
			      q->qid, req->cid, req->c2h_done_bytes, req->len_bytes);
			return;
		}
		memset(&cpl, 0, sizeof(cpl));
		cpl.cid = ftgt_cpu_to_le16(req->cid);
		cpl.sqid = ftgt_cpu_to_le16(q->qid);
		req_complete(q, req, &cpl);
	}
}

/*
 * n bytes of the current C2HData payload are in: copy them from src (if not NULL, else
 * they were received in place), add them to the digest, move the cursor.
 */
static void
rx_data_advance(struct ftgt_nvme_qpair *q, const uint8_t *src, size_t n)
{
	struct nvme_req *req = q->rx_req;

	q->rx_data_left -= (uint32_t)n;
	q->rx_off += (uint32_t)n;
	while (n > 0 && q->rx_iov_idx < req->iovcnt) {
		struct iovec *v = &req->iov[q->rx_iov_idx];
		size_t k = FTGT_MIN(v->iov_len - q->rx_iov_off, n);
		uint8_t *dst = (uint8_t *)v->iov_base + q->rx_iov_off;

		if (src != NULL) {
			memcpy(dst, src, k);
			src += k;
		}
		if (q->ddgst) {
			q->rx_crc = ftgt_crc32c_update(dst, k, q->rx_crc);
		}
		n -= k;
		q->rx_iov_off += k;
		if (q->rx_iov_off == v->iov_len) {
			q->rx_iov_idx++;
			q->rx_iov_off = 0;
		}
	}
}

/* The payload of a C2HData PDU is all in: digest next, or the PDU is done. */
static void
rx_data_done(struct ftgt_nvme_qpair *q)
{
	const struct nvme_tcp_ch *ch = (const struct nvme_tcp_ch *)q->rx_hdr;

	if (ch->flags & NVME_TCP_CH_FLAGS_DDGSTF) {
		q->rx_state = NVME_TCP_RX_DDGST;
		q->rx_ddgst_have = 0;
		return;
	}
	q->rx_state = NVME_TCP_RX_CH;
	q->rx_req->c2h_done_bytes = q->rx_off;
	rx_c2h_finish(q, q->rx_req, ch->flags);
}

/* A whole header (and digest) is in rx_hdr: check it and set up the payload. */
static int
rx_header(struct ftgt_nvme_qpair *q)
{
	struct nvme_tcp_ch *ch = (struct nvme_tcp_ch *)q->rx_hdr;
	uint32_t hlen = ch->hlen, pdo = ch->pdo, plen = ftgt_le32_to_cpu(ch->plen);
	uint32_t dd = (ch->flags & NVME_TCP_CH_FLAGS_DDGSTF) ? NVME_TCP_DIGEST_LEN : 0;

	if (q->hdgst && ch->pdu_type != NVME_TCP_PDU_TYPE_IC_RESP &&
	    ch->pdu_type != NVME_TCP_PDU_TYPE_C2H_TERM_REQ) {
		ftgt_le32 want = ftgt_cpu_to_le32(
		        crc_final(ftgt_crc32c_update(q->rx_hdr, hlen, FTGT_CRC32C_INIT)));

		if (memcmp(&want, q->rx_hdr + hlen, sizeof(want)) != 0) {
			return fatal(q, "qpair %u: header digest error", q->qid);
		}
	}

	switch (ch->pdu_type) {
	case NVME_TCP_PDU_TYPE_CAPSULE_RESP:
		q->rx_state = NVME_TCP_RX_CH;
		return rx_capsule_resp(q, (const struct nvme_tcp_rsp *)q->rx_hdr);
	case NVME_TCP_PDU_TYPE_R2T:
		q->rx_state = NVME_TCP_RX_CH;
		return rx_r2t(q, (const struct nvme_tcp_r2t_hdr *)q->rx_hdr);
	case NVME_TCP_PDU_TYPE_C2H_TERM_REQ: {
		const struct nvme_tcp_term_req_hdr *t =
		        (const struct nvme_tcp_term_req_hdr *)q->rx_hdr;

		return fatal(q, "qpair %u: controller terminated the connection (FES %u)", q->qid,
		             ftgt_le16_to_cpu(t->fes));
	}
	case NVME_TCP_PDU_TYPE_IC_RESP: {
		const struct nvme_tcp_ic_resp *ic = (const struct nvme_tcp_ic_resp *)q->rx_hdr;
		uint32_t maxh2c = ftgt_le32_to_cpu(ic->maxh2cdata);

		if (q->state != NVME_QPAIR_WAIT_ICRESP) {
			return fatal(q, "qpair %u: unexpected ICResp", q->qid);
		}
		if (ftgt_le16_to_cpu(ic->pfv) != NVME_TCP_PFV_1_0 || ic->cpda > NVME_TCP_CPDA_MAX ||
		    maxh2c < 4096 || (maxh2c & 3) != 0) {
			return fatal(q, "qpair %u: bad ICResp (pfv %u cpda %u maxh2cdata %u)",
			             q->qid, ftgt_le16_to_cpu(ic->pfv), ic->cpda, maxh2c);
		}
		if (((ic->dgst & NVME_TCP_DGST_HDGST_ENABLE) && !q->hdgst) ||
		    ((ic->dgst & NVME_TCP_DGST_DDGST_ENABLE) && !q->ddgst)) {
			return fatal(q, "qpair %u: ICResp enables a digest we did not ask for",
			             q->qid);
		}
		q->hdgst = (ic->dgst & NVME_TCP_DGST_HDGST_ENABLE) != 0;
		q->ddgst = (ic->dgst & NVME_TCP_DGST_DDGST_ENABLE) != 0;
		q->cpda_bytes = (uint8_t)(ic->cpda == 0 ? 0 : (ic->cpda + 1) * 4);
		q->maxh2cdata_bytes = maxh2c;
		q->state = NVME_QPAIR_CONNECTING;
		q->rx_state = NVME_TCP_RX_CH;
		return 0;
	}
	case NVME_TCP_PDU_TYPE_C2H_DATA: {
		const struct nvme_tcp_data_hdr *d = (const struct nvme_tcp_data_hdr *)q->rx_hdr;
		struct nvme_req *req = rx_lookup_req(q, ftgt_le16_to_cpu(d->cccid));
		uint32_t off = ftgt_le32_to_cpu(d->datao), len = ftgt_le32_to_cpu(d->datal);

		if (req == NULL || req->dir != NVME_REQ_DIR_C2H || req->fuse_done) {
			return fatal(q, "qpair %u: C2HData for cid %u that reads no data", q->qid,
			             ftgt_le16_to_cpu(d->cccid));
		}
		if (len == 0 || off != req->c2h_done_bytes || len > req->len_bytes - off ||
		    plen != pdo + len + dd) {
			return fatal(q,
			             "qpair %u: C2HData cid %u offset %u length %u (plen %u) "
			             "out of range",
			             q->qid, req->cid, off, len, plen);
		}
		if ((ch->flags & NVME_TCP_C2H_DATA_FLAGS_SUCCESS) &&
		    !(ch->flags & NVME_TCP_C2H_DATA_FLAGS_LAST_PDU)) {
			return fatal(q, "qpair %u: C2HData SUCCESS without LAST_PDU", q->qid);
		}
		if (dd != 0 && !q->ddgst) {
			return fatal(q, "qpair %u: data digest flag without a negotiated digest",
			             q->qid);
		}
		if (dd == 0 && q->ddgst) {
			return fatal(q, "qpair %u: C2HData without the negotiated data digest",
			             q->qid);
		}
		q->rx_req = req;
		q->rx_off = off;
		req_iov_seek(req, off, &q->rx_iov_idx, &q->rx_iov_off);
		q->rx_data_left = len;
		q->rx_crc = FTGT_CRC32C_INIT;
		q->rx_state = NVME_TCP_RX_DATA;
		return 0;
	}
	default:
		return fatal(q, "qpair %u: unexpected PDU type 0x%02x", q->qid, ch->pdu_type);
	}
}

/* The common header is in: validate lengths and work out how much header to collect. */
static int
rx_common_header(struct ftgt_nvme_qpair *q)
{
	const struct nvme_tcp_ch *ch = (const struct nvme_tcp_ch *)q->rx_hdr;
	uint32_t hlen = ch->hlen, pdo = ch->pdo, plen = ftgt_le32_to_cpu(ch->plen);
	uint32_t hd = q->hdgst ? NVME_TCP_DIGEST_LEN : 0, want_hlen;
	bool has_data = false;

	switch (ch->pdu_type) {
	case NVME_TCP_PDU_TYPE_IC_RESP:
		want_hlen = NVME_TCP_IC_HLEN;
		hd = 0; /* no digests before ICResp is accepted */
		break;
	case NVME_TCP_PDU_TYPE_CAPSULE_RESP:
		want_hlen = NVME_TCP_RSP_HLEN;
		break;
	case NVME_TCP_PDU_TYPE_R2T:
		want_hlen = NVME_TCP_R2T_HLEN;
		break;
	case NVME_TCP_PDU_TYPE_C2H_DATA:
		want_hlen = NVME_TCP_DATA_HLEN;
		has_data = true;
		break;
	case NVME_TCP_PDU_TYPE_C2H_TERM_REQ:
		want_hlen = NVME_TCP_TERM_REQ_HLEN;
		hd = 0; /* may be sent after a digest error: trust nothing */
		if (plen < want_hlen || plen > want_hlen + NVME_TCP_TERM_REQ_ERROR_DATA_MAX) {
			return fatal(q, "qpair %u: bad C2HTermReq length %u", q->qid, plen);
		}
		break;
	default:
		return fatal(q, "qpair %u: unexpected PDU type 0x%02x", q->qid, ch->pdu_type);
	}
	if (hlen != want_hlen) {
		return fatal(q, "qpair %u: PDU type 0x%02x with hlen %u", q->qid, ch->pdu_type,
		             hlen);
	}
	if (q->state == NVME_QPAIR_WAIT_ICRESP && ch->pdu_type != NVME_TCP_PDU_TYPE_IC_RESP &&
	    ch->pdu_type != NVME_TCP_PDU_TYPE_C2H_TERM_REQ) {
		return fatal(q, "qpair %u: PDU type 0x%02x before ICResp", q->qid, ch->pdu_type);
	}
	if (q->hdgst && hd != 0 && !(ch->flags & NVME_TCP_CH_FLAGS_HDGSTF)) {
		return fatal(q, "qpair %u: header digest missing", q->qid);
	}
	if (has_data) {
		if (pdo < hlen + hd || pdo >= plen) {
			return fatal(q, "qpair %u: bad pdo %u (hlen %u plen %u)", q->qid, pdo, hlen,
			             plen);
		}
		q->rx_hdr_need = pdo;
	} else if (ch->pdu_type == NVME_TCP_PDU_TYPE_C2H_TERM_REQ) {
		q->rx_hdr_need = plen;
	} else {
		if (plen != hlen + hd) {
			return fatal(q, "qpair %u: PDU type 0x%02x with plen %u", q->qid,
			             ch->pdu_type, plen);
		}
		q->rx_hdr_need = plen;
	}
	q->rx_state = NVME_TCP_RX_HDR;
	return 0;
}

/* Parse bytes; stops early (*used < len) when the completion limit is reached. */
static int
rx_parse(struct ftgt_nvme_qpair *q, const uint8_t *p, size_t len, size_t *used)
{
	const uint8_t *start = p, *end = p + len;
	int rc = 0;

	while (p < end) {
		if (nvme_qpair_is_dead(q)) {
			rc = -ENXIO;
			break;
		}
		if (q->cpl_limit != 0 && q->stats.completions >= q->cpl_limit) {
			break;
		}
		switch (q->rx_state) {
		case NVME_TCP_RX_CH:
		case NVME_TCP_RX_HDR: {
			uint32_t need = q->rx_state == NVME_TCP_RX_CH ? sizeof(struct nvme_tcp_ch)
			                                              : q->rx_hdr_need;
			size_t n = FTGT_MIN((size_t)(need - q->rx_hdr_have), (size_t)(end - p));

			memcpy(q->rx_hdr + q->rx_hdr_have, p, n);
			q->rx_hdr_have += (uint32_t)n;
			p += n;
			if (q->rx_hdr_have < need) {
				break;
			}
			if (q->rx_state == NVME_TCP_RX_CH) {
				rc = rx_common_header(q);
				if (rc != 0) {
					goto out;
				}
				/* The whole PDU might be the common header: not for our types. */
				break;
			}
			q->rx_hdr_have = 0;
			rc = rx_header(q);
			if (rc != 0) {
				goto out;
			}
			break;
		}
		case NVME_TCP_RX_DATA: {
			size_t n = FTGT_MIN((size_t)q->rx_data_left, (size_t)(end - p));

			rx_data_advance(q, p, n);
			p += n;
			if (q->rx_data_left == 0) {
				rx_data_done(q);
			}
			break;
		}
		case NVME_TCP_RX_DDGST: {
			size_t n = FTGT_MIN((size_t)(4 - q->rx_ddgst_have), (size_t)(end - p));

			memcpy(q->rx_ddgst + q->rx_ddgst_have, p, n);
			q->rx_ddgst_have += (uint32_t)n;
			p += n;
			if (q->rx_ddgst_have == 4) {
				const struct nvme_tcp_ch *ch =
				        (const struct nvme_tcp_ch *)q->rx_hdr;
				ftgt_le32 want = ftgt_cpu_to_le32(crc_final(q->rx_crc));

				if (memcmp(&want, q->rx_ddgst, 4) != 0) {
					rc = fatal(q, "qpair %u: data digest error (cid %u)",
					           q->qid, q->rx_req->cid);
					goto out;
				}
				q->rx_state = NVME_TCP_RX_CH;
				q->rx_req->c2h_done_bytes = q->rx_off;
				rx_c2h_finish(q, q->rx_req, ch->flags);
			}
			break;
		}
		default:
			rc = fatal(q, "qpair %u: bad receive state", q->qid);
			goto out;
		}
	}
out:
	*used = (size_t)(p - start);
	return rc;
}

int
nvme_tcp_qpair_rx_bytes(struct ftgt_nvme_qpair *q, const uint8_t *p, size_t len)
{
	size_t used;

	return rx_parse(q, p, len, &used);
}

/* Parse n bytes at rx_buf + off; keep what the completion limit left for the next call. */
static int
rx_parse_buf(struct ftgt_nvme_qpair *q, uint32_t off, size_t n)
{
	size_t used = 0;
	int rc = rx_parse(q, q->rx_buf + off, n, &used);

	if (rc == 0 && used < n) {
		q->rx_left_off = off + (uint32_t)used;
		q->rx_left_len = (uint32_t)(n - used);
	} else {
		q->rx_left_len = 0;
	}
	return rc;
}

/* One recv() of as much as is there; big payloads go straight to the caller's buffers. */
static int
rx_poll(struct ftgt_nvme_qpair *q)
{
	ssize_t n;

	if (q->rx_state == NVME_TCP_RX_DATA && q->rx_data_left >= NVME_TCP_RX_BUF_BYTES / 4) {
		struct iovec iov[NVME_TCP_RX_IOV_MAX + 1];
		struct msghdr msg = {.msg_iov = iov};
		struct nvme_req *req = q->rx_req;
		uint32_t i = q->rx_iov_idx, left = q->rx_data_left;
		size_t ioff = q->rx_iov_off, direct_max = 0;
		int cnt = 0;

		while (left > 0 && i < req->iovcnt && cnt < NVME_TCP_RX_IOV_MAX) {
			size_t k = FTGT_MIN(req->iov[i].iov_len - ioff, (size_t)left);

			if (k > 0) {
				iov[cnt].iov_base = (uint8_t *)req->iov[i].iov_base + ioff;
				iov[cnt].iov_len = k;
				cnt++;
			}
			direct_max += k;
			left -= (uint32_t)k;
			ioff = 0;
			i++;
		}
		iov[cnt].iov_base = q->rx_buf;
		iov[cnt].iov_len = NVME_TCP_RX_BUF_BYTES;
		msg.msg_iovlen = (size_t)cnt + 1;
		q->stats.rx_calls++;
		n = recvmsg(q->fd, &msg, MSG_DONTWAIT);
		if (n > 0) {
			size_t direct = FTGT_MIN((size_t)n, direct_max);

			/* Digest and bookkeeping as if fed through the parser. */
			rx_data_advance(q, NULL, direct);
			if (q->rx_data_left == 0) {
				rx_data_done(q);
			}
			return rx_parse_buf(q, 0, (size_t)n - direct);
		}
	} else {
		q->stats.rx_calls++;
		n = recv(q->fd, q->rx_buf, NVME_TCP_RX_BUF_BYTES, MSG_DONTWAIT);
		if (n > 0) {
			return rx_parse_buf(q, 0, (size_t)n);
		}
	}
	if (n == 0) {
		fatal(q, "qpair %u: connection closed by the controller", q->qid);
		q->conn_rc = -ECONNRESET;
		return -EPROTO;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		return 0;
	}
	{
		int e = errno;

		fatal(q, "qpair %u: receive failed: %s", q->qid, strerror(e));
		q->conn_rc = -e;
	}
	return -EPROTO;
}

/*
 * A command past the timeout: the first time, ask for an Abort (sent on the admin queue:
 * directly for admin commands, through abort_cid_plus1 for I/O qpairs); if it is still
 * outstanding one more timeout later, ask for a controller reset (automatic reconnect)
 * or fail the queue pair (the caller reconnects).
 */
static void
check_timeouts(struct ftgt_nvme_qpair *q)
{
	uint64_t now = nvme_now_ms();
	uint32_t i;

	if (now - q->last_timeout_check_ms < 100) {
		return;
	}
	q->last_timeout_check_ms = now;
	for (i = 0; i < q->num_entries; i++) {
		struct nvme_req *req = &q->reqs[i];

		/* submit_ms may be after now: a command queued by this loop (an Abort). */
		if (!req->active || req->no_timeout || req->fuse_done ||
		    req->submit_ms + q->timeout_ms >= now) {
			continue;
		}
		if (req->abort_requested) {
			if (req->abort_ms + q->timeout_ms >= now || req->reset_requested) {
				continue;
			}
			if (nvme_ctrlr_reconnect_enabled(q->ctrlr)) {
				FTGT_WARNLOG(
				        "qpair %u: command cid %u timed out after %u ms, Abort "
				        "did not help: resetting the controller\n",
				        q->qid, req->cid, (unsigned)(now - req->submit_ms));
				req->reset_requested = true;
				/* Taken by the admin thread (ctrlr.c), like a call to reset. */
				nvme_ctrlr_request_reset(
				        q->ctrlr, q->qid == 0 ? __atomic_load_n(&q->ctrlr->gen,
				                                                __ATOMIC_RELAXED)
				                              : q->gen);
				continue;
			}
			fatal(q,
			      "qpair %u: command cid %u timed out after %u ms, Abort did not help",
			      q->qid, req->cid, (unsigned)(now - req->submit_ms));
			return;
		}
		FTGT_WARNLOG("qpair %u: command cid %u timed out after %u ms, aborting it\n",
		             q->qid, req->cid, q->timeout_ms);
		req->abort_requested = true;
		req->abort_ms = now;
		if (q->qid == 0) {
			struct nvme_cmd abort_cmd;

			memset(&abort_cmd, 0, sizeof(abort_cmd));
			abort_cmd.opc = NVME_OPC_ABORT;
			abort_cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)req->cid << 16);
			nvme_tcp_qpair_submit(q, &abort_cmd, NULL, 0, NULL, NULL);
		} else if (q->ctrlr != NULL &&
		           __atomic_load_n(&q->abort_cid_plus1, __ATOMIC_RELAXED) == 0) {
			/* Pairs with the acquire exchange in nvme_ctrlr_send_aborts(). */
			__atomic_store_n(&q->abort_cid_plus1,
			                 ((uint64_t)q->gen << 32) | ((uint32_t)req->cid + 1),
			                 __ATOMIC_RELEASE);
			__atomic_fetch_add(&q->ctrlr->aborts_pending, 1, __ATOMIC_RELEASE);
		}
	}
}

static void conn_fail(struct ftgt_nvme_qpair *q, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A connect step failed: q->conn_rc = rc, q->fail_reason = the sentence. */
static void
conn_fail(struct ftgt_nvme_qpair *q, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->fail_reason, sizeof(q->fail_reason), fmt, ap);
	va_end(ap);
	nvme_tcp_qpair_fail(q, q->fail_reason);
	q->conn_rc = rc;
}

static const char *
trid_addr(const struct ftgt_nvme_qpair *q)
{
	return q->ctrlr != NULL ? q->ctrlr->trid.traddr : "?";
}

static const char *
trid_port(const struct ftgt_nvme_qpair *q)
{
	return q->ctrlr != NULL ? q->ctrlr->trid.trsvcid : "?";
}

static void
queue_icreq(struct ftgt_nvme_qpair *q)
{
	struct nvme_tcp_tx_slot *s;
	struct nvme_tcp_ic_req *ic;

	/* ICReq (NVMe/TCP 1.0, 3.6.2.2): header digest never applies to IC PDUs. */
	s = tx_slot_get(q);
	ic = (struct nvme_tcp_ic_req *)s->hdr;
	memset(ic, 0, sizeof(*ic));
	ic->ch.pdu_type = NVME_TCP_PDU_TYPE_IC_REQ;
	ic->ch.hlen = NVME_TCP_IC_HLEN;
	ic->ch.plen = ftgt_cpu_to_le32(NVME_TCP_IC_HLEN);
	ic->pfv = ftgt_cpu_to_le16(NVME_TCP_PFV_1_0);
	ic->hpda = 0;
	ic->dgst = (uint8_t)((q->hdgst ? NVME_TCP_DGST_HDGST_ENABLE : 0) |
	                     (q->ddgst ? NVME_TCP_DGST_DDGST_ENABLE : 0));
	ic->maxr2t = 0;
	s->hdr_len = NVME_TCP_IC_HLEN;
	q->state = NVME_QPAIR_WAIT_ICRESP;
}

/* Connect progress; false if the qpair is not (or no longer) connecting. */
static void
connect_poll(struct ftgt_nvme_qpair *q)
{
	uint64_t now = nvme_now_ms();

	if (q->state == NVME_QPAIR_SOCK_CONNECTING) {
		struct pollfd pfd = {.fd = q->fd, .events = POLLOUT};

		if (poll(&pfd, 1, 0) > 0) {
			int soerr = 0;
			socklen_t elen = sizeof(soerr);

			getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen);
			if (soerr != 0) {
				conn_fail(q, -soerr, "cannot connect to %s port %s: %s",
				          trid_addr(q), trid_port(q), strerror(soerr));
				return;
			}
			queue_icreq(q);
			return;
		}
	}
	if (q->connect_deadline_ms == 0 || now < q->connect_deadline_ms) {
		return;
	}
	switch (q->state) {
	case NVME_QPAIR_SOCK_CONNECTING:
		conn_fail(q, -ETIMEDOUT, "cannot connect to %s port %s: timed out", trid_addr(q),
		          trid_port(q));
		break;
	case NVME_QPAIR_WAIT_ICRESP:
		conn_fail(q, -ETIMEDOUT, "%s port %s: no ICResp (is it an NVMe/TCP target?)",
		          trid_addr(q), trid_port(q));
		break;
	case NVME_QPAIR_CONNECTING:
		conn_fail(q, -ETIMEDOUT, "no response to Fabrics Connect (queue %u)", q->qid);
		break;
	default:
		break;
	}
}

int
nvme_tcp_qpair_process(struct ftgt_nvme_qpair *q, uint32_t max_completions)
{
	uint64_t before = q->stats.completions;
	int rc;

	if (nvme_qpair_is_dead(q)) {
		return -ENXIO;
	}
	if (ftgt_unlikely(q->state != NVME_QPAIR_READY)) {
		connect_poll(q);
		if (nvme_qpair_is_dead(q) || q->state == NVME_QPAIR_SOCK_CONNECTING) {
			return nvme_qpair_is_dead(q) ? -ENXIO : 0;
		}
	}
	q->cpl_limit = max_completions != 0 ? before + max_completions : 0;
	rc = nvme_tcp_qpair_flush(q);
	if (rc == 0 && q->rx_left_len > 0) {
		/* What the limit left last time first, then more if the limit allows. */
		rc = rx_parse_buf(q, q->rx_left_off, q->rx_left_len);
	}
	if (rc == 0 && q->rx_left_len == 0 &&
	    (q->cpl_limit == 0 || q->stats.completions < q->cpl_limit)) {
		rc = rx_poll(q);
	}
	q->cpl_limit = 0;
	if (rc == 0 && (q->tx_count > 0 || q->r2t_head != NULL)) {
		rc = nvme_tcp_qpair_flush(q);
	}
	if (rc == 0 && q->timeout_ms != 0 && q->outstanding > 0) {
		check_timeouts(q);
	}
	if (nvme_qpair_is_dead(q)) {
		return -ENXIO;
	}
	return (int)(q->stats.completions - before);
}

void
nvme_qpair_sleep(struct ftgt_nvme_qpair *q, uint32_t timeout_ms)
{
	struct pollfd pfd;

	if (q->fd < 0 || nvme_qpair_is_dead(q)) {
		usleep(timeout_ms * 1000);
		return;
	}
	pfd.fd = q->fd;
	pfd.events = q->state == NVME_QPAIR_SOCK_CONNECTING
	                     ? POLLOUT
	                     : POLLIN | (q->tx_count > 0 ? POLLOUT : 0);
	pfd.revents = 0;
	poll(&pfd, 1, (int)timeout_ms);
}

int
nvme_qpair_wait(struct ftgt_nvme_qpair *q, const bool *done, uint64_t deadline_ms)
{
	int rc;

	while (!*done) {
		uint64_t now = nvme_now_ms();

		rc = nvme_tcp_qpair_process(q, 0);
		if (*done) {
			break;
		}
		if (rc < 0) {
			return -ENXIO;
		}
		if (now >= deadline_ms) {
			return -ETIMEDOUT;
		}
		nvme_qpair_sleep(q, (uint32_t)FTGT_MIN(deadline_ms - now, 10));
	}
	return 0;
}

int
nvme_tcp_qpair_start_connect(struct ftgt_nvme_qpair *q, const struct ftgt_nvme_transport_id *trid,
                             uint64_t deadline_ms)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1, rc;

	if (q->fd >= 0) {
		close(q->fd);
		q->fd = -1;
	}
	/* Nothing is outstanding here (the old connection ended them all). */
	q->tx_head = q->tx_tail = q->tx_count = 0;
	q->tx_off = 0;
	q->r2t_head = q->r2t_tail = NULL;
	q->rx_state = NVME_TCP_RX_CH;
	q->rx_hdr_have = 0;
	q->rx_left_len = 0;
	q->rx_req = NULL;
	q->cpda_bytes = 0;
	q->maxh2cdata_bytes = 4096;
	q->icd_max_bytes = 0;
	q->connect_sent = false;
	q->conn_rc = 0;
	q->fail_reason[0] = '\0';
	q->connect_deadline_ms = deadline_ms;
	q->timeout_ms = 0; /* the connect deadline covers the connect */
	if (q->ctrlr != NULL) {
		q->hdgst = q->ctrlr->opts.header_digest;
		q->ddgst = q->ctrlr->opts.data_digest;
	}
	q->state = NVME_QPAIR_SOCK_CONNECTING;

	rc = ftgt_parse_ip_port(trid->traddr, trid->trsvcid,
	                        trid->adrfam == NVMF_ADRFAM_IPV6 ? AF_INET6 : AF_INET, &ss, &sslen);
	if (rc != 0) {
		conn_fail(q, -EINVAL, "bad address %s port %s", trid->traddr, trid->trsvcid);
		return -EINVAL;
	}
	q->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0) {
		rc = -errno;
		conn_fail(q, rc, "socket: %s", strerror(-rc));
		return rc;
	}
	setsockopt(q->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(q->fd, (struct sockaddr *)&ss, sslen) != 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			conn_fail(q, rc, "cannot connect to %s port %s: %s", trid->traddr,
			          trid->trsvcid, strerror(-rc));
			return rc;
		}
		return 0;
	}
	queue_icreq(q);
	return 0;
}
