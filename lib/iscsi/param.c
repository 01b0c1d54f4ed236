/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iSCSI text keys (RFC 7143 6, 13): key=value iteration and login-time negotiation of
 * the operational and digest keys. Pure functions: the login state machine hands the
 * received data segment in and sends the produced response text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi_internal.h"

int
iscsi_text_next(const uint8_t *buf, uint32_t len, uint32_t *pos, const char **key,
                uint32_t *key_len, const char **value, uint32_t *value_len)
{
	uint32_t p = *pos, start, eq = UINT32_MAX, end;

	/* Skip stray NULs (padding). */
	while (p < len && buf[p] == '\0') {
		p++;
	}
	if (p >= len) {
		*pos = len;
		return 0;
	}
	start = p;
	while (p < len && buf[p] != '\0') {
		if (buf[p] == '=' && eq == UINT32_MAX) {
			eq = p;
		}
		p++;
	}
	end = p;
	*pos = p < len ? p + 1 : len;
	if (eq == UINT32_MAX || eq == start || eq - start > ISCSI_TEXT_MAX_KEY_LEN ||
	    end - eq - 1 > ISCSI_TEXT_MAX_VALUE_LEN) {
		return -EINVAL;
	}
	*key = (const char *)buf + start;
	*key_len = eq - start;
	*value = (const char *)buf + eq + 1;
	*value_len = end - eq - 1;
	return 1;
}

void
iscsi_sess_params_init_defaults(struct iscsi_sess_params *p)
{
	/* RFC 7143 13: defaults before negotiation. */
	memset(p, 0, sizeof(*p));
	p->max_connections = 1;
	p->initial_r2t = true;
	p->immediate_data = true;
	p->max_burst_len = 262144;
	p->first_burst_len = 65536;
	p->default_time2wait = 2;
	p->default_time2retain = 20;
	p->max_outstanding_r2t = 1;
	p->data_pdu_in_order = true;
	p->data_sequence_in_order = true;
	p->error_recovery_level = 0;
	p->initiator_max_recv_dsl = 8192;
	p->target_max_recv_dsl = 8192;
}

static bool
key_is(const char *key, uint32_t key_len, const char *name)
{
	return strlen(name) == key_len && memcmp(key, name, key_len) == 0;
}

/* Parse a decimal number value (RFC 7143 5.1: numerical values, no sign). */
static int
parse_num(const char *v, uint32_t vl, uint64_t *out)
{
	uint64_t n = 0;
	uint32_t i;

	if (vl == 0 || vl > 20) {
		return -EINVAL;
	}
	if (vl > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		for (i = 2; i < vl; i++) {
			char c = v[i];
			int d;

			if (c >= '0' && c <= '9') {
				d = c - '0';
			} else if (c >= 'a' && c <= 'f') {
				d = c - 'a' + 10;
			} else if (c >= 'A' && c <= 'F') {
				d = c - 'A' + 10;
			} else {
				return -EINVAL;
			}
			if (n >> 60) {
				return -EINVAL;
			}
			n = n * 16 + (uint64_t)d;
		}
		*out = n;
		return 0;
	}
	for (i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9') {
			return -EINVAL;
		}
		if (n > (UINT64_MAX - 9) / 10) {
			return -EINVAL;
		}
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return 0;
}

static int
parse_bool(const char *v, uint32_t vl, bool *out)
{
	if (vl == 3 && memcmp(v, "Yes", 3) == 0) {
		*out = true;
		return 0;
	}
	if (vl == 2 && memcmp(v, "No", 2) == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* Whether `item` is in the comma-separated list v[0..vl). */
bool
iscsi_text_list_has(const char *v, uint32_t vl, const char *item)
{
	size_t il = strlen(item);
	uint32_t s = 0, i;

	for (i = 0; i <= vl; i++) {
		if (i == vl || v[i] == ',') {
			if (i - s == il && memcmp(v + s, item, il) == 0) {
				return true;
			}
			s = i + 1;
		}
	}
	return false;
}

static int
out_append(struct iscsi_text_out *out, const char *key, uint32_t key_len, const char *value)
{
	size_t vl = strlen(value);

	if (out->len + key_len + 1 + vl + 1 > out->cap) {
		out->overflow = true;
		return -ENOSPC;
	}
	memcpy(out->buf + out->len, key, key_len);
	out->len += key_len;
	out->buf[out->len++] = '=';
	memcpy(out->buf + out->len, value, vl);
	out->len += (uint32_t)vl;
	out->buf[out->len++] = '\0';
	return 0;
}

int
iscsi_text_out_add(struct iscsi_text_out *out, const char *key, const char *value)
{
	return out_append(out, key, (uint32_t)strlen(key), value);
}

int
iscsi_text_out_add_num(struct iscsi_text_out *out, const char *key, uint64_t value)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)value);
	return iscsi_text_out_add(out, key, s);
}

