/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/nvme host over NVMe/TCP, end to end against mock_target.c on 127.0.0.1, plus the
 * receive parser fed with hand-made byte streams.
 */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftgt/nvme.h"
#include "mock_target.h"
#include "nvme_internal.h"

#define SUBNQN "nqn.2026-01.io.ftgt:mock"

struct io_ctx {
	int done;
	struct nvme_cpl cpl;
};

static void
io_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct io_ctx *c = cb_arg;

	c->cpl = *cpl;
	c->done++;
}

static void
make_trid(struct ftgt_nvme_transport_id *trid, uint16_t port, const char *subnqn)
{
	char s[512];

	snprintf(s, sizeof(s), "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:%u subnqn:%s", port,
	         subnqn);
	CU_ASSERT_FATAL(ftgt_nvme_transport_id_parse(trid, s, NULL, 0) == 0);
}

static struct ftgt_nvme_ctrlr *
connect_to(struct mock_target *t, struct ftgt_nvme_ctrlr_opts *opts)
{
	struct ftgt_nvme_transport_id trid;
	struct ftgt_nvme_ctrlr *ctrlr = NULL;
	char err[256];
	int rc;

	make_trid(&trid, mock_target_port(t), SUBNQN);
	rc = ftgt_nvme_connect(&trid, opts, &ctrlr, err, sizeof(err));
	if (rc != 0) {
		printf("\n  connect: %s\n", err);
	}
	CU_ASSERT_EQUAL(rc, 0);
	return ctrlr;
}

/* Poll until c->done or 5 s pass. */
static void
wait_io(struct ftgt_nvme_qpair *q, struct io_ctx *c)
{
	uint64_t deadline = nvme_now_ms() + 5000;

	while (c->done == 0 && nvme_now_ms() < deadline) {
		if (ftgt_nvme_qpair_process_completions(q, 0) < 0) {
			break;
		}
	}
	CU_ASSERT_EQUAL(c->done, 1);
}

static int
do_io(struct ftgt_nvme_qpair *q, uint8_t opc, void *buf, uint64_t lba, uint32_t n)
{
	struct io_ctx c = {0};
	int rc;

	switch (opc) {
	case NVME_OPC_READ:
		rc = ftgt_nvme_ns_cmd_read(q, 1, buf, lba, n, 0, io_cb, &c);
		break;
	case NVME_OPC_WRITE:
		rc = ftgt_nvme_ns_cmd_write(q, 1, buf, lba, n, NVME_RW_FUA, io_cb, &c);
		break;
	case NVME_OPC_COMPARE:
		rc = ftgt_nvme_ns_cmd_compare(q, 1, buf, lba, n, 0, io_cb, &c);
		break;
	case NVME_OPC_WRITE_ZEROES:
		rc = ftgt_nvme_ns_cmd_write_zeroes(q, 1, lba, n, 0, io_cb, &c);
		break;
	default:
		rc = ftgt_nvme_ns_cmd_flush(q, 1, io_cb, &c);
		break;
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	wait_io(q, &c);
	return (int)(ftgt_le16_to_cpu(c.cpl.status) & 0xfffe);
}

static void
fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
	}
}

/* Write and read back small (in capsule) and large (R2T, several H2CData PDUs) I/O. */
static void
roundtrip(struct mock_target_opts *mo, bool hdgst, bool ddgst)
{
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	uint8_t *wbuf, *rbuf;
	size_t big = 256 * 1024;

	t = mock_target_start(mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.header_digest = hdgst;
	opts.data_digest = ddgst;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 32);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_id(q), 1);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_depth(q), 31);

	wbuf = malloc(big);
	rbuf = malloc(big);
	fill(wbuf, big, 7);
	/* 4 KiB: in capsule (IOCCSZ 8 KiB). */
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_WRITE, wbuf, 8, 8), 0);
	CU_ASSERT_EQUAL(mock_target_icd_writes(t), 1);
	CU_ASSERT_EQUAL(memcmp(mock_target_data(t) + 8 * 512, wbuf, 4096), 0);
	memset(rbuf, 0, big);
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_READ, rbuf, 8, 8), 0);
	CU_ASSERT_EQUAL(memcmp(rbuf, wbuf, 4096), 0);
	/* 256 KiB: R2Ts of 64 KiB, H2CData of at most MAXH2CDATA. */
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_WRITE, wbuf, 100, 512), 0);
	CU_ASSERT_EQUAL(mock_target_r2ts(t), 4);
	CU_ASSERT_EQUAL(memcmp(mock_target_data(t) + 100 * 512, wbuf, big), 0);
	memset(rbuf, 0, big);
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_READ, rbuf, 100, 512), 0);
	CU_ASSERT_EQUAL(memcmp(rbuf, wbuf, big), 0);
	if (hdgst) {
		CU_ASSERT_NOT_EQUAL(mock_target_last_hdgst(t), 0);
	}

	free(wbuf);
	free(rbuf);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

static void
test_connect_identify(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;

	mock_target_opts_default(&mo);
	mo.block_size = 4096;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	CU_ASSERT_EQUAL(strncmp(opts.hostnqn, "nqn.2014-08.org.nvmexpress:uuid:", 32), 0);
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_cntlid(ctrlr), 1);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_vs(ctrlr), NVME_VS(1, 4, 0));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_cap(ctrlr) & NVME_CAP_MQES_MASK, 127);
	CU_ASSERT_FALSE(ftgt_nvme_ctrlr_is_discovery(ctrlr));
	CU_ASSERT_EQUAL(memcmp(ftgt_nvme_ctrlr_get_data(ctrlr)->mn, "ftgt mock target", 16), 0);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_num_ns(ctrlr), 1);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_ns_id(ctrlr, 0), 1);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_block_size(ctrlr, 1), 4096);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_num_blocks(ctrlr, 1), 2048);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_block_size(ctrlr, 2), 0);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_max_xfer_size(ctrlr), 1024 * 1024);
	/* Queue larger than CAP.MQES + 1 is refused. */
	CU_ASSERT_PTR_NULL(ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 129));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr), 0);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

