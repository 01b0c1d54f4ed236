/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/scsi/dev.c: unit attentions per I_T nexus (SAM-5 5.14) and task abort. */
#include <pthread.h>

#include "scsi_ut_common.h"
/* White box: lun->attn must fall back to 0 so that the I/O path stays lock-free. */
#include "../../../../lib/scsi/scsi_internal.h"

static struct ftgt_scsi_port g_iport3 = {.id = 7, .name = "iqn.2000-01.com.ut:i3,i,0x3"};

static uint8_t
tur(const struct ftgt_scsi_port *ip, struct ftgt_scsi_task *t)
{
	uint8_t cdb[16] = {SCSI_OP_TEST_UNIT_READY};

	ut_run_port(t, ip, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	return t->status;
}

static void
assert_ua(const struct ftgt_scsi_port *ip, uint8_t asc, uint8_t ascq)
{
	struct ftgt_scsi_task t;

	tur(ip, &t);
	ut_assert_sense(&t, SCSI_SENSE_UNIT_ATTENTION, asc, ascq);
}

static void
assert_good(const struct ftgt_scsi_port *ip)
{
	struct ftgt_scsi_task t;

	CU_ASSERT_EQUAL(tur(ip, &t), SCSI_STATUS_GOOD);
}

static uint32_t
lun0_attn(void)
{
	return atomic_load(&ftgt_scsi_dev_get_lun(g_dev, 0)->attn);
}

static int g_reset_rc;

static void
reset_done(void *cb_arg, int rc)
{
	g_reset_rc = rc;
	(*(int *)cb_arg)++;
}

static void
lun_reset(const struct ftgt_scsi_port *ip)
{
	struct ftgt_scsi_lun *lun = ftgt_scsi_dev_get_lun(g_dev, 0);
	int done = 0;

	g_reset_rc = -1;
	CU_ASSERT_EQUAL(
	        ftgt_scsi_lun_reset(lun, ftgt_scsi_lun_get_io_channel(lun), ip, reset_done, &done),
	        0);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(done, 1);
	CU_ASSERT_EQUAL(g_reset_rc, 0);
}

static void
test_lun_reset_ua(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_INQUIRY, 0, 0, 0, 36};

	/* Both nexuses are known before the reset; a brand-new nexus gets no UA (no
	 * POWER ON OCCURRED, see doc/scsi.md). */
	assert_good(&g_iport);
	assert_good(&g_iport2);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
	lun_reset(&g_iport);
	CU_ASSERT(lun0_attn() > 0);
	/* The resetter sees nothing; a nexus first seen after the reset neither. */
	assert_good(&g_iport);
	assert_good(&g_iport3);
	/* INQUIRY is not blocked and does not clear it. */
	ut_run_port(&t, &g_iport2, cdb, 6, FTGT_SCSI_DIR_FROM_DEV, NULL, 36);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, 36);
	/* The other nexus: once, then gone. */
	assert_ua(&g_iport2, SCSI_ASC_POWER_ON_RESET, SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	assert_good(&g_iport2);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
}

