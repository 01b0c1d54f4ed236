/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Controller bring-up over fabrics (NVMe-oF 1.1, 3.3 and 3.5; NVMe Base 2.0, 3.5.2) as a
 * poll-driven state machine: Connect on the admin queue, CAP/VS, CC.EN and CSTS.RDY,
 * Identify, Asynchronous Event Configuration, namespaces. The same machine reconnects
 * after a reset, with back-off after failures. Also: admin commands, keep-alive,
 * asynchronous events, discovery log, I/O queue pairs and orderly shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftgt/log.h"
#include "ftgt/string.h"
#include "nvme_internal.h"

FTGT_LOG_REGISTER_COMPONENT(nvme)

/* A blocking command's result, filled by sync_cb. */
struct sync_cmd {
	bool done;
	struct nvme_cpl cpl;
};

static void
sync_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct sync_cmd *sc = cb_arg;

	sc->cpl = *cpl;
	sc->done = true;
}

const char *
ftgt_nvme_status_str(uint16_t status)
{
	static __thread char buf[48];
	uint16_t sct = NVME_STATUS_GET_SCT(status), sc = NVME_STATUS_GET_SC(status);
	const char *name = NULL;

	if (sct == NVME_SCT_GENERIC) {
		switch (sc) {
		case NVME_SC_SUCCESS:
			name = "SUCCESS";
			break;
		case NVME_SC_INVALID_OPCODE:
			name = "INVALID_OPCODE";
			break;
		case NVME_SC_INVALID_FIELD:
			name = "INVALID_FIELD";
			break;
		case NVME_SC_DATA_TRANSFER_ERROR:
			name = "DATA_TRANSFER_ERROR";
			break;
		case NVME_SC_INTERNAL_DEVICE_ERROR:
			name = "INTERNAL_DEVICE_ERROR";
			break;
		case NVME_SC_ABORTED_BY_REQUEST:
			name = "ABORTED_BY_REQUEST";
			break;
		case NVME_SC_ABORTED_SQ_DELETION:
			name = "ABORTED_SQ_DELETION";
			break;
		case NVME_SC_INVALID_NAMESPACE_OR_FORMAT:
			name = "INVALID_NAMESPACE_OR_FORMAT";
			break;
		case NVME_SC_COMMAND_SEQUENCE_ERROR:
			name = "COMMAND_SEQUENCE_ERROR";
			break;
		case NVME_SC_LBA_OUT_OF_RANGE:
			name = "LBA_OUT_OF_RANGE";
			break;
		case NVME_SC_ABORTED_FAILED_FUSED:
			name = "ABORTED_FAILED_FUSED";
			break;
		case NVME_SC_ABORTED_MISSING_FUSED:
			name = "ABORTED_MISSING_FUSED";
			break;
		case NVME_SC_ATOMIC_WRITE_UNIT_EXCEEDED:
			name = "ATOMIC_WRITE_UNIT_EXCEEDED";
			break;
		default:
			break;
		}
		snprintf(buf, sizeof(buf), "GENERIC/%s", name != NULL ? name : "?");
		if (name == NULL) {
			snprintf(buf, sizeof(buf), "GENERIC/0x%02x", sc);
		}
		return buf;
	}
	if (sct == NVME_SCT_COMMAND_SPECIFIC) {
		switch (sc) {
		case NVMF_SC_INCOMPATIBLE_FORMAT:
			name = "INCOMPATIBLE_FORMAT";
			break;
		case NVMF_SC_CONTROLLER_BUSY:
			name = "CONTROLLER_BUSY";
			break;
		case NVMF_SC_INVALID_PARAM:
			name = "CONNECT_INVALID_PARAMETERS";
			break;
		case NVMF_SC_INVALID_HOST:
			name = "CONNECT_INVALID_HOST";
			break;
		default:
			break;
		}
	} else if (sct == NVME_SCT_MEDIA_ERROR && sc == NVME_SC_COMPARE_FAILURE) {
		name = "COMPARE_FAILURE";
	}
	if (name != NULL) {
		snprintf(buf, sizeof(buf), "%s/%s",
		         sct == NVME_SCT_COMMAND_SPECIFIC ? "COMMAND_SPECIFIC" : "MEDIA", name);
	} else {
		snprintf(buf, sizeof(buf), "SCT 0x%x/SC 0x%02x", sct, sc);
	}
	return buf;
}

void
ftgt_nvme_ctrlr_opts_default(struct ftgt_nvme_ctrlr_opts *opts)
{
	static const char hex[] = "0123456789abcdef";
	char uuid[37];
	int fd, i, j;

	memset(opts, 0, sizeof(*opts));
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, opts->hostid, sizeof(opts->hostid)) != sizeof(opts->hostid)) {
		for (i = 0; i < 16; i++) {
			opts->hostid[i] = (uint8_t)(rand() & 0xff);
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	opts->hostid[6] = (uint8_t)((opts->hostid[6] & 0x0f) | 0x40);
	opts->hostid[8] = (uint8_t)((opts->hostid[8] & 0x3f) | 0x80);
	for (i = 0, j = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			uuid[j++] = '-';
		}
		uuid[j++] = hex[opts->hostid[i] >> 4];
		uuid[j++] = hex[opts->hostid[i] & 0xf];
	}
	uuid[j] = '\0';
	snprintf(opts->hostnqn, sizeof(opts->hostnqn), "%s%s", FTGT_NQN_UUID_PREFIX, uuid);
	opts->kato_ms = 10000;
	opts->admin_queue_size = 32;
	opts->io_queue_size = 128;
	opts->connect_timeout_ms = 5000;
	opts->command_timeout_ms = 30000;
	opts->reconnect_delay_ms = 0;
	opts->reconnect_max_delay_ms = 10000;
	opts->ctrlr_loss_timeout_ms = -1;
}

static int
status_to_errno(uint16_t status)
{
	uint16_t sct = NVME_STATUS_GET_SCT(status), sc = NVME_STATUS_GET_SC(status);

	if (sct == NVME_SCT_COMMAND_SPECIFIC && sc == NVMF_SC_INVALID_HOST) {
		return -EACCES;
	}
	if (sct == NVME_SCT_COMMAND_SPECIFIC && sc == NVMF_SC_INVALID_PARAM) {
		return -EINVAL;
	}
	if (sct == NVME_SCT_COMMAND_SPECIFIC && sc == NVMF_SC_CONTROLLER_BUSY) {
		return -EBUSY;
	}
	return -EIO;
}

/* Submit on q and wait for the completion (connect-time helper). */
static int
sync_submit(struct ftgt_nvme_qpair *q, struct nvme_cmd *cmd, void *buf, uint32_t len,
            uint64_t deadline_ms, struct nvme_cpl *cpl)
{
	struct sync_cmd sc = {0};
	int rc;

	rc = nvme_tcp_qpair_submit(q, cmd, buf, len, sync_cb, &sc);
	if (rc != 0) {
		return rc;
	}
	rc = nvme_qpair_wait(q, &sc.done, deadline_ms);
	if (rc == -ETIMEDOUT) {
		/* The request still points at sc: fail the queue so it completes now. */
		nvme_tcp_qpair_fail(q, "command timed out");
		return -ETIMEDOUT;
	}
	if (!sc.done) {
		return rc;
	}
	if (cpl != NULL) {
		*cpl = sc.cpl;
	}
	if (nvme_qpair_is_dead(q)) {
		return -ENXIO;
	}
	return 0;
}

static int
prop_get(struct ftgt_nvme_ctrlr *ctrlr, uint32_t ofst, uint8_t size, uint64_t *value,
         uint64_t deadline_ms)
{
	struct nvmf_property_get_cmd *pg;
	struct nvme_cmd cmd;
	struct nvme_cpl cpl;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	pg = (struct nvmf_property_get_cmd *)&cmd;
	pg->opcode = NVME_OPC_FABRIC;
	pg->fctype = NVMF_FCTYPE_PROPERTY_GET;
	pg->attrib = size;
	pg->ofst = ftgt_cpu_to_le32(ofst);
	rc = sync_submit(ctrlr->adminq, &cmd, NULL, 0, deadline_ms, &cpl);
	if (rc != 0) {
		return rc;
	}
	if (ftgt_nvme_cpl_is_error(&cpl)) {
		return -EIO;
	}
	*value = (uint64_t)ftgt_le32_to_cpu(cpl.cdw0) |
	         (size == NVMF_PROP_SIZE_8 ? (uint64_t)ftgt_le32_to_cpu(cpl.cdw1) << 32 : 0);
	return 0;
}

