/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON-RPC server: a UNIX stream socket served by one poller on the app thread.
 *
 * A client's byte stream is a sequence of JSON values (objects or batch arrays),
 * with no other framing. A small scanner finds where each top-level value ends
 * (bracket depth outside strings), so a request split over many reads is scanned once
 * and parsed once (jansson gets the exact span); bytes that cannot start a value, a
 * value jansson rejects, or one longer than the cap end the connection after a -32700
 * answer, since the stream cannot be resynchronised.
 *
 * Connections are reference counted: the socket holds one reference, every request
 * and batch in flight holds one, so a client that goes away while a handler is still
 * working costs nothing but a dropped answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "rpc_internal.h"

FTGT_LOG_REGISTER_COMPONENT(rpc)

#define RPC_POLL_PERIOD_US    1000
#define RPC_MAX_EVENTS        64
#define RPC_MAX_CONNS         1024
#define RPC_READ_CHUNK        (64 * 1024)
#define RPC_READ_BUDGET       (4 * 1024 * 1024)  /* bytes read per client per poll */
#define RPC_REQUEST_BUDGET    128                /* requests started per client per poll */
#define RPC_OUTPUT_HIGH_WATER (16 * 1024 * 1024) /* stop reading while this much is unsent */

struct rpc_buf {
	char *data;
	size_t head; /* first unconsumed byte */
	size_t len;  /* end of data */
	size_t cap;
};

struct rpc_conn {
	int fd;
	unsigned int refs;
	unsigned int inflight; /* requests and batches not yet answered */
	bool detached;         /* no socket: output stays in `out` (unit tests) */
	bool in_epoll;
	bool eof;     /* the peer will send no more */
	bool closing; /* close once `out` is written (after a parse error) */
	bool dead;    /* socket closed; answers are dropped */
	bool failed;  /* a read or write failed: close now */
	struct rpc_buf in;
	struct rpc_buf out;
	/* Scanner state; offsets index in.data. */
	size_t scan_pos;
	size_t vstart;
	unsigned int depth;
	bool value_open;
	bool in_str;
	bool esc;
	TAILQ_ENTRY(rpc_conn) link;
};

struct rpc_batch {
	struct rpc_conn *conn;
	json_t *responses;
	unsigned int pending; /* members not answered, plus one while dispatching */
};

struct rpc_server {
	int listen_fd;
	int epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ftgt_poller *poller;
	dev_t sock_dev; /* the socket file we created: only that one is removed */
	ino_t sock_ino;
	unsigned int nconns;
	TAILQ_HEAD(, rpc_conn) conns;
};

static struct rpc_server *g_server;
static bool g_refusing;
static size_t g_max_request_bytes = FTGT_RPC_MAX_REQUEST_BYTES;

void
rpc_server_set_max_request_bytes(size_t bytes)
{
	g_max_request_bytes = bytes;
}

bool
rpc_server_is_refusing(void)
{
	return g_refusing;
}

const char *
ftgt_rpc_server_get_path(void)
{
	return g_server != NULL ? g_server->path : NULL;
}

/* ---- buffers ------------------------------------------------------------------------ */

