/*
 * cookie: the console's session cookie and its CSRF token (docs/console.md,
 * docs/internals/console.md).
 *
 * The console signs in with {"cookie": true} on POST /v1/auth/login or
 * /v1/auth/mfa: the session token then travels only in
 *   Set-Cookie: pv_session=<token>; HttpOnly; Secure; SameSite=Strict; Path=/
 * and the response carries csrf_token instead of token. The CSRF token is
 * HMAC-SHA256(AUTHN_CSRF_KEY, session token) in hex: it names the session
 * without revealing it, needs no state, and ends with the session.
 * authn_authenticate accepts the cookie when no Authorization header is
 * sent; on POST/PUT/PATCH/DELETE only together with a matching
 * X-CSRF-Token header (else 403 csrf, audited with reason "csrf").
 */
#include <string.h>
#include <strings.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

#define AUTHN_CSRF_KEY "phivault console csrf v1"

const char *
authn_cookie_session(struct http_request *req)
{
	const char *c = http_header(req, "Cookie"), *p, *end;
	size_t n = strlen(AUTHN_COOKIE_NAME);
	char *tok;

	if (c == NULL)
		return NULL;
	for (p = c; *p != '\0'; p = end) {
		while (*p == ' ' || *p == ';')
			p++;
		end = p + strcspn(p, ";");
		if ((size_t)(end - p) > n && strncmp(p, AUTHN_COOKIE_NAME, n) == 0 && p[n] == '=') {
			size_t len = (size_t)(end - p) - n - 1;

			if (len == 0 || len >= AUTHN_TOKEN_MAX)
				return NULL;
			if ((tok = arena_alloc(req->arena, len + 1)) == NULL)
				return NULL;
			memcpy(tok, p + n + 1, len);
			tok[len] = '\0';
			return tok;
		}
	}
	return NULL;
}

enum pv_rc
authn_csrf_token(const char *session_token, char out[AUTHN_CSRF_HEX_MAX])
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	enum pv_rc rc;

	rc = crypto_hmac_sha256((const uint8_t *)AUTHN_CSRF_KEY, strlen(AUTHN_CSRF_KEY),
	    (const uint8_t *)session_token, strlen(session_token), mac);
	if (rc == PV_OK)
		util_hex_encode(mac, sizeof(mac), out);
	crypto_wipe(mac, sizeof(mac));
	return rc;
}

bool
authn_method_changes(const char *method)
{
	return strcasecmp(method, "GET") != 0 && strcasecmp(method, "HEAD") != 0 &&
	    strcasecmp(method, "OPTIONS") != 0;
}

bool
authn_csrf_ok(struct http_request *req, const char *session_token)
{
	const char *h = http_header(req, "X-CSRF-Token");
	char want[AUTHN_CSRF_HEX_MAX];
	bool ok;

	if (h == NULL || strlen(h) != AUTHN_CSRF_HEX_MAX - 1)
		return false;
	if (authn_csrf_token(session_token, want) != PV_OK)
		return false;
	ok = crypto_memeq(h, want, AUTHN_CSRF_HEX_MAX - 1);
	crypto_wipe(want, sizeof(want));
	return ok;
}

enum pv_rc
authn_cookie_issue(struct http_request *req, json_t *out)
{
	const char *t = json_string_value(json_object_get(out, "token"));
	char csrf[AUTHN_CSRF_HEX_MAX];
	const char *v;
	enum pv_rc rc;

	if (t == NULL)
		return PV_OK;   /* an MFA challenge: no session yet */
	if ((v = arena_printf(req->arena, AUTHN_COOKIE_NAME "=%s; HttpOnly; Secure; "
	    "SameSite=Strict; Path=/", t)) == NULL)
		return PV_E_NOMEM;
	if ((rc = authn_csrf_token(t, csrf)) != PV_OK ||
	    (rc = http_set_header(req, "Set-Cookie", v)) != PV_OK)
		return rc;
	json_object_del(out, "token");
	rc = json_object_set_new(out, "csrf_token", json_string(csrf)) == 0 ? PV_OK : PV_E_NOMEM;
	crypto_wipe(csrf, sizeof(csrf));
	return rc;
}

enum pv_rc
authn_cookie_clear(struct http_request *req)
{
	return http_set_header(req, "Set-Cookie", AUTHN_COOKIE_NAME "=; HttpOnly; Secure; "
	    "SameSite=Strict; Path=/; Max-Age=0");
}
