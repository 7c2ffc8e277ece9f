/*
 * sqlite_identity.c: the identity ops of the SQLite backend (users, roles,
 * groups, sessions, recovery codes, lockout counters, pending MFA logins).
 * The SQL lives in sqlite.c's statement table (SQ_USER_* ...) and runs through
 * its statement runners; this file says what is bound and how rows are copied.
 *
 * Invariants:
 *  - Rows are copied into the caller's structs; strings that do not fit
 *    their fixed fields are PV_E_INTEGRITY (a damaged row), never truncated.
 *  - Ops that "replace a set" (roles, groups, recovery codes) delete and
 *    insert on the calling connection: they run inside the writer's
 *    transaction (audit_commit), so a reader never sees half a set.
 *  - Nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

/* Statements run through sqlite.c's runners (store_sqlite_exec/get/scan). */

/* ---- users ---- */

void store_user_clear(struct store_user *u)
{
	if (u == NULL)
		return;
	free(u->attributes);
	if (u->mfa_secret != NULL) {
		explicit_bzero(u->mfa_secret, u->mfa_secret_len);
		free(u->mfa_secret);
	}
	free(u->mfa_env);
	explicit_bzero(u, sizeof(*u));
}

static enum pv_rc user_from_row(struct store_row *s, void *out)
{
	struct store_user u;
	enum pv_rc rc;

	memset(&u, 0, sizeof(u));
	if (!store_sqlite_col_copy(s, 0, u.id, sizeof(u.id)) ||
	    !store_sqlite_col_copy(s, 1, u.username, sizeof(u.username)) ||
	    !store_sqlite_col_copy(s, 2, u.display_name, sizeof(u.display_name)) ||
	    !store_sqlite_col_copy(s, 3, u.email, sizeof(u.email)) ||
	    !store_sqlite_col_copy(s, 6, u.password_hash, sizeof(u.password_hash)) ||
	    !store_sqlite_col_copy(s, 16, u.created_by, sizeof(u.created_by))) {
		log_error("store: user row out of range");
		return PV_E_INTEGRITY;
	}
	/* anything but "active": fail closed */
	u.disabled = strcmp(store_sqlite_col_text(s, 4), "active") != 0;
	u.password_one_time = store_row_int64(s, 7) != 0;
	u.credential_epoch = store_row_int64(s, 8);
	u.mfa_enabled = store_row_int64(s, 11) != 0;
	u.mfa_last_step = store_row_int64(s, 12);
	u.created_ms = store_row_int64(s, 13);
	u.updated_ms = store_row_int64(s, 14);
	u.disabled_ms = store_row_int64(s, 15);
	u.otp_issued_ms = store_row_int64(s, 17);
	u.otp_used_ms = store_row_int64(s, 18);
	/* no MFA secret: NULL, not an empty buffer */
	if ((rc = store_sqlite_col_strdup(s, 5, &u.attributes)) != PV_OK ||
	    (rc = store_sqlite_col_blob(s, 9, STORE_SQLITE_BLOB_OPTIONAL, &u.mfa_secret,
		&u.mfa_secret_len)) != PV_OK ||
	    (rc = store_sqlite_col_blob(s, 10, STORE_SQLITE_BLOB_OPTIONAL, &u.mfa_env,
		&u.mfa_env_len)) != PV_OK) {
		store_user_clear(&u);
		return rc;
	}
	*(struct store_user *)out = u;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(user_row, struct store_user, user_from_row, store_user_clear,
    store_user_cb)

/* INSERT and UPDATE bind the same ?1..?19 (UPDATE leaves ?2 and ?14 unused and
 * sets ?17, created_by, only where it is still NULL: set once, never rewritten). */
static enum pv_rc user_write(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_user *u, int *changes)
{
	return store_sqlite_exec(tx, id, op,
	    SQP_LIST(SQP_TEXT(u->id), SQP_TEXT(u->username), SQP_TEXT(u->display_name),
		SQP_TEXT(u->email), SQP_TEXT(u->disabled ? "disabled" : "active"),
		SQP_TEXT(u->attributes != NULL ? u->attributes : "{}"),
		SQP_TEXT(u->password_hash), SQP_INT(u->password_one_time ? 1 : 0),
		SQP_INT(u->credential_epoch),
		SQP_BLOB_OR_NULL(u->mfa_secret, u->mfa_secret_len),
		SQP_BLOB_OR_NULL(u->mfa_env, u->mfa_env_len), SQP_INT(u->mfa_enabled ? 1 : 0),
		SQP_INT(u->mfa_last_step), SQP_INT(u->created_ms), SQP_INT(u->updated_ms),
		SQP_INT_OR_NULL(u->disabled_ms),
		SQP_TEXT(u->created_by[0] != '\0' ? u->created_by : NULL),
		SQP_INT(u->otp_issued_ms), SQP_INT(u->otp_used_ms)), changes);
}

enum pv_rc store_sqlite_user_put(struct store_tx *tx, const struct store_user *u)
{
	return user_write(tx, SQ_USER_PUT, "user_put", u, NULL);
}

enum pv_rc store_sqlite_user_update(struct store_tx *tx, const struct store_user *u)
{
	int changes = 0;
	enum pv_rc rc = user_write(tx, SQ_USER_UPDATE, "user_update", u, &changes);

