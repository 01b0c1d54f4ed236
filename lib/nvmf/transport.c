/* SPDX-License-Identifier: BSD-3-Clause */
/* Transport registry and instances (management path, app thread). */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "ftgt/log.h"
#include "nvmf_internal.h"

#define NVMF_MAX_TRANSPORT_OPS 8

static const struct nvmf_transport_ops *g_transport_ops[NVMF_MAX_TRANSPORT_OPS];
static int g_num_transport_ops;

void
ftgt_nvmf_transport_register(const struct nvmf_transport_ops *ops)
{
	if (g_num_transport_ops < NVMF_MAX_TRANSPORT_OPS) {
		g_transport_ops[g_num_transport_ops++] = ops;
	}
}

const struct nvmf_transport_ops *
ftgt_nvmf_transport_ops_get(const char *name)
{
	int i;

	for (i = 0; i < g_num_transport_ops; i++) {
		if (strcasecmp(g_transport_ops[i]->name, name) == 0) {
			return g_transport_ops[i];
		}
	}
	return NULL;
}

struct ftgt_nvmf_transport *
ftgt_nvmf_transport_get(const char *name)
{
	struct ftgt_nvmf_transport *t;

	TAILQ_FOREACH (t, &g_nvmf_tgt.transports, link) {
		if (strcasecmp(t->ops->name, name) == 0) {
			return t;
		}
	}
	return NULL;
}

struct ftgt_nvmf_transport *
ftgt_nvmf_transport_first(void)
{
	return TAILQ_FIRST(&g_nvmf_tgt.transports);
}

struct ftgt_nvmf_transport *
ftgt_nvmf_transport_next(struct ftgt_nvmf_transport *prev)
{
	return TAILQ_NEXT(prev, link);
}

int
ftgt_nvmf_transport_create(const char *name, const struct ftgt_nvmf_transport_opts *opts,
                           struct ftgt_nvmf_transport **transport)
{
	const struct nvmf_transport_ops *ops = ftgt_nvmf_transport_ops_get(name);
	struct ftgt_nvmf_transport *t;

	if (ops == NULL) {
		return -ENOENT;
	}
	if (ftgt_nvmf_transport_get(name) != NULL) {
		return -EEXIST;
	}
	t = ops->create(opts);
	if (t == NULL) {
		return -EINVAL;
	}
	t->ops = ops;
	TAILQ_INSERT_TAIL(&g_nvmf_tgt.transports, t, link);
	if (transport != NULL) {
		*transport = t;
	}
	FTGT_NOTICELOG("nvmf: transport %s created\n", ops->name);
	return 0;
}
