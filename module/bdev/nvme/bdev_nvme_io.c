/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe-oF bdev, the I/O path (channel threads): READ/WRITE/COMPARE straight from the bdev
 * I/O's iovecs, FLUSH, WRITE_ZEROES, UNMAP, and the RESET and ABORT requests that go to the
 * app thread (controller reset, NVMe Abort on the admin queue) and come back by message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/bdev_module.h"
#include "ftgt/log.h"
#include "ftgt/nvme.h"
#include "ftgt/thread.h"
#include "bdev_nvme_internal.h"

static void
io_complete_msg(void *ctx)
{
	struct ftgt_bdev_io *io = ctx;
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);

	ftgt_bdev_io_complete(io, nio->status);
}

/* A completion whose message could not be sent yet (the ring was full): retried. */
struct io_complete_retry {
	struct ftgt_bdev_io *io;
	struct ftgt_poller *poller;
};

static int
io_complete_retry_poll(void *ctx)
{
	struct io_complete_retry *r = ctx;
	int rc = ftgt_thread_send_msg(ftgt_bdev_io_get_thread(r->io), io_complete_msg, r->io);

	if (rc == -ENOMEM) {
		return FTGT_POLLER_IDLE; /* still full: next period */
	}
	if (rc != 0) {
		FTGT_ERRLOG("bdev %s: the thread of a %s I/O is gone\n", r->io->bdev->name,
		            ftgt_bdev_io_type_name(r->io->type));
	}
	ftgt_poller_unregister(&r->poller);
	free(r);
	return FTGT_POLLER_BUSY;
}

/* App thread: complete a RESET/ABORT bdev I/O on its own thread (never lost). */
static void
io_complete_on_thread(struct ftgt_bdev_io *io, enum ftgt_bdev_io_status status)
{
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	struct io_complete_retry *r;
	int rc;

	nio->status = status;
	rc = ftgt_thread_send_msg(ftgt_bdev_io_get_thread(io), io_complete_msg, io);
	if (rc == 0) {
		return;
	}
	r = rc == -ENOMEM ? calloc(1, sizeof(*r)) : NULL;
	if (r != NULL) {
		r->io = io;
		r->poller = FTGT_POLLER_REGISTER(io_complete_retry_poll, r, 1000);
		if (r->poller != NULL) {
			return;
		}
		free(r);
	}
	FTGT_ERRLOG("bdev %s: cannot reach the thread of a %s I/O\n", io->bdev->name,
	            ftgt_bdev_io_type_name(io->type));
}

static void
reset_io_done(struct reset_waiter *w, int rc)
{
	io_complete_on_thread(w->cb_arg,
	                      rc == 0 ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_FAILED);
}

static void
reset_io_msg(void *ctx)
{
	struct ftgt_bdev_io *io = ctx;
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	struct nvme_bdev *nbdev = io->bdev->ctxt;

	nio->waiter.fn = reset_io_done;
	nio->waiter.cb_arg = io;
	if (bdev_nvme_ctrlr_reset(nbdev->nctrlr, &nio->waiter) != 0) {
		io_complete_on_thread(io, FTGT_BDEV_IO_STATUS_FAILED);
	}
}

/* ---- abort ------------------------------------------------------------------------- */

static void
abort_cpl(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_bdev_io *io = cb_arg;
	struct nvme_bdev *nbdev = io->bdev->ctxt;
	/* NVMe Base 2.0, 5.1: dword 0 bit 0 clear means the command was aborted. */
	bool aborted = !ftgt_nvme_cpl_is_error(cpl) && (ftgt_le32_to_cpu(cpl->cdw0) & 1) == 0;

	if (aborted) {
		nbdev->nctrlr->aborts_done++;
	}
	io_complete_on_thread(io,
	                      aborted ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_FAILED);
}

