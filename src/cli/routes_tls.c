/*
 * routes_tls: the TLS certificate over HTTP (thin adapters over tls_wire.c).
 *
 *   GET  /v1/sys/tls          (keys.manage) the certificate served now
 *   POST /v1/sys/tls/reload   (keys.manage) load tls.cert + tls.key again;
 *        200 with the new certificate, or 422 tls_refused (the old one is
 *        still served), after the tls.reload entry is durable
 *
 * keys.manage: the TLS private key is key custody, like the HSM's state
 * (GET /v1/sys/hsm); the key_admin role has it.
 */
#include <stdlib.h>
#include <string.h>

#include "authn/authn.h"
#include "cli/tls_wire.h"

static enum pv_rc
sys_tls(struct http_request *req)
{
	struct pv_app *app = req->route->arg;
	struct http_tls_info in;
	json_t *o;
	enum pv_rc rc;

	if ((rc = http_server_tls_info(app->http, &in)) != PV_OK)
		return rc;
	o = server_tls_json(&in);
	return o ? http_reply(req, 200, o) : PV_E_NOMEM;
}

struct reload_call {
	struct http_request *req;
	struct http_tls_info info;
	enum pv_rc reload_rc;
	char msg[200];
};

/* the tls.reload entry is durable (or not): answer */
static void
reload_done(enum pv_rc rc, void *arg)
{
	struct reload_call *c = arg;
	struct http_request *req = c->req;
	json_t *o;

	if (rc != PV_OK) {
		rc = http_fail(req, PV_E_AUDIT, "the reload was not recorded");
	} else if (c->reload_rc != PV_OK) {
		/* unreadable files too: the request was fine, the files are not */
		rc = http_fail(req, PV_E_TLS_REFUSED, arena_strdup(req->arena, c->msg));
	} else if ((o = server_tls_json(&c->info)) == NULL) {
		rc = PV_E_NOMEM;
	} else {
		rc = http_reply(req, 200, o);
	}
	free(c);
	http_resume(req, rc);
}

static enum pv_rc
sys_tls_reload(struct http_request *req)
{
	struct pv_app *app = req->route->arg;
	struct reload_call *c = calloc(1, sizeof(*c));
	struct pv_actor actor;
	enum pv_rc rc;

	if (c == NULL)
		return PV_E_NOMEM;
	c->req = req;
	authn_actor(req->principal, req->source, &actor);
	rc = server_tls_reload_submit(app, &actor, "api", reload_done, c, &c->info,
	    &c->reload_rc, c->msg, sizeof(c->msg));
	if (rc != PV_OK) {
		free(c);
		return rc == PV_E_INVALID ? PV_E_INTERNAL : PV_E_AUDIT;
	}
	return PV_PENDING;
}

enum pv_rc
server_tls_routes(struct pv_app *app)
{
	const struct http_route r[] = {
		{ "GET", "/v1/sys/tls", sys_tls, "keys.manage", "sys.tls", 0, 0, app },
		{ "POST", "/v1/sys/tls/reload", sys_tls_reload, "keys.manage", "tls.reload", 0, 0,
		    app },
	};

	return http_routes_add(app->http, r, sizeof(r) / sizeof(r[0]));
}
