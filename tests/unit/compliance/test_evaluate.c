/*
 * test_evaluate: each evaluator over a hand-built state: pass on a state
 * that satisfies it, fail once the one fact it checks is flipped, with the
 * evidence naming what it saw. No store, no clock: the state's now_ms is
 * the only time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "compliance/compliance_int.h"

#define DAY (86400000LL)

struct fixture {
	struct pv_config cfg;
	struct compliance_state s;
	struct compliance_user users[2];
	struct compliance_role roles[2];
	struct compliance_key keys[1];
};

static int
setup(void **state)
{
	static struct fixture f;
	struct compliance_state *s = &f.s;

	memset(&f, 0, sizeof f);
	config_defaults(&f.cfg, "/nonexistent");
	s->cfg = &f.cfg;
	s->now_ms = 1000 * DAY;
	s->head_seq = 10;
	s->cert_read = true;
	s->cert_not_after_ms = s->now_ms + 100 * DAY;
	strcpy(s->cert_key_type, "EC");
	s->cert_key_bits = 256;
	strcpy(f.users[0].id, "usr_clin");
	f.users[0].mfa = true;
	f.users[0].created_ms = s->now_ms - 200 * DAY;
	f.users[0].last_active_ms = s->now_ms - DAY;
	f.users[0].nroles = 1;
	strcpy(f.users[0].roles[0], "clinician");
	strcpy(f.users[0].created_by, "usr_admin");
	strcpy(f.users[1].id, "usr_admin");
	f.users[1].mfa = true;
	f.users[1].created_ms = s->now_ms - 200 * DAY;
	f.users[1].last_active_ms = s->now_ms - 2 * DAY;
	f.users[1].nroles = 1;
	strcpy(f.users[1].roles[0], "admin");
	s->users = f.users;
	s->nusers = 2;
	strcpy(f.roles[0].name, "clinician");
	f.roles[0].phi = true;
	strcpy(f.roles[1].name, "admin");
	s->roles = f.roles;
	s->nroles = 2;
	strcpy(f.keys[0].name, "collection:patients");
	f.keys[0].active_version = 1;
	f.keys[0].active_created_ms = s->now_ms - 10 * DAY;
	f.keys[0].nversions = 1;
	f.keys[0].versions[0].version = 1;
	f.keys[0].versions[0].state = "active";
	f.keys[0].versions[0].objects = 3;
	s->keys = f.keys;
	s->nkeys = 1;
	s->audit_ok = true;
	s->audit_entries = 10;
	s->audit_checkpoints = 1;
	s->last_checkpoint_seq = 10;
	s->last_checkpoint_ms = s->now_ms;
	s->nsinks = 1;
	strcpy(s->sinks[0].name, "syslog");
	s->sinks[0].cursor_seq = 10;
	s->nfiles = 2;
	strcpy(s->files[0].path, ".");
	s->files[0].present = true;
	s->files[0].mode = 0700;
	s->files[0].max_mode = 0700;
	strcpy(s->files[1].path, "phivault.db");
	s->files[1].present = true;
	s->files[1].mode = 0600;
	s->files[1].max_mode = 0600;
	s->proc.observed = true;
	s->proc.seccomp = true;
	s->proc.core_dumps_off = true;
	s->proc.no_new_privs = true;
	*state = &f;
	return 0;
}

static enum compliance_status
run(const char *id, struct fixture *f, json_t **evidence)
{
	enum compliance_status st;
	json_t *e = NULL;

	assert_int_equal(compliance_evaluate(id, &f->s, &st, &e), PV_OK);
	if (evidence != NULL)
		*evidence = e;
	else
		json_decref(e);
	return st;
}

static void
test_unknown_evaluator(void **state)
{
	enum compliance_status st;
	json_t *e = NULL;

	assert_int_equal(compliance_evaluate("no_such", &((struct fixture *)*state)->s, &st, &e),
	    PV_E_NOTFOUND);
}

static void
test_tls_config(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_PASS);
	f->s.cert_not_after_ms = f->s.now_ms - 1;   /* expired */
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_FAIL);
	/* 7 days or less left fails too: the lapse is due before anyone acts */
	f->s.cert_not_after_ms = f->s.now_ms + 7 * DAY;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_FAIL);
	f->s.cert_not_after_ms = f->s.now_ms + 8 * DAY;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_PASS);
	strcpy(f->s.cert_key_type, "RSA");
	f->s.cert_key_bits = 1024;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_FAIL);
	f->s.cert_key_bits = 3072;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_PASS);
	/* weaker than policy: EC below 256 bits, a SHA-1 signature */
	strcpy(f->s.cert_key_type, "EC");
	f->s.cert_key_bits = 224;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_FAIL);
	f->s.cert_key_bits = 256;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_PASS);
	f->s.cert_sig_sha1 = true;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_FAIL);
	f->s.cert_sig_sha1 = false;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_PASS);
	f->s.cert_read = false;
	assert_int_equal(run("tls_config", f, NULL), COMPLIANCE_FAIL);
}

