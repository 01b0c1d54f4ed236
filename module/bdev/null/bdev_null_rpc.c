/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_null_create / bdev_null_delete / bdev_null_resize (SPDK names and params). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "bdev_null.h"

struct rpc_null_create {
	char *name;
	char *uuid;
	uint64_t num_blocks;
	uint32_t block_size;
	uint32_t md_size;
	bool md_interleave;
};

static const struct ftgt_rpc_field rpc_null_create_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_null_create, name), false},
        {"uuid", FTGT_RPC_STRING, offsetof(struct rpc_null_create, uuid), true},
        {"num_blocks", FTGT_RPC_UINT64, offsetof(struct rpc_null_create, num_blocks), false},
        {"block_size", FTGT_RPC_UINT32, offsetof(struct rpc_null_create, block_size), false},
        {"md_size", FTGT_RPC_UINT32, offsetof(struct rpc_null_create, md_size), true},
        {"md_interleave", FTGT_RPC_BOOL, offsetof(struct rpc_null_create, md_interleave), true},
};

static void
rpc_bdev_null_create(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_null_create r = {0};
	struct null_bdev_opts opts = {0};
	struct ftgt_bdev *bdev;
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_null_create_fields,
	                              FTGT_COUNTOF(rpc_null_create_fields), &r)) {
		return;
	}
	if (r.uuid != NULL && ftgt_uuid_parse(&opts.uuid, r.uuid) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'uuid': '%s' is not a UUID", r.uuid);
		goto out;
	}
	opts.name = r.name;
	opts.num_blocks = r.num_blocks;
	opts.block_size = r.block_size;
	opts.md_size = r.md_size;
	opts.md_interleave = r.md_interleave;
	rc = bdev_null_create(&bdev, &opts, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc,
		                    "%s", err);
		goto out;
	}
	ftgt_rpc_send_result(req, json_string(ftgt_bdev_get_name(bdev)));
out:
	ftgt_rpc_decode_free(rpc_null_create_fields, FTGT_COUNTOF(rpc_null_create_fields), &r);
}
FTGT_RPC_REGISTER("bdev_null_create", rpc_bdev_null_create)
FTGT_RPC_REGISTER_ALIAS("construct_null_bdev", "bdev_null_create", construct_null_bdev)

static void
rpc_bdev_null_delete(struct ftgt_rpc_request *req, const json_t *params)
{
	ftgt_bdev_rpc_delete_by_name(req, params, bdev_null_delete);
}
FTGT_RPC_REGISTER("bdev_null_delete", rpc_bdev_null_delete)
FTGT_RPC_REGISTER_ALIAS("delete_null_bdev", "bdev_null_delete", delete_null_bdev)

struct rpc_null_resize {
	char *name;
	uint64_t new_size;
};
static const struct ftgt_rpc_field rpc_null_resize_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_null_resize, name), false},
        {"new_size", FTGT_RPC_UINT64, offsetof(struct rpc_null_resize, new_size), false},
};

static void
rpc_bdev_null_resize(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_null_resize r = {0};
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_null_resize_fields,
	                              FTGT_COUNTOF(rpc_null_resize_fields), &r)) {
		return;
	}
	rc = bdev_null_resize(r.name, r.new_size, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc,
		                    "%s", err);
	} else {
		ftgt_rpc_send_bool(req, true);
	}
	ftgt_rpc_decode_free(rpc_null_resize_fields, FTGT_COUNTOF(rpc_null_resize_fields), &r);
}
FTGT_RPC_REGISTER("bdev_null_resize", rpc_bdev_null_resize)
