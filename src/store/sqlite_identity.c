/*
 * sqlite_identity.c: the identity ops of the SQLite backend (users, roles,
 * groups, sessions, recovery codes, lockout counters, pending MFA logins).
 * The SQL lives in sqlite.c's statement table (SQ_USER_* ...); this file
 * binds, steps and copies rows out.
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

#include "store/store_int.h"

/* ---- helpers (the same conventions as sqlite.c) ---- */

static const char *ctext(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL ? (const char *)t : "";
}

static int btext(sqlite3_stmt *s, int i, const char *t)
{
	return t != NULL ? sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* NULL pointer or zero length binds SQL NULL (no MFA secret). */
static int bblob_null(sqlite3_stmt *s, int i, const uint8_t *p, size_t len)
{
	if (p == NULL || len == 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_blob64(s, i, p, len, SQLITE_STATIC);
}

static int bint(sqlite3_stmt *s, int i, int64_t v)
{
	return sqlite3_bind_int64(s, i, v);
}

/* Optional int64: 0 binds NULL. */
static int bint_null(sqlite3_stmt *s, int i, int64_t v)
{
	return v != 0 ? sqlite3_bind_int64(s, i, v) : sqlite3_bind_null(s, i);
}

static bool ccopy(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
	const char *t = ctext(s, col);

	if (strlen(t) >= cap)
		return false;
	memcpy(dst, t, strlen(t) + 1);
	return true;
}

static enum pv_rc cstrdup(sqlite3_stmt *s, int col, char **out)
{
	char *p = strdup(ctext(s, col));

	if (p == NULL)
		return PV_E_NOMEM;
	*out = p;
	return PV_OK;
}

/* NULL or empty BLOB -> NULL pointer, length 0. */
static enum pv_rc cblob(sqlite3_stmt *s, int col, uint8_t **out, size_t *len)
{
	const void *p;
	int n;
	uint8_t *buf;

	if (sqlite3_column_type(s, col) == SQLITE_NULL) {
		*out = NULL;
		*len = 0;
		return PV_OK;
	}
	p = sqlite3_column_blob(s, col);
	n = sqlite3_column_bytes(s, col);
	if (n <= 0) {
		*out = NULL;
		*len = 0;
		return p == NULL && n > 0 ? PV_E_NOMEM : PV_OK;
	}
	if ((buf = malloc((size_t)n)) == NULL)
		return PV_E_NOMEM;
	memcpy(buf, p, (size_t)n);
	*out = buf;
	*len = (size_t)n;
	return PV_OK;
}

/* Prepare statement id on this thread's connection. */
static enum pv_rc prep(struct store *st, enum store_sqlite_stmt id, struct store_sqlite_conn **c,
    sqlite3_stmt **s)
{
	enum pv_rc rc;

	if ((rc = store_sqlite_conn_get(st, c)) != PV_OK)
		return rc;
	return store_sqlite_stmt(*c, id, s);
}

/* Step a write statement to DONE; *changes rows touched (may be NULL). */
static enum pv_rc step_done(struct store_sqlite_conn *c, sqlite3_stmt *s, const char *op,
    int *changes)
{
	int src = sqlite3_step(s);

	if (src != SQLITE_DONE)
		return store_sqlite_rc(src, op);
	if (changes != NULL)
		*changes = sqlite3_changes(c->db);
	return PV_OK;
}

/* Bind or jump to out with the mapped error (needs rc, src, op in scope). */
#define BIND(expr) do { if ((src = (expr)) != SQLITE_OK) { rc = store_sqlite_rc(src, op); goto out; } } while (0)

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

static enum pv_rc user_from_row(sqlite3_stmt *s, struct store_user *out)
{
	struct store_user u;
	enum pv_rc rc;

	memset(&u, 0, sizeof(u));
	if (!ccopy(s, 0, u.id, sizeof(u.id)) || !ccopy(s, 1, u.username, sizeof(u.username)) ||
	    !ccopy(s, 2, u.display_name, sizeof(u.display_name)) ||
	    !ccopy(s, 3, u.email, sizeof(u.email)) ||
	    !ccopy(s, 6, u.password_hash, sizeof(u.password_hash))) {
		log_error("store: user row out of range");
		return PV_E_INTEGRITY;
	}
	u.disabled = strcmp(ctext(s, 4), "active") != 0;   /* anything else: fail closed */
	u.password_one_time = sqlite3_column_int64(s, 7) != 0;
	u.credential_epoch = sqlite3_column_int64(s, 8);
	u.mfa_enabled = sqlite3_column_int64(s, 11) != 0;
	u.mfa_last_step = sqlite3_column_int64(s, 12);
	u.created_ms = sqlite3_column_int64(s, 13);
	u.updated_ms = sqlite3_column_int64(s, 14);
	u.disabled_ms = sqlite3_column_int64(s, 15);
	if ((rc = cstrdup(s, 5, &u.attributes)) != PV_OK ||
	    (rc = cblob(s, 9, &u.mfa_secret, &u.mfa_secret_len)) != PV_OK ||
	    (rc = cblob(s, 10, &u.mfa_env, &u.mfa_env_len)) != PV_OK) {
		store_user_clear(&u);
		return rc;
	}
	*out = u;
	return PV_OK;
}

static int user_bind(sqlite3_stmt *s, const struct store_user *u)
{
	int src;

	if ((src = btext(s, 1, u->id)) != SQLITE_OK ||
	    (src = btext(s, 2, u->username)) != SQLITE_OK ||
	    (src = btext(s, 3, u->display_name)) != SQLITE_OK ||
	    (src = btext(s, 4, u->email)) != SQLITE_OK ||
	    (src = btext(s, 5, u->disabled ? "disabled" : "active")) != SQLITE_OK ||
	    (src = btext(s, 6, u->attributes != NULL ? u->attributes : "{}")) != SQLITE_OK ||
	    (src = btext(s, 7, u->password_hash)) != SQLITE_OK ||
	    (src = bint(s, 8, u->password_one_time ? 1 : 0)) != SQLITE_OK ||
	    (src = bint(s, 9, u->credential_epoch)) != SQLITE_OK ||
	    (src = bblob_null(s, 10, u->mfa_secret, u->mfa_secret_len)) != SQLITE_OK ||
	    (src = bblob_null(s, 11, u->mfa_env, u->mfa_env_len)) != SQLITE_OK ||
	    (src = bint(s, 12, u->mfa_enabled ? 1 : 0)) != SQLITE_OK ||
	    (src = bint(s, 13, u->mfa_last_step)) != SQLITE_OK ||
	    (src = bint(s, 14, u->created_ms)) != SQLITE_OK ||
	    (src = bint(s, 15, u->updated_ms)) != SQLITE_OK)
		return src;
	return bint_null(s, 16, u->disabled_ms);
}

static enum pv_rc user_write(struct store *st, enum store_sqlite_stmt id, const char *op,
    const struct store_user *u, bool must_change)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, id, &c, &s)) != PV_OK)
		return rc;
	BIND(user_bind(s, u));
	rc = step_done(c, s, op, &changes);
	if (rc == PV_OK && must_change && changes == 0)
		rc = PV_E_NOTFOUND;
