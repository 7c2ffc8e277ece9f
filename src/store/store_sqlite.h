/*
 * store/store_sqlite.h: the SQLite backend's internals shared by its files
 * (sqlite.c, sqlite_identity.c, sqlite_jobs.c, migrate.c) and the store unit
 * tests: the transaction (a connection from the bounded pool), cached prepared
 * statements, statement runners, column helpers, migrations. The only
 * header that includes sqlite3.h; nothing outside src/store/ and
 * tests/unit/store/ includes it.
 */
#ifndef PV_STORE_SQLITE_H
#define PV_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store_int.h"
#include "store/store_pool.h"

/* ======================================================================
 * SQLite backend internals (sqlite.c, migrate.c)
 * ====================================================================== */

#define STORE_SQLITE_FILE "phivault.db"
#define STORE_SQLITE_BUSY_MS 5000

/* Cached prepared statements, one slot per id per connection. The SQL for
 * each id is the designated initializer sq_sql[id] in sqlite.c. */
enum store_sqlite_stmt {
	/* transactions */
	SQ_BEGIN,
	SQ_BEGIN_RD,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_SAVEPOINT,
	SQ_RELEASE,
	SQ_ROLLBACK_TO,
	/* meta */
	SQ_META_GET,
	SQ_META_PUT,
	/* kek */
	SQ_KEK_PUT,
	SQ_KEK_GET,
	SQ_KEK_LATEST,
	SQ_KEK_SET_STATE,
	SQ_KEK_SCAN,
	/* audit */
	SQ_AUDIT_APPEND,
	SQ_AUDIT_HEAD,
	SQ_AUDIT_SCAN,
	SQ_AUDIT_SCAN_ACTION,
	SQ_CHECKPOINT_PUT,
	SQ_CHECKPOINT_SCAN,
	SQ_CHECKPOINT_COUNT,
	/* identity:begin (added by the identity work) */
	SQ_USER_PUT,
	SQ_USER_GET,
	SQ_USER_GET_BY_USERNAME,
	SQ_USER_UPDATE,
	SQ_USER_LIST,
	SQ_USER_ROLES_DELETE,
	SQ_USER_ROLES_INSERT,
	SQ_USER_ROLES_GET,
	SQ_USER_GROUPS_DELETE,
	SQ_USER_GROUPS_INSERT,
	SQ_USER_GROUPS_GET,
	SQ_ROLE_PUT,
	SQ_ROLE_GET,
	SQ_ROLE_LIST,
	SQ_GROUP_PUT,
	SQ_GROUP_GET,
	SQ_GROUP_LIST,
	SQ_SESSION_PUT,
	SQ_SESSION_GET_BY_HASH,
	SQ_SESSION_TOUCH,
	SQ_SESSION_SET_STATE,
	SQ_SESSION_END,
	SQ_SESSION_END_ALL,
	SQ_RECOVERY_DELETE,
	SQ_RECOVERY_INSERT,
	SQ_RECOVERY_UNUSED,
	SQ_RECOVERY_USE,
	SQ_RECOVERY_VERSION,
	SQ_LOCKOUT_GET,
	SQ_LOCKOUT_PUT,
	SQ_LOCKOUT_CLEAR,
	SQ_MFA_PENDING_PUT,
	SQ_MFA_PENDING_GET,
	SQ_MFA_PENDING_ATTEMPT,
	SQ_MFA_PENDING_DELETE,
	SQ_MFA_PENDING_PURGE,
	/* identity:end */
	/* vault:begin (added by the records work) */
	SQ_COLLECTION_PUT,
	SQ_COLLECTION_GET,
	SQ_COLLECTION_LIST,
	SQ_RECORD_PUT,
	SQ_RECORD_GET,
	SQ_RECORD_UPDATE,
	SQ_RECORD_SHRED,
	SQ_BIDX_PUT,
	SQ_BIDX_DELETE,
	SQ_BIDX_LOOKUP,
	SQ_TOKEN_PUT,
	SQ_TOKEN_GET,
	SQ_TOKEN_GET_BY_MAC,
	SQ_RECORD_SCAN,
	SQ_BIDX_DELETE_BELOW,
	SQ_BIDX_COUNT_BELOW,
	SQ_TOKEN_SET_SUBJECT,
	SQ_TOKEN_TOMBSTONE_GET,
	SQ_TOKEN_SCAN,
	SQ_TOKEN_REWRAP,
	/* vault:end */
	/* jobs:begin (added by the jobs work) */
	SQ_JOB_PUT,
	SQ_JOB_GET,
	SQ_JOB_UPDATE,
	SQ_JOB_LIST,
	SQ_JOB_RUNNABLE,
	/* jobs:end */
	SQ_SESSION_COUNT_OPEN,   /* metrics */
	/* sinks:begin (added by the sinks work) */
	SQ_SINK_CURSOR_GET,
	SQ_SINK_CURSOR_PUT,
	/* sinks:end */
	/* detect:begin (added by the detection work) */
	SQ_ALERT_PUT,
	SQ_ALERT_GET,
	SQ_ALERT_BUMP,
	SQ_ALERT_ACK,
	SQ_ALERT_LIST,
	SQ_DETECT_STATE_GET,
	SQ_DETECT_STATE_PUT,
	/* detect:end */
	/* policies:begin */
	SQ_POLICY_PUT,
	SQ_POLICY_GET,
	SQ_POLICY_UPDATE,
	SQ_POLICY_DELETE,
	SQ_POLICY_LIST,
	SQ_SESSION_SET_MFA,
	/* policies:end */
	/* apps:begin (added by the apps work) */
	SQ_APP_PUT,
	SQ_APP_GET,
	SQ_APP_UPDATE,
	SQ_APP_LIST,
	SQ_APP_SECRET_PUT,
	SQ_APP_SECRET_LIST,
	SQ_APP_SECRET_REVOKE,
	SQ_APP_SESSION_PUT,
	SQ_APP_SESSION_GET_BY_HASH,
	SQ_APP_SESSION_END_ALL,
	SQ_APP_SESSION_END,
	/* apps:end */
	/* approvals:begin (dual control) */
	SQ_APPROVAL_PUT,
	SQ_APPROVAL_GET,
	SQ_APPROVAL_LIST,
	SQ_APPROVAL_DECIDE,
	SQ_APPROVAL_APPLIED,
	/* approvals:end */
	/* elevations:begin (JIT elevation) */
	SQ_ELEVATION_PUT,
	SQ_ELEVATION_GET,
	SQ_ELEVATION_LIST,
	SQ_ELEVATION_APPROVE,
	SQ_ELEVATION_END,
	SQ_ELIGIBLE_DELETE,
	SQ_ELIGIBLE_INSERT,
	SQ_ELIGIBLE_GET,
	/* elevations:end */
	/* app-certs:begin (certificate-bound app tokens) */
	SQ_APP_CERT_REVOKE,
	SQ_APP_CERT_REVOKED,
	SQ_APP_SESSION_END_CERT,
	/* app-certs:end */
	/* breakglass:begin */
	SQ_BG_PUT,
	SQ_BG_GET,
	SQ_BG_REVIEW_GET,
	SQ_BG_ACTIVE,
	SQ_BG_LIST,
	SQ_BG_END,
	SQ_BG_REVIEW_DECIDE,
	SQ_BG_OVERDUE_MARK,
	/* breakglass:end */
	/* exports:begin */
	SQ_EXPORT_PUT,
	SQ_EXPORT_GET,
	SQ_EXPORT_UPDATE,
	SQ_EXPORT_LIST,
	SQ_EXPORT_CHUNK_PUT,
	SQ_EXPORT_CHUNK_GET,
	SQ_EXPORT_CHUNKS_DELETE,
	/* exports:end */
	/* campaigns:begin (access review campaigns) */
	SQ_CAMPAIGN_PUT,
	SQ_CAMPAIGN_GET,
	SQ_CAMPAIGN_LIST,
	SQ_CAMPAIGN_CLOSE,
	SQ_CAMPAIGN_ITEM_PUT,
	SQ_CAMPAIGN_ITEM_GET,
	SQ_CAMPAIGN_ITEMS,
	SQ_CAMPAIGN_ITEM_DECIDE,
	SQ_CAMPAIGN_LAST_USE_USER,
	SQ_CAMPAIGN_LAST_USE_APP,
	SQ_CAMPAIGN_APPROVER,
	/* campaigns:end */
	/* keys-admin:begin (census, destroy, re-envelope) */
	SQ_KEK_CENSUS,
	SQ_KEK_DESTROY,
	SQ_RECORD_REWRAP,
	/* records' keys in record_keys (migration 31) */
	SQ_RECORD_KEY_PUT,
	SQ_RECORD_KEY_SET,
	SQ_RECORD_KEY_SHRED,
	SQ_RECORD_RECIPHER,
	SQ_SUBJECT_SHRED_RECORD_KEYS,
	/* keys-admin:end */
	/* subjects:begin */
	SQ_SUBJECT_PUT,
	SQ_SUBJECT_GET,
	SQ_SUBJECT_HOLD,
	SQ_SUBJECT_REWRAP,
	SQ_SUBJECT_SCAN,
	SQ_SUBJECT_LINK,
	SQ_SUBJECT_UNLINK,
	SQ_SUBJECT_OF_RECORD,
	SQ_SUBJECT_COUNTS,
	SQ_SUBJECT_RECORDS,
	SQ_SUBJECT_SHRED_RECORDS,
	SQ_SUBJECT_SHRED_BIDX,
	SQ_SUBJECT_DELETE,
	SQ_SUBJECT_TOMBSTONE_PUT,
	SQ_SUBJECT_TOMBSTONE_GET,
	SQ_SUBJECT_TOMBSTONE_LIST,
	SQ_SUBJECT_SHRED_TOKENS_TOMB,
	SQ_SUBJECT_SHRED_TOKENS,
	/* subjects:end */
	/* secrets:begin */
	SQ_SECRET_GET,
	SQ_SECRET_INSERT,
	SQ_SECRET_UPDATE,
	SQ_SECRET_VERSION_PUT,
	SQ_SECRET_VERSION_GET,
	SQ_SECRET_LIST,
	SQ_SECRET_SET_DELETED,
	SQ_SECRET_VERSION_DESTROY,
	SQ_SECRET_VERSIONS_PRUNE,
	SQ_SECRET_VERSION_SCAN,
	SQ_SECRET_VERSION_REWRAP,
	/* secrets:end */
	/* webauthn:begin */
	SQ_WA_CRED_PUT,
	SQ_WA_CRED_GET,
	SQ_WA_CRED_LIST,
	SQ_WA_CRED_USE,
	SQ_WA_CRED_DELETE,
	SQ_WA_CRED_DELETE_USER,
	SQ_WA_HANDLE_GET,
	SQ_WA_HANDLE_PUT,
	SQ_WA_CHALLENGE_PUT,
	SQ_WA_CHALLENGE_PURGE,
	SQ_WA_CHALLENGE_GET,
	SQ_WA_CHALLENGE_DELETE,
	SQ_SESSION_SET_MFA_METHOD,
	/* webauthn:end */
	/* cluster:begin (issue 15: the access epoch) */
	SQ_EPOCH_GET,
	SQ_EPOCH_BUMP,
	/* cluster:end */
	/* disclosures:begin (issue 14 item 4: the audit trail's subject index) */
	SQ_AUDIT_SUBJECT_PUT,
	SQ_AUDIT_SUBJECT_SCAN,
	/* disclosures:end */
	/* oidc:begin (store_oidc.h) */
	SQ_OIDC_PENDING_PURGE,
	SQ_OIDC_PENDING_PUT,
	SQ_OIDC_PENDING_GET,
	SQ_OIDC_PENDING_DELETE,
	SQ_OIDC_IDENTITY_GET,
	SQ_OIDC_IDENTITY_PUT,
	SQ_OIDC_SESSION_PUT,
	SQ_OIDC_SESSION_BY_SID,
	/* oidc:end */
	SQ_STMT__COUNT
};

