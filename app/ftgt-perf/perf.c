/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ftgt-perf: NVMe-oF initiator benchmark over the lib/nvme host library. One pinned
 * pthread per core in -c polls its queue pairs; each (namespace, connection) is a job
 * with -q preallocated tasks and buffers, resubmitted from the completion callback.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/histogram.h"
#include "ftgt/log.h"
#include "ftgt/nvme.h"
#include "ftgt/util.h"

#define MAX_TRIDS 16
#define MAX_CORES 64

enum workload {
	WL_READ,
	WL_WRITE,
	WL_RANDREAD,
	WL_RANDWRITE,
	WL_RANDRW,
	WL_RW,
};

struct job;

struct task {
	struct job *job;
	uint8_t *buf;
	uint64_t lba;
	uint64_t start_ns;
	uint64_t stripe_start; /* --verify: this task's own LBA range */
	uint64_t stripe_blocks;
	uint64_t seq;
	bool is_read;
	bool verify_read; /* --verify: the read-back half of a write+read pair */
	struct task *next_waiting;
};

struct ns_entry {
	struct ftgt_nvme_ctrlr *ctrlr;
	uint32_t nsid;
	uint32_t block_size;
	uint64_t num_blocks;
	char name[300];
	uint32_t index;
};

struct job {
	struct ns_entry *ns;
	struct ftgt_nvme_qpair *qpair;
	struct task *tasks;
	uint32_t num_tasks;
	uint32_t lba_count;
	uint64_t seq_lba;
	uint64_t rand_state;
	uint64_t ios;
	uint64_t bytes;
	uint64_t errors;
	uint64_t miscompares;
	uint64_t outstanding;
	bool failed;
	struct task *waiting; /* -ENOMEM: the queue pair is full, retried after polling */
	struct ftgt_histogram hist;
	struct job *next_in_worker;
	uint32_t conn_index;
};

struct worker {
	pthread_t thread;
	uint32_t core;
	struct job *jobs;
};

static struct {
	struct ftgt_nvme_transport_id trids[MAX_TRIDS];
	uint32_t num_trids;
	uint32_t qd;
	uint32_t io_size;
	enum workload wl;
	int read_pct;
	uint32_t seconds;
	uint64_t core_mask;
	uint32_t conns_per_ns;
	bool verify;
	bool json;
	bool hdgst;
	bool ddgst;
	bool discover;
	uint32_t connect_timeout_ms;
} g_opts = {
        .qd = 128,
        .io_size = 4096,
        .wl = WL_RANDREAD,
        .read_pct = -1,
        .seconds = 10,
        .core_mask = 0x1,
        .conns_per_ns = 1,
        .connect_timeout_ms = 3000,
};

static volatile bool g_stop;
static volatile bool g_go;
static uint32_t g_started; /* atomic: workers ready to start */
static uint64_t g_verify_tag;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: ftgt-perf -r TRID [-r TRID...] [options]\n"
	        "  -r, --transport TRID   'trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:4420 "
	        "subnqn:...' [ns:N]\n"
	        "  -q, --queue-depth N    outstanding I/Os per connection (default 128)\n"
	        "  -o, --io-size BYTES    I/O size, K/M suffixes (default 4096)\n"
	        "  -w, --workload W       read|write|randread|randwrite|randrw|rw (default "
	        "randread)\n"
	        "  -M, --read-pct N       read percentage for randrw/rw (default 50)\n"
	        "  -t, --time SECONDS     run time (default 10)\n"
	        "  -c, --core-mask MASK   initiator cores, one polling thread each (default 0x1)\n"
	        "  -P, --conns N          connections (I/O queue pairs) per namespace (default 1)\n"
	        "      --verify           write LBA-tagged data, read it back and compare\n"
	        "      --hdgst, --ddgst   enable NVMe/TCP header / data digests\n"
	        "      --connect-timeout MS  bound on connecting (default 3000)\n"
	        "      --json             print the results as one JSON object\n"
	        "      --discover         read the discovery log of each -r (subnqn defaults to\n"
	        "                         the discovery NQN), print its entries and exit\n"
	        "  -h, --help\n");
}

