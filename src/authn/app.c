/*
 * app.c: credentials and sessions of workload identities (issue 10 item 1;
 * the app rows themselves are the directory's, src/directory/apps.c).
 *
 *  - Secrets: "pvs_" + base64url(32 random bytes): 256 bits, shown once.
 *    Stored only as hex HMAC-SHA256 under a MAC key of KEK identity
 *    (keys_mac_version, purpose "app-secret"), like recovery codes: a
 *    stolen database gives nothing to replay, and a lookup compares in
 *    constant time against each live secret of the app. A new secret is
 *    made under the active version, which its row keeps (mac_version); a
 *    sign-in checks each row under its own version, so a rotation of KEK
 *    identity leaves every secret valid, and once each app's secret was
 *    rotated the census of the old version is 0 (retire, then revoke).
 *  - Sign-in (authn_app_signin): per-source throttle slot, then a lockout
 *    slot per app ID (key "~app:<id>", the same counter arithmetic as user
 *    logins), then the secret, then the app's networks. No password, no
 *    MFA; in steps from commit completions, no thread waits (see "in
 *    steps" below). A success ends in one transaction: the app session row, the
 *    lockout reset and the auth.app entry.
 *  - App sessions (table app_sessions; tokens "pva_"): absolute lifetime
 *    [apps] token_ttl_s (at most 1 h), no idle limit. Read from the store
 *    on every request (no cache): disabling the app (credential epoch
 *    bumped, sessions ended, in one transaction) ends them at once, on
 *    every node.
 *
 * State of an app session: ACTIVE -> ENDED (disabled: end_reason
 * "disabled"; the app's epoch moved) or EXPIRED (now >= expires_ms).
 * Both are terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

#define APP_PURPOSE "app-secret"
#define APP_KEY_PREFIX "~app:"
#define INVALID_APP "Invalid app credentials"

/* KEK identity is made at start-up (authn_kek_start), never here. A new
 * secret without it is refused (authn_kek_missing: 503); a sign-in passes
 * signin: without the KEK no secret was ever made, so it answers
 * PV_E_UNAUTH (matches nothing). */
static enum pv_rc
secret_mac(struct authn_service *s, const char *secret, uint32_t version,
    char hash[AUTHN_HASH_HEX_MAX], uint32_t *made, bool signin)
{
	char sha[AUTHN_HASH_HEX_MAX];
	uint8_t mac[CRYPTO_SHA256_LEN];
	uint32_t v = version;
	enum pv_rc rc;

	if (secret == NULL || authn_token_hash(AUTHN_TOKEN_APP_SECRET, secret, sha) != PV_OK)
		return PV_E_UNAUTH;
	/* 0: the active version of KEK identity (a new secret, or the first
	 * MAC of a sign-in); else the version the secret's row names */
	if (version == 0) {
		rc = keys_mac_active(s->keys, AUTHN_KEK, APP_PURPOSE, (const uint8_t *)secret,
		    strlen(secret), mac, &v);
		if (rc == PV_E_NOTFOUND)
			rc = signin ? PV_E_UNAUTH : authn_kek_missing();
	} else {
		rc = keys_mac_version(s->keys, AUTHN_KEK, version, APP_PURPOSE,
		    (const uint8_t *)secret, strlen(secret), mac);
	}
	if (rc == PV_OK) {
		util_hex_encode(mac, sizeof(mac), hash);
		if (made != NULL)
			*made = v;
	}
	crypto_wipe(mac, sizeof(mac));
	return rc;
}

enum pv_rc
authn_app_secret_hash(struct authn_service *s, const char *secret, uint32_t version,
    char hash[AUTHN_HASH_HEX_MAX], uint32_t *made)
{
	return secret_mac(s, secret, version, hash, made, false);
}

enum pv_rc
authn_app_secret_new(struct authn_service *s, char secret[AUTHN_TOKEN_MAX],
    char hash[AUTHN_HASH_HEX_MAX], uint32_t *mac_version)
{
	char sha[AUTHN_HASH_HEX_MAX];
	enum pv_rc rc;

	if (s == NULL || mac_version == NULL)
		return PV_E_INVALID;
	if ((rc = authn_token_new(AUTHN_TOKEN_APP_SECRET, secret, sha)) != PV_OK)
		return rc;
	if ((rc = authn_app_secret_hash(s, secret, 0, hash, mac_version)) != PV_OK)
		crypto_wipe(secret, AUTHN_TOKEN_MAX);
	return rc;
}

