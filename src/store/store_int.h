/*
 * store internals, backend-neutral: the backend ops table that store.c
 * dispatches through (one sub-table per domain, mirroring store_core.h,
 * store_identity.h, store_vault.h, store_keys.h, store_audit.h,
 * store_jobs.h), the handle every backend embeds, the backends' open
 * functions, and the fault hook the backends' statement runners call.
 * No backend type appears here: the SQLite backend's internals are in
 * store_sqlite.h. Not API: only src/store/ and tests/unit/store/ include it.
 *
 * Invariants:
 *  - Every sub-table and every op in it is non-NULL in every backend.
 *  - store.c has already checked that pointer arguments are non-NULL before
 *    an op runs; ops may assume valid pointers.
 *  - Every statement a backend runs for an op first calls store_fault_check
 *    (below) with the op's name (its first statement) or "<op>/<step>".
 *  - Ops write out-parameters only on success and copy data out (malloc'd);
 *    scan callbacks receive pointers valid only during the callback.
 *
 * Extending: a new domain op goes into struct store_ops inside its section's
 * anchors below (its domain's sub-table), a store_* wrapper in store.c, and an
 * implementation in every backend's sub-table for that domain (sqlite.c:
 * core, vault, keys, audit; sqlite_identity.c; sqlite_jobs.c).
 */
#ifndef PV_STORE_INT_H
#define PV_STORE_INT_H

#include "store/store.h"

/* ---- core (store_core.h): lifecycle, transactions, meta */
struct store_core_ops {
	void (*close)(struct store *st);
	void (*pool_set)(struct store *st, unsigned max_connections, unsigned wait_ms);
	int (*schema_version)(struct store *st);
	/* Take a connection (bounded wait) and open the transaction; *out's
	 * base is filled by the backend (st, mode, open = true). */
	enum pv_rc (*begin)(struct store *st, enum store_mode mode, struct store_tx **out);
	enum pv_rc (*commit)(struct store_tx *tx);
	/* Roll back what is not committed, return the connection. Never fails. */
	void (*end)(struct store_tx *tx);
	enum pv_rc (*savepoint)(struct store_tx *tx);
	enum pv_rc (*release)(struct store_tx *tx);
	void (*rollback_savepoint)(struct store_tx *tx);
	enum pv_rc (*meta_get)(struct store_tx *tx, const char *key, uint8_t **val, size_t *len);
	enum pv_rc (*meta_put)(struct store_tx *tx, const char *key, const uint8_t *val, size_t len);
	/* store_import_datadir (store_core.h); the SQLite backend's is a no-op */
	enum pv_rc (*import_datadir)(struct store *st, const char *datadir, bool *moved);
	/* store_epoch_listen / store_epoch_current (store_cluster.h); NULL on a
	 * backend without a listener (SQLite: one process, nothing to hear) */
	enum pv_rc (*epoch_listen)(struct store *st);
	bool (*epoch_known)(struct store *st, int64_t *epoch);
};

