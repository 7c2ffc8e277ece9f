/*
 * sqlite_apps.c: the apps ops of the SQLite backend (tables apps,
 * app_secrets, app_sessions, migration 11; SQL in sqlite.c's statement
 * table). A row whose text does not fit its field is a damaged row
 * (PV_E_INTEGRITY), never truncated. Nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

void store_app_clear(struct store_app *a)
{
	if (a == NULL)
		return;
	free(a->roles);
	free(a->networks);
	memset(a, 0, sizeof(*a));
}

static enum pv_rc app_from_row(struct store_row *s, void *out)
{
	struct store_app a;
	enum pv_rc rc;

	memset(&a, 0, sizeof(a));
	if (!store_sqlite_col_copy(s, 0, a.id, sizeof(a.id)) ||
	    !store_sqlite_col_copy(s, 1, a.name, sizeof(a.name)) ||
	    !store_sqlite_col_copy(s, 4, a.created_by, sizeof(a.created_by))) {
		log_error("store: app row out of range");
		return PV_E_INTEGRITY;
	}
	a.created_ms = store_row_int64(s, 5);
	a.disabled = store_row_int64(s, 6) != 0;
	a.disabled_ms = store_row_int64(s, 7);
	a.credential_epoch = store_row_int64(s, 8);
	if ((rc = store_sqlite_col_strdup(s, 2, &a.roles)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 3, &a.networks)) != PV_OK) {
		store_app_clear(&a);
		return rc;
	}
	*(struct store_app *)out = a;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(app_row, struct store_app, app_from_row, store_app_clear, store_app_cb)

static enum pv_rc sq_app_put(struct store_tx *tx, const struct store_app *a)
{
	return store_sqlite_exec(tx, SQ_APP_PUT, "app_put",
	    SQP_LIST(SQP_TEXT(a->id), SQP_TEXT(a->name),
		SQP_TEXT(a->roles != NULL ? a->roles : "[]"),
		SQP_TEXT(a->networks != NULL ? a->networks : "[]"), SQP_TEXT(a->created_by),
		SQP_INT(a->created_ms), SQP_INT(a->disabled ? 1 : 0), SQP_INT(a->disabled_ms),
		SQP_INT(a->credential_epoch)), NULL);
}

static enum pv_rc sq_app_get(struct store_tx *tx, const char *id, struct store_app *out)
{
	return store_sqlite_get(tx, SQ_APP_GET, "app_get", SQP_LIST(SQP_TEXT(id)), app_from_row,
	    out);
}

static enum pv_rc sq_app_update(struct store_tx *tx, const struct store_app *a)
{
	return store_sqlite_exec_one(tx, SQ_APP_UPDATE, "app_update",
	    SQP_LIST(SQP_TEXT(a->id), SQP_TEXT(a->roles != NULL ? a->roles : "[]"),
		SQP_TEXT(a->networks != NULL ? a->networks : "[]"), SQP_INT(a->disabled ? 1 : 0),
		SQP_INT(a->disabled_ms), SQP_INT(a->credential_epoch)));
}

static enum pv_rc sq_app_list(struct store_tx *tx, store_app_cb cb, void *arg)
{
	struct app_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_APP_LIST, "app_list", SQP_NONE, app_row, &x);
}

static void secret_clear(struct store_app_secret *s)
{
	explicit_bzero(s, sizeof(*s));
}

static enum pv_rc secret_from_row(struct store_row *s, void *out)
{
	struct store_app_secret a;

	memset(&a, 0, sizeof(a));
	if (!store_sqlite_col_copy(s, 0, a.secret_id, sizeof(a.secret_id)) ||
	    !store_sqlite_col_copy(s, 1, a.app_id, sizeof(a.app_id)) ||
	    !store_sqlite_col_copy(s, 2, a.hash, sizeof(a.hash))) {
		log_error("store: app secret row out of range");
		return PV_E_INTEGRITY;
	}
	a.created_ms = store_row_int64(s, 3);
	a.expires_ms = store_row_int64(s, 4);
	a.revoked_ms = store_row_int64(s, 5);
	if (store_row_int64(s, 6) < 1 || store_row_int64(s, 6) > UINT32_MAX) {
		log_error("store: app secret row with a bad MAC key version");
		return PV_E_INTEGRITY;
	}
	a.mac_version = (uint32_t)store_row_int64(s, 6);
	*(struct store_app_secret *)out = a;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(secret_row, struct store_app_secret, secret_from_row, secret_clear,
    store_app_secret_cb)

static enum pv_rc sq_app_secret_put(struct store_tx *tx, const struct store_app_secret *s)
{
	return store_sqlite_exec(tx, SQ_APP_SECRET_PUT, "app_secret_put",
	    SQP_LIST(SQP_TEXT(s->secret_id), SQP_TEXT(s->app_id), SQP_TEXT(s->hash),
		SQP_INT(s->created_ms), SQP_INT(s->expires_ms), SQP_INT(s->revoked_ms),
		SQP_INT(s->mac_version > 0 ? (int64_t)s->mac_version : 1)), NULL);
}

static enum pv_rc sq_app_secret_list(struct store_tx *tx, const char *app_id,
    store_app_secret_cb cb, void *arg)
{
	struct secret_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_APP_SECRET_LIST, "app_secret_list",
	    SQP_LIST(SQP_TEXT(app_id)), secret_row, &x);
}

static enum pv_rc sq_app_secret_revoke(struct store_tx *tx, const char *app_id,
    const char *secret_id, int64_t now_ms)
{
	return store_sqlite_exec_one(tx, SQ_APP_SECRET_REVOKE, "app_secret_revoke",
	    SQP_LIST(SQP_TEXT(app_id), SQP_TEXT(secret_id), SQP_INT(now_ms)));
}

static enum pv_rc app_session_from_row(struct store_row *s, void *out)
{
	struct store_app_session a;

	memset(&a, 0, sizeof(a));
	if (!store_sqlite_col_copy(s, 0, a.id, sizeof(a.id)) ||
	    !store_sqlite_col_copy(s, 1, a.token_hash, sizeof(a.token_hash)) ||
	    !store_sqlite_col_copy(s, 2, a.app_id, sizeof(a.app_id)) ||
	    !store_sqlite_col_copy(s, 6, a.source, sizeof(a.source)) ||
	    !store_sqlite_col_copy(s, 7, a.method, sizeof(a.method)) ||
	    !store_sqlite_col_copy(s, 9, a.end_reason, sizeof(a.end_reason)) ||
	    !store_sqlite_col_copy(s, 10, a.cert_fingerprint, sizeof(a.cert_fingerprint)) ||
	    !store_sqlite_col_copy(s, 11, a.cert_serial, sizeof(a.cert_serial))) {
		log_error("store: app session row out of range");
		return PV_E_INTEGRITY;
	}
	a.created_ms = store_row_int64(s, 3);
	a.expires_ms = store_row_int64(s, 4);
	a.credential_epoch = store_row_int64(s, 5);
	a.ended_ms = store_row_int64(s, 8);
	*(struct store_app_session *)out = a;
	return PV_OK;
}

static enum pv_rc sq_app_session_put(struct store_tx *tx, const struct store_app_session *s)
{
	return store_sqlite_exec(tx, SQ_APP_SESSION_PUT, "app_session_put",
	    SQP_LIST(SQP_TEXT(s->id), SQP_TEXT(s->token_hash), SQP_TEXT(s->app_id),
		SQP_INT(s->created_ms), SQP_INT(s->expires_ms), SQP_INT(s->credential_epoch),
		SQP_TEXT(s->source), SQP_TEXT(s->method), SQP_TEXT(s->cert_fingerprint),
		SQP_TEXT(s->cert_serial)), NULL);
}

static enum pv_rc sq_app_session_get_by_hash(struct store_tx *tx, const char *token_hash,
    struct store_app_session *out)
{
	return store_sqlite_get(tx, SQ_APP_SESSION_GET_BY_HASH, "app_session_get_by_hash",
	    SQP_LIST(SQP_TEXT(token_hash)), app_session_from_row, out);
}

static enum pv_rc sq_app_session_end_all(struct store_tx *tx, const char *app_id,
    int64_t now_ms, const char *reason, size_t *n)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_APP_SESSION_END_ALL, "app_session_end_all",
	    SQP_LIST(SQP_TEXT(app_id), SQP_INT(now_ms), SQP_TEXT(reason)), &changes);

	if (rc == PV_OK && n != NULL)
		*n = (size_t)changes;
	return rc;
}

static enum pv_rc sq_app_session_end(struct store_tx *tx, const char *id, int64_t now_ms,
    const char *reason)
{
	return store_sqlite_exec_one(tx, SQ_APP_SESSION_END, "app_session_end",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(now_ms), SQP_TEXT(reason)));
}

static enum pv_rc sq_app_cert_revoke(struct store_tx *tx, const char *app_id,
    const char *serial, int64_t now_ms, const char *by)
{
	return store_sqlite_exec(tx, SQ_APP_CERT_REVOKE, "app_cert_revoke",
	    SQP_LIST(SQP_TEXT(serial), SQP_TEXT(app_id), SQP_INT(now_ms), SQP_TEXT(by)), NULL);
}

static enum pv_rc hit_row(struct store_row *s, void *ctx, bool *stop)
{
	(void)s;
	*(bool *)ctx = true;
	*stop = true;
	return PV_OK;
}

static enum pv_rc sq_app_cert_revoked(struct store_tx *tx, const char *serial, bool *revoked)
{
	*revoked = false;
	return store_sqlite_scan(tx, SQ_APP_CERT_REVOKED, "app_cert_revoked",
	    SQP_LIST(SQP_TEXT(serial)), hit_row, revoked);
}

static enum pv_rc sq_app_session_end_cert(struct store_tx *tx, const char *app_id,
    const char *serial, int64_t now_ms, const char *reason, size_t *n)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_APP_SESSION_END_CERT, "app_session_end_cert",
	    SQP_LIST(SQP_TEXT(app_id), SQP_TEXT(serial), SQP_INT(now_ms), SQP_TEXT(reason)),
	    &changes);

	if (rc == PV_OK && n != NULL)
		*n = (size_t)changes;
	return rc;
}

const struct store_apps_ops store_sqlite_apps_ops = {
	.app_put = sq_app_put,
	.app_get = sq_app_get,
	.app_update = sq_app_update,
	.app_list = sq_app_list,
	.app_secret_put = sq_app_secret_put,
	.app_secret_list = sq_app_secret_list,
	.app_secret_revoke = sq_app_secret_revoke,
	.app_session_put = sq_app_session_put,
	.app_session_get_by_hash = sq_app_session_get_by_hash,
	.app_session_end_all = sq_app_session_end_all,
	.app_session_end = sq_app_session_end,
	.app_cert_revoke = sq_app_cert_revoke,
	.app_cert_revoked = sq_app_cert_revoked,
	.app_session_end_cert = sq_app_session_end_cert,
};
