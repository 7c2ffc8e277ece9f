/*
 * sqlite.c: the SQLite backend (DIR/phivault.db).
 *
 * Owns: the database file, the bounded pool of connections (each one the
 * handle of the transaction that holds it), each connection's cache of
 * prepared statements, and the SQL of every store op.
 *
 * Invariants:
 *  - The file is created 0600 (and tightened to 0600 if found looser); SQLite
 *    gives the -wal and -shm files the database file's permissions.
 *  - Every connection runs with synchronous=FULL (a COMMIT is on disk when it
 *    returns), foreign_keys=ON, secure_delete=ON (freed pages and cells are
 *    zeroed, so overwritten ciphertext and crypto-shredded DEKs do not linger
 *    in the file), busy_timeout 5000 ms, SQLITE_DBCONFIG_DEFENSIVE and
 *    trusted_schema off. journal_mode=WAL is persistent in the file and set
 *    once, by the read-write open.
 *  - A connection is held by at most one transaction (store_begin ..
 *    store_end), and a transaction is used by one thread at a time (it may
 *    move between threads), so it is opened SQLITE_OPEN_NOMUTEX. No thread
 *    state: nothing depends on which thread began, uses or ends it.
 *    store_close closes every connection; it must not race with calls on
 *    the store (end every transaction first).
 *  - A cached statement is always reset and unbound after use
 *    (store_sqlite_stmt_done): a SELECT left mid-step would pin a WAL read
 *    snapshot and block checkpoints.
 *  - SQLite's memory statistics are off process-wide (sq_config, before the
 *    first open): no global mutex around each of its allocations.
 *  - Errors are logged with the op name and SQLite's code text only, never
 *    a bound value.
 *
 * Transaction state of a connection (SQLite's own, mirrored by the ops):
 *   idle --store_begin: take it, BEGIN IMMEDIATE (WR) | BEGIN (RD)--> in tx
 *   in tx | autocommit --store_end: ROLLBACK if still in tx--> idle
 *   (below, tx_* are the op and fault names of the steps)
 *   in tx --tx_savepoint (SAVEPOINT sp)--> in tx + sp
 *   in tx + sp --tx_release (RELEASE sp)--> in tx   (changes kept)
 *   in tx + sp --tx_rollback_savepoint (ROLLBACK TO sp; RELEASE sp)--> in tx
 *   in tx --tx_commit--> autocommit (durable) | stays in tx on error
 *   in tx --tx_rollback--> autocommit
 * An I/O or out-of-memory error can make SQLite roll the whole transaction
 * back by itself; the rollback ops then find autocommit and do nothing.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_sqlite.h"

/* ------------------------------------------------------------------ */
/* SQL                                                                 */
/* ------------------------------------------------------------------ */

#define KEK_COLS "SELECT name, version, state, created_ms, wrapped, provider, outer_name FROM kek"
#define AUDIT_COLS "SELECT seq, time, actor, action, resource, purpose_of_use, " \
	"outcome, reason, detail, prev_hash, hash FROM audit"
/* CASE (not AND) guarantees json_extract only sees well-formed JSON, so a
 * damaged actor cell cannot make a filtered scan fail. */
#define AUDIT_WHERE " WHERE seq > ?1 AND (?2 IS NULL OR " \
	"CASE WHEN json_valid(actor) THEN json_extract(actor, '$.user_id') END = ?2)"

