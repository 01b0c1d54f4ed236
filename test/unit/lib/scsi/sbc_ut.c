/* SPDX-License-Identifier: BSD-3-Clause */
#include "scsi_ut_common.h"

static void
cdb_rw16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n, uint8_t flags)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = flags;
	scsi_to_be64(cdb + 2, lba);
	scsi_to_be32(cdb + 10, n);
}

static void
cdb_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t n, uint8_t flags)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = flags;
	scsi_to_be32(cdb + 2, lba);
	scsi_to_be16(cdb + 7, n);
}

static void
test_read_capacity(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_READ_CAPACITY_10};

	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 8);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, 8);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf), UT_BLOCKS - 1);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), UT_BS);

	/* LBA without PMI is an error. */
	cdb[5] = 1;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 8);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_SERVICE_ACTION_IN_16;
	cdb[1] = SCSI_SAI_READ_CAPACITY_16;
	scsi_to_be32(cdb + 10, 32);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 64);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, 32); /* allocation length caps it */
	CU_ASSERT_EQUAL(scsi_from_be64(g_buf), UT_BLOCKS - 1);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 8), UT_BS);
	CU_ASSERT(g_buf[14] & 0x80); /* LBPME: the bdev supports unmap */
}

static void
test_write_read_roundtrip(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16], data[4 * UT_BS];

	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7);
	}
	cdb_rw10(cdb, SCSI_OP_WRITE_10, 100, 4, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, sizeof(data));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, sizeof(data));
	CU_ASSERT(memcmp(fake_bdev_data() + 100 * UT_BS, data, sizeof(data)) == 0);
	CU_ASSERT(!g_fake_bdev.last_write_fua);

	cdb_rw16(cdb, SCSI_OP_READ_16, 100, 4, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, sizeof(data));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, sizeof(data));
	CU_ASSERT(memcmp(g_buf, data, sizeof(data)) == 0);

	/* FUA reaches the bdev. */
	cdb_rw16(cdb, SCSI_OP_WRITE_16, 0, 1, 0x08);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, UT_BS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT(g_fake_bdev.last_write_fua);

	/* READ(6): transfer length 0 means 256 blocks. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_READ_6;
	cdb[3] = 1;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 256 * UT_BS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, 256 * UT_BS);
}

static void
test_mode_select_wce_forces_fua(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {0}, param[4 + 20], data[UT_BS] = {0};

	/* MODE SENSE(6) the caching page, clear WCE, MODE SELECT it back. */
	cdb[0] = SCSI_OP_MODE_SENSE_6;
	cdb[1] = 0x08; /* DBD */
	cdb[2] = SCSI_MODE_PAGE_CACHING;
	cdb[4] = sizeof(param);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, sizeof(param));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, sizeof(param));
	CU_ASSERT_EQUAL(g_buf[4], SCSI_MODE_PAGE_CACHING);
	CU_ASSERT(g_buf[4 + 2] & SCSI_CACHING_WCE);
	memcpy(param, g_buf, sizeof(param));
	param[0] = 0;
	param[4 + 2] &= (uint8_t)~SCSI_CACHING_WCE;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_MODE_SELECT_6;
	cdb[1] = 0x10; /* PF */
	cdb[4] = sizeof(param);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);

	cdb_rw10(cdb, SCSI_OP_WRITE_10, 0, 1, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, UT_BS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT(g_fake_bdev.last_write_fua);

	/* Changing a non-changeable field is refused. */
	param[4 + 3] = 0x55;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_MODE_SELECT_6;
	cdb[1] = 0x10;
	cdb[4] = sizeof(param);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	                0);
	/* Restore WCE for the next tests. */
	param[4 + 3] = 0;
	param[4 + 2] |= SCSI_CACHING_WCE;
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
}

