/*
 * webauthn_soft.h: a software WebAuthn authenticator for the tests (header
 * only: the integration test and the authn unit tests include it). It makes
 * what a browser hands a page after navigator.credentials.create() / .get()
 * -- clientDataJSON, authenticator data, a CBOR attestation object of format
 * "none" (libcbor), ES256 (P-256) or EdDSA (Ed25519) signatures (OpenSSL) --
 * and serialises the PublicKeyCredential as JSON with base64url fields, the
 * way a page posts it. Every field can be spoiled (origin, RP ID, flags,
 * counter, signature) to build the negative cases by hand.
 */
#ifndef PV_TEST_WEBAUTHN_SOFT_H
#define PV_TEST_WEBAUTHN_SOFT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#define WA_UP 0x01
#define WA_UV 0x04
#define WA_AT 0x40

struct wa_soft {
	int alg;                     /* -7 ES256, -8 EdDSA */
	EVP_PKEY *key;
	uint8_t cred_id[32];
	size_t cred_id_len;
	uint32_t counter;            /* incremented before each assertion */
};

/* What to put into one response (zero: the honest values). */
struct wa_spoil {
	const char *origin;          /* clientDataJSON.origin; NULL: the given one */
	const char *type;            /* clientDataJSON.type; NULL: the right one */
	const char *rp_id;           /* hashed into authData; NULL: the given one */
	int flags;                   /* 0: UP|UV (|AT for create) */
	int64_t counter;             /* >= 0: this counter, not the next one */
	int bad_sig;                 /* flip a bit of the signature */
	const char *user_handle;     /* base64url userHandle to send, or NULL */
};

static inline void
wa_b64(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static inline void
wa_soft_init(struct wa_soft *a, int alg)
{
	memset(a, 0, sizeof(*a));
	a->alg = alg;
	a->key = alg == -7 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (a->key == NULL)
		abort();
	a->cred_id_len = 20;
	randombytes_buf(a->cred_id, a->cred_id_len);
	a->counter = 0;
}

static inline void
wa_soft_free(struct wa_soft *a)
{
	EVP_PKEY_free(a->key);
	a->key = NULL;
}

static inline void
wa_soft_id(const struct wa_soft *a, char *out, size_t len)
{
	wa_b64(a->cred_id, a->cred_id_len, out, len);
}

/* The COSE_Key (RFC 9053) of a's public key; malloc'd. */
static inline uint8_t *
wa_soft_cose(const struct wa_soft *a, size_t *len)
{
	uint8_t x[65], *buf = NULL;
	size_t xl = 0, bl = 0;
	cbor_item_t *m;

	if (a->alg == -7) {
		if (EVP_PKEY_get_octet_string_param(a->key, OSSL_PKEY_PARAM_PUB_KEY, x, sizeof(x),
		    &xl) != 1 || xl != 65)
			abort();
		m = cbor_new_definite_map(5);
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_uint8(1)),
		    cbor_move(cbor_build_uint8(2)) });
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_uint8(3)),
		    cbor_move(cbor_build_negint8(6)) });
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_negint8(0)),
		    cbor_move(cbor_build_uint8(1)) });
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_negint8(1)),
		    cbor_move(cbor_build_bytestring(x + 1, 32)) });
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_negint8(2)),
		    cbor_move(cbor_build_bytestring(x + 33, 32)) });
	} else {
		xl = 32;
		if (EVP_PKEY_get_raw_public_key(a->key, x, &xl) != 1 || xl != 32)
			abort();
		m = cbor_new_definite_map(4);
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_uint8(1)),
		    cbor_move(cbor_build_uint8(1)) });
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_uint8(3)),
		    cbor_move(cbor_build_negint8(7)) });
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_negint8(0)),
		    cbor_move(cbor_build_uint8(6)) });
		cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_negint8(1)),
		    cbor_move(cbor_build_bytestring(x, 32)) });
	}
	*len = cbor_serialize_alloc(m, &buf, &bl);
	cbor_decref(&m);
	if (*len == 0)
		abort();
	return buf;
}

