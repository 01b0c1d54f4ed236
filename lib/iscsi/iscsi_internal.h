/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/iscsi private declarations: the PDU parser/builder (pdu.c) and text-key
 * negotiation (param.c), pure functions over buffers so that unit tests and fuzz targets
 * drive them without sockets or threads; the CmdSN window (sn.c); the configuration
 * objects (tgt_node.c, portal_grp.c); and the connections, sessions and tasks shared by
 * conn.c, cmd.c, tmf.c, login.c, session.c and stats.c.
 */
#ifndef FTGT_ISCSI_INTERNAL_H
#define FTGT_ISCSI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <jansson.h>

#include "ftgt/spec/iscsi.h"

/* ---- PDU parser (pdu.c) ------------------------------------------------------------- */

/* Largest CDB carried by a SCSI Command (16 in the BHS + an extended-CDB AHS). */
#define ISCSI_MAX_CDB_LEN 260

/* What the receiver accepts on a connection (negotiated values). */
struct iscsi_pdu_params {
	uint32_t max_recv_dsl; /* our MaxRecvDataSegmentLength (login phase: 8192) */
	bool header_digest;    /* HeaderDigest=CRC32C */
	bool data_digest;      /* DataDigest=CRC32C */
	bool erl0;             /* ErrorRecoveryLevel=0: SNACK is a protocol error */
};

/* A parsed PDU: pointers into the caller's buffer, valid while it is. */
struct iscsi_pdu_info {
	const struct iscsi_bhs *bhs;
	uint8_t opcode; /* ISCSI_OP_* (without the I bit) */
	bool immediate;
	bool final;
	uint32_t itt;
	const uint8_t *ahs;
	uint32_t ahs_len_bytes;
	const uint8_t *cdb; /* SCSI Command only: BHS CDB (+ extended CDB copied in cdb_buf) */
	uint32_t cdb_len;
	uint8_t cdb_buf[ISCSI_MAX_CDB_LEN];
	bool has_bidi_read_len;
	uint32_t bidi_read_len;
	const uint8_t *data;
	uint32_t data_len;     /* DataSegmentLength */
	uint32_t total_len;    /* bytes the PDU occupies on the wire */
	uint8_t reject_reason; /* ISCSI_REJECT_* when rc was -EPROTONOSUPPORT/-EILSEQ/-EINVAL */
};

/*
 * Header lengths from the first ISCSI_BHS_LEN bytes: *hdr_len (BHS + AHS + header digest)
 * and *total_len (the whole PDU, padding and digests included).
 * Returns 0, or -EPROTO when the lengths cannot be right (DataSegmentLength above
 * params->max_recv_dsl): the connection must end.
 */
int iscsi_pdu_lengths(const uint8_t *bhs, const struct iscsi_pdu_params *params, uint32_t *hdr_len,
                      uint32_t *total_len);

/*
 * Parse one PDU at buf[0..len). Returns:
 *  >0               bytes consumed (info filled): a valid PDU;
 *  -EAGAIN          more bytes needed (nothing consumed);
 *  -EPROTO          malformed framing, bad AHS or header digest: end the connection;
 *  -EILSEQ          data digest mismatch: info->total_len bytes may be skipped, the PDU
 *                   must be answered with a Reject (reason in info->reject_reason);
 *  -EPROTONOSUPPORT an opcode a target does not accept, or SNACK at ERL 0: skip
 *                   info->total_len bytes and send a Reject;
 *  -EINVAL          a field is invalid for its opcode: skip and Reject likewise.
 * Never reads outside buf[0..len).
 */
ssize_t iscsi_pdu_parse(const uint8_t *buf, size_t len, const struct iscsi_pdu_params *params,
                        struct iscsi_pdu_info *info);

/*
 * Finish an outgoing PDU in place: hdr is ISCSI_BHS_LEN bytes (no AHS), followed by room
 * for a header digest when params->header_digest. Sets DataSegmentLength to data_len and
 * returns the header length on the wire (48 or 52). *data_digest gets the CRC32C of the
 * data plus its padding when params->data_digest (the data may be scattered: pass
 * iov/iovcnt).
 */
