/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fakes for the nvmf core unit tests: one deterministic thread (messages queued and run
 * by ut_poll()), pollers run by hand, fake ticks, a RAM bdev whose I/O completes on the
 * next ut_poll() (or is held, to test disconnects with I/O in flight), and a fake
 * transport whose queue pairs record completions.
 */
#ifndef NVMF_UT_COMMON_H
#define NVMF_UT_COMMON_H

#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/bdev.h"
#include "ftgt/env.h"
#include "ftgt/nvmf.h"
#include "ftgt/nvmf_transport.h"
#include "ftgt/spec/nvme.h"
#include "ftgt/spec/nvmf.h"
#include "ftgt/string.h"
#include "ftgt/thread.h"

/* ---- thread ----------------------------------------------------------------------- */

struct ftgt_thread {
	int id;
};
static struct ftgt_thread g_ut_thread = {1};
static struct ftgt_thread *g_ut_cur = &g_ut_thread;

struct ut_msg {
	ftgt_msg_fn fn;
	void *ctx;
	struct ut_msg *next;
};
static struct ut_msg *g_msgs_head, *g_msgs_tail;
static int g_ut_msg_fail;

struct ftgt_thread *
ftgt_get_thread(void)
{
	return g_ut_cur;
}

int
ftgt_thread_send_msg(const struct ftgt_thread *thread, ftgt_msg_fn fn, void *ctx)
{
	struct ut_msg *m;

	(void)thread;
	if (g_ut_msg_fail) {
		return -ENOMEM;
	}
	m = calloc(1, sizeof(*m));
	m->fn = fn;
	m->ctx = ctx;
	if (g_msgs_tail) {
		g_msgs_tail->next = m;
	} else {
		g_msgs_head = m;
	}
	g_msgs_tail = m;
	return 0;
}

struct ftgt_poller {
	ftgt_poller_fn fn;
	void *ctx;
	bool live;
	struct ftgt_poller *next;
};
static struct ftgt_poller *g_pollers;

struct ftgt_poller *
ftgt_poller_register(ftgt_poller_fn fn, void *ctx, uint64_t period_us, const char *name)
{
	struct ftgt_poller *p = calloc(1, sizeof(*p));

	p->fn = fn;
	p->ctx = ctx;
	p->live = true;
	p->next = g_pollers;
	g_pollers = p;
	return p;
}

void
ftgt_poller_unregister(struct ftgt_poller **poller)
{
	if (*poller != NULL) {
		(*poller)->live = false;
		*poller = NULL;
	}
}

static void
ut_run_pollers(void)
{
	struct ftgt_poller *p;

	for (p = g_pollers; p != NULL; p = p->next) {
		if (p->live) {
			p->fn(p->ctx);
		}
	}
}

static void
ut_free_pollers(void)
{
	while (g_pollers) {
		struct ftgt_poller *p = g_pollers;

		g_pollers = p->next;
		free(p);
	}
}

static uint64_t g_ut_ticks = 1000;
uint64_t
ftgt_get_ticks(void)
{
	return g_ut_ticks;
}
uint64_t
ftgt_get_ticks_hz(void)
{
	return 1000; /* 1 tick = 1 ms */
}

/* ---- bdev ------------------------------------------------------------------------- */

struct ftgt_bdev {
	char name[32];
	uint32_t block_size;
	uint64_t num_blocks;
	uint8_t *data;
	struct ftgt_uuid uuid;
	bool claimed;
	bool unmap_supported;
	struct ftgt_bdev_desc *desc;
};
struct ftgt_bdev_desc {
	struct ftgt_bdev *bdev;
};
struct ftgt_io_channel {
	int refs;
};
struct ftgt_bdev_io {
	enum ftgt_bdev_io_type type;
	enum ftgt_bdev_io_status status;
	ftgt_bdev_io_completion_cb cb;
	void *cb_arg;
	struct ftgt_bdev_io *next;
	uint32_t flags;
};

static struct ftgt_bdev g_bdev = {
        .name = "Malloc0", .block_size = 512, .num_blocks = 1024, .unmap_supported = true};
static struct ftgt_bdev g_bdev2 = {.name = "Malloc1", .block_size = 4096, .num_blocks = 16};
static struct ftgt_io_channel g_ut_ch;
static struct ftgt_bdev_io *g_held_ios;
static bool g_hold_io;
static uint32_t g_last_io_flags;
static int g_bdev_nomem; /* next N submissions return -ENOMEM */
static struct ftgt_bdev_io_wait_entry *g_io_wait;

