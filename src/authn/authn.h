/*
 * authn: who is calling. Owns the pure logic of authentication:
 *
 *  - passwords: Argon2id (libsodium crypto_pwhash, RFC 9106), the encoded
 *    "$argon2id$v=19$m=..,t=..,p=1$salt$hash" string is what is stored;
 *    policy after NIST SP 800-63B §5.1.1.2 (length in code points, no
 *    composition rules, blocklist: cracklib + a shipped list of the most
 *    common breached passwords);
 *  - TOTP MFA (RFC 6238 over RFC 4226, HMAC-SHA1, 6 digits, 30 s, ±1 step)
 *    and its single-use recovery codes;
 *  - opaque bearer tokens (sessions "pvt_", pending MFA logins "pvm_");
 *  - the session clock (idle and absolute limits) and the login decision;
 *  - lockout arithmetic per account and throttling per source address.
 *
 * Nothing here touches the store or HTTP: the identity integration (the
 * "wiring" section at the end) feeds these functions what it loaded and
 * persists what they return.
 *
 * Invariants:
 *  - No function logs or returns a password, TOTP secret, code or token;
 *    policy reasons never quote the password.
 *  - Tokens and recovery codes are stored only as hex SHA-256 hashes; the
 *    plaintext is shown once and never kept.
 *  - An unknown username costs exactly what a wrong password costs:
 *    authn_password_verify_dummy() runs a real Argon2id verify at the same
 *    parameters, and lockout and throttle answers do not depend on whether
 *    the user exists (the wiring keeps a lockout entry for unknown names too).
 *  - A TOTP step, once accepted, is never accepted again for that user
 *    (replay refused): the wiring persists the matched step.
 *  - Every verification is deny-by-default: malformed input is PV_E_UNAUTH,
 *    never a crash and never a pass.
 *
 * Session state machine (one row per session; the token hash is its key):
 *
 *              login ok (+ MFA if enrolled)
 *   (none) -------------------------------------> ACTIVE
 *              login ok, restricted (one-time password not changed yet,
 *              or MFA required but not enrolled)
 *   (none) -------------------------------------> ACTIVE + RESTRICTED
 *
 *   ACTIVE --(now - last_seen >= idle_timeout)-------------> ENDED (idle)
 *   ACTIVE --(now - created >= absolute_timeout)-----------> ENDED (absolute)
 *   ACTIVE --(POST /v1/auth/logout)------------------------> ENDED (logout)
 *   ACTIVE --(user disabled)-------------------------------> ENDED (disabled)
 *   ACTIVE --(password changed by another session / admin)-> ENDED (password)
 *   ACTIVE + RESTRICTED --(password changed / MFA confirmed: the wiring
 *                          clears the restriction flag it no longer needs)--> ACTIVE
 *
 *   A RESTRICTED session may only change its password and enrol/confirm
 *   MFA (http routes flagged HTTP_ROUTE_RESTRICTED_OK); authz denies every
 *   permission to it. ENDED is terminal: an ended session never becomes
 *   ACTIVE again; its token answers session_expired / unauthenticated.
 *
 *   "Password changed elsewhere" is detected without touching every
 *   session row: each user has a credential epoch, bumped on every password
 *   change and on disable; a session records the epoch it was made under
 *   and is ENDED when they differ (the session that changed the password is
 *   moved to the new epoch by the wiring).
 */
#ifndef PV_AUTHN_H
#define PV_AUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "util/util.h"

/* ======================================================================
 * Principal: the authenticated caller, as authz sees it. Filled once per
 * request by the wiring (session row + user + resolved roles); authz
 * evaluates permissions on it without any database access.
 * ====================================================================== */

#define AUTHN_USERNAME_MAX 128
#define AUTHN_SOURCE_MAX 64          /* textual IPv4/IPv6 address (+ zone) */
#define AUTHN_ROLES_MAX 32           /* effective roles (direct + via groups) */
#define AUTHN_ROLE_NAME_MAX 64       /* [a-z][a-z0-9_]{0,62} + NUL */
#define AUTHN_ELEVATIONS_MAX 8       /* = PV_ACTOR_ELEVATIONS_MAX (audit.h) */

/* Why a session is restricted (bit set in authn_principal.restrict_flags). */
#define AUTHN_RESTRICT_PASSWORD_CHANGE 0x1u   /* one-time password must be changed */
#define AUTHN_RESTRICT_MFA_ENROL 0x2u         /* MFA required by policy, not enrolled */

/* A network of an app's allow-list (CIDR, IPv4 or IPv6; cidr.c). */
#define AUTHN_APP_NETWORKS_MAX 16
struct authn_cidr {
	uint8_t family;                  /* 4 or 6 */
	uint8_t prefix;                  /* 0..32 / 0..128 */
	uint8_t addr[16];                /* network address, host bits zero */
};
/* "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). Host bits
 * set beyond the prefix are refused (PV_E_INVALID), so a list reads as
 * what it allows. */
enum pv_rc authn_cidr_parse(const char *text, struct authn_cidr *out);
/* Is the textual address inside c? IPv4-mapped IPv6 ("::ffff:a.b.c.d")
 * matches as IPv4. False for anything unparsable (fail closed). */
bool authn_cidr_match(const struct authn_cidr *c, const char *addr);

struct authz_permset;                /* authz/authz.h */
struct authz_policy;                 /* authz/authz.h */
struct authz_attrs;                  /* authz/authz.h */

