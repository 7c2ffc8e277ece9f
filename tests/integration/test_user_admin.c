/*
 * User administration beyond joiner / mover / leaver, on the real binary
 * over HTTPS (issue 8, items 9 and 7):
 *  - the way back from mistakes: enable, unlock, reset (new one-time
 *    password, MFA and recovery codes cleared, lockouts cleared, every
 *    session ended), GET /v1/users?username=;
 *  - separation of duties: nobody enables, unlocks or resets their own
 *    account; a reset names the roles the administrator does not hold;
 *  - who created whom: created_by on the user, the user.create entry's
 *    resource and roles, and the administrator's own session refused on
 *    every PHI route (read, search, detokenize, batch read) even after it
 *    made a PHI role;
 *  - `phivault user ...` with --format text and --format json;
 *  - no one-time password in the audit trail or the server log.
 * Lockouts here last 900 s: only an unlock (or a reset) can end them
 * within the test, so nothing waits on a clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define PW_NEW "Saffron-glacier-Otter-58"
#define SSN "404-81-9753"
#define NAME "Zebediah Quuxworth"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

/* one-time passwords seen during the run: none may be in the trail or the log */
static char otps[16][64];
static size_t notps;

static void
seen_otp(const char *otp)
{
	CHECK(otp != NULL && notps < sizeof(otps) / sizeof(otps[0]));
	snprintf(otps[notps++], sizeof(otps[0]), "%s", otp);
}

static void
login(struct h_server *s, const char *user, const char *pw, struct h_resp *r)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, r);
}

static void
add_user(struct h_server *s, const char *admin, const char *user, const char *role,
    char id[64], char otp[64])
{
	/* a PHI role is approved by the harness's officer (dual control) */
	h_user_create(s, admin, user, role, NULL, id, 64, otp, 64);
	seen_otp(otp);
}

/* GET /v1/users/{id} (caller frees) */
static void
get_user(struct h_server *s, const char *tok, const char *id, struct h_resp *r)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/users/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, r);
	CHECK_STATUS(r, 200);
}

static void
user_post(struct h_server *s, const char *tok, const char *id, const char *verb,
    struct h_resp *r)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/users/%s/%s", id, verb);
	h_req(s, "POST", path, tok, NULL, NULL, r);
}

/* The audit entries of action (as an auditor), caller decrefs. */
static json_t *
audit_entries(struct h_server *s, const char *tok, const char *action)
{
	struct h_resp r;
	char path[256];
	json_t *e;

	snprintf(path, sizeof(path), "/v1/audit?action=%s&limit=1000", action);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	e = json_incref(json_object_get(r.json, "entries"));
	h_resp_free(&r);
	return e;
}

/* The one entry of action on users/<id> with outcome (and reason if given). */
static json_t *
audit_find(json_t *entries, const char *id, const char *outcome, const char *reason)
{
	char res[128];
	json_t *e, *hit = NULL;
	size_t i;
	int n = 0;

	snprintf(res, sizeof(res), "users/%s", id);
	json_array_foreach(entries, i, e) {
		if (strcmp(h_jstr(e, "resource"), res) != 0 || strcmp(h_jstr(e, "outcome"), outcome) != 0)
			continue;
		if (reason != NULL && strcmp(h_jstr(e, "reason"), reason) != 0)
			continue;
		hit = e;
		n++;
	}
	CHECK(n == 1);
	return hit;
}

