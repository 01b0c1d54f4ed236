/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of lib/rpc/decode.c: every type, missing/unknown/wrong-type fields, messages. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"

/* decode.c answers through ftgt_rpc_send_error(); record what it said. */
static int g_err_code;
static char g_err_msg[512];

void
ftgt_rpc_send_error(struct ftgt_rpc_request *req, int code, const char *fmt, ...)
{
	va_list ap;

	g_err_code = code;
	va_start(ap, fmt);
	vsnprintf(g_err_msg, sizeof(g_err_msg), fmt, ap);
	va_end(ap);
}

struct all_types {
	char *s;
	bool b;
	int32_t i32;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	double d;
	json_t *j;
};

static const struct ftgt_rpc_field g_fields[] = {
        {"s", FTGT_RPC_STRING, offsetof(struct all_types, s), false},
        {"b", FTGT_RPC_BOOL, offsetof(struct all_types, b), false},
        {"i32", FTGT_RPC_INT32, offsetof(struct all_types, i32), true},
        {"u16", FTGT_RPC_UINT16, offsetof(struct all_types, u16), true},
        {"u32", FTGT_RPC_UINT32, offsetof(struct all_types, u32), true},
        {"u64", FTGT_RPC_UINT64, offsetof(struct all_types, u64), true},
        {"d", FTGT_RPC_DOUBLE, offsetof(struct all_types, d), true},
        {"j", FTGT_RPC_JSON, offsetof(struct all_types, j), true},
};
#define NFIELDS (sizeof(g_fields) / sizeof(g_fields[0]))

/* Decode `text`; returns rc and leaves the message in err. */
static int
decode_text(const char *text, struct all_types *out, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *params = json_loads(text, 0, &jerr);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(params);
	memset(out, 0, sizeof(*out));
	rc = ftgt_rpc_decode(params, g_fields, NFIELDS, out, err, err_len);
	json_decref(params);
	return rc;
}

static void
test_decode_all_types(void)
{
	struct all_types o;
	char err[256];

	CU_ASSERT_EQUAL(decode_text("{\"s\":\"abc\",\"b\":true,\"i32\":-5,\"u16\":65535,"
	                            "\"u32\":4294967295,\"u64\":9223372036854775807,\"d\":1.5,"
	                            "\"j\":{\"x\":[1,2]}}",
	                            &o, err, sizeof(err)),
	                0);
	CU_ASSERT_STRING_EQUAL(o.s, "abc");
	CU_ASSERT_TRUE(o.b);
	CU_ASSERT_EQUAL(o.i32, -5);
	CU_ASSERT_EQUAL(o.u16, 65535);
	CU_ASSERT_EQUAL(o.u32, 4294967295u);
	CU_ASSERT_EQUAL(o.u64, 9223372036854775807ull);
	CU_ASSERT_DOUBLE_EQUAL(o.d, 1.5, 1e-9);
	CU_ASSERT_TRUE(json_is_object(o.j));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(o.j, "x")), 2);
	ftgt_rpc_decode_free(g_fields, NFIELDS, &o);
	CU_ASSERT_PTR_NULL(o.s);
	CU_ASSERT_PTR_NULL(o.j);

	/* An integer is a valid number; optional fields may be absent or null. */
	CU_ASSERT_EQUAL(
	        decode_text("{\"s\":\"\",\"b\":false,\"d\":3,\"u32\":null}", &o, err, sizeof(err)),
	        0);
	CU_ASSERT_DOUBLE_EQUAL(o.d, 3.0, 1e-9);
	CU_ASSERT_EQUAL(o.u32, 0);
	ftgt_rpc_decode_free(g_fields, NFIELDS, &o);
}

