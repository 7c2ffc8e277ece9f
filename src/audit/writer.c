/*
 * writer.c: the audit chain as the participant of the commit queue
 * (src/commit/commit.h owns grouping, the store transaction, the fsync,
 * priorities and completions; this file owns what the chain adds to them).
 *
 * Every database write in the process is a commit-queue transaction: an
 * optional data change (fn) and an optional audit entry. Per group:
 *
 *   group_begin: a stale head is re-read first (fails the group if it cannot)
 *   per tx, after its fn: append the entry (seq = head + 1, prev_hash = head
 *                         hash); outcome "error", reason pv_rc_name(rc) if fn
 *                         failed: failed attempts are audited too
 *   group_end:   committed -> the new head is published (under a->mu);
 *                rolled back -> the head is re-read from the database
 *   tick:        checkpoints (after each group, once a second when idle,
 *                final at shutdown)
 *
 * If anything but fn fails, the queue rolls the whole group back and every
 * transaction in it gets PV_E_AUDIT (fail closed).
 *
 * States (the queue's): RUNNING --audit_writer_drain--> DRAINING --queue
 * empty, final checkpoint, thread joined--> STOPPED. Submissions are
 * accepted only while RUNNING; otherwise PV_E_UNAVAILABLE.
 *
 * Invariants:
 *  - a->head_seq / a->head_hash are the last committed entry. Only the
 *    committer thread changes them, always under a->mu; readers take a->mu.
 *  - After a failed group the head is re-read from the database (the
 *    database, not memory, is the truth); until that succeeds every group
 *    fails, so no entry is ever chained onto a head that is not on disk.
 *  - Checkpoints sign a committed (seq, hash) with the Ed25519 audit key,
 *    only while the keyring is unsealed; a failed checkpoint is retried later
 *    and never fails a request.
 *  - A job (struct audit_job) lives until its completion ran: audit_commit
 *    keeps it on its stack and borrows the caller's strings (it waits);
 *    audit_submit copies them into the heap job, freed after the callback.
 *  - A job carries zero, one or several entries (audit_submitv /
 *    audit_commitv): all of them are appended, in order, after the job's
 *    fn and in its transaction, so they commit with its change or not at
 *    all; if fn failed each is recorded with outcome "error". fn may add
 *    more (audit_tx_entry, through job_fn's cur_job): appended after the
 *    job's own, in call order, with the same rule.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit_int.h"
#include "crypto/crypto.h"

/* One entry of a job: the event as it will be stored, and the row appended. */
struct audit_entry {
	struct audit_prepared ev;
	char *own;                       /* the copies, one block (owned jobs) */
	char tbuf[32], prev[65], hash[65];
};

struct audit_job {
	struct audit *a;
	bool owned;                      /* audit_submit: strings copied, job freed after done */
	/* the entries (audit_submitv: several, appended in order after fn, in the
	 * same transaction); e and rows point at one / row1 for a single one */
	size_t n;
	struct audit_entry *e;
	struct store_audit_row *rows;    /* as appended, for subscribers (valid until freed) */
	struct audit_entry one;
	struct store_audit_row row1;
	size_t nadded;                   /* of n, added by fn (audit_tx_entry) */
	audit_job_fn fn;                 /* the caller's data change (job_fn runs it) */
	void *fn_arg;
	audit_done_fn done;
	void *done_arg;
};

/* The job whose fn runs now on this thread (the committer), for
 * audit_tx_entry; NULL outside job_fn. */
static _Thread_local struct audit_job *cur_job;

struct audit {
	struct store *st;
	struct keys *keys;
	int checkpoint_every;
	int64_t checkpoint_interval_ms;
	struct commit_queue *q;

	pthread_mutex_t mu;
	int64_t head_seq;
	char head_hash[65];

	/* committer thread only */
	int64_t g_seq;                   /* head while a group is being built */
	char g_hash[65];
	bool g_synced;                   /* g_seq/g_hash re-read in the group's transaction */
	bool head_stale;
	bool can_sign;                   /* keys given and a public key stored */
	int64_t t_ms;                    /* the last entry's time and its text: */
	char t_txt[32];                  /* entries of the same ms share it */
	char key_id[17];
	int64_t cp_seq;                  /* seq of the last checkpoint */
	int64_t cp_mono_ms;              /* when it was written (or start) */
	int64_t cp_retry_mono_ms;        /* earliest retry after a failure */
};

