/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error bdev: "EE_<base>" passes I/O through to its base bdev and injects failures,
 * held ("pending") I/O, data corruption or NOMEM for chosen I/O types, a given number
 * of times.
 */
#ifndef FTGT_BDEV_ERROR_H
#define FTGT_BDEV_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/bdev_module.h"

enum error_inject_type {
	ERROR_INJECT_NONE = 0,
	ERROR_INJECT_FAILURE, /* complete with FAILED, base not touched */
	ERROR_INJECT_PENDING, /* hold the I/O until aborted, cleared, or the base goes */
	ERROR_INJECT_CORRUPT, /* xor one byte: of the data read, or of the data written */
	ERROR_INJECT_NOMEM,   /* complete with NOMEM (the core retries) */
};

/* "failure", "pending", "corrupt_data", "nomem" (and "clear" for NONE); -EINVAL else. */
int bdev_error_inject_type_parse(const char *str, enum error_inject_type *type);
/*
 * I/O type names: "read", "write", "unmap", "flush", "write_zeroes", "reset", "all"
 * (every type), "clear" (every type, injection removed). Sets *type_mask (bit per
 * enum ftgt_bdev_io_type) and *clear. -EINVAL for other names.
 */
int bdev_error_io_type_parse(const char *str, uint32_t *type_mask, bool *clear);

/*
 * Create "EE_<base_name>" on top of base_name (opened and claimed). App thread.
 * Returns 0 and *bdev, or -ENODEV, -EEXIST, -EBUSY (base claimed), -ENOMEM with a
 * sentence in err. uuid may be NULL (generated).
 */
int bdev_error_create(const char *base_name, const struct ftgt_uuid *uuid, struct ftgt_bdev **bdev,
                      char *err, size_t err_len);
/* Unregister an error bdev by name: see ftgt_bdev_unregister_by_name. */
int bdev_error_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                      size_t err_len);
/*
 * Inject into the error bdev `name`: for every type in type_mask, the next `num` I/Os
 * get `type` (ERROR_INJECT_NONE: stop injecting and release held I/O). corrupt_offset
 * (byte in the I/O's data) and corrupt_value (xor, non-zero) apply to CORRUPT.
 * Returns 0, -ENODEV (no such error bdev), -EINVAL, with a sentence in err. App thread.
 */
int bdev_error_inject(const char *name, uint32_t type_mask, enum error_inject_type type,
                      uint32_t num, uint64_t corrupt_offset, uint8_t corrupt_value, char *err,
                      size_t err_len);

#endif /* FTGT_BDEV_ERROR_H */
