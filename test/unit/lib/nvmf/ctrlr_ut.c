/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests the nvmf core (lib/nvmf/ctrlr.c with subsystem.c, admin.c, io.c, discovery.c,
 * request.c) through a fake transport: Connect validation, the CC/CSTS state machine,
 * Identify, log pages, features, AER, keep-alive expiry, I/O on a RAM bdev, fused
 * compare-and-write, disconnect with I/O in flight, discovery.
 */
#include "nvmf_ut_common.h"
#include "../../../../lib/nvmf/nvmf_internal.h" /* struct nvmf_io_stats */

#define SUBNQN   "nqn.2016-06.io.ftgt:cnode1"
#define HOSTNQN  "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define HOSTNQN2 "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555"

static struct ftgt_nvmf_subsystem *g_subsys;

static struct ut_req *
ut_connect(struct ut_qpair *q, uint16_t qid, const char *subnqn, const char *hostnqn,
           uint16_t cntlid, uint16_t sqsize, uint32_t kato)
{
	struct nvmf_connect_cmd c = {0};
	struct nvmf_connect_data d = {0};

	c.opcode = NVME_OPC_FABRIC;
	c.fctype = NVMF_FCTYPE_CONNECT;
	c.qid = ftgt_cpu_to_le16(qid);
	c.sqsize = ftgt_cpu_to_le16(sqsize);
	c.kato = ftgt_cpu_to_le32(kato);
	memset(d.hostid, 0x5a, sizeof(d.hostid));
	d.cntlid = ftgt_cpu_to_le16(cntlid);
	strcpy(d.hostnqn, hostnqn);
	strcpy(d.subnqn, subnqn);
	return ut_submit(q, 0, (struct nvme_cmd *)&c, &d, sizeof(d));
}

static struct ut_req *
ut_prop(struct ut_qpair *q, bool set, uint32_t ofst, uint8_t size, uint64_t value)
{
	struct nvmf_property_set_cmd c = {0};

	c.opcode = NVME_OPC_FABRIC;
	c.fctype = set ? NVMF_FCTYPE_PROPERTY_SET : NVMF_FCTYPE_PROPERTY_GET;
	c.attrib = size;
	c.ofst = ftgt_cpu_to_le32(ofst);
	c.value = ftgt_cpu_to_le64(value);
	return ut_submit(q, 1, (struct nvme_cmd *)&c, NULL, 0);
}

static uint64_t
ut_prop_value(const struct ut_req *r)
{
	return ftgt_le32_to_cpu(r->rsp.cdw0) | ((uint64_t)ftgt_le32_to_cpu(r->rsp.cdw1) << 32);
}

#define CC_ENABLE (NVME_CC_EN | (6u << NVME_CC_IOSQES_SHIFT) | (4u << NVME_CC_IOCQES_SHIFT))

/* Admin queue connected and enabled; returns cntlid. */
static uint16_t
ut_admin_up(struct ut_qpair *q, const char *subnqn, uint32_t kato)
{
	struct ut_req *r = ut_connect(q, 0, subnqn, HOSTNQN, 0xffff, 31, kato);

	CU_ASSERT(r->done);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_prop(q, true, NVME_REG_CC, 0, CC_ENABLE);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_prop(q, false, NVME_REG_CSTS, 0, 0);
	CU_ASSERT_EQUAL(ut_prop_value(r) & NVME_CSTS_RDY, NVME_CSTS_RDY);
	return (uint16_t)ftgt_le32_to_cpu(q->reqs[0].rsp.cdw0);
}

static struct ut_req *
ut_admin(struct ut_qpair *q, int slot, uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11,
         uint32_t len)
{
	struct nvme_cmd c = {0};

	c.opc = opc;
	c.nsid = ftgt_cpu_to_le32(nsid);
	c.cdw10 = ftgt_cpu_to_le32(cdw10);
	c.cdw11 = ftgt_cpu_to_le32(cdw11);
	return ut_submit(q, slot, &c, NULL, len);
}

static struct ut_req *
ut_rw(struct ut_qpair *q, int slot, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
      const void *data, uint32_t len, uint32_t extra_cdw12, uint8_t fuse)
{
	struct nvme_cmd c = {0};

	c.opc = opc;
	c.flags = fuse;
	c.nsid = ftgt_cpu_to_le32(nsid);
	c.cdw10 = ftgt_cpu_to_le32((uint32_t)slba);
	c.cdw11 = ftgt_cpu_to_le32((uint32_t)(slba >> 32));
	c.cdw12 = ftgt_cpu_to_le32(((nlb - 1) & 0xffff) | extra_cdw12);
	return ut_submit(q, slot, &c, data, len);
}

static int
suite_init(void)
{
	struct ftgt_nvmf_transport_opts o = {.max_queue_depth = 128,
	                                     .max_aq_depth = 32,
	                                     .max_qpairs_per_ctrlr = 4,
	                                     .in_capsule_data_size = 4096,
	                                     .max_io_size = 131072};
	int rc;

	ftgt_nvmf_transport_register(&g_ut_ops);
	if (ftgt_nvmf_tgt_init() != 0) {
		return 1;
	}
	if (ftgt_nvmf_transport_create("tcp", &o, NULL) != 0) {
		return 1;
	}
	g_subsys = ftgt_nvmf_subsystem_create(SUBNQN, FTGT_NVMF_SUBTYPE_NVME, 8, &rc);
	if (g_subsys == NULL) {
		return 1;
	}
	ftgt_nvmf_subsystem_set_sn(g_subsys, "SN0001");
	if (ftgt_nvmf_subsystem_add_host(g_subsys, HOSTNQN) != 0 ||
	    ftgt_nvmf_subsystem_add_listener(g_subsys, &g_ut_addr) != 0 ||
	    ftgt_nvmf_subsystem_add_ns(g_subsys, "Malloc0", NULL) != 1) {
		return 1;
	}
	return 0;
}

static void
tgt_fini_done(void *arg)
{
	*(bool *)arg = true;
}

static int
suite_fini(void)
{
	bool done = false;

	ftgt_nvmf_tgt_fini(tgt_fini_done, &done);
	ut_poll();
	ut_free_pollers();
	free(g_bdev.data);
	free(g_bdev2.data);
	return done ? 0 : 1;
}

