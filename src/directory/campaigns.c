/*
 * directory/campaigns.c: access review campaigns (API.md "Governance",
 * issue 19 item 1; docs/governance.md "Access reviews",
 * docs/internals/directory.md "Access review campaigns"). routes_campaigns.c
 * adapts them to HTTP; `phivault review campaign` is the CLI.
 *
 *   create  POST /v1/reviews/campaigns              review.campaign.create
 *   list    GET  /v1/reviews/campaigns[?status=]    (not audited)
 *   show    GET  /v1/reviews/campaigns/{id}         (not audited)
 *   decide  POST /v1/reviews/campaigns/{id}/items/{item}  review.campaign.decide
 *   sweeper (thread, injectable clock)  review.campaign.remove | .overdue, .close
 *
 * Every route requires access.approve (the security officers: reviewers
 * "officers"); apps never hold it. Scopes:
 *   phi_access  users and apps holding a role that grants PHI access
 *               (authz_perm_grants_phi), directly or through a group;
 *   admins      users and apps holding an administrative permission
 *               (authz_permset_is_privileged), directly or through a group;
 *   apps        every active app.
 * Disabled principals are not listed. security_officer (access.approve) is
 * never an in-scope grant: officers are given and taken only with the
 * seal's authority (officers.c), so a campaign neither lists nor removes it.
 *
 * An item is a snapshot taken at create: roles, groups (with their roles),
 * the in-scope grants, active elevations (listed, never revoked: they end on
 * their own), last use (store_campaign_last_use: a user's newest session
 * activity, an app's newest sign-in), the approver (the newest approved
 * dual-control request naming the principal), created_by, and unused (no
 * use for [reviews] unused_days; a principal never used counts from its
 * creation).
 *
 * States (store_campaigns.h): campaign open -> closed; item pending ->
 * keep | revoke (a reviewer) | removed | unattested (the sweeper at due).
 * Invariants:
 *  - a revoke (or a due-date removal) and its entry are one audit_commit:
 *    the item leaves pending and the grants go (roles and groups of a user
 *    minus the in-scope ones; an app disabled with every session ended), or
 *    neither; the authz generation then moves, so the very next request of
 *    that principal is decided without them;
 *  - nobody reviews their own item (compared by principal ID; audited
 *    denial, reason self_review), and an app never reviews;
 *  - closing is one transaction: the result text (JSON, compact, sorted
 *    keys: the campaign and every item's decision) and its Ed25519
 *    signature by the audit key over DIRECTORY_CAMPAIGN_SIG_TAG || text,
 *    kept in the row; GET verifies it against the stored public key;
 *  - nothing here holds PHI: principals by ID and name, roles, times.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/authz.h"
#include "crypto/crypto.h"
#include "directory/directory_int.h"
#include "keys/keys.h"

#define SWEEP_MS 500
#define DAY_MS 86400000LL
#define OPEN_MAX 32
#define PENDING_MAX 4096
#define RES_MAX 160

struct directory_campaigns {
	struct directory *d;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool running, stop;
};

static bool
word_in(const char *s, const char *const *set)
{
	for (; s != NULL && *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static const char *const scopes[] = { "phi_access", "admins", "apps", NULL };

static char *
dump(json_t *o)
{
	char *t = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return t;
}

static json_t *
time_or_null(int64_t ms)
{
	char b[32];

	if (ms <= 0)
		return json_null();
	util_time_fmt(ms, b, sizeof(b));
	return json_string(b);
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* ---- what a role grants ---- */

struct role_class {
	bool phi, admin, officer;
};

static void
classify_perm(const char *p, struct role_class *c, struct authz_permset *ps)
{
	c->phi = c->phi || authz_perm_grants_phi(p);
	c->officer = c->officer || authz_perm_is_officer(p);
	(void)authz_permset_add(ps, p);   /* a full set only under-reports admin */
}

static enum pv_rc
role_classify(struct store_tx *tx, const char *role, struct role_class *c)
{
	struct authz_permset ps;
	const char *const *bp;
	struct store_role r;
	size_t n = 0, i;
	enum pv_rc rc;

	memset(c, 0, sizeof(*c));
	authz_permset_init(&ps);
	if ((bp = authz_builtin_role(role, &n)) != NULL) {
		for (i = 0; i < n; i++)
			classify_perm(bp[i], c, &ps);
	} else {
		json_t *perms, *p;

		if ((rc = store_role_get(tx, role, &r)) != PV_OK)
			return rc == PV_E_NOTFOUND ? PV_OK : rc;   /* a gone role grants nothing */
		perms = json_loads(r.permissions != NULL ? r.permissions : "[]", 0, NULL);
		store_role_clear(&r);
		json_array_foreach(perms, i, p)
			if (json_is_string(p))
				classify_perm(json_string_value(p), c, &ps);
		json_decref(perms);
	}
	c->admin = authz_permset_is_privileged(&ps);
	return PV_OK;
}

/* Does role put its holder in scope? security_officer never does. */
static enum pv_rc
role_in_scope(struct store_tx *tx, const char *scope, const char *role, bool *in)
{
	struct role_class c;
	enum pv_rc rc;

	*in = false;
	if ((rc = role_classify(tx, role, &c)) != PV_OK)
		return rc;
	if (c.officer)
		return PV_OK;
	if (strcmp(scope, "phi_access") == 0)
		*in = c.phi;
	else if (strcmp(scope, "admins") == 0)
		*in = c.admin;
	return PV_OK;
}

/* ---- the snapshot of one principal ---- */

static int
on_name(const char *name, void *arg)
{
	return json_array_append_new(arg, json_string(name)) != 0;
}

static int
on_elevation(const struct store_elevation *e, void *arg)
{
	return json_array_append_new(arg, json_pack("{s:s, s:s, s:o}", "id", e->id, "role",
	    e->role, "expires_at", time_or_null(e->expires_ms))) != 0;
}

/* An item under construction: its row and its snapshot. */
struct draft {
	struct store_campaign_item row;
	json_t *snap;
};

