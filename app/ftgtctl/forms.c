/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Friendly forms: short commands ("ftgtctl bdev list") that call one method with params
 * from positional arguments and print the result as a table. Everything about a form is
 * one entry in g_forms below; a new front end (nvmf, iscsi) adds its entries and views
 * there.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftgtctl.h"

/* ---- views: how a result is shown --------------------------------------------------- */

enum ctl_col_kind {
	COL_VALUE,       /* the value of key */
	COL_BYTES,       /* key is a byte count: "64.0 MiB" */
	COL_BLOCKS_SIZE, /* key (blocks) * key2 (block size) as bytes */
	COL_PCT,         /* key / (key + key2) as a percentage: busy vs idle ticks */
	COL_NAMES,       /* key is an array of objects: their "name"s, comma separated */
};

struct ctl_col {
	const char *header;
	const char *key; /* "a|b": the first key present */
	enum ctl_col_kind kind;
	const char *key2;
};

#define CTL_MAX_COLS 10

struct ctl_view {
	/* Key of the rows array in the result ("reactors"); NULL: the result is the array. */
	const char *rows;
	struct ctl_col cols[CTL_MAX_COLS];
	const char *empty; /* printed when there are no rows */
	/* Instead of a table. */
	void (*print)(const json_t *result);
};

static const json_t *
ctl_row_get(const json_t *row, const char *keys)
{
	char buf[128], *save = NULL, *k;
	const json_t *v;

	snprintf(buf, sizeof(buf), "%s", keys);
	for (k = strtok_r(buf, "|", &save); k != NULL; k = strtok_r(NULL, "|", &save)) {
		v = json_object_get(row, k);
		if (v != NULL) {
			return v;
		}
	}
	return NULL;
}

static double
ctl_num(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : 0;
}

static char *
ctl_col_text(const struct ctl_col *col, const json_t *row)
{
	const json_t *v = ctl_row_get(row, col->key), *v2, *e;
	char buf[64], *out, *name;
	size_t i, len;
	double a, b;

	switch (col->kind) {
	case COL_BYTES:
		if (!json_is_number(v)) {
			break;
		}
		ctl_format_bytes(ctl_num(v), buf, sizeof(buf));
		return strdup(buf);
	case COL_BLOCKS_SIZE:
		v2 = ctl_row_get(row, col->key2);
		if (!json_is_number(v) || !json_is_number(v2)) {
			break;
		}
		ctl_format_bytes(ctl_num(v) * ctl_num(v2), buf, sizeof(buf));
		return strdup(buf);
	case COL_PCT:
		v2 = ctl_row_get(row, col->key2);
		if (!json_is_number(v) || !json_is_number(v2)) {
			break;
		}
		a = ctl_num(v);
		b = ctl_num(v2);
		snprintf(buf, sizeof(buf), "%.1f%%", a + b > 0 ? 100.0 * a / (a + b) : 0.0);
		return strdup(buf);
	case COL_NAMES:
		if (!json_is_array(v)) {
			break;
		}
		len = 1;
		json_array_foreach(v, i, e)
		{
			len += strlen(ctl_json_str(e, "name", "?")) + 1;
		}
		out = calloc(1, len);
		if (out == NULL) {
			return NULL;
		}
		json_array_foreach(v, i, e)
		{
			name = (char *)ctl_json_str(e, "name", "?");
			if (i > 0) {
				strcat(out, ",");
			}
			strcat(out, name);
		}
		return out;
	case COL_VALUE:
		break;
	}
	return v != NULL ? ctl_value_text(v) : strdup("-");
}

static void
ctl_view_print(const struct ctl_view *view, const json_t *result)
{
	const char *hdr[CTL_MAX_COLS];
	char *cells[CTL_MAX_COLS];
	const json_t *rows, *row;
	struct ctl_table *t;
	size_t n, i, c;

	if (view->print != NULL) {
		view->print(result);
		return;
	}
	rows = view->rows != NULL ? json_object_get(result, view->rows) : result;
	if (!json_is_array(rows)) {
		/* Not the shape this view expects (a newer daemon?): show it as it is. */
		ctl_print_human(stdout, result);
		return;
	}
	if (json_array_size(rows) == 0) {
		if (view->empty != NULL) {
			printf("%s\n", view->empty);
		}
		return;
	}
	for (n = 0; n < CTL_MAX_COLS && view->cols[n].header != NULL; n++) {
		hdr[n] = view->cols[n].header;
	}
	t = ctl_table_new(n, hdr);
	json_array_foreach(rows, i, row)
	{
		for (c = 0; c < n; c++) {
			cells[c] = ctl_col_text(&view->cols[c], row);
		}
		ctl_table_add(t, (const char *const *)cells);
		for (c = 0; c < n; c++) {
			free(cells[c]);
		}
	}
	ctl_table_print(stdout, t, "");
	ctl_table_free(t);
}

