/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests lib/nvmf/tcp/tcp_pdu.c: the NVMe/TCP receive parser and PDU builders. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/crc32c.h"
#include "../../../../lib/nvmf/tcp/tcp_pdu.h"

struct ut_ctx {
	int headers;
	int pdus;
	int eagain;             /* on_header returns -EAGAIN this many times */
	bool skip_inplace;      /* on_header: data in place is used there (*iovcnt 0) */
	const uint8_t *inplace; /* on_header: pdu->data_inplace */
	uint8_t data[16384];
	struct iovec iov[2];
	struct nvmf_tcp_rx_pdu last;
};

static int
ut_on_header(void *ctx, struct nvmf_tcp_rx_pdu *pdu, struct iovec **iov, int *iovcnt, uint32_t *fei)
{
	struct ut_ctx *u = ctx;

	if (u->eagain > 0) {
		u->eagain--;
		return -EAGAIN;
	}
	u->headers++;
	u->inplace = pdu->data_inplace;
	if (u->skip_inplace && pdu->data_inplace != NULL) {
		*iovcnt = 0;
		return 0;
	}
	/* Split the data over two buffers to exercise iovec crossing. */
	u->iov[0].iov_base = u->data;
	u->iov[0].iov_len = 7;
	u->iov[1].iov_base = u->data + 7;
	u->iov[1].iov_len = sizeof(u->data) - 7;
	*iov = u->iov;
	*iovcnt = 2;
	return 0;
}

static int
ut_on_pdu(void *ctx, struct nvmf_tcp_rx_pdu *pdu, uint32_t *fei)
{
	struct ut_ctx *u = ctx;

	u->pdus++;
	u->last = *pdu;
	return 0;
}

static const struct nvmf_tcp_rx_ops g_ops = {ut_on_header, ut_on_pdu};

static void
rx_setup(struct nvmf_tcp_rx *rx, struct ut_ctx *u, bool ic_done, bool hd, bool dd)
{
	memset(u, 0, sizeof(*u));
	nvmf_tcp_rx_init(rx, &g_ops, u);
	rx->lim.ic_done = ic_done;
	rx->lim.hdgst = hd;
	rx->lim.ddgst = dd;
	rx->lim.max_icd_bytes = 8192;
	rx->lim.maxh2cdata = 131072;
}

static size_t
make_icreq(uint8_t *buf)
{
	struct nvme_tcp_ic_req *ic = (void *)buf;

	memset(ic, 0, sizeof(*ic));
	ic->ch.pdu_type = NVME_TCP_PDU_TYPE_IC_REQ;
	ic->ch.hlen = 128;
	ic->ch.plen = ftgt_cpu_to_le32(128);
	ic->pfv = 0;
	ic->dgst = NVME_TCP_DGST_HDGST_ENABLE;
	return 128;
}

/* CapsuleCmd with data_len bytes of in-capsule data (pattern i & 0xff). */
static size_t
make_cmd(uint8_t *buf, uint32_t data_len, bool hd, bool dd)
{
	struct nvme_tcp_cmd *c = (void *)buf;
	uint32_t hdr_len = 72 + (hd ? 4 : 0);
	uint32_t plen = hdr_len + data_len + (data_len && dd ? 4 : 0);
	uint32_t i;

	memset(c, 0, sizeof(*c));
	c->ch.pdu_type = NVME_TCP_PDU_TYPE_CAPSULE_CMD;
	c->ch.flags = (hd ? NVME_TCP_CH_FLAGS_HDGSTF : 0) |
	              (data_len && dd ? NVME_TCP_CH_FLAGS_DDGSTF : 0);
	c->ch.hlen = 72;
	c->ch.pdo = data_len ? hdr_len : 0;
	c->ch.plen = ftgt_cpu_to_le32(plen);
	c->ccsqe.opc = NVME_OPC_WRITE;
	c->ccsqe.cid = ftgt_cpu_to_le16(0x1234);
	if (hd) {
		nvmf_tcp_hdgst_set(buf, 72);
	}
	for (i = 0; i < data_len; i++) {
		buf[hdr_len + i] = (uint8_t)i;
	}
	if (data_len && dd) {
		ftgt_le32 d = ftgt_cpu_to_le32(ftgt_crc32c(buf + hdr_len, data_len));

		memcpy(buf + hdr_len + data_len, &d, 4);
	}
	return plen;
}

