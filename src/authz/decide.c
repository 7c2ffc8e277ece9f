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
 *   an elevation gave a session without MFA
 *   a role [auth] mfa_required = admins
 *   counts as admin (elevation_mfa_owed)   -> deny step_up_required (401)
 *   no grant covers the action             -> deny missing_permission:<perm>
 *                                             ("(invalid)" for a malformed one;
 *                                             "forbidden" for any-of actions)
 *   at the resource stage, a PHI read with
 *   purpose ETREAT: the break-glass grant's, and only its (docs/internals/
 *   authz.md "Break-glass"):
 *     without role break_glass             -> deny purpose_not_allowed (403)
 *     no grant in force at env.time_ms     -> deny breakglass_inactive (403)
 *     not records.read                     -> deny breakglass_scope (403)
 *     a loaded record of another subject
 *     (resource.subject_ref)               -> deny breakglass_other_subject (403)
 *     a deny policy                        -> as below
 *     otherwise allow, every field clear, matched "breakglass:<grant>"
 *   records.read that no grant covers, by a
 *   holder of a grant in force             -> at the route: allow (provisional);
 *                                             at the resource: purpose missing ->
 *                                             purpose_required, other than ETREAT ->
 *                                             purpose_not_allowed
 *   at the resource stage, a PHI read
 *   (records.read, tokens.detokenize):
 *     purpose missing or not HL7           -> deny purpose_required (400)
 *     purpose outside the union of the
 *     purposes of the matching grants      -> deny purpose_not_allowed (403)
 *   dual control (r->approval): the subject
 *   is the requester or the change's user  -> deny self_approval (403)
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
#include <stddef.h>
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
	enum authz_verb id;
	bool scoped;
};

struct action {
	const char *name;
	enum kind kind;
	bool phi_read;                   /* purpose of use weighed at the resource */
	bool verb_unmasks;               /* obligation: fields that may be clear */
	struct alt alt[4];
	/* the permission's verb (K_PLAIN, K_SCOPED): the permission required is
	 * built from it (authz_perm_scoped), never written and parsed again */
	enum authz_verb verb;
};

#define NO_ALT { { NULL, AUTHZ_VERB_NONE, false } }

