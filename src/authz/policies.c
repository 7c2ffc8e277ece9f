/*
 * policies.c: the access policy operations (authz.h "access policy
 * operations"; API.md "Policies (ABAC, conditional access)",
 * docs/access-control.md), apart from HTTP: authz_policy_create, _update,
 * _delete, _read and _list. routes_policies.c adapts them to REST; the CLI
 * (`phivault policy`) goes through those routes.
 *
 * Each operation takes the actor and a definition in API terms, checks it
 * with authz_policy_check (the compiler itself, so what is stored always
 * compiles) before anything is written, and makes every change one
 * transaction with its audit entry (policy.create, policy.update,
 * policy.delete; resource policies/<name>; detail: effect, actions,
 * resources, condition, version: the definition, which holds no PHI),
 * submitted without a waiting thread (authz_commit_held: the answer
 * leaves after the fsync). A committed change bumps the authz generation
 * (authn_authz_changed) after the commit and before the answer leaves, so
 * the very next request of every session decides under the new set. Reads are
 * not audited here (the route permission roles.manage guards them; the
 * router records its denials).
 *
 * On failure res->message (if not empty) is the caller-facing reason.
 *
 * Dual control: a create or update whose result is an allow policy over a
 * PHI action (authz_policy_actions_grant_phi: records.read / write /
 * unmask, tokens.detokenize, or "*" / "records.*" / "tokens.*") writes
 * nothing but a pending approval request (kind policy.put, approvals.c),
 * applied in the approval's commit; the stored policy (if any) stays as
 * it is until then. Deny policies, allow policies over other actions and
 * every delete take effect at once (they add no PHI access).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

static enum pv_rc
fail(struct authz_policy_result *res, enum pv_rc rc, const char *msg)
{
	util_strlcpy(res->message, msg, sizeof(res->message));
	return rc;
}

static const char *
actor_id(const struct pv_actor *a)
{
	return a->user_id != NULL ? a->user_id : "";
}

/* The API representation of p; NULL on allocation failure. */
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

/* The definition into p (texts malloc'd; store_policy_clear), checked by
 * the compiler. */
static enum pv_rc
definition(const struct authz_policy_def *def, const char *name, struct store_policy *p,
    struct authz_policy_result *res)
{
	struct authz_policy_src src;
	char why[192];
	enum pv_rc rc;

