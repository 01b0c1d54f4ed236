/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session-wide CmdSN window (RFC 7143 4.2.2.1, 4.2.2.2). Pure logic: the session's
 * thread owns the window; unit tests drive it directly.
 *
 * ExpCmdSN is the lowest CmdSN not received yet. With several connections per session,
 * commands arrive out of order (CmdSN 7 on one connection before 6 on another), so the
 * CmdSNs received above ExpCmdSN are remembered in a bitmap; when the hole closes,
 * ExpCmdSN jumps over them. MaxCmdSN grows by one each time a non-immediate command is
 * finished (credit based, as SPDK does), so at most `depth` commands are outstanding.
 */
#include <errno.h>
#include <string.h>

#include "iscsi_internal.h"

void
iscsi_cmdsn_init(struct iscsi_cmdsn_window *w, uint32_t exp_cmd_sn, uint32_t depth)
{
	memset(w, 0, sizeof(*w));
	if (depth == 0) {
		depth = 1;
	}
	if (depth > ISCSI_CMDSN_WINDOW_MAX) {
		depth = ISCSI_CMDSN_WINDOW_MAX;
	}
	w->exp_cmd_sn = exp_cmd_sn;
	w->max_cmd_sn = exp_cmd_sn + depth - 1;
}

static bool
bit_test(const struct iscsi_cmdsn_window *w, uint32_t off)
{
	uint32_t pos = (w->base + off) % (2 * ISCSI_CMDSN_WINDOW_MAX);

	return (w->seen[pos / 64] >> (pos % 64)) & 1;
}

static void
bit_set(struct iscsi_cmdsn_window *w, uint32_t off, bool on)
{
	uint32_t pos = (w->base + off) % (2 * ISCSI_CMDSN_WINDOW_MAX);

	if (on) {
		w->seen[pos / 64] |= 1ull << (pos % 64);
	} else {
		w->seen[pos / 64] &= ~(1ull << (pos % 64));
	}
}

int
iscsi_cmdsn_accept(struct iscsi_cmdsn_window *w, uint32_t cmd_sn)
{
	uint32_t off;

	if (iscsi_sn_lt(cmd_sn, w->exp_cmd_sn) || iscsi_sn_gt(cmd_sn, w->max_cmd_sn)) {
		return -ERANGE;
	}
	off = cmd_sn - w->exp_cmd_sn;
	if (off >= 2 * ISCSI_CMDSN_WINDOW_MAX) {
		return -ERANGE; /* cannot happen while the credits hold */
	}
	if (off > 0) {
		if (bit_test(w, off)) {
			return -EEXIST; /* a duplicate: already received */
		}
		bit_set(w, off, true);
		return 0;
	}
	/* The hole at ExpCmdSN closes: move over every CmdSN already received. */
	do {
		bit_set(w, 0, false);
		w->base = (w->base + 1) % (2 * ISCSI_CMDSN_WINDOW_MAX);
		w->exp_cmd_sn++;
	} while (bit_test(w, 0));
	return 0;
}

void
iscsi_cmdsn_complete(struct iscsi_cmdsn_window *w)
{
	w->max_cmd_sn++;
}
