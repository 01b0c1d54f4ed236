/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the host's NVMe/TCP receive path (lib/nvme/tcp.c): the bytes a
 * controller sends. Byte 0 picks the state (waiting for ICResp or connected; digests;
 * CPDA), byte 1 the feed chunk size; the rest is the stream. Three commands are
 * outstanding (a 4 KiB read, an 8 KiB write waiting for R2T, a flush) so C2HData, R2T and
 * CapsuleResp all have something to hit. ASan checks that nothing is written outside
 * the buffers; every command completes exactly once (in a callback or at teardown).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../../lib/nvme/nvme_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int g_completions;

static void
fz_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	(void)cb_arg;
	(void)cpl;
	g_completions++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rbuf[4096], wbuf[8192];
	struct ftgt_nvme_qpair *q;
	struct nvme_cmd cmd;
	size_t chunk, off;
	uint8_t mode;

	if (size < 2) {
		return 0;
	}
	mode = data[0];
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;

	q = nvme_tcp_qpair_create(NULL, 1, 8);
	if (q == NULL) {
		return 0;
	}
	q->hdgst = (mode & 1) != 0;
	q->ddgst = (mode & 2) != 0;
	q->state = (mode & 4) ? NVME_QPAIR_WAIT_ICRESP : NVME_QPAIR_READY;
	q->cpda_bytes = (mode & 8) ? 16 : 0;
	q->maxh2cdata_bytes = 4096;
	g_completions = 0;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_READ;
	nvme_tcp_qpair_submit(q, &cmd, rbuf, sizeof(rbuf), fz_cb, NULL);
	cmd.opc = NVME_OPC_WRITE;
	nvme_tcp_qpair_submit(q, &cmd, wbuf, sizeof(wbuf), fz_cb, NULL);
	cmd.opc = NVME_OPC_FLUSH;
	nvme_tcp_qpair_submit(q, &cmd, NULL, 0, fz_cb, NULL);

	for (off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (nvme_tcp_qpair_rx_bytes(q, data + off, n) != 0) {
			break;
		}
	}
	nvme_tcp_qpair_destroy(q);
	if (g_completions != 3) {
		abort(); /* a command completed twice or never */
	}
	return 0;
}
