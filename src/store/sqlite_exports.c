/*
 * sqlite_exports.c: the exports ops of the SQL backends (tables exports and
 * export_chunks; SQL in sqlite.c's statement table, shared by PostgreSQL
 * through the statement runners). A row whose text does not fit its field
 * is a damaged row (PV_E_INTEGRITY), never truncated. Chunks hold only
 * ciphertext and a wrapped DEK; nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

void store_export_clear(struct store_export *e)
{
	if (e == NULL)
		return;
	free(e->dropped);
	memset(e, 0, sizeof(*e));
}

void store_export_chunk_clear(struct store_export_chunk *c)
{
	if (c == NULL)
		return;
	free(c->wrapped_dek);
	free(c->ciphertext);
	memset(c, 0, sizeof(*c));
}

static enum pv_rc export_from_row(struct store_row *s, void *out)
{
	struct store_export e;
	enum pv_rc rc;

	memset(&e, 0, sizeof(e));
	if (!store_sqlite_col_copy(s, 0, e.id, sizeof(e.id)) ||
	    !store_sqlite_col_copy(s, 1, e.collection, sizeof(e.collection)) ||
	    !store_sqlite_col_copy(s, 2, e.job_id, sizeof(e.job_id)) ||
	    !store_sqlite_col_copy(s, 3, e.state, sizeof(e.state)) ||
	    !store_sqlite_col_copy(s, 4, e.mode, sizeof(e.mode)) ||
	    !store_sqlite_col_copy(s, 6, e.created_by, sizeof(e.created_by)) ||
	    !store_sqlite_col_copy(s, 14, e.sha256, sizeof(e.sha256))) {
		log_error("store: export row out of range");
		return PV_E_INTEGRITY;
	}
	e.pseudonym = store_row_int64(s, 5) != 0;
	e.created_ms = store_row_int64(s, 7);
	e.expires_ms = store_row_int64(s, 8);
	e.finished_ms = store_row_int64(s, 9);
	e.rows = store_row_int64(s, 10);
	e.chunks = store_row_int64(s, 11);
	e.bytes = store_row_int64(s, 12);
	if ((rc = store_sqlite_col_strdup(s, 13, &e.dropped)) != PV_OK)
		return rc;
	*(struct store_export *)out = e;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(export_row, struct store_export, export_from_row, store_export_clear,
    store_export_cb)

static enum pv_rc sq_export_put(struct store_tx *tx, const struct store_export *e)
{
	return store_sqlite_exec(tx, SQ_EXPORT_PUT, "export_put",
	    SQP_LIST(SQP_TEXT(e->id), SQP_TEXT(e->collection), SQP_TEXT(e->job_id),
		SQP_TEXT(e->state), SQP_TEXT(e->mode), SQP_INT(e->pseudonym ? 1 : 0),
		SQP_TEXT(e->created_by), SQP_INT(e->created_ms), SQP_INT(e->expires_ms),
		SQP_INT(e->finished_ms), SQP_INT(e->rows), SQP_INT(e->chunks), SQP_INT(e->bytes),
		SQP_TEXT(e->dropped != NULL ? e->dropped : "{}"), SQP_TEXT(e->sha256)), NULL);
}

static enum pv_rc sq_export_get(struct store_tx *tx, const char *id, struct store_export *out)
{
	return store_sqlite_get(tx, SQ_EXPORT_GET, "export_get", SQP_LIST(SQP_TEXT(id)),
	    export_from_row, out);
}

static enum pv_rc sq_export_update(struct store_tx *tx, const struct store_export *e)
{
	return store_sqlite_exec_one(tx, SQ_EXPORT_UPDATE, "export_update",
	    SQP_LIST(SQP_TEXT(e->id), SQP_TEXT(e->state), SQP_INT(e->finished_ms),
		SQP_INT(e->rows), SQP_INT(e->chunks), SQP_INT(e->bytes),
		SQP_TEXT(e->dropped != NULL ? e->dropped : "{}"), SQP_TEXT(e->sha256)));
}

static enum pv_rc sq_export_list(struct store_tx *tx, store_export_cb cb, void *arg)
{
	struct export_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_EXPORT_LIST, "export_list", SQP_NONE, export_row, &x);
}

static enum pv_rc sq_export_chunk_put(struct store_tx *tx, const struct store_export_chunk *c)
{
	return store_sqlite_exec(tx, SQ_EXPORT_CHUNK_PUT, "export_chunk_put",
	    SQP_LIST(SQP_TEXT(c->export_id), SQP_INT(c->idx), SQP_INT(c->rows),
		SQP_TEXT(c->kek_name), SQP_INT(c->kek_version),
		SQP_BLOB(c->wrapped_dek, c->wrapped_dek_len),
		SQP_BLOB(c->ciphertext, c->ciphertext_len)), NULL);
}

static enum pv_rc chunk_from_row(struct store_row *s, void *out)
{
	struct store_export_chunk c;
	enum pv_rc rc;

	memset(&c, 0, sizeof(c));
	if (!store_sqlite_col_copy(s, 0, c.export_id, sizeof(c.export_id)) ||
	    !store_sqlite_col_copy(s, 3, c.kek_name, sizeof(c.kek_name))) {
		log_error("store: export chunk row out of range");
		return PV_E_INTEGRITY;
	}
	c.idx = store_row_int64(s, 1);
	c.rows = store_row_int64(s, 2);
	c.kek_version = (uint32_t)store_row_int64(s, 4);
	if ((rc = store_sqlite_col_blob(s, 5, STORE_SQLITE_BLOB_BUF, &c.wrapped_dek,
	    &c.wrapped_dek_len)) != PV_OK)
		return rc;
	if ((rc = store_sqlite_col_blob(s, 6, STORE_SQLITE_BLOB_BUF, &c.ciphertext,
	    &c.ciphertext_len)) != PV_OK) {
		store_export_chunk_clear(&c);
		return rc;
	}
	*(struct store_export_chunk *)out = c;
	return PV_OK;
}

static enum pv_rc sq_export_chunk_get(struct store_tx *tx, const char *export_id, int64_t idx,
    struct store_export_chunk *out)
{
	return store_sqlite_get(tx, SQ_EXPORT_CHUNK_GET, "export_chunk_get",
	    SQP_LIST(SQP_TEXT(export_id), SQP_INT(idx)), chunk_from_row, out);
}

static enum pv_rc sq_export_chunks_delete(struct store_tx *tx, const char *export_id,
    int64_t *n)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_EXPORT_CHUNKS_DELETE, "export_chunks_delete",
	    SQP_LIST(SQP_TEXT(export_id)), &changes);

	if (rc == PV_OK && n != NULL)
		*n = changes;
	return rc;
}

const struct store_exports_ops store_sqlite_exports_ops = {
	.export_put = sq_export_put,
	.export_get = sq_export_get,
	.export_update = sq_export_update,
	.export_list = sq_export_list,
	.export_chunk_put = sq_export_chunk_put,
	.export_chunk_get = sq_export_chunk_get,
	.export_chunks_delete = sq_export_chunks_delete,
};
