/* detect: each rule fires on its scenario and not on the normal traffic
 * next to it; times from the injectable clock (util_clock_*), no sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect_int.h"

#define T0 1795000000000LL   /* an hour boundary: 2026-11-18T09:33:20Z is not; see hour_at */

struct fx {
	struct detect_rules *r;
	struct detect_thresholds t;
	struct detect_hit hits[DETECT_HITS_MAX];
	int lookups;
};

static bool
by_name(void *arg, const char *username, char out[STORE_ALERT_ACTOR_MAX])
{
	struct fx *f = arg;

	f->lookups++;
	if (strcmp(username, "clara") != 0)
		return false;
	util_strlcpy(out, "usr_clara", STORE_ALERT_ACTOR_MAX);
	return true;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_config c;
	struct detect_rules_io io = { NULL, by_name, f };

	config_defaults(&c, "/tmp");
	detect_thresholds_from_config(&c, &f->t);
	assert_int_equal(detect_rules_new(&f->t, &io, &f->r), PV_OK);
	util_clock_set_fixed(T0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	detect_rules_free(f->r);
	free(f);
	util_clock_reset();
	return 0;
}

/* Feed one entry at the clock's time; the number of hits. */
static size_t
feed(struct fx *f, const char *action, const char *outcome, const char *reason,
    const char *resource, const char *user, const char *source, const char *detail)
{
	struct detect_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.t_ms = util_now_ms();
	ev.action = action;
	ev.outcome = outcome;
	ev.reason = reason;
	ev.resource = resource;
	ev.detail = detail ? detail : "{}";
	util_strlcpy(ev.user_id, user ? user : "anonymous", sizeof(ev.user_id));
	util_strlcpy(ev.source, source ? source : "", sizeof(ev.source));
	return detect_rules_feed(f->r, &ev, f->hits, DETECT_HITS_MAX);
}

static size_t
fail_login(struct fx *f, const char *user_id, const char *source)
{
	char res[96];

	snprintf(res, sizeof(res), "users/%s", user_id);
	return feed(f, "auth.login", "denied", "bad_password", res, user_id, source,
	    "{\"username\":\"x\"}");
}

static size_t
sign_in(struct fx *f, const char *user_id, const char *source)
{
	char res[96];

	snprintf(res, sizeof(res), "users/%s", user_id);
	return feed(f, "auth.login", "allowed", "password", res, user_id, source, NULL);
}

static size_t
read_rec(struct fx *f, const char *user_id)
{
	return feed(f, "record.read", "allowed", "", "collections/p/records/rec_1", user_id,
	    "10.0.0.5", NULL);
}

static void
test_brute_force(void **state)
{
	struct fx *f = *state;

	/* normal: 9 failures spread over an hour never make 10 in 5 minutes */
	for (int i = 0; i < 9; i++) {
		assert_int_equal(fail_login(f, "usr_a", "10.0.0.9"), 0);
		assert_int_equal(util_clock_advance(400000), PV_OK);
	}
	for (int i = 0; i < 9; i++) {
		assert_int_equal(fail_login(f, "usr_b", "10.0.0.9"), 0);
		assert_int_equal(util_clock_advance(1000), PV_OK);
	}
	/* the 10th in the window: one hit, count 10, on the account, from the source */
	assert_int_equal(fail_login(f, "usr_b", "10.0.0.9"), 1);
	assert_string_equal(f->hits[0].rule, "brute_force");
	assert_string_equal(f->hits[0].severity, "high");
	assert_string_equal(f->hits[0].actor, "usr_b");
	assert_string_equal(f->hits[0].source, "10.0.0.9");
	assert_int_equal(f->hits[0].count, 10);
	assert_int_equal(f->hits[0].t_ms, util_now_ms());
	/* locked attempts name the user: resolved to the ID, never kept as a name */
	assert_int_equal(feed(f, "auth.login", "denied", "locked", "auth", "anonymous",
	    "10.0.0.8", "{\"username\":\"clara\"}"), 0);
	assert_int_equal(f->lookups, 1);
	for (int i = 0; i < 8; i++)
		feed(f, "auth.login", "denied", "locked", "auth", "anonymous", "10.0.0.8",
		    "{\"username\":\"clara\"}");
	assert_int_equal(feed(f, "auth.login", "denied", "locked", "auth", "anonymous",
	    "10.0.0.8", "{\"username\":\"clara\"}"), 1);
	assert_string_equal(f->hits[0].actor, "usr_clara");
}

static void
test_spray(void **state)
{
	struct fx *f = *state;
	char d[128];
	size_t n = 0;

	/* normal: 15 people mistype once and then sign in from one NAT address */
	for (int i = 0; i < 15; i++) {
		char id[32];

		snprintf(id, sizeof(id), "usr_q%02d", i);
		assert_int_equal(fail_login(f, id, "10.1.1.1"), 0);
		assert_int_equal(sign_in(f, id, "10.1.1.1"), 0);
	}
	/* a spray: 10 names that are no accounts, from one source */
	for (int i = 0; i < 10; i++) {
		snprintf(d, sizeof(d), "{\"username_hmac\":\"%032x\"}", i + 1);
		n = feed(f, "auth.login", "denied", "unknown_user", "auth", "anonymous", "10.6.6.6",
		    d);
	}
	assert_int_equal(n, 1);
	assert_string_equal(f->hits[0].rule, "password_spray");
	assert_string_equal(f->hits[0].actor, "anonymous");
	assert_string_equal(f->hits[0].source, "10.6.6.6");
	assert_int_equal(f->hits[0].count, 10);
	/* the spray's brute-force windows are per account: one failure each */
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(f->hits[i].rule, "brute_force");
}

static void
test_new_network(void **state)
{
	struct fx *f = *state;

	/* learning: the first logins from anywhere are quiet */
	assert_int_equal(sign_in(f, "usr_d", "10.2.0.1"), 0);
	assert_int_equal(sign_in(f, "usr_d", "192.168.7.1"), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sign_in(f, "usr_d", "10.2.0.77"), 0);   /* same /24 */
	/* 5 logins: a network never used alerts, once */
	assert_int_equal(sign_in(f, "usr_d", "172.16.5.5"), 1);
	assert_string_equal(f->hits[0].rule, "new_network");
	assert_string_equal(f->hits[0].actor, "usr_d");
	assert_string_equal(f->hits[0].source, "172.16.5.5");
	assert_int_equal(sign_in(f, "usr_d", "172.16.5.6"), 0);    /* now known */
	assert_int_equal(sign_in(f, "usr_d", "10.2.0.1"), 0);
	/* MFA completion counts as the sign-in; the mfa_required step does not */
	assert_int_equal(feed(f, "auth.login", "allowed", "mfa_required", "users/usr_d",
	    "usr_d", "203.0.113.1", NULL), 0);
	assert_int_equal(feed(f, "auth.mfa", "allowed", "totp", "users/usr_d", "usr_d",
	    "203.0.113.1", NULL), 1);
	assert_string_equal(f->hits[0].rule, "new_network");
}

static void
test_unusual_hour(void **state)
{
	struct fx *f = *state;
	int64_t day = (T0 / 86400000 + 1) * 86400000;   /* a midnight UTC after T0 */
	size_t n;

	/* 20 sign-ins between 09:00 and 10:59 on 10 days */
	for (int i = 0; i < 20; i++) {
		util_clock_set_fixed(day + (int64_t)(i / 2) * 86400000 + (9 + i % 2) * 3600000LL);
		assert_int_equal(sign_in(f, "usr_h", "10.3.0.1"), 0);
	}
	/* 12:30 is within 3 hours of the usual ones */
	util_clock_set_fixed(day + 20 * 86400000LL + 12 * 3600000LL + 1800000);
	assert_int_equal(sign_in(f, "usr_h", "10.3.0.1"), 0);
	/* 22:00 is far from every hour they signed in at */
	util_clock_set_fixed(day + 21 * 86400000LL + 22 * 3600000LL);
	n = sign_in(f, "usr_h", "10.3.0.1");
	assert_int_equal(n, 1);
	assert_string_equal(f->hits[0].rule, "unusual_hour");
	assert_string_equal(f->hits[0].severity, "low");
}

static void
test_mfa_failures(void **state)
{
	struct fx *f = *state;

	/* normal: one wrong code, then the right one */
	assert_int_equal(feed(f, "auth.mfa", "denied", "bad_totp", "users/usr_m", "usr_m",
	    "10.4.0.1", NULL), 0);
	assert_int_equal(feed(f, "auth.mfa", "allowed", "totp", "users/usr_m", "usr_m",
	    "10.4.0.1", NULL), 0);
	/* an invalid MFA token names no user: not counted */
	assert_int_equal(feed(f, "auth.mfa", "denied", "invalid_mfa_token", "auth", "anonymous",
	    "10.4.0.1", NULL), 0);
	assert_int_equal(feed(f, "auth.mfa", "denied", "bad_totp", "users/usr_m", "usr_m",
	    "10.4.0.1", NULL), 0);
	assert_int_equal(feed(f, "auth.mfa", "denied", "bad_recovery_code", "users/usr_m",
	    "usr_m", "10.4.0.1", NULL), 1);
	assert_string_equal(f->hits[0].rule, "mfa_failures");
	assert_string_equal(f->hits[0].actor, "usr_m");
	assert_int_equal(f->hits[0].count, 3);
}

/* Break-glass (issue 10 item 5): an activation is an alert at once (a
 * refused one is not), an overdue review and an inappropriate verdict are
 * alerts keyed by the review; an appropriate verdict is none. */
static void
test_breakglass(void **state)
{
	struct fx *f = *state;

	assert_int_equal(feed(f, "breakglass.activate", "denied", "bad_password", "breakglass",
	    "usr_e", "10.9.0.1", NULL), 0);
	assert_int_equal(feed(f, "breakglass.activate", "allowed", "ETREAT", "breakglass/bg_1",
	    "usr_e", "10.9.0.1", "{\"grant\":\"bg_1\"}"), 1);
	assert_string_equal(f->hits[0].rule, "break_glass_use");
	assert_string_equal(f->hits[0].severity, "high");
	assert_string_equal(f->hits[0].actor, "usr_e");
	assert_string_equal(f->hits[0].source, "10.9.0.1");
	assert_int_equal(feed(f, "review.overdue", "allowed", NULL, "reviews/rev_1", "system",
	    "", NULL), 1);
	assert_string_equal(f->hits[0].rule, "review_overdue");
	assert_string_equal(f->hits[0].severity, "medium");
	assert_string_equal(f->hits[0].actor, "reviews/rev_1");
	assert_int_equal(feed(f, "review.decide", "allowed", "appropriate", "reviews/rev_1",
	    "usr_o", "10.9.0.2", NULL), 0);
	assert_int_equal(feed(f, "review.decide", "allowed", "inappropriate", "reviews/rev_2",
	    "usr_o", "10.9.0.2", NULL), 1);
	assert_string_equal(f->hits[0].rule, "breakglass_inappropriate");
	assert_string_equal(f->hits[0].severity, "high");
	assert_string_equal(f->hits[0].actor, "reviews/rev_2");
	assert_true(detect_rule_known("break_glass_use"));
	assert_true(detect_rule_known("review_overdue"));
	assert_true(detect_rule_known("breakglass_inappropriate"));
}

/* Application secrets (issue 18): secret.read counts toward bulk_read like
 * a PHI read (an app's own baseline too), a not-found secret read is a
 * probe, and the secrets sweeper's secret.rotation_overdue entry is the
 * alert secret_rotation_overdue, keyed by the secret. */
static void
test_secrets(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 1000; i++)
		assert_int_equal(feed(f, "secret.read", "allowed", "", "secrets/apps/billing/db",
		    "app_billing", "10.8.0.1", "{\"path\":\"apps/billing/db\",\"version\":1}"), 0);
	assert_int_equal(feed(f, "secret.read", "allowed", "", "secrets/apps/billing/db",
	    "app_billing", "10.8.0.1", NULL), 1);
	assert_string_equal(f->hits[0].rule, "bulk_read");
	assert_string_equal(f->hits[0].actor, "app_billing");
	assert_int_equal(f->hits[0].count, 1001);
	/* a refused read is not a read; a not-found one is a probe */
	assert_int_equal(feed(f, "secret.read", "denied", "missing_permission:secrets.read:x",
	    "secrets/x", "usr_s", "10.8.0.2", NULL), 0);
	for (int i = 0; i < 99; i++)
		assert_int_equal(feed(f, "secret.read", "error", "not_found", "secrets/x", "usr_s",
		    "10.8.0.2", NULL), 0);
	assert_int_equal(feed(f, "secret.read", "error", "not_found", "secrets/x", "usr_s",
	    "10.8.0.2", NULL), 1);
	assert_string_equal(f->hits[0].rule, "enumeration");
	/* rotation overdue: one hit per entry, actor the secret */
	assert_int_equal(feed(f, "secret.rotation_overdue", "allowed", NULL,
	    "secrets/apps/billing/api-key", "system", "",
	    "{\"path\":\"apps/billing/api-key\",\"version\":2}"), 1);
	assert_string_equal(f->hits[0].rule, "secret_rotation_overdue");
	assert_string_equal(f->hits[0].severity, "medium");
	assert_string_equal(f->hits[0].actor, "secrets/apps/billing/api-key");
	assert_true(detect_rule_known("secret_rotation_overdue"));
	/* a secret.write is neither */
	assert_int_equal(feed(f, "secret.write", "allowed", NULL, "secrets/apps/billing/api-key",
	    "usr_s", "10.8.0.2", NULL), 0);
}

