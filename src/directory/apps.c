/*
 * directory/apps.c: workload identities (issue 10 item 1), in domain terms
 * and apart from HTTP: create, read, disable, and the secrets (add, remove).
 * routes_apps.c adapts them to REST; the sign-in is authn's (app.c).
 *
 * Each operation takes the actor, validates, and makes exactly one audited
 * transaction through the commit path (data change and entry together).
 *
 * Invariants:
 *  - apps are never deleted, IDs never reused; a removed secret is revoked
 *    (its row kept, so the trail names it);
 *  - an app never holds users.manage, roles.manage, apps.manage or
 *    access.approve: a role that grants one is refused here (and the
 *    decision point denies them to an app whatever its roles say);
 *  - at most DIRECTORY_APP_SECRETS_LIVE_MAX live secrets, counted inside
 *    the transaction that adds one, so two concurrent adds cannot both pass;
 *  - a secret is in the answer of its add only, and stored as a keyed hash;
 *  - disable is one transaction (disabled, credential epoch bumped, every
 *    session ended); app sessions are read from the store on each request,
 *    so the next request of any of them is refused, on every node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "crypto/crypto.h"
#include "directory/directory_int.h"

void
directory_app_secret_wipe(struct directory_app_secret *s)
{
	if (s != NULL)
		crypto_wipe(s->secret, sizeof(s->secret));
}

/* ---- validation ---- */

/* The first permission of role that an app can never hold, or NULL. */
enum pv_rc
directory_role_app_forbidden(struct directory *s, const char *role, char *perm, size_t len,
    bool *exists)
{
	const char *const *b;
	struct store_role r;
	json_t *arr;
	size_t n, i;
	enum pv_rc rc;

	perm[0] = '\0';
	*exists = true;
	if ((b = authz_builtin_role(role, &n)) != NULL) {
		for (i = 0; i < n; i++)
			if (authz_app_forbidden(b[i])) {
				util_strlcpy(perm, b[i], len);
				break;
			}
		return PV_OK;
	}
	STORE_READ(s->st, rc, store_role_get(tx, role, &r));
	if (rc == PV_E_NOTFOUND) {
		*exists = false;
		return PV_OK;
	}
	if (rc != PV_OK)
		return rc;
	arr = json_loads(r.permissions != NULL ? r.permissions : "[]", 0, NULL);
	store_role_clear(&r);
	for (i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
		const char *p = json_string_value(json_array_get(arr, i));

		if (p != NULL && authz_app_forbidden(p)) {
			util_strlcpy(perm, p, len);
			break;
		}
	}
	json_decref(arr);
	return PV_OK;
}

static enum pv_rc
roles_check(struct directory *s, const char *const *roles, size_t n,
    struct directory_result *res)
{
	char perm[AUTHZ_PERM_MAX];
	bool exists;
	size_t i, k;
	enum pv_rc rc;

	if (n > AUTHN_ROLES_MAX)
		return directory_fail(res, PV_E_INVALID, "too many roles");
	for (i = 0; i < n; i++) {
		if (roles[i] == NULL || !authz_role_name_valid(roles[i])) {
			snprintf(res->message, sizeof(res->message), "roles[%zu] must be a role name",
			    i);
			return PV_E_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(roles[k], roles[i]) == 0) {
				snprintf(res->message, sizeof(res->message),
				    "roles[%zu] is a duplicate", i);
				return PV_E_INVALID;
			}
		if ((rc = directory_role_app_forbidden(s, roles[i], perm, sizeof(perm), &exists)) != PV_OK)
			return rc;
		if (!exists) {
			snprintf(res->message, sizeof(res->message),
			    "roles[%zu] does not exist (see GET /v1/roles)", i);
			return PV_E_INVALID;
		}
		if (perm[0] != '\0') {
			snprintf(res->message, sizeof(res->message),
			    "roles[%zu] (%.63s) grants %.40s, which an app can never hold", i,
			    roles[i], perm);
			return PV_E_INVALID;
		}
	}
	return PV_OK;
}

