/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM Express over Fabrics 1.1 wire formats: fabrics command capsules (Connect, Property
 * Get/Set, Disconnect), their status codes, and the discovery log page.
 */
#ifndef FTGT_SPEC_NVMF_H
#define FTGT_SPEC_NVMF_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/spec/nvme.h"
#include "ftgt/util.h"

/* Fabrics command types (NVMe-oF 1.1, Figure 9). Opcode is NVME_OPC_FABRIC. */
#define NVMF_FCTYPE_PROPERTY_SET 0x00
#define NVMF_FCTYPE_CONNECT      0x01
#define NVMF_FCTYPE_PROPERTY_GET 0x04
#define NVMF_FCTYPE_AUTH_SEND    0x05
#define NVMF_FCTYPE_AUTH_RECV    0x06
#define NVMF_FCTYPE_DISCONNECT   0x08

/* Fabrics status codes, SCT command specific (NVMe-oF 1.1, Figure 12). */
#define NVMF_SC_INCOMPATIBLE_FORMAT   0x80
#define NVMF_SC_CONTROLLER_BUSY       0x81
#define NVMF_SC_INVALID_PARAM         0x82
#define NVMF_SC_RESTART_DISCOVERY     0x83
#define NVMF_SC_INVALID_HOST          0x84
#define NVMF_SC_INVALID_QUEUE_TYPE    0x85
#define NVMF_SC_LOG_RESTART_DISCOVERY 0x90
#define NVMF_SC_AUTH_REQUIRED         0x91

/* Generic fabrics command capsule (NVMe-oF 1.1, Figure 10). */
struct nvmf_capsule_cmd {
	uint8_t opcode;
	uint8_t rsvd1;
	ftgt_le16 cid;
	uint8_t fctype;
	uint8_t rsvd2[35];
	uint8_t fabric_specific[24];
};
FTGT_STATIC_ASSERT(sizeof(struct nvmf_capsule_cmd) == 64);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_capsule_cmd, fctype) == 4);

/* Connect command (NVMe-oF 1.1, Figure 19). */
struct nvmf_connect_cmd {
	uint8_t opcode;
	uint8_t rsvd1;
	ftgt_le16 cid;
	uint8_t fctype;
	uint8_t rsvd2[19];
	struct nvme_sgl_desc sgl1;
	ftgt_le16 recfmt;
	ftgt_le16 qid;
	ftgt_le16 sqsize; /* 0's based */
	uint8_t cattr;    /* bit 2: I/O queue deletion / SQ flow control disable */
	uint8_t rsvd3;
	ftgt_le32 kato; /* ms */
	uint8_t rsvd4[12];
};
FTGT_STATIC_ASSERT(sizeof(struct nvmf_connect_cmd) == 64);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_cmd, sgl1) == 24);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_cmd, recfmt) == 40);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_cmd, qid) == 42);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_cmd, sqsize) == 44);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_cmd, cattr) == 46);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_cmd, kato) == 48);
#define NVMF_CONNECT_CATTR_DISABLE_SQFC (1u << 2)

/* Connect data (NVMe-oF 1.1, Figure 20). */
struct nvmf_connect_data {
	uint8_t hostid[16];
	ftgt_le16 cntlid;
	uint8_t rsvd18[238];
	char subnqn[256];
	char hostnqn[256];
	uint8_t rsvd768[256];
};
FTGT_STATIC_ASSERT(sizeof(struct nvmf_connect_data) == 1024);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_data, cntlid) == 16);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_data, subnqn) == 256);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_connect_data, hostnqn) == 512);

/* Connect: CNTLID values (NVMe-oF 1.1, 3.3.1) */
#define NVMF_CNTLID_DYNAMIC    0xffff
#define NVMF_CNTLID_STATIC_ANY 0xfffe
#define NVMF_CNTLID_MIN        1
#define NVMF_CNTLID_MAX        0xffef

/*
 * Connect response dword 0 (NVMe-oF 1.1, Figure 21/22): on success CNTLID in bits 15:0
 * and AUTHREQ in 31:16; on NVMF_SC_INVALID_PARAM the IPO, the byte offset of the bad
 * field, in bits 15:0 and IATTR (0: in the command, 1: in the data) in bits 23:16 — the
 * layout Linux (nvmet, and the host's error decoding) and SPDK use.
 */
#define NVMF_CONNECT_IATTR_CMD                0
#define NVMF_CONNECT_IATTR_DATA               1
#define NVMF_CONNECT_INVALID_CDW0(iattr, ipo) ((uint32_t)(ipo) | ((uint32_t)(iattr) << 16))