static const char *const sq_sql[SQ_STMT__COUNT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_BEGIN_RD] = "BEGIN",   /* deferred: the read snapshot starts at the first read */
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_SAVEPOINT] = "SAVEPOINT sp",
	[SQ_RELEASE] = "RELEASE sp",
	[SQ_ROLLBACK_TO] = "ROLLBACK TO sp",

	[SQ_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[SQ_META_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
	    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",

	[SQ_KEK_PUT] = "INSERT INTO kek(name, version, state, created_ms, wrapped, provider, "
	    "outer_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_KEK_GET] = KEK_COLS " WHERE name = ?1 AND version = ?2",
	[SQ_KEK_LATEST] = KEK_COLS " WHERE name = ?1 ORDER BY version DESC LIMIT 1",
	[SQ_KEK_SET_STATE] = "UPDATE kek SET state = ?3 WHERE name = ?1 AND version = ?2",
	[SQ_KEK_SCAN] = KEK_COLS " ORDER BY name, version",
	/* DEKs (the kek_census counter), plus the rows whose MAC derives from
	 * that version (migration 20): blind-index entries of "index:<c>" and
	 * deterministic-token lookup MACs, counted on their indexes */
	[SQ_KEK_CENSUS] = "SELECT COALESCE((SELECT objects FROM kek_census "
	    "WHERE name = ?1 AND version = ?2), 0) "
	    "+ (SELECT COUNT(*) FROM blind_index WHERE substr(?1, 1, 6) = 'index:' "
	    "AND collection = substr(?1, 7) AND mac_version = ?2) "
	    "+ (SELECT COUNT(*) FROM tokens WHERE kek_name = ?1 AND mac IS NOT NULL "
	    "AND mac_version = ?2) "
	    "+ (SELECT COUNT(*) FROM recovery_codes WHERE ?1 = 'identity' "
	    "AND used_ms IS NULL AND mac_version = ?2) "
	    "+ (SELECT COUNT(*) FROM app_secrets WHERE ?1 = 'identity' "
	    "AND revoked_ms = 0 AND mac_version = ?2)",
	[SQ_KEK_DESTROY] = "UPDATE kek SET state = 2, wrapped = X'' WHERE name = ?1 AND version = ?2",
	/* the key row only (record_keys, migration 31), if the record is
	 * still live at that version and the key at the old KEK version */
	[SQ_RECORD_REWRAP] = "UPDATE record_keys SET kek_name = ?3, kek_version = ?4, "
	    "wrapped_dek = ?5 WHERE id = ?2 AND kek_version = ?7 AND wrapped_dek IS NOT NULL "
	    "AND EXISTS (SELECT 1 FROM records WHERE id = ?2 AND collection = ?1 "
	    "AND deleted_ms IS NULL AND version = ?6)",
	[SQ_RECORD_KEY_PUT] = "INSERT INTO record_keys(id, kek_name, kek_version, wrapped_dek) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[SQ_RECORD_KEY_SET] = "UPDATE record_keys SET kek_name = ?2, kek_version = ?3, "
	    "wrapped_dek = ?4 WHERE id = ?1",
	[SQ_RECORD_KEY_SHRED] = "UPDATE record_keys SET wrapped_dek = NULL WHERE id = ?1",
	/* a full re-encryption's new ciphertext, after its key row moved */
	[SQ_RECORD_RECIPHER] = "UPDATE records SET ciphertext = ?3 WHERE id = ?2 AND collection = ?1",
	/* before SQ_SUBJECT_SHRED_RECORDS marks them deleted */
	[SQ_SUBJECT_SHRED_RECORD_KEYS] = "UPDATE record_keys SET wrapped_dek = NULL "
	    "WHERE wrapped_dek IS NOT NULL AND id IN (SELECT r.id FROM records r "
	    "JOIN subject_records l ON l.collection = r.collection AND l.record_id = r.id "
	    "WHERE l.ref = ?1 AND r.deleted_ms IS NULL)",
	/* subjects:begin */
	[SQ_SUBJECT_PUT] = "INSERT INTO subjects(ref, kek_name, kek_version, wrapped_dek, "
	    "ciphertext, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[SQ_SUBJECT_GET] = "SELECT ref, kek_name, kek_version, wrapped_dek, ciphertext, created_ms, "
	    "hold_reason, hold_by, hold_ms FROM subjects WHERE ref = ?1",
	[SQ_SUBJECT_HOLD] = "UPDATE subjects SET hold_reason = ?2, hold_by = ?3, hold_ms = ?4 "
	    "WHERE ref = ?1",
	[SQ_SUBJECT_REWRAP] = "UPDATE subjects SET kek_name = ?2, kek_version = ?3, wrapped_dek = ?4 "
	    "WHERE ref = ?1 AND kek_version = ?5",
	[SQ_SUBJECT_SCAN] = "SELECT ref FROM subjects WHERE ref > ?1 ORDER BY ref LIMIT ?2",
	[SQ_SUBJECT_LINK] = "INSERT INTO subject_records(collection, record_id, ref) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT(collection, record_id) DO UPDATE SET ref = excluded.ref",
	[SQ_SUBJECT_UNLINK] = "DELETE FROM subject_records WHERE collection = ?1 AND record_id = ?2",
	[SQ_SUBJECT_OF_RECORD] = "SELECT ref FROM subject_records "
	    "WHERE collection = ?1 AND record_id = ?2",
	[SQ_SUBJECT_COUNTS] = "SELECT l.collection, COUNT(*) FROM subject_records l "
	    "JOIN records r ON r.collection = l.collection AND r.id = l.record_id "
	    "WHERE l.ref = ?1 AND r.deleted_ms IS NULL GROUP BY l.collection ORDER BY l.collection",
	[SQ_SUBJECT_RECORDS] = "SELECT l.collection, l.record_id FROM subject_records l "
	    "JOIN records r ON r.collection = l.collection AND r.id = l.record_id "
	    "WHERE l.ref = ?1 AND r.deleted_ms IS NULL ORDER BY l.collection, l.record_id",
	[SQ_SUBJECT_SHRED_RECORDS] = "UPDATE records SET ciphertext = NULL, "
	    "deleted_ms = ?2, updated_ms = ?2 WHERE deleted_ms IS NULL AND (collection, id) IN "
	    "(SELECT collection, record_id FROM subject_records WHERE ref = ?1)",
	[SQ_SUBJECT_SHRED_BIDX] = "DELETE FROM blind_index WHERE (collection, record_id) IN "
	    "(SELECT collection, record_id FROM subject_records WHERE ref = ?1)",
	[SQ_SUBJECT_DELETE] = "DELETE FROM subjects WHERE ref = ?1",
	[SQ_SUBJECT_TOMBSTONE_PUT] = "INSERT OR IGNORE INTO subject_tombstones(ref, shredded_ms) "
	    "VALUES (?1, ?2)",
	[SQ_SUBJECT_TOMBSTONE_GET] = "SELECT shredded_ms FROM subject_tombstones WHERE ref = ?1",
	[SQ_SUBJECT_TOMBSTONE_LIST] = "SELECT ref, shredded_ms FROM subject_tombstones "
	    "WHERE ref > ?1 ORDER BY ref LIMIT ?2",
	/* the patient's tokens (migration 20): remembered, then deleted */
	[SQ_SUBJECT_SHRED_TOKENS_TOMB] = "INSERT INTO token_tombstones(token, collection, ref, "
	    "shredded_ms) SELECT token, collection, subject_ref, ?2 FROM tokens "
	    "WHERE subject_ref = ?1 ON CONFLICT DO NOTHING",
	[SQ_SUBJECT_SHRED_TOKENS] = "DELETE FROM tokens WHERE subject_ref = ?1",
	/* subjects:end */

	[SQ_AUDIT_APPEND] = "INSERT INTO audit(seq, time, actor, action, resource, "
	    "purpose_of_use, outcome, reason, detail, prev_hash, hash) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[SQ_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	/* Two statements so that an action filter can use audit_action
	 * (action, rowid=seq) without a sort. ?3 is unused in the first. */
	[SQ_AUDIT_SCAN] = AUDIT_COLS AUDIT_WHERE " ORDER BY seq LIMIT ?4",
	[SQ_AUDIT_SCAN_ACTION] = AUDIT_COLS AUDIT_WHERE " AND action = ?3 ORDER BY seq LIMIT ?4",
	[SQ_CHECKPOINT_PUT] = "INSERT INTO audit_checkpoint(seq, hash, time, signature, key_id) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_CHECKPOINT_SCAN] = "SELECT seq, hash, time, signature, key_id "
	    "FROM audit_checkpoint ORDER BY seq",
	[SQ_CHECKPOINT_COUNT] = "SELECT count(*) FROM audit_checkpoint",
	/* disclosures:begin */
	[SQ_AUDIT_SUBJECT_PUT] = "INSERT INTO audit_subjects(subject_ref, seq) VALUES (?1, ?2) "
	    "ON CONFLICT DO NOTHING",
	/* the index's primary key (subject_ref, seq) gives the seqs in order;
	 * each joins the trail on its primary key: no scan of the trail */
	[SQ_AUDIT_SUBJECT_SCAN] = "SELECT a.seq, a.time, a.actor, a.action, a.resource, "
	    "a.purpose_of_use, a.outcome, a.reason, a.detail, a.prev_hash, a.hash "
	    "FROM audit_subjects s JOIN audit a ON a.seq = s.seq "
	    "WHERE s.subject_ref = ?1 AND s.seq > ?2 AND a.time >= ?3 AND a.time < ?4 "
	    "ORDER BY s.seq LIMIT ?5",
	/* disclosures:end */

	/* identity:begin (added by the identity work) */
#define USER_COLS "SELECT id, username, display_name, email, status, attributes, " \
	"password_hash, password_one_time, credential_epoch, mfa_secret, mfa_env, mfa_enabled, " \
	"mfa_last_step, created_ms, updated_ms, disabled_ms, created_by, otp_issued_ms, otp_used_ms FROM users"
#define SESSION_COLS "SELECT id, token_hash, user_id, created_ms, last_seen_ms, " \
	"absolute_expires_ms, restrict_flags, mfa_verified, credential_epoch, source, " \
	"ended_ms, end_reason, mfa_at_ms, mfa_method FROM sessions"
#define WA_CRED_COLS "SELECT id, user_id, public_key, alg, sign_count, name, aaguid, " \
	"created_ms, last_used_ms FROM webauthn_credentials"
	[SQ_USER_PUT] = "INSERT INTO users(id, username, display_name, email, status, attributes, "
	    "password_hash, password_one_time, credential_epoch, mfa_secret, mfa_env, mfa_enabled, "
	    "mfa_last_step, created_ms, updated_ms, disabled_ms, created_by, otp_issued_ms, otp_used_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
	[SQ_USER_GET] = USER_COLS " WHERE id = ?1",
	[SQ_USER_GET_BY_USERNAME] = USER_COLS " WHERE username = ?1",
	[SQ_USER_UPDATE] = "UPDATE users SET display_name = ?3, email = ?4, status = ?5, "
	    "attributes = ?6, password_hash = ?7, password_one_time = ?8, credential_epoch = ?9, "
	    "mfa_secret = ?10, mfa_env = ?11, mfa_enabled = ?12, mfa_last_step = ?13, "
	    "updated_ms = ?15, disabled_ms = ?16, created_by = COALESCE(created_by, ?17), "
	    "otp_issued_ms = ?18, otp_used_ms = ?19 "
	    "WHERE id = ?1",
	[SQ_USER_LIST] = USER_COLS " ORDER BY username",
	[SQ_USER_ROLES_DELETE] = "DELETE FROM user_roles WHERE user_id = ?1",
	[SQ_USER_ROLES_INSERT] = "INSERT OR IGNORE INTO user_roles(user_id, role) VALUES (?1, ?2)",
	[SQ_USER_ROLES_GET] = "SELECT role FROM user_roles WHERE user_id = ?1 ORDER BY role",
	[SQ_USER_GROUPS_DELETE] = "DELETE FROM user_groups WHERE user_id = ?1",
	[SQ_USER_GROUPS_INSERT] = "INSERT OR IGNORE INTO user_groups(user_id, group_name) "
	    "VALUES (?1, ?2)",
	[SQ_USER_GROUPS_GET] = "SELECT group_name FROM user_groups WHERE user_id = ?1 "
	    "ORDER BY group_name",
	[SQ_ROLE_PUT] = "INSERT INTO roles(name, permissions, condition, builtin, created_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_ROLE_GET] = "SELECT name, permissions, condition, builtin, created_ms FROM roles "
	    "WHERE name = ?1",
	[SQ_ROLE_LIST] = "SELECT name, permissions, condition, builtin, created_ms FROM roles "
	    "ORDER BY name",
	[SQ_GROUP_PUT] = "INSERT INTO groups(name, roles, created_ms) VALUES (?1, ?2, ?3)",
	[SQ_GROUP_GET] = "SELECT name, roles, created_ms FROM groups WHERE name = ?1",
	[SQ_GROUP_LIST] = "SELECT name, roles, created_ms FROM groups ORDER BY name",
	[SQ_SESSION_PUT] = "INSERT INTO sessions(id, token_hash, user_id, created_ms, "
	    "last_seen_ms, absolute_expires_ms, restrict_flags, mfa_verified, credential_epoch, "
	    "source, ended_ms, end_reason) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL)",
	[SQ_SESSION_GET_BY_HASH] = SESSION_COLS " WHERE token_hash = ?1",
	[SQ_SESSION_TOUCH] = "UPDATE sessions SET last_seen_ms = max(last_seen_ms, ?2) "
	    "WHERE id = ?1",
	[SQ_SESSION_SET_STATE] = "UPDATE sessions SET restrict_flags = ?2, mfa_verified = ?3, "
	    "credential_epoch = ?4 WHERE id = ?1 AND ended_ms IS NULL",
	[SQ_SESSION_END] = "UPDATE sessions SET ended_ms = ?2, end_reason = ?3 "
	    "WHERE id = ?1 AND ended_ms IS NULL",
	[SQ_SESSION_END_ALL] = "UPDATE sessions SET ended_ms = ?3, end_reason = ?4 "
	    "WHERE user_id = ?1 AND ended_ms IS NULL AND (?2 IS NULL OR id <> ?2)",
	[SQ_SESSION_COUNT_OPEN] = "SELECT count(*) FROM sessions WHERE ended_ms IS NULL "
	    "AND absolute_expires_ms > ?1 AND last_seen_ms > ?2",
	[SQ_RECOVERY_DELETE] = "DELETE FROM recovery_codes WHERE user_id = ?1",
	[SQ_RECOVERY_INSERT] = "INSERT INTO recovery_codes(user_id, code_hash, used_ms, mac_version) "
	    "VALUES (?1, ?2, NULL, ?3)",
	[SQ_RECOVERY_VERSION] = "SELECT COALESCE(MAX(mac_version), 0) FROM recovery_codes "
	    "WHERE user_id = ?1 AND used_ms IS NULL",
	[SQ_RECOVERY_UNUSED] = "SELECT code_hash FROM recovery_codes "
	    "WHERE user_id = ?1 AND used_ms IS NULL ORDER BY code_hash",
	[SQ_RECOVERY_USE] = "UPDATE recovery_codes SET used_ms = ?3 "
	    "WHERE user_id = ?1 AND code_hash = ?2 AND used_ms IS NULL",
	[SQ_LOCKOUT_GET] = "SELECT failures, window_start_ms, locked_until_ms FROM lockouts "
	    "WHERE key = ?1 AND kind = ?2",
	[SQ_LOCKOUT_PUT] = "INSERT INTO lockouts(key, kind, failures, window_start_ms, "
	    "locked_until_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(key, kind) DO UPDATE SET "
	    "failures = excluded.failures, window_start_ms = excluded.window_start_ms, "
	    "locked_until_ms = excluded.locked_until_ms",
	[SQ_LOCKOUT_CLEAR] = "DELETE FROM lockouts WHERE key = ?1",
	[SQ_MFA_PENDING_PUT] = "INSERT INTO mfa_pending(token_hash, user_id, expires_ms, attempts, "
	    "credential_epoch) VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_MFA_PENDING_GET] = "SELECT token_hash, user_id, expires_ms, attempts, credential_epoch "
	    "FROM mfa_pending WHERE token_hash = ?1",
	[SQ_MFA_PENDING_ATTEMPT] = "UPDATE mfa_pending SET attempts = attempts + 1 "
	    "WHERE token_hash = ?1",
	[SQ_MFA_PENDING_DELETE] = "DELETE FROM mfa_pending WHERE token_hash = ?1",
	[SQ_MFA_PENDING_PURGE] = "DELETE FROM mfa_pending WHERE expires_ms <= ?1",
	/* identity:end */
	/* vault:begin (added by the records work) */
#define COLL_COLS "SELECT name, schema, region, retention_days, created_ms, kek_name FROM collections"
/* a record's row and its key row (record_keys, migration 31) */
#define REC_COLS "SELECT r.id, r.collection, r.version, k.kek_name, k.kek_version, " \
	"k.wrapped_dek, r.ciphertext, r.created_ms, r.updated_ms, r.deleted_ms " \
	"FROM records r JOIN record_keys k ON k.id = r.id"
#define TOK_COLS "SELECT token, collection, field, deterministic, mac, kek_name, " \
	"kek_version, wrapped_dek, ciphertext, created_ms, mac_version, subject_ref FROM tokens"
	[SQ_COLLECTION_PUT] = "INSERT INTO collections(name, schema, region, retention_days, "
	    "created_ms, kek_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[SQ_COLLECTION_GET] = COLL_COLS " WHERE name = ?1",
	[SQ_COLLECTION_LIST] = COLL_COLS " ORDER BY name",
	[SQ_RECORD_PUT] = "INSERT INTO records(id, collection, version, ciphertext, created_ms, "
	    "updated_ms, deleted_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
	[SQ_RECORD_GET] = REC_COLS " WHERE r.id = ?2 AND r.collection = ?1",
	[SQ_RECORD_UPDATE] = "UPDATE records SET version = ?3, ciphertext = ?4, updated_ms = ?5 "
	    "WHERE id = ?2 AND collection = ?1 AND deleted_ms IS NULL AND version = ?6",
	[SQ_RECORD_SHRED] = "UPDATE records SET ciphertext = NULL, "
	    "deleted_ms = ?3, updated_ms = ?3 "
	    "WHERE id = ?2 AND collection = ?1 AND deleted_ms IS NULL",
	[SQ_BIDX_PUT] = "INSERT OR IGNORE INTO blind_index(collection, field, mac, record_id, "
	    "mac_version) VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_BIDX_DELETE] = "DELETE FROM blind_index WHERE record_id = ?2 AND collection = ?1 "
	    "AND (?3 IS NULL OR field = ?3)",
	[SQ_BIDX_LOOKUP] = "SELECT record_id FROM blind_index "
	    "WHERE collection = ?1 AND field = ?2 AND mac = ?3 ORDER BY record_id LIMIT ?4",
	/* keyset pagination on the primary key: no OFFSET, stable under inserts */
	[SQ_RECORD_SCAN] = "SELECT id FROM records WHERE collection = ?1 AND id > ?2 "
	    "AND deleted_ms IS NULL ORDER BY id LIMIT ?3",
	[SQ_TOKEN_PUT] = "INSERT INTO tokens(token, collection, field, deterministic, mac, "
	    "kek_name, kek_version, wrapped_dek, ciphertext, created_ms, mac_version, subject_ref) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[SQ_TOKEN_GET] = TOK_COLS " WHERE token = ?1",
	[SQ_TOKEN_GET_BY_MAC] = TOK_COLS " WHERE mac = ?1",
	/* versioned MAC keys (migration 20): the re-index job's two ops */
	[SQ_BIDX_DELETE_BELOW] = "DELETE FROM blind_index WHERE record_id = ?2 AND collection = ?1 "
	    "AND mac_version < ?3",
	[SQ_BIDX_COUNT_BELOW] = "SELECT COUNT(*) FROM blind_index WHERE record_id = ?2 "
	    "AND collection = ?1 AND mac_version < ?3",
	/* a token linked to a patient once, never moved to another */
	[SQ_TOKEN_SET_SUBJECT] = "UPDATE tokens SET subject_ref = ?2 WHERE token = ?1 "
	    "AND subject_ref = ''",
	[SQ_TOKEN_TOMBSTONE_GET] = "SELECT collection, shredded_ms FROM token_tombstones "
	    "WHERE token = ?1",
	/* the tokens re-encryption walk (keyset on the primary key) and its
	 * guarded write: only a row still under the versions read moves */
	[SQ_TOKEN_SCAN] = TOK_COLS " WHERE token > ?1 ORDER BY token LIMIT ?2",
	[SQ_TOKEN_REWRAP] = "UPDATE tokens SET kek_version = ?3, wrapped_dek = ?4, "
	    "ciphertext = COALESCE(?5, ciphertext), mac = COALESCE(?6, mac), mac_version = ?7 "
	    "WHERE token = ?1 AND kek_name = ?2 AND kek_version = ?8 AND mac_version = ?9",
	/* vault:end */
	/* jobs:begin (added by the jobs work) */
#define JOB_COLS "SELECT id, kind, state, cursor, params, errors, done, total, error_count, " \
	"created_ms, started_ms, finished_ms, updated_ms, lease_owner, lease_expires_ms, " \
	"created_by FROM jobs"
	[SQ_JOB_PUT] = "INSERT INTO jobs(id, kind, state, cursor, params, errors, done, total, "
	    "error_count, created_ms, started_ms, finished_ms, updated_ms, lease_owner, "
	    "lease_expires_ms, created_by) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[SQ_JOB_GET] = JOB_COLS " WHERE id = ?1",
	[SQ_JOB_UPDATE] = "UPDATE jobs SET state = ?2, cursor = ?3, errors = ?4, done = ?5, "
	    "total = ?6, error_count = ?7, started_ms = ?8, finished_ms = ?9, updated_ms = ?10, "
	    "lease_owner = ?11, lease_expires_ms = ?12 WHERE id = ?1",
	[SQ_JOB_LIST] = JOB_COLS " ORDER BY created_ms DESC, id DESC",
	[SQ_JOB_RUNNABLE] = JOB_COLS " WHERE state IN ('queued', 'running') "
	    "AND (lease_owner = '' OR lease_owner = ?1 OR lease_expires_ms <= ?2) "
	    "ORDER BY created_ms, id",
	/* jobs:end */
	/* sinks:begin (added by the sinks work) */
	[SQ_SINK_CURSOR_GET] = "SELECT name, seq, delivered, last_error, updated_ms "
	    "FROM sink_cursors WHERE name = ?1",
	[SQ_SINK_CURSOR_PUT] = "INSERT OR REPLACE INTO sink_cursors(name, seq, delivered, "
	    "last_error, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
	/* sinks:end */
	/* detect:begin (added by the detection work) */
#define ALERT_COLS "SELECT id, rule, severity, actor, source, first_seen_ms, last_seen_ms, " \
	"count, status, ack_note, ack_by, ack_ms FROM alerts"
	[SQ_ALERT_PUT] = "INSERT INTO alerts(id, rule, severity, actor, source, first_seen_ms, "
	    "last_seen_ms, count, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open')",
	[SQ_ALERT_GET] = ALERT_COLS " WHERE id = ?1",
	[SQ_ALERT_BUMP] = "UPDATE alerts SET count = count + ?2, "
	    "last_seen_ms = MAX(last_seen_ms, ?3) WHERE id = ?1 AND status = 'open'",
	[SQ_ALERT_ACK] = "UPDATE alerts SET status = 'acknowledged', ack_note = ?2, ack_by = ?3, "
	    "ack_ms = ?4 WHERE id = ?1 AND status = 'open'",
	[SQ_ALERT_LIST] = ALERT_COLS " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR rule = ?2) "
	    "ORDER BY last_seen_ms DESC, id DESC LIMIT ?3",
	[SQ_DETECT_STATE_GET] = "SELECT value FROM detect_state WHERE key = ?1",
	[SQ_DETECT_STATE_PUT] = "INSERT INTO detect_state(key, value, updated_ms) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
	/* detect:end */
	/* policies:begin (added by the policies work) */
#define POLICY_COLS "SELECT name, effect, actions, resources, condition, created_by, " \
	"created_ms, updated_by, updated_ms, version FROM policies"
	[SQ_POLICY_PUT] = "INSERT INTO policies(name, effect, actions, resources, condition, "
	    "created_by, created_ms, updated_by, updated_ms, version) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[SQ_POLICY_GET] = POLICY_COLS " WHERE name = ?1",
	[SQ_POLICY_UPDATE] = "UPDATE policies SET effect = ?2, actions = ?3, resources = ?4, "
	    "condition = ?5, updated_by = ?6, updated_ms = ?7, version = ?8 "
	    "WHERE name = ?1 AND version = ?8 - 1",
	[SQ_POLICY_DELETE] = "DELETE FROM policies WHERE name = ?1",
	[SQ_POLICY_LIST] = POLICY_COLS " ORDER BY name",
	/* a step-up: the session passed MFA again (migration 10's column) */
	[SQ_SESSION_SET_MFA] = "UPDATE sessions SET mfa_verified = 1, mfa_at_ms = max(mfa_at_ms, ?2) "
	    "WHERE id = ?1 AND ended_ms IS NULL",
	/* policies:end */
	/* apps:begin (added by the apps work) */
	[SQ_APP_PUT] = "INSERT INTO apps(id, name, roles, networks, created_by, created_ms, "
	    "disabled, disabled_ms, credential_epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_APP_GET] = "SELECT id, name, roles, networks, created_by, created_ms, disabled, "
	    "disabled_ms, credential_epoch FROM apps WHERE id = ?1",
	[SQ_APP_UPDATE] = "UPDATE apps SET roles = ?2, networks = ?3, disabled = ?4, "
	    "disabled_ms = ?5, credential_epoch = ?6 WHERE id = ?1",
	[SQ_APP_LIST] = "SELECT id, name, roles, networks, created_by, created_ms, disabled, "
	    "disabled_ms, credential_epoch FROM apps ORDER BY name",
	[SQ_APP_SECRET_PUT] = "INSERT INTO app_secrets(secret_id, app_id, hash, created_ms, "
	    "expires_ms, revoked_ms, mac_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_APP_SECRET_LIST] = "SELECT secret_id, app_id, hash, created_ms, expires_ms, "
	    "revoked_ms, mac_version FROM app_secrets WHERE app_id = ?1 AND revoked_ms = 0 "
	    "ORDER BY created_ms, secret_id",
	[SQ_APP_SECRET_REVOKE] = "UPDATE app_secrets SET revoked_ms = ?3 "
	    "WHERE app_id = ?1 AND secret_id = ?2 AND revoked_ms = 0",
	[SQ_APP_SESSION_PUT] = "INSERT INTO app_sessions(id, token_hash, app_id, created_ms, "
	    "expires_ms, credential_epoch, source, method, cert_fingerprint, cert_serial) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[SQ_APP_SESSION_GET_BY_HASH] = "SELECT id, token_hash, app_id, created_ms, expires_ms, "
	    "credential_epoch, source, method, ended_ms, end_reason, cert_fingerprint, "
	    "cert_serial FROM app_sessions WHERE token_hash = ?1",
	[SQ_APP_SESSION_END_ALL] = "UPDATE app_sessions SET ended_ms = ?2, end_reason = ?3 "
	    "WHERE app_id = ?1 AND ended_ms = 0",
	[SQ_APP_SESSION_END] = "UPDATE app_sessions SET ended_ms = ?2, end_reason = ?3 "
	    "WHERE id = ?1 AND ended_ms = 0",
	/* apps:end */
	/* secrets:begin */
	[SQ_SECRET_GET] = "SELECT path, current_version, rotate_every_s, created_ms, updated_ms, "
	    "deleted_ms, metadata FROM secrets WHERE path = ?1",
	[SQ_SECRET_INSERT] = "INSERT INTO secrets(path, current_version, rotate_every_s, "
	    "created_ms, updated_ms, deleted_ms, metadata) VALUES (?1, ?2, ?3, ?4, ?4, 0, ?5)",
	[SQ_SECRET_UPDATE] = "UPDATE secrets SET current_version = ?2, rotate_every_s = ?3, "
	    "updated_ms = ?4, deleted_ms = 0, metadata = ?5 WHERE path = ?1 AND current_version = ?6",
	[SQ_SECRET_VERSION_PUT] = "INSERT INTO secret_versions(path, version, kek_name, "
	    "kek_version, wrapped_dek, ciphertext, metadata, created_ms, destroyed_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
	[SQ_SECRET_VERSION_GET] = "SELECT seq, path, version, kek_name, kek_version, wrapped_dek, "
	    "ciphertext, metadata, created_ms, destroyed_ms FROM secret_versions "
	    "WHERE path = ?1 AND version = ?2",
	[SQ_SECRET_LIST] = "SELECT path, current_version, rotate_every_s, created_ms, updated_ms, "
	    "deleted_ms, metadata FROM secrets WHERE substr(path, 1, length(?1)) = ?1 "
	    "ORDER BY path",
	[SQ_SECRET_SET_DELETED] = "UPDATE secrets SET deleted_ms = ?2 WHERE path = ?1",
	[SQ_SECRET_VERSION_DESTROY] = "UPDATE secret_versions SET wrapped_dek = NULL, "
	    "ciphertext = NULL, destroyed_ms = ?3 WHERE path = ?1 AND version = ?2 "
	    "AND wrapped_dek IS NOT NULL",
	[SQ_SECRET_VERSIONS_PRUNE] = "UPDATE secret_versions SET wrapped_dek = NULL, "
	    "ciphertext = NULL, destroyed_ms = ?3 WHERE path = ?1 AND version < ?2 "
	    "AND wrapped_dek IS NOT NULL",
	[SQ_SECRET_VERSION_SCAN] = "SELECT seq, path, version, kek_name, kek_version, wrapped_dek, "
	    "ciphertext, metadata, created_ms, destroyed_ms FROM secret_versions "
	    "WHERE seq > ?1 AND wrapped_dek IS NOT NULL ORDER BY seq LIMIT ?2",
	[SQ_SECRET_VERSION_REWRAP] = "UPDATE secret_versions SET kek_version = ?3, "
	    "wrapped_dek = ?4 WHERE path = ?1 AND version = ?2 AND kek_version = ?5 "
	    "AND wrapped_dek IS NOT NULL",
	/* secrets:end */
	/* approvals:begin (dual control) */
#define APPROVAL_COLS "SELECT id, kind, status, requested_by, target, change, created_ms, " \
	"expires_ms, decided_by, decided_ms, note FROM approvals"
	[SQ_APPROVAL_PUT] = "INSERT INTO approvals(id, kind, status, requested_by, target, "
	    "change, created_ms, expires_ms, decided_by, decided_ms, note) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[SQ_APPROVAL_GET] = APPROVAL_COLS " WHERE id = ?1",
	[SQ_APPROVAL_LIST] = APPROVAL_COLS " WHERE ?1 IS NULL OR status = ?1 "
	    "ORDER BY created_ms DESC, id DESC",
	[SQ_APPROVAL_DECIDE] = "UPDATE approvals SET status = ?2, decided_by = ?3, "
	    "decided_ms = ?4, note = ?5 WHERE id = ?1 AND status = 'pending'",
	[SQ_APPROVAL_APPLIED] = "SELECT id FROM approvals WHERE kind = ?1 AND target = ?2 "
	    "AND status = 'approved' LIMIT 1",
	/* approvals:end */
	/* elevations:begin (JIT elevation) */
#define ELEVATION_COLS "SELECT id, user_id, role, status, justification, ticket, duration_s, " \
	"created_ms, request_expires_ms, approved_by, starts_ms, expires_ms, ended_by, ended_ms " \
	"FROM elevations"
	[SQ_ELEVATION_PUT] = "INSERT INTO elevations(id, user_id, role, status, justification, "
	    "ticket, duration_s, created_ms, request_expires_ms, approved_by, starts_ms, "
	    "expires_ms, ended_by, ended_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[SQ_ELEVATION_GET] = ELEVATION_COLS " WHERE id = ?1",
	[SQ_ELEVATION_LIST] = ELEVATION_COLS " WHERE (?1 IS NULL OR user_id = ?1) "
	    "AND (?2 IS NULL OR status = ?2) ORDER BY created_ms DESC, id DESC",
	[SQ_ELEVATION_APPROVE] = "UPDATE elevations SET status = 'active', approved_by = ?2, "
	    "starts_ms = ?3, expires_ms = ?4 WHERE id = ?1 AND status = 'pending'",
	[SQ_ELEVATION_END] = "UPDATE elevations SET status = ?3, ended_by = ?4, ended_ms = ?5 "
	    "WHERE id = ?1 AND status = ?2",
	[SQ_ELIGIBLE_DELETE] = "DELETE FROM user_eligible_roles WHERE user_id = ?1",
	[SQ_ELIGIBLE_INSERT] = "INSERT INTO user_eligible_roles(user_id, role) VALUES (?1, ?2)",
	[SQ_ELIGIBLE_GET] = "SELECT role FROM user_eligible_roles WHERE user_id = ?1 ORDER BY role",
	/* elevations:end */
	/* app-certs:begin (migration: app_sessions.cert_*, app_cert_revocations) */
	[SQ_APP_CERT_REVOKE] = "INSERT INTO app_cert_revocations(serial, app_id, revoked_ms, "
	    "revoked_by) VALUES (?1, ?2, ?3, ?4)",
	[SQ_APP_CERT_REVOKED] = "SELECT serial FROM app_cert_revocations WHERE serial = ?1",
	[SQ_APP_SESSION_END_CERT] = "UPDATE app_sessions SET ended_ms = ?3, end_reason = ?4 "
	    "WHERE app_id = ?1 AND cert_serial = ?2 AND ended_ms = 0",
	/* app-certs:end */
	/* breakglass:begin (migration: breakglass) */
#define BG_COLS "SELECT id, user_id, subject_ref, reason_code, justification, created_ms, " \
	"expires_ms, ended_ms, end_reason, since_seq, review_id, review_status, review_due_ms, " \
	"reviewed_by, reviewed_ms, review_note, overdue_reported FROM breakglass"
	[SQ_BG_PUT] = "INSERT INTO breakglass(id, user_id, subject_ref, reason_code, "
	    "justification, created_ms, expires_ms, ended_ms, end_reason, since_seq, review_id, "
	    "review_status, review_due_ms, reviewed_by, reviewed_ms, review_note, "
	    "overdue_reported) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?14, ?15, ?16, ?17)",
	[SQ_BG_GET] = BG_COLS " WHERE id = ?1",
	[SQ_BG_REVIEW_GET] = BG_COLS " WHERE review_id = ?1",
	[SQ_BG_ACTIVE] = BG_COLS " WHERE user_id = ?1 AND ended_ms = 0 AND expires_ms > ?2 "
	    "ORDER BY created_ms DESC, id DESC LIMIT 1",
	[SQ_BG_LIST] = BG_COLS " WHERE (?1 IS NULL OR user_id = ?1) AND "
	    "(?2 IS NULL OR review_status = ?2) ORDER BY created_ms DESC, id DESC",
	[SQ_BG_END] = "UPDATE breakglass SET ended_ms = ?2, end_reason = ?3 "
	    "WHERE id = ?1 AND ended_ms = 0",
	[SQ_BG_REVIEW_DECIDE] = "UPDATE breakglass SET review_status = ?2, reviewed_by = ?3, "
	    "reviewed_ms = ?4, review_note = ?5 WHERE review_id = ?1 AND review_status = 'open'",
	[SQ_BG_OVERDUE_MARK] = "UPDATE breakglass SET overdue_reported = 1 "
	    "WHERE review_id = ?1 AND review_status = 'open' AND overdue_reported = 0",
	/* breakglass:end */
	/* exports:begin (migration: exports) */
#define EXPORT_COLS "SELECT id, collection, job_id, state, mode, pseudonym, created_by, " \
	"created_ms, expires_ms, finished_ms, lines, chunks, bytes, dropped, sha256 FROM exports"
	[SQ_EXPORT_PUT] = "INSERT INTO exports(id, collection, job_id, state, mode, pseudonym, "
	    "created_by, created_ms, expires_ms, finished_ms, lines, chunks, bytes, dropped, sha256) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[SQ_EXPORT_GET] = EXPORT_COLS " WHERE id = ?1",
	[SQ_EXPORT_UPDATE] = "UPDATE exports SET state = ?2, finished_ms = ?3, lines = ?4, "
	    "chunks = ?5, bytes = ?6, dropped = ?7, sha256 = ?8 WHERE id = ?1",
	[SQ_EXPORT_LIST] = EXPORT_COLS " ORDER BY created_ms DESC, id DESC",
	[SQ_EXPORT_CHUNK_PUT] = "INSERT INTO export_chunks(export_id, idx, lines, kek_name, "
	    "kek_version, wrapped_dek, ciphertext) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_EXPORT_CHUNK_GET] = "SELECT export_id, idx, lines, kek_name, kek_version, wrapped_dek, "
	    "ciphertext FROM export_chunks WHERE export_id = ?1 AND idx = ?2",
	[SQ_EXPORT_CHUNKS_DELETE] = "DELETE FROM export_chunks WHERE export_id = ?1",
	/* exports:end */
	/* campaigns:begin (migration: access review campaigns) */
#define CAMPAIGN_COLS "SELECT id, scope, reviewers, status, on_due, created_by, created_ms, " \
	"due_ms, closed_ms, result, signature FROM review_campaigns"
#define CITEM_COLS "SELECT campaign_id, item_id, kind, principal_id, principal_name, detail, " \
	"unused, decision, decided_by, decided_ms, note FROM review_campaign_items"
	[SQ_CAMPAIGN_PUT] = "INSERT INTO review_campaigns(id, scope, reviewers, status, on_due, "
	    "created_by, created_ms, due_ms, closed_ms, result, signature) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[SQ_CAMPAIGN_GET] = CAMPAIGN_COLS " WHERE id = ?1",
	[SQ_CAMPAIGN_LIST] = CAMPAIGN_COLS " WHERE ?1 IS NULL OR status = ?1 "
	    "ORDER BY created_ms DESC, id DESC",
	[SQ_CAMPAIGN_CLOSE] = "UPDATE review_campaigns SET status = 'closed', closed_ms = ?2, "
	    "result = ?3, signature = ?4 WHERE id = ?1 AND status = 'open'",
	[SQ_CAMPAIGN_ITEM_PUT] = "INSERT INTO review_campaign_items(campaign_id, item_id, kind, "
	    "principal_id, principal_name, detail, unused, decision, decided_by, decided_ms, note) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[SQ_CAMPAIGN_ITEM_GET] = CITEM_COLS " WHERE campaign_id = ?1 AND item_id = ?2",
	[SQ_CAMPAIGN_ITEMS] = CITEM_COLS " WHERE campaign_id = ?1 ORDER BY item_id",
	[SQ_CAMPAIGN_ITEM_DECIDE] = "UPDATE review_campaign_items SET decision = ?3, "
	    "decided_by = ?4, decided_ms = ?5, note = ?6 "
	    "WHERE campaign_id = ?1 AND item_id = ?2 AND decision = ''",
	[SQ_CAMPAIGN_LAST_USE_USER] = "SELECT COALESCE(MAX(last_seen_ms), 0) FROM sessions "
	    "WHERE user_id = ?1",
	[SQ_CAMPAIGN_LAST_USE_APP] = "SELECT COALESCE(MAX(created_ms), 0) FROM app_sessions "
	    "WHERE app_id = ?1",
	[SQ_CAMPAIGN_APPROVER] = "SELECT decided_by, decided_ms FROM approvals "
	    "WHERE target = ?1 AND status = 'approved' ORDER BY decided_ms DESC, id DESC LIMIT 1",
	/* campaigns:end */
	/* webauthn:begin (migration: webauthn_credentials, webauthn_users,
	 * webauthn_challenges, sessions.mfa_method) */
	[SQ_WA_CRED_PUT] = "INSERT INTO webauthn_credentials(id, user_id, public_key, alg, "
	    "sign_count, name, aaguid, created_ms, last_used_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_WA_CRED_GET] = WA_CRED_COLS " WHERE id = ?1",
	[SQ_WA_CRED_LIST] = WA_CRED_COLS " WHERE user_id = ?1 ORDER BY created_ms, id",
	[SQ_WA_CRED_USE] = "UPDATE webauthn_credentials SET sign_count = ?2, last_used_ms = ?3 "
	    "WHERE id = ?1 AND (?2 > sign_count OR (?2 = 0 AND sign_count = 0))",
	[SQ_WA_CRED_DELETE] = "DELETE FROM webauthn_credentials WHERE user_id = ?1 AND id = ?2",
	[SQ_WA_CRED_DELETE_USER] = "DELETE FROM webauthn_credentials WHERE user_id = ?1",
	[SQ_WA_HANDLE_GET] = "SELECT handle FROM webauthn_users WHERE user_id = ?1",
	[SQ_WA_HANDLE_PUT] = "INSERT INTO webauthn_users(user_id, handle) VALUES (?1, ?2)",
	[SQ_WA_CHALLENGE_PUT] = "INSERT INTO webauthn_challenges(challenge, kind, user_id, bind, "
	    "expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_WA_CHALLENGE_PURGE] = "DELETE FROM webauthn_challenges WHERE expires_ms <= ?1",
	[SQ_WA_CHALLENGE_GET] = "SELECT challenge, kind, user_id, bind, expires_ms "
	    "FROM webauthn_challenges WHERE challenge = ?1",
	[SQ_WA_CHALLENGE_DELETE] = "DELETE FROM webauthn_challenges WHERE challenge = ?1",
	[SQ_SESSION_SET_MFA_METHOD] = "UPDATE sessions SET mfa_method = ?2 "
	    "WHERE id = ?1 AND ended_ms IS NULL",
	/* webauthn:end */
	/* cluster:begin */
	[SQ_EPOCH_GET] = "SELECT epoch FROM access_epoch WHERE id = 1",
	[SQ_EPOCH_BUMP] = "UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1",
	/* cluster:end */
	/* oidc:begin */
	[SQ_OIDC_PENDING_PURGE] = "DELETE FROM oidc_pending WHERE expires_ms <= ?1",
	[SQ_OIDC_PENDING_PUT] = "INSERT INTO oidc_pending(key, kind, data, expires_ms) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[SQ_OIDC_PENDING_GET] = "SELECT key, kind, data, expires_ms FROM oidc_pending "
	    "WHERE key = ?1 AND kind = ?2",
	[SQ_OIDC_PENDING_DELETE] = "DELETE FROM oidc_pending WHERE key = ?1 AND kind = ?2",
	[SQ_OIDC_IDENTITY_GET] = "SELECT user_id FROM oidc_identities WHERE iss = ?1 AND sub = ?2",
	[SQ_OIDC_IDENTITY_PUT] = "INSERT INTO oidc_identities(iss, sub, user_id, created_ms) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[SQ_OIDC_SESSION_PUT] = "INSERT INTO oidc_sessions(session_id, iss, sid) VALUES (?1, ?2, ?3)",
	[SQ_OIDC_SESSION_BY_SID] = "SELECT o.session_id, s.user_id FROM oidc_sessions o "
	    "JOIN sessions s ON s.id = o.session_id "
	    "WHERE o.iss = ?1 AND o.sid = ?2 AND s.ended_ms IS NULL ORDER BY o.session_id",
	/* oidc:end */
};

/* Applied to every new connection. */
static const char sq_pragmas[] =
	"PRAGMA synchronous = FULL;"
	"PRAGMA foreign_keys = ON;"
	"PRAGMA secure_delete = ON;";

/* ------------------------------------------------------------------ */
/* errors, statements                                                  */
/* ------------------------------------------------------------------ */

enum pv_rc store_sqlite_rc(int rc, const char *op)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return PV_E_CONFLICT;
	case SQLITE_NOMEM:
		log_error("store: %s: sqlite %d (%s)", op, rc, sqlite3_errstr(rc));
		return PV_E_NOMEM;
	default:
		log_error("store: %s: sqlite %d (%s)", op, rc, sqlite3_errstr(rc));
		return PV_E_IO;
	}
}

