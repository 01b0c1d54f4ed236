/* SPDX-License-Identifier: BSD-3-Clause */
/* Name validation (NQN, iSCSI), numeric address parsing, bounded string copies. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ftgt/string.h"
#include "ftgt/uuid.h"

static bool __attribute__((format(printf, 3, 4)))
fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool
ok(char *err, size_t err_len)
{
	if (err != NULL && err_len > 0) {
		err[0] = '\0';
	}
	return true;
}

/*
 * Decodes one UTF-8 sequence at s (RFC 3629): returns its length and sets *cp, or 0 if
 * the bytes are not well formed (truncated, overlong, surrogate, past U+10FFFF).
 */
static size_t
utf8_decode(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		/* A NUL is not a continuation byte, so this stops at the end of the string. */
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
		return 0;
	}
	*cp = c;
	return n;
}

/* Checks the whole string is UTF-8 without control characters (C0, DEL, C1). */
static bool
check_utf8_text(const char *s, const char *what, char *err, size_t err_len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i = 0, n;

	while (p[i] != '\0') {
		n = utf8_decode(p + i, &cp);
		if (n == 0) {
			return fail(err, err_len, "%s is not valid UTF-8 (byte %zu)", what, i);
		}
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			return fail(err, err_len, "%s contains a control character (byte %zu)",
			            what, i);
		}
		i += n;
	}
	return true;
}

/* "yyyy-mm" at s (4 digits, '-', month 01..12), then '.'. */
static bool
check_date(const char *s, const char *what, char *err, size_t err_len)
{
	int i, month;

	for (i = 0; i < 7; i++) {
		if (i == 4 ? s[i] != '-' : (s[i] < '0' || s[i] > '9')) {
			return fail(
			        err, err_len,
			        "%s must have a date yyyy-mm after the type prefix (at byte %d)",
			        what, 4 + i);
		}
	}
	month = (s[5] - '0') * 10 + (s[6] - '0');
	if (month < 1 || month > 12) {
		return fail(err, err_len, "%s date has month %02d, not 01..12", what, month);
	}
	if (s[7] != '.') {
		return fail(err, err_len,
		            "%s date must be followed by '.' and the naming authority's reversed "
		            "domain name",
		            what);
	}
	return true;
}

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Printable form of one byte for an error message. */
static const char *
byte_str(char c, char *buf, size_t len)
{
	unsigned char u = (unsigned char)c;

	if (u > 0x20 && u < 0x7f) {
		snprintf(buf, len, "'%c'", c);
	} else {
		snprintf(buf, len, "byte 0x%02x", u);
	}
	return buf;
}

/*
 * Reversed domain name from s up to ':' or the end of the string (RFC 1035 2.3.1 labels
 * as relaxed by RFC 1123 2.1: letters, digits, '-' inside, 1..63 bytes). Upper-case
 * letters only if allow_upper. Returns the length consumed, or -1 with err set.
 */
static int
check_domain(const char *s, bool allow_upper, const char *what, char *err, size_t err_len)
{
	size_t i = 0, label_start = 0;
	char b[16];

	for (;; i++) {
		char c = s[i];

		if (c == '.' || c == ':' || c == '\0') {
			size_t label_len = i - label_start;

			if (label_len == 0) {
				fail(err, err_len, "%s has an empty label in its domain name",
				     what);
				return -1;
			}
			if (label_len > 63) {
				fail(err, err_len,
				     "%s has a domain label of %zu bytes; the limit is 63", what,
				     label_len);
				return -1;
			}
			if (s[label_start] == '-' || s[i - 1] == '-') {
				fail(err, err_len,
				     "%s has a domain label that starts or ends with '-'", what);
				return -1;
			}
			if (c != '.') {
				return (int)i;
			}
			label_start = i + 1;
		} else if (is_lower(c) || is_digit(c) || c == '-') {
			continue;
		} else if (c >= 'A' && c <= 'Z') {
			if (!allow_upper) {
				fail(err, err_len,
				     "%s must be lower case ('%c' in the domain name); RFC 3722 "
				     "maps names to lower case",
				     what, c);
				return -1;
			}
		} else {
			fail(err, err_len,
			     "%s domain name contains %s; only letters, digits, "
			     "'-' and '.' are allowed",
			     what, byte_str(c, b, sizeof(b)));
			return -1;
		}
	}
}

