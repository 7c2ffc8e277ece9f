/*
 * directory/dualctl.c: the directory's side of dual control (authz
 * approvals.c; docs/access-control.md "Dual control"). Classifies what a
 * set of roles and groups would grant before a user or group change is
 * applied:
 *  - a role granting PHI access (records.read / write / unmask,
 *    tokens.detokenize, authz_role_traits) needs an approval;
 *  - a group carrying such a role needs one unless it is an approved
 *    mapping (its group.create request was approved: an approved group
 *    covers its members, so HR / SCIM membership changes need none);
 *  - a role or group carrying access.approve (security_officer) is
 *    refused outright: the approvers are set only with the seal's
 *    authority (officers.c).
 */
#include <stdio.h>
#include <string.h>

#include "authz/authz.h"
#include "directory/directory_int.h"

static enum pv_rc
group_traits(struct store_tx *tx, const char *name, bool *phi, bool *officer)
{
	struct store_group g;
	json_t *roles;
	size_t i;
	enum pv_rc rc;

	*phi = *officer = false;
	if ((rc = store_group_get(tx, name, &g)) != PV_OK)
		return rc;
	roles = json_loads(g.roles, 0, NULL);
	store_group_clear(&g);
	if (roles == NULL || !json_is_array(roles)) {
		json_decref(roles);
		return PV_E_INTEGRITY;
	}
	for (i = 0; i < json_array_size(roles); i++) {
		const char *r = json_string_value(json_array_get(roles, i));
		bool p = false, o = false;

		if (r == NULL)
			continue;
		rc = authz_role_traits(tx, r, &p, &o);
		if (rc != PV_OK && rc != PV_E_NOTFOUND)
			break;
		rc = PV_OK;
		*phi = *phi || p;
		*officer = *officer || o;
	}
	json_decref(roles);
	return rc;
}

enum pv_rc
directory_gate_check(struct directory *s, const char *const *roles, size_t nroles,
    const char *const *groups, size_t ngroups, struct directory_gate *g)
{
	struct store_tx *tx = NULL;
	size_t i;
	enum pv_rc rc;

	memset(g, 0, sizeof(*g));
	if (nroles > AUTHN_ROLES_MAX || ngroups > AUTHN_ROLES_MAX)
		return PV_E_INVALID;
	if ((rc = store_begin(s->st, STORE_RD, &tx)) != PV_OK)
		return rc;
	for (i = 0; i < nroles && rc == PV_OK; i++) {
		bool phi = false, off = false;

		rc = authz_role_traits(tx, roles[i], &phi, &off);
		if (rc == PV_E_NOTFOUND)
			rc = PV_OK;   /* names_exist decided that already */
		g->role_phi[i] = phi;
		g->phi = g->phi || phi;
		g->officer = g->officer || off;
	}
	for (i = 0; i < ngroups && rc == PV_OK; i++) {
		bool phi = false, off = false, approved = false;
		char target[STORE_ROLE_MAX + 8];

		rc = group_traits(tx, groups[i], &phi, &off);
		if (rc == PV_E_NOTFOUND)
			rc = PV_OK;
		if (rc == PV_OK && phi) {
			snprintf(target, sizeof(target), "groups/%s", groups[i]);
			rc = store_approval_applied(tx, "group.create", target, &approved);
		}
		g->group_phi[i] = phi && !approved;
		g->phi = g->phi || g->group_phi[i];
		g->officer = g->officer || off;
	}
	store_end(tx);
	return rc;
}

enum pv_rc
directory_officer_refused(struct directory *s, const struct pv_actor *actor,
    const char *action, const char *resource, struct directory_result *res)
{
	struct audit_event ev;

	directory_event_init(&ev, actor, action, resource);
	ev.outcome = AUDIT_DENIED;
	ev.reason = "officer_reserved";
	if (directory_refusal(s, &ev) != PV_OK)
		return PV_E_AUDIT;
	return directory_fail(res, PV_E_OFFICER_RESERVED, "security_officer (access.approve) is "
	    "set only with the seal's authority: phivault officer add");
}

/* authn_oidc_group_gate_fn: may a user signing in through the IdP be put in
 * this group by the groups claim? The rules of an HR / SCIM membership
 * change: a group carrying access.approve never; a group granting PHI only
 * if it is an approved mapping (its group.create was approved); any other
 * group yes. */
enum pv_rc
directory_oidc_group_gate(void *arg, struct store_tx *tx, const char *group, bool *allowed)
{
	char target[STORE_ROLE_MAX + 8];
	bool phi = false, off = false, approved = false;
	enum pv_rc rc;

	(void)arg;
	*allowed = false;
	if ((rc = group_traits(tx, group, &phi, &off)) != PV_OK)
		return rc == PV_E_NOTFOUND ? PV_OK : rc;
	if (off)
		return PV_OK;
	if (phi) {
		snprintf(target, sizeof(target), "groups/%s", group);
		if ((rc = store_approval_applied(tx, "group.create", target, &approved)) != PV_OK)
			return rc;
	}
	*allowed = !phi || approved;
	return PV_OK;
}

/* ---- a request that commits with its change ---- */

enum pv_rc
directory_request_init(struct directory *s, const struct pv_actor *actor,
    struct directory_request *q, const char *kind, const char *target, json_t *change)
{
	enum pv_rc rc;

	memset(q, 0, sizeof(*q));
	if (change == NULL)
		return PV_E_NOMEM;
	q->authz = s->authz;
	q->actor = *actor;
	util_strlcpy(q->kind, kind, sizeof(q->kind));
	util_strlcpy(q->target, target, sizeof(q->target));
	q->change = change;
	/* the answer names it: made before the submit */
	if ((rc = util_id_new("apr", q->id)) != PV_OK)
		directory_request_clear(q);
	return rc;
}

enum pv_rc
directory_request_file(struct store_tx *tx, const struct directory_request *q)
{
	if (q == NULL || q->id[0] == '\0')
		return PV_OK;
	return authz_approval_request_tx(q->authz, tx, &q->actor, q->kind, q->target, q->change,
	    q->id);
}

void
directory_request_move(struct directory_request *to, struct directory_request *from)
{
	*to = *from;
	memset(from, 0, sizeof(*from));
}

void
directory_request_clear(struct directory_request *q)
{
	if (q == NULL)
		return;
	json_decref(q->change);
	memset(q, 0, sizeof(*q));
}
