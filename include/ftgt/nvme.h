/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe over Fabrics host (initiator) library: connect to an NVM or discovery subsystem
 * over NVMe/TCP, run admin commands, and drive polled I/O queue pairs.
 *
 * Threading: a controller (and its admin queue) belongs to the thread that connected it;
 * ftgt_nvme_ctrlr_process_admin_completions() must be called on that thread from time to
 * time (it also sends the keep-alive). An I/O queue pair belongs to whichever single
 * thread submits on it and polls it; qpairs of one controller may live on different
 * threads with no locking between them. The library needs no reactor: plain pthreads
 * polling their qpairs work.
 *
 * Async calls follow the ftgt rule: 0 means cb_fn runs exactly once, later, from
 * ftgt_nvme_qpair_process_completions() (or the admin equivalent); <0 means it never
 * runs. Buffers stay owned by the caller and must stay valid until cb_fn runs.
 */
#ifndef FTGT_NVME_H
#define FTGT_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ftgt/spec/nvme.h"
#include "ftgt/spec/nvmf.h"

#define FTGT_NVME_TRADDR_MAX_LEN  255
#define FTGT_NVME_TRSVCID_MAX_LEN 31
#define FTGT_NVME_NQN_MAX_LEN     223

/* Where a controller is: the parsed form of "trtype:tcp adrfam:ipv4 traddr:... ...". */
struct ftgt_nvme_transport_id {
	uint8_t trtype; /* NVMF_TRTYPE_TCP */
	uint8_t adrfam; /* NVMF_ADRFAM_IPV4 / NVMF_ADRFAM_IPV6 */
	char traddr[FTGT_NVME_TRADDR_MAX_LEN + 1];
	char trsvcid[FTGT_NVME_TRSVCID_MAX_LEN + 1];
	char subnqn[FTGT_NVME_NQN_MAX_LEN + 1];
	char hostnqn[FTGT_NVME_NQN_MAX_LEN + 1]; /* optional "hostnqn:" key; "" if absent */
	uint32_t nsid;                           /* optional "ns:" key; 0 if absent (= all) */
};

/*
 * Parse "key:value" pairs separated by blanks. Keys (case-insensitive): trtype (tcp),
 * adrfam (ipv4, ipv6), traddr, trsvcid (1..65535), subnqn, hostnqn, ns. trtype and traddr
 * are required; adrfam defaults from traddr, trsvcid to 4420, subnqn to the discovery NQN.
 * Returns 0 or -EINVAL; on -EINVAL, err (if not NULL) holds one sentence naming the
 * offending key or value.
 */
int ftgt_nvme_transport_id_parse(struct ftgt_nvme_transport_id *trid, const char *str, char *err,
                                 size_t err_len);
/* "trtype:tcp adrfam:ipv4 traddr:... trsvcid:... subnqn:..." into buf; returns buf. */
const char *ftgt_nvme_transport_id_str(const struct ftgt_nvme_transport_id *trid, char *buf,
                                       size_t buf_len);

struct ftgt_nvme_ctrlr_opts {
	char hostnqn[FTGT_NVME_NQN_MAX_LEN + 1]; /* default: a uuid NQN made from hostid */
	uint8_t hostid[16];                      /* default: random */
	uint32_t kato_ms;                        /* keep-alive timeout; 0 disables; default 10000 */
	uint32_t admin_queue_size;               /* default 32 */
	uint32_t io_queue_size;                  /* default 128, capped by CAP.MQES + 1 */
	bool header_digest;
	bool data_digest;
	uint32_t connect_timeout_ms; /* whole connect sequence; default 5000 */
	uint32_t command_timeout_ms; /* per command; 0 disables; default 30000 */
	/*
	 * Automatic reconnect after a failure (admin connection lost, keep-alive failed, a
	 * command that an Abort did not end, an I/O connection lost): the controller resets
	 * itself, first after reconnect_delay_ms, then doubling the delay after each failed
	 * attempt up to reconnect_max_delay_ms, until ctrlr_loss_timeout_ms after the failure
	 * (then FAILED for good; -1 = never give up). reconnect_delay_ms 0 (the default)
	 * disables automatic reconnect: a failure then fails the queue pair / controller as
	 * before (ftgt_nvme_ctrlr_reset() still works when called explicitly).
	 */
	uint32_t reconnect_delay_ms;     /* default 0 = no automatic reconnect */
	uint32_t reconnect_max_delay_ms; /* default 10000 */
	int32_t ctrlr_loss_timeout_ms;   /* default -1 = never give up */
};

