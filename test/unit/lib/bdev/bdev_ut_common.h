/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared set-up for bdev unit tests: the real env and thread libraries with threads
 * polled by hand (deterministic), and the bdev library started and stopped around each
 * test program.
 */
#ifndef FTGT_BDEV_UT_COMMON_H
#define FTGT_BDEV_UT_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "ftgt/bdev.h"
#include "ftgt/bdev_module.h"
#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"

#define UT_NTHREADS 2
static struct ftgt_thread *g_ut_threads[UT_NTHREADS];
static uint64_t g_ut_now; /* fake clock; 0 = real */

static inline int
ut_poll_once(void)
{
	int busy = 0;

	for (int i = 0; i < UT_NTHREADS; i++) {
		busy |= ftgt_thread_poll(g_ut_threads[i], 0, g_ut_now);
	}
	ftgt_set_thread(g_ut_threads[0]);
	return busy;
}

/* Poll every thread until none does work (bounded). */
static inline void
ut_poll(void)
{
	for (int round = 0; round < 100000; round++) {
		if (!ut_poll_once()) {
			ftgt_set_thread(g_ut_threads[0]);
			return;
		}
	}
	CU_FAIL("threads still busy after 100000 rounds");
}

static int g_ut_init_rc = -1;
static bool g_ut_fini_done;

static inline void
ut_init_cb(void *arg, int rc)
{
	g_ut_init_rc = rc;
}

static inline void
ut_fini_cb(void *arg)
{
	g_ut_fini_done = true;
}

static inline int
ut_bdev_run(const char *suite_name, void (*add_tests)(CU_pSuite suite),
            const struct ftgt_bdev_opts *bopts)
{
	struct ftgt_env_opts opts;
	unsigned int failures;
	CU_pSuite suite;
	int i;

	ftgt_env_opts_init(&opts);
	opts.core_mask = "0x1";
	opts.no_huge = true;
	if (ftgt_env_init(&opts) != 0) {
		fprintf(stderr, "ftgt_env_init failed\n");
		return 1;
	}
	if (ftgt_thread_lib_init(0) != 0) {
		fprintf(stderr, "ftgt_thread_lib_init failed\n");
		ftgt_env_fini();
		return 1;
	}
	for (i = 0; i < UT_NTHREADS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "ut%d", i);
		g_ut_threads[i] = ftgt_thread_create(name, FTGT_ENV_CORE_ANY);
	}
	ftgt_set_thread(g_ut_threads[0]);
	if (bopts != NULL) {
		ftgt_bdev_set_opts(bopts);
	}
	ftgt_bdev_initialize(ut_init_cb, NULL);
	ut_poll();
	if (g_ut_init_rc != 0) {
		fprintf(stderr, "ftgt_bdev_initialize failed: %d\n", g_ut_init_rc);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	suite = CU_add_suite(suite_name, NULL, NULL);
	add_tests(suite);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();

	g_ut_now = 0;
	ftgt_set_thread(g_ut_threads[0]);
	ftgt_bdev_finish(ut_fini_cb, NULL);
	ut_poll();
	if (!g_ut_fini_done) {
		fprintf(stderr, "ftgt_bdev_finish did not complete\n");
		failures++;
	}
	for (i = 0; i < UT_NTHREADS; i++) {
		ftgt_set_thread(g_ut_threads[i]);
		ftgt_thread_exit(g_ut_threads[i]);
	}
	for (int round = 0; round < 1000; round++) {
		bool all = true;

		for (i = 0; i < UT_NTHREADS; i++) {
			if (!ftgt_thread_is_exited(g_ut_threads[i])) {
				ftgt_thread_poll(g_ut_threads[i], 0, 0);
				all = false;
			}
		}
		if (all) {
			break;
		}
	}
	ftgt_set_thread(NULL);
	for (i = 0; i < UT_NTHREADS; i++) {
		ftgt_thread_destroy(g_ut_threads[i]);
	}
	ftgt_thread_lib_fini();
	ftgt_env_fini();
	return failures == 0 ? 0 : 1;
}

#endif /* FTGT_BDEV_UT_COMMON_H */
