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

struct directory_campaigns;

struct directory {
	struct authn_service *authn;       /* NULL: no cache to invalidate (init) */
	struct store *st;
	struct audit *audit;
	const struct pv_config *cfg;
	struct authz_service *authz;       /* NULL: PHI-granting changes refused */
	struct keys *keys;                 /* NULL: officers cannot be changed */
	struct directory_campaigns *campaigns;   /* the due-date sweeper (campaigns.c) */
};

/* apps.c: disable app id in tx (disabled, credential epoch bumped, every
 * session ended: *ended); idempotent. The commit is the caller's. */
enum pv_rc directory_app_disable_in(struct store_tx *tx, const char *id, int64_t now_ms,
    size_t *ended);
enum pv_rc directory_route_campaigns(struct directory *d, struct http_server *srv);

/* ---- dual control (users.c, groups.c) ---- */

/* What a set of roles and groups would grant: which of them grant PHI
 * access without an approval (a role with records.* / tokens.detokenize; a
 * group carrying one that is not an approved mapping), and whether one
 * carries access.approve (reserved for the seal's authority). */
struct directory_gate {
	bool role_phi[AUTHN_ROLES_MAX];
	bool group_phi[AUTHN_ROLES_MAX];
	bool phi;                          /* some entry above */
	bool officer;                      /* a role or group with access.approve */
};
/* Classify roles and groups (each must exist: checked before). */
/* The OIDC group gate (authn_oidc_group_gate_fn; dualctl.c). */
enum pv_rc directory_oidc_group_gate(void *arg, struct store_tx *tx, const char *group,
    bool *allowed);
enum pv_rc directory_gate_check(struct directory *s, const char *const *roles, size_t nroles,
    const char *const *groups, size_t ngroups, struct directory_gate *g);
/* Record the refusal of a change naming security_officer / access.approve
 * (action on resource, reason officer_reserved) and answer it. */
enum pv_rc directory_officer_refused(struct directory *s, const struct pv_actor *actor,
    const char *action, const char *resource, struct directory_result *res);

/* officers.c: create the user with the given roles, bypassing the gate
 * (the seal's authority was checked by the caller). */
enum pv_rc directory_user_create_unchecked(struct directory *s, const struct pv_actor *actor,
    const struct directory_user_spec *sp, const char *detail_extra,
    struct directory_result *res);
enum pv_rc directory_route_officers(struct directory *d, struct http_server *srv);

/* Roles, groups or memberships changed: cached role sets re-resolve. */
void directory_changed(struct directory *s);

/* The API representation of u (with its roles and groups). */
json_t *directory_user_json(struct store_tx *tx, const struct store_user *u);

/* Route tables (one registration function per file). */
enum pv_rc directory_route_users(struct directory *d, struct http_server *srv);
enum pv_rc directory_route_groups(struct directory *d, struct http_server *srv);
enum pv_rc directory_route_apps(struct directory *d, struct http_server *srv);

/* ---- shared by the operations (service.c) ---- */

/* Does role (built-in or custom) grant a permission an app can never hold
 * (authz_app_forbidden)? Its name in perm ("" if none); *exists false if
 * there is no such role (apps.c). */
enum pv_rc directory_role_app_forbidden(struct directory *s, const char *role, char *perm,
    size_t len, bool *exists);

/* msg into res->message; returns rc. */
enum pv_rc directory_fail(struct directory_result *res, enum pv_rc rc, const char *msg);
/* An allowed audit event by actor: action on resource, the rest zero. */
void directory_event_init(struct audit_event *ev, const struct pv_actor *actor,
    const char *action, const char *resource);

/* A listing: a JSON array filled inside one read transaction.
 * directory_list_begin makes both; directory_list_add appends one item
 * (NULL: it could not be made; the listing fails, a store callback's 1 stops
 * it); directory_list_end ends the transaction and puts the array in *out
 * when rc is PV_OK and every item was made (else PV_E_INTERNAL or rc, and
 * the array is released). */
struct directory_list {
	struct store_tx *tx;
	json_t *arr;
	bool failed;
};
enum pv_rc directory_list_begin(struct directory *d, struct directory_list *l);
int directory_list_add(struct directory_list *l, json_t *o);
enum pv_rc directory_list_end(struct directory_list *l, enum pv_rc rc, json_t **out);

#endif /* PV_DIRECTORY_INT_H */
