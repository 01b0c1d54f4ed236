/* SPDX-License-Identifier: BSD-3-Clause */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "ftgt/crc32c.h"
#include "../../../../lib/iscsi/iscsi_internal.h"

static struct iscsi_pdu_params g_params = {.max_recv_dsl = 8192, .erl0 = true};

static void
make_bhs(uint8_t *buf, uint8_t opcode, uint8_t flags, uint32_t dsl, uint32_t itt)
{
	struct iscsi_bhs *h = (struct iscsi_bhs *)buf;

	memset(buf, 0, ISCSI_BHS_LEN);
	h->opcode = opcode;
	h->flags = flags;
	iscsi_set_dsl(h->data_segment_len, dsl);
	h->itt = ftgt_cpu_to_be32(itt);
}

static void
test_nop_out_basic(void)
{
	uint8_t buf[128];
	struct iscsi_pdu_info info;
	ssize_t rc;

	make_bhs(buf, ISCSI_OP_NOPOUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, 5, 7);
	memcpy(buf + 48, "hello\0\0\0", 8);
	/* Every prefix is incomplete. */
	for (size_t n = 0; n < 56; n++) {
		CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, n, &g_params, &info), -EAGAIN);
	}
	rc = iscsi_pdu_parse(buf, sizeof(buf), &g_params, &info);
	CU_ASSERT_EQUAL(rc, 56);
	CU_ASSERT_EQUAL(info.opcode, ISCSI_OP_NOPOUT);
	CU_ASSERT(info.immediate);
	CU_ASSERT_EQUAL(info.itt, 7);
	CU_ASSERT_EQUAL(info.data_len, 5);
	CU_ASSERT(memcmp(info.data, "hello", 5) == 0);
}

static void
test_dsl_over_limit(void)
{
	uint8_t buf[64];
	struct iscsi_pdu_info info;

	make_bhs(buf, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | ISCSI_SCSI_CMD_FLAG_WRITE, 8193, 1);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, sizeof(buf), &g_params, &info), -EPROTO);
}

static void
test_unknown_opcode_rejected(void)
{
	uint8_t buf[48];
	struct iscsi_pdu_info info;

	/* A target opcode sent by an initiator. */
	make_bhs(buf, ISCSI_OP_SCSI_RSP, ISCSI_FLAG_FINAL, 0, 1);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, sizeof(buf), &g_params, &info), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(info.reject_reason, ISCSI_REJECT_COMMAND_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(info.total_len, 48);
	make_bhs(buf, ISCSI_OP_SNACK, ISCSI_FLAG_FINAL, 0, 1);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, sizeof(buf), &g_params, &info), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(info.reject_reason, ISCSI_REJECT_PROTOCOL_ERROR);
}

static void
test_field_checks(void)
{
	uint8_t buf[64];
	struct iscsi_pdu_info info;

	/* NOP-Out ping response (ITT reserved) without I bit */
	make_bhs(buf, ISCSI_OP_NOPOUT, ISCSI_FLAG_FINAL, 0, ISCSI_RESERVED_TAG);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 48, &g_params, &info), -EINVAL);
	/* TMF with data */
	make_bhs(buf, ISCSI_OP_TASK_REQ, ISCSI_FLAG_FINAL | 1, 4, 1);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 52, &g_params, &info), -EINVAL);
	/* Login with T and C */
	make_bhs(buf, ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE,
	         ISCSI_LOGIN_FLAG_TRANSIT | ISCSI_LOGIN_FLAG_CONTINUE, 0, 1);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 48, &g_params, &info), -EINVAL);
	/* SCSI read command with immediate data */
	make_bhs(buf, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | ISCSI_SCSI_CMD_FLAG_READ, 4, 1);
	((struct iscsi_bhs_scsi_cmd *)buf)->expected_data_xfer_len = ftgt_cpu_to_be32(512);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 52, &g_params, &info), -EINVAL);
	/* Immediate data larger than the expected transfer length */
	make_bhs(buf, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | ISCSI_SCSI_CMD_FLAG_WRITE, 8, 1);
	((struct iscsi_bhs_scsi_cmd *)buf)->expected_data_xfer_len = ftgt_cpu_to_be32(4);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 56, &g_params, &info), -EINVAL);
	/* Valid write with immediate data */
	((struct iscsi_bhs_scsi_cmd *)buf)->expected_data_xfer_len = ftgt_cpu_to_be32(512);
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 56, &g_params, &info), 56);
	CU_ASSERT_EQUAL(info.cdb_len, 16);
}