uint32_t iscsi_pdu_finish_hdr(uint8_t *hdr, uint32_t data_len,
                              const struct iscsi_pdu_params *params);
uint32_t iscsi_pdu_data_digest(const struct iovec *iov, int iovcnt, uint32_t data_len);
/* Store a digest at p in wire order. */
void iscsi_pdu_put_digest(uint8_t *p, uint32_t digest);

static inline uint32_t
iscsi_pad4(uint32_t len)
{
	return (len + 3u) & ~3u;
}

/* ---- text keys (param.c) ------------------------------------------------------------ */

#define ISCSI_TEXT_MAX_KEY_LEN   63
#define ISCSI_TEXT_MAX_VALUE_LEN 8192

/* Iterate key=value pairs of a text data segment (NUL separated). Returns 1 and the
 * pair (pointers into buf; value not NUL terminated when the segment is cut), 0 at the
 * end, -EINVAL for a pair without '=' or a key too long. *pos is the cursor (start 0). */
int iscsi_text_next(const uint8_t *buf, uint32_t len, uint32_t *pos, const char **key,
                    uint32_t *key_len, const char **value, uint32_t *value_len);

/* Session/connection parameters (RFC 7143 13). */
struct iscsi_sess_params {
	uint32_t max_connections;
	uint32_t initiator_max_recv_dsl; /* what the initiator can receive: our send limit */
	uint32_t target_max_recv_dsl;    /* what we declared */
	uint32_t max_burst_len;
	uint32_t first_burst_len;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_outstanding_r2t;
	uint32_t error_recovery_level;
	bool initial_r2t;
	bool immediate_data;
	bool data_pdu_in_order;
	bool data_sequence_in_order;
	bool header_digest;
	bool data_digest;
};
void iscsi_sess_params_init_defaults(struct iscsi_sess_params *p);

/* Output text buffer for responses. */
struct iscsi_text_out {
	uint8_t *buf;
	uint32_t len;
	uint32_t cap;
	bool overflow;
};
int iscsi_text_out_add(struct iscsi_text_out *out, const char *key, const char *value);
int iscsi_text_out_add_num(struct iscsi_text_out *out, const char *key, uint64_t value);
bool iscsi_text_list_has(const char *v, uint32_t vl, const char *item);

/* State of one connection's login negotiation. */
struct iscsi_negotiation {
	struct iscsi_sess_params params;        /* negotiated so far (start: defaults) */
	struct iscsi_sess_params target_limits; /* what the target offers/accepts */
	bool allow_header_digest;
	bool allow_data_digest;
	char initiator_name[224];
	char initiator_alias[256];
	char target_name[224];
	bool target_name_given;
	bool discovery;
	bool auth_method_seen;
	bool auth_none_offered;
	bool auth_chap_offered;
};

/*
 * Negotiate the keys of one Login/Text request data segment: updates neg and appends
 * the answers to out. Returns 0, -EINVAL (a malformed pair, unknown SessionType, or a
 * target-only key sent by the initiator: the login fails with initiator error),
 * -ENOSPC (the answers did not fit).
 */
int iscsi_negotiate(struct iscsi_negotiation *neg, const uint8_t *text, uint32_t text_len,
                    struct iscsi_text_out *out);

/* ---- CmdSN window (sn.c) -------------------------------------------------------------- */

#define ISCSI_CMDSN_WINDOW_MAX 128 /* largest queue depth of a session */

/* The session-wide command window: ExpCmdSN (lowest CmdSN not received) and MaxCmdSN. */
struct iscsi_cmdsn_window {
	uint32_t exp_cmd_sn;
	uint32_t max_cmd_sn;
	uint32_t base;                                  /* bitmap position of exp_cmd_sn */
	uint64_t seen[2 * ISCSI_CMDSN_WINDOW_MAX / 64]; /* CmdSNs received above exp_cmd_sn */
};

