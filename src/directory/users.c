/*
 * directory/users.c: the user operations (directory.h), in domain terms
 * and apart from HTTP: joiner (create),
 * mover (update), leaver (disable), and the way back from mistakes
 * (enable, unlock, reset), plus the reads. routes_users.c adapts them to
 * REST; the bootstrap administrator of `init` is made by the same create.
 *
 * Each operation takes the actor (audit.h struct pv_actor), validates in
 * domain terms, applies separation of duties against that actor, and makes
 * exactly one audited transaction through the writer (the data change and
 * its entry commit together, or neither does). A refusal for separation of
 * duties is itself an entry (outcome denied). Nothing here knows HTTP.
 *
 * Invariants:
 *  - users are never deleted and IDs never reused;
 *  - the leaver flow is one transaction: the user row (disabled, credential
 *    epoch bumped) and the end of every session; then this node's cached
 *    sessions are dropped at once, so the next request of any of them is
 *    refused here and, through the epoch, on every node;
 *  - no message, log or entry holds a password or a typed username: the
 *    audit detail names fields, roles and groups only (and the stored,
 *    validated username on create, as before).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "crypto/crypto.h"
#include "directory/directory_int.h"

#define ATTRS_MAX 8192

void
directory_result_wipe(struct directory_result *res)
{
	if (res != NULL)
		crypto_wipe(res->one_time_password, sizeof(res->one_time_password));
}

static bool
same_user(const struct pv_actor *a, const char *id)
{
	return a->user_id != NULL && strcmp(a->user_id, id) == 0;
}

/* A separation-of-duties refusal, recorded as a denial before it is answered. */
static enum pv_rc
deny(struct directory *s, const struct pv_actor *actor, const char *action,
    const char *id, const char *reason, struct directory_result *res, const char *msg)
{
	struct audit_event ev;
	char r[128];

	snprintf(r, sizeof(r), "users/%s", id);
	directory_event_init(&ev, actor, action, r);
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason;
	if (directory_refusal(s, &ev) != PV_OK)
		return PV_E_AUDIT;
	return directory_fail(res, PV_E_FORBIDDEN, msg);
}

/* ---- validation ---- */

static bool
email_valid(const char *e)
{
	const char *at = strchr(e, '@');
	size_t i;

	if (e[0] == '\0')
		return true;   /* optional */
	if (at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strchr(at + 1, '.') == NULL || strlen(e) >= STORE_EMAIL_MAX)
		return false;
	for (i = 0; e[i] != '\0'; i++)
		if ((unsigned char)e[i] <= ' ' || e[i] == 0x7f)
			return false;
	return true;
}

static bool
text_valid(const char *t, size_t cap)
{
	size_t i;

	if (strlen(t) >= cap)
		return false;
	for (i = 0; t[i] != '\0'; i++)
		if ((unsigned char)t[i] < ' ' || t[i] == 0x7f)
			return false;
	return true;
}

/* Every named role or group exists. */
static enum pv_rc
names_exist(struct directory *s, const char *key, bool roles, const char *const *names,
    size_t n, struct directory_result *res)
{
	size_t i;
	enum pv_rc rc;

	if (n > AUTHN_ROLES_MAX)
		return directory_fail(res, PV_E_INVALID,
		    roles ? "too many roles" : "too many groups");
	for (i = 0; i < n; i++) {
		if (names[i] == NULL || names[i][0] == '\0' || strlen(names[i]) >= STORE_ROLE_MAX) {
			snprintf(res->message, sizeof(res->message), "%s[%zu] must be a name", key, i);
			return PV_E_INVALID;
		}
		if (roles) {
			struct store_role r;

			STORE_READ(s->st, rc, store_role_get(tx, names[i], &r));
			if (rc == PV_OK)
				store_role_clear(&r);
		} else if (directory_set_group(names[i])) {
			rc = PV_OK;   /* made by an earlier step of this change set */
		} else {
			struct store_group g;

			STORE_READ(s->st, rc, store_group_get(tx, names[i], &g));
			if (rc == PV_OK)
				store_group_clear(&g);
		}
		if (rc == PV_E_NOTFOUND) {
			snprintf(res->message, sizeof(res->message),
			    "%s[%zu] does not exist (see GET /v1/%s)", key, i,
			    roles ? "roles" : "groups");
			return PV_E_INVALID;
		}
		if (rc != PV_OK)
			return rc;
	}
	return PV_OK;
}

static enum pv_rc
spec_check(struct directory *s, const struct directory_user_spec *sp,
    struct directory_result *res)
{
	enum pv_rc rc;

	if (sp->display_name != NULL && !text_valid(sp->display_name, STORE_DISPLAY_MAX))
		return directory_fail(res, PV_E_INVALID, "display_name must be text without control "
		    "characters, at most 256 bytes");
	if (sp->email != NULL && !email_valid(sp->email))
		return directory_fail(res, PV_E_INVALID, "email is not a valid address");
	if (sp->attributes != NULL && strlen(sp->attributes) > ATTRS_MAX)
		return directory_fail(res, PV_E_INVALID, "attributes are larger than 8 KiB");
	if (sp->set_roles &&
	    (rc = names_exist(s, "roles", true, sp->roles, sp->nroles, res)) != PV_OK)
		return rc;
	if (sp->set_groups &&
	    (rc = names_exist(s, "groups", false, sp->groups, sp->ngroups, res)) != PV_OK)
		return rc;
	return PV_OK;
}

/* JSON text of o, or NULL; o is released. */
static char *
dump(json_t *o)
{
	char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return t;
}

