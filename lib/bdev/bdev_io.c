/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bdev core, I/O path: submission checks, the NOMEM queue, splitting, emulation of
 * write-zeroes / compare / compare-and-write, LBA range locks, reset, abort, completion
 * and its translation to NVMe / SCSI status.
 *
 * Everything here runs on the thread that owns the channel; no locks, no allocation
 * except for rare paths (bounce buffers for misaligned data, range locks).
 *
 * Completions a module gives inside submit_request are deferred to a message (one per
 * batch, not per I/O) so a user's callback never runs inside its submit call and a long
 * split cannot recurse.
 *
 * Range locks (compare-and-write): taken with ftgt_for_each_channel. On each channel the
 * range is inserted, then the walk waits there until no write overlapping it is in
 * flight on that channel (and no older overlapping lock is held there); from then on
 * new writes to the range on that channel wait on the channel's locked queue. Every lock
 * walks the channels in the same order (thread id), so two locks never deadlock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/util.h"
#include "bdev_internal.h"

uint64_t (*bdev_get_ticks)(void) = ftgt_get_ticks;

void
bdev_set_clock(uint64_t (*fn)(void))
{
	bdev_get_ticks = fn != NULL ? fn : ftgt_get_ticks;
}

static void bdev_io_submit_module(struct bdev_io_priv *p);
static void bdev_io_start(struct bdev_io_priv *p);
static void bdev_io_complete_up(struct bdev_io_priv *p);
static void bdev_split_continue(struct bdev_io_priv *p);
static void bdev_range_recheck(struct bdev_channel *ch);
static void bdev_reset_start(struct bdev_io_priv *p);
static void bdev_reset_unfreeze(struct bdev_io_priv *p);
static void caw_finish(struct bdev_io_priv *p);
static void bdev_compare_start(struct bdev_io_priv *p);

static inline bool
type_is_write(enum ftgt_bdev_io_type t)
{
	return t == FTGT_BDEV_IO_TYPE_WRITE || t == FTGT_BDEV_IO_TYPE_UNMAP ||
	       t == FTGT_BDEV_IO_TYPE_WRITE_ZEROES || t == FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE;
}

static inline bool
type_has_data(enum ftgt_bdev_io_type t)
{
	return t == FTGT_BDEV_IO_TYPE_READ || t == FTGT_BDEV_IO_TYPE_WRITE ||
	       t == FTGT_BDEV_IO_TYPE_COMPARE;
}

static inline bool
module_supports(struct ftgt_bdev *bdev, enum ftgt_bdev_io_type t)
{
	return bdev->fn_table->io_type_supported(bdev->ctxt, t);
}

static inline void
bdev_io_init(struct bdev_io_priv *p, struct bdev_channel *ch, struct ftgt_bdev_desc *desc,
             enum ftgt_bdev_io_type type, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	p->ch = ch;
	p->desc = desc;
	p->cb_fn = cb_fn;
	p->cb_arg = cb_arg;
	p->status = FTGT_BDEV_IO_STATUS_PENDING;
	p->queue = BDEV_IO_Q_NONE;
	p->stage = BDEV_STAGE_NONE;
	p->in_submit = false;
	p->is_child = false;
	p->user_io = false;
	p->bypass_lock = false;
	p->abort_req = false;
	p->err = 0;
	p->parent = NULL;
	p->outstanding = 0;
	p->bounce = NULL;
	p->orig_iovs = NULL;
	p->fused_iovs = NULL;
	p->fused_iovcnt = 0;
	p->range_locked = false;
	p->retry_fn = NULL;
	p->stage_cb = NULL;
	p->poller = NULL;
	p->io.bdev = ch->bdev;
	p->io.type = type;
	p->io.io_flags = 0;
	p->io.u.bdev.iovs = NULL;
	p->io.u.bdev.iovcnt = 0;
	p->io.u.bdev.md_buf = NULL;
	p->io.u.bdev.offset_blocks = 0;
	p->io.u.bdev.num_blocks = 0;
}

static inline void
bdev_io_release(struct bdev_io_priv *p)
{
	bdev_io_put(p->ch->mgmt, p);
}

void
ftgt_bdev_free_io(struct ftgt_bdev_io *io)
{
	if (io == NULL) {
		return;
	}
	bdev_io_release(bdev_io_priv(io));
}

/* ---- the NOMEM queue --------------------------------------------------------------- */

static void bdev_nomem_retry(struct bdev_channel *ch);

static int
nomem_poll(void *arg)
{
	struct bdev_channel *ch = arg;

	bdev_nomem_retry(ch);
	if (TAILQ_EMPTY(&ch->nomem_io)) {
		ftgt_poller_unregister(&ch->nomem_poller);
	}
	return FTGT_POLLER_BUSY;
}

/* Queue p to redo retry_fn once resources are back. */
static void
bdev_queue_nomem(struct bdev_io_priv *p, void (*retry_fn)(struct bdev_io_priv *p))
{
	struct bdev_channel *ch = p->ch;

	p->retry_fn = retry_fn;
	p->queue = BDEV_IO_Q_NOMEM;
	TAILQ_INSERT_TAIL(&ch->nomem_io, p, link);
	ch->stat.nomem_retries++;
	/* With nothing in flight no completion will trigger a retry: use a timer. */
	if (ch->io_outstanding == 0 && ch->nomem_poller == NULL) {
		ch->nomem_poller =
		        ftgt_poller_register(nomem_poll, ch, BDEV_NOMEM_RETRY_US, "bdev_nomem");
	}
}

static void
bdev_nomem_retry(struct bdev_channel *ch)
{
	struct bdev_io_priv *p;
	uint32_t n = 0;

	if (ch->nomem_retrying) {
		return;
	}
	ch->nomem_retrying = true;
	/* Bounded: each entry is tried at most once per call. */
	TAILQ_FOREACH (p, &ch->nomem_io, link) {
		n++;
	}
	while (n-- > 0 && (p = TAILQ_FIRST(&ch->nomem_io)) != NULL) {
		TAILQ_REMOVE(&ch->nomem_io, p, link);
		p->queue = BDEV_IO_Q_NONE;
		p->retry_fn(p);
		if (p->queue == BDEV_IO_Q_NOMEM) {
			break; /* still short: wait for the next completion */
		}
	}
	ch->nomem_retrying = false;
	if (!TAILQ_EMPTY(&ch->nomem_io) && ch->io_outstanding == 0 && ch->nomem_poller == NULL) {
		ch->nomem_poller =
		        ftgt_poller_register(nomem_poll, ch, BDEV_NOMEM_RETRY_US, "bdev_nomem");
	}
}

/* ---- completion -------------------------------------------------------------------- */

