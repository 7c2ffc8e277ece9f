/*
 * scim: a SCIM 2.0 service provider (RFC 7643 schema, RFC 7644 protocol) at
 * /scim/v2/, so that an HR system or an identity provider (Entra ID, Okta)
 * provisions phivault's users and groups: joiner, mover, leaver.
 *
 * It is an adapter over the directory's operations, like the REST routes:
 * every change is a directory_user_* / directory_group_create call with
 * the provisioning app as the actor, so every check of the directory
 * (separation of duties, and dual control on PHI-granting memberships)
 * applies, and every change is audited by the directory with its own
 * action (user.create, user.update, user.disable, user.enable,
 * group.create) and the app as actor. SCIM adds no check and no store
 * call of its own. Each write request is one transaction (a directory
 * change set): all of it commits, or nothing does.
 *
 * The module sits above directory and authn in the layer order (CMake
 * PV_MODULES) and below cli. The routes require the permission
 * scim.provision (authz), which an app holds through a role; the
 * discovery endpoints (ServiceProviderConfig, Schemas, ResourceTypes)
 * require it too.
 *
 * Invariants:
 *  - phivault never deletes a user or a group: DELETE /Users/{id} disables
 *    the user (the leaver: every session ends at once), DELETE /Groups/{id}
 *    empties the group;
 *  - SCIM never sets roles: a group's roles are managed in phivault;
 *  - no error detail echoes a value from the request (a typed username,
 *    an e-mail address, a filter value).
 */
#ifndef PV_SCIM_H
#define PV_SCIM_H

#include "util/util.h"

struct directory;
struct http_server;
struct pv_config;

struct scim;

struct scim_config {
	struct directory *directory;
	const struct pv_config *cfg;   /* [server] public_url; must outlive the service */
};

enum pv_rc scim_new(const struct scim_config *c, struct scim **out);
void scim_free(struct scim *s);
/* /scim/v2/Users, /Groups, /ServiceProviderConfig, /Schemas, /ResourceTypes. */
enum pv_rc scim_routes(struct scim *s, struct http_server *srv);

#endif /* PV_SCIM_H */
