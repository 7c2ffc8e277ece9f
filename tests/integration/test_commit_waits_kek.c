/*
 * test_commit_waits_kek: no request creates the identity KEK (authn.h
 * authn_kek_start), so none waits for its commit, on an epoll pool of two
 * threads ([server] threads = 2):
 *
 *  1. a data directory that init made without it (as every one made before
 *     this change: an upgrade) has KEK identity v1 as soon as serve has
 *     started, before any request that needs it; then the first unknown
 *     login name (its keyed hash), the first MFA enrolment (the TOTP
 *     secret's envelope) and the first app secret (its MAC) leave
 *     GET /v1/test/commit-waits' request_thread_waits where it was;
 *  2. a restart on that directory keeps v1 (an existing KEK is not made
 *     again, no version added);
 *  3. a Shamir-sealed directory starts sealed, without the KEK; the unseal
 *     that opens it makes the KEK before its answer, and the first unknown
 *     name after it waits for nothing either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_KAY "Copper-meadow-Violin-73"

/* The number of versions of KEK identity in GET /v1/keys (0: no such KEK). */
static size_t
identity_versions(struct h_server *s, const char *tok)
{
	struct h_resp r;
	json_t *k;
	size_t i, n = 0;

	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k)
		if (strcmp(h_jstr(k, "name"), "identity") == 0)
			n = json_array_size(json_object_get(k, "versions"));
	h_resp_free(&r);
	return n;
}

static void
unseal(struct h_server *s, const char *share, bool sealed_after)
{
	char body[256];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"share\":\"%s\"}", share);
	h_req(s, "POST", "/v1/sys/unseal", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "sealed")) == sealed_after);
	h_resp_free(&r);
}

int
main(void)
{
	struct h_server s, z;
	struct h_resp r;
	char admin[256], kay[256], app[64], path[128];
	long long w0;
	json_t *shares;

	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* ---- 1. made at start-up: no request creates it ---- */
	h_init(&s, "waits-kek", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_KAY, kay, sizeof(kay));
	/* nothing that needs the KEK has been asked for yet */
	CHECK(identity_versions(&s, kay) == 1);
	h_app_create(&s, admin, "{\"name\":\"lab-feed\",\"roles\":[\"auditor\"],"
	    "\"networks\":[\"127.0.0.0/8\"]}", app, sizeof(app));
	w0 = h_commit_waits(&s);
	/* the first unknown name: its lockout key is the KEK's keyed hash */
	CHECK(h_login_status(&s, "nobody-here-yet", "whatever it is", NULL, 0) == 401);
	/* the first MFA enrolment: the TOTP secret sealed under the KEK */
	h_req(&s, "POST", "/v1/auth/mfa/enroll", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, "secret") != NULL);
	h_resp_free(&r);
	/* an app secret: its MAC under the KEK */
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	h_req(&s, "POST", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(h_jstr(r.json, "secret") != NULL);
	h_resp_free(&r);
	fprintf(stderr, "request_thread_waits %lld -> %lld\n", w0, h_commit_waits(&s));
	CHECK(h_commit_waits(&s) == w0);
	CHECK(identity_versions(&s, kay) == 1);

	/* ---- 2. an existing KEK: the next start adds nothing ---- */
	CHECK(h_stop(&s) == 0);
	h_start(&s, "--dev");
	h_login(&s, "kay", PW_KAY, kay, sizeof(kay));
	CHECK(identity_versions(&s, kay) == 1);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);

	/* ---- 3. sealed at start: the unseal makes it, before its answer ---- */
	h_init(&z, "waits-kek-shamir", "--seal shamir:2/3");
	h_config_set(&z, "threads", "2");
	h_config_set(&z, "mfa_required", "off");
	shares = json_object_get(z.init, "unseal_shares");
	h_start(&z, "--dev");
	unseal(&z, json_string_value(json_array_get(shares, 0)), true);
	unseal(&z, json_string_value(json_array_get(shares, 2)), false);
	h_login_fresh(&z, "admin", h_jstr(z.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&z, admin, "kay", "key_admin", PW_KAY, kay, sizeof(kay));
	CHECK(identity_versions(&z, kay) == 1);
	w0 = h_commit_waits(&z);
	CHECK(h_login_status(&z, "nobody-here-yet", "whatever it is", NULL, 0) == 401);
	CHECK(h_commit_waits(&z) == w0);
	CHECK(h_stop(&z) == 0);
	json_decref(z.init);
	curl_global_cleanup();
	h_done("test_commit_waits_kek");
	return 0;
}
