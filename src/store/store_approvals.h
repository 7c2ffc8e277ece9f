/*
 * store/store_approvals.h: dual control (table approvals; src/authz/approvals.c,
 * docs/internals/authz.md "Dual control"). A change that would give
 * someone PHI access is stored here as a request, `pending`, and takes
 * effect only when a different principal holding access.approve approves
 * it. Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 *
 * States: pending --approve--> approved (the change applied in the same
 * transaction) | pending --deny--> denied | pending --expire--> expired.
 * Only a pending row changes state (store_approval_decide); rows are never
 * deleted, so the trail always names the request. Nothing here is a secret
 * or PHI: `change` holds role, group, user ID and permission names only.
 */
#ifndef PV_STORE_APPROVALS_H
#define PV_STORE_APPROVALS_H

#include "store/store_core.h"

#define STORE_APPROVAL_KIND_MAX 32
#define STORE_APPROVAL_STATUS_MAX 16
#define STORE_APPROVAL_TARGET_MAX 160

struct store_approval {
	char id[UTIL_ID_MAX];                      /* apr_... */
	char kind[STORE_APPROVAL_KIND_MAX];        /* user.roles, group.create, role.create */
	char status[STORE_APPROVAL_STATUS_MAX];    /* pending|approved|denied|expired */
	char requested_by[UTIL_ID_MAX];            /* the requester (usr_ or app_) */
	char target[STORE_APPROVAL_TARGET_MAX];    /* users/<id>, groups/<n>, roles/<n> */
	char *change;                              /* malloc'd JSON object: what to apply */
	int64_t created_ms;
	int64_t expires_ms;
	char decided_by[UTIL_ID_MAX];              /* "" while pending, "system" on expiry */
	int64_t decided_ms;                        /* 0 while pending */
	char *note;                                /* malloc'd; "" when none */
};
void store_approval_clear(struct store_approval *a);
/* PV_E_CONFLICT if the ID exists. */
enum pv_rc store_approval_put(struct store_tx *tx, const struct store_approval *a);
enum pv_rc store_approval_get(struct store_tx *tx, const char *id, struct store_approval *out);
typedef int (*store_approval_cb)(const struct store_approval *a, void *arg);   /* non-zero stops */
/* Newest first; status NULL: every state. */
enum pv_rc store_approval_list(struct store_tx *tx, const char *status, store_approval_cb cb,
    void *arg);
/* Move a pending request to status (approved|denied|expired) with who and
 * when; PV_E_NOTFOUND if there is no pending request of that ID. */
enum pv_rc store_approval_decide(struct store_tx *tx, const char *id, const char *status,
    const char *decided_by, int64_t decided_ms, const char *note);
/* Is there an approved request of kind for target? (An approved group
 * mapping covers its members.) */
enum pv_rc store_approval_applied(struct store_tx *tx, const char *kind, const char *target,
    bool *found);

#endif /* PV_STORE_APPROVALS_H */
