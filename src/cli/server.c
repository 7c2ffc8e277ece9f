/*
 * server: see server.h. Also owns the system routes (health, unseal) that
 * belong to no module below the command line.
 *
 * Start-up order (each step refuses to start, naming what and why; the
 * same list is in daemon/daemon.h and docs/internals/daemon.md):
 *  1. daemon_harden: no core dumps, no_new_privs (before any secret is read);
 *     daemon_process_init: jansson's wiping free, SIGPIPE ignored, libsodium;
 *  2. config load + validate (the "--dev relaxes" hint only when --dev would
 *     accept the configuration);
 *  3. the password dictionary ([auth] password_dictionary; --dev only warns);
 *  4. the data-directory lock, before anything writes (store, audit chain);
 *     then the signals waited for are blocked (daemon_signals_block) before
 *     any thread starts;
 *  5. store, keys (+ key-file unseal), audit writer, HTTPS, routes, listen;
 *  6. the seccomp allowlist ([server] seccomp), for every thread (TSYNC).
 * Test builds (PV_TEST_HOOKS, phivault-test only): SIGUSR1 makes the server
 * call execve, which the allowlist forbids: the process must die of SIGSYS;
 * with PHIVAULT_TEST_CLOCK=1, POST /v1/test/clock advances the clock.
 */
#include <errno.h>
#include <pthread.h>
#ifdef PV_TEST_HOOKS
#include <sys/syscall.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/server.h"
#include "cli/routes.h"
#include "daemon/daemon.h"
#include "authn/authn.h"
#include "authz/authz.h"
#include "directory/directory.h"
#include "backup/backup.h"
#include "jobs/jobs.h"
#include "vault/vault.h"
#include "secrets/secrets.h"
#include "sinks/sinks.h"
#include "detect/detect.h"
#include "compliance/compliance.h"
#include "console/console.h"
#include "cli/tls_wire.h"

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
		.actor = audit_actor_system(),
		.action = action,
		.resource = "sys",
		.outcome = outcome,
		.reason = reason,
	};

	if (audit_record(app->audit, &ev) != PV_OK)
		log_error("audit: could not record %s", action);
}

#ifdef PV_TEST_HOOKS
/* Test builds only: a system call the seccomp allowlist forbids. Without the
 * filter execve of a missing file just fails and the server keeps serving. */
static void
test_forbidden_syscall(void)
{
	char *const argv[] = { (char *)"phivault-seccomp-probe", NULL };

	log_warn("test hook: calling execve (forbidden by seccomp)");
	(void)syscall(SYS_execve, "/nonexistent/phivault-seccomp-probe", argv, argv + 1);
	log_warn("test hook: execve returned (errno %d): no seccomp filter", errno);
}
#endif

#ifdef PV_TEST_HOOKS
/*
 * Test builds only: POST /v1/test/clock {"advance_ms": N} moves the
 * server's clock (util_clock_advance) forward by N ms, so integration tests
 * advance time instead of sleeping; the reply is {"now_ms", "mono_ms"} after
 * the move. Registered only when PHIVAULT_TEST_CLOCK=1 is in the server's
 * environment at start (so the rest of the suite runs on the real clock); the
 * shipped `phivault` has no such route at all.
 */
static enum pv_rc
test_clock(struct http_request *req)
{
	static const char *const allowed[] = { "advance_ms", NULL };
	json_t *v, *o;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK)
		return rc;
	v = json_object_get(req->body, "advance_ms");
	if (!json_is_integer(v))
		return http_fail(req, PV_E_INVALID, "advance_ms: an integer number of milliseconds");
	if (util_clock_advance((int64_t)json_integer_value(v)) != PV_OK)
		return http_fail(req, PV_E_INVALID,
		    "advance_ms: from 0 to 400 days in milliseconds (the clock never goes back)");
	log_warn("test hook: clock advanced by %lld ms", (long long)json_integer_value(v));
	o = json_pack("{s:I, s:I}", "now_ms", (json_int_t)util_now_ms(), "mono_ms",
	    (json_int_t)util_mono_ms());
	return o ? http_reply(req, 200, o) : PV_E_NOMEM;
}

/*
 * Test builds only: GET /v1/test/commit-waits -> {"request_thread_waits": N,
 * "suspended": M}: the blocking waits (commit_run, authn's blocking waiter)
 * started on HTTP request threads since start (util_request_thread_waits):
 * a route that answers from its commit completion adds nothing to it; and
 * the requests whose answer waits for a completion right now
 * (http_requests_suspended, the gauge phivault_http_requests_suspended), so
 * a test waits for a condition, not for a pause.
 */
