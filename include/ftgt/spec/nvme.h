/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM Express Base Specification 2.0 wire formats: submission and completion queue
 * entries, status codes, the Identify data structures, the log pages and features a
 * fabrics target serves, and the controller properties (registers).
 *
 * Fixed-width, endian-named fields, no bitfields; sizes and offsets are asserted. Bit
 * fields inside a field are given as shift/mask macros next to the field.
 */
#ifndef FTGT_SPEC_NVME_H
#define FTGT_SPEC_NVME_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/util.h"

/* ---- Submission queue entry (NVMe Base 2.0, 4.2) ------------------------------------ */

/* NVMe Base 2.0, 4.3.2: SGL descriptor (16 bytes). */
struct nvme_sgl_desc {
	ftgt_le64 address;
	ftgt_le32 length;
	uint8_t rsvd[3];
	uint8_t type; /* bits 7:4 descriptor type, bits 3:0 sub type */
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_sgl_desc) == 16);
FTGT_STATIC_ASSERT(offsetof(struct nvme_sgl_desc, type) == 15);

#define NVME_SGL_TYPE(t)                   ((uint8_t)((t) >> 4))
#define NVME_SGL_SUBTYPE(t)                ((uint8_t)((t)&0xf))
#define NVME_SGL_TYPE_DATA_BLOCK           0x0
#define NVME_SGL_TYPE_BIT_BUCKET           0x1
#define NVME_SGL_TYPE_SEGMENT              0x2
#define NVME_SGL_TYPE_LAST_SEGMENT         0x3
#define NVME_SGL_TYPE_KEYED_DATA_BLOCK     0x4
#define NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK 0x5
#define NVME_SGL_SUBTYPE_ADDRESS           0x0
#define NVME_SGL_SUBTYPE_OFFSET            0x1
#define NVME_SGL_SUBTYPE_TRANSPORT         0xa

/* NVMe Base 2.0, Figure 88: common command format (64 bytes). */
struct nvme_cmd {
	uint8_t opc;
	uint8_t flags; /* bits 1:0 FUSE, bits 7:6 PSDT */
	ftgt_le16 cid;
	ftgt_le32 nsid;
	ftgt_le32 cdw2;
	ftgt_le32 cdw3;
	ftgt_le64 mptr;
	struct nvme_sgl_desc dptr; /* PRP1/PRP2 or SGL1; fabrics: always SGL1 */
	ftgt_le32 cdw10;
	ftgt_le32 cdw11;
	ftgt_le32 cdw12;
	ftgt_le32 cdw13;
	ftgt_le32 cdw14;
	ftgt_le32 cdw15;
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_cmd) == 64);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cmd, nsid) == 4);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cmd, mptr) == 16);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cmd, dptr) == 24);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cmd, cdw10) == 40);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cmd, cdw15) == 60);

#define NVME_CMD_FUSE_MASK        0x3
#define NVME_CMD_FUSE_NONE        0x0
#define NVME_CMD_FUSE_FIRST       0x1
#define NVME_CMD_FUSE_SECOND      0x2
#define NVME_CMD_PSDT_SHIFT       6
#define NVME_CMD_PSDT_MASK        0x3
#define NVME_PSDT_PRP             0x0
#define NVME_PSDT_SGL_MPTR_CONTIG 0x1
#define NVME_PSDT_SGL_MPTR_SGL    0x2

/* Broadcast namespace ID (NVMe Base 2.0, 3.2.1.2). */
#define NVME_NSID_ALL 0xffffffffu

/* ---- Completion queue entry (NVMe Base 2.0, 4.6) ------------------------------------ */

struct nvme_cpl {
	ftgt_le32 cdw0;
	ftgt_le32 cdw1;
	ftgt_le16 sqhd;
	ftgt_le16 sqid;
	ftgt_le16 cid;
	ftgt_le16 status; /* bit 0 phase, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 M, 15 DNR */
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_cpl) == 16);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cpl, sqhd) == 8);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cpl, cid) == 12);
FTGT_STATIC_ASSERT(offsetof(struct nvme_cpl, status) == 14);

#define NVME_STATUS_P         (1u << 0)
#define NVME_STATUS_SC_SHIFT  1
#define NVME_STATUS_SC_MASK   0xffu
#define NVME_STATUS_SCT_SHIFT 9
#define NVME_STATUS_SCT_MASK  0x7u
#define NVME_STATUS_M         (1u << 14)
#define NVME_STATUS_DNR       (1u << 15)
/* The status field without the phase bit, as a CPU-order value. */
#define NVME_STATUS(sct, sc)                                                  \
	((uint16_t)((((sct)&NVME_STATUS_SCT_MASK) << NVME_STATUS_SCT_SHIFT) | \
	            (((sc)&NVME_STATUS_SC_MASK) << NVME_STATUS_SC_SHIFT)))
