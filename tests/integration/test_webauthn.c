/*
 * test_webauthn: passkeys (WebAuthn L2) over HTTPS against the real server,
 * with the software authenticator of webauthn_soft.h (ES256 and EdDSA,
 * attestation "none" built with libcbor): registration, sign-in as the
 * second factor, step-up, listing, removal, admin reset; and the hand-built
 * refusals: wrong origin, wrong RP ID hash, UV missing, UP missing, wrong
 * ceremony type, counter rollback, bad signature, replayed and expired
 * challenges (the injectable clock), an unknown credential, another user's
 * credential and user handle. Each refusal is checked for its status, its
 * error code, its audit reason and that it changed nothing. Then the CLI:
 * phivault passkey list | remove.
 */
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

/* POST path (token may be NULL) and return the challenge of the options. */
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
	CHECK(strlen(h_jstr(pk, "challenge")) == 43);        /* 32 random bytes */
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

/* Register a's passkey for the session tok: 201. */
static void
enrol(struct h_server *s, const char *tok, struct wa_soft *a, const char *name)
{
	char ch[64], extra[128], *body;
	struct wa_spoil sp = wa_honest();
	struct h_resp r;

	begin(s, "/v1/auth/webauthn/register/begin", tok, NULL, ch, sizeof(ch));
	snprintf(extra, sizeof(extra), "\"name\":\"%s\"", name);
	body = wa_soft_create(a, ch, RP_ID, ORIGIN, &sp, extra);
	h_req(s, "POST", "/v1/auth/webauthn/register/finish", tok, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(strcmp(h_jstr(r.json, "name"), name) == 0);
	CHECK(strcmp(h_jstr(r.json, "alg"), a->alg == -7 ? "ES256" : "EdDSA") == 0);
	CHECK(strcmp(h_jstr(r.json, "attestation"), "none") == 0);
	h_resp_free(&r);
	free(body);
}

/* A registration response spoiled by sp: 400 webauthn_invalid, audited with
 * reason, nothing stored. */
static void
register_refused(struct h_server *s, const char *tok, const char *aud, struct wa_soft *a,
    const struct wa_spoil *sp, const char *reason)
{
	char ch[64], *body;
	int before = audit_count(s, aud, "auth.webauthn.register", "denied", reason);
	int n = count_creds(s, tok);
	struct h_resp r;

	begin(s, "/v1/auth/webauthn/register/begin", tok, NULL, ch, sizeof(ch));
	body = wa_soft_create(a, ch, RP_ID, ORIGIN, sp, NULL);
	h_req(s, "POST", "/v1/auth/webauthn/register/finish", tok, body, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "webauthn_invalid") == 0);
	h_resp_free(&r);
	free(body);
	CHECK(audit_count(s, aud, "auth.webauthn.register", "denied", reason) == before + 1);
	CHECK(count_creds(s, tok) == n);
}

/* The password step of user: its mfa_token (the login asks for MFA). */
static void
password_step(struct h_server *s, const char *user, const char *pw, char *mtok, size_t len,
    bool want_webauthn)
{
	char body[256];
	struct h_resp r;
	json_t *m, *v;
	size_t i;
	bool found = false;

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	m = json_object_get(r.json, "mfa_methods");
	json_array_foreach(m, i, v)
		if (strcmp(json_string_value(v), "webauthn") == 0)
			found = true;
	CHECK(found == want_webauthn);
	snprintf(mtok, len, "%s", h_jstr(r.json, "mfa_token"));
	h_resp_free(&r);
}

/* Second step with a's assertion spoiled by sp (NULL: honest): the status;
 * a session token in tok on a 200. */
