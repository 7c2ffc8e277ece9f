/*
 * routes_webauthn: /v1/auth/webauthn/... (docs/identity.md "Passkeys",
 * docs/openapi.yaml), adapters over the operations of webauthn_ops.c. The
 * bodies are what a browser page sends after navigator.credentials.create()
 * / .get(): the PublicKeyCredential with base64url fields.
 *
 *   POST   /v1/auth/webauthn/register/begin    session (restricted ok)  creation options
 *   POST   /v1/auth/webauthn/register/finish   session (restricted ok)  {credential..., name}
 *   POST   /v1/auth/webauthn/login/begin       public   {mfa_token} -> request options
 *   POST   /v1/auth/webauthn/login/finish      public   {mfa_token, credential..., cookie?} -> session
 *   POST   /v1/auth/webauthn/step-up/begin     session  request options for POST /v1/auth/step-up
 *   GET    /v1/auth/webauthn/credentials       session  own passkeys
 *   DELETE /v1/auth/webauthn/credentials/{id}  session  remove one (MFA <= 5 min old)
 */
#include <string.h>

#include "authn/authn_int.h"

static struct authn_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

static enum pv_rc
answer(struct http_request *req, enum pv_rc rc, int status, json_t *out,
    const struct authn_result *res)
{
	if (rc == PV_OK)
		return out != NULL ? http_reply(req, status, out) : PV_E_NOMEM;
	if (res->retry_after_s > 0)
		req->retry_after_s = res->retry_after_s;
	if (rc == PV_E_STEP_UP)
		(void)http_set_header(req, "WWW-Authenticate",
		    arena_printf(req->arena, "Bearer error=\"insufficient_user_authentication\", "
		    "error_description=\"A more recent authentication is required\", max_age=%d",
		    AUTHN_WA_FRESH_S));
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* A pending route's completion: reply (201 for a registration; a
 * session into the console's cookie if asked), then resume the connection. */
struct pending_reply {
	struct http_request *req;
	int status;
	bool cookie;
};

static void
replied(enum pv_rc rc, json_t *out, const struct authn_result *res, void *arg)
{
	struct pending_reply *pr = arg;
	struct http_request *req = pr->req;
	enum pv_rc crc;

	/* "cookie": true (the console): the session into pv_session, as /v1/auth/mfa */
	if (rc == PV_OK && pr->cookie && out != NULL && (crc = authn_cookie_issue(req, out)) !=
	    PV_OK) {
		json_decref(out);
		http_resume(req, crc);
		return;
	}
	http_resume(req, answer(req, rc, pr->status, out, res));
}

static struct pending_reply *
pending(struct http_request *req, int status, bool cookie)
{
	struct pending_reply *pr = arena_alloc(req->arena, sizeof(*pr));

	if (pr != NULL) {
		pr->req = req;
		pr->status = status;
		pr->cookie = cookie;
	}
	return pr;
}

static enum pv_rc
h_register_begin(struct http_request *req)
{
	struct authn_result res;
	json_t *out = NULL;
	enum pv_rc rc;

	rc = authn_webauthn_register_begin(svc_of(req), req->principal, req->source, &out, &res);
	return answer(req, rc, 200, out, &res);
}

static enum pv_rc
h_register_finish(struct http_request *req)
{
	static const char *const keys[] = { "id", "rawId", "type", "response", "name",
		"authenticatorAttachment", "clientExtensionResults", NULL };
	struct pending_reply *pr;
	const char *name = NULL;
	enum pv_rc rc;

	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "name", false, 64, &name)) != PV_OK)
		return rc;
	if ((pr = pending(req, 201, false)) == NULL)
		return PV_E_NOMEM;
	authn_webauthn_register_finish_async(svc_of(req), req->principal, req->source, req->body,
	    name, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_login_begin(struct http_request *req)
{
	struct authn_result res;
	const char *mtok;
	json_t *out = NULL;
	enum pv_rc rc;

	if ((rc = http_body_string(req, "mfa_token", true, 128, &mtok)) != PV_OK)
		return rc;
	rc = authn_webauthn_login_begin(svc_of(req), req->source, mtok, &out, &res);
	return answer(req, rc, 200, out, &res);
}

static enum pv_rc
h_login_finish(struct http_request *req)
{
	static const char *const keys[] = { "mfa_token", "id", "rawId", "type", "response",
		"authenticatorAttachment", "clientExtensionResults", "cookie", NULL };
	struct pending_reply *pr;
	const char *mtok;
	bool cookie = false;
	enum pv_rc rc;

	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "mfa_token", true, 128, &mtok)) != PV_OK ||
	    (rc = authn_cookie_wanted(req, &cookie)) != PV_OK)
		return rc;
	if ((pr = pending(req, 200, cookie)) == NULL)
		return PV_E_NOMEM;
	authn_webauthn_login_finish_async(svc_of(req), req->source, mtok, req->body, replied, pr);
	return PV_PENDING;
}

static enum pv_rc
h_step_up_begin(struct http_request *req)
{
	struct authn_result res;
	json_t *out = NULL;
	enum pv_rc rc;

	rc = authn_webauthn_step_up_begin(svc_of(req), req->principal, req->source, &out, &res);
	return answer(req, rc, 200, out, &res);
}

static enum pv_rc
h_list(struct http_request *req)
{
	json_t *out = NULL;
	enum pv_rc rc;

	if ((rc = authn_webauthn_list(svc_of(req), req->principal, &out)) != PV_OK)
		return rc;
	return http_reply(req, 200, out);
}

static enum pv_rc
h_remove(struct http_request *req)
{
	struct authn_result res;
	enum pv_rc rc;

	rc = authn_webauthn_remove(svc_of(req), req->principal, req->source,
	    req->nparams > 0 ? req->params[0] : NULL, &res);
	if (rc != PV_OK)
		return answer(req, rc, 200, NULL, &res);
	req->status = 204;
	return PV_OK;
}

enum pv_rc
authn_route_webauthn(struct authn_service *s, struct http_server *srv)
{
	const unsigned R = HTTP_ROUTE_RESTRICTED_OK;
	const struct http_route routes[] = {
		{ "POST", "/v1/auth/webauthn/register/begin", h_register_begin,
		    HTTP_PERM_AUTHENTICATED, "auth.webauthn.register", R, 0, s },
		{ "POST", "/v1/auth/webauthn/register/finish", h_register_finish,
		    HTTP_PERM_AUTHENTICATED, "auth.webauthn.register", HTTP_ROUTE_BODY | R, 65536,
		    s },
		{ "POST", "/v1/auth/webauthn/login/begin", h_login_begin, HTTP_PERM_PUBLIC,
		    "auth.webauthn.login", HTTP_ROUTE_BODY, 4096, s },
		{ "POST", "/v1/auth/webauthn/login/finish", h_login_finish, HTTP_PERM_PUBLIC,
		    "auth.webauthn.login", HTTP_ROUTE_BODY, 65536, s },
		{ "POST", "/v1/auth/webauthn/step-up/begin", h_step_up_begin,
		    HTTP_PERM_AUTHENTICATED, "auth.step_up", 0, 0, s },
		{ "GET", "/v1/auth/webauthn/credentials", h_list, HTTP_PERM_AUTHENTICATED, NULL, 0,
		    0, s },
		{ "DELETE", "/v1/auth/webauthn/credentials/{id}", h_remove, HTTP_PERM_AUTHENTICATED,
		    "auth.webauthn.remove", 0, 0, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
