/*
 * routes_policies: access policies over REST (API.md "Policies (ABAC,
 * conditional access)", docs/access-control.md), adapters over the
 * operations of policies.c (authz_policy_create/update/delete/read/list).
 *
 *   POST   /v1/policies         roles.manage  {"name","effect","actions","resources","condition"} -> 201
 *   GET    /v1/policies         roles.manage  {"policies":[...]}
 *   GET    /v1/policies/{name}  roles.manage
 *   PUT    /v1/policies/{name}  roles.manage  {"effect","actions","resources","condition"} -> 200
 *   DELETE /v1/policies/{name}  roles.manage  -> 204
 *
 * The handlers check the body's shape (allowed keys, string members), call
 * the operation with the request's actor (authn_actor) and reply. The
 * definition check, the store, the audit entry and the generation bump are
 * the operations' (CTest route_thinness).
 */
#include <string.h>

#include "authz/authz_int.h"

#define POLICY_BODY_MAX (32 * 1024)

static struct authz_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct authz_policy_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* The definition members of the body (shape only: the operation checks it). */
static enum pv_rc
body_def(struct http_request *req, bool create, struct authz_policy_def *def)
{
	static const char *const allowed[] = { "name", "effect", "actions", "resources",
		"condition", NULL };
	enum pv_rc rc;

	memset(def, 0, sizeof(*def));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "name", create, STORE_POLICY_NAME_MAX - 1,
	    &def->name)) != PV_OK ||
	    (rc = http_body_string(req, "effect", false, 8, &def->effect)) != PV_OK)
		return rc;
	def->actions = json_object_get(req->body, "actions");
	def->resources = json_object_get(req->body, "resources");
	def->condition = json_object_get(req->body, "condition");
	return PV_OK;
}

static enum pv_rc
h_create(struct http_request *req)
{
	struct authz_policy_def def;
	struct authz_policy_result res;
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	if ((rc = body_def(req, true, &def)) != PV_OK)
		return rc;
	authn_actor(req->principal, req->source, &actor);
	if ((rc = authz_policy_create(svc_of(req), &actor, &def, &o, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, res.approval[0] != '\0' ? 202 : 201, o);   /* 202: dual control */
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct authz_policy_result res;
	struct pv_actor actor;
	json_t *arr = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	if ((rc = authz_policy_list(svc_of(req), &actor, &arr, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "policies", arr));
}

static enum pv_rc
h_show(struct http_request *req)
{
	struct authz_policy_result res;
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	if ((rc = authz_policy_read(svc_of(req), &actor, req->params[0], &o, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
h_update(struct http_request *req)
{
	struct authz_policy_def def;
	struct authz_policy_result res;
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	if ((rc = body_def(req, false, &def)) != PV_OK)
		return rc;
	authn_actor(req->principal, req->source, &actor);
	if ((rc = authz_policy_update(svc_of(req), &actor, req->params[0], &def, &o, &res)) !=
	    PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, res.approval[0] != '\0' ? 202 : 200, o);   /* 202: dual control */
}

static enum pv_rc
h_delete(struct http_request *req)
{
	struct authz_policy_result res;
	struct pv_actor actor;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	if ((rc = authz_policy_delete(svc_of(req), &actor, req->params[0], &res)) != PV_OK)
		return op_fail(req, rc, &res);
	req->status = 204;
	return PV_OK;
}

enum pv_rc
authz_route_policies(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/policies", h_create, "roles.manage", "policy.create",
		    HTTP_ROUTE_BODY, POLICY_BODY_MAX, z },
		{ "GET", "/v1/policies", h_list, "roles.manage", "policy.read", 0, 0, z },
		{ "GET", "/v1/policies/{name}", h_show, "roles.manage", "policy.read", 0, 0, z },
		{ "PUT", "/v1/policies/{name}", h_update, "roles.manage", "policy.update",
		    HTTP_ROUTE_BODY, POLICY_BODY_MAX, z },
		{ "DELETE", "/v1/policies/{name}", h_delete, "roles.manage", "policy.delete", 0, 0,
		    z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