static struct ftgt_bdev *
ut_bdev_find(const char *name)
{
	if (strcmp(name, g_bdev.name) == 0) {
		return &g_bdev;
	}
	if (strcmp(name, g_bdev2.name) == 0) {
		return &g_bdev2;
	}
	return NULL;
}

int
ftgt_bdev_open_ext(const char *name, bool write, ftgt_bdev_event_cb event_cb, void *event_ctx,
                   struct ftgt_bdev_desc **desc)
{
	struct ftgt_bdev *b = ut_bdev_find(name);

	if (b == NULL) {
		return -ENODEV;
	}
	*desc = calloc(1, sizeof(**desc));
	(*desc)->bdev = b;
	if (b->data == NULL) {
		b->data = calloc(b->num_blocks, b->block_size);
	}
	return 0;
}
void
ftgt_bdev_close(struct ftgt_bdev_desc *desc)
{
	free(desc);
}
int
ftgt_bdev_claim(struct ftgt_bdev_desc *desc, const char *owner)
{
	if (desc->bdev->claimed) {
		return -EPERM;
	}
	desc->bdev->claimed = true;
	return 0;
}
void
ftgt_bdev_release(struct ftgt_bdev_desc *desc)
{
	desc->bdev->claimed = false;
}
struct ftgt_bdev *
ftgt_bdev_desc_get_bdev(struct ftgt_bdev_desc *desc)
{
	return desc->bdev;
}
struct ftgt_io_channel *
ftgt_bdev_get_io_channel(struct ftgt_bdev_desc *desc)
{
	g_ut_ch.refs++;
	return &g_ut_ch;
}
void
ftgt_put_io_channel(struct ftgt_io_channel *ch)
{
	ch->refs--;
}
uint32_t
ftgt_bdev_get_block_size(const struct ftgt_bdev *b)
{
	return b->block_size;
}
uint32_t
ftgt_bdev_get_data_block_size(const struct ftgt_bdev *b)
{
	return b->block_size;
}
uint64_t
ftgt_bdev_get_num_blocks(const struct ftgt_bdev *b)
{
	return b->num_blocks;
}
uint32_t
ftgt_bdev_get_md_size(const struct ftgt_bdev *b)
{
	return 0;
}
const struct ftgt_uuid *
ftgt_bdev_get_uuid(const struct ftgt_bdev *b)
{
	return &b->uuid;
}
uint32_t
ftgt_bdev_get_optimal_io_boundary(const struct ftgt_bdev *b)
{
	return 0;
}
uint32_t
ftgt_bdev_get_acwu(const struct ftgt_bdev *b)
{
	return 1;
}
bool
ftgt_bdev_io_type_supported(struct ftgt_bdev *b, enum ftgt_bdev_io_type type)
{
	if (type == FTGT_BDEV_IO_TYPE_UNMAP) {
		return b->unmap_supported;
	}
	return true;
}

static void
ut_io_complete_msg(void *arg)
{
	struct ftgt_bdev_io *io = arg;

	io->cb(io, io->status == FTGT_BDEV_IO_STATUS_SUCCESS, io->cb_arg);
}

static int
ut_io_submit(enum ftgt_bdev_io_type type, enum ftgt_bdev_io_status st,
             ftgt_bdev_io_completion_cb cb, void *cb_arg)
{
	struct ftgt_bdev_io *io;

	if (g_bdev_nomem > 0) {
		g_bdev_nomem--;
		return -ENOMEM;
	}
	io = calloc(1, sizeof(*io));
	io->type = type;
	io->status = st;
	io->cb = cb;
	io->cb_arg = cb_arg;
	if (g_hold_io) {
		io->next = g_held_ios;
		g_held_ios = io;
		return 0;
	}
	ftgt_thread_send_msg(g_ut_cur, ut_io_complete_msg, io);
	return 0;
}

static size_t
ut_iov_copy(struct iovec *iov, int iovcnt, uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;
	int i;

	for (i = 0; i < iovcnt && done < len; i++) {
		size_t n = FTGT_MIN(iov[i].iov_len, len - done);

		if (to_iov) {
			memcpy(iov[i].iov_base, buf + done, n);
		} else {
			memcpy(buf + done, iov[i].iov_base, n);
		}
		done += n;
	}
	return done;
}

static int
ut_range_ok(struct ftgt_bdev *b, uint64_t off, uint64_t n)
{
	return off < b->num_blocks && n <= b->num_blocks - off && n > 0;
}

