/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/nvme controller life (ctrlr.c, qpair.c) against mock_target.c on 127.0.0.1:
 * non-blocking connect, asynchronous events, reset, reconnect with back-off, and the
 * command timeout that resets the controller.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
make_trid(struct ftgt_nvme_transport_id *trid, uint16_t port)
{
	char s[512];

	snprintf(s, sizeof(s), "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:%u subnqn:%s", port,
	         SUBNQN);
	CU_ASSERT_FATAL(ftgt_nvme_transport_id_parse(trid, s, NULL, 0) == 0);
}

static struct ftgt_nvme_ctrlr *
connect_to(struct mock_target *t, struct ftgt_nvme_ctrlr_opts *opts)
{
	struct ftgt_nvme_transport_id trid;
	struct ftgt_nvme_ctrlr *ctrlr = NULL;
	char err[256];
	int rc;

	make_trid(&trid, mock_target_port(t));
	rc = ftgt_nvme_connect(&trid, opts, &ctrlr, err, sizeof(err));
	if (rc != 0) {
		printf("\n  connect: %s\n", err);
	}
	CU_ASSERT_EQUAL(rc, 0);
	return ctrlr;
}

static uint16_t
sc_of(const struct nvme_cpl *cpl)
{
	return NVME_STATUS_GET_SC(ftgt_le16_to_cpu(cpl->status));
}

/* Poll the admin queue (and q if not NULL) until the state is want or timeout_ms pass. */
static bool
poll_until_state(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *q,
                 enum ftgt_nvme_ctrlr_state want, uint32_t timeout_ms)
{
	uint64_t deadline = nvme_now_ms() + timeout_ms;

	while (ftgt_nvme_ctrlr_get_state(ctrlr) != want && nvme_now_ms() < deadline) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		if (q != NULL) {
			ftgt_nvme_qpair_process_completions(q, 0);
		}
		usleep(200);
	}
	return ftgt_nvme_ctrlr_get_state(ctrlr) == want;
}

/* Poll both until q is connected again. */
static bool
poll_until_connected(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *q, uint32_t timeout_ms)
{
	uint64_t deadline = nvme_now_ms() + timeout_ms;

	while (!ftgt_nvme_qpair_is_connected(q) && nvme_now_ms() < deadline) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		ftgt_nvme_qpair_process_completions(q, 0);
		usleep(200);
	}
	return ftgt_nvme_qpair_is_connected(q);
}

static void
wait_io2(struct ftgt_nvme_ctrlr *ctrlr, struct ftgt_nvme_qpair *q, struct io_ctx *c)
{
	uint64_t deadline = nvme_now_ms() + 5000;

	while (c->done == 0 && nvme_now_ms() < deadline) {
		ftgt_nvme_qpair_process_completions(q, 0);
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
	}
	CU_ASSERT_EQUAL(c->done, 1);
}

static void
test_state_names(void)
{
	CU_ASSERT_STRING_EQUAL(ftgt_nvme_ctrlr_state_str(FTGT_NVME_CTRLR_CONNECTING), "connecting");
	CU_ASSERT_STRING_EQUAL(ftgt_nvme_ctrlr_state_str(FTGT_NVME_CTRLR_ENABLED), "enabled");
	CU_ASSERT_STRING_EQUAL(ftgt_nvme_ctrlr_state_str(FTGT_NVME_CTRLR_RESETTING), "resetting");
	CU_ASSERT_STRING_EQUAL(ftgt_nvme_ctrlr_state_str(FTGT_NVME_CTRLR_FAILED), "failed");
}

