/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe-oF RPC methods (SPDK names and parameters) and the "nvmf" subsystem: start, stop
 * and save_config. App thread.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/env.h"
#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/rpc.h"
#include "nvmf_internal.h"

static struct ftgt_nvmf_subsystem *
rpc_find_subsys(struct ftgt_rpc_request *req, const char *nqn)
{
	struct ftgt_nvmf_subsystem *s = nqn ? ftgt_nvmf_subsystem_get_by_nqn(nqn) : NULL;

	if (s == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "subsystem '%s' does not exist", nqn ? nqn : "");
	}
	return s;
}

static json_t *
method_call(const char *method, json_t *params)
{
	json_t *o = json_object();

	json_object_set_new(o, "method", json_string(method));
	json_object_set_new(o, "params", params);
	return o;
}

/* ---- transports ---------------------------------------------------------------------- */

struct rpc_transport {
	char *trtype;
	uint32_t max_queue_depth;
	uint32_t max_io_qpairs_per_ctrlr;
	uint32_t in_capsule_data_size;
	uint32_t max_io_size;
	uint32_t io_unit_size;
	uint32_t max_aq_depth;
	uint32_t num_shared_buffers;
	bool c2h_success;
	uint32_t sock_priority;
};

static const struct ftgt_rpc_field g_transport_fields[] = {
        {"trtype", FTGT_RPC_STRING, offsetof(struct rpc_transport, trtype), false},
        {"max_queue_depth", FTGT_RPC_UINT32, offsetof(struct rpc_transport, max_queue_depth), true},
        {"max_io_qpairs_per_ctrlr", FTGT_RPC_UINT32,
         offsetof(struct rpc_transport, max_io_qpairs_per_ctrlr), true},
        {"in_capsule_data_size", FTGT_RPC_UINT32,
         offsetof(struct rpc_transport, in_capsule_data_size), true},
        {"max_io_size", FTGT_RPC_UINT32, offsetof(struct rpc_transport, max_io_size), true},
        {"io_unit_size", FTGT_RPC_UINT32, offsetof(struct rpc_transport, io_unit_size), true},
        {"max_aq_depth", FTGT_RPC_UINT32, offsetof(struct rpc_transport, max_aq_depth), true},
        {"num_shared_buffers", FTGT_RPC_UINT32, offsetof(struct rpc_transport, num_shared_buffers),
         true},
        {"c2h_success", FTGT_RPC_BOOL, offsetof(struct rpc_transport, c2h_success), true},
        {"sock_priority", FTGT_RPC_UINT32, offsetof(struct rpc_transport, sock_priority), true},
};

static void
rpc_nvmf_create_transport(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_transport p = {0};
	struct ftgt_nvmf_transport_opts o;
	const struct nvmf_transport_ops *ops;
	int rc;

	/* Defaults first: fields absent from params keep them. */
	if (!ftgt_rpc_decode_or_error(req, params, g_transport_fields,
	                              FTGT_COUNTOF(g_transport_fields), &p)) {
		return;
	}
	ops = ftgt_nvmf_transport_ops_get(p.trtype);
	if (ops == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'trtype': transport '%s' is not supported",
		                    p.trtype);
		goto out;
	}
	ops->opts_init(&o);
	if (json_object_get(params, "max_queue_depth")) {
		o.max_queue_depth = (uint16_t)FTGT_MIN(p.max_queue_depth, 65535u);
	}
	if (json_object_get(params, "max_io_qpairs_per_ctrlr")) {
		o.max_qpairs_per_ctrlr = (uint16_t)FTGT_MIN(p.max_io_qpairs_per_ctrlr + 1, 65535u);
	}
	if (json_object_get(params, "in_capsule_data_size")) {
		o.in_capsule_data_size = p.in_capsule_data_size;
	}
	if (json_object_get(params, "max_io_size")) {
		o.max_io_size = p.max_io_size;
	}
	if (json_object_get(params, "io_unit_size")) {
		o.io_unit_size = p.io_unit_size;
	}
	if (json_object_get(params, "max_aq_depth")) {
		o.max_aq_depth = (uint16_t)FTGT_MIN(p.max_aq_depth, 65535u);
	}
	if (json_object_get(params, "num_shared_buffers")) {
		o.num_shared_buffers = p.num_shared_buffers;
	}
	if (json_object_get(params, "c2h_success")) {
		o.c2h_success = p.c2h_success;
	}
	if (json_object_get(params, "sock_priority")) {
		o.sock_priority = p.sock_priority;
	}
	rc = ftgt_nvmf_transport_create(p.trtype, &o, NULL);
	if (rc == -EEXIST) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "transport '%s' already exists", p.trtype);
	} else if (rc != 0) {
		ftgt_rpc_send_error(
		        req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		        "transport '%s': invalid options (max_io_size >= 4096 and a "
		        "multiple of 4, in_capsule_data_size <= max_io_size, depths >= 2)",
		        p.trtype);
	} else {
		ftgt_rpc_send_bool(req, true);
	}
out:
	ftgt_rpc_decode_free(g_transport_fields, FTGT_COUNTOF(g_transport_fields), &p);
}
FTGT_RPC_REGISTER("nvmf_create_transport", rpc_nvmf_create_transport)

