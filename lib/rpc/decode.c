/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Declarative decoding of JSON-RPC params into C structs. Every error message names
 * the field, so a client (or a config file) learns exactly what to fix.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"

static const struct ftgt_rpc_field *
decode_find_field(const struct ftgt_rpc_field *fields, size_t count, const char *name)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(fields[i].name, name) == 0) {
			return &fields[i];
		}
	}
	return NULL;
}

static bool
decode_uint(const json_t *v, uint64_t max, uint64_t *out)
{
	json_int_t n;

	if (!json_is_integer(v)) {
		return false;
	}
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > max) {
		return false;
	}
	*out = (uint64_t)n;
	return true;
}

static const char *
decode_type_desc(enum ftgt_rpc_type type)
{
	switch (type) {
	case FTGT_RPC_STRING:
		return "a string";
	case FTGT_RPC_BOOL:
		return "a boolean";
	case FTGT_RPC_INT32:
		return "a 32-bit integer";
	case FTGT_RPC_UINT16:
		return "an unsigned 16-bit integer";
	case FTGT_RPC_UINT32:
		return "an unsigned 32-bit integer";
	case FTGT_RPC_UINT64:
		return "an unsigned 64-bit integer";
	case FTGT_RPC_DOUBLE:
		return "a number";
	case FTGT_RPC_JSON:
		return "a JSON value";
	}
	return "a value";
}

/* Decode one present value into its slot: 0, or -EINVAL (wrong type or range). */
static int
decode_one(const struct ftgt_rpc_field *f, const json_t *v, void *out)
{
	char *slot = (char *)out + f->offset;
	uint64_t u;
	json_int_t n;
	char *s;

	switch (f->type) {
	case FTGT_RPC_STRING:
		if (!json_is_string(v)) {
			return -EINVAL;
		}
		s = strdup(json_string_value(v));
		if (s == NULL) {
			return -ENOMEM;
		}
		*(char **)slot = s;
		return 0;
	case FTGT_RPC_BOOL:
		if (!json_is_boolean(v)) {
			return -EINVAL;
		}
		*(bool *)slot = json_is_true(v);
		return 0;
	case FTGT_RPC_INT32:
		if (!json_is_integer(v)) {
			return -EINVAL;
		}
		n = json_integer_value(v);
		if (n < INT32_MIN || n > INT32_MAX) {
			return -EINVAL;
		}
		*(int32_t *)slot = (int32_t)n;
		return 0;
	case FTGT_RPC_UINT16:
		if (!decode_uint(v, UINT16_MAX, &u)) {
			return -EINVAL;
		}
		*(uint16_t *)slot = (uint16_t)u;
		return 0;
	case FTGT_RPC_UINT32:
		if (!decode_uint(v, UINT32_MAX, &u)) {
			return -EINVAL;
		}
		*(uint32_t *)slot = (uint32_t)u;
		return 0;
	case FTGT_RPC_UINT64:
		if (!decode_uint(v, UINT64_MAX, &u)) {
			return -EINVAL;
		}
		*(uint64_t *)slot = u;
		return 0;
	case FTGT_RPC_DOUBLE:
		if (!json_is_number(v)) {
			return -EINVAL;
		}
		*(double *)slot = json_number_value(v);
		return 0;
	case FTGT_RPC_JSON:
		/* jansson's reference count is not const-aware; the value is shared, not changed. */
		*(json_t **)slot = json_incref((json_t *)v);
		return 0;
	}
	return -EINVAL;
}

static void
decode_free_one(const struct ftgt_rpc_field *f, void *out)
{
	char *slot = (char *)out + f->offset;

	if (f->type == FTGT_RPC_STRING) {
		free(*(char **)slot);
		*(char **)slot = NULL;
	} else if (f->type == FTGT_RPC_JSON) {
		json_decref(*(json_t **)slot);
		*(json_t **)slot = NULL;
	}
}

int
ftgt_rpc_decode(const json_t *params, const struct ftgt_rpc_field *fields, size_t count, void *out,
                char *err, size_t err_len)
{
	const char *key;
	const json_t *v;
	size_t i, j;
	int rc;

	if (err_len > 0) {
		err[0] = '\0';
	}
	if (params == NULL) {
		params = json_object();
		/* An empty object; checked below like any other. */
		rc = ftgt_rpc_decode(params, fields, count, out, err, err_len);
		json_decref((json_t *)params);
		return rc;
	}
	if (!json_is_object(params)) {
		snprintf(err, err_len, "invalid parameters: expected an object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)params, key, v)
	{
		if (decode_find_field(fields, count, key) == NULL) {
			snprintf(err, err_len, "unknown parameter '%s'", key);
			return -EINVAL;
		}
	}
	for (i = 0; i < count; i++) {
		v = json_object_get(params, fields[i].name);
		if (v != NULL && json_is_null(v) && fields[i].optional &&
		    fields[i].type != FTGT_RPC_JSON) {
			v = NULL;
		}
		if (v == NULL) {
			if (fields[i].optional) {
				continue;
			}
			snprintf(err, err_len, "missing parameter '%s'", fields[i].name);
			rc = -EINVAL;
			goto err_free;
		}
		rc = decode_one(&fields[i], v, out);
		if (rc == -ENOMEM) {
			snprintf(err, err_len, "out of memory decoding '%s'", fields[i].name);
			goto err_free;
		}
		if (rc != 0) {
			snprintf(err, err_len, "invalid parameter '%s': expected %s",
			         fields[i].name, decode_type_desc(fields[i].type));
			goto err_free;
		}
	}
	return 0;

err_free:
	for (j = 0; j < i; j++) {
		if (json_object_get(params, fields[j].name) != NULL) {
			decode_free_one(&fields[j], out);
		}
	}
	return rc;
}

void
ftgt_rpc_decode_free(const struct ftgt_rpc_field *fields, size_t count, void *out)
{
	size_t i;

	for (i = 0; i < count; i++) {
		decode_free_one(&fields[i], out);
	}
}

bool
ftgt_rpc_decode_or_error(struct ftgt_rpc_request *req, const json_t *params,
                         const struct ftgt_rpc_field *fields, size_t count, void *out)
{
	char err[256];

	if (ftgt_rpc_decode(params, fields, count, out, err, sizeof(err)) != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS, "%s", err);
		return false;
	}
	return true;
}