out:
	store_sqlite_stmt_done(c, id, s);
	return rc;
}

enum pv_rc store_sqlite_user_put(struct store *st, const struct store_user *u)
{
	return user_write(st, SQ_USER_PUT, "user_put", u, false);
}

enum pv_rc store_sqlite_user_update(struct store *st, const struct store_user *u)
{
	return user_write(st, SQ_USER_UPDATE, "user_update", u, true);
}

static enum pv_rc user_get_by(struct store *st, enum store_sqlite_stmt id, const char *key,
    struct store_user *out)
{
	const char *op = "user_get";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, id, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, key));
	src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		rc = user_from_row(s, out);
	else if (src == SQLITE_DONE)
		rc = PV_E_NOTFOUND;
	else
		rc = store_sqlite_rc(src, op);
out:
	store_sqlite_stmt_done(c, id, s);
	return rc;
}

enum pv_rc store_sqlite_user_get(struct store *st, const char *id, struct store_user *out)
{
	return user_get_by(st, SQ_USER_GET, id, out);
}

enum pv_rc store_sqlite_user_get_by_username(struct store *st, const char *username,
    struct store_user *out)
{
	return user_get_by(st, SQ_USER_GET_BY_USERNAME, username, out);
}

enum pv_rc store_sqlite_user_list(struct store *st, store_user_cb cb, void *arg)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	struct store_user u;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_USER_LIST, &c, &s)) != PV_OK)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		int stop;

		if ((rc = user_from_row(s, &u)) != PV_OK)
			goto out;
		stop = cb(&u, arg);
		store_user_clear(&u);
		if (stop != 0)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = store_sqlite_rc(src, "user_list");
