/* SPDX-License-Identifier: BSD-3-Clause */
/* NVM command set I/O commands on a host queue pair (NVM Command Set 1.0, 3.2). */
#include <errno.h>
#include <string.h>

#include "ftgt/log.h"
#include "ftgt/string.h"

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

bool
ftgt_nvme_qpair_is_connected(const struct ftgt_nvme_qpair *qpair)
{
	return qpair->state == NVME_QPAIR_READY;
}

int
ftgt_nvme_qpair_get_cid(const struct ftgt_nvme_qpair *qpair, const void *cb_arg)
{
	uint32_t i;

	for (i = 0; i < qpair->num_entries; i++) {
		const struct nvme_req *req = &qpair->reqs[i];

		if (req->active && req->cb_arg == cb_arg && req->cb_fn != NULL &&
		    (req->fuse_peer == NULL || req->fuse_first)) {
			return req->cid;
		}
	}
	return -ENOENT;
}

/* The controller failed for good: so does the qpair. */
static int
qpair_fail_final(struct ftgt_nvme_qpair *q, const char *reason)
{
	if (q->state != NVME_QPAIR_FAILED) {
		q->connected_once = false; /* no reconnect */
		if (nvme_qpair_is_dead(q)) {
			q->state = NVME_QPAIR_FAILED;
			ftgt_strlcpy(q->fail_reason, reason, sizeof(q->fail_reason));
		} else {
			nvme_tcp_qpair_fail(q, reason);
		}
	}
	return -ENXIO;
}

/*
 * Everything but the steady state: a reset noticed (gen changed), waiting for the
 * controller, (re)connecting. Reads of the controller's gen, state and cntlid pair with
 * the release stores of the admin thread (ctrlr.c, ctrlr_set_state()).
 */
static int
qpair_drive(struct ftgt_nvme_qpair *q)
{
	struct ftgt_nvme_ctrlr *ctrlr = q->ctrlr;
	uint32_t gen = __atomic_load_n(&ctrlr->gen, __ATOMIC_ACQUIRE);
	uint32_t st;

	if (gen != q->gen) {
		st = __atomic_load_n(&ctrlr->state, __ATOMIC_ACQUIRE);
		if (st == FTGT_NVME_CTRLR_FAILED) {
			return qpair_fail_final(q, "controller failed");
		}
		if (q->state != NVME_QPAIR_FAILED) {
			/* Its commands end here, on the owner thread (DNR clear: retry). */
			nvme_tcp_qpair_disconnect(q);
		}
		q->gen = gen;
		q->wait_gen_change = false;
	}
	if (q->state == NVME_QPAIR_FAILED || q->delete_pending) {
		return -ENXIO; /* delete_pending: a callback freed it, no reconnect */
	}
	if (q->state == NVME_QPAIR_DISCONNECTED) {
		uint16_t cntlid;

		st = __atomic_load_n(&ctrlr->state, __ATOMIC_ACQUIRE);
		if (st == FTGT_NVME_CTRLR_FAILED) {
			return qpair_fail_final(q, "controller failed");
		}
		if (st != FTGT_NVME_CTRLR_ENABLED || q->wait_gen_change) {
			return -EAGAIN;
		}
		cntlid = __atomic_load_n(&ctrlr->cntlid, __ATOMIC_RELAXED);
		if (__atomic_load_n(&ctrlr->gen, __ATOMIC_ACQUIRE) != gen) {
			return -EAGAIN; /* another reset began: next time */
		}
		q->connect_cntlid = cntlid;
		nvme_tcp_qpair_start_connect(q, &ctrlr->trid,
		                             nvme_now_ms() + ctrlr->opts.connect_timeout_ms);
	}
	if (!nvme_qpair_is_dead(q)) {
		nvme_tcp_qpair_process(q, 0);
		if (q->state == NVME_QPAIR_CONNECTING && !q->connect_sent) {
			if (nvme_fabric_connect_submit(q, q->connect_cntlid) != 0) {
				nvme_tcp_qpair_fail(q, "cannot queue Fabrics Connect");
			} else {
				nvme_tcp_qpair_flush(q);
			}
		}
	}
	switch (q->state) {
	case NVME_QPAIR_READY:
		FTGT_DEBUGLOG(nvme, "%s: I/O queue %u connected\n", ctrlr->trid.subnqn, q->qid);
		return 0;
	case NVME_QPAIR_FAILED:
		FTGT_ERRLOG("%s: I/O queue %u: %s\n", ctrlr->trid.subnqn, q->qid, q->fail_reason);
		return -ENXIO;
	case NVME_QPAIR_DISCONNECTED:
		FTGT_WARNLOG("%s: I/O queue %u: %s (waiting for the controller)\n",
		             ctrlr->trid.subnqn, q->qid, q->fail_reason);
		return -EAGAIN;
	default:
		return -EAGAIN;
	}
}

