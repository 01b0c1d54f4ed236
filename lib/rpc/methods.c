/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The method registry (names, aliases), answering requests and in-process calls.
 * Methods are registered by constructors before main(); lookups happen on the app
 * thread afterwards, so the registry needs no lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "rpc_internal.h"

struct rpc_method {
	char *name;
	ftgt_rpc_handler handler; /* NULL for an alias */
	char *alias_of;           /* the method an alias names */
	struct rpc_method *next;
};

static struct rpc_method *g_methods;

static struct rpc_method *
rpc_method_lookup(const char *name)
{
	struct rpc_method *m;

	for (m = g_methods; m != NULL; m = m->next) {
		if (strcmp(m->name, name) == 0) {
			return m;
		}
	}
	return NULL;
}

static void
rpc_method_add(const char *name, ftgt_rpc_handler handler, const char *alias_of)
{
	struct rpc_method *m;

	if (rpc_method_lookup(name) != NULL) {
		/* A programming error; constructors cannot fail, so say it loudly. */
		fprintf(stderr, "ftgt: RPC method '%s' registered twice\n", name);
		abort();
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->name = strdup(name)) == NULL ||
	    (alias_of != NULL && (m->alias_of = strdup(alias_of)) == NULL)) {
		fprintf(stderr, "ftgt: out of memory registering RPC method '%s'\n", name);
		abort();
	}
	m->handler = handler;
	m->next = g_methods;
	g_methods = m;
}

void
ftgt_rpc_register_method(const char *name, ftgt_rpc_handler handler)
{
	rpc_method_add(name, handler, NULL);
}

void
ftgt_rpc_register_alias(const char *alias, const char *name)
{
	rpc_method_add(alias, NULL, name);
}

__attribute__((destructor)) static void
rpc_methods_free(void)
{
	struct rpc_method *m;

	while ((m = g_methods) != NULL) {
		g_methods = m->next;
		free(m->name);
		free(m->alias_of);
		free(m);
	}
}

ftgt_rpc_handler
rpc_method_find(const char *name)
{
	struct rpc_method *m = rpc_method_lookup(name);
	int hops;

	/* Aliases are resolved at lookup: they may be registered before their target. */
	for (hops = 0; m != NULL && m->handler == NULL && hops < 8; hops++) {
		m = rpc_method_lookup(m->alias_of);
	}
	return m != NULL ? m->handler : NULL;
}

bool
ftgt_rpc_method_exists(const char *method)
{
	return rpc_method_find(method) != NULL;
}

static int
rpc_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names; aliases only when include_aliases. */
json_t *
ftgt_rpc_get_methods_ext(bool include_aliases)
{
	struct rpc_method *m;
	const char **names;
	size_t n = 0, i;
	json_t *arr;

	for (m = g_methods; m != NULL; m = m->next) {
		n++;
	}
	names = calloc(n ? n : 1, sizeof(*names));
	arr = json_array();
	if (names == NULL || arr == NULL) {
		free(names);
		json_decref(arr);
		return NULL;
	}
	n = 0;
	for (m = g_methods; m != NULL; m = m->next) {
		if (m->handler != NULL || (include_aliases && rpc_method_find(m->name) != NULL)) {
			names[n++] = m->name;
		}
	}
	qsort(names, n, sizeof(*names), rpc_name_cmp);
	for (i = 0; i < n; i++) {
		json_array_append_new(arr, json_string(names[i]));
	}
	free(names);
	return arr;
}

json_t *
ftgt_rpc_get_methods(void)
{
	return ftgt_rpc_get_methods_ext(false);
}

/* ---- answers ------------------------------------------------------------------------ */

/* Requests created and not yet answered (app thread only). */
static uint32_t g_requests_in_flight;

uint32_t
ftgt_rpc_requests_in_flight(void)
{
	return g_requests_in_flight;
}

struct ftgt_rpc_request *
rpc_request_alloc(void)
{
	struct ftgt_rpc_request *req = calloc(1, sizeof(*req));

	if (req != NULL) {
		g_requests_in_flight++;
	}
	return req;
}