/* thread_get_pollers: one row per poller. */
static void
ctl_print_pollers(const json_t *result)
{
	static const char *const kinds[] = {"active", "timed", "paused"};
	static const char *const hdr[] = {"thread", "poller", "type",        "state",
	                                  "runs",   "busy",   "period_ticks"};
	const json_t *threads = json_object_get(result, "threads"), *th, *p;
	char key[32], *cells[7];
	struct ctl_table *t;
	size_t i, j, k, c;

	if (!json_is_array(threads)) {
		ctl_print_human(stdout, result);
		return;
	}
	t = ctl_table_new(7, hdr);
	json_array_foreach(threads, i, th)
	{
		for (k = 0; k < 3; k++) {
			snprintf(key, sizeof(key), "%s_pollers", kinds[k]);
			json_array_foreach(json_object_get(th, key), j, p)
			{
				cells[0] = strdup(ctl_json_str(th, "name", "?"));
				cells[1] = ctl_value_text(json_object_get(p, "name"));
				cells[2] = strdup(kinds[k]);
				cells[3] = ctl_value_text(json_object_get(p, "state"));
				cells[4] = ctl_value_text(json_object_get(p, "run_count"));
				cells[5] = ctl_value_text(json_object_get(p, "busy_count"));
				cells[6] = ctl_value_text(json_object_get(p, "period_ticks"));
				ctl_table_add(t, (const char *const *)cells);
				for (c = 0; c < 7; c++) {
					free(cells[c]);
				}
			}
		}
	}
	if (ctl_table_rows(t) == 0) {
		printf("no pollers\n");
	} else {
		ctl_table_print(stdout, t, "");
	}
	ctl_table_free(t);
}

static void
ctl_print_version(const json_t *result)
{
	const char *v = json_string_value(json_object_get(result, "version"));

	if (v != NULL) {
		printf("%s\n", v);
	} else {
		ctl_print_human(stdout, result);
	}
}

/* log_get_flags: {"flag": enabled, ...} as a table. */
static void
ctl_print_flags(const json_t *result)
{
	static const char *const hdr[] = {"flag", "enabled"};
	const char *cells[2], *k;
	struct ctl_table *t;
	const json_t *v;

	if (!json_is_object(result)) {
		ctl_print_human(stdout, result);
		return;
	}
	t = ctl_table_new(2, hdr);
	json_object_foreach((json_t *)result, k, v)
	{
		cells[0] = k;
		cells[1] = json_is_true(v) ? "yes" : "no";
		ctl_table_add(t, cells);
	}
	ctl_table_print(stdout, t, "");
	ctl_table_free(t);
}

static const struct ctl_view g_view_reactors = {
        .rows = "reactors",
        .cols = {{"lcore", "lcore", COL_VALUE, NULL},
                 {"busy", "busy", COL_PCT, "idle"},
                 {"idle", "idle", COL_PCT, "busy"},
                 {"threads", "lw_threads|threads", COL_NAMES, NULL}},
};

static const struct ctl_view g_view_threads = {
        .rows = "threads",
        .cols = {{"name", "name", COL_VALUE, NULL},
                 {"id", "id", COL_VALUE, NULL},
                 {"cpumask", "cpumask", COL_VALUE, NULL},
                 {"busy", "busy", COL_PCT, "idle"},
                 {"active_pollers", "active_pollers_count", COL_VALUE, NULL},
                 {"timed_pollers", "timed_pollers_count", COL_VALUE, NULL},
                 {"paused_pollers", "paused_pollers_count", COL_VALUE, NULL}},
};

static const struct ctl_view g_view_bdevs = {
        .rows = NULL,
        .cols = {{"name", "name", COL_VALUE, NULL},
                 {"product", "product_name", COL_VALUE, NULL},
                 {"block_size", "block_size", COL_VALUE, NULL},
                 {"blocks", "num_blocks", COL_VALUE, NULL},
                 {"size", "num_blocks", COL_BLOCKS_SIZE, "block_size"},
                 {"claimed", "claimed", COL_VALUE, NULL}},
        .empty = "no bdevs",
};

