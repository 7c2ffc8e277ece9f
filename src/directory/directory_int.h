/*
 * directory_int.h: internals shared by the files of src/directory/ and
 * their unit tests only. Nothing here is API; other modules include
 * directory.h.
 */
#ifndef PV_DIRECTORY_INT_H
#define PV_DIRECTORY_INT_H

#include <jansson.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "config/config.h"
#include "directory/directory.h"
#include "http/http.h"
#include "store/store.h"

struct directory {
	struct authn_service *authn;       /* NULL: no cache to invalidate (init) */
	struct store *st;
	struct audit *audit;
	const struct pv_config *cfg;
};

/* Roles, groups or memberships changed: cached role sets re-resolve. */
void directory_changed(struct directory *s);

/* The API representation of u (with its roles and groups). */
json_t *directory_user_json(struct store_tx *tx, const struct store_user *u);

/* Route tables (one registration function per file). */
enum pv_rc directory_route_users(struct directory *d, struct http_server *srv);
enum pv_rc directory_route_groups(struct directory *d, struct http_server *srv);
enum pv_rc directory_route_apps(struct directory *d, struct http_server *srv);

#endif /* PV_DIRECTORY_INT_H */
