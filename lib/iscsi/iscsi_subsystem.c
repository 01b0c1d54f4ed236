/* SPDX-License-Identifier: BSD-3-Clause */
/* The "iscsi" subsystem: starts the acceptor, stops connections, writes the config. */
#include <errno.h>
#include <stdlib.h>

#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

void iscsi_config_json(json_t *config);
void iscsi_destroy_all(void);

static struct ftgt_poller *g_fini_poller;
static uint32_t g_fini_tries;

static void
iscsi_subsystem_init(void)
{
	iscsi_opts_defaults(&g_iscsi.opts);
	g_iscsi.stopping = false;
	g_iscsi.acceptor = ftgt_poller_register(iscsi_acceptor_poll, NULL, 1000, "iscsi_accept");
	if (g_iscsi.acceptor == NULL) {
		ftgt_subsystem_init_done(-ENOMEM);
		return;
	}
	g_iscsi.started = true;
	ftgt_subsystem_init_done(0);
}

static int
iscsi_fini_poll(void *ctx)
{
	/* Connections see `stopping`, close their sockets and finish their tasks. */
	if (iscsi_conn_count() > 0 && ++g_fini_tries < 2000) {
		return FTGT_POLLER_IDLE;
	}
	if (iscsi_conn_count() > 0) {
		FTGT_ERRLOG("iscsi: %u connections did not finish in time\n", iscsi_conn_count());
	}
	ftgt_poller_unregister(&g_fini_poller);
	iscsi_destroy_all();
	g_iscsi.started = false;
	ftgt_subsystem_fini_done();
	return FTGT_POLLER_BUSY;
}

static void
iscsi_subsystem_fini(void)
{
	g_iscsi.stopping = true;
	ftgt_poller_unregister(&g_iscsi.acceptor);
	g_fini_tries = 0;
	g_fini_poller = ftgt_poller_register(iscsi_fini_poll, NULL, 5000, "iscsi_fini");
	if (g_fini_poller == NULL) {
		iscsi_destroy_all();
		ftgt_subsystem_fini_done();
	}
}

static void
iscsi_subsystem_write_config(json_t *config)
{
	iscsi_config_json(config);
}

static struct ftgt_subsystem g_iscsi_subsystem = {
        .name = "iscsi",
        .init = iscsi_subsystem_init,
        .fini = iscsi_subsystem_fini,
        .write_config_json = iscsi_subsystem_write_config,
        .depends_on = "bdev",
};
FTGT_SUBSYSTEM_REGISTER(g_iscsi_subsystem)