static void
test_subsystem_api(void)
{
	int rc;
	struct ftgt_nvmf_listen_addr bad = g_ut_addr;

	CU_ASSERT_PTR_NULL(
	        ftgt_nvmf_subsystem_create("not-an-nqn", FTGT_NVMF_SUBTYPE_NVME, 0, &rc));
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_NULL(ftgt_nvmf_subsystem_create(SUBNQN, FTGT_NVMF_SUBTYPE_NVME, 0, &rc));
	CU_ASSERT_EQUAL(rc, -EEXIST);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_host(g_subsys, HOSTNQN), -EEXIST);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_host(g_subsys, "bogus"), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_ns(g_subsys, "nope", NULL), -ENODEV);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_ns(g_subsys, "Malloc0", NULL), -EEXIST);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_set_sn(g_subsys, "012345678901234567890"), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_listener(g_subsys, &g_ut_addr), -EEXIST);
	strcpy(bad.traddr, "localhost");
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_listener(g_subsys, &bad), -EINVAL);
	strcpy(bad.traddr, "192.0.2.1"); /* TEST-NET-1: not ours */
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_listener(g_subsys, &bad), -EADDRNOTAVAIL);
	strcpy(bad.trtype, "RDMA");
	strcpy(bad.traddr, "127.0.0.1");
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_listener(g_subsys, &bad), -ENOENT);
	CU_ASSERT_EQUAL(g_listens, 1);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_destroy(
	                        ftgt_nvmf_subsystem_get_by_nqn(FTGT_NQN_DISCOVERY), NULL, NULL),
	                -EPERM);
}

static void
test_connect_validation(void)
{
	struct ut_qpair *q = ut_qpair_new();
	struct ut_req *r;
	struct nvme_cmd c = {0};

	/* A command before Connect. */
	c.opc = NVME_OPC_IDENTIFY;
	r = ut_submit(q, 1, &c, NULL, 4096);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_COMMAND_SEQUENCE_ERROR));

	/* RECFMT != 0. */
	{
		struct nvmf_connect_cmd cc = {0};
		struct nvmf_connect_data d = {0};

		cc.opcode = NVME_OPC_FABRIC;
		cc.fctype = NVMF_FCTYPE_CONNECT;
		cc.recfmt = ftgt_cpu_to_le16(1);
		cc.sqsize = ftgt_cpu_to_le16(31);
		r = ut_submit(q, 0, (struct nvme_cmd *)&cc, &d, sizeof(d));
		CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVMF_SC_INCOMPATIBLE_FORMAT));
		/* Data shorter than 1024 bytes. */
		cc.recfmt = 0;
		r = ut_submit(q, 0, (struct nvme_cmd *)&cc, &d, 512);
		CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_DATA_SGL_LENGTH_INVALID));
		/* Zero host identifier. */
		strcpy(d.hostnqn, HOSTNQN);
		strcpy(d.subnqn, SUBNQN);
		d.cntlid = 0xffff;
		r = ut_submit(q, 0, (struct nvme_cmd *)&cc, &d, sizeof(d));
		CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVMF_SC_INVALID_PARAM));
		CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(1, 0));
		/* PRP instead of SGL. */
		r = &q->reqs[0];
		r->cmd = *(struct nvme_cmd *)&cc;
		r->cmd.flags = 0;
		r->rsp.status = 0xffff;
		ftgt_nvmf_request_exec(&r->req);
		ut_poll();
		CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	}

	/* SQSIZE 0 and too large. */
	r = ut_connect(q, 0, SUBNQN, HOSTNQN, 0xffff, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVMF_SC_INVALID_PARAM));
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(0, 44));
	r = ut_connect(q, 0, SUBNQN, HOSTNQN, 0xffff, 32, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(0, 44));
	/* Admin Connect with a CNTLID other than FFFFh. */
	r = ut_connect(q, 0, SUBNQN, HOSTNQN, 1, 31, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(1, 16));
	/* Unknown subsystem, malformed subsystem NQN, malformed host NQN. */
	r = ut_connect(q, 0, "nqn.2016-06.io.ftgt:nothere", HOSTNQN, 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(1, 256));
	r = ut_connect(q, 0, "garbage", HOSTNQN, 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(1, 256));
	r = ut_connect(q, 0, SUBNQN, "garbage", 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(1, 512));
	/* Host not on the allow list. */
	r = ut_connect(q, 0, SUBNQN, HOSTNQN2, 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVMF_SC_INVALID_HOST));
	/* A listener the subsystem does not have. */
	strcpy(q->qpair.listen_addr.trsvcid, "4421");
	r = ut_connect(q, 0, SUBNQN, HOSTNQN, 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(1, 256));
	strcpy(q->qpair.listen_addr.trsvcid, "4420");
	/* I/O Connect to an unknown controller. */
	r = ut_connect(q, 1, SUBNQN, HOSTNQN, 77, 127, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(1, 16));
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_get_num_ctrlrs(g_subsys), 0);

	/* Finally a good one; a second Connect on the same queue is a sequence error. */
	r = ut_connect(q, 0, SUBNQN, HOSTNQN, 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_NOT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 0);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(r->rsp.cid), 100);
	r = ut_connect(q, 0, SUBNQN, HOSTNQN, 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_COMMAND_SEQUENCE_ERROR));
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_get_num_ctrlrs(g_subsys), 1);
	ut_qpair_free(q);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_get_num_ctrlrs(g_subsys), 0);
}

