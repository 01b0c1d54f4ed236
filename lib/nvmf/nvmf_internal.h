/* SPDX-License-Identifier: BSD-3-Clause */
/* Private declarations of the NVMe-oF core (lib/nvmf). */
#ifndef FTGT_NVMF_INTERNAL_H
#define FTGT_NVMF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>

#include <jansson.h>

#include "ftgt/bdev.h"
#include "ftgt/histogram.h"
#include "ftgt/nvmf.h"
#include "ftgt/nvmf_transport.h"
#include "ftgt/spec/nvme.h"
#include "ftgt/spec/nvmf.h"
#include "ftgt/string.h"
#include "ftgt/thread.h"

#define NVMF_MAX_AER              4 /* AERL + 1 */
#define NVMF_MAX_PENDING_EVENTS   16
#define NVMF_KAS_MS               100 /* Identify KAS granularity: 100 ms */
#define NVMF_DISC_KATO_DEFAULT_MS 120000
#define NVMF_VS                   NVME_VS(1, 3, 0)
#define NVMF_CAP_TO_500MS         30 /* CAP.TO: 15 s */
#define NVMF_ERROR_LOG_ENTRIES    64 /* 4 KiB of log page 01h */

/* A namespace. Created and freed on the app thread; read by I/O threads once published
 * in subsystem->ns[] (release store) until the subsystem has no controller left. */
struct nvmf_ns {
	uint32_t nsid;
	struct ftgt_nvmf_subsystem *subsys;
	struct ftgt_bdev_desc *desc;
	struct ftgt_bdev *bdev;
	char *bdev_name;
	struct ftgt_nvmf_ns_opts opts; /* uuid filled from the bdev when not given */
	uint32_t block_size;
	bool removed; /* hot removed: I/O fails */
};

/* A namespace as one I/O queue sees it (qpair's thread). */
struct nvmf_qpair_ns {
	struct ftgt_io_channel *ch;
	struct ftgt_bdev_desc *desc;   /* open while busy != 0 */
	uint32_t busy;                 /* commands of this queue using the namespace now */
	struct nvmf_ns_removal *drain; /* removal waiting for busy == 0 */
};

/* A namespace being removed while controllers are connected (see subsystem.c). */
struct nvmf_ns_removal {
	struct ftgt_nvmf_subsystem *subsys;
	struct nvmf_ns *ns;
	uint32_t pending; /* threads still to answer (atomic) */
	void (*cb_fn)(void *cb_arg, int rc);
	void *cb_arg;
};

struct nvmf_host {
	char nqn[FTGT_NQN_MAX_LEN + 1];
	TAILQ_ENTRY(nvmf_host) link;
};

struct nvmf_listener {
	struct ftgt_nvmf_listen_addr addr;
	struct ftgt_nvmf_transport *transport;
	TAILQ_ENTRY(nvmf_listener) link;
};

/* Owned by the app thread. */
struct ftgt_nvmf_subsystem {
	char nqn[FTGT_NQN_MAX_LEN + 1];
	enum ftgt_nvmf_subtype type;
	char sn[FTGT_NVMF_SN_MAX_LEN + 1];
	char mn[FTGT_NVMF_MN_MAX_LEN + 1];
	bool allow_any_host;
	/* false: a second controller of the same host NQN + host ID through the same
	 * listener is refused (Controller Busy). */
	bool allow_duplicate_host;
	bool destroying;
	uint32_t max_nsid;
	struct nvmf_ns **ns;  /* [max_nsid] */
	uint8_t *ns_removing; /* [max_nsid]: NSID not reusable until its removal ends */
	uint32_t num_ns_removals;
	uint16_t next_cntlid;
	TAILQ_HEAD(, nvmf_host) hosts;
	TAILQ_HEAD(, nvmf_listener) listeners;
	TAILQ_HEAD(, nvmf_ctrlr) ctrlrs; /* app thread's view */
	uint32_t num_ctrlrs;
	void (*destroy_cb)(void *cb_arg);
	void *destroy_cb_arg;
	TAILQ_ENTRY(ftgt_nvmf_subsystem) link;
};

/* One error log entry. Written by any queue's thread, read on the controller's thread
 * (a sequence lock: seq is 0 while written, then the entry's error count). */
struct nvmf_error_slot {
	uint64_t seq;
	struct nvme_error_info e;
};

/* A controller. Created on the app thread, then owned by the admin qpair's thread
 * (`thread`): every field below the line is touched there only. */
/* Composite temperature over-threshold default: 343 K (70 C). */
#define TEMP_OVER_DEFAULT_K 0x157

