/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring bdev. The file (or block device) is opened once, with O_DIRECT when the file
 * system allows it; each thread that does I/O gets its own channel with its own
 * io_uring and poller. submit_request only queues an SQE; the poller submits every
 * queued SQE with one io_uring_submit per iteration and reaps completions, all on the
 * channel's thread, so the ring needs no lock.
 *
 * A read or write that moves fewer bytes than asked (a file truncated under us, a
 * device that went away) completes as an error (-EIO), never as success: the rest of
 * the buffer would be stale. The bdev stays until it is deleted (hot remove on request).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "ftgt/bdev_module.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"
#include "bdev_uring.h"

FTGT_LOG_REGISTER_COMPONENT(bdev_uring)

/* SQ entries per channel, and the most I/O in flight on one channel (CQ is twice this). */
#define URING_QUEUE_DEPTH 512
#define URING_REAP_BATCH  64

struct uring_disk {
	struct ftgt_bdev disk;
	char *filename;
	int fd;
	bool direct;
	bool is_blkdev;
	bool fallocate_ok; /* IORING_OP_FALLOCATE known to the kernel */
	dev_t st_dev;
	ino_t st_ino;
	TAILQ_ENTRY(uring_disk) link;
};

struct uring_channel {
	struct io_uring ring;
	struct ftgt_poller *poller;
	uint32_t inflight; /* SQEs queued or submitted, not yet reaped */
};

struct uring_io {
	uint64_t len_bytes; /* expected result of a read/write */
};

static struct ftgt_bdev_module g_uring_module;
static TAILQ_HEAD(, uring_disk) g_uring_disks = TAILQ_HEAD_INITIALIZER(g_uring_disks);

static struct uring_disk *
uring_disk_find(const char *name)
{
	struct uring_disk *u;

	TAILQ_FOREACH (u, &g_uring_disks, link) {
		if (strcmp(u->disk.name, name) == 0) {
			return u;
		}
	}
	return NULL;
}

/* ---- I/O ---------------------------------------------------------------------------- */

static void
uring_submit(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io)
{
	struct uring_disk *u = io->bdev->ctxt;
	struct uring_channel *uch = ftgt_io_channel_get_ctx(ch);
	struct uring_io *uio = ftgt_bdev_io_get_driver_ctx(io);
	uint64_t off = io->u.bdev.offset_blocks * u->disk.blocklen;
	uint64_t len = io->u.bdev.num_blocks * u->disk.blocklen;
	struct io_uring_sqe *sqe;

	if (io->type == FTGT_BDEV_IO_TYPE_RESET) {
		/* The core waited for every I/O in flight: nothing is left to reset. */
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
		return;
	}
	if (ftgt_unlikely(uch->inflight >= URING_QUEUE_DEPTH)) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	sqe = io_uring_get_sqe(&uch->ring);
	if (ftgt_unlikely(sqe == NULL)) {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	uio->len_bytes = len;
	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		io_uring_prep_readv(sqe, u->fd, io->u.bdev.iovs, io->u.bdev.iovcnt, off);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		io_uring_prep_writev(sqe, u->fd, io->u.bdev.iovs, io->u.bdev.iovcnt, off);
		if (io->io_flags & FTGT_BDEV_IO_FLAG_FUA) {
			sqe->rw_flags = RWF_DSYNC;
		}
		break;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		io_uring_prep_fsync(sqe, u->fd, IORING_FSYNC_DATASYNC);
		uio->len_bytes = 0;
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		io_uring_prep_fallocate(sqe, u->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
		                        len);
		uio->len_bytes = 0;
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, u->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off,
		                        len);
		uio->len_bytes = 0;
		break;
	default:
		/* Give the SQE back as a no-op: it was taken from the ring already. */
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, NULL);
		uch->inflight++;
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	}
	io_uring_sqe_set_data(sqe, io);
	uch->inflight++;
}

