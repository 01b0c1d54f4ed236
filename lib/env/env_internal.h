/* SPDX-License-Identifier: BSD-3-Clause */
/* Private declarations of lib/env. */
#ifndef FTGT_ENV_INTERNAL_H
#define FTGT_ENV_INTERNAL_H

#include <stddef.h>

/*
 * DPDK names rings and mempools in one per-process namespace; ours need not be unique,
 * so each object gets "<caller's name, truncated>.<counter>" (size: DPDK's limit).
 */
void env_unique_name(char *buf, size_t size, const char *name);
void env_ring_names_reset(void);

#endif /* FTGT_ENV_INTERNAL_H */
