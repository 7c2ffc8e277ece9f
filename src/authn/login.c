/*
 * login.c: the authentication flows as operations apart from HTTP
 * (authn.h "Operations"): authn_login (password step), authn_mfa_verify
 * (second step), authn_password_change, authn_mfa_enroll /
 * authn_mfa_confirm, authn_step_up (RFC 9470 re-verification of a live
 * session), authn_session_describe and authn_logout. The
 * /v1/auth routes (routes_auth.c, API.md "Authentication") are adapters
 * over them: parse the body, call, reply (with Retry-After when
 * ar->retry_after_s is set). Each operation takes the caller's source
 * address (and, once authenticated, its principal), runs its throttle and
 * lockout steps, audits itself and answers *out (JSON, the caller's) or an
 * rc with ar->message (never a password or a typed username).
 *
 * Login order (docs/internals/authn.md): reserve a source throttle slot ->
 * reserve an account lockout slot (a writer job: check and count in one step)
 * -> verify (a real Argon2id verify against a dummy hash for an unknown name)
 * -> one-time password check -> the outcome through the writer with its audit
 * entry (a success resets the counter and gives the throttle slot back).
 * Reserving before verifying is what keeps concurrent attempts within the
 * limits (issue 8 item 2).
 * An unknown username, a wrong password and a disabled account all answer
 * the same 401 "invalid username or password"; the audit entry says which.
 * Only login/MFA failures of anonymous callers are audited (plus lockouts):
 * requests without a token elsewhere are answered 401 without an entry, so
 * scanners cannot flood the trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

#define INVALID_LOGIN "Invalid username or password"
#define MFA_KIND "mfa"
#define PW_KIND "password"

static enum pv_rc
fail(struct authn_result *ar, enum pv_rc rc, const char *msg)
{
	util_strlcpy(ar->message, msg != NULL ? msg : "", sizeof(ar->message));
	return rc;
}

/* The answer of a successful operation; PV_E_NOMEM if it could not be made. */
static enum pv_rc
reply(json_t **out, json_t *o)
{
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

static enum pv_rc
locked_reply(struct authn_result *ar, int retry)
{
	ar->retry_after_s = retry > 0 ? retry : 1;
	return fail(ar, PV_E_LOCKED,
	    "Too many failed attempts: this account is temporarily locked");
}

static enum pv_rc
rate_reply(struct authn_result *ar, int retry)
{
	ar->retry_after_s = retry > 0 ? retry : 1;
	return fail(ar, PV_E_RATE, "Too many failed attempts from this address");
}

/* ------------------------------------------------------------------ */
/* POST /v1/auth/login                                                 */
/* ------------------------------------------------------------------ */

struct login_job {
	struct authn_service *s;
	const char *key;
	const char *user_id;
	const char *rehash;                  /* new Argon2id string or NULL */
	bool consume_otp;                    /* the password is one-time: use it up */
	int64_t now_ms;
	const struct store_session *session; /* or NULL */
	const struct store_mfa_pending *pending;
};

static enum pv_rc
login_fn(struct store_tx *tx, void *arg)
{
	struct login_job *j = arg;
	struct store_lockout zero = { 0, 0, 0 };
	struct store_lockout cur;
	enum pv_rc rc;

	if ((rc = store_lockout_get(tx, j->key, PW_KIND, &cur)) != PV_OK)
		return rc;
	if ((cur.failures != 0 || cur.locked_until_ms != 0) &&
	    (rc = store_lockout_put(tx, j->key, PW_KIND, &zero)) != PV_OK)
		return rc;
	if (j->rehash != NULL || j->consume_otp) {
		struct store_user u;

		if ((rc = store_user_get(tx, j->user_id, &u)) != PV_OK)
			return rc;
		/* re-checked on the writer: two logins with one one-time
		 * password cannot both pass */
		if (j->consume_otp && (!u.password_one_time || u.otp_used_ms != 0)) {
			store_user_clear(&u);
			return PV_E_STATE;
		}
		if (j->consume_otp)
			u.otp_used_ms = j->now_ms > 0 ? j->now_ms : 1;
		if (j->rehash != NULL)
			util_strlcpy(u.password_hash, j->rehash, sizeof(u.password_hash));
		rc = store_user_update(tx, &u);
		store_user_clear(&u);
		if (rc != PV_OK)
			return rc;
	}
	if (j->session != NULL && (rc = store_session_put(tx, j->session)) != PV_OK)
		return rc;
	if (j->pending != NULL && (rc = store_mfa_pending_put(tx, j->pending)) != PV_OK)
		return rc;
	return PV_OK;
}

static enum pv_rc
otp_refused(struct authn_result *ar, enum pv_rc why)
{
	return fail(ar, PV_E_UNAUTH, why == PV_E_EXPIRED ?
	    "This one-time password has expired: ask an administrator for a new one (reset)" :
	    "This one-time password was already used: log in with the password you set, "
	    "or ask an administrator for a new one (reset)");
}

/*
 * authn_op_refuse; when this failure locked the account (locked_now) the
 * auth.lockout entry follows the refusal and the answer waits for both
 * (authn_op_refuse_locked). user_id, source and resource live in the op or
 * its request until the answer.
 */
static enum pv_rc
refuse_locking(struct authn_op *op, const struct audit_event *ev, enum pv_rc rc, bool locked_now,
    const char *user_id, const char *source, const char *resource, const char *kind)
{
	if (!locked_now)
		return authn_op_refuse(op, ev, rc);
	return authn_op_refuse_locked(op, ev, rc, user_id, source, resource, kind);
}

/* 429 before anything else: recorded (reason rate_limited), without the
 * typed username (it may be anything, a password included); answered once
 * the entry is durable. */
static enum pv_rc
rate_limited_op(struct authn_op *op, const char *source, const char *action,
    const struct authn_principal *p, const char *resource, int retry)
{
	struct audit_event ev;

	authn_ev_init(&ev, p, source, action, resource);
	ev.outcome = AUDIT_DENIED;
	ev.reason = "rate_limited";
	return authn_op_refuse(op, &ev, rate_reply(&op->ar, retry));
}

/*
 * authn_login in steps (pending.c):
 *   start (request thread): throttle slot, the user, submit the lockout
 *     reservation;
 *   reserved (worker): the Argon2id verify, the one-time password check;
 *     a refusal is recorded (refuse), a success submits the outcome;
 *   committed (committer): the session or MFA challenge reply.
 */
struct login_op {
	struct authn_op op;
	const char *source, *password;
	char key[STORE_USERNAME_MAX], src[AUTHN_SOURCE_MAX], res[128], detail[160];
	char rehash[crypto_pwhash_STRBYTES];
	char mtok[AUTHN_TOKEN_MAX];
	struct store_user u;
	bool found, passkey, challenge;
	int64_t now;
	struct authn_reserve_job rj;
	struct login_job j;
	struct authn_new_session ns;
	struct store_mfa_pending pend;
};

static void
login_release(struct authn_op *op)
{
	struct login_op *o = (struct login_op *)op;

	store_user_clear(&o->u);
}

static void
login_committed(struct authn_op *op, enum pv_rc rc)
{
	struct login_op *o = (struct login_op *)op;

	if (rc == PV_E_STATE)   /* a concurrent login used the one-time password first */
		rc = otp_refused(&op->ar, PV_E_STATE);
	if (rc == PV_OK && o->challenge)
		rc = authn_op_reply(op, json_pack("{s:b, s:s, s:i, s:[s*s*]}", "mfa_required", 1,
		    "mfa_token", o->mtok, "mfa_expires_in_s", AUTHN_MFA_PENDING_MS / 1000,
		    "mfa_methods", o->u.mfa_enabled ? "totp" : NULL,
		    o->passkey ? "webauthn" : NULL));
	else if (rc == PV_OK)
		rc = authn_op_reply(op, authn_session_reply(op->s, &o->ns));
	authn_op_finish(op, rc);
}

static enum pv_rc
login_verify(struct login_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->op.s;
	const struct pv_config *cfg = s->cfg;
	struct store_user *u = &o->u;
	struct audit_event ev;
	enum authn_login_next next;
	unsigned flags = 0;
	bool ok, locked_now = false;
	int retry = 0;
	enum pv_rc vrc, orc = PV_OK;

	rc = authn_lockout_reserved(&o->rj, rc, &retry, &locked_now);
	if (rc == PV_E_LOCKED) {
		authn_ev_init(&ev, NULL, o->source, "auth.login", "auth");
		ev.outcome = AUDIT_DENIED;
		ev.reason = "locked";
		ev.detail = o->detail;
		return authn_op_refuse(&o->op, &ev, locked_reply(&o->op.ar, retry));
	}
	if (rc != PV_OK)
		return rc;
	if (o->found)
		vrc = authn_password_verify(u->password_hash, o->password);
	else
		vrc = authn_password_verify_dummy(o->password, cfg->argon2_opslimit,
		    cfg->argon2_memlimit);
	ok = o->found && vrc == PV_OK && !u->disabled;
	if (ok)
		orc = authn_otp_check(u, o->now, cfg->one_time_password_ttl_s);
	if (!ok || orc != PV_OK) {
		authn_ev_init(&ev, NULL, o->source, "auth.login", "auth");
		if (o->found) {
			ev.actor.user_id = u->id;
			ev.resource = o->res;
		}
		ev.outcome = AUDIT_DENIED;
		ev.reason = !o->found ? "unknown_user" : vrc != PV_OK ? "bad_password" :
		    u->disabled ? "disabled" : orc == PV_E_EXPIRED ? "one_time_password_expired" :
		    "one_time_password_used";
		ev.detail = o->detail;
		return refuse_locking(&o->op, &ev, ok ? otp_refused(&o->op.ar, orc) :
		    fail(&o->op.ar, PV_E_UNAUTH, INVALID_LOGIN), locked_now,
		    o->found ? u->id : NULL, o->source, o->found ? o->res : "auth", PW_KIND);
	}

	/* [oidc] local_passwords = breakglass_only (oidc.c) */
	if ((rc = authn_local_password_allowed(s, u, &ok)) != PV_OK)
		return rc;
	if (!ok) {
		authn_ev_init(&ev, NULL, o->source, "auth.login", o->res);
		ev.actor.user_id = u->id;
		ev.outcome = AUDIT_DENIED;
		ev.reason = "local_password_disabled";
		ev.detail = o->detail;
		return authn_op_refuse(&o->op, &ev, fail(&o->op.ar, PV_E_LOCAL_PASSWORD,
		    "Password sign-in is turned off for this account: sign in with your "
		    "identity provider"));
	}
	/* correct password: the throttle slot was not a failure after all */
	authn_throttle_release(s->throttle, o->src, o->now);
	o->j.s = s;
	o->j.key = o->key;
	o->j.user_id = u->id;
	o->j.consume_otp = u->password_one_time;
	o->j.now_ms = o->now;
	if (authn_password_needs_rehash(u->password_hash, cfg->argon2_opslimit,
	    cfg->argon2_memlimit) &&
	    authn_password_hash(o->password, cfg->argon2_opslimit, cfg->argon2_memlimit,
	    o->rehash) == PV_OK)
		o->j.rehash = o->rehash;
	o->passkey = authn_webauthn_has(s, u->id);
	next = authn_login_decide(u->mfa_enabled || o->passkey, authn_mfa_required(s, u->id),
	    u->password_one_time, &flags);
	authn_ev_init(&ev, NULL, o->source, "auth.login", o->res);
	ev.actor.user_id = u->id;
	ev.detail = o->detail;
	if (next == AUTHN_LOGIN_MFA_CHALLENGE) {
		if ((rc = authn_token_new(AUTHN_TOKEN_MFA, o->mtok, o->pend.token_hash)) != PV_OK)
			return rc;
		util_strlcpy(o->pend.user_id, u->id, sizeof(o->pend.user_id));
		o->pend.expires_ms = o->now + AUTHN_MFA_PENDING_MS;
		o->pend.credential_epoch = u->credential_epoch;
		o->j.pending = &o->pend;
		o->challenge = true;
		ev.reason = "mfa_required";
	} else {
		if ((rc = authn_session_prepare(s, u, flags, false, o->source, o->now, &o->ns)) !=
		    PV_OK)
			return rc;
		o->j.session = &o->ns.row;
		ev.actor.session_id = o->ns.row.id;
		ev.reason = flags != 0 ? "restricted" : "password";
	}
	return authn_op_submit(&o->op, &ev, login_fn, &o->j, login_committed, false);
}

static void
login_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, login_verify((struct login_op *)op, rc));
}