void
authn_sessions_end_app(struct authn_service *s, const char *app_id)
{
	if (s == NULL)
		return;
	authn_authz_changed(s);
	log_info("authn: sessions of %s ended", app_id);
}

/* The allow-list of an app (its JSON array of CIDR texts); false if damaged. */
bool
authn_app_networks(const char *json, struct authn_cidr *nets, size_t *n)
{
	json_t *a = json_loads(json != NULL ? json : "", 0, NULL);
	size_t i;
	bool ok = json_is_array(a) && json_array_size(a) <= AUTHN_APP_NETWORKS_MAX;

	*n = 0;
	for (i = 0; ok && i < json_array_size(a); i++)
		ok = authn_cidr_parse(json_string_value(json_array_get(a, i)), &nets[i]) == PV_OK;
	if (ok)
		*n = json_array_size(a);
	json_decref(a);
	return ok;
}

bool
authn_app_source_allowed(const struct authn_cidr *nets, size_t n, const char *source)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (authn_cidr_match(&nets[i], source))
			return true;
	return false;
}

/* ---- sign-in ---- */

/* The live secrets of the app as stored (hash and MAC key version); the
 * directory keeps at most DIRECTORY_APP_SECRETS_LIVE_MAX unrevoked, so a
 * few slots are plenty (more are ignored: they could not have been made). */
#define APP_SECRETS_SEEN_MAX 8

struct secret_acc {
	int64_t now_ms;
	size_t n;
	struct {
		char hash[65];
		uint32_t version;
	} s[APP_SECRETS_SEEN_MAX];
};

static int
on_secret(const struct store_app_secret *sec, void *arg)
{
	struct secret_acc *a = arg;

	if ((sec->expires_ms == 0 || sec->expires_ms > a->now_ms) &&
	    strlen(sec->hash) == CRYPTO_SHA256_LEN * 2 && a->n < APP_SECRETS_SEEN_MAX) {
		memcpy(a->s[a->n].hash, sec->hash, sizeof(a->s[a->n].hash));
		a->s[a->n].version = sec->mac_version;
		a->n++;
	}
	return 0;
}

/*
 * Does the presented secret match a live secret of the app? Each row is
 * compared with the MAC under its own version of KEK identity (hash: the
 * one already made under the active version), so a rotation leaves
 * secrets made before it valid; a row whose version was revoked matches
 * nothing. Every row is compared: the time does not say which matched.
 */
static enum pv_rc
secret_match(struct authn_service *s, const char *secret, const char *hash,
    uint32_t active, struct secret_acc *acc, bool *match)
{
	char other[AUTHN_HASH_HEX_MAX];
	enum pv_rc rc = PV_OK;

	*match = false;
	for (size_t i = 0; i < acc->n; i++) {
		const char *h = hash;

		if (acc->s[i].version != active) {
			rc = authn_app_secret_hash(s, secret, acc->s[i].version, other, NULL);
			if (rc == PV_E_FORBIDDEN || rc == PV_E_NOTFOUND) {
				rc = PV_OK;   /* its version is revoked (or gone): dead */
				continue;
			}
			if (rc != PV_OK)
				break;
			h = other;
		}
		if (crypto_memeq(acc->s[i].hash, h, CRYPTO_SHA256_LEN * 2))
			*match = true;
	}
	crypto_wipe(other, sizeof(other));
	return rc;
}

struct signin_job {
	const char *key;
	const struct store_app_session *row;
};

static enum pv_rc
signin_fn(struct store_tx *tx, void *arg)
{
	struct signin_job *j = arg;
	struct store_lockout zero = { 0, 0, 0 }, cur;
	enum pv_rc rc;

	if ((rc = store_lockout_get(tx, j->key, "password", &cur)) != PV_OK)
		return rc;
	if ((cur.failures != 0 || cur.locked_until_ms != 0) &&
	    (rc = store_lockout_put(tx, j->key, "password", &zero)) != PV_OK)
		return rc;
	return store_app_session_put(tx, j->row);
}

/*
 * authn_app_signin in steps (pending.c, as the login of login.c):
 *   start (request thread): throttle slot, the app, submit the lockout
 *     reservation (key "~app:<id>");
 *   reserved (worker): the app's live secrets, the MACs, the networks; a
 *     refusal is recorded and answered once durable (authn_op_refuse, with
 *     auth.lockout behind it when this failure locked the app), a success
 *     submits the session row + lockout reset + auth.app entry;
 *   committed (committer): the reply {"token","expires_at","app_id"}.
 * No thread waits for a commit; the HMAC-SHA256 secrets are cheap, the
 * worker is for the store reads.
 */