/* authenticator data: SHA-256(rp_id) | flags | counter | [attested credential] */
static inline uint8_t *
wa_soft_authdata(const struct wa_soft *a, const char *rp_id, int flags, uint32_t counter,
    size_t *len)
{
	uint8_t *ad, *cose = NULL;
	size_t cl = 0, n = 37;

	if (flags & WA_AT) {
		cose = wa_soft_cose(a, &cl);
		n += 16 + 2 + a->cred_id_len + cl;
	}
	if ((ad = malloc(n)) == NULL)
		abort();
	SHA256((const uint8_t *)rp_id, strlen(rp_id), ad);
	ad[32] = (uint8_t)flags;
	ad[33] = (uint8_t)(counter >> 24);
	ad[34] = (uint8_t)(counter >> 16);
	ad[35] = (uint8_t)(counter >> 8);
	ad[36] = (uint8_t)counter;
	if (flags & WA_AT) {
		memset(ad + 37, 0, 16);                       /* AAGUID: none */
		ad[53] = (uint8_t)(a->cred_id_len >> 8);
		ad[54] = (uint8_t)a->cred_id_len;
		memcpy(ad + 55, a->cred_id, a->cred_id_len);
		memcpy(ad + 55 + a->cred_id_len, cose, cl);
	}
	free(cose);
	*len = n;
	return ad;
}

static inline uint8_t *
wa_soft_attestation_none(const uint8_t *ad, size_t adlen, size_t *len)
{
	cbor_item_t *m = cbor_new_definite_map(3);
	uint8_t *buf = NULL;
	size_t bl = 0;

	cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_string("fmt")),
	    cbor_move(cbor_build_string("none")) });
	cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_string("attStmt")),
	    cbor_move(cbor_new_definite_map(0)) });
	cbor_map_add(m, (struct cbor_pair){ cbor_move(cbor_build_string("authData")),
	    cbor_move(cbor_build_bytestring(ad, adlen)) });
	*len = cbor_serialize_alloc(m, &buf, &bl);
	cbor_decref(&m);
	if (*len == 0)
		abort();
	return buf;
}