	return rc == PV_OK && changes == 0 ? PV_E_NOTFOUND : rc;
}

enum pv_rc store_sqlite_user_get(struct store_tx *tx, const char *id, struct store_user *out)
{
	return store_sqlite_get(tx, SQ_USER_GET, "user_get", SQP_LIST(SQP_TEXT(id)),
	    user_from_row, out);
}

enum pv_rc store_sqlite_user_get_by_username(struct store_tx *tx, const char *username,
    struct store_user *out)
{
	return store_sqlite_get(tx, SQ_USER_GET_BY_USERNAME, "user_get_by_username",
	    SQP_LIST(SQP_TEXT(username)), user_from_row, out);
}

enum pv_rc store_sqlite_user_list(struct store_tx *tx, store_user_cb cb, void *arg)
{
	struct user_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_USER_LIST, "user_list", SQP_NONE, user_row, &x);
}

/* ---- name sets: user roles, user groups, recovery codes ---- */

static enum pv_rc set_replace(struct store_tx *tx, enum store_sqlite_stmt del,
    enum store_sqlite_stmt ins, const char *op, const char *op_ins, const char *user_id,
    const char *const *names, size_t n)
{
	enum pv_rc rc;
	size_t i;

	if ((rc = store_sqlite_exec(tx, del, op, SQP_LIST(SQP_TEXT(user_id)), NULL)) != PV_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (names[i] == NULL)
			return PV_E_INVALID;
		if ((rc = store_sqlite_exec(tx, ins, op_ins,
		    SQP_LIST(SQP_TEXT(user_id), SQP_TEXT(names[i])), NULL)) != PV_OK)
			return rc;
	}
	return PV_OK;
}

static enum pv_rc names_scan(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const char *user_id, store_name_cb cb, void *arg)
{
	struct store_sqlite_name_ctx x = { cb, arg };

	return store_sqlite_scan(tx, id, op, SQP_LIST(SQP_TEXT(user_id)), store_sqlite_name_row,
	    &x);
}

enum pv_rc store_sqlite_user_roles_set(struct store_tx *tx, const char *user_id,
    const char *const *roles, size_t n)
{
	return set_replace(tx, SQ_USER_ROLES_DELETE, SQ_USER_ROLES_INSERT, "user_roles_set",
	    "user_roles_set/insert", user_id, roles, n);
}

enum pv_rc store_sqlite_user_roles_get(struct store_tx *tx, const char *user_id,
    store_name_cb cb, void *arg)
{
	return names_scan(tx, SQ_USER_ROLES_GET, "user_roles_get", user_id, cb, arg);
}

enum pv_rc store_sqlite_user_groups_set(struct store_tx *tx, const char *user_id,
    const char *const *groups, size_t n)
{
	return set_replace(tx, SQ_USER_GROUPS_DELETE, SQ_USER_GROUPS_INSERT, "user_groups_set",
	    "user_groups_set/insert", user_id, groups, n);
}

enum pv_rc store_sqlite_user_groups_get(struct store_tx *tx, const char *user_id,
    store_name_cb cb, void *arg)
{
	return names_scan(tx, SQ_USER_GROUPS_GET, "user_groups_get", user_id, cb, arg);
}

