/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests lib/util/crc32c.c: standard check values, chaining, iovecs, vs a bitwise reference. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ftgt/crc32c.h"

/* Bit-at-a-time CRC-32C, straight from the definition (reflected 0x1EDC6F41). */
static uint32_t
ref_crc32c(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (b = 0; b < 8; b++) {
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
		}
	}
	return crc ^ 0xffffffffu;
}

static uint64_t g_rng = 0x0123456789abcdefull;

static uint32_t
rng_next(void)
{
	g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(g_rng >> 33);
}

static void
test_check_value(void)
{
	CU_ASSERT_EQUAL(ftgt_crc32c("123456789", 9), 0xe3069283u);
	CU_ASSERT_EQUAL(ref_crc32c((const uint8_t *)"123456789", 9), 0xe3069283u);
	/* The register form: seed ~0, xor ~0 at the end. */
	CU_ASSERT_EQUAL(ftgt_crc32c_update("123456789", 9, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR,
	                0xe3069283u);
	CU_ASSERT_EQUAL(ftgt_crc32c("", 0), 0);
	CU_ASSERT_EQUAL(ftgt_crc32c_update(NULL, 0, 0x12345678u), 0x12345678u);
}

static void
test_rfc3720_vectors(void)
{
	/* RFC 3720 B.4 (the RFC lists the digest bytes as sent, little-endian). */
	uint8_t buf[32];
	int i;

	memset(buf, 0, sizeof(buf));
	CU_ASSERT_EQUAL(ftgt_crc32c(buf, sizeof(buf)), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	CU_ASSERT_EQUAL(ftgt_crc32c(buf, sizeof(buf)), 0x62a8ab43u);
	for (i = 0; i < 32; i++) {
		buf[i] = (uint8_t)i;
	}
	CU_ASSERT_EQUAL(ftgt_crc32c(buf, sizeof(buf)), 0x46dd794eu);
	for (i = 0; i < 32; i++) {
		buf[i] = (uint8_t)(31 - i);
	}
	CU_ASSERT_EQUAL(ftgt_crc32c(buf, sizeof(buf)), 0x113fdb5cu);
}

static void
test_incremental(void)
{
	uint8_t buf[4096 + 64];
	uint32_t one, crc;
	size_t i, split, off;

	for (i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)rng_next();
	}
	one = ftgt_crc32c(buf, sizeof(buf));
	for (split = 0; split <= sizeof(buf); split += 97) {
		crc = ftgt_crc32c_update(buf, split, FTGT_CRC32C_INIT);
		crc = ftgt_crc32c_update(buf + split, sizeof(buf) - split, crc);
		CU_ASSERT_EQUAL(crc ^ FTGT_CRC32C_XOR, one);
	}
	/* Byte by byte. */
	crc = FTGT_CRC32C_INIT;
	for (off = 0; off < sizeof(buf); off++) {
		crc = ftgt_crc32c_update(buf + off, 1, crc);
	}
	CU_ASSERT_EQUAL(crc ^ FTGT_CRC32C_XOR, one);
}

static void
test_iov(void)
{
	uint8_t buf[8192];
	struct iovec iov[16];
	uint32_t one;
	size_t off, i;
	int n, round;

	for (i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)rng_next();
	}
	for (round = 0; round < 200; round++) {
		/* Random cuts, including empty elements, of a random-length prefix. */
		size_t len = rng_next() % sizeof(buf);

		off = 0;
		for (n = 0; n < 16 && off < len; n++) {
			size_t l = n == 15 ? len - off : rng_next() % (len - off + 1);

			if (rng_next() % 8 == 0) {
				l = 0;
			}
			iov[n].iov_base = buf + off;
			iov[n].iov_len = l;
			off += l;
		}
		one = ftgt_crc32c(buf, off);
		CU_ASSERT_EQUAL(ftgt_crc32c_iov(iov, n, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR, one);
	}
	/* Chained after a header, as a PDU digest over header + data would be. */
	iov[0].iov_base = buf + 100;
	iov[0].iov_len = 1000;
	iov[1].iov_base = buf + 1100;
	iov[1].iov_len = 0;
	iov[2].iov_base = buf + 1100;
	iov[2].iov_len = 3;
	CU_ASSERT_EQUAL(ftgt_crc32c_iov(iov, 3, ftgt_crc32c_update(buf, 100, FTGT_CRC32C_INIT)) ^
	                        FTGT_CRC32C_XOR,
	                ftgt_crc32c(buf, 1103));
	CU_ASSERT_EQUAL(ftgt_crc32c_iov(iov, 0, 0xabcdef01u), 0xabcdef01u);
	CU_ASSERT_EQUAL(ftgt_crc32c_iov(NULL, 0, 0xabcdef01u), 0xabcdef01u);
}

static void
test_random_vs_reference(void)
{
	uint8_t *buf = malloc(70000);
	int round;
	size_t i;

	CU_ASSERT_FATAL(buf != NULL);
	for (i = 0; i < 70000; i++) {
		buf[i] = (uint8_t)rng_next();
	}
	/* All lengths 0..300 at every alignment 0..15, then larger odd sizes. */
	for (i = 0; i <= 300; i++) {
		size_t align = i % 16;

		CU_ASSERT_EQUAL(ftgt_crc32c(buf + align, i), ref_crc32c(buf + align, i));
	}
	for (round = 0; round < 40; round++) {
		size_t off = rng_next() % 64, len = rng_next() % (70000 - 64);

		CU_ASSERT_EQUAL(ftgt_crc32c(buf + off, len), ref_crc32c(buf + off, len));
	}
	free(buf);
}

static void
test_over_int_max_pieces(void)
{
	/* Past ISA-L's int length: 1 GiB + 5 bytes of zero pages cost no memory. */
	size_t len = (1ull << 30) + 4096 + 5;
	uint8_t *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint32_t whole, parts;
	size_t third = len / 3;

	if (p == MAP_FAILED) {
		return;
	}
	whole = ftgt_crc32c_update(p, len, FTGT_CRC32C_INIT);
	parts = ftgt_crc32c_update(p, third, FTGT_CRC32C_INIT);
	parts = ftgt_crc32c_update(p + third, third, parts);
	parts = ftgt_crc32c_update(p + 2 * third, len - 2 * third, parts);
	CU_ASSERT_EQUAL(whole, parts);
	/* Zeros still change the register: a dropped piece would show. */
	CU_ASSERT_NOT_EQUAL(whole, ftgt_crc32c_update(p, len - 1, FTGT_CRC32C_INIT));
	munmap(p, len);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("crc32c", NULL, NULL);
	CU_ADD_TEST(s, test_check_value);
	CU_ADD_TEST(s, test_rfc3720_vectors);
	CU_ADD_TEST(s, test_incremental);
	CU_ADD_TEST(s, test_iov);
	CU_ADD_TEST(s, test_random_vs_reference);
	CU_ADD_TEST(s, test_over_int_max_pieces);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
