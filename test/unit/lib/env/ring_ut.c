/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/env/ring.c: element rings (MPSC stress, full ring) and mempools. */
#include <pthread.h>
#include <sys/sysinfo.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "ftgt/env.h"
#include "ftgt/util.h"

/* More producers than the 2 CI cores makes MT rings crawl (preempted producers). */
#define STRESS_PRODUCERS    2
#define STRESS_PER_PRODUCER 100000
#define STRESS_TIMEOUT_S    30

struct elem {
	uint32_t producer;
	uint32_t seq;
	uint64_t pad;
};

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

static void
test_ring_basic(void)
{
	struct ftgt_ring *ring;
	uint64_t in[8], out[8];

	CU_ASSERT(ftgt_ring_create("bad", 0, 8, FTGT_RING_MP_SC, FTGT_ENV_SOCKET_ANY) == NULL);
	CU_ASSERT(ftgt_ring_create("bad", 8, 6, FTGT_RING_MP_SC, FTGT_ENV_SOCKET_ANY) == NULL);
	/* 5 rounds up to 8: 7 fit. */
	ring = ftgt_ring_create("basic", 5, sizeof(uint64_t), FTGT_RING_MP_SC, FTGT_ENV_SOCKET_ANY);
	CU_ASSERT_FATAL(ring != NULL);
	for (int i = 0; i < 8; i++) {
		in[i] = 100 + i;
	}
	CU_ASSERT(ftgt_ring_count(ring) == 0);
	CU_ASSERT(ftgt_ring_dequeue(ring, out, 8) == 0);
	CU_ASSERT(ftgt_ring_enqueue(ring, in, 5) == 5);
	CU_ASSERT(ftgt_ring_enqueue(ring, in + 5, 3) == 2); /* full after 7 */
	CU_ASSERT(ftgt_ring_count(ring) == 7);
	CU_ASSERT(ftgt_ring_enqueue(ring, in, 1) == 0);
	CU_ASSERT(ftgt_ring_dequeue(ring, out, 3) == 3);
	CU_ASSERT(out[0] == 100 && out[1] == 101 && out[2] == 102);
	CU_ASSERT(ftgt_ring_dequeue(ring, out, 8) == 4);
	CU_ASSERT(out[0] == 103 && out[3] == 106);
	CU_ASSERT(ftgt_ring_count(ring) == 0);
	ftgt_ring_free(ring);
	ftgt_ring_free(NULL);
}

static void
test_ring_same_names(void)
{
	struct ftgt_ring *a, *b;
	const char *longname = "a_ring_name_that_is_much_longer_than_dpdk_allows_for_rings";

	/* Callers need not pick unique or short names. */
	a = ftgt_ring_create(longname, 16, 16, FTGT_RING_SP_SC, FTGT_ENV_SOCKET_ANY);
	b = ftgt_ring_create(longname, 16, 16, FTGT_RING_MP_MC, FTGT_ENV_SOCKET_ANY);
	CU_ASSERT(a != NULL && b != NULL);
	ftgt_ring_free(a);
	ftgt_ring_free(b);
}

struct producer {
	struct ftgt_ring *ring;
	uint32_t id;
	uint64_t deadline;
	uint32_t sent;
};

static void *
producer_main(void *arg)
{
	struct producer *p = arg;
	struct elem e = {.producer = p->id};

	while (p->sent < STRESS_PER_PRODUCER && ftgt_get_ticks() < p->deadline) {
		e.seq = p->sent;
		if (ftgt_ring_enqueue(p->ring, &e, 1) == 1) {
			p->sent++;
		} else {
			sched_yield(); /* full: let the consumer run (CI has 2 cores) */
		}
	}
	return NULL;
}

