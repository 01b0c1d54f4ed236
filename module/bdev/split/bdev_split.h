/* SPDX-License-Identifier: BSD-3-Clause */
/* Split bdev: one base bdev seen as N equal bdevs "<base>p0" .. "<base>pN-1". */
#ifndef FTGT_BDEV_SPLIT_H
#define FTGT_BDEV_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/bdev_module.h"

/*
 * Split `base_name` into split_count bdevs of split_size_mb MiB each (0: the base's size
 * divided by split_count, the remainder unused). Opens and claims the base. App thread.
 * Returns 0 and the new bdevs' names in names[] (strings owned by the bdevs; names may
 * be NULL, else it holds split_count entries), or -ENODEV (no base), -EINVAL (bad count
 * or size), -EEXIST (a name "<base>pI" is taken), -EPERM/-EBUSY (base claimed), -ENOMEM,
 * with a sentence in err. Nothing stays created on failure.
 */
int bdev_split_create(const char *base_name, uint32_t split_count, uint64_t split_size_mb,
                      const char **names, char *err, size_t err_len);

/*
 * Unregister every split of `base_name` and release the base. cb_fn(cb_arg, 0) runs on
 * the calling thread once all are gone. Returns 0, or -ENODEV (base not split) with a
 * sentence in err. App thread.
 */
int bdev_split_delete(const char *base_name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                      size_t err_len);

#endif /* FTGT_BDEV_SPLIT_H */
