/*
 * hexvec.h: test helper for known-answer vectors typed in as hex strings,
 * exactly as the standards print them (spaces allowed, for readability).
 */
#ifndef PV_TEST_HEXVEC_H
#define PV_TEST_HEXVEC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline int
hexvec_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex (ignoring spaces) into a malloc'd buffer (never NULL, even for
 * ""); *len gets the byte count. Aborts on malformed input: a typo in a
 * vector must fail loudly, not silently shorten it. */
static inline uint8_t *
hexvec(const char *hex, size_t *len)
{
	size_t n = strlen(hex), i, k = 0;
	uint8_t *out = calloc(n / 2 + 1, 1);
	int hi = -1;

	if (out == NULL)
		abort();
	for (i = 0; i < n; i++) {
		int v;

		if (hex[i] == ' ')
			continue;
		v = hexvec_nibble(hex[i]);
		if (v < 0)
			abort();
		if (hi < 0) {
			hi = v;
		} else {
			out[k++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		abort();
	*len = k;
	return out;
}

static inline int
hexvec_all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

#endif /* PV_TEST_HEXVEC_H */
