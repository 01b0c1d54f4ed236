/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host library against ftgtd's NVMe/TCP target (driven by ftgtd_e2e_test.py):
 * writev/readv, fused Compare and Write (match, and COMPARE FAILURE over up to NACWU
 * blocks), a namespace
 * notice (AER) when the script adds a namespace, a reset with the qpair coming back.
 * Usage: ftgtd_e2e '<transport id>' [digests]. Prints "AER-READY" and waits for a line
 * on stdin before expecting the notice. Exit 0 = all good; otherwise one line says what.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/nvme.h"

struct ctx {
	int done;
	struct nvme_cpl cpl;
};

static struct ftgt_nvme_ctrlr *g_ctrlr;
static struct ftgt_nvme_qpair *g_q;
static int g_aers;
static uint32_t g_aer_num_ns;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
cb(void *arg, const struct nvme_cpl *cpl)
{
	struct ctx *c = arg;

	c->cpl = *cpl;
	c->done++;
}

static void
aer_cb(void *arg, const struct nvme_cpl *cpl)
{
	(void)arg;
	(void)cpl;
	g_aers++;
	g_aer_num_ns = ftgt_nvme_ctrlr_get_num_ns(g_ctrlr);
}

static void
fail(const char *what)
{
	printf("FAIL: %s\n", what);
	fflush(stdout);
	exit(1);
}

static void
poll_both(void)
{
	ftgt_nvme_ctrlr_process_admin_completions(g_ctrlr);
	if (g_q != NULL) {
		ftgt_nvme_qpair_process_completions(g_q, 0);
	}
}

static uint16_t
wait_cmd(struct ctx *c, const char *what)
{
	uint64_t deadline = now_ms() + 10000;

	while (c->done == 0 && now_ms() < deadline) {
		poll_both();
	}
	if (c->done != 1) {
		fail(what);
	}
	return ftgt_le16_to_cpu(c->cpl.status) & 0x0ffe; /* SCT and SC */
}

