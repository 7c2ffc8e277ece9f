/*
 * The condition engine and access policies in authz_decide: every test
 * (source v4/v6, time in a named zone across midnight and DST, mfa and its
 * age, purpose, principal attributes, labels, internal-field match), the
 * combinators, three-valued record conditions (unknown before the load),
 * deny wins, nothing matched is deny, role conditions as shorthand, and the
 * checker's refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

/* 2026-12-01 (a Tuesday) 10:00:00 UTC = 11:00 in Paris (CET). */
#define TUE_10UTC 1796119200000LL
#define HOUR 3600000LL
#define DAY (24 * HOUR)

struct fake {
	const struct authz_policy_src *pols;
	size_t npols;
	const char *role_cond;           /* condition of the custom role "ward_nurse" */
};

static enum pv_rc
lookup(void *arg, const char *name, char **perms, char **cond)
{
	struct fake *f = arg;

	if (strcmp(name, "ward_nurse") != 0)
		return PV_E_NOTFOUND;
	*perms = strdup("[\"records.read:patients\"]");
	*cond = f->role_cond != NULL ? strdup(f->role_cond) : NULL;
	return PV_OK;
}

static enum pv_rc
each(void *arg, enum pv_rc (*cb)(void *, const struct authz_policy_src *), void *cbarg)
{
	struct fake *f = arg;
	enum pv_rc rc = PV_OK;

	for (size_t i = 0; i < f->npols && rc == PV_OK; i++)
		rc = cb(cbarg, &f->pols[i]);
	return rc;
}

struct who {
	struct authn_principal p;
	struct authz_policy *pol;
	struct pv_arena *arena;
};

static void
become(struct who *w, struct fake *f, const char *role, const char *attrs)
{
	memset(w, 0, sizeof(*w));
	strcpy(w->p.user_id, "usr_t");
	strcpy(w->p.roles[w->p.nroles++], role);
	assert_int_equal(authz_policy_compile_all(lookup, f, each, f,
	    (const char (*)[AUTHN_ROLE_NAME_MAX])w->p.roles, w->p.nroles, 1, &w->pol), PV_OK);
	w->p.policy = w->pol;
	w->arena = arena_new(8192);
	assert_non_null(w->arena);
	if (attrs != NULL)
		assert_int_equal(authz_attrs_parse(attrs, w->arena, &w->p.attrs), PV_OK);
}

static void
drop(struct who *w)
{
	free(w->pol);
	arena_free(w->arena);
}

static void
req_init(struct authz_request *q, struct who *w, const char *action, const char *coll)
{
	memset(q, 0, sizeof(*q));
	q->subject = &w->p;
	q->action = action;
	q->stage = AUTHZ_AT_RESOURCE;
	q->resource.collection = coll;
	q->env.time_ms = TUE_10UTC;
	q->env.source = "10.1.2.3";
	q->env.purpose = "TREAT";
}

/* One allow policy on records.read:patients for role-less users. */
static enum pv_rc
decide_with(const char *cond, struct authz_request *q, struct authz_decision *d, struct who *w,
    const char *attrs, void (*tweak)(struct authz_request *))
{
	struct authz_policy_src pol = { "p1", false, "[\"records.read\"]", "[\"patients\"]", cond };
	struct fake f = { &pol, 1, NULL };
	enum pv_rc rc;

	become(w, &f, "nobody", attrs);
	req_init(q, w, "records.read", "patients");
	if (tweak != NULL)
		tweak(q);
	rc = authz_decide(q, d);
	drop(w);
	return rc;
}

static enum pv_rc
run(const char *cond, const char *attrs, void (*tweak)(struct authz_request *),
    struct authz_decision *d)
{
	struct authz_request q;
	struct who w;

	return decide_with(cond, &q, d, &w, attrs, tweak);
}

