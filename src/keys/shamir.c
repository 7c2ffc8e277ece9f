/*
 * shamir: Shamir secret sharing (Shamir 1979, "How to share a secret") of the
 * 256-bit unseal key over GF(2^8), one independent polynomial per byte, and
 * the text form of a share.
 *
 * Field: GF(2^8) = GF(2)[x] / (x^8 + x^4 + x^3 + x + 1), the AES field of
 * FIPS-197 §4.2 (reduction constant 0x1B after dropping x^8).
 *
 * Invariants:
 *  - Field arithmetic is constant time: multiplication is a fixed 8-round
 *    shift-and-add with masks, inversion is the fixed exponentiation a^254.
 *    No table is indexed by a share or secret byte, so the cache reveals
 *    nothing (the usual log/antilog tables would).
 *  - Share x coordinates are 1..N; x = 0 is the secret and is never issued
 *    or accepted. Polynomial coefficients come from crypto_random and are
 *    wiped after the split; interpolation scratch is wiped after combine.
 *  - Hex of secret bytes (shares, key file) goes through the constant-time
 *    codec below, not util_hex_*, which branch on the data.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "keys/keys_int.h"

uint8_t
keys_gf256_mul(uint8_t a, uint8_t b)
{
	unsigned r = 0, aa = a, bb = b;
	int i;

	/* Russian-peasant multiplication: add a when the low bit of b is set,
	 * then a *= x (shift, and reduce by 0x1B when bit 7 falls out). Both
	 * conditions become all-ones/all-zeros masks instead of branches. */
	for (i = 0; i < 8; i++) {
		unsigned bit = 0u - (bb & 1u);
		unsigned hi = 0u - ((aa >> 7) & 1u);

		r ^= aa & bit;
		aa = ((aa << 1) ^ (hi & 0x1Bu)) & 0xFFu;
		bb >>= 1;
	}
	return (uint8_t)r;
}

uint8_t
keys_gf256_inv(uint8_t a)
{
	/* The multiplicative group has order 255, so a^-1 = a^254
	 * (254 = 0b11111110). The exponent is a public constant, so this fixed
	 * square-and-multiply chain takes the same path for every a; a = 0
	 * yields 0, which callers never rely on. */
	uint8_t a2 = keys_gf256_mul(a, a);          /* a^2 */
	uint8_t a3 = keys_gf256_mul(a2, a);         /* a^3 */
	uint8_t a6 = keys_gf256_mul(a3, a3);        /* a^6 */
	uint8_t a12 = keys_gf256_mul(a6, a6);       /* a^12 */
	uint8_t a15 = keys_gf256_mul(a12, a3);      /* a^15 */
	uint8_t a30 = keys_gf256_mul(a15, a15);     /* a^30 */
	uint8_t a60 = keys_gf256_mul(a30, a30);     /* a^60 */
	uint8_t a120 = keys_gf256_mul(a60, a60);    /* a^120 */
	uint8_t a127 = keys_gf256_mul(keys_gf256_mul(a120, a6), a);  /* a^127 */

	return keys_gf256_mul(a127, a127);          /* a^254 */
}

enum pv_rc
keys_shamir_split(const uint8_t secret[KEYS_SHAMIR_SECRET_LEN], int k, int n,
    struct keys_share *out)
{
	enum pv_rc rc = PV_OK;
	struct pv_secret *coef = NULL;
	int i, j, b;

	if (k < 1 || n < k || n > KEYS_SHAMIR_MAX_SHARES)
		return PV_E_INVALID;
	/* Coefficients c_1..c_{k-1} of each byte's polynomial, uniformly random
	 * (zero included: a zero leading coefficient is as likely as any other
	 * value and does not weaken the scheme). */
	if (k > 1) {
		rc = crypto_secret_random((size_t)(k - 1) * KEYS_SHAMIR_SECRET_LEN, &coef);
		if (rc != PV_OK)
			return rc;
	}
	for (i = 0; i < n; i++) {
		uint8_t x = (uint8_t)(i + 1);

		out[i].x = x;
		out[i].threshold = (uint8_t)k;
		for (b = 0; b < KEYS_SHAMIR_SECRET_LEN; b++) {
			/* Horner: p(x) = s + x(c_1 + x(c_2 + ... + x c_{k-1})) */
			uint8_t y = 0;

			for (j = k - 2; j >= 0; j--)
				y = keys_gf256_mul(y, x) ^ coef->buf[(size_t)j * KEYS_SHAMIR_SECRET_LEN + (size_t)b];
			out[i].y[b] = keys_gf256_mul(y, x) ^ secret[b];
		}
	}
	crypto_secret_free(coef);
	return rc;
}