static int
prop_set4(struct ftgt_nvme_ctrlr *ctrlr, uint32_t ofst, uint32_t value, uint64_t deadline_ms)
{
	struct nvmf_property_set_cmd *ps;
	struct nvme_cmd cmd;
	struct nvme_cpl cpl;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	ps = (struct nvmf_property_set_cmd *)&cmd;
	ps->opcode = NVME_OPC_FABRIC;
	ps->fctype = NVMF_FCTYPE_PROPERTY_SET;
	ps->attrib = NVMF_PROP_SIZE_4;
	ps->ofst = ftgt_cpu_to_le32(ofst);
	ps->value = ftgt_cpu_to_le64(value);
	rc = sync_submit(ctrlr->adminq, &cmd, NULL, 0, deadline_ms, &cpl);
	if (rc != 0) {
		return rc;
	}
	return ftgt_nvme_cpl_is_error(&cpl) ? -EIO : 0;
}

/* ---- State -------------------------------------------------------------------------- */

/*
 * The state is stored before gen grows, so an I/O thread that sees the new gen (acquire)
 * sees the new state as well (qpair.c reads gen, then state).
 */
static void
ctrlr_set_state(struct ftgt_nvme_ctrlr *ctrlr, enum ftgt_nvme_ctrlr_state st, bool bump_gen)
{
	__atomic_store_n(&ctrlr->state, (uint32_t)st, __ATOMIC_RELEASE);
	if (bump_gen) {
		__atomic_fetch_add(&ctrlr->gen, 1, __ATOMIC_RELEASE);
	}
}

enum ftgt_nvme_ctrlr_state
ftgt_nvme_ctrlr_get_state(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return nvme_ctrlr_state(ctrlr);
}

const char *
ftgt_nvme_ctrlr_state_str(enum ftgt_nvme_ctrlr_state state)
{
	switch (state) {
	case FTGT_NVME_CTRLR_CONNECTING:
		return "connecting";
	case FTGT_NVME_CTRLR_ENABLED:
		return "enabled";
	case FTGT_NVME_CTRLR_RESETTING:
		return "resetting";
	case FTGT_NVME_CTRLR_FAILED:
		return "failed";
	}
	return "unknown";
}

bool
ftgt_nvme_ctrlr_is_failed(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_FAILED;
}

int
ftgt_nvme_ctrlr_get_connect_error(const struct ftgt_nvme_ctrlr *ctrlr, char *err, size_t err_len)
{
	if (err != NULL && err_len > 0) {
		ftgt_strlcpy(err, ctrlr->conn_err, err_len);
	}
	return ctrlr->conn_rc;
}

/* ---- Fabrics Connect (any queue) -------------------------------------------------------- */

static void
fabric_connect_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_nvme_qpair *q = cb_arg;
	struct ftgt_nvme_ctrlr *ctrlr = q->ctrlr;
	uint16_t status = ftgt_le16_to_cpu(cpl->status);
	char msg[sizeof(q->fail_reason)];

	if (nvme_qpair_is_dead(q) || q->state != NVME_QPAIR_CONNECTING) {
		return; /* ended with the connection: the reason is already there */
	}
	if (ftgt_nvme_cpl_is_error(cpl)) {
		snprintf(msg, sizeof(msg),
		         "controller refused Fabrics Connect (queue %u, subnqn %s): %s", q->qid,
		         ctrlr->trid.subnqn, ftgt_nvme_status_str(status));
		nvme_tcp_qpair_fail(q, msg);
		q->conn_rc = status_to_errno(status);
		return;
	}
	q->cntlid_out = (uint16_t)(ftgt_le32_to_cpu(cpl->cdw0) & 0xffff);
	if (q->qid == 0) {
		q->icd_max_bytes = NVME_TCP_ADMIN_ICD_BYTES;
		q->timeout_ms = 0; /* the connect deadline covers bring-up */
	} else {
		/* NVMe-oF 1.1, 4.2: IOCCSZ counts the 64-byte SQE. */
		q->icd_max_bytes = ctrlr->ioccsz_bytes > sizeof(struct nvme_cmd)
		                           ? ctrlr->ioccsz_bytes - (uint32_t)sizeof(struct nvme_cmd)
		                           : 0;
		q->timeout_ms = ctrlr->opts.command_timeout_ms;
	}
	q->connect_deadline_ms = 0;
	q->connected_once = true;
	q->state = NVME_QPAIR_READY;
}

int
nvme_fabric_connect_submit(struct ftgt_nvme_qpair *q, uint16_t cntlid)
{
	struct ftgt_nvme_ctrlr *ctrlr = q->ctrlr;
	struct nvmf_connect_data *data = q->connect_data;
	struct nvmf_connect_cmd *cc;
	struct nvme_cmd cmd;
	int rc;

	memset(data, 0, sizeof(*data));
	memcpy(data->hostid, ctrlr->opts.hostid, sizeof(data->hostid));
	data->cntlid = ftgt_cpu_to_le16(cntlid);
	ftgt_strlcpy(data->hostnqn, ctrlr->opts.hostnqn, sizeof(data->hostnqn));
	ftgt_strlcpy(data->subnqn, ctrlr->trid.subnqn, sizeof(data->subnqn));

	memset(&cmd, 0, sizeof(cmd));
	cc = (struct nvmf_connect_cmd *)&cmd;
	cc->opcode = NVME_OPC_FABRIC;
	cc->fctype = NVMF_FCTYPE_CONNECT;
	cc->qid = ftgt_cpu_to_le16(q->qid);
	cc->sqsize = ftgt_cpu_to_le16((uint16_t)(q->num_entries - 1));
	cc->kato = ftgt_cpu_to_le32(q->qid == 0 ? ctrlr->opts.kato_ms : 0);

	/* Connect data always travels in the capsule (NVMe/TCP 1.0, 3.3.4). */
	q->icd_max_bytes = sizeof(*data);
	rc = nvme_tcp_qpair_submit(q, &cmd, data, sizeof(*data), fabric_connect_cb, q);
	if (rc == 0) {
		q->connect_sent = true;
	}
	return rc;
}

/* ---- (Re)connect machine (admin thread) -------------------------------------------------- */

static void
init_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_nvme_ctrlr *ctrlr = cb_arg;

	ctrlr->init_cpl = *cpl;
	ctrlr->init_busy = false;
}

static int
init_submit(struct ftgt_nvme_ctrlr *ctrlr, struct nvme_cmd *cmd, void *buf, uint32_t len)
{
	int rc = nvme_tcp_qpair_submit(ctrlr->adminq, cmd, buf, len, init_cb, ctrlr);

	if (rc == 0) {
		ctrlr->init_busy = true;
		memset(&ctrlr->init_cpl, 0, sizeof(ctrlr->init_cpl));
	}
	return rc;
}

static int
init_prop_get(struct ftgt_nvme_ctrlr *ctrlr, uint32_t ofst, uint8_t size)
{
	struct nvmf_property_get_cmd *pg;
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	pg = (struct nvmf_property_get_cmd *)&cmd;
	pg->opcode = NVME_OPC_FABRIC;
	pg->fctype = NVMF_FCTYPE_PROPERTY_GET;
	pg->attrib = size;
	pg->ofst = ftgt_cpu_to_le32(ofst);
	return init_submit(ctrlr, &cmd, NULL, 0);
}

static int
init_prop_set4(struct ftgt_nvme_ctrlr *ctrlr, uint32_t ofst, uint32_t value)
{
	struct nvmf_property_set_cmd *ps;
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	ps = (struct nvmf_property_set_cmd *)&cmd;
	ps->opcode = NVME_OPC_FABRIC;
	ps->fctype = NVMF_FCTYPE_PROPERTY_SET;
	ps->attrib = NVMF_PROP_SIZE_4;
	ps->ofst = ftgt_cpu_to_le32(ofst);
	ps->value = ftgt_cpu_to_le64(value);
	return init_submit(ctrlr, &cmd, NULL, 0);
}

