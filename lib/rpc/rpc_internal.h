/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private declarations of lib/rpc: the request object shared by the method registry
 * (methods.c) and the socket server (server.c), and the server's test hooks.
 */
#ifndef FTGT_RPC_INTERNAL_H
#define FTGT_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "ftgt/rpc.h"

struct rpc_conn;
struct rpc_batch;

/*
 * One request. Owned by lib/rpc from dispatch until the handler answers; freed by the
 * answer. Exactly one of `conn` (a socket client, possibly gone) or `call_cb`
 * (an in-process call) routes the answer; with neither it is dropped.
 */
struct ftgt_rpc_request {
	json_t *id;              /* NULL: notification (no response) */
	struct rpc_conn *conn;   /* the client that sent it (reference held) */
	struct rpc_batch *batch; /* the batch it belongs to, or NULL */
	ftgt_rpc_call_cb call_cb;
	void *call_arg;
	bool from_socket;
};

/* methods.c */
ftgt_rpc_handler rpc_method_find(const char *name);
/* Allocate a zeroed request, counted in ftgt_rpc_requests_in_flight(). */
struct ftgt_rpc_request *rpc_request_alloc(void);

/* server.c: deliver the response of a socket request (steals response; NULL = none). */
void rpc_server_complete(struct ftgt_rpc_request *req, json_t *response);
/* Refuse new connections and requests (shutdown). */
bool rpc_server_is_refusing(void);

/*
 * Framing and dispatch without a socket (unit tests): a connection whose output
 * stays in memory. Feed bytes, then take what the server would have written.
 */
struct rpc_conn *rpc_conn_create_detached(void);
/* Returns false once the connection decided to close (parse error, size cap). */
bool rpc_conn_feed(struct rpc_conn *conn, const void *data, size_t len);
/* Output so far (NUL-terminated, caller frees), and clears it. */
char *rpc_conn_take_output(struct rpc_conn *conn);
void rpc_conn_release_detached(struct rpc_conn *conn);
/* Per-request size cap (default FTGT_RPC_MAX_REQUEST_BYTES); tests lower it. */
void rpc_server_set_max_request_bytes(size_t bytes);
/* One iteration of the server poller (tests poll by hand). */
int rpc_server_poll(void *ctx);
/* Write out what every client has pending, without blocking (before a kill). */
void rpc_server_flush(void);

#endif /* FTGT_RPC_INTERNAL_H */