static enum pv_rc
test_commit_waits(struct http_request *req)
{
	json_t *o = json_pack("{s:I, s:I}", "request_thread_waits",
	    (json_int_t)util_request_thread_waits(), "suspended",
	    (json_int_t)http_requests_suspended());

	return o ? http_reply(req, 200, o) : PV_E_NOMEM;
}

static enum pv_rc
test_routes(struct pv_app *app)
{
	const struct http_route r = { "POST", "/v1/test/clock", test_clock, HTTP_PERM_PUBLIC,
	    NULL, HTTP_ROUTE_BODY | HTTP_ROUTE_SEALED_OK, 256, app };
	const struct http_route w = { "GET", "/v1/test/commit-waits", test_commit_waits,
	    HTTP_PERM_PUBLIC, NULL, HTTP_ROUTE_SEALED_OK, 0, app };
	const char *on = getenv("PHIVAULT_TEST_CLOCK");
	enum pv_rc rc;

	if ((rc = http_route_add(app->http, &w)) != PV_OK)
		return rc;
	if (on == NULL || strcmp(on, "1") != 0)
		return PV_OK;
	log_warn("test hook: POST /v1/test/clock is enabled (PHIVAULT_TEST_CLOCK=1)");
	return http_route_add(app->http, &r);
}

/* Test builds only: with PHIVAULT_TEST_CLOCK=1, PHIVAULT_TEST_CLOCK_ADVANCE_MS
 * moves the clock forward before anything runs (so a test can restart a
 * server after kill -9 at the time it had reached, before its jobs resume). */
static void
test_clock_start(void)
{
	const char *on = getenv("PHIVAULT_TEST_CLOCK");
	const char *adv = getenv("PHIVAULT_TEST_CLOCK_ADVANCE_MS");

	if (on == NULL || strcmp(on, "1") != 0 || adv == NULL || adv[0] == '\0')
		return;
	if (util_clock_advance(strtoll(adv, NULL, 10)) == PV_OK)
		log_warn("test hook: clock starts %s ms ahead", adv);
}
#endif

/* The password blocklist the policy was built for; --dev only warns. */
static bool
dictionary_ready(const struct pv_config *cfg, bool dev)
{
	enum pv_rc rc = authn_password_dictionary_set(cfg->password_dictionary);

	if (rc == PV_OK)
		return true;
	if (dev) {
		log_warn("auth.password_dictionary = %s: the cracklib dictionary (%s.pwd) is "
		    "missing; --dev continues with the shipped blocklist only",
		    cfg->password_dictionary, cfg->password_dictionary);
		return true;
	}
	cli_err("refusing to start: auth.password_dictionary = %s: the cracklib dictionary "
	    "(%s.pwd, .pwi, .hwm) is missing; install cracklib-runtime and wamerican-large "
	    "and run update-cracklib, or point auth.password_dictionary at a dictionary made "
	    "with cracklib-packer (docs/install.md)", cfg->password_dictionary,
	    cfg->password_dictionary);
	return false;
}

/*
 * Configuration change tracking (issue 19 item 6; compliance.h
 * compliance_config_track): record the effective configuration as
 * config.loaded, and config.changed with the keys that differ from the
 * last one this node recorded. reload = false: the configuration this
 * process runs with (at start). reload = true: phivault.conf read again,
 * with this run's --listen, validated as at start; an invalid file is
 * refused (PV_E_CONFIG, logged) and nothing is recorded. The caller of a
 * reload (SIGHUP, POST /v1/sys/tls/reload) decides what of it applies.
 */
enum pv_rc
server_config_track(struct pv_app *app, const char *listen, bool reload)
{
	struct pv_config *c = &app->cfg;
	struct pv_config *fresh = NULL;
	char err[512];
	enum pv_rc rc;

	if (reload) {
		if ((fresh = calloc(1, sizeof(*fresh))) == NULL)
			return PV_E_NOMEM;
		if (config_load(app->cfg.datadir, fresh, err, sizeof err) != PV_OK ||
		    (listen != NULL && util_strlcpy(fresh->listen, listen, sizeof(fresh->listen)) >=
		    sizeof(fresh->listen)) || config_validate(fresh, app->dev, err, sizeof err) != PV_OK) {
			log_error("config: reload refused: %s", err);
			free(fresh);
			return PV_E_CONFIG;
		}
		c = fresh;
	}
	rc = compliance_config_track(app->audit, app->st, c, app->node, reload ? "reload" : "start",
	    NULL);
	free(fresh);
	return rc;
}

