/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_split_create / bdev_split_delete (SPDK names and params). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "bdev_split.h"

struct rpc_split_create {
	char *base_bdev;
	uint32_t split_count;
	uint64_t split_size_mb;
};

static const struct ftgt_rpc_field rpc_split_create_fields[] = {
        {"base_bdev", FTGT_RPC_STRING, offsetof(struct rpc_split_create, base_bdev), false},
        {"split_count", FTGT_RPC_UINT32, offsetof(struct rpc_split_create, split_count), false},
        {"split_size_mb", FTGT_RPC_UINT64, offsetof(struct rpc_split_create, split_size_mb), true},
};

static int
rpc_errcode(int rc)
{
	return rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc;
}

static void
rpc_bdev_split_create(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_split_create r = {0};
	const char **names = NULL;
	json_t *arr;
	char err[256];
	uint32_t i;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_split_create_fields,
	                              FTGT_COUNTOF(rpc_split_create_fields), &r)) {
		return;
	}
	if (r.split_count > 0 && r.split_count <= 1024) {
		names = calloc(r.split_count, sizeof(*names));
		if (names == NULL) {
			ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = bdev_split_create(r.base_bdev, r.split_count, r.split_size_mb, names, err,
	                       sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
		goto out;
	}
	arr = json_array();
	for (i = 0; i < r.split_count; i++) {
		json_array_append_new(arr, json_string(names[i]));
	}
	ftgt_rpc_send_result(req, arr);
out:
	free(names);
	ftgt_rpc_decode_free(rpc_split_create_fields, FTGT_COUNTOF(rpc_split_create_fields), &r);
}
FTGT_RPC_REGISTER("bdev_split_create", rpc_bdev_split_create)
FTGT_RPC_REGISTER_ALIAS("construct_split_vbdev", "bdev_split_create", construct_split_vbdev)

struct rpc_split_delete {
	char *base_bdev;
};
static const struct ftgt_rpc_field rpc_split_delete_fields[] = {
        {"base_bdev", FTGT_RPC_STRING, offsetof(struct rpc_split_delete, base_bdev), false},
};

static void
rpc_bdev_split_delete(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_split_delete r = {0};
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_split_delete_fields,
	                              FTGT_COUNTOF(rpc_split_delete_fields), &r)) {
		return;
	}
	rc = bdev_split_delete(r.base_bdev, ftgt_bdev_rpc_delete_done, req, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rpc_errcode(rc), "%s", err);
	}
	ftgt_rpc_decode_free(rpc_split_delete_fields, FTGT_COUNTOF(rpc_split_delete_fields), &r);
}
FTGT_RPC_REGISTER("bdev_split_delete", rpc_bdev_split_delete)
FTGT_RPC_REGISTER_ALIAS("destruct_split_vbdev", "bdev_split_delete", destruct_split_vbdev)