static void
test_properties_and_cc(void)
{
	struct ut_qpair *a = ut_qpair_new(), *io = ut_qpair_new();
	struct ut_req *r;
	uint16_t cntlid;
	uint64_t cap;

	r = ut_connect(a, 0, SUBNQN, HOSTNQN, 0xffff, 31, 0);
	cntlid = (uint16_t)ftgt_le32_to_cpu(r->rsp.cdw0);
	r = ut_prop(a, false, NVME_REG_CAP, 1, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	cap = ut_prop_value(r);
	CU_ASSERT_EQUAL(cap & NVME_CAP_MQES_MASK, 127);
	CU_ASSERT((cap & NVME_CAP_CQR) != 0);
	CU_ASSERT((cap & NVME_CAP_CSS_NVM) != 0);
	/* CAP is 8 bytes: a 4-byte read is invalid. */
	r = ut_prop(a, false, NVME_REG_CAP, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	r = ut_prop(a, false, NVME_REG_VS, 0, 0);
	CU_ASSERT_EQUAL(ut_prop_value(r), NVME_VS(1, 3, 0));
	r = ut_prop(a, false, 0x40, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	r = ut_prop(a, true, NVME_REG_CSTS, 0, 1);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	/* Admin commands before CC.EN: sequence error. */
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_CTRLR, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_COMMAND_SEQUENCE_ERROR));
	/* I/O Connect before CC.EN: sequence error. */
	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_COMMAND_SEQUENCE_ERROR));
	/* MPS other than 4 KiB refused. */
	r = ut_prop(a, true, NVME_REG_CC, 0, CC_ENABLE | (1u << NVME_CC_MPS_SHIFT));
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	r = ut_prop(a, true, NVME_REG_CC, 0, CC_ENABLE);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_prop(a, false, NVME_REG_CC, 0, 0);
	CU_ASSERT_EQUAL(ut_prop_value(r), CC_ENABLE);
	r = ut_prop(a, false, NVME_REG_CSTS, 0, 0);
	CU_ASSERT_EQUAL(ut_prop_value(r), NVME_CSTS_RDY);

	/* I/O queue: host NQN must match, QID within range, once. */
	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 128, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(0, 44));
	r = ut_connect(io, 4, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(0, 42));
	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), cntlid);
	{
		struct ut_qpair *dup = ut_qpair_new();

		r = ut_connect(dup, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
		CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(0, 42));
		ut_qpair_free(dup);
	}
	/* Property commands are admin-queue only. */
	r = ut_prop(io, false, NVME_REG_VS, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_OPCODE));

	/* Shutdown: occurring while the I/O queue exists, complete once it is gone. */
	r = ut_prop(a, true, NVME_REG_CC, 0, CC_ENABLE | (NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT));
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT(io->disconnect_asked);
	r = ut_prop(a, false, NVME_REG_CSTS, 0, 0);
	CU_ASSERT_EQUAL((ut_prop_value(r) >> NVME_CSTS_SHST_SHIFT) & 3, NVME_CSTS_SHST_OCCURRING);
	ut_qpair_free(io);
	r = ut_prop(a, false, NVME_REG_CSTS, 0, 0);
	CU_ASSERT_EQUAL((ut_prop_value(r) >> NVME_CSTS_SHST_SHIFT) & 3, NVME_CSTS_SHST_COMPLETE);

	/* CC.EN = 0 resets: RDY clears. */
	r = ut_prop(a, true, NVME_REG_CC, 0, 0);
	r = ut_prop(a, false, NVME_REG_CSTS, 0, 0);
	CU_ASSERT_EQUAL(ut_prop_value(r) & NVME_CSTS_RDY, 0);
	ut_qpair_free(a);
}

static void
test_identify(void)
{
	struct ut_qpair *a = ut_qpair_new();
	struct ut_req *r;
	uint16_t cntlid = ut_admin_up(a, SUBNQN, 0);
	struct nvme_ctrlr_data *cd;
	struct nvme_ns_data *nsd;
	ftgt_le32 *list;

	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_CTRLR, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	cd = (struct nvme_ctrlr_data *)r->buf;
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(cd->cntlid), cntlid);
	CU_ASSERT_STRING_EQUAL(cd->subnqn, SUBNQN);
	CU_ASSERT_EQUAL(memcmp(cd->sn, "SN0001              ", 20), 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(cd->nn), 8);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(cd->ioccsz), (64 + 4096) / 16);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(cd->iorcsz), 1);
	CU_ASSERT_EQUAL(cd->mdts, 5);
	CU_ASSERT_EQUAL(cd->sqes, 0x66);
	CU_ASSERT_EQUAL(cd->cqes, 0x44);
	CU_ASSERT_EQUAL(cd->cntrltype, NVME_CTRLR_TYPE_IO);
	CU_ASSERT(ftgt_le32_to_cpu(cd->sgls) & 1);
	CU_ASSERT(ftgt_le16_to_cpu(cd->oncs) & NVME_CTRLR_ONCS_DSM);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(cd->fuses), 1);
	CU_ASSERT_EQUAL(cd->msdbd, 1);
	/* Shorter buffer than 4 KiB. */
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_CTRLR, 0, 1024);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_DATA_SGL_LENGTH_INVALID));

	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 1, NVME_IDENTIFY_CNS_NS, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	nsd = (struct nvme_ns_data *)r->buf;
	CU_ASSERT_EQUAL(ftgt_le64_to_cpu(nsd->nsze), 1024);
	CU_ASSERT_EQUAL(nsd->lbaf[0].lbads, 9);
	/* Inactive NSID: zeroes; out of range: invalid namespace. */
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 3, NVME_IDENTIFY_CNS_NS, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(r->buf[0] | r->buf[4095], 0);
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 9, NVME_IDENTIFY_CNS_NS, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_NS, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT));

	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_ACTIVE_NS_LIST, 0, 4096);
	list = (ftgt_le32 *)r->buf;
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(list[0]), 1);
	CU_ASSERT_EQUAL(list[1], 0);
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 1, NVME_IDENTIFY_CNS_ACTIVE_NS_LIST, 0, 4096);
	CU_ASSERT_EQUAL(list[0], 0);

	/* Descriptor list: the bdev's UUID (zero here: not listed) and CSI. */
	g_bdev.uuid.u[0] = 0; /* ns opts copied the uuid at add time */
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 1, NVME_IDENTIFY_CNS_NS_ID_DESC_LIST, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(r->buf[0], NVME_NIDT_CSI);
	CU_ASSERT_EQUAL(r->buf[1], 1);
	CU_ASSERT_EQUAL(r->buf[4], NVME_CSI_NVM);

	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_CS_CTRLR, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_CS_CTRLR, 2u << 24, 4096);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 1, NVME_IDENTIFY_CNS_CS_INDEP_NS, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(r->buf[14], 1);
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, 0x42, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	/* Unsupported admin opcode. */
	r = ut_admin(a, 2, NVME_OPC_FORMAT_NVM, 1, 0, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_OPCODE));
	ut_qpair_free(a);
}

