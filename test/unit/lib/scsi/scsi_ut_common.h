/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the lib/scsi unit tests: one dev with LUN 0 on the fake bdev. */
#ifndef SCSI_UT_COMMON_H
#define SCSI_UT_COMMON_H

#include <CUnit/Basic.h>
#include <string.h>

#include "ftgt/scsi.h"
#include "ftgt/spec/scsi.h"
#include "fake_bdev.h"

#define UT_BLOCKS 1024
#define UT_BS     512

static struct ftgt_scsi_dev *g_dev;
static struct ftgt_scsi_port g_iport = {.id = 1, .name = "iqn.2000-01.com.ut:i1,i,0x1"};
static FTGT_UNUSED struct ftgt_scsi_port g_iport2 = {.id = 2,
                                                     .name = "iqn.2000-01.com.ut:i2,i,0x2"};
static struct ftgt_scsi_port g_tport = {
        .id = 3, .relative_id = 1, .name = "iqn.2000-01.com.ut:t,t,0x0001"};
static uint8_t g_buf[1 << 20];
static int g_completions;

static void
ut_cpl(struct ftgt_scsi_task *task)
{
	g_completions++;
}

static int
ut_setup(void)
{
	fake_bdev_init(UT_BLOCKS, UT_BS);
	g_dev = ftgt_scsi_dev_create("iqn.2000-01.com.ut:t");
	if (g_dev == NULL || ftgt_scsi_dev_add_lun(g_dev, 0, "Malloc0") != 0) {
		return 1;
	}
	return 0;
}

static int
ut_teardown(void)
{
	ftgt_scsi_dev_destroy(g_dev);
	fake_bdev_fini();
	return 0;
}

/* Run one command; data: write payload (TO_DEV) or NULL; len: transfer length. */
static FTGT_UNUSED void
ut_run_port(struct ftgt_scsi_task *task, const struct ftgt_scsi_port *ip, const uint8_t *cdb,
            uint32_t cdb_len, enum ftgt_scsi_dir dir, const void *data, uint32_t len)
{
	static struct iovec iov;

	memset(task, 0, sizeof(*task));
	if (dir == FTGT_SCSI_DIR_TO_DEV && data != NULL) {
		memcpy(g_buf, data, len);
	} else {
		memset(g_buf, 0xee, len);
	}
	iov.iov_base = g_buf;
	iov.iov_len = len;
	task->cdb = cdb;
	task->cdb_len = cdb_len;
	task->lun_id = 0;
	task->dev = g_dev;
	task->ch = ftgt_scsi_lun_get_io_channel(ftgt_scsi_dev_get_lun(g_dev, 0));
	task->initiator_port = ip;
	task->target_port = &g_tport;
	task->iovs = &iov;
	task->iovcnt = 1;
	task->transfer_len = len;
	task->dir = dir;
	task->cpl_fn = ut_cpl;
	g_completions = 0;
	ftgt_scsi_task_execute(task);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_completions, 1);
}

static FTGT_UNUSED void
ut_run(struct ftgt_scsi_task *task, const uint8_t *cdb, enum ftgt_scsi_dir dir, const void *data,
       uint32_t len)
{
	ut_run_port(task, &g_iport, cdb, 16, dir, data, len);
}

static FTGT_UNUSED void
ut_assert_sense(const struct ftgt_scsi_task *task, uint8_t sk, uint8_t asc, uint8_t ascq)
{
	CU_ASSERT_EQUAL(task->status, SCSI_STATUS_CHECK_CONDITION);
	CU_ASSERT_EQUAL(task->sense_len, 18);
	CU_ASSERT_EQUAL(task->sense[0] & 0x7f, 0x70);
	CU_ASSERT_EQUAL(task->sense[2] & 0x0f, sk);
	CU_ASSERT_EQUAL(task->sense[12], asc);
	CU_ASSERT_EQUAL(task->sense[13], ascq);
}

static FTGT_UNUSED int
ut_main(const char *name, void (*add)(CU_pSuite s))
{
	CU_pSuite s;
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite(name, ut_setup, ut_teardown);
	add(s);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}

#endif
