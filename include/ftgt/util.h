/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small helpers every library uses: static asserts, container_of, counts,
 * branch hints and endian-named wire types.
 */
#ifndef FTGT_UTIL_H
#define FTGT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <endian.h>

#define FTGT_STATIC_ASSERT(cond)            _Static_assert(cond, #cond)
#define FTGT_COUNTOF(a)                     (sizeof(a) / sizeof((a)[0]))
#define FTGT_CONTAINEROF(ptr, type, member) ((type *)((uintptr_t)(ptr)-offsetof(type, member)))
#define FTGT_MIN(a, b)                      ((a) < (b) ? (a) : (b))
#define FTGT_MAX(a, b)                      ((a) > (b) ? (a) : (b))
#define FTGT_CEIL_DIV(x, y)                 (((x) + (y)-1) / (y))
#define FTGT_ALIGN_UP(x, a)                 (((x) + (a)-1) & ~((__typeof__(x))(a)-1))
#define FTGT_IS_POW2(x)                     ((x) != 0 && (((x) & ((x)-1)) == 0))
#define ftgt_likely(x)                      __builtin_expect(!!(x), 1)
#define ftgt_unlikely(x)                    __builtin_expect(!!(x), 0)
#define FTGT_UNUSED                         __attribute__((unused))
#define FTGT_PACKED                         __attribute__((packed))
#define FTGT_CACHE_LINE_SIZE                64

/* Wire integers: distinct names so a reader sees the byte order of every field. */
typedef uint16_t ftgt_le16;
typedef uint32_t ftgt_le32;
typedef uint64_t ftgt_le64;
typedef uint16_t ftgt_be16;
typedef uint32_t ftgt_be32;
typedef uint64_t ftgt_be64;

static inline uint16_t
ftgt_le16_to_cpu(ftgt_le16 v)
{
	return le16toh(v);
}
static inline uint32_t
ftgt_le32_to_cpu(ftgt_le32 v)
{
	return le32toh(v);
}
static inline uint64_t
ftgt_le64_to_cpu(ftgt_le64 v)
{
	return le64toh(v);
}
static inline ftgt_le16
ftgt_cpu_to_le16(uint16_t v)
{
	return htole16(v);
}
static inline ftgt_le32
ftgt_cpu_to_le32(uint32_t v)
{
	return htole32(v);
}
static inline ftgt_le64
ftgt_cpu_to_le64(uint64_t v)
{
	return htole64(v);
}
static inline uint16_t
ftgt_be16_to_cpu(ftgt_be16 v)
{
	return be16toh(v);
}
static inline uint32_t
ftgt_be32_to_cpu(ftgt_be32 v)
{
	return be32toh(v);
}
static inline uint64_t
ftgt_be64_to_cpu(ftgt_be64 v)
{
	return be64toh(v);
}
static inline ftgt_be16
ftgt_cpu_to_be16(uint16_t v)
{
	return htobe16(v);
}
static inline ftgt_be32
ftgt_cpu_to_be32(uint32_t v)
{
	return htobe32(v);
}
static inline ftgt_be64
ftgt_cpu_to_be64(uint64_t v)
{
	return htobe64(v);
}

/*
 * Parse a core mask ("0x3", "3", "[0,2-3]") into a 64-bit set of cores.
 * Returns 0, or -EINVAL naming nothing (the caller says which option was bad).
 */
int ftgt_parse_core_mask(const char *str, uint64_t *mask);

/* Parse a size with an optional K/M/G suffix (binary units). 0 or -EINVAL. */
int ftgt_parse_size(const char *str, uint64_t *bytes);

#endif /* FTGT_UTIL_H */
