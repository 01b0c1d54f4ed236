/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM command set I/O: Read, Write (FUA), Compare, fused Compare-and-Write, Flush, Write
 * Zeroes, Dataset Management (deallocate). Runs on the I/O queue's thread; every command
 * goes to the bdev on this thread's channel, with no allocation and no lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "nvmf_internal.h"

static void
io_done_status(struct ftgt_nvmf_request *req, int sct, int sc)
{
	nvmf_request_set_status(req, sct, sc);
	nvmf_request_complete(req);
}

void
nvmf_qpair_put_ns_channels(struct ftgt_nvmf_qpair *qpair)
{
	uint32_t i;

	for (i = 0; i < qpair->ns_count; i++) {
		struct nvmf_qpair_ns *qns = &qpair->ns[i];

		if (qns->ch != NULL) {
			ftgt_put_io_channel(qns->ch);
		}
		if (qns->drain != NULL) {
			nvmf_ns_removal_put(qns->drain);
		}
	}
	free(qpair->ns);
	qpair->ns = NULL;
	qpair->ns_count = 0;
}

static void
qpair_ns_drained(struct nvmf_qpair_ns *qns)
{
	struct nvmf_ns_removal *r = qns->drain;

	qns->drain = NULL;
	if (qns->ch != NULL) {
		ftgt_put_io_channel(qns->ch);
		qns->ch = NULL;
	}
	nvmf_ns_removal_put(r);
}

void
nvmf_qpair_ns_drain(struct ftgt_nvmf_qpair *qpair, struct nvmf_ns_removal *r)
{
	uint32_t idx = r->ns->nsid - 1;
	struct nvmf_qpair_ns *qns;

	if (qpair->ns == NULL || idx >= qpair->ns_count) {
		nvmf_ns_removal_put(r);
		return;
	}
	qns = &qpair->ns[idx];
	if (qns->drain != NULL) {
		/* Cannot happen: an NSID is removed once at a time. */
		nvmf_ns_removal_put(r);
		return;
	}
	qns->drain = r;
	if (qns->busy == 0) {
		qpair_ns_drained(qns);
	}
}

/* nvmf_request_complete(): the command no longer uses its namespace. */
void
nvmf_request_ns_release(struct ftgt_nvmf_request *req)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct nvmf_qpair_ns *qns = &qpair->ns[req->io_nsid - 1];

	req->io_nsid = 0;
	if (--qns->busy == 0 && ftgt_unlikely(qns->drain != NULL)) {
		qpair_ns_drained(qns);
	}
}

/* This queue's channel for ns, got on first use (once per namespace per queue); the
 * command counts as using ns until it completes. */
static struct ftgt_io_channel *
ns_channel(struct ftgt_nvmf_request *req, struct nvmf_ns *ns)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct nvmf_qpair_ns *qns;

	if (ftgt_unlikely(qpair->ns == NULL)) {
		uint32_t n = qpair->ctrlr->subsys->max_nsid;

		qpair->ns = calloc(n, sizeof(*qpair->ns));
		if (qpair->ns == NULL) {
			return NULL;
		}
		qpair->ns_count = n;
	}
	qns = &qpair->ns[ns->nsid - 1];
	if (ftgt_unlikely(qns->ch == NULL)) {
		if (qns->drain != NULL) {
			return NULL; /* being removed */
		}
		qns->ch = ftgt_bdev_get_io_channel(ns->desc);
		if (qns->ch == NULL) {
			return NULL;
		}
		qns->desc = ns->desc;
	}
	if (req->io_nsid == 0) {
		req->io_nsid = ns->nsid;
		qns->busy++;
	}
	return qns->ch;
}

static void
bdev_status_to_req(struct ftgt_bdev_io *bio, bool success, struct ftgt_nvmf_request *req)
{
	uint32_t cdw0 = 0;
	int sct = NVME_SCT_GENERIC, sc = NVME_SC_SUCCESS;

	if (!success) {
		ftgt_bdev_io_get_nvme_status(bio, &cdw0, &sct, &sc);
	}
	req->rsp->cdw0 = ftgt_cpu_to_le32(cdw0);
	nvmf_request_set_status(req, sct, sc);
}

