/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/bdev private declarations. */
#ifndef FTGT_BDEV_INTERNAL_H
#define FTGT_BDEV_INTERNAL_H

#include <pthread.h>
#include <sys/queue.h>

#include "ftgt/bdev.h"
#include "ftgt/bdev_module.h"
#include "ftgt/histogram.h"
#include "ftgt/thread.h"

#define BDEV_IO_NUM_CHILD_IOV 32
/* Children of one split parent in flight at once. */
#define BDEV_SPLIT_MAX_OUTSTANDING 32
#define BDEV_NOMEM_RETRY_US        100
#define BDEV_RESET_POLL_US         100
#define BDEV_QOS_SLICE_US          1000
#define BDEV_ZERO_BUF_BYTES        (1024 * 1024)

struct bdev_channel;
struct bdev_qos;

/* Why an I/O is in a core queue (for abort and removal). */
enum bdev_io_queue {
	BDEV_IO_Q_NONE = 0,
	BDEV_IO_Q_NOMEM,  /* module or pool said NOMEM: retried */
	BDEV_IO_Q_LOCKED, /* write overlapping a locked LBA range */
	BDEV_IO_Q_HELD,   /* channel frozen by a reset */
	BDEV_IO_Q_QOS,    /* waiting for QoS credit (on the QoS thread) */
	BDEV_IO_Q_MODULE, /* at the module */
};

/* How a parent I/O is carried out in pieces. */
enum bdev_io_stage {
	BDEV_STAGE_NONE = 0,
	BDEV_STAGE_SPLIT,     /* children cover the range, same type */
	BDEV_STAGE_CMP_READ,  /* emulated compare: child read into bounce buffer */
	BDEV_STAGE_CAW_LOCK,  /* compare-and-write: waiting for the range lock */
	BDEV_STAGE_CAW_CMP,   /* compare child in flight */
	BDEV_STAGE_CAW_WRITE, /* write child in flight */
	BDEV_STAGE_CAW_UNLOCK,
	BDEV_STAGE_ABORT, /* abort children in flight */
	BDEV_STAGE_RESET,
};

struct lba_range {
	uint64_t offset;
	uint64_t length;
	struct bdev_io_priv *owner; /* the compare-and-write holding it */
	struct bdev_channel *owner_ch;
	struct ftgt_io_channel_iter *pending_iter; /* lock waiting on this channel */
	bool acquired;                             /* blocks writes on this channel */
	TAILQ_ENTRY(lba_range) link;
};

/*
 * Core-private state of a struct ftgt_bdev_io; the public struct follows it, then the
 * module's driver context. One owner at a time: the submitting thread.
 */
struct bdev_io_priv {
	struct bdev_channel *ch;
	struct ftgt_bdev_desc *desc;
	ftgt_bdev_io_completion_cb cb_fn;
	void *cb_arg;
	enum ftgt_bdev_io_status status;
	enum bdev_io_queue queue;
	enum bdev_io_stage stage;
	bool in_submit;   /* inside the module's submit_request */
	bool is_child;    /* child of a split/emulation */
	bool user_io;     /* on ch->io_submitted */
	bool bypass_lock; /* a caw's own write */
	bool abort_req;   /* user asked to abort it */
	int err;
	uint32_t nvme_cdw0;
	int16_t nvme_sct, nvme_sc;
	uint8_t scsi_sc, scsi_sk, scsi_asc, scsi_ascq;
	uint64_t submit_tsc;
	struct bdev_io_priv *parent;

	/* Parent bookkeeping (split, emulation, abort). */
	uint64_t split_offset;    /* next block to cover */
	uint64_t split_remaining; /* blocks not yet given to a child */
	int split_iov_idx;        /* cursor in parent's iovs */
	size_t split_iov_off;
	uint32_t outstanding; /* children in flight */
	enum ftgt_bdev_io_type child_type;
	bool child_zero_src; /* children write the zero buffer */
	uint32_t abort_ok, abort_fail;

