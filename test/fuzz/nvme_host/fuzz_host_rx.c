/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the host's NVMe/TCP receive path (lib/nvme/tcp.c): the bytes a
 * controller sends. Byte 0 picks the state (waiting for ICResp or connected; digests;
 * CPDA), byte 1 the feed chunk size; the rest is the stream. Five commands are
 * outstanding (a 4 KiB read, an 8 KiB write waiting for R2T, a flush, a 3 KiB read into
 * three iovecs, and a fused Compare + Write pair of 1 KiB) so C2HData, R2T and CapsuleResp
 * all have something to hit. ASan checks that nothing is written outside the buffers;
 * every command completes exactly once (in a callback or at teardown; one for the pair).
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
	static uint8_t rbuf[4096], wbuf[8192], v0[1000], v1[24], v2[2048], cbuf[1024], fbuf[1024];
	struct iovec viov[3], ciov, fiov;
	struct nvme_cmd cmd2;
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
	q->state = NVME_QPAIR_READY; /* submit first, then the state the mode asks for */
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
	viov[0] = (struct iovec){v0, sizeof(v0)};
	viov[1] = (struct iovec){v1, sizeof(v1)};
	viov[2] = (struct iovec){v2, sizeof(v2)};
	cmd.opc = NVME_OPC_READ;
	nvme_tcp_qpair_submitv(q, &cmd, viov, 3, 3072, 0, fz_cb, NULL);
	ciov = (struct iovec){cbuf, sizeof(cbuf)};
	fiov = (struct iovec){fbuf, sizeof(fbuf)};
	cmd.opc = NVME_OPC_COMPARE;
	memset(&cmd2, 0, sizeof(cmd2));
	cmd2.opc = NVME_OPC_WRITE;
	nvme_tcp_qpair_submit_fused(q, &cmd, &ciov, 1, &cmd2, &fiov, 1, sizeof(cbuf), fz_cb, NULL);
	if (mode & 4) {
		q->state = NVME_QPAIR_WAIT_ICRESP;
	}

	for (off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (nvme_tcp_qpair_rx_bytes(q, data + off, n) != 0) {
			break;
		}
	}
	nvme_tcp_qpair_destroy(q);
	if (g_completions != 5) {
		abort(); /* a command completed twice or never */
	}
	return 0;
}
