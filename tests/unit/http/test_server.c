/*
 * A real HTTPS server on 127.0.0.1:<ephemeral> with a throwaway P-256
 * certificate, driven with libcurl (OpenSSL): status codes, error bodies,
 * security headers, TLS versions and suites, keep-alive, graceful stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http/http_int.h"

static char tmpdir[512];
static char cert_path[600];
static char key_path[600];

static atomic_bool sealed;
static atomic_int slow_entered;
static atomic_int hidden_calls;
static atomic_int gone_calls;
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

/* The request a smuggling attempt hides in a body: must never run. */
static enum pv_rc
h_hidden(struct http_request *req)
{
	atomic_fetch_add(&hidden_calls, 1);
	return http_reply(req, 200, json_pack("{s:b}", "hidden", 1));
}

/* A no-body route with a side effect, like POST /v1/users/{id}/disable. */
static enum pv_rc
h_gone(struct http_request *req)
{
	atomic_fetch_add(&gone_calls, 1);
	req->status = 204;
	return PV_OK;
}

/* The idle timeout MHD applies to this connection now. */
static enum pv_rc
h_timeout(struct http_request *req)
{
	struct http_ctx *ctx = req->priv;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(ctx->conn, MHD_CONNECTION_INFO_CONNECTION_TIMEOUT);

	return http_reply(req, 200, json_pack("{s:i}", "timeout_s",
	    ci != NULL ? (int)ci->connection_timeout : -1));
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
	{ "GET", "/v1/hidden", h_hidden, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "POST", "/v1/gone", h_gone, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, NULL },
	{ "GET", "/v1/timeout", h_timeout, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "POST", "/v1/private", h_echo, HTTP_PERM_AUTHENTICATED, NULL, HTTP_ROUTE_BODY, 0, NULL },
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

/* 2: a pool of two epoll threads (the default); 0: a thread per connection */
static unsigned server_threads = 2;
static unsigned server_per_ip;        /* 0: the default */
static unsigned server_handshake_s;   /* 0: the default */
static unsigned server_max_conn;      /* 0: the default */

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
	cfg.max_connections_per_ip = server_per_ip;
	cfg.handshake_timeout_s = server_handshake_s;
	cfg.max_connections = server_max_conn;
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
	atomic_store(&hidden_calls, 0);
	atomic_store(&gone_calls, 0);
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
	server_per_ip = 0;
	server_handshake_s = 0;
	server_max_conn = 0;
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

/* ---- raw connections: bytes exactly as an attacker sends them ---- */

/* Wait (poll, not sleep) until the socket is readable or writable; false after 10 s. */
static bool
wait_fd(int fd, short events)
{
	struct pollfd p = { fd, events, 0 };

	return poll(&p, 1, 10000) > 0;
}

static int
curl_fd(CURL *h)
{
	curl_socket_t fd = CURL_SOCKET_BAD;

	assert_int_equal(curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd), CURLE_OK);
	assert_true(fd != CURL_SOCKET_BAD);
	return (int)fd;
}

/* A TLS connection with nothing sent yet (libcurl CONNECT_ONLY). */
static CURL *
raw_open(struct http_server *srv)
{
	CURL *h = curl_easy_init();
	char url[64];

	assert_non_null(h);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", http_server_port(srv));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, cert_path);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	return h;
}

static void
raw_send(CURL *h, const char *data)
{
	size_t off = 0, len = strlen(data), n;
	CURLcode rc;

	while (off < len) {
		rc = curl_easy_send(h, data + off, len - off, &n);
		if (rc == CURLE_AGAIN) {
			assert_true(wait_fd(curl_fd(h), POLLOUT));
			continue;
		}
		assert_int_equal(rc, CURLE_OK);
		off += n;
	}
}

/* Everything the server sends until it closes; *closed false if it kept the
 * connection open for 10 s after its last byte. */
