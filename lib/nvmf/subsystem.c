/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target and its subsystems: namespaces, allowed hosts, listeners. Everything here
 * runs on the app thread; controllers are told about changes by message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/log.h"
#include "nvmf_internal.h"

struct nvmf_tgt g_nvmf_tgt = {
        .subsystems = TAILQ_HEAD_INITIALIZER(g_nvmf_tgt.subsystems),
        .transports = TAILQ_HEAD_INITIALIZER(g_nvmf_tgt.transports),
};

/* Addresses the transports listen on, shared by the subsystems that name them. */
struct nvmf_tgt_listen {
	struct ftgt_nvmf_listen_addr addr;
	struct ftgt_nvmf_transport *transport;
	uint32_t refs;
	TAILQ_ENTRY(nvmf_tgt_listen) link;
};
static TAILQ_HEAD(, nvmf_tgt_listen) g_listens = TAILQ_HEAD_INITIALIZER(g_listens);

uint8_t
ftgt_nvmf_trtype_from_str(const char *trtype)
{
	if (trtype == NULL) {
		return 0;
	}
	if (strcasecmp(trtype, "TCP") == 0) {
		return NVMF_TRTYPE_TCP;
	}
	if (strcasecmp(trtype, "RDMA") == 0) {
		return NVMF_TRTYPE_RDMA;
	}
	if (strcasecmp(trtype, "FC") == 0) {
		return NVMF_TRTYPE_FC;
	}
	return 0;
}

uint8_t
ftgt_nvmf_adrfam_from_str(const char *adrfam)
{
	if (adrfam == NULL) {
		return 0;
	}
	if (strcasecmp(adrfam, "IPv4") == 0) {
		return NVMF_ADRFAM_IPV4;
	}
	if (strcasecmp(adrfam, "IPv6") == 0) {
		return NVMF_ADRFAM_IPV6;
	}
	if (strcasecmp(adrfam, "FC") == 0) {
		return NVMF_ADRFAM_FC;
	}
	return 0;
}

const char *
ftgt_nvmf_adrfam_to_str(uint8_t adrfam)
{
	switch (adrfam) {
	case NVMF_ADRFAM_IPV4:
		return "IPv4";
	case NVMF_ADRFAM_IPV6:
		return "IPv6";
	case NVMF_ADRFAM_FC:
		return "FC";
	default:
		return "unknown";
	}
}

uint64_t
ftgt_nvmf_tgt_discovery_genctr(void)
{
	return g_nvmf_tgt.discovery_genctr;
}

static void
discovery_notify_msg(void *ctx)
{
	nvmf_ctrlr_notify_discovery_changed(ctx);
}

void
nvmf_tgt_discovery_changed(void)
{
	struct nvmf_ctrlr *ctrlr;

	g_nvmf_tgt.discovery_genctr++;
	if (g_nvmf_tgt.discovery == NULL) {
		return;
	}
	TAILQ_FOREACH (ctrlr, &g_nvmf_tgt.discovery->ctrlrs, subsys_link) {
		ftgt_thread_send_msg(ctrlr->thread, discovery_notify_msg, ctrlr);
	}
}

int
ftgt_nvmf_tgt_init(void)
{
	int rc;

	if (g_nvmf_tgt.initialized) {
		return -EALREADY;
	}
	g_nvmf_tgt.thread = ftgt_get_thread();
	g_nvmf_tgt.initialized = true;
	g_nvmf_tgt.discovery =
	        ftgt_nvmf_subsystem_create(FTGT_NQN_DISCOVERY, FTGT_NVMF_SUBTYPE_DISCOVERY, 0, &rc);
	if (g_nvmf_tgt.discovery == NULL) {
		g_nvmf_tgt.initialized = false;
		return rc;
	}
	ftgt_nvmf_subsystem_set_allow_any_host(g_nvmf_tgt.discovery, true);
	return 0;
}

struct tgt_fini_ctx {
	void (*cb_fn)(void *cb_arg);
	void *cb_arg;
};

static void tgt_fini_next(void *arg);

static void
tgt_transport_destroyed(void *arg)
{
	tgt_fini_next(arg);
}

static void
tgt_fini_next(void *arg)
{
	struct tgt_fini_ctx *ctx = arg;
	struct ftgt_nvmf_subsystem *subsys = TAILQ_FIRST(&g_nvmf_tgt.subsystems);
	struct ftgt_nvmf_transport *t;

	if (subsys != NULL) {
		if (subsys == g_nvmf_tgt.discovery) {
			g_nvmf_tgt.discovery = NULL;
		}
		/* The discovery subsystem is destroyed last but by the same path. */
		subsys->type = FTGT_NVMF_SUBTYPE_NVME;
		ftgt_nvmf_subsystem_destroy(subsys, tgt_fini_next, ctx);
		return;
	}
	t = TAILQ_FIRST(&g_nvmf_tgt.transports);
	if (t != NULL) {
		TAILQ_REMOVE(&g_nvmf_tgt.transports, t, link);
		t->ops->destroy(t, tgt_transport_destroyed, ctx);
		return;
	}
	g_nvmf_tgt.initialized = false;
	g_nvmf_tgt.discovery_genctr = 0;
	ctx->cb_fn(ctx->cb_arg);
	free(ctx);
}

