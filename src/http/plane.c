/*
 * plane: which routes are management and which are data
 * (docs/governance.md "Management plane and TLS certificates" has the
 * table for users).
 *
 * One table for every module, by path prefix, so that the split is read in
 * one place and a module that adds a route need not know about listeners; a
 * route may still say HTTP_ROUTE_MGMT / HTTP_ROUTE_DATA itself, which wins.
 * The longest matching prefix decides (segment-wise: "/v1/auth" matches
 * "/v1/auth/login", not "/v1/authz/explain"). A path no entry matches is
 * management: deny by default on the exposed listener.
 *
 * Data plane: what an application or a clinician's client calls to store
 * and read PHI (records, tokens, secrets, app sign-in). Both planes: signing
 * in (users sign in on the listener they use), health, break-glass (an
 * emergency read happens where records are read) and the test hooks of test
 * builds. Everything else (users, groups, roles, policies, keys, backups,
 * officers, approvals, elevations, reviews, alerts, audit, compliance, jobs,
 * collections' definitions, subjects, SCIM, the console, metrics, unseal,
 * TLS) is management.
 */
#include <string.h>

#include "http/http_int.h"

#define BOTH (HTTP_ROUTE_MGMT | HTTP_ROUTE_DATA)

static const struct {
	const char *prefix;
	unsigned planes;
} table[] = {
	{ "/v1/collections/{c}/records", HTTP_ROUTE_DATA },
	{ "/v1/collections/{c}/records:batch", HTTP_ROUTE_DATA },
	{ "/v1/tokenize", HTTP_ROUTE_DATA },
	{ "/v1/detokenize", HTTP_ROUTE_DATA },
	{ "/v1/secrets", HTTP_ROUTE_DATA },
	{ "/v1/auth", BOTH },
	{ "/v1/sys/health", BOTH },
	{ "/v1/breakglass", BOTH },
	{ "/v1/test", BOTH },
};

/* Is prefix a whole-segment prefix of path? */
static bool
prefix_of(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

unsigned
http_route_planes(const struct http_route *r)
{
	unsigned own = r->flags & BOTH, best = HTTP_ROUTE_MGMT;
	size_t i, blen = 0;

	if (own != 0)
		return own;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t n = strlen(table[i].prefix);

		if (n > blen && prefix_of(table[i].prefix, r->pattern)) {
			best = table[i].planes;
			blen = n;
		}
	}
	return best;
}

bool
http_plane_serves(enum http_plane plane, unsigned planes)
{
	switch (plane) {
	case HTTP_PLANE_ALL:
		return true;
	case HTTP_PLANE_DATA:
		return (planes & HTTP_ROUTE_DATA) != 0;
	case HTTP_PLANE_MGMT:
		return (planes & HTTP_ROUTE_MGMT) != 0;
	}
	return false;
}