static void
test_roundtrip_plain(void)
{
	struct mock_target_opts mo;

	mock_target_opts_default(&mo);
	roundtrip(&mo, false, false);
}

static void
test_roundtrip_digests(void)
{
	struct mock_target_opts mo;

	mock_target_opts_default(&mo);
	mo.c2h_chunk = 10000; /* odd split of reads */
	roundtrip(&mo, true, true);
}

static void
test_roundtrip_success_flag_cpda(void)
{
	struct mock_target_opts mo;

	mock_target_opts_default(&mo);
	mo.c2h_success = true;
	mo.cpda = 3; /* host PDUs with data start on 16-byte boundaries */
	mo.maxh2cdata = 4096;
	roundtrip(&mo, true, false);
}

static void
test_commands(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct nvme_dsm_range r;
	struct io_ctx c = {0};
	uint8_t buf[4096];

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_depth(q), 127);

	fill(buf, sizeof(buf), 3);
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_WRITE, buf, 0, 8), 0);
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_COMPARE, buf, 0, 8), 0);
	buf[100] ^= 1;
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_COMPARE, buf, 0, 8),
	                NVME_STATUS(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE));
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_FLUSH, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_WRITE_ZEROES, NULL, 0, 4), 0);
	CU_ASSERT_EQUAL(mock_target_data(t)[0], 0);
	CU_ASSERT_NOT_EQUAL(mock_target_data(t)[4 * 512 + 1], 0);
	r.attributes = 0;
	r.nlb = ftgt_cpu_to_le32(4);
	r.slba = ftgt_cpu_to_le64(4);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_dsm(q, 1, NVME_DSM_ATTR_DEALLOCATE, &r, 1, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT_EQUAL(mock_target_data(t)[4 * 512 + 1], 0);
	/* Errors come back as NVMe status, not errno. */
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_READ, buf, 2047, 2),
	                NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE));
	/* Argument errors are -errno and the callback never runs. */
	c.done = 0;
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 9, buf, 0, 1, 0, io_cb, &c), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 0, 0, io_cb, &c), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_dsm(q, 1, 0, &r, 0, io_cb, &c), -EINVAL);
	CU_ASSERT_EQUAL(c.done, 0);
	/* Admin: Identify through the async API, unknown opcode status. */
	{
		struct nvme_cmd cmd;

		memset(&c, 0, sizeof(c));
		CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_cmd_identify(ctrlr, NVME_IDENTIFY_CNS_CTRLR, 0, 0,
		                                             buf, sizeof(buf), io_cb, &c),
		                0);
		while (c.done == 0 && ftgt_nvme_ctrlr_process_admin_completions(ctrlr) >= 0) {
		}
		CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
		CU_ASSERT_EQUAL(memcmp(((struct nvme_ctrlr_data *)buf)->sn, "MOCK0001", 8), 0);
		memset(&cmd, 0, sizeof(cmd));
		cmd.opc = 0xc0;
		memset(&c, 0, sizeof(c));
		CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_cmd_admin_raw(ctrlr, &cmd, NULL, 0, io_cb, &c), 0);
		while (c.done == 0 && ftgt_nvme_ctrlr_process_admin_completions(ctrlr) >= 0) {
		}
		CU_ASSERT_EQUAL(NVME_STATUS_GET_SC(ftgt_le16_to_cpu(c.cpl.status)),
		                NVME_SC_INVALID_OPCODE);
		CU_ASSERT_STRING_EQUAL(ftgt_nvme_status_str(ftgt_le16_to_cpu(c.cpl.status)),
		                       "GENERIC/INVALID_OPCODE");
	}
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* Queue depth: many commands in flight, batched into few sends, all complete. */
static void
test_queue_depth(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c[127];
	uint8_t *buf;
	uint64_t deadline;
	int i, total = 0;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 128);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	buf = calloc(127, 4096);
	memset(c, 0, sizeof(c));
	for (i = 0; i < 127; i++) {
		CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf + i * 4096, (uint64_t)i * 8, 8, 0,
		                                      io_cb, &c[i]),
		                0);
	}
	/* The queue is full: the next submission is -ENOMEM (retry later), not lost. */
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c[0]), -ENOMEM);
	deadline = nvme_now_ms() + 5000;
	while (total < 127 && nvme_now_ms() < deadline) {
		int rc = ftgt_nvme_qpair_process_completions(q, 0);

		CU_ASSERT_FATAL(rc >= 0);
		total += rc;
	}
	CU_ASSERT_EQUAL(total, 127);
	for (i = 0; i < 127; i++) {
		CU_ASSERT_EQUAL(c[i].done, 1);
	}
	CU_ASSERT(q->stats.tx_calls < 127);
	free(buf);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

