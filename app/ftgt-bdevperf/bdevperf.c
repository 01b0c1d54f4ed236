/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ftgt-bdevperf: in-process benchmark of bdevs, with SPDK bdevperf's main options.
 *
 * One job per bdev per core of the core mask, on that core's reactor. A job keeps
 * `queue depth` I/Os in flight on its own descriptor and channel for `time` seconds,
 * then drains. Jobs of the same bdev work on disjoint slices of it, so verify never
 * races with itself. Results: per job and in total, IOPS, MiB/s, failures and latency
 * (average and percentiles from a log-linear histogram), as a table or JSON.
 *
 * verify: each I/O slot writes a pattern tagged with the LBA and a generation number,
 * reads it back and checks every byte; a mismatch or failed I/O makes the exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/bdev.h"
#include "ftgt/env.h"
#include "ftgt/histogram.h"
#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"

enum workload {
	WL_READ,
	WL_WRITE,
	WL_RANDREAD,
	WL_RANDWRITE,
	WL_RW,
	WL_RANDRW,
	WL_VERIFY,
};

static const char *const g_wl_names[] = {
        [WL_READ] = "read",           [WL_WRITE] = "write", [WL_RANDREAD] = "randread",
        [WL_RANDWRITE] = "randwrite", [WL_RW] = "rw",       [WL_RANDRW] = "randrw",
        [WL_VERIFY] = "verify",
};

static struct {
	struct ftgt_app_opts app;
	uint32_t qd;
	uint64_t io_size;
	enum workload wl;
	int rwmix_read; /* percent */
	uint64_t time_s;
	char *bdev_names[64];
	int nbdev_names;
	bool json_out;
	int exit_code;
} g_opt = {.qd = 0, .io_size = 0, .rwmix_read = -1, .time_s = 0};

struct job;

struct task {
	struct job *job;
	void *buf;
	void *rbuf; /* verify: read-back buffer */
	uint64_t offset_blocks;
	uint64_t submit_tsc;
	uint64_t slot; /* verify: current slot */
	uint64_t gen;
	bool is_read;
	bool verify_reading;
	struct ftgt_bdev_io_wait_entry wait;
};

struct job {
	char *bdev_name;
	uint32_t core;
	struct ftgt_thread *thread;
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct task *tasks;
	uint32_t io_blocks;
	uint32_t block_size;
	uint64_t range_start; /* blocks */
	uint64_t range_blocks;
	uint64_t nslots; /* range_blocks / io_blocks */
	uint64_t seq_next;
	uint64_t rng;
	bool stopping;
	uint32_t outstanding;
	uint64_t start_tsc, end_tsc;
	struct ftgt_poller *timer;
	/* results */
	uint64_t ios, bytes, failed, verify_errors, lat_sum;
	struct ftgt_histogram hist;
	int rc;
	struct job *next;
};

static struct job *g_jobs;
static uint32_t g_jobs_left;
static struct ftgt_thread *g_app_thread;

static inline uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* ---- the I/O loop ------------------------------------------------------------------ */

static void task_submit(struct task *t, uint64_t now);
static void job_maybe_done(struct job *j);
void bdevperf_report(void);

static void
pattern_fill(struct job *j, struct task *t)
{
	uint8_t *p = t->buf;
	uint64_t b, i;

	for (b = 0; b < j->io_blocks; b++) {
		uint64_t lba = t->offset_blocks + b;
		uint64_t *w = (uint64_t *)(p + b * j->block_size);

		w[0] = lba;
		w[1] = t->gen;
		for (i = 2; i < j->block_size / 8; i++) {
			w[i] = (lba * 0x9e3779b97f4a7c15ull) ^ (t->gen << 32) ^ i;
		}
	}
}

static void
io_wait_cb(void *arg)
{
	struct task *t = arg;

	t->job->outstanding--;
	if (t->job->stopping) {
		job_maybe_done(t->job);
		return;
	}
	task_submit(t, ftgt_get_ticks());
}

