/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Block devices: the API front ends (nvmf, scsi, bdevperf) use. A front end never knows
 * which module backs a bdev; it opens a descriptor by name, gets an io channel on each
 * thread that submits I/O, and submits reads, writes and the other I/O types there.
 *
 * Threads:
 * - A descriptor belongs to the thread that opened it: its event callback runs there and
 *   it must be closed there. Open/close/lookup work from any ftgt_thread.
 * - An io channel (ftgt_bdev_get_io_channel) belongs to the thread that got it. I/O is
 *   submitted on that thread and completes on that thread.
 *
 * Asynchronous contract (every function taking cb_fn, cb_arg): a return of 0 means cb_fn
 * runs exactly once, later, never from inside the call; a negative return means it never
 * runs. An I/O submitted successfully always completes exactly once — also on hot remove,
 * reset or abort — with success or failure, never silently.
 *
 * Resource exhaustion: submission returns -ENOMEM only when no struct ftgt_bdev_io is left
 * on this thread; the caller then queues a retry with ftgt_bdev_queue_io_wait(). Once an
 * I/O was accepted, shortages below (module queue full, split children, bounce buffers,
 * QoS) make it wait and retry inside the core; it is never failed for that reason.
 */
#ifndef FTGT_BDEV_H
#define FTGT_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "ftgt/histogram.h"
#include "ftgt/uuid.h"

struct ftgt_bdev;
struct ftgt_bdev_desc;
struct ftgt_bdev_io;
struct ftgt_io_channel;

/* Largest name of a bdev or alias, without the NUL. */
#define FTGT_BDEV_MAX_NAME_LEN 255

/* I/O types. The values are stable (used as array indexes in stats). */
enum ftgt_bdev_io_type {
	FTGT_BDEV_IO_TYPE_INVALID = 0,
	FTGT_BDEV_IO_TYPE_READ,
	FTGT_BDEV_IO_TYPE_WRITE,
	FTGT_BDEV_IO_TYPE_UNMAP,
	FTGT_BDEV_IO_TYPE_FLUSH,
	FTGT_BDEV_IO_TYPE_RESET,
	FTGT_BDEV_IO_TYPE_WRITE_ZEROES,
	FTGT_BDEV_IO_TYPE_COMPARE,
	FTGT_BDEV_IO_TYPE_COMPARE_AND_WRITE,
	FTGT_BDEV_IO_TYPE_ABORT,
	FTGT_BDEV_NUM_IO_TYPES,
};
/* "read", "write", "unmap", "flush", "reset", "write_zeroes", "compare",
 * "compare_and_write", "abort" ("invalid" otherwise). */
const char *ftgt_bdev_io_type_name(enum ftgt_bdev_io_type type);

/*
 * Completion status of an I/O. Modules set it with ftgt_bdev_io_complete*(); front ends
 * read it with ftgt_bdev_io_get_status() and the translators below.
 */
enum ftgt_bdev_io_status {
	FTGT_BDEV_IO_STATUS_AIO_ERROR = -8,          /* failed with an errno (see get_errno) */
	FTGT_BDEV_IO_STATUS_ABORTED = -7,            /* aborted (abort, reset or hot remove) */
	FTGT_BDEV_IO_STATUS_FIRST_FUSED_FAILED = -6, /* write of a compare-and-write skipped */
	FTGT_BDEV_IO_STATUS_MISCOMPARE = -5,         /* compare found different data */
	FTGT_BDEV_IO_STATUS_NOMEM = -4,              /* module: retry later (never seen by users) */
	FTGT_BDEV_IO_STATUS_SCSI_ERROR = -3,         /* failed with SCSI sense from the module */
	FTGT_BDEV_IO_STATUS_NVME_ERROR = -2,         /* failed with NVMe status from the module */
	FTGT_BDEV_IO_STATUS_FAILED = -1,             /* failed, no detail */
	FTGT_BDEV_IO_STATUS_PENDING = 0,
	FTGT_BDEV_IO_STATUS_SUCCESS = 1,
};

/* Flags for the _ext submit functions. */
#define FTGT_BDEV_IO_FLAG_FUA (1u << 0) /* write: durable before completion */