/* ---- identity (store_identity.h) ---- */
struct store_identity_ops {
	/* identity:begin */
	enum pv_rc (*user_put)(struct store_tx *tx, const struct store_user *u);
	enum pv_rc (*user_get)(struct store_tx *tx, const char *id, struct store_user *out);
	enum pv_rc (*user_get_by_username)(struct store_tx *tx, const char *username,
	    struct store_user *out);
	enum pv_rc (*user_update)(struct store_tx *tx, const struct store_user *u);
	enum pv_rc (*user_list)(struct store_tx *tx, store_user_cb cb, void *arg);
	enum pv_rc (*user_roles_set)(struct store_tx *tx, const char *user_id,
	    const char *const *roles, size_t n);
	enum pv_rc (*user_roles_get)(struct store_tx *tx, const char *user_id, store_name_cb cb,
	    void *arg);
	enum pv_rc (*user_groups_set)(struct store_tx *tx, const char *user_id,
	    const char *const *groups, size_t n);
	enum pv_rc (*user_groups_get)(struct store_tx *tx, const char *user_id, store_name_cb cb,
	    void *arg);
	enum pv_rc (*role_put)(struct store_tx *tx, const struct store_role *r);
	enum pv_rc (*role_get)(struct store_tx *tx, const char *name, struct store_role *out);
	enum pv_rc (*role_list)(struct store_tx *tx, store_role_cb cb, void *arg);
	enum pv_rc (*group_put)(struct store_tx *tx, const struct store_group *g);
	enum pv_rc (*group_get)(struct store_tx *tx, const char *name, struct store_group *out);
	enum pv_rc (*group_list)(struct store_tx *tx, store_group_cb cb, void *arg);
	enum pv_rc (*session_put)(struct store_tx *tx, const struct store_session *s);
	enum pv_rc (*session_get_by_hash)(struct store_tx *tx, const char *token_hash,
	    struct store_session *out);
	enum pv_rc (*session_touch)(struct store_tx *tx, const char *id, int64_t last_seen_ms);
	enum pv_rc (*session_set_state)(struct store_tx *tx, const char *id, unsigned restrict_flags,
	    bool mfa_verified, int64_t credential_epoch);
	enum pv_rc (*session_end)(struct store_tx *tx, const char *id, int64_t ended_ms,
	    const char *reason);
	enum pv_rc (*session_end_all_for_user)(struct store_tx *tx, const char *user_id,
	    const char *except_id, int64_t ended_ms, const char *reason, size_t *n);
	enum pv_rc (*session_count_open)(struct store_tx *tx, int64_t now_ms, int64_t idle_after_ms,
	    int64_t *n);
	enum pv_rc (*recovery_set)(struct store_tx *tx, const char *user_id,
	    const char *const *code_hashes, size_t n, uint32_t mac_version);
	enum pv_rc (*recovery_unused)(struct store_tx *tx, const char *user_id, store_name_cb cb,
	    void *arg);
	enum pv_rc (*recovery_use)(struct store_tx *tx, const char *user_id, const char *code_hash,
	    int64_t used_ms);
	enum pv_rc (*recovery_version)(struct store_tx *tx, const char *user_id,
	    uint32_t *mac_version);
	enum pv_rc (*lockout_get)(struct store_tx *tx, const char *key, const char *kind,
	    struct store_lockout *out);
	enum pv_rc (*lockout_put)(struct store_tx *tx, const char *key, const char *kind,
	    const struct store_lockout *l);
	enum pv_rc (*lockout_clear)(struct store_tx *tx, const char *key);
	enum pv_rc (*mfa_pending_put)(struct store_tx *tx, const struct store_mfa_pending *p);
	enum pv_rc (*mfa_pending_get)(struct store_tx *tx, const char *token_hash,
	    struct store_mfa_pending *out);
	enum pv_rc (*mfa_pending_attempt)(struct store_tx *tx, const char *token_hash);
	enum pv_rc (*mfa_pending_delete)(struct store_tx *tx, const char *token_hash, int64_t now_ms);
	/* identity:end */
};

/* ---- vault (store_vault.h): collections, records, record cursor scan, blind index, tokens */
struct store_vault_ops {
	/* vault:begin */
	enum pv_rc (*collection_put)(struct store_tx *tx, const struct store_collection *c);
	enum pv_rc (*collection_get)(struct store_tx *tx, const char *name,
	    struct store_collection *out);
	enum pv_rc (*collection_list)(struct store_tx *tx, store_collection_cb cb, void *arg);
	enum pv_rc (*record_put)(struct store_tx *tx, const struct store_record *r);
	enum pv_rc (*record_get)(struct store_tx *tx, const char *collection, const char *id,
	    struct store_record *out);
	enum pv_rc (*record_update)(struct store_tx *tx, const struct store_record *r,
	    uint32_t expected_version);
	enum pv_rc (*record_shred)(struct store_tx *tx, const char *collection, const char *id,
	    int64_t deleted_ms);
	enum pv_rc (*bidx_put)(struct store_tx *tx, const char *collection, const char *field,
	    const uint8_t mac[STORE_MAC_LEN], const char *record_id, uint32_t mac_version);
	enum pv_rc (*bidx_delete)(struct store_tx *tx, const char *collection,
	    const char *record_id, const char *field);
	enum pv_rc (*bidx_lookup)(struct store_tx *tx, const char *collection, const char *field,
	    const uint8_t mac[STORE_MAC_LEN], size_t limit, store_bidx_cb cb, void *arg);
	enum pv_rc (*token_put)(struct store_tx *tx, const struct store_token *t);
	enum pv_rc (*token_get)(struct store_tx *tx, const char *token, struct store_token *out);
	enum pv_rc (*token_get_by_mac)(struct store_tx *tx, const uint8_t mac[STORE_MAC_LEN],
	    struct store_token *out);
	enum pv_rc (*record_scan)(struct store_tx *tx, const char *collection, const char *after_id,
	    size_t limit, store_bidx_cb cb, void *arg);
	enum pv_rc (*record_rewrap)(struct store_tx *tx, const struct store_record *r,
	    uint32_t old_kek_version);
	enum pv_rc (*bidx_delete_below)(struct store_tx *tx, const char *collection,
	    const char *record_id, uint32_t below, int64_t *deleted);
	enum pv_rc (*bidx_count_below)(struct store_tx *tx, const char *collection,
	    const char *record_id, uint32_t below, int64_t *n);
	enum pv_rc (*token_set_subject)(struct store_tx *tx, const char *token, const char *ref);
	enum pv_rc (*token_tombstone_get)(struct store_tx *tx, const char *token,
	    char collection[STORE_NAME_MAX], int64_t *shredded_ms);
	enum pv_rc (*token_scan)(struct store_tx *tx, const char *after, size_t limit,
	    store_token_cb cb, void *arg);
	enum pv_rc (*token_rewrap)(struct store_tx *tx, const struct store_token *t,
	    uint32_t old_kek_version, uint32_t old_mac_version);
	/* vault:end */
};

