/*
 * webauthn.c: the pure half of WebAuthn passkeys (W3C Web Authentication
 * Level 2): parsing and verifying what navigator.credentials.create() and
 * .get() return, with no store and no HTTP. The operations (webauthn_ops.c)
 * feed it the decoded bytes, the RP ID and the origin, and persist what it
 * returns.
 *
 *  - clientDataJSON (§5.8.1): type, challenge (returned for the single-use
 *    lookup), origin compared byte for byte with [server] public_url's
 *    origin, crossOrigin refused when true;
 *  - attestation object (§6.5): CBOR map {fmt, attStmt, authData} decoded
 *    with libcbor; fmt "none" (attStmt must be empty) and "packed" self
 *    attestation (no x5c: the credential key signs authData || hash, §8.2
 *    step "self attestation") are accepted; any other format, and packed with
 *    a certificate chain, are refused (attestation is not verified against
 *    vendor roots: the RP asks for attestation "none", as most RPs do);
 *  - authenticator data (§6.1): rpIdHash == SHA-256(RP ID), flags UP and UV
 *    required, AT for a registration, signCount, the attested credential
 *    data (AAGUID, credential ID of at most 1023 bytes, COSE_Key), extensions
 *    (ED) skipped as one CBOR item; no trailing byte;
 *  - COSE_Key (RFC 9053, §5.8.5): EC2 P-256 with alg ES256 (-7) and OKP
 *    Ed25519 with alg EdDSA (-8), nothing else (no RS256), turned into an
 *    OpenSSL EVP_PKEY (the EC point is checked to be on the curve);
 *  - assertion signatures (§7.2 steps 19-20): over authData ||
 *    SHA-256(clientDataJSON), ES256 as a DER ECDSA signature, EdDSA as
 *    64 raw bytes; the signature counter must move forward when either the
 *    stored or the new one is non-zero (§6.1.1: a rollback hints at a
 *    cloned authenticator).
 *
 * Invariants: every input is bounded (AUTHN_WA_INPUT_MAX) before it is
 * decoded; malformed input is PV_E_WEBAUTHN with a stable reason
 * (docs/internals/authn.md "WebAuthn"), never a crash and never a pass.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "authn/authn.h"
#include "crypto/crypto.h"

static enum pv_rc
refuse(const char **reason, const char *why)
{
	if (reason != NULL)
		*reason = why;
	return PV_E_WEBAUTHN;
}

/* ---- base64url (RFC 4648 §5), padding tolerated on input ---- */

enum pv_rc
authn_wa_b64url_decode(const char *in, size_t max, uint8_t **out, size_t *len)
{
	size_t n, cap, got = 0;
	uint8_t *buf;

	if (in == NULL)
		return PV_E_INVALID;
	n = strlen(in);
	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n == 0 || n > (max / 3 + 1) * 4)
		return PV_E_INVALID;
	cap = n / 4 * 3 + 3;
	if ((buf = malloc(cap)) == NULL)
		return PV_E_NOMEM;
	if (sodium_base642bin(buf, cap, in, n, NULL, &got, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || got == 0 || got > max) {
		free(buf);
		return PV_E_INVALID;
	}
	*out = buf;
	*len = got;
	return PV_OK;
}

enum pv_rc
authn_wa_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	if (in == NULL || out == NULL || len == 0 ||
	    sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > outlen)
		return PV_E_INVALID;
	sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return PV_OK;
}

/* ---- clientDataJSON ---- */

enum pv_rc
authn_wa_client_data(const uint8_t *cdj, size_t len, const char *type, const char *origin,
    char challenge[AUTHN_WA_CHALLENGE_B64_MAX], const char **reason)
{
	json_t *o = NULL, *t, *c, *g, *x;
	enum pv_rc rc;

	if (cdj == NULL || len == 0 || len > AUTHN_WA_INPUT_MAX)
		return refuse(reason, "client_data_invalid");
	o = json_loadb((const char *)cdj, len, JSON_REJECT_DUPLICATES, NULL);
	if (o == NULL || !json_is_object(o)) {
		rc = refuse(reason, "client_data_invalid");
		goto out;
	}
	t = json_object_get(o, "type");
	c = json_object_get(o, "challenge");
	g = json_object_get(o, "origin");
	x = json_object_get(o, "crossOrigin");
	if (!json_is_string(t) || !json_is_string(c) || !json_is_string(g) ||
	    (x != NULL && !json_is_boolean(x)) ||
	    json_string_length(c) >= AUTHN_WA_CHALLENGE_B64_MAX || json_string_length(c) == 0) {
		rc = refuse(reason, "client_data_invalid");
		goto out;
	}
	if (strcmp(json_string_value(t), type) != 0) {
		rc = refuse(reason, "wrong_type");
		goto out;
	}
	if (strcmp(json_string_value(g), origin) != 0) {
		rc = refuse(reason, "wrong_origin");
		goto out;
	}
	if (json_is_true(x)) {
		rc = refuse(reason, "cross_origin");
		goto out;
	}
	memcpy(challenge, json_string_value(c), json_string_length(c) + 1);
	rc = PV_OK;
out:
	json_decref(o);
	return rc;
}

