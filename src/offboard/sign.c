/*
 * offboard/sign.c: the vault id and the signed documents of offboarding
 * (the export manifest, the certificate of destruction). Format in
 * offboard.h: "signature" = hex Ed25519(audit key, tag || compact sorted
 * JSON of the object without "signature"). Integers only in a signed
 * object, so every reader renders the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "offboard/offboard_int.h"

enum pv_rc
offboard_vault_id(struct store *st, char id[OFFBOARD_VAULT_ID_MAX])
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], h[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	enum pv_rc rc;

	if ((rc = keys_audit_public_key(st, pub)) != PV_OK ||
	    (rc = crypto_sha256(pub, sizeof(pub), h)) != PV_OK)
		return rc;
	util_hex_encode(h, sizeof(h), hex);
	memcpy(id, "pv-", 3);
	memcpy(id + 3, hex, 16);
	id[19] = '\0';
	return PV_OK;
}

static char *
signed_text(json_t *doc, const char *tag)
{
	json_t *copy = json_deep_copy(doc);
	char *body, *msg = NULL;

	if (copy == NULL)
		return NULL;
	json_object_del(copy, "signature");
	body = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	if (body != NULL && asprintf(&msg, "%s%s", tag, body) < 0)
		msg = NULL;
	free(body);
	return msg;
}

enum pv_rc
offboard_sign(struct keys *k, json_t *doc, const char *tag)
{
	uint8_t sig[CRYPTO_ED25519_SIG_LEN];
	char hex[2 * CRYPTO_ED25519_SIG_LEN + 1];
	char *msg = signed_text(doc, tag);
	enum pv_rc rc;

	if (msg == NULL)
		return PV_E_NOMEM;
	rc = keys_audit_sign(k, (const uint8_t *)msg, strlen(msg), sig);
	free(msg);
	if (rc != PV_OK)
		return rc;
	util_hex_encode(sig, sizeof(sig), hex);
	return json_object_set_new(doc, "signature", json_string(hex)) == 0 ? PV_OK : PV_E_NOMEM;
}

bool
offboard_signature_ok(json_t *doc, const char *tag, const uint8_t *pub_in, char *fp, size_t fplen)
{
	const char *hex = json_string_value(json_object_get(doc, "signature"));
	const char *khex = json_string_value(json_object_get(doc, "audit_public_key"));
	uint8_t sig[CRYPTO_ED25519_SIG_LEN], pub[CRYPTO_ED25519_PUB_LEN];
	char f[AUDIT_FINGERPRINT_LEN + 1];
	char *msg;
	bool ok;

	if (pub_in != NULL)
		memcpy(pub, pub_in, sizeof(pub));
	else if (khex == NULL || strlen(khex) != 2 * sizeof(pub) ||
	    util_hex_decode(khex, pub, sizeof(pub)) != 0)
		return false;
	/* the key the document names must be the one it verifies under */
	if (khex != NULL && pub_in != NULL) {
		uint8_t named[CRYPTO_ED25519_PUB_LEN];

		if (strlen(khex) != 2 * sizeof(named) || util_hex_decode(khex, named, sizeof(named)) != 0 ||
		    !crypto_memeq(named, pub, sizeof(pub)))
			return false;
	}
	if (fp != NULL && audit_key_fingerprint(pub, f) == PV_OK)
		util_strlcpy(fp, f, fplen);
	if (hex == NULL || strlen(hex) != 2 * sizeof(sig) || util_hex_decode(hex, sig, sizeof(sig)) != 0)
		return false;
	if ((msg = signed_text(doc, tag)) == NULL)
		return false;
	ok = crypto_ed25519_verify(pub, (const uint8_t *)msg, strlen(msg), sig) == PV_OK;
	free(msg);
	return ok;
}

enum pv_rc
offboard_file_sha256(const char *path, char hex[65])
{
	uint8_t *buf = NULL, h[CRYPTO_SHA256_LEN];
	size_t len = 0;
	enum pv_rc rc;

	/* ciphertext only: reading it whole is bounded by OFFBOARD_FILE_MAX */
	if ((rc = util_file_read(path, OFFBOARD_FILE_MAX, &buf, &len)) != PV_OK)
		return rc;
	rc = crypto_sha256(buf, len, h);
	free(buf);
	if (rc == PV_OK)
		util_hex_encode(h, sizeof(h), hex);
	return rc;
}
