/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe over Fabrics target: subsystems, namespaces, allowed hosts and listeners.
 *
 * Threads: every function here is management path and runs on the app thread (the
 * thread that called ftgt_nvmf_tgt_init()); the target owns its subsystems there.
 * Controllers and queue pairs live on the threads of their connections; the core
 * reaches them with messages (see nvmf_transport.h).
 */
#ifndef FTGT_NVMF_H
#define FTGT_NVMF_H

#include <stdbool.h>
#include <stdint.h>

#include "ftgt/uuid.h"

struct ftgt_nvmf_subsystem;
struct ftgt_nvmf_transport;

enum ftgt_nvmf_subtype {
	FTGT_NVMF_SUBTYPE_DISCOVERY = 1,
	FTGT_NVMF_SUBTYPE_NVME = 2,
};

/* Limits of the target. */
#define FTGT_NVMF_MAX_NAMESPACES_DEFAULT 32
#define FTGT_NVMF_MAX_NAMESPACES         1024
#define FTGT_NVMF_SN_MAX_LEN             20
#define FTGT_NVMF_MN_MAX_LEN             40
#define FTGT_NVMF_TRADDR_MAX_LEN         255
#define FTGT_NVMF_TRSVCID_MAX_LEN        31

/* A transport address (what nvmf_subsystem_add_listener names). */
struct ftgt_nvmf_listen_addr {
	char trtype[16]; /* "TCP" */
	uint8_t adrfam;  /* NVMF_ADRFAM_IPV4 / NVMF_ADRFAM_IPV6 */
	char traddr[FTGT_NVMF_TRADDR_MAX_LEN + 1];
	char trsvcid[FTGT_NVMF_TRSVCID_MAX_LEN + 1];
};

/* Start the target (the "nvmf" subsystem calls this). App thread. 0 or -errno. */
int ftgt_nvmf_tgt_init(void);
/* Destroy every subsystem and transport; cb_fn(cb_arg) once all connections are gone. */
void ftgt_nvmf_tgt_fini(void (*cb_fn)(void *cb_arg), void *cb_arg);
/* Incremented whenever what the discovery log page shows changes. */
uint64_t ftgt_nvmf_tgt_discovery_genctr(void);

/*
 * Create a subsystem. nqn must be a valid NQN (ftgt_nqn_is_valid) and unique.
 * max_namespaces 0 means FTGT_NVMF_MAX_NAMESPACES_DEFAULT. Returns NULL with *rc set
 * (-EINVAL bad NQN or limits, -EEXIST, -ENOMEM).
 */
struct ftgt_nvmf_subsystem *ftgt_nvmf_subsystem_create(const char *nqn, enum ftgt_nvmf_subtype type,
                                                       uint32_t max_namespaces, int *rc);
/*
 * Destroy a subsystem: its controllers are disconnected first; cb_fn(cb_arg) runs on the
 * app thread when it is gone. Returns 0, or -EPERM for the discovery subsystem.
 */
int ftgt_nvmf_subsystem_destroy(struct ftgt_nvmf_subsystem *subsys, void (*cb_fn)(void *cb_arg),
                                void *cb_arg);
struct ftgt_nvmf_subsystem *ftgt_nvmf_subsystem_get_by_nqn(const char *nqn);
struct ftgt_nvmf_subsystem *ftgt_nvmf_subsystem_first(void);
struct ftgt_nvmf_subsystem *ftgt_nvmf_subsystem_next(struct ftgt_nvmf_subsystem *prev);
const char *ftgt_nvmf_subsystem_get_nqn(const struct ftgt_nvmf_subsystem *subsys);
enum ftgt_nvmf_subtype ftgt_nvmf_subsystem_get_type(const struct ftgt_nvmf_subsystem *subsys);

/* Serial number: printable ASCII, 1..20 bytes. 0 or -EINVAL. */
int ftgt_nvmf_subsystem_set_sn(struct ftgt_nvmf_subsystem *subsys, const char *sn);
const char *ftgt_nvmf_subsystem_get_sn(const struct ftgt_nvmf_subsystem *subsys);
/* Model number: printable ASCII, 1..40 bytes. 0 or -EINVAL. */
int ftgt_nvmf_subsystem_set_mn(struct ftgt_nvmf_subsystem *subsys, const char *mn);
const char *ftgt_nvmf_subsystem_get_mn(const struct ftgt_nvmf_subsystem *subsys);

/* Hosts: connects are refused with "invalid host" unless allowed. */
void ftgt_nvmf_subsystem_set_allow_any_host(struct ftgt_nvmf_subsystem *subsys, bool allow);
bool ftgt_nvmf_subsystem_get_allow_any_host(const struct ftgt_nvmf_subsystem *subsys);
/* 0, -EINVAL (bad NQN), -EEXIST, -ENOMEM. */
int ftgt_nvmf_subsystem_add_host(struct ftgt_nvmf_subsystem *subsys, const char *hostnqn);
/* 0 or -ENOENT. Controllers of that host are disconnected (as SPDK does). */
int ftgt_nvmf_subsystem_remove_host(struct ftgt_nvmf_subsystem *subsys, const char *hostnqn);
/* Target-initiated disconnect of every controller of hostnqn (NULL: of every host).
 * Returns how many controllers were told to disconnect; they go away asynchronously. */
int ftgt_nvmf_subsystem_disconnect_host(struct ftgt_nvmf_subsystem *subsys, const char *hostnqn);
/* Disconnect controller cntlid (all its queues). 0 or -ENOENT. */
int ftgt_nvmf_subsystem_disconnect_ctrlr(struct ftgt_nvmf_subsystem *subsys, uint16_t cntlid);
/* Policy (default true): when false, an admin Connect from a host NQN + host ID that
 * already has a controller through the same listener is refused with Controller Busy. */