static void
task_done(struct ftgt_bdev_io *io, bool success, void *arg)
{
	struct task *t = arg;
	struct job *j = t->job;
	uint64_t now = ftgt_get_ticks();
	uint64_t lat = now - t->submit_tsc;

	ftgt_bdev_free_io(io);
	j->outstanding--;
	if (ftgt_unlikely(!success)) {
		j->failed++;
	} else if (g_opt.wl == WL_VERIFY && !t->verify_reading) {
		/* Written: read it back into the second buffer. */
		t->verify_reading = true;
		t->is_read = true;
		t->submit_tsc = now;
		j->outstanding++;
		if (ftgt_bdev_read_blocks(j->desc, j->ch, t->rbuf, t->offset_blocks, j->io_blocks,
		                          task_done, t) != 0) {
			j->outstanding--;
			j->failed++;
		}
		j->ios++;
		j->bytes += (uint64_t)j->io_blocks * j->block_size;
		j->lat_sum += lat;
		ftgt_histogram_add(&j->hist, lat);
		return;
	} else if (g_opt.wl == WL_VERIFY) {
		if (memcmp(t->buf, t->rbuf, (size_t)j->io_blocks * j->block_size) != 0) {
			j->verify_errors++;
			if (j->verify_errors <= 5) {
				FTGT_ERRLOG("verify: %s: data at LBA %" PRIu64 " differs\n",
				            j->bdev_name, t->offset_blocks);
			}
		}
	}
	j->ios++;
	j->bytes += (uint64_t)j->io_blocks * j->block_size;
	j->lat_sum += lat;
	ftgt_histogram_add(&j->hist, lat);
	if (ftgt_unlikely(j->stopping)) {
		job_maybe_done(j);
		return;
	}
	task_submit(t, now);
}

static void
task_pick(struct job *j, struct task *t)
{
	switch (g_opt.wl) {
	case WL_READ:
	case WL_WRITE:
	case WL_RW:
		t->offset_blocks = j->range_start + (j->seq_next % j->nslots) * j->io_blocks;
		j->seq_next++;
		break;
	case WL_VERIFY:
		t->slot += g_opt.qd;
		if (t->slot >= j->nslots) {
			t->slot %= g_opt.qd;
			t->gen++;
		}
		t->offset_blocks = j->range_start + t->slot * j->io_blocks;
		break;
	default:
		t->offset_blocks = j->range_start + (rng_next(&j->rng) % j->nslots) * j->io_blocks;
		break;
	}
	switch (g_opt.wl) {
	case WL_READ:
	case WL_RANDREAD:
		t->is_read = true;
		break;
	case WL_WRITE:
	case WL_RANDWRITE:
	case WL_VERIFY:
		t->is_read = false;
		break;
	default:
		t->is_read = (int)(rng_next(&j->rng) % 100) < g_opt.rwmix_read;
		break;
	}
}

/* now: the clock read at the previous completion (one read an I/O). */
static void
task_submit(struct task *t, uint64_t now)
{
	struct job *j = t->job;
	int rc;

	task_pick(j, t);
	if (g_opt.wl == WL_VERIFY) {
		t->verify_reading = false;
		pattern_fill(j, t);
	}
	t->submit_tsc = now;
	if (t->is_read) {
		rc = ftgt_bdev_read_blocks(j->desc, j->ch, t->buf, t->offset_blocks, j->io_blocks,
		                           task_done, t);
	} else {
		rc = ftgt_bdev_write_blocks(j->desc, j->ch, t->buf, t->offset_blocks, j->io_blocks,
		                            task_done, t);
	}
	if (ftgt_likely(rc == 0)) {
		j->outstanding++;
		return;
	}
	if (rc == -ENOMEM) {
		t->wait.bdev = ftgt_bdev_desc_get_bdev(j->desc);
		t->wait.cb_fn = io_wait_cb;
		t->wait.cb_arg = t;
		if (ftgt_bdev_queue_io_wait(t->wait.bdev, j->ch, &t->wait) == 0) {
			/* Counted as outstanding until it runs again. */
			j->outstanding++;
			return;
		}
	}
	j->failed++;
	FTGT_ERRLOG("%s: submit failed: %s\n", j->bdev_name, strerror(-rc));
	job_maybe_done(j);
}

