/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing of core masks and sizes given on command lines and in RPCs. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/util.h"

/* "[0,2-3]" or "0,2-3": a list of cores and ranges. */
static int
parse_core_list(const char *str, uint64_t *mask)
{
	uint64_t m = 0;
	const char *p = str;

	while (*p != '\0') {
		char *end;
		unsigned long first, last;

		if (!isdigit((unsigned char)*p)) {
			return -EINVAL;
		}
		first = strtoul(p, &end, 10);
		last = first;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p)) {
				return -EINVAL;
			}
			last = strtoul(p, &end, 10);
			p = end;
		}
		if (first > last || last >= 64) {
			return -EINVAL;
		}
		for (unsigned long c = first; c <= last; c++) {
			m |= 1ULL << c;
		}
		if (*p == ',') {
			p++;
			if (*p == '\0') {
				return -EINVAL;
			}
		} else if (*p != '\0') {
			return -EINVAL;
		}
	}
	if (m == 0) {
		return -EINVAL;
	}
	*mask = m;
	return 0;
}

int
ftgt_parse_core_mask(const char *str, uint64_t *mask)
{
	size_t len;
	char *end;
	uint64_t m;

	if (str == NULL || *str == '\0') {
		return -EINVAL;
	}
	len = strlen(str);
	if (str[0] == '[') {
		char buf[256];

		if (str[len - 1] != ']' || len - 2 >= sizeof(buf)) {
			return -EINVAL;
		}
		memcpy(buf, str + 1, len - 2);
		buf[len - 2] = '\0';
		return parse_core_list(buf, mask);
	}
	if (strpbrk(str, ",-") != NULL) {
		return parse_core_list(str, mask);
	}
	/* A bare number is a hexadecimal mask, as in SPDK and DPDK ("3" == "0x3"). */
	if (str[0] == '-' || str[0] == '+' || isspace((unsigned char)str[0])) {
		return -EINVAL;
	}
	errno = 0;
	m = strtoull(str, &end, 16);
	if (errno != 0 || *end != '\0' || m == 0) {
		return -EINVAL;
	}
	*mask = m;
	return 0;
}

int
ftgt_parse_size(const char *str, uint64_t *bytes)
{
	unsigned long long v;
	uint64_t shift = 0;
	char *end;

	if (str == NULL || !isdigit((unsigned char)str[0])) {
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(str, &end, 10);
	if (errno != 0) {
		return -EINVAL;
	}
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0') {
		end++;
		/* Accept "4K", "4KB", "4KiB". */
		if (*end == 'i' || *end == 'I') {
			end++;
		}
		if (*end == 'B' || *end == 'b') {
			end++;
		}
		if (*end != '\0') {
			return -EINVAL;
		}
	}
	if (shift != 0 && v > (UINT64_MAX >> shift)) {
		return -EINVAL;
	}
	*bytes = (uint64_t)v << shift;
	return 0;
}