int
ftgt_nvme_qpair_process_completions(struct ftgt_nvme_qpair *qpair, uint32_t max_completions)
{
	int rc;

	if (ftgt_likely(qpair->state == NVME_QPAIR_READY &&
	                __atomic_load_n(&qpair->ctrlr->gen, __ATOMIC_ACQUIRE) == qpair->gen)) {
		rc = nvme_tcp_qpair_process(qpair, max_completions);
		if (ftgt_unlikely(rc < 0)) {
			rc = qpair->state == NVME_QPAIR_FAILED ? -ENXIO : -EAGAIN;
		}
	} else {
		rc = qpair_drive(qpair);
	}
	if (ftgt_unlikely(qpair->delete_pending) && qpair->cb_depth == 0) {
		/* A callback freed it: now that nothing of it is on the stack. */
		qpair->delete_pending = false;
		ftgt_nvme_ctrlr_free_io_qpair(qpair);
		return -ENXIO;
	}
	return rc;
}

static int
io_check(const struct ftgt_nvme_qpair *q)
{
	if (ftgt_likely(q->state == NVME_QPAIR_READY)) {
		return 0;
	}
	return q->state == NVME_QPAIR_FAILED ? -ENXIO : -EAGAIN;
}

int
ftgt_nvme_qpair_cmd_raw(struct ftgt_nvme_qpair *qpair, const struct nvme_cmd *cmd, void *buf,
                        uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd c = *cmd;
	int rc = io_check(qpair);

	return rc != 0 ? rc : nvme_tcp_qpair_submit(qpair, &c, buf, len_bytes, cb_fn, cb_arg);
}

/* Fill a read/write/compare command; *len_out the payload length. */
static int
rw_prep(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, uint8_t opc, uint32_t nsid, uint64_t lba,
        uint32_t lba_count, uint32_t io_flags, uint32_t *len_out)
{
	uint32_t bs = ftgt_nvme_ns_get_block_size(q->ctrlr, nsid);
	uint64_t len;
	int rc = io_check(q);

	if (ftgt_unlikely(rc != 0)) {
		return rc;
	}
	if (ftgt_unlikely(bs == 0 || lba_count == 0 || lba_count > 0x10000)) {
		return -EINVAL;
	}
	len = (uint64_t)lba_count * bs;
	if (ftgt_unlikely(len > q->ctrlr->max_xfer_bytes)) {
		return -EINVAL;
	}
	memset(cmd, 0, sizeof(*cmd));
	cmd->opc = opc;
	cmd->nsid = ftgt_cpu_to_le32(nsid);
	cmd->cdw10 = ftgt_cpu_to_le32((uint32_t)lba);
	cmd->cdw11 = ftgt_cpu_to_le32((uint32_t)(lba >> 32));
	cmd->cdw12 = ftgt_cpu_to_le32(((lba_count - 1) & NVME_RW_NLB_MASK) |
	                              (io_flags & (NVME_RW_FUA | NVME_RW_LR)));
	*len_out = (uint32_t)len;
	return 0;
}

static int
rw_cmd(struct ftgt_nvme_qpair *q, uint8_t opc, uint32_t nsid, void *buf, uint64_t lba,
       uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;
	uint32_t len;
	int rc = rw_prep(q, &cmd, opc, nsid, lba, lba_count, io_flags, &len);

	return rc != 0 ? rc : nvme_tcp_qpair_submit(q, &cmd, buf, len, cb_fn, cb_arg);
}

static int
rw_cmdv(struct ftgt_nvme_qpair *q, uint8_t opc, uint32_t nsid, struct iovec *iov, int iovcnt,
        uint64_t lba, uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;
	uint32_t len;
	int rc;

	if (ftgt_unlikely(iovcnt <= 0 || iovcnt > FTGT_NVME_MAX_IOVCNT)) {
		return -EINVAL;
	}
	rc = rw_prep(q, &cmd, opc, nsid, lba, lba_count, io_flags, &len);
	return rc != 0 ? rc
	               : nvme_tcp_qpair_submitv(q, &cmd, iov, (uint32_t)iovcnt, len, 0, cb_fn,
	                                        cb_arg);
}

