/* SPDX-License-Identifier: BSD-3-Clause */
/* iSCSI JSON-RPC methods (SPDK names and parameters). App thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/log.h"
#include "ftgt/rpc.h"
#include "ftgt/string.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

#define INVALID FTGT_JSONRPC_ERROR_INVALID_PARAMS

/* ---- JSON views used by the getters and save_config ---------------------------------- */

json_t *iscsi_pg_json(const struct iscsi_portal_grp *pg);
json_t *iscsi_ig_json(const struct iscsi_init_grp *ig);
json_t *iscsi_ag_json(const struct iscsi_auth_grp *ag);
json_t *iscsi_tgt_json(const struct iscsi_tgt_node *t);
json_t *iscsi_opts_json(const struct iscsi_opts *o);

json_t *
iscsi_pg_json(const struct iscsi_portal_grp *pg)
{
	json_t *portals = json_array();
	int i;

	for (i = 0; i < pg->num_portals; i++) {
		json_array_append_new(portals, json_pack("{s:s, s:s}", "host", pg->portals[i].host,
		                                         "port", pg->portals[i].port));
	}
	return json_pack("{s:i, s:o, s:b}", "tag", pg->tag, "portals", portals, "private", 0);
}

json_t *
iscsi_ig_json(const struct iscsi_init_grp *ig)
{
	json_t *in = json_array(), *nm = json_array();
	int i;

	for (i = 0; i < ig->num_initiators; i++) {
		json_array_append_new(in, json_string(ig->initiators[i]));
	}
	for (i = 0; i < ig->num_netmasks; i++) {
		json_array_append_new(nm, json_string(ig->netmasks[i]));
	}
	return json_pack("{s:i, s:o, s:o}", "tag", ig->tag, "initiators", in, "netmasks", nm);
}

json_t *
iscsi_ag_json(const struct iscsi_auth_grp *ag)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; i < ag->num_secrets; i++) {
		const struct iscsi_secret *s = &ag->secrets[i];
		json_t *o = json_pack("{s:s, s:s}", "user", s->user, "secret", s->secret);

		if (s->muser[0] != '\0') {
			json_object_set_new(o, "muser", json_string(s->muser));
			json_object_set_new(o, "msecret", json_string(s->msecret));
		}
		json_array_append_new(arr, o);
	}
	return json_pack("{s:I, s:o}", "tag", (json_int_t)ag->tag, "secrets", arr);
}

json_t *
iscsi_tgt_json(const struct iscsi_tgt_node *t)
{
	json_t *maps = json_array(), *luns = json_array();
	int i;

	for (i = 0; i < t->num_maps; i++) {
		json_array_append_new(maps, json_pack("{s:i, s:i}", "pg_tag", t->maps[i].pg_tag,
		                                      "ig_tag", t->maps[i].ig_tag));
	}
	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		struct ftgt_scsi_lun *lun = ftgt_scsi_dev_get_lun(t->dev, (uint32_t)i);

		if (lun != NULL) {
			json_array_append_new(luns, json_pack("{s:s, s:i}", "bdev_name",
			                                      ftgt_scsi_lun_get_bdev_name(lun),
			                                      "lun_id", i));
		}
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:I, s:b, s:b, s:b, s:I, s:b, s:b}", "name", t->name,
	                 "alias_name", t->alias, "pg_ig_maps", maps, "luns", luns, "queue_depth",
	                 (json_int_t)t->queue_depth, "disable_chap", t->auth.disable_chap,
	                 "require_chap", t->auth.require_chap, "mutual_chap", t->auth.mutual_chap,
	                 "chap_group", (json_int_t)t->auth.chap_group, "header_digest",
	                 t->header_digest, "data_digest", t->data_digest);
}

json_t *
iscsi_opts_json(const struct iscsi_opts *o)
{
	return json_pack(
	        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, "
	        "s:b, s:b, s:b, s:I}",
	        "node_base", o->node_base, "max_sessions", (json_int_t)o->max_sessions,
	        "max_connections_per_session", (json_int_t)o->max_connections_per_session,
	        "max_queue_depth", (json_int_t)o->max_queue_depth, "default_time2wait",
	        (json_int_t)o->default_time2wait, "default_time2retain",
	        (json_int_t)o->default_time2retain, "first_burst_length",
	        (json_int_t)o->first_burst_length, "max_burst_length",
	        (json_int_t)o->max_burst_length, "max_recv_data_segment_length",
	        (json_int_t)o->max_recv_data_segment_length, "immediate_data", o->immediate_data,
	        "error_recovery_level", (json_int_t)o->error_recovery_level, "nop_timeout",
	        (json_int_t)o->nop_timeout_s, "nop_in_interval", (json_int_t)o->nop_in_interval_s,
	        "disable_chap", o->discovery_auth.disable_chap, "require_chap",
	        o->discovery_auth.require_chap, "mutual_chap", o->discovery_auth.mutual_chap,
	        "chap_group", (json_int_t)o->discovery_auth.chap_group);
}

static int
auth_check(const struct iscsi_auth_opts *a, char *err, size_t len)
{
	if (a->disable_chap && (a->require_chap || a->mutual_chap)) {
		snprintf(err, len, "disable_chap excludes require_chap and mutual_chap");
		return -EINVAL;
	}
	if (a->mutual_chap && !a->require_chap) {
		snprintf(err, len, "mutual_chap needs require_chap");
		return -EINVAL;
	}
	return 0;
}

/* ---- options -------------------------------------------------------------------------- */