static void
test_ring_mpsc_stress(void)
{
	struct producer prods[STRESS_PRODUCERS];
	pthread_attr_t attr;
	pthread_t tids[STRESS_PRODUCERS];
	uint32_t next[STRESS_PRODUCERS] = {0};
	uint64_t deadline, total = 0, bad = 0;
	struct ftgt_ring *ring;
	struct elem out[64];

	ring = ftgt_ring_create("stress", 1024, sizeof(struct elem), FTGT_RING_MP_SC,
	                        FTGT_ENV_SOCKET_ANY);
	CU_ASSERT_FATAL(ring != NULL);
	deadline = ftgt_get_ticks() + STRESS_TIMEOUT_S * ftgt_get_ticks_hz();
	unpin_attr(&attr);
	for (uint32_t i = 0; i < STRESS_PRODUCERS; i++) {
		prods[i] = (struct producer){.ring = ring, .id = i, .deadline = deadline};
		CU_ASSERT_FATAL(pthread_create(&tids[i], &attr, producer_main, &prods[i]) == 0);
	}
	while (total < (uint64_t)STRESS_PRODUCERS * STRESS_PER_PRODUCER &&
	       ftgt_get_ticks() < deadline) {
		size_t n = ftgt_ring_dequeue(ring, out, FTGT_COUNTOF(out));

		for (size_t i = 0; i < n; i++) {
			/* Per producer, values arrive in order: each exactly once. */
			if (out[i].producer >= STRESS_PRODUCERS ||
			    out[i].seq != next[out[i].producer]) {
				bad++;
				continue;
			}
			next[out[i].producer]++;
		}
		total += n;
	}
	for (uint32_t i = 0; i < STRESS_PRODUCERS; i++) {
		pthread_join(tids[i], NULL);
	}
	pthread_attr_destroy(&attr);
	total += ftgt_ring_dequeue(ring, out, FTGT_COUNTOF(out));
	CU_ASSERT(bad == 0);
	CU_ASSERT(total == (uint64_t)STRESS_PRODUCERS * STRESS_PER_PRODUCER);
	for (uint32_t i = 0; i < STRESS_PRODUCERS; i++) {
		CU_ASSERT(prods[i].sent == STRESS_PER_PRODUCER);
		CU_ASSERT(next[i] == STRESS_PER_PRODUCER);
	}
	CU_ASSERT(ftgt_ring_count(ring) == 0);
	ftgt_ring_free(ring);
}

static void
test_mempool(void)
{
	struct ftgt_mempool *mp;
	void *objs[100];
	void *one;

	mp = ftgt_mempool_create("pool", 100, 200, 0, FTGT_ENV_SOCKET_ANY);
	CU_ASSERT_FATAL(mp != NULL);
	CU_ASSERT(ftgt_mempool_count(mp) == 100);
	one = ftgt_mempool_get(mp);
	CU_ASSERT_FATAL(one != NULL);
	memset(one, 0x5a, 200);
	CU_ASSERT(ftgt_mempool_count(mp) == 99);
	CU_ASSERT(ftgt_mempool_get_bulk(mp, objs, 100) == -ENOMEM); /* all or none */
	CU_ASSERT(ftgt_mempool_count(mp) == 99);
	CU_ASSERT(ftgt_mempool_get_bulk(mp, objs, 99) == 0);
	CU_ASSERT(ftgt_mempool_count(mp) == 0);
	CU_ASSERT(ftgt_mempool_get(mp) == NULL);
	for (int i = 0; i < 99; i++) {
		CU_ASSERT(objs[i] != NULL && objs[i] != one);
	}
	ftgt_mempool_put(mp, one);
	CU_ASSERT(ftgt_mempool_count(mp) == 1);
	ftgt_mempool_put_bulk(mp, objs, 99);
	CU_ASSERT(ftgt_mempool_count(mp) == 100);
	ftgt_mempool_free(mp);

	/* With a per-core cache: the count includes what sits in caches. */
	mp = ftgt_mempool_create("cached", 1024, 64, FTGT_MEMPOOL_CACHE_DEFAULT,
	                         FTGT_ENV_SOCKET_ANY);
	CU_ASSERT_FATAL(mp != NULL);
	CU_ASSERT(ftgt_mempool_count(mp) == 1024);
	CU_ASSERT(ftgt_mempool_get_bulk(mp, objs, 50) == 0);
	CU_ASSERT(ftgt_mempool_count(mp) == 1024 - 50);
	ftgt_mempool_put_bulk(mp, objs, 50);
	CU_ASSERT(ftgt_mempool_count(mp) == 1024);
	ftgt_mempool_free(mp);
	ftgt_mempool_free(NULL);
}

int
main(void)
{
	struct ftgt_env_opts opts;
	CU_pSuite suite;
	unsigned int failures;

	ftgt_env_opts_init(&opts);
	opts.no_huge = true;
	if (ftgt_env_init(&opts) != 0) {
		fprintf(stderr, "ftgt_env_init failed\n");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS) {
		ftgt_env_fini();
		return 1;
	}
	suite = CU_add_suite("ring", NULL, NULL);
	CU_add_test(suite, "ring_basic", test_ring_basic);
	CU_add_test(suite, "ring_same_names", test_ring_same_names);
	CU_add_test(suite, "ring_mpsc_stress", test_ring_mpsc_stress);
	CU_add_test(suite, "mempool", test_mempool);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	ftgt_env_fini();
	return failures == 0 ? 0 : 1;
}
