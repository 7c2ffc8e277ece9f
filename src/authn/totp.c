/*
 * totp: time-based one-time passwords, RFC 6238 (TOTP) over RFC 4226
 * (HOTP): HMAC-SHA1, T0 = 0, X = 30 s, 6 digits, as every authenticator app
 * implements by default. The MAC comes from crypto_hmac_sha1 (crypto.h).
 *
 * Invariants:
 *  - A code is accepted only for steps now-1..now+1 (RFC 6238 §5.2 allows
 *    "at most one time step" of network delay / clock drift) and only if
 *    the step is strictly greater than the last step accepted for the user
 *    (§5.2: "the verifier MUST NOT accept the second attempt of the same
 *    OTP"). The caller persists *matched_step.
 *  - The presented code is compared with each candidate in constant time
 *    and all candidates are computed, whatever matches.
 *  - Anything but exactly six ASCII digits is refused before any MAC.
 *  - Candidate codes and MACs are wiped before returning.
 */
#include <string.h>

#include "authn/authn.h"
#include "crypto/crypto.h"

#define HMAC_SHA1_LEN 20

static const uint32_t pow10_tab[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
	100000000 };

enum pv_rc
authn_totp_code(const uint8_t *secret, size_t len, int64_t step, int digits,
    char out[AUTHN_TOTP_CODE_MAX])
{
	uint8_t msg[8], mac[HMAC_SHA1_LEN];
	uint32_t bin;
	unsigned off;
	enum pv_rc rc;
	int i;

	if (secret == NULL || len == 0 || out == NULL || step < 0 || digits < 6 || digits > 8) {
		rc = PV_E_INVALID;
		goto out;
	}
	/* RFC 4226 §5.2: the counter is 8 bytes, big-endian. */
	for (i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)(step & 0xff);
		step >>= 8;
	}
	if ((rc = crypto_hmac_sha1(secret, len, msg, sizeof(msg), mac)) != PV_OK)
		goto out;
	/* RFC 4226 §5.3 dynamic truncation: 31 bits from offset low-nibble. */
	off = mac[HMAC_SHA1_LEN - 1] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	    (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
	bin %= pow10_tab[digits];
	for (i = digits - 1; i >= 0; i--) {      /* zero-padded decimal */
		out[i] = (char)('0' + bin % 10);
		bin /= 10;
	}
	out[digits] = '\0';
	rc = PV_OK;
out:
	crypto_wipe(mac, sizeof(mac));
	return rc;
}

static bool
six_digits(const char *code)
{
	size_t i;

	if (code == NULL || strnlen(code, AUTHN_TOTP_DIGITS + 1) != AUTHN_TOTP_DIGITS)
		return false;
	for (i = 0; i < AUTHN_TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return false;
	return true;
}

enum pv_rc
authn_totp_verify(const uint8_t *secret, size_t len, const char *code, int64_t now_s,
    int64_t last_used_step, int64_t *matched_step)
{
	char cand[AUTHN_TOTP_CODE_MAX];
	int64_t now_step, s, matched = -1;
	enum pv_rc rc = PV_E_UNAUTH;

	if (secret == NULL || len == 0 || matched_step == NULL || now_s < 0 || !six_digits(code))
		goto out;
	now_step = now_s / AUTHN_TOTP_PERIOD;
	for (s = now_step - AUTHN_TOTP_SKEW; s <= now_step + AUTHN_TOTP_SKEW; s++) {
		bool eq;

		if (s < 0)
			continue;
		if (authn_totp_code(secret, len, s, AUTHN_TOTP_DIGITS, cand) != PV_OK) {
			matched = -1;
			rc = PV_E_UNAUTH;
			goto out;
		}
		eq = crypto_memeq(cand, code, AUTHN_TOTP_DIGITS);
		/* Highest matching step wins: after it, no earlier step can be
		 * replayed. */
		if (eq && s > last_used_step)
			matched = s;
	}
	if (matched >= 0) {
		*matched_step = matched;
		rc = PV_OK;
	}
out:
	crypto_wipe(cand, sizeof(cand));
	return rc;
}

enum pv_rc
authn_totp_secret_new(uint8_t secret[AUTHN_TOTP_SECRET_LEN], char b32[AUTHN_TOTP_B32_MAX])
{
	uint8_t tmp[AUTHN_TOTP_SECRET_LEN];
	enum pv_rc rc;

	if (secret == NULL || b32 == NULL) {
		rc = PV_E_INVALID;
		goto out;
	}
	if ((rc = crypto_random(tmp, sizeof(tmp))) != PV_OK)
		goto out;
	util_b32_encode(tmp, sizeof(tmp), b32, AUTHN_TOTP_B32_MAX);
	memcpy(secret, tmp, sizeof(tmp));
	rc = PV_OK;
out:
	crypto_wipe(tmp, sizeof(tmp));
	return rc;
}

/* Bounded appender: sets *ok false once out of room. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool ok;
};

static void
sb_putc(struct sbuf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		b->ok = false;
		return;
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static void
sb_puts(struct sbuf *b, const char *s)
{
	while (*s != '\0')
		sb_putc(b, *s++);
}

static bool
unreserved(unsigned char c)
{
	/* RFC 3986 §2.3 */
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

enum pv_rc
authn_totp_uri(const char *username, const char *secret_b32, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[AUTHN_TOTP_URI_MAX];
	struct sbuf b = { buf, 0, sizeof(buf), true };
	const unsigned char *u;
	size_t i, slen;

	if (username == NULL || secret_b32 == NULL || out == NULL || username[0] == '\0')
		return PV_E_INVALID;
	slen = strnlen(secret_b32, AUTHN_TOTP_B32_MAX);
	if (slen == 0 || slen >= AUTHN_TOTP_B32_MAX)
		return PV_E_INVALID;
	for (i = 0; i < slen; i++) {
		char c = secret_b32[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
			return PV_E_INVALID;
	}
	buf[0] = '\0';
	/* Key URI format: otpauth://TYPE/LABEL?PARAMETERS, LABEL = issuer ":" account. */
	sb_puts(&b, "otpauth://totp/phivault:");
	for (u = (const unsigned char *)username; *u != '\0' && b.ok; u++) {
		if (unreserved(*u)) {
			sb_putc(&b, (char)*u);
		} else {
			sb_putc(&b, '%');
			sb_putc(&b, hex[*u >> 4]);
			sb_putc(&b, hex[*u & 15]);
		}
	}
	sb_puts(&b, "?secret=");
	sb_puts(&b, secret_b32);
	sb_puts(&b, "&issuer=phivault&algorithm=SHA1&digits=6&period=30");
	if (!b.ok || b.len + 1 > outlen) {
		crypto_wipe(buf, sizeof(buf));
		return PV_E_INVALID;
	}
	memcpy(out, buf, b.len + 1);
	crypto_wipe(buf, sizeof(buf));
	return PV_OK;
}
