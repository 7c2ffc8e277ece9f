/*
 * vault/routes_retention.c: POST /v1/sys/retention (API.md "Backups"):
 * queue a retention run now, 202 {"job"} (sys.backup, held by admin;
 * audited retention.run). An adapter over ops_retention.c: parse, call,
 * reply (CTest route_thinness).
 */
#include "vault/vault_int.h"

static enum pv_rc r_run(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 202, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_retention_run(req->route->arg, &c.who, vault_reply_done, c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_retention(struct http_server *srv, struct vault_retention *rt)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/sys/retention", r_run, "sys.backup", "retention.run", 0, 0, rt },
	};

	return http_routes_add(srv, routes, 1);
}