out:
	store_sqlite_stmt_done(c, SQ_USER_LIST, s);
	return rc;
}

/* ---- name sets: user roles, user groups, recovery codes ---- */

static enum pv_rc exec_key(struct store *st, enum store_sqlite_stmt id, const char *op,
    const char *k1, const char *k2)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, id, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, k1));
	if (k2 != NULL)
		BIND(btext(s, 2, k2));
	rc = step_done(c, s, op, NULL);
out:
	store_sqlite_stmt_done(c, id, s);
	return rc;
}

static enum pv_rc set_replace(struct store *st, enum store_sqlite_stmt del,
    enum store_sqlite_stmt ins, const char *op, const char *user_id,
    const char *const *names, size_t n)
{
	enum pv_rc rc;
	size_t i;

	if ((rc = exec_key(st, del, op, user_id, NULL)) != PV_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (names[i] == NULL)
			return PV_E_INVALID;
		if ((rc = exec_key(st, ins, op, user_id, names[i])) != PV_OK)
			return rc;
	}
	return PV_OK;
}

static enum pv_rc names_scan(struct store *st, enum store_sqlite_stmt id, const char *op,
    const char *user_id, store_name_cb cb, void *arg)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, id, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, user_id));
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		if (cb(ctext(s, 0), arg) != 0)
			goto out;
	if (src != SQLITE_DONE)
		rc = store_sqlite_rc(src, op);
out:
	store_sqlite_stmt_done(c, id, s);
	return rc;
}

enum pv_rc store_sqlite_user_roles_set(struct store *st, const char *user_id,
    const char *const *roles, size_t n)
{
	return set_replace(st, SQ_USER_ROLES_DELETE, SQ_USER_ROLES_INSERT, "user_roles_set",
	    user_id, roles, n);
}

enum pv_rc store_sqlite_user_roles_get(struct store *st, const char *user_id,
    store_name_cb cb, void *arg)
{
	return names_scan(st, SQ_USER_ROLES_GET, "user_roles_get", user_id, cb, arg);
}

enum pv_rc store_sqlite_user_groups_set(struct store *st, const char *user_id,
    const char *const *groups, size_t n)
{
	return set_replace(st, SQ_USER_GROUPS_DELETE, SQ_USER_GROUPS_INSERT, "user_groups_set",
	    user_id, groups, n);
}

enum pv_rc store_sqlite_user_groups_get(struct store *st, const char *user_id,
    store_name_cb cb, void *arg)
{
	return names_scan(st, SQ_USER_GROUPS_GET, "user_groups_get", user_id, cb, arg);
}

enum pv_rc store_sqlite_recovery_set(struct store *st, const char *user_id,
    const char *const *code_hashes, size_t n)
{
	return set_replace(st, SQ_RECOVERY_DELETE, SQ_RECOVERY_INSERT, "recovery_set", user_id,
	    code_hashes, n);
}