static const struct ctl_view g_view_nvmf_subsystems = {
        .rows = NULL,
        .cols = {{"nqn", "nqn", COL_VALUE, NULL},
                 {"type", "subtype", COL_VALUE, NULL},
                 {"any_host", "allow_any_host", COL_VALUE, NULL},
                 {"namespaces", "namespaces", COL_NAMES, NULL},
                 {"controllers", "num_controllers", COL_VALUE, NULL},
                 {"qpairs", "num_qpairs", COL_VALUE, NULL}},
        .empty = "no NVMe-oF subsystems",
};

static const struct ctl_view g_view_iscsi_targets = {
        .rows = NULL,
        .cols = {{"name", "name", COL_VALUE, NULL},
                 {"alias", "alias_name", COL_VALUE, NULL},
                 {"queue_depth", "queue_depth", COL_VALUE, NULL},
                 {"require_chap", "require_chap", COL_VALUE, NULL}},
        .empty = "no iSCSI target nodes",
};

static const struct ctl_view g_view_iostat = {
        .rows = "bdevs",
        .cols = {{"name", "name", COL_VALUE, NULL},
                 {"reads", "num_read_ops", COL_VALUE, NULL},
                 {"read", "bytes_read", COL_BYTES, NULL},
                 {"writes", "num_write_ops", COL_VALUE, NULL},
                 {"written", "bytes_written", COL_BYTES, NULL},
                 {"unmaps", "num_unmap_ops", COL_VALUE, NULL},
                 {"unmapped", "bytes_unmapped", COL_BYTES, NULL}},
        .empty = "no bdevs",
};

static const struct ctl_view g_view_pollers = {.print = ctl_print_pollers};
static const struct ctl_view g_view_version = {.print = ctl_print_version};
static const struct ctl_view g_view_flags = {.print = ctl_print_flags};

/* ---- forms ---------------------------------------------------------------------------- */

struct ctl_form;
typedef int (*ctl_form_build_fn)(const struct ctl_form *f, int argc, char **argv, json_t *params);
typedef int (*ctl_form_run_fn)(struct ctl_opts *opts, const struct ctl_form *f, int argc,
                               char **argv);

struct ctl_form {
	const char *words; /* "bdev create malloc" */
	const char *args;  /* usage of the positional arguments: "NAME SIZE_MB [BLOCK_SIZE]" */
	int min_args;
	int max_args;
	const char *summary;
	const char *method; /* the method called (NULL: run does everything) */
	/* Positional argument i becomes param pos[i], typed by the method's schema. */
	const char *pos[4];
	const char *fixed; /* JSON object of params always sent: "{\"sig_name\":\"SIGTERM\"}" */
	ctl_form_build_fn build;     /* params that need computing */
	ctl_form_run_fn run;         /* a form that is more than one call */
	const struct ctl_view *view; /* NULL: generic output; a true result prints nothing */
	int call_flags;
	/* Completion of the first argument: the "name"s in this method's result array. */
	const char *names_from;
};

static int ctl_form_methods(struct ctl_opts *opts, const struct ctl_form *f, int argc, char **argv);
static int ctl_form_config_save(struct ctl_opts *opts, const struct ctl_form *f, int argc,
                                char **argv);
static int ctl_form_config_load(struct ctl_opts *opts, const struct ctl_form *f, int argc,
                                char **argv);
static int ctl_form_bdev_delete(struct ctl_opts *opts, const struct ctl_form *f, int argc,
                                char **argv);
static int ctl_build_malloc(const struct ctl_form *f, int argc, char **argv, json_t *params);