/* One pooled connection. Owned by the store's list; held by at most one
 * transaction at a time, idle otherwise. The transaction handle a
 * store_begin returns is the connection's own tx member (first, so a
 * struct store_tx * is a struct store_sqlite_conn *): no allocation per
 * transaction, and the handle carries no thread. */
struct store_sqlite_conn {
	struct store_tx tx;                    /* first: (struct store_sqlite_conn *) casts */
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_STMT__COUNT];
	struct store_sqlite *owner;
	struct store_pool_conn pc;             /* its place in owner->pool */
	bool held;                             /* a transaction holds it */
};

/* The bounded pool: at most max_conns connections are open, whatever the
 * number of threads (HTTP serves a thread per connection). A transaction
 * takes one from store_begin to store_end and waits up to wait_ms when all
 * are held. */
#define STORE_SQLITE_POOL_WAIT_MS 5000

struct store_sqlite {
	struct store base;               /* first: (struct store *) casts */
	char path[4096];                 /* DIR/phivault.db */
	bool read_only;
	int schema_version;
	struct store_pool pool;          /* store_pool.c */
};

/* Connections opened by this store so far (for tests of the pool). */
unsigned long store_sqlite_opens(struct store *st);
/* Open connections now, the most ever open, and the bound (tests). */
void store_sqlite_pool_stats(struct store *st, size_t *open, size_t *peak, size_t *max);
/* The default bound: 2 x online CPUs + 2. */
size_t store_sqlite_default_max_conns(void);

