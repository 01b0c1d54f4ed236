/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/thread/thread.c: messages (order, exactly once, ring full, many OS threads),
 * pollers (active, timed with explicit ticks, pause/resume, unregister inside a poller),
 * for_each_thread, thread exit and the thread list.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/sysinfo.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ut_common.h"

#define RING_SIZE 1024

/* ---- messages ----------------------------------------------------------------------- */

/*
 * The EAL pins the main thread to the main core and pthreads inherit that: let the
 * test's OS threads run on every CPU, as non-EAL threads of a real program would.
 */
static void
unpin_attr(pthread_attr_t *attr)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int i = 0; i < get_nprocs() && i < CPU_SETSIZE; i++) {
		CPU_SET(i, &set);
	}
	pthread_attr_init(attr);
	pthread_attr_setaffinity_np(attr, sizeof(set), &set);
}

static int g_order[2048];
static int g_order_len;
static struct ftgt_thread *g_ran_on;

static void
record_msg(void *ctx)
{
	if (g_order_len < (int)(sizeof(g_order) / sizeof(g_order[0]))) {
		g_order[g_order_len++] = (int)(uintptr_t)ctx;
	}
	g_ran_on = ftgt_get_thread();
}

static void
test_thread_create(void)
{
	struct ftgt_thread *a, *b;

	a = ftgt_thread_create("a", 3);
	b = ftgt_thread_create("b", FTGT_ENV_CORE_ANY);
	CU_ASSERT_FATAL(a != NULL && b != NULL);
	/* The first thread created is the app thread; ids start at 1. */
	CU_ASSERT(ftgt_thread_get_app_thread() == a);
	CU_ASSERT(ftgt_thread_get_id(a) == 1);
	CU_ASSERT(ftgt_thread_get_id(b) == 2);
	CU_ASSERT(strcmp(ftgt_thread_get_name(a), "a") == 0);
	CU_ASSERT(ftgt_thread_get_core(a) == 3);
	CU_ASSERT(ftgt_thread_get_count() == 2);
	CU_ASSERT(ftgt_thread_get_first() == a);
	CU_ASSERT(ftgt_thread_get_next(a) == b);
	CU_ASSERT(ftgt_thread_get_next(b) == NULL);
	CU_ASSERT(ftgt_thread_get_by_id(2) == b);
	CU_ASSERT(ftgt_thread_get_by_id(99) == NULL);
	CU_ASSERT(ftgt_get_thread() == NULL);
	ftgt_thread_destroy(b);
	ftgt_thread_destroy(a);
	CU_ASSERT(ftgt_thread_get_count() == 0);
	CU_ASSERT(ftgt_thread_get_app_thread() == NULL);
}

static void
test_msg_order(void)
{
	struct ftgt_thread *t = ftgt_thread_create("order", FTGT_ENV_CORE_ANY);
	struct ftgt_thread_stats stats;

	CU_ASSERT_FATAL(t != NULL);
	g_order_len = 0;
	for (int i = 0; i < 1000; i++) {
		CU_ASSERT(ftgt_thread_send_msg(t, record_msg, (void *)(uintptr_t)i) == 0);
	}
	/* max_msgs bounds one iteration. */
	CU_ASSERT(ftgt_thread_poll(t, 10, 0) == FTGT_POLLER_BUSY);
	CU_ASSERT(g_order_len == 10);
	CU_ASSERT(g_ran_on == t);
	CU_ASSERT(ftgt_get_thread() == NULL); /* current only during the poll */
	ut_poll_threads(&t, 1);
	CU_ASSERT(g_order_len == 1000);
	for (int i = 0; i < g_order_len; i++) {
		CU_ASSERT(g_order[i] == i);
	}
	CU_ASSERT(ftgt_thread_poll(t, 0, 0) == FTGT_POLLER_IDLE);
	ftgt_set_thread(t);
	ftgt_thread_get_stats(t, &stats);
	ftgt_set_thread(NULL);
	CU_ASSERT(stats.msgs == 1000);
	CU_ASSERT(stats.busy_tsc > 0);
	CU_ASSERT(stats.idle_tsc > 0);
	ftgt_thread_destroy(t);
}

