/*
 * authn_int.h: declarations shared by the files of src/authn/ and their
 * unit tests only. Nothing here is API; other modules include authn.h.
 */
#ifndef PV_AUTHN_INT_H
#define PV_AUTHN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The shipped list of common breached passwords (blocklist.c): lowercase,
 * strictly ascending by strcmp (bsearch), no duplicates. */
extern const char *const authn_blocklist[];
extern const size_t authn_blocklist_len;

/* True if the lowercase ASCII string s is on the shipped list. */
bool authn_blocklist_has(const char *s);


/* ======================================================================
 * wiring internals (service.c, login.c, routes_auth.c)
 * ====================================================================== */
#include <pthread.h>
#include <stdatomic.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "config/config.h"
#include "http/http.h"
#include "keys/keys.h"
#include "store/store.h"

/* One cached session. Keyed by the token hash; everything the
 * per-request check needs, so the fast path reads no database. */
struct authn_cache_entry {
	struct authn_cache_entry *next;          /* bucket chain */
	char token_hash[AUTHN_HASH_HEX_MAX];
	char session_id[UTIL_ID_MAX];
	char user_id[UTIL_ID_MAX];
	char username[AUTHN_USERNAME_MAX];
	int64_t created_ms;
	int64_t last_seen_ms;                    /* newest request seen on this node */
	int64_t persisted_seen_ms;               /* last_seen written to the store */
	unsigned restrict_flags;
	bool mfa_verified;
	int64_t cred_epoch;                      /* the session's */
	int64_t user_epoch;                      /* the user's, at validation */
	bool user_disabled;
	bool user_mfa_enabled;                   /* the user's, at validation */
	bool mfa_needed;                         /* policy, for the roles below */
	enum authn_session_end ended;            /* != NONE: dead, answer from here */
	int64_t validated_mono_ms;               /* when read from the store */
	uint64_t roles_gen;
	size_t nroles;
	char roles[AUTHN_ROLES_MAX][AUTHN_ROLE_NAME_MAX];
	int64_t mfa_at_ms;                       /* last MFA: the login, or a step-up */
	char mfa_method[16];                     /* "totp" | "recovery" | "webauthn" */
};

#define AUTHN_CACHE_BUCKETS 4096u
#define AUTHN_CACHE_MAX 16384u

struct authn_service {
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	const struct pv_config *cfg;
	bool dev;
	struct authn_throttle *throttle;
	authn_privileged_fn privileged;
	void *privileged_arg;
	atomic_uint_fast64_t authz_gen;
	atomic_int_fast64_t access_epoch;         /* last store epoch seen (shared store) */
	pthread_mutex_t mu;                      /* guards the cache */
	struct authn_cache_entry *buckets[AUTHN_CACHE_BUCKETS];
	size_t count;
	size_t evict_cursor;
	struct authn_oidc *oidc;                 /* [oidc] sign-in (oidc.c); NULL: off */
	struct authn_workers *workers;           /* pending.c: CPU steps of operations */
};

/*
 * Operations in steps (pending.c): an operation is a heap object starting
 * with struct authn_op. A step answers (authn_op_finish) or submits one
 * transaction and returns PV_PENDING; the commit's completion runs `next`
 * with the commit's rc, on the committer (cheap steps) or on a worker
 * (on_worker: CPU work such as an Argon2id verify). The caller's
 * completion runs exactly once; then `release` (may be NULL) and free.
 */
