/*
 * sqlite_subjects.c: the subjects ops of the SQLite backend (tables
 * subjects, subject_records, subject_tombstones, migration 14; SQL in
 * sqlite.c's statement table). A row whose text does not fit its field is a
 * damaged row (PV_E_INTEGRITY). Nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

static enum pv_rc subject_from_row(struct store_row *s, void *out)
{
	struct store_subject x;
	enum pv_rc rc;

	memset(&x, 0, sizeof(x));
	if (!store_sqlite_col_copy(s, 0, x.ref, sizeof(x.ref)) ||
	    !store_sqlite_col_copy(s, 1, x.kek_name, sizeof(x.kek_name)) ||
	    !store_sqlite_col_copy(s, 6, x.hold_reason, sizeof(x.hold_reason)) ||
	    !store_sqlite_col_copy(s, 7, x.hold_by, sizeof(x.hold_by))) {
		log_error("store: subject row out of range");
		return PV_E_INTEGRITY;
	}
	x.kek_version = (uint32_t)store_row_int64(s, 2);
	x.created_ms = store_row_int64(s, 5);
	x.hold_ms = store_row_int64(s, 8);
	if ((rc = store_sqlite_col_blob(s, 3, STORE_SQLITE_BLOB_BUF, &x.wrapped_dek,
	    &x.wrapped_dek_len)) != PV_OK ||
	    (rc = store_sqlite_col_blob(s, 4, STORE_SQLITE_BLOB_BUF, &x.ciphertext,
	    &x.ciphertext_len)) != PV_OK) {
		store_subject_clear(&x);
		return rc;
	}
	*(struct store_subject *)out = x;
	return PV_OK;
}

static enum pv_rc sq_subject_put(struct store_tx *tx, const struct store_subject *s)
{
	return store_sqlite_exec(tx, SQ_SUBJECT_PUT, "subject_put",
	    SQP_LIST(SQP_TEXT(s->ref), SQP_TEXT(s->kek_name), SQP_INT(s->kek_version),
		SQP_BLOB(s->wrapped_dek, s->wrapped_dek_len),
		SQP_BLOB(s->ciphertext, s->ciphertext_len), SQP_INT(s->created_ms)), NULL);
}

static enum pv_rc sq_subject_get(struct store_tx *tx, const char *ref, struct store_subject *out)
{
	return store_sqlite_get(tx, SQ_SUBJECT_GET, "subject_get", SQP_LIST(SQP_TEXT(ref)),
	    subject_from_row, out);
}

static enum pv_rc sq_subject_hold(struct store_tx *tx, const char *ref, const char *reason,
    const char *by, int64_t now_ms)
{
	return store_sqlite_exec_one(tx, SQ_SUBJECT_HOLD, "subject_hold",
	    SQP_LIST(SQP_TEXT(ref), SQP_TEXT(reason != NULL ? reason : ""),
		SQP_TEXT(reason != NULL && by != NULL ? by : ""),
		SQP_INT(reason != NULL ? now_ms : 0)));
}

static enum pv_rc sq_subject_rewrap(struct store_tx *tx, const struct store_subject *s,
    uint32_t expected_kek_version)
{
	enum pv_rc rc = store_sqlite_exec_one(tx, SQ_SUBJECT_REWRAP, "subject_rewrap",
	    SQP_LIST(SQP_TEXT(s->ref), SQP_TEXT(s->kek_name), SQP_INT(s->kek_version),
		SQP_BLOB(s->wrapped_dek, s->wrapped_dek_len), SQP_INT(expected_kek_version)));

	return rc == PV_E_NOTFOUND ? PV_E_CONFLICT : rc;
}

static enum pv_rc sq_subject_scan(struct store_tx *tx, const char *after_ref, size_t limit,
    store_bidx_cb cb, void *arg)
{
	int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
	struct store_sqlite_name_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_SUBJECT_SCAN, "subject_scan",
	    SQP_LIST(SQP_TEXT(after_ref), SQP_INT(lim)), store_sqlite_name_row, &x);
}

static enum pv_rc sq_subject_link(struct store_tx *tx, const char *collection,
    const char *record_id, const char *ref)
{
	if (ref[0] == '\0')
		return store_sqlite_exec(tx, SQ_SUBJECT_UNLINK, "subject_link",
		    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(record_id)), NULL);
	return store_sqlite_exec(tx, SQ_SUBJECT_LINK, "subject_link",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(record_id), SQP_TEXT(ref)), NULL);
}

static enum pv_rc ref_from_row(struct store_row *s, void *out)
{
	if (!store_sqlite_col_copy(s, 0, out, STORE_SUBJECT_REF_LEN + 1)) {
		log_error("store: subject link out of range");
		return PV_E_INTEGRITY;
	}
	return PV_OK;
}

static enum pv_rc sq_subject_of_record(struct store_tx *tx, const char *collection,
    const char *record_id, char ref[STORE_SUBJECT_REF_LEN + 1])
{
	char tmp[STORE_SUBJECT_REF_LEN + 1];
	enum pv_rc rc = store_sqlite_get(tx, SQ_SUBJECT_OF_RECORD, "subject_of_record",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(record_id)), ref_from_row, tmp);

	if (rc == PV_OK)
		memcpy(ref, tmp, sizeof(tmp));
	return rc;
}

struct count_ctx {
	store_subject_count_cb cb;
	void *arg;
};

static enum pv_rc count_row(struct store_row *s, void *ctx, bool *stop)
{
	struct count_ctx *x = ctx;
	int64_t n = store_row_int64(s, 1);

	*stop = x->cb(store_sqlite_col_text(s, 0), n < 0 ? 0 : (uint64_t)n, x->arg) != 0;
	return PV_OK;
}

static enum pv_rc sq_subject_counts(struct store_tx *tx, const char *ref,
    store_subject_count_cb cb, void *arg)
{
	struct count_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_SUBJECT_COUNTS, "subject_counts",
	    SQP_LIST(SQP_TEXT(ref)), count_row, &x);
}

struct rec_ctx {
	store_subject_record_cb cb;
	void *arg;
};

static enum pv_rc rec_row(struct store_row *s, void *ctx, bool *stop)
{
	struct rec_ctx *x = ctx;

	*stop = x->cb(store_sqlite_col_text(s, 0), store_sqlite_col_text(s, 1), x->arg) != 0;
	return PV_OK;
}

static enum pv_rc sq_subject_shred(struct store_tx *tx, const char *ref, int64_t now_ms,
    store_subject_record_cb cb, void *arg)
{
	struct rec_ctx x = { cb, arg };
	enum pv_rc rc = PV_OK;

	if (cb != NULL)
		rc = store_sqlite_scan(tx, SQ_SUBJECT_RECORDS, "subject_shred/list",
		    SQP_LIST(SQP_TEXT(ref)), rec_row, &x);
	/* the records' DEKs and index entries, the key, then the tombstone:
	 * all in the caller's transaction */
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_SUBJECT_SHRED_RECORD_KEYS, "subject_shred/record_keys",
		    SQP_LIST(SQP_TEXT(ref)), NULL);
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_SUBJECT_SHRED_RECORDS, "subject_shred/records",
		    SQP_LIST(SQP_TEXT(ref), SQP_INT(now_ms)), NULL);
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_SUBJECT_SHRED_BIDX, "subject_shred/bidx",
		    SQP_LIST(SQP_TEXT(ref)), NULL);
	/* the tokens linked to the patient (migration 20) */
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_SUBJECT_SHRED_TOKENS_TOMB, "subject_shred/token_tombs",
		    SQP_LIST(SQP_TEXT(ref), SQP_INT(now_ms)), NULL);
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_SUBJECT_SHRED_TOKENS, "subject_shred/tokens",
		    SQP_LIST(SQP_TEXT(ref)), NULL);
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_SUBJECT_DELETE, "subject_shred/key",
		    SQP_LIST(SQP_TEXT(ref)), NULL);
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_SUBJECT_TOMBSTONE_PUT, "subject_shred/tombstone",
		    SQP_LIST(SQP_TEXT(ref), SQP_INT(now_ms)), NULL);
	return rc;
}

