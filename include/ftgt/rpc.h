/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC 2.0 methods. The server (lib/rpc) listens on a UNIX socket, is polled on
 * the app thread, and calls handlers there. A handler decodes its params, calls the
 * public API and answers exactly once with ftgt_rpc_send_result() or
 * ftgt_rpc_send_error() — right away or later, but always on the app thread.
 * Handlers never block.
 *
 * Method names and parameters follow SPDK's where an equivalent exists.
 */
#ifndef FTGT_RPC_H
#define FTGT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* JSON-RPC 2.0 error codes. */
#define FTGT_JSONRPC_ERROR_PARSE_ERROR      -32700
#define FTGT_JSONRPC_ERROR_INVALID_REQUEST  -32600
#define FTGT_JSONRPC_ERROR_METHOD_NOT_FOUND -32601
#define FTGT_JSONRPC_ERROR_INVALID_PARAMS   -32602
#define FTGT_JSONRPC_ERROR_INTERNAL_ERROR   -32603
/* The method exists but cannot run now (e.g. the daemon is shutting down). */
#define FTGT_JSONRPC_ERROR_INVALID_STATE -1

struct ftgt_rpc_request;

/* params: the request's "params" (NULL when absent); borrowed for the call only. */
typedef void (*ftgt_rpc_handler)(struct ftgt_rpc_request *req, const json_t *params);

/* Register a method (at start-up, before the server runs). */
void ftgt_rpc_register_method(const char *name, ftgt_rpc_handler handler);
/* Register an alias: an older or SPDK-compatible name for a method. */
void ftgt_rpc_register_alias(const char *alias, const char *name);
#define FTGT_RPC_REGISTER(NAME, HANDLER)                                           \
	__attribute__((constructor)) static void ftgt_rpc_register_##HANDLER(void) \
	{                                                                          \
		ftgt_rpc_register_method(NAME, HANDLER);                           \
	}
#define FTGT_RPC_REGISTER_ALIAS(ALIAS, NAME, TAG)                                    \
	__attribute__((constructor)) static void ftgt_rpc_register_alias_##TAG(void) \
	{                                                                            \
		ftgt_rpc_register_alias(ALIAS, NAME);                                \
	}

/* Answer with `result` (the reference is stolen; NULL means JSON true). */
void ftgt_rpc_send_result(struct ftgt_rpc_request *req, json_t *result);
void ftgt_rpc_send_bool(struct ftgt_rpc_request *req, bool value);
/* Answer with an error: code (a JSONRPC code above, or -errno) and a sentence. */
void ftgt_rpc_send_error(struct ftgt_rpc_request *req, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Declarative params decoding. Each field names a JSON key, its type, where it goes in
 * the output struct and whether it may be absent. Unknown keys, missing required keys
 * and wrong types are errors; the message names the field.
 */
enum ftgt_rpc_type {
	FTGT_RPC_STRING, /* char * (strdup'd; ftgt_rpc_decode_free() frees it) */
	FTGT_RPC_BOOL,   /* bool */
	FTGT_RPC_INT32,  /* int32_t */
	FTGT_RPC_UINT16, /* uint16_t */
	FTGT_RPC_UINT32, /* uint32_t */
	FTGT_RPC_UINT64, /* uint64_t */
	FTGT_RPC_DOUBLE, /* double */
	FTGT_RPC_JSON,   /* json_t * (a new reference; freed by ftgt_rpc_decode_free()) */
};
struct ftgt_rpc_field {
	const char *name;
	enum ftgt_rpc_type type;
	size_t offset;
	bool optional;
};
/*
 * Decode `params` (an object, or NULL = {}) into out. Returns 0, or -EINVAL with a
 * message like "invalid parameter 'block_size': expected an unsigned integer" in err.
 */
int ftgt_rpc_decode(const json_t *params, const struct ftgt_rpc_field *fields, size_t count,
                    void *out, char *err, size_t err_len);
void ftgt_rpc_decode_free(const struct ftgt_rpc_field *fields, size_t count, void *out);
/*
 * Notes: STRING and JSON fields must be NULL before the call (defaults for them are set
 * after decoding). An optional field given as JSON null counts as absent (except
 * FTGT_RPC_JSON, which receives the null). On error nothing is left allocated in out.
 */
/* Decode, or answer -32602 with the message and return false. */
bool ftgt_rpc_decode_or_error(struct ftgt_rpc_request *req, const json_t *params,
                              const struct ftgt_rpc_field *fields, size_t count, void *out);

/* ---- server ------------------------------------------------------------------------- */

/*
 * Listen on `path` (default /var/tmp/ftgt.sock) from the app thread and serve there.
 * Refuses (-EADDRINUSE) when another live process serves that path; removes a stale
 * socket file. Returns 0 or -errno.
 */
int ftgt_rpc_server_start(const char *path);
/* Stop serving, close every client and remove the socket file. */
void ftgt_rpc_server_stop(void);
/*
 * Shutdown began: close the listening socket (new clients are refused) and answer every
 * new request with FTGT_JSONRPC_ERROR_INVALID_STATE. Requests in flight still complete.
 */
void ftgt_rpc_server_refuse(void);
/* Write what every client has pending, without blocking (e.g. before a kill). */
void ftgt_rpc_server_flush_all(void);
/* The path being served, or NULL. */
const char *ftgt_rpc_server_get_path(void);
/* Largest request accepted on the socket; a bigger one is a parse error (-32700). */
#define FTGT_RPC_MAX_REQUEST_BYTES (64u * 1024 * 1024)
#define FTGT_RPC_DEFAULT_SOCKET    "/var/tmp/ftgt.sock"

/*
 * Call a method in-process (config replay): result or error comes to cb_fn, on the
 * thread that answers (the app thread), possibly before ftgt_rpc_call() returns when
 * the handler answers at once. err_code 0 means success (result is then borrowed for
 * the callback only; NULL never). Returns 0, or -ENOENT for an unknown method (cb_fn
 * never runs). Call from the app thread.
 */
typedef void (*ftgt_rpc_call_cb)(void *cb_arg, const json_t *result, int err_code,
                                 const char *err_msg);
int ftgt_rpc_call(const char *method, const json_t *params, ftgt_rpc_call_cb cb_fn, void *cb_arg);
bool ftgt_rpc_method_exists(const char *method);
/* Requests (socket or in-process) whose handler has not answered yet; app thread. */
uint32_t ftgt_rpc_requests_in_flight(void);
/* Sorted list of registered method names (for rpc_get_methods). */
json_t *ftgt_rpc_get_methods(void);
/* The same, with aliases (whose target exists) when include_aliases. */
json_t *ftgt_rpc_get_methods_ext(bool include_aliases);

#endif /* FTGT_RPC_H */
