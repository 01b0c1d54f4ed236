/* SPDX-License-Identifier: BSD-3-Clause */
#include "scsi_ut_common.h"

static void
test_inquiry_std(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_INQUIRY, 0, 0, 0, 96};

	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 96);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, 74);
	CU_ASSERT_EQUAL(g_buf[0], SCSI_DEVICE_TYPE_DISK);
	CU_ASSERT_EQUAL(g_buf[2], SCSI_VERSION_SPC4);
	CU_ASSERT_EQUAL(g_buf[3] & 0x0f, 2);
	CU_ASSERT_EQUAL(g_buf[4], 74 - 5);
	CU_ASSERT(g_buf[7] & SCSI_INQ_CMDQUE);
	CU_ASSERT(memcmp(g_buf + 8, "FTGT    ", 8) == 0);
	CU_ASSERT(memcmp(g_buf + 16, "Malloc disk     ", 16) == 0);

	/* Allocation length truncates. */
	cdb[4] = 5;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 96);
	CU_ASSERT_EQUAL(t.data_transferred, 5);

	/* Page code without EVPD. */
	cdb[2] = 0x80;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 96);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);

	/* A LUN that does not exist: qualifier 011b, type 1fh. */
	cdb[2] = 0;
	cdb[4] = 36;
	memset(&t, 0, sizeof(t));
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 36);
	t.lun_id = (uint64_t)5 << 48;
	t.status = 0xff;
	g_completions = 0;
	ftgt_scsi_task_execute(&t);
	CU_ASSERT_EQUAL(g_completions, 1);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(g_buf[0], SCSI_PERIPHERAL_NOT_SUPPORTED);
	/* ... and other commands to it fail with LOGICAL UNIT NOT SUPPORTED */
	cdb[0] = SCSI_OP_TEST_UNIT_READY;
	ftgt_scsi_task_execute(&t);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0);
}

static void
test_inquiry_vpd(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_INQUIRY, 1, SCSI_VPD_SUPPORTED_PAGES, 1, 0};
	uint32_t len, off;
	bool naa = false, scsi_name = false, rel = false;

	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 256);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	len = scsi_from_be16(g_buf + 2);
	CU_ASSERT(len >= 6);
	/* Every listed page is served, in ascending order. */
	{
		uint8_t pages[32];

		memcpy(pages, g_buf + 4, len);
		for (uint32_t i = 0; i < len; i++) {
			if (i > 0) {
				CU_ASSERT(pages[i] > pages[i - 1]);
			}
			cdb[2] = pages[i];
			ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 256);
			CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
			CU_ASSERT_EQUAL(g_buf[1], pages[i]);
		}
	}

	cdb[2] = SCSI_VPD_DEVICE_ID;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 256);
	len = scsi_from_be16(g_buf + 2);
	for (off = 4; off + 4 <= len + 4; off += 4u + g_buf[off + 3]) {
		uint8_t type = g_buf[off + 1] & 0x0f, assoc = g_buf[off + 1] & 0x30;

		if (type == SCSI_DESIG_NAA && assoc == SCSI_ASSOC_LU) {
			naa = true;
			CU_ASSERT_EQUAL(g_buf[off + 3], 16);
			CU_ASSERT_EQUAL(g_buf[off + 4] >> 4, 6);
		}
		if (type == SCSI_DESIG_SCSI_NAME && assoc == SCSI_ASSOC_TARGET_PORT) {
			scsi_name = true;
			CU_ASSERT_EQUAL(g_buf[off + 3] % 4, 0);
			CU_ASSERT(strcmp((char *)g_buf + off + 4, g_tport.name) == 0);
		}
		if (type == SCSI_DESIG_RELATIVE_TARGET_PORT) {
			rel = true;
			CU_ASSERT_EQUAL(scsi_from_be16(g_buf + off + 6), 1);
		}
	}
	CU_ASSERT(naa && scsi_name && rel);

	cdb[2] = SCSI_VPD_LOGICAL_BLOCK_PROVISIONING;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 256);
	CU_ASSERT_EQUAL(g_buf[5] & 0x80, 0x80); /* LBPU */

	cdb[2] = 0x99;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 256);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
}

static void
test_report_luns(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_REPORT_LUNS};

	scsi_to_be32(cdb + 6, 64);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 64);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf), 8);
	CU_ASSERT_EQUAL(t.data_transferred, 16);
	scsi_to_be32(cdb + 6, 15);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 64);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
	scsi_to_be32(cdb + 6, 64);
	cdb[2] = 7;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 64);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
}

