/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests lib/util/string.c: NQN and iSCSI name rules, numeric addresses, string helpers. */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "ftgt/string.h"

struct name_case {
	const char *name;
	const char *err_part; /* NULL: valid; else a substring of the error text */
};

/* A name of exactly len bytes: prefix, then 'a's. */
static const char *
name_of_len(char *buf, const char *prefix, size_t len)
{
	size_t p = strlen(prefix);

	memcpy(buf, prefix, p);
	memset(buf + p, 'a', len - p);
	buf[len] = '\0';
	return buf;
}

static void
check_names(bool (*fn)(const char *, char *, size_t), const struct name_case *c, size_t n)
{
	char err[256];
	size_t i;

	for (i = 0; i < n; i++) {
		bool valid;

		memset(err, 'x', sizeof(err));
		valid = fn(c[i].name, err, sizeof(err));
		if (c[i].err_part == NULL) {
			CU_ASSERT(valid);
			CU_ASSERT_STRING_EQUAL(err, "");
		} else {
			CU_ASSERT(!valid);
			CU_ASSERT(strstr(err, c[i].err_part) != NULL);
		}
		if (valid != (c[i].err_part == NULL) ||
		    (!valid && strstr(err, c[i].err_part) == NULL)) {
			fprintf(stderr, "\n  \"%s\": valid %d, err \"%s\"\n", c[i].name, valid,
			        err);
		}
		/* The answer does not depend on having an error buffer. */
		CU_ASSERT_EQUAL(fn(c[i].name, NULL, 0), valid);
		CU_ASSERT_EQUAL(fn(c[i].name, err, 1), valid);
		CU_ASSERT_EQUAL(err[0], '\0');
	}
}

