/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Namespaces and asynchronous events of a host controller (admin thread): the active
 * namespace list and its snapshot for the I/O path, the poll-driven namespace scan (at
 * connect and on a Namespace Attribute Changed notice), and the AERs kept outstanding
 * (NVMe Base 2.0, 5.2 and 5.17.2.1; Changed Namespace List, 5.16.1.5).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/log.h"
#include "nvme_internal.h"

/* ---- Namespace snapshot for the I/O path ---------------------------------------------- */

int
nvme_ns_table_publish(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct nvme_ns_table *t, *old;
	uint32_t i;

	t = calloc(1, sizeof(*t) + (size_t)ctrlr->num_ns * sizeof(t->ns[0]));
	if (t == NULL) {
		return -ENOMEM;
	}
	t->num_ns = ctrlr->num_ns;
	for (i = 0; i < ctrlr->num_ns; i++) {
		t->ns[i].nsid = ctrlr->ns[i].nsid;
		t->ns[i].block_size = ctrlr->ns[i].block_size;
		t->ns[i].num_blocks = ctrlr->ns[i].num_blocks;
	}
	old = ctrlr->ns_table;
	if (old != NULL && old->num_ns == t->num_ns &&
	    memcmp(old->ns, t->ns, (size_t)t->num_ns * sizeof(t->ns[0])) == 0) {
		/* Unchanged (a reconnect): no new snapshot, nothing retired. */
		free(t);
		return 0;
	}
	/* Pairs with the acquire load in ns_fmt_find(). */
	__atomic_store_n(&ctrlr->ns_table, t, __ATOMIC_RELEASE);
	if (old != NULL) {
		/* An I/O thread may still be reading it: kept until detach. */
		old->retired_next = ctrlr->ns_retired;
		ctrlr->ns_retired = old;
	}
	return 0;
}

static const struct nvme_ns_fmt *
ns_fmt_find(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	const struct nvme_ns_table *t = __atomic_load_n(&ctrlr->ns_table, __ATOMIC_ACQUIRE);
	uint32_t lo = 0, hi;

	if (t == NULL) {
		return NULL;
	}
	hi = t->num_ns;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->ns[mid].nsid == nsid) {
			return &t->ns[mid];
		}
		if (t->ns[mid].nsid < nsid) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

uint32_t
ftgt_nvme_ns_get_block_size(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	const struct nvme_ns_fmt *ns = ns_fmt_find(ctrlr, nsid);

	return ns != NULL ? ns->block_size : 0;
}

uint64_t
ftgt_nvme_ns_get_num_blocks(const struct ftgt_nvme_ctrlr *ctrlr, uint32_t nsid)
{
	const struct nvme_ns_fmt *ns = ns_fmt_find(ctrlr, nsid);

	return ns != NULL ? ns->num_blocks : 0;
}

/* ---- Namespace scan (admin thread) ------------------------------------------------------ */

enum {
	SCAN_LIST_SUBMIT = 0,
	SCAN_LIST_WAIT,
	SCAN_NS_SUBMIT,
	SCAN_NS_WAIT,
};

static void
scan_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct ftgt_nvme_ctrlr *ctrlr = cb_arg;

	ctrlr->scan_busy = false;
	if (ftgt_nvme_cpl_is_error(cpl) && ctrlr->scan_rc == 0) {
		ctrlr->scan_rc = NVME_STATUS_GET_SC(ftgt_le16_to_cpu(cpl->status)) ==
		                                 NVME_SC_ABORTED_SQ_DELETION
		                         ? -ENXIO
		                         : -EIO;
	}
}