void
ftgt_nvmf_tgt_fini(void (*cb_fn)(void *cb_arg), void *cb_arg)
{
	struct tgt_fini_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		cb_fn(cb_arg);
		return;
	}
	ctx->cb_fn = cb_fn;
	ctx->cb_arg = cb_arg;
	tgt_fini_next(ctx);
}

/* ---- subsystems ---------------------------------------------------------------------- */

struct ftgt_nvmf_subsystem *
ftgt_nvmf_subsystem_create(const char *nqn, enum ftgt_nvmf_subtype type, uint32_t max_namespaces,
                           int *rc)
{
	struct ftgt_nvmf_subsystem *subsys;
	char err[128];

	if (nqn == NULL || !ftgt_nqn_is_valid(nqn, err, sizeof(err))) {
		FTGT_ERRLOG("nvmf: invalid subsystem NQN '%s': %s\n", nqn ? nqn : "", err);
		*rc = -EINVAL;
		return NULL;
	}
	if (type == FTGT_NVMF_SUBTYPE_NVME && strcmp(nqn, FTGT_NQN_DISCOVERY) == 0) {
		*rc = -EINVAL;
		return NULL;
	}
	if (type != FTGT_NVMF_SUBTYPE_NVME && type != FTGT_NVMF_SUBTYPE_DISCOVERY) {
		*rc = -EINVAL;
		return NULL;
	}
	if (max_namespaces > FTGT_NVMF_MAX_NAMESPACES) {
		*rc = -EINVAL;
		return NULL;
	}
	if (ftgt_nvmf_subsystem_get_by_nqn(nqn) != NULL) {
		*rc = -EEXIST;
		return NULL;
	}
	subsys = calloc(1, sizeof(*subsys));
	if (subsys == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	if (type == FTGT_NVMF_SUBTYPE_DISCOVERY) {
		max_namespaces = 0;
	} else if (max_namespaces == 0) {
		max_namespaces = FTGT_NVMF_MAX_NAMESPACES_DEFAULT;
	}
	subsys->max_nsid = max_namespaces;
	if (max_namespaces != 0) {
		subsys->ns = calloc(max_namespaces, sizeof(*subsys->ns));
		subsys->ns_removing = calloc(max_namespaces, 1);
		if (subsys->ns == NULL || subsys->ns_removing == NULL) {
			free(subsys->ns);
			free(subsys->ns_removing);
			free(subsys);
			*rc = -ENOMEM;
			return NULL;
		}
	}
	ftgt_strlcpy(subsys->nqn, nqn, sizeof(subsys->nqn));
	subsys->type = type;
	snprintf(subsys->sn, sizeof(subsys->sn), "FTGT%016llx",
	         (unsigned long long)(uintptr_t)subsys & 0xffffffffffffull);
	ftgt_strlcpy(subsys->mn, "ftgt Controller", sizeof(subsys->mn));
	subsys->next_cntlid = NVMF_CNTLID_MIN;
	subsys->allow_duplicate_host = true;
	TAILQ_INIT(&subsys->hosts);
	TAILQ_INIT(&subsys->listeners);
	TAILQ_INIT(&subsys->ctrlrs);
	TAILQ_INSERT_TAIL(&g_nvmf_tgt.subsystems, subsys, link);
	*rc = 0;
	return subsys;
}

static void
ns_free(struct nvmf_ns *ns)
{
	if (ns->desc != NULL) {
		ftgt_bdev_release(ns->desc);
		ftgt_bdev_close(ns->desc);
	}
	free(ns->bdev_name);
	free(ns);
}

static void listener_release(struct ftgt_nvmf_subsystem *subsys, struct nvmf_listener *l);

static void
subsystem_free(struct ftgt_nvmf_subsystem *subsys)
{
	struct nvmf_host *h;
	struct nvmf_listener *l;
	uint32_t i;
	void (*cb_fn)(void *) = subsys->destroy_cb;
	void *cb_arg = subsys->destroy_cb_arg;
	bool listed = subsys->type == FTGT_NVMF_SUBTYPE_NVME;

	for (i = 0; i < subsys->max_nsid; i++) {
		if (subsys->ns[i] != NULL) {
			ns_free(subsys->ns[i]);
		}
	}
	while ((h = TAILQ_FIRST(&subsys->hosts)) != NULL) {
		TAILQ_REMOVE(&subsys->hosts, h, link);
		free(h);
	}
	while ((l = TAILQ_FIRST(&subsys->listeners)) != NULL) {
		listener_release(subsys, l);
	}
	free(subsys->ns);
	free(subsys->ns_removing);
	free(subsys);
	if (listed) {
		nvmf_tgt_discovery_changed();
	}
	if (cb_fn != NULL) {
		cb_fn(cb_arg);
	}
}

static void
ctrlr_disconnect_msg(void *ctx)
{
	nvmf_ctrlr_disconnect_all(ctx);
}

void
nvmf_subsystem_ctrlr_disconnect(struct nvmf_ctrlr *ctrlr)
{
	/* The controller is in subsys->ctrlrs: it is freed by a message sent after this one. */
	if (ftgt_thread_send_msg(ctrlr->thread, ctrlr_disconnect_msg, ctrlr) != 0) {
		FTGT_ERRLOG("nvmf: cannot disconnect controller %u: message ring full\n",
		            ctrlr->cntlid);
	}
}

int
ftgt_nvmf_subsystem_disconnect_host(struct ftgt_nvmf_subsystem *subsys, const char *hostnqn)
{
	struct nvmf_ctrlr *ctrlr;
	int n = 0;

	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		if (hostnqn == NULL || strcmp(ctrlr->hostnqn, hostnqn) == 0) {
			nvmf_subsystem_ctrlr_disconnect(ctrlr);
			n++;
		}
	}
	if (n != 0) {
		FTGT_NOTICELOG("nvmf: %s: disconnecting %d controller(s) of host %s\n", subsys->nqn,
		               n, hostnqn != NULL ? hostnqn : "(any)");
	}
	return n;
}

