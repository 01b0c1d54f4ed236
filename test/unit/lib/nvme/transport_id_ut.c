/* SPDX-License-Identifier: BSD-3-Clause */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "ftgt/nvme.h"

static void
test_parse_full(void)
{
	struct ftgt_nvme_transport_id t;
	char err[256];
	char buf[512];

	CU_ASSERT_EQUAL(
	        ftgt_nvme_transport_id_parse(&t,
	                                     "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 "
	                                     "trsvcid:4420 subnqn:nqn.2016-06.io.spdk:cnode1",
	                                     err, sizeof(err)),
	        0);
	CU_ASSERT_EQUAL(err[0], '\0');
	CU_ASSERT_EQUAL(t.trtype, NVMF_TRTYPE_TCP);
	CU_ASSERT_EQUAL(t.adrfam, NVMF_ADRFAM_IPV4);
	CU_ASSERT_STRING_EQUAL(t.traddr, "127.0.0.1");
	CU_ASSERT_STRING_EQUAL(t.trsvcid, "4420");
	CU_ASSERT_STRING_EQUAL(t.subnqn, "nqn.2016-06.io.spdk:cnode1");
	CU_ASSERT_EQUAL(t.nsid, 0);
	CU_ASSERT_STRING_EQUAL(ftgt_nvme_transport_id_str(&t, buf, sizeof(buf)),
	                       "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:4420 "
	                       "subnqn:nqn.2016-06.io.spdk:cnode1");
}

static void
test_parse_defaults_and_forms(void)
{
	struct ftgt_nvme_transport_id t;

	/* '=' separators, upper-case keys, tabs; defaults for adrfam, trsvcid, subnqn. */
	CU_ASSERT_EQUAL(
	        ftgt_nvme_transport_id_parse(&t, "  TRTYPE=TCP\ttraddr=127.0.0.1  ", NULL, 0), 0);
	CU_ASSERT_EQUAL(t.adrfam, NVMF_ADRFAM_IPV4);
	CU_ASSERT_STRING_EQUAL(t.trsvcid, "4420");
	CU_ASSERT_STRING_EQUAL(t.subnqn, "nqn.2014-08.org.nvmexpress.discovery");
	/* IPv6 keeps its colons; adrfam is inferred. */
	CU_ASSERT_EQUAL(ftgt_nvme_transport_id_parse(&t, "trtype:tcp traddr:::1 trsvcid:4421 ns:2",
	                                             NULL, 0),
	                0);
	CU_ASSERT_EQUAL(t.adrfam, NVMF_ADRFAM_IPV6);
	CU_ASSERT_STRING_EQUAL(t.traddr, "::1");
	CU_ASSERT_STRING_EQUAL(t.trsvcid, "4421");
	CU_ASSERT_EQUAL(t.nsid, 2);
	CU_ASSERT_EQUAL(
	        ftgt_nvme_transport_id_parse(
	                &t, "trtype:tcp traddr:127.0.0.1 hostnqn:nqn.2026-01.io.ftgt:h1", NULL, 0),
	        0);
	CU_ASSERT_STRING_EQUAL(t.hostnqn, "nqn.2026-01.io.ftgt:h1");
}

static void
expect_bad(const char *str, const char *needle)
{
	struct ftgt_nvme_transport_id t;
	char err[256];

	memset(err, 0, sizeof(err));
	CU_ASSERT_EQUAL(ftgt_nvme_transport_id_parse(&t, str, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	if (strstr(err, needle) == NULL) {
		printf("\n  '%s' -> '%s' (wanted '%s')\n", str, err, needle);
	}
}

static void
test_parse_bad(void)
{
	expect_bad("", "trtype is missing");
	expect_bad("traddr:127.0.0.1", "trtype is missing");
	expect_bad("trtype:tcp", "traddr is missing");
	expect_bad("trtype:rdma traddr:127.0.0.1", "trtype 'rdma' is not supported");
	expect_bad("trtype:tcp traddr:localhost", "traddr 'localhost' is not a numeric IP");
	expect_bad("trtype:tcp adrfam:ipv6 traddr:127.0.0.1", "not a numeric IPv6");
	expect_bad("trtype:tcp adrfam:ib traddr:127.0.0.1", "adrfam 'ib'");
	expect_bad("trtype:tcp traddr:127.0.0.1 trsvcid:0", "trsvcid '0'");
	expect_bad("trtype:tcp traddr:127.0.0.1 trsvcid:65536", "trsvcid '65536'");
	expect_bad("trtype:tcp traddr:127.0.0.1 trsvcid:-1", "trsvcid '-1'");
	expect_bad("trtype:tcp traddr:127.0.0.1 trsvcid:44x", "trsvcid '44x'");
	expect_bad("trtype:tcp traddr:127.0.0.1 subnqn:foo", "subnqn 'foo' is invalid");
	expect_bad("trtype:tcp traddr:127.0.0.1 color:blue", "unknown key 'color'");
	expect_bad("trtype:tcp traddr:127.0.0.1 garbage", "'garbage' is not key:value");
	expect_bad("trtype:tcp traddr: ", "'traddr' has an empty value");
	expect_bad("trtype:tcp trtype:tcp traddr:127.0.0.1", "'trtype' is given twice");
	expect_bad("trtype:tcp traddr:127.0.0.1 ns:0", "ns '0'");
	expect_bad(NULL, "empty");
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("nvme_transport_id", NULL, NULL);
	CU_add_test(s, "parse_full", test_parse_full);
	CU_add_test(s, "parse_defaults_and_forms", test_parse_defaults_and_forms);
	CU_add_test(s, "parse_bad", test_parse_bad);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
