/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP PDU receive parser and PDU header builders. No sockets, no threads, no
 * allocation: the parser consumes bytes from a buffer and calls back when a header is
 * complete and when a PDU is complete, so it can be unit tested and fuzzed alone.
 *
 * Receive path: the connection reads from its socket into a buffer and calls
 * nvmf_tcp_rx_feed() with it. The parser validates every header field the
 * specification constrains (NVMe/TCP 1.0, 3.6 and 3.3): PDU type allowed in this
 * direction and state, hlen, pdo, plen, digest flags, header digest, ICReq parameters,
 * data lengths against the negotiated limits. A violation puts the parser in the
 * ERROR state with the FES/FEI to send in a C2HTermReq; the connection must then be
 * terminated. A data digest mismatch is not fatal (3.4.2): the PDU completes with
 * ddgst_ok false and the transport fails the command.
 */
#ifndef FTGT_NVMF_TCP_PDU_H
#define FTGT_NVMF_TCP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ftgt/spec/nvme_tcp.h"

/* Largest header kept: ICReq (128 bytes) plus a header digest. */
#define NVMF_TCP_RX_HDR_MAX (NVME_TCP_IC_HLEN + NVME_TCP_DIGEST_LEN)
#define NVMF_TCP_RX_MAX_IOV 32

/* What the connection negotiated; the parser reads it before each PDU. */
struct nvmf_tcp_rx_limits {
	bool ic_done;           /* ICReq/ICResp exchanged */
	bool hdgst;             /* header digests negotiated */
	bool ddgst;             /* data digests negotiated */
	uint8_t cpda;           /* our ICResp's CPDA (dwords, 0's based) */
	uint32_t max_icd_bytes; /* largest in-capsule data accepted */
	uint32_t maxh2cdata;    /* our ICResp's MAXH2CDATA */
};

/* A parsed header, valid from on_header until the next PDU. */
struct nvmf_tcp_rx_pdu {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
	uint32_t data_len; /* bytes of data (no padding, no digest) */
	bool has_ddgst;    /* a data digest follows the data */
	bool ddgst_ok;     /* on_pdu: the data digest matched (or there was none) */
	/* on_header: the data_len bytes of data when all of them are in the buffer being
	 * fed, contiguous (NULL otherwise). A consumer that keeps that buffer alive may use
	 * them in place and have the parser skip them (*iovcnt 0; the digest is still
	 * checked before on_pdu). */
	const uint8_t *data_inplace;
	/* Header bytes as received (hlen bytes; typed views in spec/nvme_tcp.h). */
	union {
		uint8_t raw[NVMF_TCP_RX_HDR_MAX];
		struct nvme_tcp_ch ch;
		struct nvme_tcp_ic_req ic_req;
		struct nvme_tcp_term_req_hdr term_req;
		struct nvme_tcp_cmd cmd;
		struct nvme_tcp_data_hdr data;
	} hdr;
};

enum nvmf_tcp_rx_state {
	NVMF_TCP_RX_CH,        /* collecting the 8-byte common header */
	NVMF_TCP_RX_PSH,       /* collecting the rest of the header (+ digest) */
	NVMF_TCP_RX_HDR_READY, /* header valid; on_header to be (re)tried */
	NVMF_TCP_RX_PAD,       /* skipping pad between header and data (pdo) */
	NVMF_TCP_RX_DATA,      /* copying data into the consumer's iovec */
	NVMF_TCP_RX_DDGST,     /* collecting the data digest */
	NVMF_TCP_RX_ERROR,     /* fatal error: err_fes/err_fei say what */
};

/*
 * Callbacks. on_header: the header is valid; for a PDU with data, point *iov and
 * *iovcnt at where the data_len bytes go (*iovcnt 0: discard them). Return 0, -EAGAIN to be
 * called again at the next feed (no resources now; nothing is consumed meanwhile), or
 * a positive NVME_TCP_FES_* value with *fei set to make the PDU fatal.
 * on_pdu: the whole PDU is in; return 0 or a positive FES (fatal).
 */