static json_t *
transport_json(struct ftgt_nvmf_transport *t)
{
	json_t *o = json_object();

	json_object_set_new(o, "trtype", json_string(t->ops->name));
	json_object_set_new(o, "max_queue_depth", json_integer(t->opts.max_queue_depth));
	json_object_set_new(o, "max_io_qpairs_per_ctrlr",
	                    json_integer(t->opts.max_qpairs_per_ctrlr - 1));
	json_object_set_new(o, "in_capsule_data_size", json_integer(t->opts.in_capsule_data_size));
	json_object_set_new(o, "max_io_size", json_integer(t->opts.max_io_size));
	json_object_set_new(o, "io_unit_size", json_integer(t->opts.io_unit_size));
	json_object_set_new(o, "max_aq_depth", json_integer(t->opts.max_aq_depth));
	json_object_set_new(o, "num_shared_buffers", json_integer(t->opts.num_shared_buffers));
	json_object_set_new(o, "c2h_success", json_boolean(t->opts.c2h_success));
	json_object_set_new(o, "sock_priority", json_integer(t->opts.sock_priority));
	return o;
}

static void
rpc_nvmf_get_transports(struct ftgt_rpc_request *req, const json_t *params)
{
	json_t *arr = json_array();
	struct ftgt_nvmf_transport *t;
	const char *want = json_string_value(json_object_get(params, "trtype"));

	for (t = ftgt_nvmf_transport_first(); t != NULL; t = ftgt_nvmf_transport_next(t)) {
		if (want == NULL || strcasecmp(want, t->ops->name) == 0) {
			json_array_append_new(arr, transport_json(t));
		}
	}
	ftgt_rpc_send_result(req, arr);
}
FTGT_RPC_REGISTER("nvmf_get_transports", rpc_nvmf_get_transports)

/* ---- subsystems ---------------------------------------------------------------------- */

struct rpc_subsys {
	char *nqn;
	char *serial_number;
	char *model_number;
	bool allow_any_host;
	bool allow_duplicate_host_connections;
	uint32_t max_namespaces;
	uint16_t cntlid;
	char *host;
	uint32_t nsid;
	json_t *namespace;
	json_t *listen_address;
};

static const struct ftgt_rpc_field g_create_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"serial_number", FTGT_RPC_STRING, offsetof(struct rpc_subsys, serial_number), true},
        {"model_number", FTGT_RPC_STRING, offsetof(struct rpc_subsys, model_number), true},
        {"allow_any_host", FTGT_RPC_BOOL, offsetof(struct rpc_subsys, allow_any_host), true},
        {"max_namespaces", FTGT_RPC_UINT32, offsetof(struct rpc_subsys, max_namespaces), true},
        {"allow_duplicate_host_connections", FTGT_RPC_BOOL,
         offsetof(struct rpc_subsys, allow_duplicate_host_connections), true},
};

static void
rpc_nvmf_create_subsystem(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {.allow_duplicate_host_connections = true};
	struct ftgt_nvmf_subsystem *s;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, g_create_fields, FTGT_COUNTOF(g_create_fields),
	                              &p)) {
		return;
	}
	if (p.max_namespaces > FTGT_NVMF_MAX_NAMESPACES) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'max_namespaces': at most %u",
		                    FTGT_NVMF_MAX_NAMESPACES);
		goto out;
	}
	s = ftgt_nvmf_subsystem_create(p.nqn, FTGT_NVMF_SUBTYPE_NVME, p.max_namespaces, &rc);
	if (s == NULL) {
		char err[160] = "";

		if (rc == -EEXIST) {
			ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
			                    "subsystem '%s' already exists", p.nqn);
		} else {
			ftgt_nqn_is_valid(p.nqn, err, sizeof(err));
			ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
			                    "invalid parameter 'nqn': %s",
			                    err[0] ? err : "not allowed");
		}
		goto out;
	}
	if ((p.serial_number && ftgt_nvmf_subsystem_set_sn(s, p.serial_number) != 0) ||
	    (p.model_number && ftgt_nvmf_subsystem_set_mn(s, p.model_number) != 0)) {
		bool sn_bad =
		        p.serial_number && ftgt_nvmf_subsystem_set_sn(s, p.serial_number) != 0;

		ftgt_nvmf_subsystem_destroy(s, NULL, NULL);
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter '%s': printable ASCII of 1..%u bytes",
		                    sn_bad ? "serial_number" : "model_number", sn_bad ? 20 : 40);
		goto out;
	}
	ftgt_nvmf_subsystem_set_allow_any_host(s, p.allow_any_host);
	ftgt_nvmf_subsystem_set_allow_duplicate_host(s, p.allow_duplicate_host_connections);
	ftgt_rpc_send_bool(req, true);
out:
	ftgt_rpc_decode_free(g_create_fields, FTGT_COUNTOF(g_create_fields), &p);
}
FTGT_RPC_REGISTER("nvmf_create_subsystem", rpc_nvmf_create_subsystem)

static const struct ftgt_rpc_field g_nqn_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
};

static void
delete_done(void *arg)
{
	ftgt_rpc_send_bool(arg, true);
}

static void
rpc_nvmf_delete_subsystem(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, g_nqn_fields, 1, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		rc = ftgt_nvmf_subsystem_destroy(s, delete_done, req);
		if (rc != 0) {
			ftgt_rpc_send_error(req, rc, "subsystem '%s' cannot be deleted", p.nqn);
		}
	}
	ftgt_rpc_decode_free(g_nqn_fields, 1, &p);
}
FTGT_RPC_REGISTER("nvmf_delete_subsystem", rpc_nvmf_delete_subsystem)

/* ---- listeners ----------------------------------------------------------------------- */

struct rpc_addr {
	char *trtype;
	char *adrfam;
	char *traddr;
	char *trsvcid;
};
static const struct ftgt_rpc_field g_addr_fields[] = {
        {"trtype", FTGT_RPC_STRING, offsetof(struct rpc_addr, trtype), false},
        {"adrfam", FTGT_RPC_STRING, offsetof(struct rpc_addr, adrfam), true},
        {"traddr", FTGT_RPC_STRING, offsetof(struct rpc_addr, traddr), false},
        {"trsvcid", FTGT_RPC_STRING, offsetof(struct rpc_addr, trsvcid), false},
};
static const struct ftgt_rpc_field g_listener_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"listen_address", FTGT_RPC_JSON, offsetof(struct rpc_subsys, listen_address), false},
};