static void
test_mode_sense(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_MODE_SENSE_10, 0, SCSI_MODE_PAGE_ALL};
	uint32_t off, total;
	int pages = 0;

	scsi_to_be16(cdb + 7, 512);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 512);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	total = scsi_from_be16(g_buf) + 2u;
	CU_ASSERT_EQUAL(total, t.data_transferred);
	CU_ASSERT_EQUAL(scsi_from_be16(g_buf + 6), 8); /* block descriptor */
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 8 + 4) & 0xffffff, UT_BS);
	for (off = 16; off < total; off += 2u + g_buf[off + 1]) {
		pages++;
	}
	CU_ASSERT_EQUAL(off, total);
	CU_ASSERT(pages >= 3);

	/* Saved values: not supported. */
	cdb[2] = (uint8_t)(SCSI_MODE_PC_SAVED << 6) | SCSI_MODE_PAGE_CACHING;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 512);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED,
	                0);
	/* Unknown page */
	cdb[2] = 0x2b;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 512);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
	/* Informational exceptions control page, MODE SENSE(6) */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_MODE_SENSE_6;
	cdb[2] = SCSI_MODE_PAGE_INFO_EXCEPTIONS;
	cdb[4] = 255;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 255);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(g_buf[0] + 1, t.data_transferred);
	CU_ASSERT_EQUAL(g_buf[4 + 8], SCSI_MODE_PAGE_INFO_EXCEPTIONS);
}

static void
test_misc(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_TEST_UNIT_READY};

	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);

	/* Unknown opcode */
	cdb[0] = 0xc0;
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_COMMAND_OPERATION_CODE, 0);

	/* STOP then TUR -> NOT READY, START -> ready */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_START_STOP_UNIT;
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	cdb[0] = SCSI_OP_TEST_UNIT_READY;
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	ut_assert_sense(&t, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0x02);
	cdb[0] = SCSI_OP_REQUEST_SENSE;
	cdb[4] = 18;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 18);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(g_buf[2] & 0xf, SCSI_SENSE_NOT_READY);
	cdb[0] = SCSI_OP_START_STOP_UNIT;
	cdb[4] = 1;
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	cdb[0] = SCSI_OP_TEST_UNIT_READY;
	cdb[4] = 0;
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);

	/* REQUEST SENSE with DESC=1 is refused (fixed format only). */
	cdb[0] = SCSI_OP_REQUEST_SENSE;
	cdb[1] = 1;
	cdb[4] = 18;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 18);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
}

static void
test_report_opcodes(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_SUPPORTED_OPCODES, 0};
	uint32_t len, off;
	bool saw_read16 = false;

	scsi_to_be32(cdb + 6, 4096);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 4096);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	len = scsi_from_be32(g_buf);
	CU_ASSERT_EQUAL(len % 8, 0);
	for (off = 4; off < len + 4; off += 8) {
		uint8_t op = g_buf[off];
		uint16_t sa = scsi_from_be16(g_buf + off + 2);
		bool servactv = g_buf[off + 5] & 1;
		struct ftgt_scsi_task t2;
		uint8_t cdb2[16] = {SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_SUPPORTED_OPCODES,
		                    servactv ? 2 : 1, op};
		uint8_t one[64];

		if (op == SCSI_OP_READ_16) {
			saw_read16 = true;
		}
		/* Each listed command is reported "supported" on its own, with its CDB
		 * length and the opcode as the first usage byte. */
		scsi_to_be16(cdb2 + 4, sa);
		scsi_to_be32(cdb2 + 6, sizeof(one));
		memcpy(one, g_buf + off, 8);
		{
			uint8_t saved[4096];

			memcpy(saved, g_buf, sizeof(saved));
			ut_run(&t2, cdb2, FTGT_SCSI_DIR_FROM_DEV, NULL, sizeof(one));
			CU_ASSERT_EQUAL(t2.status, SCSI_STATUS_GOOD);
			CU_ASSERT_EQUAL(g_buf[1] & 7, 3);
			CU_ASSERT_EQUAL(scsi_from_be16(g_buf + 2), scsi_from_be16(one + 6));
			CU_ASSERT_EQUAL(g_buf[4], op);
			memcpy(g_buf, saved, sizeof(saved));
		}
	}
	CU_ASSERT(saw_read16);
	/* RCTD: 20-byte descriptors */
	cdb[2] = 0x80;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 4096);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf) % 20, 0);
	CU_ASSERT_EQUAL(g_buf[4 + 5] & 2, 2);
	/* Option 1 for an opcode with service actions: invalid */
	cdb[2] = 1;
	cdb[3] = SCSI_OP_SERVICE_ACTION_IN_16;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 4096);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
	/* Unsupported opcode: SUPPORT = 001b */
	cdb[3] = 0xc5;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 4096);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(g_buf[1] & 7, 1);
}

static void
add_tests(CU_pSuite s)
{
	CU_ADD_TEST(s, test_inquiry_std);
	CU_ADD_TEST(s, test_inquiry_vpd);
	CU_ADD_TEST(s, test_report_luns);
	CU_ADD_TEST(s, test_mode_sense);
	CU_ADD_TEST(s, test_misc);
	CU_ADD_TEST(s, test_report_opcodes);
}

int
main(void)
{
	return ut_main("scsi_spc", add_tests);
}
