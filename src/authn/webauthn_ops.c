/*
 * webauthn_ops.c: WebAuthn passkeys as operations (authn.h "WebAuthn
 * passkeys"): registration by a logged-in user, the second step of a login,
 * step-up (RFC 9470) of a live session, listing and removal. The routes
 * (routes_webauthn.c) parse, call one of these and reply; the pure checks
 * are in webauthn.c.
 *
 * Ceremony state: a "begin" stores a challenge (32 random bytes, base64url)
 * bound to what may finish it (kind "register" / "step_up": the session;
 * "login": the pending MFA login's token hash) and the user, for
 * AUTHN_WA_TIMEOUT_MS on the injectable clock. A "finish" takes it from
 * the store on the writer (store_webauthn_challenge_take deletes it: single
 * use, also when the rest then fails) before anything else is verified.
 *
 * Lockout: sign-in and step-up take the same slots as TOTP (the pending
 * login's tries and the account's "mfa" lockout counter, reserved before
 * the assertion is checked); a success resets the counter in the
 * transaction that makes the session. The signature counter is re-checked on
 * the writer (store_webauthn_cred_use only moves it forward), so two
 * requests with one assertion cannot both pass.
 *
 * RP: the RP ID is [server] public_url's host, the origin its scheme, host
 * and port; clientDataJSON.origin must be exactly that origin.
 *
 * No request thread waits for a commit (docs/internals/authn.md
 * "WebAuthn"): the finishes are operations in steps (pending.c; the login's
 * success through login.c's authn_mfa_complete, the one MFA completion);
 * the begins and the removal answer at once, their writes held with the
 * answer (audit_commit_held, audit_record_held).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

#define MFA_KIND "mfa"
#define RP_NAME "phivault"

struct rp {
	char origin[256];
	char id[256];
};

static enum pv_rc
fail(struct authn_result *ar, enum pv_rc rc, const char *msg)
{
	util_strlcpy(ar->message, msg != NULL ? msg : "", sizeof(ar->message));
	return rc;
}

static enum pv_rc
rp_get(struct authn_service *s, struct rp *rp)
{
	if (config_public_url_parts(s->cfg->public_url, rp->origin, sizeof(rp->origin), rp->id,
	    sizeof(rp->id)) != PV_OK) {
		log_error("authn: server.public_url is not usable for WebAuthn");
		return PV_E_CONFIG;
	}
	return PV_OK;
}

/* What a check's reason means to the caller (no input quoted). */
static const char *
reason_message(const char *reason)
{
	static const struct {
		const char *r, *m;
	} t[] = {
		{ "wrong_origin", "The passkey response comes from another origin" },
		{ "wrong_type", "The passkey response is for another ceremony" },
		{ "cross_origin", "The passkey response comes from a cross-origin frame" },
		{ "rp_id_mismatch", "The passkey is for another relying party (RP ID)" },
		{ "up_missing", "The authenticator did not confirm user presence" },
		{ "uv_missing", "The authenticator did not verify the user (PIN or biometric)" },
		{ "at_missing", "The attestation carries no credential" },
		{ "key_unsupported", "Only ES256 (P-256) and EdDSA (Ed25519) passkeys are supported" },
		{ "attestation_unsupported",
		  "Unsupported attestation: request attestation \"none\"" },
		{ "bad_signature", "The passkey signature does not verify" },
		{ "counter_rollback",
		  "The passkey's signature counter went backwards (a cloned authenticator?)" },
		{ "challenge_unknown", "Unknown or already used challenge: begin again" },
		{ "challenge_expired", "The challenge expired: begin again" },
		{ "unknown_credential", "This passkey is not registered for this account" },
		{ "user_handle_mismatch", "The passkey belongs to another account" },
		{ "credential_id_mismatch", "The credential ID does not match the attestation" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].r, reason) == 0)
			return t[i].m;
	return "The passkey response is malformed";
}

/* ---- the body: a PublicKeyCredential as a page serialises it ---- */

struct wa_in {
	char id[STORE_WEBAUTHN_ID_MAX];      /* canonical base64url of raw_id */
	uint8_t *raw_id;
	size_t raw_id_len;
	uint8_t *cdj;                        /* clientDataJSON */
	size_t cdj_len;
	uint8_t *att;                        /* attestationObject (create) */
	size_t att_len;
	uint8_t *ad;                         /* authenticatorData (get) */
	size_t ad_len;
	uint8_t *sig;
	size_t sig_len;
	uint8_t *user_handle;                /* optional */
	size_t user_handle_len;
};

static void
wa_in_clear(struct wa_in *in)
{
	free(in->raw_id);
	free(in->cdj);
	free(in->att);
	free(in->ad);
	free(in->sig);
	free(in->user_handle);
	memset(in, 0, sizeof(*in));
}

static enum pv_rc
b64_field(const json_t *o, const char *key, bool required, size_t max, uint8_t **out,
    size_t *len, struct authn_result *ar)
{
	const json_t *v = json_object_get(o, key);
	char msg[128];

	if (v == NULL || json_is_null(v)) {
		if (!required)
			return PV_OK;
	} else if (json_is_string(v) &&
	    authn_wa_b64url_decode(json_string_value(v), max, out, len) == PV_OK) {
		return PV_OK;
	}
	snprintf(msg, sizeof(msg), "%s must be a base64url string", key);
	return fail(ar, PV_E_INVALID, msg);
}

static enum pv_rc
parse_cred(const json_t *c, bool assertion, struct wa_in *in, struct authn_result *ar)
{
	const json_t *r, *t;
	uint8_t *idb = NULL;
	size_t idl = 0;
	enum pv_rc rc;

	memset(in, 0, sizeof(*in));
	if (!json_is_object(c))
		return fail(ar, PV_E_INVALID, "the credential must be a PublicKeyCredential object");
	t = json_object_get(c, "type");
	if (t != NULL && (!json_is_string(t) || strcmp(json_string_value(t), "public-key") != 0))
		return fail(ar, PV_E_INVALID, "type must be \"public-key\"");
	r = json_object_get(c, "response");
	if (!json_is_object(r))
		return fail(ar, PV_E_INVALID, "response must be an object");
	if ((rc = b64_field(c, "rawId", false, AUTHN_WA_CRED_ID_MAX, &in->raw_id, &in->raw_id_len,
	    ar)) != PV_OK ||
	    (rc = b64_field(c, "id", in->raw_id == NULL, AUTHN_WA_CRED_ID_MAX, &idb, &idl, ar)) !=
	    PV_OK)
		goto bad;
	if (in->raw_id == NULL) {
		in->raw_id = idb;
		in->raw_id_len = idl;
		idb = NULL;
	} else if (idb != NULL && (idl != in->raw_id_len || memcmp(idb, in->raw_id, idl) != 0)) {
		rc = fail(ar, PV_E_INVALID, "id and rawId differ");
		goto bad;
	}
	if ((rc = b64_field(r, "clientDataJSON", true, AUTHN_WA_INPUT_MAX, &in->cdj, &in->cdj_len,
	    ar)) != PV_OK)
		goto bad;
	if (assertion) {
		if ((rc = b64_field(r, "authenticatorData", true, AUTHN_WA_INPUT_MAX, &in->ad,
		    &in->ad_len, ar)) != PV_OK ||
		    (rc = b64_field(r, "signature", true, 512, &in->sig, &in->sig_len, ar)) != PV_OK ||
		    (rc = b64_field(r, "userHandle", false, 64, &in->user_handle,
		    &in->user_handle_len, ar)) != PV_OK)
			goto bad;
	} else if ((rc = b64_field(r, "attestationObject", true, AUTHN_WA_INPUT_MAX, &in->att,
	    &in->att_len, ar)) != PV_OK) {
		goto bad;
	}
	if (authn_wa_b64url_encode(in->raw_id, in->raw_id_len, in->id, sizeof(in->id)) != PV_OK) {
		rc = fail(ar, PV_E_INVALID, "rawId is too long");
		goto bad;
	}
	free(idb);
	return PV_OK;
bad:
	free(idb);
	wa_in_clear(in);
	return rc;
}

