/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Host side of NVMe/TCP (NVMe/TCP Transport Specification 1.0): one TCP connection per
 * queue pair, a send ring of PDUs flushed with one sendmsg() per poll, and a streaming
 * receive parser fed by one recv() of many PDUs (large C2HData payloads are received
 * straight into the caller's buffer).
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
	q->reqs = calloc(num_entries, sizeof(*q->reqs));
	/* A capsule per command plus H2CData PDUs for R2Ts; more is deferred. */
	q->tx_num_slots = num_entries * 2 + 16;
	q->tx_slots = calloc(q->tx_num_slots, sizeof(*q->tx_slots));
	q->rx_buf = malloc(NVME_TCP_RX_BUF_BYTES);
	if (q->reqs == NULL || q->tx_slots == NULL || q->rx_buf == NULL) {
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
	if (q->state != NVME_QPAIR_FAILED && q->reqs != NULL) {
		nvme_tcp_qpair_fail(q, "queue pair closed");
	}
	if (q->fd >= 0) {
		close(q->fd);
	}
	free(q->reqs);
	free(q->tx_slots);
	free(q->rx_buf);
	free(q);
}

static void
req_complete(struct ftgt_nvme_qpair *q, struct nvme_req *req, const struct nvme_cpl *cpl)
{
	ftgt_nvme_cmd_cb cb_fn = req->cb_fn;
	void *cb_arg = req->cb_arg;

	req->active = false;
	req->next = q->free_reqs;
	q->free_reqs = req;
	q->outstanding--;
	q->stats.completions++;
	if (cb_fn != NULL) {
		cb_fn(cb_arg, cpl);
	}
}

void
nvme_tcp_qpair_fail(struct ftgt_nvme_qpair *q, const char *reason)
{
	struct nvme_cpl cpl;
	uint32_t i;

	if (q->state == NVME_QPAIR_FAILED) {
		return;
	}
	q->state = NVME_QPAIR_FAILED;
	if (q->fail_reason[0] == '\0') {
		ftgt_strlcpy(q->fail_reason, reason, sizeof(q->fail_reason));
	}
	FTGT_DEBUGLOG(nvme_tcp, "qpair %u: failed: %s\n", q->qid, reason);
	if (q->fd >= 0) {
		shutdown(q->fd, SHUT_RDWR);
	}
	q->tx_head = q->tx_tail = q->tx_count = 0;
	q->tx_off = 0;
	q->r2t_head = q->r2t_tail = NULL;
	for (i = 0; i < q->num_entries; i++) {
		struct nvme_req *req = &q->reqs[i];

		if (!req->active) {
			continue;
		}
		memset(&cpl, 0, sizeof(cpl));
		cpl.cid = ftgt_cpu_to_le16(req->cid);
		cpl.sqid = ftgt_cpu_to_le16(q->qid);
		cpl.status = ftgt_cpu_to_le16(
		        NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION) |
		        NVME_STATUS_DNR);
		req_complete(q, req, &cpl);
	}
}

static int fatal(struct ftgt_nvme_qpair *q, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
fatal(struct ftgt_nvme_qpair *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->fail_reason, sizeof(q->fail_reason), fmt, ap);
	va_end(ap);
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
	s->data = NULL;
	s->data_len = 0;
	s->has_ddgst = false;
	return s;
}

/*
 * Fill a slot's header: the PDU header of hlen bytes is already in s->hdr. Adds the
 * header digest, padding up to the data offset, and the data with its digest.
 */
