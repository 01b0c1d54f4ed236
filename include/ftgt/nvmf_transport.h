/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The contract between the NVMe-oF core and its transports (tcp, rdma, fc).
 *
 * A transport registers a `struct nvmf_transport_ops`. It accepts connections, makes one
 * `struct ftgt_nvmf_qpair` (embedded in its own queue pair) per connection on one poll
 * group thread, and for each command capsule fills a pre-allocated
 * `struct ftgt_nvmf_request`: the SQE, the data buffers (host-to-controller data already
 * received), then calls ftgt_nvmf_request_exec(). The core executes the command and
 * calls ops->req_complete() exactly once with the CQE filled; the transport then sends
 * the data (controller-to-host) and the response.
 *
 * Threads: a qpair and its requests belong to the thread that called
 * ftgt_nvmf_qpair_init(); every call below on a qpair or request is made there.
 */
#ifndef FTGT_NVMF_TRANSPORT_H
#define FTGT_NVMF_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "ftgt/bdev.h"
#include "ftgt/nvmf.h"
#include "ftgt/spec/nvme.h"

struct ftgt_thread;
struct ftgt_nvmf_qpair;
struct nvmf_ctrlr;
struct nvmf_qpair_ns;

#define FTGT_NVMF_REQ_MAX_IOV 32

/* Transport options (nvmf_create_transport). */
struct ftgt_nvmf_transport_opts {
	uint16_t max_queue_depth;      /* entries per I/O queue (default 128) */
	uint16_t max_aq_depth;         /* entries of the admin queue (default 32) */
	uint16_t max_qpairs_per_ctrlr; /* admin + I/O queues (default 128) */
	uint32_t in_capsule_data_size; /* bytes (default 4096) */
	uint32_t max_io_size;          /* bytes (default 131072) */
	uint32_t io_unit_size;         /* bytes (default 131072) */
	uint32_t num_shared_buffers;   /* data buffers per poll group (default 511) */
	bool c2h_success;              /* C2HData SUCCESS flag allowed (default true) */
	uint32_t sock_priority;        /* SO_PRIORITY (default 0) */
};

enum ftgt_nvmf_qpair_state {
	FTGT_NVMF_QPAIR_UNINITIALIZED = 0, /* before Connect completes */
	FTGT_NVMF_QPAIR_CONNECTING,        /* Connect in progress */
	FTGT_NVMF_QPAIR_ENABLED,           /* commands accepted */
	FTGT_NVMF_QPAIR_DEACTIVATING,      /* disconnect began: waiting for in-flight I/O */
	FTGT_NVMF_QPAIR_ERROR,
};

/* One command. Pre-allocated by the transport, one per queue entry. */
struct ftgt_nvmf_request {
	struct ftgt_nvmf_qpair *qpair;
	struct nvme_cmd *cmd; /* SQE, filled by the transport */
	struct nvme_cpl *rsp; /* CQE, filled by the core before req_complete */
	/* Data: length bytes in iov[0..iovcnt) (transport buffers). xfer is the direction
	 * the SQE's opcode implies (NVME_OPC_XFER_*). */
	uint32_t length;
	uint8_t xfer;
	int iovcnt;
	struct iovec iov[FTGT_NVMF_REQ_MAX_IOV];

	/* ---- core private ---- */
	struct ftgt_nvmf_request *fused_pair; /* the other half of a fused pair */
	struct ftgt_bdev_io_wait_entry bdev_wait;
	void (*retry_fn)(struct ftgt_nvmf_request *req);
	uint32_t io_nsid;   /* non-zero: counted busy on that namespace of its qpair */
	uint32_t pending;   /* DSM: sub-I/Os outstanding */
	uint16_t first_err; /* DSM: first failed status */
	bool in_core;       /* between exec and complete */
	bool io_waiting;    /* queued for a struct ftgt_bdev_io (bdev_wait) */
	bool io_aborted;    /* aborted while io_waiting: completes when its turn comes */
	TAILQ_ENTRY(ftgt_nvmf_request) link;
};

/* Base of every transport's queue pair (embed it; the core never allocates one). */
struct ftgt_nvmf_qpair {
	const struct nvmf_transport_ops *ops;
	struct ftgt_nvmf_transport *transport;
	struct ftgt_thread *thread;
	struct nvmf_ctrlr *ctrlr;
	enum ftgt_nvmf_qpair_state state;
	uint16_t qid;
	uint16_t sqsize; /* entries (1's based) from Connect */
	uint16_t sq_head;
	bool sqfc_disabled;
	uint32_t outstanding; /* requests between exec and complete */
	/* The address the host connected to, and the host's. */
	struct ftgt_nvmf_listen_addr listen_addr;
	struct ftgt_nvmf_listen_addr peer_addr;
	/* I/O queues: per NSID (index nsid - 1) the bdev channel, got on first use, and the
	 * commands using it (core private). */
	struct nvmf_qpair_ns *ns;
	uint32_t ns_count;
	/* Pending outstanding AER requests (admin queue). */
	TAILQ_HEAD(, ftgt_nvmf_request) aer_reqs;
	struct ftgt_nvmf_request *fused_first; /* a FUSE FIRST waiting for its second */
	void (*disconnect_cb)(void *cb_arg);
	void *disconnect_cb_arg;
	/* Counters (this thread only). */
	uint64_t num_cmds;
	uint64_t num_errors;
	TAILQ_ENTRY(ftgt_nvmf_qpair) ctrlr_link; /* on the controller's thread */
};

/* A transport instance (nvmf_create_transport). */
struct ftgt_nvmf_transport {
	const struct nvmf_transport_ops *ops;
	struct ftgt_nvmf_transport_opts opts;
	TAILQ_ENTRY(ftgt_nvmf_transport) link;
};

