/*
 * test_commit_waits_oidc: no request thread waits for a commit in the OIDC
 * sign-in (oidc.c, operations in steps), against the hand-written OP of
 * tests/oidc/oidc_provider.mjs (/fake), on a pool of ONE thread
 * ([server] threads = 1: a route that blocked its thread would leave none
 * for the next request) with every group held at its COMMIT (fault file
 * line "hold:tx_commit"):
 *
 *  - the callback: its one transaction (state taken, user created, grant,
 *    auth.oidc.login) is held, its connection suspended, and health is
 *    answered meanwhile; released, the 302 to the CLI's loopback with
 *    ?code=; the same callback again is a replayed state (401 oidc_invalid);
 *  - the exchange of that code (with its verifier): held and suspended the
 *    same way, released: 200 with a session token that works; the code
 *    again: 401;
 *  - two callbacks with ONE state at once (the OP answers the code twice,
 *    reuse_code, so only phivault's take stands between them): exactly one
 *    302, the other 401 oidc_invalid;
 *  - the back-channel logout of the user's sessions: held and suspended,
 *    released: 200, the session ends.
 * request_thread_waits does not move across any of it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CLIENT_ID "phivault-test"
#define CLIENT_SECRET "s3cret-of-the-client-7Hq"
#define SUB "wes-sub-1"
/* a PKCE verifier and its S256 challenge, BASE64URL(SHA-256(verifier)) */
#define VERIFIER "dBjftJeZ4CVP-mJ92K9qXJUi9Gwm1wPfGFx9tHQWLRc"
#define CHALLENGE "R9yUr1PYJLKZb4raoMRhPcOU4w1NN24lCuF2Peo6eKM"

#include "oidc_op.h"

static char fault[700];

static void
hold(bool on)
{
	FILE *f;

	if (!on) {
		CHECK(unlink(fault) == 0);
		return;
	}
	CHECK((f = fopen(fault, "w")) != NULL);
	fputs("hold:tx_commit\n", f);
	fclose(f);
}

/* The answer of phivault's route while its commit is held: it is suspended
 * (its thread free: health answers), and completes once released. */
struct bg {
	struct h_server *s;
	const char *method, *path, *body, *ctype;
	long status;
	char err[64], text[512];
	char *hdrs[2];
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;
	struct h_resp r;
	const char *h[2] = { b->hdrs[0], NULL };

	h_req(b->s, b->method, b->path, NULL, b->body, b->hdrs[0] != NULL ? h : NULL, &r);
	b->status = r.status;
	if (r.json != NULL && h_jstr(r.json, "redirect") != NULL)
		snprintf(b->text, sizeof(b->text), "%s", h_jstr(r.json, "redirect"));
	else if (r.json != NULL && h_jstr(r.json, "token") != NULL)
		snprintf(b->text, sizeof(b->text), "%s", h_jstr(r.json, "token"));
	if (r.status >= 400)
		snprintf(b->err, sizeof(b->err), "%s", h_err_code(&r));
	h_resp_free(&r);
	return NULL;
}