struct nvmf_ctrlr {
	struct ftgt_nvmf_subsystem *subsys;
	uint16_t cntlid;
	char hostnqn[FTGT_NQN_MAX_LEN + 1];
	uint8_t hostid[16];
	struct ftgt_thread *thread;
	struct ftgt_nvmf_transport *transport;
	struct ftgt_nvmf_listen_addr listen_addr;
	TAILQ_ENTRY(nvmf_ctrlr) subsys_link; /* app thread */
	/* Queue pairs attached (admin + I/O): written on `thread` with atomics, read on the
	 * app thread for the connection counts. */
	uint32_t num_qpairs;
	/* ---- owned by `thread` ---- */
	struct ftgt_nvmf_qpair *admin_qpair;
	TAILQ_HEAD(, ftgt_nvmf_qpair) io_qpairs;
	uint32_t num_io_qpairs;
	uint16_t max_io_qid; /* Number of Queues granted (1's based) */
	bool num_queues_set;
	uint8_t *qid_used; /* [max_qpairs_per_ctrlr] */
	uint16_t max_qpairs;
	uint64_t cap;
	uint32_t vs;
	uint32_t cc;
	uint32_t csts;
	uint32_t kato_ms;
	uint64_t last_keep_alive_tick;
	struct ftgt_poller *keep_alive_poller;
	bool destructing;
	/* features */
	uint32_t feat_arbitration;
	uint32_t feat_power_mgmt;
	uint16_t feat_temp_over; /* composite temperature thresholds, kelvin */
	uint16_t feat_temp_under;
	uint32_t feat_error_recovery;
	uint32_t feat_vwc;
	uint32_t feat_int_coalescing;
	uint32_t feat_write_atomicity;
	uint32_t feat_aec;
	/* asynchronous events */
	uint32_t pending_events[NVMF_MAX_PENDING_EVENTS];
	uint32_t num_pending_events;
	uint8_t aen_masked_notices; /* bit per notice type awaiting a log read */
	uint32_t changed_ns[NVME_CHANGED_NS_LIST_MAX];
	uint32_t num_changed_ns; /* > 1024: list overflowed */
	/* Error information log: failed commands of every queue (any thread, atomics). */
	uint64_t err_count;
	struct nvmf_error_slot errlog[NVMF_ERROR_LOG_ENTRIES];
};

/* Target-wide state (app thread). */
struct nvmf_tgt {
	bool initialized;
	struct ftgt_thread *thread;
	TAILQ_HEAD(, ftgt_nvmf_subsystem) subsystems;
	TAILQ_HEAD(, ftgt_nvmf_transport) transports;
	uint64_t discovery_genctr;
	struct ftgt_nvmf_subsystem *discovery;
	/* Transport connections known to the core (ftgt_nvmf_qpair_init() until the
	 * qpair's fini callback), any thread: atomics. */
	uint64_t num_connections;
};
extern struct nvmf_tgt g_nvmf_tgt;

/* subsystem.c */
struct nvmf_ns *nvmf_subsystem_get_ns(struct ftgt_nvmf_subsystem *subsys, uint32_t nsid);
bool nvmf_subsystem_listener_allowed(struct ftgt_nvmf_subsystem *subsys,
                                     const struct ftgt_nvmf_listen_addr *addr);
bool nvmf_listen_addr_equal(const struct ftgt_nvmf_listen_addr *a,
                            const struct ftgt_nvmf_listen_addr *b);
void nvmf_tgt_discovery_changed(void);
uint16_t nvmf_subsystem_alloc_cntlid(struct ftgt_nvmf_subsystem *subsys);
void nvmf_subsystem_ctrlr_gone(struct nvmf_ctrlr *ctrlr);
/* Ask the controller's thread to disconnect all its queues (app thread). */
void nvmf_subsystem_ctrlr_disconnect(struct nvmf_ctrlr *ctrlr);

/* ctrlr.c */
void nvmf_ctrlr_exec_fabrics(struct ftgt_nvmf_request *req);
void nvmf_ctrlr_notify_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid);
void nvmf_ctrlr_notify_discovery_changed(struct nvmf_ctrlr *ctrlr);
void nvmf_ctrlr_disconnect_all(struct nvmf_ctrlr *ctrlr);
void nvmf_ctrlr_qpair_fini(struct ftgt_nvmf_qpair *qpair);
void nvmf_ctrlr_keep_alive(struct nvmf_ctrlr *ctrlr);
/* (Re)start the keep-alive timer with ctrlr->kato_ms (0: none). */
void nvmf_ctrlr_keep_alive_start(struct nvmf_ctrlr *ctrlr);