static void t_src_other(struct authz_request *q) { q->env.source = "192.168.1.9"; }
static void t_src_v6(struct authz_request *q) { q->env.source = "2001:db8::42"; }
static void t_src_v6_other(struct authz_request *q) { q->env.source = "2001:db9::42"; }
static void t_src_mapped(struct authz_request *q) { q->env.source = "::ffff:10.9.9.9"; }
static void t_src_none(struct authz_request *q) { q->env.source = NULL; }

static void
test_source(void **state)
{
	struct authz_decision d;
	const char *c = "{\"source\":[\"10.0.0.0/8\",\"2001:db8::/32\"]}";

	(void)state;
	assert_int_equal(run(c, NULL, NULL, &d), PV_OK);
	assert_string_equal(d.matched[0], "policy:p1");
	assert_int_equal(run(c, NULL, t_src_other, &d), PV_E_NETWORK);
	assert_string_equal(d.reason, "network_not_allowed");
	assert_int_equal(run(c, NULL, t_src_v6, &d), PV_OK);
	assert_int_equal(run(c, NULL, t_src_v6_other, &d), PV_E_NETWORK);
	assert_int_equal(run(c, NULL, t_src_mapped, &d), PV_OK);
	assert_int_equal(run(c, NULL, t_src_none, &d), PV_E_NETWORK);
	/* a /31 and a bare address */
	assert_int_equal(run("{\"source\":[\"10.1.2.2/31\"]}", NULL, NULL, &d), PV_OK);
	assert_int_equal(run("{\"source\":[\"10.1.2.4/31\"]}", NULL, NULL, &d), PV_E_NETWORK);
	assert_int_equal(run("{\"source\":[\"10.1.2.3\"]}", NULL, NULL, &d), PV_OK);
}

static int64_t when;
static void t_when(struct authz_request *q) { q->env.time_ms = when; }

static enum pv_rc
at(const char *cond, int64_t t)
{
	struct authz_decision d;

	when = t;
	return run(cond, NULL, t_when, &d);
}

static void
test_time_window(void **state)
{
	const char *c = "{\"time\":{\"tz\":\"Europe/Paris\",\"days\":[\"mon\",\"tue\",\"wed\","
	    "\"thu\",\"fri\"],\"from\":\"08:00\",\"to\":\"18:00\"}}";
	struct authz_decision d;

	(void)state;
	assert_int_equal(at(c, TUE_10UTC), PV_OK);                   /* 11:00 CET */
	assert_int_equal(at(c, TUE_10UTC + 7 * HOUR - 1), PV_OK);    /* 17:59:59 */
	assert_int_equal(at(c, TUE_10UTC + 7 * HOUR), PV_E_HOURS);   /* 18:00 */
	assert_int_equal(at(c, TUE_10UTC - 3 * HOUR - 1), PV_E_HOURS);   /* 07:59:59 */
	assert_int_equal(at(c, TUE_10UTC - 3 * HOUR), PV_OK);        /* 08:00 */
	assert_int_equal(at(c, TUE_10UTC + 4 * DAY), PV_E_HOURS);    /* Saturday */
	when = TUE_10UTC + 4 * DAY;
	assert_int_equal(run(c, NULL, t_when, &d), PV_E_HOURS);
	assert_string_equal(d.reason, "outside_hours");
	/* the same window in UTC and in New York */
	assert_int_equal(at("{\"time\":{\"from\":\"09:00\",\"to\":\"10:00\"}}", TUE_10UTC),
	    PV_E_HOURS);
	assert_int_equal(at("{\"time\":{\"tz\":\"America/New_York\",\"from\":\"04:30\","
	    "\"to\":\"05:30\"}}", TUE_10UTC), PV_OK);                  /* 05:00 EST */
}