/* ---- checkpoints ---- */

static int max_cp_seq_cb(const struct store_checkpoint *cp, void *arg)
{
	int64_t *max = arg;

	if (cp->seq > *max)
		*max = cp->seq;
	return 0;
}

static enum pv_rc write_checkpoint(struct audit *a, int64_t seq, const char *hash)
{
	enum pv_rc rc;
	char msg[128], tbuf[32];
	char sig_b64[128];
	uint8_t sig[CRYPTO_ED25519_SIG_LEN];
	size_t mlen;
	struct store_checkpoint cp;
	struct store_tx *tx = NULL;

	mlen = audit_checkpoint_message(seq, hash, msg, sizeof msg);
	if (mlen == 0)
		return PV_E_INTERNAL;
	rc = keys_audit_sign(a->keys, (const uint8_t *)msg, mlen, sig);
	if (rc != PV_OK)
		goto out;
	util_b64_encode(sig, sizeof sig, sig_b64);
	util_time_fmt(util_now_ms(), tbuf, sizeof tbuf);
	cp.seq = seq;
	cp.hash = hash;
	cp.time = tbuf;
	cp.signature = sig_b64;
	cp.key_id = a->key_id;
	rc = store_begin(a->st, STORE_WR, &tx);
	if (rc != PV_OK)
		goto out;
	rc = store_checkpoint_put(tx, &cp);
	if (rc != PV_OK)
		goto out;
	rc = store_commit(tx);
out:
	store_end(tx);
	return rc;
}

/* Writer thread. final: at shutdown, checkpoint any unsigned entries. */
static void maybe_checkpoint(struct audit *a, bool final)
{
	enum pv_rc rc;
	int64_t seq, now;
	char hash[65];

	if (!a->can_sign || keys_is_sealed(a->keys))
		return;
	/* The writer is the only thread that changes the head: no lock needed to read it. */
	seq = a->head_seq;
	memcpy(hash, a->head_hash, sizeof hash);
	if (seq <= a->cp_seq)
		return;
	now = util_mono_ms();
	if (!final) {
		if (now < a->cp_retry_mono_ms)
			return;
		if (seq - a->cp_seq < a->checkpoint_every &&
		    now - a->cp_mono_ms < a->checkpoint_interval_ms)
			return;
	}
	rc = write_checkpoint(a, seq, hash);
	if (rc != PV_OK) {
		log_warn("audit: checkpoint at seq %lld failed (%s), will retry",
		    (long long)seq, pv_rc_name(rc));
		a->cp_retry_mono_ms = now + 1000;
		return;
	}
	a->cp_seq = seq;
	a->cp_mono_ms = now;
}

/* ---- the chain as a commit participant ---- */

/* After a failed group: the head on disk is the truth. */
static void reload_head(struct audit *a)
{
	int64_t seq;
	char hash[65];
	enum pv_rc rc;

	STORE_READ(a->st, rc, store_audit_head(tx, &seq, hash));
	if (rc != PV_OK) {
		log_error("audit: cannot reload chain head (%s); writes fail until it can",
		    pv_rc_name(rc));
		a->head_stale = true;
		return;
	}
	a->head_stale = false;
	pthread_mutex_lock(&a->mu);
	a->head_seq = seq;
	memcpy(a->head_hash, hash, sizeof hash);
	pthread_mutex_unlock(&a->mu);
}

static enum pv_rc on_group_begin(void *arg)
{
	struct audit *a = arg;

	if (a->head_stale) {
		reload_head(a);
		if (a->head_stale)
			return PV_E_AUDIT;
	}
	/* the committer is the only thread that changes the head */
	a->g_seq = a->head_seq;
	memcpy(a->g_hash, a->head_hash, sizeof a->g_hash);
	a->g_synced = false;
	return PV_OK;
}

/* The first append of a group reads the head in the group's own write
 * transaction, which holds the store's writer lock: another node sharing
 * the database (PostgreSQL, docs/scaling.md) may have appended since this
 * node's last group, and the chain must continue from the entry it wrote,
 * not fork at ours. One indexed read per group, on a shared store only. */
static enum pv_rc sync_head(struct audit *a, struct store_tx *tx)
{
	int64_t seq;
	char hash[65];
	enum pv_rc rc;