static void
test_mfa_coverage(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("mfa_coverage", f, NULL), COMPLIANCE_PASS);
	f->users[0].mfa = false;
	assert_int_equal(run("mfa_coverage", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "users_without_mfa")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "required_but_missing")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e,
	    "without_mfa_by_role"), "clinician")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(e,
	    "user_ids_without_mfa"), 0)), "usr_clin");
	json_decref(e);
	/* mfa_required = admins: a clinician without MFA is within policy */
	f->cfg.mfa_required = CONFIG_MFA_ADMINS;
	assert_int_equal(run("mfa_coverage", f, NULL), COMPLIANCE_PASS);
	f->users[1].mfa = false;
	assert_int_equal(run("mfa_coverage", f, NULL), COMPLIANCE_FAIL);
	/* a disabled user does not count */
	f->users[1].disabled = true;
	assert_int_equal(run("mfa_coverage", f, NULL), COMPLIANCE_PASS);
	f->cfg.mfa_required = CONFIG_MFA_OFF;
	assert_int_equal(run("mfa_coverage", f, NULL), COMPLIANCE_FAIL);
}

static void
test_inactive_users(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("inactive_users", f, NULL), COMPLIANCE_PASS);
	f->users[0].last_active_ms = f->s.now_ms - 91 * DAY;
	assert_int_equal(run("inactive_users", f, &e), COMPLIANCE_FAIL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e,
	    "inactive"), 0), "id")), "usr_clin");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(e,
	    "inactive"), 0), "days_inactive")), 91);
	json_decref(e);
	f->cfg.compliance_inactive_days = 120;
	assert_int_equal(run("inactive_users", f, NULL), COMPLIANCE_PASS);
	/* never active: counted from its creation */
	f->cfg.compliance_inactive_days = 90;
	f->users[0].last_active_ms = 0;
	assert_int_equal(run("inactive_users", f, NULL), COMPLIANCE_FAIL);
	f->users[0].disabled = true;
	assert_int_equal(run("inactive_users", f, NULL), COMPLIANCE_PASS);
}

static void
test_phi_access(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("phi_access", f, &e), COMPLIANCE_PASS);
	assert_int_equal(json_integer_value(json_object_get(e, "accounts_with_phi_access")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e,
	    "accounts"), 0), "granted_by")), "usr_admin");
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(e, "accounts"), 0),
	    "approved_by")));
	json_decref(e);
	/* the officer who approved the grant (dual control) is named */
	for (size_t i = 0; i < f->s.nusers; i++)
		if (f->s.users[i].nroles > 0 && strcmp(f->s.users[i].roles[0], "clinician") == 0)
			strcpy(f->s.users[i].approved_by, "usr_officer");
	assert_int_equal(run("phi_access", f, &e), COMPLIANCE_PASS);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e,
	    "accounts"), 0), "approved_by")), "usr_officer");
	json_decref(e);
	/* separation of duties: the admin also reads PHI */
	f->users[1].nroles = 2;
	strcpy(f->users[1].roles[1], "clinician");
	assert_int_equal(run("phi_access", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e,
	    "separation_of_duties_conflicts")), 1);
	json_decref(e);
}