static bool
decode_listen_addr(struct ftgt_rpc_request *req, const json_t *j, struct ftgt_nvmf_listen_addr *a)
{
	struct rpc_addr p = {0};
	char err[200];
	bool ok = false;

	if (ftgt_rpc_decode(j, g_addr_fields, FTGT_COUNTOF(g_addr_fields), &p, err, sizeof(err)) !=
	    0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS, "listen_address: %s",
		                    err);
		return false;
	}
	memset(a, 0, sizeof(*a));
	if (ftgt_nvmf_trtype_from_str(p.trtype) == 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'trtype': '%s'", p.trtype);
		goto out;
	}
	a->adrfam = p.adrfam ? ftgt_nvmf_adrfam_from_str(p.adrfam)
	                     : (strchr(p.traddr, ':') ? NVMF_ADRFAM_IPV6 : NVMF_ADRFAM_IPV4);
	if (a->adrfam != NVMF_ADRFAM_IPV4 && a->adrfam != NVMF_ADRFAM_IPV6) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'adrfam': '%s' (IPv4 or IPv6)", p.adrfam);
		goto out;
	}
	if (strlen(p.traddr) > FTGT_NVMF_TRADDR_MAX_LEN ||
	    strlen(p.trsvcid) > FTGT_NVMF_TRSVCID_MAX_LEN) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'traddr' or 'trsvcid': too long");
		goto out;
	}
	ftgt_strlcpy(a->trtype, p.trtype, sizeof(a->trtype));
	for (char *c = a->trtype; *c; c++) {
		*c = (char)toupper((unsigned char)*c);
	}
	ftgt_strlcpy(a->traddr, p.traddr, sizeof(a->traddr));
	ftgt_strlcpy(a->trsvcid, p.trsvcid, sizeof(a->trsvcid));
	ok = true;
out:
	ftgt_rpc_decode_free(g_addr_fields, FTGT_COUNTOF(g_addr_fields), &p);
	return ok;
}

static void
rpc_listener(struct ftgt_rpc_request *req, const json_t *params, bool add)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;
	struct ftgt_nvmf_listen_addr a;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, g_listener_fields, 2, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s == NULL || !decode_listen_addr(req, p.listen_address, &a)) {
		goto out;
	}
	rc = add ? ftgt_nvmf_subsystem_add_listener(s, &a)
	         : ftgt_nvmf_subsystem_remove_listener(s, &a);
	switch (rc) {
	case 0:
		ftgt_rpc_send_bool(req, true);
		break;
	case -ENOENT:
		ftgt_rpc_send_error(req, rc,
		                    add ? "transport '%s' does not exist (nvmf_create_transport)"
		                        : "listener %s not found",
		                    add ? a.trtype : a.traddr);
		break;
	case -EEXIST:
		ftgt_rpc_send_error(req, rc, "listener %s:%s already exists", a.traddr, a.trsvcid);
		break;
	case -EADDRNOTAVAIL:
		ftgt_rpc_send_error(req, rc, "address %s is not local to this host", a.traddr);
		break;
	case -EINVAL:
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'traddr' or 'trsvcid': '%s' port '%s' "
		                    "(numeric address and port 1..65535)",
		                    a.traddr, a.trsvcid);
		break;
	default:
		ftgt_rpc_send_error(req, rc, "cannot listen on %s port %s: %s", a.traddr, a.trsvcid,
		                    strerror(-rc));
		break;
	}
out:
	ftgt_rpc_decode_free(g_listener_fields, 2, &p);
}

static void
rpc_nvmf_subsystem_add_listener(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_listener(req, params, true);
}
FTGT_RPC_REGISTER("nvmf_subsystem_add_listener", rpc_nvmf_subsystem_add_listener)

static void
rpc_nvmf_subsystem_remove_listener(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_listener(req, params, false);
}
FTGT_RPC_REGISTER("nvmf_subsystem_remove_listener", rpc_nvmf_subsystem_remove_listener)

/* ---- hosts --------------------------------------------------------------------------- */

static const struct ftgt_rpc_field g_host_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"host", FTGT_RPC_STRING, offsetof(struct rpc_subsys, host), false},
};

static void
rpc_host(struct ftgt_rpc_request *req, const json_t *params, bool add)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, g_host_fields, 2, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		rc = add ? ftgt_nvmf_subsystem_add_host(s, p.host)
		         : ftgt_nvmf_subsystem_remove_host(s, p.host);
		if (rc == 0) {
			ftgt_rpc_send_bool(req, true);
		} else if (rc == -EINVAL) {
			ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
			                    "invalid parameter 'host': not a valid NQN");
		} else {
			ftgt_rpc_send_error(req, rc, "host '%s' %s", p.host,
			                    rc == -EEXIST ? "already allowed" : "not found");
		}
	}
	ftgt_rpc_decode_free(g_host_fields, 2, &p);
}

static void
rpc_nvmf_subsystem_add_host(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_host(req, params, true);
}
FTGT_RPC_REGISTER("nvmf_subsystem_add_host", rpc_nvmf_subsystem_add_host)

static void
rpc_nvmf_subsystem_remove_host(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_host(req, params, false);
}
FTGT_RPC_REGISTER("nvmf_subsystem_remove_host", rpc_nvmf_subsystem_remove_host)

static const struct ftgt_rpc_field g_any_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"allow_any_host", FTGT_RPC_BOOL, offsetof(struct rpc_subsys, allow_any_host), false},
};