static void
test_time_midnight(void **state)
{
	/* a night shift, Friday 22:00 to Saturday 06:00 (UTC) */
	const char *c = "{\"time\":{\"tz\":\"UTC\",\"days\":[\"fri\"],\"from\":\"22:00\","
	    "\"to\":\"06:00\"}}";
	int64_t fri = TUE_10UTC + 3 * DAY - 10 * HOUR;   /* Friday 00:00 UTC */

	(void)state;
	assert_int_equal(at(c, fri + 22 * HOUR), PV_OK);
	assert_int_equal(at(c, fri + 23 * HOUR + 59 * 60000), PV_OK);
	assert_int_equal(at(c, fri + DAY), PV_OK);                   /* Saturday 00:00 */
	assert_int_equal(at(c, fri + DAY + 6 * HOUR - 1), PV_OK);
	assert_int_equal(at(c, fri + DAY + 6 * HOUR), PV_E_HOURS);
	assert_int_equal(at(c, fri + 21 * HOUR), PV_E_HOURS);
	/* Friday 01:00 belongs to Thursday's night, not listed */
	assert_int_equal(at(c, fri + HOUR), PV_E_HOURS);
	/* "to": "24:00" is the end of the day */
	assert_int_equal(at("{\"time\":{\"from\":\"23:00\",\"to\":\"24:00\"}}",
	    fri + 23 * HOUR + 30 * 60000), PV_OK);
}

static void
test_time_dst(void **state)
{
	/* Paris changes to CEST on 2026-03-29 at 01:00 UTC and back on
	 * 2026-10-25 at 01:00 UTC; a window 08:00-09:00 local */
	const char *c = "{\"time\":{\"tz\":\"Europe/Paris\",\"from\":\"08:00\",\"to\":\"09:00\"}}";
	int64_t mar28 = 1774656000000LL;   /* 2026-03-28 00:00 UTC (Saturday, CET) */
	int64_t oct25 = 1792886400000LL;   /* 2026-10-25 00:00 UTC (Sunday) */
	const struct authz_tz *z = authz_tz_get("Europe/Paris");

	(void)state;
	assert_non_null(z);
	assert_int_equal(authz_tz_offset(z, mar28 / 1000 + DAY / 1000 + 3600 - 1), 3600);
	assert_int_equal(authz_tz_offset(z, mar28 / 1000 + DAY / 1000 + 3600), 7200);
	assert_int_equal(authz_tz_offset(z, oct25 / 1000 + 3600 - 1), 7200);
	assert_int_equal(authz_tz_offset(z, oct25 / 1000 + 3600), 3600);
	/* 07:30 UTC is 08:30 CET on Saturday, 09:30 CEST on Sunday */
	assert_int_equal(at(c, mar28 + 7 * HOUR + 30 * 60000), PV_OK);
	assert_int_equal(at(c, mar28 + DAY + 7 * HOUR + 30 * 60000), PV_E_HOURS);
	/* 06:30 UTC: 07:30 CET (outside), 08:30 CEST (inside) */
	assert_int_equal(at(c, mar28 + 6 * HOUR + 30 * 60000), PV_E_HOURS);
	assert_int_equal(at(c, mar28 + DAY + 6 * HOUR + 30 * 60000), PV_OK);
	/* past the last transition of the file the footer rule decides: 2100 */
	assert_int_equal(authz_tz_offset(z, 4107542400LL), 3600);   /* 2100-03-01 */
	assert_int_equal(authz_tz_offset(z, 4112812800LL), 7200);   /* 2100-05-01 */
	assert_int_equal(authz_tz_offset(authz_tz_get("UTC"), 1764583200), 0);
	assert_null(authz_tz_get("Mars/Olympus"));
	assert_null(authz_tz_get("../etc/passwd"));
	assert_null(authz_tz_get("/etc/passwd"));
}

static void t_mfa_fresh(struct authz_request *q)
{
	struct authn_principal *p = (struct authn_principal *)(uintptr_t)q->subject;

	p->mfa_verified = true;
	p->authenticated_ms = q->env.time_ms - 60000;
}