static enum pv_rc
login_start(struct login_op *o, const char *username)
{
	struct authn_service *s = o->op.s;
	bool valid;
	int retry = 0;
	enum pv_rc rc;

	if (username == NULL || o->password == NULL)
		return fail(&o->op.ar, PV_E_INVALID, "username and password are required");
	authn_source_key(o->source, o->src);
	/* each attempt takes its throttle slot before anything is verified */
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited_op(&o->op, o->source, "auth.login", NULL, "auth", retry);
	valid = authn_username_key(username, o->key);
	if (valid) {
		STORE_READ(s->st, rc, store_user_get_by_username(tx, o->key, &o->u));
		if (rc == PV_OK)
			o->found = true;
		else if (rc != PV_E_NOTFOUND)
			return rc;
	}
	if ((rc = authn_login_key(s, o->key, valid, o->found, o->key)) != PV_OK)
		return rc;
	if (o->found)
		snprintf(o->detail, sizeof(o->detail), "{\"username\":\"%s\"}", o->u.username);
	else if (valid)
		snprintf(o->detail, sizeof(o->detail), "{\"username_hmac\":\"%s\"}",
		    o->key + strlen(AUTHN_KEY_HASHED));
	else
		snprintf(o->detail, sizeof(o->detail), "{\"username\":\"(invalid)\"}");
	if (o->found)
		snprintf(o->res, sizeof(o->res), "users/%s", o->u.id);
	/* ... and its lockout slot: N concurrent attempts verify at most
	 * lockout_threshold passwords; the verify runs on a worker */
	o->rj.s = s;
	o->rj.key = o->key;
	o->rj.kind = PW_KIND;
	return authn_op_submit(&o->op, NULL, authn_lockout_reserve_fn, &o->rj, login_reserved,
	    true);
}

void
authn_login_async(struct authn_service *s, const char *source, const char *username,
    const char *password, authn_done_fn done, void *arg)
{
	struct login_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = login_release;
	o->source = source;
	o->password = password;
	o->now = util_now_ms();
	authn_op_run(&o->op, login_start(o, username));
}

