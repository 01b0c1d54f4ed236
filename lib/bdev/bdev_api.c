/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bdev core, the front-end and module edges of the I/O path: the submit functions
 * (thin wrappers over bdev_rw), completion with NVMe/SCSI/errno detail and its
 * translation back, and iovec helpers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/util.h"
#include "bdev_internal.h"

static inline bool
module_supports(struct ftgt_bdev *bdev, enum ftgt_bdev_io_type t)
{
	return bdev->fn_table->io_type_supported(bdev->ctxt, t);
}

/* ---- submit functions ---------------------------------------------------------------- */

static inline int
bytes_to_blocks(struct ftgt_bdev *bdev, uint64_t offset_bytes, uint64_t len_bytes, uint64_t *offset,
                uint64_t *num)
{
	uint32_t bl = bdev->blocklen;

	if (offset_bytes % bl != 0 || len_bytes % bl != 0) {
		return -EINVAL;
	}
	*offset = offset_bytes / bl;
	*num = len_bytes / bl;
	return 0;
}

int
ftgt_bdev_read(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
               uint64_t offset_bytes, uint64_t len_bytes, ftgt_bdev_io_completion_cb cb_fn,
               void *cb_arg)
{
	uint64_t off, num;

	if (bytes_to_blocks(desc->bdev, offset_bytes, len_bytes, &off, &num) != 0) {
		return -EINVAL;
	}
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_READ, NULL, 0, buf, off, num, cb_fn, cb_arg,
	               NULL);
}

int
ftgt_bdev_read_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                      uint64_t offset_blocks, uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn,
                      void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_READ, NULL, 0, buf, offset_blocks, num_blocks,
	               cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_readv(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, struct iovec *iov,
                int iovcnt, uint64_t offset_bytes, uint64_t len_bytes,
                ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	uint64_t off, num;

	if (bytes_to_blocks(desc->bdev, offset_bytes, len_bytes, &off, &num) != 0) {
		return -EINVAL;
	}
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_READ, iov, iovcnt, NULL, off, num, cb_fn, cb_arg,
	               NULL);
}

int
ftgt_bdev_readv_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, struct iovec *iov,
                       int iovcnt, uint64_t offset_blocks, uint64_t num_blocks,
                       ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_READ, iov, iovcnt, NULL, offset_blocks,
	               num_blocks, cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_readv_blocks_ext(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                           struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                           uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg,
                           const struct ftgt_bdev_ext_io_opts *opts)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_READ, iov, iovcnt, NULL, offset_blocks,
	               num_blocks, cb_fn, cb_arg, opts);
}

int
ftgt_bdev_write(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                uint64_t offset_bytes, uint64_t len_bytes, ftgt_bdev_io_completion_cb cb_fn,
                void *cb_arg)
{
	uint64_t off, num;

	if (bytes_to_blocks(desc->bdev, offset_bytes, len_bytes, &off, &num) != 0) {
		return -EINVAL;
	}
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_WRITE, NULL, 0, buf, off, num, cb_fn, cb_arg,
	               NULL);
}

int
ftgt_bdev_write_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                       uint64_t offset_blocks, uint64_t num_blocks,
                       ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_WRITE, NULL, 0, buf, offset_blocks, num_blocks,
	               cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_writev(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, struct iovec *iov,
                 int iovcnt, uint64_t offset_bytes, uint64_t len_bytes,
                 ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	uint64_t off, num;

	if (bytes_to_blocks(desc->bdev, offset_bytes, len_bytes, &off, &num) != 0) {
		return -EINVAL;
	}
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_WRITE, iov, iovcnt, NULL, off, num, cb_fn,
	               cb_arg, NULL);
}

int
ftgt_bdev_writev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, struct iovec *iov,
                        int iovcnt, uint64_t offset_blocks, uint64_t num_blocks,
                        ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_WRITE, iov, iovcnt, NULL, offset_blocks,
	               num_blocks, cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_writev_blocks_ext(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                            struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                            uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg,
                            const struct ftgt_bdev_ext_io_opts *opts)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_WRITE, iov, iovcnt, NULL, offset_blocks,
	               num_blocks, cb_fn, cb_arg, opts);
}

int
ftgt_bdev_flush_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                       uint64_t offset_blocks, uint64_t num_blocks,
                       ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_FLUSH, NULL, 0, NULL, offset_blocks, num_blocks,
	               cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_unmap_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                       uint64_t offset_blocks, uint64_t num_blocks,
                       ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	if (!module_supports(desc->bdev, FTGT_BDEV_IO_TYPE_UNMAP)) {
		return -EINVAL;
	}
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_UNMAP, NULL, 0, NULL, offset_blocks, num_blocks,
	               cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_write_zeroes_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                              uint64_t offset_blocks, uint64_t num_blocks,
                              ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_WRITE_ZEROES, NULL, 0, NULL, offset_blocks,
	               num_blocks, cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_compare_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                         uint64_t offset_blocks, uint64_t num_blocks,
                         ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_COMPARE, NULL, 0, buf, offset_blocks, num_blocks,
	               cb_fn, cb_arg, NULL);
}

