/*
 * directory/routes_officers.c: the security officers over REST (API.md
 * "phivault officer"), adapters over officers.c.
 *
 *   POST   /v1/sys/officers             users.manage + the seal's authority
 *          {"username","key_file":"<contents>"} | {"username","shares":[...]}
 *          -> 201 {"user_id","username","one_time_password"} (a new user) or
 *             200 {"user_id","username","one_time_password":null} (promoted)
 *   DELETE /v1/sys/officers/{username}  users.manage + the seal's authority
 *          {"key_file"} | {"shares"} -> 200 {"user_id","username"}
 *   GET    /v1/sys/officers             users.manage  {"officers":[...]}
 *
 * The handlers check the body's shape and call the operation; the seal
 * check, the lockout, the store and the audit are the operation's.
 */
#include <string.h>

#include "directory/directory_int.h"

#define KEYFILE_TEXT_MAX 128
#define SHARE_TEXT_MAX 256

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct directory_result *res)
{
	if (res->retry_after_s > 0)
		req->retry_after_s = res->retry_after_s;
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

/* key_file or shares from the body (exactly one; shape only). */
static enum pv_rc
auth_from_body(struct http_request *req, struct directory_officer_auth *au)
{
	json_t *arr = json_object_get(req->body, "shares");
	const char **v;
	size_t i, n;
	enum pv_rc rc;

	memset(au, 0, sizeof(*au));
	if ((rc = http_body_string(req, "key_file", false, KEYFILE_TEXT_MAX,
	    &au->key_file)) != PV_OK ||
	    (rc = http_body_string(req, "pin", false, KEYFILE_TEXT_MAX, &au->pin)) != PV_OK)
		return rc;
	if ((au->key_file != NULL) + (arr != NULL) + (au->pin != NULL) != 1)
		return http_fail(req, PV_E_SEAL_AUTHORITY, "Give the seal's authority: key_file "
		    "(the contents of DIR/unseal.key), shares (K unseal shares) or, with the "
		    "pkcs11 seal, pin (the token's user PIN)");
	if (arr == NULL)
		return PV_OK;
	if (!json_is_array(arr) || (n = json_array_size(arr)) == 0 || n > 255)
		return http_fail(req, PV_E_INVALID, "shares must be an array of share strings");
	if ((v = arena_alloc(req->arena, (n + 1) * sizeof(*v))) == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < n; i++) {
		v[i] = json_string_value(json_array_get(arr, i));
		if (v[i] == NULL || strlen(v[i]) > SHARE_TEXT_MAX)
			return http_fail(req, PV_E_INVALID, "shares must be an array of share strings");
	}
	au->shares = v;
	au->nshares = n;
	return PV_OK;
}

/* The answers of the writes: now, or from the commit's completion
 * (routes_call.c). */
static enum pv_rc
reply_added(struct http_request *req, struct directory_call *c)
{
	const struct directory_result *res = &c->res;
	json_t *o = json_pack("{s:s, s:s, s:o}", "user_id", res->id, "username", res->username,
	    "one_time_password", res->one_time_password[0] != '\0' ?
	    json_string(res->one_time_password) : json_null());

	if (o == NULL)
		return PV_E_NOMEM;
	return http_reply(req, json_is_null(json_object_get(o, "one_time_password")) ? 200 : 201,
	    o);
}

static enum pv_rc
reply_removed(struct http_request *req, struct directory_call *c)
{
	return http_reply(req, 200, json_pack("{s:s, s:s}", "user_id", c->res.id, "username",
	    c->res.username));
}

static enum pv_rc
h_add(struct http_request *req)
{
	static const char *const allowed[] = { "username", "key_file", "shares", "pin", NULL };
	struct directory_officer_auth au;
	struct directory_call *c;
	struct pv_actor actor;
	const char *username = NULL;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "username", true, 256, &username)) != PV_OK ||
	    (rc = auth_from_body(req, &au)) != PV_OK)
		return rc;
	if ((c = directory_call_new(req, reply_added)) == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_officer_add(req->route->arg, &actor, username,
	    &au, &c->res));
}

static enum pv_rc
h_remove(struct http_request *req)
{
	static const char *const allowed[] = { "key_file", "shares", "pin", NULL };
	struct directory_officer_auth au;
	struct directory_call *c;
	struct pv_actor actor;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = auth_from_body(req, &au)) != PV_OK)
		return rc;
	if ((c = directory_call_new(req, reply_removed)) == NULL)
		return PV_E_NOMEM;
	authn_actor(req->principal, req->source, &actor);
	return directory_call_end(c, directory_officer_remove(req->route->arg, &actor,
	    req->params[0], &au, &c->res));
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct directory_result res = { .done = NULL };
	struct pv_actor actor;
	json_t *arr = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	if ((rc = directory_officer_list(req->route->arg, &actor, &arr, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "officers", arr));
}

enum pv_rc
directory_route_officers(struct directory *d, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/sys/officers", h_add, "users.manage", "officer.add",
		    HTTP_ROUTE_BODY, 65536, d },
		{ "DELETE", "/v1/sys/officers/{username}", h_remove, "users.manage",
		    "officer.remove", HTTP_ROUTE_BODY, 65536, d },
		{ "GET", "/v1/sys/officers", h_list, "users.manage", "officer.read", 0, 0, d },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
