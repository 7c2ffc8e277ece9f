/*
 * authz/elevations.c: just-in-time elevation (API.md "JIT elevation";
 * docs/access-control.md "Just-in-time elevation"; docs/internals/authz.md
 * "JIT elevation"). A user eligible for a role (store_eligible_*, set by
 * the directory under dual control) asks to hold it for duration_s with a
 * justification and a ticket; another principal holding access.approve
 * approves it; from that instant the role is the user's until expires_at
 * or a revocation.
 *
 * States (store_elevations.h):
 *   pending --approve (access.approve, not the requester)--> active
 *   pending --deny--> denied        pending --request_expires_ms--> expired
 *   pending|active --revoke (requester, officer, users.manage)--> revoked
 *   active --expires_ms--> expired
 *
 * Invariants:
 *  - the approver is decided by authz_decide (action access.approve, the
 *    requester as approval.requester): an app, and the requester in any of
 *    its sessions, are refused there and the refusal is audited there;
 *  - the grant is never baked into a token: authz_authenticate adds the
 *    roles of the user's active elevations to the principal on every
 *    request (authz_elevations_attach), from a per-user cache keyed on the
 *    authn generation (the access epoch), and drops any whose expires_ms
 *    has passed by the injectable clock, so the first request after the
 *    instant is decided without it; the elevation IDs go into the actor of
 *    every entry written for that request (pv_actor.elevations);
 *  - approving, denying, revoking and expiring move the row out of its
 *    state in one transaction with its elevation.* entry, the store op
 *    bumps the access epoch (shared stores) and this node's generation is
 *    bumped after the commit; from a request no thread waits for it
 *    (authz_commit_held: the answer leaves after the fsync, the
 *    generation moves before it does);
 *  - expiry is exact and never written by a request: an active elevation
 *    past its expires_ms, or a pending one past its request_expires_ms,
 *    reads as expired everywhere here (elevation_as_of: ended by system at
 *    that instant), is not attached to a principal, cannot be approved or
 *    revoked (409) and does not block a new request; the authz sweeper
 *    (authz_elevations_expire, service.c) writes the state with its
 *    elevation.expire entry (actor system) about a second later and moves
 *    the generation;
 *  - the justification is free text of the requester: kept in the row for
 *    approvers and auditors, never put in an audit entry or a log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

#define JUSTIFICATION_MAX 1024
#define TICKET_MAX (STORE_ELEVATION_TICKET_MAX - 1)
#define DURATION_MIN_S 60
#define DUE_MAX 32

static enum pv_rc
fail(struct authz_result *res, enum pv_rc rc, const char *msg)
{
	util_strlcpy(res->message, msg != NULL ? msg : "", sizeof(res->message));
	return rc;
}

void
authz_elevations_configure(struct authz_service *z, int max_s)
{
	if (z != NULL && max_s >= DURATION_MIN_S)
		z->elevation_max_s = max_s;
}

enum pv_rc
authz_elevations_role_max(struct authz_service *z, const char *role, int max_s)
{
	size_t i;

	if (z == NULL || role == NULL || !authz_role_name_valid(role) ||
	    max_s < DURATION_MIN_S || max_s > 86400)
		return PV_E_INVALID;
	for (i = 0; i < z->nrole_max; i++)
		if (strcmp(z->role_max[i].role, role) == 0)
			break;
	if (i == z->nrole_max) {
		if (z->nrole_max >= AUTHZ_ROLE_MAX_N)
			return PV_E_TOOBIG;
		util_strlcpy(z->role_max[i].role, role, sizeof(z->role_max[i].role));
		z->nrole_max++;
	}
	z->role_max[i].max_s = max_s;
	return PV_OK;
}

/* The longest elevation to role: its role_max_s, else max_s; *per_role
 * says which. */
static int
max_for(const struct authz_service *z, const char *role, bool *per_role)
{
	size_t i;

	for (i = 0; i < z->nrole_max; i++)
		if (strcmp(z->role_max[i].role, role) == 0) {
			*per_role = true;
			return z->role_max[i].max_s;
		}
	*per_role = false;
	return z->elevation_max_s;
}