/* Start a window at exp_cmd_sn with `depth` (1..ISCSI_CMDSN_WINDOW_MAX) credits. */
void iscsi_cmdsn_init(struct iscsi_cmdsn_window *w, uint32_t exp_cmd_sn, uint32_t depth);
/*
 * A non-immediate command with cmd_sn arrived. 0: accepted (ExpCmdSN moves when the
 * lowest hole closes); -ERANGE: outside [ExpCmdSN, MaxCmdSN]; -EEXIST: received before.
 * Either error means the PDU is silently ignored (RFC 7143 4.2.2.1).
 */
int iscsi_cmdsn_accept(struct iscsi_cmdsn_window *w, uint32_t cmd_sn);
/* An accepted non-immediate command is finished: one more credit (MaxCmdSN + 1). */
void iscsi_cmdsn_complete(struct iscsi_cmdsn_window *w);

/* ---- target configuration (tgt_node.c, portal_grp.c) ------------------------------- */

#include <pthread.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "ftgt/scsi.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                                         \
	for ((var) = TAILQ_FIRST((head)); (var) && ((tvar) = TAILQ_NEXT((var), field), 1); \
	     (var) = (tvar))
#endif

#define ISCSI_MAX_NAME       223
#define ISCSI_MAX_PORTALS    16
#define ISCSI_MAX_IG_ENTRIES 64
#define ISCSI_MAX_MAPS       16
#define ISCSI_MAX_SECRETS    16
#define ISCSI_MAX_SECRET_LEN 255

struct iscsi_portal {
	char host[64];
	char port[16];
	int fd;
	struct sockaddr_storage addr;
};

struct iscsi_portal_grp {
	uint16_t tag;
	int num_portals;
	struct iscsi_portal portals[ISCSI_MAX_PORTALS];
	TAILQ_ENTRY(iscsi_portal_grp) link;
};

struct iscsi_init_grp {
	uint16_t tag;
	int num_initiators;
	char *initiators[ISCSI_MAX_IG_ENTRIES];
	int num_netmasks;
	char *netmasks[ISCSI_MAX_IG_ENTRIES];
	TAILQ_ENTRY(iscsi_init_grp) link;
};

struct iscsi_secret {
	char user[ISCSI_MAX_SECRET_LEN + 1];
	char secret[ISCSI_MAX_SECRET_LEN + 1];
	char muser[ISCSI_MAX_SECRET_LEN + 1];
	char msecret[ISCSI_MAX_SECRET_LEN + 1];
};

struct iscsi_auth_grp {
	uint32_t tag;
	int num_secrets;
	struct iscsi_secret secrets[ISCSI_MAX_SECRETS];
	TAILQ_ENTRY(iscsi_auth_grp) link;
};

struct iscsi_auth_opts {
	bool disable_chap;
	bool require_chap;
	bool mutual_chap;
	uint32_t chap_group;
};

/* Per LUN counters (a session keeps its own on its thread). "reads"/"writes": SCSI
 * commands with data in/out; errors: commands that ended with a status other than GOOD. */
struct iscsi_lun_stats {
	uint64_t reads;
	uint64_t writes;
	uint64_t read_bytes;
	uint64_t write_bytes;
	uint64_t errors;
};

/* The counters of the sessions of one target node that ended on one thread: read by the
 * per-thread walk of that thread (iscsi_collect), so a session is counted once, either
 * live or here. */
struct iscsi_retired_stats {
	struct ftgt_thread *thread;
	struct iscsi_lun_stats luns[FTGT_SCSI_DEV_MAX_LUNS];
	TAILQ_ENTRY(iscsi_retired_stats) link;
};

struct iscsi_tgt_node {
	char name[ISCSI_MAX_NAME + 1];
	char alias[ISCSI_MAX_NAME + 1];
	struct ftgt_scsi_dev *dev;
	int num_maps;
	struct {
		uint16_t pg_tag;
		uint16_t ig_tag;
	} maps[ISCSI_MAX_MAPS];
	uint32_t queue_depth;
	struct iscsi_auth_opts auth;
	bool header_digest; /* require */
	bool data_digest;
	/* Connections that hold conn->tgt (from the login that found it), under g_iscsi.lock. */
	uint32_t num_active_conns;
	bool deleting; /* (lock) iscsi_delete_target_node runs: no new login finds it */
	/* Counters of the sessions that ended, per thread (under g_iscsi.lock); live
	 * sessions keep theirs on their own thread and are summed by message
	 * (iscsi_collect). */
	TAILQ_HEAD(, iscsi_retired_stats) retired;
	bool lun_removing[FTGT_SCSI_DEV_MAX_LUNS]; /* (lock) iscsi_target_node_remove_lun */
	TAILQ_ENTRY(iscsi_tgt_node) link;
};

