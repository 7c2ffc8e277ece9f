/*
 * test_webauthn: the pure WebAuthn checks of webauthn.c with no store and
 * no HTTP: a published attestation (fido2-lib's test helpers: a real
 * Firefox "none" attestation for RP ID localhost, ES256, a 162-byte
 * credential ID, flags UP|AT), the RFC 8032 §7.1 test 1 Ed25519 public key
 * as a COSE_Key, and the software authenticator (webauthn_soft.h) for
 * signatures: ES256 and EdDSA accepted; every flag, RP ID, origin, type,
 * counter and signature fault refused with its reason; packed self
 * attestation verified, packed with x5c refused; malformed CBOR refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authn/authn.h"
#include "../../integration/webauthn_soft.h"

/* fido2-lib test/helpers/fido2-helpers.js, challengeResponseAttestationNoneMsgB64Url */
static const char FF_ATT[] =
	"o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVkBJkmWDeWIDoxodDQXD2R2YFuP5K65ooYyx5lc87qDHZdjQQAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAKIACKLdXqwahqjNbtNs1piUlonluvxOsF9Feeh9k7qXay5zdrm239cW4WQUD_l5ptTzRLU9"
	"bSbghnv0FLaRA7tly7La9_QRKDXwZMsbWajlhKQh2ovYnjh6C37qtyPs151ITDFr-67FRgG0c2dJCoOa2hQB8z0tJYuX"
	"rkGMpVk0ZSn1qjfeYxJ1V9BDRsfN7r0lVC8sF_w5OJlSomw64qampRylAQIDJiABIVgguxHN3W6ehp0VWXKaMNie1J82"
	"MVJCFZYScau74o17cx8iWCDb1jkTLi7lYZZbgwUwpqAk8QmIiPMTVQUVkhGEyGrKww==";
static const char FF_CDJ[] =
	"eyJjaGFsbGVuZ2UiOiIzM0VIYXYtaloxdjlxd0g3ODNhVS1qMEFSeDZyNW8tWUhoLXdkN0M2alBiZDdXaDZ5dGJJWm9z"
	"SUlBQ2Vod2Y5LXM2aFhoeVNITy1ISFVqRXdaUzI5dyIsImNsaWVudEV4dGVuc2lvbnMiOnt9LCJoYXNoQWxnb3JpdGht"
	"IjoiU0hBLTI1NiIsIm9yaWdpbiI6Imh0dHBzOi8vbG9jYWxob3N0Ojg0NDMiLCJ0eXBlIjoid2ViYXV0aG4uY3JlYXRl"
	"In0=";
static const char FF_RAWID[] =
	"AAii3V6sGoaozW7TbNaYlJaJ5br8TrBfRXnofZO6l2suc3a5tt_XFuFkFA_5eabU80S1PW0m4IZ79BS2kQO7Zcuy2vf0"
	"ESg18GTLG1mo5YSkIdqL2J44egt-6rcj7NedSEwxa_uuxUYBtHNnSQqDmtoUAfM9LSWLl65BjKVZNGUp9ao33mMSdVfQ"
	"Q0bHze69JVQvLBf8OTiZUqJsOuKmpqUc";

static uint8_t *
b64(const char *s, size_t *len)
{
	uint8_t *out = NULL;

	assert_int_equal(authn_wa_b64url_decode(s, 65536, &out, len), PV_OK);
	return out;
}

/* the attestation object's authData (a CBOR byte string under "authData") */
static const uint8_t *
att_authdata(const uint8_t *att, size_t len, size_t *adlen)
{
	struct cbor_load_result r;
	cbor_item_t *m = cbor_load(att, len, &r);
	static uint8_t buf[4096];
	size_t i;

	assert_non_null(m);
	for (i = 0; i < cbor_map_size(m); i++) {
		cbor_item_t *k = cbor_map_handle(m)[i].key, *v = cbor_map_handle(m)[i].value;

		if (cbor_string_length(k) == 8 && memcmp(cbor_string_handle(k), "authData", 8) == 0) {
			*adlen = cbor_bytestring_length(v);
			assert_true(*adlen <= sizeof(buf));
			memcpy(buf, cbor_bytestring_handle(v), *adlen);
		}
	}
	cbor_decref(&m);
	return buf;
}