/* ---- job life ---------------------------------------------------------------------- */

static void
job_done_msg(void *arg)
{
	struct job *j = arg;

	(void)j;
	if (--g_jobs_left == 0) {
		/* Every job drained: print and stop. */
		bdevperf_report();
		ftgt_app_stop(g_opt.exit_code);
	}
}

static void
job_finish(struct job *j)
{
	uint32_t i;

	ftgt_poller_unregister(&j->timer);
	if (j->ch != NULL) {
		ftgt_put_io_channel(j->ch);
		j->ch = NULL;
	}
	if (j->desc != NULL) {
		ftgt_bdev_close(j->desc);
		j->desc = NULL;
	}
	for (i = 0; j->tasks != NULL && i < g_opt.qd; i++) {
		ftgt_dma_free(j->tasks[i].buf);
		ftgt_dma_free(j->tasks[i].rbuf);
	}
	free(j->tasks);
	j->tasks = NULL;
	ftgt_thread_send_msg(g_app_thread, job_done_msg, j);
}

static void
job_maybe_done(struct job *j)
{
	if (j->outstanding == 0 && j->stopping && j->desc != NULL) {
		if (j->end_tsc == 0) {
			j->end_tsc = ftgt_get_ticks();
		}
		job_finish(j);
	}
}

static int
job_timer(void *arg)
{
	struct job *j = arg;

	ftgt_poller_unregister(&j->timer);
	j->stopping = true;
	j->end_tsc = ftgt_get_ticks();
	job_maybe_done(j);
	return FTGT_POLLER_BUSY;
}

static void
job_event_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	struct job *j = ctx;

	if (type == FTGT_BDEV_EVENT_REMOVE) {
		FTGT_WARNLOG("%s: bdev removed during the run\n", j->bdev_name);
		j->stopping = true;
		if (j->end_tsc == 0) {
			j->end_tsc = ftgt_get_ticks();
		}
		job_maybe_done(j);
	}
}

static void
job_start_msg(void *arg)
{
	struct job *j = arg;
	struct ftgt_bdev *bdev;
	size_t align;
	uint32_t i;
	int rc;

	rc = ftgt_bdev_open_ext(j->bdev_name, g_opt.wl != WL_READ && g_opt.wl != WL_RANDREAD,
	                        job_event_cb, j, &j->desc);
	if (rc != 0) {
		FTGT_ERRLOG("%s: cannot open: %s\n", j->bdev_name, strerror(-rc));
		goto fail;
	}
	bdev = ftgt_bdev_desc_get_bdev(j->desc);
	j->ch = ftgt_bdev_get_io_channel(j->desc);
	if (j->ch == NULL) {
		FTGT_ERRLOG("%s: no I/O channel\n", j->bdev_name);
		goto fail;
	}
	align = FTGT_MAX(ftgt_bdev_get_buf_align(bdev), (size_t)4096);
	j->tasks = calloc(g_opt.qd, sizeof(*j->tasks));
	if (j->tasks == NULL) {
		goto fail;
	}
	for (i = 0; i < g_opt.qd; i++) {
		struct task *t = &j->tasks[i];

		t->job = j;
		t->buf = ftgt_dma_zmalloc(g_opt.io_size, align);
		if (g_opt.wl == WL_VERIFY) {
			t->rbuf = ftgt_dma_zmalloc(g_opt.io_size, align);
		}
		if (t->buf == NULL || (g_opt.wl == WL_VERIFY && t->rbuf == NULL)) {
			FTGT_ERRLOG("%s: out of buffer memory\n", j->bdev_name);
			goto fail;
		}
		/* verify: slot i, i+qd, i+2qd, ...; the first pick adds qd. */
		t->slot = (uint64_t)i - g_opt.qd;
		t->gen = 1;
	}
	j->rng = 0x2545f4914f6cdd1dull ^ ((uint64_t)j->core << 32) ^ (uintptr_t)j;
	j->timer = ftgt_poller_register(job_timer, j, g_opt.time_s * 1000000, "bdevperf_timer");
	j->start_tsc = ftgt_get_ticks();
	for (i = 0; i < g_opt.qd; i++) {
		if (g_opt.wl == WL_VERIFY && i >= j->nslots) {
			break; /* fewer slots than the queue depth */
		}
		task_submit(&j->tasks[i], ftgt_get_ticks());
	}
	return;
fail:
	j->rc = -1;
	g_opt.exit_code = 1;
	j->stopping = true;
	if (j->desc == NULL) {
		job_finish(j);
		return;
	}
	job_maybe_done(j);
	if (j->desc != NULL) {
		job_finish(j);
	}
}