static void
scan_finish(struct ftgt_nvme_ctrlr *ctrlr, int rc)
{
	uint32_t i, n = 0;

	ctrlr->scan_active = false;
	ctrlr->scan_rc = rc;
	if (rc == 0) {
		/* Keep the namespaces with a usable block size, in list (ascending) order. */
		for (i = 0; i < ctrlr->scan_n; i++) {
			struct nvme_ns *ns = &ctrlr->scan_ns[i];
			uint8_t fmt = ns->data.flbas & 0xf;

			if (ns->data.lbaf[fmt].lbads < 9 || ns->data.lbaf[fmt].lbads > 16) {
				FTGT_WARNLOG("%s: namespace %u has block size 2^%u, skipped\n",
				             ctrlr->trid.subnqn, ns->nsid,
				             ns->data.lbaf[fmt].lbads);
				continue;
			}
			ns->block_size = 1u << ns->data.lbaf[fmt].lbads;
			ns->num_blocks = ftgt_le64_to_cpu(ns->data.nsze);
			if (n != i) {
				ctrlr->scan_ns[n] = *ns;
			}
			n++;
		}
		free(ctrlr->ns);
		ctrlr->ns = ctrlr->scan_ns;
		ctrlr->num_ns = n;
		ctrlr->scan_ns = NULL;
		if (nvme_ns_table_publish(ctrlr) != 0) {
			FTGT_ERRLOG("%s: out of memory for the namespace table\n",
			            ctrlr->trid.subnqn);
		}
		FTGT_DEBUGLOG(nvme, "%s: %u active namespaces\n", ctrlr->trid.subnqn, n);
	} else {
		free(ctrlr->scan_ns);
		ctrlr->scan_ns = NULL;
	}
	/* Waiting AERs go on even after a failed refresh (they report the old list). */
	ctrlr->scan_done_seq = ctrlr->scan_cur_seq;
	if (rc == 0 && ctrlr->scan_req_seq > ctrlr->scan_done_seq &&
	    nvme_ctrlr_state(ctrlr) == FTGT_NVME_CTRLR_ENABLED) {
		nvme_scan_start(ctrlr); /* another notice came in meanwhile */
	}
}

void
nvme_scan_start(struct ftgt_nvme_ctrlr *ctrlr)
{
	if (ctrlr->scan_active) {
		return; /* scan_finish() starts another if more was asked for */
	}
	ctrlr->scan_active = true;
	ctrlr->scan_busy = false;
	ctrlr->scan_phase = SCAN_LIST_SUBMIT;
	ctrlr->scan_rc = 0;
	ctrlr->scan_idx = 0;
	ctrlr->scan_n = 0;
	ctrlr->scan_cur_seq = ctrlr->scan_req_seq;
}

/* After the admin connection was closed (its commands ended): drop the scan. */
void
nvme_scan_cancel(struct ftgt_nvme_ctrlr *ctrlr)
{
	ctrlr->scan_active = false;
	ctrlr->scan_busy = false;
	free(ctrlr->scan_ns);
	ctrlr->scan_ns = NULL;
}

