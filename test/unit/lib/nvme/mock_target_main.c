/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvme_mock_target: run mock_target.c as a process for ftgt-perf tests. Prints
 * "port N" on stdout, then serves until stdin reaches EOF or SIGTERM.
 * Options: --block-size N, --num-blocks N, --success, --swallow-read, --no-icresp,
 * --discovery (serve the discovery NQN with a two-entry log).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftgt/spec/nvme.h"
#include "mock_target.h"

static volatile sig_atomic_t g_stop;

static void
on_term(int sig)
{
	(void)sig;
	g_stop = 1;
}

int
main(int argc, char **argv)
{
	struct mock_target_opts o;
	struct mock_target *t;
	char c;
	int i;

	mock_target_opts_default(&o);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--block-size") == 0 && i + 1 < argc) {
			o.block_size = (uint32_t)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--num-blocks") == 0 && i + 1 < argc) {
			o.num_blocks = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--success") == 0) {
			o.c2h_success = true;
		} else if (strcmp(argv[i], "--swallow-read") == 0) {
			o.swallow_opc = NVME_OPC_READ;
		} else if (strcmp(argv[i], "--discovery") == 0) {
			o.subnqn = "nqn.2014-08.org.nvmexpress.discovery";
		} else if (strcmp(argv[i], "--no-icresp") == 0) {
			o.no_icresp = true;
		} else {
			fprintf(stderr, "nvme_mock_target: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	signal(SIGTERM, on_term);
	t = mock_target_start(&o);
	if (t == NULL) {
		return 1;
	}
	printf("port %u\n", mock_target_port(t));
	fflush(stdout);
	while (!g_stop && read(0, &c, 1) > 0) {
	}
	mock_target_stop(t);
	return 0;
}
