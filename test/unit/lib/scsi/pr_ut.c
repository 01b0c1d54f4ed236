/* SPDX-License-Identifier: BSD-3-Clause */
#include "scsi_ut_common.h"

static void
prout(struct ftgt_scsi_task *t, const struct ftgt_scsi_port *ip, uint8_t sa, uint8_t type,
      uint64_t key, uint64_t sa_key)
{
	uint8_t cdb[16] = {SCSI_OP_PERSISTENT_RESERVE_OUT, sa, type};
	struct scsi_pr_out_param p;

	memset(&p, 0, sizeof(p));
	p.reservation_key = ftgt_cpu_to_be64(key);
	p.sa_reservation_key = ftgt_cpu_to_be64(sa_key);
	scsi_to_be32(cdb + 5, sizeof(p));
	ut_run_port(t, ip, cdb, 10, FTGT_SCSI_DIR_TO_DEV, &p, sizeof(p));
}

static void
prin_port(struct ftgt_scsi_task *t, const struct ftgt_scsi_port *ip, uint8_t sa)
{
	uint8_t cdb[16] = {SCSI_OP_PERSISTENT_RESERVE_IN, sa};

	scsi_to_be16(cdb + 7, 1024);
	ut_run_port(t, ip, cdb, 10, FTGT_SCSI_DIR_FROM_DEV, NULL, 1024);
}

static void
prin(struct ftgt_scsi_task *t, uint8_t sa)
{
	prin_port(t, &g_iport, sa);
}

static uint8_t
io(const struct ftgt_scsi_port *ip, uint8_t op)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {op};
	uint8_t data[UT_BS] = {0};

	scsi_to_be16(cdb + 7, 1);
	ut_run_port(&t, ip, cdb, 10,
	            op == SCSI_OP_WRITE_10 ? FTGT_SCSI_DIR_TO_DEV : FTGT_SCSI_DIR_FROM_DEV, data,
	            UT_BS);
	return t.status;
}

static void
test_register_reserve_release(void)
{
	struct ftgt_scsi_task t;
	uint32_t gen;

	/* Register: a non-registered nexus must give key 0. */
	prout(&t, &g_iport, SCSI_PR_OUT_REGISTER, 0, 5, 0xaa);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	prout(&t, &g_iport, SCSI_PR_OUT_REGISTER, 0, 0, 0xaa);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prout(&t, &g_iport2, SCSI_PR_OUT_REGISTER, 0, 0, 0xbb);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);

	prin(&t, SCSI_PR_IN_READ_KEYS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	gen = scsi_from_be32(g_buf);
	CU_ASSERT_EQUAL(gen, 2);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), 16);
	CU_ASSERT_EQUAL(scsi_from_be64(g_buf + 8), 0xaa);
	CU_ASSERT_EQUAL(scsi_from_be64(g_buf + 16), 0xbb);

	/* Reserve with the wrong key: conflict. */
	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xbb, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xaa, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prin(&t, SCSI_PR_IN_READ_RESERVATION);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), 16);
	CU_ASSERT_EQUAL(scsi_from_be64(g_buf + 8), 0xaa);
	CU_ASSERT_EQUAL(g_buf[21], SCSI_PR_TYPE_WRITE_EXCLUSIVE);

	/* Write Exclusive: the other registrant may read, not write. */
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_READ_10), SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_WRITE_10), SCSI_STATUS_RESERVATION_CONFLICT);
	CU_ASSERT_EQUAL(io(&g_iport, SCSI_OP_WRITE_10), SCSI_STATUS_GOOD);
	/* Another reservation by a non-holder: conflict. */
	prout(&t, &g_iport2, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xbb, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	/* Release with the wrong type: INVALID RELEASE OF PERSISTENT RESERVATION. */
	prout(&t, &g_iport, SCSI_PR_OUT_RELEASE, SCSI_PR_TYPE_EXCLUSIVE_ACCESS, 0xaa, 0);
	ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, 0x26, 0x04);
	prout(&t, &g_iport, SCSI_PR_OUT_RELEASE, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xaa, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_WRITE_10), SCSI_STATUS_GOOD);
}

