/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Delay bdev: passes I/O through to its base bdev and holds each read or write
 * completion for a configured latency (the average one, or 1 time in 100 the p99 one).
 */
#ifndef FTGT_BDEV_DELAY_H
#define FTGT_BDEV_DELAY_H

#include <stddef.h>
#include <stdint.h>

#include "ftgt/bdev_module.h"

enum delay_latency_type {
	DELAY_AVG_READ = 0,
	DELAY_P99_READ,
	DELAY_AVG_WRITE,
	DELAY_P99_WRITE,
	DELAY_NUM_LATENCY_TYPES,
};

struct delay_bdev_opts {
	const char *name;           /* required */
	const char *base_bdev_name; /* required */
	struct ftgt_uuid uuid;      /* all zero: generated */
	uint64_t latency_us[DELAY_NUM_LATENCY_TYPES];
};

/* "avg_read", "p99_read", "avg_write", "p99_write" -> type; -EINVAL otherwise. */
int bdev_delay_latency_type_parse(const char *str, enum delay_latency_type *type);

/*
 * Create a delay bdev on top of opts->base_bdev_name (opened and claimed). App thread.
 * Returns 0 and *bdev, or -EINVAL, -ENODEV (no base), -EEXIST (name taken), -EBUSY (base
 * claimed), -ENOMEM, with a sentence in err. Nothing stays created on failure.
 */
int bdev_delay_create(struct ftgt_bdev **bdev, const struct delay_bdev_opts *opts, char *err,
                      size_t err_len);
/* Unregister by name: see ftgt_bdev_unregister_by_name. */
int bdev_delay_delete(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                      size_t err_len);
/* Change one latency of a delay bdev; I/O completing from now on uses it. 0, -ENODEV. */
int bdev_delay_update_latency(const char *name, enum delay_latency_type type, uint64_t latency_us,
                              char *err, size_t err_len);

#endif /* FTGT_BDEV_DELAY_H */
