/*
 * oidc_jwt.c: the pure part of OIDC sign-in: compact JWS (RFC 7515) parsing,
 * JWK (RFC 7517/7518) public keys, signature verification and the claim
 * checks of an ID token (OpenID Connect Core 1.0 §3.1.3.7) and of a logout
 * token (OpenID Connect Back-Channel Logout 1.0 §2.6). No store, no network,
 * no clock of its own (the caller passes now): unit tests and the fuzz
 * harness (tests/fuzz/fuzz_authn_jwt.c) drive it directly.
 *
 * Invariants:
 *  - Only RS256 (RSASSA-PKCS1-v1_5 with SHA-256, keys >= 2048 bits) and ES256
 *    (ECDSA P-256 with SHA-256, the JWS r||s form converted to DER for
 *    OpenSSL) verify. "none", HS* and every other alg are refused before any
 *    key is looked up (RFC 8725 §3.1: the alg is checked against what we
 *    accept, never taken from the token as an instruction).
 *  - The key must match the alg (kty RSA / EC P-256), and a key whose "use"
 *    is not "sig" or whose "alg" differs is skipped.
 *  - Every refusal names a stable reason (the audit entry's): oidc_malformed,
 *    oidc_bad_alg, oidc_unknown_key, oidc_bad_signature,
 *    oidc_unknown_issuer, oidc_wrong_audience, oidc_expired,
 *    oidc_not_yet_valid, oidc_nonce_mismatch, oidc_not_logout_token.
 *  - Bounded: a token longer than AUTHN_JWT_MAX, a header or claims set that
 *    is not a JSON object, or JSON nested deeper than jansson's limit is
 *    malformed; nothing is read outside the string.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "authn/authn_int.h"

#define R_MALFORMED "oidc_malformed"
#define LOGOUT_EVENT "http://schemas.openid.net/event/backchannel-logout"

void
authn_jwt_clear(struct authn_jwt *j)
{
	if (j == NULL)
		return;
	json_decref(j->header);
	json_decref(j->claims);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}

static json_t *
segment_json(const char *seg, size_t len)
{
	char *txt = strndup(seg, len);
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	json_t *v = NULL;

	if (txt != NULL && authn_wa_b64url_decode(txt, AUTHN_JWT_MAX, &raw, &rawlen) == PV_OK) {
		v = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
		if (v != NULL && !json_is_object(v)) {
			json_decref(v);
			v = NULL;
		}
	}
	free(raw);
	free(txt);
	return v;
}

enum pv_rc
authn_jwt_parse(const char *compact, struct authn_jwt *out, const char **reason)
{
	const char *d1, *d2, *alg, *kid;
	struct authn_jwt j;
	size_t n;

	memset(&j, 0, sizeof(j));
	*reason = R_MALFORMED;
	if (compact == NULL || (n = strlen(compact)) == 0 || n > AUTHN_JWT_MAX)
		return PV_E_OIDC;
	for (size_t i = 0; i < n; i++)
		if (!(compact[i] >= 'A' && compact[i] <= 'Z') && !(compact[i] >= 'a' &&
		    compact[i] <= 'z') && !(compact[i] >= '0' && compact[i] <= '9') &&
		    compact[i] != '-' && compact[i] != '_' && compact[i] != '.')
			return PV_E_OIDC;
	/* exactly three segments: a JWE (five) or a JWS JSON form is not an ID token */
	if ((d1 = strchr(compact, '.')) == NULL || (d2 = strchr(d1 + 1, '.')) == NULL ||
	    strchr(d2 + 1, '.') != NULL || d1 == compact || d2 == d1 + 1)
		return PV_E_OIDC;
	if ((j.header = segment_json(compact, (size_t)(d1 - compact))) == NULL ||
	    (j.claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		goto bad;
	alg = json_string_value(json_object_get(j.header, "alg"));
	if (alg == NULL || strlen(alg) >= sizeof(j.alg))
		goto bad;
	util_strlcpy(j.alg, alg, sizeof(j.alg));
	kid = json_string_value(json_object_get(j.header, "kid"));
	if (json_object_get(j.header, "kid") != NULL && (kid == NULL || strlen(kid) >= sizeof(j.kid)))
		goto bad;
	if (kid != NULL)
		util_strlcpy(j.kid, kid, sizeof(j.kid));
	/* RFC 7515 §4.1.11: a critical extension we do not understand is fatal */
	if (json_object_get(j.header, "crit") != NULL)
		goto bad;
	if (strcmp(j.alg, "RS256") != 0 && strcmp(j.alg, "ES256") != 0) {
		*reason = "oidc_bad_alg";
		goto bad;
	}
	if (d2[1] == '\0' || authn_wa_b64url_decode(d2 + 1, 1024, &j.sig, &j.siglen) != PV_OK)
		goto bad;
	j.signing_len = (size_t)(d2 - compact);
	*out = j;
	*reason = NULL;
	return PV_OK;
bad:
	authn_jwt_clear(&j);
	return PV_E_OIDC;
}

/* A JWK member as big-endian bytes (base64url), malloc'd. */
static enum pv_rc
jwk_bytes(const json_t *jwk, const char *name, size_t max, uint8_t **out, size_t *len)
{
	const char *v = json_string_value(json_object_get(jwk, name));

	return v != NULL ? authn_wa_b64url_decode(v, max, out, len) : PV_E_INVALID;
}

static enum pv_rc
rsa_key(const json_t *jwk, EVP_PKEY **out)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	enum pv_rc rc = PV_E_INVALID;

	if (jwk_bytes(jwk, "n", 1024, &n, &nlen) != PV_OK ||
	    jwk_bytes(jwk, "e", 8, &e, &elen) != PV_OK)
		goto out;
	/* RFC 7518 §3.3: a key of 2048 bits or larger */
	while (nlen > 0 && n[0] == 0) {
		memmove(n, n + 1, nlen - 1);
		nlen--;
	}
	if (nlen < 256)
		goto out;
	if ((bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)elen, NULL)) == NULL || (b = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	*out = k;
	k = NULL;
	rc = PV_OK;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return rc;
}

