/* SPDX-License-Identifier: BSD-3-Clause */
/* Blocking NVMe/TCP mock target for host tests (see mock_target.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ftgt/crc32c.h"
#include "ftgt/spec/nvme.h"
#include "ftgt/spec/nvme_tcp.h"
#include "ftgt/spec/nvmf.h"
#include "ftgt/string.h"
#include "mock_target.h"

#define MOCK_MAX_CONNS   64
#define MOCK_MAX_NS      8
#define MOCK_MAX_ACCEPTS 256

/* A command capsule that arrived while an earlier command waited for its H2CData. */
struct mock_backlog {
	uint8_t hdr[160];
	uint8_t *icd;
	uint32_t icd_len;
	struct mock_backlog *next;
};

struct mock_conn {
	pthread_mutex_t wlock; /* one PDU at a time: AENs come from other threads */
	bool finished;         /* the thread is done: the accept thread reaps it */
	/* Fused Compare waiting for its Write (FUSE second). */
	bool fused_pending;
	struct nvme_cmd fused_cmd;
	uint8_t *fused_buf;
	uint16_t aer_cids[8];
	uint32_t num_aers;
	struct mock_backlog *backlog;
	struct mock_backlog *backlog_tail;
	struct mock_target *t;
	int fd;
	pthread_t thread;
	bool hdgst;
	bool ddgst;
	uint16_t qid;
	bool used;
};