struct drafts {
	struct draft *v;
	size_t n, cap;
	const char *scope;
	int64_t now;
	int64_t unused_ms;
	struct store_tx *tx;
	enum pv_rc rc;
};

static void
drafts_free(struct drafts *ds)
{
	for (size_t i = 0; i < ds->n; i++) {
		free(ds->v[i].row.detail);
		json_decref(ds->v[i].snap);
	}
	free(ds->v);
	memset(ds, 0, sizeof(*ds));
}

/* Last use, approver, unused flag and the row's fixed fields; takes snap. */
static enum pv_rc
draft_add(struct drafts *ds, const char *kind, const char *id, const char *name,
    int64_t created_ms, const char *created_by, json_t *snap)
{
	struct draft *dr;
	char target[RES_MAX], by[UTIL_ID_MAX];
	int64_t last = 0, approved_ms = 0, base;
	enum pv_rc rc;

	if (snap == NULL)
		return PV_E_NOMEM;
	snprintf(target, sizeof(target), "%ss/%s", kind, id);
	if ((rc = store_campaign_last_use(ds->tx, kind, id, &last)) != PV_OK ||
	    (rc = store_campaign_approver(ds->tx, target, by, &approved_ms)) != PV_OK) {
		json_decref(snap);
		return rc;
	}
	base = last > created_ms ? last : created_ms;
	json_object_set_new(snap, "last_used", time_or_null(last));
	json_object_set_new(snap, "approved_by", str_or_null(by));
	json_object_set_new(snap, "approved_at", time_or_null(approved_ms));
	json_object_set_new(snap, "created_by", str_or_null(created_by));
	if (ds->n == ds->cap) {
		size_t cap = ds->cap != 0 ? ds->cap * 2 : 16;
		struct draft *v = realloc(ds->v, cap * sizeof(*v));

		if (v == NULL) {
			json_decref(snap);
			return PV_E_NOMEM;
		}
		ds->v = v;
		ds->cap = cap;
	}
	dr = &ds->v[ds->n];
	memset(dr, 0, sizeof(*dr));
	if ((rc = util_id_new("rvi", dr->row.item_id)) != PV_OK) {
		json_decref(snap);
		return rc;
	}
	util_strlcpy(dr->row.kind, kind, sizeof(dr->row.kind));
	util_strlcpy(dr->row.principal_id, id, sizeof(dr->row.principal_id));
	util_strlcpy(dr->row.principal_name, name, sizeof(dr->row.principal_name));
	dr->row.unused = ds->now - base >= ds->unused_ms;
	if ((dr->row.detail = json_dumps(snap, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		json_decref(snap);
		return PV_E_NOMEM;
	}
	dr->snap = snap;
	ds->n++;
	return PV_OK;
}

/* The in-scope roles of names (a JSON array of role names) into in. */
static enum pv_rc
roles_in_scope(struct store_tx *tx, const char *scope, json_t *names, json_t *in)
{
	json_t *r;
	size_t i;
	enum pv_rc rc;

	json_array_foreach(names, i, r) {
		bool yes = false;

		if ((rc = role_in_scope(tx, scope, json_string_value(r), &yes)) != PV_OK)
			return rc;
		if (yes)
			json_array_append(in, r);
	}
	return PV_OK;
}

static int
on_user(const struct store_user *u, void *arg)
{
	struct drafts *ds = arg;
	json_t *roles = json_array(), *gnames = json_array(), *groups = json_array();
	json_t *in_roles = json_array(), *in_groups = json_array(), *elev = json_array(), *g;
	size_t i;
	enum pv_rc rc = PV_OK;

	if (u->disabled) {
		json_decref(roles);
		json_decref(gnames);
		json_decref(groups);
		json_decref(in_roles);
		json_decref(in_groups);
		json_decref(elev);
		return 0;
	}
	if (roles == NULL || gnames == NULL || groups == NULL || in_roles == NULL ||
	    in_groups == NULL || elev == NULL)
		rc = PV_E_NOMEM;
	if (rc == PV_OK)
		rc = store_user_roles_get(ds->tx, u->id, on_name, roles);
	if (rc == PV_OK)
		rc = store_user_groups_get(ds->tx, u->id, on_name, gnames);
	if (rc == PV_OK && strcmp(ds->scope, "apps") != 0)
		rc = roles_in_scope(ds->tx, ds->scope, roles, in_roles);
	json_array_foreach(gnames, i, g) {
		struct store_group sg;
		json_t *groles, *tmp;

		if (rc != PV_OK)
			break;
		if ((rc = store_group_get(ds->tx, json_string_value(g), &sg)) != PV_OK)
			break;
		groles = json_loads(sg.roles != NULL ? sg.roles : "[]", 0, NULL);
		store_group_clear(&sg);
		if (groles == NULL || (tmp = json_array()) == NULL) {
			json_decref(groles);
			rc = PV_E_NOMEM;
			break;
		}
		rc = roles_in_scope(ds->tx, ds->scope, groles, tmp);
		if (rc == PV_OK && json_array_size(tmp) > 0)
			json_array_append(in_groups, g);
		json_decref(tmp);
		json_array_append_new(groups, json_pack("{s:O, s:o}", "name", g, "roles", groles));
	}
	if (rc == PV_OK)
		rc = store_elevation_list(ds->tx, u->id, "active", on_elevation, elev);
	json_decref(gnames);
	if (rc != PV_OK || (json_array_size(in_roles) == 0 && json_array_size(in_groups) == 0)) {
		json_decref(roles);
		json_decref(groups);
		json_decref(in_roles);
		json_decref(in_groups);
		json_decref(elev);
		ds->rc = rc;
		return rc != PV_OK;
	}
	rc = draft_add(ds, "user", u->id, u->username, u->created_ms, u->created_by,
	    json_pack("{s:o, s:o, s:{s:o, s:o}, s:o}", "roles", roles, "groups", groups,
	    "in_scope", "roles", in_roles, "groups", in_groups, "elevations", elev));
	ds->rc = rc;
	return rc != PV_OK;
}

static int
on_app(const struct store_app *a, void *arg)
{
	struct drafts *ds = arg;
	bool all = strcmp(ds->scope, "apps") == 0;
	json_t *roles, *in_roles;
	enum pv_rc rc = PV_OK;

	if (a->disabled)
		return 0;
	roles = json_loads(a->roles != NULL ? a->roles : "[]", 0, NULL);
	in_roles = json_array();
	if (roles == NULL || !json_is_array(roles) || in_roles == NULL)
		rc = roles == NULL || in_roles == NULL ? PV_E_NOMEM : PV_E_INTEGRITY;
	else if (all)
		json_array_extend(in_roles, roles);   /* every app, whatever its roles */
	else
		rc = roles_in_scope(ds->tx, ds->scope, roles, in_roles);
	if (rc != PV_OK || (!all && json_array_size(in_roles) == 0)) {
		json_decref(roles);
		json_decref(in_roles);
		ds->rc = rc;
		return rc != PV_OK;
	}
	rc = draft_add(ds, "app", a->id, a->name, a->created_ms, a->created_by,
	    json_pack("{s:o, s:[], s:{s:o, s:[]}, s:[]}", "roles", roles, "groups", "in_scope",
	    "roles", in_roles, "groups", "elevations"));
	ds->rc = rc;
	return rc != PV_OK;
}

/* Every principal of scope at now, in one read transaction. */
static enum pv_rc
snapshot(struct directory *d, const char *scope, int64_t now, struct drafts *ds)
{
	enum pv_rc rc;

	memset(ds, 0, sizeof(*ds));
	ds->scope = scope;
	ds->now = now;
	ds->unused_ms = (int64_t)d->cfg->reviews_unused_days * DAY_MS;
	if ((rc = store_begin(d->st, STORE_RD, &ds->tx)) != PV_OK)
		return rc;
	if (strcmp(scope, "apps") != 0)
		rc = store_user_list(ds->tx, on_user, ds);
	if (rc == PV_OK)
		rc = ds->rc;
	if (rc == PV_OK)
		rc = store_app_list(ds->tx, on_app, ds);
	if (rc == PV_OK)
		rc = ds->rc;
	store_end(ds->tx);
	ds->tx = NULL;
	if (rc != PV_OK)
		drafts_free(ds);
	return rc;
}

/* ---- create ---- */

/* The campaign and its snapshot, the write's. */
struct create_job {
	struct store_campaign c;
	struct drafts ds;
};

static enum pv_rc
create_fn(struct store_tx *tx, void *arg)
{
	struct create_job *j = arg;
	enum pv_rc rc;

	if ((rc = store_campaign_put(tx, &j->c)) != PV_OK)
		return rc;
	for (size_t i = 0; i < j->ds.n; i++) {
		util_strlcpy(j->ds.v[i].row.campaign_id, j->c.id, UTIL_ID_MAX);
		if ((rc = store_campaign_item_put(tx, &j->ds.v[i].row)) != PV_OK)
			return rc;
	}
	return PV_OK;
}

static void
create_free(void *arg)
{
	struct create_job *j = arg;

	if (j != NULL)
		drafts_free(&j->ds);
	free(j);
}

static enum pv_rc
create_finish(struct directory *d, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct create_job *j = arg;

	(void)d;
	if (rc == PV_OK && res != NULL)
		util_strlcpy(res->id, j->c.id, sizeof(res->id));
	return rc;
}

static enum pv_rc
campaign_open(struct directory *d, const struct pv_actor *actor, const char *scope,
    int64_t due_in_s, struct directory_result *res)
{
	struct directory_write w = { create_fn, NULL, create_free, create_finish, COMMIT_REQUEST };
	struct create_job *j = calloc(1, sizeof(*j));
	struct store_campaign c;
	struct audit_event ev;
	char r[RES_MAX], due[32], *detail;
	size_t unused = 0;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	memset(&c, 0, sizeof(c));
	if (j == NULL)
		return PV_E_NOMEM;
	if ((rc = util_id_new("rvc", c.id)) != PV_OK) {
		free(j);
		return rc;
	}
	util_strlcpy(c.scope, scope, sizeof(c.scope));
	util_strlcpy(c.reviewers, "officers", sizeof(c.reviewers));
	util_strlcpy(c.status, "open", sizeof(c.status));
	util_strlcpy(c.on_due, d->cfg->reviews_on_due, sizeof(c.on_due));
	util_strlcpy(c.created_by, actor->user_id != NULL ? actor->user_id : "system",
	    sizeof(c.created_by));
	c.created_ms = now;
	c.due_ms = now + due_in_s * 1000;
	if ((rc = snapshot(d, scope, now, &j->ds)) != PV_OK) {
		free(j);
		return rc;
	}
	for (size_t i = 0; i < j->ds.n; i++)
		unused += j->ds.v[i].row.unused;
	util_time_fmt(c.due_ms, due, sizeof(due));
	detail = dump(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "scope", c.scope, "reviewers",
	    c.reviewers, "on_due", c.on_due, "due_at", due, "items", (json_int_t)j->ds.n, "unused",
	    (json_int_t)unused));
	if (detail == NULL) {
		create_free(j);
		return PV_E_NOMEM;
	}
	snprintf(r, sizeof(r), "reviews/campaigns/%s", c.id);
	directory_event_init(&ev, actor, "review.campaign.create", r);
	ev.detail = detail;
	j->c = c;
	w.job = j;
	/* the sweeper's waits at background priority; a person's answers from
	 * the completion with res->done */
	if (actor->kind == PV_ACTOR_SYSTEM)
		w.prio = COMMIT_BACKGROUND;
	rc = directory_write(d, &ev, &w, res);
	free(detail);
	return rc;
}

enum pv_rc
directory_campaign_create(struct directory *d, const struct pv_actor *actor,
    const struct directory_campaign_spec *sp, struct directory_result *res)
{
	int64_t due = sp->due_in_s != 0 ? sp->due_in_s : d->cfg->reviews_campaign_due_s;

	directory_result_reset(res);
	if (sp->scope == NULL || !word_in(sp->scope, scopes))
		return directory_fail(res, PV_E_INVALID,
		    "scope must be one of phi_access, admins, apps");
	if (sp->reviewers != NULL && strcmp(sp->reviewers, "managers") == 0)
		return directory_fail(res, PV_E_INVALID, "reviewers \"managers\" is not supported: "
		    "users carry no manager; use \"officers\"");
	if (sp->reviewers != NULL && strcmp(sp->reviewers, "officers") != 0)
		return directory_fail(res, PV_E_INVALID, "reviewers must be \"officers\"");
	if (due < DIRECTORY_CAMPAIGN_DUE_MIN_S || due > DIRECTORY_CAMPAIGN_DUE_MAX_S)
		return directory_fail(res, PV_E_INVALID,
		    "due_in_s must be from 60 to 31536000 (one year)");
	if (actor->kind != PV_ACTOR_USER && actor->kind != PV_ACTOR_SYSTEM)
		return directory_fail(res, PV_E_FORBIDDEN, "only a person opens a campaign");
	return campaign_open(d, actor, sp->scope, due, res);
}

/* ---- reads ---- */

struct counts {
	json_int_t pending, keep, revoke, removed, unattested, unused;
};

static void
count_item(struct counts *k, const struct store_campaign_item *i)
{
	if (i->decision[0] == '\0')
		k->pending++;
	else if (strcmp(i->decision, "keep") == 0)
		k->keep++;
	else if (strcmp(i->decision, "revoke") == 0)
		k->revoke++;
	else if (strcmp(i->decision, "removed") == 0)
		k->removed++;
	else
		k->unattested++;
	k->unused += i->unused;
}

static json_t *
counts_json(const struct counts *k)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "pending", k->pending, "keep",
	    k->keep, "revoke", k->revoke, "removed", k->removed, "unattested", k->unattested,
	    "unused", k->unused);
}

