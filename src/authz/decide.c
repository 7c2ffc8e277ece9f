/*
 * decide: the one decision point (authz.h "the one decision point").
 *
 * Input: subject (principal with its compiled policy and session facts),
 * action, resource attributes (collection, record, field names),
 * environment (time, source, purpose of use). Output: allow/deny, a stable
 * reason, the grants that matched and the obligations (purposes this grant
 * may be used for, the fields that may leave in clear, alert and step-up:
 * none yet).
 *
 * Order (first that applies decides):
 *   unknown action                         -> deny unknown_action (403)
 *   "public"                               -> allow
 *   no subject                             -> deny unauthenticated (401, not audited:
 *                                             there is no actor)
 *   an app whose source is outside its
 *   networks                               -> deny network_not_allowed (403)
 *   restricted session, unless the action
 *   is "authenticated" on a restricted_ok
 *   route                                  -> deny restricted_session (403)
 *   an app asking users.manage, roles.manage,
 *   apps.manage or access.approve          -> deny app_forbidden_permission (403)
 *   "authenticated"                        -> allow
 *   no grant covers the action             -> deny missing_permission:<perm>
 *                                             ("(invalid)" for a malformed one;
 *                                             "forbidden" for any-of actions)
 *   at the resource stage, a PHI read
 *   (records.read, tokens.detokenize):
 *     purpose missing or not HL7           -> deny purpose_required (400)
 *     ETREAT without role break_glass      -> deny purpose_not_allowed (403)
 *     purpose outside the union of the
 *     purposes of the matching grants      -> deny purpose_not_allowed (403)
 *   otherwise                              -> allow, reason "allowed"
 *
 * Pure: reads only the request and the policy the principal carries; the
 * only side effect is the audit entry of a denial (r->audit set).
 *
 * Compilation (authz_policy_compile): each role's permissions become
 * grants tagged with the role and with the purposes its condition allows
 * (built-in roles carry no condition: every purpose). The result is
 * immutable and cached by the wiring (service.c) under the authn
 * generation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

#define DENIED_MSG "Permission denied: your roles do not grant this operation"

enum kind {
	K_PUBLIC,
	K_AUTHENTICATED,
	K_PLAIN,                         /* a plain verb */
	K_SCOPED,                        /* verb:<collection> */
	K_UNMASK,                        /* records.unmask:<collection>.<each field> */
	K_ANY,                           /* any of alt[] (scoped ones on the collection) */
};

struct alt {
	const char *verb;                /* NULL ends the list */
	bool scoped;
};

struct action {
	const char *name;
	enum kind kind;
	bool phi_read;                   /* purpose of use weighed at the resource */
	bool verb_unmasks;               /* obligation: fields that may be clear */
	struct alt alt[4];
};

static const struct action actions[] = {
	{ "public", K_PUBLIC, false, false, { { NULL, false } } },
	{ "authenticated", K_AUTHENTICATED, false, false, { { NULL, false } } },
	{ "users.manage", K_PLAIN, false, false, { { NULL, false } } },
	{ "roles.manage", K_PLAIN, false, false, { { NULL, false } } },
	{ "collections.manage", K_PLAIN, false, false, { { NULL, false } } },
	{ "keys.manage", K_PLAIN, false, false, { { NULL, false } } },
	{ "audit.read", K_PLAIN, false, false, { { NULL, false } } },
	{ "alerts.read", K_PLAIN, false, false, { { NULL, false } } },
	{ "compliance.read", K_PLAIN, false, false, { { NULL, false } } },
	{ "sys.backup", K_PLAIN, false, false, { { NULL, false } } },
	{ "records.read", K_SCOPED, true, true, { { NULL, false } } },
	{ "records.write", K_SCOPED, false, false, { { NULL, false } } },
	{ "records.unmask", K_UNMASK, false, false, { { NULL, false } } },
	{ "tokens.tokenize", K_SCOPED, false, false, { { NULL, false } } },
	{ "tokens.detokenize", K_SCOPED, true, false, { { NULL, false } } },
	/* the schema holds no PHI: managers and readers or writers of it */
	{ "collections.read", K_ANY, false, false, { { "collections.manage", false },
	    { "records.read", true }, { "records.write", true }, { NULL, false } } },
	{ "authz.explain", K_ANY, false, false, { { "roles.manage", false },
	    { "audit.read", false }, { NULL, false } } },
	{ "metrics.read", K_PLAIN, false, false, { { NULL, false } } },
	{ "apps.manage", K_PLAIN, false, false, { { NULL, false } } },
};

static const struct action *
action_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

/* ---------------------------------------------------------------- compile */