static void
test_connect_errors(void)
{
	struct ftgt_nvme_transport_id trid;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr = (void *)1;
	struct mock_target_opts mo;
	struct mock_target *t;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char err[256];
	uint64_t start;
	int fd;

	/* Refused: a port nobody listens on (bound but not listening). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	make_trid(&trid, ntohs(sin.sin_port), SUBNQN);
	CU_ASSERT_EQUAL(ftgt_nvme_connect(&trid, NULL, &ctrlr, err, sizeof(err)), -ECONNREFUSED);
	CU_ASSERT_PTR_NULL(ctrlr);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Connection refused"));
	close(fd);

	/* A TCP peer that never answers ICReq: bounded by connect_timeout_ms. */
	mock_target_opts_default(&mo);
	mo.no_icresp = true;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.connect_timeout_ms = 300;
	make_trid(&trid, mock_target_port(t), SUBNQN);
	start = nvme_now_ms();
	CU_ASSERT_EQUAL(ftgt_nvme_connect(&trid, &opts, &ctrlr, err, sizeof(err)), -ETIMEDOUT);
	CU_ASSERT(nvme_now_ms() - start < 2000);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no ICResp"));
	mock_target_stop(t);

	/* Connect refused by the controller: status in the message. */
	mock_target_opts_default(&mo);
	mo.refuse_host = true;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	make_trid(&trid, mock_target_port(t), SUBNQN);
	CU_ASSERT_EQUAL(ftgt_nvme_connect(&trid, NULL, &ctrlr, err, sizeof(err)), -EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "CONNECT_INVALID_HOST"));
	mock_target_stop(t);

	/* Wrong subsystem NQN. */
	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	make_trid(&trid, mock_target_port(t), "nqn.2026-01.io.ftgt:nope");
	CU_ASSERT_EQUAL(ftgt_nvme_connect(&trid, NULL, &ctrlr, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nqn.2026-01.io.ftgt:nope"));
	mock_target_stop(t);
}

static void
test_keep_alive(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;
	uint64_t end;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.kato_ms = 200;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	end = nvme_now_ms() + 1050;
	while (nvme_now_ms() < end) {
		CU_ASSERT_FATAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr) >= 0);
		usleep(1000);
	}
	usleep(50 * 1000); /* let the mock count the last one */
	/*
	 * KATO/2 = 100 ms: ten in 1050 ms when the machine is idle; at least five even on a
	 * loaded CI machine, and never more often than every 100 ms.
	 */
	CU_ASSERT(mock_target_keep_alives(t) >= 5);
	CU_ASSERT(mock_target_keep_alives(t) <= 11);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

static void
test_command_timeout(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c = {0};
	uint8_t buf[512];
	uint64_t start;

	mock_target_opts_default(&mo);
	mo.swallow_opc = NVME_OPC_READ;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.command_timeout_ms = 300;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	start = nvme_now_ms();
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_cid(q, &c), -ENOENT);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c), 0);
	/* The cid to name in an Abort, found by the callback argument. */
	CU_ASSERT(ftgt_nvme_qpair_get_cid(q, &c) >= 0);
	CU_ASSERT(ftgt_nvme_qpair_get_cid(q, &c) < 8);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_cid(q, buf), -ENOENT);
	/* Poll the I/O and the admin queue, as an application does. */
	while (c.done == 0 && nvme_now_ms() - start < 3000) {
		ftgt_nvme_qpair_process_completions(q, 0);
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
	}
	CU_ASSERT_EQUAL(c.done, 1);
	/* First timeout: Abort (the mock answers "not aborted"); second: the qpair fails. */
	CU_ASSERT_EQUAL(mock_target_aborts(t), 1);
	CU_ASSERT_EQUAL(ctrlr->aborts_sent, 1);
	CU_ASSERT(nvme_now_ms() - start >= 600);
	CU_ASSERT(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT(ftgt_nvme_qpair_is_failed(q));
	CU_ASSERT_PTR_NOT_NULL(strstr(q->fail_reason, "Abort did not help"));
	CU_ASSERT_FALSE(ftgt_nvme_ctrlr_is_failed(ctrlr));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c), -ENXIO);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* An admin command that never completes: Abort, then the controller is failed. */
static void
test_admin_timeout(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;
	struct io_ctx c = {0};
	uint64_t start;

	mock_target_opts_default(&mo);
	mo.swallow_admin_opc = NVME_OPC_GET_FEATURES;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.command_timeout_ms = 200;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	start = nvme_now_ms();
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_cmd_get_feature(ctrlr, NVME_FEAT_ARBITRATION, 0, io_cb, &c),
	                0);
	while (c.done == 0 && nvme_now_ms() - start < 3000) {
		if (ftgt_nvme_ctrlr_process_admin_completions(ctrlr) < 0) {
			break;
		}
	}
	CU_ASSERT_EQUAL(c.done, 1);
	CU_ASSERT_EQUAL(NVME_STATUS_GET_SC(ftgt_le16_to_cpu(c.cpl.status)),
	                NVME_SC_ABORTED_SQ_DELETION);
	CU_ASSERT_EQUAL(mock_target_aborts(t), 1);
	CU_ASSERT(nvme_now_ms() - start >= 400);
	CU_ASSERT(ftgt_nvme_ctrlr_is_failed(ctrlr));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr), -ENXIO);
	ftgt_nvme_detach(ctrlr); /* no shutdown handshake on a failed queue: returns at once */
	mock_target_stop(t);
}

static void
test_bad_data_digest(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c = {0};
	uint8_t buf[4096];

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.data_digest = true;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	/* Corrupt from now on (connect data went through with good digests). */
	mock_target_stop(t);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);

	mo.corrupt_ddgst = true;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	opts.data_digest = false;
	ctrlr = connect_to(t, &opts); /* identify data: no digest negotiated on admin */
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	ctrlr->opts.data_digest = true;
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 8, 0, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT(ftgt_nvme_qpair_is_failed(q));
	CU_ASSERT_PTR_NOT_NULL(strstr(q->fail_reason, "data digest error"));
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

