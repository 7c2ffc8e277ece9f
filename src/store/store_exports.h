/*
 * store/store_exports.h: de-identified exports (tables exports and
 * export_chunks; src/vault/ops_export.c, docs/internals/vault.md
 * "De-identified export"). Part of the store interface (store.h includes
 * every store_*.h); the backend's table for this domain is in store_int.h.
 *
 * An export is a head row (collection, job, state, counts, expiry) and its
 * chunks: each chunk is up to about 1 MiB of JSON lines sealed as an
 * envelope under one version of the KEK STORE_EXPORT_KEK (ciphertext and
 * wrapped DEK; nothing here is in clear). The job writes chunk N and the
 * head's new counts in the same transaction as its cursor, so the file and
 * the cursor always advance together. A deleted or expired export keeps its
 * head row (state deleted | expired, a tombstone) and loses its chunks.
 */
#ifndef PV_STORE_EXPORTS_H
#define PV_STORE_EXPORTS_H

#include "store/store_core.h"

/* The KEK whose versions wrap every export chunk's DEK. */
#define STORE_EXPORT_KEK "export"
#define STORE_EXPORT_STATE_MAX 16
#define STORE_EXPORT_COLL_MAX 64

struct store_export {
	char id[UTIL_ID_MAX];
	char collection[STORE_EXPORT_COLL_MAX];
	char job_id[UTIL_ID_MAX];
	char state[STORE_EXPORT_STATE_MAX];  /* queued|running|done|failed|deleted|expired */
	char mode[STORE_EXPORT_STATE_MAX];   /* "safe_harbor" */
	bool pseudonym;
	char created_by[UTIL_ID_MAX];        /* user ID or "system" */
	int64_t created_ms;
	int64_t expires_ms;
	int64_t finished_ms;                 /* 0: not yet */
	int64_t rows;                        /* lines written */
	int64_t chunks;                      /* chunks written (indexes 0 .. chunks-1) */
	int64_t bytes;                       /* plaintext bytes of the file */
	char *dropped;                       /* malloc'd JSON object {rule: count} */
	char sha256[65];                     /* hex of the whole file once done, else "" */
};
void store_export_clear(struct store_export *e);

struct store_export_chunk {
	char export_id[UTIL_ID_MAX];
	int64_t idx;
	int64_t rows;
	char kek_name[128];
	uint32_t kek_version;
	uint8_t *wrapped_dek;
	size_t wrapped_dek_len;
	uint8_t *ciphertext;
	size_t ciphertext_len;
};
void store_export_chunk_clear(struct store_export_chunk *c);

/* PV_E_CONFLICT if the ID exists. */
enum pv_rc store_export_put(struct store_tx *tx, const struct store_export *e);
enum pv_rc store_export_get(struct store_tx *tx, const char *id, struct store_export *out);
/* Rewrite state, finished_ms, rows, chunks, bytes, dropped and sha256 of
 * e->id; PV_E_NOTFOUND if there is no such export. */
enum pv_rc store_export_update(struct store_tx *tx, const struct store_export *e);
typedef int (*store_export_cb)(const struct store_export *e, void *arg);   /* non-zero stops */
/* Every export (tombstones too), newest first. */
enum pv_rc store_export_list(struct store_tx *tx, store_export_cb cb, void *arg);
/* PV_E_CONFLICT if (export_id, idx) exists. */
enum pv_rc store_export_chunk_put(struct store_tx *tx, const struct store_export_chunk *c);
enum pv_rc store_export_chunk_get(struct store_tx *tx, const char *export_id, int64_t idx,
    struct store_export_chunk *out);
/* Delete every chunk of export_id; *n (may be NULL) how many. */
enum pv_rc store_export_chunks_delete(struct store_tx *tx, const char *export_id, int64_t *n);

#endif /* PV_STORE_EXPORTS_H */