static enum pv_rc ms_from_row(struct store_row *s, void *out)
{
	*(int64_t *)out = store_row_int64(s, 0);
	return PV_OK;
}

static enum pv_rc sq_subject_tombstone_get(struct store_tx *tx, const char *ref,
    int64_t *shredded_ms)
{
	return store_sqlite_get(tx, SQ_SUBJECT_TOMBSTONE_GET, "subject_tombstone_get",
	    SQP_LIST(SQP_TEXT(ref)), ms_from_row, shredded_ms);
}

struct tomb_ctx {
	store_tombstone_cb cb;
	void *arg;
};

static enum pv_rc tomb_row(struct store_row *s, void *ctx, bool *stop)
{
	struct tomb_ctx *x = ctx;

	*stop = x->cb(store_sqlite_col_text(s, 0), store_row_int64(s, 1), x->arg) != 0;
	return PV_OK;
}

static enum pv_rc sq_subject_tombstone_list(struct store_tx *tx, const char *after_ref,
    size_t limit, store_tombstone_cb cb, void *arg)
{
	int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
	struct tomb_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_SUBJECT_TOMBSTONE_LIST, "subject_tombstone_list",
	    SQP_LIST(SQP_TEXT(after_ref), SQP_INT(lim)), tomb_row, &x);
}

const struct store_subjects_ops store_sqlite_subjects_ops = {
	.subject_put = sq_subject_put,
	.subject_get = sq_subject_get,
	.subject_hold = sq_subject_hold,
	.subject_rewrap = sq_subject_rewrap,
	.subject_scan = sq_subject_scan,
	.subject_link = sq_subject_link,
	.subject_of_record = sq_subject_of_record,
	.subject_counts = sq_subject_counts,
	.subject_shred = sq_subject_shred,
	.subject_tombstone_get = sq_subject_tombstone_get,
	.subject_tombstone_list = sq_subject_tombstone_list,
};