bool
ftgt_nqn_is_valid(const char *nqn, char *err, size_t err_len)
{
	size_t len, prefix = strlen(FTGT_NQN_UUID_PREFIX);
	struct ftgt_uuid uuid;
	int n;

	if (nqn == NULL || nqn[0] == '\0') {
		return fail(err, err_len, "NQN is empty");
	}
	len = strlen(nqn);
	if (len > FTGT_NQN_MAX_LEN) {
		return fail(err, err_len, "NQN is %zu bytes long; the limit is %d", len,
		            FTGT_NQN_MAX_LEN);
	}
	if (!check_utf8_text(nqn, "NQN", err, err_len)) {
		return false;
	}
	if (strcmp(nqn, FTGT_NQN_DISCOVERY) == 0) {
		return ok(err, err_len);
	}
	if (strncmp(nqn, FTGT_NQN_UUID_PREFIX, prefix) == 0) {
		if (len - prefix != FTGT_UUID_STRING_LEN - 1 ||
		    ftgt_uuid_parse(&uuid, nqn + prefix) != 0) {
			return fail(err, err_len,
			            "NQN of the UUID form must end in a UUID "
			            "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) after \"%s\"",
			            FTGT_NQN_UUID_PREFIX);
		}
		return ok(err, err_len);
	}
	if (strncmp(nqn, "nqn.", 4) != 0) {
		return fail(err, err_len, "NQN must start with \"nqn.\"");
	}
	if (!check_date(nqn + 4, "NQN", err, err_len)) {
		return false;
	}
	n = check_domain(nqn + 12, true, "NQN", err, err_len);
	if (n < 0) {
		return false;
	}
	if (nqn[12 + n] != ':') {
		return fail(err, err_len,
		            "NQN must have ':' and a name after the reversed domain name "
		            "(nqn.yyyy-mm.com.example:name)");
	}
	if (nqn[12 + n + 1] == '\0') {
		return fail(err, err_len, "NQN has nothing after ':'");
	}
	return ok(err, err_len);
}

/*
 * RFC 3722 5 (stringprep tables C.1.2, C.2.2, C.3-C.9) and 6 (U+3002): non-ASCII code
 * points an iSCSI name must not contain.
 */
static bool
iscsi_cp_prohibited(uint32_t cp)
{
	static const struct {
		uint32_t lo, hi;
	} prohibited[] = {
	        {0x0080, 0x00a0},    {0x0340, 0x0341},   {0x06dd, 0x06dd},   {0x070f, 0x070f},
	        {0x1680, 0x1680},    {0x180e, 0x180e},   {0x2000, 0x200f},   {0x2028, 0x202f},
	        {0x205f, 0x2063},    {0x206a, 0x206f},   {0x2ff0, 0x2ffb},   {0x3000, 0x3000},
	        {0x3002, 0x3002},    {0xd800, 0xf8ff},   {0xfdd0, 0xfdef},   {0xfeff, 0xfeff},
	        {0xfff9, 0xfffd},    {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f},
	        {0xf0000, 0x10ffff},
	};
	size_t i;

	/* C.4: the last two code points of every plane are non-characters. */
	if ((cp & 0xfffe) == 0xfffe) {
		return true;
	}
	for (i = 0; i < sizeof(prohibited) / sizeof(prohibited[0]); i++) {
		if (cp >= prohibited[i].lo && cp <= prohibited[i].hi) {
			return true;
		}
	}
	return false;
}

