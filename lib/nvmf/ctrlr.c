/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Controllers: Connect (admin and I/O queues, every field checked), Property Get/Set
 * with the CC.EN / CSTS.RDY / shutdown state machine, keep-alive expiry, and the
 * detaching of queue pairs when connections go away.
 *
 * Threads: a Connect starts on the queue pair's thread, looks the subsystem up on the app
 * thread (which owns subsystems), goes to the controller's thread for an I/O queue, and
 * completes back on the queue pair's thread. Messages between two threads run in the
 * order sent, which is what keeps a controller alive while messages for it are queued:
 * it is freed by a message the app thread sends last.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/log.h"
#include "nvmf_internal.h"

struct connect_ctx {
	struct ftgt_nvmf_request *req;
	struct ftgt_nvmf_qpair *qpair;
	struct nvmf_connect_data data;
	uint16_t qid;
	uint16_t sqsize; /* 0's based, as on the wire */
	uint32_t kato_ms;
	bool sqfc_disabled;
	struct nvmf_ctrlr *ctrlr;
	uint8_t sct;
	uint8_t sc;
	uint32_t cdw0;
};

static void
connect_set_invalid(struct connect_ctx *ctx, int iattr, uint16_t ipo)
{
	ctx->sct = NVME_SCT_COMMAND_SPECIFIC;
	ctx->sc = NVMF_SC_INVALID_PARAM;
	ctx->cdw0 = NVMF_CONNECT_INVALID_CDW0(iattr, ipo);
}

static void
connect_set_status(struct connect_ctx *ctx, int sct, int sc)
{
	ctx->sct = (uint8_t)sct;
	ctx->sc = (uint8_t)sc;
	ctx->cdw0 = 0;
}

/* Runs on the qpair's thread: answer the Connect. */
static void
connect_finish(void *arg)
{
	struct connect_ctx *ctx = arg;
	struct ftgt_nvmf_request *req = ctx->req;
	struct ftgt_nvmf_qpair *qpair = ctx->qpair;

	if (ctx->sct == NVME_SCT_GENERIC && ctx->sc == NVME_SC_SUCCESS) {
		qpair->ctrlr = ctx->ctrlr;
		qpair->qid = ctx->qid;
		qpair->sqsize = (uint16_t)(ctx->sqsize + 1);
		qpair->sqfc_disabled = ctx->sqfc_disabled;
		if (qpair->state == FTGT_NVMF_QPAIR_CONNECTING) {
			qpair->state = FTGT_NVMF_QPAIR_ENABLED;
		}
		req->rsp->cdw0 = ftgt_cpu_to_le32(ctx->ctrlr->cntlid);
		FTGT_INFOLOG("nvmf: %s: host %s connected queue %u of controller %u\n",
		             ctx->ctrlr->subsys->nqn, ctx->ctrlr->hostnqn, ctx->qid,
		             ctx->ctrlr->cntlid);
	} else {
		if (qpair->state == FTGT_NVMF_QPAIR_CONNECTING) {
			qpair->state = FTGT_NVMF_QPAIR_UNINITIALIZED;
		}
		req->rsp->cdw0 = ftgt_cpu_to_le32(ctx->cdw0);
		FTGT_NOTICELOG("nvmf: connect of queue %u to '%.223s' by '%.223s' refused: "
		               "sct %u sc 0x%02x ipo %u\n",
		               ctx->qid, ctx->data.subnqn, ctx->data.hostnqn, ctx->sct, ctx->sc,
		               ctx->cdw0 & 0xffff);
	}
	nvmf_request_set_status(req, ctx->sct, ctx->sc);
	free(ctx);
	nvmf_request_complete(req);
}

static void
connect_reply(struct connect_ctx *ctx)
{
	if (ftgt_thread_send_msg(ctx->qpair->thread, connect_finish, ctx) != 0) {
		FTGT_ERRLOG("nvmf: cannot answer a Connect: message ring full\n");
	}
}