/* ---- keys (store_keys.h): key-encryption keys */
struct store_keys_ops {
	enum pv_rc (*kek_put)(struct store_tx *tx, const struct store_kek *k);
	enum pv_rc (*kek_get)(struct store_tx *tx, const char *name, uint32_t version,
	    struct store_kek *out);
	enum pv_rc (*kek_latest)(struct store_tx *tx, const char *name, struct store_kek *out);
	enum pv_rc (*kek_set_state)(struct store_tx *tx, const char *name, uint32_t version,
	    enum store_kek_state state);
	enum pv_rc (*kek_scan)(struct store_tx *tx, store_kek_cb cb, void *arg);
	enum pv_rc (*kek_census)(struct store_tx *tx, const char *name, uint32_t version,
	    int64_t *objects);
	enum pv_rc (*kek_destroy)(struct store_tx *tx, const char *name, uint32_t version);
};

/* ---- audit (store_audit.h): audit trail and checkpoints */
struct store_audit_ops {
	enum pv_rc (*audit_append)(struct store_tx *tx, const struct store_audit_row *row);
	enum pv_rc (*audit_head)(struct store_tx *tx, int64_t *seq, char hash[65]);
	enum pv_rc (*audit_scan)(struct store_tx *tx, const struct store_audit_filter *f,
	    store_audit_cb cb, void *arg);
	enum pv_rc (*checkpoint_put)(struct store_tx *tx, const struct store_checkpoint *cp);
	enum pv_rc (*checkpoint_scan)(struct store_tx *tx, store_checkpoint_cb cb, void *arg);
	enum pv_rc (*checkpoint_count)(struct store_tx *tx, int64_t *n);
	/* the subject index (disclosures) */
	enum pv_rc (*audit_subject_put)(struct store_tx *tx, int64_t seq, const char *ref);
	enum pv_rc (*audit_subject_scan)(struct store_tx *tx,
	    const struct store_audit_subject_filter *f, store_audit_cb cb, void *arg);
};

/* ---- jobs (store_jobs.h): background jobs */
struct store_jobs_ops {
	/* jobs:begin */
	enum pv_rc (*job_put)(struct store_tx *tx, const struct store_job *j);
	enum pv_rc (*job_get)(struct store_tx *tx, const char *id, struct store_job *out);
	enum pv_rc (*job_update)(struct store_tx *tx, const struct store_job *j);
	enum pv_rc (*job_list)(struct store_tx *tx, store_job_cb cb, void *arg);
	enum pv_rc (*job_runnable)(struct store_tx *tx, const char *owner, int64_t now_ms,
	    store_job_cb cb, void *arg);
	/* jobs:end */
};

/* ---- sinks (store_sinks.h): delivery cursors of the SIEM sinks */
struct store_sinks_ops {
	enum pv_rc (*sink_cursor_get)(struct store_tx *tx, const char *name,
	    struct store_sink_cursor *out);
	enum pv_rc (*sink_cursor_put)(struct store_tx *tx, const struct store_sink_cursor *c);
};