int
ftgt_nvmf_subsystem_disconnect_ctrlr(struct ftgt_nvmf_subsystem *subsys, uint16_t cntlid)
{
	struct nvmf_ctrlr *ctrlr;

	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		if (ctrlr->cntlid == cntlid) {
			FTGT_NOTICELOG("nvmf: %s: disconnecting controller %u of host %s\n",
			               subsys->nqn, cntlid, ctrlr->hostnqn);
			nvmf_subsystem_ctrlr_disconnect(ctrlr);
			return 0;
		}
	}
	return -ENOENT;
}

void
ftgt_nvmf_subsystem_set_allow_duplicate_host(struct ftgt_nvmf_subsystem *subsys, bool allow)
{
	subsys->allow_duplicate_host = allow;
}

bool
ftgt_nvmf_subsystem_get_allow_duplicate_host(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->allow_duplicate_host;
}

void
ftgt_nvmf_subsystem_get_counts(const struct ftgt_nvmf_subsystem *subsys, const char *hostnqn,
                               const struct ftgt_nvmf_listen_addr *addr,
                               struct ftgt_nvmf_conn_counts *counts)
{
	const struct nvmf_ctrlr *ctrlr;

	memset(counts, 0, sizeof(*counts));
	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		if (hostnqn != NULL && strcmp(ctrlr->hostnqn, hostnqn) != 0) {
			continue;
		}
		if (addr != NULL && !nvmf_listen_addr_equal(&ctrlr->listen_addr, addr)) {
			continue;
		}
		counts->num_ctrlrs++;
		counts->num_qpairs += __atomic_load_n(&ctrlr->num_qpairs, __ATOMIC_RELAXED);
	}
}

uint64_t
ftgt_nvmf_tgt_get_num_connections(void)
{
	return __atomic_load_n(&g_nvmf_tgt.num_connections, __ATOMIC_RELAXED);
}

int
ftgt_nvmf_subsystem_destroy(struct ftgt_nvmf_subsystem *subsys, void (*cb_fn)(void *cb_arg),
                            void *cb_arg)
{
	struct nvmf_ctrlr *ctrlr;

	if (subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY) {
		return -EPERM;
	}
	if (subsys->destroying) {
		return -EBUSY;
	}
	subsys->destroying = true;
	subsys->destroy_cb = cb_fn;
	subsys->destroy_cb_arg = cb_arg;
	TAILQ_REMOVE(&g_nvmf_tgt.subsystems, subsys, link);
	if (subsys->num_ctrlrs == 0) {
		if (subsys->num_ns_removals == 0) {
			subsystem_free(subsys);
		}
		return 0;
	}
	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		ftgt_thread_send_msg(ctrlr->thread, ctrlr_disconnect_msg, ctrlr);
	}
	return 0;
}

