/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/iscsi private declarations: the PDU parser/builder (pdu.c) and text-key
 * negotiation (param.c). Both are pure functions over buffers so that unit tests and
 * fuzz targets drive them without sockets or threads.
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
	uint32_t num_active_conns; /* under g_iscsi.lock */
	/* Counters of the sessions that ended (under g_iscsi.lock); live sessions keep
	 * theirs on their own thread and are summed by message (iscsi_collect). */
	struct iscsi_lun_stats retired[FTGT_SCSI_DEV_MAX_LUNS];
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
	bool stopping;
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

#endif /* FTGT_ISCSI_INTERNAL_H */