static void
test_msg_ring_full(void)
{
	struct ftgt_thread *t = ftgt_thread_create("full", FTGT_ENV_CORE_ANY);
	int sent = 0;

	CU_ASSERT_FATAL(t != NULL);
	g_order_len = 0;
	while (sent < 2 * RING_SIZE && ftgt_thread_send_msg(t, record_msg, NULL) == 0) {
		sent++;
	}
	CU_ASSERT(sent == RING_SIZE - 1);
	CU_ASSERT(ftgt_thread_send_msg(t, record_msg, NULL) == -ENOMEM);
	ut_poll_threads(&t, 1);
	CU_ASSERT(g_order_len == RING_SIZE - 1); /* the refused one never ran */
	ftgt_thread_destroy(t);
}

/* Many OS threads, each polling its own ftgt_thread, all sending to each other. */
#define STRESS_THREADS   4
#define STRESS_MSGS      20000
#define STRESS_TIMEOUT_S 30

struct stress_peer {
	struct ftgt_thread *thread;
	pthread_t tid;
	uint32_t idx;
	uint64_t next_seq[STRESS_THREADS]; /* per sender: sequence expected next */
	uint64_t received;
	uint64_t errors;
	uint64_t sent[STRESS_THREADS];
};

static struct stress_peer g_peers[STRESS_THREADS];
static uint64_t g_stress_deadline;

static void
stress_msg(void *ctx)
{
	uintptr_t v = (uintptr_t)ctx;
	uint32_t from = (uint32_t)(v >> 32), seq = (uint32_t)v;
	struct stress_peer *self = NULL;

	for (int i = 0; i < STRESS_THREADS; i++) {
		if (g_peers[i].thread == ftgt_get_thread()) {
			self = &g_peers[i];
		}
	}
	if (self == NULL || from >= STRESS_THREADS || self->next_seq[from] != seq) {
		if (self != NULL) {
			self->errors++;
		}
		return;
	}
	self->next_seq[from]++;
	self->received++;
}

static void *
stress_main(void *arg)
{
	struct stress_peer *self = arg;
	const uint64_t expect = (uint64_t)(STRESS_THREADS - 1) * STRESS_MSGS;

	while (ftgt_get_ticks() < g_stress_deadline) {
		bool sending = false;

		for (uint32_t to = 0; to < STRESS_THREADS; to++) {
			uintptr_t v;

			if (to == self->idx || self->sent[to] == STRESS_MSGS) {
				continue;
			}
			sending = true;
			v = ((uintptr_t)self->idx << 32) | self->sent[to];
			if (ftgt_thread_send_msg(g_peers[to].thread, stress_msg, (void *)v) == 0) {
				self->sent[to]++;
			} else {
				sched_yield(); /* ring full: let its owner run */
			}
		}
		ftgt_thread_poll(self->thread, 0, 0);
		if (!sending && self->received >= expect) {
			break;
		}
	}
	return NULL;
}

static void
test_msg_stress(void)
{
	pthread_attr_t attr;

	memset(g_peers, 0, sizeof(g_peers));
	for (uint32_t i = 0; i < STRESS_THREADS; i++) {
		g_peers[i].thread = ftgt_thread_create("stress", FTGT_ENV_CORE_ANY);
		g_peers[i].idx = i;
		CU_ASSERT_FATAL(g_peers[i].thread != NULL);
	}
	g_stress_deadline = ftgt_get_ticks() + STRESS_TIMEOUT_S * ftgt_get_ticks_hz();
	unpin_attr(&attr);
	for (uint32_t i = 0; i < STRESS_THREADS; i++) {
		CU_ASSERT_FATAL(pthread_create(&g_peers[i].tid, &attr, stress_main, &g_peers[i]) ==
		                0);
	}
	for (uint32_t i = 0; i < STRESS_THREADS; i++) {
		pthread_join(g_peers[i].tid, NULL);
	}
	pthread_attr_destroy(&attr);
	for (uint32_t i = 0; i < STRESS_THREADS; i++) {
		/* Drain anything left (none if all went well) so it is counted. */
		ftgt_thread_poll(g_peers[i].thread, 0, 0);
	}
	for (uint32_t i = 0; i < STRESS_THREADS; i++) {
		CU_ASSERT(g_peers[i].errors == 0);
		CU_ASSERT(g_peers[i].received == (uint64_t)(STRESS_THREADS - 1) * STRESS_MSGS);
		for (uint32_t j = 0; j < STRESS_THREADS; j++) {
			if (j != i) {
				CU_ASSERT(g_peers[i].next_seq[j] == STRESS_MSGS);
				CU_ASSERT(g_peers[i].sent[j] == STRESS_MSGS);
			}
		}
		ftgt_thread_destroy(g_peers[i].thread);
	}
}