struct authn_principal {
	char user_id[UTIL_ID_MAX];
	char session_id[UTIL_ID_MAX];
	char username[AUTHN_USERNAME_MAX];
	char source[AUTHN_SOURCE_MAX];   /* client address, for audit and detect */
	bool restricted;                 /* restrict_flags != 0 */
	unsigned restrict_flags;         /* AUTHN_RESTRICT_* */
	bool mfa_verified;               /* this session passed a TOTP/recovery step */
	int64_t expires_at_ms;           /* absolute end of the session */
	int64_t idle_expires_at_ms;      /* end if no further request */
	int64_t authenticated_ms;        /* when the session was made (the login) */
	int64_t mfa_at_ms;               /* its last MFA: the login's, or a later step-up
	                                  * (POST /v1/auth/step-up); 0 if none */
	char mfa_method[16];             /* how that MFA was made: "totp", "recovery",
	                                  * "webauthn" ("" if none) */
	/* Effective role names, direct and inherited from groups, deduplicated
	 * (GET /v1/auth/session, audit detail, condition evaluation). */
	size_t nroles;
	char roles[AUTHN_ROLES_MAX][AUTHN_ROLE_NAME_MAX];
	/* Union of the permissions of those roles, resolved by the wiring with
	 * authz_permset_add*; lives in the request arena. NULL = no permission
	 * at all (deny by default). */
	const struct authz_permset *perms;
	/* The compiled policy of those roles (authz_policy_get, request arena):
	 * what authz_decide reads. NULL = no grant at all. */
	const struct authz_policy *policy;
	/* The user's attributes (authz_attrs_parse, request arena), loaded by
	 * authz only when its policies test them; NULL = none known. */
	const struct authz_attrs *attrs;
	/* Workload identity (issue 10): the principal is an app (user_id holds
	 * its app_... ID, username its name), signed in with a secret or a
	 * client certificate (auth_method "secret" / "mtls"); its networks are
	 * enforced by authz_decide on every request. */
	bool app;
	const char *auth_method;
	size_t nnetworks;
	struct authn_cidr networks[AUTHN_APP_NETWORKS_MAX];
	/* JIT elevations in force for this request (authz elevations.c): their
	 * roles are in roles[] above; authn_actor names them in the actor. */
	size_t nelevations;
	char elevations[AUTHN_ELEVATIONS_MAX][UTIL_ID_MAX];
	/* The user has MFA enrolled (TOTP or a passkey), so this session can
	 * step up (POST /v1/auth/step-up). */
	bool mfa_enrolled;
	/* With [auth] mfa_required = admins: an elevation gave this session,
	 * which did no MFA, a role that rule counts as admin, and the user can
	 * step up; authz_decide refuses everything but "authenticated" with
	 * step_up_required until it does (authz elevations.c). */
	bool elevation_mfa_owed;
	/* The break-glass grant in force (issue 10 item 5), loaded by authz
	 * with the principal (under the access generation, never from the
	 * token); NULL: none. It holds until expires_ms on the injectable
	 * clock: authz_decide and authn_actor compare it with now. */
	const struct authn_breakglass *break_glass;
};

/* A break-glass grant as the decision point reads it: the subject by its
 * keyed reference only (64 hex), never its value. */
struct authn_breakglass {
	char id[UTIL_ID_MAX];
	char subject_ref[65];
	int64_t expires_ms;
};
/* Is p's break-glass grant in force at now_ms? */
bool authn_breakglass_active(const struct authn_principal *p, int64_t now_ms);

/*
 * The actor of a request (audit.h struct pv_actor): kind USER with the
 * principal's user, session, source, authentication method ("password" or
 * "password+mfa") and time; without a principal, ANONYMOUS from source.
 * The one builder from HTTP: every module that audits a request's actor
 * calls it. The actor borrows p's strings (request arena).
 */
struct pv_actor;
void authn_actor(const struct authn_principal *p, const char *source, struct pv_actor *out);

/* ======================================================================
 * Passwords (password.c, blocklist.c)
 * ====================================================================== */

/* OWASP Password Storage Cheat Sheet, Argon2id "m=19 MiB, t=2, p=1"
 * (libsodium fixes p = 1). The configured values come from [auth]. */
#define AUTHN_PWHASH_OPSLIMIT_OWASP 2ULL
#define AUTHN_PWHASH_MEMLIMIT_OWASP ((size_t)19 * 1024 * 1024)

#define AUTHN_PASSWORD_MIN_DEFAULT 12
#define AUTHN_PASSWORD_MAX_CODEPOINTS 1024
/* Inputs longer than this many bytes are refused before any work (1024
 * code points of at most 4 bytes each). */
#define AUTHN_PASSWORD_MAX_BYTES (4 * AUTHN_PASSWORD_MAX_CODEPOINTS)

/* Hash pw into the encoded Argon2id string. PV_E_INVALID on parameters
 * below libsodium's minimum or a pw longer than AUTHN_PASSWORD_MAX_BYTES,
 * PV_E_CRYPTO if libsodium fails (out of memory). */
enum pv_rc authn_password_hash(const char *pw, unsigned long long opslimit,
    size_t memlimit, char encoded[crypto_pwhash_STRBYTES]);
/* PV_OK if pw matches, PV_E_UNAUTH otherwise (also for a malformed encoded
 * string: fail closed). */
enum pv_rc authn_password_verify(const char *encoded, const char *pw);
/* True if encoded was made with other parameters (or another algorithm, or
 * is malformed): rehash after the next successful login. */
bool authn_password_needs_rehash(const char *encoded, unsigned long long opslimit,
    size_t memlimit);
/* For an unknown username: a real Argon2id verify against a dummy hash made
 * (once, lazily; again if the parameters change) at these parameters.
 * Always PV_E_UNAUTH. Call once at start-up to make the dummy hash early. */
enum pv_rc authn_password_verify_dummy(const char *pw, unsigned long long opslimit,
    size_t memlimit);
/*
 * NIST SP 800-63B §5.1.1.2 policy for a new password. PV_OK or PV_E_INVALID
 * with a reason in why (never containing the password):
 *  - valid UTF-8 without control characters; min_len..1024 code points;
 *  - not equal to / containing the username or the local part of email
 *    (case-insensitive; containment for names of 3+ characters); either
 *    may be NULL; not containing the service name "phivault";
 *  - not one repeated character, not a short pattern repeated, not a
 *    simple ascending/descending run ("123456789012", "abcdefghijkl");
 *  - not in the shipped list of common breached passwords (compared
 *    case-insensitively, also with trailing digits/symbols stripped and
 *    common leet substitutions undone), and not refused by cracklib
 *    (FascistCheckUser; passwords up to 256 bytes).
 */