struct iscsi_opts {
	char node_base[ISCSI_MAX_NAME + 1];
	uint32_t max_sessions;
	uint32_t max_connections_per_session;
	uint32_t max_queue_depth;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t first_burst_length;
	uint32_t max_burst_length;
	uint32_t max_recv_data_segment_length;
	bool immediate_data;
	uint32_t error_recovery_level;
	uint32_t nop_timeout_s;
	uint32_t nop_in_interval_s;
	struct iscsi_auth_opts discovery_auth;
	bool allow_duplicated_isid;
};

struct iscsi_stats {
	uint64_t connections_accepted;
	uint64_t logins_ok;
	uint64_t logins_failed;
	uint64_t pdus_malformed;
};

struct iscsi_conn;
struct iscsi_sess;

/*
 * Global target state. Created/changed on the app thread (RPCs); reactors read target
 * nodes, groups and options at login time under `lock` (management path only: never
 * taken per I/O). Connections live on their reactor and are listed under `lock`.
 */
struct iscsi_globals {
	pthread_mutex_t lock;
	struct iscsi_opts opts;
	TAILQ_HEAD(, iscsi_portal_grp) pgs;
	TAILQ_HEAD(, iscsi_init_grp) igs;
	TAILQ_HEAD(, iscsi_tgt_node) tgts;
	TAILQ_HEAD(, iscsi_auth_grp) ags;
	TAILQ_HEAD(, iscsi_conn) conns;
	TAILQ_HEAD(, iscsi_sess) sessions;
	uint32_t num_sessions;
	uint16_t next_tsih;
	struct iscsi_stats stats;
	struct ftgt_poller *acceptor;
	uint32_t next_thread;
	bool started;
	_Atomic bool stopping; /* read by every reactor's connections and portals */
};
extern struct iscsi_globals g_iscsi;

void iscsi_opts_defaults(struct iscsi_opts *opts);
struct iscsi_portal_grp *iscsi_pg_find(uint16_t tag);
struct iscsi_init_grp *iscsi_ig_find(uint16_t tag);
struct iscsi_tgt_node *iscsi_tgt_find(const char *name);
struct iscsi_auth_grp *iscsi_ag_find(uint32_t tag);
/* Whether initiator `iname` at `addr` may use target `tgt` through portal group pg_tag.
 * Call with g_iscsi.lock held. */
bool iscsi_tgt_access_ok(const struct iscsi_tgt_node *tgt, uint16_t pg_tag, const char *iname,
                         const char *addr);
/*
 * Remove LUN lun_id of a live target node the way iscsi_target_node_remove_lun does:
 * sessions that log in from now on do not get it, live sessions refuse new commands to
 * it and put their channels once their tasks on it drained (retried every 10 ms, for
 * 30 s at most), then the LUN is removed (its bdev descriptor closed) and REPORTED LUNS
 * DATA HAS CHANGED raised. Returns 0 and done(rc, cb_arg) runs later on the app thread
 * (rc: 0; -ENOENT: the target node was deleted meanwhile, or the LUN was gone; -EBUSY:
 * tasks did not drain; -ENOMEM), or -ENOENT (no such LUN), -EBUSY (already being
 * removed), -ENOMEM. App thread.
 */
int iscsi_tgt_remove_lun(struct iscsi_tgt_node *tgt, uint32_t lun_id,
                         void (*done)(int rc, void *cb_arg), void *cb_arg);
/* lib/scsi's hot-remove callback of every target node's dev (cb_arg: the target node):
 * starts iscsi_tgt_remove_lun(). App thread. */