/* ---- detect (store_detect.h): alerts and the detector's state */
struct store_detect_ops {
	/* detect:begin */
	enum pv_rc (*alert_put)(struct store_tx *tx, const struct store_alert *a);
	enum pv_rc (*alert_get)(struct store_tx *tx, const char *id, struct store_alert *out);
	enum pv_rc (*alert_bump)(struct store_tx *tx, const char *id, int64_t add,
	    int64_t last_seen_ms);
	enum pv_rc (*alert_ack)(struct store_tx *tx, const char *id, const char *note,
	    const char *by, int64_t at_ms);
	enum pv_rc (*alert_list)(struct store_tx *tx, const struct store_alert_filter *f,
	    store_alert_cb cb, void *arg);
	enum pv_rc (*detect_state_get)(struct store_tx *tx, const char *key, char **value);
	enum pv_rc (*detect_state_put)(struct store_tx *tx, const char *key, const char *value,
	    int64_t now_ms);
	/* detect:end */
};

/* ---- policies (store_policy.h): access policies */
struct store_policy_ops {
	/* policies:begin */
	enum pv_rc (*policy_put)(struct store_tx *tx, const struct store_policy *p);
	enum pv_rc (*policy_get)(struct store_tx *tx, const char *name, struct store_policy *out);
	enum pv_rc (*policy_update)(struct store_tx *tx, const struct store_policy *p);
	enum pv_rc (*policy_delete)(struct store_tx *tx, const char *name);
	enum pv_rc (*policy_list)(struct store_tx *tx, store_policy_cb cb, void *arg);
	enum pv_rc (*session_set_mfa)(struct store_tx *tx, const char *id, int64_t mfa_at_ms);
	/* policies:end */
};

/* ---- apps (store_apps.h): workload identities, secrets, sessions */
struct store_apps_ops {
	enum pv_rc (*app_put)(struct store_tx *tx, const struct store_app *a);
	enum pv_rc (*app_get)(struct store_tx *tx, const char *id, struct store_app *out);
	enum pv_rc (*app_update)(struct store_tx *tx, const struct store_app *a);
	enum pv_rc (*app_list)(struct store_tx *tx, store_app_cb cb, void *arg);
	enum pv_rc (*app_secret_put)(struct store_tx *tx, const struct store_app_secret *s);
	enum pv_rc (*app_secret_list)(struct store_tx *tx, const char *app_id,
	    store_app_secret_cb cb, void *arg);
	enum pv_rc (*app_secret_revoke)(struct store_tx *tx, const char *app_id,
	    const char *secret_id, int64_t now_ms);
	enum pv_rc (*app_session_put)(struct store_tx *tx, const struct store_app_session *s);
	enum pv_rc (*app_session_get_by_hash)(struct store_tx *tx, const char *token_hash,
	    struct store_app_session *out);
	enum pv_rc (*app_session_end_all)(struct store_tx *tx, const char *app_id,
	    int64_t now_ms, const char *reason, size_t *n);
	enum pv_rc (*app_session_end)(struct store_tx *tx, const char *id, int64_t now_ms,
	    const char *reason);
	enum pv_rc (*app_cert_revoke)(struct store_tx *tx, const char *app_id,
	    const char *serial, int64_t now_ms, const char *by);
	enum pv_rc (*app_cert_revoked)(struct store_tx *tx, const char *serial, bool *revoked);
	enum pv_rc (*app_session_end_cert)(struct store_tx *tx, const char *app_id,
	    const char *serial, int64_t now_ms, const char *reason, size_t *n);
};

/* ---- backup (store_backup.h): online snapshots */
struct store_backup_ops {
	enum pv_rc (*snapshot)(struct store_tx *tx, const struct store_snapshot_sink *sink,
	    struct store_snapshot_info *out);
};

