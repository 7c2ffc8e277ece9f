/*
 * client: HTTPS calls for the online commands (unseal, user, login), over
 * libcurl. Certificates are always verified: against --cacert /
 * PHIVAULT_CACERT when given, else the system store. TLS 1.2 minimum.
 * A certificate the CA does not vouch for (a self-signed dev certificate
 * checked against the system store, say) is reported with the fix: set
 * PHIVAULT_CACERT (or --cacert) to the data directory's tls/cert.pem.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define CLIENT_MAX_RESPONSE (8u << 20)

struct buf {
	char *p;
	size_t len;
	bool toobig;
};

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	char *np;

	if (b->len + n > CLIENT_MAX_RESPONSE) {
		b->toobig = true;
		return 0;
	}
	np = realloc(b->p, b->len + n + 1);
	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static enum pv_rc
http_do(const char *base, const char *cacert, const char *cert, const char *key,
    const char *token, const char *method, const char *path, const char *header, json_t *body,
    long *status, json_t **resp, char **raw);

enum pv_rc
cli_http(const char *base, const char *cacert, const char *token, const char *method,
    const char *path, json_t *body, long *status, json_t **resp)
{
	return http_do(base, cacert, NULL, NULL, token, method, path, NULL, body, status, resp,
	    NULL);
}

/* cli_http with one more request header line ("If-Match: 3"), NULL for none. */
enum pv_rc
cli_http_hdr(const char *base, const char *cacert, const char *token, const char *method,
    const char *path, const char *header, json_t *body, long *status, json_t **resp)
{
	return http_do(base, cacert, NULL, NULL, token, method, path, header, body, status, resp,
	    NULL);
}

enum pv_rc
cli_http_text(const char *base, const char *cacert, const char *token, const char *path,
    long *status, json_t **resp, char **text)
{
	return http_do(base, cacert, NULL, NULL, token, "GET", path, NULL, NULL, status, resp,
	    text);
}

enum pv_rc
cli_http_client_cert(const char *base, const char *cacert, const char *cert, const char *key,
    const char *method, const char *path, json_t *body, long *status, json_t **resp)
{
	if (cert == NULL || key == NULL)
		return PV_E_INVALID;
	return http_do(base, cacert, cert, key, NULL, method, path, NULL, body, status, resp,
	    NULL);
}

static enum pv_rc
http_do(const char *base, const char *cacert, const char *cert, const char *key,
    const char *token, const char *method, const char *path, const char *header, json_t *body,
    long *status, json_t **resp, char **raw)
{
	struct curl_slist *hdrs = NULL;
	struct buf b = { 0 };
	char url[2048], auth[512];
	char *txt = NULL;
	CURL *c;
	CURLcode cc;
	enum pv_rc rc = PV_E_IO;

	if (snprintf(url, sizeof(url), "%s%s", base, path) >= (int)sizeof(url))
		return PV_E_INVALID;
	if ((c = curl_easy_init()) == NULL)
		return PV_E_NOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	if (cacert != NULL && *cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	if (cert != NULL) {
		/* mutual TLS (an app's certificate from phivault's CA), PEM files */
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (header != NULL)
		hdrs = curl_slist_append(hdrs, header);
	if (body != NULL) {
		txt = json_dumps(body, JSON_COMPACT);
		if (txt == NULL)
			goto out;
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, txt);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(c);
	if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT) {
		cli_err("TLS: the server's certificate is not trusted; "
		    "set PHIVAULT_CACERT=DIR/tls/cert.pem (or --cacert)");
		goto out;
	}
	if (cc == CURLE_SSL_CACERT_BADFILE) {
		cli_err("TLS: cannot read the CA certificate '%s'; "
		    "set PHIVAULT_CACERT=DIR/tls/cert.pem (or --cacert)", cacert ? cacert : "");
		goto out;
	}
	if (cert != NULL && (cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CIPHER)) {
		cli_err("TLS: cannot use the client certificate %s with the key %s: %s", cert, key,
		    curl_easy_strerror(cc));
		goto out;
	}
	if (cc != CURLE_OK) {
		cli_err("cannot reach %s: %s", base, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*resp = b.len ? json_loadb(b.p, b.len, 0, NULL) : NULL;
	if (raw != NULL) {
		/* the exact bytes too (CSV, FHIR JSON): the caller wipes and frees them */
		*raw = b.p != NULL ? b.p : strdup("");
		b.p = NULL;
	}
	rc = PV_OK;
out:
	if (txt != NULL) {
		crypto_wipe(txt, strlen(txt));
		free(txt);
	}
	if (b.p != NULL) {
		crypto_wipe(b.p, b.len);
		free(b.p);
	}
	crypto_wipe(auth, sizeof(auth));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

int
cli_api_error(long status, json_t *resp)
{
	const char *code = NULL, *msg = NULL;

	json_unpack(resp, "{s:{s?s, s?s}}", "error", "code", &code, "message", &msg);
	cli_err("server answered %ld %s: %s", status, code ? code : "error",
	    msg ? msg : "(no message)");
	return CLI_RUNTIME;
}
