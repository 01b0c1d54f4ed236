/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP transport: the ops table, listening sockets, and poll groups. Listeners are
 * polled for new connections on the app thread; each accepted socket is handed, round
 * robin, to the poll group of one reactor thread, which owns it from then on. A poll
 * group's poller receives and processes the PDUs of every connection with something to
 * read (see struct nvmf_tcp_poll_group) and then flushes every connection's queued PDUs,
 * once per iteration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/string.h"
#include "tcp_internal.h"

#define TT(t) FTGT_CONTAINEROF(t, struct nvmf_tcp_transport, base)

static void
tcp_opts_init(struct ftgt_nvmf_transport_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_queue_depth = 128;
	o->max_aq_depth = 32;
	o->max_qpairs_per_ctrlr = 128;
	o->in_capsule_data_size = 4096;
	o->max_io_size = 131072;
	o->io_unit_size = 131072;
	o->num_shared_buffers = 511;
	o->c2h_success = true;
}

void
nvmf_tcp_pg_set_hot(struct nvmf_tcp_poll_group *pg, struct nvmf_tcp_qpair *tq)
{
	if (!tq->hot) {
		tq->hot = true;
		tq->idle_polls = 0;
		TAILQ_INSERT_TAIL(&pg->hot, tq, hot_link);
		pg->num_hot++;
	}
}

static void
pg_clear_hot(struct nvmf_tcp_poll_group *pg, struct nvmf_tcp_qpair *tq)
{
	if (tq->hot) {
		tq->hot = false;
		TAILQ_REMOVE(&pg->hot, tq, hot_link);
		pg->num_hot--;
	}
}

void
nvmf_tcp_pg_qpair_quiesce(struct nvmf_tcp_poll_group *pg, struct nvmf_tcp_qpair *tq)
{
	pg_clear_hot(pg, tq);
	if (tq->on_flushq) {
		tq->on_flushq = false;
		TAILQ_REMOVE(&pg->flushq, tq, flush_link);
	}
	if (tq->in_epoll) {
		epoll_ctl(pg->epfd, EPOLL_CTL_DEL, tq->fd, NULL);
		tq->in_epoll = false;
	}
}

static int
pg_flush(struct nvmf_tcp_poll_group *pg)
{
	struct nvmf_tcp_qpair *tq, *tmp;
	int busy = FTGT_POLLER_IDLE;

	TAILQ_FOREACH_SAFE (tq, &pg->flushq, flush_link, tmp) {
		if (nvmf_tcp_qpair_flush(tq) == FTGT_POLLER_BUSY) {
			busy = FTGT_POLLER_BUSY;
		}
		if (tq->disconnecting || TAILQ_EMPTY(&tq->txq)) {
			tq->on_flushq = false;
			TAILQ_REMOVE(&pg->flushq, tq, flush_link);
		}
	}
	return busy;
}

/*
 * One pass: send what completed since the last pass, let epoll name the connections that
 * are not hot but have data, receive and process every hot connection, and send what that
 * produced. The sends come first and last so that no system call sits between a
 * completion and its send.
 */
static int
pg_poll(void *arg)
{
	struct nvmf_tcp_poll_group *pg = arg;
	struct epoll_event evs[NVMF_TCP_EPOLL_EVENTS];
	struct nvmf_tcp_qpair *tq, *tmp;
	int busy, n, i;

	busy = pg_flush(pg);
	/* Connections that are not hot: one epoll_wait for all, only when there are some. */
	if (pg->num_qpairs > pg->num_hot && pg->epfd >= 0) {
		n = epoll_wait(pg->epfd, evs, NVMF_TCP_EPOLL_EVENTS, 0);
		for (i = 0; i < n; i++) {
			tq = evs[i].data.ptr;
			if (!tq->disconnecting) {
				nvmf_tcp_pg_set_hot(pg, tq);
			}
		}
	}
	/* Hot connections: recv() directly, one system call each, as without epoll. */
	TAILQ_FOREACH_SAFE (tq, &pg->hot, hot_link, tmp) {
		if (nvmf_tcp_qpair_recv(tq) == FTGT_POLLER_BUSY) {
			busy = FTGT_POLLER_BUSY;
		}
		if (tq->disconnecting ||
		    (tq->in_epoll && tq->idle_polls >= NVMF_TCP_HOT_IDLE_POLLS &&
		     tq->rbuf_off == tq->rbuf_len)) {
			pg_clear_hot(pg, tq);
		}
	}
	if (pg_flush(pg) == FTGT_POLLER_BUSY) {
		busy = FTGT_POLLER_BUSY;
	}
	return busy;
}

