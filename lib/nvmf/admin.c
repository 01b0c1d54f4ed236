/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Admin commands of a fabrics controller: Identify (every CNS Linux sends), Get Log Page,
 * Get/Set Features, Asynchronous Event Request, Keep Alive, Abort. Runs on the
 * controller's thread (the admin queue's).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "nvmf_internal.h"

typedef void (*nvmf_admin_fn)(struct ftgt_nvmf_request *req);

static void
req_done(struct ftgt_nvmf_request *req, int sct, int sc)
{
	nvmf_request_set_status(req, sct, sc);
	nvmf_request_complete(req);
}

/* Copy a data structure to the host: the host may ask for less than all of it. */
static void
req_reply_data(struct ftgt_nvmf_request *req, const void *data, uint32_t len)
{
	if (req->xfer != NVME_OPC_XFER_CTRLR_TO_HOST) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}
	nvmf_request_copy_to_iov(req, data, len);
	req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

/* ---- Identify ---------------------------------------------------------------------- */

static void
identify_ctrlr(struct ftgt_nvmf_request *req, struct nvme_ctrlr_data *cd)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct ftgt_nvmf_subsystem *subsys = ctrlr->subsys;
	struct ftgt_nvmf_transport *t = ctrlr->transport;
	bool disc = subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY;
	uint32_t mdts = 0, pages = t->opts.max_io_size / 4096;

	while (pages > 1) {
		pages >>= 1;
		mdts++;
	}
	ftgt_strcpy_pad(cd->sn, subsys->sn, sizeof(cd->sn), ' ');
	ftgt_strcpy_pad(cd->mn, subsys->mn, sizeof(cd->mn), ' ');
	ftgt_strcpy_pad(cd->fr, FTGT_VERSION, sizeof(cd->fr), ' ');
	cd->rab = 6;
	cd->cmic = disc ? 0 : NVME_CTRLR_CMIC_MULTI_CTRLR | NVME_CTRLR_CMIC_MULTI_PORT;
	cd->mdts = (uint8_t)mdts;
	cd->cntlid = ftgt_cpu_to_le16(ctrlr->cntlid);
	cd->ver = ftgt_cpu_to_le32(ctrlr->vs);
	cd->oaes = ftgt_cpu_to_le32(disc ? NVME_CTRLR_OAES_DISCOVERY_LOG_CHANGE_NOTICES
	                                 : NVME_CTRLR_OAES_NS_ATTR_NOTICES);
	cd->ctratt = ftgt_cpu_to_le32(1u << 0); /* 128-bit host identifier */
	cd->cntrltype = disc ? NVME_CTRLR_TYPE_DISCOVERY : NVME_CTRLR_TYPE_IO;
	cd->acl = 3;
	cd->aerl = NVMF_MAX_AER - 1;
	cd->frmw = (1u << 1) | 1u; /* one slot, read only */
	cd->lpa = NVME_CTRLR_LPA_EXTENDED_DATA | NVME_CTRLR_LPA_CMD_EFFECTS;
	cd->elpe = NVMF_ERROR_LOG_ENTRIES - 1;
	cd->kas = ftgt_cpu_to_le16(NVMF_KAS_MS / 100);
	cd->sqes = (6u << 4) | 6u;
	cd->cqes = (4u << 4) | 4u;
	cd->maxcmd = ftgt_cpu_to_le16(t->opts.max_queue_depth);
	cd->nn = ftgt_cpu_to_le32(subsys->max_nsid);
	if (!disc) {
		cd->oncs = ftgt_cpu_to_le16(NVME_CTRLR_ONCS_COMPARE | NVME_CTRLR_ONCS_DSM |
		                            NVME_CTRLR_ONCS_WRITE_ZEROES);
		cd->fuses = ftgt_cpu_to_le16(NVME_CTRLR_FUSES_COMPARE_AND_WRITE);
		cd->vwc = NVME_CTRLR_VWC_PRESENT;
		cd->wctemp = ftgt_cpu_to_le16(0x157);
		cd->cctemp = ftgt_cpu_to_le16(0x175);
	}
	cd->sgls = ftgt_cpu_to_le32(NVME_CTRLR_SGLS_SUPPORTED | NVME_CTRLR_SGLS_OFFSET);
	ftgt_strlcpy(cd->subnqn, subsys->nqn, sizeof(cd->subnqn));
	cd->ioccsz =
	        ftgt_cpu_to_le32((sizeof(struct nvme_cmd) + t->opts.in_capsule_data_size) / 16);
	cd->iorcsz = ftgt_cpu_to_le32(sizeof(struct nvme_cpl) / 16);
	cd->icdoff = 0;
	cd->fcatt = 0; /* dynamic controller model */
	cd->msdbd = 1;
	cd->psd[0].mp = ftgt_cpu_to_le16(2500);
	if (t->ops->cdata_init != NULL) {
		t->ops->cdata_init(t, cd);
	}
}

