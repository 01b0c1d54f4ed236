/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests lib/util/histogram.c: bucket layout, percentile error bound, merge, JSON summary. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/histogram.h"

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return g_rng * 0x2545f4914f6cdd1dull;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct ftgt_histogram *
hist_new(void)
{
	struct ftgt_histogram *h = malloc(sizeof(*h));

	CU_ASSERT_FATAL(h != NULL);
	ftgt_histogram_init(h);
	return h;
}

static void
test_index_small_values_linear(void)
{
	uint64_t v;

	for (v = 0; v < 2 * FTGT_HISTOGRAM_SUB; v++) {
		CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(v), v);
		CU_ASSERT_EQUAL(ftgt_histogram_bucket_start((uint32_t)v), v);
		CU_ASSERT_EQUAL(ftgt_histogram_bucket_end((uint32_t)v), v);
	}
}

static void
test_index_boundaries(void)
{
	uint32_t k, j;

	/* Each power of two starts a new run of SUB buckets, each run twice as wide. */
	for (k = FTGT_HISTOGRAM_SUB_BITS + 1; k < 63; k++) {
		uint64_t p = 1ull << k;
		uint32_t first = ftgt_histogram_bucket_index(p);

		CU_ASSERT_EQUAL(first, (k - FTGT_HISTOGRAM_SUB_BITS + 1) * FTGT_HISTOGRAM_SUB);
		CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(p - 1), first - 1);
		CU_ASSERT_EQUAL(ftgt_histogram_bucket_start(first), p);
		for (j = 0; j < FTGT_HISTOGRAM_SUB; j++) {
			uint64_t width = p / FTGT_HISTOGRAM_SUB;
			uint64_t start = p + j * width;

			CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(start), first + j);
			CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(start + width - 1), first + j);
			CU_ASSERT_EQUAL(ftgt_histogram_bucket_start(first + j), start);
			if (first + j + 1 < FTGT_HISTOGRAM_BUCKETS) {
				CU_ASSERT_EQUAL(ftgt_histogram_bucket_end(first + j),
				                start + width - 1);
			}
		}
	}
	/* Values from 2^63 up share the last bucket, which ends at UINT64_MAX. */
	CU_ASSERT_EQUAL(ftgt_histogram_bucket_index((1ull << 63) - 1), FTGT_HISTOGRAM_BUCKETS - 1);
	CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(1ull << 63), FTGT_HISTOGRAM_BUCKETS - 1);
	CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(UINT64_MAX), FTGT_HISTOGRAM_BUCKETS - 1);
	CU_ASSERT_EQUAL(ftgt_histogram_bucket_end(FTGT_HISTOGRAM_BUCKETS - 1), UINT64_MAX);
}

static void
test_bucket_bounds_monotonic(void)
{
	uint32_t i;

	CU_ASSERT_EQUAL(ftgt_histogram_bucket_start(0), 0);
	for (i = 0; i < FTGT_HISTOGRAM_BUCKETS; i++) {
		uint64_t s = ftgt_histogram_bucket_start(i), e = ftgt_histogram_bucket_end(i);

		CU_ASSERT(s <= e);
		/* Both bounds map back to the bucket: the buckets tile 0..UINT64_MAX. */
		CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(s), i);
		CU_ASSERT_EQUAL(ftgt_histogram_bucket_index(e), i);
		if (i + 1 < FTGT_HISTOGRAM_BUCKETS) {
			CU_ASSERT_EQUAL(ftgt_histogram_bucket_start(i + 1), e + 1);
			/* Width over start bounds the relative error (last bucket excepted). */
			CU_ASSERT((double)(e - s) <= (double)s / FTGT_HISTOGRAM_SUB);
		}
	}
}

static void
test_add_random_index(void)
{
	int n;

	for (n = 0; n < 100000; n++) {
		uint64_t v = rng_next() >> (rng_next() % 64);
		uint32_t i = ftgt_histogram_bucket_index(v);

		CU_ASSERT_FATAL(i < FTGT_HISTOGRAM_BUCKETS);
		CU_ASSERT(ftgt_histogram_bucket_start(i) <= v);
		CU_ASSERT(v <= ftgt_histogram_bucket_end(i));
	}
}

static void
test_empty(void)
{
	struct ftgt_histogram *h = hist_new();
	json_t *j;

	CU_ASSERT_EQUAL(h->count, 0);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 50), 0);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 100), 0);
	j = ftgt_histogram_summary_json(h, 1.0);
	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "count")), 0);
	CU_ASSERT(json_is_real(json_object_get(j, "min")));
	CU_ASSERT_EQUAL(json_real_value(json_object_get(j, "min")), 0.0);
	CU_ASSERT_EQUAL(json_real_value(json_object_get(j, "p99_9")), 0.0);
	json_decref(j);
	free(h);
}