static void pg_check_destroyed(struct nvmf_tcp_poll_group *pg);

static void
tcp_qpair_freed(void *arg)
{
	struct nvmf_tcp_qpair *tq = arg;
	struct nvmf_tcp_poll_group *pg = tq->pg;

	nvmf_tcp_pg_qpair_quiesce(pg, tq);
	TAILQ_REMOVE(&pg->qpairs, tq, link);
	pg->num_qpairs--;
	pg->pdus_in += tq->pdus_in;
	pg->pdus_out += tq->pdus_out;
	close(tq->fd);
	nvmf_tcp_qpair_free(tq);
	pg_check_destroyed(pg);
}

/* Reap connections marked for disconnect (outside the poll loop of the connection). */
static int
pg_reap(void *arg)
{
	struct nvmf_tcp_poll_group *pg = arg;
	struct nvmf_tcp_qpair *tq, *tmp;

	if (pg->num_to_reap == 0) {
		return FTGT_POLLER_IDLE;
	}
	TAILQ_FOREACH_SAFE (tq, &pg->qpairs, link, tmp) {
		if (tq->disconnecting && tq->qpair.disconnect_cb == NULL &&
		    tq->qpair.state != FTGT_NVMF_QPAIR_ERROR) {
			pg->num_to_reap--;
			ftgt_nvmf_qpair_fini(&tq->qpair, tcp_qpair_freed, tq);
		}
	}
	return FTGT_POLLER_IDLE;
}

static int
pg_poll_all(void *arg)
{
	int busy = pg_poll(arg);

	pg_reap(arg);
	return busy;
}

static void
pg_create_msg(void *arg)
{
	struct nvmf_tcp_poll_group *pg = arg;

	pg->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (pg->epfd < 0) {
		FTGT_ERRLOG("nvmf_tcp: epoll_create1: %s (every connection polled)\n",
		            strerror(errno));
	}
	pg->poller = ftgt_poller_register(pg_poll_all, pg, 0, "nvmf_tcp_poll_group");
}

struct accept_ctx {
	struct nvmf_tcp_poll_group *pg;
	int fd;
	struct ftgt_nvmf_listen_addr listen_addr;
	struct ftgt_nvmf_listen_addr peer_addr;
};

static void
pg_add_msg(void *arg)
{
	struct accept_ctx *ctx = arg;

	if (ctx->pg->destroying) {
		close(ctx->fd);
	} else {
		nvmf_tcp_qpair_start(ctx->pg, ctx->fd, &ctx->listen_addr, &ctx->peer_addr);
		ctx->pg->accepted_qpairs++;
	}
	free(ctx);
}

static void
peer_addr_fill(const struct sockaddr_storage *ss, struct ftgt_nvmf_listen_addr *a)
{
	memset(a, 0, sizeof(*a));
	ftgt_strlcpy(a->trtype, "TCP", sizeof(a->trtype));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		a->adrfam = NVMF_ADRFAM_IPV4;
		inet_ntop(AF_INET, &in->sin_addr, a->traddr, sizeof(a->traddr));
		snprintf(a->trsvcid, sizeof(a->trsvcid), "%u", ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		a->adrfam = NVMF_ADRFAM_IPV6;
		inet_ntop(AF_INET6, &in6->sin6_addr, a->traddr, sizeof(a->traddr));
		snprintf(a->trsvcid, sizeof(a->trsvcid), "%u", ntohs(in6->sin6_port));
	}
}