static int
keep_alive_poll(void *arg)
{
	struct nvmf_ctrlr *ctrlr = arg;
	uint64_t now = ftgt_get_ticks();
	uint64_t limit = (uint64_t)ctrlr->kato_ms * ftgt_get_ticks_hz() / 1000;

	if (ctrlr->kato_ms == 0 || now - ctrlr->last_keep_alive_tick <= limit) {
		return FTGT_POLLER_IDLE;
	}
	FTGT_NOTICELOG("nvmf: %s: controller %u of host %s: keep-alive timeout (%u ms) expired\n",
	               ctrlr->subsys->nqn, ctrlr->cntlid, ctrlr->hostnqn, ctrlr->kato_ms);
	ftgt_poller_unregister(&ctrlr->keep_alive_poller);
	nvmf_ctrlr_disconnect_all(ctrlr);
	return FTGT_POLLER_BUSY;
}

void
nvmf_ctrlr_keep_alive_start(struct nvmf_ctrlr *ctrlr)
{
	uint64_t period_us;

	ftgt_poller_unregister(&ctrlr->keep_alive_poller);
	ctrlr->last_keep_alive_tick = ftgt_get_ticks();
	if (ctrlr->kato_ms == 0) {
		return;
	}
	period_us = FTGT_MAX((uint64_t)ctrlr->kato_ms * 250, 10000);
	ctrlr->keep_alive_poller =
	        ftgt_poller_register(keep_alive_poll, ctrlr, period_us, "nvmf_keep_alive");
}

void
nvmf_ctrlr_keep_alive(struct nvmf_ctrlr *ctrlr)
{
	ctrlr->last_keep_alive_tick = ftgt_get_ticks();
}

/* Admin Connect, second half, on the qpair's thread (which becomes the ctrlr's). */
static void
connect_admin_attach(void *arg)
{
	struct connect_ctx *ctx = arg;
	struct nvmf_ctrlr *ctrlr = ctx->ctrlr;

	ctrlr->admin_qpair = ctx->qpair;
	__atomic_add_fetch(&ctrlr->num_qpairs, 1, __ATOMIC_RELAXED);
	nvmf_ctrlr_keep_alive_start(ctrlr);
	connect_finish(ctx);
}

static struct nvmf_ctrlr *
ctrlr_create(struct connect_ctx *ctx, struct ftgt_nvmf_subsystem *subsys)
{
	struct ftgt_nvmf_transport *t = ctx->qpair->transport;
	struct nvmf_ctrlr *ctrlr;
	uint16_t cntlid = nvmf_subsystem_alloc_cntlid(subsys);

	if (cntlid == 0) {
		return NULL;
	}
	ctrlr = calloc(1, sizeof(*ctrlr));
	if (ctrlr == NULL) {
		return NULL;
	}
	ctrlr->max_qpairs = FTGT_MAX(t->opts.max_qpairs_per_ctrlr, 2);
	ctrlr->qid_used = calloc(ctrlr->max_qpairs, 1);
	if (ctrlr->qid_used == NULL) {
		free(ctrlr);
		return NULL;
	}
	ctrlr->subsys = subsys;
	ctrlr->cntlid = cntlid;
	ctrlr->thread = ctx->qpair->thread;
	ctrlr->transport = t;
	ctrlr->listen_addr = ctx->qpair->listen_addr;
	memcpy(ctrlr->hostid, ctx->data.hostid, sizeof(ctrlr->hostid));
	ftgt_strlcpy(ctrlr->hostnqn, ctx->data.hostnqn, sizeof(ctrlr->hostnqn));
	TAILQ_INIT(&ctrlr->io_qpairs);
	ctrlr->max_io_qid = (uint16_t)(ctrlr->max_qpairs - 1);
	/* CAP (NVMe Base 2.0, 3.1.3.1): MQES 0's based, contiguous queues required,
	 * CAP.TO, NVM command set, 4 KiB pages only. */
	ctrlr->cap = ((uint64_t)(t->opts.max_queue_depth - 1) & NVME_CAP_MQES_MASK) | NVME_CAP_CQR |
	             ((uint64_t)NVMF_CAP_TO_500MS << NVME_CAP_TO_SHIFT) | NVME_CAP_CSS_NVM;
	ctrlr->vs = NVMF_VS;
	ctrlr->kato_ms = ctx->kato_ms;
	if (subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY && ctrlr->kato_ms == 0) {
		/* Reap discovery controllers of hosts that vanish (as SPDK does). */
		ctrlr->kato_ms = NVMF_DISC_KATO_DEFAULT_MS;
	}
	if (ctrlr->kato_ms != 0) {
		ctrlr->kato_ms = FTGT_CEIL_DIV(ctrlr->kato_ms, (uint32_t)NVMF_KAS_MS) * NVMF_KAS_MS;
	}
	ctrlr->feat_vwc = 1;
	ctrlr->feat_temp_over = TEMP_OVER_DEFAULT_K;
	ctrlr->feat_temp_under = 0;
	TAILQ_INSERT_TAIL(&subsys->ctrlrs, ctrlr, subsys_link);
	subsys->num_ctrlrs++;
	return ctrlr;
}

