/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One NVMe/TCP connection: receive PDUs (tcp_pdu.c parses), turn capsules into requests
 * (SGL, in-capsule data, R2T/H2CData), hand them to the nvmf core, and queue the
 * C2HData/CapsuleResp PDUs that the poll group flushes with vectored sends.
 *
 * Runs on the poll group's thread only. Requests are pre-allocated per queue entry; a
 * data buffer is allocated once per request slot, on its first use, and kept. In-capsule
 * data whole in a receive buffer is used in place (struct nvmf_tcp_rx_chunk); the rest of
 * a large PDU's data is received straight into the request's buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "tcp_internal.h"

FTGT_LOG_REGISTER_COMPONENT(nvmf_tcp)

#define TQ(q) FTGT_CONTAINEROF(q, struct nvmf_tcp_qpair, qpair)
#define TR(r) FTGT_CONTAINEROF(r, struct nvmf_tcp_req, req)

static struct nvmf_tcp_transport *
tq_transport(struct nvmf_tcp_qpair *tq)
{
	return FTGT_CONTAINEROF(tq->qpair.transport, struct nvmf_tcp_transport, base);
}

/*
 * In-capsule data accepted. Linux sizes admin capsules at 64 + 8 KiB whatever IOCCSZ says
 * (NVME_TCP_ADMIN_CCSZ), and the parser must accept a capsule before it knows the queue,
 * so never less than 8 KiB.
 */
static uint32_t
nvmf_tcp_max_icd(struct nvmf_tcp_transport *tt)
{
	return FTGT_MAX(tt->base.opts.in_capsule_data_size, (uint32_t)NVME_TCP_ADMIN_ICD_BYTES);
}

static void
req_release(struct nvmf_tcp_qpair *tq, struct nvmf_tcp_req *tr)
{
	if (tr->chunk != NULL) {
		tr->chunk->refs--;
		tr->chunk = NULL;
	}
	tr->state = NVMF_TCP_REQ_FREE;
	TAILQ_INSERT_TAIL(&tq->free_reqs, tr, link);
}

void
nvmf_tcp_qpair_disconnect(struct ftgt_nvmf_qpair *qpair)
{
	struct nvmf_tcp_qpair *tq = TQ(qpair);

	if (!tq->disconnecting) {
		tq->disconnecting = true;
		tq->pg->num_to_reap++;
		/* The poll group's lists drop tq at their next pass (they may be iterating). */
		if (tq->in_epoll) {
			epoll_ctl(tq->pg->epfd, EPOLL_CTL_DEL, tq->fd, NULL);
			tq->in_epoll = false;
		}
		shutdown(tq->fd, SHUT_RDWR);
	}
}

static void
tx_queue(struct nvmf_tcp_qpair *tq, struct nvmf_tcp_tx *tx)
{
	TAILQ_INSERT_TAIL(&tq->txq, tx, link);
	tq->pdus_out++;
	if (!tq->on_flushq) {
		tq->on_flushq = true;
		TAILQ_INSERT_TAIL(&tq->pg->flushq, tq, flush_link);
	}
}

/* Header (with its digest when negotiated) as the first iovec of tx. */
static void
tx_set_hdr(struct nvmf_tcp_qpair *tq, struct nvmf_tcp_tx *tx, uint32_t hlen, bool hdgst)
{
	uint32_t len = hlen;

	if (hdgst) {
		nvmf_tcp_hdgst_set(tx->hdr, hlen);
		len += NVME_TCP_DIGEST_LEN;
	}
	tx->iov[0].iov_base = tx->hdr;
	tx->iov[0].iov_len = len;
	tx->iovcnt = 1;
	tx->req_done = NULL;
	tx->close_after = false;
}

