/*
 * recovery: the ten single-use MFA recovery codes handed out when TOTP is
 * confirmed (NIST SP 800-63B §5.1.2 "look-up secrets").
 *
 * Format: 10 characters from a 31-letter alphabet without look-alikes
 * (no i, l, o, 0, 1), shown as "xxxxx-xxxxx"; 10 * log2(31) ~ 49.5 bits,
 * above the 20 bits §5.1.2.1 asks of a look-up secret. Stored as the hex
 * SHA-256 of the normalized code (lowercase, no separators): a code is
 * random, so it needs no salt or slow hash to resist guessing online; the
 * lockout counts failed MFA attempts, recovery codes included.
 *
 * Invariants:
 *  - Characters are drawn by rejection sampling (no modulo bias).
 *  - User input is normalized the same way before hashing (case, '-', ' '),
 *    and anything that cannot be a code is PV_E_UNAUTH, never a hash.
 *  - authn_recovery_find compares against every stored hash, in constant
 *    time, whatever matches; the caller marks the matched code used.
 */
#include <string.h>

#include "authn/authn.h"
#include "crypto/crypto.h"

static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
#define ALPHABET_LEN (sizeof(alphabet) - 1)
/* Largest multiple of 31 not above 256: bytes >= this are redrawn. */
#define SAMPLE_LIMIT (256 - 256 % ALPHABET_LEN)

static enum pv_rc
hash_normalized(const char norm[AUTHN_RECOVERY_CHARS], char out[AUTHN_HASH_HEX_MAX])
{
	uint8_t md[CRYPTO_SHA256_LEN];
	enum pv_rc rc;

	if ((rc = crypto_sha256(norm, AUTHN_RECOVERY_CHARS, md)) == PV_OK)
		util_hex_encode(md, sizeof(md), out);
	return rc;
}

/* One code: draw random bytes, keep those below SAMPLE_LIMIT. */
static enum pv_rc
draw_code(char norm[AUTHN_RECOVERY_CHARS])
{
	uint8_t rnd[32];
	size_t got = 0, i;
	enum pv_rc rc = PV_OK;

	while (got < AUTHN_RECOVERY_CHARS) {
		if ((rc = crypto_random(rnd, sizeof(rnd))) != PV_OK)
			break;
		for (i = 0; i < sizeof(rnd) && got < AUTHN_RECOVERY_CHARS; i++)
			if (rnd[i] < SAMPLE_LIMIT)
				norm[got++] = alphabet[rnd[i] % ALPHABET_LEN];
	}
	crypto_wipe(rnd, sizeof(rnd));
	return rc;
}

enum pv_rc
authn_recovery_generate(char codes[AUTHN_RECOVERY_COUNT][AUTHN_RECOVERY_DISPLAY_MAX],
    char hashes[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX])
{
	char c[AUTHN_RECOVERY_COUNT][AUTHN_RECOVERY_DISPLAY_MAX];
	char h[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX];
	char norm[AUTHN_RECOVERY_CHARS];
	enum pv_rc rc = PV_E_INVALID;
	size_t i, j;

	if (codes == NULL || hashes == NULL)
		goto out;
	for (i = 0; i < AUTHN_RECOVERY_COUNT; i++) {
		if ((rc = draw_code(norm)) != PV_OK || (rc = hash_normalized(norm, h[i])) != PV_OK)
			goto out;
		/* A duplicate within one set (p ~ 45 / 31^10) would be one code
		 * usable once: draw again rather than hand out nine. */
		for (j = 0; j < i; j++)
			if (strcmp(h[i], h[j]) == 0)
				break;
		if (j < i) {
			i--;
			continue;
		}
		memcpy(c[i], norm, 5);
		c[i][5] = '-';
		memcpy(c[i] + 6, norm + 5, 5);
		c[i][11] = '\0';
	}
	memcpy(codes, c, sizeof(c));
	memcpy(hashes, h, sizeof(h));
	rc = PV_OK;
out:
	crypto_wipe(c, sizeof(c));
	crypto_wipe(norm, sizeof(norm));
	return rc;
}

/* Lowercase, drop '-' and ' ', require exactly 10 alphabet characters. */
static bool
normalize(const char *input, char norm[AUTHN_RECOVERY_CHARS])
{
	size_t n = 0, i;

	if (input == NULL)
		return false;
	/* Bounded: a code with generous separators is far below 64 bytes. */
	for (i = 0; input[i] != '\0'; i++) {
		char ch = input[i];

		if (i >= 64)
			return false;
		if (ch == '-' || ch == ' ')
			continue;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '\0' || strchr(alphabet, ch) == NULL || n == AUTHN_RECOVERY_CHARS)
			return false;
		norm[n++] = ch;
	}
	return n == AUTHN_RECOVERY_CHARS;
}

enum pv_rc
authn_recovery_hash(const char *input, char out[AUTHN_HASH_HEX_MAX])
{
	char norm[AUTHN_RECOVERY_CHARS], h[AUTHN_HASH_HEX_MAX];
	enum pv_rc rc = PV_E_UNAUTH;

	if (out == NULL || !normalize(input, norm))
		goto out;
	if ((rc = hash_normalized(norm, h)) != PV_OK)
		goto out;
	memcpy(out, h, sizeof(h));
out:
	crypto_wipe(norm, sizeof(norm));
	return rc;
}

enum pv_rc
authn_recovery_find(const char *input, const char *const *hashes, size_t n, size_t *index)
{
	char h[AUTHN_HASH_HEX_MAX];
	size_t i, found = 0;
	bool any = false;

	if (hashes == NULL || index == NULL || authn_recovery_hash(input, h) != PV_OK)
		return PV_E_UNAUTH;
	for (i = 0; i < n; i++) {
		if (hashes[i] == NULL || strnlen(hashes[i], AUTHN_HASH_HEX_MAX) != AUTHN_HASH_HEX_MAX - 1)
			continue;
		if (crypto_memeq(h, hashes[i], AUTHN_HASH_HEX_MAX - 1) && !any) {
			found = i;
			any = true;
		}
	}
	if (!any)
		return PV_E_UNAUTH;
	*index = found;
	return PV_OK;
}