static void
test_nqn(void)
{
	static const struct name_case cases[] = {
	        {"nqn.2014-08.org.nvmexpress.discovery", NULL},
	        {"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", NULL},
	        {"nqn.2014-08.org.nvmexpress:uuid:F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6", NULL},
	        {"nqn.2016-06.io.spdk:cnode1", NULL},
	        {"nqn.2014-08.com.example:nvme:nvm-subsystem-sn-d78432", NULL},
	        {"nqn.2014-08.com.example:nvme.host.sys.xyz", NULL},
	        {"nqn.2019-10.COM.Example:Upper_Case ok", NULL},
	        {"nqn.2016-06.io.1and1:x", NULL},
	        {"nqn.2014-08.com:x", NULL},
	        {"nqn.2016-06.io.spdk:\xd0\xb4\xd0\xb8\xd1\x81\xd0\xba", NULL}, /* Cyrillic */
	        {"nqn.2016-06.io.spdk:\xf0\x9f\x92\xbe", NULL},                 /* U+1F4BE */
	        {"nqn.2014-08.org.nvmexpress.discovery:x", NULL},
	        {"nqn.2014-08.org.nvmexpress.discovery-not", "':'"},
	        {"", "empty"},
	        {NULL, "empty"},
	        {"nqn.2016-06.io.spdk", "':'"},
	        {"nqn.2016-06.io.spdk:", "nothing after ':'"},
	        {"nqn.2016-13.io.spdk:x", "month 13"},
	        {"nqn.2016-00.io.spdk:x", "month 00"},
	        {"nqn.16-06.io.spdk:x", "yyyy-mm"},
	        {"nqn.2016-6.io.spdk:x", "yyyy-mm"},
	        {"nqn.2016/06.io.spdk:x", "yyyy-mm"},
	        {"nqn.2016-06", "followed by '.'"},
	        {"nqn.2016-06io.spdk:x", "followed by '.'"},
	        {"nqn.", "yyyy-mm"},
	        {"NQN.2016-06.io.spdk:x", "start with \"nqn.\""},
	        {"iqn.2016-06.io.spdk:x", "start with \"nqn.\""},
	        {"nqn.2016-06..io.spdk:x", "empty label"},
	        {"nqn.2016-06.io..spdk:x", "empty label"},
	        {"nqn.2016-06.io.spdk.:x", "empty label"},
	        {"nqn.2016-06.:x", "empty label"},
	        {"nqn.2016-06.", "empty label"},
	        {"nqn.2016-06.-io.spdk:x", "'-'"},
	        {"nqn.2016-06.io-.spdk:x", "'-'"},
	        {"nqn.2016-06.io_x.spdk:x", "'_'"},
	        {"nqn.2016-06.io.sp dk:x", "byte 0x20"},
	        {"nqn.2016-06.io.sp\xc3\xa4k:x", "byte 0xc3"},
	        {"nqn.2016-06.com.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:"
	         "x",
	         "limit is 63"},
	        {"nqn.2016-06.com.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:"
	         "x",
	         NULL},
	        {"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf", "UUID"},
	        {"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf66", "UUID"},
	        {"nqn.2014-08.org.nvmexpress:uuid:", "UUID"},
	        {"nqn.2014-08.org.nvmexpress:uuid:f81d4fae7dec11d0a76500a0c91e6bf6abcd", "UUID"},
	        {"nqn.2014-08.org.nvmexpress:uuid:g81d4fae-7dec-11d0-a765-00a0c91e6bf6", "UUID"},
	        {"nqn.2016-06.io.spdk:a\xff", "UTF-8"},
	        {"nqn.2016-06.io.spdk:\xc0\xaf", "UTF-8"},         /* overlong '/' */
	        {"nqn.2016-06.io.spdk:\xe0\x80\xaf", "UTF-8"},     /* overlong '/' */
	        {"nqn.2016-06.io.spdk:\xed\xa0\x80", "UTF-8"},     /* surrogate */
	        {"nqn.2016-06.io.spdk:\xf4\x90\x80\x80", "UTF-8"}, /* > U+10FFFF */
	        {"nqn.2016-06.io.spdk:\xe2\x82", "UTF-8"},         /* truncated */
	        {"nqn.2016-06.io.spdk:\x80", "UTF-8"},             /* lone continuation */
	        {"nqn.2016-06.io.spdk:a\nb", "control"},
	        {"nqn.2016-06.io.spdk:a\x7f", "control"},
	        {"nqn.2016-06.io.spdk:a\xc2\x85", "control"}, /* U+0085 */
	};
	char buf[300];
	char err[128];

	check_names(ftgt_nqn_is_valid, cases, sizeof(cases) / sizeof(cases[0]));

	CU_ASSERT(
	        ftgt_nqn_is_valid(name_of_len(buf, "nqn.2016-06.io.spdk:", 223), err, sizeof(err)));
	CU_ASSERT(!ftgt_nqn_is_valid(name_of_len(buf, "nqn.2016-06.io.spdk:", 224), err,
	                             sizeof(err)));
	CU_ASSERT(strstr(err, "224 bytes") != NULL);
	/* A short error buffer gets a truncated, terminated message. */
	CU_ASSERT(!ftgt_nqn_is_valid("nqn.2016-06.io.spdk", err, 8));
	CU_ASSERT_EQUAL(strlen(err), 7);
}