enum pv_rc authn_password_check_policy(const char *pw, int min_len,
    const char *username, const char *email, char *why, size_t whylen);
/* True if the cracklib dictionary was found (compliance evidence; without it
 * only the shipped list applies and a warning is logged once). */
bool authn_password_cracklib_available(void);
/* The packed cracklib dictionary at path d (d.pwd, d.pwi, d.hwm, as
 * cracklib-packer writes them): _check is PV_OK if all three are readable,
 * PV_E_NOTFOUND if one is missing, PV_E_INVALID for an empty or too long
 * path; _set checks, then makes it the dictionary the policy uses. */
enum pv_rc authn_password_dictionary_check(const char *d);
enum pv_rc authn_password_dictionary_set(const char *d);

/* ======================================================================
 * TOTP (totp.c): RFC 6238 with RFC 4226 §5.3 dynamic truncation
 * ====================================================================== */

#define AUTHN_TOTP_SECRET_LEN 20     /* 160 bits, RFC 4226 §4 R6 recommends >= 160 */
#define AUTHN_TOTP_B32_MAX 40        /* 32 base32 chars for 20 bytes, + NUL, slack */
#define AUTHN_TOTP_PERIOD 30
#define AUTHN_TOTP_DIGITS 6
#define AUTHN_TOTP_SKEW 1            /* steps accepted either side of now */
#define AUTHN_TOTP_CODE_MAX 10       /* up to 8 digits + NUL */
#define AUTHN_TOTP_URI_MAX 512

/* The code for time step `step` (= unix time / 30), digits 6..8, as a
 * zero-padded decimal string. */
enum pv_rc authn_totp_code(const uint8_t *secret, size_t len, int64_t step, int digits,
    char out[AUTHN_TOTP_CODE_MAX]);
/*
 * Verify a 6-digit code at now_s. Accepts steps now-1..now+1 that are
 * strictly greater than last_used_step (replay refused; pass -1 if none was
 * used yet). On PV_OK *matched_step is the step to persist as the new
 * last_used_step. PV_E_UNAUTH for a wrong, replayed or malformed code (not
 * exactly 6 ASCII digits).
 */
enum pv_rc authn_totp_verify(const uint8_t *secret, size_t len, const char *code,
    int64_t now_s, int64_t last_used_step, int64_t *matched_step);
/* 20 random bytes and their RFC 4648 base32 (uppercase, no padding). */
enum pv_rc authn_totp_secret_new(uint8_t secret[AUTHN_TOTP_SECRET_LEN],
    char b32[AUTHN_TOTP_B32_MAX]);
/* otpauth://totp/phivault:USER?secret=B32&issuer=phivault&algorithm=SHA1&digits=6&period=30
 * (Google Authenticator Key URI format), USER percent-encoded (RFC 3986
 * unreserved characters kept). PV_E_INVALID if secret_b32 is not base32 or
 * the URI does not fit. */
enum pv_rc authn_totp_uri(const char *username, const char *secret_b32, char *out,
    size_t outlen);

/* ======================================================================
 * Recovery codes (recovery.c)
 * ====================================================================== */

#define AUTHN_RECOVERY_COUNT 10
#define AUTHN_RECOVERY_CHARS 10      /* displayed "xxxxx-xxxxx" */
#define AUTHN_RECOVERY_DISPLAY_MAX 12
#define AUTHN_HASH_HEX_MAX 65        /* hex SHA-256 + NUL */

/* Ten fresh codes (for display, once) and the hashes to store. */
enum pv_rc authn_recovery_generate(char codes[AUTHN_RECOVERY_COUNT][AUTHN_RECOVERY_DISPLAY_MAX],
    char hashes[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX]);
/* Normalize what a user typed (case, dashes, spaces) and hash it.
 * PV_E_UNAUTH if it cannot be a recovery code. */
enum pv_rc authn_recovery_hash(const char *input, char out[AUTHN_HASH_HEX_MAX]);
/* Constant-time search of the user's unused code hashes: PV_OK with *index
 * of the match, PV_E_UNAUTH if none (or input malformed). The wiring then
 * marks that code used. */
enum pv_rc authn_recovery_find(const char *input, const char *const *hashes, size_t n,
    size_t *index);

/* ======================================================================
 * WebAuthn passkeys (webauthn.c): W3C Web Authentication Level 2, the pure
 * parsing and verification; the ceremonies are in the operations below.
 * Every refusal is PV_E_WEBAUTHN with *reason one of: client_data_invalid,
 * wrong_type, wrong_origin, cross_origin, attestation_invalid,
 * attestation_unsupported, auth_data_invalid, rp_id_mismatch, up_missing,
 * uv_missing, at_missing, key_unsupported, bad_signature, counter_rollback.
 * ====================================================================== */

#define AUTHN_WA_ES256 (-7)          /* COSE alg: ECDSA P-256 with SHA-256 */
#define AUTHN_WA_EDDSA (-8)          /* COSE alg: Ed25519 */
#define AUTHN_WA_FLAG_UP 0x01u       /* user present */
#define AUTHN_WA_FLAG_UV 0x04u       /* user verified */
#define AUTHN_WA_FLAG_AT 0x40u       /* attested credential data included */
#define AUTHN_WA_FLAG_ED 0x80u       /* extension data included */
#define AUTHN_WA_CRED_ID_MAX 1023    /* bytes (§5.8.3) */
#define AUTHN_WA_COSE_MAX 1024       /* a COSE_Key of ours is < 100 bytes */
#define AUTHN_WA_INPUT_MAX 65536     /* any one decoded field */
#define AUTHN_WA_CHALLENGE_LEN 32    /* random bytes */
#define AUTHN_WA_CHALLENGE_B64_MAX 128

struct evp_pkey_st;                  /* OpenSSL EVP_PKEY */

/* base64url without padding (trailing '=' tolerated on input); decode
 * refuses more than max bytes (PV_E_INVALID) and mallocs *out. */
