/*
 * authz_int.h: declarations shared by the files of src/authz/ (the
 * identity wiring) and their tests. Not API.
 */
#ifndef PV_AUTHZ_INT_H
#define PV_AUTHZ_INT_H

#include <pthread.h>
#include <stdint.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "authz/authz.h"
#include "http/http.h"
#include "store/store.h"

/* Resolved permission sets, keyed by the sorted role list. */
#define AUTHZ_CACHE_SLOTS 64
#define AUTHZ_ROLEKEY_MAX (AUTHN_ROLES_MAX * AUTHN_ROLE_NAME_MAX)

struct authz_cache_slot {
	char key[AUTHZ_ROLEKEY_MAX];     /* role names joined by ',' ; "" = free */
	uint64_t gen;                    /* authn generation it was resolved under */
	uint64_t used;                   /* LRU tick */
	struct authz_permset *set;       /* malloc'd */
	struct authz_policy *pol;        /* malloc'd, compiled with set */
};

struct authz_service {
	struct authn_service *authn;
	struct store *st;
	struct audit *audit;
	struct keys *keys;
	pthread_mutex_t mu;
	uint64_t tick;
	_Atomic uint64_t role_reads;     /* custom roles read from the store */
	struct authz_cache_slot slots[AUTHZ_CACHE_SLOTS];
};

/* Record a denial decided by authz_decide (decide.c). */
enum pv_rc authz_audit_denial(struct audit *audit, const struct authz_request *r,
    const struct authz_decision *d);

/* Audit event with the principal as actor. */
void authz_ev_init(struct audit_event *ev, const struct authn_principal *p, const char *source,
    const char *action, const char *resource);
/* The audit entry of a route-level denial (service.c); *detail malloc'd. */
void authz_denial_event(struct http_request *req, const char *reason, enum pv_rc rc,
    struct audit_event *ev, char **detail);
enum pv_rc authz_route_roles(struct authz_service *z, struct http_server *srv);
enum pv_rc authz_route_audit(struct authz_service *z, struct http_server *srv);
enum pv_rc authz_route_explain(struct authz_service *z, struct http_server *srv);

#endif /* PV_AUTHZ_INT_H */
