/*
 * Workload identities (issue 10 item 1) on the real binary over HTTPS:
 *  - an admin (apps.manage) registers an app with a role and a network
 *    list; an app is refused any role granting users.manage, roles.manage,
 *    apps.manage (built-in admin, or a custom role), and a bad network list;
 *  - secrets: shown once, "pvs_" + 256 bits; at most two live (a third is
 *    409 conflict); a deleted secret no longer signs in, the other does;
 *  - sign-in (POST /v1/auth/app) -> a "pva_" token that writes and reads a
 *    record with the app's role; audit entries name the app;
 *  - the network list on every request: from 127.0.0.2 against
 *    127.0.0.1/32 the sign-in and every call of an existing token are 403
 *    network_not_allowed, audited;
 *  - the token lives [apps] token_ttl_s (900 s here; the expires_at is at
 *    most one hour away), checked with the injectable clock;
 *  - disable ends the app's sessions at once and refuses new sign-ins;
 *  - no secret in the audit trail or the server log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_AUD "Copper-meadow-Violin-73"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };
static char secrets[8][128];
static size_t nsecrets;

/* The CLI: phivault app ... and phivault login --app (the secret from a
 * file or the environment, never argv). */
static void
test_cli(struct h_server *s, const char *admin)
{
	char env[1024], cmd[2048], file[700], app[64], sid[64], secret[128], *out = NULL;
	json_t *j;
	FILE *f;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s",
	    s->base, s->cacert, admin, h_bin());
	snprintf(cmd, sizeof(cmd), "%s app create cliapp --role analyst --network 127.0.0.0/8 "
	    "--format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strncmp(h_jstr(j, "id"), "app_", 4) == 0);
	snprintf(app, sizeof(app), "%s", h_jstr(j, "id"));
	json_decref(j);
	free(out);
	/* an app can never be an admin: the API's message, exit 3 */
	snprintf(cmd, sizeof(cmd), "%s app create cliadm --role admin --network 127.0.0.0/8 2>&1",
	    env);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "users.manage") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s app create nonet --role analyst 2>/dev/null", env);
	CHECK(h_run(cmd, NULL) == 2);                        /* --network is required */
	snprintf(cmd, sizeof(cmd), "%s app secret-add %s --format json", env, app);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strncmp(h_jstr(j, "secret"), "pvs_", 4) == 0);
	snprintf(secret, sizeof(secret), "%s", h_jstr(j, "secret"));
	snprintf(sid, sizeof(sid), "%s", h_jstr(j, "secret_id"));
	CHECK(nsecrets < sizeof(secrets) / sizeof(secrets[0]));
	snprintf(secrets[nsecrets++], sizeof(secrets[0]), "%s", secret);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s app show %s --format text", env, app);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "cliapp") != NULL && strstr(out, "1 live") != NULL);
	CHECK(strstr(out, secret) == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s app list --format text", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, app) != NULL && strstr(out, "127.0.0.0/8") != NULL);
	free(out);
	/* login --app: from a file, then from the environment */
	snprintf(file, sizeof(file), "%s/app.secret", s->dir);
	CHECK((f = fopen(file, "w")) != NULL);
	fprintf(f, "%s\n", secret);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s %s login --app %s "
	    "--secret-file %s 2>/dev/null", s->base, s->cacert, h_bin(), app, file);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strncmp(out, "export PHIVAULT_TOKEN=pva_", 26) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_APP_SECRET=%s "
	    "%s login --app %s --format json", s->base, s->cacert, secret, h_bin(), app);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strncmp(h_jstr(j, "token"), "pva_", 4) == 0);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s %s login --app %s "
	    "2>/dev/null", s->base, s->cacert, h_bin(), app);
	CHECK(h_run(cmd, NULL) == 2);                        /* no secret given */
	snprintf(cmd, sizeof(cmd), "%s app secret-rm %s %s", env, app, sid);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s %s login --app %s "
	    "--secret-file %s 2>/dev/null", s->base, s->cacert, h_bin(), app, file);
	CHECK(h_run(cmd, NULL) == 3);                        /* deleted: 401 */
	snprintf(cmd, sizeof(cmd), "%s app disable %s --format text", env, app);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "disabled") != NULL);
	free(out);
}