static const struct action actions[] = {
	{ "public", K_PUBLIC, false, false, NO_ALT, AUTHZ_VERB_NONE },
	{ "authenticated", K_AUTHENTICATED, false, false, NO_ALT, AUTHZ_VERB_NONE },
	{ "users.manage", K_PLAIN, false, false, NO_ALT, AUTHZ_USERS_MANAGE },
	{ "roles.manage", K_PLAIN, false, false, NO_ALT, AUTHZ_ROLES_MANAGE },
	{ "collections.manage", K_PLAIN, false, false, NO_ALT, AUTHZ_COLLECTIONS_MANAGE },
	{ "keys.manage", K_PLAIN, false, false, NO_ALT, AUTHZ_KEYS_MANAGE },
	{ "audit.read", K_PLAIN, false, false, NO_ALT, AUTHZ_AUDIT_READ },
	{ "alerts.read", K_PLAIN, false, false, NO_ALT, AUTHZ_ALERTS_READ },
	{ "compliance.read", K_PLAIN, false, false, NO_ALT, AUTHZ_COMPLIANCE_READ },
	{ "sys.backup", K_PLAIN, false, false, NO_ALT, AUTHZ_SYS_BACKUP },
	{ "records.read", K_SCOPED, true, true, NO_ALT, AUTHZ_RECORDS_READ },
	{ "records.write", K_SCOPED, false, false, NO_ALT, AUTHZ_RECORDS_WRITE },
	{ "records.unmask", K_UNMASK, false, false, NO_ALT, AUTHZ_RECORDS_UNMASK },
	{ "tokens.tokenize", K_SCOPED, false, false, NO_ALT, AUTHZ_TOKENS_TOKENIZE },
	{ "tokens.detokenize", K_SCOPED, true, false, NO_ALT, AUTHZ_TOKENS_DETOKENIZE },
	/* the schema holds no PHI: managers and readers or writers of it */
	{ "collections.read", K_ANY, false, false, {
	    { "collections.manage", AUTHZ_COLLECTIONS_MANAGE, false },
	    { "records.read", AUTHZ_RECORDS_READ, true },
	    { "records.write", AUTHZ_RECORDS_WRITE, true },
	    { NULL, AUTHZ_VERB_NONE, false } }, AUTHZ_VERB_NONE },
	{ "authz.explain", K_ANY, false, false, {
	    { "roles.manage", AUTHZ_ROLES_MANAGE, false },
	    { "audit.read", AUTHZ_AUDIT_READ, false },
	    { NULL, AUTHZ_VERB_NONE, false } }, AUTHZ_VERB_NONE },
	{ "metrics.read", K_PLAIN, false, false, NO_ALT, AUTHZ_METRICS_READ },
	{ "apps.manage", K_PLAIN, false, false, NO_ALT, AUTHZ_APPS_MANAGE },
	{ "scim.provision", K_PLAIN, false, false, NO_ALT, AUTHZ_SCIM_PROVISION },
	{ "records.shred", K_PLAIN, false, false, NO_ALT, AUTHZ_RECORDS_SHRED },
	/* application secrets: scoped by a path prefix, resource.collection
	 * carries the secret's path; not PHI, so no purpose of use */
	{ "secrets.read", K_SCOPED, false, false, NO_ALT, AUTHZ_SECRETS_READ },
	{ "secrets.write", K_SCOPED, false, false, NO_ALT, AUTHZ_SECRETS_WRITE },
	{ "access.approve", K_PLAIN, false, false, NO_ALT, AUTHZ_ACCESS_APPROVE },
	{ "breakglass.activate", K_PLAIN, false, false, NO_ALT, AUTHZ_BREAKGLASS_ACTIVATE },
	{ "incidents.manage", K_PLAIN, false, false, NO_ALT, AUTHZ_INCIDENTS_MANAGE },
	/* de-identified export of a collection; exports.read: any export */
	{ "records.export", K_SCOPED, false, false, NO_ALT, AUTHZ_RECORDS_EXPORT },
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

/* Work state of one compilation: grants in a full-size array, the
 * condition area, the access policies. */
struct comp {
	struct authz_policy *pol;        /* header + AUTHZ_GRANTS_MAX grants */
	struct authz_cbuf cb;
	struct authz_rule *rules;
	size_t nrules;
};

static enum pv_rc
grant_add(struct authz_policy *pol, const char *perm, unsigned purposes, size_t role,
    int32_t cond)
{
	struct authz_grant *g;

	if (pol->n >= AUTHZ_GRANTS_MAX)
		return PV_E_TOOBIG;
	g = &pol->g[pol->n];
	if (authz_perm_parse(perm, &g->perm) != PV_OK)
		return PV_E_INVALID;
	g->purposes = purposes;
	g->role = (uint8_t)role;
	g->cond = cond;
	pol->n++;
	return PV_OK;
}

static enum pv_rc
compile_custom(struct comp *c, size_t role, const char *perms, const char *cond)
{
	struct authz_policy *pol = c->pol;
	json_t *arr = json_loads(perms, 0, NULL);
	json_t *cj = cond != NULL ? json_loads(cond, 0, NULL) : NULL;
	unsigned purposes = authz_condition_purposes(cond);
	enum pv_rc rc = PV_OK;
	int32_t root = 0;
	size_t i;

	if (!json_is_array(arr)) {
		json_decref(arr);
		json_decref(cj);
		log_error("authz: role permissions are not a JSON array");
		return PV_E_INTEGRITY;
	}
	/* the role's condition is the same language as a policy's */
	rc = authz_cond_compile(&c->cb, cj, true, &root, &pol->needs, NULL, 0);
	if (rc == PV_E_INVALID || (cond != NULL && cj == NULL)) {
		log_error("authz: a role condition does not compile; the role grants nothing");
		root = authz_cond_never(&c->cb);
		rc = root < 0 ? PV_E_NOMEM : PV_OK;
	}
	json_decref(cj);
	for (i = 0; i < json_array_size(arr) && rc == PV_OK; i++) {
		const char *perm = json_string_value(json_array_get(arr, i));

		rc = perm != NULL ? grant_add(pol, perm, purposes, role, root) : PV_E_INVALID;
		if (rc == PV_E_INVALID) {
			/* validated at creation; a damaged row grants nothing more */
			log_error("authz: role holds an invalid permission; skipped");
			rc = PV_OK;
		}
	}
	json_decref(arr);
	return rc;
}

const uint8_t *
authz_policy_area(const struct authz_policy *pol)
{
	size_t off = (offsetof(struct authz_policy, g) + pol->n * sizeof(pol->g[0]) + 15) &
	    ~(size_t)15;

	return (const uint8_t *)pol + off;
}

size_t
authz_policy_size(const struct authz_policy *pol)
{
	return (size_t)(authz_policy_area(pol) - (const uint8_t *)pol) + pol->ext_len;
}

static bool
pattern_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 63)
		return false;
	if (strcmp(s, "*") == 0)
		return true;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '*')
			return i == n - 1 && i > 0 && s[i - 1] == '.';   /* "records.*" */
		if (!((ch >= 'a' && ch <= 'z') || ch == '.' || ch == '_'))
			return false;
	}
	return true;
}