/* ---- CBOR helpers (libcbor) ---- */

static bool
cb_int(const cbor_item_t *it, int64_t *v)
{
	uint64_t u;

	if (cbor_isa_uint(it)) {
		u = cbor_get_int(it);
		if (u > INT64_MAX)
			return false;
		*v = (int64_t)u;
		return true;
	}
	if (cbor_isa_negint(it)) {
		u = cbor_get_int(it);
		if (u > INT64_MAX)
			return false;
		*v = -1 - (int64_t)u;
		return true;
	}
	return false;
}

static bool
cb_text_is(const cbor_item_t *it, const char *s)
{
	size_t n = strlen(s);

	return cbor_isa_string(it) && cbor_string_is_definite(it) &&
	    cbor_string_length(it) == n && memcmp(cbor_string_handle(it), s, n) == 0;
}

static bool
cb_bytes(const cbor_item_t *it, const uint8_t **p, size_t *n)
{
	if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
		return false;
	*p = cbor_bytestring_handle(it);
	*n = cbor_bytestring_length(it);
	return *p != NULL || *n == 0;
}

/* RFC 8949 §3 head: major type and argument; definite lengths only
 * (CTAP2 canonical CBOR has no indefinite item). */
static bool
cb_head(const uint8_t *b, size_t len, size_t *off, uint8_t *major, uint64_t *val)
{
	uint8_t ib, ai;
	size_t n, i;
	uint64_t v = 0;

	if (*off >= len)
		return false;
	ib = b[(*off)++];
	*major = ib >> 5;
	ai = ib & 31;
	if (ai < 24) {
		*val = ai;
		return true;
	}
	if (ai > 27)
		return false;
	n = (size_t)1 << (ai - 24);
	if (len - *off < n)
		return false;
	for (i = 0; i < n; i++)
		v = v << 8 | b[(*off)++];
	*val = v;
	return true;
}

/* Walk one well-formed item before libcbor sees it: every declared length
 * and count fits in what is left (an item takes at least a byte), nesting
 * is bounded, no tags. libcbor allocates by the declared counts, so this
 * is what keeps a 20-byte input from asking for gigabytes. */
static bool
cb_walk(const uint8_t *b, size_t len, size_t *off, int depth)
{
	uint8_t mj;
	uint64_t v, i;

	if (depth > 16 || !cb_head(b, len, off, &mj, &v))
		return false;
	switch (mj) {
	case 0:
	case 1:
	case 7:
		return true;
	case 2:
	case 3:
		if (v > len - *off)
			return false;
		*off += (size_t)v;
		return true;
	case 4:
	case 5:
		if (v > len - *off)
			return false;
		for (i = 0; i < (mj == 5 ? 2 * v : v); i++)
			if (!cb_walk(b, len, off, depth + 1))
				return false;
		return true;
	default:
		return false;   /* tags: none in WebAuthn's structures */
	}
}

/* One whole CBOR item at the start of b; *used = its length. */
static cbor_item_t *
cb_load(const uint8_t *b, size_t len, size_t *used)
{
	struct cbor_load_result r;
	cbor_item_t *it;
	size_t off = 0;

	if (len == 0 || !cb_walk(b, len, &off, 0))
		return NULL;
	it = cbor_load(b, off, &r);
	if (it == NULL)
		return NULL;
	if (r.error.code != CBOR_ERR_NONE || r.read == 0 || r.read > len) {
		cbor_decref(&it);
		return NULL;
	}
	*used = r.read;
	return it;
}

/* ---- COSE_Key ---- */

static EVP_PKEY *
ec_p256_key(const uint8_t x[32], const uint8_t y[32])
{
	uint8_t pt[65];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	char group[] = "prime256v1";

	pt[0] = 0x04;
	memcpy(pt + 1, x, 32);
	memcpy(pt + 33, y, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (k != NULL) {
		/* the point must be on the curve */
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);

		if (c == NULL || EVP_PKEY_public_check(c) != 1) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		EVP_PKEY_CTX_free(c);
	}
	return k;
}

