/*
 * vault/routes_tokens.c: tokenization over REST (API.md "PHI records"),
 * adapters over vault_token_create / vault_token_detokenize (ops_tokens.c).
 *
 *   POST /v1/tokenize    authenticated (the operation decides tokens.tokenize:<c>)
 *        {"collection","field","value","deterministic":false} -> {"token":"tok_..."}
 *   POST /v1/detokenize  authenticated (the operation decides tokens.detokenize:<c>)
 *        {"token"} -> {"value"}                              purpose required
 *
 * The handlers check the body's shape only. A tokenize body that does not
 * parse is still handed to the operation (spec.invalid), which records the
 * failure as token.create before answering it; a detokenize body that does
 * not parse is answered here, unrecorded, as before.
 */
#include "vault/vault_int.h"

#define TOKEN_BODY_MAX (16 * 1024)

static enum pv_rc tokenize(struct http_request *req)
{
	static const char *const keys[] = { "collection", "field", "value", "deterministic", NULL };
	json_t *det = json_object_get(req->body, "deterministic");
	struct vault_tokenize_spec spec = { PV_OK, NULL, NULL, NULL, NULL, false };
	struct vault_reply *r = vault_reply_new(req, 200);
	struct vault_caller who;
	struct pv_actor actor;
	enum pv_rc rc;

	if (r == NULL)
		return PV_E_NOMEM;
	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "collection", true, VAULT_NAME_MAX, &spec.collection)) !=
	    PV_OK ||
	    (rc = http_body_string(req, "field", true, VAULT_NAME_MAX, &spec.field)) != PV_OK) {
		spec.invalid = rc;
		spec.invalid_message = req->err_message;
	} else if (det != NULL && !json_is_boolean(det)) {
		spec.invalid = PV_E_INVALID;
		spec.invalid_message = "'deterministic' must be true or false";
	}
	spec.deterministic = json_is_true(det);
	spec.value = json_object_get(req->body, "value");
	vault_caller_from(req, &actor, &who);
	vault_token_create(req->route->arg, &who, &spec, vault_reply_done, r);
	return PV_PENDING;
}

static enum pv_rc detokenize(struct http_request *req)
{
	static const char *const keys[] = { "token", NULL };
	struct vault_reply *r;
	struct vault_caller who;
	struct pv_actor actor;
	const char *token = NULL;
	enum pv_rc rc;

	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "token", true, UTIL_ID_MAX, &token)) != PV_OK)
		return rc;
	if ((r = vault_reply_new(req, 200)) == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_token_detokenize(req->route->arg, &who, token, vault_reply_done, r);
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