static uint8_t
log2_u32(uint32_t v)
{
	uint8_t r = 0;

	while (v > 1) {
		v >>= 1;
		r++;
	}
	return r;
}

static void
identify_ns(struct nvmf_ns *ns, struct nvme_ns_data *nsd)
{
	uint64_t blocks = ftgt_bdev_get_num_blocks(ns->bdev);
	uint32_t boundary = ftgt_bdev_get_optimal_io_boundary(ns->bdev);
	uint32_t acwu = ftgt_bdev_get_acwu(ns->bdev);

	nsd->nsze = ftgt_cpu_to_le64(blocks);
	nsd->ncap = ftgt_cpu_to_le64(blocks);
	nsd->nuse = ftgt_cpu_to_le64(blocks);
	nsd->nlbaf = 0;
	nsd->flbas = 0;
	nsd->lbaf[0].lbads = log2_u32(ftgt_bdev_get_data_block_size(ns->bdev));
	nsd->lbaf[0].ms = ftgt_cpu_to_le16((uint16_t)ftgt_bdev_get_md_size(ns->bdev));
	nsd->nmic = NVME_NS_NMIC_SHARED;
	if (acwu > 1) {
		nsd->nsfeat |= NVME_NS_NSFEAT_NSABP;
		nsd->nacwu = ftgt_cpu_to_le16((uint16_t)FTGT_MIN(acwu - 1, 0xffffu));
	}
	if (boundary != 0 && boundary <= 0xffff) {
		nsd->noiob = ftgt_cpu_to_le16((uint16_t)boundary);
	}
	memcpy(nsd->nguid, ns->opts.nguid, sizeof(nsd->nguid));
	memcpy(nsd->eui64, ns->opts.eui64, sizeof(nsd->eui64));
}

static bool
bytes_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0) {
			return false;
		}
	}
	return true;
}

static size_t
ns_desc_add(uint8_t *buf, size_t off, uint8_t type, const void *data, uint8_t len)
{
	struct nvme_ns_id_desc *d = (struct nvme_ns_id_desc *)(buf + off);

	d->nidt = type;
	d->nidl = len;
	memcpy(buf + off + sizeof(*d), data, len);
	return off + sizeof(*d) + len;
}