static void
test_icreq_whole_and_bytewise(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	uint8_t buf[256] __attribute__((aligned(8)));
	size_t len = make_icreq(buf), i;

	rx_setup(&rx, &u, false, false, false);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), (long)len);
	CU_ASSERT_EQUAL(u.pdus, 1);
	CU_ASSERT_EQUAL(u.last.type, NVME_TCP_PDU_TYPE_IC_REQ);
	CU_ASSERT_EQUAL(u.last.hdr.ic_req.dgst, NVME_TCP_DGST_HDGST_ENABLE);

	rx_setup(&rx, &u, false, false, false);
	for (i = 0; i < len; i++) {
		CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf + i, 1), 1);
	}
	CU_ASSERT_EQUAL(u.pdus, 1);
}

static void
test_sequence_errors(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	uint8_t buf[512] __attribute__((aligned(8)));
	size_t len;

	/* A command before the ICReq. */
	rx_setup(&rx, &u, false, false, false);
	len = make_cmd(buf, 0, false, false);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.state, NVMF_TCP_RX_ERROR);
	CU_ASSERT_EQUAL(rx.err_fes, NVME_TCP_FES_PDU_SEQUENCE_ERROR);
	CU_ASSERT_EQUAL(rx.err_hdr_len, 8);
	/* Stays broken. */
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);

	/* A second ICReq. */
	rx_setup(&rx, &u, true, false, false);
	len = make_icreq(buf);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fes, NVME_TCP_FES_PDU_SEQUENCE_ERROR);
}

static void
test_bad_header_fields(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	uint8_t buf[512] __attribute__((aligned(8)));
	size_t len;

	/* Controller-to-host PDU types are invalid from a host. */
	rx_setup(&rx, &u, true, false, false);
	len = make_cmd(buf, 0, false, false);
	buf[0] = NVME_TCP_PDU_TYPE_C2H_DATA;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fes, NVME_TCP_FES_INVALID_HEADER_FIELD);
	CU_ASSERT_EQUAL(rx.err_fei, 0);

	/* Wrong hlen. */
	rx_setup(&rx, &u, true, false, false);
	len = make_cmd(buf, 0, false, false);
	buf[2] = 64;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 2);

	/* plen smaller than the header. */
	rx_setup(&rx, &u, true, false, false);
	len = make_cmd(buf, 0, false, false);
	buf[4] = 16;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 4);

	/* HDGSTF set though digests were not negotiated. */
	rx_setup(&rx, &u, true, false, false);
	len = make_cmd(buf, 0, true, false);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 1);

	/* HDGSTF missing though negotiated. */
	rx_setup(&rx, &u, true, true, false);
	len = make_cmd(buf, 0, false, false);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 1);

	/* pdo pointing inside the header. */
	rx_setup(&rx, &u, true, false, false);
	len = make_cmd(buf, 16, false, false);
	buf[3] = 64;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 3);

	/* ICReq with an unknown PFV and with HPDA > 31. */
	rx_setup(&rx, &u, false, false, false);
	len = make_icreq(buf);
	buf[8] = 1;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 8);
	rx_setup(&rx, &u, false, false, false);
	len = make_icreq(buf);
	buf[10] = 32;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 10);
	/* ICReq with plen != 128. */
	rx_setup(&rx, &u, false, false, false);
	len = make_icreq(buf);
	buf[4] = 129;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 4);
	CU_ASSERT_EQUAL(u.pdus, 0);
}

