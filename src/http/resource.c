/*
 * resource: what the audit trail names for a routed request, and the few
 * response headers a handler may add (ETag).
 *
 * http_route_resource: the route's pattern without its "/v1/" prefix, each
 * "{x}" replaced by the decoded path parameter, so that a denial names the
 * same resource as the handler's allowed entries
 * ("/v1/collections/{c}/records/{id}" -> "collections/patients/records/rec_x").
 * Invariants: the result is valid UTF-8 without C0/C1 controls or DEL (what
 * audit_text_ok demands), each parameter contributes at most
 * HTTP_RESOURCE_PARAM_MAX bytes (then "..."), and the whole text is bounded by
 * the pattern length + HTTP_MAX_PARAMS * (HTTP_RESOURCE_PARAM_MAX + 3). Bytes
 * that are controls, '%' or not part of a valid UTF-8 sequence are written as
 * %XX, so nothing a client sends can forge a line in a sink or fail the
 * audit entry.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

/* Length of the valid, non-control UTF-8 sequence at p (RFC 3629), or 0. */
static size_t
utf8_seq(const unsigned char *p)
{
	uint32_t cp;
	size_t n = util_utf8_next(p, strnlen((const char *)p, 4), &cp);

	return n > 1 && !util_is_control(cp) ? n : 0;
}

/* Append one escaped, bounded parameter to out[*o..cap). */
static void
put_param(char *out, size_t cap, size_t *o, const char *param)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)param;
	size_t used = 0;

	while (*p != '\0') {
		size_t n = *p >= 0x80 ? utf8_seq(p) : 0;
		bool esc = *p < 0x20 || *p == 0x7f || *p == '%' || (*p >= 0x80 && n == 0);
		size_t w = esc ? 3 : (n ? n : 1);

		if (used + w > HTTP_RESOURCE_PARAM_MAX) {
			if (*o + 3 < cap) {
				memcpy(out + *o, "...", 3);
				*o += 3;
			}
			return;
		}
		if (*o + w >= cap)
			return;
		if (esc) {
			out[(*o)++] = '%';
			out[(*o)++] = hex[*p >> 4];
			out[(*o)++] = hex[*p & 15];
			p++;
		} else {
			memcpy(out + *o, p, w);
			*o += w;
			p += w;
		}
		used += w;
	}
}

const char *
http_route_resource(struct http_request *req)
{
	const struct http_route *r = req != NULL ? req->route : NULL;
	const char *p;
	size_t cap, o = 0, np = 0;
	char *out;

	if (r == NULL)
		return "(unrouted)";
	p = r->pattern;
	if (strncmp(p, "/v1/", 4) == 0)
		p += 4;
	else if (*p == '/')
		p++;
	cap = strlen(p) + HTTP_MAX_PARAMS * (HTTP_RESOURCE_PARAM_MAX + 4) + 1;
	if ((out = arena_alloc(req->arena, cap)) == NULL)
		return "(unrouted)";
	while (*p != '\0') {
		if (*p == '{') {
			const char *end = strchr(p, '}');

			if (end == NULL)
				break;   /* http_route_check refuses such patterns */
			if ((r->flags & HTTP_ROUTE_PHI_PARAMS) != 0 && o + 1 < cap)
				out[o++] = '-';
			else if (np < req->nparams && req->params[np] != NULL)
				put_param(out, cap, &o, req->params[np]);
			np++;
			p = end + 1;
			continue;
		}
		if (o + 1 < cap)
			out[o++] = *p;
		p++;
	}
	out[o] = '\0';
	return out;
}

/* RFC 9110 section 5.1: a header name is a token. */
static bool
token_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

enum pv_rc
http_set_header(struct http_request *req, const char *name, const char *value)
{
	struct http_ctx *ctx = req != NULL ? req->priv : NULL;
	char *n, *v;

	if (ctx == NULL || !token_ok(name) || value == NULL || strpbrk(value, "\r\n") != NULL)
		return PV_E_INVALID;
	if (ctx->out_nhdr == HTTP_EXTRA_HEADERS_MAX)
		return PV_E_TOOBIG;
	if ((n = arena_strdup(req->arena, name)) == NULL ||
	    (v = arena_strdup(req->arena, value)) == NULL)
		return PV_E_NOMEM;
	ctx->out_hdr[ctx->out_nhdr][0] = n;
	ctx->out_hdr[ctx->out_nhdr][1] = v;
	ctx->out_nhdr++;
	return PV_OK;
}

const char *
http_response_header(struct http_request *req, const char *name)
{
	struct http_ctx *ctx = req != NULL ? req->priv : NULL;

	for (size_t i = 0; ctx != NULL && name != NULL && i < ctx->out_nhdr; i++)
		if (strcasecmp(ctx->out_hdr[i][0], name) == 0)
			return ctx->out_hdr[i][1];
	return NULL;
}
