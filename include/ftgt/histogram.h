/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Log-linear latency histograms: buckets double in width every FTGT_HISTOGRAM_SUB
 * buckets, so relative error stays under 1/FTGT_HISTOGRAM_SUB from nanoseconds to
 * hours in a fixed 8 KiB. Counting is one increment, no atomics: keep one per thread
 * and merge on request.
 */
#ifndef FTGT_HISTOGRAM_H
#define FTGT_HISTOGRAM_H

#include <stdint.h>
#include <jansson.h>

#define FTGT_HISTOGRAM_SUB_BITS 4
#define FTGT_HISTOGRAM_SUB      (1u << FTGT_HISTOGRAM_SUB_BITS)
#define FTGT_HISTOGRAM_RANGES   (64 - FTGT_HISTOGRAM_SUB_BITS)
#define FTGT_HISTOGRAM_BUCKETS  (FTGT_HISTOGRAM_RANGES * FTGT_HISTOGRAM_SUB)

struct ftgt_histogram {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t bucket[FTGT_HISTOGRAM_BUCKETS];
};

void ftgt_histogram_init(struct ftgt_histogram *h);
/* Record one value (any unit; ticks on the I/O path). */
void ftgt_histogram_add(struct ftgt_histogram *h, uint64_t value);
/* dst += src. */
void ftgt_histogram_merge(struct ftgt_histogram *dst, const struct ftgt_histogram *src);
/*
 * Value at or below which `pct` percent (0..100) of the samples lie: the inclusive upper
 * bound of the bucket where the cumulative count reaches ceil(pct * count / 100), capped
 * at the exact maximum. Never below the exact (nearest-rank) percentile and less than
 * 1/FTGT_HISTOGRAM_SUB above it. pct <= 0 gives the exact min, pct >= 100 the exact max,
 * an empty histogram 0.
 */
uint64_t ftgt_histogram_percentile(const struct ftgt_histogram *h, double pct);
/*
 * Inclusive lower and upper bound of bucket i (< FTGT_HISTOGRAM_BUCKETS): bucket i holds
 * the values start..end. The last bucket also holds every value >= 2^63 (end UINT64_MAX).
 */
uint64_t ftgt_histogram_bucket_start(uint32_t i);
uint64_t ftgt_histogram_bucket_end(uint32_t i);
/* Index of the bucket that holds value (what ftgt_histogram_add() increments). */
uint32_t ftgt_histogram_bucket_index(uint64_t value);
/*
 * {"count","min","max","avg","p50","p90","p99","p99_9"}: count as a JSON integer, the
 * others as JSON reals converted by value * scale (e.g. 1e6 / tick_hz for ticks ->
 * microseconds). All zero for an empty histogram. NULL if out of memory or scale is
 * not finite. The caller owns the reference.
 */
json_t *ftgt_histogram_summary_json(const struct ftgt_histogram *h, double scale);

#endif /* FTGT_HISTOGRAM_H */