static json_t *
names_json(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* ---- create ---- */

/* v[0..n) as an array the caller frees (the names themselves are not
 * copied: they are the request's or static); NULL: out of memory. */
static const char **
names_dup(const char *const *v, size_t n)
{
	const char **w = calloc(n + 1, sizeof(*w));

	if (w != NULL && n > 0)
		memcpy(w, v, n * sizeof(*w));
	return w;
}

/* The job owns a copy of the row (its attributes duplicated) and of the
 * arrays of role and group names (the names point into the caller's
 * request or static storage), and the dual-control request that commits
 * with the user (req, unset when none). */
struct create_job {
	struct store_user u;
	const char **roles;
	size_t nroles;
	const char **groups;
	size_t ngroups;
	struct directory_request req;
};

static enum pv_rc
create_fn(struct store_tx *tx, void *arg)
{
	struct create_job *j = arg;
	enum pv_rc rc;

	if ((rc = store_user_put(tx, &j->u)) != PV_OK ||
	    (rc = store_user_roles_set(tx, j->u.id, j->roles, j->nroles)) != PV_OK ||
	    (rc = store_user_groups_set(tx, j->u.id, j->groups, j->ngroups)) != PV_OK)
		return rc;
	/* dual control: the request naming the user, in the same transaction */
	return directory_request_file(tx, &j->req);
}

static void
create_free(void *arg)
{
	struct create_job *j = arg;

	if (j == NULL)
		return;
	crypto_wipe(j->u.password_hash, sizeof(j->u.password_hash));
	free(j->u.attributes);
	free(j->roles);
	free(j->groups);
	directory_request_clear(&j->req);
	free(j);
}

/* After the commit: the new user's ID and name, or why not (the one-time
 * password, made before, goes with a failure). */
static enum pv_rc
create_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct create_job *j = arg;

	if (rc == PV_OK)
		directory_changed(s);
	if (res == NULL)
		return rc;
	if (rc == PV_E_CONFLICT)
		directory_fail(res, rc, "a user with this username exists");
	if (rc == PV_OK) {
		util_strlcpy(res->id, j->u.id, sizeof(res->id));
		util_strlcpy(res->username, j->u.username, sizeof(res->username));
		/* dual control: the pending request filed with the user */
		util_strlcpy(res->approval, j->req.id, sizeof(res->approval));
	} else {
		directory_result_wipe(res);
	}
	return rc;
}

static json_t *roles_change(const char *id, const struct directory_user_spec *sp);

/* Hash password into u (its ID made here), commit u with its memberships
 * and the user.create entry (directory_write: with res->done, answered
 * from the completion). A person or app actor becomes created_by. With
 * requested (dual control: the full sets asked for), the user.roles
 * request naming the new user commits in the same transaction. */
static enum pv_rc
create_commit(struct directory *s, const struct pv_actor *actor, const char *action,
    struct store_user *u, const char *password, const char *const *roles, size_t nroles,
    const char *const *groups, size_t ngroups, const char *detail,
    const struct directory_user_spec *requested, struct directory_result *out)
{
	struct directory_write w = { create_fn, NULL, create_free, create_finish, COMMIT_REQUEST };
	struct create_job *j;
	struct audit_event ev;
	char res[128];
	enum pv_rc rc;

	if ((rc = util_id_new("usr", u->id)) != PV_OK)
		return rc;
	rc = authn_password_hash(password, s->cfg->argon2_opslimit, s->cfg->argon2_memlimit,
	    u->password_hash);
	if (rc != PV_OK)
		return rc;
	u->credential_epoch = 1;
	u->mfa_last_step = -1;
	u->created_ms = u->updated_ms = util_now_ms();
	authn_otp_issue(u, NULL, u->created_ms);
	snprintf(res, sizeof(res), "users/%s", u->id);
	directory_event_init(&ev, actor, action, res);
	/* the trail of the new user's sessions leads back to its creator;
	 * users.created_by references users(id), so an app creator (SCIM
	 * provisioning) is named by the user.create entry's actor instead */
	if (actor->kind == PV_ACTOR_USER)
		util_strlcpy(u->created_by, actor->user_id, sizeof(u->created_by));
	ev.detail = detail;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_E_NOMEM;
	j->u = *u;
	j->u.attributes = strdup(u->attributes != NULL ? u->attributes : "{}");
	j->roles = names_dup(roles, nroles);
	j->nroles = nroles;
	j->groups = names_dup(groups, ngroups);
	j->ngroups = ngroups;
	if (j->u.attributes == NULL || j->roles == NULL || j->groups == NULL) {
		create_free(j);
		return PV_E_NOMEM;
	}
	if (requested != NULL && (rc = directory_request_init(s, actor, &j->req, "user.roles",
	    res, roles_change(u->id, requested))) != PV_OK) {
		create_free(j);
		return rc;
	}
	w.job = j;
	return directory_write_creating(s, &ev, &w, &j->u, NULL, out);
}

/* The names of v[0..n) whose keep[i] is false (the part that takes effect
 * now); *out is malloc'd (free), *m its length. */
static enum pv_rc
names_without(const char *const *v, size_t n, const bool *held_back, const char ***out,
    size_t *m)
{
	const char **w = calloc(n + 1, sizeof(*w));
	size_t i, k = 0;

	if (w == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < n; i++)
		if (!held_back[i])
			w[k++] = v[i];
	*out = w;
	*m = k;
	return PV_OK;
}

/* The change of a user.roles request: the full new sets. */
static json_t *
roles_change(const char *id, const struct directory_user_spec *sp)
{
	json_t *c = json_pack("{s:s}", "user", id);

	if (c != NULL && sp->set_roles)
		json_object_set_new(c, "roles", names_json(sp->roles, sp->nroles));
	if (c != NULL && sp->set_groups)
		json_object_set_new(c, "groups", names_json(sp->groups, sp->ngroups));
	return c;
}

static enum pv_rc create_user(struct directory *s, const struct pv_actor *actor,
    const struct directory_user_spec *sp, const char *detail_extra,
    const struct directory_user_spec *requested, struct directory_result *res);