static void
ch_cpl_deferred_msg(void *arg)
{
	struct bdev_channel *ch = arg;
	struct bdev_io_tailq list;
	struct bdev_io_priv *p;

	ch->cpl_msg_pending = false;
	TAILQ_INIT(&list);
	TAILQ_CONCAT(&list, &ch->cpl_deferred, link);
	ch->batch_tsc = bdev_get_ticks();
	ch->in_batch = true;
	while ((p = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, p, link);
		if (p->queue == BDEV_IO_Q_MODULE) {
			p->queue = BDEV_IO_Q_NONE;
			ch->io_outstanding--;
		}
		bdev_io_complete_up(p);
	}
	ch->in_batch = false;
	if (ftgt_unlikely(!TAILQ_EMPTY(&ch->nomem_io))) {
		bdev_nomem_retry(ch);
	}
}

static int
cpl_deferred_poll(void *arg)
{
	struct bdev_channel *ch = arg;

	ftgt_poller_unregister(&ch->cpl_poller);
	ch_cpl_deferred_msg(ch);
	return FTGT_POLLER_BUSY;
}

/* Make sure the deferred completions of ch run soon: one message per batch. */
static inline void
bdev_kick_deferred(struct bdev_channel *ch)
{
	if (ftgt_likely(ch->cpl_msg_pending)) {
		return;
	}
	if (ftgt_likely(ftgt_thread_send_msg(ch->thread, ch_cpl_deferred_msg, ch) == 0)) {
		ch->cpl_msg_pending = true;
		return;
	}
	/* The thread's ring is full: fall back to a one-shot poller. */
	if (ch->cpl_poller == NULL) {
		ch->cpl_poller = ftgt_poller_register(cpl_deferred_poll, ch, 0, "bdev_cpl");
		if (ch->cpl_poller == NULL) {
			FTGT_ERRLOG("bdev %s: cannot schedule deferred completions\n",
			            ch->bdev->name);
		}
	}
}

/* Finish p later from a message (it is inside a submit call now). */
static void
bdev_io_complete_soon(struct bdev_io_priv *p, enum ftgt_bdev_io_status status)
{
	struct bdev_channel *ch = p->ch;

	p->status = status;
	TAILQ_INSERT_TAIL(&ch->cpl_deferred, p, link);
	bdev_kick_deferred(ch);
}

static void
bdev_io_unbounce(struct bdev_io_priv *p)
{
	if (p->orig_iovs == NULL) {
		return;
	}
	if (p->io.type == FTGT_BDEV_IO_TYPE_READ && p->status == FTGT_BDEV_IO_STATUS_SUCCESS) {
		ftgt_iovec_from_buf(p->orig_iovs, p->orig_iovcnt, p->bounce, p->bounce_iov.iov_len);
	}
	p->io.u.bdev.iovs = p->orig_iovs;
	p->io.u.bdev.iovcnt = p->orig_iovcnt;
	p->orig_iovs = NULL;
	ftgt_dma_free(p->bounce);
	p->bounce = NULL;
}

static void
bdev_io_complete_user(struct bdev_io_priv *p)
{
	struct bdev_channel *ch = p->ch;
	struct ftgt_bdev_io_type_stat *st;
	enum ftgt_bdev_io_type t = p->io.type;
	bool success = p->status == FTGT_BDEV_IO_STATUS_SUCCESS;
	uint64_t lat;

	if (p->user_io) {
		TAILQ_REMOVE(&ch->io_submitted, p, ch_link);
		p->user_io = false;
	}
	lat = (ch->in_batch ? ch->batch_tsc : bdev_get_ticks()) - p->submit_tsc;
	st = &ch->stat.type[t];
	if (ftgt_likely(success)) {
		st->ops++;
		if (type_has_data(t) || t == FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE) {
			st->bytes += p->io.u.bdev.num_blocks * p->io.bdev->blocklen;
		}
	} else {
		st->errors++;
	}
	st->latency_ticks += lat;
	if (lat < st->min_latency_ticks) {
		st->min_latency_ticks = lat;
	}
	if (lat > st->max_latency_ticks) {
		st->max_latency_ticks = lat;
	}
	if (ftgt_unlikely(ch->hist != NULL)) {
		ftgt_histogram_add(&ch->hist[t], lat);
	}
	p->cb_fn(&p->io, success, p->cb_arg);
	if (ftgt_unlikely(!TAILQ_EMPTY(&ch->locked_ranges))) {
		bdev_range_recheck(ch);
	}
}

static void
child_copy_status(struct bdev_io_priv *parent, const struct bdev_io_priv *child)
{
	parent->status = child->status;
	parent->err = child->err;
	parent->nvme_cdw0 = child->nvme_cdw0;
	parent->nvme_sct = child->nvme_sct;
	parent->nvme_sc = child->nvme_sc;
	parent->scsi_sc = child->scsi_sc;
	parent->scsi_sk = child->scsi_sk;
	parent->scsi_asc = child->scsi_asc;
	parent->scsi_ascq = child->scsi_ascq;
}

static bool
iov_equal_buf(const struct iovec *iovs, int iovcnt, const uint8_t *buf, size_t len)
{
	size_t off = 0, n;
	int i;

	for (i = 0; i < iovcnt && off < len; i++) {
		n = FTGT_MIN(iovs[i].iov_len, len - off);
		if (memcmp(iovs[i].iov_base, buf + off, n) != 0) {
			return false;
		}
		off += n;
	}
	return true;
}

/* A child finished: account it in its parent and move the parent on. */
static void
bdev_child_done(struct bdev_io_priv *c)
{
	struct bdev_io_priv *p = c->parent;
	bool ok = c->status == FTGT_BDEV_IO_STATUS_SUCCESS;

	p->outstanding--;
	switch (p->stage) {
	case BDEV_STAGE_SPLIT:
		if (!ok && p->status == FTGT_BDEV_IO_STATUS_PENDING) {
			child_copy_status(p, c);
			p->split_remaining = 0; /* issue no more */
		}
		bdev_io_release(c);
		if (p->outstanding == 0 && p->split_remaining == 0) {
			if (p->status == FTGT_BDEV_IO_STATUS_PENDING) {
				p->status = FTGT_BDEV_IO_STATUS_SUCCESS;
			}
			p->stage = BDEV_STAGE_NONE;
			bdev_io_complete_up(p);
		} else if (p->split_remaining != 0) {
			bdev_split_continue(p);
		}
		return;
	case BDEV_STAGE_CMP_READ:
		if (ok) {
			p->status = iov_equal_buf(p->io.u.bdev.iovs, p->io.u.bdev.iovcnt, p->bounce,
			                          p->bounce_iov.iov_len)
			                    ? FTGT_BDEV_IO_STATUS_SUCCESS
			                    : FTGT_BDEV_IO_STATUS_MISCOMPARE;
		} else {
			child_copy_status(p, c);
		}
		bdev_io_release(c);
		ftgt_dma_free(p->bounce);
		p->bounce = NULL;
		p->stage = BDEV_STAGE_NONE;
		bdev_io_complete_up(p);
		return;
	case BDEV_STAGE_CAW_CMP:
	case BDEV_STAGE_CAW_WRITE:
		if (!ok) {
			child_copy_status(p, c);
			if (p->stage == BDEV_STAGE_CAW_CMP &&
			    c->status != FTGT_BDEV_IO_STATUS_MISCOMPARE) {
				/* The write half never ran. */
				p->status = c->status;
			}
		}
		bdev_io_release(c);
		if (ok && p->stage == BDEV_STAGE_CAW_CMP) {
			p->stage_cb(p); /* go on with the write */
			return;
		}
		if (ok) {
			p->status = FTGT_BDEV_IO_STATUS_SUCCESS;
		}
		caw_finish(p);
		return;
	case BDEV_STAGE_ABORT:
		if (ok) {
			p->abort_ok++;
		} else {
			p->abort_fail++;
		}
		bdev_io_release(c);
		if (p->outstanding == 0) {
			p->status = (p->abort_ok > 0 && p->abort_fail == 0)
			                    ? FTGT_BDEV_IO_STATUS_SUCCESS
			                    : FTGT_BDEV_IO_STATUS_FAILED;
			p->stage = BDEV_STAGE_NONE;
			bdev_io_complete_up(p);
		}
		return;
	default:
		FTGT_ERRLOG("bdev: child completed in stage %d\n", (int)p->stage);
		bdev_io_release(c);
		return;
	}
}

