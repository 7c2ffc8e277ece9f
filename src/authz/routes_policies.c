/*
 * routes_policies: access policies (API.md "Policies (ABAC, conditional
 * access)", docs/access-control.md).
 *
 *   POST   /v1/policies         roles.manage  {"name","effect","actions","resources","condition"} -> 201
 *   GET    /v1/policies         roles.manage  {"policies":[...]}
 *   GET    /v1/policies/{name}  roles.manage
 *   PUT    /v1/policies/{name}  roles.manage  {"effect","actions","resources","condition"} -> 200
 *   DELETE /v1/policies/{name}  roles.manage  -> 204
 *
 * A definition is checked by authz_policy_check (the compiler itself, so
 * what is stored always compiles) before anything is written. Every change
 * is one transaction with its audit entry (policy.create, policy.update,
 * policy.delete; detail: effect, actions, resources, condition, version:
 * the definition, which holds no PHI) and bumps the authz generation, so
 * the very next request of every session decides under the new set.
 *
 * Dual control (a policy granting records.* pending until a security
 * officer approves it) arrives with approvals (issue 10 item 3): every
 * policy is "active" at once today.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

#define POLICY_BODY_MAX (32 * 1024)

static struct authz_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

static const char *
actor_id(struct http_request *req)
{
	const struct authn_principal *p = req->principal;

	return p != NULL ? p->user_id : "";
}

static json_t *
policy_json(const struct store_policy *p)
{
	char c[32], u[32];
	json_t *acts = json_loads(p->actions, 0, NULL), *res = json_loads(p->resources, 0, NULL);
	json_t *cond = json_loads(p->condition, 0, NULL);

	util_time_fmt(p->created_ms, c, sizeof(c));
	util_time_fmt(p->updated_ms, u, sizeof(u));
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:s, s:s, s:s, s:s, s:s}", "name", p->name,
	    "effect", p->deny ? "deny" : "allow", "actions", acts ? acts : json_array(),
	    "resources", res ? res : json_array(), "condition", cond ? cond : json_object(),
	    "version", (json_int_t)p->version, "status", "active", "created_by", p->created_by,
	    "created_at", c, "updated_by", p->updated_by, "updated_at", u);
}

/* The definition of the body into p (texts malloc'd; store_policy_clear). */
static enum pv_rc
definition(struct http_request *req, const char *name, struct store_policy *p)
{
	const char *effect = NULL;
	json_t *acts, *res, *cond;
	struct authz_policy_src src;
	char why[192];
	enum pv_rc rc;

	if ((rc = http_body_string(req, "effect", true, 8, &effect)) != PV_OK)
		return rc;
	if (strcmp(effect, "allow") != 0 && strcmp(effect, "deny") != 0)
		return http_fail(req, PV_E_INVALID, "effect must be \"allow\" or \"deny\"");
	acts = json_object_get(req->body, "actions");
	res = json_object_get(req->body, "resources");
	cond = json_object_get(req->body, "condition");
	if (acts == NULL)
		return http_fail(req, PV_E_INVALID, "actions must be a non-empty array of action "
		    "names (e.g. \"records.read\", \"records.*\")");
	if (cond != NULL && !json_is_null(cond) && !json_is_object(cond))
		return http_fail(req, PV_E_INVALID, "condition must be an object");
	memset(p, 0, sizeof(*p));
	util_strlcpy(p->name, name, sizeof(p->name));
	p->deny = strcmp(effect, "deny") == 0;
	p->actions = json_dumps(acts, JSON_COMPACT | JSON_ENCODE_ANY);
	p->resources = res != NULL ? json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY) :
	    strdup("[]");
	p->condition = cond != NULL && json_is_object(cond) ?
	    json_dumps(cond, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (p->actions == NULL || p->resources == NULL || p->condition == NULL) {
		store_policy_clear(p);
		return PV_E_NOMEM;
	}
	src.name = p->name;
	src.deny = p->deny;
	src.actions = p->actions;
	src.resources = p->resources;
	src.condition = p->condition;
	why[0] = '\0';
	if ((rc = authz_policy_check(&src, why, sizeof(why))) != PV_OK) {
		store_policy_clear(p);
		if (rc != PV_E_INVALID)
			return rc;
		req->err_message = arena_printf(req->arena, "%s", why[0] ? why : "invalid policy");
		return PV_E_INVALID;
	}
	return PV_OK;
}

static char *
detail_of(const struct store_policy *p)
{
	json_t *d = json_pack("{s:s, s:o, s:o, s:o, s:I}", "effect", p->deny ? "deny" : "allow",
	    "actions", json_loads(p->actions, 0, NULL), "resources",
	    json_loads(p->resources, 0, NULL), "condition", json_loads(p->condition, 0, NULL),
	    "version", (json_int_t)p->version);
	char *s = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(d);
	return s;
}

enum op { OP_PUT, OP_UPDATE, OP_DELETE };

struct policy_job {
	enum op op;
	const struct store_policy *p;
};

static enum pv_rc
policy_fn(struct store_tx *tx, void *arg)
{
	struct policy_job *j = arg;

	switch (j->op) {
	case OP_PUT:
		return store_policy_put(tx, j->p);
	case OP_UPDATE:
		return store_policy_update(tx, j->p);
	default:
		return store_policy_delete(tx, j->p->name);
	}
}

