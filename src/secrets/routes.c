/*
 * secrets/routes.c: the secrets over REST (API.md "Secrets"), adapters over
 * the operations (ops.c). A path holds '/', so the routes take it whole
 * (HTTP_ROUTE_REST: {path} is one or more segments).
 *
 *   GET    /v1/secrets?prefix=P                       secret.list
 *   PUT    /v1/secrets/{path}       (If-Match)        secret.write   200 | 201
 *   GET    /v1/secrets/{path}[?version=N]             secret.read
 *   DELETE /v1/secrets/{path}                         secret.delete  204
 *   POST   /v1/secrets/{path}/undelete                secret.undelete
 *   POST   /v1/secrets/{path}/versions/{v}/destroy    secret.destroy
 *
 * Every route is "authenticated": the operation decides secrets.read or
 * secrets.write on the path (a prefix scope the route table cannot
 * express). No check and no store call here (CTest route_thinness). Every
 * handler returns PV_PENDING: the operation's answer is the reply
 * (reply_done, http_resume), before it returns (reads, refusals) or from
 * its commit's completion (writes).
 */
#include <string.h>

#include "http/http.h"
#include "secrets/secrets_int.h"

#define PUT_BODY_MAX (256 * 1024)   /* a 64 KiB value, JSON-escaped, and metadata */

struct reply {
	struct http_request *req;
	int status;
};

/* From whichever thread completed the operation (the request's, the
 * committer, the sweeper): nobody else touches req until http_resume. */
static void reply_done(struct secrets_answer *a, void *arg)
{
	struct reply *r = arg;
	struct http_request *req = r->req;
	enum pv_rc rc;

	if (a->rc != PV_OK) {
		rc = http_fail(req, a->rc, a->message[0] != '\0' ?
		    arena_strdup(req->arena, a->message) : NULL);
	} else {
		rc = http_reply(req, a->created ? 201 : r->status, a->body);
		a->body = NULL;
	}
	http_resume(req, rc);
}

static void caller_of(struct http_request *req, struct pv_actor *actor,
    struct secrets_caller *who)
{
	authn_actor(req->principal, req->source, actor);
	who->subject = req->principal;
	who->actor = actor;
}

/* The reply lives in the request's arena: a write answers from its commit's
 * completion, after the handler returned PV_PENDING. */
#define CALL(status_, expr) do { \
	struct pv_actor actor_; \
	struct secrets_caller who_; \
	struct secrets_caller *who = &who_; \
	struct reply *rp = arena_alloc(req->arena, sizeof(*rp)); \
	if (rp == NULL) \
		return PV_E_NOMEM; \
	rp->req = req; \
	rp->status = (status_); \
	caller_of(req, &actor_, &who_); \
	expr; \
	return PV_PENDING; \
} while (0)

static enum pv_rc on_list(struct http_request *req)
{
	CALL(200, secrets_list(req->route->arg, who, http_query(req, "prefix"), reply_done, rp));
}

static enum pv_rc on_put(struct http_request *req)
{
	CALL(200, secrets_put(req->route->arg, who, req->params[0], http_header(req, "If-Match"),
	    req->body, reply_done, rp));
}

static enum pv_rc on_get(struct http_request *req)
{
	CALL(200, secrets_get(req->route->arg, who, req->params[0], http_query(req, "version"),
	    reply_done, rp));
}

static enum pv_rc on_delete(struct http_request *req)
{
	CALL(204, secrets_delete(req->route->arg, who, req->params[0], reply_done, rp));
}

static enum pv_rc on_undelete(struct http_request *req)
{
	CALL(200, secrets_undelete(req->route->arg, who, req->params[0], reply_done, rp));
}

static enum pv_rc on_destroy(struct http_request *req)
{
	CALL(200, secrets_destroy(req->route->arg, who, req->params[0], req->params[1],
	    reply_done, rp));
}

enum pv_rc secrets_routes(struct http_server *srv, struct secrets *s)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/secrets", on_list, HTTP_PERM_AUTHENTICATED, "secret.list", 0, 0, s },
		{ "PUT", "/v1/secrets/{path}", on_put, HTTP_PERM_AUTHENTICATED, "secret.write",
		    HTTP_ROUTE_BODY | HTTP_ROUTE_REST, PUT_BODY_MAX, s },
		{ "GET", "/v1/secrets/{path}", on_get, HTTP_PERM_AUTHENTICATED, "secret.read",
		    HTTP_ROUTE_REST, 0, s },
		{ "DELETE", "/v1/secrets/{path}", on_delete, HTTP_PERM_AUTHENTICATED,
		    "secret.delete", HTTP_ROUTE_REST, 0, s },
		{ "POST", "/v1/secrets/{path}/undelete", on_undelete, HTTP_PERM_AUTHENTICATED,
		    "secret.undelete", HTTP_ROUTE_REST, 0, s },
		{ "POST", "/v1/secrets/{path}/versions/{v}/destroy", on_destroy,
		    HTTP_PERM_AUTHENTICATED, "secret.destroy", HTTP_ROUTE_REST, 0, s },
	};

	if (srv == NULL || s == NULL)
		return PV_E_INVALID;
	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