struct mock_target {
	struct mock_target_opts opts;
	int lfd;
	uint16_t port;
	pthread_t accept_thread;
	bool stop; /* atomic */
	pthread_mutex_t lock;
	uint8_t *data;
	uint32_t cc;
	uint32_t csts;
	uint64_t keep_alives;
	uint64_t shutdowns; /* Property Set CC with SHN set */
	uint64_t aborts;
	uint64_t r2ts;
	uint64_t icd_writes;
	uint32_t last_hdgst;
	/* Namespaces 1..MOCK_MAX_NS: active flag and size (only nsid 1 has data). */
	bool ns_active[MOCK_MAX_NS + 1];
	uint64_t ns_blocks[MOCK_MAX_NS + 1];
	uint32_t aec;     /* Asynchronous Event Configuration set by the host */
	bool aen_pending; /* a namespace notice waits for an AER */
	bool aen_masked;  /* sent, Changed Namespace List not read yet */
	uint32_t changed[MOCK_MAX_NS];
	uint32_t num_changed;
	uint64_t changed_ns_reads;
	uint64_t aens_sent;
	uint64_t fused_pairs;
	bool refuse; /* atomic */
	uint32_t accepts;
	uint64_t accept_ms[MOCK_MAX_ACCEPTS];
	struct mock_conn conns[MOCK_MAX_CONNS];
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
mock_target_opts_default(struct mock_target_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->subnqn = "nqn.2026-01.io.ftgt:mock";
	o->block_size = 512;
	o->num_blocks = 2048;
	o->ioccsz_bytes = 64 + 8192;
	o->c2h_chunk = 64 * 1024;
	o->r2t_chunk = 64 * 1024;
	o->maxh2cdata = 32 * 1024;
	o->swallow_opc = 0xff;
	o->swallow_admin_opc = 0xff;
}

static int
read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n <= 0) {
			if (n < 0 && errno == EINTR) {
				continue;
			}
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0) {
			if (n < 0 && errno == EINTR) {
				continue;
			}
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint32_t
crc(const void *p, size_t len)
{
	return ftgt_crc32c_update(p, len, FTGT_CRC32C_INIT) ^ FTGT_CRC32C_XOR;
}

/* Send a PDU: hdr of hlen bytes, optional data. */
static int
send_pdu(struct mock_conn *c, void *hdr, uint32_t hlen, const void *data, uint32_t dlen,
         bool corrupt)
{
	struct nvme_tcp_ch *ch = hdr;
	uint8_t buf[512];
	uint32_t off = hlen, hd = c->hdgst ? 4 : 0, dd = (dlen > 0 && c->ddgst) ? 4 : 0;
	uint32_t pdo = dlen > 0 ? hlen + hd : 0;

	ch->hlen = (uint8_t)hlen;
	ch->pdo = (uint8_t)pdo;
	ch->plen = ftgt_cpu_to_le32(hlen + hd + dlen + dd);
	if (c->hdgst) {
		ch->flags |= NVME_TCP_CH_FLAGS_HDGSTF;
	}
	if (dd) {
		ch->flags |= NVME_TCP_CH_FLAGS_DDGSTF;
	}
	memcpy(buf, hdr, hlen);
	if (c->hdgst) {
		uint32_t d = ftgt_cpu_to_le32(crc(buf, hlen));

		memcpy(buf + off, &d, 4);
		off += 4;
	}
	pthread_mutex_lock(&c->wlock);
	if (write_full(c->fd, buf, off) != 0 || (dlen > 0 && write_full(c->fd, data, dlen) != 0)) {
		pthread_mutex_unlock(&c->wlock);
		return -1;
	}
	if (dd) {
		uint32_t d = ftgt_cpu_to_le32(crc(data, dlen) ^ (corrupt ? 1u : 0u));
		int rc = write_full(c->fd, &d, 4);

		pthread_mutex_unlock(&c->wlock);
		return rc;
	}
	pthread_mutex_unlock(&c->wlock);
	return 0;
}

static int
send_rsp(struct mock_conn *c, uint16_t cid, uint16_t status, uint32_t cdw0, uint32_t cdw1)
{
	struct nvme_tcp_rsp rsp;

	memset(&rsp, 0, sizeof(rsp));
	rsp.ch.pdu_type = NVME_TCP_PDU_TYPE_CAPSULE_RESP;
	rsp.rccqe.cid = ftgt_cpu_to_le16(cid);
	rsp.rccqe.sqid = ftgt_cpu_to_le16(c->qid);
	rsp.rccqe.cdw0 = ftgt_cpu_to_le32(cdw0);
	rsp.rccqe.cdw1 = ftgt_cpu_to_le32(cdw1);
	rsp.rccqe.status = ftgt_cpu_to_le16(status);
	return send_pdu(c, &rsp, sizeof(rsp), NULL, 0, false);
}

/* Send data to the host in C2HData PDUs; with SUCCESS no CapsuleResp follows. */
static int
send_c2h(struct mock_conn *c, uint16_t cid, const uint8_t *data, uint32_t len)
{
	struct mock_target *t = c->t;
	uint32_t off = 0;

	while (off < len) {
		struct nvme_tcp_data_hdr h;
		uint32_t n = len - off < t->opts.c2h_chunk ? len - off : t->opts.c2h_chunk;

		memset(&h, 0, sizeof(h));
		h.ch.pdu_type = NVME_TCP_PDU_TYPE_C2H_DATA;
		h.cccid = ftgt_cpu_to_le16(cid);
		h.datao = ftgt_cpu_to_le32(off);
		h.datal = ftgt_cpu_to_le32(n);
		if (off + n == len) {
			h.ch.flags = NVME_TCP_C2H_DATA_FLAGS_LAST_PDU;
			if (t->opts.c2h_success) {
				h.ch.flags |= NVME_TCP_C2H_DATA_FLAGS_SUCCESS;
			}
		}
		if (send_pdu(c, &h, sizeof(h), data + off, n, t->opts.corrupt_ddgst) != 0) {
			return -1;
		}
		off += n;
	}
	return t->opts.c2h_success ? 1 : 0;
}

/* Read one PDU header (+digest) into hdr; returns plen or -1. */
static int
recv_hdr(struct mock_conn *c, uint8_t *hdr, uint32_t *hlen_out)
{
	struct nvme_tcp_ch *ch = (struct nvme_tcp_ch *)hdr;
	uint32_t hd;

	if (read_full(c->fd, hdr, 8) != 0) {
		return -1;
	}
	if (ch->hlen < 8 || ch->hlen > 128) {
		return -1;
	}
	hd = (c->hdgst && ch->pdu_type != NVME_TCP_PDU_TYPE_IC_REQ) ? 4 : 0;
	if (read_full(c->fd, hdr + 8, ch->hlen - 8 + hd) != 0) {
		return -1;
	}
	if (hd) {
		uint32_t d;

		memcpy(&d, hdr + ch->hlen, 4);
		if (ftgt_le32_to_cpu(d) != crc(hdr, ch->hlen)) {
			return -1;
		}
		c->t->last_hdgst = ftgt_le32_to_cpu(d);
	}
	if (ch->pdo > ch->hlen + hd) {
		uint8_t pad[256];

		if (read_full(c->fd, pad, ch->pdo - ch->hlen - hd) != 0) {
			return -1;
		}
	}
	*hlen_out = ch->hlen;
	return (int)ftgt_le32_to_cpu(ch->plen);
}

/* Receive the payload (and its digest) of a PDU whose header is in hdr. */
static int
recv_data(struct mock_conn *c, const uint8_t *hdr, void *dst, uint32_t len)
{
	const struct nvme_tcp_ch *ch = (const struct nvme_tcp_ch *)hdr;

	if (read_full(c->fd, dst, len) != 0) {
		return -1;
	}
	if (ch->flags & NVME_TCP_CH_FLAGS_DDGSTF) {
		uint32_t d;

		if (read_full(c->fd, &d, 4) != 0 || ftgt_le32_to_cpu(d) != crc(dst, len)) {
			return -1;
		}
	}
	return 0;
}

static int recv_capsule(struct mock_conn *c, uint8_t *hdr, uint8_t **icd, uint32_t *icd_len,
                        int plen);
static int handle_io_one(struct mock_conn *c, const struct nvme_cmd *cmd, uint8_t *icd,
                         uint32_t icd_len);

/* Get host data for a write-like command: in capsule, or R2T + H2CData. */
static int
get_h2c(struct mock_conn *c, const struct nvme_cmd *cmd, uint8_t *icd, uint32_t icd_len,
        uint8_t *dst, uint32_t len)
{
	struct mock_target *t = c->t;
	uint32_t off = 0;

	if (icd_len > 0) {
		if (icd_len != len) {
			return -1;
		}
		memcpy(dst, icd, len);
		t->icd_writes++;
		return 0;
	}
	while (off < len) {
		struct nvme_tcp_r2t_hdr r2t;
		uint32_t want = len - off < t->opts.r2t_chunk ? len - off : t->opts.r2t_chunk;
		uint32_t got = 0;

		memset(&r2t, 0, sizeof(r2t));
		r2t.ch.pdu_type = NVME_TCP_PDU_TYPE_R2T;
		r2t.cccid = cmd->cid;
		r2t.ttag = ftgt_cpu_to_le16(7);
		r2t.r2to = ftgt_cpu_to_le32(off);
		r2t.r2tl = ftgt_cpu_to_le32(want);
		t->r2ts++;
		if (send_pdu(c, &r2t, sizeof(r2t), NULL, 0, false) != 0) {
			return -1;
		}
		while (got < want) {
			uint8_t hdr[160];
			struct nvme_tcp_data_hdr *h = (struct nvme_tcp_data_hdr *)hdr;
			uint32_t hlen;

			int plen = recv_hdr(c, hdr, &hlen);

			if (plen >= 0 && h->ch.pdu_type == NVME_TCP_PDU_TYPE_CAPSULE_CMD) {
				struct mock_backlog *b = calloc(1, sizeof(*b));

				memcpy(b->hdr, hdr, sizeof(b->hdr));
				if (recv_capsule(c, b->hdr, &b->icd, &b->icd_len, plen) != 0) {
					free(b);
					return -1;
				}
				if (c->backlog_tail != NULL) {
					c->backlog_tail->next = b;
				} else {
					c->backlog = b;
				}
				c->backlog_tail = b;
				continue;
			}
			if (plen < 0 || h->ch.pdu_type != NVME_TCP_PDU_TYPE_H2C_DATA) {
				return -1;
			}
			if (ftgt_le32_to_cpu(h->datao) != off + got || h->cccid != cmd->cid ||
			    ftgt_le16_to_cpu(h->ttag) != 7 ||
			    ftgt_le32_to_cpu(h->datal) > want - got ||
			    ftgt_le32_to_cpu(h->datal) > t->opts.maxh2cdata) {
				return -1;
			}
			if (recv_data(c, hdr, dst + off + got, ftgt_le32_to_cpu(h->datal)) != 0) {
				return -1;
			}
			got += ftgt_le32_to_cpu(h->datal);
			if (got == want && !(h->ch.flags & NVME_TCP_H2C_DATA_FLAGS_LAST_PDU)) {
				return -1;
			}
		}
		off += want;
	}
	return 0;
}

/* Complete an outstanding AER with a pending namespace notice (t->lock held). */
static int
mock_send_aen(struct mock_conn *c)
{
	struct mock_target *t = c->t;
	uint16_t cid;

	if (!t->aen_pending || t->aen_masked || c->num_aers == 0 ||
	    !(t->aec & NVME_CTRLR_OAES_NS_ATTR_NOTICES)) {
		return 0;
	}
	cid = c->aer_cids[--c->num_aers];
	t->aen_pending = false;
	t->aen_masked = true;
	t->aens_sent++;
	return send_rsp(c, cid, 0,
	                NVME_AER_CDW0(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_ATTR_CHANGED,
	                              NVME_LOG_CHANGED_NS_LIST),
	                0);
}

static int
handle_admin(struct mock_conn *c, const struct nvme_cmd *cmd, uint8_t *icd, uint32_t icd_len)
{
	struct mock_target *t = c->t;
	uint16_t cid = ftgt_le16_to_cpu(cmd->cid);
	uint8_t *buf;
	uint32_t cns = ftgt_le32_to_cpu(cmd->cdw10) & 0xff;
	uint32_t len = ftgt_le32_to_cpu(cmd->dptr.length);
	bool disc = strcmp(t->opts.subnqn, FTGT_NQN_DISCOVERY) == 0;
	int rc;

	if (cmd->opc == t->opts.swallow_admin_opc) {
		return 0;
	}
	switch (cmd->opc) {
	case NVME_OPC_KEEP_ALIVE:
		__atomic_fetch_add(&t->keep_alives, 1, __ATOMIC_RELAXED);
		return send_rsp(c, cid, 0, 0, 0);
	case NVME_OPC_IDENTIFY:
		buf = calloc(1, 4096);
		if (cns == NVME_IDENTIFY_CNS_CTRLR) {
			struct nvme_ctrlr_data *cd = (struct nvme_ctrlr_data *)buf;

			ftgt_strcpy_pad(cd->sn, "MOCK0001", sizeof(cd->sn), ' ');
			ftgt_strcpy_pad(cd->mn, "ftgt mock target", sizeof(cd->mn), ' ');
			cd->cntlid = ftgt_cpu_to_le16(1);
			cd->ver = ftgt_cpu_to_le32(NVME_VS(1, 4, 0));
			cd->cntrltype = disc ? NVME_CTRLR_TYPE_DISCOVERY : NVME_CTRLR_TYPE_IO;
			cd->mdts = 8; /* 1 MiB with 4 KiB pages */
			cd->nn = ftgt_cpu_to_le32(MOCK_MAX_NS + t->opts.extra_ns);
			cd->aerl = 3;
			cd->oaes = ftgt_cpu_to_le32(disc ? 0 : NVME_CTRLR_OAES_NS_ATTR_NOTICES);
			cd->fuses = ftgt_cpu_to_le16(NVME_CTRLR_FUSES_COMPARE_AND_WRITE);
			cd->oncs = ftgt_cpu_to_le16(NVME_CTRLR_ONCS_COMPARE | NVME_CTRLR_ONCS_DSM |
			                            NVME_CTRLR_ONCS_WRITE_ZEROES);
			cd->ioccsz = ftgt_cpu_to_le32(t->opts.ioccsz_bytes / 16);
			cd->iorcsz = ftgt_cpu_to_le32(1);
			ftgt_strlcpy(cd->subnqn, t->opts.subnqn, sizeof(cd->subnqn));
		} else if (cns == NVME_IDENTIFY_CNS_ACTIVE_NS_LIST) {
			uint32_t nsid, n = 0;

			for (nsid = 1; nsid <= MOCK_MAX_NS + t->opts.extra_ns && n < 1024; nsid++) {
				if ((nsid > MOCK_MAX_NS || t->ns_active[nsid]) &&
				    nsid > ftgt_le32_to_cpu(cmd->nsid)) {
					((ftgt_le32 *)buf)[n++] = ftgt_cpu_to_le32(nsid);
				}
			}
		} else if (cns == NVME_IDENTIFY_CNS_NS &&
		           ftgt_le32_to_cpu(cmd->nsid) > MOCK_MAX_NS &&
		           ftgt_le32_to_cpu(cmd->nsid) <= MOCK_MAX_NS + t->opts.extra_ns) {
			struct nvme_ns_data *nd = (struct nvme_ns_data *)buf;

			nd->nsze = nd->ncap = nd->nuse = ftgt_cpu_to_le64(t->opts.num_blocks);
			nd->lbaf[0].lbads = t->opts.block_size == 4096 ? 12 : 9;
		} else if (cns == NVME_IDENTIFY_CNS_NS && ftgt_le32_to_cpu(cmd->nsid) >= 1 &&
		           ftgt_le32_to_cpu(cmd->nsid) <= MOCK_MAX_NS &&
		           t->ns_active[ftgt_le32_to_cpu(cmd->nsid)]) {
			struct nvme_ns_data *nd = (struct nvme_ns_data *)buf;
			uint64_t blocks = t->ns_blocks[ftgt_le32_to_cpu(cmd->nsid)];

			nd->nsze = nd->ncap = nd->nuse = ftgt_cpu_to_le64(blocks);
			nd->lbaf[0].lbads = t->opts.block_size == 4096 ? 12 : 9;
		} else {
			free(buf);
			return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_FIELD), 0, 0);
		}
		rc = send_c2h(c, cid, buf, len < 4096 ? len : 4096);
		free(buf);
		return rc < 0 ? -1 : rc == 1 ? 0 : send_rsp(c, cid, 0, 0, 0);
	case NVME_OPC_GET_LOG_PAGE: {
		uint32_t lid = ftgt_le32_to_cpu(cmd->cdw10) & 0xff;
		uint64_t off = ftgt_le32_to_cpu(cmd->cdw12) |
		               ((uint64_t)ftgt_le32_to_cpu(cmd->cdw13) << 32);
		size_t total = sizeof(struct nvmf_discovery_log_page) +
		               2 * sizeof(struct nvmf_discovery_log_entry);
		struct nvmf_discovery_log_page *page;
		uint8_t *out;
		int i;

		if (lid == NVME_LOG_CHANGED_NS_LIST && !disc && len > 0) {
			out = calloc(1, len);
			for (i = 0; i < (int)t->num_changed && (uint32_t)(i + 1) * 4 <= len; i++) {
				((ftgt_le32 *)out)[i] = ftgt_cpu_to_le32(t->changed[i]);
			}
			t->num_changed = 0;
			t->aen_masked = false;
			t->changed_ns_reads++;
			rc = send_c2h(c, cid, out, len);
			free(out);
			return rc < 0 ? -1 : rc == 1 ? 0 : send_rsp(c, cid, 0, 0, 0);
		}
		if (lid != NVME_LOG_DISCOVERY || !disc || len == 0) {
			return send_rsp(c, cid, NVME_STATUS(1, NVME_SC_INVALID_LOG_PAGE), 0, 0);
		}
		page = calloc(1, total);
		page->genctr = ftgt_cpu_to_le64(5);
		page->numrec = ftgt_cpu_to_le64(2);
		for (i = 0; i < 2; i++) {
			struct nvmf_discovery_log_entry *e = &page->entries[i];

			e->trtype = NVMF_TRTYPE_TCP;
			e->adrfam = NVMF_ADRFAM_IPV4;
			e->subtype = NVMF_SUBTYPE_NVME;
			e->portid = ftgt_cpu_to_le16(1);
			e->cntlid = ftgt_cpu_to_le16(0xffff);
			ftgt_strcpy_pad(e->trsvcid, "4420", sizeof(e->trsvcid), ' ');
			ftgt_strcpy_pad(e->traddr, "127.0.0.1", sizeof(e->traddr), ' ');
			snprintf(e->subnqn, sizeof(e->subnqn), "nqn.2026-01.io.ftgt:sub%d", i);
		}
		out = calloc(1, len);
		if (off < total) {
			memcpy(out, (uint8_t *)page + off, total - off < len ? total - off : len);
		}
		rc = send_c2h(c, cid, out, len);
		free(out);
		free(page);
		return rc < 0 ? -1 : rc == 1 ? 0 : send_rsp(c, cid, 0, 0, 0);
	}
	case NVME_OPC_ABORT:
		__atomic_fetch_add(&t->aborts, 1, __ATOMIC_RELAXED);
		return send_rsp(c, cid, 0, 1, 0); /* "not aborted" */
	case NVME_OPC_SET_FEATURES:
		if ((ftgt_le32_to_cpu(cmd->cdw10) & 0xff) == NVME_FEAT_ASYNC_EVENT_CONFIGURATION) {
			t->aec = ftgt_le32_to_cpu(cmd->cdw11);
			return send_rsp(c, cid, 0, 0, 0);
		}
		return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_FIELD), 0, 0);
	case NVME_OPC_ASYNC_EVENT_REQUEST:
		if (c->num_aers == 4) {
			return send_rsp(c, cid,
			                NVME_STATUS(1, NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED),
			                0, 0);
		}
		c->aer_cids[c->num_aers++] = cid;
		return mock_send_aen(c);
	default:
		(void)icd;
		(void)icd_len;
		return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_OPCODE), 0, 0);
	}
}