static bool
array_has(json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_string_value(v) != NULL && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* TOTP of secret now (oathtool, independent of the server). The server
 * accepts the steps either side of now, so no alignment is needed for one
 * code. */
static void
totp_now(const char *secret, char out[16])
{
	h_totp_at(secret, (long long)time(NULL), out);
}

/* Enrol MFA on a full session; copies one recovery code. */
static void
enrol_mfa(struct h_server *s, const char *tok, char recovery[32])
{
	struct h_resp r;
	char secret[64], code[16], body[64];

	h_req(s, "POST", "/v1/auth/mfa/enroll", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	totp_now(secret, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(s, "POST", "/v1/auth/mfa/confirm", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "recovery_codes")) == 10);
	snprintf(recovery, 32, "%s",
	    json_string_value(json_array_get(json_object_get(r.json, "recovery_codes"), 0)));
	h_resp_free(&r);
}

struct ctx {
	char admin[64], admin_id[64];    /* the bootstrap admin */
	char adam[64], adam_id[64];      /* a second admin, created by the first */
	char audra[64];                  /* auditor */
	char clara[64];                  /* clinician, writes the record */
	char rec[64], token[64];         /* a record and a token of its SSN */
};

static void
setup(struct h_server *s, struct ctx *c)
{
	const char *otp = h_jstr(s->init, "admin_password");
	char id[64], o[64];
	struct h_resp r;

	seen_otp(otp);
	h_login_fresh(s, "admin", otp, PW_ADMIN, c->admin, 64);
	h_req(s, "GET", "/v1/auth/session", c->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(c->admin_id, sizeof(c->admin_id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);
	add_user(s, c->admin, "adam", "admin", c->adam_id, o);
	h_login_fresh(s, "adam", o, PW_USER, c->adam, 64);
	add_user(s, c->admin, "audra", "auditor", id, o);
	h_login_fresh(s, "audra", o, PW_USER, c->audra, 64);
	add_user(s, c->admin, "clara", "clinician", id, o);
	h_login_fresh(s, "clara", o, PW_USER, c->clara, 64);
	h_collection_create(s, c->admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\","
	    "\"searchable\":true}]}");
	h_req(s, "POST", "/v1/collections/patients/records", c->clara,
	    "{\"name\":\"" NAME "\",\"ssn\":\"" SSN "\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(c->rec, sizeof(c->rec), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	h_req(s, "POST", "/v1/tokenize", c->clara,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"" SSN "\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(c->token, sizeof(c->token), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
}

/* The admin's own session reads no PHI: record read, search, detokenize
 * and batch read are all refused, and nothing of the record comes back. */
static void
admin_reads_no_phi(struct h_server *s, struct ctx *c, const char *tok)
{
	char path[256], body[256];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", c->rec);
	h_req(s, "GET", path, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strstr(r.body, "Quuxworth") == NULL && strstr(r.body, "9753") == NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients/records?ssn=" SSN, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strstr(r.body, c->rec) == NULL);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", c->token);
	h_req(s, "POST", "/v1/detokenize", tok, body, TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strstr(r.body, "9753") == NULL);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"read\":[\"%s\"]}", c->rec);
	h_req(s, "POST", "/v1/collections/patients/records:batch", tok, body, TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strstr(r.body, "Quuxworth") == NULL);
	h_resp_free(&r);
}

/* Item 7: an admin makes a PHI role and a user with it. The admin itself
 * still reads nothing; the new user can, and the trail ties them together. */
static void
test_created_by(struct h_server *s, struct ctx *c)
{
	char mole_id[64], mole_otp[64], mole[64], path[256];
	struct h_resp r;
	json_t *entries, *e, *detail;

	h_create_approved(s, c->admin, "/v1/roles",
	    "{\"name\":\"phi_reader\",\"permissions\":[\"records.read:*\","
	    "\"records.unmask:*.*\",\"tokens.detokenize\"]}");
	add_user(s, c->admin, "mole", "phi_reader", mole_id, mole_otp);
	admin_reads_no_phi(s, c, c->admin);

	/* created_by: the creating admin; the bootstrap admin has none */
	get_user(s, c->adam, mole_id, &r);
	CHECK(h_jstr(r.json, "created_by") != NULL);
	CHECK(strcmp(h_jstr(r.json, "created_by"), c->admin_id) == 0);
	h_resp_free(&r);
	get_user(s, c->admin, c->adam_id, &r);
	CHECK(strcmp(h_jstr(r.json, "created_by"), c->admin_id) == 0);
	h_resp_free(&r);
	get_user(s, c->adam, c->admin_id, &r);
	CHECK(json_is_null(json_object_get(r.json, "created_by")));
	h_resp_free(&r);
	/* ... and in the list */
	h_req(s, "GET", "/v1/users?username=MOLE", c->adam, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "users")) == 1);
	e = json_array_get(json_object_get(r.json, "users"), 0);
	CHECK(strcmp(h_jstr(e, "id"), mole_id) == 0);
	CHECK(strcmp(h_jstr(e, "created_by"), c->admin_id) == 0);
	h_resp_free(&r);

	/* the user reads PHI (the residual dual control will close) ... */
	h_login_fresh(s, "mole", mole_otp, PW_USER, mole, 64);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", c->rec);
	h_req(s, "GET", path, mole, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* ... the admin's own session still reads nothing */
	admin_reads_no_phi(s, c, c->admin);

	/* the trail: user.create by the admin, resource the new user, roles in
	 * the detail; the new user's reads are under its own id */
	entries = audit_entries(s, c->audra, "user.create");
	e = audit_find(entries, mole_id, "allowed", NULL);
	CHECK(strcmp(h_jstr(json_object_get(e, "actor"), "user_id"), c->admin_id) == 0);
	detail = json_object_get(e, "detail");
	CHECK(json_is_object(detail));
	/* dual control: the user is made without the PHI role, which the admin's
	 * approval.request names and an officer's approval.approve applied */
	CHECK(!array_has(json_object_get(detail, "roles"), "phi_reader"));
	CHECK(json_is_true(json_object_get(detail, "pending")));
	json_decref(entries);
	entries = audit_entries(s, c->audra, "approval.request");
	{
		size_t i, n = 0;
		char target[96];

		snprintf(target, sizeof(target), "users/%s", mole_id);
		json_array_foreach(entries, i, e) {
			json_t *d = json_object_get(e, "detail");

			if (strcmp(h_jstr(d, "target"), target) != 0)
				continue;
			CHECK(strcmp(h_jstr(json_object_get(e, "actor"), "user_id"), c->admin_id) == 0);
			CHECK(array_has(json_object_get(json_object_get(d, "change"), "roles"),
			    "phi_reader"));
			n++;
		}
		CHECK(n == 1);
	}
	json_decref(entries);
	entries = audit_entries(s, c->audra, "record.read");
	{
		size_t i, by_mole = 0, admin_denied = 0;

		json_array_foreach(entries, i, e) {
			const char *who = h_jstr(json_object_get(e, "actor"), "user_id");

			if (strcmp(who, mole_id) == 0 && strcmp(h_jstr(e, "outcome"), "allowed") == 0)
				by_mole++;
			if (strcmp(who, c->admin_id) == 0 && strcmp(h_jstr(e, "outcome"), "denied") == 0)
				admin_denied++;
		}
		CHECK(by_mole == 1);
		CHECK(admin_denied >= 2);
	}
	json_decref(entries);
}

/* Item 9: enable, unlock, reset and their separation of duties. */
static void
test_enable_unlock_reset(struct h_server *s, struct ctx *c)
{
	char lou_id[64], lou_otp[64], lou[64], rita_id[64], rita_otp[64], rita[64], rita2[64];
	char recovery[32], newotp[64], body[256], tok[64];
	struct h_resp r;
	json_t *entries, *e, *detail;
	int i;

	add_user(s, c->admin, "lou", "analyst", lou_id, lou_otp);
	h_login_fresh(s, "lou", lou_otp, PW_USER, lou, 64);

	/* nobody enables, unlocks or resets their own account */
	user_post(s, c->admin, c->admin_id, "reset", &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
	CHECK(h_jstr(r.json, "one_time_password") == NULL);
	h_resp_free(&r);
	user_post(s, c->admin, c->admin_id, "unlock", &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	user_post(s, c->admin, c->admin_id, "enable", &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	/* the refused self-reset changed nothing: the old password still works */
	h_expect(s, "GET", "/v1/auth/session", c->admin, NULL, NULL, 200, NULL);
	login(s, "admin", PW_ADMIN, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* users.manage is needed: an auditor cannot */
	user_post(s, c->audra, lou_id, "unlock", &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/users/usr_aaaaaaaaaaaaaaaaaaaaaaaaaa/reset", c->admin, NULL, NULL,
	    404, "not_found");
	h_expect(s, "POST", "/v1/users/nonsense/unlock", c->admin, NULL, NULL, 404, "not_found");

	/* unlock: three failures lock lou for 900 s; an unlock ends it at once */
	for (i = 0; i < 3; i++) {
		login(s, "lou", "wrong password entirely", &r);
		CHECK_STATUS(&r, 401);
		h_resp_free(&r);
	}
	login(s, "lou", PW_USER, &r);
	CHECK_STATUS(&r, 423);
	h_resp_free(&r);
	user_post(s, c->adam, lou_id, "unlock", &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "unlocked")));
	CHECK(strcmp(h_jstr(r.json, "id"), lou_id) == 0);
	h_resp_free(&r);
	login(s, "lou", PW_USER, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);

	/* enable: a disabled user logs in again; sessions ended by the disable stay ended */
	user_post(s, c->admin, lou_id, "disable", &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	login(s, "lou", PW_USER, &r);
	CHECK_STATUS(&r, 401);
	h_resp_free(&r);
	user_post(s, c->admin, lou_id, "enable", &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "active") == 0);
	h_resp_free(&r);
	get_user(s, c->admin, lou_id, &r);
	CHECK(strcmp(h_jstr(r.json, "status"), "active") == 0);
	CHECK(json_object_get(r.json, "disabled_at") == NULL);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/auth/session", lou, NULL, NULL, 401, "unauthenticated");
	login(s, "lou", PW_USER, &r);
	CHECK_STATUS(&r, 200);
	CHECK(!json_is_true(json_object_get(r.json, "restricted")));
	h_resp_free(&r);

	/* reset: rita (a clinician, a role the admin does not hold) has MFA,
	 * recovery codes, two live sessions and a locked MFA-less password step */
	add_user(s, c->admin, "rita", "clinician", rita_id, rita_otp);
	h_login_fresh(s, "rita", rita_otp, PW_USER, rita, 64);
	enrol_mfa(s, rita, recovery);
	login(s, "rita", PW_USER, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	h_resp_free(&r);
	for (i = 0; i < 3; i++) {
		login(s, "rita", "wrong password entirely", &r);
		CHECK_STATUS(&r, 401);
		h_resp_free(&r);
	}
	login(s, "rita", PW_USER, &r);
	CHECK_STATUS(&r, 423);
	h_resp_free(&r);
	user_post(s, c->admin, rita_id, "reset", &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, "one_time_password") != NULL);
	CHECK(strlen(h_jstr(r.json, "one_time_password")) >= 16);
	snprintf(newotp, sizeof(newotp), "%s", h_jstr(r.json, "one_time_password"));
	seen_otp(newotp);
	CHECK(json_integer_value(json_object_get(r.json, "sessions_ended")) >= 1);
	CHECK(json_is_true(json_object_get(r.json, "must_change_password")));
	h_resp_free(&r);
	/* every session ended, the old password is gone, MFA is cleared */
	h_expect(s, "GET", "/v1/auth/session", rita, NULL, NULL, 401, "unauthenticated");
	login(s, "rita", PW_USER, &r);
	CHECK_STATUS(&r, 401);
	h_resp_free(&r);
	get_user(s, c->admin, rita_id, &r);
	CHECK(json_is_false(json_object_get(r.json, "mfa_enabled")));
	CHECK(json_is_true(json_object_get(r.json, "must_change_password")));
	h_resp_free(&r);
	/* the new one-time password: no lock, no MFA challenge, a restricted session */
	login(s, "rita", newotp, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_object_get(r.json, "mfa_required") == NULL ||
	    json_is_false(json_object_get(r.json, "mfa_required")));
	CHECK(json_is_true(json_object_get(r.json, "restricted")));
	CHECK(array_has(json_object_get(r.json, "required_actions"), "change_password"));
	snprintf(tok, sizeof(tok), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"%s\"}",
	    newotp, PW_NEW);
	h_expect(s, "POST", "/v1/auth/password", tok, body, NULL, 200, NULL);
	/* re-enrolment is possible, and the old recovery codes are void */
	login(s, "rita", PW_NEW, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, "token") != NULL);
	snprintf(rita2, sizeof(rita2), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	{
		char fresh[32], mt[80];

		enrol_mfa(s, rita2, fresh);
		login(s, "rita", PW_NEW, &r);
		CHECK_STATUS(&r, 200);
		CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
		snprintf(mt, sizeof(mt), "%s", h_jstr(r.json, "mfa_token"));
		h_resp_free(&r);
		snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mt, recovery);
		h_expect(s, "POST", "/v1/auth/mfa", NULL, body, NULL, 401, "unauthenticated");
		snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mt, fresh);
		h_expect(s, "POST", "/v1/auth/mfa", NULL, body, NULL, 200, NULL);
	}
	/* a disabled user is not reset (enable first), and nothing changes */
	user_post(s, c->admin, lou_id, "disable", &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	user_post(s, c->admin, lou_id, "reset", &r);
	CHECK_STATUS(&r, 409);
	CHECK(strcmp(h_err_code(&r), "conflict") == 0);
	CHECK(h_jstr(r.json, "one_time_password") == NULL);
	h_resp_free(&r);
	get_user(s, c->admin, lou_id, &r);
	CHECK(json_is_false(json_object_get(r.json, "must_change_password")));
	h_resp_free(&r);

	/* GET /v1/users?username= */
	h_req(s, "GET", "/v1/users?username=rita", c->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "users")) == 1);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(r.json, "users"), 0), "id"),
	    rita_id) == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/users?username=nobody", c->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "users")) == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/users?username=bad%20name", c->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	CHECK(strstr(r.body, "bad") == NULL);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/users?colour=red", c->admin, NULL, NULL, 400, "invalid_request");

	/* the trail */
	entries = audit_entries(s, c->audra, "user.reset");
	audit_find(entries, c->admin_id, "denied", "self_account");
	e = audit_find(entries, rita_id, "allowed", NULL);
	CHECK(strcmp(h_jstr(json_object_get(e, "actor"), "user_id"), c->admin_id) == 0);
	detail = json_object_get(e, "detail");
	CHECK(array_has(json_object_get(detail, "roles"), "clinician"));
	CHECK(array_has(json_object_get(detail, "roles_not_held"), "clinician"));
	audit_find(entries, lou_id, "error", "conflict");
	json_decref(entries);
	entries = audit_entries(s, c->audra, "user.unlock");
	audit_find(entries, c->admin_id, "denied", "self_account");
	e = audit_find(entries, lou_id, "allowed", NULL);
	CHECK(strcmp(h_jstr(json_object_get(e, "actor"), "user_id"), c->adam_id) == 0);
	json_decref(entries);
	entries = audit_entries(s, c->audra, "user.enable");
	audit_find(entries, c->admin_id, "denied", "self_account");
	audit_find(entries, lou_id, "allowed", NULL);
	json_decref(entries);
}

