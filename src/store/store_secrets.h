/*
 * store/store_secrets.h: application secrets (tables secrets and
 * secret_versions; src/secrets/). Part of the store interface (store.h
 * includes every store_*.h); the backend's table for this domain is in
 * store_int.h.
 *
 * A secret is a head row (one per path: the latest version, the rotation
 * interval, the soft-delete mark) and its versions. A version is an
 * envelope like a record's: ciphertext, the DEK wrapped by one version of
 * the KEK STORE_SECRETS_KEK. Nothing here is a value in clear. A destroyed
 * version keeps its row (destroyed_ms set) with its DEK and ciphertext gone
 * (crypto-shredding: it can never be read again). The census (kek_census,
 * store_kek_census) counts the live versions (wrapped_dek not NULL) through
 * triggers, in the same transaction as the write.
 */
#ifndef PV_STORE_SECRETS_H
#define PV_STORE_SECRETS_H

#include "store/store_core.h"

/* The KEK whose versions wrap every secret version's DEK. */
#define STORE_SECRETS_KEK "secrets"
#define STORE_SECRET_PATH_MAX 128    /* 127 bytes + NUL */

struct store_secret {
	char path[STORE_SECRET_PATH_MAX];
	uint32_t current_version;    /* the latest version written (>= 1) */
	int64_t rotate_every_s;      /* 0: no rotation interval */
	int64_t created_ms;          /* version 1's */
	int64_t updated_ms;          /* the latest version's */
	int64_t deleted_ms;          /* 0: live; else soft-deleted (reads 404) */
	char *metadata;              /* malloc'd JSON object of the latest version */
};
void store_secret_clear(struct store_secret *s);

struct store_secret_version {
	int64_t seq;                 /* the backend's scan order (out only) */
	char path[STORE_SECRET_PATH_MAX];
	uint32_t version;
	char kek_name[128];
	uint32_t kek_version;
	uint8_t *wrapped_dek;        /* NULL: destroyed */
	size_t wrapped_dek_len;
	uint8_t *ciphertext;         /* NULL: destroyed */
	size_t ciphertext_len;
	char *metadata;              /* malloc'd JSON object */
	int64_t created_ms;
	int64_t destroyed_ms;        /* 0: live */
};
void store_secret_version_clear(struct store_secret_version *v);

enum pv_rc store_secret_get(struct store_tx *tx, const char *path, struct store_secret *out);
/*
 * Write version v->version of v->path and make it the head's current one,
 * with head's rotate_every_s, metadata and updated_ms (deleted_ms cleared).
 * expected_current 0: the path must not exist (PV_E_CONFLICT if it does);
 * else the head must be at expected_current (PV_E_CONFLICT if not).
 */
enum pv_rc store_secret_write(struct store_tx *tx, const struct store_secret *head,
    const struct store_secret_version *v, uint32_t expected_current);
enum pv_rc store_secret_version_get(struct store_tx *tx, const char *path, uint32_t version,
    struct store_secret_version *out);
typedef int (*store_secret_cb)(const struct store_secret *s, void *arg);   /* non-zero stops */
/* Heads whose path starts with prefix ("" for all), deleted ones too, in path order. */
enum pv_rc store_secret_list(struct store_tx *tx, const char *prefix, store_secret_cb cb,
    void *arg);
/* Soft delete (deleted_ms > 0) or undelete (0); PV_E_NOTFOUND if no such path. */
enum pv_rc store_secret_set_deleted(struct store_tx *tx, const char *path, int64_t deleted_ms);
/* Destroy one live version (DEK and ciphertext gone); PV_E_NOTFOUND if no
 * such version or it is destroyed already. */
enum pv_rc store_secret_version_destroy(struct store_tx *tx, const char *path,
    uint32_t version, int64_t now_ms);
/* Destroy every live version of path below `below`; *n destroyed. */
enum pv_rc store_secret_versions_prune(struct store_tx *tx, const char *path, uint32_t below,
    int64_t now_ms, size_t *n);
typedef int (*store_secret_version_cb)(const struct store_secret_version *v, void *arg);
/* Up to limit live versions with seq > after_seq, in seq order (the
 * re-encryption walk). */
enum pv_rc store_secret_version_scan(struct store_tx *tx, int64_t after_seq, size_t limit,
    store_secret_version_cb cb, void *arg);
/* Rewrite a live version's kek_version and wrapped_dek if it is still at
 * old_kek_version; PV_E_CONFLICT if not (moved or destroyed meanwhile). */
enum pv_rc store_secret_version_rewrap(struct store_tx *tx, const struct store_secret_version *v,
    uint32_t old_kek_version);

#endif /* PV_STORE_SECRETS_H */