/* Fill opts with the defaults above (random hostid and matching hostnqn). */
void ftgt_nvme_ctrlr_opts_default(struct ftgt_nvme_ctrlr_opts *opts);

struct ftgt_nvme_ctrlr;
struct ftgt_nvme_qpair;

/*
 * Blocking connect (ftgt_nvme_connect_async() polled until it is done): TCP connect,
 * ICReq/ICResp, Fabrics Connect on the admin queue, Property Get
 * CAP/VS, enable (CC.EN, wait CSTS.RDY), Identify controller and, for an NVM subsystem,
 * the active namespaces. Blocks the calling thread for at most opts->connect_timeout_ms.
 * Returns 0 and *ctrlr, or -errno: -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, ...,
 * -EPROTO (the peer broke the protocol), -EACCES / -EINVAL / -EIO (Connect refused by
 * the controller; *err gets its status). err (may be NULL) receives one sentence.
 */
int ftgt_nvme_connect(const struct ftgt_nvme_transport_id *trid,
                      const struct ftgt_nvme_ctrlr_opts *opts, struct ftgt_nvme_ctrlr **ctrlr,
                      char *err, size_t err_len);

/*
 * Orderly disconnect: every I/O qpair must already be freed. When ENABLED, sets CC.SHN
 * and waits (bounded, 1 s) for the shutdown to complete; in any other state it just
 * closes. Then closes the admin connection and frees the controller. Outstanding admin
 * commands complete with ABORTED_SQ_DELETION. Admin thread.
 */
void ftgt_nvme_detach(struct ftgt_nvme_ctrlr *ctrlr);
/*
 * ftgt_nvme_detach() without the shutdown notification (no CC.SHN, no wait): closes at
 * once. For a controller being replaced (reset, reconnect, a failed or abandoned connect),
 * so the caller's thread never blocks. Every I/O qpair must already be freed; both detach
 * calls refuse (log an error, leak the controller) while any is left.
 */
void ftgt_nvme_detach_no_shutdown(struct ftgt_nvme_ctrlr *ctrlr);

const struct nvme_ctrlr_data *ftgt_nvme_ctrlr_get_data(const struct ftgt_nvme_ctrlr *ctrlr);
uint64_t ftgt_nvme_ctrlr_get_cap(const struct ftgt_nvme_ctrlr *ctrlr);
uint32_t ftgt_nvme_ctrlr_get_vs(const struct ftgt_nvme_ctrlr *ctrlr);
uint16_t ftgt_nvme_ctrlr_get_cntlid(const struct ftgt_nvme_ctrlr *ctrlr);
bool ftgt_nvme_ctrlr_is_discovery(const struct ftgt_nvme_ctrlr *ctrlr);
/*
 * True once the controller is FAILED (see ftgt_nvme_ctrlr_get_state()). Without automatic
 * reconnect that is as soon as the admin connection fails (keep-alive lost, transport
 * error); with it, when ctrlr_loss_timeout_ms has run out. Admin thread.
 */
bool ftgt_nvme_ctrlr_is_failed(const struct ftgt_nvme_ctrlr *ctrlr);

/*
 * Controller states. Written by the admin thread only; ftgt_nvme_ctrlr_get_state() may be
 * called from any thread (atomic load).
 *   CONNECTING  first connect in progress (ftgt_nvme_connect_async()).
 *   ENABLED     connected, enabled, identified: commands may be submitted.
 *   RESETTING   ftgt_nvme_ctrlr_reset() or an automatic reconnect: the admin connection
 *               is (re)connecting, or waiting for the back-off delay; admin and I/O
 *               submissions return -EAGAIN; I/O qpairs reconnect once it is ENABLED.
 *   FAILED      for good: the (re)connect failed without reconnect, or the loss timeout
 *               ran out. Submissions return -ENXIO; only ftgt_nvme_detach() is left.
 */
enum ftgt_nvme_ctrlr_state {
	FTGT_NVME_CTRLR_CONNECTING = 0,
	FTGT_NVME_CTRLR_ENABLED,
	FTGT_NVME_CTRLR_RESETTING,
	FTGT_NVME_CTRLR_FAILED,
};