static int
handle_fabric(struct mock_conn *c, const struct nvme_cmd *cmd, uint8_t *icd, uint32_t icd_len)
{
	struct mock_target *t = c->t;
	const struct nvmf_capsule_cmd *fc = (const struct nvmf_capsule_cmd *)cmd;
	uint16_t cid = ftgt_le16_to_cpu(cmd->cid);

	if (fc->fctype == NVMF_FCTYPE_CONNECT) {
		const struct nvmf_connect_cmd *cc = (const struct nvmf_connect_cmd *)cmd;
		const struct nvmf_connect_data *d = (const struct nvmf_connect_data *)icd;

		if (icd_len != sizeof(*d)) {
			return send_rsp(c, cid, NVME_STATUS(1, NVMF_SC_INVALID_PARAM), 0, 0);
		}
		if (t->opts.refuse_host) {
			return send_rsp(c, cid, NVME_STATUS(1, NVMF_SC_INVALID_HOST), 0, 0);
		}
		if (strcmp(d->subnqn, t->opts.subnqn) != 0) {
			return send_rsp(c, cid, NVME_STATUS(1, NVMF_SC_INVALID_PARAM),
			                NVMF_CONNECT_INVALID_CDW0(1, 512), 0);
		}
		c->qid = ftgt_le16_to_cpu(cc->qid);
		if (c->qid == 0) {
			/* A new association: a disabled controller, no AERs. */
			t->cc = 0;
			t->csts = 0;
			t->aec = 0;
			t->aen_masked = false;
		}
		if (c->qid != 0 && ftgt_le16_to_cpu(d->cntlid) != 1) {
			return send_rsp(c, cid, NVME_STATUS(1, NVMF_SC_INVALID_PARAM),
			                NVMF_CONNECT_INVALID_CDW0(1, 16), 0);
		}
		return send_rsp(c, cid, 0, 1, 0);
	}
	if (fc->fctype == NVMF_FCTYPE_PROPERTY_GET) {
		const struct nvmf_property_get_cmd *pg = (const struct nvmf_property_get_cmd *)cmd;
		uint64_t v = 0;

		switch (ftgt_le32_to_cpu(pg->ofst)) {
		case NVME_REG_CAP:
			v = 127 | NVME_CAP_CQR | (1ull << NVME_CAP_TO_SHIFT) | NVME_CAP_CSS_NVM;
			break;
		case NVME_REG_VS:
			v = NVME_VS(1, 4, 0);
			break;
		case NVME_REG_CC:
			v = t->cc;
			break;
		case NVME_REG_CSTS:
			v = t->csts;
			break;
		default:
			return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_FIELD), 0, 0);
		}
		return send_rsp(c, cid, 0, (uint32_t)v, (uint32_t)(v >> 32));
	}
	if (fc->fctype == NVMF_FCTYPE_PROPERTY_SET) {
		const struct nvmf_property_set_cmd *ps = (const struct nvmf_property_set_cmd *)cmd;

		if (ftgt_le32_to_cpu(ps->ofst) != NVME_REG_CC) {
			return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_FIELD), 0, 0);
		}
		t->cc = (uint32_t)ftgt_le64_to_cpu(ps->value);
		t->csts = (t->cc & NVME_CC_EN) ? NVME_CSTS_RDY : 0;
		if ((t->cc >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK) {
			t->csts |= NVME_CSTS_SHST_COMPLETE << NVME_CSTS_SHST_SHIFT;
			__atomic_fetch_add(&t->shutdowns, 1, __ATOMIC_RELAXED);
		}
		return send_rsp(c, cid, 0, 0, 0);
	}
	return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_OPCODE), 0, 0);
}

