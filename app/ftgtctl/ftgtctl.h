/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ftgtctl: the command-line client of ftgtd's JSON-RPC server. Private declarations
 * shared by its files.
 */
#ifndef FTGTCTL_H
#define FTGTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* Exit codes (doc/ftgtctl.md). */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_ERROR = 1,   /* the daemon answered with an error, or a broken answer */
	CTL_EXIT_USAGE = 2,   /* bad command line */
	CTL_EXIT_CONNECT = 3, /* cannot connect to the socket */
	CTL_EXIT_TIMEOUT = 4, /* no complete answer within the timeout */
};

#define CTL_DEFAULT_TIMEOUT_MS 30000

struct ctl_opts {
	const char *socket_path;
	bool json_output;
	int timeout_ms; /* < 0: wait forever */
};

/* ---- client.c: one request, one response ------------------------------------------ */

/* The daemon closed the connection without answering (only with CTL_CALL_EOF_OK). */
#define CTL_CALL_EOF_OK 0x1

/*
 * Call `method` with `params` (borrowed; NULL or an empty object sends no params unless
 * force_params). On success returns CTL_EXIT_OK and *result (a new reference; NULL when
 * the connection closed without an answer and CTL_CALL_EOF_OK was given). Otherwise
 * prints one line to stderr and returns the exit code.
 */
int ctl_call(const struct ctl_opts *opts, const char *method, const json_t *params,
             bool force_params, int flags, json_t **result);

/* ---- schema.c: the embedded schema/rpc/<area>.json ------------------------------------- */

/* Parse the embedded schema (once). Returns 0 or -EINVAL (a build problem; printed). */
int ctl_schema_load(void);
void ctl_schema_free(void);
/* {"areas":[{"area":..., "methods":[...]}, ...]} */
const json_t *ctl_schema_areas(void);
/* A method by name or alias (dashes count as underscores); area_out may be NULL. */
const json_t *ctl_schema_method(const char *name, const char **area_out);
/* A method's param by name (dashes count as underscores). */
const json_t *ctl_schema_param(const json_t *method, const char *name);
const char *ctl_json_str(const json_t *obj, const char *key, const char *dflt);
/* "num-blocks" -> "num_blocks" (malloc'd; NULL on ENOMEM). */
char *ctl_underscore(const char *s);
/* "num_blocks" -> "num-blocks" into buf. */
void ctl_dashed(const char *s, char *buf, size_t len);

/*
 * Convert a command-line value to JSON: with a schema type ("uint32", "string_array",
 * ...) or, type NULL or "any", by guessing (integer, number, true/false, null, JSON
 * object/array, else string). Returns a new reference, or NULL with a message in err.
 */
json_t *ctl_value_from_arg(const char *type, const char *arg, char *err, size_t err_len);

/*
 * Build params from "--name value" pairs (args after the method). `method` is the schema
 * entry or NULL. Handles --params-json. Returns CTL_EXIT_OK, or prints and returns
 * CTL_EXIT_USAGE. *force_params: --params-json was given (send params even if empty).
 */
int ctl_params_from_args(const char *method_name, const json_t *method, int argc, char **argv,
                         json_t *params, bool *force_params);
/* Check required params are present; prints and returns CTL_EXIT_USAGE if not. */
int ctl_params_check_required(const char *method_name, const json_t *method, const json_t *params);
/* `ftgtctl METHOD --help`. */
void ctl_method_help(FILE *out, const char *name, const json_t *method, const char *area);
/* `ftgtctl methods --all`: every method of the schema, by area. */
void ctl_schema_list(FILE *out, const char *only_area);

/* ---- output.c --------------------------------------------------------------------- */

struct ctl_table;
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
/* Adds a row; cells are copied (NULL prints "-"). */
void ctl_table_add(struct ctl_table *t, const char *const *cells);
void ctl_table_print(FILE *out, const struct ctl_table *t, const char *indent);
void ctl_table_free(struct ctl_table *t);
size_t ctl_table_rows(const struct ctl_table *t);

/* A scalar as text (strings raw, others JSON); compact JSON for containers. malloc'd. */
char *ctl_value_text(const json_t *v);
/* 1536 -> "1.5 KiB" */
void ctl_format_bytes(double bytes, char *buf, size_t len);
/* Raw JSON, pretty (--json). */
void ctl_print_json(FILE *out, const json_t *v);
/* Human-readable: tables, "key: value" lines, or the value. */
void ctl_print_human(FILE *out, const json_t *v);
void ctl_print_result(const struct ctl_opts *opts, const json_t *result);

/* ---- forms.c: friendly forms ------------------------------------------------------ */

/*
 * Run argv (after the global options) as a friendly form if one matches. Returns -1 when
 * no form's first word matches (argv is a method name), else an exit code.
 */
int ctl_forms_run(struct ctl_opts *opts, int argc, char **argv);
/* The forms part of `ftgtctl --help` (prefix NULL: every form). */
void ctl_forms_help(FILE *out, const char *prefix);
/* True when `word` is the first word of some form. */
bool ctl_forms_is_group(const char *word);
/* Candidates for completing the words after `ftgtctl` (complete.c). */
void ctl_forms_complete(const struct ctl_opts *opts, int argc, char **argv, const char *cur,
                        FILE *out);

/* ---- complete.c ------------------------------------------------------------------- */

/* `ftgtctl __complete WORD... CUR`: prints candidates for CUR, one a line. */
int ctl_complete(struct ctl_opts *opts, int argc, char **argv);

/* ---- ftgtctl.c -------------------------------------------------------------------- */

void ctl_usage(FILE *out);

#endif /* FTGTCTL_H */