static enum pv_rc
ec_key(const json_t *jwk, EVP_PKEY **out)
{
	uint8_t *x = NULL, *y = NULL, pub[65];
	size_t xlen = 0, ylen = 0;
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *k = NULL;
	enum pv_rc rc = PV_E_INVALID;

	if (crv == NULL || strcmp(crv, "P-256") != 0 ||
	    jwk_bytes(jwk, "x", 32, &x, &xlen) != PV_OK ||
	    jwk_bytes(jwk, "y", 32, &y, &ylen) != PV_OK || xlen != 32 || ylen != 32)
		goto out;
	pub[0] = 0x04;
	memcpy(pub + 1, x, 32);
	memcpy(pub + 33, y, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* the point is on the curve */
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL ||
	    EVP_PKEY_public_check(chk) != 1)
		goto out;
	*out = k;
	k = NULL;
	rc = PV_OK;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	free(x);
	free(y);
	return rc;
}

enum pv_rc
authn_jwk_key(const json_t *jwk, const char *alg, EVP_PKEY **out)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *use = json_string_value(json_object_get(jwk, "use"));
	const char *kalg = json_string_value(json_object_get(jwk, "alg"));

	if (!json_is_object(jwk) || kty == NULL || alg == NULL)
		return PV_E_INVALID;
	if ((use != NULL && strcmp(use, "sig") != 0) || (kalg != NULL && strcmp(kalg, alg) != 0))
		return PV_E_INVALID;
	if (strcmp(alg, "RS256") == 0 && strcmp(kty, "RSA") == 0)
		return rsa_key(jwk, out);
	if (strcmp(alg, "ES256") == 0 && strcmp(kty, "EC") == 0)
		return ec_key(jwk, out);
	return PV_E_INVALID;
}

