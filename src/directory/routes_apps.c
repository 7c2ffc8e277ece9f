/*
 * directory/routes_apps.c: workload identities over REST (API.md
 * "Workload identities"), adapters over directory_app_* (apps.c).
 *
 *   POST   /v1/apps                               apps.manage  {"name","roles","networks"} -> 201 {"id"}
 *   GET    /v1/apps                               apps.manage
 *   GET    /v1/apps/{id}                          apps.manage
 *   POST   /v1/apps/{id}/disable                  apps.manage  every session ends at once
 *   POST   /v1/apps/{id}/secrets                  apps.manage  -> 201 {"secret_id","secret"} (shown once)
 *   DELETE /v1/apps/{id}/secrets/{secret_id}      apps.manage  -> 204
 *   POST /v1/apps/{id}/certificate/{serial}/revoke  apps.manage  -> 200 {"app","serial",
 *                                                  "revoked","sessions_ended"}
 *   POST   /v1/apps/{id}/certificate              apps.manage  {"csr"} -> 201 {"certificate","ca","serial","not_after"}
 *
 * Parse -> call -> reply; the checks, the store and the audit are the
 * operations'.
 */
#include <string.h>

#include "directory/directory_int.h"

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct directory_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* body[key]: an array of strings (a non-string is NULL: the operation names it). */
static enum pv_rc
strings_from_body(struct http_request *req, const char *key, size_t max,
    const char *const **out, size_t *n)
{
	json_t *arr = json_object_get(req->body, key);
	const char **v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (arr == NULL)
		return PV_OK;
	if (!json_is_array(arr) || json_array_size(arr) > max) {
		req->err_message = arena_printf(req->arena, "%s must be an array of at most %zu "
		    "strings", key, max);
		return PV_E_INVALID;
	}
	if ((v = arena_alloc(req->arena, (json_array_size(arr) + 1) * sizeof(*v))) == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < json_array_size(arr); i++)
		v[i] = json_string_value(json_array_get(arr, i));
	*out = v;
	*n = i;
	return PV_OK;
}

/* The answers of the writes: now, or from the commit's completion
 * (routes_call.c). */
static enum pv_rc
reply_created(struct http_request *req, struct directory_call *c)
{
	const struct directory_result *res = &c->res;

	/* dual control: the app exists; its PHI-granting roles are pending */
	if (res->approval[0] != '\0')
		return http_reply(req, 202, json_pack("{s:s, s:s, s:s, s:s}", "id", res->id, "name",
		    res->username, "approval", res->approval, "status", "pending"));
	return http_reply(req, 201, json_pack("{s:s, s:s}", "id", res->id, "name",
	    res->username));
}

static enum pv_rc
reply_disabled(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 200, json_pack("{s:s, s:s, s:I}", "id", c->res.id, "status",
	    "disabled", "sessions_ended", (json_int_t)c->res.sessions_ended));
}

static enum pv_rc
reply_secret(struct http_request *req, struct directory_call *c)
{
	json_t *o = json_pack("{s:s, s:s}", "secret_id", c->secret.secret_id, "secret",
	    c->secret.secret);

	return o != NULL ? http_reply(req, 201, o) : PV_E_NOMEM;
}

static enum pv_rc
reply_secret_rm(struct http_request *req, struct directory_call *c)
{
	(void)c;
	req->status = 204;
	return PV_OK;
}

static enum pv_rc
reply_cert_revoked(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 200, json_pack("{s:s, s:s, s:b, s:I}", "app", req->params[0],
	    "serial", req->params[1], "revoked", 1, "sessions_ended",
	    (json_int_t)c->res.sessions_ended));
}

static enum pv_rc
reply_cert(struct http_request *req, struct directory_call *c)
{
	char t[32];
	json_t *o;

	util_time_fmt(c->cert.not_after_ms, t, sizeof(t));
	o = json_pack("{s:s, s:s, s:s, s:s}", "certificate", c->cert.cert_pem, "ca",
	    c->cert.ca_pem, "serial", c->cert.serial, "not_after", t);
	return o != NULL ? http_reply(req, 201, o) : PV_E_NOMEM;
}

