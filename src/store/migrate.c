/*
 * migrate.c: versioned schema migrations of the SQLite backend.
 *
 * Owns: the table schema_migrations(version, applied_at) and the list of
 * migrations below. A migration is {version, sql}; versions are 1, 2, 3, ...
 * without gaps, and a released migration is never edited: a change is a new
 * migration appended at the end.
 *
 * Invariants:
 *  - Each migration runs in its own BEGIN IMMEDIATE transaction together with
 *    the insert of its schema_migrations row: it is applied entirely or not
 *    at all, and two processes opening the same file at once cannot apply it
 *    twice (the second re-reads the version under the write lock).
 *  - A database whose version is above what this binary knows is refused
 *    (PV_E_CONFIG): an older binary must not write a newer schema.
 *  - The schema version is MAX(version) of schema_migrations.
 */
#include <assert.h>
#include <string.h>

#include "store/store_sqlite.h"

struct migration {
	int version;
	const char *sql;
};

static const struct migration migrations[] = {
	/* 1: foundation: named values, KEKs, audit trail and checkpoints.
	 * audit columns are the entry's fields (DESIGN.md), so an auditor can
	 * read the trail with plain SQL; seq is the rowid. */
	{ 1,
	  "CREATE TABLE meta("
	  " key TEXT PRIMARY KEY NOT NULL,"
	  " value BLOB NOT NULL);"
	  "CREATE TABLE kek("
	  " name TEXT NOT NULL,"
	  " version INTEGER NOT NULL,"
	  " state INTEGER NOT NULL,"
	  " created_ms INTEGER NOT NULL,"
	  " wrapped BLOB,"
	  " PRIMARY KEY(name, version));"
	  "CREATE TABLE audit("
	  " seq INTEGER PRIMARY KEY,"
	  " time TEXT NOT NULL,"
	  " actor TEXT NOT NULL,"
	  " action TEXT NOT NULL,"
	  " resource TEXT NOT NULL,"
	  " purpose_of_use TEXT NOT NULL,"
	  " outcome TEXT NOT NULL,"
	  " reason TEXT NOT NULL,"
	  " detail TEXT NOT NULL,"
	  " prev_hash TEXT NOT NULL,"
	  " hash TEXT NOT NULL);"
	  "CREATE INDEX audit_action ON audit(action);"
	  "CREATE TABLE audit_checkpoint("
	  " seq INTEGER PRIMARY KEY,"
	  " hash TEXT NOT NULL,"
	  " time TEXT NOT NULL,"
	  " signature TEXT NOT NULL,"
	  " key_id TEXT NOT NULL);" },
	/* identity:begin: migration 2 (users, roles, groups, sessions, MFA,
	 * lockout), added by the identity work.
	 * Secrets are never in clear: password_hash is an Argon2id string,
	 * mfa_secret is envelope ciphertext (mfa_env: its keys_envelope),
	 * token_hash is hex SHA-256 of a 256-bit token, code_hash an HMAC under
	 * a keyring key. Users are never deleted (IDs never reused). Built-in
	 * roles are seeded (builtin = 1); their permissions are authoritative
	 * in authz (perm.c) and mirrored here for plain-SQL readers. */
	{ 2,
	  "CREATE TABLE users("
	  " id TEXT PRIMARY KEY NOT NULL,"
	  " username TEXT UNIQUE NOT NULL,"
	  " display_name TEXT NOT NULL,"
	  " email TEXT NOT NULL,"
	  " status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),"
	  " attributes TEXT NOT NULL,"
	  " password_hash TEXT NOT NULL,"
	  " password_one_time INTEGER NOT NULL,"
	  " credential_epoch INTEGER NOT NULL,"
	  " mfa_secret BLOB,"
	  " mfa_env BLOB,"
	  " mfa_enabled INTEGER NOT NULL,"
	  " mfa_last_step INTEGER NOT NULL,"
	  " created_ms INTEGER NOT NULL,"
	  " updated_ms INTEGER NOT NULL,"
	  " disabled_ms INTEGER);"
	  "CREATE TABLE roles("
	  " name TEXT PRIMARY KEY NOT NULL,"
	  " permissions TEXT NOT NULL,"
	  " condition TEXT NOT NULL,"
	  " builtin INTEGER NOT NULL,"
	  " created_ms INTEGER NOT NULL);"
	  "CREATE TABLE user_roles("
	  " user_id TEXT NOT NULL REFERENCES users(id),"
	  " role TEXT NOT NULL REFERENCES roles(name),"
	  " PRIMARY KEY(user_id, role));"
	  "CREATE TABLE groups("
	  " name TEXT PRIMARY KEY NOT NULL,"
	  " roles TEXT NOT NULL,"
	  " created_ms INTEGER NOT NULL);"
	  "CREATE TABLE user_groups("
	  " user_id TEXT NOT NULL REFERENCES users(id),"
	  " group_name TEXT NOT NULL REFERENCES groups(name),"
	  " PRIMARY KEY(user_id, group_name));"
	  "CREATE TABLE sessions("
	  " id TEXT PRIMARY KEY NOT NULL,"
	  " token_hash TEXT UNIQUE NOT NULL,"
	  " user_id TEXT NOT NULL REFERENCES users(id),"
	  " created_ms INTEGER NOT NULL,"
	  " last_seen_ms INTEGER NOT NULL,"
	  " absolute_expires_ms INTEGER NOT NULL,"
	  " restrict_flags INTEGER NOT NULL,"
	  " mfa_verified INTEGER NOT NULL,"
	  " credential_epoch INTEGER NOT NULL,"
	  " source TEXT NOT NULL,"
	  " ended_ms INTEGER,"
	  " end_reason TEXT);"
	  "CREATE INDEX sessions_user ON sessions(user_id);"
	  "CREATE TABLE recovery_codes("
	  " user_id TEXT NOT NULL REFERENCES users(id),"
	  " code_hash TEXT NOT NULL,"
	  " used_ms INTEGER,"
	  " PRIMARY KEY(user_id, code_hash));"
	  "CREATE TABLE lockouts("
	  " key TEXT NOT NULL,"
	  " kind TEXT NOT NULL CHECK (kind IN ('password', 'mfa')),"
	  " failures INTEGER NOT NULL,"
	  " window_start_ms INTEGER NOT NULL,"
	  " locked_until_ms INTEGER NOT NULL,"
	  " PRIMARY KEY(key, kind));"
	  "CREATE TABLE mfa_pending("
	  " token_hash TEXT PRIMARY KEY NOT NULL,"
	  " user_id TEXT NOT NULL REFERENCES users(id),"
	  " expires_ms INTEGER NOT NULL,"
	  " attempts INTEGER NOT NULL);"
	  "INSERT INTO roles(name, permissions, condition, builtin, created_ms) VALUES"
	  " ('admin', '[\"users.manage\",\"roles.manage\",\"collections.manage\",\"sys.backup\"]',"
	  "  '{}', 1, 0),"
	  " ('key_admin', '[\"keys.manage\"]', '{}', 1, 0),"
	  " ('auditor', '[\"audit.read\",\"alerts.read\",\"compliance.read\"]', '{}', 1, 0),"
	  " ('clinician', '[\"records.read:*\",\"records.write:*\",\"records.unmask:*.*\","
	  "\"tokens.tokenize\",\"tokens.detokenize\"]', '{}', 1, 0),"
	  " ('analyst', '[\"records.read:*\"]', '{}', 1, 0),"
	  " ('break_glass', '[]', '{}', 1, 0);" },
	/* identity:end */
	/* vault:begin: migration 3 (collections, records, blind index,
	 * tokens), added by the records work. No column holds a PHI value in
	 * clear: records and token values are AEAD ciphertext, the blind index
	 * holds HMACs, schema holds field names and types. Times are ms since
	 * the epoch (UTC). A shredded record keeps its row (IDs are never
	 * reused) with wrapped_dek and ciphertext NULL. */
	{ 3,
	  "CREATE TABLE collections("
	  " name TEXT PRIMARY KEY NOT NULL,"
	  " schema TEXT NOT NULL,"
	  " region TEXT NOT NULL,"
	  " retention_days INTEGER NOT NULL,"
	  " created_ms INTEGER NOT NULL,"
	  " kek_name TEXT NOT NULL);"
	  "CREATE TABLE records("
	  " id TEXT PRIMARY KEY NOT NULL,"
	  " collection TEXT NOT NULL REFERENCES collections(name),"
	  " version INTEGER NOT NULL,"
	  " kek_name TEXT NOT NULL,"
	  " kek_version INTEGER NOT NULL,"
	  " wrapped_dek BLOB,"
	  " ciphertext BLOB,"
	  " created_ms INTEGER NOT NULL,"
	  " updated_ms INTEGER NOT NULL,"
	  " deleted_ms INTEGER);"
	  "CREATE TABLE blind_index("
	  " collection TEXT NOT NULL,"
	  " field TEXT NOT NULL,"
	  " mac BLOB NOT NULL,"
	  " record_id TEXT NOT NULL REFERENCES records(id),"
	  " PRIMARY KEY(collection, field, mac, record_id)) WITHOUT ROWID;"
	  "CREATE INDEX blind_index_record ON blind_index(record_id);"
	  "CREATE TABLE tokens("
	  " token TEXT PRIMARY KEY NOT NULL,"
	  " collection TEXT NOT NULL,"
	  " field TEXT NOT NULL,"
	  " deterministic INTEGER NOT NULL,"
	  " mac BLOB,"
	  " kek_name TEXT NOT NULL,"
	  " kek_version INTEGER NOT NULL,"
	  " wrapped_dek BLOB NOT NULL,"
	  " ciphertext BLOB NOT NULL,"
	  " created_ms INTEGER NOT NULL);"
	  "CREATE UNIQUE INDEX tokens_mac ON tokens(mac) WHERE mac IS NOT NULL;" },
	/* vault:end */
	/* 4: a pending MFA login remembers the credential epoch its password
	 * was checked under, so a password change (or disable) in between
	 * voids it: the second factor alone must never finish a login whose
	 * password is no longer valid. */
	{ 4,
	  "ALTER TABLE mfa_pending ADD COLUMN credential_epoch INTEGER NOT NULL DEFAULT 0;" },
	/* 5 (authn-users): who created each user, so every entry of a session
	 * of a user made by an administrator traces back to that administrator
	 * (users.created_by = the creating principal's user ID; NULL for the
	 * bootstrap admin made by init and for users made before this step).
	 * Self-contained: one column, no data rewritten. */
	{ 5,
	  "ALTER TABLE users ADD COLUMN created_by TEXT REFERENCES users(id);" },
	/* 6: one-time passwords are single use and expire: when each was
	 * issued and when a login consumed it. Outstanding ones are treated as
	 * issued now (their TTL starts at the upgrade). Lockout counters of
	 * unknown usernames were keyed by the typed name in clear (a password
	 * typed into the username field would persist); they are now keyed by
	 * an HMAC of it, and the clear rows are dropped: they count failures
	 * against accounts that do not exist. Audit entries that hold such
	 * names stay (the chain is append-only). */
	{ 6,
	  "ALTER TABLE users ADD COLUMN otp_issued_ms INTEGER NOT NULL DEFAULT 0;"
	  "ALTER TABLE users ADD COLUMN otp_used_ms INTEGER NOT NULL DEFAULT 0;"
	  "UPDATE users SET otp_issued_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
	  " WHERE password_one_time = 1;"
	  "DELETE FROM lockouts WHERE key <> '~invalid' AND key NOT IN (SELECT username FROM users);" },
	/* 7 (jobs): background work, one row per job (src/jobs/, store.h
	 * "jobs"). A step's effect and its cursor move in one transaction, so
	 * the row is the job's whole memory across restarts and kill -9. */
	{ 7,
	  "CREATE TABLE jobs("
	  " id TEXT PRIMARY KEY NOT NULL,"
	  " kind TEXT NOT NULL,"
	  " state TEXT NOT NULL CHECK (state IN ('queued','running','paused','done','failed',"
	  "'cancelled')),"
	  " cursor TEXT NOT NULL DEFAULT '',"
	  " params TEXT NOT NULL DEFAULT '{}',"
	  " errors TEXT NOT NULL DEFAULT '[]',"
	  " done INTEGER NOT NULL DEFAULT 0,"
	  " total INTEGER NOT NULL DEFAULT 0,"
	  " error_count INTEGER NOT NULL DEFAULT 0,"
	  " created_ms INTEGER NOT NULL,"
	  " started_ms INTEGER NOT NULL DEFAULT 0,"
	  " finished_ms INTEGER NOT NULL DEFAULT 0,"
	  " updated_ms INTEGER NOT NULL,"
	  " lease_owner TEXT NOT NULL DEFAULT '',"
	  " lease_expires_ms INTEGER NOT NULL DEFAULT 0,"
	  " created_by TEXT NOT NULL);"
	  "CREATE INDEX jobs_runnable ON jobs(state, created_ms);" },
	/* 8 (sinks): the delivery cursor of each SIEM sink (src/sinks/,
	 * store_sinks.h): the last audit seq its receiver accepted. Written in
	 * its own transaction after each delivered batch, never in a request's. */
	{ 8,
	  "CREATE TABLE sink_cursors("
	  " name TEXT PRIMARY KEY NOT NULL,"
	  " seq INTEGER NOT NULL DEFAULT 0,"
	  " delivered INTEGER NOT NULL DEFAULT 0,"
	  " last_error TEXT NOT NULL DEFAULT '',"
	  " updated_ms INTEGER NOT NULL);" },
	/* 9 (detect): alerts raised by the detector (src/detect/) and its
	 * persisted state: the audit seq it has processed up to and the small
	 * per-user baselines, as JSON text under a key ("position",
	 * "user:<id>"). Alerts hold IDs, sources, counts and rule names only;
	 * ack_note is the acknowledging auditor's own text. */
	{ 9,
	  "CREATE TABLE alerts("
	  " id TEXT PRIMARY KEY NOT NULL,"
	  " rule TEXT NOT NULL,"
	  " severity TEXT NOT NULL,"
	  " actor TEXT NOT NULL,"
	  " source TEXT NOT NULL,"
	  " first_seen_ms INTEGER NOT NULL,"
	  " last_seen_ms INTEGER NOT NULL,"
	  " count INTEGER NOT NULL,"
	  " status TEXT NOT NULL CHECK (status IN ('open','acknowledged')),"
	  " ack_note TEXT NOT NULL DEFAULT '',"
	  " ack_by TEXT NOT NULL DEFAULT '',"
	  " ack_ms INTEGER NOT NULL DEFAULT 0);"
	  "CREATE INDEX alerts_status ON alerts(status, last_seen_ms);"
	  "CREATE TABLE detect_state("
	  " key TEXT PRIMARY KEY NOT NULL,"
	  " value TEXT NOT NULL,"
	  " updated_ms INTEGER NOT NULL);" },
	/* policies:begin: 10: access policies (ABAC, conditional access; authz
	 * cond.c and docs/access-control.md). actions, resources and condition
	 * are JSON texts checked by authz_policy_check before they are stored;
	 * version counts changes (PUT), created_* and updated_* say who and
	 * when. A policy may be deleted: the audit trail keeps its history. */
	{ 10,
	  "CREATE TABLE policies("
	  " name TEXT PRIMARY KEY NOT NULL,"
	  " effect TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),"
	  " actions TEXT NOT NULL,"
	  " resources TEXT NOT NULL,"
	  " condition TEXT NOT NULL,"
	  " created_by TEXT NOT NULL,"
	  " created_ms INTEGER NOT NULL,"
	  " updated_by TEXT NOT NULL,"
	  " updated_ms INTEGER NOT NULL,"
	  " version INTEGER NOT NULL);"
	  /* a session's last MFA (step-up re-verification; 0: its login's, if any) */
	  "ALTER TABLE sessions ADD COLUMN mfa_at_ms INTEGER NOT NULL DEFAULT 0;" },
	/* policies:end */
	/* 11 (apps): workload identities (store_apps.h, src/directory/apps.c).
	 * An app's secret is kept only as a hex HMAC-SHA256 under the identity
	 * MAC key, a token only as its hex SHA-256; deleted secrets are revoked,
	 * not removed. The built-in admin role gains apps.manage (reseeded: its
	 * permissions mirror authz perm.c). */
	{ 11,
	  "CREATE TABLE apps("
	  " id TEXT PRIMARY KEY NOT NULL,"
	  " name TEXT UNIQUE NOT NULL,"
	  " roles TEXT NOT NULL,"
	  " networks TEXT NOT NULL,"
	  " created_by TEXT NOT NULL,"
	  " created_ms INTEGER NOT NULL,"
	  " disabled INTEGER NOT NULL DEFAULT 0,"
	  " disabled_ms INTEGER NOT NULL DEFAULT 0,"
	  " credential_epoch INTEGER NOT NULL DEFAULT 1);"
	  "CREATE TABLE app_secrets("
	  " secret_id TEXT PRIMARY KEY NOT NULL,"
	  " app_id TEXT NOT NULL REFERENCES apps(id),"
	  " hash TEXT NOT NULL,"
	  " created_ms INTEGER NOT NULL,"
	  " expires_ms INTEGER NOT NULL DEFAULT 0,"
	  " revoked_ms INTEGER NOT NULL DEFAULT 0);"
	  "CREATE INDEX app_secrets_app ON app_secrets(app_id);"
	  "CREATE TABLE app_sessions("
	  " id TEXT PRIMARY KEY NOT NULL,"
	  " token_hash TEXT UNIQUE NOT NULL,"
	  " app_id TEXT NOT NULL REFERENCES apps(id),"
	  " created_ms INTEGER NOT NULL,"
	  " expires_ms INTEGER NOT NULL,"
	  " credential_epoch INTEGER NOT NULL,"
	  " source TEXT NOT NULL,"
	  " method TEXT NOT NULL,"
	  " ended_ms INTEGER NOT NULL DEFAULT 0,"
	  " end_reason TEXT NOT NULL DEFAULT '');"
	  "CREATE INDEX app_sessions_app ON app_sessions(app_id);"
	  "UPDATE roles SET permissions = "
	  "'[\"users.manage\",\"roles.manage\",\"collections.manage\",\"sys.backup\","
	  "\"apps.manage\"]' WHERE name = 'admin' AND builtin = 1;" },
	/* 12 (keys-admin): the census. kek_census(name, version) counts the
	 * live objects (records with a DEK, tokens) whose DEK that KEK version
	 * wraps. Triggers keep it in the same transaction as every insert,
	 * update (patch, re-encryption, shred sets wrapped_dek NULL) and delete
	 * of a record or token, so it is exact without a scan; the existing
	 * rows are counted once here. */
	{ 12,
	  "CREATE TABLE kek_census("
	  " name TEXT NOT NULL,"
	  " version INTEGER NOT NULL,"
	  " objects INTEGER NOT NULL DEFAULT 0,"
	  " PRIMARY KEY(name, version)) WITHOUT ROWID;"
	  "INSERT INTO kek_census(name, version, objects)"
	  " SELECT kek_name, kek_version, COUNT(*) FROM ("
	  "  SELECT kek_name, kek_version FROM records WHERE wrapped_dek IS NOT NULL"
	  "  UNION ALL SELECT kek_name, kek_version FROM tokens WHERE wrapped_dek IS NOT NULL)"
	  " GROUP BY kek_name, kek_version;"
	  "CREATE TRIGGER census_records_ins AFTER INSERT ON records"
	  " WHEN NEW.wrapped_dek IS NOT NULL BEGIN"
	  " INSERT INTO kek_census(name, version, objects) VALUES (NEW.kek_name, NEW.kek_version, 1)"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_records_upd AFTER UPDATE OF kek_name, kek_version, wrapped_dek"
	  " ON records BEGIN"
	  " UPDATE kek_census SET objects = objects - 1 WHERE OLD.wrapped_dek IS NOT NULL"
	  "  AND name = OLD.kek_name AND version = OLD.kek_version;"
	  " INSERT INTO kek_census(name, version, objects)"
	  "  SELECT NEW.kek_name, NEW.kek_version, 1 WHERE NEW.wrapped_dek IS NOT NULL"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_records_del AFTER DELETE ON records"
	  " WHEN OLD.wrapped_dek IS NOT NULL BEGIN"
	  " UPDATE kek_census SET objects = objects - 1"
	  "  WHERE name = OLD.kek_name AND version = OLD.kek_version; END;"
	  "CREATE TRIGGER census_tokens_ins AFTER INSERT ON tokens"
	  " WHEN NEW.wrapped_dek IS NOT NULL BEGIN"
	  " INSERT INTO kek_census(name, version, objects) VALUES (NEW.kek_name, NEW.kek_version, 1)"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_tokens_upd AFTER UPDATE OF kek_name, kek_version, wrapped_dek"
	  " ON tokens BEGIN"
	  " UPDATE kek_census SET objects = objects - 1 WHERE OLD.wrapped_dek IS NOT NULL"
	  "  AND name = OLD.kek_name AND version = OLD.kek_version;"
	  " INSERT INTO kek_census(name, version, objects)"
	  "  SELECT NEW.kek_name, NEW.kek_version, 1 WHERE NEW.wrapped_dek IS NOT NULL"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_tokens_del AFTER DELETE ON tokens"
	  " WHEN OLD.wrapped_dek IS NOT NULL BEGIN"
	  " UPDATE kek_census SET objects = objects - 1"
	  "  WHERE name = OLD.kek_name AND version = OLD.kek_version; END;" },
	/* 13: the built-in security_officer role (perm.c role_security_officer):
	 * the approvers of dual control, break-glass reviewers, patient shredding. */
	{ 13,
	  "INSERT INTO roles(name, permissions, condition, builtin, created_ms) VALUES"
	  " ('security_officer', '[\"access.approve\",\"records.shred\"]', '{}', 1, 0);" },
	/* subjects: subject keys (store_subjects.h, src/vault/ops_subjects.c).
	 * subjects: one row per patient, keyed by the hex HMAC of the subject
	 * value (never the value), its key an envelope under KEK "subjects"
	 * (counted by the census like a token); subject_records: which records
	 * are under which subject; subject_tombstones: shredded refs, forever. */
	{ 14,
	  "CREATE TABLE subjects("
	  " ref TEXT PRIMARY KEY NOT NULL,"
	  " kek_name TEXT NOT NULL,"
	  " kek_version INTEGER NOT NULL,"
	  " wrapped_dek BLOB NOT NULL,"
	  " ciphertext BLOB NOT NULL,"
	  " created_ms INTEGER NOT NULL,"
	  " hold_reason TEXT NOT NULL DEFAULT '',"
	  " hold_by TEXT NOT NULL DEFAULT '',"
	  " hold_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	  "CREATE TABLE subject_records("
	  " collection TEXT NOT NULL,"
	  " record_id TEXT NOT NULL,"
	  " ref TEXT NOT NULL,"
	  " PRIMARY KEY(collection, record_id)) WITHOUT ROWID;"
	  "CREATE INDEX subject_records_ref ON subject_records(ref);"
	  "CREATE TABLE subject_tombstones("
	  " ref TEXT PRIMARY KEY NOT NULL,"
	  " shredded_ms INTEGER NOT NULL) WITHOUT ROWID;"
	  "CREATE TRIGGER census_subjects_ins AFTER INSERT ON subjects BEGIN"
	  " INSERT INTO kek_census(name, version, objects) VALUES (NEW.kek_name, NEW.kek_version, 1)"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_subjects_upd AFTER UPDATE OF kek_name, kek_version"
	  " ON subjects BEGIN"
	  " UPDATE kek_census SET objects = objects - 1"
	  "  WHERE name = OLD.kek_name AND version = OLD.kek_version;"
	  " INSERT INTO kek_census(name, version, objects) VALUES (NEW.kek_name, NEW.kek_version, 1)"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_subjects_del AFTER DELETE ON subjects BEGIN"
	  " UPDATE kek_census SET objects = objects - 1"
	  "  WHERE name = OLD.kek_name AND version = OLD.kek_version; END;" },
	/* 15 (secrets): application secrets (store_secrets.h). A head row per
	 * path and one row per version, each an envelope under the "secrets"
	 * KEK; seq is the re-encryption walk's order. The census counts live
	 * versions (wrapped_dek not NULL) through triggers, like records. */
	{ 15,
	  "CREATE TABLE secrets("
	  " path TEXT PRIMARY KEY NOT NULL,"
	  " current_version INTEGER NOT NULL,"
	  " rotate_every_s INTEGER NOT NULL DEFAULT 0,"
	  " created_ms INTEGER NOT NULL,"
	  " updated_ms INTEGER NOT NULL,"
	  " deleted_ms INTEGER NOT NULL DEFAULT 0,"
	  " metadata TEXT NOT NULL DEFAULT '{}');"
	  "CREATE TABLE secret_versions("
	  " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	  " path TEXT NOT NULL REFERENCES secrets(path),"
	  " version INTEGER NOT NULL,"
	  " kek_name TEXT NOT NULL,"
	  " kek_version INTEGER NOT NULL,"
	  " wrapped_dek BLOB,"
	  " ciphertext BLOB,"
	  " metadata TEXT NOT NULL DEFAULT '{}',"
	  " created_ms INTEGER NOT NULL,"
	  " destroyed_ms INTEGER NOT NULL DEFAULT 0,"
	  " UNIQUE(path, version));"
	  "CREATE TRIGGER census_secrets_ins AFTER INSERT ON secret_versions"
	  " WHEN NEW.wrapped_dek IS NOT NULL BEGIN"
	  " INSERT INTO kek_census(name, version, objects) VALUES (NEW.kek_name, NEW.kek_version, 1)"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_secrets_upd AFTER UPDATE OF kek_name, kek_version, wrapped_dek"
	  " ON secret_versions BEGIN"
	  " UPDATE kek_census SET objects = objects - 1 WHERE OLD.wrapped_dek IS NOT NULL"
	  "  AND name = OLD.kek_name AND version = OLD.kek_version;"
	  " INSERT INTO kek_census(name, version, objects)"
	  "  SELECT NEW.kek_name, NEW.kek_version, 1 WHERE NEW.wrapped_dek IS NOT NULL"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_secrets_del AFTER DELETE ON secret_versions"
	  " WHEN OLD.wrapped_dek IS NOT NULL BEGIN"
	  " UPDATE kek_census SET objects = objects - 1"
	  "  WHERE name = OLD.kek_name AND version = OLD.kek_version; END;" },
	/* dual control (store_approvals.h): changes that would grant PHI access,
	 * pending until a different access.approve holder approves them. */
	{ 16,
	  "CREATE TABLE approvals(id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
	  " status TEXT NOT NULL, requested_by TEXT NOT NULL, target TEXT NOT NULL,"
	  " change TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
	  " decided_by TEXT NOT NULL DEFAULT '', decided_ms INTEGER NOT NULL DEFAULT 0,"
	  " note TEXT NOT NULL DEFAULT '');"
	  "CREATE INDEX approvals_status ON approvals(status, created_ms);"
	  "CREATE INDEX approvals_target ON approvals(kind, target, status);" },
	/* WebAuthn passkeys (store_webauthn.h, src/authn/webauthn*.c): the
	 * credentials, the per-user random handle, the pending ceremonies, and
	 * how a session's last MFA was made (policies: mfa.methods). */
	{ 17,
	  "CREATE TABLE webauthn_credentials("
	  " id TEXT PRIMARY KEY,"
	  " user_id TEXT NOT NULL REFERENCES users(id),"
	  " public_key BLOB NOT NULL,"
	  " alg INTEGER NOT NULL,"
	  " sign_count INTEGER NOT NULL DEFAULT 0,"
	  " name TEXT NOT NULL,"
	  " aaguid TEXT NOT NULL DEFAULT '',"
	  " created_ms INTEGER NOT NULL,"
	  " last_used_ms INTEGER NOT NULL DEFAULT 0);"
	  "CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id, created_ms);"
	  "CREATE TABLE webauthn_users("
	  " user_id TEXT PRIMARY KEY REFERENCES users(id),"
	  " handle TEXT NOT NULL UNIQUE);"
	  "CREATE TABLE webauthn_challenges("
	  " challenge TEXT PRIMARY KEY,"
	  " kind TEXT NOT NULL,"
	  " user_id TEXT NOT NULL,"
	  " bind TEXT NOT NULL,"
	  " expires_ms INTEGER NOT NULL);"
	  "ALTER TABLE sessions ADD COLUMN mfa_method TEXT NOT NULL DEFAULT '';" },
	/* postgres (issue 15): the access epoch (store_cluster.h), one row. Every
	 * access-affecting write on a shared store bumps it in its own
	 * transaction; each node compares it before deciding a request. */
	{ 18,
	  "CREATE TABLE access_epoch("
	  " id INTEGER PRIMARY KEY CHECK (id = 1),"
	  " epoch INTEGER NOT NULL);"
	  "INSERT INTO access_epoch(id, epoch) VALUES (1, 0);" },
	/* hsm: who holds a KEK version ('soft': its bytes wrapped by the root
	 * key; 'pkcs11': an AES key object in the token, label
	 * phivault-kek-<name>-v<N>) and, for double encryption, the KEK whose
	 * same version wraps the DEK once more ('' for none). keys.c. */
	{ 19,
	  "ALTER TABLE kek ADD COLUMN provider TEXT NOT NULL DEFAULT 'soft';"
	  "ALTER TABLE kek ADD COLUMN outer_name TEXT NOT NULL DEFAULT '';" },
	/* keyver (issue 11 items 3, tokens of subjects): versioned MAC keys. Each blind-index entry
	 * and deterministic token names the version of its KEK ("index:<c>",
	 * "tokens") its MAC key derives from; rows made before were all under
	 * v1. The census counts them on these indexes (SQ_KEK_CENSUS). */
	{ 20,
	  "ALTER TABLE blind_index ADD COLUMN mac_version INTEGER NOT NULL DEFAULT 1;"
	  "ALTER TABLE tokens ADD COLUMN mac_version INTEGER NOT NULL DEFAULT 1;"
	  "CREATE INDEX blind_index_version ON blind_index(collection, mac_version);"
	  "CREATE INDEX tokens_mac_version ON tokens(kek_name, mac_version) WHERE mac IS NOT NULL;"
	  /* tokens linked to a patient (subject_ref, '' none) go with its shred;
	   * token_tombstones remembers which, so detokenize answers 410 */
	  "ALTER TABLE tokens ADD COLUMN subject_ref TEXT NOT NULL DEFAULT '';"
	  "CREATE INDEX tokens_subject ON tokens(subject_ref);"
	  "CREATE TABLE token_tombstones("
	  " token TEXT PRIMARY KEY NOT NULL,"
	  " collection TEXT NOT NULL,"
	  " ref TEXT NOT NULL,"
	  " shredded_ms INTEGER NOT NULL);" },
	/* The subject index of the audit trail (accounting of disclosures,
	 * docs/internals/audit.md "Subject index"): one row per (entry,
	 * subject reference) of a PHI access, written by the audit writer in
	 * the entry's own transaction; the refs are also in the entry's
	 * hash-covered detail ("subjects"), so the index is a projection of
	 * the chain. */
	{ 21,
	  "CREATE TABLE audit_subjects("
	  " subject_ref TEXT NOT NULL,"
	  " seq INTEGER NOT NULL,"
	  " PRIMARY KEY(subject_ref, seq)) WITHOUT ROWID;"
	  "CREATE INDEX audit_subjects_seq ON audit_subjects(seq);" },
	/* OIDC sign-in (store_oidc.h, src/authn/oidc*.c): single-use expiring
	 * items (authorization state, one-time codes, nonce / jti replay guards),
	 * (issuer, subject) -> user, and the IdP session of a phivault session. */
	{ 22,
	  "CREATE TABLE oidc_pending("
	  " key TEXT NOT NULL,"
	  " kind TEXT NOT NULL,"
	  " data TEXT NOT NULL,"
	  " expires_ms INTEGER NOT NULL,"
	  " PRIMARY KEY(key, kind));"
	  "CREATE INDEX oidc_pending_expires ON oidc_pending(expires_ms);"
	  "CREATE TABLE oidc_identities("
	  " iss TEXT NOT NULL,"
	  " sub TEXT NOT NULL,"
	  " user_id TEXT NOT NULL REFERENCES users(id),"
	  " created_ms INTEGER NOT NULL,"
	  " PRIMARY KEY(iss, sub));"
	  "CREATE TABLE oidc_sessions("
	  " session_id TEXT PRIMARY KEY REFERENCES sessions(id),"
	  " iss TEXT NOT NULL,"
	  " sid TEXT NOT NULL);"
	  "CREATE INDEX oidc_sessions_sid ON oidc_sessions(iss, sid);" },
	/* JIT elevation (store_elevations.h, src/authz/elevations.c): the roles
	 * a user may ask for, and the requests with their lifetimes. */
	{ 23,
	  "CREATE TABLE user_eligible_roles("
	  " user_id TEXT NOT NULL,"
	  " role TEXT NOT NULL,"
	  " PRIMARY KEY (user_id, role));"
	  "CREATE TABLE elevations(id TEXT PRIMARY KEY,"
	  " user_id TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL,"
	  " justification TEXT NOT NULL, ticket TEXT NOT NULL DEFAULT '',"
	  " duration_s INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	  " request_expires_ms INTEGER NOT NULL,"
	  " approved_by TEXT NOT NULL DEFAULT '', starts_ms INTEGER NOT NULL DEFAULT 0,"
	  " expires_ms INTEGER NOT NULL DEFAULT 0,"
	  " ended_by TEXT NOT NULL DEFAULT '', ended_ms INTEGER NOT NULL DEFAULT 0);"
	  "CREATE INDEX elevations_user ON elevations(user_id, status);"
	  "CREATE INDEX elevations_status ON elevations(status, created_ms);" },
	/* certificate-bound app tokens (RFC 8705 x5t#S256; src/authn/app*.c): the
	 * certificate an mtls session is bound to, and revoked certificates. */
	{ 24,
	  "ALTER TABLE app_sessions ADD COLUMN cert_fingerprint TEXT NOT NULL DEFAULT '';"
	  "ALTER TABLE app_sessions ADD COLUMN cert_serial TEXT NOT NULL DEFAULT '';"
	  "CREATE TABLE app_cert_revocations(serial TEXT PRIMARY KEY,"
	  " app_id TEXT NOT NULL, revoked_ms INTEGER NOT NULL, revoked_by TEXT NOT NULL);" },
	/* break-glass (store_breakglass.h): emergency grants to one subject,
	 * each with the review item it opened. */
	{ 25,
	  "CREATE TABLE breakglass(id TEXT PRIMARY KEY,"
	  " user_id TEXT NOT NULL, subject_ref TEXT NOT NULL, reason_code TEXT NOT NULL,"
	  " justification TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	  " expires_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL DEFAULT 0,"
	  " end_reason TEXT NOT NULL DEFAULT '', since_seq INTEGER NOT NULL DEFAULT 0,"
	  " review_id TEXT NOT NULL UNIQUE, review_status TEXT NOT NULL,"
	  " review_due_ms INTEGER NOT NULL, reviewed_by TEXT NOT NULL DEFAULT '',"
	  " reviewed_ms INTEGER NOT NULL DEFAULT 0, review_note TEXT NOT NULL DEFAULT '',"
	  " overdue_reported INTEGER NOT NULL DEFAULT 0);"
	  "CREATE INDEX breakglass_user ON breakglass(user_id, ended_ms, expires_ms);"
	  "CREATE INDEX breakglass_review ON breakglass(review_status, created_ms);"
	  "UPDATE roles SET permissions = '[\"breakglass.activate\"]'"
	  " WHERE name = 'break_glass' AND builtin = 1;" },
	/* keyfix (issue 11 item 3): each recovery code names the version of
	 * KEK "identity" its MAC key derives from (keys_mac_version); codes
	 * made before were all under v1. The census counts the unused ones
	 * (SQ_KEK_CENSUS), so v1 can be retired once none is left. */
	{ 26,
	  "ALTER TABLE recovery_codes ADD COLUMN mac_version INTEGER NOT NULL DEFAULT 1;" },
	/* incidents (issue 19 item 2): the built-in security_officer also holds
	 * incidents.manage, the breach scope report (perm.c
	 * role_security_officer; vault/ops_incidents.c). PostgreSQL runs the
	 * same text (postgres_migrate.c translates it). */
	{ 27,
	  "UPDATE roles SET permissions = "
	  "'[\"access.approve\",\"records.shred\",\"incidents.manage\"]'"
	  " WHERE name = 'security_officer' AND builtin = 1;" },
	/* keys (issue 11, s6): each app secret names the version of KEK
	 * "identity" its MAC key derives from, as recovery codes do (26);
	 * secrets made before were all under v1. The census counts the
	 * unrevoked ones (SQ_KEK_CENSUS), so v1 can be retired, then revoked,
	 * once every app's secret was rotated. */
	{ 28,
	  "ALTER TABLE app_secrets ADD COLUMN mac_version INTEGER NOT NULL DEFAULT 1;" },
	/* de-identified exports (store_exports.h, src/vault/ops_export.c): the
	 * head row of each export and its chunks, each sealed under KEK "export". */
	{ 29,
	  "CREATE TABLE exports(id TEXT PRIMARY KEY,"
	  " collection TEXT NOT NULL, job_id TEXT NOT NULL, state TEXT NOT NULL,"
	  " mode TEXT NOT NULL, pseudonym INTEGER NOT NULL, created_by TEXT NOT NULL,"
	  " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
	  " finished_ms INTEGER NOT NULL DEFAULT 0, lines INTEGER NOT NULL DEFAULT 0,"
	  " chunks INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
	  " dropped TEXT NOT NULL DEFAULT '{}', sha256 TEXT NOT NULL DEFAULT '');"
	  "CREATE INDEX exports_created ON exports(created_ms);"
	  "CREATE TABLE export_chunks("
	  " export_id TEXT NOT NULL, idx INTEGER NOT NULL, lines INTEGER NOT NULL,"
	  " kek_name TEXT NOT NULL, kek_version INTEGER NOT NULL,"
	  " wrapped_dek BLOB NOT NULL, ciphertext BLOB NOT NULL,"
	  " PRIMARY KEY(export_id, idx));" },
	/* access review campaigns (store_campaigns.h, src/directory/campaigns.c):
	 * a campaign, its items (one per principal reviewed) and the signed
	 * result once closed. */
	{ 30,
	  "CREATE TABLE review_campaigns(id TEXT PRIMARY KEY,"
	  " scope TEXT NOT NULL, reviewers TEXT NOT NULL, status TEXT NOT NULL,"
	  " on_due TEXT NOT NULL, created_by TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	  " due_ms INTEGER NOT NULL, closed_ms INTEGER NOT NULL DEFAULT 0,"
	  " result TEXT NOT NULL DEFAULT '', signature TEXT NOT NULL DEFAULT '');"
	  "CREATE INDEX review_campaigns_status ON review_campaigns(status, due_ms);"
	  "CREATE TABLE review_campaign_items(campaign_id TEXT NOT NULL,"
	  " item_id TEXT NOT NULL, kind TEXT NOT NULL, principal_id TEXT NOT NULL,"
	  " principal_name TEXT NOT NULL, detail TEXT NOT NULL, unused INTEGER NOT NULL,"
	  " decision TEXT NOT NULL DEFAULT '', decided_by TEXT NOT NULL DEFAULT '',"
	  " decided_ms INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '',"
	  " PRIMARY KEY(campaign_id, item_id));" },
	/* 31 (re-encryption, issue 11): each record's envelope key in a narrow
	 * table of its own, in ID order (WITHOUT ROWID), so that a rewrap (a
	 * new wrapped DEK of 48 bytes, the ciphertext left alone) dirties one
	 * page for ~35 records walked in ID order instead of a page of the
	 * records table for nearly every record (their rowids are in creation
	 * order, their IDs random). The keys move here, the census triggers of
	 * records move with them (the counts stay: nothing fires while the rows
	 * move), and the columns leave records, so no second copy of a wrapped
	 * DEK survives a shred. store.md "Records and their keys". */
	{ 31,
	  "CREATE TABLE record_keys("
	  " id TEXT PRIMARY KEY NOT NULL REFERENCES records(id),"
	  " kek_name TEXT NOT NULL,"
	  " kek_version INTEGER NOT NULL,"
	  " wrapped_dek BLOB) WITHOUT ROWID;"
	  "INSERT INTO record_keys(id, kek_name, kek_version, wrapped_dek)"
	  " SELECT id, kek_name, kek_version, wrapped_dek FROM records;"
	  "DROP TRIGGER census_records_ins;"
	  "DROP TRIGGER census_records_upd;"
	  "DROP TRIGGER census_records_del;"
	  "ALTER TABLE records DROP COLUMN wrapped_dek;"
	  "ALTER TABLE records DROP COLUMN kek_version;"
	  "ALTER TABLE records DROP COLUMN kek_name;"
	  "CREATE TRIGGER census_record_keys_ins AFTER INSERT ON record_keys"
	  " WHEN NEW.wrapped_dek IS NOT NULL BEGIN"
	  " INSERT INTO kek_census(name, version, objects) VALUES (NEW.kek_name, NEW.kek_version, 1)"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_record_keys_upd AFTER UPDATE OF kek_name, kek_version, wrapped_dek"
	  " ON record_keys BEGIN"
	  " UPDATE kek_census SET objects = objects - 1 WHERE OLD.wrapped_dek IS NOT NULL"
	  "  AND name = OLD.kek_name AND version = OLD.kek_version;"
	  " INSERT INTO kek_census(name, version, objects)"
	  "  SELECT NEW.kek_name, NEW.kek_version, 1 WHERE NEW.wrapped_dek IS NOT NULL"
	  "  ON CONFLICT(name, version) DO UPDATE SET objects = objects + 1; END;"
	  "CREATE TRIGGER census_record_keys_del AFTER DELETE ON record_keys"
	  " WHEN OLD.wrapped_dek IS NOT NULL BEGIN"
	  " UPDATE kek_census SET objects = objects - 1"
	  "  WHERE name = OLD.kek_name AND version = OLD.kek_version; END;" },
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

int store_sqlite_schema_latest(void)
{
	return migrations[N_MIGRATIONS - 1].version;
}

const char *store_sqlite_migration_sql(int version)
{
	for (size_t i = 0; i < N_MIGRATIONS; i++)
		if (migrations[i].version == version)
			return migrations[i].sql;
	return NULL;
}

static enum pv_rc exec_sql(sqlite3 *db, const char *sql, const char *op)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? PV_OK : store_sqlite_rc(rc, op);
}

static enum pv_rc read_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *s = NULL;
	enum pv_rc rc = PV_OK;
	int src = sqlite3_prepare_v2(db,
	    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &s, NULL);

	if (src == SQLITE_OK)
		src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	else
		rc = store_sqlite_rc(src, "schema_version");
	sqlite3_finalize(s);
	return rc;
}

