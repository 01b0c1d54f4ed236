/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/rpc/server.c and methods.c: request framing (splits at every byte,
 * several requests per read, batches, notifications, big requests, malformed input),
 * the error codes, and a real UNIX socket server polled by hand with concurrent
 * clients, clients that go away mid-request, stale and live socket files.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "ftgt/util.h"

#include "ftgt/rpc.h"
#include "ftgt/thread.h"
#include "../../../../lib/rpc/rpc_internal.h"

/* ---- thread stubs: the test polls the server itself ----------------------------------- */

static ftgt_poller_fn g_poller_fn;
static void *g_poller_ctx;
static int g_poller_dummy;

struct ftgt_poller *
ftgt_poller_register(ftgt_poller_fn fn, void *ctx, uint64_t period_us, const char *name)
{
	g_poller_fn = fn;
	g_poller_ctx = ctx;
	return (struct ftgt_poller *)&g_poller_dummy;
}

void
ftgt_poller_unregister(struct ftgt_poller **poller)
{
	g_poller_fn = NULL;
	*poller = NULL;
}

static void
poll_server(void)
{
	if (g_poller_fn != NULL) {
		g_poller_fn(g_poller_ctx);
	}
}

/* ---- test methods ------------------------------------------------------------------- */

static void
m_echo(struct ftgt_rpc_request *req, const json_t *params)
{
	ftgt_rpc_send_result(req, params ? json_deep_copy(params) : json_null());
}
FTGT_RPC_REGISTER("test_echo", m_echo)
FTGT_RPC_REGISTER_ALIAS("test_echo_old", "test_echo", echo_old)

struct add_params {
	int32_t a;
	int32_t b;
};
static const struct ftgt_rpc_field g_add_fields[] = {
        {"a", FTGT_RPC_INT32, offsetof(struct add_params, a), false},
        {"b", FTGT_RPC_INT32, offsetof(struct add_params, b), false},
};

static void
m_add(struct ftgt_rpc_request *req, const json_t *params)
{
	struct add_params p;

	if (!ftgt_rpc_decode_or_error(req, params, g_add_fields, 2, &p)) {
		return;
	}
	ftgt_rpc_send_result(req, json_integer(p.a + p.b));
}
FTGT_RPC_REGISTER("test_add", m_add)

static int g_notified;

static void
m_count(struct ftgt_rpc_request *req, const json_t *params)
{
	g_notified++;
	ftgt_rpc_send_bool(req, true);
}
FTGT_RPC_REGISTER("test_count", m_count)

/* Answered later by the test: the client may be gone by then. */
static struct ftgt_rpc_request *g_later[8];
static int g_nlater;

static void
m_later(struct ftgt_rpc_request *req, const json_t *params)
{
	g_later[g_nlater++] = req;
}
FTGT_RPC_REGISTER("test_later", m_later)

static void
answer_later(void)
{
	while (g_nlater > 0) {
		ftgt_rpc_send_result(g_later[--g_nlater], json_string("late"));
	}
}

/* ---- helpers ------------------------------------------------------------------------ */

/* Parse the newline-separated responses in `out` into an array (out is freed). */
static json_t *
parse_responses(char *out)
{
	json_t *arr = json_array();
	char *line, *save = NULL;
	json_error_t jerr;

	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *v = json_loads(line, 0, &jerr);

		CU_ASSERT_PTR_NOT_NULL(v);
		if (v != NULL) {
			json_array_append_new(arr, v);
		}
	}
	free(out);
	return arr;
}

static json_t *
feed_all(const char *text, bool *open)
{
	struct rpc_conn *c = rpc_conn_create_detached();
	json_t *r;

	*open = rpc_conn_feed(c, text, strlen(text));
	r = parse_responses(rpc_conn_take_output(c));
	rpc_conn_release_detached(c);
	return r;
}

static int
error_code(const json_t *resp)
{
	return (int)json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));
}

static const char *
error_msg(const json_t *resp)
{
	return json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
}

/* ---- framing ------------------------------------------------------------------------ */

static const char g_req[] = "{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"test_echo\","
                            "\"params\":{\"s\":\"a}b]\\\"{[\\\\\",\"n\":[1,{\"x\":2}]}}";