void iscsi_tgt_lun_hot_removed(struct ftgt_scsi_dev *dev, uint32_t lun_id, void *cb_arg);
/* SendTargets answer (RFC 7143 Appendix C) for `which` ("All" or a target name). */
int iscsi_send_targets(const char *iname, const char *addr, const char *local_addr, uint16_t pg_tag,
                       const char *which, struct iscsi_text_out *out);
/* CHAP secret lookup: 0 and copies, or -ENOENT. */
int iscsi_auth_find_secret(uint32_t ag_tag, const char *user, struct iscsi_secret *out);

/* portal_grp.c */
int iscsi_pg_listen(struct iscsi_portal_grp *pg, char *err, size_t err_len);
void iscsi_pg_close(struct iscsi_portal_grp *pg);
int iscsi_acceptor_poll(void *ctx);

/* conn.c */
void iscsi_conn_create(int fd, uint16_t pg_tag, const struct sockaddr_storage *peer,
                       const struct sockaddr_storage *local);
/* Ask every connection to end (shutdown); cb runs on the app thread when none is left. */
void iscsi_conns_shutdown(void (*cb)(void));
uint32_t iscsi_conn_count(void);
/* Ask connections of target `name` (NULL: all) to log out/drop. */
void iscsi_conns_drop_target(const char *name);
/*
 * Send an Async Message "logout requested" (AsyncEvent 1, Parameter3 = timeout_s) to every
 * full-feature connection of target `name` (through portal group pg_tag; 0: any); a
 * connection still there timeout_s seconds later gets AsyncEvent 2 and is dropped.
 * Returns the number of connections asked.
 */
uint32_t iscsi_conns_request_logout(const char *name, uint16_t pg_tag, uint32_t timeout_s);

/* What iscsi_collect gathers, each value read on the thread that owns it. */
enum iscsi_collect_kind {
	ISCSI_COLLECT_CONNECTIONS, /* array of connections */
	ISCSI_COLLECT_SESSIONS,    /* array of sessions */
	ISCSI_COLLECT_STATS,       /* iscsi_get_stats object */
	ISCSI_COLLECT_LUN_STATS,   /* array of {name, luns: [...]} */
};
/*
 * Visit every thread by message (ftgt_for_each_thread), read the connections and
 * sessions each one owns, and call done(result, cb_arg) on the app thread (result
 * reference passed on). filter: a target node name or NULL. App thread.
 */
void iscsi_collect(enum iscsi_collect_kind kind, const char *filter,
                   void (*done)(json_t *result, void *cb_arg), void *cb_arg);
/*
 * A LUN was added to target `tgt_name`: every live session of it takes an io channel for
 * lun_id on its own thread; done(cb_arg) runs on the app thread afterwards. App thread.
 */
void iscsi_sessions_lun_added(const char *tgt_name, uint32_t lun_id, void (*done)(void *cb_arg),
                              void *cb_arg);
/*
 * LUN lun_id of target `tgt_name` is being removed (tgt->lun_removing set): every live
 * session refuses new commands to it ("LOGICAL UNIT NOT SUPPORTED") and puts its channel
 * once no task of it is in the SCSI layer; done(busy, cb_arg) runs on the app thread with
 * the number of sessions that still have tasks there (call again later), UINT32_MAX on
 * failure. App thread.
 */
void iscsi_sessions_lun_remove(const char *tgt_name, uint32_t lun_id,
                               void (*done)(uint32_t busy, void *cb_arg), void *cb_arg);

/* chap.c */
#define ISCSI_CHAP_CHALLENGE_LEN 16
int iscsi_chap_md5(uint8_t id, const char *secret, const uint8_t *challenge, size_t challenge_len,
                   uint8_t digest[16]);
/* Parse "0x..." (hex) or "0b..." (base64) CHAP binary values; returns bytes or -EINVAL. */
int iscsi_chap_decode(const char *v, uint8_t *out, size_t out_cap);
void iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t out_cap);

/* ---- connections and sessions (conn.c, cmd.c, tmf.c, login.c, session.c, stats.c) -- */

#include "ftgt/thread.h"

