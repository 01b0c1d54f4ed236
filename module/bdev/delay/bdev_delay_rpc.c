/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_delay_create / bdev_delay_delete / bdev_delay_update_latency (SPDK names, params). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "bdev_delay.h"

static int
rpc_errcode(int rc)
{
	return rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc;
}

struct rpc_delay_create {
	char *name;
	char *base_bdev_name;
	char *uuid;
	uint64_t latency[DELAY_NUM_LATENCY_TYPES];
};

static const struct ftgt_rpc_field rpc_delay_create_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_delay_create, name), false},
        {"base_bdev_name", FTGT_RPC_STRING, offsetof(struct rpc_delay_create, base_bdev_name),
         false},
        {"uuid", FTGT_RPC_STRING, offsetof(struct rpc_delay_create, uuid), true},
        {"avg_read_latency", FTGT_RPC_UINT64,
         offsetof(struct rpc_delay_create, latency[DELAY_AVG_READ]), false},
        {"p99_read_latency", FTGT_RPC_UINT64,
         offsetof(struct rpc_delay_create, latency[DELAY_P99_READ]), false},
        {"avg_write_latency", FTGT_RPC_UINT64,
         offsetof(struct rpc_delay_create, latency[DELAY_AVG_WRITE]), false},
        {"p99_write_latency", FTGT_RPC_UINT64,
         offsetof(struct rpc_delay_create, latency[DELAY_P99_WRITE]), false},
};

static void
rpc_bdev_delay_create(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_delay_create r = {0};
	struct delay_bdev_opts opts = {0};
	struct ftgt_bdev *bdev;
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_delay_create_fields,
	                              FTGT_COUNTOF(rpc_delay_create_fields), &r)) {
		return;
	}
	if (r.uuid != NULL && ftgt_uuid_parse(&opts.uuid, r.uuid) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'uuid': '%s' is not a UUID", r.uuid);
		goto out;
	}
	opts.name = r.name;
	opts.base_bdev_name = r.base_bdev_name;
	memcpy(opts.latency_us, r.latency, sizeof(opts.latency_us));
	rc = bdev_delay_create(&bdev, &opts, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
		goto out;
	}
	ftgt_rpc_send_result(req, json_string(ftgt_bdev_get_name(bdev)));
out:
	ftgt_rpc_decode_free(rpc_delay_create_fields, FTGT_COUNTOF(rpc_delay_create_fields), &r);
}
FTGT_RPC_REGISTER("bdev_delay_create", rpc_bdev_delay_create)

static void
rpc_bdev_delay_delete(struct ftgt_rpc_request *req, const json_t *params)
{
	ftgt_bdev_rpc_delete_by_name(req, params, bdev_delay_delete);
}
FTGT_RPC_REGISTER("bdev_delay_delete", rpc_bdev_delay_delete)

struct rpc_delay_update {
	char *delay_bdev_name;
	char *latency_type;
	uint64_t latency_us;
};
static const struct ftgt_rpc_field rpc_delay_update_fields[] = {
        {"delay_bdev_name", FTGT_RPC_STRING, offsetof(struct rpc_delay_update, delay_bdev_name),
         false},
        {"latency_type", FTGT_RPC_STRING, offsetof(struct rpc_delay_update, latency_type), false},
        {"latency_us", FTGT_RPC_UINT64, offsetof(struct rpc_delay_update, latency_us), false},
};

static void
rpc_bdev_delay_update_latency(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_delay_update r = {0};
	enum delay_latency_type type;
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_delay_update_fields,
	                              FTGT_COUNTOF(rpc_delay_update_fields), &r)) {
		return;
	}
	if (bdev_delay_latency_type_parse(r.latency_type, &type) != 0) {
		ftgt_rpc_send_error(
		        req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		        "invalid parameter 'latency_type': '%s' (use avg_read, p99_read, "
		        "avg_write or p99_write)",
		        r.latency_type);
		goto out;
	}
	rc = bdev_delay_update_latency(r.delay_bdev_name, type, r.latency_us, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
		goto out;
	}
	ftgt_rpc_send_bool(req, true);
out:
	ftgt_rpc_decode_free(rpc_delay_update_fields, FTGT_COUNTOF(rpc_delay_update_fields), &r);
}
FTGT_RPC_REGISTER("bdev_delay_update_latency", rpc_bdev_delay_update_latency)