static void
test_split_every_offset(void)
{
	size_t len = strlen(g_req), k;
	json_t *expect = json_loads(strchr(g_req + 50, '{'), JSON_DISABLE_EOF_CHECK, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(expect);
	for (k = 0; k <= len; k++) {
		struct rpc_conn *c = rpc_conn_create_detached();
		char *out;
		json_t *r;

		CU_ASSERT_TRUE(rpc_conn_feed(c, g_req, k));
		if (k < len) {
			/* Nothing is answered before the last byte arrived. */
			out = rpc_conn_take_output(c);
			CU_ASSERT_STRING_EQUAL(out, "");
			free(out);
		}
		CU_ASSERT_TRUE(rpc_conn_feed(c, g_req + k, len - k));
		r = parse_responses(rpc_conn_take_output(c));
		CU_ASSERT_EQUAL(json_array_size(r), 1);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(r, 0), "id")),
		                17);
		CU_ASSERT_TRUE(json_equal(json_object_get(json_array_get(r, 0), "result"), expect));
		json_decref(r);
		rpc_conn_release_detached(c);
	}
	/* One byte at a time. */
	{
		struct rpc_conn *c = rpc_conn_create_detached();
		json_t *r;

		for (k = 0; k < len; k++) {
			CU_ASSERT_TRUE(rpc_conn_feed(c, g_req + k, 1));
		}
		r = parse_responses(rpc_conn_take_output(c));
		CU_ASSERT_EQUAL(json_array_size(r), 1);
		json_decref(r);
		rpc_conn_release_detached(c);
	}
	json_decref(expect);
}

static void
test_several_in_one_read(void)
{
	bool open;
	json_t *r = feed_all("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_add\",\"params\":"
	                     "{\"a\":1,\"b\":2}}{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	                     "\"test_add\",\"params\":{\"a\":3,\"b\":4}}\n \t\r\n"
	                     "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"test_echo_old\"}",
	                     &open);

	CU_ASSERT_TRUE(open);
	CU_ASSERT_EQUAL_FATAL(json_array_size(r), 3);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(r, 0), "result")), 3);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(r, 1), "result")), 7);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(r, 2), "id")), "x");
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_array_get(r, 2), "result")));
	json_decref(r);
}

static void
test_batch_and_notifications(void)
{
	bool open;
	json_t *r, *b;

	g_notified = 0;
	r = feed_all("{\"jsonrpc\":\"2.0\",\"method\":\"test_count\"}", &open);
	CU_ASSERT_EQUAL(json_array_size(r), 0);
	CU_ASSERT_EQUAL(g_notified, 1);
	json_decref(r);

	r = feed_all("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_add\",\"params\":{\"a\":1,"
	             "\"b\":1}},{\"jsonrpc\":\"2.0\",\"method\":\"test_count\"},{\"foo\":1},5]",
	             &open);
	CU_ASSERT_TRUE(open);
	CU_ASSERT_EQUAL_FATAL(json_array_size(r), 1);
	b = json_array_get(r, 0);
	CU_ASSERT_TRUE_FATAL(json_is_array(b));
	CU_ASSERT_EQUAL_FATAL(json_array_size(b), 3);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(b, 0), "result")), 2);
	CU_ASSERT_EQUAL(error_code(json_array_get(b, 1)), FTGT_JSONRPC_ERROR_INVALID_REQUEST);
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_array_get(b, 1), "id")));
	CU_ASSERT_EQUAL(error_code(json_array_get(b, 2)), FTGT_JSONRPC_ERROR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(g_notified, 2);
	json_decref(r);

	/* All notifications: no answer at all. */
	r = feed_all("[{\"jsonrpc\":\"2.0\",\"method\":\"test_count\"},"
	             "{\"jsonrpc\":\"2.0\",\"method\":\"test_count\"}]",
	             &open);
	CU_ASSERT_EQUAL(json_array_size(r), 0);
	CU_ASSERT_EQUAL(g_notified, 4);
	json_decref(r);

	r = feed_all("[]", &open);
	CU_ASSERT_EQUAL_FATAL(json_array_size(r), 1);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_INVALID_REQUEST);
	json_decref(r);
}

