/*
 * routes_oidc: /v1/auth/oidc/... (docs/identity.md "Sign in with your
 * identity provider", docs/openapi.yaml), adapters over the operations of
 * oidc.c: parse, call one operation, reply.
 *
 *   GET  /v1/auth/oidc                     public  {"enabled"}
 *   GET  /v1/auth/oidc/start               public  302 to the IdP
 *        [?cli_redirect=http://127.0.0.1:PORT/..&cli_challenge=S256(verifier)]
 *   GET  /v1/auth/oidc/callback            public  ?code&state (or ?error) -> 302
 *   POST /v1/auth/oidc/exchange            public  {code, code_verifier?, cookie?} -> session
 *   POST /v1/auth/oidc/backchannel-logout  public  form: logout_token -> 200 {} / 400
 *
 * The callback, the exchange and the back-channel logout return PV_PENDING
 * and reply from their operation's completion (oidc.c, in steps).
 *
 * A console flow (no cli_redirect) sets the pv_oidc cookie (HttpOnly;
 * Secure; SameSite=Lax, so the IdP's top-level redirect back carries it;
 * Path=/v1/auth/oidc; 10 minutes): the callback must come from the browser
 * that started. The callback clears it.
 */
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"

#define BIND_TTL_S 600

static struct authn_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

