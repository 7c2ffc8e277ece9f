/*
 * No request thread waits for a commit (issue 9 item 2), on an epoll pool
 * of two threads ([server] threads = 2):
 *
 *  1. every authentication route that answers from its commit completion
 *     (login: success, wrong password, unknown user, lockout; MFA: bad
 *     code, recovery code, TOTP; password change: wrong current password,
 *     policy, change; MFA enrol and confirm; step-up: bad code, replay;
 *     logout) leaves GET /v1/test/commit-waits (the test binary's count of
 *     commit_run calls from HTTP request threads) where it was, as does the
 *     set-up through the directory (user creation) and the first unknown
 *     name (the auth KEK is made at start-up);
 *  2. with the group commit held (fault file line "hold:tx_commit"), two
 *     logins wait for their group and a health request is still answered,
 *     on a pool of ONE thread (so the check does not depend on how MHD
 *     spreads connections over its threads: a login that blocked its
 *     thread would leave none for the health request); released, both
 *     logins succeed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Refusals recorded by the decision point (the route hook and the vault's
 * call after the load) and by the secrets operations: 403 / 400, each
 * answered once its entry is durable. */
static void
refusals(struct h_server *s, const char *admin, const char *auditor, const char *clin,
    const char *path)
{
	h_expect(s, "GET", path, admin, NULL, (const char *[]){ "X-Purpose-Of-Use: TREAT", NULL },
	    403, NULL);
	h_expect(s, "POST", "/v1/users", auditor, "{\"username\":\"zed\",\"role\":\"auditor\"}",
	    NULL, 403, NULL);
	h_expect(s, "GET", path, clin, NULL, NULL, 400, "purpose_required");
	h_expect(s, "GET", path, clin, NULL, (const char *[]){ "X-Purpose-Of-Use: ETREAT", NULL },
	    403, NULL);
	h_expect(s, "GET", "/v1/secrets/app/db", auditor, NULL, NULL, 403, NULL);
}

static void
totp_now(const char *secret, int delta, char out[16])
{
	h_totp_at(secret, ((long long)time(NULL) / 30 + delta) * 30, out);
}

/* Wait (polling, real time: a bound for a loaded machine) for text in s's log. */
static bool
log_has(struct h_server *s, const char *text)
{
	char *buf = NULL, cmd[800];
	bool has;

	snprintf(cmd, sizeof(cmd), "cat '%s'", s->log);
	h_run(cmd, &buf);
	has = buf != NULL && strstr(buf, text) != NULL;
	free(buf);
	return has;
}

/* The brute-force alert of victor's lockout: listed (alert.read answered
 * once durable), acknowledged (answered from its commit), then a second
 * acknowledgement is refused 409 from the same completion. */
