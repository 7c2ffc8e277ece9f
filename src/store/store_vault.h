/*
 * store/store_vault.h: collections, records (with the keyset cursor scan),
 * blind index, tokens.
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_VAULT_H
#define PV_STORE_VAULT_H

#include "store/store_core.h"

/* ---- vault (collections, records, blind index, tokens) ---- */
/* vault:begin (added by the records work) */
/*
 * Nothing here holds a PHI value in clear: record bodies and token values
 * are AEAD ciphertext (vault + keys seal them before they reach the store),
 * blind-index entries are HMACs, schemas hold field names and types only.
 */
#define STORE_NAME_MAX 64            /* collection and field names, incl. NUL */
#define STORE_ID_MAX 48              /* record IDs and tokens, incl. NUL (UTIL_ID_MAX) */
#define STORE_MAC_LEN 32             /* blind-index / deterministic-token HMAC-SHA256 */

struct store_collection {
	char name[STORE_NAME_MAX];
	char *schema;                /* malloc'd JSON text (vault_collection_to_json) */
	char region[64];
	int retention_days;
	int64_t created_ms;
	char kek_name[128];          /* KEK wrapping this collection's record DEKs */
};
void store_collection_clear(struct store_collection *c);
/* PV_E_CONFLICT if a collection of that name exists. */
enum pv_rc store_collection_put(struct store_tx *tx, const struct store_collection *c);
enum pv_rc store_collection_get(struct store_tx *tx, const char *name, struct store_collection *out);
typedef int (*store_collection_cb)(const struct store_collection *c, void *arg);  /* non-zero stops */
/* In name order. */
enum pv_rc store_collection_list(struct store_tx *tx, store_collection_cb cb, void *arg);

/* One record: the envelope of its current version. A shredded record keeps
 * its row (ID never reused) with deleted_ms set and no DEK or ciphertext. */
struct store_record {
	char id[STORE_ID_MAX];
	char collection[STORE_NAME_MAX];
	uint32_t version;
	char kek_name[128];
	uint32_t kek_version;
	uint8_t *wrapped_dek;        /* malloc'd; NULL once shredded */
	size_t wrapped_dek_len;
	uint8_t *ciphertext;         /* malloc'd; NULL once shredded */
	size_t ciphertext_len;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t deleted_ms;          /* 0: live */
};
void store_record_clear(struct store_record *r);
/* Insert a new record (version as given); PV_E_CONFLICT if the ID exists. */
enum pv_rc store_record_put(struct store_tx *tx, const struct store_record *r);
/* The record (live or shredded) of that collection and ID, or PV_E_NOTFOUND. */
enum pv_rc store_record_get(struct store_tx *tx, const char *collection, const char *id,
    struct store_record *out);
/* Replace a live record's envelope with r (r->version must be
 * expected_version + 1): optimistic concurrency, PV_E_CONFLICT if the stored
 * version is not expected_version, PV_E_NOTFOUND if missing or shredded. */
enum pv_rc store_record_update(struct store_tx *tx, const struct store_record *r,
    uint32_t expected_version);
/* Crypto-shred: drop the wrapped DEK and ciphertext (secure_delete zeroes the
 * freed cells), set deleted_ms, delete the record's blind-index entries.
 * PV_E_NOTFOUND if missing or already shredded. */
enum pv_rc store_record_shred(struct store_tx *tx, const char *collection, const char *id,
    int64_t deleted_ms);

/* Blind index: (collection, field, HMAC of the canonical value) -> record,
 * each entry with the version of KEK "index:<collection>" its MAC key
 * derives from (migration 20; store_bidx_put writes version 1). */
enum pv_rc store_bidx_put(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], const char *record_id);
enum pv_rc store_bidx_put_version(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], const char *record_id, uint32_t mac_version);
/* The re-index job: delete a record's entries made under a MAC version
 * below `below` (*deleted: how many), and count them. */
enum pv_rc store_bidx_delete_below(struct store_tx *tx, const char *collection,
    const char *record_id, uint32_t below, int64_t *deleted);
enum pv_rc store_bidx_count_below(struct store_tx *tx, const char *collection,
    const char *record_id, uint32_t below, int64_t *n);