static void t_mfa_old(struct authz_request *q)
{
	struct authn_principal *p = (struct authn_principal *)(uintptr_t)q->subject;

	p->mfa_verified = true;
	p->authenticated_ms = q->env.time_ms - 3600000;
}

static void t_mfa_webauthn(struct authz_request *q)
{
	struct authn_principal *p = (struct authn_principal *)(uintptr_t)q->subject;

	t_mfa_fresh(q);
	snprintf(p->mfa_method, sizeof(p->mfa_method), "webauthn");
}

static void t_mfa_recovery(struct authz_request *q)
{
	struct authn_principal *p = (struct authn_principal *)(uintptr_t)q->subject;

	t_mfa_fresh(q);
	snprintf(p->mfa_method, sizeof(p->mfa_method), "recovery");
}

static void t_mfa_totp(struct authz_request *q)
{
	struct authn_principal *p = (struct authn_principal *)(uintptr_t)q->subject;

	t_mfa_fresh(q);
	snprintf(p->mfa_method, sizeof(p->mfa_method), "totp");
}

/* mfa.methods against how the session's last MFA was made (authn records
 * "totp", "recovery", "webauthn"; "" from before it did = TOTP) */
static void
test_mfa_methods(void **state)
{
	const char *wa = "{\"mfa\":{\"required\":true,\"methods\":[\"webauthn\"]}}";
	const char *totp = "{\"mfa\":{\"required\":true,\"methods\":[\"totp\"]}}";
	const char *any = "{\"mfa\":{\"required\":true}}";
	struct authz_decision d;

	(void)state;
	assert_int_equal(run(wa, NULL, t_mfa_webauthn, &d), PV_OK);
	assert_int_equal(run(wa, NULL, t_mfa_totp, &d), PV_E_STEP_UP);
	assert_int_equal(run(wa, NULL, t_mfa_recovery, &d), PV_E_STEP_UP);
	assert_int_equal(run(totp, NULL, t_mfa_webauthn, &d), PV_E_STEP_UP);
	assert_int_equal(run(totp, NULL, t_mfa_totp, &d), PV_OK);
	assert_int_equal(run(totp, NULL, t_mfa_fresh, &d), PV_OK);      /* "" = TOTP */
	assert_int_equal(run(totp, NULL, t_mfa_recovery, &d), PV_E_STEP_UP);
	assert_int_equal(run("{\"mfa\":{\"required\":true,\"methods\":[\"recovery\"]}}", NULL,
	    t_mfa_recovery, &d), PV_OK);
	assert_int_equal(run(any, NULL, t_mfa_webauthn, &d), PV_OK);
	assert_int_equal(run(any, NULL, t_mfa_recovery, &d), PV_OK);
}

static void
test_mfa(void **state)
{
	const char *c = "{\"mfa\":{\"required\":true,\"max_age_s\":300}}";
	struct authz_decision d;

	(void)state;
	assert_int_equal(run(c, NULL, t_mfa_fresh, &d), PV_OK);
	assert_int_equal(run(c, NULL, t_mfa_old, &d), PV_E_STEP_UP);
	assert_string_equal(d.reason, "step_up_required");
	assert_string_equal(d.step_up, "mfa");
	assert_int_equal(d.step_up_max_age_s, 300);
	assert_int_equal(run(c, NULL, NULL, &d), PV_E_STEP_UP);          /* no MFA at all */
	assert_int_equal(run("{\"mfa\":{\"required\":true}}", NULL, t_mfa_old, &d), PV_OK);
	assert_int_equal(run("{\"mfa\":{\"required\":true}}", NULL, NULL, &d), PV_E_STEP_UP);
	assert_int_equal(d.step_up_max_age_s, -1);
	assert_int_equal(run("{\"mfa\":{\"required\":true,\"methods\":[\"webauthn\"]}}", NULL,
	    t_mfa_fresh, &d), PV_E_STEP_UP);                              /* this one used TOTP */
	assert_int_equal(run("{\"mfa\":{\"required\":false}}", NULL, NULL, &d), PV_OK);
}