static void
nvmf_admin_identify(struct ftgt_nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct ftgt_nvmf_subsystem *subsys = ctrlr->subsys;
	uint32_t cdw10 = nvmf_cmd_dw(req->cmd, 10);
	uint32_t cdw11 = nvmf_cmd_dw(req->cmd, 11);
	uint8_t cns = cdw10 & 0xff;
	uint8_t csi = (uint8_t)(cdw11 >> 24);
	uint32_t nsid = ftgt_le32_to_cpu(req->cmd->nsid);
	bool disc = subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY;
	uint8_t buf[NVME_IDENTIFY_DATA_BYTES] __attribute__((aligned(8)));
	struct nvmf_ns *ns;
	uint32_t i, n;

	memset(buf, 0, sizeof(buf));
	if (req->length < NVME_IDENTIFY_DATA_BYTES) {
		/* Identify always transfers 4 KiB (NVMe Base 2.0, 5.17). */
		req_done(req, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return;
	}
	if (disc && cns != NVME_IDENTIFY_CNS_CTRLR) {
		/* A discovery controller answers Identify Controller only. */
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}

	switch (cns) {
	case NVME_IDENTIFY_CNS_CTRLR:
		identify_ctrlr(req, (struct nvme_ctrlr_data *)buf);
		break;
	case NVME_IDENTIFY_CNS_NS:
	case NVME_IDENTIFY_CNS_CS_INDEP_NS:
	case NVME_IDENTIFY_CNS_NS_ID_DESC_LIST:
	case NVME_IDENTIFY_CNS_CS_NS:
		if (nsid == 0 || nsid > subsys->max_nsid) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
			return;
		}
		ns = nvmf_subsystem_get_ns(subsys, nsid);
		if (cns == NVME_IDENTIFY_CNS_CS_NS && csi != NVME_CSI_NVM) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		if (ns == NULL || __atomic_load_n(&ns->removed, __ATOMIC_ACQUIRE)) {
			/* Inactive NSID: zeroes (5.17.2.1), except the descriptor list. */
			if (cns == NVME_IDENTIFY_CNS_NS_ID_DESC_LIST) {
				req_done(req, NVME_SCT_GENERIC,
				         NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
				return;
			}
			break;
		}
		if (cns == NVME_IDENTIFY_CNS_NS) {
			identify_ns(ns, (struct nvme_ns_data *)buf);
		} else if (cns == NVME_IDENTIFY_CNS_CS_INDEP_NS) {
			struct nvme_ns_cs_indep_data *d = (void *)buf;

			d->nmic = NVME_NS_NMIC_SHARED;
			d->nstat = 1;
		} else if (cns == NVME_IDENTIFY_CNS_NS_ID_DESC_LIST) {
			size_t off = 0;
			uint8_t csi_nvm = NVME_CSI_NVM;

			if (!bytes_zero(ns->opts.eui64, sizeof(ns->opts.eui64))) {
				off = ns_desc_add(buf, off, NVME_NIDT_EUI64, ns->opts.eui64, 8);
			}
			if (!bytes_zero(ns->opts.nguid, sizeof(ns->opts.nguid))) {
				off = ns_desc_add(buf, off, NVME_NIDT_NGUID, ns->opts.nguid, 16);
			}
			if (!ftgt_uuid_is_null(&ns->opts.uuid)) {
				off = ns_desc_add(buf, off, NVME_NIDT_UUID, ns->opts.uuid.u, 16);
			}
			ns_desc_add(buf, off, NVME_NIDT_CSI, &csi_nvm, 1);
		}
		/* CNS 05h for the NVM command set: nothing beyond zeroes to report. */
		break;
	case NVME_IDENTIFY_CNS_ACTIVE_NS_LIST:
	case NVME_IDENTIFY_CNS_CS_ACTIVE_NS_LIST: {
		ftgt_le32 *list = (ftgt_le32 *)buf;

		if (nsid >= 0xfffffffeu) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
			return;
		}
		if (cns == NVME_IDENTIFY_CNS_CS_ACTIVE_NS_LIST && csi != NVME_CSI_NVM) {
			break; /* no namespace of another command set: an empty list */
		}
		for (i = nsid + 1, n = 0; i <= subsys->max_nsid && n < 1024; i++) {
			ns = nvmf_subsystem_get_ns(subsys, i);
			if (ns != NULL && !__atomic_load_n(&ns->removed, __ATOMIC_ACQUIRE)) {
				list[n++] = ftgt_cpu_to_le32(i);
			}
		}
		break;
	}
	case NVME_IDENTIFY_CNS_CS_CTRLR:
		if (csi != NVME_CSI_NVM) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		/* NVM command set controller data: no limits to report (all zero). */
		break;
	case NVME_IDENTIFY_CNS_CS_LIST:
		/* One I/O command set combination: NVM only (bit 0 of vector 0). */
		buf[0] = 1;
		break;
	default:
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}
	req_reply_data(req, buf, sizeof(buf));
}

/* ---- Get Log Page ------------------------------------------------------------------- */

struct disc_log_ctx {
	struct ftgt_nvmf_request *req;
	struct ftgt_thread *thread;
	char hostnqn[FTGT_NQN_MAX_LEN + 1];
	struct ftgt_nvmf_listen_addr via;
	uint64_t offset;
	uint32_t len;
	void *log;
	size_t log_len;
};

static void
disc_log_done(void *arg)
{
	struct disc_log_ctx *ctx = arg;
	struct ftgt_nvmf_request *req = ctx->req;

	if (ctx->log == NULL) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	} else if (ctx->offset > ctx->log_len) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	} else {
		/* Beyond the end of the log the host reads zeroes. */
		nvmf_request_zero(req, ctx->len);
		nvmf_request_copy_to_iov(
		        req, (uint8_t *)ctx->log + ctx->offset,
		        (uint32_t)FTGT_MIN((uint64_t)ctx->len, ctx->log_len - ctx->offset));
		req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
	}
	free(ctx->log);
	free(ctx);
}

static void
disc_log_build_msg(void *arg)
{
	struct disc_log_ctx *ctx = arg;

	ctx->log = nvmf_discovery_log_build(ctx->hostnqn, &ctx->via, &ctx->log_len);
	ftgt_thread_send_msg(ctx->thread, disc_log_done, ctx);
}

static void
log_serve(struct ftgt_nvmf_request *req, const void *log, size_t log_len, uint64_t offset,
          uint32_t len)
{
	if (offset > log_len) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}
	nvmf_request_zero(req, len);
	nvmf_request_copy_to_iov(req, (const uint8_t *)log + offset,
	                         (uint32_t)FTGT_MIN((uint64_t)len, log_len - offset));
	req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

