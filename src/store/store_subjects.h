/*
 * store/store_subjects.h: subjects (patients) and their keys (tables
 * subjects, subject_records, subject_tombstones; migration 14;
 * src/vault/ops_subjects.c). Part of the store interface (store.h includes
 * every store_*.h); the backend's table for this domain is in store_int.h.
 *
 * A subject is never stored in clear: its reference `ref` is the hex
 * HMAC-SHA256 of the subject value under the keyring MAC key (KEK
 * "subjects", purpose "ref"). A subject's key is an envelope like a token's
 * (the key sealed under a DEK wrapped by KEK "subjects"), counted by the
 * census. subject_records links each record written with a subject to its
 * ref. A tombstone (ref + time) outlives the subject forever: a restore
 * applies them so a shredded patient never comes back.
 */
#ifndef PV_STORE_SUBJECTS_H
#define PV_STORE_SUBJECTS_H

#include "store/store_core.h"
#include "store/store_vault.h"

#define STORE_SUBJECT_REF_LEN 64      /* hex of 32 bytes */
#define STORE_SUBJECT_REASON_MAX 257  /* legal hold reason, 1..256 bytes + NUL */

struct store_subject {
	char ref[STORE_SUBJECT_REF_LEN + 1];
	char kek_name[128];
	uint32_t kek_version;
	uint8_t *wrapped_dek;         /* malloc'd */
	size_t wrapped_dek_len;
	uint8_t *ciphertext;          /* malloc'd: the sealed subject key */
	size_t ciphertext_len;
	int64_t created_ms;
	char hold_reason[STORE_SUBJECT_REASON_MAX];   /* "" : no legal hold */
	char hold_by[UTIL_ID_MAX];
	int64_t hold_ms;              /* 0: no legal hold */
};
void store_subject_clear(struct store_subject *s);
/* Insert a subject; PV_E_CONFLICT if the ref exists. */
enum pv_rc store_subject_put(struct store_tx *tx, const struct store_subject *s);
/* PV_E_NOTFOUND if there is no such (live) subject. */
enum pv_rc store_subject_get(struct store_tx *tx, const char *ref, struct store_subject *out);
/* Set (reason non-NULL) or clear (reason NULL) the legal hold;
 * PV_E_NOTFOUND if there is no such subject. */
enum pv_rc store_subject_hold(struct store_tx *tx, const char *ref, const char *reason,
    const char *by, int64_t now_ms);
/* Re-envelope a subject key (re-encryption): PV_E_CONFLICT if its KEK
 * version is no longer expected_kek_version (moved already). */
enum pv_rc store_subject_rewrap(struct store_tx *tx, const struct store_subject *s,
    uint32_t expected_kek_version);
/* Subjects in ref order with ref > after_ref ("" from the start), at most
 * limit (0: no limit); the callback gets the ref. */
enum pv_rc store_subject_scan(struct store_tx *tx, const char *after_ref, size_t limit,
    store_bidx_cb cb, void *arg);

/* Link a record to its subject (ref "" removes the link). */
enum pv_rc store_subject_link(struct store_tx *tx, const char *collection,
    const char *record_id, const char *ref);
/* The ref of a record (any state), or PV_E_NOTFOUND if it has none. */
enum pv_rc store_subject_of_record(struct store_tx *tx, const char *collection,
    const char *record_id, char ref[STORE_SUBJECT_REF_LEN + 1]);
typedef int (*store_subject_count_cb)(const char *collection, uint64_t n, void *arg);
/* Live records of ref per collection, in collection order. */
enum pv_rc store_subject_counts(struct store_tx *tx, const char *ref,
    store_subject_count_cb cb, void *arg);
typedef int (*store_subject_record_cb)(const char *collection, const char *record_id,
    void *arg);   /* non-zero stops */
/*
 * Crypto-shred a subject: cb gets every live record of ref (collection
 * order, then ID) before anything changes; then every such record is
 * shredded as store_record_shred does (DEK and ciphertext NULL, deleted_ms,
 * blind-index entries deleted), every token linked to ref is deleted and
 * remembered in token_tombstones, the subject row (its key) is deleted and a
 * tombstone (ref, now_ms) is written if none exists. Idempotent: on a ref
 * without a subject row or records it only writes the tombstone (how a
 * restore applies one).
 */
enum pv_rc store_subject_shred(struct store_tx *tx, const char *ref, int64_t now_ms,
    store_subject_record_cb cb, void *arg);

/* The tombstone of ref: PV_E_NOTFOUND if it was never shredded. */
enum pv_rc store_subject_tombstone_get(struct store_tx *tx, const char *ref,
    int64_t *shredded_ms);
typedef int (*store_tombstone_cb)(const char *ref, int64_t shredded_ms, void *arg);
/* Tombstones in ref order with ref > after_ref, at most limit (0: all). */
enum pv_rc store_subject_tombstone_list(struct store_tx *tx, const char *after_ref,
    size_t limit, store_tombstone_cb cb, void *arg);

#endif /* PV_STORE_SUBJECTS_H */