/* A read under a key version marked compromised: the vault's
 * key.compromised_use entry is the critical alert key_compromised_use, keyed
 * by the key version; the marking itself is not. */
static void
test_key_compromised_use(void **state)
{
	struct fx *f = *state;

	assert_int_equal(feed(f, "key.compromised", "allowed", NULL, "keys/tokens/versions/1",
	    "usr_kay", "10.8.0.3", "{\"name\":\"tokens\",\"version\":1}"), 0);
	assert_int_equal(feed(f, "key.compromised_use", "allowed", NULL,
	    "keys/tokens/versions/1", "usr_clin", "10.8.0.4",
	    "{\"name\":\"tokens\",\"version\":1}"), 1);
	assert_string_equal(f->hits[0].rule, "key_compromised_use");
	assert_string_equal(f->hits[0].severity, "critical");
	assert_string_equal(f->hits[0].actor, "keys/tokens/versions/1");
	assert_true(detect_rule_known("key_compromised_use"));
}

static void
test_bulk_read(void **state)
{
	struct fx *f = *state;
	size_t n = 0;

	/* the actor's baseline: 6 windows of 10 reads */
	for (int w = 0; w < 6; w++) {
		for (int i = 0; i < 10; i++)
			assert_int_equal(read_rec(f, "usr_r"), 0);
		assert_int_equal(util_clock_advance(f->t.bulk_read_window_ms), PV_OK);
	}
	/* 100 reads in a window: 10x the baseline (10), not above it: quiet */
	for (int i = 0; i < 100; i++)
		assert_int_equal(read_rec(f, "usr_r"), 0);
	/* the 101st is more than 10x: a hit with the window's count */
	n = read_rec(f, "usr_r");
	assert_int_equal(n, 1);
	assert_string_equal(f->hits[0].rule, "bulk_read");
	assert_int_equal(f->hits[0].count, 101);
	/* without a baseline, only the absolute ceiling (1000) counts */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(read_rec(f, "usr_new"), 0);
	assert_int_equal(read_rec(f, "usr_new"), 1);
	assert_int_equal(f->hits[0].count, 1001);
	/* reads of system or anonymous actors are not a user's */
	assert_int_equal(read_rec(f, "system"), 0);
}