static void
test_ext_cdb_ahs(void)
{
	uint8_t buf[128];
	struct iscsi_pdu_info info;
	struct iscsi_bhs_scsi_cmd *c = (struct iscsi_bhs_scsi_cmd *)buf;
	uint8_t *ahs = buf + 48;

	/* 32-byte CDB: AHSLength = 32 - 15 = 17, AHS occupies pad4(3 + 17) = 20 bytes */
	make_bhs(buf, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | ISCSI_SCSI_CMD_FLAG_READ, 0, 9);
	c->total_ahs_len = 5;
	for (int i = 0; i < 16; i++) {
		c->cdb[i] = (uint8_t)i;
	}
	memset(ahs, 0, 20);
	ahs[1] = 17;
	ahs[2] = ISCSI_AHS_TYPE_EXT_CDB;
	for (int i = 0; i < 16; i++) {
		ahs[4 + i] = (uint8_t)(16 + i);
	}
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 68, &g_params, &info), 68);
	CU_ASSERT_EQUAL(info.cdb_len, 32);
	for (int i = 0; i < 32; i++) {
		CU_ASSERT_EQUAL(info.cdb[i], i);
	}
	/* AHSLength beyond TotalAHSLength */
	ahs[1] = 18;
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 68, &g_params, &info), -EPROTO);
	/* Unknown AHS type */
	ahs[1] = 17;
	ahs[2] = 0x7f;
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 68, &g_params, &info), -EPROTO);
	/* AHS on a NOP-Out */
	ahs[2] = ISCSI_AHS_TYPE_EXT_CDB;
	c->opcode = ISCSI_OP_NOPOUT | ISCSI_FLAG_IMMEDIATE;
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, 68, &g_params, &info), -EPROTO);
}

static void
test_digests(void)
{
	struct iscsi_pdu_params p = g_params;
	uint8_t buf[128];
	struct iscsi_pdu_info info;
	struct iovec iov;
	uint32_t hl;

	p.header_digest = true;
	p.data_digest = true;
	make_bhs(buf, ISCSI_OP_NOPOUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, 0, 3);
	hl = iscsi_pdu_finish_hdr(buf, 6, &p);
	CU_ASSERT_EQUAL(hl, 52);
	memcpy(buf + 52, "abcdef\0\0", 8);
	iov.iov_base = buf + 52;
	iov.iov_len = 6;
	iscsi_pdu_put_digest(buf + 60, iscsi_pdu_data_digest(&iov, 1, 6));
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, sizeof(buf), &p, &info), 64);
	/* Known answer: CRC32C("abcdef") padded with 2 zero bytes equals the update over 8. */
	CU_ASSERT_EQUAL(iscsi_pdu_data_digest(&iov, 1, 6),
	                ftgt_crc32c_update(buf + 52, 8, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR);
	/* Header digest on the wire is little endian: bytes of crc32c(bhs). */
	{
		uint32_t d = ftgt_crc32c_update(buf, 48, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR;

		CU_ASSERT_EQUAL(buf[48], d & 0xff);
		CU_ASSERT_EQUAL(buf[51], d >> 24);
	}
	buf[60] ^= 1;
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, sizeof(buf), &p, &info), -EILSEQ);
	CU_ASSERT_EQUAL(info.reject_reason, ISCSI_REJECT_DATA_DIGEST_ERROR);
	CU_ASSERT_EQUAL(info.total_len, 64);
	buf[60] ^= 1;
	buf[20] ^= 1; /* corrupt the header */
	CU_ASSERT_EQUAL(iscsi_pdu_parse(buf, sizeof(buf), &p, &info), -EPROTO);
}

static void
test_text_iter(void)
{
	static const uint8_t seg[] = "InitiatorName=iqn.a\0SessionType=Normal\0Bad\0";
	uint32_t pos = 0, kl, vl;
	const char *k, *v;

	CU_ASSERT_EQUAL(iscsi_text_next(seg, sizeof(seg) - 1, &pos, &k, &kl, &v, &vl), 1);
	CU_ASSERT(kl == 13 && memcmp(k, "InitiatorName", 13) == 0);
	CU_ASSERT(vl == 5 && memcmp(v, "iqn.a", 5) == 0);
	CU_ASSERT_EQUAL(iscsi_text_next(seg, sizeof(seg) - 1, &pos, &k, &kl, &v, &vl), 1);
	CU_ASSERT(vl == 6 && memcmp(v, "Normal", 6) == 0);
	CU_ASSERT_EQUAL(iscsi_text_next(seg, sizeof(seg) - 1, &pos, &k, &kl, &v, &vl), -EINVAL);
	pos = 0;
	CU_ASSERT_EQUAL(iscsi_text_next(seg, 0, &pos, &k, &kl, &v, &vl), 0);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("iscsi_pdu", NULL, NULL);
	CU_ADD_TEST(s, test_nop_out_basic);
	CU_ADD_TEST(s, test_dsl_over_limit);
	CU_ADD_TEST(s, test_unknown_opcode_rejected);
	CU_ADD_TEST(s, test_field_checks);
	CU_ADD_TEST(s, test_ext_cdb_ahs);
	CU_ADD_TEST(s, test_digests);
	CU_ADD_TEST(s, test_text_iter);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