/* Make room for `need` more bytes at the end; moves data to the front when useful. */
static int
rpc_buf_reserve(struct rpc_buf *b, size_t need, size_t *moved)
{
	size_t cap;
	char *p;

	*moved = 0;
	if (b->cap - b->len >= need) {
		return 0;
	}
	if (b->head > 0) {
		memmove(b->data, b->data + b->head, b->len - b->head);
		*moved = b->head;
		b->len -= b->head;
		b->head = 0;
		if (b->cap - b->len >= need) {
			return 0;
		}
	}
	cap = b->cap ? b->cap : RPC_READ_CHUNK;
	while (cap - b->len < need) {
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (p == NULL) {
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static void
rpc_buf_free(struct rpc_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- connections -------------------------------------------------------------------- */

static void
rpc_conn_get(struct rpc_conn *c)
{
	c->refs++;
}

static void
rpc_conn_put(struct rpc_conn *c)
{
	if (--c->refs > 0) {
		return;
	}
	rpc_buf_free(&c->in);
	rpc_buf_free(&c->out);
	free(c);
}

static void
rpc_conn_stop_reading(struct rpc_conn *c)
{
	if (c->in_epoll && g_server != NULL) {
		epoll_ctl(g_server->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	}
	c->in_epoll = false;
}

/* Close the socket and drop the socket's reference; requests in flight keep the rest. */
static void
rpc_conn_close(struct rpc_conn *c)
{
	if (c->dead) {
		return;
	}
	FTGT_DEBUGLOG(rpc, "client fd %d closed (%u requests in flight)\n", c->fd, c->inflight);
	rpc_conn_stop_reading(c);
	if (c->fd >= 0) {
		close(c->fd);
	}
	c->fd = -1;
	c->dead = true;
	rpc_buf_free(&c->in);
	rpc_buf_free(&c->out);
	if (g_server != NULL && !c->detached) {
		TAILQ_REMOVE(&g_server->conns, c, link);
		g_server->nconns--;
	}
	rpc_conn_put(c);
}

static void
rpc_conn_write_json(struct rpc_conn *c, const json_t *v)
{
	size_t n, moved;
	char *s;

	if (c->dead) {
		return;
	}
	s = json_dumps(v, JSON_COMPACT);
	if (s == NULL) {
		FTGT_ERRLOG("rpc: out of memory encoding a response\n");
		c->failed = true;
		return;
	}
	n = strlen(s);
	if (rpc_buf_reserve(&c->out, n + 2, &moved) != 0) {
		FTGT_ERRLOG("rpc: out of memory queueing a response of %zu bytes\n", n);
		c->failed = true;
		free(s);
		return;
	}
	memcpy(c->out.data + c->out.len, s, n);
	c->out.data[c->out.len + n] = '\n';
	c->out.len += n + 1;
	free(s);
}

/* Write what is pending without blocking: 0, or -errno when the peer is gone. */
static int
rpc_conn_flush(struct rpc_conn *c)
{
	ssize_t n;

	if (c->dead || c->detached) {
		return 0;
	}
	while (c->out.head < c->out.len) {
		n = send(c->fd, c->out.data + c->out.head, c->out.len - c->out.head,
		         MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out.head += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 0;
		}
		return n < 0 ? -errno : -EIO;
	}
	c->out.head = 0;
	c->out.len = 0;
	return 0;
}

static bool
rpc_conn_has_output(const struct rpc_conn *c)
{
	return c->out.len > c->out.head;
}

/* Answer with id null (parse errors, invalid requests whose id is unusable). */
static void
rpc_conn_send_null_id_error(struct rpc_conn *c, int code, const char *msg)
{
	json_t *resp = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error",
	                         "code", code, "message", msg);

	if (resp != NULL) {
		rpc_conn_write_json(c, resp);
		json_decref(resp);
	}
}

static void
rpc_conn_parse_error(struct rpc_conn *c, const char *msg)
{
	FTGT_DEBUGLOG(rpc, "client fd %d: %s\n", c->fd, msg);
	rpc_conn_send_null_id_error(c, FTGT_JSONRPC_ERROR_PARSE_ERROR, msg);
	c->closing = true;
	c->in.head = c->in.len;
	c->value_open = false;
	c->scan_pos = c->in.len;
	if (!c->detached) {
		rpc_conn_stop_reading(c);
	}
}

/* ---- batches and dispatch ----------------------------------------------------------- */

static void
rpc_batch_put(struct rpc_batch *b)
{
	struct rpc_conn *c = b->conn;

	if (--b->pending > 0) {
		return;
	}
	/* A batch of notifications only gets no answer at all (JSON-RPC 2.0, 6). */
	if (json_array_size(b->responses) > 0) {
		rpc_conn_write_json(c, b->responses);
	}
	json_decref(b->responses);
	free(b);
	c->inflight--;
	rpc_conn_put(c);
}

void
rpc_server_complete(struct ftgt_rpc_request *req, json_t *response)
{
	struct rpc_conn *c = req->conn;

	if (req->batch != NULL) {
		if (response != NULL) {
			json_array_append_new(req->batch->responses, response);
		}
		rpc_batch_put(req->batch);
	} else if (response != NULL) {
		rpc_conn_write_json(c, response);
		json_decref(response);
	}
	c->inflight--;
	rpc_conn_put(c);
}

static struct ftgt_rpc_request *
rpc_request_new(struct rpc_conn *c, struct rpc_batch *batch, json_t *id)
{
	struct ftgt_rpc_request *req = rpc_request_alloc();

	if (req == NULL) {
		return NULL;
	}
	req->from_socket = true;
	req->id = id != NULL ? json_incref(id) : NULL;
	req->conn = c;
	req->batch = batch;
	if (batch != NULL) {
		batch->pending++;
	}
	c->inflight++;
	rpc_conn_get(c);
	return req;
}

static void
rpc_dispatch_invalid(struct rpc_conn *c, struct rpc_batch *batch, json_t *id, const char *msg)
{
	json_t *null_id = json_null();
	struct ftgt_rpc_request *req = rpc_request_new(c, batch, id != NULL ? id : null_id);

	json_decref(null_id);
	if (req == NULL) {
		c->failed = true;
		return;
	}
	ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_REQUEST, "%s", msg);
}

static void
rpc_dispatch_one(struct rpc_conn *c, json_t *v, struct rpc_batch *batch)
{
	json_t *id, *ver, *method, *params;
	struct ftgt_rpc_request *req;
	ftgt_rpc_handler handler;
	const char *name;

	if (!json_is_object(v)) {
		rpc_dispatch_invalid(c, batch, NULL, "invalid request: expected an object");
		return;
	}
	id = json_object_get(v, "id");
	if (id != NULL && !json_is_string(id) && !json_is_number(id) && !json_is_null(id)) {
		rpc_dispatch_invalid(c, batch, NULL,
		                     "invalid request: 'id' must be a string, a number or null");
		return;
	}
	ver = json_object_get(v, "jsonrpc");
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) {
		rpc_dispatch_invalid(c, batch, id, "invalid request: 'jsonrpc' must be \"2.0\"");
		return;
	}
	method = json_object_get(v, "method");
	if (!json_is_string(method)) {
		rpc_dispatch_invalid(c, batch, id, "invalid request: 'method' must be a string");
		return;
	}
	params = json_object_get(v, "params");
	if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
		rpc_dispatch_invalid(c, batch, id,
		                     "invalid request: 'params' must be an object or an array");
		return;
	}
	req = rpc_request_new(c, batch, id);
	if (req == NULL) {
		c->failed = true;
		return;
	}
	name = json_string_value(method);
	FTGT_DEBUGLOG(rpc, "client fd %d: method '%s'\n", c->fd, name);
	handler = rpc_method_find(name);
	if (g_refusing) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_STATE,
		                    "method '%s' refused: shutting down", name);
	} else if (handler == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_METHOD_NOT_FOUND,
		                    "method '%s' not found", name);
	} else {
		handler(req, params);
	}
}

