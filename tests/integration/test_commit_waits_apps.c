/*
 * No request thread waits for a commit in app sign-in (issue 9 item 4), on
 * an epoll pool of two threads ([server] threads = 2). After the set-up
 * (users, apps, secrets, certificates: other modules, still blocking), the
 * count of blocking commits started on HTTP request threads
 * (GET /v1/test/commit-waits "request_thread_waits") must not move across:
 *
 *  - POST /v1/auth/app with a secret (app.c, a flow in steps from
 *    completions): success (200, the token works), wrong secret and
 *    unknown app (401), the network list (403 from 127.0.0.2), the lockout
 *    (423 once the app is locked, with its auth.lockout entry);
 *  - POST /v1/auth/app with a client certificate (app_cert.c, held
 *    answers): success (200), a claimed app that is not the certificate's
 *    (401 certificate_invalid), the network list (403);
 *  - a certificate-bound token used without its certificate (401
 *    certificate_mismatch, recorded with a held answer);
 *  - a user session past its idle limit (401 session_expired, with its
 *    session.expired entry: service.c's held end of the session);
 *  - OIDC refusals decided before any commit (a callback without a state:
 *    401 oidc_invalid, held until its entry is durable).
 * Then the effects are read back: every entry is in the trail, the
 * sessions exist (the tokens work), the locked app stays locked.
 * The OIDC flows themselves (begin, callback, exchange) need the node
 * provider of integ_test_oidc (npm), which pins their behaviour; here [oidc]
 * points at an issuer that is not there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_AUD "Copper-meadow-Violin-73"
#define PW_CLIN "Velvet-canyon-Ember-48"

static char work[600];

static void
run_ok(const char *cmd)
{
	char full[4096];

	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	CHECK(h_run(full, NULL) == 0);
}

/* POST /v1/apps/{id}/secrets -> the secret */
static void
secret_add(struct h_server *s, const char *admin, const char *app, char secret[128])
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	h_req(s, "POST", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(secret, 128, "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
}

/* POST /v1/auth/app with a secret; the token on 200. */
static void
signin(struct h_server *s, const char *app, const char *secret, int status, const char *code,
    char tok[128])
{
	char body[512];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", app, secret);
	h_req(s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
	CHECK_STATUS(&r, status);
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	if (status == 200) {
		CHECK(strncmp(h_jstr(r.json, "token"), "pva_", 4) == 0);
		CHECK(h_jstr(r.json, "expires_at") != NULL);
		CHECK(strcmp(h_jstr(r.json, "app_id"), app) == 0);
		snprintf(tok, 128, "%s", h_jstr(r.json, "token"));
	}
	if (status == 423)
		CHECK(h_has_header(&r, "Retry-After:"));
	h_resp_free(&r);
}

/* A key, a CSR and the app's certificate in work/<name>.{key,csr,crt}. */
static void
cert_for(struct h_server *s, const char *admin, const char *app, const char *name)
{
	char cmd[2048], path[700];
	struct h_resp r;
	json_t *b;
	char *body, *csr = NULL;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout %s/%s.key -out %s/%s.csr -subj /CN=x", work, name, work, name);
	run_ok(cmd);
	snprintf(cmd, sizeof(cmd), "cat %s/%s.csr", work, name);
	CHECK(h_run(cmd, &csr) == 0);
	b = json_pack("{s:s}", "csr", csr);
	body = json_dumps(b, JSON_COMPACT);
	snprintf(path, sizeof(path), "/v1/apps/%s/certificate", app);
	h_req(s, "POST", path, admin, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(path, sizeof(path), "%s/%s.crt", work, name);
	CHECK((f = fopen(path, "w")) != NULL);
	fputs(h_jstr(r.json, "certificate"), f);
	fclose(f);
	h_resp_free(&r);
	free(body);
	json_decref(b);
	free(csr);
}

/* curl with work/<name> as the client certificate; the status, the body in
 * *out (malloc'd) if out is not NULL. path NULL: POST /v1/auth/app body. */
static int
mtls(struct h_server *s, const char *name, const char *path, const char *token,
    const char *body, const char *iface, char **out)
{
	char cmd[4096], auth[256] = "", data[512] = "", *o = NULL, *nl;
	int status;

	if (token != NULL)
		snprintf(auth, sizeof(auth), "-H 'Authorization: Bearer %s'", token);
	if (body != NULL)
		snprintf(data, sizeof(data), "-H 'Content-Type: application/json' -d '%s'", body);
	snprintf(cmd, sizeof(cmd), "curl -s --cacert %s %s%s --cert %s/%s.crt --key %s/%s.key "
	    "%s %s -w '\\n%%{http_code}' %s%s", s->cacert, iface ? "--interface " : "",
	    iface ? iface : "", work, name, work, name, auth, data, s->base,
	    path != NULL ? path : "/v1/auth/app");
	CHECK(h_run(cmd, &o) == 0);
	nl = strrchr(o, '\n');
	CHECK(nl != NULL);
	status = atoi(nl + 1);
	*nl = '\0';
	if (out != NULL)
		*out = o;
	else
		free(o);
	return status;
}

static const char *
err_code(const char *body)
{
	static char code[64];
	json_t *j = json_loads(body, 0, NULL);
	const char *c = j != NULL ? h_jstr(json_object_get(j, "error"), "code") : NULL;

	snprintf(code, sizeof(code), "%s", c != NULL ? c : "");
	json_decref(j);
	return code;
}

/* Entries of action (outcome, reason; NULL: any) whose actor user_id is who (NULL: any). */
static int
audit_count(struct h_server *s, const char *aud, const char *action, const char *who,
    const char *outcome, const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason, .actor_user = who });
}

static void
app_create(struct h_server *s, const char *admin, const char *name, char id[64])
{
	char body[256];

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"roles\":[\"analyst\"],"
	    "\"networks\":[\"127.0.0.1/32\"]}", name);
	h_app_create(s, admin, body, id, 64);
}

