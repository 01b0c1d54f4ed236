/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the iSCSI PDU parser, the login text-key negotiation and the
 * session's CmdSN window (fed with the CmdSN of every parsed PDU).
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude lib/iscsi/pdu.c
 *        lib/iscsi/param.c lib/iscsi/sn.c lib/util/crc32c.c
 *        test/fuzz/iscsi/fuzz_iscsi_pdu.c -lisal
 * The first input byte selects digests, the phase limits and the window depth.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../../lib/iscsi/iscsi_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_pdu_params params = {0};
	struct iscsi_pdu_info info;
	struct iscsi_negotiation neg;
	struct iscsi_text_out out;
	uint8_t rsp[512];
	uint8_t *copy;
	size_t off = 0;
	struct iscsi_cmdsn_window win;
	uint32_t depth, accepted = 0, completed = 0;
	bool win_ready = false;

	if (size < 1) {
		return 0;
	}
	params.header_digest = data[0] & 1;
	params.data_digest = data[0] & 2;
	params.erl0 = true;
	params.max_recv_dsl = (data[0] & 4) ? 8192 : 262144;
	depth = 1u + (data[0] >> 3);

	/* Exact-size heap copy so ASan sees any read past the end. */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (copy == NULL) {
		return 0;
	}
	memcpy(copy, data + 1, size - 1);
	size -= 1;

	while (off < size) {
		ssize_t rc = iscsi_pdu_parse(copy + off, size - off, &params, &info);

		if (rc > 0) {
			uint32_t sn;

			/* CmdSN (bytes 24..27 of the BHS) through the window, which starts
			 * at the first PDU's; the immediate bit also finishes a command. */
			memcpy(&sn, (const uint8_t *)info.bhs + 24, 4);
			if (!win_ready) {
				iscsi_cmdsn_init(&win, sn, depth);
				win_ready = true;
			}
			if (iscsi_cmdsn_accept(&win, sn) == 0) {
				accepted++;
			}
			if (info.immediate && completed < accepted) {
				iscsi_cmdsn_complete(&win);
				completed++;
			}
			/* At most `depth` commands outstanding; ExpCmdSN <= MaxCmdSN + 1. */
			if (accepted - completed > depth ||
			    iscsi_sn_gt(win.exp_cmd_sn, win.max_cmd_sn + 1)) {
				abort();
			}
			if (info.opcode == ISCSI_OP_LOGIN_REQ || info.opcode == ISCSI_OP_TEXT_REQ) {
				memset(&neg, 0, sizeof(neg));
				iscsi_sess_params_init_defaults(&neg.params);
				iscsi_sess_params_init_defaults(&neg.target_limits);
				out.buf = rsp;
				out.len = 0;
				out.cap = sizeof(rsp);
				out.overflow = false;
				(void)iscsi_negotiate(&neg, info.data, info.data_len, &out);
			}
			off += (size_t)rc;
		} else if (rc == -EILSEQ || rc == -EINVAL || rc == -EPROTONOSUPPORT) {
			if (info.total_len == 0) {
				abort();
			}
			off += info.total_len;
		} else {
			break;
		}
	}
	free(copy);
	return 0;
}
