/*
 * secrets/seal.c: secret paths, and a version's envelope.
 *
 * A version is sealed like a record (vault record.c), with the keyring's
 * envelope helpers (keys_envelope_seal / _open: AES-256-GCM under a fresh
 * DEK, the DEK wrapped by the current version of KEK "secrets"). The AAD
 * (NIST SP 800-38D section 5.2.1.1: authenticated, not encrypted), ASCII,
 * no NUL:
 *
 *   phivault:secret:v1|<path>|<version>     e.g. phivault:secret:v1|apps/billing/db|3
 *
 * `v1` is the format of this string; version is decimal, >= 1. A path
 * never holds '|' (secrets_path_valid), so the encoding is injective: a
 * ciphertext moved to another path or version does not open.
 *
 * Plaintext (the value's bytes) lives only in locked, non-dumpable memory
 * (struct pv_secret) and is wiped when freed; none is released before the
 * GCM tag verified (keys_envelope_open checks it first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets/secrets_int.h"

bool secrets_path_valid(const char *path)
{
	size_t n, seg = 0, depth = 1;

	if (path == NULL)
		return false;
	n = strnlen(path, SECRETS_PATH_MAX + 1);
	if (n == 0 || n > SECRETS_PATH_MAX || path[0] == '/' || path[n - 1] == '/')
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = path[i];

		if (c == '/' || c == '\0') {
			size_t len = i - seg;

			if (len == 0 || (len == 1 && path[seg] == '.') ||
			    (len == 2 && path[seg] == '.' && path[seg + 1] == '.'))
				return false;
			if (c == '/' && ++depth > SECRETS_DEPTH_MAX)
				return false;
			seg = i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return false;
	}
	return true;
}

enum pv_rc secrets_aad(const char *path, uint32_t version, char *buf, size_t len,
    size_t *outlen)
{
	int n;

	if (!secrets_path_valid(path) || version < 1)
		return PV_E_INVALID;
	n = snprintf(buf, len, SECRETS_AAD_PREFIX "%s|%u", path, (unsigned)version);
	if (n < 0 || (size_t)n >= len)
		return PV_E_INVALID;
	*outlen = (size_t)n;
	return PV_OK;
}

void secrets_resource(char *buf, size_t len, const char *path)
{
	snprintf(buf, len, "secrets/%s", secrets_path_valid(path) ? path : "(invalid)");
}

enum pv_rc secrets_seal(struct keys *k, const char *path, uint32_t version,
    const uint8_t *value, size_t len, struct store_secret_version *out)
{
	struct store_secret_version v;
	struct keys_envelope env;
	char aad[SECRETS_AAD_MAX];
	size_t aadlen = 0;
	enum pv_rc rc;

	if (len > SECRETS_VALUE_MAX || (len > 0 && value == NULL))
		return PV_E_INVALID;
	if ((rc = secrets_aad(path, version, aad, sizeof(aad), &aadlen)) != PV_OK)
		return rc;
	memset(&v, 0, sizeof(v));
	memset(&env, 0, sizeof(env));
	v.ciphertext = malloc(len + CRYPTO_BOX_OVERHEAD);
	v.wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN);
	if (v.ciphertext == NULL || v.wrapped_dek == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = keys_envelope_seal(k, STORE_SECRETS_KEK, (const uint8_t *)aad, aadlen,
	    len > 0 ? value : (const uint8_t *)"", len, v.ciphertext, &env);
	if (rc != PV_OK)
		goto out;
	v.ciphertext_len = len + CRYPTO_BOX_OVERHEAD;
	memcpy(v.wrapped_dek, env.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	v.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	util_strlcpy(v.path, path, sizeof(v.path));
	util_strlcpy(v.kek_name, env.kek_name, sizeof(v.kek_name));
	v.kek_version = env.kek_version;
	v.version = version;
	*out = v;
	memset(&v, 0, sizeof(v));
out:
	store_secret_version_clear(&v);
	return rc;
}

enum pv_rc secrets_open(struct keys *k, const struct store_secret_version *v,
    struct pv_secret **value)
{
	struct keys_envelope env;
	struct pv_secret *pt = NULL;
	char aad[SECRETS_AAD_MAX];
	size_t aadlen = 0, ptlen;
	enum pv_rc rc;

	if (v->wrapped_dek == NULL || v->ciphertext == NULL || v->destroyed_ms != 0)
		return PV_E_SECRET_DESTROYED;
	if (v->wrapped_dek_len != KEYS_WRAPPED_DEK_LEN || v->ciphertext_len < CRYPTO_BOX_OVERHEAD ||
	    v->ciphertext_len - CRYPTO_BOX_OVERHEAD > SECRETS_VALUE_MAX ||
	    strlen(v->kek_name) >= sizeof(env.kek_name))
		return PV_E_INTEGRITY;
	if ((rc = secrets_aad(v->path, v->version, aad, sizeof(aad), &aadlen)) != PV_OK)
		return PV_E_INTEGRITY;
	memset(&env, 0, sizeof(env));
	util_strlcpy(env.kek_name, v->kek_name, sizeof(env.kek_name));
	env.kek_version = v->kek_version;
	memcpy(env.wrapped_dek, v->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	ptlen = v->ciphertext_len - CRYPTO_BOX_OVERHEAD;
	/* one byte more than the value, so an empty value still has a buffer */
	if ((rc = crypto_secret_new(ptlen + 1, &pt)) != PV_OK)
		return rc;
	rc = keys_envelope_open(k, &env, (const uint8_t *)aad, aadlen, v->ciphertext,
	    v->ciphertext_len, pt->buf);
	if (rc == PV_E_FORBIDDEN)
		rc = PV_E_KEY_REVOKED;   /* its KEK version was revoked: gone for good */
	if (rc != PV_OK) {
		crypto_secret_free(pt);
		return rc;
	}
	pt->len = ptlen;
	*value = pt;
	return PV_OK;
}