/* ---- pollers ------------------------------------------------------------------------ */

struct pcount {
	int runs;
	int rc;
	struct ftgt_poller *self;
	struct ftgt_poller *victim; /* unregistered or paused by this poller */
	bool unregister_self;
	bool pause_self;
	bool unregister_victim;
	struct ftgt_thread *ran_on;
};

static int
count_poller(void *ctx)
{
	struct pcount *c = ctx;

	c->runs++;
	c->ran_on = ftgt_get_thread();
	if (c->unregister_self) {
		ftgt_poller_unregister(&c->self);
	}
	if (c->pause_self) {
		ftgt_poller_pause(c->self);
	}
	if (c->unregister_victim) {
		ftgt_poller_unregister(&c->victim);
	}
	return c->rc;
}

static int g_poller_seen;

static void
count_pollers_cb(const struct ftgt_poller_stats *s, void *ctx)
{
	struct ftgt_poller_stats *out = ctx;

	g_poller_seen++;
	*out = *s;
}

static void
test_poller_active(void)
{
	struct ftgt_thread *t = ftgt_thread_create("active", FTGT_ENV_CORE_ANY);
	struct pcount c = {.rc = FTGT_POLLER_IDLE};
	struct ftgt_poller_stats s;
	struct ftgt_poller *p;

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT(ftgt_poller_register(count_poller, &c, 0, "x") == NULL); /* no thread */
	ftgt_set_thread(t);
	p = FTGT_POLLER_REGISTER(count_poller, &c, 0);
	CU_ASSERT_FATAL(p != NULL);
	ftgt_set_thread(NULL);
	CU_ASSERT(ftgt_thread_poll(t, 0, 0) == FTGT_POLLER_IDLE);
	c.rc = FTGT_POLLER_BUSY;
	CU_ASSERT(ftgt_thread_poll(t, 0, 0) == FTGT_POLLER_BUSY);
	CU_ASSERT(c.runs == 2);
	CU_ASSERT(c.ran_on == t);

	ftgt_set_thread(t);
	g_poller_seen = 0;
	ftgt_thread_for_each_poller(count_pollers_cb, &s);
	CU_ASSERT(g_poller_seen == 1);
	CU_ASSERT(strcmp(s.name, "count_poller") == 0);
	CU_ASSERT(s.run_count == 2 && s.busy_count == 1 && !s.paused && s.period_us == 0);

	/* Pause and resume from outside a poll. */
	ftgt_poller_pause(p);
	ftgt_set_thread(NULL);
	ftgt_thread_poll(t, 0, 0);
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(c.runs == 2);
	ftgt_set_thread(t);
	ftgt_thread_for_each_poller(count_pollers_cb, &s);
	CU_ASSERT(s.paused);
	ftgt_poller_resume(p);
	ftgt_set_thread(NULL);
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(c.runs == 3);

	/* A poller pauses itself, then is resumed. */
	c.self = p;
	c.pause_self = true;
	ftgt_thread_poll(t, 0, 0);
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(c.runs == 4);
	c.pause_self = false;
	ftgt_poller_resume(p);
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(c.runs == 5);

	ftgt_poller_unregister(&p);
	CU_ASSERT(p == NULL);
	ftgt_poller_unregister(&p); /* no-op */
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(c.runs == 5);
	ftgt_set_thread(t);
	g_poller_seen = 0;
	ftgt_thread_for_each_poller(count_pollers_cb, &s);
	CU_ASSERT(g_poller_seen == 0);
	ftgt_set_thread(NULL);
	ftgt_thread_destroy(t);
}