/*
 * Extended submit options (readv/writev _ext). `size` is sizeof(struct) as the caller
 * knows it, so the struct can grow; fields past `size` count as zero.
 */
struct ftgt_bdev_ext_io_opts {
	size_t size;
	uint32_t io_flags; /* FTGT_BDEV_IO_FLAG_* */
	/* Separate metadata buffer (md_size * num_blocks bytes) for bdevs whose metadata
	 * is not interleaved; NULL when the bdev has none or it is interleaved. */
	void *md_buf;
};

/* ---- events, open, close ------------------------------------------------------------- */

enum ftgt_bdev_event_type {
	/* The bdev is going away (deleted or the back end disappeared). The holder must
	 * stop submitting, put its channels and close the descriptor; I/O already
	 * submitted completes (possibly with failure). */
	FTGT_BDEV_EVENT_REMOVE,
	/* The block count changed; ftgt_bdev_get_num_blocks() has the new value. */
	FTGT_BDEV_EVENT_RESIZE,
};

/* Runs on the thread that opened the descriptor. */
typedef void (*ftgt_bdev_event_cb)(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev,
                                   void *event_ctx);

/*
 * Open the bdev called `name` (name or alias). write: whether the descriptor may write.
 * event_cb is required (it must handle FTGT_BDEV_EVENT_REMOVE).
 * Calling thread: any ftgt_thread; the descriptor belongs to it.
 * Returns 0 and *desc, or -EINVAL (NULL name or event_cb), -ENODEV (no such bdev, or it
 * is being removed), -EPERM (write asked and the bdev is claimed by a module with write
 * access: only the claimer's own descriptor may write), -ENOMEM.
 */
int ftgt_bdev_open_ext(const char *name, bool write, ftgt_bdev_event_cb event_cb, void *event_ctx,
                       struct ftgt_bdev_desc **desc);

/*
 * Close a descriptor, on the thread that opened it. Every channel got from it must have
 * been put first (ftgt_put_io_channel). Releases a claim made through this descriptor.
 * After the last close of a bdev being removed, its removal continues.
 */
void ftgt_bdev_close(struct ftgt_bdev_desc *desc);

struct ftgt_bdev *ftgt_bdev_desc_get_bdev(struct ftgt_bdev_desc *desc);

/*
 * Claim the bdev for a front end (e.g. "nvmf subsystem nqn...:ns 1") through an open
 * descriptor: a claimed bdev cannot be claimed again nor deleted by an RPC until the
 * claim is released (ftgt_bdev_release or close). Hot remove still notifies the holder.
 * Returns 0, -EPERM (already claimed; the log names the holder), -EINVAL.
 * Calling thread: the descriptor's.
 */
int ftgt_bdev_claim(struct ftgt_bdev_desc *desc, const char *owner);
void ftgt_bdev_release(struct ftgt_bdev_desc *desc);
/* Name of the module or front end that claimed the bdev, or NULL. Any thread. */
const char *ftgt_bdev_get_claim_owner(const struct ftgt_bdev *bdev);

/*
 * The calling thread's I/O channel for the descriptor's bdev. Put it with
 * ftgt_put_io_channel() on the same thread. NULL on failure (no memory, or the bdev is
 * being removed).
 */
struct ftgt_io_channel *ftgt_bdev_get_io_channel(struct ftgt_bdev_desc *desc);

/* ---- lookup and properties (any thread; management path) ----------------------------- */

/* By name or alias; NULL when none. The pointer stays valid while the caller holds an
 * open descriptor, or until it returns to its thread's poll loop otherwise. */
struct ftgt_bdev *ftgt_bdev_get_by_name(const char *name);
/* Iterate registered bdevs in registration order (base bdevs before stacked ones). */
struct ftgt_bdev *ftgt_bdev_first(void);
struct ftgt_bdev *ftgt_bdev_next(struct ftgt_bdev *prev);
/* Bdevs nobody claimed (the "leaves" a front end may export). */
struct ftgt_bdev *ftgt_bdev_first_leaf(void);
struct ftgt_bdev *ftgt_bdev_next_leaf(struct ftgt_bdev *prev);