/* I/O Connect, third step, on the controller's thread. */
static void
connect_io_ctrlr(void *arg)
{
	struct connect_ctx *ctx = arg;
	struct nvmf_ctrlr *ctrlr = ctx->ctrlr;
	uint32_t cc = ctrlr->cc;

	if (ctrlr->destructing || ctrlr->admin_qpair == NULL) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, cntlid));
	} else if (!(cc & NVME_CC_EN) || !(ctrlr->csts & NVME_CSTS_RDY)) {
		connect_set_status(ctx, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
	} else if (((cc >> NVME_CC_IOSQES_SHIFT) & NVME_CC_IOSQES_MASK) != 6 ||
	           ((cc >> NVME_CC_IOCQES_SHIFT) & NVME_CC_IOCQES_MASK) != 4) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_CMD,
		                    offsetof(struct nvmf_connect_cmd, qid));
	} else if (ctx->qid > ctrlr->max_io_qid || ctx->qid >= ctrlr->max_qpairs) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_CMD,
		                    offsetof(struct nvmf_connect_cmd, qid));
	} else if (ctrlr->qid_used[ctx->qid]) {
		/* One connection per queue ID: a second one is refused. */
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_CMD,
		                    offsetof(struct nvmf_connect_cmd, qid));
	} else {
		ctrlr->qid_used[ctx->qid] = 1;
		ctx->qpair->qid = ctx->qid;
		TAILQ_INSERT_TAIL(&ctrlr->io_qpairs, ctx->qpair, ctrlr_link);
		ctrlr->num_io_qpairs++;
		__atomic_add_fetch(&ctrlr->num_qpairs, 1, __ATOMIC_RELAXED);
		connect_set_status(ctx, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
	}
	connect_reply(ctx);
}

