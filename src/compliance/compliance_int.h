/*
 * compliance_int.h: the module's own files and its unit tests.
 *
 * struct compliance_state is everything the evaluators look at, read once
 * by compliance_gather (gather.c); evaluators (evaluate.c) are pure
 * functions of it, so the unit tests build a state by hand and flip each
 * evaluator between pass and fail.
 *
 * Adding an evaluator: one function `static enum compliance_status
 * ev_<id>(const struct compliance_state *, json_t *evidence)`, one row in
 * the table at the end of evaluate.c, and its id in the "evaluators" of the
 * catalog.json controls it evidences (the catalog unit test checks every id
 * exists). If it needs state not read yet, add a field here and read it in
 * gather.c.
 */
#ifndef PV_COMPLIANCE_INT_H
#define PV_COMPLIANCE_INT_H

#include <jansson.h>

#include "compliance/compliance.h"

enum compliance_status {
	COMPLIANCE_PASS = 0,
	COMPLIANCE_FAIL = 1,
	COMPLIANCE_NA = 2,        /* not_applicable */
	COMPLIANCE_CUSTOMER = 3,  /* the customer's duty: nothing phivault can check */
};
const char *compliance_status_name(enum compliance_status s);

#define COMPLIANCE_ROLES_MAX 16
struct compliance_user {
	char id[UTIL_ID_MAX];
	bool disabled;
	bool mfa;
	int64_t created_ms;
	int64_t last_active_ms;      /* newest allowed audit entry as this actor; 0 none */
	size_t nroles;
	char roles[COMPLIANCE_ROLES_MAX][STORE_ROLE_MAX];
	char created_by[UTIL_ID_MAX];
	/* the security officer who approved the newest dual-control request
	 * naming this user (store_campaign_approver on users/<id>), "" none */
	char approved_by[UTIL_ID_MAX];
	int64_t approved_ms;
};

/* A JIT elevation that was granted (approved: starts_ms != 0). */
struct compliance_elevation {
	char id[UTIL_ID_MAX];
	char user_id[UTIL_ID_MAX];
	char role[STORE_ROLE_MAX];
	char status[16];
	char approved_by[UTIL_ID_MAX];
	int64_t starts_ms, expires_ms, duration_s;
};

struct compliance_role {
	char name[STORE_ROLE_MAX];
	bool phi;                    /* grants records.* or tokens.detokenize */
};

#define COMPLIANCE_VERSIONS_MAX 64
struct compliance_key {
	char name[128];
	uint32_t active_version;     /* 0: none active */
	int64_t active_created_ms;
	int64_t rotate_every_s;      /* the key's policy; 0 = none */
	size_t nversions;
	struct {
		uint32_t version;
		const char *state;       /* active | decrypt_only | retired | revoked */
		int64_t objects;
	} versions[COMPLIANCE_VERSIONS_MAX];
};

struct compliance_sink {
	char name[16];
	int64_t cursor_seq;
	int64_t lag;
	char last_error[STORE_SINK_ERROR_MAX];
	bool has_row;
};

#define COMPLIANCE_FILES_MAX 8
struct compliance_file {
	char path[64];               /* relative to the data directory */
	bool present;
	unsigned mode;               /* permission bits */
	unsigned max_mode;           /* 0700 / 0600 */
};

