/*
 * test_commit_waits_webauthn: no request thread waits for a commit in the
 * WebAuthn ceremonies (issue 9 item 4), on an epoll pool of two threads
 * ([server] threads = 2), with the software authenticator of
 * webauthn_soft.h. Every route below leaves GET /v1/test/commit-waits'
 * request_thread_waits where it was:
 *
 *  - registration: begin, finish (201), the replayed finish (400
 *    challenge_unknown), the same credential again (409), a second passkey;
 *  - a passkey as the second factor of a login: begin, finish (200, the
 *    session through login.c's one MFA completion: method webauthn, the
 *    mfa_token spent, 401 when reused), a bad signature (400), a replayed
 *    challenge under a new mfa_token (400 challenge_unknown);
 *  - step-up: begin, finish (200), the replay (400); two concurrent
 *    finishes with ONE assertion: exactly one is accepted (the challenge is
 *    taken in a transaction);
 *  - the MFA lockout: five bad assertions (the fifth recorded with
 *    auth.lockout), then 423 with Retry-After;
 *  - removal: 401 step_up_required (with its audit entry), 404, 204.
 * Then, outside the counted part (GET /v1/audit records audit.read the
 * blocking way), the effects are read back: the passkeys, the session's
 * method, each audit entry.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "webauthn_soft.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_AUD "Copper-meadow-Violin-73"
#define PW_ALICE "Amber-orchard-Falcon-28"
#define PW_BOB "Silver-canyon-Otter-55"
#define ORIGIN "https://console.test:8443"
#define RP_ID "console.test"

static int
audit_count(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason });
}

/* POST path and copy the options' challenge. */
static void
begin(struct h_server *s, const char *path, const char *tok, const char *body, char *ch,
    size_t len)
{
	struct h_resp r;
	json_t *pk;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	pk = json_object_get(r.json, "publicKey");
	CHECK(pk != NULL && h_jstr(pk, "challenge") != NULL);
	snprintf(ch, len, "%s", h_jstr(pk, "challenge"));
	h_resp_free(&r);
}

