/*
 * Foundation, end to end on the real binary: init, health, TLS policy, the
 * JSON error model with no state change, Shamir unseal, insecure-config
 * refusal, graceful SIGTERM, offline audit verify and tamper detection.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static int
file_mode(const char *dir, const char *name)
{
	char p[1024];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &sb) != 0)
		return -1;
	return (int)(sb.st_mode & 0777);
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Handshake with a TLS version range / cipher list; returns the HTTP status or 0. */
static long
tls_probe(struct h_server *s, long sslversion, const char *ciphers, const char *tls13_ciphers)
{
	char url[128];
	long status = 0;
	CURL *c = curl_easy_init();
	CURLcode cc;

	snprintf(url, sizeof(url), "%s/v1/sys/health", s->base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, sslversion);
	if (ciphers)
		curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, ciphers);
	if (tls13_ciphers)
		curl_easy_setopt(c, CURLOPT_TLS13_CIPHERS, tls13_ciphers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static long
audit_entries(struct h_server *s)
{
	char cmd[1024], *out = NULL, *p;
	long n = 0;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	for (p = out; *p; p++)
		if (*p == '\n')
			n++;
	free(out);
	return n;
}

static void
test_init_layout(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	CHECK(strcmp(json_string_value(json_object_get(s->init, "admin_username")), "admin") == 0);
	CHECK(strlen(json_string_value(json_object_get(s->init, "admin_password"))) >= 16);
	CHECK(json_array_size(json_object_get(s->init, "unseal_shares")) == 0);
	CHECK(file_mode(s->dir, "") == 0700);
	CHECK(file_mode(s->dir, "phivault.conf") == 0600);
	CHECK(file_mode(s->dir, "phivault.db") == 0600);
	CHECK(file_mode(s->dir, "unseal.key") == 0600);
	CHECK(file_mode(s->dir, "tls/key.pem") == 0600);
	CHECK(file_mode(s->dir, "tls/cert.pem") >= 0);
	/* certificate: ECDSA P-256 with SAN localhost and 127.0.0.1 */
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text", s->cacert);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "prime256v1") != NULL || strstr(out, "P-256") != NULL);
	CHECK(strstr(out, "DNS:localhost") != NULL);
	CHECK(strstr(out, "IP Address:127.0.0.1") != NULL);
	free(out);
	/* a second init refuses to overwrite */
	snprintf(cmd, sizeof(cmd), "%s init --data %s 2>&1", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "already initialised") != NULL);
	free(out);
	/* usage errors exit 2 */
	snprintf(cmd, sizeof(cmd), "%s init --seal shamir:5/3 --data %s/x 2>/dev/null", h_bin(), s->dir);
	CHECK(h_run(cmd, NULL) == 2);
	snprintf(cmd, sizeof(cmd), "%s frobnicate 2>/dev/null", h_bin());
	CHECK(h_run(cmd, NULL) == 2);
}

static void
test_health_and_headers(struct h_server *s)
{
	struct h_resp r;

	h_req(s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "status")), "ok") == 0);
	CHECK(json_is_false(json_object_get(r.json, "sealed")));
	CHECK(json_string_value(json_object_get(r.json, "version")) != NULL);
	CHECK(json_string_value(json_object_get(r.json, "node")) != NULL);
	CHECK(h_has_header(&r, "Cache-Control: no-store"));
	CHECK(h_has_header(&r, "Strict-Transport-Security: max-age="));
	CHECK(h_has_header(&r, "Content-Type: application/json"));
	h_resp_free(&r);
}

static void
test_tls_policy(struct h_server *s)
{
	CHECK(tls_probe(s, CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_0, NULL, NULL) == 0);
	CHECK(tls_probe(s, CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1, NULL, NULL) == 0);
	/* TLS 1.2 with CBC-only or non-ECDHE suites: refused */
	CHECK(tls_probe(s, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384", NULL) == 0);
	CHECK(tls_probe(s, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "AES256-GCM-SHA384:AES128-GCM-SHA256", NULL) == 0);
	/* TLS 1.2 ECDHE + AEAD, and TLS 1.3: accepted */
	CHECK(tls_probe(s, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
	    "ECDHE-ECDSA-AES256-GCM-SHA384", NULL) == 200);
	CHECK(tls_probe(s, CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3, NULL,
	    "TLS_AES_256_GCM_SHA384") == 200);
}

static void
test_bad_input(struct h_server *s)
{
	struct h_resp r;
	long before = audit_entries(s), after;
	size_t big = 2u << 20;
	char *huge = malloc(big + 1);

	h_req(s, "POST", "/v1/sys/unseal", NULL, "{\"share\": ", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_json") == 0);
	CHECK(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")) != NULL);
	CHECK(h_has_header(&r, "Cache-Control: no-store"));
	CHECK(h_has_header(&r, "Strict-Transport-Security"));
	h_resp_free(&r);

	h_req(s, "POST", "/v1/sys/unseal", NULL, "[1,2,3]", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_json") == 0);
	h_resp_free(&r);

	h_req(s, "POST", "/v1/sys/unseal", NULL, "{\"share\": 42}", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);

	memset(huge, 'a', big);
	huge[0] = '"';
	huge[big - 1] = '"';
	huge[big] = '\0';
	h_req(s, "POST", "/v1/sys/unseal", NULL, huge, NULL, &r);
	CHECK_STATUS(&r, 413);
	CHECK(strcmp(h_err_code(&r), "payload_too_large") == 0);
	h_resp_free(&r);
	free(huge);

	h_req(s, "GET", "/v1/nothing/here", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	h_resp_free(&r);

	h_req(s, "DELETE", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 405);
	h_resp_free(&r);

	/* a key-file vault does not take shares */
	h_req(s, "POST", "/v1/sys/unseal", NULL, "{\"share\":\"pvs1:00\"}", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);

	/* the server is still healthy and nothing was written by the rejected requests */
	h_req(s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	after = audit_entries(s);
	CHECK(after == before);
}

static void
test_verify_and_tamper(struct h_server *s)
{
	char cmd[2048], copy[600], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "intact") != NULL);
	free(out);

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"sys.init\"") != NULL);
	CHECK(strstr(out, "\"sys.start\"") != NULL);
	CHECK(strstr(out, "\"sys.stop\"") != NULL);
	free(out);

	/* edit one entry in a copy: verify names its seq */
	snprintf(copy, sizeof(copy), "%s-tampered", s->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s && sqlite3 %s/phivault.db "
	    "\"UPDATE audit SET reason='edited' WHERE seq=2\"", copy, s->dir, copy, copy);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), copy);
	CHECK(h_run(cmd, &out) == 1);
	CHECK(strstr(out, "seq 2") != NULL);
	free(out);

	/* delete one entry */
	snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s && sqlite3 %s/phivault.db "
	    "\"DELETE FROM audit WHERE seq=3\"", copy, s->dir, copy, copy);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), copy);
	CHECK(h_run(cmd, &out) == 1);
	CHECK(strstr(out, "seq 3") != NULL);
	free(out);

	/* the original is untouched */
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s->dir);
	CHECK(h_run(cmd, NULL) == 0);
}