static int
parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "ftgt-perf: %s '%s' must be an integer %u..%u\n", opt, s, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"transport", required_argument, NULL, 'r'},
	        {"queue-depth", required_argument, NULL, 'q'},
	        {"io-size", required_argument, NULL, 'o'},
	        {"workload", required_argument, NULL, 'w'},
	        {"read-pct", required_argument, NULL, 'M'},
	        {"time", required_argument, NULL, 't'},
	        {"core-mask", required_argument, NULL, 'c'},
	        {"conns", required_argument, NULL, 'P'},
	        {"verify", no_argument, NULL, 'V'},
	        {"json", no_argument, NULL, 'J'},
	        {"hdgst", no_argument, NULL, 'H'},
	        {"ddgst", no_argument, NULL, 'D'},
	        {"connect-timeout", required_argument, NULL, 'T'},
	        {"discover", no_argument, NULL, 'X'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	char err[256];
	uint64_t size;
	uint32_t v;
	int c;

	while ((c = getopt_long(argc, argv, "r:q:o:w:M:t:c:P:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (g_opts.num_trids == MAX_TRIDS) {
				fprintf(stderr, "ftgt-perf: at most %d -r options\n", MAX_TRIDS);
				return -EINVAL;
			}
			if (ftgt_nvme_transport_id_parse(&g_opts.trids[g_opts.num_trids], optarg,
			                                 err, sizeof(err)) != 0) {
				fprintf(stderr, "ftgt-perf: -r '%s': %s\n", optarg, err);
				return -EINVAL;
			}
			g_opts.num_trids++;
			break;
		case 'q':
			if (parse_u32("-q", optarg, 1, 1023, &g_opts.qd) != 0) {
				return -EINVAL;
			}
			break;
		case 'o':
			if (ftgt_parse_size(optarg, &size) != 0 || size == 0 || size > (1u << 20)) {
				fprintf(stderr, "ftgt-perf: -o '%s' must be a size 1..1M\n",
				        optarg);
				return -EINVAL;
			}
			g_opts.io_size = (uint32_t)size;
			break;
		case 'w':
			if (strcmp(optarg, "read") == 0) {
				g_opts.wl = WL_READ;
			} else if (strcmp(optarg, "write") == 0) {
				g_opts.wl = WL_WRITE;
			} else if (strcmp(optarg, "randread") == 0) {
				g_opts.wl = WL_RANDREAD;
			} else if (strcmp(optarg, "randwrite") == 0) {
				g_opts.wl = WL_RANDWRITE;
			} else if (strcmp(optarg, "randrw") == 0) {
				g_opts.wl = WL_RANDRW;
			} else if (strcmp(optarg, "rw") == 0) {
				g_opts.wl = WL_RW;
			} else {
				fprintf(stderr,
				        "ftgt-perf: -w '%s' is not read, write, randread, "
				        "randwrite, "
				        "randrw or rw\n",
				        optarg);
				return -EINVAL;
			}
			break;
		case 'M':
			if (parse_u32("-M", optarg, 0, 100, &v) != 0) {
				return -EINVAL;
			}
			g_opts.read_pct = (int)v;
			break;
		case 't':
			if (parse_u32("-t", optarg, 1, 86400, &g_opts.seconds) != 0) {
				return -EINVAL;
			}
			break;
		case 'c':
			if (ftgt_parse_core_mask(optarg, &g_opts.core_mask) != 0 ||
			    g_opts.core_mask == 0) {
				fprintf(stderr, "ftgt-perf: -c '%s' is not a core mask\n", optarg);
				return -EINVAL;
			}
			break;
		case 'P':
			if (parse_u32("-P", optarg, 1, 64, &g_opts.conns_per_ns) != 0) {
				return -EINVAL;
			}
			break;
		case 'V':
			g_opts.verify = true;
			break;
		case 'J':
			g_opts.json = true;
			break;
		case 'H':
			g_opts.hdgst = true;
			break;
		case 'D':
			g_opts.ddgst = true;
			break;
		case 'T':
			if (parse_u32("--connect-timeout", optarg, 1, 600000,
			              &g_opts.connect_timeout_ms) != 0) {
				return -EINVAL;
			}
			break;
		case 'X':
			g_opts.discover = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ftgt-perf: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (g_opts.num_trids == 0) {
		fprintf(stderr, "ftgt-perf: give at least one -r TRID (see --help)\n");
		return -EINVAL;
	}
	if (g_opts.read_pct < 0) {
		g_opts.read_pct = g_opts.wl == WL_READ || g_opts.wl == WL_RANDREAD     ? 100
		                  : g_opts.wl == WL_WRITE || g_opts.wl == WL_RANDWRITE ? 0
		                                                                       : 50;
	} else if (g_opts.wl != WL_RANDRW && g_opts.wl != WL_RW) {
		fprintf(stderr, "ftgt-perf: -M needs -w randrw or rw\n");
		return -EINVAL;
	}
	return 0;
}

/* --verify pattern: every 8 bytes of a block hold (tag ^ lba ^ word index). */
static void
pattern_fill(uint8_t *buf, uint64_t lba, uint32_t blocks, uint32_t bs, uint64_t seq)
{
	uint32_t b, w;

	for (b = 0; b < blocks; b++) {
		uint64_t *p = (uint64_t *)(buf + (size_t)b * bs);

		p[0] = lba + b;
		p[1] = g_verify_tag ^ seq;
		for (w = 2; w < bs / 8; w++) {
			p[w] = (g_verify_tag + lba + b) * 0x9e3779b97f4a7c15ull + w + seq;
		}
	}
}

static bool
pattern_check(const uint8_t *buf, uint64_t lba, uint32_t blocks, uint32_t bs, uint64_t seq)
{
	uint32_t b, w;

	for (b = 0; b < blocks; b++) {
		const uint64_t *p = (const uint64_t *)(buf + (size_t)b * bs);

		if (p[0] != lba + b || p[1] != (g_verify_tag ^ seq)) {
			return false;
		}
		for (w = 2; w < bs / 8; w++) {
			if (p[w] != (g_verify_tag + lba + b) * 0x9e3779b97f4a7c15ull + w + seq) {
				return false;
			}
		}
	}
	return true;
}

static void task_submit(struct task *t);

static void
task_done(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct task *t = cb_arg;
	struct job *job = t->job;
	uint64_t end = now_ns();

	job->outstanding--;
	if (ftgt_nvme_cpl_is_error(cpl)) {
		if (job->errors++ == 0 && !job->failed) {
			fprintf(stderr, "ftgt-perf: %s: %s at LBA %" PRIu64 ": %s\n", job->ns->name,
			        t->is_read ? "read" : "write", t->lba,
			        ftgt_nvme_status_str(ftgt_le16_to_cpu(cpl->status)));
		}
	} else if (g_opts.verify && t->verify_read &&
	           !pattern_check(t->buf, t->lba, job->lba_count, job->ns->block_size, t->seq)) {
		if (job->miscompares++ == 0) {
			fprintf(stderr, "ftgt-perf: %s: data miscompare at LBA %" PRIu64 "\n",
			        job->ns->name, t->lba);
		}
	}
	if (g_go) {
		job->ios++;
		job->bytes += (uint64_t)job->lba_count * job->ns->block_size;
		ftgt_histogram_add(&job->hist, end - t->start_ns);
	}
	if (g_opts.verify && !t->is_read && !ftgt_nvme_cpl_is_error(cpl)) {
		/* Read back what was just written. */
		t->is_read = true;
		t->verify_read = true;
		memset(t->buf, 0, (size_t)job->lba_count * job->ns->block_size);
		t->start_ns = now_ns();
		if (ftgt_nvme_ns_cmd_read(job->qpair, job->ns->nsid, t->buf, t->lba, job->lba_count,
		                          0, task_done, t) == 0) {
			job->outstanding++;
		} else {
			job->errors++;
		}
		return;
	}
	if (!g_stop && !job->failed) {
		task_submit(t);
	}
}

static void
task_submit(struct task *t)
{
	struct job *job = t->job;
	uint64_t span, r = xorshift(&job->rand_state);
	int rc;

	switch (g_opts.wl) {
	case WL_READ:
	case WL_WRITE:
	case WL_RW:
		if (job->seq_lba + job->lba_count > job->ns->num_blocks) {
			job->seq_lba = 0;
		}
		t->lba = job->seq_lba;
		job->seq_lba += job->lba_count;
		break;
	default:
		span = job->ns->num_blocks / job->lba_count;
		t->lba = (r % span) * job->lba_count;
		break;
	}
	if (g_opts.verify) {
		span = t->stripe_blocks / job->lba_count;
		t->lba = t->stripe_start + (span > 0 ? (r % span) * job->lba_count : 0);
	}
	t->is_read = (int)((r >> 40) % 100) < g_opts.read_pct;
	t->verify_read = false;
	if (g_opts.verify) {
		t->is_read = false; /* every I/O is a write then a read-back */
		t->seq++;
		pattern_fill(t->buf, t->lba, job->lba_count, job->ns->block_size, t->seq);
	}
	t->start_ns = now_ns();
	if (t->is_read) {
		rc = ftgt_nvme_ns_cmd_read(job->qpair, job->ns->nsid, t->buf, t->lba,
		                           job->lba_count, 0, task_done, t);
	} else {
		rc = ftgt_nvme_ns_cmd_write(job->qpair, job->ns->nsid, t->buf, t->lba,
		                            job->lba_count, 0, task_done, t);
	}
	if (rc == -ENOMEM) {
		t->seq--;
		t->next_waiting = job->waiting;
		job->waiting = t;
		return;
	}
	if (rc != 0) {
		if (!job->failed) {
			fprintf(stderr, "ftgt-perf: %s: submit failed: %s\n", job->ns->name,
			        strerror(-rc));
		}
		job->failed = true;
		return;
	}
	job->outstanding++;
}

static void *
worker_fn(void *arg)
{
	struct worker *w = arg;
	struct job *job;
	cpu_set_t set;
	uint32_t i;

	CPU_ZERO(&set);
	CPU_SET(w->core, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
		fprintf(stderr, "ftgt-perf: warning: cannot pin a thread to core %u\n", w->core);
	}
	__atomic_fetch_add(&g_started, 1, __ATOMIC_RELEASE);
	/*
	 * g_stop too: on a loaded machine this thread may first run after the whole run
	 * (g_go already false again); it must not wait for ever then.
	 */
	while (!__atomic_load_n(&g_go, __ATOMIC_ACQUIRE) && !g_stop) {
		sched_yield();
	}
	for (job = w->jobs; job != NULL; job = job->next_in_worker) {
		for (i = 0; i < job->num_tasks; i++) {
			task_submit(&job->tasks[i]);
		}
	}
	for (;;) {
		bool busy = false;

		for (job = w->jobs; job != NULL; job = job->next_in_worker) {
			if (job->failed && job->outstanding == 0) {
				continue;
			}
			if (ftgt_nvme_qpair_process_completions(job->qpair, 0) < 0) {
				if (!job->failed) {
					fprintf(stderr, "ftgt-perf: %s: connection lost\n",
					        job->ns->name);
				}
				job->failed = true;
				job->outstanding = 0;
				continue;
			}
			while (job->waiting != NULL && !g_stop && !job->failed &&
			       job->outstanding < ftgt_nvme_qpair_get_depth(job->qpair)) {
				struct task *t = job->waiting;

				job->waiting = t->next_waiting;
				task_submit(t);
			}
			busy |= job->outstanding > 0;
		}
		if (g_stop && !busy) {
			break;
		}
	}
	return NULL;
}

struct result {
	uint64_t ios, bytes, errors, miscompares;
	struct ftgt_histogram hist;
};

static json_t *
result_json(const char *name, const struct result *r, double secs)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "iops", json_real(r->ios / secs));
	json_object_set_new(o, "mib_s", json_real(r->bytes / secs / (1024.0 * 1024.0)));
	json_object_set_new(o, "ios", json_integer((json_int_t)r->ios));
	json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
	json_object_set_new(o, "miscompares", json_integer((json_int_t)r->miscompares));
	json_object_set_new(o, "latency_us", ftgt_histogram_summary_json(&r->hist, 1e-3));
	json_object_set_new(o, "p99_9_us",
	                    json_real(ftgt_histogram_percentile(&r->hist, 99.9) / 1e3));
	return o;
}