/* ---- subjects (store_subjects.h): subject keys, links, tombstones */
struct store_subjects_ops {
	enum pv_rc (*subject_put)(struct store_tx *tx, const struct store_subject *s);
	enum pv_rc (*subject_get)(struct store_tx *tx, const char *ref, struct store_subject *out);
	enum pv_rc (*subject_hold)(struct store_tx *tx, const char *ref, const char *reason,
	    const char *by, int64_t now_ms);
	enum pv_rc (*subject_rewrap)(struct store_tx *tx, const struct store_subject *s,
	    uint32_t expected_kek_version);
	enum pv_rc (*subject_scan)(struct store_tx *tx, const char *after_ref, size_t limit,
	    store_bidx_cb cb, void *arg);
	enum pv_rc (*subject_link)(struct store_tx *tx, const char *collection,
	    const char *record_id, const char *ref);
	enum pv_rc (*subject_of_record)(struct store_tx *tx, const char *collection,
	    const char *record_id, char ref[STORE_SUBJECT_REF_LEN + 1]);
	enum pv_rc (*subject_counts)(struct store_tx *tx, const char *ref,
	    store_subject_count_cb cb, void *arg);
	enum pv_rc (*subject_shred)(struct store_tx *tx, const char *ref, int64_t now_ms,
	    store_subject_record_cb cb, void *arg);
	enum pv_rc (*subject_tombstone_get)(struct store_tx *tx, const char *ref,
	    int64_t *shredded_ms);
	enum pv_rc (*subject_tombstone_list)(struct store_tx *tx, const char *after_ref,
	    size_t limit, store_tombstone_cb cb, void *arg);
};

/* ---- secrets (store_secrets.h): application secrets and their versions */
struct store_secrets_ops {
	enum pv_rc (*secret_get)(struct store_tx *tx, const char *path, struct store_secret *out);
	enum pv_rc (*secret_write)(struct store_tx *tx, const struct store_secret *head,
	    const struct store_secret_version *v, uint32_t expected_current);
	enum pv_rc (*secret_version_get)(struct store_tx *tx, const char *path, uint32_t version,
	    struct store_secret_version *out);
	enum pv_rc (*secret_list)(struct store_tx *tx, const char *prefix, store_secret_cb cb,
	    void *arg);
	enum pv_rc (*secret_set_deleted)(struct store_tx *tx, const char *path,
	    int64_t deleted_ms);
	enum pv_rc (*secret_version_destroy)(struct store_tx *tx, const char *path,
	    uint32_t version, int64_t now_ms);
	enum pv_rc (*secret_versions_prune)(struct store_tx *tx, const char *path,
	    uint32_t below, int64_t now_ms, size_t *n);
	enum pv_rc (*secret_version_scan)(struct store_tx *tx, int64_t after_seq, size_t limit,
	    store_secret_version_cb cb, void *arg);
	enum pv_rc (*secret_version_rewrap)(struct store_tx *tx,
	    const struct store_secret_version *v, uint32_t old_kek_version);
};

/* ---- approvals (store_approvals.h): dual control */
struct store_approvals_ops {
	enum pv_rc (*approval_put)(struct store_tx *tx, const struct store_approval *a);
	enum pv_rc (*approval_get)(struct store_tx *tx, const char *id,
	    struct store_approval *out);
	enum pv_rc (*approval_list)(struct store_tx *tx, const char *status,
	    store_approval_cb cb, void *arg);
	enum pv_rc (*approval_decide)(struct store_tx *tx, const char *id, const char *status,
	    const char *decided_by, int64_t decided_ms, const char *note);
	enum pv_rc (*approval_applied)(struct store_tx *tx, const char *kind,
	    const char *target, bool *found);
};

/* ---- webauthn (store_webauthn.h): passkeys, user handles, challenges */
struct store_webauthn_ops {
	enum pv_rc (*cred_put)(struct store_tx *tx, const struct store_webauthn_cred *c);
	enum pv_rc (*cred_get)(struct store_tx *tx, const char *id,
	    struct store_webauthn_cred *out);
	enum pv_rc (*cred_list)(struct store_tx *tx, const char *user_id,
	    store_webauthn_cred_cb cb, void *arg);
	enum pv_rc (*cred_use)(struct store_tx *tx, const char *id, int64_t sign_count,
	    int64_t now_ms);
	enum pv_rc (*cred_delete)(struct store_tx *tx, const char *user_id, const char *id);
	enum pv_rc (*cred_delete_user)(struct store_tx *tx, const char *user_id, size_t *n);
	enum pv_rc (*handle_get)(struct store_tx *tx, const char *user_id,
	    char out[STORE_WEBAUTHN_HANDLE_MAX]);
	enum pv_rc (*handle_put)(struct store_tx *tx, const char *user_id, const char *handle);
	enum pv_rc (*challenge_put)(struct store_tx *tx, const struct store_webauthn_challenge *c,
	    int64_t now_ms);
	enum pv_rc (*challenge_take)(struct store_tx *tx, const char *challenge, int64_t now_ms,
	    struct store_webauthn_challenge *out);
	enum pv_rc (*session_set_mfa_method)(struct store_tx *tx, const char *session_id,
	    const char *method);
};

