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

struct nvme_req {
	ftgt_nvme_cmd_cb cb_fn;
	void *cb_arg;
	uint8_t *buf;
	uint32_t len_bytes;
	uint32_t c2h_done_bytes; /* C2HData received so far (in order) */
	uint32_t h2c_sent_bytes; /* data queued for sending (in capsule or H2CData) */
	uint16_t cid;
	uint8_t dir;
	bool active;
	bool c2h_success; /* last C2HData carried SUCCESS: no CapsuleResp follows */
	uint64_t submit_ms;
	/* An R2T not yet turned into H2CData PDUs (send ring was full). */
	uint32_t r2t_off_bytes;
	uint32_t r2t_len_bytes;
	uint16_t r2t_ttag;
	bool r2t_pending;
	bool abort_requested; /* timed out once: Abort asked for, failing at the next timeout */
	uint64_t abort_ms;
	struct nvme_req *next; /* free list / pending R2T list */
};

/* One PDU waiting to be sent: header (+digest, +padding), data, data digest. */
struct nvme_tcp_tx_slot {
	uint8_t hdr[NVME_TCP_TX_HDR_BYTES];
	uint32_t hdr_len;
	uint32_t data_len;
	const uint8_t *data;
	ftgt_le32 ddgst;
	bool has_ddgst;
};

enum nvme_tcp_rx_state {
	NVME_TCP_RX_CH = 0, /* collecting the 8-byte common header */
	NVME_TCP_RX_HDR,    /* rest of the header, its digest and padding up to pdo */
	NVME_TCP_RX_DATA,   /* payload straight into the request's buffer */
	NVME_TCP_RX_DDGST,  /* data digest */
};

enum nvme_qpair_state {
	NVME_QPAIR_WAIT_ICRESP = 0,
	NVME_QPAIR_CONNECTING, /* ICResp in, Fabrics Connect outstanding */
	NVME_QPAIR_READY,
	NVME_QPAIR_FAILED,
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
	uint32_t rx_state;
	uint8_t rx_hdr[NVME_TCP_TX_HDR_BYTES + 8];
	uint32_t rx_hdr_have;
	uint32_t rx_hdr_need; /* bytes up to pdo (or the whole PDU if it has no data) */
	uint32_t rx_data_left;
	uint32_t rx_ddgst_have;
	uint8_t rx_ddgst[4];
	uint32_t rx_crc;
	struct nvme_req *rx_req;
	uint8_t *rx_dst;

	/*
	 * Timed-out command to abort: cid + 1, stored (release) by the qpair's thread, taken
	 * (acquire exchange) by the admin thread in ftgt_nvme_ctrlr_process_admin_completions().
	 */
	uint32_t abort_cid_plus1;
	struct ftgt_nvme_qpair *next_in_ctrlr; /* ctrlr->qpairs, under ctrlr->qpairs_lock */

	/* Statistics and the most recent fatal error, for the caller's message. */
	struct nvme_qpair_ops_stats stats;
	char fail_reason[128];
};

struct nvme_ns {
	uint32_t nsid;
	uint32_t block_size;
	uint64_t num_blocks;
	struct nvme_ns_data data;
};

struct ftgt_nvme_ctrlr {
	struct ftgt_nvme_transport_id trid;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_qpair *adminq;
	struct nvme_ctrlr_data cdata;
	uint64_t cap;
	uint32_t vs;
	uint16_t cntlid;
	bool failed;
	uint32_t ioccsz_bytes;
	uint32_t max_xfer_bytes;
	uint32_t num_ns;
	struct nvme_ns *ns;
	uint16_t next_qid; /* atomically increased: qpairs may be made on any thread */
	uint64_t last_keep_alive_ms;
	bool keep_alive_outstanding;
	/* I/O qpairs, for Aborts on their behalf; the lock is off the data path. */
	pthread_mutex_t qpairs_lock;
	struct ftgt_nvme_qpair *qpairs;
	uint32_t aborts_pending; /* atomic: qpairs with abort_cid_plus1 set */
	uint64_t aborts_sent;
};

uint64_t nvme_now_ms(void);

/* tcp.c */
struct ftgt_nvme_qpair *nvme_tcp_qpair_create(struct ftgt_nvme_ctrlr *ctrlr, uint16_t qid,
                                              uint32_t num_entries);
/* Blocking: TCP connect + ICReq/ICResp before deadline_ms. 0 or -errno (err filled). */
int nvme_tcp_qpair_connect_socket(struct ftgt_nvme_qpair *q,
                                  const struct ftgt_nvme_transport_id *trid, uint64_t deadline_ms,
                                  char *err, size_t err_len);
void nvme_tcp_qpair_destroy(struct ftgt_nvme_qpair *q);
int nvme_tcp_qpair_submit(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, void *buf,
                          uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int nvme_tcp_qpair_process(struct ftgt_nvme_qpair *q, uint32_t max_completions);
void nvme_tcp_qpair_fail(struct ftgt_nvme_qpair *q, const char *reason);
/* Feed received bytes into the PDU parser (used by the recv loop and by tests). */
int nvme_tcp_qpair_rx_bytes(struct ftgt_nvme_qpair *q, const uint8_t *p, size_t len);
/* Flush the send ring (non-blocking). 0 or -errno on a fatal socket error. */
int nvme_tcp_qpair_flush(struct ftgt_nvme_qpair *q);

/* Wait (polling, sleeping in poll(2)) until *done or deadline; 0 or -ETIMEDOUT/-ENXIO. */
int nvme_qpair_wait(struct ftgt_nvme_qpair *q, const bool *done, uint64_t deadline_ms);

/* ctrlr.c: Fabrics Connect on q (blocking until deadline). */
int nvme_fabric_connect(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *q, uint16_t cntlid,
                        uint64_t deadline_ms, uint16_t *cntlid_out, char *err, size_t err_len);

#endif /* FTGT_NVME_INTERNAL_H */
