/*
 * compliance/evaluate.c: the evaluators, pure functions of a
 * struct compliance_state (compliance_int.h). Each returns pass, fail,
 * not_applicable or customer and fills the evidence object with what it
 * looked at: numbers, setting names, user and key IDs; never a username,
 * a record value or a secret. The time is the state's now_ms (the audit
 * head entry's time), never the wall clock, so the same state evaluates
 * the same.
 *
 * Adding one: a function below and a row in `evaluators` at the end, then
 * its id in catalog.json (compliance_int.h says the whole recipe).
 */
#include <stdio.h>
#include <string.h>

#include "compliance/compliance_int.h"

#define DAY_MS 86400000LL

const char *
compliance_status_name(enum compliance_status s)
{
	switch (s) {
	case COMPLIANCE_PASS: return "pass";
	case COMPLIANCE_FAIL: return "fail";
	case COMPLIANCE_NA: return "not_applicable";
	case COMPLIANCE_CUSTOMER: return "customer";
	}
	return "fail";
}

static void
set_int(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void
set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v != NULL ? v : ""));
}

static bool
has_role(const struct compliance_user *u, const char *role)
{
	for (size_t i = 0; i < u->nroles; i++)
		if (strcmp(u->roles[i], role) == 0)
			return true;
	return false;
}

static bool
role_is_phi(const struct compliance_state *s, const char *role)
{
	for (size_t i = 0; i < s->nroles; i++)
		if (strcmp(s->roles[i].name, role) == 0)
			return s->roles[i].phi;
	return false;
}

/* [auth] mfa_required as it applies to this user (authn/service.c's rule). */
static bool
mfa_required_for(const struct compliance_state *s, const struct compliance_user *u)
{
	switch (s->cfg->mfa_required) {
	case CONFIG_MFA_ALL:
		return true;
	case CONFIG_MFA_OFF:
		return false;
	case CONFIG_MFA_ADMINS:
		break;
	}
	return has_role(u, "admin") || has_role(u, "key_admin");
}

/* Count per role name into an object {"role": n}; "(none)" for no role. */
static void
count_roles(json_t *by_role, const struct compliance_user *u)
{
	if (u->nroles == 0) {
		json_t *v = json_object_get(by_role, "(none)");
		set_int(by_role, "(none)", v ? json_integer_value(v) + 1 : 1);
		return;
	}
	for (size_t i = 0; i < u->nroles; i++) {
		json_t *v = json_object_get(by_role, u->roles[i]);
		set_int(by_role, u->roles[i], v ? json_integer_value(v) + 1 : 1);
	}
}

