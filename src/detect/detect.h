/*
 * detect: threat detection over the committed audit trail, and alerts
 * (DESIGN.md modules table; docs/internals/detect.md; docs/monitoring.md
 * "Detection and alerts").
 *
 * A post-commit subscriber of the commit queue copies each committed entry
 * into a bounded queue (no other work, no I/O on the committer thread) and
 * wakes the detector thread, which feeds the entries in seq order to the
 * rules. If the queue is full, or an entry does not fit a slot, the
 * subscriber drops it and the detector reads what it missed from the audit
 * table, from the seq it has processed up to: nothing is lost. That seq
 * (the position) and the per-user baselines are persisted in detect_state
 * (at most a second behind, and at stop), so a restart resumes where the
 * detector was; alerts still open are reloaded, so a repeat after a restart
 * counts on the open alert instead of raising a new one.
 *
 * A rule hit for (rule, actor, source) with no open alert raises one: an
 * alerts row and its own audit entry (alert.raised), in one transaction at
 * background priority; a hit while one is open adds to its count and
 * last_seen. The detector never writes on the committer thread and never
 * waits for its writes.
 *
 * States: STOPPED -> RUNNING (detect_start: subscribed, thread started) ->
 * STOPPING (detect_stop: the subscriber ignores new entries, the thread
 * processes what it has, submits its last state and exits) -> detect_free
 * (after the commit queue stopped: the subscriber is never called again).
 */
#ifndef PV_DETECT_H
#define PV_DETECT_H

#include <stdbool.h>

#include <jansson.h>

#include "audit/audit.h"
#include "config/config.h"
#include "http/http.h"
#include "store/store.h"

/* Rule names (alert "rule"; stable: API, config and docs use them). */
#define DETECT_RULE_BRUTE_FORCE "brute_force"
#define DETECT_RULE_PASSWORD_SPRAY "password_spray"
#define DETECT_RULE_NEW_NETWORK "new_network"
#define DETECT_RULE_UNUSUAL_HOUR "unusual_hour"
#define DETECT_RULE_MFA_FAILURES "mfa_failures"
#define DETECT_RULE_BULK_READ "bulk_read"
#define DETECT_RULE_ENUMERATION "enumeration"
#define DETECT_RULE_CHANGE_THEN_READ "change_then_read"
#define DETECT_RULE_AUDIT_VERIFY_FAILURE "audit_verify_failure"
#define DETECT_RULE_DECRYPT_FAILURES "decrypt_failures"
#define DETECT_RULE_SINK_LAG "sink_lag"
#define DETECT_RULE_DRILL_OVERDUE "drill_overdue"
#define DETECT_RULE_SECRET_ROTATION_OVERDUE "secret_rotation_overdue"
#define DETECT_RULE_KEY_COMPROMISED_USE "key_compromised_use"
#define DETECT_RULE_BREAK_GLASS_USE "break_glass_use"
#define DETECT_RULE_REVIEW_OVERDUE "review_overdue"
#define DETECT_RULE_BREAKGLASS_INAPPROPRIATE "breakglass_inappropriate"
#define DETECT_RULE_ACCESS_REVIEW_OVERDUE "access_review_overdue"
#define DETECT_RULE_TLS_CERT_EXPIRY "tls_cert_expiry"
/* true for one of the names above */
bool detect_rule_known(const char *rule);
bool detect_is_user_id(const char *id);

struct detect;

/* Subscribe to a's commit queue and start the detector ([detect] enabled =
 * off: no subscriber, no thread; the alert routes still answer). Call it
 * before the server submits its own entries. */
struct sinks;
/* sinks (may be NULL): the SIEM sinks whose lag the detector checks
 * ([detect] sink_lag_*); they must outlive detect_stop. */
enum pv_rc detect_start(struct store *st, struct audit *a, struct sinks *sinks,
    const struct pv_config *cfg, struct detect **out);
/* Stop the thread after it has processed what it holds and submitted its
 * state; call while the commit queue still runs (before audit_stop). */
void detect_stop(struct detect *d);
/* Free; after audit_stop. NULL is fine. */
void detect_free(struct detect *d);

/* Wait (at most timeout_ms) until every entry committed before the call
 * has been processed and the detector's writes are durable. */
void detect_settle(struct detect *d, int timeout_ms);

/* ---- operations (alerts.c) ---- */
/* open -> acknowledged with note (<= STORE_ALERT_NOTE_MAX bytes, UTF-8, no
 * control characters), by actor; audited alert.ack. PV_E_NOTFOUND,
 * PV_E_CONFLICT (already acknowledged), PV_E_INVALID, PV_E_AUDIT. */
enum pv_rc detect_alert_ack(struct detect *d, const struct pv_actor *actor, const char *id,
    const char *note);
/* The same without a waiting thread: PV_PENDING, then done(rc, the alert as
 * acknowledged (the caller's) or NULL, arg) exactly once, on the committer
 * thread, after the group's fsync; any other return: done never runs. id
 * and note must stay valid until done. */
typedef void (*detect_ack_done_fn)(enum pv_rc rc, json_t *alert, void *arg);
enum pv_rc detect_alert_ack_submit(struct detect *d, const struct pv_actor *actor,
    const char *id, const char *note, detect_ack_done_fn done, void *arg);

/* The alerts of a filter, as the query gave it (NULL: not given): status
 * "open" | "acknowledged", a rule name, limit "1".."1000" (default 100).
 * Waits for the detector to settle (at most 2 s), records alert.read
 * (reason "list", detail the filter), then lists, newest last_seen first;
 * *out is a JSON array, the caller's. PV_E_INVALID (msg says which
 * parameter), PV_E_AUDIT (not recorded: nothing answered). */
struct detect_alert_query {
	const char *status;
	const char *rule;
	const char *limit;
};
enum pv_rc detect_alert_list(struct detect *d, const struct pv_actor *actor,
    const struct detect_alert_query *q, json_t **out, char *msg, size_t msglen);
/* One alert as the API shows it (not audited; the answer of an ack). */
enum pv_rc detect_alert_get(struct detect *d, const struct pv_actor *actor, const char *id,
    json_t **out);

/* GET /v1/alerts, POST /v1/alerts/{id}/ack (permission alerts.read;
 * routes.c, adapters over the operations above). */
enum pv_rc detect_routes(struct detect *d, struct http_server *srv);

#endif /* PV_DETECT_H */
