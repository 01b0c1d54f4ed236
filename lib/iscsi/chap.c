/* SPDX-License-Identifier: BSD-3-Clause */
/* CHAP (RFC 1994, RFC 7143 12.1.3): MD5 responses and binary value encodings. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "iscsi_internal.h"

int
iscsi_chap_md5(uint8_t id, const char *secret, const uint8_t *challenge, size_t challenge_len,
               uint8_t digest[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	int rc = -EIO;

	if (ctx == NULL) {
		return -ENOMEM;
	}
	/* Response = MD5(identifier || secret || challenge) */
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 && EVP_DigestUpdate(ctx, &id, 1) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestUpdate(ctx, challenge, challenge_len) == 1 &&
	    EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len == 16) {
		rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int
hexval(char c)
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
iscsi_chap_decode(const char *v, uint8_t *out, size_t out_cap)
{
	size_t n = 0, vl = strlen(v), i;

	if (vl > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		v += 2;
		vl -= 2;
		i = 0;
		if (vl % 2) { /* odd number of digits: leading nibble */
			int d = hexval(v[0]);

			if (d < 0 || out_cap < 1) {
				return -EINVAL;
			}
			out[n++] = (uint8_t)d;
			i = 1;
		}
		for (; i < vl; i += 2) {
			int hi = hexval(v[i]), lo = hexval(v[i + 1]);

			if (hi < 0 || lo < 0 || n >= out_cap) {
				return -EINVAL;
			}
			out[n++] = (uint8_t)(hi << 4 | lo);
		}
		return (int)n;
	}
	if (vl > 2 && v[0] == '0' && (v[1] == 'b' || v[1] == 'B')) {
		uint8_t tmp[1024];
		int len;

		v += 2;
		vl -= 2;
		if (vl % 4 != 0 || vl / 4 * 3 > sizeof(tmp)) {
			return -EINVAL;
		}
		len = EVP_DecodeBlock(tmp, (const unsigned char *)v, (int)vl);
		if (len < 0) {
			return -EINVAL;
		}
		if (vl >= 1 && v[vl - 1] == '=') {
			len--;
		}
		if (vl >= 2 && v[vl - 2] == '=') {
			len--;
		}
		if ((size_t)len > out_cap) {
			return -EINVAL;
		}
		memcpy(out, tmp, (size_t)len);
		return len;
	}
	return -EINVAL;
}

void
iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	size_t i;

	if (out_cap < 3 + 2 * len) {
		out[0] = '\0';
		return;
	}
	out[0] = '0';
	out[1] = 'x';
	for (i = 0; i < len; i++) {
		snprintf(out + 2 + 2 * i, 3, "%02x", in[i]);
	}
}