struct authn_op;
typedef void (*authn_step_fn)(struct authn_op *op, enum pv_rc rc);
struct authn_op {
	struct authn_service *s;
	size_t size;
	authn_done_fn done;
	void *done_arg;
	json_t *out;                             /* the reply being built */
	struct authn_result ar;
	bool no_body;                            /* PV_OK without out is fine */
	authn_step_fn next;
	bool next_on_worker;
	enum pv_rc next_rc;                      /* for a worker */
	enum pv_rc refused;                      /* authn_op_refuse's answer */
	/* authn_op_refuse_locked: the auth.lockout entry recorded behind the
	 * refusal, before the answer (pointers into the op or its request) */
	const char *lock_user, *lock_source, *lock_resource, *lock_kind;
	struct authn_op *qnext;                  /* worker queue */
	void (*release)(struct authn_op *op);
};
#define AUTHN_WORKERS_MAX 8
/* calloc'd op of size bytes (>= sizeof(struct authn_op)); NULL on ENOMEM,
 * after answering done(PV_E_NOMEM) itself (NULL without a call only for a
 * size below the header or no done: a programming error). */
void *authn_op_new(struct authn_service *s, size_t size, authn_done_fn done, void *arg);
/* Answer the caller (rc; op->out if PV_OK), release and free op. */
void authn_op_finish(struct authn_op *op, enum pv_rc rc);
/* authn_op_finish unless rc is PV_PENDING (a step's tail call). */
void authn_op_run(struct authn_op *op, enum pv_rc rc);
/* op->out = o; PV_E_NOMEM if o is NULL. */
enum pv_rc authn_op_reply(struct authn_op *op, json_t *o);
/* Submit fn + ev (either may be NULL) at request priority; next(op, rc)
 * runs after the group (rc as audit_commit would return it). PV_PENDING,
 * or an error if nothing was queued (next will not run). */
enum pv_rc authn_op_submit(struct authn_op *op, const struct audit_event *ev, audit_job_fn fn,
    void *fnarg, authn_step_fn next, bool on_worker);
/* Record ev and answer rc once it is durable (PV_E_AUDIT if not): the
 * audited refusal. PV_PENDING, or PV_E_AUDIT if it could not be queued. */
enum pv_rc authn_op_refuse(struct authn_op *op, const struct audit_event *ev, enum pv_rc rc);
/* authn_op_refuse with a data change in the entry's transaction (fn may be
 * NULL): the refusal that also spends what the flow read (oidc.c: the state
 * or code, single use); fn's failure answers PV_E_AUDIT. */
enum pv_rc authn_op_refuse_tx(struct authn_op *op, const struct audit_event *ev,
    audit_job_fn fn, void *fnarg, enum pv_rc rc);
/* authn_op_refuse, and (this failure locked the account) the auth.lockout
 * entry (actor user_id or anonymous, source, resource, reason kind) behind
 * it: the answer leaves once both are durable, PV_E_AUDIT if either is not.
 * The strings must live until the op is answered. */
enum pv_rc authn_op_refuse_locked(struct authn_op *op, const struct audit_event *ev,
    enum pv_rc rc, const char *user_id, const char *source, const char *resource,
    const char *kind);
/* Record ev with nobody waiting (a failure is logged): auth.lockout after
 * the refusal it follows, in submission order. */
void authn_record_async(struct authn_service *s, const struct audit_event *ev);
struct authn_workers;
enum pv_rc authn_workers_start(size_t n, struct authn_workers **out);
void authn_workers_stop(struct authn_workers *w);
/* The blocking form, for callers without a request: init, call the
 * operation with (authn_wait_done, &w), then authn_wait_end. */
struct authn_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool fired;
	enum pv_rc rc;
	json_t *out;
	struct authn_result ar;
};
void authn_wait_init(struct authn_wait *w);
void authn_wait_done(enum pv_rc rc, json_t *out, const struct authn_result *ar, void *arg);
enum pv_rc authn_wait_end(struct authn_wait *w, json_t **out, struct authn_result *ar);

/* The lockout reservation as a transaction (service.c): submitted by an
 * operation in steps, read back with authn_lockout_reserved. */