/* Second step, on the app thread: subsystem, host and listener checks. */
static void
connect_app(void *arg)
{
	struct connect_ctx *ctx = arg;
	struct ftgt_nvmf_subsystem *subsys = ftgt_nvmf_subsystem_get_by_nqn(ctx->data.subnqn);
	struct nvmf_ctrlr *ctrlr;
	uint16_t cntlid = ftgt_le16_to_cpu(ctx->data.cntlid);

	if (subsys == NULL || subsys->destroying ||
	    !nvmf_subsystem_listener_allowed(subsys, &ctx->qpair->listen_addr)) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, subnqn));
		connect_reply(ctx);
		return;
	}
	if (!ftgt_nvmf_subsystem_host_allowed(subsys, ctx->data.hostnqn)) {
		connect_set_status(ctx, NVME_SCT_COMMAND_SPECIFIC, NVMF_SC_INVALID_HOST);
		connect_reply(ctx);
		return;
	}
	if (ctx->qid == 0 && !subsys->allow_duplicate_host) {
		TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
			if (strcmp(ctrlr->hostnqn, ctx->data.hostnqn) == 0 &&
			    memcmp(ctrlr->hostid, ctx->data.hostid, sizeof(ctrlr->hostid)) == 0 &&
			    nvmf_listen_addr_equal(&ctrlr->listen_addr, &ctx->qpair->listen_addr)) {
				break;
			}
		}
		if (ctrlr != NULL) {
			/* Policy: one controller per host NQN + host ID per listener. */
			connect_set_status(ctx, NVME_SCT_COMMAND_SPECIFIC, NVMF_SC_CONTROLLER_BUSY);
			connect_reply(ctx);
			return;
		}
	}
	if (ctx->qid == 0) {
		ctrlr = ctrlr_create(ctx, subsys);
		if (ctrlr == NULL) {
			connect_set_status(ctx, NVME_SCT_COMMAND_SPECIFIC, NVMF_SC_CONTROLLER_BUSY);
			connect_reply(ctx);
			return;
		}
		ctx->ctrlr = ctrlr;
		connect_set_status(ctx, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
		if (ftgt_thread_send_msg(ctx->qpair->thread, connect_admin_attach, ctx) != 0) {
			FTGT_ERRLOG("nvmf: cannot attach controller: message ring full\n");
		}
		return;
	}
	if (subsys->type == FTGT_NVMF_SUBTYPE_DISCOVERY) {
		/* A discovery controller has no I/O queues. */
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_CMD,
		                    offsetof(struct nvmf_connect_cmd, qid));
		connect_reply(ctx);
		return;
	}
	TAILQ_FOREACH (ctrlr, &subsys->ctrlrs, subsys_link) {
		if (ctrlr->cntlid == cntlid) {
			break;
		}
	}
	if (ctrlr == NULL) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, cntlid));
		connect_reply(ctx);
		return;
	}
	if (strcmp(ctrlr->hostnqn, ctx->data.hostnqn) != 0) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, hostnqn));
		connect_reply(ctx);
		return;
	}
	if (memcmp(ctrlr->hostid, ctx->data.hostid, sizeof(ctrlr->hostid)) != 0) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, hostid));
		connect_reply(ctx);
		return;
	}
	ctx->ctrlr = ctrlr;
	if (ftgt_thread_send_msg(ctrlr->thread, connect_io_ctrlr, ctx) != 0) {
		connect_set_status(ctx, NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
		connect_reply(ctx);
	}
}

static bool
nqn_field_ok(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL && ftgt_nqn_is_valid(field, NULL, 0);
}

static bool
bytes_are_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0) {
			return false;
		}
	}
	return true;
}