static void
rpc_conn_handle_value(struct rpc_conn *c, json_t *v)
{
	struct rpc_batch *batch;
	json_t *e;
	size_t i;

	if (!json_is_array(v)) {
		rpc_dispatch_one(c, v, NULL);
		return;
	}
	if (json_array_size(v) == 0) {
		rpc_conn_send_null_id_error(c, FTGT_JSONRPC_ERROR_INVALID_REQUEST,
		                            "invalid request: empty batch");
		return;
	}
	batch = calloc(1, sizeof(*batch));
	if (batch == NULL || (batch->responses = json_array()) == NULL) {
		free(batch);
		c->failed = true;
		return;
	}
	batch->conn = c;
	batch->pending = 1;
	c->inflight++;
	rpc_conn_get(c);
	json_array_foreach(v, i, e)
	{
		rpc_dispatch_one(c, e, batch);
	}
	rpc_batch_put(batch);
}

/* ---- framing ------------------------------------------------------------------------ */

/*
 * Find the next complete top-level value: 1 with its span, 0 when more bytes are
 * needed, -1 when a byte cannot start a request. Resumes where the last call stopped.
 */
static int
rpc_frame_next(struct rpc_conn *c, size_t *start, size_t *len)
{
	const char *d = c->in.data;
	size_t pos;
	char ch;

	for (pos = c->scan_pos; pos < c->in.len; pos++) {
		ch = d[pos];
		if (!c->value_open) {
			if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
				c->in.head = pos + 1;
				continue;
			}
			if (ch != '{' && ch != '[') {
				c->scan_pos = pos;
				return -1;
			}
			c->value_open = true;
			c->vstart = pos;
			c->depth = 1;
			c->in_str = false;
			c->esc = false;
			continue;
		}
		if (c->in_str) {
			if (c->esc) {
				c->esc = false;
			} else if (ch == '\\') {
				c->esc = true;
			} else if (ch == '"') {
				c->in_str = false;
			}
			continue;
		}
		switch (ch) {
		case '"':
			c->in_str = true;
			break;
		case '{':
		case '[':
			c->depth++;
			break;
		case '}':
		case ']':
			if (--c->depth == 0) {
				*start = c->vstart;
				*len = pos + 1 - c->vstart;
				c->value_open = false;
				c->scan_pos = pos + 1;
				c->in.head = pos + 1;
				return 1;
			}
			break;
		default:
			break;
		}
	}
	c->scan_pos = pos;
	return 0;
}

