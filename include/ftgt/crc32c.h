/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the digest of iSCSI (RFC 7143
 * 13.1) and NVMe/TCP (HDGST/DDGST). Computed by ISA-L with the CPU's CRC32 instruction
 * where there is one.
 *
 * Convention: ftgt_crc32c_update() and ftgt_crc32c_iov() advance the raw CRC register and
 * neither invert nor finalise, so pieces chain. A digest is
 *
 *	crc = FTGT_CRC32C_INIT;
 *	crc = ftgt_crc32c_update(hdr, hdr_len, crc);
 *	crc = ftgt_crc32c_iov(iov, iovcnt, crc);
 *	digest = crc ^ FTGT_CRC32C_XOR;
 *
 * which equals ftgt_crc32c() over the concatenated bytes (the standard CRC-32C: "123456789"
 * gives 0xE3069283). iSCSI and NVMe/TCP both put the digest on the wire little-endian
 * (ftgt_cpu_to_le32()).
 *
 * Pure functions: any thread, no allocation.
 */
#ifndef FTGT_CRC32C_H
#define FTGT_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define FTGT_CRC32C_INIT 0xffffffffu /* register value before the first byte */
#define FTGT_CRC32C_XOR  0xffffffffu /* xor applied to the register to get the CRC */

/* Feed len bytes of buf into the CRC register crc; returns the new register. */
uint32_t ftgt_crc32c_update(const void *buf, size_t len, uint32_t crc);

/* ftgt_crc32c_update() over each element of iov in order (iovcnt <= 0: crc unchanged). */
uint32_t ftgt_crc32c_iov(const struct iovec *iov, int iovcnt, uint32_t crc);

/* The standard one-shot CRC-32C of buf (initial ~0, final xor ~0). */
uint32_t ftgt_crc32c(const void *buf, size_t len);

#endif /* FTGT_CRC32C_H */
