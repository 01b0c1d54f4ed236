/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging. A line is formatted into a stack buffer and written with one write(2), so
 * lines from different reactors never interleave and no lock is needed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/log.h"
#include "ftgt/util.h"

#define LOG_LINE_MAX 1024

/* snprintf returns what it wanted to write; clamp the running offset to the buffer. */
#define FTGT_LOG_MIN_OFF(off, n, size) \
	((n) < 0 ? (off) : ((off) + (size_t)(n) >= (size) ? (size)-1 : (off) + (size_t)(n)))

static enum ftgt_log_level g_log_level = FTGT_LOG_NOTICE;
static bool g_log_to_stderr = true;
static bool g_log_to_syslog;

/*
 * Flags register from constructors (single-threaded, before main) and are only read
 * or toggled afterwards from the management path; the list lock covers toggling.
 */
static struct ftgt_log_flag *g_log_flags;
static pthread_mutex_t g_log_flags_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const g_level_names[] = {
        [FTGT_LOG_ERROR] = "error", [FTGT_LOG_WARN] = "warn",   [FTGT_LOG_NOTICE] = "notice",
        [FTGT_LOG_INFO] = "info",   [FTGT_LOG_DEBUG] = "debug",
};

static const int g_syslog_prio[] = {
        [FTGT_LOG_ERROR] = LOG_ERR, [FTGT_LOG_WARN] = LOG_WARNING, [FTGT_LOG_NOTICE] = LOG_NOTICE,
        [FTGT_LOG_INFO] = LOG_INFO, [FTGT_LOG_DEBUG] = LOG_DEBUG,
};

void
ftgt_log_set_level(enum ftgt_log_level level)
{
	__atomic_store_n(&g_log_level, level, __ATOMIC_RELAXED);
}

enum ftgt_log_level
ftgt_log_get_level(void)
{
	return __atomic_load_n(&g_log_level, __ATOMIC_RELAXED);
}

