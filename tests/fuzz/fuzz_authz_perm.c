/*
 * fuzz_authz_perm: the permission parser. Input is "granted\nrequired".
 * Checks: a valid permission formats back to exactly its text, except the
 * deprecated bare tokens.tokenize / tokens.detokenize, which format as their
 * ":*" form (and that form formats back to itself); "*" alone is never valid; a match implies both sides are valid and a permission always
 * covers itself; a permission set agrees with pairwise matching.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* p is a bare token verb and out its ":*" form, which formats back to itself */
static bool
bare_alias(const char *p, const char *out)
{
	struct authz_perm again;
	char out2[AUTHZ_PERM_MAX];
	size_t n = strlen(p);

	if (strcmp(p, "tokens.tokenize") != 0 && strcmp(p, "tokens.detokenize") != 0)
		return false;
	if (strncmp(out, p, n) != 0 || strcmp(out + n, ":*") != 0)
		return false;
	return authz_perm_parse(out, &again) == PV_OK &&
	    authz_perm_format(&again, out2) == PV_OK && strcmp(out2, out) == 0 &&
	    authz_perm_match(p, out) && authz_perm_match(out, p);
}

static void
check_one(const char *p)
{
	struct authz_perm parsed;
	char out[AUTHZ_PERM_MAX];

	if (authz_perm_parse(p, &parsed) == PV_OK) {
		if (authz_perm_format(&parsed, out) != PV_OK)
			abort();
		if (strcmp(out, p) != 0 && !bare_alias(p, out))
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
