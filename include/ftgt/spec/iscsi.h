/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI wire formats (RFC 7143). Every PDU starts with a 48-byte Basic Header Segment
 * (BHS, 11.2.1), then TotalAHSLength * 4 bytes of Additional Header Segments, an optional
 * 4-byte header digest, the data segment padded to 4 bytes, and an optional data digest.
 * Multi-byte fields are big endian.
 */
#ifndef FTGT_SPEC_ISCSI_H
#define FTGT_SPEC_ISCSI_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/util.h"

#define ISCSI_BHS_LEN      48
#define ISCSI_DIGEST_LEN   4
#define ISCSI_MAX_AHS_LEN  (255 * 4)
#define ISCSI_MAX_DSL      ((1u << 24) - 1)
#define ISCSI_DEFAULT_PORT 3260

/* 11.2.1.2: opcodes; byte 0 bits 0-5, bit 6 = immediate delivery (I). */
#define ISCSI_OPCODE_MASK    0x3f
#define ISCSI_FLAG_IMMEDIATE 0x40

enum iscsi_opcode {
	/* initiator -> target */
	ISCSI_OP_NOPOUT = 0x00,
	ISCSI_OP_SCSI_CMD = 0x01,
	ISCSI_OP_TASK_REQ = 0x02,
	ISCSI_OP_LOGIN_REQ = 0x03,
	ISCSI_OP_TEXT_REQ = 0x04,
	ISCSI_OP_DATA_OUT = 0x05,
	ISCSI_OP_LOGOUT_REQ = 0x06,
	ISCSI_OP_SNACK = 0x10,
	/* target -> initiator */
	ISCSI_OP_NOPIN = 0x20,
	ISCSI_OP_SCSI_RSP = 0x21,
	ISCSI_OP_TASK_RSP = 0x22,
	ISCSI_OP_LOGIN_RSP = 0x23,
	ISCSI_OP_TEXT_RSP = 0x24,
	ISCSI_OP_DATA_IN = 0x25,
	ISCSI_OP_LOGOUT_RSP = 0x26,
	ISCSI_OP_R2T = 0x31,
	ISCSI_OP_ASYNC = 0x32,
	ISCSI_OP_REJECT = 0x3f,
};

/* Byte 1: F (final) bit common to most PDUs. */
#define ISCSI_FLAG_FINAL 0x80

/* 11.2: generic BHS. */
struct iscsi_bhs {
	uint8_t opcode; /* I bit + opcode */
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t total_ahs_len; /* in 4-byte words */
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	uint8_t opcode_specific[28];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs, total_ahs_len) == 4);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs, itt) == 16);

/* 11.2.2: AHS header. */
struct iscsi_ahs {
	ftgt_be16 ahs_len; /* bytes of ahs_specific + data, without padding */
	uint8_t ahs_type;
	uint8_t ahs_specific;
	/* data follows */
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_ahs) == 4);
#define ISCSI_AHS_TYPE_EXT_CDB   1
#define ISCSI_AHS_TYPE_BIDI_RLEN 2

/* 11.3: SCSI Command. */
#define ISCSI_SCSI_CMD_FLAG_READ  0x40
#define ISCSI_SCSI_CMD_FLAG_WRITE 0x20
#define ISCSI_SCSI_CMD_ATTR_MASK  0x07
struct iscsi_bhs_scsi_cmd {
	uint8_t opcode;
	uint8_t flags; /* F R W . . ATTR */
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 expected_data_xfer_len;
	ftgt_be32 cmd_sn;
	ftgt_be32 exp_stat_sn;
	uint8_t cdb[16];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_scsi_cmd) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_scsi_cmd, cdb) == 32);

/* 11.4: SCSI Response. */
#define ISCSI_SCSI_RSP_FLAG_BIDI_OVERFLOW  0x10 /* o */
#define ISCSI_SCSI_RSP_FLAG_BIDI_UNDERFLOW 0x08 /* u */
#define ISCSI_SCSI_RSP_FLAG_OVERFLOW       0x04 /* O */
#define ISCSI_SCSI_RSP_FLAG_UNDERFLOW      0x02 /* U */
#define ISCSI_SCSI_RSP_COMPLETED           0x00 /* response: command completed at target */
#define ISCSI_SCSI_RSP_TARGET_FAILURE      0x01
struct iscsi_bhs_scsi_rsp {
	uint8_t opcode;
	uint8_t flags; /* 1 . . o u O U . */
	uint8_t response;
	uint8_t status;
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t rsvd8[8];
	ftgt_be32 itt;
	ftgt_be32 snack_tag;
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	ftgt_be32 exp_data_sn;
	ftgt_be32 bidi_residual_count;
	ftgt_be32 residual_count;
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_scsi_rsp) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_scsi_rsp, residual_count) == 44);

