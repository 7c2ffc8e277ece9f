/*
 * fuzz_vault_ifmatch: vault_if_match_parse on the If-Match header of a record
 * write (RFC 9110 section 13.1.1). Invariants: "*" / absent means any version
 * and nothing else does; an accepted version is 1..UINT32_MAX and its
 * canonical forms ("N" and "\"N\"") parse to the same version; a weak tag is
 * never a match; nothing else is accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, again[16];
	bool any, any2;
	uint32_t v, v2;
	enum pv_rc rc;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = vault_if_match_parse(s, &any, &v);
	if (rc == PV_OK) {
		if (any) {
			if (v != 0 || strchr(s, '*') == NULL)
				abort();
		} else {
			if (v == 0)
				abort();
			snprintf(again, sizeof again, "\"%u\"", v);
			if (vault_if_match_parse(again, &any2, &v2) != PV_OK || any2 || v2 != v)
				abort();
			if (vault_if_match_parse(again + 1, &any2, &v2) != PV_E_INVALID)
				abort();   /* "N\"" is no tag */
		}
	} else if (rc == PV_E_PRECONDITION) {
		if (strstr(s, "W/") == NULL)
			abort();
	} else if (rc != PV_E_INVALID) {
		abort();
	}
	free(s);
	return 0;
}
