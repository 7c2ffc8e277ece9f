/*
 * test_oidc_jwt: the pure OIDC checks of oidc_jwt.c with no network: ES256
 * and RS256 tokens signed here with fresh OpenSSL keys whose public halves
 * become JWKs; the signature (a flipped bit, another key, alg none, HS256),
 * the claims of an ID token (iss, aud and azp, exp / iat / nbf at the skew
 * boundary, nonce) and of a logout token (events, no nonce, jti, sub or
 * sid, age), the JWKS lookup by kid and the amr values that count as MFA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "authn/authn_int.h"

#define NOW 1700000000LL

static char *
b64(const void *p, size_t n)
{
	char *o = malloc(n * 2 + 8);

	assert_int_equal(authn_wa_b64url_encode(p, n, o, n * 2 + 8), PV_OK);
	return o;
}

static EVP_PKEY *
gen(const char *type)
{
	EVP_PKEY *k = strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	assert_non_null(k);
	return k;
}

/* The public JWK of k. */
static json_t *
jwk_of(EVP_PKEY *k, const char *kid)
{
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
		uint8_t pub[65];
		size_t n = 0;
		char *x, *y;
		json_t *j;

		assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub,
		    sizeof(pub), &n), 1);
		assert_int_equal(n, 65);
		x = b64(pub + 1, 32);
		y = b64(pub + 33, 32);
		j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x, "y", y,
		    "kid", kid);
		free(x);
		free(y);
		return j;
	} else {
		BIGNUM *bn = NULL, *be = NULL;
		uint8_t nb[512], eb[8];
		int nl, el;
		char *ns, *es;
		json_t *j;

		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &be), 1);
		nl = BN_bn2bin(bn, nb);
		el = BN_bn2bin(be, eb);
		ns = b64(nb, (size_t)nl);
		es = b64(eb, (size_t)el);
		j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "n", ns, "e", es, "kid", kid);
		free(ns);
		free(es);
		BN_free(bn);
		BN_free(be);
		return j;
	}
}

/* A compact JWS of claims (JSON text) under header (JSON text) with k. */
static char *
sign(EVP_PKEY *k, const char *header, const char *claims)
{
	char *h = b64(header, strlen(header)), *c = b64(claims, strlen(claims)), *in, *s, *out;
	uint8_t sig[600], raw[64];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_true(asprintf(&in, "%s.%s", h, c) > 0);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &sl, (uint8_t *)in, strlen(in)), 1);
	EVP_MD_CTX_free(ctx);
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
		/* DER -> R || S (RFC 7518 §3.4) */
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);

		assert_non_null(es);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
		ECDSA_SIG_free(es);
		s = b64(raw, 64);
	} else {
		s = b64(sig, sl);
	}
	assert_true(asprintf(&out, "%s.%s", in, s) > 0);
	free(h);
	free(c);
	free(in);
	free(s);
	return out;
}

static const char ID_CLAIMS[] = "{\"iss\":\"https://idp.test\",\"aud\":\"phv\",\"sub\":\"s1\","
	"\"iat\":1700000000,\"exp\":1700000300,\"nonce\":\"n1\",\"amr\":[\"pwd\",\"otp\"]}";

static struct authn_jwt_expect
expect_id(void)
{
	struct authn_jwt_expect e = { "https://idp.test", "phv", NOW, 60, "n1", false, 300 };

	return e;
}

/* Parse and verify tok against jwks; the rc of the first failing step. */
static enum pv_rc
check(const char *tok, json_t *jwks, const struct authn_jwt_expect *e, const char **reason)
{
	struct authn_jwt j;
	EVP_PKEY *k = NULL;
	enum pv_rc rc;

	if ((rc = authn_jwt_parse(tok, &j, reason)) != PV_OK)
		return rc;
	if (authn_jwks_find(jwks, j.kid, j.alg, &k) != PV_OK) {
		*reason = "oidc_unknown_key";
		authn_jwt_clear(&j);
		return PV_E_OIDC;
	}
	rc = authn_jwt_verify(&j, tok, k);
	EVP_PKEY_free(k);
	if (rc != PV_OK) {
		*reason = "oidc_bad_signature";
		authn_jwt_clear(&j);
		return rc;
	}
	rc = authn_jwt_claims_check(&j, e, reason);
	authn_jwt_clear(&j);
	return rc;
}