enum pv_rc store_sqlite_recovery_unused(struct store *st, const char *user_id,
    store_name_cb cb, void *arg)
{
	return names_scan(st, SQ_RECOVERY_UNUSED, "recovery_unused", user_id, cb, arg);
}

enum pv_rc store_sqlite_recovery_use(struct store *st, const char *user_id,
    const char *code_hash, int64_t used_ms)
{
	const char *op = "recovery_use";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, SQ_RECOVERY_USE, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, user_id));
	BIND(btext(s, 2, code_hash));
	BIND(bint(s, 3, used_ms));
	rc = step_done(c, s, op, &changes);
	if (rc == PV_OK && changes == 0)
		rc = PV_E_NOTFOUND;
out:
	store_sqlite_stmt_done(c, SQ_RECOVERY_USE, s);
	return rc;
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

static enum pv_rc role_from_row(sqlite3_stmt *s, struct store_role *out)
{
	struct store_role r;
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	if (!ccopy(s, 0, r.name, sizeof(r.name))) {
		log_error("store: role row out of range");
		return PV_E_INTEGRITY;
	}
	r.builtin = sqlite3_column_int64(s, 3) != 0;
	r.created_ms = sqlite3_column_int64(s, 4);
	if ((rc = cstrdup(s, 1, &r.permissions)) != PV_OK ||
	    (rc = cstrdup(s, 2, &r.condition)) != PV_OK) {
		store_role_clear(&r);
		return rc;
	}
	*out = r;
	return PV_OK;
}

static enum pv_rc group_from_row(sqlite3_stmt *s, struct store_group *out)
{
	struct store_group g;
	enum pv_rc rc;

	memset(&g, 0, sizeof(g));
	if (!ccopy(s, 0, g.name, sizeof(g.name))) {
		log_error("store: group row out of range");
		return PV_E_INTEGRITY;
	}
	g.created_ms = sqlite3_column_int64(s, 2);
	if ((rc = cstrdup(s, 1, &g.roles)) != PV_OK)
		return rc;
	*out = g;
	return PV_OK;
}

enum pv_rc store_sqlite_role_put(struct store *st, const struct store_role *r)
{
	const char *op = "role_put";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_ROLE_PUT, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, r->name));
	BIND(btext(s, 2, r->permissions != NULL ? r->permissions : "[]"));
	BIND(btext(s, 3, r->condition != NULL ? r->condition : "{}"));
	BIND(bint(s, 4, r->builtin ? 1 : 0));
	BIND(bint(s, 5, r->created_ms));
	rc = step_done(c, s, op, NULL);
out:
	store_sqlite_stmt_done(c, SQ_ROLE_PUT, s);
	return rc;
}

enum pv_rc store_sqlite_group_put(struct store *st, const struct store_group *g)
{
	const char *op = "group_put";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_GROUP_PUT, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, g->name));
	BIND(btext(s, 2, g->roles != NULL ? g->roles : "[]"));
	BIND(bint(s, 3, g->created_ms));
	rc = step_done(c, s, op, NULL);
out:
	store_sqlite_stmt_done(c, SQ_GROUP_PUT, s);
	return rc;
}

enum pv_rc store_sqlite_role_get(struct store *st, const char *name, struct store_role *out)
{
	const char *op = "role_get";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_ROLE_GET, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, name));
	src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		rc = role_from_row(s, out);
	else if (src == SQLITE_DONE)
		rc = PV_E_NOTFOUND;
	else
		rc = store_sqlite_rc(src, op);
out:
	store_sqlite_stmt_done(c, SQ_ROLE_GET, s);
	return rc;
}