static void
test_connect_async(void)
{
	struct ftgt_nvme_transport_id trid;
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;
	struct io_ctx c = {0};
	uint8_t buf[4096];
	char err[256];
	int rc, eagain = 0;
	uint64_t deadline;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	make_trid(&trid, mock_target_port(t));
	ctrlr = ftgt_nvme_connect_async(&trid, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_CONNECTING);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_cmd_identify(ctrlr, NVME_IDENTIFY_CNS_CTRLR, 0, 0, buf,
	                                             sizeof(buf), io_cb, &c),
	                -EAGAIN);
	CU_ASSERT_PTR_NULL(ftgt_nvme_ctrlr_alloc_io_qpair_async(ctrlr, 8));
	deadline = nvme_now_ms() + 5000;
	while (nvme_now_ms() < deadline) {
		rc = ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		if (rc == -EAGAIN) {
			eagain++;
			continue;
		}
		CU_ASSERT(rc >= 0);
		break;
	}
	CU_ASSERT(eagain > 0);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_num_ns(ctrlr), 1);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_num_blocks(ctrlr, 1), 2048);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_connect_error(ctrlr, err, sizeof(err)), 0);
	ftgt_nvme_detach(ctrlr);

	/* Refused: FAILED, with the reason; no retry for a first connect. */
	mock_target_set_refuse(t, true);
	ctrlr = ftgt_nvme_connect_async(&trid, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	CU_ASSERT(poll_until_state(ctrlr, NULL, FTGT_NVME_CTRLR_FAILED, 5000));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr), -ENXIO);
	CU_ASSERT(ftgt_nvme_ctrlr_is_failed(ctrlr));
	CU_ASSERT_NOT_EQUAL(ftgt_nvme_ctrlr_get_connect_error(ctrlr, err, sizeof(err)), 0);
	CU_ASSERT_NOT_EQUAL(err[0], '\0'); /* "connection closed ..." or "... reset by peer" */
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_reset(ctrlr), -ENXIO);
	ftgt_nvme_detach(ctrlr);
	mock_target_set_refuse(t, false);

	/* A bad address is refused at once. */
	snprintf(trid.traddr, sizeof(trid.traddr), "not-an-address");
	CU_ASSERT_PTR_NULL(ftgt_nvme_connect_async(&trid, NULL, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad address"));
	mock_target_stop(t);
}

struct aer_ctx {
	struct ftgt_nvme_ctrlr *ctrlr;
	int calls;
	struct nvme_cpl cpl;
	uint32_t num_ns_seen;
	uint64_t blocks1_seen;
};

static void
aer_user_cb(void *cb_arg, const struct nvme_cpl *cpl)
{
	struct aer_ctx *a = cb_arg;

	a->calls++;
	a->cpl = *cpl;
	/* The library refreshed the namespace list before calling us. */
	a->num_ns_seen = ftgt_nvme_ctrlr_get_num_ns(a->ctrlr);
	a->blocks1_seen = ftgt_nvme_ns_get_num_blocks(a->ctrlr, 1);
}

static bool
wait_aer(struct aer_ctx *a, int calls)
{
	uint64_t deadline = nvme_now_ms() + 5000;

	while (a->calls < calls && nvme_now_ms() < deadline) {
		CU_ASSERT_FATAL(ftgt_nvme_ctrlr_process_admin_completions(a->ctrlr) >= 0);
		usleep(200);
	}
	return a->calls == calls;
}

static void
test_aer(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;
	struct aer_ctx a = {0};
	uint64_t end;
	uint32_t cdw0;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.command_timeout_ms = 150;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	a.ctrlr = ctrlr;
	ftgt_nvme_ctrlr_register_aer_callback(ctrlr, aer_user_cb, &a);
	/* Notices enabled; min(AERL + 1, 4) = 4 AERs outstanding. */
	CU_ASSERT_EQUAL(mock_target_aec(t), NVME_CTRLR_OAES_NS_ATTR_NOTICES);
	end = nvme_now_ms() + 500;
	/* AERs outlive the command timeout without Aborts or failure. */
	while (nvme_now_ms() < end) {
		CU_ASSERT_FATAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr) >= 0);
		usleep(1000);
	}
	CU_ASSERT_EQUAL(mock_target_outstanding_aers(t), 4);
	CU_ASSERT_EQUAL(mock_target_aborts(t), 0);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);

	/* Namespace added. */
	mock_target_set_ns(t, 3, 4096);
	CU_ASSERT_FATAL(wait_aer(&a, 1));
	cdw0 = ftgt_le32_to_cpu(a.cpl.cdw0);
	CU_ASSERT_EQUAL(cdw0 & 7, NVME_AER_TYPE_NOTICE);
	CU_ASSERT_EQUAL((cdw0 >> 8) & 0xff, NVME_AER_NOTICE_NS_ATTR_CHANGED);
	CU_ASSERT_EQUAL((cdw0 >> 16) & 0xff, NVME_LOG_CHANGED_NS_LIST);
	CU_ASSERT_EQUAL(a.num_ns_seen, 2);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_ns_id(ctrlr, 1), 3);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_num_blocks(ctrlr, 3), 4096);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_block_size(ctrlr, 3), 512);
	CU_ASSERT_EQUAL(mock_target_changed_ns_reads(t), 1);
	/* Re-armed: the mock holds four again. */
	end = nvme_now_ms() + 2000;
	while (mock_target_outstanding_aers(t) != 4 && nvme_now_ms() < end) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		usleep(200);
	}
	CU_ASSERT_EQUAL(mock_target_outstanding_aers(t), 4);

	/* Namespace 1 resized: seen through the I/O-path accessor before the callback. */
	mock_target_set_ns(t, 1, 1024);
	CU_ASSERT_FATAL(wait_aer(&a, 2));
	CU_ASSERT_EQUAL(a.blocks1_seen, 1024);
	CU_ASSERT_EQUAL(mock_target_changed_ns_reads(t), 2);

	/* Namespace removed. */
	mock_target_set_ns(t, 3, 0);
	CU_ASSERT_FATAL(wait_aer(&a, 3));
	CU_ASSERT_EQUAL(a.num_ns_seen, 1);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_block_size(ctrlr, 3), 0);
	CU_ASSERT_PTR_NULL(ftgt_nvme_ctrlr_get_ns_data(ctrlr, 3));
	CU_ASSERT_EQUAL(mock_target_aens_sent(t), 3);

	/* After a reset the AERs are armed again and notices still arrive. */
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_reset(ctrlr), 0);
	CU_ASSERT(poll_until_state(ctrlr, NULL, FTGT_NVME_CTRLR_ENABLED, 5000));
	CU_ASSERT_EQUAL(a.calls, 3); /* AERs ended by the reset are not reported */
	mock_target_set_ns(t, 2, 100);
	CU_ASSERT_FATAL(wait_aer(&a, 4));
	CU_ASSERT_EQUAL(a.num_ns_seen, 2);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* An explicit reset with a command outstanding; the qpair comes back by itself. */
