/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SBC-3 block commands mapped onto bdev I/O: READ/WRITE(6/10/12/16), WRITE AND VERIFY,
 * VERIFY, SYNCHRONIZE CACHE, WRITE SAME (with UNMAP), UNMAP, COMPARE AND WRITE,
 * READ CAPACITY(10/16), GET LBA STATUS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_internal.h"

#define SBC_FLAG_FUA       (1u << 0)
#define SBC_FLAG_WRITE     (1u << 1)
#define SBC_WS_CHUNK_BYTES (1024u * 1024u)
#define SBC_MAX_UNMAP_DESC 256

/* Parsed READ/WRITE/VERIFY-style CDB (pure: also the fuzz target's entry). */
struct sbc_rw {
	uint64_t lba;
	uint32_t num_blocks;
	uint8_t protect; /* RDPROTECT/WRPROTECT/VRPROTECT */
	bool fua;
	bool dpo;
};

/* 0 or -EINVAL (CDB too short / not a R/W opcode). */
static int
sbc_parse_rw(const uint8_t *cdb, uint32_t cdb_len, struct sbc_rw *rw)
{
	memset(rw, 0, sizeof(*rw));
	switch (cdb[0]) {
	case SCSI_OP_READ_6:
	case SCSI_OP_WRITE_6:
		rw->lba = scsi_from_be24(cdb + 1) & 0x1fffff;
		rw->num_blocks = cdb[4] == 0 ? 256 : cdb[4];
		return 0;
	case SCSI_OP_READ_10:
	case SCSI_OP_WRITE_10:
	case SCSI_OP_WRITE_AND_VERIFY_10:
	case SCSI_OP_VERIFY_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_WRITE_SAME_10:
		if (cdb_len < 10) {
			return -EINVAL;
		}
		rw->lba = scsi_from_be32(cdb + 2);
		rw->num_blocks = scsi_from_be16(cdb + 7);
		break;
	case SCSI_OP_READ_12:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_WRITE_AND_VERIFY_12:
	case SCSI_OP_VERIFY_12:
		if (cdb_len < 12) {
			return -EINVAL;
		}
		rw->lba = scsi_from_be32(cdb + 2);
		rw->num_blocks = scsi_from_be32(cdb + 6);
		break;
	case SCSI_OP_READ_16:
	case SCSI_OP_WRITE_16:
	case SCSI_OP_WRITE_AND_VERIFY_16:
	case SCSI_OP_VERIFY_16:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
	case SCSI_OP_WRITE_SAME_16:
		if (cdb_len < 16) {
			return -EINVAL;
		}
		rw->lba = scsi_from_be64(cdb + 2);
		rw->num_blocks = scsi_from_be32(cdb + 10);
		break;
	case SCSI_OP_COMPARE_AND_WRITE:
		if (cdb_len < 16) {
			return -EINVAL;
		}
		rw->lba = scsi_from_be64(cdb + 2);
		rw->num_blocks = cdb[13];
		break;
	default:
		return -EINVAL;
	}
	rw->protect = cdb[1] >> 5;
	rw->dpo = (cdb[1] & 0x10) != 0;
	rw->fua = (cdb[1] & 0x08) != 0;
	return 0;
}

static bool
lba_range_ok(struct ftgt_scsi_task *task, uint64_t lba, uint64_t n)
{
	uint64_t nb = ftgt_bdev_get_num_blocks(task->lun->bdev);

	if (lba > nb || n > nb - lba) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_LBA_OUT_OF_RANGE, 0);
		return false;
	}
	return true;
}

static void
set_bdev_error(struct ftgt_scsi_task *task, struct ftgt_bdev_io *io)
{
	int sc, sk, asc, ascq;

	ftgt_bdev_io_get_scsi_status(io, &sc, &sk, &asc, &ascq);
	if (sc == SCSI_STATUS_CHECK_CONDITION) {
		ftgt_scsi_task_set_sense(task, (uint8_t)sk, (uint8_t)asc, (uint8_t)ascq);
	} else if (sc == SCSI_STATUS_GOOD) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ABORTED_COMMAND,
		                         SCSI_ASC_INTERNAL_TARGET_FAILURE, 0);
	} else {
		task->status = (uint8_t)sc;
	}
}

