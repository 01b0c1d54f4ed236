/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL start-up and shut-down, cores, time and DMA-able memory over DPDK 22.11.
 *
 * The EAL runs either in in-memory mode on hugepages (when some are free) or with
 * --no-huge on ordinary anonymous memory; both with a per-process file prefix. The
 * EAL still creates an empty runtime directory (<run>/dpdk/<prefix>); we remove it
 * right after init so that nothing is left behind, even if the process is killed.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "env_internal.h"
#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/util.h"

/* Memory the EAL maps (lazily) in --no-huge mode when the caller asks for none. */
#define ENV_NO_HUGE_DEFAULT_MB 1024
/* Hugepage mode needs at least this much free hugepage memory (or mem_size_mb). */
#define ENV_HUGE_MIN_MB 64
#define ENV_MAX_ARGS    24

FTGT_LOG_REGISTER_COMPONENT(env)

static struct {
	bool initialized;
	bool huge;
	uint64_t core_mask;
	uint32_t main_core;
	char run_dir[PATH_MAX];    /* <base>/dpdk */
	char prefix_dir[PATH_MAX]; /* <base>/dpdk/<prefix> */
} g_env;

void
ftgt_env_opts_init(struct ftgt_env_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->name = "ftgt";
	opts->core_mask = "0x1";
	opts->main_core = FTGT_ENV_CORE_ANY;
	opts->mem_size_mb = 0;
	opts->no_huge = false;
	opts->no_pci = true;
	opts->quiet = true;
}

/* Free hugepage memory in MiB (0 when none), from /proc/meminfo. */
static uint64_t
env_huge_free_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	uint64_t free_pages = 0, page_kb = 0;
	char line[256];

	if (f == NULL) {
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long v;

		if (sscanf(line, "HugePages_Free: %llu", &v) == 1) {
			free_pages = v;
		} else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1) {
			page_kb = v;
		}
	}
	fclose(f);
	return free_pages * page_kb / 1024;
}

/*
 * The directory the EAL uses as its runtime dir: the same rule as eal_create_runtime_dir()
 * (root: /var/run, others: $XDG_RUNTIME_DIR or /tmp).
 */
static void
env_compute_run_dirs(const char *prefix)
{
	const char *base = "/var/run";

	if (getuid() != 0) {
		base = getenv("XDG_RUNTIME_DIR");
		if (base == NULL) {
			base = "/tmp";
		}
	}
	snprintf(g_env.run_dir, sizeof(g_env.run_dir), "%s/dpdk", base);
	snprintf(g_env.prefix_dir, sizeof(g_env.prefix_dir), "%s/dpdk/%s", base, prefix);
}

/*
 * Create <run>/dpdk/<prefix> before the EAL does. Another ftgt process may remove
 * <run>/dpdk between our mkdir of it and of <prefix> (it removes it when empty), so
 * retry; once <prefix> exists the parent is not empty and stays.
 */
static void
env_precreate_run_dir(void)
{
	for (int i = 0; i < 100; i++) {
		if (mkdir(g_env.run_dir, 0700) != 0 && errno != EEXIST) {
			return;
		}
		if (mkdir(g_env.prefix_dir, 0700) == 0 || errno == EEXIST) {
			return;
		}
		if (errno != ENOENT) {
			return;
		}
	}
}

static void
env_remove_run_dir(void)
{
	const char *rt = rte_eal_get_runtime_dir();

	/* Only ever the directory we computed, and only while empty (rmdir). */
	if (rt != NULL && rt[0] != '\0' && strcmp(rt, g_env.prefix_dir) != 0) {
		FTGT_DEBUGLOG(env, "EAL runtime dir %s differs from %s\n", rt, g_env.prefix_dir);
	}
	if (g_env.prefix_dir[0] != '\0') {
		rmdir(g_env.prefix_dir);
	}
	if (g_env.run_dir[0] != '\0') {
		rmdir(g_env.run_dir); /* fails with ENOTEMPTY while others use it */
	}
}

