/*
 * writer.c: the one thread that writes to the database.
 *
 * Every database write in the process is a job run here: an optional data
 * change (fn) and an optional audit entry. Jobs are committed in groups, so
 * a burst of requests costs one fsync, not one each (DESIGN.md "Audit
 * chain"). A group is
 *
 *   BEGIN IMMEDIATE
 *     per job: SAVEPOINT; fn; ROLLBACK TO (fn failed) | RELEASE (fn ok);
 *              append the entry (seq = head + 1, prev_hash = head hash)
 *   COMMIT
 *
 * A job whose fn fails keeps its entry, recorded with outcome "error" and
 * reason pv_rc_name(rc): failed attempts are audited too. If anything else in
 * the group fails (BEGIN, SAVEPOINT, RELEASE, append, COMMIT) the whole group
 * is rolled back and every job in it returns PV_E_AUDIT (fail closed): no
 * caller goes on as if its change or its entry were durable.
 *
 * States (a->state, under a->mu):
 *   RUNNING  --audit_writer_drain-->  DRAINING  --queue empty, final
 *   checkpoint, thread joined-->  STOPPED.
 *   Submissions are accepted only while RUNNING; otherwise PV_E_UNAVAILABLE.
 *
 * Invariants:
 *  - a->head_seq / a->head_hash are the last committed entry. Only the
 *    writer thread changes them, always under a->mu; readers take a->mu.
 *  - After a failed group the head is re-read from the database (the
 *    database, not memory, is the truth); until that succeeds every group
 *    fails, so no entry is ever chained onto a head that is not on disk.
 *  - Checkpoints sign a committed (seq, hash) with the Ed25519 audit key,
 *    only while the keyring is unsealed; a failed checkpoint is retried later
 *    and never fails a request.
 *  - A job lives on its submitter's stack; the submitter blocks until the
 *    writer marks it done, so the job and the strings it borrows outlive
 *    every use by the writer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit_int.h"
#include "crypto/crypto.h"

enum audit_state { AUDIT_RUNNING, AUDIT_DRAINING, AUDIT_STOPPED };

struct audit_job {
	struct audit_job *next;
	bool has_event;
	struct audit_prepared ev;
	audit_job_fn fn;
	void *arg;
	/* results, written by the writer under a->mu */
	enum pv_rc rc;
	bool done;
	pthread_cond_t done_cv;
};

struct audit {
	struct store *st;
	struct keys *keys;
	int checkpoint_every;
	int64_t checkpoint_interval_ms;
	int max_group;

	pthread_mutex_t mu;
	pthread_cond_t work_cv;          /* CLOCK_MONOTONIC, for the 1 s tick */
	struct audit_job *q_head, *q_tail;
	enum audit_state state;
	bool thread_running;             /* created and not yet joined */
	pthread_t thread;
	int64_t head_seq;
	char head_hash[65];

