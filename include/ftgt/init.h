/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subsystems and the application frame: the daemon's start-up, configuration and
 * shutdown state machine. A subsystem (bdev, nvmf, iscsi, ...) registers init/fini
 * and a config writer; they start in dependency order and stop in reverse.
 */
#ifndef FTGT_INIT_H
#define FTGT_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct ftgt_subsystem {
	const char *name;
	/* Start: on the app thread; calls ftgt_subsystem_init_done(rc) when ready. */
	void (*init)(void);
	/*
	 * Stop: on the app thread, after new work was refused; waits for in-flight work,
	 * frees everything, then calls ftgt_subsystem_fini_done().
	 */
	void (*fini)(void);
	/* Append {"method":..., "params":...} objects that recreate the current state. */
	void (*write_config_json)(json_t *config);
	/* Subsystem this one needs started first (NULL = none). */
	const char *depends_on;
	/* Registry link. */
	struct ftgt_subsystem *next;
};

void ftgt_subsystem_register(struct ftgt_subsystem *subsystem);
#define FTGT_SUBSYSTEM_REGISTER(S)                                                 \
	__attribute__((constructor)) static void ftgt_subsystem_register_##S(void) \
	{                                                                          \
		ftgt_subsystem_register(&S);                                       \
	}
void ftgt_subsystem_init_done(int rc);
void ftgt_subsystem_fini_done(void);
struct ftgt_subsystem *ftgt_subsystem_find(const char *name);

/* {"subsystems":[{"subsystem":name,"config":[...]}, ...]} for every subsystem. */
json_t *ftgt_subsystem_config_json(void);

/*
 * Start every registered subsystem, one after another in dependency order (a subsystem
 * after the one it depends_on; otherwise in registration order). cb_fn(cb_arg, rc) runs
 * once on the app thread: rc 0 when all started, else the first failure (-ENOENT: a
 * depends_on names no subsystem; -ELOOP: a cycle; or what init_done reported). The
 * subsystems started before a failure stay started: ftgt_subsystem_fini_all() stops them.
 */
typedef void (*ftgt_subsystem_init_cb)(void *cb_arg, int rc);
void ftgt_subsystem_init_all(ftgt_subsystem_init_cb cb_fn, void *cb_arg);
/* Stop the started subsystems in reverse order, each after the previous finished. */
typedef void (*ftgt_subsystem_fini_cb)(void *cb_arg);
void ftgt_subsystem_fini_all(ftgt_subsystem_fini_cb cb_fn, void *cb_arg);
/* [{"subsystem":name,"depends_on":[...]}] in init order (framework_get_subsystems). */
json_t *ftgt_subsystem_list_json(void);
/* One subsystem's config array (framework_get_config); [] when it writes none. */
json_t *ftgt_subsystem_write_config(const struct ftgt_subsystem *subsystem);

/*
 * JSON config (SPDK's format): {"subsystems":[{"subsystem":name,"config":[{"method":m,
 * "params":{...}}, ...] or null}, ...]}. The whole file is checked first (structure,
 * known subsystems, known methods), then every call is replayed in order through
 * ftgt_rpc_call(); the first failure stops the replay. cb_fn(cb_arg, rc, msg) runs
 * once (possibly before the call returns): rc 0, or -EINVAL/-ENOENT/-errno with msg
 * naming the place, e.g. "config: subsystem 'bdev', entry 3: method
 * 'bdev_malloc_create': invalid parameter 'block_size': ..." (entries count from 1).
 * App thread.
 */
typedef void (*ftgt_json_config_cb)(void *cb_arg, int rc, const char *msg);
void ftgt_json_config_load(const json_t *config, ftgt_json_config_cb cb_fn, void *cb_arg);
void ftgt_json_config_load_file(const char *path, ftgt_json_config_cb cb_fn, void *cb_arg);

/* ---- the application frame ---------------------------------------------------------- */

struct ftgt_app_opts {
	const char *name;          /* process name (default "ftgt") */
	const char *core_mask;     /* default "0x1" */
	const char *rpc_addr;      /* UNIX socket path; NULL: no RPC server */
	const char *config_file;   /* JSON config replayed at start, or NULL */
	const json_t *config_json; /* or a config given in memory (borrowed), or NULL */
	size_t mem_size_mb;        /* 0: on demand */
	bool no_huge;
};
void ftgt_app_opts_init(struct ftgt_app_opts *opts);

/*
 * Run the application: init the env (core mask, memory), the thread library and the
 * reactors; then, on the app thread: start the subsystems, the RPC server, replay the
 * config, call start_fn(ctx); run until shutdown (ftgt_app_shutdown(), SIGINT,
 * SIGTERM, spdk_kill_instance); stop everything in reverse and return the exit code:
 * 0 after a clean shutdown, 1 when start-up failed (the reason is logged) or after
 * ftgt_app_stop(1). A second SIGINT/SIGTERM exits at once with 1. Call once, from main.
 */
typedef void (*ftgt_app_start_fn)(void *ctx);
int ftgt_app_start(const struct ftgt_app_opts *opts, ftgt_app_start_fn start_fn, void *ctx);
/* Begin shutdown with this exit code (any thread). Unlike ftgt_app_shutdown(), never forces. */
void ftgt_app_stop(int exit_code);
/* True once start-up finished (config replayed, start_fn called). */
bool ftgt_app_is_running(void);

/* True once shutdown began: front ends refuse new connections and I/O. */
bool ftgt_app_is_shutting_down(void);
/* Begin the shutdown state machine (any thread). A second call forces exit. */
void ftgt_app_shutdown(void);

#endif /* FTGT_INIT_H */
