/*
 * store/store_apps.h: workload identities (apps), their secrets and their
 * sessions (tables apps, app_secrets, app_sessions, migration 11;
 * src/directory/apps.c, src/authn/app.c). Part of the store interface
 * (store.h includes every store_*.h); the backend's table for this domain is
 * in store_int.h.
 *
 * Nothing here is a secret in clear: a secret is kept only as the hex
 * HMAC-SHA256 under a keyring MAC key, a token only as its hex SHA-256.
 * Apps are never deleted (IDs never reused); a deleted secret is revoked
 * (revoked_ms set), its row kept so the trail names it.
 */
#ifndef PV_STORE_APPS_H
#define PV_STORE_APPS_H

#include "store/store_core.h"

#define STORE_APP_NAME_MAX 65        /* [a-z0-9._-]{1,64} + NUL */

struct store_app {
	char id[UTIL_ID_MAX];        /* app_... */
	char name[STORE_APP_NAME_MAX];
	char *roles;                 /* malloc'd JSON array of role names */
	char *networks;              /* malloc'd JSON array of CIDR strings */
	char created_by[UTIL_ID_MAX];
	int64_t created_ms;
	bool disabled;
	int64_t disabled_ms;         /* 0 while active */
	int64_t credential_epoch;    /* bumped on disable: every session made before is dead */
};
void store_app_clear(struct store_app *a);
/* PV_E_CONFLICT if the ID or the name exists. */
enum pv_rc store_app_put(struct store_tx *tx, const struct store_app *a);
enum pv_rc store_app_get(struct store_tx *tx, const char *id, struct store_app *out);
/* Rewrite roles, networks, disabled, disabled_ms, credential_epoch;
 * PV_E_NOTFOUND if there is no such app. */
enum pv_rc store_app_update(struct store_tx *tx, const struct store_app *a);
typedef int (*store_app_cb)(const struct store_app *a, void *arg);   /* non-zero stops */
/* In name order. */
enum pv_rc store_app_list(struct store_tx *tx, store_app_cb cb, void *arg);

struct store_app_secret {
	char secret_id[UTIL_ID_MAX]; /* aps_... */
	char app_id[UTIL_ID_MAX];
	char hash[65];               /* hex HMAC-SHA256 of the secret */
	int64_t created_ms;
	int64_t expires_ms;          /* 0: no expiry */
	int64_t revoked_ms;          /* 0: live */
	uint32_t mac_version;        /* KEK "identity" version of hash's MAC key (0 on put: 1) */
};
/* PV_E_CONFLICT if the secret ID exists. */
enum pv_rc store_app_secret_put(struct store_tx *tx, const struct store_app_secret *s);
typedef int (*store_app_secret_cb)(const struct store_app_secret *s, void *arg);
/* The unrevoked secrets of app_id, oldest first. */
enum pv_rc store_app_secret_list(struct store_tx *tx, const char *app_id,
    store_app_secret_cb cb, void *arg);
/* Revoke one unrevoked secret of app_id; PV_E_NOTFOUND if none. */
enum pv_rc store_app_secret_revoke(struct store_tx *tx, const char *app_id,
    const char *secret_id, int64_t now_ms);

/* One row per app sign-in; the token is known only by its hash. */
struct store_app_session {
	char id[UTIL_ID_MAX];        /* ses_... */
	char token_hash[65];
	char app_id[UTIL_ID_MAX];
	int64_t created_ms;
	int64_t expires_ms;          /* absolute end (at most [apps] token_ttl_s) */
	int64_t credential_epoch;    /* the app's, at sign-in */
	char source[64];
	char method[16];             /* "secret" or "mtls" */
	int64_t ended_ms;            /* 0 while open */
	char end_reason[16];
	/* mtls: the client certificate the token is bound to (RFC 8705
	 * x5t#S256: hex SHA-256 of its DER) and its serial; "" for secrets */
	char cert_fingerprint[65];
	char cert_serial[48];
};
enum pv_rc store_app_session_put(struct store_tx *tx, const struct store_app_session *s);
enum pv_rc store_app_session_get_by_hash(struct store_tx *tx, const char *token_hash,
    struct store_app_session *out);
/* End one open session (logout); PV_E_NOTFOUND if missing or ended. */
enum pv_rc store_app_session_end(struct store_tx *tx, const char *id, int64_t now_ms,
    const char *reason);
/* End every open session of app_id; *n ended. */
enum pv_rc store_app_session_end_all(struct store_tx *tx, const char *app_id, int64_t now_ms,
    const char *reason, size_t *n);

/* Revoke one client certificate of app_id by serial (lower-case hex):
 * PV_E_CONFLICT if it is revoked already. */
enum pv_rc store_app_cert_revoke(struct store_tx *tx, const char *app_id, const char *serial,
    int64_t now_ms, const char *by);
enum pv_rc store_app_cert_revoked(struct store_tx *tx, const char *serial, bool *revoked);
/* End every open session of app_id bound to the certificate serial; *n ended. */
enum pv_rc store_app_session_end_cert(struct store_tx *tx, const char *app_id,
    const char *serial, int64_t now_ms, const char *reason, size_t *n);

#endif /* PV_STORE_APPS_H */