int
ftgt_bdev_readv_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, struct iovec *iov,
                       int iovcnt, uint64_t off, uint64_t n, ftgt_bdev_io_completion_cb cb,
                       void *cb_arg)
{
	struct ftgt_bdev *b = desc->bdev;

	if (!ut_range_ok(b, off, n)) {
		return -EINVAL;
	}
	if (g_bdev_nomem == 0) {
		ut_iov_copy(iov, iovcnt, b->data + off * b->block_size, n * b->block_size, true);
	}
	return ut_io_submit(FTGT_BDEV_IO_TYPE_READ, FTGT_BDEV_IO_STATUS_SUCCESS, cb, cb_arg);
}

int
ftgt_bdev_writev_blocks_ext(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                            struct iovec *iov, int iovcnt, uint64_t off, uint64_t n,
                            ftgt_bdev_io_completion_cb cb, void *cb_arg,
                            const struct ftgt_bdev_ext_io_opts *opts)
{
	struct ftgt_bdev *b = desc->bdev;

	if (!ut_range_ok(b, off, n)) {
		return -EINVAL;
	}
	if (g_bdev_nomem == 0) {
		ut_iov_copy(iov, iovcnt, b->data + off * b->block_size, n * b->block_size, false);
	}
	g_last_io_flags = opts ? opts->io_flags : 0;
	return ut_io_submit(FTGT_BDEV_IO_TYPE_WRITE, FTGT_BDEV_IO_STATUS_SUCCESS, cb, cb_arg);
}

int
ftgt_bdev_comparev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                          struct iovec *iov, int iovcnt, uint64_t off, uint64_t n,
                          ftgt_bdev_io_completion_cb cb, void *cb_arg)
{
	struct ftgt_bdev *b = desc->bdev;
	uint8_t *tmp = malloc(n * b->block_size);
	bool same;

	ut_iov_copy(iov, iovcnt, tmp, n * b->block_size, false);
	same = memcmp(tmp, b->data + off * b->block_size, n * b->block_size) == 0;
	free(tmp);
	return ut_io_submit(FTGT_BDEV_IO_TYPE_COMPARE,
	                    same ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_MISCOMPARE, cb,
	                    cb_arg);
}

int
ftgt_bdev_comparev_and_writev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                                     struct iovec *ciov, int ciovcnt, struct iovec *wiov,
                                     int wiovcnt, uint64_t off, uint64_t n,
                                     ftgt_bdev_io_completion_cb cb, void *cb_arg)
{
	struct ftgt_bdev *b = desc->bdev;
	uint8_t *tmp = malloc(n * b->block_size);
	bool same;

	ut_iov_copy(ciov, ciovcnt, tmp, n * b->block_size, false);
	same = memcmp(tmp, b->data + off * b->block_size, n * b->block_size) == 0;
	if (same) {
		ut_iov_copy(wiov, wiovcnt, b->data + off * b->block_size, n * b->block_size, false);
	}
	free(tmp);
	return ut_io_submit(FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE,
	                    same ? FTGT_BDEV_IO_STATUS_SUCCESS : FTGT_BDEV_IO_STATUS_MISCOMPARE, cb,
	                    cb_arg);
}

int
ftgt_bdev_write_zeroes_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, uint64_t off,
                              uint64_t n, ftgt_bdev_io_completion_cb cb, void *cb_arg)
{
	struct ftgt_bdev *b = desc->bdev;

	memset(b->data + off * b->block_size, 0, n * b->block_size);
	return ut_io_submit(FTGT_BDEV_IO_TYPE_WRITE_ZEROES, FTGT_BDEV_IO_STATUS_SUCCESS, cb,
	                    cb_arg);
}

static int g_unmaps;
int
ftgt_bdev_unmap_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, uint64_t off,
                       uint64_t n, ftgt_bdev_io_completion_cb cb, void *cb_arg)
{
	struct ftgt_bdev *b = desc->bdev;
	int rc = ut_io_submit(FTGT_BDEV_IO_TYPE_UNMAP, FTGT_BDEV_IO_STATUS_SUCCESS, cb, cb_arg);

	if (rc == 0) {
		memset(b->data + off * b->block_size, 0, n * b->block_size);
		g_unmaps++;
	}
	return rc;
}

