/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI PDU framing (RFC 7143 11.2): lengths, AHS, digests and per-opcode field checks.
 * Pure functions over a receive buffer; every length is checked before use.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "ftgt/crc32c.h"
#include "iscsi_internal.h"

static uint32_t
crc32c_digest(const void *buf, size_t len)
{
	return ftgt_crc32c_update(buf, len, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR;
}

/* RFC 7143 13.1 / RFC 3385: the CRC32C result goes on the wire least significant byte
 * first (what Linux, libiscsi and SPDK send). */
static uint32_t
get_digest(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static void
put_digest(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int
iscsi_pdu_lengths(const uint8_t *bhs, const struct iscsi_pdu_params *params, uint32_t *hdr_len,
                  uint32_t *total_len)
{
	const struct iscsi_bhs *h = (const struct iscsi_bhs *)bhs;
	uint32_t dsl = iscsi_get_dsl(h->data_segment_len);
	uint32_t hl;

	if (dsl > params->max_recv_dsl) {
		return -EPROTO;
	}
	hl = ISCSI_BHS_LEN + (uint32_t)h->total_ahs_len * 4u;
	if (params->header_digest) {
		hl += ISCSI_DIGEST_LEN;
	}
	*hdr_len = hl;
	*total_len = hl + iscsi_pad4(dsl);
	if (dsl > 0 && params->data_digest) {
		*total_len += ISCSI_DIGEST_LEN;
	}
	return 0;
}

/* 11.2.2: walk the AHS list; only SCSI Command carries AHS (extended CDB, bidi length). */
static int
parse_ahs(struct iscsi_pdu_info *info)
{
	uint32_t pos = 0;

	while (pos < info->ahs_len_bytes) {
		const uint8_t *a = info->ahs + pos;
		uint32_t alen;

		if (info->ahs_len_bytes - pos < 4) {
			return -EPROTO;
		}
		alen = ((uint32_t)a[0] << 8) | a[1];
		/* AHSLength counts from the AHS-specific byte (offset 3), padding excluded. */
		if (alen == 0 || iscsi_pad4(3 + alen) > info->ahs_len_bytes - pos) {
			return -EPROTO;
		}
		switch (a[2]) {
		case ISCSI_AHS_TYPE_EXT_CDB:
			if (info->opcode != ISCSI_OP_SCSI_CMD || info->cdb_len != 16 ||
			    alen - 1 > ISCSI_MAX_CDB_LEN - 16) {
				return -EPROTO;
			}
			memcpy(info->cdb_buf + 16, a + 4, alen - 1);
			info->cdb_len = 16 + alen - 1;
			break;
		case ISCSI_AHS_TYPE_BIDI_RLEN:
			if (alen != 5) {
				return -EPROTO;
			}
			info->has_bidi_read_len = true;
			info->bidi_read_len = ((uint32_t)a[4] << 24) | ((uint32_t)a[5] << 16) |
			                      ((uint32_t)a[6] << 8) | a[7];
			break;
		default:
			return -EPROTO;
		}
		/* 3 header bytes + padded(ahs_len) rounded so that the next AHS is aligned */
		pos += iscsi_pad4(3 + alen);
	}
	return 0;
}

/* Per-opcode checks of an initiator PDU; 0 or -EINVAL/-EPROTONOSUPPORT with reason. */
static int
check_fields(struct iscsi_pdu_info *info, const struct iscsi_pdu_params *params)
{
	const struct iscsi_bhs *h = info->bhs;

	switch (info->opcode) {
	case ISCSI_OP_NOPOUT:
		/* 11.18.1: ITT 0xffffffff (a response to a NOP-In ping) requires I=1. */
		if (info->itt == ISCSI_RESERVED_TAG && !info->immediate) {
			goto invalid;
		}
		if (!info->final) {
			goto invalid;
		}
		break;
	case ISCSI_OP_SCSI_CMD: {
		const struct iscsi_bhs_scsi_cmd *c = (const struct iscsi_bhs_scsi_cmd *)h;

		/* Unsolicited data with W=0, or F=0 with no write. */
		if (info->data_len > 0 && !(c->flags & ISCSI_SCSI_CMD_FLAG_WRITE)) {
			goto invalid;
		}
		if (!(c->flags & ISCSI_FLAG_FINAL) && !(c->flags & ISCSI_SCSI_CMD_FLAG_WRITE)) {
			goto invalid;
		}
		if (info->data_len > ftgt_be32_to_cpu(c->expected_data_xfer_len)) {
			goto invalid;
		}
		break;
	}
	case ISCSI_OP_TASK_REQ:
		if (!info->final || info->data_len != 0) {
			goto invalid;
		}
		break;
	case ISCSI_OP_LOGOUT_REQ:
		if (!info->final || info->data_len != 0) {
			goto invalid;
		}
		break;
	case ISCSI_OP_LOGIN_REQ: {
		const struct iscsi_bhs_login_req *l = (const struct iscsi_bhs_login_req *)h;

		/* 11.12.2: T and C cannot both be set. */
		if ((l->flags & ISCSI_LOGIN_FLAG_TRANSIT) &&
		    (l->flags & ISCSI_LOGIN_FLAG_CONTINUE)) {
			goto invalid;
		}
		break;
	}
	case ISCSI_OP_TEXT_REQ:
		if ((h->flags & ISCSI_FLAG_FINAL) && (h->flags & ISCSI_TEXT_FLAG_CONTINUE)) {
			goto invalid;
		}
		break;
	case ISCSI_OP_DATA_OUT:
		if (info->immediate) {
			goto invalid;
		}
		break;
	case ISCSI_OP_SNACK:
		if (params->erl0) {
			info->reject_reason = ISCSI_REJECT_PROTOCOL_ERROR;
			return -EPROTONOSUPPORT;
		}
		break;
	default:
		info->reject_reason = ISCSI_REJECT_COMMAND_NOT_SUPPORTED;
		return -EPROTONOSUPPORT;
	}
	return 0;
invalid:
	info->reject_reason = ISCSI_REJECT_PROTOCOL_ERROR;
	return -EINVAL;
}

ssize_t
iscsi_pdu_parse(const uint8_t *buf, size_t len, const struct iscsi_pdu_params *params,
                struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs *h;
	uint32_t hdr_len, total_len, dig_off;
	int rc;

	if (len < ISCSI_BHS_LEN) {
		return -EAGAIN;
	}
	h = (const struct iscsi_bhs *)buf;
	rc = iscsi_pdu_lengths(buf, params, &hdr_len, &total_len);
	if (rc != 0) {
		return rc;
	}
	if (len < total_len) {
		return -EAGAIN;
	}

	memset(info, 0, offsetof(struct iscsi_pdu_info, cdb_buf));
	info->bhs = h;
	info->opcode = h->opcode & ISCSI_OPCODE_MASK;
	info->immediate = (h->opcode & ISCSI_FLAG_IMMEDIATE) != 0;
	info->final = (h->flags & ISCSI_FLAG_FINAL) != 0;
	info->itt = ftgt_be32_to_cpu(h->itt);
	info->ahs = buf + ISCSI_BHS_LEN;
	info->ahs_len_bytes = (uint32_t)h->total_ahs_len * 4u;
	info->data_len = iscsi_get_dsl(h->data_segment_len);
	info->data = buf + hdr_len;
	info->total_len = total_len;
	info->has_bidi_read_len = false;
	info->reject_reason = 0;

	if (params->header_digest) {
		dig_off = ISCSI_BHS_LEN + info->ahs_len_bytes;
		if (crc32c_digest(buf, dig_off) != get_digest(buf + dig_off)) {
			return -EPROTO;
		}
	}

	if (info->opcode == ISCSI_OP_SCSI_CMD) {
		memcpy(info->cdb_buf, ((const struct iscsi_bhs_scsi_cmd *)h)->cdb, 16);
		info->cdb = info->cdb_buf;
		info->cdb_len = 16;
	}
	if (info->ahs_len_bytes > 0) {
		if (info->opcode != ISCSI_OP_SCSI_CMD) {
			return -EPROTO;
		}
		rc = parse_ahs(info);
		if (rc != 0) {
			return rc;
		}
	}

	if (info->data_len > 0 && params->data_digest) {
		uint32_t padded = iscsi_pad4(info->data_len);

		if (crc32c_digest(info->data, padded) != get_digest(info->data + padded)) {
			info->reject_reason = ISCSI_REJECT_DATA_DIGEST_ERROR;
			return -EILSEQ;
		}
	}

	rc = check_fields(info, params);
	if (rc != 0) {
		return rc;
	}
	return (ssize_t)total_len;
}

uint32_t
iscsi_pdu_finish_hdr(uint8_t *hdr, uint32_t data_len, const struct iscsi_pdu_params *params)
{
	struct iscsi_bhs *h = (struct iscsi_bhs *)hdr;

	h->total_ahs_len = 0;
	iscsi_set_dsl(h->data_segment_len, data_len);
	if (params->header_digest) {
		put_digest(hdr + ISCSI_BHS_LEN, crc32c_digest(hdr, ISCSI_BHS_LEN));
		return ISCSI_BHS_LEN + ISCSI_DIGEST_LEN;
	}
	return ISCSI_BHS_LEN;
}

uint32_t
iscsi_pdu_data_digest(const struct iovec *iov, int iovcnt, uint32_t data_len)
{
	static const uint8_t zero_pad[4];
	uint32_t crc = FTGT_CRC32C_INIT;
	uint32_t left = data_len;
	int i;

	for (i = 0; i < iovcnt && left > 0; i++) {
		uint32_t n = (uint32_t)FTGT_MIN((size_t)left, iov[i].iov_len);

		crc = ftgt_crc32c_update(iov[i].iov_base, n, crc);
		left -= n;
	}
	crc = ftgt_crc32c_update(zero_pad, iscsi_pad4(data_len) - data_len, crc);
	return crc ^ FTGT_CRC32C_XOR;
}

void
iscsi_pdu_put_digest(uint8_t *p, uint32_t digest)
{
	put_digest(p, digest);
}