/* The identifier after "iqn....:": RFC 3720 3.2.6.2 characters, RFC 3722 exclusions. */
static bool
check_iqn_identifier(const char *s, size_t off, char *err, size_t err_len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i = off, n;
	char b[16];

	if (p[i] == '\0') {
		return fail(err, err_len, "iSCSI name has nothing after ':'");
	}
	while (p[i] != '\0') {
		char c = (char)p[i];

		if (p[i] < 0x80) {
			if (is_lower(c) || is_digit(c) || c == '-' || c == '.' || c == ':') {
				i++;
				continue;
			}
			if (c >= 'A' && c <= 'Z') {
				return fail(err, err_len,
				            "iSCSI name must be lower case ('%c' at byte %zu); "
				            "RFC 3722 maps names to lower case",
				            c, i);
			}
			return fail(err, err_len,
			            "iSCSI name contains %s at byte %zu; allowed are a-z, 0-9, "
			            "'-', '.' and ':'",
			            byte_str(c, b, sizeof(b)), i);
		}
		n = utf8_decode(p + i, &cp);
		if (n == 0) {
			return fail(err, err_len, "iSCSI name is not valid UTF-8 (byte %zu)", i);
		}
		if (iscsi_cp_prohibited(cp)) {
			return fail(err, err_len,
			            "iSCSI name contains U+%04X at byte %zu, which RFC 3722 "
			            "prohibits",
			            (unsigned int)cp, i);
		}
		i += n;
	}
	return true;
}

static bool
check_hex_name(const char *name, const char *type, size_t n1, size_t n2, char *err, size_t err_len)
{
	const char *hex = name + 4;
	size_t n = 0;

	while (is_hex(hex[n])) {
		n++;
	}
	if (hex[n] != '\0' || (n != n1 && n != n2)) {
		if (n1 == n2) {
			return fail(err, err_len,
			            "iSCSI name of type \"%s\" must be followed by exactly %zu hex "
			            "digits",
			            type, n1);
		}
		return fail(err, err_len,
		            "iSCSI name of type \"%s\" must be followed by exactly %zu or %zu hex "
		            "digits",
		            type, n1, n2);
	}
	return ok(err, err_len);
}

bool
ftgt_iscsi_name_is_valid(const char *name, char *err, size_t err_len)
{
	size_t len;
	int n;

	if (name == NULL || name[0] == '\0') {
		return fail(err, err_len, "iSCSI name is empty");
	}
	len = strlen(name);
	if (len > FTGT_ISCSI_NAME_MAX_LEN) {
		return fail(err, err_len, "iSCSI name is %zu bytes long; the limit is %d", len,
		            FTGT_ISCSI_NAME_MAX_LEN);
	}
	if (strncmp(name, "eui.", 4) == 0) {
		/* RFC 3720 3.2.6.3.2: an EUI-64 in hex. */
		return check_hex_name(name, "eui.", 16, 16, err, err_len);
	}
	if (strncmp(name, "naa.", 4) == 0) {
		/* RFC 3980: a 64- or 128-bit NAA identifier in hex. */
		return check_hex_name(name, "naa.", 16, 32, err, err_len);
	}
	if (strncmp(name, "iqn.", 4) != 0) {
		if (strncasecmp(name, "iqn.", 4) == 0 || strncasecmp(name, "eui.", 4) == 0 ||
		    strncasecmp(name, "naa.", 4) == 0) {
			return fail(err, err_len,
			            "iSCSI name type must be lower case (\"iqn.\", \"eui.\" or "
			            "\"naa.\")");
		}
		return fail(err, err_len,
		            "iSCSI name must start with \"iqn.\", \"eui.\" or \"naa.\"");
	}
	if (!check_date(name + 4, "iSCSI name", err, err_len)) {
		return false;
	}
	n = check_domain(name + 12, false, "iSCSI name", err, err_len);
	if (n < 0) {
		return false;
	}
	if (name[12 + n] == ':' && !check_iqn_identifier(name, 12 + n + 1, err, err_len)) {
		return false;
	}
	return ok(err, err_len);
}

