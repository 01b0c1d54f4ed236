/* SPDX-License-Identifier: BSD-3-Clause */
/* Private declarations of lib/nvme (the NVMe-oF host). */
#ifndef FTGT_NVME_INTERNAL_H
#define FTGT_NVME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ftgt/nvme.h"
#include "ftgt/spec/nvme_tcp.h"

/* NVMe/TCP 1.0, 3.6.2.6: the admin queue takes 8 KiB of in-capsule data. TODO: move to spec/ */
#define NVME_TCP_ADMIN_ICD_BYTES 8192
#define NVME_HOST_MAX_QUEUE_SIZE 1024
/* I/O queue ids 1..NVME_HOST_MAX_IO_QUEUES (a multiple of 64). */
#define NVME_HOST_MAX_IO_QUEUES 1024
/* The target may not have seen the old connection of a freed id close yet: let it cool. */
#define NVME_HOST_QID_COOL_MS    100
#define NVME_HOST_MAX_XFER_BYTES (1024u * 1024u)
#define NVME_TCP_RX_BUF_BYTES    (128u * 1024u)
#define NVME_TCP_TX_IOV_BATCH    128
/* The largest pdo is 255; a header with its digest and padding fits this. */
#define NVME_TCP_TX_HDR_BYTES 256

enum nvme_req_dir {
	NVME_REQ_DIR_NONE = 0,
	NVME_REQ_DIR_H2C, /* write-like: host sends data */
	NVME_REQ_DIR_C2H, /* read-like: controller sends data */
};

/* nvme_tcp_qpair_submitv() flags. */
#define NVME_REQ_F_NO_TIMEOUT 0x1 /* AER: may stay outstanding for ever */

struct nvme_req {
	ftgt_nvme_cmd_cb cb_fn;
	void *cb_arg;
	/* The payload: iov[0..iovcnt), len_bytes of it used; iov1 for a contiguous buffer. */
	struct iovec *iov;
	uint32_t iovcnt;
	struct iovec iov1;
	uint32_t len_bytes;
	uint32_t c2h_done_bytes; /* C2HData received so far (in order) */
	uint32_t h2c_sent_bytes; /* data queued for sending (in capsule or H2CData) */
	uint16_t cid;
	uint8_t dir;
	bool active;
	bool c2h_success; /* last C2HData carried SUCCESS: no CapsuleResp follows */
	bool no_timeout;
	uint64_t submit_ms;
	/* An R2T not yet turned into H2CData PDUs (send ring was full). */
	uint32_t r2t_off_bytes;
	uint32_t r2t_len_bytes;
	uint16_t r2t_ttag;
	bool r2t_pending;
	uint16_t tx_refs;     /* send slots that still reference this request's data */
	bool abort_requested; /* timed out once: Abort asked for */
	bool reset_requested; /* timed out twice: controller reset asked for */
	uint64_t abort_ms;
	/*
	 * Fused pair (Compare FUSE first + Write FUSE second): each points at the other. The
	 * one that completes first keeps its slot (fuse_done, its completion in fuse_cpl)
	 * until the other completes; then one callback reports both.
	 */
	struct nvme_req *fuse_peer;
	bool fuse_first;
	bool fuse_done;
	struct nvme_cpl fuse_cpl;
	struct nvme_req *next; /* free list / pending R2T list */
};

/* One PDU waiting to be sent: header (+digest, +padding), data of req, data digest. */
struct nvme_tcp_tx_slot {
	uint8_t hdr[NVME_TCP_TX_HDR_BYTES];
	uint32_t hdr_len;
	uint32_t data_off; /* in req's payload */
	uint32_t data_len;
	struct nvme_req *req;
	ftgt_le32 ddgst;
	bool has_ddgst;
};

enum nvme_tcp_rx_state {
	NVME_TCP_RX_CH = 0, /* collecting the 8-byte common header */
	NVME_TCP_RX_HDR,    /* rest of the header, its digest and padding up to pdo */
	NVME_TCP_RX_DATA,   /* payload straight into the request's buffers */
	NVME_TCP_RX_DDGST,  /* data digest */
};

