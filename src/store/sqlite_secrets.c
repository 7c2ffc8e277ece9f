/*
 * sqlite_secrets.c: the secrets ops of the SQLite backend (tables secrets
 * and secret_versions, migration 14 in migrate.c; SQL in sqlite.c's
 * statement table). A row whose text does not fit its field is a damaged
 * row (PV_E_INTEGRITY), never truncated. Nothing here logs a bound value;
 * ciphertext and wrapped DEKs are copied out and wiped on clear.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

static enum pv_rc secret_from_row(struct store_row *s, void *out)
{
	struct store_secret a;
	enum pv_rc rc;

	memset(&a, 0, sizeof(a));
	if (!store_sqlite_col_copy(s, 0, a.path, sizeof(a.path))) {
		log_error("store: secret row out of range");
		return PV_E_INTEGRITY;
	}
	a.current_version = (uint32_t)store_row_int64(s, 1);
	a.rotate_every_s = store_row_int64(s, 2);
	a.created_ms = store_row_int64(s, 3);
	a.updated_ms = store_row_int64(s, 4);
	a.deleted_ms = store_row_int64(s, 5);
	if ((rc = store_sqlite_col_strdup(s, 6, &a.metadata)) != PV_OK)
		return rc;
	*(struct store_secret *)out = a;
	return PV_OK;
}

static enum pv_rc version_from_row(struct store_row *s, void *out)
{
	struct store_secret_version v;
	enum pv_rc rc;

	memset(&v, 0, sizeof(v));
	v.seq = store_row_int64(s, 0);
	if (!store_sqlite_col_copy(s, 1, v.path, sizeof(v.path)) ||
	    !store_sqlite_col_copy(s, 3, v.kek_name, sizeof(v.kek_name))) {
		log_error("store: secret version row out of range");
		return PV_E_INTEGRITY;
	}
	v.version = (uint32_t)store_row_int64(s, 2);
	v.kek_version = (uint32_t)store_row_int64(s, 4);
	v.created_ms = store_row_int64(s, 8);
	v.destroyed_ms = store_row_int64(s, 9);
	if ((rc = store_sqlite_col_blob(s, 5, STORE_SQLITE_BLOB_NULLABLE, &v.wrapped_dek,
	    &v.wrapped_dek_len)) != PV_OK ||
	    (rc = store_sqlite_col_blob(s, 6, STORE_SQLITE_BLOB_NULLABLE, &v.ciphertext,
	    &v.ciphertext_len)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 7, &v.metadata)) != PV_OK) {
		store_secret_version_clear(&v);
		return rc;
	}
	*(struct store_secret_version *)out = v;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(secret_row, struct store_secret, secret_from_row, store_secret_clear,
    store_secret_cb)
STORE_SQLITE_EACH_ROW(version_row, struct store_secret_version, version_from_row,
    store_secret_version_clear, store_secret_version_cb)

static enum pv_rc sq_secret_get(struct store_tx *tx, const char *path, struct store_secret *out)
{
	return store_sqlite_get(tx, SQ_SECRET_GET, "secret_get", SQP_LIST(SQP_TEXT(path)),
	    secret_from_row, out);
}

static enum pv_rc sq_secret_write(struct store_tx *tx, const struct store_secret *head,
    const struct store_secret_version *v, uint32_t expected_current)
{
	const char *meta = head->metadata != NULL ? head->metadata : "{}";
	enum pv_rc rc;

	if (expected_current == 0) {
		rc = store_sqlite_exec(tx, SQ_SECRET_INSERT, "secret_write",
		    SQP_LIST(SQP_TEXT(head->path), SQP_INT(head->current_version),
			SQP_INT(head->rotate_every_s), SQP_INT(head->updated_ms), SQP_TEXT(meta)),
		    NULL);
	} else {
		rc = store_sqlite_exec_one(tx, SQ_SECRET_UPDATE, "secret_write",
		    SQP_LIST(SQP_TEXT(head->path), SQP_INT(head->current_version),
			SQP_INT(head->rotate_every_s), SQP_INT(head->updated_ms), SQP_TEXT(meta),
			SQP_INT(expected_current)));
		if (rc == PV_E_NOTFOUND)
			rc = PV_E_CONFLICT;   /* another version (or none) is current */
	}
	if (rc != PV_OK)
		return rc;
	return store_sqlite_exec(tx, SQ_SECRET_VERSION_PUT, "secret_write/version",
	    SQP_LIST(SQP_TEXT(v->path), SQP_INT(v->version), SQP_TEXT(v->kek_name),
		SQP_INT(v->kek_version), SQP_BLOB(v->wrapped_dek, v->wrapped_dek_len),
		SQP_BLOB(v->ciphertext, v->ciphertext_len),
		SQP_TEXT(v->metadata != NULL ? v->metadata : "{}"), SQP_INT(v->created_ms)), NULL);
}

