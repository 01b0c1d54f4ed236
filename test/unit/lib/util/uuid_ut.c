/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests lib/util/uuid.c: v4/v5 generation, strict parsing, formatting. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "ftgt/uuid.h"

static void
fmt(const struct ftgt_uuid *u, char *buf)
{
	ftgt_uuid_fmt(buf, FTGT_UUID_STRING_LEN, u);
}

static void
test_v5_known_vectors(void)
{
	/* Python: uuid.uuid5(uuid.NAMESPACE_DNS, name), name = "abc...zabc..." of length n. */
	static const struct {
		size_t n;
		const char *uuid;
	} vec[] = {
	        {0, "4ebd0208-8328-5d69-8c44-ec50939c0967"},
	        {1, "4f3f2898-69e3-5a0d-820a-c4e87987dbce"},
	        /* 16 bytes of namespace + n: 55, 56 and 64 bytes straddle SHA-1's padding. */
	        {39, "ee0d9890-1ba2-56e0-b659-23f844815fd9"},
	        {40, "46bceb3c-aaae-5954-9892-6f621aa3a4ed"},
	        {47, "2b63c22b-a996-5c56-b4fb-53cde45a4ec6"},
	        {48, "3f5cb533-5dd5-5364-8e21-118278022f60"},
	        {55, "31330807-59b9-5b5c-885c-7b595b44a9fb"},
	        {56, "f34a01bb-c537-5699-9cb2-528e9de89170"},
	        {63, "530b2040-0105-5d8c-99d7-cce7b77a3402"},
	        {64, "bb2ebc7d-34be-569c-9d49-9e8fd6ea8d14"},
	        {100, "5801f9dc-fb5c-5b66-b30a-fc746892bd4c"},
	        {119, "55ed18c0-69dd-5921-9ee5-b03021044859"},
	        {120, "802c1fab-a4b2-58ff-8118-a28f5d67b3a8"},
	        {1000, "d41daa1f-a2ca-5ff2-ab6d-2720ecdbf6cc"},
	};
	char name[1000], buf[FTGT_UUID_STRING_LEN];
	struct ftgt_uuid u;
	size_t i;

	ftgt_uuid_generate_sha1(&u, &ftgt_uuid_namespace_dns, "python.org", 10);
	fmt(&u, buf);
	CU_ASSERT_STRING_EQUAL(buf, "886313e1-3b8a-5372-9b90-0c9aee199e5d");

	ftgt_uuid_generate_sha1(&u, &ftgt_uuid_namespace_url, "http://python.org/", 18);
	fmt(&u, buf);
	CU_ASSERT_STRING_EQUAL(buf, "4c565f0d-3f5a-5890-b41b-20cf47701c5e");

	for (i = 0; i < sizeof(name); i++) {
		name[i] = (char)('a' + i % 26);
	}
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		ftgt_uuid_generate_sha1(&u, &ftgt_uuid_namespace_dns, name, vec[i].n);
		fmt(&u, buf);
		CU_ASSERT_STRING_EQUAL(buf, vec[i].uuid);
	}
}