enum pv_rc store_sqlite_stmt(struct store_sqlite_conn *c, enum store_sqlite_stmt id,
    sqlite3_stmt **out)
{
	sqlite3_stmt *cached, *fresh = NULL;
	int rc;

	assert(id < SQ_STMT__COUNT && sq_sql[id] != NULL);
	cached = c->stmt[id];
	if (cached != NULL && !sqlite3_stmt_busy(cached)) {
		*out = cached;
		return PV_OK;
	}
	rc = sqlite3_prepare_v3(c->db, sq_sql[id], -1,
	    cached == NULL ? SQLITE_PREPARE_PERSISTENT : 0, &fresh, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(fresh);
		return store_sqlite_rc(rc, "prepare");
	}
	if (cached == NULL)
		c->stmt[id] = fresh;
	*out = fresh;
	return PV_OK;
}

void store_sqlite_stmt_done(struct store_sqlite_conn *c, enum store_sqlite_stmt id,
    sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	if (s == c->stmt[id]) {
		/* reset returns the last step's error again: already handled */
		(void)sqlite3_reset(s);
		(void)sqlite3_clear_bindings(s);
	} else {
		(void)sqlite3_finalize(s);
	}
}

/* ------------------------------------------------------------------ */
/* columns, parameters                                                 */
/* ------------------------------------------------------------------ */