static void
test_error_codes(void)
{
	bool open;
	json_t *r;

	r = feed_all("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}", &open);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_METHOD_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(error_msg(json_array_get(r, 0)), "method 'nope' not found");
	CU_ASSERT_TRUE(open);
	json_decref(r);

	r = feed_all("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_add\",\"params\":{\"a\":1}}",
	             &open);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_INVALID_PARAMS);
	CU_ASSERT_STRING_EQUAL(error_msg(json_array_get(r, 0)), "missing parameter 'b'");
	json_decref(r);

	r = feed_all("{\"id\":4,\"method\":\"test_add\"}", &open);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(r, 0), "id")), 4);
	json_decref(r);

	r = feed_all("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":7}", &open);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_INVALID_REQUEST);
	json_decref(r);

	r = feed_all("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"test_add\"}", &open);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_INVALID_REQUEST);
	json_decref(r);

	r = feed_all("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"test_echo\",\"params\":3}", &open);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_INVALID_REQUEST);
	json_decref(r);
}

/*
 * A long method or parameter name of multi-byte characters, echoed into an error
 * message that is cut to a fixed size: the answer still carries a valid "message"
 * (it used to be dropped, leaving {"code": ...} alone).
 */
static void
test_error_message_cut_in_utf8(void)
{
	char req[8192], name[3000];
	const char *msg;
	size_t i, off;
	bool open;
	json_t *r;

	for (off = 0; off < 3; off++) {
		/* 'a' x off, then U+00E9 (2 bytes) or U+20AC (3 bytes) repeated. */
		for (int wide = 0; wide < 2; wide++) {
			const char *ch = wide ? "\xe2\x82\xac" : "\xc3\xa9";
			size_t chlen = strlen(ch);

			for (i = 0; i < off; i++) {
				name[i] = 'a';
			}
			while (i + chlen < 2000) {
				memcpy(name + i, ch, chlen);
				i += chlen;
			}
			name[i] = '\0';
			snprintf(req, sizeof(req),
			         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", name);
			r = feed_all(req, &open);
			CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)),
			                FTGT_JSONRPC_ERROR_METHOD_NOT_FOUND);
			msg = error_msg(json_array_get(r, 0));
			CU_ASSERT_PTR_NOT_NULL(msg);
			CU_ASSERT(msg != NULL && strncmp(msg, "method '", 8) == 0);
			json_decref(r);

			snprintf(req, sizeof(req),
			         "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test_add\","
			         "\"params\":{\"%s\":1}}",
			         name);
			r = feed_all(req, &open);
			CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)),
			                FTGT_JSONRPC_ERROR_INVALID_PARAMS);
			msg = error_msg(json_array_get(r, 0));
			CU_ASSERT_PTR_NOT_NULL(msg);
			CU_ASSERT(msg != NULL && strncmp(msg, "unknown parameter '", 19) == 0);
			json_decref(r);
		}
	}
}

static void
expect_parse_error(const char *text, const char *msg_part)
{
	bool open = true;
	json_t *r = feed_all(text, &open);

	CU_ASSERT_FALSE(open);
	CU_ASSERT_EQUAL_FATAL(json_array_size(r), 1);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_PARSE_ERROR);
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_array_get(r, 0), "id")));
	CU_ASSERT_PTR_NOT_NULL(strstr(error_msg(json_array_get(r, 0)), msg_part));
	json_decref(r);
}

static void
test_malformed(void)
{
	expect_parse_error("{\"jsonrpc\":}", "parse error");
	expect_parse_error("xyz", "expected '{' or '['");
	expect_parse_error("}", "expected '{' or '['");
	expect_parse_error("{\"a\":1]", "parse error");
	expect_parse_error("{'a':1}", "parse error");
	/* The good request before the bad one is answered, nothing after it is. */
	{
		bool open;
		json_t *r =
		        feed_all("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_count\"}"
		                 "{bad}{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test_count\"}",
		                 &open);

		CU_ASSERT_FALSE(open);
		CU_ASSERT_EQUAL_FATAL(json_array_size(r), 2);
		CU_ASSERT_TRUE(json_is_true(json_object_get(json_array_get(r, 0), "result")));
		CU_ASSERT_EQUAL(error_code(json_array_get(r, 1)), FTGT_JSONRPC_ERROR_PARSE_ERROR);
		json_decref(r);
	}
}