int
main(int argc, char **argv)
{
	struct ftgt_nvme_transport_id trid;
	struct ftgt_nvme_ctrlr_opts opts;
	struct iovec wiov[5], riov[7];
	struct ctx c;
	uint8_t *w, *r, *old;
	size_t len = 64 * 1024, i;
	char err[256], line[64];
	uint64_t deadline;
	uint32_t nlb;

	if (argc < 2 || ftgt_nvme_transport_id_parse(&trid, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "usage: ftgtd_e2e '<transport id>' [digests]\n");
		return 2;
	}
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.header_digest = opts.data_digest = argc > 2 && strcmp(argv[2], "digests") == 0;
	opts.reconnect_delay_ms = 100;
	opts.ctrlr_loss_timeout_ms = 10000;
	if (ftgt_nvme_connect(&trid, &opts, &g_ctrlr, err, sizeof(err)) != 0) {
		printf("FAIL: connect: %s\n", err);
		return 1;
	}
	ftgt_nvme_ctrlr_register_aer_callback(g_ctrlr, aer_cb, NULL);
	g_q = ftgt_nvme_ctrlr_alloc_io_qpair(g_ctrlr, 32);
	if (g_q == NULL || ftgt_nvme_ns_get_block_size(g_ctrlr, 1) != 512) {
		fail("I/O queue or namespace 1 (512-byte blocks)");
	}

	/* writev / readv with different splits. */
	w = malloc(len);
	r = malloc(len);
	old = malloc(len);
	for (i = 0; i < len; i++) {
		w[i] = (uint8_t)(i * 7 + (i >> 10));
	}
	wiov[0] = (struct iovec){w, 1};
	wiov[1] = (struct iovec){w + 1, 4095};
	wiov[2] = (struct iovec){w + 4096, 0};
	wiov[3] = (struct iovec){w + 4096, 30000};
	wiov[4] = (struct iovec){w + 34096, len - 34096};
	memset(&c, 0, sizeof(c));
	if (ftgt_nvme_ns_cmd_writev(g_q, 1, wiov, 5, 0, 128, NVME_RW_FUA, cb, &c) != 0 ||
	    wait_cmd(&c, "writev") != 0) {
		fail("writev status");
	}
	memset(r, 0, len);
	for (i = 0; i < 7; i++) {
		size_t part = len / 7;

		riov[i] = (struct iovec){r + i * part, i == 6 ? len - 6 * part : part};
	}
	memset(&c, 0, sizeof(c));
	if (ftgt_nvme_ns_cmd_readv(g_q, 1, riov, 7, 0, 128, 0, cb, &c) != 0 ||
	    wait_cmd(&c, "readv") != 0 || memcmp(r, w, len) != 0) {
		fail("readv data");
	}

	/* Fused Compare and Write: match (4 KiB in capsule), then a miscompare (64 KiB). */
	if (!(ftgt_le16_to_cpu(ftgt_nvme_ctrlr_get_data(g_ctrlr)->fuses) &
	      NVME_CTRLR_FUSES_COMPARE_AND_WRITE)) {
		fail("FUSES does not announce Compare and Write");
	}
	memcpy(old, w, len);
	for (i = 0; i < len; i++) {
		w[i] = (uint8_t)~w[i];
	}
	memset(&c, 0, sizeof(c));
	if (ftgt_nvme_ns_cmd_compare_and_write(g_q, 1, old, w, 0, 8, 0, cb, &c) != 0 ||
	    wait_cmd(&c, "compare and write") != 0) {
		printf("FAIL: compare and write (match): %s\n",
		       ftgt_nvme_status_str(ftgt_le16_to_cpu(c.cpl.status)));
		return 1;
	}
	memset(&c, 0, sizeof(c));
	if (ftgt_nvme_ns_cmd_read(g_q, 1, r, 0, 8, 0, cb, &c) != 0 || wait_cmd(&c, "read") != 0 ||
	    memcmp(r, w, 4096) != 0) {
		fail("data after compare and write");
	}
	/* Within the namespace's atomic compare and write unit (NACWU, 0's based). */
	nlb = (uint32_t)ftgt_le16_to_cpu(ftgt_nvme_ctrlr_get_ns_data(g_ctrlr, 1)->nacwu) + 1;
	nlb = nlb > 128 ? 128 : nlb < 8 ? 8 : nlb;
	memset(&c, 0, sizeof(c));
	if (ftgt_nvme_ns_cmd_compare_and_write(g_q, 1, old, old, 0, nlb, 0, cb, &c) != 0 ||
	    wait_cmd(&c, "compare and write 2") !=
	            NVME_STATUS(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE)) {
		printf("FAIL: compare and write (miscompare): %s\n",
		       ftgt_nvme_status_str(ftgt_le16_to_cpu(c.cpl.status)));
		return 1;
	}
	memset(&c, 0, sizeof(c));
	if (ftgt_nvme_ns_cmd_read(g_q, 1, r, 0, 8, 0, cb, &c) != 0 || wait_cmd(&c, "read") != 0 ||
	    memcmp(r, w, 4096) != 0) {
		fail("data changed by a failed compare and write");
	}

	/* Namespace notice: the script adds namespace 2. */
	if (ftgt_nvme_ctrlr_get_num_ns(g_ctrlr) != 1) {
		fail("expected one namespace at start");
	}
	printf("AER-READY\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fail("no go from the script");
	}
	deadline = now_ms() + 10000;
	while (g_aers == 0 && now_ms() < deadline) {
		poll_both();
		usleep(1000);
	}
	if (g_aers != 1 || g_aer_num_ns != 2 || ftgt_nvme_ctrlr_get_num_ns(g_ctrlr) != 2) {
		printf("FAIL: namespace notice: %d AER callbacks, %u namespaces\n", g_aers,
		       g_aer_num_ns);
		return 1;
	}

	/* Reset: the qpair reconnects by itself and works. */
	if (ftgt_nvme_ctrlr_reset(g_ctrlr) != 0) {
		fail("reset refused");
	}
	deadline = now_ms() + 10000;
	while ((ftgt_nvme_ctrlr_get_state(g_ctrlr) != FTGT_NVME_CTRLR_ENABLED ||
	        !ftgt_nvme_qpair_is_connected(g_q)) &&
	       now_ms() < deadline) {
		poll_both();
		usleep(500);
	}
	if (ftgt_nvme_ctrlr_get_state(g_ctrlr) != FTGT_NVME_CTRLR_ENABLED ||
	    !ftgt_nvme_qpair_is_connected(g_q)) {
		char e[256];

		ftgt_nvme_ctrlr_get_connect_error(g_ctrlr, e, sizeof(e));
		printf("FAIL: not back after reset: %s (%s)\n",
		       ftgt_nvme_ctrlr_state_str(ftgt_nvme_ctrlr_get_state(g_ctrlr)), e);
		return 1;
	}
	memset(&c, 0, sizeof(c));
	if (ftgt_nvme_ns_cmd_read(g_q, 1, r, 0, 8, 0, cb, &c) != 0 || wait_cmd(&c, "read") != 0 ||
	    memcmp(r, w, 4096) != 0) {
		fail("read after reset");
	}
	ftgt_nvme_ctrlr_free_io_qpair(g_q);
	ftgt_nvme_detach(g_ctrlr);
	free(w);
	free(r);
	free(old);
	printf("OK\n");
	return 0;
}