static void
test_iscsi_name(void)
{
	static const struct name_case cases[] = {
	        {"iqn.2001-04.com.example:storage:diskarrays-sn-a8675309", NULL},
	        {"iqn.2001-04.com.example", NULL},
	        {"iqn.2001-04.com.example:storage.tape1.sys1.xyz", NULL},
	        {"iqn.2001-04.com.example.storage.tape1.sys1.xyz", NULL},
	        {"iqn.2016-06.io.spdk:disk1", NULL},
	        {"iqn.1994-05.com.redhat:5f4a2c6b1d", NULL},
	        {"iqn.2003-01.org.linux-iscsi.host.x8664:sn.4d2e3e1c8a2b", NULL},
	        {"iqn.2001-04.com.example:\xe3\x83\x87\xe3\x82\xa3\xe3\x82\xb9\xe3\x82\xaf", NULL},
	        {"eui.02004567A425678D", NULL},
	        {"eui.02004567a425678d", NULL},
	        {"naa.52004567BA64678D", NULL},
	        {"naa.6001405abcdef0123456789abcdef012", NULL},
	        {"", "empty"},
	        {NULL, "empty"},
	        {"IQN.2001-04.com.example", "lower case"},
	        {"Eui.02004567A425678D", "lower case"},
	        {"iqn.2001-04.com.Example", "lower case ('E'"},
	        {"iqn.2001-04.com.example:Disk", "lower case ('D' at byte 24)"},
	        {"iqn.2001-04.com.example:disk_1", "'_' at byte 28"},
	        {"iqn.2001-04.com.example:disk 1", "byte 0x20"},
	        {"iqn.2001-04.com.example:a\tb", "byte 0x09"},
	        {"iqn.2001-04.com.example:a/b", "'/'"},
	        {"iqn.2001-04.com.example:", "nothing after ':'"},
	        {"iqn.2001-04.com.example_x", "'_'"},
	        {"iqn.2001-13.com.example", "month 13"},
	        {"iqn.01-04.com.example", "yyyy-mm"},
	        {"iqn.2001-04", "followed by '.'"},
	        {"iqn.2001-04.", "empty label"},
	        {"iqn.2001-04.com..example", "empty label"},
	        {"iqn.2001-04.-com.example", "'-'"},
	        {"eui.02004567A425678", "exactly 16 hex digits"},
	        {"eui.02004567A425678DA", "exactly 16 hex digits"},
	        {"eui.02004567A425678G", "exactly 16 hex digits"},
	        {"eui.", "exactly 16 hex digits"},
	        {"naa.52004567BA64678D0", "16 or 32 hex digits"},
	        {"naa.0123456789abcdef0123456789abcde", "16 or 32 hex digits"},
	        {"naa.0123456789abcdef0123456789abcdef0", "16 or 32 hex digits"},
	        {"foo.bar", "start with \"iqn.\""},
	        {"iqn", "start with \"iqn.\""},
	        {"iqn.2001-04.com.example:a\xe3\x80\x82"
	         "b",
	         "U+3002"},
	        {"iqn.2001-04.com.example:a\xc2\xa0", "U+00A0"},
	        {"iqn.2001-04.com.example:a\xc2\x85", "U+0085"},
	        {"iqn.2001-04.com.example:\xe2\x80\x8b", "U+200B"},
	        {"iqn.2001-04.com.example:\xe2\x80\xae", "U+202E"},
	        {"iqn.2001-04.com.example:\xef\xbb\xbf", "U+FEFF"},
	        {"iqn.2001-04.com.example:\xef\xbf\xbe", "U+FFFE"},
	        {"iqn.2001-04.com.example:\xee\x80\x80", "U+E000"},
	        {"iqn.2001-04.com.example:\xf3\xa0\x80\x81", "U+E0001"},
	        {"iqn.2001-04.com.example:\xf4\x8f\xbf\xbd", "U+10FFFD"},
	        {"iqn.2001-04.com.example:\xff", "UTF-8"},
	        {"iqn.2001-04.com.example:\xc1\xbf", "UTF-8"},
	};
	char buf[300];
	char err[128];

	check_names(ftgt_iscsi_name_is_valid, cases, sizeof(cases) / sizeof(cases[0]));

	CU_ASSERT(ftgt_iscsi_name_is_valid(name_of_len(buf, "iqn.2001-04.com.example:", 223), err,
	                                   sizeof(err)));
	CU_ASSERT(!ftgt_iscsi_name_is_valid(name_of_len(buf, "iqn.2001-04.com.example:", 224), err,
	                                    sizeof(err)));
	CU_ASSERT(strstr(err, "224 bytes") != NULL);
}

struct addr_case {
	const char *addr;
	const char *port;
	int hint;
	int family; /* 0: -EINVAL expected */
	uint16_t port_num;
};