static void
rpc_nvmf_subsystem_allow_any_host(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;

	if (!ftgt_rpc_decode_or_error(req, params, g_any_fields, 2, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		ftgt_nvmf_subsystem_set_allow_any_host(s, p.allow_any_host);
		ftgt_rpc_send_bool(req, true);
	}
	ftgt_rpc_decode_free(g_any_fields, 2, &p);
}
FTGT_RPC_REGISTER("nvmf_subsystem_allow_any_host", rpc_nvmf_subsystem_allow_any_host)

static const struct ftgt_rpc_field g_disc_host_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"host", FTGT_RPC_STRING, offsetof(struct rpc_subsys, host), true},
};

/* Target-initiated disconnect of one host's controllers (or all of the subsystem's). */
static void
rpc_nvmf_subsystem_disconnect_host(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;

	if (!ftgt_rpc_decode_or_error(req, params, g_disc_host_fields, 2, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		int n = ftgt_nvmf_subsystem_disconnect_host(s, p.host);

		ftgt_rpc_send_result(req, json_integer(n));
	}
	ftgt_rpc_decode_free(g_disc_host_fields, 2, &p);
}
FTGT_RPC_REGISTER("nvmf_subsystem_disconnect_host", rpc_nvmf_subsystem_disconnect_host)

static const struct ftgt_rpc_field g_ctrlr_disc_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"cntlid", FTGT_RPC_UINT16, offsetof(struct rpc_subsys, cntlid), false},
};

static void
rpc_nvmf_ctrlr_disconnect(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;

	if (!ftgt_rpc_decode_or_error(req, params, g_ctrlr_disc_fields, 2, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		if (ftgt_nvmf_subsystem_disconnect_ctrlr(s, p.cntlid) == 0) {
			ftgt_rpc_send_bool(req, true);
		} else {
			ftgt_rpc_send_error(req, -ENODEV, "controller %u of '%s' not found",
			                    p.cntlid, p.nqn);
		}
	}
	ftgt_rpc_decode_free(g_ctrlr_disc_fields, 2, &p);
}
FTGT_RPC_REGISTER("nvmf_ctrlr_disconnect", rpc_nvmf_ctrlr_disconnect)

/* ---- namespaces ---------------------------------------------------------------------- */

struct rpc_ns {
	char *bdev_name;
	uint32_t nsid;
	char *nguid;
	char *eui64;
	char *uuid;
};
static const struct ftgt_rpc_field g_ns_fields[] = {
        {"bdev_name", FTGT_RPC_STRING, offsetof(struct rpc_ns, bdev_name), false},
        {"nsid", FTGT_RPC_UINT32, offsetof(struct rpc_ns, nsid), true},
        {"nguid", FTGT_RPC_STRING, offsetof(struct rpc_ns, nguid), true},
        {"eui64", FTGT_RPC_STRING, offsetof(struct rpc_ns, eui64), true},
        {"uuid", FTGT_RPC_STRING, offsetof(struct rpc_ns, uuid), true},
};
static const struct ftgt_rpc_field g_add_ns_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"namespace", FTGT_RPC_JSON, offsetof(struct rpc_subsys, namespace), false},
};

/* Hex digits (dashes ignored) into n bytes; 0 or -EINVAL. */
static int
parse_hex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == '-') {
			continue;
		}
		if (*s >= '0' && *s <= '9') {
			v = *s - '0';
		} else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f') {
			v = (*s | 0x20) - 'a' + 10;
		} else {
			return -EINVAL;
		}
		if (hi < 0) {
			hi = v;
		} else {
			if (got == n) {
				return -EINVAL;
			}
			out[got++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return got == n && hi < 0 ? 0 : -EINVAL;
}

static void
rpc_nvmf_subsystem_add_ns(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct rpc_ns n = {0};
	struct ftgt_nvmf_ns_opts o = {0};
	struct ftgt_nvmf_subsystem *s;
	char err[200];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, g_add_ns_fields, 2, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s == NULL) {
		goto out;
	}
	if (ftgt_rpc_decode(p.namespace, g_ns_fields, FTGT_COUNTOF(g_ns_fields), &n, err,
	                    sizeof(err)) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS, "namespace: %s", err);
		goto out;
	}
	o.nsid = n.nsid;
	if ((n.nguid && parse_hex(n.nguid, o.nguid, 16) != 0) ||
	    (n.eui64 && parse_hex(n.eui64, o.eui64, 8) != 0) ||
	    (n.uuid && ftgt_uuid_parse(&o.uuid, n.uuid) != 0)) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'nguid', 'eui64' or 'uuid': expected 32, 16 "
		                    "hex digits or a UUID");
		goto out;
	}
	rc = ftgt_nvmf_subsystem_add_ns(s, n.bdev_name, &o);
	if (rc > 0) {
		ftgt_rpc_send_result(req, json_integer(rc));
	} else if (rc == -ENODEV) {
		ftgt_rpc_send_error(req, rc, "bdev '%s' does not exist", n.bdev_name);
	} else if (rc == -EEXIST) {
		ftgt_rpc_send_error(req, rc, "NSID %u or bdev '%s' already in use", n.nsid,
		                    n.bdev_name);
	} else if (rc == -EPERM) {
		ftgt_rpc_send_error(req, rc, "bdev '%s' is claimed by another user", n.bdev_name);
	} else if (rc == -EINVAL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'nsid': %u (1..%u)", n.nsid,
		                    ftgt_nvmf_subsystem_get_max_nsid(s));
	} else {
		ftgt_rpc_send_error(req, rc, "cannot add namespace: %s", strerror(-rc));
	}