/* ---- set-up (app thread) ----------------------------------------------------------- */

static int
add_jobs_for_bdev(struct ftgt_bdev *bdev, struct job ***tail)
{
	uint32_t core, ncores = ftgt_env_get_core_count(), k = 0;
	uint32_t bs = ftgt_bdev_get_block_size(bdev);
	uint64_t nb = ftgt_bdev_get_num_blocks(bdev), per;

	if (g_opt.io_size % bs != 0) {
		fprintf(stderr,
		        "bdevperf: I/O size %" PRIu64 " is not a multiple of %s's block "
		        "size %" PRIu32 "\n",
		        g_opt.io_size, ftgt_bdev_get_name(bdev), bs);
		return -EINVAL;
	}
	per = nb / ncores;
	FTGT_ENV_FOREACH_CORE (core) {
		struct job *j = calloc(1, sizeof(*j));

		if (j == NULL) {
			return -ENOMEM;
		}
		j->bdev_name = strdup(ftgt_bdev_get_name(bdev));
		j->core = core;
		j->thread = ftgt_reactor_get_thread(core);
		j->block_size = bs;
		j->io_blocks = (uint32_t)(g_opt.io_size / bs);
		j->range_start = per * k;
		j->range_blocks = per;
		j->nslots = per / j->io_blocks;
		ftgt_histogram_init(&j->hist);
		**tail = j;
		*tail = &j->next;
		k++;
		if (j->nslots == 0) {
			fprintf(stderr,
			        "bdevperf: %s is too small for %u jobs of %" PRIu64 "-byte I/O\n",
			        j->bdev_name, ncores, g_opt.io_size);
			return -EINVAL;
		}
	}
	return 0;
}

static void
bdevperf_start(void *ctx)
{
	struct job **tail = &g_jobs, *j;
	struct ftgt_bdev *bdev;
	int i, rc = 0;

	g_app_thread = ftgt_get_thread();
	if (g_opt.nbdev_names > 0) {
		for (i = 0; i < g_opt.nbdev_names && rc == 0; i++) {
			bdev = ftgt_bdev_get_by_name(g_opt.bdev_names[i]);
			if (bdev == NULL) {
				fprintf(stderr, "bdevperf: bdev '%s' does not exist\n",
				        g_opt.bdev_names[i]);
				rc = -ENODEV;
				break;
			}
			rc = add_jobs_for_bdev(bdev, &tail);
		}
	} else {
		for (bdev = ftgt_bdev_first_leaf(); bdev != NULL && rc == 0;
		     bdev = ftgt_bdev_next_leaf(bdev)) {
			rc = add_jobs_for_bdev(bdev, &tail);
		}
	}
	if (rc == 0 && g_jobs == NULL) {
		fprintf(stderr, "bdevperf: no bdev to test (give --json CONFIG and/or -b NAME)\n");
		rc = -ENODEV;
	}
	if (rc != 0) {
		ftgt_app_stop(1);
		return;
	}
	for (j = g_jobs; j != NULL; j = j->next) {
		g_jobs_left++;
	}
	for (j = g_jobs; j != NULL; j = j->next) {
		if (j->thread == NULL || ftgt_thread_send_msg(j->thread, job_start_msg, j) != 0) {
			fprintf(stderr, "bdevperf: cannot start a job on core %u\n", j->core);
			g_opt.exit_code = 1;
			g_jobs_left--;
		}
	}
	if (g_jobs_left == 0) {
		ftgt_app_stop(1);
	}
}