/* The audit detail naming a credential (an identifier, never key bytes). */
static void
cred_detail(const char *id, char *out, size_t len)
{
	uint8_t h[CRYPTO_SHA256_LEN];
	char hex[17];

	if (strlen(id) <= 128) {
		snprintf(out, len, "{\"credential\":\"%s\"}", id);
		return;
	}
	if (crypto_sha256(id, strlen(id), h) != PV_OK) {
		snprintf(out, len, "{}");
		return;
	}
	util_hex_encode(h, 8, hex);
	snprintf(out, len, "{\"credential\":\"sha256:%s\"}", hex);
}

/* ---- challenges ---- */

/* A begin's transaction: the user handle (register, first time) and the
 * challenge. Heap memory: it runs later, on the committer. */
struct challenge_job {
	struct store_webauthn_challenge c;
	bool handle_new;                     /* register: store handle if still none */
	char handle[STORE_WEBAUTHN_HANDLE_MAX];
	int64_t now_ms;
};

static enum pv_rc
challenge_fn(struct store_tx *tx, void *arg)
{
	struct challenge_job *j = arg;
	char cur[STORE_WEBAUTHN_HANDLE_MAX];
	enum pv_rc rc;

	if (j->handle_new) {
		rc = store_webauthn_handle_get(tx, j->c.user_id, cur);
		if (rc == PV_E_NOTFOUND)
			rc = store_webauthn_handle_put(tx, j->c.user_id, j->handle);
		else if (rc == PV_OK && strcmp(cur, j->handle) != 0)
			rc = PV_E_CONFLICT;   /* a concurrent begin made the handle first */
		if (rc != PV_OK)
			return rc;
	}
	return store_webauthn_challenge_put(tx, &j->c, j->now_ms);
}

/*
 * A new challenge of kind for user_id bound to bind, copied into challenge;
 * with handle != NULL the user's WebAuthn handle too (read, or made here and
 * stored in the challenge's transaction). Everything the answer shows is
 * made before the submit, so the transaction goes through audit_commit_held:
 * no thread waits, the answer leaves after the fsync or becomes fn's rc.
 */
static enum pv_rc
challenge_new(struct authn_service *s, const char *kind, const char *user_id, const char *bind,
    char challenge[AUTHN_WA_CHALLENGE_B64_MAX], char *handle)
{
	uint8_t r[AUTHN_WA_CHALLENGE_LEN];
	struct challenge_job *j = calloc(1, sizeof(*j));
	enum pv_rc rc;

	if (j == NULL)
		return PV_E_NOMEM;
	j->now_ms = util_now_ms();
	if ((rc = crypto_random(r, sizeof(r))) != PV_OK ||
	    (rc = authn_wa_b64url_encode(r, sizeof(r), j->c.challenge, sizeof(j->c.challenge))) !=
	    PV_OK)
		goto bad;
	util_strlcpy(j->c.kind, kind, sizeof(j->c.kind));
	util_strlcpy(j->c.user_id, user_id, sizeof(j->c.user_id));
	util_strlcpy(j->c.bind, bind, sizeof(j->c.bind));
	j->c.expires_ms = j->now_ms + AUTHN_WA_TIMEOUT_MS;
	if (handle != NULL) {
		STORE_READ(s->st, rc, store_webauthn_handle_get(tx, user_id, j->handle));
		if (rc == PV_E_NOTFOUND) {
			uint8_t h[32];

			if ((rc = crypto_random(h, sizeof(h))) != PV_OK ||
			    (rc = authn_wa_b64url_encode(h, sizeof(h), j->handle,
			    sizeof(j->handle))) != PV_OK)
				goto bad;
			j->handle_new = true;
		} else if (rc != PV_OK) {
			goto bad;
		}
		util_strlcpy(handle, j->handle, STORE_WEBAUTHN_HANDLE_MAX);
	}
	util_strlcpy(challenge, j->c.challenge, AUTHN_WA_CHALLENGE_B64_MAX);
	return audit_commit_held(s->audit, NULL, challenge_fn, j, free);
bad:
	free(j);
	return rc;
}

/*
 * Taking a challenge (single use): store_webauthn_challenge_take deletes
 * it on the writer, in the transaction of the finish's first step (the
 * attempt's reservation, or for a registration its own), before anything
 * else is verified; so of two concurrent finishes with one challenge
 * exactly one takes it, and a take commits even when a later check fails.
 * The take's answer is j->rc (read after the commit); fn fails only on a
 * store error.
 */
struct take_job {
	char challenge[AUTHN_WA_CHALLENGE_B64_MAX];   /* "": nothing to take */
	int64_t now_ms;
	enum pv_rc rc;                       /* out */
	struct store_webauthn_challenge out; /* out */
};

static enum pv_rc
take_in(struct store_tx *tx, struct take_job *j)
{
	if (j->challenge[0] == '\0') {
		j->rc = PV_E_NOTFOUND;
		return PV_OK;
	}
	j->rc = store_webauthn_challenge_take(tx, j->challenge, j->now_ms, &j->out);
	return j->rc == PV_OK || j->rc == PV_E_NOTFOUND || j->rc == PV_E_EXPIRED ? PV_OK : j->rc;
}

static enum pv_rc
take_fn(struct store_tx *tx, void *arg)
{
	return take_in(tx, arg);
}

/* The client data of in (type, origin): PV_OK with the challenge to take
 * in j, PV_E_WEBAUTHN with *reason (j->challenge stays ""). */