static void
tx_slot_finish(struct ftgt_nvme_qpair *q, struct nvme_tcp_tx_slot *s, uint32_t hlen,
               const uint8_t *data, uint32_t data_len)
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
	s->data = data;
	s->data_len = data_len;
	if (data_len > 0 && q->ddgst) {
		s->ddgst = ftgt_cpu_to_le32(
		        crc_final(ftgt_crc32c_update(data, data_len, FTGT_CRC32C_INIT)));
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
			tx_slot_finish(q, s, NVME_TCP_DATA_HLEN, req->buf + req->r2t_off_bytes,
			               chunk);
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

int
nvme_tcp_qpair_flush(struct ftgt_nvme_qpair *q)
{
	struct iovec iov[NVME_TCP_TX_IOV_BATCH];
	struct msghdr msg;
	ssize_t n;

	if (q->state == NVME_QPAIR_FAILED) {
		return -ENXIO;
	}
	tx_pending_r2t(q);
	while (q->tx_count > 0) {
		uint32_t idx = q->tx_head, left = q->tx_count;
		size_t skip = q->tx_off;
		int cnt = 0;

		while (left > 0 && cnt + 3 <= NVME_TCP_TX_IOV_BATCH) {
			struct nvme_tcp_tx_slot *s = &q->tx_slots[idx];
			struct {
				const void *p;
				size_t len;
			} parts[3] = {
			        {s->hdr, s->hdr_len},
			        {s->data, s->data_len},
			        {&s->ddgst, s->has_ddgst ? sizeof(s->ddgst) : 0},
			};
			int k;

			for (k = 0; k < 3; k++) {
				if (parts[k].len == 0) {
					continue;
				}
				if (skip >= parts[k].len) {
					skip -= parts[k].len;
					continue;
				}
				iov[cnt].iov_base = (uint8_t *)(uintptr_t)parts[k].p + skip;
				iov[cnt].iov_len = parts[k].len - skip;
				skip = 0;
				cnt++;
			}
			idx = (idx + 1) % q->tx_num_slots;
			left--;
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)cnt;
		q->stats.tx_calls++;
		n = sendmsg(q->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return 0;
			}
			if (errno == EINTR) {
				continue;
			}
			fatal(q, "send failed: %s", strerror(errno));
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

int
nvme_tcp_qpair_submit(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, void *buf,
                      uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_tcp_tx_slot *s;
	struct nvme_tcp_cmd *pdu;
	struct nvme_req *req;
	uint32_t icd = 0;
	uint8_t xfer;

	if (ftgt_unlikely(q->state == NVME_QPAIR_FAILED)) {
		return -ENXIO;
	}
	if (ftgt_unlikely(len_bytes > NVME_HOST_MAX_XFER_BYTES * 16)) {
		return -EINVAL;
	}
	req = q->free_reqs;
	if (ftgt_unlikely(req == NULL || q->outstanding + 1 >= q->num_entries ||
	                  q->tx_count == q->tx_num_slots)) {
		return -ENOMEM;
	}
	xfer = NVME_OPC_GET_XFER(cmd->opc);
	if (cmd->opc == NVME_OPC_FABRIC) {
		/* Fabrics commands: direction from the fctype (Connect sends data). */
		xfer = ((const struct nvmf_capsule_cmd *)cmd)->fctype & 0x3;
	}
	if (len_bytes > 0 && xfer != NVME_OPC_XFER_HOST_TO_CTRLR &&
	    xfer != NVME_OPC_XFER_CTRLR_TO_HOST) {
		return -EINVAL;
	}
	s = tx_slot_get(q);
	if (ftgt_unlikely(s == NULL)) {
		return -ENOMEM;
	}
	q->free_reqs = req->next;
	req->next = NULL;
	req->active = true;
	req->cb_fn = cb_fn;
	req->cb_arg = cb_arg;
	req->buf = buf;
	req->len_bytes = len_bytes;
	req->c2h_done_bytes = 0;
	req->h2c_sent_bytes = 0;
	req->c2h_success = false;
	req->r2t_pending = false;
	req->abort_requested = false;
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
	tx_slot_finish(q, s, NVME_TCP_CMD_HLEN, icd > 0 ? buf : NULL, icd);
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

	if (req == NULL) {
		return fatal(q, "qpair %u: CapsuleResp for unknown cid %u", q->qid,
		             ftgt_le16_to_cpu(rsp->rccqe.cid));
	}
	if (req->r2t_pending) {
		return fatal(q, "qpair %u: CapsuleResp for cid %u while its R2T is pending", q->qid,
		             req->cid);
	}
	req_complete(q, req, &rsp->rccqe);
	return 0;
}

static int
rx_r2t(struct ftgt_nvme_qpair *q, const struct nvme_tcp_r2t_hdr *r2t)
{
	struct nvme_req *req = rx_lookup_req(q, ftgt_le16_to_cpu(r2t->cccid));
	uint32_t off = ftgt_le32_to_cpu(r2t->r2to), len = ftgt_le32_to_cpu(r2t->r2tl);

	if (req == NULL || req->dir != NVME_REQ_DIR_H2C) {
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

	if ((flags & NVME_TCP_C2H_DATA_FLAGS_SUCCESS) && req->c2h_done_bytes == req->len_bytes) {
		memset(&cpl, 0, sizeof(cpl));
		cpl.cid = ftgt_cpu_to_le16(req->cid);
		cpl.sqid = ftgt_cpu_to_le16(q->qid);
		req_complete(q, req, &cpl);
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
	q->rx_req->c2h_done_bytes = (uint32_t)(q->rx_dst - q->rx_req->buf);
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

		if (req == NULL || req->dir != NVME_REQ_DIR_C2H) {
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
		q->rx_req = req;
		q->rx_dst = req->buf + off;
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

int
nvme_tcp_qpair_rx_bytes(struct ftgt_nvme_qpair *q, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	int rc;

	while (p < end) {
		if (q->state == NVME_QPAIR_FAILED) {
			return -ENXIO;
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
					return rc;
				}
				/* The whole PDU might be the common header: not for our types. */
				break;
			}
			q->rx_hdr_have = 0;
			rc = rx_header(q);
			if (rc != 0) {
				return rc;
			}
			break;
		}
		case NVME_TCP_RX_DATA: {
			size_t n = FTGT_MIN((size_t)q->rx_data_left, (size_t)(end - p));

			memcpy(q->rx_dst, p, n);
			if (q->ddgst) {
				q->rx_crc = ftgt_crc32c_update(p, n, q->rx_crc);
			}
			q->rx_dst += n;
			q->rx_data_left -= (uint32_t)n;
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
					return fatal(q, "qpair %u: data digest error (cid %u)",
					             q->qid, q->rx_req->cid);
				}
				q->rx_state = NVME_TCP_RX_CH;
				q->rx_req->c2h_done_bytes = (uint32_t)(q->rx_dst - q->rx_req->buf);
				rx_c2h_finish(q, q->rx_req, ch->flags);
			}
			break;
		}
		default:
			return fatal(q, "qpair %u: bad receive state", q->qid);
		}
	}
	return 0;
}

/* One recv() of as much as is there; big payloads go straight to the caller's buffer. */
static int
rx_poll(struct ftgt_nvme_qpair *q)
{
	ssize_t n;

	if (q->rx_state == NVME_TCP_RX_DATA && q->rx_data_left >= NVME_TCP_RX_BUF_BYTES / 4) {
		struct iovec iov[2] = {
		        {q->rx_dst, q->rx_data_left},
		        {q->rx_buf, NVME_TCP_RX_BUF_BYTES},
		};
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

		q->stats.rx_calls++;
		n = recvmsg(q->fd, &msg, MSG_DONTWAIT);
		if (n > 0) {
			size_t direct = FTGT_MIN((size_t)n, (size_t)q->rx_data_left);
			/* Digest and bookkeeping as if fed through the parser. */
			if (q->ddgst) {
				q->rx_crc = ftgt_crc32c_update(q->rx_dst, direct, q->rx_crc);
			}
			q->rx_dst += direct;
			q->rx_data_left -= (uint32_t)direct;
			if (q->rx_data_left == 0) {
				rx_data_done(q);
			}
			return nvme_tcp_qpair_rx_bytes(q, q->rx_buf, (size_t)n - direct);
		}
	} else {
		q->stats.rx_calls++;
		n = recv(q->fd, q->rx_buf, NVME_TCP_RX_BUF_BYTES, MSG_DONTWAIT);
		if (n > 0) {
			return nvme_tcp_qpair_rx_bytes(q, q->rx_buf, (size_t)n);
		}
	}
	if (n == 0) {
		return fatal(q, "qpair %u: connection closed by the controller", q->qid);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		return 0;
	}
	return fatal(q, "qpair %u: receive failed: %s", q->qid, strerror(errno));
}

/*
 * A command past the timeout: the first time, ask for an Abort (sent on the admin queue:
 * directly for admin commands, through abort_cid_plus1 for I/O qpairs); if it is still
 * outstanding one more timeout later, fail the queue pair (the caller reconnects).
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

		if (!req->active || now - req->submit_ms <= q->timeout_ms) {
			continue;
		}
		if (req->abort_requested) {
			if (now - req->abort_ms > q->timeout_ms) {
				fatal(q,
				      "qpair %u: command cid %u timed out after %u ms, Abort did "
				      "not help",
				      q->qid, req->cid, (unsigned)(now - req->submit_ms));
				return;
			}
			continue;
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
			__atomic_store_n(&q->abort_cid_plus1, (uint32_t)req->cid + 1,
			                 __ATOMIC_RELEASE);
			__atomic_fetch_add(&q->ctrlr->aborts_pending, 1, __ATOMIC_RELEASE);
		}
	}
}

int
nvme_tcp_qpair_process(struct ftgt_nvme_qpair *q, uint32_t max_completions)
{
	uint64_t before = q->stats.completions;
	int rc;

	(void)max_completions;
	if (q->state == NVME_QPAIR_FAILED) {
		return -ENXIO;
	}
	rc = nvme_tcp_qpair_flush(q);
	if (rc == 0) {
		rc = rx_poll(q);
	}
	if (rc == 0 && (q->tx_count > 0 || q->r2t_head != NULL)) {
		rc = nvme_tcp_qpair_flush(q);
	}
	if (rc == 0 && q->timeout_ms != 0 && q->outstanding > 0) {
		check_timeouts(q);
	}
	if (q->state == NVME_QPAIR_FAILED) {
		return -ENXIO;
	}
	return (int)(q->stats.completions - before);
}

int
nvme_qpair_wait(struct ftgt_nvme_qpair *q, const bool *done, uint64_t deadline_ms)
{
	struct pollfd pfd;
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
		pfd.fd = q->fd;
		pfd.events = POLLIN | (q->tx_count > 0 ? POLLOUT : 0);
		pfd.revents = 0;
		poll(&pfd, 1, (int)FTGT_MIN(deadline_ms - now, 10));
	}
	return 0;
}

static bool
ic_done(struct ftgt_nvme_qpair *q)
{
	return q->state != NVME_QPAIR_WAIT_ICRESP;
}

int
nvme_tcp_qpair_connect_socket(struct ftgt_nvme_qpair *q, const struct ftgt_nvme_transport_id *trid,
                              uint64_t deadline_ms, char *err, size_t err_len)
{
	struct nvme_tcp_tx_slot *s;
	struct nvme_tcp_ic_req *ic;
	struct sockaddr_storage ss;
	socklen_t sslen, elen;
	struct pollfd pfd;
	int one = 1, soerr = 0, rc;
	bool done = false;

	rc = ftgt_parse_ip_port(trid->traddr, trid->trsvcid,
	                        trid->adrfam == NVMF_ADRFAM_IPV6 ? AF_INET6 : AF_INET, &ss, &sslen);
	if (rc != 0) {
		snprintf(err, err_len, "bad address %s port %s", trid->traddr, trid->trsvcid);
		return -EINVAL;
	}
	q->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return rc;
	}
	setsockopt(q->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(q->fd, (struct sockaddr *)&ss, sslen) != 0 && errno != EINPROGRESS) {
		rc = -errno;
		snprintf(err, err_len, "cannot connect to %s port %s: %s", trid->traddr,
		         trid->trsvcid, strerror(errno));
		return rc;
	}
	for (;;) {
		uint64_t now = nvme_now_ms();

		if (now >= deadline_ms) {
			snprintf(err, err_len, "cannot connect to %s port %s: timed out",
			         trid->traddr, trid->trsvcid);
			return -ETIMEDOUT;
		}
		pfd.fd = q->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)FTGT_MIN(deadline_ms - now, 100));
		if (rc > 0) {
			break;
		}
	}
	elen = sizeof(soerr);
	getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen);
	if (soerr != 0) {
		snprintf(err, err_len, "cannot connect to %s port %s: %s", trid->traddr,
		         trid->trsvcid, strerror(soerr));
		return -soerr;
	}

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
	while (!done) {
		uint64_t now = nvme_now_ms();

		rc = nvme_tcp_qpair_process(q, 0);
		done = ic_done(q);
		if (rc < 0 || q->state == NVME_QPAIR_FAILED) {
			snprintf(err, err_len, "%s port %s: %s", trid->traddr, trid->trsvcid,
			         q->fail_reason);
			return -EPROTO;
		}
		if (done) {
			break;
		}
		if (now >= deadline_ms) {
			snprintf(err, err_len, "%s port %s: no ICResp (is it an NVMe/TCP target?)",
			         trid->traddr, trid->trsvcid);
			return -ETIMEDOUT;
		}
		pfd.fd = q->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		poll(&pfd, 1, (int)FTGT_MIN(deadline_ms - now, 10));
	}
	return 0;
}
