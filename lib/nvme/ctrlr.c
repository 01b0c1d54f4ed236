/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Controller bring-up over fabrics (NVMe-oF 1.1, 3.3 and 3.5; NVMe Base 2.0, 3.5.2):
 * Connect on the admin queue, CAP/VS, CC.EN and CSTS.RDY, Identify; admin commands,
 * keep-alive, discovery log, I/O queue pairs and orderly shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	if (q->state == NVME_QPAIR_FAILED) {
		return -ENXIO;
	}
	return 0;
}

int
nvme_fabric_connect(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *q, uint16_t cntlid,
                    uint64_t deadline_ms, uint16_t *cntlid_out, char *err, size_t err_len)
{
	struct nvmf_connect_data *data;
	struct nvmf_connect_cmd *cc;
	struct nvme_cmd cmd;
	struct nvme_cpl cpl;
	uint16_t status;
	int rc;

	data = calloc(1, sizeof(*data));
	if (data == NULL) {
		return -ENOMEM;
	}
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
	rc = sync_submit(q, &cmd, data, sizeof(*data), deadline_ms, &cpl);
	free(data);
	if (rc == -ETIMEDOUT) {
		snprintf(err, err_len, "no response to Fabrics Connect (queue %u)", q->qid);
		return rc;
	}
	if (rc != 0) {
		snprintf(err, err_len, "Fabrics Connect (queue %u) failed: %s", q->qid,
		         q->fail_reason[0] != '\0' ? q->fail_reason : strerror(-rc));
		return rc;
	}
	status = ftgt_le16_to_cpu(cpl.status);
	if (ftgt_nvme_cpl_is_error(&cpl)) {
		snprintf(err, err_len,
		         "controller refused Fabrics Connect (queue %u, subnqn %s): %s", q->qid,
		         ctrlr->trid.subnqn, ftgt_nvme_status_str(status));
		return status_to_errno(status);
	}
	if (cntlid_out != NULL) {
		*cntlid_out = (uint16_t)(ftgt_le32_to_cpu(cpl.cdw0) & 0xffff);
	}
	q->state = NVME_QPAIR_READY;
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

static int
identify_sync(struct ftgt_nvme_ctrlr *ctrlr, uint8_t cns, uint32_t nsid, void *buf,
              uint64_t deadline_ms)
{
	struct nvme_cmd cmd;
	struct nvme_cpl cpl;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_IDENTIFY;
	cmd.nsid = ftgt_cpu_to_le32(nsid);
	cmd.cdw10 = ftgt_cpu_to_le32(cns);
	rc = sync_submit(ctrlr->adminq, &cmd, buf, NVME_IDENTIFY_DATA_BYTES, deadline_ms, &cpl);
	if (rc != 0) {
		return rc;
	}
	return ftgt_nvme_cpl_is_error(&cpl) ? -EIO : 0;
}

static int
ctrlr_scan_namespaces(struct ftgt_nvme_ctrlr *ctrlr, uint64_t deadline_ms)
{
	ftgt_le32 *list;
	uint32_t i, n = 0;
	int rc;

	list = calloc(1, NVME_IDENTIFY_DATA_BYTES);
	if (list == NULL) {
		return -ENOMEM;
	}
	rc = identify_sync(ctrlr, NVME_IDENTIFY_CNS_ACTIVE_NS_LIST, 0, list, deadline_ms);
	if (rc != 0) {
		goto out;
	}
	while (n < NVME_IDENTIFY_DATA_BYTES / 4 && list[n] != 0) {
		n++;
	}
	ctrlr->ns = calloc(n > 0 ? n : 1, sizeof(*ctrlr->ns));
	if (ctrlr->ns == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct nvme_ns *ns = &ctrlr->ns[ctrlr->num_ns];
		uint8_t fmt;

		ns->nsid = ftgt_le32_to_cpu(list[i]);
		rc = identify_sync(ctrlr, NVME_IDENTIFY_CNS_NS, ns->nsid, &ns->data, deadline_ms);
		if (rc != 0) {
			goto out;
		}
		fmt = ns->data.flbas & 0xf;
		if (ns->data.lbaf[fmt].lbads < 9 || ns->data.lbaf[fmt].lbads > 16) {
			FTGT_WARNLOG("%s: namespace %u has block size 2^%u, skipped\n",
			             ctrlr->trid.subnqn, ns->nsid, ns->data.lbaf[fmt].lbads);
			continue;
		}
		ns->block_size = 1u << ns->data.lbaf[fmt].lbads;
		ns->num_blocks = ftgt_le64_to_cpu(ns->data.nsze);
		ctrlr->num_ns++;
	}
out:
	free(list);
	return rc;
}

int
ftgt_nvme_connect(const struct ftgt_nvme_transport_id *trid,
                  const struct ftgt_nvme_ctrlr_opts *opts, struct ftgt_nvme_ctrlr **ctrlr_out,
                  char *err, size_t err_len)
{
	struct ftgt_nvme_ctrlr *ctrlr;
	char ebuf[256], sbuf[32];
	uint64_t deadline, value, rdy_deadline;
	uint32_t cc, mqes;
	int rc;

	if (err == NULL || err_len == 0) {
		err = ebuf;
		err_len = sizeof(ebuf);
	}
	err[0] = '\0';
	*ctrlr_out = NULL;
	ctrlr = calloc(1, sizeof(*ctrlr));
	if (ctrlr == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
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
	deadline = nvme_now_ms() + ctrlr->opts.connect_timeout_ms;
	ctrlr->next_qid = 1;
	pthread_mutex_init(&ctrlr->qpairs_lock, NULL);

	ctrlr->adminq = nvme_tcp_qpair_create(ctrlr, 0, ctrlr->opts.admin_queue_size);
	if (ctrlr->adminq == NULL) {
		snprintf(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	ctrlr->adminq->hdgst = ctrlr->opts.header_digest;
	ctrlr->adminq->ddgst = ctrlr->opts.data_digest;
	rc = nvme_tcp_qpair_connect_socket(ctrlr->adminq, trid, deadline, err, err_len);
	if (rc != 0) {
		goto fail;
	}
	rc = nvme_fabric_connect(ctrlr, ctrlr->adminq, NVMF_CNTLID_DYNAMIC, deadline,
	                         &ctrlr->cntlid, err, err_len);
	if (rc != 0) {
		goto fail;
	}
	ctrlr->adminq->icd_max_bytes = NVME_TCP_ADMIN_ICD_BYTES;

	rc = prop_get(ctrlr, NVME_REG_CAP, NVMF_PROP_SIZE_8, &ctrlr->cap, deadline);
	if (rc == 0) {
		rc = prop_get(ctrlr, NVME_REG_VS, NVMF_PROP_SIZE_4, &value, deadline);
		ctrlr->vs = (uint32_t)value;
	}
	if (rc != 0) {
		snprintf(err, err_len, "Property Get CAP/VS failed: %s", strerror(-rc));
		goto fail;
	}
	rc = prop_get(ctrlr, NVME_REG_CC, NVMF_PROP_SIZE_4, &value, deadline);
	if (rc != 0) {
		snprintf(err, err_len, "Property Get CC failed: %s", strerror(-rc));
		goto fail;
	}
	cc = (uint32_t)value;
	cc &= ~(NVME_CC_SHN_MASK << NVME_CC_SHN_SHIFT);
	cc |= NVME_CC_EN | (6u << NVME_CC_IOSQES_SHIFT) | (4u << NVME_CC_IOCQES_SHIFT);
	rc = prop_set4(ctrlr, NVME_REG_CC, cc, deadline);
	if (rc != 0) {
		snprintf(err, err_len, "Property Set CC.EN failed: %s", strerror(-rc));
		goto fail;
	}
	/* CAP.TO in 500 ms units bounds the wait for CSTS.RDY, as does our deadline. */
	rdy_deadline = nvme_now_ms() + 500 * ((ctrlr->cap >> NVME_CAP_TO_SHIFT) & 0xff) + 500;
	rdy_deadline = FTGT_MIN(rdy_deadline, deadline);
	for (;;) {
		rc = prop_get(ctrlr, NVME_REG_CSTS, NVMF_PROP_SIZE_4, &value, deadline);
		if (rc != 0) {
			snprintf(err, err_len, "Property Get CSTS failed: %s", strerror(-rc));
			goto fail;
		}
		if (value & NVME_CSTS_CFS) {
			snprintf(err, err_len, "controller fatal status (CSTS.CFS) after enable");
			rc = -EIO;
			goto fail;
		}
		if (value & NVME_CSTS_RDY) {
			break;
		}
		if (nvme_now_ms() >= rdy_deadline) {
			snprintf(err, err_len, "controller not ready (CSTS.RDY) in time");
			rc = -ETIMEDOUT;
			goto fail;
		}
		usleep(1000);
	}
	rc = identify_sync(ctrlr, NVME_IDENTIFY_CNS_CTRLR, 0, &ctrlr->cdata, deadline);
	if (rc != 0) {
		snprintf(err, err_len, "Identify Controller failed: %s", strerror(-rc));
		goto fail;
	}
	ctrlr->ioccsz_bytes = ftgt_le32_to_cpu(ctrlr->cdata.ioccsz) * 16;
	ctrlr->max_xfer_bytes = NVME_HOST_MAX_XFER_BYTES;
	if (ctrlr->cdata.mdts != 0) {
		uint32_t mps = 1u << (12 + ((ctrlr->cap >> NVME_CAP_MPSMIN_SHIFT) & 0xf));

		if (ctrlr->cdata.mdts < 20 &&
		    (uint64_t)mps << ctrlr->cdata.mdts < ctrlr->max_xfer_bytes) {
			ctrlr->max_xfer_bytes = mps << ctrlr->cdata.mdts;
		}
	}
	mqes = (uint32_t)(ctrlr->cap & NVME_CAP_MQES_MASK) + 1;
	if (ctrlr->opts.io_queue_size == 0 || ctrlr->opts.io_queue_size > mqes) {
		ctrlr->opts.io_queue_size = FTGT_MIN(mqes, 128u);
	}
	if (ctrlr->opts.io_queue_size > NVME_HOST_MAX_QUEUE_SIZE) {
		ctrlr->opts.io_queue_size = NVME_HOST_MAX_QUEUE_SIZE;
	}
	if (!ftgt_nvme_ctrlr_is_discovery(ctrlr)) {
		rc = ctrlr_scan_namespaces(ctrlr, deadline);
		if (rc != 0) {
			snprintf(err, err_len, "Identify namespaces failed: %s", strerror(-rc));
			goto fail;
		}
	}
	ctrlr->adminq->timeout_ms = ctrlr->opts.command_timeout_ms;
	ctrlr->last_keep_alive_ms = nvme_now_ms();
	FTGT_DEBUGLOG(nvme, "connected to %s: cntlid %u, %u namespaces\n", ctrlr->trid.subnqn,
	              ctrlr->cntlid, ctrlr->num_ns);
	*ctrlr_out = ctrlr;
	return 0;
fail:
	(void)sbuf;
	if (ctrlr->adminq != NULL) {
		nvme_tcp_qpair_destroy(ctrlr->adminq);
	}
	free(ctrlr->ns);
	pthread_mutex_destroy(&ctrlr->qpairs_lock);
	free(ctrlr);
	return rc;
}

void
ftgt_nvme_detach(struct ftgt_nvme_ctrlr *ctrlr)
{
	uint64_t deadline, value;
	uint32_t cc;

	if (ctrlr == NULL) {
		return;
	}
	if (ctrlr->adminq->state == NVME_QPAIR_READY) {
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
	nvme_tcp_qpair_destroy(ctrlr->adminq);
	free(ctrlr->ns);
	pthread_mutex_destroy(&ctrlr->qpairs_lock);
	free(ctrlr);
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

bool
ftgt_nvme_ctrlr_is_failed(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->failed || ctrlr->adminq->state == NVME_QPAIR_FAILED;
}

uint32_t
ftgt_nvme_ctrlr_get_num_ns(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->num_ns;
}

uint32_t
ftgt_nvme_ctrlr_get_ns_id(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t idx)
{
	return idx < ctrlr->num_ns ? ctrlr->ns[idx].nsid : 0;
}

static const struct nvme_ns *
ctrlr_find_ns(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	uint32_t i;

	for (i = 0; i < ctrlr->num_ns; i++) {
		if (ctrlr->ns[i].nsid == nsid) {
			return &ctrlr->ns[i];
		}
	}
	return NULL;
}

const struct nvme_ns_data *
ftgt_nvme_ctrlr_get_ns_data(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	const struct nvme_ns *ns = ctrlr_find_ns(ctrlr, nsid);

	return ns != NULL ? &ns->data : NULL;
}

uint32_t
ftgt_nvme_ns_get_block_size(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	const struct nvme_ns *ns = ctrlr_find_ns(ctrlr, nsid);

	return ns != NULL ? ns->block_size : 0;
}

uint64_t
ftgt_nvme_ns_get_num_blocks(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	const struct nvme_ns *ns = ctrlr_find_ns(ctrlr, nsid);

	return ns != NULL ? ns->num_blocks : 0;
}

uint32_t
ftgt_nvme_ctrlr_get_max_xfer_size(const struct ftgt_nvme_ctrlr *ctrlr)
{
	return ctrlr->max_xfer_bytes;
}

/* ---- Admin commands ------------------------------------------------------------------ */

int
ftgt_nvme_ctrlr_cmd_admin_raw(struct ftgt_nvme_ctrlr *ctrlr, const struct nvme_cmd *cmd, void *buf,
                              uint32_t len_bytes, ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd c = *cmd;

	return nvme_tcp_qpair_submit(ctrlr->adminq, &c, buf, len_bytes, cb_fn, cb_arg);
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
	return nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, buf, len_bytes, cb_fn, cb_arg);
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
	return nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, buf, len_bytes, cb_fn, cb_arg);
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
	return nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, NULL, 0, cb_fn, cb_arg);
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
	return nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, NULL, 0, cb_fn, cb_arg);
}

int
ftgt_nvme_ctrlr_cmd_abort(struct ftgt_nvme_ctrlr *ctrlr, uint16_t sqid, uint16_t cid,
                          ftgt_nvme_cmd_cb cb_fn, void *cb_arg)
{
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_ABORT;
	cmd.cdw10 = ftgt_cpu_to_le32((uint32_t)sqid | ((uint32_t)cid << 16));
	return nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, NULL, 0, cb_fn, cb_arg);
}

static void
keep_alive_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_nvme_ctrlr *ctrlr = cb_arg;

	ctrlr->keep_alive_outstanding = false;
	if (ftgt_nvme_cpl_is_error(cpl) &&
	    NVME_STATUS_GET_SC(ftgt_le16_to_cpu(cpl->status)) != NVME_SC_ABORTED_SQ_DELETION) {
		FTGT_ERRLOG("%s: keep-alive failed: %s\n", ctrlr->trid.subnqn,
		            ftgt_nvme_status_str(ftgt_le16_to_cpu(cpl->status)));
		ctrlr->failed = true;
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
		uint32_t cid1 = __atomic_exchange_n(&q->abort_cid_plus1, 0, __ATOMIC_ACQUIRE);

		if (cid1 == 0) {
			continue;
		}
		__atomic_fetch_sub(&ctrlr->aborts_pending, 1, __ATOMIC_RELAXED);
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
	int rc;

	if (__atomic_load_n(&ctrlr->aborts_pending, __ATOMIC_ACQUIRE) != 0) {
		nvme_ctrlr_send_aborts(ctrlr);
	}

	if (ctrlr->opts.kato_ms != 0 && !ctrlr->keep_alive_outstanding &&
	    ctrlr->adminq->state == NVME_QPAIR_READY) {
		uint64_t now = nvme_now_ms();

		if (now - ctrlr->last_keep_alive_ms >= ctrlr->opts.kato_ms / 2) {
			struct nvme_cmd cmd;

			memset(&cmd, 0, sizeof(cmd));
			cmd.opc = NVME_OPC_KEEP_ALIVE;
			if (nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, NULL, 0, keep_alive_cb,
			                          ctrlr) == 0) {
				ctrlr->keep_alive_outstanding = true;
				ctrlr->last_keep_alive_ms = now;
			}
		}
	}
	rc = nvme_tcp_qpair_process(ctrlr->adminq, 0);
	if (rc < 0 || ctrlr->failed) {
		ctrlr->failed = true;
		return -ENXIO;
	}
	return rc;
}