enum pv_rc store_sqlite_recovery_set(struct store_tx *tx, const char *user_id,
    const char *const *code_hashes, size_t n, uint32_t mac_version)
{
	enum pv_rc rc;
	size_t i;

	if ((rc = store_sqlite_exec(tx, SQ_RECOVERY_DELETE, "recovery_set",
	    SQP_LIST(SQP_TEXT(user_id)), NULL)) != PV_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (code_hashes[i] == NULL)
			return PV_E_INVALID;
		if ((rc = store_sqlite_exec(tx, SQ_RECOVERY_INSERT, "recovery_set/insert",
		    SQP_LIST(SQP_TEXT(user_id), SQP_TEXT(code_hashes[i]),
		    SQP_INT((int64_t)mac_version)), NULL)) != PV_OK)
			return rc;
	}
	return PV_OK;
}

static enum pv_rc count_from_row(struct store_row *s, void *out);

enum pv_rc store_sqlite_recovery_version(struct store_tx *tx, const char *user_id,
    uint32_t *mac_version)
{
	int64_t v = 0;
	enum pv_rc rc = store_sqlite_get(tx, SQ_RECOVERY_VERSION, "recovery_version",
	    SQP_LIST(SQP_TEXT(user_id)), count_from_row, &v);

	if (rc == PV_E_NOTFOUND)
		rc = PV_E_INTEGRITY;   /* an aggregate always answers one row */
	if (rc != PV_OK)
		return rc;
	if (v <= 0 || v > UINT32_MAX)
		return v == 0 ? PV_E_NOTFOUND : PV_E_INTEGRITY;
	*mac_version = (uint32_t)v;
	return PV_OK;
}

enum pv_rc store_sqlite_recovery_unused(struct store_tx *tx, const char *user_id,
    store_name_cb cb, void *arg)
{
	return names_scan(tx, SQ_RECOVERY_UNUSED, "recovery_unused", user_id, cb, arg);
}

enum pv_rc store_sqlite_recovery_use(struct store_tx *tx, const char *user_id,
    const char *code_hash, int64_t used_ms)
{
	return store_sqlite_exec_one(tx, SQ_RECOVERY_USE, "recovery_use",
	    SQP_LIST(SQP_TEXT(user_id), SQP_TEXT(code_hash), SQP_INT(used_ms)));
}

/* ---- roles and groups ---- */

void store_role_clear(struct store_role *r)
{
	if (r == NULL)
		return;
	free(r->permissions);
	free(r->condition);
	memset(r, 0, sizeof(*r));
}

void store_group_clear(struct store_group *g)
{
	if (g == NULL)
		return;
	free(g->roles);
	memset(g, 0, sizeof(*g));
}

static enum pv_rc role_from_row(struct store_row *s, void *out)
{
	struct store_role r;
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	if (!store_sqlite_col_copy(s, 0, r.name, sizeof(r.name))) {
		log_error("store: role row out of range");
		return PV_E_INTEGRITY;
	}
	r.builtin = store_row_int64(s, 3) != 0;
	r.created_ms = store_row_int64(s, 4);
	if ((rc = store_sqlite_col_strdup(s, 1, &r.permissions)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 2, &r.condition)) != PV_OK) {
		store_role_clear(&r);
		return rc;
	}
	*(struct store_role *)out = r;
	return PV_OK;
}

static enum pv_rc group_from_row(struct store_row *s, void *out)
{
	struct store_group g;
	enum pv_rc rc;