unsigned
authz_condition_purposes(const char *condition)
{
	json_t *c = condition != NULL ? json_loads(condition, 0, NULL) : NULL;
	json_t *list = json_object_get(c, "purposes"), *el;
	unsigned set = 0, bit;
	size_t i;

	if (list == NULL) {
		set = AUTHZ_POU_ALL;
	} else if (json_is_string(list)) {
		if (authz_purpose_list_parse(json_string_value(list), &set) != PV_OK)
			set = 0;
	} else {
		/* an unknown code in a stored list allows nothing */
		json_array_foreach(list, i, el)
			if (authz_purpose_parse(json_string_value(el), &bit) == PV_OK)
				set |= bit;
	}
	json_decref(c);
	return set;
}

static enum pv_rc
grant_add(struct authz_policy *pol, const char *perm, unsigned purposes, size_t role)
{
	struct authz_grant *g;

	if (pol->n >= AUTHZ_GRANTS_MAX)
		return PV_E_TOOBIG;
	g = &pol->g[pol->n];
	if (authz_perm_parse(perm, &g->perm) != PV_OK)
		return PV_E_INVALID;
	g->purposes = purposes;
	g->role = (uint8_t)role;
	pol->n++;
	return PV_OK;
}

static enum pv_rc
compile_custom(struct authz_policy *pol, size_t role, const char *perms, const char *cond)
{
	json_t *arr = json_loads(perms, 0, NULL);
	unsigned purposes = authz_condition_purposes(cond);
	enum pv_rc rc = PV_OK;
	size_t i;

	if (!json_is_array(arr)) {
		json_decref(arr);
		log_error("authz: role permissions are not a JSON array");
		return PV_E_INTEGRITY;
	}
	for (i = 0; i < json_array_size(arr) && rc == PV_OK; i++) {
		const char *perm = json_string_value(json_array_get(arr, i));

		rc = perm != NULL ? grant_add(pol, perm, purposes, role) : PV_E_INVALID;
		if (rc == PV_E_INVALID) {
			/* validated at creation; a damaged row grants nothing more */
			log_error("authz: role holds an invalid permission; skipped");
			rc = PV_OK;
		}
	}
	json_decref(arr);
	return rc;
}

size_t
authz_policy_size(const struct authz_policy *pol)
{
	return sizeof(*pol) + pol->n * sizeof(pol->g[0]);
}

enum pv_rc
authz_policy_compile(authz_role_lookup_fn lookup, void *arg,
    const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles, uint64_t epoch,
    struct authz_policy **out)
{
	struct authz_policy *pol, *shrunk;
	enum pv_rc rc = PV_OK;
	size_t i, k, nb;

	if (nroles > AUTHN_ROLES_MAX || out == NULL)
		return PV_E_TOOBIG;
	pol = calloc(1, sizeof(*pol) + AUTHZ_GRANTS_MAX * sizeof(pol->g[0]));
	if (pol == NULL)
		return PV_E_NOMEM;
	pol->epoch = epoch;
	for (i = 0; i < nroles && rc == PV_OK; i++) {
		const char *const *b = authz_builtin_role(roles[i], &nb);
		char *perms = NULL, *cond = NULL;

		util_strlcpy(pol->roles[i], roles[i], sizeof(pol->roles[i]));
		pol->nroles = i + 1;
		if (b != NULL) {
			if (strcmp(roles[i], "break_glass") == 0)
				pol->break_glass = true;
			for (k = 0; k < nb && rc == PV_OK; k++)
				rc = grant_add(pol, b[k], AUTHZ_POU_ALL, i);
			continue;
		}
		if (lookup == NULL)
			continue;
		rc = lookup(arg, roles[i], &perms, &cond);
		if (rc == PV_E_NOTFOUND) {
			rc = PV_OK;   /* grants nothing */
			continue;
		}
		if (rc == PV_OK)
			rc = compile_custom(pol, i, perms, cond);
		free(perms);
		free(cond);
	}
	if (rc != PV_OK) {
		free(pol);
		return rc;
	}
	shrunk = realloc(pol, authz_policy_size(pol));
	*out = shrunk != NULL ? shrunk : pol;
	return PV_OK;
}

/* ---------------------------------------------------------------- decide */

static int
deny(struct authz_decision *d, enum pv_rc rc, const char *reason, const char *msg)
{
	d->allow = false;
	d->rc = rc;
	util_strlcpy(d->reason, reason, sizeof(d->reason));
	d->message = msg;
	return 0;
}

