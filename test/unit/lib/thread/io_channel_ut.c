/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/thread/io_channel.c: channels created on first get, shared by later gets,
 * destroyed one message after the last put (put+get keeps them), for_each_channel
 * (sync, async continue, early stop) and unregister after the last channel.
 */
#include <errno.h>
#include <string.h>

#include "ut_common.h"

#define NTHREADS 3

struct dev_ctx {
	uint64_t magic;
	struct ftgt_thread *created_on;
};

static int g_dev; /* the io_device: any address */
static int g_creates, g_destroys, g_unregisters;
static struct ftgt_thread *g_destroyed_on, *g_unregistered_on;
static struct ftgt_thread *g_threads[NTHREADS];

static int
dev_create(void *io_device, void *ctx_buf)
{
	struct dev_ctx *c = ctx_buf;

	CU_ASSERT(io_device == &g_dev);
	c->magic = 0x1234;
	c->created_on = ftgt_get_thread();
	g_creates++;
	return 0;
}

static void
dev_destroy(void *io_device, void *ctx_buf)
{
	struct dev_ctx *c = ctx_buf;

	CU_ASSERT(c->magic == 0x1234);
	CU_ASSERT(c->created_on == ftgt_get_thread());
	g_destroyed_on = ftgt_get_thread();
	g_destroys++;
}

static void
dev_unregistered(void *io_device)
{
	CU_ASSERT(io_device == &g_dev);
	g_unregistered_on = ftgt_get_thread();
	g_unregisters++;
}

static void
reset_counts(void)
{
	g_creates = g_destroys = g_unregisters = 0;
	g_destroyed_on = g_unregistered_on = NULL;
}

static void
test_channel_lifecycle(void)
{
	struct ftgt_thread *t = g_threads[0];
	struct ftgt_io_channel *ch, *ch2;
	struct dev_ctx *ctx;

	reset_counts();
	ftgt_io_device_register(&g_dev, dev_create, dev_destroy, sizeof(struct dev_ctx), "dev");
	ftgt_set_thread(t);
	ch = ftgt_get_io_channel(&g_dev);
	CU_ASSERT_FATAL(ch != NULL);
	CU_ASSERT(g_creates == 1);
	ctx = ftgt_io_channel_get_ctx(ch);
	CU_ASSERT(ctx->magic == 0x1234 && ctx->created_on == t);
	CU_ASSERT((uintptr_t)ctx % 64 == 0);
	CU_ASSERT(ftgt_io_channel_from_ctx(ctx) == ch);
	CU_ASSERT(ftgt_io_channel_get_thread(ch) == t);
	CU_ASSERT(ftgt_io_channel_get_io_device(ch) == &g_dev);
	/* Second get: the same channel, a reference more. */
	ch2 = ftgt_get_io_channel(&g_dev);
	CU_ASSERT(ch2 == ch);
	CU_ASSERT(g_creates == 1);
	ftgt_put_io_channel(ch2);
	ftgt_put_io_channel(ch);
	/* Deferred: destroy_cb has not run yet. */
	CU_ASSERT(g_destroys == 0);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_destroys == 1);
	CU_ASSERT(g_destroyed_on == t);

	/* put then get on the same thread, before the message runs: the channel stays. */
	ftgt_set_thread(t);
	ch = ftgt_get_io_channel(&g_dev);
	CU_ASSERT_FATAL(ch != NULL);
	CU_ASSERT(g_creates == 2);
	ftgt_put_io_channel(ch);
	ch2 = ftgt_get_io_channel(&g_dev);
	CU_ASSERT(ch2 == ch);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_destroys == 1 && g_creates == 2);
	ftgt_set_thread(t);
	ftgt_put_io_channel(ch2);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_destroys == 2);

	/* Unregister with no channel: the callback still comes later, by message. */
	ftgt_set_thread(t);
	ftgt_io_device_unregister(&g_dev, dev_unregistered);
	CU_ASSERT(g_unregisters == 0);
	CU_ASSERT(ftgt_get_io_channel(&g_dev) == NULL);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_unregisters == 1 && g_unregistered_on == t);
}

/* for_each_channel */
static struct ftgt_io_channel_iter *g_pending_iter;
static bool g_async;
static int g_stop_status;
static int g_visits, g_cpls, g_cpl_status;
static struct ftgt_thread *g_visit_threads[NTHREADS], *g_cpl_on;

static void
visit_channel(struct ftgt_io_channel_iter *i)
{
	struct ftgt_io_channel *ch = ftgt_io_channel_iter_get_channel(i);

	CU_ASSERT(ftgt_io_channel_iter_get_io_device(i) == &g_dev);
	CU_ASSERT(ftgt_io_channel_iter_get_ctx(i) == &g_visits);
	CU_ASSERT(ftgt_io_channel_get_thread(ch) == ftgt_get_thread());
	g_visit_threads[g_visits++] = ftgt_get_thread();
	if (g_async) {
		g_pending_iter = i;
		return;
	}
	ftgt_for_each_channel_continue(i, g_stop_status);
}

static void
visit_done(struct ftgt_io_channel_iter *i, int status)
{
	g_cpls++;
	g_cpl_status = status;
	g_cpl_on = ftgt_get_thread();
}

static void
for_each_reset(bool async, int stop_status)
{
	g_pending_iter = NULL;
	g_async = async;
	g_stop_status = stop_status;
	g_visits = g_cpls = 0;
	g_cpl_status = 1;
	g_cpl_on = NULL;
	memset(g_visit_threads, 0, sizeof(g_visit_threads));
}

