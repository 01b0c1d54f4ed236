/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The environment: the only layer that touches DPDK. It starts the EAL on a core
 * mask, pins threads to cores, gives hugepage memory when some is reserved and
 * ordinary memory otherwise, lock-free rings and mempools with per-core caches.
 *
 * The EAL runs in in-memory mode with a per-process file prefix: several ftgt
 * processes can run side by side and none leaves files behind.
 */
#ifndef FTGT_ENV_H
#define FTGT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FTGT_ENV_MAX_CORES  64
#define FTGT_ENV_SOCKET_ANY (-1)
#define FTGT_ENV_CORE_ANY   UINT32_MAX

struct ftgt_env_opts {
	const char *name;      /* process name for the EAL (default "ftgt") */
	const char *core_mask; /* "0x3", "[0-1]" (default "0x1") */
	uint32_t main_core;    /* core of the calling thread (default: lowest in mask) */
	size_t mem_size_mb;    /* memory to reserve up front; 0 = on demand */
	bool no_huge;          /* force ordinary memory even with hugepages reserved */
	bool no_pci;           /* do not scan PCI (default true) */
	bool quiet;            /* EAL logs only errors (default true) */
};

void ftgt_env_opts_init(struct ftgt_env_opts *opts);

/*
 * Start the environment. Must be called once, from the thread that becomes the main
 * core's thread. Returns 0, -EINVAL (bad mask), or -errno from the EAL.
 */
int ftgt_env_init(const struct ftgt_env_opts *opts);
/* Release everything ftgt_env_init() took. Every launched thread must have returned. */
void ftgt_env_fini(void);
bool ftgt_env_is_initialized(void);
/* True when hugepage memory backs ftgt_dma_malloc(). */
bool ftgt_env_has_hugepages(void);

/* Cores: the mask given at init. */
uint32_t ftgt_env_get_core_count(void);
uint32_t ftgt_env_get_main_core(void);
/* The core the caller runs on (its EAL lcore), or FTGT_ENV_CORE_ANY for other threads. */
uint32_t ftgt_env_get_current_core(void);
uint32_t ftgt_env_get_first_core(void);
/* The next core of the mask after prev, or FTGT_ENV_CORE_ANY after the last. */
uint32_t ftgt_env_get_next_core(uint32_t prev);
#define FTGT_ENV_FOREACH_CORE(i) \
	for (i = ftgt_env_get_first_core(); i != FTGT_ENV_CORE_ANY; i = ftgt_env_get_next_core(i))

/*
 * Run fn(arg) on `core` (not the main core), on a thread pinned there.
 * Returns 0 or -errno (-EBUSY if that core already runs something).
 */
int ftgt_env_thread_launch_pinned(uint32_t core, int (*fn)(void *arg), void *arg);
/* Wait for every launched thread to return. */
void ftgt_env_thread_wait_all(void);

/* Time: a monotonic cycle counter. */
uint64_t ftgt_get_ticks(void);
uint64_t ftgt_get_ticks_hz(void);
static inline uint64_t
ftgt_ticks_to_us(uint64_t ticks, uint64_t hz)
{
	return ticks / (hz / 1000000 ? hz / 1000000 : 1);
}
void ftgt_delay_us(unsigned int us);

/*
 * Memory a device may DMA into: hugepage memory when available, else ordinary
 * memory (the target runs anywhere). align must be a power of two (0 = cache line).
 * Any thread. NULL on failure.
 */
void *ftgt_dma_malloc(size_t size, size_t align);
void *ftgt_dma_zmalloc(size_t size, size_t align);
void ftgt_dma_free(void *buf);

/*
 * Rings of fixed-size elements (elem_size a multiple of 4; 8 for pointers).
 * Producers may be many threads; the consumer is one thread (MPSC) unless
 * FTGT_RING_MC is given. count is rounded up to a power of two; capacity is count - 1.
 */
struct ftgt_ring;
enum ftgt_ring_flags {
	FTGT_RING_MP_SC = 0,
	FTGT_RING_SP_SC = 1 << 0,
	FTGT_RING_MP_MC = 1 << 1,
};
struct ftgt_ring *ftgt_ring_create(const char *name, size_t count, size_t elem_size, int flags,
                                   int socket_id);
void ftgt_ring_free(struct ftgt_ring *ring);
/* Enqueue up to n elements from objs; returns how many went in (all or none when n==1). */
size_t ftgt_ring_enqueue(struct ftgt_ring *ring, const void *objs, size_t n);
/* Dequeue up to n elements into objs; returns how many came out. */
size_t ftgt_ring_dequeue(struct ftgt_ring *ring, void *objs, size_t n);
size_t ftgt_ring_count(struct ftgt_ring *ring);

/*
 * Mempools: `count` elements of `elt_size` bytes, with a per-core cache of
 * `cache_size` (0 = none; FTGT_MEMPOOL_CACHE_DEFAULT picks one). Elements come
 * from DMA-able memory. get returns NULL when empty (the caller queues and retries).
 */
struct ftgt_mempool;
#define FTGT_MEMPOOL_CACHE_DEFAULT SIZE_MAX
struct ftgt_mempool *ftgt_mempool_create(const char *name, size_t count, size_t elt_size,
                                         size_t cache_size, int socket_id);
void ftgt_mempool_free(struct ftgt_mempool *mp);
void *ftgt_mempool_get(struct ftgt_mempool *mp);
/* Get n elements or none: 0 or -ENOMEM. */
int ftgt_mempool_get_bulk(struct ftgt_mempool *mp, void **objs, size_t n);
void ftgt_mempool_put(struct ftgt_mempool *mp, void *obj);
void ftgt_mempool_put_bulk(struct ftgt_mempool *mp, void **objs, size_t n);
/* Elements free in the pool (including those in caches). */
size_t ftgt_mempool_count(const struct ftgt_mempool *mp);

/* Make a non-EAL thread (e.g. a test's pthread) able to use per-core caches: 0 or -errno. */
int ftgt_env_register_thread(void);
void ftgt_env_unregister_thread(void);

#endif /* FTGT_ENV_H */
