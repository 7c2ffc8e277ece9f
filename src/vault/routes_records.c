/*
 * vault/routes_records.c: records over REST (API.md "PHI records"),
 * adapters over the record operations (ops_records.c).
 *
 *   POST   /v1/collections/{c}/records        records.write:{c}  record.create
 *   GET    /v1/collections/{c}/records/{id}   records.read:{c}   record.read    purpose
 *   GET    /v1/collections/{c}/records?f=v    records.read:{c}   record.search  purpose
 *   GET    /v1/collections/{c}/records[?limit=&cursor=]  (no field parameter)
 *                                             records.read:{c}   record.list    purpose
 *   PATCH  /v1/collections/{c}/records/{id}   records.write:{c}  record.update
 *   DELETE /v1/collections/{c}/records/{id}   records.write:{c}  record.delete
 *
 * Each handler takes the caller (principal, actor, X-Purpose-Of-Use), the
 * path parameters, the body or the query, calls the operation and returns
 * PV_PENDING: the operation's answer is the reply (vault_reply_done, with
 * the ETag of a single record), from whichever thread completed it. No
 * check and no store call here.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define REC_BODY_MAX (256 * 1024)

static enum pv_rc rec_create(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 201);
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_record_create(req->route->arg, &who, req->params[0], req->body, vault_reply_done, r);
	return PV_PENDING;
}

static enum pv_rc rec_read(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 200);
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_record_read(req->route->arg, &who, req->params[0], req->params[1], vault_reply_done,
	    r);
	return PV_PENDING;
}

/* The query of GET .../records: every key = value pair, and whether it is
 * a listing (no field parameter, only limit / cursor at most once each). */
struct query {
	struct vault_match *m;
	size_t n, cap, nlimit, ncursor;
};

static void query_cb(void *arg, const char *key, const char *value)
{
	struct query *q = arg;

	if (strcmp(key, "limit") == 0)
		q->nlimit++;
	else if (strcmp(key, "cursor") == 0)
		q->ncursor++;
	if (q->n < q->cap) {
		q->m[q->n].field = key;
		q->m[q->n].value = value;
	}
	q->n++;
}

static enum pv_rc rec_search(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 200);
	struct vault_match m[2];
	struct query q = { m, 0, 2, 0, 0 };
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	http_query_each(req, query_cb, &q);
	if (q.n == q.nlimit + q.ncursor && q.nlimit <= 1 && q.ncursor <= 1)
		vault_record_list(req->route->arg, &who, req->params[0], http_query(req, "limit"),
		    http_query(req, "cursor"), vault_reply_done, r);
	else
		/* more than one pair is refused by the operation (audited) */
		vault_record_search(req->route->arg, &who, req->params[0], m, q.n < 2 ? q.n : 2,
		    vault_reply_done, r);
	return PV_PENDING;
}

static enum pv_rc rec_patch(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 200);
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_record_update(req->route->arg, &who, req->params[0], req->params[1],
	    http_header(req, "If-Match"), req->body, vault_reply_done, r);
	return PV_PENDING;
}

static enum pv_rc rec_delete(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 204);
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_record_shred(req->route->arg, &who, req->params[0], req->params[1], vault_reply_done,
	    r);
	return PV_PENDING;
}

enum pv_rc vault_routes_records(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/collections/{c}/records", rec_create, "records.write:{0}",
		    "record.create", HTTP_ROUTE_BODY, REC_BODY_MAX, v },
		{ "GET", "/v1/collections/{c}/records", rec_search, "records.read:{0}",
		    "record.search", 0, 0, v },
		{ "GET", "/v1/collections/{c}/records/{id}", rec_read, "records.read:{0}",
		    "record.read", 0, 0, v },
		{ "PATCH", "/v1/collections/{c}/records/{id}", rec_patch, "records.write:{0}",
		    "record.update", HTTP_ROUTE_BODY, REC_BODY_MAX, v },
		{ "DELETE", "/v1/collections/{c}/records/{id}", rec_delete, "records.write:{0}",
		    "record.delete", 0, 0, v },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