/* ---- the API object ---- */

static json_t *
elevation_json(const struct store_elevation *e)
{
	char c[32], r[32], t[32];
	json_t *o;

	util_time_fmt(e->created_ms, c, sizeof(c));
	util_time_fmt(e->request_expires_ms, r, sizeof(r));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "id", e->id,
	    "user_id", e->user_id, "role", e->role, "status", e->status,
	    "justification", e->justification != NULL ? e->justification : "",
	    "ticket", e->ticket, "duration_s", (json_int_t)e->duration_s, "created", c,
	    "request_expires", r);
	if (o == NULL)
		return NULL;
	if (e->starts_ms != 0) {
		util_time_fmt(e->starts_ms, t, sizeof(t));
		json_object_set_new(o, "approved_by", json_string(e->approved_by));
		json_object_set_new(o, "starts_at", json_string(t));
		util_time_fmt(e->expires_ms, t, sizeof(t));
		json_object_set_new(o, "expires_at", json_string(t));
	}
	if (e->ended_ms != 0) {
		util_time_fmt(e->ended_ms, t, sizeof(t));
		json_object_set_new(o, "ended_by", json_string(e->ended_by));
		json_object_set_new(o, "ended_at", json_string(t));
	}
	return o;
}

/* The audit detail of an elevation: role, user, ticket, duration (never the
 * justification: free text). malloc'd, NULL on allocation failure. */
static char *
elevation_detail(const struct store_elevation *e)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "role", e->role, "user", e->user_id,
	    "ticket", e->ticket, "duration_s", (json_int_t)e->duration_s);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return s;
}

/* ---- state changes ---- */

struct end_job {
	const char *id;
	const char *from;
	const char *to;
	const char *by;
	int64_t at_ms;
	int64_t expires_ms;          /* approve: the end of the grant */
};

static enum pv_rc
end_fn(struct store_tx *tx, void *arg)
{
	struct end_job *j = arg;

	return store_elevation_end(tx, j->id, j->from, j->to, j->by, j->at_ms);
}

static enum pv_rc
approve_fn(struct store_tx *tx, void *arg)
{
	struct end_job *j = arg;

	return store_elevation_approve(tx, j->id, j->by, j->at_ms, j->expires_ms);
}

struct due {
	size_t n;
	struct {
		char id[UTIL_ID_MAX];
		bool active;
		int64_t at;
	} e[DUE_MAX];
	int64_t now;
};

/* The instant e expires (its state as of now says so), or 0. */
static int64_t
due_at(const struct store_elevation *e, int64_t now)
{
	if (strcmp(e->status, "active") == 0 && e->expires_ms <= now)
		return e->expires_ms;
	if (strcmp(e->status, "pending") == 0 && e->request_expires_ms <= now)
		return e->request_expires_ms;
	return 0;
}

/* e as it reads at now: past its time it is expired, ended by system at
 * that instant, as the sweeper will write it. In place. */
static void
elevation_as_of(struct store_elevation *e, int64_t now)
{
	int64_t at = due_at(e, now);

	if (at == 0)
		return;
	util_strlcpy(e->status, "expired", sizeof(e->status));
	util_strlcpy(e->ended_by, "system", sizeof(e->ended_by));
	e->ended_ms = at;
}

static int
on_due(const struct store_elevation *e, void *arg)
{
	struct due *d = arg;
	int64_t at = due_at(e, d->now);

	if (d->n >= DUE_MAX)
		return 1;
	if (at != 0) {
		util_strlcpy(d->e[d->n].id, e->id, UTIL_ID_MAX);
		d->e[d->n].at = at;
		d->e[d->n++].active = strcmp(e->status, "active") == 0;
	}
	return 0;
}

/* The sweeper's step (service.c, off any request thread): every
 * elevation whose time has come, expired at that instant with its entry;
 * at most DUE_MAX a call (the rest at the next). */