enum nvme_qpair_state {
	NVME_QPAIR_WAIT_ICRESP = 0, /* ICReq sent */
	NVME_QPAIR_CONNECTING,      /* ICResp in, Fabrics Connect to send or outstanding */
	NVME_QPAIR_READY,
	NVME_QPAIR_FAILED,          /* for good */
	NVME_QPAIR_SOCK_CONNECTING, /* non-blocking TCP connect in progress */
	NVME_QPAIR_DISCONNECTED,    /* not connected (yet / again): waits for the controller */
};

struct nvme_qpair_ops_stats {
	uint64_t tx_calls;
	uint64_t rx_calls;
	uint64_t completions;
};

struct ftgt_nvme_qpair {
	struct ftgt_nvme_ctrlr *ctrlr;
	int fd;
	uint16_t qid;
	uint8_t state;
	bool hdgst;
	bool ddgst;
	uint8_t cpda_bytes; /* data alignment we must honour in PDUs we send */
	uint32_t maxh2cdata_bytes;
	uint32_t icd_max_bytes; /* in-capsule data limit */
	uint32_t num_entries;   /* queue size; at most num_entries - 1 outstanding */
	uint32_t outstanding;
	uint32_t timeout_ms;
	uint64_t last_timeout_check_ms;
	/*
	 * Callbacks running on this qpair (owner thread). ftgt_nvme_ctrlr_free_io_qpair()
	 * called from one only sets delete_pending; process_completions frees it at its end.
	 */
	uint32_t cb_depth;
	bool delete_pending;

	/* Connection life (owner thread). */
	uint32_t gen;            /* ctrlr->gen this connection belongs to */
	bool wait_gen_change;    /* failed on its own: reconnect only after a controller reset */
	bool connected_once;     /* a later failure may be retried (with automatic reconnect) */
	bool connect_sent;       /* Fabrics Connect submitted */
	uint16_t cntlid_out;     /* from the Connect response */
	uint16_t connect_cntlid; /* CNTLID an I/O queue connects to */
	uint64_t connect_deadline_ms;
	int conn_rc; /* -errno of the last failure */
	struct nvmf_connect_data *connect_data;

	struct nvme_req *reqs;
	struct nvme_req *free_reqs;
	struct nvme_req *r2t_head; /* requests with r2t_pending, FIFO */
	struct nvme_req *r2t_tail;

	/* Send ring: slots [tx_head, tx_tail) wait; tx_off bytes of tx_head already sent. */
	struct nvme_tcp_tx_slot *tx_slots;
	uint32_t tx_num_slots;
	uint32_t tx_head;
	uint32_t tx_tail;
	uint32_t tx_count;
	size_t tx_off;

	/* Receive side. */
	uint8_t *rx_buf;
	uint32_t rx_left_off; /* bytes of rx_buf not parsed yet (max_completions reached) */
	uint32_t rx_left_len;
	uint64_t cpl_limit; /* stats.completions value at which parsing stops; 0 none */
	uint32_t rx_state;
	uint8_t rx_hdr[NVME_TCP_TX_HDR_BYTES + 8];
	uint32_t rx_hdr_have;
	uint32_t rx_hdr_need; /* bytes up to pdo (or the whole PDU if it has no data) */
	uint32_t rx_data_left;
	uint32_t rx_ddgst_have;
	uint8_t rx_ddgst[4];
	uint32_t rx_crc;
	struct nvme_req *rx_req;
	uint32_t rx_off;     /* offset in rx_req's payload */
	uint32_t rx_iov_idx; /* cursor: rx_req->iov[rx_iov_idx] + rx_iov_off */
	size_t rx_iov_off;

	/*
	 * Timed-out command to abort: (gen << 32) | (cid + 1), stored (release) by the qpair's
	 * thread, taken (acquire exchange) by the admin thread in
	 * ftgt_nvme_ctrlr_process_admin_completions(), which drops it if a reset came since
	 * (the cid may belong to another command of the new association).
	 */
	uint64_t abort_cid_plus1;
	struct ftgt_nvme_qpair *next_in_ctrlr; /* ctrlr->qpairs, under ctrlr->qpairs_lock */

