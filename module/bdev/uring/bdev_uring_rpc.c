/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_uring_create / bdev_uring_delete / bdev_uring_rescan (SPDK names and params). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "bdev_uring.h"

static int
rpc_errcode(int rc)
{
	return rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc;
}

struct rpc_uring_create {
	char *name;
	char *filename;
	uint32_t block_size;
	char *uuid;
};

static const struct ftgt_rpc_field rpc_uring_create_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_uring_create, name), false},
        {"filename", FTGT_RPC_STRING, offsetof(struct rpc_uring_create, filename), false},
        {"block_size", FTGT_RPC_UINT32, offsetof(struct rpc_uring_create, block_size), true},
        {"uuid", FTGT_RPC_STRING, offsetof(struct rpc_uring_create, uuid), true},
};

static void
rpc_bdev_uring_create(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_uring_create r = {0};
	struct uring_bdev_opts opts = {0};
	struct ftgt_bdev *bdev;
	char err[512];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_uring_create_fields,
	                              FTGT_COUNTOF(rpc_uring_create_fields), &r)) {
		return;
	}
	if (r.uuid != NULL && ftgt_uuid_parse(&opts.uuid, r.uuid) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'uuid': '%s' is not a UUID", r.uuid);
		goto out;
	}
	opts.name = r.name;
	opts.filename = r.filename;
	opts.block_size = r.block_size;
	rc = bdev_uring_create(&bdev, &opts, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
		goto out;
	}
	ftgt_rpc_send_result(req, json_string(ftgt_bdev_get_name(bdev)));
out:
	ftgt_rpc_decode_free(rpc_uring_create_fields, FTGT_COUNTOF(rpc_uring_create_fields), &r);
}
FTGT_RPC_REGISTER("bdev_uring_create", rpc_bdev_uring_create)

struct rpc_name {
	char *name;
};
static const struct ftgt_rpc_field rpc_name_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_name, name), false},
};

struct rpc_uring_delete {
	char *name;
	bool force;
};
static const struct ftgt_rpc_field rpc_uring_delete_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_uring_delete, name), false},
        {"force", FTGT_RPC_BOOL, offsetof(struct rpc_uring_delete, force), true},
};

static void
rpc_bdev_uring_delete(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_uring_delete r = {0};
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_uring_delete_fields,
	                              FTGT_COUNTOF(rpc_uring_delete_fields), &r)) {
		return;
	}
	rc = bdev_uring_delete(r.name, r.force, ftgt_bdev_rpc_delete_done, req, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "%s", err);
	}
	ftgt_rpc_decode_free(rpc_uring_delete_fields, FTGT_COUNTOF(rpc_uring_delete_fields), &r);
}
FTGT_RPC_REGISTER("bdev_uring_delete", rpc_bdev_uring_delete)

static void
rpc_bdev_uring_rescan(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_name r = {0};
	char err[512];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_name_fields, FTGT_COUNTOF(rpc_name_fields),
	                              &r)) {
		return;
	}
	rc = bdev_uring_rescan(r.name, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
	} else {
		ftgt_rpc_send_bool(req, true);
	}
	ftgt_rpc_decode_free(rpc_name_fields, FTGT_COUNTOF(rpc_name_fields), &r);
}
FTGT_RPC_REGISTER("bdev_uring_rescan", rpc_bdev_uring_rescan)