	memset(&g, 0, sizeof(g));
	if (!store_sqlite_col_copy(s, 0, g.name, sizeof(g.name))) {
		log_error("store: group row out of range");
		return PV_E_INTEGRITY;
	}
	g.created_ms = store_row_int64(s, 2);
	if ((rc = store_sqlite_col_strdup(s, 1, &g.roles)) != PV_OK)
		return rc;
	*(struct store_group *)out = g;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(role_row, struct store_role, role_from_row, store_role_clear,
    store_role_cb)
STORE_SQLITE_EACH_ROW(group_row, struct store_group, group_from_row, store_group_clear,
    store_group_cb)

enum pv_rc store_sqlite_role_put(struct store_tx *tx, const struct store_role *r)
{
	return store_sqlite_exec(tx, SQ_ROLE_PUT, "role_put",
	    SQP_LIST(SQP_TEXT(r->name), SQP_TEXT(r->permissions != NULL ? r->permissions : "[]"),
		SQP_TEXT(r->condition != NULL ? r->condition : "{}"),
		SQP_INT(r->builtin ? 1 : 0), SQP_INT(r->created_ms)), NULL);
}

enum pv_rc store_sqlite_group_put(struct store_tx *tx, const struct store_group *g)
{
	return store_sqlite_exec(tx, SQ_GROUP_PUT, "group_put",
	    SQP_LIST(SQP_TEXT(g->name), SQP_TEXT(g->roles != NULL ? g->roles : "[]"),
		SQP_INT(g->created_ms)), NULL);
}

enum pv_rc store_sqlite_role_get(struct store_tx *tx, const char *name, struct store_role *out)
{
	return store_sqlite_get(tx, SQ_ROLE_GET, "role_get", SQP_LIST(SQP_TEXT(name)),
	    role_from_row, out);
}

enum pv_rc store_sqlite_group_get(struct store_tx *tx, const char *name, struct store_group *out)
{
	return store_sqlite_get(tx, SQ_GROUP_GET, "group_get", SQP_LIST(SQP_TEXT(name)),
	    group_from_row, out);
}

enum pv_rc store_sqlite_role_list(struct store_tx *tx, store_role_cb cb, void *arg)
{
	struct role_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_ROLE_LIST, "role_list", SQP_NONE, role_row, &x);
}

enum pv_rc store_sqlite_group_list(struct store_tx *tx, store_group_cb cb, void *arg)
{
	struct group_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_GROUP_LIST, "group_list", SQP_NONE, group_row, &x);
}

/* ---- sessions ---- */

enum pv_rc store_sqlite_session_put(struct store_tx *tx, const struct store_session *x)
{
	return store_sqlite_exec(tx, SQ_SESSION_PUT, "session_put",
	    SQP_LIST(SQP_TEXT(x->id), SQP_TEXT(x->token_hash), SQP_TEXT(x->user_id),
		SQP_INT(x->created_ms), SQP_INT(x->last_seen_ms),
		SQP_INT(x->absolute_expires_ms), SQP_INT((int64_t)x->restrict_flags),
		SQP_INT(x->mfa_verified ? 1 : 0), SQP_INT(x->credential_epoch),
		SQP_TEXT(x->source)), NULL);
}

static enum pv_rc session_from_row(struct store_row *s, void *out)
{
	struct store_session x;
	int64_t flags = store_row_int64(s, 6);

	memset(&x, 0, sizeof(x));
	if (!store_sqlite_col_copy(s, 0, x.id, sizeof(x.id)) ||
	    !store_sqlite_col_copy(s, 1, x.token_hash, sizeof(x.token_hash)) ||
	    !store_sqlite_col_copy(s, 2, x.user_id, sizeof(x.user_id)) ||
	    !store_sqlite_col_copy(s, 9, x.source, sizeof(x.source)) ||
	    !store_sqlite_col_copy(s, 11, x.end_reason, sizeof(x.end_reason)) ||
	    !store_sqlite_col_copy(s, 13, x.mfa_method, sizeof(x.mfa_method)) ||
	    flags < 0 || flags > 0xffff) {
		log_error("store: session row out of range");
		return PV_E_INTEGRITY;
	}
	x.created_ms = store_row_int64(s, 3);
	x.last_seen_ms = store_row_int64(s, 4);
	x.absolute_expires_ms = store_row_int64(s, 5);
	x.restrict_flags = (unsigned)flags;
	x.mfa_verified = store_row_int64(s, 7) != 0;
	x.credential_epoch = store_row_int64(s, 8);
	x.ended_ms = store_row_int64(s, 10);
	x.mfa_at_ms = store_row_int64(s, 12);
	if (!store_row_is_null(s, 10) && x.ended_ms == 0)
		x.ended_ms = 1;   /* ended at the epoch still means ended */
	*(struct store_session *)out = x;
	return PV_OK;
}

enum pv_rc store_sqlite_session_get_by_hash(struct store_tx *tx, const char *token_hash,
    struct store_session *out)
{
	return store_sqlite_get(tx, SQ_SESSION_GET_BY_HASH, "session_get_by_hash",
	    SQP_LIST(SQP_TEXT(token_hash)), session_from_row, out);
}

