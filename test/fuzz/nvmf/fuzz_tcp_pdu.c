/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the NVMe/TCP receive parser (lib/nvmf/tcp/tcp_pdu.c).
 * Input: byte 0 selects the negotiated state (IC done, digests, CPDA), byte 1 the feed
 * chunk size; the rest is the byte stream a host sends. The callbacks check the parser's
 * promises: a header handed out is consistent, data never overflows the buffer given.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../../lib/nvmf/tcp/tcp_pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_ctx {
	uint8_t buf[4096];
	struct iovec iov[2];
	int mode;
};

static int
fz_on_header(void *ctx, struct nvmf_tcp_rx_pdu *pdu, struct iovec **iov, int *iovcnt, uint32_t *fei)
{
	struct fz_ctx *f = ctx;

	if (pdu->plen < pdu->hlen || pdu->data_len > pdu->plen) {
		abort();
	}
	if (f->mode == 0) {
		*iovcnt = 0; /* discard */
		return 0;
	}
	f->iov[0].iov_base = f->buf;
	f->iov[0].iov_len = 100;
	f->iov[1].iov_base = f->buf + 100;
	f->iov[1].iov_len = sizeof(f->buf) - 100;
	*iov = f->iov;
	*iovcnt = 2;
	if (f->mode == 3 && pdu->type == NVME_TCP_PDU_TYPE_H2C_DATA) {
		*fei = 8;
		return NVME_TCP_FES_INVALID_HEADER_FIELD;
	}
	return 0;
}

static int
fz_on_pdu(void *ctx, struct nvmf_tcp_rx_pdu *pdu, uint32_t *fei)
{
	(void)ctx;
	(void)fei;
	if (pdu->type == NVME_TCP_PDU_TYPE_IC_REQ && pdu->plen != 128) {
		abort();
	}
	return 0;
}

static const struct nvmf_tcp_rx_ops g_fz_ops = {fz_on_header, fz_on_pdu};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvmf_tcp_rx rx;
	struct fz_ctx f;
	size_t off, chunk;
	long n;

	if (size < 2) {
		return 0;
	}
	memset(&f, 0, sizeof(f));
	nvmf_tcp_rx_init(&rx, &g_fz_ops, &f);
	rx.lim.ic_done = data[0] & 1;
	rx.lim.hdgst = data[0] & 2;
	rx.lim.ddgst = data[0] & 4;
	rx.lim.cpda = (data[0] >> 3) & 1;
	rx.lim.max_icd_bytes = 8192;
	rx.lim.maxh2cdata = 131072;
	f.mode = (data[0] >> 4) & 3;
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	for (off = 0; off < size; off += (size_t)n) {
		size_t len = size - off < chunk ? size - off : chunk;

		n = nvmf_tcp_rx_feed(&rx, data + off, len);
		if (n < 0) {
			if (rx.state != NVMF_TCP_RX_ERROR || rx.err_fes == 0 ||
			    rx.err_hdr_len > NVME_TCP_TERM_REQ_ERROR_DATA_MAX) {
				abort();
			}
			break;
		}
		if (n == 0) {
			break;
		}
	}
	return 0;
}