enum pv_rc
authn_jwks_find(const json_t *jwks, const char *kid, const char *alg, EVP_PKEY **out)
{
	const json_t *keys = json_object_get(jwks, "keys");
	size_t i;

	if (!json_is_array(keys))
		return PV_E_INVALID;
	for (i = 0; i < json_array_size(keys) && i < 64; i++) {
		const json_t *k = json_array_get(keys, i);
		const char *id = json_string_value(json_object_get(k, "kid"));

		/* with a kid in the header, only that key; without one, the first
		 * key of the alg's type */
		if (kid != NULL && kid[0] != '\0' && (id == NULL || strcmp(id, kid) != 0))
			continue;
		if (authn_jwk_key(k, alg, out) == PV_OK)
			return PV_OK;
	}
	return PV_E_NOTFOUND;
}

/* JWS ES256 signature (RFC 7518 §3.4): R || S, 32 bytes each, into DER. */
static enum pv_rc
es256_der(const uint8_t *sig, size_t len, uint8_t **der, size_t *derlen)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *r = NULL, *ss = NULL;
	unsigned char *p = NULL;
	int n;

	if (len != 64)
		return PV_E_INVALID;
	if ((s = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(sig, 32, NULL)) == NULL ||
	    (ss = BN_bin2bn(sig + 32, 32, NULL)) == NULL || ECDSA_SIG_set0(s, r, ss) != 1) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return PV_E_NOMEM;
	}
	n = i2d_ECDSA_SIG(s, &p);
	ECDSA_SIG_free(s);
	if (n <= 0)
		return PV_E_NOMEM;
	*der = p;
	*derlen = (size_t)n;
	return PV_OK;
}

enum pv_rc
authn_jwt_verify(const struct authn_jwt *j, const char *compact, EVP_PKEY *key)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *der = NULL;
	const uint8_t *sig = j->sig;
	size_t siglen = j->siglen;
	enum pv_rc rc = PV_E_OIDC;
	bool es = strcmp(j->alg, "ES256") == 0;

	if (key == NULL || compact == NULL || strlen(compact) < j->signing_len)
		return PV_E_OIDC;
	if (es) {
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
		    es256_der(j->sig, j->siglen, &der, &siglen) != PV_OK)
			return PV_E_OIDC;
		sig = der;
	} else if (strcmp(j->alg, "RS256") != 0 || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		return PV_E_OIDC;
	}
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)compact,
	    j->signing_len) == 1)
		rc = PV_OK;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}

/* A NumericDate claim (RFC 7519 §2): a JSON number of seconds. */
static bool
num_claim(const json_t *claims, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(claims, name);

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	if (json_is_real(v) && json_real_value(v) > -1e15 && json_real_value(v) < 1e15) {
		*out = (int64_t)json_real_value(v);
		return true;
	}
	return false;
}

static bool
audience_ok(const json_t *claims, const char *client_id)
{
	const json_t *aud = json_object_get(claims, "aud");
	const char *azp = json_string_value(json_object_get(claims, "azp"));
	bool found = false;
	size_t i;

	if (json_is_string(aud)) {
		found = strcmp(json_string_value(aud), client_id) == 0;
	} else if (json_is_array(aud)) {
		for (i = 0; i < json_array_size(aud); i++) {
			const char *a = json_string_value(json_array_get(aud, i));

			if (a != NULL && strcmp(a, client_id) == 0)
				found = true;
		}
		/* OIDC Core §3.1.3.7 (4, 5): several audiences need azp = us */
		if (found && json_array_size(aud) > 1 && azp == NULL)
			return false;
	}
	if (found && json_object_get(claims, "azp") != NULL &&
	    (azp == NULL || strcmp(azp, client_id) != 0))
		return false;
	return found;
}