/* signature over ad || SHA-256(cdj); malloc'd */
static inline uint8_t *
wa_soft_sign(const struct wa_soft *a, const uint8_t *ad, size_t adlen, const char *cdj,
    size_t *siglen)
{
	uint8_t *msg = malloc(adlen + 32), *sig;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t sl = 0;

	if (msg == NULL || ctx == NULL)
		abort();
	memcpy(msg, ad, adlen);
	SHA256((const uint8_t *)cdj, strlen(cdj), msg + adlen);
	if (EVP_DigestSignInit(ctx, NULL, a->alg == -7 ? EVP_sha256() : NULL, NULL, a->key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sl, msg, adlen + 32) != 1 || (sig = malloc(sl)) == NULL ||
	    EVP_DigestSign(ctx, sig, &sl, msg, adlen + 32) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	free(msg);
	*siglen = sl;
	return sig;
}

static inline char *
wa_client_data(const char *type, const char *challenge, const char *origin)
{
	char *s = malloc(1024);

	if (s == NULL)
		abort();
	snprintf(s, 1024, "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\","
	    "\"crossOrigin\":false}", type, challenge, origin);
	return s;
}

static inline char *
wa_b64_dup(const uint8_t *in, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = malloc(n);

	if (s == NULL)
		abort();
	wa_b64(in, len, s, n);
	return s;
}

/* The JSON a page posts after navigator.credentials.create(): fields of
 * the PublicKeyCredential, then `extra` (e.g. "\"name\":\"laptop\""; NULL:
 * none). malloc'd. */
static inline char *
wa_soft_create(struct wa_soft *a, const char *challenge, const char *rp_id, const char *origin,
    const struct wa_spoil *sp, const char *extra)
{
	struct wa_spoil none = { 0 };
	char id[64], *cdj, *cdj64, *att64, *out;
	uint8_t *ad, *att;
	size_t adlen, attlen;

	if (sp == NULL)
		sp = &none;
	cdj = wa_client_data(sp->type != NULL ? sp->type : "webauthn.create", challenge,
	    sp->origin != NULL ? sp->origin : origin);
	ad = wa_soft_authdata(a, sp->rp_id != NULL ? sp->rp_id : rp_id,
	    sp->flags != 0 ? sp->flags : WA_UP | WA_UV | WA_AT, sp->counter > 0 ?
	    (uint32_t)sp->counter : a->counter, &adlen);
	att = wa_soft_attestation_none(ad, adlen, &attlen);
	wa_soft_id(a, id, sizeof(id));
	cdj64 = wa_b64_dup((const uint8_t *)cdj, strlen(cdj));
	att64 = wa_b64_dup(att, attlen);
	out = malloc(strlen(cdj64) + strlen(att64) + 512);
	if (out == NULL)
		abort();
	sprintf(out, "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\",\"response\":{"
	    "\"clientDataJSON\":\"%s\",\"attestationObject\":\"%s\"}%s%s}", id, id, cdj64, att64,
	    extra != NULL ? "," : "", extra != NULL ? extra : "");
	free(cdj);
	free(cdj64);
	free(att64);
	free(ad);
	free(att);
	return out;
}

/* The JSON of navigator.credentials.get(): `extra` first (e.g. the
 * mfa_token), then the PublicKeyCredential fields. The counter moves
 * forward unless sp->counter says otherwise. malloc'd. */
static inline char *
wa_soft_get(struct wa_soft *a, const char *challenge, const char *rp_id, const char *origin,
    const struct wa_spoil *sp, const char *extra)
{
	struct wa_spoil none = { 0 };
	char id[64], *cdj, *cdj64, *ad64, *sig64, *out, uh[96];
	uint8_t *ad, *sig;
	size_t adlen, siglen;
	uint32_t counter;

	if (sp == NULL) {
		none.counter = -1;
		sp = &none;
	}
	counter = sp->counter >= 0 ? (uint32_t)sp->counter : ++a->counter;
	cdj = wa_client_data(sp->type != NULL ? sp->type : "webauthn.get", challenge,
	    sp->origin != NULL ? sp->origin : origin);
	ad = wa_soft_authdata(a, sp->rp_id != NULL ? sp->rp_id : rp_id,
	    sp->flags != 0 ? sp->flags : WA_UP | WA_UV, counter, &adlen);
	sig = wa_soft_sign(a, ad, adlen, cdj, &siglen);
	if (sp->bad_sig)
		sig[siglen / 2] ^= 0x01;
	wa_soft_id(a, id, sizeof(id));
	cdj64 = wa_b64_dup((const uint8_t *)cdj, strlen(cdj));
	ad64 = wa_b64_dup(ad, adlen);
	sig64 = wa_b64_dup(sig, siglen);
	if (sp->user_handle != NULL)
		snprintf(uh, sizeof(uh), ",\"userHandle\":\"%s\"", sp->user_handle);
	else
		uh[0] = '\0';
	out = malloc(strlen(cdj64) + strlen(ad64) + strlen(sig64) + 1024);
	if (out == NULL)
		abort();
	sprintf(out, "{%s%s\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\",\"response\":{"
	    "\"clientDataJSON\":\"%s\",\"authenticatorData\":\"%s\",\"signature\":\"%s\"%s}}",
	    extra != NULL ? extra : "", extra != NULL ? "," : "", id, id, cdj64, ad64, sig64, uh);
	free(cdj);
	free(cdj64);
	free(ad64);
	free(sig64);
	free(ad);
	free(sig);
	return out;
}

/* A wa_spoil with nothing spoiled (counter -1: the next one). */
static inline struct wa_spoil
wa_honest(void)
{
	struct wa_spoil s = { 0 };

	s.counter = -1;
	return s;
}

#endif
