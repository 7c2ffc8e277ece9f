/*
 * test_oidc: sign-in through an OpenID provider against a real one, npm
 * oidc-provider (tests/oidc/oidc_provider.mjs, installed by make deps),
 * started here on a loopback port over HTTPS with a throwaway certificate
 * that phivault trusts through [oidc] ca_file, and stopped by its PID.
 *
 * Real provider, end to end (authorization code + PKCE, client_secret_basic,
 * its own RS256 JWKS): `phivault login --sso --no-browser` with the browser
 * played by libcurl following the redirects (the provider's interaction
 * endpoint signs the test account in); the console's flow (pv_oidc cookie,
 * /console/#oidc_code=, exchange with the cookie); the user created on first
 * sign-in, matched by (iss, sub) the second time; the groups claim mapped to
 * phivault groups (an approved PHI group joined, an unmapped one ignored);
 * MFA from amr on (mfa) and not (pwd: phivault's own MFA is owed); a CLI
 * code that only the verifier redeems; back-channel logout (a logout token
 * signed with the provider's key) ending the sessions at once, a replayed
 * jti refused; the console in headless Chromium (console_driver.py, scenario
 * oidc: the console's button, the provider, the exchange).
 *
 * The refusals use the same process's hand-written OP (/fake, its token
 * endpoint answers the ID token asked for): wrong audience, expired, bad
 * signature, alg none, another issuer, a replayed nonce, a replayed state,
 * an unknown user with create_users = off; and local_passwords =
 * breakglass_only. Each is checked for status, error code and audit reason.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_AUD "Copper-meadow-Violin-73"
#define CLIENT_ID "phivault-test"
#define CLIENT_SECRET "s3cret-of-the-client-7Hq"
#define SUB "olivia-sub-1"

#include "oidc_op.h"

static int
audit_count(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason });
}

/* `phivault login --sso --no-browser --format json`: the URL it prints is
 * opened by the curl browser; its token comes back. */
static void
cli_sso(struct h_server *s, char *token, size_t len)
{
	char errf[700], outf[700], cmd[2400], url[2048] = "", *line = NULL, *landed;
	pid_t pid;
	int st;
	FILE *f;
	json_t *j;

	snprintf(errf, sizeof(errf), "%s/sso.err", tmp);
	snprintf(outf, sizeof(outf), "%s/sso.out", tmp);
	unlink(errf);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		snprintf(cmd, sizeof(cmd), "exec '%s' login --sso --no-browser --addr '%s' "
		    "--cacert '%s' --format json >'%s' 2>'%s' </dev/null", h_bin(), s->base,
		    s->cacert, outf, errf);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 3000 && url[0] == '\0'; i++) {
		char buf[4096];

		if ((f = fopen(errf, "r")) != NULL) {
			while (fgets(buf, sizeof(buf), f) != NULL)
				if (strncmp(buf, "  https://", 10) == 0) {
					buf[strcspn(buf, "\n")] = '\0';
					snprintf(url, sizeof(url), "%s", buf + 2);
				}
			fclose(f);
		}
		if (url[0] == '\0')
			h_pause_ms(10);
	}
	CHECK(url[0] != '\0');
	CHECK(strstr(url, "code_challenge_method=S256") != NULL);
	CHECK(strstr(url, "nonce=") != NULL && strstr(url, "state=") != NULL);
	/* the browser: provider -> phivault callback -> the CLI's loopback */
	landed = browse(url, "http://127.0.0.1:");
	CHECK(landed != NULL && strstr(landed, "/callback?code=") != NULL);
	CHECK(fetch("GET", landed, NULL, NULL, NULL, NULL) == 200);
	free(landed);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK((f = fopen(outf, "r")) != NULL);
	j = json_loadf(f, 0, NULL);
	fclose(f);
	CHECK(j != NULL && h_jstr(j, "token") != NULL);
	snprintf(token, len, "%s", h_jstr(j, "token"));
	json_decref(j);
	free(line);
}

static json_t *
session_of(struct h_server *s, const char *tok, int want)
{
	struct h_resp r;
	json_t *j;

	h_req(s, "GET", "/v1/auth/session", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, want);
	j = json_incref(r.json);
	h_resp_free(&r);
	return j;
}