/* A stepped SQLite statement as a struct store_row. */
struct sq_row {
	struct store_row base;   /* first */
	sqlite3_stmt *s;
};

static sqlite3_stmt *sq_row_stmt(struct store_row *r)
{
	return ((struct sq_row *)r)->s;
}

static int64_t sq_row_int64(struct store_row *r, int col)
{
	return sqlite3_column_int64(sq_row_stmt(r), col);
}

static bool sq_row_is_null(struct store_row *r, int col)
{
	return sqlite3_column_type(sq_row_stmt(r), col) == SQLITE_NULL;
}

static const char *sq_row_text(struct store_row *r, int col)
{
	return (const char *)sqlite3_column_text(sq_row_stmt(r), col);
}

static const void *sq_row_blob(struct store_row *r, int col)
{
	return sqlite3_column_blob(sq_row_stmt(r), col);
}

static int sq_row_bytes(struct store_row *r, int col)
{
	return sqlite3_column_bytes(sq_row_stmt(r), col);
}

static const struct store_row_ops sq_row_ops = {
	.int64 = sq_row_int64,
	.is_null = sq_row_is_null,
	.text = sq_row_text,
	.blob = sq_row_blob,
	.bytes = sq_row_bytes,
};

const char *store_sqlite_sql(enum store_sqlite_stmt id)
{
	return id < SQ_STMT__COUNT ? sq_sql[id] : NULL;
}

const char *store_sqlite_col_text(struct store_row *s, int col)
{
	const char *t = store_row_text(s, col);

	return t != NULL ? t : "";
}

bool store_sqlite_col_copy(struct store_row *s, int col, char *dst, size_t cap)
{
	const char *t = store_sqlite_col_text(s, col);

	if (strlen(t) >= cap)
		return false;
	util_strlcpy(dst, t, cap);
	return true;
}

enum pv_rc store_sqlite_col_strdup(struct store_row *s, int col, char **out)
{
	char *p = strdup(store_sqlite_col_text(s, col));

	if (p == NULL)
		return PV_E_NOMEM;
	*out = p;
	return PV_OK;
}

