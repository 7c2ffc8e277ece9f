/*
 * routes: system routes and the registration of every module's routes.
 *
 *   GET  /v1/sys/health   public, answers while sealed (503 + "sealed":true)
 *   POST /v1/sys/unseal   public, answers while sealed; audited as sys.unseal.
 *       Per source at most UNSEAL_FAIL_LIMIT rejected shares a minute (then
 *       429 rate_limited with Retry-After). If the entry cannot be recorded
 *       the answer is 503 audit_unavailable, and an unseal it would have
 *       recorded is undone (sealed again): no unaudited unseal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNSEAL_FAIL_LIMIT 10
#define UNSEAL_FAIL_WINDOW_S 60
#define UNSEAL_THROTTLE_CAPACITY 1024

#include "cli/routes.h"
#include "vault/vault.h"
#include "secrets/secrets.h"
#include "authn/authn.h"
#include "authz/authz.h"
#include "directory/directory.h"
#include "scim/scim.h"

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

struct unseal_call {
	struct http_request *req;
	struct pv_app *app;
	struct keys_seal_status ss;
	enum pv_rc rc;                   /* keys_unseal_share's */
};

/* The answer of an unseal, and fail closed on a lost entry. */
static void
unseal_answer(struct unseal_call *c, enum pv_rc arc)
{
	struct http_request *req = c->req;
	enum pv_rc rc = c->rc;
	json_t *o;

	if (arc != PV_OK) {
		/* fail closed: an unseal that is not in the trail did not happen */
		if (rc == PV_OK && !c->ss.sealed) {
			keys_seal(c->app->keys);
			log_error("audit: unseal could not be recorded; sealed again");
		} else {
			log_error("audit: unseal attempt could not be recorded");
		}
		rc = http_fail(req, PV_E_AUDIT,
		    "the unseal could not be recorded in the audit trail; still sealed");
	} else if (rc == PV_E_SHARE) {
		rc = http_fail(req, PV_E_SHARE,
		    "the share is malformed, not a share of this vault, or conflicts with one given");
	} else if (rc == PV_E_INTEGRITY) {
		rc = http_fail(req, PV_E_SHARE,
		    "these shares do not open this vault; unseal progress was reset");
	} else if (rc == PV_OK) {
		if (!c->ss.sealed)
			log_info("unsealed");
		o = seal_status_json(&c->ss);
		rc = o ? http_reply(req, 200, o) : PV_E_NOMEM;
	}
	free(c);
	http_resume(req, rc);
}

/* The identity KEK of a vault unsealed now is committed (or failed, logged:
 * the unseal stands; a request that needs the KEK answers 503). */
static void
unseal_kek_done(enum pv_rc krc, void *arg)
{
	(void)krc;
	unseal_answer(arg, PV_OK);
}

/* After the sys.unseal entry's fsync (committer thread), or at once if it
 * could not be queued. The unseal that opened the vault makes the identity
 * KEK (authn.h authn_kek_start) before its answer, so no request creates it. */
static void
unseal_done(enum pv_rc arc, void *arg)
{
	struct unseal_call *c = arg;

	if (arc == PV_OK && c->rc == PV_OK && !c->ss.sealed && c->app->authn != NULL &&
	    authn_kek_submit(c->app->authn, unseal_kek_done, c) == PV_OK)
		return;
	unseal_answer(c, arc);
}

static enum pv_rc
sys_unseal(struct http_request *req)
{
	struct unseal_call *c = NULL;
	struct pv_app *app = req->route->arg;
	struct keys_seal_status ss;
	struct audit_event ev = {
		.actor = { .user_id = "anonymous", .source = req->source },
		.action = "sys.unseal",
		.resource = "sys",
	};
	const char *share;
	json_t *o;
	int retry = 0;
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
	/* reserve a failure slot before checking the share, so concurrent bad
	 * shares are refused at the limit (as login attempts are); a good share
	 * gives its slot back */
	if (authn_throttle_reserve(app->unseal_throttle, req->source, util_now_ms(),
	    &retry) == PV_E_RATE) {
		req->retry_after_s = retry > 0 ? retry : 1;
		return http_fail(req, PV_E_RATE, "Too many rejected unseal shares from this address");
	}
	rc = keys_unseal_share(app->keys, share, &ss);
	if (rc == PV_OK) {
		ev.outcome = AUDIT_ALLOWED;
		ev.reason = ss.sealed ? "share_accepted" : "unsealed";
		authn_throttle_release(app->unseal_throttle, req->source, util_now_ms());
	} else {
		ev.outcome = AUDIT_DENIED;
		ev.reason = rc == PV_E_INTEGRITY ? "shares_mismatch" : "bad_share";
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		/* nothing recorded: an unseal that is not in the trail did not happen */
		if (rc == PV_OK && !ss.sealed)
			keys_seal(app->keys);
		return PV_E_NOMEM;
	}
	c->req = req;
	c->app = app;
	c->ss = ss;
	c->rc = rc;
	/* answered from unseal_done once the entry is durable; no thread waits */
	if (audit_submit(app->audit, &ev, NULL, NULL, COMMIT_REQUEST, unseal_done, c) != PV_OK) {
		unseal_done(PV_E_AUDIT, c);
		return PV_PENDING;
	}
	return PV_PENDING;
}