static int
accept_poll(void *arg)
{
	struct nvmf_tcp_transport *tt = arg;
	struct nvmf_tcp_listener *l;
	int busy = FTGT_POLLER_IDLE;

	TAILQ_FOREACH (l, &tt->listeners, link) {
		for (;;) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			struct accept_ctx *ctx;
			int fd, one = 1;

			fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			             SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
					/* EMFILE, ENOBUFS, ECONNABORTED...: the listener stays
					 * armed and is polled again next time. */
					l->accept_errors++;
					FTGT_ERRLOG_RL(
					        &l->rl, "nvmf_tcp: accept on %s port %s: %s\n",
					        l->addr.traddr, l->addr.trsvcid, strerror(errno));
				}
				break;
			}
			busy = FTGT_POLLER_BUSY;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (tt->base.opts.sock_priority != 0) {
				int prio = (int)tt->base.opts.sock_priority;

				setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio));
			}
			if (ftgt_app_is_shutting_down()) {
				close(fd);
				continue;
			}
			ctx = calloc(1, sizeof(*ctx));
			if (ctx == NULL || tt->num_pgs == 0) {
				free(ctx);
				close(fd);
				continue;
			}
			ctx->pg = &tt->pgs[tt->next_pg++ % tt->num_pgs];
			ctx->fd = fd;
			ctx->listen_addr = l->addr;
			peer_addr_fill(&ss, &ctx->peer_addr);
			if (ftgt_thread_send_msg(ctx->pg->thread, pg_add_msg, ctx) != 0) {
				close(fd);
				free(ctx);
			}
		}
	}
	return busy;
}

static struct ftgt_nvmf_transport *
tcp_create(const struct ftgt_nvmf_transport_opts *opts)
{
	struct nvmf_tcp_transport *tt;
	uint32_t core;
	struct ftgt_thread *t;

	if (opts->max_queue_depth < 2 || opts->max_aq_depth < 2 || opts->max_qpairs_per_ctrlr < 2 ||
	    opts->max_io_size < 4096 || opts->max_io_size % 4 != 0 ||
	    opts->in_capsule_data_size > opts->max_io_size) {
		FTGT_ERRLOG("nvmf_tcp: invalid transport options\n");
		return NULL;
	}
	tt = calloc(1, sizeof(*tt));
	if (tt == NULL) {
		return NULL;
	}
	tt->base.opts = *opts;
	TAILQ_INIT(&tt->listeners);
	/* One poll group per reactor; without reactors (tools, tests) the calling thread. */
	for (core = 0; core < NVMF_TCP_MAX_POLL_GROUPS; core++) {
		t = ftgt_reactor_get_thread(core);
		if (t != NULL) {
			tt->pgs[tt->num_pgs++].thread = t;
		}
	}
	if (tt->num_pgs == 0) {
		tt->pgs[tt->num_pgs++].thread = ftgt_get_thread();
	}
	for (core = 0; core < tt->num_pgs; core++) {
		struct nvmf_tcp_poll_group *pg = &tt->pgs[core];

		pg->ttransport = tt;
		TAILQ_INIT(&pg->qpairs);
		TAILQ_INIT(&pg->hot);
		TAILQ_INIT(&pg->flushq);
		pg->epfd = -1;
		nvmf_io_stats_init(&pg->io);
		ftgt_thread_send_msg(pg->thread, pg_create_msg, pg);
	}
	tt->accept_poller = ftgt_poller_register(accept_poll, tt, 1000, "nvmf_tcp_accept");
	return &tt->base;
}

static void
tcp_destroy_done(void *arg)
{
	struct nvmf_tcp_transport *tt = arg;

	if (--tt->pgs_left == 0) {
		void (*cb_fn)(void *) = tt->destroy_cb;
		void *cb_arg = tt->destroy_cb_arg;

		free(tt);
		cb_fn(cb_arg);
	}
}

static void
pg_check_destroyed(struct nvmf_tcp_poll_group *pg)
{
	if (pg->destroying && pg->num_qpairs == 0 && pg->poller != NULL) {
		ftgt_poller_unregister(&pg->poller);
		if (pg->epfd >= 0) {
			close(pg->epfd);
			pg->epfd = -1;
		}
		ftgt_thread_send_msg(pg->ttransport->destroy_thread, tcp_destroy_done,
		                     pg->ttransport);
	}
}

