/*
 * routes_roles: custom roles (API.md "Users, groups and roles"), adapters
 * over authz_role_create / authz_role_list (roles.c); groups are the
 * directory's (src/directory/routes_groups.c).
 *
 *   POST /v1/roles    roles.manage  {"name","permissions":[],"condition":{}} -> 201
 *   GET  /v1/roles    roles.manage  built-in and custom roles
 *
 * The handlers check the body's shape (allowed keys, a name string, an
 * array of strings), call the operation with the request's caller, reply.
 */
#include <stdio.h>
#include <string.h>

#include "authz/authz_int.h"

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct authz_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

static enum pv_rc
h_role_create(struct http_request *req)
{
	static const char *const allowed[] = { "name", "permissions", "condition", NULL };
	struct authz_caller c = { req->principal, req->source };
	struct authz_role_spec sp;
	struct authz_result res;
	const char **perms;
	json_t *arr, *out = NULL;
	size_t n, i;
	enum pv_rc rc;

	memset(&sp, 0, sizeof(sp));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "name", true, AUTHZ_NAME_MAX - 1, &sp.name)) != PV_OK)
		return rc;
	arr = json_object_get(req->body, "permissions");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > AUTHZ_PERMSET_MAX)
		return http_fail(req, PV_E_INVALID, "permissions must be a non-empty array of "
		    "permission strings");
	n = json_array_size(arr);
	if ((perms = arena_alloc(req->arena, n * sizeof(*perms))) == NULL)
		return PV_E_NOMEM;
	/* a non-string is NULL here: the operation names it */
	for (i = 0; i < n; i++)
		perms[i] = json_string_value(json_array_get(arr, i));
	sp.permissions = perms;
	sp.npermissions = n;
	sp.condition = json_object_get(req->body, "condition");
	if ((rc = authz_role_create(req->route->arg, &c, &sp, &out, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	/* a role granting PHI access is a pending request (dual control) */
	return http_reply(req, res.approval[0] != '\0' ? 202 : 201, out);
}

static enum pv_rc
h_role_list(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *arr = NULL;
	enum pv_rc rc;

	if ((rc = authz_role_list(req->route->arg, &c, &arr, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "roles", arr));
}

enum pv_rc
authz_route_roles(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/roles", h_role_create, "roles.manage", "role.create",
		    HTTP_ROUTE_BODY, 65536, z },
		{ "GET", "/v1/roles", h_role_list, "roles.manage", "role.read", 0, 0, z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
