/*
 * route: the route table as data (Redis's command table idea): method,
 * pattern, handler, permission, flags, body limit. Matching is a linear scan
 * over the registered routes (fewer than a hundred), segment by segment.
 *
 * Invariants:
 *  - A route without method, pattern, handler or permission is refused
 *    (PV_E_INVALID): deny by default starts at registration.
 *  - A pattern is "/" followed by '/'-separated segments; a segment is a
 *    literal without braces or exactly "{name}". At most HTTP_MAX_PARAMS
 *    parameters; a permission's "{N}" must name an existing parameter.
 *  - Paths are percent-decoded per segment *after* splitting on '/', so an
 *    encoded "%2F" can never create or hide a segment; a parameter never
 *    contains '/' or NUL (RFC 3986 section 3.3).
 *  - Routes are added before the server starts and never change afterwards,
 *    so the pool threads read the table without locks.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

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

/* Decode src[0..len) into dst (>= len+1 bytes). -1 on a bad escape or NUL. */
static int
pct_decode(const char *src, size_t len, char *dst)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		char c = src[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return -1;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

enum pv_rc
http_path_split(struct pv_arena *a, const char *raw, char **segs, size_t *nsegs)
{
	const char *p, *end;
	size_t n = 0;

	if (raw == NULL || raw[0] != '/')
		return PV_E_INVALID;
	p = raw + 1;
	for (;;) {
		size_t len;
		char *seg;

		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (n == HTTP_MAX_SEGMENTS)
			return PV_E_NOTFOUND;
		seg = arena_alloc(a, len + 1);
		if (seg == NULL)
			return PV_E_NOMEM;
		if (pct_decode(p, len, seg) != 0)
			return PV_E_INVALID;
		segs[n++] = seg;
		if (end == NULL)
			break;
		p = end + 1;
	}
	*nsegs = n;
	return PV_OK;
}

/* Does pattern match the decoded segments? Params point into segs (a rest
 * parameter, HTTP_ROUTE_REST: into the arena). */
static bool
pattern_match(const struct http_route *r, struct pv_arena *a, char *const *segs,
    size_t nsegs, const char **params, size_t *nparams)
{
	const char *p = r->pattern + 1;
	size_t i = 0, np = 0, nparts = 1, take;
	bool rest = (r->flags & HTTP_ROUTE_REST) != 0;

	for (const char *q = p; *q != '\0'; q++)
		nparts += *q == '/';
	/* the rest parameter takes what the other pattern segments leave */
	take = nsegs >= nparts ? nsegs - nparts + 1 : 0;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (i == nsegs)
			return false;
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			size_t n = rest ? take : 1, total = 0, k;
			char *joined;

			if (n == 0 || i + n > nsegs || np == HTTP_MAX_PARAMS)
				return false;
			for (k = i; k < i + n; k++) {
				if (segs[k][0] == '\0' || strchr(segs[k], '/') != NULL)
					return false;
				total += strlen(segs[k]) + 1;
			}
			if (n == 1) {
				params[np++] = segs[i];
			} else {
				if ((joined = arena_alloc(a, total)) == NULL)
					return false;
				joined[0] = '\0';
				for (k = i; k < i + n; k++) {
					if (k > i)
						strcat(joined, "/");
					strcat(joined, segs[k]);
				}
				params[np++] = joined;
			}
			i += n;
			rest = false;   /* only the first parameter */
		} else {
			if (strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0)
				return false;
			i++;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (i != nsegs)
		return false;
	*nparams = np;
	return true;
}

enum pv_rc
http_route_match(const struct http_server *srv, struct pv_arena *a,
    const char *method, char *const *segs, size_t nsegs,
    const struct http_route **route, const char **params, size_t *nparams,
    const char **allow)
{
	const char *tmp[HTTP_MAX_PARAMS];
	char methods[128];
	size_t i, np, mlen = 0;
	bool path_hit = false;

	methods[0] = '\0';
	for (i = 0; i < srv->nroutes; i++) {
		const struct http_route *r = &srv->routes[i];

		if (!http_plane_serves(srv->cfg.plane, r->flags))
			continue;   /* the other listener's: as if it did not exist */
		if (!pattern_match(r, a, segs, nsegs, tmp, &np))
			continue;
		if (strcmp(r->method, method) == 0) {
			memcpy(params, tmp, np * sizeof(tmp[0]));
			*nparams = np;
			*route = r;
			return PV_OK;
		}
		path_hit = true;
		/* RFC 9110 section 15.5.6: a 405 lists the allowed methods */
		if (strstr(methods, r->method) == NULL &&
		    mlen + strlen(r->method) + 3 < sizeof(methods)) {
			if (mlen > 0) {
				memcpy(methods + mlen, ", ", 2);
				mlen += 2;
			}
			memcpy(methods + mlen, r->method, strlen(r->method) + 1);
			mlen += strlen(r->method);
		}
	}
	if (!path_hit)
		return PV_E_NOTFOUND;
	*allow = arena_strdup(a, methods);
	return PV_E_METHOD;
}

const struct http_route *
http_route_other_plane(const struct http_server *srv, struct pv_arena *a,
    char *const *segs, size_t nsegs, const char *method)
{
	const char *tmp[HTTP_MAX_PARAMS];
	const struct http_route *path_only = NULL;
	size_t i, np;

	if (srv->cfg.plane == HTTP_PLANE_ALL)
		return NULL;
	for (i = 0; i < srv->nroutes; i++) {
		const struct http_route *r = &srv->routes[i];

		if (http_plane_serves(srv->cfg.plane, r->flags) ||
		    !pattern_match(r, a, segs, nsegs, tmp, &np))
			continue;
		if (method != NULL && strcmp(r->method, method) == 0)
			return r;
		if (path_only == NULL)
			path_only = r;
	}
	return path_only;
}

enum pv_rc
http_perm_expand(struct pv_arena *a, const char *perm,
    const char *const *params, size_t nparams, const char **out)
{
	size_t len = 0, i, o = 0;
	const char *p;
	char *buf;

	/* first pass: the length, and every placeholder valid */
	for (p = perm; *p != '\0'; p++) {
		if (*p == '{') {
			size_t idx;

			if (p[1] < '0' || p[1] > '9' || p[2] != '}')
				return PV_E_INTERNAL;
			idx = (size_t)(p[1] - '0');
			if (idx >= nparams || params[idx] == NULL)
				return PV_E_INTERNAL;
			len += strlen(params[idx]);
			p += 2;
		} else {
			len++;
		}
	}
	if (strchr(perm, '{') == NULL) {
		*out = perm;
		return PV_OK;
	}
	buf = arena_alloc(a, len + 1);
	if (buf == NULL)
		return PV_E_NOMEM;
	for (p = perm; *p != '\0'; p++) {
		if (*p == '{') {
			const char *v = params[p[1] - '0'];

			for (i = 0; v[i] != '\0'; i++)
				buf[o++] = v[i];
			p += 2;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
	*out = buf;
	return PV_OK;
}

enum pv_rc
http_route_check(const struct http_route *r)
{
	const char *p, *q;
	size_t np = 0;

	if (r == NULL || r->method == NULL || r->method[0] == '\0' ||
	    r->pattern == NULL || r->handler == NULL || r->permission == NULL ||
	    r->permission[0] == '\0' || r->pattern[0] != '/')
		return PV_E_INVALID;
	for (p = r->method; *p != '\0'; p++)
		if (*p < 'A' || *p > 'Z')
			return PV_E_INVALID;
	p = r->pattern + 1;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *open = memchr(p, '{', len), *close = memchr(p, '}', len);

		if (open != NULL || close != NULL) {
			/* exactly "{name}" with a non-empty name and no other braces */
			if (len < 3 || p[0] != '{' || p[len - 1] != '}' ||
			    memchr(p + 1, '{', len - 2) != NULL ||
			    memchr(p + 1, '}', len - 2) != NULL)
				return PV_E_INVALID;
			if (++np > HTTP_MAX_PARAMS)
				return PV_E_INVALID;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	for (q = r->permission; *q != '\0'; q++) {
		if (*q == '}')
			return PV_E_INVALID;
		if (*q == '{') {
			if (q[1] < '0' || q[1] > '9' || q[2] != '}' ||
			    (size_t)(q[1] - '0') >= np)
				return PV_E_INVALID;
			q += 2;
		}
	}
	return PV_OK;
}

enum pv_rc
http_route_add(struct http_server *srv, const struct http_route *route)
{
	size_t i;

	if (srv == NULL || http_route_check(route) != PV_OK) {
		log_error("http: route %s %s refused (missing permission, handler or bad pattern)",
		    route && route->method ? route->method : "-",
		    route && route->pattern ? route->pattern : "-");
		return PV_E_INVALID;
	}
	if (atomic_load(&srv->started)) {
		log_error("http: route added after start");
		return PV_E_STATE;
	}
	for (i = 0; i < srv->nroutes; i++) {
		if (strcmp(srv->routes[i].method, route->method) == 0 &&
		    strcmp(srv->routes[i].pattern, route->pattern) == 0) {
			log_error("http: duplicate route %s %s", route->method, route->pattern);
			return PV_E_CONFLICT;
		}
	}
	if (srv->nroutes == srv->routes_cap) {
		size_t cap = srv->routes_cap ? srv->routes_cap * 2 : 32;
		struct http_route *nr = reallocarray(srv->routes, cap, sizeof(*nr));

		if (nr == NULL)
			return PV_E_NOMEM;
		srv->routes = nr;
		srv->routes_cap = cap;
	}
	srv->routes[srv->nroutes] = *route;
	/* its plane, decided once (plane.c): matching reads the flags */
	srv->routes[srv->nroutes].flags |= http_route_planes(route);
	srv->nroutes++;
	return PV_OK;
}

enum pv_rc
http_routes_add(struct http_server *srv, const struct http_route *routes, size_t n)
{
	enum pv_rc rc;
	size_t i;

	for (i = 0; i < n; i++) {
		rc = http_route_add(srv, &routes[i]);
		if (rc != PV_OK)
			return rc;
	}
	return PV_OK;
}
