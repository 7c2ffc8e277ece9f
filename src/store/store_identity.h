/*
 * store/store_identity.h: users, roles, groups, sessions, recovery codes,
 * lockouts, pending MFA.
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_IDENTITY_H
#define PV_STORE_IDENTITY_H

#include "store/store_core.h"

/* ---- identity (users, roles, groups, sessions, MFA, lockout) ---- */
/* identity:begin (added by the identity work) */
/*
 * Nothing here is a secret in clear: password_hash is an Argon2id string,
 * the TOTP secret is envelope ciphertext, token and recovery-code hashes are
 * one-way. Users are never deleted. Times are ms since the epoch (UTC).
 */
#define STORE_USERNAME_MAX 65        /* [a-z0-9._-]{1,64} + NUL */
#define STORE_DISPLAY_MAX 257
#define STORE_EMAIL_MAX 255
#define STORE_PWHASH_MAX 128         /* crypto_pwhash_STRBYTES */
#define STORE_HASH_HEX_MAX 65        /* hex SHA-256 / HMAC + NUL */
#define STORE_ROLE_MAX 64            /* role / group name + NUL */

struct store_user {
	char id[UTIL_ID_MAX];
	char username[STORE_USERNAME_MAX];
	char display_name[STORE_DISPLAY_MAX];
	char email[STORE_EMAIL_MAX];
	bool disabled;
	char *attributes;            /* malloc'd JSON object text ("{}" if none) */
	char password_hash[STORE_PWHASH_MAX];
	bool password_one_time;      /* must be changed at next login */
	int64_t credential_epoch;    /* bumped on password change and disable */
	uint8_t *mfa_secret;         /* malloc'd envelope ciphertext, NULL if none */
	size_t mfa_secret_len;
	uint8_t *mfa_env;            /* malloc'd serialized keys_envelope, NULL if none */
	size_t mfa_env_len;
	bool mfa_enabled;            /* confirmed; a secret without it is pending enrolment */
	int64_t mfa_last_step;       /* last accepted TOTP step, -1 if none */
	int64_t created_ms;
	int64_t updated_ms;
	int64_t disabled_ms;         /* 0 while active */
	/* Who created the user: the creating principal's user ID, "" if made by
	 * init (the bootstrap admin) or before migration 5. Written by
	 * store_user_put and never changed afterwards (store_user_update keeps
	 * the stored value once set). */
	char created_by[UTIL_ID_MAX];
	/* One-time password state (authn_otp_issue sets it): when it was issued
	 * (0: at created_ms, rows made before migration 5 or by a plain create)
	 * and when a login consumed it (0: not yet). Meaningful only while
	 * password_one_time. */
	int64_t otp_issued_ms;
	int64_t otp_used_ms;
};
void store_user_clear(struct store_user *u);
/* PV_E_CONFLICT if the ID or the username exists. */
enum pv_rc store_user_put(struct store_tx *tx, const struct store_user *u);
enum pv_rc store_user_get(struct store_tx *tx, const char *id, struct store_user *out);
enum pv_rc store_user_get_by_username(struct store_tx *tx, const char *username,
    struct store_user *out);
/* Rewrite every mutable column of user u->id (not id, username, created);
 * PV_E_NOTFOUND if there is no such user. */
enum pv_rc store_user_update(struct store_tx *tx, const struct store_user *u);
typedef int (*store_user_cb)(const struct store_user *u, void *arg);   /* non-zero stops */
/* In username order. */
enum pv_rc store_user_list(struct store_tx *tx, store_user_cb cb, void *arg);

/* Direct role and group memberships of a user (replace the whole set). */
typedef int (*store_name_cb)(const char *name, void *arg);   /* non-zero stops */
enum pv_rc store_user_roles_set(struct store_tx *tx, const char *user_id,
    const char *const *roles, size_t n);
enum pv_rc store_user_roles_get(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg);
enum pv_rc store_user_groups_set(struct store_tx *tx, const char *user_id,
    const char *const *groups, size_t n);
enum pv_rc store_user_groups_get(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg);

/* Roles: built-in (seeded by the migration) and custom. */
struct store_role {
	char name[STORE_ROLE_MAX];
	char *permissions;           /* malloc'd JSON array of permission strings */
	char *condition;             /* malloc'd JSON object text ("{}" if none) */
	bool builtin;
	int64_t created_ms;
};
void store_role_clear(struct store_role *r);
enum pv_rc store_role_put(struct store_tx *tx, const struct store_role *r);   /* PV_E_CONFLICT if taken */
enum pv_rc store_role_get(struct store_tx *tx, const char *name, struct store_role *out);
typedef int (*store_role_cb)(const struct store_role *r, void *arg);
enum pv_rc store_role_list(struct store_tx *tx, store_role_cb cb, void *arg);   /* name order */

/* Groups: members inherit the group's roles. */
struct store_group {
	char name[STORE_ROLE_MAX];
	char *roles;                 /* malloc'd JSON array of role names */
	int64_t created_ms;
};
void store_group_clear(struct store_group *g);
enum pv_rc store_group_put(struct store_tx *tx, const struct store_group *g);  /* PV_E_CONFLICT if taken */
enum pv_rc store_group_get(struct store_tx *tx, const char *name, struct store_group *out);
typedef int (*store_group_cb)(const struct store_group *g, void *arg);
enum pv_rc store_group_list(struct store_tx *tx, store_group_cb cb, void *arg);   /* name order */