enum pv_rc
authn_login(struct authn_service *s, const char *source, const char *username,
    const char *password, json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_login_async(s, source, username, password, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ------------------------------------------------------------------ */
/* POST /v1/auth/mfa                                                   */
/* ------------------------------------------------------------------ */

static bool
is_totp_shape(const char *code)
{
	size_t i;

	for (i = 0; code[i] != '\0'; i++)
		if (code[i] < '0' || code[i] > '9')
			return false;
	return i == AUTHN_TOTP_DIGITS;
}

struct recovery_list {
	char (*h)[AUTHN_HASH_HEX_MAX];
	size_t n, cap;
};

static int
on_recovery(const char *hash, void *arg)
{
	struct recovery_list *l = arg;

	if (l->n < l->cap && strlen(hash) == AUTHN_HASH_HEX_MAX - 1)
		memcpy(l->h[l->n++], hash, AUTHN_HASH_HEX_MAX);
	return 0;
}

/* Match input against the user's unused recovery codes (constant time over
 * the list). PV_OK with the stored hash in out. */
static enum pv_rc
recovery_match(struct authn_service *s, const char *user_id, const char *input,
    char out[AUTHN_HASH_HEX_MAX], size_t *left)
{
	char codes[32][AUTHN_HASH_HEX_MAX];
	struct recovery_list l = { codes, 0, 32 };
	char sha[AUTHN_HASH_HEX_MAX], mac[AUTHN_HASH_HEX_MAX];
	uint32_t version = 0;
	size_t i, found = 0;
	bool any = false;
	enum pv_rc rc;

	if (authn_recovery_hash(input, sha) != PV_OK)
		return PV_E_UNAUTH;
	/* the codes' own MAC key version, not the active one: a rotation of
	 * KEK identity leaves codes made before it usable */
	STORE_READ(s->st, rc, store_recovery_version(tx, user_id, &version));
	if (rc == PV_E_NOTFOUND)
		return PV_E_UNAUTH;          /* none left */
	if (rc != PV_OK)
		return rc;
	rc = authn_recovery_mac(s, sha, version, mac, NULL);
	if (rc == PV_E_FORBIDDEN)
		return PV_E_UNAUTH;          /* their version was revoked: they are dead */
	if (rc != PV_OK)
		return rc;
	STORE_READ(s->st, rc, store_recovery_unused(tx, user_id, on_recovery, &l));
	if (rc != PV_OK)
		return rc;
	for (i = 0; i < l.n; i++) {
		if (crypto_memeq(mac, codes[i], AUTHN_HASH_HEX_MAX - 1) && !any) {
			found = i;
			any = true;
		}
	}
	if (!any)
		return PV_E_UNAUTH;
	memcpy(out, codes[found], AUTHN_HASH_HEX_MAX);
	*left = l.n - 1;
	return PV_OK;
}

/*
 * Completing an MFA step (TOTP, recovery code, passkey): one transaction on
 * the writer consumes the factor (the TOTP step moves forward, the recovery
 * code is marked used, the passkey's counter moves forward), deletes the
 * pending login, resets the account's MFA lockout counter and stores the
 * session with its method, so two requests with one factor cannot both
 * pass. authn_mfa_complete is the one way both second steps (authn_mfa_verify
 * and authn_webauthn_login_finish) make their session.
 */
static enum pv_rc
mfa_fn(struct store_tx *tx, void *arg)
{
	struct authn_mfa_finish *j = arg;
	struct store_lockout zero = { 0, 0, 0 };
	struct store_user u;
	enum pv_rc rc;

	if (j->cred_id != NULL) {
		/* the counter moves forward once: a concurrent use of one assertion loses */
		rc = store_webauthn_cred_use(tx, j->cred_id, j->count, j->now_ms);
		if (rc != PV_OK)
			return rc == PV_E_NOTFOUND ? PV_E_WEBAUTHN : rc;
	} else if (j->step >= 0) {
		if ((rc = store_user_get(tx, j->user_id, &u)) != PV_OK)
			return rc;
		if (u.mfa_last_step >= j->step) {
			store_user_clear(&u);
			return PV_E_UNAUTH;   /* replayed concurrently */
		}
		u.mfa_last_step = j->step;
		rc = store_user_update(tx, &u);
		store_user_clear(&u);
		if (rc != PV_OK)
			return rc;
	} else {
		rc = store_recovery_use(tx, j->user_id, j->recovery_hash, j->now_ms);
		if (rc == PV_E_NOTFOUND)
			return PV_E_UNAUTH;
		if (rc != PV_OK)
			return rc;
	}
	rc = store_mfa_pending_delete(tx, j->pending_hash, j->now_ms);
	if (rc != PV_OK)
		return rc == PV_E_NOTFOUND ? PV_E_UNAUTH : rc;
	if ((rc = store_lockout_put(tx, j->mfa_key, MFA_KIND, &zero)) != PV_OK)
		return rc;
	if ((rc = store_session_put(tx, &j->ns.row)) != PV_OK)
		return rc;
	return store_session_set_mfa_method(tx, j->ns.row.id, j->method);
}

/* On the committer: the session reply, or the loser's refusal. */
static void
mfa_committed(struct authn_op *op, enum pv_rc rc)
{
	struct authn_mfa_finish *f = &((struct authn_mfa_op *)op)->f;

	if (rc == PV_E_UNAUTH)
		rc = fail(&op->ar, PV_E_UNAUTH, f->msg_unauth != NULL ? f->msg_unauth :
		    "Invalid code (already used)");
	else if (rc == PV_E_WEBAUTHN)
		rc = fail(&op->ar, PV_E_WEBAUTHN, f->msg_webauthn);
	else if (rc == PV_OK)
		rc = authn_op_reply(op, authn_session_reply(op->s, &f->ns));
	authn_op_finish(op, rc);
}

enum pv_rc
authn_mfa_complete(struct authn_mfa_op *m, const struct store_user *u, const char *source,
    const char *src, struct audit_event *ev)
{
	struct authn_service *s = m->op.s;
	struct authn_mfa_finish *f = &m->f;
	unsigned flags = u->password_one_time ? AUTHN_RESTRICT_PASSWORD_CHANGE : 0;
	enum pv_rc rc;

	/* the factor passed: the throttle slot was not a failure after all */
	authn_throttle_release(s->throttle, src, f->now_ms);
	if ((rc = authn_session_prepare(s, u, flags, true, source, f->now_ms, &f->ns)) != PV_OK)
		return rc;
	f->user_id = u->id;
	f->mfa_key = u->username;
	ev->actor.user_id = u->id;
	ev->actor.session_id = f->ns.row.id;
	ev->outcome = AUDIT_ALLOWED;
	return authn_op_submit(&m->op, ev, mfa_fn, f, mfa_committed, false);
}

/* On the writer, in one step: take one of the pending login's
 * AUTHN_MFA_PENDING_ATTEMPTS tries and one slot of the account's MFA lockout
 * counter, BEFORE the code is checked, so concurrent wrong codes on one
 * mfa_token are checked at most AUTHN_MFA_PENDING_ATTEMPTS times.
 * PV_E_NOTFOUND: the pending login is gone; PV_E_TOOBIG: its tries are used
 * up (it is deleted); PV_E_LOCKED: the account's MFA is locked. */
enum pv_rc
authn_mfa_reserve_fn(struct store_tx *tx, void *arg)
{
	struct authn_mfa_reserve_job *j = arg;
	const struct pv_config *cfg = j->s->cfg;
	struct store_mfa_pending p;
	struct store_lockout sl;
	struct authn_lockout l;
	enum pv_rc rc;

	if ((rc = store_mfa_pending_get(tx, j->pending_hash, &p)) != PV_OK)
		return rc;
	if (p.expires_ms <= j->now_ms)
		return PV_E_NOTFOUND;
	if (p.attempts >= AUTHN_MFA_PENDING_ATTEMPTS) {
		rc = store_mfa_pending_delete(tx, j->pending_hash, j->now_ms);
		return rc == PV_OK || rc == PV_E_NOTFOUND ? PV_E_TOOBIG : rc;
	}
	if ((rc = store_lockout_get(tx, j->mfa_key, MFA_KIND, &sl)) != PV_OK)
		return rc;
	l.failures = sl.failures;
	l.window_start_ms = sl.window_start_ms;
	l.locked_until_ms = sl.locked_until_ms;
	if ((rc = authn_lockout_check(&l, j->now_ms, &j->retry_after_s)) != PV_OK)
		return rc;
	j->locked_now = authn_lockout_fail(&l, j->now_ms, cfg->lockout_threshold,
	    cfg->lockout_window_s, cfg->lockout_duration_s);
	sl.failures = l.failures;
	sl.window_start_ms = l.window_start_ms;
	sl.locked_until_ms = l.locked_until_ms;
	if ((rc = store_lockout_put(tx, j->mfa_key, MFA_KIND, &sl)) != PV_OK)
		return rc;
	return store_mfa_pending_attempt(tx, j->pending_hash);
}

/*
 * authn_mfa_verify in steps (pending.c):
 *   start (request thread): throttle slot, the pending login and its user,
 *     submit the attempt's reservation (authn_mfa_reserve_fn);
 *   reserved (worker): check the code; a refusal is recorded, a success
 *     completes the step (authn_mfa_complete: mfa_fn with the new session);
 *   committed (committer): the session reply (mfa_committed).
 */
struct mfa_op {
	struct authn_mfa_op m;               /* first: authn_mfa_complete's */
	const char *source, *code;
	char src[AUTHN_SOURCE_MAX], phash[AUTHN_HASH_HEX_MAX], res[128];
	char rhash[AUTHN_HASH_HEX_MAX], detail[96];
	struct store_mfa_pending pend;
	struct store_user u;
	int64_t now;
	bool totp;
	struct authn_mfa_reserve_job rj;
};

static void
mfa_release(struct authn_op *op)
{
	store_user_clear(&((struct mfa_op *)op)->u);
}

/* The auth.mfa entry as far as the user is known. */
static void
mfa_ev(struct mfa_op *o, struct audit_event *ev)
{
	authn_ev_init(ev, NULL, o->source, "auth.mfa", "auth");
	ev->outcome = AUDIT_DENIED;
	if (o->u.id[0] != '\0') {
		ev->actor.user_id = o->u.id;
		ev->resource = o->res;
	}
}

static enum pv_rc
mfa_check(struct mfa_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->m.op.s;
	struct authn_result *ar = &o->m.op.ar;
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	struct audit_event ev;
	int64_t step = -1;
	size_t left = 0;
	enum pv_rc vrc;

	mfa_ev(o, &ev);
	if (rc == PV_E_LOCKED) {
		ev.reason = "locked";
		return authn_op_refuse(&o->m.op, &ev, locked_reply(ar, o->rj.retry_after_s));
	}
	if (rc == PV_E_TOOBIG) {
		ev.reason = "too_many_attempts";
		return authn_op_refuse(&o->m.op, &ev, fail(ar, PV_E_UNAUTH,
		    "Too many wrong codes for this login: log in again with the password"));
	}
	if (rc == PV_E_NOTFOUND) {
		ev.reason = "invalid_mfa_token";
		return authn_op_refuse(&o->m.op, &ev, fail(ar, PV_E_UNAUTH,
		    "Invalid or expired MFA token: log in again with the password"));
	}
	if (rc != PV_OK)
		return rc;
	o->totp = is_totp_shape(o->code);
	if (o->totp) {
		if ((rc = authn_mfa_open(s, &o->u, secret)) != PV_OK)
			return rc;
		vrc = authn_totp_verify(secret, sizeof(secret), o->code, o->now / 1000,
		    o->u.mfa_last_step, &step);
		crypto_wipe(secret, sizeof(secret));
	} else {
		vrc = recovery_match(s, o->u.id, o->code, o->rhash, &left);
		if (vrc != PV_OK && vrc != PV_E_UNAUTH)
			return vrc;
	}
	if (vrc != PV_OK) {
		ev.reason = o->totp ? "bad_totp" : "bad_recovery_code";
		return refuse_locking(&o->m.op, &ev, fail(ar, PV_E_UNAUTH, "Invalid code"),
		    o->rj.locked_now, o->u.id, o->source, o->res, MFA_KIND);
	}
	o->m.f.pending_hash = o->phash;
	o->m.f.step = o->totp ? step : -1;
	o->m.f.recovery_hash = o->totp ? NULL : o->rhash;
	o->m.f.method = o->totp ? "totp" : "recovery";
	o->m.f.now_ms = o->now;
	ev.reason = o->totp ? "totp" : "recovery_code";
	if (!o->totp) {
		snprintf(o->detail, sizeof(o->detail), "{\"recovery_codes_left\":%zu}", left);
		ev.detail = o->detail;
	}
	return authn_mfa_complete(&o->m, &o->u, o->source, o->src, &ev);
}

static void
mfa_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, mfa_check((struct mfa_op *)op, rc));
}