static void
test_signatures(void **state)
{
	EVP_PKEY *ec = gen("EC"), *rsa = gen("RSA"), *other = gen("EC");
	json_t *jwks = json_pack("{s:[o,o]}", "keys", jwk_of(ec, "e1"), jwk_of(rsa, "r1"));
	struct authn_jwt_expect e = expect_id();
	const char *reason = NULL;
	char *t;

	(void)state;
	t = sign(ec, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", ID_CLAIMS);
	assert_int_equal(check(t, jwks, &e, &reason), PV_OK);
	/* one bit of the signature */
	t[strlen(t) - 5] = t[strlen(t) - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(check(t, jwks, &e, &reason), PV_E_OIDC);
	assert_string_equal(reason, "oidc_bad_signature");
	free(t);
	t = sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", ID_CLAIMS);
	assert_int_equal(check(t, jwks, &e, &reason), PV_OK);
	free(t);
	/* signed by a key that is not the kid's */
	t = sign(other, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", ID_CLAIMS);
	assert_int_equal(check(t, jwks, &e, &reason), PV_E_OIDC);
	assert_string_equal(reason, "oidc_bad_signature");
	free(t);
	/* an unknown kid; an ES256 header on the RSA kid (key type mismatch) */
	t = sign(ec, "{\"alg\":\"ES256\",\"kid\":\"nope\"}", ID_CLAIMS);
	assert_int_equal(check(t, jwks, &e, &reason), PV_E_OIDC);
	assert_string_equal(reason, "oidc_unknown_key");
	free(t);
	t = sign(ec, "{\"alg\":\"ES256\",\"kid\":\"r1\"}", ID_CLAIMS);
	assert_int_equal(check(t, jwks, &e, &reason), PV_E_OIDC);
	assert_string_equal(reason, "oidc_unknown_key");
	free(t);
	/* alg none, HS256 (the RSA modulus as an HMAC key: the classic confusion) */
	{
		char *h = b64("{\"alg\":\"none\"}", 13), *c = b64(ID_CLAIMS, strlen(ID_CLAIMS));
		struct authn_jwt j;

		assert_true(asprintf(&t, "%s.%s.", h, c) > 0);
		assert_int_equal(authn_jwt_parse(t, &j, &reason), PV_E_OIDC);
		free(t);
		free(h);
		h = b64("{\"alg\":\"HS256\",\"kid\":\"r1\"}", 26);
		assert_true(asprintf(&t, "%s.%s.c2ln", h, c) > 0);
		assert_int_equal(authn_jwt_parse(t, &j, &reason), PV_E_OIDC);
		assert_string_equal(reason, "oidc_bad_alg");
		free(t);
		free(h);
		free(c);
	}
	/* malformed: four segments, a JWE, junk */
	{
		struct authn_jwt j;

		assert_int_equal(authn_jwt_parse("a.b.c.d", &j, &reason), PV_E_OIDC);
		assert_int_equal(authn_jwt_parse("a.b.c.d.e", &j, &reason), PV_E_OIDC);
		assert_int_equal(authn_jwt_parse("..", &j, &reason), PV_E_OIDC);
		assert_int_equal(authn_jwt_parse("a b.c.d", &j, &reason), PV_E_OIDC);
		assert_string_equal(reason, "oidc_malformed");
	}
	json_decref(jwks);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(other);
}

/* The claim checks alone, on a parsed token (the signature is the above). */
static enum pv_rc
claims(const char *json, const struct authn_jwt_expect *e, const char **reason)
{
	static EVP_PKEY *k;
	struct authn_jwt j;
	char *t;
	enum pv_rc rc;

	if (k == NULL)
		k = gen("EC");
	t = sign(k, "{\"alg\":\"ES256\"}", json);
	assert_int_equal(authn_jwt_parse(t, &j, reason), PV_OK);
	rc = authn_jwt_claims_check(&j, e, reason);
	authn_jwt_clear(&j);
	free(t);
	return rc;
}

static void
test_id_claims(void **state)
{
	struct authn_jwt_expect e = expect_id();
	const char *r = NULL;

	(void)state;
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_OK);
	e.issuer = "https://other.test";
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_unknown_issuer");
	e = expect_id();
	e.client_id = "another";
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_wrong_audience");
	e = expect_id();
	/* several audiences need azp = us */
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":[\"phv\",\"x\"],\"sub\":\"s\","
	    "\"iat\":1700000000,\"exp\":1700000300,\"nonce\":\"n1\"}", &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_wrong_audience");
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":[\"phv\",\"x\"],\"azp\":\"phv\","
	    "\"sub\":\"s\",\"iat\":1700000000,\"exp\":1700000300,\"nonce\":\"n1\"}", &e, &r), PV_OK);
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":\"phv\",\"azp\":\"x\","
	    "\"sub\":\"s\",\"iat\":1700000000,\"exp\":1700000300,\"nonce\":\"n1\"}", &e, &r),
	    PV_E_OIDC);
	/* exp: accepted until exp + skew, refused from then on */
	e.now_s = 1700000300 + 59;
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_OK);
	e.now_s = 1700000300 + 60;
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_expired");
	/* iat / nbf in the future beyond the skew */
	e = expect_id();
	e.now_s = 1700000000 - 61;
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_not_yet_valid");
	e = expect_id();
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":\"phv\",\"sub\":\"s\","
	    "\"iat\":1700000000,\"nbf\":1700000100,\"exp\":1700000300,\"nonce\":\"n1\"}", &e, &r),
	    PV_E_OIDC);
	assert_string_equal(r, "oidc_not_yet_valid");
	/* nonce */
	e.nonce = "n2";
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_nonce_mismatch");
	/* no exp, no sub */
	e = expect_id();
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":\"phv\",\"sub\":\"s\","
	    "\"iat\":1700000000,\"nonce\":\"n1\"}", &e, &r), PV_E_OIDC);
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":\"phv\","
	    "\"iat\":1700000000,\"exp\":1700000300,\"nonce\":\"n1\"}", &e, &r), PV_E_OIDC);
}

