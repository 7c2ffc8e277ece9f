/*
 * routes_users: joiner / mover / leaver (API.md "Users, groups and roles").
 *
 *   POST /v1/users                users.manage  joiner: 201 {"id","one_time_password"}
 *   GET  /v1/users                users.manage
 *   GET  /v1/users/{id}           users.manage
 *   PATCH /v1/users/{id}          users.manage  mover: display_name, email, roles, groups, attributes
 *                                               (never one's own roles or groups: 403)
 *   POST /v1/users/{id}/disable   users.manage  leaver: every session ends at once
 *   POST /v1/users/{id}/enable    users.manage  undo a disable (sessions stay ended)
 *   POST /v1/users/{id}/unlock    users.manage  forget the password and MFA lockouts
 *   POST /v1/users/{id}/reset     users.manage  new one-time password, MFA and recovery
 *                                               codes cleared, lockouts cleared, every
 *                                               session ends
 *   GET  /v1/users?username=NAME  users.manage  zero or one user
 *
 * Separation of duties: nobody enables, unlocks or resets their own account
 * (a self-reset would trade the second factor for a password the caller
 * already knows): 403, recorded as denied with reason self_account. A reset
 * of a user who holds roles the caller does not (e.g. a clinician) is
 * allowed -- otherwise a clinician who lost a phone could not be helped
 * until dual control exists -- and its user.reset entry names those roles
 * in detail.roles_not_held, so the trail shows an administrator who resets
 * a PHI reader and then logs in as them. Every user records who created it
 * (created_by).
 *
 * No DELETE route (the router answers 405): users are never deleted and
 * their IDs never reused, so the audit trail always names someone.
 * Roles and groups named in a request must exist. Every change goes
 * through the audit writer (user.create / user.update / user.disable) and
 * bumps the authz generation so cached roles re-resolve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

#define ATTRS_MAX 8192

static struct authn_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

/* ---- JSON ---- */

static int
on_name(const char *name, void *arg)
{
	json_array_append_new(arg, json_string(name));
	return 0;
}

