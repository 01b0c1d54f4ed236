/* SPDX-License-Identifier: BSD-3-Clause */
/* Malloc bdev: a RAM disk (hugepage memory when available). */
#ifndef FTGT_BDEV_MALLOC_H
#define FTGT_BDEV_MALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftgt/bdev_module.h"
#include "ftgt/uuid.h"

struct malloc_bdev_opts {
	const char *name;      /* NULL: "Malloc<N>" */
	struct ftgt_uuid uuid; /* all zero: generated */
	uint64_t num_blocks;
	uint32_t block_size;          /* data bytes per block (or data + md when interleaved) */
	uint32_t md_size;             /* metadata bytes per block, 0 = none */
	bool md_interleave;           /* metadata inside each block */
	uint32_t optimal_io_boundary; /* blocks, 0 = none */
};

/*
 * Create and register a malloc bdev. App thread. Returns 0 and *bdev, or -EINVAL /
 * -EEXIST (with a sentence in err), -ENOMEM. Nothing stays allocated on failure.
 */
int bdev_malloc_create(struct ftgt_bdev **bdev, const struct malloc_bdev_opts *opts, char *err,
                       size_t err_len);
/* Unregister by name: see ftgt_bdev_unregister_by_name for the errors. */
int bdev_malloc_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                       size_t err_len);

#endif /* FTGT_BDEV_MALLOC_H */
