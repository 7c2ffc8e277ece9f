/*
 * routes_auth: /v1/auth/... (API.md "Authentication"), adapters over the
 * operations of login.c (authn.h "Operations").
 *
 *   POST /v1/auth/login         public   password step; MFA challenge or session
 *   POST /v1/auth/mfa           public   second step: TOTP or recovery code
 *   POST /v1/auth/password      session (restricted ok)  change own password
 *   POST /v1/auth/mfa/enroll    session (restricted ok)  new TOTP secret (pending)
 *   POST /v1/auth/mfa/confirm   session (restricted ok)  first code -> enabled + recovery codes
 *   GET  /v1/auth/session       session (restricted ok)
 *   POST /v1/auth/logout        session (restricted ok)
 *   POST /v1/auth/step-up       session  the same session passes MFA again (RFC 9470):
 *                                        {"code"} or {"webauthn": assertion}
 *   GET  /v1/auth/policy        public   session limits (the console's idle timer)
 *
 * login and mfa take an optional "cookie": true (the console, cookie.c):
 * the session then goes into an HttpOnly cookie and the answer carries
 * csrf_token instead of token. logout clears that cookie.
 *
 * Each handler takes the body's strings, calls the operation with the
 * request's source (and principal), and replies: the operation's JSON, or
 * its rc with its message and, for locked / rate-limited, Retry-After.
 * The throttle, lockout, verification, audit and the store are the
 * operations' (login.c).
 */
#include <string.h>

#include "authn/authn_int.h"

static struct authn_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