static enum pv_rc
h_app_create(struct http_request *req)
{
	static const char *const allowed[] = { "name", "roles", "networks", NULL };
	struct directory_app_spec sp;
	struct directory_call *c;
	struct pv_actor actor;
	enum pv_rc rc;

	memset(&sp, 0, sizeof(sp));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "name", true, 128, &sp.name)) != PV_OK ||
	    (rc = strings_from_body(req, "roles", AUTHN_ROLES_MAX, &sp.roles, &sp.nroles)) !=
	    PV_OK ||
	    (rc = strings_from_body(req, "networks", AUTHN_APP_NETWORKS_MAX, &sp.networks,
	    &sp.nnetworks)) != PV_OK)
		return rc;
	if ((c = directory_call_new(req, reply_created)) == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_app_create(req->route->arg, &actor, &sp,
	    &c->res));
}

static enum pv_rc
h_app_list(struct http_request *req)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *arr = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	if ((rc = directory_app_list(req->route->arg, &actor, &arr, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "apps", arr));
}

static enum pv_rc
h_app_get(struct http_request *req)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	rc = directory_app_get(req->route->arg, &actor, req->params[0], &o, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
h_app_disable(struct http_request *req)
{
	struct directory_call *c = directory_call_new(req, reply_disabled);
	struct pv_actor actor;

	if (c == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_app_disable(req->route->arg, &actor,
	    req->params[0], &c->res));
}

static enum pv_rc
h_secret_add(struct http_request *req)
{
	struct directory_call *c = directory_call_new(req, reply_secret);
	struct pv_actor actor;

	if (c == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_app_secret_add(req->route->arg, &actor,
	    req->params[0], &c->secret, &c->res));
}

static enum pv_rc
h_secret_rm(struct http_request *req)
{
	struct directory_call *c = directory_call_new(req, reply_secret_rm);
	struct pv_actor actor;

	if (c == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_app_secret_remove(req->route->arg, &actor,
	    req->params[0], req->params[1], &c->res));
}

static enum pv_rc
h_cert_revoke(struct http_request *req)
{
	struct directory_call *c = directory_call_new(req, reply_cert_revoked);
	struct pv_actor actor;

	if (c == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_app_cert_revoke(req->route->arg, &actor,
	    req->params[0], req->params[1], &c->res));
}

static enum pv_rc
h_certificate(struct http_request *req)
{
	static const char *const allowed[] = { "csr", NULL };
	struct directory_call *c;
	struct pv_actor actor;
	const char *csr;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "csr", true, 16384, &csr)) != PV_OK)
		return rc;
	if ((c = directory_call_new(req, reply_cert)) == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_app_certificate(req->route->arg, &actor,
	    req->params[0], csr, &c->cert, &c->res));
}

enum pv_rc
directory_route_apps(struct directory *d, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/apps", h_app_create, "apps.manage", "app.create", HTTP_ROUTE_BODY,
		    16384, d },
		{ "GET", "/v1/apps", h_app_list, "apps.manage", "app.read", 0, 0, d },
		{ "GET", "/v1/apps/{id}", h_app_get, "apps.manage", "app.read", 0, 0, d },
		{ "POST", "/v1/apps/{id}/disable", h_app_disable, "apps.manage", "app.disable", 0, 0,
		    d },
		{ "POST", "/v1/apps/{id}/secrets", h_secret_add, "apps.manage", "app.secret_add", 0,
		    0, d },
		{ "DELETE", "/v1/apps/{id}/secrets/{secret_id}", h_secret_rm, "apps.manage",
		    "app.secret_remove", 0, 0, d },
		{ "POST", "/v1/apps/{id}/certificate", h_certificate, "apps.manage",
		    "app.certificate", HTTP_ROUTE_BODY, 32768, d },
		{ "POST", "/v1/apps/{id}/certificate/{serial}/revoke", h_cert_revoke, "apps.manage",
		    "app.cert_revoke", 0, 0, d },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
