/*
 * sinks: the audit trail streamed to SIEM receivers after commit (DESIGN.md
 * "Audit chain", issue 13 item 1; docs/internals/sinks.md).
 *
 * One sender thread per configured sink ([sinks] syslog, cef, ocsf_file,
 * webhook). Each sink has a persisted cursor (store_sinks.h: the last seq
 * its receiver accepted). The sender reads committed entries after its
 * cursor from the audit table, sends them in seq order, and moves the cursor
 * only after the receiver accepted them (TCP/TLS: every byte written and
 * acknowledged by the peer's TCP; file: written and fdatasync'd; webhook: a
 * 2xx answer). A post-commit subscriber (commit_subscribe) only wakes the
 * senders, and only one that waits for the head the commit reached (the
 * next entry when idle, a full batch when lingering, never in back-off): no
 * I/O ever happens on the committer thread or on a request's path, so a
 * dead or hung receiver never slows or fails a request; it only makes its
 * own sink lag, and the sink catches up from its cursor later.
 *
 * States of a sender: IDLE (caught up, waiting for a wake-up or 1 s) ->
 * SENDING (a batch of at most SINKS_BATCH entries) -> IDLE, or -> BACKOFF
 * (the batch failed: last_error set, the connection dropped, a pause of
 * 250 ms doubling up to [sinks] retry_max_ms) -> SENDING again from the
 * cursor. sinks_stop: DRAINING (at most SINKS_DRAIN_MS more to reach the
 * head, unless the sink is failing) -> STOPPED (thread joined).
 */
#ifndef PV_SINKS_H
#define PV_SINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "config/config.h"
#include "http/http.h"
#include "store/store.h"
#include "util/util.h"

#define SINKS_MAX 4
#define SINKS_BATCH 256
#define SINKS_DRAIN_MS 2000
#define SINKS_BACKOFF_MIN_MS 250
#define SINKS_RESEND_RING 64      /* after a reset: the last batches sent again */
/* A sender that sent less than SINKS_BATCH ago waits up to SINKS_LINGER_MS
 * for more entries before the next send, so a busy server's entries go in
 * batches, not one fsync or one round trip per commit group. */
#define SINKS_LINGER_MS 100
/* A delivered cursor is committed at most this often (and at once after a
 * failure, on recovery and at stop): a crash in between sends the entries
 * of at most this long again (at-least-once across a crash). */
#define SINKS_CURSOR_EVERY_MS 1000

struct sinks;

struct sinks_deps {
	struct store *st;
	struct audit *audit;          /* head, the commit queue, cursor commits */
	const struct pv_config *cfg;  /* [sinks]; copied */
	const char *host;             /* RFC 5424 HOSTNAME (the node name) */
};

/* Start a sender per configured sink and subscribe to the commit queue.
 * With no sink configured: PV_OK and *out an empty set (no thread). */
enum pv_rc sinks_start(const struct sinks_deps *d, struct sinks **out);
/* Drain (bounded), persist the cursors, join the threads. NULL is fine;
 * idempotent. Before audit_stop: the cursors commit through the audit queue. */
void sinks_stop(struct sinks *s);
/* sinks_stop, then free. After audit_stop: the commit queue calls the set's
 * subscriber (which only wakes senders) until it has stopped. On a failed
 * sinks_start that left *out set, call this too. */
void sinks_free(struct sinks *s);

struct sinks_status {
	char name[16];                /* syslog | cef | ocsf_file | webhook */
	char kind[16];                /* the same: one sink of each kind */
	int64_t cursor_seq;
	int64_t lag;                  /* head seq - cursor_seq */
	char last_error[STORE_SINK_ERROR_MAX];   /* "" if the last attempt succeeded */
	int64_t delivered;
};
/* The sinks' state now; returns how many (at most max). */
size_t sinks_status(struct sinks *s, struct sinks_status *out, size_t max);

/* GET /v1/sys/sinks (audit.read): [{"name","kind","cursor_seq","lag",
 * "last_error","delivered"}]. s may be an empty set (or NULL: []). */
enum pv_rc sinks_routes(struct sinks *s, struct http_server *http);

#endif /* PV_SINKS_H */
