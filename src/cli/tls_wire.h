/*
 * tls_wire: serve's listeners (data / management) and the TLS certificate's
 * life: reload, expiry watch, dev renewal (tls_wire.c says how).
 */
#ifndef PV_CLI_TLS_WIRE_H
#define PV_CLI_TLS_WIRE_H

#include <jansson.h>

#include "cli/cli.h"
#include "cli/server.h"

/* Set the data listener's plane, name, allowlist and report hooks in hc. */
void server_listeners_config(struct pv_app *app, struct http_config *hc);
/* After app->http started: the management listener, if the planes are
 * split (config_planes_split). Prints why on failure. */
enum pv_rc server_admin_start(struct pv_app *app);
void server_admin_stop(struct pv_app *app);

/* Reload tls.cert + tls.key and record tls.reload (allowed with the new
 * fingerprint, or error with the reason; the old certificate then stays).
 * Blocks until the entry is durable: for SIGHUP and the watcher. */
enum pv_rc server_tls_reload(struct pv_app *app, const struct pv_actor *actor, const char *why);
/* The same without waiting (POST /v1/sys/tls/reload): *reload_rc, *info
 * and msg are the reload's; done runs once the entry is durable (unless
 * this returns an error: nothing was queued). */
enum pv_rc server_tls_reload_submit(struct pv_app *app, const struct pv_actor *actor,
    const char *why, audit_done_fn done, void *done_arg, struct http_tls_info *info,
    enum pv_rc *reload_rc, char *msg, size_t msglen);
/* GET /v1/sys/tls's object for a certificate. */
json_t *server_tls_json(const struct http_tls_info *in);

/* The watcher thread: expiry thresholds, dev renewal; one check at once. */
enum pv_rc server_tls_watch_start(struct pv_app *app);
void server_tls_watch_stop(struct pv_app *app);

/* The TLS routes (routes_tls.c): GET /v1/sys/tls, POST /v1/sys/tls/reload. */
enum pv_rc server_tls_routes(struct pv_app *app);

#endif