static void
pg_destroy_msg(void *arg)
{
	struct nvmf_tcp_poll_group *pg = arg;
	struct nvmf_tcp_qpair *tq;

	pg->destroying = true;
	TAILQ_FOREACH (tq, &pg->qpairs, link) {
		nvmf_tcp_qpair_disconnect(&tq->qpair);
	}
	if (pg->num_qpairs == 0) {
		pg_check_destroyed(pg);
	}
}

static void
tcp_destroy(struct ftgt_nvmf_transport *t, void (*cb_fn)(void *cb_arg), void *cb_arg)
{
	struct nvmf_tcp_transport *tt = TT(t);
	struct nvmf_tcp_listener *l;
	uint32_t i;

	ftgt_poller_unregister(&tt->accept_poller);
	while ((l = TAILQ_FIRST(&tt->listeners)) != NULL) {
		TAILQ_REMOVE(&tt->listeners, l, link);
		close(l->fd);
		free(l);
	}
	tt->destroy_cb = cb_fn;
	tt->destroy_thread = ftgt_get_thread();
	tt->destroy_cb_arg = cb_arg;
	tt->pgs_left = tt->num_pgs;
	for (i = 0; i < tt->num_pgs; i++) {
		ftgt_thread_send_msg(tt->pgs[i].thread, pg_destroy_msg, &tt->pgs[i]);
	}
}

static int
tcp_listen(struct ftgt_nvmf_transport *t, const struct ftgt_nvmf_listen_addr *addr)
{
	struct nvmf_tcp_transport *tt = TT(t);
	struct nvmf_tcp_listener *l;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, rc;
	int family = addr->adrfam == NVMF_ADRFAM_IPV6 ? AF_INET6 : AF_INET;

	rc = ftgt_parse_ip_port(addr->traddr, addr->trsvcid, family, &ss, &len);
	if (rc != 0) {
		return rc;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 512) != 0) {
		rc = -errno;
		FTGT_ERRLOG("nvmf_tcp: cannot listen on %s port %s: %s\n", addr->traddr,
		            addr->trsvcid, strerror(-rc));
		close(fd);
		return rc;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		close(fd);
		return -ENOMEM;
	}
	l->addr = *addr;
	l->fd = fd;
	l->rl = (struct ftgt_log_ratelimit)FTGT_LOG_RATELIMIT_INIT(1000, 5);
	TAILQ_INSERT_TAIL(&tt->listeners, l, link);
	FTGT_NOTICELOG("nvmf_tcp: listening on %s port %s\n", addr->traddr, addr->trsvcid);
	return 0;
}

static void
tcp_stop_listen(struct ftgt_nvmf_transport *t, const struct ftgt_nvmf_listen_addr *addr)
{
	struct nvmf_tcp_transport *tt = TT(t);
	struct nvmf_tcp_listener *l;

	TAILQ_FOREACH (l, &tt->listeners, link) {
		if (strcmp(l->addr.traddr, addr->traddr) == 0 &&
		    strcmp(l->addr.trsvcid, addr->trsvcid) == 0 && l->addr.adrfam == addr->adrfam) {
			TAILQ_REMOVE(&tt->listeners, l, link);
			close(l->fd);
			free(l);
			return;
		}
	}
}

static void
tcp_cdata_init(struct ftgt_nvmf_transport *t, struct nvme_ctrlr_data *cd)
{
	/* SGLs: transport data blocks (R2T/C2HData) and in-capsule data at an offset. */
	cd->sgls = ftgt_cpu_to_le32(NVME_CTRLR_SGLS_SUPPORTED | NVME_CTRLR_SGLS_OFFSET);
}

struct pg_snapshot {
	char name[64];
	uint32_t current_qpairs;
	uint64_t accepted_qpairs;
	uint64_t pdus_in;
	uint64_t pdus_out;
	struct nvmf_io_stats io;
};