static void
test_elevations(void **state)
{
	struct fixture *f = *state;
	struct compliance_elevation ev[2];
	json_t *e = NULL;

	memset(ev, 0, sizeof(ev));
	strcpy(ev[0].id, "elv_a");
	strcpy(ev[0].user_id, "usr_kim");
	strcpy(ev[0].role, "auditor");
	strcpy(ev[0].status, "active");
	strcpy(ev[0].approved_by, "usr_so");
	ev[0].starts_ms = f->s.now_ms - 1000;
	ev[0].expires_ms = ev[0].starts_ms + 600 * 1000;
	ev[1] = ev[0];
	strcpy(ev[1].id, "elv_b");
	strcpy(ev[1].status, "expired");
	f->s.elevations = ev;
	f->s.nelevations = 2;
	f->cfg.elevation_max_s = 3600;
	assert_int_equal(run("elevations", f, &e), COMPLIANCE_PASS);
	assert_int_equal(json_integer_value(json_object_get(e, "elevations_granted")), 2);
	assert_int_equal(json_integer_value(json_object_get(e, "active")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e,
	    "granted"), 0), "approved_by")), "usr_so");
	json_decref(e);
	/* approved by its own requester */
	strcpy(ev[1].approved_by, "usr_kim");
	assert_int_equal(run("elevations", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "self_approved")), 1);
	json_decref(e);
	/* longer than [elevation] max_s */
	strcpy(ev[1].approved_by, "usr_so");
	ev[0].expires_ms = ev[0].starts_ms + 3601 * 1000LL;
	assert_int_equal(run("elevations", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "longer_than_max")), 1);
	json_decref(e);
	f->s.elevations = NULL;
	f->s.nelevations = 0;
}

static void
test_key_rotation(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("key_rotation", f, NULL), COMPLIANCE_PASS);
	f->keys[0].active_created_ms = f->s.now_ms - 366 * DAY;
	assert_int_equal(run("key_rotation", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "overdue")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(e,
	    "census"), 0), "max_age_days")), 365);
	json_decref(e);
	/* the key's own policy wins over [compliance] key_rotation_days */
	f->keys[0].rotate_every_s = 400 * 86400;
	assert_int_equal(run("key_rotation", f, NULL), COMPLIANCE_PASS);
	f->keys[0].rotate_every_s = 0;
	f->cfg.compliance_key_rotation_days = 400;
	assert_int_equal(run("key_rotation", f, NULL), COMPLIANCE_PASS);
	f->keys[0].active_version = 0;
	assert_int_equal(run("key_rotation", f, NULL), COMPLIANCE_FAIL);
	assert_int_equal(run("encryption_at_rest", f, NULL), COMPLIANCE_FAIL);
	f->keys[0].active_version = 1;
	assert_int_equal(run("encryption_at_rest", f, NULL), COMPLIANCE_PASS);
}

static void
test_audit_chain(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run("audit_chain", f, NULL), COMPLIANCE_PASS);
	f->s.audit_ok = false;
	f->s.audit_first_bad_seq = 4;
	assert_int_equal(run("audit_chain", f, NULL), COMPLIANCE_FAIL);
	f->s.audit_ok = true;
	/* checkpoints stopped: more unsigned entries than checkpoint_every */
	f->s.head_seq = f->s.last_checkpoint_seq + f->cfg.checkpoint_every + 1;
	assert_int_equal(run("audit_chain", f, NULL), COMPLIANCE_FAIL);
	f->s.head_seq = f->s.last_checkpoint_seq + f->cfg.checkpoint_every;
	assert_int_equal(run("audit_chain", f, NULL), COMPLIANCE_PASS);
}