static enum pv_rc
networks_check(const char *const *nets, size_t n, struct directory_result *res)
{
	struct authn_cidr c;
	size_t i;

	if (n == 0 || n > AUTHN_APP_NETWORKS_MAX)
		return directory_fail(res, PV_E_INVALID, "networks must list 1 to 16 CIDR networks "
		    "(e.g. \"10.0.0.0/8\"; \"0.0.0.0/0\" and \"::/0\" allow every address)");
	for (i = 0; i < n; i++)
		if (nets[i] == NULL || authn_cidr_parse(nets[i], &c) != PV_OK) {
			snprintf(res->message, sizeof(res->message), "networks[%zu] is not a CIDR "
			    "network without host bits (e.g. 10.1.0.0/16, 2001:db8::/32)", i);
			return PV_E_INVALID;
		}
	return PV_OK;
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

static char *
dump(json_t *o)
{
	char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return t;
}

/* ---- create ---- */

/* The row the write owns, and the app.roles request that commits with it
 * (dual control; unset when no role waits). */
struct create_job {
	struct store_app a;
	struct directory_request req;
};

static enum pv_rc
create_fn(struct store_tx *tx, void *arg)
{
	struct create_job *j = arg;
	enum pv_rc rc;

	if ((rc = store_app_put(tx, &j->a)) != PV_OK)
		return rc;
	return directory_request_file(tx, &j->req);
}

static void
create_free(void *arg)
{
	struct create_job *j = arg;

	if (j != NULL) {
		store_app_clear(&j->a);
		directory_request_clear(&j->req);
	}
	free(j);
}

static enum pv_rc
create_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	const struct create_job *j = arg;

	if (rc == PV_E_CONFLICT)
		return directory_fail(res, rc, "an app with this name exists");
	if (rc != PV_OK)
		return rc;
	util_strlcpy(res->id, j->a.id, sizeof(res->id));
	util_strlcpy(res->username, j->a.name, sizeof(res->username));
	util_strlcpy(res->approval, j->req.id, sizeof(res->approval));
	directory_changed(s);
	return PV_OK;
}

enum pv_rc
directory_app_create(struct directory *s, const struct pv_actor *actor,
    const struct directory_app_spec *sp, struct directory_result *res)
{
	struct directory_write w = { create_fn, NULL, create_free, create_finish, COMMIT_REQUEST };
	struct create_job *job;
	struct store_app a;
	struct directory_gate g;
	struct audit_event ev;
	json_t *now;
	char r[128], *detail = NULL;
	size_t i;
	enum pv_rc rc;

	directory_result_reset(res);
	memset(&a, 0, sizeof(a));
	if (sp->name == NULL || !authn_username_key(sp->name, a.name))
		return directory_fail(res, PV_E_INVALID,
		    "name must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	if ((rc = roles_check(s, sp->roles, sp->nroles, res)) != PV_OK ||
	    (rc = networks_check(sp->networks, sp->nnetworks, res)) != PV_OK)
		return rc;
	if ((rc = util_id_new("app", a.id)) != PV_OK)
		return rc;
	/* dual control: roles granting PHI access wait for a security officer */
	if ((rc = directory_gate_check(s, sp->roles, sp->nroles, NULL, 0, &g)) != PV_OK)
		return rc;
	if (g.phi && s->authz == NULL)
		return directory_fail(res, PV_E_STATE, "PHI access needs dual control, which "
		    "this caller cannot request");
	now = json_array();
	for (i = 0; now != NULL && i < sp->nroles; i++)
		if (!g.role_phi[i])
			json_array_append_new(now, json_string(sp->roles[i]));
	a.roles = dump(now);
	a.networks = dump(names_json(sp->networks, sp->nnetworks));
	detail = dump(json_pack("{s:s, s:o, s:o, s:b}", "name", a.name,
	    "roles", a.roles != NULL ? json_loads(a.roles, 0, NULL) : json_array(),
	    "networks", names_json(sp->networks, sp->nnetworks), "pending", g.phi));
	if (a.roles == NULL || a.networks == NULL || detail == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (actor->kind == PV_ACTOR_USER || actor->kind == PV_ACTOR_APP)
		util_strlcpy(a.created_by, actor->user_id, sizeof(a.created_by));
	a.created_ms = util_now_ms();
	a.credential_epoch = 1;
	snprintf(r, sizeof(r), "apps/%s", a.id);
	directory_event_init(&ev, actor, "app.create", r);
	ev.detail = detail;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	/* with roles pending, the app.roles request (the full set) names the
	 * app and commits with it, each with its entry */
	if (g.phi && (rc = directory_request_init(s, actor, &job->req, "app.roles", r,
	    json_pack("{s:s, s:o}", "app", a.id, "roles", names_json(sp->roles, sp->nroles)))) !=
	    PV_OK) {
		free(job);
		goto out;
	}
	job->a = a;   /* the row's strings are the job's now */
	memset(&a, 0, sizeof(a));
	w.job = job;
	/* with res->done the answer comes from the completion (create_finish) */
	rc = directory_write(s, &ev, &w, res);
out:
	free(detail);
	store_app_clear(&a);
	return rc;
}

/* ---- reads ---- */

static int
on_secret(const struct store_app_secret *sec, void *arg)
{
	char c[32], e[32];
	json_t *o;

	util_time_fmt(sec->created_ms, c, sizeof(c));
	o = json_pack("{s:s, s:s, s:I}", "secret_id", sec->secret_id, "created", c,
	    "key_version", (json_int_t)sec->mac_version);
	if (o != NULL && sec->expires_ms != 0) {
		util_time_fmt(sec->expires_ms, e, sizeof(e));
		json_object_set_new(o, "expires_at", json_string(e));
	}
	json_array_append_new(arg, o);
	return 0;
}

static json_t *
app_json(struct store_tx *tx, const struct store_app *a)
{
	json_t *roles = json_loads(a->roles ? a->roles : "[]", 0, NULL);
	json_t *nets = json_loads(a->networks ? a->networks : "[]", 0, NULL);
	json_t *secrets = json_array(), *o;
	char c[32], d[32];

	if (roles == NULL || nets == NULL || secrets == NULL ||
	    store_app_secret_list(tx, a->id, on_secret, secrets) != PV_OK) {
		json_decref(roles);
		json_decref(nets);
		json_decref(secrets);
		return NULL;
	}
	util_time_fmt(a->created_ms, c, sizeof(c));
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o}", "id", a->id, "name", a->name,
	    "status", a->disabled ? "disabled" : "active", "roles", roles, "networks", nets,
	    "secrets", secrets, "created", c,
	    "created_by", a->created_by[0] != '\0' ? json_string(a->created_by) : json_null());
	if (o != NULL && a->disabled_ms != 0) {
		util_time_fmt(a->disabled_ms, d, sizeof(d));
		json_object_set_new(o, "disabled_at", json_string(d));
	}
	return o;
}