json_t *
authn_user_json(struct store *st, const struct store_user *u)
{
	json_t *o, *roles = json_array(), *groups = json_array(), *attrs;
	char c[32], up[32], d[32];

	attrs = json_loads(u->attributes ? u->attributes : "{}", 0, NULL);
	if (roles == NULL || groups == NULL || attrs == NULL ||
	    store_user_roles_get(st, u->id, on_name, roles) != PV_OK ||
	    store_user_groups_get(st, u->id, on_name, groups) != PV_OK) {
		json_decref(roles);
		json_decref(groups);
		json_decref(attrs);
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
	if (o != NULL && u->disabled_ms != 0) {
		util_time_fmt(u->disabled_ms, d, sizeof(d));
		json_object_set_new(o, "disabled_at", json_string(d));
	}
	return o;
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

/* A list of role or group names from body[key]: an array of distinct
 * existing names. *names points into the request body (arena lifetime). */
static enum pv_rc
names_from_body(struct http_request *req, struct store *st, const char *key, bool roles,
    const char ***names, size_t *n, bool *present)
{
	json_t *arr = json_object_get(req->body, key);
	const char **v;
	size_t i, k;
	enum pv_rc rc;

	*present = arr != NULL;
	*n = 0;
	*names = NULL;
	if (arr == NULL)
		return PV_OK;
	if (!json_is_array(arr) || json_array_size(arr) > AUTHN_ROLES_MAX) {
		req->err_message = arena_printf(req->arena, "%s must be an array of at most %d names",
		    key, AUTHN_ROLES_MAX);
		return PV_E_INVALID;
	}
	v = arena_alloc(req->arena, (json_array_size(arr) + 1) * sizeof(*v));
	if (v == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		const char *nm = json_string_value(json_array_get(arr, i));

		if (nm == NULL || strlen(nm) >= STORE_ROLE_MAX || nm[0] == '\0') {
			req->err_message = arena_printf(req->arena, "%s[%zu] must be a name", key, i);
			return PV_E_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(v[k], nm) == 0) {
				req->err_message = arena_printf(req->arena, "%s[%zu] is a duplicate", key,
				    i);
				return PV_E_INVALID;
			}
		if (roles) {
			struct store_role r;

			rc = store_role_get(st, nm, &r);
			if (rc == PV_OK)
				store_role_clear(&r);
		} else {
			struct store_group g;

			rc = store_group_get(st, nm, &g);
			if (rc == PV_OK)
				store_group_clear(&g);
		}
		if (rc == PV_E_NOTFOUND) {
			req->err_message = arena_printf(req->arena, "%s[%zu] does not exist (see GET "
			    "/v1/%s)", key, i, roles ? "roles" : "groups");
			return PV_E_INVALID;
		}
		if (rc != PV_OK)
			return rc;
		v[i] = nm;
	}
	*names = v;
	*n = i;
	return PV_OK;
}

static enum pv_rc
attrs_from_body(struct http_request *req, char **out, bool *present)
{
	json_t *a = json_object_get(req->body, "attributes");
	char *txt;

	*present = a != NULL;
	*out = NULL;
	if (a == NULL)
		return PV_OK;
	if (!json_is_object(a))
		return http_fail(req, PV_E_INVALID, "attributes must be an object");
	txt = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	if (txt == NULL)
		return PV_E_NOMEM;
	if (strlen(txt) > ATTRS_MAX) {
		free(txt);
		return http_fail(req, PV_E_INVALID, "attributes are larger than 8 KiB");
	}
	*out = arena_strdup(req->arena, txt);
	free(txt);
	return *out != NULL ? PV_OK : PV_E_NOMEM;
}

/* Refuse fields this route does not know (a typo must not be ignored). */

/* ---- POST /v1/users ---- */

struct create_job {
	const struct store_user *u;
	const char *const *roles;
	size_t nroles;
	const char *const *groups;
	size_t ngroups;
};

static enum pv_rc
create_fn(struct store *st, void *arg)
{
	struct create_job *j = arg;
	enum pv_rc rc;

	if ((rc = store_user_put(st, j->u)) != PV_OK ||
	    (rc = store_user_roles_set(st, j->u->id, j->roles, j->nroles)) != PV_OK)
		return rc;
	return store_user_groups_set(st, j->u->id, j->groups, j->ngroups);
}

static char *
names_detail(struct pv_arena *a, const char *username, const char *const *roles, size_t nr,
    const char *const *groups, size_t ng)
{
	json_t *o = json_object(), *r = json_array(), *g = json_array();
	char *txt, *out = NULL;
	size_t i;

	if (o == NULL || r == NULL || g == NULL) {
		json_decref(o);
		json_decref(r);
		json_decref(g);
		return NULL;
	}
	for (i = 0; i < nr; i++)
		json_array_append_new(r, json_string(roles[i]));
	for (i = 0; i < ng; i++)
		json_array_append_new(g, json_string(groups[i]));
	if (username != NULL)
		json_object_set_new(o, "username", json_string(username));
	json_object_set_new(o, "roles", r);
	json_object_set_new(o, "groups", g);
	if ((txt = json_dumps(o, JSON_COMPACT)) != NULL) {
		out = arena_strdup(a, txt);
		free(txt);
	}
	json_decref(o);
	return out;
}

static enum pv_rc
create_user(struct authn_service *s, const struct authn_principal *actor, const char *source,
    struct store_user *u, const char *password, const char *const *roles, size_t nroles,
    const char *const *groups, size_t ngroups, const char *detail)
{
	struct create_job j = { u, roles, nroles, groups, ngroups };
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
	authn_ev_init(&ev, actor, source, "user.create", res);
	if (actor == NULL)
		ev.actor.user_id = "system";
	else   /* the trail of the new user's sessions leads back to its creator */
		util_strlcpy(u->created_by, actor->user_id, sizeof(u->created_by));
	ev.detail = detail;
	rc = audit_commit(s->audit, &ev, create_fn, &j);
	if (rc == PV_OK)
		authn_authz_changed(s);
	return rc;
}

static enum pv_rc
h_user_create(struct http_request *req)
{
	static const char *const allowed[] = { "username", "display_name", "email", "roles",
		"groups", "attributes", NULL };
	struct authn_service *s = svc_of(req);
	const char *username, *display = "", *email = "";
	const char **roles, **groups;
	size_t nroles, ngroups;
	bool has_r, has_g, has_a;
	char otp[AUTHN_OTP_LEN + 1], *attrs;
	struct store_user u;
	json_t *o;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "username", true, 256, &username)) != PV_OK ||
	    (rc = http_body_string(req, "display_name", false, STORE_DISPLAY_MAX - 1, &display)) !=
	    PV_OK ||
	    (rc = http_body_string(req, "email", false, STORE_EMAIL_MAX - 1, &email)) != PV_OK)
		return rc;
	if (display == NULL)
		display = "";
	if (email == NULL)
		email = "";
	memset(&u, 0, sizeof(u));
	if (!authn_username_key(username, u.username))
		return http_fail(req, PV_E_INVALID,
		    "username must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	if (!text_valid(display, sizeof(u.display_name)))
		return http_fail(req, PV_E_INVALID, "display_name must be text without control "
		    "characters, at most 256 bytes");
	if (!email_valid(email))
		return http_fail(req, PV_E_INVALID, "email is not a valid address");
	if ((rc = names_from_body(req, s->st, "roles", true, &roles, &nroles, &has_r)) != PV_OK ||
	    (rc = names_from_body(req, s->st, "groups", false, &groups, &ngroups, &has_g)) !=
	    PV_OK ||
	    (rc = attrs_from_body(req, &attrs, &has_a)) != PV_OK)
		return rc;
	util_strlcpy(u.display_name, display, sizeof(u.display_name));
	util_strlcpy(u.email, email, sizeof(u.email));
	u.attributes = attrs != NULL ? attrs : (char *)"{}";
	if ((rc = authn_password_generate(otp, sizeof(otp))) != PV_OK)
		return rc;
	rc = create_user(s, req->principal, req->source, &u, otp, roles, nroles, groups, ngroups,
	    names_detail(req->arena, u.username, roles, nroles, groups, ngroups));
	if (rc == PV_E_CONFLICT) {
		crypto_wipe(otp, sizeof(otp));
		return http_fail(req, PV_E_CONFLICT, "a user with this username exists");
	}
	if (rc != PV_OK) {
		crypto_wipe(otp, sizeof(otp));
		return rc;
	}
	o = json_pack("{s:s, s:s, s:s}", "id", u.id, "username", u.username,
	    "one_time_password", otp);
	crypto_wipe(otp, sizeof(otp));
	crypto_wipe(u.password_hash, sizeof(u.password_hash));
	return o != NULL ? http_reply(req, 201, o) : PV_E_NOMEM;
}