static enum pv_rc
mfa_start(struct mfa_op *o, const char *mtok)
{
	struct authn_service *s = o->m.op.s;
	struct authn_result *ar = &o->m.op.ar;
	struct audit_event ev;
	int retry = 0;
	enum pv_rc rc;

	if (mtok == NULL || o->code == NULL)
		return fail(ar, PV_E_INVALID, "mfa_token and code are required");
	authn_source_key(o->source, o->src);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited_op(&o->m.op, o->source, "auth.mfa", NULL, "auth", retry);
	mfa_ev(o, &ev);
	rc = authn_token_hash(AUTHN_TOKEN_MFA, mtok, o->phash);
	if (rc == PV_OK)
		STORE_READ(s->st, rc, store_mfa_pending_get(tx, o->phash, &o->pend));
	else
		rc = PV_E_NOTFOUND;
	if (rc == PV_E_NOTFOUND || (rc == PV_OK && o->pend.expires_ms <= o->now)) {
		ev.reason = "invalid_mfa_token";
		return authn_op_refuse(&o->m.op, &ev, fail(ar, PV_E_UNAUTH,
		    "Invalid or expired MFA token: log in again with the password"));
	}
	if (rc != PV_OK)
		return rc;
	STORE_READ(s->st, rc, store_user_get(tx, o->pend.user_id, &o->u));
	if (rc != PV_OK) {
		memset(&o->u, 0, sizeof(o->u));
		return rc == PV_E_NOTFOUND ? fail(ar, PV_E_UNAUTH, INVALID_LOGIN) : rc;
	}
	snprintf(o->res, sizeof(o->res), "users/%s", o->u.id);
	mfa_ev(o, &ev);
	if (o->u.disabled || !o->u.mfa_enabled || o->u.credential_epoch != o->pend.credential_epoch) {
		ev.reason = o->u.disabled ? "disabled" : !o->u.mfa_enabled ? "mfa_not_enrolled"
		    : "credentials_changed";
		return authn_op_refuse(&o->m.op, &ev, fail(ar, PV_E_UNAUTH, INVALID_LOGIN));
	}
	o->rj.s = s;
	o->rj.pending_hash = o->phash;
	o->rj.mfa_key = o->u.username;
	o->rj.now_ms = o->now;
	return authn_op_submit(&o->m.op, NULL, authn_mfa_reserve_fn, &o->rj, mfa_reserved, true);
}

void
authn_mfa_verify_async(struct authn_service *s, const char *source, const char *mtok,
    const char *code, authn_done_fn done, void *arg)
{
	struct mfa_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->m.op.release = mfa_release;
	o->source = source;
	o->code = code;
	o->now = util_now_ms();
	authn_op_run(&o->m.op, mfa_start(o, mtok));
}

enum pv_rc
authn_mfa_verify(struct authn_service *s, const char *source, const char *mtok,
    const char *code, json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_mfa_verify_async(s, source, mtok, code, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ------------------------------------------------------------------ */
/* POST /v1/auth/password                                              */
/* ------------------------------------------------------------------ */

struct password_job {
	const struct authn_principal *p;
	const char *hash;
	unsigned new_flags;
	int64_t now_ms;
	int64_t new_epoch;                   /* out */
	size_t ended;                        /* out */
};

static enum pv_rc
password_fn(struct store_tx *tx, void *arg)
{
	struct password_job *j = arg;
	struct store_lockout zero = { 0, 0, 0 };
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->p->user_id, &u)) != PV_OK)
		return rc;
	util_strlcpy(u.password_hash, j->hash, sizeof(u.password_hash));
	u.password_one_time = false;
	u.credential_epoch++;
	u.updated_ms = j->now_ms;
	j->new_epoch = u.credential_epoch;
	rc = store_user_update(tx, &u);
	if (rc == PV_OK)
		rc = store_lockout_put(tx, u.username, PW_KIND, &zero);
	store_user_clear(&u);
	if (rc != PV_OK)
		return rc;
	/* this session moves to the new epoch; every other one ends */
	if ((rc = store_session_set_state(tx, j->p->session_id, j->new_flags, j->p->mfa_verified,
	    j->new_epoch)) != PV_OK)
		return rc;
	return store_session_end_all_for_user(tx, j->p->user_id, j->p->session_id, j->now_ms,
	    authn_session_end_name(AUTHN_END_PASSWORD), &j->ended);
}