void ftgt_nvmf_subsystem_set_allow_duplicate_host(struct ftgt_nvmf_subsystem *subsys, bool allow);
bool ftgt_nvmf_subsystem_get_allow_duplicate_host(const struct ftgt_nvmf_subsystem *subsys);
bool ftgt_nvmf_subsystem_host_allowed(const struct ftgt_nvmf_subsystem *subsys,
                                      const char *hostnqn);
/* Call fn for each allowed host; stops when fn returns non-zero. */
void ftgt_nvmf_subsystem_for_each_host(const struct ftgt_nvmf_subsystem *subsys,
                                       int (*fn)(const char *hostnqn, void *ctx), void *ctx);

/* Namespace options: zero = not given (the UUID then comes from the bdev). */
struct ftgt_nvmf_ns_opts {
	uint32_t nsid; /* 0: lowest free */
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct ftgt_uuid uuid;
};
/*
 * Export bdev bdev_name as a namespace (opens and claims it). Returns the NSID (> 0),
 * or -ENODEV (no bdev), -EEXIST (NSID in use or bdev already a namespace here), -EINVAL
 * (NSID above max_namespaces), -ENOSPC (no free NSID), -EPERM (bdev claimed), -EBUSY
 * (that NSID is still being removed).
 * Connected controllers get a Namespace Attribute Changed event.
 */
int ftgt_nvmf_subsystem_add_ns(struct ftgt_nvmf_subsystem *subsys, const char *bdev_name,
                               const struct ftgt_nvmf_ns_opts *opts);
/*
 * Remove a namespace, also while hosts are connected: new commands to it get Invalid
 * Namespace at once and connected controllers get a Namespace Attribute Changed event;
 * commands already running on it finish, then every queue drops its bdev channel and
 * the bdev is released and closed; then cb_fn(cb_arg, 0) runs on the app thread (the
 * NSID and the bdev can be used again from then on; add_ns of that NSID meanwhile gives
 * -EBUSY). Returns 0 (cb_fn will run), -ENOENT or -ENOMEM (cb_fn will not run).
 */
int ftgt_nvmf_subsystem_remove_ns_async(struct ftgt_nvmf_subsystem *subsys, uint32_t nsid,
                                        void (*cb_fn)(void *cb_arg, int rc), void *cb_arg);
/* The same without a completion callback. 0, -ENOENT, -ENOMEM. */
int ftgt_nvmf_subsystem_remove_ns(struct ftgt_nvmf_subsystem *subsys, uint32_t nsid);
uint32_t ftgt_nvmf_subsystem_get_max_nsid(const struct ftgt_nvmf_subsystem *subsys);
/* bdev name of namespace nsid, or NULL when the NSID is inactive. */
const char *ftgt_nvmf_subsystem_get_ns_bdev_name(const struct ftgt_nvmf_subsystem *subsys,
                                                 uint32_t nsid);
const struct ftgt_nvmf_ns_opts *
ftgt_nvmf_subsystem_get_ns_opts(const struct ftgt_nvmf_subsystem *subsys, uint32_t nsid);

/*
 * Listeners: hosts may connect to the subsystem only through them (the discovery
 * subsystem: through any listener of any subsystem or its own). The transport named
 * by addr->trtype must exist; the address must be local (ftgt_addr_is_local).
 * 0, -EINVAL, -EEXIST, -ENOENT (no such transport), -EADDRNOTAVAIL, or the transport's
 * listen error (-EADDRINUSE).
 */
int ftgt_nvmf_subsystem_add_listener(struct ftgt_nvmf_subsystem *subsys,
                                     const struct ftgt_nvmf_listen_addr *addr);
/* 0 or -ENOENT. Connections made through it are disconnected. */
int ftgt_nvmf_subsystem_remove_listener(struct ftgt_nvmf_subsystem *subsys,
                                        const struct ftgt_nvmf_listen_addr *addr);
void ftgt_nvmf_subsystem_for_each_listener(const struct ftgt_nvmf_subsystem *subsys,
                                           int (*fn)(const struct ftgt_nvmf_listen_addr *addr,
                                                     void *ctx),
                                           void *ctx);
/* Number of controllers connected now. */
uint32_t ftgt_nvmf_subsystem_get_num_ctrlrs(const struct ftgt_nvmf_subsystem *subsys);

/* Connection counts (exact once the connections settle). */
struct ftgt_nvmf_conn_counts {
	uint32_t num_ctrlrs;
	uint32_t num_qpairs; /* admin + I/O queue pairs attached to those controllers */
};
/* Counts of the subsystem's controllers, restricted to hostnqn and/or the listener addr
 * when not NULL. */
void ftgt_nvmf_subsystem_get_counts(const struct ftgt_nvmf_subsystem *subsys, const char *hostnqn,
                                    const struct ftgt_nvmf_listen_addr *addr,
                                    struct ftgt_nvmf_conn_counts *counts);
/* Transport connections open now, whether or not they connected a queue. */
uint64_t ftgt_nvmf_tgt_get_num_connections(void);

/* "TCP" -> NVMF_TRTYPE_TCP etc.; 0 when unknown. "IPv4"/"IPv6" -> NVMF_ADRFAM_*. */
uint8_t ftgt_nvmf_trtype_from_str(const char *trtype);
uint8_t ftgt_nvmf_adrfam_from_str(const char *adrfam);
const char *ftgt_nvmf_adrfam_to_str(uint8_t adrfam);

#endif /* FTGT_NVMF_H */
