/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 4122 UUIDs. Version 5 needs SHA-1; the small implementation below (FIPS 180-4)
 * saves linking libcrypto for one hash of a few dozen bytes at configuration time.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/uuid.h"

const struct ftgt_uuid ftgt_uuid_namespace_dns = {{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                                   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};
const struct ftgt_uuid ftgt_uuid_namespace_url = {{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                                   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};

struct sha1_ctx {
	uint32_t h[5];
	uint64_t len_bytes;
	uint8_t block[64];
	size_t fill;
};

static inline uint32_t
rol32(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_init(struct sha1_ctx *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->h[4] = 0xc3d2e1f0;
	c->len_bytes = 0;
	c->fill = 0;
}

static void
sha1_block(struct sha1_ctx *c, const uint8_t *p)
{
	uint32_t w[80], a, b, d, e, f, k, t, cc;
	int i;

	for (i = 0; i < 16; i++) {
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	}
	for (i = 16; i < 80; i++) {
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	}
	a = c->h[0];
	b = c->h[1];
	cc = c->h[2];
	d = c->h[3];
	e = c->h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & cc) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ cc ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & cc) | (b & d) | (cc & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ cc ^ d;
			k = 0xca62c1d6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = cc;
		cc = rol32(b, 30);
		b = a;
		a = t;
	}
	c->h[0] += a;
	c->h[1] += b;
	c->h[2] += cc;
	c->h[3] += d;
	c->h[4] += e;
}

static void
sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t n;

	c->len_bytes += len;
	while (len > 0) {
		n = 64 - c->fill;
		if (n > len) {
			n = len;
		}
		memcpy(c->block + c->fill, p, n);
		c->fill += n;
		p += n;
		len -= n;
		if (c->fill == 64) {
			sha1_block(c, c->block);
			c->fill = 0;
		}
	}
}

static void
sha1_final(struct sha1_ctx *c, uint8_t digest[20])
{
	uint64_t bits = c->len_bytes * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (c->fill < 56 ? 56 : 120) - c->fill;
	int i;

	for (i = 0; i < 8; i++) {
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	}
	sha1_update(c, pad, padlen + 8);
	for (i = 0; i < 20; i++) {
		digest[i] = (uint8_t)(c->h[i / 4] >> (24 - 8 * (i % 4)));
	}
}

static void
uuid_set_version(struct ftgt_uuid *uuid, uint8_t version)
{
	/* RFC 4122 4.1.3: version in the top nibble of time_hi; 4.1.1: variant 10x. */
	uuid->u[6] = (uint8_t)((uuid->u[6] & 0x0f) | (version << 4));
	uuid->u[8] = (uint8_t)((uuid->u[8] & 0x3f) | 0x80);
}

/* Last resort when neither getrandom(2) nor /dev/urandom works (seccomp, no /dev). */
static void
fill_weak_random(uint8_t *buf, size_t len)
{
	static uint64_t counter;
	struct timespec ts;
	uint64_t x;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	x ^= (uint64_t)getpid() << 32 ^ (uintptr_t)buf ^
	     __atomic_add_fetch(&counter, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
	for (i = 0; i < len; i++) {
		/* splitmix64 */
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		buf[i] = (uint8_t)(z ^ (z >> 31));
	}
}

static void
fill_random(uint8_t *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	while (got < len) {
		n = getrandom(buf + got, len - got, 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
	if (got == len) {
		return;
	}
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (got < len) {
			n = read(fd, buf + got, len - got);
			if (n < 0 && errno == EINTR) {
				continue;
			}
			if (n <= 0) {
				break;
			}
			got += (size_t)n;
		}
		close(fd);
	}
	if (got < len) {
		fill_weak_random(buf + got, len - got);
	}
}

void
ftgt_uuid_generate(struct ftgt_uuid *uuid)
{
	fill_random(uuid->u, sizeof(uuid->u));
	uuid_set_version(uuid, 4);
}

void
ftgt_uuid_generate_sha1(struct ftgt_uuid *uuid, const struct ftgt_uuid *ns, const char *name,
                        size_t len)
{
	struct sha1_ctx c;
	uint8_t digest[20];

	/* RFC 4122 4.3: hash the namespace ID (network byte order, as stored) then the name. */
	sha1_init(&c);
	sha1_update(&c, ns->u, sizeof(ns->u));
	sha1_update(&c, name, len);
	sha1_final(&c, digest);
	memcpy(uuid->u, digest, sizeof(uuid->u));
	uuid_set_version(uuid, 5);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
ftgt_uuid_parse(struct ftgt_uuid *uuid, const char *str)
{
	struct ftgt_uuid tmp;
	int i, hi, lo, pos = 0;

	if (str == NULL) {
		return -EINVAL;
	}
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (str[pos] != '-') {
				return -EINVAL;
			}
			pos++;
		}
		/* A NUL fails hex_value(), so a short string never reads past its end. */
		hi = hex_value(str[pos]);
		if (hi < 0) {
			return -EINVAL;
		}
		lo = hex_value(str[pos + 1]);
		if (lo < 0) {
			return -EINVAL;
		}
		tmp.u[i] = (uint8_t)(hi << 4 | lo);
		pos += 2;
	}
	if (str[pos] != '\0') {
		return -EINVAL;
	}
	*uuid = tmp;
	return 0;
}

void
ftgt_uuid_fmt(char *buf, size_t len, const struct ftgt_uuid *uuid)
{
	static const char hex[] = "0123456789abcdef";
	char s[FTGT_UUID_STRING_LEN];
	size_t pos = 0;
	int i;

	if (len == 0) {
		return;
	}
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			s[pos++] = '-';
		}
		s[pos++] = hex[uuid->u[i] >> 4];
		s[pos++] = hex[uuid->u[i] & 0xf];
	}
	s[pos] = '\0';
	if (len > sizeof(s)) {
		len = sizeof(s);
	}
	memcpy(buf, s, len - 1);
	buf[len - 1] = '\0';
}

int
ftgt_uuid_compare(const struct ftgt_uuid *a, const struct ftgt_uuid *b)
{
	return memcmp(a->u, b->u, sizeof(a->u));
}

bool
ftgt_uuid_is_null(const struct ftgt_uuid *uuid)
{
	static const struct ftgt_uuid nil;

	return memcmp(uuid->u, nil.u, sizeof(nil.u)) == 0;
}