struct authn_reserve_job {
	struct authn_service *s;
	const char *key;
	const char *kind;
	int retry_after_s;                   /* out, when locked */
	bool locked_now;                     /* out */
};
enum pv_rc authn_lockout_reserve_fn(struct store_tx *tx, void *arg);
/* rc of the commit -> the reservation's answer (as authn_lockout_reserve). */
enum pv_rc authn_lockout_reserved(const struct authn_reserve_job *j, enum pv_rc rc,
    int *retry_after_s, bool *locked_now);

/* A session about to be created: the token (shown once) and its row. */
struct authn_new_session {
	char token[AUTHN_TOKEN_MAX];
	struct store_session row;
};

/* Audit event with the principal (or anonymous + source) as actor. */
void authn_ev_init(struct audit_event *ev, const struct authn_principal *p,
    const char *source, const char *action, const char *resource);

/* Cache maintenance after a revocation or a state change (same call as the
 * store update: revocation takes effect at once on this node). */
void authn_cache_forget_session(struct authn_service *s, const char *session_id);
void authn_cache_forget_user(struct authn_service *s, const char *user_id,
    const char *except_session_id);
void authn_cache_set_state(struct authn_service *s, const char *session_id,
    unsigned restrict_flags, bool mfa_verified, int64_t cred_epoch);
/* A step-up: the cached session passed MFA at mfa_at_ms. */
void authn_cache_set_mfa(struct authn_service *s, const char *session_id, int64_t mfa_at_ms);
/* ... and how ("totp", "recovery", "webauthn"). */
void authn_cache_set_mfa_method(struct authn_service *s, const char *session_id,
    const char *method);

/* Fill ns (fresh token, row) for user u. */
enum pv_rc authn_session_prepare(struct authn_service *s, const struct store_user *u,
    unsigned restrict_flags, bool mfa_verified, const char *source, int64_t now_ms,
    struct authn_new_session *ns);
/* {"token","expires_at","idle_timeout_s","restricted",...} for a new session. */
json_t *authn_session_reply(struct authn_service *s, const struct authn_new_session *ns);
/* Does policy require MFA of this user? */
bool authn_mfa_required(struct authn_service *s, const char *user_id);

/* TOTP secret under the keyring (KEK AUTHN_KEK, AAD = user ID). */
enum pv_rc authn_mfa_seal(struct authn_service *s, const char *user_id,
    const uint8_t secret[AUTHN_TOTP_SECRET_LEN], struct store_user *u);
enum pv_rc authn_mfa_open(struct authn_service *s, const struct store_user *u,
    uint8_t secret[AUTHN_TOTP_SECRET_LEN]);
/* Stored form of a recovery code: hex HMAC (keys_mac_version, KEK
 * AUTHN_KEK) of the code's normalized SHA-256 (authn_recovery_hash), under
 * MAC key version `version` (0: the active one); *made (may be NULL) says
 * which. The row keeps the version (store_recovery_set). */
enum pv_rc authn_recovery_mac(struct authn_service *s, const char *sha_hex, uint32_t version,
    char out[AUTHN_HASH_HEX_MAX], uint32_t *made);
/* A request found KEK identity missing (authn_kek_start did not make it:
 * sealed at start and not unsealed yet, or it failed): logged, and
 * PV_E_UNAVAILABLE; nothing is created. */
enum pv_rc authn_kek_missing(void);

/* Reserve one attempt BEFORE verifying (writer job: check and count in one
 * step, so N concurrent attempts verify at most lockout_threshold of them).
 * PV_OK: counted as a failure (*locked_now: it reached the threshold; record
 * auth.lockout if the attempt then fails); a success resets the counter in
 * its own transaction. PV_E_LOCKED with *retry_after_s: refused, nothing
 * counted. */
enum pv_rc authn_lockout_reserve(struct authn_service *s, const char *key, const char *kind,
    int *retry_after_s, bool *locked_now);

