/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bdev_nvme_attach_controller / bdev_nvme_detach_controller / bdev_nvme_get_controllers
 * (SPDK's names and parameters), bdev_nvme_reset_controller. attach answers once the
 * connect (non-blocking, bounded by fabrics_connect_timeout_us, default 5 s) is done and
 * the bdevs exist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "bdev_nvme.h"

struct rpc_attach {
	char *name;
	char *trtype;
	char *traddr;
	char *adrfam;
	char *trsvcid;
	char *subnqn;
	char *hostnqn;
	bool hdgst;
	bool ddgst;
	int32_t ctrlr_loss_timeout_sec;
	uint32_t reconnect_delay_sec;
	uint32_t fast_io_fail_timeout_sec;
	uint64_t fabrics_connect_timeout_us;
};

static const struct ftgt_rpc_field rpc_attach_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_attach, name), false},
        {"trtype", FTGT_RPC_STRING, offsetof(struct rpc_attach, trtype), false},
        {"traddr", FTGT_RPC_STRING, offsetof(struct rpc_attach, traddr), false},
        {"adrfam", FTGT_RPC_STRING, offsetof(struct rpc_attach, adrfam), true},
        {"trsvcid", FTGT_RPC_STRING, offsetof(struct rpc_attach, trsvcid), true},
        {"subnqn", FTGT_RPC_STRING, offsetof(struct rpc_attach, subnqn), true},
        {"hostnqn", FTGT_RPC_STRING, offsetof(struct rpc_attach, hostnqn), true},
        {"hdgst", FTGT_RPC_BOOL, offsetof(struct rpc_attach, hdgst), true},
        {"ddgst", FTGT_RPC_BOOL, offsetof(struct rpc_attach, ddgst), true},
        {"ctrlr_loss_timeout_sec", FTGT_RPC_INT32,
         offsetof(struct rpc_attach, ctrlr_loss_timeout_sec), true},
        {"reconnect_delay_sec", FTGT_RPC_UINT32, offsetof(struct rpc_attach, reconnect_delay_sec),
         true},
        {"fast_io_fail_timeout_sec", FTGT_RPC_UINT32,
         offsetof(struct rpc_attach, fast_io_fail_timeout_sec), true},
        {"fabrics_connect_timeout_us", FTGT_RPC_UINT64,
         offsetof(struct rpc_attach, fabrics_connect_timeout_us), true},
};

/* One "key:value" for the transport ID parser; values with blanks are refused there. */
static int
add_kv(char *buf, size_t len, size_t *off, const char *key, const char *value)
{
	int n;

	if (value == NULL) {
		return 0;
	}
	if (strpbrk(value, " \t") != NULL || value[0] == '\0') {
		return -EINVAL;
	}
	n = snprintf(buf + *off, len - *off, "%s%s:%s", *off ? " " : "", key, value);
	if (n < 0 || (size_t)n >= len - *off) {
		return -EINVAL;
	}
	*off += (size_t)n;
	return 0;
}

static void
attach_done(void *cb_arg, int rc, json_t *names, const char *err)
{
	struct ftgt_rpc_request *req = cb_arg;

	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc,
		                    "%s", err);
		return;
	}
	ftgt_rpc_send_result(req, names);
}