static void
test_published_attestation(void **state)
{
	struct authn_wa_authdata d;
	struct authn_wa_registration reg;
	char ch[AUTHN_WA_CHALLENGE_B64_MAX];
	const char *reason = NULL;
	uint8_t *att, *cdj, *raw, h[32];
	const uint8_t *ad;
	size_t attlen, cdjlen, rawlen, adlen = 0;
	int alg = 0;
	EVP_PKEY *k = NULL;

	(void)state;
	att = b64(FF_ATT, &attlen);
	cdj = b64(FF_CDJ, &cdjlen);
	raw = b64(FF_RAWID, &rawlen);
	assert_int_equal(rawlen, 162);
	/* clientDataJSON: the challenge as sent, origin and type */
	assert_int_equal(authn_wa_client_data(cdj, cdjlen, "webauthn.create",
	    "https://localhost:8443", ch, &reason), PV_OK);
	assert_string_equal(ch,
	    "33EHav-jZ1v9qwH783aU-j0ARx6r5o-YHh-wd7C6jPbd7Wh6ytbIZosIIACehwf9-s6hXhySHO-HHUjEwZS29w");
	assert_int_equal(authn_wa_client_data(cdj, cdjlen, "webauthn.create",
	    "https://localhost", ch, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "wrong_origin");
	assert_int_equal(authn_wa_client_data(cdj, cdjlen, "webauthn.get",
	    "https://localhost:8443", ch, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "wrong_type");
	/* authData: rpIdHash = SHA-256("localhost"), flags UP|AT, counter 0 */
	ad = att_authdata(att, attlen, &adlen);
	assert_int_equal(adlen, 294);
	assert_int_equal(authn_wa_authdata_parse(ad, adlen, &d), PV_OK);
	SHA256((const uint8_t *)"localhost", 9, h);
	assert_memory_equal(d.rp_id_hash, h, 32);
	assert_int_equal(d.flags, 0x41);
	assert_int_equal(d.sign_count, 0);
	assert_int_equal(d.cred_id_len, 162);
	assert_memory_equal(d.cred_id, raw, 162);
	assert_int_equal(authn_wa_cose_key(d.cose_key, d.cose_key_len, &alg, &k), PV_OK);
	assert_int_equal(alg, AUTHN_WA_ES256);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	EVP_PKEY_free(k);
	/* it was made without user verification: refused (UV required) */
	assert_int_equal(authn_wa_registration_verify(att, attlen, cdj, cdjlen, "localhost", &reg,
	    &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "uv_missing");
	assert_int_equal(authn_wa_registration_verify(att, attlen, cdj, cdjlen, "example.com",
	    &reg, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "rp_id_mismatch");
	/* truncated or with a trailing byte: malformed */
	assert_int_equal(authn_wa_authdata_parse(ad, adlen - 1, &d), PV_E_WEBAUTHN);
	{
		uint8_t more[512];

		memcpy(more, ad, adlen);
		more[adlen] = 0;
		assert_int_equal(authn_wa_authdata_parse(more, adlen + 1, &d), PV_E_WEBAUTHN);
	}
	assert_int_equal(authn_wa_registration_verify(att, attlen - 1, cdj, cdjlen, "localhost",
	    &reg, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "attestation_invalid");
	free(att);
	free(cdj);
	free(raw);
}

/* RFC 8032 §7.1 TEST 1 public key as a COSE OKP key */
static void
test_cose_ed25519_vector(void **state)
{
	static const uint8_t pub[32] = {
		0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
		0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
		0xf7, 0x07, 0x51, 0x1a };
	uint8_t cose[64], got[32];
	size_t n = 0, gl = sizeof(got);
	EVP_PKEY *k = NULL;
	int alg = 0;

	(void)state;
	/* {1: 1, 3: -8, -1: 6, -2: h'd75a...'} */
	cose[n++] = 0xa4;
	cose[n++] = 0x01; cose[n++] = 0x01;
	cose[n++] = 0x03; cose[n++] = 0x27;
	cose[n++] = 0x20; cose[n++] = 0x06;
	cose[n++] = 0x21; cose[n++] = 0x58; cose[n++] = 0x20;
	memcpy(cose + n, pub, 32);
	n += 32;
	assert_int_equal(authn_wa_cose_key(cose, n, &alg, &k), PV_OK);
	assert_int_equal(alg, AUTHN_WA_EDDSA);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, got, &gl), 1);
	assert_memory_equal(got, pub, 32);
	EVP_PKEY_free(k);
	/* the wrong curve for the algorithm (X25519 = 4), an RS256 alg (-257),
	 * a missing x, a duplicate label, trailing bytes: refused */
	cose[6] = 0x04;
	assert_int_equal(authn_wa_cose_key(cose, n, &alg, NULL), PV_E_WEBAUTHN);
	cose[6] = 0x06;
	cose[4] = 0x39;   /* -(0x0100 + 1) needs two more bytes: malformed here */
	assert_int_equal(authn_wa_cose_key(cose, n, &alg, NULL), PV_E_WEBAUTHN);
	cose[4] = 0x27;
	assert_int_equal(authn_wa_cose_key(cose, 7, &alg, NULL), PV_E_WEBAUTHN);
	cose[0] = 0xa5;
	cose[n] = 0x01; cose[n + 1] = 0x01;
	assert_int_equal(authn_wa_cose_key(cose, n + 2, &alg, NULL), PV_E_WEBAUTHN);
	cose[0] = 0xa4;
	assert_int_equal(authn_wa_cose_key(cose, n + 1, &alg, NULL), PV_E_WEBAUTHN);
	assert_int_equal(authn_wa_cose_key(cose, n, &alg, NULL), PV_OK);
}

/* An EC point off the curve is refused */
static void
test_cose_ec_off_curve(void **state)
{
	struct wa_soft a;
	uint8_t *cose;
	size_t n;
	int alg;

	(void)state;
	wa_soft_init(&a, -7);
	cose = wa_soft_cose(&a, &n);
	assert_int_equal(authn_wa_cose_key(cose, n, &alg, NULL), PV_OK);
	cose[n - 1] ^= 0x01;    /* last byte of y */
	assert_int_equal(authn_wa_cose_key(cose, n, &alg, NULL), PV_E_WEBAUTHN);
	free(cose);
	wa_soft_free(&a);
}

/* registration and assertion with the software authenticator */
static void
roundtrip(int which)
{
	struct authn_wa_registration reg;
	struct wa_soft a;
	const char *reason = NULL;
	const char *cdj = "{\"type\":\"webauthn.get\",\"challenge\":\"x\",\"origin\":\"https://a.test\"}";
	uint8_t *ad, *att, *sig;
	size_t adlen, attlen, siglen;
	uint32_t count = 0;

	wa_soft_init(&a, which);
	ad = wa_soft_authdata(&a, "a.test", WA_UP | WA_UV | WA_AT, 0, &adlen);
	att = wa_soft_attestation_none(ad, adlen, &attlen);
	assert_int_equal(authn_wa_registration_verify(att, attlen, (const uint8_t *)cdj,
	    strlen(cdj), "a.test", &reg, &reason), PV_OK);
	assert_string_equal(reg.fmt, "none");
	assert_int_equal(reg.alg, which);
	assert_int_equal(reg.cred_id_len, a.cred_id_len);
	assert_memory_equal(reg.cred_id, a.cred_id, a.cred_id_len);
	free(ad);
	free(att);

	/* an assertion with counter 1 */
	ad = wa_soft_authdata(&a, "a.test", WA_UP | WA_UV, 1, &adlen);
	sig = wa_soft_sign(&a, ad, adlen, cdj, &siglen);
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 0, &count, &reason),
	    PV_OK);
	assert_int_equal(count, 1);
	/* the same counter again, or a lower one: rollback */
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 1, &count, &reason),
	    PV_E_WEBAUTHN);
	assert_string_equal(reason, "counter_rollback");
	/* the wrong algorithm stored for the key */
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, which == -7 ? -8 : -7, 0,
	    &count, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "key_unsupported");
	/* another client data than the one signed */
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)"{}", 2, sig,
	    siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 0, &count, &reason),
	    PV_E_WEBAUTHN);
	assert_string_equal(reason, "bad_signature");
	/* a flipped bit of the signature */
	sig[siglen - 3] ^= 0x10;
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 0, &count, &reason),
	    PV_E_WEBAUTHN);
	assert_string_equal(reason, "bad_signature");
	free(sig);
	free(ad);
	/* flags and RP ID */
	ad = wa_soft_authdata(&a, "a.test", WA_UP, 2, &adlen);
	sig = wa_soft_sign(&a, ad, adlen, cdj, &siglen);
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 0, &count, &reason),
	    PV_E_WEBAUTHN);
	assert_string_equal(reason, "uv_missing");
	free(sig);
	free(ad);
	ad = wa_soft_authdata(&a, "a.test", WA_UV, 2, &adlen);
	sig = wa_soft_sign(&a, ad, adlen, cdj, &siglen);
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 0, &count, &reason),
	    PV_E_WEBAUTHN);
	assert_string_equal(reason, "up_missing");
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "b.test", reg.cose_key, reg.cose_key_len, reg.alg, 0, &count, &reason),
	    PV_E_WEBAUTHN);
	assert_string_equal(reason, "rp_id_mismatch");
	free(sig);
	free(ad);
	/* counter 0 on both sides: an authenticator without a counter */
	ad = wa_soft_authdata(&a, "a.test", WA_UP | WA_UV, 0, &adlen);
	sig = wa_soft_sign(&a, ad, adlen, cdj, &siglen);
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 0, &count, &reason),
	    PV_OK);
	assert_int_equal(authn_wa_assertion_verify(ad, adlen, (const uint8_t *)cdj, strlen(cdj),
	    sig, siglen, "a.test", reg.cose_key, reg.cose_key_len, reg.alg, 5, &count, &reason),
	    PV_E_WEBAUTHN);   /* ... but 0 after 5 is a rollback */
	free(sig);
	free(ad);
	authn_wa_registration_clear(&reg);
	wa_soft_free(&a);
}