/* Send what is queued, as far as the socket takes it. Returns bytes sent or -errno. */
static long
tx_flush(struct nvmf_tcp_qpair *tq)
{
	struct iovec iov[NVMF_TCP_SENDMSG_IOV];
	struct msghdr msg = {0};
	struct nvmf_tcp_tx *tx;
	size_t skip = tq->tx_off, want;
	int n = 0, i;
	ssize_t rc;
	long total = 0;

	while (!TAILQ_EMPTY(&tq->txq)) {
		n = 0;
		want = 0;
		skip = tq->tx_off;
		TAILQ_FOREACH (tx, &tq->txq, link) {
			for (i = 0; i < tx->iovcnt && n < (int)FTGT_COUNTOF(iov); i++) {
				if (skip >= tx->iov[i].iov_len) {
					skip -= tx->iov[i].iov_len;
					continue;
				}
				iov[n].iov_base = (uint8_t *)tx->iov[i].iov_base + skip;
				iov[n].iov_len = tx->iov[i].iov_len - skip;
				want += iov[n].iov_len;
				skip = 0;
				n++;
			}
			if (n == (int)FTGT_COUNTOF(iov)) {
				break;
			}
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)n;
		rc = sendmsg(tq->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (rc < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return total;
			}
			return -errno;
		}
		total += rc;
		tq->tx_off += (size_t)rc;
		/* Retire the PDUs now fully on the wire. */
		while ((tx = TAILQ_FIRST(&tq->txq)) != NULL) {
			size_t len = 0;

			for (i = 0; i < tx->iovcnt; i++) {
				len += tx->iov[i].iov_len;
			}
			if (tq->tx_off < len) {
				break;
			}
			tq->tx_off -= len;
			TAILQ_REMOVE(&tq->txq, tx, link);
			if (tx->req_done != NULL) {
				req_release(tq, tx->req_done);
			}
			if (tx->close_after) {
				nvmf_tcp_qpair_disconnect(&tq->qpair);
				return total;
			}
		}
		if ((size_t)rc < want) {
			break; /* the socket is full: the rest next poll, without an EAGAIN call */
		}
	}
	return total;
}

static void
send_term_req(struct nvmf_tcp_qpair *tq, uint16_t fes, uint32_t fei, const void *hdr,
              uint32_t hdr_len)
{
	struct nvmf_tcp_tx *tx = &tq->tx_ctrl;
	uint32_t plen = nvmf_tcp_build_c2h_term_req(tx->hdr, fes, fei, hdr, hdr_len);

	FTGT_ERRLOG_RL(&tq->rl, "nvmf_tcp: qpair %u from %s:%s: fatal PDU error fes %u fei %u\n",
	               tq->qpair.qid, tq->qpair.peer_addr.traddr, tq->qpair.peer_addr.trsvcid, fes,
	               fei);
	tx->iov[0].iov_base = tx->hdr;
	tx->iov[0].iov_len = plen;
	tx->iovcnt = 1;
	tx->req_done = NULL;
	tx->close_after = true;
	tx_queue(tq, tx);
	tq->closing_after_tx = true;
}

/* ---- receive ----------------------------------------------------------------------- */

static int
req_ensure_buf(struct nvmf_tcp_req *tr, uint32_t len)
{
	uint8_t *b;

	if (tr->buf_len >= len) {
		return 0;
	}
	b = realloc(tr->buf, len);
	if (b == NULL) {
		return -ENOMEM;
	}
	tr->buf = b;
	tr->buf_len = len;
	return 0;
}

