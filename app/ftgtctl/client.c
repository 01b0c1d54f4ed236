/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One JSON-RPC 2.0 call over ftgtd's UNIX stream socket: connect, write the request,
 * read until one complete JSON value has arrived (it may come in several pieces), all
 * within one deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ftgtctl.h"

/* An answer larger than this is refused rather than eating all memory. */
#define CTL_MAX_RESPONSE_BYTES (512u * 1024 * 1024)
#define CTL_REQUEST_ID         1

static int64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before the deadline for poll() (-1: none; 0: expired). */
static int
ctl_poll_timeout(int64_t deadline_ms)
{
	int64_t left;

	if (deadline_ms < 0) {
		return -1;
	}
	left = deadline_ms - ctl_now_ms();
	if (left <= 0) {
		return 0;
	}
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

static void
ctl_timeout_msg(const struct ctl_opts *opts, const char *method)
{
	fprintf(stderr,
	        "ftgtctl: %s: no answer from %s within %g s (timed out; -t SECONDS waits "
	        "longer)\n",
	        method, opts->socket_path, opts->timeout_ms / 1000.0);
}

static int
ctl_connect(const struct ctl_opts *opts, const char *method, int64_t deadline_ms, int *fd_out)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, err;

	if (strlen(opts->socket_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "ftgtctl: socket path too long: %s\n", opts->socket_path);
		return CTL_EXIT_USAGE;
	}
	strcpy(addr.sun_path, opts->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		fprintf(stderr, "ftgtctl: socket: %s\n", strerror(errno));
		return CTL_EXIT_CONNECT;
	}
	/*
	 * Non-blocking: a daemon that stopped accepting fills its backlog, and a blocking
	 * connect() would then wait forever. EAGAIN means "backlog full": retry until the
	 * deadline.
	 */
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		err = errno;
		if (err == EINTR) {
			continue;
		}
		if (err == EAGAIN && ctl_poll_timeout(deadline_ms) != 0) {
			poll(NULL, 0, 10);
			continue;
		}
		close(fd);
		if (err == EAGAIN) {
			ctl_timeout_msg(opts, method);
			return CTL_EXIT_TIMEOUT;
		}
		fprintf(stderr,
		        "ftgtctl: cannot connect to %s: %s (is ftgtd running? use -s PATH)\n",
		        opts->socket_path, strerror(err));
		return CTL_EXIT_CONNECT;
	}
	*fd_out = fd;
	return CTL_EXIT_OK;
}

static int
ctl_send_all(const struct ctl_opts *opts, const char *method, int fd, const char *buf, size_t len,
             int64_t deadline_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	ssize_t n;
	int rc;

	while (len > 0) {
		rc = poll(&pfd, 1, ctl_poll_timeout(deadline_ms));
		if (rc < 0 && errno == EINTR) {
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "ftgtctl: %s: poll: %s\n", method, strerror(errno));
			return CTL_EXIT_ERROR;
		}
		if (rc == 0) {
			ctl_timeout_msg(opts, method);
			return CTL_EXIT_TIMEOUT;
		}
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "ftgtctl: %s: sending the request to %s: %s\n", method,
			        opts->socket_path, strerror(errno));
			return CTL_EXIT_ERROR;
		}
		buf += n;
		len -= (size_t)n;
	}
	return CTL_EXIT_OK;
}

/*
 * Try to parse one JSON value from buf. Returns 1 (parsed: *out), 0 (incomplete: read
 * more) or -1 (invalid: message in err).
 */
static int
ctl_try_parse(const char *buf, size_t len, bool at_eof, json_t **out, json_error_t *err)
{
	size_t i, last;

	for (i = 0; i < len && strchr(" \t\r\n", buf[i]) != NULL; i++) {
	}
	if (i == len) {
		return 0;
	}
	for (last = len - 1; last > i && strchr(" \t\r\n", buf[last]) != NULL; last--) {
	}
	/*
	 * An object or array can only be complete when it ends with '}' or ']': parse only
	 * then (or at EOF), so a large answer read in many pieces is not parsed once per
	 * piece. Anything else is not a JSON-RPC response and fails at once.
	 */
	if ((buf[i] == '{' || buf[i] == '[') && buf[last] != '}' && buf[last] != ']' && !at_eof) {
		return 0;
	}
	*out = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, err);
	if (*out != NULL) {
		return 1;
	}
	if (json_error_code(err) == json_error_premature_end_of_input) {
		return 0;
	}
	/*
	 * A number at the very end ("...: 12") parses as complete-but-cut only when more
	 * bytes arrive; jansson reports other errors at the end of a cut buffer too, so an
	 * error at the last byte means "incomplete".
	 */
	if (err->position >= (int)len) {
		return 0;
	}
	return -1;
}

