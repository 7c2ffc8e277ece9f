/*
 * token: opaque bearer tokens. 32 random bytes (256 bits) from the CSPRNG,
 * written as a kind prefix + base64url without padding (RFC 4648 §5):
 * "pvt_" for sessions, "pvm_" for a login that still owes its TOTP code,
 * "pva_" for an app's session and "pvs_" for an app's secret.
 * The prefix lets secret scanners recognise a leaked phivault token and
 * keeps a pending-MFA token from ever being accepted as a session.
 *
 * Only hex SHA-256(token text) is stored: a database reader cannot replay
 * a session, and the lookup by hash needs no constant-time compare (the
 * hash of a guess reveals nothing about a stored token's text).
 *
 * Invariants:
 *  - A presented token is checked for exact length, prefix and canonical
 *    base64url before it is hashed; anything else is PV_E_UNAUTH.
 *  - The random bytes are wiped after encoding.
 */
#include <string.h>

#include "authn/authn.h"
#include "crypto/crypto.h"

#define B64URL_CHARS 43              /* ceil(32 * 8 / 6) */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char *
kind_prefix(enum authn_token_kind kind)
{
	switch (kind) {
	case AUTHN_TOKEN_SESSION:
		return "pvt_";
	case AUTHN_TOKEN_MFA:
		return "pvm_";
	case AUTHN_TOKEN_APP:
		return "pva_";
	case AUTHN_TOKEN_APP_SECRET:
		return "pvs_";
	}
	return NULL;
}

static void
b64url_encode32(const uint8_t in[AUTHN_TOKEN_RAND_LEN], char out[B64URL_CHARS + 1])
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= AUTHN_TOKEN_RAND_LEN; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	/* 32 = 30 + 2: the last two bytes make three characters. */
	v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
	out[o++] = b64url[v >> 18];
	out[o++] = b64url[(v >> 12) & 63];
	out[o++] = b64url[(v >> 6) & 63];
	out[o] = '\0';
}

static int
b64url_val(char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64url, c)) == NULL)
		return -1;
	return (int)(p - b64url);
}

static enum pv_rc
hash_text(const char *token, char out[AUTHN_HASH_HEX_MAX])
{
	uint8_t md[CRYPTO_SHA256_LEN];
	enum pv_rc rc;

	if ((rc = crypto_sha256(token, AUTHN_TOKEN_LEN, md)) == PV_OK)
		util_hex_encode(md, sizeof(md), out);
	return rc;
}

enum pv_rc
authn_token_new(enum authn_token_kind kind, char token[AUTHN_TOKEN_MAX],
    char hash[AUTHN_HASH_HEX_MAX])
{
	uint8_t rnd[AUTHN_TOKEN_RAND_LEN];
	char t[AUTHN_TOKEN_MAX], h[AUTHN_HASH_HEX_MAX];
	const char *prefix = kind_prefix(kind);
	enum pv_rc rc;

	if (prefix == NULL || token == NULL || hash == NULL) {
		rc = PV_E_INVALID;
		goto out;
	}
	if ((rc = crypto_random(rnd, sizeof(rnd))) != PV_OK)
		goto out;
	memcpy(t, prefix, 4);
	b64url_encode32(rnd, t + 4);
	if ((rc = hash_text(t, h)) != PV_OK)
		goto out;
	memcpy(token, t, sizeof(t));
	memcpy(hash, h, sizeof(h));
out:
	crypto_wipe(rnd, sizeof(rnd));
	crypto_wipe(t, sizeof(t));
	return rc;
}

enum pv_rc
authn_token_hash(enum authn_token_kind kind, const char *token, char hash[AUTHN_HASH_HEX_MAX])
{
	const char *prefix = kind_prefix(kind);
	char h[AUTHN_HASH_HEX_MAX];
	enum pv_rc rc;
	size_t i;
	int v = 0;

	if (prefix == NULL || token == NULL || hash == NULL)
		return PV_E_UNAUTH;
	if (strnlen(token, AUTHN_TOKEN_MAX) != AUTHN_TOKEN_LEN || memcmp(token, prefix, 4) != 0)
		return PV_E_UNAUTH;
	for (i = 4; i < AUTHN_TOKEN_LEN; i++)
		if ((v = b64url_val(token[i])) < 0)
			return PV_E_UNAUTH;
	/* Canonical: the last character carries 4 data bits and 2 zero bits
	 * (256 = 42 * 6 + 4); a token with them set was never issued. */
	if ((v & 3) != 0)
		return PV_E_UNAUTH;
	if ((rc = hash_text(token, h)) != PV_OK)
		return rc;
	memcpy(hash, h, sizeof(h));
	return PV_OK;
}
