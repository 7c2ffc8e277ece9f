/*
 * test_console: the web console (docs/console.md) against the real server.
 *
 * Over HTTP (curl): the console's files and their security headers, the
 * cookie login ({"cookie":true}: Set-Cookie flags, csrf_token instead of
 * token), GETs with the cookie, state changes with the cookie refused 403
 * csrf (audited) without a matching X-CSRF-Token, bearer clients
 * unaffected, logout clearing the cookie.
 *
 * In headless Chromium (tests/integration/console_driver.py, Selenium):
 * an auditor with TOTP signs in by typing password and code into the page,
 * sees the brute-force alert this test caused, acknowledges it, checks the
 * CSP and cookie flags, sees a POST without X-CSRF-Token refused, signs
 * out, and is sent back to sign-in when the session idles out.
 * A security officer with TOTP signs in the same way and approves, on the
 * approvals page, the admin's pending request to create a clinician; the
 * API then shows it approved by the officer, the role held, the audit entry.
 * Then (test_reviews) a security officer records a verdict on a break-glass
 * review on the Reviews page.
 * Screenshots: build/testtmp/console-{alerts,compliance,expired,approvals,reviews}.png.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_AUD "Copper-meadow-Violin-73"
#define PW_OTTO "Amber-tundra-Pelican-58"
#define PW_OLGA "Birch-signal-Harbor-64"
#define PW_PIA "Velvet-canyon-Otter-27"
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* The value of response header name (first one), into out; false if absent. */
static bool
header_value(struct h_resp *r, const char *name, char *out, size_t len)
{
	const char *p = r->headers;
	size_t n = strlen(name);

	while (p && *p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end;

			while (*v == ' ')
				v++;
			end = v + strcspn(v, "\r\n");
			snprintf(out, len, "%.*s", (int)(end - v), v);
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static void
check_file(struct h_server *s, const char *path, const char *type)
{
	struct h_resp r;
	char v[512];

	h_req(s, "GET", path, NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(header_value(&r, "Content-Security-Policy", v, sizeof(v)) && strcmp(v, CSP) == 0);
	CHECK(h_has_header(&r, "X-Content-Type-Options: nosniff"));
	CHECK(h_has_header(&r, "Referrer-Policy: no-referrer"));
	CHECK(h_has_header(&r, "Cache-Control: no-store"));
	CHECK(header_value(&r, "Content-Type", v, sizeof(v)) && strncmp(v, type, strlen(type)) == 0);
	/* exactly one CSP: the console's replaces the API default */
	{
		const char *p = strcasestr(r.headers, "Content-Security-Policy:");

		CHECK(p != NULL && strcasestr(p + 1, "Content-Security-Policy:") == NULL);
	}
	/* the console never shows record contents: it calls no records route */
	CHECK(strstr(r.body, "/records") == NULL);
	if (strcmp(type, "text/html") == 0) {
		/* no inline script or style: every <script> has a src, no style attributes */
		const char *p = r.body;

		while ((p = strstr(p, "<script")) != NULL) {
			CHECK(strncmp(p, "<script src=\"/console/", 22) == 0);
			p++;
		}
		CHECK(strstr(r.body, "<style") == NULL && strstr(r.body, " style=") == NULL);
		CHECK(strstr(r.body, " onclick=") == NULL && strstr(r.body, " onsubmit=") == NULL &&
		    strstr(r.body, " onload=") == NULL);
		CHECK(strstr(r.body, "http://") == NULL && strstr(r.body, "https://") == NULL);
	}
	h_resp_free(&r);
}

/* POST /v1/auth/login {"cookie":true} for a user without MFA: the cookie
 * value into cookie ("pv_session=..."), the csrf token into csrf. */
static void
cookie_login(struct h_server *s, const char *user, const char *pw, char *cookie, size_t clen,
    char *csrf, size_t len)
{
	struct h_resp r;
	char body[256], sc[512];

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\",\"cookie\":true}",
	    user, pw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_object_get(r.json, "token") == NULL);   /* never in the body */
	CHECK(h_jstr(r.json, "csrf_token") != NULL && strlen(h_jstr(r.json, "csrf_token")) == 64);
	snprintf(csrf, len, "%s", h_jstr(r.json, "csrf_token"));
	CHECK(header_value(&r, "Set-Cookie", sc, sizeof(sc)));
	CHECK(strncmp(sc, "pv_session=pvt_", 15) == 0);
	CHECK(strstr(sc, "; HttpOnly") != NULL && strstr(sc, "; Secure") != NULL &&
	    strstr(sc, "; SameSite=Strict") != NULL && strstr(sc, "; Path=/") != NULL);
	snprintf(cookie, clen, "Cookie: %.*s", (int)strcspn(sc, ";"), sc);
	h_resp_free(&r);
}

static void
test_cookie_api(struct h_server *s, const char *admin, const char *aud)
{
	char cookie[256], csrf[128], hcsrf[160], other[128], v[256], alert_id[64];
	const char *only_cookie[] = { cookie, NULL };
	const char *with_csrf[] = { cookie, hcsrf, NULL };
	const char *wrong_csrf[] = { cookie, "X-CSRF-Token: " "0000000000000000000000000000000"
	    "000000000000000000000000000000000", NULL };
	struct h_resp r;
	char path[128];

	h_add_user(s, admin, "otto", "auditor", PW_OTTO, other, sizeof(other));
	cookie_login(s, "otto", PW_OTTO, cookie, sizeof(cookie), csrf, sizeof(csrf));
	snprintf(hcsrf, sizeof(hcsrf), "X-CSRF-Token: %s", csrf);

	/* a GET with the cookie alone works; the session hands its CSRF token back */
	h_req(s, "GET", "/v1/auth/session", NULL, NULL, only_cookie, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "username"), "otto") == 0);
	CHECK(h_jstr(r.json, "csrf_token") != NULL && strcmp(h_jstr(r.json, "csrf_token"), csrf) == 0);
	h_resp_free(&r);
	/* a bearer session's description carries none */
	h_req(s, "GET", "/v1/auth/session", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_object_get(r.json, "csrf_token") == NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/alerts?rule=brute_force", NULL, NULL, only_cookie, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(r.json) == 1);
	snprintf(alert_id, sizeof(alert_id), "%s", h_jstr(json_array_get(r.json, 0), "id"));
	h_resp_free(&r);

	/* a change with the cookie: refused without / with a wrong CSRF token, audited */
	snprintf(path, sizeof(path), "/v1/alerts/%s/ack", alert_id);
	h_expect(s, "POST", path, NULL, "{\"note\":\"x\"}", only_cookie, 403, "csrf");
	h_expect(s, "POST", path, NULL, "{\"note\":\"x\"}", wrong_csrf, 403, "csrf");
	h_expect(s, "DELETE", "/v1/sys/backups/bk_x", NULL, NULL, only_cookie, 403, "csrf");
	h_req(s, "GET", "/v1/alerts?rule=brute_force", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_array_get(r.json, 0), "status"), "open") == 0);   /* unchanged */
	h_resp_free(&r);
	h_req(s, "GET", "/v1/audit?action=alert.ack&limit=100", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		json_t *e;
		size_t i, denied = 0;

		json_array_foreach(json_object_get(r.json, "entries"), i, e)
			if (h_jstr(e, "reason") != NULL && strcmp(h_jstr(e, "reason"), "csrf") == 0 &&
			    strcmp(h_jstr(e, "outcome"), "denied") == 0)
				denied++;
		CHECK(denied == 2);
	}
	h_resp_free(&r);
	/* the cookie never carries an app token, and bearer clients need no CSRF token */
	h_expect(s, "GET", "/v1/auth/session", NULL, NULL,
	    (const char *[]){ "Cookie: pv_session=pva_x", NULL }, 401, NULL);
	h_req(s, "POST", "/v1/auth/logout", other, NULL, NULL, &r);
	CHECK_STATUS(&r, 204);
	CHECK(!h_has_header(&r, "Set-Cookie:"));
	h_resp_free(&r);

	/* logout with the cookie and its token: 204, the cookie cleared, the session over */
	h_req(s, "POST", "/v1/auth/logout", NULL, NULL, with_csrf, &r);
	CHECK_STATUS(&r, 204);
	CHECK(header_value(&r, "Set-Cookie", v, sizeof(v)));
	CHECK(strncmp(v, "pv_session=;", 12) == 0 && strstr(v, "Max-Age=0") != NULL);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/auth/session", NULL, NULL, only_cookie, 401, NULL);

	/* cookie:true must be a boolean */
	h_expect(s, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"otto\",\"password\":\"" PW_OTTO "\",\"cookie\":\"yes\"}", NULL, 400,
	    "invalid_request");
}