static void
test_discovery(void)
{
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_transport_id trid;
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr = NULL;
	struct nvmf_discovery_log_page *page;
	struct mock_target *t;
	uint64_t n = 0;
	char err[256];

	mock_target_opts_default(&mo);
	mo.subnqn = "nqn.2014-08.org.nvmexpress.discovery";
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	make_trid(&trid, mock_target_port(t), "nqn.2014-08.org.nvmexpress.discovery");
	CU_ASSERT_EQUAL_FATAL(ftgt_nvme_connect(&trid, NULL, &ctrlr, err, sizeof(err)), 0);
	CU_ASSERT(ftgt_nvme_ctrlr_is_discovery(ctrlr));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_num_ns(ctrlr), 0);
	CU_ASSERT_EQUAL_FATAL(ftgt_nvme_ctrlr_get_discovery_log(ctrlr, &page, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(ftgt_le64_to_cpu(page->genctr), 5);
	CU_ASSERT_STRING_EQUAL(page->entries[1].subnqn, "nqn.2026-01.io.ftgt:sub1");
	CU_ASSERT_EQUAL(page->entries[0].trtype, NVMF_TRTYPE_TCP);
	free(page);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);

	/*
	 * A Get Log Page that is never answered: -ETIMEDOUT; failing the queue then ends the
	 * command without writing to a stack variable that is gone (ASan checks).
	 */
	mo.swallow_admin_opc = NVME_OPC_GET_LOG_PAGE;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	make_trid(&trid, mock_target_port(t), "nqn.2014-08.org.nvmexpress.discovery");
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.command_timeout_ms = 200;
	CU_ASSERT_EQUAL_FATAL(ftgt_nvme_connect(&trid, &opts, &ctrlr, err, sizeof(err)), 0);
	page = NULL;
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_discovery_log(ctrlr, &page, &n), -ETIMEDOUT);
	CU_ASSERT_PTR_NULL(page);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* ---- Receive parser with hand-made bytes -------------------------------------------- */

static struct ftgt_nvme_qpair *
parser_qpair(void)
{
	struct ftgt_nvme_qpair *q = nvme_tcp_qpair_create(NULL, 1, 8);

	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	q->state = NVME_QPAIR_READY;
	q->maxh2cdata_bytes = 8192;
	q->fd = socket(AF_INET, SOCK_STREAM, 0); /* unconnected: sends fail harmlessly */
	return q;
}

static void
test_parser_rejects(void)
{
	struct ftgt_nvme_qpair *q;
	struct nvme_tcp_rsp rsp;
	struct nvme_tcp_data_hdr d;
	struct io_ctx c = {0};
	struct nvme_cmd cmd;
	uint8_t buf[512];
	size_t i;

	/* CapsuleResp for a cid that is not outstanding. */
	q = parser_qpair();
	memset(&rsp, 0, sizeof(rsp));
	rsp.ch.pdu_type = NVME_TCP_PDU_TYPE_CAPSULE_RESP;
	rsp.ch.hlen = 24;
	rsp.ch.plen = ftgt_cpu_to_le32(24);
	rsp.rccqe.cid = ftgt_cpu_to_le16(3);
	CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&rsp, sizeof(rsp)), -EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(q->fail_reason, "unknown cid 3"));
	nvme_tcp_qpair_destroy(q);

	/* Wrong hlen. */
	q = parser_qpair();
	rsp.ch.hlen = 23;
	CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&rsp, sizeof(rsp)), -EPROTO);
	nvme_tcp_qpair_destroy(q);

	/* A C2HData running past the command's buffer fails the command, not memory. */
	q = parser_qpair();
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_READ;
	CU_ASSERT_EQUAL(nvme_tcp_qpair_submit(q, &cmd, buf, 512, io_cb, &c), 0);
	memset(&d, 0, sizeof(d));
	d.ch.pdu_type = NVME_TCP_PDU_TYPE_C2H_DATA;
	d.ch.hlen = 24;
	d.ch.pdo = 24;
	d.ch.plen = ftgt_cpu_to_le32(24 + 1024);
	d.cccid = ftgt_cpu_to_le16(0);
	d.datal = ftgt_cpu_to_le32(1024);
	CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&d, sizeof(d)), -EPROTO);
	CU_ASSERT_EQUAL(c.done, 1);
	CU_ASSERT_EQUAL(NVME_STATUS_GET_SC(ftgt_le16_to_cpu(c.cpl.status)),
	                NVME_SC_ABORTED_SQ_DELETION);
	nvme_tcp_qpair_destroy(q);

	/* A good C2HData + CapsuleResp fed one byte at a time. */
	q = parser_qpair();
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(nvme_tcp_qpair_submit(q, &cmd, buf, 512, io_cb, &c), 0);
	d.ch.plen = ftgt_cpu_to_le32(24 + 512);
	d.datal = ftgt_cpu_to_le32(512);
	d.ch.flags = NVME_TCP_C2H_DATA_FLAGS_LAST_PDU;
	{
		uint8_t stream[24 + 512 + 24];

		memcpy(stream, &d, 24);
		for (i = 0; i < 512; i++) {
			stream[24 + i] = (uint8_t)i;
		}
		rsp.ch.hlen = 24;
		rsp.rccqe.cid = 0;
		memcpy(stream + 24 + 512, &rsp, 24);
		for (i = 0; i < sizeof(stream); i++) {
			CU_ASSERT_EQUAL_FATAL(nvme_tcp_qpair_rx_bytes(q, stream + i, 1), 0);
		}
	}
	CU_ASSERT_EQUAL(c.done, 1);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT_EQUAL(buf[511], 255);
	nvme_tcp_qpair_destroy(q);
}

/* Split len bytes of buf into iovecs of odd, varying sizes (some empty); returns count. */
static int
scatter(struct iovec *iov, int max, uint8_t *buf, size_t len)
{
	static const size_t sizes[] = {1, 511, 0, 4093, 17, 8192, 3, 65537, 1000, 12289};
	size_t off = 0;
	int n = 0;

	while (off < len && n < max - 1) {
		size_t k = sizes[n % 10];

		if (k > len - off) {
			k = len - off;
		}
		iov[n].iov_base = buf + off;
		iov[n].iov_len = k;
		off += k;
		n++;
	}
	iov[n].iov_base = buf + off;
	iov[n].iov_len = len - off;
	return n + 1;
}

