/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/init/subsystem.c and json_config.c: dependency order, async and
 * synchronous init_done/fini_done, failures, config replay order and its error
 * messages, save_config output.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftgt/init.h"
#include "ftgt/rpc.h"
#include "../../../../lib/rpc/rpc_internal.h"

/* ---- stubs: no app, no socket server ------------------------------------------------ */

static bool g_shutting_down;

bool
ftgt_app_is_shutting_down(void)
{
	return g_shutting_down;
}

void
rpc_server_complete(struct ftgt_rpc_request *req, json_t *response)
{
	json_decref(response);
}

/* ---- subsystems --------------------------------------------------------------------- */

static char g_log[256];
static bool g_async_b; /* b answers later */
static bool g_fail_e;  /* e fails */

static void
log_event(const char *ev)
{
	strncat(g_log, ev, sizeof(g_log) - strlen(g_log) - 1);
}

static void
a_init(void)
{
	log_event("+a");
	ftgt_subsystem_init_done(0);
}
static void
a_fini(void)
{
	log_event("-a");
	ftgt_subsystem_fini_done();
}
static void
b_init(void)
{
	log_event("+b");
	if (!g_async_b) {
		ftgt_subsystem_init_done(0);
	}
}
static void
b_fini(void)
{
	log_event("-b");
	if (!g_async_b) {
		ftgt_subsystem_fini_done();
	}
}
static void
c_init(void)
{
	log_event("+c");
	ftgt_subsystem_init_done(0);
}
static void
c_fini(void)
{
	log_event("-c");
	ftgt_subsystem_fini_done();
}

static void
c_write_config(json_t *config)
{
	json_array_append_new(config, json_pack("{s:s, s:{s:s, s:i}}", "method", "test_create",
	                                        "params", "name", "C0", "block_size", 512));
}

static void
e_init(void)
{
	log_event("+e");
	ftgt_subsystem_init_done(g_fail_e ? -EIO : 0);
}
static void
e_fini(void)
{
	log_event("-e");
	ftgt_subsystem_fini_done();
}

/* Registered out of order on purpose: c needs b, b needs a; d has no init/fini. */
static struct ftgt_subsystem g_c = {.name = "c",
                                    .init = c_init,
                                    .fini = c_fini,
                                    .write_config_json = c_write_config,
                                    .depends_on = "b"};
static struct ftgt_subsystem g_b = {.name = "b", .init = b_init, .fini = b_fini, .depends_on = "a"};
static struct ftgt_subsystem g_d = {.name = "d"};
static struct ftgt_subsystem g_a = {.name = "a", .init = a_init, .fini = a_fini};
static struct ftgt_subsystem g_e = {.name = "e", .init = e_init, .fini = e_fini, .depends_on = "c"};
static struct ftgt_subsystem g_x = {.name = "x", .depends_on = "nonexistent"};

static int g_init_rc;
static int g_init_calls;
static int g_fini_calls;

static void
init_cb(void *arg, int rc)
{
	g_init_rc = rc;
	g_init_calls++;
}

static void
fini_cb(void *arg)
{
	g_fini_calls++;
}

static void
reset_log(void)
{
	g_log[0] = '\0';
	g_init_calls = 0;
	g_fini_calls = 0;
	g_init_rc = 1;
}

static void
test_subsystem_order_sync(void)
{
	json_t *list;

	reset_log();
	ftgt_subsystem_init_all(init_cb, NULL);
	CU_ASSERT_EQUAL(g_init_calls, 1);
	CU_ASSERT_EQUAL(g_init_rc, 0);
	CU_ASSERT_STRING_EQUAL(g_log, "+a+b+c");
	list = ftgt_subsystem_list_json();
	CU_ASSERT_EQUAL(json_array_size(list), 4);
	/* d (ready first in registration order), then a, b, c. */
	CU_ASSERT_STRING_EQUAL(
	        json_string_value(json_object_get(json_array_get(list, 0), "subsystem")), "d");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(
	                               json_object_get(json_array_get(list, 3), "depends_on"), 0)),
	                       "b");
	json_decref(list);
	ftgt_subsystem_fini_all(fini_cb, NULL);
	CU_ASSERT_EQUAL(g_fini_calls, 1);
	CU_ASSERT_STRING_EQUAL(g_log, "+a+b+c-c-b-a");
}