static enum pv_rc
answer(struct http_request *req, enum pv_rc rc, const struct authn_result *res)
{
	if (res->retry_after_s > 0)
		req->retry_after_s = res->retry_after_s;
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* 302 Found with Location, and the URL in the body for API clients. */
static enum pv_rc
redirect(struct http_request *req, char *url)
{
	enum pv_rc rc = http_set_header(req, "Location", url);

	if (rc == PV_OK)
		rc = http_reply(req, 302, json_pack("{s:s}", "redirect", url));
	free(url);
	return rc;
}

/* The value of the pv_oidc cookie (arena), NULL if none. */
static const char *
bind_cookie(struct http_request *req)
{
	const char *c = http_header(req, "Cookie"), *p, *end;
	size_t n = strlen(AUTHN_OIDC_BIND_COOKIE);
	char *v;

	for (p = c; p != NULL && *p != '\0'; p = end) {
		while (*p == ' ' || *p == ';')
			p++;
		end = p + strcspn(p, ";");
		if ((size_t)(end - p) > n && strncmp(p, AUTHN_OIDC_BIND_COOKIE, n) == 0 &&
		    p[n] == '=') {
			size_t len = (size_t)(end - p) - n - 1;

			if (len == 0 || len > 128 || (v = arena_alloc(req->arena, len + 1)) == NULL)
				return NULL;
			memcpy(v, p + n + 1, len);
			v[len] = '\0';
			return v;
		}
	}
	return NULL;
}

static enum pv_rc
h_info(struct http_request *req)
{
	return http_reply(req, 200, json_pack("{s:b}", "enabled",
	    authn_oidc_enabled(svc_of(req))));
}

static enum pv_rc
h_start(struct http_request *req)
{
	struct authn_result res;
	char bind[64], *url = NULL;
	enum pv_rc rc;

	rc = authn_oidc_begin(svc_of(req), req->source, http_query(req, "cli_redirect"),
	    http_query(req, "cli_challenge"), bind, &url, &res);
	if (rc != PV_OK)
		return answer(req, rc, &res);
	if (bind[0] != '\0' && (rc = http_set_header(req, "Set-Cookie", arena_printf(req->arena,
	    AUTHN_OIDC_BIND_COOKIE "=%s; HttpOnly; Secure; SameSite=Lax; Path=/v1/auth/oidc; "
	    "Max-Age=%d", bind, BIND_TTL_S))) != PV_OK) {
		free(url);
		return rc;
	}
	return redirect(req, url);
}

/* A pending route's completion (pending.c): reply, then resume the
 * suspended connection. */
struct oidc_reply {
	struct http_request *req;
	bool cookie;                     /* exchange: the console's session cookie */
	bool redirect;                   /* callback: out {"redirect"} is a 302 */
};

static void
replied(enum pv_rc rc, json_t *out, const struct authn_result *res, void *arg)
{
	struct oidc_reply *pr = arg;
	struct http_request *req = pr->req;
	const char *url;

	if (rc != PV_OK) {
		json_decref(out);
		rc = answer(req, rc, res);
	} else if (pr->redirect) {
		url = json_string_value(json_object_get(out, "redirect"));
		rc = url != NULL ? redirect(req, strdup(url)) : PV_E_NOMEM;
		json_decref(out);
	} else if (pr->cookie && (rc = authn_cookie_issue(req, out)) != PV_OK) {
		json_decref(out);
	} else {
		rc = http_reply(req, 200, out);
	}
	http_resume(req, rc);
}

static struct oidc_reply *
pending(struct http_request *req, bool cookie, bool redir)
{
	struct oidc_reply *pr = arena_alloc(req->arena, sizeof(*pr));

	if (pr != NULL) {
		pr->req = req;
		pr->cookie = cookie;
		pr->redirect = redir;
	}
	return pr;
}

static enum pv_rc
h_callback(struct http_request *req)
{
	struct oidc_reply *pr;

	(void)http_set_header(req, "Set-Cookie", AUTHN_OIDC_BIND_COOKIE "=; HttpOnly; Secure; "
	    "SameSite=Lax; Path=/v1/auth/oidc; Max-Age=0");
	if ((pr = pending(req, false, true)) == NULL)
		return PV_E_NOMEM;
	authn_oidc_callback_async(svc_of(req), req->source, http_query(req, "code"),
	    http_query(req, "state"), http_query(req, "error"), bind_cookie(req), replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_exchange(struct http_request *req)
{
	static const char *const keys[] = { "code", "code_verifier", "cookie", NULL };
	const char *code, *verifier = NULL;
	bool cookie = false;
	struct oidc_reply *pr;
	enum pv_rc rc;

	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "code", true, 128, &code)) != PV_OK ||
	    (rc = http_body_string(req, "code_verifier", false, 128, &verifier)) != PV_OK ||
	    (rc = authn_cookie_wanted(req, &cookie)) != PV_OK)
		return rc;
	if ((pr = pending(req, cookie, false)) == NULL)
		return PV_E_NOMEM;
	authn_oidc_exchange_async(svc_of(req), req->source, code, verifier, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_backchannel_logout(struct http_request *req)
{
	struct oidc_reply *pr;
	const char *tok = NULL;
	enum pv_rc rc;

	rc = http_form_value(req, "logout_token", AUTHN_JWT_MAX, &tok);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_INVALID, "logout_token is required");
	if (rc != PV_OK)
		return http_fail(req, PV_E_INVALID, "The form body is malformed");
	if ((pr = pending(req, false, false)) == NULL)
		return PV_E_NOMEM;
	authn_oidc_backchannel_logout_async(svc_of(req), req->source, tok, replied, pr);
	return PV_PENDING;
}

enum pv_rc
authn_route_oidc(struct authn_service *s, struct http_server *srv)
{
	const struct http_route r[] = {
		{ "GET", "/v1/auth/oidc", h_info, HTTP_PERM_PUBLIC, NULL, 0, 0, s },
		{ "GET", "/v1/auth/oidc/start", h_start, HTTP_PERM_PUBLIC, "auth.oidc.login", 0, 0,
		    s },
		{ "GET", "/v1/auth/oidc/callback", h_callback, HTTP_PERM_PUBLIC, "auth.oidc.login",
		    0, 0, s },
		{ "POST", "/v1/auth/oidc/exchange", h_exchange, HTTP_PERM_PUBLIC, "auth.login",
		    HTTP_ROUTE_BODY, 4096, s },
		{ "POST", "/v1/auth/oidc/backchannel-logout", h_backchannel_logout,
		    HTTP_PERM_PUBLIC, "auth.oidc.logout", HTTP_ROUTE_FORM, 65536, s },
	};

	return http_routes_add(srv, r, sizeof(r) / sizeof(r[0]));
}