static void
rpc_conn_process(struct rpc_conn *c, unsigned int budget)
{
	char msg[256];
	json_error_t jerr;
	size_t start, len;
	json_t *v;
	int rc;

	while (budget-- > 0 && !c->closing && !c->dead && !c->failed) {
		rc = rpc_frame_next(c, &start, &len);
		if (rc == 0) {
			if (c->value_open && c->in.len - c->vstart > g_max_request_bytes) {
				snprintf(msg, sizeof(msg),
				         "parse error: request larger than %zu bytes",
				         g_max_request_bytes);
				rpc_conn_parse_error(c, msg);
			}
			break;
		}
		if (rc < 0) {
			snprintf(msg, sizeof(msg),
			         "parse error: expected '{' or '[' at the start of a request, "
			         "got 0x%02x",
			         (unsigned char)c->in.data[c->scan_pos]);
			rpc_conn_parse_error(c, msg);
			break;
		}
		if (len > g_max_request_bytes) {
			snprintf(msg, sizeof(msg), "parse error: request larger than %zu bytes",
			         g_max_request_bytes);
			rpc_conn_parse_error(c, msg);
			break;
		}
		v = json_loadb(c->in.data + start, len, 0, &jerr);
		if (v == NULL) {
			snprintf(msg, sizeof(msg), "parse error: %s (line %d, column %d)",
			         jerr.text, jerr.line, jerr.column);
			rpc_conn_parse_error(c, msg);
			break;
		}
		rpc_conn_handle_value(c, v);
		json_decref(v);
	}
	if (c->dead) {
		return;
	}
	/* Drop consumed input once nothing is buffered, so the buffer does not creep. */
	if (c->in.head == c->in.len && !c->value_open) {
		c->in.head = 0;
		c->in.len = 0;
		c->scan_pos = 0;
	}
}

static bool
rpc_conn_has_input(const struct rpc_conn *c)
{
	return c->scan_pos < c->in.len;
}

static struct rpc_conn *
rpc_conn_new(int fd)
{
	struct rpc_conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return NULL;
	}
	c->fd = fd;
	c->refs = 1;
	return c;
}

/* ---- unit-test hooks ---------------------------------------------------------------- */

struct rpc_conn *
rpc_conn_create_detached(void)
{
	struct rpc_conn *c = rpc_conn_new(-1);

	if (c != NULL) {
		c->detached = true;
	}
	return c;
}

bool
rpc_conn_feed(struct rpc_conn *c, const void *data, size_t len)
{
	size_t moved;

	if (c->closing || c->dead) {
		return false;
	}
	if (len == 0) {
		return true;
	}
	if (rpc_buf_reserve(&c->in, len, &moved) != 0) {
		return false;
	}
	c->scan_pos -= moved;
	c->vstart -= c->value_open ? moved : 0;
	memcpy(c->in.data + c->in.len, data, len);
	c->in.len += len;
	while (rpc_conn_has_input(c) && !c->closing) {
		size_t before = c->scan_pos;

		rpc_conn_process(c, RPC_REQUEST_BUDGET);
		if (c->scan_pos == before && !c->closing) {
			break;
		}
	}
	return !c->closing;
}

