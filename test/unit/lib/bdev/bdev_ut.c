/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the bdev core (lib/bdev) against a fake module "ut" whose I/O can be
 * held and completed by the test, fail with NOMEM on demand, and that records every
 * request it is given. Two hand-polled threads stand for two reactors.
 */
#include <errno.h>
#include <string.h>
#include <sys/queue.h>

#include "bdev_ut_common.h"
#include "../../../../lib/bdev/bdev_internal.h"

/* ---- the fake module --------------------------------------------------------------- */

struct ut_io {
	TAILQ_ENTRY(ut_io) link;
};

struct ut_channel {
	int idx;
	TAILQ_HEAD(, ut_io) held;
	int nheld;
};

struct ut_rec {
	enum ftgt_bdev_io_type type;
	uint64_t offset;
	uint64_t num;
	int iovcnt;
	bool aligned;
};

#define UT_MAX_REC 512
struct ut_disk {
	struct ftgt_bdev disk;
	uint8_t *data;
	bool hold;      /* keep I/O until the test completes it */
	int nomem_left; /* answer NOMEM this many more times */
	bool abort_ok;  /* supports ABORT */
	bool reset_ok;  /* supports RESET */
	bool wz_ok;     /* supports WRITE_ZEROES */
	bool destructed;
	struct ut_rec rec[UT_MAX_REC];
	int nrec;
};

static struct ut_channel *g_ut_ch[UT_NTHREADS];
static struct ftgt_bdev_module g_ut_module;

static int
ut_thread_idx(void)
{
	for (int i = 0; i < UT_NTHREADS; i++) {
		if (g_ut_threads[i] == ftgt_get_thread()) {
			return i;
		}
	}
	return -1;
}

static int
ut_ch_create(void *dev, void *ctx)
{
	struct ut_channel *ch = ctx;

	ch->idx = ut_thread_idx();
	TAILQ_INIT(&ch->held);
	ch->nheld = 0;
	g_ut_ch[ch->idx] = ch;
	return 0;
}

static void
ut_ch_destroy(void *dev, void *ctx)
{
	struct ut_channel *ch = ctx;

	CU_ASSERT(ch->nheld == 0);
	g_ut_ch[ch->idx] = NULL;
}

static int
ut_destruct(void *ctxt)
{
	struct ut_disk *d = ctxt;

	ftgt_io_device_unregister(d, NULL);
	d->destructed = true;
	return 0;
}

static void
ut_do_data(struct ut_disk *d, struct ftgt_bdev_io *io)
{
	uint64_t off = io->u.bdev.offset_blocks * d->disk.blocklen;
	uint64_t len = io->u.bdev.num_blocks * d->disk.blocklen;

	switch (io->type) {
	case FTGT_BDEV_IO_TYPE_READ:
		ftgt_iovec_from_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, d->data + off, len);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE:
		ftgt_iovec_to_buf(io->u.bdev.iovs, io->u.bdev.iovcnt, d->data + off, len);
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
	case FTGT_BDEV_IO_TYPE_UNMAP:
		memset(d->data + off, 0, len);
		break;
	default:
		break;
	}
}

static void
ut_submit(struct ftgt_io_channel *_ch, struct ftgt_bdev_io *io)
{
	struct ut_disk *d = io->bdev->ctxt;
	struct ut_channel *ch = ftgt_io_channel_get_ctx(_ch);
	struct ut_io *u = ftgt_bdev_io_get_driver_ctx(io);
	bool aligned = true;

	if (d->nomem_left > 0) {
		d->nomem_left--;
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_NOMEM);
		return;
	}
	if (d->nrec < UT_MAX_REC) {
		if (io->type == FTGT_BDEV_IO_TYPE_READ || io->type == FTGT_BDEV_IO_TYPE_WRITE) {
			for (int i = 0; i < io->u.bdev.iovcnt; i++) {
				if ((uintptr_t)io->u.bdev.iovs[i].iov_base % 4096 != 0) {
					aligned = false;
				}
			}
		}
		d->rec[d->nrec++] =
		        (struct ut_rec){io->type, io->u.bdev.offset_blocks, io->u.bdev.num_blocks,
		                        io->u.bdev.iovcnt, aligned};
	}
	if (io->type == FTGT_BDEV_IO_TYPE_ABORT) {
		/* Abort a held I/O of this channel. */
		struct ut_io *t = ftgt_bdev_io_get_driver_ctx(io->u.abort.bio_to_abort);
		struct ut_io *h;

		TAILQ_FOREACH (h, &ch->held, link) {
			if (h == t) {
				TAILQ_REMOVE(&ch->held, h, link);
				ch->nheld--;
				ftgt_bdev_io_complete(io->u.abort.bio_to_abort,
				                      FTGT_BDEV_IO_STATUS_ABORTED);
				ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
				return;
			}
		}
		ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	}
	ut_do_data(d, io);
	if (d->hold) {
		TAILQ_INSERT_TAIL(&ch->held, u, link);
		ch->nheld++;
		return;
	}
	ftgt_bdev_io_complete(io, FTGT_BDEV_IO_STATUS_SUCCESS);
}

/* Complete up to n held I/Os of thread idx's channel with status. */
static int
ut_complete_held(int idx, int n, enum ftgt_bdev_io_status status)
{
	struct ut_channel *ch = g_ut_ch[idx];
	struct ut_io *u;
	int done = 0;

	if (ch == NULL) {
		return 0;
	}
	ftgt_set_thread(g_ut_threads[idx]);
	while (done < n && (u = TAILQ_FIRST(&ch->held)) != NULL) {
		TAILQ_REMOVE(&ch->held, u, link);
		ch->nheld--;
		ftgt_bdev_io_complete(ftgt_bdev_io_from_driver_ctx(u), status);
		done++;
	}
	ftgt_set_thread(g_ut_threads[0]);
	return done;
}

static bool
ut_io_type_supported(void *ctxt, enum ftgt_bdev_io_type type)
{
	struct ut_disk *d = ctxt;

	switch (type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
	case FTGT_BDEV_IO_TYPE_UNMAP:
	case FTGT_BDEV_IO_TYPE_FLUSH:
		return true;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		return d->wz_ok;
	case FTGT_BDEV_IO_TYPE_ABORT:
		return d->abort_ok;
	case FTGT_BDEV_IO_TYPE_RESET:
		return d->reset_ok;
	default:
		return false;
	}
}