/* Connect, first step, on the qpair's thread: the fields of the command and its data. */
static void
nvmf_ctrlr_cmd_connect(struct ftgt_nvmf_request *req)
{
	const struct nvmf_connect_cmd *cmd = (const struct nvmf_connect_cmd *)req->cmd;
	struct ftgt_nvmf_qpair *qpair = req->qpair;
	struct ftgt_nvmf_transport_opts *opts = &qpair->transport->opts;
	struct connect_ctx *ctx;
	uint32_t max_entries;

	if (qpair->state != FTGT_NVMF_QPAIR_UNINITIALIZED) {
		/* A queue is connected once (NVMe-oF 1.1, 3.3). */
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
		nvmf_request_complete(req);
		return;
	}
	if (req->length < sizeof(struct nvmf_connect_data) ||
	    req->xfer != NVME_OPC_XFER_HOST_TO_CTRLR) {
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		nvmf_request_complete(req);
		return;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
		nvmf_request_complete(req);
		return;
	}
	ctx->req = req;
	ctx->qpair = qpair;
	nvmf_request_copy_from_iov(req, &ctx->data, sizeof(ctx->data));
	ctx->qid = ftgt_le16_to_cpu(cmd->qid);
	ctx->sqsize = ftgt_le16_to_cpu(cmd->sqsize);
	ctx->kato_ms = ftgt_le32_to_cpu(cmd->kato);
	ctx->sqfc_disabled = cmd->cattr & NVMF_CONNECT_CATTR_DISABLE_SQFC;
	max_entries = ctx->qid == 0 ? opts->max_aq_depth : opts->max_queue_depth;

	if (ftgt_le16_to_cpu(cmd->recfmt) != 0) {
		connect_set_status(ctx, NVME_SCT_COMMAND_SPECIFIC, NVMF_SC_INCOMPATIBLE_FORMAT);
	} else if (ctx->sqsize == 0 || (uint32_t)ctx->sqsize + 1 > max_entries) {
		/* SQSIZE is 0's based and a queue has at least 2 entries. */
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_CMD,
		                    offsetof(struct nvmf_connect_cmd, sqsize));
	} else if (ctx->qid >= FTGT_MAX(opts->max_qpairs_per_ctrlr, 2)) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_CMD,
		                    offsetof(struct nvmf_connect_cmd, qid));
	} else if (bytes_are_zero(ctx->data.hostid, sizeof(ctx->data.hostid))) {
		/* NVMe Base 2.0, 5.27.1.25: a zero Host Identifier is invalid on fabrics. */
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, hostid));
	} else if (ctx->qid == 0 && ftgt_le16_to_cpu(ctx->data.cntlid) != NVMF_CNTLID_DYNAMIC) {
		/* Dynamic controller model only: the admin Connect asks for FFFFh. */
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, cntlid));
	} else if (!nqn_field_ok(ctx->data.subnqn, sizeof(ctx->data.subnqn))) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, subnqn));
	} else if (!nqn_field_ok(ctx->data.hostnqn, sizeof(ctx->data.hostnqn))) {
		connect_set_invalid(ctx, NVMF_CONNECT_IATTR_DATA,
		                    offsetof(struct nvmf_connect_data, hostnqn));
	} else {
		/* Make the NQN fields safe to print whatever happens next. */
		ctx->data.subnqn[sizeof(ctx->data.subnqn) - 1] = '\0';
		ctx->data.hostnqn[sizeof(ctx->data.hostnqn) - 1] = '\0';
		qpair->state = FTGT_NVMF_QPAIR_CONNECTING;
		if (ftgt_thread_send_msg(g_nvmf_tgt.thread, connect_app, ctx) == 0) {
			return;
		}
		qpair->state = FTGT_NVMF_QPAIR_UNINITIALIZED;
		connect_set_status(ctx, NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	}
	ctx->data.subnqn[sizeof(ctx->data.subnqn) - 1] = '\0';
	ctx->data.hostnqn[sizeof(ctx->data.hostnqn) - 1] = '\0';
	connect_finish(ctx);
}

/* ---- properties -------------------------------------------------------------------- */

static void
ctrlr_shutdown_progress(struct nvmf_ctrlr *ctrlr)
{
	uint32_t shst = (ctrlr->csts >> NVME_CSTS_SHST_SHIFT) & NVME_CSTS_SHST_MASK;

	if (shst == NVME_CSTS_SHST_OCCURRING && ctrlr->num_io_qpairs == 0) {
		ctrlr->csts &= ~(NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT);
		ctrlr->csts |= NVME_CSTS_SHST_COMPLETE << NVME_CSTS_SHST_SHIFT;
	}
}

static void
qpair_disconnect_msg(void *arg)
{
	ftgt_nvmf_qpair_disconnect(arg);
}

static void
ctrlr_disconnect_io_qpairs(struct nvmf_ctrlr *ctrlr)
{
	struct ftgt_nvmf_qpair *q;

	TAILQ_FOREACH (q, &ctrlr->io_qpairs, ctrlr_link) {
		ftgt_thread_send_msg(q->thread, qpair_disconnect_msg, q);
	}
}