static bool
has_role(json_t *sess, const char *role)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(sess, "roles"), i, v)
		if (strcmp(json_string_value(v), role) == 0)
			return true;
	return false;
}

/* A flow through the fake OP with the ID token `next` asks for: the
 * callback's status and error code, and the audit reason it left. */
static void
fake_refused(struct h_server *s, const char *aud, const char *next, int want,
    const char *code, const char *reason)
{
	char *loc = NULL, *cb = NULL, path[2048];
	struct h_resp r;
	int before = audit_count(s, aud, "auth.oidc.login", "denied", reason);
	json_t *j = op_call("/test/fake-next", next);

	json_decref(j);
	h_req(s, "GET", "/v1/auth/oidc/start?cli_redirect=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
	    "&cli_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 302);
	loc = strdup(h_jstr(r.json, "redirect"));
	h_resp_free(&r);
	CHECK(strncmp(loc, op_base, strlen(op_base)) == 0 && strstr(loc, "/fake/authorize") != NULL);
	CHECK(fetch("GET", loc, NULL, NULL, &cb, NULL) == 302);
	CHECK(cb != NULL && strncmp(cb, s->base, strlen(s->base)) == 0);
	snprintf(path, sizeof(path), "%s", cb + strlen(s->base));
	h_req(s, "GET", path, NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, want);
	CHECK(strcmp(h_err_code(&r), code) == 0);
	h_resp_free(&r);
	CHECK(audit_count(s, aud, "auth.oidc.login", "denied", reason) == before + 1);
	if (strcmp(reason, "oidc_state_unknown") != 0) {
		/* the state is single use: the same callback again is a replay */
		h_req(s, "GET", path, NULL, NULL, NULL, &r);
		CHECK_STATUS(&r, 401);
		CHECK(strcmp(h_err_code(&r), "oidc_invalid") == 0);
		h_resp_free(&r);
	}
	free(loc);
	free(cb);
}

static long
backchannel(struct h_server *s, const char *jwt)
{
	char url[256], *form;
	long st;
	CURL *c = curl_easy_init();
	char *e = curl_easy_escape(c, jwt, 0);

	CHECK(asprintf(&form, "logout_token=%s", e) > 0);
	curl_free(e);
	curl_easy_cleanup(c);
	snprintf(url, sizeof(url), "%s/v1/auth/oidc/backchannel-logout", s->base);
	st = fetch("POST", url, form, "application/x-www-form-urlencoded", NULL, NULL);
	free(form);
	return st;
}

static char *
logout_token(const char *iss, const char *extra)
{
	char body[2048];
	json_t *j;
	char *t;
	static int jti;

	snprintf(body, sizeof(body), "{\"header\":{\"typ\":\"logout+jwt\"},\"claims\":{\"iss\":\"%s\","
	    "\"aud\":\"" CLIENT_ID "\",\"iat\":%lld,\"jti\":\"jti-%d-%d\",\"sub\":\"" SUB "\","
	    "\"events\":{\"http://schemas.openid.net/event/backchannel-logout\":{}}%s}}", iss,
	    (long long)time(NULL), (int)getpid(), ++jti, extra != NULL ? extra : "");
	j = op_call("/test/sign", body);
	t = strdup(h_jstr(j, "jwt"));
	json_decref(j);
	return t;
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[128], aud[128], oli[256], oli2[256], oli3[256], secret_file[700];
	char cafile[700], cmd[2400], *out = NULL, *loc = NULL, *landed, path[2048];
	unsigned op_port = h_free_port();
	json_t *sess, *j;
	FILE *f;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_tmpdir("oidc", tmp, sizeof(tmp));
	h_init(&s, "oidc", NULL);
	s.fixed_port = h_free_port();
	{
		char url[128];

		snprintf(url, sizeof(url), "https://127.0.0.1:%u", s.fixed_port);
		h_config_set(&s, "public_url", url);
	}
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
	chmod(secret_file, 0644);

	/* ---- start-up validation ---- */
	{
		char conf[4096];

		snprintf(conf, sizeof(conf), "[oidc]\nissuer = %s\nclient_id = " CLIENT_ID "\n"
		    "client_secret_file = %s\nca_file = %s\ncreate_users = on\nmfa_from_amr = on\nlocal_passwords = on\n"
		    "group_map = ward7=ward7_audit, clin=ward7_clin\n", op_base, secret_file, cafile);
		h_config_append(&s, conf);
	}
	/* a secret file others can read is refused at start */
	CHECK(h_start_expect_exit(&s, "--dev") != 0);
	chmod(secret_file, 0600);
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, 128);
	h_add_user(&s, admin, "audra", "auditor", PW_AUD, aud, sizeof(aud));
	h_expect(&s, "GET", "/v1/auth/oidc", NULL, NULL, NULL, 200, NULL);
	/* the mapped groups: one without PHI, one with PHI (approved) */
	h_expect(&s, "POST", "/v1/groups", admin, "{\"name\":\"ward7_audit\",\"roles\":[\"auditor\"]}",
	    NULL, 201, NULL);
	h_create_approved(&s, admin, "/v1/groups", "{\"name\":\"ward7_clin\",\"roles\":[\"clinician\"]}");

	/* ---- CLI sign-in, real provider: user created, groups mapped, MFA from amr ---- */
	j = op_call("/test/account", "{\"groups\":[\"ward7\",\"unmapped\"],\"amr\":[\"pwd\",\"mfa\"]}");
	json_decref(j);
	cli_sso(&s, oli, sizeof(oli));
	sess = session_of(&s, oli, 200);
	CHECK(strcmp(h_jstr(sess, "username"), "olivia") == 0);
	CHECK(json_is_true(json_object_get(sess, "mfa_verified")));
	CHECK(!json_is_true(json_object_get(sess, "restricted")));
	CHECK(has_role(sess, "auditor"));          /* ward7 -> ward7_audit */
	CHECK(!has_role(sess, "clinician"));       /* "clin" not in the claim */
	json_decref(sess);
	CHECK(audit_count(&s, aud, "auth.oidc.login", "allowed", "verified") == 1);
	CHECK(audit_count(&s, aud, "auth.login", "allowed", "oidc_mfa") == 1);
	/* the session works: an auditor reads the audit */
	h_expect(&s, "GET", "/v1/audit?limit=1", oli, NULL, NULL, 200, NULL);

	/* ---- second sign-in: the same user by (iss, sub), groups re-synced ---- */
	j = op_call("/test/account", "{\"groups\":[\"clin\"],\"amr\":[\"pwd\",\"mfa\"]}");
	json_decref(j);
	cli_sso(&s, oli2, sizeof(oli2));
	sess = session_of(&s, oli2, 200);
	CHECK(strcmp(h_jstr(sess, "username"), "olivia") == 0);   /* not a second user */
	CHECK(has_role(sess, "clinician"));        /* the approved PHI group */
	CHECK(!has_role(sess, "auditor"));         /* left ward7: membership removed */
	json_decref(sess);
	h_req(&s, "GET", "/v1/users?username=olivia", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "users")) == 1);
	h_resp_free(&r);

	/* ---- amr without a second factor: phivault's own MFA is owed ---- */
	j = op_call("/test/account", "{\"groups\":[\"ward7\"],\"amr\":[\"pwd\"]}");
	json_decref(j);
	cli_sso(&s, oli3, sizeof(oli3));
	sess = session_of(&s, oli3, 200);
	CHECK(!json_is_true(json_object_get(sess, "mfa_verified")));   /* pwd is one factor */
	json_decref(sess);
	CHECK(audit_count(&s, aud, "auth.login", "allowed", "oidc") == 1);

	/* ---- the console's flow: pv_oidc cookie, #oidc_code=, exchange with the cookie ---- */
	j = op_call("/test/account", "{\"groups\":[\"ward7\"],\"amr\":[\"pwd\",\"mfa\"]}");
	json_decref(j);
	snprintf(path, sizeof(path), "%s/v1/auth/oidc/start", s.base);
	{
		char console_prefix[200], *code, body[512], *resp = NULL;
		char url[256];

		snprintf(console_prefix, sizeof(console_prefix), "%s/console/", s.base);
		landed = browse(path, console_prefix);
		CHECK(landed != NULL && (code = strstr(landed, "#oidc_code=")) != NULL);
		code += strlen("#oidc_code=");
		/* a console code is not a CLI code: a verifier is not needed, but it
		 * works once */
		snprintf(body, sizeof(body), "{\"code\":\"%s\",\"cookie\":true}", code);
		snprintf(url, sizeof(url), "%s/v1/auth/oidc/exchange", s.base);
		CHECK(fetch("POST", url, body, "application/json", NULL, &resp) == 200);
		CHECK(strstr(resp, "csrf_token") != NULL && strstr(resp, "\"token\"") == NULL);
		free(resp);
		resp = NULL;
		/* the cookie session reads the session */
		snprintf(url, sizeof(url), "%s/v1/auth/session", s.base);
		CHECK(fetch("GET", url, NULL, NULL, NULL, &resp) == 200);
		CHECK(strstr(resp, "\"olivia\"") != NULL);
		free(resp);
		resp = NULL;
		snprintf(url, sizeof(url), "%s/v1/auth/oidc/exchange", s.base);
		CHECK(fetch("POST", url, body, "application/json", NULL, NULL) == 401);   /* once */
		free(landed);
	}
	/* a console flow's callback without the browser's pv_oidc cookie is refused */
	h_req(&s, "GET", "/v1/auth/oidc/start", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 302);
	CHECK(h_has_header(&r, "Set-Cookie: pv_oidc="));
	h_resp_free(&r);

	/* ---- a CLI code is redeemed only with its verifier ---- */
	h_req(&s, "GET", "/v1/auth/oidc/start?cli_redirect=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
	    "&cli_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 302);
	loc = strdup(h_jstr(r.json, "redirect"));
	h_resp_free(&r);
	landed = browse(loc, "http://127.0.0.1:9/");
	CHECK(landed != NULL && strstr(landed, "code=") != NULL);
	{
		char body[512];

		snprintf(body, sizeof(body), "{\"code\":\"%s\",\"code_verifier\":\"%s\"}",
		    strstr(landed, "code=") + 5, "wrong-verifier-wrong-verifier-wrong-verifier");
		h_expect(&s, "POST", "/v1/auth/oidc/exchange", NULL, body, NULL, 401, "oidc_invalid");
	}
	CHECK(audit_count(&s, aud, "auth.oidc.login", "denied", "oidc_code_verifier") == 1);
	free(landed);
	free(loc);
	/* a cli_redirect that is not loopback is refused */
	h_expect(&s, "GET", "/v1/auth/oidc/start?cli_redirect=https%3A%2F%2Fevil.test%2Fcb"
	    "&cli_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", NULL, NULL, NULL, 400,
	    "invalid_request");

	/* ---- the console in headless Chromium (console_driver.py, scenario oidc) ---- */
	{
		char profile[600], *dout = NULL;
		int rc;

		h_tmpdir("oidc-chromium", profile, sizeof(profile));
		snprintf(cmd, sizeof(cmd), "PV_SCENARIO=oidc PV_BASE='%s' PV_USER=olivia "
		    "PV_PASSWORD=unused PV_TOTP_SECRET=unused PV_IDLE_S=0 PV_SHOT_DIR='%s' "
		    "PV_PROFILE='%s' /usr/bin/python3 '%s/tests/integration/console_driver.py' 2>&1",
		    s.base, getenv("PV_TEST_TMP") ? getenv("PV_TEST_TMP") : ".", profile,
		    getenv("PV_SOURCE_DIR"));
		rc = h_run(cmd, &dout);
		fprintf(stderr, "%s", dout ? dout : "");
		CHECK(rc == 0);
		free(dout);
	}

	/* ---- back-channel logout: every session of the sub ends at once ---- */
	{
		char *t = logout_token(op_base, NULL), *bad;
		int before = audit_count(&s, aud, "auth.oidc.logout", "allowed", NULL);

		/* JSON is not the form this route takes */
		h_expect(&s, "POST", "/v1/auth/oidc/backchannel-logout", NULL, "{}", NULL, 400,
		    "invalid_request");
		/* with a nonce it is an ID token, not a logout token */
		bad = logout_token(op_base, ",\"nonce\":\"n\"");
		CHECK(backchannel(&s, bad) == 400);
		free(bad);
		json_decref(session_of(&s, oli, 200));
		CHECK(backchannel(&s, t) == 200);
		CHECK(audit_count(&s, aud, "auth.oidc.logout", "allowed", NULL) == before + 1);
		json_decref(session_of(&s, oli, 401));
		json_decref(session_of(&s, oli2, 401));
		json_decref(session_of(&s, oli3, 401));
		/* the same jti again */
		CHECK(backchannel(&s, t) == 400);
		CHECK(audit_count(&s, aud, "auth.oidc.logout", "denied", "oidc_jti_replay") == 1);
		free(t);
		/* another issuer's */
		t = logout_token("https://evil.test", NULL);
		CHECK(backchannel(&s, t) == 400);
		free(t);
		CHECK(audit_count(&s, aud, "auth.oidc.logout", "denied", "oidc_unknown_issuer") == 1);
	}
	h_stop(&s);

	/* ---- refusals, against the hand-written OP (/fake) ---- */
	{
		char fake[128];

		snprintf(fake, sizeof(fake), "%s/fake", op_base);
		h_config_set(&s, "issuer", fake);
		h_config_set(&s, "create_users", "off");
		h_config_set(&s, "local_passwords", "breakglass_only");
	}
	h_start(&s, "--dev");
	{
		/* password sign-in is off for everyone but break-glass accounts */
		char tok[128];

		CHECK(h_login_status(&s, "audra", PW_AUD, tok, sizeof(tok)) == 403);
	}
	/* the auditor reads the trail once passwords are back on */
	h_stop(&s);
	h_config_set(&s, "local_passwords", "on");
	h_start(&s, "--dev");
	h_login(&s, "audra", PW_AUD, aud, sizeof(aud));
	CHECK(audit_count(&s, aud, "auth.login", "denied", "local_password_disabled") == 1);
	fake_refused(&s, aud, "{\"claims\":{\"aud\":\"another-client\"}}", 401, "oidc_invalid",
	    "oidc_wrong_audience");
	fake_refused(&s, aud, "{\"claims\":{\"exp\":1000000000,\"iat\":999999000}}", 401,
	    "oidc_invalid", "oidc_expired");
	fake_refused(&s, aud, "{\"corrupt\":true}", 401, "oidc_invalid", "oidc_bad_signature");
	fake_refused(&s, aud, "{\"alg_none\":true}", 401, "oidc_invalid", "oidc_bad_alg");
	fake_refused(&s, aud, "{\"claims\":{\"iss\":\"https://evil.test\"}}", 401, "oidc_invalid",
	    "oidc_unknown_issuer");
	fake_refused(&s, aud, "{\"replay_nonce\":true}", 401, "oidc_invalid", "oidc_nonce_mismatch");
	/* an identity nobody here is linked to, create_users = off */
	j = op_call("/test/account", "{\"sub\":\"stranger-9\"}");
	json_decref(j);
	fake_refused(&s, aud, "{}", 403, "oidc_user_unknown", "oidc_unknown_user");
	/* a state nobody issued */
	h_expect(&s, "GET", "/v1/auth/oidc/callback?code=x&state=forged", NULL, NULL, NULL, 401,
	    "oidc_invalid");
	CHECK(audit_count(&s, aud, "auth.oidc.login", "denied", "oidc_state_unknown") >= 7);
	/* no token, code, state or nonce in the trail */
	{
		char *trail = NULL;

		snprintf(cmd, sizeof(cmd), "'%s' audit export --data '%s' --format jsonl", h_bin(),
		    s.dir);
		CHECK(h_run(cmd, &trail) == 0);
		CHECK(strstr(trail, "eyJ") == NULL);   /* no JWT */
		CHECK(strstr(trail, CLIENT_SECRET) == NULL);
		free(trail);
	}
	h_stop(&s);
	op_stop();
	curl_easy_cleanup(browser);
	curl_global_cleanup();
	json_decref(s.init);
	h_done("test_oidc");
	return 0;
}