static void
result_print(const char *name, const struct result *r, double secs)
{
	const struct ftgt_histogram *h = &r->hist;

	printf("%-48.48s %11.1f %9.2f %9.2f %9.2f %10.2f %9.2f %9.2f %9.2f\n", name, r->ios / secs,
	       r->bytes / secs / (1024.0 * 1024.0),
	       h->count ? (double)h->sum / h->count / 1e3 : 0.0, h->count ? h->min / 1e3 : 0.0,
	       h->max / 1e3, ftgt_histogram_percentile(h, 50) / 1e3,
	       ftgt_histogram_percentile(h, 99) / 1e3, ftgt_histogram_percentile(h, 99.9) / 1e3);
}

/* Space-padded discovery log field -> C string. */
static void
field_str(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	size_t n = strnlen(src, src_len);

	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0')) {
		n--;
	}
	n = FTGT_MIN(n, dst_len - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
discover(const struct ftgt_nvme_ctrlr_opts *copts)
{
	json_t *all = json_array();
	uint32_t i;
	int rc = 0;

	for (i = 0; i < g_opts.num_trids && rc == 0; i++) {
		const struct ftgt_nvme_transport_id *trid = &g_opts.trids[i];
		struct nvmf_discovery_log_page *page = NULL;
		struct ftgt_nvme_ctrlr *ctrlr;
		uint64_t n = 0, k;
		char err[256];

		if (ftgt_nvme_connect(trid, copts, &ctrlr, err, sizeof(err)) != 0) {
			fprintf(stderr, "ftgt-perf: %s port %s (%s): %s\n", trid->traddr,
			        trid->trsvcid, trid->subnqn, err);
			rc = 1;
			break;
		}
		if (ftgt_nvme_ctrlr_get_discovery_log(ctrlr, &page, &n) != 0) {
			fprintf(stderr, "ftgt-perf: %s port %s: cannot read the discovery log\n",
			        trid->traddr, trid->trsvcid);
			rc = 1;
		}
		for (k = 0; k < n; k++) {
			const struct nvmf_discovery_log_entry *e = &page->entries[k];
			char traddr[257], trsvcid[33], subnqn[257];
			json_t *o;

			field_str(traddr, sizeof(traddr), e->traddr, sizeof(e->traddr));
			field_str(trsvcid, sizeof(trsvcid), e->trsvcid, sizeof(e->trsvcid));
			field_str(subnqn, sizeof(subnqn), e->subnqn, sizeof(e->subnqn));
			if (!g_opts.json) {
				printf("trtype:%s adrfam:%s traddr:%s trsvcid:%s subnqn:%s "
				       "subtype:%s\n",
				       e->trtype == NVMF_TRTYPE_TCP    ? "tcp"
				       : e->trtype == NVMF_TRTYPE_RDMA ? "rdma"
				                                       : "other",
				       e->adrfam == NVMF_ADRFAM_IPV6 ? "ipv6" : "ipv4", traddr,
				       trsvcid, subnqn,
				       e->subtype == NVMF_SUBTYPE_NVME ? "nvme" : "discovery");
				continue;
			}
			o = json_object();
			json_object_set_new(o, "trtype", json_integer(e->trtype));
			json_object_set_new(o, "adrfam", json_integer(e->adrfam));
			json_object_set_new(o, "subtype", json_integer(e->subtype));
			json_object_set_new(o, "traddr", json_string(traddr));
			json_object_set_new(o, "trsvcid", json_string(trsvcid));
			json_object_set_new(o, "subnqn", json_string(subnqn));
			json_object_set_new(o, "portid", json_integer(ftgt_le16_to_cpu(e->portid)));
			json_array_append_new(all, o);
		}
		free(page);
		ftgt_nvme_detach(ctrlr);
	}
	if (g_opts.json && rc == 0) {
		char *s = json_dumps(all, JSON_COMPACT);

		printf("%s\n", s);
		free(s);
	}
	json_decref(all);
	return rc;
}

static void
on_signal(int sig)
{
	(void)sig;
	g_stop = true;
}

int
main(int argc, char **argv)
{
	struct ftgt_nvme_ctrlr *ctrlrs[MAX_TRIDS] = {0};
	struct ns_entry *nss = NULL;
	struct job *jobs = NULL;
	struct worker workers[MAX_CORES];
	struct ftgt_nvme_ctrlr_opts copts;
	uint32_t num_ns = 0, num_jobs = 0, num_workers = 0, i, j, k;
	uint64_t start, deadline, elapsed_ns = 0;
	struct result *ns_res = NULL, total;
	int rc = 1;
	double secs;

	ftgt_log_open("ftgt-perf", true, false);
	ftgt_log_set_level(FTGT_LOG_ERROR);
	if (parse_args(argc, argv) != 0) {
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	{
		FILE *f = fopen("/dev/urandom", "r");

		if (f == NULL || fread(&g_verify_tag, sizeof(g_verify_tag), 1, f) != 1) {
			g_verify_tag = (uint64_t)now_ns();
		}
		if (f != NULL) {
			fclose(f);
		}
	}

	ftgt_nvme_ctrlr_opts_default(&copts);
	copts.header_digest = g_opts.hdgst;
	copts.data_digest = g_opts.ddgst;
	copts.connect_timeout_ms = g_opts.connect_timeout_ms;
	copts.io_queue_size = g_opts.qd + 1;
	if (g_opts.discover) {
		return discover(&copts);
	}
	for (i = 0; i < g_opts.num_trids; i++) {
		char err[256];
		const struct ftgt_nvme_transport_id *trid = &g_opts.trids[i];

		if (ftgt_nvme_connect(trid, &copts, &ctrlrs[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "ftgt-perf: %s port %s (%s): %s\n", trid->traddr,
			        trid->trsvcid, trid->subnqn, err);
			goto out;
		}
		if (ftgt_nvme_ctrlr_is_discovery(ctrlrs[i])) {
			fprintf(stderr,
			        "ftgt-perf: %s is a discovery subsystem; give an NVM "
			        "subsystem's subnqn\n",
			        trid->subnqn);
			goto out;
		}
		num_ns += trid->nsid != 0 ? 1 : ftgt_nvme_ctrlr_get_num_ns(ctrlrs[i]);
	}
	if (num_ns == 0) {
		fprintf(stderr, "ftgt-perf: no active namespaces\n");
		goto out;
	}
	nss = calloc(num_ns, sizeof(*nss));
	num_ns = 0;
	for (i = 0; i < g_opts.num_trids; i++) {
		uint32_t n = ftgt_nvme_ctrlr_get_num_ns(ctrlrs[i]);

		for (j = 0; j < n; j++) {
			struct ns_entry *ns = &nss[num_ns];
			uint32_t nsid = ftgt_nvme_ctrlr_get_ns_id(ctrlrs[i], j);

			if (g_opts.trids[i].nsid != 0 && g_opts.trids[i].nsid != nsid) {
				continue;
			}
			ns->ctrlr = ctrlrs[i];
			ns->nsid = nsid;
			ns->block_size = ftgt_nvme_ns_get_block_size(ctrlrs[i], nsid);
			ns->num_blocks = ftgt_nvme_ns_get_num_blocks(ctrlrs[i], nsid);
			ns->index = num_ns;
			snprintf(ns->name, sizeof(ns->name), "%s:%s ns %u", g_opts.trids[i].traddr,
			         g_opts.trids[i].trsvcid, nsid);
			if (g_opts.io_size % ns->block_size != 0 ||
			    g_opts.io_size > ftgt_nvme_ctrlr_get_max_xfer_size(ctrlrs[i])) {
				fprintf(stderr,
				        "ftgt-perf: %s: -o %u is not a multiple of the block size "
				        "%u "
				        "or exceeds the transfer limit %u\n",
				        ns->name, g_opts.io_size, ns->block_size,
				        ftgt_nvme_ctrlr_get_max_xfer_size(ctrlrs[i]));
				goto out;
			}
			if (ns->num_blocks <
			    (uint64_t)g_opts.io_size / ns->block_size *
			            (g_opts.verify ? g_opts.qd * g_opts.conns_per_ns : 1)) {
				fprintf(stderr, "ftgt-perf: %s: namespace too small\n", ns->name);
				goto out;
			}
			num_ns++;
		}
		if (g_opts.trids[i].nsid != 0 &&
		    (num_ns == 0 || nss[num_ns - 1].ctrlr != ctrlrs[i])) {
			fprintf(stderr, "ftgt-perf: %s: namespace %u is not active\n",
			        g_opts.trids[i].subnqn, g_opts.trids[i].nsid);
			goto out;
		}
	}

	for (i = 0; i < MAX_CORES; i++) {
		if (g_opts.core_mask & (1ull << i)) {
			memset(&workers[num_workers], 0, sizeof(workers[0]));
			workers[num_workers++].core = i;
		}
	}
	num_jobs = num_ns * g_opts.conns_per_ns;
	jobs = calloc(num_jobs, sizeof(*jobs));
	for (i = 0; i < num_jobs; i++) {
		struct job *job = &jobs[i];
		struct ns_entry *ns = &nss[i / g_opts.conns_per_ns];
		uint64_t stripe;
		uint32_t qsize;

		job->ns = ns;
		job->conn_index = i % g_opts.conns_per_ns;
		job->lba_count = g_opts.io_size / ns->block_size;
		job->num_tasks = g_opts.qd;
		job->rand_state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)i << 32 | (uint64_t)now_ns());
		job->seq_lba = (ns->num_blocks / g_opts.conns_per_ns) * job->conn_index /
		               job->lba_count * job->lba_count;
		ftgt_histogram_init(&job->hist);
		qsize = FTGT_MIN(
		        g_opts.qd + 1,
		        (uint32_t)(ftgt_nvme_ctrlr_get_cap(ns->ctrlr) & NVME_CAP_MQES_MASK) + 1);
		job->qpair = ftgt_nvme_ctrlr_alloc_io_qpair(ns->ctrlr, qsize);
		if (job->qpair == NULL) {
			fprintf(stderr,
			        "ftgt-perf: %s: cannot connect I/O queue pair %u (queue "
			        "size %u)\n",
			        ns->name, job->conn_index + 1, qsize);
			goto out;
		}
		job->tasks = calloc(job->num_tasks, sizeof(*job->tasks));
		stripe = ns->num_blocks / ((uint64_t)g_opts.qd * g_opts.conns_per_ns);
		stripe = stripe / job->lba_count * job->lba_count;
		for (k = 0; k < job->num_tasks; k++) {
			struct task *t = &job->tasks[k];

			t->job = job;
			if (posix_memalign((void **)&t->buf, 4096, g_opts.io_size) != 0) {
				fprintf(stderr, "ftgt-perf: out of memory\n");
				goto out;
			}
			memset(t->buf, 0x5a, g_opts.io_size);
			t->stripe_blocks = stripe;
			t->stripe_start = stripe * ((uint64_t)job->conn_index * g_opts.qd + k);
		}
		job->next_in_worker = workers[i % num_workers].jobs;
		workers[i % num_workers].jobs = &jobs[i];
	}
	for (i = 0; i < num_workers; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_fn, &workers[i]) != 0) {
			fprintf(stderr, "ftgt-perf: cannot start a thread\n");
			g_stop = true;
			num_workers = i;
			__atomic_store_n(&g_go, true, __ATOMIC_RELEASE);
			goto join;
		}
	}
	if (!g_opts.json) {
		printf("Running %s, %u B, QD %u, %u namespace(s) x %u connection(s) on %u core(s) "
		       "for %u s%s\n",
		       argv[0], g_opts.io_size, g_opts.qd, num_ns, g_opts.conns_per_ns, num_workers,
		       g_opts.seconds, g_opts.verify ? " (verify)" : "");
		fflush(stdout);
	}
	/* Time the run from when every worker runs (bounded: 10 s). */
	start = now_ns();
	while (__atomic_load_n(&g_started, __ATOMIC_ACQUIRE) < num_workers &&
	       now_ns() - start < 10000000000ull) {
		usleep(1000);
	}
	start = now_ns();
	deadline = start + (uint64_t)g_opts.seconds * 1000000000ull;
	__atomic_store_n(&g_go, true, __ATOMIC_RELEASE);
	/* The main thread owns the admin queues: keep-alives while the workers run. */
	while (!g_stop && now_ns() < deadline) {
		for (i = 0; i < g_opts.num_trids; i++) {
			if (ftgt_nvme_ctrlr_process_admin_completions(ctrlrs[i]) < 0) {
				fprintf(stderr, "ftgt-perf: %s: admin connection lost\n",
				        g_opts.trids[i].subnqn);
				g_stop = true;
			}
		}
		usleep(1000);
	}
	g_go = false; /* stop counting; drain */
	elapsed_ns = now_ns() - start;
	g_stop = true;