/* ---- elevations (store_elevations.h): JIT elevation */
struct store_elevations_ops {
	enum pv_rc (*elevation_put)(struct store_tx *tx, const struct store_elevation *e);
	enum pv_rc (*elevation_get)(struct store_tx *tx, const char *id,
	    struct store_elevation *out);
	enum pv_rc (*elevation_list)(struct store_tx *tx, const char *user_id,
	    const char *status, store_elevation_cb cb, void *arg);
	enum pv_rc (*elevation_approve)(struct store_tx *tx, const char *id, const char *by,
	    int64_t starts_ms, int64_t expires_ms);
	enum pv_rc (*elevation_end)(struct store_tx *tx, const char *id, const char *from,
	    const char *to, const char *by, int64_t at_ms);
	enum pv_rc (*eligible_set)(struct store_tx *tx, const char *user_id,
	    const char *const *roles, size_t n);
	enum pv_rc (*eligible_get)(struct store_tx *tx, const char *user_id, store_name_cb cb,
	    void *arg);
};

/* ---- cluster (store_cluster.h): the access epoch */
struct store_cluster_ops {
	enum pv_rc (*epoch_get)(struct store_tx *tx, int64_t *epoch);
	enum pv_rc (*epoch_bump)(struct store_tx *tx);
};

/* ---- oidc (store_oidc.h): pending items, identities, IdP sessions */
struct store_oidc_ops {
	enum pv_rc (*pending_put)(struct store_tx *tx, const struct store_oidc_pending *p,
	    int64_t now_ms);
	enum pv_rc (*pending_take)(struct store_tx *tx, const char *key, const char *kind,
	    int64_t now_ms, struct store_oidc_pending *out);
	enum pv_rc (*pending_get)(struct store_tx *tx, const char *key, const char *kind,
	    int64_t now_ms, struct store_oidc_pending *out);
	enum pv_rc (*identity_get)(struct store_tx *tx, const char *iss, const char *sub,
	    char user_id[UTIL_ID_MAX]);
	enum pv_rc (*identity_put)(struct store_tx *tx, const char *iss, const char *sub,
	    const char *user_id, int64_t now_ms);
	enum pv_rc (*session_put)(struct store_tx *tx, const char *session_id, const char *iss,
	    const char *sid);
	enum pv_rc (*session_by_sid)(struct store_tx *tx, const char *iss, const char *sid,
	    store_oidc_session_cb cb, void *arg);
};

/* ---- breakglass (store_breakglass.h): emergency grants and their reviews */
struct store_breakglass_ops {
	enum pv_rc (*bg_put)(struct store_tx *tx, const struct store_breakglass *g);
	enum pv_rc (*bg_get)(struct store_tx *tx, const char *id, struct store_breakglass *out);
	enum pv_rc (*bg_review_get)(struct store_tx *tx, const char *review_id,
	    struct store_breakglass *out);
	enum pv_rc (*bg_active)(struct store_tx *tx, const char *user_id, int64_t now_ms,
	    struct store_breakglass *out);
	enum pv_rc (*bg_list)(struct store_tx *tx, const char *user_id, const char *review_status,
	    store_breakglass_cb cb, void *arg);
	enum pv_rc (*bg_end)(struct store_tx *tx, const char *id, int64_t ended_ms,
	    const char *end_reason);
	enum pv_rc (*bg_review_decide)(struct store_tx *tx, const char *review_id,
	    const char *status, const char *by, int64_t at_ms, const char *note);
	enum pv_rc (*bg_overdue_mark)(struct store_tx *tx, const char *review_id);
};
/* ---- campaigns (store_campaigns.h): access review campaigns */
struct store_campaigns_ops {
	enum pv_rc (*campaign_put)(struct store_tx *tx, const struct store_campaign *c);
	enum pv_rc (*campaign_get)(struct store_tx *tx, const char *id, struct store_campaign *out);
	enum pv_rc (*campaign_list)(struct store_tx *tx, const char *status, store_campaign_cb cb,
	    void *arg);
	enum pv_rc (*campaign_close)(struct store_tx *tx, const char *id, int64_t closed_ms,
	    const char *result, const char *signature);
	enum pv_rc (*item_put)(struct store_tx *tx, const struct store_campaign_item *i);
	enum pv_rc (*item_get)(struct store_tx *tx, const char *campaign_id, const char *item_id,
	    struct store_campaign_item *out);
	enum pv_rc (*items)(struct store_tx *tx, const char *campaign_id,
	    store_campaign_item_cb cb, void *arg);
	enum pv_rc (*item_decide)(struct store_tx *tx, const char *campaign_id,
	    const char *item_id, const char *decision, const char *by, int64_t at_ms,
	    const char *note);
	enum pv_rc (*last_use)(struct store_tx *tx, const char *kind, const char *id, int64_t *ms);
	enum pv_rc (*approver)(struct store_tx *tx, const char *target, char by[UTIL_ID_MAX],
	    int64_t *ms);
};

