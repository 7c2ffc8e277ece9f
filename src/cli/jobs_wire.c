/*
 * jobs_wire: the job runner's place in `serve` (server.h). Compiled twice:
 * into pv_cli for `phivault`, and with PV_TEST_HOOKS into phivault-test,
 * where it also installs the synthetic kind "test.count" and
 * POST /v1/test/jobs (jobs_test_install): only the test binary references
 * them, so the shipped binary does not contain them.
 *
 * Kinds of higher modules (key re-encryption, retention, backups) are to
 * be registered from here, through the install step, before the runner's
 * thread starts.
 */
#include "authn/authn.h"
#include "backup/backup.h"
#include "cli/server.h"
#include "jobs/jobs.h"
#include "vault/vault.h"

/* The install step has no argument: the one app of this process. */
static struct pv_app *install_app;

static void actor_of(struct http_request *req, struct pv_actor *out);

/* Kinds (and their routes) of higher modules, before the runner's thread. */
static enum pv_rc
install(struct jobs_runner *r, struct http_server *http)
{
	enum pv_rc rc;

	if (install_app != NULL && install_app->vault != NULL &&
	    (rc = vault_keys_install(install_app->vault, r, http)) != PV_OK)
		return rc;
	if (install_app != NULL) {
		struct backup_config bc = {
			.st = install_app->st,
			.keys = install_app->keys,
			.audit = install_app->audit,
			.cfg = &install_app->cfg,
			.node = install_app->node,
			.actor_of = actor_of,
		};

		if ((rc = backup_install(&bc, r, http, &install_app->backup)) != PV_OK)
			return rc;
	}
	if (install_app != NULL && install_app->vault != NULL &&
	    (rc = vault_retention_install(install_app->vault, r, http,
	    install_app->cfg.retention_every_s)) != PV_OK)
		return rc;
	if (install_app != NULL && install_app->vault != NULL &&
	    (rc = vault_incidents_install(install_app->vault, r, http, install_app->authn)) !=
	    PV_OK)
		return rc;
	if (install_app != NULL && install_app->vault != NULL &&
	    (rc = vault_export_install(install_app->vault, r, http,
	    install_app->cfg.export_keep_s)) != PV_OK)
		return rc;
#ifdef PV_TEST_HOOKS
	return jobs_test_install(r, http);
#else
	return PV_OK;
#endif
}

static void
actor_of(struct http_request *req, struct pv_actor *out)
{
	if (req->principal != NULL)
		authn_actor(req->principal, req->source, out);
}

enum pv_rc
server_jobs_start(struct pv_app *app)
{
	struct jobs_config jc = {
		.st = app->st,
		.audit = app->audit,
		.node = app->node,
		.step_pause_ms = app->cfg.jobs_step_pause_ms,
		.max_steps_per_s = app->cfg.jobs_max_steps_per_s,
		.lease_s = app->cfg.jobs_lease_s,
		.http = app->http,
		.actor_of = actor_of,
		.install = install,
	};

	install_app = app;
	return jobs_runner_start(&jc, &app->jobs);
}