/* 11.5: Task Management Function Request. */
enum iscsi_tmf_func {
	ISCSI_TMF_ABORT_TASK = 1,
	ISCSI_TMF_ABORT_TASK_SET = 2,
	ISCSI_TMF_CLEAR_ACA = 3,
	ISCSI_TMF_CLEAR_TASK_SET = 4,
	ISCSI_TMF_LUN_RESET = 5,
	ISCSI_TMF_TARGET_WARM_RESET = 6,
	ISCSI_TMF_TARGET_COLD_RESET = 7,
	ISCSI_TMF_TASK_REASSIGN = 8,
};
#define ISCSI_TMF_FUNC_MASK 0x7f
struct iscsi_bhs_task_req {
	uint8_t opcode;
	uint8_t flags; /* 1 + function */
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ref_task_tag;
	ftgt_be32 cmd_sn;
	ftgt_be32 exp_stat_sn;
	ftgt_be32 ref_cmd_sn;
	ftgt_be32 exp_data_sn;
	uint8_t rsvd40[8];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_task_req) == ISCSI_BHS_LEN);

/* 11.6.1: TMF responses. */
enum iscsi_tmf_response {
	ISCSI_TMF_RSP_COMPLETE = 0,
	ISCSI_TMF_RSP_NO_TASK = 1,
	ISCSI_TMF_RSP_NO_LUN = 2,
	ISCSI_TMF_RSP_TASK_ALLEGIANT = 3,
	ISCSI_TMF_RSP_NO_REASSIGN = 4,
	ISCSI_TMF_RSP_NOT_SUPPORTED = 5,
	ISCSI_TMF_RSP_AUTH_FAILED = 6,
	ISCSI_TMF_RSP_REJECTED = 255,
};
struct iscsi_bhs_task_rsp {
	uint8_t opcode;
	uint8_t flags;
	uint8_t response;
	uint8_t rsvd3;
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t rsvd8[8];
	ftgt_be32 itt;
	uint8_t rsvd20[4];
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	uint8_t rsvd36[12];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_task_rsp) == ISCSI_BHS_LEN);

/* 11.7: SCSI Data-Out. */
struct iscsi_bhs_data_out {
	uint8_t opcode;
	uint8_t flags; /* F */
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	uint8_t rsvd24[4];
	ftgt_be32 exp_stat_sn;
	uint8_t rsvd32[4];
	ftgt_be32 data_sn;
	ftgt_be32 buffer_offset;
	uint8_t rsvd44[4];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_data_out) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_data_out, buffer_offset) == 40);

/* 11.7: SCSI Data-In. */
#define ISCSI_DATA_IN_FLAG_ACK       0x40 /* A */
#define ISCSI_DATA_IN_FLAG_OVERFLOW  0x04 /* O */
#define ISCSI_DATA_IN_FLAG_UNDERFLOW 0x02 /* U */
#define ISCSI_DATA_IN_FLAG_STATUS    0x01 /* S */
struct iscsi_bhs_data_in {
	uint8_t opcode;
	uint8_t flags; /* F A . . . O U S */
	uint8_t rsvd2;
	uint8_t status;
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	ftgt_be32 data_sn;
	ftgt_be32 buffer_offset;
	ftgt_be32 residual_count;
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_data_in) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_data_in, residual_count) == 44);

/* 11.8: Ready To Transfer. */
struct iscsi_bhs_r2t {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	ftgt_be32 r2t_sn;
	ftgt_be32 buffer_offset;
	ftgt_be32 desired_data_xfer_len;
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_r2t) == ISCSI_BHS_LEN);

/* 11.9: Asynchronous Message. */
enum iscsi_async_event {
	ISCSI_ASYNC_SCSI_EVENT = 0,
	ISCSI_ASYNC_LOGOUT_REQUEST = 1,
	ISCSI_ASYNC_DROP_CONNECTION = 2,
	ISCSI_ASYNC_DROP_ALL_CONNECTIONS = 3,
	ISCSI_ASYNC_NEGOTIATION_REQUEST = 4,
	ISCSI_ASYNC_TASK_TERMINATION = 5,
	ISCSI_ASYNC_VENDOR = 255,
};
struct iscsi_bhs_async {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt; /* 0xffffffff */
	uint8_t rsvd20[4];
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	uint8_t async_event;
	uint8_t async_vcode;
	ftgt_be16 param1;
	ftgt_be16 param2;
	ftgt_be16 param3;
	uint8_t rsvd44[4];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_async) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_async, async_event) == 36);

