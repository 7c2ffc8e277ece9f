/*
 * commit: the commit queue (DESIGN.md "Three seams", 3. Commits).
 *
 * Every database write of the server is a transaction submitted here: a data
 * change (fn, run inside the store transaction) plus what participants add to
 * it (the audit chain appends the transaction's entry). One committer thread
 * takes the waiting transactions in groups and runs each group as ONE store
 * transaction and so one fsync:
 *
 *   participant.group_begin
 *   BEGIN IMMEDIATE
 *     per tx: SAVEPOINT; fn; ROLLBACK TO (fn failed) | RELEASE (fn ok);
 *             participant.tx_append (its entry; told fn's rc)
 *   COMMIT                                  (synchronous=FULL: the fsync)
 *   participant.group_end(committed)
 *   subscribers(committed rows, commit order)
 *   per tx: done(rc)                        (exactly once, committer thread)
 *
 * A tx whose fn fails has its own changes rolled back and gets fn's rc; its
 * entry is still appended (the participant records the failure). If anything
 * else fails (BEGIN, SAVEPOINT, RELEASE, an append, COMMIT, group_begin) the
 * whole group is rolled back and every tx of it gets PV_E_AUDIT: fail closed,
 * no completion says "done" for a change that is not durable, and nothing of
 * the group is visible. The next group proceeds normally.
 *
 * Priorities: COMMIT_REQUEST transactions go first; COMMIT_BACKGROUND ones
 * (jobs) fill a group only after the waiting requests, and at most
 * max_background of them per group (default max_group / 4, at least 1). When
 * background work waits and max_group > 1, one slot of every group is kept
 * for it, so it is slowed by requests but never starved.
 *
 * States: RUNNING -> DRAINING (commit_drain: new submissions get
 * PV_E_UNAVAILABLE, the waiting ones still commit) -> STOPPED (thread joined).
 *
 * Threads: done callbacks and subscribers run on the committer thread; they
 * must not block for long (they hold up the next group) and must not call
 * commit_run (PV_E_INTERNAL rather than a deadlock). commit_submit from there
 * is fine.
 */
#ifndef PV_COMMIT_H
#define PV_COMMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"
#include "util/util.h"

struct commit_queue;

enum commit_prio { COMMIT_REQUEST = 0, COMMIT_BACKGROUND = 1 };

/* A data change, run on the committer thread inside the group's transaction
 * (a STORE_WR store_tx, in a savepoint of its own): every store op it makes
 * takes tx. It must not commit or end tx. */
typedef enum pv_rc (*commit_fn)(struct store_tx *tx, void *arg);
/* Completion: rc is fn's rc, or PV_E_AUDIT if the group did not commit. */
typedef void (*commit_done_fn)(enum pv_rc rc, void *arg);
/* After each committed group: the entries its participants appended, in order. */
typedef void (*commit_subscriber_fn)(const struct store_audit_row *const *rows, size_t n,
    void *arg);

/*
 * The one participant (the audit chain). Every hook may be NULL.
 *  - group_begin: before BEGIN; a failure fails the group.
 *  - tx_append: after the tx's fn, inside the transaction, with its payload
 *    (commit_tx.part) and fn's rc; appends the tx's entries and returns them
 *    in (*rows)[0..*nrows) (0: none; a transaction may carry several, e.g. a
 *    user and the approval request naming it; they must stay valid until
 *    the tx's done has run).
 *  - group_end: after COMMIT (committed) or after the rollback.
 *  - tick: on the committer thread after every group and at least once a
 *    second when idle; final at shutdown (checkpoints).
 */
struct commit_participant {
	enum pv_rc (*group_begin)(void *arg);
	enum pv_rc (*tx_append)(void *arg, struct store_tx *tx, void *part, enum pv_rc fn_rc,
	    const struct store_audit_row *const **rows, size_t *nrows);
	void (*group_end)(void *arg, bool committed);
	void (*tick)(void *arg, bool final);
	void *arg;
};

struct commit_config {
	int max_group;          /* transactions per group; 0 = 256 */
	int max_background;     /* background transactions per group; 0 = max_group / 4 (>= 1) */
};

struct commit_tx {
	commit_fn fn;           /* may be NULL */
	void *fn_arg;
	void *part;             /* the participant's payload, may be NULL */
	enum commit_prio prio;
	commit_done_fn done;    /* required for commit_submit */
	void *done_arg;
};

enum pv_rc commit_start(struct store *st, const struct commit_config *cfg,
    const struct commit_participant *part, struct commit_queue **out);
/* Refuse new submissions, commit what waits, run the final tick, join. Idempotent. */
void commit_drain(struct commit_queue *q);
/* commit_drain, then free. No commit_submit may run concurrently (it
 * signals the committer after releasing the queue's mutex). */
void commit_stop(struct commit_queue *q);

/* Queue tx (copied). PV_OK: tx->done will be called exactly once.
 * Otherwise (PV_E_UNAVAILABLE after drain, PV_E_NOMEM) done is never called. */
enum pv_rc commit_submit(struct commit_queue *q, const struct commit_tx *tx);
/* Submit and wait (the synchronous form; tx->done is ignored). Returns the
 * tx's rc. PV_E_INTERNAL from the committer thread itself. */
enum pv_rc commit_run(struct commit_queue *q, const struct commit_tx *tx);

/* Call fn after every committed group with its rows in commit order (across
 * groups too). Before commit_start's callers submit; at most 8. */
enum pv_rc commit_subscribe(struct commit_queue *q, commit_subscriber_fn fn, void *arg);

/* True on the committer thread. */
bool commit_on_committer(struct commit_queue *q);

/*
 * Counters since commit_start: groups committed or rolled back, the
 * transactions in them (txs / groups is the mean group size, i.e. how many
 * acknowledgements share one fsync), and how many submissions had to wake
 * an idle committer (a busy one finds new work without a signal).
 */
struct commit_stats {
	uint64_t groups;
	uint64_t txs;
	uint64_t wakeups;
};
void commit_stats_get(struct commit_queue *q, struct commit_stats *out);

#endif /* PV_COMMIT_H */