/* The connection a transaction holds. */
static inline struct store_sqlite_conn *store_sqlite_tx_conn(struct store_tx *tx)
{
	return (struct store_sqlite_conn *)tx;
}
/* A reset, ready-to-bind statement for id. If the cached one is in use on this
 * connection (a scan callback calling back into the store), a transient one is
 * prepared; store_sqlite_stmt_done finalizes it. */
enum pv_rc store_sqlite_stmt(struct store_sqlite_conn *c, enum store_sqlite_stmt id,
    sqlite3_stmt **out);
void store_sqlite_stmt_done(struct store_sqlite_conn *c, enum store_sqlite_stmt id,
    sqlite3_stmt *s);
/* Map a SQLite result code to pv_rc and log_error it (op name + code only):
 * UNIQUE/PRIMARYKEY constraint -> PV_E_CONFLICT, NOMEM -> PV_E_NOMEM,
 * anything else -> PV_E_IO. */
enum pv_rc store_sqlite_rc(int rc, const char *op);

/* ---- statement runners: the one place that gets the transaction's
 * connection and cached statement, binds, steps, maps errors (op name only,
 * store_sqlite_rc) and resets the statement. Every op of the backend goes
 * through one of them. ---- */

/* One bound parameter, bound at position index+1 of the array. Build them
 * with the SQP_* macros; SQP_LIST(...) expands to "array, count". */
