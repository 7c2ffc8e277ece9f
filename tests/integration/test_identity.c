/*
 * Identity, end to end on the real binary over HTTPS: bootstrap admin and
 * its restricted first session, password policy and change, TOTP
 * enrolment checked against oathtool, MFA login with replay refusal and
 * single-use recovery codes, lockout (password and MFA counted apart,
 * unknown users answered like wrong passwords), users (joiner, duplicate,
 * mover, leaver ending live sessions), roles and groups with separation of
 * duties, logout, idle expiry with a short timeout, the audit trail of all
 * of it, the CLI, and no secret stored in clear in the database. Time moves
 * on the servers' injectable clock (POST /v1/test/clock), never by sleeping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ---- */

static const char *
jstr(struct h_resp *r, const char *key)
{
	return json_string_value(json_object_get(r->json, key));
}

/* The servers' wall clock minus ours: the servers run on phivault-test's
 * injectable clock (h_clock_advance), so codes are computed for their time. */
static long long clock_skew_ms;

static long long
local_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Advance s's clock by ms and remember how far ahead of ours it is. */
static void
advance(struct h_server *s, long long ms)
{
	long long now = h_clock_advance(s, ms);

	clock_skew_ms = now - local_ms();
}

/* TOTP of secret for the server's time step now/30 + delta, by oathtool
 * (independent of the server's implementation). */
static void
totp(const char *secret, int delta, char out[16])
{
	h_totp_at(secret, ((local_ms() + clock_skew_ms) / 1000 / 30 + delta) * 30, out);
}

/* Start a TOTP sequence early in a 30 s step so steps -1, 0, +1 stay
 * inside the server's window for the whole sequence: if the server is late
 * in its step, advance its clock to just past the next step's start. */
static void
totp_align(struct h_server *s)
{
	long long now = h_clock_advance(s, 0), into = now % 30000;

	clock_skew_ms = now - local_ms();
	if (into > 12000)
		advance(s, 30000 - into + 100);
}

static void
login(struct h_server *s, const char *user, const char *pw, struct h_resp *r)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, r);
}

/* Log in (with a TOTP code if asked) and copy the session token. */
static void
login_token(struct h_server *s, const char *user, const char *pw, const char *secret,
    int delta, char tok[64])
{
	struct h_resp r;
	char body[512], code[16];

	login(s, user, pw, &r);
	CHECK_STATUS(&r, 200);
	if (json_is_true(json_object_get(r.json, "mfa_required"))) {
		CHECK(secret != NULL);
		totp(secret, delta, code);
		snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
		    jstr(&r, "mfa_token"), code);
		h_resp_free(&r);
		h_req(s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
		CHECK_STATUS(&r, 200);
	}
	CHECK(jstr(&r, "token") != NULL);
	snprintf(tok, 64, "%s", jstr(&r, "token"));
	h_resp_free(&r);
}

static void
expect(struct h_server *s, const char *method, const char *path, const char *tok,
    const char *body, int status, const char *code)
{
	h_expect(s, method, path, tok, body, NULL, status, code);
}

/* Change a one-time password; returns nothing, checks 200. */
static void
change_password(struct h_server *s, const char *tok, const char *cur, const char *npw)
{
	struct h_resp r;
	char body[512];

	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"%s\"}",
	    cur, npw);
	h_req(s, "POST", "/v1/auth/password", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
}

/* Create a user; copies id and one-time password. */
static void
create_user(struct h_server *s, const char *tok, const char *body, char id[64], char otp[64])
{
	struct h_resp r;

	h_req(s, "POST", "/v1/users", tok, body, NULL, &r);
	if (r.status == 202 && jstr(&r, "approval") != NULL)
		h_officer_approve(s, tok, jstr(&r, "approval"));   /* dual control */
	else
		CHECK_STATUS(&r, 201);
	CHECK(jstr(&r, "id") != NULL && strncmp(jstr(&r, "id"), "usr_", 4) == 0);
	CHECK(jstr(&r, "one_time_password") != NULL &&
	    strlen(jstr(&r, "one_time_password")) >= 16);
	snprintf(id, 64, "%s", jstr(&r, "id"));
	snprintf(otp, 64, "%s", jstr(&r, "one_time_password"));
	h_resp_free(&r);
}

static int
audit_count(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason });
}

/* True if the bytes of needle occur in DIR/name. */
static bool
file_has(const char *dir, const char *name, const char *needle)
{
	char p[1024];
	FILE *f;
	char *buf;
	long len;
	bool hit = false;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "rb")) == NULL)
		return false;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	hit = len > 0 && memmem(buf, (size_t)len, needle, strlen(needle)) != NULL;
	free(buf);
	return hit;
}

static bool
db_has(const char *dir, const char *needle)
{
	return file_has(dir, "phivault.db", needle) || file_has(dir, "phivault.db-wal", needle);
}