static void t_hresch(struct authz_request *q) { q->env.purpose = "HRESCH"; }
static void t_route(struct authz_request *q) { q->stage = AUTHZ_AT_ROUTE; q->env.purpose = NULL; }

static void
test_purpose_and_principal(void **state)
{
	struct authz_decision d;

	(void)state;
	assert_int_equal(run("{\"purpose\":[\"TREAT\"]}", NULL, NULL, &d), PV_OK);
	assert_int_equal(run("{\"purpose\":[\"TREAT\"]}", NULL, t_hresch, &d), PV_E_FORBIDDEN);
	assert_string_equal(d.reason, "purpose_not_allowed");
	assert_int_equal(run("{\"purpose\":[\"TREAT\"]}", NULL, t_route, &d), PV_OK);  /* unknown */
	assert_int_equal(run("{\"principal\":{\"dept\":\"cardio\"}}",
	    "{\"dept\":\"cardio\"}", NULL, &d), PV_OK);
	assert_int_equal(run("{\"principal\":{\"dept\":[\"onco\",\"cardio\"]}}",
	    "{\"dept\":[\"er\",\"cardio\"]}", NULL, &d), PV_OK);
	assert_int_equal(run("{\"principal\":{\"dept\":\"cardio\"}}",
	    "{\"dept\":\"onco\"}", NULL, &d), PV_E_CONDITION);
	assert_string_equal(d.reason, "condition_not_met");
	assert_int_equal(run("{\"principal\":{\"dept\":\"cardio\"}}", NULL, NULL, &d),
	    PV_E_CONDITION);
	assert_int_equal(run("{\"principal\":{\"senior\":\"true\",\"level\":\"3\"}}",
	    "{\"senior\":true,\"level\":3}", NULL, &d), PV_OK);
}

static const char *rec_labels[] = { "R", "psychotherapy" };
static const char *
rec_field(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "ward") == 0 ? "icu" : NULL;
}

static void t_loaded(struct authz_request *q)
{
	q->resource.loaded = true;
	q->resource.labels = rec_labels;
	q->resource.nlabels = 2;
	q->resource.field_text = rec_field;
}

static void
test_record_conditions(void **state)
{
	struct authz_decision d;

	(void)state;
	/* unknown before the load: an allow holds provisionally */
	assert_int_equal(run("{\"labels\":{\"none_of\":[\"V\",\"psychotherapy\"]}}", NULL, NULL,
	    &d), PV_OK);
	assert_int_equal(run("{\"labels\":{\"none_of\":[\"V\",\"psychotherapy\"]}}", NULL,
	    t_loaded, &d), PV_E_CONDITION);
	assert_int_equal(run("{\"labels\":{\"none_of\":[\"V\"]}}", NULL, t_loaded, &d), PV_OK);
	assert_int_equal(run("{\"labels\":{\"any_of\":[\"V\",\"R\"]}}", NULL, t_loaded, &d),
	    PV_OK);
	assert_int_equal(run("{\"labels\":{\"all_of\":[\"V\",\"R\"]}}", NULL, t_loaded, &d),
	    PV_E_CONDITION);
	assert_int_equal(run("{\"match\":{\"record\":\"ward\",\"principal\":\"ward\"}}",
	    "{\"ward\":\"icu\"}", t_loaded, &d), PV_OK);
	assert_int_equal(run("{\"match\":{\"record\":\"ward\",\"principal\":\"ward\"}}",
	    "{\"ward\":\"er\"}", t_loaded, &d), PV_E_CONDITION);
	assert_int_equal(run("{\"match\":{\"record\":\"ward\",\"principal\":\"ward\"}}",
	    "{\"ward\":\"er\"}", NULL, &d), PV_OK);                       /* not loaded yet */
	assert_int_equal(run("{\"match\":{\"record\":\"bed\",\"principal\":\"ward\"}}",
	    "{\"ward\":\"icu\"}", t_loaded, &d), PV_E_CONDITION);         /* no such field */
}