static const struct ctl_form g_forms[] = {
        {.words = "version",
         .summary = "Version of the running ftgtd.",
         .method = "ftgt_get_version",
         .view = &g_view_version},
        {.words = "methods",
         .args = "[--all]",
         .max_args = 1,
         .summary = "Methods of the daemon (--all: all ftgtctl knows).",
         .method = "rpc_get_methods",
         .run = ctl_form_methods},
        {.words = "reactors",
         .summary = "Reactors: lcore, busy%, idle%, threads.",
         .method = "framework_get_reactors",
         .view = &g_view_reactors},
        {.words = "threads",
         .summary = "Threads and their busy time and pollers.",
         .method = "thread_get_stats",
         .view = &g_view_threads},
        {.words = "pollers",
         .summary = "Pollers of every thread.",
         .method = "thread_get_pollers",
         .view = &g_view_pollers},
        {.words = "config save",
         .args = "[FILE]",
         .max_args = 1,
         .summary = "Save the configuration (JSON) to FILE or stdout.",
         .method = "save_config",
         .run = ctl_form_config_save},
        {.words = "config load",
         .args = "FILE",
         .min_args = 1,
         .max_args = 1,
         .summary = "Apply a saved configuration ('-': stdin).",
         .method = "load_config",
         .run = ctl_form_config_load},
        {.words = "shutdown",
         .summary = "Stop ftgtd in order (SIGTERM).",
         .method = "spdk_kill_instance",
         .fixed = "{\"sig_name\":\"SIGTERM\"}",
         .call_flags = CTL_CALL_EOF_OK},
        {.words = "log level", .summary = "Show the log level.", .method = "log_get_level"},
        {.words = "log level",
         .args = "LEVEL",
         .min_args = 1,
         .max_args = 1,
         .summary = "Set the log level: ERROR, WARNING, NOTICE, INFO, DEBUG.",
         .method = "log_set_level",
         .pos = {"level"}},
        {.words = "log print-level",
         .summary = "Show the console (stderr) log level.",
         .method = "log_get_print_level"},
        {.words = "log print-level",
         .args = "LEVEL",
         .min_args = 1,
         .max_args = 1,
         .summary = "Set the console (stderr) log level.",
         .method = "log_set_print_level",
         .pos = {"level"}},
        {.words = "log flags",
         .summary = "Debug log components and whether each is on.",
         .method = "log_get_flags",
         .view = &g_view_flags},
        {.words = "log enable",
         .args = "FLAG",
         .min_args = 1,
         .max_args = 1,
         .summary = "Enable a component's debug lines (\"all\": every one).",
         .method = "log_set_flag",
         .pos = {"flag"}},
        {.words = "log disable",
         .args = "FLAG",
         .min_args = 1,
         .max_args = 1,
         .summary = "Disable a component's debug lines.",
         .method = "log_clear_flag",
         .pos = {"flag"}},
        {.words = "bdev list",
         .args = "[NAME]",
         .max_args = 1,
         .summary = "Block devices: name, product, size, claimed.",
         .method = "bdev_get_bdevs",
         .pos = {"name"},
         .view = &g_view_bdevs,
         .names_from = "bdev_get_bdevs"},
        {.words = "bdev stats",
         .args = "[NAME]",
         .max_args = 1,
         .summary = "I/O statistics of block devices.",
         .method = "bdev_get_iostat",
         .pos = {"name"},
         .view = &g_view_iostat,
         .names_from = "bdev_get_bdevs"},
        {.words = "nvmf list",
         .summary = "NVMe-oF subsystems: NQN, namespaces, controllers, queue pairs.",
         .method = "nvmf_get_subsystems",
         .view = &g_view_nvmf_subsystems},
        {.words = "nvmf stats",
         .summary = "NVMe-oF target statistics (per poll group and in total).",
         .method = "nvmf_get_stats"},
        {.words = "iscsi list",
         .summary = "iSCSI target nodes.",
         .method = "iscsi_get_target_nodes",
         .view = &g_view_iscsi_targets},
        {.words = "iscsi stats",
         .summary = "iSCSI sessions, connections and login counts.",
         .method = "iscsi_get_stats"},
        {.words = "bdev create malloc",
         .args = "NAME SIZE_MB [BLOCK_SIZE]",
         .min_args = 2,
         .max_args = 3,
         .summary = "Create a RAM disk (SIZE_MB: MiB or 1G; 512 B blocks).",
         .method = "bdev_malloc_create",
         .build = ctl_build_malloc},
        {.words = "bdev delete",
         .args = "NAME",
         .min_args = 1,
         .max_args = 1,
         .summary = "Delete a block device (whatever its module).",
         .method = "bdev_get_bdevs",
         .run = ctl_form_bdev_delete,
         .names_from = "bdev_get_bdevs"},
};

#define CTL_NFORMS (sizeof(g_forms) / sizeof(g_forms[0]))

/* Word i of a form ("bdev create malloc", 1 -> "create") into buf; false past the end. */
static bool
ctl_form_word(const struct ctl_form *f, int i, char *buf, size_t len)
{
	const char *p = f->words, *end;

	for (;;) {
		end = strchr(p, ' ');
		if (i == 0) {
			size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

			snprintf(buf, len, "%.*s", (int)n, p);
			return true;
		}
		if (end == NULL) {
			return false;
		}
		p = end + 1;
		i--;
	}
}