/* One change and its entry, then the generation: the next request of every
 * session decides under it. */
static enum pv_rc
commit_change(struct http_request *req, enum op op, const struct store_policy *p,
    const char *action)
{
	struct authz_service *z = svc_of(req);
	struct policy_job j = { op, p };
	struct audit_event ev;
	char res[96], *detail = op == OP_DELETE ? NULL : detail_of(p);
	enum pv_rc rc;

	if (op != OP_DELETE && detail == NULL)
		return PV_E_NOMEM;
	snprintf(res, sizeof(res), "policies/%s", p->name);
	authz_ev_init(&ev, req->principal, req->source, action, res);
	ev.detail = detail;
	rc = audit_commit(z->audit, &ev, policy_fn, &j);
	free(detail);
	if (rc == PV_OK)
		authn_authz_changed(z->authn);
	return rc;
}

static enum pv_rc
h_create(struct http_request *req)
{
	static const char *const allowed[] = { "name", "effect", "actions", "resources",
		"condition", NULL };
	const char *name;
	struct store_policy p;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "name", true, STORE_POLICY_NAME_MAX - 1, &name)) != PV_OK)
		return rc;
	if (!authz_name_valid(name) || strcmp(name, "*") == 0)
		return http_fail(req, PV_E_INVALID, "name must match [a-z][a-z0-9_]{0,62}");
	if ((rc = definition(req, name, &p)) != PV_OK)
		return rc;
	util_strlcpy(p.created_by, actor_id(req), sizeof(p.created_by));
	util_strlcpy(p.updated_by, actor_id(req), sizeof(p.updated_by));
	p.created_ms = p.updated_ms = now;
	p.version = 1;
	rc = commit_change(req, OP_PUT, &p, "policy.create");
	if (rc == PV_OK)
		rc = http_reply(req, 201, policy_json(&p));
	else if (rc == PV_E_CONFLICT)
		rc = http_fail(req, PV_E_CONFLICT, "a policy with this name exists");
	store_policy_clear(&p);
	return rc;
}

static int
on_policy_row(const struct store_policy *p, void *arg)
{
	json_t *o = policy_json(p);

	if (o != NULL)
		json_array_append_new(arg, o);
	return 0;
}

static enum pv_rc
h_list(struct http_request *req)
{
	json_t *arr = json_array();
	enum pv_rc rc;

	if (arr == NULL)
		return PV_E_NOMEM;
	STORE_READ(svc_of(req)->st, rc, store_policy_list(tx, on_policy_row, arr));
	if (rc != PV_OK) {
		json_decref(arr);
		return rc;
	}
	return http_reply(req, 200, json_pack("{s:o}", "policies", arr));
}

static enum pv_rc
load(struct http_request *req, struct store_policy *p)
{
	const char *name = req->params[0];
	enum pv_rc rc;

	memset(p, 0, sizeof(*p));
	if (name == NULL || !authz_name_valid(name))
		return http_fail(req, PV_E_NOTFOUND, "no such policy");
	STORE_READ(svc_of(req)->st, rc, store_policy_get(tx, name, p));
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "no such policy");
	return rc;
}

static enum pv_rc
h_show(struct http_request *req)
{
	struct store_policy p;
	enum pv_rc rc;

	if ((rc = load(req, &p)) != PV_OK)
		return rc;
	rc = http_reply(req, 200, policy_json(&p));
	store_policy_clear(&p);
	return rc;
}

static enum pv_rc
h_update(struct http_request *req)
{
	static const char *const allowed[] = { "name", "effect", "actions", "resources",
		"condition", NULL };
	struct store_policy cur, p;
	const char *name = NULL;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "name", false, STORE_POLICY_NAME_MAX - 1, &name)) != PV_OK)
		return rc;
	if ((rc = load(req, &cur)) != PV_OK)
		return rc;
	if (name != NULL && strcmp(name, cur.name) != 0) {
		store_policy_clear(&cur);
		return http_fail(req, PV_E_INVALID, "name cannot change (delete and create)");
	}
	if ((rc = definition(req, cur.name, &p)) != PV_OK) {
		store_policy_clear(&cur);
		return rc;
	}
	util_strlcpy(p.created_by, cur.created_by, sizeof(p.created_by));
	p.created_ms = cur.created_ms;
	util_strlcpy(p.updated_by, actor_id(req), sizeof(p.updated_by));
	p.updated_ms = util_now_ms();
	p.version = cur.version + 1;
	store_policy_clear(&cur);
	rc = commit_change(req, OP_UPDATE, &p, "policy.update");
	if (rc == PV_OK)
		rc = http_reply(req, 200, policy_json(&p));
	else if (rc == PV_E_NOTFOUND)   /* changed or deleted meanwhile */
		rc = http_fail(req, PV_E_CONFLICT, "the policy changed meanwhile; read it again");
	store_policy_clear(&p);
	return rc;
}

static enum pv_rc
h_delete(struct http_request *req)
{
	struct store_policy p;
	enum pv_rc rc;

	if ((rc = load(req, &p)) != PV_OK)
		return rc;
	rc = commit_change(req, OP_DELETE, &p, "policy.delete");
	store_policy_clear(&p);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "no such policy");
	if (rc != PV_OK)
		return rc;
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
