/*
 * App client secrets under versioned MAC keys (issue 11, s6), on the real
 * binary over HTTPS, as a key administrator would rotate KEK identity:
 *  - a secret made before a rotation of KEK identity still signs in after
 *    it (its row names the MAC key version it was made with, shown as the
 *    secret's key_version);
 *  - the census of identity v1 counts the app's live secret: v1 cannot be
 *    retired while the app still has it (409 retired_key_in_use);
 *  - the app's secret rotated (a new one added: under v2, then the old one
 *    removed): the census moves from v1 to v2, v1 retires and is revoked,
 *    and the new secret still signs in; the old one does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

/* the census of identity vN in GET /v1/keys (-1: no such version) */
static long long
census(struct h_server *s, const char *tok, int v, char state[32])
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;
	long long n = -1;

	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), "identity") != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver) {
			if (json_integer_value(json_object_get(ver, "version")) != v)
				continue;
			n = json_integer_value(json_object_get(ver, "objects"));
			if (state != NULL)
				snprintf(state, 32, "%s", h_jstr(ver, "state"));
		}
	}
	h_resp_free(&r);
	return n;
}

static void
secret_add(struct h_server *s, const char *admin, const char *app, char sid[64],
    char secret[128])
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	h_req(s, "POST", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(sid, 64, "%s", h_jstr(r.json, "secret_id"));
	snprintf(secret, 128, "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
}

/* the key_version GET /v1/apps/{id} shows for the secret sid (0: not listed) */
static long long
secret_version(struct h_server *s, const char *admin, const char *app, const char *sid)
{
	char path[128];
	struct h_resp r;
	json_t *e;
	size_t i;
	long long v = 0;

	snprintf(path, sizeof(path), "/v1/apps/%s", app);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "secrets"), i, e)
		if (strcmp(h_jstr(e, "secret_id"), sid) == 0)
			v = json_integer_value(json_object_get(e, "key_version"));
	h_resp_free(&r);
	return v;
}

/* POST /v1/auth/app: its HTTP status */
static long
signin(struct h_server *s, const char *app, const char *secret)
{
	char body[512];
	struct h_resp r;
	long st;

	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", app, secret);
	h_req(s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
	st = r.status;
	if (st == 200)
		CHECK(strncmp(h_jstr(r.json, "token"), "pva_", 4) == 0);
	h_resp_free(&r);
	return st;
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[128], kay[128], app[64], path[256], state[32];
	char sid1[64], sec1[128], sid2[64], sec2[128];
	long long v1_before;

	h_init(&s, "app_secret_versions", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_req(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"lab-feed\",\"roles\":[],\"networks\":[\"127.0.0.1/32\"]}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(app, sizeof(app), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);

	/* a secret under identity v1, counted by its census */
	v1_before = census(&s, kay, 1, NULL);
	if (v1_before < 0)
		v1_before = 0;   /* KEK identity is made on first use: by this secret */
	secret_add(&s, admin, app, sid1, sec1);
	CHECK(secret_version(&s, admin, app, sid1) == 1);
	CHECK(census(&s, kay, 1, NULL) == v1_before + 1);
	CHECK(signin(&s, app, sec1) == 200);

	/* rotate: the v1 secret still signs in; v1 holds it, so it cannot retire */
	h_expect(&s, "POST", "/v1/keys/identity/rotate", kay, NULL, NULL, 200, NULL);
	CHECK(signin(&s, app, sec1) == 200);
	CHECK(census(&s, kay, 2, NULL) == 0);
	CHECK(census(&s, kay, 1, NULL) == v1_before + 1);
	h_expect(&s, "POST", "/v1/keys/identity/versions/1/retire", kay, NULL, NULL, 409,
	    "retired_key_in_use");

	/* the app's secret rotated: the new one is under v2, the old one removed */
	secret_add(&s, admin, app, sid2, sec2);
	CHECK(secret_version(&s, admin, app, sid2) == 2);
	CHECK(census(&s, kay, 2, NULL) == 1);
	CHECK(signin(&s, app, sec2) == 200);
	CHECK(signin(&s, app, sec1) == 200);   /* both live during the hand-over */
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets/%s", app, sid1);
	h_expect(&s, "DELETE", path, admin, NULL, NULL, 204, NULL);
	CHECK(census(&s, kay, 1, NULL) == v1_before);
	CHECK(signin(&s, app, sec1) == 401);

	/* nothing else on v1 (no recovery codes in this vault): retire, revoke,
	 * and the app still signs in with its v2 secret */
	CHECK(census(&s, kay, 1, NULL) == 0);
	h_expect(&s, "POST", "/v1/keys/identity/versions/1/retire", kay, NULL, NULL, 200, NULL);
	h_expect(&s, "POST", "/v1/keys/identity/versions/1/revoke", kay,
	    "{\"confirm\":\"identity:1\"}", NULL, 200, NULL);
	census(&s, kay, 1, state);
	CHECK(strcmp(state, "revoked") == 0);
	CHECK(signin(&s, app, sec2) == 200);
	CHECK(signin(&s, app, sec1) == 401);
	/* and survives a restart (nothing cached decides it) */
	CHECK(h_stop(&s) == 0);
	h_start(&s, "--dev");
	CHECK(signin(&s, app, sec2) == 200);

	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("test_app_secret_versions");
	return 0;
}