static void
io_complete_cb(struct ftgt_bdev_io *bio, bool success, void *cb_arg)
{
	struct ftgt_nvmf_request *req = cb_arg;

	bdev_status_to_req(bio, success, req);
	ftgt_bdev_free_io(bio);
	nvmf_request_complete(req);
}

static void
caw_complete_cb(struct ftgt_bdev_io *bio, bool success, void *cb_arg)
{
	struct ftgt_nvmf_request *first = cb_arg;
	struct ftgt_nvmf_request *second = first->fused_pair;
	enum ftgt_bdev_io_status st = ftgt_bdev_io_get_status(bio);

	if (success) {
		nvmf_request_set_status(first, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
	} else if (st == FTGT_BDEV_IO_STATUS_MISCOMPARE) {
		nvmf_request_set_status(first, NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
	} else {
		bdev_status_to_req(bio, false, first);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
	}
	ftgt_bdev_free_io(bio);
	/* Fused commands complete in order, first then second (NVMe Base 2.0, 3.4.2). */
	nvmf_request_complete(first);
	nvmf_request_complete(second);
}

static void io_retry(void *arg);

/* Submission said -ENOMEM: wait for a bdev_io, then run the command again. */
static void
io_queue_retry(struct ftgt_nvmf_request *req, struct nvmf_ns *ns, struct ftgt_io_channel *ch,
               void (*fn)(struct ftgt_nvmf_request *req))
{
	req->bdev_wait.bdev = ns->bdev;
	req->bdev_wait.cb_fn = io_retry;
	req->bdev_wait.cb_arg = req;
	req->retry_fn = fn;
	if (ftgt_bdev_queue_io_wait(ns->bdev, ch, &req->bdev_wait) != 0) {
		/* No shortage any more: retry now. */
		fn(req);
		return;
	}
	req->io_waiting = true;
}

static void
io_retry(void *arg)
{
	struct ftgt_nvmf_request *req = arg;

	req->io_waiting = false;
	if (req->io_aborted) {
		/* Aborted while it waited (nvmf_io_abort): the bdev_io goes to the next. */
		req->io_aborted = false;
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST);
		return;
	}
	req->retry_fn(req);
}

static int
errno_to_sc(int rc)
{
	switch (rc) {
	case -EINVAL:
		return NVME_SC_LBA_OUT_OF_RANGE;
	case -EBADF:
		return NVME_SC_NAMESPACE_IS_WRITE_PROTECTED;
	case -ENODEV:
		return NVME_SC_NAMESPACE_NOT_READY;
	default:
		return NVME_SC_INTERNAL_DEVICE_ERROR;
	}
}

/* After a bdev submission: -ENOMEM waits for a bdev_io and runs fn again; other errors end req. */
static void
io_submitted(struct ftgt_nvmf_request *req, struct nvmf_ns *ns, struct ftgt_io_channel *ch, int rc,
             void (*fn)(struct ftgt_nvmf_request *req))
{
	if (ftgt_unlikely(rc == -ENOMEM)) {
		io_queue_retry(req, ns, ch, fn);
	} else if (ftgt_unlikely(rc != 0)) {
		io_done_status(req, NVME_SCT_GENERIC, errno_to_sc(rc));
	}
}

/* Common checks; returns the namespace, or NULL after completing req with an error. */
static struct nvmf_ns *
io_get_ns(struct ftgt_nvmf_request *req, struct ftgt_io_channel **ch)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct nvmf_ns *ns =
	        nvmf_subsystem_get_ns(qpair->ctrlr->subsys, ftgt_le32_to_cpu(req->cmd->nsid));

	if (ftgt_unlikely(ns == NULL || __atomic_load_n(&ns->removed, __ATOMIC_ACQUIRE))) {
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
		return NULL;
	}
	*ch = ns_channel(req, ns);
	if (ftgt_unlikely(*ch == NULL)) {
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_NAMESPACE_NOT_READY);
		return NULL;
	}
	return ns;
}