struct rpc_opts {
	char *node_base;
	uint32_t max_sessions, max_connections_per_session, max_queue_depth;
	uint32_t default_time2wait, default_time2retain, first_burst_length, max_burst_length;
	uint32_t max_recv_data_segment_length, error_recovery_level, nop_timeout;
	uint32_t nop_in_interval, chap_group;
	bool immediate_data, disable_chap, require_chap, mutual_chap, allow_duplicated_isid;
};
#define O(f) offsetof(struct rpc_opts, f)
static const struct ftgt_rpc_field rpc_opts_fields[] = {
        {"node_base", FTGT_RPC_STRING, O(node_base), true},
        {"max_sessions", FTGT_RPC_UINT32, O(max_sessions), true},
        {"max_connections_per_session", FTGT_RPC_UINT32, O(max_connections_per_session), true},
        {"max_queue_depth", FTGT_RPC_UINT32, O(max_queue_depth), true},
        {"default_time2wait", FTGT_RPC_UINT32, O(default_time2wait), true},
        {"default_time2retain", FTGT_RPC_UINT32, O(default_time2retain), true},
        {"first_burst_length", FTGT_RPC_UINT32, O(first_burst_length), true},
        {"max_burst_length", FTGT_RPC_UINT32, O(max_burst_length), true},
        {"max_recv_data_segment_length", FTGT_RPC_UINT32, O(max_recv_data_segment_length), true},
        {"immediate_data", FTGT_RPC_BOOL, O(immediate_data), true},
        {"error_recovery_level", FTGT_RPC_UINT32, O(error_recovery_level), true},
        {"nop_timeout", FTGT_RPC_UINT32, O(nop_timeout), true},
        {"nop_in_interval", FTGT_RPC_UINT32, O(nop_in_interval), true},
        {"disable_chap", FTGT_RPC_BOOL, O(disable_chap), true},
        {"require_chap", FTGT_RPC_BOOL, O(require_chap), true},
        {"mutual_chap", FTGT_RPC_BOOL, O(mutual_chap), true},
        {"chap_group", FTGT_RPC_UINT32, O(chap_group), true},
        {"allow_duplicated_isid", FTGT_RPC_BOOL, O(allow_duplicated_isid), true},
};