static json_t *
item_json(const struct store_campaign_item *i)
{
	json_t *o = json_loads(i->detail != NULL ? i->detail : "{}", 0, NULL);

	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "item", json_string(i->item_id));
	json_object_set_new(o, "kind", json_string(i->kind));
	json_object_set_new(o, "principal", json_string(i->principal_id));
	json_object_set_new(o, "name", json_string(i->principal_name));
	json_object_set_new(o, "unused", json_boolean(i->unused));
	json_object_set_new(o, "decision", str_or_null(i->decision));
	json_object_set_new(o, "decided_by", str_or_null(i->decided_by));
	json_object_set_new(o, "decided_at", time_or_null(i->decided_ms));
	json_object_set_new(o, "note", str_or_null(i->note));
	return o;
}

static json_t *
campaign_json(const struct store_campaign *c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", c->id, "scope",
	    c->scope, "reviewers", c->reviewers, "status", c->status, "on_due", c->on_due,
	    "created_by", c->created_by, "created_at", time_or_null(c->created_ms), "due_at",
	    time_or_null(c->due_ms), "closed_at", time_or_null(c->closed_ms));
}

struct item_acc {
	json_t *arr;        /* NULL: count only */
	struct counts k;
	bool failed;
};

static int
on_item(const struct store_campaign_item *i, void *arg)
{
	struct item_acc *a = arg;
	json_t *o;

	count_item(&a->k, i);
	if (a->arr == NULL)
		return 0;
	if ((o = item_json(i)) == NULL) {
		a->failed = true;
		return 1;
	}
	json_array_append_new(a->arr, o);
	return 0;
}

