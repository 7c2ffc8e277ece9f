/*
 * fuzz_authz_perm: the permission parser. Input is "granted\nrequired".
 * Checks: a valid permission formats back to exactly its text; "*" alone is
 * never valid; a match implies both sides are valid and a permission always
 * covers itself; a permission set agrees with pairwise matching.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_one(const char *p)
{
	struct authz_perm parsed;
	char out[AUTHZ_PERM_MAX];

	if (authz_perm_parse(p, &parsed) == PV_OK) {
		if (authz_perm_format(&parsed, out) != PV_OK || strcmp(out, p) != 0)
			abort();
		if (!authz_perm_match(p, p))
			abort();
	}
	if (strcmp(p, "*") == 0 && authz_perm_valid(p))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct authz_permset set;
	char *s, *nl, *granted, *required;
	bool m;

	if (size > 4096)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	granted = s;
	required = "";
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		required = nl + 1;
	}
	check_one(granted);
	check_one(required);
	m = authz_perm_match(granted, required);
	if (m && (!authz_perm_valid(granted) || !authz_perm_valid(required)))
		abort();
	authz_permset_init(&set);
	if (authz_permset_add(&set, granted) == PV_OK && authz_permset_has(&set, required) != m)
		abort();
	free(s);
	return 0;
}
