/*
 * test_cookie: the console's cookie and CSRF token (src/authn/cookie.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "authn/authn_int.h"
#include "http/http_int.h"

#define TOK_A "pvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define TOK_B "pvt_BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static struct http_ctx *
ctx_with(const char *const *hdrs)
{
	static struct http_ctx ctx;

	if (ctx.req.arena != NULL)
		arena_free(ctx.req.arena);
	memset(&ctx, 0, sizeof(ctx));
	ctx.req.priv = &ctx;
	ctx.req.arena = arena_new(4096);
	assert_non_null(ctx.req.arena);
	ctx.test_headers = hdrs;
	return &ctx;
}

static void
test_cookie_parse(void **state)
{
	const char *const none[] = { NULL };
	const char *const one[] = { "Cookie", "pv_session=" TOK_A, NULL };
	const char *const many[] = { "Cookie", "a=1; xpv_session=no; pv_session=" TOK_B "; z=2", NULL };
	const char *const empty[] = { "Cookie", "pv_session=; other=x", NULL };
	const char *const prefix[] = { "Cookie", "pv_sessions=abc", NULL };
	const char *const toolong[] = { "Cookie", "pv_session=" TOK_A "AAAAAAAA", NULL };
	const char *v;

	(void)state;
	assert_null(authn_cookie_session(&ctx_with(none)->req));
	v = authn_cookie_session(&ctx_with(one)->req);
	assert_non_null(v);
	assert_string_equal(v, TOK_A);
	v = authn_cookie_session(&ctx_with(many)->req);
	assert_non_null(v);
	assert_string_equal(v, TOK_B);
	assert_null(authn_cookie_session(&ctx_with(empty)->req));
	assert_null(authn_cookie_session(&ctx_with(prefix)->req));
	assert_null(authn_cookie_session(&ctx_with(toolong)->req));
}

static void
test_csrf(void **state)
{
	char a[AUTHN_CSRF_HEX_MAX], a2[AUTHN_CSRF_HEX_MAX], b[AUTHN_CSRF_HEX_MAX];
	char hdr[AUTHN_CSRF_HEX_MAX];
	const char *const good[] = { "X-CSRF-Token", hdr, NULL };
	const char *const none[] = { NULL };
	const char *const bad[] = { "X-CSRF-Token", "abc", NULL };

	(void)state;
	assert_int_equal(authn_csrf_token(TOK_A, a), PV_OK);
	assert_int_equal(authn_csrf_token(TOK_A, a2), PV_OK);
	assert_int_equal(authn_csrf_token(TOK_B, b), PV_OK);
	assert_int_equal(strlen(a), 64);
	assert_string_equal(a, a2);           /* stateless: the same session, the same token */
	assert_string_not_equal(a, b);        /* another session, another token */
	assert_null(strstr(a, "AAAA"));       /* not the session token */
	memcpy(hdr, a, sizeof(hdr));
	assert_true(authn_csrf_ok(&ctx_with(good)->req, TOK_A));
	assert_false(authn_csrf_ok(&ctx_with(good)->req, TOK_B));
	assert_false(authn_csrf_ok(&ctx_with(none)->req, TOK_A));
	assert_false(authn_csrf_ok(&ctx_with(bad)->req, TOK_A));
	hdr[10] ^= 1;
	assert_false(authn_csrf_ok(&ctx_with(good)->req, TOK_A));
}

static void
test_methods(void **state)
{
	(void)state;
	assert_false(authn_method_changes("GET"));
	assert_false(authn_method_changes("HEAD"));
	assert_false(authn_method_changes("OPTIONS"));
	assert_true(authn_method_changes("POST"));
	assert_true(authn_method_changes("PUT"));
	assert_true(authn_method_changes("PATCH"));
	assert_true(authn_method_changes("DELETE"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_parse),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_methods),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	if (ctx_with(NULL)->req.arena != NULL)
		arena_free(ctx_with(NULL)->req.arena);
	return rc;
}
