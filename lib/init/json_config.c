/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replay a JSON config (SPDK's format) through the RPC methods, in file order. The
 * whole config is checked before the first call, so a typo in the last entry does not
 * leave a half-configured target; the replay then stops at the first call that fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/rpc.h"

struct config_replay {
	json_t *config; /* our reference */
	size_t si;      /* subsystem index of the call in progress */
	size_t ei;      /* entry index of the call in progress */
	bool in_call;   /* inside ftgt_rpc_call() */
	bool sync_done; /* ... which answered before returning */
	int rc;
	char msg[1024];
	ftgt_json_config_cb cb_fn;
	void *cb_arg;
};

static const char *
config_subsystem_name(const json_t *config, size_t si)
{
	return json_string_value(json_object_get(
	        json_array_get(json_object_get(config, "subsystems"), si), "subsystem"));
}

static const json_t *
config_entries(const json_t *config, size_t si)
{
	return json_object_get(json_array_get(json_object_get(config, "subsystems"), si), "config");
}

/* Check everything that can be checked without running anything: 0 or -errno + msg. */
static int
config_check(const json_t *config, char *msg, size_t msg_len)
{
	const json_t *subsystems, *sub, *name, *entries, *entry, *method, *params;
	const char *key;
	json_t *v;
	size_t si, ei;

	if (!json_is_object(config)) {
		snprintf(msg, msg_len, "config: expected an object with a 'subsystems' array");
		return -EINVAL;
	}
	json_object_foreach((json_t *)config, key, v)
	{
		if (strcmp(key, "subsystems") != 0) {
			snprintf(msg, msg_len, "config: unknown key '%s' (expected 'subsystems')",
			         key);
			return -EINVAL;
		}
	}
	subsystems = json_object_get(config, "subsystems");
	if (!json_is_array(subsystems)) {
		snprintf(msg, msg_len, "config: 'subsystems' must be an array");
		return -EINVAL;
	}
	json_array_foreach(subsystems, si, sub)
	{
		name = json_object_get(sub, "subsystem");
		if (!json_is_object(sub) || !json_is_string(name)) {
			snprintf(msg, msg_len,
			         "config: subsystems[%zu]: expected an object with a 'subsystem' "
			         "name",
			         si);
			return -EINVAL;
		}
		if (ftgt_subsystem_find(json_string_value(name)) == NULL) {
			snprintf(msg, msg_len, "config: unknown subsystem '%s'",
			         json_string_value(name));
			return -ENOENT;
		}
		entries = json_object_get(sub, "config");
		if (entries == NULL || json_is_null(entries)) {
			continue;
		}
		if (!json_is_array(entries)) {
			snprintf(msg, msg_len,
			         "config: subsystem '%s': 'config' must be an array or null",
			         json_string_value(name));
			return -EINVAL;
		}
		json_array_foreach(entries, ei, entry)
		{
			method = json_object_get(entry, "method");
			params = json_object_get(entry, "params");
			if (!json_is_object(entry) || !json_is_string(method)) {
				snprintf(msg, msg_len,
				         "config: subsystem '%s', entry %zu: expected an object "
				         "with a 'method' name",
				         json_string_value(name), ei + 1);
				return -EINVAL;
			}
			if (!ftgt_rpc_method_exists(json_string_value(method))) {
				snprintf(msg, msg_len,
				         "config: subsystem '%s', entry %zu: method '%s': unknown "
				         "method",
				         json_string_value(name), ei + 1,
				         json_string_value(method));
				return -ENOENT;
			}
			if (params != NULL && !json_is_object(params) && !json_is_null(params)) {
				snprintf(msg, msg_len,
				         "config: subsystem '%s', entry %zu: method '%s': 'params' "
				         "must be an object",
				         json_string_value(name), ei + 1,
				         json_string_value(method));
				return -EINVAL;
			}
		}
	}
	return 0;
}

static void
config_finish(struct config_replay *r)
{
	r->cb_fn(r->cb_arg, r->rc, r->rc != 0 ? r->msg : NULL);
	json_decref(r->config);
	free(r);
}

/* Move (si, ei) to the next call at or after the current position: false at the end. */
static bool
config_seek(struct config_replay *r)
{
	size_t n = json_array_size(json_object_get(r->config, "subsystems"));

	while (r->si < n) {
		if (r->ei < json_array_size(config_entries(r->config, r->si))) {
			return true;
		}
		r->si++;
		r->ei = 0;
	}
	return false;
}

static void config_call_done(void *cb_arg, const json_t *result, int code, const char *msg);

static void
config_next(struct config_replay *r)
{
	const json_t *entry, *params;
	const char *method;
	int rc;

	while (config_seek(r)) {
		entry = json_array_get(config_entries(r->config, r->si), r->ei);
		method = json_string_value(json_object_get(entry, "method"));
		params = json_object_get(entry, "params");
		if (ftgt_app_is_shutting_down()) {
			r->rc = -ECANCELED;
			snprintf(r->msg, sizeof(r->msg), "config: replay stopped: shutting down");
			break;
		}
		r->in_call = true;
		r->sync_done = false;
		rc = ftgt_rpc_call(method, json_is_null(params) ? NULL : params, config_call_done,
		                   r);
		r->in_call = false;
		if (rc != 0) {
			r->rc = rc;
			snprintf(r->msg, sizeof(r->msg),
			         "config: subsystem '%s', entry %zu: method '%s': %s",
			         config_subsystem_name(r->config, r->si), r->ei + 1, method,
			         rc == -ENOENT ? "unknown method" : strerror(-rc));
			break;
		}
		if (!r->sync_done) {
			return; /* config_call_done() continues */
		}
		if (r->rc != 0) {
			break;
		}
		r->ei++;
	}
	config_finish(r);
}

static void
config_call_done(void *cb_arg, const json_t *result, int code, const char *msg)
{
	struct config_replay *r = cb_arg;
	const json_t *entry = json_array_get(config_entries(r->config, r->si), r->ei);

	if (code != 0) {
		r->rc = code < 0 && code > -4096 ? code : -EINVAL;
		snprintf(r->msg, sizeof(r->msg),
		         "config: subsystem '%s', entry %zu: method '%s': %s",
		         config_subsystem_name(r->config, r->si), r->ei + 1,
		         json_string_value(json_object_get(entry, "method")), msg);
	}
	if (r->in_call) {
		r->sync_done = true;
		return;
	}
	if (r->rc != 0) {
		config_finish(r);
		return;
	}
	r->ei++;
	config_next(r);
}

void
ftgt_json_config_load(const json_t *config, ftgt_json_config_cb cb_fn, void *cb_arg)
{
	struct config_replay *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		cb_fn(cb_arg, -ENOMEM, "config: out of memory");
		return;
	}
	r->cb_fn = cb_fn;
	r->cb_arg = cb_arg;
	r->config = json_incref((json_t *)config);
	r->rc = config_check(config, r->msg, sizeof(r->msg));
	if (r->rc != 0) {
		config_finish(r);
		return;
	}
	config_next(r);
}

void
ftgt_json_config_load_file(const char *path, ftgt_json_config_cb cb_fn, void *cb_arg)
{
	json_error_t jerr;
	char msg[512];
	json_t *config;

	config = json_load_file(path, 0, &jerr);
	if (config == NULL) {
		if (jerr.line < 0 || jerr.line == 0) {
			snprintf(msg, sizeof(msg), "config: %s: %s", path, jerr.text);
		} else {
			snprintf(msg, sizeof(msg), "config: %s: line %d, column %d: %s", path,
			         jerr.line, jerr.column, jerr.text);
		}
		cb_fn(cb_arg, -EINVAL, msg);
		return;
	}
	ftgt_json_config_load(config, cb_fn, cb_arg);
	json_decref(config);
}