#define CONN_MAX_TASKS          128
#define CONN_CTRL_PDUS          (2 * CONN_MAX_TASKS + 32)
#define CONN_MAX_XFER           (16u * 1024 * 1024)
#define LOGIN_DSL               8192
#define LOGIN_TEXT_MAX          (64 * 1024)
#define CONN_RSP_TEXT_MAX       (64 * 1024)
#define ISCSI_CLOSING_TIMEOUT_S 5 /* CLOSING: at most this long to send what is queued */
/* Receive backpressure: no PDU is read while fewer control PDUs are free, or while the
 * queued control PDUs hold more data than this (an initiator that does not read). */
#define CONN_CTRL_RX_RESERVE 64
#define CONN_CTRL_DATA_MAX   (4u * 1024 * 1024)
#define CONN_STAGE_PDUS      16

enum conn_state {
	CONN_LOGIN,   /* login phase */
	CONN_FFP,     /* full feature phase */
	CONN_CLOSING, /* send what is queued, then exit (logout, login failure) */
	CONN_EXITING, /* socket closed; waiting for tasks in the SCSI layer */
};

enum task_state {
	TASK_FREE,
	TASK_DATA_OUT, /* waiting for solicited Data-Out */
	TASK_EXEC,     /* in the SCSI layer */
	TASK_SEND,     /* queued for Data-In / response */
};

enum chap_state { CHAP_NONE, CHAP_WAIT_A, CHAP_WAIT_NR, CHAP_OK };

/* Something to send: a control PDU or a task's Data-In/response stream. */
struct out_item {
	TAILQ_ENTRY(out_item) link;
	bool is_task;
};

struct ctrl_pdu {
	struct out_item item;
	uint8_t hdr[ISCSI_BHS_LEN];
	uint8_t inline_data[32];
	uint8_t *data; /* inline_data or owned (malloc) */
	uint32_t data_len;
	bool owned;
	uint32_t owned_len; /* counted in conn->ctrl_data_bytes while queued */
	bool plain;         /* sent without digests (the final login response) */
	TAILQ_ENTRY(ctrl_pdu) free_link;
};

/* One PDU on its way out: header (+digest), data iovecs, pad, data digest. */
struct out_pdu {
	struct out_item *item;
	bool done; /* the item's last PDU: the item is finished once this is written */
	int iovcnt;
	uint32_t len;
	struct iovec iov[5];
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t digest[ISCSI_DIGEST_LEN];
};

struct iscsi_task {
	struct out_item item;
	struct ftgt_scsi_task scsi;
	struct iscsi_conn *conn;
	enum task_state state;
	uint32_t idx;
	uint32_t itt;
	uint32_t ttt;
	uint32_t cmd_sn;
	uint8_t lun[8];
	uint8_t cdb[ISCSI_MAX_CDB_LEN];
	uint8_t *buf;
	uint32_t buf_cap;
	struct iovec iov;
	uint32_t edtl;
	bool read;
	bool write;
	uint32_t received;  /* write data received */
	uint32_t burst_end; /* end offset of the outstanding R2T */
	uint32_t r2t_sn;
	uint32_t data_sn; /* Data-In/R2T PDUs sent (ExpDataSN) */
	uint32_t sent;    /* Data-In bytes queued so far */
	bool resp_in_data;
	bool aborted;
	bool immediate;      /* I bit: took no CmdSN credit */
	bool credit_back;    /* its CmdSN credit was given back (status on its way) */
	struct tmf_ctx *tmf; /* the ABORT waiting for this task's completion */
};

/*
 * A session: owned by `thread` (that of its leading connection); every connection of the
 * session runs there. Fields marked (lock) are also read by other threads under
 * g_iscsi.lock (login of a joining connection, RPCs); they change only under it.
 */
