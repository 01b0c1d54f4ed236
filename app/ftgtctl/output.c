/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Printing results: raw JSON (--json) or human-readable: a table for an array of objects
 * with the same keys, "key: value" lines for an object, the value for a scalar.
 */
#include <stdlib.h>
#include <string.h>

#include "ftgtctl.h"

struct ctl_table {
	size_t ncols;
	size_t nrows;
	size_t cap_rows;
	char **cells; /* (nrows + 1) * ncols; row 0 is the header */
};

struct ctl_table *
ctl_table_new(size_t ncols, const char *const *headers)
{
	struct ctl_table *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		return NULL;
	}
	t->ncols = ncols;
	ctl_table_add(t, headers);
	return t;
}

void
ctl_table_add(struct ctl_table *t, const char *const *cells)
{
	char **n;
	size_t i;

	if (t == NULL) {
		return;
	}
	if (t->nrows == t->cap_rows) {
		t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 8;
		n = realloc(t->cells, t->cap_rows * t->ncols * sizeof(*n));
		if (n == NULL) {
			abort(); /* a CLI: nothing sensible to do without memory */
		}
		t->cells = n;
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] != NULL ? cells[i] : "-");
	}
	t->nrows++;
}

size_t
ctl_table_rows(const struct ctl_table *t)
{
	return t != NULL && t->nrows > 0 ? t->nrows - 1 : 0;
}

static bool
ctl_is_numeric(const char *s)
{
	char *end;

	if (strcmp(s, "-") == 0) {
		return true;
	}
	if (*s == '\0') {
		return false;
	}
	(void)strtod(s, &end);
	/* "12.5%", "64.0 MiB": numbers with a unit align right too. */
	return end != s && (*end == '\0' || *end == '%' || *end == ' ');
}

void
ctl_table_print(FILE *out, const struct ctl_table *t, const char *indent)
{
	size_t *w, r, c, len;
	bool *right;
	const char *cell;

	if (t == NULL) {
		return;
	}
	w = calloc(t->ncols, sizeof(*w));
	right = calloc(t->ncols, sizeof(*right));
	if (w == NULL || right == NULL) {
		abort();
	}
	for (c = 0; c < t->ncols; c++) {
		right[c] = t->nrows > 1;
		for (r = 0; r < t->nrows; r++) {
			cell = t->cells[r * t->ncols + c];
			len = strlen(cell);
			w[c] = len > w[c] ? len : w[c];
			if (r > 0 && !ctl_is_numeric(cell)) {
				right[c] = false;
			}
		}
	}
	for (r = 0; r < t->nrows; r++) {
		fputs(indent, out);
		for (c = 0; c < t->ncols; c++) {
			cell = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols && !right[c]) {
				fprintf(out, "%s", cell); /* no trailing blanks */
			} else {
				fprintf(out, right[c] ? "%*s" : "%-*s", (int)w[c], cell);
			}
			if (c + 1 < t->ncols) {
				fputs("  ", out);
			}
		}
		fputc('\n', out);
	}
	free(w);
	free(right);
}

void
ctl_table_free(struct ctl_table *t)
{
	size_t i;

	if (t == NULL) {
		return;
	}
	for (i = 0; i < t->nrows * t->ncols; i++) {
		free(t->cells[i]);
	}
	free(t->cells);
	free(t);
}