/* Checks every percentile of a sample set against the exact nearest-rank value. */
static void
check_percentiles(const struct ftgt_histogram *h, uint64_t *vals, size_t n)
{
	static const double pcts[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99};
	size_t i;

	qsort(vals, n, sizeof(vals[0]), cmp_u64);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 0), vals[0]);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 100), vals[n - 1]);
	for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		size_t rank = (size_t)ceil(pcts[i] / 100.0 * (double)n - 1e-9);
		uint64_t exact = vals[(rank < 1 ? 1 : rank) - 1];
		uint64_t got = ftgt_histogram_percentile(h, pcts[i]);

		bool ok = got >= exact && got <= vals[n - 1] &&
		          (exact == 0 ? got == 0
		                      : (double)(got - exact) < (double)exact / FTGT_HISTOGRAM_SUB);

		CU_ASSERT(ok);
		if (!ok) {
			fprintf(stderr, "p%g: exact %lu got %lu\n", pcts[i], (unsigned long)exact,
			        (unsigned long)got);
		}
	}
}

static void
test_percentile_error_bound(void)
{
	const size_t n = 20000;
	uint64_t *vals = malloc(n * sizeof(*vals));
	struct ftgt_histogram *h = hist_new();
	int round;
	size_t i;

	CU_ASSERT_FATAL(vals != NULL);
	/* Log-uniform (latency-like), narrow uniform, and a few exact repeats. */
	for (round = 0; round < 3; round++) {
		ftgt_histogram_init(h);
		for (i = 0; i < n; i++) {
			switch (round) {
			case 0:
				vals[i] = rng_next() >> (rng_next() % 60 + 4);
				break;
			case 1:
				vals[i] = 100000 + rng_next() % 5000;
				break;
			default:
				vals[i] = (uint64_t)1 << (rng_next() % 40);
				break;
			}
			ftgt_histogram_add(h, vals[i]);
		}
		CU_ASSERT_EQUAL(h->count, n);
		check_percentiles(h, vals, n);
	}
	free(vals);
	free(h);
}

static void
test_percentile_small(void)
{
	struct ftgt_histogram *h = hist_new();
	uint64_t v;

	/* Values 1..10 are exact buckets: percentiles are exact nearest ranks. */
	for (v = 1; v <= 10; v++) {
		ftgt_histogram_add(h, v);
	}
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 50), 5);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 90), 9);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 91), 10);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 10), 1);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 0), 1);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 100), 10);
	CU_ASSERT_EQUAL(h->min, 1);
	CU_ASSERT_EQUAL(h->max, 10);
	CU_ASSERT_EQUAL(h->sum, 55);

	/* One large value: the result is capped at the exact max, not its bucket end. */
	ftgt_histogram_init(h);
	ftgt_histogram_add(h, 1000001);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 50), 1000001);
	ftgt_histogram_add(h, UINT64_MAX);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 99), UINT64_MAX);
	/* Now the upper bound of its bucket, 983040 + 32768 - 1. */
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(h, 50), 1015807);
	free(h);
}

static void
test_merge(void)
{
	struct ftgt_histogram *a = hist_new(), *b = hist_new(), *all = hist_new();
	struct ftgt_histogram *empty = hist_new();
	int n;

	for (n = 0; n < 5000; n++) {
		uint64_t v = rng_next() >> (rng_next() % 64);

		ftgt_histogram_add(n % 3 ? a : b, v);
		ftgt_histogram_add(all, v);
	}
	ftgt_histogram_merge(a, b);
	CU_ASSERT_EQUAL(memcmp(a, all, sizeof(*a)), 0);

	/* Merging an empty histogram changes nothing; merging into one copies. */
	ftgt_histogram_merge(a, empty);
	CU_ASSERT_EQUAL(memcmp(a, all, sizeof(*a)), 0);
	ftgt_histogram_merge(empty, all);
	CU_ASSERT_EQUAL(memcmp(empty, all, sizeof(*a)), 0);
	free(a);
	free(b);
	free(all);
	free(empty);
}

static void
test_summary_json(void)
{
	struct ftgt_histogram *h = hist_new();
	json_t *j;
	uint64_t v;

	for (v = 1; v <= 10; v++) {
		ftgt_histogram_add(h, v * 1000);
	}
	/* ticks at 1 GHz -> microseconds */
	j = ftgt_histogram_summary_json(h, 1e-3);
	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_EQUAL(json_object_size(j), 8);
	CU_ASSERT(json_is_integer(json_object_get(j, "count")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "count")), 10);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "min")), 1.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "max")), 10.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "avg")), 5.5, 1e-9);
	/* 5000 lies in bucket 4864..5119; p99 and p99.9 are capped at max. */
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "p50")), 5.119, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "p99")), 10.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "p99_9")), 10.0, 1e-9);
	CU_ASSERT(json_is_real(json_object_get(j, "p90")));
	json_decref(j);

	CU_ASSERT(ftgt_histogram_summary_json(h, NAN) == NULL);
	free(h);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("histogram", NULL, NULL);
	CU_ADD_TEST(s, test_index_small_values_linear);
	CU_ADD_TEST(s, test_index_boundaries);
	CU_ADD_TEST(s, test_bucket_bounds_monotonic);
	CU_ADD_TEST(s, test_add_random_index);
	CU_ADD_TEST(s, test_empty);
	CU_ADD_TEST(s, test_percentile_error_bound);
	CU_ADD_TEST(s, test_percentile_small);
	CU_ADD_TEST(s, test_merge);
	CU_ADD_TEST(s, test_summary_json);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
