/*
 * directory/routes_groups.c: groups over REST (API.md "Users, groups and
 * roles"), adapters over directory_group_* (groups.c).
 *
 *   POST /v1/groups   users.manage  {"name","roles":[]} -> 201 (members inherit the roles)
 *   GET  /v1/groups   users.manage
 *
 * The handlers check the body's shape (allowed keys, a name string, an
 * array of strings), call the operation with the request's actor, reply.
 */
#include <string.h>

#include "authz/authz.h"
#include "directory/directory_int.h"

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct directory_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* now, or from the commit's completion (routes_call.c) */
static enum pv_rc
reply_created(struct http_request *req, struct directory_call *c)
{
	json_t *arr = json_object_get(req->body, "roles");

	if (c->res.approval[0] != '\0')   /* dual control: a PHI mapping waits for approval */
		return http_reply(req, 202, json_pack("{s:s, s:s, s:s}", "approval",
		    c->res.approval, "status", "pending", "name", c->name));
	return http_reply(req, 201, json_pack("{s:s, s:o}", "name", c->name, "roles",
	    arr != NULL ? json_incref(arr) : json_array()));
}

static enum pv_rc
h_group_create(struct http_request *req)
{
	static const char *const allowed[] = { "name", "roles", NULL };
	struct directory_group_spec sp;
	struct directory_call *c;
	struct pv_actor actor;
	const char **roles;
	json_t *arr;
	size_t i, n;
	enum pv_rc rc;

	memset(&sp, 0, sizeof(sp));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "name", true, AUTHZ_NAME_MAX - 1, &sp.name)) != PV_OK)
		return rc;
	arr = json_object_get(req->body, "roles");
	if (arr != NULL && (!json_is_array(arr) || json_array_size(arr) > AUTHN_ROLES_MAX))
		return http_fail(req, PV_E_INVALID, "roles must be an array of role names");
	n = arr != NULL ? json_array_size(arr) : 0;
	if ((roles = arena_alloc(req->arena, (n + 1) * sizeof(*roles))) == NULL)
		return PV_E_NOMEM;
	/* a non-string is NULL here: the operation names it */
	for (i = 0; i < n; i++)
		roles[i] = json_string_value(json_array_get(arr, i));
	sp.roles = roles;
	sp.nroles = n;
	if ((c = directory_call_new(req, reply_created)) == NULL)
		return PV_E_NOMEM;
	c->name = sp.name;   /* the body's: lives until the answer */
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_group_create(req->route->arg, &actor, &sp,
	    &c->res));
}

static enum pv_rc
h_group_list(struct http_request *req)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *arr = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	if ((rc = directory_group_list(req->route->arg, &actor, &arr, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "groups", arr));
}

enum pv_rc
directory_route_groups(struct directory *d, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/groups", h_group_create, "users.manage", "group.create",
		    HTTP_ROUTE_BODY, 16384, d },
		{ "GET", "/v1/groups", h_group_list, "users.manage", "group.read", 0, 0, d },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