/* Whether io failed because ftgt_scsi_task_abort() aborted it (SAM-5 7.2). */
static bool
io_aborted_by_us(const struct ftgt_scsi_task *task, const struct ftgt_bdev_io *io)
{
	return task->abort_requested && ftgt_bdev_io_get_status(io) == FTGT_BDEV_IO_STATUS_ABORTED;
}

static void
set_task_aborted(struct ftgt_scsi_task *task)
{
	task->status = SCSI_STATUS_TASK_ABORTED;
	task->sense_len = 0;
	task->data_transferred = 0;
}

static void
set_io_error(struct ftgt_scsi_task *task, struct ftgt_bdev_io *io)
{
	if (io_aborted_by_us(task, io)) {
		set_task_aborted(task);
	} else {
		set_bdev_error(task, io);
	}
}

static void
submit_failed(struct ftgt_scsi_task *task, int rc)
{
	if (rc == -EINVAL) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_LBA_OUT_OF_RANGE, 0);
	} else if (rc == -ENOMEM) {
		/* The transport retries TASK SET FULL / BUSY commands. */
		task->status = SCSI_STATUS_TASK_SET_FULL;
	} else {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0);
	}
	free(task->bounce);
	task->bounce = NULL;
	scsi_task_complete(task);
}

/*
 * Completion of each bdev I/O of a task (several for UNMAP); the last one completes the
 * task: GOOD with data_transferred as prepared, the first error otherwise, or TASK
 * ABORTED when any piece was aborted by ftgt_scsi_task_abort().
 */
static void
io_done(struct ftgt_bdev_io *io, bool success, void *cb_arg)
{
	struct ftgt_scsi_task *task = cb_arg;

	if (!success && io_aborted_by_us(task, io)) {
		task->failed = true;
		set_task_aborted(task);
	} else if (!success && !task->failed) {
		task->failed = true;
		task->data_transferred = 0;
		set_bdev_error(task, io);
	}
	ftgt_bdev_free_io(io);
	if (--task->outstanding > 0) {
		return;
	}
	free(task->bounce);
	task->bounce = NULL;
	scsi_task_complete(task);
}

/* Read through a bounce buffer: copy what fits the initiator's buffer. */
static void
read_bounce_done(struct ftgt_bdev_io *io, bool success, void *cb_arg)
{
	struct ftgt_scsi_task *task = cb_arg;

	if (success) {
		scsi_task_put_data(task, task->bounce, (uint32_t)task->priv_iov[1].iov_len,
		                   task->transfer_len);
	} else {
		set_io_error(task, io);
	}
	ftgt_bdev_free_io(io);
	free(task->bounce);
	task->bounce = NULL;
	scsi_task_complete(task);
}

/* The task's buffer as an iovec of exactly len bytes (may shorten the caller's array). */
static int
task_iov(struct ftgt_scsi_task *task, uint64_t len, struct iovec **iov)
{
	uint64_t left = len;
	int i;

	if (task->iovcnt > 0 && task->iovs[0].iov_len >= len) {
		task->priv_iov[0].iov_base = task->iovs[0].iov_base;
		task->priv_iov[0].iov_len = len;
		*iov = task->priv_iov;
		return 1;
	}
	for (i = 0; i < task->iovcnt; i++) {
		if (task->iovs[i].iov_len >= left) {
			task->iovs[i].iov_len = left;
			*iov = task->iovs;
			return i + 1;
		}
		left -= task->iovs[i].iov_len;
	}
	return -1;
}

