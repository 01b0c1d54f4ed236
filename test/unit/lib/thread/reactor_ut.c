/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/thread/reactor.c: two reactors on mask 0x3; a message crosses cores; stop returns. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "ut_common.h"

static uint32_t g_remote_core = FTGT_ENV_CORE_ANY;
static struct ftgt_thread *g_remote_thread;
static uint32_t g_back_core = FTGT_ENV_CORE_ANY;
static int g_round_trips;
static volatile bool g_done;

static void
back_on_main(void *ctx)
{
	g_back_core = ftgt_env_get_current_core();
	g_round_trips++;
	ftgt_reactors_stop();
}

static void
on_remote(void *ctx)
{
	g_remote_core = ftgt_env_get_current_core();
	g_remote_thread = ftgt_get_thread();
	CU_ASSERT(ftgt_thread_send_msg(ftgt_reactor_get_thread(0), back_on_main, NULL) == 0);
}

static void
kick_off(void *ctx)
{
	CU_ASSERT(ftgt_thread_send_msg(ftgt_reactor_get_thread(1), on_remote, NULL) == 0);
}

/* Bounds the test: stops the reactors if the round trip never completes. */
static void *
watchdog(void *arg)
{
	for (int i = 0; i < 200 && !g_done; i++) {
		usleep(50 * 1000);
	}
	ftgt_reactors_stop();
	return NULL;
}

static void
test_reactors(void)
{
	struct ftgt_reactor_stats s0, s1;
	struct ftgt_thread *r0, *r1;
	pthread_t wd;

	CU_ASSERT_FATAL(ftgt_reactors_init() == 0);
	r0 = ftgt_reactor_get_thread(0);
	r1 = ftgt_reactor_get_thread(1);
	CU_ASSERT_FATAL(r0 != NULL && r1 != NULL);
	CU_ASSERT(ftgt_reactor_get_thread(2) == NULL);
	CU_ASSERT(ftgt_thread_get_app_thread() == r0);
	CU_ASSERT(strcmp(ftgt_thread_get_name(r0), "reactor_0") == 0);
	CU_ASSERT(strcmp(ftgt_thread_get_name(r1), "reactor_1") == 0);
	CU_ASSERT(ftgt_thread_get_core(r1) == 1);
	CU_ASSERT(ftgt_reactor_get_stats(2, &s0) != 0);

	CU_ASSERT(ftgt_thread_send_msg(r0, kick_off, NULL) == 0);
	CU_ASSERT_FATAL(pthread_create(&wd, NULL, watchdog, NULL) == 0);
	ftgt_reactors_start();
	g_done = true;
	pthread_join(wd, NULL);

	CU_ASSERT(g_round_trips == 1);
	CU_ASSERT(g_remote_core == 1);
	CU_ASSERT(g_remote_thread == r1);
	CU_ASSERT(g_back_core == 0);
	CU_ASSERT(ftgt_thread_is_exited(r0));
	CU_ASSERT(ftgt_thread_is_exited(r1));
	CU_ASSERT(ftgt_reactor_get_stats(0, &s0) == 0);
	CU_ASSERT(ftgt_reactor_get_stats(1, &s1) == 0);
	CU_ASSERT(s0.core == 0 && s1.core == 1);
	CU_ASSERT(s0.iterations > 0 && s1.iterations > 0);
	CU_ASSERT(s0.busy_tsc > 0 && s1.busy_tsc > 0);
	ftgt_reactors_fini();
	CU_ASSERT(ftgt_thread_get_count() == 0);
}

/* A poller nobody unregisters: its reactor gives up after the exit timeout. */
static struct ftgt_poller *g_leaky;

static int
leaky_poller(void *ctx)
{
	return FTGT_POLLER_IDLE;
}

static void
register_leaky(void *ctx)
{
	g_leaky = ftgt_poller_register(leaky_poller, NULL, 0, "leaky");
	CU_ASSERT(g_leaky != NULL);
	CU_ASSERT(ftgt_thread_send_msg(ftgt_reactor_get_thread(0), back_on_main, NULL) == 0);
}

static void
kick_off_leaky(void *ctx)
{
	CU_ASSERT(ftgt_thread_send_msg(ftgt_reactor_get_thread(1), register_leaky, NULL) == 0);
}

static void
test_reactors_stop_timeout(void)
{
	struct ftgt_thread *r0, *r1;
	uint64_t t0, elapsed_ms;
	pthread_t wd;

	/* Reactors can be set up again after fini; the new main thread is the app thread. */
	CU_ASSERT_FATAL(ftgt_reactors_init() == 0);
	r0 = ftgt_reactor_get_thread(0);
	r1 = ftgt_reactor_get_thread(1);
	CU_ASSERT_FATAL(r0 != NULL && r1 != NULL);
	CU_ASSERT(ftgt_thread_get_app_thread() == r0);
	g_done = false;
	g_round_trips = 0;
	CU_ASSERT(ftgt_thread_send_msg(r0, kick_off_leaky, NULL) == 0);
	CU_ASSERT_FATAL(pthread_create(&wd, NULL, watchdog, NULL) == 0);
	t0 = ftgt_get_ticks();
	ftgt_reactors_start();
	elapsed_ms = (ftgt_get_ticks() - t0) * 1000 / ftgt_get_ticks_hz();
	g_done = true;
	pthread_join(wd, NULL);
	CU_ASSERT(g_round_trips == 1);
	/* Stop returned although reactor 1's thread could not exit (bounded wait). */
	CU_ASSERT(ftgt_thread_is_exited(r0));
	CU_ASSERT(!ftgt_thread_is_exited(r1));
	CU_ASSERT(elapsed_ms >= 1900 && elapsed_ms < 8000);
	ftgt_reactors_fini(); /* destroys r1 with its poller (warning) */
	CU_ASSERT(ftgt_thread_get_count() == 0);
}

static void
add_tests(CU_pSuite suite)
{
	CU_add_test(suite, "reactors", test_reactors);
	CU_add_test(suite, "reactors_stop_timeout", test_reactors_stop_timeout);
}

int
main(void)
{
	return ut_run("reactor", "0x3", 0, add_tests);
}