/*
 * authn_password_change in steps (pending.c):
 *   start (request thread): throttle slot, the user, submit the lockout
 *     reservation (the current password is a credential);
 *   reserved (worker): verify the current password, the policy, hash the
 *     new one; submit password_fn;
 *   committed (committer): the session cache, the reply.
 */
struct password_op {
	struct authn_op op;
	const struct authn_principal *p;
	const char *source, *cur, *npw;
	char src[AUTHN_SOURCE_MAX], res[128];
	char hash[crypto_pwhash_STRBYTES];
	struct store_user u;
	int64_t now;
	struct authn_reserve_job rj;
	struct password_job j;
};

static void
password_release(struct authn_op *op)
{
	store_user_clear(&((struct password_op *)op)->u);
}

static void
password_committed(struct authn_op *op, enum pv_rc rc)
{
	struct password_op *o = (struct password_op *)op;
	const struct authn_principal *p = o->p;
	json_t *ob;

	if (rc == PV_OK) {
		authn_cache_forget_user(op->s, p->user_id, p->session_id);
		authn_cache_set_state(op->s, p->session_id, o->j.new_flags, p->mfa_verified,
		    o->j.new_epoch);
		ob = json_pack("{s:b, s:o, s:i}", "restricted", o->j.new_flags != 0,
		    "required_actions", json_array(), "other_sessions_ended", (int)o->j.ended);
		if (ob != NULL && (o->j.new_flags & AUTHN_RESTRICT_MFA_ENROL))
			json_array_append_new(json_object_get(ob, "required_actions"),
			    json_string("enrol_mfa"));
		rc = authn_op_reply(op, ob);
	}
	authn_op_finish(op, rc);
}

static enum pv_rc
password_check(struct password_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	const struct authn_principal *p = o->p;
	struct audit_event ev;
	char why[160];
	bool locked_now = false;
	int retry = 0;

	authn_ev_init(&ev, p, o->source, "auth.password", o->res);
	rc = authn_lockout_reserved(&o->rj, rc, &retry, &locked_now);
	if (rc == PV_E_LOCKED)
		return locked_reply(ar, retry);
	if (rc != PV_OK)
		return rc;
	if (authn_password_verify(o->u.password_hash, o->cur) != PV_OK) {
		ev.outcome = AUDIT_DENIED;
		ev.reason = "bad_password";
		return refuse_locking(&o->op, &ev,
		    fail(ar, PV_E_FORBIDDEN, "The current password is not correct"), locked_now,
		    o->u.id, o->source, o->res, PW_KIND);
	}
	authn_throttle_release(s->throttle, o->src, o->now);
	if (strcmp(o->cur, o->npw) == 0)
		return fail(ar, PV_E_INVALID, "new_password must differ from the current one");
	if (authn_password_check_policy(o->npw, s->cfg->password_min_length, o->u.username,
	    o->u.email[0] ? o->u.email : NULL, why, sizeof(why)) != PV_OK) {
		ev.outcome = AUDIT_DENIED;
		ev.reason = "policy";
		/* why never quotes the password; it is the policy's own text */
		snprintf(ar->message, sizeof(ar->message), "new_password refused: %s", why);
		return authn_op_refuse(&o->op, &ev, PV_E_INVALID);
	}
	if ((rc = authn_password_hash(o->npw, s->cfg->argon2_opslimit, s->cfg->argon2_memlimit,
	    o->hash)) != PV_OK)
		return rc;
	o->j.p = p;
	o->j.hash = o->hash;
	o->j.new_flags = p->restrict_flags & ~AUTHN_RESTRICT_PASSWORD_CHANGE;
	o->j.now_ms = o->now;
	ev.reason = o->u.password_one_time ? "one_time_replaced" : "changed";
	return authn_op_submit(&o->op, &ev, password_fn, &o->j, password_committed, false);
}

static void
password_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, password_check((struct password_op *)op, rc));
}

static enum pv_rc
password_start(struct password_op *o)
{
	struct authn_service *s = o->op.s;
	const struct authn_principal *p = o->p;
	int retry = 0;
	enum pv_rc rc;

	if (p == NULL)
		return PV_E_UNAUTH;
	if (o->cur == NULL || o->npw == NULL)
		return fail(&o->op.ar, PV_E_INVALID,
		    "current_password and new_password are required");
	authn_source_key(o->source, o->src);
	snprintf(o->res, sizeof(o->res), "users/%s", p->user_id);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited_op(&o->op, o->source, "auth.password", p, o->res, retry);
	STORE_READ(s->st, rc, store_user_get(tx, p->user_id, &o->u));
	if (rc != PV_OK) {
		memset(&o->u, 0, sizeof(o->u));
		return rc;
	}
	o->rj.s = s;
	o->rj.key = o->u.username;
	o->rj.kind = PW_KIND;
	return authn_op_submit(&o->op, NULL, authn_lockout_reserve_fn, &o->rj, password_reserved,
	    true);
}

void
authn_password_change_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *cur, const char *npw, authn_done_fn done, void *arg)
{
	struct password_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = password_release;
	o->p = p;
	o->source = source;
	o->cur = cur;
	o->npw = npw;
	o->now = util_now_ms();
	authn_op_run(&o->op, password_start(o));
}

enum pv_rc
authn_password_change(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *cur, const char *npw, json_t **out,
    struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_password_change_async(s, p, source, cur, npw, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ------------------------------------------------------------------ */
/* re-entering the password (break-glass)                              */
/* ------------------------------------------------------------------ */

static enum pv_rc
reconfirm_reset_fn(struct store_tx *tx, void *arg)
{
	struct store_lockout zero = { 0, 0, 0 };

	return store_lockout_put(tx, (const char *)arg, PW_KIND, &zero);
}

/*
 * authn_password_reconfirm in steps (pending.c):
 *   start (request thread): throttle slot, the user, submit the password
 *     lockout reservation;
 *   reserved (worker): the Argon2id verify; a wrong password is recorded
 *     (with auth.lockout when it locks), a right one submits the reset;
 *   reset (committer): the answer (no body).
 */
struct reconfirm_op {
	struct authn_op op;
	const struct authn_principal *p;
	const char *source, *password, *action, *resource;
	char src[AUTHN_SOURCE_MAX];
	struct store_user u;
	int64_t now;
	struct authn_reserve_job rj;
};

static void
reconfirm_release(struct authn_op *op)
{
	store_user_clear(&((struct reconfirm_op *)op)->u);
}

static void
reconfirm_reset(struct authn_op *op, enum pv_rc rc)
{
	authn_op_finish(op, rc);
}

static enum pv_rc
reconfirm_verify(struct reconfirm_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	struct audit_event ev;
	bool locked_now = false;
	int retry = 0;

	rc = authn_lockout_reserved(&o->rj, rc, &retry, &locked_now);
	if (rc == PV_E_LOCKED)
		return locked_reply(ar, retry);
	if (rc != PV_OK)
		return rc;
	if (authn_password_verify(o->u.password_hash, o->password) != PV_OK) {
		authn_ev_init(&ev, o->p, o->source, o->action, o->resource);
		ev.outcome = AUDIT_DENIED;
		ev.reason = "bad_password";
		return refuse_locking(&o->op, &ev, fail(ar, PV_E_UNAUTH, "The password is not correct"),
		    locked_now, o->u.id, o->source, o->resource, PW_KIND);
	}
	authn_throttle_release(s->throttle, o->src, o->now);
	return authn_op_submit(&o->op, NULL, reconfirm_reset_fn, o->u.username, reconfirm_reset,
	    false);
}

static void
reconfirm_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, reconfirm_verify((struct reconfirm_op *)op, rc));
}