static void
test_enumeration(void **state)
{
	struct fx *f = *state;
	size_t n = 0;

	for (int i = 0; i < 99; i++)
		n = feed(f, i % 2 ? "record.search" : "record.read", i % 2 ? "allowed" : "error",
		    i % 2 ? "" : "not_found", "collections/p/records", "usr_e", "10.5.0.1", NULL);
	assert_int_equal(n, 0);
	/* a denied read (no permission) is no probe of existence */
	assert_int_equal(feed(f, "record.read", "denied", "missing_permission:records.read:p",
	    "collections/p/records/rec_x", "usr_e", "10.5.0.1", NULL), 0);
	assert_int_equal(feed(f, "record.search", "allowed", "", "collections/p/records", "usr_e",
	    "10.5.0.1", NULL), 1);
	assert_string_equal(f->hits[0].rule, "enumeration");
	assert_int_equal(f->hits[0].count, 100);
}

/* decrypt_failures: integrity errors by one actor within the window (5 / 300 s) */
static void
test_decrypt_failures(void **state)
{
	struct fx *f = *state;
	const char *res = "collections/p/records/rec_x";

	/* other errors, and another reader's failures, do not count */
	for (int i = 0; i < 10; i++)
		assert_int_equal(feed(f, "record.read", "error", "internal", res, "usr_d", "10.6.0.1",
		    NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(feed(f, "record.read", "error", "integrity", res, "usr_other",
		    "10.6.0.2", NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(feed(f, "record.read", "error", "integrity", res, "usr_d", "10.6.0.1",
		    NULL), 0);
	/* spread out: the first four slid out of the window */
	util_clock_advance(301000);
	assert_int_equal(feed(f, "record.read", "error", "integrity", res, "usr_d", "10.6.0.1",
	    NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(feed(f, "record.read", "error", "integrity", res, "usr_d",
		    "10.6.0.1", NULL), 0);
	assert_int_equal(feed(f, "record.read", "error", "integrity", res, "usr_d", "10.6.0.1",
	    NULL), 1);
	assert_string_equal(f->hits[0].rule, "decrypt_failures");
	assert_string_equal(f->hits[0].severity, "high");
	assert_string_equal(f->hits[0].actor, "usr_d");
	assert_string_equal(f->hits[0].source, "10.6.0.1");
	assert_int_equal(f->hits[0].count, 5);
}

/* audit_verify_failure: at once, on an audit.verify that found the trail broken */
static void
test_audit_verify_failure(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 20; i++)
		assert_int_equal(feed(f, "audit.verify", "allowed", "ok", "audit", "usr_a",
		    "10.7.0.1", "{\"entries\":10}"), 0);
	assert_int_equal(feed(f, "audit.read", "allowed", "verify", "audit", "usr_a", "10.7.0.1",
	    NULL), 0);
	assert_int_equal(feed(f, "audit.verify", "error", "signature_bad", "audit", "usr_a",
	    "10.7.0.1", "{\"entries\":10,\"first_bad_seq\":4}"), 1);
	assert_string_equal(f->hits[0].rule, "audit_verify_failure");
	assert_string_equal(f->hits[0].severity, "critical");
	assert_string_equal(f->hits[0].actor, "usr_a");
	assert_int_equal(f->hits[0].count, 1);
}

static void
test_change_then_read(void **state)
{
	struct fx *f = *state;

	/* a change of display name only, then a read: quiet */
	assert_int_equal(feed(f, "user.update", "allowed", "", "users/usr_c", "usr_admin",
	    "10.0.0.1", "{\"fields\":[\"display_name\"]}"), 0);
	assert_int_equal(read_rec(f, "usr_c"), 0);
	/* a role change, then a read after the window: quiet */
	assert_int_equal(feed(f, "user.update", "allowed", "", "users/usr_c", "usr_admin",
	    "10.0.0.1", "{\"fields\":[],\"roles\":[\"clinician\"]}"), 0);
	assert_int_equal(util_clock_advance(f->t.change_read_window_ms + 1), PV_OK);
	assert_int_equal(read_rec(f, "usr_c"), 0);
	/* a group change, then a read within the window: one hit, once */
	assert_int_equal(feed(f, "user.update", "allowed", "", "users/usr_c", "usr_admin",
	    "10.0.0.1", "{\"fields\":[],\"groups\":[\"ward7\"]}"), 0);
	assert_int_equal(util_clock_advance(60000), PV_OK);
	assert_int_equal(read_rec(f, "usr_c"), 1);
	assert_string_equal(f->hits[0].rule, "change_then_read");
	assert_string_equal(f->hits[0].actor, "usr_c");
	assert_int_equal(read_rec(f, "usr_c"), 0);
	/* a denied change changes nothing */
	assert_int_equal(feed(f, "user.update", "denied", "self_role_change", "users/usr_c",
	    "usr_c", "10.0.0.1", "{\"fields\":[],\"roles\":[\"auditor\"]}"), 0);
	assert_int_equal(read_rec(f, "usr_c"), 0);
}

/* The actor column: the writer's compact form (fast path), anything else
 * through jansson; the same answer either way. */
static void
test_event_from_row(void **state)
{
	static const struct { const char *actor; int rc; const char *user, *source; } v[] = {
		{ "{\"session_id\":\"ses_1\",\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\"}",
		    PV_OK, "usr_a", "10.0.0.1" },
		{ "{\"auth\":\"password+mfa\",\"auth_time\":\"2026-01-01T00:00:00.000Z\","
		    "\"elevations\":[\"key_admin\",\"x\"],\"session_id\":null,"
		    "\"source\":\"::1\",\"user_id\":\"usr_b\"}", PV_OK, "usr_b", "::1" },
		{ "{\"source\":null,\"user_id\":\"system\"}", PV_OK, "system", "" },
		{ "{\"user_id\":\"usr_\\u0063\"}", PV_OK, "usr_c", "" },      /* escape: jansson */
		{ "{\"break_glass\":{\"id\":\"bg\"},\"user_id\":\"usr_d\"}", PV_OK, "usr_d", "" },
		{ "{}", PV_OK, "anonymous", "" },
		{ "null", PV_E_INVALID, "anonymous", "" },
		{ "{\"user_id\":\"usr_e\"", PV_E_INVALID, "anonymous", "" },
		{ "{\"user_id\":\"usr_f\"}trailing", PV_E_INVALID, "anonymous", "" },
	};
	struct store_audit_row row;
	struct detect_event ev;
	char t[32];

	(void)state;
	util_time_fmt(T0, t, sizeof(t));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&row, 0, sizeof(row));
		row.seq = 7;
		row.time = t;
		row.actor = v[i].actor;
		row.action = "record.read";
		assert_int_equal(detect_event_from_row(&row, &ev), v[i].rc);
		if (v[i].rc != PV_OK)
			continue;
		assert_string_equal(ev.user_id, v[i].user);
		assert_string_equal(ev.source, v[i].source);
		assert_int_equal(ev.t_ms, T0);
		assert_int_equal(ev.seq, 7);
	}
	row.time = "yesterday";
	assert_int_equal(detect_event_from_row(&row, &ev), PV_E_INVALID);
}

static void
test_own_entries_ignored(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 50; i++)
		assert_int_equal(feed(f, "alert.raised", "allowed", "brute_force", "alerts/alt_x",
		    "system", "", NULL), 0);
}

static void
dirty_cb(void *arg, const char *user_id, const struct detect_baseline *b)
{
	int *n = arg;

	(void)user_id;
	assert_int_equal(b->logins, 1);
	(*n)++;
}

static void
test_dirty_baselines(void **state)
{
	struct fx *f = *state;
	int n = 0;

	sign_in(f, "usr_1", "10.0.0.1");
	sign_in(f, "usr_2", "10.0.0.1");
	detect_rules_each_dirty(f->r, dirty_cb, &n);
	assert_int_equal(n, 2);
	n = 0;
	detect_rules_each_dirty(f->r, dirty_cb, &n);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_brute_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spray, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusual_hour, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mfa_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_breakglass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enumeration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_then_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decrypt_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_verify_failure, setup, teardown),
		cmocka_unit_test(test_event_from_row),
		cmocka_unit_test_setup_teardown(test_own_entries_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_compromised_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_baselines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
