/*
 * authz/approvals.c: dual control (API.md "Dual control";
 * docs/internals/authz.md "Dual control"). A change that would give
 * someone PHI access (records.read / write / unmask, tokens.detokenize) is
 * stored as a pending request (store_approvals.h) and takes effect only
 * when a different principal holding access.approve approves it:
 *
 *   kind          target            change                        applied as
 *   user.roles    users/<id>        {"user","roles"?,"groups"?}   the user's role / group sets
 *   group.create  groups/<name>     {"name","roles"}              a new group
 *   role.create   roles/<name>      {"name","permissions","condition"}  a new custom role
 *   app.roles     apps/<id>         {"app","roles"}               the app's roles
 *   user.eligible users/<id>        {"user","eligible_roles"}     the roles the user may
 *                                                                 ask a JIT elevation to
 *   policy.put    policies/<name>   {"name","effect","actions",   an allow policy over a
 *                                    "resources","condition",     PHI action, created
 *                                    "version"}                   (version 0) or replacing
 *                                                                 that version
 *
 * States (store_approvals.h): pending -> approved | denied | expired.
 * Invariants:
 *  - the approver is decided by authz_decide (action access.approve, with
 *    the request's requester and the change's user: self_approval), so an
 *    app, the requester (any session of theirs) and the change's subject
 *    are refused and the refusal is audited by the decision point;
 *  - an approval moves the row out of pending and applies the change in
 *    one transaction with its approval.approve entry: both or neither
 *    (authz_commit_held: no thread waits for it; the answer leaves after
 *    the fsync, and the generation moves before it does);
 *  - expiry is exact and never written by a request: a pending request
 *    whose expires_ms has passed ([approvals] expire_s, the injectable
 *    clock) reads as expired everywhere here (approval_as_of: decided by
 *    system at expires_ms) and cannot be decided (409); the authz sweeper
 *    (authz_approvals_expire, service.c) writes the state with its
 *    approval.expire entry (actor system) about a second later;
 *  - nothing here holds PHI: changes name users by ID, roles, groups and
 *    permissions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

#define NOTE_MAX 1024

static enum pv_rc
fail(struct authz_result *res, enum pv_rc rc, const char *msg)
{
	util_strlcpy(res->message, msg != NULL ? msg : "", sizeof(res->message));
	return rc;
}

void
authz_approvals_configure(struct authz_service *z, int expire_s)
{
	if (z != NULL && expire_s > 0)
		z->approvals_expire_s = expire_s;
}

/* ---- PHI grants ---- */

bool
authz_perm_grants_phi(const char *perm)
{
	struct authz_perm p;

	if (authz_perm_parse(perm, &p) != PV_OK)
		return false;
	/* breakglass.activate: a grant reads a subject's records;
	 * incidents.manage: a breach scope names the affected patients */
	return p.verb == AUTHZ_RECORDS_READ || p.verb == AUTHZ_RECORDS_WRITE ||
	    p.verb == AUTHZ_RECORDS_UNMASK || p.verb == AUTHZ_TOKENS_DETOKENIZE ||
	    p.verb == AUTHZ_BREAKGLASS_ACTIVATE || p.verb == AUTHZ_INCIDENTS_MANAGE ||
	    p.verb == AUTHZ_RECORDS_EXPORT;
}

/* An action pattern (policies: a name, "prefix.*" or "*") covering one of
 * the PHI actions. */
static bool
pattern_grants_phi(const char *pat)
{
	static const char *const phi[] = { "records.read", "records.write", "records.unmask",
		"tokens.detokenize", "records.export" };
	size_t i, n;

	if (pat == NULL)
		return false;
	n = strlen(pat);
	for (i = 0; i < sizeof(phi) / sizeof(phi[0]); i++) {
		if (strcmp(pat, "*") == 0 || strcmp(pat, phi[i]) == 0)
			return true;
		if (n >= 2 && pat[n - 1] == '*' && strncmp(pat, phi[i], n - 1) == 0)
			return true;
	}
	return false;
}