int
ftgt_env_init(const struct ftgt_env_opts *user_opts)
{
	struct ftgt_env_opts opts;
	char *argv[ENV_MAX_ARGS + 1];
	char *argv_copy[ENV_MAX_ARGS + 1];
	char prefix[64];
	uint64_t mask, mem_mb;
	int argc = 0, rc;
	bool huge;

	if (g_env.initialized) {
		return -EALREADY;
	}
	if (user_opts != NULL) {
		opts = *user_opts;
	} else {
		ftgt_env_opts_init(&opts);
	}
	if (opts.name == NULL) {
		opts.name = "ftgt";
	}
	if (opts.core_mask == NULL) {
		opts.core_mask = "0x1";
	}
	if (ftgt_parse_core_mask(opts.core_mask, &mask) != 0) {
		FTGT_ERRLOG("env: bad core mask '%s'\n", opts.core_mask);
		return -EINVAL;
	}
	if (opts.main_core == FTGT_ENV_CORE_ANY) {
		opts.main_core = (uint32_t)__builtin_ctzll(mask);
	} else if (opts.main_core >= FTGT_ENV_MAX_CORES || !(mask & (1ULL << opts.main_core))) {
		FTGT_ERRLOG("env: main core %" PRIu32 " not in core mask '%s'\n", opts.main_core,
		            opts.core_mask);
		return -EINVAL;
	}

	mem_mb = opts.mem_size_mb;
	huge = !opts.no_huge &&
	       env_huge_free_mb() >= (mem_mb != 0 ? mem_mb : (uint64_t)ENV_HUGE_MIN_MB);

	snprintf(prefix, sizeof(prefix), "ftgt_%ld", (long)getpid());
	env_compute_run_dirs(prefix);

#define ENV_ARG(...)                                                                  \
	do {                                                                          \
		if (argc >= ENV_MAX_ARGS || asprintf(&argv[argc], __VA_ARGS__) < 0) { \
			rc = -ENOMEM;                                                 \
			goto out;                                                     \
		}                                                                     \
		argc++;                                                               \
	} while (0)

	ENV_ARG("%s", opts.name);
	ENV_ARG("-c");
	ENV_ARG("0x%" PRIx64, mask);
	ENV_ARG("--main-lcore");
	ENV_ARG("%" PRIu32, opts.main_core);
	if (opts.no_pci) {
		ENV_ARG("--no-pci");
	}
	ENV_ARG("--no-telemetry");
	ENV_ARG("--file-prefix=%s", prefix);
	if (opts.quiet) {
		ENV_ARG("--log-level=lib.eal:error");
		ENV_ARG("--log-level=error");
	}
	if (huge) {
		/* --in-memory: no hugepage files, no shared config. */
		ENV_ARG("--in-memory");
		if (mem_mb != 0) {
			ENV_ARG("-m");
			ENV_ARG("%" PRIu64, mem_mb);
		}
	} else {
		/* --no-huge is incompatible with --in-memory; --no-shconf gives the same. */
		ENV_ARG("--no-huge");
		ENV_ARG("--no-shconf");
		ENV_ARG("-m");
		ENV_ARG("%" PRIu64, mem_mb != 0 ? mem_mb : (uint64_t)ENV_NO_HUGE_DEFAULT_MB);
	}
#undef ENV_ARG
	argv[argc] = NULL;
	/* rte_eal_init() permutes argv: keep our own pointers to free. */
	memcpy(argv_copy, argv, sizeof(argv[0]) * (argc + 1));

	env_precreate_run_dir();
	rc = rte_eal_init(argc, argv_copy);
	if (rc < 0) {
		rc = rte_errno > 0 ? -rte_errno : -EIO;
		FTGT_ERRLOG("env: rte_eal_init failed: %s\n", rte_strerror(-rc));
		env_remove_run_dir();
		goto out;
	}
	env_remove_run_dir();
	g_env.core_mask = mask;
	g_env.main_core = opts.main_core;
	g_env.huge = huge;
	g_env.initialized = true;
	FTGT_DEBUGLOG(env, "EAL up: mask 0x%" PRIx64 ", main core %" PRIu32 ", %s\n", mask,
	              opts.main_core, huge ? "hugepages" : "no hugepages");
	rc = 0;
out:
	for (int i = 0; i < argc; i++) {
		free(argv[i]);
	}
	return rc;
}

void
ftgt_env_fini(void)
{
	if (!g_env.initialized) {
		return;
	}
	env_ring_names_reset();
	rte_eal_cleanup();
	env_remove_run_dir();
	g_env.initialized = false;
	g_env.core_mask = 0;
}