static void
bdev_io_complete_up(struct bdev_io_priv *p)
{
	bdev_io_unbounce(p);
	if (ftgt_unlikely(p->io.type == FTGT_BDEV_IO_TYPE_RESET && p->stage == BDEV_STAGE_RESET)) {
		bdev_reset_unfreeze(p);
		return;
	}
	if (ftgt_unlikely(p->is_child)) {
		bdev_child_done(p);
		return;
	}
	bdev_io_complete_user(p);
}

static void
bdev_io_module_done(struct bdev_io_priv *p)
{
	struct bdev_channel *ch = p->ch;

	p->queue = BDEV_IO_Q_NONE;
	ch->io_outstanding--;
	bdev_io_complete_up(p);
	if (ftgt_unlikely(!TAILQ_EMPTY(&ch->nomem_io))) {
		bdev_nomem_retry(ch);
	}
}

void
ftgt_bdev_io_complete(struct ftgt_bdev_io *io, enum ftgt_bdev_io_status status)
{
	struct bdev_io_priv *p = bdev_io_priv(io);
	struct bdev_channel *ch = p->ch;

	if (ftgt_unlikely(status == FTGT_BDEV_IO_STATUS_NOMEM)) {
		ch->io_outstanding--;
		bdev_queue_nomem(p, bdev_io_submit_module);
		return;
	}
	if (ftgt_unlikely(p->queue != BDEV_IO_Q_MODULE)) {
		FTGT_ERRLOG("bdev %s: I/O completed twice or not submitted (type %d)\n",
		            io->bdev->name, (int)io->type);
		return;
	}
	p->status = status;
	if (p->in_submit) {
		/* Keep queue == MODULE: the deferred handler decrements io_outstanding. */
		TAILQ_INSERT_TAIL(&ch->cpl_deferred, p, link);
		bdev_kick_deferred(ch);
		return;
	}
	bdev_io_module_done(p);
}

/* ---- submission to the module ------------------------------------------------------ */

static inline bool
ranges_overlap(uint64_t a_off, uint64_t a_len, uint64_t b_off, uint64_t b_len)
{
	return a_off < b_off + b_len && b_off < a_off + a_len;
}

static struct bdev_io_priv *
bdev_io_root(struct bdev_io_priv *p)
{
	while (p->parent != NULL) {
		p = p->parent;
	}
	return p;
}

/* Is p a write blocked by a range lock another I/O holds on this channel? */
static bool
bdev_io_is_locked_out(struct bdev_io_priv *p)
{
	struct lba_range *r;
	struct bdev_io_priv *root;

	if (!type_is_write(p->io.type) || p->bypass_lock) {
		return false;
	}
	root = bdev_io_root(p);
	TAILQ_FOREACH (r, &p->ch->locked_ranges, link) {
		if (r->acquired && r->owner != root &&
		    ranges_overlap(p->io.u.bdev.offset_blocks, p->io.u.bdev.num_blocks, r->offset,
		                   r->length)) {
			return true;
		}
	}
	return false;
}

static bool
iovs_aligned(const struct iovec *iovs, int iovcnt, size_t align)
{
	int i;

	for (i = 0; i < iovcnt; i++) {
		if (((uintptr_t)iovs[i].iov_base | iovs[i].iov_len) & (align - 1)) {
			return false;
		}
	}
	return true;
}

static void
bdev_io_submit_module(struct bdev_io_priv *p)
{
	struct bdev_channel *ch = p->ch;
	struct ftgt_bdev *bdev = ch->bdev;

	if (ftgt_unlikely(!TAILQ_EMPTY(&ch->locked_ranges)) && bdev_io_is_locked_out(p)) {
		p->queue = BDEV_IO_Q_LOCKED;
		TAILQ_INSERT_TAIL(&ch->locked_io, p, link);
		return;
	}
	if (ftgt_unlikely(bdev->required_alignment != 0) && type_has_data(p->io.type) &&
	    p->orig_iovs == NULL &&
	    !iovs_aligned(p->io.u.bdev.iovs, p->io.u.bdev.iovcnt,
	                  (size_t)1 << bdev->required_alignment)) {
		size_t len = p->io.u.bdev.num_blocks * bdev->blocklen;

		p->bounce = ftgt_dma_malloc(len, (size_t)1 << bdev->required_alignment);
		if (p->bounce == NULL) {
			bdev_queue_nomem(p, bdev_io_submit_module);
			return;
		}
		if (p->io.type != FTGT_BDEV_IO_TYPE_READ) {
			ftgt_iovec_to_buf(p->io.u.bdev.iovs, p->io.u.bdev.iovcnt, p->bounce, len);
		}
		p->orig_iovs = p->io.u.bdev.iovs;
		p->orig_iovcnt = p->io.u.bdev.iovcnt;
		p->bounce_iov.iov_base = p->bounce;
		p->bounce_iov.iov_len = len;
		p->io.u.bdev.iovs = &p->bounce_iov;
		p->io.u.bdev.iovcnt = 1;
	}
	p->queue = BDEV_IO_Q_MODULE;
	ch->io_outstanding++;
	p->in_submit = true;
	bdev->fn_table->submit_request(ch->module_ch, &p->io);
	p->in_submit = false;
}

/* ---- splitting --------------------------------------------------------------------- */