static void
matched_add(struct authz_decision *d, const struct authz_policy *pol, const struct authz_grant *g)
{
	char perm[AUTHZ_PERM_MAX];

	if (d->nmatched >= AUTHZ_MATCHED_MAX || authz_perm_format(&g->perm, perm) != PV_OK)
		return;
	snprintf(d->matched[d->nmatched++], AUTHZ_RULE_MAX, "role:%s %s",
	    g->role < pol->nroles ? pol->roles[g->role] : "?", perm);
}

/* Do the grants cover perm? Adds the covering grants to matched and their
 * purposes to *purposes. */
static bool
covered(const struct authz_policy *pol, const char *perm, struct authz_decision *d,
    unsigned *purposes)
{
	struct authz_perm r;
	bool any = false;
	size_t i;

	if (pol == NULL || authz_perm_parse(perm, &r) != PV_OK)
		return false;
	for (i = 0; i < pol->n; i++) {
		if (!authz_perm_covers(&pol->g[i].perm, &r))
			continue;
		any = true;
		if (purposes != NULL)
			*purposes |= pol->g[i].purposes;
		if (d != NULL)
			matched_add(d, pol, &pol->g[i]);
	}
	return any;
}

static bool
scoped_perm(char *buf, size_t len, const char *verb, const char *collection)
{
	int n = snprintf(buf, len, "%s:%s", verb, collection != NULL ? collection : "");

	return n > 0 && (size_t)n < len;
}

static uint64_t
unmask_set(const struct authz_policy *pol, const struct authz_request *r)
{
	char perm[AUTHZ_PERM_MAX];
	uint64_t bits = 0;
	size_t i;

	for (i = 0; i < r->resource.nfields && i < AUTHZ_FIELDS_MAX; i++) {
		int n = snprintf(perm, sizeof(perm), "records.unmask:%s.%s",
		    r->resource.collection != NULL ? r->resource.collection : "",
		    r->resource.fields[i] != NULL ? r->resource.fields[i] : "");

		if (n > 0 && (size_t)n < sizeof(perm) && covered(pol, perm, NULL, NULL))
			bits |= (uint64_t)1 << i;
	}
	return bits;
}

bool
authz_app_forbidden(const char *perm)
{
	static const char *const never[] = { "users.manage", "roles.manage", "apps.manage",
		"access.approve" };
	size_t i;

	for (i = 0; perm != NULL && i < sizeof(never) / sizeof(never[0]); i++)
		if (strcmp(perm, never[i]) == 0)
			return true;
	return false;
}

/* An app principal's source against its networks (authn cidr.c; the
 * policies work adds a CIDR condition here too: to be one matcher). */
static bool
app_source_allowed(const struct authn_principal *p, const char *source)
{
	size_t i;

	if (source == NULL || source[0] == '\0')
		source = p->source;
	for (i = 0; i < p->nnetworks && i < AUTHN_APP_NETWORKS_MAX; i++)
		if (authn_cidr_match(&p->networks[i], source))
			return true;
	return false;
}

