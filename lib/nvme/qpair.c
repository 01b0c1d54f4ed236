/* SPDX-License-Identifier: BSD-3-Clause */
/* NVM command set I/O commands on a host queue pair (NVM Command Set 1.0, 3.2). */
#include <errno.h>
#include <string.h>

#include "nvme_internal.h"

uint16_t
ftgt_nvme_qpair_get_id(const struct ftgt_nvme_qpair *qpair)
{
	return qpair->qid;
}

uint32_t
ftgt_nvme_qpair_get_depth(const struct ftgt_nvme_qpair *qpair)
{
	return qpair->num_entries - 1;
}

bool
ftgt_nvme_qpair_is_failed(const struct ftgt_nvme_qpair *qpair)
{
	return qpair->state == NVME_QPAIR_FAILED;
}

int
ftgt_nvme_qpair_process_completions(struct ftgt_nvme_qpair *qpair, uint32_t max_completions)
{
	return nvme_tcp_qpair_process(qpair, max_completions);
}

int
ftgt_nvme_qpair_cmd_raw(struct ftgt_nvme_qpair *qpair, const struct nvme_cmd *cmd, void *buf,
                        uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd c = *cmd;

	return nvme_tcp_qpair_submit(qpair, &c, buf, len_bytes, cb_fn, cb_arg);
}

static int
rw_cmd(struct ftgt_nvme_qpair *q, uint8_t opc, uint32_t nsid, void *buf, uint64_t lba,
       uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	uint32_t bs = ftgt_nvme_ns_get_block_size(q->ctrlr, nsid);
	struct nvme_cmd cmd;
	uint64_t len;

	if (ftgt_unlikely(bs == 0 || lba_count == 0 || lba_count > 0x10000)) {
		return -EINVAL;
	}
	len = (uint64_t)lba_count * bs;
	if (ftgt_unlikely(len > q->ctrlr->max_xfer_bytes)) {
		return -EINVAL;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = opc;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)lba);
	cmd.cdw11 = ftgt_cpu_to_le32((uint32_t)(lba >> 32));
	cmd.cdw12 = ftgt_cpu_to_le32(((lba_count - 1) & NVME_RW_NLB_MASK) |
	                             (io_flags & (NVME_RW_FUA | NVME_RW_LR)));
	return nvme_tcp_qpair_submit(q, &cmd, buf, (uint32_t)len, cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_read(struct ftgt_nvme_qpair *qpair, uint32_t nsid, void *buf, uint64_t lba,
                      uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	return rw_cmd(qpair, NVME_OPC_READ, nsid, buf, lba, lba_count, io_flags, cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_write(struct ftgt_nvme_qpair *qpair, uint32_t nsid, const void *buf, uint64_t lba,
                       uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	return rw_cmd(qpair, NVME_OPC_WRITE, nsid, (void *)(uintptr_t)buf, lba, lba_count, io_flags,
	              cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_compare(struct ftgt_nvme_qpair *qpair, uint32_t nsid, const void *buf,
                         uint64_t lba, uint32_t lba_count, uint32_t io_flags,
                         ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	return rw_cmd(qpair, NVME_OPC_COMPARE, nsid, (void *)(uintptr_t)buf, lba, lba_count,
	              io_flags, cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_flush(struct ftgt_nvme_qpair *qpair, uint32_t nsid, ftgt_nvme_cmd_cb cb_fn,
                       void *cb_arg)
{
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_FLUSH;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	return nvme_tcp_qpair_submit(qpair, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_write_zeroes(struct ftgt_nvme_qpair *qpair, uint32_t nsid, uint64_t lba,
                              uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn,
                              void *cb_arg)
{
	struct nvme_cmd cmd;

	if (lba_count == 0 || lba_count > 0x10000) {
		return -EINVAL;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_WRITE_ZEROES;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)lba);
	cmd.cdw11 = ftgt_cpu_to_le32((uint32_t)(lba >> 32));
	cmd.cdw12 = ftgt_cpu_to_le32(((lba_count - 1) & NVME_RW_NLB_MASK) |
	                             (io_flags & (NVME_WZ_DEAC | NVME_RW_FUA)));
	return nvme_tcp_qpair_submit(qpair, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_dsm(struct ftgt_nvme_qpair *qpair, uint32_t nsid, uint32_t attributes,
                     const struct nvme_dsm_range *ranges, uint16_t num_ranges,
                     ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;

	if (num_ranges == 0 || num_ranges > NVME_DSM_MAX_RANGES) {
		return -EINVAL;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_DATASET_MANAGEMENT;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)(num_ranges - 1));
	cmd.cdw11 = ftgt_cpu_to_le32(attributes);
	return nvme_tcp_qpair_submit(qpair, &cmd, (void *)(uintptr_t)ranges,
	                             (uint32_t)(num_ranges * sizeof(*ranges)), cb_fn, cb_arg);
}