out:
	ftgt_rpc_decode_free(g_ns_fields, FTGT_COUNTOF(g_ns_fields), &n);
	ftgt_rpc_decode_free(g_add_ns_fields, 2, &p);
}
FTGT_RPC_REGISTER("nvmf_subsystem_add_ns", rpc_nvmf_subsystem_add_ns)

static const struct ftgt_rpc_field g_rm_ns_fields[] = {
        {"nqn", FTGT_RPC_STRING, offsetof(struct rpc_subsys, nqn), false},
        {"nsid", FTGT_RPC_UINT32, offsetof(struct rpc_subsys, nsid), false},
};

static void
rpc_remove_ns_done(void *cb_arg, int rc)
{
	struct ftgt_rpc_request *req = cb_arg;

	if (rc == 0) {
		ftgt_rpc_send_bool(req, true);
	} else {
		ftgt_rpc_send_error(req, rc, "namespace removal failed");
	}
}

/* Answers once the namespace is gone from every queue and its bdev is closed. */
static void
rpc_nvmf_subsystem_remove_ns(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, g_rm_ns_fields, 2, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		rc = ftgt_nvmf_subsystem_remove_ns_async(s, p.nsid, rpc_remove_ns_done, req);
		if (rc == -ENOENT) {
			ftgt_rpc_send_error(req, rc, "namespace %u not found", p.nsid);
		} else if (rc != 0) {
			ftgt_rpc_send_error(req, rc, "cannot remove namespace %u", p.nsid);
		}
	}
	ftgt_rpc_decode_free(g_rm_ns_fields, 2, &p);
}
FTGT_RPC_REGISTER("nvmf_subsystem_remove_ns", rpc_nvmf_subsystem_remove_ns)

/* ---- queries ------------------------------------------------------------------------- */

static json_t *
addr_json(const struct ftgt_nvmf_listen_addr *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "trtype", json_string(a->trtype));
	json_object_set_new(o, "adrfam", json_string(ftgt_nvmf_adrfam_to_str(a->adrfam)));
	json_object_set_new(o, "traddr", json_string(a->traddr));
	json_object_set_new(o, "trsvcid", json_string(a->trsvcid));
	return o;
}

static int
listener_to_json(const struct ftgt_nvmf_listen_addr *a, void *ctx)
{
	json_array_append_new(ctx, addr_json(a));
	return 0;
}

static int
host_to_json(const char *nqn, void *ctx)
{
	json_t *o = json_object();

	json_object_set_new(o, "nqn", json_string(nqn));
	json_array_append_new(ctx, o);
	return 0;
}

static void
hex_fmt(char *buf, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		sprintf(buf + 2 * i, "%02X", b[i]);
	}
}

static void
counts_to_json(json_t *o, const struct ftgt_nvmf_conn_counts *c)
{
	json_object_set_new(o, "num_controllers", json_integer(c->num_ctrlrs));
	json_object_set_new(o, "num_qpairs", json_integer(c->num_qpairs));
}