#define NVME_STATUS_GET_SC(s)  (((s) >> NVME_STATUS_SC_SHIFT) & NVME_STATUS_SC_MASK)
#define NVME_STATUS_GET_SCT(s) (((s) >> NVME_STATUS_SCT_SHIFT) & NVME_STATUS_SCT_MASK)

/* Status code types (NVMe Base 2.0, Figure 93). */
#define NVME_SCT_GENERIC          0x0
#define NVME_SCT_COMMAND_SPECIFIC 0x1
#define NVME_SCT_MEDIA_ERROR      0x2
#define NVME_SCT_PATH             0x3
#define NVME_SCT_VENDOR_SPECIFIC  0x7

/* Generic command status (NVMe Base 2.0, Figure 94 and Figure 95). */
#define NVME_SC_SUCCESS                      0x00
#define NVME_SC_INVALID_OPCODE               0x01
#define NVME_SC_INVALID_FIELD                0x02
#define NVME_SC_COMMAND_ID_CONFLICT          0x03
#define NVME_SC_DATA_TRANSFER_ERROR          0x04
#define NVME_SC_ABORTED_POWER_LOSS           0x05
#define NVME_SC_INTERNAL_DEVICE_ERROR        0x06
#define NVME_SC_ABORTED_BY_REQUEST           0x07
#define NVME_SC_ABORTED_SQ_DELETION          0x08
#define NVME_SC_ABORTED_FAILED_FUSED         0x09
#define NVME_SC_ABORTED_MISSING_FUSED        0x0a
#define NVME_SC_INVALID_NAMESPACE_OR_FORMAT  0x0b
#define NVME_SC_COMMAND_SEQUENCE_ERROR       0x0c
#define NVME_SC_INVALID_SGL_SEG_DESCRIPTOR   0x0d
#define NVME_SC_INVALID_NUM_SGL_DESCIRPTORS  0x0e
#define NVME_SC_DATA_SGL_LENGTH_INVALID      0x0f
#define NVME_SC_METADATA_SGL_LENGTH_INVALID  0x10
#define NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID  0x11
#define NVME_SC_INVALID_CONTROLLER_MEM_BUF   0x12
#define NVME_SC_INVALID_PRP_OFFSET           0x13
#define NVME_SC_ATOMIC_WRITE_UNIT_EXCEEDED   0x14
#define NVME_SC_OPERATION_DENIED             0x15
#define NVME_SC_INVALID_SGL_OFFSET           0x16
#define NVME_SC_HOSTID_INCONSISTENT_FORMAT   0x18
#define NVME_SC_KEEP_ALIVE_EXPIRED           0x19
#define NVME_SC_KEEP_ALIVE_INVALID           0x1a
#define NVME_SC_ABORTED_PREEMPT              0x1b
#define NVME_SC_NAMESPACE_IS_WRITE_PROTECTED 0x20
#define NVME_SC_COMMAND_INTERRUPTED          0x21
#define NVME_SC_TRANSIENT_TRANSPORT_ERROR    0x22
#define NVME_SC_LBA_OUT_OF_RANGE             0x80
#define NVME_SC_CAPACITY_EXCEEDED            0x81
#define NVME_SC_NAMESPACE_NOT_READY          0x82
#define NVME_SC_RESERVATION_CONFLICT         0x83

/* Command specific status (NVMe Base 2.0, Figure 96; NVM Command Set 1.0, Figure 18). */
#define NVME_SC_COMPLETION_QUEUE_INVALID           0x00
#define NVME_SC_INVALID_QUEUE_IDENTIFIER           0x01
#define NVME_SC_INVALID_QUEUE_SIZE                 0x02
#define NVME_SC_ABORT_COMMAND_LIMIT_EXCEEDED       0x03
#define NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED 0x05
#define NVME_SC_INVALID_FIRMWARE_SLOT              0x06
#define NVME_SC_INVALID_LOG_PAGE                   0x09
#define NVME_SC_FEATURE_ID_NOT_SAVEABLE            0x0d
#define NVME_SC_FEATURE_NOT_CHANGEABLE             0x0e
#define NVME_SC_FEATURE_NOT_NAMESPACE_SPECIFIC     0x0f
#define NVME_SC_CONFLICTING_ATTRIBUTES             0x80
#define NVME_SC_INVALID_PROTECTION_INFO            0x81
#define NVME_SC_ATTEMPTED_WRITE_TO_RO_RANGE        0x82