static void
test_big_request(void)
{
	size_t n = 300 * 1024, i;
	char *big = malloc(n + 128);
	struct rpc_conn *c;
	json_t *r;
	int len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	len = sprintf(big, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"test_echo\",\"params\":"
	                   "{\"s\":\"");
	for (i = 0; i < n; i++) {
		big[len++] = (char)('a' + i % 26);
	}
	len += sprintf(big + len, "\"}}");
	/* In 4 KiB pieces, as a socket would deliver it. */
	c = rpc_conn_create_detached();
	for (i = 0; i < (size_t)len; i += 4096) {
		CU_ASSERT_TRUE(rpc_conn_feed(c, big + i, FTGT_MIN(4096, (size_t)len - i)));
	}
	r = parse_responses(rpc_conn_take_output(c));
	CU_ASSERT_EQUAL_FATAL(json_array_size(r), 1);
	CU_ASSERT_EQUAL(json_string_length(json_object_get(
	                        json_object_get(json_array_get(r, 0), "result"), "s")),
	                n);
	json_decref(r);
	rpc_conn_release_detached(c);

	/* Over the cap: -32700, then the connection closes. */
	rpc_server_set_max_request_bytes(64 * 1024);
	c = rpc_conn_create_detached();
	for (i = 0; i < (size_t)len; i += 4096) {
		if (!rpc_conn_feed(c, big + i, FTGT_MIN(4096, (size_t)len - i))) {
			break;
		}
	}
	CU_ASSERT(i < (size_t)len);
	r = parse_responses(rpc_conn_take_output(c));
	CU_ASSERT_EQUAL_FATAL(json_array_size(r), 1);
	CU_ASSERT_EQUAL(error_code(json_array_get(r, 0)), FTGT_JSONRPC_ERROR_PARSE_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_msg(json_array_get(r, 0)), "larger than 65536"));
	json_decref(r);
	rpc_conn_release_detached(c);
	rpc_server_set_max_request_bytes(FTGT_RPC_MAX_REQUEST_BYTES);
	free(big);
}

static void
test_detached_async_answer_after_close(void)
{
	struct rpc_conn *c = rpc_conn_create_detached();
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_later\"}";

	CU_ASSERT_TRUE(rpc_conn_feed(c, req, strlen(req)));
	CU_ASSERT_EQUAL(g_nlater, 1);
	rpc_conn_release_detached(c);
	/* The client is gone: the answer goes nowhere, and nothing is touched after free. */
	answer_later();
}

static void
in_process_cb(void *arg, const json_t *result, int code, const char *msg)
{
	int *out = arg;

	*out = code == 0 ? (int)json_integer_value(result) : code;
}

static void
test_in_process_call(void)
{
	json_t *p = json_pack("{s:i, s:i}", "a", 20, "b", 22);
	int out = 0;

	CU_ASSERT_EQUAL(ftgt_rpc_call("test_add", p, in_process_cb, &out), 0);
	CU_ASSERT_EQUAL(out, 42);
	json_decref(p);
	p = json_pack("{s:s}", "a", "x");
	CU_ASSERT_EQUAL(ftgt_rpc_call("test_add", p, in_process_cb, &out), 0);
	CU_ASSERT_EQUAL(out, FTGT_JSONRPC_ERROR_INVALID_PARAMS);
	json_decref(p);
	CU_ASSERT_EQUAL(ftgt_rpc_call("nope", NULL, in_process_cb, &out), -ENOENT);
	CU_ASSERT_TRUE(ftgt_rpc_method_exists("test_echo_old"));
	CU_ASSERT_FALSE(ftgt_rpc_method_exists("nope"));
}

static void
test_get_methods(void)
{
	json_t *m = ftgt_rpc_get_methods(), *ma = ftgt_rpc_get_methods_ext(true);
	size_t i;

	CU_ASSERT_TRUE(json_array_size(m) >= 5);
	for (i = 1; i < json_array_size(m); i++) {
		CU_ASSERT(strcmp(json_string_value(json_array_get(m, i - 1)),
		                 json_string_value(json_array_get(m, i))) < 0);
	}
	CU_ASSERT_EQUAL(json_array_size(ma), json_array_size(m) + 2); /* + test_echo_old,
									 spdk_get_version */
	json_decref(m);
	json_decref(ma);
}

/* ---- real sockets ------------------------------------------------------------------- */

static char g_sock_path[108];

static int
client_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read one newline-terminated response. */
static json_t *
client_read(int fd)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1) {
		n = recv(fd, buf + len, 1, 0);
		if (n <= 0) {
			return NULL;
		}
		if (buf[len] == '\n') {
			break;
		}
		len++;
	}
	buf[len] = '\0';
	return json_loads(buf, 0, NULL);
}

struct client_ctx {
	int index;
	int ok;
};