	/* Statistics and the most recent fatal error, for the caller's message. */
	struct nvme_qpair_ops_stats stats;
	char fail_reason[320];
};

static inline bool
nvme_qpair_is_dead(const struct ftgt_nvme_qpair *q)
{
	return q->state == NVME_QPAIR_FAILED || q->state == NVME_QPAIR_DISCONNECTED;
}

struct nvme_ns {
	uint32_t nsid;
	uint32_t block_size;
	uint64_t num_blocks;
	struct nvme_ns_data data;
};

/*
 * What the I/O path needs of the namespaces: an immutable snapshot, published by the
 * admin thread with a release store of ctrlr->ns_table (read with acquire on any thread).
 * Replaced snapshots stay allocated until detach (namespace changes are rare).
 */
struct nvme_ns_fmt {
	uint32_t nsid;
	uint32_t block_size;
	uint64_t num_blocks;
};

struct nvme_ns_table {
	struct nvme_ns_table *retired_next;
	uint32_t num_ns;
	struct nvme_ns_fmt ns[];
};

/* Steps of the (re)connect of the admin queue, driven by process_admin_completions(). */
enum nvme_ctrlr_step {
	NVME_CSTEP_IDLE = 0,   /* nothing in progress (ENABLED or FAILED) */
	NVME_CSTEP_WAIT_DELAY, /* back-off until next_attempt_ms */
	NVME_CSTEP_TRANSPORT,  /* TCP connect, ICReq/ICResp */
	NVME_CSTEP_CONNECT,    /* Fabrics Connect */
	NVME_CSTEP_CAP,        /* Property Get CAP */
	NVME_CSTEP_VS,
	NVME_CSTEP_CC,
	NVME_CSTEP_EN,  /* Property Set CC.EN */
	NVME_CSTEP_RDY, /* Property Get CSTS until RDY */
	NVME_CSTEP_IDENTIFY,
	NVME_CSTEP_AEC, /* Set Features Asynchronous Event Configuration */
	NVME_CSTEP_NS,  /* namespace scan */
	NVME_CSTEP_DONE,
};

enum nvme_aer_state {
	NVME_AER_IDLE = 0,    /* not armed (before ENABLED, after a reset) */
	NVME_AER_OUTSTANDING, /* AER submitted */
	NVME_AER_EVENT,       /* completed: read the log page next */
	NVME_AER_LOG,         /* Get Log Page outstanding */
	NVME_AER_WAIT_SCAN,   /* namespace list refresh running */
	NVME_AER_NOTIFY,      /* call the user, re-arm */
	NVME_AER_DEAD,        /* refused by the controller: not re-armed */
	NVME_AER_ARM,         /* submit the AER next */
};

#define NVME_HOST_MAX_AERS 4

struct nvme_aer {
	struct ftgt_nvme_ctrlr *ctrlr;
	uint8_t state;
	bool busy; /* a command of this slot is outstanding */
	struct nvme_cpl cpl;
	uint64_t scan_seq; /* refresh that must finish before the user hears of it */
	uint8_t *log_buf;  /* 4 KiB */
};

struct ftgt_nvme_ctrlr {
	struct ftgt_nvme_transport_id trid;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_qpair *adminq;
	struct nvme_ctrlr_data cdata;
	uint64_t cap;
	uint32_t vs;
	uint16_t cntlid; /* atomic access: read by I/O threads when they reconnect */
	bool identified; /* the first Identify is in: ioccsz/max_xfer are fixed from then on */
	bool detaching;
	uint32_t ioccsz_bytes;
	uint32_t max_xfer_bytes;
	uint32_t num_ns;
	struct nvme_ns *ns;
	struct nvme_ns_table *ns_table; /* atomic pointer, see struct nvme_ns_table */
	struct nvme_ns_table *ns_retired;
	/* I/O queue ids in use: bit (qid - 1), under qpairs_lock; the lowest free one is reused. */
	uint64_t qid_used[NVME_HOST_MAX_IO_QUEUES / 64];
	/* When each id was last freed: ids freed NVME_HOST_QID_COOL_MS ago are taken first. */
	uint64_t qid_free_ms[NVME_HOST_MAX_IO_QUEUES];
	uint64_t last_keep_alive_ms;
	bool keep_alive_outstanding;
	bool keep_alive_failed;