static long
login_finish(struct h_server *s, const char *mtok, struct wa_soft *a, const struct wa_spoil *sp,
    const char *challenge, char *tok, size_t len, char *code, size_t codelen)
{
	char extra[128], ch[64], mb[128], *body;
	struct h_resp r;
	uint32_t counter = a->counter;
	long st;

	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\"}", mtok);
	if (challenge == NULL) {
		begin(s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
		challenge = ch;
	}
	snprintf(extra, sizeof(extra), "\"mfa_token\":\"%s\"", mtok);
	body = wa_soft_get(a, challenge, RP_ID, ORIGIN, sp, extra);
	h_req(s, "POST", "/v1/auth/webauthn/login/finish", NULL, body, NULL, &r);
	st = r.status;
	if (st == 200 && tok != NULL)
		snprintf(tok, len, "%s", h_jstr(r.json, "token"));
	if (code != NULL)
		snprintf(code, codelen, "%s", h_err_code(&r));
	if (st != 200)
		a->counter = counter;   /* a refused assertion did not count */
	h_resp_free(&r);
	free(body);
	return st;
}

/* A spoiled sign-in: 400 webauthn_invalid, audited with reason, counted
 * neither as a session nor against the stored counter. */
static void
login_refused(struct h_server *s, const char *aud, const char *user, const char *pw,
    struct wa_soft *a, const struct wa_spoil *sp, const char *reason)
{
	char mtok[128], code[64];
	int before = audit_count(s, aud, "auth.webauthn.login", "denied", reason);
	uint32_t counter = a->counter;

	password_step(s, user, pw, mtok, sizeof(mtok), true);
	CHECK(login_finish(s, mtok, a, sp, NULL, NULL, 0, code, sizeof(code)) == 400);
	CHECK(strcmp(code, "webauthn_invalid") == 0);
	CHECK(audit_count(s, aud, "auth.webauthn.login", "denied", reason) == before + 1);
	a->counter = counter;   /* the refused assertion did not count */
}