static void
rpc_bdev_nvme_attach_controller(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_attach r = {0};
	struct bdev_nvme_attach_opts opts = {0};
	char str[1024], err[512];
	const char *bad = NULL;
	size_t off = 0;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_attach_fields,
	                              FTGT_COUNTOF(rpc_attach_fields), &r)) {
		return;
	}
	if (strcasecmp(r.trtype, "tcp") != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'trtype': '%s' is not supported (use TCP)",
		                    r.trtype);
		goto out;
	}
	if (add_kv(str, sizeof(str), &off, "trtype", "tcp") != 0) {
		bad = "trtype";
	} else if (add_kv(str, sizeof(str), &off, "traddr", r.traddr) != 0) {
		bad = "traddr";
	} else if (add_kv(str, sizeof(str), &off, "adrfam", r.adrfam) != 0) {
		bad = "adrfam";
	} else if (add_kv(str, sizeof(str), &off, "trsvcid", r.trsvcid) != 0) {
		bad = "trsvcid";
	} else if (add_kv(str, sizeof(str), &off, "subnqn", r.subnqn) != 0) {
		bad = "subnqn";
	}
	if (bad != NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter '%s': empty, blank or too long", bad);
		goto out;
	}
	if (ftgt_nvme_transport_id_parse(&opts.trid, str, err, sizeof(err)) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS, "%s", err);
		goto out;
	}
	if (r.hostnqn != NULL) {
		if (strlen(r.hostnqn) > FTGT_NVME_NQN_MAX_LEN) {
			ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
			                    "invalid parameter 'hostnqn': longer than %d bytes",
			                    FTGT_NVME_NQN_MAX_LEN);
			goto out;
		}
		snprintf(opts.hostnqn, sizeof(opts.hostnqn), "%s", r.hostnqn);
	}
	opts.name = r.name;
	opts.hdgst = r.hdgst;
	opts.ddgst = r.ddgst;
	opts.ctrlr_loss_timeout_sec = r.ctrlr_loss_timeout_sec;
	opts.reconnect_delay_sec = r.reconnect_delay_sec;
	opts.fast_io_fail_timeout_sec = r.fast_io_fail_timeout_sec;
	if (r.fabrics_connect_timeout_us > 600ull * 1000000) {
		ftgt_rpc_send_error(
		        req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		        "invalid parameter 'fabrics_connect_timeout_us': at most 600 s");
		goto out;
	}
	opts.connect_timeout_ms = (uint32_t)((r.fabrics_connect_timeout_us + 999) / 1000);
	rc = bdev_nvme_attach_controller(&opts, attach_done, req, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc,
		                    "%s", err);
	}
out:
	ftgt_rpc_decode_free(rpc_attach_fields, FTGT_COUNTOF(rpc_attach_fields), &r);
}
FTGT_RPC_REGISTER("bdev_nvme_attach_controller", rpc_bdev_nvme_attach_controller)

struct rpc_name {
	char *name;
};

static const struct ftgt_rpc_field rpc_name_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_name, name), false},
};
static const struct ftgt_rpc_field rpc_opt_name_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_name, name), true},
};

static void
detach_done(void *arg, int rc)
{
	struct ftgt_rpc_request *req = arg;

	if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "detach failed: %s", strerror(-rc));
		return;
	}
	ftgt_rpc_send_bool(req, true);
}

/* detach and reset: decode "name", call fn; done answers true or the error. */
static void
rpc_ctrlr_call(struct ftgt_rpc_request *req, const json_t *params,
               int (*fn)(const char *name, bdev_nvme_detach_cb cb_fn, void *cb_arg, char *err,
                         size_t err_len),
               bdev_nvme_detach_cb done)
{
	struct rpc_name r = {0};
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_name_fields, FTGT_COUNTOF(rpc_name_fields),
	                              &r)) {
		return;
	}
	rc = fn(r.name, done, req, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "%s", err);
	}
	ftgt_rpc_decode_free(rpc_name_fields, FTGT_COUNTOF(rpc_name_fields), &r);
}

static void
rpc_bdev_nvme_detach_controller(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_ctrlr_call(req, params, bdev_nvme_detach_controller, detach_done);
}
FTGT_RPC_REGISTER("bdev_nvme_detach_controller", rpc_bdev_nvme_detach_controller)

static void
rpc_bdev_nvme_get_controllers(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_name r = {0};
	json_t *out = NULL;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_opt_name_fields,
	                              FTGT_COUNTOF(rpc_opt_name_fields), &r)) {
		return;
	}
	if (bdev_nvme_get_controllers(r.name, &out) != 0) {
		ftgt_rpc_send_error(req, -ENODEV, "nvme controller '%s' does not exist", r.name);
	} else {
		ftgt_rpc_send_result(req, out);
	}
	ftgt_rpc_decode_free(rpc_opt_name_fields, FTGT_COUNTOF(rpc_opt_name_fields), &r);
}
FTGT_RPC_REGISTER("bdev_nvme_get_controllers", rpc_bdev_nvme_get_controllers)

static void
reset_done(void *arg, int rc)
{
	struct ftgt_rpc_request *req = arg;

	if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "reset failed: %s", strerror(-rc));
		return;
	}
	ftgt_rpc_send_bool(req, true);
}

static void
rpc_bdev_nvme_reset_controller(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_ctrlr_call(req, params, bdev_nvme_reset_controller, reset_done);
}
FTGT_RPC_REGISTER("bdev_nvme_reset_controller", rpc_bdev_nvme_reset_controller)