/* The Write (FUSE second) of a fused Compare and Write: both as one (t->lock held). */
static int
handle_fused(struct mock_conn *c, const struct nvme_cmd *wr, uint8_t *icd, uint32_t icd_len)
{
	struct mock_target *t = c->t;
	const struct nvme_cmd *cmp = &c->fused_cmd;
	uint64_t lba =
	        ftgt_le32_to_cpu(cmp->cdw10) | ((uint64_t)ftgt_le32_to_cpu(cmp->cdw11) << 32);
	uint32_t len = ftgt_le32_to_cpu(cmp->dptr.length);
	uint16_t ccid = ftgt_le16_to_cpu(cmp->cid), wcid = ftgt_le16_to_cpu(wr->cid);
	uint8_t *wbuf;
	int rc;

	if (wr->cdw10 != cmp->cdw10 || wr->cdw11 != cmp->cdw11 || wr->cdw12 != cmp->cdw12 ||
	    ftgt_le32_to_cpu(wr->dptr.length) != len) {
		rc = send_rsp(c, ccid, NVME_STATUS(0, NVME_SC_INVALID_FIELD), 0, 0);
		rc |= send_rsp(c, wcid, NVME_STATUS(0, NVME_SC_ABORTED_FAILED_FUSED), 0, 0);
		return rc;
	}
	wbuf = malloc(len);
	if (get_h2c(c, wr, icd, icd_len, wbuf, len) != 0) {
		free(wbuf);
		return -1;
	}
	t->fused_pairs++;
	if (memcmp(t->data + lba * t->opts.block_size, c->fused_buf, len) == 0) {
		memcpy(t->data + lba * t->opts.block_size, wbuf, len);
		rc = send_rsp(c, ccid, 0, 0, 0);
		rc |= send_rsp(c, wcid, 0, 0, 0);
	} else {
		rc = send_rsp(c, ccid, NVME_STATUS(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE),
		              0, 0);
		rc |= send_rsp(c, wcid, NVME_STATUS(0, NVME_SC_ABORTED_FAILED_FUSED), 0, 0);
	}
	free(wbuf);
	return rc;
}

