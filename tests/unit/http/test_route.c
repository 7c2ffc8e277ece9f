/*
 * Route table, path matching and the request pipeline, driven without
 * sockets: status, error code and body are what a client would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

/* ---- fixtures ---- */

struct hooks {
	bool sealed;
	int authn_calls;
	int authz_calls;
	int handler_calls;
	char last_perm[128];
	enum pv_rc authn_rc;
	bool authn_no_principal;
	enum pv_rc authz_rc;
};

static struct hooks H;
static int principal_dummy;

static bool
hook_sealed(void *arg)
{
	return ((struct hooks *)arg)->sealed;
}

static enum pv_rc
hook_authn(void *arg, struct http_request *req)
{
	struct hooks *h = arg;

	h->authn_calls++;
	if (h->authn_rc != PV_OK)
		return http_fail(req, h->authn_rc, NULL);
	if (!h->authn_no_principal)
		req->principal = &principal_dummy;
	return PV_OK;
}

static enum pv_rc
hook_authz(void *arg, struct http_request *req, const char *perm)
{
	struct hooks *h = arg;

	h->authz_calls++;
	util_strlcpy(h->last_perm, perm, sizeof(h->last_perm));
	(void)req;
	return h->authz_rc;
}

static enum pv_rc
h_echo(struct http_request *req)
{
	H.handler_calls++;
	return http_reply(req, 201, json_incref(req->body));
}

static enum pv_rc
h_params(struct http_request *req)
{
	json_t *a = json_array();
	size_t i;

	H.handler_calls++;
	for (i = 0; i < req->nparams; i++)
		json_array_append_new(a, json_string(req->params[i]));
	return http_reply(req, 200, json_pack("{s:o,s:s}", "params", a, "path", req->path));
}

static enum pv_rc
h_fail(struct http_request *req)
{
	H.handler_calls++;
	req->retry_after_s = 7;
	return http_fail(req, PV_E_LOCKED, "Account locked \"for now\"");
}

static enum pv_rc
h_fail_default(struct http_request *req)
{
	H.handler_calls++;
	(void)req;
	return PV_E_CONFLICT;
}

static enum pv_rc
h_nocontent(struct http_request *req)
{
	H.handler_calls++;
	req->status = 204;
	return PV_OK;
}

static enum pv_rc
h_text(struct http_request *req)
{
	H.handler_calls++;
	req->resp_text = "-----BEGIN PUBLIC KEY-----\n";
	req->resp_type = "application/x-pem-file";
	return PV_OK;
}

static enum pv_rc
h_health(struct http_request *req)
{
	H.handler_calls++;
	return http_reply(req, H.sealed ? 503 : 200, json_pack("{s:b}", "sealed", H.sealed));
}

static enum pv_rc
h_query(struct http_request *req)
{
	const char *v = http_query(req, "ssn");

	H.handler_calls++;
	return http_reply(req, 200, json_pack("{s:s?}", "ssn", v));
}

static const struct http_route routes[] = {
	{ "GET", "/v1/sys/health", h_health, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_SEALED_OK, 0, NULL },
	{ "POST", "/v1/echo", h_echo, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_BODY, 0, NULL },
	{ "POST", "/v1/small", h_echo, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_BODY, 16, NULL },
	{ "GET", "/v1/users", h_params, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, NULL },
	{ "GET", "/v1/users/{id}", h_params, "users.manage", NULL, 0, 0, NULL },
	{ "PATCH", "/v1/users/{id}", h_echo, "users.manage", NULL, HTTP_ROUTE_BODY, 0, NULL },
	{ "GET", "/v1/collections/{c}/records/{id}", h_params, "records.read:{0}", "record.read", 0, 0, NULL },
	{ "POST", "/v1/collections/{c}/records", h_echo, "records.write:{0}", "record.create", HTTP_ROUTE_BODY, 0, NULL },
	{ "POST", "/v1/fail", h_fail, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "POST", "/v1/fail2", h_fail_default, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "POST", "/v1/auth/logout", h_nocontent, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, NULL },
	{ "GET", "/v1/audit/public-key", h_text, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "GET", "/v1/search", h_query, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "POST", "/v1/big", h_echo, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_BODY, 2u << 20, NULL },
	{ "POST", "/scim/v2/Users", h_echo, "scim.provision", NULL,
	    HTTP_ROUTE_BODY | HTTP_ROUTE_SCIM, 0, NULL },
};

static struct http_server *
server_new(void)
{
	struct http_config cfg;
	struct http_server *srv = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = "/nonexistent/cert.pem";   /* read only at start */
	cfg.key_path = "/nonexistent/key.pem";
	cfg.tls_min_version = "1.2";
	cfg.max_body_bytes = 64;
	cfg.is_sealed = hook_sealed;
	cfg.authenticate = hook_authn;
	cfg.authorize = hook_authz;
	cfg.hook_arg = &H;
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_equal(http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0])), PV_OK);
	return srv;
}