bool
ftgt_env_is_initialized(void)
{
	return g_env.initialized;
}

bool
ftgt_env_has_hugepages(void)
{
	return g_env.huge;
}

uint32_t
ftgt_env_get_core_count(void)
{
	return (uint32_t)__builtin_popcountll(g_env.core_mask);
}

uint32_t
ftgt_env_get_main_core(void)
{
	return g_env.main_core;
}

uint32_t
ftgt_env_get_current_core(void)
{
	unsigned int lcore = rte_lcore_id();

	/* Registered non-EAL threads get lcore ids outside the mask: not a core. */
	if (lcore == LCORE_ID_ANY || lcore >= FTGT_ENV_MAX_CORES ||
	    !(g_env.core_mask & (1ULL << lcore))) {
		return FTGT_ENV_CORE_ANY;
	}
	return lcore;
}

uint32_t
ftgt_env_get_first_core(void)
{
	if (g_env.core_mask == 0) {
		return FTGT_ENV_CORE_ANY;
	}
	return (uint32_t)__builtin_ctzll(g_env.core_mask);
}

uint32_t
ftgt_env_get_next_core(uint32_t prev)
{
	uint64_t rest;

	if (prev >= FTGT_ENV_MAX_CORES - 1) {
		return FTGT_ENV_CORE_ANY;
	}
	rest = g_env.core_mask & ~((2ULL << prev) - 1);
	if (rest == 0) {
		return FTGT_ENV_CORE_ANY;
	}
	return (uint32_t)__builtin_ctzll(rest);
}

int
ftgt_env_thread_launch_pinned(uint32_t core, int (*fn)(void *arg), void *arg)
{
	if (!g_env.initialized || core >= FTGT_ENV_MAX_CORES ||
	    !(g_env.core_mask & (1ULL << core)) || core == g_env.main_core) {
		return -EINVAL;
	}
	return rte_eal_remote_launch(fn, arg, core);
}

void
ftgt_env_thread_wait_all(void)
{
	if (g_env.initialized) {
		rte_eal_mp_wait_lcore();
	}
}

uint64_t
ftgt_get_ticks(void)
{
	return rte_get_timer_cycles();
}

uint64_t
ftgt_get_ticks_hz(void)
{
	return rte_get_timer_hz();
}

void
ftgt_delay_us(unsigned int us)
{
	rte_delay_us_block(us);
}

int
ftgt_env_register_thread(void)
{
	if (rte_thread_register() != 0) {
		return rte_errno > 0 ? -rte_errno : -EIO;
	}
	return 0;
}

void
ftgt_env_unregister_thread(void)
{
	rte_thread_unregister();
}

static void *
dma_malloc_ordinary(size_t size, size_t align)
{
	void *buf;

	if (align < sizeof(void *)) {
		align = sizeof(void *);
	}
	if (posix_memalign(&buf, align, size != 0 ? size : 1) != 0) {
		return NULL;
	}
	return buf;
}

void *
ftgt_dma_malloc(size_t size, size_t align)
{
	static bool warned;
	void *buf;

	if (align == 0) {
		align = FTGT_CACHE_LINE_SIZE;
	}
	if (!FTGT_IS_POW2(align)) {
		return NULL;
	}
	if (g_env.huge) {
		buf = rte_malloc(NULL, size, (unsigned int)align);
		if (buf != NULL) {
			return buf;
		}
		/*
		 * Out of hugepages: ordinary memory keeps the target working (a RAM disk
		 * larger than the reserved hugepages is legitimate); ftgt_dma_free() tells
		 * the two apart by address.
		 */
		if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED)) {
			FTGT_WARNLOG("env: hugepage memory exhausted; using ordinary memory for "
			             "%zu bytes and later allocations that do not fit\n",
			             size);
		}
	}
	return dma_malloc_ordinary(size, align);
}

void *
ftgt_dma_zmalloc(size_t size, size_t align)
{
	void *buf = ftgt_dma_malloc(size, align);

	if (buf != NULL) {
		memset(buf, 0, size);
	}
	return buf;
}

void
ftgt_dma_free(void *buf)
{
	if (buf == NULL) {
		return;
	}
	if (g_env.huge && rte_mem_virt2memseg(buf, NULL) != NULL) {
		rte_free(buf);
	} else {
		free(buf);
	}
}
