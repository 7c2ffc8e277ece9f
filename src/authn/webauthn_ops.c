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

struct challenge_job {
	struct store_webauthn_challenge c;
	const char *user_id;                 /* register: ensure the user handle */
	char handle[STORE_WEBAUTHN_HANDLE_MAX];   /* out */
	int64_t now_ms;
};

static enum pv_rc
challenge_fn(struct store_tx *tx, void *arg)
{
	struct challenge_job *j = arg;
	enum pv_rc rc;

	if (j->user_id != NULL) {
		rc = store_webauthn_handle_get(tx, j->user_id, j->handle);
		if (rc == PV_E_NOTFOUND) {
			uint8_t r[32];

			if ((rc = crypto_random(r, sizeof(r))) != PV_OK ||
			    (rc = authn_wa_b64url_encode(r, sizeof(r), j->handle,
			    sizeof(j->handle))) != PV_OK ||
			    (rc = store_webauthn_handle_put(tx, j->user_id, j->handle)) != PV_OK)
				return rc;
		} else if (rc != PV_OK) {
			return rc;
		}
	}
	return store_webauthn_challenge_put(tx, &j->c, j->now_ms);
}

/* A new challenge of kind for user_id bound to bind; *j holds it. */
static enum pv_rc
challenge_new(struct authn_service *s, const char *kind, const char *user_id, const char *bind,
    bool with_handle, struct challenge_job *j)
{
	uint8_t r[AUTHN_WA_CHALLENGE_LEN];
	enum pv_rc rc;

	memset(j, 0, sizeof(*j));
	j->now_ms = util_now_ms();
	if ((rc = crypto_random(r, sizeof(r))) != PV_OK ||
	    (rc = authn_wa_b64url_encode(r, sizeof(r), j->c.challenge, sizeof(j->c.challenge))) !=
	    PV_OK)
		return rc;
	util_strlcpy(j->c.kind, kind, sizeof(j->c.kind));
	util_strlcpy(j->c.user_id, user_id, sizeof(j->c.user_id));
	util_strlcpy(j->c.bind, bind, sizeof(j->c.bind));
	j->c.expires_ms = j->now_ms + AUTHN_WA_TIMEOUT_MS;
	j->user_id = with_handle ? user_id : NULL;
	return audit_commit(s->audit, NULL, challenge_fn, j);
}

struct take_job {
	const char *challenge;
	int64_t now_ms;
	struct store_webauthn_challenge out;
};

static enum pv_rc
take_fn(struct store_tx *tx, void *arg)
{
	struct take_job *j = arg;

	return store_webauthn_challenge_take(tx, j->challenge, j->now_ms, &j->out);
}

/* Check the client data and take its challenge, which must be of kind for
 * user_id bound to bind. PV_E_WEBAUTHN with *reason. */