static bool
resource_ok(const char *s)
{
	return s != NULL && (strcmp(s, "*") == 0 || authz_name_valid(s));
}

static enum pv_rc
list_check(json_t *arr, size_t max, bool (*ok)(const char *), const char *what, bool empty_ok,
    char *why, size_t whylen)
{
	size_t i, k;

	if (!json_is_array(arr) || json_array_size(arr) > max ||
	    (!empty_ok && json_array_size(arr) == 0)) {
		snprintf(why, whylen, "%s must be an array of at most %zu names", what, max);
		return PV_E_INVALID;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (!ok(s)) {
			snprintf(why, whylen, "%s[%zu] is not valid", what, i);
			return PV_E_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(s, json_string_value(json_array_get(arr, k))) == 0) {
				snprintf(why, whylen, "%s[%zu] is a duplicate", what, i);
				return PV_E_INVALID;
			}
	}
	return PV_OK;
}

/* Compile one policy into c (check only if c is NULL). */
static enum pv_rc
policy_compile(struct comp *c, const struct authz_policy_src *p, char *why, size_t whylen)
{
	char tmp[8];
	json_t *acts = NULL, *res = NULL, *cond = NULL;
	struct authz_cbuf scratch = { 0 };
	struct authz_cbuf *cb = c != NULL ? &c->cb : &scratch;
	struct authz_rule rule;
	size_t i;
	int32_t *offs;
	enum pv_rc rc = PV_E_INVALID;

	if (why == NULL) {
		why = tmp;
		whylen = sizeof(tmp);
	}
	why[0] = '\0';
	memset(&rule, 0, sizeof(rule));
	if (p == NULL || !authz_name_valid(p->name) || strcmp(p->name, "*") == 0) {
		snprintf(why, whylen, "name must match [a-z][a-z0-9_]{0,62}");
		goto out;
	}
	acts = p->actions != NULL ? json_loads(p->actions, 0, NULL) : NULL;
	res = p->resources != NULL ? json_loads(p->resources, 0, NULL) : json_array();
	if (p->condition != NULL && (cond = json_loads(p->condition, 0, NULL)) == NULL) {
		snprintf(why, whylen, "condition is not valid JSON");
		goto out;
	}
	if ((rc = list_check(acts, AUTHZ_POLICY_ACTIONS_MAX, pattern_ok, "actions", false, why,
	    whylen)) != PV_OK ||
	    (rc = list_check(res, AUTHZ_POLICY_RESOURCES_MAX, resource_ok, "resources", true, why,
	    whylen)) != PV_OK)
		goto out;
	for (i = 0; p->deny && i < json_array_size(acts); i++)
		if (strcmp(json_string_value(json_array_get(acts, i)), "roles.manage") == 0) {
			snprintf(why, whylen, "a deny policy cannot name roles.manage (it would lock "
			    "the policy API; restrict the admin roles instead)");
			rc = PV_E_INVALID;
			goto out;
		}
	if ((rc = authz_cond_compile(cb, cond, false, &rule.cond,
	    c != NULL ? &c->pol->needs : NULL, why, whylen)) != PV_OK)
		goto out;
	rc = PV_E_NOMEM;
	if ((rule.name = authz_cbuf_str(cb, p->name)) < 0 ||
	    (rule.actions = authz_cbuf_alloc(cb, json_array_size(acts) * sizeof(int32_t))) < 0 ||
	    (rule.resources = authz_cbuf_alloc(cb, json_array_size(res) * sizeof(int32_t) + 4))
	    < 0)
		goto out;
	rule.nactions = (uint16_t)json_array_size(acts);
	rule.nres = (uint16_t)json_array_size(res);
	for (i = 0; i < rule.nactions; i++) {
		int32_t s = authz_cbuf_str(cb, json_string_value(json_array_get(acts, i)));

		if (s < 0)
			goto out;
		offs = (int32_t *)(void *)(cb->b + rule.actions);
		offs[i] = s;
	}
	for (i = 0; i < rule.nres; i++) {
		int32_t s = authz_cbuf_str(cb, json_string_value(json_array_get(res, i)));

		if (s < 0)
			goto out;
		offs = (int32_t *)(void *)(cb->b + rule.resources);
		offs[i] = s;
	}
	rule.deny = p->deny;
	rule.deny_kind = (uint8_t)authz_cond_not_kind(cb->b, rule.cond);
	if (c != NULL) {
		struct authz_rule *nr;

		if (c->nrules >= AUTHZ_POLICIES_MAX) {
			rc = PV_E_TOOBIG;
			goto out;
		}
		if ((nr = realloc(c->rules, (c->nrules + 1) * sizeof(*nr))) == NULL)
			goto out;
		c->rules = nr;
		c->rules[c->nrules++] = rule;
	}
	rc = PV_OK;
out:
	if (cb->oom && rc == PV_OK)
		rc = PV_E_NOMEM;
	json_decref(acts);
	json_decref(res);
	json_decref(cond);
	authz_cbuf_free(&scratch);
	return rc;
}