static int
on_campaign(const struct store_campaign *c, void *arg)
{
	struct directory_list *l = arg;
	struct item_acc a;
	json_t *o;

	memset(&a, 0, sizeof(a));
	if (store_campaign_items(l->tx, c->id, on_item, &a) != PV_OK ||
	    (o = campaign_json(c)) == NULL)
		return directory_list_add(l, NULL);
	json_object_set_new(o, "counts", counts_json(&a.k));
	return directory_list_add(l, o);
}

enum pv_rc
directory_campaign_list(struct directory *d, const struct pv_actor *actor, const char *status,
    json_t **out, struct directory_result *res)
{
	struct directory_list l;
	json_t *arr = NULL;
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	if (status != NULL && strcmp(status, "open") != 0 && strcmp(status, "closed") != 0)
		return directory_fail(res, PV_E_INVALID, "status must be open or closed");
	if ((rc = directory_list_begin(d, &l)) != PV_OK)
		return rc;
	rc = store_campaign_list(l.tx, status, on_campaign, &l);
	if ((rc = directory_list_end(&l, rc, &arr)) != PV_OK)
		return rc;
	if ((*out = json_pack("{s:o}", "campaigns", arr)) == NULL)
		return PV_E_NOMEM;
	return PV_OK;
}

/* Does sig_hex sign DIRECTORY_CAMPAIGN_SIG_TAG || text under the audit key? */
static bool
signature_ok(struct directory *d, const char *text, const char *sig_hex)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], sig[CRYPTO_ED25519_SIG_LEN];
	size_t tl = strlen(DIRECTORY_CAMPAIGN_SIG_TAG), n = strlen(text);
	char *msg;
	bool ok;

	if (strlen(sig_hex) != 2 * sizeof(sig) ||
	    util_hex_decode(sig_hex, sig, sizeof(sig)) != 0 ||
	    keys_audit_public_key(d->st, pub) != PV_OK || (msg = malloc(tl + n + 1)) == NULL)
		return false;
	memcpy(msg, DIRECTORY_CAMPAIGN_SIG_TAG, tl);
	memcpy(msg + tl, text, n + 1);
	ok = crypto_ed25519_verify(pub, (const uint8_t *)msg, tl + n, sig) == PV_OK;
	free(msg);
	return ok;
}

