/* bootstrap: see bootstrap.h. */
#include <string.h>

#include "cli/bootstrap.h"
#include "authn/authn.h"
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
	enum pv_rc rc;

	if ((rc = bootstrap_password(password, pwlen)) != PV_OK)
		return rc;
	/* a real user: role admin, one-time password (restricted first login),
	 * recorded as user.create by the audit writer */
	return authn_bootstrap_admin(st, audit, cfg, username, password, NULL);
}