/* App thread: send the Abort that a channel prepared (sqid, cid of that incarnation). */
static void
abort_io_msg(void *ctx)
{
	struct ftgt_bdev_io *io = ctx;
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	struct nvme_bdev_ctrlr *nctrlr = ((struct nvme_bdev *)io->bdev->ctxt)->nctrlr;

	if (nctrlr->state != BDEV_NVME_ENABLED || nio->abort_gen != nctrlr->gen ||
	    ftgt_nvme_ctrlr_cmd_abort(nctrlr->ctrlr, nio->abort_sqid, nio->abort_cid, abort_cpl,
	                              io) != 0) {
		/* The queue is gone (its commands come back by themselves), or no admin slot. */
		io_complete_on_thread(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	}
	nctrlr->aborts_sent++;
}

/* Channel thread: find the command of bio_to_abort and ask the app thread to abort it. */
static void
abort_submit(struct nvme_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct ftgt_bdev_io *victim = io->u.abort.bio_to_abort;
	struct nvme_bdev_io *vnio = ftgt_bdev_io_get_driver_ctx(victim);
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	int cid;

	if (ch->qpair == NULL || !vnio->outstanding || vnio->qpair != ch->qpair) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	}
	cid = ftgt_nvme_qpair_get_cid(ch->qpair, victim);
	if (cid < 0) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	}
	nio->abort_sqid = ftgt_nvme_qpair_get_id(ch->qpair);
	nio->abort_cid = (uint16_t)cid;
	nio->abort_gen = ch->gen;
	if (ftgt_thread_send_msg(ftgt_thread_get_app_thread(), abort_io_msg, io) != 0) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
	}
}

static void
nvme_io_done(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_bdev_io *io = cb_arg;
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	uint16_t status = ftgt_le16_to_cpu(cpl->status);
	int sct = (status >> 9) & 0x7, sc = (status >> 1) & 0xff;

	nio->outstanding = false;
	if (nio->bounce != NULL) {
		if (io->type == FTGT_BDEV_IO_TYPE_READ && !ftgt_nvme_cpl_is_error(cpl)) {
			ftgt_iovec_from_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, nio->bounce,
			                    ftgt_bdev_io_get_len_bytes(io));
		}
		free(nio->bounce);
		nio->bounce = NULL;
	}
	switch (bdev_nvme_cpl_action(sct, sc, bdev_nvme_ctrlr_fail_io(nio->ch->nctrlr))) {
	case BDEV_NVME_CPL_RETRY:
		/* The qpair went away (reset): the core retries it. */
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	case BDEV_NVME_CPL_FAIL:
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	case BDEV_NVME_CPL_STATUS:
		break;
	}
	ftgt_bdev_io_complete_nvme_status(io, ftgt_le32_to_cpu(cpl->cdw0), sct, sc);
}

/*
 * lib/nvme takes the iovecs as they are (no copy); only a request with more iovecs than it
 * accepts (FTGT_NVME_MAX_IOVCNT, rare: the bdev core splits large I/O) goes through a
 * flat bounce buffer.
 */
static int
io_submit_rw(struct nvme_io_channel *ch, struct ftgt_bdev_io *io, struct nvme_bdev_io *nio,
             uint32_t flags)
{
	struct nvme_bdev *nbdev = io->bdev->ctxt;
	uint64_t lba = io->u.bdev.offset_blocks, len = ftgt_bdev_io_get_len_bytes(io);
	uint32_t nlb = (uint32_t)io->u.bdev.num_blocks;

	if (io->u.bdev.iovcnt <= FTGT_NVME_MAX_IOVCNT) {
		switch (io->type) {
		case FTGT_BDEV_IO_TYPE_READ:
			return ftgt_nvme_ns_cmd_readv(ch->qpair, nbdev->nsid, io->u.bdev.iovs,
			                              io->u.bdev.iovcnt, lba, nlb, flags,
			                              nvme_io_done, io);
		case FTGT_BDEV_IO_TYPE_WRITE:
			return ftgt_nvme_ns_cmd_writev(ch->qpair, nbdev->nsid, io->u.bdev.iovs,
			                               io->u.bdev.iovcnt, lba, nlb, flags,
			                               nvme_io_done, io);
		default:
			return ftgt_nvme_ns_cmd_comparev(ch->qpair, nbdev->nsid, io->u.bdev.iovs,
			                                 io->u.bdev.iovcnt, lba, nlb, flags,
			                                 nvme_io_done, io);
		}
	}
	nio->bounce = malloc(len);
	if (nio->bounce == NULL) {
		return -ENOMEM;
	}
	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		return ftgt_nvme_ns_cmd_read(ch->qpair, nbdev->nsid, nio->bounce, lba, nlb, flags,
		                             nvme_io_done, io);
	case FTGT_BDEV_IO_TYPE_WRITE:
		ftgt_iovec_to_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, nio->bounce, len);
		return ftgt_nvme_ns_cmd_write(ch->qpair, nbdev->nsid, nio->bounce, lba, nlb, flags,
		                              nvme_io_done, io);
	default:
		ftgt_iovec_to_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, nio->bounce, len);
		return ftgt_nvme_ns_cmd_compare(ch->qpair, nbdev->nsid, nio->bounce, lba, nlb,
		                                flags, nvme_io_done, io);
	}
}