enum pv_rc authn_wa_b64url_decode(const char *in, size_t max, uint8_t **out, size_t *len);
enum pv_rc authn_wa_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

/* clientDataJSON: type must be `type` ("webauthn.create" / "webauthn.get"),
 * origin exactly `origin`, crossOrigin not true; PV_OK with the challenge
 * (base64url text as sent) for the single-use lookup. */
enum pv_rc authn_wa_client_data(const uint8_t *cdj, size_t len, const char *type,
    const char *origin, char challenge[AUTHN_WA_CHALLENGE_B64_MAX], const char **reason);

/* Authenticator data (§6.1); the pointers point into ad. */
struct authn_wa_authdata {
	uint8_t rp_id_hash[32];
	uint8_t flags;
	uint32_t sign_count;
	uint8_t aaguid[16];
	const uint8_t *cred_id;          /* AT only */
	size_t cred_id_len;
	const uint8_t *cose_key;         /* AT only: one CBOR item */
	size_t cose_key_len;
};
/* PV_E_WEBAUTHN if malformed (short, credential ID > 1023 bytes, bad CBOR,
 * trailing bytes). */
enum pv_rc authn_wa_authdata_parse(const uint8_t *ad, size_t len, struct authn_wa_authdata *out);
/* A COSE_Key: EC2 P-256 ES256 or OKP Ed25519 EdDSA; *alg and, if out is not
 * NULL, the key (the caller's, EVP_PKEY_free). PV_E_WEBAUTHN otherwise. */
enum pv_rc authn_wa_cose_key(const uint8_t *b, size_t len, int *alg, struct evp_pkey_st **out);
/* Signature over ad || SHA-256(cdj) (ES256: DER; EdDSA: 64 bytes). */
enum pv_rc authn_wa_verify(int alg, struct evp_pkey_st *key, const uint8_t *ad, size_t adlen,
    const uint8_t *cdj, size_t cdjlen, const uint8_t *sig, size_t siglen);

/* What a verified registration yields (malloc'd copies; _clear frees). */
struct authn_wa_registration {
	char fmt[16];                    /* "none" | "packed" (self attestation) */
	uint8_t *cred_id;
	size_t cred_id_len;
	uint8_t *cose_key;
	size_t cose_key_len;
	int alg;
	uint32_t sign_count;
	uint8_t flags;
	uint8_t aaguid[16];
};
void authn_wa_registration_clear(struct authn_wa_registration *r);
/* The attestation object of navigator.credentials.create() against the RP
 * ID (rpIdHash, UP, UV, AT, key, statement; cdj is the clientDataJSON the
 * packed statement signs). The client data itself is checked with
 * authn_wa_client_data. */
enum pv_rc authn_wa_registration_verify(const uint8_t *att, size_t attlen, const uint8_t *cdj,
    size_t cdjlen, const char *rp_id, struct authn_wa_registration *out, const char **reason);
/* An assertion of navigator.credentials.get() by the stored credential
 * (cose, alg, counter): rpIdHash, UP, UV, signature, counter moving forward
 * (when either is non-zero). PV_OK with the new counter. */
enum pv_rc authn_wa_assertion_verify(const uint8_t *ad, size_t adlen, const uint8_t *cdj,
    size_t cdjlen, const uint8_t *sig, size_t siglen, const char *rp_id, const uint8_t *cose,
    size_t coselen, int alg, int64_t stored_count, uint32_t *new_count, const char **reason);

/* ======================================================================
 * Opaque tokens (token.c): prefix + base64url(32 random bytes), no padding
 * ====================================================================== */

enum authn_token_kind {
	AUTHN_TOKEN_SESSION = 0,     /* "pvt_": bearer token of a session */
	AUTHN_TOKEN_MFA = 1,         /* "pvm_": login that still owes a TOTP code */
	AUTHN_TOKEN_APP = 2,         /* "pva_": bearer token of an app's session */
	AUTHN_TOKEN_APP_SECRET = 3,  /* "pvs_": an app's secret (shown once) */
};
#define AUTHN_TOKEN_RAND_LEN 32
#define AUTHN_TOKEN_LEN 47           /* 4 + 43 */
#define AUTHN_TOKEN_MAX 48           /* + NUL */

/* A new token (shown once) and the hex SHA-256 of its text (stored). */
enum pv_rc authn_token_new(enum authn_token_kind kind, char token[AUTHN_TOKEN_MAX],
    char hash[AUTHN_HASH_HEX_MAX]);
/* Hash a presented token after checking its format (prefix of kind, exact
 * length, canonical base64url); PV_E_UNAUTH if malformed. */
enum pv_rc authn_token_hash(enum authn_token_kind kind, const char *token,
    char hash[AUTHN_HASH_HEX_MAX]);

/* ======================================================================
 * Sessions and the login decision (session.c)
 * ====================================================================== */

enum authn_session_end {
	AUTHN_END_NONE = 0,          /* ACTIVE */
	AUTHN_END_IDLE,
	AUTHN_END_ABSOLUTE,
	AUTHN_END_LOGOUT,
	AUTHN_END_DISABLED,
	AUTHN_END_PASSWORD,          /* credential epoch changed elsewhere */
};
/* Stable short name ("idle", "absolute", ...) for audit reasons. */
const char *authn_session_end_name(enum authn_session_end e);

struct authn_session_clock {
	int64_t created_ms;
	int64_t last_seen_ms;
	int64_t cred_epoch;          /* user's credential epoch at creation */
	enum authn_session_end ended; /* recorded end (logout, disabled); NONE if open */
};

/*
 * Decide whether a session is still ACTIVE at now_ms, given the user's
 * current credential epoch and disabled flag. PV_OK (ACTIVE), else
 * PV_E_EXPIRED with *why set (idle / absolute: session_expired) or
 * PV_E_UNAUTH (logout, disabled, password: the token is simply dead).
 * The checks run in a fixed order (recorded end, disabled, password,
 * absolute, idle) so the reason is deterministic.
 */