static void
test_sink_health(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run("sink_health", f, NULL), COMPLIANCE_PASS);
	strcpy(f->s.sinks[0].last_error, "connect refused");
	assert_int_equal(run("sink_health", f, NULL), COMPLIANCE_FAIL);
	f->s.sinks[0].last_error[0] = '\0';
	f->s.sinks[0].lag = f->cfg.detect_sink_lag_max + 1;
	assert_int_equal(run("sink_health", f, NULL), COMPLIANCE_FAIL);
	f->s.nsinks = 0;
	assert_int_equal(run("sink_health", f, NULL), COMPLIANCE_NA);
}

static void
test_alerts_open(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("alerts_open", f, NULL), COMPLIANCE_PASS);
	f->s.alerts_open_high = 2;
	assert_int_equal(run("alerts_open", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e,
	    "open_by_severity"), "high")), 2);
	json_decref(e);
	f->s.alerts_open_high = 0;
	strcpy(f->cfg.detect_enabled, "off");
	assert_int_equal(run("alerts_open", f, NULL), COMPLIANCE_FAIL);
	assert_int_equal(run("login_monitoring", f, NULL), COMPLIANCE_FAIL);
	strcpy(f->cfg.detect_enabled, "on");
	assert_int_equal(run("login_monitoring", f, NULL), COMPLIANCE_PASS);
}

static void
test_datadir_modes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run("datadir_modes", f, NULL), COMPLIANCE_PASS);
	f->s.files[1].mode = 0644;
	assert_int_equal(run("datadir_modes", f, NULL), COMPLIANCE_FAIL);
	f->s.files[1].present = false;   /* an absent file is not judged */
	assert_int_equal(run("datadir_modes", f, NULL), COMPLIANCE_PASS);
	f->s.files[0].mode = 0750;
	assert_int_equal(run("datadir_modes", f, NULL), COMPLIANCE_FAIL);
}

static void
test_process_hardening(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run("process_hardening", f, NULL), COMPLIANCE_PASS);
	f->s.proc.core_dumps_off = false;
	assert_int_equal(run("process_hardening", f, NULL), COMPLIANCE_FAIL);
	f->s.proc.core_dumps_off = true;
	f->s.proc.seccomp = false;
	assert_int_equal(run("process_hardening", f, NULL), COMPLIANCE_FAIL);
	/* offline: what the configuration makes the next serve do */
	f->s.proc.observed = false;
	assert_int_equal(run("process_hardening", f, NULL), COMPLIANCE_PASS);
	strcpy(f->cfg.seccomp, "off");
	assert_int_equal(run("process_hardening", f, NULL), COMPLIANCE_FAIL);
}

static void
test_settings(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run("session_timeouts", f, NULL), COMPLIANCE_PASS);
	f->cfg.idle_timeout_s = 7200;
	assert_int_equal(run("session_timeouts", f, NULL), COMPLIANCE_FAIL);
	assert_int_equal(run("password_policy", f, NULL), COMPLIANCE_PASS);
	f->cfg.password_min_length = 8;
	assert_int_equal(run("password_policy", f, NULL), COMPLIANCE_FAIL);
	assert_int_equal(run("unique_ids", f, NULL), COMPLIANCE_PASS);
	strcpy(f->users[1].id, "usr_clin");
	assert_int_equal(run("unique_ids", f, NULL), COMPLIANCE_FAIL);
}

/* backups: none fails; a recent one with an immutability window passes; too
 * old for the schedule fails; immutable_days 0 fails. */
static void
test_backups(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("backups", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "backups")), 0);
	json_decref(e);
	f->s.backups = 3;
	f->s.last_backup_ms = f->s.now_ms - DAY;
	assert_int_equal(run("backups", f, NULL), COMPLIANCE_PASS);
	f->cfg.backup_every_s = 3600;            /* hourly: a day-old backup is late */
	assert_int_equal(run("backups", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "newest_age_s")), 86400);
	json_decref(e);
	f->cfg.backup_every_s = 86400;
	assert_int_equal(run("backups", f, NULL), COMPLIANCE_PASS);
	f->cfg.backup_immutable_days = 0;
	assert_int_equal(run("backups", f, NULL), COMPLIANCE_FAIL);
}