enum pv_rc store_sqlite_col_blob(struct store_row *s, int col, enum store_sqlite_blob how,
    uint8_t **out, size_t *len)
{
	const void *p;
	int n;
	uint8_t *buf;

	/* the type first: column_blob would convert the value */
	if (how != STORE_SQLITE_BLOB_BUF && store_row_is_null(s, col)) {
		*out = NULL;
		*len = 0;
		return PV_OK;
	}
	p = store_row_blob(s, col);
	n = store_row_bytes(s, col);
	if (p == NULL && n > 0)
		return PV_E_NOMEM;   /* SQLite could not convert the value */
	if (n <= 0 && how == STORE_SQLITE_BLOB_OPTIONAL) {
		*out = NULL;
		*len = 0;
		return PV_OK;
	}
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL)
		return PV_E_NOMEM;
	if (n > 0)
		memcpy(buf, p, (size_t)n);
	*out = buf;
	*len = n > 0 ? (size_t)n : 0;
	return PV_OK;
}

int store_sqlite_bind(sqlite3_stmt *s, const struct store_sqlite_param *p, size_t n)
{
	/* bind_blob64 with a NULL pointer would bind SQL NULL; an empty value
	 * must stay an empty BLOB (meta.value is NOT NULL). */
	static const uint8_t empty[1];
	int src = SQLITE_OK;

	for (size_t k = 0; k < n && src == SQLITE_OK; k++) {
		int i = (int)k + 1;

		switch (p[k].kind) {
		case STORE_SQLITE_P_NULL:
			src = sqlite3_bind_null(s, i);
			break;
		case STORE_SQLITE_P_TEXT:
			src = p[k].p != NULL ? sqlite3_bind_text(s, i, p[k].p, -1, SQLITE_STATIC)
			    : sqlite3_bind_null(s, i);
			break;
		case STORE_SQLITE_P_INT:
			src = sqlite3_bind_int64(s, i, p[k].i);
			break;
		case STORE_SQLITE_P_INT_OR_NULL:
			src = p[k].i != 0 ? sqlite3_bind_int64(s, i, p[k].i) : sqlite3_bind_null(s, i);
			break;
		case STORE_SQLITE_P_BLOB:
			src = sqlite3_bind_blob64(s, i, p[k].len > 0 ? p[k].p : empty, p[k].len,
			    SQLITE_STATIC);
			break;
		case STORE_SQLITE_P_BLOB_OR_NULL:
			src = p[k].p != NULL && p[k].len > 0 ?
			    sqlite3_bind_blob64(s, i, p[k].p, p[k].len, SQLITE_STATIC) :
			    sqlite3_bind_null(s, i);
			break;
		default:
			src = SQLITE_MISUSE;
			break;
		}
	}
	return src;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */
/* ------------------------------------------------------------------ */

static struct store_sqlite *sq(struct store *st)
{
	return (struct store_sqlite *)st;
}

static void conn_free(struct store_sqlite_conn *c)
{
	for (size_t i = 0; i < SQ_STMT__COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	/* close_v2: a transient statement still open elsewhere defers the close
	 * instead of failing it; an open transaction is rolled back. */
	if (sqlite3_close_v2(c->db) != SQLITE_OK)
		log_error("store: close connection failed");
	free(c);
}

static struct store_sqlite_conn *pool_conn(struct store_pool_conn *pc)
{
	return STORE_POOL_OWNER(pc, struct store_sqlite_conn, pc);
}

/* The pool's callbacks (store_pool.h). */
static void conn_close_cb(struct store_pool_conn *pc)
{
	conn_free(pool_conn(pc));
}

/* Still in a transaction when released (its ROLLBACK failed): closed. */
static bool conn_keep_cb(struct store_pool_conn *pc)
{
	return sqlite3_get_autocommit(pool_conn(pc)->db) != 0;
}

static enum pv_rc conn_open_cb(void *backend, struct store_pool_conn **out)
{
	struct store_sqlite *s = backend;
	struct store_sqlite_conn *c;
	int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
	    (s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
	int rc;
	enum pv_rc prc;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return PV_E_NOMEM;
	c->owner = s;
	rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		prc = store_sqlite_rc(rc, "open");
		goto fail;
	}
	if ((rc = sqlite3_extended_result_codes(c->db, 1)) != SQLITE_OK ||
	    (rc = sqlite3_busy_timeout(c->db, STORE_SQLITE_BUSY_MS)) != SQLITE_OK ||
	    (rc = sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_exec(c->db, sq_pragmas, NULL, NULL, NULL)) != SQLITE_OK) {
		prc = store_sqlite_rc(rc, "connect");
		goto fail;
	}
	*out = &c->pc;
	return PV_OK;
fail:
	sqlite3_close_v2(c->db);
	free(c);
	return prc;
}

static const struct store_pool_ops sq_pool_ops = {
	.open = conn_open_cb,
	.close = conn_close_cb,
	.keep = conn_keep_cb,
};

/* Hand c back to the pool: idle for the next transaction, or closed. */
static void conn_release(struct store_sqlite *s, struct store_sqlite_conn *c)
{
	c->held = false;
	c->tx.open = false;
	store_pool_release(&s->pool, &c->pc);
}

/* Take a connection from the pool for a transaction (bounded wait). */
static enum pv_rc conn_acquire(struct store_sqlite *s, struct store_sqlite_conn **out)
{
	struct store_pool_conn *pc;
	enum pv_rc rc = store_pool_acquire(&s->pool, &pc);

	if (rc == PV_OK)
		*out = pool_conn(pc);
	return rc;
}

void store_sqlite_pool_stats(struct store *st, size_t *open, size_t *peak, size_t *max)
{
	store_pool_stats(&sq(st)->pool, open, peak, max);
}

static void sq_pool_set(struct store *st, unsigned max_connections, unsigned wait_ms)
{
	store_pool_bound(&sq(st)->pool, max_connections, wait_ms);
}

/* ------------------------------------------------------------------ */
/* statement runners                                                   */
/* ------------------------------------------------------------------ */

/* Cleanup statements that must always run (void ops). */
static bool nofault_op(const char *op)
{
	return strcmp(op, "tx_rollback") == 0 || strcmp(op, "tx_rollback_savepoint") == 0;
}

/* The transaction's connection and statement id, bound; on failure nothing
 * is left to release. A statement that would write, on a read transaction,
 * is refused (store.c refuses write ops first; this is the backstop). */
static enum pv_rc run_start(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, struct store_sqlite_conn **c,
    sqlite3_stmt **s)
{
	enum pv_rc rc;
	int src;

	/* Test builds: an armed op fails here, before any statement or write
	 * (the rollback statements are never failed). */
	if (!nofault_op(op) && (rc = store_fault_check(op)) != PV_OK)
		return rc;
	*c = store_sqlite_tx_conn(tx);
	if (!(*c)->held) {   /* a handle used after store_end: a bug, fail closed */
		log_error("store: %s on an ended transaction refused", op);
		return PV_E_INVALID;
	}
	if ((rc = store_sqlite_stmt(*c, id, s)) != PV_OK)
		return rc;
	if (tx->mode != STORE_WR && !sqlite3_stmt_readonly(*s)) {
		log_error("store: %s on a read-only transaction refused", op);
		store_sqlite_stmt_done(*c, id, *s);
		return PV_E_READONLY;
	}
	if ((src = store_sqlite_bind(*s, p, n)) != SQLITE_OK) {
		rc = store_sqlite_rc(src, op);
		store_sqlite_stmt_done(*c, id, *s);
		return rc;
	}
	return PV_OK;
}

/* The end of a runner: reset the statement (the connection stays with the
 * transaction). */
static void run_end(struct store_sqlite_conn *c, enum store_sqlite_stmt id, sqlite3_stmt *s)
{
	store_sqlite_stmt_done(c, id, s);
}

static enum pv_rc sq_run_exec(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, int *changes)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s;
	enum pv_rc rc;
	int src;

	if ((rc = run_start(tx, id, op, p, n, &c, &s)) != PV_OK)
		return rc;
	if ((src = sqlite3_step(s)) != SQLITE_DONE)
		rc = store_sqlite_rc(src, op);
	else if (changes != NULL)
		*changes = sqlite3_changes(c->db);
	run_end(c, id, s);
	return rc;
}

enum pv_rc store_sqlite_exec_one(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n)
{
	int changes = 0;
	enum pv_rc rc = store_sqlite_exec(tx, id, op, p, n, &changes);

	return rc == PV_OK && changes == 0 ? PV_E_NOTFOUND : rc;
}

static enum pv_rc sq_run_get(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_decode_fn decode, void *out)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s;
	struct sq_row row;
	enum pv_rc rc;
	int src;

	if ((rc = run_start(tx, id, op, p, n, &c, &s)) != PV_OK)
		return rc;
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		row = (struct sq_row){ { &sq_row_ops }, s };
		rc = decode(&row.base, out);
	}
	else if (src == SQLITE_DONE)
		rc = PV_E_NOTFOUND;
	else
		rc = store_sqlite_rc(src, op);
	run_end(c, id, s);
	return rc;
}

static enum pv_rc sq_run_scan(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_row_fn row, void *ctx)
{
	struct store_sqlite_conn *c;
	sqlite3_stmt *s;
	struct sq_row r;
	enum pv_rc rc;
	int src;

	if ((rc = run_start(tx, id, op, p, n, &c, &s)) != PV_OK)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		bool stop = false;

		r = (struct sq_row){ { &sq_row_ops }, s };
		if ((rc = row(&r.base, ctx, &stop)) != PV_OK || stop)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = store_sqlite_rc(src, op);
out:
	run_end(c, id, s);
	return rc;
}

static const struct store_sql_runner sq_runner = {
	.exec = sq_run_exec,
	.get = sq_run_get,
	.scan = sq_run_scan,
};

/* The shared op code's entry points: the transaction's backend runs it. */
enum pv_rc store_sqlite_exec(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, int *changes)
{
	return tx->st->sql->exec(tx, id, op, p, n, changes);
}

enum pv_rc store_sqlite_get(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_decode_fn decode, void *out)
{
	return tx->st->sql->get(tx, id, op, p, n, decode, out);
}

enum pv_rc store_sqlite_scan(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_row_fn row, void *ctx)
{
	return tx->st->sql->scan(tx, id, op, p, n, row, ctx);
}

enum pv_rc store_sqlite_name_row(struct store_row *s, void *ctx, bool *stop)
{
	struct store_sqlite_name_ctx *x = ctx;

	*stop = x->cb(store_sqlite_col_text(s, 0), x->arg) != 0;
	return PV_OK;
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */
/* ------------------------------------------------------------------ */

static void sq_close(struct store *st)
{
	struct store_sqlite *s = sq(st);

	/* Every transaction has ended (the caller's rule): the pool is the only
	 * owner of the connections. */
	store_pool_destroy(&s->pool);
	free(s);
}

unsigned long store_sqlite_opens(struct store *st)
{
	return store_pool_opens(&sq(st)->pool);
}

static int sq_schema_version(struct store *st)
{
	return sq(st)->schema_version;
}

/* ------------------------------------------------------------------ */
/* transactions                                                        */
/* ------------------------------------------------------------------ */

/* Transaction control statements: no parameters, no rows. */
static enum pv_rc tx_exec(struct store_tx *tx, enum store_sqlite_stmt id, const char *op)
{
	return store_sqlite_exec(tx, id, op, SQP_NONE, NULL);
}

/* Take a connection (bounded wait: PV_E_UNAVAILABLE), open the transaction.
 * Fault names: tx_begin (WR), tx_begin_rd (RD). */
static enum pv_rc sq_begin(struct store *st, enum store_mode mode, struct store_tx **out)
{
	struct store_sqlite *s = sq(st);
	struct store_sqlite_conn *c;
	enum pv_rc rc;
	bool wr = mode == STORE_WR;

	if ((rc = conn_acquire(s, &c)) != PV_OK)
		return rc;
	c->held = true;
	c->tx = (struct store_tx){ .st = st, .mode = mode, .open = true };
	rc = tx_exec(&c->tx, wr ? SQ_BEGIN : SQ_BEGIN_RD, wr ? "tx_begin" : "tx_begin_rd");
	if (rc != PV_OK) {
		conn_release(s, c);
		return rc;
	}
	*out = &c->tx;
	return PV_OK;
}

/* COMMIT (fault names tx_commit, tx_commit_rd). The handle is closed to
 * ops either way; a failed COMMIT leaves SQLite's transaction open for
 * store_end to roll back. */
static enum pv_rc sq_commit(struct store_tx *tx)
{
	enum pv_rc rc = tx_exec(tx, SQ_COMMIT, tx->mode == STORE_WR ? "tx_commit" : "tx_commit_rd");

