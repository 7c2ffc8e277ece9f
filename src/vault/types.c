/*
 * vault/types.c: the field types. Each type validates a value and writes its
 * canonical text, the one form used for storage and for the blind index, so
 * that "123456789" and "123-45-6789" are the same SSN to search.
 *
 *  type     accepts                                      canonical
 *  string   JSON string, UTF-8, <= 4096 bytes, no        as given (not trimmed,
 *           control characters except TAB                 no Unicode normalisation)
 *  date     "YYYY-MM-DD", a real calendar date,          as given
 *           years 1800..2200 (proleptic Gregorian)
 *  integer  JSON integer (not real, not string), int64   decimal, stays a JSON integer
 *  ssn      "123-45-6789" or "123456789"; area not       "123-45-6789"
 *           000/666/900-999, group not 00, serial not 0000
 *  email    local@domain, one '@', local 1..64 of        local part as given,
 *           RFC 5322 atext and non-adjacent dots,         domain lowercased
 *           domain: >= 2 LDH labels of 1..63, <= 254 total
 *  phone    digits with an optional leading '+' and      "+<digits>" if it had '+',
 *           ' ' '-' '.' '(' ')' separators; 7..15 digits  else "<digits>"
 *  zip      US ZIP "12345" or ZIP+4 "12345-6789"         as given
 *  mrn      1..32 of [A-Za-z0-9-]                        uppercase
 *
 * Phone: a number given with '+' is taken to carry its country code (E.164,
 * ITU-T E.164 section 6: at most 15 digits) and keeps the '+'; one without is
 * a national number and is kept as digits only. No country code is guessed,
 * so "+1 555 010 0199" and "555 010 0199" are different values to search:
 * guessing would merge different subscribers' numbers.
 *
 * Email: the local part is case-sensitive by RFC 5321 section 2.4, so it is
 * kept as given; the domain is not, so it is lowercased.
 *
 * Invariant: an error names the field and the rule, never the value (not
 * even part of it, not its length).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define PHONE_RAW_MAX 64     /* bytes of a phone value as given, separators included */
#define EMAIL_MAX 254        /* RFC 5321 section 4.5.3.1.3 path limit, minus the <> */
#define EMAIL_LOCAL_MAX 64   /* RFC 5321 section 4.5.3.1.1 */
#define EMAIL_LABEL_MAX 63   /* RFC 1035 section 2.3.4 */
#define MRN_MAX 32

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Copy n bytes + NUL into out; PV_E_INTERNAL if the caller's buffer is short. */
static enum pv_rc put(char *out, size_t outlen, const char *s, size_t n)
{
	if (out == NULL || n >= outlen)
		return PV_E_INTERNAL;
	memcpy(out, s, n);
	out[n] = '\0';
	return PV_OK;
}

static int digits_val(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The ASCII bytes a string may not hold: C0 controls but TAB, and DEL. */
static const unsigned char ascii_control[128] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x7f] = 1,
};

static enum pv_rc norm_string(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)s;
	bool control = false;
	size_t i = 0, n;
	uint32_t cp;

	if (len > VAULT_STRING_MAX) {
		vault_errf(err, errlen, "field '%s': longer than %d bytes", f->name,
		    VAULT_STRING_MAX);
		return PV_E_INVALID;
	}
	/* one pass for both rules; invalid UTF-8 anywhere is the error named
	 * first, as when the whole string was decoded before controls were
	 * looked for */
	while (i < len) {
		if (p[i] < 0x80) {
			control |= ascii_control[p[i]] != 0;
			i++;
			continue;
		}
		if ((n = util_utf8_next(p + i, len - i, &cp)) == 0) {
			vault_errf(err, errlen, "field '%s': not valid UTF-8", f->name);
			return PV_E_INVALID;
		}
		control |= cp >= 0x80 && cp <= 0x9f;   /* C1 controls U+0080..U+009F */
		i += n;
	}
	if (control) {
		vault_errf(err, errlen, "field '%s': contains a control character", f->name);
		return PV_E_INVALID;
	}
	return put(out, outlen, s, len);
}

static enum pv_rc norm_date(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, dim;
	size_t i;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		goto bad;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !is_digit(s[i]))
			goto bad;
	y = digits_val(s, 4);
	m = digits_val(s + 5, 2);
	d = digits_val(s + 8, 2);
	if (y < 1800 || y > 2200 || m < 1 || m > 12)
		goto bad;
	dim = mdays[m - 1] + (m == 2 && leap_year(y) ? 1 : 0);
	if (d < 1 || d > dim)
		goto bad;
	return put(out, outlen, s, len);
