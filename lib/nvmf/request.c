/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request dispatch: every command a transport hands over enters here, is routed to the
 * fabrics, admin or I/O handlers, and leaves through nvmf_request_complete() exactly once.
 */
#include <errno.h>
#include <string.h>

#include "ftgt/log.h"
#include "nvmf_internal.h"

FTGT_LOG_REGISTER_COMPONENT(nvmf)

void
nvmf_request_set_status(struct ftgt_nvmf_request *req, int sct, int sc)
{
	uint16_t status = NVME_STATUS(sct, sc);

	/* Errors are final for this command: a retry would fail the same way. */
	if (sct != NVME_SCT_GENERIC || sc != NVME_SC_SUCCESS) {
		if (!(sct == NVME_SCT_PATH ||
		      (sct == NVME_SCT_GENERIC && (sc == NVME_SC_TRANSIENT_TRANSPORT_ERROR ||
		                                   sc == NVME_SC_ABORTED_SQ_DELETION)))) {
			status |= NVME_STATUS_DNR;
		}
	}
	req->rsp->status = ftgt_cpu_to_le16(status);
}

/* A failed command goes into its controller's error log (no allocation, no lock). */
static void
request_record_error(struct ftgt_nvmf_request *req, uint16_t status)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct nvmf_ctrlr *ctrlr = qpair->ctrlr;
	const struct nvme_cmd *cmd = req->cmd;
	struct nvmf_error_slot *slot;
	struct nvme_error_info *e;
	uint64_t n;

	if (ctrlr == NULL || cmd->opc == NVME_OPC_FABRIC) {
		return;
	}
	n = __atomic_add_fetch(&ctrlr->err_count, 1, __ATOMIC_RELAXED);
	slot = &ctrlr->errlog[(n - 1) % NVMF_ERROR_LOG_ENTRIES];
	__atomic_store_n(&slot->seq, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e = &slot->e;
	memset(e, 0, sizeof(*e));
	e->error_count = ftgt_cpu_to_le64(n);
	e->sqid = ftgt_cpu_to_le16(qpair->qid);
	e->cid = cmd->cid;
	e->status = ftgt_cpu_to_le16(status);
	e->error_location = ftgt_cpu_to_le16(0xffff); /* not specific to a field */
	e->nsid = cmd->nsid;
	e->trtype = qpair->ops->trtype;
	if (qpair->qid != 0 &&
	    (cmd->opc == NVME_OPC_READ || cmd->opc == NVME_OPC_WRITE ||
	     cmd->opc == NVME_OPC_COMPARE || cmd->opc == NVME_OPC_WRITE_ZEROES)) {
		e->lba = ftgt_cpu_to_le64((uint64_t)nvmf_cmd_dw(cmd, 10) |
		                          ((uint64_t)nvmf_cmd_dw(cmd, 11) << 32));
	}
	__atomic_store_n(&slot->seq, n, __ATOMIC_RELEASE);
}

uint32_t
nvmf_ctrlr_error_log_read(struct nvmf_ctrlr *ctrlr, struct nvme_error_info *out, uint32_t max)
{
	uint64_t count = __atomic_load_n(&ctrlr->err_count, __ATOMIC_ACQUIRE);
	uint32_t i, got = 0;

	for (i = 0; i < NVMF_ERROR_LOG_ENTRIES && i < count && got < max; i++) {
		struct nvmf_error_slot *slot =
		        &ctrlr->errlog[(count - 1 - i) % NVMF_ERROR_LOG_ENTRIES];
		uint64_t s1 = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE), s2;

		if (s1 == 0) {
			continue; /* being written */
		}
		memcpy(&out[got], &slot->e, sizeof(out[got]));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED);
		if (s1 == s2) {
			got++;
		}
	}
	return got;
}

void
nvmf_request_complete(struct ftgt_nvmf_request *req)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct nvme_cpl *rsp = req->rsp;
	uint16_t status = ftgt_le16_to_cpu(rsp->status);

	rsp->cid = req->cmd->cid;
	rsp->sqid = ftgt_cpu_to_le16(qpair->qid);
	if (qpair->sqsize != 0) {
		qpair->sq_head = (uint16_t)((qpair->sq_head + 1) % qpair->sqsize);
	}
	/* With SQ flow control disabled SQHD is reserved (NVMe-oF 1.1, 2.4.1). */
	rsp->sqhd = qpair->sqfc_disabled ? 0 : ftgt_cpu_to_le16(qpair->sq_head);
	if ((status & ~NVME_STATUS_DNR) != 0) {
		qpair->num_errors++;
		if (status != NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION)) {
			request_record_error(req, status);
		}
	}
	if (req->io_nsid != 0) {
		nvmf_request_ns_release(req);
	}
	req->in_core = false;
	qpair->outstanding--;
	qpair->ops->req_complete(req);

	if (qpair->state == FTGT_NVMF_QPAIR_DEACTIVATING && qpair->outstanding == 0 &&
	    qpair->disconnect_cb != NULL) {
		nvmf_ctrlr_qpair_fini(qpair);
	}
}