static void
ctrlr_free_msg(void *ctx)
{
	struct nvmf_ctrlr *ctrlr = ctx;

	free(ctrlr->qid_used);
	free(ctrlr);
}

/* The controller's thread is done with it (app thread). */
void
nvmf_subsystem_ctrlr_gone(struct nvmf_ctrlr *ctrlr)
{
	struct ftgt_nvmf_subsystem *subsys = ctrlr->subsys;

	TAILQ_REMOVE(&subsys->ctrlrs, ctrlr, subsys_link);
	subsys->num_ctrlrs--;
	/* Freed on its own thread after any message the app thread sent it before. */
	if (ftgt_thread_send_msg(ctrlr->thread, ctrlr_free_msg, ctrlr) != 0) {
		ctrlr_free_msg(ctrlr);
	}
	if (subsys->destroying && subsys->num_ctrlrs == 0 && subsys->num_ns_removals == 0) {
		subsystem_free(subsys);
	}
}

uint16_t
nvmf_subsystem_alloc_cntlid(struct ftgt_nvmf_subsystem *subsys)
{
	uint32_t tries;
	struct nvmf_ctrlr *c;

	for (tries = 0; tries < NVMF_CNTLID_MAX; tries++) {
		uint16_t id = subsys->next_cntlid;
		bool used = false;

		subsys->next_cntlid = id >= NVMF_CNTLID_MAX ? NVMF_CNTLID_MIN : id + 1;
		TAILQ_FOREACH (c, &subsys->ctrlrs, subsys_link) {
			if (c->cntlid == id) {
				used = true;
				break;
			}
		}
		if (!used) {
			return id;
		}
	}
	return 0;
}

struct ftgt_nvmf_subsystem *
ftgt_nvmf_subsystem_get_by_nqn(const char *nqn)
{
	struct ftgt_nvmf_subsystem *s;

	TAILQ_FOREACH (s, &g_nvmf_tgt.subsystems, link) {
		if (strcmp(s->nqn, nqn) == 0) {
			return s;
		}
	}
	return NULL;
}

struct ftgt_nvmf_subsystem *
ftgt_nvmf_subsystem_first(void)
{
	return TAILQ_FIRST(&g_nvmf_tgt.subsystems);
}

struct ftgt_nvmf_subsystem *
ftgt_nvmf_subsystem_next(struct ftgt_nvmf_subsystem *prev)
{
	return TAILQ_NEXT(prev, link);
}

const char *
ftgt_nvmf_subsystem_get_nqn(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->nqn;
}

enum ftgt_nvmf_subtype
ftgt_nvmf_subsystem_get_type(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->type;
}

static bool
printable_ascii(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			return false;
		}
	}
	return true;
}

int
ftgt_nvmf_subsystem_set_sn(struct ftgt_nvmf_subsystem *subsys, const char *sn)
{
	if (sn == NULL || !printable_ascii(sn, FTGT_NVMF_SN_MAX_LEN)) {
		return -EINVAL;
	}
	ftgt_strlcpy(subsys->sn, sn, sizeof(subsys->sn));
	return 0;
}

const char *
ftgt_nvmf_subsystem_get_sn(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->sn;
}

int
ftgt_nvmf_subsystem_set_mn(struct ftgt_nvmf_subsystem *subsys, const char *mn)
{
	if (mn == NULL || !printable_ascii(mn, FTGT_NVMF_MN_MAX_LEN)) {
		return -EINVAL;
	}
	ftgt_strlcpy(subsys->mn, mn, sizeof(subsys->mn));
	return 0;
}

const char *
ftgt_nvmf_subsystem_get_mn(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->mn;
}

/* ---- hosts --------------------------------------------------------------------------- */

void
ftgt_nvmf_subsystem_set_allow_any_host(struct ftgt_nvmf_subsystem *subsys, bool allow)
{
	if (subsys->allow_any_host != allow) {
		subsys->allow_any_host = allow;
		nvmf_tgt_discovery_changed();
	}
}

bool
ftgt_nvmf_subsystem_get_allow_any_host(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->allow_any_host;
}

static struct nvmf_host *
host_find(const struct ftgt_nvmf_subsystem *subsys, const char *hostnqn)
{
	struct nvmf_host *h;

	TAILQ_FOREACH (h, &subsys->hosts, link) {
		if (strcmp(h->nqn, hostnqn) == 0) {
			return h;
		}
	}
	return NULL;
}

int
ftgt_nvmf_subsystem_add_host(struct ftgt_nvmf_subsystem *subsys, const char *hostnqn)
{
	struct nvmf_host *h;

	if (hostnqn == NULL || !ftgt_nqn_is_valid(hostnqn, NULL, 0)) {
		return -EINVAL;
	}
	if (host_find(subsys, hostnqn) != NULL) {
		return -EEXIST;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return -ENOMEM;
	}
	ftgt_strlcpy(h->nqn, hostnqn, sizeof(h->nqn));
	TAILQ_INSERT_TAIL(&subsys->hosts, h, link);
	nvmf_tgt_discovery_changed();
	return 0;
}

