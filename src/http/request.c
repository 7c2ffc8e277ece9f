/*
 * request: one request's pipeline, independent of the socket layer.
 *
 * State machine of a struct http_ctx (see http_int.h):
 *   NEW --begin--> ROUTED --body*--> ROUTED --finish--> ANSWERED --free
 *   begin may set early_rc (400 ambiguous framing, 413 declared too large,
 *   400 a body on a no-body route, 503 / 401 from the sealed and
 *   authenticate hooks for a large body, 503 stopping); body may set it (413
 *   while uploading); finish answers early_rc first (and closes the
 *   connection), so a request that failed early never reaches a handler.
 *
 * Order in finish (DESIGN.md request flow): early error -> route (404 / 405 /
 * 400 bad path) -> sealed (503 unless HTTP_ROUTE_SEALED_OK) -> Content-Type
 * and JSON body (400, before authentication, so a bad body is always
 * invalid_json) -> authenticate (not for "public") -> authorize (not for
 * "public" / "authenticated") -> handler -> exactly one response.
 *
 * Invariants:
 *  - Everything a request allocates lives in its arena, which is wiped and
 *    freed with the ctx; JSON values (body, resp) are released in finish.
 *  - The body buffer is allocated as bytes arrive (HTTP_BODY_FIRST_CAP,
 *    doubling), never at the declared Content-Length, and never grows past
 *    the limit (64 bytes on a route without HTTP_ROUTE_BODY); bytes beyond
 *    it are counted and dropped.
 *  - A route without HTTP_ROUTE_BODY runs only with an empty body or {}.
 *  - Error bodies are built from the stable code and a message chosen by
 *    code (constants), never from request data.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* ---- answers held for a commit (util.h; pmu) ---- */

static void
hold_take(void *arg)
{
	struct http_ctx *ctx = arg;

	pthread_mutex_lock(&ctx->pmu);
	ctx->holds++;
	pthread_mutex_unlock(&ctx->pmu);
}

/*
 * The answer is complete (answered, no hold left): whoever waits for it is
 * woken after pmu is released (complete_wake). Called with pmu held; true
 * if there is someone to wake: a suspended connection (MHD_resume_connection)
 * or a request thread that waits (the post of psem). false when the
 * completion came before the suspend: on_access sees resumed under pmu.
 */
static bool
complete_locked(struct http_ctx *ctx)
{
	ctx->resumed = true;
	return ctx->suspended || ctx->conn == NULL || !ctx->srv->can_suspend;
}

/*
 * The wake-up itself (util_wake: at once, or at the end of the committer's
 * group, back to back with the group's other answers, so that a pool thread
 * is woken once for the group, not once per answer). ctx is alive until
 * here: a suspended connection stays suspended until this resume, and a
 * waiting request thread frees ctx only after this post. Neither touches
 * ctx afterwards: after the resume MHD may answer and free it at once, and
 * sem_post touches nothing of it after the increment the waiter sees but
 * the futex wake of its address.
 */
static void
complete_wake(struct util_wake *w)
{
	struct http_ctx *ctx = (struct http_ctx *)((char *)w - offsetof(struct http_ctx, wake));

	if (ctx->suspended)
		MHD_resume_connection(ctx->conn);
	else
		sem_post(&ctx->psem);
}

static void
hold_release(void *arg, enum pv_rc rc)
{
	struct http_ctx *ctx = arg;
	bool wake = false;

	pthread_mutex_lock(&ctx->pmu);
	if (rc != PV_OK && ctx->hold_rc == PV_OK)
		ctx->hold_rc = rc;
	if (--ctx->holds == 0 && ctx->answered)
		wake = complete_locked(ctx);
	/* as in http_resume: ctx may be freed once pmu is released, unless
	 * someone waits for the wake-up */
	pthread_mutex_unlock(&ctx->pmu);
	if (wake)
		util_wake(&ctx->wake);
}

