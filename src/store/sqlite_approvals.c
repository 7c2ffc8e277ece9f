/*
 * sqlite_approvals.c: the approvals ops of the SQLite backend (table
 * approvals; SQL in sqlite.c's statement table). A row whose text does not
 * fit its field is a damaged row (PV_E_INTEGRITY), never truncated.
 * Nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

void store_approval_clear(struct store_approval *a)
{
	if (a == NULL)
		return;
	free(a->change);
	free(a->note);
	memset(a, 0, sizeof(*a));
}

static enum pv_rc approval_from_row(struct store_row *s, void *out)
{
	struct store_approval a;
	enum pv_rc rc;

	memset(&a, 0, sizeof(a));
	if (!store_sqlite_col_copy(s, 0, a.id, sizeof(a.id)) ||
	    !store_sqlite_col_copy(s, 1, a.kind, sizeof(a.kind)) ||
	    !store_sqlite_col_copy(s, 2, a.status, sizeof(a.status)) ||
	    !store_sqlite_col_copy(s, 3, a.requested_by, sizeof(a.requested_by)) ||
	    !store_sqlite_col_copy(s, 4, a.target, sizeof(a.target)) ||
	    !store_sqlite_col_copy(s, 8, a.decided_by, sizeof(a.decided_by))) {
		log_error("store: approval row out of range");
		return PV_E_INTEGRITY;
	}
	a.created_ms = store_row_int64(s, 6);
	a.expires_ms = store_row_int64(s, 7);
	a.decided_ms = store_row_int64(s, 9);
	if ((rc = store_sqlite_col_strdup(s, 5, &a.change)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 10, &a.note)) != PV_OK) {
		store_approval_clear(&a);
		return rc;
	}
	*(struct store_approval *)out = a;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(approval_row, struct store_approval, approval_from_row,
    store_approval_clear, store_approval_cb)

static enum pv_rc sq_approval_put(struct store_tx *tx, const struct store_approval *a)
{
	return store_sqlite_exec(tx, SQ_APPROVAL_PUT, "approval_put",
	    SQP_LIST(SQP_TEXT(a->id), SQP_TEXT(a->kind), SQP_TEXT(a->status),
		SQP_TEXT(a->requested_by), SQP_TEXT(a->target), SQP_TEXT(a->change),
		SQP_INT(a->created_ms), SQP_INT(a->expires_ms), SQP_TEXT(a->decided_by),
		SQP_INT(a->decided_ms), SQP_TEXT(a->note != NULL ? a->note : "")), NULL);
}

static enum pv_rc sq_approval_get(struct store_tx *tx, const char *id,
    struct store_approval *out)
{
	return store_sqlite_get(tx, SQ_APPROVAL_GET, "approval_get", SQP_LIST(SQP_TEXT(id)),
	    approval_from_row, out);
}

static enum pv_rc sq_approval_list(struct store_tx *tx, const char *status,
    store_approval_cb cb, void *arg)
{
	struct approval_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_APPROVAL_LIST, "approval_list",
	    SQP_LIST(status != NULL ? SQP_TEXT(status) : SQP_NULL()), approval_row, &x);
}

static enum pv_rc sq_approval_decide(struct store_tx *tx, const char *id, const char *status,
    const char *decided_by, int64_t decided_ms, const char *note)
{
	return store_sqlite_exec_one(tx, SQ_APPROVAL_DECIDE, "approval_decide",
	    SQP_LIST(SQP_TEXT(id), SQP_TEXT(status), SQP_TEXT(decided_by), SQP_INT(decided_ms),
		SQP_TEXT(note)));
}

static enum pv_rc found_row(struct store_row *s, void *ctx, bool *stop)
{
	(void)s;
	*(bool *)ctx = true;
	*stop = true;
	return PV_OK;
}

static enum pv_rc sq_approval_applied(struct store_tx *tx, const char *kind,
    const char *target, bool *found)
{
	*found = false;
	return store_sqlite_scan(tx, SQ_APPROVAL_APPLIED, "approval_applied",
	    SQP_LIST(SQP_TEXT(kind), SQP_TEXT(target)), found_row, found);
}

const struct store_approvals_ops store_sqlite_approvals_ops = {
	.approval_put = sq_approval_put,
	.approval_get = sq_approval_get,
	.approval_list = sq_approval_list,
	.approval_decide = sq_approval_decide,
	.approval_applied = sq_approval_applied,
};
