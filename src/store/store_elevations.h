/*
 * store/store_elevations.h: just-in-time elevation (tables elevations and
 * user_eligible_roles; src/authz/elevations.c, docs/internals/authz.md
 * "JIT elevation"). A user may be eligible for roles; an elevation is a
 * request by that user to hold one of them for a while, which another
 * principal holding access.approve approves. Part of the store interface
 * (store.h includes every store_*.h); the backend's table for this domain
 * is in store_int.h.
 *
 * States: pending --approve--> active (starts_ms = approval, expires_ms =
 * starts_ms + duration) --revoke--> revoked | --expire--> expired;
 * pending --deny--> denied | --expire--> expired (the request's own
 * deadline, request_expires_ms). Only the expected state changes
 * (store_elevation_approve / _end: PV_E_NOTFOUND otherwise), so two
 * deciders cannot both win. Rows are never deleted. Every state change is
 * access-affecting (the access epoch moves on a shared store). Nothing here
 * is a secret or PHI: justification and ticket are the requester's own
 * words about why, shown to approvers and auditors.
 */
#ifndef PV_STORE_ELEVATIONS_H
#define PV_STORE_ELEVATIONS_H

#include "store/store_core.h"
#include "store/store_identity.h"

#define STORE_ELEVATION_STATUS_MAX 16
#define STORE_ELEVATION_ROLE_MAX 64
#define STORE_ELEVATION_TICKET_MAX 129

struct store_elevation {
	char id[UTIL_ID_MAX];                         /* elv_... */
	char user_id[UTIL_ID_MAX];                    /* the requester */
	char role[STORE_ELEVATION_ROLE_MAX];
	char status[STORE_ELEVATION_STATUS_MAX];      /* pending|active|denied|revoked|expired */
	char *justification;                          /* malloc'd */
	char ticket[STORE_ELEVATION_TICKET_MAX];
	int64_t duration_s;
	int64_t created_ms;
	int64_t request_expires_ms;                   /* a pending request expires then */
	char approved_by[UTIL_ID_MAX];                /* "" until approved */
	int64_t starts_ms;                            /* approval time, 0 while pending */
	int64_t expires_ms;                           /* 0 while pending */
	char ended_by[UTIL_ID_MAX];                   /* denier, revoker, "system"; "" */
	int64_t ended_ms;                             /* 0 while pending or active */
};
void store_elevation_clear(struct store_elevation *e);
/* PV_E_CONFLICT if the ID exists. */
enum pv_rc store_elevation_put(struct store_tx *tx, const struct store_elevation *e);
enum pv_rc store_elevation_get(struct store_tx *tx, const char *id, struct store_elevation *out);
typedef int (*store_elevation_cb)(const struct store_elevation *e, void *arg);  /* non-zero stops */
/* Newest first; user_id NULL: every user; status NULL: every state. */
enum pv_rc store_elevation_list(struct store_tx *tx, const char *user_id, const char *status,
    store_elevation_cb cb, void *arg);
/* pending -> active: approved_by, starts_ms, expires_ms. PV_E_NOTFOUND if
 * there is no pending elevation of that ID. */
enum pv_rc store_elevation_approve(struct store_tx *tx, const char *id, const char *by,
    int64_t starts_ms, int64_t expires_ms);
/* from (pending | active) -> to (denied | revoked | expired) with who and
 * when; PV_E_NOTFOUND if the elevation is not in state from. */
enum pv_rc store_elevation_end(struct store_tx *tx, const char *id, const char *from,
    const char *to, const char *by, int64_t at_ms);
/* The roles a user is eligible for: replace the set (distinct names), read
 * it (by name). */
enum pv_rc store_eligible_set(struct store_tx *tx, const char *user_id,
    const char *const *roles, size_t n);
enum pv_rc store_eligible_get(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg);

#endif /* PV_STORE_ELEVATIONS_H */