static int
ctl_form_nwords(const struct ctl_form *f)
{
	char buf[64];
	int n = 0;

	while (ctl_form_word(f, n, buf, sizeof(buf))) {
		n++;
	}
	return n;
}

/* How many of argv's first words the form's words match (all of them, or 0). */
static int
ctl_form_match(const struct ctl_form *f, int argc, char **argv)
{
	char buf[64];
	int i, n = ctl_form_nwords(f);

	if (argc < n) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		ctl_form_word(f, i, buf, sizeof(buf));
		if (strcmp(buf, argv[i]) != 0) {
			return 0;
		}
	}
	return n;
}

/* Ask the daemon (briefly) for the names of its objects; silent when it cannot. */
static void
ctl_complete_names(const struct ctl_opts *opts, const char *method, const char *cur, FILE *out)
{
	struct ctl_opts quick = *opts;
	json_t *result = NULL;
	const json_t *o;
	const char *name;
	size_t i;

	quick.timeout_ms = 1000;
	if (ctl_call(&quick, method, NULL, false, 0, &result) != CTL_EXIT_OK) {
		return;
	}
	json_array_foreach(result, i, o)
	{
		name = json_string_value(json_object_get(o, "name"));
		if (name != NULL && strncmp(name, cur, strlen(cur)) == 0) {
			fprintf(out, "%s\n", name);
		}
	}
	json_decref(result);
}

bool
ctl_forms_is_group(const char *word)
{
	char buf[64];
	size_t i;

	for (i = 0; i < CTL_NFORMS; i++) {
		ctl_form_word(&g_forms[i], 0, buf, sizeof(buf));
		if (strcmp(buf, word) == 0) {
			return true;
		}
	}
	return false;
}

void
ctl_forms_help(FILE *out, const char *prefix)
{
	char usage[160];
	size_t i, plen = prefix != NULL ? strlen(prefix) : 0;

	for (i = 0; i < CTL_NFORMS; i++) {
		const struct ctl_form *f = &g_forms[i];

		if (prefix != NULL && (strncmp(f->words, prefix, plen) != 0 ||
		                       (f->words[plen] != '\0' && f->words[plen] != ' '))) {
			continue;
		}
		snprintf(usage, sizeof(usage), "%s%s%s", f->words, f->args ? " " : "",
		         f->args ? f->args : "");
		fprintf(out, "  %-45s %s\n", usage, f->summary);
	}
}

void
ctl_forms_complete(const struct ctl_opts *opts, int argc, char **argv, const char *cur, FILE *out)
{
	char buf[64], prev[64] = "";
	size_t i;

	for (i = 0; i < CTL_NFORMS; i++) {
		const struct ctl_form *f = &g_forms[i];
		int k;
		bool ok = true;

		for (k = 0; k < argc && ok; k++) {
			ok = ctl_form_word(f, k, buf, sizeof(buf)) && strcmp(buf, argv[k]) == 0;
		}
		if (!ok || !ctl_form_word(f, argc, buf, sizeof(buf))) {
			continue;
		}
		/* Forms sharing words come one after another: print each word once. */
		if (strncmp(buf, cur, strlen(cur)) == 0 && strcmp(buf, prev) != 0) {
			fprintf(out, "%s\n", buf);
		}
		snprintf(prev, sizeof(prev), "%s", buf);
	}
	/* A form whose words are all typed and that takes a FILE: let the shell complete it. */
	for (i = 0; i < CTL_NFORMS; i++) {
		const struct ctl_form *f = &g_forms[i];
		int n = ctl_form_nwords(f);

		if (argc >= n && ctl_form_match(f, argc, argv) == n && f->args != NULL &&
		    strstr(f->args, "FILE") != NULL && argc - n < f->max_args) {
			fprintf(out, "__files__\n");
			break;
		}
		if (opts != NULL && f->names_from != NULL && argc == n &&
		    ctl_form_match(f, argc, argv) == n) {
			ctl_complete_names(opts, f->names_from, cur, out);
			break;
		}
	}
}

/* ---- running a form ------------------------------------------------------------------- */