/* ---- exports (store_exports.h): de-identified exports and their chunks */
struct store_exports_ops {
	enum pv_rc (*export_put)(struct store_tx *tx, const struct store_export *e);
	enum pv_rc (*export_get)(struct store_tx *tx, const char *id, struct store_export *out);
	enum pv_rc (*export_update)(struct store_tx *tx, const struct store_export *e);
	enum pv_rc (*export_list)(struct store_tx *tx, store_export_cb cb, void *arg);
	enum pv_rc (*export_chunk_put)(struct store_tx *tx, const struct store_export_chunk *c);
	enum pv_rc (*export_chunk_get)(struct store_tx *tx, const char *export_id, int64_t idx,
	    struct store_export_chunk *out);
	enum pv_rc (*export_chunks_delete)(struct store_tx *tx, const char *export_id,
	    int64_t *n);
};

/* The backend's table: one sub-table per domain, so a backend implements
 * (and a conformance test covers) the store domain by domain. Every pointer
 * and every op in each sub-table is non-NULL. */
struct store_ops {
	const struct store_core_ops *core;
	const struct store_identity_ops *identity;
	const struct store_vault_ops *vault;
	const struct store_keys_ops *keys;
	const struct store_audit_ops *audit;
	const struct store_jobs_ops *jobs;
	const struct store_sinks_ops *sinks;
	const struct store_detect_ops *detect;
	const struct store_policy_ops *policy;
	const struct store_apps_ops *apps;
	const struct store_backup_ops *backup;
	const struct store_subjects_ops *subjects;
	const struct store_secrets_ops *secrets;
	const struct store_approvals_ops *approvals;
	const struct store_webauthn_ops *webauthn;
	const struct store_cluster_ops *cluster;
	const struct store_oidc_ops *oidc;
	const struct store_elevations_ops *elevations;
	const struct store_breakglass_ops *breakglass;
	const struct store_exports_ops *exports;
	const struct store_campaigns_ops *campaigns;
};

struct store_sql_runner;   /* SQL backends' statement runners (store_sqlite.h) */

/* The handle every backend embeds as its first member. */
struct store {
	const struct store_ops *ops;
	/* A SQL backend's runners, through which the shared op code runs its
	 * statements (sqlite.c, postgres.c); NULL for a backend without SQL. */
	const struct store_sql_runner *sql;
	/* Other processes (nodes) may write the same database (store_shared). */
	bool shared;
};

/* A transaction handle: every backend embeds it as the first member of its
 * own transaction (the SQLite backend: in the pooled connection it holds).
 * store.c reads it to refuse ops on a handle that is not open
 * (PV_E_INVALID) and write ops on a STORE_RD one (PV_E_READONLY), the same
 * way for every backend. */
struct store_tx {
	struct store *st;
	enum store_mode mode;
	bool open;          /* begun; not yet committed or ended */
	/* the access epoch this transaction moved to (0: none; a backend with
	 * a listener waits, bounded, until its listener heard it after COMMIT) */
	int64_t epoch_bumped;
};

/* ---- backends: open functions (store.c picks one by name) ---- */
enum pv_rc store_sqlite_open(const char *datadir, bool read_only, struct store **out);
/* postgres.c: url is a libpq conninfo (store_pg.h) */
enum pv_rc store_pg_open(const char *url, bool read_only, struct store **out);

/* ---- fault injection, for the backends' statement runners ----
 * PV_E_IO if a test armed op (store_fault_set) or named it in
 * PHIVAULT_FAULT_FILE; PV_OK otherwise. A stub returning PV_OK in the
 * shipped binary (store.c without PV_FAULT_INJECTION). */
enum pv_rc store_fault_check(const char *op);

#endif /* PV_STORE_INT_H */