static void
test_poller_unregister_inside(void)
{
	struct ftgt_thread *t = ftgt_thread_create("unreg", FTGT_ENV_CORE_ANY);
	struct pcount a = {0}, b = {0}, c = {0};

	CU_ASSERT_FATAL(t != NULL);
	ftgt_set_thread(t);
	a.self = ftgt_poller_register(count_poller, &a, 0, "a");
	b.self = ftgt_poller_register(count_poller, &b, 0, "b");
	c.self = ftgt_poller_register(count_poller, &c, 0, "c");
	ftgt_set_thread(NULL);
	/* a unregisters itself and the next poller (b), which must not run. */
	a.unregister_self = true;
	a.victim = b.self;
	a.unregister_victim = true;
	b.self = NULL;
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(a.runs == 1 && b.runs == 0 && c.runs == 1);
	CU_ASSERT(a.self == NULL);
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(a.runs == 1 && b.runs == 0 && c.runs == 2);
	ftgt_set_thread(t);
	ftgt_poller_unregister(&c.self);
	ftgt_set_thread(NULL);
	ftgt_thread_destroy(t);
}

static void
test_poller_timed(void)
{
	struct ftgt_thread *t = ftgt_thread_create("timed", FTGT_ENV_CORE_ANY);
	uint64_t hz = ftgt_get_ticks_hz();
	uint64_t ms = hz / 1000, base = 1000 * hz;
	struct pcount c1 = {.rc = FTGT_POLLER_BUSY}, c5 = {0}, self = {0};
	struct ftgt_poller *p1, *p5;

	CU_ASSERT_FATAL(t != NULL);
	/* Explicit ticks: timed pollers count from the latest poll's `now`. */
	ftgt_thread_poll(t, 0, base);
	ftgt_set_thread(t);
	p1 = ftgt_poller_register(count_poller, &c1, 1000, "1ms");
	p5 = ftgt_poller_register(count_poller, &c5, 5000, "5ms");
	self.self = ftgt_poller_register(count_poller, &self, 2000, "self");
	self.unregister_self = true;
	ftgt_set_thread(NULL);
	CU_ASSERT_FATAL(p1 != NULL && p5 != NULL && self.self != NULL);

	CU_ASSERT(ftgt_thread_poll(t, 0, base + ms - 1) == FTGT_POLLER_IDLE);
	CU_ASSERT(c1.runs == 0);
	CU_ASSERT(ftgt_thread_poll(t, 0, base + ms) == FTGT_POLLER_BUSY);
	CU_ASSERT(c1.runs == 1 && c5.runs == 0);
	ftgt_thread_poll(t, 0, base + ms + 1);
	CU_ASSERT(c1.runs == 1);
	ftgt_thread_poll(t, 0, base + 2 * ms);
	CU_ASSERT(c1.runs == 2 && self.runs == 1 && self.self == NULL);
	/* A late poll runs each due poller once, not once per missed period. */
	ftgt_thread_poll(t, 0, base + 10 * ms);
	CU_ASSERT(c1.runs == 3 && c5.runs == 1 && self.runs == 1);
	ftgt_thread_poll(t, 0, base + 11 * ms);
	CU_ASSERT(c1.runs == 4 && c5.runs == 1);

	/* Paused timed pollers do not run; resumed, they count from the latest now. */
	ftgt_poller_pause(p1);
	ftgt_thread_poll(t, 0, base + 20 * ms);
	CU_ASSERT(c1.runs == 4 && c5.runs == 2);
	ftgt_poller_resume(p1);
	ftgt_thread_poll(t, 0, base + 20 * ms + ms / 2);
	CU_ASSERT(c1.runs == 4);
	ftgt_thread_poll(t, 0, base + 21 * ms);
	CU_ASSERT(c1.runs == 5);

	ftgt_set_thread(t);
	ftgt_poller_unregister(&p1);
	ftgt_poller_unregister(&p5);
	ftgt_set_thread(NULL);
	ftgt_thread_poll(t, 0, base + 100 * ms);
	CU_ASSERT(c1.runs == 5 && c5.runs == 2);
	ftgt_thread_destroy(t);
}

/* ---- for_each_thread ---------------------------------------------------------------- */

static struct ftgt_thread *g_visited[8];
static int g_visits;
static struct ftgt_thread *g_cpl_on;
static int g_cpl_visits;