static void
test_for_each_channel(void)
{
	struct ftgt_io_channel *ch0, *ch2;

	reset_counts();
	ftgt_io_device_register(&g_dev, dev_create, dev_destroy, sizeof(struct dev_ctx), "dev");
	/* Channels on threads 0 and 2; none on thread 1. */
	ftgt_set_thread(g_threads[0]);
	ch0 = ftgt_get_io_channel(&g_dev);
	ftgt_set_thread(g_threads[2]);
	ch2 = ftgt_get_io_channel(&g_dev);
	CU_ASSERT_FATAL(ch0 != NULL && ch2 != NULL);

	/* Synchronous: each channel on its own thread, cpl on the caller's. */
	for_each_reset(false, 0);
	ftgt_set_thread(g_threads[1]);
	ftgt_for_each_channel(&g_dev, visit_channel, &g_visits, visit_done);
	ftgt_set_thread(NULL);
	CU_ASSERT(g_visits == 0);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_visits == 2);
	CU_ASSERT(g_visit_threads[0] == g_threads[0] && g_visit_threads[1] == g_threads[2]);
	CU_ASSERT(g_cpls == 1 && g_cpl_status == 0 && g_cpl_on == g_threads[1]);

	/* Asynchronous: continue is called later, on the channel's thread. */
	for_each_reset(true, 0);
	ftgt_set_thread(g_threads[1]);
	ftgt_for_each_channel(&g_dev, visit_channel, &g_visits, visit_done);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_visits == 1 && g_cpls == 0);
	CU_ASSERT_FATAL(g_pending_iter != NULL);
	ftgt_set_thread(g_threads[0]);
	ftgt_for_each_channel_continue(g_pending_iter, 0);
	ftgt_set_thread(NULL);
	g_pending_iter = NULL;
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_visits == 2 && g_cpls == 0);
	CU_ASSERT_FATAL(g_pending_iter != NULL);
	ftgt_set_thread(g_threads[2]);
	ftgt_for_each_channel_continue(g_pending_iter, 0);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_cpls == 1 && g_cpl_status == 0 && g_cpl_on == g_threads[1]);

	/* Early stop: a non-zero status ends the walk and reaches cpl. */
	for_each_reset(false, -ECANCELED);
	ftgt_set_thread(g_threads[0]);
	ftgt_for_each_channel(&g_dev, visit_channel, &g_visits, visit_done);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_visits == 1);
	CU_ASSERT(g_cpls == 1 && g_cpl_status == -ECANCELED && g_cpl_on == g_threads[0]);

	/* Unregister while channels exist: the callback waits for the last one. */
	ftgt_set_thread(g_threads[1]);
	ftgt_io_device_unregister(&g_dev, dev_unregistered);
	CU_ASSERT(ftgt_get_io_channel(&g_dev) == NULL); /* no new channels */
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_unregisters == 0);
	ftgt_set_thread(g_threads[0]);
	ftgt_put_io_channel(ch0);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_destroys == 1 && g_destroyed_on == g_threads[0]);
	CU_ASSERT(g_unregisters == 0);
	ftgt_set_thread(g_threads[2]);
	ftgt_put_io_channel(ch2);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	CU_ASSERT(g_destroys == 2 && g_destroyed_on == g_threads[2]);
	CU_ASSERT(g_unregisters == 1 && g_unregistered_on == g_threads[1]);
}

static void
test_exit_waits_for_channels(void)
{
	struct ftgt_thread *t = ftgt_thread_create("exiting", FTGT_ENV_CORE_ANY);
	struct ftgt_io_channel *ch;

	CU_ASSERT_FATAL(t != NULL);
	reset_counts();
	ftgt_io_device_register(&g_dev, dev_create, dev_destroy, sizeof(struct dev_ctx), "dev");
	ftgt_set_thread(t);
	ch = ftgt_get_io_channel(&g_dev);
	CU_ASSERT_FATAL(ch != NULL);
	ftgt_thread_exit(t);
	ftgt_set_thread(NULL);
	ftgt_thread_poll(t, 0, 0);
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(!ftgt_thread_is_exited(t));
	ftgt_set_thread(t);
	ftgt_put_io_channel(ch);
	ftgt_set_thread(NULL);
	CU_ASSERT(!ftgt_thread_is_exited(t)); /* the destroy message is still queued */
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(g_destroys == 1);
	CU_ASSERT(ftgt_thread_is_exited(t));
	ftgt_set_thread(g_threads[0]);
	ftgt_io_device_unregister(&g_dev, NULL);
	ftgt_set_thread(NULL);
	ut_poll_threads(g_threads, NTHREADS);
	ftgt_thread_destroy(t);
}

static void
setup_threads(void)
{
	for (int i = 0; i < NTHREADS; i++) {
		g_threads[i] = ftgt_thread_create("ch", FTGT_ENV_CORE_ANY);
		CU_ASSERT_FATAL(g_threads[i] != NULL);
	}
}

static void
teardown_threads(void)
{
	for (int i = 0; i < NTHREADS; i++) {
		ftgt_thread_destroy(g_threads[i]);
	}
}

static void
add_tests(CU_pSuite suite)
{
	CU_add_test(suite, "setup", setup_threads);
	CU_add_test(suite, "channel_lifecycle", test_channel_lifecycle);
	CU_add_test(suite, "for_each_channel", test_for_each_channel);
	CU_add_test(suite, "exit_waits_for_channels", test_exit_waits_for_channels);
	CU_add_test(suite, "teardown", teardown_threads);
}

int
main(void)
{
	return ut_run("io_channel", "0x1", 0, add_tests);
}