/* Property Set (NVMe-oF 1.1, Figure 25). attrib bits 2:0: 0 = 4 bytes, 1 = 8 bytes. */
struct nvmf_property_set_cmd {
	uint8_t opcode;
	uint8_t rsvd1;
	ftgt_le16 cid;
	uint8_t fctype;
	uint8_t rsvd2[35];
	uint8_t attrib;
	uint8_t rsvd3[3];
	ftgt_le32 ofst;
	ftgt_le64 value;
	uint8_t rsvd4[8];
};
FTGT_STATIC_ASSERT(sizeof(struct nvmf_property_set_cmd) == 64);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_property_set_cmd, attrib) == 40);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_property_set_cmd, ofst) == 44);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_property_set_cmd, value) == 48);

/* Property Get (NVMe-oF 1.1, Figure 23); the value comes back in CQE dwords 0..1. */
struct nvmf_property_get_cmd {
	uint8_t opcode;
	uint8_t rsvd1;
	ftgt_le16 cid;
	uint8_t fctype;
	uint8_t rsvd2[35];
	uint8_t attrib;
	uint8_t rsvd3[3];
	ftgt_le32 ofst;
	uint8_t rsvd4[16];
};
FTGT_STATIC_ASSERT(sizeof(struct nvmf_property_get_cmd) == 64);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_property_get_cmd, ofst) == 44);
#define NVMF_PROP_SIZE_4 0
#define NVMF_PROP_SIZE_8 1

/* ---- Discovery (NVMe-oF 1.1, 5.3; NVMe Base 2.0, 5.16.1.23) ---------------------- */

/* Transport types (TRTYPE) */
#define NVMF_TRTYPE_RDMA       0x01
#define NVMF_TRTYPE_FC         0x02
#define NVMF_TRTYPE_TCP        0x03
#define NVMF_TRTYPE_INTRA_HOST 0xfe
/* Address families (ADRFAM) */
#define NVMF_ADRFAM_IPV4       0x01
#define NVMF_ADRFAM_IPV6       0x02
#define NVMF_ADRFAM_IB         0x03
#define NVMF_ADRFAM_FC         0x04
#define NVMF_ADRFAM_INTRA_HOST 0xfe
/* Subsystem types (SUBTYPE) */
#define NVMF_SUBTYPE_DISCOVERY_REFERRAL 0x01
#define NVMF_SUBTYPE_NVME               0x02
#define NVMF_SUBTYPE_DISCOVERY_CURRENT  0x03
/* TREQ bits 1:0 secure channel; bit 2 SQ flow control disable supported */
#define NVMF_TREQ_SECURE_CHANNEL_NOT_SPECIFIED 0x0
#define NVMF_TREQ_SECURE_CHANNEL_REQUIRED      0x1
#define NVMF_TREQ_SECURE_CHANNEL_NOT_REQUIRED  0x2
#define NVMF_TREQ_DISABLE_SQFC                 (1u << 2)
/* EFLAGS */
#define NVMF_DISC_EFLAGS_DUPRETINFO (1u << 0)
#define NVMF_DISC_EFLAGS_EPCSD      (1u << 1)
/* TCP transport specific address subtype: security type */
#define NVMF_TCP_SECTYPE_NONE  0x0
#define NVMF_TCP_SECTYPE_TLS12 0x1
#define NVMF_TCP_SECTYPE_TLS13 0x2

/* Discovery log page entry (NVMe Base 2.0, Figure 260). */
struct nvmf_discovery_log_entry {
	uint8_t trtype;
	uint8_t adrfam;
	uint8_t subtype;
	uint8_t treq;
	ftgt_le16 portid;
	ftgt_le16 cntlid;
	ftgt_le16 asqsz;
	ftgt_le16 eflags;
	uint8_t rsvd12[20];
	char trsvcid[32];
	uint8_t rsvd64[192];
	char subnqn[256];
	char traddr[256];
	uint8_t tsas[256]; /* TCP: byte 0 SECTYPE */
};
FTGT_STATIC_ASSERT(sizeof(struct nvmf_discovery_log_entry) == 1024);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_discovery_log_entry, asqsz) == 8);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_discovery_log_entry, trsvcid) == 32);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_discovery_log_entry, subnqn) == 256);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_discovery_log_entry, traddr) == 512);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_discovery_log_entry, tsas) == 768);

/* Discovery log page header (NVMe Base 2.0, Figure 259); entries follow. */
struct nvmf_discovery_log_page {
	ftgt_le64 genctr;
	ftgt_le64 numrec;
	ftgt_le16 recfmt;
	uint8_t rsvd18[1006];
	struct nvmf_discovery_log_entry entries[];
};
FTGT_STATIC_ASSERT(sizeof(struct nvmf_discovery_log_page) == 1024);
FTGT_STATIC_ASSERT(offsetof(struct nvmf_discovery_log_page, recfmt) == 16);

#endif /* FTGT_SPEC_NVMF_H */