static void
secret_add(struct h_server *s, const char *admin, const char *app, int status,
    char sid[64], char secret[128])
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	h_req(s, "POST", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, status);
	if (status == 201) {
		CHECK(h_jstr(r.json, "secret") != NULL && h_jstr(r.json, "secret_id") != NULL);
		snprintf(sid, 64, "%s", h_jstr(r.json, "secret_id"));
		snprintf(secret, 128, "%s", h_jstr(r.json, "secret"));
		/* "pvs_" + base64url of 32 bytes: 256 bits */
		CHECK(strncmp(secret, "pvs_", 4) == 0 && strlen(secret) == 47);
		CHECK(nsecrets < sizeof(secrets) / sizeof(secrets[0]));
		snprintf(secrets[nsecrets++], sizeof(secrets[0]), "%s", secret);
	} else {
		CHECK(strcmp(h_err_code(&r), "conflict") == 0);
	}
	h_resp_free(&r);
}

/* POST /v1/auth/app; on 200 copies the token. */
static void
signin(struct h_server *s, const char *app, const char *secret, int status, const char *code,
    char tok[128], struct h_resp *keep)
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
		snprintf(tok, 128, "%s", h_jstr(r.json, "token"));
	}
	if (keep != NULL)
		*keep = r;
	else
		h_resp_free(&r);
}

/* "2026-12-01T12:00:00.000Z" -> ms since the epoch */
static long long
parse_time(const char *t)
{
	struct tm tm;
	int ms = 0;

	memset(&tm, 0, sizeof(tm));
	CHECK(sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) >= 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + ms;
}