static enum pv_rc
reconfirm_start(struct reconfirm_op *o)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	int retry = 0;
	enum pv_rc rc;

	if (o->p == NULL)
		return PV_E_UNAUTH;
	if (o->p->app)
		return fail(ar, PV_E_FORBIDDEN, "Apps have no password to re-enter");
	if (o->password == NULL || o->password[0] == '\0')
		return fail(ar, PV_E_INVALID, "password is required");
	authn_source_key(o->source, o->src);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited_op(&o->op, o->source, o->action, o->p, o->resource, retry);
	STORE_READ(s->st, rc, store_user_get(tx, o->p->user_id, &o->u));
	if (rc != PV_OK) {
		memset(&o->u, 0, sizeof(o->u));
		return rc;
	}
	o->rj.s = s;
	o->rj.key = o->u.username;
	o->rj.kind = PW_KIND;
	return authn_op_submit(&o->op, NULL, authn_lockout_reserve_fn, &o->rj, reconfirm_reserved,
	    true);
}

void
authn_password_reconfirm_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *password, const char *action, const char *resource,
    authn_done_fn done, void *arg)
{
	struct reconfirm_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = reconfirm_release;
	o->op.no_body = true;
	o->p = p;
	o->source = source;
	o->password = password;
	o->action = action;
	o->resource = resource;
	o->now = util_now_ms();
	authn_op_run(&o->op, reconfirm_start(o));
}

enum pv_rc
authn_password_reconfirm(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *password, const char *action, const char *resource,
    struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_password_reconfirm_async(s, p, source, password, action, resource, authn_wait_done,
	    &w);
	return authn_wait_end(&w, NULL, ar);
}

/* ------------------------------------------------------------------ */
/* MFA enrolment                                                       */
/* ------------------------------------------------------------------ */

struct enroll_job {
	const char *user_id;
	struct store_user *sealed;           /* mfa_secret / mfa_env to store */
	int64_t now_ms;
};

static enum pv_rc
enroll_fn(struct store_tx *tx, void *arg)
{
	struct enroll_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->user_id, &u)) != PV_OK)
		return rc;
	if (u.mfa_enabled) {
		store_user_clear(&u);
		return PV_E_CONFLICT;
	}
	free(u.mfa_secret);
	free(u.mfa_env);
	u.mfa_secret = j->sealed->mfa_secret;
	u.mfa_secret_len = j->sealed->mfa_secret_len;
	u.mfa_env = j->sealed->mfa_env;
	u.mfa_env_len = j->sealed->mfa_env_len;
	u.mfa_last_step = -1;
	u.updated_ms = j->now_ms;
	rc = store_user_update(tx, &u);
	/* the buffers belong to j->sealed */
	u.mfa_secret = NULL;
	u.mfa_env = NULL;
	store_user_clear(&u);
	return rc;
}

struct enroll_op {
	struct authn_op op;
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	char b32[AUTHN_TOTP_B32_MAX], uri[AUTHN_TOTP_URI_MAX];
	struct store_user sealed;
	struct enroll_job j;
};

static void
enroll_release(struct authn_op *op)
{
	struct enroll_op *o = (struct enroll_op *)op;

	free(o->sealed.mfa_secret);
	free(o->sealed.mfa_env);
}

static void
enroll_committed(struct authn_op *op, enum pv_rc rc)
{
	struct enroll_op *o = (struct enroll_op *)op;

	if (rc == PV_E_CONFLICT)
		rc = fail(&op->ar, PV_E_CONFLICT, "MFA is already enrolled for this user");
	else if (rc == PV_OK)
		rc = authn_op_reply(op, json_pack("{s:s, s:s}", "secret", o->b32, "otpauth_uri",
		    o->uri));
	authn_op_finish(op, rc);
}

static enum pv_rc
enroll_start(struct enroll_op *o, const struct authn_principal *p, const char *source)
{
	struct authn_service *s = o->op.s;
	struct audit_event ev;
	char res[128];
	enum pv_rc rc;

	if (p == NULL)
		return PV_E_UNAUTH;
	snprintf(res, sizeof(res), "users/%s", p->user_id);
	if ((rc = authn_totp_secret_new(o->secret, o->b32)) != PV_OK)
		return rc;
	/* the KEK was made at start-up (authn_kek_start), never here */
	if ((rc = authn_totp_uri(p->username, o->b32, o->uri, sizeof(o->uri))) != PV_OK ||
	    (rc = authn_mfa_seal(s, p->user_id, o->secret, &o->sealed)) != PV_OK)
		return rc == PV_E_NOTFOUND ? authn_kek_missing() : rc;
	authn_ev_init(&ev, p, source, "auth.mfa_enroll", res);
	ev.reason = "started";
	o->j.user_id = p->user_id;
	o->j.sealed = &o->sealed;
	o->j.now_ms = util_now_ms();
	return authn_op_submit(&o->op, &ev, enroll_fn, &o->j, enroll_committed, false);
}

void
authn_mfa_enroll_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, authn_done_fn done, void *arg)
{
	struct enroll_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = enroll_release;
	authn_op_run(&o->op, enroll_start(o, p, source));
}

enum pv_rc
authn_mfa_enroll(struct authn_service *s, const struct authn_principal *p, const char *source,
    json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_mfa_enroll_async(s, p, source, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

struct confirm_job {
	const struct authn_principal *p;
	int64_t step;
	const char *const *hashes;
	uint32_t mac_version;                /* of every hash */
	unsigned new_flags;
	int64_t now_ms;
	int64_t epoch;                       /* out */
};

static enum pv_rc
confirm_fn(struct store_tx *tx, void *arg)
{
	struct confirm_job *j = arg;
	struct store_lockout zero = { 0, 0, 0 };
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->p->user_id, &u)) != PV_OK)
		return rc;
	if (u.mfa_enabled || u.mfa_secret == NULL || u.mfa_last_step >= j->step) {
		store_user_clear(&u);
		return PV_E_CONFLICT;
	}
	u.mfa_enabled = true;
	u.mfa_last_step = j->step;
	u.updated_ms = j->now_ms;
	j->epoch = u.credential_epoch;
	rc = store_user_update(tx, &u);
	if (rc == PV_OK)
		rc = store_lockout_put(tx, u.username, MFA_KIND, &zero);
	store_user_clear(&u);
	if (rc != PV_OK ||
	    (rc = store_recovery_set(tx, j->p->user_id, j->hashes, AUTHN_RECOVERY_COUNT,
	    j->mac_version)) != PV_OK)
		return rc;
	return store_session_set_state(tx, j->p->session_id, j->new_flags, true, j->epoch);
}

/*
 * authn_mfa_confirm in steps: start (request thread: throttle, user, the
 * conflict refusal, submit the MFA lockout reservation) -> check (worker:
 * the code, ten recovery codes, submit confirm_fn) -> committed
 * (committer: session cache, reply).
 */
struct confirm_op {
	struct authn_op op;
	const struct authn_principal *p;
	const char *source, *code;
	char codes[AUTHN_RECOVERY_COUNT][AUTHN_RECOVERY_DISPLAY_MAX];
	char mac[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX];
	const char *macs[AUTHN_RECOVERY_COUNT];
	char src[AUTHN_SOURCE_MAX], res[128];
	struct store_user u;
	int64_t now;
	struct authn_reserve_job rj;
	struct confirm_job j;
};

static void
confirm_release(struct authn_op *op)
{
	store_user_clear(&((struct confirm_op *)op)->u);
}

