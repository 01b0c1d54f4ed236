/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef FAKE_BDEV_H
#define FAKE_BDEV_H

#include "ftgt/bdev.h"

struct fake_bdev_stats {
	uint64_t submitted[FTGT_BDEV_NUM_IO_TYPES];
	bool last_write_fua;
	bool unmap_supported;
	bool write_cache;
	bool fail_io;
	int fail_submit;
	uint32_t acwu;
};
extern struct fake_bdev_stats g_fake_bdev;

/* One bdev named "Malloc0". */
void fake_bdev_init(uint64_t num_blocks, uint32_t block_size);
void fake_bdev_fini(void);
uint8_t *fake_bdev_data(void);
/* Deliver queued completions; returns how many. */
int fake_bdev_poll(void);

#endif