struct store_sqlite_param {
	enum {
		STORE_SQLITE_P_NULL,
		STORE_SQLITE_P_TEXT,         /* NULL text binds SQL NULL */
		STORE_SQLITE_P_INT,
		STORE_SQLITE_P_INT_OR_NULL,  /* 0 binds SQL NULL */
		STORE_SQLITE_P_BLOB,         /* empty stays an empty BLOB, never NULL */
		STORE_SQLITE_P_BLOB_OR_NULL, /* NULL pointer or length 0 binds SQL NULL */
	} kind;
	const void *p;
	int64_t i;
	size_t len;
};
#define SQP_NULL() ((struct store_sqlite_param){ .kind = STORE_SQLITE_P_NULL })
#define SQP_TEXT(t) ((struct store_sqlite_param){ .kind = STORE_SQLITE_P_TEXT, .p = (t) })
#define SQP_INT(v) ((struct store_sqlite_param){ .kind = STORE_SQLITE_P_INT, .i = (int64_t)(v) })
#define SQP_INT_OR_NULL(v) \
	((struct store_sqlite_param){ .kind = STORE_SQLITE_P_INT_OR_NULL, .i = (int64_t)(v) })
#define SQP_BLOB(b, n) \
	((struct store_sqlite_param){ .kind = STORE_SQLITE_P_BLOB, .p = (b), .len = (n) })