static enum pv_rc check_known(int version)
{
	if (version > store_sqlite_schema_latest()) {
		log_error("store: database schema version %d is newer than this binary (%d)",
		    version, store_sqlite_schema_latest());
		return PV_E_CONFIG;
	}
	return PV_OK;
}

static enum pv_rc record_applied(sqlite3 *db, int version)
{
	sqlite3_stmt *s = NULL;
	enum pv_rc rc = PV_OK;
	int src = sqlite3_prepare_v2(db,
	    "INSERT INTO schema_migrations(version, applied_at) "
	    "VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", -1, &s, NULL);

	if (src == SQLITE_OK)
		src = sqlite3_bind_int(s, 1, version);
	if (src == SQLITE_OK)
		src = sqlite3_step(s);
	if (src != SQLITE_DONE)
		rc = store_sqlite_rc(src, "migrate");
	sqlite3_finalize(s);
	return rc;
}

/* Apply migration m in one transaction unless it already is applied. */
static enum pv_rc apply_one(sqlite3 *db, const struct migration *m)
{
	int cur = 0;
	enum pv_rc rc;

	if ((rc = exec_sql(db, "BEGIN IMMEDIATE", "migrate")) != PV_OK)
		return rc;
	if ((rc = read_version(db, &cur)) != PV_OK)
		goto out;
	if (cur >= m->version)
		goto out;   /* another process got here first */
	if ((rc = exec_sql(db, m->sql, "migrate")) != PV_OK ||
	    (rc = record_applied(db, m->version)) != PV_OK)
		goto out;
	log_info("store: applied schema migration %d", m->version);
out:
	if (rc == PV_OK)
		rc = exec_sql(db, "COMMIT", "migrate");
	if (rc != PV_OK && !sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

enum pv_rc store_sqlite_migrate(sqlite3 *db, int *version)
{
	int cur = 0;
	enum pv_rc rc;

	for (size_t i = 0; i < N_MIGRATIONS; i++)
		assert(migrations[i].version == (int)i + 1);
	rc = exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_migrations("
	    "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)", "migrate");
	if (rc != PV_OK || (rc = read_version(db, &cur)) != PV_OK ||
	    (rc = check_known(cur)) != PV_OK)
		return rc;
	for (size_t i = 0; i < N_MIGRATIONS; i++) {
		if (migrations[i].version <= cur)
			continue;
		if ((rc = apply_one(db, &migrations[i])) != PV_OK)
			return rc;
	}
	if ((rc = read_version(db, &cur)) != PV_OK || (rc = check_known(cur)) != PV_OK)
		return rc;
	*version = cur;
	return PV_OK;
}

enum pv_rc store_sqlite_schema_read(sqlite3 *db, int *version)
{
	sqlite3_stmt *s = NULL;
	enum pv_rc rc = PV_OK;
	int cur = 0;
	int src = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name = 'schema_migrations'", -1, &s, NULL);

	if (src == SQLITE_OK)
		src = sqlite3_step(s);
	if (src != SQLITE_ROW) {
		rc = store_sqlite_rc(src, "schema_version");
	} else if (sqlite3_column_int(s, 0) != 1) {
		log_error("store: not a phivault database (no schema_migrations)");
		rc = PV_E_CONFIG;
	}
	sqlite3_finalize(s);
	if (rc != PV_OK || (rc = read_version(db, &cur)) != PV_OK ||
	    (rc = check_known(cur)) != PV_OK)
		return rc;
	*version = cur;
	return PV_OK;
}