/* ---- GET /v1/users, /v1/users/{id} ---- */

struct list_acc {
	struct store *st;
	json_t *arr;
	bool failed;
};

static int
on_user(const struct store_user *u, void *arg)
{
	struct list_acc *a = arg;
	json_t *o = authn_user_json(a->st, u);

	if (o == NULL) {
		a->failed = true;
		return 1;
	}
	json_array_append_new(a->arr, o);
	return 0;
}

struct query_check {
	bool unknown;
};

static void
on_query(void *arg, const char *key, const char *value)
{
	(void)value;
	if (strcmp(key, "username") != 0)
		((struct query_check *)arg)->unknown = true;
}

/* GET /v1/users?username=NAME: the one user of that (case-insensitive) name,
 * or none. The name is looked up, never echoed or logged. */
static enum pv_rc
user_by_username(struct http_request *req, struct list_acc *a, const char *name)
{
	char key[STORE_USERNAME_MAX];
	struct store_user u;
	enum pv_rc rc;

	if (!authn_username_key(name, key))
		return http_fail(req, PV_E_INVALID,
		    "username must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	rc = store_user_get_by_username(a->st, key, &u);
	if (rc == PV_E_NOTFOUND)
		return PV_OK;
	if (rc != PV_OK)
		return rc;
	(void)on_user(&u, a);
	store_user_clear(&u);
	return PV_OK;
}

static enum pv_rc
h_user_list(struct http_request *req)
{
	struct authn_service *s = svc_of(req);
	struct list_acc a = { s->st, NULL, false };
	struct query_check q = { false };
	const char *name = http_query(req, "username");
	enum pv_rc rc;

	http_query_each(req, on_query, &q);
	if (q.unknown)
		return http_fail(req, PV_E_INVALID, "the only query parameter is username");
	if ((a.arr = json_array()) == NULL)
		return PV_E_NOMEM;
	rc = name != NULL ? user_by_username(req, &a, name) : store_user_list(s->st, on_user, &a);
	if (rc == PV_OK && a.failed)
		rc = PV_E_INTERNAL;
	if (rc != PV_OK) {
		json_decref(a.arr);
		return rc;
	}
	return http_reply(req, 200, json_pack("{s:o}", "users", a.arr));
}

static enum pv_rc
load_user(struct http_request *req, struct store_user *u)
{
	struct authn_service *s = svc_of(req);
	enum pv_rc rc;

	if (req->nparams < 1 || !util_id_valid("usr", req->params[0]))
		return http_fail(req, PV_E_NOTFOUND, "No such user");
	rc = store_user_get(s->st, req->params[0], u);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such user");
	return rc;
}

static enum pv_rc
h_user_get(struct http_request *req)
{
	struct authn_service *s = svc_of(req);
	struct store_user u;
	json_t *o;
	enum pv_rc rc;

	if ((rc = load_user(req, &u)) != PV_OK)
		return rc;
	o = authn_user_json(s->st, &u);
	store_user_clear(&u);
	return o != NULL ? http_reply(req, 200, o) : PV_E_INTERNAL;
}

/* ---- PATCH /v1/users/{id} ---- */

struct patch_job {
	const char *id;
	const char *display, *email, *attrs;   /* NULL: unchanged */
	bool set_roles, set_groups;
	const char *const *roles;
	size_t nroles;
	const char *const *groups;
	size_t ngroups;
	int64_t now_ms;
};

static enum pv_rc
patch_fn(struct store *st, void *arg)
{
	struct patch_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(st, j->id, &u)) != PV_OK)
		return rc;
	if (j->display != NULL)
		util_strlcpy(u.display_name, j->display, sizeof(u.display_name));
	if (j->email != NULL)
		util_strlcpy(u.email, j->email, sizeof(u.email));
	if (j->attrs != NULL) {
		char *a = strdup(j->attrs);

		if (a == NULL) {
			store_user_clear(&u);
			return PV_E_NOMEM;
		}
		free(u.attributes);
		u.attributes = a;
	}
	u.updated_ms = j->now_ms;
	rc = store_user_update(st, &u);
	store_user_clear(&u);
	if (rc != PV_OK)
		return rc;
	if (j->set_roles && (rc = store_user_roles_set(st, j->id, j->roles, j->nroles)) != PV_OK)
		return rc;
	if (j->set_groups &&
	    (rc = store_user_groups_set(st, j->id, j->groups, j->ngroups)) != PV_OK)
		return rc;
	return PV_OK;
}