static struct ftgt_io_channel *
ut_get_io_channel(void *ctxt)
{
	return ftgt_get_io_channel(ctxt);
}

static const struct ftgt_bdev_fn_table g_ut_fn = {
        .destruct = ut_destruct,
        .submit_request = ut_submit,
        .io_type_supported = ut_io_type_supported,
        .get_io_channel = ut_get_io_channel,
};

static int
ut_get_ctx_size(void)
{
	return sizeof(struct ut_io);
}

static struct ftgt_bdev_module g_ut_module = {
        .name = "ut",
        .get_ctx_size = ut_get_ctx_size,
};
FTGT_BDEV_MODULE_REGISTER(ut, &g_ut_module)

#define UT_BLOCKS 1024
static struct ut_disk *
ut_disk_create(const char *name)
{
	struct ut_disk *d = calloc(1, sizeof(*d));

	d->data = calloc(UT_BLOCKS, 512);
	d->disk.name = (char *)name;
	d->disk.product_name = "ut disk";
	d->disk.ctxt = d;
	d->disk.blocklen = 512;
	d->disk.blockcnt = UT_BLOCKS;
	d->disk.acwu = 8;
	d->disk.fn_table = &g_ut_fn;
	d->disk.module = &g_ut_module;
	ftgt_io_device_register(d, ut_ch_create, ut_ch_destroy, sizeof(struct ut_channel), name);
	CU_ASSERT_FATAL(ftgt_bdev_register(&d->disk) == 0);
	return d;
}

static int g_unreg_rc = 1;
static void
ut_unreg_cb(void *arg, int rc)
{
	g_unreg_rc = rc;
}

static void
ut_disk_delete(struct ut_disk *d)
{
	g_unreg_rc = 1;
	ftgt_bdev_unregister(&d->disk, ut_unreg_cb, NULL);
	ut_poll();
	CU_ASSERT(g_unreg_rc == 0);
	CU_ASSERT(d->destructed);
	free(d->data);
	free(d);
}

/* ---- front-end helpers ------------------------------------------------------------- */

static int g_events[2];
static void
ut_event_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	g_events[type]++;
}

struct ut_cpl {
	int count;
	bool success;
	enum ftgt_bdev_io_status status;
};

static void
ut_io_done(struct ftgt_bdev_io *io, bool success, void *arg)
{
	struct ut_cpl *c = arg;

	c->count++;
	c->success = success;
	c->status = ftgt_bdev_io_get_status(io);
	ftgt_bdev_free_io(io);
}

static void
ut_stat_done(void *arg, int status)
{
	*(int *)arg = 1;
}

/* ---- tests ------------------------------------------------------------------------- */