static void
test_parse_ip_port(void)
{
	static const struct addr_case cases[] = {
	        {"127.0.0.1", "4420", AF_UNSPEC, AF_INET, 4420},
	        {"0.0.0.0", "1", AF_INET, AF_INET, 1},
	        {"255.255.255.255", "65535", AF_UNSPEC, AF_INET, 65535},
	        {"10.1.2.3", "00080", AF_UNSPEC, AF_INET, 80},
	        {"::1", "4420", AF_UNSPEC, AF_INET6, 4420},
	        {"[::1]", "4420", AF_UNSPEC, AF_INET6, 4420},
	        {"[::1]", "4420", AF_INET6, AF_INET6, 4420},
	        {"::", "3260", AF_INET6, AF_INET6, 3260},
	        {"2001:db8::1", "3260", AF_UNSPEC, AF_INET6, 3260},
	        {"::ffff:192.0.2.1", "80", AF_UNSPEC, AF_INET6, 80},
	        {"fe80::1%1", "4420", AF_UNSPEC, AF_INET6, 4420},
	        {"localhost", "4420", AF_UNSPEC, 0, 0},
	        {"127.1", "4420", AF_UNSPEC, 0, 0},
	        {"0x7f.0.0.1", "4420", AF_UNSPEC, 0, 0},
	        {"127.0.0.01", "4420", AF_UNSPEC, 0, 0},
	        {"127.0.0.1 ", "4420", AF_UNSPEC, 0, 0},
	        {" 127.0.0.1", "4420", AF_UNSPEC, 0, 0},
	        {"256.0.0.1", "4420", AF_UNSPEC, 0, 0},
	        {"", "4420", AF_UNSPEC, 0, 0},
	        {NULL, "4420", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", NULL, AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "0", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "65536", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "123456", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "-1", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "+1", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "1a", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", " 80", AF_UNSPEC, 0, 0},
	        {"127.0.0.1", "0x50", AF_UNSPEC, 0, 0},
	        {"::1", "4420", AF_INET, 0, 0},
	        {"127.0.0.1", "4420", AF_INET6, 0, 0},
	        {"[::1]", "4420", AF_INET, 0, 0},
	        {"127.0.0.1", "4420", AF_UNIX, 0, 0},
	        {"[127.0.0.1]", "1", AF_UNSPEC, 0, 0},
	        {"[::1", "1", AF_UNSPEC, 0, 0},
	        {"::1]", "1", AF_UNSPEC, 0, 0},
	        {"[]", "1", AF_UNSPEC, 0, 0},
	        {"[", "1", AF_UNSPEC, 0, 0},
	        {"fe80::1%", "1", AF_UNSPEC, 0, 0},
	        {"fe80::1%0", "1", AF_UNSPEC, 0, 0},
	        {"fe80::1%1x", "1", AF_UNSPEC, 0, 0},
	        {"fe80::1%nosuchif0", "1", AF_UNSPEC, 0, 0},
	        {"1:2:3:4:5:6:7:8:9", "1", AF_UNSPEC, 0, 0},
	        {"fe80::1%aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1", AF_UNSPEC, 0,
	         0},
	};
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct addr_case *c = &cases[i];
		int rc;

		len = 0;
		rc = ftgt_parse_ip_port(c->addr, c->port, c->hint, &ss, &len);
		if (c->family == 0) {
			CU_ASSERT_EQUAL(rc, -EINVAL);
		} else {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(ss.ss_family, c->family);
		}
		if ((c->family == 0) != (rc != 0)) {
			fprintf(stderr, "\n  \"%s\" port \"%s\" hint %d: rc %d\n",
			        c->addr ? c->addr : "(null)", c->port ? c->port : "(null)", c->hint,
			        rc);
			continue;
		}
		if (rc != 0) {
			continue;
		}
		if (c->family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			CU_ASSERT_EQUAL(len, sizeof(struct sockaddr_in));
			CU_ASSERT_EQUAL(ntohs(sin->sin_port), c->port_num);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			CU_ASSERT_EQUAL(len, sizeof(struct sockaddr_in6));
			CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), c->port_num);
		}
	}

	/* Values land where the kernel reads them. */
	CU_ASSERT_EQUAL(ftgt_parse_ip_port("192.0.2.7", "3260", AF_UNSPEC, &ss, NULL), 0);
	CU_ASSERT_EQUAL(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(0xc0000207));
	CU_ASSERT_EQUAL(ftgt_parse_ip_port("[2001:db8::7]", "4420", AF_UNSPEC, &ss, &len), 0);
	CU_ASSERT_EQUAL(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[0], 0x20);
	CU_ASSERT_EQUAL(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[15], 0x07);
	CU_ASSERT_EQUAL(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 0);
	CU_ASSERT_EQUAL(ftgt_parse_ip_port("fe80::1%7", "4420", AF_UNSPEC, &ss, &len), 0);
	CU_ASSERT_EQUAL(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 7);
	/* "lo" exists in every network namespace. */
	CU_ASSERT_EQUAL(ftgt_parse_ip_port("fe80::1%lo", "4420", AF_UNSPEC, &ss, &len), 0);
	CU_ASSERT_EQUAL(((struct sockaddr_in6 *)&ss)->sin6_scope_id, if_nametoindex("lo"));
	CU_ASSERT_EQUAL(ftgt_parse_ip_port("127.0.0.1", "1", AF_UNSPEC, NULL, &len), -EINVAL);
}

