/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SCSI wire formats: SAM-5 status codes, SPC-4 / SBC-3 operation codes, fixed-format sense
 * data, INQUIRY data and VPD pages, mode pages. CDB fields are big endian.
 */
#ifndef FTGT_SPEC_SCSI_H
#define FTGT_SPEC_SCSI_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/util.h"

/* SAM-5 5.3.1: status codes. */
enum scsi_status {
	SCSI_STATUS_GOOD = 0x00,
	SCSI_STATUS_CHECK_CONDITION = 0x02,
	SCSI_STATUS_CONDITION_MET = 0x04,
	SCSI_STATUS_BUSY = 0x08,
	SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
	SCSI_STATUS_TASK_SET_FULL = 0x28,
	SCSI_STATUS_ACA_ACTIVE = 0x30,
	SCSI_STATUS_TASK_ABORTED = 0x40,
};

/* SPC-4 4.5.6: sense keys. */
enum scsi_sense_key {
	SCSI_SENSE_NO_SENSE = 0x0,
	SCSI_SENSE_RECOVERED_ERROR = 0x1,
	SCSI_SENSE_NOT_READY = 0x2,
	SCSI_SENSE_MEDIUM_ERROR = 0x3,
	SCSI_SENSE_HARDWARE_ERROR = 0x4,
	SCSI_SENSE_ILLEGAL_REQUEST = 0x5,
	SCSI_SENSE_UNIT_ATTENTION = 0x6,
	SCSI_SENSE_DATA_PROTECT = 0x7,
	SCSI_SENSE_BLANK_CHECK = 0x8,
	SCSI_SENSE_VENDOR_SPECIFIC = 0x9,
	SCSI_SENSE_COPY_ABORTED = 0xa,
	SCSI_SENSE_ABORTED_COMMAND = 0xb,
	SCSI_SENSE_VOLUME_OVERFLOW = 0xd,
	SCSI_SENSE_MISCOMPARE = 0xe,
};

/* SPC-4 Annex D: additional sense codes (ASC) used here; ASCQ noted where not 0. */
#define SCSI_ASC_NO_ADDITIONAL_SENSE              0x00
#define SCSI_ASC_LUN_NOT_READY                    0x04
#define SCSI_ASC_WRITE_ERROR                      0x0c
#define SCSI_ASC_LOGICAL_BLOCK_GUARD_CHECK_FAILED 0x10 /* ASCQ 01 */
#define SCSI_ASC_UNRECOVERED_READ_ERROR           0x11
#define SCSI_ASC_MISCOMPARE_DURING_VERIFY         0x1d
#define SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR      0x1a
#define SCSI_ASC_INVALID_COMMAND_OPERATION_CODE   0x20
#define SCSI_ASC_LBA_OUT_OF_RANGE                 0x21
#define SCSI_ASC_INVALID_FIELD_IN_CDB             0x24
#define SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED       0x25
#define SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST  0x26
#define SCSI_ASC_WRITE_PROTECTED                  0x27
#define SCSI_ASC_POWER_ON_RESET                   0x29 /* ASCQ 00; 01 power on, 02 bus reset, 07 I_T nexus loss */
#define SCSI_ASC_PARAMETERS_CHANGED \
	0x2a /* ASCQ 01 mode, 03 reservations preempted, 04 released, 05 registrations preempted */
#define SCSI_ASC_COMMANDS_CLEARED_BY_ANOTHER_INITIATOR 0x2f
#define SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED       0x39
#define SCSI_ASC_MEDIUM_NOT_PRESENT                    0x3a
#define SCSI_ASC_REPORTED_LUNS_DATA_CHANGED            0x3f /* ASCQ 0e */
#define SCSI_ASC_INTERNAL_TARGET_FAILURE               0x44
#define SCSI_ASC_INVALID_MESSAGE_ERROR                 0x49
#define SCSI_ASC_COMMAND_PHASE_ERROR                   0x4a
#define SCSI_ASC_DATA_PHASE_ERROR                      0x4b
#define SCSI_ASC_OVERLAPPED_COMMANDS_ATTEMPTED         0x4e
#define SCSI_ASC_INSUFFICIENT_REGISTRATION_RESOURCES   0x55 /* ASCQ 04 */
#define SCSI_ASC_MEDIUM_REMOVAL_PREVENTED              0x53 /* ASCQ 02 */

