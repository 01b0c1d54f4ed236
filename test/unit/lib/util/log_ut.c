/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests lib/util/log.c: levels, flags, one write per line and the rate limiter. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftgt/log.h"

FTGT_LOG_REGISTER_COMPONENT(log_ut_b)
FTGT_LOG_REGISTER_COMPONENT(log_ut_a)

/* Runs fn with stderr redirected to a temporary file; returns what was written. */
static char *
capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/ftgt_log_ut.XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	static char buf[8192];
	ssize_t n;

	unlink(path);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
emit_levels(void)
{
	FTGT_ERRLOG("an error %d\n", 1);
	FTGT_WARNLOG("a warning\n");
	FTGT_NOTICELOG("a notice\n");
	FTGT_INFOLOG("an info\n");
	FTGT_DEBUGLOG(log_ut_a, "debug a\n");
	FTGT_DEBUGLOG(log_ut_b, "debug b\n");
}

static void
test_levels(void)
{
	char *out;

	ftgt_log_set_level(FTGT_LOG_NOTICE);
	out = capture_stderr(emit_levels);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "error: an error 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "warn: a warning\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "notice: a notice\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "an info"));
	CU_ASSERT_PTR_NULL(strstr(out, "debug"));

	ftgt_log_set_level(FTGT_LOG_ERROR);
	out = capture_stderr(emit_levels);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "an error 1"));
	CU_ASSERT_PTR_NULL(strstr(out, "a warning"));
}

static void
test_debug_flags(void)
{
	char *out;

	ftgt_log_set_level(FTGT_LOG_DEBUG);
	CU_ASSERT_EQUAL(ftgt_log_set_flag("log_ut_a", true), 0);
	CU_ASSERT_TRUE(ftgt_log_flag_enabled("log_ut_a"));
	CU_ASSERT_FALSE(ftgt_log_flag_enabled("log_ut_b"));
	out = capture_stderr(emit_levels);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "debug a\n"));
	/* Debug lines say where they come from. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "log_ut.c:"));
	CU_ASSERT_PTR_NULL(strstr(out, "debug b"));

	CU_ASSERT_EQUAL(ftgt_log_set_flag("no_such_flag", true), -ENOENT);
	CU_ASSERT_EQUAL(ftgt_log_set_flag("all", true), 0);
	CU_ASSERT_TRUE(ftgt_log_flag_enabled("log_ut_b"));
	CU_ASSERT_EQUAL(ftgt_log_set_flag("all", false), 0);
	CU_ASSERT_FALSE(ftgt_log_flag_enabled("log_ut_a"));
	ftgt_log_set_level(FTGT_LOG_NOTICE);
}

static void
collect_flag(const struct ftgt_log_flag *flag, void *ctx)
{
	char *names = ctx;

	if (strncmp(flag->name, "log_ut_", 7) == 0) {
		strcat(names, flag->name);
		strcat(names, " ");
	}
}

static void
test_flags_sorted(void)
{
	char names[256] = "";

	ftgt_log_for_each_flag(collect_flag, names);
	CU_ASSERT_STRING_EQUAL(names, "log_ut_a log_ut_b ");
}

static void
test_level_names(void)
{
	enum ftgt_log_level l;

	CU_ASSERT_EQUAL(ftgt_log_level_from_str("DEBUG", &l), 0);
	CU_ASSERT_EQUAL(l, FTGT_LOG_DEBUG);
	CU_ASSERT_EQUAL(ftgt_log_level_from_str("warning", &l), 0);
	CU_ASSERT_EQUAL(l, FTGT_LOG_WARN);
	CU_ASSERT_EQUAL(ftgt_log_level_from_str("loud", &l), -EINVAL);
	CU_ASSERT_STRING_EQUAL(ftgt_log_level_to_str(FTGT_LOG_INFO), "info");
}

static void
emit_long(void)
{
	char big[4096];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	FTGT_ERRLOG("%s", big);
}

static void
test_long_line_truncated(void)
{
	char *out;

	ftgt_log_set_level(FTGT_LOG_NOTICE);
	out = capture_stderr(emit_long);
	/* Truncated to one buffer, still one line ending in a newline. */
	CU_ASSERT(strlen(out) < 1100);
	CU_ASSERT_EQUAL(out[strlen(out) - 1], '\n');
	CU_ASSERT_PTR_EQUAL(strchr(out, '\n'), out + strlen(out) - 1);
}

static struct ftgt_log_ratelimit g_rl = FTGT_LOG_RATELIMIT_INIT(60000, 3);

static void
emit_burst(void)
{
	for (int i = 0; i < 100; i++) {
		FTGT_ERRLOG_RL(&g_rl, "peer error %d\n", i);
	}
}

static void
test_ratelimit(void)
{
	char *out = capture_stderr(emit_burst);
	int lines = 0;

	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++) {
		lines++;
	}
	CU_ASSERT_EQUAL(lines, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "peer error 2\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "peer error 3\n"));
	CU_ASSERT_EQUAL(g_rl.suppressed, 97);

	/* A new window reports what was dropped, then lets lines through again. */
	g_rl.window_start_ms -= 60000;
	out = capture_stderr(emit_burst);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "97 similar log lines suppressed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "peer error 0\n"));
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("log", NULL, NULL);
	CU_ADD_TEST(s, test_levels);
	CU_ADD_TEST(s, test_debug_flags);
	CU_ADD_TEST(s, test_flags_sorted);
	CU_ADD_TEST(s, test_level_names);
	CU_ADD_TEST(s, test_long_line_truncated);
	CU_ADD_TEST(s, test_ratelimit);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