static int
count_creds(struct h_server *s, const char *tok)
{
	struct h_resp r;
	int n;

	h_req(s, "GET", "/v1/auth/webauthn/credentials", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	n = (int)json_array_size(json_object_get(r.json, "credentials"));
	h_resp_free(&r);
	return n;
}

/* The password step of user: the mfa_token. */
static void
password_step_of(struct h_server *s, const char *user, const char *pw, char *mtok, size_t len)
{
	char body[256];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	snprintf(mtok, len, "%s", h_jstr(r.json, "mfa_token"));
	h_resp_free(&r);
}

static void
password_step(struct h_server *s, char *mtok, size_t len)
{
	password_step_of(s, "alice", PW_ALICE, mtok, len);
}

/* bob's second step with a spoiled signature: the status. */
static long
bob_bad_finish(struct h_server *s, struct wa_soft *a)
{
	char mtok[128], mb[192], extra[192], ch[64], *body;
	struct wa_spoil sp = wa_honest();
	struct h_resp r;
	long st;

	password_step_of(s, "bob", PW_BOB, mtok, sizeof(mtok));
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\"}", mtok);
	begin(s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	snprintf(extra, sizeof(extra), "\"mfa_token\":\"%s\"", mtok);
	sp.bad_sig = 1;
	body = wa_soft_get(a, ch, RP_ID, ORIGIN, &sp, extra);
	h_req(s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, &r);
	st = r.status;
	if (st == 423)
		CHECK(h_has_header(&r, "Retry-After:"));
	h_resp_free(&r);
	free(body);
	return st;
}

/* {"webauthn": assertion} for POST /v1/auth/step-up; malloc'd. */
static char *
step_up_body(struct wa_soft *a, const char *ch, const struct wa_spoil *sp)
{
	char *inner = wa_soft_get(a, ch, RP_ID, ORIGIN, sp, NULL);
	char *sb = malloc(strlen(inner) + 32);

	sprintf(sb, "{\"webauthn\":%s}", inner);
	free(inner);
	return sb;
}

struct bg_step {
	struct h_server *s;
	const char *tok, *body;
	long status;
};

static void *
bg_step_main(void *arg)
{
	struct bg_step *b = arg;
	struct h_resp r;

	h_req(b->s, "POST", "/v1/auth/step-up", b->tok, b->body, NULL, &r);
	b->status = r.status;
	h_resp_free(&r);
	return NULL;
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	struct wa_soft es, ed, again, bobkey;
	struct wa_spoil sp;
	struct bg_step b1, b2;
	pthread_t t1, t2;
	char admin[128], aud[128], alice[128], bob[128], a2[128], mtok[128], mtok2[128], ch[64], ch2[64];
	char mb[192], extra[192], path[256], ed_id[64], *body, *replay;
	long long before;
	int i;

	h_init(&s, "waits-webauthn", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "public_url", ORIGIN);
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, 128);
	h_add_user(&s, admin, "audra", "auditor", PW_AUD, aud, sizeof(aud));
	h_add_user(&s, admin, "alice", "clinician", PW_ALICE, alice, sizeof(alice));
	h_add_user(&s, admin, "bob", "clinician", PW_BOB, bob, sizeof(bob));
	wa_soft_init(&bobkey, -8);
	wa_soft_init(&es, -7);
	wa_soft_init(&ed, -8);
	wa_soft_id(&ed, ed_id, sizeof(ed_id));
	sp = wa_honest();
	/* the set-up above (the directory's user creation) may block; from here
	 * on nothing does */
	before = h_commit_waits(&s);

	/* ---- registration ---- */
	begin(&s, "/v1/auth/webauthn/register/begin", alice, NULL, ch, sizeof(ch));
	body = wa_soft_create(&es, ch, RP_ID, ORIGIN, &sp, "\"name\":\"laptop\"");
	h_req(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(strcmp(h_jstr(r.json, "name"), "laptop") == 0);
	h_resp_free(&r);
	/* the replayed finish: its challenge was taken */
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	/* the same credential again, with a fresh challenge: 409 from the transaction */
	begin(&s, "/v1/auth/webauthn/register/begin", alice, NULL, ch, sizeof(ch));
	body = wa_soft_create(&es, ch, RP_ID, ORIGIN, &sp, NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 409,
	    "conflict");
	free(body);
	/* a second passkey (the session's MFA, from the first registration, is fresh) */
	begin(&s, "/v1/auth/webauthn/register/begin", alice, NULL, ch, sizeof(ch));
	body = wa_soft_create(&ed, ch, RP_ID, ORIGIN, &sp, "\"name\":\"phone\"");
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 201, NULL);
	free(body);

	/* ---- a passkey as the second factor of a login ---- */
	password_step(&s, mtok, sizeof(mtok));
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\"}", mtok);
	/* a bad signature first: refused, recorded, nothing stored */
	begin(&s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	snprintf(extra, sizeof(extra), "\"mfa_token\":\"%s\"", mtok);
	sp.bad_sig = 1;
	body = wa_soft_get(&es, ch, RP_ID, ORIGIN, &sp, extra);
	h_expect(&s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	sp = wa_honest();
	begin(&s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	body = wa_soft_get(&es, ch, RP_ID, ORIGIN, &sp, extra);
	h_req(&s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(a2, sizeof(a2), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	/* the same finish again: the pending login is gone */
	h_expect(&s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, 401,
	    "unauthenticated");
	free(body);
	/* the used challenge under a new mfa_token: gone too */
	password_step(&s, mtok2, sizeof(mtok2));
	snprintf(extra, sizeof(extra), "\"mfa_token\":\"%s\"", mtok2);
	body = wa_soft_get(&es, ch, RP_ID, ORIGIN, &sp, extra);
	h_expect(&s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, 400,
	    "webauthn_invalid");
	free(body);

	/* ---- step-up with a passkey ---- */
	begin(&s, "/v1/auth/webauthn/step-up/begin", a2, NULL, ch, sizeof(ch));
	replay = step_up_body(&ed, ch, NULL);
	h_req(&s, "POST", "/v1/auth/step-up", a2, replay, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "mfa_method"), "webauthn") == 0);
	h_resp_free(&r);
	h_expect(&s, "POST", "/v1/auth/step-up", a2, replay, NULL, 400, "webauthn_invalid");
	free(replay);
	/* two concurrent finishes with one challenge: the take decides, once */
	begin(&s, "/v1/auth/webauthn/step-up/begin", a2, NULL, ch2, sizeof(ch2));
	replay = step_up_body(&ed, ch2, NULL);
	b1 = (struct bg_step){ &s, a2, replay, 0 };
	b2 = (struct bg_step){ &s, a2, replay, 0 };
	CHECK(pthread_create(&t1, NULL, bg_step_main, &b1) == 0);
	CHECK(pthread_create(&t2, NULL, bg_step_main, &b2) == 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CHECK((b1.status == 200 && b2.status == 400) || (b1.status == 400 && b2.status == 200));
	free(replay);

	/* ---- the MFA lockout: bob's fifth bad assertion locks ([auth]
	 * lockout_threshold 5), recorded with auth.lockout; then 423 ---- */
	begin(&s, "/v1/auth/webauthn/register/begin", bob, NULL, ch, sizeof(ch));
	body = wa_soft_create(&bobkey, ch, RP_ID, ORIGIN, &sp, NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", bob, body, NULL, 201, NULL);
	free(body);
	for (i = 0; i < 5; i++)
		CHECK(bob_bad_finish(&s, &bobkey) == 400);
	CHECK(bob_bad_finish(&s, &bobkey) == 423);

	/* ---- removal ---- */
	snprintf(path, sizeof(path), "/v1/auth/webauthn/credentials/%s", ed_id);
	/* the admin's session has no MFA: 401 step_up_required, recorded */
	h_req(&s, "DELETE", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 401);
	CHECK(strcmp(h_err_code(&r), "step_up_required") == 0);
	CHECK(h_has_header(&r, "WWW-Authenticate: Bearer error=\"insufficient_user_authentication\""));
	h_resp_free(&r);
	h_req(&s, "DELETE", "/v1/auth/webauthn/credentials/nosuchcredential", a2, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	CHECK(strstr(r.body, "No such passkey") != NULL);
	h_resp_free(&r);
	h_expect(&s, "DELETE", path, a2, NULL, NULL, 204, NULL);

	/* none of it held a request thread for a commit */
	CHECK(h_commit_waits(&s) == before);

	/* ---- the effects ---- */
	CHECK(count_creds(&s, a2) == 1);
	h_req(&s, "GET", "/v1/auth/session", a2, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_verified")));
	CHECK(strcmp(h_jstr(r.json, "mfa_method"), "webauthn") == 0);
	h_resp_free(&r);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "allowed", "none") == 3);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "denied", "challenge_unknown") == 1);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "error", NULL) == 1);   /* the 409 */
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "allowed", "webauthn") == 1);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "bad_signature") == 6);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "invalid_mfa_token") == 1);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "challenge_unknown") == 1);
	CHECK(audit_count(&s, aud, "auth.step_up", "allowed", "webauthn") == 2);
	CHECK(audit_count(&s, aud, "auth.step_up", "denied", "challenge_unknown") == 2);
	CHECK(audit_count(&s, aud, "auth.webauthn.remove", "denied", "step_up_required") == 1);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "locked") == 1);
	CHECK(audit_count(&s, aud, "auth.lockout", "denied", "mfa") == 1);
	CHECK(audit_count(&s, aud, "auth.webauthn.remove", "allowed", NULL) == 1);
	CHECK(audit_count(&s, aud, "auth.webauthn.remove", "error", NULL) == 1);     /* the 404 */
	/* the removed passkey signs in no more; the other one does */
	password_step(&s, mtok, sizeof(mtok));
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\"}", mtok);
	begin(&s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	snprintf(extra, sizeof(extra), "\"mfa_token\":\"%s\"", mtok);
	body = wa_soft_get(&ed, ch, RP_ID, ORIGIN, &sp, extra);
	h_expect(&s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	/* a fresh key never registered is refused as unknown, too */
	wa_soft_init(&again, -7);
	begin(&s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	body = wa_soft_get(&again, ch, RP_ID, ORIGIN, &sp, extra);
	h_expect(&s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	begin(&s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	body = wa_soft_get(&es, ch, RP_ID, ORIGIN, &sp, extra);
	h_expect(&s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, 200, NULL);
	free(body);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "unknown_credential") == 2);

	wa_soft_free(&es);
	wa_soft_free(&ed);
	wa_soft_free(&again);
	wa_soft_free(&bobkey);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("commit_waits_webauthn");
	return 0;
}