/* ASCQs of the unit attentions lib/scsi raises (SPC-4 Annex D). */
#define SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED  0x03 /* with 29h */
#define SCSI_ASCQ_MODE_PARAMETERS_CHANGED    0x01 /* with 2Ah */
#define SCSI_ASCQ_RESERVATIONS_PREEMPTED     0x03 /* with 2Ah */
#define SCSI_ASCQ_RESERVATIONS_RELEASED      0x04 /* with 2Ah */
#define SCSI_ASCQ_REGISTRATIONS_PREEMPTED    0x05 /* with 2Ah */
#define SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED  0x09 /* with 2Ah */
#define SCSI_ASCQ_REPORTED_LUNS_DATA_CHANGED 0x0e /* with 3Fh */

/* SPC-4 4.5.3: fixed-format sense data (response code 70h). */
#define SCSI_SENSE_FIXED_CURRENT  0x70
#define SCSI_SENSE_FIXED_DEFERRED 0x71
#define SCSI_SENSE_VALID          0x80
struct scsi_sense_fixed {
	uint8_t response_code; /* VALID | 70h */
	uint8_t obsolete;
	uint8_t sense_key; /* FILEMARK EOM ILI . key(4) */
	ftgt_be32 information;
	uint8_t additional_len; /* n - 7 */
	ftgt_be32 cmd_specific;
	uint8_t asc;
	uint8_t ascq;
	uint8_t fruc;
	uint8_t sks[3]; /* SKSV | sense key specific */
} FTGT_PACKED;
FTGT_STATIC_ASSERT(sizeof(struct scsi_sense_fixed) == 18);
FTGT_STATIC_ASSERT(offsetof(struct scsi_sense_fixed, asc) == 12);
#define SCSI_SENSE_FIXED_LEN 18
#define SCSI_SENSE_SKSV      0x80
#define SCSI_SENSE_SKS_CD    0x40 /* field pointer is in the CDB (vs. parameter data) */

/* SPC-4 / SBC-3 operation codes. */
enum scsi_opcode {
	SCSI_OP_TEST_UNIT_READY = 0x00,
	SCSI_OP_REQUEST_SENSE = 0x03,
	SCSI_OP_FORMAT_UNIT = 0x04,
	SCSI_OP_READ_6 = 0x08,
	SCSI_OP_WRITE_6 = 0x0a,
	SCSI_OP_INQUIRY = 0x12,
	SCSI_OP_MODE_SELECT_6 = 0x15,
	SCSI_OP_RESERVE_6 = 0x16,
	SCSI_OP_RELEASE_6 = 0x17,
	SCSI_OP_MODE_SENSE_6 = 0x1a,
	SCSI_OP_START_STOP_UNIT = 0x1b,
	SCSI_OP_SEND_DIAGNOSTIC = 0x1d,
	SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1e,
	SCSI_OP_READ_CAPACITY_10 = 0x25,
	SCSI_OP_READ_10 = 0x28,
	SCSI_OP_WRITE_10 = 0x2a,
	SCSI_OP_WRITE_AND_VERIFY_10 = 0x2e,
	SCSI_OP_VERIFY_10 = 0x2f,
	SCSI_OP_PREFETCH_10 = 0x34,
	SCSI_OP_SYNCHRONIZE_CACHE_10 = 0x35,
	SCSI_OP_WRITE_BUFFER = 0x3b,
	SCSI_OP_READ_BUFFER = 0x3c,
	SCSI_OP_WRITE_SAME_10 = 0x41,
	SCSI_OP_UNMAP = 0x42,
	SCSI_OP_LOG_SENSE = 0x4d,
	SCSI_OP_MODE_SELECT_10 = 0x55,
	SCSI_OP_RESERVE_10 = 0x56,
	SCSI_OP_RELEASE_10 = 0x57,
	SCSI_OP_MODE_SENSE_10 = 0x5a,
	SCSI_OP_PERSISTENT_RESERVE_IN = 0x5e,
	SCSI_OP_PERSISTENT_RESERVE_OUT = 0x5f,
	SCSI_OP_EXTENDED_COPY = 0x83,
	SCSI_OP_RECEIVE_COPY_RESULTS = 0x84,
	SCSI_OP_READ_16 = 0x88,
	SCSI_OP_COMPARE_AND_WRITE = 0x89,
	SCSI_OP_WRITE_16 = 0x8a,
	SCSI_OP_ORWRITE_16 = 0x8b,
	SCSI_OP_WRITE_AND_VERIFY_16 = 0x8e,
	SCSI_OP_VERIFY_16 = 0x8f,
	SCSI_OP_PREFETCH_16 = 0x90,
	SCSI_OP_SYNCHRONIZE_CACHE_16 = 0x91,
	SCSI_OP_WRITE_SAME_16 = 0x93,
	SCSI_OP_SERVICE_ACTION_IN_16 = 0x9e,
	SCSI_OP_REPORT_LUNS = 0xa0,
	SCSI_OP_MAINTENANCE_IN = 0xa3,
	SCSI_OP_MAINTENANCE_OUT = 0xa4,
	SCSI_OP_READ_12 = 0xa8,
	SCSI_OP_WRITE_12 = 0xaa,
	SCSI_OP_WRITE_AND_VERIFY_12 = 0xae,
	SCSI_OP_VERIFY_12 = 0xaf,
};