/* writev/readv: scattered payloads in capsule, by R2T and received in place, digests on. */
static void
test_iov(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct iovec wiov[300], riov[300];
	struct io_ctx c = {0};
	size_t big = 512 * 1024, small = 6 * 512;
	uint8_t *wbuf, *rbuf;
	int wn, rn, i;

	mock_target_opts_default(&mo);
	mo.c2h_chunk = 100000; /* C2HData boundaries fall inside iovecs */
	mo.r2t_chunk = 96 * 1024;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.header_digest = true;
	opts.data_digest = true; /* the mock checks every data digest */
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 32);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	wbuf = malloc(big);
	rbuf = malloc(big);
	fill(wbuf, big, 11);

	/* Small: in capsule, 5 iovecs. */
	wn = scatter(wiov, 5, wbuf, small);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_writev(q, 1, wiov, wn, 3, 6, 0, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT_EQUAL(mock_target_icd_writes(t), 1);
	CU_ASSERT_EQUAL(memcmp(mock_target_data(t) + 3 * 512, wbuf, small), 0);

	/* Large: R2Ts and H2CData of MAXH2CDATA cut across iovec boundaries. */
	wn = scatter(wiov, 300, wbuf, big);
	CU_ASSERT(wn > 10);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_writev(q, 1, wiov, wn, 1000, 1024, NVME_RW_FUA, io_cb, &c),
	                0);
	wait_io(q, &c);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT(mock_target_r2ts(t) >= 6);
	CU_ASSERT_EQUAL(memcmp(mock_target_data(t) + 1000 * 512, wbuf, big), 0);

	/* Read back into a differently scattered set: > 64 iovecs (direct recvmsg limit). */
	memset(rbuf, 0, big);
	for (i = 0; i < 200; i++) {
		size_t part = big / 200;

		riov[i].iov_base = rbuf + (size_t)i * part;
		riov[i].iov_len = i == 199 ? big - 199 * part : part;
	}
	rn = 200;
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_readv(q, 1, riov, rn, 1000, 1024, 0, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT_EQUAL(memcmp(rbuf, wbuf, big), 0);
	memset(rbuf, 0, big);
	rn = scatter(riov, 300, rbuf, big);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_readv(q, 1, riov, rn, 1000, 1024, 0, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT_EQUAL(memcmp(rbuf, wbuf, big), 0);
	/* comparev over iovecs. */
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_comparev(q, 1, wiov, wn, 1000, 1024, 0, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));

	/* Too short, no iovecs, too many: -EINVAL, no callback. */
	memset(&c, 0, sizeof(c));
	riov[0].iov_base = rbuf;
	riov[0].iov_len = 511;
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_readv(q, 1, riov, 1, 0, 1, 0, io_cb, &c), -EINVAL);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_readv(q, 1, riov, 0, 0, 1, 0, io_cb, &c), -EINVAL);
	CU_ASSERT_EQUAL(
	        ftgt_nvme_ns_cmd_readv(q, 1, riov, FTGT_NVME_MAX_IOVCNT + 1, 0, 1, 0, io_cb, &c),
	        -EINVAL);
	CU_ASSERT_EQUAL(c.done, 0);
	CU_ASSERT_FALSE(ftgt_nvme_qpair_is_failed(q));

	free(wbuf);
	free(rbuf);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* Fused Compare and Write: one callback; the Compare's failure or the Write's status. */
static void
test_fused(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c = {0};
	uint8_t old[4096], new[4096], *bold, *bnew;
	struct iovec ci[7], wi[7];
	size_t big = 64 * 1024;
	int cn, wn, i;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	CU_ASSERT(ftgt_le16_to_cpu(ftgt_nvme_ctrlr_get_data(ctrlr)->fuses) &
	          NVME_CTRLR_FUSES_COMPARE_AND_WRITE);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	fill(old, sizeof(old), 1);
	fill(new, sizeof(new), 2);
	memcpy(mock_target_data(t) + 16 * 512, old, sizeof(old));

	/* Matches: written, success, one callback. */
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_compare_and_write(q, 1, old, new, 16, 8, 0, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(c.cpl.status) & 0xfffe, 0);
	CU_ASSERT_EQUAL(memcmp(mock_target_data(t) + 16 * 512, new, sizeof(new)), 0);
	/* No longer matches: COMPARE_FAILURE (not the Write's ABORTED_FAILED_FUSED), unchanged. */
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_compare_and_write(q, 1, old, old, 16, 8, 0, io_cb, &c), 0);
	wait_io(q, &c);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(c.cpl.status) & 0xfffe,
	                NVME_STATUS(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE));
	CU_ASSERT_STRING_EQUAL(ftgt_nvme_status_str(ftgt_le16_to_cpu(c.cpl.status)),
	                       "MEDIA/COMPARE_FAILURE");
	CU_ASSERT_EQUAL(memcmp(mock_target_data(t) + 16 * 512, new, sizeof(new)), 0);
	/* Both slots came back: the queue (depth 7) takes 3 more pairs, not a 4th. */
	memset(&c, 0, sizeof(c));
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(
		        ftgt_nvme_ns_cmd_compare_and_write(q, 1, new, new, 16, 8, 0, io_cb, &c), 0);
	}
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_compare_and_write(q, 1, new, new, 16, 8, 0, io_cb, &c),
	                -ENOMEM);
	{
		uint64_t deadline = nvme_now_ms() + 5000;

		while (c.done < 3 && nvme_now_ms() < deadline) {
			CU_ASSERT_FATAL(ftgt_nvme_qpair_process_completions(q, 0) >= 0);
		}
	}
	CU_ASSERT_EQUAL(c.done, 3);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));

	/* 64 KiB from iovecs: beyond the in-capsule limit, so both halves go by R2T. */
	bold = malloc(big);
	bnew = malloc(big);
	fill(bold, big, 5);
	fill(bnew, big, 6);
	memcpy(mock_target_data(t) + 256 * 512, bold, big);
	cn = scatter(ci, 7, bold, big);
	wn = scatter(wi, 5, bnew, big);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_compare_and_writev(q, 1, ci, cn, wi, wn, 256, 128,
	                                                    NVME_RW_FUA, io_cb, &c),
	                0);
	wait_io(q, &c);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
	CU_ASSERT_EQUAL(memcmp(mock_target_data(t) + 256 * 512, bnew, big), 0);
	CU_ASSERT_EQUAL(mock_target_fused_pairs(t), 6);
	CU_ASSERT_FALSE(ftgt_nvme_qpair_is_failed(q));
	free(bold);
	free(bnew);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* A fused pair ended by the connection: one callback, ABORTED_SQ_DELETION. */