enum pv_rc
directory_user_create(struct directory *s, const struct pv_actor *actor,
    const struct directory_user_spec *sp, struct directory_result *res)
{
	struct directory_user_spec now;
	struct directory_gate g;
	const char **roles = NULL, **groups = NULL;
	char key[STORE_USERNAME_MAX];
	enum pv_rc rc;

	directory_result_reset(res);
	if (sp->username == NULL || !authn_username_key(sp->username, key))
		return directory_fail(res, PV_E_INVALID,
		    "username must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	if ((rc = spec_check(s, sp, res)) != PV_OK)
		return rc;
	rc = directory_gate_check(s, sp->roles, sp->set_roles ? sp->nroles : 0, sp->groups,
	    sp->set_groups ? sp->ngroups : 0, &g);
	if (rc != PV_OK)
		return rc;
	if (g.officer)
		return directory_officer_refused(s, actor, "user.create", "users", res);
	if (!g.phi)
		return directory_user_create_unchecked(s, actor, sp, NULL, res);
	if (s->authz == NULL)
		return directory_fail(res, PV_E_STATE, "PHI access needs dual control, which "
		    "this caller cannot request");
	/* dual control: the user now, with what grants no PHI; the rest is a
	 * pending request that a security officer approves */
	now = *sp;
	if ((rc = names_without(sp->roles, sp->set_roles ? sp->nroles : 0, g.role_phi, &roles,
	    &now.nroles)) != PV_OK ||
	    (rc = names_without(sp->groups, sp->set_groups ? sp->ngroups : 0, g.group_phi,
	    &groups, &now.ngroups)) != PV_OK)
		goto out;
	now.roles = roles;
	now.groups = groups;
	/* one transaction: the user with what grants no PHI, its entry, and the
	 * request for the full sets naming it with its own entry (answered from
	 * the completion, like any create) */
	rc = create_user(s, actor, &now, "pending", sp, res);
out:
	free(roles);
	free(groups);
	return rc;
}

enum pv_rc
directory_user_create_unchecked(struct directory *s, const struct pv_actor *actor,
    const struct directory_user_spec *sp, const char *detail_extra,
    struct directory_result *res)
{
	return create_user(s, actor, sp, detail_extra, NULL, res);
}

/* The user of sp, with requested: the dual-control request of the full
 * sets (NULL: none), in one transaction. */
static enum pv_rc
create_user(struct directory *s, const struct pv_actor *actor,
    const struct directory_user_spec *sp, const char *detail_extra,
    const struct directory_user_spec *requested, struct directory_result *res)
{
	struct store_user u;
	json_t *d;
	char *detail = NULL;
	enum pv_rc rc;

	directory_result_reset(res);
	memset(&u, 0, sizeof(u));
	if (sp->username == NULL || !authn_username_key(sp->username, u.username))
		return directory_fail(res, PV_E_INVALID,
		    "username must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	if ((rc = spec_check(s, sp, res)) != PV_OK)
		return rc;
	util_strlcpy(u.display_name, sp->display_name ? sp->display_name : "",
	    sizeof(u.display_name));
	util_strlcpy(u.email, sp->email ? sp->email : "", sizeof(u.email));
	u.attributes = (char *)(sp->attributes != NULL ? sp->attributes : "{}");
	d = json_pack("{s:s, s:o, s:o}", "username", u.username,
	    "roles", names_json(sp->roles, sp->set_roles ? sp->nroles : 0),
	    "groups", names_json(sp->groups, sp->set_groups ? sp->ngroups : 0));
	/* "pending": the PHI-granting roles await approval; "officer": made with
	 * the seal's authority */
	if (d != NULL && detail_extra != NULL)
		json_object_set_new(d, detail_extra, json_true());
	if ((detail = dump(d)) == NULL)
		return PV_E_NOMEM;
	if ((rc = authn_password_generate(res->one_time_password,
	    sizeof(res->one_time_password))) != PV_OK)
		goto out;
	/* an officer made with the seal's authority: officer.add */
	/* the answer (ID, username, or the failure) is create_finish's */
	rc = create_commit(s, actor, detail_extra != NULL && strcmp(detail_extra, "officer") == 0 ?
	    "officer.add" : "user.create", &u, res->one_time_password, sp->roles,
	    sp->set_roles ? sp->nroles : 0, sp->groups, sp->set_groups ? sp->ngroups : 0, detail,
	    requested, res);
	crypto_wipe(u.password_hash, sizeof(u.password_hash));
	free(detail);
	return rc;
out:
	if (rc != PV_OK)
		directory_result_wipe(res);
	crypto_wipe(u.password_hash, sizeof(u.password_hash));
	free(detail);
	return rc;
}

/* ---- reads ---- */

static int
on_name(const char *name, void *arg)
{
	json_array_append_new(arg, json_string(name));
	return 0;
}

json_t *
directory_user_json(struct store_tx *tx, const struct store_user *u)
{
	json_t *o, *roles = json_array(), *groups = json_array(), *attrs;
	json_t *eligible = json_array();
	char c[32], up[32], d[32];

	attrs = json_loads(u->attributes ? u->attributes : "{}", 0, NULL);
	if (roles == NULL || groups == NULL || attrs == NULL || eligible == NULL ||
	    store_user_roles_get(tx, u->id, on_name, roles) != PV_OK ||
	    store_user_groups_get(tx, u->id, on_name, groups) != PV_OK ||
	    store_eligible_get(tx, u->id, on_name, eligible) != PV_OK) {
		json_decref(roles);
		json_decref(groups);
		json_decref(attrs);
		json_decref(eligible);
		return NULL;
	}
	util_time_fmt(u->created_ms, c, sizeof(c));
	util_time_fmt(u->updated_ms, up, sizeof(up));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:s, s:s, s:o}",
	    "id", u->id, "username", u->username, "display_name", u->display_name,
	    "email", u->email, "status", u->disabled ? "disabled" : "active",
	    "roles", roles, "groups", groups, "attributes", attrs,
	    "mfa_enabled", u->mfa_enabled, "must_change_password", u->password_one_time,
	    "created", c, "updated", up,
	    "created_by", u->created_by[0] != '\0' ? json_string(u->created_by) : json_null());
	if (o == NULL || json_object_set_new(o, "eligible_roles", eligible) != 0) {
		json_decref(o);
		return NULL;
	}
	if (u->disabled_ms != 0) {
		util_time_fmt(u->disabled_ms, d, sizeof(d));
		json_object_set_new(o, "disabled_at", json_string(d));
	}
	return o;
}

/* The user of id, or PV_E_NOTFOUND with the message callers show. */
static enum pv_rc
load(struct directory *s, const char *id, struct store_user *u,
    struct directory_result *res)
{
	enum pv_rc rc;