enum pv_rc
authn_wa_cose_key(const uint8_t *b, size_t len, int *alg_out, EVP_PKEY **out)
{
	cbor_item_t *m;
	struct cbor_pair *pairs;
	size_t used = 0, i, n;
	int64_t kty = 0, alg = 0, crv = 0, k;
	const uint8_t *x = NULL, *y = NULL, *p;
	size_t xl = 0, yl = 0, pl;
	unsigned seen = 0;
	EVP_PKEY *key = NULL;
	enum pv_rc rc = PV_E_WEBAUTHN;

	if (b == NULL || len == 0 || len > AUTHN_WA_COSE_MAX)
		return PV_E_WEBAUTHN;
	if ((m = cb_load(b, len, &used)) == NULL)
		return PV_E_WEBAUTHN;
	if (used != len || !cbor_isa_map(m) || !cbor_map_is_definite(m))
		goto out;
	n = cbor_map_size(m);
	pairs = cbor_map_handle(m);
	for (i = 0; i < n; i++) {
		unsigned bit;

		if (!cb_int(pairs[i].key, &k))
			goto out;   /* a COSE_Key of ours has integer labels only */
		bit = k == 1 ? 1u : k == 3 ? 2u : k == -1 ? 4u : k == -2 ? 8u : k == -3 ? 16u : 0u;
		if (bit != 0 && (seen & bit))
			goto out;   /* duplicate label */
		seen |= bit;
		switch (k) {
		case 1:
			if (!cb_int(pairs[i].value, &kty))
				goto out;
			break;
		case 3:
			if (!cb_int(pairs[i].value, &alg))
				goto out;
			break;
		case -1:
			if (!cb_int(pairs[i].value, &crv))
				goto out;
			break;
		case -2:
			if (!cb_bytes(pairs[i].value, &p, &pl))
				goto out;
			x = p;
			xl = pl;
			break;
		case -3:
			if (!cb_bytes(pairs[i].value, &p, &pl))
				goto out;
			y = p;
			yl = pl;
			break;
		default:
			break;   /* kid, key_ops...: not used */
		}
	}
	if (kty == 2 && alg == AUTHN_WA_ES256 && crv == 1 && xl == 32 && yl == 32 &&
	    (seen & 31u) == 31u)
		key = ec_p256_key(x, y);
	else if (kty == 1 && alg == AUTHN_WA_EDDSA && crv == 6 && xl == 32 && y == NULL &&
	    (seen & 15u) == 15u)
		key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
	if (key == NULL)
		goto out;
	*alg_out = (int)alg;
	if (out != NULL)
		*out = key;
	else
		EVP_PKEY_free(key);
	rc = PV_OK;
out:
	cbor_decref(&m);
	return rc;
}

/* ---- authenticator data ---- */

enum pv_rc
authn_wa_authdata_parse(const uint8_t *ad, size_t len, struct authn_wa_authdata *out)
{
	size_t off = 37, used = 0;
	cbor_item_t *it;

	if (ad == NULL || len < 37 || len > AUTHN_WA_INPUT_MAX)
		return PV_E_WEBAUTHN;
	memset(out, 0, sizeof(*out));
	memcpy(out->rp_id_hash, ad, 32);
	out->flags = ad[32];
	out->sign_count = (uint32_t)ad[33] << 24 | (uint32_t)ad[34] << 16 |
	    (uint32_t)ad[35] << 8 | ad[36];
	if (out->flags & AUTHN_WA_FLAG_AT) {
		size_t idl;

		if (len - off < 18)
			return PV_E_WEBAUTHN;
		memcpy(out->aaguid, ad + off, 16);
		idl = (size_t)ad[off + 16] << 8 | ad[off + 17];
		off += 18;
		if (idl == 0 || idl > AUTHN_WA_CRED_ID_MAX || len - off < idl)
			return PV_E_WEBAUTHN;
		out->cred_id = ad + off;
		out->cred_id_len = idl;
		off += idl;
		if ((it = cb_load(ad + off, len - off, &used)) == NULL)
			return PV_E_WEBAUTHN;
		cbor_decref(&it);
		out->cose_key = ad + off;
		out->cose_key_len = used;
		off += used;
	}
	if (out->flags & AUTHN_WA_FLAG_ED) {
		if ((it = cb_load(ad + off, len - off, &used)) == NULL)
			return PV_E_WEBAUTHN;
		if (!cbor_isa_map(it)) {
			cbor_decref(&it);
			return PV_E_WEBAUTHN;
		}
		cbor_decref(&it);
		off += used;
	}
	return off == len ? PV_OK : PV_E_WEBAUTHN;
}