static int
ctl_form_output(const struct ctl_opts *opts, const struct ctl_form *f, const json_t *result)
{
	if (result == NULL) {
		return CTL_EXIT_OK;
	}
	if (opts->json_output) {
		ctl_print_json(stdout, result);
	} else if (f->view != NULL) {
		ctl_view_print(f->view, result);
	} else if (!json_is_true(result)) {
		ctl_print_human(stdout, result);
	}
	return CTL_EXIT_OK;
}

static int
ctl_form_call(struct ctl_opts *opts, const struct ctl_form *f, int argc, char **argv)
{
	const json_t *method = ctl_schema_method(f->method, NULL), *p;
	json_t *params, *v, *result = NULL;
	char err[256];
	int i, rc;

	params = f->fixed != NULL ? json_loads(f->fixed, 0, NULL) : json_object();
	if (params == NULL) {
		fprintf(stderr, "ftgtctl: out of memory\n");
		return CTL_EXIT_ERROR;
	}
	for (i = 0; i < argc && i < 4 && f->pos[i] != NULL; i++) {
		p = ctl_schema_param(method, f->pos[i]);
		v = ctl_value_from_arg(p != NULL ? ctl_json_str(p, "type", "string") : "string",
		                       argv[i], err, sizeof(err));
		if (v == NULL) {
			fprintf(stderr, "ftgtctl: %s: %s\n", f->words, err);
			json_decref(params);
			return CTL_EXIT_USAGE;
		}
		json_object_set_new(params, f->pos[i], v);
	}
	if (f->build != NULL) {
		rc = f->build(f, argc, argv, params);
		if (rc != CTL_EXIT_OK) {
			json_decref(params);
			return rc;
		}
	}
	rc = ctl_call(opts, f->method, params, false, f->call_flags, &result);
	json_decref(params);
	if (rc == CTL_EXIT_OK) {
		rc = ctl_form_output(opts, f, result);
	}
	json_decref(result);
	return rc;
}

int
ctl_forms_run(struct ctl_opts *opts, int argc, char **argv)
{
	const struct ctl_form *best = NULL, *f;
	char **args;
	int nargs = 0, i, n, best_words = 0;
	bool help = false;
	size_t k;
	int rc;

	if (argc == 0 || !ctl_forms_is_group(argv[0])) {
		return -1;
	}
	args = calloc((size_t)argc, sizeof(*args));
	if (args == NULL) {
		return CTL_EXIT_ERROR;
	}
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			opts->json_output = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			help = true;
		} else {
			args[nargs++] = argv[i];
		}
	}
	/* The longest words that match; among those, the form the argument count fits. */
	for (k = 0; k < CTL_NFORMS; k++) {
		n = ctl_form_match(&g_forms[k], nargs, args);
		if (n > best_words) {
			best_words = n;
			best = NULL;
		}
		if (n > 0 && n == best_words && best == NULL) {
			best = &g_forms[k];
		}
		if (n > 0 && n == best_words && nargs - n >= g_forms[k].min_args &&
		    nargs - n <= g_forms[k].max_args &&
		    (best->min_args > nargs - n || best->max_args < nargs - n)) {
			best = &g_forms[k];
		}
	}
	if (help) {
		char prefix[128] = "";

		for (i = 0; i < (best != NULL ? best_words : 1); i++) {
			snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), "%s%s",
			         i ? " " : "", args[i]);
		}
		printf("usage: ftgtctl [-s SOCKET] [--json] [-t SECONDS] %s ...\n\n", prefix);
		ctl_forms_help(stdout, prefix);
		if (best == NULL || best_words == 1) {
			/* "ftgtctl bdev --help": also the area's methods. */
			for (k = 0; k < json_array_size(ctl_schema_areas()); k++) {
				const json_t *area = json_array_get(ctl_schema_areas(), k);

				if (strcmp(ctl_json_str(area, "area", ""), args[0]) == 0) {
					printf("\nMethods (ftgtctl METHOD --help):\n");
					ctl_schema_list(stdout, args[0]);
				}
			}
		}
		free(args);
		return CTL_EXIT_OK;
	}
	if (best == NULL && nargs == 1) {
		fprintf(stderr, "ftgtctl: %s: which one? The %s commands are:\n", args[0], args[0]);
		ctl_forms_help(stderr, args[0]);
		free(args);
		return CTL_EXIT_USAGE;
	}
	if (best == NULL) {
		fprintf(stderr, "ftgtctl: unknown command '%s %s'; the %s commands are:\n", args[0],
		        args[1], args[0]);
		ctl_forms_help(stderr, args[0]);
		free(args);
		return CTL_EXIT_USAGE;
	}
	f = best;
	if (nargs - best_words < f->min_args || nargs - best_words > f->max_args) {
		fprintf(stderr, "ftgtctl: usage: ftgtctl %s%s%s\n", f->words, f->args ? " " : "",
		        f->args ? f->args : "");
		free(args);
		return CTL_EXIT_USAGE;
	}
	if (f->run != NULL) {
		rc = f->run(opts, f, nargs - best_words, args + best_words);
	} else {
		rc = ctl_form_call(opts, f, nargs - best_words, args + best_words);
	}
	free(args);
	return rc;
}