static void
test_capsule_with_data_and_digests(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	static uint8_t buf[20000] __attribute__((aligned(8)));
	size_t len, i;
	int j;

	for (j = 0; j < 4; j++) {
		bool hd = j & 1, dd = j & 2;

		rx_setup(&rx, &u, true, hd, dd);
		len = make_cmd(buf, 4096, hd, dd);
		/* Feed in odd-sized pieces. */
		for (i = 0; i < len; i += 13) {
			size_t n = len - i < 13 ? len - i : 13;

			CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf + i, n), (long)n);
		}
		CU_ASSERT_EQUAL(u.headers, 1);
		CU_ASSERT_EQUAL(u.pdus, 1);
		CU_ASSERT_EQUAL(u.last.data_len, 4096);
		CU_ASSERT(u.last.ddgst_ok);
		CU_ASSERT_EQUAL(ftgt_le16_to_cpu(u.last.hdr.cmd.ccsqe.cid), 0x1234);
		CU_ASSERT_EQUAL(memcmp(u.data, buf + 72 + (hd ? 4 : 0), 4096), 0);
	}

	/* Two PDUs in one buffer. */
	rx_setup(&rx, &u, true, false, false);
	{
		static uint8_t second[128] __attribute__((aligned(8)));
		size_t n2 = make_cmd(second, 0, false, false);

		len = make_cmd(buf, 100, false, false);
		memcpy(buf + len, second, n2);
		len += n2;
	}
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), (long)len);
	CU_ASSERT_EQUAL(u.pdus, 2);
}

/* Data wholly in the buffer fed is offered in place; the consumer may skip the copy and
 * the data digest is still checked. Data split over two feeds is not offered. */
static void
test_data_in_place(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	static uint8_t buf[20000] __attribute__((aligned(8)));
	size_t len;
	int j;

	for (j = 0; j < 4; j++) {
		bool hd = j & 1, dd = j & 2;
		uint32_t pdo = 72 + (hd ? 4 : 0);

		rx_setup(&rx, &u, true, hd, dd);
		u.skip_inplace = true;
		len = make_cmd(buf, 4096, hd, dd);
		CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), (long)len);
		CU_ASSERT_EQUAL(u.pdus, 1);
		CU_ASSERT(u.inplace == buf + pdo);
		CU_ASSERT(u.last.ddgst_ok);
		CU_ASSERT_EQUAL(u.data[100], 0); /* not copied */

		if (dd) {
			/* Skipped in place, a bad data digest is still reported. */
			rx_setup(&rx, &u, true, hd, dd);
			u.skip_inplace = true;
			buf[pdo + 5] ^= 1;
			CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), (long)len);
			CU_ASSERT_EQUAL(u.pdus, 1);
			CU_ASSERT(u.inplace == buf + pdo);
			CU_ASSERT_FALSE(u.last.ddgst_ok);
			buf[pdo + 5] ^= 1;
		}

		/* The header in one feed, the data in the next: not in place, copied. */
		rx_setup(&rx, &u, true, hd, dd);
		u.skip_inplace = true;
		CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, pdo + 100), (long)(pdo + 100));
		CU_ASSERT(u.inplace == NULL);
		CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf + pdo + 100, len - pdo - 100),
		                (long)(len - pdo - 100));
		CU_ASSERT_EQUAL(u.pdus, 1);
		CU_ASSERT(u.last.ddgst_ok);
		CU_ASSERT_EQUAL(memcmp(u.data, buf + pdo, 4096), 0);
	}
	/* No data: nothing in place. */
	rx_setup(&rx, &u, true, false, false);
	len = make_cmd(buf, 0, false, false);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), (long)len);
	CU_ASSERT(u.inplace == NULL);
}