static enum compliance_status
ev_tls_config(const struct compliance_state *s, json_t *e)
{
	bool ok = true;
	int64_t days;

	set_str(e, "tls.min_version", s->cfg->tls_min_version);
	set_str(e, "cipher_policy", "TLS 1.2 AEAD suites with ECDHE, TLS 1.3 (src/http/server.c)");
	if (strcmp(s->cfg->tls_min_version, "1.2") != 0 && strcmp(s->cfg->tls_min_version, "1.3") != 0)
		ok = false;
	if (!s->cert_read) {
		set_str(e, "certificate", "unreadable");
		return COMPLIANCE_FAIL;
	}
	days = (s->cert_not_after_ms - s->now_ms) / DAY_MS;
	set_int(e, "certificate_days_left", days);
	set_str(e, "certificate_key_type", s->cert_key_type);
	set_int(e, "certificate_key_bits", s->cert_key_bits);
	set_str(e, "certificate_signature", s->cert_sig_sha1 ? "SHA-1" : "SHA-2 or better");
	/* expired, or 7 days or less left: a lapse is due before anyone acts
	 * (an ACME client renews at 30 days left; the watcher alerts at 30/7/1) */
	if (s->cert_not_after_ms - s->now_ms <= 7 * DAY_MS)
		ok = false;
	if (strcmp(s->cert_key_type, "RSA") == 0 && s->cert_key_bits < 2048)
		ok = false;
	if (strcmp(s->cert_key_type, "EC") == 0 && s->cert_key_bits < 256)
		ok = false;
	if (s->cert_sig_sha1)
		ok = false;
	if (strcmp(s->cert_key_type, "RSA") != 0 && strcmp(s->cert_key_type, "EC") != 0 &&
	    strcmp(s->cert_key_type, "Ed25519") != 0)
		ok = false;
	return ok ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_mfa_coverage(const struct compliance_state *s, json_t *e)
{
	static const char *const names[] = { "all", "admins", "off" };
	json_t *by_role = json_object(), *ids = json_array();
	int64_t active = 0, without = 0, missing = 0;

	set_str(e, "auth.mfa_required", names[s->cfg->mfa_required]);
	for (size_t i = 0; i < s->nusers; i++) {
		const struct compliance_user *u = &s->users[i];

		if (u->disabled)
			continue;
		active++;
		if (u->mfa)
			continue;
		without++;
		if (mfa_required_for(s, u))
			missing++;
		count_roles(by_role, u);
		json_array_append_new(ids, json_string(u->id));
	}
	set_int(e, "active_users", active);
	set_int(e, "users_without_mfa", without);
	/* those the policy requires MFA of and who have not enrolled yet */
	set_int(e, "required_but_missing", missing);
	json_object_set_new(e, "without_mfa_by_role", by_role);
	json_object_set_new(e, "user_ids_without_mfa", ids);
	if (s->cfg->mfa_required == CONFIG_MFA_OFF)
		return COMPLIANCE_FAIL;
	return missing == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_inactive_users(const struct compliance_state *s, json_t *e)
{
	json_t *ids = json_array();
	int64_t limit = (int64_t)s->cfg->compliance_inactive_days * DAY_MS, n = 0;

	set_int(e, "compliance.inactive_days", s->cfg->compliance_inactive_days);
	for (size_t i = 0; i < s->nusers; i++) {
		const struct compliance_user *u = &s->users[i];
		int64_t last = u->last_active_ms > u->created_ms ? u->last_active_ms : u->created_ms;

		if (u->disabled || s->now_ms - last <= limit)
			continue;
		n++;
		json_array_append_new(ids, json_pack("{s:s, s:I}", "id", u->id, "days_inactive",
		    (json_int_t)((s->now_ms - last) / DAY_MS)));
	}
	set_int(e, "inactive_users", n);
	json_object_set_new(e, "inactive", ids);
	return n == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

/*
 * Accounts with PHI access (a role granting records.* or tokens.detokenize)
 * and how they got it. Today that is who created the account (created_by);
 * the approvals of dual control slot in as another field per account and a
 * fail for a grant without one. Separation of duties fails the check: an
 * account holding a PHI role together with admin or key_admin.
 */
static enum compliance_status
ev_phi_access(const struct compliance_state *s, json_t *e)
{
	json_t *roles = json_array(), *accts = json_array(), *by_role = json_object();
	int64_t n = 0, sod = 0;

	for (size_t i = 0; i < s->nroles; i++)
		if (s->roles[i].phi)
			json_array_append_new(roles, json_string(s->roles[i].name));
	for (size_t i = 0; i < s->nusers; i++) {
		const struct compliance_user *u = &s->users[i];
		bool phi = false, admin;

		if (u->disabled)
			continue;
		for (size_t j = 0; j < u->nroles; j++)
			if (role_is_phi(s, u->roles[j]))
				phi = true;
		if (!phi)
			continue;
		n++;
		admin = has_role(u, "admin") || has_role(u, "key_admin");
		if (admin)
			sod++;
		count_roles(by_role, u);
		json_array_append_new(accts, json_pack("{s:s, s:s, s:s?, s:b}", "id", u->id,
		    "granted_by", u->created_by[0] ? u->created_by : "init",
		    "approved_by", u->approved_by[0] ? u->approved_by : NULL,
		    "also_administers", admin));
	}
	json_object_set_new(e, "phi_roles", roles);
	set_int(e, "accounts_with_phi_access", n);
	json_object_set_new(e, "by_role", by_role);
	json_object_set_new(e, "accounts", accts);
	set_int(e, "separation_of_duties_conflicts", sod);
	set_str(e, "approvals", "a PHI role or group takes effect only once a security officer "
	    "approves it (dual control); approved_by names that officer, null for a grant made "
	    "by init or before dual control");
	return sod == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_key_rotation(const struct compliance_state *s, json_t *e)
{
	json_t *keys = json_array();
	int64_t overdue = 0, def = (int64_t)s->cfg->compliance_key_rotation_days * DAY_MS;

	set_int(e, "compliance.key_rotation_days", s->cfg->compliance_key_rotation_days);
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct compliance_key *k = &s->keys[i];
		int64_t max = k->rotate_every_s > 0 ? k->rotate_every_s * 1000 : def;
		int64_t age = s->now_ms - k->active_created_ms;
		json_t *vs = json_array(), *o;
		bool late = k->active_version == 0 || age > max;

		for (size_t j = 0; j < k->nversions; j++)
			if (k->versions[j].objects > 0 || j + 1 == k->nversions)
				json_array_append_new(vs, json_pack("{s:I, s:s, s:I}", "version",
				    (json_int_t)k->versions[j].version, "state", k->versions[j].state,
				    "objects", (json_int_t)k->versions[j].objects));
		o = json_pack("{s:s, s:I, s:I, s:I, s:b, s:o}", "name", k->name, "active_version",
		    (json_int_t)k->active_version, "active_age_days", (json_int_t)(age / DAY_MS),
		    "max_age_days", (json_int_t)(max / DAY_MS), "overdue", late,
		    "versions_in_use", vs);
		json_array_append_new(keys, o);
		if (late)
			overdue++;
	}
	set_int(e, "keys", (int64_t)s->nkeys);
	set_int(e, "overdue", overdue);
	json_object_set_new(e, "census", keys);
	return overdue == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_encryption_at_rest(const struct compliance_state *s, json_t *e)
{
	int64_t without = 0, revoked_in_use = 0;

	for (size_t i = 0; i < s->nkeys; i++) {
		if (s->keys[i].active_version == 0)
			without++;
		for (size_t j = 0; j < s->keys[i].nversions; j++)
			if (strcmp(s->keys[i].versions[j].state, "revoked") == 0 &&
			    s->keys[i].versions[j].objects > 0)
				revoked_in_use++;
	}
	set_str(e, "cipher", "AES-256-GCM, a DEK per record under versioned KEKs");
	set_int(e, "keys", (int64_t)s->nkeys);
	set_int(e, "keys_without_active_version", without);
	set_int(e, "objects_under_revoked_versions", revoked_in_use);
	return without == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

/* Chain verified; unsigned entries at most checkpoint_every (the count
 * trigger of the writer: more means checkpoints stopped being written). */
static enum compliance_status
ev_audit_chain(const struct compliance_state *s, json_t *e)
{
	int64_t unsigned_n = s->head_seq - s->last_checkpoint_seq;

	json_object_set_new(e, "verified", json_boolean(s->audit_ok));
	set_int(e, "entries", s->audit_entries);
	set_int(e, "checkpoints", s->audit_checkpoints);
	if (!s->audit_ok)
		set_int(e, "first_bad_seq", s->audit_first_bad_seq);
	set_int(e, "last_checkpoint_seq", s->last_checkpoint_seq);
	set_int(e, "entries_after_last_checkpoint", unsigned_n);
	set_int(e, "checkpoint_age_s", s->last_checkpoint_ms > 0 ?
	    (s->now_ms - s->last_checkpoint_ms) / 1000 : -1);
	set_int(e, "audit.checkpoint_every", s->cfg->checkpoint_every);
	if (!s->audit_ok || unsigned_n > s->cfg->checkpoint_every)
		return COMPLIANCE_FAIL;
	return COMPLIANCE_PASS;
}

static enum compliance_status
ev_sink_health(const struct compliance_state *s, json_t *e)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < s->nsinks; i++) {
		const struct compliance_sink *k = &s->sinks[i];

		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s}", "name", k->name,
		    "cursor_seq", (json_int_t)k->cursor_seq, "lag", (json_int_t)k->lag,
		    "last_error", k->last_error));
		if (k->last_error[0] != '\0' || k->lag > s->cfg->detect_sink_lag_max)
			ok = false;
	}
	json_object_set_new(e, "sinks", arr);
	set_int(e, "detect.sink_lag_max", s->cfg->detect_sink_lag_max);
	if (s->nsinks == 0) {
		set_str(e, "note", "no SIEM sink configured ([sinks])");
		return COMPLIANCE_NA;
	}
	return ok ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_alerts_open(const struct compliance_state *s, json_t *e)
{
	int64_t n = s->alerts_open_critical + s->alerts_open_high + s->alerts_open_medium +
	    s->alerts_open_low;

	json_object_set_new(e, "open_by_severity", json_pack("{s:I, s:I, s:I, s:I}",
	    "critical", (json_int_t)s->alerts_open_critical, "high",
	    (json_int_t)s->alerts_open_high, "medium", (json_int_t)s->alerts_open_medium, "low",
	    (json_int_t)s->alerts_open_low));
	set_int(e, "open", n);
	set_str(e, "detect.enabled", s->cfg->detect_enabled);
	if (strcmp(s->cfg->detect_enabled, "on") != 0)
		return COMPLIANCE_FAIL;
	return n == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_login_monitoring(const struct compliance_state *s, json_t *e)
{
	set_str(e, "detect.enabled", s->cfg->detect_enabled);
	set_int(e, "detect.brute_force_failures", s->cfg->detect_brute_force_failures);
	set_int(e, "auth.lockout_threshold", s->cfg->lockout_threshold);
	return strcmp(s->cfg->detect_enabled, "on") == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_datadir_modes(const struct compliance_state *s, json_t *e)
{
	json_t *arr = json_array();
	bool ok = true;

	for (size_t i = 0; i < s->nfiles; i++) {
		const struct compliance_file *f = &s->files[i];
		char mode[8];

		if (!f->present)
			continue;
		snprintf(mode, sizeof mode, "%04o", f->mode);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b}", "path", f->path, "mode",
		    mode, "ok", (f->mode & ~f->max_mode) == 0));
		if ((f->mode & ~f->max_mode) != 0)
			ok = false;
	}
	json_object_set_new(e, "files", arr);
	return ok ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_process_hardening(const struct compliance_state *s, json_t *e)
{
	bool seccomp = s->proc.observed ? s->proc.seccomp : strcmp(s->cfg->seccomp, "on") == 0;

	set_str(e, "source", s->proc.observed ? "running server" : "configuration (offline)");
	json_object_set_new(e, "seccomp", json_boolean(seccomp));
	set_str(e, "server.seccomp", s->cfg->seccomp);
	if (s->proc.observed) {
		json_object_set_new(e, "core_dumps_off", json_boolean(s->proc.core_dumps_off));
		json_object_set_new(e, "no_new_privs", json_boolean(s->proc.no_new_privs));
		json_object_set_new(e, "dev", json_boolean(s->proc.dev));
	}
	set_str(e, "key_memory", "mlock()ed, MADV_DONTDUMP, wiped on release (crypto_secret_*)");
	if (!seccomp)
		return COMPLIANCE_FAIL;
	if (s->proc.observed && (!s->proc.core_dumps_off || !s->proc.no_new_privs))
		return COMPLIANCE_FAIL;
	return COMPLIANCE_PASS;
}

static enum compliance_status
ev_session_timeouts(const struct compliance_state *s, json_t *e)
{
	set_int(e, "session.idle_timeout_s", s->cfg->idle_timeout_s);
	set_int(e, "session.absolute_timeout_s", s->cfg->absolute_timeout_s);
	return s->cfg->idle_timeout_s > 0 && s->cfg->idle_timeout_s <= 3600 &&
	    s->cfg->absolute_timeout_s > 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_password_policy(const struct compliance_state *s, json_t *e)
{
	set_int(e, "auth.password_min_length", s->cfg->password_min_length);
	set_int(e, "auth.lockout_threshold", s->cfg->lockout_threshold);
	set_int(e, "auth.argon2_memlimit", (int64_t)s->cfg->argon2_memlimit);
	/* NIST SP 800-63B 5.1.1.2: at least 8; phivault's default and floor are 12 */
	return s->cfg->password_min_length >= 12 && s->cfg->lockout_threshold > 0 ?
	    COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_unique_ids(const struct compliance_state *s, json_t *e)
{
	int64_t dup = 0;

	for (size_t i = 0; i < s->nusers; i++)
		for (size_t j = i + 1; j < s->nusers; j++)
			if (strcmp(s->users[i].id, s->users[j].id) == 0)
				dup++;
	set_int(e, "users", (int64_t)s->nusers);
	set_int(e, "duplicate_ids", dup);
	return dup == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

static enum compliance_status
ev_customer(const struct compliance_state *s, json_t *e)
{
	(void)s;
	set_str(e, "note", "the customer's duty (customer_duty): nothing phivault can check");
	return COMPLIANCE_CUSTOMER;
}

/*
 * JIT elevations granted (164.308(a)(4)(ii)(B)-(C)): each with who holds
 * it, who approved and for how long. Fails on one approved by its own
 * requester, or longer than [elevation] max_s: neither can happen through
 * the API, so either means the table was written around it.
 */
static enum compliance_status
ev_elevations(const struct compliance_state *s, json_t *e)
{
	json_t *list = json_array();
	int64_t self = 0, overlong = 0, active = 0;
	int64_t max_s = s->cfg != NULL ? s->cfg->elevation_max_s : 3600;
	char st[32], ex[32];

	for (size_t i = 0; i < s->nelevations; i++) {
		const struct compliance_elevation *v = &s->elevations[i];

		if (strcmp(v->approved_by, v->user_id) == 0)
			self++;
		if (v->expires_ms - v->starts_ms > max_s * 1000)
			overlong++;
		if (strcmp(v->status, "active") == 0 && v->expires_ms > s->now_ms)
			active++;
		util_time_fmt(v->starts_ms, st, sizeof(st));
		util_time_fmt(v->expires_ms, ex, sizeof(ex));
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
		    v->id, "user", v->user_id, "role", v->role, "approved_by", v->approved_by,
		    "starts_at", st, "expires_at", ex, "status", v->status));
	}
	set_int(e, "elevations_granted", (int64_t)s->nelevations);
	set_int(e, "active", active);
	set_int(e, "elevation.max_s", max_s);
	set_int(e, "self_approved", self);
	set_int(e, "longer_than_max", overlong);
	json_object_set_new(e, "granted", list);
	return self == 0 && overlong == 0 ? COMPLIANCE_PASS : COMPLIANCE_FAIL;
}

/* 164.312(a)(2)(ii), 164.308(a)(1)(ii)(D): every break-glass use is
 * reviewed in time. not_applicable while break-glass was never used; fail
 * while a review is open past [breakglass] review_due_s (evidence: which);
 * pass otherwise. */
static enum compliance_status
ev_breakglass_reviews(const struct compliance_state *s, json_t *e)
{
	json_t *ids;

	set_int(e, "grants", s->bg_grants);
	set_int(e, "reviews_open", s->bg_reviews_open);
	set_int(e, "reviews_overdue", s->bg_reviews_overdue);
	set_int(e, "verdicts_inappropriate", s->bg_inappropriate);
	if (s->cfg != NULL)
		set_int(e, "breakglass.review_due_s", s->cfg->breakglass_review_due_s);
	if (s->bg_grants == 0) {
		set_str(e, "note", "break-glass was never used");
		return COMPLIANCE_NA;
	}
	if (s->bg_reviews_overdue == 0)
		return COMPLIANCE_PASS;
	if ((ids = json_array()) != NULL) {
		for (int64_t i = 0; i < s->bg_reviews_overdue && i < 8; i++)
			json_array_append_new(ids, json_string(s->bg_overdue_ids[i]));
		json_object_set_new(e, "overdue", ids);
	}
	return COMPLIANCE_FAIL;
}

/* Access review campaigns (src/directory/campaigns.c): one closed within
 * the window (twice [reviews] campaign_every_s when scheduled, else one
 * year), none open past its due date, and every closed one's signed
 * result verifies under the audit key. */
#define ACCESS_REVIEW_UNSCHEDULED_MAX_S (365 * 86400)

static enum compliance_status
ev_access_reviews(const struct compliance_state *s, json_t *e)
{
	int64_t every = s->cfg != NULL ? s->cfg->reviews_campaign_every_s : 0;
	int64_t max_s = every > 0 ? 2 * every : ACCESS_REVIEW_UNSCHEDULED_MAX_S;

	set_int(e, "campaigns", s->rv_campaigns);
	set_int(e, "overdue", s->rv_overdue);
	set_int(e, "campaign_every_s", every);
	set_int(e, "max_age_s", max_s);
	if (s->rv_last_closed_ms > 0) {
		json_t *last = json_object();

		if (last != NULL) {
			json_object_set_new(last, "id", json_string(s->rv_last_id));
			json_object_set_new(last, "closed_age_s",
			    json_integer((s->now_ms - s->rv_last_closed_ms) / 1000));
			json_object_set_new(last, "signature", json_string(s->rv_last_signature));
			json_object_set_new(e, "last_closed", last);
		}
	}
	set_int(e, "signatures_bad", s->rv_bad_signatures);
	if (s->rv_bad_signatures > 0)
		set_str(e, "first_bad", s->rv_bad_id);
	if (s->rv_overdue > 0) {
		set_str(e, "why", "an access review campaign is open past its due date");
		return COMPLIANCE_FAIL;
	}
	if (s->rv_last_closed_ms == 0) {
		set_str(e, "why", "no access review campaign has closed");
		return COMPLIANCE_FAIL;
	}
	if (s->rv_bad_signatures > 0) {
		set_str(e, "why", "a closed campaign's signed result does not verify");
		return COMPLIANCE_FAIL;
	}
	if ((s->now_ms - s->rv_last_closed_ms) / 1000 > max_s) {
		set_str(e, "why", "the newest closed campaign is older than max_age_s");
		return COMPLIANCE_FAIL;
	}
	return COMPLIANCE_PASS;
}

/* How old the newest backup may be: twice the schedule when one is set,
 * else seven days (docs/compliance.md "Evaluators"). */
#define BACKUP_UNSCHEDULED_MAX_S (7 * 86400)

static enum compliance_status
ev_backups(const struct compliance_state *s, json_t *e)
{
	int64_t every = s->cfg != NULL ? s->cfg->backup_every_s : 0;
	int64_t imm = s->cfg != NULL ? s->cfg->backup_immutable_days : 0;
	int64_t max_s = every > 0 ? 2 * every : BACKUP_UNSCHEDULED_MAX_S;
	int64_t age_s = s->last_backup_ms > 0 ? (s->now_ms - s->last_backup_ms) / 1000 : -1;

	set_int(e, "backups", s->backups);
	set_int(e, "every_s", every);
	set_int(e, "immutable_days", imm);
	set_int(e, "max_age_s", max_s);
	if (age_s >= 0)
		set_int(e, "newest_age_s", age_s);
	if (s->backups == 0) {
		set_str(e, "why", "no finished backup in the audit trail");
		return COMPLIANCE_FAIL;
	}
	if (age_s > max_s) {
		set_str(e, "why", "the newest backup is older than max_age_s");
		return COMPLIANCE_FAIL;
	}
	if (imm <= 0) {
		set_str(e, "why", "[backup] immutable_days is 0: backups can be deleted at once");
		return COMPLIANCE_FAIL;
	}
	return COMPLIANCE_PASS;
}

static enum compliance_status
ev_restore_drills(const struct compliance_state *s, json_t *e)
{
	int64_t every = s->cfg != NULL ? s->cfg->backup_drill_every_s : 0;
	int64_t max_s = every > 0 ? 2 * every : BACKUP_UNSCHEDULED_MAX_S;

	set_int(e, "drill_every_s", every);
	set_int(e, "max_age_s", max_s);
	if (s->last_drill_ok_ms > 0)
		set_int(e, "last_passing_age_s", (s->now_ms - s->last_drill_ok_ms) / 1000);
	if (s->last_drill_fail_ms > 0)
		set_int(e, "last_failed_age_s", (s->now_ms - s->last_drill_fail_ms) / 1000);
	if (s->last_drill_ok_ms == 0) {
		set_str(e, "why", "no passing restore drill in the audit trail");
		return COMPLIANCE_FAIL;
	}
	if (s->last_drill_fail_ms > s->last_drill_ok_ms) {
		set_str(e, "why", "the newest restore drill failed");
		return COMPLIANCE_FAIL;
	}
	if ((s->now_ms - s->last_drill_ok_ms) / 1000 > max_s) {
		set_str(e, "why", "the newest passing drill is older than max_age_s");
		return COMPLIANCE_FAIL;
	}
	return COMPLIANCE_PASS;
}

/* The retention job ran no longer ago than twice [retention] every_s. */
static enum compliance_status
ev_retention_runs(const struct compliance_state *s, json_t *e)
{
	int64_t every = s->cfg != NULL ? s->cfg->retention_every_s : 0;

	set_int(e, "every_s", every);
	if (s->retention_last_run_ms == 0) {
		set_str(e, "why", "the retention job has not run yet");
		return COMPLIANCE_FAIL;
	}
	set_int(e, "last_run_age_s", (s->now_ms - s->retention_last_run_ms) / 1000);
	if (every > 0 && (s->now_ms - s->retention_last_run_ms) / 1000 > 2 * every) {
		set_str(e, "why", "the last retention run is older than twice every_s");
		return COMPLIANCE_FAIL;
	}
	return COMPLIANCE_PASS;
}

/* No application secret is past its rotate_every_s. */
static enum compliance_status
ev_secrets_rotation(const struct compliance_state *s, json_t *e)
{
	json_t *a = json_array();

	set_int(e, "overdue", s->secrets_overdue);
	for (int64_t i = 0; a != NULL && i < s->secrets_overdue && i < 8; i++)
		json_array_append_new(a, json_string(s->secrets_overdue_paths[i]));
	if (a != NULL)
		json_object_set_new(e, "overdue_paths", a);
	if (s->secrets_overdue > 0) {
		set_str(e, "why", "secrets past their rotation interval");
		return COMPLIANCE_FAIL;
	}
	return COMPLIANCE_PASS;
}

/* Breach scope reports (docs/governance.md "Breach scope"): the incidents
 * recorded, the newest listed open / closed; one whose scope job failed or
 * was cancelled fails (its affected patients are not known). */
static enum compliance_status
ev_incidents(const struct compliance_state *s, json_t *e)
{
	json_t *list = json_array();
	int64_t open = 0, failed = 0;

	set_int(e, "incidents", s->incidents_total);
	for (size_t i = 0; i < s->nincidents; i++) {
		const struct compliance_incident *in = &s->incidents[s->nincidents - 1 - i];

		open += strcmp(in->state, "open") == 0;
		failed += strcmp(in->state, "failed") == 0;
		if (list != NULL)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", in->id,
			    "state", in->state, "created", in->created, "since", in->since, "until",
			    in->until));
	}
	if (list != NULL)
		json_object_set_new(e, "recent", list);
	set_int(e, "open", open);
	set_int(e, "failed", failed);
	if (s->incidents_total == 0) {
		set_str(e, "note", "no breach scope report was made");
		return COMPLIANCE_NA;
	}
	if (failed > 0) {
		set_str(e, "why", "a breach scope job failed or was cancelled: run it again");
		return COMPLIANCE_FAIL;
	}
	return COMPLIANCE_PASS;
}