static void
test_exclusive_access_and_preempt(void)
{
	struct ftgt_scsi_task t;

	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_EXCLUSIVE_ACCESS, 0xaa, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_READ_10), SCSI_STATUS_RESERVATION_CONFLICT);
	/* PR IN is always allowed */
	prin(&t, SCSI_PR_IN_REPORT_CAPABILITIES);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(scsi_from_be16(g_buf), 8);
	/* The second initiator preempts the holder's key: it becomes holder and the
	 * first registration is gone. */
	prout(&t, &g_iport2, SCSI_PR_OUT_PREEMPT, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xbb, 0xaa);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	/* SPC-4 5.12.11.4: the preempted nexus is told once, by its next command (even
	 * PERSISTENT RESERVE IN); the preempter is not. */
	prin(&t, SCSI_PR_IN_READ_RESERVATION);
	ut_assert_sense(&t, SCSI_SENSE_UNIT_ATTENTION, SCSI_ASC_PARAMETERS_CHANGED,
	                SCSI_ASCQ_REGISTRATIONS_PREEMPTED);
	prin_port(&t, &g_iport2, SCSI_PR_IN_READ_KEYS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prin(&t, SCSI_PR_IN_READ_RESERVATION);
	CU_ASSERT_EQUAL(scsi_from_be64(g_buf + 8), 0xbb);
	prin(&t, SCSI_PR_IN_READ_KEYS);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), 8);
	CU_ASSERT_EQUAL(io(&g_iport, SCSI_OP_WRITE_10), SCSI_STATUS_RESERVATION_CONFLICT);
	/* Full status names the holder with an iSCSI TransportID. */
	prin(&t, SCSI_PR_IN_READ_FULL_STATUS);
	CU_ASSERT_EQUAL(g_buf[8 + 12] & 1, 1);
	CU_ASSERT_EQUAL(g_buf[8 + 24], SCSI_PROTOCOL_ISCSI);
	CU_ASSERT(strcmp((char *)g_buf + 8 + 28, g_iport2.name) == 0);
	/* Unregistering the holder releases a non-all-registrants reservation. */
	prout(&t, &g_iport2, SCSI_PR_OUT_REGISTER, 0, 0xbb, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prin(&t, SCSI_PR_IN_READ_RESERVATION);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), 0);
	CU_ASSERT_EQUAL(io(&g_iport, SCSI_OP_WRITE_10), SCSI_STATUS_GOOD);
}

static void
test_all_regs_and_clear(void)
{
	struct ftgt_scsi_task t;

	prout(&t, &g_iport, SCSI_PR_OUT_REGISTER_AND_IGNORE_KEY, 0, 0x1234, 0x11);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prout(&t, &g_iport2, SCSI_PR_OUT_REGISTER_AND_IGNORE_KEY, 0, 0, 0x22);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS, 0x11, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	/* Every registrant is a holder. */
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_WRITE_10), SCSI_STATUS_GOOD);
	prin(&t, SCSI_PR_IN_READ_RESERVATION);
	CU_ASSERT_EQUAL(scsi_from_be64(g_buf + 8), 0); /* key 0 for all-registrants */
	/* APTPL is not supported. */
	{
		uint8_t cdb[16] = {SCSI_OP_PERSISTENT_RESERVE_OUT, SCSI_PR_OUT_REGISTER};
		struct scsi_pr_out_param p;

		memset(&p, 0, sizeof(p));
		p.reservation_key = ftgt_cpu_to_be64(0x11);
		p.flags = SCSI_PR_OUT_FLAG_APTPL;
		scsi_to_be32(cdb + 5, sizeof(p));
		ut_run_port(&t, &g_iport, cdb, 10, FTGT_SCSI_DIR_TO_DEV, &p, sizeof(p));
		ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST,
		                SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0);
		/* ... nor ALL_TG_PT; both are ignored by service actions other than the
		 * register ones (SPC-4 6.16.3), SPEC_I_PT is refused by all. */
		p.flags = SCSI_PR_OUT_FLAG_ALL_TG_PT;
		ut_run_port(&t, &g_iport, cdb, 10, FTGT_SCSI_DIR_TO_DEV, &p, sizeof(p));
		ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST,
		                SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0);
		cdb[1] = SCSI_PR_OUT_RESERVE;
		cdb[2] = SCSI_PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS;
		p.flags = SCSI_PR_OUT_FLAG_ALL_TG_PT | SCSI_PR_OUT_FLAG_APTPL;
		ut_run_port(&t, &g_iport, cdb, 10, FTGT_SCSI_DIR_TO_DEV, &p, sizeof(p));
		CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
		p.flags = SCSI_PR_OUT_FLAG_SPEC_I_PT;
		ut_run_port(&t, &g_iport, cdb, 10, FTGT_SCSI_DIR_TO_DEV, &p, sizeof(p));
		ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST,
		                SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0);
		/* REGISTER AND MOVE is refused (service action field). */
		cdb[1] = 0x07;
		cdb[2] = SCSI_PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS;
		p.flags = 0;
		ut_run_port(&t, &g_iport, cdb, 10, FTGT_SCSI_DIR_TO_DEV, &p, sizeof(p));
		ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
		CU_ASSERT_EQUAL(t.sense[15], SCSI_SENSE_SKSV | SCSI_SENSE_SKS_CD | 0x08 | 4);
		CU_ASSERT_EQUAL(t.sense[17], 1);
		cdb[1] = SCSI_PR_OUT_REGISTER;
		cdb[2] = 0;
		/* Wrong parameter list length */
		scsi_to_be32(cdb + 5, 20);
		ut_run_port(&t, &g_iport, cdb, 10, FTGT_SCSI_DIR_TO_DEV, &p, 20);
		ut_assert_sense(&t, SCSI_SENSE_ILLEGAL_REQUEST,
		                SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
	}
	prout(&t, &g_iport2, SCSI_PR_OUT_CLEAR, 0, 0x22, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	/* SPC-4 5.12.11.6: the other registrants get RESERVATIONS PREEMPTED. */
	prin_port(&t, &g_iport2, SCSI_PR_IN_READ_KEYS);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prin(&t, SCSI_PR_IN_READ_KEYS);
	ut_assert_sense(&t, SCSI_SENSE_UNIT_ATTENTION, SCSI_ASC_PARAMETERS_CHANGED,
	                SCSI_ASCQ_RESERVATIONS_PREEMPTED);
	prin(&t, SCSI_PR_IN_READ_KEYS);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), 0);
	prin(&t, SCSI_PR_IN_READ_RESERVATION);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), 0);
}