/* `phivault user ...` in both formats. */
static void
test_cli(struct h_server *s, struct ctx *c)
{
	char cmd[2048], env[1024], *out = NULL, id[64];
	json_t *j;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s",
	    s->base, s->cacert, c->admin, h_bin());
	/* add, json: the API's object */
	snprintf(cmd, sizeof(cmd), "%s user add cli_json --role analyst --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && h_jstr(j, "id") != NULL && strncmp(h_jstr(j, "id"), "usr_", 4) == 0);
	CHECK(h_jstr(j, "one_time_password") != NULL);
	seen_otp(h_jstr(j, "one_time_password"));
	snprintf(id, sizeof(id), "%s", h_jstr(j, "id"));
	json_decref(j);
	free(out);
	/* add, text: id and one-time password */
	snprintf(cmd, sizeof(cmd), "%s user add cli_text --format text", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "id: usr_") != NULL && strstr(out, "one-time password: ") != NULL);
	seen_otp(strstr(out, "one-time password: ") + 19);
	*strchr(otps[notps - 1], '\n') = '\0';
	free(out);
	/* show by username and by id, both formats */
	snprintf(cmd, sizeof(cmd), "%s user show CLI_JSON --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strcmp(h_jstr(j, "id"), id) == 0);
	CHECK(strcmp(h_jstr(j, "username"), "cli_json") == 0);
	CHECK(strcmp(h_jstr(j, "created_by"), c->admin_id) == 0);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s user show %s --format text", env, id);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "username:     cli_json") != NULL);
	CHECK(strstr(out, c->admin_id) != NULL);   /* created by */
	free(out);
	/* list, json */
	snprintf(cmd, sizeof(cmd), "%s user list --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && json_array_size(json_object_get(j, "users")) >= 8);
	json_decref(j);
	free(out);
	/* disable / enable / unlock by name, json and text */
	snprintf(cmd, sizeof(cmd), "%s user disable cli_json --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strcmp(h_jstr(j, "status"), "disabled") == 0);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s user enable cli_json --format text", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "enabled cli_json") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s user unlock %s --format json", env, id);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && json_is_true(json_object_get(j, "unlocked")));
	json_decref(j);
	free(out);
	/* reset: text prints the new one-time password, json carries it */
	snprintf(cmd, sizeof(cmd), "%s user reset cli_json --format text", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "reset cli_json") != NULL && strstr(out, "one-time password: ") != NULL);
	seen_otp(strstr(out, "one-time password: ") + 19);
	*strchr(otps[notps - 1], '\n') = '\0';
	free(out);
	snprintf(cmd, sizeof(cmd), "%s user reset cli_json --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && h_jstr(j, "one_time_password") != NULL);
	seen_otp(h_jstr(j, "one_time_password"));
	json_decref(j);
	free(out);
	/* errors: unknown name (3), malformed name or format (2), own account (3) */
	snprintf(cmd, sizeof(cmd), "%s user show nobody --format json 2>&1", env);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strncmp(out, "phivault: ", 10) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s user show 'bad name' 2>/dev/null", env);
	CHECK(h_run(cmd, NULL) == 2);
	snprintf(cmd, sizeof(cmd), "%s user list --format yaml 2>/dev/null", env);
	CHECK(h_run(cmd, NULL) == 2);
	snprintf(cmd, sizeof(cmd), "%s user reset admin --format text 2>&1", env);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "forbidden") != NULL && strstr(out, "one-time password") == NULL);
	free(out);
}