static void
test_combinators(void **state)
{
	struct authz_decision d;

	(void)state;
	assert_int_equal(run("{\"any\":[{\"source\":[\"192.168.0.0/16\"]},{\"purpose\":"
	    "[\"TREAT\"]}]}", NULL, NULL, &d), PV_OK);
	assert_int_equal(run("{\"any\":[{\"source\":[\"192.168.0.0/16\"]},{\"purpose\":"
	    "[\"HRESCH\"]}]}", NULL, NULL, &d), PV_E_NETWORK);   /* the first failure */
	assert_int_equal(run("{\"all\":[{\"source\":[\"10.0.0.0/8\"]},{\"purpose\":"
	    "[\"TREAT\"]}]}", NULL, NULL, &d), PV_OK);
	assert_int_equal(run("{\"all\":[{\"source\":[\"10.0.0.0/8\"]},{\"purpose\":"
	    "[\"HRESCH\"]}]}", NULL, NULL, &d), PV_E_FORBIDDEN);
	assert_int_equal(run("{\"not\":{\"source\":[\"10.0.0.0/8\"]}}", NULL, NULL, &d),
	    PV_E_CONDITION);
	assert_int_equal(run("{\"not\":{\"source\":[\"192.168.0.0/16\"]}}", NULL, NULL, &d),
	    PV_OK);
	/* keys of one object are all required; mfa is reported only when the rest held */
	assert_int_equal(run("{\"source\":[\"192.168.0.0/16\"],\"mfa\":{\"required\":true}}",
	    NULL, NULL, &d), PV_E_NETWORK);
	assert_int_equal(run("{\"source\":[\"10.0.0.0/8\"],\"mfa\":{\"required\":true}}",
	    NULL, NULL, &d), PV_E_STEP_UP);
}

/* Roles and policies together: deny wins, nothing matched is deny. */
static void
test_deny_wins_and_no_match(void **state)
{
	struct authz_policy_src pols[] = {
		{ "no_v", true, "[\"records.*\"]", "[\"patients\"]",
		  "{\"labels\":{\"any_of\":[\"V\"]}}" },
		{ "office_only", true, "[\"records.read\"]", "[\"*\"]",
		  "{\"not\":{\"source\":[\"10.0.0.0/8\"]}}" },
		{ "fresh_mfa", true, "[\"tokens.detokenize\"]", NULL,
		  "{\"not\":{\"mfa\":{\"required\":true,\"max_age_s\":60}}}" },
		{ "freeze", true, "[\"users.manage\"]", NULL, NULL },
	};
	static const char *vlab[] = { "V" };
	struct fake f = { pols, 4, NULL };
	struct authz_request q;
	struct authz_decision d;
	struct who w;

	(void)state;
	become(&w, &f, "clinician", NULL);
	req_init(&q, &w, "records.read", "patients");
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	q.resource.loaded = true;
	q.resource.labels = vlab;
	q.resource.nlabels = 1;
	assert_int_equal(authz_decide(&q, &d), PV_E_POLICY);
	assert_string_equal(d.reason, "policy_denied");
	assert_int_equal(d.nmatched, 1);
	assert_string_equal(d.matched[0], "policy:no_v");
	/* a deny of "not <network>" says network_not_allowed */
	req_init(&q, &w, "records.read", "labs");
	q.env.source = "172.16.0.1";
	assert_int_equal(authz_decide(&q, &d), PV_E_NETWORK);
	assert_string_equal(d.matched[0], "policy:office_only");
	req_init(&q, &w, "tokens.detokenize", "patients");
	assert_int_equal(authz_decide(&q, &d), PV_E_STEP_UP);
	assert_int_equal(d.step_up_max_age_s, 60);
	drop(&w);

	become(&w, &f, "admin", NULL);
	req_init(&q, &w, "users.manage", NULL);
	assert_int_equal(authz_decide(&q, &d), PV_E_POLICY);   /* deny beats the built-in role */
	req_init(&q, &w, "roles.manage", NULL);
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	drop(&w);
	/* a deny on everything leaves roles.manage: the policy can be removed */
	{
		struct authz_policy_src all = { "everything", true, "[\"*\"]", NULL, NULL };
		struct fake f2 = { &all, 1, NULL };

		become(&w, &f2, "admin", NULL);
		req_init(&q, &w, "users.manage", NULL);
		assert_int_equal(authz_decide(&q, &d), PV_E_POLICY);
		req_init(&q, &w, "roles.manage", NULL);
		assert_int_equal(authz_decide(&q, &d), PV_OK);
	}
	/* nothing matched: deny with the permission it lacks */
	req_init(&q, &w, "records.read", "patients");
	assert_int_equal(authz_decide(&q, &d), PV_E_FORBIDDEN);
	assert_string_equal(d.reason, "missing_permission:records.read:patients");
	drop(&w);
}