static void
test_cli(struct h_server *s, const char *tok, const char *id)
{
	char cmd[2048], env[1024], *out = NULL;
	json_t *j;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s",
	    s->base, s->cacert, tok, h_bin());
	snprintf(cmd, sizeof(cmd), "%s passkey list --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && json_array_size(json_object_get(j, "credentials")) == 1);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(j, "credentials"), 0), "id"), id) == 0);
	CHECK(strstr(out, "public_key") == NULL);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s passkey list --format text", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, id) != NULL && strstr(out, "ES256") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s passkey remove nosuchpasskey 2>&1", env);
	CHECK(h_run(cmd, &out) != 0);
	CHECK(strstr(out, "No such passkey") != NULL);
	free(out);
	/* an ID may start with '-' (base64url): after "--" it is not an option */
	snprintf(cmd, sizeof(cmd), "%s passkey remove -- -nosuchpasskey 2>&1", env);
	CHECK(h_run(cmd, &out) == 3);                        /* the API's 404, not usage */
	CHECK(strstr(out, "No such passkey") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s passkey remove --format json -- %s", env, id);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	CHECK(count_creds(s, tok) == 0);
	snprintf(cmd, sizeof(cmd), "%s passkey 2>&1", env);
	CHECK(h_run(cmd, &out) == 2);                        /* usage */
	free(out);
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	struct wa_soft es, ed, bobkey, stranger, cli;
	struct wa_spoil sp;
	char admin[128], aud[128], alice[128], bob[128], a2[128], a3[128], mtok[128], ch[64];
	char alice_id[64], otp[64], es_id[64], ed_id[64], path[256], mb[160], *body;
	json_t *pk, *v;
	size_t i;

	h_clock_enable();
	h_init(&s, "webauthn", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "public_url", ORIGIN);
	/* many refusals on one account here; the lockout itself is tested below */
	h_config_set(&s, "lockout_threshold", "100");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, 128);
	h_add_user(&s, admin, "audra", "auditor", PW_AUD, aud, sizeof(aud));
	h_user_create(&s, admin, "alice", "clinician", NULL, alice_id, sizeof(alice_id), otp,
	    sizeof(otp));
	h_login_fresh(&s, "alice", otp, PW_ALICE, alice, sizeof(alice));
	h_add_user(&s, admin, "bob", "clinician", PW_BOB, bob, sizeof(bob));
	wa_soft_init(&es, -7);
	wa_soft_init(&ed, -8);
	wa_soft_init(&bobkey, -7);
	wa_soft_init(&stranger, -7);
	wa_soft_id(&es, es_id, sizeof(es_id));
	wa_soft_id(&ed, ed_id, sizeof(ed_id));

	/* ---- creation options ---- */
	h_req(&s, "POST", "/v1/auth/webauthn/register/begin", alice, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	pk = json_object_get(r.json, "publicKey");
	CHECK(strcmp(h_jstr(json_object_get(pk, "rp"), "id"), RP_ID) == 0);
	CHECK(h_jstr(json_object_get(pk, "user"), "id") != NULL);
	CHECK(strcmp(h_jstr(json_object_get(pk, "user"), "id"), "alice") != 0);
	CHECK(strlen(h_jstr(json_object_get(pk, "user"), "id")) == 43);   /* random handle */
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(pk,
	    "pubKeyCredParams"), 0), "alg")) == -7);
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(pk,
	    "pubKeyCredParams"), 1), "alg")) == -8);
	CHECK(json_array_size(json_object_get(pk, "pubKeyCredParams")) == 2);   /* no RS256 */
	CHECK(strcmp(h_jstr(json_object_get(pk, "authenticatorSelection"), "userVerification"),
	    "required") == 0);
	CHECK(strcmp(h_jstr(json_object_get(pk, "authenticatorSelection"), "residentKey"),
	    "preferred") == 0);
	CHECK(json_array_size(json_object_get(pk, "excludeCredentials")) == 0);
	CHECK(json_integer_value(json_object_get(pk, "timeout")) > 0);
	h_resp_free(&r);
	/* anonymous callers get nothing */
	h_expect(&s, "POST", "/v1/auth/webauthn/register/begin", NULL, NULL, NULL, 401, NULL);

	/* ---- registration refusals (each changes nothing) ---- */
	sp = wa_honest();
	sp.origin = "https://evil.test:8443";
	register_refused(&s, alice, aud, &es, &sp, "wrong_origin");
	sp = wa_honest();
	sp.rp_id = "evil.test";
	register_refused(&s, alice, aud, &es, &sp, "rp_id_mismatch");
	sp = wa_honest();
	sp.flags = WA_UP | WA_AT;
	register_refused(&s, alice, aud, &es, &sp, "uv_missing");
	sp = wa_honest();
	sp.flags = WA_UV | WA_AT;
	register_refused(&s, alice, aud, &es, &sp, "up_missing");
	sp = wa_honest();
	sp.type = "webauthn.get";
	register_refused(&s, alice, aud, &es, &sp, "wrong_type");
	/* a challenge from nowhere */
	sp = wa_honest();
	body = wa_soft_create(&es, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", RP_ID, ORIGIN, &sp,
	    NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "denied", "challenge_unknown") == 1);
	/* expired: five minutes on the server's clock */
	begin(&s, "/v1/auth/webauthn/register/begin", alice, NULL, ch, sizeof(ch));
	h_clock_advance(&s, 300 * 1000);
	body = wa_soft_create(&es, ch, RP_ID, ORIGIN, &sp, NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "denied", "challenge_expired") == 1);
	/* another user's challenge */
	begin(&s, "/v1/auth/webauthn/register/begin", bob, NULL, ch, sizeof(ch));
	body = wa_soft_create(&es, ch, RP_ID, ORIGIN, &sp, NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "denied", "challenge_unknown") == 2);
	/* malformed: 400 invalid_request */
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice,
	    "{\"id\":\"x\",\"response\":{\"clientDataJSON\":\"!!\"}}", NULL, 400,
	    "invalid_request");
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice,
	    "{\"id\":\"AAAA\",\"response\":{},\"password\":\"x\"}", NULL, 400, "invalid_request");
	CHECK(count_creds(&s, alice) == 0);

	/* ---- registration: ES256 and EdDSA, several per user ---- */
	enrol(&s, alice, &es, "laptop");
	enrol(&s, alice, &ed, "phone");
	enrol(&s, bob, &bobkey, "bobs-key");
	CHECK(count_creds(&s, alice) == 2);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "allowed", "none") == 3);
	/* replayed: a finished ceremony's challenge is gone (single use) */
	begin(&s, "/v1/auth/webauthn/register/begin", alice, NULL, ch, sizeof(ch));
	wa_soft_init(&cli, -7);
	body = wa_soft_create(&cli, ch, RP_ID, ORIGIN, &sp, NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 201, NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 400,
	    "webauthn_invalid");
	free(body);
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "denied", "challenge_unknown") == 3);
	/* the same credential twice: 409 */
	begin(&s, "/v1/auth/webauthn/register/begin", alice, NULL, ch, sizeof(ch));
	body = wa_soft_create(&es, ch, RP_ID, ORIGIN, &sp, NULL);
	h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", alice, body, NULL, 409,
	    "conflict");
	free(body);
	/* excludeCredentials names what is registered */
	h_req(&s, "POST", "/v1/auth/webauthn/register/begin", alice, NULL, NULL, &r);
	CHECK(json_array_size(json_object_get(json_object_get(r.json, "publicKey"),
	    "excludeCredentials")) == 3);
	h_resp_free(&r);

	/* ---- list: own passkeys, no key material ---- */
	h_req(&s, "GET", "/v1/auth/webauthn/credentials", alice, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "credentials")) == 3);
	v = json_array_get(json_object_get(r.json, "credentials"), 0);
	CHECK(strcmp(h_jstr(v, "id"), es_id) == 0 && strcmp(h_jstr(v, "name"), "laptop") == 0);
	CHECK(h_jstr(v, "created_at") != NULL && json_is_null(json_object_get(v, "last_used_at")));
	CHECK(strstr(r.body, "public_key") == NULL && strstr(r.body, "cose") == NULL);
	h_resp_free(&r);
	CHECK(count_creds(&s, bob) == 1);

	/* ---- sign-in: the password step, then the passkey ---- */
	password_step(&s, "alice", PW_ALICE, mtok, sizeof(mtok), true);
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\"}", mtok);
	h_req(&s, "POST", "/v1/auth/webauthn/login/begin", NULL, mb, NULL, &r);
	CHECK_STATUS(&r, 200);
	pk = json_object_get(r.json, "publicKey");
	CHECK(strcmp(h_jstr(pk, "rpId"), RP_ID) == 0);
	CHECK(strcmp(h_jstr(pk, "userVerification"), "required") == 0);
	CHECK(json_array_size(json_object_get(pk, "allowCredentials")) == 3);
	snprintf(ch, sizeof(ch), "%s", h_jstr(pk, "challenge"));
	h_resp_free(&r);
	CHECK(login_finish(&s, mtok, &es, NULL, ch, a2, sizeof(a2), NULL, 0) == 200);
	h_req(&s, "GET", "/v1/auth/session", a2, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_verified")));
	h_resp_free(&r);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "allowed", "webauthn") == 1);
	/* the mfa_token is spent, and so is the challenge */
	CHECK(login_finish(&s, mtok, &es, NULL, ch, NULL, 0, NULL, 0) == 401);
	/* EdDSA signs in too */
	password_step(&s, "alice", PW_ALICE, mtok, sizeof(mtok), true);
	CHECK(login_finish(&s, mtok, &ed, NULL, NULL, a3, sizeof(a3), NULL, 0) == 200);
	h_req(&s, "GET", "/v1/auth/webauthn/credentials", alice, NULL, NULL, &r);
	v = json_array_get(json_object_get(r.json, "credentials"), 0);
	CHECK(h_jstr(v, "last_used_at") != NULL);            /* laptop was used */
	h_resp_free(&r);
	/* TOTP is not enrolled: the code path says so */
	password_step(&s, "alice", PW_ALICE, mtok, sizeof(mtok), true);
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\",\"code\":\"123456\"}", mtok);
	h_expect(&s, "POST", "/v1/auth/mfa", NULL, mb, NULL, 401, "unauthenticated");
	/* a user without passkeys is not asked for one */
	h_expect(&s, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"audra\",\"password\":\"" PW_AUD "\"}", NULL, 200, NULL);

	/* ---- sign-in refusals ---- */
	sp = wa_honest();
	sp.origin = "https://console.test:9443";
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "wrong_origin");
	sp = wa_honest();
	sp.rp_id = "test";
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "rp_id_mismatch");
	sp = wa_honest();
	sp.flags = WA_UP;
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "uv_missing");
	sp = wa_honest();
	sp.flags = WA_UV;
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "up_missing");
	sp = wa_honest();
	sp.type = "webauthn.create";
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "wrong_type");
	sp = wa_honest();
	sp.bad_sig = 1;
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "bad_signature");
	sp = wa_honest();
	sp.bad_sig = 1;
	login_refused(&s, aud, "alice", PW_ALICE, &ed, &sp, "bad_signature");
	sp = wa_honest();
	sp.counter = es.counter;                             /* the stored one again */
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "counter_rollback");
	sp.counter = 0;
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "counter_rollback");
	login_refused(&s, aud, "alice", PW_ALICE, &stranger, NULL, "unknown_credential");
	login_refused(&s, aud, "alice", PW_ALICE, &bobkey, NULL, "unknown_credential");
	sp = wa_honest();
	sp.user_handle = "QUJD";
	login_refused(&s, aud, "alice", PW_ALICE, &es, &sp, "user_handle_mismatch");
	/* replayed challenge: one begin, two finishes (the first one spoiled) */
	password_step(&s, "alice", PW_ALICE, mtok, sizeof(mtok), true);
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\"}", mtok);
	begin(&s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	sp = wa_honest();
	sp.bad_sig = 1;
	CHECK(login_finish(&s, mtok, &es, &sp, ch, NULL, 0, NULL, 0) == 400);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "challenge_unknown") == 0);
	CHECK(login_finish(&s, mtok, &es, NULL, ch, NULL, 0, NULL, 0) == 400);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "challenge_unknown") == 1);
	/* a challenge of bob's login does not finish alice's */
	password_step(&s, "bob", PW_BOB, mtok, sizeof(mtok), true);
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\"}", mtok);
	begin(&s, "/v1/auth/webauthn/login/begin", NULL, mb, ch, sizeof(ch));
	password_step(&s, "alice", PW_ALICE, a3, sizeof(a3), true);
	CHECK(login_finish(&s, a3, &es, NULL, ch, NULL, 0, NULL, 0) == 400);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "challenge_unknown") == 2);
	/* after all that, the honest passkey still signs in: nothing was stored */
	password_step(&s, "alice", PW_ALICE, mtok, sizeof(mtok), true);
	CHECK(login_finish(&s, mtok, &es, NULL, NULL, a2, sizeof(a2), NULL, 0) == 200);
	/* a bad mfa_token */
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"pvm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
	h_expect(&s, "POST", "/v1/auth/webauthn/login/begin", NULL, mb, NULL, 401,
	    "unauthenticated");

	/* ---- step-up (RFC 9470) with a passkey, the same session ---- */
	/* an expired challenge (5 minutes on the server's clock) */
	begin(&s, "/v1/auth/webauthn/step-up/begin", a2, NULL, ch, sizeof(ch));
	h_clock_advance(&s, 300 * 1000);
	{
		char *inner = wa_soft_get(&es, ch, RP_ID, ORIGIN, NULL, NULL);
		char *sb = malloc(strlen(inner) + 32);

		es.counter--;
		sprintf(sb, "{\"webauthn\":%s}", inner);
		h_expect(&s, "POST", "/v1/auth/step-up", a2, sb, NULL, 400, "webauthn_invalid");
		free(inner);
		free(sb);
	}
	CHECK(audit_count(&s, aud, "auth.step_up", "denied", "challenge_expired") == 1);
	begin(&s, "/v1/auth/webauthn/step-up/begin", a2, NULL, ch, sizeof(ch));
	sp = wa_honest();
	sp.bad_sig = 1;
	{
		char *inner = wa_soft_get(&es, ch, RP_ID, ORIGIN, &sp, NULL);
		char *sb = malloc(strlen(inner) + 32);

		es.counter--;
		sprintf(sb, "{\"webauthn\":%s}", inner);
		h_expect(&s, "POST", "/v1/auth/step-up", a2, sb, NULL, 400, "webauthn_invalid");
		free(inner);
		free(sb);
	}
	CHECK(audit_count(&s, aud, "auth.step_up", "denied", "bad_signature") == 1);
	begin(&s, "/v1/auth/webauthn/step-up/begin", a2, NULL, ch, sizeof(ch));
	{
		char *inner = wa_soft_get(&ed, ch, RP_ID, ORIGIN, NULL, NULL);
		char *sb = malloc(strlen(inner) + 32);

		sprintf(sb, "{\"webauthn\":%s}", inner);
		h_req(&s, "POST", "/v1/auth/step-up", a2, sb, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(json_is_true(json_object_get(r.json, "mfa_verified")));
		CHECK(strcmp(h_jstr(r.json, "mfa_method"), "webauthn") == 0);
		h_resp_free(&r);
		/* the step-up challenge was single use */
		h_expect(&s, "POST", "/v1/auth/step-up", a2, sb, NULL, 400, "webauthn_invalid");
		free(inner);
		free(sb);
	}
	CHECK(audit_count(&s, aud, "auth.step_up", "allowed", "webauthn") == 1);
	/* a session's step-up challenge is not another session's */
	begin(&s, "/v1/auth/webauthn/step-up/begin", alice, NULL, ch, sizeof(ch));
	{
		char *inner = wa_soft_get(&es, ch, RP_ID, ORIGIN, NULL, NULL);
		char *sb = malloc(strlen(inner) + 32);

		es.counter--;
		sprintf(sb, "{\"webauthn\":%s}", inner);
		h_expect(&s, "POST", "/v1/auth/step-up", a2, sb, NULL, 400, "webauthn_invalid");
		free(inner);
		free(sb);
	}
	/* TOTP step-up is unchanged: no TOTP enrolled -> 409 */
	h_expect(&s, "POST", "/v1/auth/step-up", a2, "{\"code\":\"123456\"}", NULL, 409, "conflict");

	/* ---- removal: needs an MFA at most 5 minutes old ---- */
	snprintf(path, sizeof(path), "/v1/auth/webauthn/credentials/%s", ed_id);
	h_req(&s, "DELETE", path, alice, NULL, NULL, &r);    /* alice: no MFA in this session */
	CHECK_STATUS(&r, 401);
	CHECK(strcmp(h_err_code(&r), "step_up_required") == 0);
	CHECK(h_has_header(&r, "WWW-Authenticate: Bearer error=\"insufficient_user_authentication\""));
	h_resp_free(&r);
	CHECK(audit_count(&s, aud, "auth.webauthn.remove", "denied", "step_up_required") == 1);
	h_expect(&s, "DELETE", "/v1/auth/webauthn/credentials/nosuchcredential", a2, NULL, NULL,
	    404, "not_found");
	/* bob (with a fresh MFA) cannot remove alice's: not his */
	password_step(&s, "bob", PW_BOB, mtok, sizeof(mtok), true);
	CHECK(login_finish(&s, mtok, &bobkey, NULL, NULL, bob, sizeof(bob), NULL, 0) == 200);
	h_expect(&s, "DELETE", path, bob, NULL, NULL, 404, "not_found");
	h_expect(&s, "DELETE", path, a2, NULL, NULL, 204, NULL);
	CHECK(count_creds(&s, a2) == 2);
	CHECK(audit_count(&s, aud, "auth.webauthn.remove", "allowed", NULL) == 1);
	/* the removed passkey signs in no more */
	password_step(&s, "alice", PW_ALICE, mtok, sizeof(mtok), true);
	CHECK(login_finish(&s, mtok, &ed, NULL, NULL, NULL, 0, NULL, 0) == 400);
	/* stale MFA: 5 minutes later the session must step up again */
	h_clock_advance(&s, 301 * 1000);
	snprintf(path, sizeof(path), "/v1/auth/webauthn/credentials/%s", es_id);
	h_expect(&s, "DELETE", path, a2, NULL, NULL, 401, "step_up_required");
	CHECK(count_creds(&s, a2) == 2);
	/* ... and so does adding a passkey once the account has a second factor
	 * (a stolen session token cannot plant its own) */
	h_expect(&s, "POST", "/v1/auth/webauthn/register/begin", a2, NULL, NULL, 401,
	    "step_up_required");
	{
		struct wa_soft late;

		wa_soft_init(&late, -7);
		body = wa_soft_create(&late, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", RP_ID, ORIGIN,
		    NULL, NULL);
		h_expect(&s, "POST", "/v1/auth/webauthn/register/finish", a2, body, NULL, 401,
		    "step_up_required");
		free(body);
		wa_soft_free(&late);
	}
	CHECK(audit_count(&s, aud, "auth.webauthn.register", "denied", "step_up_required") == 1);
	CHECK(count_creds(&s, a2) == 2);

	/* ---- admin reset removes the passkeys ---- */
	h_login(&s, "admin", PW_ADMIN, admin, sizeof(admin));   /* idle since the start */
	snprintf(path, sizeof(path), "/v1/users/%s/reset", alice_id);
	h_req(&s, "POST", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(otp, sizeof(otp), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	h_login_fresh(&s, "alice", otp, "Violet-harbor-Summit-64", alice, sizeof(alice));
	CHECK(count_creds(&s, alice) == 0);

	/* ---- CLI ---- */
	enrol(&s, alice, &cli, "cli-key");
	{
		char cid[64];

		wa_soft_id(&cli, cid, sizeof(cid));
		/* the CLI's session needs a fresh MFA to remove: sign in with it */
		password_step(&s, "alice", "Violet-harbor-Summit-64", mtok, sizeof(mtok), true);
		CHECK(login_finish(&s, mtok, &cli, NULL, NULL, a3, sizeof(a3), NULL, 0) == 200);
		test_cli(&s, a3, cid);
	}

	/* ---- lockout: one MFA counter for TOTP and passkeys ---- */
	h_stop(&s);
	h_config_set(&s, "lockout_threshold", "3");
	h_start(&s, "--dev");
	h_login(&s, "audra", PW_AUD, aud, sizeof(aud));
	/* bob enrols TOTP as well */
	password_step(&s, "bob", PW_BOB, mtok, sizeof(mtok), true);
	CHECK(login_finish(&s, mtok, &bobkey, NULL, NULL, bob, sizeof(bob), NULL, 0) == 200);
	h_req(&s, "POST", "/v1/auth/mfa/enroll", bob, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		char secret[64], code[16], cb[64];

		snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
		h_resp_free(&r);
		h_totp_at(secret, h_clock_advance(&s, 0) / 1000, code);
		snprintf(cb, sizeof(cb), "{\"code\":\"%s\"}", code);
		h_expect(&s, "POST", "/v1/auth/mfa/confirm", bob, cb, NULL, 200, NULL);
	}
	password_step(&s, "bob", PW_BOB, mtok, sizeof(mtok), true);
	/* two wrong TOTP codes and one bad passkey: the third failure locks */
	snprintf(mb, sizeof(mb), "{\"mfa_token\":\"%s\",\"code\":\"000000\"}", mtok);
	for (i = 0; i < 2; i++)
		h_expect(&s, "POST", "/v1/auth/mfa", NULL, mb, NULL, 401, "unauthenticated");
	sp = wa_honest();
	sp.bad_sig = 1;
	CHECK(login_finish(&s, mtok, &bobkey, &sp, NULL, NULL, 0, NULL, 0) == 400);
	password_step(&s, "bob", PW_BOB, mtok, sizeof(mtok), true);
	CHECK(login_finish(&s, mtok, &bobkey, NULL, NULL, NULL, 0, NULL, 0) == 423);
	CHECK(audit_count(&s, aud, "auth.lockout", "denied", "mfa") == 1);
	CHECK(audit_count(&s, aud, "auth.webauthn.login", "denied", "locked") == 1);
	(void)ed_id;

	wa_soft_free(&es);
	wa_soft_free(&ed);
	wa_soft_free(&bobkey);
	wa_soft_free(&stranger);
	wa_soft_free(&cli);
	h_stop(&s);
	json_decref(s.init);
	h_done("webauthn");
	return 0;
}