int
ftgt_bdev_comparev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                          struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                          uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return bdev_rw(desc, ch, FTGT_BDEV_IO_TYPE_COMPARE, iov, iovcnt, NULL, offset_blocks,
	               num_blocks, cb_fn, cb_arg, NULL);
}

void
ftgt_bdev_io_complete_nvme_status(struct ftgt_bdev_io *io, uint32_t cdw0, int sct, int sc)
{
	struct bdev_io_priv *p = bdev_io_priv(io);

	p->nvme_cdw0 = cdw0;
	p->nvme_sct = (int16_t)sct;
	p->nvme_sc = (int16_t)sc;
	if (sct == 0 && sc == 0) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
	} else if (sct == 2 && sc == 0x85) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_MISCOMPARE);
	} else if (sct == 0 && sc == 0x07) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_ABORTED);
	} else {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NVME_ERROR);
	}
}

void
ftgt_bdev_io_complete_scsi_status(struct ftgt_bdev_io *io, int sc, int sk, int asc, int ascq)
{
	struct bdev_io_priv *p = bdev_io_priv(io);

	p->scsi_sc = (uint8_t)sc;
	p->scsi_sk = (uint8_t)sk;
	p->scsi_asc = (uint8_t)asc;
	p->scsi_ascq = (uint8_t)ascq;
	if (sc == 0) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
	} else if (sk == 0x0e) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_MISCOMPARE);
	} else {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SCSI_ERROR);
	}
}

void
ftgt_bdev_io_complete_aio_status(struct ftgt_bdev_io *io, int rc)
{
	struct bdev_io_priv *p = bdev_io_priv(io);

	if (rc == 0) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
	} else if (rc == -ENOMEM || rc == -EAGAIN) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
	} else {
		p->err = rc < 0 ? rc : -rc;
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_AIO_ERROR);
	}
}

void
ftgt_bdev_io_complete_from(struct ftgt_bdev_io *io, struct ftgt_bdev_io *base_io)
{
	enum ftgt_bdev_io_status st = ftgt_bdev_io_get_status(base_io);
	uint32_t cdw0;
	int a, b, c, d, rc;

	switch (st) {
	case FTGT_BDEV_IO_STATUS_NVME_ERROR:
		ftgt_bdev_io_get_nvme_status(base_io, &cdw0, &a, &b);
		ftgt_bdev_io_complete_nvme_status(io, cdw0, a, b);
		break;
	case FTGT_BDEV_IO_STATUS_SCSI_ERROR:
		ftgt_bdev_io_get_scsi_status(base_io, &a, &b, &c, &d);
		ftgt_bdev_io_complete_scsi_status(io, a, b, c, d);
		break;
	case FTGT_BDEV_IO_STATUS_AIO_ERROR:
		rc = ftgt_bdev_io_get_errno(base_io);
		/* -ENOMEM/-EAGAIN would mean "retry" here; the base I/O really failed. */
		ftgt_bdev_io_complete_aio_status(
		        io, rc == -ENOMEM || rc == -EAGAIN || rc == 0 ? -EIO : rc);
		break;
	default:
		ftgt_bdev_io_complete(io, st);
		break;
	}
}

struct ftgt_thread *
ftgt_bdev_io_get_thread(struct ftgt_bdev_io *io)
{
	return bdev_io_priv(io)->ch->thread;
}

struct ftgt_io_channel *
ftgt_bdev_io_get_io_channel(struct ftgt_bdev_io *io)
{
	return bdev_io_priv(io)->ch->module_ch;
}

/* ---- status detail ----------------------------------------------------------------- */

enum ftgt_bdev_io_type
ftgt_bdev_io_get_type(const struct ftgt_bdev_io *io)
{
	return io->type;
}

enum ftgt_bdev_io_status
ftgt_bdev_io_get_status(const struct ftgt_bdev_io *io)
{
	return bdev_io_cpriv(io)->status;
}

