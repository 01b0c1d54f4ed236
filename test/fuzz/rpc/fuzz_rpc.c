/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the JSON-RPC server's input path: framing, parsing, request
 * validation, batches and params decoding. The first byte picks how the input is split
 * into reads; the rest is what a client sends. Build with -Dfuzz=true and clang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ftgt/rpc.h"
#include "ftgt/thread.h"
#include "../../../lib/rpc/rpc_internal.h"

/* The socket side is not used: no poller. */
struct ftgt_poller *
ftgt_poller_register(ftgt_poller_fn fn, void *ctx, uint64_t period_us, const char *name)
{
	return NULL;
}

void
ftgt_poller_unregister(struct ftgt_poller **poller)
{
	*poller = NULL;
}

struct fuzz_params {
	char *s;
	bool b;
	int32_t i32;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	double d;
	json_t *j;
};

static const struct ftgt_rpc_field g_fuzz_fields[] = {
        {"s", FTGT_RPC_STRING, offsetof(struct fuzz_params, s), true},
        {"b", FTGT_RPC_BOOL, offsetof(struct fuzz_params, b), true},
        {"i32", FTGT_RPC_INT32, offsetof(struct fuzz_params, i32), true},
        {"u16", FTGT_RPC_UINT16, offsetof(struct fuzz_params, u16), true},
        {"u32", FTGT_RPC_UINT32, offsetof(struct fuzz_params, u32), false},
        {"u64", FTGT_RPC_UINT64, offsetof(struct fuzz_params, u64), true},
        {"d", FTGT_RPC_DOUBLE, offsetof(struct fuzz_params, d), true},
        {"j", FTGT_RPC_JSON, offsetof(struct fuzz_params, j), true},
};

static void
rpc_fuzz_method(struct ftgt_rpc_request *req, const json_t *params)
{
	struct fuzz_params p = {0};

	if (!ftgt_rpc_decode_or_error(req, params, g_fuzz_fields, 8, &p)) {
		return;
	}
	ftgt_rpc_send_result(req, json_string(p.s ? p.s : ""));
	ftgt_rpc_decode_free(g_fuzz_fields, 8, &p);
}
FTGT_RPC_REGISTER("fuzz_method", rpc_fuzz_method)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_conn *c;
	size_t chunk, off = 0, n;
	char *out;

	if (size < 1) {
		return 0;
	}
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	rpc_server_set_max_request_bytes(64 * 1024);
	c = rpc_conn_create_detached();
	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		if (!rpc_conn_feed(c, data + off, n)) {
			break;
		}
		off += n;
	}
	out = rpc_conn_take_output(c);
	free(out);
	rpc_conn_release_detached(c);
	return 0;
}
