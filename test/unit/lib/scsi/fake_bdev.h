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
	bool hold_io;     /* hold submitted I/O until released or aborted */
	uint64_t aborted; /* I/Os completed ABORTED by ftgt_bdev_abort() */
};
extern struct fake_bdev_stats g_fake_bdev;

/* One bdev named "Malloc0". */
void fake_bdev_init(uint64_t num_blocks, uint32_t block_size);
void fake_bdev_fini(void);
uint8_t *fake_bdev_data(void);
/* Deliver queued completions; returns how many. */
int fake_bdev_poll(void);
/* Let up to max held I/Os complete (successfully, at the next poll), oldest first;
 * returns how many. */
uint32_t fake_bdev_release_held(uint32_t max);
uint32_t fake_bdev_held_count(void);
/* Change the block count and send FTGT_BDEV_EVENT_RESIZE to the open descriptor. */
void fake_bdev_resize(uint64_t num_blocks);
/* Send FTGT_BDEV_EVENT_REMOVE to the open descriptor (the bdev stays usable). */
void fake_bdev_hot_remove(void);

#endif