/* ---- secrets observed during the run, checked against the database at the end ---- */
static char seen_otp[64], seen_token[64], seen_secret[64], seen_recovery[64], seen_pw[64];

/* ======================================================================
 * Server A: the bootstrap admin, MFA, users, roles, separation of duties
 * ====================================================================== */

static const char *ADMIN_PW = "correct horse battery staple 42";

static void
test_bootstrap_and_mfa(struct h_server *s, char admin_tok[64], char secret[64],
    char recovery[4][16])
{
	struct h_resp r;
	const char *otp = json_string_value(json_object_get(s->init, "admin_password"));
	char body[512], code[16], tok[64], *uri;
	json_t *codes;
	size_t i;

	snprintf(seen_otp, sizeof(seen_otp), "%s", otp);
	/* one-time password: a restricted session that must change it and enrol MFA */
	login(s, "admin", otp, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "restricted")));
	CHECK(json_array_size(json_object_get(r.json, "required_actions")) == 2);
	CHECK(json_integer_value(json_object_get(r.json, "idle_timeout_s")) == 900);
	CHECK(jstr(&r, "expires_at") != NULL);
	snprintf(tok, sizeof(tok), "%s", jstr(&r, "token"));
	CHECK(strncmp(tok, "pvt_", 4) == 0 && strlen(tok) == 47);
	snprintf(seen_token, sizeof(seen_token), "%s", tok);
	h_resp_free(&r);
	/* the restricted session can reach only the password / MFA / session routes */
	expect(s, "GET", "/v1/users", tok, NULL, 403, "password_change_required");
	expect(s, "POST", "/v1/users", tok, "{\"username\":\"x\"}", 403,
	    "password_change_required");
	expect(s, "GET", "/v1/audit", tok, NULL, 403, "password_change_required");
	h_req(s, "GET", "/v1/auth/session", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(jstr(&r, "username"), "admin") == 0);
	CHECK(json_is_true(json_object_get(r.json, "restricted")));
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "roles"), 0)),
	    "admin") == 0);
	h_resp_free(&r);
	/* no token, a malformed one, an unknown one: 401 */
	expect(s, "GET", "/v1/auth/session", NULL, NULL, 401, "unauthenticated");
	expect(s, "GET", "/v1/auth/session", "pvt_nonsense", NULL, 401, "unauthenticated");
	expect(s, "GET", "/v1/auth/session",
	    "pvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, 401, "unauthenticated");

	/* password policy (NIST SP 800-63B): too short, breached, contains the username */
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"short\"}",
	    otp);
	expect(s, "POST", "/v1/auth/password", tok, body, 400, "invalid_request");
	snprintf(body, sizeof(body),
	    "{\"current_password\":\"%s\",\"new_password\":\"password123456\"}", otp);
	expect(s, "POST", "/v1/auth/password", tok, body, 400, "invalid_request");
	snprintf(body, sizeof(body),
	    "{\"current_password\":\"%s\",\"new_password\":\"admin-admin-admin-7\"}", otp);
	expect(s, "POST", "/v1/auth/password", tok, body, 400, "invalid_request");
	/* the current password must be right */
	snprintf(body, sizeof(body), "{\"current_password\":\"wrong wrong wrong\","
	    "\"new_password\":\"%s\"}", ADMIN_PW);
	expect(s, "POST", "/v1/auth/password", tok, body, 403, "forbidden");
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", otp,
	    ADMIN_PW);
	h_req(s, "POST", "/v1/auth/password", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "restricted")));   /* MFA still owed */
	h_resp_free(&r);
	expect(s, "GET", "/v1/users", tok, NULL, 403, "password_change_required");
	/* the one-time password is gone */
	login(s, "admin", otp, &r);
	CHECK_STATUS(&r, 401);
	h_resp_free(&r);

	/* MFA enrolment */
	expect(s, "POST", "/v1/auth/mfa/confirm", tok, "{\"code\":\"123456\"}", 409, "conflict");
	h_req(s, "POST", "/v1/auth/mfa/enroll", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(jstr(&r, "secret") != NULL && strlen(jstr(&r, "secret")) == 32);
	snprintf(secret, 64, "%s", jstr(&r, "secret"));
	snprintf(seen_secret, sizeof(seen_secret), "%s", secret);
	uri = strdup(jstr(&r, "otpauth_uri"));
	CHECK(strncmp(uri, "otpauth://totp/phivault:admin?secret=", 37) == 0);
	CHECK(strstr(uri, secret) != NULL);
	CHECK(strstr(uri, "issuer=phivault") != NULL && strstr(uri, "algorithm=SHA1") != NULL &&
	    strstr(uri, "digits=6") != NULL && strstr(uri, "period=30") != NULL);
	free(uri);
	h_resp_free(&r);
	totp_align(s);
	/* a wrong code is refused, the right one (previous step, from oathtool) confirms */
	totp(secret, 5, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	expect(s, "POST", "/v1/auth/mfa/confirm", tok, body, 400, "invalid_request");
	totp(secret, -1, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(s, "POST", "/v1/auth/mfa/confirm", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	codes = json_object_get(r.json, "recovery_codes");
	CHECK(json_array_size(codes) == 10);
	for (i = 0; i < 4; i++)
		snprintf(recovery[i], 16, "%s", json_string_value(json_array_get(codes, i)));
	snprintf(seen_recovery, sizeof(seen_recovery), "%s", recovery[3]);
	CHECK(json_is_false(json_object_get(r.json, "restricted")));
	h_resp_free(&r);
	/* now a full session */
	expect(s, "GET", "/v1/users", tok, NULL, 200, NULL);
	expect(s, "POST", "/v1/auth/mfa/enroll", tok, NULL, 409, "conflict");

	/* later logins need MFA; the step used to confirm cannot be replayed */
	login(s, "admin", ADMIN_PW, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	CHECK(jstr(&r, "token") == NULL);
	CHECK(strncmp(jstr(&r, "mfa_token"), "pvm_", 4) == 0);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    jstr(&r, "mfa_token"), code);
	expect(s, "POST", "/v1/auth/mfa", NULL, body, 401, "unauthenticated");   /* replay */
	totp(secret, 0, code);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    jstr(&r, "mfa_token"), code);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "restricted")));
	snprintf(admin_tok, 64, "%s", jstr(&r, "token"));
	h_resp_free(&r);
	/* the pending login is spent */
	expect(s, "POST", "/v1/auth/mfa", NULL, body, 401, "unauthenticated");
	/* the same code on a fresh login: replay refused */
	login(s, "admin", ADMIN_PW, &r);
	CHECK_STATUS(&r, 200);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    jstr(&r, "mfa_token"), code);
	h_resp_free(&r);
	expect(s, "POST", "/v1/auth/mfa", NULL, body, 401, "unauthenticated");

	/* a recovery code works once (any case, with or without the dash) */
	login(s, "admin", ADMIN_PW, &r);
	CHECK_STATUS(&r, 200);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    jstr(&r, "mfa_token"), recovery[0]);
	h_resp_free(&r);
	expect(s, "POST", "/v1/auth/mfa", NULL, body, 200, NULL);
	login(s, "admin", ADMIN_PW, &r);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    jstr(&r, "mfa_token"), recovery[0]);
	h_resp_free(&r);
	expect(s, "POST", "/v1/auth/mfa", NULL, body, 401, "unauthenticated");
	/* the old restricted session survived the password change (it made it) */
	expect(s, "GET", "/v1/auth/session", tok, NULL, 200, NULL);
	expect(s, "POST", "/v1/auth/logout", tok, NULL, 204, NULL);
	expect(s, "GET", "/v1/auth/session", tok, NULL, 401, "unauthenticated");

	/* a login whose password was checked before a password change cannot be
	 * finished with the second factor afterwards (recovery[1] is still unused) */
	login(s, "admin", ADMIN_PW, &r);
	CHECK_STATUS(&r, 200);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    jstr(&r, "mfa_token"), recovery[1]);
	h_resp_free(&r);
	change_password(s, admin_tok, ADMIN_PW, "quiet meadow lantern 77");
	expect(s, "POST", "/v1/auth/mfa", NULL, body, 401, "unauthenticated");
	change_password(s, admin_tok, "quiet meadow lantern 77", ADMIN_PW);
	/* the recovery code was not spent by the refused attempt */
	login(s, "admin", ADMIN_PW, &r);
	CHECK_STATUS(&r, 200);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    jstr(&r, "mfa_token"), recovery[1]);
	h_resp_free(&r);
	expect(s, "POST", "/v1/auth/mfa", NULL, body, 200, NULL);
}