enum pv_rc store_sqlite_group_get(struct store *st, const char *name, struct store_group *out)
{
	const char *op = "group_get";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_GROUP_GET, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, name));
	src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		rc = group_from_row(s, out);
	else if (src == SQLITE_DONE)
		rc = PV_E_NOTFOUND;
	else
		rc = store_sqlite_rc(src, op);
out:
	store_sqlite_stmt_done(c, SQ_GROUP_GET, s);
	return rc;
}

enum pv_rc store_sqlite_role_list(struct store *st, store_role_cb cb, void *arg)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	struct store_role r;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_ROLE_LIST, &c, &s)) != PV_OK)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		int stop;

		if ((rc = role_from_row(s, &r)) != PV_OK)
			goto out;
		stop = cb(&r, arg);
		store_role_clear(&r);
		if (stop != 0)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = store_sqlite_rc(src, "role_list");
out:
	store_sqlite_stmt_done(c, SQ_ROLE_LIST, s);
	return rc;
}

enum pv_rc store_sqlite_group_list(struct store *st, store_group_cb cb, void *arg)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	struct store_group g;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_GROUP_LIST, &c, &s)) != PV_OK)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		int stop;

		if ((rc = group_from_row(s, &g)) != PV_OK)
			goto out;
		stop = cb(&g, arg);
		store_group_clear(&g);
		if (stop != 0)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = store_sqlite_rc(src, "group_list");
out:
	store_sqlite_stmt_done(c, SQ_GROUP_LIST, s);
	return rc;
}

/* ---- sessions ---- */

enum pv_rc store_sqlite_session_put(struct store *st, const struct store_session *x)
{
	const char *op = "session_put";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_SESSION_PUT, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, x->id));
	BIND(btext(s, 2, x->token_hash));
	BIND(btext(s, 3, x->user_id));
	BIND(bint(s, 4, x->created_ms));
	BIND(bint(s, 5, x->last_seen_ms));
	BIND(bint(s, 6, x->absolute_expires_ms));
	BIND(bint(s, 7, (int64_t)x->restrict_flags));
	BIND(bint(s, 8, x->mfa_verified ? 1 : 0));
	BIND(bint(s, 9, x->credential_epoch));
	BIND(btext(s, 10, x->source));
	rc = step_done(c, s, op, NULL);
out:
	store_sqlite_stmt_done(c, SQ_SESSION_PUT, s);
	return rc;
}

enum pv_rc store_sqlite_session_get_by_hash(struct store *st, const char *token_hash,
    struct store_session *out)
{
	const char *op = "session_get_by_hash";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	struct store_session x;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_SESSION_GET_BY_HASH, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, token_hash));
	src = sqlite3_step(s);
	if (src == SQLITE_DONE) {
		rc = PV_E_NOTFOUND;
	} else if (src != SQLITE_ROW) {
		rc = store_sqlite_rc(src, op);
	} else {
		int64_t flags = sqlite3_column_int64(s, 6);

		memset(&x, 0, sizeof(x));
		if (!ccopy(s, 0, x.id, sizeof(x.id)) ||
		    !ccopy(s, 1, x.token_hash, sizeof(x.token_hash)) ||
		    !ccopy(s, 2, x.user_id, sizeof(x.user_id)) ||
		    !ccopy(s, 9, x.source, sizeof(x.source)) ||
		    !ccopy(s, 11, x.end_reason, sizeof(x.end_reason)) ||
		    flags < 0 || flags > 0xffff) {
			log_error("store: session row out of range");
			rc = PV_E_INTEGRITY;
			goto out;
		}
		x.created_ms = sqlite3_column_int64(s, 3);
		x.last_seen_ms = sqlite3_column_int64(s, 4);
		x.absolute_expires_ms = sqlite3_column_int64(s, 5);
		x.restrict_flags = (unsigned)flags;
		x.mfa_verified = sqlite3_column_int64(s, 7) != 0;
		x.credential_epoch = sqlite3_column_int64(s, 8);
		x.ended_ms = sqlite3_column_int64(s, 10);
		if (sqlite3_column_type(s, 10) != SQLITE_NULL && x.ended_ms == 0)
			x.ended_ms = 1;   /* ended at the epoch still means ended */
		*out = x;
	}
