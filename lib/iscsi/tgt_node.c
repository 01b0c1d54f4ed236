/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Target nodes, initiator groups and auth groups (the configuration objects), access
 * checks and SendTargets. Objects are created and changed on the app thread; reactors
 * read them at login time under g_iscsi.lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

struct iscsi_globals g_iscsi = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .pgs = TAILQ_HEAD_INITIALIZER(g_iscsi.pgs),
        .igs = TAILQ_HEAD_INITIALIZER(g_iscsi.igs),
        .tgts = TAILQ_HEAD_INITIALIZER(g_iscsi.tgts),
        .ags = TAILQ_HEAD_INITIALIZER(g_iscsi.ags),
        .conns = TAILQ_HEAD_INITIALIZER(g_iscsi.conns),
        .sessions = TAILQ_HEAD_INITIALIZER(g_iscsi.sessions),
        .next_tsih = 1,
};

void
iscsi_opts_defaults(struct iscsi_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->node_base, sizeof(o->node_base), "iqn.2016-06.io.ftgt");
	o->max_sessions = 128;
	o->max_connections_per_session = 2;
	o->max_queue_depth = 64;
	o->default_time2wait = 2;
	o->default_time2retain = 20;
	o->first_burst_length = 8192;
	o->max_burst_length = 1048576;
	o->max_recv_data_segment_length = 65536;
	o->immediate_data = true;
	o->error_recovery_level = 0;
	o->nop_timeout_s = 60;
	o->nop_in_interval_s = 30;
}

struct iscsi_portal_grp *
iscsi_pg_find(uint16_t tag)
{
	struct iscsi_portal_grp *pg;

	TAILQ_FOREACH (pg, &g_iscsi.pgs, link) {
		if (pg->tag == tag) {
			return pg;
		}
	}
	return NULL;
}

struct iscsi_init_grp *
iscsi_ig_find(uint16_t tag)
{
	struct iscsi_init_grp *ig;

	TAILQ_FOREACH (ig, &g_iscsi.igs, link) {
		if (ig->tag == tag) {
			return ig;
		}
	}
	return NULL;
}

struct iscsi_tgt_node *
iscsi_tgt_find(const char *name)
{
	struct iscsi_tgt_node *t;

	TAILQ_FOREACH (t, &g_iscsi.tgts, link) {
		if (!t->deleting && strcasecmp(t->name, name) == 0) {
			return t;
		}
	}
	return NULL;
}

struct iscsi_auth_grp *
iscsi_ag_find(uint32_t tag)
{
	struct iscsi_auth_grp *ag;

	TAILQ_FOREACH (ag, &g_iscsi.ags, link) {
		if (ag->tag == tag) {
			return ag;
		}
	}
	return NULL;
}

