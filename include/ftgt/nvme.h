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
};

/* Fill opts with the defaults above (random hostid and matching hostnqn). */
void ftgt_nvme_ctrlr_opts_default(struct ftgt_nvme_ctrlr_opts *opts);

struct ftgt_nvme_ctrlr;
struct ftgt_nvme_qpair;

/*
 * Connect: TCP connect, ICReq/ICResp, Fabrics Connect on the admin queue, Property Get
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
 * Orderly disconnect: every I/O qpair must already be freed. Sets CC.SHN and waits
 * (bounded) for the shutdown to complete, then closes the admin connection and frees
 * the controller. Outstanding admin commands complete with ABORTED_SQ_DELETION.
 */
void ftgt_nvme_detach(struct ftgt_nvme_ctrlr *ctrlr);

const struct nvme_ctrlr_data *ftgt_nvme_ctrlr_get_data(const struct ftgt_nvme_ctrlr *ctrlr);
uint64_t ftgt_nvme_ctrlr_get_cap(const struct ftgt_nvme_ctrlr *ctrlr);
uint32_t ftgt_nvme_ctrlr_get_vs(const struct ftgt_nvme_ctrlr *ctrlr);
uint16_t ftgt_nvme_ctrlr_get_cntlid(const struct ftgt_nvme_ctrlr *ctrlr);
bool ftgt_nvme_ctrlr_is_discovery(const struct ftgt_nvme_ctrlr *ctrlr);
/* Set when the admin connection has failed (keep-alive lost, transport error). */
bool ftgt_nvme_ctrlr_is_failed(const struct ftgt_nvme_ctrlr *ctrlr);

/* Active namespaces, ascending NSID (filled at connect). */
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
 * full, -ENXIO: controller failed).
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
 * Poll the admin queue: complete what arrived, send a keep-alive when KATO/2 has passed.
 * Returns the number of completions, or -ENXIO once the controller has failed.
 */
int ftgt_nvme_ctrlr_process_admin_completions(struct ftgt_nvme_ctrlr *ctrlr);

/*
 * Read the whole discovery log page (re-reading while GENCTR changes). Blocking, bounded
 * by the command timeout. On 0, *page is malloc'ed (free() it) and *num_entries set.
 */
int ftgt_nvme_ctrlr_get_discovery_log(struct ftgt_nvme_ctrlr *ctrlr,
                                      struct nvmf_discovery_log_page **page, uint64_t *num_entries);

/* ---- I/O queue pairs ------------------------------------------------------------------ */

/*
 * Connect a new I/O queue pair (own TCP connection, Fabrics Connect with the
 * controller's CNTLID). queue_size 0 means opts->io_queue_size. Blocking, bounded by the
 * connect timeout; may be called from any thread, then the qpair belongs to the thread
 * that uses it. NULL on failure (logged).
 */
struct ftgt_nvme_qpair *ftgt_nvme_ctrlr_alloc_io_qpair(struct ftgt_nvme_ctrlr *ctrlr,
                                                       uint32_t queue_size);
/* Close the connection; outstanding commands complete with ABORTED_SQ_DELETION. */
void ftgt_nvme_ctrlr_free_io_qpair(struct ftgt_nvme_qpair *qpair);
uint16_t ftgt_nvme_qpair_get_id(const struct ftgt_nvme_qpair *qpair);
/* Commands that may be outstanding at once (queue size - 1). */
uint32_t ftgt_nvme_qpair_get_depth(const struct ftgt_nvme_qpair *qpair);

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
/* Any I/O command (cid assigned by the library). */
int ftgt_nvme_qpair_cmd_raw(struct ftgt_nvme_qpair *qpair, const struct nvme_cmd *cmd, void *buf,
                            uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg);

/*
 * Send what was queued (one sendmsg), receive what arrived (one recv), run the callbacks,
 * and handle commands past the command timeout (the first time an Abort is requested on
 * the admin queue; one timeout later the qpair is failed). max_completions is reserved:
 * today every PDU that one recv() brought in is processed (pass 0). Returns the number of
 * completions, or -ENXIO once the qpair has failed (all its commands have then completed
 * with ABORTED_SQ_DELETION).
 */
int ftgt_nvme_qpair_process_completions(struct ftgt_nvme_qpair *qpair, uint32_t max_completions);
bool ftgt_nvme_qpair_is_failed(const struct ftgt_nvme_qpair *qpair);

/* Human-readable "SCT/SC" for a completion status, e.g. "GENERIC/INVALID_FIELD". */
const char *ftgt_nvme_status_str(uint16_t status);

#endif /* FTGT_NVME_H */
