/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI login (RFC 7143 6, 11.12-11.13): security (CHAP) and operational negotiation,
 * login responses, on the thread the connection was accepted on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ftgt/log.h"
#include "ftgt/string.h"
#include "iscsi_internal.h"

/* ---- login ------------------------------------------------------------------------- */

static void
send_login_rsp(struct iscsi_conn *conn, const struct iscsi_bhs_login_req *req, uint8_t flags,
               uint8_t status_class, uint8_t status_detail, const uint8_t *text, uint32_t len)
{
	struct ctrl_pdu *c = iscsi_ctrl_get(conn);
	struct iscsi_bhs_login_rsp *r;

	if (c == NULL) {
		conn->state = CONN_EXITING;
		return;
	}
	r = (struct iscsi_bhs_login_rsp *)c->hdr;
	r->opcode = ISCSI_OP_LOGIN_RSP;
	r->flags = flags;
	r->version_max = 0;
	r->version_act = 0;
	memcpy(r->isid, req->isid, 6);
	r->tsih = ftgt_cpu_to_be16(status_class != 0 ? 0
	                           : conn->tsih != 0 ? conn->tsih
	                                             : conn->login_tsih);
	r->itt = req->itt;
	iscsi_fill_sn(conn, &r->stat_sn, &r->exp_cmd_sn, &r->max_cmd_sn, true);
	r->status_class = status_class;
	r->status_detail = status_detail;
	if (len > 0 && iscsi_ctrl_set_data(c, text, len) != 0) {
		c->data_len = 0;
	}
	c->plain = true; /* digests start after the final login response */
	iscsi_ctrl_queue(conn, c);
	if (status_class != ISCSI_LOGIN_CLASS_SUCCESS) {
		conn->state = CONN_CLOSING;
		pthread_mutex_lock(&g_iscsi.lock);
		g_iscsi.stats.logins_failed++;
		pthread_mutex_unlock(&g_iscsi.lock);
	}
}

static bool
text_get(const uint8_t *text, uint32_t len, const char *key, char *val, size_t val_len)
{
	uint32_t pos = 0, kl, vl;
	const char *k, *v;

	while (iscsi_text_next(text, len, &pos, &k, &kl, &v, &vl) == 1) {
		if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
			snprintf(val, val_len, "%.*s", (int)vl, v);
			return true;
		}
	}
	return false;
}