int
iscsi_auth_find_secret(uint32_t ag_tag, const char *user, struct iscsi_secret *out)
{
	struct iscsi_auth_grp *ag;
	int i, rc = -ENOENT;

	pthread_mutex_lock(&g_iscsi.lock);
	ag = iscsi_ag_find(ag_tag);
	for (i = 0; ag != NULL && i < ag->num_secrets; i++) {
		if (strcmp(ag->secrets[i].user, user) == 0) {
			*out = ag->secrets[i];
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	return rc;
}

/* "ANY", "a.b.c.d", "a.b.c.d/n", "[v6]" or "[v6]/n" against a numeric address. */
static bool
netmask_match(const char *mask, const char *addr)
{
	char m[128], a[64];
	unsigned char mb[16], ab[16];
	char *slash;
	int prefix = -1, af, len, i;

	if (strcasecmp(mask, "ANY") == 0) {
		return true;
	}
	snprintf(m, sizeof(m), "%s", mask);
	snprintf(a, sizeof(a), "%s", addr);
	slash = strchr(m, '/');
	if (slash != NULL) {
		*slash = '\0';
		prefix = atoi(slash + 1);
	}
	if (m[0] == '[') {
		memmove(m, m + 1, strlen(m));
		m[strcspn(m, "]")] = '\0';
	}
	af = strchr(m, ':') != NULL ? AF_INET6 : AF_INET;
	len = af == AF_INET6 ? 16 : 4;
	if (inet_pton(af, m, mb) != 1 || inet_pton(af, a, ab) != 1) {
		return false;
	}
	if (prefix < 0 || prefix > len * 8) {
		prefix = len * 8;
	}
	for (i = 0; i < len; i++) {
		int bits = prefix - i * 8;
		uint8_t msk;

		if (bits <= 0) {
			break;
		}
		msk = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((mb[i] & msk) != (ab[i] & msk)) {
			return false;
		}
	}
	return true;
}

static bool
ig_allows(const struct iscsi_init_grp *ig, const char *iname, const char *addr)
{
	bool name_ok = false, addr_ok = false;
	int i;

	for (i = 0; i < ig->num_initiators; i++) {
		const char *e = ig->initiators[i];

		if (e[0] == '!') {
			if (strcasecmp(e + 1, "ANY") == 0 || strcasecmp(e + 1, iname) == 0) {
				return false;
			}
			continue;
		}
		if (strcasecmp(e, "ANY") == 0 || strcasecmp(e, iname) == 0) {
			name_ok = true;
		}
	}
	for (i = 0; i < ig->num_netmasks; i++) {
		if (netmask_match(ig->netmasks[i], addr)) {
			addr_ok = true;
		}
	}
	return name_ok && addr_ok;
}

bool
iscsi_tgt_access_ok(const struct iscsi_tgt_node *tgt, uint16_t pg_tag, const char *iname,
                    const char *addr)
{
	int i;

	for (i = 0; i < tgt->num_maps; i++) {
		const struct iscsi_init_grp *ig;

		if (tgt->maps[i].pg_tag != pg_tag) {
			continue;
		}
		ig = iscsi_ig_find(tgt->maps[i].ig_tag);
		if (ig != NULL && ig_allows(ig, iname, addr)) {
			return true;
		}
	}
	return false;
}

int
iscsi_send_targets(const char *iname, const char *addr, const char *local_addr, uint16_t pg_tag,
                   const char *which, struct iscsi_text_out *out)
{
	struct iscsi_tgt_node *t;
	char val[160];
	int i, j, k;

	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_FOREACH (t, &g_iscsi.tgts, link) {
		if (strcmp(which, "All") != 0 && strcasecmp(which, t->name) != 0) {
			continue;
		}
		/* Discovery through this portal group: list targets the initiator may
		 * reach through any of their mapped portal groups. */
		for (i = 0; i < t->num_maps; i++) {
			if (iscsi_tgt_access_ok(t, t->maps[i].pg_tag, iname, addr)) {
				break;
			}
		}
		if (i == t->num_maps) {
			continue;
		}
		iscsi_text_out_add(out, "TargetName", t->name);
		for (i = 0; i < t->num_maps; i++) {
			struct iscsi_portal_grp *pg = iscsi_pg_find(t->maps[i].pg_tag);

			for (k = 0; k < i; k++) {
				if (t->maps[k].pg_tag == t->maps[i].pg_tag) {
					break;
				}
			}
			if (pg == NULL || k < i) {
				continue;
			}
			for (j = 0; j < pg->num_portals; j++) {
				const char *host = pg->portals[j].host;

				if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
				    strcmp(host, "[::]") == 0) {
					host = local_addr;
				}
				if (strchr(host, ':') != NULL && host[0] != '[') {
					snprintf(val, sizeof(val), "[%s]:%s,%u", host,
					         pg->portals[j].port, pg->tag);
				} else {
					snprintf(val, sizeof(val), "%s:%s,%u", host,
					         pg->portals[j].port, pg->tag);
				}
				iscsi_text_out_add(out, "TargetAddress", val);
			}
		}
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	(void)pg_tag;
	return out->overflow ? -ENOSPC : 0;
}

/* ---- removing a LUN of a live target node (RPC or bdev hot remove) -------------------- */

struct tgt_remove_lun_ctx {
	char name[ISCSI_MAX_NAME + 1];
	uint32_t lun_id;
	uint32_t tries;
	bool persist; /* bdev hot remove: never give up (the bdev is gone), back off */
	struct ftgt_poller *poller;
	void (*done)(int rc, void *cb_arg);
	void *cb_arg;
};

static void tgt_remove_lun_drained(uint32_t busy, void *arg);

static void
tgt_remove_lun_finish(struct tgt_remove_lun_ctx *ctx, int rc)
{
	struct iscsi_tgt_node *t = iscsi_tgt_find(ctx->name);

	if (t == NULL) {
		rc = -ENOENT;
	} else if (rc == 0) {
		rc = ftgt_scsi_dev_remove_lun(t->dev, ctx->lun_id);
		ftgt_scsi_dev_luns_changed(t->dev);
	}
	if (t != NULL) {
		pthread_mutex_lock(&g_iscsi.lock);
		t->lun_removing[ctx->lun_id] = false;
		pthread_mutex_unlock(&g_iscsi.lock);
	}
	ctx->done(rc, ctx->cb_arg);
	free(ctx);
}

static int
tgt_remove_lun_retry(void *arg)
{
	struct tgt_remove_lun_ctx *ctx = arg;

	ftgt_poller_unregister(&ctx->poller);
	iscsi_sessions_lun_remove(ctx->name, ctx->lun_id, tgt_remove_lun_drained, ctx);
	return FTGT_POLLER_BUSY;
}

static void
tgt_remove_lun_drained(uint32_t busy, void *arg)
{
	struct tgt_remove_lun_ctx *ctx = arg;

	if (busy == UINT32_MAX) {
		tgt_remove_lun_finish(ctx, -ENOMEM);
	} else if (busy == 0) {
		tgt_remove_lun_finish(ctx, 0);
	} else if (++ctx->tries > 3000 && !ctx->persist) {
		tgt_remove_lun_finish(ctx, -EBUSY); /* 30 s */
	} else {
		/* Every 10 ms for 30 s; then (hot remove only) every second. */
		uint64_t period_us = ctx->tries > 3000 ? 1000000 : 10000;

		if (ctx->tries % 3000 == 0) {
			FTGT_WARNLOG("iscsi: %s: LUN %u: %u sessions still use it, waiting\n",
			             ctx->name, ctx->lun_id, busy);
		}
		ctx->poller = ftgt_poller_register(tgt_remove_lun_retry, ctx, period_us,
		                                   "iscsi_lun_remove");
		if (ctx->poller == NULL) {
			tgt_remove_lun_finish(ctx, -ENOMEM);
		}
	}
}

static int
tgt_remove_lun(struct iscsi_tgt_node *t, uint32_t lun_id, bool persist,
               void (*done)(int rc, void *cb_arg), void *cb_arg)
{
	struct tgt_remove_lun_ctx *ctx;

	if (lun_id >= FTGT_SCSI_DEV_MAX_LUNS || ftgt_scsi_dev_get_lun(t->dev, lun_id) == NULL) {
		return -ENOENT;
	}
	if (t->lun_removing[lun_id]) {
		return -EBUSY;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return -ENOMEM;
	}
	snprintf(ctx->name, sizeof(ctx->name), "%s", t->name);
	ctx->lun_id = lun_id;
	ctx->persist = persist;
	ctx->done = done;
	ctx->cb_arg = cb_arg;
	/* Sessions that log in from now on do not get the LUN. */
	pthread_mutex_lock(&g_iscsi.lock);
	t->lun_removing[lun_id] = true;
	pthread_mutex_unlock(&g_iscsi.lock);
	iscsi_sessions_lun_remove(ctx->name, ctx->lun_id, tgt_remove_lun_drained, ctx);
	return 0;
}

int
iscsi_tgt_remove_lun(struct iscsi_tgt_node *t, uint32_t lun_id, void (*done)(int rc, void *cb_arg),
                     void *cb_arg)
{
	return tgt_remove_lun(t, lun_id, false, done, cb_arg);
}

struct hot_remove_ctx {
	char name[ISCSI_MAX_NAME + 1];
	uint32_t lun_id;
};

static void
tgt_hot_remove_done(int rc, void *arg)
{
	struct hot_remove_ctx *ctx = arg;

	if (rc == 0) {
		FTGT_NOTICELOG("iscsi: %s: LUN %u removed (its bdev went away)\n", ctx->name,
		               ctx->lun_id);
	} else if (iscsi_tgt_find(ctx->name) == NULL) {
		FTGT_NOTICELOG("iscsi: %s: deleted while its LUN %u was being removed\n", ctx->name,
		               ctx->lun_id);
	} else {
		FTGT_ERRLOG("iscsi: %s: LUN %u: removal after bdev hot remove failed: %d\n",
		            ctx->name, ctx->lun_id, rc);
	}
	free(ctx);
}

void
iscsi_tgt_lun_hot_removed(struct ftgt_scsi_dev *dev, uint32_t lun_id, void *cb_arg)
{
	struct iscsi_tgt_node *t = cb_arg;
	struct hot_remove_ctx *ctx;
	int rc;

	(void)dev;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		FTGT_ERRLOG("iscsi: %s: LUN %u: out of memory; it stays NOT READY\n", t->name,
		            lun_id);
		return;
	}
	snprintf(ctx->name, sizeof(ctx->name), "%s", t->name);
	ctx->lun_id = lun_id;
	rc = tgt_remove_lun(t, lun_id, true, tgt_hot_remove_done, ctx);
	if (rc != 0) {
		/* -EBUSY: an RPC is removing it already; it closes the descriptor. */
		if (rc != -EBUSY) {
			FTGT_ERRLOG("iscsi: %s: LUN %u: cannot remove after hot remove: %d\n",
			            t->name, lun_id, rc);
		}
		free(ctx);
	}
}
