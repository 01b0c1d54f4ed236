/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring bdev: a file or block device, read and written through one io_uring per
 * thread. O_DIRECT when the file system allows it, buffered (with a warning) otherwise.
 */
#ifndef FTGT_BDEV_URING_H
#define FTGT_BDEV_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftgt/bdev_module.h"
#include "ftgt/uuid.h"

struct uring_bdev_opts {
	const char *name;      /* required */
	const char *filename;  /* required: regular file or block device */
	uint32_t block_size;   /* 0: detect (device's logical block size, or O_DIRECT's) */
	struct ftgt_uuid uuid; /* all zero: generated */
};

/*
 * Open the file, size it and register the bdev. App thread. Returns 0 and *bdev, or
 * -ENOENT (no such file), -EINVAL (bad block size, file smaller than one block, not a
 * file or block device), -EEXIST (name taken), -EACCES, -ENOMEM, ... with a sentence in
 * err. Nothing stays created (and the file stays closed) on failure.
 */
int bdev_uring_create(struct ftgt_bdev **bdev, const struct uring_bdev_opts *opts, char *err,
                      size_t err_len);
/*
 * Hot remove the uring bdev `name`: unlike other deletes this also works while the bdev
 * is open (a file or device that went bad must be removable): every descriptor gets
 * FTGT_BDEV_EVENT_REMOVE, and cb_fn(cb_arg, rc) runs once the last one closed. A claimed
 * bdev (a stacked module or a front end holds it) is refused with -EBUSY unless force.
 * Returns 0, -ENODEV (no such bdev), -EINVAL (not a uring bdev), -EBUSY, with a
 * sentence in err. Calling thread: the app thread.
 */
int bdev_uring_delete(const char *name, bool force, ftgt_bdev_unregister_cb cb_fn, void *cb_arg,
                      char *err, size_t err_len);
/*
 * Size the file again and grow the bdev when it grew (descriptors get RESIZE). A file
 * that shrank is refused (-EBUSY while open: I/O past the new end fails; delete the
 * bdev). Returns 0, -ENODEV, -EBUSY, -EIO with a sentence in err. App thread.
 */
int bdev_uring_rescan(const char *name, char *err, size_t err_len);

#endif /* FTGT_BDEV_URING_H */