static void
test_users_and_roles(struct h_server *s, const char *admin_tok)
{
	struct h_resp r;
	char dave[64], dave_otp[64], dave_tok[64], dave_tok2[64], erin[64], erin_otp[64];
	char erin_tok[64], path[256], admin_id[64];
	json_t *e;
	size_t i;
	bool found = false;

	/* joiner; usernames are unique (case-insensitively: stored lowercase) */
	create_user(s, admin_tok, "{\"username\":\"Dave\",\"display_name\":\"Dave D\","
	    "\"email\":\"dave@example.org\",\"roles\":[\"clinician\"],"
	    "\"attributes\":{\"department\":\"cardiology\"}}", dave, dave_otp);
	expect(s, "POST", "/v1/users", admin_tok, "{\"username\":\"dave\"}", 409, "conflict");
	expect(s, "POST", "/v1/users", admin_tok, "{\"username\":\"bad name\"}", 400,
	    "invalid_request");
	expect(s, "POST", "/v1/users", admin_tok, "{\"username\":\"zed\",\"roles\":[\"nope\"]}",
	    400, "invalid_request");
	expect(s, "POST", "/v1/users", admin_tok, "{\"username\":\"zed\",\"groups\":[\"nope\"]}",
	    400, "invalid_request");
	expect(s, "POST", "/v1/users", admin_tok, "{\"username\":\"zed\",\"colour\":\"red\"}",
	    400, "invalid_request");
	expect(s, "POST", "/v1/users", admin_tok, "{\"username\":\"zed\",\"email\":\"nope\"}", 400,
	    "invalid_request");
	h_req(s, "GET", "/v1/users", admin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "users"), i, e) {
		CHECK(json_object_get(e, "password_hash") == NULL);
		CHECK(json_object_get(e, "mfa_secret") == NULL);
		if (strcmp(json_string_value(json_object_get(e, "id")), dave) == 0) {
			found = true;
			CHECK(strcmp(json_string_value(json_object_get(e, "username")), "dave") == 0);
			CHECK(strcmp(json_string_value(json_object_get(e, "status")), "active") == 0);
			CHECK(strcmp(json_string_value(json_object_get(json_object_get(e,
			    "attributes"), "department")), "cardiology") == 0);
		}
		if (strcmp(json_string_value(json_object_get(e, "username")), "admin") == 0)
			snprintf(admin_id, sizeof(admin_id), "%s",
			    json_string_value(json_object_get(e, "id")));
	}
	CHECK(found);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/users/%s", dave);
	h_req(s, "GET", path, admin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(jstr(&r, "email"), "dave@example.org") == 0);
	CHECK(json_is_true(json_object_get(r.json, "must_change_password")));
	h_resp_free(&r);
	expect(s, "GET", "/v1/users/usr_aaaaaaaaaaaaaaaaaaaaaaaaaa", admin_tok, NULL, 404,
	    "not_found");
	/* no hard delete */
	expect(s, "DELETE", path, admin_tok, NULL, 405, "method_not_allowed");

	/* dave: one-time password -> restricted (mfa_required = admins: no MFA owed) */
	login(s, "dave", dave_otp, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "restricted")));
	CHECK(json_array_size(json_object_get(r.json, "required_actions")) == 1);
	snprintf(dave_tok, sizeof(dave_tok), "%s", jstr(&r, "token"));
	h_resp_free(&r);
	snprintf(seen_pw, sizeof(seen_pw), "%s", "purple elephant dancing 1987");
	change_password(s, dave_tok, dave_otp, seen_pw);
	h_req(s, "GET", "/v1/auth/session", dave_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "restricted")));
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "roles"), 0)),
	    "clinician") == 0);
	h_resp_free(&r);
	/* separation of duties: the clinician manages nothing, reads no audit */
	expect(s, "GET", "/v1/users", dave_tok, NULL, 403, "forbidden");
	expect(s, "GET", "/v1/audit", dave_tok, NULL, 403, "forbidden");
	/* the admin manages users but cannot read the audit trail */
	expect(s, "GET", "/v1/audit", admin_tok, NULL, 403, "forbidden");
	expect(s, "GET", "/v1/audit/verify", admin_tok, NULL, 403, "forbidden");
	/* a second session of dave, to see the password change end it */
	login_token(s, "dave", seen_pw, NULL, 0, dave_tok2);
	change_password(s, dave_tok, seen_pw, "violet giraffe singing 2001");
	expect(s, "GET", "/v1/auth/session", dave_tok2, NULL, 401, "unauthenticated");
	expect(s, "GET", "/v1/auth/session", dave_tok, NULL, 200, NULL);

	/* mover: dave becomes an auditor; his live session sees it at once */
	h_req(s, "PATCH", path, admin_tok, "{\"roles\":[\"auditor\"],\"display_name\":\"D. D.\"}",
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "roles"), 0)),
	    "auditor") == 0);
	CHECK(strcmp(jstr(&r, "display_name"), "D. D.") == 0);
	h_resp_free(&r);
	expect(s, "PATCH", path, admin_tok, "{\"username\":\"renamed\"}", 400, "invalid_request");
	expect(s, "GET", "/v1/audit?limit=5", dave_tok, NULL, 200, NULL);
	expect(s, "GET", "/v1/audit?limit=5000", dave_tok, NULL, 400, "invalid_request");
	expect(s, "GET", "/v1/audit/verify", dave_tok, NULL, 200, NULL);
	/* the auditor manages nothing */
	expect(s, "POST", "/v1/users", dave_tok, "{\"username\":\"mallory\"}", 403, "forbidden");
	expect(s, "POST", "/v1/roles", dave_tok,
	    "{\"name\":\"x\",\"permissions\":[\"audit.read\"]}", 403, "forbidden");
	h_req(s, "GET", "/v1/audit/public-key", dave_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(r.body != NULL && strstr(r.body, "-----BEGIN PUBLIC KEY-----") != NULL);
	CHECK(h_has_header(&r, "Content-Type: application/x-pem-file"));
	h_resp_free(&r);

	/* custom roles and groups */
	/* a PHI role: pending (dual control) until an officer approves it */
	h_req(s, "POST", "/v1/roles", admin_tok,
	    "{\"name\":\"patients_reader\",\"permissions\":[\"records.read:patients\"]}", NULL, &r);
	CHECK_STATUS(&r, 202);
	h_officer_approve(s, admin_tok, jstr(&r, "approval"));
	h_resp_free(&r);
	expect(s, "POST", "/v1/roles", admin_tok,
	    "{\"name\":\"patients_reader\",\"permissions\":[\"records.read:patients\"]}", 409,
	    "conflict");
	expect(s, "POST", "/v1/roles", admin_tok, "{\"name\":\"god\",\"permissions\":[\"*\"]}",
	    400, "invalid_request");
	expect(s, "POST", "/v1/roles", admin_tok,
	    "{\"name\":\"auditor\",\"permissions\":[\"audit.read\"]}", 409, "conflict");
	expect(s, "POST", "/v1/roles", admin_tok,
	    "{\"name\":\"cond\",\"permissions\":[\"audit.read\"],\"condition\":{\"a\":1}}", 400,
	    "invalid_request");
	h_req(s, "GET", "/v1/roles", admin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "roles")) == 8); /* 7 built-in (security_officer included) + the custom one */
	h_resp_free(&r);
	expect(s, "POST", "/v1/groups", admin_tok,
	    "{\"name\":\"audit_team\",\"roles\":[\"auditor\"]}", 201, NULL);
	expect(s, "POST", "/v1/groups", admin_tok, "{\"name\":\"audit_team\",\"roles\":[]}", 409,
	    "conflict");
	expect(s, "POST", "/v1/groups", admin_tok, "{\"name\":\"g2\",\"roles\":[\"ghost\"]}", 400,
	    "invalid_request");
	expect(s, "GET", "/v1/groups", admin_tok, NULL, 200, NULL);
	/* erin inherits auditor from her group */
	create_user(s, admin_tok, "{\"username\":\"erin\",\"groups\":[\"audit_team\"],"
	    "\"roles\":[\"patients_reader\"]}", erin, erin_otp);
	login_token(s, "erin", erin_otp, NULL, 0, erin_tok);
	change_password(s, erin_tok, erin_otp, "orange kangaroo jumping 1999");
	h_req(s, "GET", "/v1/auth/session", erin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "roles")) == 2);
	h_resp_free(&r);
	expect(s, "GET", "/v1/audit?limit=1", erin_tok, NULL, 200, NULL);
	expect(s, "GET", "/v1/users", erin_tok, NULL, 403, "forbidden");

	/* leaver: dave's live session dies at once, his login is refused */
	expect(s, "GET", "/v1/auth/session", dave_tok, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1/users/%s/disable", dave);
	h_req(s, "POST", path, admin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(jstr(&r, "status"), "disabled") == 0);
	CHECK(json_integer_value(json_object_get(r.json, "sessions_ended")) >= 1);
	h_resp_free(&r);
	expect(s, "GET", "/v1/auth/session", dave_tok, NULL, 401, "unauthenticated");
	expect(s, "GET", "/v1/audit?limit=1", dave_tok, NULL, 401, "unauthenticated");
	login(s, "dave", "violet giraffe singing 2001", &r);
	CHECK_STATUS(&r, 401);
	CHECK(strcmp(h_err_code(&r), "unauthenticated") == 0);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/users/%s", dave);
	h_req(s, "GET", path, admin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(jstr(&r, "status"), "disabled") == 0);
	CHECK(jstr(&r, "disabled_at") != NULL);
	h_resp_free(&r);
	/* nobody disables themselves */
	snprintf(path, sizeof(path), "/v1/users/%s/disable", admin_id);
	expect(s, "POST", path, admin_tok, NULL, 409, "conflict");
	/* separation of duties: whoever manages users cannot grant themselves
	 * a role, directly or through a group (here: the auditor's) */
	snprintf(path, sizeof(path), "/v1/users/%s", admin_id);
	expect(s, "PATCH", path, admin_tok, "{\"roles\":[\"admin\",\"clinician\"]}", 403,
	    "forbidden");
	expect(s, "PATCH", path, admin_tok, "{\"groups\":[\"audit_team\"]}", 403, "forbidden");
	h_req(s, "GET", "/v1/auth/session", admin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "roles")) == 1);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "roles"), 0)),
	    "admin") == 0);
	h_resp_free(&r);
	expect(s, "GET", "/v1/audit?limit=1", admin_tok, NULL, 403, "forbidden");
	/* their own display name is fine */
	expect(s, "PATCH", path, admin_tok, "{\"display_name\":\"The Admin\"}", 200, NULL);

	/* the trail, read by the auditor erin */
	CHECK(audit_count(s, erin_tok, "auth.login", "allowed", NULL) >= 5);
	CHECK(audit_count(s, erin_tok, "auth.login", "denied", "disabled") == 1);
	CHECK(audit_count(s, erin_tok, "auth.login", "denied", "bad_password") >= 1);
	CHECK(audit_count(s, erin_tok, "auth.mfa", "allowed", "totp") >= 1);
	/* recovery[0] once, recovery[1] once (after the refused credentials_changed try) */
	CHECK(audit_count(s, erin_tok, "auth.mfa", "allowed", "recovery_code") == 2);
	CHECK(audit_count(s, erin_tok, "auth.mfa", "denied", "credentials_changed") == 1);
	CHECK(audit_count(s, erin_tok, "auth.mfa", "denied", NULL) >= 2);
	CHECK(audit_count(s, erin_tok, "auth.mfa_enroll", "allowed", "confirmed") == 1);
	CHECK(audit_count(s, erin_tok, "auth.mfa_enroll", "denied", "bad_totp") == 1);
	CHECK(audit_count(s, erin_tok, "auth.password", "allowed", NULL) >= 4);
	CHECK(audit_count(s, erin_tok, "auth.password", "denied", "policy") == 3);
	CHECK(audit_count(s, erin_tok, "auth.logout", "allowed", NULL) == 1);
	CHECK(audit_count(s, erin_tok, "user.create", "allowed", NULL) == 3);   /* admin, dave, erin */
	CHECK(audit_count(s, erin_tok, "user.create", "error", "conflict") == 1);
	CHECK(audit_count(s, erin_tok, "user.update", "allowed", NULL) == 2);
	CHECK(audit_count(s, erin_tok, "user.update", "denied", "self_role_change") == 2);
	CHECK(audit_count(s, erin_tok, "user.disable", "allowed", NULL) == 1);
	/* patients_reader grants PHI: requested, then applied by an officer's
	 * approval (and dave's clinician and erin's role likewise), not by a role.create */
	CHECK(audit_count(s, erin_tok, "role.create", "allowed", NULL) == 0);
	CHECK(audit_count(s, erin_tok, "approval.request", "allowed", "pending") == 3);
	CHECK(audit_count(s, erin_tok, "approval.approve", "allowed", "approved") == 3);
	CHECK(audit_count(s, erin_tok, "group.create", "allowed", NULL) == 1);
	CHECK(audit_count(s, erin_tok, "audit.read", "allowed", NULL) >= 3);
	/* denials carry the missing permission */
	CHECK(audit_count(s, erin_tok, "user.read", "denied",
	    "missing_permission:users.manage") >= 2);
	CHECK(audit_count(s, erin_tok, "audit.read", "denied",
	    "missing_permission:audit.read") >= 2);
	/* filters: actor */
	snprintf(path, sizeof(path), "/v1/audit?actor=%s&limit=1000", erin);
	h_req(s, "GET", path, erin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) >= 3);
	json_array_foreach(json_object_get(r.json, "entries"), i, e)
		CHECK(strcmp(json_string_value(json_object_get(json_object_get(e, "actor"),
		    "user_id")), erin) == 0);
	h_resp_free(&r);
	/* paging: next_seq */
	h_req(s, "GET", "/v1/audit?limit=2", erin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == 2);
	CHECK(json_integer_value(json_object_get(r.json, "next_seq")) == 2);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/audit?since_seq=2&limit=1", erin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(r.json,
	    "entries"), 0), "seq")) == 3);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/audit/verify", erin_tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "ok")));
	CHECK(json_integer_value(json_object_get(r.json, "entries")) > 40);
	h_resp_free(&r);
}