enum pv_rc
authz_elevations_expire(struct authz_service *z, int64_t now)
{
	struct due d;
	size_t i, done = 0;
	enum pv_rc rc;

	memset(&d, 0, sizeof(d));
	d.now = now;
	STORE_READ(z->st, rc, store_elevation_list(tx, NULL, "active", on_due, &d));
	if (rc == PV_OK)
		STORE_READ(z->st, rc, store_elevation_list(tx, NULL, "pending", on_due, &d));
	if (rc != PV_OK)
		return rc;
	for (i = 0; i < d.n; i++) {
		struct end_job j = { d.e[i].id, d.e[i].active ? "active" : "pending", "expired",
			"system", d.e[i].at, 0 };
		struct audit_event ev;
		char r[64];

		snprintf(r, sizeof(r), "elevations/%s", d.e[i].id);
		memset(&ev, 0, sizeof(ev));
		ev.actor = audit_actor_system();
		ev.action = "elevation.expire";
		ev.resource = r;
		ev.outcome = AUDIT_ALLOWED;
		ev.reason = d.e[i].active ? "duration_elapsed" : "request_expired";
		rc = audit_commit_at(z->audit, &ev, end_fn, &j, COMMIT_BACKGROUND);
		if (rc == PV_OK)
			done++;
		else if (rc != PV_E_NOTFOUND)   /* ended meanwhile: fine */
			return rc;
	}
	if (done > 0)
		authn_authz_changed(z->authn);
	return PV_OK;
}

/* ---- the grant on every request ---- */

static size_t
slot_of(const char *user_id)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *user_id != '\0'; user_id++)
		h = (h ^ (uint8_t)*user_id) * 16777619u;
	return h % AUTHZ_ELEV_SLOTS;
}

static int
on_active(const struct store_elevation *e, void *arg)
{
	struct authz_elev_slot *sl = arg;

	if (sl->n >= AUTHN_ELEVATIONS_MAX)
		return 1;   /* more at once than an actor names: the oldest wait */
	util_strlcpy(sl->id[sl->n], e->id, UTIL_ID_MAX);
	util_strlcpy(sl->role[sl->n], e->role, AUTHN_ROLE_NAME_MAX);
	sl->expires_ms[sl->n++] = e->expires_ms;
	return 0;
}

static int
cmp_role(const void *a, const void *b)
{
	return strcmp(a, b);
}

enum pv_rc
authz_elevations_attach(struct authz_service *z, struct authn_principal *p)
{
	uint64_t gen = authn_authz_generation(z->authn);
	struct authz_elev_slot *sl, got;
	bool added = false;
	int64_t now;
	size_t i, k;
	enum pv_rc rc;

	if (p == NULL || p->app || p->user_id[0] == '\0')
		return PV_OK;
	sl = &z->elev[slot_of(p->user_id)];
	pthread_mutex_lock(&z->mu);
	if (sl->user_id[0] != '\0' && sl->gen == gen && strcmp(sl->user_id, p->user_id) == 0) {
		got = *sl;
		pthread_mutex_unlock(&z->mu);
	} else {
		pthread_mutex_unlock(&z->mu);
		memset(&got, 0, sizeof(got));
		STORE_READ(z->st, rc, store_elevation_list(tx, p->user_id, "active", on_active,
		    &got));
		if (rc != PV_OK)
			return rc;
		util_strlcpy(got.user_id, p->user_id, sizeof(got.user_id));
		got.gen = gen;
		pthread_mutex_lock(&z->mu);
		*sl = got;
		pthread_mutex_unlock(&z->mu);
	}
	now = util_now_ms();
	p->nelevations = 0;
	for (i = 0; i < got.n; i++) {
		if (got.expires_ms[i] <= now)
			continue;   /* ends at that instant, whatever is cached or swept */
		for (k = 0; k < p->nroles && strcmp(p->roles[k], got.role[i]) != 0; k++)
			;
		if (k == p->nroles) {
			if (p->nroles >= AUTHN_ROLES_MAX) {
				log_warn("authz: elevation %s not applied: too many roles", got.id[i]);
				continue;
			}
			util_strlcpy(p->roles[p->nroles++], got.role[i], AUTHN_ROLE_NAME_MAX);
			added = true;
		}
		util_strlcpy(p->elevations[p->nelevations++], got.id[i], UTIL_ID_MAX);
	}
	if (added)
		qsort(p->roles, p->nroles, AUTHN_ROLE_NAME_MAX, cmp_role);
	/* an elapsed one is the sweeper's to write: nothing here waits */
	return PV_OK;
}