struct nvmf_tcp_rx_ops {
	int (*on_header)(void *ctx, struct nvmf_tcp_rx_pdu *pdu, struct iovec **iov, int *iovcnt,
	                 uint32_t *fei);
	int (*on_pdu)(void *ctx, struct nvmf_tcp_rx_pdu *pdu, uint32_t *fei);
};

struct nvmf_tcp_rx {
	enum nvmf_tcp_rx_state state;
	struct nvmf_tcp_rx_limits lim;
	const struct nvmf_tcp_rx_ops *ops;
	void *ctx;
	struct nvmf_tcp_rx_pdu pdu;
	uint32_t hdr_got;  /* bytes of pdu.hdr.raw filled */
	uint32_t hdr_need; /* hlen + header digest */
	uint32_t pad_left;
	struct iovec *iov;
	int iovcnt;
	int iov_idx;
	size_t iov_off;
	uint32_t data_got;
	uint32_t crc;
	uint8_t ddgst[NVME_TCP_DIGEST_LEN];
	uint32_t ddgst_got;
	uint64_t pdus; /* PDUs completed */
	/* ERROR state: FES and FEI for the C2HTermReq; err_hdr_len bytes of pdu.hdr.raw
	 * are the offending header (to copy into the TermReq). */
	uint16_t err_fes;
	uint32_t err_fei;
	uint32_t err_hdr_len;
};

void nvmf_tcp_rx_init(struct nvmf_tcp_rx *rx, const struct nvmf_tcp_rx_ops *ops, void *ctx);

/*
 * Consume up to len bytes. Returns the number consumed (less than len when on_header
 * asked to wait), or -EPROTO when the stream is broken (rx->state == NVMF_TCP_RX_ERROR;
 * it stays there).
 */
long nvmf_tcp_rx_feed(struct nvmf_tcp_rx *rx, const uint8_t *buf, size_t len);

/*
 * Receiving straight into the consumer's buffers: while the parser copies a PDU's data
 * into the iovec on_header gave, nvmf_tcp_rx_data_iov() describes where the rest of that
 * data goes (up to max iovecs; returns how many, 0 when not copying data now), and after
 * the caller put n of those bytes there itself, nvmf_tcp_rx_data_placed() accounts for
 * them as if fed (digest included; on_pdu is called when the data is complete). Returns 0,
 * -EINVAL (n too large or not copying data), or -EPROTO (on_pdu made it fatal).
 */
int nvmf_tcp_rx_data_iov(const struct nvmf_tcp_rx *rx, struct iovec *iov, int max);
long nvmf_tcp_rx_data_placed(struct nvmf_tcp_rx *rx, size_t n);

/*
 * Check a complete header (hdr_len bytes, digest included when negotiated) against the
 * limits; the core of the parser, exposed for tests. Returns 0, or a positive FES with
 * *fei. Fills pdu's length fields.
 */
int nvmf_tcp_hdr_check(const struct nvmf_tcp_rx_limits *lim, struct nvmf_tcp_rx_pdu *pdu,
                       uint32_t *fei);

/* ---- builders (transmit side) ----------------------------------------------------- */

/* Header digest over hdr[0..hlen) stored little-endian at hdr + hlen. */
void nvmf_tcp_hdgst_set(void *hdr, uint32_t hlen);
/* CRC32C data digest of iov as it goes on the wire (little-endian value). */
uint32_t nvmf_tcp_ddgst(const struct iovec *iov, int iovcnt);

/*
 * Build a C2HTermReq into buf (at least 24 + 128 bytes) carrying up to 128 bytes of the
 * offending header. Returns its length.
 */
uint32_t nvmf_tcp_build_c2h_term_req(void *buf, uint16_t fes, uint32_t fei, const void *err_hdr,
                                     uint32_t err_hdr_len);

#endif /* FTGT_NVMF_TCP_PDU_H */