static int
handle_io(struct mock_conn *c, const struct nvme_cmd *cmd, uint8_t *icd, uint32_t icd_len)
{
	uint8_t fuse = cmd->flags & NVME_CMD_FUSE_MASK;
	int frc;

	if (c->fused_pending) {
		c->fused_pending = false;
		if (fuse == NVME_CMD_FUSE_SECOND && cmd->opc == NVME_OPC_WRITE) {
			frc = handle_fused(c, cmd, icd, icd_len);
			free(c->fused_buf);
			c->fused_buf = NULL;
			return frc;
		}
		free(c->fused_buf);
		c->fused_buf = NULL;
		if (send_rsp(c, ftgt_le16_to_cpu(c->fused_cmd.cid),
		             NVME_STATUS(0, NVME_SC_ABORTED_MISSING_FUSED), 0, 0) != 0) {
			return -1;
		}
	}
	if (fuse == NVME_CMD_FUSE_FIRST && cmd->opc == NVME_OPC_COMPARE) {
		uint64_t lba = ftgt_le32_to_cpu(cmd->cdw10) |
		               ((uint64_t)ftgt_le32_to_cpu(cmd->cdw11) << 32);
		uint32_t nlb = (ftgt_le32_to_cpu(cmd->cdw12) & 0xffff) + 1;
		uint32_t len = ftgt_le32_to_cpu(cmd->dptr.length);

		if (lba + nlb > c->t->opts.num_blocks || len != nlb * c->t->opts.block_size) {
			return send_rsp(c, ftgt_le16_to_cpu(cmd->cid),
			                NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE), 0, 0);
		}
		c->fused_buf = malloc(len);
		if (get_h2c(c, cmd, icd, icd_len, c->fused_buf, len) != 0) {
			return -1;
		}
		c->fused_cmd = *cmd;
		c->fused_pending = true;
		return 0;
	}
	if (fuse != NVME_CMD_FUSE_NONE) {
		return send_rsp(c, ftgt_le16_to_cpu(cmd->cid),
		                NVME_STATUS(0, NVME_SC_ABORTED_MISSING_FUSED), 0, 0);
	}
	return handle_io_one(c, cmd, icd, icd_len);
}

