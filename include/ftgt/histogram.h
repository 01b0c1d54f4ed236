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
#define FTGT_HISTOGRAM_SUB (1u << FTGT_HISTOGRAM_SUB_BITS)
#define FTGT_HISTOGRAM_RANGES (64 - FTGT_HISTOGRAM_SUB_BITS)
#define FTGT_HISTOGRAM_BUCKETS (FTGT_HISTOGRAM_RANGES * FTGT_HISTOGRAM_SUB)

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
/* Value below which `pct` percent (0..100) of the samples lie (upper bound of its bucket). */
uint64_t ftgt_histogram_percentile(const struct ftgt_histogram *h, double pct);
/* Lower and upper bound of bucket i. */
uint64_t ftgt_histogram_bucket_start(uint32_t i);
uint64_t ftgt_histogram_bucket_end(uint32_t i);
/*
 * {"count","min","max","avg","p50","p90","p99","p99_9"} with values converted by
 * value * scale_num / scale_den (e.g. ticks -> microseconds), as JSON numbers.
 */
json_t *ftgt_histogram_summary_json(const struct ftgt_histogram *h, double scale);

#endif /* FTGT_HISTOGRAM_H */