void
nvme_scan_poll(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct nvme_cmd cmd;
	uint8_t prev;
	int rc;

	do {
		prev = ctrlr->scan_phase;
		if (!ctrlr->scan_active || ctrlr->scan_busy) {
			return;
		}
		if (ctrlr->scan_rc != 0) {
			scan_finish(ctrlr, ctrlr->scan_rc);
			return;
		}
		memset(&cmd, 0, sizeof(cmd));
		cmd.opc = NVME_OPC_IDENTIFY;
		switch (ctrlr->scan_phase) {
		case SCAN_LIST_SUBMIT:
			if (ctrlr->scan_list == NULL) {
				ctrlr->scan_list = calloc(1, NVME_IDENTIFY_DATA_BYTES);
				if (ctrlr->scan_list == NULL) {
					scan_finish(ctrlr, -ENOMEM);
					return;
				}
			}
			memset(ctrlr->scan_list, 0, NVME_IDENTIFY_DATA_BYTES);
			/* The list holds active NSIDs greater than cmd.nsid: pages of 1024. */
			if (ctrlr->scan_n > 0) {
				cmd.nsid = ftgt_cpu_to_le32(ctrlr->scan_ns[ctrlr->scan_n - 1].nsid);
			}
			cmd.cdw10 = ftgt_cpu_to_le32(NVME_IDENTIFY_CNS_ACTIVE_NS_LIST);
			rc = nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, ctrlr->scan_list,
			                           NVME_IDENTIFY_DATA_BYTES, scan_cb, ctrlr);
			if (rc != 0) {
				return; /* queue full: next poll */
			}
			ctrlr->scan_busy = true;
			ctrlr->scan_phase = SCAN_LIST_WAIT;
			break;
		case SCAN_LIST_WAIT: {
			uint32_t n = 0, k, last = 0;
			struct nvme_ns *grown;

			if (ctrlr->scan_n == 0) {
				free(ctrlr->scan_ns);
				ctrlr->scan_ns = NULL;
			} else {
				last = ctrlr->scan_ns[ctrlr->scan_n - 1].nsid;
			}
			/* Increasing NSIDs only (a list that goes back would never end). */
			while (n < NVME_IDENTIFY_DATA_BYTES / 4 && ctrlr->scan_list[n] != 0 &&
			       ftgt_le32_to_cpu(ctrlr->scan_list[n]) > last) {
				last = ftgt_le32_to_cpu(ctrlr->scan_list[n]);
				n++;
			}
			grown = realloc(ctrlr->scan_ns, (size_t)FTGT_MAX(ctrlr->scan_n + n, 1u) *
			                                        sizeof(*ctrlr->scan_ns));
			if (grown == NULL) {
				scan_finish(ctrlr, -ENOMEM);
				return;
			}
			ctrlr->scan_ns = grown;
			for (k = 0; k < n; k++) {
				memset(&grown[ctrlr->scan_n + k], 0, sizeof(grown[0]));
				grown[ctrlr->scan_n + k].nsid =
				        ftgt_le32_to_cpu(ctrlr->scan_list[k]);
			}
			ctrlr->scan_n += n;
			if (n == NVME_IDENTIFY_DATA_BYTES / 4) {
				/* A full page: more may follow the last NSID. */
				ctrlr->scan_phase = SCAN_LIST_SUBMIT;
				break;
			}
			ctrlr->scan_idx = 0;
			ctrlr->scan_phase = SCAN_NS_SUBMIT;
			break;
		}
		case SCAN_NS_SUBMIT: {
			struct nvme_ns *ns;

			if (ctrlr->scan_idx == ctrlr->scan_n) {
				scan_finish(ctrlr, 0);
				return;
			}
			ns = &ctrlr->scan_ns[ctrlr->scan_idx];
			cmd.nsid = ftgt_cpu_to_le32(ns->nsid);
			cmd.cdw10 = ftgt_cpu_to_le32(NVME_IDENTIFY_CNS_NS);
			rc = nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, &ns->data,
			                           NVME_IDENTIFY_DATA_BYTES, scan_cb, ctrlr);
			if (rc != 0) {
				return;
			}
			ctrlr->scan_busy = true;
			ctrlr->scan_phase = SCAN_NS_WAIT;
			break;
		}
		case SCAN_NS_WAIT:
			ctrlr->scan_idx++;
			ctrlr->scan_phase = SCAN_NS_SUBMIT;
			break;
		default:
			break;
		}
	} while (ctrlr->scan_phase != prev);
}

/* ---- Asynchronous events (admin thread) ------------------------------------------------- */

void
ftgt_nvme_ctrlr_register_aer_callback(struct ftgt_nvme_ctrlr *ctrlr, ftgt_nvme_aer_cb cb_fn,
                                      void *cb_arg)
{
	ctrlr->aer_cb = cb_fn;
	ctrlr->aer_cb_arg = cb_arg;
}

static void
aer_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct nvme_aer *aer = cb_arg;

	aer->busy = false;
	if (aer->state != NVME_AER_OUTSTANDING) {
		return;
	}
	if (!ftgt_nvme_cpl_is_error(cpl)) {
		aer->cpl = *cpl;
		aer->state = NVME_AER_EVENT;
	} else if (nvme_cpl_is_sq_deletion(cpl) || aer->ctrlr->detaching) {
		aer->state = NVME_AER_IDLE; /* reset or detach: re-armed once ENABLED again */
	} else {
		FTGT_WARNLOG("%s: Asynchronous Event Request failed: %s; not re-armed\n",
		             aer->ctrlr->trid.subnqn,
		             ftgt_nvme_status_str(ftgt_le16_to_cpu(cpl->status)));
		aer->state = NVME_AER_DEAD;
	}
}