/* A role condition is shorthand for the same engine. */
static void
test_role_condition(void **state)
{
	struct fake f = { NULL, 0, "{\"source\":[\"10.0.0.0/8\"],\"purposes\":[\"TREAT\"]}" };
	struct authz_request q;
	struct authz_decision d;
	struct who w;

	(void)state;
	become(&w, &f, "ward_nurse", NULL);
	req_init(&q, &w, "records.read", "patients");
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	assert_string_equal(d.matched[0], "role:ward_nurse records.read:patients");
	q.env.source = "192.0.2.1";
	assert_int_equal(authz_decide(&q, &d), PV_E_NETWORK);
	q.env.source = "10.0.0.1";
	q.env.purpose = "HPAYMT";
	assert_int_equal(authz_decide(&q, &d), PV_E_FORBIDDEN);
	assert_string_equal(d.reason, "purpose_not_allowed");
	drop(&w);
	/* a stored condition that no longer compiles grants nothing */
	f.role_cond = "{\"network\":\"10.0.0.0/8\"}";
	become(&w, &f, "ward_nurse", NULL);
	req_init(&q, &w, "records.read", "patients");
	assert_int_not_equal(authz_decide(&q, &d), PV_OK);
	drop(&w);
}

static void
test_check_refusals(void **state)
{
	static const char *const bad[] = {
		"[]", "{\"color\":1}", "{\"source\":[]}", "{\"source\":[\"10.0.0.0/33\"]}",
		"{\"source\":[\"10.0.0.300\"]}", "{\"source\":\"10.0.0.0/8\"}",
		"{\"time\":{\"tz\":\"Nowhere/City\"}}", "{\"time\":{\"from\":\"08:00\"}}",
		"{\"time\":{\"from\":\"08:00\",\"to\":\"08:00\"}}",
		"{\"time\":{\"from\":\"8:00\",\"to\":\"18:00\"}}",
		"{\"time\":{\"from\":\"24:00\",\"to\":\"18:00\"}}",
		"{\"time\":{\"days\":[\"mon\",\"mon\"]}}", "{\"time\":{\"days\":[\"monday\"]}}",
		"{\"mfa\":{\"max_age_s\":0}}", "{\"mfa\":{\"methods\":[\"sms\"]}}",
		"{\"mfa\":{\"required\":false,\"max_age_s\":60}}",
		"{\"purpose\":[\"SHOPPING\"]}", "{\"purpose\":[]}",
		"{\"purpose\":[\"TREAT\"],\"purposes\":[\"TREAT\"]}",
		"{\"principal\":{}}", "{\"principal\":{\"a b\":\"x\"}}",
		"{\"labels\":{\"some_of\":[\"R\"]}}", "{\"labels\":{\"none_of\":[\"R\",\"R\"]}}",
		"{\"match\":{\"record\":\"ward\"}}", "{\"match\":{\"record\":\"Ward\",\"principal\":\"w\"}}",
		"{\"all\":[]}", "{\"any\":{}}", "{\"not\":[]}",
		"{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":"
		"{}}}}}}}}}}",
		NULL,
	};
	char why[192];

	(void)state;
	for (size_t i = 0; bad[i] != NULL; i++) {
		why[0] = '\0';
		if (authz_condition_check(bad[i], why, sizeof(why)) != PV_E_INVALID)
			fail_msg("accepted: %s", bad[i]);
		assert_true(why[0] != '\0');
	}
	assert_int_equal(authz_condition_check("{}", why, sizeof(why)), PV_OK);
	assert_int_equal(authz_condition_check("{\"any\":[{},{\"mfa\":{}}]}", why, sizeof(why)),
	    PV_OK);
	{
		struct authz_policy_src p = { "ok", false, "[\"records.*\"]", "[\"patients\"]", NULL };

		assert_int_equal(authz_policy_check(&p, why, sizeof(why)), PV_OK);
		p.actions = "[]";
		assert_int_equal(authz_policy_check(&p, why, sizeof(why)), PV_E_INVALID);
		p.actions = "[\"records*\"]";
		assert_int_equal(authz_policy_check(&p, why, sizeof(why)), PV_E_INVALID);
		p.actions = "[\"*\"]";
		p.resources = "[\"Patients\"]";
		assert_int_equal(authz_policy_check(&p, why, sizeof(why)), PV_E_INVALID);
		p.resources = NULL;
		p.name = "Bad";
		assert_int_equal(authz_policy_check(&p, why, sizeof(why)), PV_E_INVALID);
		p.name = "lock";
		p.deny = true;
		p.actions = "[\"roles.manage\"]";
		assert_int_equal(authz_policy_check(&p, why, sizeof(why)), PV_E_INVALID);
		p.actions = "[\"*\"]";
		assert_int_equal(authz_policy_check(&p, why, sizeof(why)), PV_OK);
	}
}