/* The handler answered rc at once: true if holds remain, and the answer
 * waits for them (as if the handler had returned PV_PENDING). */
static bool
answer_held(struct http_ctx *ctx, enum pv_rc rc)
{
	bool held;

	pthread_mutex_lock(&ctx->pmu);
	held = ctx->holds > 0;
	if (held) {
		ctx->resume_rc = rc;
		ctx->answered = true;
	}
	pthread_mutex_unlock(&ctx->pmu);
	return held;
}

enum pv_rc
http_ctx_new(struct http_server *srv, const char *raw_uri, struct http_ctx **out)
{
	struct pv_arena *a;
	struct http_ctx *ctx;
	size_t plen;

	a = arena_new(HTTP_ARENA_BLOCK);
	if (a == NULL)
		return PV_E_NOMEM;
	ctx = arena_alloc(a, sizeof(*ctx));
	if (ctx == NULL)
		goto fail;
	if (raw_uri == NULL)
		raw_uri = "";
	plen = strcspn(raw_uri, "?#");
	ctx->raw_path = arena_alloc(a, plen + 1);
	if (ctx->raw_path == NULL)
		goto fail;
	memcpy(ctx->raw_path, raw_uri, plen);
	ctx->srv = srv;
	ctx->req.arena = a;
	ctx->req.priv = ctx;
	ctx->req.path = ctx->raw_path;
	ctx->req.method = "";
	ctx->req.source = "";
	ctx->start_us = util_mono_us();
	ctx->holder = (struct util_holder){ hold_take, hold_release, ctx };
	ctx->wake.fn = complete_wake;
	if (pthread_mutex_init(&ctx->pmu, NULL) != 0)
		goto fail;
	if (sem_init(&ctx->psem, 0, 0) != 0) {
		pthread_mutex_destroy(&ctx->pmu);
		goto fail;
	}
	*out = ctx;
	return PV_OK;
fail:
	arena_free(a);
	return PV_E_NOMEM;
}

/* ---- framing and early checks ---- */

struct hdr_count {
	const char *name;
	unsigned n;
};

static enum MHD_Result
hdr_count_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct hdr_count *hc = cls;

	(void)kind;
	(void)value;
	if (key != NULL && strcasecmp(key, hc->name) == 0)
		hc->n++;
	return MHD_YES;
}

/* How many times the header `name` was sent (http_header sees only the first). */
static unsigned
header_count(struct http_ctx *ctx, const char *name)
{
	struct hdr_count hc = { name, 0 };
	size_t i;

	if (ctx->conn != NULL) {
		(void)MHD_get_connection_values(ctx->conn, MHD_HEADER_KIND, hdr_count_cb, &hc);
		return hc.n;
	}
	for (i = 0; ctx->test_headers != NULL && ctx->test_headers[i] != NULL &&
	    ctx->test_headers[i + 1] != NULL; i += 2)
		if (strcasecmp(ctx->test_headers[i], name) == 0)
			hc.n++;
	return hc.n;
}

/*
 * RFC 9112 6.1 and 6.3: a request whose body length two parties could read
 * differently is refused, and the connection closed (early_rc always closes),
 * so that bytes after it are never parsed as another request: more than one
 * Content-Length (even equal ones), Content-Length together with
 * Transfer-Encoding, more than one Transfer-Encoding, or a coding other than
 * plain "chunked" (libmicrohttpd would read such a body as absent).
 */
