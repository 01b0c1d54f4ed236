/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvme_cmds: one scenario of the NVMe-oF host library (lib/nvme) against a running ftgtd.
 *
 *   nvme_cmds 'trtype:tcp traddr:127.0.0.1 trsvcid:N subnqn:...' CASE [key=value ...]
 *
 * Each check prints "ok NAME" or "FAIL NAME: reason"; the last line is "PASS CASE" or
 * "FAIL CASE".
 * Exit 0 when no check failed, 1 otherwise, 2 on bad usage. "WAIT what ms" lines tell
 * test/functional/test_nvme_host_cmds.py when to act (check the target, restart it).
 * Every wait is bounded; the only peer is the address in the transport ID.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/log.h"
#include "ftgt/nvme.h"

#define CMD_TIMEOUT_MS     10000
#define NVMF_MAX_AER_PROBE 8
#define MAX_ACTIVE_NS      16

struct args {
	uint32_t nsid;          /* malloc namespace: data checks */
	uint32_t null_nsid;     /* null namespace (0: none) */
	uint32_t delay_nsid;    /* delay bdev namespace (abort case) */
	uint32_t inactive_nsid; /* valid (<= NN) but not active */
	uint32_t kato_ms;
	uint32_t idle_ms;
	uint32_t delay_ms; /* the delay bdev's read latency */
	uint32_t threads;
	uint32_t iterations;
	uint32_t active[MAX_ACTIVE_NS];
	uint32_t num_active;
};

struct ctx {
	struct ftgt_nvme_transport_id trid;
	struct args a;
};

static unsigned int g_failed;
static uint8_t g_hostid[16]; /* of the last connect_ctrlr() */
static pthread_mutex_t g_print_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- Reporting --------------------------------------------------------------------- */

static void report(bool ok, const char *check, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
report(bool ok, const char *check, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g_print_lock);
	if (ok) {
		printf("ok %s\n", check);
	} else {
		g_failed++;
		printf("FAIL %s: ", check);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	pthread_mutex_unlock(&g_print_lock);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g_print_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&g_print_lock);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* "GENERIC/INVALID_FIELD (0/0x02)": names for every status these cases meet. */
static const char *
status_name(uint16_t status, char *buf, size_t len)
{
	unsigned int sct = NVME_STATUS_GET_SCT(status), sc = NVME_STATUS_GET_SC(status);
	const char *n = "?";

	if (sct == NVME_SCT_GENERIC) {
		switch (sc) {
		case NVME_SC_SUCCESS:
			n = "GENERIC/SUCCESS";
			break;
		case NVME_SC_INVALID_OPCODE:
			n = "GENERIC/INVALID_OPCODE";
			break;
		case NVME_SC_INVALID_FIELD:
			n = "GENERIC/INVALID_FIELD";
			break;
		case NVME_SC_INTERNAL_DEVICE_ERROR:
			n = "GENERIC/INTERNAL_DEVICE_ERROR";
			break;
		case NVME_SC_ABORTED_BY_REQUEST:
			n = "GENERIC/ABORTED_BY_REQUEST";
			break;
		case NVME_SC_ABORTED_SQ_DELETION:
			n = "GENERIC/ABORTED_SQ_DELETION";
			break;
		case NVME_SC_ABORTED_FAILED_FUSED:
			n = "GENERIC/ABORTED_FAILED_FUSED";
			break;
		case NVME_SC_ABORTED_MISSING_FUSED:
			n = "GENERIC/ABORTED_MISSING_FUSED";
			break;
		case NVME_SC_INVALID_NAMESPACE_OR_FORMAT:
			n = "GENERIC/INVALID_NAMESPACE_OR_FORMAT";
			break;
		case NVME_SC_COMMAND_SEQUENCE_ERROR:
			n = "GENERIC/COMMAND_SEQUENCE_ERROR";
			break;
		case NVME_SC_DATA_SGL_LENGTH_INVALID:
			n = "GENERIC/DATA_SGL_LENGTH_INVALID";
			break;
		case NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID:
			n = "GENERIC/SGL_DESCRIPTOR_TYPE_INVALID";
			break;
		case NVME_SC_ATOMIC_WRITE_UNIT_EXCEEDED:
			n = "GENERIC/ATOMIC_WRITE_UNIT_EXCEEDED";
			break;
		case NVME_SC_TRANSIENT_TRANSPORT_ERROR:
			n = "GENERIC/TRANSIENT_TRANSPORT_ERROR";
			break;
		case NVME_SC_LBA_OUT_OF_RANGE:
			n = "GENERIC/LBA_OUT_OF_RANGE";
			break;
		case NVME_SC_NAMESPACE_NOT_READY:
			n = "GENERIC/NAMESPACE_NOT_READY";
			break;
		default:
			break;
		}
	} else if (sct == NVME_SCT_COMMAND_SPECIFIC) {
		switch (sc) {
		case NVME_SC_INVALID_LOG_PAGE:
			n = "COMMAND_SPECIFIC/INVALID_LOG_PAGE";
			break;
		case NVME_SC_FEATURE_ID_NOT_SAVEABLE:
			n = "COMMAND_SPECIFIC/FEATURE_ID_NOT_SAVEABLE";
			break;
		case NVME_SC_FEATURE_NOT_CHANGEABLE:
			n = "COMMAND_SPECIFIC/FEATURE_NOT_CHANGEABLE";
			break;
		case NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED:
			n = "COMMAND_SPECIFIC/ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED";
			break;
		default:
			break;
		}
	} else if (sct == NVME_SCT_MEDIA_ERROR && sc == NVME_SC_COMPARE_FAILURE) {
		n = "MEDIA/COMPARE_FAILURE";
	}
	snprintf(buf, len, "%s (SCT %u/SC 0x%02x)", n, sct, sc);
	return buf;
}

/* ---- Synchronous commands ---------------------------------------------------------- */

struct res {
	bool done;
	struct nvme_cpl cpl;
	uint64_t done_ms;
};

static void
res_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct res *r = cb_arg;

	r->cpl = *cpl;
	r->done = true;
	r->done_ms = now_ms();
}

static uint16_t
res_status(const struct res *r)
{
	return ftgt_le16_to_cpu(r->cpl.status);
}

/*
 * Poll until every res in rs[0..n) is done: the queue pair (if any) and the admin queue
 * (keep-alive). 0, or -ETIMEDOUT, or -ENXIO when a queue failed and something is left.
 */
static int
wait_all(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *qp, struct res *rs, uint32_t n,
         uint32_t timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	bool failed = false;
	uint32_t i;

	for (;;) {
		int busy = 0, rc;

		for (i = 0; i < n && rs[i].done; i++) {
		}
		if (i == n) {
			return 0;
		}
		if (failed) {
			return -ENXIO;
		}
		if (qp != NULL) {
			rc = ftgt_nvme_qpair_process_completions(qp, 0);
			if (rc < 0) {
				failed = true;
			} else {
				busy += rc;
			}
		}
		if (ctrlr != NULL) {
			rc = ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
			if (rc < 0 && qp == NULL) {
				failed = true;
			} else if (rc > 0) {
				busy += rc;
			}
		}
		if (now_ms() > deadline) {
			return -ETIMEDOUT;
		}
		if (busy == 0) {
			usleep(200);
		}
	}
}

static int
admin_cmd(struct ftgt_nvme_ctrlr *ctrlr, const struct nvme_cmd *cmd, void *buf, uint32_t len,
          struct res *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ftgt_nvme_ctrlr_cmd_admin_raw(ctrlr, cmd, buf, len, res_cb, r);
	if (rc != 0) {
		return rc;
	}
	return wait_all(ctrlr, NULL, r, 1, CMD_TIMEOUT_MS);
}

static int
io_cmd(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *qp, const struct nvme_cmd *cmd,
       void *buf, uint32_t len, struct res *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ftgt_nvme_qpair_cmd_raw(qp, cmd, buf, len, res_cb, r);
	if (rc != 0) {
		return rc;
	}
	return wait_all(ctrlr, qp, r, 1, CMD_TIMEOUT_MS);
}

/* Check that a command completed with exactly (sct, sc). */
static bool
expect(const char *check, int rc, const struct res *r, unsigned int sct, unsigned int sc)
{
	char got[96], want[96];

	if (rc != 0) {
		report(false, check, "no completion: %s", strerror(-rc));
		return false;
	}
	if (NVME_STATUS_GET_SCT(res_status(r)) != sct || NVME_STATUS_GET_SC(res_status(r)) != sc) {
		report(false, check, "status %s, expected %s",
		       status_name(res_status(r), got, sizeof(got)),
		       status_name(NVME_STATUS(sct, sc), want, sizeof(want)));
		return false;
	}
	report(true, check, " ");
	return true;
}

static bool
expect_ok(const char *check, int rc, const struct res *r)
{
	return expect(check, rc, r, NVME_SCT_GENERIC, NVME_SC_SUCCESS);
}

static void *
buf_alloc(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len) != 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memset(p, 0, len);
	return p;
}

/* Bytes that differ for every (seed, offset): a misplaced block shows. */
static void
fill(uint8_t *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 12345u;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
}

static bool
all_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0) {
			return false;
		}
	}
	return true;
}

static struct ftgt_nvme_ctrlr *
connect_ctrlr(const struct ctx *c, uint32_t kato_ms)
{
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr = NULL;
	char err[256];
	int rc;

	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.kato_ms = kato_ms;
	memcpy(g_hostid, opts.hostid, sizeof(g_hostid));
	rc = ftgt_nvme_connect(&c->trid, &opts, &ctrlr, err, sizeof(err));
	if (rc != 0) {
		report(false, "connect", "%s (%s)", err, strerror(-rc));
		return NULL;
	}
	return ctrlr;
}

static struct ftgt_nvme_qpair *
alloc_qpair(struct ftgt_nvme_ctrlr *ctrlr)
{
	struct ftgt_nvme_qpair *qp = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 0);

	if (qp == NULL) {
		report(false, "alloc_io_qpair", "ftgt_nvme_ctrlr_alloc_io_qpair() failed");
	}
	return qp;
}

static void
rw_raw(struct nvme_cmd *cmd, uint8_t opc, uint32_t nsid, uint64_t lba, uint32_t nlb)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opc = opc;
	cmd->nsid = ftgt_cpu_to_le32(nsid);
	cmd->cdw10 = ftgt_cpu_to_le32((uint32_t)lba);
	cmd->cdw11 = ftgt_cpu_to_le32((uint32_t)(lba >> 32));
	cmd->cdw12 = ftgt_cpu_to_le32((nlb - 1) & NVME_RW_NLB_MASK);
}