/* The compiled block is position independent: a copy decides the same. */
static void
test_policy_copy(void **state)
{
	struct authz_policy_src pols[] = {
		{ "night", false, "[\"records.read\"]", "[\"patients\"]",
		  "{\"time\":{\"tz\":\"Europe/Paris\",\"from\":\"22:00\",\"to\":\"06:00\"}}" },
	};
	struct fake f = { pols, 1, NULL };
	struct authz_request q;
	struct authz_decision d;
	struct authz_policy *copy;
	struct who w;

	(void)state;
	become(&w, &f, "nobody", NULL);
	copy = malloc(authz_policy_size(w.pol));
	assert_non_null(copy);
	memcpy(copy, w.pol, authz_policy_size(w.pol));
	memset(w.pol, 0xa5, authz_policy_size(w.pol));   /* the original is gone */
	w.p.policy = copy;
	req_init(&q, &w, "records.read", "patients");
	assert_int_equal(authz_decide(&q, &d), PV_E_HOURS);
	q.env.time_ms = TUE_10UTC + 12 * HOUR;   /* 23:00 in Paris */
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	assert_string_equal(d.matched[0], "policy:night");
	free(copy);
	drop(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_time_window),
		cmocka_unit_test(test_time_midnight),
		cmocka_unit_test(test_time_dst),
		cmocka_unit_test(test_mfa),
		cmocka_unit_test(test_mfa_methods),
		cmocka_unit_test(test_purpose_and_principal),
		cmocka_unit_test(test_record_conditions),
		cmocka_unit_test(test_combinators),
		cmocka_unit_test(test_deny_wins_and_no_match),
		cmocka_unit_test(test_role_condition),
		cmocka_unit_test(test_check_refusals),
		cmocka_unit_test(test_policy_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