/* 11.10: Text Request. */
#define ISCSI_TEXT_FLAG_CONTINUE 0x40 /* C */
struct iscsi_bhs_text_req {
	uint8_t opcode;
	uint8_t flags; /* F C */
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	ftgt_be32 cmd_sn;
	ftgt_be32 exp_stat_sn;
	uint8_t rsvd32[16];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_text_req) == ISCSI_BHS_LEN);

/* 11.11: Text Response. */
struct iscsi_bhs_text_rsp {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	uint8_t rsvd36[12];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_text_rsp) == ISCSI_BHS_LEN);

/* 11.12: Login Request. Flags: T C . . CSG(2) NSG(2). */
#define ISCSI_LOGIN_FLAG_TRANSIT  0x80
#define ISCSI_LOGIN_FLAG_CONTINUE 0x40
#define ISCSI_LOGIN_CSG_SHIFT     2
#define ISCSI_LOGIN_CSG_MASK      0x0c
#define ISCSI_LOGIN_NSG_MASK      0x03
enum iscsi_login_stage {
	ISCSI_SECURITY_NEGOTIATION = 0,
	ISCSI_OPERATIONAL_NEGOTIATION = 1,
	ISCSI_FULL_FEATURE_PHASE = 3,
};
struct iscsi_bhs_login_req {
	uint8_t opcode;
	uint8_t flags;
	uint8_t version_max;
	uint8_t version_min;
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t isid[6];
	ftgt_be16 tsih;
	ftgt_be32 itt;
	ftgt_be16 cid;
	uint8_t rsvd22[2];
	ftgt_be32 cmd_sn;
	ftgt_be32 exp_stat_sn;
	uint8_t rsvd32[16];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_login_req) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_login_req, tsih) == 14);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_login_req, cid) == 20);

/* 11.13: Login Response. */
struct iscsi_bhs_login_rsp {
	uint8_t opcode;
	uint8_t flags;
	uint8_t version_max;
	uint8_t version_act;
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t isid[6];
	ftgt_be16 tsih;
	ftgt_be32 itt;
	uint8_t rsvd20[4];
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	uint8_t status_class;
	uint8_t status_detail;
	uint8_t rsvd38[10];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_login_rsp) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_login_rsp, status_class) == 36);

/* 11.13.5: login status class/detail. */
#define ISCSI_LOGIN_CLASS_SUCCESS               0x00
#define ISCSI_LOGIN_CLASS_REDIRECT              0x01
#define ISCSI_LOGIN_CLASS_INITIATOR_ERROR       0x02
#define ISCSI_LOGIN_CLASS_TARGET_ERROR          0x03
#define ISCSI_LOGIN_DETAIL_INIT_ERR             0x00
#define ISCSI_LOGIN_DETAIL_AUTH_FAILURE         0x01
#define ISCSI_LOGIN_DETAIL_AUTHORIZATION        0x02
#define ISCSI_LOGIN_DETAIL_NOT_FOUND            0x03
#define ISCSI_LOGIN_DETAIL_TARGET_REMOVED       0x04
#define ISCSI_LOGIN_DETAIL_UNSUPPORTED_VERSION  0x05
#define ISCSI_LOGIN_DETAIL_TOO_MANY_CONNECTIONS 0x06
#define ISCSI_LOGIN_DETAIL_MISSING_PARAMETER    0x07
#define ISCSI_LOGIN_DETAIL_NO_SESSION_SPANNING  0x08
#define ISCSI_LOGIN_DETAIL_SESSION_TYPE         0x09
#define ISCSI_LOGIN_DETAIL_NO_SESSION           0x0a
#define ISCSI_LOGIN_DETAIL_INVALID_REQUEST      0x0b
#define ISCSI_LOGIN_DETAIL_TARGET_ERROR         0x00
#define ISCSI_LOGIN_DETAIL_SERVICE_UNAVAILABLE  0x01
#define ISCSI_LOGIN_DETAIL_OUT_OF_RESOURCES     0x02

/* 11.14: Logout Request. */
enum iscsi_logout_reason {
	ISCSI_LOGOUT_CLOSE_SESSION = 0,
	ISCSI_LOGOUT_CLOSE_CONNECTION = 1,
	ISCSI_LOGOUT_REMOVE_FOR_RECOVERY = 2,
};
#define ISCSI_LOGOUT_REASON_MASK 0x7f
struct iscsi_bhs_logout_req {
	uint8_t opcode;
	uint8_t flags; /* 1 + reason code */
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t rsvd8[8];
	ftgt_be32 itt;
	ftgt_be16 cid;
	uint8_t rsvd22[2];
	ftgt_be32 cmd_sn;
	ftgt_be32 exp_stat_sn;
	uint8_t rsvd32[16];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_logout_req) == ISCSI_BHS_LEN);