/* GET /v1/sys/hsm (keys.manage): the PKCS#11 provider's state, probed now.
 * Without the pkcs11 seal: {"configured":false}. */
static enum pv_rc
sys_hsm(struct http_request *req)
{
	struct pv_app *app = req->route->arg;
	struct keys_hsm_status hs;
	json_t *o, *mechs;
	char when[40];
	size_t i;

	keys_hsm_status(app->keys, &hs);
	if (!hs.configured) {
		o = json_pack("{s:b}", "configured", false);
		return o ? http_reply(req, 200, o) : PV_E_NOMEM;
	}
	if ((mechs = json_array()) == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < hs.nmechanisms; i++)
		json_array_append_new(mechs, json_string(hs.mechanisms[i]));
	o = json_pack("{s:b, s:b, s:s, s:s, s:s, s:o}", "configured", true, "available",
	    hs.available, "module", hs.module, "token_label", hs.token_label, "key_label",
	    hs.key_label, "mechanisms", mechs);
	if (o == NULL)
		return PV_E_NOMEM;
	if (hs.last_error[0] != '\0') {
		util_time_fmt(hs.last_error_ms, when, sizeof(when));
		json_object_set_new(o, "last_error", json_string(hs.last_error));
		json_object_set_new(o, "last_error_at", json_string(when));
	} else {
		json_object_set_new(o, "last_error", json_null());
		json_object_set_new(o, "last_error_at", json_null());
	}
	return http_reply(req, 200, o);
}

/* GET /v1/keys/import-key (keys.manage): the BYOK import key's public half. */
static enum pv_rc
keys_import_key(struct http_request *req)
{
	struct pv_app *app = req->route->arg;
	char *pem = NULL;
	json_t *o;
	enum pv_rc rc;

	if ((rc = keys_import_public_pem(app->keys, &pem)) != PV_OK)
		return rc;
	o = json_pack("{s:s, s:s, s:s}", "public_key_pem", pem, "algorithm", "RSA-3072",
	    "wrapping", "RSA-OAEP, SHA-256, MGF1-SHA-256, 32-byte AES-256 key");
	free(pem);
	return o ? http_reply(req, 200, o) : PV_E_NOMEM;
}

struct import_args {
	struct keys *keys;
	struct keys_import *imp;
};

static enum pv_rc
import_job(struct store_tx *tx, void *arg)
{
	struct import_args *a = arg;

	return keys_import_commit_tx(a->keys, tx, a->imp);
}

static void
import_args_free(void *arg)
{
	struct import_args *a = arg;

	keys_import_free(a->imp);
	free(a);
}

/*
 * POST /v1/keys/{name}/import {"wrapped_key":"base64"} (keys.manage): the
 * customer's AES-256 key, RSA-OAEP-wrapped to the import key, becomes the
 * KEK's next version (active) in the same transaction as its audit entry
 * key.import (resource key:<name>, detail {"version":N}; never key bytes).
 * A blob that does not unwrap: 400 invalid_request, audited as denied
 * (reason bad_wrapped_key), nothing changed.
 */