static int
handle_io_one(struct mock_conn *c, const struct nvme_cmd *cmd, uint8_t *icd, uint32_t icd_len)
{
	struct mock_target *t = c->t;
	uint16_t cid = ftgt_le16_to_cpu(cmd->cid);
	uint64_t lba =
	        ftgt_le32_to_cpu(cmd->cdw10) | ((uint64_t)ftgt_le32_to_cpu(cmd->cdw11) << 32);
	uint32_t nlb = (ftgt_le32_to_cpu(cmd->cdw12) & 0xffff) + 1;
	uint32_t len = ftgt_le32_to_cpu(cmd->dptr.length), bs = t->opts.block_size;
	uint8_t *buf;
	int rc;

	if (cmd->opc == t->opts.swallow_opc) {
		return 0;
	}
	if (ftgt_le32_to_cpu(cmd->nsid) != 1) {
		return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT), 0, 0);
	}
	switch (cmd->opc) {
	case NVME_OPC_FLUSH:
		return send_rsp(c, cid, 0, 0, 0);
	case NVME_OPC_READ:
	case NVME_OPC_WRITE:
	case NVME_OPC_COMPARE:
	case NVME_OPC_WRITE_ZEROES:
		if (lba + nlb > t->opts.num_blocks) {
			return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_LBA_OUT_OF_RANGE), 0, 0);
		}
		if (cmd->opc != NVME_OPC_WRITE_ZEROES && len != nlb * bs) {
			return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_DATA_SGL_LENGTH_INVALID), 0,
			                0);
		}
		break;
	case NVME_OPC_DATASET_MANAGEMENT:
		break;
	default:
		return send_rsp(c, cid, NVME_STATUS(0, NVME_SC_INVALID_OPCODE), 0, 0);
	}
	if (cmd->opc == NVME_OPC_READ) {
		rc = send_c2h(c, cid, t->data + lba * bs, len);
		return rc < 0 ? -1 : rc == 1 ? 0 : send_rsp(c, cid, 0, 0, 0);
	}
	if (cmd->opc == NVME_OPC_WRITE_ZEROES) {
		memset(t->data + lba * bs, 0, (size_t)nlb * bs);
		return send_rsp(c, cid, 0, 0, 0);
	}
	buf = malloc(len > 0 ? len : 1);
	if (get_h2c(c, cmd, icd, icd_len, buf, len) != 0) {
		free(buf);
		return -1;
	}
	if (cmd->opc == NVME_OPC_WRITE) {
		memcpy(t->data + lba * bs, buf, len);
		rc = send_rsp(c, cid, 0, 0, 0);
	} else if (cmd->opc == NVME_OPC_COMPARE) {
		rc = send_rsp(c, cid,
		              memcmp(t->data + lba * bs, buf, len) == 0
		                      ? 0
		                      : NVME_STATUS(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE),
		              0, 0);
	} else {
		const struct nvme_dsm_range *r = (const struct nvme_dsm_range *)buf;
		uint32_t i, nr = (ftgt_le32_to_cpu(cmd->cdw10) & 0xff) + 1;

		for (i = 0; i < nr && (i + 1) * sizeof(*r) <= len; i++) {
			uint64_t s = ftgt_le64_to_cpu(r[i].slba);
			uint32_t n = ftgt_le32_to_cpu(r[i].nlb);

			if (s + n <= t->opts.num_blocks) {
				memset(t->data + s * bs, 0, (size_t)n * bs);
			}
		}
		rc = send_rsp(c, cid, 0, 0, 0);
	}
	free(buf);
	return rc;
}

/* In-capsule data of a CapsuleCmd whose header is in hdr. */
static int
recv_capsule(struct mock_conn *c, uint8_t *hdr, uint8_t **icd, uint32_t *icd_len, int plen)
{
	struct nvme_tcp_cmd *pdu = (struct nvme_tcp_cmd *)hdr;

	*icd = NULL;
	*icd_len = 0;
	if (pdu->ch.pdo == 0) {
		return 0;
	}
	*icd_len =
	        (uint32_t)plen - pdu->ch.pdo - ((pdu->ch.flags & NVME_TCP_CH_FLAGS_DDGSTF) ? 4 : 0);
	if (*icd_len > c->t->opts.ioccsz_bytes + 8192) {
		return -1;
	}
	*icd = malloc(*icd_len);
	if (recv_data(c, hdr, *icd, *icd_len) != 0) {
		free(*icd);
		*icd = NULL;
		return -1;
	}
	return 0;
}