/* Media and data integrity errors (NVMe Base 2.0, Figure 97). */
#define NVME_SC_WRITE_FAULTS                   0x80
#define NVME_SC_UNRECOVERED_READ_ERROR         0x81
#define NVME_SC_COMPARE_FAILURE                0x85
#define NVME_SC_ACCESS_DENIED                  0x86
#define NVME_SC_DEALLOCATED_OR_UNWRITTEN_BLOCK 0x87

/* ---- Opcodes ----------------------------------------------------------------------- */

/* Admin commands (NVMe Base 2.0, Figure 138). */
#define NVME_OPC_DELETE_IO_SQ              0x00
#define NVME_OPC_CREATE_IO_SQ              0x01
#define NVME_OPC_GET_LOG_PAGE              0x02
#define NVME_OPC_DELETE_IO_CQ              0x04
#define NVME_OPC_CREATE_IO_CQ              0x05
#define NVME_OPC_IDENTIFY                  0x06
#define NVME_OPC_ABORT                     0x08
#define NVME_OPC_SET_FEATURES              0x09
#define NVME_OPC_GET_FEATURES              0x0a
#define NVME_OPC_ASYNC_EVENT_REQUEST       0x0c
#define NVME_OPC_NS_MANAGEMENT             0x0d
#define NVME_OPC_FIRMWARE_COMMIT           0x10
#define NVME_OPC_FIRMWARE_IMAGE_DOWNLOAD   0x11
#define NVME_OPC_DEVICE_SELF_TEST          0x14
#define NVME_OPC_NS_ATTACHMENT             0x15
#define NVME_OPC_KEEP_ALIVE                0x18
#define NVME_OPC_DIRECTIVE_SEND            0x19
#define NVME_OPC_DIRECTIVE_RECEIVE         0x1a
#define NVME_OPC_VIRTUALIZATION_MANAGEMENT 0x1c
#define NVME_OPC_NVME_MI_SEND              0x1d
#define NVME_OPC_NVME_MI_RECEIVE           0x1e
#define NVME_OPC_DOORBELL_BUFFER_CONFIG    0x7c
#define NVME_OPC_FABRIC                    0x7f /* fabrics commands on every queue (NVMe-oF 1.1, 3.3) */
#define NVME_OPC_FORMAT_NVM                0x80
#define NVME_OPC_SECURITY_SEND             0x81
#define NVME_OPC_SECURITY_RECEIVE          0x82
#define NVME_OPC_SANITIZE                  0x84

/* NVM command set I/O commands (NVM Command Set 1.0, Figure 14). */
#define NVME_OPC_FLUSH                0x00
#define NVME_OPC_WRITE                0x01
#define NVME_OPC_READ                 0x02
#define NVME_OPC_WRITE_UNCORRECTABLE  0x04
#define NVME_OPC_COMPARE              0x05
#define NVME_OPC_WRITE_ZEROES         0x08
#define NVME_OPC_DATASET_MANAGEMENT   0x09
#define NVME_OPC_VERIFY               0x0c
#define NVME_OPC_RESERVATION_REGISTER 0x0d
#define NVME_OPC_RESERVATION_REPORT   0x0e
#define NVME_OPC_RESERVATION_ACQUIRE  0x11
#define NVME_OPC_RESERVATION_RELEASE  0x15
#define NVME_OPC_COPY                 0x19

/* Data transfer direction encoded in bits 1:0 of every opcode (NVMe Base 2.0, 5.1). */
#define NVME_OPC_XFER_NONE          0x0
#define NVME_OPC_XFER_HOST_TO_CTRLR 0x1
#define NVME_OPC_XFER_CTRLR_TO_HOST 0x2
#define NVME_OPC_XFER_BIDIRECTIONAL 0x3
#define NVME_OPC_GET_XFER(opc)      ((opc)&0x3)

/* Read/Write cdw12 (NVM Command Set 1.0, 3.2.4/3.2.6): bits 15:0 NLB (0's based). */
#define NVME_RW_NLB_MASK 0xffffu
#define NVME_RW_FUA      (1u << 30)
#define NVME_RW_LR       (1u << 31)
/* Write Zeroes cdw12 bit 25: deallocate (NVM Command Set 1.0, 3.2.8). */
#define NVME_WZ_DEAC (1u << 25)

/* Dataset Management (NVM Command Set 1.0, 3.2.3). cdw10 bits 7:0 NR (0's based). */
#define NVME_DSM_ATTR_IDR        (1u << 0)
#define NVME_DSM_ATTR_IDW        (1u << 1)
#define NVME_DSM_ATTR_DEALLOCATE (1u << 2)
#define NVME_DSM_MAX_RANGES      256
struct nvme_dsm_range {
	ftgt_le32 attributes;
	ftgt_le32 nlb; /* not 0's based */
	ftgt_le64 slba;
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_dsm_range) == 16);