static int
setup(void **state)
{
	memset(&H, 0, sizeof(H));
	*state = server_new();
	return 0;
}

static int
teardown(void **state)
{
	http_server_free(*state);
	return 0;
}

struct result {
	int status;
	char code[64];
	char message[256];
	json_t *json;
	bool close;
	int retry_after;
	char allow[64];
	char type[64];
	size_t len;
};

/* Run one request through the pipeline; body is sent in 5-byte chunks when
 * chunked, else with a declared Content-Length. */
static void
request(struct http_server *srv, const char *method, const char *uri,
    const char *const *headers, const char *const *query, const char *body,
    bool chunked, struct result *r)
{
	struct http_ctx *ctx = NULL;
	size_t blen = body ? strlen(body) : 0, off;

	memset(r, 0, sizeof(*r));
	assert_int_equal(http_ctx_new(srv, uri, &ctx), PV_OK);
	ctx->test_headers = headers;
	ctx->test_query = query;
	http_ctx_begin(ctx, method, "192.0.2.1", body && !chunked ? (long long)blen : -1);
	for (off = 0; off < blen; off += 5)
		http_ctx_body(ctx, body + off, blen - off < 5 ? blen - off : 5);
	http_ctx_finish(ctx);
	assert_true(ctx->out_ready);
	r->status = ctx->out_status;
	r->close = ctx->out_close;
	r->retry_after = ctx->out_retry_after;
	r->len = ctx->out_len;
	if (ctx->allow)
		util_strlcpy(r->allow, ctx->allow, sizeof(r->allow));
	if (ctx->out_type)
		util_strlcpy(r->type, ctx->out_type, sizeof(r->type));
	if (ctx->out_len > 0 && ctx->out_type && (strcmp(ctx->out_type, "application/json") == 0 ||
	    strcmp(ctx->out_type, HTTP_SCIM_TYPE) == 0)) {
		json_error_t e;

		r->json = json_loadb(ctx->out_body, ctx->out_len, 0, &e);
		assert_non_null(r->json);
		if (r->status >= 400 && json_object_get(r->json, "error") != NULL) {
			json_t *err = json_object_get(r->json, "error");

			assert_true(json_is_object(err));
			assert_int_equal(json_object_size(err), 2);
			util_strlcpy(r->code, json_string_value(json_object_get(err, "code")), sizeof(r->code));
			util_strlcpy(r->message, json_string_value(json_object_get(err, "message")),
			    sizeof(r->message));
		}
	}
	http_ctx_free(ctx);
}

static void
result_free(struct result *r)
{
	json_decref(r->json);
	r->json = NULL;
}

static const char *const json_ct[] = { "Content-Type", "application/json", NULL };

/* ---- route registration ---- */

static enum pv_rc
h_dummy(struct http_request *req)
{
	(void)req;
	return PV_OK;
}

static void
test_route_add_refuses(void **state)
{
	struct http_server *srv = *state;
	struct http_route r = { "GET", "/v1/x", h_dummy, "public", NULL, 0, 0, NULL };
	struct http_route bad;

	bad = r; bad.permission = NULL;
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.permission = "";
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.handler = NULL;
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.pattern = NULL;
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.method = NULL;
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.pattern = "v1/x";
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.pattern = "/v1/{a";
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.pattern = "/v1/x{a}";
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.pattern = "/{a}/{b}/{c}/{d}/{e}";
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	/* a permission may only name parameters the pattern has */
	bad = r; bad.pattern = "/v1/c/{c}"; bad.permission = "records.read:{1}";
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	bad = r; bad.permission = "records.read:{0";
	assert_int_equal(http_route_add(srv, &bad), PV_E_INVALID);
	assert_int_equal(http_route_add(NULL, &r), PV_E_INVALID);
	assert_int_equal(http_route_add(srv, NULL), PV_E_INVALID);

	assert_int_equal(http_route_add(srv, &r), PV_OK);
	assert_int_equal(http_route_add(srv, &r), PV_E_CONFLICT);
	r.method = "POST";
	assert_int_equal(http_route_add(srv, &r), PV_OK);
}

/* ---- matching ---- */

static enum pv_rc
match(struct http_server *srv, struct pv_arena *a, const char *method, const char *raw,
    const struct http_route **route, const char **params, size_t *np, const char **allow)
{
	char *segs[HTTP_MAX_SEGMENTS];
	size_t n = 0;
	enum pv_rc rc = http_path_split(a, raw, segs, &n);

	if (rc != PV_OK)
		return rc;
	return http_route_match(srv, a, method, segs, n, route, params, np, allow);
}