static void
test_request_sense_returns_ua(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18};

	lun_reset(&g_iport2);
	ut_run_port(&t, &g_iport, cdb, 6, FTGT_SCSI_DIR_FROM_DEV, NULL, 18);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, 18);
	CU_ASSERT_EQUAL(g_buf[0] & 0x7f, 0x70);
	CU_ASSERT_EQUAL(g_buf[2] & 0x0f, SCSI_SENSE_UNIT_ATTENTION);
	CU_ASSERT_EQUAL(g_buf[12], SCSI_ASC_POWER_ON_RESET);
	CU_ASSERT_EQUAL(g_buf[13], SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	/* Returned means cleared. */
	assert_good(&g_iport);
	ut_run_port(&t, &g_iport, cdb, 6, FTGT_SCSI_DIR_FROM_DEV, NULL, 18);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(g_buf[2] & 0x0f, SCSI_SENSE_NO_SENSE);
	CU_ASSERT_EQUAL(g_buf[12], 0);
	assert_good(&g_iport2);
	assert_ua(&g_iport3, SCSI_ASC_POWER_ON_RESET, SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
}

static void
test_report_luns_clears_luns_changed(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_REPORT_LUNS};

	scsi_to_be32(cdb + 6, 64);
	ftgt_scsi_dev_luns_changed(g_dev);
	ut_run_port(&t, &g_iport, cdb, 12, FTGT_SCSI_DIR_FROM_DEV, NULL, 64);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf), 8);
	assert_good(&g_iport);
	/* The other nexus did not ask: it still has it. */
	assert_ua(&g_iport2, SCSI_ASC_REPORTED_LUNS_DATA_CHANGED,
	          SCSI_ASCQ_REPORTED_LUNS_DATA_CHANGED);
	assert_good(&g_iport2);
	/* REPORT LUNS leaves other UAs alone. */
	ftgt_scsi_dev_raise_ua(g_dev, 0, NULL, SCSI_ASC_PARAMETERS_CHANGED,
	                       SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	ut_run_port(&t, &g_iport, cdb, 12, FTGT_SCSI_DIR_FROM_DEV, NULL, 64);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	assert_ua(&g_iport, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	assert_ua(&g_iport2, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	/* The third nexus (known since the first test) gets both, oldest first. */
	assert_ua(&g_iport3, SCSI_ASC_REPORTED_LUNS_DATA_CHANGED,
	          SCSI_ASCQ_REPORTED_LUNS_DATA_CHANGED);
	assert_ua(&g_iport3, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	assert_good(&g_iport3);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
}

static void
test_ua_queue(void)
{
	/* Oldest first, no duplicates, `except` skipped, other LUN ids ignored. */
	ftgt_scsi_dev_raise_ua(g_dev, 0, &g_iport, SCSI_ASC_POWER_ON_RESET,
	                       SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	ftgt_scsi_dev_raise_ua(g_dev, FTGT_SCSI_ALL_LUNS, &g_iport, SCSI_ASC_PARAMETERS_CHANGED,
	                       SCSI_ASCQ_MODE_PARAMETERS_CHANGED);
	ftgt_scsi_dev_raise_ua(g_dev, 0, &g_iport, SCSI_ASC_POWER_ON_RESET,
	                       SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	ftgt_scsi_dev_raise_ua(g_dev, 5, NULL, SCSI_ASC_PARAMETERS_CHANGED,
	                       SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	assert_good(&g_iport);
	assert_ua(&g_iport2, SCSI_ASC_POWER_ON_RESET, SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	assert_ua(&g_iport2, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_MODE_PARAMETERS_CHANGED);
	assert_good(&g_iport2);
	assert_ua(&g_iport3, SCSI_ASC_POWER_ON_RESET, SCSI_ASCQ_BUS_DEVICE_RESET_OCCURRED);
	/* A nexus that ends takes its pending UAs with it; the same port id comes back
	 * as a new nexus without them. */
	ftgt_scsi_dev_nexus_lost(g_dev, &g_iport3);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
	assert_good(&g_iport3);
	/* More UAs than the queue holds: the newest replaces the last one. */
	for (uint8_t q = 0x10; q < 0x10 + SCSI_UA_QUEUE_LEN + 2; q++) {
		ftgt_scsi_dev_raise_ua(g_dev, 0, NULL, 0x2a, q);
	}
	for (uint8_t q = 0x10; q < 0x10 + SCSI_UA_QUEUE_LEN - 1; q++) {
		assert_ua(&g_iport, 0x2a, q);
	}
	assert_ua(&g_iport, 0x2a, 0x10 + SCSI_UA_QUEUE_LEN + 1);
	assert_good(&g_iport);
	ftgt_scsi_dev_nexus_lost(g_dev, &g_iport2);
	ftgt_scsi_dev_nexus_lost(g_dev, &g_iport3);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
}

static void
mode_select_wce(const struct ftgt_scsi_port *ip, bool wce)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_MODE_SENSE_6, 0x08, SCSI_MODE_PAGE_CACHING, 0, 24};
	uint8_t param[24];

	ut_run_port(&t, ip, cdb, 6, FTGT_SCSI_DIR_FROM_DEV, NULL, sizeof(param));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	memcpy(param, g_buf, sizeof(param));
	param[0] = 0;
	param[4 + 2] = (uint8_t)((param[4 + 2] & ~SCSI_CACHING_WCE) | (wce ? SCSI_CACHING_WCE : 0));
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_MODE_SELECT_6;
	cdb[1] = 0x10; /* PF */
	cdb[4] = sizeof(param);
	ut_run_port(&t, ip, cdb, 6, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
}

static void
test_mode_select_and_resize_ua(void)
{
	assert_good(&g_iport2);
	/* Same value: nothing changed, nobody told. */
	mode_select_wce(&g_iport, true);
	assert_good(&g_iport2);
	mode_select_wce(&g_iport, false);
	assert_good(&g_iport);
	assert_ua(&g_iport2, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_MODE_PARAMETERS_CHANGED);
	mode_select_wce(&g_iport2, true);
	assert_ua(&g_iport, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_MODE_PARAMETERS_CHANGED);
	assert_good(&g_iport2);

	/* A resize reported by the bdev layer: every nexus re-reads the capacity. */
	fake_bdev_resize(UT_BLOCKS / 2);
	assert_ua(&g_iport, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	assert_ua(&g_iport2, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	fake_bdev_resize(UT_BLOCKS);
	assert_ua(&g_iport, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	assert_ua(&g_iport2, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_DATA_HAS_CHANGED);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
}

/* ---- bdev hot remove ------------------------------------------------------------------ */

static int g_removed_calls;
static uint32_t g_removed_lun;
static void *g_removed_arg;

static void
lun_removed(struct ftgt_scsi_dev *dev, uint32_t lun_id, void *cb_arg)
{
	CU_ASSERT_PTR_EQUAL(dev, g_dev);
	g_removed_calls++;
	g_removed_lun = lun_id;
	g_removed_arg = cb_arg;
}

/* A command to LUN 0 from a transport that holds no channel for it. */
static void
run_no_channel(struct ftgt_scsi_task *t, uint8_t op)
{
	uint8_t cdb[16] = {op};

	memset(t, 0, sizeof(*t));
	if (op == SCSI_OP_READ_10) {
		cdb[8] = 1;
	}
	t->cdb = cdb;
	t->cdb_len = 10;
	t->dev = g_dev;
	t->initiator_port = &g_iport;
	t->target_port = &g_tport;
	t->dir = op == SCSI_OP_READ_10 ? FTGT_SCSI_DIR_FROM_DEV : FTGT_SCSI_DIR_NONE;
	t->transfer_len = op == SCSI_OP_READ_10 ? UT_BS : 0;
	t->iovs = NULL;
	t->cpl_fn = ut_cpl;
	g_completions = 0;
	ftgt_scsi_task_execute(t);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_completions, 1);
}

static void
test_hot_remove(void)
{
	struct ftgt_scsi_task t;
	int arg;

	/* Without a callback: NOT READY until the owner removes the LUN. */
	fake_bdev_hot_remove();
	tur(&g_iport, &t);
	ut_assert_sense(&t, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0x02);
	CU_ASSERT_EQUAL(ftgt_scsi_dev_remove_lun(g_dev, 0), 0);
	CU_ASSERT_EQUAL(ftgt_scsi_dev_add_lun(g_dev, 0, "Malloc0"), 0);
	assert_good(&g_iport);

	/* With one: told once, with the LUN id and its argument. */
	ftgt_scsi_dev_set_lun_removed_cb(g_dev, lun_removed, &arg);
	g_removed_calls = 0;
	fake_bdev_hot_remove();
	CU_ASSERT_EQUAL(g_removed_calls, 1);
	CU_ASSERT_EQUAL(g_removed_lun, 0);
	CU_ASSERT_PTR_EQUAL(g_removed_arg, &arg);
	tur(&g_iport, &t);
	ut_assert_sense(&t, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0x02);
	/* The transport put its channels and removed the LUN: not supported any more. */
	CU_ASSERT_EQUAL(ftgt_scsi_dev_remove_lun(g_dev, 0), 0);
	run_no_channel(&t, SCSI_OP_TEST_UNIT_READY);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0);
	run_no_channel(&t, SCSI_OP_READ_10);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0);
	CU_ASSERT_EQUAL(g_removed_calls, 1);

	ftgt_scsi_dev_set_lun_removed_cb(g_dev, NULL, NULL);
	CU_ASSERT_EQUAL(ftgt_scsi_dev_add_lun(g_dev, 0, "Malloc0"), 0);
	assert_good(&g_iport);
}

/* ---- raise_ua from another thread -------------------------------------------------- */

#define RACE_ROUNDS   3000
#define RACE_MAX_TURS 2000000

static atomic_bool g_raiser_done;

struct race_worker {
	const struct ftgt_scsi_port *ip;
	uint32_t uas;
	uint32_t bad;
	int rounds;
};

static void
race_cpl(struct ftgt_scsi_task *task)
{
	(*(int *)task->cpl_arg)++;
}

static void
race_tur(const struct ftgt_scsi_port *ip, struct ftgt_scsi_task *t, int *done)
{
	static const uint8_t cdb[16] = {SCSI_OP_TEST_UNIT_READY};

	memset(t, 0, sizeof(*t));
	t->cdb = cdb;
	t->cdb_len = 6;
	t->dev = g_dev;
	t->initiator_port = ip;
	t->target_port = &g_tport;
	t->cpl_fn = race_cpl;
	t->cpl_arg = done;
	ftgt_scsi_task_execute(t);
}

static void *
race_commands(void *arg)
{
	struct race_worker *w = arg;
	struct ftgt_scsi_task t;
	int i, done = 0;
	bool last;

	/* Until a command ran after the last raise (it sees a UA unless earlier ones
	 * took them all), bounded in any case. */
	for (i = 0; i < RACE_MAX_TURS; i++) {
		last = atomic_load(&g_raiser_done) && i >= RACE_ROUNDS;
		race_tur(w->ip, &t, &done);
		if (t.status == SCSI_STATUS_CHECK_CONDITION &&
		    (t.sense[2] & 0x0f) == SCSI_SENSE_UNIT_ATTENTION &&
		    t.sense[12] == SCSI_ASC_PARAMETERS_CHANGED) {
			w->uas++;
		} else if (t.status != SCSI_STATUS_GOOD) {
			w->bad++;
		}
		if (last) {
			i++;
			break;
		}
	}
	if (done != i) {
		w->bad++;
	}
	w->rounds = i;
	return NULL;
}

static void *
race_raiser(void *arg)
{
	struct race_worker *w = arg;
	struct ftgt_scsi_task t;
	int i, done = 0;

	for (i = 0; i < RACE_ROUNDS; i++) {
		ftgt_scsi_dev_raise_ua(g_dev, i % 2 ? 0 : FTGT_SCSI_ALL_LUNS, NULL,
		                       SCSI_ASC_PARAMETERS_CHANGED, (uint8_t)(1 + i % 3));
		/* A third nexus comes and goes meanwhile (table changes under the
		 * other thread's lock-free lookups). */
		race_tur(w->ip, &t, &done);
		if (i % 7 == 0) {
			ftgt_scsi_dev_nexus_lost(g_dev, w->ip);
		}
	}
	atomic_store(&g_raiser_done, true);
	if (done != RACE_ROUNDS) {
		w->bad++;
	}
	return NULL;
}

static void
test_raise_ua_from_another_thread(void)
{
	struct race_worker cmd = {.ip = &g_iport2}, raiser = {.ip = &g_iport3};
	pthread_t a, b;
	int i;

	assert_good(&g_iport2);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&a, NULL, race_commands, &cmd), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&b, NULL, race_raiser, &raiser), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("\n    %u unit attentions in %d commands while %d were raised ", cmd.uas, cmd.rounds,
	       RACE_ROUNDS);
	CU_ASSERT_EQUAL(cmd.bad, 0);
	CU_ASSERT_EQUAL(raiser.bad, 0);
	CU_ASSERT(cmd.uas >= 1);
	/* What is left is at most a queue's worth, then the nexus is clean. */
	for (i = 0; i <= SCSI_UA_QUEUE_LEN; i++) {
		struct ftgt_scsi_task t;

		if (tur(&g_iport2, &t) == SCSI_STATUS_GOOD) {
			break;
		}
		ut_assert_sense(&t, SCSI_SENSE_UNIT_ATTENTION, SCSI_ASC_PARAMETERS_CHANGED,
		                t.sense[13]);
	}
	CU_ASSERT(i <= SCSI_UA_QUEUE_LEN);
	ftgt_scsi_dev_nexus_lost(g_dev, &g_iport);
	ftgt_scsi_dev_nexus_lost(g_dev, &g_iport3);
	CU_ASSERT_EQUAL(lun0_attn(), 0);
	assert_good(&g_iport);
}

/* ---- task abort -------------------------------------------------------------------- */

static int g_abort_cpls;

static void
abort_cpl(struct ftgt_scsi_task *task)
{
	g_abort_cpls++;
}

/* Execute without polling the fake bdev. */
static void
start(struct ftgt_scsi_task *t, const uint8_t *cdb, enum ftgt_scsi_dir dir, const void *data,
      uint32_t len)
{
	static struct iovec iov;

	memset(t, 0, sizeof(*t));
	if (data != NULL) {
		memcpy(g_buf, data, len);
	}
	iov.iov_base = g_buf;
	iov.iov_len = len;
	t->cdb = cdb;
	t->cdb_len = 16;
	t->dev = g_dev;
	t->ch = ftgt_scsi_lun_get_io_channel(ftgt_scsi_dev_get_lun(g_dev, 0));
	t->initiator_port = &g_iport;
	t->target_port = &g_tport;
	t->iovs = &iov;
	t->iovcnt = 1;
	t->transfer_len = len;
	t->dir = dir;
	t->cpl_fn = abort_cpl;
	g_abort_cpls = 0;
	ftgt_scsi_task_execute(t);
}

static void
read10(uint8_t *cdb, uint32_t lba, uint16_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = SCSI_OP_READ_10;
	scsi_to_be32(cdb + 2, lba);
	scsi_to_be16(cdb + 7, n);
}

static void
test_abort_held_io(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16];
	uint64_t aborts = g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_ABORT];

	g_fake_bdev.hold_io = true;
	read10(cdb, 0, 8);
	start(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, 8 * UT_BS);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 0);
	CU_ASSERT_EQUAL(fake_bdev_held_count(), 1);
	ftgt_scsi_task_abort(&t);
	/* Never completes from inside the abort call. */
	CU_ASSERT_EQUAL(g_abort_cpls, 0);
	ftgt_scsi_task_abort(&t); /* a second abort changes nothing */
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 1);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_TASK_ABORTED);
	CU_ASSERT_EQUAL(t.sense_len, 0);
	CU_ASSERT_EQUAL(t.data_transferred, 0);
	CU_ASSERT_EQUAL(g_fake_bdev.aborted, 1);
	CU_ASSERT_EQUAL(g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_ABORT], aborts + 1);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 1);
	g_fake_bdev.hold_io = false;
}