#define SQP_BLOB_OR_NULL(b, n) \
	((struct store_sqlite_param){ .kind = STORE_SQLITE_P_BLOB_OR_NULL, .p = (b), .len = (n) })
#define SQP_LIST(...) (const struct store_sqlite_param[]){ __VA_ARGS__ }, \
	sizeof((const struct store_sqlite_param[]){ __VA_ARGS__ }) / sizeof(struct store_sqlite_param)
#define SQP_NONE NULL, 0

/* Bind p[0..n) to ?1..?n; a SQLite result code. */
int store_sqlite_bind(sqlite3_stmt *s, const struct store_sqlite_param *p, size_t n);

/* A write: bind, step to DONE. *changes (may be NULL) gets the rows changed. */
enum pv_rc store_sqlite_exec(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, int *changes);
/* store_sqlite_exec that must change a row: PV_E_NOTFOUND when none did. */
enum pv_rc store_sqlite_exec_one(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n);

/* ---- a result row, backend-neutral: the op code above the runners (every
 * *_from_row decoder and row function) reads columns through it, so the same
 * op runs on SQLite (sqlite.c wraps a stepped sqlite3_stmt) and on
 * PostgreSQL (postgres.c wraps a row of a PGresult). Columns are numbered
 * from 0 in SELECT order. ---- */
struct store_row;
struct store_row_ops {
	int64_t (*int64)(struct store_row *r, int col);        /* NULL cell: 0 */
	bool (*is_null)(struct store_row *r, int col);
	const char *(*text)(struct store_row *r, int col);     /* NULL cell: NULL */
	const void *(*blob)(struct store_row *r, int col);     /* NULL or empty: NULL */
	int (*bytes)(struct store_row *r, int col);            /* length of text or blob */
};
struct store_row {
	const struct store_row_ops *ops;
};
static inline int64_t store_row_int64(struct store_row *r, int col)
{
	return r->ops->int64(r, col);
}
static inline bool store_row_is_null(struct store_row *r, int col)
{
	return r->ops->is_null(r, col);
}
static inline const char *store_row_text(struct store_row *r, int col)
{
	return r->ops->text(r, col);
}
static inline const void *store_row_blob(struct store_row *r, int col)
{
	return r->ops->blob(r, col);
}
static inline int store_row_bytes(struct store_row *r, int col)
{
	return r->ops->bytes(r, col);
}

/* Copies the current row into *out (all or nothing); a pv_rc. */
typedef enum pv_rc (*store_sqlite_decode_fn)(struct store_row *s, void *out);
/* A one-row query: bind, step; a row goes through decode into out, no row is
 * PV_E_NOTFOUND (which no other failure here returns, so callers may map it). */
enum pv_rc store_sqlite_get(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_decode_fn decode, void *out);

/* Handles one row of a scan; *stop = true ends the scan with PV_OK, an error
 * ends it with that error. */