static size_t
raw_read_all(CURL *h, char *buf, size_t cap, bool *closed)
{
	size_t len = 0, n;
	CURLcode rc;

	*closed = false;
	for (;;) {
		if (len + 1 >= cap)
			break;
		rc = curl_easy_recv(h, buf + len, cap - 1 - len, &n);
		if (rc == CURLE_AGAIN) {
			if (!wait_fd(curl_fd(h), POLLIN))
				break;
			continue;
		}
		if (rc != CURLE_OK || n == 0) {
			*closed = true;   /* orderly close, or a reset */
			break;
		}
		len += n;
	}
	buf[len] = '\0';
	return len;
}

/* Send one raw request, read until close. */
static void
raw_exchange(struct http_server *srv, const char *data, char *buf, size_t cap, bool *closed)
{
	CURL *h = raw_open(srv);

	raw_send(h, data);
	raw_read_all(h, buf, cap, closed);
	curl_easy_cleanup(h);
}

#define HIDDEN "GET /v1/hidden HTTP/1.1\r\nHost: localhost\r\n\r\n"

/*
 * Request smuggling (RFC 9112 6.1, 6.3): a request whose body length two
 * parsers could read differently is refused with a JSON 400 and the
 * connection closed; the request hidden after it never runs.
 */
static void
test_smuggling_refused(void **state)
{
	char req_text[1024], buf[8192];
	const char *const forms[] = {
		/* duplicate Content-Length, the short one first */
		"POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		"Content-Length: 0\r\nContent-Length: %zu\r\n\r\n",
		/* the long one first */
		"POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		"Content-Length: %zu\r\nContent-Length: 0\r\n\r\n",
		/* CL.TE: a proxy reading Content-Length forwards both requests */
		"POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		"Content-Length: %zu\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		/* TE.CL */
		"POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		"Transfer-Encoding: chunked\r\nContent-Length: %zu\r\n\r\n0\r\n\r\n",
		/* a coding MHD does not treat as chunked: the body would be read as absent */
		"POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		"Transfer-Encoding: identity\r\nX-Len: %zu\r\n\r\n",
		/* two Transfer-Encoding fields */
		"POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nX-Len: %zu\r\n\r\n"
		"0\r\n\r\n",
		/* the same on a GET route */
		"GET /v1/sys/health HTTP/1.1\r\nHost: localhost\r\n"
		"Content-Length: 0\r\nContent-Length: %zu\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		bool closed;
		json_t *j;
		const char *body;
		char *hdr_end;

		const char *at = strstr(forms[i], "%zu");
		size_t pre = (size_t)(at - forms[i]);

		/* forms[i] with its "%zu" replaced by the hidden request's length */
		memcpy(req_text, forms[i], pre);
		snprintf(req_text + pre, sizeof(req_text) - pre, "%zu%s" HIDDEN, strlen(HIDDEN),
		    at + 3);
		raw_exchange(*state, req_text, buf, sizeof(buf), &closed);
		assert_int_equal(atomic_load(&hidden_calls), 0);
		assert_true(closed);
		assert_memory_equal(buf, "HTTP/1.1 400", 12);
		assert_null(strstr(buf, "\"hidden\""));
		/* one response only, with the JSON error model and Connection: close */
		assert_null(strstr(buf + 12, "HTTP/1.1 "));
		for (hdr_end = buf; *hdr_end; hdr_end++)
			*hdr_end = (char)(*hdr_end >= 'A' && *hdr_end <= 'Z' ? *hdr_end + 32 : *hdr_end);
		assert_non_null(strstr(buf, "\r\nconnection: close\r\n"));
		body = strstr(buf, "\r\n\r\n");
		assert_non_null(body);
		j = json_loads(body + 4, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"),
		    "code")), "invalid_request");
		json_decref(j);
	}
	/* a plain chunked body still works */
	{
		bool closed;

		raw_exchange(*state, "POST /v1/echo HTTP/1.1\r\nHost: localhost\r\n"
		    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
		    "Connection: close\r\n\r\n"
		    "e\r\n{\"name\":\"ada\"}\r\n0\r\n\r\n", buf, sizeof(buf), &closed);
		assert_memory_equal(buf, "HTTP/1.1 201", 12);
	}
}

