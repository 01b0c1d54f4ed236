/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A RAM bdev standing in for lib/bdev in lib/scsi unit tests and the CDB fuzz target.
 * Completions are queued and delivered by fake_bdev_poll(), as the async contract says
 * (never from inside the submit call). With g_fake_bdev.hold_io set, I/O is held (as if
 * at a slow back end) until fake_bdev_release_held() or ftgt_bdev_abort(). Not thread
 * safe: one test thread submits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_bdev.h"

struct ftgt_bdev {
	char name[64];
	uint64_t num_blocks;
	uint32_t block_size;
	uint8_t *data;
	struct ftgt_uuid uuid;
};

struct ftgt_bdev_desc {
	struct ftgt_bdev *bdev;
	ftgt_bdev_event_cb event_cb;
	void *event_ctx;
};

struct ftgt_bdev_io {
	enum ftgt_bdev_io_type type;
	enum ftgt_bdev_io_status status;
	ftgt_bdev_io_completion_cb cb;
	void *cb_arg;
	struct ftgt_bdev_io *next;
};

static struct ftgt_bdev g_bdev;
static struct ftgt_bdev_desc g_desc;
static struct ftgt_bdev_io *g_head, *g_tail;
static struct ftgt_bdev_io *g_held_head, *g_held_tail;
static int g_ch_dummy;
struct fake_bdev_stats g_fake_bdev;

void
fake_bdev_init(uint64_t num_blocks, uint32_t block_size)
{
	free(g_bdev.data);
	memset(&g_bdev, 0, sizeof(g_bdev));
	memset(&g_fake_bdev, 0, sizeof(g_fake_bdev));
	g_fake_bdev.unmap_supported = true;
	g_fake_bdev.write_cache = true;
	g_fake_bdev.acwu = 8;
	strcpy(g_bdev.name, "Malloc0");
	g_bdev.num_blocks = num_blocks;
	g_bdev.block_size = block_size;
	g_bdev.data = calloc(num_blocks, block_size);
	for (int i = 0; i < 16; i++) {
		((uint8_t *)&g_bdev.uuid)[i] = (uint8_t)(0xa0 + i);
	}
}

void
fake_bdev_fini(void)
{
	fake_bdev_release_held(UINT32_MAX);
	fake_bdev_poll();
	free(g_bdev.data);
	memset(&g_bdev, 0, sizeof(g_bdev));
}

uint8_t *
fake_bdev_data(void)
{
	return g_bdev.data;
}

int
fake_bdev_poll(void)
{
	int n = 0;

	while (g_head != NULL) {
		struct ftgt_bdev_io *io = g_head;

		g_head = io->next;
		if (g_head == NULL) {
			g_tail = NULL;
		}
		io->cb(io, io->status == FTGT_BDEV_IO_STATUS_SUCCESS, io->cb_arg);
		n++;
	}
	return n;
}

static void
append(struct ftgt_bdev_io **head, struct ftgt_bdev_io **tail, struct ftgt_bdev_io *io)
{
	io->next = NULL;
	if (*tail != NULL) {
		(*tail)->next = io;
	} else {
		*head = io;
	}
	*tail = io;
}

uint32_t
fake_bdev_release_held(uint32_t max)
{
	uint32_t n = 0;

	while (g_held_head != NULL && n < max) {
		struct ftgt_bdev_io *io = g_held_head;

		g_held_head = io->next;
		if (g_held_head == NULL) {
			g_held_tail = NULL;
		}
		append(&g_head, &g_tail, io);
		n++;
	}
	return n;
}

uint32_t
fake_bdev_held_count(void)
{
	uint32_t n = 0;

	for (struct ftgt_bdev_io *io = g_held_head; io != NULL; io = io->next) {
		n++;
	}
	return n;
}

void
fake_bdev_resize(uint64_t num_blocks)
{
	g_bdev.num_blocks = num_blocks;
	if (g_desc.event_cb != NULL) {
		g_desc.event_cb(FTGT_BDEV_EVENT_RESIZE, &g_bdev, g_desc.event_ctx);
	}
}

void
fake_bdev_hot_remove(void)
{
	if (g_desc.event_cb != NULL) {
		g_desc.event_cb(FTGT_BDEV_EVENT_REMOVE, &g_bdev, g_desc.event_ctx);
	}
}

static int
queue(enum ftgt_bdev_io_type type, enum ftgt_bdev_io_status st, ftgt_bdev_io_completion_cb cb,
      void *arg)
{
	struct ftgt_bdev_io *io;

	if (g_fake_bdev.fail_submit != 0) {
		return g_fake_bdev.fail_submit;
	}
	io = calloc(1, sizeof(*io));
	if (io == NULL) {
		return -ENOMEM;
	}
	io->type = type;
	io->status = g_fake_bdev.fail_io ? FTGT_BDEV_IO_STATUS_FAILED : st;
	io->cb = cb;
	io->cb_arg = arg;
	if (g_fake_bdev.hold_io && type != FTGT_BDEV_IO_TYPE_ABORT) {
		append(&g_held_head, &g_held_tail, io);
	} else {
		append(&g_head, &g_tail, io);
	}
	g_fake_bdev.submitted[type]++;
	return 0;
}

