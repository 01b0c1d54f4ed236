/* SPDX-License-Identifier: BSD-3-Clause */
/* Private declarations of the NVMe/TCP transport (lib/nvmf/tcp). */
#ifndef FTGT_NVMF_TCP_INTERNAL_H
#define FTGT_NVMF_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "ftgt/nvmf_transport.h"
#include "ftgt/spec/nvmf.h"
#include "ftgt/thread.h"
#include "../nvmf_internal.h"
#include "tcp_pdu.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                                         \
	for ((var) = TAILQ_FIRST((head)); (var) && ((tvar) = TAILQ_NEXT((var), field), 1); \
	     (var) = (tvar))
#endif

#define NVMF_TCP_RECV_BUF_BYTES (64 * 1024)
/* Receive buffers a connection may have referenced by requests at once (see below). */
#define NVMF_TCP_RX_CHUNKS  8
#define NVMF_TCP_TX_MAX_IOV (FTGT_NVMF_REQ_MAX_IOV + 3)
/* iovecs per sendmsg (IOV_MAX is 1024): 128 C2HData PDUs of one buffer each. */
#define NVMF_TCP_SENDMSG_IOV 256
/* Data left to receive for one PDU from which it is received straight into its buffer. */
#define NVMF_TCP_DIRECT_MIN_BYTES 8192
#define NVMF_TCP_MAX_POLL_GROUPS  64
#define NVMF_TCP_EPOLL_EVENTS     64
/* A connection whose socket had nothing for this many polls in a row goes back to
 * waiting for epoll readiness (see pg_poll() in tcp.c). */
#define NVMF_TCP_HOT_IDLE_POLLS 64

struct nvmf_tcp_qpair;

/* One PDU queued for sending: header (+ digest), data iovecs, data digest. */
struct nvmf_tcp_tx {
	struct iovec iov[NVMF_TCP_TX_MAX_IOV];
	int iovcnt;
	uint8_t hdr[NVME_TCP_TERM_REQ_HLEN + NVME_TCP_TERM_REQ_ERROR_DATA_MAX + 4]
	        __attribute__((aligned(8)));
	ftgt_le32 ddgst;
	struct nvmf_tcp_req *req_done; /* released once this PDU is on the wire */
	bool close_after;              /* a C2HTermReq: close once sent */
	TAILQ_ENTRY(nvmf_tcp_tx) link;
};

enum nvmf_tcp_req_state {
	NVMF_TCP_REQ_FREE = 0,
	NVMF_TCP_REQ_NEED_DATA, /* waiting for in-capsule data or H2CData */
	NVMF_TCP_REQ_IN_CORE,   /* executing in the nvmf core */
	NVMF_TCP_REQ_SENDING,   /* response queued */
};

/*
 * Target transfer tags: slot index + num_reqs * generation, the generation advancing each
 * time the slot takes a command, so that H2CData still arriving for an aborted command
 * (whose slot may already hold a new one) is told apart and dropped.
 */

struct nvmf_tcp_req {
	struct ftgt_nvmf_request req;
	struct nvme_cmd cmd;
	struct nvme_cpl rsp;
	enum nvmf_tcp_req_state state;
	uint16_t ttag;
	uint16_t ttag_gen;
	bool awaiting_h2c;     /* R2T queued: H2CData for ttag accepted */
	bool abort_pending;    /* aborted while its PDU's data is being received */
	uint32_t h2c_received; /* bytes of H2CData received */
	/* H2CData of an aborted command still to come, dropped on arrival: bytes
	 * [discard_off, discard_end) for discard_ttag/discard_cccid (discard_end 0: none).
	 * Kept in the slot independently of the command the slot holds now. */
	uint16_t discard_ttag;
	uint16_t discard_cccid;
	uint32_t discard_off;
	uint32_t discard_end;
	bool data_error;                 /* a data digest failed: fail the command */
	uint16_t fail_sc;                /* capsule: fail with this generic status (0: none) */
	bool r2t;                        /* capsule: data comes by R2T/H2CData */
	uint64_t start_ticks;            /* capsule received (ftgt_get_ticks()) */
	uint8_t *buf;                    /* data buffer (buf_len bytes, allocated on first need) */
	struct nvmf_tcp_rx_chunk *chunk; /* in-capsule data used in place, in this chunk */
	uint32_t buf_len;
	struct nvmf_tcp_tx tx_data; /* R2T or C2HData */
	struct nvmf_tcp_tx tx_rsp;  /* CapsuleResp */
	TAILQ_ENTRY(nvmf_tcp_req) link;
};

/*
 * A receive buffer. In-capsule data that lies whole in the buffer is not copied: the
 * request points into the buffer and holds a reference, and the connection receives into
 * another buffer until every reference is dropped. When all NVMF_TCP_RX_CHUNKS are
 * referenced the connection receives into its own copy buffer and copies, as for data
 * that straddles two receives.
 */
struct nvmf_tcp_rx_chunk {
	uint8_t *data; /* NVMF_TCP_RECV_BUF_BYTES, allocated on first use */
	uint32_t refs; /* requests whose data points into it */
};

struct nvmf_tcp_poll_group;