/* The response of an operation: its body, or its failure. */
static enum pv_rc
answer(struct http_request *req, enum pv_rc rc, json_t *out, const struct authn_result *res)
{
	if (rc == PV_OK)
		return out != NULL ? http_reply(req, 200, out) : PV_E_NOMEM;
	if (res->retry_after_s > 0)
		req->retry_after_s = res->retry_after_s;
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* The optional "cookie" of a login body: PV_E_INVALID unless a boolean. */
enum pv_rc
authn_cookie_wanted(struct http_request *req, bool *out)
{
	json_t *v = json_object_get(req->body, "cookie");

	*out = false;
	if (v == NULL)
		return PV_OK;
	if (!json_is_boolean(v))
		return http_fail(req, PV_E_INVALID, "cookie must be true or false");
	*out = json_is_true(v);
	return PV_OK;
}

/* answer(), with the session moved into the console's cookie if asked. */
static enum pv_rc
answer_login(struct http_request *req, bool cookie, enum pv_rc rc, json_t *out,
    const struct authn_result *res)
{
	enum pv_rc crc;

	if (rc == PV_OK && cookie && out != NULL && (crc = authn_cookie_issue(req, out)) != PV_OK) {
		json_decref(out);
		return crc;
	}
	return answer(req, rc, out, res);
}

/* A pending route's completion (authn.h "asynchronous forms"): reply, then
 * resume the suspended connection. */
struct pending_reply {
	struct http_request *req;
	bool cookie;
	bool logout;
};

static void
replied(enum pv_rc rc, json_t *out, const struct authn_result *res, void *arg)
{
	struct pending_reply *pr = arg;
	struct http_request *req = pr->req;

	if (pr->logout) {
		if (rc != PV_OK)
			rc = answer(req, rc, NULL, res);
		else if (authn_cookie_session(req) == NULL || (rc = authn_cookie_clear(req)) == PV_OK)
			req->status = 204;
	} else {
		rc = answer_login(req, pr->cookie, rc, out, res);
	}
	http_resume(req, rc);
}

static struct pending_reply *
pending(struct http_request *req, bool cookie)
{
	struct pending_reply *pr = arena_alloc(req->arena, sizeof(*pr));

	if (pr != NULL) {
		pr->req = req;
		pr->cookie = cookie;
		pr->logout = false;
	}
	return pr;
}

static enum pv_rc
h_login(struct http_request *req)
{
	const char *username, *password;
	bool cookie = false;
	struct pending_reply *pr;
	enum pv_rc rc;

	if ((rc = http_body_string(req, "username", true, 256, &username)) != PV_OK ||
	    (rc = http_body_string(req, "password", true, AUTHN_PASSWORD_MAX_BYTES, &password)) !=
	    PV_OK || (rc = authn_cookie_wanted(req, &cookie)) != PV_OK)
		return rc;
	if ((pr = pending(req, cookie)) == NULL)
		return PV_E_NOMEM;
	authn_login_async(svc_of(req), req->source, username, password, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_mfa(struct http_request *req)
{
	const char *mtok, *code;
	bool cookie = false;
	struct pending_reply *pr;
	enum pv_rc rc;

	if ((rc = http_body_string(req, "mfa_token", true, 128, &mtok)) != PV_OK ||
	    (rc = http_body_string(req, "code", true, 64, &code)) != PV_OK ||
	    (rc = authn_cookie_wanted(req, &cookie)) != PV_OK)
		return rc;
	if ((pr = pending(req, cookie)) == NULL)
		return PV_E_NOMEM;
	authn_mfa_verify_async(svc_of(req), req->source, mtok, code, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_password(struct http_request *req)
{
	const char *cur, *npw;
	struct pending_reply *pr;
	enum pv_rc rc;

	if ((rc = http_body_string(req, "current_password", true, AUTHN_PASSWORD_MAX_BYTES,
	    &cur)) != PV_OK ||
	    (rc = http_body_string(req, "new_password", true, AUTHN_PASSWORD_MAX_BYTES, &npw)) !=
	    PV_OK)
		return rc;
	if ((pr = pending(req, false)) == NULL)
		return PV_E_NOMEM;
	authn_password_change_async(svc_of(req), req->principal, req->source, cur, npw, replied,
	    pr);
	return PV_PENDING;
}

static enum pv_rc
h_mfa_enroll(struct http_request *req)
{
	struct pending_reply *pr = pending(req, false);

	if (pr == NULL)
		return PV_E_NOMEM;
	authn_mfa_enroll_async(svc_of(req), req->principal, req->source, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_mfa_confirm(struct http_request *req)
{
	const char *code;
	struct pending_reply *pr;
	enum pv_rc rc;

	if ((rc = http_body_string(req, "code", true, 16, &code)) != PV_OK)
		return rc;
	if ((pr = pending(req, false)) == NULL)
		return PV_E_NOMEM;
	authn_mfa_confirm_async(svc_of(req), req->principal, req->source, code, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_session(struct http_request *req)
{
	json_t *out = NULL;
	enum pv_rc rc;

	const char *ck;
	char csrf[AUTHN_CSRF_HEX_MAX];

	if ((rc = authn_session_describe(req->principal, &out)) != PV_OK)
		return rc;
	/* the console after a reload: its CSRF token again (cookie.c) */
	if (http_header(req, "Authorization") == NULL && (ck = authn_cookie_session(req)) != NULL) {
		if ((rc = authn_csrf_token(ck, csrf)) != PV_OK ||
		    json_object_set_new(out, "csrf_token", json_string(csrf)) != 0) {
			json_decref(out);
			return rc != PV_OK ? rc : PV_E_NOMEM;
		}
	}
	return http_reply(req, 200, out);
}

static enum pv_rc
h_logout(struct http_request *req)
{
	struct pending_reply *pr = pending(req, false);

	if (pr == NULL)
		return PV_E_NOMEM;
	pr->logout = true;
	authn_logout_async(svc_of(req), req->principal, req->source, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_step_up(struct http_request *req)
{
	const char *code;
	struct pending_reply *pr;
	json_t *wa = json_object_get(req->body, "webauthn");
	enum pv_rc rc;

	/* a passkey assertion (options from POST /v1/auth/webauthn/step-up/begin)
	 * or a TOTP code */
	if (wa != NULL) {
		if ((pr = pending(req, false)) == NULL)
			return PV_E_NOMEM;
		authn_webauthn_step_up_async(svc_of(req), req->principal, req->source, wa, replied,
		    pr);
		return PV_PENDING;
	}
	if ((rc = http_body_string(req, "code", true, 16, &code)) != PV_OK)
		return rc;
	if ((pr = pending(req, false)) == NULL)
		return PV_E_NOMEM;
	authn_step_up_async(svc_of(req), req->principal, req->source, code, replied, pr);
	return PV_PENDING;
}

/* Not secret: what the console's idle timer mirrors. */
static enum pv_rc
h_policy(struct http_request *req)
{
	const struct pv_config *cfg = svc_of(req)->cfg;
	json_t *o = json_pack("{s:i, s:i}", "idle_timeout_s", cfg->idle_timeout_s,
	    "absolute_timeout_s", cfg->absolute_timeout_s);

	return o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
}

enum pv_rc
authn_route_auth(struct authn_service *s, struct http_server *srv)
{
	const unsigned R = HTTP_ROUTE_RESTRICTED_OK;
	const struct http_route routes[] = {
		{ "POST", "/v1/auth/login", h_login, HTTP_PERM_PUBLIC, "auth.login",
		    HTTP_ROUTE_BODY, 16384, s },
		{ "POST", "/v1/auth/mfa", h_mfa, HTTP_PERM_PUBLIC, "auth.mfa", HTTP_ROUTE_BODY,
		    4096, s },
		{ "POST", "/v1/auth/password", h_password, HTTP_PERM_AUTHENTICATED, "auth.password",
		    HTTP_ROUTE_BODY | R, 16384, s },
		{ "POST", "/v1/auth/mfa/enroll", h_mfa_enroll, HTTP_PERM_AUTHENTICATED,
		    "auth.mfa_enroll", R, 0, s },
		{ "POST", "/v1/auth/mfa/confirm", h_mfa_confirm, HTTP_PERM_AUTHENTICATED,
		    "auth.mfa_enroll", HTTP_ROUTE_BODY | R, 4096, s },
		{ "GET", "/v1/auth/session", h_session, HTTP_PERM_AUTHENTICATED, NULL, R, 0, s },
		{ "POST", "/v1/auth/logout", h_logout, HTTP_PERM_AUTHENTICATED, "auth.logout", R, 0,
		    s },
		{ "POST", "/v1/auth/step-up", h_step_up, HTTP_PERM_AUTHENTICATED, "auth.step_up",
		    HTTP_ROUTE_BODY, 65536, s },
		{ "GET", "/v1/auth/policy", h_policy, HTTP_PERM_PUBLIC, NULL, 0, 0, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}

enum pv_rc
authn_routes(struct authn_service *s, struct http_server *srv)
{
	enum pv_rc rc;

	/* /v1/users is the directory's (src/directory/routes_users.c) */
	if ((rc = authn_route_auth(s, srv)) != PV_OK ||
	    (rc = authn_route_webauthn(s, srv)) != PV_OK)   /* routes_webauthn.c */
		return rc;
	if ((rc = authn_route_oidc(s, srv)) != PV_OK)   /* routes_oidc.c */
		return rc;
	return authn_route_app(s, srv);   /* routes_app.c */
}