static void
rpc_request_free(struct ftgt_rpc_request *req)
{
	g_requests_in_flight--;
	json_decref(req->id);
	free(req);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not one. */
static size_t
rpc_utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80) {
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0 && s[0] >= 0xc2) {
		len = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
	} else if ((s[0] & 0xf8) == 0xf0 && s[0] <= 0xf4) {
		len = 4;
	} else {
		return 0;
	}
	if (len > n) {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
	}
	return len;
}

/*
 * The error message as a JSON string, always. A message formatted into a fixed buffer
 * can end in the middle of a multi-byte character (a long parameter name or method
 * echoed back), which jansson refuses: an answer without "message" breaks JSON-RPC
 * clients. Bytes that are not UTF-8 become '?'.
 */
static json_t *
rpc_json_message(const char *msg)
{
	json_t *s = json_string(msg);
	unsigned char *copy;
	size_t i, n, len;

	if (s != NULL) {
		return s;
	}
	copy = (unsigned char *)strdup(msg);
	if (copy == NULL) {
		return NULL;
	}
	n = strlen(msg);
	for (i = 0; i < n; i += len) {
		len = rpc_utf8_seq_len(copy + i, n - i);
		if (len == 0) {
			copy[i] = '?';
			len = 1;
		}
	}
	s = json_string((char *)copy);
	if (s == NULL) {
		/* Overlong forms, surrogates: keep only ASCII. */
		for (i = 0; i < n; i++) {
			if (copy[i] >= 0x80) {
				copy[i] = '?';
			}
		}
		s = json_string((char *)copy);
	}
	free(copy);
	return s;
}

/* result stolen; on error result is NULL and code/msg describe it. */
static void
rpc_request_finish(struct ftgt_rpc_request *req, json_t *result, int code, const char *msg)
{
	json_t *resp, *err;

	if (req->call_cb != NULL) {
		req->call_cb(req->call_arg, code == 0 ? result : NULL, code,
		             code == 0 ? NULL : msg);
		json_decref(result);
		rpc_request_free(req);
		return;
	}
	if (!req->from_socket) {
		json_decref(result);
		rpc_request_free(req);
		return;
	}
	resp = NULL;
	if (req->id != NULL) {
		resp = json_object();
		if (resp != NULL) {
			json_object_set_new(resp, "jsonrpc", json_string("2.0"));
			json_object_set(resp, "id", req->id);
			if (code == 0) {
				json_object_set(resp, "result", result);
			} else {
				err = json_object();
				json_object_set_new(err, "code", json_integer(code));
				json_object_set_new(err, "message", rpc_json_message(msg));
				json_object_set_new(resp, "error", err);
			}
		}
	}
	json_decref(result);
	rpc_server_complete(req, resp);
	rpc_request_free(req);
}

void
ftgt_rpc_send_result(struct ftgt_rpc_request *req, json_t *result)
{
	if (result == NULL) {
		result = json_true();
	}
	rpc_request_finish(req, result, 0, NULL);
}

void
ftgt_rpc_send_bool(struct ftgt_rpc_request *req, bool value)
{
	rpc_request_finish(req, json_boolean(value), 0, NULL);
}

void
ftgt_rpc_send_error(struct ftgt_rpc_request *req, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (code == 0) {
		code = FTGT_JSONRPC_ERROR_INTERNAL_ERROR;
	}
	rpc_request_finish(req, NULL, code, msg);
}

int
ftgt_rpc_call(const char *method, const json_t *params, ftgt_rpc_call_cb cb_fn, void *cb_arg)
{
	ftgt_rpc_handler handler = rpc_method_find(method);
	struct ftgt_rpc_request *req;

	if (handler == NULL) {
		return -ENOENT;
	}
	req = rpc_request_alloc();
	if (req == NULL) {
		return -ENOMEM;
	}
	req->call_cb = cb_fn;
	req->call_arg = cb_arg;
	handler(req, params);
	return 0;
}