bool
authz_policy_actions_grant_phi(const char *actions_json)
{
	json_t *a = actions_json != NULL ? json_loads(actions_json, 0, NULL) : NULL;
	size_t i;
	bool hit = false;

	for (i = 0; json_is_array(a) && i < json_array_size(a) && !hit; i++)
		hit = pattern_grants_phi(json_string_value(json_array_get(a, i)));
	json_decref(a);
	return hit;
}

bool
authz_perm_is_officer(const char *perm)
{
	struct authz_perm p;

	return authz_perm_parse(perm, &p) == PV_OK && p.verb == AUTHZ_ACCESS_APPROVE;
}

/* Does one of the permissions of a JSON array text match pred? */
static bool
perms_any(const char *json_text, bool (*pred)(const char *))
{
	json_t *a = json_text != NULL ? json_loads(json_text, 0, NULL) : NULL;
	size_t i;
	bool hit = false;

	for (i = 0; a != NULL && json_is_array(a) && i < json_array_size(a) && !hit; i++)
		hit = pred(json_string_value(json_array_get(a, i)));
	json_decref(a);
	return hit;
}

enum pv_rc
authz_role_traits(struct store_tx *tx, const char *role, bool *phi, bool *officer)
{
	const char *const *bp;
	struct store_role r;
	size_t n = 0, i;
	enum pv_rc rc;

	*phi = *officer = false;
	if ((bp = authz_builtin_role(role, &n)) != NULL) {
		for (i = 0; i < n; i++) {
			*phi = *phi || authz_perm_grants_phi(bp[i]);
			*officer = *officer || authz_perm_is_officer(bp[i]);
		}
		return PV_OK;
	}
	if ((rc = store_role_get(tx, role, &r)) != PV_OK)
		return rc;
	*phi = perms_any(r.permissions, authz_perm_grants_phi);
	*officer = perms_any(r.permissions, authz_perm_is_officer);
	store_role_clear(&r);
	return PV_OK;
}

/* ---- requests ---- */