static enum pv_rc
client_data(const struct rp *rp, const struct wa_in *in, const char *type, struct take_job *j,
    const char **reason)
{
	j->now_ms = util_now_ms();
	return authn_wa_client_data(in->cdj, in->cdj_len, type, rp->origin, j->challenge, reason);
}

/* After the commit: the taken challenge must be of kind for user_id bound
 * to bind. PV_E_WEBAUTHN with *reason. */
static enum pv_rc
taken_check(const struct take_job *j, const char *kind, const char *user_id, const char *bind,
    const char **reason)
{
	if (j->rc == PV_E_NOTFOUND || j->rc == PV_E_EXPIRED) {
		*reason = j->rc == PV_E_EXPIRED ? "challenge_expired" : "challenge_unknown";
		return PV_E_WEBAUTHN;
	}
	if (j->rc != PV_OK)
		return j->rc;
	if (strcmp(j->out.kind, kind) != 0 || strcmp(j->out.user_id, user_id) != 0 ||
	    strcmp(j->out.bind, bind) != 0) {
		*reason = "challenge_unknown";
		return PV_E_WEBAUTHN;
	}
	return PV_OK;
}

/* The audited refusal of a passkey attempt; when this failure locked the
 * account, its auth.lockout entry behind it (both durable before the
 * answer). The strings live in the op. */
static enum pv_rc
refuse(struct authn_op *op, const struct audit_event *ev, enum pv_rc rc, bool locked_now,
    const char *user_id, const char *source, const char *resource)
{
	if (!locked_now)
		return authn_op_refuse(op, ev, rc);
	return authn_op_refuse_locked(op, ev, rc, user_id, source, resource, MFA_KIND);
}

/* 429 before anything else, recorded (reason rate_limited). */
static enum pv_rc
rate_limited(struct authn_op *op, const char *source, const struct authn_principal *p,
    const char *action, const char *resource, int retry)
{
	struct audit_event ev;

	authn_ev_init(&ev, p, source, action, resource);
	ev.outcome = AUDIT_DENIED;
	ev.reason = "rate_limited";
	op->ar.retry_after_s = retry > 0 ? retry : 1;
	return authn_op_refuse(op, &ev, fail(&op->ar, PV_E_RATE,
	    "Too many failed attempts from this address"));
}

static enum pv_rc
locked_reply(struct authn_result *ar, int retry)
{
	ar->retry_after_s = retry > 0 ? retry : 1;
	return fail(ar, PV_E_LOCKED,
	    "Too many failed attempts: this account is temporarily locked");
}

/* ---- reading the user's credentials ---- */

struct cred_list {
	json_t *arr;                         /* descriptors or descriptions */
	bool describe;
	size_t n;
};

static const char *
alg_name(int alg)
{
	return alg == AUTHN_WA_ES256 ? "ES256" : alg == AUTHN_WA_EDDSA ? "EdDSA" : "unknown";
}

static int
on_cred(const struct store_webauthn_cred *c, void *arg)
{
	struct cred_list *l = arg;
	json_t *o;

	l->n++;
	if (l->arr == NULL)
		return 0;
	if (l->describe) {
		char t1[32], t2[32];

		util_time_fmt(c->created_ms, t1, sizeof(t1));
		util_time_fmt(c->last_used_ms, t2, sizeof(t2));
		o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", c->id, "name", c->name, "alg",
		    alg_name(c->alg), "created_at", t1, "last_used_at",
		    c->last_used_ms > 0 ? json_string(t2) : json_null());
	} else {
		o = json_pack("{s:s, s:s}", "type", "public-key", "id", c->id);
	}
	if (o == NULL || json_array_append_new(l->arr, o) != 0)
		return 1;
	return 0;
}

static enum pv_rc
creds_read(struct authn_service *s, const char *user_id, bool describe, json_t **arr,
    size_t *n)
{
	struct cred_list l = { NULL, describe, 0 };
	enum pv_rc rc;

	if (arr != NULL && (l.arr = json_array()) == NULL)
		return PV_E_NOMEM;
	STORE_READ(s->st, rc, store_webauthn_cred_list(tx, user_id, on_cred, &l));
	if (rc != PV_OK) {
		json_decref(l.arr);
		return rc;
	}
	if (arr != NULL)
		*arr = l.arr;
	if (n != NULL)
		*n = l.n;
	return PV_OK;
}

bool
authn_webauthn_has(struct authn_service *s, const char *user_id)
{
	size_t n = 0;

	return creds_read(s, user_id, false, NULL, &n) == PV_OK && n > 0;
}

static json_t *
request_options(const struct rp *rp, const char *challenge, json_t *allow)
{
	return json_pack("{s:{s:s, s:s, s:i, s:s, s:o}}", "publicKey", "challenge", challenge,
	    "rpId", rp->id, "timeout", AUTHN_WA_TIMEOUT_MS, "userVerification", "required",
	    "allowCredentials", allow);
}

/* The options of a navigator.credentials.get() ceremony (login, step-up):
 * the user's credentials as allowCredentials and a new challenge of kind
 * bound to bind; 409 with none_msg when the user has no passkey. */
static enum pv_rc
get_options(struct authn_service *s, const struct rp *rp, const char *kind, const char *user_id,
    const char *bind, const char *none_msg, struct authn_result *ar, json_t **out)
{
	char ch[AUTHN_WA_CHALLENGE_B64_MAX];
	json_t *allow = NULL;
	size_t n = 0;
	enum pv_rc rc;

	if ((rc = creds_read(s, user_id, false, &allow, &n)) != PV_OK)
		return rc;
	if (n == 0) {
		json_decref(allow);
		return fail(ar, PV_E_CONFLICT, none_msg);
	}
	if ((rc = challenge_new(s, kind, user_id, bind, ch, NULL)) != PV_OK) {
		json_decref(allow);
		return rc;
	}
	if ((*out = request_options(rp, ch, allow)) == NULL)
		return PV_E_NOMEM;
	return PV_OK;
}

/* ------------------------------------------------------------------ */
/* registration                                                        */
/* ------------------------------------------------------------------ */

/* Has p's session done MFA at most AUTHN_WA_FRESH_S ago? */
static bool
mfa_fresh(const struct authn_principal *p)
{
	return p->mfa_verified && p->mfa_at_ms > 0 &&
	    util_now_ms() - p->mfa_at_ms <= (int64_t)AUTHN_WA_FRESH_S * 1000;
}

/* Does p's user have a second factor already (TOTP or a passkey)? A new
 * factor is then added only by a session with a fresh MFA (a stolen
 * session token cannot plant its own passkey); the first one is the
 * enrolment, as with TOTP. */