static void
nvmf_admin_get_log_page(struct ftgt_nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = nvmf_cmd_dw(req->cmd, 10);
	uint32_t cdw11 = nvmf_cmd_dw(req->cmd, 11);
	uint64_t offset =
	        (uint64_t)nvmf_cmd_dw(req->cmd, 12) | ((uint64_t)nvmf_cmd_dw(req->cmd, 13) << 32);
	uint8_t lid = cdw10 & 0xff;
	bool rae = cdw10 & NVME_LOG_GET_RAE;
	uint64_t numd = (((uint64_t)(cdw11 & 0xffff) << 16) | (cdw10 >> 16)) + 1;
	uint64_t len = numd * 4;
	bool disc = ctrlr->subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY;
	uint8_t page[4096] __attribute__((aligned(8)));

	if (req->xfer != NVME_OPC_XFER_CTRLR_TO_HOST || len > req->length) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return;
	}
	if (offset & 3) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}
	memset(page, 0, sizeof(page));
	if (disc) {
		struct disc_log_ctx *ctx;

		if (lid != NVME_LOG_DISCOVERY) {
			req_done(req, NVME_SCT_COMMAND_SPECIFIC, NVME_SC_INVALID_LOG_PAGE);
			return;
		}
		ctx = calloc(1, sizeof(*ctx));
		if (ctx == NULL) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
			return;
		}
		ctx->req = req;
		ctx->thread = req->qpair->thread;
		ftgt_strlcpy(ctx->hostnqn, ctrlr->hostnqn, sizeof(ctx->hostnqn));
		ctx->via = ctrlr->listen_addr;
		ctx->offset = offset;
		ctx->len = (uint32_t)len;
		if (!rae) {
			ctrlr->aen_masked_notices &= (uint8_t) ~(1u << 1);
		}
		/* The subsystem list belongs to the app thread: build the page there. */
		if (ftgt_thread_send_msg(g_nvmf_tgt.thread, disc_log_build_msg, ctx) != 0) {
			free(ctx);
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
		}
		return;
	}

	switch (lid) {
	case NVME_LOG_ERROR: {
		/* Newest first; unused entries zero (error count 0 = invalid entry). */
		FTGT_STATIC_ASSERT(NVMF_ERROR_LOG_ENTRIES * sizeof(struct nvme_error_info) <=
		                   sizeof(page));
		nvmf_ctrlr_error_log_read(ctrlr, (struct nvme_error_info *)page,
		                          NVMF_ERROR_LOG_ENTRIES);
		log_serve(req, page, NVMF_ERROR_LOG_ENTRIES * sizeof(struct nvme_error_info),
		          offset, (uint32_t)len);
		return;
	}
	case NVME_LOG_HEALTH: {
		struct nvme_health_info *h = (void *)page;

		h->temperature = ftgt_cpu_to_le16(0x127); /* 295 K */
		h->available_spare = 100;
		h->available_spare_threshold = 10;
		log_serve(req, page, sizeof(*h), offset, (uint32_t)len);
		return;
	}
	case NVME_LOG_FIRMWARE_SLOT: {
		struct nvme_firmware_slot_info *f = (void *)page;

		f->afi = 1;
		ftgt_strcpy_pad(f->frs[0], FTGT_VERSION, sizeof(f->frs[0]), ' ');
		log_serve(req, page, sizeof(*f), offset, (uint32_t)len);
		return;
	}
	case NVME_LOG_CHANGED_NS_LIST: {
		ftgt_le32 *list = (ftgt_le32 *)page;
		uint32_t i;

		if (ctrlr->num_changed_ns > NVME_CHANGED_NS_LIST_MAX) {
			list[0] = ftgt_cpu_to_le32(0xffffffffu); /* the list overflowed */
		} else {
			for (i = 0; i < ctrlr->num_changed_ns; i++) {
				list[i] = ftgt_cpu_to_le32(ctrlr->changed_ns[i]);
			}
		}
		log_serve(req, page, sizeof(struct nvme_changed_ns_list), offset, (uint32_t)len);
		/* Reading clears the log; without RAE it also re-arms the event. */
		ctrlr->num_changed_ns = 0;
		if (!rae) {
			ctrlr->aen_masked_notices &= (uint8_t) ~(1u << 0);
		}
		return;
	}
	case NVME_LOG_COMMAND_EFFECTS: {
		struct nvme_cmds_and_effects *e = (void *)page;
		static const uint8_t admin_ops[] = {
		        NVME_OPC_GET_LOG_PAGE, NVME_OPC_IDENTIFY,     NVME_OPC_ABORT,
		        NVME_OPC_SET_FEATURES, NVME_OPC_GET_FEATURES, NVME_OPC_ASYNC_EVENT_REQUEST,
		        NVME_OPC_KEEP_ALIVE,
		};
		static const uint8_t io_ops[] = {
		        NVME_OPC_FLUSH,   NVME_OPC_WRITE,        NVME_OPC_READ,
		        NVME_OPC_COMPARE, NVME_OPC_WRITE_ZEROES, NVME_OPC_DATASET_MANAGEMENT,
		};
		size_t i;

		for (i = 0; i < sizeof(admin_ops); i++) {
			e->acs[admin_ops[i]] = ftgt_cpu_to_le32(NVME_CMD_EFFECTS_CSUPP);
		}
		for (i = 0; i < sizeof(io_ops); i++) {
			uint32_t v = NVME_CMD_EFFECTS_CSUPP;

			if (io_ops[i] != NVME_OPC_READ && io_ops[i] != NVME_OPC_COMPARE &&
			    io_ops[i] != NVME_OPC_FLUSH) {
				v |= NVME_CMD_EFFECTS_LBCC;
			}
			e->iocs[io_ops[i]] = ftgt_cpu_to_le32(v);
		}
		log_serve(req, page, sizeof(*e), offset, (uint32_t)len);
		return;
	}
	default:
		req_done(req, NVME_SCT_COMMAND_SPECIFIC, NVME_SC_INVALID_LOG_PAGE);
		return;
	}
}