static enum pv_rc
h_user_patch(struct http_request *req)
{
	static const char *const allowed[] = { "display_name", "email", "roles", "groups",
		"attributes", NULL };
	struct authn_service *s = svc_of(req);
	struct patch_job j;
	struct store_user u;
	struct audit_event ev;
	json_t *fields, *o;
	char res[128], *detail = NULL, *txt;
	const char *k;
	json_t *v;
	bool has_r, has_g, has_a;
	const char **roles, **groups;
	char *attrs;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK)
		return rc;
	if ((rc = load_user(req, &u)) != PV_OK)
		return rc;
	store_user_clear(&u);
	/* Separation of duties: whoever manages users must not grant
	 * themselves a role (clinician, auditor, ...) directly or through a
	 * group; another administrator has to. Recorded as a denial. */
	if (strcmp(req->params[0], ((const struct authn_principal *)req->principal)->user_id) ==
	    0 && (json_object_get(req->body, "roles") != NULL ||
	    json_object_get(req->body, "groups") != NULL)) {
		snprintf(res, sizeof(res), "users/%s", req->params[0]);
		authn_ev_init(&ev, req->principal, req->source, "user.update", res);
		ev.outcome = AUDIT_DENIED;
		ev.reason = "self_role_change";
		if (audit_record(s->audit, &ev) != PV_OK)
			return PV_E_AUDIT;
		return http_fail(req, PV_E_FORBIDDEN,
		    "You cannot change your own roles or groups");
	}
	memset(&j, 0, sizeof(j));
	j.id = req->params[0];
	j.now_ms = util_now_ms();
	if ((rc = http_body_string(req, "display_name", false, STORE_DISPLAY_MAX - 1,
	    &j.display)) != PV_OK ||
	    (rc = http_body_string(req, "email", false, STORE_EMAIL_MAX - 1, &j.email)) != PV_OK)
		return rc;
	if (j.display != NULL && !text_valid(j.display, STORE_DISPLAY_MAX))
		return http_fail(req, PV_E_INVALID, "display_name must be text without control "
		    "characters, at most 256 bytes");
	if (j.email != NULL && !email_valid(j.email))
		return http_fail(req, PV_E_INVALID, "email is not a valid address");
	if ((rc = names_from_body(req, s->st, "roles", true, &roles, &j.nroles, &has_r)) !=
	    PV_OK ||
	    (rc = names_from_body(req, s->st, "groups", false, &groups, &j.ngroups, &has_g)) !=
	    PV_OK ||
	    (rc = attrs_from_body(req, &attrs, &has_a)) != PV_OK)
		return rc;
	j.roles = roles;
	j.groups = groups;
	j.set_roles = has_r;
	j.set_groups = has_g;
	j.attrs = attrs;
	/* the audit detail names the changed fields, and the new memberships */
	if ((fields = json_array()) == NULL)
		return PV_E_NOMEM;
	json_object_foreach(req->body, k, v) {
		(void)v;
		json_array_append_new(fields, json_string(k));
	}
	o = json_pack("{s:o}", "fields", fields);
	if (o != NULL && has_r) {
		json_t *r = json_array();

		for (size_t i = 0; r != NULL && i < j.nroles; i++)
			json_array_append_new(r, json_string(roles[i]));
		json_object_set_new(o, "roles", r);
	}
	if (o != NULL && has_g) {
		json_t *g = json_array();

		for (size_t i = 0; g != NULL && i < j.ngroups; i++)
			json_array_append_new(g, json_string(groups[i]));
		json_object_set_new(o, "groups", g);
	}
	if (o != NULL && (txt = json_dumps(o, JSON_COMPACT)) != NULL) {
		detail = arena_strdup(req->arena, txt);
		free(txt);
	}
	json_decref(o);
	snprintf(res, sizeof(res), "users/%s", j.id);
	authn_ev_init(&ev, req->principal, req->source, "user.update", res);
	ev.detail = detail;
	rc = audit_commit(s->audit, &ev, patch_fn, &j);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such user");
	if (rc != PV_OK)
		return rc;
	authn_authz_changed(s);
	if ((rc = store_user_get(s->st, j.id, &u)) != PV_OK)
		return rc;
	o = authn_user_json(s->st, &u);
	store_user_clear(&u);
	return o != NULL ? http_reply(req, 200, o) : PV_E_INTERNAL;
}

