/*
 * allow: a listener's network allowlist ([server] allow, admin_allow):
 * "CIDR,CIDR,..." of IPv4 and IPv6 networks; a bare address is one host.
 * Checked in MHD's accept policy callback, before any TLS byte, on the
 * peer address as accepted (an IPv4-mapped IPv6 peer, ::ffff:a.b.c.d, is
 * matched as the IPv4 address a.b.c.d).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

static bool
parse_one(const char *item, size_t len, struct http_net *n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	unsigned long p;
	unsigned max;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, item, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else {
		return false;
	}
	n->prefix = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return false;
		p = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || p > max)
			return false;
		n->prefix = (unsigned)p;
	}
	return true;
}

enum pv_rc
http_allow_parse(const char *allow, struct http_net *nets, size_t max, size_t *n,
    char *msg, size_t msglen)
{
	const char *p = allow, *e;
	size_t k = 0, item = 0;

	*n = 0;
	if (allow == NULL)
		return PV_OK;
	while (*p != '\0') {
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		item++;
		e = p;
		while (*e != '\0' && *e != ',' && *e != ' ')
			e++;
		len = (size_t)(e - p);
		if (k == max) {
			snprintf(msg, msglen, "more than %zu networks", max);
			return PV_E_INVALID;
		}
		if (!parse_one(p, len, &nets[k])) {
			snprintf(msg, msglen, "item %zu is not an IPv4 or IPv6 address or CIDR "
			    "network (a.b.c.d/N, x::y/N)", item);
			return PV_E_INVALID;
		}
		k++;
		p = e;
	}
	*n = k;
	return PV_OK;
}

enum pv_rc
http_allow_check(const char *allow, char *msg, size_t msglen)
{
	struct http_net nets[HTTP_ALLOW_MAX];
	size_t n;

	return http_allow_parse(allow, nets, HTTP_ALLOW_MAX, &n, msg, msglen);
}

static bool
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
http_allow_match(const struct http_net *nets, size_t n, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t a[16];
	int fam;
	size_t i;

	if (n == 0)
		return true;
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		fam = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		fam = AF_INET6;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memmove(a, a + 12, 4);
			fam = AF_INET;
		}
	} else {
		return false;
	}
	for (i = 0; i < n; i++)
		if (nets[i].family == fam && prefix_eq(a, nets[i].addr, nets[i].prefix))
			return true;
	return false;
}

bool
http_addr_is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (addr == NULL)
		return false;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}
