/*
 * sqlite_jobs.c: the jobs ops of the SQLite backend (table `jobs`,
 * migration 7; SQL in sqlite.c's statement table). Rows are copied out
 * whole or not at all; a row whose fixed-size text does not fit is a
 * damaged row (PV_E_IO), never truncated.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

static enum pv_rc job_from_row(struct store_row *s, void *out)
{
	struct store_job j;
	enum pv_rc rc;

	memset(&j, 0, sizeof(j));
	if (!store_sqlite_col_copy(s, 0, j.id, sizeof(j.id)) ||
	    !store_sqlite_col_copy(s, 1, j.kind, sizeof(j.kind)) ||
	    !store_sqlite_col_copy(s, 2, j.state, sizeof(j.state)) ||
	    !store_sqlite_col_copy(s, 13, j.lease_owner, sizeof(j.lease_owner)) ||
	    !store_sqlite_col_copy(s, 15, j.created_by, sizeof(j.created_by))) {
		log_error("store: job_get: damaged row");
		return PV_E_IO;
	}
	if ((rc = store_sqlite_col_strdup(s, 3, &j.cursor)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 4, &j.params)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 5, &j.errors)) != PV_OK) {
		store_job_clear(&j);
		return rc;
	}
	j.done = store_row_int64(s, 6);
	j.total = store_row_int64(s, 7);
	j.error_count = store_row_int64(s, 8);
	j.created_ms = store_row_int64(s, 9);
	j.started_ms = store_row_int64(s, 10);
	j.finished_ms = store_row_int64(s, 11);
	j.updated_ms = store_row_int64(s, 12);
	j.lease_expires_ms = store_row_int64(s, 14);
	*(struct store_job *)out = j;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(job_row, struct store_job, job_from_row, store_job_clear, store_job_cb)

enum pv_rc store_sqlite_job_put(struct store_tx *tx, const struct store_job *j)
{
	return store_sqlite_exec(tx, SQ_JOB_PUT, "job_put",
	    SQP_LIST(SQP_TEXT(j->id), SQP_TEXT(j->kind), SQP_TEXT(j->state), SQP_TEXT(j->cursor),
		SQP_TEXT(j->params), SQP_TEXT(j->errors), SQP_INT(j->done), SQP_INT(j->total),
		SQP_INT(j->error_count), SQP_INT(j->created_ms), SQP_INT(j->started_ms),
		SQP_INT(j->finished_ms), SQP_INT(j->updated_ms), SQP_TEXT(j->lease_owner),
		SQP_INT(j->lease_expires_ms), SQP_TEXT(j->created_by)), NULL);
}

enum pv_rc store_sqlite_job_get(struct store_tx *tx, const char *id, struct store_job *out)
{
	return store_sqlite_get(tx, SQ_JOB_GET, "job_get", SQP_LIST(SQP_TEXT(id)), job_from_row,
	    out);
}

enum pv_rc store_sqlite_job_update(struct store_tx *tx, const struct store_job *j)
{
	return store_sqlite_exec_one(tx, SQ_JOB_UPDATE, "job_update",
	    SQP_LIST(SQP_TEXT(j->id), SQP_TEXT(j->state), SQP_TEXT(j->cursor), SQP_TEXT(j->errors),
		SQP_INT(j->done), SQP_INT(j->total), SQP_INT(j->error_count),
		SQP_INT(j->started_ms), SQP_INT(j->finished_ms), SQP_INT(j->updated_ms),
		SQP_TEXT(j->lease_owner), SQP_INT(j->lease_expires_ms)));
}

enum pv_rc store_sqlite_job_list(struct store_tx *tx, store_job_cb cb, void *arg)
{
	struct job_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_JOB_LIST, "job_list", SQP_NONE, job_row, &x);
}

enum pv_rc store_sqlite_job_runnable(struct store_tx *tx, const char *owner, int64_t now_ms,
    store_job_cb cb, void *arg)
{
	struct job_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_JOB_RUNNABLE, "job_runnable",
	    SQP_LIST(SQP_TEXT(owner), SQP_INT(now_ms)), job_row, &x);
}

const struct store_jobs_ops store_sqlite_jobs_ops = {
	/* jobs:begin */
	.job_put = store_sqlite_job_put,
	.job_get = store_sqlite_job_get,
	.job_update = store_sqlite_job_update,
	.job_list = store_sqlite_job_list,
	.job_runnable = store_sqlite_job_runnable,
	/* jobs:end */
};
