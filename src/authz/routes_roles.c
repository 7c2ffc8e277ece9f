/*
 * routes_roles: custom roles (API.md "Users, groups and roles"); groups are
 * the directory's (src/directory/routes_groups.c).
 *
 *   POST /v1/roles    roles.manage  {"name","permissions":[],"condition":{}} -> 201
 *   GET  /v1/roles    roles.manage  built-in and custom roles
 *
 * A custom role is checked by authz_role_def_check (no "*" permission, no
 * built-in name, no duplicate). Its condition is a condition of the access
 * policy language (cond.c: purposes, source, time, mfa, principal, labels,
 * match, all/any/not): shorthand for an allow rule under that condition,
 * evaluated by the same engine. A condition the engine does not know is
 * refused rather than stored and ignored: a role must never grant more
 * than its definition says. Roles and groups are
 * never deleted (memberships refer to them; the trail names them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

static struct authz_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}


/* ---- roles ---- */

/* A role condition: absent, null, or an object in the condition language
 * of access policies (cond.c, docs/access-control.md): the role's grants
 * hold only while it does. Checked by the compiler itself. */
static enum pv_rc
condition_check(struct http_request *req, json_t *cond)
{
	char why[192], *text;
	enum pv_rc rc;

	if (cond == NULL || json_is_null(cond))
		return PV_OK;
	if (!json_is_object(cond))
		return http_fail(req, PV_E_INVALID, "condition must be an object");
	if ((text = json_dumps(cond, JSON_COMPACT)) == NULL)
		return PV_E_NOMEM;
	rc = authz_condition_check(text, why, sizeof(why));
	free(text);
	if (rc == PV_E_INVALID) {
		req->err_message = arena_printf(req->arena, "condition: %s", why);
		return PV_E_INVALID;
	}
	return rc;
}

struct role_job {
	const struct store_role *r;
};

static enum pv_rc
role_fn(struct store_tx *tx, void *arg)
{
	return store_role_put(tx, ((struct role_job *)arg)->r);
}

static enum pv_rc
h_role_create(struct http_request *req)
{
	static const char *const allowed[] = { "name", "permissions", "condition", NULL };
	struct authz_service *z = svc_of(req);
	const char *name, **perms;
	json_t *arr, *cond;
	struct store_role r;
	struct role_job j = { &r };
	struct audit_event ev;
	char why[160], res[128], *ptxt, *ctxt;
	size_t n, i;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "name", true, AUTHZ_NAME_MAX - 1, &name)) != PV_OK)
		return rc;
	arr = json_object_get(req->body, "permissions");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > AUTHZ_PERMSET_MAX)
		return http_fail(req, PV_E_INVALID, "permissions must be a non-empty array of "
		    "permission strings");
	cond = json_object_get(req->body, "condition");
	if ((rc = condition_check(req, cond)) != PV_OK)
		return rc;
	n = json_array_size(arr);
	if ((perms = arena_alloc(req->arena, n * sizeof(*perms))) == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < n; i++) {
		perms[i] = json_string_value(json_array_get(arr, i));
		if (perms[i] == NULL) {
			req->err_message = arena_printf(req->arena, "permissions[%zu] must be a string",
			    i);
			return PV_E_INVALID;
		}
	}
	rc = authz_role_def_check(name, perms, n, why, sizeof(why));
	if (rc == PV_E_CONFLICT)
		return http_fail(req, PV_E_CONFLICT, "a built-in role has this name");
	if (rc != PV_OK) {
		req->err_message = arena_printf(req->arena, "%s", why);
		return PV_E_INVALID;
	}
	if ((ptxt = json_dumps(arr, JSON_COMPACT)) == NULL)
		return PV_E_NOMEM;
	memset(&r, 0, sizeof(r));
	util_strlcpy(r.name, name, sizeof(r.name));
	r.permissions = ptxt;
	ctxt = cond != NULL && json_is_object(cond) ? json_dumps(cond, JSON_COMPACT | JSON_SORT_KEYS)
	    : strdup("{}");
	if (ctxt == NULL) {
		free(ptxt);
		return PV_E_NOMEM;
	}
	r.condition = ctxt;
	r.created_ms = util_now_ms();
	snprintf(res, sizeof(res), "roles/%s", name);
	authz_ev_init(&ev, req->principal, req->source, "role.create", res);
	ev.detail = arena_printf(req->arena, "{\"permissions\":%s}", ptxt);
	rc = audit_commit(z->audit, &ev, role_fn, &j);
	free(ptxt);
	free(ctxt);
	if (rc == PV_E_CONFLICT)
		return http_fail(req, PV_E_CONFLICT, "a role with this name exists");
	if (rc != PV_OK)
		return rc;
	authn_authz_changed(z->authn);
	return http_reply(req, 201, json_pack("{s:s, s:O, s:o, s:b}", "name", name,
	    "permissions", arr, "condition",
	    cond != NULL && json_is_object(cond) ? json_incref(cond) : json_object(), "builtin", 0));
}

static int
on_role(const struct store_role *r, void *arg)
{
	json_t *perms, *cond, *o;
	size_t i, n = 0;

	if (r->builtin) {
		const char *const *bp = authz_builtin_role(r->name, &n);

		perms = json_array();
		for (i = 0; bp != NULL && perms != NULL && i < n; i++)
			json_array_append_new(perms, json_string(bp[i]));
	} else {
		perms = json_loads(r->permissions, 0, NULL);
	}
	cond = json_loads(r->condition, 0, NULL);
	o = json_pack("{s:s, s:o, s:o, s:b}", "name", r->name, "permissions",
	    perms ? perms : json_array(), "condition", cond ? cond : json_object(), "builtin",
	    r->builtin);
	if (o != NULL)
		json_array_append_new(arg, o);
	return 0;
}

static enum pv_rc
h_role_list(struct http_request *req)
{
	struct authz_service *z = svc_of(req);
	json_t *arr = json_array();
	enum pv_rc rc;

	if (arr == NULL)
		return PV_E_NOMEM;
	STORE_READ(z->st, rc, store_role_list(tx, on_role, arr));
	if (rc != PV_OK) {
		json_decref(arr);
		return rc;
	}
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
