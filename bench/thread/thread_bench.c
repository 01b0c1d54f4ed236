/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ftgt-thread-bench: message and poller costs of lib/thread on two reactors (mask 0x3).
 *
 *   msg_rate         reactor 0 sends bursts to reactor 1 for T seconds
 *   msg_ping_pong    one message back and forth between the reactors for T seconds
 *   poller_overhead  ns per ftgt_thread_poll() iteration with 0, 1, 8, 64 idle pollers
 *
 * Prints one JSON object per line. Usage: ftgt-thread-bench [-t SECONDS] [-m MASK]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"

#define BURST 32

static double g_seconds = 2.0;
static uint64_t g_hz;
static uint32_t g_core_a, g_core_b;

/* msg_rate: sender state on reactor A, receiver state on reactor B. */
static struct ftgt_poller *g_sender;
static uint64_t g_rate_start, g_rate_end_send;
static uint64_t g_sent, g_send_full;
static uint64_t g_received;      /* owned by B */
static uint64_t g_rate_end_recv; /* owned by B */

/* ping-pong: owned by A. */
static uint64_t g_pp_start, g_pp_end, g_round_trips;

static void start_ping_pong(void *ctx);

static void
rate_msg(void *ctx)
{
	g_received++;
}

static void
rate_report(void *ctx)
{
	double secs = (double)(g_rate_end_recv - g_rate_start) / (double)g_hz;

	printf("{\"bench\":\"msg_rate\",\"seconds\":%.3f,\"burst\":%d,\"msgs\":%" PRIu64
	       ",\"msgs_per_sec\":%.0f,\"ring_full\":%" PRIu64 "}\n",
	       secs, BURST, g_received, (double)g_received / secs, g_send_full);
	fflush(stdout);
	start_ping_pong(NULL);
}

/* Runs on B after every rate_msg A sent (one sender: FIFO). */
static void
rate_done(void *ctx)
{
	g_rate_end_recv = ftgt_get_ticks();
	ftgt_thread_send_msg(ftgt_reactor_get_thread(g_core_a), rate_report, NULL);
}

static int
rate_sender(void *ctx)
{
	struct ftgt_thread *b = ftgt_reactor_get_thread(g_core_b);

	if (ftgt_get_ticks() >= g_rate_end_send) {
		ftgt_poller_unregister(&g_sender);
		while (ftgt_thread_send_msg(b, rate_done, NULL) != 0) {
		}
		return FTGT_POLLER_BUSY;
	}
	for (int i = 0; i < BURST; i++) {
		if (ftgt_thread_send_msg(b, rate_msg, NULL) != 0) {
			g_send_full++;
			break;
		}
		g_sent++;
	}
	return FTGT_POLLER_BUSY;
}

static void
start_msg_rate(void *ctx)
{
	g_rate_start = ftgt_get_ticks();
	g_rate_end_send = g_rate_start + (uint64_t)(g_seconds * (double)g_hz);
	g_sender = ftgt_poller_register(rate_sender, NULL, 0, "rate_sender");
	if (g_sender == NULL) {
		fprintf(stderr, "cannot register the sender poller\n");
		ftgt_reactors_stop();
	}
}

static void pong(void *ctx);

static void
ping(void *ctx)
{
	ftgt_thread_send_msg(ftgt_reactor_get_thread(g_core_a), pong, NULL);
}

static void
pong(void *ctx)
{
	uint64_t now = ftgt_get_ticks();
	double ns;

	g_round_trips++;
	if (now < g_pp_end) {
		ftgt_thread_send_msg(ftgt_reactor_get_thread(g_core_b), ping, NULL);
		return;
	}
	ns = (double)(now - g_pp_start) * 1e9 / (double)g_hz / (double)g_round_trips;
	printf("{\"bench\":\"msg_ping_pong\",\"seconds\":%.3f,\"round_trips\":%" PRIu64
	       ",\"rtt_ns\":%.1f,\"one_way_ns\":%.1f}\n",
	       (double)(now - g_pp_start) / (double)g_hz, g_round_trips, ns, ns / 2);
	fflush(stdout);
	ftgt_reactors_stop();
}

static void
start_ping_pong(void *ctx)
{
	g_pp_start = ftgt_get_ticks();
	g_pp_end = g_pp_start + (uint64_t)(g_seconds * (double)g_hz);
	g_round_trips = 0;
	ftgt_thread_send_msg(ftgt_reactor_get_thread(g_core_b), ping, NULL);
}

