/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Names and addresses as users and initiators write them (NVMe NQNs, iSCSI names,
 * numeric IP addresses), and bounded string copies for fixed-width wire fields.
 *
 * All functions are reentrant and may be called from any thread; none allocates.
 * Validators return true or false and, when err is not NULL and err_len > 0, leave a
 * sentence in err saying what is wrong (empty string when valid), suitable for a
 * JSON-RPC error message.
 */
#ifndef FTGT_STRING_H
#define FTGT_STRING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* NVM Express Base Specification 2.0, 4.5: NQNs are at most 223 bytes of UTF-8. */
#define FTGT_NQN_MAX_LEN     223
#define FTGT_NQN_DISCOVERY   "nqn.2014-08.org.nvmexpress.discovery"
#define FTGT_NQN_UUID_PREFIX "nqn.2014-08.org.nvmexpress:uuid:"

/* RFC 7143 4.2.7.1: iSCSI names are at most 223 bytes. */
#define FTGT_ISCSI_NAME_MAX_LEN 223

/*
 * NVMe Qualified Name (NVMe Base 2.0, 4.5). Valid are:
 *  - "nqn.yyyy-mm.<reverse domain>:<string>": month 01..12; the domain is dot-separated
 *    labels of letters, digits and '-' (1..63 bytes, no '-' at either end); the string
 *    after the first ':' is non-empty UTF-8;
 *  - "nqn.2014-08.org.nvmexpress:uuid:" followed by a 36-character UUID and nothing else;
 *  - the discovery NQN, FTGT_NQN_DISCOVERY.
 * At most FTGT_NQN_MAX_LEN bytes, valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) and no control characters anywhere.
 */
bool ftgt_nqn_is_valid(const char *nqn, char *err, size_t err_len);

/*
 * iSCSI name (RFC 7143 4.2.7, RFC 3720 3.2.6, RFC 3722). Valid are:
 *  - "iqn.yyyy-mm.<reversed domain>[:<identifier>]": month 01..12; domain labels of
 *    a-z, 0-9 and '-' (no '-' at either end); a non-empty identifier of a-z, 0-9, '-',
 *    '.', ':' and non-ASCII characters that RFC 3722 does not prohibit;
 *  - "eui." and 16 hex digits;
 *  - "naa." and 16 or 32 hex digits.
 * Hex digits of eui./naa. names may be of either case (RFC 3720 writes them upper case);
 * everything else must already be in the lower-case form RFC 3722 maps names to.
 * At most FTGT_ISCSI_NAME_MAX_LEN bytes of valid UTF-8. Not checked: the stringprep
 * case folding and NFKC normalisation of non-ASCII characters.
 */
bool ftgt_iscsi_name_is_valid(const char *name, char *err, size_t err_len);

/*
 * Numeric address and port -> socket address. addr is dotted-quad IPv4 or IPv6, which
 * may be in brackets ("[::1]") and may carry a scope ("fe80::1%eth0", "fe80::1%2");
 * host names and legacy IPv4 forms ("127.1", "0x7f.0.0.1") are refused. port is decimal
 * 1..65535. family_hint is AF_UNSPEC (either), AF_INET or AF_INET6 (only that family).
 * On success fills *ss (the rest zeroed) and, if len is not NULL, *len with the size of
 * the sockaddr_in/sockaddr_in6. Returns 0 or -EINVAL (bad address, port or hint).
 */
int ftgt_parse_ip_port(const char *addr, const char *port, int family_hint,
                       struct sockaddr_storage *ss, socklen_t *len);

/*
 * True if a listener could bind sa here: the wildcard address of its family, an
 * address assigned to one of this machine's interfaces (getifaddrs(3); an IPv6 scope id,
 * if set, must name that interface), or anything in 127.0.0.0/8 (the kernel treats the
 * whole block as local). IPv4-mapped IPv6 addresses are checked as IPv4. Management
 * path only: it walks the interface list.
 */
bool ftgt_addr_is_local(const struct sockaddr *sa);

/*
 * Fill the size-byte field dst with src, padded with pad (e.g. ' ' for SCSI INQUIRY and
 * NVMe Identify strings, which are space padded and not NUL-terminated). src longer
 * than size is truncated. src NULL is the empty string.
 */
void ftgt_strcpy_pad(void *dst, const char *src, size_t size, int pad);

/*
 * Copy src into dst of size bytes, always NUL-terminated when size > 0. Returns
 * strlen(src): the copy was truncated iff the result is >= size.
 */
size_t ftgt_strlcpy(char *dst, const char *src, size_t size);

/*
 * Remove leading and trailing ASCII white space from s in place (the text moves to the
 * start, so s can still be freed). Returns s; NULL for NULL.
 */
char *ftgt_strtrim(char *s);

#endif /* FTGT_STRING_H */