/*
 * Configuration drift (164.308(a)(8) evaluation, 164.308(a)(1)(ii)(D),
 * 164.316(b)(1)): the effective configuration against the baseline a
 * security officer approved (POST /v1/compliance/baseline). No baseline
 * yet: the customer's duty (approving one is a decision phivault cannot
 * make); every key that differs (but server.node) fails it, named.
 */
static enum compliance_status
ev_config_drift(const struct compliance_state *s, json_t *e)
{
	json_t *keys;

	set_str(e, "hash", s->config_hash);
	if (!s->baseline_set) {
		set_str(e, "why", "no baseline approved yet (POST /v1/compliance/baseline, "
		    "phivault compliance baseline approve)");
		return COMPLIANCE_CUSTOMER;
	}
	set_str(e, "baseline_hash", s->baseline_hash);
	set_str(e, "baseline_approved_at", s->baseline_approved_at);
	set_str(e, "baseline_approved_by", s->baseline_approved_by);
	set_int(e, "drift_count", (int64_t)s->ndrift);
	if ((keys = json_array()) != NULL) {
		for (size_t i = 0; i < s->ndrift && i < COMPLIANCE_DRIFT_MAX; i++)
			json_array_append_new(keys, json_string(s->drift_keys[i]));
		json_object_set_new(e, "drift", keys);
	}
	if (s->ndrift > 0) {
		set_str(e, "why", "the effective configuration differs from the approved baseline");
		return COMPLIANCE_FAIL;
	}
	return COMPLIANCE_PASS;
}

