/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RPC schema embedded at build time (schema/rpc/<area>.json, see schema/README.md):
 * method lookup, typing of command-line values, and `ftgtctl METHOD --help`.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftgtctl.h"
#include "ftgtctl_schema.h"

static json_t *g_schema;

int
ctl_schema_load(void)
{
	json_error_t err;

	if (g_schema != NULL) {
		return 0;
	}
	g_schema = json_loads(ftgtctl_schema_json, 0, &err);
	if (g_schema == NULL || !json_is_array(json_object_get(g_schema, "areas"))) {
		fprintf(stderr, "ftgtctl: the embedded RPC schema is broken: %s\n", err.text);
		json_decref(g_schema);
		g_schema = NULL;
		return -EINVAL;
	}
	return 0;
}

void
ctl_schema_free(void)
{
	json_decref(g_schema);
	g_schema = NULL;
}

const json_t *
ctl_schema_areas(void)
{
	return json_object_get(g_schema, "areas");
}

const char *
ctl_json_str(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : dflt;
}

char *
ctl_underscore(const char *s)
{
	char *out = strdup(s), *p;

	for (p = out; p != NULL && *p != '\0'; p++) {
		if (*p == '-') {
			*p = '_';
		}
	}
	return out;
}

void
ctl_dashed(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; len > 0 && i < len - 1 && s[i] != '\0'; i++) {
		buf[i] = s[i] == '_' ? '-' : s[i];
	}
	if (len > 0) {
		buf[i] = '\0';
	}
}

/* Equal when dashes and underscores are taken as the same. */
static bool
ctl_name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_'))) {
			return false;
		}
	}
	return *a == *b;
}

const json_t *
ctl_schema_method(const char *name, const char **area_out)
{
	const json_t *area, *m, *alias;
	size_t i, j, k;

	json_array_foreach(ctl_schema_areas(), i, area)
	{
		json_array_foreach(json_object_get(area, "methods"), j, m)
		{
			bool hit = ctl_name_eq(ctl_json_str(m, "name", ""), name);

			json_array_foreach(json_object_get(m, "aliases"), k, alias)
			{
				hit = hit || ctl_name_eq(json_string_value(alias), name);
			}
			if (hit) {
				if (area_out != NULL) {
					*area_out = ctl_json_str(area, "area", "");
				}
				return m;
			}
		}
	}
	return NULL;
}

const json_t *
ctl_schema_param(const json_t *method, const char *name)
{
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(method, "params"), i, p)
	{
		if (ctl_name_eq(ctl_json_str(p, "name", ""), name)) {
			return p;
		}
	}
	return NULL;
}

/* ---- values --------------------------------------------------------------------------- */

static int
ctl_parse_u64(const char *arg, uint64_t *out)
{
	const char *p = arg;
	char *end;
	int base = 10;

	while (isspace((unsigned char)*p)) {
		p++;
	}
	if (*p == '-' || *p == '\0') {
		return -EINVAL;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
	}
	errno = 0;
	*out = strtoull(p, &end, base);
	if (errno != 0 || end == p || *end != '\0') {
		return errno == ERANGE ? -ERANGE : -EINVAL;
	}
	return 0;
}

static int
ctl_parse_i64(const char *arg, int64_t *out)
{
	uint64_t u;
	int rc;

	if (arg[0] == '-') {
		rc = ctl_parse_u64(arg + 1, &u);
		if (rc == 0 && u > (uint64_t)INT64_MAX + 1) {
			rc = -ERANGE;
		}
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
		return rc;
	}
	rc = ctl_parse_u64(arg, &u);
	if (rc == 0 && u > INT64_MAX) {
		rc = -ERANGE;
	}
	*out = (int64_t)u;
	return rc;
}

