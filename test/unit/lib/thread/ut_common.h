/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared set-up for the thread library's unit tests. */
#ifndef FTGT_THREAD_UT_COMMON_H
#define FTGT_THREAD_UT_COMMON_H

#include <stdio.h>

#include <CUnit/Basic.h>

#include "ftgt/env.h"
#include "ftgt/thread.h"

/* Poll each thread until none does work (bounded): deterministic hand-polling. */
static inline void
ut_poll_threads(struct ftgt_thread **threads, int n)
{
	for (int round = 0; round < 10000; round++) {
		int busy = 0;

		for (int i = 0; i < n; i++) {
			busy |= ftgt_thread_poll(threads[i], 0, 0);
		}
		if (!busy) {
			return;
		}
	}
	CU_FAIL("threads still busy after 10000 rounds");
}

static inline int
ut_run(const char *suite_name, const char *mask, size_t ring_size,
       void (*add_tests)(CU_pSuite suite))
{
	struct ftgt_env_opts opts;
	unsigned int failures;
	CU_pSuite suite;

	ftgt_env_opts_init(&opts);
	opts.core_mask = mask;
	opts.no_huge = true;
	if (ftgt_env_init(&opts) != 0) {
		fprintf(stderr, "ftgt_env_init failed\n");
		return 1;
	}
	if (ftgt_thread_lib_init(ring_size) != 0) {
		fprintf(stderr, "ftgt_thread_lib_init failed\n");
		ftgt_env_fini();
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS) {
		ftgt_thread_lib_fini();
		ftgt_env_fini();
		return 1;
	}
	suite = CU_add_suite(suite_name, NULL, NULL);
	add_tests(suite);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	ftgt_thread_lib_fini();
	ftgt_env_fini();
	return failures == 0 ? 0 : 1;
}

#endif /* FTGT_THREAD_UT_COMMON_H */