/* ---- Features ---------------------------------------------------------------------- */

/* Features whose value the host may change (for SEL = 3, "supported capabilities"). */
static bool
feature_known(struct nvmf_ctrlr *ctrlr, uint8_t fid)
{
	bool disc = ctrlr->subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY;

	switch (fid) {
	case NVME_FEAT_ASYNC_EVENT_CONFIGURATION:
	case NVME_FEAT_KEEP_ALIVE_TIMER:
		return true;
	case NVME_FEAT_ARBITRATION:
	case NVME_FEAT_POWER_MANAGEMENT:
	case NVME_FEAT_TEMPERATURE_THRESHOLD:
	case NVME_FEAT_ERROR_RECOVERY:
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
	case NVME_FEAT_NUMBER_OF_QUEUES:
	case NVME_FEAT_INTERRUPT_COALESCING:
	case NVME_FEAT_WRITE_ATOMICITY:
	case NVME_FEAT_HOST_IDENTIFIER:
		return !disc;
	default:
		return false;
	}
}

/*
 * Temperature Threshold (NVMe Base 2.0, 5.27.1.4): CDW11 TMPSEL (19:16) picks the sensor,
 * THSEL (21:20) the over (0) or under (1) threshold. Only the composite temperature
 * (TMPSEL 0, or Fh = every implemented sensor) exists here; anything else is an invalid
 * field. Returns the selected threshold, or NULL.
 */
static uint16_t *
temp_threshold(struct nvmf_ctrlr *ctrlr, uint32_t cdw11)
{
	uint32_t tmpsel = (cdw11 >> 16) & 0xf;
	uint32_t thsel = (cdw11 >> 20) & 0x3;

	if ((tmpsel != 0 && tmpsel != 0xf) || thsel > 1) {
		return NULL;
	}
	return thsel == 0 ? &ctrlr->feat_temp_over : &ctrlr->feat_temp_under;
}

static void
nvmf_admin_get_features(struct ftgt_nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = nvmf_cmd_dw(req->cmd, 10);
	uint32_t cdw11 = nvmf_cmd_dw(req->cmd, 11);
	uint8_t fid = cdw10 & 0xff;
	uint8_t sel = (cdw10 >> NVME_FEAT_GET_SEL_SHIFT) & NVME_FEAT_GET_SEL_MASK;
	bool dflt = sel == NVME_FEAT_SEL_DEFAULT || sel == NVME_FEAT_SEL_SAVED;
	uint32_t v = 0;

	if (!feature_known(ctrlr, fid) || sel > NVME_FEAT_SEL_SUPPORTED) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}
	if (sel == NVME_FEAT_SEL_SUPPORTED) {
		/* Not saveable, not namespace specific; changeable unless read only. */
		v = fid == NVME_FEAT_HOST_IDENTIFIER ? 0 : (1u << 2);
		req->rsp->cdw0 = ftgt_cpu_to_le32(v);
		req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
		return;
	}
	switch (fid) {
	case NVME_FEAT_ARBITRATION:
		v = dflt ? 0 : ctrlr->feat_arbitration;
		break;
	case NVME_FEAT_POWER_MANAGEMENT:
		v = dflt ? 0 : ctrlr->feat_power_mgmt;
		break;
	case NVME_FEAT_TEMPERATURE_THRESHOLD: {
		uint16_t *th = temp_threshold(ctrlr, cdw11);

		if (th == NULL) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		if (dflt) {
			v = th == &ctrlr->feat_temp_over ? TEMP_OVER_DEFAULT_K : 0;
		} else {
			v = *th;
		}
		break;
	}
	case NVME_FEAT_ERROR_RECOVERY:
		v = dflt ? 0 : ctrlr->feat_error_recovery;
		break;
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
		v = dflt ? 1 : ctrlr->feat_vwc;
		break;
	case NVME_FEAT_NUMBER_OF_QUEUES: {
		uint32_t n = (uint32_t)(ctrlr->max_io_qid - 1);

		if (dflt) {
			n = (uint32_t)(ctrlr->max_qpairs - 2);
		}
		v = n | (n << 16);
		break;
	}
	case NVME_FEAT_INTERRUPT_COALESCING:
		v = dflt ? 0 : ctrlr->feat_int_coalescing;
		break;
	case NVME_FEAT_WRITE_ATOMICITY:
		v = dflt ? 0 : ctrlr->feat_write_atomicity;
		break;
	case NVME_FEAT_ASYNC_EVENT_CONFIGURATION:
		v = dflt ? 0 : ctrlr->feat_aec;
		break;
	case NVME_FEAT_KEEP_ALIVE_TIMER:
		v = dflt ? 0 : ctrlr->kato_ms;
		break;
	case NVME_FEAT_HOST_IDENTIFIER:
		/* Fabrics use the 128-bit identifier (EXHID must be set). */
		if (!(cdw11 & 1)) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		if (req->xfer != NVME_OPC_XFER_CTRLR_TO_HOST || req->length < 16) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
			return;
		}
		nvmf_request_copy_to_iov(req, ctrlr->hostid, sizeof(ctrlr->hostid));
		break;
	}
	req->rsp->cdw0 = ftgt_cpu_to_le32(v);
	req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