static void
test_rw_errors(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16], data[2 * UT_BS] = {0};

	cdb_rw16(cdb, SCSI_OP_READ_16, UT_BLOCKS - 1, 2, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 2 * UT_BS);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
	CU_ASSERT_EQUAL(t.data_transferred, 0);

	cdb_rw16(cdb, SCSI_OP_READ_16, UINT64_MAX, 1, 0); /* overflow */
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, UT_BS);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);

	cdb_rw10(cdb, SCSI_OP_READ_10, 0, 1, 0x20); /* RDPROTECT=1 */
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, UT_BS);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
	CU_ASSERT_EQUAL(t.sense[15], SCSI_SENSE_SKSV | SCSI_SENSE_SKS_CD | 0x08 | 7);
	CU_ASSERT_EQUAL(t.sense[17], 1);

	/* Write with less data than named (iSCSI EDTL < CDB): only the whole blocks
	 * given are written; the transport reports the overflow. */
	memset(fake_bdev_data(), 0x77, 2 * UT_BS);
	memset(data, 0x12, sizeof(data));
	cdb_rw10(cdb, SCSI_OP_WRITE_10, 0, 2, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, UT_BS + 100);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.cdb_data_len, 2 * UT_BS);
	CU_ASSERT_EQUAL(fake_bdev_data()[UT_BS - 1], 0x12);
	CU_ASSERT_EQUAL(fake_bdev_data()[UT_BS], 0x77);
	/* Less than a block: nothing written, GOOD. */
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, 200);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(fake_bdev_data()[UT_BS], 0x77);

	/* Read into a smaller buffer: only what fits moves, also part of a block. */
	cdb_rw10(cdb, SCSI_OP_READ_10, 0, 2, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, UT_BS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, UT_BS);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 200);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, 200);
	CU_ASSERT_EQUAL(g_buf[199], 0x12);
	CU_ASSERT_EQUAL(t.cdb_data_len, 2 * UT_BS);

	/* Zero-length read: GOOD, no I/O. */
	cdb_rw10(cdb, SCSI_OP_READ_10, 0, 0, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);

	/* Back-end failure -> MEDIUM ERROR from the bdev's translation. */
	g_fake_bdev.fail_io = true;
	cdb_rw10(cdb, SCSI_OP_READ_10, 0, 1, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, UT_BS);
	ut_assert_sense(&t, SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ_ERROR, 0);
	CU_ASSERT_EQUAL(t.data_transferred, 0);
	g_fake_bdev.fail_io = false;

	/* Submission -ENOMEM -> TASK SET FULL (the initiator retries). */
	g_fake_bdev.fail_submit = -ENOMEM;
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, UT_BS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_TASK_SET_FULL);
	g_fake_bdev.fail_submit = 0;
}

static void
test_write_same(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16], block[UT_BS], expect[UT_BS];
	uint64_t unmaps = g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_UNMAP];

	memset(fake_bdev_data() + 10 * UT_BS, 0x11, 5 * UT_BS);
	memset(block, 0, sizeof(block));
	cdb_rw16(cdb, SCSI_OP_WRITE_SAME_16, 10, 5, 0x08); /* UNMAP */
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, block, UT_BS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_UNMAP], unmaps + 1);
	CU_ASSERT_EQUAL(fake_bdev_data()[14 * UT_BS], 0);

	/* Pattern */
	for (int i = 0; i < UT_BS; i++) {
		block[i] = (uint8_t)(i ^ 0x5a);
	}
	cdb_rw10(cdb, SCSI_OP_WRITE_SAME_10, 20, 3, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, block, UT_BS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	memcpy(expect, block, UT_BS);
	for (int b = 20; b < 23; b++) {
		CU_ASSERT(memcmp(fake_bdev_data() + b * UT_BS, expect, UT_BS) == 0);
	}
	CU_ASSERT(fake_bdev_data()[23 * UT_BS] != expect[0] || expect[0] == 0);

	/* NUMBER OF LOGICAL BLOCKS 0 is refused (WSNZ), after the LBA range check. */
	cdb_rw10(cdb, SCSI_OP_WRITE_SAME_10, 20, 0, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, block, UT_BS);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
	cdb_rw10(cdb, SCSI_OP_WRITE_SAME_10, UT_BLOCKS + 1, 0, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, block, UT_BS);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
}

static void
test_unmap(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {0}, param[8 + 32] = {0};

	memset(fake_bdev_data(), 0x22, 64 * UT_BS);
	scsi_to_be16(param, 6 + 32);
	scsi_to_be16(param + 2, 32);
	scsi_to_be64(param + 8, 1);
	scsi_to_be32(param + 16, 2);
	scsi_to_be64(param + 24, UT_BLOCKS - 1);
	scsi_to_be32(param + 32, 2); /* out of range */
	cdb[0] = SCSI_OP_UNMAP;
	scsi_to_be16(cdb + 7, sizeof(param));
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
	CU_ASSERT_EQUAL(fake_bdev_data()[1 * UT_BS], 0x22); /* nothing unmapped */

	scsi_to_be32(param + 32, 1);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(fake_bdev_data()[1 * UT_BS], 0);
	CU_ASSERT_EQUAL(fake_bdev_data()[2 * UT_BS + 511], 0);
	CU_ASSERT_EQUAL(fake_bdev_data()[3 * UT_BS], 0x22);

	/* Block descriptor length beyond the list. */
	scsi_to_be16(param + 2, 48);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
}

static void
test_compare_and_write(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16], data[2 * UT_BS];

	memset(fake_bdev_data() + 50 * UT_BS, 0x33, UT_BS);
	memset(data, 0x33, UT_BS);
	memset(data + UT_BS, 0x44, UT_BS);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_COMPARE_AND_WRITE;
	scsi_to_be64(cdb + 2, 50);
	cdb[13] = 1;
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, sizeof(data));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(fake_bdev_data()[50 * UT_BS], 0x44);

	/* Same again: now the compare fails and nothing is written. */
	memset(data + UT_BS, 0x55, UT_BS);
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, sizeof(data));
	ut_assert_sense(&t, SCSI_SENSE_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY, 0);
	CU_ASSERT_EQUAL(fake_bdev_data()[50 * UT_BS], 0x44);

	/* More blocks than the atomic unit. */
	cdb[13] = 9;
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, sizeof(data));
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
}