void
authz_elevations_mfa(struct authz_service *z, struct authn_principal *p,
    const struct authz_permset *set)
{
	if (p == NULL || p->nelevations == 0 || p->mfa_verified || p->restricted ||
	    !authn_mfa_admins_only(z->authn) || !authz_permset_is_privileged(set))
		return;
	/* a direct admin role without MFA never gets here: authn restricted it */
	if (p->mfa_enrolled) {
		p->elevation_mfa_owed = true;
	} else {
		p->restrict_flags |= AUTHN_RESTRICT_MFA_ENROL;
		p->restricted = true;
	}
}

/* ---- requests ---- */

/* May c see every elevation (holds access.approve), or only its own? */
static bool
is_officer(const struct authz_caller *c)
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

static int
on_name(const char *name, void *arg)
{
	const char **want = arg;

	if (*want != NULL && strcmp(name, *want) == 0)
		*want = NULL;   /* found */
	return *want == NULL;
}

struct open_ctx {
	const char *role;
	int64_t now;
	bool found;
};

static int
on_open(const struct store_elevation *e, void *arg)
{
	struct open_ctx *o = arg;

	/* one past its time is expired, swept or not */
	if (strcmp(e->role, o->role) == 0 && due_at(e, o->now) == 0 &&
	    (strcmp(e->status, "pending") == 0 || strcmp(e->status, "active") == 0))
		o->found = true;
	return o->found;
}

static enum pv_rc
refuse(struct authz_service *z, const struct authz_caller *c, const char *action,
    const char *resource, const char *reason, enum pv_rc rc, const char *msg,
    struct authz_result *res)
{
	struct audit_event ev;

	authz_ev_init(&ev, c->subject, c->source, action, resource);
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason;
	/* the refusal leaves once its entry is durable, nobody waiting */
	if (audit_record_held(z->audit, &ev, true) != PV_OK)
		return PV_E_AUDIT;
	return fail(res, rc, msg);
}

/* The row to store, owned by the commit (authz_commit_held). */
struct put_job {
	struct store_elevation e;
};

static enum pv_rc
put_fn(struct store_tx *tx, void *arg)
{
	return store_elevation_put(tx, &((struct put_job *)arg)->e);
}

static void
put_free(void *arg)
{
	struct put_job *j = arg;

	store_elevation_clear(&j->e);
	free(j);
}

