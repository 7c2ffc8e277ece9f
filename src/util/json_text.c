/*
 * util/json_text.c: a JSON string's text as jansson writes it (json_dumpb
 * without JSON_ESCAPE_SLASH or JSON_ENSURE_ASCII), for code that writes a
 * known JSON shape itself instead of walking it through jansson's encoder,
 * which visits a string one UTF-8 character at a time through a callback
 * (the record plaintext, vault/record.c).
 *
 * Escapes (RFC 8259 section 7, jansson's choice among the allowed forms):
 * '"' and '\\' after a backslash, \b \f \n \r \t, the other C0 controls as
 * \u00XX in upper case; '/', DEL and every non-ASCII byte as they are. The
 * input must be valid UTF-8 (as every jansson string is): not checked here.
 * Used by the record plaintext (vault/record.c) and the response encoder
 * (http/json_out.c). tests/unit/vault/test_plaintext.c and
 * tests/unit/http/test_json_out.c hold it equal to jansson (every ASCII
 * byte, U+0000, multibyte UTF-8).
 */
#include <string.h>

#include "util/util.h"

/* Extra bytes each input byte costs: 1 for '"', '\\' and the controls with a
 * short escape, 5 for the other C0 controls, 0 for the rest. */
static const unsigned char esc_extra[256] = {
	5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	['\\'] = 1,
};

size_t util_json_string_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out = n + 2;   /* the quotes */

	for (size_t i = 0; i < n; i++)
		out += esc_extra[p[i]];
	return out;
}

char *util_json_string_put(char *p, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";   /* jansson writes \u001B */
	size_t run = 0;

	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (esc_extra[c] == 0)
			continue;
		memcpy(p, s + run, i - run);
		p += i - run;
		run = i + 1;
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\b': *p++ = 'b'; break;
		case '\f': *p++ = 'f'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		default:
			*p++ = 'u';
			*p++ = '0';
			*p++ = '0';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	memcpy(p, s + run, n - run);
	p += n - run;
	*p++ = '"';
	return p;
}