bad:
	vault_errf(err, errlen, "field '%s': not a valid date (YYYY-MM-DD, years 1800 to 2200)",
	    f->name);
	return PV_E_INVALID;
}

/* SSA rules for numbers that are never issued (SSA POMS RM 10201.035,
 * "Social Security Number Randomization"). */
static enum pv_rc norm_ssn(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	char d[9], canon[12];
	size_t i, n = 0;
	int area, group, serial;
	enum pv_rc rc;

	if (len == 11) {
		if (s[3] != '-' || s[6] != '-')
			goto bad;
	} else if (len != 9) {
		goto bad;
	}
	for (i = 0; i < len; i++) {
		if (len == 11 && (i == 3 || i == 6))
			continue;
		if (!is_digit(s[i]))
			goto bad;
		d[n++] = s[i];
	}
	area = digits_val(d, 3);
	group = digits_val(d + 3, 2);
	serial = digits_val(d + 5, 4);
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		goto bad;
	memcpy(canon, d, 3);
	canon[3] = '-';
	memcpy(canon + 4, d + 3, 2);
	canon[6] = '-';
	memcpy(canon + 7, d + 5, 4);
	canon[11] = '\0';
	rc = put(out, outlen, canon, 11);
	vault_wipe(d, sizeof(d));
	vault_wipe(canon, sizeof(canon));
	return rc;
bad:
	vault_wipe(d, sizeof(d));
	vault_errf(err, errlen, "field '%s': not a valid SSN", f->name);
	return PV_E_INVALID;
}

/* RFC 5322 section 3.2.3 atext. */
static bool email_atext(char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static enum pv_rc norm_email(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	const char *at;
	size_t i, local, label = 0, labels = 0;
	enum pv_rc rc;

	if (len == 0 || len > EMAIL_MAX || memchr(s, '\0', len) != NULL)
		goto bad;
	at = memchr(s, '@', len);
	if (at == NULL || memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL)
		goto bad;
	local = (size_t)(at - s);
	if (local < 1 || local > EMAIL_LOCAL_MAX || s[0] == '.' || s[local - 1] == '.')
		goto bad;
	for (i = 0; i < local; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				goto bad;
		} else if (!email_atext(s[i])) {
			goto bad;
		}
	}
	/* Domain: LDH labels (RFC 1035 section 2.3.1, RFC 1123 section 2.1). */
	for (i = local + 1; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > EMAIL_LABEL_MAX || s[i - 1] == '-')
				goto bad;
			labels++;
			label = 0;
		} else if (is_alpha(c) || is_digit(c) || c == '-') {
			if (label == 0 && c == '-')
				goto bad;
			label++;
		} else {
			goto bad;
		}
	}
	if (labels < 2)
		goto bad;
	rc = put(out, outlen, s, len);
	if (rc != PV_OK)
		return rc;
	for (i = local + 1; i < len; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return PV_OK;
bad:
	vault_errf(err, errlen, "field '%s': not a valid email address", f->name);
	return PV_E_INVALID;
}

static enum pv_rc norm_phone(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	char canon[1 + 15 + 1];
	size_t i, n = 0, digits = 0;
	int depth = 0;
	enum pv_rc rc;

	if (len == 0 || len > PHONE_RAW_MAX)
		goto bad;
	if (s[0] == '+')
		canon[n++] = '+';
	for (i = (n == 1 ? 1 : 0); i < len; i++) {
		char c = s[i];

		if (is_digit(c)) {
			if (++digits > 15)
				goto bad;
			canon[n++] = c;
		} else if (c == '(') {
			if (depth++ != 0)
				goto bad;
		} else if (c == ')') {
			if (depth-- != 1)
				goto bad;
		} else if (c != ' ' && c != '-' && c != '.') {
			goto bad;
		}
	}
	if (depth != 0 || digits < 7)
		goto bad;
	rc = put(out, outlen, canon, n);
	vault_wipe(canon, sizeof(canon));
	return rc;
bad:
	vault_wipe(canon, sizeof(canon));
	vault_errf(err, errlen, "field '%s': not a valid phone number (7 to 15 digits)", f->name);
	return PV_E_INVALID;
}

static enum pv_rc norm_zip(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	size_t i;

	if (len != 5 && !(len == 10 && s[5] == '-'))
		goto bad;
	for (i = 0; i < len; i++)
		if (i != 5 && !is_digit(s[i]))
			goto bad;
	return put(out, outlen, s, len);
bad:
	vault_errf(err, errlen, "field '%s': not a valid ZIP code (12345 or 12345-6789)", f->name);
	return PV_E_INVALID;
}