	/* writer thread only */
	struct audit_job **group;
	bool head_stale;
	bool can_sign;                   /* keys given and a public key stored */
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
	bool in_tx = false;

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
	rc = store_tx_begin(a->st);
	if (rc != PV_OK)
		goto out;
	in_tx = true;
	rc = store_checkpoint_put(a->st, &cp);
	if (rc != PV_OK)
		goto out;
	rc = store_tx_commit(a->st);
	if (rc == PV_OK)
		in_tx = false;
out:
	if (in_tx)
		store_tx_rollback(a->st);
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

/* ---- groups ---- */

static void finish_jobs(struct audit *a, struct audit_job **jobs, size_t n, bool all_fail,
    bool head_changed, int64_t seq, const char *hash)
{
	pthread_mutex_lock(&a->mu);
	if (head_changed) {
		a->head_seq = seq;
		memcpy(a->head_hash, hash, 65);
	}
	for (size_t i = 0; i < n; i++) {
		if (all_fail)
			jobs[i]->rc = PV_E_AUDIT;
		jobs[i]->done = true;
		pthread_cond_signal(&jobs[i]->done_cv);
	}
	pthread_mutex_unlock(&a->mu);
}

/* After a failed group: the head on disk is the truth. */
static void reload_head(struct audit *a)
{
	int64_t seq;
	char hash[65];
	enum pv_rc rc = store_audit_head(a->st, &seq, hash);

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

static void run_group(struct audit *a, struct audit_job **jobs, size_t n)
{
	enum pv_rc rc = PV_OK;
	bool in_tx = false;
	int64_t seq = a->head_seq;
	char hash[65], prev[65], tbuf[32];

	if (a->head_stale) {
		reload_head(a);
		if (a->head_stale) {
			rc = PV_E_AUDIT;
			goto fail;
		}
		seq = a->head_seq;
	}
	memcpy(hash, a->head_hash, sizeof hash);

	rc = store_tx_begin(a->st);
	if (rc != PV_OK)
		goto fail;
	in_tx = true;
	for (size_t i = 0; i < n; i++) {
		struct audit_job *j = jobs[i];
		const char *outcome, *reason;
		struct store_audit_row row = { 0 };   /* has_len false: C strings */

		j->rc = PV_OK;
		if (j->fn) {
			rc = store_tx_savepoint(a->st);
			if (rc != PV_OK)
				goto fail;
			j->rc = j->fn(a->st, j->arg);
			if (j->rc != PV_OK) {
				store_tx_rollback_savepoint(a->st);
			} else {
				rc = store_tx_release(a->st);
				if (rc != PV_OK)
					goto fail;
			}
		}
		if (!j->has_event)
			continue;
		outcome = j->ev.outcome;
		reason = j->ev.reason;
		if (j->rc != PV_OK) {
			outcome = audit_outcome_name(AUDIT_ERROR);
			reason = pv_rc_name(j->rc);
		}
		memcpy(prev, hash, sizeof prev);
		util_time_fmt(util_now_ms(), tbuf, sizeof tbuf);
		row.seq = seq + 1;
		row.time = tbuf;
		row.actor = j->ev.actor;
		row.action = j->ev.action;
		row.resource = j->ev.resource;
		row.purpose_of_use = j->ev.purpose_of_use;
		row.outcome = outcome;
		row.reason = reason;
		row.detail = j->ev.detail;
		row.prev_hash = prev;
		row.hash = NULL;
		rc = audit_chain_hash(&row, hash);
		if (rc != PV_OK)
			goto fail;
		row.hash = hash;
		rc = store_audit_append(a->st, &row);
		if (rc != PV_OK)
			goto fail;
		seq++;
	}
	rc = store_tx_commit(a->st);
	if (rc != PV_OK)
		goto fail;
	finish_jobs(a, jobs, n, false, seq != a->head_seq, seq, hash);
	return;
fail:
	log_error("audit: group of %zu job(s) failed (%s); rolled back", n, pv_rc_name(rc));
	if (in_tx)
		store_tx_rollback(a->st);
	if (!a->head_stale)
		reload_head(a);
	finish_jobs(a, jobs, n, true, false, 0, NULL);
}

static void *writer_main(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		size_t n = 0;

		if (!a->q_head) {
			struct timespec ts;

			if (a->state != AUDIT_RUNNING)
				break;
			/* Wake at least once a second to check the checkpoint interval. */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			(void)pthread_cond_timedwait(&a->work_cv, &a->mu, &ts);
		}
		while (a->q_head && n < (size_t)a->max_group) {
			a->group[n++] = a->q_head;
			a->q_head = a->q_head->next;
		}
		if (!a->q_head)
			a->q_tail = NULL;
		pthread_mutex_unlock(&a->mu);
		if (n)
			run_group(a, a->group, n);
		maybe_checkpoint(a, false);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	maybe_checkpoint(a, true);
	return NULL;
}

/* ---- public ---- */

enum pv_rc audit_start(struct store *st, struct keys *keys, const struct audit_config *cfg,
    struct audit **out)
{
	enum pv_rc rc = PV_OK;
	struct audit *a = NULL;
	pthread_condattr_t cattr;
	bool mu_init = false, cv_init = false, attr_init = false;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];

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
	a->max_group = cfg && cfg->max_group ? cfg->max_group : AUDIT_DEFAULT_MAX_GROUP;
	a->group = calloc((size_t)a->max_group, sizeof *a->group);
	if (!a->group) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	mu_init = true;
	if (pthread_condattr_init(&cattr) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	attr_init = true;
	if (pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&a->work_cv, &cattr) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	cv_init = true;

	/* Reads on the caller's connection; the writer has not started yet. */
	rc = store_audit_head(st, &a->head_seq, a->head_hash);
	if (rc != PV_OK)
		goto out;
	a->cp_seq = 0;
	rc = store_checkpoint_scan(st, max_cp_seq_cb, &a->cp_seq);
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
	a->state = AUDIT_RUNNING;
	if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	a->thread_running = true;
	log_info("audit: writer started at seq %lld", (long long)a->head_seq);
	*out = a;
	a = NULL;
out:
	if (attr_init)
		pthread_condattr_destroy(&cattr);
	if (a) {
		if (cv_init)
			pthread_cond_destroy(&a->work_cv);
		if (mu_init)
			pthread_mutex_destroy(&a->mu);
		free(a->group);
		free(a);
	}
	return rc;
}

void audit_writer_drain(struct audit *a)
{
	bool join;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	if (a->state == AUDIT_RUNNING)
		a->state = AUDIT_DRAINING;
	pthread_cond_broadcast(&a->work_cv);
	join = a->thread_running;
	a->thread_running = false;
	pthread_mutex_unlock(&a->mu);
	if (join) {
		pthread_join(a->thread, NULL);
		log_info("audit: writer stopped at seq %lld", (long long)a->head_seq);
	}
	pthread_mutex_lock(&a->mu);
	a->state = AUDIT_STOPPED;
	pthread_mutex_unlock(&a->mu);
}

void audit_stop(struct audit *a)
{
	if (!a)
		return;
	audit_writer_drain(a);
	pthread_cond_destroy(&a->work_cv);
	pthread_mutex_destroy(&a->mu);
	free(a->group);
	free(a);
}

enum pv_rc audit_commit(struct audit *a, const struct audit_event *ev, audit_job_fn fn, void *arg)
{
	enum pv_rc rc;
	struct audit_job job;
	bool cv_init = false;

	if (!a)
		return PV_E_INVALID;
	if (!ev && !fn)
		return PV_OK;
	memset(&job, 0, sizeof job);
	job.fn = fn;
	job.arg = arg;
	if (ev) {
		rc = audit_prepare(ev, &job.ev);
		if (rc != PV_OK)
			goto out;
		job.has_event = true;
	}
	if (pthread_cond_init(&job.done_cv, NULL) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	cv_init = true;

	pthread_mutex_lock(&a->mu);
	if (a->state != AUDIT_RUNNING) {
		pthread_mutex_unlock(&a->mu);
		rc = PV_E_UNAVAILABLE;
		goto out;
	}
	if (pthread_equal(pthread_self(), a->thread)) {
		/* A job submitting a job would wait for itself forever. */
		pthread_mutex_unlock(&a->mu);
		log_error("audit: audit_commit called from the writer thread");
		rc = PV_E_INTERNAL;
		goto out;
	}
	if (a->q_tail)
		a->q_tail->next = &job;
	else
		a->q_head = &job;
	a->q_tail = &job;
	pthread_cond_signal(&a->work_cv);
	while (!job.done)
		pthread_cond_wait(&job.done_cv, &a->mu);
	rc = job.rc;
	pthread_mutex_unlock(&a->mu);
out:
	if (cv_init)
		pthread_cond_destroy(&job.done_cv);
	audit_prepared_clear(&job.ev);
	return rc;
}

enum pv_rc audit_record(struct audit *a, const struct audit_event *ev)
{
	if (!ev)
		return PV_E_INVALID;
	return audit_commit(a, ev, NULL, NULL);
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