static void
test_reset(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c = {0}, c2 = {0};
	uint8_t buf[4096];
	uint32_t accepts;
	struct nvme_ns_table *table, *retired;
	int rc;

	mock_target_opts_default(&mo);
	mo.swallow_opc = NVME_OPC_FLUSH;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL); /* reconnect_delay_ms 0: no automatic reconnect */
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT(ftgt_nvme_qpair_is_connected(q));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_flush(q, 1, io_cb, &c), 0);
	CU_ASSERT(ftgt_nvme_qpair_process_completions(q, 0) >= 0); /* sent; never answered */
	accepts = mock_target_accepts(t, NULL, 0);
	table = ctrlr->ns_table;
	retired = ctrlr->ns_retired;

	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_reset(ctrlr), 0);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_RESETTING);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_reset(ctrlr), -EBUSY);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_cmd_get_feature(ctrlr, 1, 0, io_cb, &c2), -EAGAIN);
	/* The qpair's own thread ends its commands: retryable ABORTED_SQ_DELETION. */
	CU_ASSERT_EQUAL(c.done, 0);
	rc = ftgt_nvme_qpair_process_completions(q, 0);
	CU_ASSERT_EQUAL(rc, -EAGAIN);
	CU_ASSERT_EQUAL(c.done, 1);
	CU_ASSERT_EQUAL(sc_of(&c.cpl), NVME_SC_ABORTED_SQ_DELETION);
	CU_ASSERT_EQUAL(ftgt_le16_to_cpu(c.cpl.status) & NVME_STATUS_DNR, 0);
	CU_ASSERT_FALSE(ftgt_nvme_qpair_is_connected(q));
	CU_ASSERT_FALSE(ftgt_nvme_qpair_is_failed(q));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c2), -EAGAIN);
	/* While the controller resets, the qpair waits (-EAGAIN), then reconnects. */
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr), -EAGAIN);
	CU_ASSERT(poll_until_connected(ctrlr, q, 5000));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	CU_ASSERT_EQUAL(ctrlr->resets, 1);
	/* Same namespaces after the reconnect: the snapshot is kept, none retired (leaked). */
	CU_ASSERT_PTR_EQUAL(ctrlr->ns_table, table);
	CU_ASSERT_PTR_EQUAL(ctrlr->ns_retired, retired);
	CU_ASSERT(mock_target_accepts(t, NULL, 0) >= accepts + 2); /* admin + I/O */
	memset(&c2, 0, sizeof(c2));
	memset(buf, 0x5a, sizeof(buf));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_write(q, 1, buf, 0, 8, 0, io_cb, &c2), 0);
	wait_io2(ctrlr, q, &c2);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c2.cpl));
	CU_ASSERT_EQUAL(mock_target_data(t)[100], 0x5a);
	CU_ASSERT_EQUAL(c.done, 1);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* The I/O thread of test_reconnect_drop: only touches its own qpair. */