/* Negotiation description of one numeric key (RFC 7143 13). */
enum num_rule { NUM_MIN, NUM_MAX, NUM_DECL };

struct num_key {
	const char *name;
	enum num_rule rule;
	uint64_t lo, hi;
	size_t off;        /* uint32_t field in struct iscsi_sess_params */
	bool leading_only; /* session-wide: only on the leading connection */
};

#define P_OFF(f) offsetof(struct iscsi_sess_params, f)
static const struct num_key g_num_keys[] = {
        {"MaxConnections", NUM_MIN, 1, 65535, P_OFF(max_connections), true},
        {"MaxRecvDataSegmentLength", NUM_DECL, 512, 16777215, P_OFF(initiator_max_recv_dsl), false},
        {"MaxBurstLength", NUM_MIN, 512, 16777215, P_OFF(max_burst_len), true},
        {"FirstBurstLength", NUM_MIN, 512, 16777215, P_OFF(first_burst_len), true},
        {"DefaultTime2Wait", NUM_MAX, 0, 3600, P_OFF(default_time2wait), true},
        {"DefaultTime2Retain", NUM_MIN, 0, 3600, P_OFF(default_time2retain), true},
        {"MaxOutstandingR2T", NUM_MIN, 1, 65535, P_OFF(max_outstanding_r2t), true},
        {"ErrorRecoveryLevel", NUM_MIN, 0, 2, P_OFF(error_recovery_level), true},
};

enum bool_rule { BOOL_OR, BOOL_AND };
struct bool_key {
	const char *name;
	enum bool_rule rule;
	size_t off; /* bool field */
};
static const struct bool_key g_bool_keys[] = {
        {"InitialR2T", BOOL_OR, P_OFF(initial_r2t)},
        {"ImmediateData", BOOL_AND, P_OFF(immediate_data)},
        {"DataPDUInOrder", BOOL_OR, P_OFF(data_pdu_in_order)},
        {"DataSequenceInOrder", BOOL_OR, P_OFF(data_sequence_in_order)},
        {"IFMarker", BOOL_AND, SIZE_MAX},
        {"OFMarker", BOOL_AND, SIZE_MAX},
};

static void
copy_value(char *dst, size_t cap, const char *v, uint32_t vl)
{
	size_t n = FTGT_MIN((size_t)vl, cap - 1);

	memcpy(dst, v, n);
	dst[n] = '\0';
}

int
iscsi_negotiate(struct iscsi_negotiation *neg, const uint8_t *text, uint32_t text_len,
                struct iscsi_text_out *out)
{
	struct iscsi_sess_params *p = &neg->params;
	const struct iscsi_sess_params *lim = &neg->target_limits;
	uint32_t pos = 0, kl, vl;
	const char *k, *v;
	int rc;
	size_t i;

