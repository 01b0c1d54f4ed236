/* SPDX-License-Identifier: BSD-3-Clause */
/* UUIDs (RFC 4122): generate, parse, format. */
#ifndef FTGT_UUID_H
#define FTGT_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ftgt_uuid {
	uint8_t u[16];
};
#define FTGT_UUID_STRING_LEN 37 /* 36 characters and a NUL */

/* Random (version 4), from getrandom(2). May block only before the kernel's pool is seeded. */
void ftgt_uuid_generate(struct ftgt_uuid *uuid);
/*
 * Name-based (version 5, SHA-1, RFC 4122 4.3) from a namespace UUID and the first len
 * bytes of name: the same inputs always give the same UUID.
 */
void ftgt_uuid_generate_sha1(struct ftgt_uuid *uuid, const struct ftgt_uuid *ns, const char *name,
                             size_t len);
/*
 * "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex digits of either case, nothing before or
 * after) -> uuid: 0, or -EINVAL with *uuid unchanged.
 */
int ftgt_uuid_parse(struct ftgt_uuid *uuid, const char *str);
/*
 * Lower-case form into buf (at least FTGT_UUID_STRING_LEN bytes; a shorter buf gets a
 * truncated, NUL-terminated string).
 */
void ftgt_uuid_fmt(char *buf, size_t len, const struct ftgt_uuid *uuid);
/* memcmp order: <0, 0 or >0. */
int ftgt_uuid_compare(const struct ftgt_uuid *a, const struct ftgt_uuid *b);
/* True for the nil UUID (all zero). */
bool ftgt_uuid_is_null(const struct ftgt_uuid *uuid);

/* Namespace IDs of RFC 4122 appendix C, for ftgt_uuid_generate_sha1(). */
extern const struct ftgt_uuid ftgt_uuid_namespace_dns;
extern const struct ftgt_uuid ftgt_uuid_namespace_url;

#endif /* FTGT_UUID_H */
