/*
 * directory/routes_users.c: joiner / mover / leaver (API.md "Users, groups and roles").
 *
 *   POST /v1/users                users.manage  joiner: 201 {"id","one_time_password"},
 *                                               or 202 with "approval","status":"pending"
 *                                               when a role or group would grant PHI
 *                                               access (dual control: the user exists, those
 *                                               roles wait for a security officer)
 *   GET  /v1/users                users.manage
 *   GET  /v1/users/{id}           users.manage
 *   PATCH /v1/users/{id}          users.manage  mover: display_name, email, roles, groups, attributes
 *                                               (never one's own roles or groups: 403)
 *   POST /v1/users/{id}/disable   users.manage  leaver: every session ends at once
 *   POST /v1/users/{id}/enable    users.manage  undo a disable (sessions stay ended)
 *   POST /v1/users/{id}/unlock    users.manage  forget the password and MFA lockouts
 *   POST /v1/users/{id}/reset     users.manage  new one-time password, MFA and recovery
 *                                               codes cleared, lockouts cleared, every
 *                                               session ends
 *   GET  /v1/users?username=NAME  users.manage  zero or one user
 *
 * These handlers are adapters: parse the JSON body into a
 * directory_user_spec, call the operation (users.c) with the request's actor
 * (authn_actor), reply. The checks, the store and the audit are the
 * operation's. What follows describes the operations' rules.
 *
 * Separation of duties: nobody enables, unlocks or resets their own account
 * (a self-reset would trade the second factor for a password the caller
 * already knows): 403, recorded as denied with reason self_account. A reset
 * of a user who holds roles the caller does not (e.g. a clinician) is
 * allowed -- otherwise a clinician who lost a phone could not be helped
 * until dual control exists -- and its user.reset entry names those roles
 * in detail.roles_not_held, so the trail shows an administrator who resets
 * a PHI reader and then logs in as them. Every user records who created it
 * (created_by).
 *
 * No DELETE route (the router answers 405): users are never deleted and
 * their IDs never reused, so the audit trail always names someone.
 * Roles and groups named in a request must exist. Every change goes
 * through the audit writer (user.create / user.update / user.disable) and
 * bumps the authz generation so cached roles re-resolve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/directory_int.h"

static struct directory *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

/* The operation's answer to a failure: its message, else rc as is. */
static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct directory_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* A list of role or group names from body[key]: an array of distinct
 * names (whether they exist is the operation's check). *names points into
 * the request body (arena lifetime). */
static enum pv_rc
names_from_body(struct http_request *req, const char *key, const char *const **names,
    size_t *n, bool *present)
{
	json_t *arr = json_object_get(req->body, key);
	const char **v;
	size_t i, k;

	*present = arr != NULL;
	*n = 0;
	*names = NULL;
	if (arr == NULL)
		return PV_OK;
	if (!json_is_array(arr) || json_array_size(arr) > AUTHN_ROLES_MAX) {
		req->err_message = arena_printf(req->arena, "%s must be an array of at most %d names",
		    key, AUTHN_ROLES_MAX);
		return PV_E_INVALID;
	}
	v = arena_alloc(req->arena, (json_array_size(arr) + 1) * sizeof(*v));
	if (v == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		const char *nm = json_string_value(json_array_get(arr, i));

		if (nm == NULL || strlen(nm) >= STORE_ROLE_MAX || nm[0] == '\0') {
			req->err_message = arena_printf(req->arena, "%s[%zu] must be a name", key, i);
			return PV_E_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(v[k], nm) == 0) {
				req->err_message = arena_printf(req->arena, "%s[%zu] is a duplicate", key,
				    i);
				return PV_E_INVALID;
			}
		v[i] = nm;
	}
	*names = v;
	*n = i;
	return PV_OK;
}

static enum pv_rc
attrs_from_body(struct http_request *req, const char **out)
{
	json_t *a = json_object_get(req->body, "attributes");
	char *txt;

	*out = NULL;
	if (a == NULL)
		return PV_OK;
	if (!json_is_object(a))
		return http_fail(req, PV_E_INVALID, "attributes must be an object");
	txt = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	if (txt == NULL)
		return PV_E_NOMEM;
	*out = arena_strdup(req->arena, txt);
	free(txt);
	return *out != NULL ? PV_OK : PV_E_NOMEM;
}

/* The spec of POST / PATCH from the body (shape only). */
static enum pv_rc
spec_from_body(struct http_request *req, struct directory_user_spec *sp)
{
	enum pv_rc rc;

	if ((rc = http_body_string(req, "display_name", false, STORE_DISPLAY_MAX - 1,
	    &sp->display_name)) != PV_OK ||
	    (rc = http_body_string(req, "email", false, STORE_EMAIL_MAX - 1, &sp->email)) !=
	    PV_OK ||
	    (rc = names_from_body(req, "roles", &sp->roles, &sp->nroles, &sp->set_roles)) !=
	    PV_OK ||
	    (rc = names_from_body(req, "groups", &sp->groups, &sp->ngroups, &sp->set_groups)) !=
	    PV_OK)
		return rc;
	return attrs_from_body(req, &sp->attributes);
}

/* ---- POST /v1/users ---- */

/* The answers of the writes (directory_call: now, or from the commit's
 * completion). */
static enum pv_rc
reply_created(struct http_request *req, struct directory_call *c)
{
	const struct directory_result *res = &c->res;
	json_t *o = json_pack("{s:s, s:s, s:s}", "id", res->id, "username", res->username,
	    "one_time_password", res->one_time_password);

	if (o == NULL)
		return PV_E_NOMEM;
	/* dual control: the user exists; its PHI-granting roles are pending */
	if (res->approval[0] != '\0') {
		json_object_set_new(o, "approval", json_string(res->approval));
		json_object_set_new(o, "status", json_string("pending"));
		return http_reply(req, 202, o);
	}
	return http_reply(req, 201, o);
}

static enum pv_rc
h_user_create(struct http_request *req)
{
	static const char *const allowed[] = { "username", "display_name", "email", "roles",
		"groups", "attributes", NULL };
	struct directory_call *c;
	struct directory_user_spec sp;
	struct pv_actor actor;
	enum pv_rc rc;

	memset(&sp, 0, sizeof(sp));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "username", true, 256, &sp.username)) != PV_OK ||
	    (rc = spec_from_body(req, &sp)) != PV_OK)
		return rc;
	if ((c = directory_call_new(req, reply_created)) == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_user_create(svc_of(req), &actor, &sp, &c->res));
}