struct app_op {
	struct authn_op op;
	const char *secret, *source;
	char key[STORE_USERNAME_MAX], src[AUTHN_SOURCE_MAX], res[64 + UTIL_ID_MAX];
	char token[AUTHN_TOKEN_MAX];
	struct store_app a;
	struct store_app_session row;
	bool found;
	int64_t now;
	struct authn_reserve_job rj;
	struct signin_job j;
};

static void
app_release(struct authn_op *op)
{
	struct app_op *o = (struct app_op *)op;

	store_app_clear(&o->a);
}

static enum pv_rc
app_fail(struct authn_result *ar, enum pv_rc rc, const char *msg)
{
	util_strlcpy(ar->message, msg, sizeof(ar->message));
	return rc;
}

/* The auth.app refusal (actor the app when it is known), answered rc once
 * the entry is durable; with locked_now the auth.lockout entry (reason
 * app_secret) follows it and the answer waits for both. */
static enum pv_rc
app_refuse(struct app_op *o, const char *reason, enum pv_rc rc, const char *msg,
    bool locked_now)
{
	struct audit_event ev;

	authn_ev_init(&ev, NULL, o->source, "auth.app", "auth");
	if (o->found) {
		ev.actor.kind = PV_ACTOR_APP;
		ev.actor.user_id = o->a.id;
		ev.resource = o->res;
	}
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason;
	rc = app_fail(&o->op.ar, rc, msg);
	if (!locked_now)
		return authn_op_refuse(&o->op, &ev, rc);
	return authn_op_refuse_locked(&o->op, &ev, rc, o->found ? o->a.id : NULL, o->source,
	    "auth", "app_secret");
}

static void
app_committed(struct authn_op *op, enum pv_rc rc)
{
	struct app_op *o = (struct app_op *)op;
	char t[32];

	if (rc == PV_OK) {
		util_time_fmt(o->row.expires_ms, t, sizeof(t));
		rc = authn_op_reply(op, json_pack("{s:s, s:s, s:s}", "token", o->token,
		    "expires_at", t, "app_id", o->a.id));
	}
	crypto_wipe(o->token, sizeof(o->token));
	authn_op_finish(op, rc);
}

static enum pv_rc
app_verify(struct app_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->op.s;
	struct authn_cidr nets[AUTHN_APP_NETWORKS_MAX];
	char hash[AUTHN_HASH_HEX_MAX];
	struct store_app_session *row = &o->row;
	struct secret_acc acc;
	struct audit_event ev;
	bool locked_now = false, match = false;
	uint32_t active = 0;
	size_t nnets = 0;
	enum pv_rc hrc;

	rc = authn_lockout_reserved(&o->rj, rc, &o->op.ar.retry_after_s, &locked_now);
	if (rc == PV_E_LOCKED)
		return app_refuse(o, "locked", PV_E_LOCKED,
		    "Too many failed attempts: this app is temporarily locked", false);
	if (rc != PV_OK)
		return rc;
	/* always one MAC (unknown apps too), under the active version */
	hrc = secret_mac(s, o->secret, 0, hash, &active, true);
	if (hrc != PV_OK && hrc != PV_E_UNAUTH) {
		crypto_wipe(hash, sizeof(hash));
		return hrc;
	}
	memset(&acc, 0, sizeof(acc));
	acc.now_ms = o->now;
	if (o->found && hrc == PV_OK) {
		STORE_READ(s->st, rc, store_app_secret_list(tx, o->a.id, on_secret, &acc));
		if (rc == PV_OK)
			rc = secret_match(s, o->secret, hash, active, &acc, &match);
	}
	crypto_wipe(hash, sizeof(hash));
	if (rc != PV_OK)
		return rc;
	if (!o->found || !match || o->a.disabled)
		return app_refuse(o, !o->found ? "unknown_app" : !match ? "bad_secret" :
		    "disabled", PV_E_UNAUTH, INVALID_APP, locked_now);
	/* the right secret: the throttle slot was not a failure after all */
	authn_throttle_release(s->throttle, o->src, o->now);
	if (!authn_app_networks(o->a.networks, nets, &nnets) ||
	    !authn_app_source_allowed(nets, nnets, o->source))
		return app_refuse(o, "network_not_allowed", PV_E_NETWORK,
		    "This app may not sign in from this network", false);
	if ((rc = authn_token_new(AUTHN_TOKEN_APP, o->token, row->token_hash)) != PV_OK ||
	    (rc = util_id_new("ses", row->id)) != PV_OK)
		return rc;
	util_strlcpy(row->app_id, o->a.id, sizeof(row->app_id));
	row->created_ms = o->now;
	row->expires_ms = o->now + (int64_t)s->cfg->app_token_ttl_s * 1000;
	row->credential_epoch = o->a.credential_epoch;
	util_strlcpy(row->source, o->source != NULL ? o->source : "", sizeof(row->source));
	util_strlcpy(row->method, "secret", sizeof(row->method));
	o->j.key = o->key;
	o->j.row = row;
	authn_ev_init(&ev, NULL, o->source, "auth.app", o->res);
	ev.actor.kind = PV_ACTOR_APP;
	ev.actor.user_id = o->a.id;
	ev.actor.session_id = row->id;
	ev.actor.auth_method = "secret";
	ev.actor.auth_ms = o->now;
	ev.reason = "secret";
	return authn_op_submit(&o->op, &ev, signin_fn, &o->j, app_committed, false);
}