enum pv_rc
authz_policy_check(const struct authz_policy_src *p, char *why, size_t whylen)
{
	return policy_compile(NULL, p, why, whylen);
}

static enum pv_rc
on_policy(void *arg, const struct authz_policy_src *p)
{
	struct comp *c = arg;
	enum pv_rc rc = policy_compile(c, p, NULL, 0);

	if (rc == PV_E_INVALID) {
		/* validated when stored; a damaged row: an allow grants nothing, a
		 * deny applies always (fail closed) */
		log_error("authz: a stored policy does not compile");
		if (p->deny) {
			struct authz_policy_src always = *p;

			always.condition = NULL;
			rc = policy_compile(c, &always, NULL, 0);
			if (rc == PV_E_INVALID) {
				/* not even its actions parse: nothing to apply it to */
				log_error("authz: a stored deny policy is unreadable; skipped");
				rc = PV_OK;
			}
		} else {
			rc = PV_OK;
		}
	}
	return rc;
}

enum pv_rc
authz_policy_compile_all(authz_role_lookup_fn lookup, void *arg, authz_policy_each_fn each,
    void *each_arg, const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles, uint64_t epoch,
    struct authz_policy **out)
{
	struct comp c;
	struct authz_policy *pol, *fin = NULL;
	enum pv_rc rc = PV_OK;
	size_t i, k, nb, size;
	int32_t rules_at = 0;

	if (nroles > AUTHN_ROLES_MAX || out == NULL)
		return PV_E_TOOBIG;
	memset(&c, 0, sizeof(c));
	pol = calloc(1, sizeof(*pol) + AUTHZ_GRANTS_MAX * sizeof(pol->g[0]));
	if (pol == NULL)
		return PV_E_NOMEM;
	c.pol = pol;
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
				rc = grant_add(pol, b[k], AUTHZ_POU_ALL, i, 0);
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
			rc = compile_custom(&c, i, perms, cond);
		free(perms);
		free(cond);
	}
	if (rc == PV_OK && each != NULL)
		rc = each(each_arg, on_policy, &c);
	if (rc == PV_OK && c.nrules > 0) {
		rules_at = authz_cbuf_alloc(&c.cb, c.nrules * sizeof(struct authz_rule));
		if (rules_at < 0)
			rc = PV_E_NOMEM;
		else
			memcpy(c.cb.b + rules_at, c.rules, c.nrules * sizeof(struct authz_rule));
	}
	if (rc == PV_OK && c.cb.oom)
		rc = PV_E_NOMEM;
	if (rc == PV_OK) {
		pol->nrules = c.nrules;
		pol->rules_off = (uint32_t)rules_at;
		pol->ext_len = c.cb.len;
		size = authz_policy_size(pol);
		if ((fin = malloc(size)) == NULL) {
			rc = PV_E_NOMEM;
		} else {
			memcpy(fin, pol, offsetof(struct authz_policy, g) + pol->n * sizeof(pol->g[0]));
			if (c.cb.len > 0)
				memcpy((uint8_t *)authz_policy_area(fin), c.cb.b, c.cb.len);
		}
	}
	free(pol);
	free(c.rules);
	authz_cbuf_free(&c.cb);
	if (rc != PV_OK)
		return rc;
	*out = fin;
	return PV_OK;
}