const char *ftgt_bdev_get_name(const struct ftgt_bdev *bdev);
const char *ftgt_bdev_get_product_name(const struct ftgt_bdev *bdev);
/* Module name ("malloc", "null", ...). */
const char *ftgt_bdev_get_module_name(const struct ftgt_bdev *bdev);
/* Call fn for each alias; stops when fn returns non-zero. */
void ftgt_bdev_for_each_alias(const struct ftgt_bdev *bdev, int (*fn)(const char *alias, void *ctx),
                              void *ctx);
/* Add/remove an alias: 0, -EEXIST (name taken by any bdev or alias), -ENOENT, -EINVAL. */
int ftgt_bdev_alias_add(struct ftgt_bdev *bdev, const char *alias);
int ftgt_bdev_alias_del(struct ftgt_bdev *bdev, const char *alias);

/* Bytes per logical block as the host sees it, interleaved metadata included (512, 520,
 * 4096, 4104, ...). */
uint32_t ftgt_bdev_get_block_size(const struct ftgt_bdev *bdev);
/* Bytes of data per block (block size minus interleaved metadata). */
uint32_t ftgt_bdev_get_data_block_size(const struct ftgt_bdev *bdev);
uint64_t ftgt_bdev_get_num_blocks(const struct ftgt_bdev *bdev);
/* Metadata bytes per block (0 = none) and whether it is interleaved with the data. */
uint32_t ftgt_bdev_get_md_size(const struct ftgt_bdev *bdev);
bool ftgt_bdev_is_md_interleaved(const struct ftgt_bdev *bdev);
bool ftgt_bdev_is_md_separate(const struct ftgt_bdev *bdev);
const struct ftgt_uuid *ftgt_bdev_get_uuid(const struct ftgt_bdev *bdev);
/* Whether the device has a volatile write cache (FLUSH and FUA matter). */
bool ftgt_bdev_has_write_cache(const struct ftgt_bdev *bdev);
/* Blocks; 0 = none. I/O crossing it is split by the core when the module asks for it. */
uint32_t ftgt_bdev_get_optimal_io_boundary(const struct ftgt_bdev *bdev);
/* Largest read/write the module accepts in one request, in blocks (0 = unlimited). */
uint32_t ftgt_bdev_get_max_rw_blocks(const struct ftgt_bdev *bdev);
/* Required data buffer alignment in bytes (1 = none); the core bounces other buffers. */
size_t ftgt_bdev_get_buf_align(const struct ftgt_bdev *bdev);
/* Atomic compare-and-write unit in blocks (the largest compare_and_write accepted). */
uint32_t ftgt_bdev_get_acwu(const struct ftgt_bdev *bdev);
/* Whether `type` can be submitted (natively or emulated by the core). */
bool ftgt_bdev_io_type_supported(struct ftgt_bdev *bdev, enum ftgt_bdev_io_type type);

/* ---- I/O ---------------------------------------------------------------------------- */

/*
 * Completion of an I/O, on the submitting thread. success is true only for
 * FTGT_BDEV_IO_STATUS_SUCCESS. The callee owns `io` until it calls ftgt_bdev_free_io()
 * (it may first read the status detail); it must free it exactly once.
 */
typedef void (*ftgt_bdev_io_completion_cb)(struct ftgt_bdev_io *io, bool success, void *cb_arg);

/*
 * Submission, common rules (every function below):
 * Calling thread: the thread that owns `ch` (got through ftgt_bdev_get_io_channel on
 * `desc`). Returns 0 (cb_fn runs exactly once, later), or:
 *   -EINVAL  range beyond the end of the bdev, zero length, byte offset/length not a
 *            multiple of the block size, bad iovec, type unsupported by the bdev;
 *   -EBADF   write-type I/O on a descriptor opened read-only;
 *   -ENOMEM  no struct ftgt_bdev_io left on this thread: retry through
 *            ftgt_bdev_queue_io_wait();
 *   -ENODEV  the bdev is being removed.
 * Buffers belong to the caller and must stay valid until completion. Writes from
 * several channels to overlapping ranges are not ordered against each other (except
 * against a compare-and-write, which is atomic).
 */
int ftgt_bdev_read(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                   uint64_t offset_bytes, uint64_t len_bytes, ftgt_bdev_io_completion_cb cb_fn,
                   void *cb_arg);