/* The rest of a PDU's data placed by the caller straight into the consumer's buffers. */
static void
test_data_placed(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	static uint8_t buf[20000] __attribute__((aligned(8)));
	struct iovec iov[4];
	size_t len, done;
	int j, n, k;

	for (j = 0; j < 4; j++) {
		bool hd = j & 1, dd = j & 2;
		uint32_t pdo = 72 + (hd ? 4 : 0);

		rx_setup(&rx, &u, true, hd, dd);
		len = make_cmd(buf, 4096, hd, dd);
		/* Not in a PDU's data yet: nothing to place. */
		CU_ASSERT_EQUAL(nvmf_tcp_rx_data_iov(&rx, iov, 4), 0);
		CU_ASSERT_EQUAL(nvmf_tcp_rx_data_placed(&rx, 1), -EINVAL);
		CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, pdo + 3), (long)(pdo + 3));
		/* 4093 bytes left, over both of the consumer's iovecs (7 + the rest). */
		n = nvmf_tcp_rx_data_iov(&rx, iov, 4);
		CU_ASSERT_EQUAL(n, 2);
		CU_ASSERT(iov[0].iov_base == u.data + 3 && iov[0].iov_len == 4);
		CU_ASSERT(iov[1].iov_base == u.data + 7 && iov[1].iov_len == 4089);
		CU_ASSERT_EQUAL(nvmf_tcp_rx_data_placed(&rx, 4094), -EINVAL);
		/* Place 1000 bytes, then the rest, as a recvmsg() would. */
		for (done = 0, k = 0; k < n; k++) {
			memcpy(iov[k].iov_base, buf + pdo + 3 + done, iov[k].iov_len);
			done += iov[k].iov_len;
		}
		CU_ASSERT_EQUAL(nvmf_tcp_rx_data_placed(&rx, 1000), 0);
		CU_ASSERT_EQUAL(u.pdus, 0);
		n = nvmf_tcp_rx_data_iov(&rx, iov, 4);
		CU_ASSERT(n == 1 && iov[0].iov_base == u.data + 1003 && iov[0].iov_len == 3093);
		if (dd) {
			u.data[2000] ^= 1; /* what came differs from what the host digested */
		}
		CU_ASSERT_EQUAL(nvmf_tcp_rx_data_placed(&rx, 3093), 0);
		if (dd) {
			CU_ASSERT_EQUAL(u.pdus, 0);
			CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf + pdo + 4096, 4), 4);
			CU_ASSERT_FALSE(u.last.ddgst_ok);
			u.data[2000] ^= 1;
		} else {
			CU_ASSERT(u.last.ddgst_ok);
		}
		CU_ASSERT_EQUAL(u.pdus, 1);
		CU_ASSERT_EQUAL(memcmp(u.data, buf + pdo, 4096), 0);
		CU_ASSERT_EQUAL(nvmf_tcp_rx_data_iov(&rx, iov, 4), 0);
		/* The stream goes on. */
		len = make_cmd(buf, 0, hd, dd);
		CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), (long)len);
		CU_ASSERT_EQUAL(u.pdus, 2);
	}
}

static void
test_digest_errors(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	static uint8_t buf[20000] __attribute__((aligned(8)));
	size_t len;

	/* Header digest mismatch is fatal. */
	rx_setup(&rx, &u, true, true, false);
	len = make_cmd(buf, 0, true, false);
	buf[72] ^= 1;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fes, NVME_TCP_FES_HDGST_ERROR);

	/* Data digest mismatch is reported on the PDU, not fatal. */
	rx_setup(&rx, &u, true, false, true);
	len = make_cmd(buf, 512, false, true);
	buf[len - 1] ^= 1;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), (long)len);
	CU_ASSERT_EQUAL(u.pdus, 1);
	CU_ASSERT_FALSE(u.last.ddgst_ok);

	/* DDGSTF missing on a PDU with data though negotiated. */
	rx_setup(&rx, &u, true, false, true);
	len = make_cmd(buf, 512, false, false);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 1);
}