static void
test_roundtrip_es256(void **state)
{
	(void)state;
	roundtrip(-7);
}

static void
test_roundtrip_eddsa(void **state)
{
	(void)state;
	roundtrip(-8);
}

/* {fmt: "packed", attStmt: {alg, sig[, x5c]}, authData} */
static uint8_t *
packed(const uint8_t *ad, size_t adlen, int alg, const uint8_t *sig, size_t siglen, bool x5c,
    size_t *len)
{
	cbor_item_t *m = cbor_new_definite_map(3), *st = cbor_new_definite_map(x5c ? 3 : 2);
	uint8_t *buf = NULL;
	size_t bl = 0;

	cbor_map_add(st, (struct cbor_pair){ cbor_move(cbor_build_string("alg")),
	    cbor_move(cbor_build_negint8((uint8_t)(-1 - alg))) });
	cbor_map_add(st, (struct cbor_pair){ cbor_move(cbor_build_string("sig")),
	    cbor_move(cbor_build_bytestring(sig, siglen)) });
	if (x5c)
		cbor_map_add(st, (struct cbor_pair){ cbor_move(cbor_build_string("x5c")),
		    cbor_move(cbor_new_definite_array(0)) });
	cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_string("fmt")),
	    cbor_move(cbor_build_string("packed")) });
	cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_string("attStmt")),
	    cbor_move(st) });
	cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_string("authData")),
	    cbor_move(cbor_build_bytestring(ad, adlen)) });
	*len = cbor_serialize_alloc(m, &buf, &bl);
	cbor_decref(&m);
	return buf;
}

