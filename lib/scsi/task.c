/* SPDX-License-Identifier: BSD-3-Clause */
/* Task dispatch, sense data and data-buffer helpers. */
#include <string.h>

#include "scsi_internal.h"

void
ftgt_scsi_task_set_sense(struct ftgt_scsi_task *task, uint8_t sk, uint8_t asc, uint8_t ascq)
{
	struct scsi_sense_fixed *s = (struct scsi_sense_fixed *)task->sense;

	FTGT_STATIC_ASSERT(FTGT_SCSI_SENSE_MAX >= SCSI_SENSE_FIXED_LEN);
	memset(s, 0, SCSI_SENSE_FIXED_LEN);
	s->response_code = SCSI_SENSE_FIXED_CURRENT;
	s->sense_key = sk & 0x0f;
	s->additional_len = SCSI_SENSE_FIXED_LEN - 8;
	s->asc = asc;
	s->ascq = ascq;
	task->sense_len = SCSI_SENSE_FIXED_LEN;
	task->status = SCSI_STATUS_CHECK_CONDITION;
}

void
scsi_task_set_sense_info(struct ftgt_scsi_task *task, uint8_t sk, uint8_t asc, uint8_t ascq,
                         uint32_t info)
{
	struct scsi_sense_fixed *s = (struct scsi_sense_fixed *)task->sense;

	ftgt_scsi_task_set_sense(task, sk, asc, ascq);
	s->response_code |= SCSI_SENSE_VALID;
	scsi_to_be32((uint8_t *)&s->information, info);
}

/* SPC-4 4.5.2.4.2: field pointer sense-key-specific data. bit < 0: no bit pointer. */
void
scsi_task_set_sense_field(struct ftgt_scsi_task *task, uint8_t asc, bool cdb, uint16_t field,
                          int bit)
{
	struct scsi_sense_fixed *s = (struct scsi_sense_fixed *)task->sense;

	ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST, asc, 0);
	s->sks[0] = SCSI_SENSE_SKSV | (cdb ? SCSI_SENSE_SKS_CD : 0);
	if (bit >= 0) {
		s->sks[0] |= 0x08 | (uint8_t)(bit & 7);
	}
	s->sks[1] = (uint8_t)(field >> 8);
	s->sks[2] = (uint8_t)field;
}

void
scsi_task_invalid_cdb(struct ftgt_scsi_task *task)
{
	ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB,
	                         0);
}

void
scsi_task_good(struct ftgt_scsi_task *task)
{
	task->status = SCSI_STATUS_GOOD;
	task->sense_len = 0;
}

void
scsi_task_complete(struct ftgt_scsi_task *task)
{
	task->cpl_fn(task);
}

void
scsi_task_put_data(struct ftgt_scsi_task *task, const void *buf, uint32_t len, uint32_t alloc_len)
{
	uint32_t n = FTGT_MIN(FTGT_MIN(len, alloc_len), task->transfer_len);
	uint32_t done = 0;
	int i;

	if (task->dir != FTGT_SCSI_DIR_FROM_DEV) {
		n = 0;
	}
	for (i = 0; i < task->iovcnt && done < n; i++) {
		uint32_t c = (uint32_t)FTGT_MIN((size_t)(n - done), task->iovs[i].iov_len);

		memcpy(task->iovs[i].iov_base, (const uint8_t *)buf + done, c);
		done += c;
	}
	task->data_transferred = done;
}

uint32_t
scsi_task_get_data(struct ftgt_scsi_task *task, void *buf, uint32_t len)
{
	uint32_t n = FTGT_MIN(len, task->transfer_len);
	uint32_t done = 0;
	int i;

	if (task->dir != FTGT_SCSI_DIR_TO_DEV) {
		return 0;
	}
	for (i = 0; i < task->iovcnt && done < n; i++) {
		uint32_t c = (uint32_t)FTGT_MIN((size_t)(n - done), task->iovs[i].iov_len);

		memcpy((uint8_t *)buf + done, task->iovs[i].iov_base, c);
		done += c;
	}
	task->data_transferred = done;
	return done;
}