/* ---- signatures ---- */

enum pv_rc
authn_wa_verify(int alg, EVP_PKEY *key, const uint8_t *ad, size_t adlen, const uint8_t *cdj,
    size_t cdjlen, const uint8_t *sig, size_t siglen)
{
	uint8_t *msg = NULL;
	EVP_MD_CTX *ctx = NULL;
	enum pv_rc rc = PV_E_WEBAUTHN;

	if (key == NULL || ad == NULL || cdj == NULL || sig == NULL || siglen == 0 ||
	    adlen > AUTHN_WA_INPUT_MAX || siglen > 512 ||
	    (alg != AUTHN_WA_ES256 && alg != AUTHN_WA_EDDSA))
		return PV_E_WEBAUTHN;
	if ((msg = malloc(adlen + CRYPTO_SHA256_LEN)) == NULL)
		return PV_E_NOMEM;
	memcpy(msg, ad, adlen);
	if (crypto_sha256(cdj, cdjlen, msg + adlen) != PV_OK)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, alg == AUTHN_WA_ES256 ? EVP_sha256() : NULL, NULL,
	    key) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, siglen, msg, adlen + CRYPTO_SHA256_LEN) == 1)
		rc = PV_OK;
out:
	EVP_MD_CTX_free(ctx);
	free(msg);
	return rc;
}

/* ---- registration (§7.1 steps 11-21, without the client data) ---- */

void
authn_wa_registration_clear(struct authn_wa_registration *r)
{
	if (r == NULL)
		return;
	free(r->cred_id);
	free(r->cose_key);
	memset(r, 0, sizeof(*r));
}

static enum pv_rc
rp_flags_check(const struct authn_wa_authdata *d, const char *rp_id, const char **reason)
{
	uint8_t h[CRYPTO_SHA256_LEN];

	if (crypto_sha256(rp_id, strlen(rp_id), h) != PV_OK)
		return PV_E_CRYPTO;
	if (!crypto_memeq(h, d->rp_id_hash, sizeof(h)))
		return refuse(reason, "rp_id_mismatch");
	if (!(d->flags & AUTHN_WA_FLAG_UP))
		return refuse(reason, "up_missing");
	if (!(d->flags & AUTHN_WA_FLAG_UV))
		return refuse(reason, "uv_missing");
	return PV_OK;
}