struct iscsi_sess {
	struct ftgt_thread *thread;
	uint64_t id;
	uint16_t tsih;                           /* (lock) */
	uint8_t isid[6];                         /* (lock) */
	bool discovery;                          /* (lock) */
	char initiator_name[ISCSI_MAX_NAME + 1]; /* (lock) */
	char target_name[ISCSI_MAX_NAME + 1];    /* (lock) */
	struct iscsi_tgt_node *tgt;              /* (lock) */
	uint32_t max_conns;                      /* (lock) negotiated MaxConnections */
	uint32_t num_conns;                      /* (lock) */
	uint32_t pending_joins;                  /* (lock) logged in, not moved yet */
	bool closing;                            /* (lock) no connection may join */
	TAILQ_HEAD(, iscsi_conn) conns;          /* (lock) */
	struct iscsi_sess_params sp;
	uint32_t queue_depth;
	struct ftgt_scsi_dev *dev;
	struct ftgt_scsi_port iport;
	struct ftgt_scsi_port tport;
	struct iscsi_cmdsn_window win;
	struct ftgt_io_channel *lun_ch[FTGT_SCSI_DEV_MAX_LUNS];
	/* LUN resets (TMF) in flight on lun_ch[i]: the channel is busy (session thread). */
	uint16_t lun_resets[FTGT_SCSI_DEV_MAX_LUNS];
	bool lun_gone[FTGT_SCSI_DEV_MAX_LUNS]; /* being removed: "LUN not supported" */
	struct iscsi_lun_stats lun_stats[FTGT_SCSI_DEV_MAX_LUNS];
	TAILQ_ENTRY(iscsi_sess) link; /* g_iscsi.sessions (lock) */
};

struct iscsi_conn {
	/* ---- owned by the connection's thread ---- */
	int fd;
	uint64_t id;
	enum conn_state state;
	struct ftgt_thread *thread;
	struct ftgt_poller *poller;
	uint16_t pg_tag;
	char peer_addr[64];
	char local_addr[64];
	uint16_t peer_port;
	uint16_t local_port;

	uint8_t *rbuf;
	uint32_t rcap;
	uint32_t rlen;
	struct iscsi_pdu_params rx;

	TAILQ_HEAD(, out_item) outq;
	/* PDUs built from the head of outq and not yet fully written (a ring), sent
	 * together with one writev; woff: bytes of the first one already written. */
	struct out_pdu stage[CONN_STAGE_PDUS];
	uint32_t stage_head;
	uint32_t nstage;
	uint32_t woff;

	struct iscsi_task tasks[CONN_MAX_TASKS];
	uint32_t active_tasks;
	uint32_t exec_tasks;
	struct ctrl_pdu ctrl[CONN_CTRL_PDUS];
	TAILQ_HEAD(, ctrl_pdu) ctrl_free;
	uint32_t ctrl_free_count; /* in ctrl_free */
	bool rx_held;             /* complete PDUs left in rbuf by conn_rx_blocked */
	uint64_t ctrl_data_bytes; /* malloc'ed data of the queued control PDUs */

	/* ---- session ---- */
	struct iscsi_sess *sess;      /* set on the session's thread (lock) */
	struct iscsi_sess *join_sess; /* joining: the session it moves to (lock) */
	/* Joining: the final login response, sent from the session's thread once the
	 * connection is in the session (iscsi_login_join_respond). Reinstating: the same,
	 * sent once the old session (and so its tasks) is gone (iscsi_conn_poll). */
	bool reinstating;
	struct iscsi_bhs_login_req join_req;
	uint8_t *join_rsp_text;
	uint32_t join_rsp_len;
	uint8_t join_rsp_flags;
	TAILQ_ENTRY(iscsi_conn) sess_link;
	bool counted_in_tgt; /* holds one of tgt->num_active_conns */
	bool discovery;
	struct iscsi_tgt_node *tgt;
	uint8_t isid[6];
	uint16_t tsih; /* (lock) for listings */
	uint16_t cid;  /* (lock) */
	uint16_t login_tsih;
	uint32_t stat_sn;                /* StatSN is per connection */
	uint32_t login_exp_cmd_sn;       /* before the session exists */
	uint32_t pending_tmfs;           /* TMFs of this connection waiting for aborted tasks */
	uint64_t logout_deadline_ticks;  /* AsyncEvent 1 sent: drop after this (0: none) */
	uint64_t closing_deadline_ticks; /* CLOSING: exit after this even if unsent (0: none) */
	struct iscsi_sess_params sp;
	char initiator_name[ISCSI_MAX_NAME + 1];
	char target_name[ISCSI_MAX_NAME + 1];