static const struct compliance_evaluator evaluators[] = {
	{ "access_reviews", ev_access_reviews },
	{ "alerts_open", ev_alerts_open },
	{ "audit_chain", ev_audit_chain },
	{ "backups", ev_backups },
	{ "breakglass_reviews", ev_breakglass_reviews },
	{ "config_drift", ev_config_drift },
	{ "customer", ev_customer },
	{ "datadir_modes", ev_datadir_modes },
	{ "elevations", ev_elevations },
	{ "encryption_at_rest", ev_encryption_at_rest },
	{ "inactive_users", ev_inactive_users },
	{ "incidents", ev_incidents },
	{ "key_rotation", ev_key_rotation },
	{ "login_monitoring", ev_login_monitoring },
	{ "mfa_coverage", ev_mfa_coverage },
	{ "password_policy", ev_password_policy },
	{ "phi_access", ev_phi_access },
	{ "process_hardening", ev_process_hardening },
	{ "restore_drills", ev_restore_drills },
	{ "retention_runs", ev_retention_runs },
	{ "secrets_rotation", ev_secrets_rotation },
	{ "session_timeouts", ev_session_timeouts },
	{ "sink_health", ev_sink_health },
	{ "tls_config", ev_tls_config },
	{ "unique_ids", ev_unique_ids },
};

const struct compliance_evaluator *
compliance_evaluator_find(const char *id)
{
	for (size_t i = 0; i < sizeof(evaluators) / sizeof(evaluators[0]); i++)
		if (strcmp(evaluators[i].id, id) == 0)
			return &evaluators[i];
	return NULL;
}

enum pv_rc
compliance_evaluate(const char *id, const struct compliance_state *s,
    enum compliance_status *status, json_t **evidence)
{
	const struct compliance_evaluator *ev = compliance_evaluator_find(id);
	json_t *e;

	if (ev == NULL)
		return PV_E_NOTFOUND;
	if ((e = json_object()) == NULL)
		return PV_E_NOMEM;
	*status = ev->fn(s, e);
	*evidence = e;
	return PV_OK;
}
