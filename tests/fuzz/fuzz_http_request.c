/*
 * fuzz_http_request: the request pipeline above libmicrohttpd (request.c,
 * route.c, resource.c), driven as tests/unit/http does, without sockets:
 * path split and percent-decoding, route match (404 / 405 with Allow),
 * permission expansion, the framing checks on Content-Length and
 * Transfer-Encoding, Content-Type, the body limit and JSON body, the
 * headers and query arguments handlers read, the audit resource and
 * http_set_header.
 *
 * Input, '\n'-separated: method, URI, header lines "Name:value" up to an
 * empty line, query lines "key=value" up to an empty line, then the body
 * (sent in chunks whose size is taken from the body's first byte; the
 * Content-Length declared is the body's length unless a Transfer-Encoding
 * header is present). Invariants: exactly one response; its status is one
 * the error model has; a JSON response parses, and an error is exactly
 * {"error":{"code","message"}} with a message that does not hold the path;
 * the audit resource is printable UTF-8 and bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAIRS 8

static int principal_dummy;
static const char *last_resource;

static enum pv_rc
hook_authn(void *arg, struct http_request *req)
{
	const char *auth = http_header(req, "Authorization");

	(void)arg;
	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
		return http_fail(req, PV_E_UNAUTH, "Authentication required");
	req->principal = &principal_dummy;
	return PV_OK;
}

static enum pv_rc
hook_authz(void *arg, struct http_request *req, const char *perm)
{
	(void)arg;
	(void)req;
	/* a permission naming a parameter with a '%' stands for a denial */
	return strchr(perm, '%') != NULL ? PV_E_FORBIDDEN : PV_OK;
}

static bool
hook_sealed(void *arg)
{
	(void)arg;
	return false;
}

static void
each_cb(void *arg, const char *key, const char *value)
{
	size_t *n = arg;

	if (key == NULL || value == NULL)
		abort();
	*n += strlen(key) + strlen(value);
}

/* Reads what handlers read, then answers with it. */
static enum pv_rc
h_echo(struct http_request *req)
{
	const char *res = http_route_resource(req);
	const char *hn = http_query(req, "hn"), *hv = http_query(req, "hv");
	size_t n = 0, i;
	json_t *o;

	last_resource = res;
	http_query_each(req, each_cb, &n);
	(void)http_header(req, "If-Match");
	if (hn != NULL && hv != NULL && http_set_header(req, hn, hv) == PV_OK &&
	    http_response_header(req, hn) == NULL)
		abort();
	o = json_pack("{s:s, s:I}", "resource", res, "n", (json_int_t)n);
	for (i = 0; o != NULL && i < req->nparams; i++)
		if (req->params[i] == NULL || strchr(req->params[i], '/') != NULL)
			abort();   /* a parameter is one decoded segment */
	if (req->body != NULL && o != NULL)
		json_object_set(o, "body", req->body);
	if (http_query(req, "fail") != NULL) {
		json_decref(o);
		return http_fail(req, PV_E_INVALID, "fail requested");
	}
	return http_reply(req, 200, o);
}

static enum pv_rc
h_nocontent(struct http_request *req)
{
	last_resource = http_route_resource(req);
	req->status = 204;
	return PV_OK;
}

static const struct http_route routes[] = {
	{ "GET", "/v1/sys/health", h_echo, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_SEALED_OK, 0, NULL },
	{ "POST", "/v1/echo", h_echo, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_BODY, 0, NULL },
	{ "POST", "/v1/small", h_echo, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_BODY, 16, NULL },
	{ "GET", "/v1/users", h_echo, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, NULL },
	{ "GET", "/v1/users/{id}", h_echo, "users.manage", NULL, 0, 0, NULL },
	{ "PATCH", "/v1/users/{id}", h_echo, "users.manage", NULL, HTTP_ROUTE_BODY, 0, NULL },
	{ "GET", "/v1/collections/{c}/records/{id}", h_echo, "records.read:{0}", "record.read",
	  0, 0, NULL },
	{ "PATCH", "/v1/collections/{c}/records/{id}", h_echo, "records.write:{0}",
	  "record.update", HTTP_ROUTE_BODY, 0, NULL },
	{ "POST", "/v1/collections/{c}/records", h_echo, "records.write:{0}", "record.create",
	  HTTP_ROUTE_BODY, 0, NULL },
	{ "GET", "/v1/collections/{c}/records", h_echo, "records.read:{0}", "record.list",
	  0, 0, NULL },
	{ "DELETE", "/v1/a/{1}/b/{2}/c/{3}/d/{4}", h_nocontent, "x:{0}:{1}:{2}:{3}", NULL,
	  0, 0, NULL },
	{ "POST", "/v1/auth/logout", h_nocontent, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, NULL },
};

static struct http_server *
server(void)
{
	static struct http_server *srv;
	struct http_config cfg;

	if (srv != NULL)
		return srv;
	log_set_level(LOG_LVL_ERROR);
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = "/nonexistent/cert.pem";   /* read only at start */
	cfg.key_path = "/nonexistent/key.pem";
	cfg.tls_min_version = "1.2";
	cfg.max_body_bytes = 4096;
	cfg.is_sealed = hook_sealed;
	cfg.authenticate = hook_authn;
	cfg.authorize = hook_authz;
	if (http_server_new(&cfg, &srv) != PV_OK ||
	    http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0])) != PV_OK)
		abort();
	return srv;
}