	if (id == NULL || !util_id_valid("usr", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such user");
	if (directory_set_user(id, u))
		return PV_OK;   /* made by an earlier step of this change set */
	STORE_READ(s->st, rc, store_user_get(tx, id, u));
	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such user");
	return rc;
}

enum pv_rc
directory_user_get(struct directory *s, const struct pv_actor *actor, const char *id,
    json_t **out, struct directory_result *res)
{
	struct store_user u;
	struct store_tx *tx = NULL;
	json_t *o = NULL;
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	if ((rc = load(s, id, &u, res)) != PV_OK)
		return rc;
	if ((rc = store_begin(s->st, STORE_RD, &tx)) == PV_OK) {
		o = directory_user_json(tx, &u);
		store_end(tx);
	}
	store_user_clear(&u);
	if (rc != PV_OK)
		return rc;
	if (o == NULL)
		return PV_E_INTERNAL;
	*out = o;
	return PV_OK;
}

static int
on_user(const struct store_user *u, void *arg)
{
	struct directory_list *l = arg;

	return directory_list_add(l, directory_user_json(l->tx, u));
}

enum pv_rc
directory_user_list(struct directory *s, const struct pv_actor *actor, const char *username,
    json_t **out, struct directory_result *res)
{
	struct directory_list a;
	char key[STORE_USERNAME_MAX];
	struct store_user u;
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	/* the name is looked up, never echoed or logged */
	if (username != NULL && !authn_username_key(username, key))
		return directory_fail(res, PV_E_INVALID,
		    "username must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	if ((rc = directory_list_begin(s, &a)) != PV_OK)
		return rc;
	if (username == NULL) {
		rc = store_user_list(a.tx, on_user, &a);
	} else {
		rc = store_user_get_by_username(a.tx, key, &u);
		if (rc == PV_OK) {
			(void)on_user(&u, &a);
			store_user_clear(&u);
		} else if (rc == PV_E_NOTFOUND) {
			rc = PV_OK;   /* zero users of that name */
		}
	}
	return directory_list_end(&a, rc, out);
}

/* ---- update ---- */

/* sp is a copy of the caller's spec (its strings and the fields and
 * eligible arrays in the caller's request; the role and group arrays are
 * the job's own copies, roles and groups); out: the user read back in the
 * transaction, when the call answers from a completion (want_object);
 * req: the dual-control requests that commit with the update ([0]
 * user.roles, [1] user.eligible; unset when none). */
struct patch_job {
	const char *id;
	struct directory_user_spec sp;
	const char **roles, **groups;
	int64_t now_ms;
	bool want_object;
	json_t *out;
	struct directory_request req[2];
};

static enum pv_rc
patch_fn(struct store_tx *tx, void *arg)
{
	struct patch_job *j = arg;
	const struct directory_user_spec *sp = &j->sp;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->id, &u)) != PV_OK)
		return rc;
	if (sp->display_name != NULL)
		util_strlcpy(u.display_name, sp->display_name, sizeof(u.display_name));
	if (sp->email != NULL)
		util_strlcpy(u.email, sp->email, sizeof(u.email));
	if (sp->attributes != NULL) {
		char *a = strdup(sp->attributes);

		if (a == NULL) {
			store_user_clear(&u);
			return PV_E_NOMEM;
		}
		free(u.attributes);
		u.attributes = a;
	}
	u.updated_ms = j->now_ms;
	rc = store_user_update(tx, &u);
	store_user_clear(&u);
	if (rc != PV_OK)
		return rc;
	if (sp->set_roles &&
	    (rc = store_user_roles_set(tx, j->id, sp->roles, sp->nroles)) != PV_OK)
		return rc;
	if (sp->set_groups &&
	    (rc = store_user_groups_set(tx, j->id, sp->groups, sp->ngroups)) != PV_OK)
		return rc;
	if (sp->set_eligible &&
	    (rc = store_eligible_set(tx, j->id, sp->eligible, sp->neligible)) != PV_OK)
		return rc;
	/* dual control: what waits for an approval, in the same transaction */
	if ((rc = directory_request_file(tx, &j->req[0])) != PV_OK ||
	    (rc = directory_request_file(tx, &j->req[1])) != PV_OK)
		return rc;
	if (!j->want_object)
		return PV_OK;
	/* the answer: the user as this transaction leaves it */
	if ((rc = store_user_get(tx, j->id, &u)) != PV_OK)
		return rc;
	j->out = directory_user_json(tx, &u);
	store_user_clear(&u);
	return j->out != NULL ? PV_OK : PV_E_NOMEM;
}

static void
patch_free(void *arg)
{
	struct patch_job *j = arg;

	if (j != NULL) {
		json_decref(j->out);
		free(j->roles);
		free(j->groups);
		directory_request_clear(&j->req[0]);
		directory_request_clear(&j->req[1]);
	}
	free(j);
}

static enum pv_rc
patch_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct patch_job *j = arg;

	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such user");
	if (rc != PV_OK)
		return rc;
	directory_changed(s);
	res->object = j->out;   /* the caller's now */
	j->out = NULL;
	/* dual control: the answer names the request filed last (eligible
	 * roles after roles, as when they were two commits) */
	util_strlcpy(res->approval, j->req[1].id[0] != '\0' ? j->req[1].id : j->req[0].id,
	    sizeof(res->approval));
	return PV_OK;
}

static int
on_current(const char *name, void *arg)
{
	json_array_append_new(arg, json_string(name));
	return 0;
}

static bool
listed(json_t *arr, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

/* Does role grant what an app may never hold? */
static enum pv_rc
role_bad(struct directory *s, const char *role, bool *bad)
{
	char perm[AUTHZ_PERM_MAX];
	bool exists;
	enum pv_rc rc;

	if ((rc = directory_role_app_forbidden(s, role, perm, sizeof(perm), &exists)) != PV_OK)
		return rc;
	if (perm[0] != '\0')
		*bad = true;
	return PV_OK;
}

/* *bad when sp adds (to user id) a role or a group whose roles an app may
 * not hand out. Memberships the user already has do not count, so an app
 * can still change the other memberships of a user who holds one. */
static enum pv_rc
app_grant_check(struct directory *s, const char *id, const struct directory_user_spec *sp,
    bool *bad)
{
	json_t *cur_roles = json_array(), *cur_groups = json_array(), *gr, *r;
	struct store_group g;
	size_t i, k;
	enum pv_rc rc = PV_OK;

	if (cur_roles == NULL || cur_groups == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	STORE_READ(s->st, rc, store_user_roles_get(tx, id, on_current, cur_roles));
	if (rc == PV_OK)
		STORE_READ(s->st, rc, store_user_groups_get(tx, id, on_current, cur_groups));
	for (i = 0; rc == PV_OK && !*bad && sp->set_roles && i < sp->nroles; i++)
		if (!listed(cur_roles, sp->roles[i]))
			rc = role_bad(s, sp->roles[i], bad);
	for (i = 0; rc == PV_OK && !*bad && sp->set_groups && i < sp->ngroups; i++) {
		/* a group an earlier step of this change set makes has no roles */
		if (listed(cur_groups, sp->groups[i]) || directory_set_group(sp->groups[i]))
			continue;
		STORE_READ(s->st, rc, store_group_get(tx, sp->groups[i], &g));
		if (rc != PV_OK)
			break;
		gr = json_loads(g.roles != NULL ? g.roles : "[]", 0, NULL);
		store_group_clear(&g);
		json_array_foreach(gr, k, r)
			if (rc == PV_OK && !*bad && json_is_string(r))
				rc = role_bad(s, json_string_value(r), bad);
		json_decref(gr);
	}
out:
	json_decref(cur_roles);
	json_decref(cur_groups);
	return rc;
}
/* Is name one of the user's current direct roles (groups)? */
struct held {
	size_t n;
	char v[AUTHN_ROLES_MAX][STORE_ROLE_MAX];
};

static int
on_held(const char *name, void *arg)
{
	struct held *h = arg;

	if (h->n < AUTHN_ROLES_MAX)
		util_strlcpy(h->v[h->n++], name, STORE_ROLE_MAX);
	return 0;
}

static bool
held_has(const struct held *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->v[i], name) == 0)
			return true;
	return false;
}