/* Held I/O with cb_arg == bio_cb_arg completes ABORTED; I/O already completed (queued
 * for delivery) cannot be aborted, which fails the abort as the real core does. */
int
ftgt_bdev_abort(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *bio_cb_arg,
                ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	struct ftgt_bdev_io **pp = &g_held_head, *io, *prev = NULL;
	uint32_t ok = 0, fail = 0;
	int rc;

	for (io = g_head; io != NULL; io = io->next) {
		if (io->cb_arg == bio_cb_arg && io->type != FTGT_BDEV_IO_TYPE_ABORT) {
			fail++;
		}
	}
	while ((io = *pp) != NULL) {
		if (io->cb_arg != bio_cb_arg) {
			prev = io;
			pp = &io->next;
			continue;
		}
		*pp = io->next;
		if (g_held_tail == io) {
			g_held_tail = prev;
		}
		io->status = FTGT_BDEV_IO_STATUS_ABORTED;
		append(&g_head, &g_tail, io);
		ok++;
	}
	if (ok == 0 && fail == 0) {
		return -ENOENT;
	}
	rc = queue(FTGT_BDEV_IO_TYPE_ABORT,
	           ok > 0 && fail == 0 ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_FAILED,
	           cb_fn, cb_arg);
	g_fake_bdev.aborted += ok;
	return rc;
}

static int
range_ok(uint64_t off, uint64_t n)
{
	return n > 0 && off <= g_bdev.num_blocks && n <= g_bdev.num_blocks - off;
}

static void
copy_iov(uint8_t *mem, struct iovec *iov, int iovcnt, uint64_t len, bool to_mem)
{
	for (int i = 0; i < iovcnt && len > 0; i++) {
		uint64_t c = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_mem) {
			memcpy(mem, iov[i].iov_base, c);
		} else {
			memcpy(iov[i].iov_base, mem, c);
		}
		mem += c;
		len -= c;
	}
}

int
ftgt_bdev_open_ext(const char *name, bool write, ftgt_bdev_event_cb event_cb, void *event_ctx,
                   struct ftgt_bdev_desc **desc)
{
	if (strcmp(name, g_bdev.name) != 0 || g_bdev.data == NULL) {
		return -ENODEV;
	}
	g_desc.bdev = &g_bdev;
	g_desc.event_cb = event_cb;
	g_desc.event_ctx = event_ctx;
	*desc = &g_desc;
	return 0;
}

void
ftgt_bdev_close(struct ftgt_bdev_desc *desc)
{
	desc->event_cb = NULL;
	desc->event_ctx = NULL;
}

int
ftgt_bdev_claim(struct ftgt_bdev_desc *desc, const char *owner)
{
	return 0;
}

struct ftgt_bdev *
ftgt_bdev_desc_get_bdev(struct ftgt_bdev_desc *desc)
{
	return desc->bdev;
}

struct ftgt_io_channel *
ftgt_bdev_get_io_channel(struct ftgt_bdev_desc *desc)
{
	return (struct ftgt_io_channel *)&g_ch_dummy;
}

const char *
ftgt_bdev_get_product_name(const struct ftgt_bdev *bdev)
{
	return "Malloc disk";
}

uint32_t
ftgt_bdev_get_block_size(const struct ftgt_bdev *bdev)
{
	return bdev->block_size;
}

uint64_t
ftgt_bdev_get_num_blocks(const struct ftgt_bdev *bdev)
{
	return bdev->num_blocks;
}

const struct ftgt_uuid *
ftgt_bdev_get_uuid(const struct ftgt_bdev *bdev)
{
	return &bdev->uuid;
}

bool
ftgt_bdev_has_write_cache(const struct ftgt_bdev *bdev)
{
	return g_fake_bdev.write_cache;
}

uint32_t
ftgt_bdev_get_optimal_io_boundary(const struct ftgt_bdev *bdev)
{
	return 0;
}

uint32_t
ftgt_bdev_get_max_rw_blocks(const struct ftgt_bdev *bdev)
{
	return 0;
}

uint32_t
ftgt_bdev_get_acwu(const struct ftgt_bdev *bdev)
{
	return g_fake_bdev.acwu;
}

bool
ftgt_bdev_io_type_supported(struct ftgt_bdev *bdev, enum ftgt_bdev_io_type type)
{
	if (type == FTGT_BDEV_IO_TYPE_UNMAP) {
		return g_fake_bdev.unmap_supported;
	}
	return true;
}

int
ftgt_bdev_readv_blocks_ext(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                           struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                           uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg,
                           const struct ftgt_bdev_ext_io_opts *opts)
{
	if (!range_ok(offset_blocks, num_blocks)) {
		return -EINVAL;
	}
	copy_iov(g_bdev.data + offset_blocks * g_bdev.block_size, iov, iovcnt,
	         num_blocks * g_bdev.block_size, false);
	return queue(FTGT_BDEV_IO_TYPE_READ, FTGT_BDEV_IO_STATUS_SUCCESS, cb_fn, cb_arg);
}