static void *
client_thread(void *arg)
{
	struct client_ctx *ctx = arg;
	int fd = client_connect(g_sock_path), i;
	char req[256];

	if (fd < 0) {
		return NULL;
	}
	for (i = 0; i < 50; i++) {
		int len = snprintf(req, sizeof(req),
		                   "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"test_add\","
		                   "\"params\":{\"a\":%d,\"b\":%d}}",
		                   i, ctx->index, i);
		json_t *r;

		/* Split each request in two writes to exercise reassembly across reads. */
		if (send(fd, req, 10, MSG_NOSIGNAL) != 10 ||
		    send(fd, req + 10, len - 10, MSG_NOSIGNAL) != len - 10) {
			break;
		}
		r = client_read(fd);
		if (r != NULL && json_integer_value(json_object_get(r, "id")) == i &&
		    json_integer_value(json_object_get(r, "result")) == ctx->index + i) {
			ctx->ok++;
		}
		json_decref(r);
	}
	close(fd);
	return NULL;
}

static void
poll_for_ms(int ms)
{
	struct timespec ts = {0, 1000 * 1000};
	int i;

	for (i = 0; i < ms; i++) {
		poll_server();
		nanosleep(&ts, NULL);
	}
}

static void
test_socket_concurrent_clients(void)
{
	struct client_ctx ctx[8];
	pthread_t th[8];
	volatile bool done = false;
	int i, loops;
	struct stat st;

	snprintf(g_sock_path, sizeof(g_sock_path), "/tmp/ftgt_rpc_ut.%d.sock", getpid());
	CU_ASSERT_EQUAL_FATAL(ftgt_rpc_server_start(g_sock_path), 0);
	CU_ASSERT_STRING_EQUAL(ftgt_rpc_server_get_path(), g_sock_path);
	CU_ASSERT_EQUAL(ftgt_rpc_server_start(g_sock_path), -EBUSY);
	for (i = 0; i < 8; i++) {
		ctx[i].index = i * 1000;
		ctx[i].ok = 0;
		pthread_create(&th[i], NULL, client_thread, &ctx[i]);
	}
	/* Poll until every client got its 50 answers (bounded: 20 s). */
	for (loops = 0; loops < 20000 && !done; loops++) {
		int total = 0;

		poll_for_ms(1);
		for (i = 0; i < 8; i++) {
			total += ctx[i].ok;
		}
		done = total == 8 * 50;
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(ctx[i].ok, 50);
	}
	poll_for_ms(5);
	CU_ASSERT_EQUAL(stat(g_sock_path, &st), 0);
}

static void
test_socket_disconnect_mid_request(void)
{
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_later\"}";
	int fd = client_connect(g_sock_path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	poll_for_ms(20);
	CU_ASSERT_EQUAL(g_nlater, 1);
	close(fd);
	poll_for_ms(20);
	answer_later(); /* into the void */
	poll_for_ms(5);

	/* A client that half-closes after its request still gets the answer. */
	fd = client_connect(g_sock_path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	shutdown(fd, SHUT_WR);
	poll_for_ms(20);
	CU_ASSERT_EQUAL(g_nlater, 1);
	answer_later();
	poll_for_ms(5);
	{
		json_t *r = client_read(fd);

		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "result")), "late");
		json_decref(r);
	}
	close(fd);
	poll_for_ms(5);
}

/* An answer much larger than the socket buffer goes out in pieces as the client reads. */
static void
test_socket_partial_writes(void)
{
	size_t n = 4 * 1024 * 1024, len, got = 0, cap = n + 1024;
	char *req = malloc(n + 128), *resp = malloc(cap);
	int fd = client_connect(g_sock_path), loops;
	ssize_t r;
	json_t *v;

	if (req == NULL || resp == NULL || fd < 0) {
		CU_FAIL_FATAL("setup");
		return;
	}
	len = (size_t)sprintf(req, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"test_echo\","
	                           "\"params\":{\"s\":\"");
	for (size_t i = 0; i < n; i++) {
		req[len + i] = 'q';
	}
	len += n;
	len += (size_t)sprintf(req + len, "\"}}");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* Send while the server polls (its reads make room in our send buffer). */
	for (got = 0, loops = 0; got < len && loops < 20000; loops++) {
		r = send(fd, req + got, len - got, MSG_NOSIGNAL);
		if (r > 0) {
			got += (size_t)r;
		}
		poll_server();
	}
	CU_ASSERT_EQUAL_FATAL(got, len);
	/* The client does not read for a while: the server keeps what it could not write. */
	poll_for_ms(20);
	got = 0;
	for (loops = 0; loops < 20000 && (got == 0 || resp[got - 1] != '\n'); loops++) {
		r = recv(fd, resp + got, cap - got, 0);
		if (r > 0) {
			got += (size_t)r;
		}
		poll_server();
	}
	CU_ASSERT_FATAL(got > n && resp[got - 1] == '\n');
	resp[got - 1] = '\0';
	v = json_loads(resp, 0, NULL);
	CU_ASSERT_EQUAL(json_string_length(json_object_get(json_object_get(v, "result"), "s")), n);
	json_decref(v);
	close(fd);
	poll_for_ms(2);
	free(req);
	free(resp);
}

