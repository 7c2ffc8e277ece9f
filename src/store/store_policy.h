/*
 * store/store_policy.h: access policies (table policies, migration 10).
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_POLICY_H
#define PV_STORE_POLICY_H

#include "store/store_core.h"

/* ---- policies (authz: ABAC and conditional access) ---- */
/* policies:begin (added by the policies work) */
/*
 * One row per policy, keyed by name. actions, resources and condition are
 * JSON texts that authz checked (authz_policy_check) before storing; the
 * store only keeps them. version starts at 1 and grows by one per update.
 */
#define STORE_POLICY_NAME_MAX 64
struct store_policy {
	char name[STORE_POLICY_NAME_MAX];
	bool deny;                       /* effect deny (else allow) */
	char *actions;                   /* malloc'd JSON array */
	char *resources;                 /* malloc'd JSON array */
	char *condition;                 /* malloc'd JSON object ("{}": always) */
	char created_by[UTIL_ID_MAX];
	int64_t created_ms;
	char updated_by[UTIL_ID_MAX];
	int64_t updated_ms;
	int64_t version;
};
void store_policy_clear(struct store_policy *p);
/* PV_E_CONFLICT if the name is taken. */
enum pv_rc store_policy_put(struct store_tx *tx, const struct store_policy *p);
enum pv_rc store_policy_get(struct store_tx *tx, const char *name, struct store_policy *out);
/* Rewrite effect, actions, resources, condition, updated_* and version of
 * p->name if its stored version is p->version - 1; PV_E_NOTFOUND if there
 * is no such policy or it changed meanwhile (the caller re-reads). */
enum pv_rc store_policy_update(struct store_tx *tx, const struct store_policy *p);
/* PV_E_NOTFOUND if there is no such policy. */
enum pv_rc store_policy_delete(struct store_tx *tx, const char *name);
typedef int (*store_policy_cb)(const struct store_policy *p, void *arg);   /* non-zero stops */
/* In name order. */
enum pv_rc store_policy_list(struct store_tx *tx, store_policy_cb cb, void *arg);
/* A session passed MFA again (step-up): mfa_verified = 1 and its MFA time
 * raised to mfa_at_ms; PV_E_NOTFOUND if no such open session. */
enum pv_rc store_session_set_mfa(struct store_tx *tx, const char *id, int64_t mfa_at_ms);
/* policies:end */

#endif /* PV_STORE_POLICY_H */