static enum pv_rc
has_factor(struct authn_service *s, const struct authn_principal *p, size_t npasskeys,
    bool *out)
{
	struct store_user u;
	enum pv_rc rc;

	*out = npasskeys > 0;
	if (*out)
		return PV_OK;
	STORE_READ(s->st, rc, store_user_get(tx, p->user_id, &u));
	if (rc != PV_OK)
		return rc;
	*out = u.mfa_enabled;
	store_user_clear(&u);
	return PV_OK;
}

#define ADD_NEEDS_STEP_UP "Adding a passkey to an account with a second factor needs a " \
	"multi-factor authentication in the last 5 minutes: step up first (POST /v1/auth/step-up)"

enum pv_rc
authn_webauthn_register_begin(struct authn_service *s, const struct authn_principal *p,
    const char *source, json_t **out, struct authn_result *ar)
{
	char ch[AUTHN_WA_CHALLENGE_B64_MAX], handle[STORE_WEBAUTHN_HANDLE_MAX];
	struct rp rp;
	json_t *exclude = NULL, *o;
	size_t n = 0;
	bool factor = false;
	enum pv_rc rc;

	(void)source;
	memset(ar, 0, sizeof(*ar));
	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if ((rc = rp_get(s, &rp)) != PV_OK)
		return rc;
	if ((rc = creds_read(s, p->user_id, false, &exclude, &n)) != PV_OK)
		return rc;
	if ((rc = has_factor(s, p, n, &factor)) != PV_OK) {
		json_decref(exclude);
		return rc;
	}
	if (factor && !mfa_fresh(p)) {
		json_decref(exclude);
		return fail(ar, PV_E_STEP_UP, ADD_NEEDS_STEP_UP);
	}
	if (n >= AUTHN_WA_PER_USER_MAX) {
		json_decref(exclude);
		return fail(ar, PV_E_CONFLICT, "Too many passkeys: remove one first");
	}
	if ((rc = challenge_new(s, "register", p->user_id, p->session_id, ch, handle)) != PV_OK) {
		json_decref(exclude);
		return rc;
	}
	o = json_pack("{s:{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:i}, {s:s, s:i}], "
	    "s:i, s:s, s:{s:s, s:b, s:s}, s:o}}", "publicKey",
	    "challenge", ch,
	    "rp", "id", rp.id, "name", RP_NAME,
	    "user", "id", handle, "name", p->username, "displayName", p->username,
	    "pubKeyCredParams", "type", "public-key", "alg", AUTHN_WA_ES256, "type", "public-key",
	    "alg", AUTHN_WA_EDDSA,
	    "timeout", AUTHN_WA_TIMEOUT_MS,
	    "attestation", "none",
	    "authenticatorSelection", "residentKey", "preferred", "requireResidentKey", 0,
	    "userVerification", "required",
	    "excludeCredentials", exclude);
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

static bool
name_ok(const char *n)
{
	size_t i, len = strlen(n);

	if (len == 0 || len >= STORE_WEBAUTHN_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f || n[i] == '"' || n[i] == '\\')
			return false;
	return true;
}

struct register_job {
	const struct store_webauthn_cred *cred;
	const struct authn_principal *p;
	unsigned new_flags;                  /* the session's, without MFA enrolment */
	bool verify_session;                 /* it owed MFA enrolment: now verified */
	int64_t now_ms;
	int64_t epoch;                       /* out */
};

static int
count_cb(const struct store_webauthn_cred *c, void *arg)
{
	(void)c;
	(*(size_t *)arg)++;
	return 0;
}

static enum pv_rc
register_fn(struct store_tx *tx, void *arg)
{
	struct register_job *j = arg;
	struct store_user u;
	size_t n = 0;
	enum pv_rc rc;

	if ((rc = store_webauthn_cred_list(tx, j->p->user_id, count_cb, &n)) != PV_OK)
		return rc;
	if (n >= AUTHN_WA_PER_USER_MAX)
		return PV_E_TOOBIG;
	if ((rc = store_webauthn_cred_put(tx, j->cred)) != PV_OK)
		return rc;
	if (!j->verify_session)
		return PV_OK;
	if ((rc = store_user_get(tx, j->p->user_id, &u)) != PV_OK)
		return rc;
	j->epoch = u.credential_epoch;
	store_user_clear(&u);
	if ((rc = store_session_set_state(tx, j->p->session_id, j->new_flags, true, j->epoch)) !=
	    PV_OK ||
	    (rc = store_session_set_mfa(tx, j->p->session_id, j->now_ms)) != PV_OK)
		return rc;
	return store_session_set_mfa_method(tx, j->p->session_id, "webauthn");
}

/*
 * authn_webauthn_register_finish in steps (pending.c):
 *   start (request thread): the body, the step-up rule (a refusal is
 *     recorded), the client data; submit the challenge's take;
 *   taken (worker): the challenge's kind and binding, the attestation; a
 *     refusal is recorded, a success submits register_fn with its entry;
 *   committed (committer): the session cache, the reply (the ID is the
 *     client's rawId, known before the submit).
 */
struct reg_op {
	struct authn_op op;
	const struct authn_principal *p;
	const char *source;
	char name[STORE_WEBAUTHN_NAME_MAX], res[128], detail[256];
	struct rp rp;
	struct wa_in in;
	struct authn_wa_registration reg;
	struct store_webauthn_cred cred;
	bool factor;
	struct take_job take;
	struct register_job j;
};

static void
reg_release(struct authn_op *op)
{
	struct reg_op *o = (struct reg_op *)op;

	authn_wa_registration_clear(&o->reg);
	wa_in_clear(&o->in);
}

static void
reg_ev(struct reg_op *o, struct audit_event *ev)
{
	authn_ev_init(ev, o->p, o->source, "auth.webauthn.register", o->res);
	ev->detail = o->detail;
	ev->outcome = AUDIT_DENIED;
}

static void
reg_committed(struct authn_op *op, enum pv_rc rc)
{
	struct reg_op *o = (struct reg_op *)op;
	const struct authn_principal *p = o->p;
	char t[32];

	if (rc == PV_E_CONFLICT || rc == PV_E_TOOBIG) {
		authn_op_finish(op, fail(&op->ar, PV_E_CONFLICT, rc == PV_E_CONFLICT ?
		    "This passkey is registered already" : "Too many passkeys: remove one first"));
		return;
	}
	if (rc == PV_OK) {
		if (o->j.verify_session) {
			authn_cache_set_state(op->s, p->session_id, o->j.new_flags, true, o->j.epoch);
			authn_cache_set_mfa(op->s, p->session_id, o->j.now_ms);
			authn_cache_set_mfa_method(op->s, p->session_id, "webauthn");
		}
		util_time_fmt(o->cred.created_ms, t, sizeof(t));
		rc = authn_op_reply(op, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "id", o->cred.id,
		    "name", o->cred.name, "alg", alg_name(o->cred.alg), "attestation", o->reg.fmt,
		    "created_at", t, "restricted", o->j.new_flags != 0));
	}
	authn_op_finish(op, rc);
}