static void
test_namespaces(void)
{
	char buf[FTGT_UUID_STRING_LEN];

	fmt(&ftgt_uuid_namespace_dns, buf);
	CU_ASSERT_STRING_EQUAL(buf, "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
	fmt(&ftgt_uuid_namespace_url, buf);
	CU_ASSERT_STRING_EQUAL(buf, "6ba7b811-9dad-11d1-80b4-00c04fd430c8");
}

static void
test_v4(void)
{
	struct ftgt_uuid a, b;
	int i, ones = 0, j;

	for (i = 0; i < 64; i++) {
		ftgt_uuid_generate(&a);
		ftgt_uuid_generate(&b);
		CU_ASSERT_EQUAL(a.u[6] >> 4, 4);
		CU_ASSERT_EQUAL(a.u[8] & 0xc0, 0x80);
		CU_ASSERT(ftgt_uuid_compare(&a, &b) != 0);
		CU_ASSERT(!ftgt_uuid_is_null(&a));
		for (j = 0; j < 16; j++) {
			ones += __builtin_popcount(a.u[j]);
		}
	}
	/* 122 random bits x 64: about 3904 ones; a stuck source would be far off. */
	CU_ASSERT(ones > 3400 && ones < 4400);
}

static void
test_parse_valid(void)
{
	struct ftgt_uuid u, v;
	char buf[FTGT_UUID_STRING_LEN];

	CU_ASSERT_EQUAL(ftgt_uuid_parse(&u, "886313e1-3b8a-5372-9b90-0c9aee199e5d"), 0);
	CU_ASSERT_EQUAL(u.u[0], 0x88);
	CU_ASSERT_EQUAL(u.u[15], 0x5d);
	fmt(&u, buf);
	CU_ASSERT_STRING_EQUAL(buf, "886313e1-3b8a-5372-9b90-0c9aee199e5d");

	/* Case-insensitive; the formatted form is lower case. */
	CU_ASSERT_EQUAL(ftgt_uuid_parse(&v, "886313E1-3B8A-5372-9b90-0C9AEE199E5D"), 0);
	CU_ASSERT_EQUAL(ftgt_uuid_compare(&u, &v), 0);

	CU_ASSERT_EQUAL(ftgt_uuid_parse(&u, "00000000-0000-0000-0000-000000000000"), 0);
	CU_ASSERT(ftgt_uuid_is_null(&u));
	CU_ASSERT_EQUAL(ftgt_uuid_parse(&u, "ffffffff-ffff-ffff-ffff-ffffffffffff"), 0);
	CU_ASSERT(!ftgt_uuid_is_null(&u));
	fmt(&u, buf);
	CU_ASSERT_STRING_EQUAL(buf, "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

static void
test_parse_invalid(void)
{
	static const char *bad[] = {
	        "",
	        "886313e1-3b8a-5372-9b90-0c9aee199e5",           /* short */
	        "886313e1-3b8a-5372-9b90-0c9aee199e5d0",         /* long */
	        "886313e1-3b8a-5372-9b90-0c9aee199e5d ",         /* trailing space */
	        " 886313e1-3b8a-5372-9b90-0c9aee199e5d",         /* leading space */
	        "886313e13b8a53729b900c9aee199e5d",              /* no hyphens */
	        "886313e1-3b8a-5372-9b900c9aee199e5d-",          /* hyphen misplaced */
	        "886313e-13b8a-5372-9b90-0c9aee199e5d",          /* hyphen misplaced */
	        "886313g1-3b8a-5372-9b90-0c9aee199e5d",          /* not hex */
	        "{886313e1-3b8a-5372-9b90-0c9aee199e5d}",        /* braces */
	        "urn:uuid:886313e1-3b8a-5372-9b90-0c9aee199e5d", /* URN */
	        "886313e1-3b8a-5372-9b90-0c9aee199e5\xff",       /* high byte */
	        "+86313e1-3b8a-5372-9b90-0c9aee199e5d",
	        "886313e1_3b8a_5372_9b90_0c9aee199e5d",
	};
	struct ftgt_uuid u, before;
	size_t i;

	memset(&u, 0xab, sizeof(u));
	before = u;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(ftgt_uuid_parse(&u, bad[i]), -EINVAL);
		CU_ASSERT_EQUAL(memcmp(&u, &before, sizeof(u)), 0);
	}
	CU_ASSERT_EQUAL(ftgt_uuid_parse(&u, NULL), -EINVAL);
}

static void
test_fmt_short_buffer(void)
{
	struct ftgt_uuid u;
	char buf[FTGT_UUID_STRING_LEN + 4];

	CU_ASSERT_EQUAL(ftgt_uuid_parse(&u, "886313e1-3b8a-5372-9b90-0c9aee199e5d"), 0);
	memset(buf, 'x', sizeof(buf));
	ftgt_uuid_fmt(buf, 9, &u);
	CU_ASSERT_STRING_EQUAL(buf, "886313e1");
	CU_ASSERT_EQUAL(buf[9], 'x');
	ftgt_uuid_fmt(buf, 0, &u); /* writes nothing */
	CU_ASSERT_STRING_EQUAL(buf, "886313e1");
	ftgt_uuid_fmt(buf, sizeof(buf), &u);
	CU_ASSERT_EQUAL(strlen(buf), FTGT_UUID_STRING_LEN - 1);
}

static void
test_compare(void)
{
	struct ftgt_uuid a, b;

	CU_ASSERT_EQUAL(ftgt_uuid_parse(&a, "00000000-0000-0000-0000-000000000001"), 0);
	CU_ASSERT_EQUAL(ftgt_uuid_parse(&b, "10000000-0000-0000-0000-000000000000"), 0);
	CU_ASSERT(ftgt_uuid_compare(&a, &b) < 0);
	CU_ASSERT(ftgt_uuid_compare(&b, &a) > 0);
	CU_ASSERT(ftgt_uuid_compare(&a, &a) == 0);
	CU_ASSERT(!ftgt_uuid_is_null(&a));
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("uuid", NULL, NULL);
	CU_ADD_TEST(s, test_v5_known_vectors);
	CU_ADD_TEST(s, test_namespaces);
	CU_ADD_TEST(s, test_v4);
	CU_ADD_TEST(s, test_parse_valid);
	CU_ADD_TEST(s, test_parse_invalid);
	CU_ADD_TEST(s, test_fmt_short_buffer);
	CU_ADD_TEST(s, test_compare);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