static void
test_log_features_aer(void)
{
	struct ut_qpair *a = ut_qpair_new();
	struct ut_req *r, *aer;
	ftgt_le32 *list;

	ut_admin_up(a, SUBNQN, 0);
	/* Health log, 512 bytes. */
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, NVME_NSID_ALL,
	             NVME_LOG_HEALTH | ((512 / 4 - 1) << 16), 0, 512);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(r->buf[3], 100);
	/* Longer than the buffer. */
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0, NVME_LOG_HEALTH | ((1024 / 4 - 1) << 16), 0,
	             512);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_DATA_SGL_LENGTH_INVALID));
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0, 0x55 | (127u << 16), 0, 512);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVME_SC_INVALID_LOG_PAGE));

	/* Number of queues: granted min(asked, 3). */
	r = ut_admin(a, 2, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_NUMBER_OF_QUEUES, 0x00070007, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 0x00020002);
	r = ut_admin(a, 2, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_NUMBER_OF_QUEUES, 0xffff, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	r = ut_admin(a, 2, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_ARBITRATION | NVME_FEAT_SET_SV, 0,
	             0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVME_SC_FEATURE_ID_NOT_SAVEABLE));
	r = ut_admin(a, 2, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_KEEP_ALIVE_TIMER, 5050, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_admin(a, 2, NVME_OPC_GET_FEATURES, 0, NVME_FEAT_KEEP_ALIVE_TIMER, 0, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 5100);
	r = ut_admin(a, 2, NVME_OPC_GET_FEATURES, 0, NVME_FEAT_HOST_IDENTIFIER, 1, 16);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(r->buf[0], 0x5a);
	r = ut_admin(a, 2, NVME_OPC_GET_FEATURES, 0, 0x7e, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	r = ut_admin(a, 2, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_ASYNC_EVENT_CONFIGURATION,
	             NVME_CTRLR_OAES_NS_ATTR_NOTICES, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);

	/* AER: waits; adding a namespace completes it with a notice for log 04h. */
	aer = ut_admin(a, 3, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	CU_ASSERT_FALSE(aer->done);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_ns(g_subsys, "Malloc1", NULL), 2);
	ut_poll();
	CU_ASSERT(aer->done);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(aer->rsp.cdw0),
	                NVME_AER_CDW0(NVME_AER_TYPE_NOTICE, 0, NVME_LOG_CHANGED_NS_LIST));
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0,
	             NVME_LOG_CHANGED_NS_LIST | ((4096 / 4 - 1) << 16), 0, 4096);
	list = (ftgt_le32 *)r->buf;
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(list[0]), 2);
	CU_ASSERT_EQUAL(list[1], 0);
	/* Read again: cleared. */
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0,
	             NVME_LOG_CHANGED_NS_LIST | ((4096 / 4 - 1) << 16), 0, 4096);
	CU_ASSERT_EQUAL(list[0], 0);

	/* AER limit: 4 outstanding. */
	ut_admin(a, 3, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	ut_admin(a, 4, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	ut_admin(a, 5, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	aer = ut_admin(a, 6, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	CU_ASSERT_FALSE(aer->done);
	r = ut_admin(a, 7, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED));
	/* Abort one AER by CID (slot 6 -> cid 106). */
	r = ut_admin(a, 2, NVME_OPC_ABORT, 0, 0 | (106u << 16), 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 0);
	CU_ASSERT(aer->done);
	CU_ASSERT_EQUAL(ut_status(aer), NVME_STATUS(0, NVME_SC_ABORTED_BY_REQUEST));
	r = ut_admin(a, 2, NVME_OPC_ABORT, 0, 1 | (5u << 16), 0, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 1);
	/* Outstanding AERs are completed when the queue goes away. */
	ut_qpair_free(a);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_remove_ns(g_subsys, 2), 0);
	ut_poll();
	CU_ASSERT_PTR_NULL(ftgt_nvmf_subsystem_get_ns_bdev_name(g_subsys, 2));
}

static void
remove_done(void *arg, int rc)
{
	*(int *)arg = rc == 0 ? 1 : -1;
}

/* A namespace removed while a host is connected, with a command of it in flight. */
static void
test_ns_live_remove(void)
{
	struct ut_qpair *a = ut_qpair_new(), *io = ut_qpair_new();
	struct ftgt_nvmf_ns_opts o = {.nsid = 2};
	struct ut_req *r, *held, *aer, *other;
	ftgt_le32 *list;
	uint16_t cntlid;
	int done = 0;

	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_ns(g_subsys, "Malloc1", NULL), 2);
	cntlid = ut_admin_up(a, SUBNQN, 0);
	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_admin(a, 2, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_ASYNC_EVENT_CONFIGURATION,
	             NVME_CTRLR_OAES_NS_ATTR_NOTICES, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	aer = ut_admin(a, 3, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	CU_ASSERT_FALSE(aer->done);
	/* A read of namespace 2 and one of namespace 1 are in flight. */
	g_hold_io = true;
	held = ut_rw(io, 1, NVME_OPC_READ, 2, 0, 1, NULL, 4096, 0, 0);
	other = ut_rw(io, 2, NVME_OPC_READ, 1, 0, 1, NULL, 512, 0, 0);
	CU_ASSERT_FALSE(held->done || other->done);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_remove_ns_async(g_subsys, 2, remove_done, &done), 0);
	ut_poll();
	/* Hosts hear of it at once; new commands to it fail; the removal waits. */
	CU_ASSERT(aer->done);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(aer->rsp.cdw0),
	                NVME_AER_CDW0(NVME_AER_TYPE_NOTICE, 0, NVME_LOG_CHANGED_NS_LIST));
	r = ut_rw(io, 3, NVME_OPC_READ, 2, 0, 1, NULL, 4096, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
	CU_ASSERT_EQUAL(done, 0);
	CU_ASSERT_PTR_NULL(ftgt_nvmf_subsystem_get_ns_bdev_name(g_subsys, 2));
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_ns(g_subsys, "Malloc1", &o), -EBUSY);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_remove_ns(g_subsys, 2), -ENOENT);
	g_hold_io = false;
	ut_release_held_ios();
	ut_poll();
	CU_ASSERT(held->done && other->done);
	CU_ASSERT_EQUAL(ut_status(held), 0);
	CU_ASSERT_EQUAL(done, 1);
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0,
	             NVME_LOG_CHANGED_NS_LIST | ((4096 / 4 - 1) << 16), 0, 4096);
	list = (ftgt_le32 *)r->buf;
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(list[0]), 2);
	CU_ASSERT_EQUAL(list[1], 0);
	/* The NSID and the bdev are free again; removing with nothing in flight is quick. */
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_ns(g_subsys, "Malloc1", &o), 2);
	r = ut_rw(io, 3, NVME_OPC_READ, 2, 0, 1, NULL, 4096, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	done = 0;
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_remove_ns_async(g_subsys, 2, remove_done, &done), 0);
	ut_poll();
	CU_ASSERT_EQUAL(done, 1);
	ut_qpair_free(io);
	ut_qpair_free(a);
	CU_ASSERT_EQUAL(g_ut_ch.refs, 0);
}