/* Entries of action (outcome, reason; NULL: any) whose actor user_id is who (NULL: any). */
static int
audit_count(struct h_server *s, const char *aud, const char *action, const char *who,
    const char *outcome, const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason, .actor_user = who });
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[128], aud[128], app[64], tok[128], tok2[128], tok3[128], path[256];
	char sid1[64], sec1[128], sid2[64], sec2[128], sid3[64], sec3[128], rec[64];
	char cmd[1024], *out = NULL, id[64];
	long long now, exp;
	size_t i;

	h_clock_enable();
	h_init(&s, "apps", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, 128);
	h_req(&s, "POST", "/v1/users", admin, "{\"username\":\"audra\",\"roles\":[\"auditor\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, sizeof(id), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	h_login_fresh(&s, "audra", id, PW_AUD, aud, 128);
	h_collection_create(&s, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");

	/* ---- create, and what an app may not hold ---- */
	h_expect(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"evil\",\"roles\":[\"admin\"],\"networks\":[\"127.0.0.1/32\"]}", NULL, 400,
	    "invalid_request");
	h_req(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"evil\",\"roles\":[\"admin\"],\"networks\":[\"127.0.0.1/32\"]}", NULL, &r);
	CHECK(strstr(r.body, "users.manage") != NULL);   /* the message says why */
	h_resp_free(&r);
	h_expect(&s, "POST", "/v1/roles", admin,
	    "{\"name\":\"usermgr\",\"permissions\":[\"collections.manage\",\"users.manage\"]}", NULL,
	    201, NULL);
	h_expect(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"evil\",\"roles\":[\"usermgr\"],\"networks\":[\"127.0.0.1/32\"]}", NULL,
	    400, "invalid_request");
	h_expect(&s, "POST", "/v1/apps", admin, "{\"name\":\"evil\",\"roles\":[\"clinician\"]}",
	    NULL, 400, "invalid_request");                    /* no network list */
	h_expect(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"evil\",\"roles\":[],\"networks\":[\"127.0.0.1/8\"]}", NULL, 400,
	    "invalid_request");                               /* host bits set */
	h_expect(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"evil\",\"roles\":[\"nope\"],\"networks\":[\"10.0.0.0/8\"]}", NULL, 400,
	    "invalid_request");
	h_expect(&s, "POST", "/v1/apps", aud,
	    "{\"name\":\"evil\",\"roles\":[],\"networks\":[\"10.0.0.0/8\"]}", NULL, 403,
	    "forbidden");                                     /* apps.manage is the admin's */
	h_req(&s, "GET", "/v1/apps", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "apps")) == 0);   /* nothing was made */
	h_resp_free(&r);

	h_req(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"billing\",\"roles\":[\"clinician\"],\"networks\":[\"127.0.0.1/32\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 202);   /* clinician reads PHI: dual control */
	snprintf(app, sizeof(app), "%s", h_jstr(r.json, "id"));
	snprintf(path, sizeof(path), "/v1/apps/%s", app);
	{
		struct h_resp g;

		/* the app exists without the role until a security officer approves */
		h_req(&s, "GET", path, admin, NULL, NULL, &g);
		CHECK_STATUS(&g, 200);
		CHECK(json_array_size(json_object_get(g.json, "roles")) == 0);
		h_resp_free(&g);
		h_officer_approve(&s, admin, h_jstr(r.json, "approval"));
		h_req(&s, "GET", path, admin, NULL, NULL, &g);
		CHECK_STATUS(&g, 200);
		CHECK(json_array_size(json_object_get(g.json, "roles")) == 1);
		h_resp_free(&g);
	}
	CHECK(strncmp(app, "app_", 4) == 0);
	h_resp_free(&r);
	h_expect(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"billing\",\"roles\":[],\"networks\":[\"10.0.0.0/8\"]}", NULL, 409,
	    "conflict");

	/* ---- secrets: two live at most ---- */
	secret_add(&s, admin, app, 201, sid1, sec1);
	secret_add(&s, admin, app, 201, sid2, sec2);
	secret_add(&s, admin, app, 409, sid3, sec3);
	snprintf(path, sizeof(path), "/v1/apps/%s", app);
	h_req(&s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "secrets")) == 2);
	CHECK(strstr(r.body, sec1) == NULL && strstr(r.body, sec2) == NULL);   /* shown once */
	CHECK(strcmp(h_jstr(r.json, "status"), "active") == 0);
	h_resp_free(&r);

	/* ---- sign in and use the role ---- */
	signin(&s, app, sec1, 200, NULL, tok, &r);
	now = h_clock_advance(&s, 0);
	exp = parse_time(h_jstr(r.json, "expires_at"));
	CHECK(exp > now && exp - now <= 3600 * 1000LL);       /* at most one hour */
	CHECK(exp - now <= 900 * 1000LL + 2000);              /* [apps] token_ttl_s default */
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/collections/patients/records", tok, "{\"name\":\"Ada Quill\"}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(rec, sizeof(rec), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", rec);
	h_req(&s, "GET", path, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "fields"), "name"), "Ada Quill") == 0);
	h_resp_free(&r);
	h_expect(&s, "GET", "/v1/users", tok, NULL, NULL, 403, "forbidden");
	h_expect(&s, "GET", "/v1/apps", tok, NULL, NULL, 403, "forbidden");
	CHECK(audit_count(&s, aud, "record.read", app, "allowed", NULL) == 1);
	CHECK(audit_count(&s, aud, "auth.app", app, "allowed", "secret") == 1);

	/* wrong secret, malformed secret, unknown app: 401, audited */
	signin(&s, app, "pvs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "unauthenticated",
	    NULL, NULL);
	signin(&s, app, "not-a-secret", 401, "unauthenticated", NULL, NULL);
	signin(&s, "app_nosuchappnosuchappnosuch", sec1, 401, "unauthenticated", NULL, NULL);
	CHECK(audit_count(&s, aud, "auth.app", app, "denied", "bad_secret") == 2);

	/* ---- rotation: delete the first secret; the second still works ---- */
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets/%s", app, sid1);
	h_expect(&s, "DELETE", path, admin, NULL, NULL, 204, NULL);
	h_expect(&s, "DELETE", path, admin, NULL, NULL, 404, "not_found");
	signin(&s, app, sec1, 401, "unauthenticated", NULL, NULL);
	signin(&s, app, sec2, 200, NULL, tok2, NULL);
	secret_add(&s, admin, app, 201, sid3, sec3);          /* room again for a second */

	/* ---- the network list, on every request ---- */
	h_source_set("127.0.0.2");
	signin(&s, app, sec2, 403, "network_not_allowed", NULL, NULL);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", rec);
	h_expect(&s, "GET", path, tok, NULL, TREAT, 403, "network_not_allowed");
	h_source_set(NULL);
	h_expect(&s, "GET", path, tok, NULL, TREAT, 200, NULL);
	CHECK(audit_count(&s, aud, "auth.app", app, "denied", "network_not_allowed") == 1);
	CHECK(audit_count(&s, aud, "record.read", app, "denied", "network_not_allowed") == 1);

	/* ---- lifetime: [apps] token_ttl_s = 900 on the server's clock ---- */
	signin(&s, app, sec3, 200, NULL, tok3, NULL);
	h_clock_advance(&s, 890 * 1000LL);
	h_expect(&s, "GET", path, tok3, NULL, TREAT, 200, NULL);
	h_clock_advance(&s, 11 * 1000LL);
	h_expect(&s, "GET", path, tok3, NULL, TREAT, 401, "session_expired");
	h_expect(&s, "GET", path, tok, NULL, TREAT, 401, "session_expired");
	/* the people's sessions went idle meanwhile */
	h_login(&s, "admin", PW_ADMIN, admin, 128);
	h_login(&s, "audra", PW_AUD, aud, 128);

	test_cli(&s, admin);

	/* ---- logout ends an app's token too ---- */
	signin(&s, app, sec2, 200, NULL, tok2, NULL);
	h_req(&s, "GET", "/v1/auth/session", tok2, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "user_id"), app) == 0);
	CHECK(strcmp(h_jstr(r.json, "username"), "billing") == 0);
	h_resp_free(&r);
	h_expect(&s, "POST", "/v1/auth/logout", tok2, NULL, NULL, 204, NULL);
	h_expect(&s, "GET", path, tok2, NULL, TREAT, 401, "unauthenticated");

	/* ---- disable: its sessions end at once ---- */
	signin(&s, app, sec2, 200, NULL, tok2, NULL);
	h_expect(&s, "GET", path, tok2, NULL, TREAT, 200, NULL);
	snprintf(cmd, sizeof(cmd), "/v1/apps/%s/disable", app);
	h_req(&s, "POST", cmd, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "sessions_ended")) >= 1);
	h_resp_free(&r);
	h_expect(&s, "GET", path, tok2, NULL, TREAT, 401, "unauthenticated");
	signin(&s, app, sec2, 401, "unauthenticated", NULL, NULL);
	secret_add(&s, admin, app, 409, sid1, sec1);          /* disabled: no new secret */
	CHECK(audit_count(&s, aud, "auth.app", app, "denied", "disabled") == 1);
	snprintf(cmd, sizeof(cmd), "/v1/apps/%s", app);
	h_req(&s, "GET", cmd, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "disabled") == 0);
	h_resp_free(&r);
	CHECK(h_stop(&s) == 0);

	/* no secret in the trail nor in the log */
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"app.secret_add\"") != NULL);
	for (i = 0; i < nsecrets; i++)
		CHECK(strstr(out, secrets[i]) == NULL && strstr(out, secrets[i] + 4) == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "cat %s", s.log);
	CHECK(h_run(cmd, &out) == 0);
	for (i = 0; i < nsecrets; i++)
		CHECK(strstr(out, secrets[i] + 4) == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	json_decref(s.init);
	h_done("test_apps");
	return 0;
}
