/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP Transport Specification 1.0 wire formats (PDUs, section 3.6).
 *
 * Every PDU starts with the common header; hlen is the header length without the
 * header digest, pdo the offset of the data from the start of the PDU (0 when there is
 * no data), plen the whole PDU length including digests and padding.
 */
#ifndef FTGT_SPEC_NVME_TCP_H
#define FTGT_SPEC_NVME_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/spec/nvme.h"
#include "ftgt/util.h"

/* PDU types (NVMe/TCP 1.0, Figure 17). */
#define NVME_TCP_PDU_TYPE_IC_REQ       0x00
#define NVME_TCP_PDU_TYPE_IC_RESP      0x01
#define NVME_TCP_PDU_TYPE_H2C_TERM_REQ 0x02
#define NVME_TCP_PDU_TYPE_C2H_TERM_REQ 0x03
#define NVME_TCP_PDU_TYPE_CAPSULE_CMD  0x04
#define NVME_TCP_PDU_TYPE_CAPSULE_RESP 0x05
#define NVME_TCP_PDU_TYPE_H2C_DATA     0x06
#define NVME_TCP_PDU_TYPE_C2H_DATA     0x07
#define NVME_TCP_PDU_TYPE_R2T          0x09

/* Common header flags (NVMe/TCP 1.0, 3.6.1 and per-PDU sections). */
#define NVME_TCP_CH_FLAGS_HDGSTF         (1u << 0)
#define NVME_TCP_CH_FLAGS_DDGSTF         (1u << 1)
#define NVME_TCP_H2C_DATA_FLAGS_LAST_PDU (1u << 2)
#define NVME_TCP_C2H_DATA_FLAGS_LAST_PDU (1u << 2)
#define NVME_TCP_C2H_DATA_FLAGS_SUCCESS  (1u << 3)

#define NVME_TCP_DIGEST_LEN 4
#define NVME_TCP_PFV_1_0    0
#define NVME_TCP_CPDA_MAX   31
#define NVME_TCP_HPDA_MAX   31
/* Largest TermReq: 24 byte header plus at most 128 bytes of the offending header. */
#define NVME_TCP_TERM_REQ_ERROR_DATA_MAX 128
/* NVMe/TCP 1.0, 3.6.2.6: admin queue in-capsule data size (8 KiB). */
#ifndef NVME_TCP_ADMIN_ICD_BYTES
#define NVME_TCP_ADMIN_ICD_BYTES 8192
#endif

/* NVMe/TCP 1.0, 3.6.1 */
struct nvme_tcp_ch {
	uint8_t pdu_type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	ftgt_le32 plen;
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_ch) == 8);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_ch, plen) == 4);

/* ICReq (NVMe/TCP 1.0, 3.6.2.2). dgst bit 0 HDGST_ENABLE, bit 1 DDGST_ENABLE. */
struct nvme_tcp_ic_req {
	struct nvme_tcp_ch ch;
	ftgt_le16 pfv;
	uint8_t hpda; /* host PDU data alignment, dwords, 0's based */
	uint8_t dgst;
	ftgt_le32 maxr2t; /* 0's based */
	uint8_t rsvd16[112];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_ic_req) == 128);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_ic_req, pfv) == 8);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_ic_req, maxr2t) == 12);
#define NVME_TCP_DGST_HDGST_ENABLE (1u << 0)
#define NVME_TCP_DGST_DDGST_ENABLE (1u << 1)

/* ICResp (NVMe/TCP 1.0, 3.6.2.3). */
struct nvme_tcp_ic_resp {
	struct nvme_tcp_ch ch;
	ftgt_le16 pfv;
	uint8_t cpda; /* controller PDU data alignment, dwords, 0's based */
	uint8_t dgst;
	ftgt_le32 maxh2cdata; /* bytes, >= 4096, multiple of 4 */
	uint8_t rsvd16[112];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_ic_resp) == 128);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_ic_resp, maxh2cdata) == 12);

/* H2CTermReq / C2HTermReq header (NVMe/TCP 1.0, 3.6.2.4/3.6.2.5). */
struct nvme_tcp_term_req_hdr {
	struct nvme_tcp_ch ch;
	ftgt_le16 fes;
	uint8_t fei[4]; /* little-endian field error information */
	uint8_t rsvd14[10];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_term_req_hdr) == 24);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_term_req_hdr, fei) == 10);

/* Fatal error status (NVMe/TCP 1.0, Figure 28). */
#define NVME_TCP_FES_INVALID_HEADER_FIELD       0x01
#define NVME_TCP_FES_PDU_SEQUENCE_ERROR         0x02
#define NVME_TCP_FES_HDGST_ERROR                0x03
#define NVME_TCP_FES_DATA_TRANSFER_OUT_OF_RANGE 0x04
#define NVME_TCP_FES_R2T_LIMIT_EXCEEDED         0x05 /* "data transfer limit exceeded" */
#define NVME_TCP_FES_UNSUPPORTED_PARAMETER      0x06

/* CapsuleCmd (NVMe/TCP 1.0, 3.6.2.6): SQE, then in-capsule data at pdo. */
struct nvme_tcp_cmd {
	struct nvme_tcp_ch ch;
	struct nvme_cmd ccsqe;
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_cmd) == 72);

/* CapsuleResp (NVMe/TCP 1.0, 3.6.2.7). */
struct nvme_tcp_rsp {
	struct nvme_tcp_ch ch;
	struct nvme_cpl rccqe;
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_rsp) == 24);

/* H2CData (3.6.2.8) and C2HData (3.6.2.9) share one header layout. */
struct nvme_tcp_data_hdr {
	struct nvme_tcp_ch ch;
	ftgt_le16 cccid;
	ftgt_le16 ttag; /* H2C: the R2T's transfer tag; C2H: reserved */
	ftgt_le32 datao;
	ftgt_le32 datal;
	uint8_t rsvd20[4];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_data_hdr) == 24);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_data_hdr, datao) == 12);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_data_hdr, datal) == 16);

/* R2T (NVMe/TCP 1.0, 3.6.2.10). */
struct nvme_tcp_r2t_hdr {
	struct nvme_tcp_ch ch;
	ftgt_le16 cccid;
	ftgt_le16 ttag;
	ftgt_le32 r2to;
	ftgt_le32 r2tl;
	uint8_t rsvd20[4];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_tcp_r2t_hdr) == 24);
FTGT_STATIC_ASSERT(offsetof(struct nvme_tcp_r2t_hdr, r2tl) == 16);

/* Fixed header lengths (hlen) per PDU type. */
#define NVME_TCP_IC_HLEN       128
#define NVME_TCP_TERM_REQ_HLEN 24
#define NVME_TCP_CMD_HLEN      72
#define NVME_TCP_RSP_HLEN      24
#define NVME_TCP_DATA_HLEN     24
#define NVME_TCP_R2T_HLEN      24

#endif /* FTGT_SPEC_NVME_TCP_H */