static void
rpc_iscsi_set_options(struct ftgt_rpc_request *req, const json_t *params)
{
	struct iscsi_opts *cur = &g_iscsi.opts;
	struct rpc_opts r = {
	        .max_sessions = cur->max_sessions,
	        .max_connections_per_session = cur->max_connections_per_session,
	        .max_queue_depth = cur->max_queue_depth,
	        .default_time2wait = cur->default_time2wait,
	        .default_time2retain = cur->default_time2retain,
	        .first_burst_length = cur->first_burst_length,
	        .max_burst_length = cur->max_burst_length,
	        .max_recv_data_segment_length = cur->max_recv_data_segment_length,
	        .error_recovery_level = cur->error_recovery_level,
	        .nop_timeout = cur->nop_timeout_s,
	        .nop_in_interval = cur->nop_in_interval_s,
	        .chap_group = cur->discovery_auth.chap_group,
	        .immediate_data = cur->immediate_data,
	        .disable_chap = cur->discovery_auth.disable_chap,
	        .require_chap = cur->discovery_auth.require_chap,
	        .mutual_chap = cur->discovery_auth.mutual_chap,
	        .allow_duplicated_isid = cur->allow_duplicated_isid,
	};
	struct iscsi_opts o;
	char err[128];

	if (!ftgt_rpc_decode_or_error(req, params, rpc_opts_fields, FTGT_COUNTOF(rpc_opts_fields),
	                              &r)) {
		return;
	}
	o = *cur;
	if (r.node_base != NULL) {
		snprintf(o.node_base, sizeof(o.node_base), "%s", r.node_base);
	}
	o.max_sessions = r.max_sessions;
	o.max_connections_per_session = r.max_connections_per_session;
	o.max_queue_depth = r.max_queue_depth;
	o.default_time2wait = r.default_time2wait;
	o.default_time2retain = r.default_time2retain;
	o.first_burst_length = r.first_burst_length;
	o.max_burst_length = r.max_burst_length;
	o.max_recv_data_segment_length = r.max_recv_data_segment_length;
	o.immediate_data = r.immediate_data;
	o.error_recovery_level = r.error_recovery_level;
	o.nop_timeout_s = r.nop_timeout;
	o.nop_in_interval_s = r.nop_in_interval;
	o.discovery_auth.disable_chap = r.disable_chap;
	o.discovery_auth.require_chap = r.require_chap;
	o.discovery_auth.mutual_chap = r.mutual_chap;
	o.discovery_auth.chap_group = r.chap_group;
	o.allow_duplicated_isid = r.allow_duplicated_isid;
	if (o.error_recovery_level != 0) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'error_recovery_level': only 0 "
		                    "is supported");
	} else if (o.max_connections_per_session == 0 || o.max_connections_per_session > 64) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'max_connections_per_session': 1..64");
	} else if (o.max_queue_depth == 0 || o.max_queue_depth > 128) {
		ftgt_rpc_send_error(req, INVALID, "invalid parameter 'max_queue_depth': 1..128");
	} else if (o.first_burst_length < 512 || o.first_burst_length > o.max_burst_length ||
	           o.max_burst_length > 16777215) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'first_burst_length': 512.."
		                    "max_burst_length (max_burst_length <= 16777215)");
	} else if (o.max_recv_data_segment_length < 512 ||
	           o.max_recv_data_segment_length > 16777215) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter "
		                    "'max_recv_data_segment_length': 512..16777215");
	} else if (o.default_time2wait > 3600 || o.default_time2retain > 3600) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'default_time2wait' or "
		                    "'default_time2retain': 0..3600");
	} else if (auth_check(&o.discovery_auth, err, sizeof(err)) != 0) {
		ftgt_rpc_send_error(req, INVALID, "%s", err);
	} else {
		pthread_mutex_lock(&g_iscsi.lock);
		g_iscsi.opts = o;
		pthread_mutex_unlock(&g_iscsi.lock);
		ftgt_rpc_send_bool(req, true);
	}
	ftgt_rpc_decode_free(rpc_opts_fields, FTGT_COUNTOF(rpc_opts_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_set_options", rpc_iscsi_set_options)

static void
rpc_iscsi_get_options(struct ftgt_rpc_request *req, const json_t *params)
{
	if (params != NULL && json_object_size(params) > 0) {
		ftgt_rpc_send_error(req, INVALID, "iscsi_get_options takes no parameters");
		return;
	}
	ftgt_rpc_send_result(req, iscsi_opts_json(&g_iscsi.opts));
}
FTGT_RPC_REGISTER("iscsi_get_options", rpc_iscsi_get_options)

/* ---- portal groups ------------------------------------------------------------------ */

struct rpc_pg {
	uint32_t tag;
	json_t *portals;
	bool priv;
	bool wait;
};
static const struct ftgt_rpc_field rpc_pg_fields[] = {
        {"tag", FTGT_RPC_UINT32, offsetof(struct rpc_pg, tag), false},
        {"portals", FTGT_RPC_JSON, offsetof(struct rpc_pg, portals), false},
        {"private", FTGT_RPC_BOOL, offsetof(struct rpc_pg, priv), true},
        {"wait", FTGT_RPC_BOOL, offsetof(struct rpc_pg, wait), true},
};

static bool
portal_in_use(const char *host, const char *port)
{
	struct iscsi_portal_grp *pg;
	int i;

	TAILQ_FOREACH (pg, &g_iscsi.pgs, link) {
		for (i = 0; i < pg->num_portals; i++) {
			if (strcasecmp(pg->portals[i].host, host) == 0 &&
			    strcmp(pg->portals[i].port, port) == 0) {
				return true;
			}
		}
	}
	return false;
}

static void
rpc_iscsi_create_portal_group(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_pg r = {0};
	struct iscsi_portal_grp *pg = NULL;
	char err[256];
	size_t i, j;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_pg_fields, FTGT_COUNTOF(rpc_pg_fields),
	                              &r)) {
		return;
	}
	if (r.tag == 0 || r.tag > 65535 || iscsi_pg_find((uint16_t)r.tag) != NULL) {
		ftgt_rpc_send_error(req, r.tag == 0 || r.tag > 65535 ? INVALID : -EEXIST,
		                    "invalid parameter 'tag': %u %s", r.tag,
		                    r.tag == 0 || r.tag > 65535 ? "is not in 1..65535"
		                                                : "is already used");
		goto out;
	}
	if (!json_is_array(r.portals) || json_array_size(r.portals) == 0 ||
	    json_array_size(r.portals) > ISCSI_MAX_PORTALS) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'portals': expected 1..%d "
		                    "objects {\"host\", \"port\"}",
		                    ISCSI_MAX_PORTALS);
		goto out;
	}
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	pg->tag = (uint16_t)r.tag;
	for (i = 0; i < json_array_size(r.portals); i++) {
		json_t *p = json_array_get(r.portals, i);
		json_t *h = json_object_get(p, "host"), *pt = json_object_get(p, "port");
		char port[16];

		if (!json_is_string(h) ||
		    (!json_is_string(pt) && !json_is_integer(pt) && pt != NULL)) {
			ftgt_rpc_send_error(req, INVALID,
			                    "invalid parameter 'portals[%zu]': "
			                    "expected {\"host\": string, \"port\": string}",
			                    i);
			goto out;
		}
		if (pt == NULL) {
			snprintf(port, sizeof(port), "%d", ISCSI_DEFAULT_PORT);
		} else if (json_is_integer(pt)) {
			snprintf(port, sizeof(port), "%lld", (long long)json_integer_value(pt));
		} else {
			snprintf(port, sizeof(port), "%s", json_string_value(pt));
		}
		snprintf(pg->portals[i].host, sizeof(pg->portals[i].host), "%s",
		         json_string_value(h));
		snprintf(pg->portals[i].port, sizeof(pg->portals[i].port), "%s", port);
		if (portal_in_use(pg->portals[i].host, port)) {
			ftgt_rpc_send_error(req, -EADDRINUSE,
			                    "portal %s:%s is already in a portal "
			                    "group",
			                    pg->portals[i].host, port);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcasecmp(pg->portals[j].host, pg->portals[i].host) == 0 &&
			    strcmp(pg->portals[j].port, port) == 0) {
				ftgt_rpc_send_error(req, INVALID, "portal %s:%s is listed twice",
				                    pg->portals[i].host, port);
				goto out;
			}
		}
		pg->num_portals++;
	}
	rc = iscsi_pg_listen(pg, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? INVALID : rc, "%s", err);
		goto out;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_INSERT_TAIL(&g_iscsi.pgs, pg, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	pg = NULL;
	ftgt_rpc_send_bool(req, true);
out:
	free(pg);
	ftgt_rpc_decode_free(rpc_pg_fields, FTGT_COUNTOF(rpc_pg_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_create_portal_group", rpc_iscsi_create_portal_group)

struct rpc_tag {
	uint32_t tag;
};
static const struct ftgt_rpc_field rpc_tag_fields[] = {
        {"tag", FTGT_RPC_UINT32, offsetof(struct rpc_tag, tag), false},
};

static bool
tag_used_by_target(uint32_t tag, bool pg)
{
	struct iscsi_tgt_node *t;
	int i;

	TAILQ_FOREACH (t, &g_iscsi.tgts, link) {
		for (i = 0; i < t->num_maps; i++) {
			if ((pg ? t->maps[i].pg_tag : t->maps[i].ig_tag) == tag) {
				return true;
			}
		}
	}
	return false;
}

enum rpc_grp {
	RPC_GRP_PG,
	RPC_GRP_IG,
	RPC_GRP_AG,
};

/*
 * The common part of the iscsi_delete_*_group methods: decode {"tag"} and find the
 * group. Returns it, or NULL after answering the error (bad params, no such group, or a
 * portal/initiator group still mapped by a target node).
 */
static void *
rpc_find_group(struct ftgt_rpc_request *req, const json_t *params, enum rpc_grp kind)
{
	static const char *const what[] = {
	        [RPC_GRP_PG] = "portal group",
	        [RPC_GRP_IG] = "initiator group",
	        [RPC_GRP_AG] = "auth group",
	};
	struct rpc_tag r = {0};
	void *grp = NULL;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_tag_fields, 1, &r)) {
		return NULL;
	}
	switch (kind) {
	case RPC_GRP_PG:
		grp = r.tag <= 65535 ? (void *)iscsi_pg_find((uint16_t)r.tag) : NULL;
		break;
	case RPC_GRP_IG:
		grp = r.tag <= 65535 ? (void *)iscsi_ig_find((uint16_t)r.tag) : NULL;
		break;
	case RPC_GRP_AG:
		grp = iscsi_ag_find(r.tag);
		break;
	}
	if (grp == NULL) {
		ftgt_rpc_send_error(req, -ENOENT, "no %s with tag %u", what[kind], r.tag);
		return NULL;
	}
	if (kind != RPC_GRP_AG && tag_used_by_target(r.tag, kind == RPC_GRP_PG)) {
		ftgt_rpc_send_error(req, -EBUSY, "%s %u is mapped by a target node", what[kind],
		                    r.tag);
		return NULL;
	}
	return grp;
}

static void
rpc_iscsi_delete_portal_group(struct ftgt_rpc_request *req, const json_t *params)
{
	struct iscsi_portal_grp *pg;

	pg = rpc_find_group(req, params, RPC_GRP_PG);
	if (pg == NULL) {
		return;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_REMOVE(&g_iscsi.pgs, pg, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	iscsi_pg_close(pg);
	free(pg);
	ftgt_rpc_send_bool(req, true);
}
FTGT_RPC_REGISTER("iscsi_delete_portal_group", rpc_iscsi_delete_portal_group)

static void
rpc_iscsi_get_portal_groups(struct ftgt_rpc_request *req, const json_t *params)
{
	json_t *arr = json_array();
	struct iscsi_portal_grp *pg;

	TAILQ_FOREACH (pg, &g_iscsi.pgs, link) {
		json_array_append_new(arr, iscsi_pg_json(pg));
	}
	ftgt_rpc_send_result(req, arr);
}
FTGT_RPC_REGISTER("iscsi_get_portal_groups", rpc_iscsi_get_portal_groups)

/* ---- initiator groups ---------------------------------------------------------------- */

struct rpc_ig {
	uint32_t tag;
	json_t *initiators;
	json_t *netmasks;
};
static const struct ftgt_rpc_field rpc_ig_fields[] = {
        {"tag", FTGT_RPC_UINT32, offsetof(struct rpc_ig, tag), false},
        {"initiators", FTGT_RPC_JSON, offsetof(struct rpc_ig, initiators), false},
        {"netmasks", FTGT_RPC_JSON, offsetof(struct rpc_ig, netmasks), false},
};

static void
ig_free(struct iscsi_init_grp *ig)
{
	int i;

	for (i = 0; i < ig->num_initiators; i++) {
		free(ig->initiators[i]);
	}
	for (i = 0; i < ig->num_netmasks; i++) {
		free(ig->netmasks[i]);
	}
	free(ig);
}

static int
str_array(const json_t *a, char **out, int *n, bool names, const char *what, char *err, size_t len)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > ISCSI_MAX_IG_ENTRIES) {
		snprintf(err, len, "invalid parameter '%s': expected 1..%d strings", what,
		         ISCSI_MAX_IG_ENTRIES);
		return -EINVAL;
	}
	for (i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		char nerr[128];

		if (s == NULL || s[0] == '\0') {
			snprintf(err, len, "invalid parameter '%s[%zu]': expected a string", what,
			         i);
			return -EINVAL;
		}
		if (names && strcasecmp(s, "ANY") != 0 && strcasecmp(s, "!ANY") != 0 &&
		    !ftgt_iscsi_name_is_valid(s[0] == '!' ? s + 1 : s, nerr, sizeof(nerr))) {
			snprintf(err, len, "invalid parameter '%s[%zu]': %s", what, i, nerr);
			return -EINVAL;
		}
		out[*n] = strdup(s);
		if (out[*n] == NULL) {
			return -ENOMEM;
		}
		(*n)++;
	}
	return 0;
}

static void
rpc_iscsi_create_initiator_group(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_ig r = {0};
	struct iscsi_init_grp *ig;
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_ig_fields, FTGT_COUNTOF(rpc_ig_fields),
	                              &r)) {
		return;
	}
	if (r.tag == 0 || r.tag > 65535 || iscsi_ig_find((uint16_t)r.tag) != NULL) {
		ftgt_rpc_send_error(req, r.tag == 0 || r.tag > 65535 ? INVALID : -EEXIST,
		                    "invalid parameter 'tag': %u is %s", r.tag,
		                    r.tag == 0 || r.tag > 65535 ? "not in 1..65535"
		                                                : "already used");
		goto out;
	}
	ig = calloc(1, sizeof(*ig));
	if (ig == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	ig->tag = (uint16_t)r.tag;
	rc = str_array(r.initiators, ig->initiators, &ig->num_initiators, true, "initiators", err,
	               sizeof(err));
	if (rc == 0) {
		rc = str_array(r.netmasks, ig->netmasks, &ig->num_netmasks, false, "netmasks", err,
		               sizeof(err));
	}
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? INVALID : rc, "%s", err);
		ig_free(ig);
		goto out;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_INSERT_TAIL(&g_iscsi.igs, ig, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	ftgt_rpc_send_bool(req, true);
out:
	ftgt_rpc_decode_free(rpc_ig_fields, FTGT_COUNTOF(rpc_ig_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_create_initiator_group", rpc_iscsi_create_initiator_group)

static void
rpc_iscsi_delete_initiator_group(struct ftgt_rpc_request *req, const json_t *params)
{
	struct iscsi_init_grp *ig;

	ig = rpc_find_group(req, params, RPC_GRP_IG);
	if (ig == NULL) {
		return;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_REMOVE(&g_iscsi.igs, ig, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	ig_free(ig);
	ftgt_rpc_send_bool(req, true);
}
FTGT_RPC_REGISTER("iscsi_delete_initiator_group", rpc_iscsi_delete_initiator_group)

static void
rpc_iscsi_get_initiator_groups(struct ftgt_rpc_request *req, const json_t *params)
{
	json_t *arr = json_array();
	struct iscsi_init_grp *ig;

	TAILQ_FOREACH (ig, &g_iscsi.igs, link) {
		json_array_append_new(arr, iscsi_ig_json(ig));
	}
	ftgt_rpc_send_result(req, arr);
}
FTGT_RPC_REGISTER("iscsi_get_initiator_groups", rpc_iscsi_get_initiator_groups)

/* ---- auth groups --------------------------------------------------------------------- */

struct rpc_ag {
	uint32_t tag;
	json_t *secrets;
};
static const struct ftgt_rpc_field rpc_ag_fields[] = {
        {"tag", FTGT_RPC_UINT32, offsetof(struct rpc_ag, tag), false},
        {"secrets", FTGT_RPC_JSON, offsetof(struct rpc_ag, secrets), true},
};

static int
copy_secret_field(const json_t *o, const char *key, char *dst, size_t cap, bool required)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL) {
		return required ? -EINVAL : 0;
	}
	if (strlen(s) >= cap || (required && s[0] == '\0')) {
		return -EINVAL;
	}
	snprintf(dst, cap, "%s", s);
	return 0;
}

static void
rpc_iscsi_create_auth_group(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_ag r = {0};
	struct iscsi_auth_grp *ag;
	size_t i;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_ag_fields, FTGT_COUNTOF(rpc_ag_fields),
	                              &r)) {
		return;
	}
	if (r.tag == 0 || iscsi_ag_find(r.tag) != NULL) {
		ftgt_rpc_send_error(req, r.tag == 0 ? INVALID : -EEXIST,
		                    "invalid parameter 'tag': %u is %s", r.tag,
		                    r.tag == 0 ? "not allowed" : "already used");
		goto out;
	}
	if (r.secrets != NULL &&
	    (!json_is_array(r.secrets) || json_array_size(r.secrets) > ISCSI_MAX_SECRETS)) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'secrets': expected up to %d "
		                    "objects",
		                    ISCSI_MAX_SECRETS);
		goto out;
	}
	ag = calloc(1, sizeof(*ag));
	if (ag == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	ag->tag = r.tag;
	for (i = 0; r.secrets != NULL && i < json_array_size(r.secrets); i++) {
		json_t *o = json_array_get(r.secrets, i);
		struct iscsi_secret *s = &ag->secrets[i];

		if (copy_secret_field(o, "user", s->user, sizeof(s->user), true) != 0 ||
		    copy_secret_field(o, "secret", s->secret, sizeof(s->secret), true) != 0 ||
		    copy_secret_field(o, "muser", s->muser, sizeof(s->muser), false) != 0 ||
		    copy_secret_field(o, "msecret", s->msecret, sizeof(s->msecret), false) != 0 ||
		    ((s->muser[0] != '\0') != (s->msecret[0] != '\0'))) {
			ftgt_rpc_send_error(req, INVALID,
			                    "invalid parameter 'secrets[%zu]': needs "
			                    "'user' and 'secret' (and 'muser' with 'msecret')",
			                    i);
			free(ag);
			goto out;
		}
		ag->num_secrets++;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_INSERT_TAIL(&g_iscsi.ags, ag, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	ftgt_rpc_send_bool(req, true);
out:
	ftgt_rpc_decode_free(rpc_ag_fields, FTGT_COUNTOF(rpc_ag_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_create_auth_group", rpc_iscsi_create_auth_group)

static void
rpc_iscsi_delete_auth_group(struct ftgt_rpc_request *req, const json_t *params)
{
	struct iscsi_auth_grp *ag;

	ag = rpc_find_group(req, params, RPC_GRP_AG);
	if (ag == NULL) {
		return;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_REMOVE(&g_iscsi.ags, ag, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	free(ag);
	ftgt_rpc_send_bool(req, true);
}
FTGT_RPC_REGISTER("iscsi_delete_auth_group", rpc_iscsi_delete_auth_group)

static void
rpc_iscsi_get_auth_groups(struct ftgt_rpc_request *req, const json_t *params)
{
	json_t *arr = json_array();
	struct iscsi_auth_grp *ag;

	TAILQ_FOREACH (ag, &g_iscsi.ags, link) {
		json_array_append_new(arr, iscsi_ag_json(ag));
	}
	ftgt_rpc_send_result(req, arr);
}
FTGT_RPC_REGISTER("iscsi_get_auth_groups", rpc_iscsi_get_auth_groups)

/* ---- target nodes ------------------------------------------------------------------- */

struct rpc_tgt {
	char *name;
	char *alias_name;
	json_t *pg_ig_maps;
	json_t *luns;
	uint32_t queue_depth;
	bool disable_chap, require_chap, mutual_chap;
	uint32_t chap_group;
	bool header_digest, data_digest;
};
#define T(f) offsetof(struct rpc_tgt, f)
static const struct ftgt_rpc_field rpc_tgt_fields[] = {
        {"name", FTGT_RPC_STRING, T(name), false},
        {"alias_name", FTGT_RPC_STRING, T(alias_name), true},
        {"pg_ig_maps", FTGT_RPC_JSON, T(pg_ig_maps), false},
        {"luns", FTGT_RPC_JSON, T(luns), false},
        {"queue_depth", FTGT_RPC_UINT32, T(queue_depth), true},
        {"disable_chap", FTGT_RPC_BOOL, T(disable_chap), true},
        {"require_chap", FTGT_RPC_BOOL, T(require_chap), true},
        {"mutual_chap", FTGT_RPC_BOOL, T(mutual_chap), true},
        {"chap_group", FTGT_RPC_UINT32, T(chap_group), true},
        {"header_digest", FTGT_RPC_BOOL, T(header_digest), true},
        {"data_digest", FTGT_RPC_BOOL, T(data_digest), true},
};

static void
full_name(const char *name, char *out, size_t len)
{
	if (strncasecmp(name, "iqn.", 4) == 0 || strncasecmp(name, "eui.", 4) == 0 ||
	    strncasecmp(name, "naa.", 4) == 0) {
		snprintf(out, len, "%s", name);
	} else {
		size_t nb = strlen(g_iscsi.opts.node_base);

		/* Too long names come out cut and fail name validation. */
		snprintf(out, len, "%s", g_iscsi.opts.node_base);
		if (nb + 1 < len) {
			out[nb] = ':';
			snprintf(out + nb + 1, len - nb - 1, "%s", name);
		}
	}
}

/* The target node called `raw` (completed with the node base into name[len]), or NULL
 * after answering "no target node". */
static struct iscsi_tgt_node *
rpc_find_tgt(struct ftgt_rpc_request *req, const char *raw, char *name, size_t len)
{
	struct iscsi_tgt_node *t;

	full_name(raw, name, len);
	t = iscsi_tgt_find(name);
	if (t == NULL) {
		ftgt_rpc_send_error(req, -ENOENT, "no target node %s", name);
	}
	return t;
}

static const char *
lun_error(int rc)
{
	switch (rc) {
	case -ENODEV:
		return "no such bdev";
	case -EEXIST:
		return "LUN id already used";
	case -EPERM:
		return "bdev is claimed by another user";
	case -EINVAL:
		return "LUN id out of range (0..63)";
	default:
		return "cannot open the bdev";
	}
}

static void
tgt_free(struct iscsi_tgt_node *t)
{
	struct iscsi_retired_stats *rs;

	while ((rs = TAILQ_FIRST(&t->retired)) != NULL) {
		TAILQ_REMOVE(&t->retired, rs, link);
		free(rs);
	}
	ftgt_scsi_dev_destroy(t->dev);
	free(t);
}

static void
rpc_iscsi_create_target_node(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_tgt r = {0};
	struct iscsi_tgt_node *t = NULL;
	char name[ISCSI_MAX_NAME + 1], err[160];
	size_t i;
	int rc;

	r.queue_depth = g_iscsi.opts.max_queue_depth;
	if (!ftgt_rpc_decode_or_error(req, params, rpc_tgt_fields, FTGT_COUNTOF(rpc_tgt_fields),
	                              &r)) {
		return;
	}
	full_name(r.name, name, sizeof(name));
	if (!ftgt_iscsi_name_is_valid(name, err, sizeof(err))) {
		ftgt_rpc_send_error(req, INVALID, "invalid parameter 'name': %s", err);
		goto out;
	}
	if (iscsi_tgt_find(name) != NULL) {
		ftgt_rpc_send_error(req, -EEXIST, "target node %s already exists", name);
		goto out;
	}
	if (r.queue_depth == 0 || r.queue_depth > 128) {
		ftgt_rpc_send_error(req, INVALID, "invalid parameter 'queue_depth': 1..128");
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	TAILQ_INIT(&t->retired);
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (r.alias_name != NULL) {
		snprintf(t->alias, sizeof(t->alias), "%s", r.alias_name);
	}
	t->queue_depth = r.queue_depth;
	t->auth.disable_chap = r.disable_chap;
	t->auth.require_chap = r.require_chap;
	t->auth.mutual_chap = r.mutual_chap;
	t->auth.chap_group = r.chap_group;
	t->header_digest = r.header_digest;
	t->data_digest = r.data_digest;
	if (auth_check(&t->auth, err, sizeof(err)) != 0) {
		ftgt_rpc_send_error(req, INVALID, "%s", err);
		goto out;
	}
	if (!json_is_array(r.pg_ig_maps) || json_array_size(r.pg_ig_maps) == 0 ||
	    json_array_size(r.pg_ig_maps) > ISCSI_MAX_MAPS) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'pg_ig_maps': expected 1..%d "
		                    "objects {\"pg_tag\", \"ig_tag\"}",
		                    ISCSI_MAX_MAPS);
		goto out;
	}
	for (i = 0; i < json_array_size(r.pg_ig_maps); i++) {
		json_t *m = json_array_get(r.pg_ig_maps, i);
		json_int_t pg = json_integer_value(json_object_get(m, "pg_tag"));
		json_int_t ig = json_integer_value(json_object_get(m, "ig_tag"));

		if (pg <= 0 || pg > 65535 || iscsi_pg_find((uint16_t)pg) == NULL) {
			ftgt_rpc_send_error(req, INVALID,
			                    "invalid parameter 'pg_ig_maps[%zu]': no "
			                    "portal group %lld",
			                    i, (long long)pg);
			goto out;
		}
		if (ig <= 0 || ig > 65535 || iscsi_ig_find((uint16_t)ig) == NULL) {
			ftgt_rpc_send_error(req, INVALID,
			                    "invalid parameter 'pg_ig_maps[%zu]': no "
			                    "initiator group %lld",
			                    i, (long long)ig);
			goto out;
		}
		t->maps[i].pg_tag = (uint16_t)pg;
		t->maps[i].ig_tag = (uint16_t)ig;
		t->num_maps++;
	}
	if (!json_is_array(r.luns) || json_array_size(r.luns) == 0) {
		ftgt_rpc_send_error(req, INVALID,
		                    "invalid parameter 'luns': expected objects "
		                    "{\"bdev_name\", \"lun_id\"}");
		goto out;
	}
	t->dev = ftgt_scsi_dev_create(t->name);
	if (t->dev == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	ftgt_scsi_dev_set_lun_removed_cb(t->dev, iscsi_tgt_lun_hot_removed, t);
	for (i = 0; i < json_array_size(r.luns); i++) {
		json_t *l = json_array_get(r.luns, i);
		const char *bdev = json_string_value(json_object_get(l, "bdev_name"));
		json_t *id = json_object_get(l, "lun_id");
		json_int_t lun_id = id != NULL ? json_integer_value(id) : (json_int_t)i;

		if (bdev == NULL || (id != NULL && !json_is_integer(id)) || lun_id < 0) {
			ftgt_rpc_send_error(req, INVALID,
			                    "invalid parameter 'luns[%zu]': expected "
			                    "{\"bdev_name\": string, \"lun_id\": integer}",
			                    i);
			goto out;
		}
		rc = ftgt_scsi_dev_add_lun(t->dev, (uint32_t)FTGT_MIN(lun_id, 1 << 20), bdev);
		if (rc != 0) {
			ftgt_rpc_send_error(req, rc == -EINVAL ? INVALID : rc,
			                    "luns[%zu] (bdev %s, LUN %lld): %s", i, bdev,
			                    (long long)lun_id, lun_error(rc));
			goto out;
		}
	}
	pthread_mutex_lock(&g_iscsi.lock);
	TAILQ_INSERT_TAIL(&g_iscsi.tgts, t, link);
	pthread_mutex_unlock(&g_iscsi.lock);
	t = NULL;
	ftgt_rpc_send_bool(req, true);
out:
	if (t != NULL) {
		tgt_free(t);
	}
	ftgt_rpc_decode_free(rpc_tgt_fields, FTGT_COUNTOF(rpc_tgt_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_create_target_node", rpc_iscsi_create_target_node)

struct rpc_name {
	char *name;
};
static const struct ftgt_rpc_field rpc_name_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_name, name), false},
};

struct tgt_delete_ctx {
	struct ftgt_rpc_request *req;
	struct iscsi_tgt_node *tgt;
	struct ftgt_poller *poller;
	uint32_t tries;
};

static int
tgt_delete_poll(void *arg)
{
	struct tgt_delete_ctx *ctx = arg;
	uint32_t active;

	pthread_mutex_lock(&g_iscsi.lock);
	active = ctx->tgt->num_active_conns;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (active > 0 && ++ctx->tries < 1000) {
		return FTGT_POLLER_IDLE;
	}
	ftgt_poller_unregister(&ctx->poller);
	if (active > 0) {
		pthread_mutex_lock(&g_iscsi.lock);
		ctx->tgt->deleting = false;
		pthread_mutex_unlock(&g_iscsi.lock);
		ftgt_rpc_send_error(ctx->req, -EBUSY, "target node %s still has %u connections",
		                    ctx->tgt->name, active);
	} else {
		pthread_mutex_lock(&g_iscsi.lock);
		TAILQ_REMOVE(&g_iscsi.tgts, ctx->tgt, link);
		pthread_mutex_unlock(&g_iscsi.lock);
		tgt_free(ctx->tgt);
		ftgt_rpc_send_bool(ctx->req, true);
	}
	free(ctx);
	return FTGT_POLLER_BUSY;
}

static void
rpc_iscsi_delete_target_node(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_name r = {0};
	struct tgt_delete_ctx *ctx;
	char name[ISCSI_MAX_NAME + 1];
	struct iscsi_tgt_node *t;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_name_fields, 1, &r)) {
		return;
	}
	t = rpc_find_tgt(req, r.name, name, sizeof(name));
	if (t == NULL) {
		goto out;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	ctx->req = req;
	ctx->tgt = t;
	/* No new login finds it; drop every connection that holds it (logging in or in
	 * full feature phase), then wait (up to 10 s) for them to finish their I/O. */
	pthread_mutex_lock(&g_iscsi.lock);
	t->deleting = true;
	pthread_mutex_unlock(&g_iscsi.lock);
	iscsi_conns_drop_target(t->name);
	ctx->poller = ftgt_poller_register(tgt_delete_poll, ctx, 10000, "iscsi_tgt_delete");
	if (ctx->poller == NULL) {
		free(ctx);
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
	}
out:
	ftgt_rpc_decode_free(rpc_name_fields, 1, &r);
}
FTGT_RPC_REGISTER("iscsi_delete_target_node", rpc_iscsi_delete_target_node)

struct rpc_add_lun {
	char *name;
	char *bdev_name;
	int32_t lun_id;
};
static const struct ftgt_rpc_field rpc_add_lun_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_add_lun, name), false},
        {"bdev_name", FTGT_RPC_STRING, offsetof(struct rpc_add_lun, bdev_name), false},
        {"lun_id", FTGT_RPC_INT32, offsetof(struct rpc_add_lun, lun_id), true},
};

struct add_lun_ctx {
	struct ftgt_rpc_request *req;
	char name[ISCSI_MAX_NAME + 1];
};

static void
add_lun_done(void *arg)
{
	struct add_lun_ctx *ctx = arg;
	struct iscsi_tgt_node *t = iscsi_tgt_find(ctx->name);

	if (t != NULL) {
		ftgt_scsi_dev_luns_changed(t->dev);
	}
	ftgt_rpc_send_bool(ctx->req, true);
	free(ctx);
}

static void
rpc_iscsi_target_node_add_lun(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_add_lun r = {.lun_id = -1};
	char name[ISCSI_MAX_NAME + 1];
	struct add_lun_ctx *ctx;
	struct iscsi_tgt_node *t;
	int rc, id;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_add_lun_fields,
	                              FTGT_COUNTOF(rpc_add_lun_fields), &r)) {
		return;
	}
	t = rpc_find_tgt(req, r.name, name, sizeof(name));
	if (t == NULL) {
		goto out;
	}
	id = r.lun_id;
	if (id < 0) {
		for (id = 0; id < FTGT_SCSI_DEV_MAX_LUNS; id++) {
			if (ftgt_scsi_dev_get_lun(t->dev, (uint32_t)id) == NULL) {
				break;
			}
		}
	}
	rc = ftgt_scsi_dev_add_lun(t->dev, (uint32_t)id, r.bdev_name);
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? INVALID : rc, "bdev %s, LUN %d: %s",
		                    r.bdev_name, id, lun_error(rc));
		goto out;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	ctx->req = req;
	snprintf(ctx->name, sizeof(ctx->name), "%s", t->name);
	/* Live sessions take a channel for it on their threads, then the initiators
	 * learn of it (REPORTED LUNS DATA HAS CHANGED) and the RPC answers. */
	iscsi_sessions_lun_added(t->name, (uint32_t)id, add_lun_done, ctx);
out:
	ftgt_rpc_decode_free(rpc_add_lun_fields, FTGT_COUNTOF(rpc_add_lun_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_target_node_add_lun", rpc_iscsi_target_node_add_lun)

struct rpc_remove_lun {
	char *name;
	int32_t lun_id;
};
static const struct ftgt_rpc_field rpc_remove_lun_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_remove_lun, name), false},
        {"lun_id", FTGT_RPC_INT32, offsetof(struct rpc_remove_lun, lun_id), false},
};