int
ftgt_nvme_ctrlr_get_discovery_log(struct ftgt_nvme_ctrlr *ctrlr,
                                  struct nvmf_discovery_log_page **page_out, uint64_t *num_entries)
{
	struct nvmf_discovery_log_page *page = NULL, *hdr;
	uint64_t genctr, numrec, deadline;
	uint32_t timeout =
	        ctrlr->opts.command_timeout_ms != 0 ? ctrlr->opts.command_timeout_ms : 30000;
	size_t len;
	int rc, tries;

	*page_out = NULL;
	hdr = calloc(1, sizeof(*hdr));
	if (hdr == NULL) {
		return -ENOMEM;
	}
	for (tries = 0; tries < 10; tries++) {
		struct sync_cmd sc = {0};
		uint64_t off;

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

struct ftgt_nvme_qpair *
ftgt_nvme_ctrlr_alloc_io_qpair(struct ftgt_nvme_ctrlr *ctrlr, uint32_t queue_size)
{
	struct ftgt_nvme_qpair *q;
	uint64_t deadline = nvme_now_ms() + ctrlr->opts.connect_timeout_ms;
	char err[256];
	uint16_t qid;
	int rc;

	if (queue_size == 0) {
		queue_size = ctrlr->opts.io_queue_size;
	}
	if (queue_size < 2 || queue_size > (uint32_t)(ctrlr->cap & NVME_CAP_MQES_MASK) + 1) {
		FTGT_ERRLOG("%s: I/O queue size %u out of range 2..%u\n", ctrlr->trid.subnqn,
		            queue_size, (uint32_t)(ctrlr->cap & NVME_CAP_MQES_MASK) + 1);
		return NULL;
	}
	qid = __atomic_fetch_add(&ctrlr->next_qid, 1, __ATOMIC_RELAXED);
	q = nvme_tcp_qpair_create(ctrlr, qid, queue_size);
	if (q == NULL) {
		FTGT_ERRLOG("%s: out of memory for I/O queue %u\n", ctrlr->trid.subnqn, qid);
		return NULL;
	}
	q->hdgst = ctrlr->opts.header_digest;
	q->ddgst = ctrlr->opts.data_digest;
	rc = nvme_tcp_qpair_connect_socket(q, &ctrlr->trid, deadline, err, sizeof(err));
	if (rc == 0) {
		rc = nvme_fabric_connect(ctrlr, q, ctrlr->cntlid, deadline, NULL, err, sizeof(err));
	}
	if (rc != 0) {
		FTGT_ERRLOG("%s: I/O queue %u: %s\n", ctrlr->trid.subnqn, qid, err);
		nvme_tcp_qpair_destroy(q);
		return NULL;
	}
	/* NVMe-oF 1.1, 4.2: IOCCSZ counts the 64-byte SQE. */
	q->icd_max_bytes = ctrlr->ioccsz_bytes > sizeof(struct nvme_cmd)
	                           ? ctrlr->ioccsz_bytes - (uint32_t)sizeof(struct nvme_cmd)
	                           : 0;
	q->timeout_ms = ctrlr->opts.command_timeout_ms;
	pthread_mutex_lock(&ctrlr->qpairs_lock);
	q->next_in_ctrlr = ctrlr->qpairs;
	ctrlr->qpairs = q;
	pthread_mutex_unlock(&ctrlr->qpairs_lock);
	return q;
}

void
ftgt_nvme_ctrlr_free_io_qpair(struct ftgt_nvme_qpair *qpair)
{
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair **pp;

	if (qpair == NULL) {
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
	nvme_tcp_qpair_destroy(qpair);
}
