/*
 * store/store_cluster.h: what several nodes on one database share beyond the
 * data (table access_epoch and its migration; docs/scaling.md). The access
 * epoch is one counter that every access-affecting write bumps in its own
 * transaction on a shared store (store_shared: PostgreSQL): a user's update
 * (disable, password, MFA), role and group memberships, roles, groups,
 * session ends, policies, KEK state changes, apps and their secrets and
 * sessions (the wrappers in store.c). A node that sees the epoch move drops
 * what it cached of sessions and roles before it decides the request
 * (authn_authenticate), so a change made through node A is in force on
 * node B's next request. Part of the store interface (store.h includes it).
 */
#ifndef PV_STORE_CLUSTER_H
#define PV_STORE_CLUSTER_H

#include "store/store_core.h"

/* The current access epoch (0 on a new vault). */
enum pv_rc store_epoch_get(struct store_tx *tx, int64_t *epoch);
/* epoch + 1, in tx (a write op). */
enum pv_rc store_epoch_bump(struct store_tx *tx);

/*
 * The epoch a request checks, without a database read when it can:
 * PostgreSQL nodes run a listener (store_epoch_listen: LISTEN
 * phivault_epoch on a connection of its own; every bump NOTIFYs in its
 * transaction) and answer from memory while it is up and confirmed within
 * 3 s; otherwise, and on a backend without a listener, the row is read (a
 * STORE_RD of its own). Correctness does not depend on the notifications.
 */
enum pv_rc store_epoch_current(struct store *st, int64_t *epoch);
/* Start the listener (serve calls it once; PV_OK and nothing on SQLite).
 * store_close stops it. */
enum pv_rc store_epoch_listen(struct store *st);

#endif /* PV_STORE_CLUSTER_H */
