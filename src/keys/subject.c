/*
 * keys/subject.c: subject (patient) keys, keys.h "subject keys". A subject
 * key is data sealed under an ordinary envelope of a KEK; it is opened into
 * locked memory (crypto_secret_new) for one wrap or unwrap and wiped before
 * the call returns: no caller ever holds its bytes.
 */
#include <string.h>

#include "keys/keys.h"

enum pv_rc keys_subject_key_new(struct keys *k, const char *kek_name,
    const uint8_t *aad, size_t aadlen, struct keys_subject_key *out)
{
	struct pv_secret *key = NULL;
	struct keys_subject_key sk;
	enum pv_rc rc;

	if (k == NULL || kek_name == NULL || out == NULL)
		return PV_E_INVALID;
	memset(&sk, 0, sizeof(sk));
	if ((rc = crypto_secret_random(CRYPTO_KEY_LEN, &key)) != PV_OK)
		return rc;
	rc = keys_envelope_seal(k, kek_name, aad, aadlen, key->buf, CRYPTO_KEY_LEN, sk.ct, &sk.env);
	crypto_secret_free(key);
	if (rc == PV_OK)
		*out = sk;
	return rc;
}

static enum pv_rc subject_open(struct keys *k, const struct keys_subject_key *sk,
    const uint8_t *aad, size_t aadlen, struct pv_secret **out)
{
	struct pv_secret *key = NULL;
	enum pv_rc rc;

	if ((rc = crypto_secret_new(CRYPTO_KEY_LEN, &key)) != PV_OK)
		return rc;
	rc = keys_envelope_open(k, &sk->env, aad, aadlen, sk->ct, sizeof(sk->ct), key->buf);
	if (rc != PV_OK) {
		crypto_secret_free(key);
		return rc;
	}
	*out = key;
	return PV_OK;
}

enum pv_rc keys_subject_wrap(struct keys *k, const struct keys_subject_key *sk,
    const uint8_t *key_aad, size_t key_aadlen, const uint8_t *wrap_aad, size_t wrap_aadlen,
    const uint8_t *in, size_t inlen, uint8_t *out)
{
	struct pv_secret *key = NULL;
	enum pv_rc rc;

	if (k == NULL || sk == NULL || in == NULL || out == NULL)
		return PV_E_INVALID;
	if ((rc = subject_open(k, sk, key_aad, key_aadlen, &key)) != PV_OK)
		return rc;
	rc = crypto_gcmbox_seal(key->buf, NULL, wrap_aad, wrap_aadlen, in, inlen, out);
	crypto_secret_free(key);
	return rc;
}

enum pv_rc keys_subject_unwrap(struct keys *k, const struct keys_subject_key *sk,
    const uint8_t *key_aad, size_t key_aadlen, const uint8_t *wrap_aad, size_t wrap_aadlen,
    const uint8_t *in, size_t inlen, uint8_t *out)
{
	struct pv_secret *key = NULL;
	enum pv_rc rc;

	if (k == NULL || sk == NULL || in == NULL || out == NULL || inlen < CRYPTO_BOX_OVERHEAD)
		return PV_E_INVALID;
	if ((rc = subject_open(k, sk, key_aad, key_aadlen, &key)) != PV_OK)
		return rc;
	rc = crypto_gcmbox_open(key->buf, wrap_aad, wrap_aadlen, in, inlen, out);
	crypto_secret_free(key);
	return rc == PV_OK ? PV_OK : PV_E_INTEGRITY;
}