static void
uring_complete_cqe(struct ftgt_bdev_io *io, int res)
{
	struct uring_io *uio = ftgt_bdev_io_get_driver_ctx(io);

	if (ftgt_unlikely(res < 0)) {
		/* -EAGAIN here is a real failure, not "retry" (the kernel retried already). */
		ftgt_bdev_io_complete_aio_status(io, res == -EAGAIN || res == -ENOMEM ? -EIO : res);
	} else if (ftgt_unlikely((uint64_t)res != uio->len_bytes)) {
		/* Short read/write: past the end of a truncated file, or a failing device. */
		FTGT_DEBUGLOG(bdev_uring, "%s: %s of %" PRIu64 " bytes moved %d\n", io->bdev->name,
		              ftgt_bdev_io_type_name(io->type), uio->len_bytes, res);
		ftgt_bdev_io_complete_aio_status(io, -EIO);
	} else {
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
	}
}

static int
uring_poll(void *arg)
{
	struct uring_channel *uch = arg;
	struct io_uring_cqe *cqes[URING_REAP_BATCH];
	struct ftgt_bdev_io *io;
	unsigned int n, i;
	int rc, busy = FTGT_POLLER_IDLE;

	if (io_uring_sq_ready(&uch->ring) > 0) {
		rc = io_uring_submit(&uch->ring);
		if (rc > 0) {
			busy = FTGT_POLLER_BUSY;
		} else if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
			FTGT_ERRLOG("io_uring_submit: %s\n", strerror(-rc));
		}
	}
	if (uch->inflight == 0) {
		return busy;
	}
	n = io_uring_peek_batch_cqe(&uch->ring, cqes, URING_REAP_BATCH);
	for (i = 0; i < n; i++) {
		io = io_uring_cqe_get_data(cqes[i]);
		uch->inflight--;
		if (io != NULL) {
			uring_complete_cqe(io, cqes[i]->res);
		}
	}
	if (n > 0) {
		io_uring_cq_advance(&uch->ring, n);
		busy = FTGT_POLLER_BUSY;
	}
	return busy;
}

static bool
uring_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	struct uring_disk *u = ctxt;

	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_FLUSH:
	case FTGT_BDEV_IO_TYPE_RESET:
		return true;
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		return u->fallocate_ok;
	default:
		return false;
	}
}

static struct ftgt_io_channel *
uring_get_io_channel(void *ctxt)
{
	return ftgt_get_io_channel(ctxt);
}

static int
uring_ch_create(void *dev, void *ctx)
{
	struct uring_channel *uch = ctx;
	int rc;

	memset(uch, 0, sizeof(*uch));
	rc = io_uring_queue_init(URING_QUEUE_DEPTH, &uch->ring, 0);
	if (rc != 0) {
		FTGT_ERRLOG("io_uring_queue_init: %s\n", strerror(-rc));
		return rc;
	}
	uch->poller = FTGT_POLLER_REGISTER(uring_poll, uch, 0);
	if (uch->poller == NULL) {
		io_uring_queue_exit(&uch->ring);
		return -ENOMEM;
	}
	return 0;
}

static void
uring_ch_destroy(void *dev, void *ctx)
{
	struct uring_channel *uch = ctx;

	/* The core puts the channel only after every I/O of it completed. */
	if (uch->inflight != 0) {
		FTGT_ERRLOG("uring channel destroyed with %" PRIu32 " I/O in flight\n",
		            uch->inflight);
	}
	ftgt_poller_unregister(&uch->poller);
	io_uring_queue_exit(&uch->ring);
}

/* ---- teardown, info, config --------------------------------------------------------- */

static void
uring_disk_free(struct uring_disk *u)
{
	if (u->fd >= 0) {
		close(u->fd);
	}
	free(u->filename);
	free(u->disk.name);
	free(u);
}

static void
uring_io_device_gone(void *dev)
{
	struct uring_disk *u = dev;

	ftgt_bdev_destruct_done(&u->disk, 0);
	uring_disk_free(u);
}