static enum pv_rc
framing_check(struct http_ctx *ctx)
{
	struct http_request *req = &ctx->req;
	unsigned ncl = header_count(ctx, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned nte = header_count(ctx, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *te;

	if (ncl > 1)
		return http_fail(req, PV_E_INVALID, "More than one Content-Length header");
	if (nte == 0)
		return PV_OK;
	if (nte > 1 || ncl > 0)
		return http_fail(req, PV_E_INVALID,
		    "Content-Length and Transfer-Encoding together are refused");
	te = http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (te == NULL || strcasecmp(te, "chunked") != 0)
		return http_fail(req, PV_E_INVALID, "Only Transfer-Encoding: chunked is accepted");
	return PV_OK;
}

static enum pv_rc
no_body(struct http_request *req)
{
	return http_fail(req, PV_E_INVALID, "This route takes no request body (empty or {})");
}

/* The authenticate hook (not for "public" routes), with its fail-closed checks. */
static enum pv_rc
authenticate(struct http_ctx *ctx)
{
	struct http_request *req = &ctx->req;
	const struct http_config *cfg = &ctx->srv->cfg;
	const struct http_route *r = req->route;
	enum pv_rc rc;

	if (ctx->authed || strcmp(r->permission, HTTP_PERM_PUBLIC) == 0)
		return PV_OK;
	if (cfg->authenticate == NULL) {
		log_error("http: no authenticate hook for %s %s", r->method, r->pattern);
		return PV_E_UNAUTH;
	}
	rc = cfg->authenticate(cfg->hook_arg, req);
	if (rc != PV_OK)
		return rc;
	if (req->principal == NULL) {
		/* a hook that "succeeds" without a principal fails closed */
		log_error("http: authenticate hook returned no principal");
		return PV_E_UNAUTH;
	}
	ctx->authed = true;
	return PV_OK;
}

static bool
sealed_refused(struct http_ctx *ctx)
{
	const struct http_config *cfg = &ctx->srv->cfg;

	return cfg->is_sealed != NULL && !(ctx->req.route->flags & HTTP_ROUTE_SEALED_OK) &&
	    cfg->is_sealed(cfg->hook_arg);
}

void
http_ctx_begin(struct http_ctx *ctx, const char *method, const char *source,
    long long content_length)
{
	struct http_request *req = &ctx->req;
	struct http_server *srv = ctx->srv;
	char *segs[HTTP_MAX_SEGMENTS];
	size_t nsegs = 0, limit;
	const char *m;
	bool takes_body;
	enum pv_rc rc;

	ctx->begun = true;
	m = arena_strdup(req->arena, method ? method : "");
	if (m != NULL)
		req->method = m;
	if (source != NULL && (m = arena_strdup(req->arena, source)) != NULL)
		req->source = m;

	/* before anything else: a request with ambiguous framing is not one */
	rc = framing_check(ctx);
	if (rc != PV_OK) {
		ctx->early_rc = rc;
		return;
	}

	rc = http_path_split(req->arena, ctx->raw_path, segs, &nsegs);
	if (rc == PV_OK)
		rc = http_route_match(srv, req->arena, req->method, segs, nsegs,
		    &req->route, req->params, &req->nparams, &ctx->allow);
	if (rc == PV_E_NOTFOUND)   /* a route of the other plane: 404 too, reported */
		ctx->wrong_route = http_route_other_plane(srv, req->arena, segs, nsegs,
		    req->method);
	ctx->route_rc = rc;

	limit = srv->cfg.max_body_bytes;
	if (rc == PV_OK && req->route->max_body > 0)
		limit = req->route->max_body;
	if (limit > HTTP_BODY_HARD_MAX)
		limit = HTTP_BODY_HARD_MAX;
	ctx->body_limit = limit;
	takes_body = rc == PV_OK && (req->route->flags & (HTTP_ROUTE_BODY | HTTP_ROUTE_FORM));
	if (rc == PV_OK)
		ctx->body_keep = takes_body ? limit :
		    (limit < HTTP_NOBODY_KEEP ? limit : HTTP_NOBODY_KEEP);

	if (content_length >= 0 && (unsigned long long)content_length > limit) {
		ctx->early_rc = PV_E_TOOBIG;
		return;
	}
	if (rc != PV_OK)
		return;
	if (!takes_body && content_length > HTTP_NOBODY_KEEP) {
		/* longer than "{}" with any sane whitespace: refused unread */
		ctx->early_rc = no_body(req);
		return;
	}
	/*
	 * A large body on a route that needs a session: authenticate from the
	 * headers before reading a byte of it, so an anonymous client cannot
	 * make the server buffer max_body_bytes. Small bodies keep the usual
	 * order (invalid_json before authentication).
	 */
	if (content_length > HTTP_EARLY_AUTH_BYTES ||
	    (content_length < 0 && http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)) {
		if (sealed_refused(ctx))
			rc = PV_E_SEALED;
		else
			rc = authenticate(ctx);
		if (rc != PV_OK)
			ctx->early_rc = rc;
	}
	/* No buffer yet: it is allocated as bytes arrive (http_ctx_body), so a
	 * declared Content-Length costs nothing until the bytes are sent. */
}

bool
http_ctx_body(struct http_ctx *ctx, const char *data, size_t len)
{
	size_t need, cap;
	char *nb;

	if (len > SIZE_MAX - ctx->body_seen)
		return false;
	ctx->body_seen += len;
	if (ctx->early_rc != PV_OK) {
		/* already failing: drop, but do not drain an unbounded stream */
		return ctx->body_seen <= ctx->body_limit + HTTP_BODY_HARD_MAX;
	}
	if (ctx->body_seen > ctx->body_limit) {
		ctx->early_rc = PV_E_TOOBIG;
		return true;
	}
	if (ctx->body_len + len > ctx->body_keep)
		return true;   /* no route, or a no-body route sent too much: refused in finish */
	need = ctx->body_len + len + 1;   /* <= body_keep + 1 <= limit + 1: no overflow */
	if (need > ctx->body_cap) {
		/* geometric growth, capped at the kept maximum: O(bytes received) */
		cap = ctx->body_cap ? ctx->body_cap : HTTP_BODY_FIRST_CAP;
		while (cap < need)
			cap *= 2;
		if (cap > ctx->body_keep + 1)
			cap = ctx->body_keep + 1;
		nb = arena_alloc(ctx->req.arena, cap);
		if (nb == NULL) {
			ctx->early_rc = PV_E_NOMEM;
			return true;
		}
		if (ctx->body_len > 0) {
			memcpy(nb, ctx->body, ctx->body_len);
			explicit_bzero(ctx->body, ctx->body_len);
		}
		ctx->body = nb;
		ctx->body_cap = cap;
	}
	memcpy(ctx->body + ctx->body_len, data, len);
	ctx->body_len += len;
	return true;
}

/* ---- response building ---- */

/* JSON string body of s (without quotes) escaped into the arena. */
static char *
json_escape(struct pv_arena *a, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, o = 0;
	const unsigned char *p;
	char *out;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		n += (*p == '"' || *p == '\\') ? 2 : (*p < 0x20 ? 6 : 1);
	out = arena_alloc(a, n + 1);
	if (out == NULL)
		return NULL;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[*p >> 4];
			out[o + 5] = hex[*p & 15];
			o += 6;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return out;
}

static const char internal_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"Internal error\"}}";

/* A SCIM route, or an unrouted path under /scim/ (HTTP_ROUTE_SCIM). */
static bool
scim_request(struct http_ctx *ctx)
{
	const struct http_request *req = &ctx->req;

	if (req->route != NULL)
		return (req->route->flags & HTTP_ROUTE_SCIM) != 0;
	return req->path != NULL && strncmp(req->path, "/scim/", 6) == 0;
}

static void
respond_error(struct http_ctx *ctx, enum pv_rc rc)
{
	struct http_request *req = &ctx->req;
	const char *msg = req->err_message ? req->err_message : http_rc_message(rc);
	char *esc, *body;

	ctx->out_status = http_rc_status(rc);
	ctx->out_type = "application/json";
	esc = json_escape(req->arena, msg);
	if (esc != NULL && scim_request(ctx)) {
		/* RFC 7644 3.12; scimType only where the RFC has one */
		ctx->out_type = HTTP_SCIM_TYPE;
		body = arena_printf(req->arena, "{\"schemas\":[\"%s\"],\"status\":\"%d\","
		    "%s\"detail\":\"%s\"}", HTTP_SCIM_ERROR_URN, ctx->out_status,
		    rc == PV_E_JSON ? "\"scimType\":\"invalidSyntax\"," : "", esc);
	} else {
		body = esc ? arena_printf(req->arena,
		    "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", http_rc_code(rc), esc) :
		    NULL;
	}
	if (body == NULL) {
		ctx->out_status = 500;
		body = (char *)internal_body;
	}
	ctx->out_body = body;
	ctx->out_len = strlen(body);
	if (req->retry_after_s > 0)
		ctx->out_retry_after = req->retry_after_s;
	if (ctx->early_rc != PV_OK)
		ctx->out_close = true;   /* the body may be unread: no reuse */
}

/* Compact JSON of v into the arena; NULL on failure (json_out.c). */
static char *
dump_json(struct pv_arena *a, json_t *v, size_t *len)
{
	char *buf;

	return http_json_encode(a, v, &buf, len) == PV_OK ? buf : NULL;
}

static void
respond_ok(struct http_ctx *ctx)
{
	struct http_request *req = &ctx->req;
	int status = req->status ? req->status : 200;

	if (status < 200 || status > 599) {
		log_error("http: handler set status %d on %s %s", status,
		    req->method, req->route ? req->route->pattern : "?");
		respond_error(ctx, PV_E_INTERNAL);
		return;
	}
	ctx->out_status = status;
	if (req->retry_after_s > 0)
		ctx->out_retry_after = req->retry_after_s;
	if (status == 204 || status == 304) {
		ctx->out_body = "";
		ctx->out_len = 0;
		ctx->out_type = NULL;
		return;
	}
	ctx->out_type = req->resp_type ? req->resp_type :
	    (scim_request(ctx) ? HTTP_SCIM_TYPE : "application/json");
	if (req->resp_text != NULL) {
		ctx->out_body = req->resp_text;
		ctx->out_len = strlen(req->resp_text);
	} else if (req->resp != NULL) {
		ctx->out_body = dump_json(req->arena, req->resp, &ctx->out_len);
		if (ctx->out_body == NULL) {
			req->err_message = NULL;
			respond_error(ctx, PV_E_NOMEM);
		}
	} else {
		ctx->out_body = "{}";
		ctx->out_len = 2;
	}
}

/* ---- the pipeline ---- */

/* RFC 8259 section 11: application/json (and application/scim+json on a
 * SCIM route, RFC 7644 3.1); a charset, if given, must be UTF-8. */
/* An HTTP_ROUTE_FORM body: application/x-www-form-urlencoded, kept whole. */
static enum pv_rc
form_take(struct http_request *req, struct http_ctx *ctx)
{
	const char *ct = http_header(req, "Content-Type");
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(want) - 1;
	char *f;

	while (ct != NULL && (*ct == ' ' || *ct == '\t'))
		ct++;
	if (ct == NULL || strncasecmp(ct, want, n) != 0 || (ct[n] != '\0' && ct[n] != ';' &&
	    ct[n] != ' '))
		return http_fail(req, PV_E_INVALID,
		    "Content-Type must be application/x-www-form-urlencoded");
	if (ctx->body_seen > ctx->body_len)
		return PV_E_TOOBIG;
	if ((f = arena_alloc(req->arena, ctx->body_len + 1)) == NULL)
		return PV_E_NOMEM;
	if (ctx->body_len > 0)
		memcpy(f, ctx->body, ctx->body_len);
	f[ctx->body_len] = '\0';
	if (strlen(f) != ctx->body_len)
		return http_fail(req, PV_E_INVALID, "The form body holds a NUL byte");
	req->form = f;
	return PV_OK;
}

static int
form_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum pv_rc
http_form_value(struct http_request *req, const char *name, size_t max, const char **out)
{
	const char *p = req != NULL ? req->form : NULL, *found = NULL;
	size_t nl = name != NULL ? strlen(name) : 0, flen = 0;
	char *v;
	size_t i, o = 0;

	if (p == NULL || nl == 0)
		return PV_E_NOTFOUND;
	while (*p != '\0') {
		const char *end = p + strcspn(p, "&");

		if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			if (found != NULL)
				return PV_E_INVALID;   /* given twice: ambiguous */
			found = p + nl + 1;
			flen = (size_t)(end - found);
		}
		p = *end == '&' ? end + 1 : end;
	}
	if (found == NULL)
		return PV_E_NOTFOUND;
	if (flen > max * 3 || (v = arena_alloc(req->arena, flen + 1)) == NULL)
		return flen > max * 3 ? PV_E_INVALID : PV_E_NOMEM;
	for (i = 0; i < flen; i++) {
		char c = found[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (flen - i < 3 || (hi = form_hex(found[i + 1])) < 0 ||
			    (lo = form_hex(found[i + 2])) < 0)
				return PV_E_INVALID;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return PV_E_INVALID;
		v[o++] = c;
	}
	v[o] = '\0';
	if (o > max)
		return PV_E_INVALID;
	*out = v;
	return PV_OK;
}

static bool
content_type_ok(const char *ct, bool scim)
{
	const char *p = ct, *semi;
	size_t len;

	if (ct == NULL)
		return true;
	while (*p == ' ' || *p == '\t')
		p++;
	semi = strchr(p, ';');
	len = semi ? (size_t)(semi - p) : strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if ((len != strlen("application/json") || strncasecmp(p, "application/json", len) != 0) &&
	    (!scim || len != strlen(HTTP_SCIM_TYPE) || strncasecmp(p, HTTP_SCIM_TYPE, len) != 0))
		return false;
	while (semi != NULL) {
		p = semi + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		semi = strchr(p, ';');
		if (strncasecmp(p, "charset=", 8) == 0) {
			const char *v = p + 8;

			if (strncasecmp(v, "utf-8", 5) != 0 && strncasecmp(v, "\"utf-8\"", 7) != 0)
				return false;
		}
	}
	return true;
}

static enum pv_rc
run(struct http_ctx *ctx)
{
	struct http_request *req = &ctx->req;
	const struct http_config *cfg = &ctx->srv->cfg;
	const struct http_route *r;
	const char *perm;
	enum pv_rc rc;

	if (ctx->early_rc != PV_OK)
		return ctx->early_rc;
	if (ctx->route_rc != PV_OK) {
		if (ctx->route_rc == PV_E_INVALID)
			req->err_message = "Malformed request path";
		if (ctx->wrong_route != NULL && cfg->wrong_listener != NULL)
			cfg->wrong_listener(cfg->hook_arg, req, ctx->wrong_route);
		return ctx->route_rc;
	}
	r = req->route;
	if (sealed_refused(ctx))
		return PV_E_SEALED;
	if (r->flags & HTTP_ROUTE_BODY) {
		bool scim = (r->flags & HTTP_ROUTE_SCIM) != 0;

		if (!content_type_ok(http_header(req, "Content-Type"), scim))
			return http_fail(req, PV_E_INVALID, scim ?
			    "Content-Type must be application/scim+json or application/json" :
			    "Content-Type must be application/json");
		rc = http_parse_body(ctx->body, ctx->body_len, &req->body);
		if (rc != PV_OK)
			return rc;
	} else if (r->flags & HTTP_ROUTE_FORM) {
		if ((rc = form_take(req, ctx)) != PV_OK)
			return rc;
	} else if (ctx->body_seen > 0) {
		/* API.md: a route that takes no body accepts an empty body or {} */
		json_t *v = NULL;
		size_t nkeys;

		if (ctx->body_seen > ctx->body_len)
			return no_body(req);
		rc = http_parse_body(ctx->body, ctx->body_len, &v);
		if (rc != PV_OK)
			return rc;
		nkeys = json_object_size(v);
		json_decref(v);
		if (nkeys != 0)
			return no_body(req);
	}
	if (strcmp(r->permission, HTTP_PERM_PUBLIC) != 0) {
		rc = authenticate(ctx);
		if (rc != PV_OK)
			return rc;
		if (strcmp(r->permission, HTTP_PERM_AUTHENTICATED) != 0) {
			rc = http_perm_expand(req->arena, r->permission,
			    req->params, req->nparams, &perm);
			if (rc != PV_OK)
				return PV_E_INTERNAL;
			if (cfg->authorize == NULL) {
				log_error("http: no authorize hook for %s %s", r->method, r->pattern);
				return PV_E_FORBIDDEN;
			}
			rc = cfg->authorize(cfg->hook_arg, req, perm);
			if (rc != PV_OK)
				return rc;
		}
	}
	/* a fresh start for the handler's response fields */
	req->err_message = NULL;
	return r->handler(req);
}

void
http_ctx_finish(struct http_ctx *ctx)
{
	struct http_request *req = &ctx->req;
	enum pv_rc rc = PV_OK;

	if (ctx->out_ready)
		return;
	if (!ctx->pending) {
		/* authentication and the handler run on a request thread: a
		 * blocking commit from either is counted (commit_request_waits) */
		util_request_thread_set(true);
		util_request_holder_set(&ctx->holder);
		util_request_label_set(req->method, req->route ? req->route->pattern : NULL);
		rc = run(ctx);
		util_request_label_set(NULL, NULL);
		util_request_holder_set(NULL);
		util_request_thread_set(false);
		if (rc != PV_PENDING && answer_held(ctx, rc))
			rc = PV_PENDING;   /* the answer waits for its holds */
		if (rc == PV_PENDING) {
			ctx->pending = true;
			ctx->gauged = true;
			http_metrics_suspended(1);
			if (ctx->conn != NULL && ctx->srv->can_suspend)
				return;   /* server.c suspends the connection */
			/* a thread per connection, or unit tests: this thread waits
			 * (http_resume posts once, after it released pmu) */
			while (sem_wait(&ctx->psem) != 0)
				;   /* EINTR */
		}
	}
	if (ctx->pending) {
		pthread_mutex_lock(&ctx->pmu);
		if (!ctx->resumed) {
			pthread_mutex_unlock(&ctx->pmu);
			return;
		}
		rc = ctx->resume_rc;
		pthread_mutex_unlock(&ctx->pmu);
		ctx->gauged = false;
		http_metrics_suspended(-1);
		if (rc == PV_PENDING)
			rc = PV_E_INTERNAL;
	}
	/* every hold is released (nothing else writes hold_rc now); one that
	 * failed decides the answer, not what the handler built */
	if (ctx->hold_rc != PV_OK && rc != ctx->hold_rc) {
		log_error("http: %s %s: a commit its answer waited for failed (%s)",
		    req->method, req->route ? req->route->pattern : "-",
		    pv_rc_name(ctx->hold_rc));
		rc = ctx->hold_rc;
		req->err_message = NULL;
		req->retry_after_s = 0;
	}
	if (rc == PV_OK) {
		respond_ok(ctx);
	} else {
		respond_error(ctx, rc);
		/* 500s and audit outages are worth an operator's look; sealed is not */
		if (http_rc_status(rc) == 500 || rc == PV_E_AUDIT)
			log_warn("http: %s %s -> %d %s", req->method,
			    req->route ? req->route->pattern : "-", ctx->out_status,
			    pv_rc_name(rc));
	}
	ctx->out_ready = true;
	json_decref(req->resp);
	req->resp = NULL;
	json_decref(req->body);
	req->body = NULL;
	if (ctx->body != NULL && ctx->body_len > 0)
		explicit_bzero(ctx->body, ctx->body_len);
}

void
http_ctx_reject(struct http_ctx *ctx, enum pv_rc rc)
{
	if (ctx->out_ready)
		return;
	respond_error(ctx, rc);
	ctx->out_close = true;
	ctx->out_ready = true;
}

void
http_ctx_free(struct http_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->gauged)
		http_metrics_suspended(-1);   /* freed before it picked up its answer */
	json_decref(ctx->req.resp);
	json_decref(ctx->req.body);
	sem_destroy(&ctx->psem);
	pthread_mutex_destroy(&ctx->pmu);
	arena_free(ctx->req.arena);
}

void
http_resume(struct http_request *req, enum pv_rc rc)
{
	struct http_ctx *ctx = req->priv;
	bool wake = false;

	pthread_mutex_lock(&ctx->pmu);
	ctx->resume_rc = rc;
	ctx->answered = true;
	if (ctx->holds == 0)
		wake = complete_locked(ctx);
	/* else the last hold's release completes the answer */
	/* a suspending request's thread may free ctx as soon as this unlock
	 * returns, unless someone waits for the wake-up */
	pthread_mutex_unlock(&ctx->pmu);
	/*
	 * Woken after the unlock: the woken thread takes pmu next, and had it
	 * been woken while this thread held pmu, it would block at once and
	 * switch back (two extra context switches a request on a busy core).
	 * On the committer the wake-up waits for the end of the group
	 * (complete_wake).
	 */
	if (wake)
		util_wake(&ctx->wake);
}

/* ---- handler helpers (http.h) ---- */

static const char *
pairs_lookup(const char *const *pairs, const char *name)
{
	size_t i;

	for (i = 0; pairs != NULL && pairs[i] != NULL && pairs[i + 1] != NULL; i += 2)
		if (strcasecmp(pairs[i], name) == 0)
			return pairs[i + 1];
	return NULL;
}

const char *
http_header(struct http_request *req, const char *name)
{
	struct http_ctx *ctx = req ? req->priv : NULL;

	if (ctx == NULL || name == NULL)
		return NULL;
	if (ctx->conn != NULL)
		return MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, name);
	return pairs_lookup(ctx->test_headers, name);
}