static void
nvmf_admin_set_features(struct ftgt_nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = nvmf_cmd_dw(req->cmd, 10);
	uint32_t cdw11 = nvmf_cmd_dw(req->cmd, 11);
	uint8_t fid = cdw10 & 0xff;

	if (!feature_known(ctrlr, fid)) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}
	if (cdw10 & NVME_FEAT_SET_SV) {
		req_done(req, NVME_SCT_COMMAND_SPECIFIC, NVME_SC_FEATURE_ID_NOT_SAVEABLE);
		return;
	}
	switch (fid) {
	case NVME_FEAT_ARBITRATION:
		ctrlr->feat_arbitration = cdw11;
		break;
	case NVME_FEAT_POWER_MANAGEMENT:
		/* One power state (NPSS = 0). */
		if ((cdw11 & 0x1f) != 0) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		ctrlr->feat_power_mgmt = cdw11;
		break;
	case NVME_FEAT_TEMPERATURE_THRESHOLD: {
		uint16_t *th = temp_threshold(ctrlr, cdw11);

		if (th == NULL) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		*th = cdw11 & 0xffff;
		break;
	}
	case NVME_FEAT_ERROR_RECOVERY:
		/* DULBE needs deallocated-block reporting, which we do not have. */
		if (cdw11 & (1u << 16)) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		ctrlr->feat_error_recovery = cdw11;
		break;
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
		ctrlr->feat_vwc = cdw11 & 1;
		break;
	case NVME_FEAT_NUMBER_OF_QUEUES: {
		uint32_t nsqr = cdw11 & 0xffff, ncqr = cdw11 >> 16, granted;

		if (nsqr == 0xffff || ncqr == 0xffff) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
			return;
		}
		/* Only before any I/O queue exists (NVMe Base 2.0, 5.27.1.7). */
		if (ctrlr->num_io_qpairs != 0) {
			req_done(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
			return;
		}
		granted = FTGT_MIN(FTGT_MIN(nsqr, ncqr) + 1, (uint32_t)ctrlr->max_qpairs - 1);
		ctrlr->max_io_qid = (uint16_t)granted;
		ctrlr->num_queues_set = true;
		req->rsp->cdw0 = ftgt_cpu_to_le32((granted - 1) | ((granted - 1) << 16));
		break;
	}
	case NVME_FEAT_INTERRUPT_COALESCING:
		ctrlr->feat_int_coalescing = cdw11 & 0xffff;
		break;
	case NVME_FEAT_WRITE_ATOMICITY:
		ctrlr->feat_write_atomicity = cdw11 & 1;
		break;
	case NVME_FEAT_ASYNC_EVENT_CONFIGURATION:
		ctrlr->feat_aec = cdw11;
		break;
	case NVME_FEAT_KEEP_ALIVE_TIMER:
		ctrlr->kato_ms =
		        cdw11 == 0 ? 0 : FTGT_CEIL_DIV(cdw11, (uint32_t)NVMF_KAS_MS) * NVMF_KAS_MS;
		if (ctrlr->kato_ms == 0 && ctrlr->subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY) {
			ctrlr->kato_ms = NVMF_DISC_KATO_DEFAULT_MS;
		}
		nvmf_ctrlr_keep_alive_start(ctrlr);
		break;
	case NVME_FEAT_HOST_IDENTIFIER:
		/* On fabrics the host identifier comes with Connect. */
		req_done(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
		return;
	}
	req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

/* ---- Asynchronous events ----------------------------------------------------------- */

/* Bits in aen_masked_notices: 0 namespace attribute, 1 discovery log. */
static void
aer_queue_event(struct nvmf_ctrlr *ctrlr, uint32_t cdw0)
{
	uint32_t i;

	for (i = 0; i < ctrlr->num_pending_events; i++) {
		if (ctrlr->pending_events[i] == cdw0) {
			return; /* already pending: one event covers both */
		}
	}
	if (ctrlr->num_pending_events < NVMF_MAX_PENDING_EVENTS) {
		ctrlr->pending_events[ctrlr->num_pending_events++] = cdw0;
	}
}

void
nvmf_ctrlr_aer_complete_pending(struct nvmf_ctrlr *ctrlr)
{
	struct ftgt_nvmf_qpair *q = ctrlr->admin_qpair;
	struct ftgt_nvmf_request *req;

	if (q == NULL) {
		return;
	}
	while (ctrlr->num_pending_events > 0 && (req = TAILQ_FIRST(&q->aer_reqs)) != NULL) {
		uint32_t cdw0 = ctrlr->pending_events[0];

		memmove(&ctrlr->pending_events[0], &ctrlr->pending_events[1],
		        (ctrlr->num_pending_events - 1) * sizeof(uint32_t));
		ctrlr->num_pending_events--;
		TAILQ_REMOVE(&q->aer_reqs, req, link);
		req->rsp->cdw0 = ftgt_cpu_to_le32(cdw0);
		req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
	}
}

void
nvmf_ctrlr_notify_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid)
{
	uint32_t i;

	if (ctrlr->destructing) {
		return;
	}
	for (i = 0; i < ctrlr->num_changed_ns && i < NVME_CHANGED_NS_LIST_MAX; i++) {
		if (ctrlr->changed_ns[i] == nsid) {
			break;
		}
	}
	if (i == ctrlr->num_changed_ns) {
		if (ctrlr->num_changed_ns < NVME_CHANGED_NS_LIST_MAX) {
			ctrlr->changed_ns[ctrlr->num_changed_ns] = nsid;
		}
		ctrlr->num_changed_ns++;
	}
	if (!(ctrlr->feat_aec & NVME_CTRLR_OAES_NS_ATTR_NOTICES) ||
	    (ctrlr->aen_masked_notices & (1u << 0))) {
		return;
	}
	ctrlr->aen_masked_notices |= 1u << 0;
	aer_queue_event(ctrlr, NVME_AER_CDW0(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_ATTR_CHANGED,
	                                     NVME_LOG_CHANGED_NS_LIST));
	nvmf_ctrlr_aer_complete_pending(ctrlr);
}