/* ---- POST /v1/users/{id}/disable ---- */

struct disable_job {
	const char *id;
	int64_t now_ms;
	size_t ended;
};

static enum pv_rc
disable_fn(struct store *st, void *arg)
{
	struct disable_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(st, j->id, &u)) != PV_OK)
		return rc;
	if (!u.disabled) {
		u.disabled = true;
		u.disabled_ms = j->now_ms;
		u.credential_epoch++;   /* every session made before is dead */
		u.updated_ms = j->now_ms;
		rc = store_user_update(st, &u);
	}
	store_user_clear(&u);
	if (rc != PV_OK)
		return rc;
	return store_session_end_all_for_user(st, j->id, NULL, j->now_ms,
	    authn_session_end_name(AUTHN_END_DISABLED), &j->ended);
}

static enum pv_rc
h_user_disable(struct http_request *req)
{
	struct authn_service *s = svc_of(req);
	const struct authn_principal *p = req->principal;
	struct disable_job j;
	struct store_user u;
	struct audit_event ev;
	char res[128];
	enum pv_rc rc;

	if ((rc = load_user(req, &u)) != PV_OK)
		return rc;
	store_user_clear(&u);
	if (strcmp(req->params[0], p->user_id) == 0)
		return http_fail(req, PV_E_CONFLICT, "You cannot disable your own account");
	j.id = req->params[0];
	j.now_ms = util_now_ms();
	j.ended = 0;
	snprintf(res, sizeof(res), "users/%s", j.id);
	authn_ev_init(&ev, p, req->source, "user.disable", res);
	rc = audit_commit(s->audit, &ev, disable_fn, &j);
	if (rc != PV_OK)
		return rc == PV_E_NOTFOUND ? http_fail(req, PV_E_NOTFOUND, "No such user") : rc;
	/* revocation takes effect at once: drop this node's cached sessions */
	authn_cache_forget_user(s, j.id, NULL);
	authn_authz_changed(s);
	return http_reply(req, 200, json_pack("{s:s, s:s, s:i}", "id", j.id, "status", "disabled",
	    "sessions_ended", (int)j.ended));
}