static void
test_check_params(void)
{
	char err[256];
	struct ut_disk *d;

	CU_ASSERT(ftgt_bdev_check_params("x", 1000, 0, false, 10, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "block size 1000") != NULL);
	CU_ASSERT(ftgt_bdev_check_params("x", 512, 0, false, 0, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "number of blocks") != NULL);
	CU_ASSERT(ftgt_bdev_check_params("", 512, 0, false, 1, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(ftgt_bdev_check_params("x", 520, 8, true, 1, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_check_params("x", 4104, 8, true, 1, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_check_params("x", 4096, 0, false, 1, err, sizeof(err)) == 0);
	d = ut_disk_create("ut_params");
	CU_ASSERT(ftgt_bdev_check_params("ut_params", 512, 0, false, 1, err, sizeof(err)) ==
	          -EEXIST);
	CU_ASSERT(ftgt_bdev_get_by_name("ut_params") == &d->disk);
	CU_ASSERT(ftgt_bdev_alias_add(&d->disk, "ut_alias") == 0);
	CU_ASSERT(ftgt_bdev_alias_add(&d->disk, "ut_params") == -EEXIST);
	CU_ASSERT(ftgt_bdev_get_by_name("ut_alias") == &d->disk);
	CU_ASSERT(!ftgt_uuid_is_null(ftgt_bdev_get_uuid(&d->disk)));
	/* A second bdev with the same name is refused and nothing stays registered. */
	{
		struct ut_disk d2 = {0};

		d2.disk = d->disk;
		d2.disk.internal = NULL;
		CU_ASSERT(ftgt_bdev_register(&d2.disk) == -EEXIST);
		CU_ASSERT(ftgt_bdev_get_by_name("ut_params") == &d->disk);
	}
	ut_disk_delete(d);
	CU_ASSERT(ftgt_bdev_get_by_name("ut_params") == NULL);
	CU_ASSERT(ftgt_bdev_get_by_name("ut_alias") == NULL);
}

static void
test_rw_basic_and_errors(void)
{
	struct ut_disk *d = ut_disk_create("ut_rw");
	struct ftgt_bdev_desc *desc, *rodesc;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0};
	uint8_t buf[1024], rbuf[1024];

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_rw", true, ut_event_cb, NULL, &desc) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_rw", false, ut_event_cb, NULL, &rodesc) == 0);
	CU_ASSERT(ftgt_bdev_open_ext("nope", false, ut_event_cb, NULL, &rodesc) == -ENODEV);
	ch = ftgt_bdev_get_io_channel(desc);
	CU_ASSERT_FATAL(ch != NULL);
	memset(buf, 0xa5, sizeof(buf));
	CU_ASSERT(ftgt_bdev_write_blocks(desc, ch, buf, 10, 2, ut_io_done, &c) == 0);
	/* Never inside the submit call. */
	CU_ASSERT(c.count == 0);
	ut_poll();
	CU_ASSERT(c.count == 1 && c.success);
	CU_ASSERT(ftgt_bdev_read(desc, ch, rbuf, 10 * 512, 1024, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && c.success);
	CU_ASSERT(memcmp(buf, rbuf, sizeof(buf)) == 0);
	/* Errors at submission: range, length, read-only descriptor. */
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, rbuf, UT_BLOCKS - 1, 2, ut_io_done, &c) ==
	          -EINVAL);
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, rbuf, 0, 0, ut_io_done, &c) == -EINVAL);
	CU_ASSERT(ftgt_bdev_read(desc, ch, rbuf, 100, 512, ut_io_done, &c) == -EINVAL);
	CU_ASSERT(ftgt_bdev_write_blocks(rodesc, ch, buf, 0, 1, ut_io_done, &c) == -EBADF);
	/* A failed I/O is reported as failed. */
	d->hold = true;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, rbuf, 0, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(ut_complete_held(0, 1, FTGT_BDEV_IO_STATUS_FAILED) == 1);
	ut_poll();
	CU_ASSERT(c.count == 3 && !c.success && c.status == FTGT_BDEV_IO_STATUS_FAILED);
	d->hold = false;
	/* Flush and unmap reach the module. */
	d->nrec = 0;
	CU_ASSERT(ftgt_bdev_flush_blocks(desc, ch, 0, UT_BLOCKS, ut_io_done, &c) == 0);
	CU_ASSERT(ftgt_bdev_unmap_blocks(desc, ch, 0, 4, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 5 && c.success);
	CU_ASSERT(d->nrec == 2 && d->rec[0].type == FTGT_BDEV_IO_TYPE_FLUSH &&
	          d->rec[1].type == FTGT_BDEV_IO_TYPE_UNMAP);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(rodesc);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static void
test_split(void)
{
	struct ut_disk *d;
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0};
	static uint8_t buf[64 * 512];
	struct iovec iov[3];
	uint64_t expect_off;
	int i;

	d = ut_disk_create("ut_split");
	/* Registered fields may not change afterwards; this test sets them before any I/O. */
	d->disk.optimal_io_boundary = 8;
	d->disk.split_on_optimal_io_boundary = true;
	d->disk.max_rw_size = 4;
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_split", true, ut_event_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	for (i = 0; i < 40 * 512; i++) {
		buf[i] = (uint8_t)(i / 512);
	}
	/* 3 iovecs of uneven sizes: 1.5 blocks, 20.5 blocks, 18 blocks = 40 blocks. */
	iov[0] = (struct iovec){buf, 768};
	iov[1] = (struct iovec){buf + 768, 20 * 512 + 256};
	iov[2] = (struct iovec){buf + 22 * 512, 18 * 512};
	d->nrec = 0;
	CU_ASSERT(ftgt_bdev_writev_blocks(desc, ch, iov, 3, 6, 40, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 1 && c.success);
	/* Children: never crossing a multiple of 8, never longer than 4, covering 6..46. */
	expect_off = 6;
	for (i = 0; i < d->nrec; i++) {
		CU_ASSERT(d->rec[i].type == FTGT_BDEV_IO_TYPE_WRITE);
		CU_ASSERT(d->rec[i].offset == expect_off);
		CU_ASSERT(d->rec[i].num <= 4);
		CU_ASSERT(d->rec[i].offset / 8 == (d->rec[i].offset + d->rec[i].num - 1) / 8);
		expect_off += d->rec[i].num;
	}
	CU_ASSERT(expect_off == 46);
	CU_ASSERT(d->rec[0].num == 2); /* 6..8 */
	/* The data landed where it belongs. */
	for (i = 0; i < 40; i++) {
		CU_ASSERT(d->data[(6 + i) * 512] == (uint8_t)i);
		CU_ASSERT(d->data[(6 + i) * 512 + 511] == (uint8_t)i);
	}
	/* Reading back through the split path gives the same bytes. */
	memset(buf + 40 * 512, 0, 24 * 512);
	{
		static uint8_t rbuf[40 * 512];

		CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, rbuf, 6, 40, ut_io_done, &c) == 0);
		ut_poll();
		CU_ASSERT(c.count == 2 && c.success);
		CU_ASSERT(memcmp(rbuf, buf, sizeof(rbuf)) == 0);
	}
	/* A child failure fails the parent, once. */
	d->hold = true;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, buf, 0, 16, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(ut_complete_held(0, 1, FTGT_BDEV_IO_STATUS_FAILED) == 1);
	while (ut_complete_held(0, 64, FTGT_BDEV_IO_STATUS_SUCCESS) > 0) {
		ut_poll();
	}
	ut_poll();
	CU_ASSERT(c.count == 3 && !c.success);
	d->hold = false;
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static void
test_nomem_module(void)
{
	struct ut_disk *d = ut_disk_create("ut_nomem");
	struct ftgt_bdev_io_stat st;
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0};
	uint8_t buf[512];
	int stat_done = 0;

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_nomem", true, ut_event_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	/* Nothing in flight: the retry comes from a timer. */
	d->nomem_left = 3;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, buf, 0, 1, ut_io_done, &c) == 0);
	for (int i = 0; i < 200 && c.count == 0; i++) {
		ut_poll();
		ftgt_delay_us(50);
	}
	CU_ASSERT(c.count == 1 && c.success);
	CU_ASSERT(d->nomem_left == 0);
	/* With I/O in flight: the retry follows a completion. */
	d->hold = true;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, buf, 0, 1, ut_io_done, &c) == 0);
	ut_poll();
	d->nomem_left = 1;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, buf, 1, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(g_ut_ch[0]->nheld == 1);
	CU_ASSERT(ut_complete_held(0, 1, FTGT_BDEV_IO_STATUS_SUCCESS) == 1);
	ut_poll();
	CU_ASSERT(c.count == 2);
	CU_ASSERT(g_ut_ch[0]->nheld == 1); /* the retried one reached the module */
	CU_ASSERT(ut_complete_held(0, 1, FTGT_BDEV_IO_STATUS_SUCCESS) == 1);
	ut_poll();
	CU_ASSERT(c.count == 3 && c.success);
	d->hold = false;
	memset(&st, 0, sizeof(st));
	CU_ASSERT(ftgt_bdev_get_io_stat(&d->disk, &st, ut_stat_done, &stat_done) == 0);
	ut_poll();
	CU_ASSERT(stat_done == 1);
	CU_ASSERT(st.nomem_retries >= 4);
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_READ].ops == 3);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

/* The pool is small in this program (see main): exhaust it and wait. */
static int g_wait_called;
static void
ut_wait_cb(void *arg)
{
	g_wait_called++;
}