static enum pv_rc sq_secret_version_get(struct store_tx *tx, const char *path, uint32_t version,
    struct store_secret_version *out)
{
	return store_sqlite_get(tx, SQ_SECRET_VERSION_GET, "secret_version_get",
	    SQP_LIST(SQP_TEXT(path), SQP_INT(version)), version_from_row, out);
}

static enum pv_rc sq_secret_list(struct store_tx *tx, const char *prefix, store_secret_cb cb,
    void *arg)
{
	struct secret_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_SECRET_LIST, "secret_list", SQP_LIST(SQP_TEXT(prefix)),
	    secret_row, &x);
}

static enum pv_rc sq_secret_set_deleted(struct store_tx *tx, const char *path,
    int64_t deleted_ms)
{
	return store_sqlite_exec_one(tx, SQ_SECRET_SET_DELETED, "secret_set_deleted",
	    SQP_LIST(SQP_TEXT(path), SQP_INT(deleted_ms)));
}

static enum pv_rc sq_secret_version_destroy(struct store_tx *tx, const char *path,
    uint32_t version, int64_t now_ms)
{
	return store_sqlite_exec_one(tx, SQ_SECRET_VERSION_DESTROY, "secret_version_destroy",
	    SQP_LIST(SQP_TEXT(path), SQP_INT(version), SQP_INT(now_ms)));
}

static enum pv_rc sq_secret_versions_prune(struct store_tx *tx, const char *path,
    uint32_t below, int64_t now_ms, size_t *n)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_SECRET_VERSIONS_PRUNE, "secret_versions_prune",
	    SQP_LIST(SQP_TEXT(path), SQP_INT(below), SQP_INT(now_ms)), &changes);

	if (rc == PV_OK && n != NULL)
		*n = (size_t)changes;
	return rc;
}

static enum pv_rc sq_secret_version_scan(struct store_tx *tx, int64_t after_seq, size_t limit,
    store_secret_version_cb cb, void *arg)
{
	struct version_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_SECRET_VERSION_SCAN, "secret_version_scan",
	    SQP_LIST(SQP_INT(after_seq), SQP_INT(limit)), version_row, &x);
}

static enum pv_rc sq_secret_version_rewrap(struct store_tx *tx,
    const struct store_secret_version *v, uint32_t old_kek_version)
{
	enum pv_rc rc = store_sqlite_exec_one(tx, SQ_SECRET_VERSION_REWRAP, "secret_version_rewrap",
	    SQP_LIST(SQP_TEXT(v->path), SQP_INT(v->version), SQP_INT(v->kek_version),
		SQP_BLOB(v->wrapped_dek, v->wrapped_dek_len), SQP_INT(old_kek_version)));

	return rc == PV_E_NOTFOUND ? PV_E_CONFLICT : rc;
}

const struct store_secrets_ops store_sqlite_secrets_ops = {
	.secret_get = sq_secret_get,
	.secret_write = sq_secret_write,
	.secret_version_get = sq_secret_version_get,
	.secret_list = sq_secret_list,
	.secret_set_deleted = sq_secret_set_deleted,
	.secret_version_destroy = sq_secret_version_destroy,
	.secret_versions_prune = sq_secret_versions_prune,
	.secret_version_scan = sq_secret_version_scan,
	.secret_version_rewrap = sq_secret_version_rewrap,
};
