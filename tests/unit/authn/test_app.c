/*
 * app.c and cidr.c: the network matcher of an app's allow-list, the keyed
 * hash of app secrets, and the app sign-in through POST /v1/auth/app with
 * no sockets (authn_fixture.h): lockout per app ID, the network list at
 * sign-in, a disabled app, and the token lifetime on the injectable clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authn_fixture.h"
#include "tx_helpers.h"

static void test_cidr(void **state)
{
	struct authn_cidr c;

	(void)state;
	assert_int_equal(authn_cidr_parse("10.0.0.0/8", &c), PV_OK);
	assert_true(authn_cidr_match(&c, "10.255.1.2"));
	assert_true(authn_cidr_match(&c, "::ffff:10.1.2.3"));   /* dual-stack socket */
	assert_false(authn_cidr_match(&c, "11.0.0.1"));
	assert_false(authn_cidr_match(&c, "::1"));
	assert_false(authn_cidr_match(&c, "not an address"));
	assert_false(authn_cidr_match(&c, NULL));
	assert_int_equal(authn_cidr_parse("127.0.0.1/32", &c), PV_OK);
	assert_true(authn_cidr_match(&c, "127.0.0.1"));
	assert_false(authn_cidr_match(&c, "127.0.0.2"));
	assert_int_equal(authn_cidr_parse("192.168.4.0/22", &c), PV_OK);
	assert_true(authn_cidr_match(&c, "192.168.7.255"));
	assert_false(authn_cidr_match(&c, "192.168.8.0"));
	assert_int_equal(authn_cidr_parse("2001:db8::/32", &c), PV_OK);
	assert_true(authn_cidr_match(&c, "2001:db8:ffff::1"));
	assert_false(authn_cidr_match(&c, "2001:db9::1"));
	assert_false(authn_cidr_match(&c, "10.0.0.1"));
	assert_int_equal(authn_cidr_parse("0.0.0.0/0", &c), PV_OK);
	assert_true(authn_cidr_match(&c, "203.0.113.9"));
	assert_int_equal(authn_cidr_parse("198.51.100.7", &c), PV_OK);   /* a host: /32 */
	assert_int_equal(c.prefix, 32);
	/* refused: host bits, prefix out of range, junk, mapped form */
	assert_int_equal(authn_cidr_parse("10.0.0.1/8", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("10.0.0.0/33", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("10.0.0.0/", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("10.0.0.0/8x", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("10.0.0.0/-1", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("::/129", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("::ffff:10.0.0.0/104", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("example.org/24", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse("", &c), PV_E_INVALID);
	assert_int_equal(authn_cidr_parse(NULL, &c), PV_E_INVALID);
}

static void test_secret_hash(void **state)
{
	struct af *f = *state;
	char s1[AUTHN_TOKEN_MAX], s2[AUTHN_TOKEN_MAX];
	char h1[AUTHN_HASH_HEX_MAX], h2[AUTHN_HASH_HEX_MAX], again[AUTHN_HASH_HEX_MAX];
	char plain[AUTHN_HASH_HEX_MAX];
	uint8_t sha[CRYPTO_SHA256_LEN];
	uint32_t v1 = 0, v2 = 0;

	af_start(f);
	assert_int_equal(authn_app_secret_new(f->svc, s1, h1, &v1), PV_OK);
	assert_int_equal(authn_app_secret_new(f->svc, s2, h2, &v2), PV_OK);
	/* "pvs_" + 43 base64url characters: 256 random bits */
	assert_int_equal(strncmp(s1, "pvs_", 4), 0);
	assert_int_equal(strlen(s1), AUTHN_TOKEN_LEN);
	assert_string_not_equal(s1, s2);
	assert_int_equal(strlen(h1), 64);
	assert_string_not_equal(h1, h2);
	/* made under the active version of KEK identity, which is v1 here */
	assert_int_equal(v1, 1);
	assert_int_equal(v2, 1);
	/* the stored form is a keyed hash: the same secret gives the same
	 * hash, and it is not the plain SHA-256 anyone could compute */
	assert_int_equal(authn_app_secret_hash(f->svc, s1, v1, again, NULL), PV_OK);
	assert_string_equal(again, h1);
	assert_int_equal(crypto_sha256(s1, strlen(s1), sha), PV_OK);
	util_hex_encode(sha, sizeof(sha), plain);
	assert_string_not_equal(plain, h1);
	assert_null(strstr(h1, s1 + 4));
	/* malformed: not a secret at all */
	assert_int_equal(authn_app_secret_hash(f->svc, "pvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    0, again, NULL), PV_E_UNAUTH);
	assert_int_equal(authn_app_secret_hash(f->svc, "pvs_short", 0, again, NULL), PV_E_UNAUTH);
	assert_int_equal(authn_app_secret_hash(f->svc, NULL, 0, again, NULL), PV_E_UNAUTH);
}

/* ---- an app written straight into the store ---- */

struct app_job {
	struct store_app *a;
	struct store_app_secret *sec;
};

static enum pv_rc app_fn(struct store_tx *tx, void *arg)
{
	struct app_job *j = arg;
	enum pv_rc rc = store_app_put(tx, j->a);

	return rc == PV_OK ? store_app_secret_put(tx, j->sec) : rc;
}

static void make_app(struct af *f, const char *networks, bool disabled, char id[UTIL_ID_MAX],
    char secret[AUTHN_TOKEN_MAX])
{
	struct store_app a;
	struct store_app_secret sec;
	struct app_job j = { &a, &sec };

	memset(&a, 0, sizeof(a));
	memset(&sec, 0, sizeof(sec));
	assert_int_equal(util_id_new("app", a.id), PV_OK);
	snprintf(a.name, sizeof(a.name), "a%.40s", a.id + 4);
	a.roles = (char *)"[]";
	a.networks = (char *)networks;
	a.created_ms = util_now_ms();
	a.credential_epoch = 1;
	a.disabled = disabled;
	assert_int_equal(util_id_new("aps", sec.secret_id), PV_OK);
	snprintf(sec.app_id, sizeof(sec.app_id), "%s", a.id);
	assert_int_equal(authn_app_secret_new(f->svc, secret, sec.hash, &sec.mac_version), PV_OK);
	sec.created_ms = a.created_ms;
	assert_int_equal(audit_commit(f->audit, NULL, app_fn, &j), PV_OK);
	snprintf(id, UTIL_ID_MAX, "%s", a.id);
}

static void signin(struct af *f, const char *source, const char *id, const char *secret,
    struct af_resp *r)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", id, secret);
	af_req_from(f, source, "POST", "/v1/auth/app", NULL, body, r);
}

static void test_signin_and_lifetime(void **state)
{
	struct af *f = *state;
	char id[UTIL_ID_MAX], secret[AUTHN_TOKEN_MAX], tok[AUTHN_TOKEN_MAX];
	struct af_resp r;

	f->cfg.app_token_ttl_s = 600;
	af_start(f);
	make_app(f, "[\"192.0.2.0/24\"]", false, id, secret);
	util_clock_set_fixed(1800000000000LL);
	signin(f, "192.0.2.7", id, secret, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(strncmp(af_str(&r, "token"), "pva_", 4), 0);
	assert_string_equal(af_str(&r, "expires_at"), "2027-01-15T08:10:00.000Z");   /* +600 s */
	snprintf(tok, sizeof(tok), "%s", af_str(&r, "token"));
	af_resp_free(&r);
	af_req(f, "GET", "/v1/test/full", tok, NULL, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
	/* no idle limit, a hard end at token_ttl_s */
	assert_int_equal(util_clock_advance(599 * 1000), PV_OK);
	af_req(f, "GET", "/v1/test/full", tok, NULL, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
	assert_int_equal(util_clock_advance(1000), PV_OK);
	af_req(f, "GET", "/v1/test/full", tok, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.code, "session_expired");
	af_resp_free(&r);
	util_clock_reset();
	/* a user's session token is not an app token and vice versa */
	af_req(f, "GET", "/v1/test/full", "pva_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, &r);
	assert_int_equal(r.status, 401);
	af_resp_free(&r);
}

static void test_signin_refusals(void **state)
{
	struct af *f = *state;
	char id[UTIL_ID_MAX], secret[AUTHN_TOKEN_MAX], other[AUTHN_TOKEN_MAX];
	char hash[AUTHN_HASH_HEX_MAX], did[UTIL_ID_MAX], dsecret[AUTHN_TOKEN_MAX];
	uint32_t ov = 0;
	struct store_lockout l;
	struct af_resp r;
	int i;

	f->cfg.lockout_threshold = 3;
	af_start(f);
	make_app(f, "[\"10.0.0.0/8\"]", false, id, secret);
	make_app(f, "[\"0.0.0.0/0\"]", true, did, dsecret);
	/* outside its networks: 403 even with the right secret */
	signin(f, "192.0.2.7", id, secret, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "network_not_allowed");
	af_resp_free(&r);
	signin(f, "10.9.8.7", id, secret, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
	/* disabled: 401 */
	signin(f, "10.9.8.7", did, dsecret, &r);
	assert_int_equal(r.status, 401);
	af_resp_free(&r);
	/* wrong secrets lock the app ID: then even the right one is 423 */
	assert_int_equal(authn_app_secret_new(f->svc, other, hash, &ov), PV_OK);
	for (i = 0; i < 3; i++) {
		signin(f, "10.9.8.7", id, other, &r);
		assert_int_equal(r.status, 401);
		assert_string_equal(r.code, "unauthenticated");
		af_resp_free(&r);
	}
	signin(f, "10.9.8.7", id, secret, &r);
	assert_int_equal(r.status, 423);
	af_resp_free(&r);
	{
		char key[80];

		snprintf(key, sizeof(key), "~app:%s", id);
		assert_int_equal(TX_RD(f->st, store_lockout_get(tx, key, "password", &l)), PV_OK);
		assert_true(l.locked_until_ms > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test_setup_teardown(test_secret_hash, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_signin_and_lifetime, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_signin_refusals, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
