/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ftgtd: the target daemon. Parses options (SPDK-compatible where they exist), then
 * runs the application frame (lib/init), which does everything else.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftgt/env.h"
#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/rpc.h"
#include "ftgt/util.h"
#include "default_config.h"

#ifndef FTGT_VERSION
#define FTGT_VERSION "0.0.0"
#endif

struct ftgtd {
	struct ftgt_app_opts opts;
	json_t *default_config; /* --default, filtered to what this build has */
	const char *rpc_path;
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: ftgtd [options]\n"
	        "\n"
	        "The ftgt block storage target. Configure it over JSON-RPC (ftgtctl, or SPDK's\n"
	        "rpc.py) or with a JSON config file (the output of save_config).\n"
	        "\n"
	        "Options:\n"
	        "  -m, --cpumask MASK      cores to run reactors on: 0x3, [0-1], [0,2] (default "
	        "0x1)\n"
	        "  -r, --rpc-socket PATH   JSON-RPC UNIX socket (default %s)\n"
	        "  -c, --config FILE       replay this JSON config at start (alias: --json FILE)\n"
	        "      --default           replay the built-in default config: 64 MiB RAM disks\n"
	        "                          over every front end (127.0.0.1: NVMe/TCP 4420, iSCSI\n"
	        "                          3260); prints how to connect\n"
	        "  -s, --mem-size MB       memory to reserve at start, in MiB (or with a K/M/G "
	        "suffix)\n"
	        "      --no-huge           do not use hugepages even when reserved\n"
	        "  -L, --logflag FLAG      enable debug log component FLAG (repeatable; 'all' for\n"
	        "                          every one); also sets the log level to debug unless\n"
	        "                          --log-level is given\n"
	        "      --log-level LEVEL   error, warn, notice (default), info or debug\n"
	        "      --syslog            log to syslog too\n"
	        "  -e, --tpoint-group-mask MASK  accepted for SPDK compatibility; ignored\n"
	        "  -h, --help              show this help\n"
	        "  -v, --version           print the version\n"
	        "\n"
	        "Signals: SIGINT/SIGTERM shut down cleanly (exit 0); a second one exits at once "
	        "(1).\n",
	        FTGT_RPC_DEFAULT_SOCKET);
}

enum {
	OPT_NO_HUGE = 256,
	OPT_LOG_LEVEL,
	OPT_SYSLOG,
	OPT_DEFAULT,
	OPT_JSON,
	OPT_WAIT_FOR_RPC,
};

static const struct option g_long_opts[] = {
        {"cpumask", required_argument, NULL, 'm'},
        {"rpc-socket", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"json", required_argument, NULL, OPT_JSON},
        {"mem-size", required_argument, NULL, 's'},
        {"no-huge", no_argument, NULL, OPT_NO_HUGE},
        {"logflag", required_argument, NULL, 'L'},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"syslog", no_argument, NULL, OPT_SYSLOG},
        {"tpoint-group-mask", required_argument, NULL, 'e'},
        {"default", no_argument, NULL, OPT_DEFAULT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
};

/* MiB, or a size with a suffix: 0 or -EINVAL. */
static int
parse_mem_size(const char *arg, size_t *mb)
{
	uint64_t bytes;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno == 0 && end != arg && *end == '\0') {
		*mb = (size_t)v;
		return 0;
	}
	if (ftgt_parse_size(arg, &bytes) != 0) {
		return -EINVAL;
	}
	*mb = (size_t)(bytes >> 20);
	return 0;
}

/* Keep only the subsystems and methods this build has. */
static json_t *
default_config_filter(void)
{
	json_t *cfg, *subs, *out_subs, *sub, *entries, *kept, *e;
	size_t i, j;

	cfg = json_loads(g_ftgtd_default_config, 0, NULL);
	if (cfg == NULL) {
		return NULL;
	}
	subs = json_object_get(cfg, "subsystems");
	out_subs = json_array();
	json_array_foreach(subs, i, sub)
	{
		const char *name = json_string_value(json_object_get(sub, "subsystem"));

		if (name == NULL || ftgt_subsystem_find(name) == NULL) {
			continue;
		}
		entries = json_object_get(sub, "config");
		kept = json_array();
		json_array_foreach(entries, j, e)
		{
			const char *m = json_string_value(json_object_get(e, "method"));

			if (m != NULL && ftgt_rpc_method_exists(m)) {
				json_array_append(kept, e);
			}
		}
		json_array_append_new(out_subs,
		                      json_pack("{s:s, s:o}", "subsystem", name, "config", kept));
	}
	json_decref(cfg);
	return json_pack("{s:o}", "subsystems", out_subs);
}