enum pv_rc store_sqlite_session_touch(struct store_tx *tx, const char *id, int64_t last_seen_ms)
{
	return store_sqlite_exec_one(tx, SQ_SESSION_TOUCH, "session_touch",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(last_seen_ms)));
}

enum pv_rc store_sqlite_session_set_state(struct store_tx *tx, const char *id,
    unsigned restrict_flags, bool mfa_verified, int64_t credential_epoch)
{
	return store_sqlite_exec_one(tx, SQ_SESSION_SET_STATE, "session_set_state",
	    SQP_LIST(SQP_TEXT(id), SQP_INT((int64_t)restrict_flags),
		SQP_INT(mfa_verified ? 1 : 0), SQP_INT(credential_epoch)));
}

enum pv_rc store_sqlite_session_end(struct store_tx *tx, const char *id, int64_t ended_ms,
    const char *reason)
{
	return store_sqlite_exec_one(tx, SQ_SESSION_END, "session_end",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(ended_ms), SQP_TEXT(reason)));
}

enum pv_rc store_sqlite_session_end_all_for_user(struct store_tx *tx, const char *user_id,
    const char *except_id, int64_t ended_ms, const char *reason, size_t *n)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_SESSION_END_ALL, "session_end_all_for_user",
	    SQP_LIST(SQP_TEXT(user_id), SQP_TEXT(except_id), SQP_INT(ended_ms),
		SQP_TEXT(reason)), &changes);

	if (rc == PV_OK && n != NULL)
		*n = (size_t)changes;
	return rc;
}

static enum pv_rc count_from_row(struct store_row *s, void *out)
{
	*(int64_t *)out = store_row_int64(s, 0);
	return PV_OK;
}

enum pv_rc store_sqlite_session_count_open(struct store_tx *tx, int64_t now_ms,
    int64_t idle_after_ms, int64_t *n)
{
	int64_t v = 0;
	enum pv_rc rc = store_sqlite_get(tx, SQ_SESSION_COUNT_OPEN, "session_count_open",
	    SQP_LIST(SQP_INT(now_ms), SQP_INT(idle_after_ms)), count_from_row, &v);

	/* count(*) always answers one row: none is a broken database */
	if (rc == PV_E_NOTFOUND)
		rc = PV_E_INTEGRITY;
	if (rc == PV_OK)
		*n = v;
	return rc;
}

/* ---- lockout ---- */

static enum pv_rc lockout_from_row(struct store_row *s, void *out)
{
	struct store_lockout *l = out;
	int64_t f = store_row_int64(s, 0);

	l->failures = f < 0 ? 0 : f > 1000000 ? 1000000 : (int)f;
	l->window_start_ms = store_row_int64(s, 1);
	l->locked_until_ms = store_row_int64(s, 2);
	return PV_OK;
}

enum pv_rc store_sqlite_lockout_get(struct store_tx *tx, const char *key, const char *kind,
    struct store_lockout *out)
{
	enum pv_rc rc = store_sqlite_get(tx, SQ_LOCKOUT_GET, "lockout_get",
	    SQP_LIST(SQP_TEXT(key), SQP_TEXT(kind)), lockout_from_row, out);

	if (rc == PV_E_NOTFOUND) {   /* no row: no failures yet */
		memset(out, 0, sizeof(*out));
		rc = PV_OK;
	}
	return rc;
}

enum pv_rc store_sqlite_lockout_put(struct store_tx *tx, const char *key, const char *kind,
    const struct store_lockout *l)
{
	return store_sqlite_exec(tx, SQ_LOCKOUT_PUT, "lockout_put",
	    SQP_LIST(SQP_TEXT(key), SQP_TEXT(kind), SQP_INT(l->failures),
		SQP_INT(l->window_start_ms), SQP_INT(l->locked_until_ms)), NULL);
}

enum pv_rc store_sqlite_lockout_clear(struct store_tx *tx, const char *key)
{
	return store_sqlite_exec(tx, SQ_LOCKOUT_CLEAR, "lockout_clear", SQP_LIST(SQP_TEXT(key)),
	    NULL);
}

/* ---- pending MFA logins ---- */