	if (a->g_synced || !store_shared(a->st))
		return PV_OK;   /* SQLite: this process is the only writer */
	if ((rc = store_audit_head(tx, &seq, hash)) != PV_OK)
		return rc;
	if (seq != a->g_seq)
		log_info("audit: chain head moved from seq %lld to %lld (another node)",
		    (long long)a->g_seq, (long long)seq);
	a->g_seq = seq;
	memcpy(a->g_hash, hash, sizeof a->g_hash);
	a->g_synced = true;
	return PV_OK;
}

/* The entry's time (util_time_fmt of util_now_ms): formatted once per
 * millisecond, since the entries of a group mostly share it. */
static void entry_time(struct audit *a, char tbuf[32])
{
	int64_t now = util_now_ms();

	if (now != a->t_ms || a->t_txt[0] == '\0') {
		util_time_fmt(now, a->t_txt, sizeof a->t_txt);
		a->t_ms = now;
	}
	memcpy(tbuf, a->t_txt, sizeof a->t_txt);
}

static enum pv_rc on_tx_append(void *arg, struct store_tx *tx, void *part, enum pv_rc fn_rc,
    const struct store_audit_row **out, size_t *nout)
{
	struct audit *a = arg;
	struct audit_job *j = part;
	enum pv_rc rc;

	*out = NULL;
	*nout = 0;
	if (!j || j->n == 0)
		return PV_OK;
	if ((rc = sync_head(a, tx)) != PV_OK)
		return rc;
	for (size_t k = 0; k < j->n; k++) {
		struct audit_entry *e = &j->e[k];
		struct store_audit_row *row = &j->rows[k];

		memset(row, 0, sizeof *row);   /* has_len false: C strings */
		memcpy(e->prev, a->g_hash, sizeof e->prev);
		entry_time(a, e->tbuf);
		row->seq = a->g_seq + 1;
		row->time = e->tbuf;
		row->actor = e->ev.actor;
		row->action = e->ev.action;
		row->resource = e->ev.resource;
		row->purpose_of_use = e->ev.purpose_of_use;
		row->outcome = e->ev.outcome;
		row->reason = e->ev.reason;
		if (fn_rc != PV_OK) {
			row->outcome = audit_outcome_name(AUDIT_ERROR);
			row->reason = pv_rc_name(fn_rc);
		}
		row->detail = e->ev.detail;
		row->prev_hash = e->prev;
		row->hash = NULL;
		rc = audit_chain_hash(row, e->hash);
		if (rc != PV_OK)
			return rc;
		row->hash = e->hash;
		rc = store_audit_append(tx, row);
		/* the subject index, in the entry's transaction (same group commit) */
		for (size_t i = 0; rc == PV_OK && i < e->ev.nsubjects; i++)
			rc = store_audit_subject_put(tx, row->seq, e->ev.subjects[i]);
		if (rc != PV_OK)
			return rc;
		a->g_seq++;
		memcpy(a->g_hash, e->hash, sizeof a->g_hash);
	}
	*out = j->rows;
	*nout = j->n;
	return PV_OK;
}

static void on_group_end(void *arg, bool committed)
{
	struct audit *a = arg;

	if (!committed) {
		if (!a->head_stale)
			reload_head(a);
		return;
	}
	pthread_mutex_lock(&a->mu);
	a->head_seq = a->g_seq;
	memcpy(a->head_hash, a->g_hash, sizeof a->head_hash);
	pthread_mutex_unlock(&a->mu);
}

static void on_tick(void *arg, bool final)
{
	maybe_checkpoint(arg, final);
}

/* ---- public ---- */

enum pv_rc audit_start(struct store *st, struct keys *keys, const struct audit_config *cfg,
    struct audit **out)
{
	enum pv_rc rc = PV_OK;
	struct audit *a = NULL;
	bool mu_init = false;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct commit_config qc = { 0 };
	struct commit_participant part;
	struct store_tx *rtx = NULL;

	if (!st || !out)
		return PV_E_INVALID;
	if (cfg && (cfg->checkpoint_every < 0 || cfg->checkpoint_interval_s < 0 ||
	    cfg->max_group < 0 || cfg->max_group > 65536))
		return PV_E_INVALID;
	a = calloc(1, sizeof *a);
	if (!a)
		return PV_E_NOMEM;
	a->st = st;
	a->keys = keys;
	a->checkpoint_every = cfg && cfg->checkpoint_every ? cfg->checkpoint_every :
	    AUDIT_DEFAULT_CHECKPOINT_EVERY;
	a->checkpoint_interval_ms = 1000 * (int64_t)(cfg && cfg->checkpoint_interval_s ?
	    cfg->checkpoint_interval_s : AUDIT_DEFAULT_CHECKPOINT_INTERVAL_S);
	qc.max_group = cfg && cfg->max_group ? cfg->max_group : AUDIT_DEFAULT_MAX_GROUP;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	mu_init = true;