static void
sbc_read_write(struct ftgt_scsi_task *task, bool write)
{
	struct ftgt_scsi_lun *lun = task->lun;
	struct ftgt_bdev_ext_io_opts opts = {.size = sizeof(opts)};
	struct sbc_rw rw;
	struct iovec *iov;
	uint64_t len, xfer;
	int iovcnt, rc;

	if (sbc_parse_rw(task->cdb, task->cdb_len, &rw) != 0) {
		scsi_task_invalid_cdb(task);
		goto complete;
	}
	if (rw.protect != 0) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 7);
		goto complete;
	}
	if (!lba_range_ok(task, rw.lba, rw.num_blocks)) {
		goto complete;
	}
	if (rw.num_blocks == 0) {
		goto complete;
	}
	len = (uint64_t)rw.num_blocks * lun->block_size;
	task->cdb_data_len = (uint32_t)FTGT_MIN(len, (uint64_t)UINT32_MAX);
	xfer = task->dir == (write ? FTGT_SCSI_DIR_TO_DEV : FTGT_SCSI_DIR_FROM_DEV)
	               ? task->transfer_len
	               : 0;
	if (xfer < len) {
		/* iSCSI EDTL below the CDB's length (SAM-5 5.4, RFC 7143 11.4.5.2): move
		 * only what the initiator's buffer holds; the transport reports the
		 * overflow residual. A write writes only whole blocks of it. */
		if (write) {
			rw.num_blocks = xfer / lun->block_size;
		} else {
			rw.num_blocks = FTGT_CEIL_DIV(xfer, lun->block_size);
		}
		if (rw.num_blocks == 0) {
			goto complete;
		}
		len = (uint64_t)rw.num_blocks * lun->block_size;
		if (!write && len > xfer) {
			/* Partial last block: read through a bounce buffer (rare path). */
			task->bounce = malloc(len);
			if (task->bounce == NULL) {
				task->status = SCSI_STATUS_TASK_SET_FULL;
				goto complete;
			}
			task->priv_iov[1].iov_base = task->bounce;
			task->priv_iov[1].iov_len = len;
			task->outstanding = 1;
			rc = ftgt_bdev_readv_blocks_ext(lun->desc, task->ch, &task->priv_iov[1], 1,
			                                rw.lba, rw.num_blocks, read_bounce_done,
			                                task, NULL);
			if (rc != 0) {
				submit_failed(task, rc);
			}
			return;
		}
	}
	iovcnt = task_iov(task, len, &iov);
	if (iovcnt < 0) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
		goto complete;
	}
	task->data_transferred = (uint32_t)len;
	task->outstanding = 1;
	if (write) {
		if (rw.fua || !atomic_load_explicit(&lun->write_cache, memory_order_relaxed) ||
		    task->cdb[0] == SCSI_OP_WRITE_AND_VERIFY_10 ||
		    task->cdb[0] == SCSI_OP_WRITE_AND_VERIFY_12 ||
		    task->cdb[0] == SCSI_OP_WRITE_AND_VERIFY_16) {
			opts.io_flags |= FTGT_BDEV_IO_FLAG_FUA;
		}
		rc = ftgt_bdev_writev_blocks_ext(lun->desc, task->ch, iov, iovcnt, rw.lba,
		                                 rw.num_blocks, io_done, task, &opts);
	} else {
		rc = ftgt_bdev_readv_blocks_ext(lun->desc, task->ch, iov, iovcnt, rw.lba,
		                                rw.num_blocks, io_done, task, NULL);
	}
	if (rc != 0) {
		task->data_transferred = 0;
		submit_failed(task, rc);
	}
	return;
complete:
	scsi_task_complete(task);
}

static void
sbc_verify(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	struct sbc_rw rw;
	uint8_t bytchk = (task->cdb[1] >> 1) & 0x03;
	uint64_t len;
	int rc;

	if (sbc_parse_rw(task->cdb, task->cdb_len, &rw) != 0) {
		scsi_task_invalid_cdb(task);
		goto complete;
	}
	if (rw.protect != 0 || bytchk == 2 || bytchk == 3) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1,
		                          rw.protect ? 7 : 2);
		goto complete;
	}
	if (!lba_range_ok(task, rw.lba, rw.num_blocks) || rw.num_blocks == 0 || bytchk == 0) {
		/* BYTCHK=0: the medium is verified by the back end on every read. */
		goto complete;
	}
	len = (uint64_t)rw.num_blocks * lun->block_size;
	if (task->transfer_len < len || task->dir != FTGT_SCSI_DIR_TO_DEV) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
		goto complete;
	}
	task->bounce = malloc(len);
	if (task->bounce == NULL) {
		task->status = SCSI_STATUS_TASK_SET_FULL;
		goto complete;
	}
	scsi_task_get_data(task, task->bounce, (uint32_t)len);
	task->outstanding = 1;
	rc = ftgt_bdev_compare_blocks(lun->desc, task->ch, task->bounce, rw.lba, rw.num_blocks,
	                              io_done, task);
	if (rc != 0) {
		submit_failed(task, rc);
	}
	return;