static uint64_t
init_value(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return (uint64_t)ftgt_le32_to_cpu(ctrlr->init_cpl.cdw0) |
	       (uint64_t)ftgt_le32_to_cpu(ctrlr->init_cpl.cdw1) << 32;
}

static bool
loss_timeout_expired(const struct ftgt_nvme_ctrlr *ctrlr, uint64_t now)
{
	return ctrlr->opts.ctrlr_loss_timeout_ms >= 0 &&
	       now - ctrlr->fail_start_ms >= (uint64_t)ctrlr->opts.ctrlr_loss_timeout_ms;
}

/* Drop Aborts that I/O qpairs asked for: their commands end with the reset anyway. */
static void
drop_pending_aborts(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct ftgt_nvme_qpair *q;

	pthread_mutex_lock(&ctrlr->qpairs_lock);
	for (q = ctrlr->qpairs; q != NULL; q = q->next_in_ctrlr) {
		if (__atomic_exchange_n(&q->abort_cid_plus1, 0, __ATOMIC_ACQUIRE) != 0) {
			__atomic_fetch_sub(&ctrlr->aborts_pending, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
}

/* Close the admin connection: its commands end (ABORTED_SQ_DELETION), AERs disarm. */
static void
ctrlr_close_admin(struct ftgt_nvme_ctrlr *ctrlr)
{
	uint32_t i;

	if (!nvme_qpair_is_dead(ctrlr->adminq)) {
		nvme_tcp_qpair_disconnect(ctrlr->adminq);
	}
	nvme_scan_cancel(ctrlr);
	for (i = 0; i < NVME_HOST_MAX_AERS; i++) {
		ctrlr->aers[i].state = NVME_AER_IDLE;
		ctrlr->aers[i].busy = false;
	}
	ctrlr->init_busy = false;
	ctrlr->keep_alive_outstanding = false;
	ctrlr->keep_alive_failed = false;
	drop_pending_aborts(ctrlr);
}

static void
ctrlr_set_failed(struct ftgt_nvme_ctrlr *ctrlr)
{
	ctrlr->step = NVME_CSTEP_IDLE;
	ctrlr->disconnect_pending = false;
	ctrlr_close_admin(ctrlr);
	ctrlr_set_state(ctrlr, FTGT_NVME_CTRLR_FAILED, true);
}

/*
 * Begin a reset: RESETTING at once (I/O qpairs notice the new gen), the admin connection
 * is closed in the next poll, the first attempt follows first_delay_ms later.
 */
static void
ctrlr_start_reset(struct ftgt_nvme_ctrlr *ctrlr, uint32_t first_delay_ms)
{
	uint64_t now = nvme_now_ms();
	uint32_t d = ctrlr->opts.reconnect_delay_ms;
	uint32_t max = FTGT_MAX(ctrlr->opts.reconnect_max_delay_ms, d);

	ctrlr_set_state(ctrlr, FTGT_NVME_CTRLR_RESETTING, true);
	ctrlr->fail_start_ms = now;
	ctrlr->attempts = 0;
	ctrlr->cur_delay_ms = first_delay_ms == 0 ? d : (uint32_t)FTGT_MIN((uint64_t)d * 2, max);
	ctrlr->next_attempt_ms = now + first_delay_ms;
	ctrlr->disconnect_pending = true;
	ctrlr->step = NVME_CSTEP_WAIT_DELAY;
}

int
ftgt_nvme_ctrlr_reset(struct ftgt_nvme_ctrlr *ctrlr)
{
	switch (nvme_ctrlr_state(ctrlr)) {
	case FTGT_NVME_CTRLR_ENABLED:
		FTGT_NOTICELOG("%s: resetting the controller\n", ctrlr->trid.subnqn);
		ctrlr_start_reset(ctrlr, 0);
		return 0;
	case FTGT_NVME_CTRLR_FAILED:
		return -ENXIO;
	default:
		return -EBUSY;
	}
}

/* The admin connection broke while ENABLED. */
static void
ctrlr_admin_failed(struct ftgt_nvme_ctrlr *ctrlr, const char *reason)
{
	snprintf(ctrlr->conn_err, sizeof(ctrlr->conn_err), "%s", reason);
	ctrlr->conn_rc = ctrlr->adminq->conn_rc != 0 ? ctrlr->adminq->conn_rc : -EIO;
	if (nvme_ctrlr_reconnect_enabled(ctrlr)) {
		FTGT_WARNLOG("%s: admin connection lost (%s): reconnecting in %u ms\n",
		             ctrlr->trid.subnqn, reason, ctrlr->opts.reconnect_delay_ms);
		ctrlr_start_reset(ctrlr, ctrlr->opts.reconnect_delay_ms);
		return;
	}
	FTGT_ERRLOG("%s: admin connection lost: %s\n", ctrlr->trid.subnqn, reason);
	ctrlr_set_failed(ctrlr);
}

static void
attempt_start(struct ftgt_nvme_ctrlr *ctrlr)
{
	uint64_t now = nvme_now_ms();

	ctrlr->attempts++;
	ctrlr->attempt_deadline_ms = now + ctrlr->opts.connect_timeout_ms;
	ctrlr->init_busy = false;
	ctrlr->step = NVME_CSTEP_TRANSPORT;
	/* A failure here leaves the queue dead: the TRANSPORT step reports it. */
	nvme_tcp_qpair_start_connect(ctrlr->adminq, &ctrlr->trid, ctrlr->attempt_deadline_ms);
}

static void
attempt_failed(struct ftgt_nvme_ctrlr *ctrlr, int rc, const char *msg)
{
	uint64_t now = nvme_now_ms();
	uint32_t max;

	ctrlr->conn_rc = rc != 0 ? rc : -EIO;
	if (msg != ctrlr->conn_err) {
		ftgt_strlcpy(ctrlr->conn_err, msg, sizeof(ctrlr->conn_err));
	}
	ctrlr_close_admin(ctrlr);
	if (nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_CONNECTING) {
		FTGT_DEBUGLOG(nvme, "%s: connect failed: %s\n", ctrlr->trid.subnqn, msg);
		ctrlr_set_failed(ctrlr);
		return;
	}
	if (!nvme_ctrlr_reconnect_enabled(ctrlr) || loss_timeout_expired(ctrlr, now)) {
		FTGT_ERRLOG("%s: reconnect failed (%s): giving up\n", ctrlr->trid.subnqn, msg);
		ctrlr_set_failed(ctrlr);
		return;
	}
	FTGT_WARNLOG("%s: reconnect attempt %u failed (%s): next in %u ms\n", ctrlr->trid.subnqn,
	             ctrlr->attempts, msg, ctrlr->cur_delay_ms);
	ctrlr->next_attempt_ms = now + ctrlr->cur_delay_ms;
	max = FTGT_MAX(ctrlr->opts.reconnect_max_delay_ms, ctrlr->opts.reconnect_delay_ms);
	ctrlr->cur_delay_ms = (uint32_t)FTGT_MIN((uint64_t)ctrlr->cur_delay_ms * 2, max);
	ctrlr->step = NVME_CSTEP_WAIT_DELAY;
}

static void attempt_failed_fmt(struct ftgt_nvme_ctrlr *ctrlr, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
attempt_failed_fmt(struct ftgt_nvme_ctrlr *ctrlr, int rc, const char *fmt, ...)
{
	char msg[sizeof(ctrlr->conn_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	attempt_failed(ctrlr, rc, msg);
}

static const char *
step_cmd_name(uint8_t step)
{
	switch (step) {
	case NVME_CSTEP_CAP:
	case NVME_CSTEP_VS:
		return "Property Get CAP/VS";
	case NVME_CSTEP_CC:
		return "Property Get CC";
	case NVME_CSTEP_EN:
		return "Property Set CC.EN";
	case NVME_CSTEP_RDY:
		return "Property Get CSTS";
	case NVME_CSTEP_IDENTIFY:
		return "Identify Controller";
	case NVME_CSTEP_NS:
		return "Identify namespaces";
	default:
		return "connect";
	}
}

/* The finished init command failed: false if it did (the attempt then failed). */
static bool
init_ok(struct ftgt_nvme_ctrlr *ctrlr)
{
	if (!ftgt_nvme_cpl_is_error(&ctrlr->init_cpl)) {
		return true;
	}
	attempt_failed_fmt(ctrlr, -EIO, "%s failed: %s", step_cmd_name(ctrlr->step),
	                   ftgt_nvme_status_str(ftgt_le16_to_cpu(ctrlr->init_cpl.status)));
	return false;
}

static void
ctrlr_enabled(struct ftgt_nvme_ctrlr *ctrlr)
{
	uint32_t i, n;

	__atomic_store_n(&ctrlr->cntlid, ctrlr->adminq->cntlid_out, __ATOMIC_RELAXED);
	ctrlr->adminq->timeout_ms = ctrlr->opts.command_timeout_ms;
	ctrlr->last_keep_alive_ms = nvme_now_ms();
	ctrlr->enabled_ms = ctrlr->last_keep_alive_ms;
	ctrlr->keep_alive_outstanding = false;
	ctrlr->keep_alive_failed = false;
	ctrlr->step = NVME_CSTEP_IDLE;
	ctrlr->conn_rc = 0;
	ctrlr->conn_err[0] = '\0';
	if (nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_RESETTING) {
		ctrlr->resets++;
		FTGT_NOTICELOG("%s: controller reconnected (cntlid %u)\n", ctrlr->trid.subnqn,
		               ctrlr->cntlid);
	}
	/* AERL is 0's based; a few outstanding are enough (Base 2.0, 5.2). */
	n = FTGT_MIN((uint32_t)ctrlr->cdata.aerl + 1, (uint32_t)NVME_HOST_MAX_AERS);
	/*
	 * AERs never end on their own: leave room for Keep Alive, an init/scan command and an
	 * Abort (a queue of N entries has N - 1 slots).
	 */
	n = FTGT_MIN(n, ctrlr->opts.admin_queue_size > 4 ? ctrlr->opts.admin_queue_size - 4 : 0);
	ctrlr->num_aers = n;
	for (i = 0; i < n; i++) {
		ctrlr->aers[i].ctrlr = ctrlr;
		ctrlr->aers[i].busy = false;
		ctrlr->aers[i].state = NVME_AER_ARM;
	}
	/* The cntlid (relaxed) before ENABLED (release): pairs with qpair.c's acquire. */
	ctrlr_set_state(ctrlr, FTGT_NVME_CTRLR_ENABLED, false);
	nvme_aer_poll(ctrlr);
}

static void
ctrlr_init_poll(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct ftgt_nvme_qpair *aq = ctrlr->adminq;
	uint8_t prev;

	if (ctrlr->disconnect_pending) {
		ctrlr->disconnect_pending = false;
		ctrlr_close_admin(ctrlr);
	}
	if (ctrlr->step >= NVME_CSTEP_TRANSPORT && ctrlr->step < NVME_CSTEP_DONE) {
		nvme_tcp_qpair_process(aq, 0);
	}
	do {
		uint64_t now = nvme_now_ms();
		struct nvme_cmd cmd;
		uint32_t cc, aec;

		prev = ctrlr->step;
		if (ctrlr->step >= NVME_CSTEP_TRANSPORT && ctrlr->step < NVME_CSTEP_DONE) {
			if (nvme_qpair_is_dead(aq)) {
				attempt_failed(ctrlr, aq->conn_rc,
				               aq->fail_reason[0] != '\0' ? aq->fail_reason
				                                          : "connection failed");
				break;
			}
			if (now >= ctrlr->attempt_deadline_ms) {
				if (ctrlr->step == NVME_CSTEP_TRANSPORT ||
				    ctrlr->step == NVME_CSTEP_CONNECT) {
					nvme_tcp_qpair_process(aq, 0); /* words the timeout */
					attempt_failed(ctrlr, -ETIMEDOUT,
					               aq->fail_reason[0] != '\0'
					                       ? aq->fail_reason
					                       : "connect timed out");
				} else {
					attempt_failed_fmt(ctrlr, -ETIMEDOUT, "%s timed out",
					                   step_cmd_name(ctrlr->step));
				}
				break;
			}
			if (ctrlr->init_busy) {
				break;
			}
		}
		switch (ctrlr->step) {
		case NVME_CSTEP_WAIT_DELAY:
			if (nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_RESETTING &&
			    ctrlr->attempts > 0 && loss_timeout_expired(ctrlr, now)) {
				FTGT_ERRLOG("%s: controller loss timeout: giving up\n",
				            ctrlr->trid.subnqn);
				ctrlr_set_failed(ctrlr);
				break;
			}
			if (now >= ctrlr->next_attempt_ms) {
				attempt_start(ctrlr);
			}
			break;
		case NVME_CSTEP_TRANSPORT:
			if (aq->state == NVME_QPAIR_CONNECTING) {
				if (nvme_fabric_connect_submit(aq, NVMF_CNTLID_DYNAMIC) != 0) {
					attempt_failed(ctrlr, -ENOMEM,
					               "cannot queue Fabrics Connect");
					break;
				}
				ctrlr->step = NVME_CSTEP_CONNECT;
			}
			break;
		case NVME_CSTEP_CONNECT:
			if (aq->state == NVME_QPAIR_READY &&
			    init_prop_get(ctrlr, NVME_REG_CAP, NVMF_PROP_SIZE_8) == 0) {
				ctrlr->step = NVME_CSTEP_CAP;
			}
			break;
		case NVME_CSTEP_CAP:
			if (!init_ok(ctrlr)) {
				break;
			}
			if (!ctrlr->identified) {
				ctrlr->cap = init_value(ctrlr);
			}
			ctrlr->rdy_deadline_ms =
			        now + 500 * ((init_value(ctrlr) >> NVME_CAP_TO_SHIFT) & 0xff) + 500;
			if (init_prop_get(ctrlr, NVME_REG_VS, NVMF_PROP_SIZE_4) == 0) {
				ctrlr->step = NVME_CSTEP_VS;
			}
			break;
		case NVME_CSTEP_VS:
			if (!init_ok(ctrlr)) {
				break;
			}
			ctrlr->vs = (uint32_t)init_value(ctrlr);
			if (init_prop_get(ctrlr, NVME_REG_CC, NVMF_PROP_SIZE_4) == 0) {
				ctrlr->step = NVME_CSTEP_CC;
			}
			break;
		case NVME_CSTEP_CC:
			if (!init_ok(ctrlr)) {
				break;
			}
			cc = (uint32_t)init_value(ctrlr);
			cc &= ~(NVME_CC_SHN_MASK << NVME_CC_SHN_SHIFT);
			cc |= NVME_CC_EN | (6u << NVME_CC_IOSQES_SHIFT) |
			      (4u << NVME_CC_IOCQES_SHIFT);
			if (init_prop_set4(ctrlr, NVME_REG_CC, cc) == 0) {
				ctrlr->step = NVME_CSTEP_EN;
			}
			break;
		case NVME_CSTEP_EN:
			if (!init_ok(ctrlr)) {
				break;
			}
			/* CAP.TO in 500 ms units bounds the wait for CSTS.RDY. */
			ctrlr->rdy_deadline_ms = FTGT_MAX(ctrlr->rdy_deadline_ms, now + 500);
			ctrlr->next_poll_ms = 0;
			if (init_prop_get(ctrlr, NVME_REG_CSTS, NVMF_PROP_SIZE_4) == 0) {
				ctrlr->step = NVME_CSTEP_RDY;
			}
			break;
		case NVME_CSTEP_RDY:
			if (ctrlr->next_poll_ms != 0) {
				/* Waiting to ask again. */
				if (now < ctrlr->next_poll_ms) {
					break;
				}
				if (init_prop_get(ctrlr, NVME_REG_CSTS, NVMF_PROP_SIZE_4) == 0) {
					ctrlr->next_poll_ms = 0;
				}
				break;
			}
			if (!init_ok(ctrlr)) {
				break;
			}
			if (init_value(ctrlr) & NVME_CSTS_CFS) {
				attempt_failed(ctrlr, -EIO,
				               "controller fatal status (CSTS.CFS) after enable");
				break;
			}
			if (!(init_value(ctrlr) & NVME_CSTS_RDY)) {
				if (now >= ctrlr->rdy_deadline_ms) {
					attempt_failed(ctrlr, -ETIMEDOUT,
					               "controller not ready (CSTS.RDY) in time");
					break;
				}
				ctrlr->next_poll_ms = now + 1;
				break;
			}
			memset(&cmd, 0, sizeof(cmd));
			cmd.opc = NVME_OPC_IDENTIFY;
			cmd.cdw10 = ftgt_cpu_to_le32(NVME_IDENTIFY_CNS_CTRLR);
			if (init_submit(ctrlr, &cmd, ctrlr->init_buf, NVME_IDENTIFY_DATA_BYTES) ==
			    0) {
				ctrlr->step = NVME_CSTEP_IDENTIFY;
			}
			break;
		case NVME_CSTEP_IDENTIFY:
			if (!init_ok(ctrlr)) {
				break;
			}
			memcpy(&ctrlr->cdata, ctrlr->init_buf, sizeof(ctrlr->cdata));
			if (!ctrlr->identified) {
				uint32_t mqes = (uint32_t)(ctrlr->cap & NVME_CAP_MQES_MASK) + 1;

				/* Fixed from now on: I/O threads read them without locks. */
				ctrlr->ioccsz_bytes = ftgt_le32_to_cpu(ctrlr->cdata.ioccsz) * 16;
				ctrlr->max_xfer_bytes = NVME_HOST_MAX_XFER_BYTES;
				if (ctrlr->cdata.mdts != 0) {
					uint32_t mps =
					        1u << (12 + ((ctrlr->cap >> NVME_CAP_MPSMIN_SHIFT) &
					                     0xf));

					if (ctrlr->cdata.mdts < 20 &&
					    (uint64_t)mps << ctrlr->cdata.mdts <
					            ctrlr->max_xfer_bytes) {
						ctrlr->max_xfer_bytes = mps << ctrlr->cdata.mdts;
					}
				}
				if (ctrlr->opts.io_queue_size == 0 ||
				    ctrlr->opts.io_queue_size > mqes) {
					ctrlr->opts.io_queue_size = FTGT_MIN(mqes, 128u);
				}
				if (ctrlr->opts.io_queue_size > NVME_HOST_MAX_QUEUE_SIZE) {
					ctrlr->opts.io_queue_size = NVME_HOST_MAX_QUEUE_SIZE;
				}
				ctrlr->identified = true;
			}
			/* Notices we handle, where supported (Base 2.0, 5.27.1.7). */
			aec = 0;
			if (ftgt_nvme_ctrlr_is_discovery(ctrlr)) {
				aec = ftgt_le32_to_cpu(ctrlr->cdata.oaes) &
				      NVME_CTRLR_OAES_DISCOVERY_LOG_CHANGE_NOTICES;
			} else {
				aec = ftgt_le32_to_cpu(ctrlr->cdata.oaes) &
				      NVME_CTRLR_OAES_NS_ATTR_NOTICES;
			}
			if (aec == 0) {
				ctrlr->step = NVME_CSTEP_AEC;
				ctrlr->init_cpl.status = 0;
				break;
			}
			memset(&cmd, 0, sizeof(cmd));
			cmd.opc = NVME_OPC_SET_FEATURES;
			cmd.cdw10 = ftgt_cpu_to_le32(NVME_FEAT_ASYNC_EVENT_CONFIGURATION);
			cmd.cdw11 = ftgt_cpu_to_le32(aec);
			if (init_submit(ctrlr, &cmd, NULL, 0) == 0) {
				ctrlr->step = NVME_CSTEP_AEC;
			}
			break;
		case NVME_CSTEP_AEC:
			if (ftgt_nvme_cpl_is_error(&ctrlr->init_cpl)) {
				FTGT_DEBUGLOG(nvme, "%s: Set Features Async Event Config: %s\n",
				              ctrlr->trid.subnqn,
				              ftgt_nvme_status_str(
				                      ftgt_le16_to_cpu(ctrlr->init_cpl.status)));
			}
			if (ftgt_nvme_ctrlr_is_discovery(ctrlr)) {
				ctrlr->step = NVME_CSTEP_DONE;
				break;
			}
			ctrlr->scan_req_seq++;
			nvme_scan_start(ctrlr);
			ctrlr->step = NVME_CSTEP_NS;
			break;
		case NVME_CSTEP_NS:
			nvme_scan_poll(ctrlr);
			if (ctrlr->scan_active) {
				break;
			}
			if (ctrlr->scan_rc != 0) {
				attempt_failed_fmt(ctrlr, ctrlr->scan_rc,
				                   "Identify namespaces failed: %s",
				                   strerror(-ctrlr->scan_rc));
				break;
			}
			ctrlr->step = NVME_CSTEP_DONE;
			break;
		case NVME_CSTEP_DONE:
			ctrlr_enabled(ctrlr);
			break;
		default:
			break;
		}
	} while (ctrlr->step != prev);
}

/* ---- Admin polling ---------------------------------------------------------------------- */

static void
keep_alive_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_nvme_ctrlr *ctrlr = cb_arg;

	ctrlr->keep_alive_outstanding = false;
	if (ftgt_nvme_cpl_is_error(cpl) && !nvme_cpl_is_sq_deletion(cpl)) {
		FTGT_ERRLOG("%s: keep-alive failed: %s\n", ctrlr->trid.subnqn,
		            ftgt_nvme_status_str(ftgt_le16_to_cpu(cpl->status)));
		ctrlr->keep_alive_failed = true;
	}
}

static void
abort_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_nvme_ctrlr *ctrlr = cb_arg;

	/* CQE dword 0 bit 0 set: the command was not aborted (NVMe Base 2.0, 5.1.1). */
	FTGT_DEBUGLOG(nvme, "%s: Abort completed: %s, cdw0 %u\n", ctrlr->trid.subnqn,
	              ftgt_nvme_status_str(ftgt_le16_to_cpu(cpl->status)),
	              ftgt_le32_to_cpu(cpl->cdw0));
}

/* Send the Aborts that I/O qpairs asked for (their commands timed out). */
static void
nvme_ctrlr_send_aborts(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct ftgt_nvme_qpair *q;

	pthread_mutex_lock(&ctrlr->qpairs_lock);
	for (q = ctrlr->qpairs; q != NULL; q = q->next_in_ctrlr) {
		/* Pairs with the release store in check_timeouts() (tcp.c). */
		uint64_t v = __atomic_exchange_n(&q->abort_cid_plus1, 0, __ATOMIC_ACQUIRE);
		uint32_t cid1 = (uint32_t)v;

		if (v == 0) {
			continue;
		}
		__atomic_fetch_sub(&ctrlr->aborts_pending, 1, __ATOMIC_RELAXED);
		if ((uint32_t)(v >> 32) != __atomic_load_n(&ctrlr->gen, __ATOMIC_RELAXED)) {
			continue; /* asked for before the last reset */
		}
		if (ftgt_nvme_ctrlr_cmd_abort(ctrlr, q->qid, (uint16_t)(cid1 - 1), abort_cb,
		                              ctrlr) == 0) {
			ctrlr->aborts_sent++;
		}
	}
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
}

int
ftgt_nvme_ctrlr_process_admin_completions(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct ftgt_nvme_qpair *aq = ctrlr->adminq;
	enum ftgt_nvme_ctrlr_state st = nvme_ctrlr_state(ctrlr);
	int rc;

	if (st == FTGT_NVME_CTRLR_FAILED) {
		return -ENXIO;
	}
	if (st == FTGT_NVME_CTRLR_ENABLED &&
	    __atomic_load_n(&ctrlr->reset_requested, __ATOMIC_RELAXED) != 0 &&
	    __atomic_exchange_n(&ctrlr->reset_requested, 0, __ATOMIC_ACQUIRE) ==
	            (uint64_t)__atomic_load_n(&ctrlr->gen, __ATOMIC_RELAXED) + 1) {
		/* Requests made before the last reset are stale: that reset served them. */
		uint64_t now = nvme_now_ms();
		uint32_t d = ctrlr->opts.reconnect_delay_ms;

		/* A qpair that fails again right after each reset must not make a busy loop. */
		if (now - ctrlr->enabled_ms >= FTGT_MAX(ctrlr->opts.reconnect_max_delay_ms, d)) {
			ctrlr->req_delay_ms = 0;
		}
		FTGT_WARNLOG("%s: resetting the controller (asked for by a queue pair) in %u ms\n",
		             ctrlr->trid.subnqn, ctrlr->req_delay_ms);
		ctrlr_start_reset(ctrlr, ctrlr->req_delay_ms);
		ctrlr->req_delay_ms = (uint32_t)FTGT_MIN(
		        FTGT_MAX((uint64_t)ctrlr->req_delay_ms * 2, (uint64_t)d),
		        (uint64_t)FTGT_MAX(ctrlr->opts.reconnect_max_delay_ms, d));
		st = FTGT_NVME_CTRLR_RESETTING;
	}
	if (st != FTGT_NVME_CTRLR_ENABLED) {
		uint64_t before = aq->stats.completions;

		ctrlr_init_poll(ctrlr);
		st = nvme_ctrlr_state(ctrlr);
		if (st == FTGT_NVME_CTRLR_FAILED) {
			return -ENXIO;
		}
		return st == FTGT_NVME_CTRLR_ENABLED ? (int)(aq->stats.completions - before)
		                                     : -EAGAIN;
	}

	if (__atomic_load_n(&ctrlr->aborts_pending, __ATOMIC_ACQUIRE) != 0) {
		nvme_ctrlr_send_aborts(ctrlr);
	}
	if (ctrlr->opts.kato_ms != 0 && !ctrlr->keep_alive_outstanding &&
	    aq->state == NVME_QPAIR_READY) {
		uint64_t now = nvme_now_ms();

		if (now - ctrlr->last_keep_alive_ms >= ctrlr->opts.kato_ms / 2) {
			struct nvme_cmd cmd;

			memset(&cmd, 0, sizeof(cmd));
			cmd.opc = NVME_OPC_KEEP_ALIVE;
			if (nvme_tcp_qpair_submit(aq, &cmd, NULL, 0, keep_alive_cb, ctrlr) == 0) {
				ctrlr->keep_alive_outstanding = true;
				ctrlr->last_keep_alive_ms = now;
			}
		}
	}
	rc = nvme_tcp_qpair_process(aq, 0);
	if (nvme_ctrlr_state(ctrlr) != FTGT_NVME_CTRLR_ENABLED) {
		/* A callback reset (or detached) the controller. */
		return nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_FAILED ? -ENXIO : -EAGAIN;
	}
	if (rc < 0 || nvme_qpair_is_dead(aq) || ctrlr->keep_alive_failed) {
		ctrlr_admin_failed(ctrlr, ctrlr->keep_alive_failed     ? "keep-alive failed"
		                          : aq->fail_reason[0] != '\0' ? aq->fail_reason
		                                                       : "admin queue failed");
		return nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_FAILED ? -ENXIO : -EAGAIN;
	}
	nvme_scan_poll(ctrlr);
	nvme_aer_poll(ctrlr);
	return rc;
}

/* ---- Connect and detach ----------------------------------------------------------------- */

static void ctrlr_free(struct ftgt_nvme_ctrlr *ctrlr);

static struct ftgt_nvme_ctrlr *
ctrlr_create(const struct ftgt_nvme_transport_id *trid, const struct ftgt_nvme_ctrlr_opts *opts,
             int *rc_out, char *err, size_t err_len)
{
	struct ftgt_nvme_ctrlr *ctrlr;
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (ftgt_parse_ip_port(trid->traddr, trid->trsvcid,
	                       trid->adrfam == NVMF_ADRFAM_IPV6 ? AF_INET6 : AF_INET, &ss,
	                       &sslen) != 0) {
		snprintf(err, err_len, "bad address %s port %s", trid->traddr, trid->trsvcid);
		*rc_out = -EINVAL;
		return NULL;
	}
	ctrlr = calloc(1, sizeof(*ctrlr));
	if (ctrlr == NULL) {
		snprintf(err, err_len, "out of memory");
		*rc_out = -ENOMEM;
		return NULL;
	}
	ctrlr->trid = *trid;
	if (opts != NULL) {
		ctrlr->opts = *opts;
	} else {
		ftgt_nvme_ctrlr_opts_default(&ctrlr->opts);
	}
	if (trid->hostnqn[0] != '\0') {
		ftgt_strlcpy(ctrlr->opts.hostnqn, trid->hostnqn, sizeof(ctrlr->opts.hostnqn));
	}
	if (ctrlr->opts.admin_queue_size < 2) {
		ctrlr->opts.admin_queue_size = 32;
	}
	if (ctrlr->opts.connect_timeout_ms == 0) {
		ctrlr->opts.connect_timeout_ms = 5000;
	}
	pthread_mutex_init(&ctrlr->qpairs_lock, NULL);
	ctrlr->state = FTGT_NVME_CTRLR_CONNECTING;
	ctrlr->adminq = nvme_tcp_qpair_create(ctrlr, 0, ctrlr->opts.admin_queue_size);
	ctrlr->init_buf = calloc(1, NVME_IDENTIFY_DATA_BYTES);
	if (ctrlr->adminq == NULL || ctrlr->init_buf == NULL || nvme_ns_table_publish(ctrlr) != 0) {
		snprintf(err, err_len, "out of memory");
		*rc_out = -ENOMEM;
		ctrlr_free(ctrlr);
		return NULL;
	}
	attempt_start(ctrlr);
	return ctrlr;
}

static void
ctrlr_free(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct nvme_ns_table *t;
	uint32_t i;

	ctrlr->detaching = true;
	nvme_tcp_qpair_destroy(ctrlr->adminq); /* ends what is outstanding */
	for (i = 0; i < NVME_HOST_MAX_AERS; i++) {
		free(ctrlr->aers[i].log_buf);
	}
	free(ctrlr->scan_list);
	free(ctrlr->scan_ns);
	free(ctrlr->init_buf);
	free(ctrlr->ns);
	free(ctrlr->ns_table);
	while ((t = ctrlr->ns_retired) != NULL) {
		ctrlr->ns_retired = t->retired_next;
		free(t);
	}
	pthread_mutex_destroy(&ctrlr->qpairs_lock);
	free(ctrlr);
}

struct ftgt_nvme_ctrlr *
ftgt_nvme_connect_async(const struct ftgt_nvme_transport_id *trid,
                        const struct ftgt_nvme_ctrlr_opts *opts, char *err, size_t err_len)
{
	char ebuf[64];
	int rc;

	if (err == NULL || err_len == 0) {
		err = ebuf;
		err_len = sizeof(ebuf);
	}
	err[0] = '\0';
	return ctrlr_create(trid, opts, &rc, err, err_len);
}

int
ftgt_nvme_connect(const struct ftgt_nvme_transport_id *trid,
                  const struct ftgt_nvme_ctrlr_opts *opts, struct ftgt_nvme_ctrlr **ctrlr_out,
                  char *err, size_t err_len)
{
	struct ftgt_nvme_ctrlr *ctrlr;
	char ebuf[256];
	uint64_t deadline;
	int rc;

	if (err == NULL || err_len == 0) {
		err = ebuf;
		err_len = sizeof(ebuf);
	}
	err[0] = '\0';
	*ctrlr_out = NULL;
	ctrlr = ctrlr_create(trid, opts, &rc, err, err_len);
	if (ctrlr == NULL) {
		return rc;
	}
	/* The machine has its own deadline (connect_timeout_ms); this one only guards. */
	deadline = nvme_now_ms() + ctrlr->opts.connect_timeout_ms + 1000;
	while (nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_CONNECTING && nvme_now_ms() < deadline) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		if (nvme_ctrlr_state(ctrlr) != FTGT_NVME_CTRLR_CONNECTING) {
			break;
		}
		nvme_qpair_sleep(ctrlr->adminq, ctrlr->step == NVME_CSTEP_RDY ? 1 : 5);
	}
	if (nvme_ctrlr_state(ctrlr) != FTGT_NVME_CTRLR_ENABLED) {
		rc = ctrlr->conn_rc != 0 ? ctrlr->conn_rc : -ETIMEDOUT;
		ftgt_strlcpy(err,
		             ctrlr->conn_err[0] != '\0' ? ctrlr->conn_err : "connect timed out",
		             err_len);
		ctrlr_free(ctrlr);
		return rc;
	}
	FTGT_DEBUGLOG(nvme, "connected to %s: cntlid %u, %u namespaces\n", ctrlr->trid.subnqn,
	              ctrlr->cntlid, ctrlr->num_ns);
	*ctrlr_out = ctrlr;
	return 0;
}

static void
ctrlr_detach(struct ftgt_nvme_ctrlr *ctrlr, bool notify)
{
	uint64_t deadline, value;
	uint32_t cc;
	bool busy;

	if (ctrlr == NULL) {
		return;
	}
	pthread_mutex_lock(&ctrlr->qpairs_lock);
	busy = ctrlr->qpairs != NULL;
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
	if (busy) {
		/* Their owners would touch freed memory: leak the controller instead. */
		FTGT_ERRLOG("%s: detach with I/O queue pairs still allocated: refused (leaked)\n",
		            ctrlr->trid.subnqn);
		return;
	}
	ctrlr->detaching = true;
	if (notify && nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_ENABLED &&
	    ctrlr->adminq->state == NVME_QPAIR_READY) {
		/* Normal shutdown (NVMe Base 2.0, 3.6.1), bounded to one second. */
		deadline = nvme_now_ms() + 1000;
		if (prop_get(ctrlr, NVME_REG_CC, NVMF_PROP_SIZE_4, &value, deadline) == 0) {
			cc = (uint32_t)value & ~(NVME_CC_SHN_MASK << NVME_CC_SHN_SHIFT);
			cc |= NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT;
			if (prop_set4(ctrlr, NVME_REG_CC, cc, deadline) == 0) {
				while (prop_get(ctrlr, NVME_REG_CSTS, NVMF_PROP_SIZE_4, &value,
				                deadline) == 0 &&
				       ((value >> NVME_CSTS_SHST_SHIFT) & NVME_CSTS_SHST_MASK) !=
				               NVME_CSTS_SHST_COMPLETE &&
				       nvme_now_ms() < deadline) {
					usleep(1000);
				}
			}
		}
	}
	ctrlr_free(ctrlr);
}

void
ftgt_nvme_detach(struct ftgt_nvme_ctrlr *ctrlr)
{
	ctrlr_detach(ctrlr, true);
}

void
ftgt_nvme_detach_no_shutdown(struct ftgt_nvme_ctrlr *ctrlr)
{
	ctrlr_detach(ctrlr, false);
}

const struct nvme_ctrlr_data *
ftgt_nvme_ctrlr_get_data(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return &ctrlr->cdata;
}

uint64_t
ftgt_nvme_ctrlr_get_cap(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->cap;
}

uint32_t
ftgt_nvme_ctrlr_get_vs(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->vs;
}

uint16_t
ftgt_nvme_ctrlr_get_cntlid(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->cntlid;
}

bool
ftgt_nvme_ctrlr_is_discovery(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->cdata.cntrltype == NVME_CTRLR_TYPE_DISCOVERY ||
	       strcmp(ctrlr->trid.subnqn, FTGT_NQN_DISCOVERY) == 0;
}

uint32_t
ftgt_nvme_ctrlr_get_max_xfer_size(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->max_xfer_bytes;
}

/* ---- Admin commands ------------------------------------------------------------------ */

static int
admin_submit(struct ftgt_nvme_ctrlr *ctrlr, struct nvme_cmd *cmd, void *buf, uint32_t len_bytes,
             ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	enum ftgt_nvme_ctrlr_state st = nvme_ctrlr_state(ctrlr);

	if (st != FTGT_NVME_CTRLR_ENABLED) {
		return st == FTGT_NVME_CTRLR_FAILED ? -ENXIO : -EAGAIN;
	}
	return nvme_tcp_qpair_submit(ctrlr->adminq, cmd, buf, len_bytes, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_cmd_admin_raw(struct ftgt_nvme_ctrlr *ctrlr, const struct nvme_cmd *cmd, void *buf,
                              uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd c = *cmd;

	return admin_submit(ctrlr, &c, buf, len_bytes, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_cmd_identify(struct ftgt_nvme_ctrlr *ctrlr, uint8_t cns, uint16_t cntid,
                             uint32_t nsid, void *buf, uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn,
                             void *cb_arg)
{
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_IDENTIFY;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)cns | ((uint32_t)cntid << 16));
	return admin_submit(ctrlr, &cmd, buf, len_bytes, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_cmd_get_log_page(struct ftgt_nvme_ctrlr *ctrlr, uint8_t lid, uint32_t nsid,
                                 void *buf, uint32_t len_bytes, uint64_t offset_bytes,
                                 ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;
	uint32_t numd;

	if (len_bytes == 0 || (len_bytes & 3) != 0 || (offset_bytes & 3) != 0) {
		return -EINVAL;
	}
	numd = len_bytes / 4 - 1;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_GET_LOG_PAGE;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)lid | ((numd & 0xffff) << 16));
	cmd.cdw11 = ftgt_cpu_to_le32(numd >> 16);
	cmd.cdw12 = ftgt_cpu_to_le32((uint32_t)offset_bytes);
	cmd.cdw13 = ftgt_cpu_to_le32((uint32_t)(offset_bytes >> 32));
	return admin_submit(ctrlr, &cmd, buf, len_bytes, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_cmd_get_feature(struct ftgt_nvme_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
                                ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_GET_FEATURES;
	cmd.cdw10 = ftgt_cpu_to_le32(fid);
	cmd.cdw11 = ftgt_cpu_to_le32(cdw11);
	return admin_submit(ctrlr, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_cmd_set_feature(struct ftgt_nvme_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
                                ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_SET_FEATURES;
	cmd.cdw10 = ftgt_cpu_to_le32(fid);
	cmd.cdw11 = ftgt_cpu_to_le32(cdw11);
	return admin_submit(ctrlr, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_cmd_abort(struct ftgt_nvme_ctrlr *ctrlr, uint16_t sqid, uint16_t cid,
                          ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_ABORT;
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)sqid | ((uint32_t)cid << 16));
	return admin_submit(ctrlr, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_get_discovery_log(struct ftgt_nvme_ctrlr *ctrlr,
                                  struct nvmf_discovery_log_page **page_out, uint64_t *num_entries)
{
	struct nvmf_discovery_log_page *page = NULL, *hdr;
	uint64_t genctr, numrec, deadline;
	uint32_t timeout =
	        ctrlr->opts.command_timeout_ms != 0 ? ctrlr->opts.command_timeout_ms : 30000;
	/* At function scope: a timed-out command's callback runs when the queue fails below. */
	struct sync_cmd sc = {0};
	size_t len;
	int rc, tries;

	*page_out = NULL;
	hdr = calloc(1, sizeof(*hdr));
	if (hdr == NULL) {
		return -ENOMEM;
	}
	for (tries = 0; tries < 10; tries++) {
		uint64_t off;

		memset(&sc, 0, sizeof(sc));

		deadline = nvme_now_ms() + timeout;
		rc = ftgt_nvme_ctrlr_cmd_get_log_page(ctrlr, NVME_LOG_DISCOVERY, 0, hdr,
		                                      sizeof(*hdr), 0, sync_cb, &sc);
		if (rc == 0) {
			rc = nvme_qpair_wait(ctrlr->adminq, &sc.done, deadline);
		}
		if (rc != 0 || ftgt_nvme_cpl_is_error(&sc.cpl)) {
			rc = rc != 0 ? rc : -EIO;
			goto out;
		}
		genctr = ftgt_le64_to_cpu(hdr->genctr);
		numrec = ftgt_le64_to_cpu(hdr->numrec);
		if (numrec > 4096) {
			rc = -EPROTO;
			goto out;
		}
		len = sizeof(*page) + numrec * sizeof(struct nvmf_discovery_log_entry);
		free(page);
		page = calloc(1, len);
		if (page == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(page, hdr, sizeof(*hdr));
		/* Entries in chunks the admin queue can carry. */
		for (off = sizeof(*hdr); off < len;) {
			uint32_t chunk = (uint32_t)FTGT_MIN((uint64_t)(len - off),
			                                    (uint64_t)ctrlr->max_xfer_bytes);

			memset(&sc, 0, sizeof(sc));
			rc = ftgt_nvme_ctrlr_cmd_get_log_page(ctrlr, NVME_LOG_DISCOVERY, 0,
			                                      (uint8_t *)page + off, chunk, off,
			                                      sync_cb, &sc);
			if (rc == 0) {
				rc = nvme_qpair_wait(ctrlr->adminq, &sc.done, deadline);
			}
			if (rc != 0 || ftgt_nvme_cpl_is_error(&sc.cpl)) {
				rc = rc != 0 ? rc : -EIO;
				goto out;
			}
			off += chunk;
		}
		/* Re-read the header: a changed GENCTR means the log moved under us. */
		memset(&sc, 0, sizeof(sc));
		rc = ftgt_nvme_ctrlr_cmd_get_log_page(ctrlr, NVME_LOG_DISCOVERY, 0, hdr,
		                                      sizeof(*hdr), 0, sync_cb, &sc);
		if (rc == 0) {
			rc = nvme_qpair_wait(ctrlr->adminq, &sc.done, deadline);
		}
		if (rc != 0 || ftgt_nvme_cpl_is_error(&sc.cpl)) {
			rc = rc != 0 ? rc : -EIO;
			goto out;
		}
		if (ftgt_le64_to_cpu(hdr->genctr) == genctr) {
			*page_out = page;
			*num_entries = numrec;
			page = NULL;
			rc = 0;
			goto out;
		}
	}
	rc = -EAGAIN;
out:
	if (rc == -ETIMEDOUT) {
		nvme_tcp_qpair_fail(ctrlr->adminq, "discovery log read timed out");
	}
	free(page);
	free(hdr);
	return rc;
}

/* ---- I/O queue pairs ------------------------------------------------------------------ */

/*
 * The lowest free I/O queue id that was not freed in the last NVME_HOST_QID_COOL_MS, else
 * the lowest free one (marked used); 0 if none. Low ids stay within the target's limit.
 */
static uint16_t
qid_take(struct ftgt_nvme_ctrlr *ctrlr)
{
	uint64_t now = nvme_now_ms();
	uint32_t i, first = 0, pick = 0;

	pthread_mutex_lock(&ctrlr->qpairs_lock);
	for (i = 0; i < NVME_HOST_MAX_IO_QUEUES; i++) {
		if (ctrlr->qid_used[i / 64] & (1ull << (i % 64))) {
			continue;
		}
		if (first == 0) {
			first = i + 1;
		}
		if (ctrlr->qid_free_ms[i] == 0 ||
		    now - ctrlr->qid_free_ms[i] >= NVME_HOST_QID_COOL_MS) {
			pick = i + 1;
			break;
		}
	}
	if (pick == 0) {
		pick = first;
	}
	if (pick != 0) {
		ctrlr->qid_used[(pick - 1) / 64] |= 1ull << ((pick - 1) % 64);
	}
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
	return (uint16_t)pick;
}

static void
qid_put(struct ftgt_nvme_ctrlr *ctrlr, uint16_t qid)
{
	pthread_mutex_lock(&ctrlr->qpairs_lock);
	if (qid >= 1 && qid <= NVME_HOST_MAX_IO_QUEUES) {
		ctrlr->qid_used[(qid - 1) / 64] &= ~(1ull << ((qid - 1) % 64));
		ctrlr->qid_free_ms[qid - 1] = nvme_now_ms();
	}
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
}

struct ftgt_nvme_qpair *
ftgt_nvme_ctrlr_alloc_io_qpair_async(struct ftgt_nvme_ctrlr *ctrlr, uint32_t queue_size)
{
	enum ftgt_nvme_ctrlr_state st = nvme_ctrlr_state(ctrlr);
	struct ftgt_nvme_qpair *q;
	uint32_t max;
	uint16_t qid;

	/* CAP and the queue size are known (and fixed) once the first connect is done. */
	if (st == FTGT_NVME_CTRLR_CONNECTING || st == FTGT_NVME_CTRLR_FAILED) {
		FTGT_ERRLOG("%s: no I/O queue on a controller that is %s\n", ctrlr->trid.subnqn,
		            ftgt_nvme_ctrlr_state_str(st));
		return NULL;
	}
	if (queue_size == 0) {
		queue_size = ctrlr->opts.io_queue_size;
	}
	max = (uint32_t)(ctrlr->cap & NVME_CAP_MQES_MASK) + 1;
	if (queue_size < 2 || queue_size > max) {
		FTGT_ERRLOG("%s: I/O queue size %u out of range 2..%u\n", ctrlr->trid.subnqn,
		            queue_size, max);
		return NULL;
	}
	qid = qid_take(ctrlr);
	if (qid == 0) {
		FTGT_ERRLOG("%s: all %u I/O queue ids are in use\n", ctrlr->trid.subnqn,
		            NVME_HOST_MAX_IO_QUEUES);
		return NULL;
	}
	q = nvme_tcp_qpair_create(ctrlr, qid, queue_size);
	if (q == NULL) {
		FTGT_ERRLOG("%s: out of memory for I/O queue %u\n", ctrlr->trid.subnqn, qid);
		qid_put(ctrlr, qid);
		return NULL;
	}
	/* DISCONNECTED, not waiting for a reset: the first poll connects it. */
	q->gen = __atomic_load_n(&ctrlr->gen, __ATOMIC_ACQUIRE);
	q->timeout_ms = ctrlr->opts.command_timeout_ms;
	pthread_mutex_lock(&ctrlr->qpairs_lock);
	q->next_in_ctrlr = ctrlr->qpairs;
	ctrlr->qpairs = q;
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
	return q;
}

struct ftgt_nvme_qpair *
ftgt_nvme_ctrlr_alloc_io_qpair(struct ftgt_nvme_ctrlr *ctrlr, uint32_t queue_size)
{
	struct ftgt_nvme_qpair *q = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, queue_size);
	uint64_t deadline;

	if (q == NULL) {
		return NULL;
	}
	deadline = nvme_now_ms() + ctrlr->opts.connect_timeout_ms;
	for (;;) {
		int rc = ftgt_nvme_qpair_process_completions(q, 0);

		if (ftgt_nvme_qpair_is_connected(q)) {
			return q;
		}
		if (rc == -ENXIO || nvme_now_ms() >= deadline) {
			break;
		}
		nvme_qpair_sleep(q, 5);
	}
	FTGT_ERRLOG("%s: I/O queue %u: %s\n", ctrlr->trid.subnqn, q->qid,
	            q->fail_reason[0] != '\0' ? q->fail_reason : "connect timed out");
	ftgt_nvme_ctrlr_free_io_qpair(q);
	return NULL;
}

void
ftgt_nvme_ctrlr_free_io_qpair(struct ftgt_nvme_qpair *qpair)
{
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair **pp;
	uint16_t qid;

	if (qpair == NULL) {
		return;
	}
	if (qpair->cb_depth > 0) {
		/* From one of its own callbacks: ftgt_nvme_qpair_process_completions() frees it. */
		qpair->delete_pending = true;
		return;
	}
	ctrlr = qpair->ctrlr;
	pthread_mutex_lock(&ctrlr->qpairs_lock);
	for (pp = &ctrlr->qpairs; *pp != NULL; pp = &(*pp)->next_in_ctrlr) {
		if (*pp == qpair) {
			*pp = qpair->next_in_ctrlr;
			break;
		}
	}
	if (__atomic_exchange_n(&qpair->abort_cid_plus1, 0, __ATOMIC_ACQUIRE) != 0) {
		__atomic_fetch_sub(&ctrlr->aborts_pending, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
	qid = qpair->qid;
	nvme_tcp_qpair_destroy(qpair);
	/* Reusable once its connection is closed. */
	qid_put(ctrlr, qid);
}