/* restore drills: none fails; a recent passing one passes; a newer failed
 * one fails; an overdue one fails. */
static void
test_restore_drills(void **state)
{
	struct fixture *f = *state;

	f->cfg.backup_drill_every_s = 86400;
	assert_int_equal(run("restore_drills", f, NULL), COMPLIANCE_FAIL);
	f->s.last_drill_ok_ms = f->s.now_ms - DAY / 2;
	assert_int_equal(run("restore_drills", f, NULL), COMPLIANCE_PASS);
	f->s.last_drill_fail_ms = f->s.now_ms - DAY / 4;
	assert_int_equal(run("restore_drills", f, NULL), COMPLIANCE_FAIL);
	f->s.last_drill_fail_ms = 0;
	f->s.last_drill_ok_ms = f->s.now_ms - 3 * DAY;
	assert_int_equal(run("restore_drills", f, NULL), COMPLIANCE_FAIL);
}

/* retention: never ran fails; a recent run passes; older than twice
 * every_s fails. secrets: an overdue one fails, none passes. */
static void
test_retention_and_secrets(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	f->cfg.retention_every_s = 86400;
	assert_int_equal(run("retention_runs", f, NULL), COMPLIANCE_FAIL);
	f->s.retention_last_run_ms = f->s.now_ms - DAY / 2;
	assert_int_equal(run("retention_runs", f, NULL), COMPLIANCE_PASS);
	f->s.retention_last_run_ms = f->s.now_ms - 3 * DAY;
	assert_int_equal(run("retention_runs", f, NULL), COMPLIANCE_FAIL);
	assert_int_equal(run("secrets_rotation", f, NULL), COMPLIANCE_PASS);
	f->s.secrets_overdue = 1;
	strcpy(f->s.secrets_overdue_paths[0], "apps/billing/db");
	assert_int_equal(run("secrets_rotation", f, &e), COMPLIANCE_FAIL);
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "overdue_paths"),
	    0)), "apps/billing/db");
	json_decref(e);
}

/* break-glass: not applicable until first used; fails on an overdue review */
static void
test_breakglass_reviews(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("breakglass_reviews", f, &e), COMPLIANCE_NA);
	assert_string_equal(json_string_value(json_object_get(e, "note")),
	    "break-glass was never used");
	json_decref(e);
	f->s.bg_grants = 2;
	f->s.bg_reviews_open = 1;
	assert_int_equal(run("breakglass_reviews", f, NULL), COMPLIANCE_PASS);
	f->s.bg_reviews_overdue = 1;
	strcpy(f->s.bg_overdue_ids[0], "rev_late");
	assert_int_equal(run("breakglass_reviews", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "reviews_overdue")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "overdue"), 0)),
	    "rev_late");
	json_decref(e);
}

/* breach scope: not applicable until one is made; the newest first in the
 * evidence; fails while a scope job failed */
static void
test_incidents(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL, *recent;

	assert_int_equal(run("incidents", f, &e), COMPLIANCE_NA);
	json_decref(e);
	f->s.incidents_total = 2;
	f->s.nincidents = 2;
	strcpy(f->s.incidents[0].id, "job_old");
	strcpy(f->s.incidents[0].state, "closed");
	strcpy(f->s.incidents[1].id, "job_new");
	strcpy(f->s.incidents[1].state, "open");
	assert_int_equal(run("incidents", f, &e), COMPLIANCE_PASS);
	recent = json_object_get(e, "recent");
	assert_int_equal(json_array_size(recent), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(recent, 0), "id")),
	    "job_new");
	assert_int_equal(json_integer_value(json_object_get(e, "open")), 1);
	json_decref(e);
	strcpy(f->s.incidents[0].state, "failed");
	assert_int_equal(run("incidents", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "failed")), 1);
	json_decref(e);
}