static enum pv_rc
reg_taken(struct reg_op *o, enum pv_rc rc)
{
	const struct authn_principal *p = o->p;
	struct authn_result *ar = &o->op.ar;
	const char *reason = "client_data_invalid";
	struct audit_event ev;

	if (rc != PV_OK)
		return rc;
	reg_ev(o, &ev);
	rc = taken_check(&o->take, "register", p->user_id, p->session_id, &reason);
	if (rc == PV_OK)
		rc = authn_wa_registration_verify(o->in.att, o->in.att_len, o->in.cdj, o->in.cdj_len,
		    o->rp.id, &o->reg, &reason);
	if (rc == PV_OK && (o->reg.cred_id_len != o->in.raw_id_len ||
	    memcmp(o->reg.cred_id, o->in.raw_id, o->in.raw_id_len) != 0)) {
		reason = "credential_id_mismatch";
		rc = PV_E_WEBAUTHN;
	}
	if (rc == PV_E_WEBAUTHN) {
		ev.reason = reason;
		return authn_op_refuse(&o->op, &ev, fail(ar, PV_E_WEBAUTHN, reason_message(reason)));
	}
	if (rc != PV_OK)
		return rc;
	util_strlcpy(o->cred.id, o->in.id, sizeof(o->cred.id));
	util_strlcpy(o->cred.user_id, p->user_id, sizeof(o->cred.user_id));
	o->cred.public_key = o->reg.cose_key;
	o->cred.public_key_len = o->reg.cose_key_len;
	o->cred.alg = o->reg.alg;
	o->cred.sign_count = o->reg.sign_count;
	util_strlcpy(o->cred.name, o->name, sizeof(o->cred.name));
	util_hex_encode(o->reg.aaguid, sizeof(o->reg.aaguid), o->cred.aaguid);
	o->cred.created_ms = util_now_ms();
	/* the user's first second factor (the enrolment, as TOTP's
	 * confirmation): this session has proved it, with UV */
	o->j.cred = &o->cred;
	o->j.p = p;
	o->j.new_flags = p->restrict_flags & ~AUTHN_RESTRICT_MFA_ENROL;
	o->j.verify_session = !o->factor;
	o->j.now_ms = o->cred.created_ms;
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = o->reg.fmt;
	return authn_op_submit(&o->op, &ev, register_fn, &o->j, reg_committed, false);
}

static void
reg_taken_step(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, reg_taken((struct reg_op *)op, rc));
}

static enum pv_rc
reg_start(struct reg_op *o, const json_t *cj, const char *name)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	const struct authn_principal *p = o->p;
	const char *reason = "client_data_invalid";
	struct audit_event ev;
	size_t n = 0;
	enum pv_rc rc;

	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if (name == NULL)
		name = "passkey";
	if (!name_ok(name))
		return fail(ar, PV_E_INVALID,
		    "name must be 1 to 64 printable characters without quotes or backslashes");
	util_strlcpy(o->name, name, sizeof(o->name));
	if ((rc = rp_get(s, &o->rp)) != PV_OK)
		return rc;
	if ((rc = parse_cred(cj, false, &o->in, ar)) != PV_OK)
		return rc;
	snprintf(o->res, sizeof(o->res), "users/%s", p->user_id);
	cred_detail(o->in.id, o->detail, sizeof(o->detail));
	reg_ev(o, &ev);
	if ((rc = creds_read(s, p->user_id, false, NULL, &n)) != PV_OK ||
	    (rc = has_factor(s, p, n, &o->factor)) != PV_OK)
		return rc;
	if (o->factor && !mfa_fresh(p)) {
		ev.reason = "step_up_required";
		return authn_op_refuse(&o->op, &ev, fail(ar, PV_E_STEP_UP, ADD_NEEDS_STEP_UP));
	}
	rc = client_data(&o->rp, &o->in, "webauthn.create", &o->take, &reason);
	if (rc == PV_E_WEBAUTHN) {
		ev.reason = reason;
		return authn_op_refuse(&o->op, &ev, fail(ar, PV_E_WEBAUTHN, reason_message(reason)));
	}
	if (rc != PV_OK)
		return rc;
	return authn_op_submit(&o->op, NULL, take_fn, &o->take, reg_taken_step, true);
}

void
authn_webauthn_register_finish_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const json_t *cj, const char *name, authn_done_fn done, void *arg)
{
	struct reg_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = reg_release;
	o->p = p;
	o->source = source;
	authn_op_run(&o->op, reg_start(o, cj, name));
}