char *
rpc_conn_take_output(struct rpc_conn *c)
{
	size_t n = c->out.len - c->out.head;
	char *s = malloc(n + 1);

	if (s == NULL) {
		return NULL;
	}
	if (n > 0) {
		memcpy(s, c->out.data + c->out.head, n);
	}
	s[n] = '\0';
	c->out.head = 0;
	c->out.len = 0;
	return s;
}

void
rpc_conn_release_detached(struct rpc_conn *c)
{
	c->dead = true;
	rpc_conn_put(c);
}

/* ---- socket side -------------------------------------------------------------------- */

static void
rpc_server_accept(struct rpc_server *s)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct rpc_conn *c;
	int fd, i;

	for (i = 0; i < 32; i++) {
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				FTGT_ERRLOG("rpc: accept on %s: %s\n", s->path, strerror(errno));
			}
			return;
		}
		if (g_refusing || s->nconns >= RPC_MAX_CONNS) {
			close(fd);
			continue;
		}
		c = rpc_conn_new(fd);
		if (c == NULL) {
			close(fd);
			continue;
		}
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->in_epoll = true;
		TAILQ_INSERT_TAIL(&s->conns, c, link);
		s->nconns++;
		FTGT_DEBUGLOG(rpc, "client fd %d connected\n", fd);
	}
}

static bool
rpc_conn_read(struct rpc_conn *c)
{
	size_t total = 0, moved;
	ssize_t n;

	while (total < RPC_READ_BUDGET && !c->eof && !c->closing) {
		if (rpc_buf_reserve(&c->in, RPC_READ_CHUNK, &moved) != 0) {
			FTGT_ERRLOG("rpc: out of memory reading a request\n");
			c->failed = true;
			break;
		}
		c->scan_pos -= moved;
		c->vstart -= c->value_open ? moved : 0;
		n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
		if (n > 0) {
			c->in.len += (size_t)n;
			total += (size_t)n;
			/* Stop early when a request outgrew the cap; processing answers it. */
			if (c->value_open && c->in.len - c->vstart > g_max_request_bytes) {
				break;
			}
			continue;
		}
		if (n == 0) {
			c->eof = true;
			rpc_conn_stop_reading(c);
			break;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->failed = true;
		}
		break;
	}
	return total > 0 || c->eof;
}

int
rpc_server_poll(void *ctx)
{
	struct rpc_server *s = ctx;
	struct epoll_event evs[RPC_MAX_EVENTS];
	struct rpc_conn *c, *tmp;
	int n, i, busy = 0;

	n = epoll_wait(s->epfd, evs, RPC_MAX_EVENTS, 0);
	for (i = 0; i < n; i++) {
		c = evs[i].data.ptr;
		if (c == NULL) {
			rpc_server_accept(s);
			busy = 1;
			continue;
		}
		if (c->out.len - c->out.head >= RPC_OUTPUT_HIGH_WATER) {
			continue; /* the client is not reading its answers: wait */
		}
		if (rpc_conn_read(c)) {
			busy = 1;
		}
	}
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = tmp) {
		rpc_conn_get(c);
		if (!c->failed && rpc_conn_has_input(c) &&
		    c->out.len - c->out.head < RPC_OUTPUT_HIGH_WATER) {
			rpc_conn_process(c, RPC_REQUEST_BUDGET);
			busy = 1;
		}
		if (!c->failed && rpc_conn_has_output(c)) {
			if (rpc_conn_flush(c) != 0) {
				c->failed = true;
			}
			busy = 1;
		}
		tmp = TAILQ_NEXT(c, link);
		if (c->failed || (c->closing && !rpc_conn_has_output(c)) ||
		    (c->eof && c->inflight == 0 && !rpc_conn_has_input(c) &&
		     !rpc_conn_has_output(c))) {
			rpc_conn_close(c);
		}
		rpc_conn_put(c);
	}
	return busy ? FTGT_POLLER_BUSY : FTGT_POLLER_IDLE;
}