	/* Buffers. */
	struct iovec iov; /* single-buffer submits */
	struct iovec child_iov[BDEV_IO_NUM_CHILD_IOV];
	struct iovec *fused_iovs; /* caw: the write data */
	int fused_iovcnt;
	void *bounce; /* aligned or compare buffer */
	struct iovec bounce_iov;
	struct iovec *orig_iovs; /* saved when bounced */
	int orig_iovcnt;
	bool range_locked;                        /* caw holds its LBA range */
	void (*retry_fn)(struct bdev_io_priv *p); /* what to redo when on the NOMEM queue */
	void (*stage_cb)(struct bdev_io_priv *p); /* continuation after an async step */
	struct ftgt_poller *poller;               /* reset: wait timer */

	TAILQ_ENTRY(bdev_io_priv) link;    /* core queue */
	TAILQ_ENTRY(bdev_io_priv) ch_link; /* ch->io_submitted */
	STAILQ_ENTRY(bdev_io_priv) cache_link;

	struct ftgt_bdev_io io; /* last: the driver context follows */
};

static inline struct bdev_io_priv *
bdev_io_priv(struct ftgt_bdev_io *io)
{
	return (struct bdev_io_priv *)((uint8_t *)io - offsetof(struct bdev_io_priv, io));
}
static inline const struct bdev_io_priv *
bdev_io_cpriv(const struct ftgt_bdev_io *io)
{
	return (const struct bdev_io_priv *)((const uint8_t *)io -
	                                     offsetof(struct bdev_io_priv, io));
}

TAILQ_HEAD(bdev_io_tailq, bdev_io_priv);

/* Per-thread state shared by every bdev: the bdev_io cache and the io-wait queue. */
struct bdev_mgmt_channel {
	STAILQ_HEAD(, bdev_io_priv) cache;
	uint32_t cache_count;
	uint32_t cache_max;
	TAILQ_HEAD(, ftgt_bdev_io_wait_entry) io_wait_queue;
};

#define BDEV_CH_RESET_IN_PROGRESS (1u << 0)
#define BDEV_CH_QOS               (1u << 1)
#define BDEV_CH_REMOVING          (1u << 2)

/* A bdev's per-thread channel (io device: bdev->internal). */
struct bdev_channel {
	struct ftgt_bdev *bdev;
	struct ftgt_thread *thread;
	struct ftgt_io_channel *module_ch;
	struct ftgt_io_channel *mgmt_ch;
	struct bdev_mgmt_channel *mgmt;
	uint32_t flags;
	uint64_t io_outstanding;           /* at the module */
	struct bdev_io_tailq io_submitted; /* user I/O not yet completed */
	struct bdev_io_tailq nomem_io;
	struct bdev_io_tailq locked_io;
	struct bdev_io_tailq held_io;
	struct bdev_io_tailq cpl_deferred;
	bool cpl_msg_pending;
	bool nomem_retrying;
	/* While a batch of deferred completions runs: its start time, used as "now" for the
	 * completions and for I/O submitted from their callbacks (one clock read a batch). */
	bool in_batch;
	uint64_t batch_tsc;
	struct ftgt_poller *nomem_poller;
	struct ftgt_poller *cpl_poller; /* fallback when the message ring is full */
	TAILQ_HEAD(, lba_range) locked_ranges;
	struct bdev_qos *qos;
	struct bdev_qos *qos_fwd; /* QoS an I/O was last forwarded to */
	struct ftgt_bdev_io_stat stat;
	struct ftgt_histogram *hist; /* [FTGT_BDEV_NUM_IO_TYPES] when enabled */
};

struct bdev_alias {
	char *name;
	TAILQ_ENTRY(bdev_alias) link;
};

enum bdev_status {
	BDEV_STATUS_READY,
	BDEV_STATUS_REMOVING,
};

struct ftgt_bdev_desc {
	struct ftgt_bdev *bdev;
	struct ftgt_thread *thread;
	ftgt_bdev_event_cb event_cb;
	void *event_ctx;
	bool write;
	bool closed;
	uint32_t refs; /* open + event messages in flight; under the bdev's mutex */
	TAILQ_ENTRY(ftgt_bdev_desc) link;
};

