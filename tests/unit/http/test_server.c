/*
 * A real HTTPS server on 127.0.0.1:<ephemeral> with a throwaway P-256
 * certificate, driven with libcurl (OpenSSL): status codes, error bodies,
 * security headers, TLS versions and suites, keep-alive, graceful stop.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http/http.h"

static char tmpdir[512];
static char cert_path[600];
static char key_path[600];

static atomic_bool sealed;
static atomic_int slow_entered;
static int principal_dummy;

/* ---- handlers and hooks ---- */

static enum pv_rc
h_health(struct http_request *req)
{
	bool s = atomic_load(&sealed);

	return http_reply(req, s ? 503 : 200,
	    json_pack("{s:s,s:b}", "status", s ? "sealed" : "ok", "sealed", s));
}

static enum pv_rc
h_echo(struct http_request *req)
{
	const char *name = NULL;
	enum pv_rc rc = http_body_string(req, "name", true, 64, &name);

	if (rc != PV_OK)
		return rc;
	return http_reply(req, 201, json_pack("{s:s}", "hello", name));
}

static enum pv_rc
h_secret(struct http_request *req)
{
	return http_reply(req, 200, json_pack("{s:s}", "collection", req->params[0]));
}

static enum pv_rc
h_slow(struct http_request *req)
{
	struct timespec ts = { 1, 500 * 1000 * 1000 };

	atomic_store(&slow_entered, 1);
	nanosleep(&ts, NULL);
	return http_reply(req, 200, json_pack("{s:b}", "finished", 1));
}

static bool
hook_sealed(void *arg)
{
	(void)arg;
	return atomic_load(&sealed);
}

static enum pv_rc
hook_authn(void *arg, struct http_request *req)
{
	const char *a = http_header(req, "Authorization");

	(void)arg;
	if (a == NULL || strcmp(a, "Bearer good") != 0)
		return PV_E_UNAUTH;
	req->principal = &principal_dummy;
	return PV_OK;
}

static enum pv_rc
hook_authz(void *arg, struct http_request *req, const char *perm)
{
	(void)arg;
	(void)req;
	return strcmp(perm, "records.read:allowed") == 0 ? PV_OK : PV_E_FORBIDDEN;
}

static const struct http_route routes[] = {
	{ "GET", "/v1/sys/health", h_health, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_SEALED_OK, 0, NULL },
	{ "POST", "/v1/echo", h_echo, HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_BODY, 0, NULL },
	{ "GET", "/v1/secret/{c}", h_secret, "records.read:{0}", "record.read", 0, 0, NULL },
	{ "GET", "/v1/slow", h_slow, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
};

/* ---- fixtures ---- */

static int
group_setup(void **state)
{
	const char *base = getenv("PV_TEST_TMP");
	char cmd[2048];

	(void)state;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(tmpdir, sizeof(tmpdir), "%s/http-XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd),
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
	    "-days 1 -keyout '%s' -out '%s' >/dev/null 2>&1", key_path, cert_path);
	if (system(cmd) != 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	log_set_level(LOG_LVL_WARN);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	unlink(cert_path);
	unlink(key_path);
	rmdir(tmpdir);
	return 0;
}

/* 2: a pool of two epoll threads; 0: a thread per connection (the default) */
static unsigned server_threads = 2;

static struct http_server *
start_server(const char *min_version)
{
	struct http_config cfg;
	struct http_server *srv = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = cert_path;
	cfg.key_path = key_path;
	cfg.tls_min_version = min_version;
	cfg.max_body_bytes = 1 << 20;
	cfg.threads = server_threads;
	cfg.is_sealed = hook_sealed;
	cfg.authenticate = hook_authn;
	cfg.authorize = hook_authz;
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_equal(http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0])), PV_OK);
	assert_int_equal(http_server_start(srv), PV_OK);
	assert_true(http_server_port(srv) > 0);
	return srv;
}

static int
setup(void **state)
{
	atomic_store(&sealed, false);
	atomic_store(&slow_entered, 0);
	*state = start_server("1.2");
	return 0;
}

/* The same server with a thread per connection, as `serve` runs it. */
static int
setup_per_connection(void **state)
{
	server_threads = 0;
	return setup(state);
}