static void
app_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, app_verify((struct app_op *)op, rc));
}

static enum pv_rc
app_start(struct app_op *o, const char *app_id)
{
	struct authn_service *s = o->op.s;
	struct audit_event ev;
	bool valid;
	enum pv_rc rc;

	if (app_id == NULL || o->secret == NULL)
		return app_fail(&o->op.ar, PV_E_INVALID, "app_id and secret are required");
	authn_source_key(o->source, o->src);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &o->op.ar.retry_after_s) ==
	    PV_E_RATE) {
		authn_ev_init(&ev, NULL, o->source, "auth.app", "auth");
		ev.outcome = AUDIT_DENIED;
		ev.reason = "rate_limited";
		return authn_op_refuse(&o->op, &ev, app_fail(&o->op.ar, PV_E_RATE,
		    "Too many failed attempts from this address"));
	}
	valid = util_id_valid("app", app_id);
	snprintf(o->key, sizeof(o->key), "%s%s", APP_KEY_PREFIX, valid ? app_id : "~invalid");
	if (valid) {
		STORE_READ(s->st, rc, store_app_get(tx, app_id, &o->a));
		if (rc == PV_OK)
			o->found = true;
		else if (rc != PV_E_NOTFOUND)
			return rc;
	}
	if (o->found)
		snprintf(o->res, sizeof(o->res), "apps/%s", o->a.id);
	/* the lockout slot before the secret: N concurrent attempts check at
	 * most lockout_threshold secrets */
	o->rj.s = s;
	o->rj.key = o->key;
	o->rj.kind = "password";
	return authn_op_submit(&o->op, NULL, authn_lockout_reserve_fn, &o->rj, app_reserved, true);
}

void
authn_app_signin_async(struct authn_service *s, const char *app_id, const char *secret,
    const char *source, authn_done_fn done, void *arg)
{
	struct app_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = app_release;
	o->secret = secret;
	o->source = source;
	o->now = util_now_ms();
	authn_op_run(&o->op, app_start(o, app_id));
}