int ftgt_bdev_read_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                          uint64_t offset_blocks, uint64_t num_blocks,
                          ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
int ftgt_bdev_readv(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, struct iovec *iov,
                    int iovcnt, uint64_t offset_bytes, uint64_t len_bytes,
                    ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
int ftgt_bdev_readv_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                           struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                           uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/* opts may be NULL. */
int ftgt_bdev_readv_blocks_ext(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                               struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                               uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg,
                               const struct ftgt_bdev_ext_io_opts *opts);

int ftgt_bdev_write(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                    uint64_t offset_bytes, uint64_t len_bytes, ftgt_bdev_io_completion_cb cb_fn,
                    void *cb_arg);
int ftgt_bdev_write_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                           uint64_t offset_blocks, uint64_t num_blocks,
                           ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
int ftgt_bdev_writev(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, struct iovec *iov,
                     int iovcnt, uint64_t offset_bytes, uint64_t len_bytes,
                     ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
int ftgt_bdev_writev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                            struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                            uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/* opts may be NULL; opts->io_flags may carry FTGT_BDEV_IO_FLAG_FUA. */
int ftgt_bdev_writev_blocks_ext(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                                struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                                uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg,
                                const struct ftgt_bdev_ext_io_opts *opts);

/* Make previously completed writes in the range durable. */
int ftgt_bdev_flush_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                           uint64_t offset_blocks, uint64_t num_blocks,
                           ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/* Deallocate (reads afterwards return zeroes or old data, as the module documents). */
int ftgt_bdev_unmap_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                           uint64_t offset_blocks, uint64_t num_blocks,
                           ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/* Write zeroes; emulated with writes when the module lacks it. */
int ftgt_bdev_write_zeroes_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                                  uint64_t offset_blocks, uint64_t num_blocks,
                                  ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/* Compare the range with the buffer: success, or MISCOMPARE status (success false). */
int ftgt_bdev_compare_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *buf,
                             uint64_t offset_blocks, uint64_t num_blocks,
                             ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
int ftgt_bdev_comparev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                              struct iovec *iov, int iovcnt, uint64_t offset_blocks,
                              uint64_t num_blocks, ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/*
 * Compare the range with compare_iov; when equal, write write_iov there. Atomic against
 * every other write and compare-and-write to overlapping blocks on any channel (the core
 * locks the LBA range on all channels). num_blocks <= ftgt_bdev_get_acwu().
 * Status MISCOMPARE when the data differs (nothing written).
 */
int ftgt_bdev_comparev_and_writev_blocks(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                                         struct iovec *compare_iov, int compare_iovcnt,
                                         struct iovec *write_iov, int write_iovcnt,
                                         uint64_t offset_blocks, uint64_t num_blocks,
                                         ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/*
 * Reset the bdev: new I/O on every channel is held, the core waits until every I/O in
 * flight on every channel has completed, passes a reset to the module when it supports
 * one, then releases the held I/O and completes the reset.
 */
int ftgt_bdev_reset(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch,
                    ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);
/*
 * Abort every I/O submitted on `ch` with cb_arg == bio_cb_arg. Those still queued in the
 * core complete with ABORTED at once; those at the module are aborted there when the
 * module supports ABORT. The abort succeeds when at least one I/O matched and every
 * matching I/O was aborted. -ENOENT: nothing matched (cb_fn does not run).
 */
int ftgt_bdev_abort(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *ch, void *bio_cb_arg,
                    ftgt_bdev_io_completion_cb cb_fn, void *cb_arg);

/* Give a completed I/O back (on the thread it completed on). */
void ftgt_bdev_free_io(struct ftgt_bdev_io *io);

/* ---- completion detail -------------------------------------------------------------- */

enum ftgt_bdev_io_type ftgt_bdev_io_get_type(const struct ftgt_bdev_io *io);
enum ftgt_bdev_io_status ftgt_bdev_io_get_status(const struct ftgt_bdev_io *io);
/* Status as NVMe (cdw0, status code type, status code): module detail when it gave
 * NVMe status, else a translation (MISCOMPARE -> 2h/85h, ABORTED -> 0h/07h,
 * FIRST_FUSED_FAILED -> 0h/09h, other failures -> 0h/06h internal error). */
void ftgt_bdev_io_get_nvme_status(const struct ftgt_bdev_io *io, uint32_t *cdw0, int *sct, int *sc);
/* Status as SCSI (status, sense key, ASC, ASCQ); translated likewise (MISCOMPARE ->
 * CHECK CONDITION/MISCOMPARE/1Dh/00h, other failures -> ABORTED COMMAND or MEDIUM ERROR). */
void ftgt_bdev_io_get_scsi_status(const struct ftgt_bdev_io *io, int *sc, int *sk, int *asc,
                                  int *ascq);
/* The errno (negative) the module gave with AIO_ERROR; -EIO for other failures; 0 on
 * success. */
int ftgt_bdev_io_get_errno(const struct ftgt_bdev_io *io);
/* The I/O's data buffers (read: where data landed). */
void ftgt_bdev_io_get_iovec(struct ftgt_bdev_io *io, struct iovec **iovp, int *iovcntp);
void *ftgt_bdev_io_get_cb_arg(const struct ftgt_bdev_io *io);

/* ---- waiting for a struct ftgt_bdev_io ---------------------------------------------- */

typedef void (*ftgt_bdev_io_wait_cb)(void *cb_arg);

/* Filled by the caller; owned by the core from queue_io_wait until cb_fn runs. */
struct ftgt_bdev_io_wait_entry {
	struct ftgt_bdev *bdev;
	ftgt_bdev_io_wait_cb cb_fn;
	void *cb_arg;
	TAILQ_ENTRY(ftgt_bdev_io_wait_entry) link;
};

/*
 * After a submit returned -ENOMEM: run entry->cb_fn(entry->cb_arg) on this thread as soon
 * as a struct ftgt_bdev_io is free again (in FIFO order with other waiters of the thread).
 * Returns 0, -EINVAL (entry->bdev differs from the channel's bdev, or there is no shortage
 * now: the caller should simply retry).
 */
int ftgt_bdev_queue_io_wait(struct ftgt_bdev *bdev, struct ftgt_io_channel *ch,
                            struct ftgt_bdev_io_wait_entry *entry);

/* ---- statistics --------------------------------------------------------------------- */

/* Per I/O type counters; latency in ticks (ftgt_get_ticks_hz() per second). */
struct ftgt_bdev_io_type_stat {
	uint64_t ops;               /* completed successfully */
	uint64_t bytes;             /* of successful ops */
	uint64_t errors;            /* completed with failure */
	uint64_t latency_ticks;     /* sum over successful and failed ops */
	uint64_t min_latency_ticks; /* UINT64_MAX when no op */
	uint64_t max_latency_ticks;
};
struct ftgt_bdev_io_stat {
	struct ftgt_bdev_io_type_stat type[FTGT_BDEV_NUM_IO_TYPES];
	uint64_t nomem_retries;     /* times the module said NOMEM (I/O was retried) */
	uint64_t ticks_hz;          /* ftgt_get_ticks_hz() */
	uint64_t ticks_since_reset; /* ticks since creation or last reset */
};

typedef void (*ftgt_bdev_op_cb)(void *cb_arg, int status);

/*
 * Sum the counters of every channel of the bdev (and of channels already gone) into
 * *stat, which must stay valid until cb_fn(cb_arg, 0) runs on the calling thread.
 * Counted per thread without atomics; the sum is taken channel by channel on each
 * channel's thread. Returns 0 or -ENOMEM. Calling thread: any ftgt_thread.
 */
int ftgt_bdev_get_io_stat(struct ftgt_bdev *bdev, struct ftgt_bdev_io_stat *stat,
                          ftgt_bdev_op_cb cb_fn, void *cb_arg);
/* Zero every counter (and histograms). Returns 0 or -ENOMEM; cb_fn(cb_arg, 0). */
int ftgt_bdev_reset_io_stat(struct ftgt_bdev *bdev, ftgt_bdev_op_cb cb_fn, void *cb_arg);

/*
 * Enable or disable latency histograms (one per I/O type per channel, in ticks).
 * Disabling discards them. Returns 0, -ENOMEM; cb_fn(cb_arg, status) on the caller's
 * thread (status -ENOMEM if a channel could not allocate its histograms: then none is
 * enabled).
 */
int ftgt_bdev_histogram_enable(struct ftgt_bdev *bdev, bool enable, ftgt_bdev_op_cb cb_fn,
                               void *cb_arg);
bool ftgt_bdev_histogram_is_enabled(const struct ftgt_bdev *bdev);
/*
 * Merge the histograms of every channel into hist[FTGT_BDEV_NUM_IO_TYPES] (the caller
 * initialises them with ftgt_histogram_init). Returns 0, -EINVAL (not enabled), -ENOMEM;
 * cb_fn(cb_arg, 0) on the calling thread.
 */
int ftgt_bdev_histogram_get(struct ftgt_bdev *bdev, struct ftgt_histogram *hist,
                            ftgt_bdev_op_cb cb_fn, void *cb_arg);

/* ---- QoS ---------------------------------------------------------------------------- */

enum ftgt_bdev_qos_rate_limit_type {
	FTGT_BDEV_QOS_RW_IOPS_RATE_LIMIT = 0, /* I/Os per second, reads+writes */
	FTGT_BDEV_QOS_RW_BPS_RATE_LIMIT,      /* bytes per second, reads+writes */
	FTGT_BDEV_QOS_R_BPS_RATE_LIMIT,       /* bytes per second, reads */
	FTGT_BDEV_QOS_W_BPS_RATE_LIMIT,       /* bytes per second, writes */
	FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES,
};
/* In limits[]: 0 = no limit; FTGT_BDEV_QOS_LIMIT_NOT_DEFINED = leave as is. */
#define FTGT_BDEV_QOS_LIMIT_NOT_DEFINED UINT64_MAX

/*
 * Set the bdev's limits. They are enforced by one thread (that of the first channel
 * found when enabled, or the caller's when the bdev has none): while any limit is set,
 * I/O from other channels is forwarded there by message, paced per 1 ms time slice, and
 * sent back to be submitted and completed on its own thread. Reads,
 * writes (and compare/compare-and-write as read+write) count; flush, unmap, reset and
 * abort are not limited. Returns 0, -EINVAL (limits NULL); cb_fn(cb_arg, status) later
 * on the calling thread. Calling thread: any ftgt_thread.
 */
int ftgt_bdev_set_qos_rate_limits(struct ftgt_bdev *bdev, const uint64_t *limits,
                                  ftgt_bdev_op_cb cb_fn, void *cb_arg);
/* Current limits into limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES] (0 = none). */
void ftgt_bdev_get_qos_rate_limits(struct ftgt_bdev *bdev, uint64_t *limits);

/* ---- library ------------------------------------------------------------------------ */

struct ftgt_bdev_opts {
	size_t size;                 /* sizeof(struct ftgt_bdev_opts) */
	uint32_t bdev_io_pool_size;  /* struct ftgt_bdev_io in the pool (default 65535) */
	uint32_t bdev_io_cache_size; /* per-thread cache taken from the pool (default 256) */
};
void ftgt_bdev_get_opts(struct ftgt_bdev_opts *opts);
/* Before ftgt_bdev_initialize(): 0, or -EINVAL (cache * threads > pool, zero values),
 * -EBUSY (already initialised). */
int ftgt_bdev_set_opts(const struct ftgt_bdev_opts *opts);

typedef void (*ftgt_bdev_init_cb)(void *cb_arg, int rc);
typedef void (*ftgt_bdev_fini_cb)(void *cb_arg);
/*
 * Start the bdev library and every registered module (module_init in registration
 * order). The "bdev" subsystem calls this; programs without the subsystem frame
 * (ftgt-bdevperf, unit tests) call it directly. Calling thread: the app thread, after
 * ftgt_thread_lib_init(). cb_fn(cb_arg, rc) runs later on the same thread.
 */
void ftgt_bdev_initialize(ftgt_bdev_init_cb cb_fn, void *cb_arg);
/*
 * Unregister every bdev (stacked ones first, each waiting for its holders to close),
 * call module_fini of each module, free the pool. cb_fn later on the calling thread.
 */
void ftgt_bdev_finish(ftgt_bdev_fini_cb cb_fn, void *cb_arg);

#endif /* FTGT_BDEV_H */