struct stats_ctx {
	struct nvmf_tcp_transport *tt;
	struct ftgt_thread *origin;
	uint32_t next;
	struct pg_snapshot snap[NVMF_TCP_MAX_POLL_GROUPS];
	struct nvmf_io_stats total; /* of every poll group */
	void (*cb_fn)(void *cb_arg, void *json_array);
	void *cb_arg;
};

static void stats_next(void *arg);

/* On the poll group's thread: copy its counters, then go on from the app thread. */
static void
pg_stats_msg(void *arg)
{
	struct stats_ctx *ctx = arg;
	struct nvmf_tcp_poll_group *pg = &ctx->tt->pgs[ctx->next];
	struct pg_snapshot *s = &ctx->snap[ctx->next];
	struct nvmf_tcp_qpair *tq;

	ftgt_strlcpy(s->name, ftgt_thread_get_name(pg->thread), sizeof(s->name));
	s->current_qpairs = pg->num_qpairs;
	s->accepted_qpairs = pg->accepted_qpairs;
	s->pdus_in = pg->pdus_in;
	s->pdus_out = pg->pdus_out;
	s->io = pg->io;
	TAILQ_FOREACH (tq, &pg->qpairs, link) {
		s->pdus_in += tq->pdus_in;
		s->pdus_out += tq->pdus_out;
	}
	ctx->next++;
	ftgt_thread_send_msg(ctx->origin, stats_next, ctx);
}

static void
stats_next(void *arg)
{
	struct stats_ctx *ctx = arg;
	json_t *arr;
	uint32_t i;

	if (ctx->next < ctx->tt->num_pgs) {
		ftgt_thread_send_msg(ctx->tt->pgs[ctx->next].thread, pg_stats_msg, ctx);
		return;
	}
	arr = json_array();
	nvmf_io_stats_init(&ctx->total);
	for (i = 0; i < ctx->tt->num_pgs; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(ctx->snap[i].name));
		json_object_set_new(o, "trtype", json_string("TCP"));
		json_object_set_new(o, "current_qpairs", json_integer(ctx->snap[i].current_qpairs));
		json_object_set_new(o, "accepted_qpairs",
		                    json_integer((json_int_t)ctx->snap[i].accepted_qpairs));
		json_object_set_new(o, "pdus_in", json_integer((json_int_t)ctx->snap[i].pdus_in));
		json_object_set_new(o, "pdus_out", json_integer((json_int_t)ctx->snap[i].pdus_out));
		nvmf_io_stats_to_json(o, &ctx->snap[i].io);
		nvmf_io_stats_merge(&ctx->total, &ctx->snap[i].io);
		json_array_append_new(arr, o);
	}
	if (ctx->cb_fn == nvmf_rpc_stats_transport_done) {
		nvmf_rpc_stats_add_io(ctx->cb_arg, &ctx->total);
	}
	ctx->cb_fn(ctx->cb_arg, arr);
	free(ctx);
}

static void
tcp_get_stats(struct ftgt_nvmf_transport *t, void (*cb_fn)(void *cb_arg, void *json_array),
              void *cb_arg)
{
	struct stats_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		cb_fn(cb_arg, json_array());
		return;
	}
	ctx->tt = TT(t);
	ctx->origin = ftgt_get_thread();
	ctx->cb_fn = cb_fn;
	ctx->cb_arg = cb_arg;
	stats_next(ctx);
}

static const struct nvmf_transport_ops g_tcp_ops = {
        .name = "TCP",
        .trtype = NVMF_TRTYPE_TCP,
        .opts_init = tcp_opts_init,
        .create = tcp_create,
        .destroy = tcp_destroy,
        .listen = tcp_listen,
        .stop_listen = tcp_stop_listen,
        .req_complete = nvmf_tcp_req_complete,
        .qpair_disconnect = nvmf_tcp_qpair_disconnect,
        .qpair_find_req = nvmf_tcp_qpair_find_req,
        .qpair_abort_req = nvmf_tcp_qpair_abort_req,
        .cdata_init = tcp_cdata_init,
        .get_stats = tcp_get_stats,
};
FTGT_NVMF_TRANSPORT_REGISTER(tcp, &g_tcp_ops)
