/*
 * vault/blind_index.c: the blind-index MAC itself, through the keyring.
 * Kept apart from blind.c so that code needing only the input format does not
 * pull in keys (static linking takes whole object files).
 *
 * Key: keys_mac(k, "index:<collection>", purpose = "<field>") is HMAC-SHA256
 * under HKDF(KEK "index:<collection>" v1, info = field) (RFC 5869): one index
 * key per searchable field, stable across KEK rotation so old indexes keep
 * matching. Revoking v1 of that KEK makes every index of the collection
 * unusable, as it should after crypto-shredding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "vault/vault_int.h"

_Static_assert(VAULT_BLIND_LEN == CRYPTO_SHA256_LEN, "blind index is one HMAC-SHA256");

enum pv_rc vault_blind_index(struct keys *k, const char *collection, const char *field,
    const char *canonical, uint8_t out[VAULT_BLIND_LEN])
{
	char kek[sizeof("index:") + VAULT_NAME_MAX];
	uint8_t mac[CRYPTO_SHA256_LEN];
	uint8_t *buf = NULL;
	size_t len = 0;
	enum pv_rc rc;
	int n;

	if (k == NULL || out == NULL)
		return PV_E_INVALID;
	buf = malloc(VAULT_BLIND_INPUT_MAX);
	if (buf == NULL)
		return PV_E_NOMEM;
	rc = vault_blind_input(collection, field, canonical, buf, VAULT_BLIND_INPUT_MAX, &len);
	if (rc != PV_OK)
		goto out;
	n = snprintf(kek, sizeof(kek), "index:%s", collection);
	if (n < 0 || (size_t)n >= sizeof(kek)) {
		rc = PV_E_INVALID;
		goto out;
	}
	rc = keys_mac(k, kek, field, buf, len, mac);
	if (rc != PV_OK)
		goto out;
	memcpy(out, mac, VAULT_BLIND_LEN);
out:
	vault_wipe(mac, sizeof(mac));
	vault_wipe(buf, VAULT_BLIND_INPUT_MAX);
	free(buf);
	return rc;
}
