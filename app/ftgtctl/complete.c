/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `ftgtctl __complete WORD... CUR`: the candidates for the word being typed (CUR), from
 * the friendly forms and the embedded schema, so shell completion never drifts from the
 * binary. scripts/ftgtctl-completion.bash calls it. "__files__" asks the shell for file
 * names.
 */
#include <string.h>

#include "ftgtctl.h"

static bool
ctl_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
ctl_put(const char *cand, const char *cur)
{
	if (ctl_starts_with(cand, cur)) {
		printf("%s\n", cand);
	}
}

static void
ctl_complete_method(const json_t *method, int argc, char **argv, const char *cur)
{
	const json_t *p, *prev_p = NULL, *e;
	const char *prev = argc > 1 ? argv[argc - 1] : NULL, *type = "";
	char dashed[256], opt[260];
	size_t i, j;
	int k;
	bool used;

	if (prev != NULL && ctl_starts_with(prev, "--") && strchr(prev, '=') == NULL) {
		prev_p = ctl_schema_param(method, prev + 2);
		type = ctl_json_str(prev_p, "type", "");
	}
	if (prev_p != NULL && !ctl_starts_with(cur, "-")) {
		/* The value of the option before. */
		json_array_foreach(json_object_get(prev_p, "enum"), j, e)
		{
			ctl_put(json_string_value(e), cur);
		}
		if (strcmp(type, "bool") == 0) {
			ctl_put("true", cur);
			ctl_put("false", cur);
		}
		if (strcmp(type, "bool") != 0) {
			return;
		}
	}
	json_array_foreach(json_object_get(method, "params"), i, p)
	{
		ctl_dashed(ctl_json_str(p, "name", ""), dashed, sizeof(dashed));
		snprintf(opt, sizeof(opt), "--%s", dashed);
		used = false;
		for (k = 1; k < argc; k++) {
			if (ctl_schema_param(method,
			                     argv[k] + (ctl_starts_with(argv[k], "--") ? 2 : 0)) ==
			            p &&
			    ctl_starts_with(argv[k], "--") &&
			    strcmp(ctl_json_str(p, "type", ""), "string_array") != 0) {
				used = true;
			}
		}
		if (!used) {
			ctl_put(opt, cur);
		}
	}
	ctl_put("--params-json", cur);
	ctl_put("--help", cur);
}

int
ctl_complete(struct ctl_opts *opts, int argc, char **argv)
{
	const json_t *area, *m;
	const char *cur;
	size_t i, j;
	int k = 0;

	if (argc < 1) {
		return CTL_EXIT_OK;
	}
	cur = argv[argc - 1];
	argc--;
	/* Global options come first. */
	while (k < argc && argv[k][0] == '-') {
		if ((strcmp(argv[k], "-s") == 0 || strcmp(argv[k], "--socket") == 0) &&
		    k + 1 < argc) {
			opts->socket_path = argv[k + 1];
		}
		if (strncmp(argv[k], "--socket=", 9) == 0) {
			opts->socket_path = argv[k] + 9;
		}
		if (strcmp(argv[k], "-s") == 0 || strcmp(argv[k], "--socket") == 0 ||
		    strcmp(argv[k], "-t") == 0 || strcmp(argv[k], "--timeout") == 0) {
			k++;
		}
		k++;
	}
	if (k > argc) {
		return CTL_EXIT_OK; /* the value of -s / -t: the shell completes files */
	}
	argv += k;
	argc -= k;
	if (argc == 0) {
		if (ctl_starts_with(cur, "-")) {
			static const char *const opts[] = {"--socket", "--json", "--timeout",
			                                   "--help", "--version"};

			for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
				ctl_put(opts[i], cur);
			}
			return CTL_EXIT_OK;
		}
		ctl_forms_complete(NULL, 0, NULL, cur, stdout);
		ctl_put("help", cur);
		json_array_foreach(ctl_schema_areas(), i, area)
		{
			json_array_foreach(json_object_get(area, "methods"), j, m)
			{
				ctl_put(ctl_json_str(m, "name", ""), cur);
			}
		}
		return CTL_EXIT_OK;
	}
	if (ctl_forms_is_group(argv[0])) {
		if (ctl_starts_with(cur, "-")) {
			ctl_put("--json", cur);
			ctl_put("--help", cur);
			if (strcmp(argv[0], "methods") == 0) {
				ctl_put("--all", cur);
			}
			return CTL_EXIT_OK;
		}
		ctl_forms_complete(opts, argc, argv, cur, stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[0], "help") == 0 && argc == 1) {
		ctl_forms_complete(NULL, 0, NULL, cur, stdout);
		json_array_foreach(ctl_schema_areas(), i, area)
		{
			json_array_foreach(json_object_get(area, "methods"), j, m)
			{
				ctl_put(ctl_json_str(m, "name", ""), cur);
			}
		}
		return CTL_EXIT_OK;
	}
	m = ctl_schema_method(argv[0], NULL);
	if (m == NULL) {
		if (ctl_starts_with(cur, "-")) {
			ctl_put("--params-json", cur);
			ctl_put("--help", cur);
		}
		return CTL_EXIT_OK;
	}
	ctl_complete_method(m, argc, argv, cur);
	return CTL_EXIT_OK;
}