typedef enum pv_rc (*store_sqlite_row_fn)(struct store_row *s, void *ctx, bool *stop);
/* A scan: bind, then row() for each row until DONE, a stop, or an error. */
enum pv_rc store_sqlite_scan(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_row_fn row, void *ctx);

/* The statement runners of a SQL backend (struct store's sql member): the
 * store_sqlite_exec/get/scan entry points below dispatch through it, so the
 * op code (sqlite.c's sub-tables, sqlite_*.c) is shared by every SQL
 * backend. SQLite: sqlite.c; PostgreSQL: postgres.c (the statement's text is
 * store_sqlite_sql(id), translated, unless the backend overrides it). */
struct store_sql_runner {
	enum pv_rc (*exec)(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
	    const struct store_sqlite_param *p, size_t n, int *changes);
	enum pv_rc (*get)(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
	    const struct store_sqlite_param *p, size_t n, store_sqlite_decode_fn decode, void *out);
	enum pv_rc (*scan)(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
	    const struct store_sqlite_param *p, size_t n, store_sqlite_row_fn row, void *ctx);
};
/* The SQLite text of a statement id (sqlite.c's sq_sql[]); NULL if none. */
const char *store_sqlite_sql(enum store_sqlite_stmt id);
/* The sub-tables of sqlite.c, shared by the PostgreSQL backend. */
extern const struct store_vault_ops store_sqlite_vault_ops;
extern const struct store_keys_ops store_sqlite_keys_ops;
extern const struct store_audit_ops store_sqlite_audit_ops;
enum pv_rc store_sqlite_meta_get(struct store_tx *tx, const char *key, uint8_t **val,
    size_t *len);
enum pv_rc store_sqlite_meta_put(struct store_tx *tx, const char *key, const uint8_t *val,
    size_t len);


/* Row function for a scan of one text column into a store_name_cb (or the
 * identically typed store_bidx_cb); ctx is a struct store_sqlite_name_ctx. */
struct store_sqlite_name_ctx {
	store_name_cb cb;
	void *arg;
};
enum pv_rc store_sqlite_name_row(struct store_row *s, void *ctx, bool *stop);

/* Defines the row function `fn` for a scan that decodes each row into a
 * `type` (decode: a store_sqlite_decode_fn), hands it to the caller's typed
 * callback (cb_type: int (*)(const type *, void *)) and clears it (clear),
 * and its context `struct fn##_ctx { cb_type cb; void *arg; }`. */
#define STORE_SQLITE_EACH_ROW(fn, type, decode, clear, cb_type) \
	struct fn##_ctx { cb_type cb; void *arg; }; \
	static enum pv_rc fn(struct store_row *s, void *ctx, bool *stop) \
	{ \
		struct fn##_ctx *x = ctx; \
		type row; \
		enum pv_rc rc = decode(s, &row); \
		if (rc != PV_OK) \
			return rc; \
		*stop = x->cb(&row, x->arg) != 0; \
		clear(&row); \
		return PV_OK; \
	}

/* ---- column helpers ---- */

/* Column text, never NULL (a NULL cell reads as ""). */
const char *store_sqlite_col_text(struct store_row *s, int col);
/* Column text into a fixed field; false (a damaged row) if it does not fit,
 * never truncated. */
bool store_sqlite_col_copy(struct store_row *s, int col, char *dst, size_t cap);
/* strdup of the column text (NULL cell: ""); PV_E_NOMEM. */
enum pv_rc store_sqlite_col_strdup(struct store_row *s, int col, char **out);
/* How a BLOB column is copied out (malloc'd). */
enum store_sqlite_blob {
	STORE_SQLITE_BLOB_BUF,        /* NULL or empty: a 1-byte buffer, *len 0 (never NULL) */
	STORE_SQLITE_BLOB_NULLABLE,   /* NULL (shredded): NULL, *len 0; else as BUF */
	STORE_SQLITE_BLOB_OPTIONAL,   /* NULL or empty: NULL, *len 0 */
};
enum pv_rc store_sqlite_col_blob(struct store_row *s, int col, enum store_sqlite_blob how,
    uint8_t **out, size_t *len);