static void *
conn_thread(void *arg)
{
	struct mock_conn *c = arg;
	struct mock_target *t = c->t;
	uint8_t hdr[160];
	uint32_t hlen;
	int plen;

	/* ICReq */
	plen = recv_hdr(c, hdr, &hlen);
	if (plen < 0 || hdr[0] != NVME_TCP_PDU_TYPE_IC_REQ || hlen != NVME_TCP_IC_HLEN) {
		goto out;
	}
	if (t->opts.no_icresp) {
		uint8_t b;

		while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE) && recv(c->fd, &b, 1, 0) > 0) {
		}
		goto out;
	}
	{
		struct nvme_tcp_ic_req *req = (struct nvme_tcp_ic_req *)hdr;
		struct nvme_tcp_ic_resp rsp;

		memset(&rsp, 0, sizeof(rsp));
		rsp.ch.pdu_type = NVME_TCP_PDU_TYPE_IC_RESP;
		rsp.ch.hlen = NVME_TCP_IC_HLEN;
		rsp.ch.plen = ftgt_cpu_to_le32(NVME_TCP_IC_HLEN);
		rsp.cpda = (uint8_t)t->opts.cpda;
		rsp.dgst = req->dgst;
		rsp.maxh2cdata = ftgt_cpu_to_le32(t->opts.maxh2cdata);
		if (write_full(c->fd, &rsp, sizeof(rsp)) != 0) {
			goto out;
		}
		c->hdgst = (req->dgst & NVME_TCP_DGST_HDGST_ENABLE) != 0;
		c->ddgst = (req->dgst & NVME_TCP_DGST_DDGST_ENABLE) != 0;
	}
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		struct nvme_tcp_cmd *pdu = (struct nvme_tcp_cmd *)hdr;
		uint8_t *icd = NULL;
		uint32_t icd_len = 0;
		int rc;

		if (c->backlog != NULL) {
			struct mock_backlog *b = c->backlog;

			c->backlog = b->next;
			if (c->backlog == NULL) {
				c->backlog_tail = NULL;
			}
			memcpy(hdr, b->hdr, sizeof(b->hdr));
			icd = b->icd;
			icd_len = b->icd_len;
			free(b);
		} else {
			plen = recv_hdr(c, hdr, &hlen);
			if (plen < 0 || pdu->ch.pdu_type != NVME_TCP_PDU_TYPE_CAPSULE_CMD) {
				break;
			}
			if (recv_capsule(c, hdr, &icd, &icd_len, plen) != 0) {
				break;
			}
		}
		pthread_mutex_lock(&t->lock);
		if (pdu->ccsqe.opc == NVME_OPC_FABRIC) {
			rc = handle_fabric(c, &pdu->ccsqe, icd, icd_len);
		} else if (c->qid == 0) {
			rc = handle_admin(c, &pdu->ccsqe, icd, icd_len);
		} else {
			rc = handle_io(c, &pdu->ccsqe, icd, icd_len);
		}
		pthread_mutex_unlock(&t->lock);
		free(icd);
		if (rc != 0) {
			break;
		}
	}
out:
	free(c->fused_buf);
	c->fused_buf = NULL;
	c->fused_pending = false;
	pthread_mutex_lock(&t->lock);
	c->num_aers = 0;
	pthread_mutex_unlock(&t->lock);
	while (c->backlog != NULL) {
		struct mock_backlog *b = c->backlog;

		c->backlog = b->next;
		free(b->icd);
		free(b);
	}
	shutdown(c->fd, SHUT_RDWR);
	__atomic_store_n(&c->finished, true, __ATOMIC_RELEASE);
	return NULL;
}

static void *
accept_thread(void *arg)
{
	struct mock_target *t = arg;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = {.fd = t->lfd, .events = POLLIN};
		int fd, i, one = 1;

		if (poll(&pfd, 1, 50) <= 0) {
			continue;
		}
		fd = accept(t->lfd, NULL, NULL);
		if (fd < 0) {
			continue;
		}
		pthread_mutex_lock(&t->lock);
		if (t->accepts < MOCK_MAX_ACCEPTS) {
			t->accept_ms[t->accepts] = now_ms();
		}
		t->accepts++;
		pthread_mutex_unlock(&t->lock);
		if (__atomic_load_n(&t->refuse, __ATOMIC_ACQUIRE)) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Reap finished connections so their slots can be used again. */
		for (i = 0; i < MOCK_MAX_CONNS; i++) {
			struct mock_conn *c = &t->conns[i];

			if (c->used && __atomic_load_n(&c->finished, __ATOMIC_ACQUIRE)) {
				pthread_join(c->thread, NULL);
				pthread_mutex_lock(&t->lock);
				close(c->fd);
				c->used = false;
				pthread_mutex_unlock(&t->lock);
				pthread_mutex_destroy(&c->wlock);
			}
		}
		for (i = 0; i < MOCK_MAX_CONNS && t->conns[i].used; i++) {
		}
		if (i == MOCK_MAX_CONNS) {
			close(fd);
			continue;
		}
		memset(&t->conns[i], 0, sizeof(t->conns[i]));
		pthread_mutex_init(&t->conns[i].wlock, NULL);
		t->conns[i].fd = fd;
		t->conns[i].t = t;
		pthread_mutex_lock(&t->lock);
		t->conns[i].used = true;
		pthread_mutex_unlock(&t->lock);
		if (pthread_create(&t->conns[i].thread, NULL, conn_thread, &t->conns[i]) != 0) {
			close(fd);
			t->conns[i].used = false;
		}
	}
	return NULL;
}