static uint64_t
child_max_blocks(struct bdev_io_priv *p, uint64_t offset)
{
	struct ftgt_bdev *bdev = p->ch->bdev;
	uint64_t max = UINT64_MAX;

	switch (p->child_type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
		if (bdev->max_rw_size != 0) {
			max = bdev->max_rw_size;
		}
		if (bdev->split_on_optimal_io_boundary && bdev->optimal_io_boundary != 0) {
			max = FTGT_MIN(max, bdev->optimal_io_boundary -
			                            offset % bdev->optimal_io_boundary);
		}
		break;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		if (bdev->max_unmap_blocks != 0) {
			max = bdev->max_unmap_blocks;
		}
		break;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		if (bdev->max_write_zeroes_blocks != 0) {
			max = bdev->max_write_zeroes_blocks;
		}
		break;
	default:
		break;
	}
	if (p->child_zero_src) {
		max = FTGT_MIN(max, (uint64_t)(BDEV_ZERO_BUF_BYTES / bdev->blocklen));
	}
	return max;
}

/*
 * Fill c->child_iov with up to *blocks blocks from p's iov cursor; shrinks *blocks when
 * the child's iovec array is too short. Returns 0 or -EINVAL (a block spans more than
 * the array).
 */
static int
split_build_iovs(struct bdev_io_priv *p, struct bdev_io_priv *c, uint64_t *blocks)
{
	uint32_t blocklen = p->ch->bdev->blocklen;
	uint64_t want = *blocks * blocklen, got = 0, keep;
	int idx = p->split_iov_idx, n = 0;
	size_t off = p->split_iov_off, take;
	const struct iovec *src = p->io.u.bdev.iovs;

	while (got < want && n < BDEV_IO_NUM_CHILD_IOV && idx < p->io.u.bdev.iovcnt) {
		take = FTGT_MIN(src[idx].iov_len - off, want - got);
		c->child_iov[n].iov_base = (uint8_t *)src[idx].iov_base + off;
		c->child_iov[n].iov_len = take;
		n++;
		got += take;
		off += take;
		if (off == src[idx].iov_len) {
			idx++;
			off = 0;
		}
	}
	if (got < want) {
		/* Out of child iovecs (or parent buffer too short): cut at a block. */
		keep = got - got % blocklen;
		if (keep == 0) {
			return -EINVAL;
		}
		/* Rewind the tail beyond `keep`. */
		while (got > keep) {
			size_t drop = FTGT_MIN(c->child_iov[n - 1].iov_len, got - keep);

			c->child_iov[n - 1].iov_len -= drop;
			got -= drop;
			if (c->child_iov[n - 1].iov_len == 0) {
				n--;
			}
		}
		/* Recompute the cursor from the start position. */
		idx = p->split_iov_idx;
		off = p->split_iov_off + keep;
		while (idx < p->io.u.bdev.iovcnt && off >= src[idx].iov_len) {
			off -= src[idx].iov_len;
			idx++;
		}
		*blocks = keep / blocklen;
	}
	p->split_iov_idx = idx;
	p->split_iov_off = off;
	c->io.u.bdev.iovs = c->child_iov;
	c->io.u.bdev.iovcnt = n;
	return 0;
}

static struct bdev_io_priv *
bdev_child_get(struct bdev_io_priv *p, enum ftgt_bdev_io_type type)
{
	struct bdev_io_priv *c = bdev_io_get(p->ch);

	if (c == NULL) {
		return NULL;
	}
	bdev_io_init(c, p->ch, p->desc, type, NULL, NULL);
	c->is_child = true;
	c->parent = p;
	c->bypass_lock = p->bypass_lock;
	c->io.io_flags = p->io.io_flags;
	c->submit_tsc = p->submit_tsc;
	return c;
}

static void
bdev_split_continue(struct bdev_io_priv *p)
{
	struct ftgt_bdev *bdev = p->ch->bdev;
	struct bdev_io_priv *c;
	uint64_t n;

	while (p->split_remaining > 0 && p->outstanding < BDEV_SPLIT_MAX_OUTSTANDING) {
		n = FTGT_MIN(p->split_remaining, child_max_blocks(p, p->split_offset));
		c = bdev_child_get(p, p->child_type);
		if (c == NULL) {
			if (p->outstanding == 0) {
				bdev_queue_nomem(p, bdev_split_continue);
			}
			return; /* a child's completion continues */
		}
		if (p->child_zero_src) {
			c->child_iov[0].iov_base = bdev_zero_buf();
			c->child_iov[0].iov_len = n * bdev->blocklen;
			c->io.u.bdev.iovs = c->child_iov;
			c->io.u.bdev.iovcnt = 1;
		} else if (type_has_data(p->child_type)) {
			if (split_build_iovs(p, c, &n) != 0) {
				bdev_io_release(c);
				p->status = FTGT_BDEV_IO_STATUS_FAILED;
				p->split_remaining = 0;
				if (p->outstanding == 0) {
					p->stage = BDEV_STAGE_NONE;
					bdev_io_complete_up(p);
				}
				return;
			}
		}
		if (p->io.u.bdev.md_buf != NULL) {
			c->io.u.bdev.md_buf =
			        (uint8_t *)p->io.u.bdev.md_buf +
			        (p->split_offset - p->io.u.bdev.offset_blocks) * bdev->md_len;
		}
		c->io.u.bdev.offset_blocks = p->split_offset;
		c->io.u.bdev.num_blocks = n;
		p->split_offset += n;
		p->split_remaining -= n;
		p->outstanding++;
		bdev_io_submit_module(c);
	}
}

static void
bdev_split_start(struct bdev_io_priv *p, enum ftgt_bdev_io_type child_type, bool zero_src)
{
	p->stage = BDEV_STAGE_SPLIT;
	p->child_type = child_type;
	p->child_zero_src = zero_src;
	p->split_offset = p->io.u.bdev.offset_blocks;
	p->split_remaining = p->io.u.bdev.num_blocks;
	p->split_iov_idx = 0;
	p->split_iov_off = 0;
	p->outstanding = 0;
	bdev_split_continue(p);
}

static bool
rw_needs_split(struct bdev_io_priv *p)
{
	struct ftgt_bdev *bdev = p->ch->bdev;
	uint64_t off = p->io.u.bdev.offset_blocks, n = p->io.u.bdev.num_blocks;

	if (bdev->max_rw_size != 0 && n > bdev->max_rw_size) {
		return true;
	}
	if (bdev->split_on_optimal_io_boundary && bdev->optimal_io_boundary != 0) {
		return off / bdev->optimal_io_boundary != (off + n - 1) / bdev->optimal_io_boundary;
	}
	return false;
}

/* ---- compare and compare-and-write --------------------------------------------------- */