/* ---- forms with their own code ------------------------------------------------------- */

static int
ctl_form_methods(struct ctl_opts *opts, const struct ctl_form *f, int argc, char **argv)
{
	static const char *const hdr[] = {"method", "summary"};
	const char *cells[2];
	const json_t *m, *name;
	json_t *result = NULL;
	struct ctl_table *t;
	size_t i;
	int rc;

	if (argc == 1) {
		if (strcmp(argv[0], "--all") != 0) {
			fprintf(stderr, "ftgtctl: usage: ftgtctl methods [--all]\n");
			return CTL_EXIT_USAGE;
		}
		if (opts->json_output) {
			ctl_print_json(stdout, ctl_schema_areas()); /* the embedded schema */
		} else {
			ctl_schema_list(stdout, NULL);
		}
		return CTL_EXIT_OK;
	}
	rc = ctl_call(opts, f->method, NULL, false, 0, &result);
	if (rc != CTL_EXIT_OK) {
		return rc;
	}
	if (opts->json_output || !json_is_array(result)) {
		ctl_print_result(opts, result);
		json_decref(result);
		return CTL_EXIT_OK;
	}
	t = ctl_table_new(2, hdr);
	json_array_foreach(result, i, name)
	{
		m = ctl_schema_method(json_string_value(name), NULL);
		cells[0] = json_string_value(name);
		cells[1] = m != NULL ? ctl_json_str(m, "summary", "") : "(not in ftgtctl's schema)";
		ctl_table_add(t, cells);
	}
	ctl_table_print(stdout, t, "");
	ctl_table_free(t);
	json_decref(result);
	return CTL_EXIT_OK;
}

static int
ctl_form_config_save(struct ctl_opts *opts, const struct ctl_form *f, int argc, char **argv)
{
	json_t *result = NULL;
	FILE *out = stdout;
	int rc;

	rc = ctl_call(opts, f->method, NULL, false, 0, &result);
	if (rc != CTL_EXIT_OK) {
		return rc;
	}
	if (argc == 1 && strcmp(argv[0], "-") != 0) {
		out = fopen(argv[0], "w");
		if (out == NULL) {
			fprintf(stderr, "ftgtctl: config save: %s: %s\n", argv[0], strerror(errno));
			json_decref(result);
			return CTL_EXIT_ERROR;
		}
	}
	ctl_print_json(out, result);
	json_decref(result);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "ftgtctl: config save: %s: %s\n", argv[0], strerror(errno));
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}

static int
ctl_form_config_load(struct ctl_opts *opts, const struct ctl_form *f, int argc, char **argv)
{
	json_t *config, *result = NULL;
	json_error_t err;
	int rc;

	if (strcmp(argv[0], "-") == 0) {
		config = json_loadf(stdin, 0, &err);
	} else {
		config = json_load_file(argv[0], 0, &err);
	}
	if (!json_is_object(config)) {
		fprintf(stderr, "ftgtctl: config load: %s: %s\n", argv[0],
		        config == NULL ? err.text : "expected a JSON object");
		json_decref(config);
		return CTL_EXIT_ERROR;
	}
	rc = ctl_call(opts, f->method, config, true, 0, &result);
	json_decref(config);
	if (rc == CTL_EXIT_OK) {
		rc = ctl_form_output(opts, f, result);
	}
	json_decref(result);
	return rc;
}

/* Product name (bdev_get_bdevs) -> the method that deletes such a bdev. */
static const struct {
	const char *product;
	const char *method;
} g_bdev_deleters[] = {
        {"Malloc disk", "bdev_malloc_delete"}, {"Null disk", "bdev_null_delete"},
        {"URING bdev", "bdev_uring_delete"},   {"AIO disk", "bdev_aio_delete"},
        {"Error disk", "bdev_error_delete"},   {"Split Disk", "bdev_split_delete"},
        {"Delay disk", "bdev_delay_delete"},   {"Passthru disk", "bdev_passthru_delete"},
};