/* ---- enable, unlock, reset: the way back from mistakes ---- */

struct state_job {
	const char *id;
	int64_t now_ms;
	char username[STORE_USERNAME_MAX];
	/* reset only */
	const char *password_hash;
	size_t ended;
};

/* The target of /v1/users/{id}/<verb>: it must exist, and must not be the
 * caller (separation of duties; recorded as a denial). On PV_OK, j is the
 * job of that verb, for that user, now. */
static enum pv_rc
target_other(struct http_request *req, const char *action, struct state_job *j)
{
	struct authn_service *s = svc_of(req);
	const struct authn_principal *p = req->principal;
	struct audit_event ev;
	struct store_user u;
	char res[128];
	bool self;
	enum pv_rc rc;

	if ((rc = load_user(req, &u)) != PV_OK)
		return rc;
	self = strcmp(u.id, p->user_id) == 0;
	memset(j, 0, sizeof(*j));
	j->id = req->params[0];
	j->now_ms = util_now_ms();
	util_strlcpy(j->username, u.username, sizeof(j->username));
	store_user_clear(&u);
	if (!self)
		return PV_OK;
	snprintf(res, sizeof(res), "users/%s", req->params[0]);
	authn_ev_init(&ev, p, req->source, action, res);
	ev.outcome = AUDIT_DENIED;
	ev.reason = "self_account";
	if (audit_record(s->audit, &ev) != PV_OK)
		return PV_E_AUDIT;
	return http_fail(req, PV_E_FORBIDDEN, "You cannot enable, unlock or reset your own "
	    "account; another administrator has to");
}

static enum pv_rc
enable_fn(struct store *st, void *arg)
{
	struct state_job *j = arg;
	struct store_user u;
	enum pv_rc rc = PV_OK;

	if ((rc = store_user_get(st, j->id, &u)) != PV_OK)
		return rc;
	if (u.disabled) {
		/* Sessions ended at disable stay ended: the credential epoch
		 * bumped then is not rolled back. */
		u.disabled = false;
		u.disabled_ms = 0;
		u.updated_ms = j->now_ms;
		rc = store_user_update(st, &u);
	}
	store_user_clear(&u);
	return rc;
}

