/* SPDX-License-Identifier: BSD-3-Clause */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "../../../../lib/iscsi/iscsi_internal.h"

static uint8_t g_out_buf[4096];

static void
setup(struct iscsi_negotiation *neg, struct iscsi_text_out *out)
{
	memset(neg, 0, sizeof(*neg));
	iscsi_sess_params_init_defaults(&neg->params);
	iscsi_sess_params_init_defaults(&neg->target_limits);
	neg->target_limits.max_connections = 4;
	neg->target_limits.max_burst_len = 1048576;
	neg->target_limits.first_burst_len = 65536;
	neg->target_limits.max_outstanding_r2t = 16;
	neg->target_limits.initial_r2t = false;
	neg->target_limits.immediate_data = true;
	neg->allow_header_digest = true;
	neg->allow_data_digest = true;
	memset(out, 0, sizeof(*out));
	out->buf = g_out_buf;
	out->cap = sizeof(g_out_buf);
}

/* Find key in response text; returns value or NULL. */
static const char *
rsp_value(const struct iscsi_text_out *out, const char *key)
{
	uint32_t pos = 0, kl, vl;
	const char *k, *v;
	static char val[256];

	while (iscsi_text_next(out->buf, out->len, &pos, &k, &kl, &v, &vl) == 1) {
		if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
			memcpy(val, v, vl);
			val[vl] = '\0';
			return val;
		}
	}
	return NULL;
}

#define TEXT(s) (const uint8_t *)(s), (uint32_t)(sizeof(s) - 1)

static void
test_operational_keys(void)
{
	struct iscsi_negotiation neg;
	struct iscsi_text_out out;

	setup(&neg, &out);
	CU_ASSERT_EQUAL(
	        iscsi_negotiate(
	                &neg,
	                TEXT("InitiatorName=iqn.2000-01.com.x:i\0"
	                     "SessionType=Normal\0TargetName=iqn.2000-01.com.x:t\0"
	                     "MaxConnections=8\0InitialR2T=No\0ImmediateData=Yes\0"
	                     "MaxRecvDataSegmentLength=262144\0MaxBurstLength=16776192\0"
	                     "FirstBurstLength=262144\0DefaultTime2Wait=0\0"
	                     "DefaultTime2Retain=0\0MaxOutstandingR2T=1\0"
	                     "DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0"
	                     "ErrorRecoveryLevel=2\0HeaderDigest=CRC32C,None\0"
	                     "DataDigest=None,CRC32C\0IFMarker=No\0OFMarker=No\0X-com.foo=1\0"),
	                &out),
	        0);
	CU_ASSERT_STRING_EQUAL(neg.initiator_name, "iqn.2000-01.com.x:i");
	CU_ASSERT(neg.target_name_given);
	CU_ASSERT(!neg.discovery);
	CU_ASSERT_EQUAL(neg.params.max_connections, 4);
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "MaxConnections"), "4");
	CU_ASSERT_EQUAL(neg.params.initial_r2t, false);
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "InitialR2T"), "No");
	CU_ASSERT_EQUAL(neg.params.immediate_data, true);
	CU_ASSERT_EQUAL(neg.params.initiator_max_recv_dsl, 262144);
	CU_ASSERT_PTR_NULL(rsp_value(&out, "MaxRecvDataSegmentLength")); /* declarative */
	CU_ASSERT_EQUAL(neg.params.max_burst_len, 1048576);
	/* FirstBurst: min(262144, 65536) */
	CU_ASSERT_EQUAL(neg.params.first_burst_len, 65536);
	CU_ASSERT_EQUAL(neg.params.default_time2wait, 2); /* max */
	CU_ASSERT_EQUAL(neg.params.default_time2retain, 0);
	CU_ASSERT_EQUAL(neg.params.error_recovery_level, 0);
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "ErrorRecoveryLevel"), "0");
	CU_ASSERT(neg.params.header_digest);
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "HeaderDigest"), "CRC32C");
	CU_ASSERT(!neg.params.data_digest);
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "DataDigest"), "None");
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "IFMarker"), "No");
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "X-com.foo"), "NotUnderstood");
}

static void
test_bad_values(void)
{
	struct iscsi_negotiation neg;
	struct iscsi_text_out out;

	setup(&neg, &out);
	CU_ASSERT_EQUAL(iscsi_negotiate(&neg,
	                                TEXT("MaxBurstLength=100\0InitialR2T=Maybe\0"
	                                     "HeaderDigest=MD5\0MaxConnections=abc\0"),
	                                &out),
	                0);
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "MaxBurstLength"), "Reject");
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "InitialR2T"), "Reject");
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "HeaderDigest"), "Reject");
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "MaxConnections"), "Reject");
	CU_ASSERT_EQUAL(neg.params.max_burst_len, 262144);

	setup(&neg, &out);
	CU_ASSERT_EQUAL(iscsi_negotiate(&neg, TEXT("TargetAddress=1.2.3.4\0"), &out), -EINVAL);
	setup(&neg, &out);
	CU_ASSERT_EQUAL(iscsi_negotiate(&neg, TEXT("SessionType=Weird\0"), &out), -EINVAL);
	setup(&neg, &out);
	CU_ASSERT_EQUAL(iscsi_negotiate(&neg, TEXT("NoEqualsSign\0"), &out), -EINVAL);
}

static void
test_digest_disallowed_and_discovery(void)
{
	struct iscsi_negotiation neg;
	struct iscsi_text_out out;

	setup(&neg, &out);
	neg.allow_data_digest = false;
	CU_ASSERT_EQUAL(iscsi_negotiate(&neg,
	                                TEXT("SessionType=Discovery\0DataDigest=CRC32C,None\0"
	                                     "MaxBurstLength=4096\0InitialR2T=Yes\0"),
	                                &out),
	                0);
	CU_ASSERT(neg.discovery);
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "DataDigest"), "None");
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "MaxBurstLength"), "Irrelevant");
	CU_ASSERT_STRING_EQUAL(rsp_value(&out, "InitialR2T"), "Irrelevant");
}

static void
test_overflow(void)
{
	struct iscsi_negotiation neg;
	struct iscsi_text_out out;
	uint8_t small[8];

	setup(&neg, &out);
	out.buf = small;
	out.cap = sizeof(small);
	CU_ASSERT_EQUAL(iscsi_negotiate(&neg, TEXT("MaxConnections=1\0"), &out), -ENOSPC);
	CU_ASSERT(out.len <= sizeof(small));
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("iscsi_param", NULL, NULL);
	CU_ADD_TEST(s, test_operational_keys);
	CU_ADD_TEST(s, test_bad_values);
	CU_ADD_TEST(s, test_digest_disallowed_and_discovery);
	CU_ADD_TEST(s, test_overflow);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