/* Counts, the duplicate-host policy and target-initiated disconnect. */
static void
test_counts_dup_policy_disconnect(void)
{
	struct ut_qpair *a = ut_qpair_new(), *b = ut_qpair_new(), *io = ut_qpair_new();
	struct ftgt_nvmf_conn_counts c;
	struct ut_req *r;
	uint16_t cntlid;

	cntlid = ut_admin_up(a, SUBNQN, 0);
	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	ftgt_nvmf_subsystem_get_counts(g_subsys, NULL, NULL, &c);
	CU_ASSERT(c.num_ctrlrs == 1 && c.num_qpairs == 2);
	ftgt_nvmf_subsystem_get_counts(g_subsys, HOSTNQN, &g_ut_addr, &c);
	CU_ASSERT(c.num_ctrlrs == 1 && c.num_qpairs == 2);
	ftgt_nvmf_subsystem_get_counts(g_subsys, "nqn.2014-08.org.nvmexpress:uuid:other", NULL, &c);
	CU_ASSERT(c.num_ctrlrs == 0 && c.num_qpairs == 0);
	/* Same host NQN + host ID through the same listener: refused when not allowed. */
	ftgt_nvmf_subsystem_set_allow_duplicate_host(g_subsys, false);
	r = ut_connect(b, 0, SUBNQN, HOSTNQN, 0xffff, 31, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(1, NVMF_SC_CONTROLLER_BUSY));
	ftgt_nvmf_subsystem_set_allow_duplicate_host(g_subsys, true);
	/* Target-initiated disconnect: every queue of the controller is asked to go. */
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_disconnect_ctrlr(g_subsys, (uint16_t)(cntlid + 7)),
	                -ENOENT);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_disconnect_host(g_subsys, HOSTNQN), 1);
	ut_poll();
	CU_ASSERT(a->disconnect_asked && io->disconnect_asked);
	ut_qpair_free(io);
	ut_qpair_free(a);
	ut_qpair_free(b);
	ftgt_nvmf_subsystem_get_counts(g_subsys, NULL, NULL, &c);
	CU_ASSERT(c.num_ctrlrs == 0 && c.num_qpairs == 0);
	CU_ASSERT_EQUAL(ftgt_nvmf_tgt_get_num_connections(), 0);
}

/* Abort of an I/O queue's command waiting at the bdev, and of one not there. */
static void
test_abort_io(void)
{
	struct ut_qpair *a = ut_qpair_new(), *io = ut_qpair_new();
	uint16_t cntlid = ut_admin_up(a, SUBNQN, 0);
	struct ut_req *r, *held, *other;

	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	g_hold_io = true;
	held = ut_rw(io, 1, NVME_OPC_READ, 1, 0, 1, NULL, 512, 0, 0);   /* cid 101 */
	other = ut_rw(io, 2, NVME_OPC_WRITE, 1, 3, 1, NULL, 512, 0, 0); /* cid 102 */
	CU_ASSERT_FALSE(held->done || other->done);
	r = ut_admin(a, 2, NVME_OPC_ABORT, 0, 1 | (101u << 16), 0, 0);
	CU_ASSERT(r->done);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 0); /* aborted */
	CU_ASSERT(held->done);
	CU_ASSERT_EQUAL(ut_status(held), NVME_STATUS(0, NVME_SC_ABORTED_BY_REQUEST));
	CU_ASSERT_FALSE(other->done);
	/* Unknown CID, unknown queue, the admin queue's own commands: not aborted. */
	r = ut_admin(a, 2, NVME_OPC_ABORT, 0, 1 | (150u << 16), 0, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 1);
	r = ut_admin(a, 2, NVME_OPC_ABORT, 0, 7 | (102u << 16), 0, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 1);
	g_hold_io = false;
	ut_release_held_ios();
	ut_poll();
	CU_ASSERT(other->done);
	CU_ASSERT_EQUAL(ut_status(other), 0);
	/* Done already: not aborted. */
	r = ut_admin(a, 2, NVME_OPC_ABORT, 0, 1 | (102u << 16), 0, 0);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), 1);
	/* Error log: newest first; the aborted read, then a failed read out of range. */
	r = ut_rw(io, 3, NVME_OPC_READ, 1, 5000, 1, NULL, 512, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE));
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0, NVME_LOG_ERROR | ((4096 / 4 - 1) << 16), 0,
	             4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	{
		struct nvme_error_info *e = (struct nvme_error_info *)r->buf;

		CU_ASSERT_EQUAL(ftgt_le64_to_cpu(e[0].error_count), 2);
		CU_ASSERT_EQUAL(ftgt_le16_to_cpu(e[0].sqid), 1);
		CU_ASSERT_EQUAL(ftgt_le16_to_cpu(e[0].cid), 103);
		CU_ASSERT_EQUAL(ftgt_le16_to_cpu(e[0].status) & ~NVME_STATUS_DNR,
		                NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE));
		CU_ASSERT_EQUAL(ftgt_le64_to_cpu(e[0].lba), 5000);
		CU_ASSERT_EQUAL(ftgt_le32_to_cpu(e[0].nsid), 1);
		CU_ASSERT_EQUAL(e[0].trtype, NVMF_TRTYPE_TCP);
		CU_ASSERT_EQUAL(ftgt_le64_to_cpu(e[1].error_count), 1);
		CU_ASSERT_EQUAL(ftgt_le16_to_cpu(e[1].cid), 101);
		CU_ASSERT_EQUAL(ftgt_le16_to_cpu(e[1].status) & ~NVME_STATUS_DNR,
		                NVME_STATUS(0, NVME_SC_ABORTED_BY_REQUEST));
		CU_ASSERT_EQUAL(e[2].error_count, 0);
	}
	ut_qpair_free(io);
	ut_qpair_free(a);
}