/* Sessions: one row per login; the token is known only by its hash. */
struct store_session {
	char id[UTIL_ID_MAX];
	char token_hash[STORE_HASH_HEX_MAX];
	char user_id[UTIL_ID_MAX];
	int64_t created_ms;
	int64_t last_seen_ms;
	int64_t absolute_expires_ms;
	unsigned restrict_flags;     /* AUTHN_RESTRICT_* */
	bool mfa_verified;
	int64_t credential_epoch;
	char source[64];
	int64_t ended_ms;            /* 0 while open */
	char end_reason[16];         /* "" while open; authn_session_end_name() */
	int64_t mfa_at_ms;           /* last step-up MFA (0: none since the login); read only,
	                              * written by store_session_set_mfa (migration 10) */
	char mfa_method[16];         /* how the last MFA was made ("" = totp, from before
	                              * the column); read only, store_session_set_mfa_method */
};
enum pv_rc store_session_put(struct store_tx *tx, const struct store_session *s);
enum pv_rc store_session_get_by_hash(struct store_tx *tx, const char *token_hash,
    struct store_session *out);
/* Raise last_seen (never lowers it); PV_E_NOTFOUND if no such session. */
enum pv_rc store_session_touch(struct store_tx *tx, const char *id, int64_t last_seen_ms);
/* Restriction flags, MFA flag and credential epoch of an open session. */
enum pv_rc store_session_set_state(struct store_tx *tx, const char *id, unsigned restrict_flags,
    bool mfa_verified, int64_t credential_epoch);
/* End an open session; PV_E_NOTFOUND if missing or already ended. */
enum pv_rc store_session_end(struct store_tx *tx, const char *id, int64_t ended_ms,
    const char *reason);
/* End every open session of a user except except_id (NULL: all); *n ended. */
enum pv_rc store_session_end_all_for_user(struct store_tx *tx, const char *user_id,
    const char *except_id, int64_t ended_ms, const char *reason, size_t *n);
/* Sessions open at now_ms as the store knows them (metrics: a count, no
 * names): not ended, before their absolute limit, and last seen after
 * idle_after_ms (now - idle timeout; last_seen is persisted lazily, so this
 * is approximate). */
enum pv_rc store_session_count_open(struct store_tx *tx, int64_t now_ms, int64_t idle_after_ms,
    int64_t *n);

/* Recovery codes: replace the set, list the unused ones, use one. A set is
 * written at once, every row with the version of the MAC key (KEK
 * "identity", keys_mac_version) its hashes were made with (>= 1). */
enum pv_rc store_recovery_set(struct store_tx *tx, const char *user_id,
    const char *const *code_hashes, size_t n, uint32_t mac_version);
/* The MAC key version of the user's unused codes (the newest if rows
 * disagree); PV_E_NOTFOUND if the user has none left. */
enum pv_rc store_recovery_version(struct store_tx *tx, const char *user_id,
    uint32_t *mac_version);
enum pv_rc store_recovery_unused(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg);
/* Mark one unused code used; PV_E_NOTFOUND if missing or already used. */
enum pv_rc store_recovery_use(struct store_tx *tx, const char *user_id, const char *code_hash,
    int64_t used_ms);

/* Lockout counters: key = lowercase username (also for unknown names),
 * kind "password" or "mfa". A missing row reads as all zero. */
struct store_lockout {
	int failures;
	int64_t window_start_ms;
	int64_t locked_until_ms;
};
enum pv_rc store_lockout_get(struct store_tx *tx, const char *key, const char *kind,
    struct store_lockout *out);
enum pv_rc store_lockout_put(struct store_tx *tx, const char *key, const char *kind,
    const struct store_lockout *l);
/* Forget every counter of key (both kinds): an administrator's unlock.
 * PV_OK also when there was none. */
enum pv_rc store_lockout_clear(struct store_tx *tx, const char *key);

/* Logins that passed the password and owe a TOTP / recovery code. */
struct store_mfa_pending {
	char token_hash[STORE_HASH_HEX_MAX];
	char user_id[UTIL_ID_MAX];
	int64_t expires_ms;
	int attempts;
	int64_t credential_epoch;   /* the user's epoch when the password was checked */
};
enum pv_rc store_mfa_pending_put(struct store_tx *tx, const struct store_mfa_pending *p);
enum pv_rc store_mfa_pending_get(struct store_tx *tx, const char *token_hash,
    struct store_mfa_pending *out);
/* Count one failed attempt; PV_E_NOTFOUND if gone. */
enum pv_rc store_mfa_pending_attempt(struct store_tx *tx, const char *token_hash);
/* Delete it and every expired pending login; PV_E_NOTFOUND if it was gone. */
enum pv_rc store_mfa_pending_delete(struct store_tx *tx, const char *token_hash, int64_t now_ms);
/* identity:end */

#endif /* PV_STORE_IDENTITY_H */