	tx->open = false;
	return rc;
}

static void sq_end(struct store_tx *tx)
{
	struct store_sqlite_conn *c = store_sqlite_tx_conn(tx);

	if (!c->held) {   /* ended twice: the connection is already back */
		log_error("store: transaction ended twice");
		return;
	}
	/* SQLite may already have rolled back after an I/O or OOM error */
	if (!sqlite3_get_autocommit(c->db))
		(void)tx_exec(tx, SQ_ROLLBACK, "tx_rollback");
	conn_release(c->owner, c);
}

static enum pv_rc sq_savepoint(struct store_tx *tx)
{
	return tx_exec(tx, SQ_SAVEPOINT, "tx_savepoint");
}

static enum pv_rc sq_release(struct store_tx *tx)
{
	return tx_exec(tx, SQ_RELEASE, "tx_release");
}

static void sq_rollback_savepoint(struct store_tx *tx)
{
	struct store_sqlite_conn *c = store_sqlite_tx_conn(tx);

	/* ROLLBACK TO keeps the savepoint on the stack; RELEASE pops it so a
	 * group of transactions does not grow the stack by one per failed one.
	 * Nothing to do if SQLite already rolled the whole transaction back. */
	if (!sqlite3_get_autocommit(c->db) &&
	    tx_exec(tx, SQ_ROLLBACK_TO, "tx_rollback_savepoint") == PV_OK)
		(void)tx_exec(tx, SQ_RELEASE, "tx_rollback_savepoint");
}

/* ------------------------------------------------------------------ */
/* meta                                                                */
/* ------------------------------------------------------------------ */

/* Where meta_get's value goes (one malloc'd buffer and its length). */
struct meta_out {
	uint8_t **val;
	size_t *len;
};

static enum pv_rc meta_from_row(struct store_row *s, void *out)
{
	struct meta_out *m = out;

	return store_sqlite_col_blob(s, 0, STORE_SQLITE_BLOB_BUF, m->val, m->len);
}

enum pv_rc store_sqlite_meta_get(struct store_tx *tx, const char *key, uint8_t **val, size_t *len)
{
	struct meta_out m = { val, len };

	return store_sqlite_get(tx, SQ_META_GET, "meta_get", SQP_LIST(SQP_TEXT(key)),
	    meta_from_row, &m);
}

enum pv_rc store_sqlite_meta_put(struct store_tx *tx, const char *key, const uint8_t *val, size_t len)
{
	return store_sqlite_exec(tx, SQ_META_PUT, "meta_put",
	    SQP_LIST(SQP_TEXT(key), SQP_BLOB(val, len)), NULL);
}

/* ------------------------------------------------------------------ */
/* key-encryption keys                                                 */
/* ------------------------------------------------------------------ */

/* Row of KEK_COLS -> *out (all or nothing). A row that does not fit the
 * struct (name too long, version out of range, unknown state) is damage. */
static enum pv_rc kek_from_row(struct store_row *s, void *out)
{
	struct store_kek k;
	const char *name = store_sqlite_col_text(s, 0);
	int64_t version = store_row_int64(s, 1);
	int64_t state = store_row_int64(s, 2);
	enum pv_rc rc;

	memset(&k, 0, sizeof(k));
	if (strlen(name) >= sizeof(k.name) || version < 0 || version > UINT32_MAX ||
	    state < STORE_KEK_ACTIVE || state > STORE_KEK_DISABLED) {
		log_error("store: kek row out of range");
		return PV_E_INTEGRITY;
	}
	util_strlcpy(k.name, name, sizeof(k.name));
	k.version = (uint32_t)version;
	k.state = (enum store_kek_state)state;
	k.created_ms = store_row_int64(s, 3);
	{
		const char *prov = store_sqlite_col_text(s, 5), *outer = store_sqlite_col_text(s, 6);

		if (strlen(prov) >= sizeof(k.provider) || strlen(outer) >= sizeof(k.outer)) {
			log_error("store: kek row out of range");
			return PV_E_INTEGRITY;
		}
		util_strlcpy(k.provider, prov[0] != '\0' ? prov : "soft", sizeof(k.provider));
		util_strlcpy(k.outer, outer, sizeof(k.outer));
	}
	rc = store_sqlite_col_blob(s, 4, STORE_SQLITE_BLOB_BUF, &k.wrapped, &k.wrapped_len);
	if (rc != PV_OK)
		return rc;
	*(struct store_kek *)out = k;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(kek_row, struct store_kek, kek_from_row, store_kek_clear, store_kek_cb)

static enum pv_rc sq_kek_put(struct store_tx *tx, const struct store_kek *k)
{
	return store_sqlite_exec(tx, SQ_KEK_PUT, "kek_put",
	    SQP_LIST(SQP_TEXT(k->name), SQP_INT(k->version), SQP_INT(k->state),
		SQP_INT(k->created_ms), SQP_BLOB(k->wrapped, k->wrapped_len),
		SQP_TEXT(k->provider[0] != '\0' ? k->provider : "soft"), SQP_TEXT(k->outer)), NULL);
}

static enum pv_rc sq_kek_get(struct store_tx *tx, const char *name, uint32_t version,
    struct store_kek *out)
{
	return store_sqlite_get(tx, SQ_KEK_GET, "kek_get",
	    SQP_LIST(SQP_TEXT(name), SQP_INT(version)), kek_from_row, out);
}

static enum pv_rc sq_kek_latest(struct store_tx *tx, const char *name, struct store_kek *out)
{
	return store_sqlite_get(tx, SQ_KEK_LATEST, "kek_latest", SQP_LIST(SQP_TEXT(name)),
	    kek_from_row, out);
}

static enum pv_rc sq_kek_set_state(struct store_tx *tx, const char *name, uint32_t version,
    enum store_kek_state state)
{
	return store_sqlite_exec_one(tx, SQ_KEK_SET_STATE, "kek_set_state",
	    SQP_LIST(SQP_TEXT(name), SQP_INT(version), SQP_INT(state)));
}

static enum pv_rc sq_kek_scan(struct store_tx *tx, store_kek_cb cb, void *arg)
{
	struct kek_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_KEK_SCAN, "kek_scan", SQP_NONE, kek_row, &x);
}

static enum pv_rc census_from_row(struct store_row *s, void *out)
{
	*(int64_t *)out = store_row_int64(s, 0);
	return PV_OK;
}

static enum pv_rc sq_kek_census(struct store_tx *tx, const char *name, uint32_t version,
    int64_t *objects)
{
	int64_t n = 0;
	enum pv_rc rc = store_sqlite_get(tx, SQ_KEK_CENSUS, "kek_census",
	    SQP_LIST(SQP_TEXT(name), SQP_INT(version)), census_from_row, &n);

	if (rc == PV_E_NOTFOUND)
		rc = PV_OK, n = 0;
	if (rc == PV_OK)
		*objects = n;
	return rc;
}

static enum pv_rc sq_kek_destroy(struct store_tx *tx, const char *name, uint32_t version)
{
	return store_sqlite_exec_one(tx, SQ_KEK_DESTROY, "kek_destroy",
	    SQP_LIST(SQP_TEXT(name), SQP_INT(version)));
}

/* ------------------------------------------------------------------ */
/* audit trail                                                         */
/* ------------------------------------------------------------------ */

static enum pv_rc sq_audit_append(struct store_tx *tx, const struct store_audit_row *row)
{
	return store_sqlite_exec(tx, SQ_AUDIT_APPEND, "audit_append",
	    SQP_LIST(SQP_INT(row->seq), SQP_TEXT(row->time), SQP_TEXT(row->actor),
		SQP_TEXT(row->action), SQP_TEXT(row->resource), SQP_TEXT(row->purpose_of_use),
		SQP_TEXT(row->outcome), SQP_TEXT(row->reason), SQP_TEXT(row->detail),
		SQP_TEXT(row->prev_hash), SQP_TEXT(row->hash)), NULL);
}

struct audit_head_out {
	int64_t *seq;
	char *hash;   /* [65] */
};

static enum pv_rc audit_head_from_row(struct store_row *s, void *out)
{
	struct audit_head_out *h = out;
	const char *hash = store_sqlite_col_text(s, 1);

	if (strlen(hash) != 64) {
		log_error("store: audit head hash malformed");
		return PV_E_INTEGRITY;
	}
	*h->seq = store_row_int64(s, 0);
	memcpy(h->hash, hash, 65);
	return PV_OK;
}

static enum pv_rc sq_audit_head(struct store_tx *tx, int64_t *seq, char hash[65])
{
	struct audit_head_out h = { seq, hash };
	enum pv_rc rc = store_sqlite_get(tx, SQ_AUDIT_HEAD, "audit_head", SQP_NONE,
	    audit_head_from_row, &h);

	if (rc == PV_E_NOTFOUND) {   /* empty trail: the genesis head */
		*seq = 0;
		memset(hash, '0', 64);
		hash[64] = '\0';
		rc = PV_OK;
	}
	return rc;
}

/* Audit and checkpoint rows are handed out as views into the statement
 * (valid during the callback only): nothing to free afterwards. */
static void view_done(const void *row)
{
	(void)row;
}

static enum pv_rc audit_from_row(struct store_row *s, void *out)
{
	*(struct store_audit_row *)out = (struct store_audit_row){
		.seq = store_row_int64(s, 0),
		.time = store_sqlite_col_text(s, 1),
		.actor = store_sqlite_col_text(s, 2),
		.action = store_sqlite_col_text(s, 3),
		.resource = store_sqlite_col_text(s, 4),
		.purpose_of_use = store_sqlite_col_text(s, 5),
		.outcome = store_sqlite_col_text(s, 6),
		.reason = store_sqlite_col_text(s, 7),
		.detail = store_sqlite_col_text(s, 8),
		.prev_hash = store_sqlite_col_text(s, 9),
		.hash = store_sqlite_col_text(s, 10),
	};
	struct store_audit_row *r = out;

	/* after every column_text call, which fixes each column's text form */
	r->has_len = true;
	for (int i = 0; i < STORE_AUDIT_TEXT_COLS; i++)
		r->len[i] = (size_t)store_row_bytes(s, i + 1);
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(audit_row, struct store_audit_row, audit_from_row, view_done,
    store_audit_cb)

static enum pv_rc sq_audit_scan(struct store_tx *tx, const struct store_audit_filter *f,
    store_audit_cb cb, void *arg)
{
	enum store_sqlite_stmt id = f->action != NULL ? SQ_AUDIT_SCAN_ACTION : SQ_AUDIT_SCAN;
	int64_t limit = f->limit == 0 || f->limit > INT64_MAX ? -1 : (int64_t)f->limit;
	struct audit_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, id, "audit_scan",
	    SQP_LIST(SQP_INT(f->since_seq), SQP_TEXT(f->actor_user_id), SQP_TEXT(f->action),
		SQP_INT(limit)), audit_row, &x);
}

static enum pv_rc sq_audit_subject_put(struct store_tx *tx, int64_t seq, const char *ref)
{
	return store_sqlite_exec(tx, SQ_AUDIT_SUBJECT_PUT, "audit_subject_put",
	    SQP_LIST(SQP_TEXT(ref), SQP_INT(seq)), NULL);
}

static enum pv_rc sq_audit_subject_scan(struct store_tx *tx,
    const struct store_audit_subject_filter *f, store_audit_cb cb, void *arg)
{
	int64_t limit = f->limit == 0 || f->limit > INT64_MAX ? -1 : (int64_t)f->limit;
	struct audit_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_AUDIT_SUBJECT_SCAN, "audit_subject_scan",
	    SQP_LIST(SQP_TEXT(f->subject_ref), SQP_INT(f->since_seq),
		SQP_TEXT(f->time_from != NULL ? f->time_from : ""),
		SQP_TEXT(f->time_to != NULL ? f->time_to : "~"), SQP_INT(limit)), audit_row, &x);
}

static enum pv_rc sq_checkpoint_put(struct store_tx *tx, const struct store_checkpoint *cp)
{
	return store_sqlite_exec(tx, SQ_CHECKPOINT_PUT, "checkpoint_put",
	    SQP_LIST(SQP_INT(cp->seq), SQP_TEXT(cp->hash), SQP_TEXT(cp->time),
		SQP_TEXT(cp->signature), SQP_TEXT(cp->key_id)), NULL);
}

static enum pv_rc checkpoint_from_row(struct store_row *s, void *out)
{
	*(struct store_checkpoint *)out = (struct store_checkpoint){
		.seq = store_row_int64(s, 0),
		.hash = store_sqlite_col_text(s, 1),
		.time = store_sqlite_col_text(s, 2),
		.signature = store_sqlite_col_text(s, 3),
		.key_id = store_sqlite_col_text(s, 4),
	};
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(checkpoint_row, struct store_checkpoint, checkpoint_from_row, view_done,
    store_checkpoint_cb)

static enum pv_rc sq_checkpoint_scan(struct store_tx *tx, store_checkpoint_cb cb, void *arg)
{
	struct checkpoint_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_CHECKPOINT_SCAN, "checkpoint_scan", SQP_NONE,
	    checkpoint_row, &x);
}

static enum pv_rc int64_from_row(struct store_row *s, void *out)
{
	*(int64_t *)out = store_row_int64(s, 0);
	return PV_OK;
}

static enum pv_rc sq_checkpoint_count(struct store_tx *tx, int64_t *n)
{
	enum pv_rc rc = store_sqlite_get(tx, SQ_CHECKPOINT_COUNT, "checkpoint_count", SQP_NONE,
	    int64_from_row, n);