static void
test_pool_exhaustion(void)
{
	struct ut_disk *d = ut_disk_create("ut_pool");
	struct ftgt_bdev_io_wait_entry w;
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0};
	uint8_t buf[512];
	int n = 0, rc;

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_pool", true, ut_event_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	d->hold = true;
	while ((rc = ftgt_bdev_read_blocks(desc, ch, buf, 0, 1, ut_io_done, &c)) == 0 &&
	       n < 10000) {
		n++;
	}
	CU_ASSERT(rc == -ENOMEM);
	CU_ASSERT(n > 0 && n < 10000);
	w.bdev = &d->disk;
	w.cb_fn = ut_wait_cb;
	w.cb_arg = NULL;
	g_wait_called = 0;
	CU_ASSERT(ftgt_bdev_queue_io_wait(&d->disk, ch, &w) == 0);
	ut_poll();
	CU_ASSERT(g_wait_called == 0);
	CU_ASSERT(ut_complete_held(0, 1, FTGT_BDEV_IO_STATUS_SUCCESS) == 1);
	ut_poll();
	CU_ASSERT(g_wait_called == 1);
	while (ut_complete_held(0, 1000, FTGT_BDEV_IO_STATUS_SUCCESS) > 0) {
		ut_poll();
	}
	CU_ASSERT(c.count == n);
	d->hold = false;
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static uint64_t g_fake_ticks;
static uint64_t
ut_fake_ticks(void)
{
	return g_fake_ticks;
}

static void
ut_op_done(void *arg, int status)
{
	int *p = arg;

	*p = status == 0 ? 1 : -1;
}

static void
test_qos_pacing(void)
{
	struct ut_disk *d = ut_disk_create("ut_qos");
	uint64_t limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES] = {10000, 0, 0, 0};
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch0, *ch1;
	struct ut_cpl c0 = {0}, c1 = {0};
	uint64_t ms = ftgt_get_ticks_hz() / 1000;
	uint8_t buf[512];
	int done = 0, i;

	g_fake_ticks = 1000 * ms;
	g_ut_now = g_fake_ticks;
	bdev_set_clock(ut_fake_ticks);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_qos", true, ut_event_cb, NULL, &desc) == 0);
	ch0 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[1]);
	ch1 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[0]);
	CU_ASSERT(ftgt_bdev_set_qos_rate_limits(&d->disk, limits, ut_op_done, &done) == 0);
	ut_poll();
	CU_ASSERT(done == 1);
	/* 10,000 IOPS = 10 per 1 ms slice, shared by both threads. */
	for (i = 0; i < 30; i++) {
		CU_ASSERT(ftgt_bdev_read_blocks(desc, ch0, buf, 0, 1, ut_io_done, &c0) == 0);
	}
	ftgt_set_thread(g_ut_threads[1]);
	for (i = 0; i < 30; i++) {
		CU_ASSERT(ftgt_bdev_read_blocks(desc, ch1, buf, 0, 1, ut_io_done, &c1) == 0);
	}
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	CU_ASSERT(c0.count + c1.count == 10);
	for (i = 1; i <= 5; i++) {
		g_fake_ticks += ms;
		g_ut_now = g_fake_ticks;
		ut_poll();
		CU_ASSERT(c0.count + c1.count == 10 + 10 * i);
	}
	CU_ASSERT(c0.count == 30 && c1.count == 30);
	/* Removing the limit lets everything through at once. */
	limits[0] = 0;
	done = 0;
	CU_ASSERT(ftgt_bdev_set_qos_rate_limits(&d->disk, limits, ut_op_done, &done) == 0);
	ut_poll();
	CU_ASSERT(done == 1);
	for (i = 0; i < 50; i++) {
		CU_ASSERT(ftgt_bdev_read_blocks(desc, ch0, buf, 0, 1, ut_io_done, &c0) == 0);
	}
	ut_poll();
	CU_ASSERT(c0.count == 80);
	/* Read bandwidth: 5 KiB per slice = 10 blocks of 512; writes are not limited by it. */
	limits[FTGT_BDEV_QOS_R_BPS_RATE_LIMIT] = 5120 * 1000;
	done = 0;
	CU_ASSERT(ftgt_bdev_set_qos_rate_limits(&d->disk, limits, ut_op_done, &done) == 0);
	ut_poll();
	CU_ASSERT(done == 1);
	memset(&c0, 0, sizeof(c0));
	memset(&c1, 0, sizeof(c1));
	for (i = 0; i < 25; i++) {
		CU_ASSERT(ftgt_bdev_read_blocks(desc, ch0, buf, 0, 1, ut_io_done, &c0) == 0);
		CU_ASSERT(ftgt_bdev_write_blocks(desc, ch0, buf, 0, 1, ut_io_done, &c1) == 0);
	}
	ut_poll();
	CU_ASSERT(c0.count == 10);
	CU_ASSERT(c1.count == 25);
	g_fake_ticks += ms;
	g_ut_now = g_fake_ticks;
	ut_poll();
	CU_ASSERT(c0.count == 20);
	g_fake_ticks += ms;
	g_ut_now = g_fake_ticks;
	ut_poll();
	CU_ASSERT(c0.count == 25);
	ftgt_put_io_channel(ch0);
	ftgt_set_thread(g_ut_threads[1]);
	ftgt_put_io_channel(ch1);
	ftgt_set_thread(g_ut_threads[0]);
	ftgt_bdev_close(desc);
	ut_poll();
	bdev_set_clock(NULL);
	g_ut_now = 0;
	/* Deleting a bdev with QoS on stops QoS and completes. */
	ut_disk_delete(d);
}

