/*
 * store/store_oidc.h: OpenID Connect sign-in (tables oidc_pending,
 * oidc_identities, oidc_sessions; one migration; src/authn/oidc*.c). Part of
 * the store interface (store.h includes every store_*.h); the backend's table
 * for this domain is in store_int.h.
 *
 * - A pending item is single use and expiring: the state of an authorization
 *   request (kind "state"), the one-time code a callback hands to the console
 *   or the CLI (kind "grant"), and the replay guards of ID-token nonces and
 *   logout-token jti (kind "seen": put fails with PV_E_CONFLICT while the
 *   first is unexpired). Keys are hex SHA-256 of the secret value, never the
 *   value. store_oidc_pending_take deletes what it returns.
 * - An identity links (issuer, subject) to one user: never an e-mail.
 * - An OIDC session row names the IdP session (sid) a phivault session was
 *   made under, for back-channel logout.
 */
#ifndef PV_STORE_OIDC_H
#define PV_STORE_OIDC_H

#include "store/store_core.h"

#define STORE_OIDC_KEY_MAX 65        /* hex SHA-256 + NUL */
#define STORE_OIDC_DATA_MAX 2048     /* JSON of the item */
#define STORE_OIDC_ISS_MAX 256
#define STORE_OIDC_SUB_MAX 256       /* OIDC Core 2: sub is at most 255 ASCII characters */

struct store_oidc_pending {
	char key[STORE_OIDC_KEY_MAX];
	char kind[16];                   /* "state" | "grant" | "seen" */
	char data[STORE_OIDC_DATA_MAX];
	int64_t expires_ms;
};
/* Store an item; items expired at or before now_ms are purged first.
 * PV_E_CONFLICT if the key exists (a replayed nonce or jti). */
enum pv_rc store_oidc_pending_put(struct store_tx *tx, const struct store_oidc_pending *p,
    int64_t now_ms);
/* Delete and return the item of that key and kind (single use):
 * PV_E_NOTFOUND if unknown (or of another kind), PV_E_EXPIRED if it expired
 * at or before now_ms (left for the purge of a later put). */
enum pv_rc store_oidc_pending_take(struct store_tx *tx, const char *key, const char *kind,
    int64_t now_ms, struct store_oidc_pending *out);

/* The same item, read and left in place (a read transaction): what a flow
 * checks before the transaction that takes it. */
enum pv_rc store_oidc_pending_get(struct store_tx *tx, const char *key, const char *kind,
    int64_t now_ms, struct store_oidc_pending *out);
/* The user of (iss, sub); PV_E_NOTFOUND. put: PV_E_CONFLICT if linked. */
enum pv_rc store_oidc_identity_get(struct store_tx *tx, const char *iss, const char *sub,
    char user_id[UTIL_ID_MAX]);
enum pv_rc store_oidc_identity_put(struct store_tx *tx, const char *iss, const char *sub,
    const char *user_id, int64_t now_ms);

/* The IdP session (iss, sid) of a phivault session. */
enum pv_rc store_oidc_session_put(struct store_tx *tx, const char *session_id,
    const char *iss, const char *sid);
typedef int (*store_oidc_session_cb)(const char *session_id, const char *user_id, void *arg);
/* The open phivault sessions made under (iss, sid). */
enum pv_rc store_oidc_session_by_sid(struct store_tx *tx, const char *iss, const char *sid,
    store_oidc_session_cb cb, void *arg);

#endif /* PV_STORE_OIDC_H */
