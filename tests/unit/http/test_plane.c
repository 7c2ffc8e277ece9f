/*
 * plane.c and allow.c: which plane a route is on, which listener serves it,
 * and the allowlist's parsing and matching (IPv4, IPv6, mapped, prefixes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "http/http_int.h"

static enum pv_rc
nop(struct http_request *req)
{
	(void)req;
	return PV_OK;
}

static unsigned
planes_of(const char *pattern, unsigned flags)
{
	struct http_route r = { "GET", pattern, nop, "x.y", NULL, flags, 0, NULL };

	return http_route_planes(&r);
}

static void
test_route_planes(void **state)
{
	const unsigned both = HTTP_ROUTE_MGMT | HTTP_ROUTE_DATA;

	(void)state;
	assert_int_equal(planes_of("/v1/collections/{c}/records", 0), HTTP_ROUTE_DATA);
	assert_int_equal(planes_of("/v1/collections/{c}/records/{id}", 0), HTTP_ROUTE_DATA);
	assert_int_equal(planes_of("/v1/collections/{c}/records:batch", 0), HTTP_ROUTE_DATA);
	assert_int_equal(planes_of("/v1/secrets/{path}", 0), HTTP_ROUTE_DATA);
	assert_int_equal(planes_of("/v1/tokenize", 0), HTTP_ROUTE_DATA);
	assert_int_equal(planes_of("/v1/auth/login", 0), both);
	assert_int_equal(planes_of("/v1/sys/health", 0), both);
	/* whole segments only: /v1/authz is not /v1/auth */
	assert_int_equal(planes_of("/v1/authz/explain", 0), HTTP_ROUTE_MGMT);
	assert_int_equal(planes_of("/v1/collections/{c}", 0), HTTP_ROUTE_MGMT);
	assert_int_equal(planes_of("/v1/users/{id}", 0), HTTP_ROUTE_MGMT);
	assert_int_equal(planes_of("/v1/sys/tls/reload", 0), HTTP_ROUTE_MGMT);
	assert_int_equal(planes_of("/console/", 0), HTTP_ROUTE_MGMT);
	/* unknown: management; a route's own flags win */
	assert_int_equal(planes_of("/v1/something-new", 0), HTTP_ROUTE_MGMT);
	assert_int_equal(planes_of("/v1/something-new", HTTP_ROUTE_DATA), HTTP_ROUTE_DATA);
	assert_true(http_plane_serves(HTTP_PLANE_ALL, HTTP_ROUTE_MGMT));
	assert_true(http_plane_serves(HTTP_PLANE_DATA, both));
	assert_false(http_plane_serves(HTTP_PLANE_DATA, HTTP_ROUTE_MGMT));
	assert_false(http_plane_serves(HTTP_PLANE_MGMT, HTTP_ROUTE_DATA));
}

static bool
allowed(const struct http_net *nets, size_t n, const char *addr)
{
	struct sockaddr_in a4 = { 0 };
	struct sockaddr_in6 a6 = { 0 };

	if (inet_pton(AF_INET, addr, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		return http_allow_match(nets, n, (struct sockaddr *)&a4);
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &a6.sin6_addr), 1);
	a6.sin6_family = AF_INET6;
	return http_allow_match(nets, n, (struct sockaddr *)&a6);
}

static void
test_allowlist(void **state)
{
	struct http_net nets[HTTP_ALLOW_MAX];
	char msg[128];
	size_t n;

	(void)state;
	assert_int_equal(http_allow_parse("10.1.0.0/16, 192.168.7.9,fd00::/8", nets,
	    HTTP_ALLOW_MAX, &n, msg, sizeof(msg)), PV_OK);
	assert_int_equal(n, 3);
	assert_true(allowed(nets, n, "10.1.200.3"));
	assert_false(allowed(nets, n, "10.2.0.1"));
	assert_true(allowed(nets, n, "192.168.7.9"));
	assert_false(allowed(nets, n, "192.168.7.10"));
	assert_true(allowed(nets, n, "fd12::1"));
	assert_false(allowed(nets, n, "fe80::1"));
	/* an IPv4-mapped peer on a dual-stack socket matches as IPv4 */
	assert_true(allowed(nets, n, "::ffff:10.1.2.3"));
	assert_false(allowed(nets, n, "::ffff:10.9.2.3"));
	/* a prefix that is not a multiple of 8 */
	assert_int_equal(http_allow_parse("172.16.0.0/12", nets, HTTP_ALLOW_MAX, &n, msg,
	    sizeof(msg)), PV_OK);
	assert_true(allowed(nets, n, "172.31.255.255"));
	assert_false(allowed(nets, n, "172.32.0.0"));
	/* empty: any */
	assert_int_equal(http_allow_parse("", nets, HTTP_ALLOW_MAX, &n, msg, sizeof(msg)), PV_OK);
	assert_int_equal(n, 0);
	assert_true(allowed(nets, n, "203.0.113.5"));
	/* refused, naming the item */
	assert_int_equal(http_allow_check("10.0.0.0/8,nope", msg, sizeof(msg)), PV_E_INVALID);
	assert_non_null(strstr(msg, "item 2"));
	assert_int_equal(http_allow_check("10.0.0.0/33", msg, sizeof(msg)), PV_E_INVALID);
	assert_int_equal(http_allow_check("::/129", msg, sizeof(msg)), PV_E_INVALID);
	assert_int_equal(http_allow_check("10.0.0.0/", msg, sizeof(msg)), PV_E_INVALID);
	assert_true(http_addr_is_loopback("127.4.5.6"));
	assert_true(http_addr_is_loopback("::1"));
	assert_false(http_addr_is_loopback("0.0.0.0"));
	assert_false(http_addr_is_loopback("localhost"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_planes),
		cmocka_unit_test(test_allowlist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