static enum pv_rc update_gated(struct directory *s, const struct pv_actor *actor,
    const char *id, const struct directory_user_spec *sp, struct directory_request *elig,
    struct directory_result *res);
static enum pv_rc update_apply(struct directory *s, const struct pv_actor *actor,
    const char *id, const struct directory_user_spec *sp, struct directory_request *roles,
    struct directory_request *elig, struct directory_result *res);
static enum pv_rc update_eligible(struct directory *s, const struct pv_actor *actor,
    const char *id, const struct directory_user_spec *sp, struct directory_result *res);

enum pv_rc
directory_user_update(struct directory *s, const struct pv_actor *actor, const char *id,
    const struct directory_user_spec *sp, struct directory_result *res)
{
	struct store_user u;
	enum pv_rc rc;

	directory_result_reset(res);
	if ((rc = load(s, id, &u, res)) != PV_OK)
		return rc;
	util_strlcpy(res->id, u.id, sizeof(res->id));
	util_strlcpy(res->username, u.username, sizeof(res->username));
	store_user_clear(&u);
	/* Separation of duties: whoever manages users must not grant
	 * themselves a role (clinician, auditor, ...) directly or through a
	 * group; another administrator has to. Recorded as a denial. */
	if (same_user(actor, id) && (sp->set_roles || sp->set_groups))
		return deny(s, actor, "user.update", id, "self_role_change", res,
		    "You cannot change your own roles or groups");
	if ((rc = spec_check(s, sp, res)) != PV_OK)
		return rc;
	/* An app (SCIM provisioning) hands out nothing it could never hold
	 * itself: no new membership of a group, and no new role, that grants
	 * users.manage, roles.manage, apps.manage or access.approve. */
	if (actor->kind == PV_ACTOR_APP) {
		bool bad = false;

		if ((rc = app_grant_check(s, id, sp, &bad)) != PV_OK)
			return rc;
		if (bad)
			return deny(s, actor, "user.update", id, "app_forbidden_grant", res,
			    "An app cannot grant a role or group membership that gives users.manage, "
			    "roles.manage, apps.manage or access.approve");
	}
	if (sp->set_eligible)
		return update_eligible(s, actor, id, sp, res);
	if (sp->set_roles || sp->set_groups)
		return update_gated(s, actor, id, sp, NULL, res);
	return update_apply(s, actor, id, sp, NULL, NULL, res);
}

/* eligible_roles changed (JIT elevation): each role must exist; one with
 * access.approve is refused; if the new set adds a role granting PHI
 * access, the new set is a pending user.eligible request (the rest of the
 * patch takes effect now, in the same transaction), else it is applied
 * with the rest. */
static enum pv_rc
update_eligible(struct directory *s, const struct pv_actor *actor, const char *id,
    const struct directory_user_spec *sp, struct directory_result *res)
{
	struct directory_user_spec rest = *sp;
	struct directory_request q;
	struct directory_gate g;
	struct held *he = NULL;
	char r[UTIL_ID_MAX + 8];
	bool need = false;
	size_t i;
	enum pv_rc rc;

	snprintf(r, sizeof(r), "users/%s", id);
	if (same_user(actor, id))
		return deny(s, actor, "user.update", id, "self_role_change", res,
		    "You cannot change your own eligible roles");
	if (actor->kind == PV_ACTOR_APP)
		return deny(s, actor, "user.update", id, "app_forbidden_grant", res,
		    "An app cannot change eligible roles");
	if ((rc = names_exist(s, "eligible_roles", true, sp->eligible, sp->neligible, res)) !=
	    PV_OK)
		return rc;
	if ((rc = directory_gate_check(s, sp->eligible, sp->neligible, NULL, 0, &g)) != PV_OK)
		return rc;
	if (g.officer)
		return directory_officer_refused(s, actor, "user.update", r, res);
	if (g.phi) {
		if ((he = calloc(1, sizeof(*he))) == NULL)
			return PV_E_NOMEM;
		STORE_READ(s->st, rc, store_eligible_get(tx, id, on_held, he));
		for (i = 0; rc == PV_OK && i < sp->neligible; i++)
			need = need || (g.role_phi[i] && !held_has(he, sp->eligible[i]));
		free(he);
		if (rc != PV_OK)
			return rc;
	}
	if (need && s->authz == NULL)
		return directory_fail(res, PV_E_STATE, "PHI access needs dual control, which this "
		    "caller cannot request");
	memset(&q, 0, sizeof(q));
	if (need) {
		/* the new set is the request; the rest of the patch commits with it */
		rest.set_eligible = false;
		rc = directory_request_init(s, actor, &q, "user.eligible", r,
		    json_pack("{s:s, s:o}", "user", id, "eligible_roles",
		    names_json(sp->eligible, sp->neligible)));
		if (rc != PV_OK)
			return rc;
	}
	if (rest.set_roles || rest.set_groups)
		rc = update_gated(s, actor, id, &rest, &q, res);
	else
		rc = update_apply(s, actor, id, &rest, NULL, &q, res);
	directory_request_clear(&q);   /* unset once the write took it */
	return rc;
}