/* ---- GET /v1/users, /v1/users/{id} ---- */

struct query_check {
	bool unknown;
};

static void
on_query(void *arg, const char *key, const char *value)
{
	(void)value;
	if (strcmp(key, "username") != 0)
		((struct query_check *)arg)->unknown = true;
}

static enum pv_rc
h_user_list(struct http_request *req)
{
	struct query_check q = { false };
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *arr = NULL;
	enum pv_rc rc;

	http_query_each(req, on_query, &q);
	if (q.unknown)
		return http_fail(req, PV_E_INVALID, "the only query parameter is username");
	authn_actor(req->principal, req->source, &actor);
	rc = directory_user_list(svc_of(req), &actor, http_query(req, "username"), &arr, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "users", arr));
}

static const char *
param_id(struct http_request *req)
{
	return req->nparams >= 1 ? req->params[0] : NULL;
}

static enum pv_rc
h_user_get(struct http_request *req)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	if ((rc = directory_user_get(svc_of(req), &actor, param_id(req), &o, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

/* ---- PATCH /v1/users/{id} ---- */

/* The user as the update left it: read back in the update's own
 * transaction (res.object) when it answered from its completion (a
 * dual-control request included); read now when it waited. */
static enum pv_rc
reply_patched(struct http_request *req, struct directory_call *c)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *o = c->res.object;
	enum pv_rc rc;

	c->res.object = NULL;
	if (o == NULL) {
		authn_actor(req->principal, req->source, &actor);
		memset(&res, 0, sizeof(res));
		if ((rc = directory_user_get(svc_of(req), &actor, c->name, &o, &res)) != PV_OK)
			return op_fail(req, rc, &res);
	}
	/* dual control: the rest took effect; what grants PHI is pending */
	if (c->res.approval[0] != '\0')
		return http_reply(req, 202, json_pack("{s:s, s:s, s:o}", "approval",
		    c->res.approval, "status", "pending", "user", o));
	return http_reply(req, 200, o);
}

static enum pv_rc
h_user_patch(struct http_request *req)
{
	static const char *const allowed[] = { "display_name", "email", "roles", "groups",
		"attributes", "eligible_roles", NULL };
	struct directory_call *c;
	struct directory_user_spec sp;
	struct pv_actor actor;
	const char **fields;
	const char *k;
	json_t *v;
	enum pv_rc rc;

	memset(&sp, 0, sizeof(sp));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = spec_from_body(req, &sp)) != PV_OK ||
	    (rc = names_from_body(req, "eligible_roles", &sp.eligible, &sp.neligible,
	    &sp.set_eligible)) != PV_OK)
		return rc;
	/* the names of the fields sent, for the audit detail */
	if ((fields = arena_alloc(req->arena, (json_object_size(req->body) + 1) *
	    sizeof(*fields))) == NULL)
		return PV_E_NOMEM;
	json_object_foreach(req->body, k, v) {
		(void)v;
		fields[sp.nfields++] = k;
	}
	sp.fields = fields;
	if ((c = directory_call_new(req, reply_patched)) == NULL)
		return PV_E_NOMEM;
	c->name = param_id(req);
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_user_update(svc_of(req), &actor, param_id(req),
	    &sp, &c->res));
}