enum pv_rc
keys_shamir_combine(const struct keys_share *shares, int k,
    uint8_t secret[KEYS_SHAMIR_SECRET_LEN])
{
	uint8_t acc[KEYS_SHAMIR_SECRET_LEN];
	int i, j, b;

	if (k < 1 || k > KEYS_SHAMIR_MAX_SHARES)
		return PV_E_INVALID;
	for (i = 0; i < k; i++) {
		if (shares[i].x == 0)
			return PV_E_SHARE;
		for (j = 0; j < i; j++)
			if (shares[j].x == shares[i].x)
				return PV_E_SHARE;
	}
	memset(acc, 0, sizeof(acc));
	/* Lagrange at 0: s = sum_i y_i * prod_{j != i} x_j / (x_j - x_i); in
	 * characteristic 2, subtraction is XOR. The basis values depend only
	 * on the (public) x coordinates. */
	for (i = 0; i < k; i++) {
		uint8_t num = 1, den = 1, l;

		for (j = 0; j < k; j++) {
			if (j == i)
				continue;
			num = keys_gf256_mul(num, shares[j].x);
			den = keys_gf256_mul(den, shares[j].x ^ shares[i].x);
		}
		l = keys_gf256_mul(num, keys_gf256_inv(den));
		for (b = 0; b < KEYS_SHAMIR_SECRET_LEN; b++)
			acc[b] ^= keys_gf256_mul(shares[i].y[b], l);
	}
	memcpy(secret, acc, sizeof(acc));
	crypto_wipe(acc, sizeof(acc));
	return PV_OK;
}

/* ---- constant-time hex (after libsodium's sodium_bin2hex/hex2bin) ---- */

void
keys_hex_encode_ct(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned hi = in[i] >> 4, lo = in[i] & 15u;

		/* nibble n -> '0'+n, plus 39 ('a'-'0'-10) when n > 9, as a mask */
		out[2 * i] = (char)(hi + '0' + (((9u - hi) >> 8) & 39u));
		out[2 * i + 1] = (char)(lo + '0' + (((9u - lo) >> 8) & 39u));
	}
	out[2 * len] = '\0';
}

int
keys_hex_decode_ct(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	unsigned bad = 0, acc = 0;
	size_t i;

	if (inlen != 2 * outlen)
		return -1;
	for (i = 0; i < inlen; i++) {
		unsigned c = (unsigned char)in[i];
		unsigned num = c ^ 48u;                          /* '0'..'9' -> 0..9 */
		unsigned num_ok = ((num - 10u) >> 8) & 0xFFu;    /* 0xFF iff num < 10 */
		unsigned alpha = ((c & ~32u) - 55u) & 0xFFu;     /* 'A'/'a'.. -> 10.. */
		unsigned alpha_ok = (((alpha - 10u) ^ (alpha - 16u)) >> 8) & 0xFFu; /* 10..15 */
		unsigned v = (num_ok & num) | (alpha_ok & alpha);

		bad |= (num_ok | alpha_ok) ^ 0xFFu;
		if (i & 1) {
			out[i / 2] = (uint8_t)((acc << 4) | (v & 15u));
		} else {
			acc = v & 15u;
		}
	}
	if (bad != 0) {
		crypto_wipe(out, outlen);
		return -1;
	}
	return 0;
}

/* ---- share commitments ---- */

