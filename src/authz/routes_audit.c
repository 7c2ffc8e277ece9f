/*
 * routes_audit: reading the trail over the API, adapters over
 * authz_audit_list / _verify / _public_key (audit_read.c). Permission
 * audit.read, decided by the route hook.
 *
 *   GET /v1/audit?since_seq=&actor=&action=&limit=   {"entries":[...],"next_seq":N}
 *   GET /v1/audit/verify                              {"ok","entries","head","checkpoints"}
 *   GET /v1/audit/public-key                          PEM (application/x-pem-file)
 *
 * The handlers parse the query, call the operation (which records the
 * read before it answers), reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000

static bool
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct authz_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

static enum pv_rc
h_audit_list(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_audit_query aq = { 0, AUDIT_LIMIT_DEFAULT, NULL, NULL };
	struct authz_result res;
	const char *q;
	json_t *out = NULL;
	enum pv_rc rc;

	if ((q = http_query(req, "since_seq")) != NULL &&
	    !parse_i64(q, 0, INT64_MAX, &aq.since_seq))
		return http_fail(req, PV_E_INVALID, "since_seq must be an integer >= 0");
	if ((q = http_query(req, "limit")) != NULL &&
	    !parse_i64(q, 1, AUDIT_LIMIT_MAX, &aq.limit))
		return http_fail(req, PV_E_INVALID, "limit must be an integer from 1 to 1000");
	aq.actor = http_query(req, "actor");
	aq.action = http_query(req, "action");
	if ((rc = authz_audit_list(req->route->arg, &c, &aq, &out, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, out);
}

static enum pv_rc
h_audit_verify(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *out = NULL;
	enum pv_rc rc;

	if ((rc = authz_audit_verify(req->route->arg, &c, &out, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, out);
}

static enum pv_rc
h_audit_pubkey(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	char *pem = NULL;
	enum pv_rc rc;

	if ((rc = authz_audit_public_key(req->route->arg, &c, &pem, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	req->resp_text = arena_strdup(req->arena, pem);
	free(pem);
	if (req->resp_text == NULL)
		return PV_E_NOMEM;
	req->resp_type = "application/x-pem-file";
	req->status = 200;
	return PV_OK;
}

enum pv_rc
authz_route_audit(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/audit", h_audit_list, "audit.read", "audit.read", 0, 0, z },
		{ "GET", "/v1/audit/verify", h_audit_verify, "audit.read", "audit.read", 0, 0, z },
		{ "GET", "/v1/audit/public-key", h_audit_pubkey, "audit.read", "audit.read", 0, 0,
		    z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