static void
test_keep_alive_expiry(void)
{
	struct ut_qpair *a = ut_qpair_new();
	struct ut_req *r;

	ut_admin_up(a, SUBNQN, 1000);
	g_ut_ticks += 900;
	ut_run_pollers();
	CU_ASSERT_FALSE(a->disconnect_asked);
	r = ut_admin(a, 2, NVME_OPC_KEEP_ALIVE, 0, 0, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	g_ut_ticks += 900;
	ut_run_pollers();
	ut_poll();
	CU_ASSERT_FALSE(a->disconnect_asked);
	g_ut_ticks += 1200;
	ut_run_pollers();
	ut_poll();
	CU_ASSERT(a->disconnect_asked);
	ut_qpair_free(a);
}

/* The fake transport's one "poll group": I/O statistics as the TCP transport keeps them. */
static struct nvmf_io_stats g_ut_io_stats;

static void
ut_io_stats_hook(struct ftgt_nvmf_request *req, uint64_t start_ticks)
{
	nvmf_io_stats_record(&g_ut_io_stats, req, start_ticks, ftgt_get_ticks());
}

/* I/O statistics as a transport's poll group counts them: commands of I/O queues by type,
 * bytes of the successful reads and writes, one latency sample (ticks) per command. */
static void
test_io_stats(void)
{
	struct ut_qpair *a = ut_qpair_new(), *io = ut_qpair_new();
	uint16_t cntlid = ut_admin_up(a, SUBNQN, 0);
	struct nvmf_io_stats sum;
	struct ut_req *r, *held;
	uint8_t data[2048] = {1};

	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	nvmf_io_stats_init(&g_ut_io_stats);
	g_ut_complete_hook = ut_io_stats_hook;
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_CTRLR, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(g_ut_io_stats.latency.count, 0); /* admin: not counted */
	r = ut_rw(io, 1, NVME_OPC_WRITE, 1, 10, 4, data, 2048, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	g_hold_io = true;
	held = ut_rw(io, 2, NVME_OPC_READ, 1, 10, 2, NULL, 1024, 0, 0);
	CU_ASSERT_FALSE(held->done);
	g_ut_ticks += 7;
	g_hold_io = false;
	ut_release_held_ios();
	ut_poll();
	CU_ASSERT(held->done);
	CU_ASSERT_EQUAL(ut_status(held), 0);
	r = ut_rw(io, 3, NVME_OPC_READ, 1, 5000, 1, NULL, 512, 0, 0); /* fails: no bytes */
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE));
	r = ut_rw(io, 3, NVME_OPC_FLUSH, 1, 0, 1, NULL, 0, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);

	CU_ASSERT_EQUAL(g_ut_io_stats.read_ops, 2);
	CU_ASSERT_EQUAL(g_ut_io_stats.write_ops, 1);
	CU_ASSERT_EQUAL(g_ut_io_stats.other_ops, 1);
	CU_ASSERT_EQUAL(g_ut_io_stats.read_bytes, 1024);
	CU_ASSERT_EQUAL(g_ut_io_stats.write_bytes, 2048);
	CU_ASSERT_EQUAL(g_ut_io_stats.latency.count, 4);
	CU_ASSERT_EQUAL(g_ut_io_stats.latency.min, 0);
	CU_ASSERT_EQUAL(g_ut_io_stats.latency.max, 7);
	CU_ASSERT_EQUAL(g_ut_io_stats.latency.sum, 7);
	/* Summing poll groups. */
	nvmf_io_stats_init(&sum);
	nvmf_io_stats_merge(&sum, &g_ut_io_stats);
	nvmf_io_stats_merge(&sum, &g_ut_io_stats);
	CU_ASSERT_EQUAL(sum.read_ops, 4);
	CU_ASSERT_EQUAL(sum.write_bytes, 4096);
	CU_ASSERT_EQUAL(sum.latency.count, 8);
	CU_ASSERT_EQUAL(sum.latency.max, 7);
	CU_ASSERT_EQUAL(ftgt_histogram_percentile(&sum.latency, 100), 7);
	g_ut_complete_hook = NULL;
	ut_qpair_free(io);
	ut_qpair_free(a);
}