void
ftgt_bdev_io_get_nvme_status(const struct ftgt_bdev_io *io, uint32_t *cdw0, int *sct, int *sc)
{
	const struct bdev_io_priv *p = bdev_io_cpriv(io);

	*cdw0 = 0;
	switch (p->status) {
	case FTGT_BDEV_IO_STATUS_SUCCESS:
		*sct = 0;
		*sc = 0;
		*cdw0 = p->nvme_cdw0;
		break;
	case FTGT_BDEV_IO_STATUS_NVME_ERROR:
		*cdw0 = p->nvme_cdw0;
		*sct = p->nvme_sct;
		*sc = p->nvme_sc;
		break;
	case FTGT_BDEV_IO_STATUS_MISCOMPARE:
		*sct = 2;   /* media and data integrity errors */
		*sc = 0x85; /* compare failure */
		break;
	case FTGT_BDEV_IO_STATUS_ABORTED:
		*sct = 0;
		*sc = 0x07; /* command abort requested */
		break;
	case FTGT_BDEV_IO_STATUS_FIRST_FUSED_FAILED:
		*sct = 0;
		*sc = 0x09; /* aborted: failed fused command */
		break;
	default:
		*sct = 0;
		*sc = 0x06; /* internal error */
		break;
	}
}

void
ftgt_bdev_io_get_scsi_status(const struct ftgt_bdev_io *io, int *sc, int *sk, int *asc, int *ascq)
{
	const struct bdev_io_priv *p = bdev_io_cpriv(io);

	switch (p->status) {
	case FTGT_BDEV_IO_STATUS_SUCCESS:
		*sc = 0;
		*sk = 0;
		*asc = 0;
		*ascq = 0;
		break;
	case FTGT_BDEV_IO_STATUS_SCSI_ERROR:
		*sc = p->scsi_sc;
		*sk = p->scsi_sk;
		*asc = p->scsi_asc;
		*ascq = p->scsi_ascq;
		break;
	case FTGT_BDEV_IO_STATUS_MISCOMPARE:
		*sc = 0x02;  /* CHECK CONDITION */
		*sk = 0x0e;  /* MISCOMPARE */
		*asc = 0x1d; /* miscompare during verify operation */
		*ascq = 0;
		break;
	case FTGT_BDEV_IO_STATUS_ABORTED:
		*sc = 0x02;
		*sk = 0x0b; /* ABORTED COMMAND */
		*asc = 0;
		*ascq = 0;
		break;
	default:
		*sc = 0x02;
		*sk = 0x03;  /* MEDIUM ERROR */
		*asc = 0x11; /* unrecovered read error / generic */
		*ascq = 0;
		if (p->io.type != FTGT_BDEV_IO_TYPE_READ) {
			*sk = 0x0b; /* ABORTED COMMAND, internal target failure */
			*asc = 0x44;
		}
		break;
	}
}

int
ftgt_bdev_io_get_errno(const struct ftgt_bdev_io *io)
{
	const struct bdev_io_priv *p = bdev_io_cpriv(io);

	if (p->status == FTGT_BDEV_IO_STATUS_SUCCESS) {
		return 0;
	}
	if (p->status == FTGT_BDEV_IO_STATUS_AIO_ERROR && p->err != 0) {
		return p->err;
	}
	if (p->status == FTGT_BDEV_IO_STATUS_ABORTED) {
		return -ECANCELED;
	}
	return -EIO;
}

void
ftgt_bdev_io_get_iovec(struct ftgt_bdev_io *io, struct iovec **iovp, int *iovcntp)
{
	*iovp = io->u.bdev.iovs;
	*iovcntp = io->u.bdev.iovcnt;
}

void *
ftgt_bdev_io_get_cb_arg(const struct ftgt_bdev_io *io)
{
	return bdev_io_cpriv(io)->cb_arg;
}

/* ---- iovec helpers ----------------------------------------------------------------- */

size_t
ftgt_iovec_to_buf(const struct iovec *iovs, int iovcnt, void *buf, size_t len)
{
	size_t off = 0, n;
	int i;

	for (i = 0; i < iovcnt && off < len; i++) {
		n = FTGT_MIN(iovs[i].iov_len, len - off);
		memcpy((uint8_t *)buf + off, iovs[i].iov_base, n);
		off += n;
	}
	return off;
}

size_t
ftgt_iovec_from_buf(struct iovec *iovs, int iovcnt, const void *buf, size_t len)
{
	size_t off = 0, n;
	int i;

	for (i = 0; i < iovcnt && off < len; i++) {
		n = FTGT_MIN(iovs[i].iov_len, len - off);
		memcpy(iovs[i].iov_base, (const uint8_t *)buf + off, n);
		off += n;
	}
	return off;
}

size_t
ftgt_iovec_memset(struct iovec *iovs, int iovcnt, int c, size_t len)
{
	size_t off = 0, n;
	int i;

	for (i = 0; i < iovcnt && off < len; i++) {
		n = FTGT_MIN(iovs[i].iov_len, len - off);
		memset(iovs[i].iov_base, c, n);
		off += n;
	}
	return off;
}
