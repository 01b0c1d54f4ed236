/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The discovery log page (NVMe Base 2.0, 5.16.1.23; NVMe-oF 1.1, 5.3): one entry per
 * (subsystem, listener) the asking host may connect to. Built on the app thread, which
 * owns the subsystem list.
 */
#include <stdlib.h>
#include <string.h>

#include "nvmf_internal.h"

/* A port ID stable for an address across calls (FNV-1a of trtype/traddr/trsvcid). */
static uint16_t
listen_portid(const struct ftgt_nvmf_listen_addr *a)
{
	const char *parts[3] = {a->trtype, a->traddr, a->trsvcid};
	uint32_t h = 2166136261u;
	int i;
	const char *p;

	for (i = 0; i < 3; i++) {
		for (p = parts[i]; *p != '\0'; p++) {
			h = (h ^ (uint8_t)*p) * 16777619u;
		}
	}
	return (uint16_t)((h ^ (h >> 16)) & 0x7fff);
}

struct disc_entry_ctx {
	const struct ftgt_nvmf_subsystem *subsys;
	struct nvmf_discovery_log_page *page;
	uint64_t numrec;
	bool count_only;
};

static int
add_entry(const struct ftgt_nvmf_listen_addr *addr, void *arg)
{
	struct disc_entry_ctx *ctx = arg;
	struct nvmf_discovery_log_entry *e;
	struct ftgt_nvmf_transport *t;

	if (!ctx->count_only) {
		e = &ctx->page->entries[ctx->numrec];
		memset(e, 0, sizeof(*e));
		e->trtype = ftgt_nvmf_trtype_from_str(addr->trtype);
		e->adrfam = addr->adrfam;
		e->subtype = NVMF_SUBTYPE_NVME;
		/* No TLS here: "not specified" (as SPDK and nvmet without TLS). "Not required"
		 * makes libnvme ask the kernel for TLS (nvme connect-all fails). */
		e->treq = NVMF_TREQ_SECURE_CHANNEL_NOT_SPECIFIED | NVMF_TREQ_DISABLE_SQFC;
		e->portid = ftgt_cpu_to_le16(listen_portid(addr));
		e->cntlid = ftgt_cpu_to_le16(NVMF_CNTLID_DYNAMIC);
		t = ftgt_nvmf_transport_get(addr->trtype);
		e->asqsz = ftgt_cpu_to_le16(t != NULL ? t->opts.max_aq_depth : 32);
		ftgt_strcpy_pad(e->trsvcid, addr->trsvcid, sizeof(e->trsvcid), '\0');
		ftgt_strcpy_pad(e->traddr, addr->traddr, sizeof(e->traddr), '\0');
		/* NUL padded, as Linux nvmet and SPDK do (nvme-cli prints them with %s). */
		ftgt_strlcpy(e->subnqn, ctx->subsys->nqn, sizeof(e->subnqn));
		if (e->trtype == NVMF_TRTYPE_TCP) {
			e->tsas[0] = NVMF_TCP_SECTYPE_NONE;
		}
	}
	ctx->numrec++;
	return 0;
}

void *
nvmf_discovery_log_build(const char *hostnqn, const struct ftgt_nvmf_listen_addr *via,
                         size_t *len_bytes)
{
	struct disc_entry_ctx ctx = {0};
	struct ftgt_nvmf_subsystem *s;
	size_t len;

	(void)via;
	ctx.count_only = true;
	TAILQ_FOREACH (s, &g_nvmf_tgt.subsystems, link) {
		if (s->type != FTGT_NVMF_SUBTYPE_NVME || s->destroying ||
		    !ftgt_nvmf_subsystem_host_allowed(s, hostnqn)) {
			continue;
		}
		ctx.subsys = s;
		ftgt_nvmf_subsystem_for_each_listener(s, add_entry, &ctx);
	}
	len = sizeof(struct nvmf_discovery_log_page) +
	      ctx.numrec * sizeof(struct nvmf_discovery_log_entry);
	ctx.page = calloc(1, len);
	if (ctx.page == NULL) {
		return NULL;
	}
	ctx.count_only = false;
	ctx.numrec = 0;
	TAILQ_FOREACH (s, &g_nvmf_tgt.subsystems, link) {
		if (s->type != FTGT_NVMF_SUBTYPE_NVME || s->destroying ||
		    !ftgt_nvmf_subsystem_host_allowed(s, hostnqn)) {
			continue;
		}
		ctx.subsys = s;
		ftgt_nvmf_subsystem_for_each_listener(s, add_entry, &ctx);
	}
	ctx.page->genctr = ftgt_cpu_to_le64(g_nvmf_tgt.discovery_genctr);
	ctx.page->numrec = ftgt_cpu_to_le64(ctx.numrec);
	ctx.page->recfmt = 0;
	*len_bytes = len;
	return ctx.page;
}