static void
alert_ack(struct h_server *s, const char *auditor)
{
	struct h_resp r;
	char path[128];
	json_t *a = NULL;
	size_t i;

	h_req(s, "GET", "/v1/alerts?rule=brute_force", auditor, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(r.json) >= 1);
	json_array_foreach(r.json, i, a)
		if (strcmp(h_jstr(a, "status"), "open") == 0)
			break;
	CHECK(i < json_array_size(r.json));
	snprintf(path, sizeof(path), "/v1/alerts/%s/ack", h_jstr(a, "id"));
	h_resp_free(&r);
	h_req(s, "POST", path, auditor, "{\"note\":\"seen\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "acknowledged") == 0);
	CHECK(strcmp(h_jstr(r.json, "ack_note"), "seen") == 0);
	h_resp_free(&r);
	h_expect(s, "POST", path, auditor, "{\"note\":\"again\"}", NULL, 409, NULL);
	h_expect(s, "POST", "/v1/alerts/alt_aaaaaaaaaaaaaaaaaaaaaaaaaa/ack", auditor,
	    "{\"note\":\"x\"}", NULL, 404, NULL);
}

static void
test_routes_do_not_wait(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[256], tok[256], tok2[256], otp[128], id[64], body[512], code[16];
	char secret[128], recovery[64], clin[256], path[160];
	const char *pw = "correct horse battery staple 7";
	long long before, setup;
	int i;

	h_init(&s, "waits-routes", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	/* victor's lockout below raises an alert to list and acknowledge */
	h_config_set_in(&s, "detect", "brute_force_failures", "3");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), "rooted blue mountain 4417",
	    admin, sizeof(admin));
	setup = h_commit_waits(&s);
	h_user_create(&s, admin, "wendy", "auditor", NULL, id, sizeof(id), otp, sizeof(otp));
	h_user_create(&s, admin, "victor", "auditor", NULL, NULL, 0, NULL, 0);
	/* the directory's user creation answers from its completion now
	 * (test_commit_waits_directory.c): the count stays */
	CHECK(h_commit_waits(&s) == setup);
	/* the first unknown name of a data directory needs the auth KEK, made
	 * at start-up (authn_kek_start), not by this request: the count stays
	 * (test_commit_waits_kek.c) */
	CHECK(h_login_status(&s, "first-unknown", "whatever", NULL, 0) == 401);
	CHECK(h_commit_waits(&s) == setup);
	/* a collection and a record for the refusals of the vault */
	h_add_user(&s, admin, "clara", "clinician", "clinician pass phrase 42", clin, sizeof(clin));
	h_collection_create(&s, admin, "{\"name\":\"patients\",\"region\":\"local\","
	    "\"retention_days\":30,\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}");
	h_req(&s, "POST", "/v1/collections/patients/records", clin, "{\"name\":\"Quuxworth\"}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	before = h_commit_waits(&s);

	/* login refusals: unknown user, wrong password (until locked), locked */
	CHECK(h_login_status(&s, "nobody-here", "whatever", NULL, 0) == 401);
	for (i = 0; i < 5; i++)   /* [auth] lockout_threshold = 5: the fifth locks */
		CHECK(h_login_status(&s, "victor", "wrong password", NULL, 0) == 401);
	CHECK(h_login_status(&s, "victor", "wrong password", NULL, 0) == 423);

	/* the first login: one-time password, password change refusals, change */
	h_login(&s, "wendy", otp, tok, sizeof(tok));
	h_expect(&s, "POST", "/v1/auth/password", tok,
	    "{\"current_password\":\"not it\",\"new_password\":\"x\"}", NULL, 403, NULL);
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"short\"}", otp);
	h_expect(&s, "POST", "/v1/auth/password", tok, body, NULL, 400, "invalid_request");
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", otp,
	    pw);
	h_expect(&s, "POST", "/v1/auth/password", tok, body, NULL, 200, NULL);
	refusals(&s, admin, tok, clin, path);
	alert_ack(&s, tok);

	/* MFA enrolment and confirmation */
	h_req(&s, "POST", "/v1/auth/mfa/enroll", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	h_expect(&s, "POST", "/v1/auth/mfa/confirm", tok, "{\"code\":\"000000x\"}", NULL, 400,
	    NULL);
	totp_now(secret, 0, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(&s, "POST", "/v1/auth/mfa/confirm", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(recovery, sizeof(recovery), "%s",
	    json_string_value(json_array_get(json_object_get(r.json, "recovery_codes"), 0)));
	h_resp_free(&r);

	/* step-up: the code just used is a replay; a wrong one is refused */
	h_expect(&s, "POST", "/v1/auth/step-up", tok, body, NULL, 401, NULL);
	h_expect(&s, "POST", "/v1/auth/step-up", tok, "{\"code\":\"12345\"}", NULL, 401, NULL);

	/* the second factor of a login: a bad code, then a recovery code */
	snprintf(body, sizeof(body), "{\"username\":\"wendy\",\"password\":\"%s\"}", pw);
	h_req(&s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"999999\"}",
	    h_jstr(r.json, "mfa_token"));
	h_expect(&s, "POST", "/v1/auth/mfa", NULL, body, NULL, 401, NULL);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
	    h_jstr(r.json, "mfa_token"), recovery);
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(tok2, sizeof(tok2), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);

	/* logout of both sessions */
	h_expect(&s, "POST", "/v1/auth/logout", tok2, NULL, NULL, 204, NULL);
	h_expect(&s, "POST", "/v1/auth/logout", tok, NULL, NULL, 204, NULL);
	h_expect(&s, "GET", "/v1/auth/session", tok, NULL, NULL, 401, NULL);

	/* none of it held a request thread for a commit */
	CHECK(h_commit_waits(&s) == before);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

struct bg_login {
	struct h_server *s;
	const char *user, *pw;
	long status;
};

static void *
bg_login_main(void *arg)
{
	struct bg_login *b = arg;

	b->status = h_login_status(b->s, b->user, b->pw, NULL, 0);
	return NULL;
}

struct bg_refusal {
	struct h_server *s;
	const char *token;
	long status;
};

static void *
bg_refusal_main(void *arg)
{
	struct bg_refusal *b = arg;
	struct h_resp r;

	h_req(b->s, "POST", "/v1/users", b->token, "{\"username\":\"zed\",\"role\":\"auditor\"}",
	    NULL, &r);
	b->status = r.status;
	h_resp_free(&r);
	return NULL;
}

static void
test_held_commit_leaves_threads_free(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[256], tok[256], fault[700], cmd[800];
	const char *pw1 = "first user pass phrase 1", *pw2 = "second user pass phrase 2";
	struct bg_login b1, b2;
	struct bg_refusal b3;
	pthread_t t1, t2, t3;
	FILE *f;
	int i;

	h_init(&s, "waits-held", NULL);
	snprintf(fault, sizeof(fault), "%s/fault", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	h_config_set(&s, "threads", "1");
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), "rooted blue mountain 4417",
	    admin, sizeof(admin));
	h_add_user(&s, admin, "ann", "auditor", pw1, tok, sizeof(tok));
	h_add_user(&s, admin, "bob", "auditor", pw2, tok, sizeof(tok));

	/* hold every group at its COMMIT, then two logins */
	CHECK((f = fopen(fault, "w")) != NULL);
	fputs("hold:tx_commit\n", f);
	fclose(f);
	b1 = (struct bg_login){ &s, "ann", pw1, 0 };
	b2 = (struct bg_login){ &s, "bob", pw2, 0 };
	CHECK(pthread_create(&t1, NULL, bg_login_main, &b1) == 0);
	CHECK(pthread_create(&t2, NULL, bg_login_main, &b2) == 0);
	for (i = 0; i < 6000 && !log_has(&s, "injected hold op=tx_commit"); i++)
		h_pause_ms(5);
	CHECK(log_has(&s, "injected hold op=tx_commit"));
	/* both logins wait for their group, their connections suspended */
	CHECK(h_suspended_reach(&s, 2));
	/* and so does a refusal: its 403 waits for its entry's commit */
	b3 = (struct bg_refusal){ &s, tok, 0 };
	CHECK(pthread_create(&t3, NULL, bg_refusal_main, &b3) == 0);
	CHECK(h_suspended_reach(&s, 3));

	/* the pool's thread is free: health is answered while the logins wait */
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(b1.status == 0 && b2.status == 0);   /* still waiting for their group */
	CHECK(b3.status == 0);   /* not refused before the refusal is durable */

	/* released: both logins complete */
	snprintf(cmd, sizeof(cmd), "rm -f '%s'", fault);
	CHECK(system(cmd) == 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	CHECK(b1.status == 200);
	CHECK(b2.status == 200);
	CHECK(b3.status == 403);
	CHECK(h_suspended_reach(&s, 0) && h_commit_waits_field(&s, "suspended") == 0);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	test_routes_do_not_wait();
	test_held_commit_leaves_threads_free();
	h_done("commit_waits");
	return 0;
}