/* migrate.c: apply missing migrations in order (each in its own
 * transaction) and return the resulting version; PV_E_CONFIG if the database
 * is newer than this binary. */
enum pv_rc store_sqlite_migrate(sqlite3 *db, int *version);
/* Highest applied version without changing anything (read-only open);
 * PV_E_CONFIG if not a phivault database or newer than this binary. */
enum pv_rc store_sqlite_schema_read(sqlite3 *db, int *version);
/* Highest migration this binary knows. */
int store_sqlite_schema_latest(void);
/* The SQLite text of migration version (NULL if none): the PostgreSQL
 * backend translates it (postgres_migrate.c) unless it overrides it. */
const char *store_sqlite_migration_sql(int version);

/* The sub-tables of sqlite_identity.c and sqlite_jobs.c (sqlite.c's table
 * points at them). */
extern const struct store_identity_ops store_sqlite_identity_ops;
extern const struct store_jobs_ops store_sqlite_jobs_ops;
extern const struct store_sinks_ops store_sqlite_sinks_ops;   /* sqlite_sinks.c */
extern const struct store_detect_ops store_sqlite_detect_ops;   /* sqlite_detect.c */
extern const struct store_policy_ops store_sqlite_policy_ops;   /* sqlite_policy.c */
extern const struct store_apps_ops store_sqlite_apps_ops;     /* sqlite_apps.c */
extern const struct store_backup_ops store_sqlite_backup_ops; /* sqlite_backup.c */
extern const struct store_subjects_ops store_sqlite_subjects_ops;   /* sqlite_subjects.c */
extern const struct store_secrets_ops store_sqlite_secrets_ops;   /* sqlite_secrets.c */
extern const struct store_approvals_ops store_sqlite_approvals_ops;   /* sqlite_approvals.c */
extern const struct store_breakglass_ops store_sqlite_breakglass_ops;   /* sqlite_breakglass.c */
extern const struct store_exports_ops store_sqlite_exports_ops;   /* sqlite_exports.c */
extern const struct store_webauthn_ops store_sqlite_webauthn_ops;   /* sqlite_webauthn.c */
extern const struct store_cluster_ops store_sqlite_cluster_ops; /* sqlite_cluster.c */
extern const struct store_oidc_ops store_sqlite_oidc_ops;       /* sqlite_oidc.c */
extern const struct store_elevations_ops store_sqlite_elevations_ops; /* sqlite_elevations.c */
extern const struct store_campaigns_ops store_sqlite_campaigns_ops;   /* sqlite_campaigns.c */

/* identity:begin: sqlite_identity.c, the identity ops of the SQLite
 * backend (their SQL is in sqlite.c's statement table). */
enum pv_rc store_sqlite_user_put(struct store_tx *tx, const struct store_user *u);
enum pv_rc store_sqlite_user_get(struct store_tx *tx, const char *id, struct store_user *out);
enum pv_rc store_sqlite_user_get_by_username(struct store_tx *tx, const char *username,
    struct store_user *out);
enum pv_rc store_sqlite_user_update(struct store_tx *tx, const struct store_user *u);
enum pv_rc store_sqlite_user_list(struct store_tx *tx, store_user_cb cb, void *arg);
enum pv_rc store_sqlite_user_roles_set(struct store_tx *tx, const char *user_id,
    const char *const *roles, size_t n);
enum pv_rc store_sqlite_user_roles_get(struct store_tx *tx, const char *user_id,
    store_name_cb cb, void *arg);
enum pv_rc store_sqlite_user_groups_set(struct store_tx *tx, const char *user_id,
    const char *const *groups, size_t n);
enum pv_rc store_sqlite_user_groups_get(struct store_tx *tx, const char *user_id,
    store_name_cb cb, void *arg);
