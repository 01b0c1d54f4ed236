/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_malloc_create / bdev_malloc_delete (SPDK names and params). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "bdev_malloc.h"

struct rpc_malloc_create {
	char *name;
	char *uuid;
	uint64_t num_blocks;
	uint32_t block_size;
	uint32_t md_size;
	bool md_interleave;
	uint32_t optimal_io_boundary;
	uint32_t physical_block_size;
	uint32_t dif_type;
	bool dif_is_head_of_md;
	uint32_t dif_pi_format;
};

static const struct ftgt_rpc_field rpc_malloc_create_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_malloc_create, name), true},
        {"uuid", FTGT_RPC_STRING, offsetof(struct rpc_malloc_create, uuid), true},
        {"num_blocks", FTGT_RPC_UINT64, offsetof(struct rpc_malloc_create, num_blocks), false},
        {"block_size", FTGT_RPC_UINT32, offsetof(struct rpc_malloc_create, block_size), false},
        {"md_size", FTGT_RPC_UINT32, offsetof(struct rpc_malloc_create, md_size), true},
        {"md_interleave", FTGT_RPC_BOOL, offsetof(struct rpc_malloc_create, md_interleave), true},
        {"optimal_io_boundary", FTGT_RPC_UINT32,
         offsetof(struct rpc_malloc_create, optimal_io_boundary), true},
        /* Accepted for SPDK's rpc.py, which sends them; only the defaults are supported. */
        {"physical_block_size", FTGT_RPC_UINT32,
         offsetof(struct rpc_malloc_create, physical_block_size), true},
        {"dif_type", FTGT_RPC_UINT32, offsetof(struct rpc_malloc_create, dif_type), true},
        {"dif_is_head_of_md", FTGT_RPC_BOOL, offsetof(struct rpc_malloc_create, dif_is_head_of_md),
         true},
        {"dif_pi_format", FTGT_RPC_UINT32, offsetof(struct rpc_malloc_create, dif_pi_format), true},
};

static void
rpc_bdev_malloc_create(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_malloc_create r = {0};
	struct malloc_bdev_opts opts = {0};
	struct ftgt_bdev *bdev;
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_malloc_create_fields,
	                              FTGT_COUNTOF(rpc_malloc_create_fields), &r)) {
		return;
	}
	if (r.uuid != NULL && ftgt_uuid_parse(&opts.uuid, r.uuid) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'uuid': '%s' is not a UUID", r.uuid);
		goto out;
	}
	if (r.dif_type != 0 || r.dif_pi_format != 0) {
		ftgt_rpc_send_error(
		        req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		        "invalid parameter 'dif_type': end-to-end protection information "
		        "(DIF/DIX) is not supported; use 0");
		goto out;
	}
	if (r.physical_block_size != 0 && r.physical_block_size != r.block_size) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'physical_block_size': %u; only the logical "
		                    "block size (%u) is supported",
		                    r.physical_block_size, r.block_size);
		goto out;
	}
	opts.name = r.name;
	opts.num_blocks = r.num_blocks;
	opts.block_size = r.block_size;
	opts.md_size = r.md_size;
	opts.md_interleave = r.md_interleave;
	opts.optimal_io_boundary = r.optimal_io_boundary;
	rc = bdev_malloc_create(&bdev, &opts, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc == -EINVAL ? FTGT_JSONRPC_ERROR_INVALID_PARAMS : rc,
		                    "%s", err);
		goto out;
	}
	ftgt_rpc_send_result(req, json_string(ftgt_bdev_get_name(bdev)));
out:
	ftgt_rpc_decode_free(rpc_malloc_create_fields, FTGT_COUNTOF(rpc_malloc_create_fields), &r);
}
FTGT_RPC_REGISTER("bdev_malloc_create", rpc_bdev_malloc_create)
FTGT_RPC_REGISTER_ALIAS("construct_malloc_bdev", "bdev_malloc_create", construct_malloc_bdev)

static void
rpc_bdev_malloc_delete(struct ftgt_rpc_request *req, const json_t *params)
{
	ftgt_bdev_rpc_delete_by_name(req, params, bdev_malloc_delete);
}
FTGT_RPC_REGISTER("bdev_malloc_delete", rpc_bdev_malloc_delete)
FTGT_RPC_REGISTER_ALIAS("delete_malloc_bdev", "bdev_malloc_delete", delete_malloc_bdev)
