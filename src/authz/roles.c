/*
 * authz/roles.c: custom roles as operations (authz.h "operations apart
 * from HTTP"): authz_role_create and authz_role_list. routes_roles.c is
 * the REST adapter; groups are the directory's.
 *
 * A custom role is checked by authz_role_def_check (no "*" permission, no
 * built-in name, no duplicate). Its condition is a condition of the access
 * policy language (cond.c: purposes, source, time, mfa, principal, labels,
 * match, all/any/not): shorthand for an allow rule under that condition,
 * evaluated by the same engine. A condition the engine does not know is
 * refused rather than stored and ignored: a role must never grant more
 * than its definition says.
 *
 * Invariants: roles are never deleted (memberships refer to them; the
 * trail names them); the role row and its role.create entry commit
 * together or not at all (authz_commit_held: from a request nobody waits
 * for the fsync, the answer leaves after it); a new role bumps the authz
 * generation, after the commit and before the answer leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

static enum pv_rc
fail(struct authz_result *res, enum pv_rc rc, const char *msg)
{
	util_strlcpy(res->message, msg != NULL ? msg : "", sizeof(res->message));
	return rc;
}

/* A role condition: absent, null, or an object in the condition language
 * of access policies (cond.c, docs/access-control.md): the role's grants
 * hold only while it does. Checked by the compiler itself. */
static enum pv_rc
condition_check(const json_t *cond, struct authz_result *res)
{
	char why[192], *text;
	enum pv_rc rc;

	if (cond == NULL || json_is_null(cond))
		return PV_OK;
	if (!json_is_object(cond))
		return fail(res, PV_E_INVALID, "condition must be an object");
	if ((text = json_dumps(cond, JSON_COMPACT)) == NULL)
		return PV_E_NOMEM;
	rc = authz_condition_check(text, why, sizeof(why));
	free(text);
	if (rc == PV_E_INVALID) {
		snprintf(res->message, sizeof(res->message), "condition: %s", why);
		return PV_E_INVALID;
	}
	return rc;
}

/* A role with access.approve: refused, and the refusal recorded. */
static enum pv_rc
officer_refused(struct authz_service *z, const struct authz_caller *c, const char *name,
    struct authz_result *res)
{
	struct audit_event ev;
	char rname[128];

	snprintf(rname, sizeof(rname), "roles/%s", name);
	authz_ev_init(&ev, c->subject, c->source, "role.create", rname);
	ev.outcome = AUDIT_DENIED;
	ev.reason = "officer_reserved";
	/* the 403 leaves once its entry is durable, nobody waiting */
	if (audit_record_held(z->audit, &ev, true) != PV_OK)
		return PV_E_AUDIT;
	return fail(res, PV_E_OFFICER_RESERVED, "access.approve is set only with the seal's "
	    "authority (phivault officer), never in a role");
}

/* A role that grants PHI access: a pending request (dual control); the role
 * exists once a security officer approves it. */
static enum pv_rc
role_pending(struct authz_service *z, const struct authz_caller *c,
    const struct authz_role_spec *sp, json_t **out, struct authz_result *res)
{
	struct store_role r;
	struct pv_actor actor;
	json_t *change, *perms = json_array();
	char target[128];
	size_t i;
	enum pv_rc rc;

	STORE_READ(z->st, rc, store_role_get(tx, sp->name, &r));
	if (rc == PV_OK) {
		store_role_clear(&r);
		json_decref(perms);
		return fail(res, PV_E_CONFLICT, "a role with this name exists");
	}
	if (rc != PV_E_NOTFOUND) {
		json_decref(perms);
		return rc;
	}
	for (i = 0; perms != NULL && i < sp->npermissions; i++)
		json_array_append_new(perms, json_string(sp->permissions[i]));
	change = json_pack("{s:s, s:o, s:o}", "name", sp->name, "permissions", perms,
	    "condition", sp->condition != NULL && json_is_object(sp->condition) ?
	    json_deep_copy(sp->condition) : json_object());
	if (change == NULL)
		return PV_E_NOMEM;
	snprintf(target, sizeof(target), "roles/%s", sp->name);
	authn_actor(c->subject, c->source, &actor);
	rc = authz_approval_request(z, &actor, "role.create", target, change, res->approval);
	json_decref(change);
	if (rc != PV_OK)
		return rc;
	if ((*out = json_pack("{s:s, s:s, s:s}", "approval", res->approval, "status", "pending",
	    "name", sp->name)) == NULL)
		return PV_E_NOMEM;
	return PV_OK;
}

/* The row to store, owned by the commit (authz_commit_held). */
struct role_job {
	struct store_role r;
};

static enum pv_rc
role_fn(struct store_tx *tx, void *arg)
{
	return store_role_put(tx, &((struct role_job *)arg)->r);
}

