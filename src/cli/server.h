/*
 * server: assembles a running phivault from its modules, for `serve` and
 * `dev`: config -> store -> keys (auto-unseal for the key-file seal) ->
 * audit writer -> HTTP routes -> wait for SIGTERM/SIGINT -> graceful stop.
 *
 * States: STARTING -> SERVING (sealed or unsealed) -> DRAINING (signal:
 * stop accepting, finish requests) -> FLUSHING (audit "sys.stop", writer
 * drained, final checkpoint) -> STOPPED.
 */
#ifndef PV_CLI_SERVER_H
#define PV_CLI_SERVER_H

#include <stdbool.h>

#include "audit/audit.h"
#include "config/config.h"
#include "http/http.h"
#include "keys/keys.h"
#include "store/store.h"

struct pv_app {
	struct pv_config cfg;
	bool dev;
	char node[64];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	struct http_server *http;
	struct vault_ctx *vault;      /* PHI records (vault/vault.h) */
	struct secrets *secrets;      /* application secrets (secrets/secrets.h) */
	struct authn_service *authn;  /* identity: sessions, login (authn/authn.h) */
	struct authz_service *authz;  /* identity: hooks, roles, audit routes (authz/authz.h) */
	struct directory *directory;  /* users and groups (directory/directory.h) */
	struct scim *scim;            /* SCIM 2.0 over the directory (scim/scim.h) */
	struct authn_throttle *unseal_throttle;  /* failed unseal shares per source */
	struct jobs_runner *jobs;     /* background work (jobs/jobs.h) */
	/* GET /metrics (metrics_wire.c) */
	int64_t metrics_start_ms;
	bool metrics_collecting;
	struct http_metrics_listener *metrics_listener;
	struct sinks *sinks;          /* SIEM delivery of the trail (sinks/sinks.h) */
	struct detect *detect;        /* threat detection, alerts (detect/detect.h) */
	struct compliance_service *compliance;  /* the compliance report (compliance/compliance.h) */
	struct backup *backup;        /* backups (backup/backup.h; jobs_wire.c) */
	struct http_server *admin_http;   /* the management listener, or NULL (tls_wire.c) */
	struct tls_watch *tls_watch;      /* certificate expiry / dev renewal (tls_wire.c) */
};

/* Run until a signal; returns a cli exit code. listen may be NULL (config):
 * it applies to this run only and is never written to phivault.conf.
 * allow_core (only with dev) keeps core dumps possible. */
/* jobs_wire.c: start the job runner with its routes and kinds (test kinds
 * in phivault-test only); PV_OK or why not. */
enum pv_rc server_jobs_start(struct pv_app *app);

/* metrics_wire.c: GET /metrics (unless [metrics] enabled = off), its
 * collector and the [metrics] listen listener; before http_server_start.
 * stop (idempotent) before the modules the collector reads are closed. */
enum pv_rc server_metrics_start(struct pv_app *app);
void server_metrics_stop(struct pv_app *app);

/* server.c: record the effective configuration (config.loaded, and
 * config.changed when it differs from this node's last); reload = true
 * re-reads phivault.conf (with this run's --listen) instead of app->cfg.
 * For the SIGHUP / reload path: call it after a reload is accepted. */
enum pv_rc server_config_track(struct pv_app *app, const char *listen, bool reload);

int server_run(const char *datadir, const char *listen, bool dev, bool allow_core);

#endif