static void
test_abort_split_io(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_UNMAP}, param[8 + 48] = {0};
	int i;

	/* UNMAP with three descriptors: three bdev I/Os with the task as cb_arg. One
	 * completes before the abort; the task still completes once, aborted. */
	scsi_to_be16(param, 6 + 48);
	scsi_to_be16(param + 2, 48);
	for (i = 0; i < 3; i++) {
		scsi_to_be64(param + 8 + 16 * i, 10 * (uint64_t)i);
		scsi_to_be32(param + 16 + 16 * i, 2);
	}
	scsi_to_be16(cdb + 7, sizeof(param));
	g_fake_bdev.aborted = 0;
	g_fake_bdev.hold_io = true;
	start(&t, cdb, FTGT_SCSI_DIR_TO_DEV, param, sizeof(param));
	CU_ASSERT_EQUAL(fake_bdev_held_count(), 3);
	CU_ASSERT_EQUAL(fake_bdev_release_held(1), 1);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 0);
	ftgt_scsi_task_abort(&t);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 1);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_TASK_ABORTED);
	CU_ASSERT_EQUAL(g_fake_bdev.aborted, 2);
	CU_ASSERT_EQUAL(fake_bdev_held_count(), 0);
	g_fake_bdev.hold_io = false;
}

static void
test_abort_after_completion(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16];
	uint64_t aborts = g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_ABORT];

	/* The I/O completed and the task with it: nothing to abort, status kept. */
	read10(cdb, 0, 1);
	start(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, UT_BS);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 1);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	ftgt_scsi_task_abort(&t);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 1);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, UT_BS);
	CU_ASSERT_EQUAL(g_fake_bdev.submitted[FTGT_BDEV_IO_TYPE_ABORT], aborts);

	/* The back end completed the I/O but the task has not seen it yet: the abort
	 * loses the race and the command keeps its own status. */
	start(&t, cdb, FTGT_SCSI_DIR_FROM_DEV, NULL, UT_BS);
	CU_ASSERT_EQUAL(g_abort_cpls, 0);
	ftgt_scsi_task_abort(&t);
	fake_bdev_poll();
	CU_ASSERT_EQUAL(g_abort_cpls, 1);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(t.data_transferred, UT_BS);

	/* A command that needs no I/O completed inside execute: abort is a no-op. */
	assert_good(&g_iport);
}

static void
add_tests(CU_pSuite s)
{
	CU_ADD_TEST(s, test_lun_reset_ua);
	CU_ADD_TEST(s, test_request_sense_returns_ua);
	CU_ADD_TEST(s, test_report_luns_clears_luns_changed);
	CU_ADD_TEST(s, test_ua_queue);
	CU_ADD_TEST(s, test_mode_select_and_resize_ua);
	CU_ADD_TEST(s, test_hot_remove);
	CU_ADD_TEST(s, test_raise_ua_from_another_thread);
	CU_ADD_TEST(s, test_abort_held_io);
	CU_ADD_TEST(s, test_abort_split_io);
	CU_ADD_TEST(s, test_abort_after_completion);
}

int
main(void)
{
	return ut_main("scsi_dev", add_tests);
}