/* ---- Identify (NVMe Base 2.0, 5.17) ------------------------------------------------ */

/* cdw10 bits 7:0 CNS, bits 31:16 CNTID; cdw11 bits 31:24 CSI. */
#define NVME_IDENTIFY_CNS_NS                0x00
#define NVME_IDENTIFY_CNS_CTRLR             0x01
#define NVME_IDENTIFY_CNS_ACTIVE_NS_LIST    0x02
#define NVME_IDENTIFY_CNS_NS_ID_DESC_LIST   0x03
#define NVME_IDENTIFY_CNS_NVMSET_LIST       0x04
#define NVME_IDENTIFY_CNS_CS_NS             0x05
#define NVME_IDENTIFY_CNS_CS_CTRLR          0x06
#define NVME_IDENTIFY_CNS_CS_ACTIVE_NS_LIST 0x07
#define NVME_IDENTIFY_CNS_CS_INDEP_NS       0x08
#define NVME_IDENTIFY_CNS_ALLOCATED_NS_LIST 0x10
#define NVME_IDENTIFY_CNS_CTRLR_LIST        0x13
#define NVME_IDENTIFY_CNS_CS_LIST           0x1c

#define NVME_CSI_NVM 0x00
#define NVME_CSI_KV  0x01
#define NVME_CSI_ZNS 0x02

#define NVME_IDENTIFY_DATA_BYTES 4096

/* Power state descriptor (NVMe Base 2.0, Figure 276). */
struct nvme_power_state {
	ftgt_le16 mp;
	uint8_t rsvd2;
	uint8_t flags; /* bit 0 MXPS, bit 1 NOPS */
	ftgt_le32 enlat;
	ftgt_le32 exlat;
	uint8_t rrt;
	uint8_t rrl;
	uint8_t rwt;
	uint8_t rwl;
	ftgt_le16 idlp;
	uint8_t ips;
	uint8_t rsvd19;
	ftgt_le16 actp;
	uint8_t apws;
	uint8_t rsvd23[9];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_power_state) == 32);

/* Identify Controller data structure (NVMe Base 2.0, Figure 275). */
struct nvme_ctrlr_data {
	ftgt_le16 vid;
	ftgt_le16 ssvid;
	uint8_t sn[20];
	uint8_t mn[40];
	uint8_t fr[8];
	uint8_t rab;
	uint8_t ieee[3];
	uint8_t cmic;
	uint8_t mdts;
	ftgt_le16 cntlid;
	ftgt_le32 ver;
	ftgt_le32 rtd3r;
	ftgt_le32 rtd3e;
	ftgt_le32 oaes;
	ftgt_le32 ctratt;
	ftgt_le16 rrls;
	uint8_t rsvd102[9];
	uint8_t cntrltype;
	uint8_t fguid[16];
	ftgt_le16 crdt[3];
	uint8_t rsvd134[119];
	uint8_t nvmsr;
	uint8_t vwci;
	uint8_t mec;
	ftgt_le16 oacs;
	uint8_t acl;
	uint8_t aerl;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe;
	uint8_t npss;
	uint8_t avscc;
	uint8_t apsta;
	ftgt_le16 wctemp;
	ftgt_le16 cctemp;
	ftgt_le16 mtfa;
	ftgt_le32 hmpre;
	ftgt_le32 hmmin;
	uint8_t tnvmcap[16];
	uint8_t unvmcap[16];
	ftgt_le32 rpmbs;
	ftgt_le16 edstt;
	uint8_t dsto;
	uint8_t fwug;
	ftgt_le16 kas;
	ftgt_le16 hctma;
	ftgt_le16 mntmt;
	ftgt_le16 mxtmt;
	ftgt_le32 sanicap;
	ftgt_le32 hmminds;
	ftgt_le16 hmmaxd;
	ftgt_le16 nsetidmax;
	ftgt_le16 endgidmax;
	uint8_t anatt;
	uint8_t anacap;
	ftgt_le32 anagrpmax;
	ftgt_le32 nanagrpid;
	ftgt_le32 pels;
	ftgt_le16 domainid;
	uint8_t rsvd358[10];
	uint8_t megcap[16];
	uint8_t rsvd384[128];
	uint8_t sqes;
	uint8_t cqes;
	ftgt_le16 maxcmd;
	ftgt_le32 nn;
	ftgt_le16 oncs;
	ftgt_le16 fuses;
	uint8_t fna;
	uint8_t vwc;
	ftgt_le16 awun;
	ftgt_le16 awupf;
	uint8_t icsvscc;
	uint8_t nwpc;
	ftgt_le16 acwu;
	ftgt_le16 ocfs;
	ftgt_le32 sgls;
	ftgt_le32 mnan;
	uint8_t maxdna[16];
	ftgt_le32 maxcna;
	uint8_t rsvd564[204];
	char subnqn[256];
	uint8_t rsvd1024[768];
	/* NVMe over Fabrics attributes (NVMe Base 2.0, Figure 275, bytes 1792..2047). */
	ftgt_le32 ioccsz;
	ftgt_le32 iorcsz;
	ftgt_le16 icdoff;
	uint8_t fcatt;
	uint8_t msdbd;
	ftgt_le16 ofcs;
	uint8_t rsvd1806[242];
	struct nvme_power_state psd[32];
	uint8_t vs[1024];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_ctrlr_data) == 4096);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, mdts) == 77);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, cntlid) == 78);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, ver) == 80);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, oaes) == 92);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, cntrltype) == 111);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, fguid) == 112);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, oacs) == 256);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, kas) == 320);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, anatt) == 342);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, sqes) == 512);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, nn) == 516);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, oncs) == 520);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, vwc) == 525);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, acwu) == 532);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, sgls) == 536);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, subnqn) == 768);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, ioccsz) == 1792);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, msdbd) == 1803);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, psd) == 2048);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ctrlr_data, vs) == 3072);