enum ftgt_nvme_ctrlr_state ftgt_nvme_ctrlr_get_state(const struct ftgt_nvme_ctrlr *ctrlr);
/* "connecting", "enabled", "resetting", "failed". */
const char *ftgt_nvme_ctrlr_state_str(enum ftgt_nvme_ctrlr_state state);

/*
 * Non-blocking connect: validates trid/opts, starts the TCP connect and returns a
 * controller in CONNECTING state at once (NULL on a bad address or out of memory; err
 * says why). The calling thread owns it and drives the connect with
 * ftgt_nvme_ctrlr_process_admin_completions() (-EAGAIN while connecting; >= 0 once
 * ENABLED; -ENXIO when the connect failed: the state is FAILED and
 * ftgt_nvme_ctrlr_get_connect_error() says why). A failed first connect is not retried,
 * whatever reconnect_delay_ms says. Free it with ftgt_nvme_detach() in any state.
 */
struct ftgt_nvme_ctrlr *ftgt_nvme_connect_async(const struct ftgt_nvme_transport_id *trid,
                                                const struct ftgt_nvme_ctrlr_opts *opts, char *err,
                                                size_t err_len);
/*
 * Why the last connect / reconnect attempt failed: returns its -errno (0 if none failed)
 * and copies the sentence into err (may be NULL). The errno values are those of
 * ftgt_nvme_connect(). Admin thread.
 */
int ftgt_nvme_ctrlr_get_connect_error(const struct ftgt_nvme_ctrlr *ctrlr, char *err,
                                      size_t err_len);

/*
 * Reset the controller (NVMe-oF: a new association). Admin thread; non-blocking; returns
 * 0, -EBUSY (already CONNECTING/RESETTING) or -ENXIO (FAILED). At once the state becomes
 * RESETTING and every I/O qpair is marked disconnected: the next
 * ftgt_nvme_qpair_process_completions() on each qpair's own thread completes its
 * outstanding commands with ABORTED_SQ_DELETION (DNR clear: they may be retried) and
 * returns -EAGAIN until the qpair is connected again. The next
 * ftgt_nvme_ctrlr_process_admin_completions() closes the admin connection (outstanding
 * admin commands complete with ABORTED_SQ_DELETION) and starts the reconnect (no delay):
 * TCP, ICReq, Fabrics Connect, CC.EN, CSTS.RDY, Identify, namespaces, AERs. It returns
 * -EAGAIN meanwhile. Then the state is ENABLED and each qpair's thread reconnects its
 * qpair inside its process_completions() call. If the reconnect fails: with automatic
 * reconnect the attempts go on with back-off (see the opts), otherwise FAILED.
 * Watch ftgt_nvme_ctrlr_get_state() to learn when the reset is over.
 */
int ftgt_nvme_ctrlr_reset(struct ftgt_nvme_ctrlr *ctrlr);

/*
 * Active namespaces, ascending NSID: filled at connect, refreshed after a reset and when
 * a Namespace Attribute Changed event arrives (before the AER callback runs). These four
 * are for the admin thread; ftgt_nvme_ns_get_block_size()/_num_blocks() may be called
 * from any thread (they read an immutable snapshot, replaced on each refresh).
 */
uint32_t ftgt_nvme_ctrlr_get_num_ns(const struct ftgt_nvme_ctrlr *ctrlr);
/* The idx-th active namespace's NSID (0 if idx out of range). */
uint32_t ftgt_nvme_ctrlr_get_ns_id(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t idx);
/* Identify Namespace data of an active nsid, NULL if not active. */
const struct nvme_ns_data *ftgt_nvme_ctrlr_get_ns_data(const struct ftgt_nvme_ctrlr *ctrlr,
                                                       uint32_t nsid);
/* Block size in bytes and size in blocks of an active nsid (0 if not active). */
uint32_t ftgt_nvme_ns_get_block_size(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid);
uint64_t ftgt_nvme_ns_get_num_blocks(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid);
/* Largest data transfer of one command in bytes (MDTS, capped by the library). */
uint32_t ftgt_nvme_ctrlr_get_max_xfer_size(const struct ftgt_nvme_ctrlr *ctrlr);

/* Completion callback: cpl is valid only during the call. */
typedef void (*ftgt_nvme_cmd_cb)(void *cb_arg, const struct nvme_cpl *cpl);