/* Roles or groups changed: what would newly grant PHI access waits for an
 * approval (the full new sets are the request); the rest of the patch,
 * removals included, takes effect now. */
static enum pv_rc
update_gated(struct directory *s, const struct pv_actor *actor, const char *id,
    const struct directory_user_spec *sp, struct directory_request *elig,
    struct directory_result *res)
{
	struct directory_user_spec now;
	struct directory_request q;
	struct directory_gate g;
	struct held *hr = NULL, *hg = NULL;
	const char **roles = NULL, **groups = NULL;
	char r[UTIL_ID_MAX + 8];
	bool need = false;
	size_t i;
	enum pv_rc rc;

	rc = directory_gate_check(s, sp->roles, sp->set_roles ? sp->nroles : 0, sp->groups,
	    sp->set_groups ? sp->ngroups : 0, &g);
	if (rc != PV_OK)
		return rc;
	snprintf(r, sizeof(r), "users/%s", id);
	if (g.officer)
		return directory_officer_refused(s, actor, "user.update", r, res);
	if (!g.phi)
		return update_apply(s, actor, id, sp, NULL, elig, res);
	if ((hr = calloc(1, sizeof(*hr))) == NULL || (hg = calloc(1, sizeof(*hg))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	STORE_READ(s->st, rc, store_user_roles_get(tx, id, on_held, hr));
	if (rc == PV_OK)
		STORE_READ(s->st, rc, store_user_groups_get(tx, id, on_held, hg));
	if (rc != PV_OK)
		goto out;
	/* already held: no new grant, nothing to approve */
	for (i = 0; sp->set_roles && i < sp->nroles; i++) {
		g.role_phi[i] = g.role_phi[i] && !held_has(hr, sp->roles[i]);
		need = need || g.role_phi[i];
	}
	for (i = 0; sp->set_groups && i < sp->ngroups; i++) {
		g.group_phi[i] = g.group_phi[i] && !held_has(hg, sp->groups[i]);
		need = need || g.group_phi[i];
	}
	if (!need) {
		rc = update_apply(s, actor, id, sp, NULL, elig, res);
		goto out;
	}
	if (s->authz == NULL) {
		rc = directory_fail(res, PV_E_STATE, "PHI access needs dual control, which this "
		    "caller cannot request");
		goto out;
	}
	now = *sp;
	if ((rc = names_without(sp->roles, sp->set_roles ? sp->nroles : 0, g.role_phi, &roles,
	    &now.nroles)) != PV_OK ||
	    (rc = names_without(sp->groups, sp->set_groups ? sp->ngroups : 0, g.group_phi,
	    &groups, &now.ngroups)) != PV_OK)
		goto out;
	now.roles = roles;
	now.groups = groups;
	/* one transaction: the rest of the patch, its entry, and the request
	 * for the full new sets with its own */
	rc = directory_request_init(s, actor, &q, "user.roles", r, roles_change(id, sp));
	if (rc == PV_OK) {
		rc = update_apply(s, actor, id, &now, &q, elig, res);
		directory_request_clear(&q);
	}
out:
	free(hr);
	free(hg);
	free(roles);
	free(groups);
	return rc;
}

/* The patch sp in one transaction with its user.update entry and the
 * requests roles and elig (NULL or unset: none; taken by the job). */
static enum pv_rc
update_apply(struct directory *s, const struct pv_actor *actor, const char *id,
    const struct directory_user_spec *sp, struct directory_request *roles,
    struct directory_request *elig, struct directory_result *res)
{
	struct directory_write w = { patch_fn, NULL, patch_free, patch_finish, COMMIT_REQUEST };
	struct patch_job *j;
	struct audit_event ev;
	char r[128], *detail;
	json_t *o;
	enum pv_rc rc;

	/* the audit detail names the changed fields, and the new memberships */
	o = json_pack("{s:o}", "fields", names_json(sp->fields, sp->nfields));
	if (o != NULL && sp->set_roles)
		json_object_set_new(o, "roles", names_json(sp->roles, sp->nroles));
	if (o != NULL && sp->set_groups)
		json_object_set_new(o, "groups", names_json(sp->groups, sp->ngroups));
	if (o != NULL && sp->set_eligible)
		json_object_set_new(o, "eligible_roles", names_json(sp->eligible, sp->neligible));
	if ((detail = dump(o)) == NULL)
		return PV_E_NOMEM;
	snprintf(r, sizeof(r), "users/%s", id);
	directory_event_init(&ev, actor, "user.update", r);
	ev.detail = detail;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		free(detail);
		return PV_E_NOMEM;
	}
	j->id = id;
	j->sp = *sp;
	/* the role and group arrays may be the caller's temporaries (the part
	 * that takes effect now): the job's own copies */
	j->roles = names_dup(sp->roles, sp->set_roles ? sp->nroles : 0);
	j->groups = names_dup(sp->groups, sp->set_groups ? sp->ngroups : 0);
	if (j->roles == NULL || j->groups == NULL) {
		patch_free(j);
		free(detail);
		return PV_E_NOMEM;
	}
	j->sp.roles = j->roles;
	j->sp.groups = j->groups;
	if (roles != NULL)
		directory_request_move(&j->req[0], roles);
	if (elig != NULL)
		directory_request_move(&j->req[1], elig);
	j->now_ms = util_now_ms();
	j->want_object = directory_write_async(res);
	w.job = j;
	rc = directory_write(s, &ev, &w, res);
	free(detail);
	return rc;
}

/* ---- disable: the leaver ---- */

struct state_job {
	const char *id;
	int64_t now_ms;
	char username[STORE_USERNAME_MAX];
	const char *password_hash;   /* reset only: hash below */
	size_t ended;
	char hash[crypto_pwhash_STRBYTES];
	enum { STATE_DISABLE, STATE_ENABLE, STATE_UNLOCK, STATE_RESET } kind;
};

static enum pv_rc
disable_fn(struct store_tx *tx, void *arg)
{
	struct state_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->id, &u)) != PV_OK)
		return rc;
	if (!u.disabled) {
		u.disabled = true;
		u.disabled_ms = j->now_ms;
		u.credential_epoch++;   /* every session made before is dead */
		u.updated_ms = j->now_ms;
		rc = store_user_update(tx, &u);
	}
	store_user_clear(&u);
	if (rc != PV_OK)
		return rc;
	return store_session_end_all_for_user(tx, j->id, NULL, j->now_ms,
	    authn_session_end_name(AUTHN_END_DISABLED), &j->ended);
}