static void
test_subsystem_order_async(void)
{
	reset_log();
	g_async_b = true;
	ftgt_subsystem_init_all(init_cb, NULL);
	/* b has not answered: c must not start yet. */
	CU_ASSERT_EQUAL(g_init_calls, 0);
	CU_ASSERT_STRING_EQUAL(g_log, "+a+b");
	ftgt_subsystem_init_done(0);
	CU_ASSERT_EQUAL(g_init_calls, 1);
	CU_ASSERT_EQUAL(g_init_rc, 0);
	CU_ASSERT_STRING_EQUAL(g_log, "+a+b+c");
	ftgt_subsystem_fini_all(fini_cb, NULL);
	CU_ASSERT_EQUAL(g_fini_calls, 0);
	CU_ASSERT_STRING_EQUAL(g_log, "+a+b+c-c-b");
	ftgt_subsystem_fini_done();
	CU_ASSERT_EQUAL(g_fini_calls, 1);
	CU_ASSERT_STRING_EQUAL(g_log, "+a+b+c-c-b-a");
	g_async_b = false;
}

static void
test_subsystem_init_failure(void)
{
	ftgt_subsystem_register(&g_e);
	reset_log();
	g_fail_e = true;
	ftgt_subsystem_init_all(init_cb, NULL);
	CU_ASSERT_EQUAL(g_init_calls, 1);
	CU_ASSERT_EQUAL(g_init_rc, -EIO);
	/* Only what started is stopped. */
	ftgt_subsystem_fini_all(fini_cb, NULL);
	CU_ASSERT_STRING_EQUAL(g_log, "+a+b+c+e-c-b-a");
	CU_ASSERT_EQUAL(g_fini_calls, 1);
	g_fail_e = false;
}

static void
test_subsystem_config_json(void)
{
	json_t *cfg = ftgt_subsystem_config_json();
	json_t *subs = json_object_get(cfg, "subsystems");
	size_t i;
	json_t *s;
	bool seen_c = false;

	CU_ASSERT_EQUAL(json_array_size(subs), 5);
	json_array_foreach(subs, i, s)
	{
		const json_t *conf = json_object_get(s, "config");

		CU_ASSERT_TRUE(json_is_array(conf));
		if (strcmp(json_string_value(json_object_get(s, "subsystem")), "c") == 0) {
			seen_c = true;
			CU_ASSERT_EQUAL(json_array_size(conf), 1);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
			                               json_array_get(conf, 0), "method")),
			                       "test_create");
		} else {
			CU_ASSERT_EQUAL(json_array_size(conf), 0);
		}
	}
	CU_ASSERT_TRUE(seen_c);
	json_decref(cfg);
}

/* ---- config replay ------------------------------------------------------------------ */

struct create_params {
	char *name;
	uint32_t block_size;
};
static const struct ftgt_rpc_field g_create_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct create_params, name), false},
        {"block_size", FTGT_RPC_UINT32, offsetof(struct create_params, block_size), true},
};
static char g_created[256];
static struct ftgt_rpc_request *g_pending;
static bool g_create_async;

static void
rpc_test_create(struct ftgt_rpc_request *req, const json_t *params)
{
	struct create_params p = {0};

	if (!ftgt_rpc_decode_or_error(req, params, g_create_fields, 2, &p)) {
		return;
	}
	strncat(g_created, p.name, sizeof(g_created) - strlen(g_created) - 2);
	strcat(g_created, ",");
	ftgt_rpc_decode_free(g_create_fields, 2, &p);
	if (g_create_async) {
		g_pending = req;
		return;
	}
	ftgt_rpc_send_result(req, json_string("ok"));
}
FTGT_RPC_REGISTER("test_create", rpc_test_create)

static int g_cfg_rc;
static int g_cfg_calls;
static char g_cfg_msg[1024];

static void
config_cb(void *arg, int rc, const char *msg)
{
	g_cfg_calls++;
	g_cfg_rc = rc;
	snprintf(g_cfg_msg, sizeof(g_cfg_msg), "%s", msg ? msg : "");
}