static enum pv_rc
keys_import(struct http_request *req)
{
	static const char *const allowed[] = { "wrapped_key", NULL };
	struct pv_app *app = req->route->arg;
	const char *name = req->nparams >= 1 ? req->params[0] : NULL, *b64;
	struct keys_import *imp = NULL;
	struct pv_actor actor;
	struct audit_event ev;
	uint8_t blob[1024];
	size_t bloblen = sizeof(blob);
	char resource[160], detail[64];
	struct import_args *args = NULL;
	json_t *o;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "wrapped_key", true, 2048, &b64)) != PV_OK)
		return rc;
	if (name == NULL)
		return PV_E_NOTFOUND;
	authn_actor(req->principal, req->source, &actor);
	snprintf(resource, sizeof(resource), "key:%s", name);
	memset(&ev, 0, sizeof(ev));
	ev.actor = actor;
	ev.action = "key.import";
	ev.resource = resource;
	if (util_b64_decode(b64, blob, &bloblen) != 0)
		rc = PV_E_INVALID;
	else
		rc = keys_import_unwrap(app->keys, name, blob, bloblen, &imp);
	crypto_wipe(blob, sizeof(blob));
	if (rc == PV_E_INVALID) {
		ev.outcome = AUDIT_DENIED;
		ev.reason = "bad_wrapped_key";
		/* held: the 400 leaves once its entry is durable (PV_E_AUDIT if not) */
		if (audit_record_held(app->audit, &ev, true) != PV_OK)
			return http_fail(req, PV_E_AUDIT, "the refusal could not be audited");
		return http_fail(req, PV_E_INVALID, "wrapped_key: base64 of an RSA-OAEP "
		    "(SHA-256, MGF1-SHA-256) encryption of 32 bytes to GET /v1/keys/import-key");
	}
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, rc, "no such key (import makes a new version of a key "
		    "that exists, e.g. collection:<name>)");
	if (rc != PV_OK)
		return rc;
	snprintf(detail, sizeof(detail), "{\"version\":%u}", (unsigned)keys_import_version(imp));
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	o = json_pack("{s:s, s:i, s:s, s:s}", "name", name, "version",
	    (int)keys_import_version(imp), "state", "active", "provider", "soft");
	if (o == NULL || (args = calloc(1, sizeof(*args))) == NULL) {
		json_decref(o);
		keys_import_free(imp);
		return PV_E_NOMEM;
	}
	args->keys = app->keys;
	args->imp = imp;
	/* the answer is what the caller knew before (name, version): it leaves
	 * after the fsync, or becomes the install's rc (409 ...) / PV_E_AUDIT */
	rc = audit_commit_held(app->audit, &ev, import_job, args, import_args_free);
	if (rc != PV_OK) {
		json_decref(o);
		return rc;
	}
	return http_reply(req, 201, o);
}

/* identity hooks: fail closed until routes_register has made the services */
static enum pv_rc
hook_authenticate(void *arg, struct http_request *req)
{
	struct pv_app *app = arg;

	return app->authz != NULL ? authz_authenticate(app->authz, req) : PV_E_UNAUTH;
}

static enum pv_rc
hook_authorize(void *arg, struct http_request *req, const char *permission)
{
	struct pv_app *app = arg;

	return app->authz != NULL ? authz_authorize(app->authz, req, permission) : PV_E_FORBIDDEN;
}

void
routes_hooks(struct pv_app *app, struct http_config *hc)
{
	(void)app;
	hc->authenticate = hook_authenticate;
	hc->authorize = hook_authorize;
}

/* Identity: sessions (authn), users and groups (directory), roles and audit
 * reading (authz). */