	while ((rc = iscsi_text_next(text, text_len, &pos, &k, &kl, &v, &vl)) == 1) {
		bool handled = false;

		/* Responses to our own declarations/offers need no answer. */
		if ((vl == 13 && memcmp(v, "NotUnderstood", 13) == 0) ||
		    (vl == 10 && memcmp(v, "Irrelevant", 10) == 0) ||
		    (vl == 6 && memcmp(v, "Reject", 6) == 0)) {
			continue;
		}
		if (key_is(k, kl, "InitiatorName")) {
			copy_value(neg->initiator_name, sizeof(neg->initiator_name), v, vl);
			continue;
		}
		if (key_is(k, kl, "InitiatorAlias")) {
			copy_value(neg->initiator_alias, sizeof(neg->initiator_alias), v, vl);
			continue;
		}
		if (key_is(k, kl, "TargetName")) {
			copy_value(neg->target_name, sizeof(neg->target_name), v, vl);
			neg->target_name_given = true;
			continue;
		}
		if (key_is(k, kl, "SessionType")) {
			if (vl == 9 && memcmp(v, "Discovery", 9) == 0) {
				neg->discovery = true;
			} else if (vl == 6 && memcmp(v, "Normal", 6) == 0) {
				neg->discovery = false;
			} else {
				return -EINVAL;
			}
			continue;
		}
		if (key_is(k, kl, "AuthMethod")) {
			/* Only meaningful in the security stage; login.c decides. */
			neg->auth_none_offered = iscsi_text_list_has(v, vl, "None");
			neg->auth_chap_offered = iscsi_text_list_has(v, vl, "CHAP");
			neg->auth_method_seen = true;
			continue;
		}
		if (key_is(k, kl, "HeaderDigest") || key_is(k, kl, "DataDigest")) {
			bool hdr = k[0] == 'H';
			bool allow = hdr ? neg->allow_header_digest : neg->allow_data_digest;
			bool crc = allow && iscsi_text_list_has(v, vl, "CRC32C");
			bool none = iscsi_text_list_has(v, vl, "None");
			const char *choice;

			/* Prefer the initiator's order: first acceptable value. */
			if (crc && none) {
				crc = memcmp(v, "CRC32C", FTGT_MIN(vl, 6u)) == 0;
			}
			if (!crc && !none) {
				choice = "Reject";
			} else {
				choice = crc ? "CRC32C" : "None";
				if (hdr) {
					p->header_digest = crc;
				} else {
					p->data_digest = crc;
				}
			}
			out_append(out, k, kl, choice);
			continue;
		}
		for (i = 0; i < FTGT_COUNTOF(g_num_keys); i++) {
			const struct num_key *nk = &g_num_keys[i];
			uint32_t *field = (uint32_t *)((uint8_t *)p + nk->off);
			uint32_t ours = *(const uint32_t *)((const uint8_t *)lim + nk->off);
			uint64_t n;

			if (!key_is(k, kl, nk->name)) {
				continue;
			}
			handled = true;
			if (parse_num(v, vl, &n) != 0 || n < nk->lo || n > nk->hi) {
				out_append(out, k, kl, "Reject");
				break;
			}
			if (neg->discovery && nk->leading_only &&
			    strcmp(nk->name, "MaxConnections") != 0 &&
			    strcmp(nk->name, "ErrorRecoveryLevel") != 0 &&
			    strcmp(nk->name, "DefaultTime2Wait") != 0 &&
			    strcmp(nk->name, "DefaultTime2Retain") != 0) {
				/* 13: these are irrelevant for discovery sessions */
				out_append(out, k, kl, "Irrelevant");
				break;
			}
			switch (nk->rule) {
			case NUM_MIN:
				*field = (uint32_t)FTGT_MIN(n, (uint64_t)ours);
				break;
			case NUM_MAX:
				*field = (uint32_t)FTGT_MAX(n, (uint64_t)ours);
				break;
			case NUM_DECL:
				*field = (uint32_t)n;
				break;
			}
			if (nk->rule != NUM_DECL) {
				iscsi_text_out_add_num(out, nk->name, *field);
			}
			break;
		}
		if (handled) {
			continue;
		}
		for (i = 0; i < FTGT_COUNTOF(g_bool_keys); i++) {
			const struct bool_key *bk = &g_bool_keys[i];
			bool b, ours, res;

			if (!key_is(k, kl, bk->name)) {
				continue;
			}
			handled = true;
			if (parse_bool(v, vl, &b) != 0) {
				out_append(out, k, kl, "Reject");
				break;
			}
			if (bk->off == SIZE_MAX) {
				res = false; /* markers are not supported */
			} else {
				ours = *(const bool *)((const uint8_t *)lim + bk->off);
				res = bk->rule == BOOL_OR ? (b || ours) : (b && ours);
				if (neg->discovery) {
					out_append(out, k, kl, "Irrelevant");
					break;
				}
				*(bool *)((uint8_t *)p + bk->off) = res;
			}
			out_append(out, k, kl, res ? "Yes" : "No");
			break;
		}
		if (handled) {
			continue;
		}
		if (key_is(k, kl, "OFMarkInt") || key_is(k, kl, "IFMarkInt")) {
			out_append(out, k, kl, "Irrelevant");
			continue;
		}
		if (key_is(k, kl, "TargetAlias") || key_is(k, kl, "TargetAddress") ||
		    key_is(k, kl, "TargetPortalGroupTag")) {
			/* Target-declared keys sent by an initiator: 6.2 protocol error. */
			return -EINVAL;
		}
		if (key_is(k, kl, "CHAP_A") || key_is(k, kl, "CHAP_N") || key_is(k, kl, "CHAP_R") ||
		    key_is(k, kl, "CHAP_I") || key_is(k, kl, "CHAP_C")) {
			continue; /* security stage: handled by chap.c */
		}
		out_append(out, k, kl, "NotUnderstood");
	}
	if (rc < 0) {
		return rc;
	}
	/* 13.14: FirstBurstLength must not exceed MaxBurstLength. */
	if (p->first_burst_len > p->max_burst_len) {
		p->first_burst_len = p->max_burst_len;
	}
	return out->overflow ? -ENOSPC : 0;
}