static bool
parse(const char *addr, struct sockaddr_storage *ss)
{
	return ftgt_parse_ip_port(addr, "4420", AF_UNSPEC, ss, NULL) == 0;
}

/* Whether getifaddrs lists this exact address (the test's own view). */
static bool
ifaddrs_has(const struct sockaddr_storage *ss)
{
	struct ifaddrs *ifas, *ifa;
	bool found = false;

	CU_ASSERT_FATAL(getifaddrs(&ifas) == 0);
	for (ifa = ifas; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != ss->ss_family) {
			continue;
		}
		if (ss->ss_family == AF_INET) {
			found |= ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr ==
			         ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
		} else {
			found |= memcmp(&((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr,
			                &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) == 0;
		}
	}
	freeifaddrs(ifas);
	return found;
}

static void
test_addr_is_local(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ifaddrs *ifas, *ifa;
	int checked = 0;

	CU_ASSERT_FATAL(parse("0.0.0.0", &ss));
	CU_ASSERT(ftgt_addr_is_local((struct sockaddr *)&ss));
	CU_ASSERT_FATAL(parse("::", &ss));
	CU_ASSERT(ftgt_addr_is_local((struct sockaddr *)&ss));
	CU_ASSERT_FATAL(parse("127.0.0.1", &ss));
	CU_ASSERT(ftgt_addr_is_local((struct sockaddr *)&ss));
	CU_ASSERT_FATAL(parse("127.1.2.3", &ss));
	CU_ASSERT(ftgt_addr_is_local((struct sockaddr *)&ss));
	CU_ASSERT_FATAL(parse("::ffff:127.0.0.1", &ss));
	CU_ASSERT(ftgt_addr_is_local((struct sockaddr *)&ss));
	CU_ASSERT_FATAL(parse("::1", &ss));
	CU_ASSERT_EQUAL(ftgt_addr_is_local((struct sockaddr *)&ss), ifaddrs_has(&ss));

	/* Documentation ranges (RFC 5737, RFC 3849) are on no real interface. */
	CU_ASSERT_FATAL(parse("203.0.113.77", &ss));
	if (!ifaddrs_has(&ss)) {
		CU_ASSERT(!ftgt_addr_is_local((struct sockaddr *)&ss));
	}
	CU_ASSERT_FATAL(parse("::ffff:203.0.113.77", &ss));
	if (!ifaddrs_has(&ss)) {
		CU_ASSERT(!ftgt_addr_is_local((struct sockaddr *)&ss));
	}
	CU_ASSERT_FATAL(parse("2001:db8::77", &ss));
	if (!ifaddrs_has(&ss)) {
		CU_ASSERT(!ftgt_addr_is_local((struct sockaddr *)&ss));
	}
	CU_ASSERT(!ftgt_addr_is_local(NULL));
	CU_ASSERT(!ftgt_addr_is_local((struct sockaddr *)&sun));

	/* Every address this machine has is local, and with a wrong scope it is not. */
	CU_ASSERT_FATAL(getifaddrs(&ifas) == 0);
	for (ifa = ifas; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL) {
			continue;
		}
		if (ifa->ifa_addr->sa_family == AF_INET) {
			CU_ASSERT(ftgt_addr_is_local(ifa->ifa_addr));
			checked++;
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			struct sockaddr_in6 s6 = *(struct sockaddr_in6 *)ifa->ifa_addr;

			CU_ASSERT(ftgt_addr_is_local((struct sockaddr *)&s6));
			s6.sin6_scope_id = 0;
			CU_ASSERT(ftgt_addr_is_local((struct sockaddr *)&s6));
			if (IN6_IS_ADDR_LINKLOCAL(&s6.sin6_addr)) {
				s6.sin6_scope_id = if_nametoindex(ifa->ifa_name) + 1000;
				CU_ASSERT(!ftgt_addr_is_local((struct sockaddr *)&s6));
			}
			checked++;
		}
	}
	freeifaddrs(ifas);
	CU_ASSERT(checked > 0);
}