enum pv_rc
authn_wa_registration_verify(const uint8_t *att, size_t attlen, const uint8_t *cdj,
    size_t cdjlen, const char *rp_id, struct authn_wa_registration *out, const char **reason)
{
	cbor_item_t *m = NULL;
	struct cbor_pair *pairs;
	const cbor_item_t *fmt = NULL, *stmt = NULL, *adi = NULL;
	const uint8_t *ad = NULL, *sig = NULL;
	size_t adlen = 0, siglen = 0, used = 0, i, n;
	struct authn_wa_authdata d;
	EVP_PKEY *key = NULL;
	int alg = 0;
	enum pv_rc rc;

	memset(out, 0, sizeof(*out));
	if (att == NULL || attlen == 0 || attlen > AUTHN_WA_INPUT_MAX || rp_id == NULL)
		return refuse(reason, "attestation_invalid");
	if ((m = cb_load(att, attlen, &used)) == NULL || used != attlen || !cbor_isa_map(m)) {
		rc = refuse(reason, "attestation_invalid");
		goto out;
	}
	n = cbor_map_size(m);
	pairs = cbor_map_handle(m);
	for (i = 0; i < n; i++) {
		const cbor_item_t **slot = cb_text_is(pairs[i].key, "fmt") ? &fmt :
		    cb_text_is(pairs[i].key, "attStmt") ? &stmt :
		    cb_text_is(pairs[i].key, "authData") ? &adi : NULL;

		if (slot == NULL || *slot != NULL) {
			rc = refuse(reason, "attestation_invalid");
			goto out;
		}
		*slot = pairs[i].value;
	}
	if (fmt == NULL || stmt == NULL || adi == NULL || !cbor_isa_string(fmt) ||
	    !cbor_string_is_definite(fmt) || !cbor_isa_map(stmt) || !cb_bytes(adi, &ad, &adlen)) {
		rc = refuse(reason, "attestation_invalid");
		goto out;
	}
	if (authn_wa_authdata_parse(ad, adlen, &d) != PV_OK) {
		rc = refuse(reason, "auth_data_invalid");
		goto out;
	}
	if ((rc = rp_flags_check(&d, rp_id, reason)) != PV_OK)
		goto out;
	if (!(d.flags & AUTHN_WA_FLAG_AT) || d.cose_key == NULL) {
		rc = refuse(reason, "at_missing");
		goto out;
	}
	if (authn_wa_cose_key(d.cose_key, d.cose_key_len, &alg, &key) != PV_OK) {
		rc = refuse(reason, "key_unsupported");
		goto out;
	}
	if (cb_text_is(fmt, "none")) {
		if (cbor_map_size(stmt) != 0) {
			rc = refuse(reason, "attestation_invalid");
			goto out;
		}
		util_strlcpy(out->fmt, "none", sizeof(out->fmt));
	} else if (cb_text_is(fmt, "packed")) {
		struct cbor_pair *sp = cbor_map_handle(stmt);
		size_t sn = cbor_map_size(stmt);
		int64_t salg = 0;
		bool have_alg = false;

		for (i = 0; i < sn; i++) {
			if (cb_text_is(sp[i].key, "alg") && !have_alg && cb_int(sp[i].value, &salg)) {
				have_alg = true;
			} else if (cb_text_is(sp[i].key, "sig") && sig == NULL &&
			    cb_bytes(sp[i].value, &sig, &siglen)) {
				;
			} else {
				/* x5c (a certificate chain to verify), ecdaaKeyId, junk */
				rc = refuse(reason, "attestation_unsupported");
				goto out;
			}
		}
		if (!have_alg || sig == NULL || salg != alg) {
			rc = refuse(reason, "attestation_invalid");
			goto out;
		}
		if (authn_wa_verify(alg, key, ad, adlen, cdj, cdjlen, sig, siglen) != PV_OK) {
			rc = refuse(reason, "bad_signature");
			goto out;
		}
		util_strlcpy(out->fmt, "packed", sizeof(out->fmt));
	} else {
		rc = refuse(reason, "attestation_unsupported");
		goto out;
	}
	if ((out->cred_id = malloc(d.cred_id_len)) == NULL ||
	    (out->cose_key = malloc(d.cose_key_len)) == NULL) {
		authn_wa_registration_clear(out);
		rc = PV_E_NOMEM;
		goto out;
	}
	memcpy(out->cred_id, d.cred_id, d.cred_id_len);
	out->cred_id_len = d.cred_id_len;
	memcpy(out->cose_key, d.cose_key, d.cose_key_len);
	out->cose_key_len = d.cose_key_len;
	out->alg = alg;
	out->sign_count = d.sign_count;
	out->flags = d.flags;
	memcpy(out->aaguid, d.aaguid, sizeof(out->aaguid));
	rc = PV_OK;
out:
	EVP_PKEY_free(key);
	if (m != NULL)
		cbor_decref(&m);
	return rc;
}

/* ---- assertion (§7.2 steps 15-21, without the client data) ---- */

enum pv_rc
authn_wa_assertion_verify(const uint8_t *ad, size_t adlen, const uint8_t *cdj, size_t cdjlen,
    const uint8_t *sig, size_t siglen, const char *rp_id, const uint8_t *cose, size_t coselen,
    int stored_alg, int64_t stored_count, uint32_t *new_count, const char **reason)
{
	struct authn_wa_authdata d;
	EVP_PKEY *key = NULL;
	int alg = 0;
	enum pv_rc rc;

	if (authn_wa_authdata_parse(ad, adlen, &d) != PV_OK)
		return refuse(reason, "auth_data_invalid");
	if ((rc = rp_flags_check(&d, rp_id, reason)) != PV_OK)
		return rc;
	if (authn_wa_cose_key(cose, coselen, &alg, &key) != PV_OK || alg != stored_alg) {
		EVP_PKEY_free(key);
		return refuse(reason, "key_unsupported");
	}
	rc = authn_wa_verify(alg, key, ad, adlen, cdj, cdjlen, sig, siglen);
	EVP_PKEY_free(key);
	if (rc != PV_OK)
		return rc == PV_E_NOMEM ? rc : refuse(reason, "bad_signature");
	if ((d.sign_count != 0 || stored_count != 0) && (int64_t)d.sign_count <= stored_count)
		return refuse(reason, "counter_rollback");
	*new_count = d.sign_count;
	return PV_OK;
}