static enum pv_rc
identity_routes(struct pv_app *app)
{
	struct authn_service_config ac = { app->st, app->keys, app->audit, &app->cfg, app->dev };
	struct directory_config dc = { NULL, app->st, app->audit, &app->cfg, NULL, app->keys };
	struct scim_config sc = { NULL, &app->cfg };
	enum pv_rc rc;

	char oerr[512] = "";

	if ((rc = authn_service_new(&ac, &app->authn)) != PV_OK)
		return rc;
	/* KEK identity before the listener opens: no request creates it (a
	 * sealed vault: its unseal, unseal_done) */
	if ((rc = authn_kek_start(app->authn)) != PV_OK)
		return rc;
	/* [oidc]: the client secret and the group map, read at start */
	if ((rc = authn_oidc_start(app->authn, oerr, sizeof(oerr))) != PV_OK) {
		log_error("%s", oerr[0] != '\0' ? oerr : "oidc: could not start");
		return rc;
	}
	if ((rc = authz_service_new(app->authn, &app->authz)) != PV_OK ||
	    (rc = authn_routes(app->authn, app->http)) != PV_OK)
		return rc;
	dc.authn = app->authn;
	dc.authz = app->authz;
	authz_approvals_configure(app->authz, app->cfg.approvals_expire_s);
	authz_elevations_configure(app->authz, app->cfg.elevation_max_s);
	{
		struct config_role_max rm[CONFIG_ROLE_MAX_N];
		char err[256];
		size_t i, nrm = 0;

		/* validated at start (config_validate): a failure here is ours */
		if (config_role_max_parse(app->cfg.elevation_role_max_s, rm, &nrm, err,
		    sizeof(err)) != PV_OK)
			return PV_E_CONFIG;
		for (i = 0; i < nrm; i++)
			if ((rc = authz_elevations_role_max(app->authz, rm[i].role, rm[i].max_s))
			    != PV_OK)
				return rc;
	}
	if ((rc = directory_new(&dc, &app->directory)) != PV_OK ||
	    (rc = directory_routes(app->directory, app->http)) != PV_OK ||
	    (rc = directory_campaigns_start(app->directory)) != PV_OK)
		return rc;
	sc.directory = app->directory;
	if ((rc = scim_new(&sc, &app->scim)) != PV_OK ||
	    (rc = scim_routes(app->scim, app->http)) != PV_OK)
		return rc;
	if ((rc = authz_routes(app->authz, app->http)) != PV_OK)
		return rc;
	return authz_sweeper_start(app->authz);   /* approval and elevation expiries */
}

enum pv_rc
routes_register(struct pv_app *app)
{
	const struct http_route sys[] = {
		{ "GET", "/v1/sys/health", sys_health, HTTP_PERM_PUBLIC, NULL,
		    HTTP_ROUTE_SEALED_OK, 0, app },
		{ "POST", "/v1/sys/unseal", sys_unseal, HTTP_PERM_PUBLIC, "sys.unseal",
		    HTTP_ROUTE_BODY | HTTP_ROUTE_SEALED_OK, 4096, app },
		{ "GET", "/v1/sys/hsm", sys_hsm, "keys.manage", "sys.hsm", 0, 0, app },
		{ "GET", "/v1/keys/import-key", keys_import_key, "keys.manage", "key.import_key",
		    0, 0, app },
		{ "POST", "/v1/keys/{name}/import", keys_import, "keys.manage", "key.import",
		    HTTP_ROUTE_BODY, 8192, app },
	};

	struct vault_deps vd = { app->st, app->keys, app->audit, app->cfg.allowed_regions,
		strcmp(app->cfg.pkcs11_kek_default, "on") == 0 };
	enum pv_rc rc = authn_throttle_new(UNSEAL_THROTTLE_CAPACITY, UNSEAL_FAIL_LIMIT,
	    UNSEAL_FAIL_WINDOW_S, &app->unseal_throttle);

	if (rc == PV_OK)
		rc = http_routes_add(app->http, sys, sizeof(sys) / sizeof(sys[0]));

	if (rc == PV_OK)
		rc = identity_routes(app);

	if (rc == PV_OK)
		rc = vault_routes(app->http, &vd, &app->vault);
	if (rc == PV_OK)
		rc = vault_breakglass_install(app->vault, app->http, app->authn,
		    app->cfg.breakglass_max_s, app->cfg.breakglass_review_due_s);
	if (rc == PV_OK) {
		struct secrets_deps sd = { app->st, app->keys, app->audit,
			app->cfg.secrets_max_versions };

		if ((rc = secrets_new(&sd, &app->secrets)) == PV_OK &&
		    (rc = secrets_routes(app->http, app->secrets)) == PV_OK)
			rc = secrets_sweeper_start(app->secrets);
	}
	return rc;
}

void
routes_cleanup(struct pv_app *app)
{
	authz_service_free(app->authz);
	app->authz = NULL;
	scim_free(app->scim);
	app->scim = NULL;
	directory_free(app->directory);
	app->directory = NULL;
	authn_service_free(app->authn);
	app->authn = NULL;
	vault_free(app->vault);
	app->vault = NULL;
	secrets_free(app->secrets);
	app->secrets = NULL;
	authn_throttle_free(app->unseal_throttle);
	app->unseal_throttle = NULL;
}