complete:
	scsi_task_complete(task);
}

static void
sbc_sync_cache(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	struct sbc_rw rw;
	uint64_t n;
	int rc;

	if (sbc_parse_rw(task->cdb, task->cdb_len, &rw) != 0) {
		scsi_task_invalid_cdb(task);
		goto complete;
	}
	n = rw.num_blocks;
	if (!lba_range_ok(task, rw.lba, n)) {
		goto complete;
	}
	if (n == 0) { /* to the end of the medium */
		n = ftgt_bdev_get_num_blocks(lun->bdev) - rw.lba;
		if (n == 0) {
			goto complete;
		}
	}
	task->outstanding = 1;
	rc = ftgt_bdev_flush_blocks(lun->desc, task->ch, rw.lba, n, io_done, task);
	if (rc != 0) {
		submit_failed(task, rc);
	}
	return;
complete:
	scsi_task_complete(task);
}

/* WRITE SAME with a non-zero pattern: write the range in SBC_WS_CHUNK_BYTES steps. */
static void ws_pattern_next(struct ftgt_scsi_task *task);

static void
ws_pattern_done(struct ftgt_bdev_io *io, bool success, void *cb_arg)
{
	struct ftgt_scsi_task *task = cb_arg;

	if (!success || task->abort_requested) {
		/* An abort that finds no I/O between two steps still stops the command. */
		if (success) {
			set_task_aborted(task);
		} else {
			set_io_error(task, io);
		}
		ftgt_bdev_free_io(io);
		free(task->bounce);
		task->bounce = NULL;
		scsi_task_complete(task);
		return;
	}
	ftgt_bdev_free_io(io);
	ws_pattern_next(task);
}

static void
ws_pattern_next(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	uint32_t per = SBC_WS_CHUNK_BYTES / lun->block_size;
	uint64_t n = FTGT_MIN((uint64_t)per, task->num_blocks);
	int rc;

	if (task->num_blocks == 0) {
		free(task->bounce);
		task->bounce = NULL;
		scsi_task_complete(task);
		return;
	}
	rc = ftgt_bdev_write_blocks(lun->desc, task->ch, task->bounce, task->offset_blocks, n,
	                            ws_pattern_done, task);
	if (rc != 0) {
		submit_failed(task, rc);
		return;
	}
	task->offset_blocks += n;
	task->num_blocks -= n;
}

