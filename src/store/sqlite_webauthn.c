/*
 * sqlite_webauthn.c: the webauthn ops of the SQLite backend (tables
 * webauthn_credentials, webauthn_users, webauthn_challenges and
 * sessions.mfa_method; SQL in sqlite.c's statement table). A row whose text
 * does not fit its field is a damaged row (PV_E_INTEGRITY), never truncated.
 * Nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

void store_webauthn_cred_clear(struct store_webauthn_cred *c)
{
	if (c == NULL)
		return;
	free(c->public_key);
	memset(c, 0, sizeof(*c));
}

static enum pv_rc cred_from_row(struct store_row *s, void *out)
{
	struct store_webauthn_cred *c = out;
	int64_t alg = store_row_int64(s, 3);
	enum pv_rc rc;

	memset(c, 0, sizeof(*c));
	if (!store_sqlite_col_copy(s, 0, c->id, sizeof(c->id)) ||
	    !store_sqlite_col_copy(s, 1, c->user_id, sizeof(c->user_id)) ||
	    !store_sqlite_col_copy(s, 5, c->name, sizeof(c->name)) ||
	    !store_sqlite_col_copy(s, 6, c->aaguid, sizeof(c->aaguid)) ||
	    alg < -65536 || alg > 65536) {
		log_error("store: webauthn credential row out of range");
		return PV_E_INTEGRITY;
	}
	c->alg = (int)alg;
	c->sign_count = store_row_int64(s, 4);
	c->created_ms = store_row_int64(s, 7);
	c->last_used_ms = store_row_int64(s, 8);
	if ((rc = store_sqlite_col_blob(s, 2, STORE_SQLITE_BLOB_BUF, &c->public_key,
	    &c->public_key_len)) != PV_OK) {
		memset(c, 0, sizeof(*c));
		return rc;
	}
	return PV_OK;
}

/* cred_from_row decodes in place (the struct is large): the scan's row
 * function goes through a heap copy */
struct cred_row_ctx {
	store_webauthn_cred_cb cb;
	void *arg;
};

static enum pv_rc cred_row(struct store_row *s, void *ctx, bool *stop)
{
	struct cred_row_ctx *x = ctx;
	struct store_webauthn_cred *c = malloc(sizeof(*c));
	enum pv_rc rc;

	if (c == NULL)
		return PV_E_NOMEM;
	if ((rc = cred_from_row(s, c)) == PV_OK) {
		*stop = x->cb(c, x->arg) != 0;
		store_webauthn_cred_clear(c);
	}
	free(c);
	return rc;
}

static enum pv_rc sq_cred_put(struct store_tx *tx, const struct store_webauthn_cred *c)
{
	return store_sqlite_exec(tx, SQ_WA_CRED_PUT, "webauthn_cred_put",
	    SQP_LIST(SQP_TEXT(c->id), SQP_TEXT(c->user_id),
		SQP_BLOB(c->public_key, c->public_key_len), SQP_INT(c->alg),
		SQP_INT(c->sign_count), SQP_TEXT(c->name), SQP_TEXT(c->aaguid),
		SQP_INT(c->created_ms), SQP_INT(c->last_used_ms)), NULL);
}

static enum pv_rc sq_cred_get(struct store_tx *tx, const char *id,
    struct store_webauthn_cred *out)
{
	return store_sqlite_get(tx, SQ_WA_CRED_GET, "webauthn_cred_get", SQP_LIST(SQP_TEXT(id)),
	    cred_from_row, out);
}

static enum pv_rc sq_cred_list(struct store_tx *tx, const char *user_id,
    store_webauthn_cred_cb cb, void *arg)
{
	struct cred_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_WA_CRED_LIST, "webauthn_cred_list",
	    SQP_LIST(SQP_TEXT(user_id)), cred_row, &x);
}

static enum pv_rc sq_cred_use(struct store_tx *tx, const char *id, int64_t sign_count,
    int64_t now_ms)
{
	return store_sqlite_exec_one(tx, SQ_WA_CRED_USE, "webauthn_cred_use",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(sign_count), SQP_INT(now_ms)));
}

static enum pv_rc sq_cred_delete(struct store_tx *tx, const char *user_id, const char *id)
{
	return store_sqlite_exec_one(tx, SQ_WA_CRED_DELETE, "webauthn_cred_delete",
	    SQP_LIST(SQP_TEXT(user_id), SQP_TEXT(id)));
}