void
rpc_server_flush(void)
{
	struct rpc_conn *c;

	if (g_server == NULL) {
		return;
	}
	TAILQ_FOREACH (c, &g_server->conns, link) {
		if (rpc_conn_flush(c) != 0) {
			c->failed = true;
		}
	}
}

void
ftgt_rpc_server_flush_all(void)
{
	rpc_server_flush();
}

static int
rpc_server_listen(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, probe, rc;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		rc = -errno;
		if (rc != -EADDRINUSE) {
			FTGT_ERRLOG("rpc: cannot bind %s: %s\n", path, strerror(-rc));
			goto err_close;
		}
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			FTGT_ERRLOG("rpc: %s exists and is not a socket\n", path);
			rc = -EEXIST;
			goto err_close;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			rc = -errno;
			goto err_close;
		}
		rc = connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0 ? 0 : -errno;
		close(probe);
		if (rc != -ECONNREFUSED && rc != -ENOENT) {
			/* Connected, or a full backlog: a live server owns the path. */
			FTGT_ERRLOG("rpc: %s is in use by another process\n", path);
			rc = -EADDRINUSE;
			goto err_close;
		}
		/* A socket file left by a process that died: replace it. */
		FTGT_NOTICELOG("rpc: replacing stale socket %s\n", path);
		unlink(path);
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
			rc = -errno;
			FTGT_ERRLOG("rpc: cannot bind %s: %s\n", path, strerror(-rc));
			goto err_close;
		}
	}
	if (listen(fd, 128) != 0) {
		rc = -errno;
		unlink(path);
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return rc;
}

/*
 * Remove our socket file, unless it is no longer ours: once we stopped listening, a new
 * server may have found the path stale and replaced it.
 */
static void
rpc_server_unlink(struct rpc_server *s)
{
	struct stat st;

	if (lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev && st.st_ino == s->sock_ino) {
		unlink(s->path);
	}
}

int
ftgt_rpc_server_start(const char *path)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	struct rpc_server *s;
	struct stat st;
	int rc;

	if (g_server != NULL) {
		return -EBUSY;
	}
	if (path == NULL) {
		path = FTGT_RPC_DEFAULT_SOCKET;
	}
	if (path[0] == '\0' || strlen(path) >= sizeof(s->path)) {
		FTGT_ERRLOG("rpc: socket path '%s' is empty or too long\n", path);
		return -ENAMETOOLONG;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return -ENOMEM;
	}
	TAILQ_INIT(&s->conns);
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		rc = -errno;
		goto err_free;
	}
	s->listen_fd = rpc_server_listen(path);
	if (s->listen_fd < 0) {
		rc = s->listen_fd;
		goto err_close_ep;
	}
	if (lstat(path, &st) == 0) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
	}
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) != 0) {
		rc = -errno;
		goto err_close_listen;
	}
	s->poller = ftgt_poller_register(rpc_server_poll, s, RPC_POLL_PERIOD_US, "rpc_server");
	if (s->poller == NULL) {
		rc = -ENOMEM;
		goto err_close_listen;
	}
	g_refusing = false;
	g_server = s;
	FTGT_INFOLOG("rpc: listening on %s\n", path);
	return 0;

err_close_listen:
	close(s->listen_fd);
	unlink(path);
err_close_ep:
	close(s->epfd);
err_free:
	free(s);
	return rc;
}

void
ftgt_rpc_server_refuse(void)
{
	g_refusing = true;
	if (g_server != NULL && g_server->listen_fd >= 0) {
		epoll_ctl(g_server->epfd, EPOLL_CTL_DEL, g_server->listen_fd, NULL);
		close(g_server->listen_fd);
		g_server->listen_fd = -1;
	}
}

void
ftgt_rpc_server_stop(void)
{
	struct rpc_server *s = g_server;
	struct rpc_conn *c;

	if (s == NULL) {
		return;
	}
	/* Best effort: answers already queued reach clients that are reading. */
	rpc_server_flush();
	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		rpc_conn_close(c);
	}
	ftgt_poller_unregister(&s->poller);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
	}
	close(s->epfd);
	rpc_server_unlink(s);
	g_server = NULL;
	free(s);
}
