/* bootstrap: see bootstrap.h. */
#include <sodium.h>
#include <string.h>

#include "cli/bootstrap.h"
#include "crypto/crypto.h"

#define OTP_LEN 20

enum pv_rc
bootstrap_password(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	uint8_t rnd[OTP_LEN];
	size_t i;
	enum pv_rc rc;

	if (len < OTP_LEN + 1)
		return PV_E_INVALID;
	/* 55 symbols: reject-sample bytes >= 220 (4 * 55) so every symbol is equally likely */
	for (i = 0; i < OTP_LEN;) {
		uint8_t b;

		if ((rc = crypto_random(&b, 1)) != PV_OK)
			return rc;
		if (b >= 220)
			continue;
		rnd[i] = b;
		out[i] = alphabet[b % 55];
		i++;
	}
	out[OTP_LEN] = '\0';
	crypto_wipe(rnd, sizeof(rnd));
	return PV_OK;
}

enum pv_rc
bootstrap_admin(struct store *st, struct audit *audit, const struct pv_config *cfg,
    const char *username, char *password, size_t pwlen)
{
	char hash[crypto_pwhash_STRBYTES];
	enum pv_rc rc;

	(void)audit;
	(void)username;
	if ((rc = bootstrap_password(password, pwlen)) != PV_OK)
		return rc;
	if (sodium_init() < 0)
		return PV_E_CRYPTO;
	if (crypto_pwhash_str_alg(hash, password, strlen(password), cfg->argon2_opslimit,
	    cfg->argon2_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return PV_E_NOMEM;
	rc = store_meta_put(st, "bootstrap.admin_password", (const uint8_t *)hash, strlen(hash));
	crypto_wipe(hash, sizeof(hash));
	return rc;
}