static void
bdev_compare_start(struct bdev_io_priv *p)
{
	struct ftgt_bdev *bdev = p->ch->bdev;
	size_t len = p->io.u.bdev.num_blocks * bdev->blocklen;
	struct bdev_io_priv *c;

	if (p->bounce == NULL) {
		p->bounce = ftgt_dma_malloc(len, 64);
		if (p->bounce == NULL) {
			bdev_queue_nomem(p, bdev_compare_start);
			return;
		}
	}
	c = bdev_child_get(p, FTGT_BDEV_IO_TYPE_READ);
	if (c == NULL) {
		bdev_queue_nomem(p, bdev_compare_start);
		return;
	}
	p->bounce_iov.iov_base = p->bounce;
	p->bounce_iov.iov_len = len;
	p->stage = BDEV_STAGE_CMP_READ;
	p->outstanding = 1;
	c->child_iov[0] = p->bounce_iov;
	c->io.u.bdev.iovs = c->child_iov;
	c->io.u.bdev.iovcnt = 1;
	c->io.u.bdev.md_buf = NULL;
	c->io.u.bdev.offset_blocks = p->io.u.bdev.offset_blocks;
	c->io.u.bdev.num_blocks = p->io.u.bdev.num_blocks;
	bdev_io_start(c);
}

static void range_lock(struct bdev_io_priv *p, void (*cb)(struct bdev_io_priv *p));
static void range_unlock(struct bdev_io_priv *p, void (*cb)(struct bdev_io_priv *p));

static void
caw_write(struct bdev_io_priv *p)
{
	struct bdev_io_priv *c = bdev_child_get(p, FTGT_BDEV_IO_TYPE_WRITE);

	if (c == NULL) {
		bdev_queue_nomem(p, caw_write);
		return;
	}
	p->stage = BDEV_STAGE_CAW_WRITE;
	p->outstanding = 1;
	c->bypass_lock = true;
	c->io.u.bdev.iovs = p->fused_iovs;
	c->io.u.bdev.iovcnt = p->fused_iovcnt;
	c->io.u.bdev.offset_blocks = p->io.u.bdev.offset_blocks;
	c->io.u.bdev.num_blocks = p->io.u.bdev.num_blocks;
	bdev_io_start(c);
}

static void
caw_compare(struct bdev_io_priv *p)
{
	struct bdev_io_priv *c = bdev_child_get(p, FTGT_BDEV_IO_TYPE_COMPARE);

	if (c == NULL) {
		bdev_queue_nomem(p, caw_compare);
		return;
	}
	p->range_locked = true;
	p->stage = BDEV_STAGE_CAW_CMP;
	p->stage_cb = caw_write;
	p->outstanding = 1;
	c->bypass_lock = true;
	c->io.u.bdev.iovs = p->io.u.bdev.iovs;
	c->io.u.bdev.iovcnt = p->io.u.bdev.iovcnt;
	c->io.u.bdev.offset_blocks = p->io.u.bdev.offset_blocks;
	c->io.u.bdev.num_blocks = p->io.u.bdev.num_blocks;
	bdev_io_start(c);
}

static void
caw_unlocked(struct bdev_io_priv *p)
{
	p->stage = BDEV_STAGE_NONE;
	bdev_io_complete_up(p);
}

static void
caw_finish(struct bdev_io_priv *p)
{
	if (p->status == FTGT_BDEV_IO_STATUS_PENDING) {
		p->status = FTGT_BDEV_IO_STATUS_FAILED;
	}
	if (p->range_locked) {
		p->stage = BDEV_STAGE_CAW_UNLOCK;
		range_unlock(p, caw_unlocked);
		return;
	}
	caw_unlocked(p);
}

/* ---- range locks ------------------------------------------------------------------- */

struct range_walk {
	struct bdev_io_priv *p;
	void (*cb)(struct bdev_io_priv *p);
};

/*
 * Anything on ch that must finish before r can be held there: another lock held on an
 * overlapping range, or a write to the range in flight. Compare-and-writes in flight are
 * not waited for as writes: each one holds (or waits for) its own lock, and waiting for
 * them here could deadlock two of them.
 */
static bool
range_conflicts(struct bdev_channel *ch, struct lba_range *r)
{
	struct bdev_io_priv *q;
	struct lba_range *o;

	TAILQ_FOREACH (o, &ch->locked_ranges, link) {
		if (o != r && o->acquired &&
		    ranges_overlap(o->offset, o->length, r->offset, r->length)) {
			return true;
		}
	}
	TAILQ_FOREACH (q, &ch->io_submitted, ch_link) {
		if (q != r->owner && type_is_write(q->io.type) &&
		    q->io.type != FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE &&
		    ranges_overlap(q->io.u.bdev.offset_blocks, q->io.u.bdev.num_blocks, r->offset,
		                   r->length)) {
			return true;
		}
	}
	return false;
}

static void
bdev_range_recheck(struct bdev_channel *ch)
{
	struct lba_range *r;
	struct ftgt_io_channel_iter *i;

	TAILQ_FOREACH (r, &ch->locked_ranges, link) {
		if (r->pending_iter != NULL && !range_conflicts(ch, r)) {
			i = r->pending_iter;
			r->pending_iter = NULL;
			r->acquired = true;
			/* Asynchronous (a message): the list stays as it is while we loop. */
			ftgt_for_each_channel_continue(i, 0);
		}
	}
}

static void
range_lock_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	struct range_walk *w = ftgt_io_channel_iter_get_ctx(i);
	struct lba_range *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		ftgt_for_each_channel_continue(i, -ENOMEM);
		return;
	}
	r->offset = w->p->io.u.bdev.offset_blocks;
	r->length = w->p->io.u.bdev.num_blocks;
	r->owner = w->p;
	r->owner_ch = w->p->ch;
	TAILQ_INSERT_TAIL(&ch->locked_ranges, r, link);
	if (range_conflicts(ch, r)) {
		r->pending_iter = i;
		return;
	}
	r->acquired = true;
	ftgt_for_each_channel_continue(i, 0);
}

static void
range_lock_done(struct ftgt_io_channel_iter *i, int status)
{
	struct range_walk *w = ftgt_io_channel_iter_get_ctx(i);
	struct bdev_io_priv *p = w->p;
	void (*cb)(struct bdev_io_priv * p) = w->cb;

	free(w);
	if (status != 0) {
		/* Out of memory on some channel: undo what was taken, then retry. */
		p->range_locked = true;
		p->status = FTGT_BDEV_IO_STATUS_PENDING;
		range_unlock(p, NULL);
		return;
	}
	cb(p);
}

static void
range_lock(struct bdev_io_priv *p, void (*cb)(struct bdev_io_priv *p))
{
	struct range_walk *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		bdev_queue_nomem(p, p->retry_fn);
		return;
	}
	w->p = p;
	w->cb = cb;
	ftgt_for_each_channel(p->ch->bdev->internal, range_lock_ch, w, range_lock_done);
}

static void
range_unlock_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	struct range_walk *w = ftgt_io_channel_iter_get_ctx(i);
	struct bdev_io_tailq list;
	struct lba_range *r, *tmp;
	struct bdev_io_priv *q;

	for (r = TAILQ_FIRST(&ch->locked_ranges); r != NULL; r = tmp) {
		tmp = TAILQ_NEXT(r, link);
		if (r->owner == w->p) {
			TAILQ_REMOVE(&ch->locked_ranges, r, link);
			free(r);
		}
	}
	/* Writes that waited for the range go again (those still blocked requeue). */
	TAILQ_INIT(&list);
	TAILQ_CONCAT(&list, &ch->locked_io, link);
	while ((q = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, q, link);
		q->queue = BDEV_IO_Q_NONE;
		bdev_io_submit_module(q);
	}
	bdev_range_recheck(ch);
	ftgt_for_each_channel_continue(i, 0);
}