const char *
http_query(struct http_request *req, const char *name)
{
	struct http_ctx *ctx = req ? req->priv : NULL;

	if (ctx == NULL || name == NULL)
		return NULL;
	if (ctx->conn != NULL)
		return MHD_lookup_connection_value(ctx->conn, MHD_GET_ARGUMENT_KIND, name);
	return pairs_lookup(ctx->test_query, name);
}

struct query_iter {
	void (*fn)(void *arg, const char *key, const char *value);
	void *arg;
};

static enum MHD_Result
query_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_iter *qi = cls;

	(void)kind;
	qi->fn(qi->arg, key, value ? value : "");
	return MHD_YES;
}

void
http_query_each(struct http_request *req,
    void (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	struct http_ctx *ctx = req ? req->priv : NULL;
	struct query_iter qi = { fn, arg };
	size_t i;

	if (ctx == NULL || fn == NULL)
		return;
	if (ctx->conn != NULL) {
		(void)MHD_get_connection_values(ctx->conn, MHD_GET_ARGUMENT_KIND,
		    query_iter_cb, &qi);
		return;
	}
	for (i = 0; ctx->test_query != NULL && ctx->test_query[i] != NULL &&
	    ctx->test_query[i + 1] != NULL; i += 2)
		fn(arg, ctx->test_query[i], ctx->test_query[i + 1]);
}

enum pv_rc
http_fail(struct http_request *req, enum pv_rc rc, const char *message)
{
	if (req != NULL)
		req->err_message = message;
	return rc;
}

enum pv_rc
http_reply(struct http_request *req, int status, json_t *body)
{
	json_decref(req->resp);
	req->resp = body;
	req->status = status;
	return PV_OK;
}
