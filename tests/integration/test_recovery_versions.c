/*
 * Recovery-code MACs under versioned keys (issue 11 item 3), on the real
 * binary over HTTPS:
 *  - codes made before a rotation of KEK identity still verify after it
 *    (each row names the MAC key version it was made with);
 *  - codes made after it (an administrator's reset, then re-enrolment)
 *    carry the new version: the census of identity v1 falls by the ten old
 *    codes and v2 counts ten;
 *  - with no code left on v1 it retires and is revoked, and the new codes
 *    and failed logins of unknown names still work (no 500).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define PW_NEW "Saffron-glacier-Otter-58"

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

/* Enrol MFA on a full session; copies two of the ten recovery codes. */
static void
enrol_mfa(struct h_server *s, const char *tok, char rc0[32], char rc1[32])
{
	struct h_resp r;
	char secret[64], code[16], body[64];
	json_t *a;

	h_req(s, "POST", "/v1/auth/mfa/enroll", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	h_totp_at(secret, (long long)time(NULL), code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(s, "POST", "/v1/auth/mfa/confirm", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	a = json_object_get(r.json, "recovery_codes");
	CHECK(json_array_size(a) == 10);
	snprintf(rc0, 32, "%s", json_string_value(json_array_get(a, 0)));
	snprintf(rc1, 32, "%s", json_string_value(json_array_get(a, 1)));
	h_resp_free(&r);
}

/* password, then the recovery code: the HTTP status of the MFA step */
static int
login_recovery(struct h_server *s, const char *pw, const char *code)
{
	struct h_resp r;
	char body[512], mt[128];
	int status;

	snprintf(body, sizeof(body), "{\"username\":\"rita\",\"password\":\"%s\"}", pw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	snprintf(mt, sizeof(mt), "%s", h_jstr(r.json, "mfa_token"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mt, code);
	h_req(s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
	status = r.status;
	if (status == 200)
		CHECK(h_jstr(r.json, "token") != NULL);
	h_resp_free(&r);
	return status;
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[128], kay[128], rita[128], rita2[128], rita_id[64], otp[64], newotp[64];
	char old0[32], old1[32], new0[32], new1[32], body[256], path[128], state[32];
	long long v1_before;

	h_init(&s, "recovery_versions", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_user_create(&s, admin, "rita", "clinician", NULL, rita_id, sizeof(rita_id), otp,
	    sizeof(otp));
	h_login_fresh(&s, "rita", otp, PW_USER, rita, sizeof(rita));

	/* ten codes under identity v1, counted by its census */
	enrol_mfa(&s, rita, old0, old1);
	v1_before = census(&s, kay, 1, NULL);
	CHECK(v1_before >= 10);

	/* rotate: the old codes still verify (their stored version), one use
	 * each, and the census follows the unused ones */
	h_expect(&s, "POST", "/v1/keys/identity/rotate", kay, NULL, NULL, 200, NULL);
	CHECK(census(&s, kay, 2, NULL) == 0);
	CHECK(login_recovery(&s, PW_USER, old0) == 200);
	CHECK(login_recovery(&s, PW_USER, old0) == 401);      /* single use */
	CHECK(census(&s, kay, 1, NULL) == v1_before - 1);

	/* regenerate: an administrator's reset clears the codes, the user
	 * enrols again and the new ten are under v2 */
	snprintf(path, sizeof(path), "/v1/users/%s/reset", rita_id);
	h_req(&s, "POST", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(newotp, sizeof(newotp), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	h_login_fresh(&s, "rita", newotp, PW_NEW, rita2, sizeof(rita2));
	enrol_mfa(&s, rita2, new0, new1);
	CHECK(census(&s, kay, 1, NULL) == v1_before - 10);
	CHECK(census(&s, kay, 2, NULL) == 10);
	CHECK(login_recovery(&s, PW_NEW, old1) == 401);       /* the old set is gone */
	CHECK(login_recovery(&s, PW_NEW, new0) == 200);
	CHECK(census(&s, kay, 2, NULL) == 9);

	/* nothing left on v1: it retires, then is revoked; the v2 codes and a
	 * failed login of an unknown name (its throttle key) still work */
	CHECK(census(&s, kay, 1, NULL) == 0);
	h_expect(&s, "POST", "/v1/keys/identity/versions/1/retire", kay, NULL, NULL, 200, NULL);
	h_expect(&s, "POST", "/v1/keys/identity/versions/1/revoke", kay,
	    "{\"confirm\":\"identity:1\"}", NULL, 200, NULL);
	census(&s, kay, 1, state);
	CHECK(strcmp(state, "revoked") == 0);
	CHECK(login_recovery(&s, PW_NEW, new1) == 200);
	snprintf(body, sizeof(body), "{\"username\":\"nobody-here\",\"password\":\"%s\"}", PW_USER);
	h_expect(&s, "POST", "/v1/auth/login", NULL, body, NULL, 401, "unauthenticated");

	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("test_recovery_versions");
	return 0;
}