	/* One read transaction (a consistent head and checkpoint); the
	 * committer has not started yet. */
	rc = store_begin(st, STORE_RD, &rtx);
	if (rc != PV_OK)
		goto out;
	rc = store_audit_head(rtx, &a->head_seq, a->head_hash);
	a->cp_seq = 0;
	if (rc == PV_OK)
		rc = store_checkpoint_scan(rtx, max_cp_seq_cb, &a->cp_seq);
	store_end(rtx);
	if (rc != PV_OK)
		goto out;
	if (keys) {
		rc = keys_audit_public_key(st, pub);
		if (rc != PV_OK)
			goto out;
		rc = audit_key_id(pub, a->key_id);
		if (rc != PV_OK)
			goto out;
		a->can_sign = true;
	}
	a->cp_mono_ms = util_mono_ms();
	part = (struct commit_participant){ on_group_begin, on_tx_append, on_group_end,
	    on_tick, a };
	rc = commit_start(st, &qc, &part, &a->q);
	if (rc != PV_OK)
		goto out;
	log_info("audit: writer started at seq %lld", (long long)a->head_seq);
	*out = a;
	a = NULL;
out:
	if (a) {
		if (mu_init)
			pthread_mutex_destroy(&a->mu);
		free(a);
	}
	return rc;
}

void audit_writer_drain(struct audit *a)
{
	if (!a)
		return;
	commit_drain(a->q);
	log_info("audit: writer stopped at seq %lld", (long long)a->head_seq);
}

void audit_stop(struct audit *a)
{
	if (!a)
		return;
	audit_writer_drain(a);
	commit_stop(a->q);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

struct commit_queue *audit_queue(struct audit *a)
{
	return a ? a->q : NULL;
}

static void job_clear(struct audit_job *j)
{
	for (size_t k = 0; k < j->n; k++) {
		audit_prepared_clear(&j->e[k].ev);
		free(j->e[k].own);
	}
	if (j->e != &j->one)
		free(j->e);
	if (j->rows != &j->row1)
		free(j->rows);
	j->n = 0;
}

/* Copy the strings audit_prepare borrows, so the caller need not wait: one
 * block for the five (each checked to at most AUDIT_TEXT_MAX bytes). */
static enum pv_rc entry_own(struct audit_entry *e)
{
	const char **f[] = { &e->ev.action, &e->ev.resource, &e->ev.purpose_of_use,
	    &e->ev.reason, &e->ev.outcome };
	size_t len[sizeof f / sizeof f[0]], total = 0;
	char *p;

	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		len[i] = strlen(*f[i]) + 1;
		total += len[i];
	}
	if ((e->own = p = malloc(total)) == NULL)
		return PV_E_NOMEM;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		memcpy(p, *f[i], len[i]);
		*f[i] = p;
		p += len[i];
	}
	return PV_OK;
}

/* The job's n entries from evs (validated; copied when owned). On failure
 * the job holds what was prepared so far: job_clear releases it. */
static enum pv_rc job_prepare(struct audit_job *j, const struct audit_event *evs, size_t n,
    bool owned)
{
	enum pv_rc rc;

	j->owned = owned;
	j->e = &j->one;
	j->rows = &j->row1;
	if (n > 1) {
		j->e = calloc(n, sizeof *j->e);
		j->rows = calloc(n, sizeof *j->rows);
		if (!j->e || !j->rows) {
			if (j->e == NULL)
				j->e = &j->one;
			if (j->rows == NULL)
				j->rows = &j->row1;
			return PV_E_NOMEM;
		}
	}
	for (size_t k = 0; k < n; k++) {
		rc = audit_prepare(&evs[k], &j->e[k].ev);
		if (rc != PV_OK)
			return rc;
		j->n = k + 1;
		if (owned && (rc = entry_own(&j->e[k])) != PV_OK)
			return rc;
	}
	return PV_OK;
}

/* The data change the queue runs: the caller's fn, with the job current
 * (audit_tx_entry adds to it). */