/* The lockout key and audit name of a login attempt. key holds the
 * lowercased name (authn_username_key). A found user keeps it (the stored
 * username); an invalid name becomes AUTHN_KEY_INVALID; an unknown valid
 * name becomes "h:" + hex of the first AUTHN_KEY_HASH_BYTES of
 * HMAC-SHA256(MAC key of KEK identity, purpose "login-username", name), so
 * a password typed as a username is never stored. */
#define AUTHN_KEY_INVALID "~invalid"
#define AUTHN_KEY_HASHED "h:"
#define AUTHN_KEY_HASH_BYTES 16
enum pv_rc authn_login_key(struct authn_service *s, const char *name, bool valid, bool found,
    char key[STORE_USERNAME_MAX]);

_Static_assert(AUTHN_USERNAME_KEY_MAX == STORE_USERNAME_MAX,
    "authn_username_key's buffer is a stored username");

enum pv_rc authn_route_auth(struct authn_service *s, struct http_server *srv);

/* login.c: take one try of the pending MFA login and one slot of the
 * account's MFA lockout counter in one transaction (submit it with the
 * job), before a second factor is checked. fn's rc: PV_E_NOTFOUND (gone),
 * PV_E_TOOBIG (tries used up), PV_E_LOCKED (retry_after_s). */
struct authn_mfa_reserve_job {
	struct authn_service *s;
	const char *pending_hash;
	const char *mfa_key;
	int64_t now_ms;
	int retry_after_s;                   /* out, when locked */
	bool locked_now;                     /* out */
};
enum pv_rc authn_mfa_reserve_fn(struct store_tx *tx, void *arg);

/*
 * login.c: the one completion of an MFA step of a login (TOTP, recovery
 * code, passkey). An operation that checked a second factor starts with
 * struct authn_mfa_op, fills f's factor (step >= 0: TOTP; recovery_hash;
 * cred_id + count: a passkey), pending_hash, method, now_ms and the
 * messages, and calls authn_mfa_complete with the user and its allowed
 * entry (reason, detail set): the throttle slot is given back, the session
 * prepared and ONE transaction submitted (the factor consumed, the pending
 * login deleted, the MFA lockout reset, the session and its method, the
 * entry). Its completion, on the committer, answers the session reply; a
 * concurrent loser answers PV_E_UNAUTH (msg_unauth, default "Invalid code
 * (already used)") or PV_E_WEBAUTHN (msg_webauthn: a counter that did not
 * move forward). u and the strings must live until the answer.
 */
struct authn_mfa_finish {
	const char *user_id, *pending_hash, *mfa_key;  /* user_id, mfa_key: set by _complete */
	int64_t step;                        /* TOTP: >= 0; else -1 */
	const char *recovery_hash;           /* recovery code: its stored hash */
	const char *cred_id;                 /* passkey: its ID and new counter */
	uint32_t count;
	const char *method;                  /* "totp" | "recovery" | "webauthn" */
	const char *msg_unauth, *msg_webauthn;
	int64_t now_ms;
	struct authn_new_session ns;         /* made by _complete */
};
struct authn_mfa_op {
	struct authn_op op;
	struct authn_mfa_finish f;
};
enum pv_rc authn_mfa_complete(struct authn_mfa_op *m, const struct store_user *u,
    const char *source, const char *src, struct audit_event *ev);

/* ---- WebAuthn (webauthn_ops.c, routes_webauthn.c) ---- */
#define AUTHN_WA_TIMEOUT_MS 300000   /* a ceremony's challenge lives 5 minutes */
#define AUTHN_WA_FRESH_S 300         /* removing a passkey: MFA at most this old */
#define AUTHN_WA_PER_USER_MAX 16
/* Does the user have a passkey? (a read; false on error) */
bool authn_webauthn_has(struct authn_service *s, const char *user_id);
enum pv_rc authn_route_webauthn(struct authn_service *s, struct http_server *srv);