static void
sbc_write_same(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	bool sixteen = task->cdb[0] == SCSI_OP_WRITE_SAME_16;
	bool unmap = (task->cdb[1] & 0x08) != 0, ndob = sixteen && (task->cdb[1] & 0x01);
	bool anchor = (task->cdb[1] & 0x10) != 0, zero = true;
	uint8_t block[4096];
	struct sbc_rw rw;
	uint32_t i, per;
	int rc;

	if (sbc_parse_rw(task->cdb, task->cdb_len, &rw) != 0) {
		scsi_task_invalid_cdb(task);
		goto complete;
	}
	if (rw.protect != 0 || anchor || (!sixteen && (task->cdb[1] & 0x01)) ||
	    lun->block_size > sizeof(block)) {
		scsi_task_invalid_cdb(task);
		goto complete;
	}
	if (!lba_range_ok(task, rw.lba, rw.num_blocks)) {
		goto complete;
	}
	if (rw.num_blocks == 0 || rw.num_blocks > 65535) {
		/* NUMBER OF LOGICAL BLOCKS 0 is refused: VPD B0h declares WSNZ. */
		scsi_task_invalid_cdb(task);
		goto complete;
	}
	if (!ndob) {
		if (task->transfer_len < lun->block_size || task->dir != FTGT_SCSI_DIR_TO_DEV) {
			ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
			goto complete;
		}
		scsi_task_get_data(task, block, lun->block_size);
		for (i = 0; i < lun->block_size; i++) {
			if (block[i] != 0) {
				zero = false;
				break;
			}
		}
	} else {
		memset(block, 0, lun->block_size);
	}
	task->data_transferred = ndob ? 0 : lun->block_size;
	task->outstanding = 1;
	if (unmap && zero && ftgt_bdev_io_type_supported(lun->bdev, FTGT_BDEV_IO_TYPE_UNMAP)) {
		rc = ftgt_bdev_unmap_blocks(lun->desc, task->ch, rw.lba, rw.num_blocks, io_done,
		                            task);
	} else if (zero) {
		rc = ftgt_bdev_write_zeroes_blocks(lun->desc, task->ch, rw.lba, rw.num_blocks,
		                                   io_done, task);
	} else {
		per = SBC_WS_CHUNK_BYTES / lun->block_size;
		task->bounce = malloc((size_t)per * lun->block_size);
		if (task->bounce == NULL) {
			task->status = SCSI_STATUS_TASK_SET_FULL;
			goto complete;
		}
		for (i = 0; i < per; i++) {
			memcpy((uint8_t *)task->bounce + (size_t)i * lun->block_size, block,
			       lun->block_size);
		}
		task->offset_blocks = rw.lba;
		task->num_blocks = rw.num_blocks;
		ws_pattern_next(task);
		return;
	}
	if (rc != 0) {
		submit_failed(task, rc);
	}
	return;
complete:
	scsi_task_complete(task);
}

static void
sbc_unmap(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	uint8_t buf[8 + 16 * SBC_MAX_UNMAP_DESC];
	uint32_t list_len = scsi_from_be16(task->cdb + 7), got, bd_len, n, i;
	uint64_t nb = ftgt_bdev_get_num_blocks(lun->bdev);
	int rc;

	if (!ftgt_bdev_io_type_supported(lun->bdev, FTGT_BDEV_IO_TYPE_UNMAP)) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_INVALID_COMMAND_OPERATION_CODE, 0);
		goto complete;
	}
	if (task->cdb[1] & 0x01) { /* ANCHOR */
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 0);
		goto complete;
	}
	if (list_len == 0) {
		goto complete;
	}
	if (list_len < 8) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
		goto complete;
	}
	got = scsi_task_get_data(task, buf, FTGT_MIN(list_len, (uint32_t)sizeof(buf)));
	if (got < 8) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
		goto complete;
	}
	bd_len = scsi_from_be16(buf + 2);
	if (bd_len > got - 8 || (bd_len % 16) != 0) {
		if (list_len > sizeof(buf)) {
			ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0);
		} else {
			ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
		}
		goto complete;
	}
	n = bd_len / 16;
	/* Check every descriptor before unmapping anything. */
	for (i = 0; i < n; i++) {
		uint64_t lba = scsi_from_be64(buf + 8 + 16 * i);
		uint32_t cnt = scsi_from_be32(buf + 8 + 16 * i + 8);

		if (lba > nb || cnt > nb - lba) {
			ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_LBA_OUT_OF_RANGE, 0);
			goto complete;
		}
	}
	task->outstanding = 1; /* held while submitting */
	for (i = 0; i < n; i++) {
		uint64_t lba = scsi_from_be64(buf + 8 + 16 * i);
		uint32_t cnt = scsi_from_be32(buf + 8 + 16 * i + 8);

		if (cnt == 0) {
			continue;
		}
		task->outstanding++;
		rc = ftgt_bdev_unmap_blocks(lun->desc, task->ch, lba, cnt, io_done, task);
		if (rc != 0) {
			task->outstanding--;
			if (!task->failed) {
				task->failed = true;
				ftgt_scsi_task_set_sense(task, SCSI_SENSE_ABORTED_COMMAND,
				                         SCSI_ASC_INTERNAL_TARGET_FAILURE, 0);
			}
			break;
		}
	}
	task->data_transferred = 0;
	if (--task->outstanding > 0) {
		return;
	}
complete:
	scsi_task_complete(task);
}