struct mock_target *
mock_target_start(const struct mock_target_opts *opts)
{
	struct mock_target *t = calloc(1, sizeof(*t));
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int one = 1;

	if (t == NULL) {
		return NULL;
	}
	t->opts = *opts;
	pthread_mutex_init(&t->lock, NULL);
	t->ns_active[1] = true;
	t->ns_blocks[1] = t->opts.num_blocks;
	t->data = calloc(t->opts.num_blocks, t->opts.block_size);
	t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (t->data == NULL || bind(t->lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(t->lfd, 64) != 0 || getsockname(t->lfd, (struct sockaddr *)&sin, &len) != 0) {
		close(t->lfd);
		free(t->data);
		free(t);
		return NULL;
	}
	t->port = ntohs(sin.sin_port);
	pthread_create(&t->accept_thread, NULL, accept_thread, t);
	return t;
}

uint16_t
mock_target_port(const struct mock_target *t)
{
	return t->port;
}

uint64_t
mock_target_keep_alives(const struct mock_target *t)
{
	return __atomic_load_n(&t->keep_alives, __ATOMIC_RELAXED);
}

uint64_t
mock_target_shutdowns(const struct mock_target *t)
{
	return __atomic_load_n(&t->shutdowns, __ATOMIC_RELAXED);
}

uint64_t
mock_target_aborts(const struct mock_target *t)
{
	return __atomic_load_n(&t->aborts, __ATOMIC_RELAXED);
}

uint64_t
mock_target_r2ts(const struct mock_target *t)
{
	return t->r2ts;
}

uint64_t
mock_target_icd_writes(const struct mock_target *t)
{
	return t->icd_writes;
}

uint32_t
mock_target_last_hdgst(const struct mock_target *t)
{
	return t->last_hdgst;
}

uint8_t *
mock_target_data(struct mock_target *t)
{
	return t->data;
}

void
mock_target_stop(struct mock_target *t)
{
	int i;

	__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
	pthread_join(t->accept_thread, NULL);
	for (i = 0; i < MOCK_MAX_CONNS; i++) {
		if (t->conns[i].used) {
			shutdown(t->conns[i].fd, SHUT_RDWR);
			pthread_join(t->conns[i].thread, NULL);
			close(t->conns[i].fd);
			pthread_mutex_destroy(&t->conns[i].wlock);
		}
	}
	close(t->lfd);
	pthread_mutex_destroy(&t->lock);
	free(t->data);
	free(t);
}

/* A namespace change: log it in the Changed Namespace List and raise a notice. */
static void
ns_changed(struct mock_target *t, uint32_t nsid)
{
	uint32_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->num_changed && t->changed[i] != nsid; i++) {
	}
	if (i == t->num_changed && t->num_changed < MOCK_MAX_NS) {
		t->changed[t->num_changed++] = nsid;
	}
	t->aen_pending = true;
	for (i = 0; i < MOCK_MAX_CONNS; i++) {
		struct mock_conn *c = &t->conns[i];

		if (c->used && !c->finished && c->qid == 0 && c->num_aers > 0) {
			mock_send_aen(c);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void
mock_target_set_ns(struct mock_target *t, uint32_t nsid, uint64_t num_blocks)
{
	if (nsid < 1 || nsid > MOCK_MAX_NS) {
		return;
	}
	pthread_mutex_lock(&t->lock);
	t->ns_active[nsid] = num_blocks != 0;
	t->ns_blocks[nsid] = num_blocks;
	pthread_mutex_unlock(&t->lock);
	ns_changed(t, nsid);
}

uint32_t
mock_target_aec(struct mock_target *t)
{
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	v = t->aec;
	pthread_mutex_unlock(&t->lock);
	return v;
}

static uint64_t
locked_u64(struct mock_target *t, const uint64_t *p)
{
	uint64_t v;

	pthread_mutex_lock(&t->lock);
	v = *p;
	pthread_mutex_unlock(&t->lock);
	return v;
}

uint64_t
mock_target_changed_ns_reads(struct mock_target *t)
{
	return locked_u64(t, &t->changed_ns_reads);
}

uint64_t
mock_target_aens_sent(struct mock_target *t)
{
	return locked_u64(t, &t->aens_sent);
}

uint64_t
mock_target_fused_pairs(struct mock_target *t)
{
	return locked_u64(t, &t->fused_pairs);
}

uint32_t
mock_target_outstanding_aers(struct mock_target *t)
{
	uint32_t i, n = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < MOCK_MAX_CONNS; i++) {
		if (t->conns[i].used && !t->conns[i].finished && t->conns[i].qid == 0) {
			n += t->conns[i].num_aers;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void
mock_target_drop_conns(struct mock_target *t)
{
	int i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < MOCK_MAX_CONNS; i++) {
		if (t->conns[i].used && !t->conns[i].finished) {
			shutdown(t->conns[i].fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void
mock_target_set_refuse(struct mock_target *t, bool refuse)
{
	__atomic_store_n(&t->refuse, refuse, __ATOMIC_RELEASE);
}

uint32_t
mock_target_accepts(struct mock_target *t, uint64_t *times_ms, uint32_t max)
{
	uint32_t i, n;

	pthread_mutex_lock(&t->lock);
	n = t->accepts;
	for (i = 0; times_ms != NULL && i < max && i < n && i < MOCK_MAX_ACCEPTS; i++) {
		times_ms[i] = t->accept_ms[i];
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}