/* A security officer approves and shreds but reads no PHI and manages no
 * user. */
static void
test_officer(struct h_server *s, struct ctx *c)
{
	char off[64];

	h_add_officer(s, c->admin, "olive", PW_USER, off, sizeof(off));
	admin_reads_no_phi(s, c, off);
	h_expect(s, "GET", "/v1/users", off, NULL, NULL, 403, "forbidden");
	h_expect(s, "GET", "/v1/keys", off, NULL, NULL, 403, "forbidden");
}

int
main(void)
{
	struct h_server s;
	struct ctx c;
	char cmd[1024], *out = NULL;
	size_t i;

	h_init(&s, "useradmin", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "lockout_threshold", "3");
	h_config_set(&s, "lockout_duration_s", "900");
	h_start(&s, "--dev");
	memset(&c, 0, sizeof(c));
	setup(&s, &c);
	test_created_by(&s, &c);
	test_enable_unlock_reset(&s, &c);
	test_cli(&s, &c);
	test_officer(&s, &c);
	CHECK(h_stop(&s) == 0);

	/* no one-time password in the trail nor in the server log */
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"user.reset\"") != NULL);   /* the check can see the trail */
	for (i = 0; i < notps; i++) {
		CHECK(strlen(otps[i]) >= 16);
		CHECK(strstr(out, otps[i]) == NULL);
	}
	free(out);
	snprintf(cmd, sizeof(cmd), "cat %s", s.log);
	CHECK(h_run(cmd, &out) == 0);
	for (i = 0; i < notps; i++)
		CHECK(strstr(out, otps[i]) == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	json_decref(s.init);
	h_done("test_user_admin");
	return 0;
}
