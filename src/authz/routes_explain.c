/*
 * routes_explain: POST /v1/authz/explain (API.md "Decision shape").
 *
 *   {"principal":"usr_...","action":"records.read",
 *    "resource":{"collection":"c","record":"rec_...","fields":["ssn"]},
 *    "context":{"source":"10.1.2.3","purpose":"TREAT","time":"..."}}
 *   -> {"allow","reason","policies":["role:<r> <perm>"],
 *       "obligations":{"unmask":[...],"purposes":[...]},"step_up":null}
 *
 * The caller needs roles.manage or audit.read: the decision point's
 * "authz.explain" action (the route itself is "authenticated"), so a denial
 * is audited by it. The answer is authz_decide for that principal at the
 * resource stage, with the policy compiled from its roles (the same cache a
 * session of theirs uses), as a full session (no restriction); nothing is
 * performed and the hypothetical denial is not audited as a denial. The
 * explanation itself is audited, before the answer leaves (fail closed):
 * action authz.explain, resource users/<id>, detail {action, allow, reason}.
 * Unknown principal: 404 not_found. Without resource.fields, unmask lists
 * the field names (or "*") the principal's unmask grants on the collection
 * name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

#define EXPLAIN_BODY_MAX (16 * 1024)

static const char *const POU[] = { "TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH",
	"PUBHLTH", "PATRQT" };

static bool
action_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= 63 || !((s[i] >= 'a' && s[i] <= 'z') || s[i] == '.' || s[i] == '_'))
			return false;
	return i > 0;
}

/* resource / context: optional objects with only the given string keys. */
static enum pv_rc
sub_object(struct http_request *req, const char *name, const char *const *keys, json_t **out)
{
	json_t *o = json_object_get(req->body, name);
	const char *k;
	json_t *val;
	size_t i;

	*out = NULL;
	if (o == NULL || json_is_null(o))
		return PV_OK;
	if (!json_is_object(o))
		return http_fail(req, PV_E_INVALID, arena_printf(req->arena,
		    "'%s' must be an object", name));
	json_object_foreach(o, k, val) {
		bool known = false;

		for (i = 0; keys[i] != NULL && !known; i++)
			known = strcmp(keys[i], k) == 0;
		if (!known || (strcmp(k, "fields") != 0 && strcmp(k, "labels") != 0 &&
		    strcmp(k, "internal") != 0 && strcmp(k, "mfa_age_s") != 0 &&
		    !json_is_string(val)))
			return http_fail(req, PV_E_INVALID, arena_printf(req->arena,
			    "'%s' takes only the members %s", name,
			    name[0] == 'r' ? "collection, record, fields, labels, internal" :
			    "source, purpose, time, mfa_age_s"));
	}
	*out = o;
	return PV_OK;
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
	for (i = 0; collection != NULL && i < pol->n; i++) {
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

static const char *
internal_text(void *arg, const char *name)
{
	return json_string_value(json_object_get(arg, name));
}

static enum pv_rc
h_explain(struct http_request *req)
{
	static const char *const keys[] = { "principal", "action", "resource", "context", NULL };
	static const char *const rkeys[] = { "collection", "record", "fields", "labels",
		"internal", NULL };
	static const char *const ckeys[] = { "source", "purpose", "time", "mfa_age_s", NULL };
	struct authz_service *z = req->route->arg;
	struct authz_request q;
	struct authz_decision d;
	struct authn_principal *who = NULL;
	struct store_user u;
	struct audit_event ev;
	const char *id = NULL, *action = NULL, *fields[AUTHZ_FIELDS_MAX], *labels[16];
	const char *tm;
	json_t *lj, *ij, *mj;
	size_t nlabels = 0;
	json_t *res = NULL, *ctx = NULL, *fl, *el, *out = NULL, *pol_arr = NULL, *pur = NULL;
	char resource[UTIL_ID_MAX + 8];
	char *detail = NULL;
	size_t i, nfields = 0;
	enum pv_rc rc;

	memset(&q, 0, sizeof(q));
	q.subject = req->principal;
	q.action = "authz.explain";
	q.env.source = req->source;
	q.env.time_ms = util_now_ms();
	q.audit = z->audit;
	q.audit_action = "authz.explain";
	q.audit_resource = http_route_resource(req);
	if (authz_decide(&q, &d) != PV_OK)
		return http_fail(req, d.audit_failed ? PV_E_AUDIT : d.rc, d.message);

	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "principal", true, UTIL_ID_MAX, &id)) != PV_OK ||
	    (rc = http_body_string(req, "action", true, 64, &action)) != PV_OK ||
	    (rc = sub_object(req, "resource", rkeys, &res)) != PV_OK ||
	    (rc = sub_object(req, "context", ckeys, &ctx)) != PV_OK)
		return rc;
	if (!util_id_valid("usr", id))
		return http_fail(req, PV_E_INVALID, "'principal' must be a user ID (usr_...)");
	if (!action_name_ok(action))
		return http_fail(req, PV_E_INVALID, "'action' is not an action name");
	memset(&q, 0, sizeof(q));
	q.resource.collection = json_string_value(json_object_get(res, "collection"));
	q.resource.record = json_string_value(json_object_get(res, "record"));
	if (q.resource.collection != NULL && !authz_name_valid(q.resource.collection))
		return http_fail(req, PV_E_INVALID, "'resource.collection' is not a collection name");
	if ((fl = json_object_get(res, "fields")) != NULL) {
		if (!json_is_array(fl) || json_array_size(fl) > AUTHZ_FIELDS_MAX)
			return http_fail(req, PV_E_INVALID, "'resource.fields' must be an array of "
			    "at most 64 field names");
		json_array_foreach(fl, i, el) {
			if (!authz_name_valid(json_string_value(el)) ||
			    strcmp(json_string_value(el), "*") == 0)
				return http_fail(req, PV_E_INVALID, "'resource.fields' must hold field "
				    "names");
			fields[nfields++] = json_string_value(el);
		}
	}

	lj = json_object_get(res, "labels");
	ij = json_object_get(res, "internal");
	if (lj != NULL) {
		if (!json_is_array(lj) || json_array_size(lj) > 16)
			return http_fail(req, PV_E_INVALID, "'resource.labels' must be an array of at "
			    "most 16 label codes");
		json_array_foreach(lj, i, el) {
			if (!json_is_string(el))
				return http_fail(req, PV_E_INVALID, "'resource.labels' must hold strings");
			labels[nlabels++] = json_string_value(el);
		}
	}
	if (ij != NULL && !json_is_object(ij))
		return http_fail(req, PV_E_INVALID, "'resource.internal' must be an object of the "
		    "record's internal field values");
	q.env.time_ms = util_now_ms();
	/* "now" (what milestone 1 callers sent) is now */
	if ((tm = json_string_value(json_object_get(ctx, "time"))) != NULL &&
	    strcmp(tm, "now") != 0 && !iso_time(tm, &q.env.time_ms))
		return http_fail(req, PV_E_INVALID, "'context.time' must be an RFC 3339 time "
		    "(2026-12-01T10:00:00Z)");
	mj = json_object_get(ctx, "mfa_age_s");
	if (mj != NULL && (!json_is_integer(mj) || json_integer_value(mj) < 0 ||
	    json_integer_value(mj) > 31536000))
		return http_fail(req, PV_E_INVALID, "'context.mfa_age_s' must be a number of "
		    "seconds (0 to 31536000)");

	memset(&u, 0, sizeof(u));
	STORE_READ(z->st, rc, store_user_get(tx, id, &u));
	store_user_clear(&u);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "no such principal");
	if (rc != PV_OK)
		return rc;
	if ((who = arena_alloc(req->arena, sizeof(*who))) == NULL)
		return PV_E_NOMEM;
	util_strlcpy(who->user_id, id, sizeof(who->user_id));
	if ((rc = authn_user_roles(z->st, id, who->roles, &who->nroles)) != PV_OK ||
	    (rc = authz_policy_get(z, (const char (*)[AUTHN_ROLE_NAME_MAX])who->roles,
	    who->nroles, req->arena, &who->policy)) != PV_OK ||
	    (rc = authz_principal_attrs(z, who, req->arena)) != PV_OK)
		return rc;
	/* a session that did MFA mfa_age_s ago (absent: none) */
	if (mj != NULL) {
		who->mfa_verified = true;
		who->authenticated_ms = q.env.time_ms - json_integer_value(mj) * 1000;
	}
	if (lj != NULL || ij != NULL) {
		q.resource.loaded = true;
		q.resource.labels = labels;
		q.resource.nlabels = nlabels;
		q.resource.field_text = internal_text;
		q.resource.field_arg = ij;
	}

	q.subject = who;
	q.action = action;
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.fields = fields;
	q.resource.nfields = nfields;
	q.env.source = json_string_value(json_object_get(ctx, "source"));
	q.env.purpose = json_string_value(json_object_get(ctx, "purpose"));
	(void)authz_decide(&q, &d);   /* hypothetical: not audited as a denial */

	/* the explanation is recorded before it leaves */
	snprintf(resource, sizeof(resource), "users/%s", id);
	authz_ev_init(&ev, req->principal, req->source, "authz.explain", resource);
	{
		json_t *dj = json_pack("{s:s, s:b, s:s}", "action", action, "allow", d.allow,
		    "reason", d.reason);

		detail = dj != NULL ? json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(dj);
	}
	if (detail == NULL)
		return PV_E_NOMEM;
	ev.detail = detail;
	rc = audit_record(z->audit, &ev);
	free(detail);
	if (rc != PV_OK)
		return http_fail(req, PV_E_AUDIT, NULL);

	pol_arr = json_array();
	pur = json_array();
	for (i = 0; pol_arr != NULL && i < d.nmatched; i++)
		json_array_append_new(pol_arr, json_string(d.matched[i]));
	for (i = 0; pur != NULL && d.allow && i < sizeof(POU) / sizeof(POU[0]); i++)
		if ((d.purposes & (1u << i)) != 0)
			json_array_append_new(pur, json_string(POU[i]));
	out = json_pack("{s:b, s:s, s:o, s:{s:o, s:o}, s:o}", "allow", d.allow, "reason",
	    d.reason, "policies", pol_arr != NULL ? pol_arr : json_array(), "obligations",
	    "unmask", unmask_list(who->policy, q.resource.collection, &d, fields, nfields),
	    "purposes", pur != NULL ? pur : json_array(), "step_up", d.step_up == NULL ?
	    json_null() : d.step_up_max_age_s >= 0 ? json_pack("{s:s, s:I}", "method", "mfa",
	    "max_age_s", (json_int_t)d.step_up_max_age_s) : json_pack("{s:s}", "method", "mfa"));
	if (out == NULL)
		return PV_E_NOMEM;
	return http_reply(req, 200, out);
}

enum pv_rc
authz_route_explain(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/authz/explain", h_explain, HTTP_PERM_AUTHENTICATED, "authz.explain",
		    HTTP_ROUTE_BODY, EXPLAIN_BODY_MAX, z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