enum pv_rc store_sqlite_role_put(struct store_tx *tx, const struct store_role *r);
enum pv_rc store_sqlite_role_get(struct store_tx *tx, const char *name, struct store_role *out);
enum pv_rc store_sqlite_role_list(struct store_tx *tx, store_role_cb cb, void *arg);
enum pv_rc store_sqlite_group_put(struct store_tx *tx, const struct store_group *g);
enum pv_rc store_sqlite_group_get(struct store_tx *tx, const char *name, struct store_group *out);
enum pv_rc store_sqlite_group_list(struct store_tx *tx, store_group_cb cb, void *arg);
enum pv_rc store_sqlite_session_put(struct store_tx *tx, const struct store_session *s);
enum pv_rc store_sqlite_session_get_by_hash(struct store_tx *tx, const char *token_hash,
    struct store_session *out);
enum pv_rc store_sqlite_session_touch(struct store_tx *tx, const char *id, int64_t last_seen_ms);
enum pv_rc store_sqlite_session_set_state(struct store_tx *tx, const char *id,
    unsigned restrict_flags, bool mfa_verified, int64_t credential_epoch);
enum pv_rc store_sqlite_session_end(struct store_tx *tx, const char *id, int64_t ended_ms,
    const char *reason);
enum pv_rc store_sqlite_session_count_open(struct store_tx *tx, int64_t now_ms,
    int64_t idle_after_ms, int64_t *n);
enum pv_rc store_sqlite_session_end_all_for_user(struct store_tx *tx, const char *user_id,
    const char *except_id, int64_t ended_ms, const char *reason, size_t *n);
enum pv_rc store_sqlite_recovery_set(struct store_tx *tx, const char *user_id,
    const char *const *code_hashes, size_t n, uint32_t mac_version);
enum pv_rc store_sqlite_recovery_version(struct store_tx *tx, const char *user_id,
    uint32_t *mac_version);
enum pv_rc store_sqlite_recovery_unused(struct store_tx *tx, const char *user_id,
    store_name_cb cb, void *arg);
enum pv_rc store_sqlite_recovery_use(struct store_tx *tx, const char *user_id,
    const char *code_hash, int64_t used_ms);
enum pv_rc store_sqlite_lockout_get(struct store_tx *tx, const char *key, const char *kind,
    struct store_lockout *out);
enum pv_rc store_sqlite_lockout_put(struct store_tx *tx, const char *key, const char *kind,
    const struct store_lockout *l);
enum pv_rc store_sqlite_lockout_clear(struct store_tx *tx, const char *key);
enum pv_rc store_sqlite_mfa_pending_put(struct store_tx *tx, const struct store_mfa_pending *p);
enum pv_rc store_sqlite_mfa_pending_get(struct store_tx *tx, const char *token_hash,
    struct store_mfa_pending *out);
enum pv_rc store_sqlite_mfa_pending_attempt(struct store_tx *tx, const char *token_hash);
enum pv_rc store_sqlite_mfa_pending_delete(struct store_tx *tx, const char *token_hash,
    int64_t now_ms);
/* identity:end */

/* jobs:begin: sqlite_jobs.c, the jobs ops of the SQLite backend (their SQL
 * is in sqlite.c's statement table). */
enum pv_rc store_sqlite_job_put(struct store_tx *tx, const struct store_job *j);
enum pv_rc store_sqlite_job_get(struct store_tx *tx, const char *id, struct store_job *out);
enum pv_rc store_sqlite_job_update(struct store_tx *tx, const struct store_job *j);
enum pv_rc store_sqlite_job_list(struct store_tx *tx, store_job_cb cb, void *arg);
enum pv_rc store_sqlite_job_runnable(struct store_tx *tx, const char *owner, int64_t now_ms,
    store_job_cb cb, void *arg);
/* jobs:end */

#endif /* PV_STORE_SQLITE_H */