static enum pv_rc job_fn(struct store_tx *tx, void *arg)
{
	struct audit_job *j = arg, *prev = cur_job;
	enum pv_rc rc;

	cur_job = j;
	rc = j->fn(tx, j->fn_arg);
	cur_job = prev;
	return rc;
}

/* Room for entry and row n of j (the single slots move to the heap). */
static enum pv_rc job_room(struct audit_job *j, size_t n)
{
	struct audit_entry *e;
	struct store_audit_row *r;

	if (j->e == &j->one) {
		if ((e = calloc(n + 1, sizeof *e)) == NULL)
			return PV_E_NOMEM;
		if (j->n > 0)
			e[0] = j->one;
	} else if ((e = realloc(j->e, (n + 1) * sizeof *e)) == NULL) {
		return PV_E_NOMEM;
	}
	memset(&e[n], 0, sizeof e[n]);
	j->e = e;
	if (j->rows == &j->row1) {
		if ((r = calloc(n + 1, sizeof *r)) == NULL)
			return PV_E_NOMEM;
	} else if ((r = realloc(j->rows, (n + 1) * sizeof *r)) == NULL) {
		return PV_E_NOMEM;
	}
	j->rows = r;   /* filled by tx_append, after fn */
	return PV_OK;
}

enum pv_rc audit_tx_entry(const struct audit_event *ev)
{
	struct audit_job *j = cur_job;
	enum pv_rc rc;

	if (!j || !ev || j->nadded >= AUDIT_TX_ENTRIES_MAX)
		return PV_E_INVALID;
	if ((rc = job_room(j, j->n)) != PV_OK)
		return rc;
	/* always copied: the event may be fn's own temporary */
	if ((rc = audit_prepare(ev, &j->e[j->n].ev)) != PV_OK)
		return rc;
	if ((rc = entry_own(&j->e[j->n])) != PV_OK) {
		audit_prepared_clear(&j->e[j->n].ev);
		memset(&j->e[j->n], 0, sizeof j->e[j->n]);
		return rc;
	}
	j->n++;
	j->nadded++;
	return PV_OK;
}

static void job_done(enum pv_rc rc, void *arg)
{
	struct audit_job *j = arg;

	j->done(rc, j->done_arg);
	job_clear(j);
	free(j);
}

enum pv_rc audit_submitv(struct audit *a, const struct audit_event *evs, size_t nev,
    audit_job_fn fn, void *arg, enum commit_prio prio, audit_done_fn done, void *done_arg)
{
	enum pv_rc rc;
	struct audit_job *j;
	struct commit_tx tx;

	if (!a || !done || (nev > 0 && !evs))
		return PV_E_INVALID;
	j = calloc(1, sizeof *j);
	if (!j)
		return PV_E_NOMEM;
	j->a = a;
	j->done = done;
	j->done_arg = done_arg;
	j->fn = fn;
	j->fn_arg = arg;
	rc = job_prepare(j, evs, nev, true);
	if (rc != PV_OK)
		goto fail;
	tx = (struct commit_tx){ fn ? job_fn : NULL, j, j, prio, job_done, j };
	rc = commit_submit(a->q, &tx);
	if (rc != PV_OK)
		goto fail;
	return PV_OK;
fail:
	job_clear(j);
	free(j);
	return rc;
}

enum pv_rc audit_submit(struct audit *a, const struct audit_event *ev, audit_job_fn fn,
    void *arg, enum commit_prio prio, audit_done_fn done, void *done_arg)
{
	return audit_submitv(a, ev, ev ? 1 : 0, fn, arg, prio, done, done_arg);
}

enum pv_rc audit_commitv(struct audit *a, const struct audit_event *evs, size_t nev,
    audit_job_fn fn, void *arg, enum commit_prio prio)
{
	enum pv_rc rc;
	struct audit_job job;
	struct commit_tx tx;

	if (!a || (nev > 0 && !evs))
		return PV_E_INVALID;
	if (nev == 0 && !fn)
		return PV_OK;
	memset(&job, 0, sizeof job);
	job.a = a;
	job.fn = fn;
	job.fn_arg = arg;
	rc = job_prepare(&job, evs, nev, false);
	if (rc != PV_OK)
		goto out;
	/* synchronous: the job and the strings it borrows outlive the wait */
	tx = (struct commit_tx){ fn ? job_fn : NULL, &job, &job, prio, NULL, NULL };
	rc = commit_run(a->q, &tx);
	if (rc == PV_E_INTERNAL)
		log_error("audit: audit_commit called from the writer thread");
out:
	job_clear(&job);
	return rc;
}