static void
test_claims(void)
{
	struct ut_disk *d = ut_disk_create("ut_claim");
	struct ftgt_bdev_module other = {.name = "stacker"};
	struct ftgt_bdev_desc *desc, *d2;
	char err[256];

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_claim", false, ut_event_cb, NULL, &desc) == 0);
	/* Open: an RPC delete is refused. */
	CU_ASSERT(ftgt_bdev_unregister_by_name("ut_claim", &g_ut_module, NULL, NULL, err,
	                                       sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "open by 1 descriptor") != NULL);
	CU_ASSERT(ftgt_bdev_module_claim_bdev(&d->disk, desc, &other) == 0);
	CU_ASSERT(ftgt_bdev_module_claim_bdev(&d->disk, desc, &other) == -EPERM);
	CU_ASSERT(ftgt_bdev_claim(desc, "nvmf") == -EPERM);
	CU_ASSERT(ftgt_bdev_open_ext("ut_claim", true, ut_event_cb, NULL, &d2) == -EPERM);
	CU_ASSERT(ftgt_bdev_open_ext("ut_claim", false, ut_event_cb, NULL, &d2) == 0);
	CU_ASSERT(ftgt_bdev_check_delete(&d->disk, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strcmp(err, "bdev 'ut_claim' is claimed by module 'stacker'") == 0);
	CU_ASSERT(ftgt_bdev_unregister_by_name("ut_claim", &g_ut_module, NULL, NULL, err,
	                                       sizeof(err)) == -EBUSY);
	CU_ASSERT(ftgt_bdev_first_leaf() != &d->disk);
	/* Wrong module and unknown name. */
	CU_ASSERT(ftgt_bdev_unregister_by_name("ut_claim", &other, NULL, NULL, err, sizeof(err)) ==
	          -EINVAL);
	CU_ASSERT(strstr(err, "is a ut bdev, not a stacker bdev") != NULL);
	CU_ASSERT(ftgt_bdev_unregister_by_name("nope", NULL, NULL, NULL, err, sizeof(err)) ==
	          -ENODEV);
	/* Closing the claimer's descriptor releases the claim. */
	ftgt_bdev_close(desc);
	CU_ASSERT(ftgt_bdev_get_claim_owner(&d->disk) == NULL);
	ftgt_bdev_close(d2);
	ut_poll();
	CU_ASSERT(ftgt_bdev_check_delete(&d->disk, err, sizeof(err)) == 0);
	g_unreg_rc = 1;
	CU_ASSERT(ftgt_bdev_unregister_by_name("ut_claim", &g_ut_module, ut_unreg_cb, NULL, err,
	                                       sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_unreg_rc == 0 && d->destructed);
	free(d->data);
	free(d);
}

struct hr_holder {
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	int removed;
};

static void
hr_event_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	struct hr_holder *h = ctx;

	if (type == FTGT_BDEV_EVENT_REMOVE) {
		h->removed++;
	}
}

static void
test_hot_remove_inflight(void)
{
	struct ut_disk *d = ut_disk_create("ut_hr");
	struct hr_holder h = {0};
	struct ut_cpl c = {0}, cq = {0};
	uint8_t buf[8][512];
	int i;

	/* The holder lives on thread 1. */
	ftgt_set_thread(g_ut_threads[1]);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_hr", true, hr_event_cb, &h, &h.desc) == 0);
	h.ch = ftgt_bdev_get_io_channel(h.desc);
	d->hold = true;
	for (i = 0; i < 4; i++) {
		CU_ASSERT(ftgt_bdev_read_blocks(h.desc, h.ch, buf[i], i, 1, ut_io_done, &c) == 0);
	}
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	CU_ASSERT(g_ut_ch[1]->nheld == 4);
	/* One more waits in the core's NOMEM queue. */
	d->nomem_left = 1;
	ftgt_set_thread(g_ut_threads[1]);
	CU_ASSERT(ftgt_bdev_read_blocks(h.desc, h.ch, buf[4], 4, 1, ut_io_done, &cq) == 0);
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	/* The back end disappears. */
	g_unreg_rc = 1;
	ftgt_bdev_unregister(&d->disk, ut_unreg_cb, NULL);
	ut_poll();
	CU_ASSERT(h.removed == 1);
	CU_ASSERT(ftgt_bdev_get_io_channel(h.desc) == NULL);
	/* Queued in the core: failed (aborted) exactly once. */
	CU_ASSERT(cq.count == 1 && !cq.success && cq.status == FTGT_BDEV_IO_STATUS_ABORTED);
	/* New I/O is refused. */
	ftgt_set_thread(g_ut_threads[1]);
	CU_ASSERT(ftgt_bdev_read_blocks(h.desc, h.ch, buf[5], 5, 1, ut_io_done, &c) == -ENODEV);
	ftgt_set_thread(g_ut_threads[0]);
	/* Not destructed while held. */
	CU_ASSERT(!d->destructed && g_unreg_rc == 1);
	/* The module finishes (or fails) what it has: each completes once. */
	CU_ASSERT(ut_complete_held(1, 2, FTGT_BDEV_IO_STATUS_SUCCESS) == 2);
	CU_ASSERT(ut_complete_held(1, 2, FTGT_BDEV_IO_STATUS_FAILED) == 2);
	ut_poll();
	CU_ASSERT(c.count == 4);
	CU_ASSERT(cq.count == 1);
	ftgt_set_thread(g_ut_threads[1]);
	ftgt_put_io_channel(h.ch);
	ftgt_bdev_close(h.desc);
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	CU_ASSERT(d->destructed && g_unreg_rc == 0);
	CU_ASSERT(ftgt_bdev_get_by_name("ut_hr") == NULL);
	CU_ASSERT(h.removed == 1);
	free(d->data);
	free(d);
}

static void
test_stats_sum(void)
{
	struct ut_disk *d = ut_disk_create("ut_stat");
	struct ftgt_histogram hist[FTGT_BDEV_NUM_IO_TYPES];
	struct ftgt_bdev_io_stat st;
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch0, *ch1;
	struct ut_cpl c = {0};
	uint8_t buf[4096];
	int done = 0, i;

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_stat", true, ut_event_cb, NULL, &desc) == 0);
	CU_ASSERT(ftgt_bdev_histogram_enable(&d->disk, true, ut_op_done, &done) == 0);
	ut_poll();
	CU_ASSERT(done == 1);
	ch0 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[1]);
	ch1 = ftgt_bdev_get_io_channel(desc);
	for (i = 0; i < 5; i++) {
		CU_ASSERT(ftgt_bdev_write_blocks(desc, ch1, buf, 0, 8, ut_io_done, &c) == 0);
	}
	ftgt_set_thread(g_ut_threads[0]);
	for (i = 0; i < 3; i++) {
		CU_ASSERT(ftgt_bdev_read_blocks(desc, ch0, buf, 0, 2, ut_io_done, &c) == 0);
	}
	d->hold = true;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch0, buf, 0, 1, ut_io_done, &c) == 0);
	ut_poll();
	ut_complete_held(0, 1, FTGT_BDEV_IO_STATUS_FAILED);
	d->hold = false;
	ut_poll();
	done = 0;
	CU_ASSERT(ftgt_bdev_get_io_stat(&d->disk, &st, ut_stat_done, &done) == 0);
	ut_poll();
	CU_ASSERT(done == 1);
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_WRITE].ops == 5);
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_WRITE].bytes == 5 * 8 * 512);
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_READ].ops == 3);
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_READ].bytes == 3 * 2 * 512);
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_READ].errors == 1);
	for (i = 0; i < FTGT_BDEV_NUM_IO_TYPES; i++) {
		ftgt_histogram_init(&hist[i]);
	}
	done = 0;
	CU_ASSERT(ftgt_bdev_histogram_get(&d->disk, hist, ut_stat_done, &done) == 0);
	ut_poll();
	CU_ASSERT(done == 1);
	CU_ASSERT(hist[FTGT_BDEV_IO_TYPE_WRITE].count == 5);
	CU_ASSERT(hist[FTGT_BDEV_IO_TYPE_READ].count == 4);
	/* A channel that goes keeps its counts in the bdev. */
	ftgt_set_thread(g_ut_threads[1]);
	ftgt_put_io_channel(ch1);
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	done = 0;
	CU_ASSERT(ftgt_bdev_get_io_stat(&d->disk, &st, ut_stat_done, &done) == 0);
	ut_poll();
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_WRITE].ops == 5);
	done = 0;
	CU_ASSERT(ftgt_bdev_reset_io_stat(&d->disk, ut_stat_done, &done) == 0);
	ut_poll();
	CU_ASSERT(ftgt_bdev_get_io_stat(&d->disk, &st, ut_stat_done, &done) == 0);
	ut_poll();
	CU_ASSERT(st.type[FTGT_BDEV_IO_TYPE_WRITE].ops == 0);
	ftgt_put_io_channel(ch0);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static void