enum pv_rc
authn_webauthn_register_finish(struct authn_service *s, const struct authn_principal *p,
    const char *source, const json_t *cj, const char *name, json_t **out,
    struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_webauthn_register_finish_async(s, p, source, cj, name, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ------------------------------------------------------------------ */
/* assertions: login second step and step-up                           */
/* ------------------------------------------------------------------ */

/* Verify the assertion in `in` by a credential of user_id (after the
 * challenge); *cred is the stored credential, *count the new counter. */
static enum pv_rc
assertion_check(struct authn_service *s, const struct rp *rp, const struct wa_in *in,
    const char *user_id, struct store_webauthn_cred *cred, uint32_t *count, const char **reason)
{
	char handle[STORE_WEBAUTHN_HANDLE_MAX];
	enum pv_rc rc;

	STORE_READ(s->st, rc, store_webauthn_cred_get(tx, in->id, cred));
	if (rc == PV_E_NOTFOUND || (rc == PV_OK && strcmp(cred->user_id, user_id) != 0)) {
		*reason = "unknown_credential";
		return PV_E_WEBAUTHN;
	}
	if (rc != PV_OK)
		return rc;
	if (in->user_handle != NULL) {
		char given[STORE_WEBAUTHN_HANDLE_MAX];

		STORE_READ(s->st, rc, store_webauthn_handle_get(tx, user_id, handle));
		if (rc != PV_OK && rc != PV_E_NOTFOUND)
			return rc;
		if (rc == PV_E_NOTFOUND ||
		    authn_wa_b64url_encode(in->user_handle, in->user_handle_len, given,
		    sizeof(given)) != PV_OK || strcmp(given, handle) != 0) {
			*reason = "user_handle_mismatch";
			return PV_E_WEBAUTHN;
		}
	}
	return authn_wa_assertion_verify(in->ad, in->ad_len, in->cdj, in->cdj_len, in->sig,
	    in->sig_len, rp->id, cred->public_key, cred->public_key_len, cred->alg,
	    cred->sign_count, count, reason);
}

/* The first step of an assertion's finish, one transaction: the attempt's
 * lockout reservation (login: the pending login's try and the MFA slot;
 * step-up: the MFA slot) and the challenge's take. A locked account, a
 * spent pending login: fn fails, nothing is taken. */
struct assert_reserve_job {
	bool step_up;
	struct authn_mfa_reserve_job mr;     /* login */
	struct authn_reserve_job lr;         /* step-up */
	struct take_job take;
};

static enum pv_rc
assert_reserve_fn(struct store_tx *tx, void *arg)
{
	struct assert_reserve_job *j = arg;
	enum pv_rc rc;

	rc = j->step_up ? authn_lockout_reserve_fn(tx, &j->lr) : authn_mfa_reserve_fn(tx, &j->mr);
	if (rc != PV_OK)
		return rc;
	return take_in(tx, &j->take);
}

enum pv_rc
authn_webauthn_login_begin(struct authn_service *s, const char *source, const char *mtok,
    json_t **out, struct authn_result *ar)
{
	char phash[AUTHN_HASH_HEX_MAX];
	struct store_mfa_pending pend;
	struct rp rp;
	enum pv_rc rc;

	(void)source;
	memset(ar, 0, sizeof(*ar));
	if (mtok == NULL)
		return fail(ar, PV_E_INVALID, "mfa_token is required");
	if ((rc = rp_get(s, &rp)) != PV_OK)
		return rc;
	rc = authn_token_hash(AUTHN_TOKEN_MFA, mtok, phash);
	if (rc == PV_OK)
		STORE_READ(s->st, rc, store_mfa_pending_get(tx, phash, &pend));
	else
		rc = PV_E_NOTFOUND;
	if (rc == PV_E_NOTFOUND || (rc == PV_OK && pend.expires_ms <= util_now_ms()))
		return fail(ar, PV_E_UNAUTH,
		    "Invalid or expired MFA token: log in again with the password");
	if (rc != PV_OK)
		return rc;
	return get_options(s, &rp, "login", pend.user_id, phash,
	    "No passkey registered: use the TOTP code", ar, out);
}

/*
 * authn_webauthn_login_finish in steps (pending.c):
 *   start (request thread): the body, throttle slot, the pending login and
 *     its user, the client data; submit the reservation with the take
 *     (assert_reserve_fn);
 *   reserved (worker): the challenge, the assertion; a refusal is recorded
 *     (with auth.lockout if it locked the account), a success completes the
 *     MFA step exactly as a TOTP code does (authn_mfa_complete, login.c);
 *   committed (committer, login.c): the session reply.
 */
struct login_op {
	struct authn_mfa_op m;               /* first: authn_mfa_complete's */
	const char *source;
	char src[AUTHN_SOURCE_MAX], phash[AUTHN_HASH_HEX_MAX], res[128], detail[256];
	struct rp rp;
	struct wa_in in;
	struct store_mfa_pending pend;
	struct store_user u;
	struct store_webauthn_cred cred;
	enum pv_rc cd_rc;                    /* the client data's check */
	const char *cd_reason;
	int64_t now;
	struct assert_reserve_job rj;
};

static void
login_release(struct authn_op *op)
{
	struct login_op *o = (struct login_op *)op;

	store_webauthn_cred_clear(&o->cred);
	store_user_clear(&o->u);
	wa_in_clear(&o->in);
}

/* The auth.webauthn.login entry as far as the user is known. */
static void
login_ev(struct login_op *o, struct audit_event *ev)
{
	authn_ev_init(ev, NULL, o->source, "auth.webauthn.login", "auth");
	ev->outcome = AUDIT_DENIED;
	if (o->u.id[0] != '\0') {
		ev->actor.user_id = o->u.id;
		ev->resource = o->res;
		ev->detail = o->detail;
	}
}

#define MFA_TOKEN_INVALID "Invalid or expired MFA token: log in again with the password"

static enum pv_rc
login_check(struct login_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->m.op.s;
	struct authn_result *ar = &o->m.op.ar;
	const char *reason = o->cd_reason;
	struct audit_event ev;
	uint32_t count = 0;

	login_ev(o, &ev);
	if (rc == PV_E_LOCKED || rc == PV_E_TOOBIG || rc == PV_E_NOTFOUND) {
		ev.reason = rc == PV_E_LOCKED ? "locked" : rc == PV_E_TOOBIG ?
		    "too_many_attempts" : "invalid_mfa_token";
		return authn_op_refuse(&o->m.op, &ev, rc == PV_E_LOCKED ?
		    locked_reply(ar, o->rj.mr.retry_after_s) : fail(ar, PV_E_UNAUTH,
		    rc == PV_E_TOOBIG ?
		    "Too many failed attempts for this login: log in again with the password" :
		    MFA_TOKEN_INVALID));
	}
	if (rc != PV_OK)
		return rc;
	rc = o->cd_rc;
	if (rc == PV_OK)
		rc = taken_check(&o->rj.take, "login", o->u.id, o->phash, &reason);
	if (rc == PV_OK)
		rc = assertion_check(s, &o->rp, &o->in, o->u.id, &o->cred, &count, &reason);
	if (rc == PV_E_WEBAUTHN) {
		ev.reason = reason;
		return refuse(&o->m.op, &ev, fail(ar, PV_E_WEBAUTHN, reason_message(reason)),
		    o->rj.mr.locked_now, o->u.id, o->source, o->res);
	}
	if (rc != PV_OK)
		return rc;
	o->m.f.pending_hash = o->phash;
	o->m.f.step = -1;
	o->m.f.cred_id = o->cred.id;
	o->m.f.count = count;
	o->m.f.method = "webauthn";
	o->m.f.msg_unauth = "Invalid or expired MFA token: log in again";
	o->m.f.msg_webauthn = reason_message("counter_rollback");
	o->m.f.now_ms = o->now;
	ev.reason = "webauthn";
	return authn_mfa_complete(&o->m, &o->u, o->source, o->src, &ev);
}

static void
login_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, login_check((struct login_op *)op, rc));
}