static void
test_socket_parse_error_closes(void)
{
	int fd = client_connect(g_sock_path);
	char c;
	json_t *r;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send(fd, "{oops", 5, MSG_NOSIGNAL), 5);
	CU_ASSERT_EQUAL(send(fd, "}", 1, MSG_NOSIGNAL), 1);
	poll_for_ms(10);
	r = client_read(fd);
	CU_ASSERT_EQUAL(error_code(r), FTGT_JSONRPC_ERROR_PARSE_ERROR);
	json_decref(r);
	CU_ASSERT_EQUAL(recv(fd, &c, 1, 0), 0); /* closed by the server */
	close(fd);
}

static void
test_socket_refuse_and_stop(void)
{
	struct stat st;
	int fd = client_connect(g_sock_path);
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"test_count\"}";
	json_t *r;

	CU_ASSERT_FATAL(fd >= 0);
	poll_for_ms(5);
	ftgt_rpc_server_refuse();
	/* New clients are refused; a connected one gets -1 for new requests. */
	CU_ASSERT_EQUAL(client_connect(g_sock_path), -1);
	CU_ASSERT_EQUAL(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	poll_for_ms(10);
	r = client_read(fd);
	CU_ASSERT_EQUAL(error_code(r), FTGT_JSONRPC_ERROR_INVALID_STATE);
	json_decref(r);
	ftgt_rpc_server_stop();
	CU_ASSERT_NOT_EQUAL(stat(g_sock_path, &st), 0);
	CU_ASSERT_PTR_NULL(ftgt_rpc_server_get_path());
	close(fd);
}

static void
test_socket_stale_and_live(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	/* A live listener owns the path: refused. */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", g_sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CU_ASSERT_EQUAL(listen(fd, 4), 0);
	CU_ASSERT_EQUAL(ftgt_rpc_server_start(g_sock_path), -EADDRINUSE);
	/* Its process died (the file stays): replaced. */
	close(fd);
	CU_ASSERT_EQUAL(ftgt_rpc_server_start(g_sock_path), 0);
	fd = client_connect(g_sock_path);
	CU_ASSERT(fd >= 0);
	close(fd);
	poll_for_ms(2);
	ftgt_rpc_server_stop();
	/* A regular file is never removed. */
	fd = open(g_sock_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CU_ASSERT_EQUAL(ftgt_rpc_server_start(g_sock_path), -EEXIST);
	unlink(g_sock_path);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("rpc_server", NULL, NULL);
	CU_add_test(s, "split at every offset", test_split_every_offset);
	CU_add_test(s, "several requests in one read", test_several_in_one_read);
	CU_add_test(s, "batch and notifications", test_batch_and_notifications);
	CU_add_test(s, "error codes", test_error_codes);
	CU_add_test(s, "error message cut inside UTF-8", test_error_message_cut_in_utf8);
	CU_add_test(s, "malformed JSON", test_malformed);
	CU_add_test(s, "big request and cap", test_big_request);
	CU_add_test(s, "async answer after close", test_detached_async_answer_after_close);
	CU_add_test(s, "in-process call", test_in_process_call);
	CU_add_test(s, "get methods", test_get_methods);
	CU_add_test(s, "socket: concurrent clients", test_socket_concurrent_clients);
	CU_add_test(s, "socket: disconnect mid-request", test_socket_disconnect_mid_request);
	CU_add_test(s, "socket: partial writes", test_socket_partial_writes);
	CU_add_test(s, "socket: parse error closes", test_socket_parse_error_closes);
	CU_add_test(s, "socket: refuse and stop", test_socket_refuse_and_stop);
	CU_add_test(s, "socket: stale and live files", test_socket_stale_and_live);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