/* admin.c */
void nvmf_admin_exec(struct ftgt_nvmf_request *req);
void nvmf_ctrlr_aer_complete_pending(struct nvmf_ctrlr *ctrlr);
void nvmf_ctrlr_abort_aers(struct ftgt_nvmf_qpair *qpair);

/* io.c */
void nvmf_io_exec(struct ftgt_nvmf_request *req);
void nvmf_qpair_put_ns_channels(struct ftgt_nvmf_qpair *qpair);
/* Qpair's thread: drop the channel of r->ns once no command uses it, then tell r. */
void nvmf_qpair_ns_drain(struct ftgt_nvmf_qpair *qpair, struct nvmf_ns_removal *r);
/* A thread is done with the namespace of a removal (any thread). */
void nvmf_ns_removal_put(struct nvmf_ns_removal *r);
/* From nvmf_request_complete(): req->io_nsid is no longer used by req. */
void nvmf_request_ns_release(struct ftgt_nvmf_request *req);
/* Abort req (executing in the core on this, its qpair's, thread): cb_fn(cb_arg, true)
 * when it was aborted, (cb_arg, false) when it could not be; always called, maybe at once. */
void nvmf_io_abort(struct ftgt_nvmf_request *req, void (*cb_fn)(void *cb_arg, bool aborted),
                   void *cb_arg);

/* I/O command statistics of one poll group: written by its thread only (no atomics),
 * copied out by a message to that thread for nvmf_get_stats. */
struct nvmf_io_stats {
	uint64_t read_ops;             /* Read */
	uint64_t write_ops;            /* Write */
	uint64_t other_ops;            /* every other command of an I/O queue */
	uint64_t read_bytes;           /* data of successful Reads */
	uint64_t write_bytes;          /* data of successful Writes */
	struct ftgt_histogram latency; /* ticks from command received to completion handed
	                                * to the transport */
};

/* stats.c */
void nvmf_io_stats_init(struct nvmf_io_stats *s);
/* Count req, a command of an I/O queue the core has completed, received at start_ticks
 * and completed at now_ticks (ftgt_get_ticks()). Commands of the admin queue (qid 0) and
 * of queues not connected yet are not counted. */
void nvmf_io_stats_record(struct nvmf_io_stats *s, const struct ftgt_nvmf_request *req,
                          uint64_t start_ticks, uint64_t now_ticks);
/* dst += src. */
void nvmf_io_stats_merge(struct nvmf_io_stats *dst, const struct nvmf_io_stats *src);
/* nvmf_rpc.c: set "io" {read_ops, write_ops, other_ops, read_bytes, write_bytes} and "latency_us"
 * (ftgt_histogram_summary_json() in microseconds) in the JSON object o. */
void nvmf_io_stats_to_json(json_t *o, const struct nvmf_io_stats *s);

/* nvmf_rpc.c: the callback nvmf_get_stats passes to a transport's get_stats. Before
 * calling it, the transport may add the sum of its poll groups' I/O statistics to the
 * target-wide total with nvmf_rpc_stats_add_io(cb_arg, sum) (app thread). */
void nvmf_rpc_stats_transport_done(void *cb_arg, void *json_array);
void nvmf_rpc_stats_add_io(void *cb_arg, const struct nvmf_io_stats *s);

/* discovery.c */
/* Build the discovery log page for hostnqn into a new buffer (app thread). */
void *nvmf_discovery_log_build(const char *hostnqn, const struct ftgt_nvmf_listen_addr *via,
                               size_t *len_bytes);

/* request.c */
void nvmf_request_complete(struct ftgt_nvmf_request *req);
/* Copy up to max of the controller's newest error entries, newest first; returns the
 * number copied (controller's thread). */
uint32_t nvmf_ctrlr_error_log_read(struct nvmf_ctrlr *ctrlr, struct nvme_error_info *out,
                                   uint32_t max);
void nvmf_request_set_status(struct ftgt_nvmf_request *req, int sct, int sc);
/* Copy up to len bytes from buf into the request's data buffers; returns bytes copied. */
uint32_t nvmf_request_copy_to_iov(struct ftgt_nvmf_request *req, const void *buf, uint32_t len);
void nvmf_request_zero(struct ftgt_nvmf_request *req, uint32_t len);
uint32_t nvmf_request_copy_from_iov(struct ftgt_nvmf_request *req, void *buf, uint32_t len);

static inline uint32_t
nvmf_cmd_dw(const struct nvme_cmd *cmd, int n)
{
	ftgt_le32 v;

	memcpy(&v, (const uint8_t *)cmd + 4 * n, sizeof(v));
	return ftgt_le32_to_cpu(v);
}

#endif /* FTGT_NVMF_INTERNAL_H */