void
nvmf_ctrlr_notify_discovery_changed(struct nvmf_ctrlr *ctrlr)
{
	if (ctrlr->destructing ||
	    !(ctrlr->feat_aec & NVME_CTRLR_OAES_DISCOVERY_LOG_CHANGE_NOTICES) ||
	    (ctrlr->aen_masked_notices & (1u << 1))) {
		return;
	}
	ctrlr->aen_masked_notices |= 1u << 1;
	aer_queue_event(ctrlr,
	                NVME_AER_CDW0(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_DISCOVERY_LOG_CHANGE,
	                              NVME_LOG_DISCOVERY));
	nvmf_ctrlr_aer_complete_pending(ctrlr);
}

static void
nvmf_admin_aer(struct ftgt_nvmf_request *req)
{
	struct ftgt_nvmf_qpair *q = req->qpair;
	struct ftgt_nvmf_request *r;
	uint32_t n = 0;

	TAILQ_FOREACH (r, &q->aer_reqs, link) {
		n++;
	}
	if (n >= NVMF_MAX_AER) {
		req_done(req, NVME_SCT_COMMAND_SPECIFIC,
		         NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED);
		return;
	}
	TAILQ_INSERT_TAIL(&q->aer_reqs, req, link);
	nvmf_ctrlr_aer_complete_pending(q->ctrlr);
}

void
nvmf_ctrlr_abort_aers(struct ftgt_nvmf_qpair *qpair)
{
	struct ftgt_nvmf_request *req;

	while ((req = TAILQ_FIRST(&qpair->aer_reqs)) != NULL) {
		TAILQ_REMOVE(&qpair->aer_reqs, req, link);
		req_done(req, NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION);
	}
}

/* ---- Keep Alive, Abort ------------------------------------------------------------- */