enum pv_rc
directory_app_get(struct directory *s, const struct pv_actor *actor, const char *id,
    json_t **out, struct directory_result *res)
{
	struct store_tx *tx = NULL;
	struct store_app a;
	json_t *o = NULL;
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	if (id == NULL || !util_id_valid("app", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such app");
	if ((rc = store_begin(s->st, STORE_RD, &tx)) != PV_OK)
		return rc;
	rc = store_app_get(tx, id, &a);
	if (rc == PV_OK) {
		o = app_json(tx, &a);
		store_app_clear(&a);
	}
	store_end(tx);
	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such app");
	if (rc != PV_OK)
		return rc;
	if (o == NULL)
		return PV_E_INTERNAL;
	*out = o;
	return PV_OK;
}

static int
on_app(const struct store_app *a, void *arg)
{
	struct directory_list *l = arg;

	return directory_list_add(l, app_json(l->tx, a));
}

enum pv_rc
directory_app_list(struct directory *s, const struct pv_actor *actor, json_t **out,
    struct directory_result *res)
{
	struct directory_list l;
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	if ((rc = directory_list_begin(s, &l)) != PV_OK)
		return rc;
	return directory_list_end(&l, store_app_list(l.tx, on_app, &l), out);
}

/* ---- disable ---- */

struct disable_job {
	const char *id;
	int64_t now_ms;
	size_t ended;
};

enum pv_rc
directory_app_disable_in(struct store_tx *tx, const char *id, int64_t now_ms, size_t *ended)
{
	struct store_app a;
	enum pv_rc rc = PV_OK;

	if ((rc = store_app_get(tx, id, &a)) != PV_OK)
		return rc;
	if (!a.disabled) {
		a.disabled = true;
		a.disabled_ms = now_ms;
		a.credential_epoch++;   /* every token made before is dead */
		rc = store_app_update(tx, &a);
	}
	store_app_clear(&a);
	if (rc != PV_OK)
		return rc;
	return store_app_session_end_all(tx, id, now_ms,
	    authn_session_end_name(AUTHN_END_DISABLED), ended);
}

static enum pv_rc
disable_fn(struct store_tx *tx, void *arg)
{
	struct disable_job *j = arg;

	return directory_app_disable_in(tx, j->id, j->now_ms, &j->ended);
}

/* After the commit: the app's tokens die on this node at once. */
static enum pv_rc
disable_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct disable_job *j = arg;

	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such app");
	if (rc != PV_OK)
		return rc;
	authn_sessions_end_app(s->authn, j->id);
	util_strlcpy(res->id, j->id, sizeof(res->id));
	res->sessions_ended = j->ended;
	return PV_OK;
}

enum pv_rc
directory_app_disable(struct directory *s, const struct pv_actor *actor, const char *id,
    struct directory_result *res)
{
	struct directory_write w = { disable_fn, NULL, NULL, disable_finish, COMMIT_REQUEST };
	struct disable_job *j;
	struct audit_event ev;
	char r[128];

	directory_result_reset(res);
	if (id == NULL || !util_id_valid("app", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such app");
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_E_NOMEM;
	j->id = id;
	j->now_ms = util_now_ms();
	w.job = j;
	snprintf(r, sizeof(r), "apps/%s", id);
	directory_event_init(&ev, actor, "app.disable", r);
	return directory_write(s, &ev, &w, res);
}

/* ---- secrets ---- */

struct secret_job {
	struct store_app_secret row;
	size_t live;
	struct directory_app_secret *out;   /* the caller's */
};

static int
count_live(const struct store_app_secret *sec, void *arg)
{
	(void)sec;
	(*(size_t *)arg)++;
	return 0;
}

static enum pv_rc
secret_add_fn(struct store_tx *tx, void *arg)
{
	struct secret_job *j = arg;
	struct store_app a;
	enum pv_rc rc;

	if ((rc = store_app_get(tx, j->row.app_id, &a)) != PV_OK)
		return rc;
	if (a.disabled) {
		store_app_clear(&a);
		return PV_E_STATE;
	}
	store_app_clear(&a);
	j->live = 0;
	if ((rc = store_app_secret_list(tx, j->row.app_id, count_live, &j->live)) != PV_OK)
		return rc;
	if (j->live >= DIRECTORY_APP_SECRETS_LIVE_MAX)
		return PV_E_CONFLICT;
	return store_app_secret_put(tx, &j->row);
}

static void
secret_free(void *arg)
{
	struct secret_job *j = arg;

	if (j != NULL)
		crypto_wipe(j->row.hash, sizeof(j->row.hash));
	free(j);
}

/* After the commit: the secret's ID into out, or out wiped with the
 * failure's message. */
static enum pv_rc
secret_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct secret_job *j = arg;

	(void)s;
	if (rc == PV_E_NOTFOUND)
		directory_fail(res, rc, "No such app");
	else if (rc == PV_E_STATE)
		rc = directory_fail(res, PV_E_CONFLICT, "The app is disabled");
	else if (rc == PV_E_CONFLICT)
		directory_fail(res, rc, "The app has two live secrets already: delete one first "
		    "(DELETE /v1/apps/{id}/secrets/{secret_id})");
	if (rc == PV_OK)
		util_strlcpy(j->out->secret_id, j->row.secret_id, sizeof(j->out->secret_id));
	else
		directory_app_secret_wipe(j->out);
	return rc;
}

enum pv_rc
directory_app_secret_add(struct directory *s, const struct pv_actor *actor, const char *id,
    struct directory_app_secret *out, struct directory_result *res)
{
	struct directory_write w = { secret_add_fn, NULL, secret_free, secret_finish,
	    COMMIT_REQUEST };
	struct secret_job *j;
	struct audit_event ev;
	char r[160];
	enum pv_rc rc;

	directory_result_reset(res);
	memset(out, 0, sizeof(*out));
	if (id == NULL || !util_id_valid("app", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such app");
	if (s->authn == NULL)
		return PV_E_INTERNAL;   /* no keyring: not a serving directory */
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_E_NOMEM;
	j->out = out;
	if ((rc = util_id_new("aps", j->row.secret_id)) != PV_OK ||
	    (rc = authn_app_secret_new(s->authn, out->secret, j->row.hash,
	    &j->row.mac_version)) != PV_OK) {
		directory_app_secret_wipe(out);
		secret_free(j);
		return rc;
	}
	util_strlcpy(j->row.app_id, id, sizeof(j->row.app_id));
	j->row.created_ms = util_now_ms();
	snprintf(r, sizeof(r), "apps/%s/secrets/%s", id, j->row.secret_id);
	directory_event_init(&ev, actor, "app.secret_add", r);
	w.job = j;
	/* with res->done, out is filled (or wiped) by the completion */
	return directory_write(s, &ev, &w, res);
}

struct revoke_job {
	const char *id;
	const char *secret_id;
	int64_t now_ms;
};

static enum pv_rc
secret_rm_fn(struct store_tx *tx, void *arg)
{
	struct revoke_job *j = arg;

	return store_app_secret_revoke(tx, j->id, j->secret_id, j->now_ms);
}

static enum pv_rc
secret_rm_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	(void)s;
	(void)arg;
	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such app secret");
	return rc;
}

enum pv_rc
directory_app_secret_remove(struct directory *s, const struct pv_actor *actor, const char *id,
    const char *secret_id, struct directory_result *res)
{
	struct directory_write w = { secret_rm_fn, NULL, NULL, secret_rm_finish, COMMIT_REQUEST };
	struct revoke_job *j;
	struct audit_event ev;
	char r[160];

	directory_result_reset(res);
	if (id == NULL || !util_id_valid("app", id) || secret_id == NULL ||
	    !util_id_valid("aps", secret_id))
		return directory_fail(res, PV_E_NOTFOUND, "No such app secret");
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_E_NOMEM;
	j->id = id;
	j->secret_id = secret_id;
	j->now_ms = util_now_ms();
	w.job = j;
	snprintf(r, sizeof(r), "apps/%s/secrets/%s", id, secret_id);
	directory_event_init(&ev, actor, "app.secret_remove", r);
	return directory_write(s, &ev, &w, res);
}

/* ---- client certificates (mutual TLS) ---- */

struct cert_revoke_job {
	const char *id;
	const char *serial;
	const char *by;
	int64_t now_ms;
	size_t ended;
};

static enum pv_rc
cert_revoke_fn(struct store_tx *tx, void *arg)
{
	struct cert_revoke_job *j = arg;
	struct store_app a;
	enum pv_rc rc;

	if ((rc = store_app_get(tx, j->id, &a)) != PV_OK)
		return rc;
	store_app_clear(&a);
	if ((rc = store_app_cert_revoke(tx, j->id, j->serial, j->now_ms, j->by)) != PV_OK)
		return rc;
	return store_app_session_end_cert(tx, j->id, j->serial, j->now_ms, "cert_revoked",
	    &j->ended);
}

static enum pv_rc
cert_revoke_finish(struct directory *s, enum pv_rc rc, void *arg,
    struct directory_result *res)
{
	struct cert_revoke_job *j = arg;

	(void)s;
	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such app");
	if (rc == PV_E_CONFLICT)
		return directory_fail(res, rc, "That certificate is revoked already");
	if (rc != PV_OK)
		return rc;
	util_strlcpy(res->id, j->id, sizeof(res->id));
	res->sessions_ended = j->ended;
	return PV_OK;
}

enum pv_rc
directory_app_cert_revoke(struct directory *s, const struct pv_actor *actor, const char *id,
    const char *serial, struct directory_result *res)
{
	struct directory_write w = { cert_revoke_fn, NULL, NULL, cert_revoke_finish,
	    COMMIT_REQUEST };
	struct cert_revoke_job *j;
	struct audit_event ev;
	char r[160], detail[64];
	size_t n = serial != NULL ? strlen(serial) : 0;

	directory_result_reset(res);
	if (id == NULL || !util_id_valid("app", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such app");
	if (n == 0 || n > 40 || strspn(serial, "0123456789abcdef") != n)
		return directory_fail(res, PV_E_NOTFOUND, "No such certificate serial (lower-case "
		    "hex, as POST /v1/apps/{id}/certificate answered it)");
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_E_NOMEM;
	j->id = id;
	j->serial = serial;
	j->by = actor->user_id != NULL ? actor->user_id : "system";
	j->now_ms = util_now_ms();
	w.job = j;
	snprintf(r, sizeof(r), "apps/%s/certificate/%s", id, serial);
	directory_event_init(&ev, actor, "app.cert_revoke", r);
	ev.reason = "revoked";
	/* the count is known only inside the job: the detail names the serial */
	snprintf(detail, sizeof(detail), "{\"serial\":\"%s\"}", serial);
	ev.detail = detail;
	return directory_write(s, &ev, &w, res);
}

void
directory_app_cert_free(struct directory_app_cert *c)
{
	if (c == NULL)
		return;
	free(c->cert_pem);
	free(c->ca_pem);
	c->cert_pem = c->ca_pem = NULL;
}

/* The certificate issued before the commit, handed to out only if the
 * commit holds (else freed). */
struct cert_job {
	const char *id;
	char *cert, *ca;
	char serial[41];
	int64_t not_after_ms;
	struct directory_app_cert *out;   /* the caller's */
};

static enum pv_rc
cert_fn(struct store_tx *tx, void *arg)
{
	struct cert_job *j = arg;
	struct store_app a;
	enum pv_rc rc;

	/* in the entry's transaction: a disable that committed first wins */
	if ((rc = store_app_get(tx, j->id, &a)) != PV_OK)
		return rc;
	rc = a.disabled ? PV_E_STATE : PV_OK;
	store_app_clear(&a);
	return rc;
}

static void
cert_free(void *arg)
{
	struct cert_job *j = arg;

	if (j != NULL) {
		free(j->cert);
		free(j->ca);
	}
	free(j);
}

static enum pv_rc
cert_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	struct cert_job *j = arg;

	(void)s;
	if (rc == PV_E_STATE)
		directory_fail(res, rc, "The app is disabled: it gets no certificate");
	if (rc != PV_OK)
		return rc;
	j->out->cert_pem = j->cert;
	j->out->ca_pem = j->ca;
	j->cert = j->ca = NULL;
	util_strlcpy(j->out->serial, j->serial, sizeof(j->out->serial));
	j->out->not_after_ms = j->not_after_ms;
	return PV_OK;
}

enum pv_rc
directory_app_certificate(struct directory *s, const struct pv_actor *actor, const char *id,
    const char *csr_pem, struct directory_app_cert *out, struct directory_result *res)
{
	struct directory_write w = { cert_fn, NULL, cert_free, cert_finish, COMMIT_REQUEST };
	struct crypto_client_cert c;
	struct cert_job *j;
	struct store_app a;
	struct audit_event ev;
	char r[128], detail[160], t[32];
	char *cert = NULL, *ca = NULL;
	enum pv_rc rc;

	directory_result_reset(res);
	memset(out, 0, sizeof(*out));
	if (id == NULL || !util_id_valid("app", id))
		return directory_fail(res, PV_E_NOTFOUND, "No such app");
	STORE_READ(s->st, rc, store_app_get(tx, id, &a));
	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such app");
	if (rc != PV_OK)
		return rc;
	rc = a.disabled ? PV_E_STATE : PV_OK;
	store_app_clear(&a);
	if (rc != PV_OK)
		return directory_fail(res, rc, "The app is disabled: it gets no certificate");
	if (csr_pem == NULL)
		return directory_fail(res, PV_E_INVALID, "csr must be a PEM certificate request");
	rc = authn_app_cert_issue(s->authn, id, csr_pem, &c, &cert, &ca);
	if (rc == PV_E_INVALID)
		return directory_fail(res, rc, "csr must be a PEM certificate request "
		    "(-----BEGIN CERTIFICATE REQUEST-----)");
	if (rc == PV_E_INTEGRITY)
		return directory_fail(res, PV_E_INVALID, "the CSR's signature does not verify");
	if (rc != PV_OK)
		return rc;
	util_time_fmt(c.not_after_s * 1000, t, sizeof(t));
	snprintf(detail, sizeof(detail), "{\"serial\":\"%s\",\"not_after\":\"%s\"}", c.serial, t);
	snprintf(r, sizeof(r), "apps/%s", id);
	directory_event_init(&ev, actor, "app.certificate", r);
	ev.detail = detail;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		free(cert);
		free(ca);
		return PV_E_NOMEM;
	}
	j->id = id;
	j->cert = cert;
	j->ca = ca;
	util_strlcpy(j->serial, c.serial, sizeof(j->serial));
	j->not_after_ms = c.not_after_s * 1000;
	j->out = out;
	w.job = j;
	/* with res->done, out is filled by the completion (cert_finish) */
	return directory_write(s, &ev, &w, res);
}