static void
test_spc2_reserve(void)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_RESERVE_6};

	ut_run_port(&t, &g_iport, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_READ_10), SCSI_STATUS_RESERVATION_CONFLICT);
	ut_run_port(&t, &g_iport2, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	/* The nexus going away drops it. */
	ftgt_scsi_dev_nexus_lost(g_dev, &g_iport);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_READ_10), SCSI_STATUS_GOOD);
	ut_run_port(&t, &g_iport2, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	cdb[0] = SCSI_OP_RELEASE_6;
	ut_run_port(&t, &g_iport2, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	CU_ASSERT_EQUAL(io(&g_iport, SCSI_OP_WRITE_10), SCSI_STATUS_GOOD);
}

/* A reinstated session: a new port (id) with the same name takes the reservation; the
 * old port's nexus loss, which may come after, must not drop it. */
static void
test_spc2_reserve_reinstated(void)
{
	struct ftgt_scsi_port old = {.id = 21};
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_RESERVE_6};

	memcpy(old.name, g_iport.name, sizeof(old.name));
	ut_run_port(&t, &old, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	ut_run_port(&t, &g_iport, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	ftgt_scsi_dev_nexus_lost(g_dev, &old);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_READ_10), SCSI_STATUS_RESERVATION_CONFLICT);
	ftgt_scsi_dev_nexus_lost(g_dev, &g_iport);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_READ_10), SCSI_STATUS_GOOD);
}

static struct ftgt_scsi_port g_iport3 = {.id = 9, .name = "iqn.2000-01.com.ut:i3,i,0x3"};

static void
assert_ua(const struct ftgt_scsi_port *ip, uint8_t ascq)
{
	struct ftgt_scsi_task t;
	uint8_t cdb[16] = {SCSI_OP_TEST_UNIT_READY};

	ut_run_port(&t, ip, cdb, 6, FTGT_SCSI_DIR_NONE, NULL, 0);
	if (ascq == 0) {
		CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	} else {
		ut_assert_sense(&t, SCSI_SENSE_UNIT_ATTENTION, SCSI_ASC_PARAMETERS_CHANGED, ascq);
	}
}