static void
caw_lock_retry(struct bdev_io_priv *p)
{
	range_lock(p, caw_compare);
}

static void
range_unlock_done(struct ftgt_io_channel_iter *i, int status)
{
	struct range_walk *w = ftgt_io_channel_iter_get_ctx(i);
	struct bdev_io_priv *p = w->p;
	void (*cb)(struct bdev_io_priv * p) = w->cb;

	free(w);
	p->range_locked = false;
	if (cb == NULL) {
		/* Undone after a failed lock: try again once memory is back. */
		bdev_queue_nomem(p, caw_lock_retry);
		return;
	}
	cb(p);
}

static void
range_unlock(struct bdev_io_priv *p, void (*cb)(struct bdev_io_priv *p))
{
	struct range_walk *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		/* Cannot even unlock: try again on the next retry round. */
		FTGT_ERRLOG("bdev %s: out of memory releasing an LBA range lock\n",
		            p->ch->bdev->name);
		p->stage_cb = cb;
		bdev_queue_nomem(p, caw_finish);
		return;
	}
	w->p = p;
	w->cb = cb;
	ftgt_for_each_channel(p->ch->bdev->internal, range_unlock_ch, w, range_unlock_done);
}

static void
caw_start(struct bdev_io_priv *p)
{
	p->stage = BDEV_STAGE_CAW_LOCK;
	p->retry_fn = caw_lock_retry;
	range_lock(p, caw_compare);
}

/* ---- dispatch ---------------------------------------------------------------------- */

/* Carry out p (a user I/O past the reset/QoS gates, or a child). */
static void
bdev_io_start(struct bdev_io_priv *p)
{
	struct ftgt_bdev *bdev = p->ch->bdev;

	switch (p->io.type) {
	case FTGT_BDEV_IO_TYPE_READ:
	case FTGT_BDEV_IO_TYPE_WRITE:
		if (ftgt_unlikely(rw_needs_split(p))) {
			bdev_split_start(p, p->io.type, false);
			return;
		}
		bdev_io_submit_module(p);
		return;
	case FTGT_BDEV_IO_TYPE_UNMAP:
		if (bdev->max_unmap_blocks != 0 &&
		    p->io.u.bdev.num_blocks > bdev->max_unmap_blocks) {
			bdev_split_start(p, FTGT_BDEV_IO_TYPE_UNMAP, false);
			return;
		}
		bdev_io_submit_module(p);
		return;
	case FTGT_BDEV_IO_TYPE_WRITE_ZEROES:
		if (!module_supports(bdev, FTGT_BDEV_IO_TYPE_WRITE_ZEROES)) {
			bdev_split_start(p, FTGT_BDEV_IO_TYPE_WRITE, true);
			return;
		}
		if (bdev->max_write_zeroes_blocks != 0 &&
		    p->io.u.bdev.num_blocks > bdev->max_write_zeroes_blocks) {
			bdev_split_start(p, FTGT_BDEV_IO_TYPE_WRITE_ZEROES, false);
			return;
		}
		bdev_io_submit_module(p);
		return;
	case FTGT_BDEV_IO_TYPE_FLUSH:
		if (!module_supports(bdev, FTGT_BDEV_IO_TYPE_FLUSH)) {
			/* Nothing volatile to flush. */
			bdev_io_complete_soon(p, FTGT_BDEV_IO_STATUS_SUCCESS);
			return;
		}
		bdev_io_submit_module(p);
		return;
	case FTGT_BDEV_IO_TYPE_COMPARE:
		if (module_supports(bdev, FTGT_BDEV_IO_TYPE_COMPARE) && !rw_needs_split(p)) {
			bdev_io_submit_module(p);
			return;
		}
		bdev_compare_start(p);
		return;
	case FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE:
		/*
		 * A module that does it atomically itself (an NVMe fused pair) gets it whole;
		 * otherwise the core emulates it under an LBA range lock.
		 */
		if (module_supports(bdev, FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE) &&
		    !rw_needs_split(p)) {
			p->io.u.bdev.fused_iovs = p->fused_iovs;
			p->io.u.bdev.fused_iovcnt = p->fused_iovcnt;
			bdev_io_submit_module(p);
			return;
		}
		caw_start(p);
		return;
	case FTGT_BDEV_IO_TYPE_RESET:
		bdev_reset_start(p);
		return;
	default:
		bdev_io_complete_soon(p, FTGT_BDEV_IO_STATUS_FAILED);
		return;
	}
}

void
bdev_io_submit_qos_ready(struct bdev_io_priv *p)
{
	bdev_io_start(p);
}

/* User I/O: the reset and QoS gates, then start. */
static void
bdev_io_dispatch(struct bdev_io_priv *p)
{
	struct bdev_channel *ch = p->ch;

	if (ftgt_unlikely(ch->flags != 0)) {
		if (ch->flags & BDEV_CH_RESET_IN_PROGRESS) {
			p->queue = BDEV_IO_Q_HELD;
			TAILQ_INSERT_TAIL(&ch->held_io, p, link);
			return;
		}
		if ((ch->flags & BDEV_CH_QOS) && bdev_qos_io_limited(&p->io)) {
			bdev_qos_enqueue(ch, p);
			return;
		}
	}
	bdev_io_start(p);
}

/* ---- front-end submission ---------------------------------------------------------- */

static inline int
bdev_check_range(struct ftgt_bdev *bdev, uint64_t offset, uint64_t num)
{
	if (ftgt_unlikely(num == 0 || offset + num < offset || offset + num > bdev->blockcnt)) {
		return -EINVAL;
	}
	return 0;
}

static inline struct bdev_io_priv *
bdev_user_io_get(struct ftgt_bdev_desc *desc, struct bdev_channel *ch, enum ftgt_bdev_io_type type,
                 ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	struct bdev_io_priv *p = bdev_io_get(ch);

	if (ftgt_unlikely(p == NULL)) {
		return NULL;
	}
	bdev_io_init(p, ch, desc, type, cb_fn, cb_arg);
	p->user_io = true;
	TAILQ_INSERT_TAIL(&ch->io_submitted, p, ch_link);
	p->submit_tsc = ch->in_batch ? ch->batch_tsc : bdev_get_ticks();
	return p;
}