static void
confirm_committed(struct authn_op *op, enum pv_rc rc)
{
	struct confirm_op *o = (struct confirm_op *)op;
	json_t *arr;
	size_t i;

	if (rc == PV_E_CONFLICT) {
		/* recorded by the commit: outcome error, reason conflict */
		rc = fail(&op->ar, PV_E_CONFLICT, "MFA enrolment changed meanwhile; retry");
	} else if (rc == PV_OK) {
		authn_cache_set_state(op->s, o->p->session_id, o->j.new_flags, true, o->j.epoch);
		if ((arr = json_array()) == NULL) {
			rc = PV_E_NOMEM;
		} else {
			for (i = 0; i < AUTHN_RECOVERY_COUNT; i++)
				json_array_append_new(arr, json_string(o->codes[i]));
			rc = authn_op_reply(op, json_pack("{s:o, s:b}", "recovery_codes", arr,
			    "restricted", o->j.new_flags != 0));
		}
	}
	authn_op_finish(op, rc);
}

static enum pv_rc
confirm_check(struct confirm_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	char sha[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX];
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	struct audit_event ev;
	int64_t step = -1;
	bool locked_now = false;
	int retry = 0;
	size_t i;

	authn_ev_init(&ev, o->p, o->source, "auth.mfa_enroll", o->res);
	rc = authn_lockout_reserved(&o->rj, rc, &retry, &locked_now);
	if (rc == PV_E_LOCKED)
		return locked_reply(ar, retry);
	if (rc != PV_OK)
		return rc;
	if ((rc = authn_mfa_open(s, &o->u, secret)) != PV_OK)
		return rc;
	rc = authn_totp_verify(secret, sizeof(secret), o->code, o->now / 1000, o->u.mfa_last_step,
	    &step);
	crypto_wipe(secret, sizeof(secret));
	if (rc != PV_OK) {
		ev.outcome = AUDIT_DENIED;
		ev.reason = "bad_totp";
		return refuse_locking(&o->op, &ev, fail(ar, PV_E_INVALID,
		    "The code does not match the enrolled secret (check the authenticator's clock)"),
		    locked_now, o->u.id, o->source, o->res, MFA_KIND);
	}
	authn_throttle_release(s->throttle, o->src, o->now);
	rc = authn_recovery_generate(o->codes, sha);
	/* the first under the active version, the rest under that same one */
	o->j.mac_version = 0;
	for (i = 0; rc == PV_OK && i < AUTHN_RECOVERY_COUNT; i++) {
		if ((rc = authn_recovery_mac(s, sha[i], o->j.mac_version, o->mac[i],
		    &o->j.mac_version)) == PV_OK)
			o->macs[i] = o->mac[i];
	}
	crypto_wipe(sha, sizeof(sha));
	if (rc != PV_OK)
		return rc;
	o->j.p = o->p;
	o->j.step = step;
	o->j.hashes = o->macs;
	o->j.new_flags = o->p->restrict_flags & ~AUTHN_RESTRICT_MFA_ENROL;
	o->j.now_ms = o->now;
	ev.reason = "confirmed";
	return authn_op_submit(&o->op, &ev, confirm_fn, &o->j, confirm_committed, false);
}

static void
confirm_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, confirm_check((struct confirm_op *)op, rc));
}

static enum pv_rc
confirm_start(struct confirm_op *o)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	struct audit_event ev;
	int retry = 0;
	enum pv_rc rc;

	if (o->p == NULL)
		return PV_E_UNAUTH;
	if (o->code == NULL)
		return fail(ar, PV_E_INVALID, "code is required");
	authn_source_key(o->source, o->src);
	snprintf(o->res, sizeof(o->res), "users/%s", o->p->user_id);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited_op(&o->op, o->source, "auth.mfa_enroll", o->p, o->res, retry);
	STORE_READ(s->st, rc, store_user_get(tx, o->p->user_id, &o->u));
	if (rc != PV_OK) {
		memset(&o->u, 0, sizeof(o->u));
		return rc;
	}
	if (o->u.mfa_enabled || o->u.mfa_secret == NULL) {
		/* nothing was verified: not a failure */
		authn_throttle_release(s->throttle, o->src, o->now);
		authn_ev_init(&ev, o->p, o->source, "auth.mfa_enroll", o->res);
		ev.outcome = AUDIT_DENIED;
		ev.reason = "conflict";
		return authn_op_refuse(&o->op, &ev, fail(ar, PV_E_CONFLICT, o->u.mfa_enabled ?
		    "MFA is already enrolled for this user" :
		    "No MFA enrolment in progress: call POST /v1/auth/mfa/enroll first"));
	}
	o->rj.s = s;
	o->rj.key = o->u.username;
	o->rj.kind = MFA_KIND;
	return authn_op_submit(&o->op, NULL, authn_lockout_reserve_fn, &o->rj, confirm_reserved,
	    true);
}

void
authn_mfa_confirm_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *code, authn_done_fn done, void *arg)
{
	struct confirm_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = confirm_release;
	o->p = p;
	o->source = source;
	o->code = code;
	o->now = util_now_ms();
	authn_op_run(&o->op, confirm_start(o));
}

enum pv_rc
authn_mfa_confirm(struct authn_service *s, const struct authn_principal *p, const char *source,
    const char *code, json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_mfa_confirm_async(s, p, source, code, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ------------------------------------------------------------------ */
/* POST /v1/auth/step-up: the same session passes MFA again (RFC 9470)  */
/* ------------------------------------------------------------------ */

struct step_job {
	const char *user_id;
	const char *key;
	const char *session_id;
	int64_t step;
	int64_t now_ms;
};

/* The TOTP step consumed (replay refused), the lockout cleared and the
 * session's MFA time raised, in one transaction. */
static enum pv_rc
step_fn(struct store_tx *tx, void *arg)
{
	struct step_job *j = arg;
	struct store_lockout zero = { 0, 0, 0 };
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->user_id, &u)) != PV_OK)
		return rc;
	if (u.mfa_last_step >= j->step) {
		store_user_clear(&u);
		return PV_E_UNAUTH;   /* replayed concurrently */
	}
	u.mfa_last_step = j->step;
	rc = store_user_update(tx, &u);
	store_user_clear(&u);
	if (rc != PV_OK || (rc = store_lockout_put(tx, j->key, MFA_KIND, &zero)) != PV_OK)
		return rc;
	rc = store_session_set_mfa(tx, j->session_id, j->now_ms);
	if (rc == PV_OK)
		rc = store_session_set_mfa_method(tx, j->session_id, "totp");
	return rc == PV_E_NOTFOUND ? PV_E_UNAUTH : rc;
}

/*
 * authn_step_up in steps: start (request thread: throttle, user, the
 * not-enrolled refusal, submit the MFA lockout reservation) -> check
 * (worker: the code, submit step_fn) -> committed (committer: cache, reply).
 */
struct step_op {
	struct authn_op op;
	const struct authn_principal *p;
	const char *source, *code;
	char src[AUTHN_SOURCE_MAX], res[128];
	struct store_user u;
	int64_t now;
	struct authn_reserve_job rj;
	struct step_job j;
};

static void
step_release(struct authn_op *op)
{
	store_user_clear(&((struct step_op *)op)->u);
}

static void
step_committed(struct authn_op *op, enum pv_rc rc)
{
	struct step_op *o = (struct step_op *)op;
	char t[32];

	if (rc == PV_E_UNAUTH) {
		rc = fail(&op->ar, PV_E_UNAUTH, "Invalid code");
	} else if (rc == PV_OK) {
		authn_cache_set_mfa(op->s, o->p->session_id, o->now);
		authn_cache_set_mfa_method(op->s, o->p->session_id, "totp");
		util_time_fmt(o->now, t, sizeof(t));
		rc = authn_op_reply(op, json_pack("{s:b, s:s}", "mfa_verified", 1, "mfa_at", t));
	}
	authn_op_finish(op, rc);
}

