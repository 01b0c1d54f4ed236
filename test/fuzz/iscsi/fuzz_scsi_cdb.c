/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the SCSI CDB parser and command set (lib/scsi) on a RAM fake of the
 * bdev API. Input: [dir][len_lo][len_hi][cdb_len][cdb...][parameter data...].
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE
 *        lib/scsi/{dev,task,spc,sbc,pr}.c test/unit/lib/scsi/fake_bdev.c
 *        lib/util/{log,string,util,uuid}.c test/fuzz/iscsi/fuzz_scsi_cdb.c -ljansson
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/scsi.h"
#include "ftgt/util.h"
#include "../../unit/lib/scsi/fake_bdev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ftgt_scsi_dev *g_dev;
static const struct ftgt_scsi_port g_iport = {.id = 1, .name = "iqn.2000-01.com.fuzz:i,i,0x1"};
static const struct ftgt_scsi_port g_tport = {
        .id = 2, .relative_id = 1, .name = "iqn.2000-01.com.fuzz:t,t,0x0001"};
static int g_done;

static void
cpl(struct ftgt_scsi_task *task)
{
	g_done++;
	if (task->sense_len > FTGT_SCSI_SENSE_MAX || task->data_transferred > task->transfer_len) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ftgt_scsi_task task;
	struct iovec iov;
	uint8_t *cdb, *buf;
	uint32_t len, cdb_len;

	if (g_dev == NULL) {
		fake_bdev_init(4096, 512);
		g_dev = ftgt_scsi_dev_create("iqn.2000-01.com.fuzz:t");
		if (g_dev == NULL || ftgt_scsi_dev_add_lun(g_dev, 0, "Malloc0") != 0) {
			abort();
		}
	}
	if (size < 4) {
		return 0;
	}
	len = (uint32_t)data[1] | ((uint32_t)data[2] << 8);
	len = len % (64 * 1024 + 1);
	cdb_len = data[3] % 33;
	if (size < 4u + cdb_len) {
		return 0;
	}
	/* Exact-size copies so ASan sees reads past either end. */
	cdb = malloc(cdb_len ? cdb_len : 1);
	buf = malloc(len ? len : 1);
	if (cdb == NULL || buf == NULL) {
		free(cdb);
		free(buf);
		return 0;
	}
	memcpy(cdb, data + 4, cdb_len);
	memset(buf, 0, len);
	memcpy(buf, data + 4 + cdb_len, FTGT_MIN((size_t)len, size - 4 - cdb_len));
	memset(&task, 0, sizeof(task));
	iov.iov_base = buf;
	iov.iov_len = len;
	task.cdb = cdb;
	task.cdb_len = cdb_len;
	task.lun_id = (data[0] & 0x80) ? ((uint64_t)1 << 48) : 0;
	task.dev = g_dev;
	task.ch = ftgt_scsi_lun_get_io_channel(ftgt_scsi_dev_get_lun(g_dev, 0));
	task.initiator_port = &g_iport;
	task.target_port = &g_tport;
	task.iovs = &iov;
	task.iovcnt = 1;
	task.transfer_len = len;
	task.dir = (enum ftgt_scsi_dir)(data[0] % 3);
	task.cpl_fn = cpl;
	g_done = 0;
	ftgt_scsi_task_execute(&task);
	fake_bdev_poll();
	if (g_done != 1) {
		abort(); /* exactly one completion per command */
	}
	free(cdb);
	free(buf);
	return 0;
}