static int
uring_destruct(void *ctxt)
{
	struct uring_disk *u = ctxt;

	TAILQ_REMOVE(&g_uring_disks, u, link);
	ftgt_io_device_unregister(u, uring_io_device_gone);
	return 1;
}

static void
uring_dump_info_json(void *ctxt, json_t *ds)
{
	struct uring_disk *u = ctxt;
	json_t *o = json_object();

	json_object_set_new(o, "filename", json_string(u->filename));
	json_object_set_new(o, "direct_io", json_boolean(u->direct));
	json_object_set_new(o, "block_device", json_boolean(u->is_blkdev));
	json_object_set_new(ds, "uring", o);
}

static void
uring_write_config_json(struct ftgt_bdev *bdev, json_t *config)
{
	struct uring_disk *u = bdev->ctxt;
	char uuid[FTGT_UUID_STRING_LEN];
	json_t *m = json_object(), *p = json_object();

	ftgt_uuid_fmt(uuid, sizeof(uuid), &bdev->uuid);
	json_object_set_new(p, "name", json_string(bdev->name));
	json_object_set_new(p, "filename", json_string(u->filename));
	json_object_set_new(p, "block_size", json_integer(bdev->blocklen));
	json_object_set_new(p, "uuid", json_string(uuid));
	json_object_set_new(m, "method", json_string("bdev_uring_create"));
	json_object_set_new(m, "params", p);
	json_array_append_new(config, m);
}

static const struct ftgt_bdev_fn_table g_uring_fn_table = {
        .destruct = uring_destruct,
        .submit_request = uring_submit,
        .io_type_supported = uring_io_type_supported,
        .get_io_channel = uring_get_io_channel,
        .dump_info_json = uring_dump_info_json,
        .write_config_json = uring_write_config_json,
};

/* ---- create, delete, rescan --------------------------------------------------------- */