/* CMIC bits */
#define NVME_CTRLR_CMIC_MULTI_PORT  (1u << 0)
#define NVME_CTRLR_CMIC_MULTI_CTRLR (1u << 1)
#define NVME_CTRLR_CMIC_ANA         (1u << 3)
/* OAES bits */
#define NVME_CTRLR_OAES_NS_ATTR_NOTICES              (1u << 8)
#define NVME_CTRLR_OAES_FW_ACTIVATION_NOTICES        (1u << 9)
#define NVME_CTRLR_OAES_ANA_CHANGE_NOTICES           (1u << 11)
#define NVME_CTRLR_OAES_DISCOVERY_LOG_CHANGE_NOTICES (1u << 31)
/* CNTRLTYPE */
#define NVME_CTRLR_TYPE_IO        1
#define NVME_CTRLR_TYPE_DISCOVERY 2
#define NVME_CTRLR_TYPE_ADMIN     3
/* LPA bits */
#define NVME_CTRLR_LPA_SMART_PER_NS  (1u << 0)
#define NVME_CTRLR_LPA_CMD_EFFECTS   (1u << 1)
#define NVME_CTRLR_LPA_EXTENDED_DATA (1u << 2)
/* FRMW: bit 0 slot 1 read only, bits 3:1 number of slots */
/* ONCS bits */
#define NVME_CTRLR_ONCS_COMPARE             (1u << 0)
#define NVME_CTRLR_ONCS_WRITE_UNCORRECTABLE (1u << 1)
#define NVME_CTRLR_ONCS_DSM                 (1u << 2)
#define NVME_CTRLR_ONCS_WRITE_ZEROES        (1u << 3)
#define NVME_CTRLR_ONCS_SAVE_FEATURES       (1u << 4)
#define NVME_CTRLR_ONCS_RESERVATIONS        (1u << 5)
#define NVME_CTRLR_ONCS_TIMESTAMP           (1u << 6)
/* FUSES bits */
#define NVME_CTRLR_FUSES_COMPARE_AND_WRITE (1u << 0)
/* VWC bits */
#define NVME_CTRLR_VWC_PRESENT            (1u << 0)
#define NVME_CTRLR_VWC_NSID_ALL_SUPPORTED (0x3u << 1) /* flush with NSID FFFFFFFFh */
/* SGLS bits */
#define NVME_CTRLR_SGLS_SUPPORTED (1u << 0)
#define NVME_CTRLR_SGLS_KEYED     (1u << 2)
#define NVME_CTRLR_SGLS_OFFSET    (1u << 20)
/* OFCS bit 0: disconnect command supported */

/* LBA format (NVM Command Set 1.0, Figure 98). */
struct nvme_lba_format {
	ftgt_le16 ms;
	uint8_t lbads; /* log2 of the data size */
	uint8_t rp;    /* bits 1:0 relative performance */
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_lba_format) == 4);