/* ---- apps (app.c, routes_app.c) ---- */
struct authn_app_signin_result {
	char app_id[UTIL_ID_MAX];
	char token[AUTHN_TOKEN_MAX];     /* shown once; the caller wipes it */
	int64_t expires_ms;
	int retry_after_s;               /* PV_E_LOCKED, PV_E_RATE */
	char message[160];               /* why it failed, for the caller */
};
/* POST /v1/auth/app with a secret: PV_OK (out: {"token","expires_at",
 * "app_id"}), PV_E_UNAUTH, PV_E_LOCKED / PV_E_RATE (ar->retry_after_s),
 * PV_E_NETWORK (source outside the app's networks), PV_E_AUDIT; every
 * outcome audited as auth.app, the answer after its entry is durable. The
 * asynchronous form (authn.h "asynchronous forms": the route returns
 * PV_PENDING and replies from done) and its blocking wrapper. */
void authn_app_signin_async(struct authn_service *s, const char *app_id, const char *secret,
    const char *source, authn_done_fn done, void *arg);
enum pv_rc authn_app_signin(struct authn_service *s, const char *app_id, const char *secret,
    const char *source, json_t **out, struct authn_result *ar);
/* POST /v1/auth/app with a TLS client certificate (DER as presented, not
 * yet verified): checked against phivault's app CA at the injectable clock,
 * the app it names must exist, be enabled and the source be in its networks;
 * claimed_app_id (may be NULL) must match. The token ends at min(now +
 * token_ttl_s, the certificate's notAfter). PV_E_CERT, PV_E_CERT_EXPIRED,
 * PV_E_UNAUTH (disabled, unknown app), PV_E_NETWORK; audited as auth.app. */
enum pv_rc authn_app_signin_cert(struct authn_service *s, const uint8_t *der, size_t len,
    const char *claimed_app_id, const char *source, struct authn_app_signin_result *out);
/* The authenticate step for an app token ("pva_"). */
enum pv_rc authn_app_authenticate(struct authn_service *s, struct http_request *req,
    const char *token, struct authn_principal **out);
/* Parse an app's stored network list; false if damaged. */
bool authn_app_networks(const char *json, struct authn_cidr *nets, size_t *n);
bool authn_app_source_allowed(const struct authn_cidr *nets, size_t n, const char *source);
enum pv_rc authn_route_app(struct authn_service *s, struct http_server *srv);

/* ---- the console's session cookie and CSRF token (cookie.c) ---- */
#define AUTHN_COOKIE_NAME "pv_session"
#define AUTHN_CSRF_HEX_MAX 65          /* hex HMAC-SHA256 + NUL */
/* The pv_session cookie's value (arena copy), NULL if none. */
const char *authn_cookie_session(struct http_request *req);
/* The CSRF token of a session token. */
enum pv_rc authn_csrf_token(const char *session_token, char out[AUTHN_CSRF_HEX_MAX]);
/* POST/PUT/PATCH/DELETE (anything but GET/HEAD/OPTIONS). */
bool authn_method_changes(const char *method);
/* The request's X-CSRF-Token matches the session's (constant time). */
bool authn_csrf_ok(struct http_request *req, const char *session_token);
/* A login's answer `out` with a token: Set-Cookie with it, and csrf_token
 * in its place. Without a token (an MFA challenge) nothing changes. */
enum pv_rc authn_cookie_issue(struct http_request *req, json_t *out);
/* Set-Cookie that clears pv_session (logout). */
enum pv_rc authn_cookie_clear(struct http_request *req);
/* The optional "cookie" of a login body (login, mfa, webauthn login/finish):
 * false when absent; PV_E_INVALID (answered) unless a boolean. */
enum pv_rc authn_cookie_wanted(struct http_request *req, bool *out);

/* ---- OIDC sign-in (oidc_jwt.c: pure; oidc.c: the flow; routes_oidc.c) ---- */
#define AUTHN_JWT_MAX 16384              /* a compact JWS, characters */
#define AUTHN_OIDC_JWKS_REFRESH_MS 10000 /* an unknown kid refetches the JWKS at most this often */
#define AUTHN_OIDC_BIND_COOKIE "pv_oidc"