/* Delete a record's entries for one field (field NULL: every field). */
enum pv_rc store_bidx_delete(struct store_tx *tx, const char *collection, const char *record_id,
    const char *field);
typedef int (*store_bidx_cb)(const char *record_id, void *arg);   /* non-zero stops */
/* Record IDs with that MAC, in ID order, at most limit (0: no limit). */
enum pv_rc store_bidx_lookup(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], size_t limit, store_bidx_cb cb, void *arg);

/* Live (not shredded) record IDs of a collection with id > after_id ("" from
 * the start), in ID order, at most limit (0: no limit): keyset pagination. */
enum pv_rc store_record_scan(struct store_tx *tx, const char *collection, const char *after_id,
    size_t limit, store_bidx_cb cb, void *arg);

/* Tokens: the value is an envelope like a record's. A deterministic token
 * also keeps the MAC of (field type, canonical value), unique across the
 * store, so the same value finds the same token in every collection. */
struct store_token {
	char token[STORE_ID_MAX];
	char collection[STORE_NAME_MAX];
	char field[STORE_NAME_MAX];
	bool deterministic;
	uint8_t mac[STORE_MAC_LEN];  /* deterministic only */
	uint32_t mac_version;        /* KEK version the mac's key derives from (0 on put: 1) */
	char subject_ref[65];        /* the patient (store_subjects.h ref, hex), "" none:
	                              * store_subject_shred deletes the token with it */
	char kek_name[128];
	uint32_t kek_version;
	uint8_t *wrapped_dek;        /* malloc'd */
	size_t wrapped_dek_len;
	uint8_t *ciphertext;         /* malloc'd */
	size_t ciphertext_len;
	int64_t created_ms;
};
void store_token_clear(struct store_token *t);
/* PV_E_CONFLICT if the token, or a deterministic token with the same mac,
 * exists. */
enum pv_rc store_token_put(struct store_tx *tx, const struct store_token *t);
enum pv_rc store_token_get(struct store_tx *tx, const char *token, struct store_token *out);
/* The deterministic token with that mac, or PV_E_NOTFOUND. */
enum pv_rc store_token_get_by_mac(struct store_tx *tx, const uint8_t mac[STORE_MAC_LEN],
    struct store_token *out);
/* Link a token to a patient (ref: 64 hex); PV_E_CONFLICT if it is linked
 * already (to anyone) or gone. */
enum pv_rc store_token_set_subject(struct store_tx *tx, const char *token, const char *ref);
/* A token deleted with its patient's shred: its collection and when;
 * PV_E_NOTFOUND if the token was never shredded. */
enum pv_rc store_token_tombstone_get(struct store_tx *tx, const char *token,
    char collection[STORE_NAME_MAX], int64_t *shredded_ms);
/* keys-admin (the "tokens" re-encryption walk): up to limit tokens whose
 * token is > after ("" from the start), in token order, each whole. */
typedef int (*store_token_cb)(const struct store_token *t, void *arg);   /* non-zero stops */
enum pv_rc store_token_scan(struct store_tx *tx, const char *after, size_t limit,
    store_token_cb cb, void *arg);
/* Move a token's envelope and lookup MAC to other key versions: t's
 * kek_version, wrapped_dek, ciphertext (NULL: keep the stored one, a DEK
 * rewrap), mac (deterministic tokens only) and mac_version replace the
 * stored ones only if the row is still under (t->kek_name,
 * old_kek_version) and old_mac_version. PV_E_CONFLICT when it is not
 * (shredded, or already moved): the census triggers follow the change. */
enum pv_rc store_token_rewrap(struct store_tx *tx, const struct store_token *t,
    uint32_t old_kek_version, uint32_t old_mac_version);
/* keys-admin: move a live record's envelope to another KEK version
 * without a new record version (re-encryption): r's kek_name, kek_version,
 * wrapped_dek and ciphertext (NULL: keep the stored one, a DEK rewrap)
 * replace the stored ones only if the stored
 * record is live, at r->version and still under old_kek_version.
 * PV_E_CONFLICT when it is not (patched, shredded or already moved). */
enum pv_rc store_record_rewrap(struct store_tx *tx, const struct store_record *r,
    uint32_t old_kek_version);
/* vault:end */

#endif /* PV_STORE_VAULT_H */