struct io_thread {
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	bool stop; /* atomic */
	int phase; /* atomic: 1 flush in flight, 2 reconnected and written again, -1 error */
	int aborted;
	int eagain;
	int ok_after;
};

static void *
io_thread_fn(void *arg)
{
	struct io_thread *it = arg;
	struct io_ctx c = {0};
	uint8_t buf[4096];
	uint64_t deadline = nvme_now_ms() + 8000;

	memset(buf, 0x33, sizeof(buf));
	it->q = ftgt_nvme_ctrlr_alloc_io_qpair(it->ctrlr, 16);
	if (it->q == NULL) {
		__atomic_store_n(&it->phase, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	/* A flush the mock never answers: outstanding when the connection drops. */
	if (ftgt_nvme_ns_cmd_flush(it->q, 1, io_cb, &c) != 0) {
		__atomic_store_n(&it->phase, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	ftgt_nvme_qpair_process_completions(it->q, 0);
	__atomic_store_n(&it->phase, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&it->stop, __ATOMIC_ACQUIRE) && nvme_now_ms() < deadline) {
		int rc = ftgt_nvme_qpair_process_completions(it->q, 0);

		if (rc == -EAGAIN) {
			it->eagain++;
		}
		if (c.done == 1 && it->aborted == 0) {
			it->aborted = sc_of(&c.cpl) == NVME_SC_ABORTED_SQ_DELETION ? 1 : -1;
		}
		if (it->aborted == 1 && ftgt_nvme_qpair_is_connected(it->q) &&
		    __atomic_load_n(&it->phase, __ATOMIC_ACQUIRE) == 1) {
			struct io_ctx w = {0};
			uint64_t d2 = nvme_now_ms() + 3000;

			if (ftgt_nvme_ns_cmd_write(it->q, 1, buf, 8, 8, 0, io_cb, &w) != 0) {
				continue;
			}
			while (w.done == 0 && nvme_now_ms() < d2) {
				ftgt_nvme_qpair_process_completions(it->q, 0);
			}
			it->ok_after = w.done == 1 && !ftgt_nvme_cpl_is_error(&w.cpl);
			__atomic_store_n(&it->phase, 2, __ATOMIC_RELEASE);
		}
		usleep(100);
	}
	return NULL;
}

/* The target drops every connection: automatic reconnect, qpair on another thread. */
static void
test_reconnect_drop(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;
	struct io_thread it = {0};
	pthread_t th;
	uint64_t deadline;
	bool saw_resetting = false;

	mock_target_opts_default(&mo);
	mo.swallow_opc = NVME_OPC_FLUSH;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.reconnect_delay_ms = 50;
	opts.ctrlr_loss_timeout_ms = 5000;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	it.ctrlr = ctrlr;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, io_thread_fn, &it) == 0);
	deadline = nvme_now_ms() + 5000;
	while (__atomic_load_n(&it.phase, __ATOMIC_ACQUIRE) == 0 && nvme_now_ms() < deadline) {
		ftgt_nvme_ctrlr_process_admin_completions(ctrlr);
		usleep(500);
	}
	CU_ASSERT_EQUAL(__atomic_load_n(&it.phase, __ATOMIC_ACQUIRE), 1);
	usleep(50 * 1000);
	mock_target_drop_conns(t);
	deadline = nvme_now_ms() + 8000;
	while (__atomic_load_n(&it.phase, __ATOMIC_ACQUIRE) == 1 && nvme_now_ms() < deadline) {
		int rc = ftgt_nvme_ctrlr_process_admin_completions(ctrlr);

		CU_ASSERT(rc != -ENXIO);
		if (ftgt_nvme_ctrlr_get_state(ctrlr) == FTGT_NVME_CTRLR_RESETTING) {
			saw_resetting = true;
		}
		usleep(200);
	}
	__atomic_store_n(&it.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CU_ASSERT(saw_resetting);
	CU_ASSERT_EQUAL(it.aborted, 1);
	CU_ASSERT(it.eagain > 0);
	CU_ASSERT_EQUAL(it.phase, 2);
	CU_ASSERT_EQUAL(it.ok_after, 1);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	CU_ASSERT_EQUAL(ctrlr->resets, 1);
	CU_ASSERT_EQUAL(mock_target_data(t)[8 * 512], 0x33);
	if (it.q != NULL) {
		ftgt_nvme_ctrlr_free_io_qpair(it.q);
	}
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* Reconnects refused: back-off doubling up to the cap, FAILED at the loss timeout. */
static void
test_backoff_gives_up(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c = {0};
	uint64_t times[64], start, failed_ms;
	uint32_t base, n, i;
	uint8_t buf[512];
	int rc;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.reconnect_delay_ms = 50;
	opts.reconnect_max_delay_ms = 200;
	opts.ctrlr_loss_timeout_ms = 1200;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	base = mock_target_accepts(t, NULL, 0);
	mock_target_set_refuse(t, true);
	mock_target_drop_conns(t);
	start = nvme_now_ms();
	CU_ASSERT(poll_until_state(ctrlr, q, FTGT_NVME_CTRLR_FAILED, 6000));
	failed_ms = nvme_now_ms() - start;
	CU_ASSERT(failed_ms >= 1200);
	CU_ASSERT(failed_ms < 3000);
	/* Attempts ~50, 100, 200, 200, ... ms apart (the I/O qpair never dialled). */
	n = mock_target_accepts(t, times, 64);
	CU_ASSERT(n - base >= 5);
	CU_ASSERT(n - base <= 10);
	if (n - base >= 4) {
		uint64_t g1 = times[base + 1] - times[base], g2 = times[base + 2] - times[base + 1];

		CU_ASSERT(g1 >= 90);  /* 100 ms: doubled once */
		CU_ASSERT(g2 >= 180); /* 200 ms: the cap */
		for (i = base + 3; i < n; i++) {
			CU_ASSERT(times[i] - times[i - 1] >= 180);
			CU_ASSERT(times[i] - times[i - 1] < 400); /* capped, not 400, 800 */
		}
	}
	/* Everything is -ENXIO now. */
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr), -ENXIO);
	rc = ftgt_nvme_qpair_process_completions(q, 0);
	CU_ASSERT_EQUAL(rc, -ENXIO);
	CU_ASSERT(ftgt_nvme_qpair_is_failed(q));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c), -ENXIO);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_cmd_get_feature(ctrlr, 1, 0, io_cb, &c), -ENXIO);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_connect_error(ctrlr, NULL, 0) < 0, 1);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_set_refuse(t, false);
	mock_target_stop(t);
}