enum pv_rc authn_session_check(const struct authn_session_clock *s, int64_t user_cred_epoch,
    bool user_disabled, int64_t now_ms, int idle_timeout_s, int absolute_timeout_s,
    enum authn_session_end *why);
/* When the session ends if idle from now on, and at the latest. The idle
 * end is never later than the absolute end. */
void authn_session_expiries(const struct authn_session_clock *s, int idle_timeout_s,
    int absolute_timeout_s, int64_t *idle_expires_at_ms, int64_t *expires_at_ms);

enum authn_login_next {
	AUTHN_LOGIN_SESSION = 0,     /* full session */
	AUTHN_LOGIN_MFA_CHALLENGE,   /* 200 {"mfa_required":true,"mfa_token"} */
	AUTHN_LOGIN_RESTRICTED,      /* 200 {"token","restricted":true} */
};
/*
 * After a correct password: what the login answers. MFA enrolled always
 * means a challenge first (even if a restriction also applies; the
 * restriction is re-evaluated after the code). Otherwise a restricted
 * session if the one-time password must be changed or policy requires MFA
 * that is not enrolled; *restrict_flags gets the AUTHN_RESTRICT_* bits.
 */
enum authn_login_next authn_login_decide(bool mfa_enrolled, bool mfa_required,
    bool must_change_password, unsigned *restrict_flags);

/* ======================================================================
 * Lockout (per account) and throttling (per source) (lockout.c)
 * ====================================================================== */

/* One counter; a user has two (password failures, MFA failures). All
 * zero is "never failed". Persisted by the wiring. */
struct authn_lockout {
	int failures;
	int64_t window_start_ms;
	int64_t locked_until_ms;
};

/* PV_OK, or PV_E_LOCKED with *retry_after_s >= 1 (Retry-After). */
enum pv_rc authn_lockout_check(const struct authn_lockout *st, int64_t now_ms,
    int *retry_after_s);
/* Count one failure. Failures older than window_s restart the count. True
 * if this failure reached threshold and locked the account for duration_s
 * (the counter then starts afresh after the lock). A failure while locked
 * changes nothing and returns false. */
bool authn_lockout_fail(struct authn_lockout *st, int64_t now_ms, int threshold,
    int window_s, int duration_s);
void authn_lockout_success(struct authn_lockout *st);

/*
 * Per-source throttle of failed attempts: GCRA (a token bucket kept as one
 * "theoretical arrival time" per key): at most `limit` failures per
 * `window_s`, refilled continuously. Fixed memory: a set-associative table
 * of `capacity` entries keyed by a SipHash of the source (random key), so
 * a flood of sources evicts the least-throttled entries, never grows the
 * table. Thread-safe (one mutex).
 */
#define AUTHN_THROTTLE_LIMIT_DEFAULT 20
#define AUTHN_THROTTLE_WINDOW_DEFAULT 60
#define AUTHN_THROTTLE_CAPACITY_DEFAULT 8192

struct authn_throttle;
enum pv_rc authn_throttle_new(size_t capacity, int limit, int window_s,
    struct authn_throttle **out);
void authn_throttle_free(struct authn_throttle *t);
/* May an attempt from source proceed? PV_OK, or PV_E_RATE with
 * *retry_after_s >= 1. Records nothing. */
enum pv_rc authn_throttle_check(struct authn_throttle *t, const char *source, int64_t now_ms,
    int *retry_after_s);
/* Reserve one failure slot BEFORE verifying a credential: the check and the
 * count are one step under the table's lock, so N concurrent attempts get at
 * most `limit` slots. PV_OK (slot taken, counted as a failure), or PV_E_RATE
 * with *retry_after_s >= 1 (refused, nothing counted: refused attempts do not
 * extend the penalty). */
enum pv_rc authn_throttle_reserve(struct authn_throttle *t, const char *source, int64_t now_ms,
    int *retry_after_s);
/* Give back a slot taken by authn_throttle_reserve: the attempt succeeded
 * (only failures count). */
void authn_throttle_release(struct authn_throttle *t, const char *source, int64_t now_ms);
/* Entries in use (bounded by the capacity given to new, rounded up). */
size_t authn_throttle_count(struct authn_throttle *t);
size_t authn_throttle_capacity(struct authn_throttle *t);

/* ======================================================================
 * wiring: added by the identity integration
 * (store-backed login, MFA, session lookup into struct authn_principal,
 *  the hooks the directory uses; see docs/internals/authn.md "Wiring")
 *
 * The service owns the per-node state: the session cache (token hash ->
 * session, user state and effective roles; idle expiry decided from it on
 * every request, re-validated from the store when older than
 * AUTHN_CACHE_REVALIDATE_MS), the per-source throttle and the "authz
 * generation" counter that invalidates resolved roles when users, roles or
 * groups change. Every database write goes through audit_commit.
 * ====================================================================== */

struct store;
struct store_tx;
struct keys;
struct audit;
struct pv_config;
struct http_server;
struct http_request;

#define AUTHN_CACHE_REVALIDATE_MS 5000     /* re-read session + user from the store */
#define AUTHN_CACHE_PERSIST_MS 30000       /* persist last_seen at most this often */
#define AUTHN_MFA_PENDING_MS (5 * 60 * 1000)
#define AUTHN_MFA_PENDING_ATTEMPTS 5
#define AUTHN_OTP_LEN 20                   /* generated one-time passwords */
#define AUTHN_KEK "identity"               /* KEK of TOTP secrets and recovery-code MACs */

struct authn_service;

struct authn_service_config {
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	const struct pv_config *cfg;       /* must outlive the service */
	bool dev;
};

/* Does a user with these effective roles hold an administrative permission
 * ([auth] mfa_required = admins)? Installed by authz (which owns the
 * permission language); without it only the built-in admin and key_admin
 * roles count. */
typedef bool (*authn_privileged_fn)(void *arg, const char (*roles)[AUTHN_ROLE_NAME_MAX],
    size_t nroles);

