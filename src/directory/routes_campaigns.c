/*
 * directory/routes_campaigns.c: access review campaigns over REST (API.md
 * "Governance"), adapters over directory_campaign_* (campaigns.c).
 *
 *   POST /v1/reviews/campaigns                  access.approve  {"scope","reviewers","due_in_s"}
 *                                               -> 201 {"id"}
 *   GET  /v1/reviews/campaigns[?status=]        access.approve  {"campaigns":[...]}
 *   GET  /v1/reviews/campaigns/{id}             access.approve  the campaign, its items, result
 *   POST /v1/reviews/campaigns/{id}/items/{item}  access.approve  {"decision":"keep|revoke","note"}
 *
 * The directory registers these before the vault registers the break-glass
 * reviews' /v1/reviews/{id}, so "campaigns" is never taken for a review ID
 * (the router takes the first match). Parse -> call -> reply; the checks,
 * the store and the audit are the operations'.
 */
#include <string.h>

#include "directory/directory_int.h"

#define CAMPAIGN_BODY_MAX 4096

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct directory_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* The answers of the writes: now, or from the commit's completion
 * (routes_call.c). */
static enum pv_rc
reply_created(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 201, json_pack("{s:s}", "id", c->res.id));
}

static enum pv_rc
reply_decided(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 200, json_pack("{s:s, s:s, s:s}", "campaign", req->params[0],
	    "item", req->params[1], "decision", c->name));
}

static enum pv_rc
h_create(struct http_request *req)
{
	static const char *const allowed[] = { "scope", "reviewers", "due_in_s", NULL };
	struct directory_campaign_spec sp;
	struct directory_call *c;
	struct pv_actor actor;
	json_t *due;
	enum pv_rc rc;

	memset(&sp, 0, sizeof(sp));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "scope", true, 32, &sp.scope)) != PV_OK ||
	    (rc = http_body_string(req, "reviewers", false, 32, &sp.reviewers)) != PV_OK)
		return rc;
	if ((due = json_object_get(req->body, "due_in_s")) != NULL) {
		if (!json_is_integer(due) || json_integer_value(due) <= 0)
			return http_fail(req, PV_E_INVALID,
			    "due_in_s must be a positive integer (seconds)");
		sp.due_in_s = json_integer_value(due);
	}
	if ((c = directory_call_new(req, reply_created)) == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_campaign_create(req->route->arg, &actor, &sp,
	    &c->res));
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	rc = directory_campaign_list(req->route->arg, &actor, http_query(req, "status"), &o, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
h_get(struct http_request *req)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	rc = directory_campaign_get(req->route->arg, &actor, req->params[0], &o, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
h_item(struct http_request *req)
{
	static const char *const allowed[] = { "decision", "note", NULL };
	const char *decision = NULL, *note = NULL;
	struct directory_call *c;
	struct pv_actor actor;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "decision", true, 16, &decision)) != PV_OK ||
	    (rc = http_body_string(req, "note", false, DIRECTORY_CAMPAIGN_NOTE_MAX, &note)) !=
	    PV_OK)
		return rc;
	if ((c = directory_call_new(req, reply_decided)) == NULL)
		return PV_E_NOMEM;
	c->name = decision;   /* the body's: lives until the answer */
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_campaign_record(req->route->arg, &actor,
	    req->params[0], req->params[1], decision, note, &c->res));
}

enum pv_rc
directory_route_campaigns(struct directory *d, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/reviews/campaigns", h_create, "access.approve",
		    "review.campaign.create", HTTP_ROUTE_BODY, CAMPAIGN_BODY_MAX, d },
		{ "GET", "/v1/reviews/campaigns", h_list, "access.approve", "review.campaign.list",
		    0, 0, d },
		{ "GET", "/v1/reviews/campaigns/{id}", h_get, "access.approve",
		    "review.campaign.read", 0, 0, d },
		{ "POST", "/v1/reviews/campaigns/{id}/items/{item}", h_item, "access.approve",
		    "review.campaign.decide", HTTP_ROUTE_BODY, CAMPAIGN_BODY_MAX, d },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