static bool
id_ok(const char *prefix, const char *id)
{
	return id != NULL && util_id_valid(prefix, id);
}

enum pv_rc
directory_campaign_get(struct directory *d, const struct pv_actor *actor, const char *id,
    json_t **out, struct directory_result *res)
{
	struct store_campaign c;
	struct store_tx *tx = NULL;
	struct item_acc a;
	json_t *o = NULL;
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	memset(&c, 0, sizeof(c));
	memset(&a, 0, sizeof(a));
	if (!id_ok("rvc", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such campaign");
	if ((a.arr = json_array()) == NULL)
		return PV_E_NOMEM;
	if ((rc = store_begin(d->st, STORE_RD, &tx)) == PV_OK) {
		if ((rc = store_campaign_get(tx, id, &c)) == PV_OK)
			rc = store_campaign_items(tx, id, on_item, &a);
		store_end(tx);
	}
	if (rc == PV_OK && a.failed)
		rc = PV_E_INTEGRITY;
	if (rc == PV_OK && (o = campaign_json(&c)) == NULL)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(a.arr);
		store_campaign_clear(&c);
		return rc == PV_E_NOTFOUND ? directory_fail(res, rc, "No such campaign") : rc;
	}
	json_object_set_new(o, "counts", counts_json(&a.k));
	json_object_set_new(o, "items", a.arr);
	if (strcmp(c.status, "closed") == 0) {
		json_object_set_new(o, "result", json_string(c.result));
		json_object_set_new(o, "signature", json_string(c.signature));
		json_object_set_new(o, "signature_valid",
		    json_boolean(signature_ok(d, c.result, c.signature)));
	} else {
		json_object_set_new(o, "result", json_null());
		json_object_set_new(o, "signature", json_null());
		json_object_set_new(o, "signature_valid", json_null());
	}
	store_campaign_clear(&c);
	*out = o;
	return PV_OK;
}

/* ---- revoke: what goes, in the caller's transaction ---- */

struct revoke_job {
	const struct store_campaign_item *item;   /* as read before the commit: copy */
	struct store_campaign_item copy;          /* the job's (detail, note duplicated) */
	const char *decision;                      /* revoke | removed | keep | unattested */
	const char *by;
	const char *note;
	int64_t now;
	size_t ended;
	json_t *removed;                           /* {"roles","groups"} or {"disabled":true} */
};

/* names minus drop (both JSON arrays of strings), pointing into names. */
static enum pv_rc
names_minus(json_t *names, json_t *drop, json_t *gone, const char ***out, size_t *n)
{
	const char **v = calloc(json_array_size(names) + 1, sizeof(*v));
	json_t *x, *y;
	size_t i, k;

	if (v == NULL)
		return PV_E_NOMEM;
	*n = 0;
	json_array_foreach(names, i, x) {
		bool dropped = false;

		json_array_foreach(drop, k, y)
			dropped = dropped || json_equal(x, y);
		if (dropped)
			json_array_append(gone, x);
		else
			v[(*n)++] = json_string_value(x);
	}
	*out = v;
	return PV_OK;
}

static enum pv_rc
revoke_user(struct store_tx *tx, struct revoke_job *j)
{
	json_t *snap = json_loads(j->item->detail, 0, NULL);
	json_t *in = json_object_get(snap, "in_scope");
	json_t *roles = json_array(), *groups = json_array();
	json_t *gr = json_array(), *gg = json_array();
	const char **rv = NULL, **gv = NULL;
	size_t nr = 0, ng = 0;
	enum pv_rc rc = PV_OK;

	if (snap == NULL || roles == NULL || groups == NULL || gr == NULL || gg == NULL)
		rc = PV_E_NOMEM;
	if (rc == PV_OK)
		rc = store_user_roles_get(tx, j->item->principal_id, on_name, roles);
	if (rc == PV_OK)
		rc = store_user_groups_get(tx, j->item->principal_id, on_name, groups);
	if (rc == PV_OK)
		rc = names_minus(roles, json_object_get(in, "roles"), gr, &rv, &nr);
	if (rc == PV_OK)
		rc = names_minus(groups, json_object_get(in, "groups"), gg, &gv, &ng);
	if (rc == PV_OK && json_array_size(gr) > 0)
		rc = store_user_roles_set(tx, j->item->principal_id, rv, nr);
	if (rc == PV_OK && json_array_size(gg) > 0)
		rc = store_user_groups_set(tx, j->item->principal_id, gv, ng);
	free(rv);
	free(gv);
	json_decref(roles);
	json_decref(groups);
	json_decref(snap);
	if (rc == PV_OK) {
		json_decref(j->removed);
		j->removed = json_pack("{s:o, s:o}", "roles", gr, "groups", gg);
		return j->removed != NULL ? PV_OK : PV_E_NOMEM;
	}
	json_decref(gr);
	json_decref(gg);
	return rc;
}

static enum pv_rc
decide_fn(struct store_tx *tx, void *arg)
{
	struct revoke_job *j = arg;
	enum pv_rc rc;

	if ((rc = store_campaign_item_decide(tx, j->item->campaign_id, j->item->item_id,
	    j->decision, j->by, j->now, j->note)) != PV_OK)
		return rc;
	if (strcmp(j->decision, "revoke") != 0 && strcmp(j->decision, "removed") != 0)
		return PV_OK;
	if (strcmp(j->item->kind, "app") == 0) {
		if ((rc = directory_app_disable_in(tx, j->item->principal_id, j->now, &j->ended)) !=
		    PV_OK)
			return rc == PV_E_NOTFOUND ? PV_E_INTEGRITY : rc;
		json_decref(j->removed);
		j->removed = json_pack("{s:b}", "disabled", 1);
		return j->removed != NULL ? PV_OK : PV_E_NOMEM;
	}
	return revoke_user(tx, j);
}

static void
decide_free(void *arg)
{
	struct revoke_job *j = arg;

	if (j == NULL)
		return;
	json_decref(j->removed);
	store_campaign_item_clear(&j->copy);
	free(j);
}

/* After the commit: access goes at once (cached role sets re-resolve, app
 * tokens die); a request's answer names the item and its principal.
 * PV_E_NOTFOUND: the item was not pending (decided meanwhile). */
static enum pv_rc
decide_finish(struct directory *d, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct revoke_job *j = arg;

	if (rc == PV_OK && (strcmp(j->decision, "revoke") == 0 ||
	    strcmp(j->decision, "removed") == 0)) {
		directory_changed(d);
		if (strcmp(j->item->kind, "app") == 0 && d->authn != NULL)
			authn_sessions_end_app(d->authn, j->item->principal_id);
	}
	if (res == NULL)
		return rc;
	if (rc == PV_E_NOTFOUND)
		rc = directory_fail(res, PV_E_CONFLICT, "This item is decided already");
	if (rc == PV_OK) {
		util_strlcpy(res->id, j->item->item_id, sizeof(res->id));
		util_strlcpy(res->username, j->item->principal_name, sizeof(res->username));
	}
	return rc;
}

/* One item's decision and its entry in one commit; the grants go with a
 * revoke or a removal. The sweeper's (res NULL) waits at prio: its
 * PV_E_NOTFOUND means the item was not pending. A reviewer's is answered by
 * decide_finish (from the completion with res->done). */
static enum pv_rc
decide_commit(struct directory *d, const struct pv_actor *actor, const char *action,
    const struct store_campaign_item *item, const char *decision, const char *note,
    enum commit_prio prio, struct directory_result *res)
{
	struct directory_write w = { decide_fn, NULL, decide_free, decide_finish, prio };
	struct revoke_job *j = calloc(1, sizeof(*j));
	struct audit_event ev;
	char r[RES_MAX], *detail;
	json_t *o;
	enum pv_rc rc;

	if (j == NULL)
		return PV_E_NOMEM;
	j->copy = *item;
	j->copy.detail = strdup(item->detail != NULL ? item->detail : "{}");
	j->copy.note = item->note != NULL ? strdup(item->note) : NULL;
	j->item = &j->copy;
	j->decision = decision;
	j->by = actor->user_id != NULL ? actor->user_id : "system";
	j->note = note;
	j->now = util_now_ms();
	if (j->copy.detail == NULL || (item->note != NULL && j->copy.note == NULL)) {
		decide_free(j);
		return PV_E_NOMEM;
	}
	w.job = j;
	/* the entry is made before the fn runs, so it names what goes: the
	 * in-scope grants of the snapshot, which the fn removes (those still held) */
	o = json_pack("{s:s, s:s, s:s, s:s}", "campaign", item->campaign_id, "principal",
	    item->principal_id, "kind", item->kind, "decision", decision);
	if (o != NULL && (strcmp(decision, "revoke") == 0 || strcmp(decision, "removed") == 0)) {
		json_t *snap = json_loads(item->detail, 0, NULL);

		if (strcmp(item->kind, "app") == 0)
			json_object_set_new(o, "removes", json_pack("{s:b}", "disabled", 1));
		else
			json_object_set(o, "removes", json_object_get(snap, "in_scope"));
		json_decref(snap);
	}
	if ((detail = dump(o)) == NULL) {
		decide_free(j);
		return PV_E_NOMEM;
	}
	snprintf(r, sizeof(r), "reviews/campaigns/%s/items/%s", item->campaign_id, item->item_id);
	directory_event_init(&ev, actor, action, r);
	ev.reason = decision;
	ev.detail = detail;
	rc = directory_write(d, &ev, &w, res);
	free(detail);
	return rc;
}

static enum pv_rc
refuse(struct directory *d, const struct pv_actor *actor, const char *cid, const char *iid,
    const char *reason, struct directory_result *res, const char *msg)
{
	struct audit_event ev;
	char r[RES_MAX];

	snprintf(r, sizeof(r), "reviews/campaigns/%s/items/%s", cid, iid);
	directory_event_init(&ev, actor, "review.campaign.decide", r);
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason;
	if (directory_refusal(d, &ev) != PV_OK)
		return PV_E_AUDIT;
	return directory_fail(res, PV_E_FORBIDDEN, msg);
}

enum pv_rc
directory_campaign_record(struct directory *d, const struct pv_actor *actor, const char *id,
    const char *item, const char *decision, const char *note, struct directory_result *res)
{
	struct store_campaign c;
	struct store_campaign_item it;
	struct store_tx *tx = NULL;
	enum pv_rc rc;

	directory_result_reset(res);
	memset(&c, 0, sizeof(c));
	memset(&it, 0, sizeof(it));
	if (!id_ok("rvc", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such campaign");
	if (!id_ok("rvi", item))
		return directory_fail(res, PV_E_NOTFOUND, "No such item in this campaign");
	if (decision == NULL || (strcmp(decision, "keep") != 0 && strcmp(decision, "revoke") != 0))
		return directory_fail(res, PV_E_INVALID, "decision must be keep or revoke");
	if (note != NULL && strlen(note) > DIRECTORY_CAMPAIGN_NOTE_MAX)
		return directory_fail(res, PV_E_INVALID, "note is longer than 1024 bytes");
	if (actor->kind != PV_ACTOR_USER || actor->user_id == NULL)
		return refuse(d, actor, id, item, "app_reviewer", res, "an app cannot review access");
	if ((rc = store_begin(d->st, STORE_RD, &tx)) != PV_OK)
		return rc;
	if ((rc = store_campaign_get(tx, id, &c)) == PV_OK)
		rc = store_campaign_item_get(tx, id, item, &it);
	store_end(tx);
	if (rc == PV_E_NOTFOUND) {
		rc = directory_fail(res, rc, c.id[0] == '\0' ? "No such campaign" :
		    "No such item in this campaign");
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	if (strcmp(c.status, "open") != 0) {
		rc = directory_fail(res, PV_E_STATE, "The campaign is closed");
		goto out;
	}
	if (strcmp(it.principal_id, actor->user_id) == 0) {
		rc = refuse(d, actor, id, item, "self_review", res,
		    "Nobody reviews their own access");
		goto out;
	}
	if (it.decision[0] != '\0') {
		rc = directory_fail(res, PV_E_CONFLICT, "This item is decided already");
		goto out;
	}
	/* the answer (the item, or 409 when it was decided meanwhile) is
	 * decide_finish's */
	rc = decide_commit(d, actor, "review.campaign.decide", &it, decision, note,
	    COMMIT_REQUEST, res);
out:
	store_campaign_clear(&c);
	store_campaign_item_clear(&it);
	return rc;
}

/* ---- the due date: remove or alert, then close and sign ---- */

struct items_vec {
	struct store_campaign_item *v;
	size_t n, cap;
	bool pending_only;
	enum pv_rc rc;
};

static int
on_item_copy(const struct store_campaign_item *i, void *arg)
{
	struct items_vec *x = arg;
	struct store_campaign_item *c;

	if (x->pending_only && i->decision[0] != '\0')
		return 0;
	if (x->n == PENDING_MAX)
		return 1;   /* the rest at the next sweep */
	if (x->n == x->cap) {
		size_t cap = x->cap != 0 ? x->cap * 2 : 16;
		struct store_campaign_item *v = realloc(x->v, cap * sizeof(*v));

		if (v == NULL) {
			x->rc = PV_E_NOMEM;
			return 1;
		}
		x->v = v;
		x->cap = cap;
	}
	c = &x->v[x->n];
	*c = *i;
	c->detail = strdup(i->detail != NULL ? i->detail : "{}");
	c->note = strdup(i->note != NULL ? i->note : "");
	if (c->detail == NULL || c->note == NULL) {
		free(c->detail);
		free(c->note);
		x->rc = PV_E_NOMEM;
		return 1;
	}
	x->n++;
	return 0;
}

static void
items_vec_free(struct items_vec *x)
{
	for (size_t i = 0; i < x->n; i++)
		store_campaign_item_clear(&x->v[i]);
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static enum pv_rc
items_read(struct directory *d, const char *cid, bool pending_only, struct items_vec *x)
{
	enum pv_rc rc;

	memset(x, 0, sizeof(*x));
	x->pending_only = pending_only;
	STORE_READ(d->st, rc, store_campaign_items(tx, cid, on_item_copy, x));
	if (rc == PV_OK)
		rc = x->rc;
	if (rc != PV_OK)
		items_vec_free(x);
	return rc;
}

struct unattested_job {
	struct items_vec *x;
	int64_t now;
};

static enum pv_rc
unattested_fn(struct store_tx *tx, void *arg)
{
	struct unattested_job *j = arg;
	enum pv_rc rc;

	for (size_t i = 0; i < j->x->n; i++) {
		rc = store_campaign_item_decide(tx, j->x->v[i].campaign_id, j->x->v[i].item_id,
		    "unattested", "system", j->now, "");
		if (rc != PV_OK && rc != PV_E_NOTFOUND)
			return rc;   /* decided meanwhile: it keeps its decision */
	}
	return PV_OK;
}

/* on_due alert: one entry for the campaign (the rule access_review_overdue
 * raises the alert), every pending item marked unattested with it. */
static enum pv_rc
due_alert(struct directory *d, const struct store_campaign *c, struct items_vec *x)
{
	struct unattested_job j = { x, util_now_ms() };
	struct pv_actor sys = audit_actor_system();
	struct audit_event ev;
	char r[RES_MAX], *detail;
	json_t *who = json_array();
	enum pv_rc rc;

	for (size_t i = 0; who != NULL && i < x->n && i < 100; i++)
		json_array_append_new(who, json_string(x->v[i].principal_id));
	detail = dump(json_pack("{s:s, s:I, s:o, s:o}", "scope", c->scope, "unattested",
	    (json_int_t)x->n, "principals", who, "due_at", time_or_null(c->due_ms)));
	if (detail == NULL)
		return PV_E_NOMEM;
	snprintf(r, sizeof(r), "reviews/campaigns/%s", c->id);
	directory_event_init(&ev, &sys, "review.campaign.overdue", r);
	ev.detail = detail;
	rc = audit_commit_at(d->audit, &ev, unattested_fn, &j, COMMIT_BACKGROUND);
	free(detail);
	return rc;
}

/* The result text: the campaign and every item's decision. */
static char *
result_text(const struct store_campaign *c, int64_t closed_ms, const struct items_vec *x)
{
	json_t *items = json_array(), *o;

	for (size_t i = 0; items != NULL && i < x->n; i++) {
		const struct store_campaign_item *it = &x->v[i];

		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o, "
		    "s:o}", "item", it->item_id, "kind", it->kind, "principal", it->principal_id,
		    "name", it->principal_name, "unused", it->unused, "decision",
		    str_or_null(it->decision), "decided_by", str_or_null(it->decided_by),
		    "decided_at", time_or_null(it->decided_ms), "note", str_or_null(it->note)));
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "campaign", c->id,
	    "scope", c->scope, "reviewers", c->reviewers, "on_due", c->on_due, "created_by",
	    c->created_by, "created_at", time_or_null(c->created_ms), "due_at",
	    time_or_null(c->due_ms), "closed_at", time_or_null(closed_ms), "items", items);
	return dump(o);
}

struct close_job {
	const char *id;
	int64_t now;
	const char *text;
	const char *sig;
};

static enum pv_rc
close_fn(struct store_tx *tx, void *arg)
{
	struct close_job *j = arg;

	return store_campaign_close(tx, j->id, j->now, j->text, j->sig);
}

static enum pv_rc
campaign_close(struct directory *d, const struct store_campaign *c)
{
	struct pv_actor sys = audit_actor_system();
	uint8_t sig[CRYPTO_ED25519_SIG_LEN];
	char hex[2 * CRYPTO_ED25519_SIG_LEN + 1], r[RES_MAX], *text = NULL, *msg = NULL;
	char *detail = NULL;
	struct items_vec x;
	struct counts k;
	struct close_job j;
	struct audit_event ev;
	size_t tl = strlen(DIRECTORY_CAMPAIGN_SIG_TAG), n;
	enum pv_rc rc;

	memset(&k, 0, sizeof(k));
	if (d->keys == NULL)
		return PV_E_SEALED;   /* nothing to sign with: stays open */
	if ((rc = items_read(d, c->id, false, &x)) != PV_OK)
		return rc;
	j.id = c->id;
	j.now = util_now_ms();
	if ((text = result_text(c, j.now, &x)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	n = strlen(text);
	if ((msg = malloc(tl + n + 1)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	memcpy(msg, DIRECTORY_CAMPAIGN_SIG_TAG, tl);
	memcpy(msg + tl, text, n + 1);
	if ((rc = keys_audit_sign(d->keys, (const uint8_t *)msg, tl + n, sig)) != PV_OK)
		goto out;
	util_hex_encode(sig, sizeof(sig), hex);
	for (size_t i = 0; i < x.n; i++)
		count_item(&k, &x.v[i]);
	detail = dump(json_pack("{s:s, s:o, s:s}", "scope", c->scope, "counts", counts_json(&k),
	    "signature", hex));
	if (detail == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	j.text = text;
	j.sig = hex;
	snprintf(r, sizeof(r), "reviews/campaigns/%s", c->id);
	directory_event_init(&ev, &sys, "review.campaign.close", r);
	ev.detail = detail;
	rc = audit_commit_at(d->audit, &ev, close_fn, &j, COMMIT_BACKGROUND);
out:
	free(detail);
	free(msg);
	free(text);
	items_vec_free(&x);
	return rc;
}

static enum pv_rc
campaign_due(struct directory *d, const struct store_campaign *c)
{
	struct pv_actor sys = audit_actor_system();
	struct items_vec x;
	enum pv_rc rc;

	if ((rc = items_read(d, c->id, true, &x)) != PV_OK)
		return rc;
	if (x.n > 0 && strcmp(c->on_due, "alert") == 0) {
		rc = due_alert(d, c, &x);
	} else {
		for (size_t i = 0; i < x.n && rc == PV_OK; i++) {
			rc = decide_commit(d, &sys, "review.campaign.remove", &x.v[i], "removed", "",
			    COMMIT_BACKGROUND, NULL);
			if (rc == PV_E_NOTFOUND)
				rc = PV_OK;   /* decided meanwhile */
		}
	}
	items_vec_free(&x);
	if (rc != PV_OK)
		return rc;
	rc = campaign_close(d, c);
	return rc == PV_E_NOTFOUND ? PV_OK : rc;   /* closed by another node */
}

struct open_list {
	struct store_campaign v[OPEN_MAX];
	size_t n;
	int64_t now;
	int64_t newest_ms;      /* the newest campaign of the scheduled scope */
	const char *scope;
};

static int
on_open(const struct store_campaign *c, void *arg)
{
	struct open_list *l = arg;

	if (l->scope != NULL && strcmp(c->scope, l->scope) == 0 && c->created_ms > l->newest_ms)
		l->newest_ms = c->created_ms;
	if (strcmp(c->status, "open") != 0 || c->due_ms > l->now || l->n == OPEN_MAX)
		return 0;
	l->v[l->n] = *c;
	l->v[l->n].result = NULL;   /* an open campaign has none; the copy owns nothing */
	l->n++;
	return 0;
}

enum pv_rc
directory_campaigns_sweep(struct directory *d, int64_t now)
{
	struct open_list *l;
	bool scheduled = d->cfg->reviews_campaign_every_s > 0;
	enum pv_rc rc, first = PV_OK;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return PV_E_NOMEM;
	l->now = now;
	l->scope = scheduled ? d->cfg->reviews_campaign_scope : NULL;
	/* the open ones only, unless the schedule needs the newest of its scope */
	STORE_READ(d->st, rc, store_campaign_list(tx, scheduled ? NULL : "open", on_open, l));
	for (size_t i = 0; rc == PV_OK && i < l->n; i++) {
		enum pv_rc r = campaign_due(d, &l->v[i]);

		if (r != PV_OK && first == PV_OK)
			first = r;   /* the others still get their turn */
	}
	if (rc == PV_OK && scheduled &&
	    (l->newest_ms == 0 ||
	    now - l->newest_ms >= (int64_t)d->cfg->reviews_campaign_every_s * 1000)) {
		struct pv_actor sys = audit_actor_system();
		struct directory_result res = { .done = NULL };

		memset(&res, 0, sizeof(res));
		rc = campaign_open(d, &sys, d->cfg->reviews_campaign_scope,
		    d->cfg->reviews_campaign_due_s, &res);
		if (rc == PV_OK)
			log_info("directory: scheduled access review campaign %s opened", res.id);
	}
	free(l);
	return rc != PV_OK ? rc : first;
}

/* ---- the sweeper thread ---- */

static void *
sweeper(void *arg)
{
	struct directory_campaigns *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		if (directory_campaigns_sweep(s->d, util_now_ms()) != PV_OK)
			log_warn("directory: access review sweep failed; trying again");
		pthread_mutex_lock(&s->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)SWEEP_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!s->stop)
			(void)pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

enum pv_rc
directory_campaigns_start(struct directory *d)
{
	struct directory_campaigns *s;

	if (d == NULL || d->campaigns != NULL)
		return PV_E_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PV_E_NOMEM;
	s->d = d;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, sweeper, s) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s);
		return PV_E_NOMEM;
	}
	s->running = true;
	d->campaigns = s;
	return PV_OK;
}

void
directory_campaigns_stop(struct directory *d)
{
	struct directory_campaigns *s = d != NULL ? d->campaigns : NULL;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->running)
		pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	d->campaigns = NULL;
}