/* Officer olga (TOTP enrolled) approves, in the page, the admin's pending
 * request to create user cody with clinician (dual control); then over the
 * API: the request is approved by olga, cody holds clinician, and the
 * approval.approve entry names olga. aud reads the audit trail. */
static void
test_approvals(struct h_server *s, const char *admin, const char *aud, const char *profile_name)
{
	char olga[128], olga_id[64], secret[128], code[16], body[256], cmd[4096], apr[64];
	char cody_id[64], path[160], profile[600], shots[600];
	char *out = NULL;
	struct h_resp r;
	json_t *e;
	size_t i;
	int rc, named = 0;

	h_add_officer(s, admin, "olga", PW_OLGA, olga, sizeof(olga));
	h_req(s, "GET", "/v1/auth/session", olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(olga_id, sizeof(olga_id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);
	h_req(s, "POST", "/v1/auth/mfa/enroll", olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	h_totp_at(secret, h_clock_advance(s, 0) / 1000, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(s, "POST", "/v1/auth/mfa/confirm", olga, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);

	/* the admin asks for cody with clinician (PHI access): 202, pending */
	h_req(s, "POST", "/v1/users", admin, "{\"username\":\"cody\",\"display_name\":\"cody\","
	    "\"email\":\"cody@hospital.test\",\"roles\":[\"clinician\"]}", NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(h_jstr(r.json, "approval") != NULL && h_jstr(r.json, "id") != NULL);
	snprintf(apr, sizeof(apr), "%s", h_jstr(r.json, "approval"));
	snprintf(cody_id, sizeof(cody_id), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/users/%s", cody_id);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "roles")) == 0);   /* not yet */
	h_resp_free(&r);

	/* the browser: olga signs in (next TOTP step) and clicks Approve */
	h_clock_advance(s, 30000);
	h_tmpdir(profile_name, profile, sizeof(profile));
	snprintf(shots, sizeof(shots), "%s", getenv("PV_TEST_TMP") ? getenv("PV_TEST_TMP") : ".");
	snprintf(cmd, sizeof(cmd), "PV_SCENARIO=approvals PV_APPROVAL='%s' PV_BASE='%s' "
	    "PV_USER=olga PV_PASSWORD='%s' PV_TOTP_SECRET='%s' PV_IDLE_S=0 PV_SHOT_DIR='%s' "
	    "PV_PROFILE='%s' /usr/bin/python3 '%s/tests/integration/console_driver.py' 2>&1",
	    apr, s->base, PW_OLGA, secret, shots, profile, getenv("PV_SOURCE_DIR"));
	rc = h_run(cmd, &out);
	fprintf(stderr, "%s", out ? out : "");
	CHECK(rc == 0);
	free(out);

	/* what the page did is what the server holds */
	snprintf(path, sizeof(path), "/v1/approvals/%s", apr);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "approved") == 0);
	CHECK(strcmp(h_jstr(r.json, "decided_by"), olga_id) == 0);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/users/%s", cody_id);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		json_t *roles = json_object_get(r.json, "roles");

		CHECK(json_array_size(roles) == 1 &&
		    strcmp(json_string_value(json_array_get(roles, 0)), "clinician") == 0);
	}
	h_resp_free(&r);
	h_req(s, "GET", "/v1/audit?action=approval.approve&limit=1000", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		json_t *actor = json_object_get(e, "actor");

		if (strcmp(h_jstr(e, "outcome"), "allowed") == 0 && h_jstr(e, "resource") != NULL &&
		    strstr(h_jstr(e, "resource"), apr) != NULL && actor != NULL &&
		    h_jstr(actor, "user_id") != NULL && strcmp(h_jstr(actor, "user_id"), olga_id) == 0)
			named++;
	}
	CHECK(named == 1);
	h_resp_free(&r);
}

/* Break-glass reviews in the console: bert (break_glass) activates a grant
 * for one patient and reads that patient's record twice under ETREAT;
 * officer rita opens the Reviews page in Chromium, sees the two reads and
 * the justification, and records "appropriate" with a note. Over the API:
 * the review is appropriate, reviewed by rita, the note kept, and the
 * review.decide entry names rita. */
#define PW_BERT "Birch-valley-Copper-6240"
#define PW_RITA "Rowan-harbor-Signal-3387"
#define PW_CLEO "Cedar-meadow-Falcon-1953"
#define BG_JUST "collapsed in the lobby, no chart"
static void
test_reviews(struct h_server *s, const char *admin, const char *aud)
{
	char bert[256], rita[256], rita_id[64], cleo[256], rec[64], body[512], path[160];
	char cmd[4096], profile[600], shots[600], review[64];
	char *out = NULL;
	struct h_resp r;
	json_t *e;
	size_t i;
	int rc, named = 0;

	h_add_user(s, admin, "cleo", "clinician", PW_CLEO, cleo, sizeof(cleo));
	h_add_user(s, admin, "bert", "break_glass", PW_BERT, bert, sizeof(bert));
	h_add_officer(s, admin, "rita", PW_RITA, rita, sizeof(rita));
	h_req(s, "GET", "/v1/auth/session", rita, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(rita_id, sizeof(rita_id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);
	h_collection_create(s, admin, "{\"name\":\"charts\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"note\",\"type\":\"string\"}]}");
	h_req(s, "POST", "/v1/collections/charts/records", cleo,
	    "{\"patient\":\"PAT-C-Quill-3003\",\"note\":\"asthma\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(rec, sizeof(rec), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"subject\":\"PAT-C-Quill-3003\",\"reason_code\":\"ETREAT\","
	    "\"justification\":\"" BG_JUST "\",\"password\":\"" PW_BERT "\"}");
	h_req(s, "POST", "/v1/breakglass", bert, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(review, sizeof(review), "%s", h_jstr(r.json, "review"));
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/collections/charts/records/%s", rec);
	for (i = 0; i < 2; i++)
		h_expect(s, "GET", path, bert, NULL,
		    (const char *[]){ "X-Purpose-Of-Use: ETREAT", NULL }, 200, NULL);

	h_tmpdir("console-profile-reviews", profile, sizeof(profile));
	snprintf(shots, sizeof(shots), "%s", getenv("PV_TEST_TMP") ? getenv("PV_TEST_TMP") : ".");
	snprintf(cmd, sizeof(cmd), "PV_SCENARIO=reviews PV_REVIEW='%s' PV_VERDICT=appropriate "
	    "PV_READS=2 PV_JUSTIFICATION='%s' PV_BASE='%s' PV_USER=rita PV_PASSWORD='%s' "
	    "PV_TOTP_SECRET=none PV_IDLE_S=0 PV_SHOT_DIR='%s' PV_PROFILE='%s' "
	    "/usr/bin/python3 '%s/tests/integration/console_driver.py' 2>&1",
	    review, BG_JUST, s->base, PW_RITA, shots, profile, getenv("PV_SOURCE_DIR"));
	rc = h_run(cmd, &out);
	fprintf(stderr, "%s", out ? out : "");
	CHECK(rc == 0);
	free(out);

	/* what the page did is what the server holds */
	snprintf(path, sizeof(path), "/v1/reviews/%s", review);
	h_req(s, "GET", path, rita, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "appropriate") == 0);
	CHECK(strcmp(h_jstr(r.json, "reviewed_by"), rita_id) == 0);
	CHECK(strcmp(h_jstr(r.json, "note"), "checked in the console") == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/audit?action=review.decide&limit=1000", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		json_t *actor = json_object_get(e, "actor");

		if (strcmp(h_jstr(e, "outcome"), "allowed") == 0 && h_jstr(e, "resource") != NULL &&
		    strstr(h_jstr(e, "resource"), review) != NULL && actor != NULL &&
		    strcmp(h_jstr(e, "reason"), "appropriate") == 0 &&
		    h_jstr(actor, "user_id") != NULL && strcmp(h_jstr(actor, "user_id"), rita_id) == 0)
			named++;
	}
	CHECK(named == 1);
	h_resp_free(&r);
}

/* Passkeys through the console (a server of its own: [server] public_url is
 * https://localhost:PORT, the page's origin): pia adds a passkey in Chromium
 * with a DevTools virtual authenticator, signs out, signs in with password +
 * passkey. Over the API with that session's cookie: the credential exists,
 * the session's MFA method is webauthn; the audit trail holds the
 * auth.webauthn.register and auth.webauthn.login entries of that session. */
static void
test_passkey(void)
{
	struct h_server s;
	char admin[128], aud[128], pia[128], pia_id[64], origin[96], cmd[4096], profile[600];
	char shots[600], cfile[700], cookie[600];
	const char *hdrs[] = { cookie, NULL };
	char *out = NULL;
	struct h_resp r;
	json_t *e;
	size_t i;
	int rc, reg = 0, login = 0;
	FILE *f;

	h_init(&s, "console-passkey", NULL);
	s.fixed_port = h_free_port();
	snprintf(origin, sizeof(origin), "https://localhost:%u", s.fixed_port);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "public_url", origin);
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, sizeof(admin));
	h_add_user(&s, admin, "audrey", "auditor", PW_AUD, aud, sizeof(aud));
	h_add_user(&s, admin, "pia", "auditor", PW_PIA, pia, sizeof(pia));
	h_req(&s, "GET", "/v1/auth/session", pia, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(pia_id, sizeof(pia_id), "%s", h_jstr(r.json, "user_id"));
	CHECK(json_object_get(r.json, "mfa_method") == NULL);   /* no MFA yet */
	h_resp_free(&r);

	/* login/finish's "cookie" is a boolean, as for /v1/auth/login and /mfa */
	h_expect(&s, "POST", "/v1/auth/webauthn/login/finish", NULL,
	    "{\"mfa_token\":\"pvm_x\",\"cookie\":\"yes\"}", NULL, 400, "invalid_request");

	h_tmpdir("console-profile-passkey", profile, sizeof(profile));
	snprintf(cfile, sizeof(cfile), "%s.cookie", profile);
	snprintf(shots, sizeof(shots), "%s", getenv("PV_TEST_TMP") ? getenv("PV_TEST_TMP") : ".");
	snprintf(cmd, sizeof(cmd), "PV_SCENARIO=passkey PV_BASE='%s' PV_USER=pia PV_PASSWORD='%s' "
	    "PV_TOTP_SECRET= PV_IDLE_S=0 PV_SHOT_DIR='%s' PV_PROFILE='%s' PV_COOKIE_FILE='%s' "
	    "/usr/bin/python3 '%s/tests/integration/console_driver.py' 2>&1",
	    origin, PW_PIA, shots, profile, cfile, getenv("PV_SOURCE_DIR"));
	rc = h_run(cmd, &out);
	fprintf(stderr, "%s", out ? out : "");
	CHECK(rc == 0);
	free(out);

	/* the browser's session, over the API */
	CHECK((f = fopen(cfile, "r")) != NULL);
	strcpy(cookie, "Cookie: ");
	CHECK(fgets(cookie + 8, (int)sizeof(cookie) - 8, f) != NULL);
	fclose(f);
	CHECK(strncmp(cookie, "Cookie: pv_session=pvt_", 23) == 0);
	h_req(&s, "GET", "/v1/auth/session", NULL, NULL, hdrs, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "user_id"), pia_id) == 0);
	CHECK(json_is_true(json_object_get(r.json, "mfa_verified")));
	CHECK(h_jstr(r.json, "mfa_method") != NULL &&
	    strcmp(h_jstr(r.json, "mfa_method"), "webauthn") == 0);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/auth/webauthn/credentials", NULL, NULL, hdrs, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "credentials")) == 1);
	e = json_array_get(json_object_get(r.json, "credentials"), 0);
	CHECK(strcmp(h_jstr(e, "name"), "console laptop") == 0);
	CHECK(h_jstr(e, "last_used_at") != NULL);
	h_resp_free(&r);

	h_req(&s, "GET", "/v1/audit?action=auth.webauthn.register&limit=1000", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e)
		if (strcmp(h_jstr(e, "outcome"), "allowed") == 0 &&
		    strcmp(h_jstr(json_object_get(e, "actor"), "user_id"), pia_id) == 0)
			reg++;
	h_resp_free(&r);
	CHECK(reg == 1);
	h_req(&s, "GET", "/v1/audit?action=auth.webauthn.login&limit=1000", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		json_t *actor = json_object_get(e, "actor");

		if (strcmp(h_jstr(e, "outcome"), "allowed") == 0 && h_jstr(actor, "user_id") != NULL &&
		    strcmp(h_jstr(actor, "user_id"), pia_id) == 0)
			login++;
	}
	h_resp_free(&r);
	CHECK(login == 1);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

static void
test_console(void)
{
	struct h_server s;
	char admin[128], aud[128], aud_id[64], secret[128], code[16], body[256], cmd[4096];
	char *out = NULL, profile[600], shots[600];
	struct h_resp r;
	long long now_s;
	int idle_s, rc;

	h_init(&s, "console", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_clock_enable();
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, sizeof(admin));

	/* the console's files: embedded, with their headers */
	check_file(&s, "/console/", "text/html");
	check_file(&s, "/console", "text/html");
	check_file(&s, "/console/app.js", "text/javascript");
	check_file(&s, "/console/app.css", "text/css");
	/* the API keeps its own CSP */
	h_req(&s, "GET", "/v1/auth/policy", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'"));
	CHECK(json_is_integer(json_object_get(r.json, "idle_timeout_s")));
	CHECK(json_is_integer(json_object_get(r.json, "absolute_timeout_s")));
	idle_s = (int)json_integer_value(json_object_get(r.json, "idle_timeout_s"));
	CHECK(idle_s > 0);
	h_resp_free(&r);

	/* audrey: an auditor (alerts.read, compliance.read, audit.read) with TOTP */
	h_add_user(&s, admin, "audrey", "auditor", PW_AUD, aud, sizeof(aud));
	h_req(&s, "GET", "/v1/auth/session", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(aud_id, sizeof(aud_id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/auth/mfa/enroll", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	now_s = h_clock_advance(&s, 0) / 1000;
	h_totp_at(secret, now_s, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(&s, "POST", "/v1/auth/mfa/confirm", aud, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);

	/* the alert: 10 failed logins on clara's account from one source */
	h_user_create(&s, admin, "clara", "clinician", NULL, NULL, 0, NULL, 0);
	h_source_set("127.0.2.1");
	for (int i = 0; i < 10; i++)
		CHECK(h_login_status(&s, "clara", "Wrong-guess-Password-1", NULL, 0) != 200);
	h_source_set(NULL);

	test_cookie_api(&s, admin, aud);

	/* the browser: the next TOTP step is the page's */
	h_clock_advance(&s, 30000);
	h_tmpdir("console-profile", profile, sizeof(profile));
	snprintf(shots, sizeof(shots), "%s", getenv("PV_TEST_TMP") ? getenv("PV_TEST_TMP") : ".");
	snprintf(cmd, sizeof(cmd), "PV_BASE='%s' PV_USER=audrey PV_PASSWORD='%s' "
	    "PV_TOTP_SECRET='%s' PV_IDLE_S=%d PV_RULE=brute_force PV_SHOT_DIR='%s' "
	    "PV_PROFILE='%s' /usr/bin/python3 '%s/tests/integration/console_driver.py' 2>&1",
	    s.base, PW_AUD, secret, idle_s, shots, profile, getenv("PV_SOURCE_DIR"));
	rc = h_run(cmd, &out);
	fprintf(stderr, "%s", out ? out : "");
	CHECK(rc == 0);
	free(out);

	/* what the page did is what the server holds: acknowledged by audrey
	 * (the page let the clock pass the idle timeout: new sessions) */
	h_login(&s, "admin", PW_ADMIN, admin, sizeof(admin));
	h_req(&s, "GET", "/v1/alerts?rule=brute_force", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);   /* the admin reads no alerts */
	h_resp_free(&r);
	h_login(&s, "otto", PW_OTTO, aud, sizeof(aud));
	h_req(&s, "GET", "/v1/alerts?rule=brute_force", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(r.json) == 1);
	CHECK(strcmp(h_jstr(json_array_get(r.json, 0), "status"), "acknowledged") == 0);
	CHECK(strcmp(h_jstr(json_array_get(r.json, 0), "ack_by"), aud_id) == 0);
	h_resp_free(&r);

	test_approvals(&s, admin, aud, "console-profile-approvals");
	test_reviews(&s, admin, aud);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	test_console();
	test_passkey();
	h_done("integ_test_console");
	return 0;
}