static void
aer_log_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct nvme_aer *aer = cb_arg;
	struct ftgt_nvme_ctrlr *ctrlr = aer->ctrlr;
	uint32_t cdw0 = ftgt_le32_to_cpu(aer->cpl.cdw0);

	aer->busy = false;
	if (aer->state != NVME_AER_LOG) {
		return;
	}
	if (nvme_cpl_is_sq_deletion(cpl) || ctrlr->detaching) {
		aer->state = NVME_AER_IDLE;
		return;
	}
	if (ftgt_nvme_cpl_is_error(cpl)) {
		FTGT_DEBUGLOG(nvme, "%s: Get Log Page 0x%02x for an event failed: %s\n",
		              ctrlr->trid.subnqn, (cdw0 >> 16) & 0xff,
		              ftgt_nvme_status_str(ftgt_le16_to_cpu(cpl->status)));
	}
	if ((cdw0 & 0x7) == NVME_AER_TYPE_NOTICE &&
	    ((cdw0 >> 8) & 0xff) == NVME_AER_NOTICE_NS_ATTR_CHANGED) {
		aer->scan_seq = ++ctrlr->scan_req_seq;
		aer->state = NVME_AER_WAIT_SCAN;
	} else {
		aer->state = NVME_AER_NOTIFY;
	}
}

void
nvme_aer_poll(struct ftgt_nvme_ctrlr *ctrlr)
{
	uint32_t i;

	for (i = 0; i < ctrlr->num_aers; i++) {
		struct nvme_aer *aer = &ctrlr->aers[i];
		uint8_t prev;

		do {
			struct nvme_cmd cmd;
			uint32_t cdw0, lid, len;
			int rc;

			prev = aer->state;
			if (aer->busy || nvme_ctrlr_state(ctrlr) != FTGT_NVME_CTRLR_ENABLED) {
				break;
			}
			switch (aer->state) {
			case NVME_AER_EVENT:
				cdw0 = ftgt_le32_to_cpu(aer->cpl.cdw0);
				lid = (cdw0 >> 16) & 0xff;
				if (lid == 0) {
					aer->state = NVME_AER_NOTIFY;
					break;
				}
				if (aer->log_buf == NULL) {
					aer->log_buf = malloc(NVME_IDENTIFY_DATA_BYTES);
					if (aer->log_buf == NULL) {
						aer->state = NVME_AER_NOTIFY;
						break;
					}
				}
				/* Reading the page (RAE clear) clears the event (Base 2.0, 5.2). */
				len = lid == NVME_LOG_CHANGED_NS_LIST ? NVME_IDENTIFY_DATA_BYTES
				      : lid == NVME_LOG_DISCOVERY     ? 1024
				                                      : 512;
				memset(&cmd, 0, sizeof(cmd));
				cmd.opc = NVME_OPC_GET_LOG_PAGE;
				cmd.nsid = ftgt_cpu_to_le32(NVME_NSID_ALL);
				cmd.cdw10 = ftgt_cpu_to_le32(lid | ((len / 4 - 1) << 16));
				rc = nvme_tcp_qpair_submit(ctrlr->adminq, &cmd, aer->log_buf, len,
				                           aer_log_cb, aer);
				if (rc == 0) {
					aer->busy = true;
					aer->state = NVME_AER_LOG;
				}
				break;
			case NVME_AER_WAIT_SCAN:
				if (ctrlr->scan_done_seq >= aer->scan_seq) {
					aer->state = NVME_AER_NOTIFY;
				} else if (!ctrlr->scan_active) {
					nvme_scan_start(ctrlr);
				}
				break;
			case NVME_AER_NOTIFY:
				aer->state = NVME_AER_ARM;
				if (ctrlr->aer_cb != NULL) {
					struct nvme_cpl cpl = aer->cpl;

					ctrlr->aer_cb(ctrlr->aer_cb_arg, &cpl);
				}
				break;
			case NVME_AER_ARM:
				memset(&cmd, 0, sizeof(cmd));
				cmd.opc = NVME_OPC_ASYNC_EVENT_REQUEST;
				rc = nvme_tcp_qpair_submitv(ctrlr->adminq, &cmd, NULL, 0, 0,
				                            NVME_REQ_F_NO_TIMEOUT, aer_cb, aer);
				if (rc == 0) {
					aer->busy = true;
					aer->state = NVME_AER_OUTSTANDING;
				}
				break;
			default:
				break;
			}
		} while (aer->state != prev);
	}
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