static void
test_packed_self(void **state)
{
	struct authn_wa_registration reg;
	struct wa_soft a;
	const char *reason = NULL, *cdj = "{\"type\":\"webauthn.create\"}";
	uint8_t *ad, *sig, *att;
	size_t adlen, siglen, attlen;

	(void)state;
	wa_soft_init(&a, -7);
	ad = wa_soft_authdata(&a, "a.test", WA_UP | WA_UV | WA_AT, 0, &adlen);
	sig = wa_soft_sign(&a, ad, adlen, cdj, &siglen);
	att = packed(ad, adlen, -7, sig, siglen, false, &attlen);
	assert_int_equal(authn_wa_registration_verify(att, attlen, (const uint8_t *)cdj,
	    strlen(cdj), "a.test", &reg, &reason), PV_OK);
	assert_string_equal(reg.fmt, "packed");
	authn_wa_registration_clear(&reg);
	/* signed over another client data */
	assert_int_equal(authn_wa_registration_verify(att, attlen, (const uint8_t *)"{}", 2,
	    "a.test", &reg, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "bad_signature");
	free(att);
	/* an alg other than the credential's */
	att = packed(ad, adlen, -8, sig, siglen, false, &attlen);
	assert_int_equal(authn_wa_registration_verify(att, attlen, (const uint8_t *)cdj,
	    strlen(cdj), "a.test", &reg, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "attestation_invalid");
	free(att);
	/* with a certificate chain: not verified here, so refused */
	att = packed(ad, adlen, -7, sig, siglen, true, &attlen);
	assert_int_equal(authn_wa_registration_verify(att, attlen, (const uint8_t *)cdj,
	    strlen(cdj), "a.test", &reg, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "attestation_unsupported");
	free(att);
	free(sig);
	free(ad);
	/* AT missing in a registration */
	ad = wa_soft_authdata(&a, "a.test", WA_UP | WA_UV, 0, &adlen);
	att = wa_soft_attestation_none(ad, adlen, &attlen);
	assert_int_equal(authn_wa_registration_verify(att, attlen, (const uint8_t *)cdj,
	    strlen(cdj), "a.test", &reg, &reason), PV_E_WEBAUTHN);
	assert_string_equal(reason, "at_missing");
	free(att);
	free(ad);
	wa_soft_free(&a);
}

static void
test_client_data_and_b64(void **state)
{
	char ch[AUTHN_WA_CHALLENGE_B64_MAX];
	const char *reason = NULL;
	static const char *bad[] = {
		"", "[]", "{\"type\":1}", "{\"type\":\"webauthn.get\",\"origin\":\"o\"}",
		"{\"type\":\"webauthn.get\",\"challenge\":\"c\",\"origin\":\"o\",\"crossOrigin\":1}",
		"{\"type\":\"webauthn.get\",\"type\":\"webauthn.get\",\"challenge\":\"c\",\"origin\":\"o\"}",
	};
	uint8_t *out = NULL;
	size_t i, n = 0;
	char enc[16];

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(authn_wa_client_data((const uint8_t *)bad[i], strlen(bad[i]),
		    "webauthn.get", "o", ch, &reason), PV_E_WEBAUTHN);
		assert_string_equal(reason, "client_data_invalid");
	}
	{
		const char *x =
		    "{\"type\":\"webauthn.get\",\"challenge\":\"c\",\"origin\":\"o\",\"crossOrigin\":true}";

		assert_int_equal(authn_wa_client_data((const uint8_t *)x, strlen(x), "webauthn.get",
		    "o", ch, &reason), PV_E_WEBAUTHN);
	}
	assert_string_equal(reason, "cross_origin");
	/* base64url: RFC 4648 §10 vectors in the URL alphabet, padding tolerated */
	assert_int_equal(authn_wa_b64url_decode("Zm9vYg", 64, &out, &n), PV_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "foob", 4);
	free(out);
	assert_int_equal(authn_wa_b64url_decode("Zm9vYg==", 64, &out, &n), PV_OK);
	free(out);
	assert_int_equal(authn_wa_b64url_decode("Zm9v+g", 64, &out, &n), PV_E_INVALID);
	assert_int_equal(authn_wa_b64url_decode("Zm9vYmFy", 3, &out, &n), PV_E_INVALID);
	assert_int_equal(authn_wa_b64url_decode("", 64, &out, &n), PV_E_INVALID);
	assert_int_equal(authn_wa_b64url_encode((const uint8_t *)"\xfb\xff", 2, enc, sizeof(enc)),
	    PV_OK);
	assert_string_equal(enc, "-_8");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_attestation),
		cmocka_unit_test(test_cose_ed25519_vector),
		cmocka_unit_test(test_cose_ec_off_curve),
		cmocka_unit_test(test_roundtrip_es256),
		cmocka_unit_test(test_roundtrip_eddsa),
		cmocka_unit_test(test_packed_self),
		cmocka_unit_test(test_client_data_and_b64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
