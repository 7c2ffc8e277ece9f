/*
 * store: the only module that talks to a database. Operations are in domain
 * terms; callers never see SQL. Each store_* function checks its arguments
 * and dispatches through the backend's per-domain ops table (store_int.h):
 * SQLite today (DIR/phivault.db), PostgreSQL next. Fault injection (test
 * builds) is in the backend's statement runners.
 *
 * Transactions and threads:
 *  - Every data op takes a struct store_tx * (store_core.h): store_begin
 *    (STORE_RD snapshot | STORE_WR) takes a connection from a bounded pool
 *    (store_pool_set; all busy: a bounded wait, then PV_E_UNAVAILABLE),
 *    store_commit makes a WR durable, store_end gives the connection back.
 *    A transaction belongs to no thread.
 *  - The server's writes go through the commit queue (commit.h): one
 *    STORE_WR per group, each transaction of it in a savepoint. Other
 *    threads read in STORE_RD transactions (WAL readers never block the
 *    writer).
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
 *   store_sinks.h     delivery cursors of the SIEM sinks
 *   store_detect.h    alerts and the detector's state
 *   store_policy.h    access policies
 *   store_apps.h      workload identities (apps), their secrets and sessions
 *   store_subjects.h  subjects (patients), their keys, links, tombstones
 *   store_secrets.h   application secrets (/v1/secrets) and their versions
 *   store_approvals.h dual control: pending changes that would grant PHI access
 *   store_webauthn.h  WebAuthn passkeys, user handles, pending challenges
 *   store_elevations.h JIT elevation: eligible roles and elevation requests
 *   store_breakglass.h break-glass grants and their reviews
 *   store_exports.h   de-identified exports and their encrypted chunks
 *   store_campaigns.h access review campaigns and their items
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
#include "store/store_sinks.h"
#include "store/store_detect.h"
#include "store/store_policy.h"
#include "store/store_apps.h"
#include "store/store_backup.h"
#include "store/store_subjects.h"
#include "store/store_secrets.h"
#include "store/store_approvals.h"
#include "store/store_webauthn.h"
#include "store/store_elevations.h"
#include "store/store_breakglass.h"
#include "store/store_campaigns.h"
#include "store/store_cluster.h"
#include "store/store_oidc.h"
#include "store/store_exports.h"

#endif /* PV_STORE_H */
