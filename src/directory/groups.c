/*
 * directory/groups.c: groups, named sets of roles that their members
 * inherit (directory.h "groups"). A group is created once and never
 * deleted or renamed (memberships refer to it; the trail names it).
 *
 * Invariants: every role a group names exists when the group is made
 * (roles are never deleted either); the group row and its group.create
 * entry commit together or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "directory/directory_int.h"

/* The row the write owns (roles: its JSON text, malloc'd). */
struct group_job {
	struct store_group g;
};

static enum pv_rc
group_fn(struct store_tx *tx, void *arg)
{
	return store_group_put(tx, &((struct group_job *)arg)->g);
}

static void
group_free(void *arg)
{
	struct group_job *j = arg;

	if (j != NULL)
		free(j->g.roles);
	free(j);
}

static enum pv_rc
group_finish(struct directory *z, enum pv_rc rc, void *arg, struct directory_result *res)
{
	(void)arg;
	if (rc == PV_E_CONFLICT)
		return directory_fail(res, rc, "a group with this name exists");
	if (rc == PV_OK)
		directory_changed(z);
	return rc;
}

/* Every name a distinct, existing role. */
static enum pv_rc
roles_check(struct directory *z, const struct directory_group_spec *sp,
    struct directory_result *res)
{
	size_t i, k;
	enum pv_rc rc;

	if (sp->nroles > AUTHN_ROLES_MAX)
		return directory_fail(res, PV_E_INVALID, "roles must be an array of role names");
	for (i = 0; i < sp->nroles; i++) {
		const char *r = sp->roles[i];
		struct store_role sr;

		if (r == NULL || !authz_role_name_valid(r)) {
			snprintf(res->message, sizeof(res->message), "roles[%zu] must be a role name", i);
			return PV_E_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(r, sp->roles[k]) == 0) {
				snprintf(res->message, sizeof(res->message), "roles[%zu] is a duplicate", i);
				return PV_E_INVALID;
			}
		STORE_READ(z->st, rc, store_role_get(tx, r, &sr));
		if (rc == PV_OK)
			store_role_clear(&sr);
		if (rc == PV_E_NOTFOUND) {
			snprintf(res->message, sizeof(res->message),
			    "roles[%zu] does not exist (see GET /v1/roles)", i);
			return PV_E_INVALID;
		}
		if (rc != PV_OK)
			return rc;
	}
	return PV_OK;
}

/* A group carrying a PHI-granting role is a mapping that needs an approval
 * (dual control); the group exists once a security officer approves, and
 * from then on covers its members without further approvals. */
static enum pv_rc
group_pending(struct directory *z, const struct pv_actor *actor,
    const struct directory_group_spec *sp, const char *target, struct directory_result *res)
{
	struct store_group g;
	json_t *roles = json_array(), *change;
	size_t i;
	enum pv_rc rc;

	if (z->authz == NULL) {
		json_decref(roles);
		return directory_fail(res, PV_E_STATE, "PHI access needs dual control, which "
		    "this caller cannot request");
	}
	STORE_READ(z->st, rc, store_group_get(tx, sp->name, &g));
	if (rc == PV_OK) {
		store_group_clear(&g);
		json_decref(roles);
		return directory_fail(res, PV_E_CONFLICT, "a group with this name exists");
	}
	if (rc != PV_E_NOTFOUND) {
		json_decref(roles);
		return rc;
	}
	for (i = 0; roles != NULL && i < sp->nroles; i++)
		json_array_append_new(roles, json_string(sp->roles[i]));
	if ((change = json_pack("{s:s, s:o}", "name", sp->name, "roles", roles)) == NULL)
		return PV_E_NOMEM;
	rc = authz_approval_request(z->authz, actor, "group.create", target, change,
	    res->approval);
	json_decref(change);
	return rc;
}

enum pv_rc
directory_group_create(struct directory *z, const struct pv_actor *actor,
    const struct directory_group_spec *sp, struct directory_result *res)
{
	struct directory_write w = { group_fn, NULL, group_free, group_finish, COMMIT_REQUEST };
	struct group_job *j = NULL;
	struct directory_gate gate;
	struct audit_event ev;
	json_t *arr = NULL;
	char r[128], *rtxt = NULL, *detail = NULL;
	size_t i;
	enum pv_rc rc;

	directory_result_reset(res);
	if (sp->name == NULL || !authz_name_valid(sp->name))
		return directory_fail(res, PV_E_INVALID, "name must match [a-z][a-z0-9_]{0,62}");
	if ((rc = roles_check(z, sp, res)) != PV_OK)
		return rc;
	if ((rc = directory_gate_check(z, sp->roles, sp->nroles, NULL, 0, &gate)) != PV_OK)
		return rc;
	snprintf(r, sizeof(r), "groups/%s", sp->name);
	if (gate.officer)
		return directory_officer_refused(z, actor, "group.create", r, res);
	if (gate.phi)
		return group_pending(z, actor, sp, r, res);
	if ((arr = json_array()) == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < sp->nroles; i++)
		if (json_array_append_new(arr, json_string(sp->roles[i])) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	rtxt = json_dumps(arr, JSON_COMPACT);
	if (rtxt == NULL || asprintf(&detail, "{\"roles\":%s}", rtxt) < 0) {
		detail = NULL;
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	util_strlcpy(j->g.name, sp->name, sizeof(j->g.name));
	j->g.roles = rtxt;   /* the job's now */
	rtxt = NULL;
	j->g.created_ms = util_now_ms();
	memset(&ev, 0, sizeof(ev));
	ev.actor = *actor;
	ev.action = "group.create";
	ev.resource = r;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	w.job = j;
	/* with res->done, answered from the completion (group_finish) */
	rc = directory_write_creating(z, &ev, &w, NULL, &j->g, res);
out:
	json_decref(arr);
	free(rtxt);
	free(detail);
	return rc;
}

static int
on_group(const struct store_group *g, void *arg)
{
	json_t *roles = json_loads(g->roles, 0, NULL);
	json_t *o = json_pack("{s:s, s:o}", "name", g->name, "roles", roles ? roles : json_array());

	if (o != NULL)
		json_array_append_new(arg, o);
	return 0;
}

enum pv_rc
directory_group_list(struct directory *z, const struct pv_actor *actor, json_t **out,
    struct directory_result *res)
{
	json_t *arr = json_array();
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	if (arr == NULL)
		return PV_E_NOMEM;
	STORE_READ(z->st, rc, store_group_list(tx, on_group, arr));
	if (rc != PV_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return PV_OK;
}