/* [{hostnqn, num_controllers, num_qpairs}] of the hosts with controllers now. */
static json_t *
connected_hosts_json(struct ftgt_nvmf_subsystem *s)
{
	json_t *arr = json_array();
	struct nvmf_ctrlr *c, *prev;

	TAILQ_FOREACH (c, &s->ctrlrs, subsys_link) {
		struct ftgt_nvmf_conn_counts counts;
		json_t *o;

		/* Once per host NQN: skip it if an earlier controller had it. */
		for (prev = TAILQ_FIRST(&s->ctrlrs); prev != c;
		     prev = TAILQ_NEXT(prev, subsys_link)) {
			if (strcmp(prev->hostnqn, c->hostnqn) == 0) {
				break;
			}
		}
		if (prev != c) {
			continue;
		}
		ftgt_nvmf_subsystem_get_counts(s, c->hostnqn, NULL, &counts);
		o = json_object();
		json_object_set_new(o, "hostnqn", json_string(c->hostnqn));
		counts_to_json(o, &counts);
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *
subsystem_json(struct ftgt_nvmf_subsystem *s)
{
	json_t *o = json_object(), *l = json_array(), *h = json_array(), *ns;
	struct ftgt_nvmf_conn_counts counts;
	uint32_t i;

	json_object_set_new(o, "nqn", json_string(s->nqn));
	json_object_set_new(
	        o, "subtype",
	        json_string(s->type == FTGT_NVMF_SUBTYPE_DISCOVERY ? "Discovery" : "NVMe"));
	ftgt_nvmf_subsystem_for_each_listener(s, listener_to_json, l);
	json_object_set_new(o, "listen_addresses", l);
	json_object_set_new(o, "allow_any_host", json_boolean(s->allow_any_host));
	ftgt_nvmf_subsystem_for_each_host(s, host_to_json, h);
	json_object_set_new(o, "hosts", h);
	ftgt_nvmf_subsystem_get_counts(s, NULL, NULL, &counts);
	counts_to_json(o, &counts);
	json_object_set_new(o, "connected_hosts", connected_hosts_json(s));
	if (s->type == FTGT_NVMF_SUBTYPE_NVME) {
		json_object_set_new(o, "allow_duplicate_host_connections",
		                    json_boolean(s->allow_duplicate_host));
		json_object_set_new(o, "serial_number", json_string(s->sn));
		json_object_set_new(o, "model_number", json_string(s->mn));
		json_object_set_new(o, "max_namespaces", json_integer(s->max_nsid));
		ns = json_array();
		for (i = 0; i < s->max_nsid; i++) {
			struct nvmf_ns *n = s->ns[i];
			json_t *e;
			char buf[40];

			if (n == NULL) {
				continue;
			}
			e = json_object();
			json_object_set_new(e, "nsid", json_integer(n->nsid));
			json_object_set_new(e, "bdev_name", json_string(n->bdev_name));
			json_object_set_new(e, "name", json_string(n->bdev_name));
			ftgt_uuid_fmt(buf, sizeof(buf), &n->opts.uuid);
			json_object_set_new(e, "uuid", json_string(buf));
			hex_fmt(buf, n->opts.nguid, 16);
			json_object_set_new(e, "nguid", json_string(buf));
			hex_fmt(buf, n->opts.eui64, 8);
			json_object_set_new(e, "eui64", json_string(buf));
			json_array_append_new(ns, e);
		}
		json_object_set_new(o, "namespaces", ns);
	}
	return o;
}

static void
rpc_nvmf_get_subsystems(struct ftgt_rpc_request *req, const json_t *params)
{
	const char *nqn = json_string_value(json_object_get(params, "nqn"));
	struct ftgt_nvmf_subsystem *s;
	json_t *arr = json_array();

	for (s = ftgt_nvmf_subsystem_first(); s != NULL; s = ftgt_nvmf_subsystem_next(s)) {
		if (nqn == NULL || strcmp(nqn, s->nqn) == 0) {
			json_array_append_new(arr, subsystem_json(s));
		}
	}
	if (nqn != NULL && json_array_size(arr) == 0) {
		json_decref(arr);
		ftgt_rpc_send_error(req, -ENODEV, "subsystem '%s' does not exist", nqn);
		return;
	}
	ftgt_rpc_send_result(req, arr);
}
FTGT_RPC_REGISTER("nvmf_get_subsystems", rpc_nvmf_get_subsystems)

static void
rpc_nvmf_subsystem_get_controllers(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;
	struct nvmf_ctrlr *c;
	json_t *arr;

	if (!ftgt_rpc_decode_or_error(req, params, g_nqn_fields, 1, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		arr = json_array();
		/* Fields fixed at creation only: they may be read on the app thread. */
		TAILQ_FOREACH (c, &s->ctrlrs, subsys_link) {
			json_t *o = json_object();
			struct ftgt_uuid hid;
			char buf[FTGT_UUID_STRING_LEN];

			memcpy(hid.u, c->hostid, sizeof(hid.u));
			ftgt_uuid_fmt(buf, sizeof(buf), &hid);
			json_object_set_new(o, "cntlid", json_integer(c->cntlid));
			json_object_set_new(o, "hostnqn", json_string(c->hostnqn));
			json_object_set_new(o, "hostid", json_string(buf));
			json_object_set_new(o, "listen_address", addr_json(&c->listen_addr));
			json_object_set_new(
			        o, "num_qpairs",
			        json_integer(__atomic_load_n(&c->num_qpairs, __ATOMIC_RELAXED)));
			json_array_append_new(arr, o);
		}
		ftgt_rpc_send_result(req, arr);
	}
	ftgt_rpc_decode_free(g_nqn_fields, 1, &p);
}
FTGT_RPC_REGISTER("nvmf_subsystem_get_controllers", rpc_nvmf_subsystem_get_controllers)

static void
rpc_nvmf_subsystem_get_listeners(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;

	if (!ftgt_rpc_decode_or_error(req, params, g_nqn_fields, 1, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	if (s != NULL) {
		json_t *arr = json_array();
		struct nvmf_listener *l;

		TAILQ_FOREACH (l, &s->listeners, link) {
			json_t *o = json_object();

			struct ftgt_nvmf_conn_counts counts;

			json_object_set_new(o, "address", addr_json(&l->addr));
			ftgt_nvmf_subsystem_get_counts(s, NULL, &l->addr, &counts);
			counts_to_json(o, &counts);
			json_array_append_new(arr, o);
		}
		ftgt_rpc_send_result(req, arr);
	}
	ftgt_rpc_decode_free(g_nqn_fields, 1, &p);
}
FTGT_RPC_REGISTER("nvmf_subsystem_get_listeners", rpc_nvmf_subsystem_get_listeners)

/* nvmf_subsystem_get_qpairs: each controller's thread lists its queue pairs. */
struct rpc_qpairs_ctx;

struct rpc_qpairs_slot {
	struct rpc_qpairs_ctx *ctx;
	struct nvmf_ctrlr *ctrlr;
	json_t *arr;
};

struct rpc_qpairs_ctx {
	struct ftgt_rpc_request *req;
	uint32_t left; /* slots not collected yet (atomic) */
	uint32_t num_slots;
	struct rpc_qpairs_slot slots[];
};

static const char *
qpair_state_str(enum ftgt_nvmf_qpair_state state)
{
	switch (state) {
	case FTGT_NVMF_QPAIR_UNINITIALIZED:
		return "uninitialized";
	case FTGT_NVMF_QPAIR_CONNECTING:
		return "connecting";
	case FTGT_NVMF_QPAIR_ENABLED:
		return "active";
	case FTGT_NVMF_QPAIR_DEACTIVATING:
		return "deactivating";
	default:
		return "error";
	}
}

static json_t *
qpair_json(struct nvmf_ctrlr *c, struct ftgt_nvmf_qpair *q)
{
	json_t *o = json_object();
	/* The state belongs to the qpair's thread: a snapshot. */
	enum ftgt_nvmf_qpair_state state = __atomic_load_n(&q->state, __ATOMIC_RELAXED);

	json_object_set_new(o, "cntlid", json_integer(c->cntlid));
	json_object_set_new(o, "qid", json_integer(q->qid));
	json_object_set_new(o, "state", json_string(qpair_state_str(state)));
	json_object_set_new(o, "hostnqn", json_string(c->hostnqn));
	json_object_set_new(o, "thread", json_string(ftgt_thread_get_name(q->thread)));
	json_object_set_new(o, "listen_address", addr_json(&q->listen_addr));
	json_object_set_new(o, "peer_address", addr_json(&q->peer_addr));
	return o;
}

static void
rpc_qpairs_done(void *arg)
{
	struct rpc_qpairs_ctx *ctx = arg;
	json_t *arr = json_array();
	uint32_t i;

	for (i = 0; i < ctx->num_slots; i++) {
		json_array_extend(arr, ctx->slots[i].arr);
		json_decref(ctx->slots[i].arr);
	}
	ftgt_rpc_send_result(ctx->req, arr);
	free(ctx);
}

static void
rpc_qpairs_slot_done(struct rpc_qpairs_ctx *ctx)
{
	if (__atomic_sub_fetch(&ctx->left, 1, __ATOMIC_ACQ_REL) != 0) {
		return;
	}
	if (ftgt_thread_send_msg(g_nvmf_tgt.thread, rpc_qpairs_done, ctx) != 0) {
		FTGT_ERRLOG("nvmf: nvmf_subsystem_get_qpairs: message ring full\n");
	}
}

/* On the controller's thread, which owns its queue list. */
static void
rpc_qpairs_collect(void *arg)
{
	struct rpc_qpairs_slot *slot = arg;
	struct nvmf_ctrlr *c = slot->ctrlr;
	struct ftgt_nvmf_qpair *q;

	if (c->admin_qpair != NULL) {
		json_array_append_new(slot->arr, qpair_json(c, c->admin_qpair));
	}
	TAILQ_FOREACH (q, &c->io_qpairs, ctrlr_link) {
		json_array_append_new(slot->arr, qpair_json(c, q));
	}
	rpc_qpairs_slot_done(slot->ctx);
}

static void
rpc_nvmf_subsystem_get_qpairs(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_subsys p = {0};
	struct ftgt_nvmf_subsystem *s;
	struct rpc_qpairs_ctx *ctx;
	struct nvmf_ctrlr *c;
	uint32_t i = 0;

	if (!ftgt_rpc_decode_or_error(req, params, g_nqn_fields, 1, &p)) {
		return;
	}
	s = rpc_find_subsys(req, p.nqn);
	ftgt_rpc_decode_free(g_nqn_fields, 1, &p);
	if (s == NULL) {
		return;
	}
	if (s->num_ctrlrs == 0) {
		ftgt_rpc_send_result(req, json_array());
		return;
	}
	ctx = calloc(1, sizeof(*ctx) + s->num_ctrlrs * sizeof(ctx->slots[0]));
	if (ctx == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	ctx->req = req;
	ctx->num_slots = s->num_ctrlrs;
	ctx->left = s->num_ctrlrs;
	TAILQ_FOREACH (c, &s->ctrlrs, subsys_link) {
		ctx->slots[i].ctx = ctx;
		ctx->slots[i].ctrlr = c;
		ctx->slots[i].arr = json_array();
		i++;
	}
	/* Each controller is freed by a message the app thread sends after these. */
	for (i = 0; i < ctx->num_slots; i++) {
		struct rpc_qpairs_slot *slot = &ctx->slots[i];

		if (ftgt_thread_send_msg(slot->ctrlr->thread, rpc_qpairs_collect, slot) != 0) {
			rpc_qpairs_slot_done(ctx);
		}
	}
}
FTGT_RPC_REGISTER("nvmf_subsystem_get_qpairs", rpc_nvmf_subsystem_get_qpairs)

/* ---- statistics ---------------------------------------------------------------------- */

struct rpc_stats_ctx {
	struct ftgt_rpc_request *req;
	struct ftgt_nvmf_transport *t;
	json_t *groups;
	struct nvmf_io_stats io; /* sum of every transport's poll groups */
};

static void rpc_stats_next(struct rpc_stats_ctx *ctx);

/* Target-wide counts: every subsystem (the discovery one included). */
static void
rpc_stats_counts(json_t *o)
{
	struct ftgt_nvmf_subsystem *s;
	struct ftgt_nvmf_conn_counts total = {0}, c;

	for (s = ftgt_nvmf_subsystem_first(); s != NULL; s = ftgt_nvmf_subsystem_next(s)) {
		ftgt_nvmf_subsystem_get_counts(s, NULL, NULL, &c);
		total.num_ctrlrs += c.num_ctrlrs;
		total.num_qpairs += c.num_qpairs;
	}
	json_object_set_new(o, "num_connections",
	                    json_integer((json_int_t)ftgt_nvmf_tgt_get_num_connections()));
	counts_to_json(o, &total);
}

void
nvmf_io_stats_to_json(json_t *o, const struct nvmf_io_stats *s)
{
	json_t *io = json_object();
	uint64_t hz = ftgt_get_ticks_hz();

	json_object_set_new(io, "read_ops", json_integer((json_int_t)s->read_ops));
	json_object_set_new(io, "write_ops", json_integer((json_int_t)s->write_ops));
	json_object_set_new(io, "other_ops", json_integer((json_int_t)s->other_ops));
	json_object_set_new(io, "read_bytes", json_integer((json_int_t)s->read_bytes));
	json_object_set_new(io, "write_bytes", json_integer((json_int_t)s->write_bytes));
	json_object_set_new(o, "io", io);
	json_object_set_new(o, "latency_us",
	                    ftgt_histogram_summary_json(&s->latency, 1e6 / (double)(hz ? hz : 1)));
}

void
nvmf_rpc_stats_add_io(void *cb_arg, const struct nvmf_io_stats *s)
{
	struct rpc_stats_ctx *ctx = cb_arg;

	nvmf_io_stats_merge(&ctx->io, s);
}

void
nvmf_rpc_stats_transport_done(void *cb_arg, void *json_array)
{
	struct rpc_stats_ctx *ctx = cb_arg;

	json_array_extend(ctx->groups, json_array);
	json_decref(json_array);
	ctx->t = ftgt_nvmf_transport_next(ctx->t);
	rpc_stats_next(ctx);
}

static void
rpc_stats_next(struct rpc_stats_ctx *ctx)
{
	json_t *o;

	while (ctx->t != NULL && ctx->t->ops->get_stats == NULL) {
		ctx->t = ftgt_nvmf_transport_next(ctx->t);
	}
	if (ctx->t != NULL) {
		ctx->t->ops->get_stats(ctx->t, nvmf_rpc_stats_transport_done, ctx);
		return;
	}
	o = json_object();
	json_object_set_new(o, "tick_rate", json_integer((json_int_t)ftgt_get_ticks_hz()));
	rpc_stats_counts(o);
	nvmf_io_stats_to_json(o, &ctx->io);
	json_object_set_new(o, "poll_groups", ctx->groups);
	ftgt_rpc_send_result(ctx->req, o);
	free(ctx);
}

static void
rpc_nvmf_get_stats(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_stats_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	ctx->req = req;
	ctx->groups = json_array();
	nvmf_io_stats_init(&ctx->io);
	ctx->t = ftgt_nvmf_transport_first();
	rpc_stats_next(ctx);
}
FTGT_RPC_REGISTER("nvmf_get_stats", rpc_nvmf_get_stats)

/* ---- the "nvmf" subsystem ------------------------------------------------------------ */

static void
nvmf_write_config(json_t *config)
{
	struct ftgt_nvmf_transport *t;
	struct ftgt_nvmf_subsystem *s;

	for (t = ftgt_nvmf_transport_first(); t != NULL; t = ftgt_nvmf_transport_next(t)) {
		json_array_append_new(config,
		                      method_call("nvmf_create_transport", transport_json(t)));
	}
	for (s = ftgt_nvmf_subsystem_first(); s != NULL; s = ftgt_nvmf_subsystem_next(s)) {
		struct nvmf_listener *l;
		struct nvmf_host *h;
		json_t *p;
		uint32_t i;

		if (s->type != FTGT_NVMF_SUBTYPE_NVME) {
			TAILQ_FOREACH (l, &s->listeners, link) {
				p = json_object();
				json_object_set_new(p, "nqn", json_string(s->nqn));
				json_object_set_new(p, "listen_address", addr_json(&l->addr));
				json_array_append_new(
				        config, method_call("nvmf_subsystem_add_listener", p));
			}
			continue;
		}
		p = json_object();
		json_object_set_new(p, "nqn", json_string(s->nqn));
		json_object_set_new(p, "serial_number", json_string(s->sn));
		json_object_set_new(p, "model_number", json_string(s->mn));
		json_object_set_new(p, "allow_any_host", json_boolean(s->allow_any_host));
		if (!s->allow_duplicate_host) {
			json_object_set_new(p, "allow_duplicate_host_connections", json_false());
		}
		json_object_set_new(p, "max_namespaces", json_integer(s->max_nsid));
		json_array_append_new(config, method_call("nvmf_create_subsystem", p));
		TAILQ_FOREACH (l, &s->listeners, link) {
			p = json_object();
			json_object_set_new(p, "nqn", json_string(s->nqn));
			json_object_set_new(p, "listen_address", addr_json(&l->addr));
			json_array_append_new(config,
			                      method_call("nvmf_subsystem_add_listener", p));
		}
		TAILQ_FOREACH (h, &s->hosts, link) {
			p = json_object();
			json_object_set_new(p, "nqn", json_string(s->nqn));
			json_object_set_new(p, "host", json_string(h->nqn));
			json_array_append_new(config, method_call("nvmf_subsystem_add_host", p));
		}
		for (i = 0; i < s->max_nsid; i++) {
			struct nvmf_ns *n = s->ns[i];
			json_t *nsj;
			char buf[40];

			if (n == NULL) {
				continue;
			}
			nsj = json_object();
			json_object_set_new(nsj, "bdev_name", json_string(n->bdev_name));
			json_object_set_new(nsj, "nsid", json_integer(n->nsid));
			ftgt_uuid_fmt(buf, sizeof(buf), &n->opts.uuid);
			json_object_set_new(nsj, "uuid", json_string(buf));
			hex_fmt(buf, n->opts.nguid, 16);
			json_object_set_new(nsj, "nguid", json_string(buf));
			hex_fmt(buf, n->opts.eui64, 8);
			json_object_set_new(nsj, "eui64", json_string(buf));
			p = json_object();
			json_object_set_new(p, "nqn", json_string(s->nqn));
			json_object_set_new(p, "namespace", nsj);
			json_array_append_new(config, method_call("nvmf_subsystem_add_ns", p));
		}
	}
}

static void
nvmf_subsystem_init(void)
{
	ftgt_subsystem_init_done(ftgt_nvmf_tgt_init());
}

static void
nvmf_fini_done(void *arg)
{
	ftgt_subsystem_fini_done();
}

static void
nvmf_subsystem_fini(void)
{
	ftgt_nvmf_tgt_fini(nvmf_fini_done, NULL);
}

static struct ftgt_subsystem g_nvmf_subsystem = {
        .name = "nvmf",
        .init = nvmf_subsystem_init,
        .fini = nvmf_subsystem_fini,
        .write_config_json = nvmf_write_config,
        .depends_on = "bdev",
};
FTGT_SUBSYSTEM_REGISTER(g_nvmf_subsystem)