char *
ctl_value_text(const json_t *v)
{
	if (v == NULL) {
		return strdup("-");
	}
	if (json_is_string(v)) {
		return strdup(json_string_value(v));
	}
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void
ctl_format_bytes(double bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	size_t u = 0;

	while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	if (u == 0) {
		snprintf(buf, len, "%.0f B", bytes);
	} else {
		snprintf(buf, len, "%.1f %s", bytes, units[u]);
	}
}

void
ctl_print_json(FILE *out, const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (text != NULL) {
		fprintf(out, "%s\n", text);
		free(text);
	}
}

static bool
ctl_is_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

/* An array of objects that all have the same keys (and at least one). */
static bool
ctl_is_uniform(const json_t *arr)
{
	const json_t *first = json_array_get(arr, 0), *o, *v;
	const char *k;
	size_t i;

	if (!json_is_object(first) || json_object_size(first) == 0) {
		return false;
	}
	json_array_foreach(arr, i, o)
	{
		if (!json_is_object(o) || json_object_size(o) != json_object_size(first)) {
			return false;
		}
		json_object_foreach((json_t *)first, k, v)
		{
			if (json_object_get(o, k) == NULL) {
				return false;
			}
		}
	}
	return true;
}

static void
ctl_print_table_of(FILE *out, const json_t *arr, const char *indent)
{
	const json_t *first = json_array_get(arr, 0), *o, *v;
	size_t n = json_object_size(first), i, c;
	const char **hdr = calloc(n, sizeof(*hdr));
	char **row = calloc(n, sizeof(*row));
	struct ctl_table *t;
	const char *k;

	if (hdr == NULL || row == NULL) {
		abort();
	}
	c = 0;
	json_object_foreach((json_t *)first, k, v)
	{
		hdr[c++] = k;
	}
	t = ctl_table_new(n, hdr);
	json_array_foreach(arr, i, o)
	{
		for (c = 0; c < n; c++) {
			row[c] = ctl_value_text(json_object_get(o, hdr[c]));
		}
		ctl_table_add(t, (const char *const *)row);
		for (c = 0; c < n; c++) {
			free(row[c]);
		}
	}
	ctl_table_print(out, t, indent);
	ctl_table_free(t);
	free(hdr);
	free(row);
}

static void ctl_print_object(FILE *out, const json_t *obj, int indent);

static void
ctl_print_array(FILE *out, const json_t *arr, int indent)
{
	const json_t *v;
	char pad[64], *text;
	size_t i;

	snprintf(pad, sizeof(pad), "%*s", indent, "");
	if (ctl_is_uniform(arr)) {
		ctl_print_table_of(out, arr, pad);
		return;
	}
	json_array_foreach(arr, i, v)
	{
		if (json_is_object(v)) {
			if (i > 0) {
				fputc('\n', out);
			}
			ctl_print_object(out, v, indent);
		} else {
			text = ctl_value_text(v);
			fprintf(out, "%s%s\n", pad, text != NULL ? text : "?");
			free(text);
		}
	}
}

static void
ctl_print_object(FILE *out, const json_t *obj, int indent)
{
	const json_t *v, *e;
	const char *k;
	char *text;
	size_t i;

	json_object_foreach((json_t *)obj, k, v)
	{
		fprintf(out, "%*s%s:", indent, "", k);
		if (ctl_is_scalar(v)) {
			text = ctl_value_text(v);
			fprintf(out, " %s\n", text != NULL ? text : "?");
			free(text);
		} else if (json_is_array(v) && json_array_size(v) == 0) {
			fprintf(out, " (none)\n");
		} else if (json_is_object(v) && json_object_size(v) == 0) {
			fprintf(out, " {}\n");
		} else if (json_is_array(v) && ctl_is_scalar(json_array_get(v, 0))) {
			bool all_scalar = true;

			json_array_foreach(v, i, e)
			{
				all_scalar = all_scalar && ctl_is_scalar(e);
			}
			if (all_scalar) {
				json_array_foreach(v, i, e)
				{
					text = ctl_value_text(e);
					fprintf(out, "%s%s", i ? ", " : " ",
					        text != NULL ? text : "?");
					free(text);
				}
				fputc('\n', out);
			} else {
				fputc('\n', out);
				ctl_print_array(out, v, indent + 2);
			}
		} else if (json_is_array(v)) {
			fputc('\n', out);
			ctl_print_array(out, v, indent + 2);
		} else {
			fputc('\n', out);
			ctl_print_object(out, v, indent + 2);
		}
	}
}

void
ctl_print_human(FILE *out, const json_t *v)
{
	char *text;

	if (json_is_object(v)) {
		ctl_print_object(out, v, 0);
	} else if (json_is_array(v)) {
		ctl_print_array(out, v, 0);
	} else {
		text = ctl_value_text(v);
		fprintf(out, "%s\n", text != NULL ? text : "?");
		free(text);
	}
}

void
ctl_print_result(const struct ctl_opts *opts, const json_t *result)
{
	if (opts->json_output) {
		ctl_print_json(stdout, result);
	} else {
		ctl_print_human(stdout, result);
	}
}
