/*
 * sqlite_breakglass.c: the break-glass ops of the SQL backends (table
 * breakglass; SQL in sqlite.c's statement table, shared by PostgreSQL
 * through the statement runners). A row whose text does not fit its field
 * is a damaged row (PV_E_INTEGRITY), never truncated. Nothing here logs a
 * bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

void store_breakglass_clear(struct store_breakglass *g)
{
	if (g == NULL)
		return;
	free(g->justification);
	free(g->review_note);
	memset(g, 0, sizeof(*g));
}

static enum pv_rc bg_from_row(struct store_row *s, void *out)
{
	struct store_breakglass g;
	enum pv_rc rc;

	memset(&g, 0, sizeof(g));
	if (!store_sqlite_col_copy(s, 0, g.id, sizeof(g.id)) ||
	    !store_sqlite_col_copy(s, 1, g.user_id, sizeof(g.user_id)) ||
	    !store_sqlite_col_copy(s, 2, g.subject_ref, sizeof(g.subject_ref)) ||
	    !store_sqlite_col_copy(s, 3, g.reason_code, sizeof(g.reason_code)) ||
	    !store_sqlite_col_copy(s, 8, g.end_reason, sizeof(g.end_reason)) ||
	    !store_sqlite_col_copy(s, 10, g.review_id, sizeof(g.review_id)) ||
	    !store_sqlite_col_copy(s, 11, g.review_status, sizeof(g.review_status)) ||
	    !store_sqlite_col_copy(s, 13, g.reviewed_by, sizeof(g.reviewed_by))) {
		log_error("store: breakglass row out of range");
		return PV_E_INTEGRITY;
	}
	g.created_ms = store_row_int64(s, 5);
	g.expires_ms = store_row_int64(s, 6);
	g.ended_ms = store_row_int64(s, 7);
	g.since_seq = store_row_int64(s, 9);
	g.review_due_ms = store_row_int64(s, 12);
	g.reviewed_ms = store_row_int64(s, 14);
	g.overdue_reported = store_row_int64(s, 16) != 0;
	if ((rc = store_sqlite_col_strdup(s, 4, &g.justification)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 15, &g.review_note)) != PV_OK) {
		store_breakglass_clear(&g);
		return rc;
	}
	*(struct store_breakglass *)out = g;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(bg_row, struct store_breakglass, bg_from_row, store_breakglass_clear,
    store_breakglass_cb)

static enum pv_rc sq_bg_put(struct store_tx *tx, const struct store_breakglass *g)
{
	return store_sqlite_exec(tx, SQ_BG_PUT, "breakglass_put",
	    SQP_LIST(SQP_TEXT(g->id), SQP_TEXT(g->user_id), SQP_TEXT(g->subject_ref),
		SQP_TEXT(g->reason_code), SQP_TEXT(g->justification), SQP_INT(g->created_ms),
		SQP_INT(g->expires_ms), SQP_INT(g->ended_ms), SQP_TEXT(g->end_reason),
		SQP_INT(g->since_seq), SQP_TEXT(g->review_id), SQP_TEXT(g->review_status),
		SQP_INT(g->review_due_ms), SQP_TEXT(g->reviewed_by), SQP_INT(g->reviewed_ms),
		SQP_TEXT(g->review_note != NULL ? g->review_note : ""),
		SQP_INT(g->overdue_reported ? 1 : 0)), NULL);
}

static enum pv_rc sq_bg_get(struct store_tx *tx, const char *id, struct store_breakglass *out)
{
	return store_sqlite_get(tx, SQ_BG_GET, "breakglass_get", SQP_LIST(SQP_TEXT(id)),
	    bg_from_row, out);
}

static enum pv_rc sq_bg_review_get(struct store_tx *tx, const char *review_id,
    struct store_breakglass *out)
{
	return store_sqlite_get(tx, SQ_BG_REVIEW_GET, "breakglass_review_get",
	    SQP_LIST(SQP_TEXT(review_id)), bg_from_row, out);
}

static enum pv_rc sq_bg_active(struct store_tx *tx, const char *user_id, int64_t now_ms,
    struct store_breakglass *out)
{
	return store_sqlite_get(tx, SQ_BG_ACTIVE, "breakglass_active",
	    SQP_LIST(SQP_TEXT(user_id), SQP_INT(now_ms)), bg_from_row, out);
}

static enum pv_rc sq_bg_list(struct store_tx *tx, const char *user_id,
    const char *review_status, store_breakglass_cb cb, void *arg)
{
	struct bg_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_BG_LIST, "breakglass_list",
	    SQP_LIST(user_id != NULL ? SQP_TEXT(user_id) : SQP_NULL(),
		review_status != NULL ? SQP_TEXT(review_status) : SQP_NULL()), bg_row, &x);
}

static enum pv_rc sq_bg_end(struct store_tx *tx, const char *id, int64_t ended_ms,
    const char *end_reason)
{
	return store_sqlite_exec_one(tx, SQ_BG_END, "breakglass_end",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(ended_ms), SQP_TEXT(end_reason)));
}

static enum pv_rc sq_bg_review_decide(struct store_tx *tx, const char *review_id,
    const char *status, const char *by, int64_t at_ms, const char *note)
{
	return store_sqlite_exec_one(tx, SQ_BG_REVIEW_DECIDE, "breakglass_review_decide",
	    SQP_LIST(SQP_TEXT(review_id), SQP_TEXT(status), SQP_TEXT(by), SQP_INT(at_ms),
		SQP_TEXT(note)));
}

static enum pv_rc sq_bg_overdue_mark(struct store_tx *tx, const char *review_id)
{
	return store_sqlite_exec_one(tx, SQ_BG_OVERDUE_MARK, "breakglass_overdue_mark",
	    SQP_LIST(SQP_TEXT(review_id)));
}

const struct store_breakglass_ops store_sqlite_breakglass_ops = {
	.bg_put = sq_bg_put,
	.bg_get = sq_bg_get,
	.bg_review_get = sq_bg_review_get,
	.bg_active = sq_bg_active,
	.bg_list = sq_bg_list,
	.bg_end = sq_bg_end,
	.bg_review_decide = sq_bg_review_decide,
	.bg_overdue_mark = sq_bg_overdue_mark,
};