/* ---- report ------------------------------------------------------------------------ */

struct result {
	double runtime_s, iops, mibps, fail_s;
	double avg_us, min_us, p50_us, p90_us, p99_us, p999_us, max_us;
	uint64_t ios, failed, verify_errors;
};

static void
job_result(const struct job *j, const struct ftgt_histogram *h, uint64_t ticks, struct result *r)
{
	double hz = (double)ftgt_get_ticks_hz(), us = 1e6 / hz;

	memset(r, 0, sizeof(*r));
	r->runtime_s = (double)ticks / hz;
	if (r->runtime_s <= 0) {
		r->runtime_s = 1e-9;
	}
	r->ios = j->ios;
	r->failed = j->failed;
	r->verify_errors = j->verify_errors;
	r->iops = (double)j->ios / r->runtime_s;
	r->mibps = (double)j->bytes / r->runtime_s / (1024.0 * 1024.0);
	r->fail_s = (double)j->failed / r->runtime_s;
	if (h->count != 0) {
		r->avg_us = (double)j->lat_sum / (double)h->count * us;
		r->min_us = (double)h->min * us;
		r->p50_us = (double)ftgt_histogram_percentile(h, 50) * us;
		r->p90_us = (double)ftgt_histogram_percentile(h, 90) * us;
		r->p99_us = (double)ftgt_histogram_percentile(h, 99) * us;
		r->p999_us = (double)ftgt_histogram_percentile(h, 99.9) * us;
		r->max_us = (double)h->max * us;
	}
}