/* True if cpl carries a non-success status. */
static inline bool
ftgt_nvme_cpl_is_error(const struct nvme_cpl *cpl)
{
	return (ftgt_le16_to_cpu(cpl->status) & 0xfffe) != 0;
}

/* ---- Admin queue (controller's thread) ---------------------------------------------- */

/*
 * Submit any admin command; cmd->cid is assigned by the library. buf/len_bytes is the
 * data (direction from the opcode); len_bytes 0 for none. 0 or -errno (-ENOMEM: queue
 * full, -EAGAIN: CONNECTING or RESETTING, retry later; -ENXIO: controller failed). The
 * same holds for the helpers below.
 */
int ftgt_nvme_ctrlr_cmd_admin_raw(struct ftgt_nvme_ctrlr *ctrlr, const struct nvme_cmd *cmd,
                                  void *buf, uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn,
                                  void *cb_arg);
int ftgt_nvme_ctrlr_cmd_identify(struct ftgt_nvme_ctrlr *ctrlr, uint8_t cns, uint16_t cntid,
                                 uint32_t nsid, void *buf, uint32_t len_bytes,
                                 ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ctrlr_cmd_get_log_page(struct ftgt_nvme_ctrlr *ctrlr, uint8_t lid, uint32_t nsid,
                                     void *buf, uint32_t len_bytes, uint64_t offset_bytes,
                                     ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ctrlr_cmd_get_feature(struct ftgt_nvme_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
                                    ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ctrlr_cmd_set_feature(struct ftgt_nvme_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
                                    ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
/* Abort command cid on queue sqid (0 admin, n the nth I/O qpair). */
int ftgt_nvme_ctrlr_cmd_abort(struct ftgt_nvme_ctrlr *ctrlr, uint16_t sqid, uint16_t cid,
                              ftgt_nvme_cmd_cb cb_fn, void *cb_arg);

/*
 * Poll the admin queue: complete what arrived, send a keep-alive when KATO/2 has passed,
 * send Aborts that I/O qpairs asked for, handle asynchronous events, and drive connect,
 * reset and reconnect. Returns the number of completions; -EAGAIN while CONNECTING or
 * RESETTING (callbacks of commands ended by the reset may have run); -ENXIO once FAILED.
 */
int ftgt_nvme_ctrlr_process_admin_completions(struct ftgt_nvme_ctrlr *ctrlr);

/*
 * Asynchronous events (NVMe Base 2.0, 5.2). Once ENABLED (and again after every reset)
 * the library enables the notices the controller supports with Set Features
 * Asynchronous Event Configuration (namespace attribute; discovery log change on a
 * discovery controller) and keeps min(AERL + 1, 4) Asynchronous Event Requests
 * outstanding (they never time out). When one completes it reads the log page the event
 * names (e.g. Changed Namespace List, 04h) to clear it; for a namespace attribute notice
 * it refreshes the active namespace list; then it calls cb_fn(cb_arg, cpl) with the AER's
 * completion (cpl->cdw0: type bits 2:0, info 15:8, log page 23:16; see NVME_AER_*) on
 * the admin thread from ftgt_nvme_ctrlr_process_admin_completions(), and re-arms the
 * AER. AERs ended by a reset or detach are not reported. One callback per controller; a
 * new registration replaces the old, cb_fn NULL unregisters. Admin thread.
 */
typedef void (*ftgt_nvme_aer_cb)(void *cb_arg, const struct nvme_cpl *cpl);
void ftgt_nvme_ctrlr_register_aer_callback(struct ftgt_nvme_ctrlr *ctrlr, ftgt_nvme_aer_cb cb_fn,
                                           void *cb_arg);

/*
 * Read the whole discovery log page (re-reading while GENCTR changes). Blocking, bounded
 * by the command timeout. On 0, *page is malloc'ed (free() it) and *num_entries set.
 */
int ftgt_nvme_ctrlr_get_discovery_log(struct ftgt_nvme_ctrlr *ctrlr,
                                      struct nvmf_discovery_log_page **page, uint64_t *num_entries);

/* ---- I/O queue pairs ------------------------------------------------------------------ */

/*
 * Connect a new I/O queue pair (own TCP connection, Fabrics Connect with the
 * controller's CNTLID). queue_size 0 means opts->io_queue_size. Blocking (the async form
 * below, polled), bounded by the connect timeout; may be called from any thread, then
 * the qpair belongs to the thread that uses it. NULL on failure (logged).
 */
struct ftgt_nvme_qpair *ftgt_nvme_ctrlr_alloc_io_qpair(struct ftgt_nvme_ctrlr *ctrlr,
                                                       uint32_t queue_size);
/*
 * Non-blocking form: returns at once a qpair in connecting state (NULL: queue_size out of
 * range, controller still CONNECTING (its first connect is not done: CAP unknown) or
 * FAILED, or out of memory). Any thread; the thread that then polls it owns it.
 * ftgt_nvme_qpair_process_completions() drives the connect (TCP connect, ICReq/ICResp,
 * Fabrics Connect; bounded by connect_timeout_ms) and returns -EAGAIN until
 * ftgt_nvme_qpair_is_connected(); a failed first connect makes the qpair failed (-ENXIO;
 * free it). While the controller is RESETTING the qpair waits for it (-EAGAIN).
 * Submissions before it is connected return -EAGAIN.
 */
struct ftgt_nvme_qpair *ftgt_nvme_ctrlr_alloc_io_qpair_async(struct ftgt_nvme_ctrlr *ctrlr,
                                                             uint32_t queue_size);
/*
 * Close the connection; outstanding commands complete with ABORTED_SQ_DELETION. The
 * owner thread, in any state. Its queue id becomes free for a later qpair. Called from a
 * completion callback of this qpair, it only marks it: the running
 * ftgt_nvme_qpair_process_completions() frees it on return (and returns -ENXIO).
 */
void ftgt_nvme_ctrlr_free_io_qpair(struct ftgt_nvme_qpair *qpair);
/* Connected: commands can be submitted (false while connecting or reconnecting). */
bool ftgt_nvme_qpair_is_connected(const struct ftgt_nvme_qpair *qpair);
uint16_t ftgt_nvme_qpair_get_id(const struct ftgt_nvme_qpair *qpair);
/* Commands that may be outstanding at once (queue size - 1). */
uint32_t ftgt_nvme_qpair_get_depth(const struct ftgt_nvme_qpair *qpair);

/*
 * Submission errors for all I/O commands: -EINVAL bad arguments, -ENOMEM queue full
 * (poll, then retry), -EAGAIN not connected (connecting, or reconnecting after a reset:
 * queue the command and retry after later polls), -ENXIO the qpair has failed for good.
 */

/* io_flags for read/write/compare: NVME_RW_FUA, NVME_RW_LR. */
int ftgt_nvme_ns_cmd_read(struct ftgt_nvme_qpair *qpair, uint32_t nsid, void *buf, uint64_t lba,
                          uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn,
                          void *cb_arg);
int ftgt_nvme_ns_cmd_write(struct ftgt_nvme_qpair *qpair, uint32_t nsid, const void *buf,
                           uint64_t lba, uint32_t lba_count, uint32_t io_flags,
                           ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ns_cmd_compare(struct ftgt_nvme_qpair *qpair, uint32_t nsid, const void *buf,
                             uint64_t lba, uint32_t lba_count, uint32_t io_flags,
                             ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ns_cmd_flush(struct ftgt_nvme_qpair *qpair, uint32_t nsid, ftgt_nvme_cmd_cb cb_fn,
                           void *cb_arg);
/* io_flags: NVME_WZ_DEAC, NVME_RW_FUA. */
int ftgt_nvme_ns_cmd_write_zeroes(struct ftgt_nvme_qpair *qpair, uint32_t nsid, uint64_t lba,
                                  uint32_t lba_count, uint32_t io_flags, ftgt_nvme_cmd_cb cb_fn,
                                  void *cb_arg);
/* ranges: num_ranges (1..256) entries, attributes NVME_DSM_ATTR_*. */
int ftgt_nvme_ns_cmd_dsm(struct ftgt_nvme_qpair *qpair, uint32_t nsid, uint32_t attributes,
                         const struct nvme_dsm_range *ranges, uint16_t num_ranges,
                         ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
/*
 * Scatter-gather forms: the payload is iov[0..iovcnt) (1..FTGT_NVME_MAX_IOVCNT entries);
 * their total length must be at least lba_count * block size (the first that many bytes
 * are used). Write data is sent straight from the iovecs (no copy); read data lands in
 * them. The iov array and the buffers must stay valid until cb_fn runs. No allocation.
 */
#define FTGT_NVME_MAX_IOVCNT 256
int ftgt_nvme_ns_cmd_readv(struct ftgt_nvme_qpair *qpair, uint32_t nsid, struct iovec *iov,
                           int iovcnt, uint64_t lba, uint32_t lba_count, uint32_t io_flags,
                           ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ns_cmd_writev(struct ftgt_nvme_qpair *qpair, uint32_t nsid, struct iovec *iov,
                            int iovcnt, uint64_t lba, uint32_t lba_count, uint32_t io_flags,
                            ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ns_cmd_comparev(struct ftgt_nvme_qpair *qpair, uint32_t nsid, struct iovec *iov,
                              int iovcnt, uint64_t lba, uint32_t lba_count, uint32_t io_flags,
                              ftgt_nvme_cmd_cb cb_fn, void *cb_arg);

/*
 * Fused Compare and Write (NVMe Base 2.0, 3.4.2; the controller must set FUSES bit 0):
 * a Compare (FUSE first) of cmp_buf and a Write (FUSE second) of write_buf over the same
 * lba_count blocks, queued back to back so nothing comes between them. One callback,
 * after both completed: the Compare's completion if it failed (e.g. MEDIA/COMPARE_FAILURE;
 * the Write then was ABORTED_FAILED_FUSED and did not happen), otherwise the Write's.
 * io_flags (NVME_RW_FUA, NVME_RW_LR) apply to both. Needs two free queue slots (-ENOMEM
 * otherwise). The v form takes iovecs for both payloads.
 */
int ftgt_nvme_ns_cmd_compare_and_write(struct ftgt_nvme_qpair *qpair, uint32_t nsid,
                                       const void *cmp_buf, const void *write_buf, uint64_t lba,
                                       uint32_t lba_count, uint32_t io_flags,
                                       ftgt_nvme_cmd_cb cb_fn, void *cb_arg);
int ftgt_nvme_ns_cmd_compare_and_writev(struct ftgt_nvme_qpair *qpair, uint32_t nsid,
                                        struct iovec *cmp_iov, int cmp_iovcnt,
                                        struct iovec *write_iov, int write_iovcnt, uint64_t lba,
                                        uint32_t lba_count, uint32_t io_flags,
                                        ftgt_nvme_cmd_cb cb_fn, void *cb_arg);

/* Any I/O command (cid assigned by the library). */
int ftgt_nvme_qpair_cmd_raw(struct ftgt_nvme_qpair *qpair, const struct nvme_cmd *cmd, void *buf,
                            uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg);

/*
 * Owner thread. Send what was queued (one sendmsg), receive what arrived (one recv), run
 * the callbacks, and handle commands past the command timeout (the first time an Abort
 * is requested on the admin queue; if the command is still outstanding one more timeout
 * later: with automatic reconnect the controller is reset, otherwise the qpair fails).
 * max_completions: 0 = no limit; otherwise at most that many callbacks run in this call
 * (received PDUs beyond them wait, already read, for the next call).
 * Returns the number of completions (callbacks run); -EAGAIN while connecting or
 * reconnecting (commands ended by a reset complete with ABORTED_SQ_DELETION in such a
 * call); -ENXIO once the qpair has failed for good (all its commands have then completed
 * with ABORTED_SQ_DELETION).
 */
int ftgt_nvme_qpair_process_completions(struct ftgt_nvme_qpair *qpair, uint32_t max_completions);
/*
 * The cid of the outstanding command submitted on qpair with cb_arg (for an Abort on the
 * admin queue: ftgt_nvme_ctrlr_cmd_abort(ctrlr, ftgt_nvme_qpair_get_id(qpair), cid, ...)),
 * or -ENOENT. For a fused pair: the Compare's. Owner thread; O(queue depth).
 */
int ftgt_nvme_qpair_get_cid(const struct ftgt_nvme_qpair *qpair, const void *cb_arg);

/* Failed for good (-ENXIO): free it. Not set while it is only reconnecting. */
bool ftgt_nvme_qpair_is_failed(const struct ftgt_nvme_qpair *qpair);

/* Human-readable "SCT/SC" for a completion status, e.g. "GENERIC/INVALID_FIELD". */
const char *ftgt_nvme_status_str(uint16_t status);

#endif /* FTGT_NVME_H */