join:
	for (i = 0; i < num_workers; i++) {
		pthread_join(workers[i].thread, NULL);
	}
	if (num_workers == 0 || elapsed_ns == 0) {
		goto out;
	}
	secs = (double)elapsed_ns / 1e9;

	ns_res = calloc(num_ns, sizeof(*ns_res));
	memset(&total, 0, sizeof(total));
	ftgt_histogram_init(&total.hist);
	for (i = 0; i < num_ns; i++) {
		ftgt_histogram_init(&ns_res[i].hist);
	}
	rc = 0;
	for (i = 0; i < num_jobs; i++) {
		struct result *r = &ns_res[jobs[i].ns->index];

		r->ios += jobs[i].ios;
		r->bytes += jobs[i].bytes;
		r->errors += jobs[i].errors;
		r->miscompares += jobs[i].miscompares;
		ftgt_histogram_merge(&r->hist, &jobs[i].hist);
		if (jobs[i].failed || jobs[i].errors || jobs[i].miscompares) {
			rc = 1;
		}
	}
	for (i = 0; i < num_ns; i++) {
		total.ios += ns_res[i].ios;
		total.bytes += ns_res[i].bytes;
		total.errors += ns_res[i].errors;
		total.miscompares += ns_res[i].miscompares;
		ftgt_histogram_merge(&total.hist, &ns_res[i].hist);
	}
	if (g_opts.json) {
		json_t *root = json_object(), *arr = json_array();
		char *s;

		for (i = 0; i < num_ns; i++) {
			json_array_append_new(arr, result_json(nss[i].name, &ns_res[i], secs));
		}
		json_object_set_new(root, "namespaces", arr);
		json_object_set_new(root, "total", result_json("Total", &total, secs));
		json_object_set_new(root, "seconds", json_real(secs));
		json_object_set_new(root, "io_size", json_integer(g_opts.io_size));
		json_object_set_new(root, "queue_depth", json_integer(g_opts.qd));
		json_object_set_new(root, "verify", json_boolean(g_opts.verify));
		s = json_dumps(root, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(root);
	} else {
		printf("%-48s %11s %9s %9s %9s %10s %9s %9s %9s\n", "Latency(us) / Device", "IOPS",
		       "MiB/s", "Average", "min", "max", "p50", "p99", "p99.9");
		for (i = 0; i < num_ns; i++) {
			result_print(nss[i].name, &ns_res[i], secs);
		}
		result_print("Total", &total, secs);
		if (total.errors != 0 || total.miscompares != 0) {
			printf("errors: %" PRIu64 ", miscompares: %" PRIu64 "\n", total.errors,
			       total.miscompares);
		}
	}
out:
	for (i = 0; jobs != NULL && i < num_jobs; i++) {
		if (jobs[i].qpair != NULL) {
			ftgt_nvme_ctrlr_free_io_qpair(jobs[i].qpair);
		}
		for (k = 0; jobs[i].tasks != NULL && k < jobs[i].num_tasks; k++) {
			free(jobs[i].tasks[k].buf);
		}
		free(jobs[i].tasks);
	}
	free(jobs);
	free(ns_res);
	free(nss);
	for (i = 0; i < g_opts.num_trids; i++) {
		ftgt_nvme_detach(ctrlrs[i]);
	}
	return rc;
}
