/* SPDX-License-Identifier: BSD-3-Clause */
/* UUIDs (RFC 4122): generate, parse, format. */
#ifndef FTGT_UUID_H
#define FTGT_UUID_H

#include <stdbool.h>
#include <stdint.h>

struct ftgt_uuid {
	uint8_t u[16];
};
#define FTGT_UUID_STRING_LEN 37 /* 36 characters and a NUL */

/* Random (version 4). */
void ftgt_uuid_generate(struct ftgt_uuid *uuid);
/* Name-based (version 5, SHA-1) from a namespace UUID and a name. */
void ftgt_uuid_generate_sha1(struct ftgt_uuid *uuid, const struct ftgt_uuid *ns,
			     const char *name, size_t len);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" -> uuid: 0 or -EINVAL. */
int ftgt_uuid_parse(struct ftgt_uuid *uuid, const char *str);
/* Lower-case form into buf (at least FTGT_UUID_STRING_LEN bytes). */
void ftgt_uuid_fmt(char *buf, size_t len, const struct ftgt_uuid *uuid);
int ftgt_uuid_compare(const struct ftgt_uuid *a, const struct ftgt_uuid *b);
bool ftgt_uuid_is_null(const struct ftgt_uuid *uuid);

#endif /* FTGT_UUID_H */
