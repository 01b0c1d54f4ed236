/* SPDX-License-Identifier: BSD-3-Clause */
/* NVMe/TCP PDU receive parser and header builders (see tcp_pdu.h). */
#include <errno.h>
#include <string.h>

#include "ftgt/crc32c.h"
#include "tcp_pdu.h"

/* Fixed hlen of each PDU type a host may send; 0: not valid from a host. */
static const uint8_t g_h2c_hlen[256] = {
        [NVME_TCP_PDU_TYPE_IC_REQ] = NVME_TCP_IC_HLEN,
        [NVME_TCP_PDU_TYPE_H2C_TERM_REQ] = NVME_TCP_TERM_REQ_HLEN,
        [NVME_TCP_PDU_TYPE_CAPSULE_CMD] = NVME_TCP_CMD_HLEN,
        [NVME_TCP_PDU_TYPE_H2C_DATA] = NVME_TCP_DATA_HLEN,
};

/* Types whose header carries a digest once negotiated (NVMe/TCP 1.0, 3.6.1). */
static bool
pdu_type_has_hdgst(uint8_t type)
{
	return type == NVME_TCP_PDU_TYPE_CAPSULE_CMD || type == NVME_TCP_PDU_TYPE_H2C_DATA;
}

void
nvmf_tcp_rx_init(struct nvmf_tcp_rx *rx, const struct nvmf_tcp_rx_ops *ops, void *ctx)
{
	memset(rx, 0, sizeof(*rx));
	rx->ops = ops;
	rx->ctx = ctx;
	rx->state = NVMF_TCP_RX_CH;
	rx->lim.max_icd_bytes = 0;
	rx->lim.maxh2cdata = 0;
}

