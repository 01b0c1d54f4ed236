/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging: levels, named components for debug output, stderr and/or syslog,
 * and a rate limiter so one misbehaving peer cannot flood the log.
 *
 * Thread safety: every function may be called from any thread. A line is
 * written with one write(2), so lines from different reactors never interleave.
 */
#ifndef FTGT_LOG_H
#define FTGT_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum ftgt_log_level {
	FTGT_LOG_DISABLED = -1,
	FTGT_LOG_ERROR = 0,
	FTGT_LOG_WARN,
	FTGT_LOG_NOTICE,
	FTGT_LOG_INFO,
	FTGT_LOG_DEBUG,
};

/* Lines at or below this level are printed (default NOTICE). */
void ftgt_log_set_level(enum ftgt_log_level level);
enum ftgt_log_level ftgt_log_get_level(void);
/* "error", "warn", "notice", "info", "debug" -> level; -EINVAL otherwise. */
int ftgt_log_level_from_str(const char *str, enum ftgt_log_level *level);
const char *ftgt_log_level_to_str(enum ftgt_log_level level);

/* Where lines go: stderr (default on), syslog (default off). */
void ftgt_log_open(const char *ident, bool to_stderr, bool to_syslog);
void ftgt_log_close(void);

/*
 * Debug components ("bdev", "nvmf_tcp", ...). FTGT_DEBUGLOG lines print only when
 * the level is DEBUG and the component's flag is enabled. "all" names every flag.
 */
struct ftgt_log_flag {
	const char *name;
	bool enabled;
	struct ftgt_log_flag *next;
};
void ftgt_log_register_flag(struct ftgt_log_flag *flag);
int ftgt_log_set_flag(const char *name, bool enabled); /* 0 or -ENOENT */
bool ftgt_log_flag_enabled(const char *name);
/* Calls fn for each registered flag, in name order. */
void ftgt_log_for_each_flag(void (*fn)(const struct ftgt_log_flag *flag, void *ctx), void *ctx);

#define FTGT_LOG_REGISTER_COMPONENT(NAME)                                            \
	struct ftgt_log_flag FTGT_LOG_FLAG_##NAME = {.name = #NAME};                 \
	__attribute__((constructor)) static void ftgt_log_flag_register_##NAME(void) \
	{                                                                            \
		ftgt_log_register_flag(&FTGT_LOG_FLAG_##NAME);                       \
	}

void ftgt_log(enum ftgt_log_level level, const char *file, int line, const char *func,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void ftgt_vlog(enum ftgt_log_level level, const char *file, int line, const char *func,
               const char *fmt, va_list ap);

#define FTGT_ERRLOG(...)    ftgt_log(FTGT_LOG_ERROR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define FTGT_WARNLOG(...)   ftgt_log(FTGT_LOG_WARN, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define FTGT_NOTICELOG(...) ftgt_log(FTGT_LOG_NOTICE, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define FTGT_INFOLOG(...)   ftgt_log(FTGT_LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define FTGT_DEBUGLOG(NAME, ...)                                                             \
	do {                                                                                 \
		extern struct ftgt_log_flag FTGT_LOG_FLAG_##NAME;                            \
		if (__builtin_expect(FTGT_LOG_FLAG_##NAME.enabled, 0)) {                     \
			ftgt_log(FTGT_LOG_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__); \
		}                                                                            \
	} while (0)

/*
 * Rate limiting for errors caused by peers. Each limiter lets `burst` lines through
 * per `interval_ms`, then counts what it drops and reports the count with the next
 * line it lets through. One limiter per connection (or per listener) keeps one host
 * from hiding another's errors. Not thread safe: a limiter belongs to one thread.
 */
struct ftgt_log_ratelimit {
	uint64_t interval_ms;
	uint32_t burst;
	uint32_t printed;
	uint64_t suppressed;
	uint64_t window_start_ms;
};
#define FTGT_LOG_RATELIMIT_INIT(interval, n)            \
	{                                               \
		.interval_ms = (interval), .burst = (n) \
	}
/* True when a line may be printed now. */
bool ftgt_log_ratelimit_ok(struct ftgt_log_ratelimit *rl);

#define FTGT_ERRLOG_RL(rl, fmt, ...)                     \
	do {                                             \
		if (ftgt_log_ratelimit_ok(rl)) {         \
			FTGT_ERRLOG(fmt, ##__VA_ARGS__); \
		}                                        \
	} while (0)

#endif /* FTGT_LOG_H */