static int g_flushes;
int
ftgt_bdev_flush_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, uint64_t off,
                       uint64_t n, ftgt_bdev_io_completion_cb cb, void *cb_arg)
{
	g_flushes++;
	return ut_io_submit(FTGT_BDEV_IO_TYPE_FLUSH, FTGT_BDEV_IO_STATUS_SUCCESS, cb, cb_arg);
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
ftgt_bdev_io_get_nvme_status(const struct ftgt_bdev_io *io, uint32_t *cdw0, int *sct, int *sc)
{
	*cdw0 = 0;
	if (io->status == FTGT_BDEV_IO_STATUS_MISCOMPARE) {
		*sct = NVME_SCT_MEDIA_ERROR;
		*sc = NVME_SC_COMPARE_FAILURE;
	} else if (io->status == FTGT_BDEV_IO_STATUS_ABORTED) {
		*sct = NVME_SCT_GENERIC;
		*sc = NVME_SC_ABORTED_BY_REQUEST;
	} else {
		*sct = NVME_SCT_GENERIC;
		*sc = NVME_SC_INTERNAL_DEVICE_ERROR;
	}
}
int
ftgt_bdev_queue_io_wait(struct ftgt_bdev *bdev, struct ftgt_io_channel *ch,
                        struct ftgt_bdev_io_wait_entry *entry)
{
	g_io_wait = entry;
	return 0;
}

static void ut_io_complete_msg(void *arg);

/* Abort: a held I/O with that cb_arg completes ABORTED, then the abort succeeds. */
int
ftgt_bdev_abort(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *bio_cb_arg,
                ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	struct ftgt_bdev_io **pp, *victim, *abort_io;

	for (pp = &g_held_ios; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->cb_arg == bio_cb_arg) {
			break;
		}
	}
	if (*pp == NULL) {
		return -ENOENT;
	}
	victim = *pp;
	*pp = victim->next;
	victim->status = FTGT_BDEV_IO_STATUS_ABORTED;
	ftgt_thread_send_msg(g_ut_cur, ut_io_complete_msg, victim);
	abort_io = calloc(1, sizeof(*abort_io));
	abort_io->type = FTGT_BDEV_IO_TYPE_ABORT;
	abort_io->status = FTGT_BDEV_IO_STATUS_SUCCESS;
	abort_io->cb = cb_fn;
	abort_io->cb_arg = cb_arg;
	ftgt_thread_send_msg(g_ut_cur, ut_io_complete_msg, abort_io);
	return 0;
}

static void
ut_release_held_ios(void)
{
	while (g_held_ios) {
		struct ftgt_bdev_io *io = g_held_ios;

		g_held_ios = io->next;
		ftgt_thread_send_msg(g_ut_cur, ut_io_complete_msg, io);
	}
}

static void
ut_poll(void)
{
	while (g_msgs_head) {
		struct ut_msg *m = g_msgs_head;

		g_msgs_head = m->next;
		if (g_msgs_head == NULL) {
			g_msgs_tail = NULL;
		}
		m->fn(m->ctx);
		free(m);
	}
}

/* ---- transport -------------------------------------------------------------------- */

#define UT_QD  8
#define UT_BUF 16384

struct ut_req {
	struct ftgt_nvmf_request req;
	struct nvme_cmd cmd;
	struct nvme_cpl rsp;
	uint8_t buf[UT_BUF] __attribute__((aligned(8)));
	bool done;
	uint64_t start_ticks; /* submitted (as a transport records it) */
};

struct ut_qpair {
	struct ftgt_nvmf_qpair qpair;
	struct ut_req reqs[UT_QD];
	int completions;
	bool disconnect_asked;
	bool fini_done;
};

static struct ftgt_nvmf_transport g_ut_transport;
/* Called by the fake transport for every completion, with the ticks at submission (NULL:
 * none; a test sets it to account completions as a transport does). */
static void (*g_ut_complete_hook)(struct ftgt_nvmf_request *req, uint64_t start_ticks);

static void
ut_req_complete(struct ftgt_nvmf_request *req)
{
	struct ut_req *r = FTGT_CONTAINEROF(req, struct ut_req, req);
	struct ut_qpair *q = FTGT_CONTAINEROF(req->qpair, struct ut_qpair, qpair);

	r->done = true;
	q->completions++;
	if (g_ut_complete_hook != NULL) {
		g_ut_complete_hook(req, r->start_ticks);
	}
}

static void
ut_qpair_disconnect(struct ftgt_nvmf_qpair *qpair)
{
	struct ut_qpair *q = FTGT_CONTAINEROF(qpair, struct ut_qpair, qpair);

	q->disconnect_asked = true;
}

static struct ftgt_nvmf_transport *
ut_create(const struct ftgt_nvmf_transport_opts *opts)
{
	g_ut_transport.opts = *opts;
	return &g_ut_transport;
}

static void
ut_destroy(struct ftgt_nvmf_transport *t, void (*cb_fn)(void *), void *cb_arg)
{
	cb_fn(cb_arg);
}