out:
	store_sqlite_stmt_done(c, SQ_SESSION_GET_BY_HASH, s);
	return rc;
}

enum pv_rc store_sqlite_session_touch(struct store *st, const char *id, int64_t last_seen_ms)
{
	const char *op = "session_touch";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, SQ_SESSION_TOUCH, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, id));
	BIND(bint(s, 2, last_seen_ms));
	rc = step_done(c, s, op, &changes);
	if (rc == PV_OK && changes == 0)
		rc = PV_E_NOTFOUND;
out:
	store_sqlite_stmt_done(c, SQ_SESSION_TOUCH, s);
	return rc;
}

enum pv_rc store_sqlite_session_set_state(struct store *st, const char *id,
    unsigned restrict_flags, bool mfa_verified, int64_t credential_epoch)
{
	const char *op = "session_set_state";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, SQ_SESSION_SET_STATE, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, id));
	BIND(bint(s, 2, (int64_t)restrict_flags));
	BIND(bint(s, 3, mfa_verified ? 1 : 0));
	BIND(bint(s, 4, credential_epoch));
	rc = step_done(c, s, op, &changes);
	if (rc == PV_OK && changes == 0)
		rc = PV_E_NOTFOUND;
out:
	store_sqlite_stmt_done(c, SQ_SESSION_SET_STATE, s);
	return rc;
}

enum pv_rc store_sqlite_session_end(struct store *st, const char *id, int64_t ended_ms,
    const char *reason)
{
	const char *op = "session_end";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, SQ_SESSION_END, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, id));
	BIND(bint(s, 2, ended_ms));
	BIND(btext(s, 3, reason));
	rc = step_done(c, s, op, &changes);
	if (rc == PV_OK && changes == 0)
		rc = PV_E_NOTFOUND;
out:
	store_sqlite_stmt_done(c, SQ_SESSION_END, s);
	return rc;
}

enum pv_rc store_sqlite_session_end_all_for_user(struct store *st, const char *user_id,
    const char *except_id, int64_t ended_ms, const char *reason, size_t *n)
{
	const char *op = "session_end_all_for_user";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, SQ_SESSION_END_ALL, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, user_id));
	BIND(btext(s, 2, except_id));
	BIND(bint(s, 3, ended_ms));
	BIND(btext(s, 4, reason));
	rc = step_done(c, s, op, &changes);
	if (rc == PV_OK && n != NULL)
		*n = (size_t)changes;
out:
	store_sqlite_stmt_done(c, SQ_SESSION_END_ALL, s);
	return rc;
}

/* ---- lockout ---- */

enum pv_rc store_sqlite_lockout_get(struct store *st, const char *key, const char *kind,
    struct store_lockout *out)
{
	const char *op = "lockout_get";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_LOCKOUT_GET, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, key));
	BIND(btext(s, 2, kind));
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		int64_t f = sqlite3_column_int64(s, 0);

		out->failures = f < 0 ? 0 : f > 1000000 ? 1000000 : (int)f;
		out->window_start_ms = sqlite3_column_int64(s, 1);
		out->locked_until_ms = sqlite3_column_int64(s, 2);
	} else if (src == SQLITE_DONE) {
		memset(out, 0, sizeof(*out));
	} else {
		rc = store_sqlite_rc(src, op);
	}
out:
	store_sqlite_stmt_done(c, SQ_LOCKOUT_GET, s);
	return rc;
}

enum pv_rc store_sqlite_lockout_put(struct store *st, const char *key, const char *kind,
    const struct store_lockout *l)
{
	const char *op = "lockout_put";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_LOCKOUT_PUT, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, key));
	BIND(btext(s, 2, kind));
	BIND(bint(s, 3, l->failures));
	BIND(bint(s, 4, l->window_start_ms));
	BIND(bint(s, 5, l->locked_until_ms));
	rc = step_done(c, s, op, NULL);
