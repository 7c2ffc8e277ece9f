/*
 * store: the only module that talks to a database. Operations are in domain
 * terms; callers never see SQL. Each store_* function checks its arguments
 * and dispatches through the backend's per-domain ops table (store_int.h):
 * SQLite today (DIR/phivault.db), PostgreSQL next. Fault injection (test
 * builds) is in the backend's statement runners.
 *
 * Connections and threads:
 *  - Connections come from a bounded pool (store_pool_set): a thread holds
 *    one for one op, or for a transaction until commit/rollback; all busy:
 *    a bounded wait, then PV_E_UNAVAILABLE.
 *  - Exactly one thread writes: the audit writer (audit.h). It wraps groups
 *    of jobs in store_tx_begin/commit, each job in a savepoint. Other threads
 *    only read (WAL readers never block the writer).
 *  - Functions returning data copy it out (malloc'd, freed by the matching
 *    *_clear/free function); no pointer into a backend buffer escapes.
 *
 * The interface is split by domain, one header each, all included here (a
 * caller may include just the one it needs):
 *   store_core.h      handle, open/close, transactions, meta, fault injection
 *   store_identity.h  users, roles, groups, sessions, recovery, lockout, MFA
 *   store_vault.h     collections, records, record cursor scan, bidx, tokens
 *   store_keys.h      key-encryption keys
 *   store_audit.h     audit trail and checkpoints
 *   store_jobs.h      background jobs
 *   store_policy.h    access policies
 * No header here names a backend type (the SQLite header is included only by
 * store_sqlite.h, which only src/store/ and tests/unit/store/ include).
 *
 * Errors: PV_E_NOTFOUND (no such row), PV_E_CONFLICT (unique key taken),
 * PV_E_IO (database error, including injected faults), PV_E_NOMEM.
 */
#ifndef PV_STORE_H
#define PV_STORE_H

#include "store/store_core.h"
#include "store/store_identity.h"
#include "store/store_vault.h"
#include "store/store_keys.h"
#include "store/store_audit.h"
#include "store/store_jobs.h"
#include "store/store_policy.h"

#endif /* PV_STORE_H */