static int g_listens;
static int
ut_listen(struct ftgt_nvmf_transport *t, const struct ftgt_nvmf_listen_addr *a)
{
	g_listens++;
	return 0;
}
static void
ut_stop_listen(struct ftgt_nvmf_transport *t, const struct ftgt_nvmf_listen_addr *a)
{
	g_listens--;
}

static struct ftgt_nvmf_request *
ut_find_req(struct ftgt_nvmf_qpair *qpair, uint16_t cid)
{
	struct ut_qpair *q = FTGT_CONTAINEROF(qpair, struct ut_qpair, qpair);
	int i;

	for (i = 0; i < UT_QD; i++) {
		if (q->reqs[i].req.in_core && ftgt_le16_to_cpu(q->reqs[i].cmd.cid) == cid) {
			return &q->reqs[i].req;
		}
	}
	return NULL;
}

static const struct nvmf_transport_ops g_ut_ops = {
        .name = "TCP",
        .trtype = NVMF_TRTYPE_TCP,
        .create = ut_create,
        .destroy = ut_destroy,
        .listen = ut_listen,
        .stop_listen = ut_stop_listen,
        .req_complete = ut_req_complete,
        .qpair_disconnect = ut_qpair_disconnect,
        .qpair_find_req = ut_find_req,
};

static struct ftgt_nvmf_listen_addr g_ut_addr = {
        .trtype = "TCP", .adrfam = NVMF_ADRFAM_IPV4, .traddr = "127.0.0.1", .trsvcid = "4420"};

static struct ut_qpair *
ut_qpair_new(void)
{
	struct ut_qpair *q = calloc(1, sizeof(*q));
	int i;

	ftgt_nvmf_qpair_init(&q->qpair, &g_ut_transport, &g_ut_addr, NULL);
	for (i = 0; i < UT_QD; i++) {
		q->reqs[i].req.qpair = &q->qpair;
		q->reqs[i].req.cmd = &q->reqs[i].cmd;
		q->reqs[i].req.rsp = &q->reqs[i].rsp;
	}
	return q;
}

static void
ut_fini_cb(void *arg)
{
	struct ut_qpair *q = arg;

	q->fini_done = true;
}

/* Tear the qpair down as the transport would and free it. */
static void
ut_qpair_free(struct ut_qpair *q)
{
	ftgt_nvmf_qpair_fini(&q->qpair, ut_fini_cb, q);
	ut_poll();
	CU_ASSERT(q->fini_done);
	free(q);
}

/* Submit cmd on slot `slot` with data of len bytes (copied in for host-to-ctrlr). */
static struct ut_req *
ut_submit(struct ut_qpair *q, int slot, const struct nvme_cmd *cmd, const void *data, uint32_t len)
{
	struct ut_req *r = &q->reqs[slot];

	r->cmd = *cmd;
	if ((r->cmd.flags >> NVME_CMD_PSDT_SHIFT) == 0) {
		r->cmd.flags |= NVME_PSDT_SGL_MPTR_CONTIG << NVME_CMD_PSDT_SHIFT;
	}
	r->cmd.cid = ftgt_cpu_to_le16((uint16_t)(slot + 100));
	r->done = false;
	memset(&r->rsp, 0xee, sizeof(r->rsp));
	r->req.xfer = r->cmd.opc == NVME_OPC_FABRIC
	                      ? (len ? NVME_OPC_XFER_HOST_TO_CTRLR : NVME_OPC_XFER_NONE)
	                      : NVME_OPC_GET_XFER(r->cmd.opc);
	r->req.length = len;
	r->req.iovcnt = len ? 2 : 0;
	/* Two buffers, split at an odd place, to exercise iovec handling. */
	r->req.iov[0].iov_base = r->buf;
	r->req.iov[0].iov_len = len > 100 ? 100 : len;
	r->req.iov[1].iov_base = r->buf + r->req.iov[0].iov_len;
	r->req.iov[1].iov_len = len - r->req.iov[0].iov_len;
	if (data != NULL && len) {
		memcpy(r->buf, data, len);
	} else {
		memset(r->buf, 0xcc, len);
	}
	r->start_ticks = ftgt_get_ticks();
	ftgt_nvmf_request_exec(&r->req);
	ut_poll();
	return r;
}

static uint16_t
ut_status(const struct ut_req *r)
{
	return ftgt_le16_to_cpu(r->rsp.status) & ~NVME_STATUS_DNR;
}

#endif /* NVMF_UT_COMMON_H */