	/* ---- login ---- */
	struct iscsi_negotiation neg;
	uint8_t *login_text;
	uint32_t login_text_len;
	bool login_first_done;
	bool op_declared;
	uint8_t login_csg;
	uint32_t login_itt;
	enum chap_state chap;
	struct iscsi_auth_opts auth;
	uint8_t chap_id;
	uint8_t chap_challenge[ISCSI_CHAP_CHALLENGE_LEN];

	/* ---- keep-alive ---- */
	uint64_t last_rx_ticks;
	uint64_t ping_sent_ticks;
	bool ping_outstanding;
	uint32_t next_ttt;

	/* ---- stats (this thread) ---- */
	uint64_t pdus_rx;
	uint64_t pdus_tx;
	uint64_t read_bytes;
	uint64_t write_bytes;

	bool drop_requested;          /* set by message on the owner thread */
	TAILQ_ENTRY(iscsi_conn) link; /* g_iscsi.conns, under g_iscsi.lock */
};

struct tmf_ctx;

/* conn.c */
void iscsi_conn_begin_exit(struct iscsi_conn *conn);
int iscsi_conn_poll(void *ctx);
bool iscsi_conn_try_destroy(struct iscsi_conn *conn);
struct ctrl_pdu *iscsi_ctrl_get(struct iscsi_conn *conn);
void iscsi_ctrl_queue(struct iscsi_conn *conn, struct ctrl_pdu *c);
int iscsi_ctrl_set_data(struct ctrl_pdu *c, const void *data, uint32_t len);
void iscsi_fill_sn(struct iscsi_conn *conn, ftgt_be32 *stat_sn, ftgt_be32 *exp_cmd_sn,
                   ftgt_be32 *max_cmd_sn, bool advance_stat);
void iscsi_request_drop(struct iscsi_conn *c);
void iscsi_send_reject(struct iscsi_conn *conn, const struct iscsi_bhs *bad, uint8_t reason);
void iscsi_send_scsi_error_now(struct iscsi_conn *conn, struct iscsi_task *task);
void iscsi_task_release(struct iscsi_conn *conn, struct iscsi_task *task);

/* cmd.c */
bool iscsi_cmd_sn_check_done(struct iscsi_conn *conn, const struct iscsi_pdu_info *info,
                             uint32_t cmd_sn);
struct iscsi_task *iscsi_find_task_itt(struct iscsi_conn *conn, uint32_t itt);
int iscsi_handle_data_out(struct iscsi_conn *conn, const struct iscsi_pdu_info *info);
void iscsi_handle_scsi_cmd(struct iscsi_conn *conn, const struct iscsi_pdu_info *info);
uint64_t iscsi_lun_to_u64(const uint8_t *l);

/* tmf.c */
void iscsi_abort_conn_tasks(struct iscsi_conn *conn, const uint8_t *lun, int64_t only_itt,
                            struct tmf_ctx *ctx);
void iscsi_handle_tmf(struct iscsi_conn *conn, const struct iscsi_pdu_info *info);
void iscsi_tmf_task_done(struct tmf_ctx *ctx);

/* login.c */
void iscsi_handle_login(struct iscsi_conn *conn, const struct iscsi_pdu_info *info);
/* On the session's thread: the final login response of a joining connection (joined or
 * refused: then the connection closes). */
void iscsi_login_join_respond(struct iscsi_conn *conn, bool joined);
/* Whether a session that conn's new session reinstates still exists (lock taken). */
bool iscsi_sess_reinstated_alive(const struct iscsi_conn *conn);

/* session.c */
void iscsi_conn_move_to_session(struct iscsi_conn *conn);
int iscsi_login_finish(struct iscsi_conn *conn, uint8_t *status_class);
void iscsi_lun_stats_add(struct iscsi_lun_stats *to, const struct iscsi_lun_stats *from);
void iscsi_sess_free(struct iscsi_sess *sess);

#endif /* FTGT_ISCSI_INTERNAL_H */
