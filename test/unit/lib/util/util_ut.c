/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests lib/util/util.c: core masks and sizes as users type them. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "ftgt/util.h"

static void
test_core_mask_hex(void)
{
	uint64_t m = 0;

	CU_ASSERT_EQUAL(ftgt_parse_core_mask("0x3", &m), 0);
	CU_ASSERT_EQUAL(m, 0x3);
	CU_ASSERT_EQUAL(ftgt_parse_core_mask("3", &m), 0);
	CU_ASSERT_EQUAL(m, 0x3);
	CU_ASSERT_EQUAL(ftgt_parse_core_mask("0xF0", &m), 0);
	CU_ASSERT_EQUAL(m, 0xF0);
}

static void
test_core_mask_list(void)
{
	uint64_t m = 0;

	CU_ASSERT_EQUAL(ftgt_parse_core_mask("[0,2-3]", &m), 0);
	CU_ASSERT_EQUAL(m, 0xD);
	CU_ASSERT_EQUAL(ftgt_parse_core_mask("1-2", &m), 0);
	CU_ASSERT_EQUAL(m, 0x6);
	CU_ASSERT_EQUAL(ftgt_parse_core_mask("[63]", &m), 0);
	CU_ASSERT_EQUAL(m, 1ULL << 63);
}

static void
test_core_mask_invalid(void)
{
	static const char *bad[] = {"",     "0",  "0x0", "0xZ",    "[",    "[]",  "[1-0]",
	                            "[64]", "1,", "-1",  "[1,,2]", "0x3 ", "[a]", "1-"};
	uint64_t m = 42;

	for (size_t i = 0; i < FTGT_COUNTOF(bad); i++) {
		CU_ASSERT_EQUAL(ftgt_parse_core_mask(bad[i], &m), -EINVAL);
	}
	CU_ASSERT_EQUAL(ftgt_parse_core_mask(NULL, &m), -EINVAL);
	CU_ASSERT_EQUAL(m, 42);
}

static void
test_parse_size(void)
{
	uint64_t b = 0;

	CU_ASSERT_EQUAL(ftgt_parse_size("512", &b), 0);
	CU_ASSERT_EQUAL(b, 512);
	CU_ASSERT_EQUAL(ftgt_parse_size("4K", &b), 0);
	CU_ASSERT_EQUAL(b, 4096);
	CU_ASSERT_EQUAL(ftgt_parse_size("64MiB", &b), 0);
	CU_ASSERT_EQUAL(b, 64ULL << 20);
	CU_ASSERT_EQUAL(ftgt_parse_size("2g", &b), 0);
	CU_ASSERT_EQUAL(b, 2ULL << 30);
	CU_ASSERT_EQUAL(ftgt_parse_size("1TB", &b), 0);
	CU_ASSERT_EQUAL(b, 1ULL << 40);
	CU_ASSERT_EQUAL(ftgt_parse_size("", &b), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_parse_size("-1", &b), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_parse_size("4X", &b), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_parse_size("4KBx", &b), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_parse_size("99999999999999999999", &b), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_parse_size("16777216T", &b), -EINVAL);
}

static void
test_endian(void)
{
	uint8_t wire[4] = {0x12, 0x34, 0x56, 0x78};
	ftgt_be32 be;
	ftgt_le32 le;

	memcpy(&be, wire, 4);
	memcpy(&le, wire, 4);
	CU_ASSERT_EQUAL(ftgt_be32_to_cpu(be), 0x12345678);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(le), 0x78563412);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(ftgt_cpu_to_le16(0xBEEF)), 0xBEEF);
	CU_ASSERT_EQUAL(ftgt_be64_to_cpu(ftgt_cpu_to_be64(0x0102030405060708ULL)),
	                0x0102030405060708ULL);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("util", NULL, NULL);
	CU_ADD_TEST(s, test_core_mask_hex);
	CU_ADD_TEST(s, test_core_mask_list);
	CU_ADD_TEST(s, test_core_mask_invalid);
	CU_ADD_TEST(s, test_parse_size);
	CU_ADD_TEST(s, test_endian);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