enum pv_rc
authz_elevation_request(struct authz_service *z, const struct authz_caller *c,
    const struct authz_elevation_spec *q, json_t **out, struct authz_result *res)
{
	struct store_elevation e;
	struct put_job *j;
	struct open_ctx oc;
	struct audit_event ev;
	const char *want;
	char r[64], msg[192], *detail = NULL;
	int64_t duration;
	bool per_role = false;
	int max_s;
	json_t *o;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if (c->subject->app)
		return refuse(z, c, "elevation.request", "elevations", "app_forbidden",
		    PV_E_FORBIDDEN, "An app cannot be elevated", res);
	if (q->role == NULL || !authz_role_name_valid(q->role))
		return fail(res, PV_E_INVALID, "role must be a role name");
	if (q->justification == NULL || q->justification[0] == '\0' ||
	    strlen(q->justification) > JUSTIFICATION_MAX)
		return fail(res, PV_E_INVALID, "justification is required (at most 1024 bytes)");
	if (q->ticket != NULL && strlen(q->ticket) > TICKET_MAX)
		return fail(res, PV_E_INVALID, "ticket must be at most 128 bytes");
	max_s = max_for(z, q->role, &per_role);
	duration = q->duration_set ? q->duration_s : (max_s < 3600 ? max_s : 3600);
	if (duration < DURATION_MIN_S || duration > max_s) {
		if (per_role)
			snprintf(msg, sizeof(msg), "duration_s must be from %d to %d seconds for "
			    "role %s ([elevation] role_max_s)", DURATION_MIN_S, max_s, q->role);
		else
			snprintf(msg, sizeof(msg), "duration_s must be from %d to %d seconds "
			    "([elevation] max_s)", DURATION_MIN_S, max_s);
		return fail(res, PV_E_INVALID, msg);
	}
	want = q->role;
	STORE_READ(z->st, rc, store_eligible_get(tx, c->subject->user_id, on_name, &want));
	if (rc != PV_OK)
		return rc;
	if (want != NULL)
		return refuse(z, c, "elevation.request", "elevations", "not_eligible",
		    PV_E_NOT_ELIGIBLE, "You are not eligible for that role", res);
	oc.role = q->role;
	oc.now = util_now_ms();
	oc.found = false;
	STORE_READ(z->st, rc, store_elevation_list(tx, c->subject->user_id, NULL, on_open, &oc));
	if (rc != PV_OK)
		return rc;
	if (oc.found)
		return fail(res, PV_E_CONFLICT, "You have a pending or active elevation to that "
		    "role already");
	memset(&e, 0, sizeof(e));
	if ((rc = util_id_new("elv", e.id)) != PV_OK)
		return rc;
	util_strlcpy(e.user_id, c->subject->user_id, sizeof(e.user_id));
	util_strlcpy(e.role, q->role, sizeof(e.role));
	util_strlcpy(e.status, "pending", sizeof(e.status));
	e.justification = (char *)q->justification;
	util_strlcpy(e.ticket, q->ticket != NULL ? q->ticket : "", sizeof(e.ticket));
	e.duration_s = duration;
	e.created_ms = util_now_ms();
	e.request_expires_ms = e.created_ms + (int64_t)z->approvals_expire_s * 1000;
	if ((detail = elevation_detail(&e)) == NULL)
		return PV_E_NOMEM;
	snprintf(r, sizeof(r), "elevations/%s", e.id);
	authz_ev_init(&ev, c->subject, c->source, "elevation.request", r);
	ev.reason = "pending";
	ev.detail = detail;
	/* the answer (ID generated above) is built before the commit, which
	 * runs later on the committer with a copy of the row it owns */
	if ((o = elevation_json(&e)) == NULL || (j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(o);
		free(detail);
		return PV_E_NOMEM;
	}
	j->e = e;
	if ((j->e.justification = strdup(q->justification)) == NULL) {
		free(j);
		json_decref(o);
		free(detail);
		return PV_E_NOMEM;
	}
	rc = authz_commit_held(z, &ev, put_fn, j, put_free, 0);
	free(detail);
	if (rc != PV_OK) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return PV_OK;
}

/* ---- reads ---- */

struct list_ctx {
	json_t *arr;
	const char *status;   /* as read at now (pending, active, expired: filtered here) */
	int64_t now;
	bool failed;
};

static int
on_list(const struct store_elevation *row, void *arg)
{
	struct list_ctx *l = arg;
	struct store_elevation e = *row;   /* shallow: elevation_as_of frees nothing */
	json_t *o;

	elevation_as_of(&e, l->now);
	if (l->status != NULL && strcmp(e.status, l->status) != 0)
		return 0;
	o = elevation_json(&e);

	if (o == NULL || json_array_append_new(l->arr, o) != 0) {
		l->failed = true;
		return 1;
	}
	return 0;
}

static bool
status_valid(const char *s)
{
	return strcmp(s, "pending") == 0 || strcmp(s, "active") == 0 ||
	    strcmp(s, "denied") == 0 || strcmp(s, "revoked") == 0 || strcmp(s, "expired") == 0;
}

enum pv_rc
authz_elevation_list(struct authz_service *z, const struct authz_caller *c,
    const char *status, json_t **out, struct authz_result *res)
{
	struct list_ctx l = { NULL, status, util_now_ms(), false };
	const char *only, *stored;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if (status != NULL && !status_valid(status))
		return fail(res, PV_E_INVALID, "status must be pending, active, denied, revoked "
		    "or expired");
	if ((l.arr = json_array()) == NULL)
		return PV_E_NOMEM;
	only = is_officer(c) ? NULL : c->subject->user_id;
	/* states time changes, as they read now: a due row not swept yet is
	 * stored pending or active */
	stored = status != NULL && (strcmp(status, "pending") == 0 ||
	    strcmp(status, "active") == 0 || strcmp(status, "expired") == 0) ? NULL : status;
	STORE_READ(z->st, rc, store_elevation_list(tx, only, stored, on_list, &l));
	if (rc == PV_OK && l.failed)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(l.arr);
		return rc;
	}
	*out = l.arr;
	return PV_OK;
}