static enum pv_rc
unlock_fn(struct store *st, void *arg)
{
	struct state_job *j = arg;

	return authn_lockout_clear(st, j->username);
}

static enum pv_rc
reset_fn(struct store *st, void *arg)
{
	struct state_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(st, j->id, &u)) != PV_OK)
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
	rc = store_user_update(st, &u);
	store_user_clear(&u);
	if (rc != PV_OK ||
	    (rc = store_recovery_set(st, j->id, NULL, 0)) != PV_OK ||
	    (rc = authn_lockout_clear(st, j->username)) != PV_OK)
		return rc;
	return store_session_end_all_for_user(st, j->id, NULL, j->now_ms,
	    authn_session_end_name(AUTHN_END_PASSWORD), &j->ended);
}

/* detail of user.reset: the target's effective roles and those of them the
 * caller does not hold (role names only). */
static char *
reset_detail(struct http_request *req, const struct authn_principal *p, const char *user_id)
{
	struct authn_service *s = svc_of(req);
	char (*roles)[AUTHN_ROLE_NAME_MAX] = calloc(AUTHN_ROLES_MAX, AUTHN_ROLE_NAME_MAX);
	json_t *o = json_object(), *all = json_array(), *not_held = json_array();
	char *txt, *out = NULL;
	size_t n = 0, i, k;

	if (roles == NULL || o == NULL || all == NULL || not_held == NULL ||
	    authn_user_roles(s->st, user_id, roles, &n) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		bool held = false;

		for (k = 0; k < p->nroles; k++)
			if (strcmp(p->roles[k], roles[i]) == 0)
				held = true;
		json_array_append_new(all, json_string(roles[i]));
		if (!held)
			json_array_append_new(not_held, json_string(roles[i]));
	}
	json_object_set(o, "roles", all);
	json_object_set(o, "roles_not_held", not_held);
	if ((txt = json_dumps(o, JSON_COMPACT)) != NULL) {
		out = arena_strdup(req->arena, txt);
		free(txt);
	}
out:
	json_decref(o);
	json_decref(all);
	json_decref(not_held);
	free(roles);
	return out;
}

static enum pv_rc
user_state_commit(struct http_request *req, const char *action, audit_job_fn fn,
    struct state_job *j, const char *detail)
{
	struct authn_service *s = svc_of(req);
	struct audit_event ev;
	char res[128];
	enum pv_rc rc;

	snprintf(res, sizeof(res), "users/%s", j->id);
	authn_ev_init(&ev, req->principal, req->source, action, res);
	ev.detail = detail;
	rc = audit_commit(s->audit, &ev, fn, j);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such user");
	return rc;
}

static enum pv_rc
h_user_enable(struct http_request *req)
{
	struct authn_service *s = svc_of(req);
	struct state_job j;
	enum pv_rc rc;

	if ((rc = target_other(req, "user.enable", &j)) != PV_OK)
		return rc;
	if ((rc = user_state_commit(req, "user.enable", enable_fn, &j, NULL)) != PV_OK)
		return rc;
	authn_authz_changed(s);
	return http_reply(req, 200, json_pack("{s:s, s:s, s:s}", "id", j.id, "username",
	    j.username, "status", "active"));
}

static enum pv_rc
h_user_unlock(struct http_request *req)
{
	struct state_job j;
	enum pv_rc rc;

	if ((rc = target_other(req, "user.unlock", &j)) != PV_OK)
		return rc;
	if ((rc = user_state_commit(req, "user.unlock", unlock_fn, &j, NULL)) != PV_OK)
		return rc;
	return http_reply(req, 200, json_pack("{s:s, s:s, s:b}", "id", j.id, "username",
	    j.username, "unlocked", 1));
}