static int
teardown(void **state)
{
	http_server_free(*state);
	return 0;
}

/* ---- a small client ---- */

struct resp {
	long status;
	char body[4096];
	size_t blen;
	char headers[8192];   /* lower-cased */
	size_t hlen;
	long connects;
	json_t *json;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n, room = sizeof(r->body) - 1 - r->blen;

	memcpy(r->body + r->blen, p, len < room ? len : room);
	r->blen += len < room ? len : room;
	r->body[r->blen] = '\0';
	return len;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n, i;

	for (i = 0; i < len && r->hlen < sizeof(r->headers) - 1; i++) {
		char c = p[i];

		r->headers[r->hlen++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	r->headers[r->hlen] = '\0';
	return len;
}

struct tls_opts {
	long version;
	const char *ciphers;
};

static CURLcode
perform(CURL *h, struct http_server *srv, const char *method, const char *path,
    const char *body, size_t blen, const char *auth, const struct tls_opts *tls,
    struct resp *r)
{
	struct curl_slist *hdrs = NULL;
	char url[256];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", http_server_port(srv), path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, cert_path);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	}
	if (auth != NULL) {
		char line[128];

		snprintf(line, sizeof(line), "Authorization: %s", auth);
		hdrs = curl_slist_append(hdrs, line);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (tls != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLVERSION, tls->version);
		if (tls->ciphers != NULL)
			curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, tls->ciphers);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->connects);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc == CURLE_OK && r->blen > 0)
		r->json = json_loadb(r->body, r->blen, 0, NULL);
	return rc;
}

static CURLcode
req(struct http_server *srv, const char *method, const char *path, const char *body,
    const char *auth, struct resp *r)
{
	CURL *h = curl_easy_init();
	CURLcode rc;

	assert_non_null(h);
	rc = perform(h, srv, method, path, body, body ? strlen(body) : 0, auth, NULL, r);
	curl_easy_cleanup(h);
	return rc;
}

static bool
has_header(const struct resp *r, const char *lower_line)
{
	return strstr(r->headers, lower_line) != NULL;
}

/* Headers API.md and http.h promise on every response. */
static void
assert_security_headers(const struct resp *r)
{
	assert_true(has_header(r, "\r\ncache-control: no-store\r\n"));
	assert_true(has_header(r, "\r\nstrict-transport-security: max-age=63072000; includesubdomains\r\n"));
	assert_true(has_header(r, "\r\nx-content-type-options: nosniff\r\n"));
	assert_true(has_header(r, "\r\nx-frame-options: deny\r\n"));
	assert_true(has_header(r, "\r\ncontent-security-policy: default-src 'none'"));
	assert_true(has_header(r, "\r\nreferrer-policy: no-referrer\r\n"));
	assert_true(has_header(r, "\r\ncontent-type: application/json\r\n"));
	assert_false(has_header(r, "microhttpd"));   /* no version banner */
}

static const char *
error_code(const struct resp *r)
{
	json_t *e = json_object_get(r->json, "error");

	assert_true(json_is_object(e));
	assert_true(json_is_string(json_object_get(e, "message")));
	return json_string_value(json_object_get(e, "code"));
}