/* Security stage with CHAP. Returns 0 (continue), or a login status detail (class 2). */
static int
login_chap(struct iscsi_conn *conn, const uint8_t *text, uint32_t len, struct iscsi_text_out *out)
{
	char val[1100], user[ISCSI_MAX_SECRET_LEN + 1];
	uint8_t resp[64], digest[16], ichal[1024];
	struct iscsi_secret sec;
	int n, ichal_len;

	switch (conn->chap) {
	case CHAP_WAIT_A:
		if (!text_get(text, len, "CHAP_A", val, sizeof(val))) {
			return 0;
		}
		if (!iscsi_text_list_has(val, (uint32_t)strlen(val), "5")) {
			iscsi_text_out_add(out, "CHAP_A", "Reject");
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		iscsi_text_out_add(out, "CHAP_A", "5");
		if (RAND_bytes(&conn->chap_id, 1) != 1 ||
		    RAND_bytes(conn->chap_challenge, sizeof(conn->chap_challenge)) != 1) {
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		iscsi_text_out_add_num(out, "CHAP_I", conn->chap_id);
		iscsi_chap_encode_hex(conn->chap_challenge, sizeof(conn->chap_challenge), val,
		                      sizeof(val));
		iscsi_text_out_add(out, "CHAP_C", val);
		conn->chap = CHAP_WAIT_NR;
		return 0;
	case CHAP_WAIT_NR:
		if (!text_get(text, len, "CHAP_N", user, sizeof(user)) ||
		    !text_get(text, len, "CHAP_R", val, sizeof(val))) {
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		n = iscsi_chap_decode(val, resp, sizeof(resp));
		if (n != 16 || iscsi_auth_find_secret(conn->auth.chap_group, user, &sec) != 0 ||
		    iscsi_chap_md5(conn->chap_id, sec.secret, conn->chap_challenge,
		                   sizeof(conn->chap_challenge), digest) != 0 ||
		    memcmp(digest, resp, 16) != 0) {
			FTGT_NOTICELOG("iscsi conn %llu: CHAP authentication of '%s' failed\n",
			               (unsigned long long)conn->id, user);
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		if (text_get(text, len, "CHAP_I", val, sizeof(val))) {
			char cval[1100];
			uint64_t id;

			/* Mutual CHAP: answer the initiator's challenge. */
			if (!text_get(text, len, "CHAP_C", cval, sizeof(cval)) ||
			    sec.muser[0] == '\0' || sscanf(val, "%" SCNu64, &id) != 1 || id > 255) {
				return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
			}
			ichal_len = iscsi_chap_decode(cval, ichal, sizeof(ichal));
			if (ichal_len <= 0 ||
			    ((size_t)ichal_len == sizeof(conn->chap_challenge) &&
			     memcmp(ichal, conn->chap_challenge, (size_t)ichal_len) == 0)) {
				return ISCSI_LOGIN_DETAIL_AUTH_FAILURE; /* reflection */
			}
			if (iscsi_chap_md5((uint8_t)id, sec.msecret, ichal, (size_t)ichal_len,
			                   digest) != 0) {
				return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
			}
			iscsi_text_out_add(out, "CHAP_N", sec.muser);
			iscsi_chap_encode_hex(digest, 16, val, sizeof(val));
			iscsi_text_out_add(out, "CHAP_R", val);
		} else if (conn->auth.mutual_chap) {
			return ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
		}
		conn->chap = CHAP_OK;
		return 0;
	default:
		return 0;
	}
}

void
iscsi_handle_login(struct iscsi_conn *conn, const struct iscsi_pdu_info *info)
{
	const struct iscsi_bhs_login_req *req = (const struct iscsi_bhs_login_req *)info->bhs;
	uint8_t csg = (req->flags & ISCSI_LOGIN_CSG_MASK) >> ISCSI_LOGIN_CSG_SHIFT;
	uint8_t nsg = req->flags & ISCSI_LOGIN_NSG_MASK;
	bool transit = (req->flags & ISCSI_LOGIN_FLAG_TRANSIT) != 0;
	struct iscsi_text_out out;
	uint8_t *rsp = NULL, flags;
	int rc, detail = 0;
	char val[64];

	if (info->opcode != ISCSI_OP_LOGIN_REQ) {
		/* Only login PDUs before the full feature phase (RFC 7143 6.1). */
		send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
		               ISCSI_LOGIN_DETAIL_INVALID_REQUEST, NULL, 0);
		return;
	}
	if (!conn->login_first_done) {
		conn->login_first_done = true;
		memcpy(conn->isid, req->isid, 6);
		conn->cid = ftgt_be16_to_cpu(req->cid);
		conn->login_exp_cmd_sn = ftgt_be32_to_cpu(req->cmd_sn);
		conn->stat_sn = ftgt_be32_to_cpu(req->exp_stat_sn);
		conn->login_itt = info->itt;
		/* TSIH != 0: a new connection for that session (checked at the end). */
		conn->login_tsih = ftgt_be16_to_cpu(req->tsih);
		if (req->version_min > 0) {
			send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
			               ISCSI_LOGIN_DETAIL_UNSUPPORTED_VERSION, NULL, 0);
			return;
		}
	}
	if (csg == 2 || (transit && nsg == 2) || (transit && nsg < csg) || csg < conn->login_csg) {
		send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
		               ISCSI_LOGIN_DETAIL_INIT_ERR, NULL, 0);
		return;
	}
	/* Accumulate text split over several PDUs (C bit). */
	if (conn->login_text_len + info->data_len > LOGIN_TEXT_MAX) {
		send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
		               ISCSI_LOGIN_DETAIL_INIT_ERR, NULL, 0);
		return;
	}
	memcpy(conn->login_text + conn->login_text_len, info->data, info->data_len);
	conn->login_text_len += info->data_len;
	if (req->flags & ISCSI_LOGIN_FLAG_CONTINUE) {
		send_login_rsp(conn, req, (uint8_t)(csg << ISCSI_LOGIN_CSG_SHIFT), 0, 0, NULL, 0);
		return;
	}

	rsp = malloc(LOGIN_DSL);
	if (rsp == NULL) {
		conn->state = CONN_EXITING;
		return;
	}
	memset(&out, 0, sizeof(out));
	out.buf = rsp;
	out.cap = LOGIN_DSL;
	rc = iscsi_negotiate(&conn->neg, conn->login_text, conn->login_text_len, &out);
	if (rc == -EINVAL) {
		detail = ISCSI_LOGIN_DETAIL_INIT_ERR;
		goto fail;
	}
	if (conn->initiator_name[0] == '\0') {
		struct iscsi_tgt_node *tgt = NULL;
		char err[128];

		if (conn->neg.initiator_name[0] == '\0') {
			detail = ISCSI_LOGIN_DETAIL_MISSING_PARAMETER;
			goto fail;
		}
		if (!ftgt_iscsi_name_is_valid(conn->neg.initiator_name, err, sizeof(err))) {
			detail = ISCSI_LOGIN_DETAIL_INIT_ERR;
			goto fail;
		}
		snprintf(conn->initiator_name, sizeof(conn->initiator_name), "%s",
		         conn->neg.initiator_name);
		conn->discovery = conn->neg.discovery;
		pthread_mutex_lock(&g_iscsi.lock);
		if (conn->discovery) {
			conn->auth = g_iscsi.opts.discovery_auth;
		} else {
			if (!conn->neg.target_name_given) {
				pthread_mutex_unlock(&g_iscsi.lock);
				detail = ISCSI_LOGIN_DETAIL_MISSING_PARAMETER;
				goto fail;
			}
			tgt = iscsi_tgt_find(conn->neg.target_name);
			if (tgt == NULL) {
				pthread_mutex_unlock(&g_iscsi.lock);
				detail = ISCSI_LOGIN_DETAIL_NOT_FOUND;
				goto fail;
			}
			if (!iscsi_tgt_access_ok(tgt, conn->pg_tag, conn->initiator_name,
			                         conn->peer_addr)) {
				pthread_mutex_unlock(&g_iscsi.lock);
				detail = ISCSI_LOGIN_DETAIL_AUTHORIZATION;
				goto fail;
			}
			/* Counted from now on: deleting the node waits for this connection. */
			if (!conn->counted_in_tgt) {
				tgt->num_active_conns++;
				conn->counted_in_tgt = true;
				conn->tgt = tgt;
			}
			conn->auth = tgt->auth;
			conn->neg.allow_header_digest = true;
			conn->neg.allow_data_digest = true;
			snprintf(conn->target_name, sizeof(conn->target_name), "%s", tgt->name);
		}
		pthread_mutex_unlock(&g_iscsi.lock);
		if (!conn->discovery) {
			snprintf(val, sizeof(val), "%u", conn->pg_tag);
			iscsi_text_out_add(&out, "TargetPortalGroupTag", val);
			if (tgt->alias[0] != '\0') {
				iscsi_text_out_add(&out, "TargetAlias", tgt->alias);
			}
		}
	}

	if (csg == ISCSI_SECURITY_NEGOTIATION) {
		if (conn->neg.auth_method_seen && conn->chap == CHAP_NONE) {
			bool chap_ok = conn->neg.auth_chap_offered && !conn->auth.disable_chap;
			bool none_ok = conn->neg.auth_none_offered && !conn->auth.require_chap;

			conn->neg.auth_method_seen = false;
			if (chap_ok && (conn->auth.require_chap || !none_ok)) {
				iscsi_text_out_add(&out, "AuthMethod", "CHAP");
				conn->chap = CHAP_WAIT_A;
				/* CHAP_A may come in the same PDU. */
				detail = login_chap(conn, conn->login_text, conn->login_text_len,
				                    &out);
				if (detail != 0) {
					goto fail;
				}
			} else if (none_ok) {
				iscsi_text_out_add(&out, "AuthMethod", "None");
				conn->chap = CHAP_OK;
			} else {
				iscsi_text_out_add(&out, "AuthMethod", "Reject");
				detail = ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
				goto fail;
			}
		} else {
			detail = login_chap(conn, conn->login_text, conn->login_text_len, &out);
			if (detail != 0) {
				goto fail;
			}
		}
		if (transit && conn->chap != CHAP_OK) {
			if (conn->chap == CHAP_NONE && !conn->auth.require_chap) {
				conn->chap = CHAP_OK; /* no AuthMethod given: None */
			} else if (conn->chap == CHAP_NONE) {
				detail = ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
				goto fail;
			} else {
				transit = false; /* CHAP still running: stay in this stage */
			}
		}
	} else if (conn->chap != CHAP_OK) {
		if (conn->auth.require_chap) {
			detail = ISCSI_LOGIN_DETAIL_AUTH_FAILURE;
			goto fail;
		}
		conn->chap = CHAP_OK;
	}
	if (csg == ISCSI_OPERATIONAL_NEGOTIATION && !conn->op_declared) {
		conn->op_declared = true;
		iscsi_text_out_add_num(&out, "MaxRecvDataSegmentLength",
		                       conn->neg.target_limits.target_max_recv_dsl);
	}
	conn->login_text_len = 0;

	flags = (uint8_t)(csg << ISCSI_LOGIN_CSG_SHIFT);
	if (transit) {
		flags |= ISCSI_LOGIN_FLAG_TRANSIT | nsg;
		conn->login_csg = nsg;
		if (nsg == ISCSI_FULL_FEATURE_PHASE) {
			uint8_t status_class;

			detail = iscsi_login_finish(conn, &status_class);
			if (detail != 0) {
				FTGT_NOTICELOG("iscsi conn %llu (%s): login of '%s' refused: "
				               "status %02x/%02x\n",
				               (unsigned long long)conn->id, conn->peer_addr,
				               conn->initiator_name, status_class, detail);
				conn->reinstating = false; /* nothing to wait for: it closes */
				send_login_rsp(conn, req, 0, status_class, (uint8_t)detail, NULL,
				               0);
				free(rsp);
				return;
			}
		}
	}
	if (transit && nsg == ISCSI_FULL_FEATURE_PHASE &&
	    (conn->join_sess != NULL || conn->reinstating)) {
		/* Sent by the session's thread once the join is done: it must not say
		 * "success" before, and its ExpCmdSN/MaxCmdSN are the session's. */
		memcpy(&conn->join_req, req, sizeof(conn->join_req));
		conn->join_rsp_flags = flags;
		free(conn->join_rsp_text);
		conn->join_rsp_text = rsp;
		conn->join_rsp_len = out.len;
		rsp = NULL;
	} else {
		send_login_rsp(conn, req, flags, 0, 0, rsp, out.len);
	}
	free(rsp);
	if (transit && nsg == ISCSI_FULL_FEATURE_PHASE) {
		conn->sp = conn->neg.params;
		conn->sp.target_max_recv_dsl = conn->neg.target_limits.target_max_recv_dsl;
		if (conn->join_sess != NULL) {
			/* Session-wide keys are the session's; only the connection-only
			 * ones (digests, MaxRecvDataSegmentLength) are this login's. */
			struct iscsi_sess_params own = conn->sp;

			conn->sp = conn->join_sess->sp;
			conn->sp.header_digest = own.header_digest;
			conn->sp.data_digest = own.data_digest;
			conn->sp.initiator_max_recv_dsl = own.initiator_max_recv_dsl;
			conn->sp.target_max_recv_dsl = own.target_max_recv_dsl;
		}
		conn->state = CONN_FFP;
		/* Digests apply from the first PDU after the final login response (which
		 * goes out plain); the initiator sends nothing before it has it. */
		conn->rx.header_digest = conn->sp.header_digest;
		conn->rx.data_digest = conn->sp.data_digest;
		conn->rx.max_recv_dsl = conn->sp.target_max_recv_dsl;
		FTGT_INFOLOG("iscsi conn %llu: %s logged in to %s (tsih %u)\n",
		             (unsigned long long)conn->id, conn->initiator_name,
		             conn->discovery ? "discovery" : conn->target_name, conn->tsih);
	}
	return;
fail:
	FTGT_NOTICELOG("iscsi conn %llu (%s): login of '%s' failed: status 02/%02x (stage %u, "
	               "chap state %d)\n",
	               (unsigned long long)conn->id, conn->peer_addr, conn->neg.initiator_name,
	               detail, csg, (int)conn->chap);
	send_login_rsp(conn, req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR, (uint8_t)detail, NULL, 0);
	free(rsp);
}

void
iscsi_login_join_respond(struct iscsi_conn *conn, bool joined)
{
	if (joined) {
		send_login_rsp(conn, &conn->join_req, conn->join_rsp_flags, 0, 0,
		               conn->join_rsp_text, conn->join_rsp_len);
	} else {
		FTGT_NOTICELOG("iscsi conn %llu (%s): the session ended while joining it\n",
		               (unsigned long long)conn->id, conn->peer_addr);
		send_login_rsp(conn, &conn->join_req, 0, ISCSI_LOGIN_CLASS_INITIATOR_ERROR,
		               ISCSI_LOGIN_DETAIL_NO_SESSION, NULL, 0);
	}
	free(conn->join_rsp_text);
	conn->join_rsp_text = NULL;
}