	/*
	 * state (enum ftgt_nvme_ctrlr_state) and gen are written by the admin thread only
	 * (release) and read by I/O threads (acquire). gen grows at every reset and when the
	 * controller fails; a qpair whose gen differs drops its connection.
	 */
	uint32_t state;
	uint32_t gen;
	/*
	 * Reset asked for by a qpair (any thread): gen + 1 of the generation it saw; taken
	 * (acquire exchange) by the admin thread, which ignores requests of an older gen.
	 */
	uint64_t reset_requested;

	/* (Re)connect machine (admin thread). */
	uint8_t step;
	bool disconnect_pending; /* reset asked: close the admin connection first */
	bool init_busy;          /* an init command is outstanding */
	struct nvme_cpl init_cpl;
	uint8_t *init_buf; /* 4 KiB for Identify */
	uint64_t attempt_deadline_ms;
	uint64_t rdy_deadline_ms;
	uint64_t next_poll_ms;
	uint64_t next_attempt_ms;
	uint64_t fail_start_ms;
	uint32_t cur_delay_ms;
	uint32_t attempts;
	uint64_t enabled_ms;   /* when it last became ENABLED */
	uint32_t req_delay_ms; /* back-off of resets that qpairs keep asking for */
	int conn_rc;
	char conn_err[320];

	/* Namespace scan (admin thread): at init and on a namespace notice. */
	bool scan_active;
	bool scan_busy;
	uint8_t scan_phase; /* 0 list, 1 namespaces */
	int scan_rc;
	uint32_t scan_idx;
	uint32_t scan_n;
	ftgt_le32 *scan_list;
	struct nvme_ns *scan_ns;
	uint64_t scan_req_seq;  /* refreshes asked for */
	uint64_t scan_cur_seq;  /* the one running covers requests up to this */
	uint64_t scan_done_seq; /* finished refreshes cover requests up to this */

	/* Asynchronous events. */
	ftgt_nvme_aer_cb aer_cb;
	void *aer_cb_arg;
	uint32_t num_aers;
	struct nvme_aer aers[NVME_HOST_MAX_AERS];

	/* I/O qpairs, for Aborts on their behalf; the lock is off the data path. */
	pthread_mutex_t qpairs_lock;
	struct ftgt_nvme_qpair *qpairs;
	uint32_t aborts_pending; /* atomic: qpairs with abort_cid_plus1 set */
	uint64_t aborts_sent;
	uint64_t resets; /* completed resets, for tests */
};

/* Ask the admin thread for a reset of generation gen (pairs with the exchange in ctrlr.c). */
static inline void
nvme_ctrlr_request_reset(struct ftgt_nvme_ctrlr *ctrlr, uint32_t gen)
{
	__atomic_store_n(&ctrlr->reset_requested, (uint64_t)gen + 1, __ATOMIC_RELEASE);
}

static inline bool
nvme_ctrlr_reconnect_enabled(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr != NULL && ctrlr->opts.reconnect_delay_ms != 0;
}

uint64_t nvme_now_ms(void);

/* tcp.c */
struct ftgt_nvme_qpair *nvme_tcp_qpair_create(struct ftgt_nvme_ctrlr *ctrlr, uint16_t qid,
                                              uint32_t num_entries);
/*
 * Start a connect: close any old connection, reset the transport state, start a
 * non-blocking TCP connect (state SOCK_CONNECTING, or WAIT_ICRESP with the ICReq queued).
 * nvme_tcp_qpair_process() carries it on until CONNECTING (ICResp in) or failure (then
 * q->conn_rc and q->fail_reason say why). 0 or -errno (q->fail_reason filled).
 */
int nvme_tcp_qpair_start_connect(struct ftgt_nvme_qpair *q,
                                 const struct ftgt_nvme_transport_id *trid, uint64_t deadline_ms);
