/*
 * routes_explain: POST /v1/authz/explain (API.md "Decision shape"), an
 * adapter over authz_explain (explain.c).
 *
 *   {"principal":"usr_...","action":"records.read",
 *    "resource":{"collection":"c","record":"rec_...","fields":["ssn"],
 *                "labels":["R"],"internal":{"ward":"icu"}},
 *    "context":{"source":"10.1.2.3","purpose":"TREAT","time":"...","mfa_age_s":60}}
 *   -> {"allow","reason","policies":["role:<r> <perm>"],
 *       "obligations":{"unmask":[...],"purposes":[...]},
 *       "step_up":null | {"method":"mfa"[,"max_age_s":N]}}
 *
 * The route is "authenticated"; whether the caller may ask (roles.manage
 * or audit.read) is the operation's decision. The handler checks the
 * body's shape (allowed keys, strings, the sub-objects' keys, fields and
 * labels arrays, internal an object, mfa_age_s an integer), calls
 * authz_explain, replies; what the values say (names, labels, the time,
 * the MFA age's range) is the operation's to check.
 */
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

#define EXPLAIN_BODY_MAX (16 * 1024)

/* resource / context: optional objects with only the given keys, strings
 * but for fields, labels, internal and mfa_age_s (checked by the caller). */
static enum pv_rc
sub_object(struct http_request *req, const char *name, const char *const *keys, json_t **out)
{
	json_t *o = json_object_get(req->body, name);
	const char *k;
	json_t *val;
	size_t i;

	*out = NULL;
	if (o == NULL || json_is_null(o))
		return PV_OK;
	if (!json_is_object(o))
		return http_fail(req, PV_E_INVALID, arena_printf(req->arena,
		    "'%s' must be an object", name));
	json_object_foreach(o, k, val) {
		bool known = false;

		for (i = 0; keys[i] != NULL && !known; i++)
			known = strcmp(keys[i], k) == 0;
		if (!known || (strcmp(k, "fields") != 0 && strcmp(k, "labels") != 0 &&
		    strcmp(k, "internal") != 0 && strcmp(k, "mfa_age_s") != 0 &&
		    !json_is_string(val)))
			return http_fail(req, PV_E_INVALID, arena_printf(req->arena,
			    "'%s' takes only the members %s", name,
			    name[0] == 'r' ? "collection, record, fields, labels, internal" :
			    "source, purpose, time, mfa_age_s"));
	}
	*out = o;
	return PV_OK;
}

/* resource.internal: the text of one of the record's internal fields. */
static const char *
internal_text(void *arg, const char *name)
{
	return json_string_value(json_object_get(arg, name));
}

static enum pv_rc
h_explain(struct http_request *req)
{
	static const char *const keys[] = { "principal", "action", "resource", "context", NULL };
	static const char *const rkeys[] = { "collection", "record", "fields", "labels",
		"internal", NULL };
	static const char *const ckeys[] = { "source", "purpose", "time", "mfa_age_s", NULL };
	struct authz_caller c = { req->principal, req->source };
	struct authz_explain_query x;
	struct authz_result r;
	const char *fields[AUTHZ_FIELDS_MAX], *labels[AUTHZ_EXPLAIN_LABELS_MAX];
	json_t *res = NULL, *ctx = NULL, *fl, *el, *lj, *ij, *mj, *out = NULL;
	size_t i;
	enum pv_rc rc;

	memset(&x, 0, sizeof(x));
	if ((rc = http_body_only(req, keys)) != PV_OK ||
	    (rc = http_body_string(req, "principal", true, UTIL_ID_MAX, &x.principal)) != PV_OK ||
	    (rc = http_body_string(req, "action", true, 64, &x.action)) != PV_OK ||
	    (rc = sub_object(req, "resource", rkeys, &res)) != PV_OK ||
	    (rc = sub_object(req, "context", ckeys, &ctx)) != PV_OK)
		return rc;
	x.collection = json_string_value(json_object_get(res, "collection"));
	x.record = json_string_value(json_object_get(res, "record"));
	if ((fl = json_object_get(res, "fields")) != NULL) {
		if (!json_is_array(fl) || json_array_size(fl) > AUTHZ_FIELDS_MAX)
			return http_fail(req, PV_E_INVALID, "'resource.fields' must be an array of "
			    "at most 64 field names");
		/* a non-string is NULL here: the operation refuses it */
		json_array_foreach(fl, i, el)
			fields[x.nfields++] = json_string_value(el);
		x.fields = fields;
	}
	lj = json_object_get(res, "labels");
	ij = json_object_get(res, "internal");
	if (lj != NULL) {
		if (!json_is_array(lj) || json_array_size(lj) > AUTHZ_EXPLAIN_LABELS_MAX)
			return http_fail(req, PV_E_INVALID, "'resource.labels' must be an array of at "
			    "most 16 label codes");
		/* a non-string is NULL here: the operation refuses it */
		json_array_foreach(lj, i, el)
			labels[x.nlabels++] = json_string_value(el);
		x.labels = labels;
	}
	if (ij != NULL && !json_is_object(ij))
		return http_fail(req, PV_E_INVALID, "'resource.internal' must be an object of the "
		    "record's internal field values");
	if (lj != NULL || ij != NULL) {
		x.record_loaded = true;
		if (ij != NULL) {
			x.internal_text = internal_text;
			x.internal_arg = ij;
		}
	}
	x.source = json_string_value(json_object_get(ctx, "source"));
	x.purpose = json_string_value(json_object_get(ctx, "purpose"));
	x.time = json_string_value(json_object_get(ctx, "time"));
	if ((mj = json_object_get(ctx, "mfa_age_s")) != NULL) {
		if (!json_is_integer(mj))
			return http_fail(req, PV_E_INVALID, "'context.mfa_age_s' must be a number of "
			    "seconds (0 to 31536000)");
		x.mfa_given = true;
		x.mfa_age_s = json_integer_value(mj);
	}
	if ((rc = authz_explain(req->route->arg, &c, &x, &out, &r)) != PV_OK) {
		if (r.message[0] != '\0')
			return http_fail(req, rc, arena_strdup(req->arena, r.message));
		return rc;
	}
	return http_reply(req, 200, out);
}

enum pv_rc
authz_route_explain(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/authz/explain", h_explain, HTTP_PERM_AUTHENTICATED, "authz.explain",
		    HTTP_ROUTE_BODY, EXPLAIN_BODY_MAX, z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