enum pv_rc
authz_approval_request_tx(struct authz_service *z, struct store_tx *tx,
    const struct pv_actor *actor, const char *kind, const char *target, const json_t *change,
    const char id[UTIL_ID_MAX])
{
	struct store_approval ap;
	struct audit_event ev;
	char r[64], *text = NULL, *detail = NULL;
	json_t *d;
	enum pv_rc rc;

	if (z == NULL || tx == NULL || actor == NULL || actor->user_id == NULL || kind == NULL ||
	    target == NULL || change == NULL || id == NULL || !util_id_valid("apr", id))
		return PV_E_INVALID;
	memset(&ap, 0, sizeof(ap));
	util_strlcpy(ap.id, id, sizeof(ap.id));
	util_strlcpy(ap.kind, kind, sizeof(ap.kind));
	util_strlcpy(ap.status, "pending", sizeof(ap.status));
	util_strlcpy(ap.requested_by, actor->user_id, sizeof(ap.requested_by));
	util_strlcpy(ap.target, target, sizeof(ap.target));
	ap.note = (char *)"";
	ap.created_ms = util_now_ms();
	ap.expires_ms = ap.created_ms + (int64_t)z->approvals_expire_s * 1000;
	d = json_pack("{s:s, s:s, s:O}", "kind", kind, "target", target, "change", change);
	if ((text = json_dumps(change, JSON_COMPACT | JSON_SORT_KEYS)) == NULL || d == NULL ||
	    (detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	ap.change = text;
	snprintf(r, sizeof(r), "approvals/%s", ap.id);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *actor;
	ev.action = "approval.request";
	ev.resource = r;
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "pending";
	ev.detail = detail;
	/* the entry first: if the insert (or the caller's fn after it) fails,
	 * it is recorded as the transaction's error, as a failed request's
	 * entry always was */
	if ((rc = audit_tx_entry(&ev)) == PV_OK)
		rc = store_approval_put(tx, &ap);
out:
	json_decref(d);
	free(text);
	free(detail);
	return rc;
}

/* A request of its own (authz_approval_request): what its transaction
 * needs, owned by the job (the commit runs on the committer, after the
 * caller returned: authz_commit_held). The actor's strings are the
 * request's principal's, which live until the held answer leaves. */
struct put_job {
	struct authz_service *z;
	struct pv_actor actor;
	char kind[STORE_APPROVAL_KIND_MAX];
	char target[STORE_APPROVAL_TARGET_MAX];
	json_t *change;
	char id[UTIL_ID_MAX];
};

static enum pv_rc
put_fn(struct store_tx *tx, void *arg)
{
	struct put_job *j = arg;

	return authz_approval_request_tx(j->z, tx, &j->actor, j->kind, j->target, j->change,
	    j->id);
}

static void
put_free(void *arg)
{
	struct put_job *j = arg;

	json_decref(j->change);
	free(j);
}

enum pv_rc
authz_approval_request(struct authz_service *z, const struct pv_actor *actor,
    const char *kind, const char *target, const json_t *change, char id[UTIL_ID_MAX])
{
	struct put_job *j;
	char aid[UTIL_ID_MAX];
	enum pv_rc rc;

	if (z == NULL || actor == NULL || actor->user_id == NULL || kind == NULL ||
	    target == NULL || change == NULL)
		return PV_E_INVALID;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_E_NOMEM;
	j->z = z;
	j->actor = *actor;
	util_strlcpy(j->kind, kind, sizeof(j->kind));
	util_strlcpy(j->target, target, sizeof(j->target));
	if ((rc = util_id_new("apr", j->id)) != PV_OK ||
	    (j->change = json_deep_copy(change)) == NULL) {
		free(j);
		return rc != PV_OK ? rc : PV_E_NOMEM;
	}
	/* the ID is the caller's answer: generated here, before the submit;
	 * the job is the commit's from here on (the row and its entry are
	 * authz_approval_request_tx's, inside the transaction) */
	util_strlcpy(aid, j->id, sizeof(aid));
	if ((rc = authz_commit_held(z, NULL, put_fn, j, put_free, 0)) == PV_OK)
		util_strlcpy(id, aid, UTIL_ID_MAX);
	return rc;
}

/* ---- expiry ---- */

struct due {
	size_t n;
	char id[32][UTIL_ID_MAX];
	int64_t at[32];
	int64_t now;
};

static int
on_due(const struct store_approval *a, void *arg)
{
	struct due *d = arg;

	if (a->expires_ms <= d->now && d->n < sizeof(d->id) / sizeof(d->id[0])) {
		d->at[d->n] = a->expires_ms;
		util_strlcpy(d->id[d->n++], a->id, UTIL_ID_MAX);
	}
	return 0;
}

struct decide_job {
	const char *id;
	const char *status;
	const char *by;
	int64_t now;
	const char *note;
	const struct store_approval *a;   /* approve: the change to apply */
};

static enum pv_rc
decide_fn(struct store_tx *tx, void *arg)
{
	struct decide_job *j = arg;

	return store_approval_decide(tx, j->id, j->status, j->by, j->now, j->note);
}

/* a as it reads at now: a pending request past its expires_ms is expired
 * (decided by system at that instant), as the sweeper will write it. In
 * place; the note is dropped (freed when owned). */
static bool
approval_as_of(struct store_approval *a, int64_t now, bool owned)
{
	if (strcmp(a->status, "pending") != 0 || a->expires_ms > now)
		return false;
	util_strlcpy(a->status, "expired", sizeof(a->status));
	util_strlcpy(a->decided_by, "system", sizeof(a->decided_by));
	a->decided_ms = a->expires_ms;
	if (owned)
		free(a->note);
	a->note = NULL;
	return true;
}

/* The sweeper's step (service.c, off any request thread): every pending
 * request whose time has come, expired at its expires_ms with its entry;
 * at most 32 a call (the rest at the next). */
enum pv_rc
authz_approvals_expire(struct authz_service *z, int64_t now)
{
	struct pv_actor sys = audit_actor_system();
	struct due d;
	size_t i;
	enum pv_rc rc;

	memset(&d, 0, sizeof(d));
	d.now = now;
	STORE_READ(z->st, rc, store_approval_list(tx, "pending", on_due, &d));
	if (rc != PV_OK)
		return rc;
	for (i = 0; i < d.n; i++) {
		struct decide_job j = { d.id[i], "expired", "system", d.at[i], "", NULL };
		struct audit_event ev;
		char r[64];

		snprintf(r, sizeof(r), "approvals/%s", d.id[i]);
		memset(&ev, 0, sizeof(ev));
		ev.actor = sys;
		ev.action = "approval.expire";
		ev.resource = r;
		ev.outcome = AUDIT_ALLOWED;
		ev.reason = "expired";
		rc = audit_commit_at(z->audit, &ev, decide_fn, &j, COMMIT_BACKGROUND);
		if (rc != PV_OK && rc != PV_E_NOTFOUND)   /* decided meanwhile: fine */
			return rc;
	}
	return PV_OK;
}

/* ---- reads ---- */

static json_t *
approval_json(const struct store_approval *a)
{
	char c[32], e[32], dd[32];
	json_t *change = json_loads(a->change, 0, NULL), *o;

	util_time_fmt(a->created_ms, c, sizeof(c));
	util_time_fmt(a->expires_ms, e, sizeof(e));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "id", a->id, "kind", a->kind,
	    "status", a->status, "requested_by", a->requested_by, "target", a->target,
	    "change", change != NULL ? change : json_object(), "created", c, "expires", e);
	if (o == NULL)
		return NULL;
	if (a->decided_ms != 0) {
		util_time_fmt(a->decided_ms, dd, sizeof(dd));
		json_object_set_new(o, "decided_by", json_string(a->decided_by));
		json_object_set_new(o, "decided", json_string(dd));
		json_object_set_new(o, "note", json_string(a->note != NULL ? a->note : ""));
	}
	return o;
}

/* May c see every request (holds access.approve), or only its own? */
static bool
sees_all(const struct authz_caller *c)
{
	struct authz_request q;
	struct authz_decision d;

	memset(&q, 0, sizeof(q));
	q.subject = c->subject;
	q.action = "access.approve";
	q.env.time_ms = util_now_ms();
	q.env.source = c->source;
	return authz_decide(&q, &d) == PV_OK;
}

struct list_ctx {
	json_t *arr;
	const char *only;   /* requester ID, or NULL: all */
	const char *status; /* as read at now (pending, expired: filtered here) */
	int64_t now;
	bool failed;
};

static int
on_list(const struct store_approval *row, void *arg)
{
	struct list_ctx *l = arg;
	struct store_approval a = *row;   /* shallow: approval_as_of drops, frees nothing */
	json_t *o;

	if (l->only != NULL && strcmp(a.requested_by, l->only) != 0)
		return 0;
	approval_as_of(&a, l->now, false);
	if (l->status != NULL && strcmp(a.status, l->status) != 0)
		return 0;
	if ((o = approval_json(&a)) == NULL) {
		l->failed = true;
		return 1;
	}
	json_array_append_new(l->arr, o);
	return 0;
}

enum pv_rc
authz_approval_list(struct authz_service *z, const struct authz_caller *c, const char *status,
    json_t **out, struct authz_result *res)
{
	struct list_ctx l = { NULL, NULL, status, util_now_ms(), false };
	const char *stored;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if (status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "approved") != 0 &&
	    strcmp(status, "denied") != 0 && strcmp(status, "expired") != 0)
		return fail(res, PV_E_INVALID, "status must be pending, approved, denied or expired");
	if ((l.arr = json_array()) == NULL)
		return PV_E_NOMEM;
	l.only = sees_all(c) ? NULL : c->subject->user_id;
	/* pending and expired as they read now: a due request not swept yet is
	 * stored pending */
	stored = status != NULL && (strcmp(status, "pending") == 0 ||
	    strcmp(status, "expired") == 0) ? NULL : status;
	STORE_READ(z->st, rc, store_approval_list(tx, stored, on_list, &l));
	if (rc == PV_OK && l.failed)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(l.arr);
		return rc;
	}
	*out = l.arr;
	return PV_OK;
}