static void
health_while_held(struct h_server *s)
{
	struct h_resp r;

	h_req(s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
}

/* A CLI flow up to the callback: the path (on phivault) the OP sends the
 * browser back to. */
static void
callback_path(struct h_server *s, char *out, size_t len)
{
	char *cb = NULL;
	struct h_resp r;

	h_req(s, "GET", "/v1/auth/oidc/start?cli_redirect=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
	    "&cli_challenge=" CHALLENGE, NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 302);
	CHECK(fetch("GET", h_jstr(r.json, "redirect"), NULL, NULL, &cb, NULL) == 302);
	h_resp_free(&r);
	CHECK(cb != NULL && strncmp(cb, s->base, strlen(s->base)) == 0);
	snprintf(out, len, "%s", cb + strlen(s->base));
	free(cb);
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char secret_file[700], cafile[700], cmd[2400], conf[2048], cb[2048], body[512];
	char code[256], token[256], *out = NULL;
	unsigned op_port = h_free_port();
	struct bg b1, b2;
	pthread_t t1, t2;
	long long w0;
	json_t *j;
	FILE *f;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_tmpdir("waits-oidc-op", tmp, sizeof(tmp));
	h_init(&s, "waits-oidc", NULL);
	s.fixed_port = h_free_port();
	snprintf(conf, sizeof(conf), "https://127.0.0.1:%u", s.fixed_port);
	h_config_set(&s, "public_url", conf);
	h_config_set(&s, "threads", "1");
	h_config_set(&s, "mfa_required", "off");
	op_start(op_port, s.fixed_port);
	snprintf(cafile, sizeof(cafile), "%s/op-cert.pem", tmp);
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", tmp);
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s' > '%s'", cafile, s.cacert, bundle);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	snprintf(secret_file, sizeof(secret_file), "%s/client-secret", tmp);
	CHECK((f = fopen(secret_file, "w")) != NULL);
	fprintf(f, "%s\n", CLIENT_SECRET);
	fclose(f);
	chmod(secret_file, 0600);
	snprintf(conf, sizeof(conf), "[oidc]\nissuer = %s/fake\nclient_id = " CLIENT_ID "\n"
	    "client_secret_file = %s\nca_file = %s\ncreate_users = on\nmfa_from_amr = on\n",
	    op_base, secret_file, cafile);
	h_config_append(&s, conf);
	snprintf(fault, sizeof(fault), "%s/fault", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	h_start(&s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	j = op_call("/test/account", "{\"sub\":\"" SUB "\",\"preferred_username\":\"wes\","
	    "\"amr\":[\"pwd\",\"mfa\"]}");
	json_decref(j);
	j = op_call("/test/fake-next", "{}");
	json_decref(j);
	w0 = h_commit_waits_field(&s, "request_thread_waits");

	/* ---- the callback, its transaction held ---- */
	callback_path(&s, cb, sizeof(cb));
	b1 = (struct bg){ .s = &s, .method = "GET", .path = cb };
	hold(true);
	CHECK(pthread_create(&t1, NULL, bg_main, &b1) == 0);
	CHECK(h_suspended_reach(&s, 1));
	health_while_held(&s);
	CHECK(b1.status == 0);   /* no redirect before its commit */
	hold(false);
	pthread_join(t1, NULL);
	CHECK(b1.status == 302);
	CHECK(strncmp(b1.text, "http://127.0.0.1:9/cb?code=", 27) == 0);
	snprintf(code, sizeof(code), "%s", b1.text + 27);
	/* the state is single use: the same callback again is a replay */
	h_expect(&s, "GET", cb, NULL, NULL, NULL, 401, "oidc_invalid");

	/* ---- the exchange, held the same way ---- */
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"code_verifier\":\"" VERIFIER "\"}", code);
	b1 = (struct bg){ .s = &s, .method = "POST", .path = "/v1/auth/oidc/exchange",
	    .body = body };
	hold(true);
	CHECK(pthread_create(&t1, NULL, bg_main, &b1) == 0);
	CHECK(h_suspended_reach(&s, 1));
	health_while_held(&s);
	CHECK(b1.status == 0);
	hold(false);
	pthread_join(t1, NULL);
	CHECK(b1.status == 200);
	CHECK(strncmp(b1.text, "pvt_", 4) == 0);
	snprintf(token, sizeof(token), "%s", b1.text);
	h_req(&s, "GET", "/v1/auth/session", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "username"), "wes") == 0);
	CHECK(json_is_true(json_object_get(r.json, "mfa_verified")));
	h_resp_free(&r);
	h_expect(&s, "POST", "/v1/auth/oidc/exchange", NULL, body, NULL, 401, "oidc_invalid");

	/* ---- two callbacks with one state: exactly one signs in ---- */
	j = op_call("/test/fake-next", "{\"reuse_code\":true}");
	json_decref(j);
	callback_path(&s, cb, sizeof(cb));
	b1 = (struct bg){ .s = &s, .method = "GET", .path = cb };
	b2 = (struct bg){ .s = &s, .method = "GET", .path = cb };
	hold(true);
	CHECK(pthread_create(&t1, NULL, bg_main, &b1) == 0);
	CHECK(pthread_create(&t2, NULL, bg_main, &b2) == 0);
	CHECK(h_suspended_reach(&s, 2));   /* both past the IdP, both at their commit */
	health_while_held(&s);
	hold(false);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	fprintf(stderr, "two callbacks, one state: %ld %ld\n", b1.status, b2.status);
	CHECK((b1.status == 302 && b2.status == 401) || (b1.status == 401 && b2.status == 302));
	CHECK(strcmp(b1.status == 401 ? b1.err : b2.err, "oidc_invalid") == 0);
	j = op_call("/test/fake-next", "{}");
	json_decref(j);

	/* ---- the back-channel logout of wes's sessions, held ---- */
	{
		char claims[1024], *e, *form;
		CURL *c = curl_easy_init();

		snprintf(claims, sizeof(claims), "{\"header\":{\"typ\":\"logout+jwt\"},\"claims\":"
		    "{\"iss\":\"%s/fake\",\"aud\":\"" CLIENT_ID "\",\"iat\":%lld,\"jti\":\"jti-w-%d\","
		    "\"sub\":\"" SUB "\",\"events\":{\"http://schemas.openid.net/event/"
		    "backchannel-logout\":{}}}}", op_base, (long long)time(NULL), (int)getpid());
		j = op_call("/test/sign", claims);
		e = curl_easy_escape(c, h_jstr(j, "jwt"), 0);
		CHECK(asprintf(&form, "logout_token=%s", e) > 0);
		curl_free(e);
		curl_easy_cleanup(c);
		json_decref(j);
		b1 = (struct bg){ .s = &s, .method = "POST", .path = "/v1/auth/oidc/backchannel-logout",
		    .body = form, .hdrs = { "Content-Type: application/x-www-form-urlencoded", NULL } };
		hold(true);
		CHECK(pthread_create(&t1, NULL, bg_main, &b1) == 0);
		CHECK(h_suspended_reach(&s, 1));
		health_while_held(&s);
		CHECK(b1.status == 0);
		hold(false);
		pthread_join(t1, NULL);
		CHECK(b1.status == 200);
		free(form);
		h_expect(&s, "GET", "/v1/auth/session", token, NULL, NULL, 401, NULL);
	}
	for (int i = 0; i < 6000 && h_commit_waits_field(&s, "suspended") > 0; i++)
		h_pause_ms(5);
	CHECK(h_commit_waits_field(&s, "suspended") == 0);
	fprintf(stderr, "request_thread_waits %lld -> %lld\n", w0,
	    h_commit_waits_field(&s, "request_thread_waits"));
	CHECK(h_commit_waits_field(&s, "request_thread_waits") == w0);
	CHECK(h_stop(&s) == 0);
	op_stop();
	curl_easy_cleanup(browser);
	curl_global_cleanup();
	json_decref(s.init);
	h_done("test_commit_waits_oidc");
	return 0;
}