/* SERVICE ACTION IN(16) service actions (SBC-3). */
#define SCSI_SAI_READ_CAPACITY_16 0x10
#define SCSI_SAI_GET_LBA_STATUS   0x12
/* MAINTENANCE IN service actions (SPC-4). */
#define SCSI_MI_REPORT_SUPPORTED_OPCODES 0x0c
#define SCSI_MI_REPORT_SUPPORTED_TMFS    0x0d

/* PERSISTENT RESERVE IN service actions (SPC-4 6.15). */
#define SCSI_PR_IN_READ_KEYS           0x00
#define SCSI_PR_IN_READ_RESERVATION    0x01
#define SCSI_PR_IN_REPORT_CAPABILITIES 0x02
#define SCSI_PR_IN_READ_FULL_STATUS    0x03
/* PERSISTENT RESERVE OUT service actions (SPC-4 6.16). */
#define SCSI_PR_OUT_REGISTER                0x00
#define SCSI_PR_OUT_RESERVE                 0x01
#define SCSI_PR_OUT_RELEASE                 0x02
#define SCSI_PR_OUT_CLEAR                   0x03
#define SCSI_PR_OUT_PREEMPT                 0x04
#define SCSI_PR_OUT_PREEMPT_AND_ABORT       0x05
#define SCSI_PR_OUT_REGISTER_AND_IGNORE_KEY 0x06
#define SCSI_PR_OUT_REGISTER_AND_MOVE       0x07
/* Reservation types (SPC-4 6.15.3.4). */
#define SCSI_PR_TYPE_WRITE_EXCLUSIVE            0x1
#define SCSI_PR_TYPE_EXCLUSIVE_ACCESS           0x3
#define SCSI_PR_TYPE_WRITE_EXCLUSIVE_REGS_ONLY  0x5
#define SCSI_PR_TYPE_EXCLUSIVE_ACCESS_REGS_ONLY 0x6
#define SCSI_PR_TYPE_WRITE_EXCLUSIVE_ALL_REGS   0x7
#define SCSI_PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS  0x8

/* PERSISTENT RESERVE OUT parameter list (SPC-4 6.16.3), basic 24 bytes. */
struct scsi_pr_out_param {
	ftgt_be64 reservation_key;
	ftgt_be64 sa_reservation_key;
	uint8_t obsolete16[4];
	uint8_t flags; /* SPEC_I_PT(3) ALL_TG_PT(2) APTPL(0) */
	uint8_t rsvd21;
	uint8_t obsolete22[2];
} FTGT_PACKED;
FTGT_STATIC_ASSERT(sizeof(struct scsi_pr_out_param) == 24);
#define SCSI_PR_OUT_FLAG_SPEC_I_PT 0x08
#define SCSI_PR_OUT_FLAG_ALL_TG_PT 0x04
#define SCSI_PR_OUT_FLAG_APTPL     0x01

/* Standard INQUIRY data (SPC-4 6.4.2), first 36 bytes + version descriptors. */
struct scsi_inquiry_std {
	uint8_t peripheral;     /* qualifier(3) device type(5) */
	uint8_t rmb;            /* RMB(7) */
	uint8_t version;        /* 06h = SPC-4 */
	uint8_t response;       /* NORMACA(5) HISUP(4) format(3:0)=2 */
	uint8_t additional_len; /* n - 4 */
	uint8_t flags5;         /* SCCS ACC TPGS(5:4) 3PC PROTECT */
	uint8_t flags6;         /* ENCSERV MULTIP */
	uint8_t flags7;         /* CMDQUE(1) */
	char vendor[8];
	char product[16];
	char revision[4];
	char serial[20]; /* vendor specific */
	uint8_t flags56;
	uint8_t rsvd57;
	ftgt_be16 version_desc[8];
} FTGT_PACKED;
FTGT_STATIC_ASSERT(sizeof(struct scsi_inquiry_std) == 74);
FTGT_STATIC_ASSERT(offsetof(struct scsi_inquiry_std, vendor) == 8);
FTGT_STATIC_ASSERT(offsetof(struct scsi_inquiry_std, version_desc) == 58);
#define SCSI_INQ_CMDQUE                    0x02
#define SCSI_INQ_HISUP                     0x10
#define SCSI_INQ_TPGS_IMPLICIT             0x10
#define SCSI_DEVICE_TYPE_DISK              0x00
#define SCSI_PERIPHERAL_QUAL_NOT_CONNECTED 0x20 /* 001b */
#define SCSI_PERIPHERAL_NOT_SUPPORTED      0x7f /* qualifier 011b, type 1fh */
#define SCSI_VERSION_SPC4                  0x06

