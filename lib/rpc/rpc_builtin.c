/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Built-in methods that need nothing but lib/rpc and logging: method listing,
 * version and log control. SPDK's names, params and result shapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/log.h"
#include "ftgt/rpc.h"

#ifndef FTGT_VERSION
#define FTGT_VERSION "0.0.0"
#endif

/* ---- rpc_get_methods ---------------------------------------------------------------- */

struct rpc_get_methods_params {
	bool current;
	bool include_aliases;
};

static const struct ftgt_rpc_field rpc_get_methods_fields[] = {
        {"current", FTGT_RPC_BOOL, offsetof(struct rpc_get_methods_params, current), true},
        {"include_aliases", FTGT_RPC_BOOL, offsetof(struct rpc_get_methods_params, include_aliases),
         true},
};

static void
rpc_get_methods(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_get_methods_params p = {0};
	json_t *methods;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_get_methods_fields, 2, &p)) {
		return;
	}
	/* Every method is callable in every state once the server runs: `current` is moot. */
	methods = ftgt_rpc_get_methods_ext(p.include_aliases);
	if (methods == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INTERNAL_ERROR, "out of memory");
		return;
	}
	ftgt_rpc_send_result(req, methods);
}
FTGT_RPC_REGISTER("rpc_get_methods", rpc_get_methods)

/* ---- versions ----------------------------------------------------------------------- */

static json_t *
rpc_version_json(void)
{
	unsigned int major = 0, minor = 0, patch = 0;
	char suffix[32] = "";
	char version[64];

	sscanf(FTGT_VERSION, "%u.%u.%u%31s", &major, &minor, &patch, suffix);
	snprintf(version, sizeof(version), "ftgt v%s", FTGT_VERSION);
	return json_pack("{s:s, s:{s:i, s:i, s:i, s:s}}", "version", version, "fields", "major",
	                 (int)major, "minor", (int)minor, "patch", (int)patch, "suffix", suffix);
}

static void
rpc_ftgt_get_version(struct ftgt_rpc_request *req, const json_t *params)
{
	if (!ftgt_rpc_decode_or_error(req, params, NULL, 0, NULL)) {
		return;
	}
	ftgt_rpc_send_result(req, rpc_version_json());
}
FTGT_RPC_REGISTER("ftgt_get_version", rpc_ftgt_get_version)
FTGT_RPC_REGISTER_ALIAS("spdk_get_version", "ftgt_get_version", spdk_get_version)

/* ---- log ---------------------------------------------------------------------------- */

/* SPDK's level names; ftgt's own lower-case names are accepted too. */
static const struct {
	const char *name;
	enum ftgt_log_level level;
} g_log_levels[] = {
        {"DISABLED", FTGT_LOG_DISABLED}, {"ERROR", FTGT_LOG_ERROR},   {"WARNING", FTGT_LOG_WARN},
        {"WARN", FTGT_LOG_WARN},         {"NOTICE", FTGT_LOG_NOTICE}, {"INFO", FTGT_LOG_INFO},
        {"DEBUG", FTGT_LOG_DEBUG},
};

static int
rpc_log_level_parse(const char *name, enum ftgt_log_level *level)
{
	size_t i;

	for (i = 0; i < sizeof(g_log_levels) / sizeof(g_log_levels[0]); i++) {
		if (strcasecmp(name, g_log_levels[i].name) == 0) {
			*level = g_log_levels[i].level;
			return 0;
		}
	}
	return -1;
}

static const char *
rpc_log_level_name(enum ftgt_log_level level)
{
	size_t i;

	for (i = 0; i < sizeof(g_log_levels) / sizeof(g_log_levels[0]); i++) {
		if (g_log_levels[i].level == level) {
			return g_log_levels[i].name;
		}
	}
	return "UNKNOWN";
}

struct rpc_log_level_params {
	char *level;
};

static const struct ftgt_rpc_field rpc_log_level_fields[] = {
        {"level", FTGT_RPC_STRING, offsetof(struct rpc_log_level_params, level), false},
};

/* ftgt has one level: lines at or below it are printed (and sent to syslog if enabled). */
static void
rpc_log_set_level(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_log_level_params p = {0};
	enum ftgt_log_level level;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_log_level_fields, 1, &p)) {
		return;
	}
	if (rpc_log_level_parse(p.level, &level) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid parameter 'level': expected one of DISABLED, ERROR, "
		                    "WARNING, NOTICE, INFO, DEBUG; got '%s'",
		                    p.level);
	} else {
		ftgt_log_set_level(level);
		ftgt_rpc_send_bool(req, true);
	}
	ftgt_rpc_decode_free(rpc_log_level_fields, 1, &p);
}
FTGT_RPC_REGISTER("log_set_level", rpc_log_set_level)

static void
rpc_log_set_print_level(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_log_set_level(req, params);
}
FTGT_RPC_REGISTER("log_set_print_level", rpc_log_set_print_level)

static void
rpc_log_get_level(struct ftgt_rpc_request *req, const json_t *params)
{
	if (!ftgt_rpc_decode_or_error(req, params, NULL, 0, NULL)) {
		return;
	}
	ftgt_rpc_send_result(req, json_string(rpc_log_level_name(ftgt_log_get_level())));
}
FTGT_RPC_REGISTER("log_get_level", rpc_log_get_level)

static void
rpc_log_get_print_level(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_log_get_level(req, params);
}
FTGT_RPC_REGISTER("log_get_print_level", rpc_log_get_print_level)

struct rpc_log_flag_params {
	char *flag;
};

static const struct ftgt_rpc_field rpc_log_flag_fields[] = {
        {"flag", FTGT_RPC_STRING, offsetof(struct rpc_log_flag_params, flag), false},
};

static void
rpc_log_flag(struct ftgt_rpc_request *req, const json_t *params, bool enable)
{
	struct rpc_log_flag_params p = {0};

	if (!ftgt_rpc_decode_or_error(req, params, rpc_log_flag_fields, 1, &p)) {
		return;
	}
	if (ftgt_log_set_flag(p.flag, enable) != 0) {
		ftgt_rpc_send_error(
		        req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		        "invalid parameter 'flag': no log flag '%s' (see log_get_flags)", p.flag);
	} else {
		ftgt_rpc_send_bool(req, true);
	}
	ftgt_rpc_decode_free(rpc_log_flag_fields, 1, &p);
}

static void
rpc_log_set_flag(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_log_flag(req, params, true);
}
FTGT_RPC_REGISTER("log_set_flag", rpc_log_set_flag)

static void
rpc_log_clear_flag(struct ftgt_rpc_request *req, const json_t *params)
{
	rpc_log_flag(req, params, false);
}
FTGT_RPC_REGISTER("log_clear_flag", rpc_log_clear_flag)

static void
rpc_log_flags_add(const struct ftgt_log_flag *flag, void *ctx)
{
	json_object_set_new(ctx, flag->name, json_boolean(flag->enabled));
}

static void
rpc_log_get_flags(struct ftgt_rpc_request *req, const json_t *params)
{
	json_t *flags;

	if (!ftgt_rpc_decode_or_error(req, params, NULL, 0, NULL)) {
		return;
	}
	flags = json_object();
	ftgt_log_for_each_flag(rpc_log_flags_add, flags);
	ftgt_rpc_send_result(req, flags);
}
FTGT_RPC_REGISTER("log_get_flags", rpc_log_get_flags)