int
server_run(const char *datadir, const char *listen, bool dev, bool allow_core)
{
	struct pv_app app;
	struct daemon_lock *lock = NULL;
	pid_t holder = 0;
	struct http_config hc;
	char ca_path[PATH_MAX];
	struct audit_config ac;
	char err[512];
	sigset_t set;
	int sig = 0, ret = CLI_RUNTIME;
	enum pv_rc rc;

	memset(&app, 0, sizeof(app));
	if (allow_core && !dev) {
		cli_err("--allow-core is allowed only with --dev");
		return CLI_USAGE;
	}
	if (daemon_harden(allow_core) != PV_OK) {
		cli_err("refusing to start: cannot disable core dumps or set no_new_privs");
		return CLI_RUNTIME;
	}
	if (daemon_process_init() != PV_OK) {
		cli_err("refusing to start: cannot make the process-wide settings "
		    "(jansson allocator, SIGPIPE, libsodium)");
		return CLI_RUNTIME;
	}
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
	if (app.cfg.node[0] != '\0')   /* [server] node: names this node among several */
		util_strlcpy(app.node, app.cfg.node, sizeof(app.node));
	if (config_validate(&app.cfg, dev, err, sizeof(err)) != PV_OK) {
		char dev_err[512];
		/* the hint only if --dev would accept this configuration as it is */
		bool dev_helps = !dev && config_validate(&app.cfg, true, dev_err,
		    sizeof(dev_err)) == PV_OK;

		cli_err("refusing to start: %s%s", err, dev_helps ? " (--dev relaxes this setting)" : "");
		return CLI_RUNTIME;
	}
	if (!dictionary_ready(&app.cfg, dev))
		return CLI_RUNTIME;
	/* before anything writes: a second server must not touch the audit chain */
	rc = daemon_lock_take(datadir, &lock, &holder);
	if (rc == PV_E_LOCKED) {
		if (holder > 0)
			cli_err("refusing to start: %s is in use by phivault PID %ld (%s/%s)",
			    datadir, (long)holder, datadir, DAEMON_LOCK_FILE);
		else
			cli_err("refusing to start: %s is in use by another phivault (%s/%s)",
			    datadir, datadir, DAEMON_LOCK_FILE);
		return CLI_RUNTIME;
	}
	if (rc != PV_OK) {
		cli_err("cannot lock %s/%s: %s", datadir, DAEMON_LOCK_FILE, strerror(errno));
		return CLI_RUNTIME;
	}
#ifdef PV_TEST_HOOKS
	daemon_signals_block(&set, SIGUSR1);
#else
	daemon_signals_block(&set, 0);
#endif
	if (crypto_init() != PV_OK) {
		cli_err("libcrypto is not usable");
		goto out;
	}
	rc = store_open(datadir, app.cfg.store_backend, app.cfg.store_url, false, &app.st);
	if (rc != PV_OK) {
		cli_err("cannot open the store in %s: %s", datadir, pv_rc_name(rc));
		goto out;
	}
	store_pool_set(app.st, app.cfg.store_max_connections, 0);
	{
		/* API.md "Several nodes": the first serve on PostgreSQL moves what
		 * init wrote there (a no-op on SQLite or once moved) */
		bool moved = false;

		rc = store_import_datadir(app.st, datadir, &moved);
		if (rc != PV_OK) {
			cli_err("cannot move %s/phivault.db into PostgreSQL: %s", datadir,
			    pv_rc_name(rc));
			goto out;
		}
		if (moved)
			log_info("serve: %s/phivault.db moved into PostgreSQL", datadir);
	}
	/* several nodes with [store] epoch = notify: hear the access epoch move
	 * (LISTEN/NOTIFY) instead of reading it on every request; nothing on
	 * SQLite. The default (row) reads it every request: strict. */
	if (strcmp(app.cfg.store_epoch, "notify") == 0 &&
	    (rc = store_epoch_listen(app.st)) != PV_OK) {
		cli_err("cannot start the access-epoch listener: %s", pv_rc_name(rc));
		goto out;
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
	{
		/* before the first entry of this run, so sys.start is delivered too */
		struct sinks_deps sd = { app.st, app.audit, &app.cfg, app.node };

		if ((rc = sinks_start(&sd, &app.sinks)) != PV_OK) {
			cli_err("cannot start the SIEM sinks ([sinks]): %s", pv_rc_name(rc));
			goto out;
		}
	}
	/* before the server's own entries: detection sees every one of them */
	if ((rc = detect_start(app.st, app.audit, app.sinks, &app.cfg, &app.detect)) != PV_OK) {
		cli_err("cannot start threat detection: %s", pv_rc_name(rc));
		goto out;
	}
	system_event(&app, "sys.start", AUDIT_ALLOWED, dev ? "dev" : NULL);
	(void)server_config_track(&app, listen, false);   /* config.loaded [+ config.changed] */
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
		} else if (ss.type == KEYS_SEAL_PKCS11) {
			/* the token, by label, unwraps the unseal key inside it */
			const struct keys_hsm_spec hs = { app.cfg.pkcs11_module,
			    app.cfg.pkcs11_token_label, app.cfg.pkcs11_pin_file,
			    app.cfg.pkcs11_key_label };

			rc = keys_unseal_pkcs11(app.keys, &hs);
			system_event(&app, "sys.unseal", rc == PV_OK ? AUDIT_ALLOWED : AUDIT_ERROR,
			    rc == PV_OK ? "pkcs11" : pv_rc_name(rc));
			if (rc != PV_OK) {
				cli_err("cannot unseal with the pkcs11 token %s ([pkcs11] in "
				    "phivault.conf): %s", app.cfg.pkcs11_token_label, pv_rc_name(rc));
				goto out;
			}
		}
	}

