/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the unit tests of the uring, delay, error and split bdevs. */
#ifndef FTGT_UT_STACK_COMMON_H
#define FTGT_UT_STACK_COMMON_H

#include <errno.h>
#include <string.h>

#include "../../lib/bdev/bdev_ut_common.h"
#include "bdev_malloc.h"

struct ut_cpl {
	int count;
	int failed;
	bool success;
	enum ftgt_bdev_io_status status;
};

static inline void
ut_io_done(struct ftgt_bdev_io *io, bool success, void *arg)
{
	struct ut_cpl *c = arg;

	c->count++;
	c->success = success;
	c->status = ftgt_bdev_io_get_status(io);
	if (!success) {
		c->failed++;
	}
	ftgt_bdev_free_io(io);
}

static inline void
ut_ev_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	int *removed = ctx;

	if (removed != NULL && type == FTGT_BDEV_EVENT_REMOVE) {
		(*removed)++;
	}
}

static int g_ut_del_rc = 1;
static inline void
ut_del_cb(void *arg, int rc)
{
	g_ut_del_rc = rc;
}

/* Poll (real clock) until *count reaches target, for at most 10 s (a slow disk's fsync). */
static inline void
ut_wait(int *count, int target)
{
	uint64_t start = ftgt_get_ticks(), hz = ftgt_get_ticks_hz();

	while (*count < target && ftgt_get_ticks() - start < 10 * hz) {
		ut_poll_once();
	}
}

/* Poll `rounds` times (to show that something does not complete). */
static inline void
ut_poll_rounds(int rounds)
{
	for (int i = 0; i < rounds; i++) {
		ut_poll_once();
	}
}

static inline struct ftgt_bdev *
ut_malloc(const char *name, uint64_t num_blocks, uint32_t block_size)
{
	struct malloc_bdev_opts o = {
	        .name = name, .num_blocks = num_blocks, .block_size = block_size};
	struct ftgt_bdev *b = NULL;
	char err[256];

	CU_ASSERT_FATAL(bdev_malloc_create(&b, &o, err, sizeof(err)) == 0);
	return b;
}

static inline void
ut_malloc_delete(const char *name)
{
	char err[256];

	g_ut_del_rc = 1;
	CU_ASSERT(bdev_malloc_delete(name, ut_del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_ut_del_rc == 0);
}

#endif /* FTGT_UT_STACK_COMMON_H */
