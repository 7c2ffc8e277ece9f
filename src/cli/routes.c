/*
 * routes: system routes and the registration of every module's routes.
 *
 *   GET  /v1/sys/health   public, answers while sealed (503 + "sealed":true)
 *   POST /v1/sys/unseal   public, answers while sealed; audited as sys.unseal
 */
#include <string.h>

#include "cli/routes.h"

static enum pv_rc
sys_health(struct http_request *req)
{
	struct pv_app *app = req->route->arg;
	bool sealed = keys_is_sealed(app->keys);
	json_t *o;

	o = json_pack("{s:s, s:b, s:s, s:s}", "status", sealed ? "sealed" : "ok", "sealed", sealed,
	    "version", PHIVAULT_VERSION, "node", app->node);
	if (o == NULL)
		return PV_E_NOMEM;
	return http_reply(req, sealed ? 503 : 200, o);
}

static json_t *
seal_status_json(const struct keys_seal_status *ss)
{
	return json_pack("{s:b, s:i, s:i}", "sealed", ss->sealed, "progress", ss->progress,
	    "threshold", ss->threshold);
}

static enum pv_rc
sys_unseal(struct http_request *req)
{
	struct pv_app *app = req->route->arg;
	struct keys_seal_status ss;
	struct audit_event ev = {
		.actor = { .user_id = "anonymous", .source = req->source },
		.action = "sys.unseal",
		.resource = "sys",
	};
	const char *share;
	json_t *o;
	enum pv_rc rc;

	if ((rc = http_body_string(req, "share", true, 1024, &share)) != PV_OK)
		return rc;
	keys_status(app->keys, &ss);
	if (ss.type != KEYS_SEAL_SHAMIR)
		return http_fail(req, PV_E_INVALID,
		    "this vault uses a key-file seal and unseals itself at start");
	if (!ss.sealed) {
		o = seal_status_json(&ss);
		return o ? http_reply(req, 200, o) : PV_E_NOMEM;
	}
	rc = keys_unseal_share(app->keys, share, &ss);
	if (rc == PV_OK) {
		ev.outcome = AUDIT_ALLOWED;
		ev.reason = ss.sealed ? "share_accepted" : "unsealed";
	} else {
		ev.outcome = AUDIT_DENIED;
		ev.reason = rc == PV_E_INTEGRITY ? "shares_mismatch" : "bad_share";
	}
	if (audit_record(app->audit, &ev) != PV_OK && rc == PV_OK && !ss.sealed)
		log_error("audit: unseal not recorded");
	if (rc == PV_E_SHARE)
		return http_fail(req, PV_E_SHARE, "the share is malformed or was already given");
	if (rc == PV_E_INTEGRITY)
		return http_fail(req, PV_E_SHARE,
		    "these shares do not open this vault; unseal progress was reset");
	if (rc != PV_OK)
		return rc;
	if (!ss.sealed)
		log_info("unsealed");
	o = seal_status_json(&ss);
	return o ? http_reply(req, 200, o) : PV_E_NOMEM;
}

void
routes_hooks(struct pv_app *app, struct http_config *hc)
{
	(void)app;
	(void)hc;
	/* authentication and authorization hooks are installed by the identity module */
}

enum pv_rc
routes_register(struct pv_app *app)
{
	const struct http_route sys[] = {
		{ "GET", "/v1/sys/health", sys_health, HTTP_PERM_PUBLIC, NULL,
		    HTTP_ROUTE_SEALED_OK, 0, app },
		{ "POST", "/v1/sys/unseal", sys_unseal, HTTP_PERM_PUBLIC, "sys.unseal",
		    HTTP_ROUTE_BODY | HTTP_ROUTE_SEALED_OK, 4096, app },
	};

	return http_routes_add(app->http, sys, sizeof(sys) / sizeof(sys[0]));
}

void
routes_cleanup(struct pv_app *app)
{
	(void)app;
}