int
ftgt_nvmf_subsystem_remove_host(struct ftgt_nvmf_subsystem *subsys, const char *hostnqn)
{
	struct nvmf_host *h = host_find(subsys, hostnqn);

	if (h == NULL) {
		return -ENOENT;
	}
	TAILQ_REMOVE(&subsys->hosts, h, link);
	free(h);
	nvmf_tgt_discovery_changed();
	/* As SPDK does: the host's controllers lose their right to be connected. */
	ftgt_nvmf_subsystem_disconnect_host(subsys, hostnqn);
	return 0;
}

bool
ftgt_nvmf_subsystem_host_allowed(const struct ftgt_nvmf_subsystem *subsys, const char *hostnqn)
{
	return subsys->allow_any_host || host_find(subsys, hostnqn) != NULL;
}

void
ftgt_nvmf_subsystem_for_each_host(const struct ftgt_nvmf_subsystem *subsys,
                                  int (*fn)(const char *hostnqn, void *ctx), void *ctx)
{
	struct nvmf_host *h;

	TAILQ_FOREACH (h, &subsys->hosts, link) {
		if (fn(h->nqn, ctx) != 0) {
			return;
		}
	}
}

/* ---- namespaces ---------------------------------------------------------------------- */

struct nvmf_ns *
nvmf_subsystem_get_ns(struct ftgt_nvmf_subsystem *subsys, uint32_t nsid)
{
	if (nsid == 0 || nsid > subsys->max_nsid) {
		return NULL;
	}
	/* Pairs with the release store in ftgt_nvmf_subsystem_add_ns(). */
	return __atomic_load_n(&subsys->ns[nsid - 1], __ATOMIC_ACQUIRE);
}

struct ns_notify_ctx {
	struct nvmf_ctrlr *ctrlr;
	uint32_t nsid;
};

static void
ns_notify_msg(void *arg)
{
	struct ns_notify_ctx *ctx = arg;

	nvmf_ctrlr_notify_ns_changed(ctx->ctrlr, ctx->nsid);
	free(ctx);
}

static void
subsystem_ns_changed(struct ftgt_nvmf_subsystem *subsys, uint32_t nsid)
{
	struct nvmf_ctrlr *ctrlr;

	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		struct ns_notify_ctx *ctx = calloc(1, sizeof(*ctx));

		if (ctx == NULL) {
			continue;
		}
		ctx->ctrlr = ctrlr;
		ctx->nsid = nsid;
		if (ftgt_thread_send_msg(ctrlr->thread, ns_notify_msg, ctx) != 0) {
			free(ctx);
		}
	}
}

static void
ns_event_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *event_ctx)
{
	struct nvmf_ns *ns = event_ctx;

	switch (type) {
	case FTGT_BDEV_EVENT_REMOVE:
		FTGT_WARNLOG("nvmf: %s: bdev %s of namespace %u is being removed\n",
		             ns->subsys->nqn, ns->bdev_name, ns->nsid);
		__atomic_store_n(&ns->removed, true, __ATOMIC_RELEASE);
		if (ns->subsys->ns[ns->nsid - 1] == ns) {
			ftgt_nvmf_subsystem_remove_ns(ns->subsys, ns->nsid);
		}
		break;
	case FTGT_BDEV_EVENT_RESIZE:
		subsystem_ns_changed(ns->subsys, ns->nsid);
		break;
	}
}

static bool
bytes_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0) {
			return false;
		}
	}
	return true;
}