static void
test_io(void)
{
	struct ut_qpair *a = ut_qpair_new(), *io = ut_qpair_new();
	uint16_t cntlid = ut_admin_up(a, SUBNQN, 0);
	uint8_t data[2048], zero[512] = {0};
	struct nvme_dsm_range rg[2];
	struct ut_req *r, *r2;
	int i;

	r = ut_connect(io, 1, SUBNQN, HOSTNQN, cntlid, 127, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	for (i = 0; i < (int)sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7);
	}
	r = ut_rw(io, 1, NVME_OPC_WRITE, 1, 10, 4, data, 2048, NVME_RW_FUA, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(g_last_io_flags, FTGT_BDEV_IO_FLAG_FUA);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(r->rsp.sqid), 1);
	CU_ASSERT_EQUAL(memcmp(g_bdev.data + 10 * 512, data, 2048), 0);
	r = ut_rw(io, 2, NVME_OPC_READ, 1, 10, 4, NULL, 2048, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(memcmp(r->buf, data, 2048), 0);
	/* Beyond the end, SGL length mismatch, bad NSID, unknown opcode. */
	r = ut_rw(io, 2, NVME_OPC_READ, 1, 1023, 2, NULL, 1024, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE));
	r = ut_rw(io, 2, NVME_OPC_READ, 1, 0xffffffffffffffffull, 1, NULL, 512, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE));
	r = ut_rw(io, 2, NVME_OPC_READ, 1, 0, 2, NULL, 512, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_DATA_SGL_LENGTH_INVALID));
	r = ut_rw(io, 2, NVME_OPC_READ, 5, 0, 1, NULL, 512, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
	CU_ASSERT(ftgt_le16_to_cpu(r->rsp.status) & NVME_STATUS_DNR);
	r = ut_rw(io, 2, 0x7e, 1, 0, 1, NULL, 0, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_OPCODE));

	/* Compare: equal, then different. */
	r = ut_rw(io, 2, NVME_OPC_COMPARE, 1, 10, 1, data, 512, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_rw(io, 2, NVME_OPC_COMPARE, 1, 10, 1, data + 1, 512, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE));

	/* Fused compare-and-write: match writes, mismatch fails both. */
	r = ut_rw(io, 2, NVME_OPC_COMPARE, 1, 10, 1, data, 512, 0, NVME_CMD_FUSE_FIRST);
	CU_ASSERT_FALSE(r->done);
	r2 = ut_rw(io, 3, NVME_OPC_WRITE, 1, 10, 1, zero, 512, 0, NVME_CMD_FUSE_SECOND);
	CU_ASSERT(r->done && r2->done);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(ut_status(r2), 0);
	CU_ASSERT_EQUAL(memcmp(g_bdev.data + 10 * 512, zero, 512), 0);
	r = ut_rw(io, 2, NVME_OPC_COMPARE, 1, 10, 1, data, 512, 0, NVME_CMD_FUSE_FIRST);
	r2 = ut_rw(io, 3, NVME_OPC_WRITE, 1, 10, 1, data, 512, 0, NVME_CMD_FUSE_SECOND);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE));
	CU_ASSERT_EQUAL(ut_status(r2), NVME_STATUS(0, NVME_SC_ABORTED_FAILED_FUSED));
	/* A FIRST followed by an ordinary command: missing fused. */
	r = ut_rw(io, 2, NVME_OPC_COMPARE, 1, 10, 1, data, 512, 0, NVME_CMD_FUSE_FIRST);
	r2 = ut_rw(io, 3, NVME_OPC_READ, 1, 0, 1, NULL, 512, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_ABORTED_MISSING_FUSED));
	CU_ASSERT_EQUAL(ut_status(r2), 0);
	r2 = ut_rw(io, 3, NVME_OPC_WRITE, 1, 10, 1, data, 512, 0, NVME_CMD_FUSE_SECOND);
	CU_ASSERT_EQUAL(ut_status(r2), NVME_STATUS(0, NVME_SC_ABORTED_MISSING_FUSED));

	/* Write Zeroes, Flush, DSM deallocate of two ranges. */
	memset(g_bdev.data, 0xab, 512 * 20);
	r = ut_rw(io, 2, NVME_OPC_WRITE_ZEROES, 1, 0, 2, NULL, 0, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(g_bdev.data[1023], 0);
	CU_ASSERT_EQUAL(g_bdev.data[1024], 0xab);
	r = ut_rw(io, 2, NVME_OPC_FLUSH, 1, 0, 1, NULL, 0, 0, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(g_flushes, 1);
	memset(rg, 0, sizeof(rg));
	rg[0].slba = ftgt_cpu_to_le64(4);
	rg[0].nlb = ftgt_cpu_to_le32(2);
	rg[1].slba = ftgt_cpu_to_le64(8);
	rg[1].nlb = ftgt_cpu_to_le32(1);
	{
		struct nvme_cmd c = {0};

		c.opc = NVME_OPC_DATASET_MANAGEMENT;
		c.nsid = ftgt_cpu_to_le32(1);
		c.cdw10 = ftgt_cpu_to_le32(1);
		c.cdw11 = ftgt_cpu_to_le32(NVME_DSM_ATTR_DEALLOCATE);
		g_bdev_nomem = 1; /* the first unmap waits for a bdev_io */
		r = ut_submit(io, 2, &c, rg, sizeof(rg));
		CU_ASSERT_FALSE(r->done);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g_io_wait);
		g_io_wait->cb_fn(g_io_wait->cb_arg);
		g_io_wait = NULL;
		ut_poll();
		CU_ASSERT(r->done);
		CU_ASSERT_EQUAL(ut_status(r), 0);
		CU_ASSERT_EQUAL(g_unmaps, 2);
		CU_ASSERT_EQUAL(g_bdev.data[4 * 512], 0);
		CU_ASSERT_EQUAL(g_bdev.data[6 * 512], 0xab);
		CU_ASSERT_EQUAL(g_bdev.data[8 * 512], 0);
		/* A range past the end. */
		rg[1].slba = ftgt_cpu_to_le64(1024);
		r = ut_submit(io, 2, &c, rg, sizeof(rg));
		CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE));
	}

	/* Disconnect with I/O in flight: the qpair is released only after it completes. */
	g_hold_io = true;
	r = ut_rw(io, 2, NVME_OPC_READ, 1, 0, 1, NULL, 512, 0, 0);
	CU_ASSERT_FALSE(r->done);
	ftgt_nvmf_qpair_fini(&io->qpair, ut_fini_cb, io);
	ut_poll();
	CU_ASSERT_FALSE(io->fini_done);
	g_hold_io = false;
	ut_release_held_ios();
	ut_poll();
	CU_ASSERT(r->done);
	CU_ASSERT(io->fini_done);
	CU_ASSERT_EQUAL(g_ut_ch.refs, 0);
	free(io);
	ut_qpair_free(a);
}

