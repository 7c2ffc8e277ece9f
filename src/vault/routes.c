/*
 * vault/routes.c: the vault over REST (API.md "PHI records"), adapters
 * over the operations (ops_*.c, vault.h "operations").
 *
 *   POST   /v1/collections                     collections.manage  collection.create
 *   GET    /v1/collections                     collections.manage
 *   GET    /v1/collections/{c}                 authenticated (the operation decides
 *                                              collections.read on c)
 *   POST   /v1/collections/{c}/records         records.write:{c}   record.create
 *   GET    /v1/collections/{c}/records/{id}    records.read:{c}    record.read    purpose
 *   GET    /v1/collections/{c}/records?f=v     records.read:{c}    record.search  purpose
 *   GET    /v1/collections/{c}/records[?limit=&cursor=]  (no field parameter)
 *                                              records.read:{c}    record.list    purpose
 *   PATCH  /v1/collections/{c}/records/{id}    records.write:{c}   record.update
 *   DELETE /v1/collections/{c}/records/{id}    records.write:{c}   record.delete
 *   POST   /v1/collections/{c}/records:batch   authenticated (the operation decides
 *          {"create":[...]} | {"read":[...]}   records.write / records.read on c)
 *   POST   /v1/tokenize                        authenticated (tokens.tokenize:<c>)
 *   POST   /v1/detokenize                      authenticated (tokens.detokenize:<c>)
 *
 * Each handler takes the caller (principal, actor, X-Purpose-Of-Use), the
 * path parameters and the body's or the query's shape, calls the operation
 * and returns PV_PENDING: the operation's answer is the reply
 * (vault_reply_done, with the ETag of a single record), from whichever
 * thread completed it. No check and no store call here (CTest
 * route_thinness). Bad input refused before the operation (the shape of a
 * batch or a detokenize body) is answered unrecorded, as before; a
 * tokenize body that does not parse is handed to the operation
 * (spec.invalid), which records it as token.create before answering.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

/* ---- collections ---- */

#define COLL_BODY_MAX (64 * 1024)

static enum pv_rc coll_create(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 201, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_collection_create(req->route->arg, &c.who, req->body, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc coll_list(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_collection_list(req->route->arg, &c.who, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc coll_get(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_collection_get(req->route->arg, &c.who, req->params[0], vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_collections(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/collections", coll_create, "collections.manage",
		    "collection.create", HTTP_ROUTE_BODY, COLL_BODY_MAX, v },
		{ "GET", "/v1/collections", coll_list, "collections.manage", NULL, 0, 0, v },
		{ "GET", "/v1/collections/{c}", coll_get, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, v },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}

/* ---- records ---- */

#define REC_BODY_MAX (256 * 1024)

static enum pv_rc rec_create(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 201, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_record_create(req->route->arg, &c.who, req->params[0], req->body, vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

static enum pv_rc rec_read(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_record_read(req->route->arg, &c.who, req->params[0], req->params[1], vault_reply_done,
	    c.reply);
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
	struct vault_call c;
	struct vault_match m[2];
	struct query q = { m, 0, 2, 0, 0 };

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	http_query_each(req, query_cb, &q);
	if (q.n == q.nlimit + q.ncursor && q.nlimit <= 1 && q.ncursor <= 1)
		vault_record_list(req->route->arg, &c.who, req->params[0], http_query(req, "limit"),
		    http_query(req, "cursor"), vault_reply_done, c.reply);
	else
		/* more than one pair is refused by the operation (audited) */
		vault_record_search(req->route->arg, &c.who, req->params[0], m, q.n < 2 ? q.n : 2,
		    vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc rec_patch(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_record_update(req->route->arg, &c.who, req->params[0], req->params[1],
	    http_header(req, "If-Match"), req->body, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc rec_delete(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 204, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_record_shred(req->route->arg, &c.who, req->params[0], req->params[1], vault_reply_done,
	    c.reply);
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

/* ---- batch ---- */

static enum pv_rc batch(struct http_request *req)
{
	json_t *create = json_object_get(req->body, "create");
	json_t *list = create != NULL ? create : json_object_get(req->body, "read");
	struct vault_call c;

	if (json_object_size(req->body) != 1 || !json_is_array(list))
		return http_fail(req, PV_E_INVALID,
		    "the body must be {\"create\":[...]} or {\"read\":[...]}");
	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_record_batch(req->route->arg, &c.who, req->params[0], create != NULL, list,
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_batch(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/collections/{c}/records:batch", batch, HTTP_PERM_AUTHENTICATED,
		    "record.read", HTTP_ROUTE_BODY, 0, v },
	};

	return http_routes_add(srv, routes, 1);
}

/* ---- tokens ---- */

#define TOKEN_BODY_MAX (16 * 1024)

static enum pv_rc tokenize(struct http_request *req)
{
	static const char *const keys[] = { "collection", "field", "value", "deterministic",
		"subject", NULL };
	json_t *det = json_object_get(req->body, "deterministic");
	struct vault_tokenize_spec spec = { PV_OK, NULL, NULL, NULL, NULL, false, NULL };
	struct vault_call c;
	enum pv_rc rc;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "collection", true, VAULT_NAME_MAX, &spec.collection)) !=
	    PV_OK ||
	    (rc = http_body_string(req, "field", true, VAULT_NAME_MAX, &spec.field)) != PV_OK ||
	    (rc = http_body_string(req, "subject", false, 4096, &spec.subject)) != PV_OK) {
		spec.invalid = rc;
		spec.invalid_message = req->err_message;
	} else if (det != NULL && !json_is_boolean(det)) {
		spec.invalid = PV_E_INVALID;
		spec.invalid_message = "'deterministic' must be true or false";
	}
	spec.deterministic = json_is_true(det);
	spec.value = json_object_get(req->body, "value");
	vault_token_create(req->route->arg, &c.who, &spec, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc detokenize(struct http_request *req)
{
	static const char *const keys[] = { "token", NULL };
	struct vault_call c;
	const char *token = NULL;
	enum pv_rc rc;

	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "token", true, UTIL_ID_MAX, &token)) != PV_OK)
		return rc;
	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_token_detokenize(req->route->arg, &c.who, token, vault_reply_done, c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_tokens(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		/* scoped by collection: decided by the operations */
		{ "POST", "/v1/tokenize", tokenize, HTTP_PERM_AUTHENTICATED, "token.create",
		    HTTP_ROUTE_BODY, TOKEN_BODY_MAX, v },
		{ "POST", "/v1/detokenize", detokenize, HTTP_PERM_AUTHENTICATED, "token.detokenize",
		    HTTP_ROUTE_BODY, TOKEN_BODY_MAX, v },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
