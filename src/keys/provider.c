/*
 * provider: the table of key providers (keys_int.h), looked up by the name a
 * seal or a key records, and the soft provider: a wrapping key held in our
 * own locked memory (struct pv_secret), the box of crypto_gcmbox_seal. The
 * pkcs11 provider is in pkcs11.c. Adding a provider is adding a row here.
 */
#include <string.h>

#include "keys/keys_int.h"

static enum pv_rc
soft_wrap(void *ctx, const char *label, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	const struct pv_secret *key = ctx;

	(void)label;
	if (key == NULL || key->len != CRYPTO_KEY_LEN)
		return PV_E_INVALID;
	return crypto_gcmbox_seal(key->buf, NULL, aad, aadlen, pt, ptlen, out);
}

static enum pv_rc
soft_unwrap(void *ctx, const char *label, const uint8_t *aad, size_t aadlen,
    const uint8_t *in, size_t inlen, uint8_t *pt)
{
	const struct pv_secret *key = ctx;

	(void)label;
	if (key == NULL || key->len != CRYPTO_KEY_LEN)
		return PV_E_INVALID;
	return crypto_gcmbox_open(key->buf, aad, aadlen, in, inlen, pt);
}

const struct keys_provider keys_provider_soft = { "soft", soft_wrap, soft_unwrap };

static const struct keys_provider *const providers[] = {
	&keys_provider_soft,
	&keys_provider_pkcs11,
};

const struct keys_provider *
keys_provider_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}
