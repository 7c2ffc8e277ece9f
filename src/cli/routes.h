/*
 * routes: the one place that lists every module's routes and installs the
 * authentication/authorization hooks. The system routes (health, unseal)
 * are defined here; module routes come from <mod>_routes() functions.
 */
#ifndef PV_CLI_ROUTES_H
#define PV_CLI_ROUTES_H

#include "cli/server.h"

void routes_hooks(struct pv_app *app, struct http_config *hc);
enum pv_rc routes_register(struct pv_app *app);
void routes_cleanup(struct pv_app *app);

#endif