enum pv_rc audit_commit_at(struct audit *a, const struct audit_event *ev, audit_job_fn fn,
    void *arg, enum commit_prio prio)
{
	return audit_commitv(a, ev, ev ? 1 : 0, fn, arg, prio);
}

enum pv_rc audit_commit(struct audit *a, const struct audit_event *ev, audit_job_fn fn, void *arg)
{
	return audit_commit_at(a, ev, fn, arg, COMMIT_REQUEST);
}

enum pv_rc audit_record(struct audit *a, const struct audit_event *ev)
{
	if (!ev)
		return PV_E_INVALID;
	return audit_commit(a, ev, NULL, NULL);
}

struct held_entry {
	const struct util_holder *h;
	bool fail_closed;
};

/* On the committer, after the group: the answer may leave now. */
static void held_done(enum pv_rc rc, void *arg)
{
	struct held_entry *e = arg;
	const struct util_holder *h = e->h;
	bool fail_closed = e->fail_closed;

	free(e);
	if (rc != PV_OK)
		log_error("audit: an entry an answer waited for was not recorded (%s)",
		    pv_rc_name(rc));
	util_hold_release(h, rc == PV_OK || !fail_closed ? PV_OK : PV_E_AUDIT);
}

enum pv_rc audit_record_held(struct audit *a, const struct audit_event *ev, bool fail_closed)
{
	struct held_entry *e;
	enum pv_rc rc;

	if (!a || !ev)
		return PV_E_INVALID;
	if (!util_request_thread())
		return audit_record(a, ev);
	e = calloc(1, sizeof *e);
	if (!e)
		return PV_E_AUDIT;
	if ((e->h = util_request_hold()) == NULL) {
		free(e);
		return audit_record(a, ev);
	}
	e->fail_closed = fail_closed;
	rc = audit_submit(a, ev, NULL, NULL, COMMIT_REQUEST, held_done, e);
	if (rc != PV_OK) {
		/* not queued: no completion will come; the answer is not held */
		util_hold_release(e->h, PV_OK);
		free(e);
		return rc == PV_E_INVALID ? rc : PV_E_AUDIT;
	}
	return PV_OK;
}

struct held_commit {
	const struct util_holder *h;
	void *arg;
	void (*arg_free)(void *arg);
};

/* On the committer, after the group (fn has run): fn's rc, or PV_E_AUDIT,
 * decides the held answer. */
static void held_commit_done(enum pv_rc rc, void *p)
{
	struct held_commit *c = p;
	const struct util_holder *h = c->h;

	if (c->arg_free)
		c->arg_free(c->arg);
	free(c);
	util_hold_release(h, rc);
}

enum pv_rc audit_commit_held(struct audit *a, const struct audit_event *ev, audit_job_fn fn,
    void *arg, void (*arg_free)(void *arg))
{
	struct held_commit *c = NULL;
	enum pv_rc rc;

	if (!a || (!ev && !fn)) {
		rc = a ? PV_OK : PV_E_INVALID;
		goto sync_out;
	}
	if (!util_request_thread() || (c = calloc(1, sizeof *c)) == NULL ||
	    (c->h = util_request_hold()) == NULL) {
		free(c);
		rc = audit_commit(a, ev, fn, arg);
		goto sync_out;
	}
	c->arg = arg;
	c->arg_free = arg_free;
	rc = audit_submit(a, ev, fn, arg, COMMIT_REQUEST, held_commit_done, c);
	if (rc != PV_OK) {
		/* not queued: no completion will come; the answer is not held */
		util_hold_release(c->h, PV_OK);
		free(c);
		if (arg_free)
			arg_free(arg);
		return rc == PV_E_INVALID || rc == PV_E_UNAVAILABLE ? rc : PV_E_AUDIT;
	}
	return PV_OK;
sync_out:
	if (arg_free)
		arg_free(arg);
	return rc;
}

void audit_head(struct audit *a, int64_t *seq, char hash[65])
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	if (seq)
		*seq = a->head_seq;
	if (hash)
		memcpy(hash, a->head_hash, 65);
	pthread_mutex_unlock(&a->mu);
}
