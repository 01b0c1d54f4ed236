/* SPDX-License-Identifier: BSD-3-Clause */
/* Null bdev: writes are discarded, reads return zeroes. For benchmarks. */
#ifndef FTGT_BDEV_NULL_H
#define FTGT_BDEV_NULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftgt/bdev_module.h"
#include "ftgt/uuid.h"

struct null_bdev_opts {
	const char *name; /* required */
	struct ftgt_uuid uuid;
	uint64_t num_blocks;
	uint32_t block_size; /* data bytes (or data + md when interleaved, e.g. 520) */
	uint32_t md_size;
	bool md_interleave;
};

/* App thread. 0 and *bdev, or -EINVAL / -EEXIST / -ENOMEM with a sentence in err. */
int bdev_null_create(struct ftgt_bdev **bdev, const struct null_bdev_opts *opts, char *err,
                     size_t err_len);
int bdev_null_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                     size_t err_len);
/* New size in MiB (SPDK's bdev_null_resize): 0, -ENODEV, -EINVAL, -EBUSY (shrink in use). */
int bdev_null_resize(const char *name, uint64_t new_size_mib, char *err, size_t err_len);

#endif /* FTGT_BDEV_NULL_H */