test_compare_and_write(void)
{
	struct ut_disk *d = ut_disk_create("ut_caw");
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch0, *ch1;
	struct ut_cpl c = {0}, cw = {0}, c2 = {0};
	uint8_t cmp[1024], wr[1024], other[512];
	struct iovec ciov = {cmp, 1024}, wiov = {wr, 1024};
	int i;

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_caw", true, ut_event_cb, NULL, &desc) == 0);
	ch0 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[1]);
	ch1 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[0]);
	memset(d->data + 100 * 512, 0x11, 1024);
	memset(cmp, 0x11, sizeof(cmp));
	memset(wr, 0x22, sizeof(wr));
	/* Equal: written. */
	CU_ASSERT(ftgt_bdev_comparev_and_writev_blocks(desc, ch0, &ciov, 1, &wiov, 1, 100, 2,
	                                               ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 1 && c.success);
	CU_ASSERT(d->data[100 * 512] == 0x22 && d->data[102 * 512 - 1] == 0x22);
	/* Different now: miscompare, nothing written. */
	memset(wr, 0x33, sizeof(wr));
	CU_ASSERT(ftgt_bdev_comparev_and_writev_blocks(desc, ch0, &ciov, 1, &wiov, 1, 100, 2,
	                                               ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && !c.success && c.status == FTGT_BDEV_IO_STATUS_MISCOMPARE);
	CU_ASSERT(d->data[100 * 512] == 0x22);
	/* Too long for the atomic unit. */
	CU_ASSERT(ftgt_bdev_comparev_and_writev_blocks(desc, ch0, &ciov, 1, &wiov, 1, 0, 9,
	                                               ut_io_done, &c) == -EINVAL);
	/*
	 * Atomicity: hold the compare's read at the module; a write to the range from the
	 * other thread must not reach the module until the compare-and-write is done.
	 */
	memset(cmp, 0x22, sizeof(cmp));
	d->hold = true;
	d->nrec = 0;
	CU_ASSERT(ftgt_bdev_comparev_and_writev_blocks(desc, ch0, &ciov, 1, &wiov, 1, 100, 2,
	                                               ut_io_done, &cw) == 0);
	ut_poll();
	CU_ASSERT(g_ut_ch[0]->nheld == 1); /* the compare read */
	memset(other, 0x44, sizeof(other));
	ftgt_set_thread(g_ut_threads[1]);
	CU_ASSERT(ftgt_bdev_write_blocks(desc, ch1, other, 101, 1, ut_io_done, &c2) == 0);
	/* A write elsewhere is not held back. */
	CU_ASSERT(ftgt_bdev_write_blocks(desc, ch1, other, 500, 1, ut_io_done, &c2) == 0);
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	CU_ASSERT(g_ut_ch[1] == NULL || g_ut_ch[1]->nheld == 1);
	for (i = 0; i < d->nrec; i++) {
		CU_ASSERT(!(d->rec[i].type == FTGT_BDEV_IO_TYPE_WRITE && d->rec[i].offset == 101));
	}
	/* Let the compare finish, then the caw's write. */
	for (i = 0; i < 10; i++) {
		ut_complete_held(0, 10, FTGT_BDEV_IO_STATUS_SUCCESS);
		ut_poll();
	}
	CU_ASSERT(cw.count == 1 && cw.success);
	/* The waiting write went after the caw's write: its data wins. */
	while (ut_complete_held(1, 10, FTGT_BDEV_IO_STATUS_SUCCESS) > 0) {
		ut_poll();
	}
	ut_poll();
	CU_ASSERT(c2.count == 2);
	CU_ASSERT(d->data[100 * 512] == 0x33);
	CU_ASSERT(d->data[101 * 512] == 0x44);
	d->hold = false;
	/* Compare alone (emulated with a read). */
	memset(cmp, 0x33, 512);
	CU_ASSERT(ftgt_bdev_compare_blocks(desc, ch0, cmp, 100, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 3 && c.success);
	CU_ASSERT(ftgt_bdev_compare_blocks(desc, ch0, cmp, 101, 1, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 4 && c.status == FTGT_BDEV_IO_STATUS_MISCOMPARE);
	ftgt_put_io_channel(ch0);
	ftgt_set_thread(g_ut_threads[1]);
	ftgt_put_io_channel(ch1);
	ftgt_set_thread(g_ut_threads[0]);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static void
test_reset_waits(void)
{
	struct ut_disk *d = ut_disk_create("ut_reset");
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch0, *ch1;
	struct ut_cpl c = {0}, cr = {0}, cn = {0};
	uint8_t buf[512];
	int i;

	d->reset_ok = true;
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_reset", true, ut_event_cb, NULL, &desc) == 0);
	ch0 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[1]);
	ch1 = ftgt_bdev_get_io_channel(desc);
	d->hold = true;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch1, buf, 0, 1, ut_io_done, &c) == 0);
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	d->hold = false;
	CU_ASSERT(ftgt_bdev_reset(desc, ch0, ut_io_done, &cr) == 0);
	for (i = 0; i < 20; i++) {
		ut_poll();
		ftgt_delay_us(150);
	}
	/* In-flight I/O on the other thread holds the reset back. */
	CU_ASSERT(cr.count == 0);
	/* New I/O is held while the reset runs. */
	d->nrec = 0;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch0, buf, 1, 1, ut_io_done, &cn) == 0);
	ut_poll();
	CU_ASSERT(cn.count == 0 && d->nrec == 0);
	CU_ASSERT(ut_complete_held(1, 1, FTGT_BDEV_IO_STATUS_SUCCESS) == 1);
	for (i = 0; i < 20 && cr.count == 0; i++) {
		ut_poll();
		ftgt_delay_us(150);
	}
	ut_poll();
	CU_ASSERT(c.count == 1);
	CU_ASSERT(cr.count == 1 && cr.success);
	CU_ASSERT(cn.count == 1 && cn.success);
	CU_ASSERT(d->nrec == 2 && d->rec[0].type == FTGT_BDEV_IO_TYPE_RESET);
	ftgt_put_io_channel(ch0);
	ftgt_set_thread(g_ut_threads[1]);
	ftgt_put_io_channel(ch1);
	ftgt_set_thread(g_ut_threads[0]);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static void