static enum pv_rc norm_mrn(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	enum pv_rc rc;
	size_t i;

	if (len < 1 || len > MRN_MAX)
		goto bad;
	for (i = 0; i < len; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
			goto bad;
	rc = put(out, outlen, s, len);
	if (rc != PV_OK)
		return rc;
	for (i = 0; i < len; i++)
		if (out[i] >= 'a' && out[i] <= 'z')
			out[i] = (char)(out[i] - 'a' + 'A');
	return PV_OK;
bad:
	vault_errf(err, errlen, "field '%s': not a valid MRN (1 to 32 of A-Z a-z 0-9 -)", f->name);
	return PV_E_INVALID;
}

/* Every type but integer: the value is text s of len bytes. */
static enum pv_rc norm_text(const struct vault_field *f, const char *s, size_t len,
    char *out, size_t outlen, char *err, size_t errlen)
{
	switch (f->type) {
	case VAULT_TYPE_STRING: return norm_string(f, s, len, out, outlen, err, errlen);
	case VAULT_TYPE_DATE:   return norm_date(f, s, len, out, outlen, err, errlen);
	case VAULT_TYPE_SSN:    return norm_ssn(f, s, len, out, outlen, err, errlen);
	case VAULT_TYPE_EMAIL:  return norm_email(f, s, len, out, outlen, err, errlen);
	case VAULT_TYPE_PHONE:  return norm_phone(f, s, len, out, outlen, err, errlen);
	case VAULT_TYPE_ZIP:    return norm_zip(f, s, len, out, outlen, err, errlen);
	case VAULT_TYPE_MRN:    return norm_mrn(f, s, len, out, outlen, err, errlen);
	case VAULT_TYPE_INTEGER:
	case VAULT_TYPE__COUNT:
		break;
	}
	return PV_E_INTERNAL;
}

static enum pv_rc put_integer(json_int_t v, char *out, size_t outlen)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, v);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return PV_E_INTERNAL;
	return put(out, outlen, buf, (size_t)n);
}

enum pv_rc vault_value_normalize(const struct vault_field *f, json_t *value,
    char *out, size_t outlen, char *err, size_t errlen)
{
	if (f == NULL || (unsigned)f->type >= VAULT_TYPE__COUNT)
		return PV_E_INTERNAL;
	if (value == NULL || json_is_null(value)) {
		vault_errf(err, errlen, "field '%s': must not be null", f->name);
		return PV_E_INVALID;
	}
	if (f->type == VAULT_TYPE_INTEGER) {
		/* jansson keeps 12, 1.5, 1e3 and "12" apart: only the first is an integer. */
		if (!json_is_integer(value)) {
			vault_errf(err, errlen, "field '%s': expected an integer", f->name);
			return PV_E_INVALID;
		}
		return put_integer(json_integer_value(value), out, outlen);
	}
	if (!json_is_string(value)) {
		vault_errf(err, errlen, "field '%s': expected a string", f->name);
		return PV_E_INVALID;
	}
	return norm_text(f, json_string_value(value), json_string_length(value), out, outlen,
	    err, errlen);
}

enum pv_rc vault_value_normalize_text(const struct vault_field *f, const char *text,
    char *out, size_t outlen, char *err, size_t errlen)
{
	if (f == NULL || (unsigned)f->type >= VAULT_TYPE__COUNT)
		return PV_E_INTERNAL;
	if (text == NULL) {
		vault_errf(err, errlen, "field '%s': missing value", f->name);
		return PV_E_INVALID;
	}
	if (f->type == VAULT_TYPE_INTEGER) {
		/* The JSON number grammar without fraction or exponent (RFC 8259
		 * section 6): -?(0|[1-9][0-9]*), and it must fit in int64. */
		const char *p = text[0] == '-' ? text + 1 : text;
		long long v;
		char *end;
		size_t i;

		if (p[0] == '\0' || (p[0] == '0' && p[1] != '\0'))
			goto bad_int;
		for (i = 0; p[i] != '\0'; i++)
			if (!is_digit(p[i]))
				goto bad_int;
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno != 0 || *end != '\0')
			goto bad_int;
		return put_integer((json_int_t)v, out, outlen);
bad_int:
		vault_errf(err, errlen, "field '%s': expected an integer", f->name);
		return PV_E_INVALID;
	}
	return norm_text(f, text, strlen(text), out, outlen, err, errlen);
}