/* The CLI: login walks through password + TOTP (stdin when not a tty), user
 * add/list/show/disable over the API. */
static void
test_cli(struct h_server *s, const char *secret)
{
	char cmd[2048], *out = NULL, code[16], tok[80], id[64], *p;

	totp_align(s);
	totp(secret, 1, code);
	snprintf(cmd, sizeof(cmd), "printf '%%s\\n%%s\\n' '%s' '%s' | PHIVAULT_ADDR=%s "
	    "PHIVAULT_CACERT=%s %s login admin", ADMIN_PW, code, s->base, s->cacert, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strncmp(out, "export PHIVAULT_TOKEN=pvt_", 26) == 0);
	snprintf(tok, sizeof(tok), "%.47s", out + 22);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s user "
	    "add --format text frank --role analyst --email frank@example.org --display-name 'Frank F'",
	    s->base, s->cacert, tok, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "one-time password: ") != NULL);
	p = strstr(out, "id: usr_");
	CHECK(p != NULL);
	snprintf(id, sizeof(id), "%.30s", p + 4);
	/* analyst reads PHI: the CLI names the pending request (dual control) */
	p = strstr(out, "pending approval: apr_");
	CHECK(p != NULL);
	{
		char apr[64];

		CHECK(sscanf(p + 18, "%63[a-z0-9_]", apr) == 1);
		h_officer_approve(s, tok, apr);
	}
	free(out);
	/* duplicate: runtime error, exit 3 */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s user "
	    "add --format text frank 2>&1", s->base, s->cacert, tok, h_bin());
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "conflict") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s user "
	    "list --format text", s->base, s->cacert, tok, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "frank") != NULL && strstr(out, "analyst") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s user "
	    "show --format text %s", s->base, s->cacert, tok, h_bin(), id);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "frank@example.org") != NULL && strstr(out, "Frank F") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s user "
	    "disable --format text %s", s->base, s->cacert, tok, h_bin(), id);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "disabled") != NULL);
	free(out);
	/* no token: usage error */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_TOKEN= %s user list 2>/dev/null",
	    s->base, h_bin());
	CHECK(h_run(cmd, NULL) == 2);
	/* a wrong password: exit 3, nothing on stdout */
	snprintf(cmd, sizeof(cmd), "echo 'not the password at all' | PHIVAULT_ADDR=%s "
	    "PHIVAULT_CACERT=%s %s login admin 2>/dev/null", s->base, s->cacert, h_bin());
	CHECK(h_run(cmd, &out) == 3);
	CHECK(out[0] == '\0');
	free(out);
}

