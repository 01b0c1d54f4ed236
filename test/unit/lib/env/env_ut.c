/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/env/env.c: EAL start-up without hugepages (or with them: --huge), alongside a
 * second instance, cores, ticks, DMA memory, and nothing left in the run directory.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "ftgt/env.h"
#include "ftgt/util.h"

static bool g_huge;
static char g_prefix_dir[256];

static bool
path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void
compute_prefix_dir(pid_t pid)
{
	const char *base = "/var/run";

	if (getuid() != 0) {
		base = getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : "/tmp";
	}
	snprintf(g_prefix_dir, sizeof(g_prefix_dir), "%s/dpdk/ftgt_%ld", base, (long)pid);
}

/* A second process with its own EAL, up while the first one starts. */
static pid_t
start_other_instance(int *release_fd, int *ready_fd)
{
	int to_child[2], from_child[2];
	pid_t pid;

	if (pipe(to_child) != 0 || pipe(from_child) != 0) {
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		struct ftgt_env_opts opts;
		char c = 0;
		int rc;

		close(to_child[1]);
		close(from_child[0]);
		alarm(60);
		ftgt_env_opts_init(&opts);
		opts.no_huge = true;
		opts.name = "ftgt_other";
		rc = ftgt_env_init(&opts);
		c = rc == 0 ? 'y' : 'n';
		if (write(from_child[1], &c, 1) != 1) {
			_exit(3);
		}
		if (read(to_child[0], &c, 1) < 0) {
			_exit(3);
		}
		ftgt_env_fini();
		_exit(rc == 0 ? 0 : 2);
	}
	close(to_child[0]);
	close(from_child[1]);
	*release_fd = to_child[1];
	*ready_fd = from_child[0];
	return pid;
}

static void
test_init(void)
{
	struct ftgt_env_opts opts;
	int release_fd = -1, ready_fd = -1, status = 0;
	pid_t other;
	char c = 0;
	int rc;

	other = start_other_instance(&release_fd, &ready_fd);
	CU_ASSERT_FATAL(other > 0);
	CU_ASSERT(read(ready_fd, &c, 1) == 1);
	CU_ASSERT(c == 'y');

	CU_ASSERT(!ftgt_env_is_initialized());
	ftgt_env_opts_init(&opts);
	CU_ASSERT(opts.no_pci);
	CU_ASSERT(opts.quiet);
	opts.core_mask = "0x1";
	opts.no_huge = !g_huge;
	opts.main_core = 5; /* not in the mask */
	CU_ASSERT(ftgt_env_init(&opts) == -EINVAL);
	opts.main_core = FTGT_ENV_CORE_ANY;
	opts.core_mask = "zz";
	CU_ASSERT(ftgt_env_init(&opts) == -EINVAL);
	opts.core_mask = "0x1";
	rc = ftgt_env_init(&opts);
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT(ftgt_env_is_initialized());
	CU_ASSERT(ftgt_env_init(&opts) == -EALREADY);
	CU_ASSERT(ftgt_env_has_hugepages() == g_huge);

	/* The other instance is still up and ends cleanly. */
	CU_ASSERT(write(release_fd, "x", 1) == 1);
	CU_ASSERT(waitpid(other, &status, 0) == other);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(release_fd);
	close(ready_fd);

	compute_prefix_dir(getpid());
	CU_ASSERT(!path_exists(g_prefix_dir));
}

static void
test_cores(void)
{
	uint32_t i, n = 0;

	CU_ASSERT(ftgt_env_get_core_count() == 1);
	CU_ASSERT(ftgt_env_get_main_core() == 0);
	CU_ASSERT(ftgt_env_get_first_core() == 0);
	CU_ASSERT(ftgt_env_get_next_core(0) == FTGT_ENV_CORE_ANY);
	FTGT_ENV_FOREACH_CORE (i) {
		n++;
	}
	CU_ASSERT(n == 1);
	CU_ASSERT(ftgt_env_get_current_core() == 0);
	/* Core 0 is the main core: nothing can be launched on it. */
	CU_ASSERT(ftgt_env_thread_launch_pinned(0, NULL, NULL) < 0);
}

static void
test_ticks(void)
{
	uint64_t hz = ftgt_get_ticks_hz();
	uint64_t t0, t1;

	CU_ASSERT(hz > 1000000);
	t0 = ftgt_get_ticks();
	ftgt_delay_us(2000);
	t1 = ftgt_get_ticks();
	CU_ASSERT(t1 > t0);
	CU_ASSERT(ftgt_ticks_to_us(t1 - t0, hz) >= 2000);
	CU_ASSERT(ftgt_ticks_to_us(hz, hz) == 1000000);
}

static void
test_dma_malloc(void)
{
	static const size_t aligns[] = {0, 8, 64, 512, 4096, 65536};
	void *bufs[FTGT_COUNTOF(aligns)];

	for (size_t i = 0; i < FTGT_COUNTOF(aligns); i++) {
		size_t align = aligns[i] ? aligns[i] : FTGT_CACHE_LINE_SIZE;

		bufs[i] = ftgt_dma_malloc(10000, aligns[i]);
		CU_ASSERT_FATAL(bufs[i] != NULL);
		CU_ASSERT((uintptr_t)bufs[i] % align == 0);
		memset(bufs[i], 0xa5, 10000);
	}
	for (size_t i = 0; i < FTGT_COUNTOF(aligns); i++) {
		ftgt_dma_free(bufs[i]);
	}
	bufs[0] = ftgt_dma_zmalloc(4096, 4096);
	CU_ASSERT_FATAL(bufs[0] != NULL);
	CU_ASSERT((uintptr_t)bufs[0] % 4096 == 0);
	for (size_t i = 0; i < 4096; i++) {
		if (((uint8_t *)bufs[0])[i] != 0) {
			CU_FAIL("zmalloc memory not zero");
			break;
		}
	}
	ftgt_dma_free(bufs[0]);
	CU_ASSERT(ftgt_dma_malloc(64, 3) == NULL);
}

static void
test_register_thread(void)
{
	/* The main thread is an EAL thread already; registering twice is harmless. */
	CU_ASSERT(ftgt_env_register_thread() == 0);
}

static void
test_fini(void)
{
	ftgt_env_fini();
	CU_ASSERT(!ftgt_env_is_initialized());
	CU_ASSERT(!path_exists(g_prefix_dir));
}

static int
huge_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long n = 0;

	if (f == NULL) {
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "HugePages_Free: %ld", &n);
	}
	fclose(f);
	return n > 32;
}

int
main(int argc, char **argv)
{
	CU_pSuite suite;
	unsigned int failures;

	g_huge = argc > 1 && strcmp(argv[1], "--huge") == 0;
	if (g_huge && !huge_free()) {
		printf("no free hugepages: skipped\n");
		return 77;
	}
	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	suite = CU_add_suite(g_huge ? "env_huge" : "env", NULL, NULL);
	CU_add_test(suite, "init", test_init);
	CU_add_test(suite, "cores", test_cores);
	CU_add_test(suite, "ticks", test_ticks);
	CU_add_test(suite, "dma_malloc", test_dma_malloc);
	CU_add_test(suite, "register_thread", test_register_thread);
	CU_add_test(suite, "fini", test_fini);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