static enum pv_rc
login_start(struct login_op *o, const char *mtok, const json_t *cj)
{
	struct authn_service *s = o->m.op.s;
	struct authn_result *ar = &o->m.op.ar;
	struct audit_event ev;
	int retry = 0;
	enum pv_rc rc;

	if (mtok == NULL)
		return fail(ar, PV_E_INVALID, "mfa_token is required");
	if ((rc = rp_get(s, &o->rp)) != PV_OK)
		return rc;
	if ((rc = parse_cred(cj, true, &o->in, ar)) != PV_OK)
		return rc;
	authn_source_key(o->source, o->src);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited(&o->m.op, o->source, NULL, "auth.webauthn.login", "auth", retry);
	login_ev(o, &ev);
	rc = authn_token_hash(AUTHN_TOKEN_MFA, mtok, o->phash);
	if (rc == PV_OK)
		STORE_READ(s->st, rc, store_mfa_pending_get(tx, o->phash, &o->pend));
	else
		rc = PV_E_NOTFOUND;
	if (rc == PV_E_NOTFOUND || (rc == PV_OK && o->pend.expires_ms <= o->now)) {
		ev.reason = "invalid_mfa_token";
		return authn_op_refuse(&o->m.op, &ev, fail(ar, PV_E_UNAUTH, MFA_TOKEN_INVALID));
	}
	if (rc != PV_OK)
		return rc;
	STORE_READ(s->st, rc, store_user_get(tx, o->pend.user_id, &o->u));
	if (rc != PV_OK) {
		memset(&o->u, 0, sizeof(o->u));
		return rc == PV_E_NOTFOUND ? fail(ar, PV_E_UNAUTH, "Invalid username or password") :
		    rc;
	}
	snprintf(o->res, sizeof(o->res), "users/%s", o->u.id);
	cred_detail(o->in.id, o->detail, sizeof(o->detail));
	login_ev(o, &ev);
	if (o->u.disabled || o->u.credential_epoch != o->pend.credential_epoch) {
		ev.reason = o->u.disabled ? "disabled" : "credentials_changed";
		return authn_op_refuse(&o->m.op, &ev, fail(ar, PV_E_UNAUTH,
		    "Invalid username or password"));
	}
	/* a client data refusal is still an attempt: reserved, then refused */
	o->cd_rc = client_data(&o->rp, &o->in, "webauthn.get", &o->rj.take, &o->cd_reason);
	if (o->cd_rc != PV_OK && o->cd_rc != PV_E_WEBAUTHN)
		return o->cd_rc;
	o->rj.step_up = false;
	o->rj.mr.s = s;
	o->rj.mr.pending_hash = o->phash;
	o->rj.mr.mfa_key = o->u.username;
	o->rj.mr.now_ms = o->now;
	return authn_op_submit(&o->m.op, NULL, assert_reserve_fn, &o->rj, login_reserved, true);
}

void
authn_webauthn_login_finish_async(struct authn_service *s, const char *source, const char *mtok,
    const json_t *cj, authn_done_fn done, void *arg)
{
	struct login_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->m.op.release = login_release;
	o->source = source;
	o->now = util_now_ms();
	o->cd_reason = "client_data_invalid";
	authn_op_run(&o->m.op, login_start(o, mtok, cj));
}