#ifdef PV_TEST_HOOKS
	test_clock_start();
#endif
	/* phivault's app CA for mutual TLS: a data directory older than it gets
	 * one now if it is unsealed (else on the first certificate request) */
	if (!keys_is_sealed(app.keys) && (rc = keys_app_ca_ensure(app.keys)) != PV_OK)
		log_warn("serve: no app CA yet (%s); mutual TLS waits for it", pv_rc_name(rc));
	memset(&hc, 0, sizeof(hc));
	hc.listen = app.cfg.listen;
	hc.cert_path = app.cfg.tls_cert;
	if (util_path_join(ca_path, sizeof(ca_path), app.cfg.datadir, "tls/app-ca.pem") == 0)
		hc.client_ca_path = ca_path;
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
	server_listeners_config(&app, &hc);   /* data / management planes, allowlist */
	if ((rc = http_server_new(&hc, &app.http)) != PV_OK) {
		cli_err("cannot set up HTTPS (%s): %s", app.cfg.tls_cert, pv_rc_name(rc));
		goto out;
	}
	if ((rc = routes_register(&app)) != PV_OK) {
		cli_err("cannot register routes: %s", pv_rc_name(rc));
		goto out;
	}
	/* the KEKs of first uses, here rather than on a request thread that
	 * would wait for their commit (a sealed vault makes them at first use) */
	if (!keys_is_sealed(app.keys) && (rc = vault_keks_ensure(app.vault)) != PV_OK)
		log_warn("serve: the tokens and incidents KEKs are not made yet (%s); their first "
		    "use makes them", pv_rc_name(rc));
	if ((rc = sinks_routes(app.sinks, app.http)) != PV_OK) {
		cli_err("cannot register the sinks route: %s", pv_rc_name(rc));
		goto out;
	}
	if ((rc = detect_routes(app.detect, app.http)) != PV_OK) {
		cli_err("cannot register the alert routes: %s", pv_rc_name(rc));
		goto out;
	}
	{
		const struct compliance_deps cd = { app.st, app.audit, app.keys, &app.cfg, datadir,
			app.node };

		if ((rc = compliance_service_new(&cd, &app.compliance)) != PV_OK ||
		    (rc = compliance_routes(app.compliance, app.http)) != PV_OK) {
			cli_err("cannot register the compliance route: %s", pv_rc_name(rc));
			goto out;
		}
	}
	if ((rc = console_routes(app.http)) != PV_OK) {
		cli_err("cannot register the console routes: %s", pv_rc_name(rc));
		goto out;
	}
	if ((rc = server_tls_routes(&app)) != PV_OK) {
		cli_err("cannot register the TLS routes: %s", pv_rc_name(rc));
		goto out;
	}
	if ((rc = server_jobs_start(&app)) != PV_OK) {
		cli_err("cannot start the job runner: %s", pv_rc_name(rc));
		goto out;
	}
	if ((rc = server_metrics_start(&app)) != PV_OK) {
		cli_err("cannot set up metrics (%s%s): %s", app.cfg.metrics_listen[0] ?
		    "metrics.listen = " : "GET /metrics", app.cfg.metrics_listen, pv_rc_name(rc));
		goto out;
	}