struct remove_lun_ctx {
	struct ftgt_rpc_request *req;
	char name[ISCSI_MAX_NAME + 1];
	uint32_t lun_id;
};

static void
remove_lun_done(int rc, void *arg)
{
	struct remove_lun_ctx *ctx = arg;

	if (iscsi_tgt_find(ctx->name) == NULL) {
		ftgt_rpc_send_error(ctx->req, -ENOENT, "target node %s was deleted", ctx->name);
	} else if (rc == -ENOENT) {
		ftgt_rpc_send_error(ctx->req, rc, "LUN %u of %s: cannot remove", ctx->lun_id,
		                    ctx->name);
	} else if (rc != 0) {
		ftgt_rpc_send_error(ctx->req, rc,
		                    "LUN %u of %s: tasks did not drain in time; it stays "
		                    "refused to the sessions that had it",
		                    ctx->lun_id, ctx->name);
	} else {
		ftgt_rpc_send_bool(ctx->req, true);
	}
	free(ctx);
}

static void
rpc_iscsi_target_node_remove_lun(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_remove_lun r = {0};
	char name[ISCSI_MAX_NAME + 1];
	struct remove_lun_ctx *ctx;
	struct iscsi_tgt_node *t;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_remove_lun_fields,
	                              FTGT_COUNTOF(rpc_remove_lun_fields), &r)) {
		return;
	}
	t = rpc_find_tgt(req, r.name, name, sizeof(name));
	if (t == NULL) {
		goto out;
	}
	if (r.lun_id < 0 || r.lun_id >= FTGT_SCSI_DEV_MAX_LUNS ||
	    ftgt_scsi_dev_get_lun(t->dev, (uint32_t)r.lun_id) == NULL) {
		ftgt_rpc_send_error(req, -ENOENT, "target node %s has no LUN %d", name, r.lun_id);
		goto out;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	ctx->req = req;
	ctx->lun_id = (uint32_t)r.lun_id;
	snprintf(ctx->name, sizeof(ctx->name), "%s", t->name);
	rc = iscsi_tgt_remove_lun(t, ctx->lun_id, remove_lun_done, ctx);
	if (rc != 0) {
		free(ctx);
		ftgt_rpc_send_error(req, rc,
		                    rc == -EBUSY ? "LUN %d of %s is being removed"
		                                 : "LUN %d of %s: cannot remove",
		                    r.lun_id, name);
	}
out:
	ftgt_rpc_decode_free(rpc_remove_lun_fields, FTGT_COUNTOF(rpc_remove_lun_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_target_node_remove_lun", rpc_iscsi_target_node_remove_lun)

static void
rpc_iscsi_get_target_nodes(struct ftgt_rpc_request *req, const json_t *params)
{
	json_t *arr = json_array();
	struct iscsi_tgt_node *t;

	TAILQ_FOREACH (t, &g_iscsi.tgts, link) {
		json_array_append_new(arr, iscsi_tgt_json(t));
	}
	ftgt_rpc_send_result(req, arr);
}
FTGT_RPC_REGISTER("iscsi_get_target_nodes", rpc_iscsi_get_target_nodes)

/* ---- connections, sessions, stats (read on the owning threads by message) ----------------- */

static void
collect_reply(json_t *result, void *arg)
{
	struct ftgt_rpc_request *req = arg;

	if (result == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	ftgt_rpc_send_result(req, result);
}

struct rpc_opt_name {
	char *name;
};
static const struct ftgt_rpc_field rpc_opt_name_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_opt_name, name), true},
};

static void
rpc_collect(struct ftgt_rpc_request *req, const json_t *params, enum iscsi_collect_kind kind)
{
	struct rpc_opt_name r = {0};
	char name[ISCSI_MAX_NAME + 1];

	if (!ftgt_rpc_decode_or_error(req, params, rpc_opt_name_fields, 1, &r)) {
		return;
	}
	if (r.name != NULL) {
		if (rpc_find_tgt(req, r.name, name, sizeof(name)) == NULL) {
			ftgt_rpc_decode_free(rpc_opt_name_fields, 1, &r);
			return;
		}
	}
	iscsi_collect(kind, r.name != NULL ? name : NULL, collect_reply, req);
	ftgt_rpc_decode_free(rpc_opt_name_fields, 1, &r);
}

static void
rpc_iscsi_get_connections(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_collect(req, params, ISCSI_COLLECT_CONNECTIONS);
}
FTGT_RPC_REGISTER("iscsi_get_connections", rpc_iscsi_get_connections)

static void
rpc_iscsi_get_sessions(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_collect(req, params, ISCSI_COLLECT_SESSIONS);
}
FTGT_RPC_REGISTER("iscsi_get_sessions", rpc_iscsi_get_sessions)

static void
rpc_iscsi_get_stats(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_collect(req, params, ISCSI_COLLECT_STATS);
}
FTGT_RPC_REGISTER("iscsi_get_stats", rpc_iscsi_get_stats)

static void
rpc_iscsi_get_lun_stats(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_collect(req, params, ISCSI_COLLECT_LUN_STATS);
}
FTGT_RPC_REGISTER("iscsi_get_lun_stats", rpc_iscsi_get_lun_stats)

struct rpc_logout {
	char *name;
	int32_t pg_tag;
	uint32_t logout_timeout;
};
static const struct ftgt_rpc_field rpc_logout_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_logout, name), false},
        {"pg_tag", FTGT_RPC_INT32, offsetof(struct rpc_logout, pg_tag), true},
        {"logout_timeout", FTGT_RPC_UINT32, offsetof(struct rpc_logout, logout_timeout), true},
};