/* The target of a state change: it exists; j is the job for it, now. */
static enum pv_rc
target(struct directory *s, const char *id, struct state_job *j,
    struct directory_result *res)
{
	struct store_user u;
	enum pv_rc rc;

	directory_result_reset(res);
	memset(j, 0, sizeof(*j));
	if ((rc = load(s, id, &u, res)) != PV_OK)
		return rc;
	j->id = id;
	j->now_ms = util_now_ms();
	util_strlcpy(j->username, u.username, sizeof(j->username));
	util_strlcpy(res->id, u.id, sizeof(res->id));
	util_strlcpy(res->username, u.username, sizeof(res->username));
	store_user_clear(&u);
	return PV_OK;
}

static void
state_free(void *arg)
{
	struct state_job *j = arg;

	if (j != NULL)
		crypto_wipe(j->hash, sizeof(j->hash));
	free(j);
}

/* After the commit of a state change: the message of a failure; on
 * success the effects (cached sessions dropped at once, role sets
 * re-resolved) and the count of sessions ended. */
static enum pv_rc
state_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct state_job *j = arg;

	if (rc == PV_E_NOTFOUND)
		directory_fail(res, rc, "No such user");
	if (rc == PV_E_CONFLICT && j->kind == STATE_RESET)
		directory_fail(res, rc, "The user is disabled: enable it first");
	if (rc != PV_OK) {
		if (j->kind == STATE_RESET)
			directory_result_wipe(res);   /* the one-time password that was not set */
		return rc;
	}
	switch (j->kind) {
	case STATE_DISABLE:
	case STATE_RESET:
		/* revocation takes effect at once: drop this node's cached sessions */
		if (s->authn != NULL)
			authn_sessions_end_user(s->authn, j->id, j->kind == STATE_DISABLE ?
			    AUTHN_END_DISABLED : AUTHN_END_PASSWORD);
		res->sessions_ended = j->ended;
		break;
	case STATE_ENABLE:
		directory_changed(s);
		break;
	case STATE_UNLOCK:
		break;
	}
	return PV_OK;
}

/* j (the caller's) into the job the write owns; with res->done the answer
 * comes from the completion (state_finish). */
static enum pv_rc
state_commit(struct directory *s, const struct pv_actor *actor, const char *action,
    audit_job_fn fn, const struct state_job *j, const char *detail,
    struct directory_result *res)
{
	struct directory_write w = { fn, NULL, state_free, state_finish, COMMIT_REQUEST };
	struct state_job *job;
	struct audit_event ev;
	char r[128];

	if ((job = malloc(sizeof(*job))) == NULL)
		return PV_E_NOMEM;
	*job = *j;
	if (j->password_hash != NULL) {
		util_strlcpy(job->hash, j->password_hash, sizeof(job->hash));
		job->password_hash = job->hash;
	}
	w.job = job;
	snprintf(r, sizeof(r), "users/%s", j->id);
	directory_event_init(&ev, actor, action, r);
	ev.detail = detail;
	return directory_write(s, &ev, &w, res);
}

enum pv_rc
directory_user_disable(struct directory *s, const struct pv_actor *actor, const char *id,
    struct directory_result *res)
{
	struct state_job j;
	enum pv_rc rc;

	if ((rc = target(s, id, &j, res)) != PV_OK)
		return rc;
	if (same_user(actor, id))
		return directory_fail(res, PV_E_CONFLICT, "You cannot disable your own account");
	j.kind = STATE_DISABLE;
	/* the sessions dropped and counted by state_finish */
	return state_commit(s, actor, "user.disable", disable_fn, &j, NULL, res);
}

/* ---- enable, unlock, reset: the way back from mistakes ---- */

/* Nobody enables, unlocks or resets their own account (a self-reset would
 * trade the second factor for a password the caller already knows). */
static enum pv_rc
target_other(struct directory *s, const struct pv_actor *actor, const char *action,
    const char *id, struct state_job *j, struct directory_result *res)
{
	enum pv_rc rc;

	if ((rc = target(s, id, j, res)) != PV_OK)
		return rc;
	if (!same_user(actor, id))
		return PV_OK;
	return deny(s, actor, action, id, "self_account", res,
	    "You cannot enable, unlock or reset your own account; another administrator has to");
}

static enum pv_rc
enable_fn(struct store_tx *tx, void *arg)
{
	struct state_job *j = arg;
	struct store_user u;
	enum pv_rc rc = PV_OK;

	if ((rc = store_user_get(tx, j->id, &u)) != PV_OK)
		return rc;
	if (u.disabled) {
		/* Sessions ended at disable stay ended: the credential epoch
		 * bumped then is not rolled back. */
		u.disabled = false;
		u.disabled_ms = 0;
		u.updated_ms = j->now_ms;
		rc = store_user_update(tx, &u);
	}
	store_user_clear(&u);
	return rc;
}

static enum pv_rc
unlock_fn(struct store_tx *tx, void *arg)
{
	struct state_job *j = arg;

	return authn_lockout_clear(tx, j->username);
}

static enum pv_rc
reset_fn(struct store_tx *tx, void *arg)
{
	struct state_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->id, &u)) != PV_OK)
		return rc;
	if (u.disabled) {
		store_user_clear(&u);
		return PV_E_CONFLICT;   /* enable first: a disabled user cannot log in */
	}
	authn_otp_issue(&u, j->password_hash, util_now_ms());   /* fresh: unused, TTL from now */
	u.credential_epoch++;       /* every session and pending MFA login is void */
	if (u.mfa_secret != NULL)
		crypto_wipe(u.mfa_secret, u.mfa_secret_len);
	free(u.mfa_secret);
	free(u.mfa_env);
	u.mfa_secret = NULL;
	u.mfa_env = NULL;
	u.mfa_secret_len = u.mfa_env_len = 0;
	u.mfa_enabled = false;      /* enrol again at the next login */
	u.mfa_last_step = -1;
	u.updated_ms = j->now_ms;
	rc = store_user_update(tx, &u);
	store_user_clear(&u);
	if (rc != PV_OK ||
	    (rc = store_recovery_set(tx, j->id, NULL, 0, 1)) != PV_OK ||
	    (rc = store_webauthn_cred_delete_user(tx, j->id, NULL)) != PV_OK ||   /* passkeys too */
	    (rc = authn_lockout_clear(tx, j->username)) != PV_OK)
		return rc;
	return store_session_end_all_for_user(tx, j->id, NULL, j->now_ms,
	    authn_session_end_name(AUTHN_END_PASSWORD), &j->ended);
}