static int
ctl_recv_response(const struct ctl_opts *opts, const char *method, int fd, int64_t deadline_ms,
                  int flags, json_t **resp)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t len = 0, cap = 64 * 1024;
	char *buf, *nbuf;
	json_error_t jerr;
	ssize_t n;
	int rc, prc;

	*resp = NULL;
	buf = malloc(cap);
	if (buf == NULL) {
		fprintf(stderr, "ftgtctl: out of memory\n");
		return CTL_EXIT_ERROR;
	}
	for (;;) {
		rc = poll(&pfd, 1, ctl_poll_timeout(deadline_ms));
		if (rc < 0 && errno == EINTR) {
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "ftgtctl: %s: poll: %s\n", method, strerror(errno));
			rc = CTL_EXIT_ERROR;
			break;
		}
		if (rc == 0) {
			ctl_timeout_msg(opts, method);
			rc = CTL_EXIT_TIMEOUT;
			break;
		}
		if (len == cap) {
			if (cap >= CTL_MAX_RESPONSE_BYTES) {
				fprintf(stderr, "ftgtctl: %s: answer larger than %u MiB\n", method,
				        CTL_MAX_RESPONSE_BYTES >> 20);
				rc = CTL_EXIT_ERROR;
				break;
			}
			nbuf = realloc(buf, cap * 2);
			if (nbuf == NULL) {
				fprintf(stderr, "ftgtctl: out of memory\n");
				rc = CTL_EXIT_ERROR;
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "ftgtctl: %s: reading the answer from %s: %s\n", method,
			        opts->socket_path, strerror(errno));
			rc = CTL_EXIT_ERROR;
			break;
		}
		if (n == 0) {
			if (len == 0 && (flags & CTL_CALL_EOF_OK)) {
				rc = CTL_EXIT_OK;
				break;
			}
			prc = ctl_try_parse(buf, len, true, resp, &jerr);
			if (prc == 1) {
				rc = CTL_EXIT_OK;
				break;
			}
			if (prc < 0) {
				fprintf(stderr, "ftgtctl: %s: the answer is not valid JSON: %s\n",
				        method, jerr.text);
				rc = CTL_EXIT_ERROR;
				break;
			}
			fprintf(stderr,
			        "ftgtctl: %s: %s closed the connection before a complete "
			        "answer (%zu bytes received)\n",
			        method, opts->socket_path, len);
			rc = CTL_EXIT_ERROR;
			break;
		}
		len += (size_t)n;
		prc = ctl_try_parse(buf, len, false, resp, &jerr);
		if (prc == 1) {
			rc = CTL_EXIT_OK;
			break;
		}
		if (prc < 0) {
			fprintf(stderr, "ftgtctl: %s: the answer is not valid JSON: %s\n", method,
			        jerr.text);
			rc = CTL_EXIT_ERROR;
			break;
		}
	}
	free(buf);
	return rc;
}

/* Checks the envelope; steals nothing. Returns the exit code. */
static int
ctl_check_response(const char *method, json_t *resp, json_t **result)
{
	json_t *err, *res, *id, *code, *msg;
	char *text;

	if (!json_is_object(resp)) {
		fprintf(stderr, "ftgtctl: %s: the answer is not a JSON-RPC response object\n",
		        method);
		return CTL_EXIT_ERROR;
	}
	id = json_object_get(resp, "id");
	err = json_object_get(resp, "error");
	res = json_object_get(resp, "result");
	if (err != NULL && !json_is_null(err)) {
		code = json_object_get(err, "code");
		msg = json_object_get(err, "message");
		if (json_is_string(msg)) {
			fprintf(stderr, "ftgtctl: %s: %s (code %" JSON_INTEGER_FORMAT ")\n", method,
			        json_string_value(msg), json_integer_value(code));
		} else {
			text = json_dumps(err, JSON_COMPACT | JSON_ENCODE_ANY);
			fprintf(stderr, "ftgtctl: %s: %s\n", method, text ? text : "error");
			free(text);
		}
		return CTL_EXIT_ERROR;
	}
	if (res == NULL) {
		fprintf(stderr, "ftgtctl: %s: the answer has neither \"result\" nor \"error\"\n",
		        method);
		return CTL_EXIT_ERROR;
	}
	if (!json_is_integer(id) || json_integer_value(id) != CTL_REQUEST_ID) {
		fprintf(stderr, "ftgtctl: %s: the answer carries another request's id\n", method);
		return CTL_EXIT_ERROR;
	}
	*result = json_incref(res);
	return CTL_EXIT_OK;
}

int
ctl_call(const struct ctl_opts *opts, const char *method, const json_t *params, bool force_params,
         int flags, json_t **result)
{
	json_t *req, *resp = NULL;
	int64_t deadline_ms;
	char *text;
	int fd = -1, rc;

	*result = NULL;
	deadline_ms = opts->timeout_ms < 0 ? -1 : ctl_now_ms() + opts->timeout_ms;
	req = json_pack("{s:s, s:s, s:i}", "jsonrpc", "2.0", "method", method, "id",
	                CTL_REQUEST_ID);
	if (req == NULL) {
		fprintf(stderr, "ftgtctl: out of memory\n");
		return CTL_EXIT_ERROR;
	}
	if (params != NULL &&
	    (force_params || !json_is_object(params) || json_object_size(params))) {
		json_object_set(req, "params", (json_t *)params);
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL) {
		fprintf(stderr, "ftgtctl: out of memory\n");
		return CTL_EXIT_ERROR;
	}
	rc = ctl_connect(opts, method, deadline_ms, &fd);
	if (rc == CTL_EXIT_OK) {
		rc = ctl_send_all(opts, method, fd, text, strlen(text), deadline_ms);
	}
	if (rc == CTL_EXIT_OK) {
		rc = ctl_recv_response(opts, method, fd, deadline_ms, flags, &resp);
	}
	if (rc == CTL_EXIT_OK && resp != NULL) {
		rc = ctl_check_response(method, resp, result);
	}
	json_decref(resp);
	free(text);
	if (fd >= 0) {
		close(fd);
	}
	return rc;
}