static void
test_shamir(void)
{
	struct h_server s;
	struct h_resp r;
	json_t *shares;
	char body[512], cmd[2048], *out = NULL;
	const char *s0, *s1;

	h_init(&s, "shamir", "--seal shamir:2/3");
	shares = json_object_get(s.init, "unseal_shares");
	CHECK(json_array_size(shares) == 3);
	CHECK(file_mode(s.dir, "unseal.key") == -1);
	s0 = json_string_value(json_array_get(shares, 0));
	s1 = json_string_value(json_array_get(shares, 2));
	h_start(&s, NULL);

	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 503);
	CHECK(json_is_true(json_object_get(r.json, "sealed")));
	h_resp_free(&r);

	h_req(&s, "POST", "/v1/sys/unseal", NULL, "{\"share\":\"pvs1:zz\"}", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_share") == 0);
	h_resp_free(&r);

	snprintf(body, sizeof(body), "{\"share\":\"%s\"}", s0);
	h_req(&s, "POST", "/v1/sys/unseal", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "sealed")));
	CHECK(json_integer_value(json_object_get(r.json, "progress")) == 1);
	CHECK(json_integer_value(json_object_get(r.json, "threshold")) == 2);
	h_resp_free(&r);

	/* the same share again does not count twice (accepted again: idempotent) */
	h_req(&s, "POST", "/v1/sys/unseal", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "progress")) == 1);
	h_resp_free(&r);

	/* the second share through the CLI, from stdin */
	snprintf(cmd, sizeof(cmd), "echo '%s' | %s unseal --addr %s --cacert %s", s1, h_bin(),
	    s.base, s.cacert);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "unsealed") != NULL);
	free(out);

	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "sealed")));
	h_resp_free(&r);
	CHECK(h_stop(&s) == 0);

	/* restart: sealed again, shares never stored */
	snprintf(cmd, sizeof(cmd), "grep -rqa '%s' %s", s0 + 5, s.dir);
	CHECK(h_run(cmd, NULL) != 0);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	json_decref(s.init);
}

static void
test_insecure_config(void)
{
	struct h_server s;
	char cmd[1024], *out = NULL;

	h_init(&s, "insecure", NULL);
	h_config_set(&s, "min_version", "1.0");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	CHECK(h_start_expect_exit(&s, "--dev") == 3);   /* dev relaxes nothing about TLS */
	snprintf(cmd, sizeof(cmd), "cat %s", s.log);
	h_run(cmd, &out);
	CHECK(strstr(out, "tls.min_version") != NULL);
	free(out);
	json_decref(s.init);

	h_init(&s, "insecure2", NULL);
	h_config_set(&s, "mfa_required", "off");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	snprintf(cmd, sizeof(cmd), "cat %s", s.log);
	h_run(cmd, &out);
	CHECK(strstr(out, "mfa_required") != NULL);
	free(out);
	h_start(&s, "--dev");   /* allowed in dev mode */
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);

	h_init(&s, "typo", NULL);
	h_config_append(&s, "\n[session]\nidle_timeout = 5\n");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	snprintf(cmd, sizeof(cmd), "cat %s", s.log);
	h_run(cmd, &out);
	CHECK(strstr(out, "idle_timeout") != NULL);   /* the unknown key is named */
	free(out);
	json_decref(s.init);
}

int
main(void)
{
	struct h_server s;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_init(&s, "foundation", NULL);
	test_init_layout(&s);
	h_start(&s, NULL);
	test_health_and_headers(&s);
	test_tls_policy(&s);
	test_bad_input(&s);
	CHECK(h_stop(&s) == 0);     /* graceful SIGTERM: exit 0 */
	test_verify_and_tamper(&s);
	json_decref(s.init);

	test_shamir();
	test_insecure_config();
	h_done("test_foundation");
	return 0;
}