uint32_t
nvmf_request_copy_to_iov(struct ftgt_nvmf_request *req, const void *buf, uint32_t len)
{
	const uint8_t *src = buf;
	uint32_t done = 0;
	int i;

	len = FTGT_MIN(len, req->length);
	for (i = 0; i < req->iovcnt && done < len; i++) {
		uint32_t n = (uint32_t)FTGT_MIN((size_t)(len - done), req->iov[i].iov_len);

		memcpy(req->iov[i].iov_base, src + done, n);
		done += n;
	}
	return done;
}

void
nvmf_request_zero(struct ftgt_nvmf_request *req, uint32_t len)
{
	uint32_t done = 0;
	int i;

	len = FTGT_MIN(len, req->length);
	for (i = 0; i < req->iovcnt && done < len; i++) {
		uint32_t n = (uint32_t)FTGT_MIN((size_t)(len - done), req->iov[i].iov_len);

		memset(req->iov[i].iov_base, 0, n);
		done += n;
	}
}

uint32_t
nvmf_request_copy_from_iov(struct ftgt_nvmf_request *req, void *buf, uint32_t len)
{
	uint8_t *dst = buf;
	uint32_t done = 0;
	int i;

	len = FTGT_MIN(len, req->length);
	for (i = 0; i < req->iovcnt && done < len; i++) {
		uint32_t n = (uint32_t)FTGT_MIN((size_t)(len - done), req->iov[i].iov_len);

		memcpy(dst + done, req->iov[i].iov_base, n);
		done += n;
	}
	return done;
}

uint32_t
ftgt_nvmf_request_max_len(const struct ftgt_nvmf_request *req)
{
	return req->qpair->transport->opts.max_io_size;
}

void
ftgt_nvmf_request_fail(struct ftgt_nvmf_request *req, int sct, int sc)
{
	memset(req->rsp, 0, sizeof(*req->rsp));
	req->in_core = true;
	req->qpair->outstanding++;
	nvmf_request_set_status(req, sct, sc);
	nvmf_request_complete(req);
}

void
ftgt_nvmf_request_exec(struct ftgt_nvmf_request *req)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct nvme_cmd *cmd = req->cmd;

	memset(req->rsp, 0, sizeof(*req->rsp));
	req->in_core = true;
	req->fused_pair = NULL;
	req->io_nsid = 0;
	req->io_waiting = false;
	req->io_aborted = false;
	qpair->outstanding++;
	qpair->num_cmds++;

	if (ftgt_unlikely(qpair->state == FTGT_NVMF_QPAIR_DEACTIVATING ||
	                  qpair->state == FTGT_NVMF_QPAIR_ERROR)) {
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION);
		nvmf_request_complete(req);
		return;
	}
	/* NVMe-oF 1.1, 2.3.1: fabrics carry SGLs with a contiguous metadata buffer, so PSDT
	 * is 01b on every capsule (as Linux's nvmet checks too). */
	if (ftgt_unlikely(((cmd->flags >> NVME_CMD_PSDT_SHIFT) & NVME_CMD_PSDT_MASK) !=
	                  NVME_PSDT_SGL_MPTR_CONTIG)) {
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		nvmf_request_complete(req);
		return;
	}
	if (cmd->opc == NVME_OPC_FABRIC) {
		nvmf_ctrlr_exec_fabrics(req);
		return;
	}
	/* NVMe-oF 1.1, 3.3: the first command on a queue is Connect. */
	if (ftgt_unlikely(qpair->state != FTGT_NVMF_QPAIR_ENABLED || qpair->ctrlr == NULL)) {
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
		nvmf_request_complete(req);
		return;
	}
	if (qpair->qid == 0) {
		nvmf_admin_exec(req);
	} else {
		nvmf_io_exec(req);
	}
}
