/*
 * perm: the permission language, permission sets, built-in roles and the
 * route-level decision (grammar and rules in authz.h).
 *
 * Invariants:
 *  - Parsing is strict and bounded: one verb from the table, the scope the
 *    verb demands and nothing else, names of [a-z][a-z0-9_]{0,62} or "*".
 *  - Every decision path that does not positively find a grant denies.
 *  - The built-in role table is data, checked by the unit tests for
 *    validity and for separation of duties.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "authz/authz.h"
#include "http/http.h"

enum scope { SCOPE_NONE, SCOPE_COLLECTION, SCOPE_FIELD, SCOPE_PATH };

/*
 * bare_all: the verb was plain before it was scoped (tokens.tokenize,
 * tokens.detokenize, issue 8 item 7), and its bare form is kept as a
 * deprecated alias of "<verb>:*" so that custom roles stored with it (and
 * clients following the old contract) keep exactly the grant they had. It
 * parses to the same struct authz_perm as "<verb>:*" and formats as that.
 */
static const struct verb_def {
	const char *name;
	enum authz_verb verb;
	enum scope scope;
	bool bare_all;
} verbs[] = {
	{ "users.manage", AUTHZ_USERS_MANAGE, SCOPE_NONE, false },
	{ "roles.manage", AUTHZ_ROLES_MANAGE, SCOPE_NONE, false },
	{ "collections.manage", AUTHZ_COLLECTIONS_MANAGE, SCOPE_NONE, false },
	{ "keys.manage", AUTHZ_KEYS_MANAGE, SCOPE_NONE, false },
	{ "audit.read", AUTHZ_AUDIT_READ, SCOPE_NONE, false },
	{ "alerts.read", AUTHZ_ALERTS_READ, SCOPE_NONE, false },
	{ "compliance.read", AUTHZ_COMPLIANCE_READ, SCOPE_NONE, false },
	{ "sys.backup", AUTHZ_SYS_BACKUP, SCOPE_NONE, false },
	{ "tokens.tokenize", AUTHZ_TOKENS_TOKENIZE, SCOPE_COLLECTION, true },
	{ "tokens.detokenize", AUTHZ_TOKENS_DETOKENIZE, SCOPE_COLLECTION, true },
	{ "records.read", AUTHZ_RECORDS_READ, SCOPE_COLLECTION, false },
	{ "records.write", AUTHZ_RECORDS_WRITE, SCOPE_COLLECTION, false },
	{ "records.unmask", AUTHZ_RECORDS_UNMASK, SCOPE_FIELD, false },
	{ "metrics.read", AUTHZ_METRICS_READ, SCOPE_NONE, false },
	{ "apps.manage", AUTHZ_APPS_MANAGE, SCOPE_NONE, false },
	{ "access.approve", AUTHZ_ACCESS_APPROVE, SCOPE_NONE, false },
	{ "records.shred", AUTHZ_RECORDS_SHRED, SCOPE_NONE, false },
	{ "scim.provision", AUTHZ_SCIM_PROVISION, SCOPE_NONE, false },
	{ "secrets.read", AUTHZ_SECRETS_READ, SCOPE_PATH, false },
	{ "secrets.write", AUTHZ_SECRETS_WRITE, SCOPE_PATH, false },
	{ "breakglass.activate", AUTHZ_BREAKGLASS_ACTIVATE, SCOPE_NONE, false },
	{ "incidents.manage", AUTHZ_INCIDENTS_MANAGE, SCOPE_NONE, false },
	/* POST /v1/collections/{c}/export and /v1/exports: a bulk read derived
	 * from PHI. No built-in role holds it (docs/storing-phi.md
	 * "De-identified export"): a custom role grants it, and because it
	 * counts as a PHI grant (authz_perm_grants_phi) that role or its
	 * assignment takes effect only once a security officer approves. */
	{ "records.export", AUTHZ_RECORDS_EXPORT, SCOPE_COLLECTION, false },
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct verb_def *
verb_by_id(enum authz_verb v)
{
	size_t i;

	for (i = 0; i < NVERBS; i++)
		if (verbs[i].verb == v)
			return &verbs[i];
	return NULL;
}

/* ---- built-in roles (API.md); separation of duties: whoever manages
 * users, roles or keys reads no PHI, the auditor manages nothing. ---- */

static const char *const role_admin[] = {
	"users.manage", "roles.manage", "collections.manage", "sys.backup", "apps.manage", NULL
};
static const char *const role_key_admin[] = { "keys.manage", NULL };
static const char *const role_auditor[] = {
	"audit.read", "alerts.read", "compliance.read", NULL
};
static const char *const role_clinician[] = {
	"records.read:*", "records.write:*", "records.unmask:*.*",
	"tokens.tokenize:*", "tokens.detokenize:*", NULL
};
/* Reads every collection, masked: no records.unmask. */
static const char *const role_analyst[] = { "records.read:*", NULL };
/* Emergency access: no standing read. It may activate a break-glass grant
 * (POST /v1/breakglass: password, justification, time box, alert, review),
 * which reads one subject's records under ETREAT while it lasts. */
static const char *const role_break_glass[] = { "breakglass.activate", NULL };
/* The approvers (API.md "Dual control"): approve what would give PHI
 * access, review break-glass use, shred a patient. Reads no PHI itself.
 * Its holders are set only with the seal's authority (phivault officer).
 * incidents.manage: the breach scope report (POST /v1/incidents), whose
 * result names the affected patients. */
static const char *const role_security_officer[] = { "access.approve", "records.shred",
	"incidents.manage", NULL };

static const struct role_def {
	const char *name;
	const char *const *perms;
} builtin_roles[] = {
	{ "admin", role_admin },
	{ "key_admin", role_key_admin },
	{ "auditor", role_auditor },
	{ "clinician", role_clinician },
	{ "analyst", role_analyst },
	{ "break_glass", role_break_glass },
	{ "security_officer", role_security_officer },
};
#define NROLES (sizeof(builtin_roles) / sizeof(builtin_roles[0]))

/* ---------------------------------------------------------------- parsing */

bool
authz_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	for (i = 1; name[i] != '\0'; i++) {
		char c = name[i];

		if (i >= AUTHZ_NAME_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* A scope name: a valid name or the wildcard, copied out of [s, s+len). */
static bool
take_name(const char *s, size_t len, char out[AUTHZ_NAME_MAX])
{
	if (len == 0 || len >= AUTHZ_NAME_MAX)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return strcmp(out, "*") == 0 || authz_name_valid(out);
}

/*
 * A secret path prefix: 1..100 bytes of [a-z0-9_.-/], no leading '/', no
 * empty segment ("//") and no ".." segment. Matching is by plain prefix
 * ("apps/billing/" covers "apps/billing/db"; "apps/bill" also covers
 * "apps/billing/db"), so the grammar keeps a prefix from reaching outside
 * what it names by a dot-dot walk.
 */
bool
authz_path_prefix_valid(const char *s)
{
	size_t i, n, seg = 0;

	if (s == NULL || s[0] == '\0' || s[0] == '/')
		return false;
	n = strnlen(s, AUTHZ_PATH_MAX);
	if (n >= AUTHZ_PATH_MAX)
		return false;
	for (i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '/' || c == '\0') {
			size_t len = i - seg;

			if (c == '/' && len == 0)
				return false;                  /* "//" */
			if (len == 2 && s[seg] == '.' && s[seg + 1] == '.')
				return false;                  /* ".." */
			seg = i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return false;
	}
	return true;
}

static bool
take_path(const char *s, char out[AUTHZ_PATH_MAX])
{
	if (strcmp(s, "*") != 0 && !authz_path_prefix_valid(s))
		return false;
	util_strlcpy(out, s, AUTHZ_PATH_MAX);
	return true;
}

enum pv_rc
authz_perm_parse(const char *perm, struct authz_perm *out)
{
	struct authz_perm p;
	const char *colon, *scope, *dot;
	size_t vlen, i;

	if (perm == NULL || out == NULL || strnlen(perm, AUTHZ_PERM_MAX) >= AUTHZ_PERM_MAX)
		return PV_E_INVALID;
	memset(&p, 0, sizeof(p));
	colon = strchr(perm, ':');
	vlen = colon != NULL ? (size_t)(colon - perm) : strlen(perm);
	for (i = 0; i < NVERBS; i++)
		if (strlen(verbs[i].name) == vlen && memcmp(verbs[i].name, perm, vlen) == 0)
			break;
	if (i == NVERBS)
		return PV_E_INVALID;
	p.verb = verbs[i].verb;
	switch (verbs[i].scope) {
	case SCOPE_NONE:
		if (colon != NULL)
			return PV_E_INVALID;
		break;
	case SCOPE_COLLECTION:
		if (colon == NULL && verbs[i].bare_all) {
			strcpy(p.collection, "*");   /* deprecated alias of "<verb>:*" */
			break;
		}
		if (colon == NULL || !take_name(colon + 1, strlen(colon + 1), p.collection))
			return PV_E_INVALID;
		break;
	case SCOPE_FIELD:
		if (colon == NULL)
			return PV_E_INVALID;
		scope = colon + 1;
		if ((dot = strchr(scope, '.')) == NULL ||
		    !take_name(scope, (size_t)(dot - scope), p.collection) ||
		    !take_name(dot + 1, strlen(dot + 1), p.field))
			return PV_E_INVALID;
		break;
	case SCOPE_PATH:
		if (colon == NULL || !take_path(colon + 1, p.path))
			return PV_E_INVALID;
		break;
	}
	*out = p;
	return PV_OK;
}

bool
authz_perm_valid(const char *perm)
{
	struct authz_perm p;

	return authz_perm_parse(perm, &p) == PV_OK;
}

/* Append s to out[*len] within AUTHZ_PERM_MAX; false if it does not fit. */
static bool
perm_cat(char out[AUTHZ_PERM_MAX], size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (n >= AUTHZ_PERM_MAX - *len)
		return false;
	memcpy(out + *len, s, n + 1);
	*len += n;
	return true;
}

/* Written piece by piece (no snprintf): the decision point writes one for
 * every grant it names in a decision's matched list. */
enum pv_rc
authz_perm_format(const struct authz_perm *p, char out[AUTHZ_PERM_MAX])
{
	const struct verb_def *v;
	size_t len = 0;
	bool ok;

	if (p == NULL || out == NULL || (v = verb_by_id(p->verb)) == NULL)
		return PV_E_INVALID;
	out[0] = '\0';
	ok = perm_cat(out, &len, v->name);
	switch (v->scope) {
	case SCOPE_NONE:
		break;
	case SCOPE_COLLECTION:
		ok = ok && perm_cat(out, &len, ":") && perm_cat(out, &len, p->collection);
		break;
	case SCOPE_PATH:
		ok = ok && perm_cat(out, &len, ":") && perm_cat(out, &len, p->path);
		break;
	default:
		ok = ok && perm_cat(out, &len, ":") && perm_cat(out, &len, p->collection) &&
		    perm_cat(out, &len, ".") && perm_cat(out, &len, p->field);
		break;
	}
	return ok ? PV_OK : PV_E_INVALID;
}

enum pv_rc
authz_perm_scoped(enum authz_verb verb, const char *scope, const char *field,
    struct authz_perm *out)
{
	const struct verb_def *v = verb_by_id(verb);
	struct authz_perm p;
	bool ok;

	if (v == NULL || out == NULL)
		return PV_E_INVALID;
	/* what authz_perm_parse makes of "<verb>:<scope>[.<field>]": a name
	 * of 64 or more bytes, a '.' or ':' in one, an empty one: invalid */
	p.verb = verb;
	p.collection[0] = p.field[0] = p.path[0] = '\0';
	switch (v->scope) {
	case SCOPE_NONE:
		ok = scope == NULL && field == NULL;
		break;
	case SCOPE_COLLECTION:
		ok = scope != NULL && field == NULL &&
		    take_name(scope, strnlen(scope, AUTHZ_NAME_MAX), p.collection);
		break;
	case SCOPE_FIELD:
		ok = scope != NULL && field != NULL &&
		    take_name(scope, strnlen(scope, AUTHZ_NAME_MAX), p.collection) &&
		    take_name(field, strnlen(field, AUTHZ_NAME_MAX), p.field);
		break;
	default:
		ok = scope != NULL && field == NULL && take_path(scope, p.path);
		break;
	}
	if (!ok)
		return PV_E_INVALID;
	*out = p;
	return PV_OK;
}

/* ---------------------------------------------------------------- matching */

static bool
name_covers(const char *granted, const char *required)
{
	return strcmp(granted, "*") == 0 || strcmp(granted, required) == 0;
}

/* A secret path prefix covers every path that starts with it; "*" all. */
static bool
path_covers(const char *granted, const char *required)
{
	if (strcmp(granted, "*") == 0)
		return true;
	if (strcmp(required, "*") == 0)
		return false;
	return strncmp(required, granted, strlen(granted)) == 0;
}

bool
authz_perm_covers(const struct authz_perm *g, const struct authz_perm *r)
{
	return g->verb == r->verb && g->verb != AUTHZ_VERB_NONE &&
	    name_covers(g->collection, r->collection) && name_covers(g->field, r->field) &&
	    path_covers(g->path, r->path);
}

bool
authz_perm_match(const char *granted, const char *required)
{
	struct authz_perm g, r;

	return authz_perm_parse(granted, &g) == PV_OK && authz_perm_parse(required, &r) == PV_OK &&
	    authz_perm_covers(&g, &r);
}

/* ---------------------------------------------------------------- sets */

void
authz_permset_init(struct authz_permset *s)
{
	if (s != NULL)
		s->n = 0;
}

enum pv_rc
authz_permset_add(struct authz_permset *s, const char *perm)
{
	struct authz_perm p;
	size_t i, j;

	if (s == NULL || s->n > AUTHZ_PERMSET_MAX || authz_perm_parse(perm, &p) != PV_OK)
		return PV_E_INVALID;
	for (i = 0; i < s->n; i++)
		if (authz_perm_covers(&s->p[i], &p))
			return PV_OK;          /* already granted */
	/* Drop what the new one covers ("records.read:*" absorbs
	 * "records.read:patients"), keeping order. */
	for (i = 0, j = 0; i < s->n; i++)
		if (!authz_perm_covers(&p, &s->p[i]))
			s->p[j++] = s->p[i];
	s->n = j;
	if (s->n == AUTHZ_PERMSET_MAX)
		return PV_E_TOOBIG;
	s->p[s->n++] = p;
	return PV_OK;
}

enum pv_rc
authz_permset_add_role(struct authz_permset *s, const char *role)
{
	const char *const *perms = authz_builtin_role(role, NULL);
	enum pv_rc rc;
	size_t i;

	if (s == NULL)
		return PV_E_INVALID;
	if (perms == NULL)
		return PV_E_NOTFOUND;
	for (i = 0; perms[i] != NULL; i++)
		if ((rc = authz_permset_add(s, perms[i])) != PV_OK)
			return rc;
	return PV_OK;
}

const struct authz_permset *
authz_permset_copy(const struct authz_permset *s, struct pv_arena *arena)
{
	struct authz_permset *c;
	size_t n;

	if (s == NULL || arena == NULL || s->n > AUTHZ_PERMSET_MAX)
		return NULL;
	n = s->n;
	c = arena_alloc(arena, offsetof(struct authz_permset, p) + n * sizeof(s->p[0]));
	if (c == NULL)
		return NULL;
	c->n = n;
	memcpy(c->p, s->p, n * sizeof(s->p[0]));
	return c;
}

bool
authz_permset_has(const struct authz_permset *s, const char *required)
{
	struct authz_perm r;
	size_t i;

	if (s == NULL || s->n > AUTHZ_PERMSET_MAX || authz_perm_parse(required, &r) != PV_OK)
		return false;
	for (i = 0; i < s->n; i++)
		if (authz_perm_covers(&s->p[i], &r))
			return true;
	return false;
}

bool
authz_permset_is_privileged(const struct authz_permset *s)
{
	size_t i;

	if (s == NULL || s->n > AUTHZ_PERMSET_MAX)
		return false;
	for (i = 0; i < s->n; i++) {
		switch (s->p[i].verb) {
		case AUTHZ_USERS_MANAGE:
		case AUTHZ_ROLES_MANAGE:
		case AUTHZ_COLLECTIONS_MANAGE:
		case AUTHZ_KEYS_MANAGE:
		case AUTHZ_SYS_BACKUP:
		case AUTHZ_APPS_MANAGE:
		case AUTHZ_SCIM_PROVISION:   /* it makes and disables users */
			return true;
		default:
			break;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- roles */

const char *const *
authz_builtin_role(const char *name, size_t *n)
{
	size_t i, k;

	if (name == NULL)
		return NULL;
	for (i = 0; i < NROLES; i++) {
		if (strcmp(builtin_roles[i].name, name) == 0) {
			for (k = 0; builtin_roles[i].perms[k] != NULL; k++)
				;
			if (n != NULL)
				*n = k;
			return builtin_roles[i].perms;
		}
	}
	return NULL;
}

const char *
authz_builtin_role_name(size_t i)
{
	return i < NROLES ? builtin_roles[i].name : NULL;
}

bool
authz_role_name_valid(const char *name)
{
	return authz_name_valid(name);
}

static enum pv_rc
def_refuse(enum pv_rc rc, char *why, size_t whylen, const char *msg, size_t idx, bool with_idx)
{
	if (why != NULL && whylen > 0) {
		if (with_idx)
			snprintf(why, whylen, "permissions[%zu]: %s", idx, msg);
		else
			snprintf(why, whylen, "%s", msg);
	}
	return rc;
}

enum pv_rc
authz_role_def_check(const char *name, const char *const *perms, size_t n, char *why,
    size_t whylen)
{
	struct authz_perm a, b;
	size_t i, j;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (!authz_role_name_valid(name))
		return def_refuse(PV_E_INVALID, why, whylen,
		    "name must match [a-z][a-z0-9_]{0,62}", 0, false);
	if (authz_builtin_role(name, NULL) != NULL)
		return def_refuse(PV_E_CONFLICT, why, whylen, "name is a built-in role", 0, false);
	if (n > AUTHZ_PERMSET_MAX)
		return def_refuse(PV_E_INVALID, why, whylen, "too many permissions", 0, false);
	if (n > 0 && perms == NULL)
		return def_refuse(PV_E_INVALID, why, whylen, "permissions missing", 0, false);
	for (i = 0; i < n; i++) {
		if (perms[i] != NULL && strcmp(perms[i], "*") == 0)
			return def_refuse(PV_E_INVALID, why, whylen,
			    "\"*\" is not a permission (there is no superuser)", i, true);
		if (authz_perm_parse(perms[i], &a) != PV_OK)
			return def_refuse(PV_E_INVALID, why, whylen, "unknown or malformed permission",
			    i, true);
		for (j = 0; j < i; j++) {
			if (authz_perm_parse(perms[j], &b) == PV_OK && a.verb == b.verb &&
			    strcmp(a.collection, b.collection) == 0 && strcmp(a.field, b.field) == 0 &&
			    strcmp(a.path, b.path) == 0)
				return def_refuse(PV_E_INVALID, why, whylen, "duplicate permission",
				    i, true);
		}
	}
	return PV_OK;
}

/* ---------------------------------------------------------------- decision */

enum pv_rc
authz_check(const struct authn_principal *p, const char *permission, bool restricted_ok)
{
	if (permission == NULL)
		return PV_E_FORBIDDEN;
	if (strcmp(permission, HTTP_PERM_PUBLIC) == 0)
		return PV_OK;
	if (p == NULL)
		return PV_E_UNAUTH;
	if (p->restricted || p->restrict_flags != 0) {
		/* Only self-service routes (change password, enrol MFA). */
		if (restricted_ok && strcmp(permission, HTTP_PERM_AUTHENTICATED) == 0)
			return PV_OK;
		return PV_E_RESTRICTED;
	}
	if (strcmp(permission, HTTP_PERM_AUTHENTICATED) == 0)
		return PV_OK;
	return authz_permset_has(p->perms, permission) ? PV_OK : PV_E_FORBIDDEN;
}