/* ---- POST /v1/users/{id}/disable|enable|unlock|reset ---- */

static enum pv_rc
reply_disabled(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 200, json_pack("{s:s, s:s, s:i}", "id", c->res.id, "status",
	    "disabled", "sessions_ended", (int)c->res.sessions_ended));
}

static enum pv_rc
reply_enabled(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 200, json_pack("{s:s, s:s, s:s}", "id", c->res.id, "username",
	    c->res.username, "status", "active"));
}

static enum pv_rc
reply_unlocked(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 200, json_pack("{s:s, s:s, s:b}", "id", c->res.id, "username",
	    c->res.username, "unlocked", 1));
}

static enum pv_rc
reply_reset(struct http_request *req, struct directory_call *c)
{
	const struct directory_result *res = &c->res;
	/* the one place the new one-time password appears: this response */
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:b, s:b}", "id", res->id, "username",
	    res->username, "one_time_password", res->one_time_password, "sessions_ended",
	    (int)res->sessions_ended, "must_change_password", 1, "mfa_enabled", 0);

	return o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
}

typedef enum pv_rc (*state_op)(struct directory *d, const struct pv_actor *actor,
    const char *id, struct directory_result *res);

static enum pv_rc
state_route(struct http_request *req, state_op op, directory_reply_fn reply)
{
	struct directory_call *c = directory_call_new(req, reply);
	struct pv_actor actor;

	if (c == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, op(svc_of(req), &actor, param_id(req), &c->res));
}

static enum pv_rc
h_user_disable(struct http_request *req)
{
	return state_route(req, directory_user_disable, reply_disabled);
}

static enum pv_rc
h_user_enable(struct http_request *req)
{
	return state_route(req, directory_user_enable, reply_enabled);
}

static enum pv_rc
h_user_unlock(struct http_request *req)
{
	return state_route(req, directory_user_unlock, reply_unlocked);
}

static enum pv_rc
h_user_reset(struct http_request *req)
{
	return state_route(req, directory_user_reset, reply_reset);
}

enum pv_rc
directory_route_users(struct directory *s, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/users", h_user_create, "users.manage", "user.create",
		    HTTP_ROUTE_BODY, 32768, s },
		{ "GET", "/v1/users", h_user_list, "users.manage", "user.read", 0, 0, s },
		{ "GET", "/v1/users/{id}", h_user_get, "users.manage", "user.read", 0, 0, s },
		{ "PATCH", "/v1/users/{id}", h_user_patch, "users.manage", "user.update",
		    HTTP_ROUTE_BODY, 32768, s },
		{ "POST", "/v1/users/{id}/disable", h_user_disable, "users.manage",
		    "user.disable", 0, 0, s },
		{ "POST", "/v1/users/{id}/enable", h_user_enable, "users.manage",
		    "user.enable", 0, 0, s },
		{ "POST", "/v1/users/{id}/unlock", h_user_unlock, "users.manage",
		    "user.unlock", 0, 0, s },
		{ "POST", "/v1/users/{id}/reset", h_user_reset, "users.manage",
		    "user.reset", 0, 0, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