static int
decide(const struct authz_request *r, struct authz_decision *d)
{
	const struct action *a = action_find(r->action);
	const struct authn_principal *p = r->subject;
	const struct authz_policy *pol = p != NULL ? p->policy : NULL;
	char perm[AUTHZ_PERM_MAX], reason[AUTHZ_REASON_MAX];
	unsigned purposes = 0, bit = 0;
	size_t i;

	if (a == NULL)
		return deny(d, PV_E_FORBIDDEN, "unknown_action", DENIED_MSG);
	if (a->kind == K_PUBLIC)
		goto allow;
	if (p == NULL)
		return deny(d, PV_E_UNAUTH, "unauthenticated", NULL);
	/* an app's network list holds on every request of its tokens */
	if (p->app && !app_source_allowed(p, r->env.source))
		return deny(d, PV_E_NETWORK, "network_not_allowed",
		    "This app may not call from this network");
	if (p->restricted) {
		if (a->kind == K_AUTHENTICATED && r->restricted_ok)
			goto allow;
		return deny(d, PV_E_RESTRICTED, "restricted_session", NULL);
	}
	/* never an app's, whatever its roles say (issue 10) */
	if (p->app && authz_app_forbidden(a->name))
		return deny(d, PV_E_FORBIDDEN, "app_forbidden_permission",
		    "Apps cannot hold this permission");
	switch (a->kind) {
	case K_AUTHENTICATED:
		goto allow;
	case K_PLAIN:
		if (!covered(pol, a->name, d, &purposes)) {
			snprintf(reason, sizeof(reason), "missing_permission:%s", a->name);
			return deny(d, PV_E_FORBIDDEN, reason, DENIED_MSG);
		}
		break;
	case K_SCOPED:
		if (!scoped_perm(perm, sizeof(perm), a->name, r->resource.collection) ||
		    !authz_perm_valid(perm)) {
			return deny(d, PV_E_FORBIDDEN, "missing_permission:(invalid)", DENIED_MSG);
		}
		if (!covered(pol, perm, d, &purposes)) {
			snprintf(reason, sizeof(reason), "missing_permission:%s", perm);
			return deny(d, PV_E_FORBIDDEN, reason, DENIED_MSG);
		}
		break;
	case K_UNMASK:
		d->unmask = unmask_set(pol, r);
		for (i = 0; i < r->resource.nfields && i < AUTHZ_FIELDS_MAX; i++) {
			if ((d->unmask & ((uint64_t)1 << i)) != 0)
				continue;
			snprintf(reason, sizeof(reason), "missing_permission:records.unmask:%s.%s",
			    r->resource.collection != NULL ? r->resource.collection : "",
			    r->resource.fields[i] != NULL ? r->resource.fields[i] : "");
			return deny(d, PV_E_FORBIDDEN, authz_perm_valid(reason +
			    sizeof("missing_permission:") - 1) ? reason :
			    "missing_permission:(invalid)", DENIED_MSG);
		}
		if (r->resource.nfields == 0 || r->resource.nfields > AUTHZ_FIELDS_MAX)
			return deny(d, PV_E_FORBIDDEN, "missing_permission:(invalid)", DENIED_MSG);
		purposes = AUTHZ_POU_ALL;
		break;
	case K_ANY: {
		bool ok = false;

		for (i = 0; a->alt[i].verb != NULL && !ok; i++) {
			if (!a->alt[i].scoped)
				ok = covered(pol, a->alt[i].verb, d, &purposes);
			else if (scoped_perm(perm, sizeof(perm), a->alt[i].verb,
			    r->resource.collection))
				ok = covered(pol, perm, d, &purposes);
		}
		if (!ok)
			return deny(d, PV_E_FORBIDDEN, "forbidden", DENIED_MSG);
		break;
	}
	default:
		return deny(d, PV_E_FORBIDDEN, "unknown_action", DENIED_MSG);
	}
	d->purposes = purposes;
	if (a->phi_read && r->stage == AUTHZ_AT_RESOURCE) {
		if (authz_purpose_parse(r->env.purpose, &bit) != PV_OK)
			return deny(d, PV_E_PURPOSE, "purpose_required",
			    "X-Purpose-Of-Use must carry an HL7 PurposeOfUse code "
			    "(TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH, PATRQT)");
		if (bit == AUTHZ_POU_ETREAT && (pol == NULL || !pol->break_glass))
			return deny(d, PV_E_FORBIDDEN, "purpose_not_allowed",
			    "ETREAT is for break-glass sessions");
		if ((purposes & bit) == 0)
			return deny(d, PV_E_FORBIDDEN, "purpose_not_allowed",
			    "your roles do not allow this purpose of use");
	}
	if (a->phi_read && a->verb_unmasks && r->resource.nfields > 0)
		d->unmask = unmask_set(pol, r);
allow:
	d->allow = true;
	d->rc = PV_OK;
	util_strlcpy(d->reason, "allowed", sizeof(d->reason));
	d->message = NULL;
	return 1;
}

enum pv_rc
authz_audit_denial(struct audit *audit, const struct authz_request *r,
    const struct authz_decision *d)
{
	struct audit_event ev;

	authz_ev_init(&ev, r->subject, r->env.source, r->audit_action,
	    r->audit_resource != NULL ? r->audit_resource : "access");
	ev.outcome = AUDIT_DENIED;
	ev.reason = d->reason;
	/* a valid purpose that was refused is part of the record; a missing or
	 * malformed header is request data, not recorded */
	ev.purpose_of_use = strcmp(d->reason, "purpose_not_allowed") == 0 ? r->env.purpose : NULL;
	ev.detail = r->audit_detail;
	return audit_record(audit, &ev);
}

enum pv_rc
authz_decide(const struct authz_request *r, struct authz_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (r == NULL) {
		deny(d, PV_E_FORBIDDEN, "unknown_action", DENIED_MSG);
		return d->rc;
	}
	(void)decide(r, d);
	if (!d->allow && d->rc != PV_E_UNAUTH && r->audit != NULL && r->audit_action != NULL &&
	    authz_audit_denial(r->audit, r, d) != PV_OK) {
		log_error("authz: denial not recorded");
		d->audit_failed = true;
	}
	return d->rc;
}