static int
idle_poller(void *ctx)
{
	return FTGT_POLLER_IDLE;
}

static int
bench_pollers(uint32_t core)
{
	static const int counts[] = {0, 1, 8, 64};
	struct ftgt_poller *pollers[64];
	struct ftgt_thread *t;

	t = ftgt_thread_create("poller_bench", core);
	if (t == NULL) {
		return -ENOMEM;
	}
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		uint64_t start, end, now, iters = 0;

		ftgt_set_thread(t);
		for (int i = 0; i < counts[c]; i++) {
			pollers[i] = ftgt_poller_register(idle_poller, NULL, 0, "idle");
		}
		ftgt_set_thread(NULL);
		/* The reactor's loop: read the clock, poll with it. */
		start = ftgt_get_ticks();
		end = start + (uint64_t)(g_seconds / 4 * (double)g_hz);
		do {
			for (int i = 0; i < 1000; i++) {
				now = ftgt_get_ticks();
				ftgt_thread_poll(t, 0, now);
			}
			iters += 1000;
		} while (now < end);
		now = ftgt_get_ticks();
		printf("{\"bench\":\"poller_overhead\",\"pollers\":%d,\"iterations\":%" PRIu64
		       ",\"ns_per_iter\":%.2f}\n",
		       counts[c], iters,
		       (double)(now - start) * 1e9 / (double)g_hz / (double)iters);
		fflush(stdout);
		ftgt_set_thread(t);
		for (int i = 0; i < counts[c]; i++) {
			ftgt_poller_unregister(&pollers[i]);
		}
		ftgt_set_thread(NULL);
		ftgt_thread_poll(t, 0, 0);
	}
	ftgt_set_thread(t);
	ftgt_thread_exit(t);
	ftgt_set_thread(NULL);
	for (int i = 0; i < 10 && !ftgt_thread_is_exited(t); i++) {
		ftgt_thread_poll(t, 0, 0);
	}
	ftgt_thread_destroy(t);
	return 0;
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t SECONDS (default 2, at most 60)] [-m CORE_MASK (0x3)]\n",
	        prog);
}

int
main(int argc, char **argv)
{
	struct ftgt_env_opts opts;
	const char *mask = "0x3";
	int ch, rc;

	while ((ch = getopt(argc, argv, "t:m:h")) != -1) {
		switch (ch) {
		case 't':
			g_seconds = strtod(optarg, NULL);
			if (!(g_seconds > 0 && g_seconds <= 60)) {
				usage(argv[0]);
				return 2;
			}
			break;
		case 'm':
			mask = optarg;
			break;
		default:
			usage(argv[0]);
			return ch == 'h' ? 0 : 2;
		}
	}
	ftgt_env_opts_init(&opts);
	opts.name = "ftgt-thread-bench";
	opts.core_mask = mask;
	rc = ftgt_env_init(&opts);
	if (rc != 0) {
		fprintf(stderr, "ftgt_env_init(%s): %s\n", mask, strerror(-rc));
		return 1;
	}
	if (ftgt_env_get_core_count() < 2) {
		fprintf(stderr, "need at least two cores in the mask\n");
		ftgt_env_fini();
		return 2;
	}
	g_hz = ftgt_get_ticks_hz();
	g_core_a = ftgt_env_get_main_core();
	g_core_b = ftgt_env_get_next_core(g_core_a);
	if (g_core_b == FTGT_ENV_CORE_ANY) {
		g_core_b = ftgt_env_get_first_core();
	}
	rc = ftgt_thread_lib_init(0);
	if (rc == 0) {
		rc = ftgt_reactors_init();
	}
	if (rc != 0) {
		fprintf(stderr, "thread init: %s\n", strerror(-rc));
		ftgt_thread_lib_fini();
		ftgt_env_fini();
		return 1;
	}
	ftgt_thread_send_msg(ftgt_reactor_get_thread(g_core_a), start_msg_rate, NULL);
	ftgt_reactors_start();
	ftgt_reactors_fini();

	rc = bench_pollers(g_core_a);
	ftgt_thread_lib_fini();
	ftgt_env_fini();
	return rc == 0 ? 0 : 1;
}