static enum pv_rc sq_cred_delete_user(struct store_tx *tx, const char *user_id, size_t *n)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_WA_CRED_DELETE_USER, "webauthn_cred_delete_user",
	    SQP_LIST(SQP_TEXT(user_id)), &changes);

	if (rc == PV_OK && n != NULL)
		*n = (size_t)changes;
	return rc;
}

static enum pv_rc handle_from_row(struct store_row *s, void *out)
{
	if (!store_sqlite_col_copy(s, 0, out, STORE_WEBAUTHN_HANDLE_MAX)) {
		log_error("store: webauthn handle row out of range");
		return PV_E_INTEGRITY;
	}
	return PV_OK;
}

static enum pv_rc sq_handle_get(struct store_tx *tx, const char *user_id,
    char out[STORE_WEBAUTHN_HANDLE_MAX])
{
	return store_sqlite_get(tx, SQ_WA_HANDLE_GET, "webauthn_handle_get",
	    SQP_LIST(SQP_TEXT(user_id)), handle_from_row, out);
}

static enum pv_rc sq_handle_put(struct store_tx *tx, const char *user_id, const char *handle)
{
	return store_sqlite_exec(tx, SQ_WA_HANDLE_PUT, "webauthn_handle_put",
	    SQP_LIST(SQP_TEXT(user_id), SQP_TEXT(handle)), NULL);
}

static enum pv_rc challenge_from_row(struct store_row *s, void *out)
{
	struct store_webauthn_challenge c;

	memset(&c, 0, sizeof(c));
	if (!store_sqlite_col_copy(s, 0, c.challenge, sizeof(c.challenge)) ||
	    !store_sqlite_col_copy(s, 1, c.kind, sizeof(c.kind)) ||
	    !store_sqlite_col_copy(s, 2, c.user_id, sizeof(c.user_id)) ||
	    !store_sqlite_col_copy(s, 3, c.bind, sizeof(c.bind))) {
		log_error("store: webauthn challenge row out of range");
		return PV_E_INTEGRITY;
	}
	c.expires_ms = store_row_int64(s, 4);
	*(struct store_webauthn_challenge *)out = c;
	return PV_OK;
}

static enum pv_rc sq_challenge_put(struct store_tx *tx, const struct store_webauthn_challenge *c,
    int64_t now_ms)
{
	enum pv_rc rc = store_sqlite_exec(tx, SQ_WA_CHALLENGE_PURGE, "webauthn_challenge_purge",
	    SQP_LIST(SQP_INT(now_ms)), NULL);

	if (rc != PV_OK)
		return rc;
	return store_sqlite_exec(tx, SQ_WA_CHALLENGE_PUT, "webauthn_challenge_put",
	    SQP_LIST(SQP_TEXT(c->challenge), SQP_TEXT(c->kind), SQP_TEXT(c->user_id),
		SQP_TEXT(c->bind), SQP_INT(c->expires_ms)), NULL);
}

static enum pv_rc sq_challenge_take(struct store_tx *tx, const char *challenge, int64_t now_ms,
    struct store_webauthn_challenge *out)
{
	struct store_webauthn_challenge c;
	enum pv_rc rc = store_sqlite_get(tx, SQ_WA_CHALLENGE_GET, "webauthn_challenge_get",
	    SQP_LIST(SQP_TEXT(challenge)), challenge_from_row, &c);

	if (rc != PV_OK)
		return rc;
	if (c.expires_ms <= now_ms)
		return PV_E_EXPIRED;
	if ((rc = store_sqlite_exec_one(tx, SQ_WA_CHALLENGE_DELETE, "webauthn_challenge_delete",
	    SQP_LIST(SQP_TEXT(challenge)))) != PV_OK)
		return rc;
	*out = c;
	return PV_OK;
}

static enum pv_rc sq_session_set_mfa_method(struct store_tx *tx, const char *session_id,
    const char *method)
{
	return store_sqlite_exec_one(tx, SQ_SESSION_SET_MFA_METHOD, "session_set_mfa_method",
	    SQP_LIST(SQP_TEXT(session_id), SQP_TEXT(method)));
}

const struct store_webauthn_ops store_sqlite_webauthn_ops = {
	.cred_put = sq_cred_put,
	.cred_get = sq_cred_get,
	.cred_list = sq_cred_list,
	.cred_use = sq_cred_use,
	.cred_delete = sq_cred_delete,
	.cred_delete_user = sq_cred_delete_user,
	.handle_get = sq_handle_get,
	.handle_put = sq_handle_put,
	.challenge_put = sq_challenge_put,
	.challenge_take = sq_challenge_take,
	.session_set_mfa_method = sq_session_set_mfa_method,
};
