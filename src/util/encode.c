/*
 * encode: hex, base64 (RFC 4648 §4) and base32 (RFC 4648 §6). Decoders are
 * strict: they refuse non-canonical input rather than guess, because their
 * inputs (shares, tokens, secrets) come from outside.
 */
#include <string.h>

#include "util/util.h"

static const char hexdig[] = "0123456789abcdef";

void
util_hex_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
util_hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	size_t i;

	if (strlen(in) != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
util_b64_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

void
util_b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
b64val(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(b64, c);
	return p ? (int)(p - b64) : -1;
}

int
util_b64_decode(const char *in, uint8_t *out, size_t *outlen)
{
	size_t len = strlen(in), i, o = 0, pad = 0;

	if (len % 4 != 0)
		return -1;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	if (len / 4 * 3 - pad > *outlen)
		return -1;
	for (i = 0; i < len; i += 4) {
		int v[4], k;
		bool last = i + 4 == len;

		for (k = 0; k < 4; k++) {
			if (last && in[i + k] == '=' && k >= 4 - (int)pad)
				v[k] = 0;
			else if ((v[k] = b64val(in[i + k])) < 0)
				return -1;
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[o++] = (uint8_t)(x >> 16);
		if (!last || pad < 2)
			out[o++] = (uint8_t)(x >> 8);
		if (!last || pad < 1)
			out[o++] = (uint8_t)x;
		/* canonical: unused bits must be zero */
		if (last && pad == 2 && (x & 0xffff) != 0)
			return -1;
		if (last && pad == 1 && (x & 0xff) != 0)
			return -1;
	}
	*outlen = o;
	return 0;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void
util_b32_encode(const uint8_t *in, size_t len, char *out, size_t outcap)
{
	size_t o = 0, i;
	uint32_t buf = 0;
	int bits = 0;

	for (i = 0; i < len; i++) {
		buf = buf << 8 | in[i];
		bits += 8;
		while (bits >= 5) {
			if (o + 1 < outcap)
				out[o++] = b32[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && o + 1 < outcap)
		out[o++] = b32[(buf << (5 - bits)) & 31];
	if (outcap)
		out[o] = '\0';
}

int
util_b32_decode(const char *in, uint8_t *out, size_t *outlen)
{
	size_t o = 0;
	uint32_t buf = 0;
	int bits = 0;

	for (; *in; in++) {
		char c = *in;
		const char *p;

		if (c == '=')
			break;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		p = strchr(b32, c);
		if (p == NULL)
			return -1;
		buf = buf << 5 | (uint32_t)(p - b32);
		bits += 5;
		if (bits >= 8) {
			if (o >= *outlen)
				return -1;
			out[o++] = (uint8_t)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	*outlen = o;
	return 0;
}

size_t
util_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;               /* continuation byte, 0xc0/0xc1, 0xf5.. */
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* RFC 3629 §3: shortest form only, no surrogates, at most U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool
util_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}