static void
resp_free(struct resp *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* ---- tests ---- */

static void
test_success_and_headers(void **state)
{
	struct resp r;

	assert_int_equal(req(*state, "GET", "/v1/sys/health", NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
	assert_security_headers(&r);
	resp_free(&r);

	assert_int_equal(req(*state, "POST", "/v1/echo", "{\"name\":\"ada\"}", NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(json_string_value(json_object_get(r.json, "hello")), "ada");
	assert_security_headers(&r);
	resp_free(&r);
}

static void
test_errors(void **state)
{
	struct resp r;

	assert_int_equal(req(*state, "POST", "/v1/echo", "{\"name\":", NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 400);
	assert_string_equal(error_code(&r), "invalid_json");
	assert_security_headers(&r);
	resp_free(&r);

	assert_int_equal(req(*state, "POST", "/v1/echo", "{\"nom\":\"x\"}", NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 400);
	assert_string_equal(error_code(&r), "invalid_request");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r.json, "error"),
	    "message")), "name"));
	resp_free(&r);

	assert_int_equal(req(*state, "GET", "/v1/nothing/here", NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(error_code(&r), "not_found");
	assert_security_headers(&r);
	resp_free(&r);

	assert_int_equal(req(*state, "DELETE", "/v1/echo", NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 405);
	assert_string_equal(error_code(&r), "method_not_allowed");
	assert_true(has_header(&r, "\r\nallow: post\r\n"));
	assert_security_headers(&r);
	resp_free(&r);
}

static void
test_authn_authz(void **state)
{
	struct resp r;

	assert_int_equal(req(*state, "GET", "/v1/secret/allowed", NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 401);
	assert_string_equal(error_code(&r), "unauthenticated");
	resp_free(&r);

	assert_int_equal(req(*state, "GET", "/v1/secret/other", NULL, "Bearer good", &r), CURLE_OK);
	assert_int_equal(r.status, 403);
	assert_string_equal(error_code(&r), "forbidden");
	assert_security_headers(&r);
	resp_free(&r);

	assert_int_equal(req(*state, "GET", "/v1/secret/allowed", NULL, "Bearer good", &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "collection")), "allowed");
	resp_free(&r);
}

static void
test_sealed(void **state)
{
	struct resp r;

	atomic_store(&sealed, true);
	assert_int_equal(req(*state, "GET", "/v1/secret/allowed", NULL, "Bearer good", &r), CURLE_OK);
	assert_int_equal(r.status, 503);
	assert_string_equal(error_code(&r), "sealed");
	assert_security_headers(&r);
	resp_free(&r);

	assert_int_equal(req(*state, "POST", "/v1/echo", "{\"name\":\"x\"}", NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 503);
	assert_string_equal(error_code(&r), "sealed");
	resp_free(&r);

	/* health answers while sealed, with its own body */
	assert_int_equal(req(*state, "GET", "/v1/sys/health", NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 503);
	assert_true(json_is_true(json_object_get(r.json, "sealed")));
	assert_null(json_object_get(r.json, "error"));
	resp_free(&r);
}

static void
test_payload_too_large(void **state)
{
	size_t n = 2u << 20;
	char *big = malloc(n + 1);
	CURL *h = curl_easy_init();
	struct resp r;

	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	assert_int_equal(perform(h, *state, "POST", "/v1/echo", big, n, NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_string_equal(error_code(&r), "payload_too_large");
	assert_security_headers(&r);
	resp_free(&r);
	curl_easy_cleanup(h);

	/* just under the limit is fine */
	big[(1u << 20) - 1] = '}';
	big[1u << 20] = '\0';
	memcpy(big, "{\"name\":\"z\"", 11);
	h = curl_easy_init();
	assert_int_equal(perform(h, *state, "POST", "/v1/echo", big, 1u << 20, NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	curl_easy_cleanup(h);
	free(big);
}

static CURLcode
with_tls(struct http_server *srv, long version, const char *ciphers, struct resp *r)
{
	struct tls_opts t = { version, ciphers };
	CURL *h = curl_easy_init();
	CURLcode rc;

	assert_non_null(h);
	rc = perform(h, srv, "GET", "/v1/sys/health", NULL, 0, NULL, &t, r);
	curl_easy_cleanup(h);
	resp_free(r);
	return rc;
}

static void
test_tls_versions_and_suites(void **state)
{
	struct resp r;

	/* @SECLEVEL=0 lets the client offer what it would otherwise refuse
	 * itself, so the refusal below is the server's */
	assert_int_not_equal(with_tls(*state, CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_0,
	    "DEFAULT:@SECLEVEL=0", &r), CURLE_OK);
	assert_int_not_equal(with_tls(*state, CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1,
	    "DEFAULT:@SECLEVEL=0", &r), CURLE_OK);
	/* TLS 1.2 with CBC suites only */
	assert_int_not_equal(with_tls(*state, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", &r), CURLE_OK);
	assert_int_not_equal(with_tls(*state, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256:@SECLEVEL=0", &r), CURLE_OK);

	/* TLS 1.2 AEAD with ECDHE, and TLS 1.3 */
	assert_int_equal(with_tls(*state, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "ECDHE-ECDSA-AES256-GCM-SHA384", &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(with_tls(*state, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "ECDHE-ECDSA-CHACHA20-POLY1305", &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(with_tls(*state, CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3,
	    NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
}

static void
test_tls13_only(void **state)
{
	struct http_server *srv;
	struct resp r;

	(void)state;
	atomic_store(&sealed, false);
	srv = start_server("1.3");
	assert_int_not_equal(with_tls(srv, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "ECDHE-ECDSA-AES256-GCM-SHA384", &r), CURLE_OK);
	assert_int_equal(with_tls(srv, CURL_SSLVERSION_TLSv1_3, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	http_server_free(srv);
}

static void
test_refuses_old_tls_config(void **state)
{
	struct http_config cfg;
	struct http_server *srv = NULL;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = cert_path;
	cfg.key_path = key_path;
	cfg.tls_min_version = "1.1";
	cfg.dev = true;   /* dev relaxes nothing about TLS */
	assert_int_equal(http_server_new(&cfg, &srv), PV_E_CONFIG);
	assert_null(srv);
	cfg.tls_min_version = "1.2";
	cfg.listen = "127.0.0.1";
	assert_int_equal(http_server_new(&cfg, &srv), PV_E_INVALID);
	cfg.listen = "127.0.0.1:70000";
	assert_int_equal(http_server_new(&cfg, &srv), PV_E_INVALID);
	cfg.listen = "[::1]:0";
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	http_server_free(srv);
	srv = NULL;
	/* an unreadable key is an error at start, not a crash */
	cfg.listen = "127.0.0.1:0";
	cfg.key_path = "/nonexistent/key.pem";
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_not_equal(http_server_start(srv), PV_OK);
	http_server_free(srv);
}

static void
test_keep_alive(void **state)
{
	CURL *h = curl_easy_init();
	struct resp r;
	int i;

	assert_int_equal(perform(h, *state, "GET", "/v1/sys/health", NULL, 0, NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.connects, 1);
	resp_free(&r);
	for (i = 0; i < 3; i++) {
		/* errors keep the connection too */
		assert_int_equal(perform(h, *state, "GET", i == 1 ? "/v1/nope" : "/v1/sys/health",
		    NULL, 0, NULL, NULL, &r), CURLE_OK);
		assert_int_equal(r.status, i == 1 ? 404 : 200);
		assert_int_equal(r.connects, 0);   /* the connection was reused */
		resp_free(&r);
	}
	curl_easy_cleanup(h);
}

struct slow_call {
	struct http_server *srv;
	CURLcode rc;
	struct resp r;
};

static void *
slow_thread(void *arg)
{
	struct slow_call *c = arg;

	c->rc = req(c->srv, "GET", "/v1/slow", NULL, NULL, &c->r);
	return NULL;
}

static void
test_graceful_stop(void **state)
{
	struct http_server *srv = *state;
	struct slow_call call = { .srv = srv };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pthread_t t;
	int i;
	struct resp r;
	unsigned port = http_server_port(srv);
	char url[64];
	CURL *h;

	assert_int_equal(pthread_create(&t, NULL, slow_thread, &call), 0);
	for (i = 0; i < 2000 && !atomic_load(&slow_entered); i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&slow_entered));
	http_server_stop(srv);   /* returns once the slow request is answered */
	pthread_join(t, NULL);
	assert_int_equal(call.rc, CURLE_OK);
	assert_int_equal(call.r.status, 200);
	assert_true(json_is_true(json_object_get(call.r.json, "finished")));
	resp_free(&call.r);

	/* and nothing listens any more */
	h = curl_easy_init();
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/sys/health", port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, cert_path);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	memset(&r, 0, sizeof(r));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	assert_int_equal(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
	curl_easy_cleanup(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_success_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authn_authz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_versions_and_suites, setup, teardown),
		cmocka_unit_test(test_tls13_only),
		cmocka_unit_test(test_refuses_old_tls_config),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_stop, setup, teardown),
		/* thread per connection: the same behaviour (these leave it selected) */
		cmocka_unit_test_setup_teardown(test_success_and_headers, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_payload_too_large, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_stop, setup_per_connection, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