static void
test_data_limits(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	static uint8_t buf[20000] __attribute__((aligned(8)));
	struct nvme_tcp_data_hdr *h = (void *)buf;
	size_t len;

	/* In-capsule data beyond what we offered. */
	rx_setup(&rx, &u, true, false, false);
	len = make_cmd(buf, 8193, false, false);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, len), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fes, NVME_TCP_FES_DATA_TRANSFER_OUT_OF_RANGE);
	CU_ASSERT_EQUAL(u.headers, 0);

	/* H2CData whose DATAL disagrees with PLEN. */
	rx_setup(&rx, &u, true, false, false);
	memset(buf, 0, 24 + 100);
	h->ch.pdu_type = NVME_TCP_PDU_TYPE_H2C_DATA;
	h->ch.hlen = 24;
	h->ch.pdo = 24;
	h->ch.plen = ftgt_cpu_to_le32(124);
	h->datal = ftgt_cpu_to_le32(99);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, 124), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fei, 16);

	/* Valid H2CData. */
	rx_setup(&rx, &u, true, false, false);
	h->datal = ftgt_cpu_to_le32(100);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, 124), 124);
	CU_ASSERT_EQUAL(u.pdus, 1);

	/* H2CData larger than MAXH2CDATA. */
	rx_setup(&rx, &u, true, false, false);
	rx.lim.maxh2cdata = 64;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, 124), -EPROTO);
	CU_ASSERT_EQUAL(rx.err_fes, NVME_TCP_FES_R2T_LIMIT_EXCEEDED);

	/* H2CTermReq longer than 24 + 128 bytes. */
	rx_setup(&rx, &u, true, false, false);
	memset(buf, 0, 200);
	buf[0] = NVME_TCP_PDU_TYPE_H2C_TERM_REQ;
	buf[2] = 24;
	buf[4] = 153;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, 153), -EPROTO);
	rx_setup(&rx, &u, true, false, false);
	buf[4] = 152;
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf, 152), 152);
	CU_ASSERT_EQUAL(u.pdus, 1);
}

static void
test_eagain_resumes(void)
{
	struct nvmf_tcp_rx rx;
	struct ut_ctx u;
	static uint8_t buf[1024] __attribute__((aligned(8)));
	size_t len;
	long n;

	rx_setup(&rx, &u, true, false, false);
	u.eagain = 2;
	len = make_cmd(buf, 200, false, false);
	n = nvmf_tcp_rx_feed(&rx, buf, len);
	CU_ASSERT_EQUAL(n, 72);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf + n, len - n), 0);
	CU_ASSERT_EQUAL(nvmf_tcp_rx_feed(&rx, buf + n, len - n), (long)(len - n));
	CU_ASSERT_EQUAL(u.pdus, 1);
	CU_ASSERT_EQUAL(memcmp(u.data, buf + 72, 200), 0);
}

static void
test_build_term_req(void)
{
	uint8_t buf[256] __attribute__((aligned(8))), hdr[200];
	struct nvme_tcp_term_req_hdr *t = (void *)buf;
	uint32_t plen;

	memset(hdr, 0xab, sizeof(hdr));
	plen = nvmf_tcp_build_c2h_term_req(buf, NVME_TCP_FES_INVALID_HEADER_FIELD, 2, hdr, 200);
	CU_ASSERT_EQUAL(plen, 24 + 128);
	CU_ASSERT_EQUAL(t->ch.pdu_type, NVME_TCP_PDU_TYPE_C2H_TERM_REQ);
	CU_ASSERT_EQUAL(t->ch.hlen, 24);
	CU_ASSERT_EQUAL(ftgt_le32_to_cpu(t->ch.plen), 152);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(t->fes), 1);
	CU_ASSERT_EQUAL(t->fei[0], 2);
	CU_ASSERT_EQUAL(buf[24 + 127], 0xab);
	/* Header digest helper: standard CRC32C of the header, little-endian. */
	memcpy(buf, "123456789", 9);
	nvmf_tcp_hdgst_set(buf, 9);
	CU_ASSERT_EQUAL(buf[9], 0x83);
	CU_ASSERT_EQUAL(buf[12], 0xe3);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("nvmf_tcp_pdu", NULL, NULL);
	CU_ADD_TEST(s, test_icreq_whole_and_bytewise);
	CU_ADD_TEST(s, test_sequence_errors);
	CU_ADD_TEST(s, test_bad_header_fields);
	CU_ADD_TEST(s, test_capsule_with_data_and_digests);
	CU_ADD_TEST(s, test_data_in_place);
	CU_ADD_TEST(s, test_data_placed);
	CU_ADD_TEST(s, test_digest_errors);
	CU_ADD_TEST(s, test_data_limits);
	CU_ADD_TEST(s, test_eagain_resumes);
	CU_ADD_TEST(s, test_build_term_req);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
