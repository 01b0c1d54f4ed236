/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subsystem registry: start in dependency order, one after another (each calls
 * ftgt_subsystem_init_done() when ready, possibly from inside its init()), stop in
 * reverse order the same way. Everything runs on the app thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/init.h"
#include "ftgt/log.h"

FTGT_LOG_REGISTER_COMPONENT(subsystem)

static struct ftgt_subsystem *g_head;
static struct ftgt_subsystem *g_tail;

/* The order computed at init time. */
static struct ftgt_subsystem **g_order;
static size_t g_count;
static size_t g_started;

static struct {
	size_t cur;
	bool in_call;   /* inside a subsystem's init()/fini() */
	bool sync_done; /* ... which answered before returning */
	int rc;
	ftgt_subsystem_init_cb init_cb;
	ftgt_subsystem_fini_cb fini_cb;
	void *cb_arg;
} g_step;

void
ftgt_subsystem_register(struct ftgt_subsystem *subsystem)
{
	subsystem->next = NULL;
	if (g_tail != NULL) {
		g_tail->next = subsystem;
	} else {
		g_head = subsystem;
	}
	g_tail = subsystem;
}

struct ftgt_subsystem *
ftgt_subsystem_find(const char *name)
{
	struct ftgt_subsystem *s;

	for (s = g_head; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0) {
			return s;
		}
	}
	return NULL;
}

static bool
order_contains(struct ftgt_subsystem **order, size_t n, const struct ftgt_subsystem *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (order[i] == s) {
			return true;
		}
	}
	return false;
}

/* Topological order, stable in registration order: 0, -ENOENT, -ELOOP, -ENOMEM. */
static int
subsystem_sort(struct ftgt_subsystem ***out, size_t *count)
{
	struct ftgt_subsystem **order, *s, *dep;
	size_t n = 0, placed = 0;
	bool progress;

	for (s = g_head; s != NULL; s = s->next) {
		n++;
		if (s->depends_on != NULL && ftgt_subsystem_find(s->depends_on) == NULL) {
			FTGT_ERRLOG("subsystem '%s' depends on unknown subsystem '%s'\n", s->name,
			            s->depends_on);
			return -ENOENT;
		}
	}
	order = calloc(n ? n : 1, sizeof(*order));
	if (order == NULL) {
		return -ENOMEM;
	}
	do {
		progress = false;
		for (s = g_head; s != NULL; s = s->next) {
			if (order_contains(order, placed, s)) {
				continue;
			}
			dep = s->depends_on ? ftgt_subsystem_find(s->depends_on) : NULL;
			if (dep == NULL || order_contains(order, placed, dep)) {
				order[placed++] = s;
				progress = true;
				/* Restart: keep registration order among the ready ones. */
				break;
			}
		}
	} while (progress && placed < n);
	if (placed < n) {
		FTGT_ERRLOG("subsystem dependencies form a cycle\n");
		free(order);
		return -ELOOP;
	}
	*out = order;
	*count = n;
	return 0;
}

/* ---- init --------------------------------------------------------------------------- */

static void
subsystem_init_finish(int rc)
{
	ftgt_subsystem_init_cb cb = g_step.init_cb;

	g_step.init_cb = NULL;
	cb(g_step.cb_arg, rc);
}

static void
subsystem_init_next(void)
{
	struct ftgt_subsystem *s;

	while (g_step.cur < g_count) {
		s = g_order[g_step.cur];
		if (s->init == NULL) {
			g_started = ++g_step.cur;
			continue;
		}
		FTGT_DEBUGLOG(subsystem, "starting subsystem '%s'\n", s->name);
		g_step.in_call = true;
		g_step.sync_done = false;
		s->init();
		g_step.in_call = false;
		if (!g_step.sync_done) {
			return; /* ftgt_subsystem_init_done() continues */
		}
		if (g_step.rc != 0) {
			subsystem_init_finish(g_step.rc);
			return;
		}
	}
	subsystem_init_finish(0);
}

void
ftgt_subsystem_init_done(int rc)
{
	struct ftgt_subsystem *s = g_order[g_step.cur];

	if (rc != 0) {
		FTGT_ERRLOG("subsystem '%s' failed to start: %s\n", s->name, strerror(-rc));
		g_step.rc = rc;
	} else {
		g_started = ++g_step.cur;
	}
	if (g_step.in_call) {
		g_step.sync_done = true;
		return;
	}
	if (rc != 0) {
		subsystem_init_finish(rc);
		return;
	}
	subsystem_init_next();
}