/* Reconnects refused for a while, then accepted: the controller comes back. */
static void
test_backoff_recovers(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	uint64_t end;
	uint8_t buf[512];

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.reconnect_delay_ms = 20;
	opts.reconnect_max_delay_ms = 100;
	opts.ctrlr_loss_timeout_ms = -1;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	mock_target_set_refuse(t, true);
	mock_target_drop_conns(t);
	end = nvme_now_ms() + 400;
	while (nvme_now_ms() < end) {
		CU_ASSERT(ftgt_nvme_ctrlr_process_admin_completions(ctrlr) != -ENXIO);
		CU_ASSERT(ftgt_nvme_qpair_process_completions(q, 0) != -ENXIO);
		usleep(500);
	}
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_RESETTING);
	CU_ASSERT(ctrlr->attempts >= 3);
	mock_target_set_refuse(t, false);
	CU_ASSERT(poll_until_connected(ctrlr, q, 5000));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	{
		struct io_ctx c = {0};

		CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c), 0);
		wait_io2(ctrlr, q, &c);
		CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&c.cpl));
	}
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* A command the Abort does not end: with reconnect, the controller is reset. */
static void
test_timeout_resets(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	struct io_ctx c = {0}, w = {0};
	uint8_t buf[4096];
	uint64_t start;

	mock_target_opts_default(&mo);
	mo.swallow_opc = NVME_OPC_READ;
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.command_timeout_ms = 200;
	opts.reconnect_delay_ms = 50;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	start = nvme_now_ms();
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_read(q, 1, buf, 0, 1, 0, io_cb, &c), 0);
	wait_io2(ctrlr, q, &c);
	CU_ASSERT(nvme_now_ms() - start >= 400);
	CU_ASSERT_EQUAL(mock_target_aborts(t), 1);
	CU_ASSERT_EQUAL(sc_of(&c.cpl), NVME_SC_ABORTED_SQ_DELETION);
	CU_ASSERT_FALSE(ftgt_nvme_qpair_is_failed(q));
	CU_ASSERT(poll_until_connected(ctrlr, q, 5000));
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	CU_ASSERT_EQUAL(ctrlr->resets, 1);
	memset(buf, 0x77, sizeof(buf));
	CU_ASSERT_EQUAL(ftgt_nvme_ns_cmd_write(q, 1, buf, 0, 8, 0, io_cb, &w), 0);
	wait_io2(ctrlr, q, &w);
	CU_ASSERT_FALSE(ftgt_nvme_cpl_is_error(&w.cpl));
	CU_ASSERT_EQUAL(mock_target_data(t)[0], 0x77);
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* Keep-alive lost (connection dropped) without reconnect: FAILED, qpairs -ENXIO. */
static void
test_admin_lost_no_reconnect(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct ftgt_nvme_qpair *q;
	struct mock_target *t;
	uint64_t deadline;
	int rc = 0;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	q = ftgt_nvme_ctrlr_alloc_io_qpair(ctrlr, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	mock_target_drop_conns(t);
	CU_ASSERT(poll_until_state(ctrlr, NULL, FTGT_NVME_CTRLR_FAILED, 3000));
	deadline = nvme_now_ms() + 3000;
	while (nvme_now_ms() < deadline && (rc = ftgt_nvme_qpair_process_completions(q, 0)) >= 0) {
	}
	CU_ASSERT_EQUAL(rc, -ENXIO);
	CU_ASSERT(ftgt_nvme_qpair_is_failed(q));
	ftgt_nvme_ctrlr_free_io_qpair(q);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* A small admin queue: AERs leave room for Keep Alive and other admin commands. */
static void
test_small_admin_queue(void)
{
	struct ftgt_nvme_ctrlr_opts opts;
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;
	uint64_t end, ka;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.admin_queue_size = 6;
	opts.kato_ms = 200;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	CU_ASSERT_EQUAL(ctrlr->num_aers, 2);
	ka = mock_target_keep_alives(t);
	end = nvme_now_ms() + 600;
	while (nvme_now_ms() < end) {
		CU_ASSERT_FATAL(ftgt_nvme_ctrlr_process_admin_completions(ctrlr) >= 0);
		usleep(1000);
	}
	CU_ASSERT_EQUAL(mock_target_outstanding_aers(t), 2);
	CU_ASSERT(mock_target_keep_alives(t) >= ka + 2);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_state(ctrlr), FTGT_NVME_CTRLR_ENABLED);
	ftgt_nvme_detach(ctrlr);
	mock_target_stop(t);
}

/* detach notifies the controller (CC.SHN); detach_no_shutdown just closes. */
static void
test_detach_modes(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;

	mock_target_opts_default(&mo);
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	ftgt_nvme_detach_no_shutdown(ctrlr);
	usleep(50 * 1000);
	CU_ASSERT_EQUAL(mock_target_shutdowns(t), 0);
	ctrlr = connect_to(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	ftgt_nvme_detach(ctrlr);
	CU_ASSERT_EQUAL(mock_target_shutdowns(t), 1);
	mock_target_stop(t);
}

/* More than one page (1024) of active NSIDs: every namespace is found. */
static void
test_many_namespaces(void)
{
	struct mock_target_opts mo;
	struct ftgt_nvme_ctrlr_opts opts;
	struct ftgt_nvme_ctrlr *ctrlr;
	struct mock_target *t;

	mock_target_opts_default(&mo);
	mo.extra_ns = 1100; /* 1 + 1100 active: pages of 1024 and 77 */
	t = mock_target_start(&mo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	ftgt_nvme_ctrlr_opts_default(&opts);
	opts.connect_timeout_ms = 20000;
	ctrlr = connect_to(t, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctrlr);
	CU_ASSERT_EQUAL(ftgt_nvme_ctrlr_get_num_ns(ctrlr), 1101);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_num_blocks(ctrlr, 8 + 1100), mo.num_blocks);
	CU_ASSERT_EQUAL(ftgt_nvme_ns_get_num_blocks(ctrlr, 1030), mo.num_blocks);
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
	s = CU_add_suite("nvme_ctrlr", NULL, NULL);
	CU_add_test(s, "state_names", test_state_names);
	CU_add_test(s, "connect_async", test_connect_async);
	CU_add_test(s, "aer", test_aer);
	CU_add_test(s, "reset", test_reset);
	CU_add_test(s, "reconnect_drop", test_reconnect_drop);
	CU_add_test(s, "backoff_gives_up", test_backoff_gives_up);
	CU_add_test(s, "backoff_recovers", test_backoff_recovers);
	CU_add_test(s, "timeout_resets", test_timeout_resets);
	CU_add_test(s, "admin_lost_no_reconnect", test_admin_lost_no_reconnect);
	CU_add_test(s, "small_admin_queue", test_small_admin_queue);
	CU_add_test(s, "many_namespaces", test_many_namespaces);
	CU_add_test(s, "detach_modes", test_detach_modes);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