/* config_drift: the customer's until a baseline exists, then pass with no
 * drift and fail naming each drifted key */
static void
test_config_drift(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	assert_int_equal(run("config_drift", f, NULL), COMPLIANCE_CUSTOMER);
	f->s.baseline_set = true;
	strcpy(f->s.baseline_hash, "ab");
	assert_int_equal(run("config_drift", f, NULL), COMPLIANCE_PASS);
	f->s.ndrift = 1;
	strcpy(f->s.drift_keys[0], "session.idle_timeout_s");
	assert_int_equal(run("config_drift", f, &e), COMPLIANCE_FAIL);
	assert_int_equal(json_integer_value(json_object_get(e, "drift_count")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "drift"), 0)),
	    "session.idle_timeout_s");
	json_decref(e);
	f->s.baseline_set = false;
	f->s.ndrift = 0;
}

static void
test_access_reviews(void **state)
{
	struct fixture *f = *state;
	json_t *e = NULL;

	/* none ever closed */
	assert_int_equal(run("access_reviews", f, &e), COMPLIANCE_FAIL);
	assert_string_equal(json_string_value(json_object_get(e, "why")),
	    "no access review campaign has closed");
	json_decref(e);
	f->s.rv_campaigns = 1;
	f->s.rv_last_closed_ms = f->s.now_ms - 86400000LL;
	strcpy(f->s.rv_last_id, "rvc_q1");
	assert_int_equal(run("access_reviews", f, &e), COMPLIANCE_PASS);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "last_closed"),
	    "id")), "rvc_q1");
	json_decref(e);
	/* an edited result */
	f->s.rv_bad_signatures = 1;
	strcpy(f->s.rv_bad_id, "rvc_q1");
	assert_int_equal(run("access_reviews", f, &e), COMPLIANCE_FAIL);
	assert_string_equal(json_string_value(json_object_get(e, "first_bad")), "rvc_q1");
	json_decref(e);
	f->s.rv_bad_signatures = 0;
	/* one open past its due date */
	f->s.rv_overdue = 1;
	assert_int_equal(run("access_reviews", f, NULL), COMPLIANCE_FAIL);
	f->s.rv_overdue = 0;
	/* older than a year when not scheduled */
	f->s.rv_last_closed_ms = f->s.now_ms - 366LL * 86400000LL;
	assert_int_equal(run("access_reviews", f, NULL), COMPLIANCE_FAIL);
}

static void
test_customer(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run("customer", f, NULL), COMPLIANCE_CUSTOMER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_unknown_evaluator, setup),
		cmocka_unit_test_setup(test_tls_config, setup),
		cmocka_unit_test_setup(test_mfa_coverage, setup),
		cmocka_unit_test_setup(test_inactive_users, setup),
		cmocka_unit_test_setup(test_phi_access, setup),
		cmocka_unit_test_setup(test_elevations, setup),
		cmocka_unit_test_setup(test_key_rotation, setup),
		cmocka_unit_test_setup(test_audit_chain, setup),
		cmocka_unit_test_setup(test_sink_health, setup),
		cmocka_unit_test_setup(test_alerts_open, setup),
		cmocka_unit_test_setup(test_datadir_modes, setup),
		cmocka_unit_test_setup(test_process_hardening, setup),
		cmocka_unit_test_setup(test_settings, setup),
		cmocka_unit_test_setup(test_backups, setup),
		cmocka_unit_test_setup(test_restore_drills, setup),
		cmocka_unit_test_setup(test_retention_and_secrets, setup),
		cmocka_unit_test_setup(test_breakglass_reviews, setup),
		cmocka_unit_test_setup(test_incidents, setup),
		cmocka_unit_test_setup(test_config_drift, setup),
		cmocka_unit_test_setup(test_access_reviews, setup),
		cmocka_unit_test_setup(test_customer, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