/* 11.15: Logout Response. */
#define ISCSI_LOGOUT_RSP_SUCCESS              0
#define ISCSI_LOGOUT_RSP_CID_NOT_FOUND        1
#define ISCSI_LOGOUT_RSP_RECOVERY_UNSUPPORTED 2
#define ISCSI_LOGOUT_RSP_CLEANUP_FAILED       3
struct iscsi_bhs_logout_rsp {
	uint8_t opcode;
	uint8_t flags;
	uint8_t response;
	uint8_t rsvd3;
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t rsvd8[8];
	ftgt_be32 itt;
	uint8_t rsvd20[4];
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	uint8_t rsvd36[4];
	ftgt_be16 time2wait;
	ftgt_be16 time2retain;
	uint8_t rsvd44[4];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_logout_rsp) == ISCSI_BHS_LEN);
FTGT_STATIC_ASSERT(offsetof(struct iscsi_bhs_logout_rsp, time2wait) == 40);

/* 11.16: SNACK Request. */
struct iscsi_bhs_snack_req {
	uint8_t opcode;
	uint8_t flags; /* 1 . . . type(4) */
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	uint8_t rsvd24[4];
	ftgt_be32 exp_stat_sn;
	uint8_t rsvd32[8];
	ftgt_be32 beg_run;
	ftgt_be32 run_length;
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_snack_req) == ISCSI_BHS_LEN);

/* 11.17: Reject. */
enum iscsi_reject_reason {
	ISCSI_REJECT_DATA_DIGEST_ERROR = 0x02,
	ISCSI_REJECT_SNACK_REJECT = 0x03,
	ISCSI_REJECT_PROTOCOL_ERROR = 0x04,
	ISCSI_REJECT_COMMAND_NOT_SUPPORTED = 0x05,
	ISCSI_REJECT_IMMEDIATE_COMMAND_REJECT = 0x06,
	ISCSI_REJECT_TASK_IN_PROGRESS = 0x07,
	ISCSI_REJECT_INVALID_DATA_ACK = 0x08,
	ISCSI_REJECT_INVALID_PDU_FIELD = 0x09,
	ISCSI_REJECT_LONG_OPERATION_REJECT = 0x0a,
	ISCSI_REJECT_NEGOTIATION_RESET = 0x0b,
	ISCSI_REJECT_WAITING_FOR_LOGOUT = 0x0c,
};
struct iscsi_bhs_reject {
	uint8_t opcode;
	uint8_t flags;
	uint8_t reason;
	uint8_t rsvd3;
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t rsvd8[8];
	ftgt_be32 itt; /* 0xffffffff */
	uint8_t rsvd20[4];
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	ftgt_be32 data_sn;
	uint8_t rsvd40[8];
	/* data segment: the complete header of the rejected PDU */
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_reject) == ISCSI_BHS_LEN);

/* 11.18: NOP-Out. */
struct iscsi_bhs_nop_out {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	ftgt_be32 cmd_sn;
	ftgt_be32 exp_stat_sn;
	uint8_t rsvd32[16];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_nop_out) == ISCSI_BHS_LEN);

/* 11.19: NOP-In. */
struct iscsi_bhs_nop_in {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t total_ahs_len;
	uint8_t data_segment_len[3];
	uint8_t lun[8];
	ftgt_be32 itt;
	ftgt_be32 ttt;
	ftgt_be32 stat_sn;
	ftgt_be32 exp_cmd_sn;
	ftgt_be32 max_cmd_sn;
	uint8_t rsvd36[12];
};
FTGT_STATIC_ASSERT(sizeof(struct iscsi_bhs_nop_in) == ISCSI_BHS_LEN);

#define ISCSI_RESERVED_TAG 0xffffffffu

/* 24-bit DataSegmentLength accessors. */
static inline uint32_t
iscsi_get_dsl(const uint8_t dsl[3])
{
	return ((uint32_t)dsl[0] << 16) | ((uint32_t)dsl[1] << 8) | dsl[2];
}

static inline void
iscsi_set_dsl(uint8_t dsl[3], uint32_t len)
{
	dsl[0] = (uint8_t)(len >> 16);
	dsl[1] = (uint8_t)(len >> 8);
	dsl[2] = (uint8_t)len;
}

/* Serial number arithmetic (RFC 1982, 32 bits), used for CmdSN/StatSN (RFC 7143 4.2.2.1). */
static inline int
iscsi_sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

static inline int
iscsi_sn_gt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) > 0;
}

#endif /* FTGT_SPEC_ISCSI_H */