int
ftgt_bdev_writev_blocks_ext(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                            struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                            uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg,
                            const struct ftgt_bdev_ext_io_opts *opts)
{
	if (!range_ok(offset_blocks, num_blocks)) {
		return -EINVAL;
	}
	g_fake_bdev.last_write_fua = opts != NULL && (opts->io_flags & FTGT_BDEV_IO_FLAG_FUA);
	copy_iov(g_bdev.data + offset_blocks * g_bdev.block_size, iov, iovcnt,
	         num_blocks * g_bdev.block_size, true);
	return queue(FTGT_BDEV_IO_TYPE_WRITE, FTGT_BDEV_IO_STATUS_SUCCESS, cb_fn, cb_arg);
}

int
ftgt_bdev_write_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                       uint64_t offset_blocks, uint64_t num_blocks,
                       ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	struct iovec iov = {buf, num_blocks * g_bdev.block_size};

	return ftgt_bdev_writev_blocks_ext(desc, ch, &iov, 1, offset_blocks, num_blocks, cb_fn,
	                                   cb_arg, NULL);
}

int
ftgt_bdev_flush_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                       uint64_t offset_blocks, uint64_t num_blocks,
                       ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	if (!range_ok(offset_blocks, num_blocks)) {
		return -EINVAL;
	}
	return queue(FTGT_BDEV_IO_TYPE_FLUSH, FTGT_BDEV_IO_STATUS_SUCCESS, cb_fn, cb_arg);
}

int
ftgt_bdev_unmap_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                       uint64_t offset_blocks, uint64_t num_blocks,
                       ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	if (!range_ok(offset_blocks, num_blocks)) {
		return -EINVAL;
	}
	memset(g_bdev.data + offset_blocks * g_bdev.block_size, 0, num_blocks * g_bdev.block_size);
	return queue(FTGT_BDEV_IO_TYPE_UNMAP, FTGT_BDEV_IO_STATUS_SUCCESS, cb_fn, cb_arg);
}

int
ftgt_bdev_write_zeroes_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                              uint64_t offset_blocks, uint64_t num_blocks,
                              ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	if (!range_ok(offset_blocks, num_blocks)) {
		return -EINVAL;
	}
	memset(g_bdev.data + offset_blocks * g_bdev.block_size, 0, num_blocks * g_bdev.block_size);
	return queue(FTGT_BDEV_IO_TYPE_WRITE_ZEROES, FTGT_BDEV_IO_STATUS_SUCCESS, cb_fn, cb_arg);
}

int
ftgt_bdev_compare_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                         uint64_t offset_blocks, uint64_t num_blocks,
                         ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	bool eq;

	if (!range_ok(offset_blocks, num_blocks)) {
		return -EINVAL;
	}
	eq = memcmp(g_bdev.data + offset_blocks * g_bdev.block_size, buf,
	            num_blocks * g_bdev.block_size) == 0;
	return queue(FTGT_BDEV_IO_TYPE_COMPARE,
	             eq ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_MISCOMPARE, cb_fn,
	             cb_arg);
}

int
ftgt_bdev_comparev_and_writev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                                     struct iovec *compare_iov, int compare_iovcnt,
                                     struct iovec *write_iov, int write_iovcnt,
                                     uint64_t offset_blocks, uint64_t num_blocks,
                                     ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	uint8_t *mem = g_bdev.data + offset_blocks * g_bdev.block_size;
	bool eq;

	if (!range_ok(offset_blocks, num_blocks) || compare_iovcnt != 1 || write_iovcnt != 1) {
		return -EINVAL;
	}
	eq = memcmp(mem, compare_iov[0].iov_base, num_blocks * g_bdev.block_size) == 0;
	if (eq) {
		memcpy(mem, write_iov[0].iov_base, num_blocks * g_bdev.block_size);
	}
	return queue(FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE,
	             eq ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_MISCOMPARE, cb_fn,
	             cb_arg);
}

int
ftgt_bdev_reset(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	return queue(FTGT_BDEV_IO_TYPE_RESET, FTGT_BDEV_IO_STATUS_SUCCESS, cb_fn, cb_arg);
}

void
ftgt_bdev_free_io(struct ftgt_bdev_io *io)
{
	free(io);
}

enum ftgt_bdev_io_status
ftgt_bdev_io_get_status(const struct ftgt_bdev_io *io)
{
	return io->status;
}

void
ftgt_bdev_io_get_scsi_status(const struct ftgt_bdev_io *io, int *sc, int *sk, int *asc, int *ascq)
{
	if (io->status == FTGT_BDEV_IO_STATUS_SUCCESS) {
		*sc = 0;
		*sk = *asc = *ascq = 0;
	} else if (io->status == FTGT_BDEV_IO_STATUS_MISCOMPARE) {
		*sc = 0x02;
		*sk = 0x0e;
		*asc = 0x1d;
		*ascq = 0;
	} else {
		*sc = 0x02;
		*sk = 0x03;
		*asc = 0x11;
		*ascq = 0;
	}
}