static enum pv_rc
step_check(struct step_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	struct audit_event ev;
	int64_t step = -1;
	bool locked_now = false;
	int retry = 0;
	enum pv_rc vrc;

	authn_ev_init(&ev, o->p, o->source, "auth.step_up", o->res);
	ev.outcome = AUDIT_DENIED;
	rc = authn_lockout_reserved(&o->rj, rc, &retry, &locked_now);
	if (rc == PV_E_LOCKED) {
		ev.reason = "locked";
		return authn_op_refuse(&o->op, &ev, locked_reply(ar, retry));
	}
	if (rc != PV_OK)
		return rc;
	vrc = PV_E_UNAUTH;
	if (is_totp_shape(o->code)) {
		if ((rc = authn_mfa_open(s, &o->u, secret)) != PV_OK)
			return rc;
		vrc = authn_totp_verify(secret, sizeof(secret), o->code, o->now / 1000,
		    o->u.mfa_last_step, &step);
		crypto_wipe(secret, sizeof(secret));
	}
	if (vrc != PV_OK) {
		ev.reason = "bad_totp";
		return refuse_locking(&o->op, &ev, fail(ar, PV_E_UNAUTH, "Invalid code"), locked_now,
		    o->u.id, o->source, o->res, MFA_KIND);
	}
	authn_throttle_release(s->throttle, o->src, o->now);
	o->j.user_id = o->u.id;
	o->j.key = o->u.username;
	o->j.session_id = o->p->session_id;
	o->j.step = step;
	o->j.now_ms = o->now;
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "totp";
	return authn_op_submit(&o->op, &ev, step_fn, &o->j, step_committed, false);
}

static void
step_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, step_check((struct step_op *)op, rc));
}

static enum pv_rc
step_start(struct step_op *o)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	struct audit_event ev;
	int retry = 0;
	enum pv_rc rc;

	if (o->p == NULL)
		return PV_E_UNAUTH;
	if (o->code == NULL)
		return fail(ar, PV_E_INVALID, "code is required");
	authn_source_key(o->source, o->src);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited_op(&o->op, o->source, "auth.step_up", o->p, "auth", retry);
	snprintf(o->res, sizeof(o->res), "sessions/%s", o->p->session_id);
	STORE_READ(s->st, rc, store_user_get(tx, o->p->user_id, &o->u));
	if (rc != PV_OK) {
		memset(&o->u, 0, sizeof(o->u));
		return rc == PV_E_NOTFOUND ? fail(ar, PV_E_UNAUTH, "Invalid code") : rc;
	}
	if (!o->u.mfa_enabled) {
		authn_ev_init(&ev, o->p, o->source, "auth.step_up", o->res);
		ev.outcome = AUDIT_DENIED;
		ev.reason = "mfa_not_enrolled";
		return authn_op_refuse(&o->op, &ev, fail(ar, PV_E_CONFLICT,
		    "No MFA enrolled: enrol first (POST /v1/auth/mfa/enroll)"));
	}
	/* the account's MFA lockout (the same counter as the login's second
	 * factor): checked and one failure reserved, one step */
	o->rj.s = s;
	o->rj.key = o->u.username;
	o->rj.kind = MFA_KIND;
	return authn_op_submit(&o->op, NULL, authn_lockout_reserve_fn, &o->rj, step_reserved,
	    true);
}

void
authn_step_up_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *code, authn_done_fn done, void *arg)
{
	struct step_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = step_release;
	o->p = p;
	o->source = source;
	o->code = code;
	o->now = util_now_ms();
	authn_op_run(&o->op, step_start(o));
}

enum pv_rc
authn_step_up(struct authn_service *s, const struct authn_principal *p, const char *source,
    const char *code, json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_step_up_async(s, p, source, code, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ------------------------------------------------------------------ */
/* GET /v1/auth/session, POST /v1/auth/logout                          */
/* ------------------------------------------------------------------ */

enum pv_rc
authn_session_describe(const struct authn_principal *p, json_t **out)
{
	char t1[32], t2[32];
	json_t *o, *roles, *ra;
	size_t i;

	if (p == NULL)
		return PV_E_UNAUTH;
	util_time_fmt(p->expires_at_ms, t1, sizeof(t1));
	util_time_fmt(p->idle_expires_at_ms, t2, sizeof(t2));
	if ((roles = json_array()) == NULL || (ra = json_array()) == NULL) {
		json_decref(roles);
		return PV_E_NOMEM;
	}
	for (i = 0; i < p->nroles; i++)
		json_array_append_new(roles, json_string(p->roles[i]));
	if (p->restrict_flags & AUTHN_RESTRICT_PASSWORD_CHANGE)
		json_array_append_new(ra, json_string("change_password"));
	if (p->restrict_flags & AUTHN_RESTRICT_MFA_ENROL)
		json_array_append_new(ra, json_string("enrol_mfa"));
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:b, s:o, s:b}", "user_id", p->user_id,
	    "session_id", p->session_id, "username", p->username, "roles", roles, "expires_at", t1,
	    "idle_expires_at", t2, "restricted", p->restricted, "required_actions", ra,
	    "mfa_verified", p->mfa_verified);
	/* how the session's MFA was made (totp, webauthn, recovery), when it was */
	if (o != NULL && p->mfa_verified && p->mfa_method[0] != '\0' &&
	    json_object_set_new(o, "mfa_method", json_string(p->mfa_method)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o != NULL ? reply(out, o) : PV_E_NOMEM;
}

struct logout_job {
	const char *session_id;
	int64_t now_ms;
	bool app;                            /* an app's session (app_sessions) */
};

static enum pv_rc
logout_fn(struct store_tx *tx, void *arg)
{
	struct logout_job *j = arg;

	if (j->app)
		return store_app_session_end(tx, j->session_id, j->now_ms,
		    authn_session_end_name(AUTHN_END_LOGOUT));
	return store_session_end(tx, j->session_id, j->now_ms,
	    authn_session_end_name(AUTHN_END_LOGOUT));
}

struct logout_op {
	struct authn_op op;
	const struct authn_principal *p;
	struct logout_job j;
};

static void
logout_committed(struct authn_op *op, enum pv_rc rc)
{
	struct logout_op *o = (struct logout_op *)op;

	/* ended meanwhile (another node, expiry): the token is dead either way */
	if (rc == PV_OK || rc == PV_E_NOTFOUND) {
		authn_cache_forget_session(op->s, o->p->session_id);
		rc = PV_OK;
	}
	authn_op_finish(op, rc);
}

void
authn_logout_async(struct authn_service *s, const struct authn_principal *p, const char *source,
    authn_done_fn done, void *arg)
{
	struct logout_op *o = authn_op_new(s, sizeof(*o), done, arg);
	struct audit_event ev;
	struct authn_result ar;
	char res[64 + UTIL_ID_MAX];

	if (o == NULL)
		return;   /* answered PV_E_NOMEM */
	if (p == NULL) {
		free(o);
		memset(&ar, 0, sizeof(ar));
		done(PV_E_UNAUTH, NULL, &ar, arg);
		return;
	}
	o->op.no_body = true;
	o->p = p;
	o->j.session_id = p->session_id;
	o->j.now_ms = util_now_ms();
	o->j.app = p->app;
	snprintf(res, sizeof(res), "sessions/%s", p->session_id);
	authn_ev_init(&ev, p, source, "auth.logout", res);
	authn_op_run(&o->op, authn_op_submit(&o->op, &ev, logout_fn, &o->j, logout_committed,
	    false));
}

enum pv_rc
authn_logout(struct authn_service *s, const struct authn_principal *p, const char *source,
    struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_logout_async(s, p, source, authn_wait_done, &w);
	return authn_wait_end(&w, NULL, ar);
}