int
bdev_rw(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *_ch, enum ftgt_bdev_io_type type,
        struct iovec *iov, int iovcnt, void *buf, uint64_t offset, uint64_t num,
        ftgt_bdev_io_completion_cb cb_fn, void *cb_arg, const struct ftgt_bdev_ext_io_opts *opts)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(_ch);
	struct ftgt_bdev *bdev = ch->bdev;
	struct bdev_io_priv *p;

	if (ftgt_unlikely(bdev_check_range(bdev, offset, num) != 0)) {
		return -EINVAL;
	}
	if (ftgt_unlikely(type_is_write(type) && !desc->write)) {
		return -EBADF;
	}
	if (ftgt_unlikely(ch->flags & BDEV_CH_REMOVING)) {
		return -ENODEV;
	}
	if (ftgt_unlikely(iov == NULL && buf == NULL && type_has_data(type))) {
		return -EINVAL;
	}
	if (ftgt_unlikely(iov != NULL && (iovcnt <= 0 || iovcnt > 1024))) {
		return -EINVAL;
	}
	p = bdev_user_io_get(desc, ch, type, cb_fn, cb_arg);
	if (ftgt_unlikely(p == NULL)) {
		return -ENOMEM;
	}
	if (buf != NULL) {
		p->iov.iov_base = buf;
		p->iov.iov_len = num * bdev->blocklen;
		iov = &p->iov;
		iovcnt = 1;
	}
	p->io.u.bdev.iovs = iov;
	p->io.u.bdev.iovcnt = iov != NULL ? iovcnt : 0;
	p->io.u.bdev.offset_blocks = offset;
	p->io.u.bdev.num_blocks = num;
	if (opts != NULL) {
		if (opts->size >=
		    offsetof(struct ftgt_bdev_ext_io_opts, io_flags) + sizeof(uint32_t)) {
			p->io.io_flags = opts->io_flags;
		}
		if (opts->size >= offsetof(struct ftgt_bdev_ext_io_opts, md_buf) + sizeof(void *)) {
			p->io.u.bdev.md_buf = opts->md_buf;
		}
	}
	bdev_io_dispatch(p);
	return 0;
}

int
ftgt_bdev_comparev_and_writev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *_ch,
                                     struct iovec *compare_iov, int compare_iovcnt,
                                     struct iovec *write_iov, int write_iovcnt,
                                     uint64_t offset_blocks, uint64_t num_blocks,
                                     ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(_ch);
	struct bdev_io_priv *p;

	if (bdev_check_range(desc->bdev, offset_blocks, num_blocks) != 0 ||
	    num_blocks > ftgt_bdev_get_acwu(desc->bdev) || compare_iov == NULL ||
	    compare_iovcnt <= 0 || write_iov == NULL || write_iovcnt <= 0) {
		return -EINVAL;
	}
	if (!desc->write) {
		return -EBADF;
	}
	if (ch->flags & BDEV_CH_REMOVING) {
		return -ENODEV;
	}
	p = bdev_user_io_get(desc, ch, FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE, cb_fn, cb_arg);
	if (p == NULL) {
		return -ENOMEM;
	}
	p->io.u.bdev.iovs = compare_iov;
	p->io.u.bdev.iovcnt = compare_iovcnt;
	p->fused_iovs = write_iov;
	p->fused_iovcnt = write_iovcnt;
	p->io.u.bdev.offset_blocks = offset_blocks;
	p->io.u.bdev.num_blocks = num_blocks;
	bdev_io_dispatch(p);
	return 0;
}

/* ---- reset ------------------------------------------------------------------------- */

static void reset_check(struct bdev_io_priv *p);

static int
reset_wait_poll(void *arg)
{
	struct bdev_io_priv *p = arg;

	ftgt_poller_unregister(&p->poller);
	reset_check(p);
	return FTGT_POLLER_BUSY;
}

static void
reset_check_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	bool busy = ch->io_outstanding != 0 || !TAILQ_EMPTY(&ch->nomem_io) ||
	            !TAILQ_EMPTY(&ch->locked_io) || !TAILQ_EMPTY(&ch->cpl_deferred);

	ftgt_for_each_channel_continue(i, busy ? -EAGAIN : 0);
}

static void
reset_check_done(struct ftgt_io_channel_iter *i, int status)
{
	struct bdev_io_priv *p = ftgt_io_channel_iter_get_ctx(i);
	struct ftgt_bdev *bdev = p->ch->bdev;

	if (status == -EAGAIN) {
		p->poller = ftgt_poller_register(reset_wait_poll, p, BDEV_RESET_POLL_US,
		                                 "bdev_reset_wait");
		if (p->poller == NULL) {
			reset_check(p);
		}
		return;
	}
	if (module_supports(bdev, FTGT_BDEV_IO_TYPE_RESET)) {
		/* Completion comes back through bdev_io_complete_up -> unfreeze. */
		bdev_io_submit_module(p);
		return;
	}
	p->status = FTGT_BDEV_IO_STATUS_SUCCESS;
	bdev_reset_unfreeze(p);
}

static void
reset_check(struct bdev_io_priv *p)
{
	ftgt_for_each_channel(p->ch->bdev->internal, reset_check_ch, p, reset_check_done);
}

static void
reset_freeze_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));

	ch->flags |= BDEV_CH_RESET_IN_PROGRESS;
	ftgt_for_each_channel_continue(i, 0);
}

static void
reset_freeze_done(struct ftgt_io_channel_iter *i, int status)
{
	reset_check(ftgt_io_channel_iter_get_ctx(i));
}

static void
bdev_reset_start(struct bdev_io_priv *p)
{
	struct ftgt_bdev_internal *in = p->ch->bdev->internal;
	bool busy;

	pthread_mutex_lock(&in->mutex);
	busy = in->reset_in_progress;
	in->reset_in_progress = true;
	pthread_mutex_unlock(&in->mutex);
	if (busy) {
		/* Another reset runs: this one starts after it (when held I/O is released). */
		p->queue = BDEV_IO_Q_HELD;
		TAILQ_INSERT_TAIL(&p->ch->held_io, p, link);
		return;
	}
	p->stage = BDEV_STAGE_RESET;
	ftgt_for_each_channel(in, reset_freeze_ch, p, reset_freeze_done);
}

static void
reset_unfreeze_ch(struct ftgt_io_channel_iter *i)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(ftgt_io_channel_iter_get_channel(i));
	struct bdev_io_tailq list;
	struct bdev_io_priv *q;

	ch->flags &= ~BDEV_CH_RESET_IN_PROGRESS;
	TAILQ_INIT(&list);
	TAILQ_CONCAT(&list, &ch->held_io, link);
	while ((q = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, q, link);
		q->queue = BDEV_IO_Q_NONE;
		bdev_io_dispatch(q);
	}
	ftgt_for_each_channel_continue(i, 0);
}

static void
reset_unfreeze_done(struct ftgt_io_channel_iter *i, int status)
{
	struct bdev_io_priv *p = ftgt_io_channel_iter_get_ctx(i);

	p->stage = BDEV_STAGE_NONE;
	bdev_io_complete_user(p);
}

static void
bdev_reset_unfreeze(struct bdev_io_priv *p)
{
	struct ftgt_bdev_internal *in = p->ch->bdev->internal;

	pthread_mutex_lock(&in->mutex);
	in->reset_in_progress = false;
	pthread_mutex_unlock(&in->mutex);
	ftgt_for_each_channel(in, reset_unfreeze_ch, p, reset_unfreeze_done);
}