/* Identify Namespace data structure, NVM command set (NVM Command Set 1.0, Figure 97). */
struct nvme_ns_data {
	ftgt_le64 nsze;
	ftgt_le64 ncap;
	ftgt_le64 nuse;
	uint8_t nsfeat;
	uint8_t nlbaf; /* 0's based */
	uint8_t flbas;
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;
	ftgt_le16 nawun;
	ftgt_le16 nawupf;
	ftgt_le16 nacwu;
	ftgt_le16 nabsn;
	ftgt_le16 nabo;
	ftgt_le16 nabspf;
	ftgt_le16 noiob;
	uint8_t nvmcap[16];
	ftgt_le16 npwg;
	ftgt_le16 npwa;
	ftgt_le16 npdg;
	ftgt_le16 npda;
	ftgt_le16 nows;
	ftgt_le16 mssrl;
	ftgt_le32 mcl;
	uint8_t msrc;
	uint8_t rsvd81;
	uint8_t nulbaf;
	uint8_t rsvd83[9];
	ftgt_le32 anagrpid;
	uint8_t rsvd96[3];
	uint8_t nsattr;
	ftgt_le16 nvmsetid;
	ftgt_le16 endgid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvme_lba_format lbaf[64];
	uint8_t rsvd384[3712];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_ns_data) == 4096);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, nsfeat) == 24);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, dlfeat) == 33);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, noiob) == 46);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, npwg) == 64);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, anagrpid) == 92);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, nguid) == 104);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, eui64) == 120);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_data, lbaf) == 128);

/* NSFEAT bits */
#define NVME_NS_NSFEAT_THIN_PROV (1u << 0)
#define NVME_NS_NSFEAT_NSABP     (1u << 1) /* NAWUN etc. valid */
#define NVME_NS_NSFEAT_DAE       (1u << 2)
#define NVME_NS_NSFEAT_UIDREUSE  (1u << 3)
#define NVME_NS_NSFEAT_OPTPERF   (1u << 4)
/* NMIC bit 0: may be attached to several controllers */
#define NVME_NS_NMIC_SHARED (1u << 0)
/* DLFEAT: bits 2:0 read behaviour of deallocated blocks (001b: zeroes), bit 3 WZ DEAC */
#define NVME_NS_DLFEAT_READ_ZEROES 0x1
#define NVME_NS_DLFEAT_WZ_DEAC     (1u << 3)

/* I/O command set independent Identify Namespace (NVMe Base 2.0, Figure 280). */
struct nvme_ns_cs_indep_data {
	uint8_t nsfeat;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	ftgt_le32 anagrpid;
	uint8_t nsattr;
	uint8_t rsvd9;
	ftgt_le16 nvmsetid;
	ftgt_le16 endgid;
	uint8_t nstat; /* bit 0: namespace ready */
	uint8_t rsvd15[4081];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_ns_cs_indep_data) == 4096);
FTGT_STATIC_ASSERT(offsetof(struct nvme_ns_cs_indep_data, nstat) == 14);

/* Namespace identification descriptor (NVMe Base 2.0, Figure 279). */
struct nvme_ns_id_desc {
	uint8_t nidt;
	uint8_t nidl;
	uint8_t rsvd[2];
	uint8_t nid[];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_ns_id_desc) == 4);
#define NVME_NIDT_EUI64 0x1 /* nidl 8 */
#define NVME_NIDT_NGUID 0x2 /* nidl 16 */
#define NVME_NIDT_UUID  0x3 /* nidl 16 */
#define NVME_NIDT_CSI   0x4 /* nidl 1 */

/* ---- Log pages (NVMe Base 2.0, 5.16) ------------------------------------------------ */

/*
 * Get Log Page: cdw10 bits 7:0 LID, 14:8 LSP, 15 RAE, 31:16 NUMDL; cdw11 bits 15:0
 * NUMDU, 31:16 LSI; cdw12/13 LPOL/LPOU (byte offset); cdw14 bits 31:24 CSI.
 * NUMD is 0's based in dwords.
 */
#define NVME_LOG_ERROR            0x01
#define NVME_LOG_HEALTH           0x02
#define NVME_LOG_FIRMWARE_SLOT    0x03
#define NVME_LOG_CHANGED_NS_LIST  0x04
#define NVME_LOG_COMMAND_EFFECTS  0x05
#define NVME_LOG_DEVICE_SELF_TEST 0x06
#define NVME_LOG_ANA              0x0c
#define NVME_LOG_DISCOVERY        0x70
#define NVME_LOG_GET_RAE          (1u << 15)

/* Error information log entry (NVMe Base 2.0, Figure 205). */
struct nvme_error_info {
	ftgt_le64 error_count;
	ftgt_le16 sqid;
	ftgt_le16 cid;
	ftgt_le16 status;
	ftgt_le16 error_location;
	ftgt_le64 lba;
	ftgt_le32 nsid;
	uint8_t vendor_specific;
	uint8_t trtype;
	uint8_t rsvd30[2];
	ftgt_le64 command_specific;
	ftgt_le16 trtype_specific;
	uint8_t rsvd42[22];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_error_info) == 64);