/* SPC-4 5.12.11: the unit attentions other registrants get. */
static void
test_pr_unit_attentions(void)
{
	struct ftgt_scsi_task t;

	assert_ua(&g_iport, 0);
	assert_ua(&g_iport2, 0);
	assert_ua(&g_iport3, 0);
	prout(&t, &g_iport, SCSI_PR_OUT_REGISTER, 0, 0, 0xa1);
	prout(&t, &g_iport2, SCSI_PR_OUT_REGISTER, 0, 0, 0xb2);
	prout(&t, &g_iport3, SCSI_PR_OUT_REGISTER, 0, 0, 0xc3);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);

	/* Releasing a registrants-only reservation: RESERVATIONS RELEASED to the other
	 * registrants; a plain Write Exclusive release tells nobody. */
	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xa1, 0);
	prout(&t, &g_iport, SCSI_PR_OUT_RELEASE, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xa1, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	assert_ua(&g_iport2, 0);
	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_WRITE_EXCLUSIVE_REGS_ONLY, 0xa1, 0);
	prout(&t, &g_iport, SCSI_PR_OUT_RELEASE, SCSI_PR_TYPE_WRITE_EXCLUSIVE_REGS_ONLY, 0xa1, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	assert_ua(&g_iport, 0);
	assert_ua(&g_iport2, SCSI_ASCQ_RESERVATIONS_RELEASED);
	assert_ua(&g_iport2, 0);

	/* The holder of a registrants-only reservation unregisters: same news. */
	prout(&t, &g_iport2, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_EXCLUSIVE_ACCESS_REGS_ONLY, 0xb2, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	prout(&t, &g_iport2, SCSI_PR_OUT_REGISTER, 0, 0xb2, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	assert_ua(&g_iport, SCSI_ASCQ_RESERVATIONS_RELEASED);
	assert_ua(&g_iport2, 0);

	/* RESERVATION CONFLICT comes first (SAM-5 5.3.1) and leaves the UA pending: the
	 * third nexus has RESERVATIONS RELEASED twice, queued once. */
	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_EXCLUSIVE_ACCESS, 0xa1, 0);
	CU_ASSERT_EQUAL(io(&g_iport3, SCSI_OP_READ_10), SCSI_STATUS_RESERVATION_CONFLICT);
	prout(&t, &g_iport, SCSI_PR_OUT_RELEASE, SCSI_PR_TYPE_EXCLUSIVE_ACCESS, 0xa1, 0);
	assert_ua(&g_iport3, SCSI_ASCQ_RESERVATIONS_RELEASED);
	assert_ua(&g_iport3, 0);

	/* PREEMPT that changes the type: REGISTRATIONS PREEMPTED to the preempted,
	 * RESERVATIONS RELEASED to the registrants that stay. */
	prout(&t, &g_iport2, SCSI_PR_OUT_REGISTER, 0, 0, 0xb2);
	prout(&t, &g_iport, SCSI_PR_OUT_RESERVE, SCSI_PR_TYPE_WRITE_EXCLUSIVE, 0xa1, 0);
	prout(&t, &g_iport3, SCSI_PR_OUT_PREEMPT_AND_ABORT, SCSI_PR_TYPE_EXCLUSIVE_ACCESS, 0xc3,
	      0xa1);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	assert_ua(&g_iport3, 0);
	assert_ua(&g_iport, SCSI_ASCQ_REGISTRATIONS_PREEMPTED);
	assert_ua(&g_iport, 0);
	CU_ASSERT_EQUAL(io(&g_iport2, SCSI_OP_READ_10), SCSI_STATUS_RESERVATION_CONFLICT);
	prin(&t, SCSI_PR_IN_READ_KEYS);
	CU_ASSERT_EQUAL(scsi_from_be32(g_buf + 4), 16);

	/* CLEAR: RESERVATIONS PREEMPTED to the other registrants. */
	prout(&t, &g_iport3, SCSI_PR_OUT_CLEAR, 0, 0xc3, 0);
	CU_ASSERT_EQUAL(t.status, SCSI_STATUS_GOOD);
	assert_ua(&g_iport2, SCSI_ASCQ_RESERVATIONS_RELEASED);
	assert_ua(&g_iport2, SCSI_ASCQ_RESERVATIONS_PREEMPTED);
	assert_ua(&g_iport2, 0);
	assert_ua(&g_iport, 0);
	assert_ua(&g_iport3, 0);
}

static void
add_tests(CU_pSuite s)
{
	CU_ADD_TEST(s, test_register_reserve_release);
	CU_ADD_TEST(s, test_exclusive_access_and_preempt);
	CU_ADD_TEST(s, test_all_regs_and_clear);
	CU_ADD_TEST(s, test_spc2_reserve);
	CU_ADD_TEST(s, test_spc2_reserve_reinstated);
	CU_ADD_TEST(s, test_pr_unit_attentions);
}

int
main(void)
{
	return ut_main("scsi_pr", add_tests);
}