static void
rpc_iscsi_target_node_request_logout(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_logout r = {.pg_tag = 0, .logout_timeout = 30};
	char name[ISCSI_MAX_NAME + 1];

	if (!ftgt_rpc_decode_or_error(req, params, rpc_logout_fields,
	                              FTGT_COUNTOF(rpc_logout_fields), &r)) {
		return;
	}
	if (rpc_find_tgt(req, r.name, name, sizeof(name)) == NULL) {
		/* answered */
	} else if (r.pg_tag < 0 || r.pg_tag > 65535 ||
	           (r.pg_tag > 0 && iscsi_pg_find((uint16_t)r.pg_tag) == NULL)) {
		ftgt_rpc_send_error(req, INVALID, "invalid parameter 'pg_tag': no portal group %d",
		                    r.pg_tag);
	} else if (r.logout_timeout == 0 || r.logout_timeout > 3600) {
		ftgt_rpc_send_error(req, INVALID, "invalid parameter 'logout_timeout': 1..3600");
	} else {
		iscsi_conns_request_logout(name, (uint16_t)r.pg_tag, r.logout_timeout);
		ftgt_rpc_send_bool(req, true);
	}
	ftgt_rpc_decode_free(rpc_logout_fields, FTGT_COUNTOF(rpc_logout_fields), &r);
}
FTGT_RPC_REGISTER("iscsi_target_node_request_logout", rpc_iscsi_target_node_request_logout)

