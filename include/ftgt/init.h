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
#define FTGT_SUBSYSTEM_REGISTER(S)                                                         \
	__attribute__((constructor)) static void ftgt_subsystem_register_##S(void)        \
	{                                                                                  \
		ftgt_subsystem_register(&S);                                               \
	}
void ftgt_subsystem_init_done(int rc);
void ftgt_subsystem_fini_done(void);
struct ftgt_subsystem *ftgt_subsystem_find(const char *name);

/* {"subsystems":[{"subsystem":name,"config":[...]}, ...]} for every subsystem. */
json_t *ftgt_subsystem_config_json(void);

/* True once shutdown began: front ends refuse new connections and I/O. */
bool ftgt_app_is_shutting_down(void);
/* Begin the shutdown state machine (any thread). A second call forces exit. */
void ftgt_app_shutdown(void);

#endif /* FTGT_INIT_H */