test_abort(void)
{
	struct ut_disk *d = ut_disk_create("ut_abort");
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ut_cpl c1 = {0}, c2 = {0}, ca = {0};
	uint8_t buf[512];

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_abort", true, ut_event_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	CU_ASSERT(ftgt_bdev_abort(desc, ch, &c1, ut_io_done, &ca) == -ENOENT);
	/* One at the module (module supports abort), one in the NOMEM queue. */
	d->abort_ok = true;
	d->hold = true;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, buf, 0, 1, ut_io_done, &c1) == 0);
	ut_poll();
	d->nomem_left = 1;
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, buf, 1, 1, ut_io_done, &c2) == 0);
	ut_poll();
	CU_ASSERT(ftgt_bdev_abort(desc, ch, &c2, ut_io_done, &ca) == 0);
	CU_ASSERT(c2.count == 0 && ca.count == 0);
	ut_poll();
	CU_ASSERT(c2.count == 1 && c2.status == FTGT_BDEV_IO_STATUS_ABORTED);
	CU_ASSERT(ca.count == 1 && ca.success);
	CU_ASSERT(ftgt_bdev_abort(desc, ch, &c1, ut_io_done, &ca) == 0);
	ut_poll();
	CU_ASSERT(c1.count == 1 && c1.status == FTGT_BDEV_IO_STATUS_ABORTED);
	CU_ASSERT(ca.count == 2 && ca.success);
	CU_ASSERT(g_ut_ch[0]->nheld == 0);
	d->hold = false;
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static void
test_write_zeroes_emulated_and_bounce(void)
{
	struct ut_disk *d = ut_disk_create("ut_wz");
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0};
	static uint8_t raw[8192 + 64];
	uint8_t *mis = raw + 8; /* not 4 KiB aligned */
	int i;

	d->disk.required_alignment = 12;
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_wz", true, ut_event_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	memset(d->data, 0xee, 64 * 512);
	d->nrec = 0;
	CU_ASSERT(ftgt_bdev_write_zeroes_blocks(desc, ch, 3, 20, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 1 && c.success);
	CU_ASSERT(d->nrec >= 1 && d->rec[0].type == FTGT_BDEV_IO_TYPE_WRITE);
	for (i = 3 * 512; i < 23 * 512; i++) {
		if (d->data[i] != 0) {
			CU_FAIL("not zeroed");
			break;
		}
	}
	CU_ASSERT(d->data[2 * 512] == 0xee && d->data[23 * 512] == 0xee);
	/* A misaligned buffer reaches the module aligned, and data round-trips. */
	for (i = 0; i < 4096; i++) {
		mis[i] = (uint8_t)i;
	}
	d->nrec = 0;
	CU_ASSERT(ftgt_bdev_write_blocks(desc, ch, mis, 40, 8, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && c.success);
	CU_ASSERT(d->nrec == 1 && d->rec[0].aligned);
	memset(mis, 0, 4096);
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, mis, 40, 8, ut_io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 3 && c.success);
	for (i = 0; i < 4096; i++) {
		if (mis[i] != (uint8_t)i) {
			CU_FAIL("bounced read data differs");
			break;
		}
	}
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static int g_resize_events;
static void
resize_event_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	if (type == FTGT_BDEV_EVENT_RESIZE) {
		g_resize_events++;
	}
}