static int
ctl_parse_bool(const char *arg, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(arg, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(arg, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static json_t *
ctl_guess_value(const char *arg)
{
	json_t *v;
	int64_t i;
	char *end;
	double d;

	if (ctl_parse_i64(arg, &i) == 0) {
		return json_integer(i);
	}
	if (strcmp(arg, "true") == 0 || strcmp(arg, "false") == 0) {
		return json_boolean(arg[0] == 't');
	}
	if (strcmp(arg, "null") == 0) {
		return json_null();
	}
	if (arg[0] == '{' || arg[0] == '[') {
		v = json_loads(arg, JSON_DECODE_ANY, NULL);
		if (v != NULL) {
			return v;
		}
	}
	if (arg[0] != '\0' && !isspace((unsigned char)arg[0]) &&
	    strpbrk(arg, "xXnNiI") == NULL) { /* no hex floats, nan, inf */
		errno = 0;
		d = strtod(arg, &end);
		if (errno == 0 && *end == '\0') {
			return json_real(d);
		}
	}
	return json_string(arg);
}

json_t *
ctl_value_from_arg(const char *type, const char *arg, char *err, size_t err_len)
{
	static const struct {
		const char *name;
		int64_t min;
		uint64_t max;
	} ints[] = {
	        {"int32", INT32_MIN, INT32_MAX}, {"uint8", 0, UINT8_MAX},
	        {"uint16", 0, UINT16_MAX},       {"uint32", 0, UINT32_MAX},
	        {"uint64", 0, INT64_MAX}, /* JSON integers travel as int64 */
	        {"int64", INT64_MIN, INT64_MAX},
	};
	json_error_t jerr;
	json_t *v;
	size_t i;
	int64_t s;
	uint64_t u;
	char *end;
	double d;
	bool b;
	int rc;

	if (type == NULL || strcmp(type, "any") == 0) {
		return ctl_guess_value(arg);
	}
	if (strcmp(type, "string") == 0) {
		return json_string(arg);
	}
	if (strcmp(type, "bool") == 0) {
		if (ctl_parse_bool(arg, &b) != 0) {
			snprintf(err, err_len, "expected true or false, got '%s'", arg);
			return NULL;
		}
		return json_boolean(b);
	}
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (strcmp(type, ints[i].name) != 0) {
			continue;
		}
		if (ints[i].min == 0) {
			rc = ctl_parse_u64(arg, &u);
			if (rc == 0 && u > ints[i].max) {
				rc = -ERANGE;
			}
			s = (int64_t)u;
		} else {
			rc = ctl_parse_i64(arg, &s);
			if (rc == 0 && (s < ints[i].min || s > (int64_t)ints[i].max)) {
				rc = -ERANGE;
			}
		}
		if (rc == -ERANGE) {
			snprintf(err, err_len, "'%s' is out of range for %s", arg, type);
			return NULL;
		}
		if (rc != 0) {
			snprintf(err, err_len, "expected %s integer, got '%s'",
			         ints[i].min == 0 ? "an unsigned" : "an", arg);
			return NULL;
		}
		return json_integer(s);
	}
	if (strcmp(type, "number") == 0) {
		errno = 0;
		d = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0') {
			snprintf(err, err_len, "expected a number, got '%s'", arg);
			return NULL;
		}
		return json_real(d);
	}
	if (strcmp(type, "object") == 0 || strcmp(type, "array") == 0 ||
	    strcmp(type, "string_array") == 0) {
		if (strcmp(type, "string_array") == 0 && arg[0] != '[') {
			/* One element; repeated options append (see below). */
			v = json_array();
			json_array_append_new(v, json_string(arg));
			return v;
		}
		v = json_loads(arg, JSON_DECODE_ANY, &jerr);
		if (v == NULL) {
			snprintf(err, err_len, "expected JSON %s text: %s",
			         type[0] == 'o' ? "object" : "array", jerr.text);
			return NULL;
		}
		if ((type[0] == 'o' && !json_is_object(v)) ||
		    (type[0] != 'o' && !json_is_array(v))) {
			snprintf(err, err_len, "expected a JSON %s",
			         type[0] == 'o' ? "object" : "array");
			json_decref(v);
			return NULL;
		}
		if (type[0] == 's') {
			for (i = 0; i < json_array_size(v); i++) {
				if (!json_is_string(json_array_get(v, i))) {
					snprintf(err, err_len, "expected an array of strings");
					json_decref(v);
					return NULL;
				}
			}
		}
		return v;
	}
	/* A type this ftgtctl does not know (a newer schema): guess. */
	return ctl_guess_value(arg);
}

/* ---- params from the command line ------------------------------------------------------ */

int
ctl_params_from_args(const char *method_name, const json_t *method, int argc, char **argv,
                     json_t *params, bool *force_params)
{
	json_t *explicit = json_object(), *pj, *v, *old;
	const json_t *p;
	const char *arg, *value, *type, *key;
	char err[512], *name = NULL, *eq, dashed[256];
	json_error_t jerr;
	int i, rc = CTL_EXIT_USAGE;

	*force_params = false;
	for (i = 0; i < argc; i++) {
		free(name);
		name = NULL;
		arg = argv[i];
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			fprintf(stderr,
			        "ftgtctl: %s: unexpected argument '%s' (parameters are --NAME "
			        "VALUE; "
			        "see ftgtctl %s --help)\n",
			        method_name, arg, method_name);
			goto out;
		}
		name = ctl_underscore(arg + 2);
		if (name == NULL) {
			goto oom;
		}
		value = NULL;
		eq = strchr(name, '=');
		if (eq != NULL) {
			*eq = '\0';
			value = strchr(arg, '=') + 1;
		}
		if (strcmp(name, "params_json") == 0) {
			if (value == NULL && i + 1 < argc) {
				value = argv[++i];
			}
			if (value == NULL) {
				fprintf(stderr, "ftgtctl: %s: --params-json needs a JSON object\n",
				        method_name);
				goto out;
			}
			pj = json_loads(value, 0, &jerr);
			if (!json_is_object(pj)) {
				fprintf(stderr, "ftgtctl: %s: --params-json: %s\n", method_name,
				        pj == NULL ? jerr.text : "expected a JSON object");
				json_decref(pj);
				goto out;
			}
			json_object_update(params, pj);
			json_decref(pj);
			*force_params = true;
			continue;
		}
		p = NULL;
		if (method != NULL) {
			p = ctl_schema_param(method, name);
			if (p == NULL) {
				fprintf(stderr,
				        "ftgtctl: %s: unknown parameter --%s (see ftgtctl %s "
				        "--help; "
				        "--params-json passes anything)\n",
				        method_name, arg + 2, method_name);
				goto out;
			}
		}
		key = p != NULL ? ctl_json_str(p, "name", name) : name;
		type = p != NULL ? ctl_json_str(p, "type", "any") : NULL;
		if (value == NULL) {
			/* "--flag" alone means true for bool params (and for unknown ones). */
			bool is_bool = type != NULL && strcmp(type, "bool") == 0;
			const char *next = i + 1 < argc ? argv[i + 1] : NULL;

			/* Methods take no positional arguments: a non-option is this one's value. */
			if (next != NULL && (strncmp(next, "--", 2) != 0 || next[2] == '\0')) {
				value = argv[++i];
			} else if (is_bool || type == NULL) {
				value = "true";
			} else {
				ctl_dashed(key, dashed, sizeof(dashed));
				fprintf(stderr, "ftgtctl: %s: --%s needs a value (%s)\n",
				        method_name, dashed, type);
				goto out;
			}
		}
		v = ctl_value_from_arg(type, value, err, sizeof(err));
		if (v == NULL) {
			ctl_dashed(key, dashed, sizeof(dashed));
			fprintf(stderr, "ftgtctl: %s: --%s: %s\n", method_name, dashed, err);
			goto out;
		}
		old = json_object_get(explicit, key);
		if (old != NULL && type != NULL && strcmp(type, "string_array") == 0 &&
		    json_is_array(old)) {
			json_array_extend(old, v);
			json_decref(v);
		} else {
			if (old != NULL) {
				ctl_dashed(key, dashed, sizeof(dashed));
				fprintf(stderr, "ftgtctl: %s: --%s given twice\n", method_name,
				        dashed);
				json_decref(v);
				goto out;
			}
			json_object_set_new(explicit, key, v);
		}
	}
	/* Options given one by one override the same keys from --params-json. */
	json_object_update(params, explicit);
	rc = CTL_EXIT_OK;
	goto out;
oom:
	fprintf(stderr, "ftgtctl: out of memory\n");
	rc = CTL_EXIT_ERROR;
out:
	free(name);
	json_decref(explicit);
	return rc;
}