enum pv_rc
directory_user_enable(struct directory *s, const struct pv_actor *actor, const char *id,
    struct directory_result *res)
{
	struct state_job j;
	enum pv_rc rc;

	if ((rc = target_other(s, actor, "user.enable", id, &j, res)) != PV_OK)
		return rc;
	j.kind = STATE_ENABLE;
	return state_commit(s, actor, "user.enable", enable_fn, &j, NULL, res);
}

enum pv_rc
directory_user_unlock(struct directory *s, const struct pv_actor *actor, const char *id,
    struct directory_result *res)
{
	struct state_job j;
	enum pv_rc rc;

	if ((rc = target_other(s, actor, "user.unlock", id, &j, res)) != PV_OK)
		return rc;
	j.kind = STATE_UNLOCK;
	return state_commit(s, actor, "user.unlock", unlock_fn, &j, NULL, res);
}

/* detail of user.reset: the target's effective roles and those of them the
 * actor does not hold (role names only), so the trail shows an
 * administrator who resets a PHI reader and then logs in as them. */
static char *
reset_detail(struct directory *s, const struct pv_actor *actor, const char *user_id)
{
	char (*roles)[AUTHN_ROLE_NAME_MAX] = calloc(AUTHN_ROLES_MAX, AUTHN_ROLE_NAME_MAX);
	char (*mine)[AUTHN_ROLE_NAME_MAX] = calloc(AUTHN_ROLES_MAX, AUTHN_ROLE_NAME_MAX);
	json_t *o = json_object(), *all = json_array(), *not_held = json_array();
	char *out = NULL;
	size_t n = 0, nmine = 0, i, k;

	if (roles == NULL || mine == NULL || o == NULL || all == NULL || not_held == NULL ||
	    authn_user_roles(s->st, user_id, roles, &n) != PV_OK)
		goto out;
	/* a system actor holds no role */
	if (actor->kind == PV_ACTOR_USER &&
	    authn_user_roles(s->st, actor->user_id, mine, &nmine) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		bool held = false;

		for (k = 0; k < nmine; k++)
			if (strcmp(mine[k], roles[i]) == 0)
				held = true;
		json_array_append_new(all, json_string(roles[i]));
		if (!held)
			json_array_append_new(not_held, json_string(roles[i]));
	}
	json_object_set(o, "roles", all);
	json_object_set(o, "roles_not_held", not_held);
	out = json_dumps(o, JSON_COMPACT);
out:
	json_decref(o);
	json_decref(all);
	json_decref(not_held);
	free(roles);
	free(mine);
	return out;
}

enum pv_rc
directory_user_reset(struct directory *s, const struct pv_actor *actor, const char *id,
    struct directory_result *res)
{
	char hash[crypto_pwhash_STRBYTES], *detail = NULL;
	struct state_job j;
	enum pv_rc rc;

	if ((rc = target_other(s, actor, "user.reset", id, &j, res)) != PV_OK)
		return rc;
	/* hashed here, not on the writer: Argon2id must not stall every commit */
	if ((rc = authn_password_generate(res->one_time_password,
	    sizeof(res->one_time_password))) != PV_OK)
		goto out;
	rc = authn_password_hash(res->one_time_password, s->cfg->argon2_opslimit,
	    s->cfg->argon2_memlimit, hash);
	if (rc != PV_OK)
		goto out;
	j.password_hash = hash;
	/* no reset without the roles it hands over named in the trail */
	if ((detail = reset_detail(s, actor, j.id)) == NULL) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	j.kind = STATE_RESET;
	/* the answer (sessions ended here and counted, or the failure, the
	 * one-time password wiped) is state_finish's */
	rc = state_commit(s, actor, "user.reset", reset_fn, &j, detail, res);
	crypto_wipe(hash, sizeof(hash));
	free(detail);
	return rc;
out:
	if (rc != PV_OK)
		directory_result_wipe(res);
	crypto_wipe(hash, sizeof(hash));
	free(detail);
	return rc;
}

/* ---- init: the bootstrap administrator ---- */

static enum pv_rc
bootstrap_user(struct store *st, struct audit *audit, const struct pv_config *cfg,
    const char *username, const char *password, const char *role, char user_id[UTIL_ID_MAX])
{
	const char *const roles[] = { role };
	bool officer = strcmp(role, "security_officer") == 0;
	struct pv_actor sys = audit_actor_system();
	struct directory s;
	struct store_user u;
	char detail[160];
	enum pv_rc rc;

	/* no server runs: no session cache to invalidate (s.authn NULL) */
	memset(&s, 0, sizeof(s));
	s.st = st;
	s.audit = audit;
	s.cfg = cfg;
	memset(&u, 0, sizeof(u));
	if (!authn_username_key(username, u.username))
		return PV_E_INVALID;
	u.attributes = (char *)"{}";
	snprintf(detail, sizeof(detail),
	    "{\"username\":\"%s\",\"roles\":[\"%s\"],\"groups\":[],\"bootstrap\":true}",
	    u.username, role);
	rc = create_commit(&s, &sys, officer ? "officer.add" : "user.create", &u, password, roles,
	    1, NULL, 0, detail, NULL, NULL);
	if (rc == PV_OK && user_id != NULL)
		util_strlcpy(user_id, u.id, UTIL_ID_MAX);
	crypto_wipe(u.password_hash, sizeof(u.password_hash));
	return rc;
}

enum pv_rc
directory_bootstrap_admin(struct store *st, struct audit *audit, const struct pv_config *cfg,
    const char *username, const char *password, char user_id[UTIL_ID_MAX])
{
	return bootstrap_user(st, audit, cfg, username, password, "admin", user_id);
}

enum pv_rc
directory_bootstrap_officer(struct store *st, struct audit *audit, const struct pv_config *cfg,
    const char *username, const char *password, char user_id[UTIL_ID_MAX])
{
	return bootstrap_user(st, audit, cfg, username, password, "security_officer", user_id);
}