static void
test_match(void **state)
{
	struct http_server *srv = *state;
	struct pv_arena *a = arena_new(0);
	const struct http_route *r = NULL;
	const char *p[HTTP_MAX_PARAMS] = { 0 }, *allow = NULL;
	size_t np = 0;

	assert_int_equal(match(srv, a, "GET", "/v1/users", &r, p, &np, &allow), PV_OK);
	assert_string_equal(r->pattern, "/v1/users");
	assert_int_equal(np, 0);

	assert_int_equal(match(srv, a, "GET", "/v1/users/usr_abc", &r, p, &np, &allow), PV_OK);
	assert_string_equal(r->pattern, "/v1/users/{id}");
	assert_int_equal(np, 1);
	assert_string_equal(p[0], "usr_abc");

	assert_int_equal(match(srv, a, "GET", "/v1/collections/patients/records/rec_1",
	    &r, p, &np, &allow), PV_OK);
	assert_int_equal(np, 2);
	assert_string_equal(p[0], "patients");
	assert_string_equal(p[1], "rec_1");

	/* percent-decoding per segment */
	assert_int_equal(match(srv, a, "GET", "/v1/users/a%20b%7E", &r, p, &np, &allow), PV_OK);
	assert_string_equal(p[0], "a b~");
	assert_int_equal(match(srv, a, "GET", "/v1/%75sers", &r, p, &np, &allow), PV_OK);
	assert_string_equal(r->pattern, "/v1/users");

	/* an encoded '/' never becomes a separator, and no param holds one */
	assert_int_equal(match(srv, a, "GET", "/v1/users/a%2Fb", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/users%2Fx", &r, p, &np, &allow), PV_E_NOTFOUND);

	/* bad escapes and NUL are malformed */
	assert_int_equal(match(srv, a, "GET", "/v1/users/a%00", &r, p, &np, &allow), PV_E_INVALID);
	assert_int_equal(match(srv, a, "GET", "/v1/users/a%zz", &r, p, &np, &allow), PV_E_INVALID);
	assert_int_equal(match(srv, a, "GET", "/v1/users/a%4", &r, p, &np, &allow), PV_E_INVALID);
	assert_int_equal(match(srv, a, "GET", "v1/users", &r, p, &np, &allow), PV_E_INVALID);

	/* no match */
	assert_int_equal(match(srv, a, "GET", "/", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/users/", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/users//", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/users/x/y", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/Users", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v2/users", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s",
	    &r, p, &np, &allow), PV_E_NOTFOUND);

	/* path known, method not: 405 with the allowed methods */
	assert_int_equal(match(srv, a, "DELETE", "/v1/users/usr_abc", &r, p, &np, &allow), PV_E_METHOD);
	assert_string_equal(allow, "GET, PATCH");
	assert_int_equal(match(srv, a, "get", "/v1/users", &r, p, &np, &allow), PV_E_METHOD);
	assert_string_equal(allow, "GET");
	arena_free(a);
}

/* HTTP_ROUTE_REST: the pattern's first {param} takes one or more whole
 * segments (secret paths); literals after it still match, an encoded '/'
 * still never splits or joins, and an empty segment never matches. */
static void
test_match_rest(void **state)
{
	struct http_server *srv = NULL;
	struct http_config cfg;
	struct pv_arena *a = arena_new(0);
	const struct http_route *r = NULL;
	const char *p[HTTP_MAX_PARAMS] = { 0 }, *allow = NULL;
	size_t np = 0;
	const struct http_route rest[] = {
		{ "GET", "/v1/s/{path}", h_health, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_REST, 0, NULL },
		{ "POST", "/v1/s/{path}/undelete", h_health, HTTP_PERM_PUBLIC, NULL,
		    HTTP_ROUTE_REST, 0, NULL },
		{ "POST", "/v1/s/{path}/versions/{v}/destroy", h_health, HTTP_PERM_PUBLIC, NULL,
		    HTTP_ROUTE_REST, 0, NULL },
		{ "GET", "/v1/one/{x}", h_health, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	};

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = "/nonexistent/cert.pem";
	cfg.key_path = "/nonexistent/key.pem";
	cfg.tls_min_version = "1.2";
	cfg.is_sealed = hook_sealed;
	cfg.authenticate = hook_authn;
	cfg.authorize = hook_authz;
	cfg.hook_arg = &H;
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_equal(http_routes_add(srv, rest, sizeof(rest) / sizeof(rest[0])), PV_OK);

	assert_int_equal(match(srv, a, "GET", "/v1/s/db", &r, p, &np, &allow), PV_OK);
	assert_int_equal(np, 1);
	assert_string_equal(p[0], "db");
	assert_int_equal(match(srv, a, "GET", "/v1/s/apps/billing/db", &r, p, &np, &allow), PV_OK);
	assert_string_equal(r->pattern, "/v1/s/{path}");
	assert_string_equal(p[0], "apps/billing/db");
	assert_int_equal(match(srv, a, "POST", "/v1/s/apps/billing/db/undelete", &r, p, &np,
	    &allow), PV_OK);
	assert_string_equal(r->pattern, "/v1/s/{path}/undelete");
	assert_string_equal(p[0], "apps/billing/db");
	assert_int_equal(match(srv, a, "POST", "/v1/s/apps/db/versions/7/destroy", &r, p, &np,
	    &allow), PV_OK);
	assert_string_equal(r->pattern, "/v1/s/{path}/versions/{v}/destroy");
	assert_int_equal(np, 2);
	assert_string_equal(p[0], "apps/db");
	assert_string_equal(p[1], "7");
	/* GET of a path ending in a literal is a path like any other */
	assert_int_equal(match(srv, a, "GET", "/v1/s/a/undelete", &r, p, &np, &allow), PV_OK);
	assert_string_equal(p[0], "a/undelete");
	/* the rest takes at least one segment; literals still have to match */
	assert_int_equal(match(srv, a, "POST", "/v1/s/undelete", &r, p, &np, &allow),
	    PV_E_METHOD);
	assert_int_equal(match(srv, a, "GET", "/v1/s", &r, p, &np, &allow), PV_E_NOTFOUND);
	/* empty segments and encoded slashes never match */
	assert_int_equal(match(srv, a, "GET", "/v1/s/a//b", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/s/a/", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/s/a%2Fb", &r, p, &np, &allow), PV_E_NOTFOUND);
	/* segments are decoded one by one, then joined */
	assert_int_equal(match(srv, a, "GET", "/v1/s/a%2Eb/c", &r, p, &np, &allow), PV_OK);
	assert_string_equal(p[0], "a.b/c");
	/* without the flag a parameter is still one segment */
	assert_int_equal(match(srv, a, "GET", "/v1/one/a/b", &r, p, &np, &allow), PV_E_NOTFOUND);
	assert_int_equal(match(srv, a, "GET", "/v1/one/a", &r, p, &np, &allow), PV_OK);
	http_server_free(srv);
	arena_free(a);
}

static void
test_perm_expand(void **state)
{
	struct pv_arena *a = arena_new(0);
	const char *params[] = { "patients", "ssn" };
	const char *out = NULL;

	(void)state;
	assert_int_equal(http_perm_expand(a, "users.manage", params, 2, &out), PV_OK);
	assert_string_equal(out, "users.manage");
	assert_int_equal(http_perm_expand(a, "records.read:{0}", params, 2, &out), PV_OK);
	assert_string_equal(out, "records.read:patients");
	assert_int_equal(http_perm_expand(a, "records.unmask:{0}.{1}", params, 2, &out), PV_OK);
	assert_string_equal(out, "records.unmask:patients.ssn");
	assert_int_equal(http_perm_expand(a, "records.read:{2}", params, 2, &out), PV_E_INTERNAL);
	arena_free(a);
}

/* ---- rc -> API code and status ---- */

static void
test_rc_mapping(void **state)
{
	static const struct { enum pv_rc rc; const char *code; int status; } m[] = {
		{ PV_E_INVALID, "invalid_request", 400 },
		{ PV_E_JSON, "invalid_json", 400 },
		{ PV_E_PURPOSE, "purpose_required", 400 },
		{ PV_E_SHARE, "invalid_share", 400 },
		{ PV_E_UNAUTH, "unauthenticated", 401 },
		{ PV_E_MFA, "mfa_required", 401 },
		{ PV_E_EXPIRED, "session_expired", 401 },
		{ PV_E_FORBIDDEN, "forbidden", 403 },
		{ PV_E_REGION, "region_not_allowed", 403 },
		{ PV_E_RESTRICTED, "password_change_required", 403 },
		{ PV_E_NOTFOUND, "not_found", 404 },
		{ PV_E_METHOD, "method_not_allowed", 405 },
		{ PV_E_CONFLICT, "conflict", 409 },
		{ PV_E_STATE, "conflict", 409 },
		{ PV_E_TOOBIG, "payload_too_large", 413 },
		{ PV_E_LOCKED, "locked", 423 },
		{ PV_E_RATE, "rate_limited", 429 },
		{ PV_E_NOMEM, "internal", 500 },
		{ PV_E_IO, "internal", 500 },
		{ PV_E_CRYPTO, "internal", 500 },
		{ PV_E_INTEGRITY, "internal", 500 },
		{ PV_E_INTERNAL, "internal", 500 },
		{ PV_E_CONFIG, "internal", 500 },
		{ PV_E_SEALED, "sealed", 503 },
		{ PV_E_AUDIT, "audit_unavailable", 503 },
		{ PV_E_UNAVAILABLE, "unavailable", 503 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		assert_string_equal(http_rc_code(m[i].rc), m[i].code);
		assert_int_equal(http_rc_status(m[i].rc), m[i].status);
		assert_non_null(http_rc_message(m[i].rc));
	}
	/* every code maps somewhere; unknown values fail closed as 500 */
	for (i = 1; i < PV_E__COUNT; i++)
		assert_true(http_rc_status((enum pv_rc)i) >= 400);
	assert_string_equal(http_rc_code((enum pv_rc)999), "internal");
	assert_int_equal(http_rc_status((enum pv_rc)999), 500);
	assert_int_equal(http_rc_status((enum pv_rc)-1), 500);
}

/* ---- the pipeline ---- */

static void
test_not_found_and_method(void **state)
{
	struct http_server *srv = *state;
	struct result r;

	request(srv, "GET", "/v1/nope?x=1", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.code, "not_found");
	result_free(&r);

	request(srv, "DELETE", "/v1/users/usr_1", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.code, "method_not_allowed");
	assert_string_equal(r.allow, "GET, PATCH");
	result_free(&r);

	request(srv, "GET", "/v1/users/%zz", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	result_free(&r);
	assert_int_equal(H.authn_calls + H.handler_calls, 0);
}

static void
test_public_and_params(void **state)
{
	struct http_server *srv = *state;
	struct result r;

	request(srv, "GET", "/v1/sys/health", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/json");
	assert_false(json_boolean_value(json_object_get(r.json, "sealed")));
	result_free(&r);
	assert_int_equal(H.authn_calls, 0);   /* public: no authentication */

	request(srv, "GET", "/v1/collections/pat%69ents/records/rec_9?x=1", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "params"), 0)),
	    "patients");
	assert_string_equal(json_string_value(json_object_get(r.json, "path")),
	    "/v1/collections/pat%69ents/records/rec_9");
	result_free(&r);
	assert_int_equal(H.authn_calls, 1);
	assert_int_equal(H.authz_calls, 1);
	assert_string_equal(H.last_perm, "records.read:patients");
}

static void
test_sealed(void **state)
{
	struct http_server *srv = *state;
	struct result r;

	H.sealed = true;
	request(srv, "GET", "/v1/users", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.code, "sealed");
	result_free(&r);
	/* sealed wins over bad JSON and authentication */
	request(srv, "POST", "/v1/echo", json_ct, NULL, "{nope", false, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.code, "sealed");
	result_free(&r);
	assert_int_equal(H.authn_calls + H.handler_calls, 0);

	request(srv, "GET", "/v1/sys/health", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.code, "");   /* the handler's own body, not an error */
	assert_true(json_boolean_value(json_object_get(r.json, "sealed")));
	result_free(&r);
	assert_int_equal(H.handler_calls, 1);
}

static void
test_body_routes(void **state)
{
	struct http_server *srv = *state;
	static const char *const ct_utf8[] = { "content-type", "Application/JSON; charset=UTF-8", NULL };
	static const char *const ct_form[] = { "Content-Type", "application/x-www-form-urlencoded", NULL };
	static const char *const ct_latin[] = { "Content-Type", "application/json; charset=latin1", NULL };
	struct result r;

	request(srv, "POST", "/v1/echo", json_ct, NULL, "{\"a\":1}", false, &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(json_integer_value(json_object_get(r.json, "a")), 1);
	result_free(&r);

	request(srv, "POST", "/v1/echo", ct_utf8, NULL, "{\"a\":\"chunked upload\"}", true, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(json_string_value(json_object_get(r.json, "a")), "chunked upload");
	result_free(&r);

	/* no Content-Type is accepted (JSON is the only format) */
	request(srv, "POST", "/v1/echo", NULL, NULL, "{}", false, &r);
	assert_int_equal(r.status, 201);
	result_free(&r);

	request(srv, "POST", "/v1/echo", ct_form, NULL, "{}", false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	assert_non_null(strstr(r.message, "Content-Type"));
	result_free(&r);
	request(srv, "POST", "/v1/echo", ct_latin, NULL, "{}", false, &r);
	assert_int_equal(r.status, 400);
	result_free(&r);

	request(srv, "POST", "/v1/echo", json_ct, NULL, NULL, false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_json");
	result_free(&r);
	request(srv, "POST", "/v1/echo", json_ct, NULL, "[1,2]", false, &r);
	assert_string_equal(r.code, "invalid_json");
	result_free(&r);
	assert_int_equal(H.handler_calls, 3);

	/* invalid JSON is answered before authentication on protected routes */
	request(srv, "PATCH", "/v1/users/usr_1", json_ct, NULL, "{\"roles\":", false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_json");
	result_free(&r);
	assert_int_equal(H.authn_calls, 0);
	assert_int_equal(H.authz_calls, 0);
}

static void
test_body_limits(void **state)
{
	struct http_server *srv = *state;
	char big[200];
	struct result r;

	/* route limit 16 bytes, declared length */
	request(srv, "POST", "/v1/small", json_ct, NULL, "{\"a\":\"0123456789\"}", false, &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.code, "payload_too_large");
	assert_true(r.close);
	result_free(&r);
	/* same, without a declared length: counted while streaming */
	request(srv, "POST", "/v1/small", json_ct, NULL, "{\"a\":\"0123456789\"}", true, &r);
	assert_int_equal(r.status, 413);
	result_free(&r);
	request(srv, "POST", "/v1/small", json_ct, NULL, "{\"a\":\"0123\"}", true, &r);
	assert_int_equal(r.status, 201);
	result_free(&r);

	/* server limit 64 bytes */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	request(srv, "POST", "/v1/echo", json_ct, NULL, big, true, &r);
	assert_int_equal(r.status, 413);
	result_free(&r);
	request(srv, "POST", "/v1/users/u", json_ct, NULL, big, false, &r);   /* unknown route */
	assert_int_equal(r.status, 413);
	result_free(&r);
	assert_int_equal(H.handler_calls, 1);   /* only the request within the limit */
	assert_int_equal(H.authn_calls, 0);
}

static void
test_auth_hooks(void **state)
{
	struct http_server *srv = *state;
	struct result r;

	H.authn_rc = PV_E_UNAUTH;
	request(srv, "GET", "/v1/users", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.code, "unauthenticated");
	result_free(&r);
	H.authn_rc = PV_E_EXPIRED;
	request(srv, "GET", "/v1/users/usr_1", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.code, "session_expired");
	result_free(&r);
	assert_int_equal(H.authz_calls + H.handler_calls, 0);

	/* success without a principal fails closed */
	H.authn_rc = PV_OK;
	H.authn_no_principal = true;
	request(srv, "GET", "/v1/users", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 401);
	result_free(&r);
	H.authn_no_principal = false;

	/* "authenticated" skips authorize */
	request(srv, "GET", "/v1/users", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 200);
	result_free(&r);
	assert_int_equal(H.authz_calls, 0);

	H.authz_rc = PV_E_FORBIDDEN;
	request(srv, "GET", "/v1/users/usr_1", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "forbidden");
	result_free(&r);
	assert_string_equal(H.last_perm, "users.manage");
	H.authz_rc = PV_E_RESTRICTED;
	request(srv, "POST", "/v1/collections/lab/records", json_ct, NULL, "{}", false, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "password_change_required");
	result_free(&r);
	assert_string_equal(H.last_perm, "records.write:lab");
	assert_int_equal(H.handler_calls, 1);
}

/* HTTP_ROUTE_SCIM: application/scim+json in and out, the pipeline's own
 * errors in the RFC 7644 3.12 form; other routes keep application/json. */
static void
scim_error_is(struct result *r, int status, const char *type)
{
	char st[8];

	snprintf(st, sizeof(st), "%d", status);
	assert_int_equal(r->status, status);
	assert_string_equal(r->type, HTTP_SCIM_TYPE);
	assert_non_null(r->json);
	assert_null(json_object_get(r->json, "error"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(r->json, "schemas"),
	    0)), HTTP_SCIM_ERROR_URN);
	assert_string_equal(json_string_value(json_object_get(r->json, "status")), st);
	assert_non_null(json_string_value(json_object_get(r->json, "detail")));
	if (type != NULL)
		assert_string_equal(json_string_value(json_object_get(r->json, "scimType")), type);
	else
		assert_null(json_object_get(r->json, "scimType"));
}

static void
test_scim_route(void **state)
{
	static const char *const scim_ct[] = { "Content-Type", "application/scim+json", NULL };
	static const char *const text_ct[] = { "Content-Type", "text/plain", NULL };
	struct http_server *srv = *state;
	struct result r;

	request(srv, "POST", "/scim/v2/Users", scim_ct, NULL, "{\"a\":1}", false, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.type, HTTP_SCIM_TYPE);
	result_free(&r);
	assert_string_equal(H.last_perm, "scim.provision");
	request(srv, "POST", "/scim/v2/Users", json_ct, NULL, "{}", false, &r);
	assert_int_equal(r.status, 201);
	result_free(&r);
	request(srv, "POST", "/scim/v2/Users", text_ct, NULL, "{}", false, &r);
	scim_error_is(&r, 400, NULL);
	result_free(&r);
	request(srv, "POST", "/scim/v2/Users", scim_ct, NULL, "{\"a\":", false, &r);
	scim_error_is(&r, 400, "invalidSyntax");
	result_free(&r);
	request(srv, "POST", "/scim/v2/Users", scim_ct, NULL, "{\"a\":\"0123456789012345678901234"
	    "567890123456789012345678901234567890\"}", false, &r);
	scim_error_is(&r, 413, NULL);
	result_free(&r);
	H.authz_rc = PV_E_FORBIDDEN;
	request(srv, "POST", "/scim/v2/Users", scim_ct, NULL, "{}", false, &r);
	scim_error_is(&r, 403, NULL);
	result_free(&r);
	H.authn_rc = PV_E_UNAUTH;
	request(srv, "POST", "/scim/v2/Users", scim_ct, NULL, "{}", false, &r);
	scim_error_is(&r, 401, NULL);
	result_free(&r);
	request(srv, "GET", "/scim/v2/Nothing", NULL, NULL, NULL, false, &r);
	scim_error_is(&r, 404, NULL);
	result_free(&r);
	request(srv, "GET", "/scim/v2/Users", NULL, NULL, NULL, false, &r);
	scim_error_is(&r, 405, NULL);
	result_free(&r);
	/* an ordinary route keeps its content type and error form */
	H.authn_rc = PV_OK;
	H.authz_rc = PV_OK;
	request(srv, "POST", "/v1/big", scim_ct, NULL, "{}", false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.type, "application/json");
	assert_string_equal(r.code, "invalid_request");
	result_free(&r);
}

static void
test_missing_hooks_fail_closed(void **state)
{
	struct http_config cfg;
	struct http_server *srv = NULL;
	struct result r;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = "c";
	cfg.key_path = "k";
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_equal(http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0])), PV_OK);
	request(srv, "GET", "/v1/users", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 401);
	result_free(&r);
	request(srv, "GET", "/v1/sys/health", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 200);
	result_free(&r);
	http_server_free(srv);
	assert_int_equal(H.handler_calls, 1);
}

static void
test_handler_responses(void **state)
{
	struct http_server *srv = *state;
	static const char *const q[] = { "ssn", "123-45-6789", NULL };
	struct result r;

	request(srv, "POST", "/v1/fail", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 423);
	assert_string_equal(r.code, "locked");
	assert_string_equal(r.message, "Account locked \"for now\"");   /* escaped, round-trips */
	assert_int_equal(r.retry_after, 7);
	assert_false(r.close);
	result_free(&r);

	request(srv, "POST", "/v1/fail2", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.code, "conflict");
	assert_true(strlen(r.message) > 0);
	result_free(&r);

	request(srv, "POST", "/v1/auth/logout", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.len, 0);
	result_free(&r);

	request(srv, "GET", "/v1/audit/public-key", NULL, NULL, NULL, false, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/x-pem-file");
	result_free(&r);

	request(srv, "GET", "/v1/search?ssn=x", NULL, q, NULL, false, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "ssn")), "123-45-6789");
	result_free(&r);
}

/* A declared Content-Length costs nothing until its bytes arrive: 1 MiB
 * declared, 10 bytes sent, O(10) allocated (the first, small, buffer). */
static void
test_body_allocated_as_bytes_arrive(void **state)
{
	struct http_server *srv = *state;
	struct http_ctx *ctx = NULL;
	char chunk[4096];
	size_t sent;

	assert_int_equal(http_ctx_new(srv, "/v1/big", &ctx), PV_OK);
	ctx->test_headers = json_ct;
	http_ctx_begin(ctx, "POST", "192.0.2.1", 1 << 20);
	assert_int_equal(ctx->early_rc, PV_OK);
	assert_int_equal(ctx->body_cap, 0);
	assert_true(http_ctx_body(ctx, "{\"a\":\"12\"}", 10));
	assert_true(ctx->body_cap >= 11 && ctx->body_cap <= 1024);
	http_ctx_finish(ctx);
	assert_int_equal(ctx->out_status, 201);
	http_ctx_free(ctx);

	/* and it grows geometrically with what is sent, never past the limit */
	assert_int_equal(http_ctx_new(srv, "/v1/big", &ctx), PV_OK);
	http_ctx_begin(ctx, "POST", "192.0.2.1", -1);
	memset(chunk, ' ', sizeof(chunk));
	for (sent = 0; sent < 100000; sent += sizeof(chunk))
		assert_true(http_ctx_body(ctx, chunk, sizeof(chunk)));
	assert_true(ctx->body_cap > sent && ctx->body_cap <= 2 * (sent + 1));
	http_ctx_free(ctx);
}

/* A route without HTTP_ROUTE_BODY accepts only an empty body or {}, checked
 * before authentication and the handler. */
static void
test_no_body_routes(void **state)
{
	struct http_server *srv = *state;
	const char *const bad_json[] = { "{\"a\":", "x", "[]", "{}{}", "\"{}\"" };
	char big[100];
	struct result r;
	size_t i;

	srv->cfg.max_body_bytes = 1 << 20;   /* so 100 bytes are not 413 */
	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		request(srv, "POST", "/v1/auth/logout", json_ct, NULL, bad_json[i], false, &r);
		assert_int_equal(r.status, 400);
		assert_string_equal(r.code, "invalid_json");
		result_free(&r);
	}
	request(srv, "POST", "/v1/auth/logout", json_ct, NULL, "{\"id\":\"usr_1\"}", false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	result_free(&r);
	/* longer than any {} : refused, declared or chunked */
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	request(srv, "POST", "/v1/auth/logout", json_ct, NULL, big, false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	assert_true(r.close);
	result_free(&r);
	request(srv, "POST", "/v1/auth/logout", json_ct, NULL, big, true, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	result_free(&r);
	/* GET routes too */
	request(srv, "GET", "/v1/users/usr_1", NULL, NULL, "{\"a\":1}", false, &r);
	assert_int_equal(r.status, 400);
	result_free(&r);
	assert_int_equal(H.authn_calls + H.handler_calls, 0);

	request(srv, "POST", "/v1/auth/logout", NULL, NULL, "", false, &r);
	assert_int_equal(r.status, 204);
	request(srv, "POST", "/v1/auth/logout", json_ct, NULL, "{}", false, &r);
	assert_int_equal(r.status, 204);
	request(srv, "POST", "/v1/auth/logout", json_ct, NULL, "\n{ }\n", true, &r);
	assert_int_equal(r.status, 204);
	assert_int_equal(H.handler_calls, 3);
}

/* Ambiguous framing is refused before routing, and closes the connection. */
static void
test_framing(void **state)
{
	struct http_server *srv = *state;
	static const char *const two_cl[] = { "Content-Length", "2", "content-length", "2", NULL };
	static const char *const cl_te[] = { "Content-Length", "2", "Transfer-Encoding", "chunked", NULL };
	static const char *const te_gzip[] = { "Transfer-Encoding", "gzip, chunked", NULL };
	static const char *const te_ok[] = { "Transfer-Encoding", "Chunked",
		"Content-Type", "application/json", NULL };
	const char *const *bad[] = { two_cl, cl_te, te_gzip };
	struct result r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		request(srv, "POST", "/v1/echo", bad[i], NULL, "{}", false, &r);
		assert_int_equal(r.status, 400);
		assert_string_equal(r.code, "invalid_request");
		assert_true(r.close);
		result_free(&r);
		request(srv, "GET", "/v1/nope", bad[i], NULL, NULL, false, &r);
		assert_int_equal(r.status, 400);
		result_free(&r);
	}
	assert_int_equal(H.handler_calls, 0);
	request(srv, "POST", "/v1/echo", te_ok, NULL, "{}", true, &r);
	assert_int_equal(r.status, 201);
	result_free(&r);
}

/* A large body on an authenticated route: the authenticate hook runs from
 * the headers (early), once, and a failure is answered before the body. */
static void
test_early_authentication(void **state)
{
	struct http_server *srv = *state;
	struct http_ctx *ctx = NULL;

	H.authn_rc = PV_E_UNAUTH;
	assert_int_equal(http_ctx_new(srv, "/v1/users/usr_1", &ctx), PV_OK);
	ctx->test_headers = json_ct;
	http_ctx_begin(ctx, "PATCH", "192.0.2.1", 8192);   /* route limit: 64 -> 413 first */
	assert_int_equal(ctx->early_rc, PV_E_TOOBIG);
	http_ctx_free(ctx);

	srv->cfg.max_body_bytes = 1 << 20;
	assert_int_equal(http_ctx_new(srv, "/v1/users/usr_1", &ctx), PV_OK);
	ctx->test_headers = json_ct;
	http_ctx_begin(ctx, "PATCH", "192.0.2.1", 8192);
	assert_int_equal(ctx->early_rc, PV_E_UNAUTH);
	assert_int_equal(H.authn_calls, 1);
	http_ctx_finish(ctx);
	assert_int_equal(ctx->out_status, 401);
	assert_true(ctx->out_close);
	http_ctx_free(ctx);

	H.authn_rc = PV_OK;
	assert_int_equal(http_ctx_new(srv, "/v1/users/usr_1", &ctx), PV_OK);
	ctx->test_headers = json_ct;
	http_ctx_begin(ctx, "PATCH", "192.0.2.1", 8192);
	assert_int_equal(ctx->early_rc, PV_OK);
	assert_int_equal(H.authn_calls, 2);
	http_ctx_free(ctx);
	/* small bodies keep the usual order: invalid_json before authentication */
	{
		struct result r;

		request(srv, "PATCH", "/v1/users/usr_1", json_ct, NULL, "{\"a\":", false, &r);
		assert_string_equal(r.code, "invalid_json");
		result_free(&r);
		assert_int_equal(H.authn_calls, 2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_route_add_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_allocated_as_bytes_arrive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_body_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_early_authentication, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match, setup, teardown),
		cmocka_unit_test(test_match_rest),
		cmocka_unit_test(test_perm_expand),
		cmocka_unit_test(test_rc_mapping),
		cmocka_unit_test_setup_teardown(test_not_found_and_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_and_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scim_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_hooks_fail_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_responses, setup, teardown),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