int
ftgt_bdev_reset(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *_ch,
                ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(_ch);
	struct bdev_io_priv *p;

	if (ch->flags & BDEV_CH_REMOVING) {
		return -ENODEV;
	}
	p = bdev_user_io_get(desc, ch, FTGT_BDEV_IO_TYPE_RESET, cb_fn, cb_arg);
	if (p == NULL) {
		return -ENOMEM;
	}
	/* Not through the held queue of its own channel: a reset is never held by itself. */
	if (ch->flags & BDEV_CH_RESET_IN_PROGRESS) {
		p->queue = BDEV_IO_Q_HELD;
		TAILQ_INSERT_TAIL(&ch->held_io, p, link);
		return 0;
	}
	bdev_reset_start(p);
	return 0;
}

/* ---- abort ------------------------------------------------------------------------- */

/* Remove p from the core queue it waits in; false when it is not in one we own. */
static bool
bdev_io_unqueue(struct bdev_io_priv *p)
{
	struct bdev_channel *ch = p->ch;

	switch (p->queue) {
	case BDEV_IO_Q_NOMEM:
		TAILQ_REMOVE(&ch->nomem_io, p, link);
		break;
	case BDEV_IO_Q_LOCKED:
		TAILQ_REMOVE(&ch->locked_io, p, link);
		break;
	case BDEV_IO_Q_HELD:
		TAILQ_REMOVE(&ch->held_io, p, link);
		break;
	default:
		return false;
	}
	p->queue = BDEV_IO_Q_NONE;
	return true;
}

/* Fail an I/O taken off a core queue; a caw gives its range back first. */
static void
bdev_io_fail_unqueued(struct bdev_io_priv *p, enum ftgt_bdev_io_status status)
{
	p->status = status;
	if (p->io.type == FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE && !p->is_child) {
		caw_finish(p);
		return;
	}
	if (p->bounce != NULL && p->orig_iovs == NULL) {
		/* A compare's buffer (not an alignment bounce, which unbounce frees). */
		ftgt_dma_free(p->bounce);
		p->bounce = NULL;
	}
	if (p->stage == BDEV_STAGE_CMP_READ && p->bounce != NULL) {
		ftgt_dma_free(p->bounce);
		p->bounce = NULL;
	}
	p->stage = BDEV_STAGE_NONE;
	bdev_io_complete_up(p);
}

void
bdev_channel_abort_queued(struct bdev_channel *ch)
{
	struct bdev_io_tailq *queues[] = {&ch->held_io, &ch->locked_io, &ch->nomem_io};
	struct bdev_io_priv *p;
	size_t q;

	for (q = 0; q < FTGT_COUNTOF(queues); q++) {
		while ((p = TAILQ_FIRST(queues[q])) != NULL) {
			bdev_io_unqueue(p);
			bdev_io_fail_unqueued(p, FTGT_BDEV_IO_STATUS_ABORTED);
		}
	}
}

int
ftgt_bdev_abort(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *_ch, void *bio_cb_arg,
                ftgt_bdev_io_completion_cb cb_fn, void *cb_arg)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(_ch);
	struct ftgt_bdev *bdev = ch->bdev;
	struct bdev_io_priv *p, *m, *c;
	struct bdev_io_tailq to_fail;
	bool any = false;

	TAILQ_FOREACH (m, &ch->io_submitted, ch_link) {
		if (m->cb_arg == bio_cb_arg && m->io.type != FTGT_BDEV_IO_TYPE_ABORT &&
		    m->io.type != FTGT_BDEV_IO_TYPE_RESET) {
			any = true;
			break;
		}
	}
	if (!any) {
		return -ENOENT;
	}
	p = bdev_user_io_get(desc, ch, FTGT_BDEV_IO_TYPE_ABORT, cb_fn, cb_arg);
	if (p == NULL) {
		return -ENOMEM;
	}
	p->stage = BDEV_STAGE_ABORT;
	p->abort_ok = 0;
	p->abort_fail = 0;
	TAILQ_INIT(&to_fail);
	TAILQ_FOREACH (m, &ch->io_submitted, ch_link) {
		if (m->cb_arg != bio_cb_arg || m == p || m->io.type == FTGT_BDEV_IO_TYPE_ABORT ||
		    m->io.type == FTGT_BDEV_IO_TYPE_RESET || m->abort_req) {
			continue;
		}
		m->abort_req = true;
		if (m->outstanding == 0 && !m->range_locked && bdev_io_unqueue(m)) {
			/* Waiting in the core: fail it (from a message, not inside this call). */
			m->status = FTGT_BDEV_IO_STATUS_ABORTED;
			m->stage = BDEV_STAGE_NONE;
			if (m->bounce != NULL && m->orig_iovs == NULL) {
				ftgt_dma_free(m->bounce);
				m->bounce = NULL;
			}
			TAILQ_INSERT_TAIL(&to_fail, m, link);
			p->abort_ok++;
		} else if (m->queue == BDEV_IO_Q_MODULE &&
		           module_supports(bdev, FTGT_BDEV_IO_TYPE_ABORT)) {
			c = bdev_child_get(p, FTGT_BDEV_IO_TYPE_ABORT);
			if (c == NULL) {
				p->abort_fail++;
				continue;
			}
			c->io.u.abort.bio_to_abort = &m->io;
			p->outstanding++;
			bdev_io_submit_module(c);
		} else {
			p->abort_fail++;
		}
	}
	while ((m = TAILQ_FIRST(&to_fail)) != NULL) {
		TAILQ_REMOVE(&to_fail, m, link);
		bdev_io_complete_soon(m, FTGT_BDEV_IO_STATUS_ABORTED);
	}
	if (p->outstanding == 0) {
		p->stage = BDEV_STAGE_NONE;
		bdev_io_complete_soon(p, (p->abort_ok > 0 && p->abort_fail == 0)
		                                 ? FTGT_BDEV_IO_STATUS_SUCCESS
		                                 : FTGT_BDEV_IO_STATUS_FAILED);
	}
	return 0;
}

/* ---- waiting for a bdev_io --------------------------------------------------------- */

int
ftgt_bdev_queue_io_wait(struct ftgt_bdev *bdev, struct ftgt_io_channel *_ch,
                        struct ftgt_bdev_io_wait_entry *entry)
{
	struct bdev_channel *ch = ftgt_io_channel_get_ctx(_ch);

	if (entry == NULL || entry->bdev != bdev || ch->bdev != bdev || entry->cb_fn == NULL) {
		return -EINVAL;
	}
	if (ch->mgmt->cache_count > 0) {
		return -EINVAL; /* no shortage: retry now */
	}
	TAILQ_INSERT_TAIL(&ch->mgmt->io_wait_queue, entry, link);
	return 0;
}
