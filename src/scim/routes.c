/*
 * scim/routes.c: /scim/v2/ over HTTP (RFC 7644), adapters over the
 * operations of users.c and groups.c: parse the query or body, call, reply.
 *
 *   GET    /scim/v2/Users            filter, startIndex, count, attributes, excludedAttributes
 *   POST   /scim/v2/Users            201, Location, ETag
 *   GET    /scim/v2/Users/{id}
 *   PUT    /scim/v2/Users/{id}
 *   PATCH  /scim/v2/Users/{id}       200 with the resource
 *   DELETE /scim/v2/Users/{id}       204 (disables)
 *   (PUT, PATCH, DELETE honour If-Match: 412 unless it is the version)
 *   ... the same for /scim/v2/Groups
 *   GET    /scim/v2/ServiceProviderConfig, /Schemas, /ResourceTypes
 *
 * Every route requires scim.provision. Routes carry HTTP_ROUTE_SCIM: the
 * body may be application/scim+json, answers are application/scim+json,
 * and the pipeline's own errors (401, 403, 413, invalid JSON) take the
 * SCIM error form; the operations' errors are SCIM errors with scimType.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "http/http.h"
#include "scim/scim_int.h"

#define BODY_MAX (256 * 1024)

static enum pv_rc
reply_err(struct http_request *req, const struct scim_error *err)
{
	return http_reply(req, err->status >= 400 ? err->status : 500, scim_error_json(err));
}

static enum pv_rc
reply_res(struct http_request *req, int status, json_t *res)
{
	json_t *meta = json_object_get(res, "meta");
	const char *v = json_string_value(json_object_get(meta, "version"));
	const char *loc = json_string_value(json_object_get(meta, "location"));

	if (v != NULL)
		(void)http_set_header(req, "ETag", v);
	if (status == 201 && loc != NULL)
		(void)http_set_header(req, "Location", loc);
	scim_project(res, http_query(req, "attributes"), http_query(req, "excludedAttributes"));
	return http_reply(req, status, res);
}

/* startIndex / count: decimal integers, RFC 7644 3.4.2.4. */
static bool
parse_long(const char *s, long dflt, long *out)
{
	char *end;
	long v;

	if (s == NULL) {
		*out = dflt;
		return true;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool
list_query(struct http_request *req, struct scim_list_query *q, struct scim_error *err)
{
	q->filter = http_query(req, "filter");
	if (!parse_long(http_query(req, "startIndex"), 1, &q->start_index) ||
	    !parse_long(http_query(req, "count"), SCIM_COUNT_DEFAULT, &q->count)) {
		scim_fail(err, PV_E_INVALID, 400, "invalidValue",
		    "startIndex and count are integers");
		return false;
	}
	return true;
}

#define IF_MATCH http_header(req, "If-Match")
#define ACTOR(a) struct pv_actor a; authn_actor(req->principal, req->source, &a)

/* The five shapes of a resource operation: Users and Groups share them, so
 * each handler below is its resource's operation given to one adapter. */
typedef enum pv_rc (*list_fn)(struct scim *s, const struct pv_actor *actor,
    const struct scim_list_query *q, json_t **out, struct scim_error *err);
typedef enum pv_rc (*get_fn)(struct scim *s, const struct pv_actor *actor, const char *id,
    json_t **out, struct scim_error *err);
typedef enum pv_rc (*create_fn)(struct scim *s, const struct pv_actor *actor, json_t *body,
    struct scim_write *w);
typedef enum pv_rc (*write_fn)(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w);
typedef enum pv_rc (*delete_fn)(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, struct scim_write *w);

static enum pv_rc
do_list(struct http_request *req, list_fn fn)
{
	struct scim_list_query q;
	struct scim_error err;
	json_t *out = NULL, *r;
	size_t i;
	ACTOR(actor);

	if (!list_query(req, &q, &err) || fn(req->route->arg, &actor, &q, &out, &err) != PV_OK)
		return reply_err(req, &err);
	json_array_foreach(json_object_get(out, "Resources"), i, r)
		scim_project(r, http_query(req, "attributes"), http_query(req, "excludedAttributes"));
	return http_reply(req, 200, out);
}

static enum pv_rc
do_get(struct http_request *req, get_fn fn)
{
	struct scim_error err;
	json_t *out = NULL;
	ACTOR(actor);

	if (fn(req->route->arg, &actor, req->params[0], &out, &err) != PV_OK)
		return reply_err(req, &err);
	return reply_res(req, 200, out);
}

/* ---- writes: answered from their transaction's completion ---- */

static struct scim_write *
write_new(struct http_request *req, int status)
{
	struct scim_write *w = calloc(1, sizeof(*w));

	if (w != NULL) {
		w->req = req;
		w->s = req->route->arg;
		w->status = status;
	}
	return w;
}

/* The answer of w for rc (on the committer for an async write: cheap work
 * only, no store call); w goes. */
static enum pv_rc
write_answer(struct scim_write *w, enum pv_rc rc)
{
	struct http_request *req = w->req;

	if (rc != PV_OK)
		rc = reply_err(req, &w->err);
	else if (w->status == 204)
		rc = http_reply(req, 204, NULL);
	else {
		rc = reply_res(req, w->status, w->out);
		w->out = NULL;   /* the reply's */
	}
	json_decref(w->out);
	free(w);
	return rc;
}

enum pv_rc
scim_write_done(struct scim_write *w, enum pv_rc rc)
{
	struct http_request *req = w->req;

	if (!w->async || req == NULL)
		return rc;   /* the handler answers when the call returns */
	http_resume(req, write_answer(w, rc));
	return rc;
}

/* The handler's return for the operation's rc. */
static enum pv_rc
write_end(struct scim_write *w, enum pv_rc rc)
{
	if (rc == PV_PENDING)
		return PV_PENDING;   /* w is scim_write_done's */
	return write_answer(w, rc);
}

static enum pv_rc
reply_nomem(struct http_request *req)
{
	struct scim_error err;

	scim_fail(&err, PV_E_NOMEM, 500, "", "Out of memory");
	return reply_err(req, &err);
}

#define WRITE_NEW(w, status) \
	struct scim_write *w = write_new(req, status); \
	if (w == NULL) \
		return reply_nomem(req)

static enum pv_rc
do_create(struct http_request *req, create_fn fn)
{
	ACTOR(actor);
	WRITE_NEW(w, 201);

	return write_end(w, fn(req->route->arg, &actor, req->body, w));
}

/* PUT and PATCH */
static enum pv_rc
do_write(struct http_request *req, write_fn fn)
{
	ACTOR(actor);
	WRITE_NEW(w, 200);

	return write_end(w, fn(req->route->arg, &actor, req->params[0], IF_MATCH, req->body, w));
}

static enum pv_rc
do_delete(struct http_request *req, delete_fn fn)
{
	ACTOR(actor);
	WRITE_NEW(w, 204);

	return write_end(w, fn(req->route->arg, &actor, req->params[0], IF_MATCH, w));
}

static enum pv_rc
h_users_list(struct http_request *req)
{
	return do_list(req, scim_user_list);
}
static enum pv_rc
h_user_get(struct http_request *req)
{
	return do_get(req, scim_user_get);
}
static enum pv_rc
h_user_create(struct http_request *req)
{
	return do_create(req, scim_user_create);
}
static enum pv_rc
h_user_put(struct http_request *req)
{
	return do_write(req, scim_user_replace);
}
static enum pv_rc
h_user_patch(struct http_request *req)
{
	return do_write(req, scim_user_patch);
}
static enum pv_rc
h_user_delete(struct http_request *req)
{
	return do_delete(req, scim_user_delete);
}
static enum pv_rc
h_groups_list(struct http_request *req)
{
	return do_list(req, scim_group_list);
}
static enum pv_rc
h_group_get(struct http_request *req)
{
	return do_get(req, scim_group_get);
}
static enum pv_rc
h_group_create(struct http_request *req)
{
	return do_create(req, scim_group_create);
}
static enum pv_rc
h_group_put(struct http_request *req)
{
	return do_write(req, scim_group_replace);
}
static enum pv_rc
h_group_patch(struct http_request *req)
{
	return do_write(req, scim_group_patch);
}
static enum pv_rc
h_group_delete(struct http_request *req)
{
	return do_delete(req, scim_group_delete);
}

static enum pv_rc
h_spc(struct http_request *req)
{
	struct scim *s = req->route->arg;

	return http_reply(req, 200, scim_service_provider_json(s->base));
}

static enum pv_rc
h_schemas(struct http_request *req)
{
	struct scim *s = req->route->arg;

	return http_reply(req, 200, scim_schemas_json(s->base));
}

static enum pv_rc
h_resource_types(struct http_request *req)
{
	struct scim *s = req->route->arg;

	return http_reply(req, 200, scim_resource_types_json(s->base));
}

enum pv_rc
scim_routes(struct scim *s, struct http_server *srv)
{
	const unsigned B = HTTP_ROUTE_BODY | HTTP_ROUTE_SCIM, N = HTTP_ROUTE_SCIM;
	const struct http_route routes[] = {
		{ "GET", "/scim/v2/Users", h_users_list, "scim.provision", "scim.user.read",
		    N, 0, s },
		{ "POST", "/scim/v2/Users", h_user_create, "scim.provision", "scim.user.write",
		    B, BODY_MAX, s },
		{ "GET", "/scim/v2/Users/{id}", h_user_get, "scim.provision", "scim.user.read",
		    N, 0, s },
		{ "PUT", "/scim/v2/Users/{id}", h_user_put, "scim.provision", "scim.user.write",
		    B, BODY_MAX, s },
		{ "PATCH", "/scim/v2/Users/{id}", h_user_patch, "scim.provision", "scim.user.write",
		    B, BODY_MAX, s },
		{ "DELETE", "/scim/v2/Users/{id}", h_user_delete, "scim.provision", "scim.user.write",
		    N, 0, s },
		{ "GET", "/scim/v2/Groups", h_groups_list, "scim.provision", "scim.group.read",
		    N, 0, s },
		{ "POST", "/scim/v2/Groups", h_group_create, "scim.provision", "scim.group.write",
		    B, BODY_MAX, s },
		{ "GET", "/scim/v2/Groups/{id}", h_group_get, "scim.provision", "scim.group.read",
		    N, 0, s },
		{ "PUT", "/scim/v2/Groups/{id}", h_group_put, "scim.provision", "scim.group.write",
		    B, BODY_MAX, s },
		{ "PATCH", "/scim/v2/Groups/{id}", h_group_patch, "scim.provision",
		    "scim.group.write", B, BODY_MAX, s },
		{ "DELETE", "/scim/v2/Groups/{id}", h_group_delete, "scim.provision",
		    "scim.group.write", N, 0, s },
		{ "GET", "/scim/v2/ServiceProviderConfig", h_spc, "scim.provision", "scim.discovery",
		    N, 0, s },
		{ "GET", "/scim/v2/Schemas", h_schemas, "scim.provision", "scim.discovery", N, 0, s },
		{ "GET", "/scim/v2/ResourceTypes", h_resource_types, "scim.provision",
		    "scim.discovery", N, 0, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