static int
parse_port(const char *port, uint16_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (port == NULL || port[0] == '\0') {
		return -EINVAL;
	}
	for (i = 0; port[i] != '\0'; i++) {
		if (!is_digit(port[i]) || i >= 5) {
			return -EINVAL;
		}
		v = v * 10 + (uint32_t)(port[i] - '0');
	}
	if (v == 0 || v > 65535) {
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

/* IPv6 text (no brackets), with an optional "%scope" (interface name or index). */
static int
parse_ipv6(const char *addr, size_t len, struct sockaddr_in6 *sin6)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	char *scope;
	unsigned long idx;
	char *end;

	if (len >= sizeof(buf)) {
		return -EINVAL;
	}
	memcpy(buf, addr, len);
	buf[len] = '\0';
	scope = strchr(buf, '%');
	if (scope != NULL) {
		*scope++ = '\0';
		if (scope[0] == '\0') {
			return -EINVAL;
		}
		if (is_digit(scope[0])) {
			idx = 0;
			for (end = scope; *end != '\0'; end++) {
				if (!is_digit(*end) || end - scope >= 10) {
					return -EINVAL;
				}
				idx = idx * 10 + (unsigned long)(*end - '0');
			}
			if (idx == 0 || idx > UINT32_MAX) {
				return -EINVAL;
			}
		} else {
			idx = if_nametoindex(scope);
			if (idx == 0) {
				return -EINVAL;
			}
		}
		sin6->sin6_scope_id = (uint32_t)idx;
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) {
		return -EINVAL;
	}
	sin6->sin6_family = AF_INET6;
	return 0;
}

int
ftgt_parse_ip_port(const char *addr, const char *port, int family_hint, struct sockaddr_storage *ss,
                   socklen_t *len)
{
	struct sockaddr_storage tmp;
	struct sockaddr_in *sin = (struct sockaddr_in *)&tmp;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&tmp;
	size_t alen;
	uint16_t p;

	if (addr == NULL || ss == NULL || parse_port(port, &p) != 0) {
		return -EINVAL;
	}
	if (family_hint != AF_UNSPEC && family_hint != AF_INET && family_hint != AF_INET6) {
		return -EINVAL;
	}
	memset(&tmp, 0, sizeof(tmp));
	alen = strlen(addr);
	if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
		if (family_hint == AF_INET || parse_ipv6(addr + 1, alen - 2, sin6) != 0) {
			return -EINVAL;
		}
	} else if (family_hint != AF_INET6 && inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else if (family_hint == AF_INET || parse_ipv6(addr, alen, sin6) != 0) {
		return -EINVAL;
	}
	if (tmp.ss_family == AF_INET) {
		sin->sin_port = htons(p);
		if (len != NULL) {
			*len = sizeof(*sin);
		}
	} else {
		sin6->sin6_port = htons(p);
		if (len != NULL) {
			*len = sizeof(*sin6);
		}
	}
	*ss = tmp;
	return 0;
}

bool
ftgt_addr_is_local(const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	struct sockaddr_in v4;
	struct ifaddrs *ifas, *ifa;
	bool found = false;

	if (sa == NULL) {
		return false;
	}
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memset(&v4, 0, sizeof(v4));
		v4.sin_family = AF_INET;
		memcpy(&v4.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		return ftgt_addr_is_local((const struct sockaddr *)&v4);
	}
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(sin->sin_addr.s_addr);

		if (a == INADDR_ANY || (a >> 24) == 127) {
			return true;
		}
	} else if (sa->sa_family == AF_INET6) {
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
			return true;
		}
	} else {
		return false;
	}
	if (getifaddrs(&ifas) != 0) {
		return false;
	}
	for (ifa = ifas; ifa != NULL && !found; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != sa->sa_family) {
			continue;
		}
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)ifa->ifa_addr;

			found = a->sin_addr.s_addr == sin->sin_addr.s_addr;
		} else {
			const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ifa->ifa_addr;

			found = memcmp(&a->sin6_addr, &sin6->sin6_addr, sizeof(a->sin6_addr)) ==
			                0 &&
			        (sin6->sin6_scope_id == 0 ||
			         if_nametoindex(ifa->ifa_name) == sin6->sin6_scope_id);
		}
	}
	freeifaddrs(ifas);
	return found;
}

void
ftgt_strcpy_pad(void *dst, const char *src, size_t size, int pad)
{
	size_t n = src == NULL ? 0 : strnlen(src, size);

	memcpy(dst, src == NULL ? "" : src, n);
	memset((char *)dst + n, pad, size - n);
}

size_t
ftgt_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src), n;

	if (size > 0) {
		n = len < size ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

char *
ftgt_strtrim(char *s)
{
	size_t start = 0, end;

	if (s == NULL) {
		return NULL;
	}
	while (is_space(s[start])) {
		start++;
	}
	end = start + strlen(s + start);
	while (end > start && is_space(s[end - 1])) {
		end--;
	}
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
	return s;
}