uint32_t
scsi_sbc_max_compare_blocks(const struct ftgt_scsi_lun *lun)
{
	return FTGT_MIN(FTGT_MAX(ftgt_bdev_get_acwu(lun->bdev), 1u), 255u);
}

static void
sbc_compare_and_write(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	struct sbc_rw rw;
	uint64_t len;
	int rc;

	if (sbc_parse_rw(task->cdb, task->cdb_len, &rw) != 0) {
		scsi_task_invalid_cdb(task);
		goto complete;
	}
	if (rw.protect != 0) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 7);
		goto complete;
	}
	if (rw.num_blocks == 0) {
		/* Nothing to do, unless data came with it: a 0 here is usually a count
		 * that wrapped in the 8-bit field (256 -> 0); refuse that. */
		if (task->dir == FTGT_SCSI_DIR_TO_DEV && task->transfer_len > 0) {
			scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 13,
			                          -1);
		}
		goto complete;
	}
	if (rw.num_blocks > scsi_sbc_max_compare_blocks(lun)) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 13, -1);
		goto complete;
	}
	if (!lba_range_ok(task, rw.lba, rw.num_blocks)) {
		goto complete;
	}
	len = (uint64_t)rw.num_blocks * lun->block_size;
	if (task->dir != FTGT_SCSI_DIR_TO_DEV || task->transfer_len < 2 * len) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
		goto complete;
	}
	task->bounce = malloc(2 * len);
	if (task->bounce == NULL) {
		task->status = SCSI_STATUS_TASK_SET_FULL;
		goto complete;
	}
	scsi_task_get_data(task, task->bounce, (uint32_t)(2 * len));
	task->priv_iov[0].iov_base = task->bounce;
	task->priv_iov[0].iov_len = len;
	task->priv_iov[1].iov_base = (uint8_t *)task->bounce + len;
	task->priv_iov[1].iov_len = len;
	task->outstanding = 1;
	rc = ftgt_bdev_comparev_and_writev_blocks(lun->desc, task->ch, &task->priv_iov[0], 1,
	                                          &task->priv_iov[1], 1, rw.lba, rw.num_blocks,
	                                          io_done, task);
	if (rc != 0) {
		task->data_transferred = 0;
		submit_failed(task, rc);
	}
	return;
complete:
	scsi_task_complete(task);
}

static void
sbc_read_capacity_10(struct ftgt_scsi_task *task)
{
	uint64_t nb = ftgt_bdev_get_num_blocks(task->lun->bdev);
	uint8_t buf[8];

	if (!(task->cdb[8] & 0x01) && scsi_from_be32(task->cdb + 2) != 0) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, -1);
		goto complete;
	}
	scsi_to_be32(buf, nb - 1 > 0xffffffffull ? 0xffffffffu : (uint32_t)(nb - 1));
	scsi_to_be32(buf + 4, task->lun->block_size);
	scsi_task_put_data(task, buf, sizeof(buf), sizeof(buf));
complete:
	scsi_task_complete(task);
}

static void
sbc_read_capacity_16(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	scsi_to_be64(buf, ftgt_bdev_get_num_blocks(lun->bdev) - 1);
	scsi_to_be32(buf + 8, lun->block_size);
	if (ftgt_bdev_io_type_supported(lun->bdev, FTGT_BDEV_IO_TYPE_UNMAP)) {
		buf[14] = 0x80; /* LBPME */
	}
	scsi_task_put_data(task, buf, sizeof(buf), scsi_from_be32(task->cdb + 10));
	scsi_task_complete(task);
}

static void
sbc_get_lba_status(struct ftgt_scsi_task *task)
{
	uint64_t nb = ftgt_bdev_get_num_blocks(task->lun->bdev);
	uint64_t lba = scsi_from_be64(task->cdb + 2);
	uint8_t buf[24];

	if (lba >= nb) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_LBA_OUT_OF_RANGE, 0);
		goto complete;
	}
	/* Provisioning state is not tracked by bdevs: report the rest as mapped. */
	memset(buf, 0, sizeof(buf));
	scsi_to_be32(buf, 20);
	scsi_to_be64(buf + 8, lba);
	scsi_to_be32(buf + 16, (uint32_t)FTGT_MIN(nb - lba, 0xffffffffull));
	buf[20] = 0; /* mapped */
	scsi_task_put_data(task, buf, sizeof(buf), scsi_from_be32(task->cdb + 10));