static enum pv_rc
challenge_check(struct authn_service *s, const struct rp *rp, const struct wa_in *in,
    const char *type, const char *kind, const char *user_id, const char *bind,
    const char **reason)
{
	char ch[AUTHN_WA_CHALLENGE_B64_MAX];
	struct take_job j;
	enum pv_rc rc;

	if ((rc = authn_wa_client_data(in->cdj, in->cdj_len, type, rp->origin, ch, reason)) !=
	    PV_OK)
		return rc;
	memset(&j, 0, sizeof(j));
	j.challenge = ch;
	j.now_ms = util_now_ms();
	rc = audit_commit(s->audit, NULL, take_fn, &j);
	if (rc == PV_E_NOTFOUND || rc == PV_E_EXPIRED) {
		*reason = rc == PV_E_EXPIRED ? "challenge_expired" : "challenge_unknown";
		return PV_E_WEBAUTHN;
	}
	if (rc != PV_OK)
		return rc;
	if (strcmp(j.out.kind, kind) != 0 || strcmp(j.out.user_id, user_id) != 0 ||
	    strcmp(j.out.bind, bind) != 0) {
		*reason = "challenge_unknown";
		return PV_E_WEBAUTHN;
	}
	return PV_OK;
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
	struct challenge_job j;
	json_t *allow = NULL;
	size_t n = 0;
	enum pv_rc rc;

	if ((rc = creds_read(s, user_id, false, &allow, &n)) != PV_OK)
		return rc;
	if (n == 0) {
		json_decref(allow);
		return fail(ar, PV_E_CONFLICT, none_msg);
	}
	if ((rc = challenge_new(s, kind, user_id, bind, false, &j)) != PV_OK) {
		json_decref(allow);
		return rc;
	}
	if ((*out = request_options(rp, j.c.challenge, allow)) == NULL)
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
	struct challenge_job j;
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
	if ((rc = challenge_new(s, "register", p->user_id, p->session_id, true, &j)) != PV_OK) {
		json_decref(exclude);
		return rc;
	}
	o = json_pack("{s:{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:i}, {s:s, s:i}], "
	    "s:i, s:s, s:{s:s, s:b, s:s}, s:o}}", "publicKey",
	    "challenge", j.c.challenge,
	    "rp", "id", rp.id, "name", RP_NAME,
	    "user", "id", j.handle, "name", p->username, "displayName", p->username,
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

enum pv_rc
authn_webauthn_register_finish(struct authn_service *s, const struct authn_principal *p,
    const char *source, const json_t *cj, const char *name, json_t **out,
    struct authn_result *ar)
{
	struct authn_wa_registration reg;
	struct store_webauthn_cred cred;
	struct audit_event ev;
	struct wa_in in;
	struct rp rp;
	const char *reason = "client_data_invalid";
	char res[128], detail[256];
	size_t n = 0;
	bool factor = false;
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	memset(&reg, 0, sizeof(reg));
	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if (name == NULL)
		name = "passkey";
	if (!name_ok(name))
		return fail(ar, PV_E_INVALID,
		    "name must be 1 to 64 printable characters without quotes or backslashes");
	if ((rc = rp_get(s, &rp)) != PV_OK)
		return rc;
	if ((rc = parse_cred(cj, false, &in, ar)) != PV_OK)
		return rc;
	snprintf(res, sizeof(res), "users/%s", p->user_id);
	cred_detail(in.id, detail, sizeof(detail));
	authn_ev_init(&ev, p, source, "auth.webauthn.register", res);
	ev.detail = detail;
	ev.outcome = AUDIT_DENIED;
	if ((rc = creds_read(s, p->user_id, false, NULL, &n)) != PV_OK ||
	    (rc = has_factor(s, p, n, &factor)) != PV_OK)
		goto out;
	if (factor && !mfa_fresh(p)) {
		ev.reason = "step_up_required";
		rc = audit_record(s->audit, &ev) != PV_OK ? PV_E_AUDIT :
		    fail(ar, PV_E_STEP_UP, ADD_NEEDS_STEP_UP);
		goto out;
	}
	rc = challenge_check(s, &rp, &in, "webauthn.create", "register", p->user_id,
	    p->session_id, &reason);
	if (rc == PV_OK)
		rc = authn_wa_registration_verify(in.att, in.att_len, in.cdj, in.cdj_len, rp.id, &reg,
		    &reason);
	if (rc == PV_OK && (reg.cred_id_len != in.raw_id_len ||
	    memcmp(reg.cred_id, in.raw_id, in.raw_id_len) != 0)) {
		reason = "credential_id_mismatch";
		rc = PV_E_WEBAUTHN;
	}
	if (rc == PV_E_WEBAUTHN) {
		ev.reason = reason;
		rc = audit_record(s->audit, &ev) != PV_OK ? PV_E_AUDIT :
		    fail(ar, PV_E_WEBAUTHN, reason_message(reason));
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	memset(&cred, 0, sizeof(cred));
	util_strlcpy(cred.id, in.id, sizeof(cred.id));
	util_strlcpy(cred.user_id, p->user_id, sizeof(cred.user_id));
	cred.public_key = reg.cose_key;
	cred.public_key_len = reg.cose_key_len;
	cred.alg = reg.alg;
	cred.sign_count = reg.sign_count;
	util_strlcpy(cred.name, name, sizeof(cred.name));
	util_hex_encode(reg.aaguid, sizeof(reg.aaguid), cred.aaguid);
	cred.created_ms = util_now_ms();
	{
		struct register_job j = { &cred, p, p->restrict_flags & ~AUTHN_RESTRICT_MFA_ENROL,
			!factor, cred.created_ms, 0 };
		char t[32];

		/* the user's first second factor (the enrolment, as TOTP's
		 * confirmation): this session has proved it, with UV */
		ev.outcome = AUDIT_ALLOWED;
		ev.reason = reg.fmt;
		rc = audit_commit(s->audit, &ev, register_fn, &j);
		if (rc == PV_E_CONFLICT || rc == PV_E_TOOBIG) {
			rc = fail(ar, PV_E_CONFLICT, rc == PV_E_CONFLICT ?
			    "This passkey is registered already" :
			    "Too many passkeys: remove one first");
			goto out;
		}
		if (rc != PV_OK)
			goto out;
		if (j.verify_session) {
			authn_cache_set_state(s, p->session_id, j.new_flags, true, j.epoch);
			authn_cache_set_mfa(s, p->session_id, j.now_ms);
			authn_cache_set_mfa_method(s, p->session_id, "webauthn");
		}
		util_time_fmt(cred.created_ms, t, sizeof(t));
		*out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "id", cred.id, "name", cred.name,
		    "alg", alg_name(cred.alg), "attestation", reg.fmt, "created_at", t,
		    "restricted", j.new_flags != 0);
		rc = *out != NULL ? PV_OK : PV_E_NOMEM;
	}
out:
	authn_wa_registration_clear(&reg);
	wa_in_clear(&in);
	return rc;
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

struct login_job {
	const char *cred_id;
	uint32_t count;
	const char *pending_hash;
	const char *mfa_key;
	const struct store_session *session;
	int64_t now_ms;
};

static enum pv_rc
login_fn(struct store_tx *tx, void *arg)
{
	struct login_job *j = arg;
	struct store_lockout zero = { 0, 0, 0 };
	enum pv_rc rc;

	/* the counter moves forward once: a concurrent use of one assertion loses */
	rc = store_webauthn_cred_use(tx, j->cred_id, j->count, j->now_ms);
	if (rc != PV_OK)
		return rc == PV_E_NOTFOUND ? PV_E_WEBAUTHN : rc;
	rc = store_mfa_pending_delete(tx, j->pending_hash, j->now_ms);
	if (rc != PV_OK)
		return rc == PV_E_NOTFOUND ? PV_E_UNAUTH : rc;
	if ((rc = store_lockout_put(tx, j->mfa_key, MFA_KIND, &zero)) != PV_OK ||
	    (rc = store_session_put(tx, j->session)) != PV_OK)
		return rc;
	return store_session_set_mfa_method(tx, j->session->id, "webauthn");
}

static enum pv_rc
rate_limited(struct authn_service *s, const char *source, const struct authn_principal *p,
    const char *action, const char *resource, int retry, struct authn_result *ar)
{
	struct audit_event ev;

	authn_ev_init(&ev, p, source, action, resource);
	ev.outcome = AUDIT_DENIED;
	ev.reason = "rate_limited";
	if (audit_record(s->audit, &ev) != PV_OK)
		return PV_E_AUDIT;
	ar->retry_after_s = retry > 0 ? retry : 1;
	return fail(ar, PV_E_RATE, "Too many failed attempts from this address");
}

static void
lockout_event(struct authn_service *s, const char *user_id, const char *source,
    const char *resource)
{
	struct audit_event ev;

	authn_ev_init(&ev, NULL, source, "auth.lockout", resource);
	ev.actor.user_id = user_id;
	ev.outcome = AUDIT_DENIED;
	ev.reason = MFA_KIND;
	if (audit_record(s->audit, &ev) != PV_OK)
		log_error("authn: lockout not recorded");
}

static enum pv_rc
locked_reply(struct authn_result *ar, int retry)
{
	ar->retry_after_s = retry > 0 ? retry : 1;
	return fail(ar, PV_E_LOCKED,
	    "Too many failed attempts: this account is temporarily locked");
}

enum pv_rc
authn_webauthn_login_finish(struct authn_service *s, const char *source, const char *mtok,
    const json_t *cj, json_t **out, struct authn_result *ar)
{
	char src[AUTHN_SOURCE_MAX], phash[AUTHN_HASH_HEX_MAX], res[128], detail[256];
	struct store_webauthn_cred cred;
	struct store_mfa_pending pend;
	struct store_user u;
	struct audit_event ev;
	struct wa_in in;
	struct rp rp;
	const char *reason = "client_data_invalid";
	int64_t now = util_now_ms();
	uint32_t count = 0;
	int retry = 0;
	bool locked_now = false;
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	memset(&u, 0, sizeof(u));
	memset(&cred, 0, sizeof(cred));
	memset(&in, 0, sizeof(in));
	if (mtok == NULL)
		return fail(ar, PV_E_INVALID, "mfa_token is required");
	if ((rc = rp_get(s, &rp)) != PV_OK)
		return rc;
	if ((rc = parse_cred(cj, true, &in, ar)) != PV_OK)
		return rc;
	authn_source_key(source, src);
	if (authn_throttle_reserve(s->throttle, src, now, &retry) == PV_E_RATE) {
		rc = rate_limited(s, source, NULL, "auth.webauthn.login", "auth", retry, ar);
		goto out;
	}
	authn_ev_init(&ev, NULL, source, "auth.webauthn.login", "auth");
	ev.outcome = AUDIT_DENIED;
	rc = authn_token_hash(AUTHN_TOKEN_MFA, mtok, phash);
	if (rc == PV_OK)
		STORE_READ(s->st, rc, store_mfa_pending_get(tx, phash, &pend));
	else
		rc = PV_E_NOTFOUND;
	if (rc == PV_E_NOTFOUND || (rc == PV_OK && pend.expires_ms <= now)) {
		ev.reason = "invalid_mfa_token";
		rc = audit_record(s->audit, &ev) != PV_OK ? PV_E_AUDIT : fail(ar, PV_E_UNAUTH,
		    "Invalid or expired MFA token: log in again with the password");
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	STORE_READ(s->st, rc, store_user_get(tx, pend.user_id, &u));
	if (rc != PV_OK) {
		rc = rc == PV_E_NOTFOUND ? fail(ar, PV_E_UNAUTH, "Invalid username or password") : rc;
		goto out;
	}
	snprintf(res, sizeof(res), "users/%s", u.id);
	cred_detail(in.id, detail, sizeof(detail));
	ev.actor.user_id = u.id;
	ev.resource = res;
	ev.detail = detail;
	if (u.disabled || u.credential_epoch != pend.credential_epoch) {
		ev.reason = u.disabled ? "disabled" : "credentials_changed";
		rc = audit_record(s->audit, &ev) != PV_OK ? PV_E_AUDIT :
		    fail(ar, PV_E_UNAUTH, "Invalid username or password");
		goto out;
	}
	rc = authn_mfa_pending_reserve(s, phash, u.username, now, &retry, &locked_now);
	if (rc == PV_E_LOCKED || rc == PV_E_TOOBIG || rc == PV_E_NOTFOUND) {
		ev.reason = rc == PV_E_LOCKED ? "locked" : rc == PV_E_TOOBIG ?
		    "too_many_attempts" : "invalid_mfa_token";
		if (audit_record(s->audit, &ev) != PV_OK)
			rc = PV_E_AUDIT;
		else if (rc == PV_E_LOCKED)
			rc = locked_reply(ar, retry);
		else
			rc = fail(ar, PV_E_UNAUTH, rc == PV_E_TOOBIG ?
			    "Too many failed attempts for this login: log in again with the password" :
			    "Invalid or expired MFA token: log in again with the password");
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	rc = challenge_check(s, &rp, &in, "webauthn.get", "login", u.id, phash, &reason);
	if (rc == PV_OK)
		rc = assertion_check(s, &rp, &in, u.id, &cred, &count, &reason);
	if (rc == PV_E_WEBAUTHN) {
		ev.reason = reason;
		if (audit_record(s->audit, &ev) != PV_OK) {
			rc = PV_E_AUDIT;
			goto out;
		}
		if (locked_now)
			lockout_event(s, u.id, source, res);
		rc = fail(ar, PV_E_WEBAUTHN, reason_message(reason));
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	authn_throttle_release(s->throttle, src, now);
	{
		struct authn_new_session ns;
		struct login_job j;
		unsigned flags = u.password_one_time ? AUTHN_RESTRICT_PASSWORD_CHANGE : 0;
		json_t *o;

		if ((rc = authn_session_prepare(s, &u, flags, true, source, now, &ns)) != PV_OK)
			goto out;
		j.cred_id = cred.id;
		j.count = count;
		j.pending_hash = phash;
		j.mfa_key = u.username;
		j.session = &ns.row;
		j.now_ms = now;
		ev.actor.session_id = ns.row.id;
		ev.outcome = AUDIT_ALLOWED;
		ev.reason = "webauthn";
		rc = audit_commit(s->audit, &ev, login_fn, &j);
		if (rc != PV_OK) {
			crypto_wipe(&ns, sizeof(ns));
			if (rc == PV_E_WEBAUTHN)
				rc = fail(ar, rc, reason_message("counter_rollback"));
			else if (rc == PV_E_UNAUTH)
				rc = fail(ar, rc, "Invalid or expired MFA token: log in again");
			goto out;
		}
		o = authn_session_reply(s, &ns);
		crypto_wipe(&ns, sizeof(ns));
		rc = o != NULL ? (*out = o, PV_OK) : PV_E_NOMEM;
	}
out:
	store_webauthn_cred_clear(&cred);
	store_user_clear(&u);
	wa_in_clear(&in);
	return rc;
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

enum pv_rc
authn_webauthn_step_up(struct authn_service *s, const struct authn_principal *p,
    const char *source, const json_t *cj, json_t **out, struct authn_result *ar)
{
	char src[AUTHN_SOURCE_MAX], res[128], detail[256];
	struct store_webauthn_cred cred;
	struct store_user u;
	struct audit_event ev;
	struct wa_in in;
	struct rp rp;
	const char *reason = "client_data_invalid";
	int64_t now = util_now_ms();
	uint32_t count = 0;
	int retry = 0;
	bool locked_now = false;
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	memset(&u, 0, sizeof(u));
	memset(&cred, 0, sizeof(cred));
	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if ((rc = rp_get(s, &rp)) != PV_OK)
		return rc;
	if ((rc = parse_cred(cj, true, &in, ar)) != PV_OK)
		return rc;
	authn_source_key(source, src);
	snprintf(res, sizeof(res), "sessions/%s", p->session_id);
	if (authn_throttle_reserve(s->throttle, src, now, &retry) == PV_E_RATE) {
		rc = rate_limited(s, source, p, "auth.step_up", res, retry, ar);
		goto out;
	}
	cred_detail(in.id, detail, sizeof(detail));
	authn_ev_init(&ev, p, source, "auth.step_up", res);
	ev.outcome = AUDIT_DENIED;
	ev.detail = detail;
	STORE_READ(s->st, rc, store_user_get(tx, p->user_id, &u));
	if (rc != PV_OK) {
		rc = rc == PV_E_NOTFOUND ? PV_E_UNAUTH : rc;
		goto out;
	}
	rc = authn_lockout_reserve(s, u.username, MFA_KIND, &retry, &locked_now);
	if (rc == PV_E_LOCKED) {
		ev.reason = "locked";
		rc = audit_record(s->audit, &ev) != PV_OK ? PV_E_AUDIT : locked_reply(ar, retry);
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	rc = challenge_check(s, &rp, &in, "webauthn.get", "step_up", p->user_id, p->session_id,
	    &reason);
	if (rc == PV_OK)
		rc = assertion_check(s, &rp, &in, p->user_id, &cred, &count, &reason);
	if (rc == PV_E_WEBAUTHN) {
		ev.reason = reason;
		if (audit_record(s->audit, &ev) != PV_OK) {
			rc = PV_E_AUDIT;
			goto out;
		}
		if (locked_now)
			lockout_event(s, u.id, source, res);
		rc = fail(ar, PV_E_WEBAUTHN, reason_message(reason));
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	authn_throttle_release(s->throttle, src, now);
	{
		struct step_job j = { cred.id, count, u.username, p->session_id, now };
		char t[32];

		ev.outcome = AUDIT_ALLOWED;
		ev.reason = "webauthn";
		rc = audit_commit(s->audit, &ev, step_fn, &j);
		if (rc == PV_E_WEBAUTHN) {
			rc = fail(ar, rc, reason_message("counter_rollback"));
			goto out;
		}
		if (rc != PV_OK)
			goto out;
		authn_cache_set_mfa(s, p->session_id, now);
		authn_cache_set_mfa_method(s, p->session_id, "webauthn");
		util_time_fmt(now, t, sizeof(t));
		*out = json_pack("{s:b, s:s, s:s}", "mfa_verified", 1, "mfa_at", t, "mfa_method",
		    "webauthn");
		rc = *out != NULL ? PV_OK : PV_E_NOMEM;
	}
out:
	store_webauthn_cred_clear(&cred);
	store_user_clear(&u);
	wa_in_clear(&in);
	return rc;
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

struct remove_job {
	const char *user_id;
	const char *id;
};

static enum pv_rc
remove_fn(struct store_tx *tx, void *arg)
{
	struct remove_job *j = arg;

	return store_webauthn_cred_delete(tx, j->user_id, j->id);
}

enum pv_rc
authn_webauthn_remove(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *id, struct authn_result *ar)
{
	char res[128], detail[256];
	struct audit_event ev;
	struct remove_job j;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	if (p == NULL || p->app)
		return PV_E_UNAUTH;
	if (id == NULL || id[0] == '\0' || strlen(id) >= STORE_WEBAUTHN_ID_MAX)
		return fail(ar, PV_E_NOTFOUND, "No such passkey");
	snprintf(res, sizeof(res), "users/%s", p->user_id);
	cred_detail(id, detail, sizeof(detail));
	authn_ev_init(&ev, p, source, "auth.webauthn.remove", res);
	ev.detail = detail;
	/* removing a second factor needs a fresh one (RFC 9470 max_age) */
	if (!p->mfa_verified || p->mfa_at_ms <= 0 || now - p->mfa_at_ms > AUTHN_WA_FRESH_S * 1000) {
		ev.outcome = AUDIT_DENIED;
		ev.reason = "step_up_required";
		if (audit_record(s->audit, &ev) != PV_OK)
			return PV_E_AUDIT;
		return fail(ar, PV_E_STEP_UP,
		    "Removing a passkey needs a multi-factor authentication in the last 5 minutes: "
		    "step up first (POST /v1/auth/step-up)");
	}
	j.user_id = p->user_id;
	j.id = id;
	rc = audit_commit(s->audit, &ev, remove_fn, &j);
	if (rc == PV_E_NOTFOUND)
		return fail(ar, PV_E_NOTFOUND, "No such passkey");
	return rc;
}