static void
test_fused_parser(void)
{
	struct ftgt_nvme_qpair *q;
	struct nvme_tcp_rsp rsp;
	struct io_ctx c = {0};
	struct nvme_cmd c1, c2;
	struct iovec i1 = {0}, i2 = {0};
	uint8_t b1[512], b2[512];

	int sv[2];

	q = nvme_tcp_qpair_create(NULL, 1, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	q->state = NVME_QPAIR_READY;
	q->icd_max_bytes = 4096;
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	q->fd = sv[0];
	memset(&c1, 0, sizeof(c1));
	c1.opc = NVME_OPC_COMPARE;
	c2 = c1;
	c2.opc = NVME_OPC_WRITE;
	i1.iov_base = b1;
	i1.iov_len = sizeof(b1);
	i2.iov_base = b2;
	i2.iov_len = sizeof(b2);
	CU_ASSERT_EQUAL(nvme_tcp_qpair_submit_fused(q, &c1, &i1, 1, &c2, &i2, 1, 512, io_cb, &c),
	                0);
	CU_ASSERT_EQUAL(q->outstanding, 2);
	/* The capsules (with their in-capsule data) go out before any response. */
	CU_ASSERT_EQUAL(nvme_tcp_qpair_flush(q), 0);
	CU_ASSERT_EQUAL(q->tx_count, 0);
	/* The Write's response first; the callback waits for the Compare's. */
	memset(&rsp, 0, sizeof(rsp));
	rsp.ch.pdu_type = NVME_TCP_PDU_TYPE_CAPSULE_RESP;
	rsp.ch.hlen = 24;
	rsp.ch.plen = ftgt_cpu_to_le32(24);
	rsp.rccqe.cid = ftgt_cpu_to_le16(1);
	rsp.rccqe.status = ftgt_cpu_to_le16(NVME_STATUS(0, NVME_SC_ABORTED_FAILED_FUSED));
	CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&rsp, sizeof(rsp)), 0);
	CU_ASSERT_EQUAL(c.done, 0);
	/* A second response for the same cid is a protocol error, not a double completion. */
	CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&rsp, sizeof(rsp)), -EPROTO);
	CU_ASSERT_EQUAL(c.done, 1);
	CU_ASSERT_EQUAL(NVME_STATUS_GET_SC(ftgt_le16_to_cpu(c.cpl.status)),
	                NVME_SC_ABORTED_SQ_DELETION);
	CU_ASSERT_EQUAL(q->outstanding, 0);
	nvme_tcp_qpair_destroy(q);
	close(sv[1]);
	CU_ASSERT_EQUAL(c.done, 1);
}

/* A qpair on one end of a socketpair with a small send buffer; sv[1] is the target end. */
static struct ftgt_nvme_qpair *
pair_qpair(int sv[2])
{
	struct ftgt_nvme_qpair *q = nvme_tcp_qpair_create(NULL, 1, 8);
	int sz = 4096;

	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	q->state = NVME_QPAIR_READY;
	q->maxh2cdata_bytes = 8192;
	q->fd = sv[0];
	return q;
}

static void
make_rsp(struct nvme_tcp_rsp *rsp, uint16_t cid)
{
	memset(rsp, 0, sizeof(*rsp));
	rsp->ch.pdu_type = NVME_TCP_PDU_TYPE_CAPSULE_RESP;
	rsp->ch.hlen = 24;
	rsp->ch.plen = ftgt_cpu_to_le32(24);
	rsp->rccqe.cid = ftgt_cpu_to_le16(cid);
}

/*
 * A CapsuleResp for a write whose data still sits in the send ring (after an R2T, or in
 * capsule and partly sent): a protocol error; the command ends ABORTED and nothing is sent
 * from its buffer afterwards (the callback may free it: ASan checks).
 */
static void
free_buf_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct io_ctx *c = cb_arg;

	c->cpl = *cpl;
	c->done++;
}

