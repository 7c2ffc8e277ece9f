/*
 * JIT elevation over HTTPS (docs/access-control.md "Just-in-time
 * elevation"): eligibility (PATCH eligible_roles; a PHI-granting role
 * pending under dual control); a request by a user who is not eligible is
 * refused; an eligible request is pending and grants nothing until an
 * officer approves it; the requester cannot approve, not from a second
 * session either; an app can neither request nor approve; the grant ends
 * at the instant it expires (the first request after expires_at is denied,
 * on the injectable clock) and on revoke; pending requests expire; the CLI
 * drives it; every step and every decision allowed through an elevation
 * is in the trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW "plum velvet harbor 42"

/* POST body to path as tok: status want (and code); a copy of member key into out. */
static void
post(struct h_server *s, const char *path, const char *tok, const char *body, int want,
    const char *code, const char *key, char *out, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, want);
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	if (key != NULL) {
		CHECK(h_jstr(r.json, key) != NULL);
		snprintf(out, len, "%s", h_jstr(r.json, key));
	}
	h_resp_free(&r);
}

static void
act(struct h_server *s, const char *tok, const char *id, const char *verb, int want,
    const char *code)
{
	char path[160];

	snprintf(path, sizeof(path), "/v1/elevations/%s/%s", id, verb);
	h_expect(s, "POST", path, tok, NULL, NULL, want, code);
}

static const char *
status_of(struct h_server *s, const char *tok, const char *id, char *out, size_t len)
{
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/elevations/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, len, "%s", h_jstr(r.json, "status"));
	h_resp_free(&r);
	return out;
}

static int
trail(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason });
}

/* The authz sweeper writes expiries about a second after their instant
 * (reads answer them at once): wait (polling; a bound for a loaded machine,
 * not a timing) until action's entries reach n, then say whether exactly n. */
static bool
trail_reaches(struct h_server *s, const char *tok, const char *action, const char *outcome,
    const char *reason, int n)
{
	int i, got = 0;

	for (i = 0; i < 600 && (got = trail(s, tok, action, outcome, reason)) < n; i++)
		h_pause_ms(50);
	return got == n;
}

/* entries of action by user whose actor names elevation elv */
static int
tagged(struct h_server *s, const char *tok, const char *action, const char *user,
    const char *elv)
{
	char path[256];
	struct h_resp r;
	json_t *e, *a, *v;
	size_t i, k;
	int n = 0;

	snprintf(path, sizeof(path), "/v1/audit?action=%s&actor=%s&limit=1000", action, user);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		a = json_object_get(json_object_get(e, "actor"), "elevations");
		json_array_foreach(a, k, v)
			if (strcmp(json_string_value(v), elv) == 0)
				n++;
	}
	h_resp_free(&r);
	return n;
}

/* "2026-12-01T12:00:00.000Z" -> ms since the epoch */
static long long
parse_time(const char *t)
{
	struct tm tm;
	int ms = 0;

	CHECK(t != NULL);
	memset(&tm, 0, sizeof(tm));
	CHECK(sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) >= 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + ms;
}

static void
user_id_of(struct h_server *s, const char *admin, const char *name, char *out, size_t len)
{
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/users?username=%s", name);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "users")) == 1);
	snprintf(out, len, "%s", h_jstr(json_array_get(json_object_get(r.json, "users"), 0),
	    "id"));
	h_resp_free(&r);
}

#define REQ(role, dur) "{\"role\":\"" role "\",\"justification\":\"INC-7: audit the " \
	"key rotation\",\"ticket\":\"INC-7\",\"duration_s\":" #dur "}"

/* POST /v1/authz/explain as tok for user id and action: allow, the first
 * matched grant (if policy is not NULL) and the elevations named (elv, or
 * none when NULL) */