/* ======================================================================
 * Server B: lockout and throttling
 * ====================================================================== */

static void
test_lockout(void)
{
	struct h_server s;
	struct h_resp r, r2;
	char tok[64], carol[64], carol_otp[64], secret[64], body[512], code[16], mt[80];
	const char *otp;
	int i;

	h_init(&s, "identity-lockout", NULL);
	h_config_set(&s, "mfa_required", "admins");
	h_config_set(&s, "lockout_threshold", "3");
	h_config_set(&s, "lockout_duration_s", "4");
	h_start(&s, NULL);
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	login_token(&s, "admin", otp, NULL, 0, tok);
	change_password(&s, tok, otp, ADMIN_PW);
	h_req(&s, "POST", "/v1/auth/mfa/enroll", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", jstr(&r, "secret"));
	h_resp_free(&r);
	totp_align(&s);
	totp(secret, -1, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	expect(&s, "POST", "/v1/auth/mfa/confirm", tok, body, 200, NULL);
	create_user(&s, tok, "{\"username\":\"carol\",\"roles\":[\"analyst\"]}", carol, carol_otp);

	/* an unknown user is answered exactly like a wrong password */
	login(&s, "carol", "wrong password one", &r);
	login(&s, "nosuchuser", "wrong password one", &r2);
	CHECK_STATUS(&r, 401);
	CHECK_STATUS(&r2, 401);
	CHECK(strcmp(r.body, r2.body) == 0);
	h_resp_free(&r);
	h_resp_free(&r2);
	/* threshold 3: the third failure locks, the next attempt gets 423 */
	for (i = 0; i < 2; i++) {
		login(&s, "carol", "wrong password two", &r);
		login(&s, "nosuchuser", "wrong password two", &r2);
		CHECK_STATUS(&r, 401);
		CHECK_STATUS(&r2, 401);
		h_resp_free(&r);
		h_resp_free(&r2);
	}
	login(&s, "carol", carol_otp, &r);            /* even the right password */
	login(&s, "nosuchuser", "wrong password", &r2);
	CHECK_STATUS(&r, 423);
	CHECK_STATUS(&r2, 423);
	CHECK(strcmp(h_err_code(&r), "locked") == 0);
	CHECK(h_has_header(&r, "Retry-After:"));
	CHECK(h_has_header(&r2, "Retry-After:"));
	CHECK(strcmp(r.body, r2.body) == 0);
	h_resp_free(&r);
	h_resp_free(&r2);
	/* the lock ends by itself (4 s) */
	advance(&s, 5000);
	login(&s, "carol", carol_otp, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);

	/* MFA failures count on their own counter */
	login(&s, "admin", ADMIN_PW, &r);
	CHECK_STATUS(&r, 200);
	snprintf(mt, sizeof(mt), "%s", jstr(&r, "mfa_token"));
	h_resp_free(&r);
	for (i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"000000\"}", mt);
		expect(&s, "POST", "/v1/auth/mfa", NULL, body, 401, "unauthenticated");
	}
	totp(secret, 0, code);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mt, code);
	h_req(&s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 423);
	CHECK(h_has_header(&r, "Retry-After:"));
	h_resp_free(&r);
	/* ... while the password step is not locked */
	login(&s, "admin", ADMIN_PW, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	h_resp_free(&r);

	/* per-source throttle: a burst of failures from one address gets 429 */
	for (i = 0; i < 40; i++) {
		char u[32];

		snprintf(u, sizeof(u), "ghost%d", i);
		login(&s, u, "wrong password again", &r);
		if (r.status == 429) {
			CHECK(h_has_header(&r, "Retry-After:"));
			CHECK(strcmp(h_err_code(&r), "rate_limited") == 0);
			h_resp_free(&r);
			break;
		}
		CHECK_STATUS(&r, 401);
		h_resp_free(&r);
	}
	CHECK(i < 40);
	h_stop(&s);

	/* the trail has the lockouts (offline export) */
	{
		char cmd[1024], *out = NULL;
		int n = 0;

		snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(),
		    s.dir);
		CHECK(h_run(cmd, &out) == 0);
		for (char *p = out; (p = strstr(p, "\"auth.lockout\"")) != NULL; p++)
			n++;
		CHECK(n >= 3);   /* carol, the unknown name, admin's MFA */
		CHECK(strstr(out, "\"unknown_user\"") != NULL);
		free(out);
	}
	json_decref(s.init);
}