enum pv_rc
keys_share_commit(const uint8_t salt[KEYS_COMMIT_SALT_LEN], const struct keys_share *s,
    uint8_t out[32])
{
	uint8_t buf[sizeof(KEYS_COMMIT_TAG) - 1 + KEYS_COMMIT_SALT_LEN + 2 + KEYS_SHAMIR_SECRET_LEN];
	size_t n = sizeof(KEYS_COMMIT_TAG) - 1;
	enum pv_rc rc;

	memcpy(buf, KEYS_COMMIT_TAG, n);
	memcpy(buf + n, salt, KEYS_COMMIT_SALT_LEN);
	n += KEYS_COMMIT_SALT_LEN;
	buf[n++] = s->x;
	buf[n++] = s->threshold;
	memcpy(buf + n, s->y, KEYS_SHAMIR_SECRET_LEN);
	rc = crypto_sha256(buf, sizeof(buf), out);
	crypto_wipe(buf, sizeof(buf));
	return rc;
}

/* ---- share text ---- */

static enum pv_rc
share_checksum(const uint8_t body[KEYS_SHARE_BIN_LEN - 4], uint8_t chk[4])
{
	uint8_t buf[4 + KEYS_SHARE_BIN_LEN - 4], h[CRYPTO_SHA256_LEN];
	enum pv_rc rc;

	memcpy(buf, "pvs1", 4);
	memcpy(buf + 4, body, KEYS_SHARE_BIN_LEN - 4);
	rc = crypto_sha256(buf, sizeof(buf), h);
	if (rc == PV_OK)
		memcpy(chk, h, 4);
	crypto_wipe(buf, sizeof(buf));
	crypto_wipe(h, sizeof(h));
	return rc;
}

enum pv_rc
keys_share_encode(const struct keys_share *s, char *out)
{
	uint8_t bin[KEYS_SHARE_BIN_LEN];
	size_t plen = sizeof(KEYS_SHARE_PREFIX) - 1;
	enum pv_rc rc;

	bin[0] = s->x;
	bin[1] = s->threshold;
	memcpy(bin + 2, s->y, KEYS_SHAMIR_SECRET_LEN);
	rc = share_checksum(bin, bin + KEYS_SHARE_BIN_LEN - 4);
	if (rc == PV_OK) {
		memcpy(out, KEYS_SHARE_PREFIX, plen);
		keys_hex_encode_ct(bin, sizeof(bin), out + plen);
	}
	crypto_wipe(bin, sizeof(bin));
	return rc;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

enum pv_rc
keys_share_parse(const char *text, int threshold, struct keys_share *out)
{
	uint8_t bin[KEYS_SHARE_BIN_LEN], chk[4];
	size_t plen = sizeof(KEYS_SHARE_PREFIX) - 1, len;
	const char *p;
	enum pv_rc rc = PV_E_SHARE;

	if (text == NULL)
		return PV_E_SHARE;
	/* Bounded scan: anything longer than this is not a share anyway. */
	len = strnlen(text, 4096);
	if (len >= 4096)
		return PV_E_SHARE;
	p = text;
	while (len > 0 && is_space(*p)) {
		p++;
		len--;
	}
	while (len > 0 && is_space(p[len - 1]))
		len--;
	if (len != KEYS_SHARE_TEXT_LEN || memcmp(p, KEYS_SHARE_PREFIX, plen) != 0) {
		log_debug("keys: share rejected: length or prefix");
		return PV_E_SHARE;
	}
	if (keys_hex_decode_ct(p + plen, len - plen, bin, sizeof(bin)) != 0) {
		log_debug("keys: share rejected: not hex");
		return PV_E_SHARE;
	}
	if (share_checksum(bin, chk) != PV_OK) {
		rc = PV_E_CRYPTO;
		goto out;
	}
	if (!crypto_memeq(chk, bin + KEYS_SHARE_BIN_LEN - 4, 4)) {
		log_debug("keys: share rejected: checksum");
		goto out;
	}
	if (bin[0] == 0) {
		log_debug("keys: share rejected: index 0");
		goto out;
	}
	if (threshold < 1 || bin[1] != threshold) {
		log_debug("keys: share rejected: threshold %u, seal needs %d", bin[1], threshold);
		goto out;
	}
	out->x = bin[0];
	out->threshold = bin[1];
	memcpy(out->y, bin + 2, KEYS_SHAMIR_SECRET_LEN);
	rc = PV_OK;
out:
	crypto_wipe(bin, sizeof(bin));
	crypto_wipe(chk, sizeof(chk));
	return rc;
}