static void
explain(struct h_server *s, const char *tok, const char *id, const char *action, bool allow,
    const char *policy, const char *elv)
{
	char body[256];
	struct h_resp r;
	json_t *a;

	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"%s\"}", id, action);
	h_req(s, "POST", "/v1/authz/explain", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "allow")) == allow);
	if (policy != NULL)
		CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "policies"),
		    0)), policy) == 0);
	a = json_object_get(r.json, "elevations");
	CHECK(json_is_array(a));
	if (elv == NULL) {
		CHECK(json_array_size(a) == 0);
	} else {
		CHECK(json_array_size(a) == 1);
		CHECK(strcmp(json_string_value(json_array_get(a, 0)), elv) == 0);
	}
	h_resp_free(&r);
}

/* TOTP code of secret at the server's time now */
static void
totp_now(struct h_server *s, const char *secret, char code[16])
{
	h_totp_at(secret, h_clock_advance(s, 0) / 1000, code);
}

/* Enrol MFA in session tok (POST /v1/auth/mfa/enroll + confirm): its secret */
static void
enrol(struct h_server *s, const char *tok, char *secret, size_t len)
{
	char body[64], code[16];
	struct h_resp r;

	h_req(s, "POST", "/v1/auth/mfa/enroll", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, "secret") != NULL);
	snprintf(secret, len, "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	totp_now(s, secret, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_expect(s, "POST", "/v1/auth/mfa/confirm", tok, body, NULL, 200, NULL);
}

/*
 * [auth] mfa_required = admins: an elevation to an admin-level role
 * (key_admin) of a session that did no MFA answers step_up_required (with
 * the RFC 9470 header) on its next request, until that session steps up; a
 * session that did MFA is unaffected; a user with no MFA enrolled gets the
 * restricted-session answer (enrol first). Explain answers the same. And
 * [elevation] role_max_s is validated at start.
 */