enum pv_rc authn_service_new(const struct authn_service_config *c, struct authn_service **out);
void authn_service_free(struct authn_service *s);
/*
 * The identity KEK (AUTHN_KEK: TOTP secrets, recovery-code and app-secret
 * MACs, the keyed hash of an unknown login name) exists before any request
 * needs it, so no request creates it (a commit of its own, which a request
 * thread would wait for). authn_kek_start: at start-up, once unsealed and
 * before the listener opens; it waits for its commit (off any request
 * thread), creates the KEK of a data directory made before it (an upgrade)
 * and changes nothing where it exists; PV_OK while sealed (nothing to do
 * yet). authn_kek_submit: the same for a vault unsealed later (the unseal's
 * completion, on the committer): queued at request priority, done(rc, arg)
 * after its commit (done may be NULL). A request that still finds the KEK
 * missing answers PV_E_UNAVAILABLE (503) and creates nothing.
 */
enum pv_rc authn_kek_start(struct authn_service *s);
enum pv_rc authn_kek_submit(struct authn_service *s, void (*done)(enum pv_rc rc, void *arg),
    void *arg);
void authn_service_set_privileged(struct authn_service *s, authn_privileged_fn fn, void *arg);
/* [auth] mfa_required = admins (the rule that asks MFA of privileged roles
 * only; authz applies it to elevated roles too). */
bool authn_mfa_admins_only(struct authn_service *s);
struct store *authn_service_store(struct authn_service *s);
struct audit *authn_service_audit(struct authn_service *s);
struct keys *authn_service_keys(struct authn_service *s);

/* Roles, groups or a user's memberships changed: cached roles re-resolve. */
void authn_authz_changed(struct authn_service *s);
uint64_t authn_authz_generation(struct authn_service *s);

/*
 * The authenticate step of every non-public route: Bearer token -> session
 * (cache, store) -> principal in req->arena with user, session, source and
 * effective roles (perms left NULL for authz to fill). PV_E_UNAUTH (no,
 * malformed, unknown or revoked token), PV_E_EXPIRED (idle or absolute end;
 * recorded once as session.expired), PV_E_RESTRICTED (a restricted session
 * on a route without HTTP_ROUTE_RESTRICTED_OK; err_message says what to do).
 */
enum pv_rc authn_authenticate(struct authn_service *s, struct http_request *req,
    struct authn_principal **out);

/* The routes of /v1/auth/... (docs/openapi.yaml); /v1/users is the directory's. */
enum pv_rc authn_routes(struct authn_service *s, struct http_server *srv);

/* Effective roles of a user: direct plus inherited from groups, deduplicated,
 * sorted. PV_E_TOOBIG beyond AUTHN_ROLES_MAX. */
enum pv_rc authn_user_roles(struct store *st, const char *user_id,
    char roles[AUTHN_ROLES_MAX][AUTHN_ROLE_NAME_MAX], size_t *n);

/* [a-z0-9._-]{1,64} (the stored, lowercased form). */
bool authn_username_valid(const char *s);
/* A random one-time password: AUTHN_OTP_LEN characters of an unambiguous
 * 55-letter alphabet (~115 bits); len >= AUTHN_OTP_LEN + 1. */
enum pv_rc authn_password_generate(char *out, size_t len);
/* The client address to throttle: IPv4 as is, IPv6 reduced to its /64
 * (IPv4-mapped IPv6 as the IPv4 address). */
void authn_source_key(const char *addr, char out[AUTHN_SOURCE_MAX]);

/*
 * One-time passwords: single use, and valid for [auth]
 * one_time_password_ttl_s after issue. authn_otp_issue sets u's password
 * to password_hash (if not NULL) as a fresh one-time password issued at
 * now_ms (not used yet): whoever issues one (create, reset) calls it on the
 * row it then writes with store_user_update / store_user_put.
 * authn_otp_check: PV_OK (not one-time, or usable), PV_E_STATE (already
 * used by a login), PV_E_EXPIRED (older than ttl_s).
 */
struct store_user;
void authn_otp_issue(struct store_user *u, const char *password_hash, int64_t now_ms);
enum pv_rc authn_otp_check(const struct store_user *u, int64_t now_ms, int ttl_s);

/* ======================================================================
 * Hooks for the directory (src/directory/, a module above authn): what
 * its user operations need of credentials and sessions, so that it never
 * reaches into authn's internals.
 * ====================================================================== */

/*
 * The sessions of user_id were ended in the store (the transaction that
 * disabled the user or reset its credentials has committed; reason is
 * AUTHN_END_DISABLED or AUTHN_END_PASSWORD): drop this node's cached
 * sessions of the user at once, so its next request is decided from the
 * store (and refused), not from the cache, and bump the authz generation
 * so every cached role set re-resolves. Other nodes see the credential
 * epoch the transaction bumped.
 */
void authn_sessions_end_user(struct authn_service *s, const char *user_id,
    enum authn_session_end reason);

/* ---- apps (app.c): the credentials and sessions of workload identities,
 * for the directory's app operations (docs/internals/authn.md "Apps") ---- */

/* A new app secret: "pvs_" + base64url(32 random bytes) (256 bits), shown
 * once, and the hex HMAC-SHA256 of it under the identity MAC key (purpose
 * "app-secret") of the active version of KEK identity, which is stored
 * with *mac_version (store_app_secret.mac_version). */
enum pv_rc authn_app_secret_new(struct authn_service *s, char secret[AUTHN_TOKEN_MAX],
    char hash[AUTHN_HASH_HEX_MAX], uint32_t *mac_version);
/* The stored form of a presented secret under MAC key version `version`
 * (0: the active one; *made, may be NULL, says which); PV_E_UNAUTH if
 * malformed, PV_E_FORBIDDEN if that version is revoked. */
enum pv_rc authn_app_secret_hash(struct authn_service *s, const char *secret,
    uint32_t version, char hash[AUTHN_HASH_HEX_MAX], uint32_t *made);
/* The sessions of app_id were ended in the store (the app was disabled):
 * bump the authz generation so nothing cached outlives it. App sessions
 * are read from the store on every request, so nothing else is cached. */