static enum pv_rc
h_user_reset(struct http_request *req)
{
	struct authn_service *s = svc_of(req);
	char otp[AUTHN_OTP_LEN + 1], hash[crypto_pwhash_STRBYTES], *detail;
	struct state_job j;
	json_t *o;
	enum pv_rc rc;

	if ((rc = target_other(req, "user.reset", &j)) != PV_OK)
		return rc;
	/* hashed here, not on the writer: Argon2id must not stall every commit */
	if ((rc = authn_password_generate(otp, sizeof(otp))) != PV_OK)
		return rc;
	rc = authn_password_hash(otp, s->cfg->argon2_opslimit, s->cfg->argon2_memlimit, hash);
	if (rc != PV_OK)
		goto out;
	j.password_hash = hash;
	/* no reset without the roles it hands over named in the trail */
	if ((detail = reset_detail(req, req->principal, j.id)) == NULL) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	rc = user_state_commit(req, "user.reset", reset_fn, &j, detail);
	if (rc == PV_E_CONFLICT)
		rc = http_fail(req, PV_E_CONFLICT, "The user is disabled: enable it first");
	if (rc != PV_OK)
		goto out;
	/* the user's sessions end at once on this node too */
	authn_cache_forget_user(s, j.id, NULL);
	authn_authz_changed(s);
	/* the one place the new one-time password appears: this response */
	o = json_pack("{s:s, s:s, s:s, s:i, s:b, s:b}", "id", j.id, "username", j.username,
	    "one_time_password", otp, "sessions_ended", (int)j.ended, "must_change_password", 1,
	    "mfa_enabled", 0);
	rc = o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
out:
	crypto_wipe(otp, sizeof(otp));
	crypto_wipe(hash, sizeof(hash));
	return rc;
}

enum pv_rc
authn_route_users(struct authn_service *s, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/users", h_user_create, "users.manage", "user.create",
		    HTTP_ROUTE_BODY, 32768, s },
		{ "GET", "/v1/users", h_user_list, "users.manage", "user.read", 0, 0, s },
		{ "GET", "/v1/users/{id}", h_user_get, "users.manage", "user.read", 0, 0, s },
		{ "PATCH", "/v1/users/{id}", h_user_patch, "users.manage", "user.update",
		    HTTP_ROUTE_BODY, 32768, s },
		{ "POST", "/v1/users/{id}/disable", h_user_disable, "users.manage",
		    "user.disable", 0, 0, s },
		{ "POST", "/v1/users/{id}/enable", h_user_enable, "users.manage",
		    "user.enable", 0, 0, s },
		{ "POST", "/v1/users/{id}/unlock", h_user_unlock, "users.manage",
		    "user.unlock", 0, 0, s },
		{ "POST", "/v1/users/{id}/reset", h_user_reset, "users.manage",
		    "user.reset", 0, 0, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}

/* ---- init: the bootstrap administrator ---- */

enum pv_rc
authn_bootstrap_admin(struct store *st, struct audit *audit, const struct pv_config *cfg,
    const char *username, const char *password, char user_id[UTIL_ID_MAX])
{
	static const char *const roles[] = { "admin" };
	struct authn_service s;
	struct store_user u;
	char detail[160];
	enum pv_rc rc;

	/* a minimal service: create_user needs the store, writer and config */
	memset(&s, 0, sizeof(s));
	s.st = st;
	s.audit = audit;
	s.cfg = cfg;
	memset(&u, 0, sizeof(u));
	if (!authn_username_key(username, u.username))
		return PV_E_INVALID;
	u.attributes = (char *)"{}";
	snprintf(detail, sizeof(detail),
	    "{\"username\":\"%s\",\"roles\":[\"admin\"],\"groups\":[],\"bootstrap\":true}",
	    u.username);
	rc = create_user(&s, NULL, NULL, &u, password, roles, 1, NULL, 0, detail);
	if (rc == PV_OK && user_id != NULL)
		util_strlcpy(user_id, u.id, UTIL_ID_MAX);
	crypto_wipe(u.password_hash, sizeof(u.password_hash));
	return rc;
}
