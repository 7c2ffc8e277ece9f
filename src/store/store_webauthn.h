/*
 * store/store_webauthn.h: WebAuthn passkeys (tables webauthn_credentials,
 * webauthn_users, webauthn_challenges and the column sessions.mfa_method,
 * one migration; src/authn/webauthn*.c). Part of the store interface
 * (store.h includes every store_*.h); the backend's table for this domain is
 * in store_int.h.
 *
 * Nothing here is a secret: a credential's public key (the COSE_Key the
 * authenticator registered), its sign counter and its name. A challenge is
 * single use: store_webauthn_challenge_take deletes what it returns.
 */
#ifndef PV_STORE_WEBAUTHN_H
#define PV_STORE_WEBAUTHN_H

#include "store/store_core.h"

/* base64url (no padding) of a credential ID of up to 1023 bytes (WebAuthn
 * L2 §5.8.3 credentialIdLength), + NUL */
#define STORE_WEBAUTHN_ID_MAX 1368
#define STORE_WEBAUTHN_NAME_MAX 65
#define STORE_WEBAUTHN_HANDLE_MAX 48     /* base64url of 32 random bytes + NUL */
#define STORE_WEBAUTHN_CHALLENGE_MAX 48  /* base64url of 32 random bytes + NUL */

struct store_webauthn_cred {
	char id[STORE_WEBAUTHN_ID_MAX];      /* base64url credential ID (unique) */
	char user_id[UTIL_ID_MAX];
	uint8_t *public_key;                 /* malloc'd COSE_Key (CBOR) */
	size_t public_key_len;
	int alg;                             /* COSE algorithm: -7 ES256, -8 EdDSA */
	int64_t sign_count;                  /* last signature counter seen */
	char name[STORE_WEBAUTHN_NAME_MAX];
	char aaguid[33];                     /* hex */
	int64_t created_ms;
	int64_t last_used_ms;                /* 0: never used to sign in */
};
void store_webauthn_cred_clear(struct store_webauthn_cred *c);
/* PV_E_CONFLICT if the credential ID is registered already (to anyone). */
enum pv_rc store_webauthn_cred_put(struct store_tx *tx, const struct store_webauthn_cred *c);
enum pv_rc store_webauthn_cred_get(struct store_tx *tx, const char *id,
    struct store_webauthn_cred *out);
typedef int (*store_webauthn_cred_cb)(const struct store_webauthn_cred *c, void *arg);
/* The credentials of user_id, oldest first. */
enum pv_rc store_webauthn_cred_list(struct store_tx *tx, const char *user_id,
    store_webauthn_cred_cb cb, void *arg);
/* A signature with counter sign_count was accepted: store it and the time,
 * only if it moves the counter forward (or both are 0: an authenticator
 * without a counter). PV_E_NOTFOUND if no such credential or the counter
 * would not move forward (a rollback, or a concurrent use). */
enum pv_rc store_webauthn_cred_use(struct store_tx *tx, const char *id, int64_t sign_count,
    int64_t now_ms);
/* Remove one credential of user_id; PV_E_NOTFOUND if it has none by that ID. */
enum pv_rc store_webauthn_cred_delete(struct store_tx *tx, const char *user_id, const char *id);
/* Remove every credential of user_id (admin reset); *n removed (may be NULL). */
enum pv_rc store_webauthn_cred_delete_user(struct store_tx *tx, const char *user_id, size_t *n);

/* The user handle (WebAuthn user.id): random, made once per user, never the
 * username. PV_E_NOTFOUND if none yet; put: PV_E_CONFLICT if one exists. */
enum pv_rc store_webauthn_handle_get(struct store_tx *tx, const char *user_id,
    char out[STORE_WEBAUTHN_HANDLE_MAX]);
enum pv_rc store_webauthn_handle_put(struct store_tx *tx, const char *user_id,
    const char *handle);

/* A pending ceremony: kind "register" (bound to the session), "login"
 * (bound to the pending MFA login's token hash) or "step_up" (bound to
 * the session). */
struct store_webauthn_challenge {
	char challenge[STORE_WEBAUTHN_CHALLENGE_MAX];   /* base64url, the key */
	char kind[16];
	char user_id[UTIL_ID_MAX];
	char bind[65];                       /* session ID or pending-MFA token hash */
	int64_t expires_ms;
};
/* Store a challenge; challenges expired before now_ms are purged.
 * PV_E_CONFLICT if the challenge exists. */
enum pv_rc store_webauthn_challenge_put(struct store_tx *tx,
    const struct store_webauthn_challenge *c, int64_t now_ms);
/* Delete and return the challenge (single use): PV_E_NOTFOUND if unknown,
 * PV_E_EXPIRED if it expired at or before now_ms (left for the purge of a
 * later put: the caller's transaction fails anyway). */
enum pv_rc store_webauthn_challenge_take(struct store_tx *tx, const char *challenge,
    int64_t now_ms, struct store_webauthn_challenge *out);

/* How the session's last MFA was made ("totp", "recovery", "webauthn";
 * store_session.mfa_method). PV_E_NOTFOUND if the session is not open. */
enum pv_rc store_session_set_mfa_method(struct store_tx *tx, const char *session_id,
    const char *method);

#endif /* PV_STORE_WEBAUTHN_H */