	/* count(*) always answers one row: none is a broken database */
	return rc == PV_E_NOTFOUND ? store_sqlite_rc(SQLITE_DONE, "checkpoint_count") : rc;
}

/* ---- identity ---- */
/* identity:begin (added by the identity work) */
/* identity:end */

/* ---- vault ---- */
/* vault:begin (added by the records work) */

/* Records and tokens are envelopes: KEK name and version, wrapped DEK and
 * ciphertext, in that order both in their tables and in their structs. */

/* Bind an envelope as four consecutive parameters. */
#define SQP_ENVELOPE(x) SQP_TEXT((x)->kek_name), SQP_INT((x)->kek_version), \
	SQP_BLOB((x)->wrapped_dek, (x)->wrapped_dek_len), \
	SQP_BLOB((x)->ciphertext, (x)->ciphertext_len)

/* Copy the wrapped DEK (column col) and ciphertext (col + 1) out: both or
 * neither (a half copy is wiped). */
static enum pv_rc envelope_from_row(struct store_row *s, int col, enum store_sqlite_blob how,
    uint8_t **dek, size_t *dek_len, uint8_t **ct, size_t *ct_len)
{
	enum pv_rc rc;

	if ((rc = store_sqlite_col_blob(s, col, how, dek, dek_len)) != PV_OK)
		return rc;
	if ((rc = store_sqlite_col_blob(s, col + 1, how, ct, ct_len)) != PV_OK &&
	    *dek != NULL) {
		explicit_bzero(*dek, *dek_len);
		free(*dek);
	}
	return rc;
}

static enum pv_rc coll_from_row(struct store_row *s, void *out)
{
	struct store_collection c;
	int64_t days = store_row_int64(s, 3);
	enum pv_rc rc;

	memset(&c, 0, sizeof(c));
	if (!store_sqlite_col_copy(s, 0, c.name, sizeof(c.name)) ||
	    !store_sqlite_col_copy(s, 2, c.region, sizeof(c.region)) ||
	    !store_sqlite_col_copy(s, 5, c.kek_name, sizeof(c.kek_name)) ||
	    days < 0 || days > INT32_MAX) {
		log_error("store: collection row out of range");
		return PV_E_INTEGRITY;
	}
	c.retention_days = (int)days;
	c.created_ms = store_row_int64(s, 4);
	if ((rc = store_sqlite_col_strdup(s, 1, &c.schema)) != PV_OK)
		return rc;
	*(struct store_collection *)out = c;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(coll_row, struct store_collection, coll_from_row,
    store_collection_clear, store_collection_cb)

static enum pv_rc sq_collection_put(struct store_tx *tx, const struct store_collection *cl)
{
	return store_sqlite_exec(tx, SQ_COLLECTION_PUT, "collection_put",
	    SQP_LIST(SQP_TEXT(cl->name), SQP_TEXT(cl->schema), SQP_TEXT(cl->region),
		SQP_INT(cl->retention_days), SQP_INT(cl->created_ms), SQP_TEXT(cl->kek_name)),
	    NULL);
}

static enum pv_rc sq_collection_get(struct store_tx *tx, const char *name,
    struct store_collection *out)
{
	return store_sqlite_get(tx, SQ_COLLECTION_GET, "collection_get",
	    SQP_LIST(SQP_TEXT(name)), coll_from_row, out);
}

static enum pv_rc sq_collection_list(struct store_tx *tx, store_collection_cb cb, void *arg)
{
	struct coll_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_COLLECTION_LIST, "collection_list", SQP_NONE, coll_row,
	    &x);
}

static enum pv_rc rec_from_row(struct store_row *s, void *out)
{
	struct store_record r;
	int64_t version = store_row_int64(s, 2);
	int64_t kv = store_row_int64(s, 4);
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	if (!store_sqlite_col_copy(s, 0, r.id, sizeof(r.id)) ||
	    !store_sqlite_col_copy(s, 1, r.collection, sizeof(r.collection)) ||
	    !store_sqlite_col_copy(s, 3, r.kek_name, sizeof(r.kek_name)) ||
	    version < 1 || version > UINT32_MAX || kv < 0 || kv > UINT32_MAX) {
		log_error("store: record row out of range");
		return PV_E_INTEGRITY;
	}
	r.version = (uint32_t)version;
	r.kek_version = (uint32_t)kv;
	r.created_ms = store_row_int64(s, 7);
	r.updated_ms = store_row_int64(s, 8);
	r.deleted_ms = store_row_int64(s, 9);   /* NULL reads as 0: live */
	/* NULL (shredded) stays NULL */
	if ((rc = envelope_from_row(s, 5, STORE_SQLITE_BLOB_NULLABLE, &r.wrapped_dek,
	    &r.wrapped_dek_len, &r.ciphertext, &r.ciphertext_len)) != PV_OK)
		return rc;
	*(struct store_record *)out = r;
	return PV_OK;
}

/* The key row of a record (record_keys, migration 31): its KEK and wrapped DEK. */
static enum pv_rc key_set(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_record *r)
{
	return store_sqlite_exec(tx, id, op, SQP_LIST(SQP_TEXT(r->id), SQP_TEXT(r->kek_name),
	    SQP_INT(r->kek_version), SQP_BLOB(r->wrapped_dek, r->wrapped_dek_len)), NULL);
}

static enum pv_rc sq_record_put(struct store_tx *tx, const struct store_record *r)
{
	enum pv_rc rc = store_sqlite_exec(tx, SQ_RECORD_PUT, "record_put",
	    SQP_LIST(SQP_TEXT(r->id), SQP_TEXT(r->collection), SQP_INT(r->version),
		SQP_BLOB(r->ciphertext, r->ciphertext_len), SQP_INT(r->created_ms),
		SQP_INT(r->updated_ms ? r->updated_ms : r->created_ms)), NULL);

	return rc == PV_OK ? key_set(tx, SQ_RECORD_KEY_PUT, "record_put/key", r) : rc;
}

static enum pv_rc sq_record_get(struct store_tx *tx, const char *collection, const char *id,
    struct store_record *out)
{
	return store_sqlite_get(tx, SQ_RECORD_GET, "record_get",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(id)), rec_from_row, out);
}

static enum pv_rc sq_record_update(struct store_tx *tx, const struct store_record *r,
    uint32_t expected_version)
{
	struct store_record cur;
	enum pv_rc rc;
	int changed = 0;

	rc = store_sqlite_exec(tx, SQ_RECORD_UPDATE, "record_update",
	    SQP_LIST(SQP_TEXT(r->collection), SQP_TEXT(r->id), SQP_INT(r->version),
		SQP_BLOB(r->ciphertext, r->ciphertext_len), SQP_INT(r->updated_ms),
		SQP_INT(expected_version)), &changed);
	if (rc != PV_OK)
		return rc;
	if (changed > 0)
		return key_set(tx, SQ_RECORD_KEY_SET, "record_update/key", r);
	/* Nothing matched: missing/shredded (not found) or another version. */
	memset(&cur, 0, sizeof(cur));
	rc = store_sqlite_get(tx, SQ_RECORD_GET, "record_update/get",
	    SQP_LIST(SQP_TEXT(r->collection), SQP_TEXT(r->id)), rec_from_row, &cur);
	if (rc == PV_OK)
		rc = cur.deleted_ms != 0 ? PV_E_NOTFOUND : PV_E_CONFLICT;
	store_record_clear(&cur);
	return rc;
}

static enum pv_rc sq_record_rewrap(struct store_tx *tx, const struct store_record *r,
    uint32_t old_kek_version)
{
	int changed = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_RECORD_REWRAP, "record_rewrap",
	    SQP_LIST(SQP_TEXT(r->collection), SQP_TEXT(r->id), SQP_TEXT(r->kek_name),
		SQP_INT(r->kek_version), SQP_BLOB(r->wrapped_dek, r->wrapped_dek_len),
		SQP_INT(r->version), SQP_INT(old_kek_version)), &changed);

	if (rc == PV_OK && changed == 0)
		rc = PV_E_CONFLICT;
	/* full mode: the new DEK's ciphertext too (the record row is live at
	 * r->version: the key row's condition said so) */
	if (rc == PV_OK && r->ciphertext != NULL)
		rc = store_sqlite_exec(tx, SQ_RECORD_RECIPHER, "record_rewrap/ciphertext",
		    SQP_LIST(SQP_TEXT(r->collection), SQP_TEXT(r->id),
			SQP_BLOB(r->ciphertext, r->ciphertext_len)), NULL);
	return rc;
}

static enum pv_rc sq_bidx_delete(struct store_tx *tx, const char *collection,
    const char *record_id, const char *field)
{
	return store_sqlite_exec(tx, SQ_BIDX_DELETE, "bidx_delete",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(record_id), SQP_TEXT(field)), NULL);
}

static enum pv_rc sq_record_shred(struct store_tx *tx, const char *collection, const char *id,
    int64_t deleted_ms)
{
	enum pv_rc rc = store_sqlite_exec_one(tx, SQ_RECORD_SHRED, "record_shred",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(id), SQP_INT(deleted_ms)));

	if (rc == PV_OK)
		rc = store_sqlite_exec(tx, SQ_RECORD_KEY_SHRED, "record_shred/key",
		    SQP_LIST(SQP_TEXT(id)), NULL);
	if (rc != PV_OK)
		return rc;
	/* The index entries go with the DEK: a shredded record is not findable.
	 * Callers run this inside one transaction (the audit writer's job). */
	return store_sqlite_exec(tx, SQ_BIDX_DELETE, "record_shred/bidx",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(id), SQP_NULL()), NULL);
}

static enum pv_rc sq_bidx_put(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], const char *record_id, uint32_t mac_version)
{
	return store_sqlite_exec(tx, SQ_BIDX_PUT, "bidx_put",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(field), SQP_BLOB(mac, STORE_MAC_LEN),
		SQP_TEXT(record_id), SQP_INT(mac_version)), NULL);
}

static enum pv_rc sq_bidx_delete_below(struct store_tx *tx, const char *collection,
    const char *record_id, uint32_t below, int64_t *deleted)
{
	int changed = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_BIDX_DELETE_BELOW, "bidx_delete_below",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(record_id), SQP_INT(below)), &changed);

	if (rc == PV_OK)
		*deleted = changed;
	return rc;
}

static enum pv_rc sq_bidx_count_below(struct store_tx *tx, const char *collection,
    const char *record_id, uint32_t below, int64_t *n)
{
	int64_t c = 0;
	enum pv_rc rc = store_sqlite_get(tx, SQ_BIDX_COUNT_BELOW, "bidx_count_below",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(record_id), SQP_INT(below)), census_from_row,
	    &c);

	if (rc == PV_E_NOTFOUND)
		rc = PV_OK, c = 0;
	if (rc == PV_OK)
		*n = c;
	return rc;
}

static enum pv_rc sq_bidx_lookup(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], size_t limit, store_bidx_cb cb, void *arg)
{
	int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
	struct store_sqlite_name_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_BIDX_LOOKUP, "bidx_lookup",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(field), SQP_BLOB(mac, STORE_MAC_LEN),
		SQP_INT(lim)), store_sqlite_name_row, &x);
}

static enum pv_rc sq_record_scan(struct store_tx *tx, const char *collection,
    const char *after_id, size_t limit, store_bidx_cb cb, void *arg)
{
	int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
	struct store_sqlite_name_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_RECORD_SCAN, "record_scan",
	    SQP_LIST(SQP_TEXT(collection), SQP_TEXT(after_id), SQP_INT(lim)),
	    store_sqlite_name_row, &x);
}

static enum pv_rc tok_from_row(struct store_row *s, void *out)
{
	struct store_token t;
	int64_t kv = store_row_int64(s, 6);
	const void *mac = store_row_blob(s, 4);
	int maclen = store_row_bytes(s, 4);
	enum pv_rc rc;

	memset(&t, 0, sizeof(t));
	if (!store_sqlite_col_copy(s, 0, t.token, sizeof(t.token)) ||
	    !store_sqlite_col_copy(s, 1, t.collection, sizeof(t.collection)) ||
	    !store_sqlite_col_copy(s, 2, t.field, sizeof(t.field)) ||
	    !store_sqlite_col_copy(s, 5, t.kek_name, sizeof(t.kek_name)) ||
	    kv < 1 || kv > UINT32_MAX || (mac != NULL && maclen != STORE_MAC_LEN)) {
		log_error("store: token row out of range");
		return PV_E_INTEGRITY;
	}
	t.deterministic = store_row_int64(s, 3) != 0;
	if (mac != NULL)
		memcpy(t.mac, mac, STORE_MAC_LEN);
	t.kek_version = (uint32_t)kv;
	t.created_ms = store_row_int64(s, 9);
	if (!store_row_is_null(s, 11) &&
	    !store_sqlite_col_copy(s, 11, t.subject_ref, sizeof(t.subject_ref))) {
		log_error("store: token row out of range");
		return PV_E_INTEGRITY;
	}
	t.mac_version = store_row_int64(s, 10) >= 1 && store_row_int64(s, 10) <= UINT32_MAX ?
	    (uint32_t)store_row_int64(s, 10) : 1;
	if ((rc = envelope_from_row(s, 7, STORE_SQLITE_BLOB_BUF, &t.wrapped_dek,
	    &t.wrapped_dek_len, &t.ciphertext, &t.ciphertext_len)) != PV_OK)
		return rc;
	*(struct store_token *)out = t;
	return PV_OK;
}