void authn_sessions_end_app(struct authn_service *s, const char *app_id);
/* A client certificate for app_id from a PEM CSR, from phivault's app CA,
 * valid [apps] cert_ttl_s (keys_app_ca_issue; app_cert.c). The caller has
 * checked the app exists and is enabled, and audits. */
struct crypto_client_cert;
enum pv_rc authn_app_cert_issue(struct authn_service *s, const char *app_id,
    const char *csr_pem, struct crypto_client_cert *out, char **cert_pem, char **ca_pem);

/* Forget the password and MFA lockout counters of a user (lockout_clear.c);
 * call inside the store transaction whose audit entry records it (unlock,
 * reset). */
enum pv_rc authn_lockout_clear(struct store_tx *tx, const char *username);

/* Lowercase a presented username into key (bounded, for lockout and
 * lookup); true if it is a valid username. key holds AUTHN_USERNAME_KEY_MAX
 * bytes (= STORE_USERNAME_MAX). */
#define AUTHN_USERNAME_KEY_MAX 65
bool authn_username_key(const char *in, char key[AUTHN_USERNAME_KEY_MAX]);

/* ======================================================================
 * Operations: the authentication flows apart from HTTP (login.c). The
 * /v1/auth routes (routes_auth.c, docs/openapi.yaml) parse the body, call
 * one of these and reply; nothing else in the route decides or reads the
 * store. Each takes the caller's source address (throttle, audit) and,
 * for the steps of a session, its principal. On success *out (JSON) is
 * the reply body, the caller's (json_decref). On failure res->message is
 * the caller-facing reason ("" for the code's default; never a password
 * or a typed username) and res->retry_after_s > 0 comes with PV_E_LOCKED
 * and PV_E_RATE. Every attempt is audited as docs/internals/authn.md
 * lists (auth.login, auth.mfa, auth.password, auth.mfa_enroll,
 * auth.lockout, auth.logout).
 * ====================================================================== */

struct json_t;

#define AUTHN_MSG_MAX 256
struct authn_result {
	char message[AUTHN_MSG_MAX];
	int retry_after_s;
};

/*
 * The asynchronous forms (pending.c): the same operation, answered through
 * done(rc, out, res, arg) exactly once (out: the caller's, NULL unless
 * rc == PV_OK; res: valid during the call), possibly on the committer
 * thread and possibly before the call returns. The strings and the
 * principal passed in must stay valid until done. No thread waits for a
 * commit: the routes return PV_PENDING and reply from done. The forms
 * above (json_t **out) are the blocking wrappers over these, for callers
 * with no request (CLI, unit tests).
 */
typedef void (*authn_done_fn)(enum pv_rc rc, struct json_t *out, const struct authn_result *res,
    void *arg);
void authn_login_async(struct authn_service *s, const char *source, const char *username,
    const char *password, authn_done_fn done, void *arg);
void authn_mfa_verify_async(struct authn_service *s, const char *source, const char *mfa_token,
    const char *code, authn_done_fn done, void *arg);
void authn_password_change_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *current_password, const char *new_password,
    authn_done_fn done, void *arg);
void authn_mfa_enroll_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, authn_done_fn done, void *arg);
void authn_mfa_confirm_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *code, authn_done_fn done, void *arg);
void authn_step_up_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *code, authn_done_fn done, void *arg);
/* out is NULL on success (204). */
void authn_logout_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, authn_done_fn done, void *arg);

/* The password step: throttle slot, lockout slot, verify, one-time
 * password check, then a session ({"token",...}) or an MFA challenge
 * ({"mfa_required":true,"mfa_token",...}). PV_E_UNAUTH (unknown user,
 * wrong password, disabled: one message; or a spent / expired one-time
 * password), PV_E_LOCKED, PV_E_RATE, PV_E_AUDIT. */
enum pv_rc authn_login(struct authn_service *s, const char *source, const char *username,
    const char *password, struct json_t **out, struct authn_result *res);
/* The second step: a TOTP code or a recovery code against the mfa_token
 * of authn_login; a full session. PV_E_UNAUTH, PV_E_LOCKED, PV_E_RATE. */
enum pv_rc authn_mfa_verify(struct authn_service *s, const char *source,
    const char *mfa_token, const char *code, struct json_t **out, struct authn_result *res);
/* Change p's own password (every other session of the user ends).
 * PV_E_FORBIDDEN (current password wrong), PV_E_INVALID (policy, same
 * password), PV_E_LOCKED, PV_E_RATE. */
enum pv_rc authn_password_change(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *current_password, const char *new_password,
    struct json_t **out, struct authn_result *res);
/* A new TOTP secret for p, pending until confirmed ({"secret",
 * "otpauth_uri"}). PV_E_CONFLICT if MFA is enrolled already. */
enum pv_rc authn_mfa_enroll(struct authn_service *s, const struct authn_principal *p,
    const char *source, struct json_t **out, struct authn_result *res);
/* The first code of the pending secret: MFA enabled, ten recovery codes
 * ({"recovery_codes","restricted"}). PV_E_CONFLICT (nothing pending,
 * enrolled already), PV_E_INVALID (wrong code), PV_E_LOCKED, PV_E_RATE. */
enum pv_rc authn_mfa_confirm(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *code, struct json_t **out, struct authn_result *res);
/* Step-up (RFC 9470): p's session passes MFA again with a TOTP code; the
 * session's MFA time becomes now ({"mfa_verified":true,"mfa_at"}).
 * PV_E_UNAUTH (wrong or replayed code), PV_E_CONFLICT (no MFA enrolled),
 * PV_E_LOCKED, PV_E_RATE, PV_E_AUDIT. */
enum pv_rc authn_step_up(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *code, struct json_t **out, struct authn_result *res);
/* Re-enter the password of p's own account for a sensitive step (the
 * break-glass activation): throttled and counted by the same password
 * lockout as a login (a wrong password is a failed attempt, and
 * lockout_threshold of them lock the account), verified with Argon2id. A
 * wrong password is recorded as action on resource, outcome denied,
 * reason bad_password (and auth.lockout when it locks): PV_E_UNAUTH. A
 * right one resets the counter and records nothing (the caller's own
 * entry is the record). PV_E_LOCKED, PV_E_RATE (res->retry_after_s),
 * PV_E_AUDIT, PV_E_FORBIDDEN for an app (it has no password). */
