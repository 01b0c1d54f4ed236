/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C over ISA-L. crc32_iscsi(buf, len, reg) is the raw register update: it neither
 * inverts the seed nor the result (crc32_iscsi("123456789", 9, ~0) == ~0xE3069283), which
 * is exactly ftgt_crc32c_update(). Its length is an int, so longer buffers go in pieces.
 */
#include <isa-l/crc.h>

#include "ftgt/crc32c.h"

#define CRC32C_CHUNK_BYTES (1u << 30)

uint32_t
ftgt_crc32c_update(const void *buf, size_t len, uint32_t crc)
{
	/* ISA-L takes a non-const pointer but only reads. */
	unsigned char *p = (unsigned char *)(uintptr_t)buf;
	size_t n;

	while (len > 0) {
		n = len < CRC32C_CHUNK_BYTES ? len : CRC32C_CHUNK_BYTES;
		crc = crc32_iscsi(p, (int)n, crc);
		p += n;
		len -= n;
	}
	return crc;
}

uint32_t
ftgt_crc32c_iov(const struct iovec *iov, int iovcnt, uint32_t crc)
{
	int i;

	for (i = 0; i < iovcnt; i++) {
		crc = ftgt_crc32c_update(iov[i].iov_base, iov[i].iov_len, crc);
	}
	return crc;
}

uint32_t
ftgt_crc32c(const void *buf, size_t len)
{
	return ftgt_crc32c_update(buf, len, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR;
}
