/*
 * console: the web console's static files (console/ in the repository,
 * embedded into the binary at build time by scripts/embed.cmake) served at
 * GET /console/, /console/app.js, /console/app.css (docs/console.md,
 * docs/internals/console.md).
 *
 * Invariants:
 *  - Serving never reads the file system: the bytes are in the binary.
 *  - Every console response carries CONSOLE_CSP (no inline script or
 *    style, no other origin), nosniff, no-referrer, no-store (the last
 *    three are the http module's defaults for every response).
 *  - The routes are public (the page itself holds nothing; what it shows
 *    comes from the API under the signed-in principal's permissions).
 */
#ifndef PV_CONSOLE_H
#define PV_CONSOLE_H

#include "http/http.h"
#include "util/util.h"

#define CONSOLE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " \
	"form-action 'self'"

/* Register GET /console/, /console, /console/app.js, /console/app.css. */
enum pv_rc console_routes(struct http_server *srv);

#endif /* PV_CONSOLE_H */