/* The elevation of id: PV_E_NOTFOUND with the message callers show. */
static enum pv_rc
load(struct authz_service *z, const char *id, struct store_elevation *e,
    struct authz_result *res)
{
	enum pv_rc rc;

	if (id == NULL || !util_id_valid("elv", id))
		return fail(res, PV_E_NOTFOUND, "No such elevation");
	STORE_READ(z->st, rc, store_elevation_get(tx, id, e));
	if (rc == PV_E_NOTFOUND)
		return fail(res, rc, "No such elevation");
	if (rc == PV_OK)
		elevation_as_of(e, util_now_ms());   /* past its time: expired (409s) */
	return rc;
}

enum pv_rc
authz_elevation_get(struct authz_service *z, const struct authz_caller *c, const char *id,
    json_t **out, struct authz_result *res)
{
	struct store_elevation e;
	json_t *o;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if ((rc = load(z, id, &e, res)) != PV_OK)
		return rc;
	if (strcmp(e.user_id, c->subject->user_id) != 0 && !is_officer(c)) {
		store_elevation_clear(&e);
		return fail(res, PV_E_NOTFOUND, "No such elevation");
	}
	o = elevation_json(&e);
	store_elevation_clear(&e);
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

/* ---- decisions ---- */

/* An end_job the commit owns: j first (end_fn / approve_fn take it), its
 * strings here. */
struct change_job {
	struct end_job j;
	char id[UTIL_ID_MAX];
	char by[UTIL_ID_MAX];
};

/* Commit the change j of e with its entry; answer e as the change leaves it. */
static enum pv_rc
commit_change(struct authz_service *z, const struct authz_caller *c, struct store_elevation *e,
    const char *action, const char *reason, audit_job_fn fn, struct end_job *j, json_t **out,
    struct authz_result *res)
{
	struct audit_event ev;
	struct change_job *cj;
	char r[64], *detail;
	json_t *o;
	enum pv_rc rc;

	if ((detail = elevation_detail(e)) == NULL)
		return PV_E_NOMEM;
	snprintf(r, sizeof(r), "elevations/%s", e->id);
	authz_ev_init(&ev, c->subject, c->source, action, r);
	ev.reason = reason;
	ev.detail = detail;
	/* the answer is the row as the change leaves it, built now; the job
	 * (from / to are static strings) is copied for the committer */
	util_strlcpy(e->status, j->to, sizeof(e->status));
	if (fn == approve_fn) {
		util_strlcpy(e->approved_by, j->by, sizeof(e->approved_by));
		e->starts_ms = j->at_ms;
		e->expires_ms = j->expires_ms;
	} else {
		util_strlcpy(e->ended_by, j->by, sizeof(e->ended_by));
		e->ended_ms = j->at_ms;
	}
	if ((o = elevation_json(e)) == NULL || (cj = calloc(1, sizeof(*cj))) == NULL) {
		json_decref(o);
		free(detail);
		return PV_E_NOMEM;
	}
	cj->j = *j;
	util_strlcpy(cj->id, j->id, sizeof(cj->id));
	util_strlcpy(cj->by, j->by, sizeof(cj->by));
	cj->j.id = cj->id;
	cj->j.by = cj->by;
	/* settled or ended twice: the second finds no row in its state inside
	 * the transaction (entry not_found, answer 409); a change that
	 * committed moves the generation before the answer leaves */
	rc = authz_commit_held(z, &ev, fn, cj, free,
	    AUTHZ_HELD_BUMP | AUTHZ_HELD_LOST_IS_CONFLICT);
	free(detail);
	if (rc != PV_OK) {
		json_decref(o);
		if (rc == PV_E_NOTFOUND)
			return fail(res, PV_E_CONFLICT, "The elevation was decided or ended "
			    "meanwhile");
		return rc;
	}
	*out = o;
	return PV_OK;
}

enum pv_rc
authz_elevation_settle(struct authz_service *z, const struct authz_caller *c, const char *id,
    bool approve, json_t **out, struct authz_result *res)
{
	const char *action = approve ? "elevation.approve" : "elevation.deny";
	struct store_elevation e;
	struct authz_request q;
	struct authz_decision d;
	struct end_job j;
	char r[64], m[96];
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if ((rc = load(z, id, &e, res)) != PV_OK)
		return rc;
	snprintf(r, sizeof(r), "elevations/%s", e.id);
	/* the one decision point: access.approve, never an app, never the
	 * requester in any session (audited there when denied) */
	memset(&q, 0, sizeof(q));
	q.subject = c->subject;
	q.action = "access.approve";
	q.env.time_ms = util_now_ms();
	q.env.source = c->source;
	q.audit = z->audit;
	q.audit_action = action;
	q.audit_resource = r;
	q.approval.requester = e.user_id;
	q.approval.target_user = e.user_id;
	if ((rc = authz_decide(&q, &d)) != PV_OK) {
		store_elevation_clear(&e);
		if (d.audit_failed)
			return PV_E_AUDIT;
		return fail(res, rc, d.message);
	}
	if (strcmp(e.status, "pending") != 0) {
		snprintf(m, sizeof(m), "The elevation is %s, not pending", e.status);
		store_elevation_clear(&e);
		return fail(res, PV_E_CONFLICT, m);
	}
	memset(&j, 0, sizeof(j));
	j.id = e.id;
	j.from = "pending";
	j.to = approve ? "active" : "denied";
	j.by = c->subject->user_id;
	j.at_ms = util_now_ms();
	j.expires_ms = j.at_ms + e.duration_s * 1000;   /* the clock starts now */
	rc = commit_change(z, c, &e, action, approve ? "approved" : "denied",
	    approve ? approve_fn : end_fn, &j, out, res);
	store_elevation_clear(&e);
	return rc;
}

enum pv_rc
authz_elevation_revoke(struct authz_service *z, const struct authz_caller *c, const char *id,
    json_t **out, struct authz_result *res)
{
	struct store_elevation e;
	struct authz_request q;
	struct authz_decision d;
	struct end_job j;
	char r[64], m[96];
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (c->subject == NULL)
		return PV_E_UNAUTH;
	if ((rc = load(z, id, &e, res)) != PV_OK)
		return rc;
	snprintf(r, sizeof(r), "elevations/%s", e.id);
	/* the requester ends its own; otherwise an officer or users.manage,
	 * decided (and a refusal audited) by the decision point */
	if (strcmp(e.user_id, c->subject->user_id) != 0 && !is_officer(c)) {
		memset(&q, 0, sizeof(q));
		q.subject = c->subject;
		q.action = "users.manage";
		q.env.time_ms = util_now_ms();
		q.env.source = c->source;
		q.audit = z->audit;
		q.audit_action = "elevation.revoke";
		q.audit_resource = r;
		if ((rc = authz_decide(&q, &d)) != PV_OK) {
			store_elevation_clear(&e);
			if (d.audit_failed)
				return PV_E_AUDIT;
			return fail(res, rc, d.message);
		}
	}
	if (strcmp(e.status, "pending") != 0 && strcmp(e.status, "active") != 0) {
		snprintf(m, sizeof(m), "The elevation is %s already", e.status);
		store_elevation_clear(&e);
		return fail(res, PV_E_CONFLICT, m);
	}
	memset(&j, 0, sizeof(j));
	j.id = e.id;
	j.from = strcmp(e.status, "active") == 0 ? "active" : "pending";
	j.to = "revoked";
	j.by = c->subject->user_id;
	j.at_ms = util_now_ms();
	rc = commit_change(z, c, &e, "elevation.revoke", "revoked", end_fn, &j, out, res);
	store_elevation_clear(&e);
	return rc;
}
