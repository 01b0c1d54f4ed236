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

#define NVMF_TCP_RECV_BUF_BYTES  (64 * 1024)
#define NVMF_TCP_TX_MAX_IOV      (FTGT_NVMF_REQ_MAX_IOV + 3)
#define NVMF_TCP_MAX_POLL_GROUPS 64

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

struct nvmf_tcp_req {
	struct ftgt_nvmf_request req;
	struct nvme_cmd cmd;
	struct nvme_cpl rsp;
	enum nvmf_tcp_req_state state;
	uint16_t ttag;
	uint32_t h2c_received; /* bytes of H2CData received */
	bool data_error;       /* a data digest failed: fail the command */
	uint16_t fail_sc;      /* capsule: fail with this generic status (0: none) */
	bool r2t;              /* capsule: data comes by R2T/H2CData */
	uint64_t start_ticks;  /* capsule received (ftgt_get_ticks()) */
	uint8_t *buf;          /* data buffer (buf_len bytes, allocated on first need) */
	uint32_t buf_len;
	struct nvmf_tcp_tx tx_data; /* R2T or C2HData */
	struct nvmf_tcp_tx tx_rsp;  /* CapsuleResp */
	TAILQ_ENTRY(nvmf_tcp_req) link;
};

struct nvmf_tcp_poll_group;

struct nvmf_tcp_qpair {
	struct ftgt_nvmf_qpair qpair;
	int fd;
	struct nvmf_tcp_poll_group *pg;
	struct nvmf_tcp_rx rx;
	uint8_t *rbuf;
	uint32_t rbuf_len; /* bytes held in rbuf */
	uint32_t rbuf_off; /* first unconsumed byte */
	struct nvmf_tcp_req *reqs;
	uint32_t num_reqs;
	TAILQ_HEAD(, nvmf_tcp_req) free_reqs;
	struct nvmf_tcp_req *cur_req; /* the request the parser is filling */
	struct iovec h2c_iov;
	TAILQ_HEAD(, nvmf_tcp_tx) txq;
	size_t tx_off;              /* bytes of the first queued PDU already sent */
	struct nvmf_tcp_tx tx_ctrl; /* ICResp or C2HTermReq */
	bool disconnecting;
	bool closing_after_tx;
	uint64_t pdus_in;
	uint64_t pdus_out;
	struct ftgt_log_ratelimit rl;
	TAILQ_ENTRY(nvmf_tcp_qpair) link;
};

struct nvmf_tcp_poll_group {
	struct ftgt_thread *thread;
	struct ftgt_poller *poller;
	struct nvmf_tcp_transport *ttransport;
	TAILQ_HEAD(, nvmf_tcp_qpair) qpairs;
	uint32_t num_qpairs;
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
/* Receive and process what the socket has, then send what is queued. BUSY/IDLE. */
int nvmf_tcp_qpair_poll(struct nvmf_tcp_qpair *tq);
void nvmf_tcp_qpair_disconnect(struct ftgt_nvmf_qpair *qpair);
void nvmf_tcp_req_complete(struct ftgt_nvmf_request *req);
struct ftgt_nvmf_request *nvmf_tcp_qpair_find_req(struct ftgt_nvmf_qpair *qpair, uint16_t cid);

#endif /* FTGT_NVMF_TCP_INTERNAL_H */