void
ftgt_subsystem_init_all(ftgt_subsystem_init_cb cb_fn, void *cb_arg)
{
	int rc;

	free(g_order);
	g_order = NULL;
	g_count = 0;
	g_started = 0;
	memset(&g_step, 0, sizeof(g_step));
	g_step.init_cb = cb_fn;
	g_step.cb_arg = cb_arg;
	rc = subsystem_sort(&g_order, &g_count);
	if (rc != 0) {
		subsystem_init_finish(rc);
		return;
	}
	subsystem_init_next();
}

/* ---- fini --------------------------------------------------------------------------- */

static void
subsystem_fini_finish(void)
{
	ftgt_subsystem_fini_cb cb = g_step.fini_cb;

	free(g_order);
	g_order = NULL;
	g_count = 0;
	g_step.fini_cb = NULL;
	if (cb != NULL) {
		cb(g_step.cb_arg);
	}
}

static void
subsystem_fini_next(void)
{
	struct ftgt_subsystem *s;

	while (g_started > 0) {
		s = g_order[g_started - 1];
		if (s->fini == NULL) {
			g_started--;
			continue;
		}
		FTGT_DEBUGLOG(subsystem, "stopping subsystem '%s'\n", s->name);
		g_step.in_call = true;
		g_step.sync_done = false;
		s->fini();
		g_step.in_call = false;
		if (!g_step.sync_done) {
			return;
		}
	}
	subsystem_fini_finish();
}

void
ftgt_subsystem_fini_done(void)
{
	if (g_started > 0) {
		g_started--;
	}
	if (g_step.in_call) {
		g_step.sync_done = true;
		return;
	}
	subsystem_fini_next();
}

void
ftgt_subsystem_fini_all(ftgt_subsystem_fini_cb cb_fn, void *cb_arg)
{
	g_step.fini_cb = cb_fn;
	g_step.cb_arg = cb_arg;
	if (g_order == NULL) {
		g_started = 0;
	}
	subsystem_fini_next();
}

/* ---- listing and config ------------------------------------------------------------- */

/* The init order when it can be computed, else registration order. */
static struct ftgt_subsystem **
subsystem_current_order(size_t *count, bool *allocated)
{
	struct ftgt_subsystem **order, *s;
	size_t n = 0;

	*allocated = false;
	if (g_order != NULL) {
		*count = g_count;
		return g_order;
	}
	if (subsystem_sort(&order, count) == 0) {
		*allocated = true;
		return order;
	}
	for (s = g_head; s != NULL; s = s->next) {
		n++;
	}
	order = calloc(n ? n : 1, sizeof(*order));
	if (order == NULL) {
		*count = 0;
		return NULL;
	}
	n = 0;
	for (s = g_head; s != NULL; s = s->next) {
		order[n++] = s;
	}
	*count = n;
	*allocated = true;
	return order;
}

json_t *
ftgt_subsystem_list_json(void)
{
	struct ftgt_subsystem **order;
	json_t *arr = json_array(), *deps;
	bool allocated;
	size_t n, i;

	order = subsystem_current_order(&n, &allocated);
	for (i = 0; i < n; i++) {
		deps = json_array();
		if (order[i]->depends_on != NULL) {
			json_array_append_new(deps, json_string(order[i]->depends_on));
		}
		json_array_append_new(arr, json_pack("{s:s, s:o}", "subsystem", order[i]->name,
		                                     "depends_on", deps));
	}
	if (allocated) {
		free(order);
	}
	return arr;
}

json_t *
ftgt_subsystem_write_config(const struct ftgt_subsystem *subsystem)
{
	json_t *config = json_array();

	if (config != NULL && subsystem->write_config_json != NULL) {
		subsystem->write_config_json(config);
	}
	return config;
}

json_t *
ftgt_subsystem_config_json(void)
{
	struct ftgt_subsystem **order;
	json_t *subsystems = json_array();
	bool allocated;
	size_t n, i;

	order = subsystem_current_order(&n, &allocated);
	for (i = 0; i < n; i++) {
		json_array_append_new(subsystems,
		                      json_pack("{s:s, s:o}", "subsystem", order[i]->name, "config",
		                                ftgt_subsystem_write_config(order[i])));
	}
	if (allocated) {
		free(order);
	}
	return json_pack("{s:o}", "subsystems", subsystems);
}
