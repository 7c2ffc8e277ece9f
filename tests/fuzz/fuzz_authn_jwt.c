/*
 * fuzz_authn_jwt: the OIDC JWS/JWK code of authn/oidc_jwt.c on untrusted
 * bytes (an ID token or a logout token from the network, a JWKS from the
 * provider). The first byte picks the target, the rest is its input:
 *   0  compact JWS: parse, then the ID-token and the logout-token claim
 *      checks, then a signature check against a fixed P-256 key
 *   1  JWKS JSON: every key as RS256 and as ES256
 *   2  amr claim (a claims object)
 * Besides memory safety it checks the contracts: only PV_OK / PV_E_OIDC
 * from the parser and the checks, a reason with every refusal, an accepted
 * token has RS256 or ES256 and a signing input inside the string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authn/authn_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define checked(rc, reason) checked_at((rc), (reason), __LINE__)
static void
checked_at(enum pv_rc rc, const char *reason, int line)
{
	if (rc != PV_OK && rc != PV_E_OIDC) {
		fprintf(stderr, "rc %d at %d\n", (int)rc, line);
		abort();
	}
	if (rc == PV_E_OIDC && reason == NULL) {
		fprintf(stderr, "no reason at %d\n", line);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
	char *s;
	const char *reason = NULL;
	enum pv_rc rc;

	if (size < 1 || size > 20000)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: {
		struct authn_jwt j;
		struct authn_jwt_expect e = { "https://idp.test", "phivault", 1700000000, 60,
			"n-0S6_WzA2Mj", false, 300 };
		json_t *k = json_loads(jwk, 0, NULL);
		EVP_PKEY *key = NULL;

		rc = authn_jwt_parse(s, &j, &reason);
		checked(rc, reason);
		if (rc == PV_OK) {
			if ((strcmp(j.alg, "RS256") != 0 && strcmp(j.alg, "ES256") != 0) ||
			    j.signing_len > strlen(s))
				abort();
			rc = authn_jwt_claims_check(&j, &e, &reason);
			checked(rc, reason);
			e.logout = true;
			rc = authn_jwt_claims_check(&j, &e, &reason);
			checked(rc, reason);
			if (k != NULL && authn_jwk_key(k, "ES256", &key) == PV_OK &&
			    authn_jwt_verify(&j, s, key) == PV_OK)
				abort();   /* nobody has this key's private half here */
			EVP_PKEY_free(key);
			(void)authn_oidc_amr_mfa(j.claims);
			authn_jwt_clear(&j);
		}
		json_decref(k);
		break;
	}
	case 1: {
		json_t *ks = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
		EVP_PKEY *key = NULL;

		if (ks != NULL) {
			if (authn_jwks_find(ks, "", "RS256", &key) == PV_OK)
				EVP_PKEY_free(key);
			key = NULL;
			if (authn_jwks_find(ks, "k1", "ES256", &key) == PV_OK)
				EVP_PKEY_free(key);
			json_decref(ks);
		}
		break;
	}
	default: {
		json_t *c = json_loads(s, 0, NULL);

		(void)authn_oidc_amr_mfa(c);
		json_decref(c);
		break;
	}
	}
	free(s);
	return 0;
}