int
ftgt_nvmf_subsystem_add_ns(struct ftgt_nvmf_subsystem *subsys, const char *bdev_name,
                           const struct ftgt_nvmf_ns_opts *opts)
{
	struct ftgt_nvmf_ns_opts o = {0};
	struct nvmf_ns *ns;
	char owner[FTGT_NQN_MAX_LEN + 32];
	uint32_t nsid, i;
	int rc;

	if (subsys->type != FTGT_NVMF_SUBTYPE_NVME || bdev_name == NULL) {
		return -EINVAL;
	}
	if (opts != NULL) {
		o = *opts;
	}
	nsid = o.nsid;
	if (nsid == NVME_NSID_ALL || nsid > subsys->max_nsid) {
		return -EINVAL;
	}
	if (nsid == 0) {
		for (i = 0; i < subsys->max_nsid; i++) {
			if (subsys->ns[i] == NULL && !subsys->ns_removing[i]) {
				nsid = i + 1;
				break;
			}
		}
		if (nsid == 0) {
			return -ENOSPC;
		}
	} else if (subsys->ns[nsid - 1] != NULL) {
		return -EEXIST;
	} else if (subsys->ns_removing[nsid - 1]) {
		return -EBUSY;
	}
	for (i = 0; i < subsys->max_nsid; i++) {
		if (subsys->ns[i] != NULL && strcmp(subsys->ns[i]->bdev_name, bdev_name) == 0) {
			return -EEXIST;
		}
	}
	ns = calloc(1, sizeof(*ns));
	if (ns == NULL) {
		return -ENOMEM;
	}
	ns->nsid = nsid;
	ns->subsys = subsys;
	ns->bdev_name = strdup(bdev_name);
	if (ns->bdev_name == NULL) {
		free(ns);
		return -ENOMEM;
	}
	rc = ftgt_bdev_open_ext(bdev_name, true, ns_event_cb, ns, &ns->desc);
	if (rc != 0) {
		ns->desc = NULL;
		ns_free(ns);
		return rc;
	}
	snprintf(owner, sizeof(owner), "nvmf %s ns %u", subsys->nqn, nsid);
	rc = ftgt_bdev_claim(ns->desc, owner);
	if (rc != 0) {
		ftgt_bdev_close(ns->desc);
		ns->desc = NULL;
		ns_free(ns);
		return rc;
	}
	ns->bdev = ftgt_bdev_desc_get_bdev(ns->desc);
	ns->block_size = ftgt_bdev_get_block_size(ns->bdev);
	o.nsid = nsid;
	if (ftgt_uuid_is_null(&o.uuid) && bytes_zero(o.nguid, sizeof(o.nguid))) {
		o.uuid = *ftgt_bdev_get_uuid(ns->bdev);
	}
	/*
	 * NGUID from the UUID when none was given (as SPDK does): Linux names
	 * /dev/disk/by-id/nvme-eui.* after the NGUID, stable across restarts as the bdev UUID is.
	 */
	if (bytes_zero(o.nguid, sizeof(o.nguid))) {
		FTGT_STATIC_ASSERT(sizeof(o.nguid) == sizeof(o.uuid.u));
		memcpy(o.nguid, o.uuid.u, sizeof(o.nguid));
	}
	ns->opts = o;
	/* Pairs with the acquire load in nvmf_subsystem_get_ns(). */
	__atomic_store_n(&subsys->ns[nsid - 1], ns, __ATOMIC_RELEASE);
	subsystem_ns_changed(subsys, nsid);
	return (int)nsid;
}

/*
 * Live namespace removal. The namespace is unpublished first (new commands get Invalid
 * Namespace), hosts get the Namespace Attribute Changed notice, then every I/O queue of
 * every controller drops its channel once its own commands on the namespace are done
 * (app thread -> controller thread -> queue thread); the last one sends the removal back
 * here, where the bdev is released and closed.
 */
static void
ns_removal_finish(void *arg)
{
	struct nvmf_ns_removal *r = arg;
	struct ftgt_nvmf_subsystem *subsys = r->subsys;
	uint32_t nsid = r->ns->nsid;

	FTGT_NOTICELOG("nvmf: %s: namespace %u (bdev %s) removed\n", subsys->nqn, nsid,
	               r->ns->bdev_name);
	ns_free(r->ns);
	subsys->ns_removing[nsid - 1] = 0;
	subsys->num_ns_removals--;
	if (r->cb_fn != NULL) {
		r->cb_fn(r->cb_arg, 0);
	}
	free(r);
	if (subsys->destroying && subsys->num_ctrlrs == 0 && subsys->num_ns_removals == 0) {
		subsystem_free(subsys);
	}
}

void
nvmf_ns_removal_put(struct nvmf_ns_removal *r)
{
	if (__atomic_sub_fetch(&r->pending, 1, __ATOMIC_ACQ_REL) != 0) {
		return;
	}
	if (ftgt_thread_send_msg(g_nvmf_tgt.thread, ns_removal_finish, r) != 0) {
		FTGT_ERRLOG("nvmf: namespace removal: message ring full\n");
	}
}

struct ns_removal_msg {
	struct nvmf_ns_removal *r;
	struct nvmf_ctrlr *ctrlr;
	struct ftgt_nvmf_qpair *qpair;
};

static void
ns_removal_qpair_msg(void *arg)
{
	struct ns_removal_msg *m = arg;

	nvmf_qpair_ns_drain(m->qpair, m->r);
	free(m);
}