/* ---- subsystem (start, stop, save_config) -------------------------------------------- */

void iscsi_config_json(json_t *config);
void iscsi_destroy_all(void);

static json_t *
call(const char *method, json_t *params)
{
	return json_pack("{s:s, s:o}", "method", method, "params", params);
}

void
iscsi_config_json(json_t *config)
{
	struct iscsi_portal_grp *pg;
	struct iscsi_init_grp *ig;
	struct iscsi_auth_grp *ag;
	struct iscsi_tgt_node *t;

	json_array_append_new(config, call("iscsi_set_options", iscsi_opts_json(&g_iscsi.opts)));
	TAILQ_FOREACH (ag, &g_iscsi.ags, link) {
		json_array_append_new(config, call("iscsi_create_auth_group", iscsi_ag_json(ag)));
	}
	TAILQ_FOREACH (pg, &g_iscsi.pgs, link) {
		json_t *p = iscsi_pg_json(pg);

		json_object_del(p, "private");
		json_array_append_new(config, call("iscsi_create_portal_group", p));
	}
	TAILQ_FOREACH (ig, &g_iscsi.igs, link) {
		json_array_append_new(config,
		                      call("iscsi_create_initiator_group", iscsi_ig_json(ig)));
	}
	TAILQ_FOREACH (t, &g_iscsi.tgts, link) {
		json_array_append_new(config, call("iscsi_create_target_node", iscsi_tgt_json(t)));
	}
}

void
iscsi_destroy_all(void)
{
	struct iscsi_portal_grp *pg;
	struct iscsi_init_grp *ig;
	struct iscsi_auth_grp *ag;
	struct iscsi_tgt_node *t;

	pthread_mutex_lock(&g_iscsi.lock);
	while ((t = TAILQ_FIRST(&g_iscsi.tgts)) != NULL) {
		TAILQ_REMOVE(&g_iscsi.tgts, t, link);
		tgt_free(t);
	}
	while ((pg = TAILQ_FIRST(&g_iscsi.pgs)) != NULL) {
		TAILQ_REMOVE(&g_iscsi.pgs, pg, link);
		iscsi_pg_close(pg);
		free(pg);
	}
	while ((ig = TAILQ_FIRST(&g_iscsi.igs)) != NULL) {
		TAILQ_REMOVE(&g_iscsi.igs, ig, link);
		ig_free(ig);
	}
	while ((ag = TAILQ_FIRST(&g_iscsi.ags)) != NULL) {
		TAILQ_REMOVE(&g_iscsi.ags, ag, link);
		free(ag);
	}
	pthread_mutex_unlock(&g_iscsi.lock);
}
