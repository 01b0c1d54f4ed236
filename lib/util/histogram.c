/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Log-linear histogram. Values below 2 * SUB have a bucket each; above that, every power
 * of two [2^k, 2^(k+1)) is cut into SUB equal buckets. With shift = max(msb(v) - SUB_BITS, 0)
 * the bucket of v is shift * SUB + (v >> shift): (v >> shift) is v's top SUB_BITS + 1 bits,
 * which lie in [SUB, 2 * SUB) once v >= SUB, so consecutive powers of two get consecutive
 * runs of SUB buckets. OR-ing SUB into v before the clz makes shift 0 for small values
 * without a branch.
 *
 * 60 ranges of 16 cover values below 2^63; the rare larger value (a clock going
 * backwards, usually) is counted in the last bucket rather than dropped.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "ftgt/histogram.h"

#define HISTOGRAM_SUB_MASK (FTGT_HISTOGRAM_SUB - 1)

uint32_t
ftgt_histogram_bucket_index(uint64_t value)
{
	uint32_t shift = 63 - FTGT_HISTOGRAM_SUB_BITS - __builtin_clzll(value | FTGT_HISTOGRAM_SUB);
	uint64_t idx = ((uint64_t)shift << FTGT_HISTOGRAM_SUB_BITS) + (value >> shift);

	/* Only values >= 2^63 land past the end; a conditional move, not a branch. */
	return idx < FTGT_HISTOGRAM_BUCKETS ? (uint32_t)idx : FTGT_HISTOGRAM_BUCKETS - 1;
}

void
ftgt_histogram_init(struct ftgt_histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void
ftgt_histogram_add(struct ftgt_histogram *h, uint64_t value)
{
	h->count++;
	h->sum += value;
	h->min = value < h->min ? value : h->min;
	h->max = value > h->max ? value : h->max;
	h->bucket[ftgt_histogram_bucket_index(value)]++;
}

void
ftgt_histogram_merge(struct ftgt_histogram *dst, const struct ftgt_histogram *src)
{
	uint32_t i;

	if (src->count == 0) {
		return;
	}
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min) {
		dst->min = src->min;
	}
	if (src->max > dst->max) {
		dst->max = src->max;
	}
	for (i = 0; i < FTGT_HISTOGRAM_BUCKETS; i++) {
		dst->bucket[i] += src->bucket[i];
	}
}

uint64_t
ftgt_histogram_bucket_start(uint32_t i)
{
	if (i < 2 * FTGT_HISTOGRAM_SUB) {
		return i;
	}
	if (i >= FTGT_HISTOGRAM_BUCKETS) {
		return UINT64_MAX;
	}
	return (uint64_t)(FTGT_HISTOGRAM_SUB + (i & HISTOGRAM_SUB_MASK))
	       << ((i >> FTGT_HISTOGRAM_SUB_BITS) - 1);
}

uint64_t
ftgt_histogram_bucket_end(uint32_t i)
{
	if (i >= FTGT_HISTOGRAM_BUCKETS - 1) {
		return UINT64_MAX;
	}
	return ftgt_histogram_bucket_start(i + 1) - 1;
}

uint64_t
ftgt_histogram_percentile(const struct ftgt_histogram *h, double pct)
{
	uint64_t rank, seen = 0, end;
	double r;
	uint32_t i;

	if (h->count == 0) {
		return 0;
	}
	if (!(pct > 0)) { /* also NaN */
		return h->min;
	}
	if (pct >= 100) {
		return h->max;
	}
	/*
	 * Nearest rank: the smallest sample with at least pct% of the samples at or below it.
	 * The small relative slack keeps 99.9% of 10000 at rank 9990 despite rounding in
	 * pct / 100 * count.
	 */
	r = pct / 100.0 * (double)h->count;
	r = ceil(r - r * 1e-12);
	rank = r < 1 ? 1 : (r >= (double)h->count ? h->count : (uint64_t)r);

	for (i = 0; i < FTGT_HISTOGRAM_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			end = ftgt_histogram_bucket_end(i);
			return end < h->max ? end : h->max;
		}
	}
	/* Buckets and count disagree (a histogram torn by a racing reader): best effort. */
	return h->max;
}

static int
summary_set_real(json_t *obj, const char *key, double v)
{
	json_t *j = json_real(v);

	if (j == NULL) {
		return -1;
	}
	return json_object_set_new(obj, key, j);
}

json_t *
ftgt_histogram_summary_json(const struct ftgt_histogram *h, double scale)
{
	static const struct {
		const char *key;
		double pct;
	} pcts[] = {
	        {"p50", 50.0},
	        {"p90", 90.0},
	        {"p99", 99.0},
	        {"p99_9", 99.9},
	};
	bool empty = h->count == 0;
	json_t *obj;
	size_t i;
	int rc = 0;

	if (!isfinite(scale)) {
		return NULL;
	}
	obj = json_object();
	if (obj == NULL) {
		return NULL;
	}
	rc |= json_object_set_new(obj, "count", json_integer((json_int_t)h->count));
	rc |= summary_set_real(obj, "min", empty ? 0.0 : (double)h->min * scale);
	rc |= summary_set_real(obj, "max", empty ? 0.0 : (double)h->max * scale);
	rc |= summary_set_real(obj, "avg", empty ? 0.0 : (double)h->sum / (double)h->count * scale);
	for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		rc |= summary_set_real(obj, pcts[i].key,
		                       (double)ftgt_histogram_percentile(h, pcts[i].pct) * scale);
	}
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