/* On the controller's thread, which owns its list of I/O queues. */
static void
ns_removal_ctrlr_msg(void *arg)
{
	struct ns_removal_msg *m = arg;
	struct ftgt_nvmf_qpair *q;

	TAILQ_FOREACH (q, &m->ctrlr->io_qpairs, ctrlr_link) {
		struct ns_removal_msg *qm = calloc(1, sizeof(*qm));

		if (qm == NULL) {
			FTGT_ERRLOG("nvmf: namespace removal: out of memory\n");
			continue;
		}
		qm->r = m->r;
		qm->qpair = q;
		/* q is freed after a message this thread sends later (ctrlr_qpair_detach). */
		__atomic_add_fetch(&m->r->pending, 1, __ATOMIC_ACQ_REL);
		if (ftgt_thread_send_msg(q->thread, ns_removal_qpair_msg, qm) != 0) {
			free(qm);
			nvmf_ns_removal_put(m->r);
		}
	}
	nvmf_ns_removal_put(m->r);
	free(m);
}

int
ftgt_nvmf_subsystem_remove_ns_async(struct ftgt_nvmf_subsystem *subsys, uint32_t nsid,
                                    void (*cb_fn)(void *cb_arg, int rc), void *cb_arg)
{
	struct nvmf_ctrlr *ctrlr;
	struct nvmf_ns_removal *r;
	struct nvmf_ns *ns;

	if (nsid == 0 || nsid > subsys->max_nsid || subsys->ns[nsid - 1] == NULL) {
		return -ENOENT;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return -ENOMEM;
	}
	ns = subsys->ns[nsid - 1];
	r->subsys = subsys;
	r->ns = ns;
	r->cb_fn = cb_fn;
	r->cb_arg = cb_arg;
	r->pending = 1; /* this function's own reference */
	subsys->ns_removing[nsid - 1] = 1;
	subsys->num_ns_removals++;
	/* Release: a thread that gets a message sent after this sees NULL. */
	__atomic_store_n(&subsys->ns[nsid - 1], NULL, __ATOMIC_RELEASE);
	subsystem_ns_changed(subsys, nsid);
	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		struct ns_removal_msg *m = calloc(1, sizeof(*m));

		if (m == NULL) {
			FTGT_ERRLOG("nvmf: namespace removal: out of memory\n");
			continue;
		}
		m->r = r;
		m->ctrlr = ctrlr;
		/* Atomic: threads already sent to may be putting their references. */
		__atomic_add_fetch(&r->pending, 1, __ATOMIC_ACQ_REL);
		if (ftgt_thread_send_msg(ctrlr->thread, ns_removal_ctrlr_msg, m) != 0) {
			free(m);
			nvmf_ns_removal_put(r);
		}
	}
	nvmf_ns_removal_put(r);
	return 0;
}

int
ftgt_nvmf_subsystem_remove_ns(struct ftgt_nvmf_subsystem *subsys, uint32_t nsid)
{
	return ftgt_nvmf_subsystem_remove_ns_async(subsys, nsid, NULL, NULL);
}

uint32_t
ftgt_nvmf_subsystem_get_max_nsid(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->max_nsid;
}

const char *
ftgt_nvmf_subsystem_get_ns_bdev_name(const struct ftgt_nvmf_subsystem *subsys, uint32_t nsid)
{
	if (nsid == 0 || nsid > subsys->max_nsid || subsys->ns[nsid - 1] == NULL) {
		return NULL;
	}
	return subsys->ns[nsid - 1]->bdev_name;
}

const struct ftgt_nvmf_ns_opts *
ftgt_nvmf_subsystem_get_ns_opts(const struct ftgt_nvmf_subsystem *subsys, uint32_t nsid)
{
	if (nsid == 0 || nsid > subsys->max_nsid || subsys->ns[nsid - 1] == NULL) {
		return NULL;
	}
	return &subsys->ns[nsid - 1]->opts;
}

uint32_t
ftgt_nvmf_subsystem_get_num_ctrlrs(const struct ftgt_nvmf_subsystem *subsys)
{
	return subsys->num_ctrlrs;
}

/* ---- listeners ----------------------------------------------------------------------- */

bool
nvmf_listen_addr_equal(const struct ftgt_nvmf_listen_addr *a, const struct ftgt_nvmf_listen_addr *b)
{
	return strcasecmp(a->trtype, b->trtype) == 0 && a->adrfam == b->adrfam &&
	       strcmp(a->traddr, b->traddr) == 0 && strcmp(a->trsvcid, b->trsvcid) == 0;
}

bool
nvmf_subsystem_listener_allowed(struct ftgt_nvmf_subsystem *subsys,
                                const struct ftgt_nvmf_listen_addr *addr)
{
	struct nvmf_listener *l;

	if (subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY) {
		return true;
	}
	TAILQ_FOREACH (l, &subsys->listeners, link) {
		if (nvmf_listen_addr_equal(&l->addr, addr)) {
			return true;
		}
	}
	return false;
}

