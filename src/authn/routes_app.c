/*
 * routes_app.c: POST /v1/auth/app, the sign-in of a workload identity
 * (docs/openapi.yaml). Parse -> authn_app_signin (app.c, with a secret) or
 * authn_app_signin_cert (app_cert.c, with no secret and a TLS client
 * certificate) -> reply.
 */
#include "authn/authn_int.h"
#include "crypto/crypto.h"

/* The secret sign-in's completion (authn.h "asynchronous forms"): reply,
 * then resume the suspended connection. */
static void
signed_in(enum pv_rc rc, json_t *out, const struct authn_result *res, void *arg)
{
	struct http_request *req = arg;

	if (rc == PV_E_LOCKED || rc == PV_E_RATE)
		req->retry_after_s = res->retry_after_s > 0 ? res->retry_after_s : 1;
	if (rc == PV_OK)
		rc = out != NULL ? http_reply(req, 200, out) : PV_E_NOMEM;
	else if (res->message[0] != '\0')
		rc = http_fail(req, rc, arena_strdup(req->arena, res->message));
	http_resume(req, rc);
}

static enum pv_rc
h_app_signin(struct http_request *req)
{
	struct authn_service *s = req->route->arg;
	struct authn_app_signin_result r;
	const char *app_id, *secret;
	char t[32];
	json_t *o;
	enum pv_rc rc;

	if (json_object_get(req->body, "secret") == NULL && req->tls_client_cert != NULL) {
		if ((rc = http_body_string(req, "app_id", false, 128, &app_id)) != PV_OK)
			return rc;
		/* answers at once; the answer leaves after its commit (held) */
		rc = authn_app_signin_cert(s, req->tls_client_cert, req->tls_client_cert_len,
		    app_id, req->source, &r);
	} else {
		if ((rc = http_body_string(req, "app_id", true, 128, &app_id)) != PV_OK ||
		    (rc = http_body_string(req, "secret", true, 256, &secret)) != PV_OK)
			return rc;
		authn_app_signin_async(s, app_id, secret, req->source, signed_in, req);
		return PV_PENDING;
	}
	if (rc != PV_OK)
		return r.message[0] != '\0' ?
		    http_fail(req, rc, arena_strdup(req->arena, r.message)) : rc;
	util_time_fmt(r.expires_ms, t, sizeof(t));
	o = json_pack("{s:s, s:s, s:s}", "token", r.token, "expires_at", t, "app_id", r.app_id);
	crypto_wipe(r.token, sizeof(r.token));
	return o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
}

enum pv_rc
authn_route_app(struct authn_service *s, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/auth/app", h_app_signin, HTTP_PERM_PUBLIC, "auth.app",
		    HTTP_ROUTE_BODY, 4096, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