struct evp_pkey_st;
struct authn_jwt {
	char alg[16];                    /* "RS256" | "ES256" (anything else is refused) */
	char kid[128];                   /* "" if the header has none */
	json_t *header;
	json_t *claims;
	size_t signing_len;              /* the signed input: the first two segments */
	uint8_t *sig;
	size_t siglen;
};
/* Split and decode a compact JWS; PV_E_OIDC with *reason (oidc_malformed,
 * oidc_bad_alg) otherwise. authn_jwt_clear frees. */
enum pv_rc authn_jwt_parse(const char *compact, struct authn_jwt *out, const char **reason);
void authn_jwt_clear(struct authn_jwt *j);
/* One JWK as a public key usable for alg (RSA >= 2048 bits, EC P-256 on the
 * curve); PV_E_INVALID otherwise. */
enum pv_rc authn_jwk_key(const json_t *jwk, const char *alg, struct evp_pkey_st **out);
/* The key of a JWKS for kid ("" : the first usable one) and alg. */
enum pv_rc authn_jwks_find(const json_t *jwks, const char *kid, const char *alg,
    struct evp_pkey_st **out);
/* The signature of the parsed j over compact's signing input. */
enum pv_rc authn_jwt_verify(const struct authn_jwt *j, const char *compact,
    struct evp_pkey_st *key);
struct authn_jwt_expect {
	const char *issuer;
	const char *client_id;
	int64_t now_s;
	int skew_s;
	const char *nonce;               /* ID token: must equal; NULL: not checked */
	bool logout;                     /* a logout token (Back-Channel Logout 1.0 §2.4) */
	int max_age_s;                   /* logout: iat at most this old */
};
enum pv_rc authn_jwt_claims_check(const struct authn_jwt *j, const struct authn_jwt_expect *e,
    const char **reason);
/* amr holds mfa, otp, hwk or swk (RFC 8176). */
bool authn_oidc_amr_mfa(const json_t *claims);

/* The flow (oidc.c). begin: the IdP URL to redirect to (*location, free()),
 * and for a console flow (cli_redirect NULL) the value of the pv_oidc
 * cookie that binds the state to this browser. */
enum pv_rc authn_oidc_begin(struct authn_service *s, const char *source,
    const char *cli_redirect, const char *cli_challenge, char bind[64], char **location,
    struct authn_result *ar);
/* The callback, the exchange and the back-channel logout are operations in
 * steps (pending.c): done runs once, after the one transaction of the flow
 * (or its refusal) is durable; no thread waits for a commit. The strings
 * must live until done. callback: out {"redirect": the console's
 * #oidc_code= or the CLI's ?code= URL}. */
void authn_oidc_callback_async(struct authn_service *s, const char *source, const char *code,
    const char *state, const char *idp_error, const char *bind_cookie, authn_done_fn done,
    void *arg);
/* exchange: the one-time code -> the reply of a password login. */
void authn_oidc_exchange_async(struct authn_service *s, const char *source, const char *code,
    const char *code_verifier, authn_done_fn done, void *arg);
/* back-channel logout: out {} (200). */
void authn_oidc_backchannel_logout_async(struct authn_service *s, const char *source,
    const char *logout_token, authn_done_fn done, void *arg);
bool authn_oidc_enabled(struct authn_service *s);
/* After a correct password: *allowed false with [oidc] local_passwords =
 * breakglass_only and no break_glass role (the login then refuses with
 * PV_E_LOCAL_PASSWORD, recorded as auth.login denied, reason
 * local_password_disabled). */
enum pv_rc authn_local_password_allowed(struct authn_service *s, const struct store_user *u,
    bool *allowed);
enum pv_rc authn_route_oidc(struct authn_service *s, struct http_server *srv);

#endif /* PV_AUTHN_INT_H */
