/*
 * sqlite_elevations.c: the elevations ops of the SQL backends (tables
 * elevations and user_eligible_roles; SQL in sqlite.c's statement table,
 * common dialect, so PostgreSQL runs the same code through its runners). A
 * row whose text does not fit its field is a damaged row (PV_E_INTEGRITY),
 * never truncated. Nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

void store_elevation_clear(struct store_elevation *e)
{
	if (e == NULL)
		return;
	free(e->justification);
	memset(e, 0, sizeof(*e));
}

static enum pv_rc elevation_from_row(struct store_row *s, void *out)
{
	struct store_elevation e;
	enum pv_rc rc;

	memset(&e, 0, sizeof(e));
	if (!store_sqlite_col_copy(s, 0, e.id, sizeof(e.id)) ||
	    !store_sqlite_col_copy(s, 1, e.user_id, sizeof(e.user_id)) ||
	    !store_sqlite_col_copy(s, 2, e.role, sizeof(e.role)) ||
	    !store_sqlite_col_copy(s, 3, e.status, sizeof(e.status)) ||
	    !store_sqlite_col_copy(s, 5, e.ticket, sizeof(e.ticket)) ||
	    !store_sqlite_col_copy(s, 9, e.approved_by, sizeof(e.approved_by)) ||
	    !store_sqlite_col_copy(s, 12, e.ended_by, sizeof(e.ended_by))) {
		log_error("store: elevation row out of range");
		return PV_E_INTEGRITY;
	}
	e.duration_s = store_row_int64(s, 6);
	e.created_ms = store_row_int64(s, 7);
	e.request_expires_ms = store_row_int64(s, 8);
	e.starts_ms = store_row_int64(s, 10);
	e.expires_ms = store_row_int64(s, 11);
	e.ended_ms = store_row_int64(s, 13);
	if ((rc = store_sqlite_col_strdup(s, 4, &e.justification)) != PV_OK)
		return rc;
	*(struct store_elevation *)out = e;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(elevation_row, struct store_elevation, elevation_from_row,
    store_elevation_clear, store_elevation_cb)

static enum pv_rc sq_elevation_put(struct store_tx *tx, const struct store_elevation *e)
{
	return store_sqlite_exec(tx, SQ_ELEVATION_PUT, "elevation_put",
	    SQP_LIST(SQP_TEXT(e->id), SQP_TEXT(e->user_id), SQP_TEXT(e->role),
		SQP_TEXT(e->status), SQP_TEXT(e->justification), SQP_TEXT(e->ticket),
		SQP_INT(e->duration_s), SQP_INT(e->created_ms), SQP_INT(e->request_expires_ms),
		SQP_TEXT(e->approved_by), SQP_INT(e->starts_ms), SQP_INT(e->expires_ms),
		SQP_TEXT(e->ended_by), SQP_INT(e->ended_ms)), NULL);
}

static enum pv_rc sq_elevation_get(struct store_tx *tx, const char *id,
    struct store_elevation *out)
{
	return store_sqlite_get(tx, SQ_ELEVATION_GET, "elevation_get", SQP_LIST(SQP_TEXT(id)),
	    elevation_from_row, out);
}

static enum pv_rc sq_elevation_list(struct store_tx *tx, const char *user_id,
    const char *status, store_elevation_cb cb, void *arg)
{
	struct elevation_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_ELEVATION_LIST, "elevation_list",
	    SQP_LIST(user_id != NULL ? SQP_TEXT(user_id) : SQP_NULL(),
		status != NULL ? SQP_TEXT(status) : SQP_NULL()), elevation_row, &x);
}

static enum pv_rc sq_elevation_approve(struct store_tx *tx, const char *id, const char *by,
    int64_t starts_ms, int64_t expires_ms)
{
	return store_sqlite_exec_one(tx, SQ_ELEVATION_APPROVE, "elevation_approve",
	    SQP_LIST(SQP_TEXT(id), SQP_TEXT(by), SQP_INT(starts_ms), SQP_INT(expires_ms)));
}

static enum pv_rc sq_elevation_end(struct store_tx *tx, const char *id, const char *from,
    const char *to, const char *by, int64_t at_ms)
{
	return store_sqlite_exec_one(tx, SQ_ELEVATION_END, "elevation_end",
	    SQP_LIST(SQP_TEXT(id), SQP_TEXT(from), SQP_TEXT(to), SQP_TEXT(by), SQP_INT(at_ms)));
}

static enum pv_rc sq_eligible_set(struct store_tx *tx, const char *user_id,
    const char *const *roles, size_t n)
{
	enum pv_rc rc;
	size_t i;

	if ((rc = store_sqlite_exec(tx, SQ_ELIGIBLE_DELETE, "eligible_set",
	    SQP_LIST(SQP_TEXT(user_id)), NULL)) != PV_OK)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = store_sqlite_exec(tx, SQ_ELIGIBLE_INSERT, "eligible_set/insert",
		    SQP_LIST(SQP_TEXT(user_id), SQP_TEXT(roles[i])), NULL)) != PV_OK)
			return rc;
	return PV_OK;
}

static enum pv_rc sq_eligible_get(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg)
{
	struct store_sqlite_name_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_ELIGIBLE_GET, "eligible_get", SQP_LIST(SQP_TEXT(user_id)),
	    store_sqlite_name_row, &x);
}

const struct store_elevations_ops store_sqlite_elevations_ops = {
	.elevation_put = sq_elevation_put,
	.elevation_get = sq_elevation_get,
	.elevation_list = sq_elevation_list,
	.elevation_approve = sq_elevation_approve,
	.elevation_end = sq_elevation_end,
	.eligible_set = sq_eligible_set,
	.eligible_get = sq_eligible_get,
};