static void
load_text(const char *text)
{
	json_error_t jerr;
	json_t *cfg = json_loads(text, 0, &jerr);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	g_created[0] = '\0';
	g_cfg_calls = 0;
	g_cfg_rc = 1;
	ftgt_json_config_load(cfg, config_cb, NULL);
	json_decref(cfg);
}

static void
test_config_replay_order(void)
{
	load_text("{\"subsystems\":[{\"subsystem\":\"a\",\"config\":null},"
	          "{\"subsystem\":\"c\",\"config\":[{\"method\":\"test_create\",\"params\":"
	          "{\"name\":\"X1\"}},{\"method\":\"test_create\",\"params\":{\"name\":\"X2\","
	          "\"block_size\":4096}}]},{\"subsystem\":\"b\",\"config\":[]},"
	          "{\"subsystem\":\"d\",\"config\":[{\"method\":\"test_create\",\"params\":"
	          "{\"name\":\"X3\"}}]}]}");
	CU_ASSERT_EQUAL(g_cfg_calls, 1);
	CU_ASSERT_EQUAL(g_cfg_rc, 0);
	CU_ASSERT_STRING_EQUAL(g_created, "X1,X2,X3,");
}

static void
test_config_async_replay(void)
{
	g_create_async = true;
	load_text("{\"subsystems\":[{\"subsystem\":\"c\",\"config\":[{\"method\":\"test_create\","
	          "\"params\":{\"name\":\"A1\"}},{\"method\":\"test_create\",\"params\":"
	          "{\"name\":\"A2\"}}]}]}");
	/* The second call waits for the first answer. */
	CU_ASSERT_STRING_EQUAL(g_created, "A1,");
	CU_ASSERT_EQUAL(g_cfg_calls, 0);
	ftgt_rpc_send_result(g_pending, NULL);
	CU_ASSERT_STRING_EQUAL(g_created, "A1,A2,");
	CU_ASSERT_EQUAL(g_cfg_calls, 0);
	ftgt_rpc_send_error(g_pending, -ENOSPC, "no room for '%s'", "A2");
	CU_ASSERT_EQUAL(g_cfg_calls, 1);
	CU_ASSERT_EQUAL(g_cfg_rc, -ENOSPC);
	CU_ASSERT_STRING_EQUAL(g_cfg_msg, "config: subsystem 'c', entry 2: method 'test_create': "
	                                  "no room for 'A2'");
	g_create_async = false;
}

static void
test_config_errors(void)
{
	/* A bad parameter: replay stops there, the message names the place and the field. */
	load_text("{\"subsystems\":[{\"subsystem\":\"c\",\"config\":[{\"method\":\"test_create\","
	          "\"params\":{\"name\":\"E1\"}},{\"method\":\"test_create\",\"params\":{\"name\":"
	          "\"E2\"}},{\"method\":\"test_create\",\"params\":{\"name\":\"E3\",\"block_size\":"
	          "\"big\"}},{\"method\":\"test_create\",\"params\":{\"name\":\"E4\"}}]}]}");
	CU_ASSERT_EQUAL(g_cfg_calls, 1);
	CU_ASSERT_EQUAL(g_cfg_rc, -EINVAL);
	CU_ASSERT_STRING_EQUAL(g_cfg_msg, "config: subsystem 'c', entry 3: method 'test_create': "
	                                  "invalid parameter 'block_size': expected an unsigned "
	                                  "32-bit integer");
	CU_ASSERT_STRING_EQUAL(g_created, "E1,E2,");

	/* An unknown method anywhere: nothing runs at all. */
	load_text("{\"subsystems\":[{\"subsystem\":\"c\",\"config\":[{\"method\":\"test_create\","
	          "\"params\":{\"name\":\"U1\"}},{\"method\":\"no_such_method\"}]}]}");
	CU_ASSERT_EQUAL(g_cfg_rc, -ENOENT);
	CU_ASSERT_STRING_EQUAL(g_cfg_msg, "config: subsystem 'c', entry 2: method "
	                                  "'no_such_method': unknown method");
	CU_ASSERT_STRING_EQUAL(g_created, "");

	load_text("{\"subsystems\":[{\"subsystem\":\"zzz\",\"config\":[]}]}");
	CU_ASSERT_EQUAL(g_cfg_rc, -ENOENT);
	CU_ASSERT_STRING_EQUAL(g_cfg_msg, "config: unknown subsystem 'zzz'");

	load_text("{\"subsystems\":{}}");
	CU_ASSERT_EQUAL(g_cfg_rc, -EINVAL);
	CU_ASSERT_STRING_EQUAL(g_cfg_msg, "config: 'subsystems' must be an array");

	load_text("{\"subsystems\":[],\"extra\":1}");
	CU_ASSERT_EQUAL(g_cfg_rc, -EINVAL);

	load_text("{\"subsystems\":[{\"subsystem\":\"c\",\"config\":[{\"params\":{}}]}]}");
	CU_ASSERT_EQUAL(g_cfg_rc, -EINVAL);
	CU_ASSERT_STRING_EQUAL(g_cfg_msg, "config: subsystem 'c', entry 1: expected an object "
	                                  "with a 'method' name");

	load_text("{\"subsystems\":[{\"subsystem\":\"c\",\"config\":[{\"method\":\"test_create\","
	          "\"params\":[1]}]}]}");
	CU_ASSERT_EQUAL(g_cfg_rc, -EINVAL);

	/* Shutdown stops a replay between calls. */
	g_shutting_down = true;
	load_text("{\"subsystems\":[{\"subsystem\":\"c\",\"config\":[{\"method\":\"test_create\","
	          "\"params\":{\"name\":\"S1\"}}]}]}");
	CU_ASSERT_EQUAL(g_cfg_rc, -ECANCELED);
	CU_ASSERT_STRING_EQUAL(g_created, "");
	g_shutting_down = false;
}

