/*
 * sqlite_cluster.c: the access epoch (store_cluster.h), shared op code of
 * the SQL backends (SQLite and PostgreSQL run it through their runners).
 */
#include "store/store_sqlite.h"

static enum pv_rc epoch_from_row(struct store_row *s, void *out)
{
	*(int64_t *)out = store_row_int64(s, 0);
	return PV_OK;
}

static enum pv_rc sq_epoch_get(struct store_tx *tx, int64_t *epoch)
{
	enum pv_rc rc = store_sqlite_get(tx, SQ_EPOCH_GET, "epoch_get", SQP_NONE, epoch_from_row,
	    epoch);

	return rc == PV_E_NOTFOUND ? PV_E_INTEGRITY : rc;   /* its migration seeds the row */
}

static enum pv_rc sq_epoch_bump(struct store_tx *tx)
{
	enum pv_rc rc = store_sqlite_exec_one(tx, SQ_EPOCH_BUMP, "epoch_bump", SQP_NONE);

	return rc == PV_E_NOTFOUND ? PV_E_INTEGRITY : rc;
}

const struct store_cluster_ops store_sqlite_cluster_ops = {
	.epoch_get = sq_epoch_get,
	.epoch_bump = sq_epoch_bump,
};