/* Next '\n'-terminated line of [*p, end) as a NUL-terminated copy, or NULL at the end. */
static char *
next_line(const char **p, const char *end)
{
	const char *nl;
	char *s;
	size_t len;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, *p, len);
	s[len] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

/* "name<sep>value" lines up to an empty line, into pairs[] (NULL-terminated). */
static size_t
read_pairs(const char **p, const char *end, char sep, char **lines, const char **pairs)
{
	size_t n = 0;
	char *l;

	while (n < MAX_PAIRS && (l = next_line(p, end)) != NULL) {
		char *s;

		if (l[0] == '\0') {
			free(l);
			break;
		}
		lines[n] = l;
		s = strchr(l, sep);
		if (s != NULL)
			*s++ = '\0';
		pairs[2 * n] = l;
		pairs[2 * n + 1] = s != NULL ? s : "";
		n++;
	}
	pairs[2 * n] = NULL;
	return n;
}

static void
check_response(const struct http_ctx *ctx, const char *uri)
{
	json_error_t e;
	json_t *v, *err;
	const char *code, *msg;

	if (!ctx->out_ready || ctx->out_status < 200 || ctx->out_status > 599)
		abort();
	if (ctx->out_status == 204) {
		if (ctx->out_len != 0)
			abort();
		return;
	}
	if (ctx->out_type != NULL && strcmp(ctx->out_type, "application/scim+json") == 0) {
		/* under /scim/ (HTTP_ROUTE_SCIM): RFC 7644's error form,
		 * {"schemas":[...Error],"status":"<n>","detail"} */
		if (strncmp(uri, "/scim/", 6) != 0)
			abort();
		v = json_loadb(ctx->out_body, ctx->out_len, JSON_DECODE_ANY, &e);
		if (v == NULL)
			abort();
		if (ctx->out_status >= 400) {
			const char *st = json_string_value(json_object_get(v, "status"));

			msg = json_string_value(json_object_get(v, "detail"));
			if (!json_is_array(json_object_get(v, "schemas")) || st == NULL ||
			    atoi(st) != ctx->out_status || msg == NULL)
				abort();
			if (uri[0] == '/' && strlen(uri) >= 12 && strstr(msg, uri) != NULL)
				abort();
		}
		json_decref(v);
		return;
	}
	if (ctx->out_type == NULL || strcmp(ctx->out_type, "application/json") != 0)
		abort();
	v = json_loadb(ctx->out_body, ctx->out_len, JSON_DECODE_ANY, &e);
	if (v == NULL)
		abort();
	if (ctx->out_status >= 400) {
		err = json_object_get(v, "error");
		code = json_string_value(json_object_get(err, "code"));
		msg = json_string_value(json_object_get(err, "message"));
		if (json_object_size(v) != 1 || json_object_size(err) != 2 || code == NULL ||
		    msg == NULL || code[0] == '\0' || msg[0] == '\0')
			abort();
		/* error messages never contain request data */
		if (uri[0] == '/' && strlen(uri) >= 12 && strstr(msg, uri) != NULL)
			abort();
	}
	json_decref(v);
}

static void
check_resource(const char *r)
{
	const unsigned char *p;

	if (r == NULL)
		abort();
	if (strlen(r) > 256 + HTTP_MAX_PARAMS * (HTTP_RESOURCE_PARAM_MAX + 4))
		abort();
	for (p = (const unsigned char *)r; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *method, *uri, *hlines[MAX_PAIRS] = { 0 }, *qlines[MAX_PAIRS] = { 0 };
	const char *headers[2 * MAX_PAIRS + 1], *query[2 * MAX_PAIRS + 1];
	struct http_ctx *ctx = NULL;
	size_t nh, nq, blen, off, chunk, i;
	long long cl;

	method = next_line(&p, end);
	uri = next_line(&p, end);
	if (method == NULL || uri == NULL) {
		free(method);
		free(uri);
		return 0;
	}
	nh = read_pairs(&p, end, ':', hlines, headers);
	nq = read_pairs(&p, end, '=', qlines, query);
	blen = (size_t)(end - p);
	chunk = blen > 0 ? (unsigned char)p[0] % 64 + 1 : 1;

	if (http_ctx_new(server(), uri, &ctx) != PV_OK)
		abort();
	ctx->test_headers = headers;
	ctx->test_query = query;
	cl = -1;
	if (http_header(&ctx->req, "Transfer-Encoding") == NULL && blen > 0)
		cl = (long long)blen;
	http_ctx_begin(ctx, method, "192.0.2.1", cl);
	for (off = 0; off < blen; off += chunk)
		if (!http_ctx_body(ctx, p + off, blen - off < chunk ? blen - off : chunk))
			break;
	last_resource = NULL;
	http_ctx_finish(ctx);
	check_response(ctx, uri);
	if (last_resource != NULL)
		check_resource(last_resource);
	check_resource(http_route_resource(&ctx->req));
	http_ctx_free(ctx);

	for (i = 0; i < nh; i++)
		free(hlines[i]);
	for (i = 0; i < nq; i++)
		free(qlines[i]);
	free(method);
	free(uri);
	return 0;
}