static void
test_config_file(void)
{
	char path[64];
	FILE *f;
	json_t *saved;

	snprintf(path, sizeof(path), "/tmp/ftgt_init_ut.%d.json", getpid());
	g_cfg_calls = 0;
	ftgt_json_config_load_file("/nonexistent/ftgt.json", config_cb, NULL);
	CU_ASSERT_EQUAL(g_cfg_calls, 1);
	CU_ASSERT_EQUAL(g_cfg_rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(g_cfg_msg, "/nonexistent/ftgt.json"));

	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{\"subsystems\": [\n  {\"subsystem\": \"c\",\n   \"config\": [,]}]}\n", f);
	fclose(f);
	ftgt_json_config_load_file(path, config_cb, NULL);
	CU_ASSERT_EQUAL(g_cfg_rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(g_cfg_msg, "line 3"));

	/* What save_config writes loads back, replaying the same calls. */
	saved = ftgt_subsystem_config_json();
	CU_ASSERT_EQUAL(json_dump_file(saved, path, JSON_INDENT(2)), 0);
	json_decref(saved);
	g_created[0] = '\0';
	ftgt_json_config_load_file(path, config_cb, NULL);
	CU_ASSERT_EQUAL(g_cfg_rc, 0);
	CU_ASSERT_STRING_EQUAL(g_created, "C0,");
	unlink(path);
}

static void
test_subsystem_unknown_dependency(void)
{
	ftgt_subsystem_register(&g_x);
	reset_log();
	ftgt_subsystem_init_all(init_cb, NULL);
	CU_ASSERT_EQUAL(g_init_calls, 1);
	CU_ASSERT_EQUAL(g_init_rc, -ENOENT);
	CU_ASSERT_STRING_EQUAL(g_log, "");
	ftgt_subsystem_fini_all(fini_cb, NULL);
	CU_ASSERT_EQUAL(g_fini_calls, 1);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	ftgt_subsystem_register(&g_c);
	ftgt_subsystem_register(&g_b);
	ftgt_subsystem_register(&g_d);
	ftgt_subsystem_register(&g_a);
	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("init", NULL, NULL);
	CU_add_test(s, "subsystem order (sync)", test_subsystem_order_sync);
	CU_add_test(s, "subsystem order (async)", test_subsystem_order_async);
	CU_add_test(s, "subsystem init failure", test_subsystem_init_failure);
	CU_add_test(s, "subsystem config json", test_subsystem_config_json);
	CU_add_test(s, "config replay order", test_config_replay_order);
	CU_add_test(s, "config async replay", test_config_async_replay);
	CU_add_test(s, "config errors", test_config_errors);
	CU_add_test(s, "config file", test_config_file);
	CU_add_test(s, "subsystem unknown dependency", test_subsystem_unknown_dependency);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