/* Write seed's pattern to [lba, lba + nlb) and read it back. */
static bool
write_read_verify(const char *check, struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *qp,
                  uint32_t nsid, uint64_t lba, uint32_t nlb, uint32_t seed, uint32_t io_flags)
{
	uint32_t bs = ftgt_nvme_ns_get_block_size(ctrlr, nsid);
	size_t len = (size_t)nlb * bs;
	uint8_t *wbuf = buf_alloc(len), *rbuf = buf_alloc(len);
	struct res r;
	bool ok = false;
	int rc;

	fill(wbuf, len, seed);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_write(qp, nsid, wbuf, lba, nlb, io_flags, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	if (rc != 0 || ftgt_nvme_cpl_is_error(&r.cpl)) {
		char s[96];

		report(false, check, "write: %s",
		       rc != 0 ? strerror(-rc) : status_name(res_status(&r), s, sizeof(s)));
		goto out;
	}
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_read(qp, nsid, rbuf, lba, nlb, 0, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	if (rc != 0 || ftgt_nvme_cpl_is_error(&r.cpl)) {
		char s[96];

		report(false, check, "read: %s",
		       rc != 0 ? strerror(-rc) : status_name(res_status(&r), s, sizeof(s)));
		goto out;
	}
	if (memcmp(wbuf, rbuf, len) != 0) {
		report(false, check,
		       "data read back differs from what was written (lba %llu, %u blocks)",
		       (unsigned long long)lba, nlb);
		goto out;
	}
	ok = true;
	report(true, check, " ");
out:
	free(wbuf);
	free(rbuf);
	return ok;
}

/* ---- admin_identify ----------------------------------------------------------------- */

static void
identify_cmd(struct nvme_cmd *cmd, uint8_t cns, uint32_t nsid, uint8_t csi)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opc = NVME_OPC_IDENTIFY;
	cmd->nsid = ftgt_cpu_to_le32(nsid);
	cmd->cdw10 = ftgt_cpu_to_le32(cns);
	cmd->cdw11 = ftgt_cpu_to_le32((uint32_t)csi << 24);
}

static int
case_admin_identify(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	uint8_t *buf = buf_alloc(4096);
	const struct nvme_ctrlr_data *cd = (const void *)buf;
	const struct nvme_ns_data *nsd = (const void *)buf;
	const ftgt_le32 *list = (const void *)buf;
	struct nvme_cmd cmd;
	struct res r;
	uint32_t i, off;
	int rc;

	if (ctrlr == NULL) {
		free(buf);
		return 1;
	}

	identify_cmd(&cmd, NVME_IDENTIFY_CNS_CTRLR, 0, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	if (expect_ok("identify_ctrlr", rc, &r)) {
		report(ftgt_le16_to_cpu(cd->cntlid) == ftgt_nvme_ctrlr_get_cntlid(ctrlr),
		       "identify_ctrlr_cntlid", "CNTLID %u, Connect gave %u",
		       ftgt_le16_to_cpu(cd->cntlid), ftgt_nvme_ctrlr_get_cntlid(ctrlr));
		report(strncmp(cd->subnqn, c->trid.subnqn, sizeof(cd->subnqn)) == 0,
		       "identify_ctrlr_subnqn", "SUBNQN '%.64s'", cd->subnqn);
		report(cd->mdts != 0 && ftgt_le32_to_cpu(cd->nn) >= c->a.inactive_nsid,
		       "identify_ctrlr_limits", "MDTS %u NN %u", cd->mdts,
		       ftgt_le32_to_cpu(cd->nn));
		report((ftgt_le16_to_cpu(cd->oncs) & NVME_CTRLR_ONCS_COMPARE) &&
		               (ftgt_le16_to_cpu(cd->fuses) & NVME_CTRLR_FUSES_COMPARE_AND_WRITE),
		       "identify_ctrlr_oncs", "ONCS 0x%x FUSES 0x%x", ftgt_le16_to_cpu(cd->oncs),
		       ftgt_le16_to_cpu(cd->fuses));
	}

	identify_cmd(&cmd, NVME_IDENTIFY_CNS_NS, c->a.nsid, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	if (expect_ok("identify_ns", rc, &r)) {
		uint32_t lbads = nsd->lbaf[nsd->flbas & 0xf].lbads;

		report(ftgt_le64_to_cpu(nsd->nsze) ==
		                       ftgt_nvme_ns_get_num_blocks(ctrlr, c->a.nsid) &&
		               ftgt_le64_to_cpu(nsd->nsze) != 0 &&
		               (1u << lbads) == ftgt_nvme_ns_get_block_size(ctrlr, c->a.nsid),
		       "identify_ns_size", "NSZE %llu, LBADS %u",
		       (unsigned long long)ftgt_le64_to_cpu(nsd->nsze), lbads);
	}

	/* NVMe Base 2.0, 5.17.2.1: an inactive (valid, not active) NSID returns zeroes. */
	memset(buf, 0xa5, 4096);
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_NS, c->a.inactive_nsid, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	if (expect_ok("identify_ns_inactive", rc, &r)) {
		report(all_zero(buf, 4096), "identify_ns_inactive_zeroed",
		       "data for inactive NSID %u is not all zero", c->a.inactive_nsid);
	}
	/* FFFFFFFFh without Namespace Management (OACS bit 3 clear): Invalid Namespace. */
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_NS, NVME_NSID_ALL, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("identify_ns_broadcast", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	/* NSID 0 and NSIDs above NN are invalid: Invalid Namespace or Format. */
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_NS, 0, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("identify_ns_nsid0", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_NS, 0x10000, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("identify_ns_above_nn", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_INVALID_NAMESPACE_OR_FORMAT);

	/* Active namespace list (CNS 02h): NSIDs above cdw NSID, ascending, zero padded. */
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_ACTIVE_NS_LIST, 0, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	if (expect_ok("identify_active_ns_list", rc, &r)) {
		bool same = true;

		for (i = 0; i < c->a.num_active; i++) {
			same = same && ftgt_le32_to_cpu(list[i]) == c->a.active[i];
		}
		same = same && all_zero(buf + c->a.num_active * 4, 4096 - c->a.num_active * 4);
		report(same, "identify_active_ns_list_content", "list starts %u %u %u",
		       ftgt_le32_to_cpu(list[0]), ftgt_le32_to_cpu(list[1]),
		       ftgt_le32_to_cpu(list[2]));
	}
	if (c->a.num_active > 1) {
		identify_cmd(&cmd, NVME_IDENTIFY_CNS_ACTIVE_NS_LIST, c->a.active[0], 0);
		rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
		if (expect_ok("identify_active_ns_list_from", rc, &r)) {
			report(ftgt_le32_to_cpu(list[0]) == c->a.active[1],
			       "identify_active_ns_list_from_content",
			       "list after NSID %u starts with %u, expected %u", c->a.active[0],
			       ftgt_le32_to_cpu(list[0]), c->a.active[1]);
		}
	}
	/* 5.17.2.2: FFFFFFFEh and FFFFFFFFh are invalid for CNS 02h. */
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_ACTIVE_NS_LIST, 0xfffffffeu, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("identify_active_ns_list_fffffffe", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_INVALID_NAMESPACE_OR_FORMAT);

	/* Namespace identification descriptor list (CNS 03h): well formed, with a CSI. */
	memset(buf, 0xa5, 4096);
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_NS_ID_DESC_LIST, c->a.nsid, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	if (expect_ok("identify_ns_desc_list", rc, &r)) {
		bool csi_seen = false, well_formed = true;

		for (off = 0; off + 4 <= 4096;) {
			const struct nvme_ns_id_desc *d = (const void *)(buf + off);
			uint8_t want = d->nidt == NVME_NIDT_EUI64   ? 8
			               : d->nidt == NVME_NIDT_NGUID ? 16
			               : d->nidt == NVME_NIDT_UUID  ? 16
			               : d->nidt == NVME_NIDT_CSI   ? 1
			                                            : 0;

			if (d->nidt == 0) {
				break;
			}
			if (want == 0 || d->nidl != want || off + 4 + d->nidl > 4096) {
				well_formed = false;
				break;
			}
			if (d->nidt == NVME_NIDT_CSI) {
				csi_seen = d->nid[0] == NVME_CSI_NVM;
			}
			off += 4 + d->nidl;
		}
		report(well_formed && csi_seen, "identify_ns_desc_list_content",
		       "descriptor list malformed or without CSI NVM (at byte %u)", off);
	}
	/* Inactive NSID for CNS 03h: zeroes or Invalid Namespace or Format both conform. */
	memset(buf, 0xa5, 4096);
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_NS_ID_DESC_LIST, c->a.inactive_nsid, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	if (rc == 0 && res_status(&r) == 0) {
		report(all_zero(buf, 4096), "identify_ns_desc_list_inactive",
		       "success but the data is not all zero");
	} else {
		expect("identify_ns_desc_list_inactive", rc, &r, NVME_SCT_GENERIC,
		       NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	}

	/* Reserved / unsupported CNS values: Invalid Field in Command. */
	identify_cmd(&cmd, 0xff, 0, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("identify_cns_reserved", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_CTRLR_LIST, 0, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("identify_cns_unsupported", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	/* CNS 05h with a command set other than NVM: Invalid Field. */
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_CS_NS, c->a.nsid, 0x7);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("identify_cs_ns_bad_csi", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);

	ftgt_nvme_detach(ctrlr);
	free(buf);
	return 0;
}

/* ---- admin_log_pages ---------------------------------------------------------------- */

static int
get_log(struct ftgt_nvme_ctrlr *ctrlr, uint8_t lid, void *buf, uint32_t len, uint64_t off,
        struct res *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ftgt_nvme_ctrlr_cmd_get_log_page(ctrlr, lid, NVME_NSID_ALL, buf, len, off, res_cb, r);
	if (rc != 0) {
		return rc;
	}
	return wait_all(ctrlr, NULL, r, 1, CMD_TIMEOUT_MS);
}

static int
case_admin_log_pages(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	uint8_t *buf = buf_alloc(4096), *io = buf_alloc(4096);
	const struct nvme_error_info *ei = (const void *)buf;
	const struct nvme_health_info *hi = (const void *)buf;
	const struct nvme_firmware_slot_info *fw = (const void *)buf;
	const struct nvme_cmds_and_effects *ce = (const void *)buf;
	struct nvme_cmd cmd;
	struct res r;
	uint64_t nblocks;
	ftgt_le16 err_cid;
	int rc;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	nblocks = ftgt_nvme_ns_get_num_blocks(ctrlr, c->a.nsid);

	/* A failed I/O command lands in the error log (newest first, with SQID/CID/LBA). */
	rw_raw(&cmd, NVME_OPC_READ, c->a.nsid, nblocks, 1);
	rc = io_cmd(ctrlr, qp, &cmd, io, ftgt_nvme_ns_get_block_size(ctrlr, c->a.nsid), &r);
	expect("error_log_setup_lba_out_of_range", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_LBA_OUT_OF_RANGE);
	err_cid = r.cpl.cid;
	rc = get_log(ctrlr, NVME_LOG_ERROR, buf, 4096, 0, &r);
	if (expect_ok("log_error", rc, &r)) {
		uint16_t st = ftgt_le16_to_cpu(ei[0].status) >> 1;

		report(ftgt_le64_to_cpu(ei[0].error_count) != 0 &&
		               ftgt_le16_to_cpu(ei[0].sqid) == ftgt_nvme_qpair_get_id(qp) &&
		               ei[0].cid == err_cid && (st & 0xff) == NVME_SC_LBA_OUT_OF_RANGE &&
		               ftgt_le64_to_cpu(ei[0].lba) == nblocks &&
		               ftgt_le32_to_cpu(ei[0].nsid) == c->a.nsid,
		       "log_error_newest_entry",
		       "newest entry: count %llu sqid %u status 0x%x lba %llu nsid %u",
		       (unsigned long long)ftgt_le64_to_cpu(ei[0].error_count),
		       ftgt_le16_to_cpu(ei[0].sqid), ftgt_le16_to_cpu(ei[0].status),
		       (unsigned long long)ftgt_le64_to_cpu(ei[0].lba),
		       ftgt_le32_to_cpu(ei[0].nsid));
	}

	rc = get_log(ctrlr, NVME_LOG_HEALTH, buf, 512, 0, &r);
	if (expect_ok("log_smart", rc, &r)) {
		report(ftgt_le16_to_cpu(hi->temperature) != 0 && hi->available_spare == 100,
		       "log_smart_content", "temperature %u available spare %u",
		       ftgt_le16_to_cpu(hi->temperature), hi->available_spare);
	}
	/* Offset within the page: the bytes from there on. */
	rc = get_log(ctrlr, NVME_LOG_HEALTH, buf, 4, 4, &r);
	if (expect_ok("log_smart_offset", rc, &r)) {
		report(buf[0] == 10, "log_smart_offset_content",
		       "byte 4 (available spare threshold) read at offset 4 is %u, expected 10",
		       buf[0]);
	}
	rc = get_log(ctrlr, NVME_LOG_FIRMWARE_SLOT, buf, 512, 0, &r);
	if (expect_ok("log_firmware", rc, &r)) {
		report((fw->afi & 0x7) == 1 && fw->frs[0][0] != 0 && fw->frs[0][0] != ' ',
		       "log_firmware_content", "AFI 0x%x, slot 1 '%.8s'", fw->afi,
		       (const char *)fw->frs[0]);
	}
	memset(buf, 0xa5, 4096);
	rc = get_log(ctrlr, NVME_LOG_CHANGED_NS_LIST, buf, 4096, 0, &r);
	if (expect_ok("log_changed_ns_list", rc, &r)) {
		report(all_zero(buf, 4096), "log_changed_ns_list_empty",
		       "nothing changed since connect, yet the list starts with %u",
		       ftgt_le32_to_cpu(*(const ftgt_le32 *)buf));
	}
	rc = get_log(ctrlr, NVME_LOG_COMMAND_EFFECTS, buf, 4096, 0, &r);
	if (expect_ok("log_cmd_effects", rc, &r)) {
		report((ftgt_le32_to_cpu(ce->acs[NVME_OPC_IDENTIFY]) & NVME_CMD_EFFECTS_CSUPP) &&
		               (ftgt_le32_to_cpu(ce->iocs[NVME_OPC_READ]) &
		                NVME_CMD_EFFECTS_CSUPP) &&
		               (ftgt_le32_to_cpu(ce->iocs[NVME_OPC_WRITE]) &
		                NVME_CMD_EFFECTS_LBCC) &&
		               !(ftgt_le32_to_cpu(ce->acs[NVME_OPC_FORMAT_NVM]) &
		                 NVME_CMD_EFFECTS_CSUPP),
		       "log_cmd_effects_content", "ACS[06h] 0x%x IOCS[02h] 0x%x IOCS[01h] 0x%x",
		       ftgt_le32_to_cpu(ce->acs[NVME_OPC_IDENTIFY]),
		       ftgt_le32_to_cpu(ce->iocs[NVME_OPC_READ]),
		       ftgt_le32_to_cpu(ce->iocs[NVME_OPC_WRITE]));
	}
	/* Unsupported log identifier: Invalid Log Page (NVMe Base 2.0, 5.16). */
	rc = get_log(ctrlr, 0x6f, buf, 512, 0, &r);
	expect("log_lid_unsupported", rc, &r, NVME_SCT_COMMAND_SPECIFIC, NVME_SC_INVALID_LOG_PAGE);
	rc = get_log(ctrlr, NVME_LOG_DISCOVERY, buf, 512, 0, &r);
	expect("log_discovery_on_nvm_ctrlr", rc, &r, NVME_SCT_COMMAND_SPECIFIC,
	       NVME_SC_INVALID_LOG_PAGE);
	/* Log Page Offset beyond the page (5.16: Invalid Field in Command). */
	rc = get_log(ctrlr, NVME_LOG_HEALTH, buf, 512, 4096, &r);
	expect("log_offset_beyond_page", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);

out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(buf);
	free(io);
	return 0;
}

/* ---- admin_features ----------------------------------------------------------------- */

static int
feature(struct ftgt_nvme_ctrlr *ctrlr, bool set, uint32_t cdw10, uint32_t cdw11, struct res *r)
{
	struct nvme_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = set ? NVME_OPC_SET_FEATURES : NVME_OPC_GET_FEATURES;
	cmd.cdw10 = ftgt_cpu_to_le32(cdw10);
	cmd.cdw11 = ftgt_cpu_to_le32(cdw11);
	return admin_cmd(ctrlr, &cmd, NULL, 0, r);
}

/* Set fid to value, then Get it back: cdw0 must be value. */
static void
set_get(struct ftgt_nvme_ctrlr *ctrlr, const char *name, uint8_t fid, uint32_t value)
{
	char check[96];
	struct res r;
	int rc;

	snprintf(check, sizeof(check), "set_%s", name);
	rc = feature(ctrlr, true, fid, value, &r);
	if (!expect_ok(check, rc, &r)) {
		return;
	}
	snprintf(check, sizeof(check), "get_%s", name);
	rc = feature(ctrlr, false, fid, 0, &r);
	if (expect_ok(check, rc, &r)) {
		snprintf(check, sizeof(check), "get_%s_value", name);
		report(ftgt_le32_to_cpu(r.cpl.cdw0) == value, check, "Get returned 0x%x, Set 0x%x",
		       ftgt_le32_to_cpu(r.cpl.cdw0), value);
	}
}

static int
case_admin_features(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	struct res r;
	uint32_t v;
	int rc;

	if (ctrlr == NULL) {
		return 1;
	}
	/* Number of Queues, before any I/O queue exists (NVMe Base 2.0, 5.27.1.7). */
	rc = feature(ctrlr, false, NVME_FEAT_NUMBER_OF_QUEUES, 0, &r);
	if (expect_ok("get_num_queues", rc, &r)) {
		v = ftgt_le32_to_cpu(r.cpl.cdw0);
		report((v & 0xffff) == (v >> 16) && (v & 0xffff) >= 1, "get_num_queues_value",
		       "NSQA %u NCQA %u", v & 0xffff, v >> 16);
	}
	rc = feature(ctrlr, true, NVME_FEAT_NUMBER_OF_QUEUES, 3u | (3u << 16), &r);
	if (expect_ok("set_num_queues", rc, &r)) {
		v = ftgt_le32_to_cpu(r.cpl.cdw0);
		report(v == (3u | (3u << 16)), "set_num_queues_granted",
		       "asked for 4+4 queues, granted NSQA %u NCQA %u (0's based)", v & 0xffff,
		       v >> 16);
	}
	rc = feature(ctrlr, false, NVME_FEAT_NUMBER_OF_QUEUES, 0, &r);
	if (expect_ok("get_num_queues_after_set", rc, &r)) {
		report(ftgt_le32_to_cpu(r.cpl.cdw0) == (3u | (3u << 16)),
		       "get_num_queues_after_set_value", "0x%x", ftgt_le32_to_cpu(r.cpl.cdw0));
	}
	/* 65535 is not a valid count (Invalid Field in Command). */
	rc = feature(ctrlr, true, NVME_FEAT_NUMBER_OF_QUEUES, 0xffffu | (3u << 16), &r);
	expect("set_num_queues_65535", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);

	set_get(ctrlr, "arbitration", NVME_FEAT_ARBITRATION, 0x03020100u | 0x3u);
	rc = feature(ctrlr, false,
	             NVME_FEAT_ARBITRATION | (NVME_FEAT_SEL_SUPPORTED << NVME_FEAT_GET_SEL_SHIFT),
	             0, &r);
	if (expect_ok("get_arbitration_supported_caps", rc, &r)) {
		/* Bit 2 changeable, bit 0 saveable: arbitration is changeable, not saveable. */
		report((ftgt_le32_to_cpu(r.cpl.cdw0) & 0x7) == 0x4,
		       "get_arbitration_supported_caps_value", "capabilities 0x%x",
		       ftgt_le32_to_cpu(r.cpl.cdw0));
	}
	set_get(ctrlr, "power_mgmt_ps0", NVME_FEAT_POWER_MANAGEMENT, 0);
	/* NPSS = 0: power state 1 does not exist (Invalid Field in Command). */
	rc = feature(ctrlr, true, NVME_FEAT_POWER_MANAGEMENT, 1, &r);
	expect("set_power_mgmt_ps1", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);

	rc = feature(ctrlr, false, NVME_FEAT_KEEP_ALIVE_TIMER, 0, &r);
	if (expect_ok("get_keep_alive_timer_at_connect", rc, &r)) {
		report(ftgt_le32_to_cpu(r.cpl.cdw0) == 10000,
		       "get_keep_alive_timer_at_connect_value",
		       "KATO %u ms, Connect asked for 10000", ftgt_le32_to_cpu(r.cpl.cdw0));
	}
	/* Longer than what the library sends keep-alives for: it never expires meanwhile. */
	set_get(ctrlr, "keep_alive_timer", NVME_FEAT_KEEP_ALIVE_TIMER, 20000);
	set_get(ctrlr, "keep_alive_timer_restore", NVME_FEAT_KEEP_ALIVE_TIMER, 10000);
	set_get(ctrlr, "async_event_config", NVME_FEAT_ASYNC_EVENT_CONFIGURATION,
	        NVME_CTRLR_OAES_NS_ATTR_NOTICES);
	rc = feature(ctrlr, false, NVME_FEAT_VOLATILE_WRITE_CACHE, 0, &r);
	if (expect_ok("get_volatile_write_cache", rc, &r)) {
		report(ftgt_le32_to_cpu(r.cpl.cdw0) == 1, "get_volatile_write_cache_default",
		       "WCE %u, Identify says VWC present", ftgt_le32_to_cpu(r.cpl.cdw0));
	}
	set_get(ctrlr, "volatile_write_cache_off", NVME_FEAT_VOLATILE_WRITE_CACHE, 0);
	set_get(ctrlr, "volatile_write_cache_on", NVME_FEAT_VOLATILE_WRITE_CACHE, 1);

	/*
	 * Temperature Threshold (NVMe Base 2.0, 5.27.1.4): TMPTH 15:0, TMPSEL 19:16, THSEL
	 * 21:20 (00b over, 01b under). Each (sensor, over/under) pair is its own threshold:
	 * setting the under threshold must not change the over one, and Get returns the one
	 * that cdw11 selects. A sensor that is not implemented (only the composite, TMPSEL 0,
	 * is: the SMART log reports no sensor) is an Invalid Field.
	 */
	set_get(ctrlr, "temp_threshold_over", NVME_FEAT_TEMPERATURE_THRESHOLD, 0x160);
	rc = feature(ctrlr, true, NVME_FEAT_TEMPERATURE_THRESHOLD, 0x100 | (1u << 20), &r);
	expect_ok("set_temp_threshold_under", rc, &r);
	rc = feature(ctrlr, false, NVME_FEAT_TEMPERATURE_THRESHOLD, 0, &r);
	if (expect_ok("get_temp_threshold_over_after_under", rc, &r)) {
		v = ftgt_le32_to_cpu(r.cpl.cdw0) & 0xffff;
		report(v == 0x160, "temp_threshold_under_kept_apart",
		       "over threshold 0x%x after setting the under one, expected 0x160", v);
	}
	rc = feature(ctrlr, false, NVME_FEAT_TEMPERATURE_THRESHOLD, 1u << 20, &r);
	if (expect_ok("get_temp_threshold_under", rc, &r)) {
		v = ftgt_le32_to_cpu(r.cpl.cdw0) & 0xffff;
		report(v == 0x100, "temp_threshold_under_value",
		       "under threshold 0x%x, expected 0x100", v);
	}
	rc = feature(ctrlr, true, NVME_FEAT_TEMPERATURE_THRESHOLD, 0x150 | (1u << 16), &r);
	expect("set_temp_threshold_sensor_not_implemented", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_INVALID_FIELD);
	rc = feature(ctrlr, true, NVME_FEAT_TEMPERATURE_THRESHOLD, 0x150 | (2u << 20), &r);
	expect("set_temp_threshold_thsel_reserved", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_INVALID_FIELD);

	/* Reserved feature identifiers: Invalid Field in Command, for Get and Set. */
	rc = feature(ctrlr, false, 0x00, 0, &r);
	expect("get_fid_reserved", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	rc = feature(ctrlr, true, 0x00, 0, &r);
	expect("set_fid_reserved", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	rc = feature(ctrlr, false, 0x7e, 0, &r);
	expect("get_fid_unsupported", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	/* Save on a feature that is not saveable: Feature Identifier Not Saveable. */
	rc = feature(ctrlr, true, NVME_FEAT_ARBITRATION | NVME_FEAT_SET_SV, 0, &r);
	expect("set_save_not_saveable", rc, &r, NVME_SCT_COMMAND_SPECIFIC,
	       NVME_SC_FEATURE_ID_NOT_SAVEABLE);
	/*
	 * The host identifier cannot be set on fabrics (it comes with Connect): Command
	 * Sequence Error, as Linux nvmet and SPDK answer.
	 */
	rc = feature(ctrlr, true, NVME_FEAT_HOST_IDENTIFIER, 1, &r);
	expect("set_host_identifier_read_only", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_COMMAND_SEQUENCE_ERROR);

	/* Get Host Identifier (EXHID set): the 128-bit host ID sent with Connect. */
	{
		uint8_t hid[16];
		struct nvme_cmd cmd;

		memset(&cmd, 0, sizeof(cmd));
		memset(hid, 0, sizeof(hid));
		cmd.opc = NVME_OPC_GET_FEATURES;
		cmd.cdw10 = ftgt_cpu_to_le32(NVME_FEAT_HOST_IDENTIFIER);
		cmd.cdw11 = ftgt_cpu_to_le32(1);
		rc = admin_cmd(ctrlr, &cmd, hid, sizeof(hid), &r);
		if (expect_ok("get_host_identifier", rc, &r)) {
			report(memcmp(hid, g_hostid, sizeof(hid)) == 0, "get_host_identifier_value",
			       "not the host ID sent with Connect");
		}
	}
	/* Once an I/O queue exists, Number of Queues cannot change: Command Sequence Error. */
	qp = alloc_qpair(ctrlr);
	if (qp != NULL) {
		rc = feature(ctrlr, true, NVME_FEAT_NUMBER_OF_QUEUES, 1u | (1u << 16), &r);
		expect("set_num_queues_after_io_queue", rc, &r, NVME_SCT_GENERIC,
		       NVME_SC_COMMAND_SEQUENCE_ERROR);
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	ftgt_nvme_detach(ctrlr);
	return 0;
}

/* ---- admin_misc: Keep Alive, Abort, unsupported opcodes, fused admin, AER limit ------- */

static int
abort_cmd(struct ftgt_nvme_ctrlr *ctrlr, uint16_t sqid, uint16_t cid, struct res *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ftgt_nvme_ctrlr_cmd_abort(ctrlr, sqid, cid, res_cb, r);
	if (rc != 0) {
		return rc;
	}
	return wait_all(ctrlr, NULL, r, 1, CMD_TIMEOUT_MS);
}

static int
case_admin_misc(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	uint8_t *buf = buf_alloc(4096);
	struct nvme_cmd cmd;
	struct res r;
	int rc;

	if (ctrlr == NULL) {
		free(buf);
		return 1;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_KEEP_ALIVE;
	rc = admin_cmd(ctrlr, &cmd, NULL, 0, &r);
	expect_ok("keep_alive", rc, &r);

	/* Abort of a CID nobody uses: success, dword 0 bit 0 = 1 (not aborted). */
	rc = abort_cmd(ctrlr, 0, 0x1234, &r);
	if (expect_ok("abort_unknown_cid_admin", rc, &r)) {
		report((ftgt_le32_to_cpu(r.cpl.cdw0) & 1) == 1, "abort_unknown_cid_admin_dw0",
		       "dword 0 = 0x%x, bit 0 must be 1", ftgt_le32_to_cpu(r.cpl.cdw0));
	}
	qp = alloc_qpair(ctrlr);
	if (qp != NULL) {
		rc = abort_cmd(ctrlr, ftgt_nvme_qpair_get_id(qp), 0x1234, &r);
		if (expect_ok("abort_unknown_cid_io", rc, &r)) {
			report((ftgt_le32_to_cpu(r.cpl.cdw0) & 1) == 1, "abort_unknown_cid_io_dw0",
			       "dword 0 = 0x%x, bit 0 must be 1", ftgt_le32_to_cpu(r.cpl.cdw0));
		}
		/* A queue that does not exist. */
		rc = abort_cmd(ctrlr, 77, 0, &r);
		if (expect_ok("abort_unknown_sqid", rc, &r)) {
			report((ftgt_le32_to_cpu(r.cpl.cdw0) & 1) == 1, "abort_unknown_sqid_dw0",
			       "dword 0 = 0x%x, bit 0 must be 1", ftgt_le32_to_cpu(r.cpl.cdw0));
		}
	}

	/* Admin opcodes fabrics controllers do not implement: Invalid Command Opcode. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_CREATE_IO_SQ;
	rc = admin_cmd(ctrlr, &cmd, NULL, 0, &r);
	expect("admin_opcode_create_io_sq", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	cmd.opc = NVME_OPC_FORMAT_NVM;
	rc = admin_cmd(ctrlr, &cmd, NULL, 0, &r);
	expect("admin_opcode_format_nvm", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	cmd.opc = 0xc0; /* vendor specific */
	rc = admin_cmd(ctrlr, &cmd, NULL, 0, &r);
	expect("admin_opcode_vendor", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	/* No fused admin commands (NVMe Base 2.0, 3.4.2): Invalid Field. */
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_CTRLR, 0, 0);
	cmd.flags = NVME_CMD_FUSE_FIRST;
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect("admin_fused", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
		qp = NULL;
	}

	/*
	 * Asynchronous Event Requests beyond AERL + 1 outstanding: Asynchronous Event Request
	 * Limit Exceeded (NVMe Base 2.0, 5.2). The library may hold some itself, so submit
	 * one at a time until one is refused: exactly AERL + 1 may be outstanding.
	 */
	{
		struct res aers[NVMF_MAX_AER_PROBE];
		uint32_t aerl = ftgt_nvme_ctrlr_get_data(ctrlr)->aerl, k, refused = 0, held = 0;

		memset(aers, 0, sizeof(aers));
		memset(&cmd, 0, sizeof(cmd));
		cmd.opc = NVME_OPC_ASYNC_EVENT_REQUEST;
		for (k = 0; k < aerl + 2 && k < NVMF_MAX_AER_PROBE && refused == 0; k++) {
			struct res none = {0};

			rc = ftgt_nvme_ctrlr_cmd_admin_raw(ctrlr, &cmd, NULL, 0, res_cb, &aers[k]);
			if (rc != 0) {
				report(false, "aer_submit", "%s", strerror(-rc));
				break;
			}
			wait_all(ctrlr, NULL, &none, 1, 200);
			if (!aers[k].done) {
				held++;
				continue;
			}
			refused++;
			expect("aer_limit_exceeded", 0, &aers[k], NVME_SCT_COMMAND_SPECIFIC,
			       NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED);
		}
		report(refused == 1, "aer_limit_reached",
		       "%u AERs of ours held, none refused (AERL %u)", held, aerl);
		say("INFO %u AERs of ours held before the limit (AERL %u)", held, aerl);
		/* Ours end with the association (detach: Aborted - SQ Deletion). */
		ftgt_nvme_detach(ctrlr);
		ctrlr = NULL;
		for (k = 0; k < NVMF_MAX_AER_PROBE; k++) {
			if (k < held + refused && !aers[k].done) {
				report(false, "aer_completed_by_detach", "AER %u never completed",
				       k);
			}
		}
	}
	free(buf);
	return 0;
}

/* ---- io_cmds: every I/O command, good and bad ------------------------------------- */

static int
case_io_cmds(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	uint32_t nsid = c->a.nsid, bs, mdts_bytes;
	uint64_t nblocks;
	uint8_t *a = NULL, *b = NULL, *big = NULL;
	struct nvme_dsm_range ranges[2];
	struct nvme_cmd cmd;
	struct res r;
	int rc;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	bs = ftgt_nvme_ns_get_block_size(ctrlr, nsid);
	nblocks = ftgt_nvme_ns_get_num_blocks(ctrlr, nsid);
	mdts_bytes = ftgt_nvme_ctrlr_get_max_xfer_size(ctrlr);
	a = buf_alloc((size_t)bs * 8);
	b = buf_alloc((size_t)bs * 8);
	big = buf_alloc((size_t)mdts_bytes + 2 * 4096);

	/* Data integrity: in-capsule (small) and R2T (large) writes, FUA, the last blocks. */
	write_read_verify("write_read_1_block", ctrlr, qp, nsid, 0, 1, 1, 0);
	write_read_verify("write_read_8_blocks", ctrlr, qp, nsid, 100, 8, 2, 0);
	write_read_verify("write_fua_read", ctrlr, qp, nsid, 200, 8, 3, NVME_RW_FUA);
	write_read_verify("write_read_64k_r2t", ctrlr, qp, nsid, 1024, 65536 / bs, 4, 0);
	write_read_verify("write_read_mdts", ctrlr, qp, nsid, 2048, mdts_bytes / bs, 5, 0);
	write_read_verify("write_read_last_block", ctrlr, qp, nsid, nblocks - 1, 1, 6, 0);

	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_flush(qp, nsid, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect_ok("flush", rc, &r);

	/* Write Zeroes: the blocks read back as zeroes (with and without DEAC). */
	write_read_verify("write_zeroes_setup", ctrlr, qp, nsid, 300, 8, 7, 0);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_write_zeroes(qp, nsid, 300, 4, 0, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect_ok("write_zeroes", rc, &r);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_write_zeroes(qp, nsid, 304, 4, NVME_WZ_DEAC, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect_ok("write_zeroes_deac", rc, &r);
	memset(a, 0xee, (size_t)bs * 8);
	rw_raw(&cmd, NVME_OPC_READ, nsid, 300, 8);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs * 8, &r);
	if (expect_ok("write_zeroes_read", rc, &r)) {
		report(all_zero(a, (size_t)bs * 8), "write_zeroes_data",
		       "blocks 300..307 are not zero after Write Zeroes");
	}

	/* Dataset Management: deallocate two ranges; only hints; a range past the end. */
	memset(ranges, 0, sizeof(ranges));
	ranges[0].nlb = ftgt_cpu_to_le32(8);
	ranges[0].slba = ftgt_cpu_to_le64(100);
	ranges[1].nlb = ftgt_cpu_to_le32(8);
	ranges[1].slba = ftgt_cpu_to_le64(200);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_dsm(qp, nsid, NVME_DSM_ATTR_DEALLOCATE, ranges, 2, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect_ok("dsm_deallocate", rc, &r);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_dsm(qp, nsid, NVME_DSM_ATTR_IDR, ranges, 1, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect_ok("dsm_hint_only", rc, &r);
	ranges[1].slba = ftgt_cpu_to_le64(nblocks - 4);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_dsm(qp, nsid, NVME_DSM_ATTR_DEALLOCATE, ranges, 2, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect("dsm_range_out_of_range", rc, &r, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);

	/* Compare: equal data succeeds, different data is a Compare Failure (media). */
	fill(a, (size_t)bs * 4, 8);
	write_read_verify("compare_setup", ctrlr, qp, nsid, 400, 4, 8, 0);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_compare(qp, nsid, a, 400, 4, 0, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect_ok("compare_match", rc, &r);
	a[bs * 3 + 17] ^= 0x40;
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_compare(qp, nsid, a, 400, 4, 0, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect("compare_miscompare", rc, &r, NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE);

	/* LBA range: starting past the end, and running over it. */
	rw_raw(&cmd, NVME_OPC_READ, nsid, nblocks, 1);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs, &r);
	expect("read_lba_past_end", rc, &r, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
	rw_raw(&cmd, NVME_OPC_WRITE, nsid, nblocks - 1, 2);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs * 2, &r);
	expect("write_over_end", rc, &r, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
	rw_raw(&cmd, NVME_OPC_WRITE_ZEROES, nsid, nblocks - 2, 4);
	rc = io_cmd(ctrlr, qp, &cmd, NULL, 0, &r);
	expect("write_zeroes_over_end", rc, &r, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
	rw_raw(&cmd, NVME_OPC_READ, nsid, 1ull << 40, 1);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs, &r);
	expect("read_lba_huge", rc, &r, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);

	/* Namespace IDs: 0, inactive, above NN, broadcast (not allowed for Read). */
	rw_raw(&cmd, NVME_OPC_READ, 0, 0, 1);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs, &r);
	expect("read_nsid_0", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	rw_raw(&cmd, NVME_OPC_READ, c->a.inactive_nsid, 0, 1);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs, &r);
	expect("read_nsid_inactive", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	rw_raw(&cmd, NVME_OPC_WRITE, 0x10000, 0, 1);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs, &r);
	expect("write_nsid_above_nn", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	rw_raw(&cmd, NVME_OPC_READ, NVME_NSID_ALL, 0, 1);
	rc = io_cmd(ctrlr, qp, &cmd, a, bs, &r);
	expect("read_nsid_broadcast", rc, &r, NVME_SCT_GENERIC,
	       NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_flush(qp, 0, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
	}
	expect("flush_nsid_0", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);

	/*
	 * More than MDTS in one command: "the command is aborted with a status code of
	 * Invalid Field in Command" (NVMe Base 2.0, Figure 275, MDTS).
	 */
	rw_raw(&cmd, NVME_OPC_READ, nsid, 0, mdts_bytes / bs + 8);
	rc = io_cmd(ctrlr, qp, &cmd, big, mdts_bytes + 8 * bs, &r);
	expect("read_above_mdts", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	rw_raw(&cmd, NVME_OPC_WRITE, nsid, 0, mdts_bytes / bs + 8);
	rc = io_cmd(ctrlr, qp, &cmd, big, mdts_bytes + 8 * bs, &r);
	expect("write_above_mdts", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	write_read_verify("io_after_mdts_errors", ctrlr, qp, nsid, 8, 8, 9, 0);

	/* I/O opcodes ftgtd does not implement (ONCS says so): Invalid Command Opcode. */
	rw_raw(&cmd, NVME_OPC_WRITE_UNCORRECTABLE, nsid, 0, 1);
	rc = io_cmd(ctrlr, qp, &cmd, NULL, 0, &r);
	expect("io_opcode_write_uncorrectable", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	rw_raw(&cmd, NVME_OPC_VERIFY, nsid, 0, 1);
	rc = io_cmd(ctrlr, qp, &cmd, NULL, 0, &r);
	expect("io_opcode_verify", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	rw_raw(&cmd, 0x80, nsid, 0, 1); /* vendor specific */
	rc = io_cmd(ctrlr, qp, &cmd, NULL, 0, &r);
	expect("io_opcode_vendor", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);

	/* Scatter-gather I/O: uneven iovecs, in capsule and by R2T, read back differently cut. */
	{
		static const uint32_t cuts_w[] = {512, 1536, 2048, 61440};
		static const uint32_t cuts_r[] = {4096, 100, 3996, 57344, 512, 32, 3552};
		uint32_t total = 65536, off, k;
		uint8_t *wv = buf_alloc(total), *rv = buf_alloc(total);
		struct iovec iw[4], ir[7];

		fill(wv, total, 77);
		for (k = 0, off = 0; k < 4; off += cuts_w[k], k++) {
			iw[k].iov_base = wv + off;
			iw[k].iov_len = cuts_w[k];
		}
		for (k = 0, off = 0; k < 7; off += cuts_r[k], k++) {
			ir[k].iov_base = rv + off;
			ir[k].iov_len = cuts_r[k];
		}
		/* 8 blocks from the first three iovecs (in capsule), then all 64 KiB (R2T). */
		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_writev(qp, nsid, iw, 3, 600, 4096 / bs, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		expect_ok("writev_in_capsule", rc, &r);
		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_readv(qp, nsid, ir, 3, 600, 4096 / bs, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		if (expect_ok("readv_small", rc, &r)) {
			report(memcmp(wv, rv, 4096) == 0, "readv_small_data",
			       "4 KiB written from 3 iovecs read back differently");
		}
		memset(rv, 0, total);
		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_writev(qp, nsid, iw, 4, 700, total / bs, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		expect_ok("writev_r2t", rc, &r);
		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_readv(qp, nsid, ir, 7, 700, total / bs, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		if (expect_ok("readv_large", rc, &r)) {
			report(memcmp(wv, rv, total) == 0, "readv_large_data",
			       "64 KiB written from 4 iovecs read back into 7 differently");
		}
		free(wv);
		free(rv);
	}

	/* The null namespace: writes vanish, reads succeed. */
	if (c->a.null_nsid != 0) {
		uint32_t nbs = ftgt_nvme_ns_get_block_size(ctrlr, c->a.null_nsid);

		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_write(qp, c->a.null_nsid, b, 0, 1, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		report(nbs != 0, "null_ns_active", "NSID %u not active", c->a.null_nsid);
		expect_ok("null_ns_write", rc, &r);
		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_read(qp, c->a.null_nsid, b, 0, 1, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		expect_ok("null_ns_read", rc, &r);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(a);
	free(b);
	free(big);
	return 0;
}

/* ---- io_fused: Compare and Write (NVMe Base 2.0, 3.4.2) ---------------------------- */

/* Submit Compare(cmp) FUSE FIRST + Write(wr) FUSE SECOND in one flush; wait for both. */
static int
fused_caw(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *qp, uint32_t nsid, uint64_t lba,
          uint32_t nlb, uint32_t bs, void *cmp, void *wr, struct res rs[2])
{
	struct nvme_cmd cmd;
	int rc;

	memset(rs, 0, 2 * sizeof(*rs));
	rw_raw(&cmd, NVME_OPC_COMPARE, nsid, lba, nlb);
	cmd.flags = NVME_CMD_FUSE_FIRST;
	rc = ftgt_nvme_qpair_cmd_raw(qp, &cmd, cmp, nlb * bs, res_cb, &rs[0]);
	if (rc != 0) {
		return rc;
	}
	rw_raw(&cmd, NVME_OPC_WRITE, nsid, lba, nlb);
	cmd.flags = NVME_CMD_FUSE_SECOND;
	rc = ftgt_nvme_qpair_cmd_raw(qp, &cmd, wr, nlb * bs, res_cb, &rs[1]);
	if (rc != 0) {
		/* The FIRST alone completes with Missing Fused: wait for it. */
		wait_all(ctrlr, qp, &rs[0], 1, CMD_TIMEOUT_MS);
		return rc;
	}
	return wait_all(ctrlr, qp, rs, 2, CMD_TIMEOUT_MS);
}

static bool
read_equals(const char *check, struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *qp,
            uint32_t nsid, uint64_t lba, uint32_t nlb, uint32_t bs, const void *want)
{
	uint8_t *buf = buf_alloc((size_t)nlb * bs);
	struct nvme_cmd cmd;
	struct res r;
	bool ok = false;
	int rc;

	rw_raw(&cmd, NVME_OPC_READ, nsid, lba, nlb);
	rc = io_cmd(ctrlr, qp, &cmd, buf, nlb * bs, &r);
	if (rc != 0 || ftgt_nvme_cpl_is_error(&r.cpl)) {
		report(false, check, "read failed");
	} else {
		ok = memcmp(buf, want, (size_t)nlb * bs) == 0;
		report(ok, check, "blocks %llu..%llu hold other data than expected",
		       (unsigned long long)lba, (unsigned long long)lba + nlb - 1);
	}
	free(buf);
	return ok;
}

static int
case_io_fused(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	uint32_t nsid = c->a.nsid, bs, nlb = 4;
	uint64_t lba = 500;
	uint8_t *x = NULL, *y = NULL, *z = NULL, *scratch = NULL;
	struct nvme_cmd cmd;
	struct res rs[2], r;
	int rc;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	bs = ftgt_nvme_ns_get_block_size(ctrlr, nsid);
	x = buf_alloc((size_t)bs * nlb);
	y = buf_alloc((size_t)bs * nlb);
	z = buf_alloc((size_t)bs * nlb);
	scratch = buf_alloc((size_t)bs * nlb);
	fill(x, (size_t)bs * nlb, 21);
	fill(y, (size_t)bs * nlb, 22);
	fill(z, (size_t)bs * nlb, 23);
	write_read_verify("caw_setup", ctrlr, qp, nsid, lba, nlb, 21, 0);

	/* Match: both succeed and the new data is there. */
	rc = fused_caw(ctrlr, qp, nsid, lba, nlb, bs, x, y, rs);
	expect_ok("caw_match_compare", rc, &rs[0]);
	expect_ok("caw_match_write", rc, &rs[1]);
	read_equals("caw_match_data", ctrlr, qp, nsid, lba, nlb, bs, y);

	/* Miscompare: Compare Failure, the write aborted (Failed Fused), data unchanged. */
	rc = fused_caw(ctrlr, qp, nsid, lba, nlb, bs, x, z, rs);
	expect("caw_miscompare_compare", rc, &rs[0], NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE);
	expect("caw_miscompare_write", rc, &rs[1], NVME_SCT_GENERIC, NVME_SC_ABORTED_FAILED_FUSED);
	read_equals("caw_miscompare_data_unchanged", ctrlr, qp, nsid, lba, nlb, bs, y);

	/* Past the end of the namespace: LBA Out of Range, the write Failed Fused. */
	rc = fused_caw(ctrlr, qp, nsid, ftgt_nvme_ns_get_num_blocks(ctrlr, nsid) - 1, 2, bs, x, z,
	               rs);
	expect("caw_out_of_range_compare", rc, &rs[0], NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
	expect("caw_out_of_range_write", rc, &rs[1], NVME_SCT_GENERIC,
	       NVME_SC_ABORTED_FAILED_FUSED);

	/* A SECOND with no FIRST: Aborted due to Missing Fused Command. */
	rw_raw(&cmd, NVME_OPC_WRITE, nsid, lba, nlb);
	cmd.flags = NVME_CMD_FUSE_SECOND;
	rc = io_cmd(ctrlr, qp, &cmd, z, nlb * bs, &r);
	expect("fused_second_alone", rc, &r, NVME_SCT_GENERIC, NVME_SC_ABORTED_MISSING_FUSED);
	/* A FIRST followed by an unfused command: the FIRST is Missing Fused, the other runs. */
	memset(rs, 0, sizeof(rs));
	rw_raw(&cmd, NVME_OPC_COMPARE, nsid, lba, nlb);
	cmd.flags = NVME_CMD_FUSE_FIRST;
	rc = ftgt_nvme_qpair_cmd_raw(qp, &cmd, y, nlb * bs, res_cb, &rs[0]);
	if (rc == 0) {
		rw_raw(&cmd, NVME_OPC_READ, nsid, lba, nlb);
		rc = ftgt_nvme_qpair_cmd_raw(qp, &cmd, scratch, nlb * bs, res_cb, &rs[1]);
		rc = wait_all(ctrlr, qp, rs, rc == 0 ? 2 : 1, CMD_TIMEOUT_MS);
	}
	expect("fused_first_then_unfused_first", rc, &rs[0], NVME_SCT_GENERIC,
	       NVME_SC_ABORTED_MISSING_FUSED);
	expect_ok("fused_first_then_unfused_read", rc, &rs[1]);
	read_equals("fused_data_unchanged", ctrlr, qp, nsid, lba, nlb, bs, y);

	/* The same through the library's call: one callback, the Compare's status on failure. */
	{
		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_compare_and_write(qp, nsid, y, x, lba, nlb, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		expect_ok("caw_api_match", rc, &r);
		read_equals("caw_api_match_data", ctrlr, qp, nsid, lba, nlb, bs, x);
		memset(&r, 0, sizeof(r));
		rc = ftgt_nvme_ns_cmd_compare_and_write(qp, nsid, y, z, lba, nlb, 0, res_cb, &r);
		if (rc == 0) {
			rc = wait_all(ctrlr, qp, &r, 1, CMD_TIMEOUT_MS);
		}
		expect("caw_api_miscompare", rc, &r, NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE);
		read_equals("caw_api_miscompare_data_unchanged", ctrlr, qp, nsid, lba, nlb, bs, x);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(x);
	free(y);
	free(z);
	free(scratch);
	return 0;
}

/* ---- keep-alive --------------------------------------------------------------------- */

/* Only the admin queue is polled for idle_ms: the library must send Keep Alive itself. */
static int
case_keepalive_idle(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, c->a.kato_ms);
	struct ftgt_nvme_qpair *qp = NULL;
	uint8_t *buf = buf_alloc(4096);
	uint64_t end;
	struct nvme_cmd cmd;
	struct res r;
	int rc = 0;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	write_read_verify("io_before_idle", ctrlr, qp, c->a.nsid, 0, 8, 31, 0);
	end = now_ms() + c->a.idle_ms;
	while (now_ms() < end && rc >= 0) {
		rc = ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		sleep_ms(10);
	}
	report(rc >= 0 && !ftgt_nvme_ctrlr_is_failed(ctrlr), "admin_alive_after_idle",
	       "the controller failed while idle for %u ms with KATO %u ms", c->a.idle_ms,
	       c->a.kato_ms);
	write_read_verify("io_after_idle", ctrlr, qp, c->a.nsid, 0, 8, 32, 0);
	identify_cmd(&cmd, NVME_IDENTIFY_CNS_CTRLR, 0, 0);
	rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
	expect_ok("admin_after_idle", rc, &r);
	rc = feature(ctrlr, false, NVME_FEAT_KEEP_ALIVE_TIMER, 0, &r);
	if (expect_ok("get_kato", rc, &r)) {
		report(ftgt_le32_to_cpu(r.cpl.cdw0) == c->a.kato_ms, "get_kato_value",
		       "KATO %u ms, Connect asked for %u", ftgt_le32_to_cpu(r.cpl.cdw0),
		       c->a.kato_ms);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(buf);
	return 0;
}

/*
 * The host stops polling (no Keep Alive) for idle_ms > KATO: ftgtd must drop the
 * controller. The test script checks ftgtd's counts during the "WAIT" window; then the
 * next admin and I/O commands must fail (cleanly: an error completion or -ENXIO).
 */
static int
case_keepalive_expiry(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, c->a.kato_ms);
	struct ftgt_nvme_qpair *qp = NULL;
	uint8_t *buf = buf_alloc(4096);
	struct nvme_cmd cmd;
	struct res r;
	uint64_t end;
	int rc, rc2;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	write_read_verify("io_before_silence", ctrlr, qp, c->a.nsid, 0, 8, 41, 0);
	say("WAIT silent %u", c->a.idle_ms);
	sleep_ms(c->a.idle_ms);

	identify_cmd(&cmd, NVME_IDENTIFY_CNS_CTRLR, 0, 0);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ctrlr_cmd_admin_raw(ctrlr, &cmd, buf, 4096, res_cb, &r);
	if (rc == 0) {
		rc2 = wait_all(ctrlr, NULL, &r, 1, 5000);
		report(rc2 == 0 && ftgt_nvme_cpl_is_error(&r.cpl), "admin_fails_after_expiry",
		       rc2 != 0 ? "no completion within 5 s (%s)" : "Identify succeeded%s",
		       rc2 != 0 ? strerror(-rc2) : "");
	} else {
		report(rc == -ENXIO, "admin_fails_after_expiry", "submit returned %s",
		       strerror(-rc));
	}
	/* The library knows the controller is gone, without hanging. */
	end = now_ms() + 5000;
	while (!ftgt_nvme_ctrlr_is_failed(ctrlr) && now_ms() < end) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		sleep_ms(10);
	}
	report(ftgt_nvme_ctrlr_is_failed(ctrlr), "ctrlr_failed_after_expiry",
	       "ftgt_nvme_ctrlr_is_failed() still false");

	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ns_cmd_read(qp, c->a.nsid, buf, 0, 1, 0, res_cb, &r);
	if (rc == 0) {
		rc2 = wait_all(NULL, qp, &r, 1, 5000);
		report(rc2 == 0 && ftgt_nvme_cpl_is_error(&r.cpl), "io_fails_after_expiry",
		       rc2 != 0 ? "no completion within 5 s (%s)" : "Read succeeded%s",
		       rc2 != 0 ? strerror(-rc2) : "");
	} else {
		report(rc == -ENXIO, "io_fails_after_expiry", "submit returned %s", strerror(-rc));
	}
	end = now_ms() + 5000;
	while (!ftgt_nvme_qpair_is_failed(qp) && now_ms() < end) {
		ftgt_nvme_qpair_process_completions(qp, 0);
		sleep_ms(10);
	}
	report(ftgt_nvme_qpair_is_failed(qp), "qpair_failed_after_expiry",
	       "ftgt_nvme_qpair_is_failed() still false");
	rc = ftgt_nvme_ns_cmd_read(qp, c->a.nsid, buf, 0, 1, 0, res_cb, &r);
	report(rc == -ENXIO, "submit_on_failed_qpair", "submit returned %d, expected -ENXIO", rc);
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		end = now_ms();
		ftgt_nvme_detach(ctrlr);
		report(now_ms() - end < 3000, "detach_failed_ctrlr_bounded",
		       "detach of a dropped controller took %llu ms",
		       (unsigned long long)(now_ms() - end));
	}
	free(buf);
	return 0;
}

/* ---- abort of a command held in a delay bdev --------------------------------------- */

#define ABORT_QUEUE_SIZE 8

static int
case_abort_delayed(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	uint32_t dn = c->a.delay_nsid, bs;
	uint8_t *buf = buf_alloc(4096), *rbuf = buf_alloc(4096);
	struct res rd, ab;
	uint64_t t0, none_end;
	uint16_t cid;
	int rc;

	if (ctrlr == NULL ||
	    (qp = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, ABORT_QUEUE_SIZE)) == NULL) {
		report(ctrlr == NULL, "alloc_io_qpair", "no I/O qpair of %u entries",
		       ABORT_QUEUE_SIZE);
		goto out;
	}
	bs = ftgt_nvme_ns_get_block_size(ctrlr, dn);
	report(bs != 0, "delay_ns_active", "NSID %u is not active", dn);
	if (bs == 0) {
		goto out;
	}
	memset(&rd, 0, sizeof(rd));
	t0 = now_ms();
	rc = ftgt_nvme_ns_cmd_read(qp, dn, rbuf, 0, 1, 0, res_cb, &rd);
	if (rc != 0) {
		report(false, "abort_submit_read", "%s", strerror(-rc));
		goto out;
	}
	rc = ftgt_nvme_qpair_get_cid(qp, &rd);
	if (rc < 0) {
		report(false, "abort_read_cid", "no CID for the outstanding read: %s",
		       strerror(-rc));
		goto out;
	}
	cid = (uint16_t)rc;
	/* Send it and give ftgtd time to hand it to the delay bdev. */
	{
		struct res none = {0};

		wait_all(ctrlr, qp, &none, 1, 300);
	}
	report(!rd.done, "read_held_in_delay_bdev", "the read completed after %llu ms",
	       (unsigned long long)(rd.done_ms - t0));
	rc = abort_cmd(ctrlr, ftgt_nvme_qpair_get_id(qp), cid, &ab);
	if (expect_ok("abort_held_read", rc, &ab)) {
		report((ftgt_le32_to_cpu(ab.cpl.cdw0) & 1) == 0, "abort_held_read_dw0",
		       "dword 0 = 0x%x: bit 0 must be 0 (command aborted)",
		       ftgt_le32_to_cpu(ab.cpl.cdw0));
	}
	rc = wait_all(ctrlr, qp, &rd, 1, c->a.delay_ms + 5000);
	if (expect("held_read_status", rc, &rd, NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST)) {
		report(ftgt_le16_to_cpu(rd.cpl.cid) == cid, "held_read_cid",
		       "the read had CID %u, ftgt_nvme_qpair_get_cid() said %u",
		       ftgt_le16_to_cpu(rd.cpl.cid), cid);
		report(rd.done_ms - t0 < c->a.delay_ms / 2, "held_read_aborted_early",
		       "the read completed after %llu ms, the delay is %u ms",
		       (unsigned long long)(rd.done_ms - t0), c->a.delay_ms);
	}

	/* Abort of a command that already completed: dword 0 bit 0 = 1 (not aborted). */
	rc = abort_cmd(ctrlr, ftgt_nvme_qpair_get_id(qp), ftgt_le16_to_cpu(rd.cpl.cid), &ab);
	if (expect_ok("abort_completed_cmd", rc, &ab)) {
		report((ftgt_le32_to_cpu(ab.cpl.cdw0) & 1) == 1, "abort_completed_cmd_dw0",
		       "dword 0 = 0x%x: bit 0 must be 1 (not aborted)",
		       ftgt_le32_to_cpu(ab.cpl.cdw0));
	}
	/* The queue still works, and a read that is not aborted takes the delay. */
	memset(&rd, 0, sizeof(rd));
	t0 = now_ms();
	rc = ftgt_nvme_ns_cmd_read(qp, dn, rbuf, 0, 1, 0, res_cb, &rd);
	if (rc == 0) {
		rc = wait_all(ctrlr, qp, &rd, 1, c->a.delay_ms + 5000);
	}
	if (expect_ok("delayed_read_not_aborted", rc, &rd)) {
		none_end = rd.done_ms - t0;
		report(none_end + 100 >= c->a.delay_ms, "delayed_read_takes_the_delay",
		       "completed after %llu ms, delay %u ms", (unsigned long long)none_end,
		       c->a.delay_ms);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(buf);
	free(rbuf);
	return 0;
}

/* ---- restart: the target goes away and comes back on the same port ------------------ */

static int
case_restart(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, c->a.kato_ms);
	struct ftgt_nvme_qpair *qp = NULL;
	uint8_t *buf = buf_alloc(4096);
	struct res r;
	uint64_t t0, end;
	int rc, tries = 0;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	write_read_verify("io_before_restart", ctrlr, qp, c->a.nsid, 0, 8, 51, 0);
	say("WAIT restart %u", 30000);
	/* Keep polling (as an application would) until the library notices. */
	t0 = now_ms();
	end = t0 + 30000;
	while (now_ms() < end) {
		int a = ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		int q = ftgt_nvme_qpair_process_completions(qp, 0);

		if (a < 0 && q < 0) {
			break;
		}
		sleep_ms(5);
	}
	report(ftgt_nvme_ctrlr_is_failed(ctrlr) && ftgt_nvme_qpair_is_failed(qp),
	       "failure_reported", "after %llu ms: ctrlr failed %d, qpair failed %d",
	       (unsigned long long)(now_ms() - t0), ftgt_nvme_ctrlr_is_failed(ctrlr),
	       ftgt_nvme_qpair_is_failed(qp));
	say("INFO failure noticed after %llu ms", (unsigned long long)(now_ms() - t0));
	rc = ftgt_nvme_ns_cmd_read(qp, c->a.nsid, buf, 0, 1, 0, res_cb, &r);
	report(rc == -ENXIO, "io_submit_after_failure", "submit returned %d, expected -ENXIO", rc);
	rc = ftgt_nvme_ctrlr_cmd_identify(ctrlr, NVME_IDENTIFY_CNS_CTRLR, 0, 0, buf, 4096, res_cb,
	                                  &r);
	report(rc == -ENXIO, "admin_submit_after_failure", "submit returned %d, expected -ENXIO",
	       rc);
	ftgt_nvme_ctrlr_free_io_qpair(qp);
	qp = NULL;
	t0 = now_ms();
	ftgt_nvme_detach(ctrlr);
	ctrlr = NULL;
	report(now_ms() - t0 < 3000, "detach_failed_ctrlr_bounded", "detach took %llu ms",
	       (unsigned long long)(now_ms() - t0));

	/* Reconnect by hand: the target comes back within the window. */
	end = now_ms() + 30000;
	while (now_ms() < end) {
		struct ftgt_nvme_ctrlr_opts opts;
		char err[256];

		ftgt_nvme_ctrlr_opts_default(&opts);
		opts.kato_ms = c->a.kato_ms;
		opts.connect_timeout_ms = 2000;
		tries++;
		if (ftgt_nvme_connect(&c->trid, &opts, &ctrlr, err, sizeof(err)) == 0) {
			break;
		}
		ctrlr = NULL;
		sleep_ms(200);
	}
	report(ctrlr != NULL, "reconnect", "no connect within 30 s (%d tries)", tries);
	if (ctrlr == NULL) {
		goto out;
	}
	say("INFO reconnected after %d tries", tries);
	qp = alloc_qpair(ctrlr);
	if (qp != NULL) {
		write_read_verify("io_after_restart", ctrlr, qp, c->a.nsid, 0, 8, 52, 0);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(buf);
	return 0;
}

/*
 * The same with automatic reconnect (reconnect_delay_ms): after the restart the same
 * controller and queue pair carry I/O again, without the caller reconnecting.
 */
static int
case_restart_auto(struct ctx *c)
{
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr = NULL;
	struct ftgt_nvme_qpair *qp = NULL;
	bool saw_reset = false, saw_eagain = false;
	uint8_t *buf = buf_alloc(4096);
	uint64_t t0, end;
	char err[256];
	struct res r;
	int rc;

	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.kato_ms = c->a.kato_ms;
	opts.reconnect_delay_ms = 100;
	opts.reconnect_max_delay_ms = 1000;
	opts.ctrlr_loss_timeout_ms = 30000;
	rc = ftgt_nvme_connect(&c->trid, &opts, &ctrlr, err, sizeof(err));
	if (rc != 0) {
		report(false, "connect", "%s", err);
		ctrlr = NULL;
		goto out;
	}
	qp = alloc_qpair(ctrlr);
	if (qp == NULL) {
		goto out;
	}
	write_read_verify("io_before_restart", ctrlr, qp, c->a.nsid, 0, 8, 61, 0);
	say("WAIT restart %u", 30000);
	t0 = now_ms();
	end = t0 + 30000;
	/* Poll as an application does, and keep trying a read: it must work again. */
	while (now_ms() < end) {
		enum ftgt_nvme_ctrlr_state st;

		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		rc = ftgt_nvme_qpair_process_completions(qp, 0);
		st = ftgt_nvme_ctrlr_get_state(ctrlr);
		if (st == FTGT_NVME_CTRLR_FAILED || ftgt_nvme_qpair_is_failed(qp)) {
			break;
		}
		if (st != FTGT_NVME_CTRLR_ENABLED) {
			if (!saw_reset) {
				say("INFO %s after %llu ms", ftgt_nvme_ctrlr_state_str(st),
				    (unsigned long long)(now_ms() - t0));
			}
			saw_reset = true;
			memset(&r, 0, sizeof(r));
			if (!saw_eagain && ftgt_nvme_ns_cmd_read(qp, c->a.nsid, buf, 0, 1, 0,
			                                         res_cb, &r) == -EAGAIN) {
				saw_eagain = true;
			}
		} else if (saw_reset && ftgt_nvme_qpair_is_connected(qp)) {
			break;
		}
		sleep_ms(5);
	}
	report(saw_reset, "reset_seen", "the controller never left ENABLED in 30 s");
	report(saw_eagain, "submit_eagain_while_resetting",
	       "a submission while resetting did not return -EAGAIN");
	report(!ftgt_nvme_ctrlr_is_failed(ctrlr) && !ftgt_nvme_qpair_is_failed(qp) &&
	               ftgt_nvme_ctrlr_get_state(ctrlr) == FTGT_NVME_CTRLR_ENABLED &&
	               ftgt_nvme_qpair_is_connected(qp),
	       "reconnected_by_itself", "after %llu ms: state %s, qpair connected %d failed %d",
	       (unsigned long long)(now_ms() - t0),
	       ftgt_nvme_ctrlr_state_str(ftgt_nvme_ctrlr_get_state(ctrlr)),
	       ftgt_nvme_qpair_is_connected(qp), ftgt_nvme_qpair_is_failed(qp));
	say("INFO back after %llu ms", (unsigned long long)(now_ms() - t0));
	write_read_verify("io_after_restart_same_qpair", ctrlr, qp, c->a.nsid, 0, 8, 62, 0);
	{
		struct nvme_cmd cmd;

		identify_cmd(&cmd, NVME_IDENTIFY_CNS_CTRLR, 0, 0);
		rc = admin_cmd(ctrlr, &cmd, buf, 4096, &r);
		expect_ok("admin_after_restart_same_ctrlr", rc, &r);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(buf);
	return 0;
}

/* ---- AER: namespaces added and removed while connected ---------------------------- */

struct aer_seen {
	uint32_t count;
	uint32_t cdw0;
};

static void
aer_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct aer_seen *a = cb_arg;

	a->count++;
	a->cdw0 = ftgt_le32_to_cpu(cpl->cdw0);
}

/* Poll (admin and qp) until a->count > before or timeout; true if it moved. */
static bool
wait_aer(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *qp, struct aer_seen *a,
         uint32_t before, uint32_t timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (a->count == before && now_ms() < end) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		ftgt_nvme_qpair_process_completions(qp, 0);
		sleep_ms(5);
	}
	return a->count != before;
}

static void
check_aer_ns_notice(const char *check, const struct aer_seen *a)
{
	uint32_t want = NVME_AER_CDW0(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_ATTR_CHANGED,
	                              NVME_LOG_CHANGED_NS_LIST);

	report((a->cdw0 & 0xffff07u) == want, check,
	       "AER dword 0 = 0x%x, expected type notice, namespace attribute changed, log 04h",
	       a->cdw0);
}

static int
case_aer_ns_change(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	uint32_t nn = c->a.inactive_nsid, before;
	struct aer_seen a = {0};
	uint8_t *buf = buf_alloc(4096);
	struct nvme_cmd cmd;
	struct res r;
	int rc;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	ftgt_nvme_ctrlr_register_aer_callback(ctrlr, aer_cb, &a);
	report(ftgt_nvme_ns_get_block_size(ctrlr, nn) == 0, "ns_inactive_before",
	       "NSID %u is active before it was added", nn);

	before = a.count;
	say("WAIT add_ns %u", nn);
	if (!wait_aer(ctrlr, qp, &a, before, 15000)) {
		report(false, "aer_on_add", "no asynchronous event within 15 s of adding NSID %u",
		       nn);
		goto out;
	}
	report(true, "aer_on_add", " ");
	check_aer_ns_notice("aer_on_add_cdw0", &a);
	report(ftgt_nvme_ns_get_block_size(ctrlr, nn) != 0 &&
	               ftgt_nvme_ctrlr_get_num_ns(ctrlr) == c->a.num_active + 1,
	       "ns_list_refreshed_on_add", "NSID %u block size %u, %u active namespaces", nn,
	       ftgt_nvme_ns_get_block_size(ctrlr, nn), ftgt_nvme_ctrlr_get_num_ns(ctrlr));
	if (ftgt_nvme_ns_get_block_size(ctrlr, nn) != 0) {
		write_read_verify("io_on_added_ns", ctrlr, qp, nn, 0, 8, 71, 0);
	}
	/* The library read the Changed Namespace List to clear it: it is empty again. */
	memset(buf, 0xa5, 4096);
	memset(&r, 0, sizeof(r));
	rc = ftgt_nvme_ctrlr_cmd_get_log_page(ctrlr, NVME_LOG_CHANGED_NS_LIST, NVME_NSID_ALL, buf,
	                                      4096, 0, res_cb, &r);
	if (rc == 0) {
		rc = wait_all(ctrlr, NULL, &r, 1, CMD_TIMEOUT_MS);
	}
	if (expect_ok("changed_ns_list_after_aer", rc, &r)) {
		report(all_zero(buf, 4096), "changed_ns_list_cleared",
		       "the list still starts with %u", ftgt_le32_to_cpu(*(ftgt_le32 *)buf));
	}

	before = a.count;
	say("WAIT remove_ns %u", nn);
	if (!wait_aer(ctrlr, qp, &a, before, 15000)) {
		report(false, "aer_on_remove",
		       "no asynchronous event within 15 s of removing NSID %u", nn);
		goto out;
	}
	report(true, "aer_on_remove", " ");
	check_aer_ns_notice("aer_on_remove_cdw0", &a);
	report(ftgt_nvme_ns_get_block_size(ctrlr, nn) == 0 &&
	               ftgt_nvme_ctrlr_get_num_ns(ctrlr) == c->a.num_active,
	       "ns_list_refreshed_on_remove", "NSID %u still active (%u namespaces)", nn,
	       ftgt_nvme_ctrlr_get_num_ns(ctrlr));
	rw_raw(&cmd, NVME_OPC_READ, nn, 0, 1);
	rc = io_cmd(ctrlr, qp, &cmd, buf, 512, &r);
	expect("io_on_removed_ns", rc, &r, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(buf);
	return 0;
}

/* ---- reset: a new association on demand, commands in flight ------------------------ */

static int
case_reset(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct ftgt_nvme_qpair *qp = NULL;
	uint8_t *buf = buf_alloc(8 * 4096);
	struct res rs[8];
	uint64_t end;
	uint32_t i, bad = 0;
	int rc;

	if (ctrlr == NULL || (qp = alloc_qpair(ctrlr)) == NULL) {
		goto out;
	}
	write_read_verify("io_before_reset", ctrlr, qp, c->a.nsid, 0, 8, 81, 0);
	/* Queued, not yet sent (no poll): the reset must end them, each exactly once. */
	memset(rs, 0, sizeof(rs));
	for (i = 0; i < 8; i++) {
		rc = ftgt_nvme_ns_cmd_write(qp, c->a.nsid, buf + i * 4096, 16 + i * 8, 8, 0, res_cb,
		                            &rs[i]);
		if (rc != 0) {
			report(false, "submit_before_reset", "%s", strerror(-rc));
			rs[i].done = true;
		}
	}
	rc = ftgt_nvme_ctrlr_reset(ctrlr);
	report(rc == 0, "reset_started", "ftgt_nvme_ctrlr_reset() = %d", rc);
	report(ftgt_nvme_ctrlr_reset(ctrlr) == -EBUSY, "reset_twice_busy",
	       "a second reset while resetting is not -EBUSY");
	end = now_ms() + 15000;
	while (now_ms() < end) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		ftgt_nvme_qpair_process_completions(qp, 0);
		if (ftgt_nvme_ctrlr_get_state(ctrlr) == FTGT_NVME_CTRLR_ENABLED &&
		    ftgt_nvme_qpair_is_connected(qp)) {
			break;
		}
		sleep_ms(5);
	}
	report(ftgt_nvme_ctrlr_get_state(ctrlr) == FTGT_NVME_CTRLR_ENABLED &&
	               ftgt_nvme_qpair_is_connected(qp),
	       "reset_done", "state %s, qpair connected %d after 15 s",
	       ftgt_nvme_ctrlr_state_str(ftgt_nvme_ctrlr_get_state(ctrlr)),
	       ftgt_nvme_qpair_is_connected(qp));
	rc = wait_all(ctrlr, qp, rs, 8, 5000);
	for (i = 0; i < 8; i++) {
		uint16_t st = res_status(&rs[i]);

		if (!rs[i].done ||
		    (st != 0 &&
		     ((st & 0x7ffe) != NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION) ||
		      (st & NVME_STATUS_DNR)))) {
			bad++;
		}
	}
	report(rc == 0 && bad == 0, "inflight_ended_by_reset",
	       "%u of 8 writes queued before the reset did not complete with success or "
	       "ABORTED_SQ_DELETION without DNR",
	       bad);
	write_read_verify("io_after_reset", ctrlr, qp, c->a.nsid, 0, 8, 82, 0);
	say("WAIT counts 3000");
	end = now_ms() + 3000;
	while (now_ms() < end) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		ftgt_nvme_qpair_process_completions(qp, 0);
		sleep_ms(5);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	if (ctrlr != NULL) {
		ftgt_nvme_detach(ctrlr);
	}
	free(buf);
	return 0;
}

/* ---- several I/O queue pairs on their own threads ---------------------------------- */

struct worker {
	pthread_t tid;
	struct ftgt_nvme_ctrlr *ctrlr;
	const struct ctx *c;
	uint32_t idx;
	uint64_t ios;
	char err[160];
	bool done;
};

#define WORKER_QD      8
#define WORKER_NLB     8
#define WORKER_SPAN_LB 1024

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct ftgt_nvme_qpair *qp = ftgt_nvme_ctrlr_alloc_io_qpair(w->ctrlr, 0);
	uint32_t nsid = w->c->a.nsid, bs, it, i;
	uint64_t base = (uint64_t)w->idx * WORKER_SPAN_LB;
	uint64_t deadline = now_ms() + 60000;
	uint8_t *wb = NULL, *rb = NULL;
	struct res rs[WORKER_QD];
	size_t len;
	int rc;

	if (qp == NULL) {
		snprintf(w->err, sizeof(w->err), "thread %u: no I/O qpair", w->idx);
		goto out;
	}
	bs = ftgt_nvme_ns_get_block_size(w->ctrlr, nsid);
	len = (size_t)WORKER_NLB * bs;
	wb = buf_alloc(len * WORKER_QD);
	rb = buf_alloc(len * WORKER_QD);
	for (it = 0; it < w->c->a.iterations && now_ms() < deadline; it++) {
		/* QD writes of distinct patterns, all in flight together, then QD reads. */
		memset(rs, 0, sizeof(rs));
		for (i = 0; i < WORKER_QD; i++) {
			uint64_t lba = base + ((it * WORKER_QD + i) * WORKER_NLB) % WORKER_SPAN_LB;

			fill(wb + i * len, len, w->idx * 1000003u + it * WORKER_QD + i);
			rc = ftgt_nvme_ns_cmd_write(qp, nsid, wb + i * len, lba, WORKER_NLB, 0,
			                            res_cb, &rs[i]);
			if (rc != 0) {
				snprintf(w->err, sizeof(w->err), "thread %u: write submit %s",
				         w->idx, strerror(-rc));
				wait_all(NULL, qp, rs, i, 5000);
				goto out;
			}
		}
		rc = wait_all(NULL, qp, rs, WORKER_QD, CMD_TIMEOUT_MS);
		for (i = 0; i < WORKER_QD && rc == 0; i++) {
			if (ftgt_nvme_cpl_is_error(&rs[i].cpl)) {
				rc = -EIO;
			}
		}
		if (rc != 0) {
			snprintf(w->err, sizeof(w->err), "thread %u: writes: %s", w->idx,
			         strerror(-rc));
			goto out;
		}
		memset(rs, 0, sizeof(rs));
		memset(rb, 0, len * WORKER_QD);
		for (i = 0; i < WORKER_QD; i++) {
			uint64_t lba = base + ((it * WORKER_QD + i) * WORKER_NLB) % WORKER_SPAN_LB;

			rc = ftgt_nvme_ns_cmd_read(qp, nsid, rb + i * len, lba, WORKER_NLB, 0,
			                           res_cb, &rs[i]);
			if (rc != 0) {
				snprintf(w->err, sizeof(w->err), "thread %u: read submit %s",
				         w->idx, strerror(-rc));
				wait_all(NULL, qp, rs, i, 5000);
				goto out;
			}
		}
		rc = wait_all(NULL, qp, rs, WORKER_QD, CMD_TIMEOUT_MS);
		for (i = 0; i < WORKER_QD && rc == 0; i++) {
			if (ftgt_nvme_cpl_is_error(&rs[i].cpl)) {
				rc = -EIO;
			}
		}
		if (rc != 0) {
			snprintf(w->err, sizeof(w->err), "thread %u: reads: %s", w->idx,
			         strerror(-rc));
			goto out;
		}
		if (memcmp(wb, rb, len * WORKER_QD) != 0) {
			snprintf(w->err, sizeof(w->err), "thread %u: iteration %u: data mismatch",
			         w->idx, it);
			goto out;
		}
		w->ios += 2 * WORKER_QD;
	}
	if (it < w->c->a.iterations) {
		snprintf(w->err, sizeof(w->err), "thread %u: only %u of %u iterations in 60 s",
		         w->idx, it, w->c->a.iterations);
	}
out:
	if (qp != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(qp);
	}
	free(wb);
	free(rb);
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static int
case_multi_qpair(struct ctx *c)
{
	struct ftgt_nvme_ctrlr *ctrlr = connect_ctrlr(c, 10000);
	struct worker *ws;
	uint32_t i, n = c->a.threads, started = 0, done;
	uint64_t end, ios = 0;
	char check[64];

	if (ctrlr == NULL) {
		return 1;
	}
	if ((uint64_t)n * WORKER_SPAN_LB > ftgt_nvme_ns_get_num_blocks(ctrlr, c->a.nsid)) {
		report(false, "multi_qpair_setup", "namespace too small for %u threads", n);
		ftgt_nvme_detach(ctrlr);
		return 0;
	}
	ws = calloc(n, sizeof(*ws));
	for (i = 0; i < n; i++) {
		ws[i].ctrlr = ctrlr;
		ws[i].c = c;
		ws[i].idx = i;
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
			break;
		}
		started++;
	}
	report(started == n, "threads_started", "%u of %u", started, n);
	/* This thread owns the admin queue: keep polling it (keep-alive) meanwhile. */
	end = now_ms() + 90000;
	do {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		for (i = 0, done = 0; i < started; i++) {
			done += __atomic_load_n(&ws[i].done, __ATOMIC_ACQUIRE) ? 1 : 0;
		}
		sleep_ms(5);
	} while (done < started && now_ms() < end);
	if (done < started) {
		/* Workers are bounded by their own deadlines; never leave them behind. */
		report(false, "threads_finished", "%u of %u after 90 s", done, started);
	}
	for (i = 0; i < started; i++) {
		pthread_join(ws[i].tid, NULL);
		snprintf(check, sizeof(check), "thread_%u_verified_io", i);
		report(ws[i].err[0] == '\0', check, "%s", ws[i].err);
		ios += ws[i].ios;
	}
	say("INFO %u threads, %llu verified I/Os", started, (unsigned long long)ios);
	report(!ftgt_nvme_ctrlr_is_failed(ctrlr), "ctrlr_alive_after_threads", "controller failed");
	free(ws);
	ftgt_nvme_detach(ctrlr);
	return 0;
}

/* ---- main --------------------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(struct ctx *c);
} g_cases[] = {
        {"admin_identify", case_admin_identify},
        {"admin_log_pages", case_admin_log_pages},
        {"admin_features", case_admin_features},
        {"admin_misc", case_admin_misc},
        {"io_cmds", case_io_cmds},
        {"io_fused", case_io_fused},
        {"keepalive_idle", case_keepalive_idle},
        {"keepalive_expiry", case_keepalive_expiry},
        {"abort_delayed", case_abort_delayed},
        {"restart", case_restart},
        {"restart_auto", case_restart_auto},
        {"aer_ns_change", case_aer_ns_change},
        {"reset", case_reset},
        {"multi_qpair", case_multi_qpair},
};

static int
parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX) {
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_arg(struct args *a, const char *kv)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	        {"nsid", offsetof(struct args, nsid)},
	        {"null_nsid", offsetof(struct args, null_nsid)},
	        {"delay_nsid", offsetof(struct args, delay_nsid)},
	        {"inactive_nsid", offsetof(struct args, inactive_nsid)},
	        {"kato_ms", offsetof(struct args, kato_ms)},
	        {"idle_ms", offsetof(struct args, idle_ms)},
	        {"delay_ms", offsetof(struct args, delay_ms)},
	        {"threads", offsetof(struct args, threads)},
	        {"iterations", offsetof(struct args, iterations)},
	};
	const char *eq = strchr(kv, '=');
	size_t i, klen;

	if (eq == NULL) {
		return -EINVAL;
	}
	klen = (size_t)(eq - kv);
	if (klen == 6 && strncmp(kv, "active", 6) == 0) {
		/* active=1,2: the active NSIDs, ascending */
		char tmp[128], *save = NULL, *tok;

		snprintf(tmp, sizeof(tmp), "%s", eq + 1);
		a->num_active = 0;
		for (tok = strtok_r(tmp, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			if (a->num_active == MAX_ACTIVE_NS ||
			    parse_u32(tok, &a->active[a->num_active]) != 0) {
				return -EINVAL;
			}
			a->num_active++;
		}
		return 0;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strlen(keys[i].key) == klen && strncmp(kv, keys[i].key, klen) == 0) {
			return parse_u32(eq + 1, (uint32_t *)(void *)((uint8_t *)a + keys[i].off));
		}
	}
	return -EINVAL;
}

static void
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: nvme_cmds TRID CASE [key=value ...]\n"
	                "keys: nsid null_nsid delay_nsid inactive_nsid active=1,2 kato_ms idle_ms "
	                "delay_ms threads iterations\ncases:");
	for (i = 0; i < sizeof(g_cases) / sizeof(g_cases[0]); i++) {
		fprintf(stderr, " %s", g_cases[i].name);
	}
	fprintf(stderr, "\n");
}

int
main(int argc, char **argv)
{
	struct ctx c;
	char err[256];
	size_t i;
	int k;

	if (argc < 3) {
		usage();
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.a.nsid = 1;
	c.a.inactive_nsid = 5;
	c.a.kato_ms = 2000;
	c.a.idle_ms = 6000;
	c.a.delay_ms = 4000;
	c.a.threads = 4;
	c.a.iterations = 50;
	c.a.active[0] = 1;
	c.a.num_active = 1;
	if (ftgt_nvme_transport_id_parse(&c.trid, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "nvme_cmds: %s\n", err);
		return 2;
	}
	for (k = 3; k < argc; k++) {
		if (parse_arg(&c.a, argv[k]) != 0) {
			fprintf(stderr, "nvme_cmds: bad argument '%s'\n", argv[k]);
			usage();
			return 2;
		}
	}
	ftgt_log_open("nvme_cmds", true, false);
	ftgt_log_set_level(FTGT_LOG_ERROR);
	for (i = 0; i < sizeof(g_cases) / sizeof(g_cases[0]); i++) {
		if (strcmp(g_cases[i].name, argv[2]) == 0) {
			break;
		}
	}
	if (i == sizeof(g_cases) / sizeof(g_cases[0])) {
		fprintf(stderr, "nvme_cmds: unknown case '%s'\n", argv[2]);
		usage();
		return 2;
	}
	k = g_cases[i].fn(&c);
	if (k != 0 && g_failed == 0) {
		g_failed++;
	}
	if (g_failed == 0) {
		printf("PASS %s\n", argv[2]);
	} else {
		printf("FAIL %s (%u checks failed)\n", argv[2], g_failed);
	}
	fflush(stdout);
	return g_failed == 0 ? 0 : 1;
}