enum pv_rc authn_password_reconfirm(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *password, const char *action, const char *resource,
    struct authn_result *res);
/* ... its asynchronous form (done with out NULL; the strings and p live
 * until done): no thread waits. The blocking form above is its wrapper,
 * which a caller on a request thread still waits in (counted). */
void authn_password_reconfirm_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *password, const char *action, const char *resource,
    authn_done_fn done, void *arg);
/* GET /v1/auth/session: p as the API shows it (no store read). */
enum pv_rc authn_session_describe(const struct authn_principal *p, struct json_t **out);
/* End p's session (auth.logout); a session ended meanwhile is fine. */
enum pv_rc authn_logout(struct authn_service *s, const struct authn_principal *p,
    const char *source, struct authn_result *res);

/*
 * WebAuthn passkeys (webauthn_ops.c; docs/identity.md "Passkeys"): the
 * ceremonies as operations. `cred` is the JSON a browser page makes of the
 * PublicKeyCredential (base64url fields: id, rawId, type "public-key",
 * response.{clientDataJSON, attestationObject | authenticatorData,
 * signature, userHandle}). A response that fails a check is PV_E_WEBAUTHN
 * (400 webauthn_invalid) with the reason in the audit entry and the
 * message; a malformed body PV_E_INVALID. Audited as auth.webauthn.register,
 * auth.webauthn.login, auth.step_up (reason webauthn) and
 * auth.webauthn.remove.
 */
/* PublicKeyCredentialCreationOptions for p ({"publicKey":{...}}). */
enum pv_rc authn_webauthn_register_begin(struct authn_service *s, const struct authn_principal *p,
    const char *source, struct json_t **out, struct authn_result *res);
/* Verify and store the new credential (name: NULL = "passkey"); a
 * restricted session owing MFA enrolment is verified by it. PV_E_CONFLICT
 * (registered already, or AUTHN_WA_PER_USER_MAX reached). */
enum pv_rc authn_webauthn_register_finish(struct authn_service *s,
    const struct authn_principal *p, const char *source, const struct json_t *cred,
    const char *name, struct json_t **out, struct authn_result *res);
/* The second step of a login with a passkey: options for the mfa_token of
 * authn_login, then the assertion -> the full session (the reply of
 * authn_mfa_verify). PV_E_UNAUTH (token), PV_E_CONFLICT (no passkey),
 * PV_E_WEBAUTHN, PV_E_LOCKED, PV_E_RATE. */
enum pv_rc authn_webauthn_login_begin(struct authn_service *s, const char *source,
    const char *mfa_token, struct json_t **out, struct authn_result *res);
enum pv_rc authn_webauthn_login_finish(struct authn_service *s, const char *source,
    const char *mfa_token, const struct json_t *cred, struct json_t **out,
    struct authn_result *res);
/* Step-up (RFC 9470) with a passkey: options, then the assertion in
 * POST /v1/auth/step-up {"webauthn":{...}} (the reply of authn_step_up). */
enum pv_rc authn_webauthn_step_up_begin(struct authn_service *s, const struct authn_principal *p,
    const char *source, struct json_t **out, struct authn_result *res);
enum pv_rc authn_webauthn_step_up(struct authn_service *s, const struct authn_principal *p,
    const char *source, const struct json_t *cred, struct json_t **out,
    struct authn_result *res);
/* The asynchronous forms of the three finishes (authn.h "asynchronous
 * forms" above: done exactly once, no thread waits for a commit; cred,
 * name and the principal must live until done). The begins and the removal
 * answer at once: their writes go through audit_commit_held (audit.h), so
 * on a request thread the answer leaves after the fsync. */
void authn_webauthn_register_finish_async(struct authn_service *s,
    const struct authn_principal *p, const char *source, const struct json_t *cred,
    const char *name, authn_done_fn done, void *arg);
void authn_webauthn_login_finish_async(struct authn_service *s, const char *source,
    const char *mfa_token, const struct json_t *cred, authn_done_fn done, void *arg);
void authn_webauthn_step_up_async(struct authn_service *s, const struct authn_principal *p,
    const char *source, const struct json_t *cred, authn_done_fn done, void *arg);
/* p's own passkeys ({"credentials":[{id,name,alg,created_at,last_used_at}]}). */
enum pv_rc authn_webauthn_list(struct authn_service *s, const struct authn_principal *p,
    struct json_t **out);
/* Remove one of p's passkeys; needs an MFA at most AUTHN_WA_FRESH_S old
 * (PV_E_STEP_UP otherwise). PV_E_NOTFOUND. */
enum pv_rc authn_webauthn_remove(struct authn_service *s, const struct authn_principal *p,
    const char *source, const char *id, struct authn_result *res);

/*
 * OIDC sign-in ([oidc], src/authn/oidc*.c; docs/identity.md "Sign in with
 * your identity provider"). authn_oidc_start reads the client secret (mode
 * 0600) and the group map when [oidc] issuer is set (PV_E_CONFIG with err
 * otherwise; serve refuses to start); nothing is fetched from the IdP until
 * the first sign-in. authn_oidc_free is called by authn_service_free.
 */
enum pv_rc authn_oidc_start(struct authn_service *s, char *err, size_t errlen);
void authn_oidc_free(struct authn_service *s);
/* May a user signing in through the IdP join this phivault group? Installed
 * by the directory (dual control: a group granting PHI needs its approved
 * group.create; security_officer never). Without it no group is joined. */
typedef enum pv_rc (*authn_oidc_group_gate_fn)(void *arg, struct store_tx *tx,
    const char *group, bool *allowed);
void authn_oidc_set_group_gate(struct authn_service *s, authn_oidc_group_gate_fn fn, void *arg);

#endif /* PV_AUTHN_H */