/* SAM-5 4.6: single-level LUN (peripheral 00b or flat 01b addressing). */
static bool
lun_from_id(uint64_t id, uint32_t *lun)
{
	uint8_t method = (uint8_t)(id >> 62);

	if ((id & 0x0000ffffffffffffull) != 0) {
		return false;
	}
	if (method == 0) {
		if (((id >> 48) & 0x3f00) != 0) {
			return false;
		}
		*lun = (uint32_t)(id >> 48) & 0xff;
		return true;
	}
	if (method == 1) {
		*lun = (uint32_t)(id >> 48) & 0x3fff;
		return true;
	}
	return false;
}

/* SPC-4 4.2.5.1: the group code (opcode bits 7-5) fixes the CDB length. */
static uint32_t
cdb_min_len(uint8_t opcode)
{
	static const uint8_t len[8] = {6, 10, 10, 6, 16, 12, 6, 6};

	return len[opcode >> 5];
}

/*
 * The checks against state other nexuses change: reservations (SPC-4 5.12, 5.13) first,
 * since RESERVATION CONFLICT takes precedence over other status (SAM-5 5.3.1) and leaves
 * a pending unit attention in place; then the oldest unit attention of this nexus
 * (SAM-5 5.14: reported to any command but INQUIRY, REPORT LUNS and REQUEST SENSE, and
 * cleared by being reported). Returns 0 when the command may run.
 */
static int
lun_shared_check(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	uint8_t op = task->cdb[0], asc, ascq;
	int rc;

	pthread_mutex_lock(&lun->lock);
	rc = scsi_pr_check(task);
	if (rc == 0 && op != SCSI_OP_INQUIRY && op != SCSI_OP_REQUEST_SENSE &&
	    scsi_ua_take(lun, task->nexus, &asc, &ascq)) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_UNIT_ATTENTION, asc, ascq);
		rc = -1;
	}
	pthread_mutex_unlock(&lun->lock);
	return rc;
}

void
ftgt_scsi_task_execute(struct ftgt_scsi_task *task)
{
	uint32_t lun_id = UINT32_MAX;
	uint8_t op;

	task->status = SCSI_STATUS_GOOD;
	task->sense_len = 0;
	task->data_transferred = 0;
	task->cdb_data_len = 0;
	task->lun = NULL;
	task->bounce = NULL;
	task->failed = false;
	task->abort_requested = false;
	task->outstanding = 0;
	task->nexus = -1;

	if (task->cdb == NULL || task->cdb_len < 6 || task->cdb_len < cdb_min_len(task->cdb[0])) {
		scsi_task_invalid_cdb(task);
		scsi_task_complete(task);
		return;
	}
	op = task->cdb[0];
	if (task->dev != NULL && lun_from_id(task->lun_id, &lun_id)) {
		task->lun = ftgt_scsi_dev_get_lun(task->dev, lun_id);
	}
	task->nexus = scsi_nexus_get(task->dev, task->initiator_port, task->target_port);

	/* SPC-4 7.x: REPORT LUNS and INQUIRY work for any LUN number. */
	if (op == SCSI_OP_REPORT_LUNS) {
		scsi_spc_report_luns(task);
		return;
	}
	if (task->lun == NULL) {
		if (op == SCSI_OP_INQUIRY) {
			scsi_spc_inquiry_no_lun(task);
			return;
		}
		if (op == SCSI_OP_REQUEST_SENSE) {
			uint8_t sense[SCSI_SENSE_FIXED_LEN];

			ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0);
			memcpy(sense, task->sense, sizeof(sense));
			scsi_task_good(task);
			scsi_task_put_data(task, sense, sizeof(sense), task->cdb[4]);
			scsi_task_complete(task);
			return;
		}
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0);
		scsi_task_complete(task);
		return;
	}
	/* Pairs with the release store in scsi_lun_update_attn(): nothing reserved and
	 * no unit attention pending on this LUN means no lock on this path. */
	if (atomic_load_explicit(&task->lun->attn, memory_order_acquire) != 0 &&
	    lun_shared_check(task) != 0) {
		scsi_task_complete(task);
		return;
	}
	if (atomic_load_explicit(&task->lun->stopped, memory_order_relaxed) &&
	    op != SCSI_OP_INQUIRY && op != SCSI_OP_REQUEST_SENSE && op != SCSI_OP_START_STOP_UNIT) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0x02);
		scsi_task_complete(task);
		return;
	}
	if (scsi_sbc_execute(task)) {
		return;
	}
	if (scsi_spc_execute(task)) {
		return;
	}
	ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
	                         SCSI_ASC_INVALID_COMMAND_OPERATION_CODE, 0);
	scsi_task_complete(task);
}