complete:
	scsi_task_complete(task);
}

/* Whether the command submits bdev I/O (and so needs task->ch). */
static bool
sbc_op_needs_channel(uint8_t op)
{
	switch (op) {
	case SCSI_OP_READ_6:
	case SCSI_OP_READ_10:
	case SCSI_OP_READ_12:
	case SCSI_OP_READ_16:
	case SCSI_OP_WRITE_6:
	case SCSI_OP_WRITE_10:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_WRITE_16:
	case SCSI_OP_WRITE_AND_VERIFY_10:
	case SCSI_OP_WRITE_AND_VERIFY_12:
	case SCSI_OP_WRITE_AND_VERIFY_16:
	case SCSI_OP_VERIFY_10:
	case SCSI_OP_VERIFY_12:
	case SCSI_OP_VERIFY_16:
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
	case SCSI_OP_WRITE_SAME_10:
	case SCSI_OP_WRITE_SAME_16:
	case SCSI_OP_UNMAP:
	case SCSI_OP_COMPARE_AND_WRITE:
		return true;
	default:
		return false;
	}
}

bool
scsi_sbc_execute(struct ftgt_scsi_task *task)
{
	uint8_t op = task->cdb[0];

	if (task->cdb_len < 16 && (op >> 5) == 4) { /* group 4: 16-byte CDBs */
		scsi_task_invalid_cdb(task);
		scsi_task_complete(task);
		return true;
	}
	if (task->cdb_len < 12 && (op >> 5) == 5) { /* group 5: 12-byte CDBs */
		scsi_task_invalid_cdb(task);
		scsi_task_complete(task);
		return true;
	}
	if (task->cdb_len < 10 && ((op >> 5) == 1 || (op >> 5) == 2)) {
		scsi_task_invalid_cdb(task);
		scsi_task_complete(task);
		return true;
	}
	if (task->ch == NULL && sbc_op_needs_channel(op)) {
		/* The transport has no channel for the LUN (it could not get one, or the
		 * LUN is going away): a transient condition the initiator may retry. */
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0);
		scsi_task_complete(task);
		return true;
	}
	switch (op) {
	case SCSI_OP_READ_6:
	case SCSI_OP_READ_10:
	case SCSI_OP_READ_12:
	case SCSI_OP_READ_16:
		sbc_read_write(task, false);
		return true;
	case SCSI_OP_WRITE_6:
	case SCSI_OP_WRITE_10:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_WRITE_16:
	case SCSI_OP_WRITE_AND_VERIFY_10:
	case SCSI_OP_WRITE_AND_VERIFY_12:
	case SCSI_OP_WRITE_AND_VERIFY_16:
		sbc_read_write(task, true);
		return true;
	case SCSI_OP_VERIFY_10:
	case SCSI_OP_VERIFY_12:
	case SCSI_OP_VERIFY_16:
		sbc_verify(task);
		return true;
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
		sbc_sync_cache(task);
		return true;
	case SCSI_OP_WRITE_SAME_10:
	case SCSI_OP_WRITE_SAME_16:
		sbc_write_same(task);
		return true;
	case SCSI_OP_UNMAP:
		sbc_unmap(task);
		return true;
	case SCSI_OP_COMPARE_AND_WRITE:
		sbc_compare_and_write(task);
		return true;
	case SCSI_OP_READ_CAPACITY_10:
		sbc_read_capacity_10(task);
		return true;
	case SCSI_OP_SERVICE_ACTION_IN_16:
		switch (task->cdb[1] & 0x1f) {
		case SCSI_SAI_READ_CAPACITY_16:
			sbc_read_capacity_16(task);
			return true;
		case SCSI_SAI_GET_LBA_STATUS:
			sbc_get_lba_status(task);
			return true;
		default:
			scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 4);
			scsi_task_complete(task);
			return true;
		}
	default:
		return false;
	}
}
