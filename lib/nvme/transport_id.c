/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport ID strings: "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:4420 subnqn:...".
 * Pairs are separated by blanks; key and value by the first ':' or '=' (so IPv6
 * addresses keep their colons).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "ftgt/nvme.h"
#include "ftgt/string.h"

static int
trid_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int
trid_set_str(char *dst, size_t dst_size, const char *key, const char *val, size_t val_len,
             char *err, size_t err_len)
{
	if (val_len == 0) {
		return trid_err(err, err_len, "transport ID: '%s' has an empty value", key);
	}
	if (val_len >= dst_size) {
		return trid_err(err, err_len, "transport ID: %s is longer than %zu bytes", key,
		                dst_size - 1);
	}
	memcpy(dst, val, val_len);
	dst[val_len] = '\0';
	return 0;
}

int
ftgt_nvme_transport_id_parse(struct ftgt_nvme_transport_id *trid, const char *str, char *err,
                             size_t err_len)
{
	bool seen_trtype = false, seen_adrfam = false, seen_svc = false, seen_ns = false;
	char key[16], val[FTGT_NVME_TRADDR_MAX_LEN + 1], nqn_err[128];
	struct sockaddr_storage ss;
	const char *p, *tok, *sep;
	size_t tok_len, key_len, val_len;
	char *end;
	int rc;

	if (err != NULL && err_len > 0) {
		err[0] = '\0';
	}
	memset(trid, 0, sizeof(*trid));
	if (str == NULL) {
		return trid_err(err, err_len, "transport ID: empty string");
	}
	for (p = str;;) {
		p += strspn(p, " \t\n");
		if (*p == '\0') {
			break;
		}
		tok = p;
		tok_len = strcspn(p, " \t\n");
		p += tok_len;
		sep = tok;
		while (sep < tok + tok_len && *sep != ':' && *sep != '=') {
			sep++;
		}
		if (sep == tok + tok_len) {
			return trid_err(err, err_len,
			                "transport ID: '%.*s' is not key:value (keys: trtype, "
			                "adrfam, traddr, trsvcid, subnqn, hostnqn, ns)",
			                (int)FTGT_MIN(tok_len, 64), tok);
		}
		key_len = (size_t)(sep - tok);
		val_len = tok_len - key_len - 1;
		if (key_len == 0 || key_len >= sizeof(key)) {
			return trid_err(err, err_len, "transport ID: unknown key '%.*s'",
			                (int)FTGT_MIN(key_len, 32), tok);
		}
		memcpy(key, tok, key_len);
		key[key_len] = '\0';
		if (val_len > FTGT_NVME_TRADDR_MAX_LEN) {
			return trid_err(err, err_len, "transport ID: %s is longer than %d bytes",
			                key, FTGT_NVME_TRADDR_MAX_LEN);
		}
		memcpy(val, sep + 1, val_len);
		val[val_len] = '\0';
		if (val_len == 0) {
			return trid_err(err, err_len, "transport ID: '%s' has an empty value", key);
		}

		if (strcasecmp(key, "trtype") == 0) {
			if (seen_trtype) {
				goto dup;
			}
			seen_trtype = true;
			if (strcasecmp(val, "tcp") != 0) {
				return trid_err(
				        err, err_len,
				        "transport ID: trtype '%s' is not supported (only tcp)",
				        val);
			}
			trid->trtype = NVMF_TRTYPE_TCP;
		} else if (strcasecmp(key, "adrfam") == 0) {
			if (seen_adrfam) {
				goto dup;
			}
			seen_adrfam = true;
			if (strcasecmp(val, "ipv4") == 0) {
				trid->adrfam = NVMF_ADRFAM_IPV4;
			} else if (strcasecmp(val, "ipv6") == 0) {
				trid->adrfam = NVMF_ADRFAM_IPV6;
			} else {
				return trid_err(err, err_len,
				                "transport ID: adrfam '%s' is not ipv4 or ipv6",
				                val);
			}
		} else if (strcasecmp(key, "traddr") == 0) {
			if (trid->traddr[0] != '\0') {
				goto dup;
			}
			rc = trid_set_str(trid->traddr, sizeof(trid->traddr), key, val, val_len,
			                  err, err_len);
			if (rc != 0) {
				return rc;
			}
		} else if (strcasecmp(key, "trsvcid") == 0) {
			unsigned long port;

			if (seen_svc) {
				goto dup;
			}
			seen_svc = true;
			errno = 0;
			port = strtoul(val, &end, 10);
			if (*end != '\0' || val[0] < '0' || val[0] > '9' || port == 0 ||
			    port > 65535) {
				return trid_err(err, err_len,
				                "transport ID: trsvcid '%s' is not a port 1..65535",
				                val);
			}
			snprintf(trid->trsvcid, sizeof(trid->trsvcid), "%lu", port);
		} else if (strcasecmp(key, "subnqn") == 0 || strcasecmp(key, "hostnqn") == 0) {
			char *dst = strcasecmp(key, "subnqn") == 0 ? trid->subnqn : trid->hostnqn;

			if (dst[0] != '\0') {
				goto dup;
			}
			if (!ftgt_nqn_is_valid(val, nqn_err, sizeof(nqn_err))) {
				return trid_err(err, err_len,
				                "transport ID: %s '%.64s' is invalid: %s", key, val,
				                nqn_err);
			}
			rc = trid_set_str(dst, FTGT_NVME_NQN_MAX_LEN + 1, key, val, val_len, err,
			                  err_len);
			if (rc != 0) {
				return rc;
			}
		} else if (strcasecmp(key, "ns") == 0) {
			unsigned long nsid;

			if (seen_ns) {
				goto dup;
			}
			seen_ns = true;
			nsid = strtoul(val, &end, 10);
			if (*end != '\0' || val[0] < '0' || val[0] > '9' || nsid == 0 ||
			    nsid >= 0xffffffffUL) {
				return trid_err(err, err_len,
				                "transport ID: ns '%s' is not a namespace ID", val);
			}
			trid->nsid = (uint32_t)nsid;
		} else {
			return trid_err(err, err_len,
			                "transport ID: unknown key '%s' (keys: trtype, adrfam, "
			                "traddr, trsvcid, subnqn, hostnqn, ns)",
			                key);
		}
	}

	if (!seen_trtype) {
		return trid_err(err, err_len, "transport ID: trtype is missing (trtype:tcp)");
	}
	if (trid->traddr[0] == '\0') {
		return trid_err(err, err_len, "transport ID: traddr is missing");
	}
	if (!seen_svc) {
		snprintf(trid->trsvcid, sizeof(trid->trsvcid), "4420");
	}
	rc = ftgt_parse_ip_port(trid->traddr, trid->trsvcid,
	                        !seen_adrfam                       ? AF_UNSPEC
	                        : trid->adrfam == NVMF_ADRFAM_IPV4 ? AF_INET
	                                                           : AF_INET6,
	                        &ss, NULL);
	if (rc != 0) {
		return trid_err(err, err_len,
		                "transport ID: traddr '%s' is not a numeric %s address",
		                trid->traddr,
		                !seen_adrfam                       ? "IP"
		                : trid->adrfam == NVMF_ADRFAM_IPV4 ? "IPv4"
		                                                   : "IPv6");
	}
	if (!seen_adrfam) {
		trid->adrfam = ss.ss_family == AF_INET ? NVMF_ADRFAM_IPV4 : NVMF_ADRFAM_IPV6;
	}
	if (trid->subnqn[0] == '\0') {
		ftgt_strlcpy(trid->subnqn, FTGT_NQN_DISCOVERY, sizeof(trid->subnqn));
	}
	return 0;
dup:
	return trid_err(err, err_len, "transport ID: '%s' is given twice", key);
}

const char *
ftgt_nvme_transport_id_str(const struct ftgt_nvme_transport_id *trid, char *buf, size_t buf_len)
{
	snprintf(buf, buf_len, "trtype:tcp adrfam:%s traddr:%s trsvcid:%s subnqn:%s",
	         trid->adrfam == NVMF_ADRFAM_IPV6 ? "ipv6" : "ipv4", trid->traddr, trid->trsvcid,
	         trid->subnqn);
	return buf;
}