static int
ch_check(const struct nvmf_tcp_rx_limits *lim, struct nvmf_tcp_rx_pdu *pdu, uint32_t *fei)
{
	const struct nvme_tcp_ch *ch = &pdu->hdr.ch;
	uint32_t plen = ftgt_le32_to_cpu(ch->plen);
	bool hdgst;

	pdu->type = ch->pdu_type;
	pdu->flags = ch->flags;
	pdu->hlen = ch->hlen;
	pdu->pdo = ch->pdo;
	pdu->plen = plen;

	if (g_h2c_hlen[ch->pdu_type] == 0) {
		*fei = offsetof(struct nvme_tcp_ch, pdu_type);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	/* 3.3: the ICReq is the first PDU and comes once. */
	if (!lim->ic_done && ch->pdu_type != NVME_TCP_PDU_TYPE_IC_REQ &&
	    ch->pdu_type != NVME_TCP_PDU_TYPE_H2C_TERM_REQ) {
		*fei = offsetof(struct nvme_tcp_ch, pdu_type);
		return NVME_TCP_FES_PDU_SEQUENCE_ERROR;
	}
	if (lim->ic_done && ch->pdu_type == NVME_TCP_PDU_TYPE_IC_REQ) {
		*fei = offsetof(struct nvme_tcp_ch, pdu_type);
		return NVME_TCP_FES_PDU_SEQUENCE_ERROR;
	}
	if (ch->hlen != g_h2c_hlen[ch->pdu_type]) {
		*fei = offsetof(struct nvme_tcp_ch, hlen);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	hdgst = lim->ic_done && lim->hdgst && pdu_type_has_hdgst(ch->pdu_type);
	if (!!(ch->flags & NVME_TCP_CH_FLAGS_HDGSTF) != hdgst) {
		*fei = offsetof(struct nvme_tcp_ch, flags);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	if ((ch->flags & NVME_TCP_CH_FLAGS_DDGSTF) &&
	    (!lim->ic_done || !lim->ddgst || !pdu_type_has_hdgst(ch->pdu_type))) {
		*fei = offsetof(struct nvme_tcp_ch, flags);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	if (plen < (uint32_t)ch->hlen + (hdgst ? NVME_TCP_DIGEST_LEN : 0)) {
		*fei = offsetof(struct nvme_tcp_ch, plen);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	return 0;
}

int
nvmf_tcp_hdr_check(const struct nvmf_tcp_rx_limits *lim, struct nvmf_tcp_rx_pdu *pdu, uint32_t *fei)
{
	uint32_t hdr_len, ddgst_len, data_len, pad, limit;
	int rc;

	rc = ch_check(lim, pdu, fei);
	if (rc != 0) {
		return rc;
	}
	hdr_len = pdu->hlen + ((pdu->flags & NVME_TCP_CH_FLAGS_HDGSTF) ? NVME_TCP_DIGEST_LEN : 0);
	pdu->has_ddgst = false;
	pdu->data_len = 0;

	switch (pdu->type) {
	case NVME_TCP_PDU_TYPE_IC_REQ: {
		const struct nvme_tcp_ic_req *ic = &pdu->hdr.ic_req;

		if (pdu->plen != NVME_TCP_IC_HLEN) {
			*fei = offsetof(struct nvme_tcp_ch, plen);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		if (ftgt_le16_to_cpu(ic->pfv) != NVME_TCP_PFV_1_0) {
			*fei = offsetof(struct nvme_tcp_ic_req, pfv);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		if (ic->hpda > NVME_TCP_HPDA_MAX) {
			*fei = offsetof(struct nvme_tcp_ic_req, hpda);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		return 0;
	}
	case NVME_TCP_PDU_TYPE_H2C_TERM_REQ:
		/* 3.6.2.4: header plus at most 128 bytes of error data; no digests. */
		if (pdu->plen > NVME_TCP_TERM_REQ_HLEN + NVME_TCP_TERM_REQ_ERROR_DATA_MAX) {
			*fei = offsetof(struct nvme_tcp_ch, plen);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		pdu->data_len = pdu->plen - NVME_TCP_TERM_REQ_HLEN;
		return 0;
	case NVME_TCP_PDU_TYPE_CAPSULE_CMD:
	case NVME_TCP_PDU_TYPE_H2C_DATA:
		break;
	default:
		*fei = offsetof(struct nvme_tcp_ch, pdu_type);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}

	if (pdu->plen == hdr_len) {
		/* No data: pdo is reserved; DDGSTF must be clear (there is nothing to digest). */
		if (pdu->flags & NVME_TCP_CH_FLAGS_DDGSTF) {
			*fei = offsetof(struct nvme_tcp_ch, flags);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		if (pdu->type == NVME_TCP_PDU_TYPE_H2C_DATA) {
			/* An H2CData PDU without data is meaningless (datal must be > 0). */
			*fei = offsetof(struct nvme_tcp_data_hdr, datal);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		return 0;
	}

	/* Data present: DDGSTF must match what was negotiated (3.6.1). */
	if (!!(pdu->flags & NVME_TCP_CH_FLAGS_DDGSTF) != lim->ddgst) {
		*fei = offsetof(struct nvme_tcp_ch, flags);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	ddgst_len = lim->ddgst ? NVME_TCP_DIGEST_LEN : 0;
	/* pdo: after the header and its digest, padded to our CPDA alignment at most. */
	if (pdu->pdo < hdr_len || pdu->pdo % (((uint32_t)lim->cpda + 1) * 4) != 0) {
		*fei = offsetof(struct nvme_tcp_ch, pdo);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	pad = pdu->pdo - hdr_len;
	if (pad >= ((uint32_t)lim->cpda + 1) * 4) {
		*fei = offsetof(struct nvme_tcp_ch, pdo);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	if (pdu->plen < (uint32_t)pdu->pdo + ddgst_len + 1) {
		*fei = offsetof(struct nvme_tcp_ch, plen);
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	data_len = pdu->plen - pdu->pdo - ddgst_len;
	pdu->data_len = data_len;
	pdu->has_ddgst = ddgst_len != 0;

	if (pdu->type == NVME_TCP_PDU_TYPE_CAPSULE_CMD) {
		limit = lim->max_icd_bytes;
		if (data_len > limit) {
			*fei = offsetof(struct nvme_tcp_ch, plen);
			return NVME_TCP_FES_DATA_TRANSFER_OUT_OF_RANGE;
		}
	} else {
		const struct nvme_tcp_data_hdr *dh = &pdu->hdr.data;

		if (ftgt_le32_to_cpu(dh->datal) != data_len) {
			*fei = offsetof(struct nvme_tcp_data_hdr, datal);
			return NVME_TCP_FES_INVALID_HEADER_FIELD;
		}
		if (data_len > lim->maxh2cdata) {
			*fei = offsetof(struct nvme_tcp_data_hdr, datal);
			return NVME_TCP_FES_R2T_LIMIT_EXCEEDED;
		}
	}
	return 0;
}

static void
rx_fail(struct nvmf_tcp_rx *rx, int fes, uint32_t fei)
{
	rx->state = NVMF_TCP_RX_ERROR;
	rx->err_fes = (uint16_t)fes;
	rx->err_fei = fei;
	rx->err_hdr_len = FTGT_MIN(rx->hdr_got, (uint32_t)NVME_TCP_TERM_REQ_ERROR_DATA_MAX);
}

/* Header complete: check the digest, then the fields. 0 or FES. */
static int
rx_header_done(struct nvmf_tcp_rx *rx, uint32_t *fei)
{
	struct nvmf_tcp_rx_pdu *pdu = &rx->pdu;
	uint32_t crc, got;
	int rc;

	if (pdu->flags & NVME_TCP_CH_FLAGS_HDGSTF) {
		crc = ftgt_crc32c_update(pdu->hdr.raw, pdu->hlen, FTGT_CRC32C_INIT) ^
		      FTGT_CRC32C_XOR;
		memcpy(&got, pdu->hdr.raw + pdu->hlen, sizeof(got));
		if (ftgt_le32_to_cpu(got) != crc) {
			*fei = 0;
			return NVME_TCP_FES_HDGST_ERROR;
		}
	}
	rc = nvmf_tcp_hdr_check(&rx->lim, pdu, fei);
	if (rc != 0) {
		return rc;
	}
	rx->pad_left = pdu->data_len != 0 && pdu->pdo != 0 ? pdu->pdo - rx->hdr_need : 0;
	return 0;
}

static int
rx_pdu_done(struct nvmf_tcp_rx *rx, uint32_t *fei)
{
	int rc = 0;

	rx->pdus++;
	if (rx->ops->on_pdu != NULL) {
		rc = rx->ops->on_pdu(rx->ctx, &rx->pdu, fei);
	}
	rx->hdr_got = 0;
	rx->state = NVMF_TCP_RX_CH;
	return rc;
}

/* Copy n bytes of data into the consumer's iovec (or drop them); buf NULL: the n bytes
 * are already there (nvmf_tcp_rx_data_placed()). */
static void
rx_copy_data(struct nvmf_tcp_rx *rx, const uint8_t *buf, size_t n)
{
	if (rx->pdu.has_ddgst && buf != NULL) {
		rx->crc = ftgt_crc32c_update(buf, n, rx->crc);
	}
	rx->data_got += (uint32_t)n;
	while (n > 0 && rx->iov_idx < rx->iovcnt) {
		struct iovec *v = &rx->iov[rx->iov_idx];
		size_t room = v->iov_len - rx->iov_off;
		size_t c = FTGT_MIN(room, n);

		if (buf != NULL) {
			memcpy((uint8_t *)v->iov_base + rx->iov_off, buf, c);
			buf += c;
		} else if (rx->pdu.has_ddgst) {
			rx->crc = ftgt_crc32c_update((uint8_t *)v->iov_base + rx->iov_off, c,
			                             rx->crc);
		}
		n -= c;
		rx->iov_off += c;
		if (rx->iov_off == v->iov_len) {
			rx->iov_idx++;
			rx->iov_off = 0;
		}
	}
}

long
nvmf_tcp_rx_feed(struct nvmf_tcp_rx *rx, const uint8_t *buf, size_t len)
{
	size_t off = 0, n;
	uint32_t fei = 0;
	int rc;

	if (rx->state == NVMF_TCP_RX_ERROR) {
		return -EPROTO;
	}
	for (;;) {
		switch (rx->state) {
		case NVMF_TCP_RX_CH:
			if (off == len) {
				return (long)off;
			}
			n = FTGT_MIN(len - off, sizeof(struct nvme_tcp_ch) - rx->hdr_got);
			memcpy(rx->pdu.hdr.raw + rx->hdr_got, buf + off, n);
			rx->hdr_got += (uint32_t)n;
			off += n;
			if (rx->hdr_got < sizeof(struct nvme_tcp_ch)) {
				break;
			}
			rc = ch_check(&rx->lim, &rx->pdu, &fei);
			if (rc != 0) {
				rx_fail(rx, rc, fei);
				return -EPROTO;
			}
			rx->hdr_need = rx->pdu.hlen;
			if (rx->pdu.flags & NVME_TCP_CH_FLAGS_HDGSTF) {
				rx->hdr_need += NVME_TCP_DIGEST_LEN;
			}
			rx->state = NVMF_TCP_RX_PSH;
			break;
		case NVMF_TCP_RX_PSH:
			if (rx->hdr_got < rx->hdr_need) {
				if (off == len) {
					return (long)off;
				}
				n = FTGT_MIN(len - off, rx->hdr_need - rx->hdr_got);
				memcpy(rx->pdu.hdr.raw + rx->hdr_got, buf + off, n);
				rx->hdr_got += (uint32_t)n;
				off += n;
				if (rx->hdr_got < rx->hdr_need) {
					break;
				}
			}
			rc = rx_header_done(rx, &fei);
			if (rc != 0) {
				rx_fail(rx, rc, fei);
				return -EPROTO;
			}
			rx->state = NVMF_TCP_RX_HDR_READY;
			break;
		case NVMF_TCP_RX_HDR_READY:
			rx->iov = NULL;
			rx->iovcnt = 0;
			rx->iov_idx = 0;
			rx->iov_off = 0;
			rx->data_got = 0;
			rx->ddgst_got = 0;
			rx->crc = FTGT_CRC32C_INIT;
			rx->pdu.ddgst_ok = true;
			rx->pdu.data_inplace = NULL;
			if (rx->pdu.data_len != 0 &&
			    len - off >= (size_t)rx->pad_left + rx->pdu.data_len) {
				rx->pdu.data_inplace = buf + off + rx->pad_left;
			}
			if (rx->ops->on_header != NULL) {
				rc = rx->ops->on_header(rx->ctx, &rx->pdu, &rx->iov, &rx->iovcnt,
				                        &fei);
				if (rc == -EAGAIN) {
					return (long)off;
				}
				if (rc != 0) {
					rx_fail(rx, rc > 0 ? rc : NVME_TCP_FES_INVALID_HEADER_FIELD,
					        fei);
					return -EPROTO;
				}
			}
			if (rx->pdu.data_len == 0) {
				rc = rx_pdu_done(rx, &fei);
				if (rc != 0) {
					rx_fail(rx, rc, fei);
					return -EPROTO;
				}
			} else {
				rx->state = rx->pad_left ? NVMF_TCP_RX_PAD : NVMF_TCP_RX_DATA;
			}
			break;
		case NVMF_TCP_RX_PAD:
			if (off == len) {
				return (long)off;
			}
			n = FTGT_MIN(len - off, rx->pad_left);
			rx->pad_left -= (uint32_t)n;
			off += n;
			if (rx->pad_left == 0) {
				rx->state = NVMF_TCP_RX_DATA;
			}
			break;
		case NVMF_TCP_RX_DATA:
			if (off == len) {
				return (long)off;
			}
			n = FTGT_MIN(len - off, rx->pdu.data_len - rx->data_got);
			rx_copy_data(rx, buf + off, n);
			off += n;
			if (rx->data_got < rx->pdu.data_len) {
				break;
			}
			if (rx->pdu.has_ddgst) {
				rx->state = NVMF_TCP_RX_DDGST;
				break;
			}
			rc = rx_pdu_done(rx, &fei);
			if (rc != 0) {
				rx_fail(rx, rc, fei);
				return -EPROTO;
			}
			break;
		case NVMF_TCP_RX_DDGST: {
			uint32_t got;

			if (off == len) {
				return (long)off;
			}
			n = FTGT_MIN(len - off, NVME_TCP_DIGEST_LEN - rx->ddgst_got);
			memcpy(rx->ddgst + rx->ddgst_got, buf + off, n);
			rx->ddgst_got += (uint32_t)n;
			off += n;
			if (rx->ddgst_got < NVME_TCP_DIGEST_LEN) {
				break;
			}
			memcpy(&got, rx->ddgst, sizeof(got));
			rx->pdu.ddgst_ok = ftgt_le32_to_cpu(got) == (rx->crc ^ FTGT_CRC32C_XOR);
			rc = rx_pdu_done(rx, &fei);
			if (rc != 0) {
				rx_fail(rx, rc, fei);
				return -EPROTO;
			}
			break;
		}
		case NVMF_TCP_RX_ERROR:
		default:
			return -EPROTO;
		}
	}
}

int
nvmf_tcp_rx_data_iov(const struct nvmf_tcp_rx *rx, struct iovec *iov, int max)
{
	uint32_t left;
	size_t off;
	int i, n = 0;

	if (rx->state != NVMF_TCP_RX_DATA || rx->iovcnt == 0) {
		return 0;
	}
	left = rx->pdu.data_len - rx->data_got;
	off = rx->iov_off;
	for (i = rx->iov_idx; i < rx->iovcnt && n < max && left > 0; i++) {
		size_t c = FTGT_MIN(rx->iov[i].iov_len - off, (size_t)left);

		iov[n].iov_base = (uint8_t *)rx->iov[i].iov_base + off;
		iov[n].iov_len = c;
		left -= (uint32_t)c;
		off = 0;
		n++;
	}
	return n;
}

long
nvmf_tcp_rx_data_placed(struct nvmf_tcp_rx *rx, size_t n)
{
	uint32_t fei = 0;
	int rc;

	if (rx->state != NVMF_TCP_RX_DATA || n > rx->pdu.data_len - rx->data_got) {
		return -EINVAL;
	}
	rx_copy_data(rx, NULL, n);
	if (rx->data_got < rx->pdu.data_len) {
		return 0;
	}
	if (rx->pdu.has_ddgst) {
		rx->state = NVMF_TCP_RX_DDGST;
		return 0;
	}
	rc = rx_pdu_done(rx, &fei);
	if (rc != 0) {
		rx_fail(rx, rc, fei);
		return -EPROTO;
	}
	return 0;
}

void
nvmf_tcp_hdgst_set(void *hdr, uint32_t hlen)
{
	uint32_t crc = ftgt_crc32c_update(hdr, hlen, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR;
	ftgt_le32 le = ftgt_cpu_to_le32(crc);

	memcpy((uint8_t *)hdr + hlen, &le, sizeof(le));
}

uint32_t
nvmf_tcp_ddgst(const struct iovec *iov, int iovcnt)
{
	return ftgt_crc32c_iov(iov, iovcnt, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR;
}

uint32_t
nvmf_tcp_build_c2h_term_req(void *buf, uint16_t fes, uint32_t fei, const void *err_hdr,
                            uint32_t err_hdr_len)
{
	struct nvme_tcp_term_req_hdr *t = buf;
	uint32_t plen;
	ftgt_le32 fei_le = ftgt_cpu_to_le32(fei);

	err_hdr_len = FTGT_MIN(err_hdr_len, (uint32_t)NVME_TCP_TERM_REQ_ERROR_DATA_MAX);
	plen = NVME_TCP_TERM_REQ_HLEN + err_hdr_len;
	memset(t, 0, sizeof(*t));
	t->ch.pdu_type = NVME_TCP_PDU_TYPE_C2H_TERM_REQ;
	t->ch.hlen = NVME_TCP_TERM_REQ_HLEN;
	t->ch.pdo = err_hdr_len ? NVME_TCP_TERM_REQ_HLEN : 0;
	t->ch.plen = ftgt_cpu_to_le32(plen);
	t->fes = ftgt_cpu_to_le16(fes);
	/* 3.6.2.5: FEI is reserved for other errors; for field errors it is the offset. */
	if (fes == NVME_TCP_FES_INVALID_HEADER_FIELD || fes == NVME_TCP_FES_UNSUPPORTED_PARAMETER) {
		memcpy(t->fei, &fei_le, sizeof(t->fei));
	}
	if (err_hdr_len != 0) {
		memcpy((uint8_t *)buf + NVME_TCP_TERM_REQ_HLEN, err_hdr, err_hdr_len);
	}
	return plen;
}