static void
test_verify_and_sync(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16], data[UT_BS];
	uint64_t flushes = g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_FLUSH];

	memset(fake_bdev_data() + 60 * UT_BS, 0x66, UT_BS);
	memset(data, 0x66, sizeof(data));
	cdb_rw10(cdb, SCSI_OP_VERIFY_10, 60, 1, 0x02); /* BYTCHK=01b */
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, sizeof(data));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	data[3] = 0;
	ut_run(&t, cdb, FTGT_SCSI_DIR_TO_DEV, data, sizeof(data));
	ut_assert_sense(&t, SCSI_SENSE_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY, 0);
	/* BYTCHK=0: range check only */
	cdb_rw16(cdb, SCSI_OP_VERIFY_16, UT_BLOCKS, 1, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);

	cdb_rw10(cdb, SCSI_OP_SYNCHRONIZE_CACHE_10, 0, 0, 0);
	ut_run(&t, cdb, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_FLUSH], flushes + 1);
}

static void
test_get_lba_status(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_SERVICE_ACTION_IN_16, SCSI_SAI_GET_LBA_STATUS};

	scsi_to_be64(cdb + 2, 1000);
	scsi_to_be32(cdb + 10, 24);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 24);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(scsi_from_be64(g_buf + 8), 1000);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 16), UT_BLOCKS - 1000);
	scsi_to_be64(cdb + 2, UT_BLOCKS);
	ut_run(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 24);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
}

/* A transport without a channel for the LUN: commands that need the bdev are refused
 * (NOT READY), never submitted with a NULL channel; the others still work. */
static void
test_no_channel(void)
{
	static const uint8_t ops[] = {SCSI_OP_READ_10,          SCSI_OP_WRITE_10,
	                              SCSI_OP_VERIFY_10,        SCSI_OP_SYNCHRONIZE_CACHE_10,
	                              SCSI_OP_WRITE_SAME_10,    SCSI_OP_READ_16,
	                              SCSI_OP_WRITE_16,         SCSI_OP_UNMAP,
	                              SCSI_OP_COMPARE_AND_WRITE};
	static struct iovec iov;
	struct ftgt_scsi_task t;
	uint64_t before[FTGT_BDEV_NUM_IO_TYPES];
	uint8_t cdb[16];
	size_t i;

	memcpy(before, g_fake_bdev.submitted, sizeof(before));
	for (i = 0; i < sizeof(ops); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = ops[i];
		memset(&t, 0, sizeof(t));
		iov.iov_base = g_buf;
		iov.iov_len = UT_BS;
		t.cdb = cdb;
		t.cdb_len = 16;
		t.dev = g_dev;
		t.ch = NULL;
		t.initiator_port = &g_iport;
		t.target_port = &g_tport;
		t.iovs = &iov;
		t.iovcnt = 1;
		t.transfer_len = UT_BS;
		t.dir = FTGT_SCSI_DIR_FROM_DEV;
		t.cpl_fn = ut_cpl;
		g_completions = 0;
		ftgt_scsi_task_execute(&t);
		fake_bdev_poll();
		CU_ASSERT_EQUAL(g_completions, 1);
		ut_assert_sense(&t, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0);
	}
	CU_ASSERT_EQUAL(memcmp(before, g_fake_bdev.submitted, sizeof(before)), 0);

	/* READ CAPACITY needs no I/O. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_READ_CAPACITY_10;
	memset(&t, 0, sizeof(t));
	iov.iov_base = g_buf;
	iov.iov_len = 8;
	t.cdb = cdb;
	t.cdb_len = 10;
	t.dev = g_dev;
	t.initiator_port = &g_iport;
	t.target_port = &g_tport;
	t.iovs = &iov;
	t.iovcnt = 1;
	t.transfer_len = 8;
	t.dir = FTGT_SCSI_DIR_FROM_DEV;
	t.cpl_fn = ut_cpl;
	ftgt_scsi_task_execute(&t);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf), UT_BLOCKS - 1);
}

static void
add_tests(CU_pSuite s)
{
	CU_ADD_TEST(s, test_no_channel);
	CU_ADD_TEST(s, test_read_capacity);
	CU_ADD_TEST(s, test_write_read_roundtrip);
	CU_ADD_TEST(s, test_mode_select_wce_forces_fua);
	CU_ADD_TEST(s, test_rw_errors);
	CU_ADD_TEST(s, test_write_same);
	CU_ADD_TEST(s, test_unmap);
	CU_ADD_TEST(s, test_compare_and_write);
	CU_ADD_TEST(s, test_verify_and_sync);
	CU_ADD_TEST(s, test_get_lba_status);
}

int
main(void)
{
	return ut_main("scsi_sbc", add_tests);
}