/* Range and length of a Read/Write/Compare/Write Zeroes. 0, or the command is completed. */
static int
io_get_range(struct ftgt_nvmf_request *req, struct nvmf_ns *ns, uint64_t *slba, uint32_t *nlb,
             bool has_data)
{
	uint64_t num_blocks = ftgt_bdev_get_num_blocks(ns->bdev);

	*slba = (uint64_t)nvmf_cmd_dw(req->cmd, 10) | ((uint64_t)nvmf_cmd_dw(req->cmd, 11) << 32);
	*nlb = (nvmf_cmd_dw(req->cmd, 12) & NVME_RW_NLB_MASK) + 1;
	if (ftgt_unlikely(*slba >= num_blocks || *nlb > num_blocks - *slba)) {
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
		return -1;
	}
	if (has_data && ftgt_unlikely((uint64_t)*nlb * ns->block_size != req->length)) {
		/* The SGL must describe exactly NLB blocks (as nvmet checks). */
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return -1;
	}
	return 0;
}

static void
io_read(struct ftgt_nvmf_request *req)
{
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns = io_get_ns(req, &ch);
	uint64_t slba;
	uint32_t nlb;
	int rc;

	if (ns == NULL || io_get_range(req, ns, &slba, &nlb, true) != 0) {
		return;
	}
	rc = ftgt_bdev_readv_blocks(ns->desc, ch, req->iov, req->iovcnt, slba, nlb, io_complete_cb,
	                            req);
	io_submitted(req, ns, ch, rc, io_read);
}

static void
io_write(struct ftgt_nvmf_request *req)
{
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns = io_get_ns(req, &ch);
	struct ftgt_bdev_ext_io_opts opts = {.size = sizeof(opts)};
	uint64_t slba;
	uint32_t nlb;
	int rc;

	if (ns == NULL || io_get_range(req, ns, &slba, &nlb, true) != 0) {
		return;
	}
	if (nvmf_cmd_dw(req->cmd, 12) & NVME_RW_FUA) {
		opts.io_flags = FTGT_BDEV_IO_FLAG_FUA;
	}
	rc = ftgt_bdev_writev_blocks_ext(ns->desc, ch, req->iov, req->iovcnt, slba, nlb,
	                                 io_complete_cb, req, &opts);
	io_submitted(req, ns, ch, rc, io_write);
}

static void
io_compare(struct ftgt_nvmf_request *req)
{
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns = io_get_ns(req, &ch);
	uint64_t slba;
	uint32_t nlb;
	int rc;

	if (ns == NULL || io_get_range(req, ns, &slba, &nlb, true) != 0) {
		return;
	}
	rc = ftgt_bdev_comparev_blocks(ns->desc, ch, req->iov, req->iovcnt, slba, nlb,
	                               io_complete_cb, req);
	io_submitted(req, ns, ch, rc, io_compare);
}

static void
io_write_zeroes(struct ftgt_nvmf_request *req)
{
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns = io_get_ns(req, &ch);
	uint64_t slba;
	uint32_t nlb;
	int rc;

	if (ns == NULL || io_get_range(req, ns, &slba, &nlb, false) != 0) {
		return;
	}
	rc = ftgt_bdev_write_zeroes_blocks(ns->desc, ch, slba, nlb, io_complete_cb, req);
	io_submitted(req, ns, ch, rc, io_write_zeroes);
}

static void
io_flush(struct ftgt_nvmf_request *req)
{
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns = io_get_ns(req, &ch);
	int rc;

	if (ns == NULL) {
		return;
	}
	if (!ftgt_bdev_io_type_supported(ns->bdev, FTGT_BDEV_IO_TYPE_FLUSH)) {
		/* No volatile cache below: every completed write is durable already. */
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
		return;
	}
	rc = ftgt_bdev_flush_blocks(ns->desc, ch, 0, ftgt_bdev_get_num_blocks(ns->bdev),
	                            io_complete_cb, req);
	io_submitted(req, ns, ch, rc, io_flush);
}

/* ---- Dataset Management: ranges deallocated one after another --------------------- */

static void dsm_next(struct ftgt_nvmf_request *req);

