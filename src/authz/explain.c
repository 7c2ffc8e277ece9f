/*
 * authz/explain.c: authz_explain, the operation behind POST
 * /v1/authz/explain (API.md "Decision shape"): why would the decision
 * point allow or deny this principal this action on this resource?
 *
 * The caller needs roles.manage or audit.read: the decision point's
 * "authz.explain" action, decided first (a denial is audited by
 * authz_decide itself). The answer is authz_decide for that principal at
 * the resource stage, with the policy compiled from its roles (the same
 * cache a session of theirs uses), as a full session (no restriction);
 * nothing is performed and the hypothetical denial is not audited as a
 * denial. The explanation itself is audited, before the answer is
 * returned (fail closed): action authz.explain, resource users/<id>,
 * detail {action, allow, reason}. Without fields, unmask lists the field
 * names (or "*") the principal's unmask grants on the collection name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

static const char *const POU[] = { "TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH",
	"PUBHLTH", "PATRQT" };

static enum pv_rc
fail(struct authz_result *res, enum pv_rc rc, const char *msg)
{
	util_strlcpy(res->message, msg != NULL ? msg : "", sizeof(res->message));
	return rc;
}

static bool
action_name_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= 63 || !((s[i] >= 'a' && s[i] <= 'z') || s[i] == '.' || s[i] == '_'))
			return false;
	return i > 0;
}

static json_t *
unmask_list(const struct authz_policy *pol, const char *collection,
    const struct authz_decision *d, const char *const *fields, size_t nfields)
{
	json_t *a = json_array();
	size_t i;

	if (a == NULL || !d->allow)
		return a;
	if (nfields > 0) {
		for (i = 0; i < nfields; i++)
			if ((d->unmask & ((uint64_t)1 << i)) != 0)
				json_array_append_new(a, json_string(fields[i]));
		return a;
	}
	for (i = 0; pol != NULL && collection != NULL && i < pol->n; i++) {
		const struct authz_perm *p = &pol->g[i].perm;

		if (p->verb == AUTHZ_RECORDS_UNMASK && (strcmp(p->collection, "*") == 0 ||
		    strcmp(p->collection, collection) == 0))
			json_array_append_new(a, json_string(p->field));
	}
	return a;
}

/* The question's own shape, after the caller may ask it. */
static enum pv_rc
query_check(const struct authz_explain_query *x, struct authz_result *res)
{
	size_t i;

	if (x->principal == NULL || !util_id_valid("usr", x->principal))
		return fail(res, PV_E_INVALID, "'principal' must be a user ID (usr_...)");
	if (!action_name_ok(x->action))
		return fail(res, PV_E_INVALID, "'action' is not an action name");
	if (x->collection != NULL && !authz_name_valid(x->collection))
		return fail(res, PV_E_INVALID, "'resource.collection' is not a collection name");
	if (x->nfields > AUTHZ_FIELDS_MAX || (x->nfields > 0 && x->fields == NULL))
		return fail(res, PV_E_INVALID, "'resource.fields' must be an array of "
		    "at most 64 field names");
	for (i = 0; i < x->nfields; i++)
		if (!authz_name_valid(x->fields[i]) || strcmp(x->fields[i], "*") == 0)
			return fail(res, PV_E_INVALID, "'resource.fields' must hold field names");
	return PV_OK;
}

enum pv_rc
authz_explain(struct authz_service *z, const struct authz_caller *c,
    const struct authz_explain_query *x, json_t **out, struct authz_result *res)
{
	struct authz_request q;
	struct authz_decision d;
	struct authn_principal *who = NULL;
	struct pv_arena *arena = NULL;
	struct store_user u;
	struct audit_event ev;
	json_t *o = NULL, *pol_arr = NULL, *pur = NULL;
	char resource[UTIL_ID_MAX + 8];
	char *detail = NULL;
	size_t i;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&q, 0, sizeof(q));
	q.subject = c->subject;
	q.action = "authz.explain";
	q.env.source = c->source;
	q.env.time_ms = util_now_ms();
	q.audit = z->audit;
	q.audit_action = "authz.explain";
	q.audit_resource = "authz/explain";
	if (authz_decide(&q, &d) != PV_OK)
		return fail(res, d.audit_failed ? PV_E_AUDIT : d.rc, d.message);
	if ((rc = query_check(x, res)) != PV_OK)
		return rc;

	memset(&u, 0, sizeof(u));
	STORE_READ(z->st, rc, store_user_get(tx, x->principal, &u));
	store_user_clear(&u);
	if (rc == PV_E_NOTFOUND)
		return fail(res, PV_E_NOTFOUND, "no such principal");
	if (rc != PV_OK)
		return rc;
	if ((arena = arena_new(4096)) == NULL ||
	    (who = arena_alloc(arena, sizeof(*who))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	util_strlcpy(who->user_id, x->principal, sizeof(who->user_id));
	if ((rc = authn_user_roles(z->st, x->principal, who->roles, &who->nroles)) != PV_OK ||
	    (rc = authz_policy_get(z, (const char (*)[AUTHN_ROLE_NAME_MAX])who->roles,
	    who->nroles, arena, &who->policy)) != PV_OK)
		goto out;

	memset(&q, 0, sizeof(q));
	q.subject = who;
	q.action = x->action;
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = x->collection;
	q.resource.record = x->record;
	q.resource.fields = x->fields;
	q.resource.nfields = x->nfields;
	q.env.source = x->source;
	q.env.purpose = x->purpose;
	q.env.time_ms = util_now_ms();
	(void)authz_decide(&q, &d);   /* hypothetical: not audited as a denial */

	/* the explanation is recorded before it leaves */
	snprintf(resource, sizeof(resource), "users/%s", x->principal);
	authz_ev_init(&ev, c->subject, c->source, "authz.explain", resource);
	{
		json_t *dj = json_pack("{s:s, s:b, s:s}", "action", x->action, "allow", d.allow,
		    "reason", d.reason);

		detail = dj != NULL ? json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(dj);
	}
	if (detail == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	ev.detail = detail;
	if (audit_record(z->audit, &ev) != PV_OK) {
		rc = PV_E_AUDIT;
		goto out;
	}

	pol_arr = json_array();
	pur = json_array();
	for (i = 0; pol_arr != NULL && i < d.nmatched; i++)
		json_array_append_new(pol_arr, json_string(d.matched[i]));
	for (i = 0; pur != NULL && d.allow && i < sizeof(POU) / sizeof(POU[0]); i++)
		if ((d.purposes & (1u << i)) != 0)
			json_array_append_new(pur, json_string(POU[i]));
	o = json_pack("{s:b, s:s, s:o, s:{s:o, s:o}, s:n}", "allow", d.allow, "reason",
	    d.reason, "policies", pol_arr != NULL ? pol_arr : json_array(), "obligations",
	    "unmask", unmask_list(who->policy, x->collection, &d, x->fields, x->nfields),
	    "purposes", pur != NULL ? pur : json_array(), "step_up");
	if (o == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	*out = o;
	rc = PV_OK;
out:
	free(detail);
	arena_free(arena);
	return rc;
}
