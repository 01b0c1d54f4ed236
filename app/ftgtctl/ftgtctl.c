/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ftgtctl: call ftgtd's JSON-RPC methods from the command line.
 *
 *   ftgtctl [-s SOCKET] [--json] [-t SECONDS] METHOD [--param value ...]
 *   ftgtctl [-s SOCKET] [--json] [-t SECONDS] FRIENDLY FORM (bdev list, reactors, ...)
 *
 * Exit codes: 0 ok, 1 the daemon answered with an error, 2 usage, 3 cannot connect,
 * 4 timeout. See doc/ftgtctl.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/rpc.h"
#include "ftgtctl.h"

void
ctl_usage(FILE *out)
{
	fprintf(out,
	        "usage: ftgtctl [-s SOCKET] [--json] [-t SECONDS] METHOD [--PARAM VALUE ...]\n"
	        "       ftgtctl [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARGS]\n"
	        "       ftgtctl METHOD --params-json '{...}'\n"
	        "       ftgtctl METHOD --help | COMMAND --help\n"
	        "\n"
	        "Calls a JSON-RPC method of ftgtd. Parameter names take dashes or underscores;\n"
	        "values are typed by the method's schema (integers, true/false, JSON text for\n"
	        "objects and arrays; a string_array option may repeat).\n"
	        "\n"
	        "Options:\n"
	        "  -s, --socket PATH    ftgtd's RPC socket (default %s)\n"
	        "  -j, --json           print the raw JSON result (for scripts)\n"
	        "  -t, --timeout SECS   give up after SECS seconds (default %d; 0: never)\n"
	        "  -h, --help           this text\n"
	        "      --version        ftgtctl's own version\n"
	        "\n"
	        "Commands:\n",
	        FTGT_RPC_DEFAULT_SOCKET, CTL_DEFAULT_TIMEOUT_MS / 1000);
	ctl_forms_help(out, NULL);
	fprintf(out, "\n"
	             "Methods: 'ftgtctl methods' lists what the daemon offers, 'ftgtctl methods "
	             "--all'\n"
	             "every method ftgtctl knows; 'ftgtctl METHOD --help' shows its parameters.\n"
	             "\n"
	             "Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
	             "3 cannot connect, 4 timeout.\n");
}

static int
ctl_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ftgtctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see ftgtctl --help)\n");
	return CTL_EXIT_USAGE;
}

static int
ctl_parse_timeout(const char *arg, int *timeout_ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(s >= 0) || s > 86400.0 * 365) {
		return -EINVAL;
	}
	*timeout_ms = s == 0 ? -1 : (int)ceil(s * 1000);
	return 0;
}

static int
ctl_help(int argc, char **argv)
{
	const json_t *m;
	const char *area = NULL;
	char *fake[2];

	if (argc == 0) {
		ctl_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (ctl_forms_is_group(argv[0])) {
		struct ctl_opts opts = {0};

		fake[0] = argv[0];
		fake[1] = "--help";
		return ctl_forms_run(&opts, 2, fake);
	}
	m = ctl_schema_method(argv[0], &area);
	ctl_method_help(stdout, argv[0], m, area);
	return CTL_EXIT_OK;
}

/* `ftgtctl METHOD [--param value ...]` */
static int
ctl_call_method(struct ctl_opts *opts, int argc, char **argv)
{
	const char *area = NULL, *name = argv[0];
	const json_t *method = ctl_schema_method(name, &area);
	json_t *params, *result = NULL;
	char **rest, *send_name = NULL;
	int i, n = 0, rc;
	bool force;

	rest = calloc((size_t)argc, sizeof(*rest));
	params = json_object();
	if (rest == NULL || params == NULL) {
		free(rest);
		json_decref(params);
		fprintf(stderr, "ftgtctl: out of memory\n");
		return CTL_EXIT_ERROR;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			ctl_method_help(stdout, name, method, area);
			rc = CTL_EXIT_OK;
			goto out;
		}
		/* --json after the method is ftgtctl's own, unless the method has such a param. */
		if (strcmp(argv[i], "--json") == 0 &&
		    (method == NULL || ctl_schema_param(method, "json") == NULL)) {
			opts->json_output = true;
			continue;
		}
		rest[n++] = argv[i];
	}
	rc = ctl_params_from_args(name, method, n, rest, params, &force);
	if (rc == CTL_EXIT_OK && method != NULL) {
		rc = ctl_params_check_required(name, method, params);
	}
	if (rc != CTL_EXIT_OK) {
		goto out;
	}
	/* "bdev-get-bdevs" is accepted for bdev_get_bdevs; the daemon gets the real name. */
	if (method != NULL && strchr(name, '-') != NULL) {
		send_name = ctl_underscore(name);
	}
	rc = ctl_call(opts, send_name != NULL ? send_name : name, params, force, 0, &result);
	if (rc == CTL_EXIT_OK) {
		ctl_print_result(opts, result);
	}
out:
	free(send_name);
	json_decref(result);
	json_decref(params);
	free(rest);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl_opts opts = {
	        .socket_path = FTGT_RPC_DEFAULT_SOCKET,
	        .timeout_ms = CTL_DEFAULT_TIMEOUT_MS,
	};
	const char *arg, *val;
	int i, rc;

	if (ctl_schema_load() != 0) {
		return CTL_EXIT_ERROR;
	}
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			break;
		}
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			ctl_usage(stdout);
			rc = CTL_EXIT_OK;
			goto out;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("ftgtctl %s\n", FTGT_VERSION);
			rc = CTL_EXIT_OK;
			goto out;
		}
		if (strcmp(arg, "-j") == 0 || strcmp(arg, "--json") == 0) {
			opts.json_output = true;
			continue;
		}
		val = NULL;
		if (strcmp(arg, "-s") == 0 || strcmp(arg, "--socket") == 0 ||
		    strcmp(arg, "-t") == 0 || strcmp(arg, "--timeout") == 0) {
			if (i + 1 >= argc) {
				rc = ctl_usage_error("%s needs a value", arg);
				goto out;
			}
			val = argv[++i];
		} else if (strncmp(arg, "--socket=", 9) == 0 ||
		           strncmp(arg, "--timeout=", 10) == 0) {
			val = strchr(arg, '=') + 1;
		} else if ((strncmp(arg, "-s", 2) == 0 || strncmp(arg, "-t", 2) == 0) &&
		           arg[2] != '\0') {
			val = arg + 2;
		} else {
			rc = ctl_usage_error("unknown option %s", arg);
			goto out;
		}
		if (arg[1] == 's' || strncmp(arg, "--socket", 8) == 0) {
			if (val[0] == '\0') {
				rc = ctl_usage_error("empty socket path%s", "");
				goto out;
			}
			opts.socket_path = val;
		} else if (ctl_parse_timeout(val, &opts.timeout_ms) != 0) {
			rc = ctl_usage_error("bad timeout '%s' (seconds)", val);
			goto out;
		}
	}
	if (i >= argc) {
		ctl_usage(stderr);
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	argc -= i;
	argv += i;
	if (strcmp(argv[0], "__complete") == 0) {
		rc = ctl_complete(&opts, argc - 1, argv + 1);
		goto out;
	}
	if (strcmp(argv[0], "help") == 0) {
		rc = ctl_help(argc - 1, argv + 1);
		goto out;
	}
	rc = ctl_forms_run(&opts, argc, argv);
	if (rc < 0) {
		rc = ctl_call_method(&opts, argc, argv);
	}
out:
	ctl_schema_free();
	return rc;
}
