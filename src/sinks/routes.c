/*
 * routes.c: GET /v1/sys/sinks (permission audit.read; a denial is audited
 * as sinks.read): every configured sink with its cursor, lag, last error and
 * delivered count (API.md "Alerts"). No sink configured: [].
 */
#include "sinks/sinks_int.h"

static enum pv_rc h_list(struct http_request *req)
{
	struct sinks *s = req->route->arg;
	struct sinks_status st[SINKS_MAX];
	size_t n = sinks_status(s, st, SINKS_MAX);
	json_t *arr = json_array();

	if (!arr)
		return PV_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s?, s:I}",
		    "name", st[i].name, "kind", st[i].kind,
		    "cursor_seq", (json_int_t)st[i].cursor_seq, "lag", (json_int_t)st[i].lag,
		    "last_error", st[i].last_error[0] ? st[i].last_error : NULL,
		    "delivered", (json_int_t)st[i].delivered);

		if (!o || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return PV_E_NOMEM;
		}
	}
	return http_reply(req, 200, arr);
}

enum pv_rc sinks_routes(struct sinks *s, struct http_server *http)
{
	const struct http_route r = { "GET", "/v1/sys/sinks", h_list, "audit.read", "sinks.read",
	    0, 0, s };

	return http_route_add(http, &r);
}