int
ctl_params_check_required(const char *method_name, const json_t *method, const json_t *params)
{
	const json_t *p;
	char dashed[256];
	size_t i;

	json_array_foreach(json_object_get(method, "params"), i, p)
	{
		if (json_is_true(json_object_get(p, "required")) &&
		    json_object_get(params, ctl_json_str(p, "name", "")) == NULL) {
			ctl_dashed(ctl_json_str(p, "name", ""), dashed, sizeof(dashed));
			fprintf(stderr,
			        "ftgtctl: %s: missing required parameter --%s (see ftgtctl %s "
			        "--help)\n",
			        method_name, dashed, method_name);
			return CTL_EXIT_USAGE;
		}
	}
	return CTL_EXIT_OK;
}

/* ---- help ---------------------------------------------------------------------------- */

void
ctl_method_help(FILE *out, const char *name, const json_t *method, const char *area)
{
	const json_t *p, *a, *e;
	char dashed[256], typebuf[300];
	size_t i, j, w = 0, len;

	if (method == NULL) {
		fprintf(out,
		        "%s: not in ftgtctl's schema. It may still exist in the daemon: "
		        "parameters\n"
		        "are passed as given (--NAME VALUE, values guessed: integer, true/false, "
		        "JSON\n"
		        "object/array, else string) or with --params-json '{...}'.\n",
		        name);
		return;
	}
	fprintf(out, "usage: ftgtctl %s", ctl_json_str(method, "name", name));
	json_array_foreach(json_object_get(method, "params"), i, p)
	{
		ctl_dashed(ctl_json_str(p, "name", ""), dashed, sizeof(dashed));
		if (json_is_true(json_object_get(p, "required"))) {
			fprintf(out, " --%s %s", dashed, ctl_json_str(p, "type", "any"));
		} else {
			fprintf(out, " [--%s %s]", dashed, ctl_json_str(p, "type", "any"));
		}
	}
	fprintf(out, "\n\n%s\n", ctl_json_str(method, "summary", ""));
	if (json_object_get(method, "description") != NULL) {
		fprintf(out, "\n%s\n", ctl_json_str(method, "description", ""));
	}
	fprintf(out, "\narea: %s\n", area != NULL ? area : "?");
	if (json_array_size(json_object_get(method, "aliases")) > 0) {
		fprintf(out, "aliases:");
		json_array_foreach(json_object_get(method, "aliases"), i, a)
		{
			fprintf(out, " %s", json_string_value(a));
		}
		fprintf(out, "\n");
	}
	if (json_array_size(json_object_get(method, "params")) == 0) {
		fprintf(out, "\nNo parameters.\n");
	} else {
		fprintf(out, "\nParameters:\n");
		json_array_foreach(json_object_get(method, "params"), i, p)
		{
			len = strlen(ctl_json_str(p, "name", "")) +
			      strlen(ctl_json_str(p, "type", "any"));
			w = len > w ? len : w;
		}
		json_array_foreach(json_object_get(method, "params"), i, p)
		{
			ctl_dashed(ctl_json_str(p, "name", ""), dashed, sizeof(dashed));
			snprintf(typebuf, sizeof(typebuf), "--%s %s", dashed,
			         ctl_json_str(p, "type", "any"));
			fprintf(out, "  %-*s  %s  %s", (int)w + 3, typebuf,
			        json_is_true(json_object_get(p, "required")) ? "required"
			                                                     : "optional",
			        ctl_json_str(p, "help", ""));
			if (json_array_size(json_object_get(p, "enum")) > 0) {
				fprintf(out, " (one of:");
				json_array_foreach(json_object_get(p, "enum"), j, e)
				{
					fprintf(out, " %s", json_string_value(e));
				}
				fprintf(out, ")");
			}
			if (json_object_get(p, "default") != NULL) {
				char *d = ctl_value_text(json_object_get(p, "default"));

				fprintf(out, " Default: %s.", d != NULL ? d : "?");
				free(d);
			}
			fprintf(out, "\n");
		}
		fprintf(out,
		        "\nTypes: integers accept 0x hex; bool: true/false (a bool option alone "
		        "means true);\nobject/array: JSON text; string_array: repeat the option "
		        "or give a JSON array.\n--params-json '{...}' gives params as one JSON "
		        "object.\n");
	}
	if (json_object_get(method, "result") != NULL) {
		fprintf(out, "\nResult: %s\n", ctl_json_str(method, "result", ""));
	}
}

void
ctl_schema_list(FILE *out, const char *only_area)
{
	const json_t *area, *m;
	size_t i, j, w = 0, len;

	json_array_foreach(ctl_schema_areas(), i, area)
	{
		json_array_foreach(json_object_get(area, "methods"), j, m)
		{
			len = strlen(ctl_json_str(m, "name", ""));
			w = len > w ? len : w;
		}
	}
	json_array_foreach(ctl_schema_areas(), i, area)
	{
		if (only_area != NULL && strcmp(only_area, ctl_json_str(area, "area", "")) != 0) {
			continue;
		}
		fprintf(out, "%s%s:\n", i > 0 && only_area == NULL ? "\n" : "",
		        ctl_json_str(area, "area", "?"));
		json_array_foreach(json_object_get(area, "methods"), j, m)
		{
			fprintf(out, "  %-*s  %s\n", (int)w, ctl_json_str(m, "name", ""),
			        ctl_json_str(m, "summary", ""));
		}
	}
}