enum pv_rc
authn_webauthn_login_finish(struct authn_service *s, const char *source, const char *mtok,
    const json_t *cj, json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_webauthn_login_finish_async(s, source, mtok, cj, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

enum pv_rc
authn_webauthn_step_up_begin(struct authn_service *s, const struct authn_principal *p,
    const char *source, json_t **out, struct authn_result *ar)
{
	struct rp rp;
	enum pv_rc rc;

	(void)source;
	memset(ar, 0, sizeof(*ar));
	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if ((rc = rp_get(s, &rp)) != PV_OK)
		return rc;
	return get_options(s, &rp, "step_up", p->user_id, p->session_id,
	    "No passkey registered: register one (POST /v1/auth/webauthn/register/begin)", ar, out);
}

struct step_job {
	const char *cred_id;
	uint32_t count;
	const char *key;
	const char *session_id;
	int64_t now_ms;
};

static enum pv_rc
step_fn(struct store_tx *tx, void *arg)
{
	struct step_job *j = arg;
	struct store_lockout zero = { 0, 0, 0 };
	enum pv_rc rc;

	rc = store_webauthn_cred_use(tx, j->cred_id, j->count, j->now_ms);
	if (rc != PV_OK)
		return rc == PV_E_NOTFOUND ? PV_E_WEBAUTHN : rc;
	if ((rc = store_lockout_put(tx, j->key, MFA_KIND, &zero)) != PV_OK)
		return rc;
	rc = store_session_set_mfa(tx, j->session_id, j->now_ms);
	if (rc == PV_OK)
		rc = store_session_set_mfa_method(tx, j->session_id, "webauthn");
	return rc == PV_E_NOTFOUND ? PV_E_UNAUTH : rc;
}

/*
 * authn_webauthn_step_up in steps (pending.c):
 *   start (request thread): the body, throttle slot, the user, the client
 *     data; submit the MFA lockout reservation with the take;
 *   reserved (worker): the challenge, the assertion; a refusal is recorded,
 *     a success submits step_fn with auth.step_up;
 *   committed (committer): the session cache, the reply.
 */
struct step_op {
	struct authn_op op;
	const struct authn_principal *p;
	const char *source;
	char src[AUTHN_SOURCE_MAX], res[128], detail[256];
	struct rp rp;
	struct wa_in in;
	struct store_user u;
	struct store_webauthn_cred cred;
	enum pv_rc cd_rc;
	const char *cd_reason;
	int64_t now;
	struct assert_reserve_job rj;
	struct step_job j;
};

static void
step_release(struct authn_op *op)
{
	struct step_op *o = (struct step_op *)op;

	store_webauthn_cred_clear(&o->cred);
	store_user_clear(&o->u);
	wa_in_clear(&o->in);
}

static void
step_committed(struct authn_op *op, enum pv_rc rc)
{
	struct step_op *o = (struct step_op *)op;
	char t[32];

	if (rc == PV_E_WEBAUTHN)
		rc = fail(&op->ar, rc, reason_message("counter_rollback"));
	if (rc == PV_OK) {
		authn_cache_set_mfa(op->s, o->p->session_id, o->now);
		authn_cache_set_mfa_method(op->s, o->p->session_id, "webauthn");
		util_time_fmt(o->now, t, sizeof(t));
		rc = authn_op_reply(op, json_pack("{s:b, s:s, s:s}", "mfa_verified", 1, "mfa_at", t,
		    "mfa_method", "webauthn"));
	}
	authn_op_finish(op, rc);
}

static enum pv_rc
step_check(struct step_op *o, enum pv_rc rc)
{
	struct authn_service *s = o->op.s;
	struct authn_result *ar = &o->op.ar;
	const struct authn_principal *p = o->p;
	const char *reason = o->cd_reason;
	struct audit_event ev;
	uint32_t count = 0;
	bool locked_now = false;
	int retry = 0;

	authn_ev_init(&ev, p, o->source, "auth.step_up", o->res);
	ev.outcome = AUDIT_DENIED;
	ev.detail = o->detail;
	rc = authn_lockout_reserved(&o->rj.lr, rc, &retry, &locked_now);
	if (rc == PV_E_LOCKED) {
		ev.reason = "locked";
		return authn_op_refuse(&o->op, &ev, locked_reply(ar, retry));
	}
	if (rc != PV_OK)
		return rc;
	rc = o->cd_rc;
	if (rc == PV_OK)
		rc = taken_check(&o->rj.take, "step_up", p->user_id, p->session_id, &reason);
	if (rc == PV_OK)
		rc = assertion_check(s, &o->rp, &o->in, p->user_id, &o->cred, &count, &reason);
	if (rc == PV_E_WEBAUTHN) {
		ev.reason = reason;
		return refuse(&o->op, &ev, fail(ar, PV_E_WEBAUTHN, reason_message(reason)),
		    locked_now, o->u.id, o->source, o->res);
	}
	if (rc != PV_OK)
		return rc;
	authn_throttle_release(s->throttle, o->src, o->now);
	o->j.cred_id = o->cred.id;
	o->j.count = count;
	o->j.key = o->u.username;
	o->j.session_id = p->session_id;
	o->j.now_ms = o->now;
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "webauthn";
	return authn_op_submit(&o->op, &ev, step_fn, &o->j, step_committed, false);
}

static void
step_reserved(struct authn_op *op, enum pv_rc rc)
{
	authn_op_run(op, step_check((struct step_op *)op, rc));
}

static enum pv_rc
step_start(struct step_op *o, const json_t *cj)
{
	struct authn_service *s = o->op.s;
	const struct authn_principal *p = o->p;
	int retry = 0;
	enum pv_rc rc;

	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if ((rc = rp_get(s, &o->rp)) != PV_OK)
		return rc;
	if ((rc = parse_cred(cj, true, &o->in, &o->op.ar)) != PV_OK)
		return rc;
	authn_source_key(o->source, o->src);
	snprintf(o->res, sizeof(o->res), "sessions/%s", p->session_id);
	if (authn_throttle_reserve(s->throttle, o->src, o->now, &retry) == PV_E_RATE)
		return rate_limited(&o->op, o->source, p, "auth.step_up", o->res, retry);
	cred_detail(o->in.id, o->detail, sizeof(o->detail));
	STORE_READ(s->st, rc, store_user_get(tx, p->user_id, &o->u));
	if (rc != PV_OK) {
		memset(&o->u, 0, sizeof(o->u));
		return rc == PV_E_NOTFOUND ? PV_E_UNAUTH : rc;
	}
	/* a client data refusal is still an attempt: reserved, then refused */
	o->cd_rc = client_data(&o->rp, &o->in, "webauthn.get", &o->rj.take, &o->cd_reason);
	if (o->cd_rc != PV_OK && o->cd_rc != PV_E_WEBAUTHN)
		return o->cd_rc;
	o->rj.step_up = true;
	o->rj.lr.s = s;
	o->rj.lr.key = o->u.username;
	o->rj.lr.kind = MFA_KIND;
	return authn_op_submit(&o->op, NULL, assert_reserve_fn, &o->rj, step_reserved, true);
}

void
authn_webauthn_step_up_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const json_t *cj, authn_done_fn done, void *arg)
{
	struct step_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = step_release;
	o->p = p;
	o->source = source;
	o->now = util_now_ms();
	o->cd_reason = "client_data_invalid";
	authn_op_run(&o->op, step_start(o, cj));
}

enum pv_rc
authn_webauthn_step_up(struct authn_service *s, const struct authn_principal *p,
    const char *source, const json_t *cj, json_t **out, struct authn_result *ar)
{
	struct authn_wait w;

	authn_wait_init(&w);
	authn_webauthn_step_up_async(s, p, source, cj, authn_wait_done, &w);
	return authn_wait_end(&w, out, ar);
}

/* ------------------------------------------------------------------ */
/* list, remove                                                        */
/* ------------------------------------------------------------------ */

enum pv_rc
authn_webauthn_list(struct authn_service *s, const struct authn_principal *p, json_t **out)
{
	json_t *arr = NULL;
	enum pv_rc rc;

	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if ((rc = creds_read(s, p->user_id, true, &arr, NULL)) != PV_OK)
		return rc;
	if ((*out = json_pack("{s:o}", "credentials", arr)) == NULL)
		return PV_E_NOMEM;
	return PV_OK;
}

/* Heap memory: it runs later, on the committer (audit_commit_held). */
struct remove_job {
	char user_id[UTIL_ID_MAX];
	char id[STORE_WEBAUTHN_ID_MAX];
};

static enum pv_rc
remove_fn(struct store_tx *tx, void *arg)
{
	struct remove_job *j = arg;

	return store_webauthn_cred_delete(tx, j->user_id, j->id);
}

#define NO_SUCH_PASSKEY "No such passkey"

/*
 * The answer (204, or 404 for a passkey that is not the caller's) is known
 * from a read before the submit; the delete and its entry go through
 * audit_commit_held (no thread waits; a delete that fails on the writer,
 * e.g. a concurrent removal, turns the 204 into fn's 404). A 404 still
 * commits the entry (outcome error, as audit_commit records a failed fn).
 */
enum pv_rc
authn_webauthn_remove(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *id, struct authn_result *ar)
{
	char res[128], detail[256];
	struct store_webauthn_cred cred;
	struct audit_event ev;
	struct remove_job *j;
	int64_t now = util_now_ms();
	bool mine;
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if (id == NULL || id[0] == '\0' || strlen(id) >= STORE_WEBAUTHN_ID_MAX)
		return fail(ar, PV_E_NOTFOUND, NO_SUCH_PASSKEY);
	snprintf(res, sizeof(res), "users/%s", p->user_id);
	cred_detail(id, detail, sizeof(detail));
	authn_ev_init(&ev, p, source, "auth.webauthn.remove", res);
	ev.detail = detail;
	/* removing a second factor needs a fresh one (RFC 9470 max_age) */
	if (!p->mfa_verified || p->mfa_at_ms <= 0 || now - p->mfa_at_ms > AUTHN_WA_FRESH_S * 1000) {
		ev.outcome = AUDIT_DENIED;
		ev.reason = "step_up_required";
		if (audit_record_held(s->audit, &ev, true) != PV_OK)
			return PV_E_AUDIT;
		return fail(ar, PV_E_STEP_UP,
		    "Removing a passkey needs a multi-factor authentication in the last 5 minutes: "
		    "step up first (POST /v1/auth/step-up)");
	}
	memset(&cred, 0, sizeof(cred));
	STORE_READ(s->st, rc, store_webauthn_cred_get(tx, id, &cred));
	if (rc != PV_OK && rc != PV_E_NOTFOUND)
		return rc;
	mine = rc == PV_OK && strcmp(cred.user_id, p->user_id) == 0;
	store_webauthn_cred_clear(&cred);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_E_NOMEM;
	util_strlcpy(j->user_id, p->user_id, sizeof(j->user_id));
	util_strlcpy(j->id, id, sizeof(j->id));
	rc = audit_commit_held(s->audit, &ev, remove_fn, j, free);
	if (rc == PV_E_NOTFOUND || (rc == PV_OK && !mine))
		return fail(ar, PV_E_NOTFOUND, NO_SUCH_PASSKEY);
	return rc;
}