static void
expect_error(const char *text, const char *msg)
{
	struct all_types o;
	char err[256];

	CU_ASSERT_EQUAL(decode_text(text, &o, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, msg);
	/* Nothing stays allocated on error (LeakSanitizer checks the rest). */
	CU_ASSERT_PTR_NULL(o.s);
	CU_ASSERT_PTR_NULL(o.j);
}

static void
test_decode_errors(void)
{
	expect_error("{\"b\":true}", "missing parameter 's'");
	expect_error("{\"s\":\"x\"}", "missing parameter 'b'");
	expect_error("{\"s\":\"x\",\"b\":true,\"zz\":1}", "unknown parameter 'zz'");
	expect_error("{\"s\":1,\"b\":true}", "invalid parameter 's': expected a string");
	expect_error("{\"s\":null,\"b\":true}", "invalid parameter 's': expected a string");
	expect_error("{\"s\":\"x\",\"b\":1}", "invalid parameter 'b': expected a boolean");
	expect_error("{\"s\":\"x\",\"b\":true,\"i32\":2147483648}",
	             "invalid parameter 'i32': expected a 32-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"i32\":-2147483649}",
	             "invalid parameter 'i32': expected a 32-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"u16\":65536}",
	             "invalid parameter 'u16': expected an unsigned 16-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"u32\":4294967296}",
	             "invalid parameter 'u32': expected an unsigned 32-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"u32\":-1}",
	             "invalid parameter 'u32': expected an unsigned 32-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"u32\":\"512\"}",
	             "invalid parameter 'u32': expected an unsigned 32-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"u32\":1.5}",
	             "invalid parameter 'u32': expected an unsigned 32-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"u64\":-1}",
	             "invalid parameter 'u64': expected an unsigned 64-bit integer");
	expect_error("{\"s\":\"x\",\"b\":true,\"d\":\"1\"}",
	             "invalid parameter 'd': expected a number");
	/* A later field fails after a string was decoded: the string is freed. */
	expect_error("{\"s\":\"x\",\"b\":true,\"j\":[1],\"u16\":-3}",
	             "invalid parameter 'u16': expected an unsigned 16-bit integer");
	expect_error("[1,2]", "invalid parameters: expected an object");
}

static void
test_decode_null_params(void)
{
	static const struct ftgt_rpc_field opt[] = {
	        {"x", FTGT_RPC_UINT32, 0, true},
	};
	static const struct ftgt_rpc_field req[] = {
	        {"x", FTGT_RPC_UINT32, 0, false},
	};
	uint32_t x = 7;
	char err[128];

	/* Absent params are an empty object. */
	CU_ASSERT_EQUAL(ftgt_rpc_decode(NULL, opt, 1, &x, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(x, 7);
	CU_ASSERT_EQUAL(ftgt_rpc_decode(NULL, req, 1, &x, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "missing parameter 'x'");
	/* A method without params rejects any. */
	{
		json_t *p = json_pack("{s:i}", "x", 1);

		CU_ASSERT_EQUAL(ftgt_rpc_decode(p, NULL, 0, NULL, err, sizeof(err)), -EINVAL);
		CU_ASSERT_STRING_EQUAL(err, "unknown parameter 'x'");
		json_decref(p);
	}
}

static void
test_decode_or_error(void)
{
	json_t *p = json_pack("{s:s}", "block_size", "big");
	static const struct ftgt_rpc_field f[] = {
	        {"block_size", FTGT_RPC_UINT32, 0, false},
	};
	uint32_t bs = 0;

	g_err_code = 0;
	CU_ASSERT_FALSE(ftgt_rpc_decode_or_error(NULL, p, f, 1, &bs));
	CU_ASSERT_EQUAL(g_err_code, FTGT_JSONRPC_ERROR_INVALID_PARAMS);
	CU_ASSERT_STRING_EQUAL(
	        g_err_msg, "invalid parameter 'block_size': expected an unsigned 32-bit integer");
	json_decref(p);
	p = json_pack("{s:i}", "block_size", 4096);
	CU_ASSERT_TRUE(ftgt_rpc_decode_or_error(NULL, p, f, 1, &bs));
	CU_ASSERT_EQUAL(bs, 4096);
	json_decref(p);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("rpc_decode", NULL, NULL);
	CU_add_test(s, "all types", test_decode_all_types);
	CU_add_test(s, "errors name the field", test_decode_errors);
	CU_add_test(s, "null params", test_decode_null_params);
	CU_add_test(s, "decode_or_error answers -32602", test_decode_or_error);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