/* SMART / Health Information (NVMe Base 2.0, Figure 207). */
struct nvme_health_info {
	uint8_t critical_warning;
	ftgt_le16 temperature; /* Kelvin (unaligned on the wire) */
	uint8_t available_spare;
	uint8_t available_spare_threshold;
	uint8_t percentage_used;
	uint8_t endurance_group_critical_warning;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];
	uint8_t data_units_written[16];
	uint8_t host_read_commands[16];
	uint8_t host_write_commands[16];
	uint8_t controller_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_error_info_log_entries[16];
	ftgt_le32 warning_temp_time;
	ftgt_le32 critical_temp_time;
	ftgt_le16 temp_sensor[8];
	uint8_t rsvd216[296];
} FTGT_PACKED;
FTGT_STATIC_ASSERT(sizeof(struct nvme_health_info) == 512);
FTGT_STATIC_ASSERT(offsetof(struct nvme_health_info, temperature) == 1);
FTGT_STATIC_ASSERT(offsetof(struct nvme_health_info, data_units_read) == 32);
FTGT_STATIC_ASSERT(offsetof(struct nvme_health_info, warning_temp_time) == 192);

/* Firmware slot information (NVMe Base 2.0, Figure 208). */
struct nvme_firmware_slot_info {
	uint8_t afi;
	uint8_t rsvd1[7];
	uint8_t frs[7][8];
	uint8_t rsvd64[448];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_firmware_slot_info) == 512);

/* Changed namespace list: up to 1024 NSIDs (NVMe Base 2.0, 5.16.1.5). */
#define NVME_CHANGED_NS_LIST_MAX 1024
struct nvme_changed_ns_list {
	ftgt_le32 nsid[NVME_CHANGED_NS_LIST_MAX];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_changed_ns_list) == 4096);

/* Commands supported and effects (NVMe Base 2.0, Figure 210). */
struct nvme_cmds_and_effects {
	ftgt_le32 acs[256];
	ftgt_le32 iocs[256];
	uint8_t rsvd2048[2048];
};
FTGT_STATIC_ASSERT(sizeof(struct nvme_cmds_and_effects) == 4096);
#define NVME_CMD_EFFECTS_CSUPP (1u << 0)
#define NVME_CMD_EFFECTS_LBCC  (1u << 1)

/* ---- Features (NVMe Base 2.0, 5.27.1) ---------------------------------------------- */

/* Get/Set Features cdw10 bits 7:0 FID; Get: bits 10:8 SEL; Set: bit 31 SV. */
#define NVME_FEAT_ARBITRATION                       0x01
#define NVME_FEAT_POWER_MANAGEMENT                  0x02
#define NVME_FEAT_LBA_RANGE_TYPE                    0x03
#define NVME_FEAT_TEMPERATURE_THRESHOLD             0x04
#define NVME_FEAT_ERROR_RECOVERY                    0x05
#define NVME_FEAT_VOLATILE_WRITE_CACHE              0x06
#define NVME_FEAT_NUMBER_OF_QUEUES                  0x07
#define NVME_FEAT_INTERRUPT_COALESCING              0x08
#define NVME_FEAT_INTERRUPT_VECTOR_CONFIGURATION    0x09
#define NVME_FEAT_WRITE_ATOMICITY                   0x0a
#define NVME_FEAT_ASYNC_EVENT_CONFIGURATION         0x0b
#define NVME_FEAT_AUTONOMOUS_POWER_STATE_TRANSITION 0x0c
#define NVME_FEAT_TIMESTAMP                         0x0e
#define NVME_FEAT_KEEP_ALIVE_TIMER                  0x0f
#define NVME_FEAT_HOST_BEHAVIOR_SUPPORT             0x16
#define NVME_FEAT_HOST_IDENTIFIER                   0x81
#define NVME_FEAT_HOST_RESERVE_MASK                 0x82
#define NVME_FEAT_HOST_RESERVE_PERSIST              0x83
#define NVME_FEAT_GET_SEL_SHIFT                     8
#define NVME_FEAT_GET_SEL_MASK                      0x7
#define NVME_FEAT_SEL_CURRENT                       0
#define NVME_FEAT_SEL_DEFAULT                       1
#define NVME_FEAT_SEL_SAVED                         2
#define NVME_FEAT_SEL_SUPPORTED                     3
#define NVME_FEAT_SET_SV                            (1u << 31)

/* ---- Asynchronous events (NVMe Base 2.0, 5.2) -------------------------------------- */