static int
on_capsule_header(struct nvmf_tcp_qpair *tq, struct nvmf_tcp_rx_pdu *pdu, struct iovec **iov,
                  int *iovcnt)
{
	struct nvmf_tcp_transport *tt = tq_transport(tq);
	struct nvmf_tcp_req *tr = TAILQ_FIRST(&tq->free_reqs);
	const struct nvme_cmd *sqe = &pdu->hdr.cmd.ccsqe;
	const struct nvme_sgl_desc *sgl = &sqe->dptr;
	uint32_t len = ftgt_le32_to_cpu(sgl->length);
	struct ftgt_nvmf_request *req;

	if (tr == NULL) {
		return -EAGAIN; /* the host is ahead of its queue depth: wait */
	}
	TAILQ_REMOVE(&tq->free_reqs, tr, link);
	tq->cur_req = tr;
	req = &tr->req;
	tr->cmd = *sqe;
	tr->start_ticks = ftgt_get_ticks();
	tr->state = NVMF_TCP_REQ_NEED_DATA;
	tr->ttag_gen = (uint16_t)((tr->ttag_gen + 1) % tq->ttag_gens);
	tr->ttag = (uint16_t)((uint32_t)(tr - tq->reqs) + tr->ttag_gen * tq->num_reqs);
	tr->awaiting_h2c = false;
	tr->abort_pending = false;
	tr->h2c_received = 0;
	tr->data_error = false;
	tr->tx_data.iovcnt = 0;
	req->length = 0;
	req->iovcnt = 0;
	/* Fabrics commands carry the direction in FCTYPE bits 1:0 (NVMe-oF 1.1, 3.3). */
	req->xfer = sqe->opc == NVME_OPC_FABRIC ? (((const uint8_t *)sqe)[4] & 0x3)
	                                        : NVME_OPC_GET_XFER(sqe->opc);
	tr->fail_sc = 0;
	tr->r2t = false;

	if (len != 0) {
		if (sgl->type == ((NVME_SGL_TYPE_DATA_BLOCK << 4) | NVME_SGL_SUBTYPE_OFFSET)) {
			/* In-capsule data (NVMe/TCP 1.0, 3.3.4.1): offset 0, length = data. */
			if (req->xfer != NVME_OPC_XFER_HOST_TO_CTRLR ||
			    ftgt_le64_to_cpu(sgl->address) != 0 || len != pdu->data_len ||
			    len > nvmf_tcp_max_icd(tt)) {
				tr->fail_sc = NVME_SC_DATA_SGL_LENGTH_INVALID;
			}
		} else if (sgl->type == ((NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4) |
		                         NVME_SGL_SUBTYPE_TRANSPORT)) {
			if (pdu->data_len != 0 || req->xfer == NVME_OPC_XFER_NONE ||
			    req->xfer == NVME_OPC_XFER_BIDIRECTIONAL) {
				tr->fail_sc = NVME_SC_INVALID_FIELD;
			} else if (len > tt->base.opts.max_io_size) {
				/* Above MDTS: Invalid Field (NVMe Base 2.0, Identify MDTS). */
				tr->fail_sc = NVME_SC_INVALID_FIELD;
			} else {
				tr->r2t = req->xfer == NVME_OPC_XFER_HOST_TO_CTRLR;
			}
		} else {
			tr->fail_sc = NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID;
		}
		if (tr->fail_sc == 0 && pdu->data_len != 0 && pdu->data_inplace != NULL &&
		    tq->cur_chunk != NULL) {
			/* In-capsule data whole in the receive buffer: used in place. */
			tr->chunk = tq->cur_chunk;
			tr->chunk->refs++;
			req->length = len;
			req->iov[0].iov_base = (void *)pdu->data_inplace;
			req->iov[0].iov_len = len;
			req->iovcnt = 1;
			return 0; /* *iovcnt 0: the parser skips the data */
		}
		if (tr->fail_sc == 0 && req_ensure_buf(tr, FTGT_MAX(len, 4096)) != 0) {
			tr->fail_sc = NVME_SC_INTERNAL_DEVICE_ERROR;
		}
		if (tr->fail_sc == 0) {
			req->length = len;
			req->iov[0].iov_base = tr->buf;
			req->iov[0].iov_len = len;
			req->iovcnt = 1;
		}
	}
	if (pdu->data_len != 0 && tr->fail_sc == 0) {
		*iov = req->iov;
		*iovcnt = 1;
	}
	return 0;
}