int
ftgt_nvme_ns_cmd_readv(struct ftgt_nvme_qpair *qpair, uint32_t nsid, struct iovec *iov, int iovcnt,
                       uint64_t lba, uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn,
                       void *cb_arg)
{
	return rw_cmdv(qpair, NVME_OPC_READ, nsid, iov, iovcnt, lba, lba_count, io_flags, cb_fn,
	               cb_arg);
}

int
ftgt_nvme_ns_cmd_writev(struct ftgt_nvme_qpair *qpair, uint32_t nsid, struct iovec *iov, int iovcnt,
                        uint64_t lba, uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn,
                        void *cb_arg)
{
	return rw_cmdv(qpair, NVME_OPC_WRITE, nsid, iov, iovcnt, lba, lba_count, io_flags, cb_fn,
	               cb_arg);
}

int
ftgt_nvme_ns_cmd_comparev(struct ftgt_nvme_qpair *qpair, uint32_t nsid, struct iovec *iov,
                          int iovcnt, uint64_t lba, uint32_t lba_count, uint32_t io_flags,
                          ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	return rw_cmdv(qpair, NVME_OPC_COMPARE, nsid, iov, iovcnt, lba, lba_count, io_flags, cb_fn,
	               cb_arg);
}

int
ftgt_nvme_ns_cmd_compare_and_writev(struct ftgt_nvme_qpair *qpair, uint32_t nsid,
                                    struct iovec *cmp_iov, int cmp_iovcnt, struct iovec *write_iov,
                                    int write_iovcnt, uint64_t lba, uint32_t lba_count,
                                    uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmp, wr;
	uint32_t len;
	int rc;

	if (ftgt_unlikely(cmp_iovcnt <= 0 || cmp_iovcnt > FTGT_NVME_MAX_IOVCNT ||
	                  write_iovcnt <= 0 || write_iovcnt > FTGT_NVME_MAX_IOVCNT)) {
		return -EINVAL;
	}
	rc = rw_prep(qpair, &cmp, NVME_OPC_COMPARE, nsid, lba, lba_count, io_flags, &len);
	if (rc == 0) {
		rc = rw_prep(qpair, &wr, NVME_OPC_WRITE, nsid, lba, lba_count, io_flags, &len);
	}
	if (rc != 0) {
		return rc;
	}
	return nvme_tcp_qpair_submit_fused(qpair, &cmp, cmp_iov, (uint32_t)cmp_iovcnt, &wr,
	                                   write_iov, (uint32_t)write_iovcnt, len, cb_fn, cb_arg);
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
ftgt_nvme_ns_cmd_compare_and_write(struct ftgt_nvme_qpair *qpair, uint32_t nsid,
                                   const void *cmp_buf, const void *write_buf, uint64_t lba,
                                   uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn,
                                   void *cb_arg)
{
	struct iovec cmp = {.iov_base = (void *)(uintptr_t)cmp_buf};
	struct iovec wr = {.iov_base = (void *)(uintptr_t)write_buf};

	/* One-entry iovecs are copied into the requests: these may live on the stack. */
	cmp.iov_len = wr.iov_len =
	        (size_t)lba_count * ftgt_nvme_ns_get_block_size(qpair->ctrlr, nsid);
	return ftgt_nvme_ns_cmd_compare_and_writev(qpair, nsid, &cmp, 1, &wr, 1, lba, lba_count,
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
	int rc = io_check(qpair);

	return rc != 0 ? rc : nvme_tcp_qpair_submit(qpair, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_write_zeroes(struct ftgt_nvme_qpair *qpair, uint32_t nsid, uint64_t lba,
                              uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn,
                              void *cb_arg)
{
	struct nvme_cmd cmd;
	int rc;

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
	rc = io_check(qpair);
	return rc != 0 ? rc : nvme_tcp_qpair_submit(qpair, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ns_cmd_dsm(struct ftgt_nvme_qpair *qpair, uint32_t nsid, uint32_t attributes,
                     const struct nvme_dsm_range *ranges, uint16_t num_ranges,
                     ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;
	int rc;

	if (num_ranges == 0 || num_ranges > NVME_DSM_MAX_RANGES) {
		return -EINVAL;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_DATASET_MANAGEMENT;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)(num_ranges - 1));
	cmd.cdw11 = ftgt_cpu_to_le32(attributes);
	rc = io_check(qpair);
	if (rc != 0) {
		return rc;
	}
	return nvme_tcp_qpair_submit(qpair, &cmd, (void *)(uintptr_t)ranges,
	                             (uint32_t)(num_ranges * sizeof(*ranges)), cb_fn, cb_arg);
}