/* ======================================================================
 * Server C: automatic logoff (idle timeout 2 s, --dev)
 * ====================================================================== */

static void
test_idle_expiry(void)
{
	struct h_server s;
	char tok[64], cmd[1024], *out = NULL, *p;
	const char *otp;
	int n = 0;

	h_init(&s, "identity-idle", NULL);
	h_config_set(&s, "idle_timeout_s", "2");
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	login_token(&s, "admin", otp, NULL, 0, tok);
	change_password(&s, tok, otp, ADMIN_PW);
	expect(&s, "GET", "/v1/users", tok, NULL, 200, NULL);   /* mfa off: unrestricted */
	/* activity keeps it alive */
	advance(&s, 1000);
	expect(&s, "GET", "/v1/auth/session", tok, NULL, 200, NULL);
	advance(&s, 1000);
	expect(&s, "GET", "/v1/auth/session", tok, NULL, 200, NULL);
	/* the test clock refuses going back, absurd jumps and other keys */
	{
		static const char *bad[] = { "{\"advance_ms\":-1}", "{\"advance_ms\":\"5\"}",
		    "{\"advance_ms\":1.5}", "{\"advance_ms\":99999999999999}", "{}",
		    "{\"advance_ms\":1,\"x\":1}" };
		struct h_resp r;
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			h_req(&s, "POST", "/v1/test/clock", NULL, bad[i], NULL, &r);
			CHECK_STATUS(&r, 400);
			CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
			h_resp_free(&r);
		}
		/* ... and nothing moved: still alive */
		expect(&s, "GET", "/v1/auth/session", tok, NULL, 200, NULL);
	}
	/* idle longer than the timeout: expired, and stays expired */
	advance(&s, 3000);
	expect(&s, "GET", "/v1/auth/session", tok, NULL, 401, "session_expired");
	expect(&s, "GET", "/v1/users", tok, NULL, 401, "session_expired");
	h_stop(&s);
	/* ... after a restart too (the end is in the store) */
	h_start(&s, "--dev");
	expect(&s, "GET", "/v1/auth/session", tok, NULL, 401, "session_expired");
	h_stop(&s);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	for (p = out; (p = strstr(p, "\"session.expired\"")) != NULL; p++)
		n++;
	CHECK(n == 1);   /* recorded once, when first noticed */
	CHECK(strstr(out, "\"idle\"") != NULL);
	free(out);	json_decref(s.init);
}