struct nvmf_transport_ops {
	const char *name; /* "TCP" */
	uint8_t trtype;   /* NVMF_TRTYPE_* */
	void (*opts_init)(struct ftgt_nvmf_transport_opts *opts);
	/* App thread. NULL on failure. */
	struct ftgt_nvmf_transport *(*create)(const struct ftgt_nvmf_transport_opts *opts);
	void (*destroy)(struct ftgt_nvmf_transport *transport, void (*cb_fn)(void *cb_arg),
	                void *cb_arg);
	/* Start/stop listening on addr (app thread). 0 or -errno. */
	int (*listen)(struct ftgt_nvmf_transport *transport,
	              const struct ftgt_nvmf_listen_addr *addr);
	void (*stop_listen)(struct ftgt_nvmf_transport *transport,
	                    const struct ftgt_nvmf_listen_addr *addr);
	/* The core is done with req: send data (if any) and the CQE. Qpair's thread. */
	void (*req_complete)(struct ftgt_nvmf_request *req);
	/* Close the connection (idempotent); the transport then calls
	 * ftgt_nvmf_qpair_fini() once its own requests are quiesced. Qpair's thread. */
	void (*qpair_disconnect)(struct ftgt_nvmf_qpair *qpair);
	/* The admin identify data the transport sets (SGL support, ICD size). */
	void (*cdata_init)(struct ftgt_nvmf_transport *transport, struct nvme_ctrlr_data *cdata);
	/* The request of qpair executing in the core (between ftgt_nvmf_request_exec and
	 * req_complete) whose command has this CID, or NULL (Abort). Qpair's thread. May be
	 * NULL: then only commands waiting in the core itself can be aborted. */
	struct ftgt_nvmf_request *(*qpair_find_req)(struct ftgt_nvmf_qpair *qpair, uint16_t cid);
	/* Abort the command with this CID that the transport holds before the core has it
	 * (receiving its data, waiting for a buffer): the transport completes it with
	 * Command Abort Requested (at once or later) and returns true; false when it holds
	 * no such command. Qpair's thread. May be NULL. */
	bool (*qpair_abort_req)(struct ftgt_nvmf_qpair *qpair, uint16_t cid);
	/* Write the transport's options into a JSON object (save_config). May be NULL. */
	void (*dump_opts)(struct ftgt_nvmf_transport *transport, void *json_obj);
	/*
	 * Per poll group counters for nvmf_get_stats: cb_fn(cb_arg, stats) later on the
	 * calling (app) thread with a new json_t array (ownership passes) of objects, one per
	 * poll group. May be NULL.
	 */
	void (*get_stats)(struct ftgt_nvmf_transport *transport,
	                  void (*cb_fn)(void *cb_arg, void *json_array), void *cb_arg);
};

/* Register a transport at start-up (constructor). */
void ftgt_nvmf_transport_register(const struct nvmf_transport_ops *ops);
#define FTGT_NVMF_TRANSPORT_REGISTER(NAME, OPS)                                            \
	__attribute__((constructor)) static void ftgt_nvmf_transport_register_##NAME(void) \
	{                                                                                  \
		ftgt_nvmf_transport_register(OPS);                                         \
	}
const struct nvmf_transport_ops *ftgt_nvmf_transport_ops_get(const char *name);
/* Create (app thread); -EEXIST when one of that type exists. */
int ftgt_nvmf_transport_create(const char *name, const struct ftgt_nvmf_transport_opts *opts,
                               struct ftgt_nvmf_transport **transport);
struct ftgt_nvmf_transport *ftgt_nvmf_transport_get(const char *name);
struct ftgt_nvmf_transport *ftgt_nvmf_transport_first(void);
struct ftgt_nvmf_transport *ftgt_nvmf_transport_next(struct ftgt_nvmf_transport *prev);

/* ---- queue pairs (transport -> core) ------------------------------------------------ */

/* A new connection on the calling thread. */
void ftgt_nvmf_qpair_init(struct ftgt_nvmf_qpair *qpair, struct ftgt_nvmf_transport *transport,
                          const struct ftgt_nvmf_listen_addr *listen_addr,
                          const struct ftgt_nvmf_listen_addr *peer_addr);
/*
 * The connection is gone: the core stops accepting commands, waits for those in flight
 * (their req_complete still comes; the transport drops what it cannot send), detaches
 * the qpair from its controller (destroying the controller with its admin queue) and
 * then calls cb_fn(cb_arg) on the qpair's thread; after that the transport may free
 * the qpair and its requests. Call once.
 */
void ftgt_nvmf_qpair_fini(struct ftgt_nvmf_qpair *qpair, void (*cb_fn)(void *cb_arg), void *cb_arg);
/* Ask the transport to disconnect (keep-alive expiry, RPC, controller reset). */
void ftgt_nvmf_qpair_disconnect(struct ftgt_nvmf_qpair *qpair);

/* ---- requests (transport -> core) --------------------------------------------------- */

/* Execute req (its cmd, length, xfer and iov are set). Completion via req_complete. */
void ftgt_nvmf_request_exec(struct ftgt_nvmf_request *req);
/* Fail req without executing it (transport-level error: bad SGL, data digest). */
void ftgt_nvmf_request_fail(struct ftgt_nvmf_request *req, int sct, int sc);
/* Largest data transfer this request may carry: for a transport that must choose the
 * buffer size before exec (controller-to-host). */
uint32_t ftgt_nvmf_request_max_len(const struct ftgt_nvmf_request *req);

#endif /* FTGT_NVMF_TRANSPORT_H */
