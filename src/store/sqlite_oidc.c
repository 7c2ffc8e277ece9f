/*
 * sqlite_oidc.c: the oidc ops of the SQLite backend (tables oidc_pending,
 * oidc_identities, oidc_sessions; SQL in sqlite.c's statement table), shared
 * with the PostgreSQL backend through its statement runners. A row whose
 * text does not fit its field is a damaged row (PV_E_INTEGRITY), never
 * truncated. Nothing here logs a bound value.
 */
#include <string.h>

#include "store/store_sqlite.h"

static enum pv_rc pending_from_row(struct store_row *s, void *out)
{
	struct store_oidc_pending *p = out;

	memset(p, 0, sizeof(*p));
	if (!store_sqlite_col_copy(s, 0, p->key, sizeof(p->key)) ||
	    !store_sqlite_col_copy(s, 1, p->kind, sizeof(p->kind)) ||
	    !store_sqlite_col_copy(s, 2, p->data, sizeof(p->data))) {
		log_error("store: oidc pending row out of range");
		return PV_E_INTEGRITY;
	}
	p->expires_ms = store_row_int64(s, 3);
	return PV_OK;
}

static enum pv_rc sq_pending_put(struct store_tx *tx, const struct store_oidc_pending *p,
    int64_t now_ms)
{
	enum pv_rc rc = store_sqlite_exec(tx, SQ_OIDC_PENDING_PURGE, "oidc_pending_purge",
	    SQP_LIST(SQP_INT(now_ms)), NULL);

	if (rc != PV_OK)
		return rc;
	return store_sqlite_exec(tx, SQ_OIDC_PENDING_PUT, "oidc_pending_put",
	    SQP_LIST(SQP_TEXT(p->key), SQP_TEXT(p->kind), SQP_TEXT(p->data),
		SQP_INT(p->expires_ms)), NULL);
}

static enum pv_rc sq_pending_get(struct store_tx *tx, const char *key, const char *kind,
    int64_t now_ms, struct store_oidc_pending *out)
{
	struct store_oidc_pending p;
	enum pv_rc rc = store_sqlite_get(tx, SQ_OIDC_PENDING_GET, "oidc_pending_get",
	    SQP_LIST(SQP_TEXT(key), SQP_TEXT(kind)), pending_from_row, &p);

	if (rc != PV_OK)
		return rc;
	if (p.expires_ms <= now_ms)
		return PV_E_EXPIRED;
	*out = p;
	return PV_OK;
}

static enum pv_rc sq_pending_take(struct store_tx *tx, const char *key, const char *kind,
    int64_t now_ms, struct store_oidc_pending *out)
{
	struct store_oidc_pending p;
	enum pv_rc rc = sq_pending_get(tx, key, kind, now_ms, &p);

	if (rc != PV_OK)
		return rc;
	if ((rc = store_sqlite_exec_one(tx, SQ_OIDC_PENDING_DELETE, "oidc_pending_delete",
	    SQP_LIST(SQP_TEXT(key), SQP_TEXT(kind)))) != PV_OK)
		return rc;
	*out = p;
	return PV_OK;
}

static enum pv_rc user_from_row(struct store_row *s, void *out)
{
	if (!store_sqlite_col_copy(s, 0, out, UTIL_ID_MAX)) {
		log_error("store: oidc identity row out of range");
		return PV_E_INTEGRITY;
	}
	return PV_OK;
}

static enum pv_rc sq_identity_get(struct store_tx *tx, const char *iss, const char *sub,
    char user_id[UTIL_ID_MAX])
{
	return store_sqlite_get(tx, SQ_OIDC_IDENTITY_GET, "oidc_identity_get",
	    SQP_LIST(SQP_TEXT(iss), SQP_TEXT(sub)), user_from_row, user_id);
}

static enum pv_rc sq_identity_put(struct store_tx *tx, const char *iss, const char *sub,
    const char *user_id, int64_t now_ms)
{
	return store_sqlite_exec(tx, SQ_OIDC_IDENTITY_PUT, "oidc_identity_put",
	    SQP_LIST(SQP_TEXT(iss), SQP_TEXT(sub), SQP_TEXT(user_id), SQP_INT(now_ms)), NULL);
}

static enum pv_rc sq_session_put(struct store_tx *tx, const char *session_id, const char *iss,
    const char *sid)
{
	return store_sqlite_exec(tx, SQ_OIDC_SESSION_PUT, "oidc_session_put",
	    SQP_LIST(SQP_TEXT(session_id), SQP_TEXT(iss), SQP_TEXT(sid)), NULL);
}

struct sid_ctx {
	store_oidc_session_cb cb;
	void *arg;
};

static enum pv_rc sid_row(struct store_row *s, void *ctx, bool *stop)
{
	struct sid_ctx *x = ctx;
	char sid[UTIL_ID_MAX], uid[UTIL_ID_MAX];

	if (!store_sqlite_col_copy(s, 0, sid, sizeof(sid)) ||
	    !store_sqlite_col_copy(s, 1, uid, sizeof(uid))) {
		log_error("store: oidc session row out of range");
		return PV_E_INTEGRITY;
	}
	*stop = x->cb(sid, uid, x->arg) != 0;
	return PV_OK;
}

static enum pv_rc sq_session_by_sid(struct store_tx *tx, const char *iss, const char *sid,
    store_oidc_session_cb cb, void *arg)
{
	struct sid_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_OIDC_SESSION_BY_SID, "oidc_session_by_sid",
	    SQP_LIST(SQP_TEXT(iss), SQP_TEXT(sid)), sid_row, &x);
}

const struct store_oidc_ops store_sqlite_oidc_ops = {
	.pending_put = sq_pending_put,
	.pending_take = sq_pending_take,
	.pending_get = sq_pending_get,
	.identity_get = sq_identity_get,
	.identity_put = sq_identity_put,
	.session_put = sq_session_put,
	.session_by_sid = sq_session_by_sid,
};