/* A route without HTTP_ROUTE_BODY acts on an empty body or {} only. */
static void
test_no_body_route(void **state)
{
	struct resp r;
	const char *const bad_json[] = { "{\"a\":", "garbage", "[]", "  ", "null" };
	size_t i;

	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		assert_int_equal(req(*state, "POST", "/v1/gone", bad_json[i], "Bearer good", &r),
		    CURLE_OK);
		assert_int_equal(r.status, 400);
		assert_string_equal(error_code(&r), "invalid_json");
		resp_free(&r);
	}
	assert_int_equal(req(*state, "POST", "/v1/gone", "{\"a\":1}", "Bearer good", &r), CURLE_OK);
	assert_int_equal(r.status, 400);
	assert_string_equal(error_code(&r), "invalid_request");
	resp_free(&r);
	assert_int_equal(atomic_load(&gone_calls), 0);

	assert_int_equal(req(*state, "POST", "/v1/gone", "", "Bearer good", &r), CURLE_OK);
	assert_int_equal(r.status, 204);
	assert_int_equal(req(*state, "POST", "/v1/gone", "{}", "Bearer good", &r), CURLE_OK);
	assert_int_equal(r.status, 204);
	assert_int_equal(req(*state, "POST", "/v1/gone", " { } ", "Bearer good", &r), CURLE_OK);
	assert_int_equal(r.status, 204);
	assert_int_equal(atomic_load(&gone_calls), 3);
}

/*
 * A large body on a route that needs a session is answered 401 from the
 * headers, before a byte of it is read: the client declares 512 KiB and
 * sends none of it, and still gets its answer (and the connection closed).
 */
static void
test_unauthenticated_large_body(void **state)
{
	char buf[4096];
	bool closed;

	raw_exchange(*state, "POST /v1/private HTTP/1.1\r\nHost: localhost\r\n"
	    "Content-Type: application/json\r\nContent-Length: 524288\r\n\r\n{\"name\":",
	    buf, sizeof(buf), &closed);
	assert_memory_equal(buf, "HTTP/1.1 401", 12);
	assert_non_null(strstr(buf, "\"unauthenticated\""));
	assert_true(closed);
}

/*
 * A declared Content-Length over the limit is answered from the headers with
 * the JSON error model (not libmicrohttpd's HTML page), on POST and PUT,
 * without waiting for a byte of the body, and the connection is closed.
 */
static void
test_declared_too_large_is_json(void **state)
{
	const char *const methods[] = { "POST", "PUT" };
	char text[256], buf[4096];
	bool closed;
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(text, sizeof(text), "%s /v1/echo HTTP/1.1\r\nHost: localhost\r\n"
		    "Content-Type: application/json\r\nContent-Length: 99999999\r\n\r\n", methods[i]);
		raw_exchange(*state, text, buf, sizeof(buf), &closed);
		assert_memory_equal(buf, "HTTP/1.1 413", 12);
		assert_non_null(strstr(buf, "\r\n\r\n{\"error\":{\"code\":\"payload_too_large\","));
		assert_null(strstr(buf, "<html>"));
		assert_true(closed);
	}
}

/* ---- connection limits ---- */

