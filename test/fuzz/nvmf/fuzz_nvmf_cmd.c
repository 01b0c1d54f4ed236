/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the nvmf command path (request.c, ctrlr.c, admin.c, io.c,
 * discovery.c) behind a fake transport and a RAM bdev (test/unit/lib/nvmf fakes).
 * Each input connects an admin and an I/O queue properly, then runs a sequence of
 * arbitrary 64-byte commands with arbitrary data lengths on either queue, then tears
 * both down. Checks: no memory error (ASan/UBSan), every request completes exactly once,
 * every queue pair is released.
 */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../../unit/lib/nvmf/nvmf_ut_common.h"
#include "ftgt/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SUBNQN  "nqn.2016-06.io.ftgt:fuzz"
#define FZ_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"

static bool g_fz_init;

static void
fz_init(void)
{
	struct ftgt_nvmf_transport_opts o = {.max_queue_depth = 8,
	                                     .max_aq_depth = 8,
	                                     .max_qpairs_per_ctrlr = 4,
	                                     .in_capsule_data_size = 4096,
	                                     .max_io_size = 16384};
	struct ftgt_nvmf_subsystem *s;
	int rc;

	ftgt_log_set_level(FTGT_LOG_DISABLED);
	ftgt_nvmf_transport_register(&g_ut_ops);
	ftgt_nvmf_tgt_init();
	ftgt_nvmf_transport_create("TCP", &o, NULL);
	s = ftgt_nvmf_subsystem_create(FZ_SUBNQN, FTGT_NVMF_SUBTYPE_NVME, 4, &rc);
	ftgt_nvmf_subsystem_set_allow_any_host(s, true);
	ftgt_nvmf_subsystem_add_listener(s, &g_ut_addr);
	ftgt_nvmf_subsystem_add_ns(s, "Malloc0", NULL);
	g_fz_init = true;
}

static struct ut_req *
fz_connect(struct ut_qpair *q, uint16_t qid, uint16_t cntlid)
{
	struct nvmf_connect_cmd c = {0};
	struct nvmf_connect_data d = {0};

	c.opcode = NVME_OPC_FABRIC;
	c.fctype = NVMF_FCTYPE_CONNECT;
	c.qid = ftgt_cpu_to_le16(qid);
	c.sqsize = ftgt_cpu_to_le16(7);
	memset(d.hostid, 1, sizeof(d.hostid));
	d.cntlid = ftgt_cpu_to_le16(cntlid);
	strcpy(d.hostnqn, FZ_HOSTNQN);
	strcpy(d.subnqn, FZ_SUBNQN);
	return ut_submit(q, 0, (struct nvme_cmd *)&c, &d, sizeof(d));
}

static void
fz_fini_cb(void *arg)
{
	((struct ut_qpair *)arg)->fini_done = true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ut_qpair *q[2];
	struct nvmf_property_set_cmd cc = {0};
	struct ut_req *r;
	uint16_t cntlid;
	size_t off = 0;
	int i, s;

	if (!g_fz_init) {
		fz_init();
	}
	q[0] = ut_qpair_new();
	q[1] = ut_qpair_new();
	r = fz_connect(q[0], 0, 0xffff);
	cntlid = (uint16_t)ftgt_le32_to_cpu(r->rsp.cdw0);
	cc.opcode = NVME_OPC_FABRIC;
	cc.fctype = NVMF_FCTYPE_PROPERTY_SET;
	cc.ofst = ftgt_cpu_to_le32(NVME_REG_CC);
	cc.value = ftgt_cpu_to_le64(1 | (6u << 16) | (4u << 20));
	ut_submit(q[0], 0, (struct nvme_cmd *)&cc, NULL, 0);
	fz_connect(q[1], 1, cntlid);

	/* Records: selector (1), SQE (64), length (2, little-endian), then data. */
	while (size - off >= 67) {
		uint8_t sel = data[off];
		struct nvme_cmd cmd;
		uint32_t len;
		struct ut_qpair *qp = q[sel & 1];

		memcpy(&cmd, data + off + 1, sizeof(cmd));
		len = ((uint32_t)data[off + 65] | ((uint32_t)data[off + 66] << 8)) % (UT_BUF + 1);
		off += 67;
		if (sel & 2) {
			/* Keep it a fabrics capsule with a sane PSDT most of the time. */
			cmd.flags = (uint8_t)((cmd.flags & 0x3) | 0x40);
		}
		for (s = 0; s < UT_QD; s++) {
			if (!qp->reqs[s].req.in_core) {
				break;
			}
		}
		if (s == UT_QD) {
			continue;
		}
		{
			size_t avail = FTGT_MIN((size_t)len, size - off);
			uint8_t buf[UT_BUF];

			memset(buf, 0, sizeof(buf));
			memcpy(buf, data + off, avail);
			off += avail;
			ut_submit(qp, s, &cmd, buf, len);
		}
		if (sel & 4) {
			g_ut_ticks += 100000; /* let keep-alive timers expire sometimes */
			ut_run_pollers();
			ut_poll();
		}
	}
	for (i = 1; i >= 0; i--) {
		ftgt_nvmf_qpair_fini(&q[i]->qpair, fz_fini_cb, q[i]);
		ut_poll();
	}
	ut_release_held_ios();
	ut_poll();
	for (i = 0; i < 2; i++) {
		for (s = 0; s < UT_QD; s++) {
			if (q[i]->reqs[s].req.in_core) {
				abort(); /* a request never completed */
			}
		}
		if (!q[i]->fini_done) {
			abort();
		}
		free(q[i]);
	}
	if (g_ut_ch.refs != 0) {
		abort(); /* a bdev channel leaked */
	}
	return 0;
}