void
nvmf_ctrlr_disconnect_all(struct nvmf_ctrlr *ctrlr)
{
	ctrlr_disconnect_io_qpairs(ctrlr);
	if (ctrlr->admin_qpair != NULL) {
		ftgt_thread_send_msg(ctrlr->thread, qpair_disconnect_msg, ctrlr->admin_qpair);
	}
}

/* Returns an NVMe generic status code. */
static int
ctrlr_set_cc(struct nvmf_ctrlr *ctrlr, uint32_t cc)
{
	uint32_t old = ctrlr->cc;
	uint32_t shn = (cc >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK;
	uint32_t css = (cc >> NVME_CC_CSS_SHIFT) & NVME_CC_CSS_MASK;

	if ((cc & NVME_CC_EN) && !(old & NVME_CC_EN)) {
		/* Enabling: the page size must be within CAP.MPSMIN..MPSMAX (4 KiB only),
		 * the arbitration round robin, the command set NVM (or admin only). */
		if (((cc >> NVME_CC_MPS_SHIFT) & NVME_CC_MPS_MASK) != 0 ||
		    ((cc >> NVME_CC_AMS_SHIFT) & NVME_CC_AMS_MASK) != 0 ||
		    (css != NVME_CC_CSS_NVM && css != NVME_CC_CSS_ADMIN_ONLY)) {
			return NVME_SC_INVALID_FIELD;
		}
		ctrlr->cc = cc;
		ctrlr->csts = NVME_CSTS_RDY;
		return NVME_SC_SUCCESS;
	}
	if (!(cc & NVME_CC_EN) && (old & NVME_CC_EN)) {
		/* Reset (NVMe Base 2.0, 3.7.2): I/O queues go away. */
		ctrlr->cc = cc;
		ctrlr->csts &= ~NVME_CSTS_RDY;
		ctrlr_disconnect_io_qpairs(ctrlr);
		return NVME_SC_SUCCESS;
	}
	if (shn != NVME_CC_SHN_NONE &&
	    ((old >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK) == NVME_CC_SHN_NONE) {
		/* Shutdown: complete once every I/O queue is gone. */
		ctrlr->cc = cc;
		ctrlr->csts &= ~(NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT);
		ctrlr->csts |= NVME_CSTS_SHST_OCCURRING << NVME_CSTS_SHST_SHIFT;
		ctrlr_disconnect_io_qpairs(ctrlr);
		ctrlr_shutdown_progress(ctrlr);
		return NVME_SC_SUCCESS;
	}
	if (shn == NVME_CC_SHN_NONE &&
	    ((old >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK) != NVME_CC_SHN_NONE) {
		ctrlr->csts &= ~(NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT);
	}
	/* Other changes while enabled: only IOSQES/IOCQES and SHN matter; keep them. */
	ctrlr->cc = cc;
	return NVME_SC_SUCCESS;
}

static void
nvmf_ctrlr_property_get(struct ftgt_nvmf_request *req)
{
	const struct nvmf_property_get_cmd *cmd = (const void *)req->cmd;
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t ofst = ftgt_le32_to_cpu(cmd->ofst);
	uint8_t size = cmd->attrib & 0x7;
	uint64_t value;
	int sc = NVME_SC_SUCCESS;

	switch (ofst) {
	case NVME_REG_CAP:
		value = ctrlr->cap;
		sc = size == NVMF_PROP_SIZE_8 ? NVME_SC_SUCCESS : NVME_SC_INVALID_FIELD;
		break;
	case NVME_REG_VS:
		value = ctrlr->vs;
		sc = size == NVMF_PROP_SIZE_4 ? NVME_SC_SUCCESS : NVME_SC_INVALID_FIELD;
		break;
	case NVME_REG_CC:
		value = ctrlr->cc;
		sc = size == NVMF_PROP_SIZE_4 ? NVME_SC_SUCCESS : NVME_SC_INVALID_FIELD;
		break;
	case NVME_REG_CSTS:
		value = ctrlr->csts;
		sc = size == NVMF_PROP_SIZE_4 ? NVME_SC_SUCCESS : NVME_SC_INVALID_FIELD;
		break;
	default:
		value = 0;
		sc = NVME_SC_INVALID_FIELD;
		break;
	}
	if (sc == NVME_SC_SUCCESS) {
		req->rsp->cdw0 = ftgt_cpu_to_le32((uint32_t)value);
		req->rsp->cdw1 = ftgt_cpu_to_le32((uint32_t)(value >> 32));
	}
	nvmf_request_set_status(req, NVME_SCT_GENERIC, sc);
	nvmf_request_complete(req);
}

static void
nvmf_ctrlr_property_set(struct ftgt_nvmf_request *req)
{
	const struct nvmf_property_set_cmd *cmd = (const void *)req->cmd;
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t ofst = ftgt_le32_to_cpu(cmd->ofst);
	uint8_t size = cmd->attrib & 0x7;
	uint64_t value = ftgt_le64_to_cpu(cmd->value);
	int sc;

	if (ofst == NVME_REG_CC && size == NVMF_PROP_SIZE_4) {
		sc = ctrlr_set_cc(ctrlr, (uint32_t)value);
	} else {
		/* CAP, VS, CSTS are read only; NSSR unsupported (CAP.NSSRS = 0); the rest
		 * is reserved on fabrics. */
		sc = NVME_SC_INVALID_FIELD;
	}
	nvmf_request_set_status(req, NVME_SCT_GENERIC, sc);
	nvmf_request_complete(req);
}

void
nvmf_ctrlr_exec_fabrics(struct ftgt_nvmf_request *req)
{
	const struct nvmf_capsule_cmd *cmd = (const void *)req->cmd;
	struct ftgt_nvmf_qpair *qpair = req->qpair;

	if (cmd->fctype == NVMF_FCTYPE_CONNECT) {
		nvmf_ctrlr_cmd_connect(req);
		return;
	}
	if (qpair->state != FTGT_NVMF_QPAIR_ENABLED || qpair->ctrlr == NULL) {
		nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
		nvmf_request_complete(req);
		return;
	}
	if (qpair->qid == 0) {
		switch (cmd->fctype) {
		case NVMF_FCTYPE_PROPERTY_GET:
			nvmf_ctrlr_property_get(req);
			return;
		case NVMF_FCTYPE_PROPERTY_SET:
			nvmf_ctrlr_property_set(req);
			return;
		default:
			break;
		}
	}
	/* Authentication and Disconnect are not supported (OFCS bit 0 is clear). */
	nvmf_request_set_status(req, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	nvmf_request_complete(req);
}

/* ---- queue pairs ------------------------------------------------------------------- */

void
ftgt_nvmf_qpair_init(struct ftgt_nvmf_qpair *qpair, struct ftgt_nvmf_transport *transport,
                     const struct ftgt_nvmf_listen_addr *listen_addr,
                     const struct ftgt_nvmf_listen_addr *peer_addr)
{
	memset(qpair, 0, sizeof(*qpair));
	qpair->transport = transport;
	qpair->ops = transport->ops;
	qpair->thread = ftgt_get_thread();
	qpair->state = FTGT_NVMF_QPAIR_UNINITIALIZED;
	if (listen_addr != NULL) {
		qpair->listen_addr = *listen_addr;
	}
	if (peer_addr != NULL) {
		qpair->peer_addr = *peer_addr;
	}
	TAILQ_INIT(&qpair->aer_reqs);
	__atomic_add_fetch(&g_nvmf_tgt.num_connections, 1, __ATOMIC_RELAXED);
}

void
ftgt_nvmf_qpair_disconnect(struct ftgt_nvmf_qpair *qpair)
{
	if (qpair->state == FTGT_NVMF_QPAIR_DEACTIVATING || qpair->state == FTGT_NVMF_QPAIR_ERROR) {
		return;
	}
	qpair->ops->qpair_disconnect(qpair);
}

static void
qpair_fini_done(void *arg)
{
	struct ftgt_nvmf_qpair *qpair = arg;
	void (*cb_fn)(void *) = qpair->disconnect_cb;
	void *cb_arg = qpair->disconnect_cb_arg;

	qpair->disconnect_cb = NULL;
	__atomic_sub_fetch(&g_nvmf_tgt.num_connections, 1, __ATOMIC_RELAXED);
	cb_fn(cb_arg);
}

static void
ctrlr_gone_msg(void *arg)
{
	nvmf_subsystem_ctrlr_gone(arg);
}

/* On the controller's thread: forget the qpair; destroy the controller with its admin queue. */
static void
ctrlr_qpair_detach(void *arg)
{
	struct ftgt_nvmf_qpair *qpair = arg;
	struct nvmf_ctrlr *ctrlr = qpair->ctrlr;
	struct ftgt_thread *qthread = qpair->thread;

	if (ctrlr->admin_qpair == qpair) {
		ctrlr->admin_qpair = NULL;
		ctrlr->destructing = true;
		ftgt_poller_unregister(&ctrlr->keep_alive_poller);
		ctrlr_disconnect_io_qpairs(ctrlr);
		__atomic_sub_fetch(&ctrlr->num_qpairs, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_sub_fetch(&ctrlr->num_qpairs, 1, __ATOMIC_RELAXED);
		TAILQ_REMOVE(&ctrlr->io_qpairs, qpair, ctrlr_link);
		ctrlr->qid_used[qpair->qid] = 0;
		ctrlr->num_io_qpairs--;
		ctrlr_shutdown_progress(ctrlr);
	}
	ftgt_thread_send_msg(qthread, qpair_fini_done, qpair);
	if (ctrlr->destructing && ctrlr->admin_qpair == NULL && ctrlr->num_io_qpairs == 0) {
		FTGT_INFOLOG("nvmf: %s: controller %u of host %s destroyed\n", ctrlr->subsys->nqn,
		             ctrlr->cntlid, ctrlr->hostnqn);
		ftgt_thread_send_msg(g_nvmf_tgt.thread, ctrlr_gone_msg, ctrlr);
	}
}

/* Every request of the qpair is done: detach it (qpair's thread). */
void
nvmf_ctrlr_qpair_fini(struct ftgt_nvmf_qpair *qpair)
{
	qpair->state = FTGT_NVMF_QPAIR_ERROR;
	nvmf_qpair_put_ns_channels(qpair);
	if (qpair->ctrlr == NULL) {
		qpair_fini_done(qpair);
		return;
	}
	if (ftgt_thread_send_msg(qpair->ctrlr->thread, ctrlr_qpair_detach, qpair) != 0) {
		FTGT_ERRLOG("nvmf: qpair %u: cannot detach: message ring full\n", qpair->qid);
	}
}

void
ftgt_nvmf_qpair_fini(struct ftgt_nvmf_qpair *qpair, void (*cb_fn)(void *cb_arg), void *cb_arg)
{
	qpair->disconnect_cb = cb_fn;
	qpair->disconnect_cb_arg = cb_arg;
	qpair->state = FTGT_NVMF_QPAIR_DEACTIVATING;
	nvmf_ctrlr_abort_aers(qpair);
	if (qpair->fused_first != NULL) {
		struct ftgt_nvmf_request *first = qpair->fused_first;

		qpair->fused_first = NULL;
		nvmf_request_set_status(first, NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION);
		nvmf_request_complete(first);
		return; /* completing the last request ran the rest */
	}
	if (qpair->state == FTGT_NVMF_QPAIR_DEACTIVATING && qpair->outstanding == 0) {
		nvmf_ctrlr_qpair_fini(qpair);
	}
}