enum pv_rc
authz_policy_compile(authz_role_lookup_fn lookup, void *arg,
    const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles, uint64_t epoch,
    struct authz_policy **out)
{
	return authz_policy_compile_all(lookup, arg, NULL, NULL, roles, nroles, epoch, out);
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

/* Append s to a matched entry, truncated as snprintf would. */
static size_t
rule_cat(char m[AUTHZ_RULE_MAX], size_t len, const char *s)
{
	size_t n = util_strlcpy(m + len, s, AUTHZ_RULE_MAX - len);

	return n < AUTHZ_RULE_MAX - len ? len + n : AUTHZ_RULE_MAX - 1;
}

/* "role:<role> <perm>", written piece by piece (no snprintf: every allowed
 * decision names its grants) */
static void
matched_add(struct authz_decision *d, const struct authz_policy *pol, const struct authz_grant *g)
{
	char perm[AUTHZ_PERM_MAX], *m;
	size_t len;

	if (d->nmatched >= AUTHZ_MATCHED_MAX || authz_perm_format(&g->perm, perm) != PV_OK)
		return;
	m = d->matched[d->nmatched++];
	len = rule_cat(m, 0, "role:");
	len = rule_cat(m, len, g->role < pol->nroles ? pol->roles[g->role] : "?");
	len = rule_cat(m, len, " ");
	(void)rule_cat(m, len, perm);
}

static void
matched_rule(struct authz_decision *d, const uint8_t *area, const struct authz_rule *ru)
{
	char *m;

	if (d->nmatched >= AUTHZ_MATCHED_MAX)
		return;
	m = d->matched[d->nmatched++];
	(void)rule_cat(m, rule_cat(m, 0, "policy:"), (const char *)area + ru->name);
}

/*
 * What the conditional rules said about one action: some rule applied
 * (ok), or none did and some failed on a condition (fail, the first failing
 * test; a failing MFA test wins, since a step-up can fix it).
 */
struct verdict {
	bool any;                        /* a grant or allow policy covers the action */
	bool ok;
	int fail;
	int64_t max_age;
};

static void
verdict_fail(struct verdict *v, const struct authz_ceval *e)
{
	if (v->fail == AUTHZ_CF_NONE || (e->fail == AUTHZ_CF_MFA && v->fail != AUTHZ_CF_MFA)) {
		v->fail = e->fail != AUTHZ_CF_NONE ? e->fail : AUTHZ_CF_NOT;
		v->max_age = e->max_age;
	}
}

static int
eval_root(struct authz_ceval *e, int32_t root)
{
	e->fail = AUTHZ_CF_NONE;
	e->max_age = -1;
	return authz_cond_eval(e, root);
}

/* Do the grants cover the permission r (under their conditions)? Adds
 * the covering grants that hold to matched and their purposes to
 * *purposes. */
static void
covered(const struct authz_policy *pol, const struct authz_perm *r, struct authz_decision *d,
    unsigned *purposes, struct authz_ceval *e, struct verdict *v)
{
	size_t i;

	if (pol == NULL)
		return;
	for (i = 0; i < pol->n; i++) {
		if (!authz_perm_covers(&pol->g[i].perm, r))
			continue;
		v->any = true;
		if (e != NULL && eval_root(e, pol->g[i].cond) == AUTHZ_T_FALSE) {
			verdict_fail(v, e);
			if (e->fail != AUTHZ_CF_PURPOSE)
				continue;
			/* held but for the purpose: it still names the purposes
			 * the action may be used for (the obligation) */
		} else {
			v->ok = true;
		}
		if (purposes != NULL)
			*purposes |= pol->g[i].purposes;
		if (d != NULL)
			matched_add(d, pol, &pol->g[i]);
	}
}

static const struct authz_rule *
rules_of(const struct authz_policy *pol, const uint8_t **area)
{
	*area = authz_policy_area(pol);
	return (const struct authz_rule *)(const void *)(*area + pol->rules_off);
}

/* Does an access policy name this action on this collection? */
static bool
rule_matches(const uint8_t *area, const struct authz_rule *ru, const char *action,
    const char *collection)
{
	const int32_t *acts = (const int32_t *)(const void *)(area + ru->actions);
	const int32_t *res = (const int32_t *)(const void *)(area + ru->resources);
	bool hit = false;
	size_t i;

	for (i = 0; i < ru->nactions && !hit; i++) {
		const char *pat = (const char *)area + acts[i];
		size_t n = strlen(pat);

		if (strcmp(pat, "*") == 0 || strcmp(pat, action) == 0)
			hit = true;
		else if (n >= 2 && pat[n - 1] == '*' && strncmp(pat, action, n - 1) == 0)
			hit = true;   /* "records.*" */
	}
	if (!hit)
		return false;
	if (ru->nres == 0)
		return true;
	for (i = 0; i < ru->nres; i++) {
		const char *rn = (const char *)area + res[i];

		if (strcmp(rn, "*") == 0 || (collection != NULL && strcmp(rn, collection) == 0))
			return true;
	}
	return false;
}

/* The first deny policy that applies, or NULL. */
static const struct authz_rule *
deny_rule(const struct authz_policy *pol, struct authz_ceval *e, const char *action,
    const char *collection)
{
	const uint8_t *area;
	const struct authz_rule *ru;
	size_t i;

	/* policy management itself is never denied by a policy: a deny on "*"
	 * must not lock the administrators out of removing it */
	if (pol == NULL || pol->nrules == 0 || strcmp(action, "roles.manage") == 0)
		return NULL;
	ru = rules_of(pol, &area);
	for (i = 0; i < pol->nrules; i++)
		if (ru[i].deny && rule_matches(area, &ru[i], action, collection) &&
		    eval_root(e, ru[i].cond) == AUTHZ_T_TRUE)
			return &ru[i];
	return NULL;
}

/* Allow policies for the action: TRUE or UNKNOWN (re-decided once the
 * record is loaded) allows. */
static void
allow_rules(const struct authz_policy *pol, struct authz_ceval *e, const char *action,
    const char *collection, struct authz_decision *d, struct verdict *v)
{
	const uint8_t *area;
	const struct authz_rule *ru;
	size_t i;

	if (pol == NULL || pol->nrules == 0)
		return;
	ru = rules_of(pol, &area);
	for (i = 0; i < pol->nrules; i++) {
		if (ru[i].deny || !rule_matches(area, &ru[i], action, collection))
			continue;
		v->any = true;
		if (eval_root(e, ru[i].cond) == AUTHZ_T_FALSE) {
			verdict_fail(v, e);
			continue;
		}
		v->ok = true;
		if (d != NULL)
			matched_rule(d, area, &ru[i]);
	}
}

/*
 * The fields of the resource that may leave in clear: bit i if a
 * records.unmask grant covering <collection>.<fields[i]> holds (its
 * condition not FALSE), none if a deny policy on records.unmask applies.
 * Grant by grant: the field names are checked once (a valid name or "*",
 * as authz_perm_parse would), the permission asked is built without text
 * (authz_perm_scoped, then the field copied in), and a grant's condition
 * is evaluated once, if it covers a field still masked (evaluation has no
 * side effect, so this is the answer of asking field by field).
 */
static uint64_t
unmask_set(const struct authz_policy *pol, const struct authz_request *r, struct authz_ceval *e)
{
	struct authz_perm want;
	uint64_t bits = 0, valid = 0, cand, bit;
	size_t i, k, nf = r->resource.nfields < AUTHZ_FIELDS_MAX ? r->resource.nfields :
	    AUTHZ_FIELDS_MAX;

	if (deny_rule(pol, e, "records.unmask", r->resource.collection) != NULL)
		return 0;
	if (pol == NULL || nf == 0 ||
	    authz_perm_scoped(AUTHZ_RECORDS_UNMASK, r->resource.collection, "*", &want) != PV_OK)
		return 0;
	for (i = 0; i < nf; i++)
		if (resource_ok(r->resource.fields[i]))
			valid |= (uint64_t)1 << i;
	for (k = 0; k < pol->n && bits != valid; k++) {
		const struct authz_grant *g = &pol->g[k];

		if (g->perm.verb != AUTHZ_RECORDS_UNMASK)
			continue;
		cand = 0;
		for (i = 0; i < nf; i++) {
			bit = (uint64_t)1 << i;
			if ((valid & bit) == 0 || (bits & bit) != 0)
				continue;
			util_strlcpy(want.field, r->resource.fields[i], sizeof(want.field));
			if (authz_perm_covers(&g->perm, &want))
				cand |= bit;
		}
		if (cand != 0 && eval_root(e, g->cond) != AUTHZ_T_FALSE)
			bits |= cand;
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
deny_kind(struct authz_decision *d, int kind, int64_t max_age)
{
	switch (kind) {
	case AUTHZ_CF_SOURCE:
		return deny(d, PV_E_NETWORK, "network_not_allowed",
		    "Access from this network is not allowed by policy");
	case AUTHZ_CF_TIME:
		return deny(d, PV_E_HOURS, "outside_hours",
		    "Access is not allowed at this time by policy");
	case AUTHZ_CF_MFA:
		d->step_up = "mfa";
		d->step_up_max_age_s = max_age;
		return deny(d, PV_E_STEP_UP, "step_up_required",
		    "A more recent multi-factor authentication is required: send a code from "
		    "your authenticator to POST /v1/auth/step-up, then retry");
	case AUTHZ_CF_PURPOSE:
		return deny(d, PV_E_FORBIDDEN, "purpose_not_allowed",
		    "your roles do not allow this purpose of use");
	default:
		return deny(d, PV_E_CONDITION, "condition_not_met",
		    "Permission denied: a condition of your access is not met");
	}
}

static void
matched_breakglass(struct authz_decision *d, const struct authn_breakglass *bg)
{
	if (d->nmatched < AUTHZ_MATCHED_MAX)
		snprintf(d->matched[d->nmatched++], AUTHZ_RULE_MAX, "breakglass:%s", bg->id);
}

/* An ETREAT read at the resource stage: the break-glass grant decides. */
static int
decide_breakglass(const struct authz_request *r, struct authz_decision *d,
    const struct action *a, const struct authz_policy *pol, struct authz_ceval *e)
{
	const struct authn_principal *p = r->subject;
	const struct authn_breakglass *bg;
	const struct authz_rule *dr;
	size_t i;

	if (pol == NULL || !pol->break_glass)
		return deny(d, PV_E_FORBIDDEN, "purpose_not_allowed",
		    "ETREAT is for break-glass sessions");
	if (!authn_breakglass_active(p, r->env.time_ms))
		return deny(d, PV_E_FORBIDDEN, "breakglass_inactive",
		    "ETREAT needs a break-glass grant in force: POST /v1/breakglass");
	bg = p->break_glass;
	if (strcmp(a->name, "records.read") != 0)
		return deny(d, PV_E_FORBIDDEN, "breakglass_scope",
		    "A break-glass grant reads records and nothing else");
	if (r->resource.loaded && (r->resource.subject_ref == NULL ||
	    strcmp(r->resource.subject_ref, bg->subject_ref) != 0))
		return deny(d, PV_E_FORBIDDEN, "breakglass_other_subject",
		    "A break-glass grant reads only the records of the subject it names");
	if ((dr = deny_rule(pol, e, a->name, r->resource.collection)) != NULL) {
		d->nmatched = 0;
		matched_rule(d, e->area, dr);
		if (dr->deny_kind != AUTHZ_CF_NONE)
			return deny_kind(d, dr->deny_kind, authz_cond_not_max_age(e->area, dr->cond));
		return deny(d, PV_E_POLICY, "policy_denied", "Denied by an access policy");
	}
	matched_breakglass(d, bg);
	d->purposes = AUTHZ_POU_ETREAT;
	/* emergency treatment needs the values: every field of the record */
	for (i = 0; i < r->resource.nfields && i < AUTHZ_FIELDS_MAX; i++)
		d->unmask |= (uint64_t)1 << i;
	d->allow = true;
	d->rc = PV_OK;
	util_strlcpy(d->reason, "allowed", sizeof(d->reason));
	d->message = NULL;
	return 1;
}

static int
decide(const struct authz_request *r, struct authz_decision *d)
{
	const struct action *a = action_find(r->action);
	const struct authn_principal *p = r->subject;
	const struct authz_policy *pol = p != NULL ? p->policy : NULL;
	char perm[AUTHZ_PERM_MAX], reason[AUTHZ_REASON_MAX];
	struct authz_perm want;
	struct verdict v = { false, false, AUTHZ_CF_NONE, -1 };
	struct authz_ceval e;
	const struct authz_rule *dr;
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
	if (a->kind == K_AUTHENTICATED)
		goto allow;
	/* [auth] mfa_required = admins and an elevation made this session,
	 * which did no MFA, an admin: nothing else until it steps up */
	if (p->elevation_mfa_owed) {
		d->step_up = "mfa";
		d->step_up_max_age_s = -1;
		return deny(d, PV_E_STEP_UP, "step_up_required",
		    "Your elevation gives you a role that requires multi-factor "
		    "authentication: send a code from your authenticator to POST "
		    "/v1/auth/step-up, then retry");
	}
	memset(&e, 0, sizeof(e));
	e.r = r;
	e.area = pol != NULL ? authz_policy_area(pol) : NULL;
	e.phi_read = a->phi_read;
	if (a->phi_read && r->stage == AUTHZ_AT_RESOURCE &&
	    authz_purpose_parse(r->env.purpose, &bit) == PV_OK)
		e.pbit = bit;
	if (a->phi_read && r->stage == AUTHZ_AT_RESOURCE && bit == AUTHZ_POU_ETREAT)
		return decide_breakglass(r, d, a, pol, &e);
	switch (a->kind) {
	case K_PLAIN:
		if (authz_perm_scoped(a->verb, NULL, NULL, &want) == PV_OK)
			covered(pol, &want, d, &purposes, &e, &v);
		allow_rules(pol, &e, a->name, NULL, d, &v);
		if (!v.any) {
			snprintf(reason, sizeof(reason), "missing_permission:%s", a->name);
			return deny(d, PV_E_FORBIDDEN, reason, DENIED_MSG);
		}
		break;
	case K_SCOPED:
		if (authz_perm_scoped(a->verb, r->resource.collection, NULL, &want) != PV_OK)
			return deny(d, PV_E_FORBIDDEN, "missing_permission:(invalid)", DENIED_MSG);
		covered(pol, &want, d, &purposes, &e, &v);
		allow_rules(pol, &e, a->name, r->resource.collection, d, &v);
		if (!v.any && strcmp(a->name, "records.read") == 0 &&
		    authn_breakglass_active(p, r->env.time_ms)) {
			/* a grant in force reads under ETREAT (decide_breakglass) */
			if (r->stage == AUTHZ_AT_RESOURCE && bit != 0)
				return deny(d, PV_E_FORBIDDEN, "purpose_not_allowed",
				    "Reads under a break-glass grant carry X-Purpose-Of-Use: ETREAT");
			v.any = v.ok = true;
			purposes |= AUTHZ_POU_ETREAT;
			matched_breakglass(d, p->break_glass);
		}
		if (!v.any) {
			if (authz_perm_format(&want, perm) != PV_OK)
				return deny(d, PV_E_FORBIDDEN, "missing_permission:(invalid)",
				    DENIED_MSG);
			snprintf(reason, sizeof(reason), "missing_permission:%s", perm);
			return deny(d, PV_E_FORBIDDEN, reason, DENIED_MSG);
		}
		break;
	case K_UNMASK:
		d->unmask = unmask_set(pol, r, &e);
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
		v.any = v.ok = true;
		break;
	case K_ANY:
		for (i = 0; a->alt[i].verb != NULL && !v.ok; i++) {
			if (authz_perm_scoped(a->alt[i].id, a->alt[i].scoped ?
			    r->resource.collection : NULL, NULL, &want) == PV_OK)
				covered(pol, &want, d, &purposes, &e, &v);
		}
		allow_rules(pol, &e, a->name, r->resource.collection, d, &v);
		if (!v.any)
			return deny(d, PV_E_FORBIDDEN, "forbidden", DENIED_MSG);
		break;
	default:
		return deny(d, PV_E_FORBIDDEN, "unknown_action", DENIED_MSG);
	}
	d->purposes = purposes;
	if (a->phi_read && r->stage == AUTHZ_AT_RESOURCE) {
		if (bit == 0)
			return deny(d, PV_E_PURPOSE, "purpose_required",
			    "X-Purpose-Of-Use must carry an HL7 PurposeOfUse code "
			    "(TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH, PATRQT)");
	}
	/* deny wins */
	if ((dr = deny_rule(pol, &e, a->name, r->resource.collection)) != NULL) {
		d->nmatched = 0;
		matched_rule(d, e.area, dr);
		d->purposes = 0;
		d->unmask = 0;
		if (dr->deny_kind != AUTHZ_CF_NONE)
			return deny_kind(d, dr->deny_kind, authz_cond_not_max_age(e.area, dr->cond));
		return deny(d, PV_E_POLICY, "policy_denied", "Denied by an access policy");
	}
	if (!v.ok) {
		d->purposes = 0;
		return deny_kind(d, v.fail, v.max_age);
	}
	/* dual control: never the requester (compared by principal, so a second
	 * session of the requester is refused too), never the change's subject */
	if ((r->approval.requester != NULL && strcmp(r->approval.requester, p->user_id) == 0) ||
	    (r->approval.target_user != NULL && strcmp(r->approval.target_user, p->user_id) == 0))
		return deny(d, PV_E_SELF_APPROVAL, "self_approval",
		    "You cannot approve or deny a request you made or one that concerns you");
	if (a->phi_read && a->verb_unmasks && r->resource.nfields > 0)
		d->unmask = unmask_set(pol, r, &e);
allow:
	d->allow = true;
	d->rc = PV_OK;
	util_strlcpy(d->reason, "allowed", sizeof(d->reason));
	d->message = NULL;
	return 1;
}

enum pv_rc
authz_audit_denial(struct audit *audit, const struct authz_request *r,
    const struct authz_decision *d, bool fail_closed)
{
	struct audit_event ev;

	authz_ev_init(&ev, r->subject, r->env.source, r->audit_action,
	    r->audit_resource != NULL ? r->audit_resource : "access");
	ev.outcome = AUDIT_DENIED;
	ev.reason = d->reason;
	/* a valid purpose that was refused is part of the record; a missing or
	 * malformed header is request data, not recorded */
	ev.purpose_of_use = strcmp(d->reason, "purpose_not_allowed") == 0 ||
	    (strncmp(d->reason, "breakglass_", 11) == 0 && authz_purpose_valid(r->env.purpose)) ?
	    r->env.purpose : NULL;
	ev.detail = r->audit_detail;
	/* the refusal leaves once its entry is durable, and no thread waits */
	return audit_record_held(audit, &ev, fail_closed);
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
	    authz_audit_denial(r->audit, r, d, true) != PV_OK) {
		log_error("authz: denial not recorded");
		d->audit_failed = true;
	}
	return d->rc;
}