static int
tcp_connect(unsigned port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Poll the server's connection count (5 ms steps, bounded). */
static bool
wait_connections(struct http_server *srv, unsigned want)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int i;

	for (i = 0; i < 2000; i++) {
		if (atomic_load(&srv->connections) == want)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* One address holds at most max_connections_per_ip; others still get in. */
static void
test_per_ip_limit(void **state)
{
	struct http_server *srv;
	struct resp r;
	int fds[4];
	size_t i;

	(void)state;
	server_per_ip = 4;
	srv = start_server("1.2");
	for (i = 0; i < 4; i++)
		fds[i] = tcp_connect(http_server_port(srv));
	assert_true(wait_connections(srv, 4));
	assert_int_equal(atomic_load(&srv->handshaking), 4);
	/* a fifth connection from 127.0.0.1 is refused at once */
	assert_int_not_equal(req(srv, "GET", "/v1/sys/health", NULL, NULL, &r), CURLE_OK);
	resp_free(&r);
	close(fds[0]);
	assert_true(wait_connections(srv, 3));
	assert_int_equal(req(srv, "GET", "/v1/sys/health", NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	for (i = 1; i < 4; i++)
		close(fds[i]);
	assert_true(wait_connections(srv, 0));
	http_server_free(srv);
	server_per_ip = 0;
}

/*
 * An idle connection that never completes its TLS handshake is closed after
 * handshake_timeout_s (1 s here), not the 30 s idle timeout; once its first
 * request is in, a connection gets the normal timeout.
 */
static void
test_handshake_timeout(void **state)
{
	struct http_server *srv;
	struct resp r;
	CURL *h;
	char c;
	int fd;

	(void)state;
	server_handshake_s = 1;
	srv = start_server("1.2");
	fd = tcp_connect(http_server_port(srv));
	/* the server closes it (perhaps after a TLS alert): read reaches 0 or a
	 * reset well before the 30 s idle timeout; wait_fd gives up after 10 s */
	for (;;) {
		assert_true(wait_fd(fd, POLLIN));
		if (read(fd, &c, 1) <= 0)
			break;
	}
	close(fd);

	h = curl_easy_init();
	assert_int_equal(perform(h, srv, "GET", "/v1/timeout", NULL, 0, NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "timeout_s")),
	    HTTP_DEFAULT_TIMEOUT_S);
	resp_free(&r);
	curl_easy_cleanup(h);
	http_server_free(srv);
	server_handshake_s = 0;
}

/* ---- the global limit: eviction of handshaking connections ---- */

/* A TCP connection from 127.0.0.<octet> (all of 127/8 is loopback), nothing sent. */
static int
tcp_connect_from(unsigned port, unsigned octet)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK + octet - 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Poll a counter of the server (5 ms steps, bounded). */
static bool
wait_counter(atomic_uint *v, unsigned want)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int i;

	for (i = 0; i < 2000; i++) {
		if (atomic_load(v) == want)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/*
 * Wait (bounded) until the server has taken in want_seen connections since
 * start (open ones plus evicted ones) and every eviction is done: the evicted
 * connections are closed and MHD's own count agrees with ours (MHD frees a
 * slot just after it tells us a connection closed). Connections closed for
 * other reasons must not happen meanwhile.
 */
static bool
wait_settled(struct http_server *srv, unsigned want_seen)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	const union MHD_DaemonInfo *di;
	unsigned open;
	int i;

	for (i = 0; i < 5000; i++) {
		di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		open = atomic_load(&srv->connections);
		if (http_server_evicting(srv) == 0 && di != NULL && di->num_connections == open &&
		    open + atomic_load(&srv->evicted) == want_seen)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Connect idle sockets from 127.0.0.<first> on, one at a time, each taken in
 * (and whatever it evicted closed) before the next. Without eviction, MHD
 * refuses the one that finds the server full and this fails. */
static void
idle_flood(struct http_server *srv, int *fds, unsigned n, unsigned first, unsigned *seen)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		fds[i] = tcp_connect_from(http_server_port(srv), first + i);
		++*seen;
		assert_true(wait_settled(srv, *seen));
	}
}

/* The server closed this socket: EOF or a reset (wait_fd gives up after 10 s). */
static bool
closed_by_server(int fd)
{
	char c;

	for (;;) {
		if (!wait_fd(fd, POLLIN))
			return false;
		if (read(fd, &c, 1) <= 0)
			return true;
	}
}

#define EVICT_MAX 8   /* global limit in these tests; 2 slots are kept free */

/*
 * Idle sockets from many addresses (none over the per-IP limit) fill the
 * global limit: a new connection evicts the oldest one still handshaking,
 * oldest first, so a client that completes its handshake is served. Twice,
 * as an attacker reconnecting would.
 */
static void
test_evicts_handshaking(void **state)
{
	struct http_server *srv;
	struct resp r;
	int fds[2][EVICT_MAX];
	unsigned i, round, seen = 0;

	(void)state;
	server_max_conn = EVICT_MAX;
	srv = start_server("1.2");
	for (round = 0; round < 2; round++) {
		/* without eviction the server is full after these */
		idle_flood(srv, fds[round], EVICT_MAX, 2 + round * 10, &seen);
		assert_int_equal(req(srv, "GET", "/v1/sys/health", NULL, NULL, &r), CURLE_OK);
		assert_int_equal(r.status, 200);
		resp_free(&r);
		/* curl's connection closes on its own: open + evicted is unchanged */
	}
	/* the first ones to go were the oldest */
	assert_true(closed_by_server(fds[0][0]));
	assert_true(closed_by_server(fds[0][1]));
	assert_true(atomic_load(&srv->evicted) >= 2 * 2);
	for (round = 0; round < 2; round++)
		for (i = 0; i < EVICT_MAX; i++)
			close(fds[round][i]);
	assert_true(wait_counter(&srv->connections, 0));
	http_server_free(srv);
	server_max_conn = 0;
}

/*
 * A connection that has sent its first request's headers is never evicted:
 * an authenticated keep-alive connection between requests, and one whose
 * request is in flight (headers in, half the body sent), both survive a
 * flood of idle sockets that evicts the handshaking ones, and a new client
 * still gets in.
 */
static void
test_eviction_spares_requests(void **state)
{
	struct http_server *srv;
	struct resp r;
	CURL *kept, *mid;
	char buf[4096];
	bool closed;
	int fds[EVICT_MAX];
	unsigned i, seen;

	(void)state;
	server_max_conn = EVICT_MAX;
	srv = start_server("1.2");
	kept = curl_easy_init();
	assert_non_null(kept);
	assert_int_equal(perform(kept, srv, "GET", "/v1/secret/allowed", NULL, 0, "Bearer good",
	    NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	mid = raw_open(srv);
	raw_send(mid, "POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\"");
	/* both past their first request's headers */
	assert_true(wait_counter(&srv->handshaking, 0));
	assert_true(wait_counter(&srv->connections, 2));

	seen = 2;
	idle_flood(srv, fds, EVICT_MAX, 2, &seen);
	assert_true(atomic_load(&srv->evicted) >= 1);

	/* the request in flight completes */
	raw_send(mid, ":\"ada\"}");
	raw_read_all(mid, buf, sizeof(buf), &closed);
	assert_memory_equal(buf, "HTTP/1.1 201", 12);
	assert_non_null(strstr(buf, "{\"hello\":\"ada\"}"));
	curl_easy_cleanup(mid);
	/* the kept-alive connection is still there: reused, no new connect */
	assert_int_equal(perform(kept, srv, "GET", "/v1/secret/allowed", NULL, 0, "Bearer good",
	    NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.connects, 0);
	resp_free(&r);
	/* and a new client is served */
	assert_int_equal(req(srv, "GET", "/v1/sys/health", NULL, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	resp_free(&r);

	curl_easy_cleanup(kept);
	for (i = 0; i < EVICT_MAX; i++)
		close(fds[i]);
	assert_true(wait_counter(&srv->connections, 0));
	http_server_free(srv);
	server_max_conn = 0;
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
		cmocka_unit_test_setup_teardown(test_smuggling_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_body_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthenticated_large_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declared_too_large_is_json, setup, teardown),
		cmocka_unit_test(test_per_ip_limit),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_evicts_handshaking),
		cmocka_unit_test(test_eviction_spares_requests),
		/* thread per connection: the same behaviour (these leave it selected) */
		cmocka_unit_test_setup_teardown(test_success_and_headers, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_payload_too_large, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_stop, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_smuggling_refused, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_no_body_route, setup_per_connection, teardown),
		cmocka_unit_test_setup_teardown(test_unauthenticated_large_body, setup_per_connection,
		    teardown),
		cmocka_unit_test(test_per_ip_limit),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_evicts_handshaking),
		cmocka_unit_test(test_eviction_spares_requests),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