static void
test_mfa_elevation(void)
{
	struct h_server s;
	char admin[128], ella[128], ella2[128], finn[128], olga[128], secret[64], code[16];
	char ella_id[64], finn_id[64], e1[64], e2[64], body[256], path[1024];
	struct h_resp r;
	const char *otp;

	h_init(&s, "elevation-mfa", NULL);
	h_config_set(&s, "mfa_required", "admins");
	/* a bad per-role list stops the start, with a message naming it */
	h_config_set_in(&s, "elevation", "role_max_s", "key_admin=90000");
	CHECK(h_start_expect_exit(&s, NULL) != 0);
	snprintf(path, sizeof(path), "grep -q 'elevation.role_max_s: key_admin = 90000 is not "
	    "from 60 to 86400' %s", s.log);
	CHECK(h_run(path, NULL) == 0);
	h_config_set_in(&s, "elevation", "role_max_s", "key_admin 1800");
	CHECK(h_start_expect_exit(&s, NULL) != 0);
	snprintf(path, sizeof(path), "grep -q 'elevation.role_max_s: .key_admin 1800. is not "
	    "ROLE=SECONDS' %s", s.log);
	CHECK(h_run(path, NULL) == 0);
	h_config_set_in(&s, "elevation", "role_max_s", "key_admin=1800, auditor=7200");
	h_start(&s, NULL);
	/* the admin: new password and MFA, a full session */
	otp = h_jstr(s.init, "admin_password");
	h_login(&s, "admin", otp, admin, sizeof(admin));
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"%s\"}",
	    otp, PW);
	h_expect(&s, "POST", "/v1/auth/password", admin, body, NULL, 200, NULL);
	enrol(&s, admin, secret, sizeof(secret));
	h_expect(&s, "GET", "/v1/users", admin, NULL, NULL, 200, NULL);
	h_add_officer(&s, admin, "olga", PW, olga, sizeof(olga));
	/* ella (auditor, eligible for key_admin): session ella did no MFA;
	 * she enrols MFA in session ella2 afterwards */
	h_add_user(&s, admin, "ella", "auditor", PW, ella, sizeof(ella));
	h_login(&s, "ella", PW, ella2, sizeof(ella2));
	h_add_user(&s, admin, "finn", "auditor", PW, finn, sizeof(finn));
	user_id_of(&s, admin, "ella", ella_id, sizeof(ella_id));
	user_id_of(&s, admin, "finn", finn_id, sizeof(finn_id));
	snprintf(path, sizeof(path), "/v1/users/%s", ella_id);
	h_expect(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"key_admin\"]}", NULL, 200,
	    NULL);
	snprintf(path, sizeof(path), "/v1/users/%s", finn_id);
	h_expect(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"key_admin\"]}", NULL, 200,
	    NULL);
	h_clock_advance(&s, 31 * 1000LL);   /* a TOTP step of her own */
	enrol(&s, ella2, secret, sizeof(secret));
	h_expect(&s, "GET", "/v1/audit?limit=1", ella, NULL, NULL, 200, NULL);
	h_expect(&s, "GET", "/v1/keys", ella, NULL, NULL, 403, "forbidden");

	/* [elevation] role_max_s: key_admin at most 1800 s, named in the answer */
	h_req(&s, "POST", "/v1/elevations", ella, REQ("key_admin", 1801), NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	CHECK(strstr(r.body, "1800") != NULL && strstr(r.body, "role_max_s") != NULL);
	h_resp_free(&r);
	post(&s, "/v1/elevations", ella, REQ("key_admin", 1800), 202, NULL, "id", e1, sizeof(e1));
	act(&s, olga, e1, "approve", 200, NULL);

	/* the session that did no MFA: a step-up first, whatever the route */
	h_req(&s, "GET", "/v1/keys", ella, NULL, NULL, &r);
	CHECK_STATUS(&r, 401);
	CHECK(strcmp(h_err_code(&r), "step_up_required") == 0);
	CHECK(h_has_header(&r, "WWW-Authenticate: Bearer error=\"insufficient_user_authentication\""));
	h_resp_free(&r);
	h_expect(&s, "GET", "/v1/audit?limit=1", ella, NULL, NULL, 401, "step_up_required");
	h_expect(&s, "GET", "/v1/auth/session", ella, NULL, NULL, 200, NULL);
	/* the session that did MFA is unaffected */
	h_expect(&s, "GET", "/v1/keys", ella2, NULL, NULL, 200, NULL);
	/* explain: the elevated role, named; owed MFA unless the context has it */
	explain(&s, admin, ella_id, "keys.manage", false, NULL, e1);
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"keys.manage\","
	    "\"context\":{\"mfa_age_s\":10}}", ella_id);
	h_req(&s, "POST", "/v1/authz/explain", admin, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "allow")));
	h_resp_free(&r);
	/* a step-up upgrades the same session */
	h_clock_advance(&s, 31 * 1000LL);
	totp_now(&s, secret, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_expect(&s, "POST", "/v1/auth/step-up", ella, body, NULL, 200, NULL);
	h_expect(&s, "GET", "/v1/keys", ella, NULL, NULL, 200, NULL);
	CHECK(trail(&s, ella2, "key.list", "denied", "step_up_required") == 1);

	/* no MFA enrolled: the restricted-session answer (enrol first) */
	post(&s, "/v1/elevations", finn, REQ("key_admin", 600), 202, NULL, "id", e2, sizeof(e2));
	h_expect(&s, "GET", "/v1/audit?limit=1", finn, NULL, NULL, 200, NULL);
	act(&s, olga, e2, "approve", 200, NULL);
	h_expect(&s, "GET", "/v1/keys", finn, NULL, NULL, 403, "password_change_required");
	h_expect(&s, "GET", "/v1/audit?limit=1", finn, NULL, NULL, 403, "password_change_required");
	/* and when the elevation ends, the auditor session is whole again */
	act(&s, finn, e2, "revoke", 200, NULL);
	h_expect(&s, "GET", "/v1/audit?limit=1", finn, NULL, NULL, 200, NULL);

	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	struct h_server s;
	char admin[128], kim[128], kim2[128], olga[128], olga2[128], oscar[128], aud[128];
	char kim_id[64], olga_id[64], app[64], secret[128], apptok[128];
	char e1[64], e2[64], e3[64], e4[64], e5[64], apr[64], st[32], path[160], body[512];
	char cmd[4096], *out = NULL;
	struct h_resp r;
	json_t *j, *el;
	long long now, starts, expires;
	int i;

	h_clock_enable();
	h_init(&s, "elevation", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "idle_timeout_s", "36000");
	h_config_set(&s, "absolute_timeout_s", "86400");
	h_config_set(&s, "expire_s", "3600");
	h_config_set_in(&s, "elevation", "max_s", "7200");
	h_config_set_in(&s, "elevation", "role_max_s", "clinician=300");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW, admin, sizeof(admin));
	h_add_user(&s, admin, "audra", "auditor", PW, aud, sizeof(aud));
	h_add_user(&s, admin, "kim", "key_admin", PW, kim, sizeof(kim));
	h_login(&s, "kim", PW, kim2, sizeof(kim2));   /* a second session of kim */
	h_add_officer(&s, admin, "olga", PW, olga, sizeof(olga));
	h_login(&s, "olga", PW, olga2, sizeof(olga2));
	h_add_officer(&s, admin, "oscar", PW, oscar, sizeof(oscar));
	user_id_of(&s, admin, "kim", kim_id, sizeof(kim_id));
	user_id_of(&s, admin, "olga", olga_id, sizeof(olga_id));

	/* ---- not eligible: refused, audited; nothing stored ---- */
	post(&s, "/v1/elevations", kim, REQ("auditor", 600), 403, "not_eligible", NULL, NULL, 0);
	CHECK(trail(&s, aud, "elevation.request", "denied", "not_eligible") == 1);
	h_req(&s, "GET", "/v1/elevations", kim, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "elevations")) == 0);
	h_resp_free(&r);

	/* ---- eligibility: a non-PHI role at once; a PHI role pending ---- */
	snprintf(path, sizeof(path), "/v1/users/%s", kim_id);
	h_req(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"auditor\"]}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "eligible_roles")) == 1);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "eligible_roles"),
	    0)), "auditor") == 0);
	h_resp_free(&r);
	h_req(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"auditor\",\"clinician\"]}", NULL,
	    &r);
	CHECK_STATUS(&r, 202);
	CHECK(strcmp(h_jstr(r.json, "status"), "pending") == 0);
	snprintf(apr, sizeof(apr), "%s", h_jstr(r.json, "approval"));
	h_resp_free(&r);
	h_req(&s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "eligible_roles")) == 1);   /* not yet */
	h_resp_free(&r);
	post(&s, "/v1/elevations", kim, REQ("clinician", 300), 403, "not_eligible", NULL, NULL, 0);
	h_officer_approve(&s, admin, apr);
	h_req(&s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "eligible_roles")) == 2);
	h_resp_free(&r);
	h_expect(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"security_officer\"]}", NULL,
	    403, "officer_reserved");
	h_expect(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"no_such_role\"]}", NULL, 400,
	    "invalid_request");
	snprintf(path, sizeof(path), "/v1/users/%s", olga_id);
	h_expect(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"auditor\"]}", NULL, 200, NULL);

	/* ---- bad requests change nothing ---- */
	post(&s, "/v1/elevations", kim, "{\"role\":\"auditor\",\"duration_s\":600}", 400,
	    "invalid_request", NULL, NULL, 0);
	post(&s, "/v1/elevations", kim, REQ("auditor", 7201), 400, "invalid_request", NULL, NULL,
	    0);
	post(&s, "/v1/elevations", kim, "{\"role\":\"auditor\",\"justification\":\"x\","
	    "\"duration_s\":\"long\"}", 400, "invalid_request", NULL, NULL, 0);

	/* ---- an eligible request: pending, grants nothing yet ---- */
	post(&s, "/v1/elevations", kim, REQ("auditor", 600), 202, NULL, "id", e1, sizeof(e1));
	CHECK(strncmp(e1, "elv_", 4) == 0);
	CHECK(strcmp(status_of(&s, kim, e1, st, sizeof(st)), "pending") == 0);
	post(&s, "/v1/elevations", kim, REQ("auditor", 600), 409, "conflict", NULL, NULL, 0);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");
	/* the requester approves nothing: without access.approve, or ... */
	act(&s, kim2, e1, "approve", 403, "forbidden");
	/* ... an officer's own request, from a second session of hers */
	post(&s, "/v1/elevations", olga, REQ("auditor", 600), 202, NULL, "id", e2, sizeof(e2));
	act(&s, olga2, e2, "approve", 403, "self_approval");
	act(&s, olga, e2, "approve", 403, "self_approval");
	CHECK(trail(&s, aud, "elevation.approve", "denied", "self_approval") == 2);
	CHECK(strcmp(status_of(&s, olga, e2, st, sizeof(st)), "pending") == 0);
	/* officers see every request; others only their own */
	h_req(&s, "GET", "/v1/elevations?status=pending", oscar, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "elevations")) == 2);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/elevations", kim, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "elevations")) == 1);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/elevations/%s", e2);
	h_expect(&s, "GET", path, kim, NULL, NULL, 404, "not_found");
	h_expect(&s, "GET", "/v1/elevations?status=bogus", kim, NULL, NULL, 400,
	    "invalid_request");
	act(&s, oscar, e2, "deny", 200, NULL);
	CHECK(strcmp(status_of(&s, olga, e2, st, sizeof(st)), "denied") == 0);
	act(&s, oscar, e2, "approve", 409, "conflict");

	/* ---- an app can neither request nor approve ---- */
	h_app_create(&s, admin, "{\"name\":\"batch\",\"roles\":[\"auditor\"],"
	    "\"networks\":[\"127.0.0.0/8\"]}", app, sizeof(app));
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	post(&s, path, admin, NULL, 201, NULL, "secret", secret, sizeof(secret));
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", app, secret);
	post(&s, "/v1/auth/app", NULL, body, 200, NULL, "token", apptok, sizeof(apptok));
	post(&s, "/v1/elevations", apptok, REQ("auditor", 600), 403, "forbidden", NULL, NULL, 0);
	act(&s, apptok, e1, "approve", 403, "forbidden");
	CHECK(trail(&s, aud, "elevation.request", "denied", "app_forbidden") == 1);

	/* ---- approved by an officer: the clock starts at the approval ---- */
	h_clock_advance(&s, 120 * 1000LL);   /* time spent pending does not count */
	h_req(&s, "POST", "/v1/elevations/x/approve", oscar, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/elevations/%s/approve", e1);
	now = h_clock_advance(&s, 0);
	h_req(&s, "POST", path, oscar, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "active") == 0);
	starts = parse_time(h_jstr(r.json, "starts_at"));
	expires = parse_time(h_jstr(r.json, "expires_at"));
	CHECK(starts >= now && expires == starts + 600 * 1000LL);   /* from the approval */
	h_resp_free(&r);
	/* the next request of both of kim's sessions holds the role */
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 200, NULL);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim2, NULL, NULL, 200, NULL);
	CHECK(tagged(&s, aud, "audit.read", kim_id, e1) >= 2);
	/* explain sees the elevation, and names it */
	explain(&s, admin, kim_id, "audit.read", true, "role:auditor audit.read", e1);
	/* a stream of requests up to shortly before expires_at: each allowed ... */
	now = h_clock_advance(&s, 0);
	for (i = 0; i < 4; i++) {
		now = h_clock_advance(&s, (expires - 30 * 1000LL - now) / (4 - i));
		h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 200, NULL);
	}
	CHECK(now < expires);
	/* ... and the first request after expires_at is denied, in both sessions */
	now = h_clock_advance(&s, expires - now);
	CHECK(now >= expires);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");
	h_expect(&s, "GET", "/v1/audit?limit=1", kim2, NULL, NULL, 403, "forbidden");
	CHECK(strcmp(status_of(&s, kim, e1, st, sizeof(st)), "expired") == 0);
	CHECK(trail_reaches(&s, aud, "elevation.expire", "allowed", "duration_elapsed", 1));
	act(&s, kim, e1, "revoke", 409, "conflict");
	explain(&s, admin, kim_id, "audit.read", false, NULL, NULL);   /* over */

	/* ---- revoke takes effect on the next request ---- */
	post(&s, "/v1/elevations", kim, REQ("auditor", 3600), 202, NULL, "id", e3, sizeof(e3));
	act(&s, olga, e3, "approve", 200, NULL);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 200, NULL);
	act(&s, aud, e3, "revoke", 403, "forbidden");   /* not hers, no users.manage */
	act(&s, admin, e3, "revoke", 200, NULL);         /* users.manage */
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");
	CHECK(strcmp(status_of(&s, kim, e3, st, sizeof(st)), "revoked") == 0);
	/* the requester ends her own */
	post(&s, "/v1/elevations", kim, REQ("auditor", 3600), 202, NULL, "id", e4, sizeof(e4));
	act(&s, oscar, e4, "approve", 200, NULL);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 200, NULL);
	act(&s, kim2, e4, "revoke", 200, NULL);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");

	/* ---- a pending request expires ([approvals] expire_s) ---- */
	post(&s, "/v1/elevations", kim, REQ("auditor", 600), 202, NULL, "id", e5, sizeof(e5));
	h_clock_advance(&s, 3600 * 1000LL);
	CHECK(strcmp(status_of(&s, kim, e5, st, sizeof(st)), "expired") == 0);
	act(&s, oscar, e5, "approve", 409, "conflict");
	CHECK(trail_reaches(&s, aud, "elevation.expire", "allowed", "request_expired", 1));
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");

	/* ---- the CLI ---- */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "elevation request auditor --justification 'INC-9 review' --ticket INC-9 "
	    "--duration 900 --format json", s.base, s.cacert, kim, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(strcmp(h_jstr(j, "status"), "pending") == 0);
	CHECK(json_integer_value(json_object_get(j, "duration_s")) == 900);
	snprintf(e5, sizeof(e5), "%s", h_jstr(j, "id"));
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "elevation list --status pending --format json", s.base, s.cacert, oscar, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, e5) != NULL && strstr(out, e1) == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "elevation approve %s 2>&1", s.base, s.cacert, kim, h_bin(), e5);
	CHECK(h_run(cmd, &out) == 3);   /* not an officer */
	CHECK(strstr(out, "forbidden") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "elevation approve %s --format json", s.base, s.cacert, oscar, h_bin(), e5);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(strcmp(h_jstr(j, "status"), "active") == 0);
	json_decref(j);
	free(out);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 200, NULL);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "elevation revoke %s", s.base, s.cacert, kim, h_bin(), e5);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "revoked") != NULL);
	free(out);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "elevation request auditor 2>&1", s.base, s.cacert, kim, h_bin());
	CHECK(h_run(cmd, &out) == 2);   /* --justification is required */
	free(out);

	/* ---- [elevation] role_max_s = clinician=300: that role's own limit ---- */
	h_req(&s, "POST", "/v1/elevations", kim, REQ("clinician", 600), NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	CHECK(strstr(r.body, "300") != NULL && strstr(r.body, "clinician") != NULL);
	h_resp_free(&r);
	/* without duration_s: the role's limit when below 3600 */
	post(&s, "/v1/elevations", kim, "{\"role\":\"clinician\",\"justification\":\"INC-8\"}",
	    202, NULL, "id", e5, sizeof(e5));
	snprintf(path, sizeof(path), "/v1/elevations/%s", e5);
	h_req(&s, "GET", path, kim, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "duration_s")) == 300);
	h_resp_free(&r);
	act(&s, kim, e5, "revoke", 200, NULL);

	/* ---- the trail: every step with its reason ---- */
	CHECK(trail(&s, aud, "elevation.request", "allowed", "pending") == 7);
	CHECK(trail(&s, aud, "elevation.approve", "allowed", "approved") == 4);
	CHECK(trail(&s, aud, "elevation.deny", "allowed", "denied") == 1);
	CHECK(trail(&s, aud, "elevation.revoke", "allowed", "revoked") == 4);
	CHECK(trail(&s, aud, "elevation.revoke", "denied", NULL) == 1);
	h_req(&s, "GET", "/v1/audit?action=elevation.request&limit=1000", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, "INC-7: audit") == NULL);   /* the justification stays out */
	el = json_array_get(json_object_get(r.json, "entries"), 0);
	CHECK(el != NULL);
	h_resp_free(&r);

	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	test_mfa_elevation();
	h_done("elevation");
	return 0;
}