static struct nvmf_listener *
listener_find(const struct ftgt_nvmf_subsystem *subsys, const struct ftgt_nvmf_listen_addr *addr)
{
	struct nvmf_listener *l;

	TAILQ_FOREACH (l, &subsys->listeners, link) {
		if (nvmf_listen_addr_equal(&l->addr, addr)) {
			return l;
		}
	}
	return NULL;
}

static int
tgt_listen_get(struct ftgt_nvmf_transport *t, const struct ftgt_nvmf_listen_addr *addr)
{
	struct nvmf_tgt_listen *tl;
	int rc;

	TAILQ_FOREACH (tl, &g_listens, link) {
		if (nvmf_listen_addr_equal(&tl->addr, addr)) {
			tl->refs++;
			return 0;
		}
	}
	tl = calloc(1, sizeof(*tl));
	if (tl == NULL) {
		return -ENOMEM;
	}
	rc = t->ops->listen(t, addr);
	if (rc != 0) {
		free(tl);
		return rc;
	}
	tl->addr = *addr;
	tl->transport = t;
	tl->refs = 1;
	TAILQ_INSERT_TAIL(&g_listens, tl, link);
	return 0;
}

static void
tgt_listen_put(const struct ftgt_nvmf_listen_addr *addr)
{
	struct nvmf_tgt_listen *tl;

	TAILQ_FOREACH (tl, &g_listens, link) {
		if (nvmf_listen_addr_equal(&tl->addr, addr)) {
			if (--tl->refs == 0) {
				tl->transport->ops->stop_listen(tl->transport, addr);
				TAILQ_REMOVE(&g_listens, tl, link);
				free(tl);
			}
			return;
		}
	}
}

int
ftgt_nvmf_subsystem_add_listener(struct ftgt_nvmf_subsystem *subsys,
                                 const struct ftgt_nvmf_listen_addr *addr)
{
	struct ftgt_nvmf_transport *t;
	struct nvmf_listener *l;
	struct sockaddr_storage ss;
	int family, rc;

	if (addr == NULL || ftgt_nvmf_trtype_from_str(addr->trtype) == 0) {
		return -EINVAL;
	}
	t = ftgt_nvmf_transport_get(addr->trtype);
	if (t == NULL) {
		return -ENOENT;
	}
	if (addr->adrfam != NVMF_ADRFAM_IPV4 && addr->adrfam != NVMF_ADRFAM_IPV6) {
		return -EINVAL;
	}
	family = addr->adrfam == NVMF_ADRFAM_IPV4 ? AF_INET : AF_INET6;
	if (ftgt_parse_ip_port(addr->traddr, addr->trsvcid, family, &ss, NULL) != 0) {
		return -EINVAL;
	}
	if (!ftgt_addr_is_local((struct sockaddr *)&ss)) {
		return -EADDRNOTAVAIL;
	}
	if (listener_find(subsys, addr) != NULL) {
		return -EEXIST;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return -ENOMEM;
	}
	rc = tgt_listen_get(t, addr);
	if (rc != 0) {
		free(l);
		return rc;
	}
	l->addr = *addr;
	l->transport = t;
	TAILQ_INSERT_TAIL(&subsys->listeners, l, link);
	nvmf_tgt_discovery_changed();
	return 0;
}

static void
listener_release(struct ftgt_nvmf_subsystem *subsys, struct nvmf_listener *l)
{
	TAILQ_REMOVE(&subsys->listeners, l, link);
	tgt_listen_put(&l->addr);
	free(l);
}

int
ftgt_nvmf_subsystem_remove_listener(struct ftgt_nvmf_subsystem *subsys,
                                    const struct ftgt_nvmf_listen_addr *addr)
{
	struct nvmf_listener *l = listener_find(subsys, addr);
	struct nvmf_ctrlr *ctrlr;

	if (l == NULL) {
		return -ENOENT;
	}
	/* Hosts connected through it lose their right to be connected. */
	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		if (nvmf_listen_addr_equal(&ctrlr->listen_addr, addr)) {
			nvmf_subsystem_ctrlr_disconnect(ctrlr);
		}
	}
	listener_release(subsys, l);
	nvmf_tgt_discovery_changed();
	return 0;
}

void
ftgt_nvmf_subsystem_for_each_listener(const struct ftgt_nvmf_subsystem *subsys,
                                      int (*fn)(const struct ftgt_nvmf_listen_addr *addr,
                                                void *ctx),
                                      void *ctx)
{
	struct nvmf_listener *l;

	TAILQ_FOREACH (l, &subsys->listeners, link) {
		if (fn(&l->addr, ctx) != 0) {
			return;
		}
	}
}