/* Size in bytes of an open file or block device: 0 or -errno. */
static int
uring_fd_size(int fd, bool is_blkdev, uint64_t *size)
{
	struct stat st;

	if (is_blkdev) {
		return ioctl(fd, BLKGETSIZE64, size) == 0 ? 0 : -errno;
	}
	if (fstat(fd, &st) != 0) {
		return -errno;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Smallest block size O_DIRECT (or the device) accepts, and the buffer alignment. */
static void
uring_fd_align(int fd, const char *path, bool is_blkdev, bool direct, uint32_t *lbs,
               uint32_t *mem_align)
{
	struct statx stx;
	int ssz;

	*lbs = 512;
	*mem_align = direct ? 512 : 1;
	if (is_blkdev) {
		if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz >= 512) {
			*lbs = (uint32_t)ssz;
			*mem_align = direct ? (uint32_t)ssz : 1;
		}
		return;
	}
#ifdef STATX_DIOALIGN
	if (direct && statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align != 0) {
		*lbs = FTGT_MAX(stx.stx_dio_offset_align, 512u);
		*mem_align = FTGT_MAX(stx.stx_dio_mem_align, 1u);
	}
#else
	(void)stx;
#endif
	(void)path;
}

static uint8_t
uring_log2(uint32_t v)
{
	uint8_t n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

int
bdev_uring_create(struct ftgt_bdev **bdevp, const struct uring_bdev_opts *opts, char *err,
                  size_t err_len)
{
	struct io_uring_probe *probe;
	struct uring_disk *u, *other;
	uint32_t lbs, mem_align, bs;
	uint64_t size;
	struct stat st;
	int rc;

	if (opts->name == NULL || opts->name[0] == '\0') {
		snprintf(err, err_len, "name must be given");
		return -EINVAL;
	}
	if (opts->filename == NULL || opts->filename[0] == '\0') {
		snprintf(err, err_len, "filename must be given");
		return -EINVAL;
	}
	if (ftgt_bdev_get_by_name(opts->name) != NULL) {
		snprintf(err, err_len, "bdev name '%s' already exists", opts->name);
		return -EEXIST;
	}
	if (stat(opts->filename, &st) != 0) {
		rc = -errno;
		snprintf(err, err_len, rc == -ENOENT ? "file '%s' does not exist" : "file '%s': %s",
		         opts->filename, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, err_len, "'%s' is neither a regular file nor a block device",
		         opts->filename);
		return -EINVAL;
	}
	TAILQ_FOREACH (other, &g_uring_disks, link) {
		if (S_ISBLK(st.st_mode)
		            ? other->is_blkdev && other->st_dev == st.st_rdev
		            : other->st_dev == st.st_dev && other->st_ino == st.st_ino) {
			snprintf(err, err_len, "'%s' is already used by bdev '%s'", opts->filename,
			         other->disk.name);
			return -EEXIST;
		}
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	u->fd = -1;
	u->filename = strdup(opts->filename);
	u->disk.name = strdup(opts->name);
	if (u->filename == NULL || u->disk.name == NULL) {
		snprintf(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto err_free;
	}
	u->is_blkdev = S_ISBLK(st.st_mode);
	u->st_dev = u->is_blkdev ? st.st_rdev : st.st_dev;
	u->st_ino = st.st_ino;
	u->fd = open(opts->filename, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (u->fd >= 0) {
		u->direct = true;
	} else if (errno == EINVAL) {
		/* The file system refuses O_DIRECT (tmpfs, some FUSE, old overlayfs). */
		u->fd = open(opts->filename, O_RDWR | O_CLOEXEC);
		if (u->fd >= 0) {
			FTGT_WARNLOG("%s: O_DIRECT is not supported there; bdev '%s' uses buffered "
			             "I/O (page cache)\n",
			             opts->filename, opts->name);
		}
	}
	if (u->fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "cannot open '%s': %s", opts->filename, strerror(-rc));
		goto err_free;
	}
	uring_fd_align(u->fd, opts->filename, u->is_blkdev, u->direct, &lbs, &mem_align);
	bs = opts->block_size != 0 ? opts->block_size : lbs;
	if (!FTGT_IS_POW2(bs) || bs < lbs) {
		snprintf(err, err_len,
		         "block_size %" PRIu32 " is not usable for '%s': use a power of two of at "
		         "least %" PRIu32,
		         bs, opts->filename, lbs);
		rc = -EINVAL;
		goto err_free;
	}
	rc = uring_fd_size(u->fd, u->is_blkdev, &size);
	if (rc != 0) {
		snprintf(err, err_len, "cannot size '%s': %s", opts->filename, strerror(-rc));
		goto err_free;
	}
	if (size / bs == 0) {
		snprintf(err, err_len,
		         "'%s' (%" PRIu64 " bytes) is smaller than one block of %" PRIu32 " bytes",
		         opts->filename, size, bs);
		rc = -EINVAL;
		goto err_free;
	}
	rc = ftgt_bdev_check_params(opts->name, bs, 0, false, size / bs, err, err_len);
	if (rc != 0) {
		goto err_free;
	}
	probe = io_uring_get_probe();
	if (probe == NULL) {
		snprintf(err, err_len, "io_uring is not available on this system");
		rc = -ENOTSUP;
		goto err_free;
	}
	u->fallocate_ok = io_uring_opcode_supported(probe, IORING_OP_FALLOCATE);
	io_uring_free_probe(probe);

	u->disk.ctxt = u;
	u->disk.product_name = "URING bdev";
	u->disk.uuid = opts->uuid;
	u->disk.blocklen = bs;
	u->disk.blockcnt = size / bs;
	u->disk.write_cache = true;
	u->disk.required_alignment = u->direct ? uring_log2(mem_align) : 0;
	u->disk.fn_table = &g_uring_fn_table;
	u->disk.module = &g_uring_module;
	ftgt_io_device_register(u, uring_ch_create, uring_ch_destroy, sizeof(struct uring_channel),
	                        opts->name);
	rc = ftgt_bdev_register(&u->disk);
	if (rc != 0) {
		snprintf(err, err_len,
		         rc == -EEXIST ? "bdev name '%s' already exists"
		                       : "cannot register bdev '%s'",
		         opts->name);
		ftgt_io_device_unregister(u, NULL);
		goto err_free;
	}
	TAILQ_INSERT_TAIL(&g_uring_disks, u, link);
	FTGT_NOTICELOG("bdev '%s': %s, %" PRIu64 " blocks of %" PRIu32 " bytes, %s I/O\n",
	               opts->name, opts->filename, u->disk.blockcnt, bs,
	               u->direct ? "direct" : "buffered");
	if (bdevp != NULL) {
		*bdevp = &u->disk;
	}
	return 0;
err_free:
	uring_disk_free(u);
	return rc;
}

int
bdev_uring_delete(const char *name, bool force, ftgt_bdev_unregister_cb cb_fn, void *cb_arg,
                  char *err, size_t err_len)
{
	struct ftgt_bdev *bdev = name != NULL ? ftgt_bdev_get_by_name(name) : NULL;
	const char *owner;

	if (bdev == NULL) {
		snprintf(err, err_len, "bdev '%s' does not exist", name ? name : "");
		return -ENODEV;
	}
	if (bdev->module != &g_uring_module) {
		snprintf(err, err_len, "bdev '%s' is a %s bdev, not a uring bdev", name,
		         ftgt_bdev_get_module_name(bdev));
		return -EINVAL;
	}
	owner = ftgt_bdev_get_claim_owner(bdev);
	if (owner != NULL && !force) {
		snprintf(err, err_len,
		         "bdev '%s' is claimed by '%s' (force: true removes it from under its "
		         "holder)",
		         name, owner);
		return -EBUSY;
	}
	/* Hot remove: descriptors still open get FTGT_BDEV_EVENT_REMOVE and let go. */
	ftgt_bdev_unregister(bdev, cb_fn, cb_arg);
	return 0;
}

int
bdev_uring_rescan(const char *name, char *err, size_t err_len)
{
	struct uring_disk *u = name != NULL ? uring_disk_find(name) : NULL;
	uint64_t size, blocks;
	int rc;

	if (u == NULL) {
		snprintf(err, err_len, "uring bdev '%s' does not exist", name ? name : "");
		return -ENODEV;
	}
	rc = uring_fd_size(u->fd, u->is_blkdev, &size);
	if (rc != 0) {
		snprintf(err, err_len, "cannot size '%s': %s", u->filename, strerror(-rc));
		return rc;
	}
	blocks = size / u->disk.blocklen;
	if (blocks == u->disk.blockcnt) {
		return 0;
	}
	if (blocks == 0) {
		snprintf(err, err_len,
		         "'%s' is now smaller than one block: delete bdev '%s' (bdev_uring_delete)",
		         u->filename, name);
		return -EIO;
	}
	rc = ftgt_bdev_notify_blockcnt_change(&u->disk, blocks);
	if (rc == -EBUSY) {
		snprintf(err, err_len,
		         "'%s' shrank from %" PRIu64 " to %" PRIu64 " blocks while bdev '%s' is in "
		         "use: I/O past the end fails; delete the bdev to remove it",
		         u->filename, u->disk.blockcnt, blocks, name);
	} else if (rc != 0) {
		snprintf(err, err_len, "cannot resize bdev '%s': %s", name, strerror(-rc));
	} else {
		FTGT_NOTICELOG("bdev '%s' resized to %" PRIu64 " blocks\n", name, blocks);
	}
	return rc;
}

static int
uring_get_ctx_size(void)
{
	return sizeof(struct uring_io);
}

static struct ftgt_bdev_module g_uring_module = {
        .name = "uring",
        .get_ctx_size = uring_get_ctx_size,
};
FTGT_BDEV_MODULE_REGISTER(uring, &g_uring_module)