static void
role_free(void *arg)
{
	struct role_job *j = arg;

	store_role_clear(&j->r);
	free(j);
}

enum pv_rc
authz_role_create(struct authz_service *z, const struct authz_caller *c,
    const struct authz_role_spec *sp, json_t **out, struct authz_result *res)
{
	const json_t *cond = sp->condition;
	json_t *arr = NULL, *o;
	struct store_role r;
	struct role_job *j;
	struct audit_event ev;
	char why[160], rname[128], *ptxt = NULL, *ctxt = NULL, *detail = NULL;
	size_t i;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (sp->name == NULL || strlen(sp->name) >= AUTHZ_NAME_MAX)
		return fail(res, PV_E_INVALID, "name must be a role name");
	if (sp->npermissions == 0 || sp->npermissions > AUTHZ_PERMSET_MAX)
		return fail(res, PV_E_INVALID, "permissions must be a non-empty array of "
		    "permission strings");
	if ((rc = condition_check(cond, res)) != PV_OK)
		return rc;
	for (i = 0; i < sp->npermissions; i++)
		if (sp->permissions[i] == NULL) {
			snprintf(res->message, sizeof(res->message),
			    "permissions[%zu] must be a string", i);
			return PV_E_INVALID;
		}
	rc = authz_role_def_check(sp->name, sp->permissions, sp->npermissions,
	    why, sizeof(why));
	if (rc == PV_E_CONFLICT)
		return fail(res, PV_E_CONFLICT, "a built-in role has this name");
	if (rc != PV_OK)
		return fail(res, PV_E_INVALID, why);
	/* the approvers are set with the seal's authority only (phivault officer) */
	for (i = 0; i < sp->npermissions; i++)
		if (authz_perm_is_officer(sp->permissions[i]))
			return officer_refused(z, c, sp->name, res);
	for (i = 0; i < sp->npermissions; i++)
		if (authz_perm_grants_phi(sp->permissions[i]))
			return role_pending(z, c, sp, out, res);
	if ((arr = json_array()) == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < sp->npermissions; i++)
		if (json_array_append_new(arr, json_string(sp->permissions[i])) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	if ((ptxt = json_dumps(arr, JSON_COMPACT)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	memset(&r, 0, sizeof(r));
	util_strlcpy(r.name, sp->name, sizeof(r.name));
	r.permissions = ptxt;
	ctxt = cond != NULL && json_is_object(cond) ? json_dumps(cond, JSON_COMPACT | JSON_SORT_KEYS)
	    : strdup("{}");
	if (ctxt == NULL || asprintf(&detail, "{\"permissions\":%s}", ptxt) < 0) {
		detail = NULL;
		rc = PV_E_NOMEM;
		goto out;
	}
	r.condition = ctxt;
	r.created_ms = util_now_ms();
	snprintf(rname, sizeof(rname), "roles/%s", sp->name);
	authz_ev_init(&ev, c->subject, c->source, "role.create", rname);
	ev.detail = detail;
	/* the answer is the definition, built before the commit, which runs
	 * later on the committer with a copy of the row it owns; a name taken
	 * meanwhile comes back as its 409 from inside the transaction; the
	 * new role moves the generation before the answer leaves */
	o = json_pack("{s:s, s:O, s:o, s:b}", "name", sp->name, "permissions", arr,
	    "condition", cond != NULL && json_is_object(cond) ? json_deep_copy(cond) :
	    json_object(), "builtin", 0);
	if (o == NULL || (j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(o);
		rc = PV_E_NOMEM;
		goto out;
	}
	j->r = r;
	j->r.permissions = strdup(ptxt);
	j->r.condition = strdup(ctxt);
	if (j->r.permissions == NULL || j->r.condition == NULL) {
		role_free(j);
		json_decref(o);
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = authz_commit_held(z, &ev, role_fn, j, role_free, AUTHZ_HELD_BUMP);
	if (rc != PV_OK) {
		json_decref(o);
		if (rc == PV_E_CONFLICT)
			fail(res, PV_E_CONFLICT, "a role with this name exists");
		goto out;
	}
	*out = o;
out:
	json_decref(arr);
	free(ptxt);
	free(ctxt);
	free(detail);
	return rc;
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

enum pv_rc
authz_role_list(struct authz_service *z, const struct authz_caller *c, json_t **out,
    struct authz_result *res)
{
	json_t *arr = json_array();
	enum pv_rc rc;

	(void)c;
	memset(res, 0, sizeof(*res));
	if (arr == NULL)
		return PV_E_NOMEM;
	STORE_READ(z->st, rc, store_role_list(tx, on_role, arr));
	if (rc != PV_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return PV_OK;
}