static void
test_discovery(void)
{
	struct ut_qpair *a = ut_qpair_new();
	struct ut_req *r;
	struct nvme_ctrlr_data *cd;
	struct nvmf_discovery_log_page *lp;
	struct ftgt_nvmf_subsystem *hidden;
	int rc;

	hidden = ftgt_nvmf_subsystem_create("nqn.2016-06.io.ftgt:hidden", FTGT_NVMF_SUBTYPE_NVME, 0,
	                                    &rc);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_listener(hidden, &g_ut_addr), 0);
	CU_ASSERT_EQUAL(g_listens, 1); /* one socket for both */

	/* Connect to the discovery subsystem through any listener. */
	strcpy(a->qpair.listen_addr.trsvcid, "8009");
	ut_admin_up(a, FTGT_NQN_DISCOVERY, 0);
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 0, NVME_IDENTIFY_CNS_CTRLR, 0, 4096);
	cd = (struct nvme_ctrlr_data *)r->buf;
	CU_ASSERT_EQUAL(cd->cntrltype, NVME_CTRLR_TYPE_DISCOVERY);
	CU_ASSERT_EQUAL(cd->nn, 0);
	r = ut_admin(a, 2, NVME_OPC_IDENTIFY, 1, NVME_IDENTIFY_CNS_NS, 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	/* Header first (as nvme-cli does), then the whole page. */
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0, NVME_LOG_DISCOVERY | (255u << 16), 0, 1024);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	lp = (struct nvmf_discovery_log_page *)r->buf;
	CU_ASSERT_EQUAL(ftgt_le64_to_cpu(lp->numrec), 1); /* hidden allows no host */
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0, NVME_LOG_DISCOVERY | (1023u << 16), 0, 4096);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	CU_ASSERT_EQUAL(lp->entries[0].trtype, NVMF_TRTYPE_TCP);
	CU_ASSERT_EQUAL(lp->entries[0].adrfam, NVMF_ADRFAM_IPV4);
	CU_ASSERT_EQUAL(lp->entries[0].subtype, NVMF_SUBTYPE_NVME);
	/* No TLS: secure channel "not specified"; SQ flow control may be disabled. */
	CU_ASSERT_EQUAL(lp->entries[0].treq, NVMF_TREQ_DISABLE_SQFC);
	CU_ASSERT_STRING_EQUAL(lp->entries[0].subnqn, SUBNQN);
	CU_ASSERT_STRING_EQUAL(lp->entries[0].traddr, "127.0.0.1");
	CU_ASSERT_STRING_EQUAL(lp->entries[0].trsvcid, "4420");
	CU_ASSERT_EQUAL(r->buf[2048], 0); /* past the page: zeroes */
	/* Offset not dword aligned; offset past the page. */
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0, NVME_LOG_DISCOVERY | (3u << 16), 0, 16);
	{
		struct nvme_cmd c = {0};

		c.opc = NVME_OPC_GET_LOG_PAGE;
		c.cdw10 = ftgt_cpu_to_le32(NVME_LOG_DISCOVERY | (3u << 16));
		c.cdw12 = ftgt_cpu_to_le32(2);
		r = ut_submit(a, 2, &c, NULL, 16);
		CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
		c.cdw12 = ftgt_cpu_to_le32(4096);
		r = ut_submit(a, 2, &c, NULL, 16);
		CU_ASSERT_EQUAL(ut_status(r), NVME_STATUS(0, NVME_SC_INVALID_FIELD));
	}
	/* AER with discovery log change notices enabled: allowing a host fires it. */
	r = ut_admin(a, 2, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_ASYNC_EVENT_CONFIGURATION,
	             NVME_CTRLR_OAES_DISCOVERY_LOG_CHANGE_NOTICES, 0);
	CU_ASSERT_EQUAL(ut_status(r), 0);
	r = ut_admin(a, 3, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, 0);
	CU_ASSERT_FALSE(r->done);
	ftgt_nvmf_subsystem_set_allow_any_host(hidden, true);
	ut_poll();
	CU_ASSERT(r->done);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0),
	                NVME_AER_CDW0(NVME_AER_TYPE_NOTICE, 0xf0, NVME_LOG_DISCOVERY));
	r = ut_admin(a, 2, NVME_OPC_GET_LOG_PAGE, 0, NVME_LOG_DISCOVERY | (1023u << 16), 0, 4096);
	CU_ASSERT_EQUAL(ftgt_le64_to_cpu(lp->numrec), 2);
	/* An I/O queue to the discovery subsystem is refused. */
	{
		struct ut_qpair *io = ut_qpair_new();

		r = ut_connect(io, 1, FTGT_NQN_DISCOVERY, HOSTNQN, 1, 31, 0);
		CU_ASSERT_EQUAL(ftgt_le32_to_cpu(r->rsp.cdw0), NVMF_CONNECT_INVALID_CDW0(0, 42));
		ut_qpair_free(io);
	}
	ut_qpair_free(a);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_destroy(hidden, NULL, NULL), 0);
	CU_ASSERT_EQUAL(g_listens, 1);
}

static void
destroy_done(void *arg)
{
	*(bool *)arg = true;
}

static void
test_destroy_with_ctrlr(void)
{
	struct ut_qpair *a = ut_qpair_new();
	struct ftgt_nvmf_subsystem *s;
	bool done = false;
	int rc;

	s = ftgt_nvmf_subsystem_create("nqn.2016-06.io.ftgt:gone", FTGT_NVMF_SUBTYPE_NVME, 0, &rc);
	ftgt_nvmf_subsystem_set_allow_any_host(s, true);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_add_listener(s, &g_ut_addr), 0);
	ut_admin_up(a, "nqn.2016-06.io.ftgt:gone", 0);
	CU_ASSERT_EQUAL(ftgt_nvmf_subsystem_destroy(s, destroy_done, &done), 0);
	ut_poll();
	CU_ASSERT(a->disconnect_asked);
	CU_ASSERT_FALSE(done);
	CU_ASSERT_PTR_NULL(ftgt_nvmf_subsystem_get_by_nqn("nqn.2016-06.io.ftgt:gone"));
	ut_qpair_free(a);
	CU_ASSERT(done);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("nvmf_ctrlr", suite_init, suite_fini);
	CU_ADD_TEST(s, test_subsystem_api);
	CU_ADD_TEST(s, test_connect_validation);
	CU_ADD_TEST(s, test_properties_and_cc);
	CU_ADD_TEST(s, test_identify);
	CU_ADD_TEST(s, test_log_features_aer);
	CU_ADD_TEST(s, test_keep_alive_expiry);
	CU_ADD_TEST(s, test_io);
	CU_ADD_TEST(s, test_io_stats);
	CU_ADD_TEST(s, test_ns_live_remove);
	CU_ADD_TEST(s, test_abort_io);
	CU_ADD_TEST(s, test_counts_dup_policy_disconnect);
	CU_ADD_TEST(s, test_discovery);
	CU_ADD_TEST(s, test_destroy_with_ctrlr);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	failures += CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