int
ftgt_log_level_from_str(const char *str, enum ftgt_log_level *level)
{
	if (str == NULL) {
		return -EINVAL;
	}
	if (strcasecmp(str, "disabled") == 0) {
		*level = FTGT_LOG_DISABLED;
		return 0;
	}
	/* SPDK spells it "warning"; accept both. */
	if (strcasecmp(str, "warning") == 0) {
		*level = FTGT_LOG_WARN;
		return 0;
	}
	for (int i = FTGT_LOG_ERROR; i <= FTGT_LOG_DEBUG; i++) {
		if (strcasecmp(str, g_level_names[i]) == 0) {
			*level = (enum ftgt_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
ftgt_log_level_to_str(enum ftgt_log_level level)
{
	if (level < FTGT_LOG_ERROR || level > FTGT_LOG_DEBUG) {
		return "disabled";
	}
	return g_level_names[level];
}

void
ftgt_log_open(const char *ident, bool to_stderr, bool to_syslog)
{
	g_log_to_stderr = to_stderr;
	g_log_to_syslog = to_syslog;
	if (to_syslog) {
		openlog(ident ? ident : "ftgt", LOG_PID, LOG_DAEMON);
	}
}

void
ftgt_log_close(void)
{
	if (g_log_to_syslog) {
		closelog();
		g_log_to_syslog = false;
	}
}

void
ftgt_log_register_flag(struct ftgt_log_flag *flag)
{
	struct ftgt_log_flag **pos;

	pthread_mutex_lock(&g_log_flags_lock);
	/* Keep the list sorted by name so listings are stable. */
	for (pos = &g_log_flags; *pos != NULL; pos = &(*pos)->next) {
		if (strcmp((*pos)->name, flag->name) > 0) {
			break;
		}
	}
	flag->next = *pos;
	*pos = flag;
	pthread_mutex_unlock(&g_log_flags_lock);
}

int
ftgt_log_set_flag(const char *name, bool enabled)
{
	bool all = strcmp(name, "all") == 0;
	int rc = -ENOENT;

	pthread_mutex_lock(&g_log_flags_lock);
	for (struct ftgt_log_flag *f = g_log_flags; f != NULL; f = f->next) {
		if (all || strcmp(f->name, name) == 0) {
			__atomic_store_n(&f->enabled, enabled, __ATOMIC_RELAXED);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&g_log_flags_lock);
	return all ? 0 : rc;
}

bool
ftgt_log_flag_enabled(const char *name)
{
	bool enabled = false;

	pthread_mutex_lock(&g_log_flags_lock);
	for (struct ftgt_log_flag *f = g_log_flags; f != NULL; f = f->next) {
		if (strcmp(f->name, name) == 0) {
			enabled = f->enabled;
			break;
		}
	}
	pthread_mutex_unlock(&g_log_flags_lock);
	return enabled;
}

void
ftgt_log_for_each_flag(void (*fn)(const struct ftgt_log_flag *flag, void *ctx), void *ctx)
{
	pthread_mutex_lock(&g_log_flags_lock);
	for (struct ftgt_log_flag *f = g_log_flags; f != NULL; f = f->next) {
		fn(f, ctx);
	}
	pthread_mutex_unlock(&g_log_flags_lock);
}

void
ftgt_vlog(enum ftgt_log_level level, const char *file, int line, const char *func, const char *fmt,
          va_list ap)
{
	char buf[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t off;
	int n;

	if (level > ftgt_log_get_level() || level < FTGT_LOG_ERROR) {
		return;
	}

	if (g_log_to_syslog) {
		va_list ap2;

		va_copy(ap2, ap);
		n = vsnprintf(buf, sizeof(buf), fmt, ap2);
		va_end(ap2);
		/* syslog adds its own line end: drop ours, or readers see an empty line. */
		off = n < 0 ? 0 : FTGT_MIN((size_t)n, sizeof(buf) - 1);
		while (off > 0 && buf[off - 1] == '\n') {
			buf[--off] = '\0';
		}
		syslog(g_syslog_prio[level], "%s", buf);
	}
	if (!g_log_to_stderr) {
		return;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf),
	             "[%04d-%02d-%02d %02d:%02d:%02d.%06ld] %s: ", tm.tm_year + 1900, tm.tm_mon + 1,
	             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
	             g_level_names[level]);
	off = (size_t)n;
	if (level == FTGT_LOG_DEBUG && file != NULL) {
		const char *base = strrchr(file, '/');

		n = snprintf(buf + off, sizeof(buf) - off, "%s:%d:%s: ", base ? base + 1 : file,
		             line, func);
		off = FTGT_LOG_MIN_OFF(off, n, sizeof(buf));
	}
	n = vsnprintf(buf + off, sizeof(buf) - off, fmt, ap);
	off = FTGT_LOG_MIN_OFF(off, n, sizeof(buf));
	if (off == 0 || buf[off - 1] != '\n') {
		if (off >= sizeof(buf) - 1) {
			off = sizeof(buf) - 2;
		}
		buf[off++] = '\n';
	}
	/* One write per line: concurrent reactors never interleave within a line. */
	while (off > 0) {
		ssize_t w = write(STDERR_FILENO, buf, off);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		break;
	}
}

void
ftgt_log(enum ftgt_log_level level, const char *file, int line, const char *func, const char *fmt,
         ...)
{
	va_list ap;

	va_start(ap, fmt);
	ftgt_vlog(level, file, line, func, fmt, ap);
	va_end(ap);
}

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
ftgt_log_ratelimit_ok(struct ftgt_log_ratelimit *rl)
{
	uint64_t now = monotonic_ms();

	if (now - rl->window_start_ms >= rl->interval_ms) {
		if (rl->suppressed > 0) {
			FTGT_WARNLOG("%lu similar log lines suppressed in the last %lu ms",
			             (unsigned long)rl->suppressed, (unsigned long)rl->interval_ms);
		}
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
