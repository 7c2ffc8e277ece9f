/*
 * server: see server.h. Also owns the system routes (health, unseal) that
 * belong to no module below the command line.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/server.h"
#include "cli/routes.h"

static bool
hook_is_sealed(void *arg)
{
	struct pv_app *app = arg;

	return keys_is_sealed(app->keys);
}

static void
system_event(struct pv_app *app, const char *action, enum audit_outcome outcome,
    const char *reason)
{
	struct audit_event ev = {
		.actor = { .user_id = "system" },
		.action = action,
		.resource = "sys",
		.outcome = outcome,
		.reason = reason,
	};

	if (audit_record(app->audit, &ev) != PV_OK)
		log_error("audit: could not record %s", action);
}

/* Block the signals we wait for in every thread (inherited by threads made later). */
static void
signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
server_run(const char *datadir, const char *listen, bool dev)
{
	struct pv_app app;
	struct http_config hc;
	struct audit_config ac;
	char err[512];
	sigset_t set;
	int sig = 0, ret = CLI_RUNTIME;
	enum pv_rc rc;

	memset(&app, 0, sizeof(app));
	app.dev = dev;
	if (gethostname(app.node, sizeof(app.node)) != 0)
		util_strlcpy(app.node, "phivault", sizeof(app.node));
	app.node[sizeof(app.node) - 1] = '\0';

	if (config_load(datadir, &app.cfg, err, sizeof(err)) != PV_OK) {
		cli_err("%s", err);
		return CLI_RUNTIME;
	}
	if (listen != NULL)
		util_strlcpy(app.cfg.listen, listen, sizeof(app.cfg.listen));
	if (config_validate(&app.cfg, dev, err, sizeof(err)) != PV_OK) {
		cli_err("refusing to start: %s%s", err, dev ? "" : " (--dev relaxes some settings)");
		return CLI_RUNTIME;
	}
	signals_block(&set);
	if (crypto_init() != PV_OK) {
		cli_err("libcrypto is not usable");
		return CLI_RUNTIME;
	}
	rc = store_open(datadir, app.cfg.store_backend, app.cfg.store_url, false, &app.st);
	if (rc != PV_OK) {
		cli_err("cannot open the store in %s: %s", datadir, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	rc = keys_open(app.st, datadir, &app.keys);
	if (rc != PV_OK) {
		cli_err("cannot open the keyring (is %s initialised? run phivault init): %s",
		    datadir, pv_rc_name(rc));
		goto out;
	}
	ac.checkpoint_every = app.cfg.checkpoint_every;
	ac.checkpoint_interval_s = app.cfg.checkpoint_interval_s;
	ac.max_group = 0;
	if ((rc = audit_start(app.st, app.keys, &ac, &app.audit)) != PV_OK) {
		cli_err("cannot start the audit writer: %s", pv_rc_name(rc));
		goto out;
	}
	system_event(&app, "sys.start", AUDIT_ALLOWED, dev ? "dev" : NULL);
	{
		struct keys_seal_status ss;

		keys_status(app.keys, &ss);
		if (ss.type == KEYS_SEAL_KEYFILE) {
			rc = keys_unseal_keyfile(app.keys);
			system_event(&app, "sys.unseal", rc == PV_OK ? AUDIT_ALLOWED : AUDIT_ERROR,
			    rc == PV_OK ? "keyfile" : pv_rc_name(rc));
			if (rc != PV_OK) {
				cli_err("cannot unseal with %s/%s: %s", datadir, KEYS_UNSEAL_FILE,
				    pv_rc_name(rc));
				goto out;
			}
		}
	}

	memset(&hc, 0, sizeof(hc));
	hc.listen = app.cfg.listen;
	hc.cert_path = app.cfg.tls_cert;
	hc.key_path = app.cfg.tls_key;
	hc.tls_min_version = app.cfg.tls_min_version;
	hc.max_body_bytes = app.cfg.max_body_bytes;
	hc.threads = app.cfg.threads;
	hc.max_connections_per_ip = app.cfg.max_connections_per_ip;
	hc.handshake_timeout_s = app.cfg.handshake_timeout_s;
	hc.dev = dev;
	hc.is_sealed = hook_is_sealed;
	hc.hook_arg = &app;
	routes_hooks(&app, &hc);
	if ((rc = http_server_new(&hc, &app.http)) != PV_OK) {
		cli_err("cannot set up HTTPS (%s): %s", app.cfg.tls_cert, pv_rc_name(rc));
		goto out;
	}
	if ((rc = routes_register(&app)) != PV_OK) {
		cli_err("cannot register routes: %s", pv_rc_name(rc));
		goto out;
	}
	if ((rc = http_server_start(app.http)) != PV_OK) {
		cli_err("cannot listen on %s: %s", app.cfg.listen, pv_rc_name(rc));
		goto out;
	}
	log_info("phivault %s listening on https://%s (port %u)%s%s", PHIVAULT_VERSION,
	    app.cfg.listen, http_server_port(app.http), keys_is_sealed(app.keys) ? ", sealed" : "",
	    dev ? ", dev mode" : "");

	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		log_info("SIGHUP ignored (restart to reload the configuration)");
	log_info("signal %d: stopping (finishing requests, flushing the audit trail)", sig);
	ret = CLI_OK;
out:
	if (app.http != NULL) {
		http_server_stop(app.http);
		http_server_free(app.http);
	}
	if (app.audit != NULL) {
		system_event(&app, "sys.stop", AUDIT_ALLOWED, NULL);
		audit_stop(app.audit);
	}
	routes_cleanup(&app);
	if (app.keys != NULL)
		keys_close(app.keys);
	store_close(app.st);
	if (ret == CLI_OK)
		log_info("stopped");
	return ret;
}