static void
test_resize(void)
{
	struct ut_disk *d = ut_disk_create("ut_resize");
	struct ftgt_bdev_desc *desc;

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_resize", false, resize_event_cb, NULL, &desc) == 0);
	g_resize_events = 0;
	CU_ASSERT(ftgt_bdev_notify_blockcnt_change(&d->disk, UT_BLOCKS / 2) == -EBUSY);
	CU_ASSERT(ftgt_bdev_notify_blockcnt_change(&d->disk, UT_BLOCKS) == 0);
	ut_poll();
	CU_ASSERT(g_resize_events == 1);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

/* Two overlapping compare-and-writes from two threads with the same expected data:
 * exactly one wins, the other sees the winner's data and miscompares. */
static void
test_caw_race(void)
{
	struct ut_disk *d = ut_disk_create("ut_cawrace");
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch0, *ch1;
	struct ut_cpl a = {0}, b = {0};
	uint8_t cmp[512], wa[512], wb[512];
	struct iovec ci = {cmp, 512}, ai = {wa, 512}, bi = {wb, 512};
	int i;

	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_cawrace", true, ut_event_cb, NULL, &desc) == 0);
	ch0 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[1]);
	ch1 = ftgt_bdev_get_io_channel(desc);
	ftgt_set_thread(g_ut_threads[0]);
	memset(d->data + 7 * 512, 0x01, 512);
	memset(cmp, 0x01, sizeof(cmp));
	memset(wa, 0xaa, sizeof(wa));
	memset(wb, 0xbb, sizeof(wb));
	d->hold = true;
	CU_ASSERT(ftgt_bdev_comparev_and_writev_blocks(desc, ch0, &ci, 1, &ai, 1, 7, 1, ut_io_done,
	                                               &a) == 0);
	ftgt_set_thread(g_ut_threads[1]);
	CU_ASSERT(ftgt_bdev_comparev_and_writev_blocks(desc, ch1, &ci, 1, &bi, 1, 7, 1, ut_io_done,
	                                               &b) == 0);
	ftgt_set_thread(g_ut_threads[0]);
	for (i = 0; i < 50 && (a.count == 0 || b.count == 0); i++) {
		ut_poll();
		ut_complete_held(0, 10, FTGT_BDEV_IO_STATUS_SUCCESS);
		ut_complete_held(1, 10, FTGT_BDEV_IO_STATUS_SUCCESS);
	}
	ut_poll();
	CU_ASSERT(a.count == 1 && b.count == 1);
	CU_ASSERT(a.success != b.success);
	CU_ASSERT((a.success ? b.status : a.status) == FTGT_BDEV_IO_STATUS_MISCOMPARE);
	CU_ASSERT(d->data[7 * 512] == (a.success ? 0xaa : 0xbb));
	d->hold = false;
	ftgt_put_io_channel(ch0);
	ftgt_set_thread(g_ut_threads[1]);
	ftgt_put_io_channel(ch1);
	ftgt_set_thread(g_ut_threads[0]);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

/* Splits need more bdev_io than the (small) pool has: parents wait, none fails. */
static void
test_split_pool_exhaustion(void)
{
	struct ut_disk *d = ut_disk_create("ut_splitpool");
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0};
	static uint8_t buf[20][16 * 512];
	int i, submitted = 0;

	d->disk.max_rw_size = 1;
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("ut_splitpool", true, ut_event_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	d->hold = true;
	for (i = 0; i < 20; i++) {
		if (ftgt_bdev_read_blocks(desc, ch, buf[i], (uint64_t)i * 16, 16, ut_io_done, &c) ==
		    0) {
			submitted++;
		}
	}
	ut_poll();
	/* 20 parents x 16 children > 256: the pool ran out (later submits got -ENOMEM) and
	 * some accepted parents wait for children. */
	CU_ASSERT(submitted >= 10 && submitted < 20);
	CU_ASSERT(g_ut_ch[0]->nheld < submitted * 16);
	CU_ASSERT(!TAILQ_EMPTY(&((struct bdev_channel *)ftgt_io_channel_get_ctx(ch))->nomem_io));
	for (i = 0; i < 200 && c.count < submitted; i++) {
		ut_complete_held(0, 64, FTGT_BDEV_IO_STATUS_SUCCESS);
		ut_poll();
		ftgt_delay_us(20);
	}
	CU_ASSERT(c.count == submitted && c.success);
	d->hold = false;
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	ut_disk_delete(d);
}

static struct ftgt_thread *g_unreg_thread;
static void
ut_unreg_thread_cb(void *arg, int rc)
{
	g_unreg_rc = rc;
	g_unreg_thread = ftgt_get_thread();
}

/* Hot remove called from a reactor: done on the app thread, answered on the caller's. */
static void
test_unregister_other_thread(void)
{
	struct ut_disk *d = ut_disk_create("ut_unreg1");

	g_unreg_rc = 1;
	g_unreg_thread = NULL;
	ftgt_set_thread(g_ut_threads[1]);
	ftgt_bdev_unregister(&d->disk, ut_unreg_thread_cb, NULL);
	ftgt_set_thread(g_ut_threads[0]);
	ut_poll();
	CU_ASSERT(g_unreg_rc == 0 && d->destructed);
	CU_ASSERT(g_unreg_thread == g_ut_threads[1]);
	CU_ASSERT(ftgt_bdev_get_by_name("ut_unreg1") == NULL);
	free(d->data);
	free(d);
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "check_params", test_check_params);
	CU_add_test(s, "rw_basic_and_errors", test_rw_basic_and_errors);
	CU_add_test(s, "split", test_split);
	CU_add_test(s, "nomem_module", test_nomem_module);
	CU_add_test(s, "pool_exhaustion", test_pool_exhaustion);
	CU_add_test(s, "qos_pacing", test_qos_pacing);
	CU_add_test(s, "claims", test_claims);
	CU_add_test(s, "hot_remove_inflight", test_hot_remove_inflight);
	CU_add_test(s, "stats_sum", test_stats_sum);
	CU_add_test(s, "compare_and_write", test_compare_and_write);
	CU_add_test(s, "reset_waits", test_reset_waits);
	CU_add_test(s, "abort", test_abort);
	CU_add_test(s, "write_zeroes_emulated_and_bounce", test_write_zeroes_emulated_and_bounce);
	CU_add_test(s, "resize", test_resize);
	CU_add_test(s, "caw_race", test_caw_race);
	CU_add_test(s, "split_pool_exhaustion", test_split_pool_exhaustion);
	CU_add_test(s, "unregister_other_thread", test_unregister_other_thread);
}

int
main(void)
{
	struct ftgt_bdev_opts o;

	ftgt_bdev_get_opts(&o);
	o.bdev_io_pool_size = 256;
	o.bdev_io_cache_size = 32;
	return ut_bdev_run("bdev", add_tests, &o);
}