static json_t *
result_json(const char *name, int core, const struct result *r)
{
	json_t *o = json_object(), *l = json_object();

	json_object_set_new(o, "bdev", json_string(name));
	if (core >= 0) {
		json_object_set_new(o, "core", json_integer(core));
	}
	json_object_set_new(o, "workload", json_string(g_wl_names[g_opt.wl]));
	json_object_set_new(o, "queue_depth", json_integer(g_opt.qd));
	json_object_set_new(o, "io_size", json_integer((json_int_t)g_opt.io_size));
	json_object_set_new(o, "runtime_s", json_real(r->runtime_s));
	json_object_set_new(o, "ios", json_integer((json_int_t)r->ios));
	json_object_set_new(o, "iops", json_real(r->iops));
	json_object_set_new(o, "mibps", json_real(r->mibps));
	json_object_set_new(o, "io_failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "verify_errors", json_integer((json_int_t)r->verify_errors));
	json_object_set_new(l, "avg", json_real(r->avg_us));
	json_object_set_new(l, "min", json_real(r->min_us));
	json_object_set_new(l, "p50", json_real(r->p50_us));
	json_object_set_new(l, "p90", json_real(r->p90_us));
	json_object_set_new(l, "p99", json_real(r->p99_us));
	json_object_set_new(l, "p99_9", json_real(r->p999_us));
	json_object_set_new(l, "max", json_real(r->max_us));
	json_object_set_new(o, "latency_us", l);
	return o;
}

static void
print_row(const char *name, const char *core, const struct result *r)
{
	printf("%-16s %4s %8.2f %13.2f %10.2f %8.2f %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f\n", name,
	       core, r->runtime_s, r->iops, r->mibps, r->fail_s, r->avg_us, r->p50_us, r->p90_us,
	       r->p99_us, r->p999_us, r->max_us);
}

void
bdevperf_report(void)
{
	struct ftgt_histogram *all = malloc(sizeof(*all));
	struct job total = {0};
	struct result r;
	uint64_t max_ticks = 0;
	json_t *arr = json_array(), *root;
	char core[16];
	struct job *j;

	ftgt_histogram_init(all);
	if (!g_opt.json_out) {
		printf("\nWorkload %s, queue depth %u, I/O size %" PRIu64 " bytes, %" PRIu64 " s\n",
		       g_wl_names[g_opt.wl], g_opt.qd, g_opt.io_size, g_opt.time_s);
		printf("%-16s %4s %8s %13s %10s %8s %9s %9s %9s %9s %9s %10s\n", "Device", "core",
		       "time(s)", "IOPS", "MiB/s", "Fail/s", "avg(us)", "p50", "p90", "p99",
		       "p99.9", "max(us)");
	}
	for (j = g_jobs; j != NULL; j = j->next) {
		uint64_t ticks = j->end_tsc > j->start_tsc ? j->end_tsc - j->start_tsc : 0;

		job_result(j, &j->hist, ticks, &r);
		snprintf(core, sizeof(core), "%u", j->core);
		if (g_opt.json_out) {
			json_array_append_new(arr, result_json(j->bdev_name, (int)j->core, &r));
		} else {
			print_row(j->bdev_name, core, &r);
		}
		total.ios += j->ios;
		total.bytes += j->bytes;
		total.failed += j->failed;
		total.verify_errors += j->verify_errors;
		total.lat_sum += j->lat_sum;
		ftgt_histogram_merge(all, &j->hist);
		max_ticks = FTGT_MAX(max_ticks, ticks);
		if (j->failed != 0 || j->verify_errors != 0 || j->rc != 0) {
			g_opt.exit_code = 1;
		}
	}
	/* Jobs run side by side: the total rate is the sum of their rates. */
	job_result(&total, all, max_ticks, &r);
	r.iops = 0;
	r.mibps = 0;
	r.fail_s = 0;
	for (j = g_jobs; j != NULL; j = j->next) {
		struct result jr;
		uint64_t ticks = j->end_tsc > j->start_tsc ? j->end_tsc - j->start_tsc : 0;

		job_result(j, &j->hist, ticks, &jr);
		r.iops += jr.iops;
		r.mibps += jr.mibps;
		r.fail_s += jr.fail_s;
	}
	if (g_opt.json_out) {
		root = json_object();
		json_object_set_new(root, "results", arr);
		json_object_set_new(root, "total", result_json("total", -1, &r));
		json_dumpf(root, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(root);
	} else {
		json_decref(arr);
		printf("%-16s %4s ", "Total", "");
		printf("%8.2f %13.2f %10.2f %8.2f %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f\n",
		       r.runtime_s, r.iops, r.mibps, r.fail_s, r.avg_us, r.p50_us, r.p90_us,
		       r.p99_us, r.p999_us, r.max_us);
		if (total.verify_errors != 0) {
			printf("verify: %" PRIu64 " mismatches\n", total.verify_errors);
		}
		if (total.failed != 0) {
			printf("%" PRIu64 " I/O failed\n", total.failed);
		}
	}
	fflush(stdout);
	free(all);
}

/* ---- options ----------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: ftgt-bdevperf [options]\n"
	        "\n"
	        "Benchmark bdevs in-process: one job per bdev per core.\n"
	        "\n"
	        "  -c, --json CONFIG     JSON config that creates the bdevs (save_config format)\n"
	        "  -q, --queue-depth N   I/Os in flight per job (required)\n"
	        "  -o, --io-size SIZE    bytes per I/O, K/M suffixes allowed (required)\n"
	        "  -w, --workload W      read, write, randread, randwrite, rw, randrw, verify\n"
	        "  -M, --rwmixread PCT   reads in percent for rw/randrw (required there)\n"
	        "  -t, --time SECONDS    run time (required)\n"
	        "  -m, --cpumask MASK    cores: 0x3, [0-1] (default 0x1)\n"
	        "  -b, --bdev NAME       test only this bdev (repeatable; default: every bdev no\n"
	        "                        module claimed)\n"
	        "  -r, --rpc-socket PATH also serve JSON-RPC there while running\n"
	        "      --output json     print results as JSON\n"
	        "  -s, --mem-size MB     memory to reserve at start\n"
	        "      --no-huge         do not use hugepages\n"
	        "  -h, --help\n");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	        {"json", required_argument, NULL, 'c'},
	        {"config", required_argument, NULL, 'c'},
	        {"queue-depth", required_argument, NULL, 'q'},
	        {"io-size", required_argument, NULL, 'o'},
	        {"workload", required_argument, NULL, 'w'},
	        {"rwmixread", required_argument, NULL, 'M'},
	        {"time", required_argument, NULL, 't'},
	        {"cpumask", required_argument, NULL, 'm'},
	        {"bdev", required_argument, NULL, 'b'},
	        {"rpc-socket", required_argument, NULL, 'r'},
	        {"output", required_argument, NULL, 'O'},
	        {"mem-size", required_argument, NULL, 's'},
	        {"no-huge", no_argument, NULL, 'H'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	uint64_t v;
	char *end;
	int c, rc;
	size_t k;

	ftgt_app_opts_init(&g_opt.app);
	g_opt.app.name = "ftgt-bdevperf";
	g_opt.app.rpc_addr = NULL;
	g_opt.wl = (enum workload) - 1;
	while ((c = getopt_long(argc, argv, "c:q:o:w:M:t:m:b:r:s:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			g_opt.app.config_file = optarg;
			break;
		case 'q':
			v = strtoull(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v > 65536) {
				fprintf(stderr,
				        "bdevperf: -q: give a queue depth from 1 to 65536\n");
				return 1;
			}
			g_opt.qd = (uint32_t)v;
			break;
		case 'o':
			if (ftgt_parse_size(optarg, &g_opt.io_size) != 0 || g_opt.io_size == 0) {
				fprintf(stderr, "bdevperf: -o: '%s' is not a size\n", optarg);
				return 1;
			}
			break;
		case 'w':
			for (k = 0; k < FTGT_COUNTOF(g_wl_names); k++) {
				if (strcmp(optarg, g_wl_names[k]) == 0) {
					g_opt.wl = (enum workload)k;
				}
			}
			if ((int)g_opt.wl < 0) {
				fprintf(stderr, "bdevperf: -w: unknown workload '%s'\n", optarg);
				return 1;
			}
			break;
		case 'M':
			v = strtoull(optarg, &end, 10);
			if (*end != '\0' || v > 100) {
				fprintf(stderr, "bdevperf: -M: give 0 to 100\n");
				return 1;
			}
			g_opt.rwmix_read = (int)v;
			break;
		case 't':
			v = strtoull(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v > 86400) {
				fprintf(stderr, "bdevperf: -t: give seconds from 1 to 86400\n");
				return 1;
			}
			g_opt.time_s = v;
			break;
		case 'm':
			g_opt.app.core_mask = optarg;
			break;
		case 'b':
			if (g_opt.nbdev_names == (int)FTGT_COUNTOF(g_opt.bdev_names)) {
				fprintf(stderr, "bdevperf: too many -b\n");
				return 1;
			}
			g_opt.bdev_names[g_opt.nbdev_names++] = optarg;
			break;
		case 'r':
			g_opt.app.rpc_addr = optarg;
			break;
		case 'O':
			if (strcmp(optarg, "json") == 0) {
				g_opt.json_out = true;
			} else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "bdevperf: --output: json or text\n");
				return 1;
			}
			break;
		case 's':
			if (ftgt_parse_size(optarg, &v) != 0) {
				fprintf(stderr, "bdevperf: -s: '%s' is not a size\n", optarg);
				return 1;
			}
			g_opt.app.mem_size_mb = v < 1024 * 1024 ? v : v / (1024 * 1024);
			break;
		case 'H':
			g_opt.app.no_huge = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (g_opt.qd == 0 || g_opt.io_size == 0 || (int)g_opt.wl < 0 || g_opt.time_s == 0) {
		fprintf(stderr, "bdevperf: -q, -o, -w and -t are required\n");
		usage(stderr);
		return 1;
	}
	if ((g_opt.wl == WL_RW || g_opt.wl == WL_RANDRW) && g_opt.rwmix_read < 0) {
		fprintf(stderr, "bdevperf: -w %s needs -M READ_PERCENT\n", g_wl_names[g_opt.wl]);
		return 1;
	}
	rc = ftgt_app_start(&g_opt.app, bdevperf_start, NULL);
	for (struct job *j = g_jobs, *n; j != NULL; j = n) {
		n = j->next;
		free(j->bdev_name);
		free(j);
	}
	return rc != 0 ? rc : g_opt.exit_code;
}
