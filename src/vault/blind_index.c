/*
 * vault/blind_index.c: the blind-index MAC itself, through the keyring.
 * Kept apart from blind.c so that code needing only the input format does not
 * pull in keys (static linking takes whole object files).
 *
 * Key: keys_mac_version(k, "index:<collection>", vN, purpose = "<field>") is
 * HMAC-SHA256 under HKDF(KEK "index:<collection>" vN, info = field) (RFC
 * 5869): one index key per searchable field and KEK version. Writes use the
 * active version and store it with the entry; a search MACs its value once
 * per live version (keys_mac_versions), so entries of an older version keep
 * matching until the re-index job (ops_keys.c) has moved them. Once no
 * entry is under a version (census 0) it can be retired and revoked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "vault/vault_int.h"

_Static_assert(VAULT_BLIND_LEN == CRYPTO_SHA256_LEN, "blind index is one HMAC-SHA256");

/* version 0: the active version (read from the store), written to *used */
static enum pv_rc blind_mac(struct keys *k, const char *collection, const char *field,
    uint32_t version, const char *canonical, uint8_t out[VAULT_BLIND_LEN], uint32_t *used)
{
	char kek[sizeof("index:") + VAULT_NAME_MAX];
	uint8_t mac[CRYPTO_SHA256_LEN];
	/* on the stack, and only the len bytes written are wiped (the input
	 * is short, the buffer 4 KiB: a block and a 4 KiB wipe a field saved) */
	uint8_t buf[VAULT_BLIND_INPUT_MAX];
	size_t len = 0;
	uint32_t v = version;
	enum pv_rc rc;
	int n;

	if (k == NULL || out == NULL)
		return PV_E_INVALID;
	/* writes nothing unless it succeeds, then exactly len bytes */
	rc = vault_blind_input(collection, field, canonical, buf, VAULT_BLIND_INPUT_MAX, &len);
	if (rc != PV_OK)
		goto out;
	n = snprintf(kek, sizeof(kek), "index:%s", collection);
	if (n < 0 || (size_t)n >= sizeof(kek)) {
		rc = PV_E_INVALID;
		goto out;
	}
	rc = version == 0 ? keys_mac_active(k, kek, field, buf, len, mac, &v) :
	    keys_mac_version(k, kek, version, field, buf, len, mac);
	if (rc != PV_OK)
		goto out;
	memcpy(out, mac, VAULT_BLIND_LEN);
	if (used != NULL)
		*used = v;
out:
	vault_wipe(mac, sizeof(mac));
	vault_wipe(buf, len);
	return rc;
}

enum pv_rc vault_blind_index(struct keys *k, const char *collection, const char *field,
    const char *canonical, uint8_t out[VAULT_BLIND_LEN])
{
	return blind_mac(k, collection, field, 1, canonical, out, NULL);
}

enum pv_rc vault_blind_index_version(struct keys *k, const char *collection, const char *field,
    uint32_t version, const char *canonical, uint8_t out[VAULT_BLIND_LEN])
{
	if (version == 0)
		return PV_E_INVALID;
	return blind_mac(k, collection, field, version, canonical, out, NULL);
}

enum pv_rc vault_blind_index_active(struct keys *k, const char *collection, const char *field,
    const char *canonical, uint8_t out[VAULT_BLIND_LEN], uint32_t *version)
{
	if (version == NULL)
		return PV_E_INVALID;
	return blind_mac(k, collection, field, 0, canonical, out, version);
}
