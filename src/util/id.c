/*
 * id: object IDs "<prefix>_<26 chars>", 128 random bits from getrandom(2) in
 * lowercase RFC 4648 base32. 128 bits make a collision (and so a reused ID)
 * negligible; the store's unique keys make it impossible.
 */
#include <ctype.h>
#include <string.h>
#include <sys/random.h>

#include "util/util.h"

#define ID_RAND_BYTES 16
#define ID_CHARS 26

static const char id_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

enum pv_rc
util_id_new(const char *prefix, char out[UTIL_ID_MAX])
{
	uint8_t rnd[ID_RAND_BYTES];
	size_t plen = strlen(prefix), i, bit;
	char *p;

	if (plen + 1 + ID_CHARS + 1 > UTIL_ID_MAX)
		return PV_E_INVALID;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return PV_E_CRYPTO;
	memcpy(out, prefix, plen);
	out[plen] = '_';
	p = out + plen + 1;
	for (i = 0, bit = 0; i < ID_CHARS; i++, bit += 5) {
		unsigned v = 0, b;

		for (b = 0; b < 5; b++) {
			size_t k = bit + b;
			unsigned x = k < ID_RAND_BYTES * 8 ? (rnd[k / 8] >> (7 - k % 8)) & 1 : 0;
			v = (v << 1) | x;
		}
		p[i] = id_alphabet[v];
	}
	p[ID_CHARS] = '\0';
	return PV_OK;
}

bool
util_id_valid(const char *prefix, const char *s)
{
	size_t plen = strlen(prefix), i;

	if (s == NULL || strncmp(s, prefix, plen) != 0 || s[plen] != '_')
		return false;
	s += plen + 1;
	for (i = 0; i < ID_CHARS; i++)
		if (s[i] == '\0' || strchr(id_alphabet, s[i]) == NULL)
			return false;
	return s[ID_CHARS] == '\0';
}