static void
dsm_range_done(struct ftgt_bdev_io *bio, bool success, void *cb_arg)
{
	struct ftgt_nvmf_request *req = cb_arg;

	if (!success && req->first_err == 0) {
		uint32_t cdw0;
		int sct, sc;

		ftgt_bdev_io_get_nvme_status(bio, &cdw0, &sct, &sc);
		req->first_err = NVME_STATUS(sct, sc);
	}
	ftgt_bdev_free_io(bio);
	req->pending++;
	dsm_next(req);
}

/* req->pending counts ranges done so far. */
static void
dsm_next(struct ftgt_nvmf_request *req)
{
	uint32_t nr = (nvmf_cmd_dw(req->cmd, 10) & 0xff) + 1;
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns;
	struct nvme_dsm_range range;
	uint64_t slba, num_blocks;
	uint32_t nlb;
	int rc;

	if (req->first_err != 0) {
		nvmf_request_set_status(req, NVME_STATUS_GET_SCT(req->first_err),
		                        NVME_STATUS_GET_SC(req->first_err));
		nvmf_request_complete(req);
		return;
	}
	ns = io_get_ns(req, &ch);
	if (ns == NULL) {
		return;
	}
	num_blocks = ftgt_bdev_get_num_blocks(ns->bdev);
	for (; req->pending < nr; req->pending++) {
		/* Ranges live in the request's buffers, 16 bytes each. */
		uint32_t off = req->pending * (uint32_t)sizeof(range), skip = off;
		int i;

		for (i = 0; i < req->iovcnt && skip >= req->iov[i].iov_len; i++) {
			skip -= (uint32_t)req->iov[i].iov_len;
		}
		if (i < req->iovcnt && req->iov[i].iov_len - skip >= sizeof(range)) {
			memcpy(&range, (uint8_t *)req->iov[i].iov_base + skip, sizeof(range));
		} else {
			/* A range split over two buffers: gather it. */
			uint8_t *dst = (uint8_t *)&range;
			uint32_t got = 0;

			for (; i < req->iovcnt && got < sizeof(range); i++) {
				size_t n =
				        FTGT_MIN(req->iov[i].iov_len - skip, sizeof(range) - got);

				memcpy(dst + got, (uint8_t *)req->iov[i].iov_base + skip, n);
				got += (uint32_t)n;
				skip = 0;
			}
		}
		slba = ftgt_le64_to_cpu(range.slba);
		nlb = ftgt_le32_to_cpu(range.nlb);
		if (nlb == 0) {
			continue;
		}
		if (slba >= num_blocks || nlb > num_blocks - slba) {
			io_done_status(req, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
			return;
		}
		if (!ftgt_bdev_io_type_supported(ns->bdev, FTGT_BDEV_IO_TYPE_UNMAP)) {
			/* Deallocate is advisory (NVM Command Set 1.0, 3.2.3.2.1). */
			continue;
		}
		rc = ftgt_bdev_unmap_blocks(ns->desc, ch, slba, nlb, dsm_range_done, req);
		if (rc == -ENOMEM) {
			io_queue_retry(req, ns, ch, dsm_next);
			return;
		}
		if (rc != 0) {
			io_done_status(req, NVME_SCT_GENERIC, errno_to_sc(rc));
			return;
		}
		return; /* dsm_range_done continues */
	}
	io_done_status(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

static void
io_dsm(struct ftgt_nvmf_request *req)
{
	uint32_t nr = (nvmf_cmd_dw(req->cmd, 10) & 0xff) + 1;

	if (req->length < nr * sizeof(struct nvme_dsm_range)) {
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return;
	}
	if (!(nvmf_cmd_dw(req->cmd, 11) & NVME_DSM_ATTR_DEALLOCATE)) {
		/* Only hints (IDR/IDW): nothing to do. */
		struct ftgt_io_channel *ch;

		if (io_get_ns(req, &ch) != NULL) {
			io_done_status(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
		}
		return;
	}
	req->pending = 0;
	req->first_err = 0;
	dsm_next(req);
}

/* ---- fused Compare and Write ------------------------------------------------------ */

static void
io_caw_submit(struct ftgt_nvmf_request *first)
{
	struct ftgt_nvmf_request *second = first->fused_pair;
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns;
	uint64_t slba;
	uint32_t nlb;
	int rc;

	ns = nvmf_subsystem_get_ns(first->qpair->ctrlr->subsys, ftgt_le32_to_cpu(first->cmd->nsid));
	if (ns == NULL || __atomic_load_n(&ns->removed, __ATOMIC_ACQUIRE) ||
	    (ch = ns_channel(first, ns)) == NULL) {
		nvmf_request_set_status(first, NVME_SCT_GENERIC,
		                        NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
		nvmf_request_complete(first);
		nvmf_request_complete(second);
		return;
	}
	slba = (uint64_t)nvmf_cmd_dw(first->cmd, 10) |
	       ((uint64_t)nvmf_cmd_dw(first->cmd, 11) << 32);
	nlb = (nvmf_cmd_dw(first->cmd, 12) & NVME_RW_NLB_MASK) + 1;
	rc = ftgt_bdev_comparev_and_writev_blocks(ns->desc, ch, first->iov, first->iovcnt,
	                                          second->iov, second->iovcnt, slba, nlb,
	                                          caw_complete_cb, first);
	if (rc == -ENOMEM) {
		io_queue_retry(first, ns, ch, io_caw_submit);
		return;
	}
	if (rc != 0) {
		int sc = rc == -EINVAL && nlb > ftgt_bdev_get_acwu(ns->bdev)
		                 ? NVME_SC_ATOMIC_WRITE_UNIT_EXCEEDED
		                 : errno_to_sc(rc);

		nvmf_request_set_status(first, NVME_SCT_GENERIC, sc);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
		nvmf_request_complete(first);
		nvmf_request_complete(second);
	}
}

/* A FUSE SECOND command arrived after `first` (its Compare). */
static void
io_fused_second(struct ftgt_nvmf_request *first, struct ftgt_nvmf_request *second)
{
	struct ftgt_io_channel *ch;
	struct nvmf_ns *ns;
	uint64_t slba;
	uint32_t nlb;

	if (second->cmd->opc != NVME_OPC_WRITE || first->cmd->nsid != second->cmd->nsid ||
	    first->cmd->cdw10 != second->cmd->cdw10 || first->cmd->cdw11 != second->cmd->cdw11 ||
	    ((nvmf_cmd_dw(first->cmd, 12) ^ nvmf_cmd_dw(second->cmd, 12)) & NVME_RW_NLB_MASK)) {
		/* The pair must name the same blocks (NVMe Base 2.0, 3.4.2). */
		nvmf_request_set_status(first, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
		nvmf_request_complete(first);
		nvmf_request_complete(second);
		return;
	}
	/* Range and lengths, checked for the compare; the write carries the same. */
	ns = nvmf_subsystem_get_ns(first->qpair->ctrlr->subsys, ftgt_le32_to_cpu(first->cmd->nsid));
	if (ns == NULL || __atomic_load_n(&ns->removed, __ATOMIC_ACQUIRE) ||
	    (ch = ns_channel(first, ns)) == NULL) {
		nvmf_request_set_status(first, NVME_SCT_GENERIC,
		                        NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
		nvmf_request_complete(first);
		nvmf_request_complete(second);
		return;
	}
	slba = (uint64_t)nvmf_cmd_dw(first->cmd, 10) |
	       ((uint64_t)nvmf_cmd_dw(first->cmd, 11) << 32);
	nlb = (nvmf_cmd_dw(first->cmd, 12) & NVME_RW_NLB_MASK) + 1;
	if (slba >= ftgt_bdev_get_num_blocks(ns->bdev) ||
	    nlb > ftgt_bdev_get_num_blocks(ns->bdev) - slba) {
		nvmf_request_set_status(first, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
		nvmf_request_complete(first);
		nvmf_request_complete(second);
		return;
	}
	if ((uint64_t)nlb * ns->block_size != first->length ||
	    (uint64_t)nlb * ns->block_size != second->length) {
		nvmf_request_set_status(first, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		nvmf_request_set_status(second, NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
		nvmf_request_complete(first);
		nvmf_request_complete(second);
		return;
	}
	first->fused_pair = second;
	second->fused_pair = first;
	io_caw_submit(first);
}

typedef void (*nvmf_io_fn)(struct ftgt_nvmf_request *req);

static const nvmf_io_fn g_io_cmds[256] = {
        [NVME_OPC_FLUSH] = io_flush,
        [NVME_OPC_WRITE] = io_write,
        [NVME_OPC_READ] = io_read,
        [NVME_OPC_COMPARE] = io_compare,
        [NVME_OPC_WRITE_ZEROES] = io_write_zeroes,
        [NVME_OPC_DATASET_MANAGEMENT] = io_dsm,
};

void
nvmf_io_exec(struct ftgt_nvmf_request *req)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	uint8_t fuse = req->cmd->flags & NVME_CMD_FUSE_MASK;
	nvmf_io_fn fn = g_io_cmds[req->cmd->opc];

	if (ftgt_unlikely(qpair->fused_first != NULL)) {
		struct ftgt_nvmf_request *first = qpair->fused_first;

		qpair->fused_first = NULL;
		if (fuse == NVME_CMD_FUSE_SECOND) {
			io_fused_second(first, req);
			return;
		}
		/* The second half never came. */
		io_done_status(first, NVME_SCT_GENERIC, NVME_SC_ABORTED_MISSING_FUSED);
	}
	if (ftgt_unlikely(fuse != NVME_CMD_FUSE_NONE)) {
		if (fuse == NVME_CMD_FUSE_FIRST && req->cmd->opc == NVME_OPC_COMPARE) {
			qpair->fused_first = req;
			return;
		}
		io_done_status(req, NVME_SCT_GENERIC,
		               fuse == NVME_CMD_FUSE_SECOND ? NVME_SC_ABORTED_MISSING_FUSED
		                                            : NVME_SC_INVALID_FIELD);
		return;
	}
	if (ftgt_unlikely(fn == NULL)) {
		io_done_status(req, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
		return;
	}
	fn(req);
}

/* ---- Abort ------------------------------------------------------------------------- */

struct io_abort_ctx {
	void (*cb_fn)(void *cb_arg, bool aborted);
	void *cb_arg;
};

static void
io_abort_done(struct ftgt_bdev_io *bio, bool success, void *cb_arg)
{
	struct io_abort_ctx *ctx = cb_arg;

	ftgt_bdev_free_io(bio);
	ctx->cb_fn(ctx->cb_arg, success);
	free(ctx);
}

void
nvmf_io_abort(struct ftgt_nvmf_request *req, void (*cb_fn)(void *cb_arg, bool aborted),
              void *cb_arg)
{
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct nvmf_qpair_ns *qns;
	struct io_abort_ctx *ctx;
	int rc;

	if (qpair->fused_first == req) {
		/* A fused FIRST waiting for its SECOND. */
		qpair->fused_first = NULL;
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST);
		nvmf_request_complete(req);
		cb_fn(cb_arg, true);
		return;
	}
	if (req->io_waiting && req->fused_pair == NULL) {
		/* Waiting for a bdev_io: it completes aborted when one is free (the wait
		 * queue has no cancel); I/Os in flight free one soon. A fused pair waits as
		 * one and is not aborted. */
		req->io_aborted = true;
		cb_fn(cb_arg, true);
		return;
	}
	if (req->io_nsid == 0 || qpair->ns == NULL || req->io_nsid > qpair->ns_count) {
		cb_fn(cb_arg, false);
		return;
	}
	qns = &qpair->ns[req->io_nsid - 1];
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL || qns->ch == NULL) {
		free(ctx);
		cb_fn(cb_arg, false);
		return;
	}
	ctx->cb_fn = cb_fn;
	ctx->cb_arg = cb_arg;
	/* Every bdev I/O of a command carries the request as its cb_arg. */
	rc = ftgt_bdev_abort(qns->desc, qns->ch, req, io_abort_done, ctx);
	if (rc != 0) {
		/* Nothing at the bdev (waiting for a bdev_io, or between two DSM ranges). */
		free(ctx);
		cb_fn(cb_arg, false);
	}
}
