/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * I/O command statistics of a poll group: counts by type and a latency histogram, kept by
 * the poll group's thread (plain increments) and summed on request (nvmf_get_stats).
 */
#include <stdbool.h>
#include <string.h>

#include "nvmf_internal.h"

void
nvmf_io_stats_init(struct nvmf_io_stats *s)
{
	memset(s, 0, sizeof(*s));
	ftgt_histogram_init(&s->latency);
}

void
nvmf_io_stats_record(struct nvmf_io_stats *s, const struct ftgt_nvmf_request *req,
                     uint64_t start_ticks, uint64_t now_ticks)
{
	const struct nvme_cpl *rsp = req->rsp;
	bool ok;

	if (req->qpair->qid == 0 || req->cmd->opc == NVME_OPC_FABRIC) {
		return;
	}
	ok = (ftgt_le16_to_cpu(rsp->status) & ~NVME_STATUS_DNR) == 0;
	switch (req->cmd->opc) {
	case NVME_OPC_READ:
		s->read_ops++;
		s->read_bytes += ok ? req->length : 0;
		break;
	case NVME_OPC_WRITE:
		s->write_ops++;
		s->write_bytes += ok ? req->length : 0;
		break;
	default:
		s->other_ops++;
		break;
	}
	ftgt_histogram_add(&s->latency, now_ticks >= start_ticks ? now_ticks - start_ticks : 0);
}

void
nvmf_io_stats_merge(struct nvmf_io_stats *dst, const struct nvmf_io_stats *src)
{
	dst->read_ops += src->read_ops;
	dst->write_ops += src->write_ops;
	dst->other_ops += src->other_ops;
	dst->read_bytes += src->read_bytes;
	dst->write_bytes += src->write_bytes;
	ftgt_histogram_merge(&dst->latency, &src->latency);
}