static void
nvmf_admin_keep_alive(struct ftgt_nvmf_request *req)
{
	nvmf_ctrlr_keep_alive(req->qpair->ctrlr);
	req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

/* Abort of an I/O queue's command: controller thread -> that queue's thread (find the
 * command, abort it at the bdev) -> controller thread (answer the Abort). */
struct admin_abort_ctx {
	struct ftgt_nvmf_request *abort_req;
	struct ftgt_nvmf_qpair *target;
	struct ftgt_thread *ctrlr_thread;
	uint16_t cid;
	bool aborted;
};

static void
admin_abort_finish(void *arg)
{
	struct admin_abort_ctx *ctx = arg;
	struct ftgt_nvmf_request *req = ctx->abort_req;

	/* Dword 0 bit 0: 0 = the command was aborted, 1 = it was not. */
	req->rsp->cdw0 = ftgt_cpu_to_le32(ctx->aborted ? 0 : 1);
	free(ctx);
	req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

static void
admin_abort_cb(void *arg, bool aborted)
{
	struct admin_abort_ctx *ctx = arg;

	ctx->aborted = aborted;
	if (ftgt_thread_send_msg(ctx->ctrlr_thread, admin_abort_finish, ctx) != 0) {
		FTGT_ERRLOG("nvmf: Abort: message ring full\n");
	}
}

/* On the target queue's thread. */
static void
admin_abort_on_qpair(void *arg)
{
	struct admin_abort_ctx *ctx = arg;
	struct ftgt_nvmf_qpair *q = ctx->target;
	struct ftgt_nvmf_request *r = NULL;

	if (q->state == FTGT_NVMF_QPAIR_ENABLED && q->ops->qpair_abort_req != NULL &&
	    q->ops->qpair_abort_req(q, ctx->cid)) {
		admin_abort_cb(ctx, true); /* still in the transport: aborted there */
		return;
	}
	if (q->state == FTGT_NVMF_QPAIR_ENABLED && q->ops->qpair_find_req != NULL) {
		r = q->ops->qpair_find_req(q, ctx->cid);
	}
	if (r == NULL) {
		admin_abort_cb(ctx, false);
		return;
	}
	nvmf_io_abort(r, admin_abort_cb, ctx);
}

static void
nvmf_admin_abort(struct ftgt_nvmf_request *req)
{
	uint32_t cdw10 = nvmf_cmd_dw(req->cmd, 10);
	uint16_t sqid = cdw10 & 0xffff;
	uint16_t cid = (uint16_t)(cdw10 >> 16);
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct admin_abort_ctx *ctx;
	struct ftgt_nvmf_request *r;
	struct ftgt_nvmf_qpair *q;

	/* dword 0 bit 0 set: "not aborted" unless found below. */
	req->rsp->cdw0 = ftgt_cpu_to_le32(1);
	if (sqid == 0) {
		/* Other admin commands run to completion here: only an AER waits. */
		TAILQ_FOREACH (r, &req->qpair->aer_reqs, link) {
			if (ftgt_le16_to_cpu(r->cmd->cid) == cid) {
				TAILQ_REMOVE(&req->qpair->aer_reqs, r, link);
				req_done(r, NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST);
				req->rsp->cdw0 = 0;
				break;
			}
		}
		req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
		return;
	}
	TAILQ_FOREACH (q, &ctrlr->io_qpairs, ctrlr_link) {
		if (q->qid == sqid) {
			break;
		}
	}
	ctx = q != NULL ? calloc(1, sizeof(*ctx)) : NULL;
	if (ctx == NULL) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
		return;
	}
	ctx->abort_req = req;
	ctx->target = q;
	ctx->ctrlr_thread = ctrlr->thread;
	ctx->cid = cid;
	/* q is freed only after a message this thread sends later (ctrlr_qpair_detach). */
	if (ftgt_thread_send_msg(q->thread, admin_abort_on_qpair, ctx) != 0) {
		free(ctx);
		req_done(req, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
	}
}

static const nvmf_admin_fn g_admin_cmds[256] = {
        [NVME_OPC_GET_LOG_PAGE] = nvmf_admin_get_log_page,
        [NVME_OPC_IDENTIFY] = nvmf_admin_identify,
        [NVME_OPC_ABORT] = nvmf_admin_abort,
        [NVME_OPC_SET_FEATURES] = nvmf_admin_set_features,
        [NVME_OPC_GET_FEATURES] = nvmf_admin_get_features,
        [NVME_OPC_ASYNC_EVENT_REQUEST] = nvmf_admin_aer,
        [NVME_OPC_KEEP_ALIVE] = nvmf_admin_keep_alive,
};

void
nvmf_admin_exec(struct ftgt_nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	const struct nvme_cmd *cmd = req->cmd;
	nvmf_admin_fn fn = g_admin_cmds[cmd->opc];

	if ((cmd->flags & NVME_CMD_FUSE_MASK) != 0) {
		/* No fused admin commands (NVMe Base 2.0, 3.4.2). */
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		return;
	}
	if (fn == NULL) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
		return;
	}
	/* Before CC.EN=1 and CSTS.RDY=1 only fabrics commands are processed (3.5.1). */
	if (!(ctrlr->cc & NVME_CC_EN) || !(ctrlr->csts & NVME_CSTS_RDY)) {
		req_done(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
		return;
	}
	fn(req);
}