enum pv_rc
authn_jwt_claims_check(const struct authn_jwt *j, const struct authn_jwt_expect *e,
    const char **reason)
{
	const json_t *c = j->claims;
	const char *iss = json_string_value(json_object_get(c, "iss"));
	const char *sub = json_string_value(json_object_get(c, "sub"));
	const char *sid = json_string_value(json_object_get(c, "sid"));
	int64_t exp = 0, iat = 0, nbf = 0, skew = e->skew_s;

	*reason = R_MALFORMED;
	if (iss == NULL || strcmp(iss, e->issuer) != 0) {
		*reason = "oidc_unknown_issuer";
		return PV_E_OIDC;
	}
	if (!audience_ok(c, e->client_id)) {
		*reason = "oidc_wrong_audience";
		return PV_E_OIDC;
	}
	if (!num_claim(c, "iat", &iat))
		return PV_E_OIDC;
	if (sub != NULL && (sub[0] == '\0' || strlen(sub) >= STORE_OIDC_SUB_MAX))
		return PV_E_OIDC;
	if (sid != NULL && (sid[0] == '\0' || strlen(sid) >= STORE_OIDC_SUB_MAX))
		return PV_E_OIDC;
	if (json_object_get(c, "nbf") != NULL) {
		if (!num_claim(c, "nbf", &nbf))
			return PV_E_OIDC;
		if (nbf > e->now_s + skew) {
			*reason = "oidc_not_yet_valid";
			return PV_E_OIDC;
		}
	}
	if (iat > e->now_s + skew) {
		*reason = "oidc_not_yet_valid";
		return PV_E_OIDC;
	}
	if (e->logout) {
		/* Back-Channel Logout 1.0 §2.6: events with the member, sub or sid,
		 * a jti, and no nonce (so an ID token is never taken for one);
		 * exp is optional there, but a token older than max_age_s is not
		 * accepted */
		const json_t *ev = json_object_get(c, "events");
		const char *typ = json_string_value(json_object_get(j->header, "typ"));

		if (!json_is_object(ev) || !json_is_object(json_object_get(ev, LOGOUT_EVENT)) ||
		    json_object_get(c, "nonce") != NULL ||
		    (typ != NULL && strcmp(typ, "logout+jwt") != 0 && strcmp(typ, "JWT") != 0)) {
			*reason = "oidc_not_logout_token";
			return PV_E_OIDC;
		}
		if ((sub == NULL && sid == NULL) ||
		    json_string_value(json_object_get(c, "jti")) == NULL)
			return PV_E_OIDC;
		if ((num_claim(c, "exp", &exp) && exp + skew <= e->now_s) ||
		    iat + e->max_age_s + skew <= e->now_s) {
			*reason = "oidc_expired";
			return PV_E_OIDC;
		}
		*reason = NULL;
		return PV_OK;
	}
	if (sub == NULL)
		return PV_E_OIDC;
	if (!num_claim(c, "exp", &exp))
		return PV_E_OIDC;
	if (exp + skew <= e->now_s) {
		*reason = "oidc_expired";
		return PV_E_OIDC;
	}
	if (e->nonce != NULL) {
		const char *n = json_string_value(json_object_get(c, "nonce"));

		if (n == NULL || strlen(n) != strlen(e->nonce) ||
		    CRYPTO_memcmp(n, e->nonce, strlen(n)) != 0) {
			*reason = "oidc_nonce_mismatch";
			return PV_E_OIDC;
		}
	}
	*reason = NULL;
	return PV_OK;
}

bool
authn_oidc_amr_mfa(const json_t *claims)
{
	/* RFC 8176: methods that are a second factor or a phishing-resistant
	 * key: mfa (several factors), otp, hwk, swk */
	static const char *const mfa[] = { "mfa", "otp", "hwk", "swk" };
	const json_t *amr = json_object_get(claims, "amr");
	size_t i, k;

	if (!json_is_array(amr))
		return false;
	for (i = 0; i < json_array_size(amr); i++) {
		const char *m = json_string_value(json_array_get(amr, i));

		for (k = 0; m != NULL && k < sizeof(mfa) / sizeof(mfa[0]); k++)
			if (strcmp(m, mfa[k]) == 0)
				return true;
	}
	return false;
}