void nvme_tcp_qpair_destroy(struct ftgt_nvme_qpair *q);
/* Submit with a contiguous buffer (any state but FAILED/DISCONNECTED/unconnected). */
int nvme_tcp_qpair_submit(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, void *buf,
                          uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int nvme_tcp_qpair_submitv(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, struct iovec *iov,
                           uint32_t iovcnt, uint32_t len_bytes, uint32_t flags,
                           ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
/* Two commands queued back to back, FUSE first/second set here; one callback. */
int nvme_tcp_qpair_submit_fused(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd1,
                                struct iovec *iov1, uint32_t iovcnt1, struct nvme_cmd *cmd2,
                                struct iovec *iov2, uint32_t iovcnt2, uint32_t len_bytes,
                                ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
/*
 * Send, receive, time out. 0 or more completions; -ENXIO once dead (FAILED or
 * DISCONNECTED). max_completions 0 = no limit.
 */
int nvme_tcp_qpair_process(struct ftgt_nvme_qpair *q, uint32_t max_completions);
/*
 * Transport failure: close, end every command with ABORTED_SQ_DELETION. The qpair becomes
 * FAILED, or DISCONNECTED when automatic reconnect applies (it was connected once and
 * the controller has reconnect enabled; an I/O qpair then asks for a controller reset).
 */
void nvme_tcp_qpair_fail(struct ftgt_nvme_qpair *q, const char *reason);
/* Close and end every command with ABORTED_SQ_DELETION (DNR clear); DISCONNECTED. */
void nvme_tcp_qpair_disconnect(struct ftgt_nvme_qpair *q);
/* Feed received bytes into the PDU parser (used by the recv loop and by tests). */
int nvme_tcp_qpair_rx_bytes(struct ftgt_nvme_qpair *q, const uint8_t *p, size_t len);
/* Flush the send ring (non-blocking). 0 or -errno on a fatal socket error. */
int nvme_tcp_qpair_flush(struct ftgt_nvme_qpair *q);

/* Wait (polling, sleeping in poll(2)) until *done or deadline; 0 or -ETIMEDOUT/-ENXIO. */
int nvme_qpair_wait(struct ftgt_nvme_qpair *q, const bool *done, uint64_t deadline_ms);
/* Sleep in poll(2) on q's socket for at most timeout_ms (for blocking wrappers). */
void nvme_qpair_sleep(struct ftgt_nvme_qpair *q, uint32_t timeout_ms);

static inline enum ftgt_nvme_ctrlr_state
nvme_ctrlr_state(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return (enum ftgt_nvme_ctrlr_state)__atomic_load_n(&ctrlr->state, __ATOMIC_ACQUIRE);
}

static inline bool
nvme_cpl_is_sq_deletion(const struct nvme_cpl *cpl)
{
	uint16_t status = ftgt_le16_to_cpu(cpl->status);

	return NVME_STATUS_GET_SCT(status) == NVME_SCT_GENERIC &&
	       NVME_STATUS_GET_SC(status) == NVME_SC_ABORTED_SQ_DELETION;
}

/* ns.c (admin thread) */
/* Publish ctrlr->ns as the I/O path's snapshot; the old one is retired. 0 or -ENOMEM. */
int nvme_ns_table_publish(struct ftgt_nvme_ctrlr *ctrlr);
/* Refresh the active namespace list (covers every request up to scan_req_seq). */
void nvme_scan_start(struct ftgt_nvme_ctrlr *ctrlr);
/* Drive a running scan; scan_active clears when done (scan_rc says how). */
void nvme_scan_poll(struct ftgt_nvme_ctrlr *ctrlr);
/* The admin connection closed under a scan (its commands ended): drop it. */
void nvme_scan_cancel(struct ftgt_nvme_ctrlr *ctrlr);
/* Drive the AERs: log pages, refresh, user callback, re-arm (ENABLED only). */
void nvme_aer_poll(struct ftgt_nvme_ctrlr *ctrlr);

/* ctrlr.c: submit Fabrics Connect on q (state CONNECTING); the callback makes it READY. */
int nvme_fabric_connect_submit(struct ftgt_nvme_qpair *q, uint16_t cntlid);

#endif /* FTGT_NVME_INTERNAL_H */