static int
ctl_form_bdev_delete(struct ctl_opts *opts, const struct ctl_form *f, int argc, char **argv)
{
	const char *product, *method = NULL;
	char guess[96];
	json_t *params, *result = NULL;
	const json_t *bdev;
	size_t i;
	int rc;

	params = json_pack("{s:s}", "name", argv[0]);
	rc = ctl_call(opts, "bdev_get_bdevs", params, false, 0, &result);
	if (rc != CTL_EXIT_OK) {
		json_decref(params);
		return rc;
	}
	bdev = json_is_array(result) ? json_array_get(result, 0) : result;
	product = ctl_json_str(bdev, "product_name", NULL);
	if (product == NULL) {
		fprintf(stderr, "ftgtctl: bdev delete: no bdev named '%s'\n", argv[0]);
		rc = CTL_EXIT_ERROR;
		goto out;
	}
	for (i = 0; i < sizeof(g_bdev_deleters) / sizeof(g_bdev_deleters[0]); i++) {
		if (strcasecmp(g_bdev_deleters[i].product, product) == 0) {
			method = g_bdev_deleters[i].method;
		}
	}
	if (method == NULL) {
		/* "Foo disk" -> bdev_foo_delete, when the schema knows such a method. */
		snprintf(guess, sizeof(guess), "bdev_%.*s_delete", (int)strcspn(product, " "),
		         product);
		for (i = 0; guess[i] != '\0'; i++) {
			guess[i] = (char)tolower((unsigned char)guess[i]);
		}
		if (ctl_schema_method(guess, NULL) != NULL) {
			method = guess;
		}
	}
	if (method == NULL) {
		fprintf(stderr,
		        "ftgtctl: bdev delete: %s is a '%s' bdev; ftgtctl does not know its delete "
		        "method (see ftgtctl methods --all)\n",
		        argv[0], product);
		rc = CTL_EXIT_ERROR;
		goto out;
	}
	json_decref(result);
	result = NULL;
	rc = ctl_call(opts, method, params, false, 0, &result);
	if (rc == CTL_EXIT_OK) {
		rc = ctl_form_output(opts, f, result);
	}
out:
	json_decref(params);
	json_decref(result);
	return rc;
}

/* "64" (MiB), "64M", "1G", "512K", "1T" -> bytes. */
static int
ctl_parse_size_mb(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	char *end;
	int shift = 20;

	if (!isdigit((unsigned char)s[0])) {
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		return -EINVAL;
	}
	switch (toupper((unsigned char)*end)) {
	case '\0':
	case 'M':
		shift = 20;
		break;
	case 'K':
		shift = 10;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0' && end[1] != '\0' && strcasecmp(end + 1, "iB") != 0 &&
	    strcasecmp(end + 1, "B") != 0) {
		return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift)) {
		return -EINVAL;
	}
	*bytes = (uint64_t)v << shift;
	return 0;
}

static int
ctl_build_malloc(const struct ctl_form *f, int argc, char **argv, json_t *params)
{
	uint64_t bytes, block_size = 512;
	json_t *v;
	char err[128];

	if (ctl_parse_size_mb(argv[1], &bytes) != 0 || bytes == 0) {
		fprintf(stderr, "ftgtctl: %s: bad size '%s' (MiB, or a number with K/M/G/T)\n",
		        f->words, argv[1]);
		return CTL_EXIT_USAGE;
	}
	if (argc > 2) {
		v = ctl_value_from_arg("uint32", argv[2], err, sizeof(err));
		if (v == NULL || json_integer_value(v) == 0) {
			fprintf(stderr, "ftgtctl: %s: bad block size '%s'\n", f->words, argv[2]);
			json_decref(v);
			return CTL_EXIT_USAGE;
		}
		block_size = (uint64_t)json_integer_value(v);
		json_decref(v);
	}
	if (bytes % block_size != 0) {
		fprintf(stderr, "ftgtctl: %s: size %s is not a multiple of the block size %lu\n",
		        f->words, argv[1], (unsigned long)block_size);
		return CTL_EXIT_USAGE;
	}
	json_object_set_new(params, "name", json_string(argv[0]));
	json_object_set_new(params, "num_blocks", json_integer((json_int_t)(bytes / block_size)));
	json_object_set_new(params, "block_size", json_integer((json_int_t)block_size));
	return CTL_EXIT_OK;
}