/* The request of id as c may see it: PV_E_NOTFOUND otherwise. */
static enum pv_rc
load(struct authz_service *z, const char *id, struct store_approval *a,
    struct authz_result *res)
{
	enum pv_rc rc;

	if (id == NULL || !util_id_valid("apr", id))
		return fail(res, PV_E_NOTFOUND, "No such approval request");
	STORE_READ(z->st, rc, store_approval_get(tx, id, a));
	if (rc == PV_E_NOTFOUND)
		return fail(res, rc, "No such approval request");
	return rc;
}

enum pv_rc
authz_approval_get(struct authz_service *z, const struct authz_caller *c, const char *id,
    json_t **out, struct authz_result *res)
{
	struct store_approval a;
	json_t *o;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if ((rc = load(z, id, &a, res)) != PV_OK)
		return rc;
	approval_as_of(&a, util_now_ms(), true);
	if (!sees_all(c) && strcmp(a.requested_by, c->subject->user_id) != 0) {
		store_approval_clear(&a);
		return fail(res, PV_E_NOTFOUND, "No such approval request");
	}
	o = approval_json(&a);
	store_approval_clear(&a);
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

/* ---- decisions ---- */

static enum pv_rc
strings_of(json_t *arr, const char ***out, size_t *n)
{
	size_t i, len;
	const char **v;

	if (!json_is_array(arr) || (len = json_array_size(arr)) > AUTHN_ROLES_MAX)
		return PV_E_INTEGRITY;
	if ((v = calloc(len + 1, sizeof(*v))) == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < len; i++)
		if ((v[i] = json_string_value(json_array_get(arr, i))) == NULL) {
			free(v);
			return PV_E_INTEGRITY;
		}
	*out = v;
	*n = len;
	return PV_OK;
}

/* policy.put: create (version 0) or replace the version the request was
 * made against; PV_E_NOTFOUND if that version is no longer the stored one,
 * PV_E_CONFLICT if a policy of the name exists when creating. */
static enum pv_rc
apply_policy(struct store_tx *tx, const struct store_approval *a, json_t *c, int64_t now)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const char *effect = json_string_value(json_object_get(c, "effect"));
	json_t *ver = json_object_get(c, "version");
	struct store_policy p, cur;
	enum pv_rc rc;

	if (name == NULL || effect == NULL || !json_is_integer(ver))
		return PV_E_INTEGRITY;
	memset(&p, 0, sizeof(p));
	util_strlcpy(p.name, name, sizeof(p.name));
	p.deny = strcmp(effect, "deny") == 0;
	p.actions = json_dumps(json_object_get(c, "actions"), JSON_COMPACT | JSON_ENCODE_ANY);
	p.resources = json_dumps(json_object_get(c, "resources"), JSON_COMPACT | JSON_ENCODE_ANY);
	p.condition = json_dumps(json_object_get(c, "condition"), JSON_COMPACT | JSON_SORT_KEYS);
	if (p.actions == NULL || p.resources == NULL || p.condition == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	util_strlcpy(p.updated_by, a->requested_by, sizeof(p.updated_by));
	p.updated_ms = now;
	if (json_integer_value(ver) == 0) {
		util_strlcpy(p.created_by, a->requested_by, sizeof(p.created_by));
		p.created_ms = now;
		p.version = 1;
		rc = store_policy_put(tx, &p);
		goto out;
	}
	if ((rc = store_policy_get(tx, name, &cur)) != PV_OK)
		goto out;
	if (cur.version != json_integer_value(ver)) {
		store_policy_clear(&cur);
		rc = PV_E_NOTFOUND;   /* changed since the request: it no longer applies */
		goto out;
	}
	util_strlcpy(p.created_by, cur.created_by, sizeof(p.created_by));
	p.created_ms = cur.created_ms;
	p.version = cur.version + 1;
	store_policy_clear(&cur);
	rc = store_policy_update(tx, &p);
out:
	store_policy_clear(&p);
	return rc;
}

/* Apply the change of an approved request (in the approval's transaction). */
static enum pv_rc
apply(struct store_tx *tx, const struct store_approval *a, int64_t now)
{
	json_t *c = json_loads(a->change, 0, NULL), *v;
	const char **names = NULL;
	size_t n = 0;
	enum pv_rc rc = PV_E_INTEGRITY;

	if (c == NULL || !json_is_object(c))
		goto out;
	if (strcmp(a->kind, "user.roles") == 0) {
		const char *user = json_string_value(json_object_get(c, "user"));
		struct store_user u;

		if (user == NULL)
			goto out;
		if ((rc = store_user_get(tx, user, &u)) != PV_OK)
			goto out;
		store_user_clear(&u);
		if ((v = json_object_get(c, "roles")) != NULL) {
			if ((rc = strings_of(v, &names, &n)) != PV_OK ||
			    (rc = store_user_roles_set(tx, user, names, n)) != PV_OK)
				goto out;
			free(names);
			names = NULL;
		}
		if ((v = json_object_get(c, "groups")) != NULL &&
		    ((rc = strings_of(v, &names, &n)) != PV_OK ||
		    (rc = store_user_groups_set(tx, user, names, n)) != PV_OK))
			goto out;
		rc = PV_OK;
	} else if (strcmp(a->kind, "user.eligible") == 0) {
		const char *user = json_string_value(json_object_get(c, "user"));
		struct store_user u;

		if (user == NULL || (rc = store_user_get(tx, user, &u)) != PV_OK)
			goto out;
		store_user_clear(&u);
		if ((rc = strings_of(json_object_get(c, "eligible_roles"), &names, &n)) != PV_OK)
			goto out;
		rc = store_eligible_set(tx, user, names, n);
	} else if (strcmp(a->kind, "policy.put") == 0) {
		rc = apply_policy(tx, a, c, now);
	} else if (strcmp(a->kind, "group.create") == 0) {
		struct store_group g;

		memset(&g, 0, sizeof(g));
		v = json_object_get(c, "name");
		if (json_string_value(v) == NULL ||
		    (g.roles = json_dumps(json_object_get(c, "roles"), JSON_COMPACT)) == NULL)
			goto out;
		util_strlcpy(g.name, json_string_value(v), sizeof(g.name));
		g.created_ms = now;
		rc = store_group_put(tx, &g);
		free(g.roles);
	} else if (strcmp(a->kind, "app.roles") == 0) {
		const char *app = json_string_value(json_object_get(c, "app"));
		struct store_app sa;

		if (app == NULL || (rc = store_app_get(tx, app, &sa)) != PV_OK)
			goto out;
		free(sa.roles);
		if ((sa.roles = json_dumps(json_object_get(c, "roles"), JSON_COMPACT)) == NULL)
			rc = PV_E_NOMEM;
		else
			rc = store_app_update(tx, &sa);
		store_app_clear(&sa);
	} else if (strcmp(a->kind, "role.create") == 0) {
		struct store_role r;

		memset(&r, 0, sizeof(r));
		v = json_object_get(c, "name");
		if (json_string_value(v) == NULL ||
		    (r.permissions = json_dumps(json_object_get(c, "permissions"),
		    JSON_COMPACT)) == NULL)
			goto out;
		r.condition = json_dumps(json_object_get(c, "condition"),
		    JSON_COMPACT | JSON_SORT_KEYS);
		if (r.condition != NULL) {
			util_strlcpy(r.name, json_string_value(v), sizeof(r.name));
			r.created_ms = now;
			rc = store_role_put(tx, &r);
		} else {
			rc = PV_E_NOMEM;
		}
		free(r.permissions);
		free(r.condition);
	}
out:
	free(names);
	json_decref(c);
	return rc;
}

static enum pv_rc
approve_fn(struct store_tx *tx, void *arg)
{
	struct decide_job *j = arg;
	enum pv_rc rc;

	if ((rc = decide_fn(tx, arg)) != PV_OK)
		return rc;
	return apply(tx, j->a, j->now);
}

/* A settlement, owned by the commit (authz_commit_held): d first, so the
 * job is the decide_job that decide_fn / approve_fn take; d points into
 * the rest. */
struct settle_job {
	struct decide_job d;
	struct store_approval a;   /* the request as loaded: the change to apply */
	char by[UTIL_ID_MAX];
};

static void
settle_free(void *arg)
{
	struct settle_job *j = arg;

	store_approval_clear(&j->a);
	free(j);
}

/* The user a change is for (user.roles), or NULL. Points into a->change
 * parsed into *keep. */
static const char *
change_user(const struct store_approval *a, json_t **keep)
{
	*keep = NULL;
	if ((strcmp(a->kind, "user.roles") != 0 && strcmp(a->kind, "user.eligible") != 0) ||
	    (*keep = json_loads(a->change, 0, NULL)) == NULL)
		return NULL;
	return json_string_value(json_object_get(*keep, "user"));
}

enum pv_rc
authz_approval_settle(struct authz_service *z, const struct authz_caller *c, const char *id,
    bool approve, const char *note, json_t **out, struct authz_result *res)
{
	const char *action = approve ? "approval.approve" : "approval.deny";
	struct store_approval a;
	struct authz_request q;
	struct authz_decision d;
	struct settle_job *j = NULL;
	struct audit_event ev;
	json_t *keep = NULL, *o, *answer = NULL;
	const char *status;
	char r[64], *detail = NULL;
	int64_t now;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if (note != NULL && strlen(note) > NOTE_MAX)   /* JSON text: UTF-8 already */
		return fail(res, PV_E_INVALID, "note must be text of at most 1024 bytes");
	if ((rc = load(z, id, &a, res)) != PV_OK)
		return rc;
	/* past its expiry it is expired (409 below), swept or not */
	approval_as_of(&a, util_now_ms(), true);
	snprintf(r, sizeof(r), "approvals/%s", a.id);
	/* the one decision point: access.approve, an app never, and neither the
	 * requester nor the change's subject (audited there when denied) */
	memset(&q, 0, sizeof(q));
	q.subject = c->subject;
	q.action = "access.approve";
	q.env.time_ms = util_now_ms();
	q.env.source = c->source;
	q.audit = z->audit;
	q.audit_action = action;
	q.audit_resource = r;
	q.approval.requester = a.requested_by;
	q.approval.target_user = change_user(&a, &keep);
	rc = authz_decide(&q, &d);
	json_decref(keep);
	if (rc != PV_OK) {
		store_approval_clear(&a);
		if (d.audit_failed)
			return PV_E_AUDIT;
		return fail(res, rc, d.message);
	}
	if (strcmp(a.status, "pending") != 0) {
		char m[96];

		snprintf(m, sizeof(m), "The request is %s, not pending", a.status);
		store_approval_clear(&a);
		return fail(res, PV_E_CONFLICT, m);
	}
	now = util_now_ms();
	status = approve ? "approved" : "denied";
	o = json_pack("{s:s, s:s}", "kind", a.kind, "target", a.target);
	detail = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	/* the answer is the row as the commit leaves it, built now: the
	 * commit runs later, on the committer (authz_commit_held) */
	util_strlcpy(a.status, status, sizeof(a.status));
	util_strlcpy(a.decided_by, c->subject->user_id, sizeof(a.decided_by));
	a.decided_ms = now;
	free(a.note);
	a.note = strdup(note != NULL ? note : "");
	if (detail == NULL || a.note == NULL || (answer = approval_json(&a)) == NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(answer);
		free(detail);
		store_approval_clear(&a);
		return PV_E_NOMEM;
	}
	j->a = a;   /* the row (its change) is the job's from here on */
	util_strlcpy(j->by, c->subject->user_id, sizeof(j->by));
	j->d.id = j->a.id;
	j->d.status = status;
	j->d.by = j->by;
	j->d.now = now;
	j->d.note = j->a.note;
	j->d.a = &j->a;
	authz_ev_init(&ev, c->subject, c->source, action, r);
	ev.reason = status;
	ev.detail = detail;
	/* a request settled twice: the second finds no pending row inside the
	 * transaction (store_approval_decide), its entry says not_found and
	 * its answer is 409; an approval moves the generation after the
	 * commit, before the 200 leaves */
	rc = authz_commit_held(z, &ev, approve ? approve_fn : decide_fn, j, settle_free,
	    (approve ? AUTHZ_HELD_BUMP : 0u) | AUTHZ_HELD_LOST_IS_CONFLICT);
	free(detail);
	if (rc == PV_E_NOTFOUND)
		rc = fail(res, PV_E_CONFLICT, "The request was decided meanwhile, or what it "
		    "changes no longer exists");
	else if (rc == PV_E_CONFLICT)
		fail(res, rc, "What the request creates exists already");
	if (rc != PV_OK) {
		json_decref(answer);
		return rc;
	}
	*out = answer;
	return PV_OK;
}
