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
 * The principal's attributes are loaded if its policies test them; the
 * record's labels and internal fields (as if it were loaded), the time
 * (context.time, RFC 3339) and a session's MFA age (context.mfa_age_s;
 * absent: no MFA) come from the question, so conditions on them explain
 * too. A step-up answer says so ("step_up":{"method":"mfa","max_age_s"}).
 * The principal's JIT elevations in force now (authz_elevations_attach, as
 * on each of its requests) add their roles, and "elevations" names them;
 * an elevation that made it an admin without MFA (context.mfa_age_s absent,
 * [auth] mfa_required = admins) answers step_up_required as its session
 * would (authz_elevations_mfa).
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

/* "2026-12-01T10:00:00Z" or with .sss and/or a +hh:mm / -hh:mm offset. */
static bool
iso_time(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, n = 0, frac = 0, nd = 0;
	int64_t days, t;
	const char *p;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return false;
	p = s + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nd++)
			if (nd < 3)
				frac = frac * 10 + (*p - '0');
		while (nd < 3 && nd > 0)
			frac *= 10, nd++;
	}
	if (*p == 'Z' && p[1] == '\0') {
		/* UTC */
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
	    sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && oh <= 23 && om <= 59) {
		if (*p == '-')
			oh = -oh, om = -om;
	} else {
		return false;
	}
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return false;
	/* days from civil (H. Hinnant) */
	{
		int64_t yy = y - (mo <= 2), era = yy / 400, yoe = yy - era * 400;
		int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;

		days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
	}
	t = ((days * 24 + h) * 60 + mi) * 60 + sec - (oh * 3600 + om * 60);
	*ms = t * 1000 + frac;
	return true;
}

/* The question's own shape, after the caller may ask it; *time_ms: the
 * moment it is asked about. */
static enum pv_rc
query_check(const struct authz_explain_query *x, int64_t *time_ms, struct authz_result *res)
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
	if (x->nlabels > AUTHZ_EXPLAIN_LABELS_MAX || (x->nlabels > 0 && x->labels == NULL))
		return fail(res, PV_E_INVALID, "'resource.labels' must be an array of at "
		    "most 16 label codes");
	for (i = 0; i < x->nlabels; i++)
		if (x->labels[i] == NULL)
			return fail(res, PV_E_INVALID, "'resource.labels' must hold strings");
	*time_ms = util_now_ms();
	/* "now" (what milestone 1 callers sent) is now */
	if (x->time != NULL && strcmp(x->time, "now") != 0 && !iso_time(x->time, time_ms))
		return fail(res, PV_E_INVALID, "'context.time' must be an RFC 3339 time "
		    "(2026-12-01T10:00:00Z)");
	if (x->mfa_given && (x->mfa_age_s < 0 || x->mfa_age_s > 31536000))
		return fail(res, PV_E_INVALID, "'context.mfa_age_s' must be a number of "
		    "seconds (0 to 31536000)");
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
	struct authz_permset *set = NULL;
	struct audit_event ev;
	json_t *o = NULL, *pol_arr = NULL, *pur = NULL, *elv = NULL;
	bool enrolled;
	char resource[UTIL_ID_MAX + 8];
	char *detail = NULL;
	int64_t time_ms = 0;
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
	if ((rc = query_check(x, &time_ms, res)) != PV_OK)
		return rc;

	memset(&u, 0, sizeof(u));
	STORE_READ(z->st, rc, store_user_get(tx, x->principal, &u));
	enrolled = rc == PV_OK && u.mfa_enabled;
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
	who->mfa_enrolled = enrolled;
	/* a session that did MFA mfa_age_s ago (not given: none) */
	if (x->mfa_given) {
		who->mfa_verified = true;
		who->authenticated_ms = time_ms - x->mfa_age_s * 1000;
	}
	/* the roles of its elevations in force now count, as on its requests
	 * (authz_authenticate); the answer names them */
	if ((rc = authn_user_roles(z->st, x->principal, who->roles, &who->nroles)) != PV_OK ||
	    (rc = authz_elevations_attach(z, who)) != PV_OK ||
	    (rc = authz_policy_get(z, (const char (*)[AUTHN_ROLE_NAME_MAX])who->roles,
	    who->nroles, arena, &who->policy)) != PV_OK ||
	    (rc = authz_principal_attrs(z, who, arena)) != PV_OK)
		goto out;
	if (who->nelevations > 0) {
		if ((set = malloc(sizeof(*set))) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		if ((rc = authz_resolve(z, (const char (*)[AUTHN_ROLE_NAME_MAX])who->roles,
		    who->nroles, set)) != PV_OK)
			goto out;
		authz_elevations_mfa(z, who, set);   /* the MFA an elevated admin owes */
	}

	memset(&q, 0, sizeof(q));
	q.subject = who;
	q.action = x->action;
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = x->collection;
	q.resource.record = x->record;
	q.resource.fields = x->fields;
	q.resource.nfields = x->nfields;
	if (x->record_loaded) {
		q.resource.loaded = true;
		q.resource.labels = x->labels;
		q.resource.nlabels = x->nlabels;
		q.resource.field_text = x->internal_text;
		q.resource.field_arg = x->internal_arg;
	}
	q.env.source = x->source;
	q.env.purpose = x->purpose;
	q.env.time_ms = time_ms;
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
	/* held: the answer leaves after the entry's fsync, nobody waiting */
	if (audit_record_held(z->audit, &ev, true) != PV_OK) {
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
	elv = json_array();
	for (i = 0; elv != NULL && i < who->nelevations; i++)
		json_array_append_new(elv, json_string(who->elevations[i]));
	o = json_pack("{s:b, s:s, s:o, s:{s:o, s:o}, s:o, s:o}", "allow", d.allow, "reason",
	    d.reason, "policies", pol_arr != NULL ? pol_arr : json_array(), "obligations",
	    "unmask", unmask_list(who->policy, x->collection, &d, x->fields, x->nfields),
	    "purposes", pur != NULL ? pur : json_array(), "step_up", d.step_up == NULL ?
	    json_null() : d.step_up_max_age_s >= 0 ? json_pack("{s:s, s:I}", "method", "mfa",
	    "max_age_s", (json_int_t)d.step_up_max_age_s) : json_pack("{s:s}", "method", "mfa"),
	    "elevations", elv != NULL ? elv : json_array());
	if (o == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	*out = o;
	rc = PV_OK;
out:
	free(set);
	free(detail);
	arena_free(arena);
	return rc;
}