static enum pv_rc sq_token_put(struct store_tx *tx, const struct store_token *t)
{
	return store_sqlite_exec(tx, SQ_TOKEN_PUT, "token_put",
	    SQP_LIST(SQP_TEXT(t->token), SQP_TEXT(t->collection), SQP_TEXT(t->field),
		SQP_INT(t->deterministic ? 1 : 0),
		t->deterministic ? SQP_BLOB(t->mac, STORE_MAC_LEN) : SQP_NULL(),
		SQP_ENVELOPE(t), SQP_INT(t->created_ms),
		SQP_INT(t->mac_version > 0 ? t->mac_version : 1), SQP_TEXT(t->subject_ref)), NULL);
}

static enum pv_rc sq_token_set_subject(struct store_tx *tx, const char *token, const char *ref)
{
	enum pv_rc rc = store_sqlite_exec_one(tx, SQ_TOKEN_SET_SUBJECT, "token_set_subject",
	    SQP_LIST(SQP_TEXT(token), SQP_TEXT(ref)));

	return rc == PV_E_NOTFOUND ? PV_E_CONFLICT : rc;
}

struct token_tomb {
	char collection[STORE_NAME_MAX];
	int64_t ms;
};

static enum pv_rc token_tomb_row(struct store_row *s, void *out)
{
	struct token_tomb *t = out;

	if (!store_sqlite_col_copy(s, 0, t->collection, sizeof(t->collection)))
		return PV_E_INTEGRITY;
	t->ms = store_row_int64(s, 1);
	return PV_OK;
}

static enum pv_rc sq_token_tombstone_get(struct store_tx *tx, const char *token,
    char collection[STORE_NAME_MAX], int64_t *shredded_ms)
{
	struct token_tomb t;
	enum pv_rc rc;

	memset(&t, 0, sizeof(t));
	rc = store_sqlite_get(tx, SQ_TOKEN_TOMBSTONE_GET, "token_tombstone_get",
	    SQP_LIST(SQP_TEXT(token)), token_tomb_row, &t);
	if (rc == PV_OK) {
		memcpy(collection, t.collection, STORE_NAME_MAX);
		*shredded_ms = t.ms;
	}
	return rc;
}

STORE_SQLITE_EACH_ROW(tok_row, struct store_token, tok_from_row, store_token_clear,
    store_token_cb)

static enum pv_rc sq_token_scan(struct store_tx *tx, const char *after, size_t limit,
    store_token_cb cb, void *arg)
{
	int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
	struct tok_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_TOKEN_SCAN, "token_scan",
	    SQP_LIST(SQP_TEXT(after), SQP_INT(lim)), tok_row, &x);
}

static enum pv_rc sq_token_rewrap(struct store_tx *tx, const struct store_token *t,
    uint32_t old_kek_version, uint32_t old_mac_version)
{
	int changed = 0;
	enum pv_rc rc = store_sqlite_exec(tx, SQ_TOKEN_REWRAP, "token_rewrap",
	    SQP_LIST(SQP_TEXT(t->token), SQP_TEXT(t->kek_name), SQP_INT(t->kek_version),
		SQP_BLOB(t->wrapped_dek, t->wrapped_dek_len),
		SQP_BLOB_OR_NULL(t->ciphertext, t->ciphertext_len),
		t->deterministic ? SQP_BLOB(t->mac, STORE_MAC_LEN) : SQP_NULL(),
		SQP_INT(t->mac_version > 0 ? t->mac_version : 1), SQP_INT(old_kek_version),
		SQP_INT(old_mac_version > 0 ? old_mac_version : 1)), &changed);

	if (rc == PV_OK && changed == 0)
		rc = PV_E_CONFLICT;
	return rc;
}

static enum pv_rc sq_token_get(struct store_tx *tx, const char *token, struct store_token *out)
{
	return store_sqlite_get(tx, SQ_TOKEN_GET, "token_get", SQP_LIST(SQP_TEXT(token)),
	    tok_from_row, out);
}

static enum pv_rc sq_token_get_by_mac(struct store_tx *tx, const uint8_t mac[STORE_MAC_LEN],
    struct store_token *out)
{
	return store_sqlite_get(tx, SQ_TOKEN_GET_BY_MAC, "token_get_by_mac",
	    SQP_LIST(SQP_BLOB(mac, STORE_MAC_LEN)), tok_from_row, out);
}
/* vault:end */

/* ------------------------------------------------------------------ */
/* ops table, open                                                     */
/* ------------------------------------------------------------------ */

/* The SQLite store is the data directory's own file: nothing to move. */
static enum pv_rc sq_import_datadir(struct store *st, const char *datadir, bool *moved)
{
	(void)st;
	(void)datadir;
	*moved = false;
	return PV_OK;
}

static const struct store_core_ops sq_core_ops = {
	.import_datadir = sq_import_datadir,
	.pool_set = sq_pool_set,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.begin = sq_begin,
	.commit = sq_commit,
	.end = sq_end,
	.savepoint = sq_savepoint,
	.release = sq_release,
	.rollback_savepoint = sq_rollback_savepoint,
	.meta_get = store_sqlite_meta_get,
	.meta_put = store_sqlite_meta_put,
};

const struct store_vault_ops store_sqlite_vault_ops = {
	/* vault:begin (added by the records work) */
	.collection_put = sq_collection_put,
	.collection_get = sq_collection_get,
	.collection_list = sq_collection_list,
	.record_put = sq_record_put,
	.record_get = sq_record_get,
	.record_update = sq_record_update,
	.record_shred = sq_record_shred,
	.bidx_put = sq_bidx_put,
	.bidx_delete = sq_bidx_delete,
	.bidx_lookup = sq_bidx_lookup,
	.bidx_delete_below = sq_bidx_delete_below,
	.bidx_count_below = sq_bidx_count_below,
	.token_set_subject = sq_token_set_subject,
	.token_tombstone_get = sq_token_tombstone_get,
	.record_scan = sq_record_scan,
	.record_rewrap = sq_record_rewrap,
	.token_put = sq_token_put,
	.token_get = sq_token_get,
	.token_get_by_mac = sq_token_get_by_mac,
	.token_scan = sq_token_scan,
	.token_rewrap = sq_token_rewrap,
	/* vault:end */
};

const struct store_keys_ops store_sqlite_keys_ops = {
	.kek_put = sq_kek_put,
	.kek_get = sq_kek_get,
	.kek_latest = sq_kek_latest,
	.kek_set_state = sq_kek_set_state,
	.kek_scan = sq_kek_scan,
	.kek_census = sq_kek_census,
	.kek_destroy = sq_kek_destroy,
};

const struct store_audit_ops store_sqlite_audit_ops = {
	.audit_append = sq_audit_append,
	.audit_head = sq_audit_head,
	.audit_scan = sq_audit_scan,
	.audit_subject_put = sq_audit_subject_put,
	.audit_subject_scan = sq_audit_subject_scan,
	.checkpoint_put = sq_checkpoint_put,
	.checkpoint_scan = sq_checkpoint_scan,
	.checkpoint_count = sq_checkpoint_count,
};

/* Identity and jobs are implemented in sqlite_identity.c and sqlite_jobs.c,
 * each with its own sub-table. */
static const struct store_ops sq_ops = {
	.core = &sq_core_ops,
	.identity = &store_sqlite_identity_ops,
	.vault = &store_sqlite_vault_ops,
	.keys = &store_sqlite_keys_ops,
	.audit = &store_sqlite_audit_ops,
	.jobs = &store_sqlite_jobs_ops,
	.sinks = &store_sqlite_sinks_ops,
	.detect = &store_sqlite_detect_ops,
	.policy = &store_sqlite_policy_ops,
	.apps = &store_sqlite_apps_ops,
	.backup = &store_sqlite_backup_ops,
	.subjects = &store_sqlite_subjects_ops,
	.secrets = &store_sqlite_secrets_ops,
	.approvals = &store_sqlite_approvals_ops,
	.webauthn = &store_sqlite_webauthn_ops,
	.elevations = &store_sqlite_elevations_ops,
	.cluster = &store_sqlite_cluster_ops,
	.oidc = &store_sqlite_oidc_ops,
	.breakglass = &store_sqlite_breakglass_ops,
	.exports = &store_sqlite_exports_ops,
	.campaigns = &store_sqlite_campaigns_ops,
};

size_t store_sqlite_default_max_conns(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > 256)
		n = 256;
	return (size_t)(2 * n + 2);
}

/* Create the file 0600 if missing, and tighten it to 0600 if an older or
 * hand-made file is readable by others. O_NOFOLLOW: never through a symlink. */
static enum pv_rc file_prepare(const char *path)
{
	struct stat sb;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	enum pv_rc rc = PV_OK;

	if (fd < 0) {
		int e = errno;

		log_error("store: cannot open database file: errno %d", e);
		return e == ENOENT ? PV_E_NOTFOUND : PV_E_IO;   /* no data dir */
	}
	if (fstat(fd, &sb) != 0) {
		log_error("store: stat database file: errno %d", errno);
		rc = PV_E_IO;
	} else if (!S_ISREG(sb.st_mode)) {
		log_error("store: database path is not a regular file");
		rc = PV_E_CONFIG;
	} else if ((sb.st_mode & 0777) != 0600) {
		log_warn("store: database file mode %03o tightened to 0600",
		    (unsigned)(sb.st_mode & 0777));
		if (fchmod(fd, 0600) != 0) {
			log_error("store: chmod database file: errno %d", errno);
			rc = PV_E_IO;
		}
	}
	close(fd);
	return rc;
}

/* journal_mode=WAL is stored in the file; the pragma answers the mode in
 * force, which must be "wal" (readers never block the writer). */
static enum pv_rc set_wal(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	enum pv_rc rc = PV_OK;
	int src = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);

	if (src == SQLITE_OK)
		src = sqlite3_step(s);
	if (src != SQLITE_ROW) {
		rc = store_sqlite_rc(src, "journal_mode");
	} else if (strcasecmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
		log_error("store: journal_mode WAL refused by the filesystem");
		rc = PV_E_IO;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Process-wide, before SQLite initializes (the first open): no memory
 * statistics. Nothing reads them (sqlite3_status, sqlite3_memory_used, a
 * soft heap limit), and keeping them takes a process-wide mutex around
 * every sqlite3_malloc and sqlite3_free of every connection: a dozen a
 * statement, on the request threads and the committer alike. If SQLite was
 * initialized already (a caller used it first), it answers SQLITE_MISUSE
 * and keeps its default: nothing else differs. */
static pthread_once_t sq_config_once = PTHREAD_ONCE_INIT;

static void sq_config(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

enum pv_rc store_sqlite_open(const char *datadir, bool read_only, struct store **out)
{
	struct store_sqlite *s;
	struct store_sqlite_conn *c;
	struct stat sb;
	enum pv_rc rc;

	pthread_once(&sq_config_once, sq_config);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return PV_E_NOMEM;
	s->base.ops = &sq_ops;
	s->base.sql = &sq_runner;
	s->read_only = read_only;
	if (store_pool_init(&s->pool, &sq_pool_ops, s, store_sqlite_default_max_conns(),
	    STORE_SQLITE_POOL_WAIT_MS) != PV_OK) {
		free(s);
		return PV_E_NOMEM;
	}
	/* from here sq_close releases everything */
	if (util_path_join(s->path, sizeof(s->path), datadir, STORE_SQLITE_FILE) != 0) {
		rc = PV_E_INVALID;
		goto fail;
	}
	if (read_only) {
		if (stat(s->path, &sb) != 0) {
			int e = errno;

			rc = e == ENOENT ? PV_E_NOTFOUND : PV_E_IO;
			if (rc == PV_E_IO)
				log_error("store: stat database file: errno %d", e);
			goto fail;
		}
	} else if ((rc = file_prepare(s->path)) != PV_OK) {
		goto fail;
	}
	if ((rc = conn_acquire(s, &c)) != PV_OK)
		goto fail;
	if (read_only)
		rc = store_sqlite_schema_read(c->db, &s->schema_version);
	else if ((rc = set_wal(c->db)) == PV_OK)
		rc = store_sqlite_migrate(c->db, &s->schema_version);
	conn_release(s, c);
	if (rc != PV_OK)
		goto fail;
	*out = &s->base;
	return PV_OK;
fail:
	sq_close(&s->base);
	return rc;
}