static void
test_strcpy_pad(void)
{
	char buf[12];

	memset(buf, '#', sizeof(buf));
	ftgt_strcpy_pad(buf, "abc", 8, ' ');
	CU_ASSERT_EQUAL(memcmp(buf, "abc     ####", 12), 0);
	ftgt_strcpy_pad(buf, "abcdefghij", 8, ' ');
	CU_ASSERT_EQUAL(memcmp(buf, "abcdefgh####", 12), 0);
	ftgt_strcpy_pad(buf, "abcdefgh", 8, ' ');
	CU_ASSERT_EQUAL(memcmp(buf, "abcdefgh####", 12), 0);
	ftgt_strcpy_pad(buf, NULL, 8, '_');
	CU_ASSERT_EQUAL(memcmp(buf, "________####", 12), 0);
	ftgt_strcpy_pad(buf, "", 4, 0);
	CU_ASSERT_EQUAL(memcmp(buf, "\0\0\0\0____####", 12), 0);
	ftgt_strcpy_pad(buf, "xyz", 0, ' ');
	CU_ASSERT_EQUAL(memcmp(buf, "\0\0\0\0____####", 12), 0);
}

static void
test_strlcpy(void)
{
	char buf[8];

	memset(buf, '#', sizeof(buf));
	CU_ASSERT_EQUAL(ftgt_strlcpy(buf, "abc", sizeof(buf)), 3);
	CU_ASSERT_STRING_EQUAL(buf, "abc");
	CU_ASSERT_EQUAL(ftgt_strlcpy(buf, "abcdefghij", sizeof(buf)), 10);
	CU_ASSERT_STRING_EQUAL(buf, "abcdefg");
	CU_ASSERT_EQUAL(ftgt_strlcpy(buf, "abcdefgh", sizeof(buf)), 8); /* truncated: 8 >= 8 */
	CU_ASSERT_STRING_EQUAL(buf, "abcdefg");
	CU_ASSERT_EQUAL(ftgt_strlcpy(buf, "", sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "");
	memset(buf, '#', sizeof(buf));
	CU_ASSERT_EQUAL(ftgt_strlcpy(buf, "xy", 1), 2);
	CU_ASSERT_EQUAL(buf[0], '\0');
	CU_ASSERT_EQUAL(buf[1], '#');
	CU_ASSERT_EQUAL(ftgt_strlcpy(buf, "xy", 0), 2);
	CU_ASSERT_EQUAL(buf[0], '\0');
}

static void
test_strtrim(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"  a b \t\n", "a b"}, {"a", "a"},   {"", ""},         {" \t\r\n\v\f", ""},
	        {"x  ", "x"},          {"  x", "x"}, {"a\tb", "a\tb"}, {"\n key = v \n", "key = v"},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		CU_ASSERT_PTR_EQUAL(ftgt_strtrim(buf), buf);
		CU_ASSERT_STRING_EQUAL(buf, cases[i].out);
	}
	CU_ASSERT_PTR_NULL(ftgt_strtrim(NULL));
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	s = CU_add_suite("string", NULL, NULL);
	CU_ADD_TEST(s, test_nqn);
	CU_ADD_TEST(s, test_iscsi_name);
	CU_ADD_TEST(s, test_parse_ip_port);
	CU_ADD_TEST(s, test_addr_is_local);
	CU_ADD_TEST(s, test_strcpy_pad);
	CU_ADD_TEST(s, test_strlcpy);
	CU_ADD_TEST(s, test_strtrim);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