struct nvmf_tcp_qpair {
	struct ftgt_nvmf_qpair qpair;
	int fd;
	struct nvmf_tcp_poll_group *pg;
	struct nvmf_tcp_rx rx;
	uint8_t *rbuf;                       /* cur_chunk->data, or rbuf_copy */
	struct nvmf_tcp_rx_chunk *cur_chunk; /* NULL: receiving into rbuf_copy */
	struct nvmf_tcp_rx_chunk chunks[NVMF_TCP_RX_CHUNKS];
	uint8_t *rbuf_copy; /* allocated on first use */
	uint32_t rbuf_len;  /* bytes held in rbuf */
	uint32_t rbuf_off;  /* first unconsumed byte */
	struct nvmf_tcp_req *reqs;
	uint32_t num_reqs;
	uint32_t ttag_gens; /* generations per slot: ttag < num_reqs * ttag_gens <= 65536 */
	TAILQ_HEAD(, nvmf_tcp_req) free_reqs;
	struct nvmf_tcp_req *cur_req; /* the request the parser is filling */
	struct iovec h2c_iov;
	TAILQ_HEAD(, nvmf_tcp_tx) txq;
	size_t tx_off;              /* bytes of the first queued PDU already sent */
	struct nvmf_tcp_tx tx_ctrl; /* ICResp or C2HTermReq */
	bool disconnecting;
	bool closing_after_tx;
	bool hot;            /* on pg->hot: received recently, recv'd every poll */
	bool on_flushq;      /* on pg->flushq: PDUs queued */
	uint32_t idle_polls; /* hot: polls in a row that received nothing */
	bool in_epoll;       /* fd registered in pg->epfd */
	uint64_t pdus_in;
	uint64_t pdus_out;
	struct ftgt_log_ratelimit rl;
	TAILQ_ENTRY(nvmf_tcp_qpair) link;
	TAILQ_ENTRY(nvmf_tcp_qpair) hot_link;
	TAILQ_ENTRY(nvmf_tcp_qpair) flush_link;
};

/*
 * A poll group: every connection of one reactor thread. Readiness: connections that
 * received data recently are "hot" and recv()'d directly every poll; the others wait in
 * one epoll set (level triggered, epoll_wait with 0 timeout, called only when some
 * connection is not hot), so idle connections cost no system call. Connections with
 * PDUs to send are on flushq and are flushed once per poll.
 */
struct nvmf_tcp_poll_group {
	struct ftgt_thread *thread;
	struct ftgt_poller *poller;
	struct nvmf_tcp_transport *ttransport;
	TAILQ_HEAD(, nvmf_tcp_qpair) qpairs;
	uint32_t num_qpairs;
	int epfd;
	TAILQ_HEAD(, nvmf_tcp_qpair) hot;
	uint32_t num_hot;
	TAILQ_HEAD(, nvmf_tcp_qpair) flushq;
	uint32_t num_to_reap; /* disconnecting, ftgt_nvmf_qpair_fini() not called yet */
	bool destroying;
	/* Counters (this poll group's thread only). */
	uint64_t accepted_qpairs;
	uint64_t pdus_in;        /* of connections already gone */
	uint64_t pdus_out;       /* of connections already gone */
	struct nvmf_io_stats io; /* I/O commands of every connection, gone ones included */
};

struct nvmf_tcp_listener {
	struct ftgt_nvmf_listen_addr addr;
	int fd;
	uint64_t accept_errors;
	struct ftgt_log_ratelimit rl;
	TAILQ_ENTRY(nvmf_tcp_listener) link;
};

struct nvmf_tcp_transport {
	struct ftgt_nvmf_transport base;
	TAILQ_HEAD(, nvmf_tcp_listener) listeners;
	struct ftgt_poller *accept_poller;
	struct nvmf_tcp_poll_group pgs[NVMF_TCP_MAX_POLL_GROUPS];
	uint32_t num_pgs;
	uint32_t next_pg;
	uint32_t pgs_left; /* destroy: poll groups not yet gone */
	void (*destroy_cb)(void *cb_arg);
	void *destroy_cb_arg;
	struct ftgt_thread *destroy_thread;
};

/* tcp_qpair.c */
void nvmf_tcp_qpair_start(struct nvmf_tcp_poll_group *pg, int fd,
                          const struct ftgt_nvmf_listen_addr *listen_addr,
                          const struct ftgt_nvmf_listen_addr *peer_addr);
/* Receive and process what the socket has. BUSY/IDLE. */
int nvmf_tcp_qpair_recv(struct nvmf_tcp_qpair *tq);
/* Send what is queued (tq is on pg->flushq). BUSY/IDLE. */
int nvmf_tcp_qpair_flush(struct nvmf_tcp_qpair *tq);
/* Poll group: tq's socket is readable (or tq has bytes left to parse): recv it every poll. */
void nvmf_tcp_pg_set_hot(struct nvmf_tcp_poll_group *pg, struct nvmf_tcp_qpair *tq);
/* Poll group: forget tq in every list but pg->qpairs (disconnect). */
void nvmf_tcp_pg_qpair_quiesce(struct nvmf_tcp_poll_group *pg, struct nvmf_tcp_qpair *tq);
void nvmf_tcp_qpair_disconnect(struct ftgt_nvmf_qpair *qpair);
/* Free tq and everything it holds (its fd is closed by the caller). */
void nvmf_tcp_qpair_free(struct nvmf_tcp_qpair *tq);
void nvmf_tcp_req_complete(struct ftgt_nvmf_request *req);
struct ftgt_nvmf_request *nvmf_tcp_qpair_find_req(struct ftgt_nvmf_qpair *qpair, uint16_t cid);
/*
 * Abort the command with this CID that the transport still holds, not yet handed to the
 * core: receiving its in-capsule data or its H2CData (R2T). It completes with Command
 * Abort Requested (at once, or when the PDU being received ends), and the H2CData the
 * host still sends for it is dropped. Returns true when such a command was found.
 */
bool nvmf_tcp_qpair_abort_req(struct ftgt_nvmf_qpair *qpair, uint16_t cid);

#endif /* FTGT_NVMF_TCP_INTERNAL_H */