	if (def->effect == NULL)
		return fail(res, PV_E_INVALID, "effect is required");
	if (strcmp(def->effect, "allow") != 0 && strcmp(def->effect, "deny") != 0)
		return fail(res, PV_E_INVALID, "effect must be \"allow\" or \"deny\"");
	if (def->actions == NULL)
		return fail(res, PV_E_INVALID, "actions must be a non-empty array of action "
		    "names (e.g. \"records.read\", \"records.*\")");
	if (def->condition != NULL && !json_is_null(def->condition) &&
	    !json_is_object(def->condition))
		return fail(res, PV_E_INVALID, "condition must be an object");
	memset(p, 0, sizeof(*p));
	util_strlcpy(p->name, name, sizeof(p->name));
	p->deny = strcmp(def->effect, "deny") == 0;
	p->actions = json_dumps(def->actions, JSON_COMPACT | JSON_ENCODE_ANY);
	p->resources = def->resources != NULL ?
	    json_dumps(def->resources, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("[]");
	p->condition = def->condition != NULL && json_is_object(def->condition) ?
	    json_dumps(def->condition, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
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
		return fail(res, PV_E_INVALID, why[0] ? why : "invalid policy");
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

/* A change, owned by the commit (authz_commit_held): a copy of the row. */
struct policy_job {
	enum op op;
	struct store_policy p;
};

static enum pv_rc
policy_fn(struct store_tx *tx, void *arg)
{
	struct policy_job *j = arg;

	switch (j->op) {
	case OP_PUT:
		return store_policy_put(tx, &j->p);
	case OP_UPDATE:
		return store_policy_update(tx, &j->p);
	default:
		return store_policy_delete(tx, j->p.name);
	}
}

static void
policy_job_free(void *arg)
{
	struct policy_job *j = arg;

	store_policy_clear(&j->p);
	free(j);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* One change and its entry, then the generation: the next request of every
 * session decides under it. From a request nobody waits: PV_OK means
 * queued, the answer the caller builds (from p, its own) leaves after the
 * fsync, the generation moved before it does, and a failure of the
 * transaction replaces it (an update whose base version changed meanwhile:
 * 409; a create whose name was taken meanwhile: 409; a delete of a policy
 * gone meanwhile: 404). Off a request thread, fn's rc as before. */
static enum pv_rc
commit_change(struct authz_service *z, const struct pv_actor *actor, enum op op,
    const struct store_policy *p, const char *action)
{
	struct policy_job *j;
	struct audit_event ev;
	char res[96], *detail = op == OP_DELETE ? NULL : detail_of(p);
	enum pv_rc rc;

	if ((op != OP_DELETE && detail == NULL) || (j = calloc(1, sizeof(*j))) == NULL) {
		free(detail);
		return PV_E_NOMEM;
	}
	j->op = op;
	j->p = *p;
	j->p.actions = dup_or_null(p->actions);
	j->p.resources = dup_or_null(p->resources);
	j->p.condition = dup_or_null(p->condition);
	if ((p->actions != NULL && j->p.actions == NULL) ||
	    (p->resources != NULL && j->p.resources == NULL) ||
	    (p->condition != NULL && j->p.condition == NULL)) {
		policy_job_free(j);
		free(detail);
		return PV_E_NOMEM;
	}
	snprintf(res, sizeof(res), "policies/%s", p->name);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *actor;
	ev.action = action;
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	rc = authz_commit_held(z, &ev, policy_fn, j, policy_job_free,
	    AUTHZ_HELD_BUMP | (op == OP_UPDATE ? AUTHZ_HELD_LOST_IS_CONFLICT : 0u));
	free(detail);
	return rc;
}

/* The stored policy called name (PV_E_NOTFOUND with its message). */
static enum pv_rc
load(struct authz_service *z, const char *name, struct store_policy *p,
    struct authz_policy_result *res)
{
	enum pv_rc rc;

	memset(p, 0, sizeof(*p));
	if (name == NULL || !authz_name_valid(name))
		return fail(res, PV_E_NOTFOUND, "no such policy");
	STORE_READ(z->st, rc, store_policy_get(tx, name, p));
	if (rc == PV_E_NOTFOUND)
		return fail(res, PV_E_NOTFOUND, "no such policy");
	return rc;
}

/* Dual control: store the definition p as a pending policy.put request
 * against version base (0: create); *out = {"approval","status","name"}. */
static enum pv_rc
request_phi(struct authz_service *z, const struct pv_actor *actor, const struct store_policy *p,
    int64_t base, json_t **out, struct authz_policy_result *res)
{
	char target[96];
	json_t *c, *o;
	enum pv_rc rc;

	c = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I}", "name", p->name, "effect", "allow",
	    "actions", json_loads(p->actions, 0, NULL), "resources",
	    json_loads(p->resources, 0, NULL), "condition", json_loads(p->condition, 0, NULL),
	    "version", (json_int_t)base);
	if (c == NULL)
		return PV_E_NOMEM;
	snprintf(target, sizeof(target), "policies/%s", p->name);
	rc = authz_approval_request(z, actor, "policy.put", target, c, res->approval);
	json_decref(c);
	if (rc != PV_OK)
		return rc;
	if (out == NULL)
		return PV_OK;
	if ((o = json_pack("{s:s, s:s, s:s}", "approval", res->approval, "status", "pending",
	    "name", p->name)) == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

static bool
grants_phi(const struct store_policy *p)
{
	return !p->deny && authz_policy_actions_grant_phi(p->actions);
}

/* A json answer into *out, or PV_E_NOMEM. */
static enum pv_rc
answer(const struct store_policy *p, json_t **out)
{
	json_t *o = out != NULL ? policy_json(p) : NULL;

	if (out == NULL)
		return PV_OK;
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

enum pv_rc
authz_policy_create(struct authz_service *z, const struct pv_actor *actor,
    const struct authz_policy_def *def, json_t **out, struct authz_policy_result *res)
{
	struct store_policy p;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	res->message[0] = '\0';
	res->approval[0] = '\0';
	if (def->name == NULL || def->name[0] == '\0')
		return fail(res, PV_E_INVALID, "name is required");
	if (strlen(def->name) >= STORE_POLICY_NAME_MAX || !authz_name_valid(def->name) ||
	    strcmp(def->name, "*") == 0)
		return fail(res, PV_E_INVALID, "name must match [a-z][a-z0-9_]{0,62}");
	if ((rc = definition(def, def->name, &p, res)) != PV_OK)
		return rc;
	util_strlcpy(p.created_by, actor_id(actor), sizeof(p.created_by));
	util_strlcpy(p.updated_by, actor_id(actor), sizeof(p.updated_by));
	p.created_ms = p.updated_ms = now;
	p.version = 1;
	if (grants_phi(&p)) {
		struct store_policy cur;

		STORE_READ(z->st, rc, store_policy_get(tx, p.name, &cur));
		if (rc == PV_OK) {
			store_policy_clear(&cur);
			rc = fail(res, PV_E_CONFLICT, "a policy with this name exists");
		} else if (rc == PV_E_NOTFOUND) {
			rc = request_phi(z, actor, &p, 0, out, res);
		}
		store_policy_clear(&p);
		return rc;
	}
	rc = commit_change(z, actor, OP_PUT, &p, "policy.create");
	if (rc == PV_OK)
		rc = answer(&p, out);
	else if (rc == PV_E_CONFLICT)
		rc = fail(res, PV_E_CONFLICT, "a policy with this name exists");
	store_policy_clear(&p);
	return rc;
}

enum pv_rc
authz_policy_update(struct authz_service *z, const struct pv_actor *actor, const char *name,
    const struct authz_policy_def *def, json_t **out, struct authz_policy_result *res)
{
	struct store_policy cur, p;
	enum pv_rc rc;

	res->message[0] = '\0';
	res->approval[0] = '\0';
	if ((rc = load(z, name, &cur, res)) != PV_OK)
		return rc;
	if (def->name != NULL && strcmp(def->name, cur.name) != 0) {
		store_policy_clear(&cur);
		return fail(res, PV_E_INVALID, "name cannot change (delete and create)");
	}
	if ((rc = definition(def, cur.name, &p, res)) != PV_OK) {
		store_policy_clear(&cur);
		return rc;
	}
	util_strlcpy(p.created_by, cur.created_by, sizeof(p.created_by));
	p.created_ms = cur.created_ms;
	util_strlcpy(p.updated_by, actor_id(actor), sizeof(p.updated_by));
	p.updated_ms = util_now_ms();
	p.version = cur.version + 1;
	if (grants_phi(&p)) {
		rc = request_phi(z, actor, &p, cur.version, out, res);
		store_policy_clear(&cur);
		store_policy_clear(&p);
		return rc;
	}
	store_policy_clear(&cur);
	rc = commit_change(z, actor, OP_UPDATE, &p, "policy.update");
	if (rc == PV_OK)
		rc = answer(&p, out);
	else if (rc == PV_E_NOTFOUND)   /* changed or deleted meanwhile */
		rc = fail(res, PV_E_CONFLICT, "the policy changed meanwhile; read it again");
	store_policy_clear(&p);
	return rc;
}

enum pv_rc
authz_policy_delete(struct authz_service *z, const struct pv_actor *actor, const char *name,
    struct authz_policy_result *res)
{
	struct store_policy p;
	enum pv_rc rc;

	res->message[0] = '\0';
	res->approval[0] = '\0';
	if ((rc = load(z, name, &p, res)) != PV_OK)
		return rc;
	rc = commit_change(z, actor, OP_DELETE, &p, "policy.delete");
	store_policy_clear(&p);
	if (rc == PV_E_NOTFOUND)
		return fail(res, PV_E_NOTFOUND, "no such policy");
	return rc;
}

enum pv_rc
authz_policy_read(struct authz_service *z, const struct pv_actor *actor, const char *name,
    json_t **out, struct authz_policy_result *res)
{
	struct store_policy p;
	enum pv_rc rc;

	(void)actor;   /* the route's roles.manage decided it */
	res->message[0] = '\0';
	if ((rc = load(z, name, &p, res)) != PV_OK)
		return rc;
	rc = answer(&p, out);
	store_policy_clear(&p);
	return rc;
}

static int
on_policy_row(const struct store_policy *p, void *arg)
{
	json_t *o = policy_json(p);

	if (o == NULL || json_array_append_new(arg, o) != 0)
		return 1;
	return 0;
}

enum pv_rc
authz_policy_list(struct authz_service *z, const struct pv_actor *actor, json_t **out,
    struct authz_policy_result *res)
{
	json_t *arr = json_array();
	enum pv_rc rc;

	(void)actor;
	res->message[0] = '\0';
	if (arr == NULL)
		return PV_E_NOMEM;
	STORE_READ(z->st, rc, store_policy_list(tx, on_policy_row, arr));
	if (rc != PV_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return PV_OK;
}