out:
	store_sqlite_stmt_done(c, SQ_LOCKOUT_PUT, s);
	return rc;
}

/* ---- pending MFA logins ---- */

enum pv_rc store_sqlite_mfa_pending_put(struct store *st, const struct store_mfa_pending *p)
{
	const char *op = "mfa_pending_put";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_MFA_PENDING_PUT, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, p->token_hash));
	BIND(btext(s, 2, p->user_id));
	BIND(bint(s, 3, p->expires_ms));
	BIND(bint(s, 4, p->attempts));
	rc = step_done(c, s, op, NULL);
out:
	store_sqlite_stmt_done(c, SQ_MFA_PENDING_PUT, s);
	return rc;
}

enum pv_rc store_sqlite_mfa_pending_get(struct store *st, const char *token_hash,
    struct store_mfa_pending *out)
{
	const char *op = "mfa_pending_get";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	struct store_mfa_pending p;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_MFA_PENDING_GET, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, token_hash));
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		int64_t a = sqlite3_column_int64(s, 3);

		memset(&p, 0, sizeof(p));
		if (!ccopy(s, 0, p.token_hash, sizeof(p.token_hash)) ||
		    !ccopy(s, 1, p.user_id, sizeof(p.user_id))) {
			rc = PV_E_INTEGRITY;
			goto out;
		}
		p.expires_ms = sqlite3_column_int64(s, 2);
		p.attempts = a < 0 ? 0 : a > 1000000 ? 1000000 : (int)a;
		*out = p;
	} else if (src == SQLITE_DONE) {
		rc = PV_E_NOTFOUND;
	} else {
		rc = store_sqlite_rc(src, op);
	}
out:
	store_sqlite_stmt_done(c, SQ_MFA_PENDING_GET, s);
	return rc;
}

enum pv_rc store_sqlite_mfa_pending_attempt(struct store *st, const char *token_hash)
{
	const char *op = "mfa_pending_attempt";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, SQ_MFA_PENDING_ATTEMPT, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, token_hash));
	rc = step_done(c, s, op, &changes);
	if (rc == PV_OK && changes == 0)
		rc = PV_E_NOTFOUND;
out:
	store_sqlite_stmt_done(c, SQ_MFA_PENDING_ATTEMPT, s);
	return rc;
}

/* Housekeeping: expired pending logins are useless; drop them. */
static enum pv_rc mfa_pending_purge(struct store *st, int64_t now_ms)
{
	const char *op = "mfa_pending_purge";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src;

	if ((rc = prep(st, SQ_MFA_PENDING_PURGE, &c, &s)) != PV_OK)
		return rc;
	BIND(bint(s, 1, now_ms));
	rc = step_done(c, s, op, NULL);
out:
	store_sqlite_stmt_done(c, SQ_MFA_PENDING_PURGE, s);
	return rc;
}

enum pv_rc store_sqlite_mfa_pending_delete(struct store *st, const char *token_hash,
    int64_t now_ms)
{
	const char *op = "mfa_pending_delete";
	struct store_sqlite_conn *c;
	sqlite3_stmt *s = NULL;
	enum pv_rc rc;
	int src, changes = 0;

	if ((rc = prep(st, SQ_MFA_PENDING_DELETE, &c, &s)) != PV_OK)
		return rc;
	BIND(btext(s, 1, token_hash));
	rc = step_done(c, s, op, &changes);
out:
	store_sqlite_stmt_done(c, SQ_MFA_PENDING_DELETE, s);
	if (rc == PV_OK)
		rc = mfa_pending_purge(st, now_ms);
	if (rc == PV_OK && changes == 0)
		rc = PV_E_NOTFOUND;
	return rc;
}