static int
on_h2c_header(struct nvmf_tcp_qpair *tq, struct nvmf_tcp_rx_pdu *pdu, struct iovec **iov,
              int *iovcnt, uint32_t *fei)
{
	const struct nvme_tcp_data_hdr *h = &pdu->hdr.data;
	uint16_t ttag = ftgt_le16_to_cpu(h->ttag);
	uint32_t datao = ftgt_le32_to_cpu(h->datao);
	uint32_t datal = ftgt_le32_to_cpu(h->datal);
	struct nvmf_tcp_req *tr;

	if (ttag >= tq->num_reqs * tq->ttag_gens) {
		*fei = offsetof(struct nvme_tcp_data_hdr, ttag);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	tr = &tq->reqs[ttag % tq->num_reqs];
	if (tr->state != NVMF_TCP_REQ_NEED_DATA || !tr->awaiting_h2c || tr->ttag != ttag) {
		if (tr->discard_end == 0 || tr->discard_ttag != ttag) {
			*fei = offsetof(struct nvme_tcp_data_hdr, ttag);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		/* Data of an aborted command: checked like any other, then dropped. */
		if (ftgt_le16_to_cpu(h->cccid) != tr->discard_cccid) {
			*fei = offsetof(struct nvme_tcp_data_hdr, cccid);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		if (datao != tr->discard_off || datal > tr->discard_end - datao) {
			*fei = offsetof(struct nvme_tcp_data_hdr, datao);
			return NVME_TCP_FES_DATA_TRANSFER_OUT_OF_RANGE;
		}
		tr->discard_off += datal;
		if (tr->discard_off == tr->discard_end) {
			tr->discard_end = 0;
		}
		tq->cur_req = NULL;
		*iovcnt = 0;
		return 0;
	}
	if (h->cccid != tr->cmd.cid) {
		*fei = offsetof(struct nvme_tcp_data_hdr, cccid);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	/* Data in order, within what the R2T asked for (NVMe/TCP 1.0, 3.6.2.8). */
	if (datao != tr->h2c_received || datal > tr->req.length - datao) {
		*fei = offsetof(struct nvme_tcp_data_hdr, datao);
		return NVME_TCP_FES_DATA_TRANSFER_OUT_OF_RANGE;
	}
	tq->cur_req = tr;
	tq->h2c_iov.iov_base = tr->buf + datao;
	tq->h2c_iov.iov_len = datal;
	*iov = &tq->h2c_iov;
	*iovcnt = 1;
	return 0;
}

static int
rx_on_header(void *ctx, struct nvmf_tcp_rx_pdu *pdu, struct iovec **iov, int *iovcnt, uint32_t *fei)
{
	struct nvmf_tcp_qpair *tq = ctx;

	switch (pdu->type) {
	case NVME_TCP_PDU_TYPE_CAPSULE_CMD:
		return on_capsule_header(tq, pdu, iov, iovcnt);
	case NVME_TCP_PDU_TYPE_H2C_DATA:
		return on_h2c_header(tq, pdu, iov, iovcnt, fei);
	default:
		return 0; /* ICReq has no data; TermReq data is dropped */
	}
}

static void
req_exec(struct nvmf_tcp_req *tr)
{
	tr->state = NVMF_TCP_REQ_IN_CORE;
	ftgt_nvmf_request_exec(&tr->req);
}

static void
req_fail(struct nvmf_tcp_req *tr, int sct, int sc)
{
	tr->state = NVMF_TCP_REQ_IN_CORE;
	ftgt_nvmf_request_fail(&tr->req, sct, sc);
}

static void
send_r2t(struct nvmf_tcp_qpair *tq, struct nvmf_tcp_req *tr)
{
	struct nvmf_tcp_tx *tx = &tr->tx_data;
	struct nvme_tcp_r2t_hdr *r = (void *)tx->hdr;
	bool hdgst = tq->rx.lim.hdgst;

	memset(r, 0, sizeof(*r));
	r->ch.pdu_type = NVME_TCP_PDU_TYPE_R2T;
	r->ch.flags = hdgst ? NVME_TCP_CH_FLAGS_HDGSTF : 0;
	r->ch.hlen = NVME_TCP_R2T_HLEN;
	r->ch.plen = ftgt_cpu_to_le32(NVME_TCP_R2T_HLEN + (hdgst ? NVME_TCP_DIGEST_LEN : 0));
	r->cccid = tr->cmd.cid;
	r->ttag = ftgt_cpu_to_le16(tr->ttag);
	r->r2to = 0;
	r->r2tl = ftgt_cpu_to_le32(tr->req.length); /* MAXH2CDATA = max I/O: one R2T */
	tx_set_hdr(tq, tx, NVME_TCP_R2T_HLEN, hdgst);
	tx_queue(tq, tx);
	tr->awaiting_h2c = true;
}

/* Complete tr (held by the transport) with Command Abort Requested; the H2CData its R2T
 * asked for and that has not come yet is dropped when it comes. */
static void
req_abort(struct nvmf_tcp_req *tr)
{
	if (tr->awaiting_h2c && tr->h2c_received < tr->req.length) {
		tr->discard_ttag = tr->ttag;
		tr->discard_cccid = ftgt_le16_to_cpu(tr->cmd.cid);
		tr->discard_off = tr->h2c_received;
		tr->discard_end = tr->req.length;
	}
	tr->awaiting_h2c = false;
	tr->abort_pending = false;
	req_fail(tr, NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST);
}

static void
handle_icreq(struct nvmf_tcp_qpair *tq, struct nvmf_tcp_rx_pdu *pdu)
{
	struct nvmf_tcp_transport *tt = tq_transport(tq);
	struct nvmf_tcp_tx *tx = &tq->tx_ctrl;
	struct nvme_tcp_ic_resp *ic = (void *)tx->hdr;
	uint8_t dgst = pdu->hdr.ic_req.dgst;

	memset(tx->hdr, 0, sizeof(tx->hdr));
	ic->ch.pdu_type = NVME_TCP_PDU_TYPE_IC_RESP;
	ic->ch.hlen = NVME_TCP_IC_HLEN;
	ic->ch.plen = ftgt_cpu_to_le32(NVME_TCP_IC_HLEN);
	ic->pfv = 0;
	ic->cpda = 0;
	/* Digests: whatever the host asks for (both supported). */
	ic->dgst = dgst & (NVME_TCP_DGST_HDGST_ENABLE | NVME_TCP_DGST_DDGST_ENABLE);
	ic->maxh2cdata = ftgt_cpu_to_le32(tt->base.opts.max_io_size);
	tx->iov[0].iov_base = tx->hdr;
	tx->iov[0].iov_len = NVME_TCP_IC_HLEN;
	tx->iovcnt = 1;
	tx->req_done = NULL;
	tx->close_after = false;
	tx_queue(tq, tx);
	/* The next PDU already uses what was negotiated. */
	tq->rx.lim.ic_done = true;
	tq->rx.lim.hdgst = ic->dgst & NVME_TCP_DGST_HDGST_ENABLE;
	tq->rx.lim.ddgst = ic->dgst & NVME_TCP_DGST_DDGST_ENABLE;
	tq->rx.lim.cpda = 0;
	tq->rx.lim.max_icd_bytes = nvmf_tcp_max_icd(tt);
	tq->rx.lim.maxh2cdata = tt->base.opts.max_io_size;
}

static int
rx_on_pdu(void *ctx, struct nvmf_tcp_rx_pdu *pdu, uint32_t *fei)
{
	struct nvmf_tcp_qpair *tq = ctx;
	struct nvmf_tcp_req *tr = tq->cur_req;

	tq->pdus_in++;
	switch (pdu->type) {
	case NVME_TCP_PDU_TYPE_IC_REQ:
		handle_icreq(tq, pdu);
		return 0;
	case NVME_TCP_PDU_TYPE_H2C_TERM_REQ:
		FTGT_NOTICELOG("nvmf_tcp: host %s:%s terminated the connection (fes %u)\n",
		               tq->qpair.peer_addr.traddr, tq->qpair.peer_addr.trsvcid,
		               ftgt_le16_to_cpu(pdu->hdr.term_req.fes));
		nvmf_tcp_qpair_disconnect(&tq->qpair);
		return 0;
	case NVME_TCP_PDU_TYPE_CAPSULE_CMD: {
		uint32_t fail_sc = tr->fail_sc;
		bool r2t = tr->r2t;

		tq->cur_req = NULL;
		if (tr->abort_pending) {
			req_abort(tr);
		} else if (!pdu->ddgst_ok) {
			req_fail(tr, NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR);
		} else if (fail_sc != 0) {
			req_fail(tr, NVME_SCT_GENERIC, (int)fail_sc);
		} else if (r2t) {
			send_r2t(tq, tr);
		} else {
			req_exec(tr);
		}
		return 0;
	}
	case NVME_TCP_PDU_TYPE_H2C_DATA:
		tq->cur_req = NULL;
		if (tr == NULL) {
			return 0; /* data of an aborted command, dropped */
		}
		tr->h2c_received += pdu->data_len;
		if (!pdu->ddgst_ok) {
			tr->data_error = true;
		}
		if (tr->abort_pending) {
			req_abort(tr);
		} else if (tr->h2c_received == tr->req.length) {
			tr->awaiting_h2c = false;
			if (tr->data_error) {
				req_fail(tr, NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR);
			} else {
				req_exec(tr);
			}
		} else if (pdu->flags & NVME_TCP_H2C_DATA_FLAGS_LAST_PDU) {
			*fei = offsetof(struct nvme_tcp_ch, flags);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		return 0;
	default:
		return 0;
	}
}

static const struct nvmf_tcp_rx_ops g_rx_ops = {rx_on_header, rx_on_pdu};

/* ---- completion -------------------------------------------------------------------- */

void
nvmf_tcp_req_complete(struct ftgt_nvmf_request *req)
{
	struct nvmf_tcp_req *tr = TR(req);
	struct nvmf_tcp_qpair *tq = TQ(req->qpair);
	bool hdgst = tq->rx.lim.hdgst, ddgst = tq->rx.lim.ddgst;
	bool ok = (ftgt_le16_to_cpu(tr->rsp.status) & ~NVME_STATUS_DNR) == 0;
	bool success_flag = false;
	struct nvmf_tcp_tx *tx;
	int i;

	nvmf_io_stats_record(&tq->pg->io, req, tr->start_ticks, ftgt_get_ticks());
	if (tq->disconnecting) {
		req_release(tq, tr);
		return;
	}
	tr->state = NVMF_TCP_REQ_SENDING;
	if (ok && req->xfer == NVME_OPC_XFER_CTRLR_TO_HOST && req->length != 0) {
		struct nvme_tcp_data_hdr *h = (void *)tr->tx_data.hdr;
		uint32_t hl = NVME_TCP_DATA_HLEN + (hdgst ? NVME_TCP_DIGEST_LEN : 0);

		/* SUCCESS only with SQ flow control disabled (as Linux nvmet does): the
		 * host then needs no SQHD from a response. */
		success_flag = tq->qpair.sqfc_disabled && tq_transport(tq)->base.opts.c2h_success;
		tx = &tr->tx_data;
		memset(h, 0, sizeof(*h));
		h->ch.pdu_type = NVME_TCP_PDU_TYPE_C2H_DATA;
		h->ch.flags = NVME_TCP_C2H_DATA_FLAGS_LAST_PDU |
		              (success_flag ? NVME_TCP_C2H_DATA_FLAGS_SUCCESS : 0) |
		              (hdgst ? NVME_TCP_CH_FLAGS_HDGSTF : 0) |
		              (ddgst ? NVME_TCP_CH_FLAGS_DDGSTF : 0);
		h->ch.hlen = NVME_TCP_DATA_HLEN;
		h->ch.pdo = (uint8_t)hl;
		h->ch.plen = ftgt_cpu_to_le32(hl + req->length + (ddgst ? NVME_TCP_DIGEST_LEN : 0));
		h->cccid = tr->cmd.cid;
		h->datao = 0;
		h->datal = ftgt_cpu_to_le32(req->length);
		tx_set_hdr(tq, tx, NVME_TCP_DATA_HLEN, hdgst);
		for (i = 0; i < req->iovcnt; i++) {
			tx->iov[tx->iovcnt++] = req->iov[i];
		}
		if (ddgst) {
			tx->ddgst = ftgt_cpu_to_le32(nvmf_tcp_ddgst(req->iov, req->iovcnt));
			tx->iov[tx->iovcnt].iov_base = &tx->ddgst;
			tx->iov[tx->iovcnt].iov_len = sizeof(tx->ddgst);
			tx->iovcnt++;
		}
		if (success_flag) {
			tx->req_done = tr;
		}
		tx_queue(tq, tx);
	}
	if (!success_flag) {
		struct nvme_tcp_rsp *r = (void *)tr->tx_rsp.hdr;

		tx = &tr->tx_rsp;
		memset(r, 0, sizeof(*r));
		r->ch.pdu_type = NVME_TCP_PDU_TYPE_CAPSULE_RESP;
		r->ch.flags = hdgst ? NVME_TCP_CH_FLAGS_HDGSTF : 0;
		r->ch.hlen = NVME_TCP_RSP_HLEN;
		r->ch.plen =
		        ftgt_cpu_to_le32(NVME_TCP_RSP_HLEN + (hdgst ? NVME_TCP_DIGEST_LEN : 0));
		r->rccqe = tr->rsp;
		tx_set_hdr(tq, tx, NVME_TCP_RSP_HLEN, hdgst);
		tx->req_done = tr;
		tx_queue(tq, tx);
	}
}

/* ---- poll -------------------------------------------------------------------------- */

/* The buffer to receive into next: the current chunk unless requests still use it. */
static int
rbuf_select(struct nvmf_tcp_qpair *tq)
{
	struct nvmf_tcp_rx_chunk *c;
	uint32_t i;

	if (tq->cur_chunk != NULL && tq->cur_chunk->refs == 0) {
		return 0;
	}
	for (i = 0; i < NVMF_TCP_RX_CHUNKS; i++) {
		c = &tq->chunks[i];
		if (c->refs != 0) {
			continue;
		}
		if (c->data == NULL) {
			c->data = malloc(NVMF_TCP_RECV_BUF_BYTES);
			if (c->data == NULL) {
				break;
			}
		}
		tq->cur_chunk = c;
		tq->rbuf = c->data;
		return 0;
	}
	/* Every chunk is in use: receive into the copy buffer (data is copied). */
	if (tq->rbuf_copy == NULL) {
		tq->rbuf_copy = malloc(NVMF_TCP_RECV_BUF_BYTES);
		if (tq->rbuf_copy == NULL) {
			return -ENOMEM;
		}
	}
	tq->cur_chunk = NULL;
	tq->rbuf = tq->rbuf_copy;
	return 0;
}

int
nvmf_tcp_qpair_recv(struct nvmf_tcp_qpair *tq)
{
	ssize_t n;
	long rc;

	if (tq->disconnecting || tq->closing_after_tx) {
		return FTGT_POLLER_IDLE;
	}
	if (tq->rbuf_off == tq->rbuf_len) {
		struct iovec iov[NVMF_TCP_RX_MAX_IOV + 1];
		struct msghdr msg = {.msg_iov = iov};
		size_t direct = 0;
		int niov, i;

		tq->rbuf_off = tq->rbuf_len = 0;
		if (rbuf_select(tq) != 0) {
			return FTGT_POLLER_IDLE; /* no memory now: try again next poll */
		}
		/* In the middle of a PDU's data: the rest of it straight into its buffer, what
		 * follows into the receive buffer (one copy less for large data). */
		niov = nvmf_tcp_rx_data_iov(&tq->rx, iov, NVMF_TCP_RX_MAX_IOV);
		for (i = 0; i < niov; i++) {
			direct += iov[i].iov_len;
		}
		if (direct >= NVMF_TCP_DIRECT_MIN_BYTES) {
			iov[niov].iov_base = tq->rbuf;
			iov[niov].iov_len = NVMF_TCP_RECV_BUF_BYTES;
			msg.msg_iovlen = (size_t)niov + 1;
			n = recvmsg(tq->fd, &msg, MSG_DONTWAIT);
		} else {
			direct = 0;
			n = recv(tq->fd, tq->rbuf, NVMF_TCP_RECV_BUF_BYTES, MSG_DONTWAIT);
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			tq->idle_polls++;
			return FTGT_POLLER_IDLE;
		}
		if (n <= 0) {
			FTGT_INFOLOG("nvmf_tcp: qpair %u: connection from %s:%s closed\n",
			             tq->qpair.qid, tq->qpair.peer_addr.traddr,
			             tq->qpair.peer_addr.trsvcid);
			nvmf_tcp_qpair_disconnect(&tq->qpair);
			return FTGT_POLLER_BUSY;
		}
		if (direct != 0) {
			direct = FTGT_MIN(direct, (size_t)n);
			rc = nvmf_tcp_rx_data_placed(&tq->rx, direct);
			if (rc < 0) {
				tq->idle_polls = 0;
				if (!tq->disconnecting) {
					send_term_req(tq, tq->rx.err_fes, tq->rx.err_fei,
					              tq->rx.pdu.hdr.raw, tq->rx.err_hdr_len);
				}
				return FTGT_POLLER_BUSY;
			}
			n -= (ssize_t)direct;
			if (n == 0) {
				tq->idle_polls = 0;
				return FTGT_POLLER_BUSY;
			}
			/* What followed the data went to the start of rbuf. */
		}
		tq->rbuf_len = (uint32_t)n;
	}
	tq->idle_polls = 0;
	rc = nvmf_tcp_rx_feed(&tq->rx, tq->rbuf + tq->rbuf_off, tq->rbuf_len - tq->rbuf_off);
	if (rc < 0) {
		if (!tq->disconnecting) {
			send_term_req(tq, tq->rx.err_fes, tq->rx.err_fei, tq->rx.pdu.hdr.raw,
			              tq->rx.err_hdr_len);
		}
	} else {
		tq->rbuf_off += (uint32_t)rc;
	}
	return FTGT_POLLER_BUSY;
}

int
nvmf_tcp_qpair_flush(struct nvmf_tcp_qpair *tq)
{
	long rc;

	if (tq->disconnecting) {
		return FTGT_POLLER_IDLE;
	}
	rc = tx_flush(tq);
	if (rc < 0) {
		nvmf_tcp_qpair_disconnect(&tq->qpair);
		return FTGT_POLLER_BUSY;
	}
	return rc > 0 ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
}

void
nvmf_tcp_qpair_start(struct nvmf_tcp_poll_group *pg, int fd,
                     const struct ftgt_nvmf_listen_addr *listen_addr,
                     const struct ftgt_nvmf_listen_addr *peer_addr)
{
	struct nvmf_tcp_transport *tt = pg->ttransport;
	struct nvmf_tcp_qpair *tq = calloc(1, sizeof(*tq));
	uint32_t i, n;

	if (tq == NULL) {
		close(fd);
		return;
	}
	/* Enough request slots for the deepest queue this connection may become. */
	n = FTGT_MAX(tt->base.opts.max_queue_depth, tt->base.opts.max_aq_depth);
	tq->reqs = calloc(n, sizeof(*tq->reqs));
	tq->chunks[0].data = malloc(NVMF_TCP_RECV_BUF_BYTES);
	if (tq->reqs == NULL || tq->chunks[0].data == NULL) {
		free(tq->reqs);
		free(tq->chunks[0].data);
		free(tq);
		close(fd);
		return;
	}
	tq->cur_chunk = &tq->chunks[0];
	tq->rbuf = tq->chunks[0].data;
	ftgt_nvmf_qpair_init(&tq->qpair, &tt->base, listen_addr, peer_addr);
	tq->fd = fd;
	tq->pg = pg;
	tq->num_reqs = n;
	tq->ttag_gens = 65536 / n;
	tq->rl = (struct ftgt_log_ratelimit)FTGT_LOG_RATELIMIT_INIT(1000, 5);
	TAILQ_INIT(&tq->free_reqs);
	TAILQ_INIT(&tq->txq);
	for (i = 0; i < n; i++) {
		struct nvmf_tcp_req *tr = &tq->reqs[i];

		tr->req.qpair = &tq->qpair;
		tr->req.cmd = &tr->cmd;
		tr->req.rsp = &tr->rsp;
		TAILQ_INSERT_TAIL(&tq->free_reqs, tr, link);
	}
	nvmf_tcp_rx_init(&tq->rx, &g_rx_ops, tq);
	TAILQ_INSERT_TAIL(&pg->qpairs, tq, link);
	pg->num_qpairs++;
	if (pg->epfd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tq};

		/* Without epoll the connection stays hot: recv()'d every poll. */
		tq->in_epoll = epoll_ctl(pg->epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
	}
	/* The ICReq comes next. */
	nvmf_tcp_pg_set_hot(pg, tq);
}

void
nvmf_tcp_qpair_free(struct nvmf_tcp_qpair *tq)
{
	uint32_t i;

	for (i = 0; i < tq->num_reqs; i++) {
		free(tq->reqs[i].buf);
	}
	for (i = 0; i < NVMF_TCP_RX_CHUNKS; i++) {
		free(tq->chunks[i].data);
	}
	free(tq->rbuf_copy);
	free(tq->reqs);
	free(tq);
}

bool
nvmf_tcp_qpair_abort_req(struct ftgt_nvmf_qpair *qpair, uint16_t cid)
{
	struct nvmf_tcp_qpair *tq = TQ(qpair);
	uint32_t i;

	for (i = 0; i < tq->num_reqs; i++) {
		struct nvmf_tcp_req *tr = &tq->reqs[i];

		if (tr->state != NVMF_TCP_REQ_NEED_DATA || ftgt_le16_to_cpu(tr->cmd.cid) != cid) {
			continue;
		}
		if (tr == tq->cur_req) {
			/* The parser is copying this PDU's data into tr's buffer: finish
			 * the PDU, then abort (rx_on_pdu). */
			tr->abort_pending = true;
		} else {
			req_abort(tr);
		}
		return true;
	}
	return false;
}

/* Abort: the command with this CID now executing in the core (not on the I/O path). */
struct ftgt_nvmf_request *
nvmf_tcp_qpair_find_req(struct ftgt_nvmf_qpair *qpair, uint16_t cid)
{
	struct nvmf_tcp_qpair *tq = FTGT_CONTAINEROF(qpair, struct nvmf_tcp_qpair, qpair);
	uint32_t i;

	for (i = 0; i < tq->num_reqs; i++) {
		struct nvmf_tcp_req *r = &tq->reqs[i];

		if (r->state == NVMF_TCP_REQ_IN_CORE && r->req.in_core &&
		    ftgt_le16_to_cpu(r->cmd.cid) == cid) {
			return &r->req;
		}
	}
	return NULL;
}