static void
visit_thread(void *ctx)
{
	if (g_visits < 8) {
		g_visited[g_visits++] = ftgt_get_thread();
	}
}

static void
visit_done(void *ctx)
{
	g_cpl_on = ftgt_get_thread();
	g_cpl_visits = g_visits;
	*(int *)ctx += 1;
}

static void
test_for_each_thread(void)
{
	struct ftgt_thread *t[3];
	int done = 0;

	for (int i = 0; i < 3; i++) {
		t[i] = ftgt_thread_create("each", FTGT_ENV_CORE_ANY);
		CU_ASSERT_FATAL(t[i] != NULL);
	}
	g_visits = 0;
	ftgt_set_thread(t[1]);
	ftgt_for_each_thread(visit_thread, &done, visit_done);
	ftgt_set_thread(NULL);
	CU_ASSERT(g_visits == 0); /* by message: nothing ran yet */
	ut_poll_threads(t, 3);
	CU_ASSERT(done == 1);
	CU_ASSERT(g_visits == 3);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(g_visited[i] == t[i]); /* in id order, each on itself */
	}
	CU_ASSERT(g_cpl_on == t[1]);
	CU_ASSERT(g_cpl_visits == 3);
	for (int i = 0; i < 3; i++) {
		ftgt_thread_destroy(t[i]);
	}
}

/*
 * for_each_thread while other OS threads create, run, exit and destroy threads: every
 * walk completes exactly once, walks do reach the short-lived threads, and (under ASan)
 * no walk writes to a thread that was freed between being found and being sent to.
 */
#define CHURNERS        2
#define CHURN_WALKS     300
#define CHURN_LIFE_US   200 /* a churn thread runs this long before it exits, */
#define CHURN_GAP_US    300 /* then its churner rests (a walk also visits new threads) */
#define CHURN_TIMEOUT_S 10

static bool g_churn_stop;
static struct ftgt_thread *g_churn_walker;
static uint64_t g_churn_visits; /* on churn threads */
static uint64_t g_churn_cycles;

static void
churn_visit(void *ctx)
{
	if (ftgt_get_thread() != g_churn_walker) {
		__atomic_fetch_add(&g_churn_visits, 1, __ATOMIC_RELAXED);
	}
}

static void
churn_walk_done(void *ctx)
{
	*(int *)ctx += 1;
}

static void *
churn_main(void *arg)
{
	uint64_t deadline = ftgt_get_ticks() + 2 * CHURN_TIMEOUT_S * ftgt_get_ticks_hz();

	while (!__atomic_load_n(&g_churn_stop, __ATOMIC_ACQUIRE) && ftgt_get_ticks() < deadline) {
		struct ftgt_thread *t = ftgt_thread_create("churn", FTGT_ENV_CORE_ANY);

		if (t == NULL) {
			continue;
		}
		uint64_t until = ftgt_get_ticks() + CHURN_LIFE_US * ftgt_get_ticks_hz() / 1000000;

		while (ftgt_get_ticks() < until) {
			ftgt_thread_poll(t, 0, 0);
		}
		ftgt_thread_exit(t);
		/* Run the walks that reached it, until it has none left. */
		for (int i = 0; i < 1000000 && !ftgt_thread_is_exited(t); i++) {
			ftgt_thread_poll(t, 0, 0);
		}
		if (!ftgt_thread_is_exited(t)) {
			/* Cannot happen; leave it alive rather than free it under a walk. */
			break;
		}
		ftgt_thread_destroy(t);
		__atomic_fetch_add(&g_churn_cycles, 1, __ATOMIC_RELAXED);
		usleep(CHURN_GAP_US);
	}
	return NULL;
}