int
main(void)
{
	struct h_server s;
	char admin_tok[64], secret[64], recovery[4][16], cmd[1024];

	h_clock_enable();   /* every server here: advance time instead of sleeping */
	h_init(&s, "identity", NULL);
	h_config_set(&s, "mfa_required", "admins");
	h_start(&s, NULL);
	test_bootstrap_and_mfa(&s, admin_tok, secret, recovery);
	test_users_and_roles(&s, admin_tok);
	test_cli(&s, secret);
	h_stop(&s);

	/* nothing secret in clear in the database (nor its WAL) */
	CHECK(seen_otp[0] && seen_token[0] && seen_secret[0] && seen_recovery[0] && seen_pw[0]);
	CHECK(!db_has(s.dir, seen_otp));
	CHECK(!db_has(s.dir, seen_token));
	CHECK(!db_has(s.dir, seen_token + 4));
	CHECK(!db_has(s.dir, seen_secret));
	CHECK(!db_has(s.dir, seen_recovery));
	CHECK(!db_has(s.dir, seen_pw));
	CHECK(!db_has(s.dir, ADMIN_PW));
	CHECK(db_has(s.dir, "$argon2id$"));   /* the check itself can see the file */
	/* and the trail is intact */
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);

	json_decref(s.init);
	test_lockout();
	test_idle_expiry();
	h_done("test_identity");
	return 0;
}