static void
test_early_response(void)
{
	uint32_t len = 256 * 1024, icd;
	struct ftgt_nvme_qpair *q;
	struct nvme_tcp_r2t_hdr r2t;
	struct nvme_tcp_rsp rsp;
	struct io_ctx c = {0};
	struct nvme_cmd cmd;
	uint8_t *buf;
	char sink[65536];
	int sv[2], pass, i;

	for (pass = 0; pass < 2; pass++) {
		q = pair_qpair(sv);
		icd = pass == 0 ? 0 : len;
		q->icd_max_bytes = icd;
		buf = malloc(len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
		memset(buf, 0xab, len);
		memset(&cmd, 0, sizeof(cmd));
		cmd.opc = NVME_OPC_WRITE;
		memset(&c, 0, sizeof(c));
		CU_ASSERT_EQUAL(nvme_tcp_qpair_submit(q, &cmd, buf, len, free_buf_cb, &c), 0);
		if (pass == 0) {
			memset(&r2t, 0, sizeof(r2t));
			r2t.ch.pdu_type = NVME_TCP_PDU_TYPE_R2T;
			r2t.ch.hlen = sizeof(r2t);
			r2t.ch.plen = ftgt_cpu_to_le32(sizeof(r2t));
			r2t.r2tl = ftgt_cpu_to_le32(len);
			CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&r2t, sizeof(r2t)),
			                0);
		}
		CU_ASSERT_EQUAL(nvme_tcp_qpair_flush(q), 0);
		CU_ASSERT(q->tx_count > 0); /* the peer does not read: data left to send */
		make_rsp(&rsp, 0);
		CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&rsp, sizeof(rsp)), -EPROTO);
		CU_ASSERT_EQUAL(c.done, 1);
		CU_ASSERT_EQUAL(NVME_STATUS_GET_SC(ftgt_le16_to_cpu(c.cpl.status)),
		                NVME_SC_ABORTED_SQ_DELETION);
		CU_ASSERT_EQUAL(q->tx_count, 0);
		free(buf);
		for (i = 0; i < 10; i++) {
			while (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0) {
			}
			CU_ASSERT_EQUAL(nvme_tcp_qpair_flush(q), -ENXIO);
		}
		nvme_tcp_qpair_destroy(q);
		close(sv[1]);
	}
}

/* A read reported good with less data than asked for is a protocol error, not success. */
static void
test_short_read(void)
{
	struct ftgt_nvme_qpair *q;
	struct nvme_tcp_rsp rsp;
	struct {
		struct nvme_tcp_data_hdr h;
		uint8_t data[512];
		ftgt_le32 ddgst;
	} pdu;
	struct io_ctx c;
	struct nvme_cmd cmd;
	uint8_t buf[1024];
	int sv[2], pass;

	for (pass = 0; pass < 3; pass++) {
		q = pair_qpair(sv);
		memset(&cmd, 0, sizeof(cmd));
		cmd.opc = NVME_OPC_READ;
		memset(&c, 0, sizeof(c));
		CU_ASSERT_EQUAL(nvme_tcp_qpair_submit(q, &cmd, buf, sizeof(buf), io_cb, &c), 0);
		CU_ASSERT_EQUAL(nvme_tcp_qpair_flush(q), 0);
		memset(&pdu, 0, sizeof(pdu));
		pdu.h.ch.pdu_type = NVME_TCP_PDU_TYPE_C2H_DATA;
		pdu.h.ch.hlen = sizeof(pdu.h);
		pdu.h.ch.pdo = sizeof(pdu.h);
		pdu.h.ch.plen = ftgt_cpu_to_le32(sizeof(pdu.h) + 512);
		pdu.h.datal = ftgt_cpu_to_le32(512);
		if (pass == 2) {
			/* Data digest negotiated but the PDU carries none. */
			q->ddgst = true;
			CU_ASSERT_EQUAL(
			        nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&pdu, sizeof(pdu.h) + 512),
			        -EPROTO);
		} else if (pass == 1) {
			/* SUCCESS (no CapsuleResp follows) with half the data: would hang. */
			pdu.h.ch.flags =
			        NVME_TCP_C2H_DATA_FLAGS_SUCCESS | NVME_TCP_C2H_DATA_FLAGS_LAST_PDU;
			nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&pdu, sizeof(pdu.h) + 512);
			CU_ASSERT_TRUE(nvme_qpair_is_dead(q));
		} else {
			CU_ASSERT_EQUAL(
			        nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&pdu, sizeof(pdu.h) + 512),
			        0);
			CU_ASSERT_EQUAL(c.done, 0);
			make_rsp(&rsp, 0);
			CU_ASSERT_EQUAL(nvme_tcp_qpair_rx_bytes(q, (uint8_t *)&rsp, sizeof(rsp)),
			                -EPROTO);
		}
		CU_ASSERT_EQUAL(c.done, 1);
		CU_ASSERT_TRUE(ftgt_nvme_cpl_is_error(&c.cpl));
		nvme_tcp_qpair_destroy(q);
		close(sv[1]);
	}
}

/* max_completions: at most that many callbacks per call, the rest kept for later. */
static void
test_max_completions(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c[16];
	uint8_t *buf;
	uint64_t deadline;
	int i, rc, total = 0, calls = 0;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 32);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	buf = calloc(16, 512);
	memset(c, 0, sizeof(c));
	for (i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL(
		        ftgt_nvme_ns_cmd_read(q, 1, buf + i * 512, (uint64_t)i, 1, 0, io_cb, &c[i]),
		        0);
	}
	rc = ftgt_nvme_qpair_process_completions(q, 1); /* sends them */
	CU_ASSERT(rc == 0 || rc == 1);
	total += rc;
	usleep(200 * 1000); /* all 16 responses are in the socket now */
	rc = ftgt_nvme_qpair_process_completions(q, 1);
	CU_ASSERT_EQUAL(rc, 1);
	total += rc;
	rc = ftgt_nvme_qpair_process_completions(q, 3);
	CU_ASSERT_EQUAL(rc, 3);
	total += rc;
	deadline = nvme_now_ms() + 5000;
	while (total < 16 && nvme_now_ms() < deadline) {
		rc = ftgt_nvme_qpair_process_completions(q, 2);
		CU_ASSERT_FATAL(rc >= 0 && rc <= 2);
		total += rc;
		calls++;
	}
	CU_ASSERT_EQUAL(total, 16);
	CU_ASSERT(calls >= 6);
	for (i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL(c[i].done, 1);
	}
	free(buf);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* Non-blocking qpair: connecting, -EAGAIN, then I/O; a refused connect fails it. */