void
bdev_nvme_submit_request(struct ftgt_io_channel *chan, struct ftgt_bdev_io *io)
{
	struct nvme_io_channel *ch = ftgt_io_channel_get_ctx(chan);
	struct nvme_bdev *nbdev = io->bdev->ctxt;
	struct nvme_bdev_io *nio = ftgt_bdev_io_get_driver_ctx(io);
	uint32_t flags = 0;
	int rc;

	nio->bounce = NULL;
	nio->ch = ch;
	nio->outstanding = false;
	nio->qpair = NULL;
	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_RESET:
		/* The core has drained this bdev's I/O; the controller is reset on the app thread. */
		if (ftgt_thread_send_msg(ftgt_thread_get_app_thread(), reset_io_msg, io) != 0) {
			ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		}
		return;
	case FTGT_BDEV_IO_TYPE_ABORT:
		abort_submit(ch, io);
		return;
	default:
		break;
	}
	if (ch->qpair == NULL) {
		ftgt_bdev_io_complete(io, bdev_nvme_ctrlr_fail_io(ch->nctrlr)
		                                  ? FTGT_BDEV_IO_STATUS_FAILED
		                                  : FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_COMPARE:
		rc = io_submit_rw(ch, io, nio, 0);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		if (io->io_flags & FTGT_BDEV_IO_FLAG_FUA) {
			flags |= NVME_RW_FUA;
		}
		rc = io_submit_rw(ch, io, nio, flags);
		break;
	case FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE:
		if (io->io_flags & FTGT_BDEV_IO_FLAG_FUA) {
			flags |= NVME_RW_FUA;
		}
		if (io->u.bdev.iovcnt > FTGT_NVME_MAX_IOVCNT ||
		    io->u.bdev.fused_iovcnt > FTGT_NVME_MAX_IOVCNT) {
			rc = -EINVAL;
			break;
		}
		rc = ftgt_nvme_ns_cmd_compare_and_writev(
		        ch->qpair, nbdev->nsid, io->u.bdev.iovs, io->u.bdev.iovcnt,
		        io->u.bdev.fused_iovs, io->u.bdev.fused_iovcnt, io->u.bdev.offset_blocks,
		        (uint32_t)io->u.bdev.num_blocks, flags, nvme_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		rc = ftgt_nvme_ns_cmd_flush(ch->qpair, nbdev->nsid, nvme_io_done, io);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		rc = ftgt_nvme_ns_cmd_write_zeroes(ch->qpair, nbdev->nsid, io->u.bdev.offset_blocks,
		                                   (uint32_t)io->u.bdev.num_blocks, 0, nvme_io_done,
		                                   io);
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		nio->range.attributes = 0;
		nio->range.nlb = ftgt_cpu_to_le32((uint32_t)io->u.bdev.num_blocks);
		nio->range.slba = ftgt_cpu_to_le64(io->u.bdev.offset_blocks);
		rc = ftgt_nvme_ns_cmd_dsm(ch->qpair, nbdev->nsid, NVME_DSM_ATTR_DEALLOCATE,
		                          &nio->range, 1, nvme_io_done, io);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (rc == 0) {
		nio->outstanding = true;
		nio->qpair = ch->qpair;
		return;
	}
	free(nio->bounce);
	nio->bounce = NULL;
	if (rc == -ENOMEM || rc == -EAGAIN || rc == -ENXIO) {
		/* Queue full, still connecting, or failed (the poller notices): retried. */
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
}

bool
bdev_nvme_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	struct nvme_bdev *nbdev = ctxt;
	uint16_t oncs = nbdev->nctrlr->oncs;

	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_RESET:
	case FTGT_BDEV_IO_TYPE_ABORT: /* Abort is a mandatory admin command */
		return true;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		return nbdev->bdev.write_cache;
	case FTGT_BDEV_IO_TYPE_COMPARE:
		return (oncs & NVME_CTRLR_ONCS_COMPARE) != 0;
	case FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE:
		/* Atomic at the remote controller, for every host it serves. */
		return (oncs & NVME_CTRLR_ONCS_COMPARE) != 0 &&
		       (nbdev->nctrlr->fuses & NVME_CTRLR_FUSES_COMPARE_AND_WRITE) != 0;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		return (oncs & NVME_CTRLR_ONCS_DSM) != 0;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		return (oncs & NVME_CTRLR_ONCS_WRITE_ZEROES) != 0;
	default:
		return false;
	}
}
