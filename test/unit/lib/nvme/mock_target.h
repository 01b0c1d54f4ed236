/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small blocking NVMe/TCP target for testing the host library: one thread per
 * connection, a RAM namespace, and knobs to misbehave. Test code only.
 */
#ifndef FTGT_NVME_MOCK_TARGET_H
#define FTGT_NVME_MOCK_TARGET_H

#include <stdbool.h>
#include <stdint.h>

struct mock_target_opts {
	const char *subnqn;        /* NVM subsystem NQN served (default nqn.2026-01.io.ftgt:mock) */
	uint32_t block_size;       /* 512 or 4096 (default 512) */
	uint64_t num_blocks;       /* default 2048 */
	uint32_t ioccsz_bytes;     /* in-capsule limit incl. SQE (default 64 + 8192) */
	uint32_t c2h_chunk;        /* split reads into C2HData PDUs of this size (default 64 KiB) */
	uint32_t r2t_chunk;        /* ask for write data in R2Ts of this size (default 64 KiB) */
	uint32_t maxh2cdata;       /* ICResp MAXH2CDATA (default 32 KiB) */
	uint32_t cpda;             /* ICResp CPDA (default 0) */
	bool c2h_success;          /* use the SUCCESS flag instead of a CapsuleResp */
	bool refuse_host;          /* answer Connect with CONNECT_INVALID_HOST */
	bool no_icresp;            /* accept TCP but never answer the ICReq */
	uint8_t swallow_opc;       /* never answer I/O commands with this opcode (0xff none) */
	uint8_t swallow_admin_opc; /* never answer admin commands with this opcode (0xff none) */
	bool corrupt_ddgst;        /* send a wrong data digest on C2HData */
	uint32_t extra_ns;         /* also active: NSIDs 9..8 + extra_ns (num_blocks each) */
};

struct mock_target;

void mock_target_opts_default(struct mock_target_opts *opts);
/* Listen on 127.0.0.1 (ephemeral port); NULL on failure. */
struct mock_target *mock_target_start(const struct mock_target_opts *opts);
uint16_t mock_target_port(const struct mock_target *t);
/* Stats for assertions. */
uint64_t mock_target_keep_alives(const struct mock_target *t);
uint64_t mock_target_shutdowns(const struct mock_target *t); /* CC.SHN notifications */
uint64_t mock_target_aborts(const struct mock_target *t);
uint64_t mock_target_r2ts(const struct mock_target *t);
uint64_t mock_target_icd_writes(const struct mock_target *t);
uint32_t mock_target_last_hdgst(const struct mock_target *t);
/* Direct access to the namespace contents. */
uint8_t *mock_target_data(struct mock_target *t);
void mock_target_stop(struct mock_target *t);

/*
 * Namespaces: nsid 1 exists at start (num_blocks of the opts; the only one with data).
 * Set nsid (1..8) to num_blocks (0 removes it): the Changed Namespace List gets the nsid
 * and a Namespace Attribute Changed notice completes an outstanding AER (if the host
 * enabled it with Set Features Async Event Configuration and read the list since the
 * last one).
 */
void mock_target_set_ns(struct mock_target *t, uint32_t nsid, uint64_t num_blocks);
uint32_t mock_target_aec(struct mock_target *t);
uint64_t mock_target_changed_ns_reads(struct mock_target *t);
uint64_t mock_target_aens_sent(struct mock_target *t);
uint32_t mock_target_outstanding_aers(struct mock_target *t);
/* Fused Compare and Write pairs executed. */
uint64_t mock_target_fused_pairs(struct mock_target *t);
/* Close every connection now (the host sees them drop). */
void mock_target_drop_conns(struct mock_target *t);
/* While set, accept TCP connections and close them at once. */
void mock_target_set_refuse(struct mock_target *t, bool refuse);
/* TCP connections accepted so far; their times (CLOCK_MONOTONIC ms) into times_ms. */
uint32_t mock_target_accepts(struct mock_target *t, uint64_t *times_ms, uint32_t max);

#endif