enum pv_rc
authn_app_signin(struct authn_service *s, const char *app_id, const char *secret,
    const char *source, json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_app_signin_async(s, app_id, secret, source, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ---- the authenticate step for "pva_" tokens ---- */

static bool
roles_from_json(const char *json, struct authn_principal *p)
{
	json_t *arr = json_loads(json != NULL ? json : "", 0, NULL);
	size_t i;
	bool ok = json_is_array(arr) && json_array_size(arr) <= AUTHN_ROLES_MAX;

	for (i = 0; ok && i < json_array_size(arr); i++) {
		const char *r = json_string_value(json_array_get(arr, i));

		if (r == NULL || strlen(r) >= AUTHN_ROLE_NAME_MAX) {
			ok = false;
			break;
		}
		util_strlcpy(p->roles[p->nroles++], r, AUTHN_ROLE_NAME_MAX);
	}
	json_decref(arr);
	return ok;
}

/* RFC 8705 3.1: the connection's client certificate is the one the token
 * is bound to (SHA-256 of its DER, compared in constant time). */
static bool
cert_bound_ok(const struct http_request *req, const char *want_hex)
{
	uint8_t md[CRYPTO_SHA256_LEN];
	char hex[CRYPTO_SHA256_LEN * 2 + 1];

	if (req->tls_client_cert == NULL || req->tls_client_cert_len == 0 ||
	    strlen(want_hex) != sizeof(hex) - 1 ||
	    crypto_sha256(req->tls_client_cert, req->tls_client_cert_len, md) != PV_OK)
		return false;
	util_hex_encode(md, sizeof(md), hex);
	return crypto_memeq(hex, want_hex, sizeof(hex) - 1);
}

/* The refusal of a bound token used without its certificate: recorded
 * (auth.app denied, reason certificate_mismatch, actor the app's session). */
static void
cert_mismatch_record(struct authn_service *s, const struct http_request *req,
    const struct store_app_session *row)
{
	struct audit_event ev;
	char res[64 + UTIL_ID_MAX], detail[96];

	snprintf(res, sizeof(res), "apps/%s", row->app_id);
	snprintf(detail, sizeof(detail), "{\"serial\":\"%s\"}", row->cert_serial);
	authn_ev_init(&ev, NULL, req->source, "auth.app", res);
	ev.actor.kind = PV_ACTOR_APP;
	ev.actor.user_id = row->app_id;
	ev.actor.session_id = row->id;
	ev.actor.auth_method = "mtls";
	ev.actor.auth_ms = row->created_ms;
	ev.outcome = AUDIT_DENIED;
	ev.reason = "certificate_mismatch";
	ev.detail = detail;
	/* the 401 leaves after the entry is durable; a failure is logged and
	 * the refusal stands (audit.h audit_record_held, !fail_closed) */
	if (audit_record_held(s->audit, &ev, false) != PV_OK)
		log_error("authn: certificate_mismatch of %s not recorded", row->id);
}

enum pv_rc
authn_app_authenticate(struct authn_service *s, struct http_request *req, const char *token,
    struct authn_principal **out)
{
	char hash[AUTHN_HASH_HEX_MAX];
	struct store_app_session row;
	struct store_app a;
	struct authn_principal *p;
	struct store_tx *tx = NULL;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	if (authn_token_hash(AUTHN_TOKEN_APP, token, hash) != PV_OK)
		return http_fail(req, PV_E_UNAUTH, "Invalid or expired token");
	memset(&a, 0, sizeof(a));
	if ((rc = store_begin(s->st, STORE_RD, &tx)) != PV_OK)
		return rc;
	rc = store_app_session_get_by_hash(tx, hash, &row);
	if (rc == PV_OK)
		rc = store_app_get(tx, row.app_id, &a);
	store_end(tx);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_UNAUTH, "Invalid or expired token");
	if (rc != PV_OK)
		return rc;
	if (row.ended_ms != 0 || a.disabled || a.credential_epoch != row.credential_epoch) {
		store_app_clear(&a);
		return http_fail(req, PV_E_UNAUTH, "Invalid or expired token");
	}
	if (now >= row.expires_ms) {
		store_app_clear(&a);
		return http_fail(req, PV_E_EXPIRED, "App token expired: sign in again");
	}
	if (row.cert_fingerprint[0] != '\0' && !cert_bound_ok(req, row.cert_fingerprint)) {
		cert_mismatch_record(s, req, &row);
		store_app_clear(&a);
		return http_fail(req, PV_E_CERT_MISMATCH, "This token is bound to a client "
		    "certificate: send it over a connection with that certificate");
	}
	if ((p = arena_alloc(req->arena, sizeof(*p))) == NULL) {
		store_app_clear(&a);
		return PV_E_NOMEM;
	}
	memset(p, 0, sizeof(*p));
	p->app = true;
	util_strlcpy(p->user_id, a.id, sizeof(p->user_id));
	util_strlcpy(p->session_id, row.id, sizeof(p->session_id));
	util_strlcpy(p->username, a.name, sizeof(p->username));
	util_strlcpy(p->source, req->source != NULL ? req->source : "", sizeof(p->source));
	p->auth_method = strcmp(row.method, "mtls") == 0 ? "mtls" : "secret";
	p->authenticated_ms = row.created_ms;
	p->expires_at_ms = row.expires_ms;
	p->idle_expires_at_ms = row.expires_ms;
	/* a damaged row grants nothing and is let through nowhere */
	if (!roles_from_json(a.roles, p) ||
	    !authn_app_networks(a.networks, p->networks, &p->nnetworks)) {
		log_error("authn: app %s has a damaged role or network list", a.id);
		store_app_clear(&a);
		return PV_E_INTEGRITY;
	}
	store_app_clear(&a);
	*out = p;
	return PV_OK;
}