int
main(void)
{
	struct h_server s;
	char admin[128], aud[128], clin[128], app[64], app2[64], sec[128], sec2[128];
	char tok[128], tok2[128], mtok[128], cmd[1024], *out = NULL;
	long long w0, w1;
	json_t *j;
	int i;

	h_clock_enable();
	h_init(&s, "waits-apps", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "lockout_threshold", "3");
	snprintf(work, sizeof(work), "%s/mtls", s.dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", work);
	run_ok(cmd);
	{
		/* OIDC configured against a provider that is not there: only the
		 * refusals decided before the provider is asked are driven */
		char conf[1024], secret_file[700];
		FILE *f;

		snprintf(secret_file, sizeof(secret_file), "%s/client-secret", work);
		CHECK((f = fopen(secret_file, "w")) != NULL);
		fputs("s3cret-of-the-client-7Hq\n", f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "chmod 600 %s", secret_file);
		run_ok(cmd);
		snprintf(conf, sizeof(conf), "[oidc]\nissuer = https://127.0.0.1:9\n"
		    "client_id = phivault-test\nclient_secret_file = %s\n", secret_file);
		h_config_append(&s, conf);
	}
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, 128);
	h_add_user(&s, admin, "audra", "auditor", PW_AUD, aud, 128);
	h_add_user(&s, admin, "cleo", "analyst", PW_CLIN, clin, 128);
	app_create(&s, admin, "lab-feed", app);
	app_create(&s, admin, "night-batch", app2);
	secret_add(&s, admin, app, sec);
	secret_add(&s, admin, app2, sec2);
	cert_for(&s, admin, app, "a");

	/* ---- the routes under test: no request thread waits ---- */
	w0 = h_commit_waits(&s);

	/* secret: success, the token works */
	signin(&s, app, sec, 200, NULL, tok);
	h_expect(&s, "GET", "/v1/auth/session", tok, NULL, NULL, 200, NULL);
	/* wrong secret, unknown app: 401 */
	signin(&s, app, "pvs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "unauthenticated",
	    NULL);
	signin(&s, "app_nosuchappnosuchappnosuch", sec, 401, "unauthenticated", NULL);
	/* the right secret from outside the app's networks: 403 */
	h_source_set("127.0.0.2");
	signin(&s, app, sec, 403, "network_not_allowed", NULL);
	h_source_set(NULL);
	/* lockout of app2: three failures (each from its own source, so the
	 * per-source throttle is not what answers), then even the right secret
	 * is 423 */
	for (i = 0; i < 3; i++) {
		char src[32];

		snprintf(src, sizeof(src), "127.0.3.%d", i + 1);
		h_source_set(src);
		signin(&s, app2, "pvs_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", 401,
		    "unauthenticated", NULL);
	}
	h_source_set(NULL);
	signin(&s, app2, sec2, 423, "locked", NULL);
	signin(&s, app2, sec2, 423, "locked", NULL);   /* it stays locked */

	/* certificate: success, the bound token works with its certificate */
	CHECK(mtls(&s, "a", NULL, NULL, "{}", NULL, &out) == 200);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	snprintf(mtok, sizeof(mtok), "%s", h_jstr(j, "token"));
	CHECK(strncmp(mtok, "pva_", 4) == 0);
	json_decref(j);
	free(out);
	CHECK(mtls(&s, "a", "/v1/auth/session", mtok, NULL, NULL, NULL) == 200);
	/* another app claimed: 401; outside the networks: 403 */
	CHECK(mtls(&s, "a", NULL, NULL, "{\"app_id\":\"app_other000000000000000000\"}", NULL,
	    &out) == 401);
	CHECK(strcmp(err_code(out), "certificate_invalid") == 0);
	free(out);
	CHECK(mtls(&s, "a", NULL, NULL, "{}", "127.0.0.2", &out) == 403);
	CHECK(strcmp(err_code(out), "network_not_allowed") == 0);
	free(out);
	/* the bound token without its certificate: 401, recorded */
	h_expect(&s, "GET", "/v1/auth/session", mtok, NULL, NULL, 401, "certificate_mismatch");

	/* OIDC: a callback without a state, and one with the IdP's error but no
	 * state: 401 oidc_invalid, each recorded (held refusals) */
	h_expect(&s, "GET", "/v1/auth/oidc/callback?code=x", NULL, NULL, NULL, 401,
	    "oidc_invalid");
	h_expect(&s, "GET", "/v1/auth/oidc/callback?error=access_denied", NULL, NULL, NULL, 401,
	    "oidc_invalid");

	/* a user session past its idle limit: 401 session_expired, recorded */
	h_login(&s, "cleo", PW_CLIN, tok2, sizeof(tok2));
	h_clock_advance(&s, 901 * 1000LL);
	h_expect(&s, "GET", "/v1/auth/session", tok2, NULL, NULL, 401, "session_expired");

	w1 = h_commit_waits(&s);
	fprintf(stderr, "request_thread_waits %lld -> %lld\n", w0, w1);
	CHECK(w1 == w0);

	/* ---- the effects ---- */
	h_login(&s, "audra", PW_AUD, aud, sizeof(aud));   /* idle too after 901 s */
	CHECK(audit_count(&s, aud, "auth.app", app, "allowed", "secret") == 1);
	CHECK(audit_count(&s, aud, "auth.app", app, "denied", "bad_secret") == 1);
	CHECK(audit_count(&s, aud, "auth.app", NULL, "denied", "unknown_app") == 1);
	CHECK(audit_count(&s, aud, "auth.app", app, "denied", "network_not_allowed") == 2);
	CHECK(audit_count(&s, aud, "auth.app", app2, "denied", "bad_secret") == 3);
	CHECK(audit_count(&s, aud, "auth.app", app2, "denied", "locked") == 2);
	CHECK(audit_count(&s, aud, "auth.lockout", app2, "denied", "app_secret") == 1);
	CHECK(audit_count(&s, aud, "auth.app", app, "allowed", "mtls") == 1);
	CHECK(audit_count(&s, aud, "auth.app", app, "denied", "app_mismatch") == 1);
	CHECK(audit_count(&s, aud, "auth.app", app, "denied", "certificate_mismatch") == 1);
	CHECK(audit_count(&s, aud, "session.expired", NULL, "allowed", "idle") >= 1);
	CHECK(audit_count(&s, aud, "auth.oidc.login", NULL, "denied", "oidc_state_unknown") == 2);
	/* the lock has run out (901 s): the right secret signs app2 in */
	signin(&s, app2, sec2, 200, NULL, tok);
	/* the idle session stays ended */
	h_expect(&s, "GET", "/v1/auth/session", tok2, NULL, NULL, 401, NULL);
	/* the app sessions were stored: the tokens still work (the clock moved
	 * 901 s: the default token_ttl_s is 900, so sign in again first) */
	signin(&s, app, sec, 200, NULL, tok);
	h_expect(&s, "GET", "/v1/auth/session", tok, NULL, NULL, 200, NULL);

	h_stop(&s);
	json_decref(s.init);
	h_done("commit_waits_apps");
	return 0;
}
