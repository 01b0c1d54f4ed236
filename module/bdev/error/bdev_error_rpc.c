/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_error_create / bdev_error_delete / bdev_error_inject_error (SPDK names and params). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "bdev_error.h"

static int
rpc_errcode(int rc)
{
	return rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc;
}

struct rpc_error_create {
	char *base_name;
	char *uuid;
};

static const struct ftgt_rpc_field rpc_error_create_fields[] = {
        {"base_name", FTGT_RPC_STRING, offsetof(struct rpc_error_create, base_name), false},
        {"uuid", FTGT_RPC_STRING, offsetof(struct rpc_error_create, uuid), true},
};

static void
rpc_bdev_error_create(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_error_create r = {0};
	struct ftgt_uuid uuid;
	struct ftgt_bdev *bdev;
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_error_create_fields,
	                              FTGT_COUNTOF(rpc_error_create_fields), &r)) {
		return;
	}
	if (r.uuid != NULL && ftgt_uuid_parse(&uuid, r.uuid) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'uuid': '%s' is not a UUID", r.uuid);
		goto out;
	}
	rc = bdev_error_create(r.base_name, r.uuid != NULL ? &uuid : NULL, &bdev, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
		goto out;
	}
	ftgt_rpc_send_result(req, json_string(ftgt_bdev_get_name(bdev)));
out:
	ftgt_rpc_decode_free(rpc_error_create_fields, FTGT_COUNTOF(rpc_error_create_fields), &r);
}
FTGT_RPC_REGISTER("bdev_error_create", rpc_bdev_error_create)
FTGT_RPC_REGISTER_ALIAS("construct_error_bdev", "bdev_error_create", construct_error_bdev)

static void
rpc_bdev_error_delete(struct ftgt_rpc_request *req, const json_t *params)
{
	ftgt_bdev_rpc_delete_by_name(req, params, bdev_error_delete);
}
FTGT_RPC_REGISTER("bdev_error_delete", rpc_bdev_error_delete)
FTGT_RPC_REGISTER_ALIAS("delete_error_bdev", "bdev_error_delete", delete_error_bdev)

struct rpc_error_inject {
	char *name;
	char *io_type;
	char *error_type;
	uint32_t num;
	uint64_t corrupt_offset;
	uint32_t corrupt_value;
};

static const struct ftgt_rpc_field rpc_error_inject_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_error_inject, name), false},
        {"io_type", FTGT_RPC_STRING, offsetof(struct rpc_error_inject, io_type), false},
        {"error_type", FTGT_RPC_STRING, offsetof(struct rpc_error_inject, error_type), false},
        {"num", FTGT_RPC_UINT32, offsetof(struct rpc_error_inject, num), true},
        {"corrupt_offset", FTGT_RPC_UINT64, offsetof(struct rpc_error_inject, corrupt_offset),
         true},
        {"corrupt_value", FTGT_RPC_UINT32, offsetof(struct rpc_error_inject, corrupt_value), true},
};

static void
rpc_bdev_error_inject_error(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_error_inject r = {.num = 1};
	enum error_inject_type type;
	uint32_t mask;
	bool clear;
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_error_inject_fields,
	                              FTGT_COUNTOF(rpc_error_inject_fields), &r)) {
		return;
	}
	if (bdev_error_io_type_parse(r.io_type, &mask, &clear) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'io_type': '%s' (use read, write, unmap, "
		                    "flush, write_zeroes, reset, all or clear)",
		                    r.io_type);
		goto out;
	}
	if (bdev_error_inject_type_parse(r.error_type, &type) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'error_type': '%s' (use failure, pending, "
		                    "corrupt_data, nomem or clear)",
		                    r.error_type);
		goto out;
	}
	if (r.corrupt_value > 255) {
		ftgt_rpc_send_error(
		        req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		        "invalid parameter 'corrupt_value': %u is not a byte (1 to 255)",
		        r.corrupt_value);
		goto out;
	}
	if (type == ERROR_INJECT_CORRUPT && r.corrupt_value == 0) {
		r.corrupt_value = 0xff; /* SPDK accepts 0 and corrupts nothing; flip bits instead */
	}
	if (clear) {
		type = ERROR_INJECT_NONE;
	}
	rc = bdev_error_inject(r.name, mask, type, r.num, r.corrupt_offset,
	                       (uint8_t)r.corrupt_value, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
		goto out;
	}
	ftgt_rpc_send_bool(req, true);
out:
	ftgt_rpc_decode_free(rpc_error_inject_fields, FTGT_COUNTOF(rpc_error_inject_fields), &r);
}
FTGT_RPC_REGISTER("bdev_error_inject_error", rpc_bdev_error_inject_error)
