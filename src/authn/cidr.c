/*
 * cidr.c: the network allow-list of an app (issue 10: "the app's network
 * list (CIDR) is enforced on every call"). A small matcher of our own: the
 * policies work adds a CIDR condition to authz at the same time; the two
 * are to become one when the branches merge.
 *
 * Parsing is strict (inet_pton, a decimal prefix within the family's
 * width, no host bits beyond the prefix); matching compares prefix bits
 * only. IPv4-mapped IPv6 sources ("::ffff:a.b.c.d", what a dual-stack
 * socket reports for an IPv4 client) match IPv4 networks.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn.h"

static bool
addr_parse(const char *s, uint8_t *family, uint8_t addr[16])
{
	struct in_addr a4;
	struct in6_addr a6;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		*family = 4;
		memcpy(addr, &a4, 4);
		return true;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		if (memcmp(a6.s6_addr, mapped, sizeof(mapped)) == 0) {
			*family = 4;
			memcpy(addr, a6.s6_addr + 12, 4);
			return true;
		}
		*family = 6;
		memcpy(addr, a6.s6_addr, 16);
		return true;
	}
	return false;
}

static bool
host_bits_zero(const uint8_t *a, unsigned prefix, unsigned width)
{
	unsigned i;

	for (i = prefix; i < width; i++)
		if (a[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

enum pv_rc
authn_cidr_parse(const char *text, struct authn_cidr *out)
{
	char buf[64];
	const char *slash;
	unsigned long prefix;
	unsigned width;
	char *end;
	struct authn_cidr c;

	if (text == NULL || out == NULL || strlen(text) >= sizeof(buf))
		return PV_E_INVALID;
	memset(&c, 0, sizeof(c));
	slash = strchr(text, '/');
	memcpy(buf, text, slash != NULL ? (size_t)(slash - text) : strlen(text));
	buf[slash != NULL ? (size_t)(slash - text) : strlen(text)] = '\0';
	/* an IPv4-mapped network would silently be an IPv4 one: say it plainly */
	if (strchr(buf, ':') != NULL && strchr(buf, '.') != NULL)
		return PV_E_INVALID;
	if (!addr_parse(buf, &c.family, c.addr))
		return PV_E_INVALID;
	width = c.family == 4 ? 32 : 128;
	if (slash == NULL) {
		prefix = width;
	} else {
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return PV_E_INVALID;
		prefix = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || prefix > width)
			return PV_E_INVALID;
	}
	if (!host_bits_zero(c.addr, (unsigned)prefix, width))
		return PV_E_INVALID;
	c.prefix = (uint8_t)prefix;
	*out = c;
	return PV_OK;
}

bool
authn_cidr_match(const struct authn_cidr *c, const char *addr)
{
	uint8_t a[16], fam;
	unsigned full, rest;

	if (c == NULL || addr == NULL || !addr_parse(addr, &fam, a) || fam != c->family)
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	if (rest != 0 && ((a[full] ^ c->addr[full]) & (uint8_t)(0xffu << (8 - rest))) != 0)
		return false;
	return true;
}