/* AER completion dword 0: bits 2:0 type, 15:8 info, 23:16 log page id. */
#define NVME_AER_TYPE_ERROR                  0x0
#define NVME_AER_TYPE_SMART                  0x1
#define NVME_AER_TYPE_NOTICE                 0x2
#define NVME_AER_NOTICE_NS_ATTR_CHANGED      0x00
#define NVME_AER_NOTICE_FW_ACTIVATION        0x01
#define NVME_AER_NOTICE_ANA_CHANGE           0x03
#define NVME_AER_NOTICE_DISCOVERY_LOG_CHANGE 0xf0
#define NVME_AER_CDW0(type, info, lid) \
	((uint32_t)(((type)&0x7) | (((info)&0xff) << 8) | (((lid)&0xff) << 16)))

/* ---- Controller properties (NVMe Base 2.0, 3.1.3; NVMe-oF 1.1, 3.4) --------------- */

#define NVME_REG_CAP   0x00 /* 8 bytes */
#define NVME_REG_VS    0x08 /* 4 */
#define NVME_REG_INTMS 0x0c /* 4, reserved for fabrics */
#define NVME_REG_INTMC 0x10 /* 4, reserved for fabrics */
#define NVME_REG_CC    0x14 /* 4 */
#define NVME_REG_CSTS  0x1c /* 4 */
#define NVME_REG_NSSR  0x20 /* 4 */
#define NVME_REG_AQA   0x24 /* 4, reserved for fabrics */
#define NVME_REG_ASQ   0x28 /* 8, reserved for fabrics */
#define NVME_REG_ACQ   0x30 /* 8, reserved for fabrics */

/* CAP (NVMe Base 2.0, Figure 36) */
#define NVME_CAP_MQES_MASK    0xffffull
#define NVME_CAP_CQR          (1ull << 16)
#define NVME_CAP_AMS_SHIFT    17
#define NVME_CAP_TO_SHIFT     24 /* 500 ms units */
#define NVME_CAP_DSTRD_SHIFT  32
#define NVME_CAP_NSSRS        (1ull << 36)
#define NVME_CAP_CSS_SHIFT    37
#define NVME_CAP_CSS_NVM      (1ull << 37)
#define NVME_CAP_CSS_IOCS     (1ull << 43) /* one or more I/O command sets */
#define NVME_CAP_CSS_NOIO     (1ull << 44)
#define NVME_CAP_BPS          (1ull << 45)
#define NVME_CAP_MPSMIN_SHIFT 48
#define NVME_CAP_MPSMAX_SHIFT 52
#define NVME_CAP_PMRS         (1ull << 56)
#define NVME_CAP_CMBS         (1ull << 57)

/* VS: major 31:16, minor 15:8, tertiary 7:0 */
#define NVME_VS(mjr, mnr, ter) (((uint32_t)(mjr) << 16) | ((uint32_t)(mnr) << 8) | (ter))

/* CC (NVMe Base 2.0, Figure 41) */
#define NVME_CC_EN             (1u << 0)
#define NVME_CC_CSS_SHIFT      4
#define NVME_CC_CSS_MASK       0x7u
#define NVME_CC_CSS_NVM        0x0
#define NVME_CC_CSS_ALL        0x6
#define NVME_CC_CSS_ADMIN_ONLY 0x7
#define NVME_CC_MPS_SHIFT      7
#define NVME_CC_MPS_MASK       0xfu
#define NVME_CC_AMS_SHIFT      11
#define NVME_CC_AMS_MASK       0x7u
#define NVME_CC_SHN_SHIFT      14
#define NVME_CC_SHN_MASK       0x3u
#define NVME_CC_SHN_NONE       0x0
#define NVME_CC_SHN_NORMAL     0x1
#define NVME_CC_SHN_ABRUPT     0x2
#define NVME_CC_IOSQES_SHIFT   16
#define NVME_CC_IOSQES_MASK    0xfu
#define NVME_CC_IOCQES_SHIFT   20
#define NVME_CC_IOCQES_MASK    0xfu
#define NVME_CC_CRIME          (1u << 24)

/* CSTS (NVMe Base 2.0, Figure 42) */
#define NVME_CSTS_RDY            (1u << 0)
#define NVME_CSTS_CFS            (1u << 1)
#define NVME_CSTS_SHST_SHIFT     2
#define NVME_CSTS_SHST_MASK      0x3u
#define NVME_CSTS_SHST_NORMAL    0x0
#define NVME_CSTS_SHST_OCCURRING 0x1
#define NVME_CSTS_SHST_COMPLETE  0x2
#define NVME_CSTS_NSSRO          (1u << 4)
#define NVME_CSTS_PP             (1u << 5)

#endif /* FTGT_SPEC_NVME_H */