#ifdef PV_TEST_HOOKS
	if ((rc = test_routes(&app)) != PV_OK) {
		cli_err("cannot register the test routes: %s", pv_rc_name(rc));
		goto out;
	}
#endif
	{
		/* what this process is about to be: the seccomp allowlist goes in
		 * below or the server does not start at all */
		const struct compliance_process cp = { true, strcmp(app.cfg.seccomp, "on") == 0,
			!allow_core, true, dev };

		compliance_service_process(app.compliance, &cp);
	}
	if ((rc = http_server_start(app.http)) != PV_OK) {
		cli_err("cannot listen on %s: %s", app.cfg.listen, pv_rc_name(rc));
		goto out;
	}
	/* after every route is registered (it copies the table) */
	if ((rc = server_admin_start(&app)) != PV_OK)
		goto out;
	if ((rc = server_tls_watch_start(&app)) != PV_OK) {
		cli_err("cannot start the TLS certificate watcher: %s", pv_rc_name(rc));
		goto out;
	}
	if (strcmp(app.cfg.seccomp, "on") == 0 && (rc = daemon_seccomp_install()) != PV_OK) {
		cli_err("refusing to start: cannot install the seccomp filter "
		    "(server.seccomp = off turns it off, only with --dev)");
		goto out;
	}
	log_info("phivault %s listening on https://%s (port %u)%s%s%s", PHIVAULT_VERSION,
	    app.cfg.listen, http_server_port(app.http), keys_is_sealed(app.keys) ? ", sealed" : "",
	    dev ? ", dev mode" : "", strcmp(app.cfg.seccomp, "on") == 0 ? "" : ", seccomp off");
	if (app.admin_http != NULL)
		log_info("management listener on https://%s (port %u); %s serves data routes only",
		    config_admin_listen(&app.cfg), http_server_port(app.admin_http), app.cfg.listen);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			break;
		if (sig == SIGHUP) {
			const struct pv_actor sys = audit_actor_system();

			/* the TLS certificate and key, from the configured paths;
			 * then phivault.conf is read again for change tracking only
			 * (config.changed names what differs; nothing else of it
			 * applies before a restart) */
			log_info("SIGHUP: reloading the TLS certificate");
			(void)server_tls_reload(&app, &sys, "sighup");
			(void)server_config_track(&app, listen, true);
			continue;
		}
#ifdef PV_TEST_HOOKS
		if (sig == SIGUSR1) {
			test_forbidden_syscall();
			continue;
		}
#endif
		break;
	}
	log_info("signal %d: stopping (finishing requests, flushing the audit trail)", sig);
	ret = CLI_OK;
out:
	server_tls_watch_stop(&app);   /* it records through audit and reads app.http */
	server_admin_stop(&app);       /* the sibling goes before the primary */
	if (app.http != NULL) {
		http_server_stop(app.http);
		http_server_free(app.http);
	}
	server_metrics_stop(&app);
	backup_stop(app.backup);   /* its scheduler queues jobs: before the runner */
	/* The sweepers, before the runner too: they commit through audit and
	 * some queue jobs (the retention scheduler, key rotation's automatic
	 * re-encryption); a tick after jobs_runner_stop touched the freed
	 * runner (ASan, integ_test_disclosures). */
	vault_keys_stop(app.vault);   /* the key-rotation sweeper */
	vault_breakglass_stop(app.vault);   /* the break-glass sweeper */
	authz_sweeper_stop(app.authz);      /* the expiry sweeper */
	directory_campaigns_stop(app.directory);   /* the access review sweeper */
	vault_retention_stop(app.vault);   /* the retention scheduler */
	vault_export_stop(app.vault);      /* the export sweeper */
	secrets_stop(app.secrets);    /* the rotation sweeper */
	jobs_runner_stop(app.jobs);
	backup_free(app.backup);   /* after the runner: no step starts a worker any more */
	/* its last state goes through the commit queue, so before audit_stop;
	 * freed after it (the queue's subscriber points at it until then) */
	detect_stop(app.detect);
	if (app.audit != NULL) {
		system_event(&app, "sys.stop", AUDIT_ALLOWED, NULL);
		sinks_stop(app.sinks);   /* drains (bounded); its cursors commit through audit */
		audit_stop(app.audit);
	}
	sinks_free(app.sinks);
	detect_free(app.detect);
	app.detect = NULL;
	routes_cleanup(&app);
	compliance_service_free(app.compliance);
	if (app.keys != NULL)
		keys_close(app.keys);
	store_close(app.st);
	daemon_lock_release(lock);
	if (ret == CLI_OK)
		log_info("stopped");
	return ret;
}
