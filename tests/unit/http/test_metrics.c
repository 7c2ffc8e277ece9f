/*
 * test_metrics (http): requests are counted by the route's template and the
 * status sent, never by the path (which holds IDs); unmatched requests as
 * "(unmatched)" with a bounded method label; the duration histogram counts
 * each answered request once; an unanswered ctx is not counted; GET /metrics
 * renders the process registry as text/plain; version=0.0.4 behind its
 * permission. Driven through the pipeline without sockets (http_int.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"
#include "util/metrics.h"

static int principal_dummy;
static const char *granted;   /* the one permission the authorize hook allows */

static enum pv_rc
hook_authn(void *arg, struct http_request *req)
{
	(void)arg;
	req->principal = &principal_dummy;
	return PV_OK;
}

static enum pv_rc
hook_authz(void *arg, struct http_request *req, const char *perm)
{
	(void)arg;
	(void)req;
	return granted != NULL && strcmp(perm, granted) == 0 ? PV_OK : PV_E_FORBIDDEN;
}

static enum pv_rc
h_ok(struct http_request *req)
{
	return http_reply(req, 200, json_object());
}

static enum pv_rc
h_missing(struct http_request *req)
{
	return http_fail(req, PV_E_NOTFOUND, "No such record");
}

static const struct http_route routes[] = {
	{ "GET", "/v1/c/{c}/records/{id}", h_ok, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "DELETE", "/v1/c/{c}/records/{id}", h_missing, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
};

static struct http_server *
server_new(void)
{
	struct http_config cfg;
	struct http_server *srv = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = "/nonexistent/cert.pem";
	cfg.key_path = "/nonexistent/key.pem";
	cfg.tls_min_version = "1.2";
	cfg.authenticate = hook_authn;
	cfg.authorize = hook_authz;
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_equal(http_routes_add(srv, routes, 2), PV_OK);
	assert_int_equal(http_metrics_routes(srv, "metrics.read"), PV_OK);
	return srv;
}

/* One request through the pipeline, counted as server.c does at send. */
static int
request(struct http_server *srv, const char *method, const char *uri, char **text,
    const char **type)
{
	struct http_ctx *ctx = NULL;
	int st;

	assert_int_equal(http_ctx_new(srv, uri, &ctx), PV_OK);
	http_ctx_begin(ctx, method, "192.0.2.77", -1);
	http_ctx_finish(ctx);
	assert_true(ctx->out_ready);
	http_metrics_request_done(ctx);
	st = ctx->out_status;
	if (text != NULL)
		*text = strndup(ctx->out_body, ctx->out_len);
	if (type != NULL)
		*type = ctx->out_type;
	http_ctx_free(ctx);
	return st;
}

static char *
render(void)
{
	char *t = NULL;
	size_t n = 0;

	assert_int_equal(util_metrics_render(util_metrics_default(), &t, &n), PV_OK);
	return t;
}

static double
sample(const char *text, const char *series)
{
	char want[512];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", series);
	p = strstr(text, want);
	return p != NULL ? strtod(p + strlen(want), NULL) : -1;
}

static void
test_counted_by_template(void **state)
{
	struct http_server *srv = server_new();
	struct http_ctx *ctx = NULL;
	char *text;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(request(srv, "GET", "/v1/c/patients/records/rec_secret1", NULL,
		    NULL), 200);
	assert_int_equal(request(srv, "GET", "/v1/c/other/records/rec_secret2", NULL, NULL), 200);
	assert_int_equal(request(srv, "DELETE", "/v1/c/patients/records/rec_secret1", NULL,
	    NULL), 404);
	assert_int_equal(request(srv, "GET", "/v1/nothing/usr_secret3", NULL, NULL), 404);
	assert_int_equal(request(srv, "BREW", "/v1/c/x/records/y", NULL, NULL), 405);
	assert_int_equal(request(srv, "BREW", "/v1/pot", NULL, NULL), 404);
	/* a ctx that never answered (the client left) is not counted */
	assert_int_equal(http_ctx_new(srv, "/v1/c/patients/records/rec_x", &ctx), PV_OK);
	http_ctx_begin(ctx, "GET", "192.0.2.77", -1);
	http_metrics_request_done(ctx);
	http_ctx_free(ctx);

	text = render();
	assert_true(sample(text, "phivault_http_requests_total{method=\"GET\","
	    "route=\"/v1/c/{c}/records/{id}\",code=\"200\"}") == 4);
	assert_true(sample(text, "phivault_http_requests_total{method=\"DELETE\","
	    "route=\"/v1/c/{c}/records/{id}\",code=\"404\"}") == 1);
	assert_true(sample(text, "phivault_http_requests_total{method=\"GET\","
	    "route=\"(unmatched)\",code=\"404\"}") == 1);
	/* a matched path with a method no route has is 405 on no route */
	assert_true(sample(text, "phivault_http_requests_total{method=\"other\","
	    "route=\"(unmatched)\",code=\"405\"}") == 1);
	assert_true(sample(text, "phivault_http_requests_total{method=\"other\","
	    "route=\"(unmatched)\",code=\"404\"}") == 1);
	assert_true(sample(text, "phivault_http_request_duration_seconds_count{method=\"GET\","
	    "route=\"/v1/c/{c}/records/{id}\"}") == 4);
	/* what was in the paths and the source is nowhere */
	assert_null(strstr(text, "patients"));
	assert_null(strstr(text, "rec_secret"));
	assert_null(strstr(text, "usr_secret"));
	assert_null(strstr(text, "192.0.2.77"));
	assert_null(strstr(text, "BREW"));
	free(text);
	http_server_free(srv);
}

static void
test_metrics_route(void **state)
{
	struct http_server *srv = server_new();
	const char *type = NULL;
	char *body = NULL;

	(void)state;
	granted = NULL;
	assert_int_equal(request(srv, "GET", "/metrics", &body, &type), 403);
	free(body);
	granted = "metrics.read";
	assert_int_equal(request(srv, "GET", "/metrics", &body, &type), 200);
	assert_string_equal(type, "text/plain; version=0.0.4");
	/* the registry's text, with the 403 just made in it */
	assert_non_null(strstr(body, "# TYPE phivault_http_requests_total counter\n"));
	assert_true(sample(body, "phivault_http_requests_total{method=\"GET\","
	    "route=\"/metrics\",code=\"403\"}") >= 1);
	free(body);
	granted = NULL;
	http_server_free(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counted_by_template),
		cmocka_unit_test(test_metrics_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