/* How a Linux host reaches what one replayed config entry exported (nothing for others). */
static void
print_connect_hint(const char *method, const json_t *params)
{
	const json_t *la, *portals, *p;
	size_t i;

	if (strcmp(method, "nvmf_subsystem_add_listener") == 0) {
		la = json_object_get(params, "listen_address");
		if (strcasecmp(json_string_value(json_object_get(la, "trtype")) ?: "", "TCP") !=
		    0) {
			return;
		}
		printf("ftgtd: NVMe/TCP: modprobe nvme-tcp && nvme connect -t tcp -a %s -s %s -n "
		       "%s\n",
		       json_string_value(json_object_get(la, "traddr")) ?: "?",
		       json_string_value(json_object_get(la, "trsvcid")) ?: "4420",
		       json_string_value(json_object_get(params, "nqn")) ?: "?");
	} else if (strcmp(method, "iscsi_create_portal_group") == 0) {
		portals = json_object_get(params, "portals");
		json_array_foreach(portals, i, p)
		{
			const char *host = json_string_value(json_object_get(p, "host")) ?: "?";
			const char *port = json_string_value(json_object_get(p, "port")) ?: "3260";

			printf("ftgtd: iSCSI: iscsiadm -m discovery -t sendtargets -p %s:%s && "
			       "iscsiadm -m node -p %s:%s --login\n",
			       host, port, host, port);
		}
	}
}

static void
ftgtd_started(void *ctx)
{
	struct ftgtd *d = ctx;
	json_t *sub, *e;
	size_t i, j, n = 0;
	char *params;

	printf("ftgtd: ready, %u reactors, RPC on %s\n", ftgt_env_get_core_count(), d->rpc_path);
	if (d->default_config != NULL) {
		json_array_foreach(json_object_get(d->default_config, "subsystems"), i, sub)
		{
			json_array_foreach(json_object_get(sub, "config"), j, e)
			{
				params = json_dumps(json_object_get(e, "params"),
				                    JSON_COMPACT | JSON_SORT_KEYS);
				printf("ftgtd: default config: %s %s\n",
				       json_string_value(json_object_get(e, "method")),
				       params ? params : "{}");
				free(params);
				n++;
			}
		}
		if (n == 0) {
			printf("ftgtd: default config: nothing to create in this build\n");
		}
		json_array_foreach(json_object_get(d->default_config, "subsystems"), i, sub)
		{
			json_array_foreach(json_object_get(sub, "config"), j, e)
			{
				print_connect_hint(json_string_value(json_object_get(e, "method")),
				                   json_object_get(e, "params"));
			}
		}
		printf("ftgtd: connect with: ftgtctl -s %s save_config   (or SPDK's rpc.py -s "
		       "%s)\n",
		       d->rpc_path, d->rpc_path);
	}
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct ftgtd d;
	enum ftgt_log_level level = FTGT_LOG_NOTICE;
	bool level_given = false, want_debug = false, use_syslog = false, use_default = false;
	const char *config_file = NULL;
	int ch, rc;

	memset(&d, 0, sizeof(d));
	ftgt_app_opts_init(&d.opts);
	d.opts.name = "ftgtd";
	while ((ch = getopt_long(argc, argv, "m:r:c:s:L:e:hv", g_long_opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			d.opts.core_mask = optarg;
			break;
		case 'r':
			d.opts.rpc_addr = optarg;
			break;
		case 'c':
		case OPT_JSON:
			config_file = optarg;
			break;
		case 's':
			if (parse_mem_size(optarg, &d.opts.mem_size_mb) != 0) {
				fprintf(stderr, "ftgtd: invalid --mem-size '%s'\n", optarg);
				return 1;
			}
			break;
		case OPT_NO_HUGE:
			d.opts.no_huge = true;
			break;
		case 'L':
			if (ftgt_log_set_flag(optarg, true) != 0) {
				fprintf(stderr, "ftgtd: unknown log flag '%s'\n", optarg);
				return 1;
			}
			want_debug = true;
			break;
		case OPT_LOG_LEVEL:
			if (ftgt_log_level_from_str(optarg, &level) != 0) {
				fprintf(stderr,
				        "ftgtd: invalid --log-level '%s' (error, warn, notice, "
				        "info, "
				        "debug)\n",
				        optarg);
				return 1;
			}
			level_given = true;
			break;
		case OPT_SYSLOG:
			use_syslog = true;
			break;
		case 'e':
			break;
		case OPT_DEFAULT:
			use_default = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("ftgtd (ftgt) v%s\n", FTGT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ftgtd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	if (use_default && config_file != NULL) {
		fprintf(stderr, "ftgtd: --default and --config exclude each other\n");
		return 1;
	}
	if (!level_given && want_debug) {
		level = FTGT_LOG_DEBUG;
	}
	ftgt_log_open("ftgtd", true, use_syslog);
	ftgt_log_set_level(level);

	d.rpc_path = d.opts.rpc_addr;
	d.opts.config_file = config_file;
	if (use_default) {
		d.default_config = default_config_filter();
		if (d.default_config == NULL) {
			fprintf(stderr, "ftgtd: the built-in default config is not valid JSON\n");
			return 1;
		}
		d.opts.config_json = d.default_config;
	}
	rc = ftgt_app_start(&d.opts, ftgtd_started, &d);
	json_decref(d.default_config);
	ftgt_log_close();
	return rc < 0 ? 1 : rc;
}