static void
test_logout_claims(void **state)
{
	struct authn_jwt_expect e = { "https://idp.test", "phv", NOW, 60, NULL, true, 300 };
	const char *r = NULL;
	static const char ok[] = "{\"iss\":\"https://idp.test\",\"aud\":\"phv\",\"sub\":\"s\","
	    "\"iat\":1700000000,\"jti\":\"j1\",\"events\":"
	    "{\"http://schemas.openid.net/event/backchannel-logout\":{}}}";

	(void)state;
	assert_int_equal(claims(ok, &e, &r), PV_OK);
	/* an ID token is not a logout token */
	assert_int_equal(claims(ID_CLAIMS, &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_not_logout_token");
	/* with a nonce */
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":\"phv\",\"sub\":\"s\","
	    "\"iat\":1700000000,\"jti\":\"j1\",\"nonce\":\"n\",\"events\":"
	    "{\"http://schemas.openid.net/event/backchannel-logout\":{}}}", &e, &r), PV_E_OIDC);
	/* neither sub nor sid; no jti */
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":\"phv\","
	    "\"iat\":1700000000,\"jti\":\"j1\",\"events\":"
	    "{\"http://schemas.openid.net/event/backchannel-logout\":{}}}", &e, &r), PV_E_OIDC);
	assert_int_equal(claims("{\"iss\":\"https://idp.test\",\"aud\":\"phv\",\"sid\":\"x\","
	    "\"iat\":1700000000,\"events\":"
	    "{\"http://schemas.openid.net/event/backchannel-logout\":{}}}", &e, &r), PV_E_OIDC);
	/* too old */
	e.now_s = NOW + 300 + 60;
	assert_int_equal(claims(ok, &e, &r), PV_E_OIDC);
	assert_string_equal(r, "oidc_expired");
}

static void
test_amr(void **state)
{
	json_t *c;

	(void)state;
	c = json_pack("{s:[s,s]}", "amr", "pwd", "hwk");
	assert_true(authn_oidc_amr_mfa(c));
	json_decref(c);
	c = json_pack("{s:[s,s]}", "amr", "pwd", "kba");
	assert_false(authn_oidc_amr_mfa(c));
	json_decref(c);
	c = json_pack("{s:s}", "amr", "mfa");      /* not an array: not counted */
	assert_false(authn_oidc_amr_mfa(c));
	json_decref(c);
	assert_false(authn_oidc_amr_mfa(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_id_claims),
		cmocka_unit_test(test_logout_claims),
		cmocka_unit_test(test_amr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