static void
test_async_qpair(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c = {0};
	uint8_t buf[512];
	uint64_t deadline;
	int rc = 0, eagain = 0;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_FALSE(ftgt_nvme_qpair_is_connected(q));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c), -EAGAIN);
	deadline = nvme_now_ms() + 5000;
	while (!ftgt_nvme_qpair_is_connected(q) && nvme_now_ms() < deadline) {
		rc = ftgt_nvme_qpair_process_completions(q, 0);
		if (rc == -EAGAIN) {
			eagain++;
		}
		CU_ASSERT_FATAL(rc == -EAGAIN || rc == 0);
	}
	CU_ASSERT(ftgt_nvme_qpair_is_connected(q));
	CU_ASSERT(eagain >= 1);
	CU_ASSERT_EQUAL(do_io(q, NVME_OPC_READ, buf, 0, 1), 0);
	ftgt_nvme_ctrlr_free_io_qpair(q);

	/* The target closes every new connection: the qpair fails (-ENXIO), bounded. */
	mock_target_set_refuse(t, true);
	q = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	deadline = nvme_now_ms() + 5000;
	do {
		rc = ftgt_nvme_qpair_process_completions(q, 0);
	} while (rc == -EAGAIN && nvme_now_ms() < deadline);
	CU_ASSERT_EQUAL(rc, -ENXIO);
	CU_ASSERT(ftgt_nvme_qpair_is_failed(q));
	CU_ASSERT_FALSE(ftgt_nvme_qpair_is_connected(q));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c), -ENXIO);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	/* The blocking form returns NULL. */
	CU_ASSERT_PTR_NULL(ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 16));
	mock_target_set_refuse(t, false);
	CU_ASSERT_EQUAL(c.done, 0);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

struct free_ctx {
	struct ftgt_nvme_qpair *q;
	int done;
};

static void
free_qpair_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct free_ctx *f = cb_arg;

	f->done++;
	if (f->done == 1) {
		/* From the qpair's own callback: freed once process_completions unwinds. */
		ftgt_nvme_ctrlr_free_io_qpair(f->q);
	}
}

/*
 * Freeing an I/O qpair inside its own completion callback is safe (ASan checks); queue
 * ids are reused (lowest free); detach refuses while I/O qpairs remain.
 */
static void
test_qpair_lifecycle(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q, *q2;
	struct mock_target *t;
	struct free_ctx f = {0};
	uint8_t buf[4][512];
	uint64_t deadline;
	int rc = 0, i;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_id(q), 1);
	f.q = q;
	for (i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(
		        ftgt_nvme_ns_cmd_read(q, 1, buf[i], (uint64_t)i, 1, 0, free_qpair_cb, &f),
		        0);
	}
	deadline = nvme_now_ms() + 5000;
	while (f.done == 0 && nvme_now_ms() < deadline) {
		rc = ftgt_nvme_qpair_process_completions(q, 0);
		if (rc < 0) {
			break;
		}
	}
	CU_ASSERT(f.done >= 1);
	/* q is gone now (the call that ran the callback freed it): its id is free again. */
	CU_ASSERT_EQUAL(rc, -ENXIO);
	/*
	 * Many channels come and go: ids are reused, never exhausted (the 16-bit counter
	 * used to wrap). A just-freed id cools for NVME_HOST_QID_COOL_MS first.
	 */
	for (i = 0; i < 70000; i++) {
		q = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 4);
		CU_ASSERT_PTR_NOT_NULL_FATAL(q);
		CU_ASSERT_FATAL(ftgt_nvme_qpair_get_id(q) >= 1 &&
		                ftgt_nvme_qpair_get_id(q) <= NVME_HOST_MAX_IO_QUEUES);
		ftgt_nvme_ctrlr_free_io_qpair(q);
	}
	usleep((NVME_HOST_QID_COOL_MS + 50) * 1000);
	q = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 4);
	q2 = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q2);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_id(q), 1);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_id(q2), 2);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	/* Freed just now: another id while it cools, then the lowest again. */
	q = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_id(q), 3);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	usleep((NVME_HOST_QID_COOL_MS + 50) * 1000);
	q = ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(ftgt_nvme_qpair_get_id(q), 1);
	/* Detach with q and q2 still there: refused (the controller stays usable). */
	ftgt_nvme_detach(ctrlr);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_ctrlr_free_io_qpair(q2);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("nvme_tcp", NULL, NULL);
	CU_add_test(s, "connect_identify", test_connect_identify);
	CU_add_test(s, "roundtrip_plain", test_roundtrip_plain);
	CU_add_test(s, "roundtrip_digests", test_roundtrip_digests);
	CU_add_test(s, "roundtrip_success_flag_cpda", test_roundtrip_success_flag_cpda);
	CU_add_test(s, "commands", test_commands);
	CU_add_test(s, "queue_depth", test_queue_depth);
	CU_add_test(s, "connect_errors", test_connect_errors);
	CU_add_test(s, "keep_alive", test_keep_alive);
	CU_add_test(s, "command_timeout", test_command_timeout);
	CU_add_test(s, "admin_timeout", test_admin_timeout);
	CU_add_test(s, "bad_data_digest", test_bad_data_digest);
	CU_add_test(s, "discovery", test_discovery);
	CU_add_test(s, "parser_rejects", test_parser_rejects);
	CU_add_test(s, "iov", test_iov);
	CU_add_test(s, "fused", test_fused);
	CU_add_test(s, "fused_parser", test_fused_parser);
	CU_add_test(s, "early_response", test_early_response);
	CU_add_test(s, "short_read", test_short_read);
	CU_add_test(s, "max_completions", test_max_completions);
	CU_add_test(s, "async_qpair", test_async_qpair);
	CU_add_test(s, "qpair_lifecycle", test_qpair_lifecycle);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