enum pv_rc store_sqlite_mfa_pending_put(struct store_tx *tx, const struct store_mfa_pending *p)
{
	return store_sqlite_exec(tx, SQ_MFA_PENDING_PUT, "mfa_pending_put",
	    SQP_LIST(SQP_TEXT(p->token_hash), SQP_TEXT(p->user_id), SQP_INT(p->expires_ms),
		SQP_INT(p->attempts), SQP_INT(p->credential_epoch)), NULL);
}

static enum pv_rc mfa_pending_from_row(struct store_row *s, void *out)
{
	struct store_mfa_pending p;
	int64_t a = store_row_int64(s, 3);

	memset(&p, 0, sizeof(p));
	if (!store_sqlite_col_copy(s, 0, p.token_hash, sizeof(p.token_hash)) ||
	    !store_sqlite_col_copy(s, 1, p.user_id, sizeof(p.user_id)))
		return PV_E_INTEGRITY;
	p.expires_ms = store_row_int64(s, 2);
	p.attempts = a < 0 ? 0 : a > 1000000 ? 1000000 : (int)a;
	p.credential_epoch = store_row_int64(s, 4);
	*(struct store_mfa_pending *)out = p;
	return PV_OK;
}

enum pv_rc store_sqlite_mfa_pending_get(struct store_tx *tx, const char *token_hash,
    struct store_mfa_pending *out)
{
	return store_sqlite_get(tx, SQ_MFA_PENDING_GET, "mfa_pending_get",
	    SQP_LIST(SQP_TEXT(token_hash)), mfa_pending_from_row, out);
}

enum pv_rc store_sqlite_mfa_pending_attempt(struct store_tx *tx, const char *token_hash)
{
	return store_sqlite_exec_one(tx, SQ_MFA_PENDING_ATTEMPT, "mfa_pending_attempt",
	    SQP_LIST(SQP_TEXT(token_hash)));
}

enum pv_rc store_sqlite_mfa_pending_delete(struct store_tx *tx, const char *token_hash,
    int64_t now_ms)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_MFA_PENDING_DELETE, "mfa_pending_delete",
	    SQP_LIST(SQP_TEXT(token_hash)), &changes);

	/* Housekeeping: expired pending logins are useless; drop them. */
	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_MFA_PENDING_PURGE, "mfa_pending_delete/purge",
		    SQP_LIST(SQP_INT(now_ms)), NULL);
	if (rc == PV_OK && changes == 0)
		rc = PV_E_NOTFOUND;
	return rc;
}

const struct store_identity_ops store_sqlite_identity_ops = {
	/* identity:begin */
	.user_put = store_sqlite_user_put,
	.user_get = store_sqlite_user_get,
	.user_get_by_username = store_sqlite_user_get_by_username,
	.user_update = store_sqlite_user_update,
	.user_list = store_sqlite_user_list,
	.user_roles_set = store_sqlite_user_roles_set,
	.user_roles_get = store_sqlite_user_roles_get,
	.user_groups_set = store_sqlite_user_groups_set,
	.user_groups_get = store_sqlite_user_groups_get,
	.role_put = store_sqlite_role_put,
	.role_get = store_sqlite_role_get,
	.role_list = store_sqlite_role_list,
	.group_put = store_sqlite_group_put,
	.group_get = store_sqlite_group_get,
	.group_list = store_sqlite_group_list,
	.session_put = store_sqlite_session_put,
	.session_get_by_hash = store_sqlite_session_get_by_hash,
	.session_touch = store_sqlite_session_touch,
	.session_set_state = store_sqlite_session_set_state,
	.session_end = store_sqlite_session_end,
	.session_end_all_for_user = store_sqlite_session_end_all_for_user,
	.session_count_open = store_sqlite_session_count_open,
	.recovery_set = store_sqlite_recovery_set,
	.recovery_unused = store_sqlite_recovery_unused,
	.recovery_use = store_sqlite_recovery_use,
	.recovery_version = store_sqlite_recovery_version,
	.lockout_get = store_sqlite_lockout_get,
	.lockout_put = store_sqlite_lockout_put,
	.lockout_clear = store_sqlite_lockout_clear,
	.mfa_pending_put = store_sqlite_mfa_pending_put,
	.mfa_pending_get = store_sqlite_mfa_pending_get,
	.mfa_pending_attempt = store_sqlite_mfa_pending_attempt,
	.mfa_pending_delete = store_sqlite_mfa_pending_delete,
	/* identity:end */
};