struct ftgt_bdev_internal {
	struct ftgt_bdev *bdev;
	pthread_mutex_t mutex; /* descs, status, claim, gone stats: management path only */
	enum bdev_status status;
	TAILQ_HEAD(, bdev_alias) aliases;
	TAILQ_HEAD(, ftgt_bdev_desc) open_descs;
	uint32_t open_count;
	char *claim_owner;
	struct ftgt_bdev_module *claim_module;
	struct ftgt_bdev_desc *claim_desc;
	TAILQ_ENTRY(ftgt_bdev_internal) link;

	ftgt_bdev_unregister_cb unregister_cb;
	void *unregister_arg;
	struct ftgt_thread *unregister_thread;

	struct ftgt_bdev_io_stat stat_gone; /* from destroyed channels */
	struct ftgt_histogram *hist_gone;   /* ditto, when enabled */
	bool histogram_enabled;
	uint64_t stat_reset_tsc;

	struct bdev_qos *qos; /* under mutex */
	uint64_t qos_limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES];
	bool reset_in_progress;
	bool remove_walk_done;
	bool finishing;
	uint32_t event_msgs; /* event messages on their way to holders (they use this) */
};

/* bdev.c */
extern uint32_t g_bdev_io_elt_size;
struct ftgt_bdev_module_list;
void bdev_lock(void);
void bdev_unlock(void);
struct ftgt_bdev *bdev_get_by_name_locked(const char *name);
/* Module list iteration for config/fini. */
struct ftgt_bdev_module *bdev_module_first(void);
struct ftgt_bdev_module *bdev_module_next(struct ftgt_bdev_module *m);
bool bdev_is_initialized(void);
void *bdev_zero_buf(void);
int bdev_channel_create(void *io_device, void *ctx_buf);
void bdev_channel_destroy(void *io_device, void *ctx_buf);
void bdev_dump_info_json(struct ftgt_bdev *bdev, json_t *obj);

/* bdev_io.c */
struct bdev_io_priv *bdev_io_get(struct bdev_channel *ch);
void bdev_io_put(struct bdev_mgmt_channel *mgmt, struct bdev_io_priv *p);
void bdev_channel_abort_queued(struct bdev_channel *ch);
void bdev_io_submit_qos_ready(struct bdev_io_priv *p);
/* Checks and submits a user I/O (buf or iov); 0 or -EINVAL/-EBADF/-ENODEV/-ENOMEM. */
int bdev_rw(struct ftgt_bdev_desc *desc, struct ftgt_io_channel *_ch, enum ftgt_bdev_io_type type,
            struct iovec *iov, int iovcnt, void *buf, uint64_t offset, uint64_t num,
            ftgt_bdev_io_completion_cb cb_fn, void *cb_arg,
            const struct ftgt_bdev_ext_io_opts *opts);
/* Clock (tests replace it for QoS pacing). */
extern uint64_t (*bdev_get_ticks)(void);
void bdev_set_clock(uint64_t (*fn)(void));

/* bdev_qos.c */
bool bdev_qos_io_limited(const struct ftgt_bdev_io *io);
void bdev_qos_enqueue(struct bdev_channel *ch, struct bdev_io_priv *p);
void bdev_qos_channel_attach(struct bdev_channel *ch);
void bdev_qos_unregister(struct ftgt_bdev *bdev, void (*done)(void *arg), void *arg);

/* bdev_stat.c */
void bdev_stat_init(struct ftgt_bdev_io_stat *stat);
void bdev_stat_add(struct ftgt_bdev_io_stat *dst, const struct ftgt_bdev_io_stat *src);
struct ftgt_histogram *bdev_hist_alloc(void);

/* bdev_rpc.c */
void bdev_subsystem_write_config(json_t *config);

#endif /* FTGT_BDEV_INTERNAL_H */