/* VPD pages (SPC-4 7.8, SBC-3 6.6). */
#define SCSI_VPD_SUPPORTED_PAGES            0x00
#define SCSI_VPD_UNIT_SERIAL                0x80
#define SCSI_VPD_DEVICE_ID                  0x83
#define SCSI_VPD_EXTENDED_INQUIRY           0x86
#define SCSI_VPD_MGMT_NETWORK_ADDRS         0x85
#define SCSI_VPD_BLOCK_LIMITS               0xb0
#define SCSI_VPD_BLOCK_CHARACTERISTICS      0xb1
#define SCSI_VPD_LOGICAL_BLOCK_PROVISIONING 0xb2

struct scsi_vpd_header {
	uint8_t peripheral;
	uint8_t page_code;
	ftgt_be16 page_len;
};
FTGT_STATIC_ASSERT(sizeof(struct scsi_vpd_header) == 4);

/* Designation descriptor (SPC-4 7.8.6.1). */
struct scsi_desig_desc {
	uint8_t protocol_code_set; /* protocol id(7:4) code set(3:0) */
	uint8_t piv_assoc_type;    /* PIV(7) association(5:4) designator type(3:0) */
	uint8_t rsvd;
	uint8_t len;
	/* designator follows */
};
FTGT_STATIC_ASSERT(sizeof(struct scsi_desig_desc) == 4);
#define SCSI_CODE_SET_BINARY            1
#define SCSI_CODE_SET_ASCII             2
#define SCSI_CODE_SET_UTF8              3
#define SCSI_PROTOCOL_ISCSI             5
#define SCSI_DESIG_PIV                  0x80
#define SCSI_ASSOC_LU                   0x00
#define SCSI_ASSOC_TARGET_PORT          0x10
#define SCSI_ASSOC_TARGET_DEVICE        0x20
#define SCSI_DESIG_T10_VENDOR           1
#define SCSI_DESIG_EUI64                2
#define SCSI_DESIG_NAA                  3
#define SCSI_DESIG_RELATIVE_TARGET_PORT 4
#define SCSI_DESIG_TARGET_PORT_GROUP    5
#define SCSI_DESIG_SCSI_NAME            8

/* Mode pages (SPC-4 7.5, SBC-3 6.5). */
#define SCSI_MODE_PAGE_RW_ERROR_RECOVERY 0x01
#define SCSI_MODE_PAGE_DISCONNECT        0x02
#define SCSI_MODE_PAGE_CACHING           0x08
#define SCSI_MODE_PAGE_CONTROL           0x0a
#define SCSI_MODE_PAGE_POWER_CONDITION   0x1a
#define SCSI_MODE_PAGE_INFO_EXCEPTIONS   0x1c
#define SCSI_MODE_PAGE_ALL               0x3f
#define SCSI_MODE_PC_CURRENT             0
#define SCSI_MODE_PC_CHANGEABLE          1
#define SCSI_MODE_PC_DEFAULT             2
#define SCSI_MODE_PC_SAVED               3
#define SCSI_CACHING_WCE                 0x04
#define SCSI_CACHING_RCD                 0x01
#define SCSI_MODE_DPOFUA                 0x10 /* device-specific parameter in the mode header */

/* Big-endian CDB field readers. */
static inline uint16_t
scsi_from_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
scsi_from_be24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint32_t
scsi_from_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t
scsi_from_be64(const uint8_t *p)
{
	return ((uint64_t)scsi_from_be32(p) << 32) | scsi_from_be32(p + 4);
}

static inline void
scsi_to_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
scsi_to_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
scsi_to_be64(uint8_t *p, uint64_t v)
{
	scsi_to_be32(p, (uint32_t)(v >> 32));
	scsi_to_be32(p + 4, (uint32_t)v);
}

#endif /* FTGT_SPEC_SCSI_H */