#define COMPLIANCE_INCIDENTS_MAX 16
#define COMPLIANCE_DRIFT_MAX 64   /* drift keys the report names (the count is exact) */
struct compliance_state {
	int64_t now_ms;              /* the time of the audit entry at head_seq */
	int64_t head_seq;
	char head[65];
	const struct pv_config *cfg;
	/* TLS */
	bool cert_read;
	int64_t cert_not_after_ms;
	char cert_key_type[16];      /* "EC" | "RSA" | "Ed25519" | ... */
	int cert_key_bits;
	bool cert_sig_sha1;          /* signed with SHA-1 (below policy) */
	/* directory */
	size_t nusers;
	struct compliance_user *users;
	size_t nroles;
	struct compliance_role *roles;
	/* keys */
	size_t nkeys;
	struct compliance_key *keys;
	/* audit */
	bool audit_ok;
	int64_t audit_entries;
	int64_t audit_checkpoints;
	int64_t audit_first_bad_seq;
	int64_t last_checkpoint_seq;
	int64_t last_checkpoint_ms;  /* 0 if none */
	/* sinks (configured ones only) */
	size_t nsinks;
	struct compliance_sink sinks[4];
	/* backups and restore drills, from the trail (backup.create allowed =
	 * a finished backup; drill.run allowed = a passing drill, error = failed) */
	int64_t backups, last_backup_ms;
	int64_t last_drill_ok_ms, last_drill_fail_ms;
	/* retention: meta retention.last_run_ms (0: never ran) */
	int64_t retention_last_run_ms;
	/* application secrets past rotate_every_s at now_ms (secrets_overdue) */
	int64_t secrets_overdue;
	char secrets_overdue_paths[8][128];  /* the first few, for the evidence */
	/* break-glass (store_breakglass.h): grants ever made, reviews open,
	 * those open past their due time at now_ms (the first few IDs), and the
	 * verdicts */
	int64_t bg_grants, bg_reviews_open, bg_reviews_overdue, bg_inappropriate;
	char bg_overdue_ids[8][UTIL_ID_MAX];
	/* breach scope reports (incident.create allowed in the trail, the
	 * newest COMPLIANCE_INCIDENTS_MAX kept; state from the job row: open,
	 * closed, failed) */
	int64_t incidents_total;
	size_t nincidents;
	struct compliance_incident {
		char id[UTIL_ID_MAX];
		char created[32], since[32], until[32];
		char state[16];
		int64_t seq;
	} incidents[COMPLIANCE_INCIDENTS_MAX];
	/* access review campaigns (store_campaigns.h): campaigns ever, those
	 * open past their due date at now_ms, the newest closed one (its ID,
	 * when, its signature), and the closed ones whose signed result does
	 * not verify under the audit key (how many, the first one's ID) */
	int64_t rv_campaigns, rv_overdue;
	char rv_last_id[UTIL_ID_MAX];
	int64_t rv_last_closed_ms;
	char rv_last_signature[129];
	int64_t rv_bad_signatures;
	char rv_bad_id[UTIL_ID_MAX];
	/* alerts open, by severity */
	int64_t alerts_open_critical, alerts_open_high, alerts_open_medium, alerts_open_low;
	/* data directory */
	size_t nfiles;
	struct compliance_file files[COMPLIANCE_FILES_MAX];
	/* the process */
	struct compliance_process proc;
	/* JIT elevations granted (store_elevation_list, approved ones) */
	size_t nelevations;
	struct compliance_elevation *elevations;
	/* configuration change tracking (tracking.c): the effective
	 * configuration's hash, the baseline an officer approved (meta
	 * compliance.baseline) and the keys that differ from it, and the
	 * exceptions register (meta compliance.exceptions, owned array) */
	char config_hash[65];
	bool baseline_set;
	char baseline_hash[65];
	char baseline_approved_at[32];
	char baseline_approved_by[UTIL_ID_MAX];
	size_t ndrift;
	char drift_keys[COMPLIANCE_DRIFT_MAX][96];
	json_t *exceptions;
};

/* The online service (service.c, tracking.c). */
struct compliance_service {
	struct compliance_deps d;
	struct compliance_process proc;
};

void compliance_state_free(struct compliance_state *s);
/* Read the state (one read transaction for the store part). */
enum pv_rc compliance_gather(const struct compliance_inputs *in, struct compliance_state *out);

typedef enum compliance_status (*compliance_eval_fn)(const struct compliance_state *s,
    json_t *evidence);
struct compliance_evaluator {
	const char *id;
	compliance_eval_fn fn;
};
/* NULL if no evaluator has that id. */
const struct compliance_evaluator *compliance_evaluator_find(const char *id);
/* Run evaluator id: *evidence gets a new object. PV_E_NOTFOUND if unknown. */
enum pv_rc compliance_evaluate(const char *id, const struct compliance_state *s,
    enum compliance_status *status, json_t **evidence);

/* tracking.c: read the baseline and the register into s and compare the
 * baseline with the effective configuration of s->cfg (in gather's read
 * transaction). */
enum pv_rc compliance_tracking_gather(struct store_tx *tx, struct compliance_state *s);
/* The live exception for control cfr at now_ms (the latest-expiring one),
 * or NULL. */
const json_t *compliance_exception_live(const json_t *reg, const char *cfr, int64_t now_ms);
/* An exception's state at now_ms: "live" or "expired". */
const char *compliance_exception_state(const json_t *exc, int64_t now_ms);

/* The embedded catalog (catalog.json), parsed and checked: a new reference. */
enum pv_rc compliance_catalog(json_t **out);
/* Parse and check catalog text: every control has cfr, title, kind,
 * requirement, owner, hitrust, implementation and evaluators of the right
 * types and vocabularies, cfr unique, every evaluator id known. err names
 * the first problem. */
enum pv_rc compliance_catalog_parse(const char *text, size_t len, json_t **out, char *err,
    size_t errlen);

/* The report document (unsigned) from the catalog and the state. */
enum pv_rc compliance_report_build(const json_t *catalog, const struct compliance_state *s,
    const char *mode, json_t **out);
/* Add "digests" and "signature" (Ed25519 with the audit key). */
enum pv_rc compliance_report_sign(json_t *doc, struct keys *k, struct store *st);
/* The file bytes of a signed document in fmt (malloc'd). */
enum pv_rc compliance_render(const json_t *doc, enum compliance_format fmt, char **out,
    size_t *len);

#endif /* PV_COMPLIANCE_INT_H */
