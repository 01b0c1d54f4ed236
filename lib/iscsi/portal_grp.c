/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Portal groups: TCP listeners (validated like NVMe-oF listeners) and the acceptor
 * poller on the app thread, which hands each new connection to a reactor.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ftgt/log.h"
#include "ftgt/string.h"
#include "ftgt/thread.h"
#include "iscsi_internal.h"

int
iscsi_pg_listen(struct iscsi_portal_grp *pg, char *err, size_t err_len)
{
	int i, one = 1;

	for (i = 0; i < pg->num_portals; i++) {
		struct iscsi_portal *p = &pg->portals[i];
		socklen_t len;
		int fd, rc;

		p->fd = -1;
		rc = ftgt_parse_ip_port(p->host, p->port, AF_UNSPEC, &p->addr, &len);
		if (rc != 0) {
			snprintf(err, err_len, "portal %s:%s: not a numeric address and port",
			         p->host, p->port);
			goto fail;
		}
		if (!ftgt_addr_is_local((struct sockaddr *)&p->addr)) {
			snprintf(err, err_len, "portal %s:%s: address is not local", p->host,
			         p->port);
			rc = -EADDRNOTAVAIL;
			goto fail;
		}
		fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			snprintf(err, err_len, "portal %s:%s: socket: %s", p->host, p->port,
			         strerror(errno));
			goto fail;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (p->addr.ss_family == AF_INET6) {
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		}
		if (bind(fd, (struct sockaddr *)&p->addr, len) != 0 || listen(fd, 128) != 0) {
			rc = -errno;
			snprintf(err, err_len, "portal %s:%s: cannot listen: %s", p->host, p->port,
			         strerror(errno));
			close(fd);
			goto fail;
		}
		p->fd = fd;
		continue;
	fail:
		while (--i >= 0) {
			close(pg->portals[i].fd);
			pg->portals[i].fd = -1;
		}
		return rc;
	}
	return 0;
}

void
iscsi_pg_close(struct iscsi_portal_grp *pg)
{
	int i;

	for (i = 0; i < pg->num_portals; i++) {
		if (pg->portals[i].fd >= 0) {
			close(pg->portals[i].fd);
			pg->portals[i].fd = -1;
		}
	}
}

int
iscsi_acceptor_poll(void *ctx)
{
	struct iscsi_portal_grp *pg;
	int busy = FTGT_POLLER_IDLE, i, n;

	if (g_iscsi.stopping) {
		return FTGT_POLLER_IDLE;
	}
	TAILQ_FOREACH (pg, &g_iscsi.pgs, link) {
		for (i = 0; i < pg->num_portals; i++) {
			for (n = 0; n < 16 && pg->portals[i].fd >= 0; n++) {
				struct sockaddr_storage peer, local;
				socklen_t pl = sizeof(peer), ll = sizeof(local);
				int fd, one = 1;

				fd = accept4(pg->portals[i].fd, (struct sockaddr *)&peer, &pl,
				             SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0) {
					break;
				}
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				if (getsockname(fd, (struct sockaddr *)&local, &ll) != 0) {
					close(fd);
					continue;
				}
				g_iscsi.stats.connections_accepted++;
				iscsi_conn_create(fd, pg->tag, &peer, &local);
				busy = FTGT_POLLER_BUSY;
			}
		}
	}
	return busy;
}