static void
test_for_each_thread_churn(void)
{
	struct ftgt_thread *w = ftgt_thread_create("walker", FTGT_ENV_CORE_ANY);
	pthread_t tids[CHURNERS];
	pthread_attr_t attr;
	uint64_t deadline;
	int done = 0, started = 0;

	CU_ASSERT_FATAL(w != NULL);
	g_churn_walker = w;
	g_churn_stop = false;
	g_churn_visits = 0;
	g_churn_cycles = 0;
	unpin_attr(&attr);
	for (int i = 0; i < CHURNERS; i++) {
		CU_ASSERT_FATAL(pthread_create(&tids[i], &attr, churn_main, NULL) == 0);
	}
	pthread_attr_destroy(&attr);
	/* Walk until enough walks ran and some met a churn thread (bounded). */
	deadline = ftgt_get_ticks() + CHURN_TIMEOUT_S * ftgt_get_ticks_hz();
	while ((done < CHURN_WALKS || __atomic_load_n(&g_churn_visits, __ATOMIC_RELAXED) < 20) &&
	       ftgt_get_ticks() < deadline) {
		if (started == done) {
			ftgt_set_thread(w);
			ftgt_for_each_thread(churn_visit, &done, churn_walk_done);
			ftgt_set_thread(NULL);
			started++;
		}
		ftgt_thread_poll(w, 0, 0);
	}
	__atomic_store_n(&g_churn_stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < CHURNERS; i++) {
		pthread_join(tids[i], NULL);
	}
	/* The last walk may still be on its way back (churners drain before they stop). */
	for (int i = 0; i < 100000 && done < started; i++) {
		ftgt_thread_poll(w, 0, 0);
	}
	CU_ASSERT(done == started); /* every walk completed, once */
	CU_ASSERT(done >= CHURN_WALKS);
	CU_ASSERT(g_churn_visits >= 20);
	CU_ASSERT(g_churn_cycles > 0);
	CU_ASSERT(ftgt_thread_get_count() == 1);
	ftgt_thread_destroy(w);
}

/* ---- exit --------------------------------------------------------------------------- */

static void
test_thread_exit(void)
{
	struct ftgt_thread *t = ftgt_thread_create("exit", FTGT_ENV_CORE_ANY);
	struct pcount c = {0};

	CU_ASSERT_FATAL(t != NULL);
	ftgt_set_thread(t);
	c.self = ftgt_poller_register(count_poller, &c, 0, "p");
	ftgt_thread_exit(t);
	ftgt_set_thread(NULL);
	CU_ASSERT(!ftgt_thread_is_exited(t));
	/* Exiting: still polls, still accepts messages, waits for its poller. */
	g_order_len = 0;
	CU_ASSERT(ftgt_thread_send_msg(t, record_msg, (void *)7) == 0);
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(g_order_len == 1);
	CU_ASSERT(c.runs == 1);
	CU_ASSERT(!ftgt_thread_is_exited(t));
	c.unregister_self = true; /* unregisters itself in its next run */
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(ftgt_thread_is_exited(t));
	CU_ASSERT(ftgt_thread_send_msg(t, record_msg, NULL) == -EIO);
	ftgt_thread_destroy(t);

	/* A message already queued runs before the thread counts as exited. */
	t = ftgt_thread_create("exit2", FTGT_ENV_CORE_ANY);
	CU_ASSERT_FATAL(t != NULL);
	g_order_len = 0;
	CU_ASSERT(ftgt_thread_send_msg(t, record_msg, (void *)9) == 0);
	ftgt_set_thread(t);
	ftgt_thread_exit(t);
	ftgt_set_thread(NULL);
	CU_ASSERT(!ftgt_thread_is_exited(t));
	ftgt_thread_poll(t, 0, 0);
	CU_ASSERT(g_order_len == 1 && g_order[0] == 9);
	CU_ASSERT(ftgt_thread_is_exited(t));
	ftgt_thread_destroy(t);
}

static void
add_tests(CU_pSuite suite)
{
	CU_add_test(suite, "thread_create", test_thread_create);
	CU_add_test(suite, "msg_order", test_msg_order);
	CU_add_test(suite, "msg_ring_full", test_msg_ring_full);
	CU_add_test(suite, "msg_stress", test_msg_stress);
	CU_add_test(suite, "poller_active", test_poller_active);
	CU_add_test(suite, "poller_unregister_inside", test_poller_unregister_inside);
	CU_add_test(suite, "poller_timed", test_poller_timed);
	CU_add_test(suite, "for_each_thread", test_for_each_thread);
	CU_add_test(suite, "for_each_thread_churn", test_for_each_thread_churn);
	CU_add_test(suite, "thread_exit", test_thread_exit);
}

int
main(void)
{
	return ut_run("thread", "0x1", RING_SIZE, add_tests);
}
