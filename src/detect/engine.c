/*
 * engine.c: the detector thread, its queue, its position and its writes
 * (detect.h has the state machine; docs/internals/detect.md the why).
 *
 * Committer thread (on_commit): copy each committed row into a free slot of
 * the ring, or drop it and set `overflow`; signal. Nothing else.
 *
 * Detector thread (run): take the slots; an entry at or below `pos` was
 * already seen (a catch-up read it), one above pos + 1 means entries were
 * dropped: read pos+1 .. seq-1 from the audit table first. After a dropped
 * entry with none behind it (`overflow`), read to the end of the table.
 * Each entry goes to the rules; hits become new alerts or bumps of open
 * ones; then flush: each new alert is one background transaction (its row
 * and its alert.raised entry), and the bumps, the position and the dirty
 * baselines one more (no entry), submitted at once when there are bumps,
 * otherwise at most once a second and at stop. The position written is
 * never ahead of what the rules have seen, so a crash re-reads at most a
 * second of entries (windows restart empty; open alerts are reloaded, so a
 * re-read hit bumps rather than raising twice).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit/commit.h"
#include "detect/detect_int.h"
#include "sinks/sinks.h"

#define SAVE_EVERY_MS 1000
#define CATCHUP_CHUNK 512
#define STATE_POSITION "position"

size_t detect_queue_cap = DETECT_QUEUE_MAX;

struct detect_alert_new {
	struct store_alert a;
};

bool
detect_rule_known(const char *rule)
{
	static const char *const rules[] = { DETECT_RULE_BRUTE_FORCE, DETECT_RULE_PASSWORD_SPRAY,
	    DETECT_RULE_NEW_NETWORK, DETECT_RULE_UNUSUAL_HOUR, DETECT_RULE_MFA_FAILURES,
	    DETECT_RULE_BULK_READ, DETECT_RULE_ENUMERATION, DETECT_RULE_CHANGE_THEN_READ,
	    DETECT_RULE_AUDIT_VERIFY_FAILURE, DETECT_RULE_DECRYPT_FAILURES, DETECT_RULE_SINK_LAG,
	    DETECT_RULE_DRILL_OVERDUE, DETECT_RULE_SECRET_ROTATION_OVERDUE,
	    DETECT_RULE_KEY_COMPROMISED_USE,
	    DETECT_RULE_BREAK_GLASS_USE, DETECT_RULE_REVIEW_OVERDUE,
	    DETECT_RULE_ACCESS_REVIEW_OVERDUE,
	    DETECT_RULE_BREAKGLASS_INAPPROPRIATE, DETECT_RULE_TLS_CERT_EXPIRY };

	for (size_t i = 0; rule != NULL && i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rule, rules[i]) == 0)
			return true;
	return false;
}

/* ---- open alerts ---- */

static size_t
open_bucket(const char *rule, const char *actor, const char *source)
{
	return (size_t)((detect_hash(rule) ^ (detect_hash(actor) * 31) ^
	    (detect_hash(source) * 131)) % DETECT_OPEN_BUCKETS);
}

/* under amu */
static struct detect_open *
open_find(struct detect *d, const char *rule, const char *actor, const char *source)
{
	struct detect_open *o = d->open[open_bucket(rule, actor, source)];

	for (; o; o = o->next)
		if (strcmp(o->rule, rule) == 0 && strcmp(o->actor, actor) == 0 &&
		    strcmp(o->source, source) == 0)
			return o;
	return NULL;
}

/* under amu */
static enum pv_rc
open_add(struct detect *d, const char *rule, const char *actor, const char *source,
    const char *id)
{
	struct detect_open *o = calloc(1, sizeof(*o));
	size_t b = open_bucket(rule, actor, source);

	if (o == NULL)
		return PV_E_NOMEM;
	util_strlcpy(o->rule, rule, sizeof(o->rule));
	util_strlcpy(o->actor, actor, sizeof(o->actor));
	util_strlcpy(o->source, source, sizeof(o->source));
	util_strlcpy(o->id, id, sizeof(o->id));
	o->next = d->open[b];
	d->open[b] = o;
	return PV_OK;
}

void
detect_open_forget(struct detect *d, const char *id)
{
	pthread_mutex_lock(&d->amu);
	for (size_t b = 0; b < DETECT_OPEN_BUCKETS; b++)
		for (struct detect_open **pp = &d->open[b]; *pp; pp = &(*pp)->next)
			if (strcmp((*pp)->id, id) == 0) {
				struct detect_open *o = *pp;

				*pp = o->next;
				free(o);
				pthread_mutex_unlock(&d->amu);
				return;
			}
	pthread_mutex_unlock(&d->amu);
}

static int
load_open_cb(const struct store_alert *a, void *arg)
{
	struct detect *d = arg;

	if (open_add(d, a->rule, a->actor, a->source, a->id) != PV_OK)
		return 1;
	return 0;
}

/* ---- the rules' callbacks (detector thread; reads only) ---- */

static bool
io_baseline_load(void *arg, const char *user_id, struct detect_baseline *out)
{
	struct detect *d = arg;
	char key[160], *v = NULL;
	bool ok;

	snprintf(key, sizeof(key), "user:%s", user_id);
	enum pv_rc rc;

	STORE_READ(d->st, rc, store_detect_state_get(tx, key, &v));
	if (rc != PV_OK)
		return false;
	ok = detect_baseline_from_json(v, out) == PV_OK;
	if (!ok)
		log_warn("detect: the baseline of %s is damaged; starting it again", user_id);
	free(v);
	return ok;
}

static bool
io_user_by_name(void *arg, const char *username, char out[STORE_ALERT_ACTOR_MAX])
{
	struct detect *d = arg;
	struct store_user u;

	enum pv_rc rc;

	STORE_READ(d->st, rc, store_user_get_by_username(tx, username, &u));
	if (rc != PV_OK)
		return false;
	util_strlcpy(out, u.id, STORE_ALERT_ACTOR_MAX);
	store_user_clear(&u);
	return true;
}

/* ---- committer thread: copy, signal ---- */

static bool
slot_pack(struct detect_slot *s, const struct store_audit_row *r)
{
	const char *f[7] = { r->time, r->actor, r->action, r->resource, r->outcome, r->reason,
	    r->detail };
	size_t at = 0;

	for (size_t i = 0; i < 7; i++) {
		size_t n = f[i] != NULL ? strlen(f[i]) : 0;

		if (at + n + 1 > sizeof(s->buf))
			return false;
		s->off[i] = (uint16_t)at;
		if (n > 0)
			memcpy(s->buf + at, f[i], n);
		s->buf[at + n] = '\0';
		at += n + 1;
	}
	s->seq = r->seq;
	s->used = (uint16_t)at;
	return true;
}

static void
on_commit(const struct store_audit_row *const *rows, size_t n, void *arg)
{
	struct detect *d = arg;

	pthread_mutex_lock(&d->mu);
	if (d->accepting) {
		bool was_empty = d->rn == 0, dropped = false;

		for (size_t i = 0; i < n; i++) {
			struct detect_slot *s;

			if (d->rn == d->rcap) {
				d->overflow = dropped = true;
				d->dropped++;
				continue;
			}
			s = &d->ring[(d->rhead + d->rn) % d->rcap];
			if (!slot_pack(s, rows[i])) {
				d->overflow = dropped = true;
				d->dropped++;
				continue;
			}
			d->rn++;
		}
		/* wake the detector for the first entry, a full batch or a drop;
		 * in between it is gathering a batch (DETECT_COALESCE_MS) */
		if (was_empty || dropped || d->rn >= DETECT_BATCH)
			pthread_cond_signal(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
}

/* ---- detector thread ---- */

static void
raise_hit(struct detect *d, const struct detect_hit *h)
{
	struct detect_open *o;

	pthread_mutex_lock(&d->amu);
	o = open_find(d, h->rule, h->actor, h->source);
	if (o != NULL) {
		size_t i;

		for (i = 0; i < d->nbumps; i++)
			if (strcmp(d->bumps[i].id, o->id) == 0)
				break;
		if (i == d->nbumps) {
			if (d->nbumps == d->capbumps) {
				size_t cap = d->capbumps ? d->capbumps * 2 : 16;
				struct detect_bump *nb = realloc(d->bumps, cap * sizeof(*nb));

				if (nb == NULL)
					goto out;
				d->bumps = nb;
				d->capbumps = cap;
			}
			memset(&d->bumps[i], 0, sizeof(d->bumps[i]));
			util_strlcpy(d->bumps[i].id, o->id, sizeof(d->bumps[i].id));
			d->nbumps++;
		}
		d->bumps[i].add++;
		if (h->t_ms > d->bumps[i].last_ms)
			d->bumps[i].last_ms = h->t_ms;
	} else {
		struct store_alert *a;

		if (d->nnews == d->capnews) {
			size_t cap = d->capnews ? d->capnews * 2 : 8;
			struct detect_alert_new *nn = realloc(d->news, cap * sizeof(*nn));

			if (nn == NULL)
				goto out;
			d->news = nn;
			d->capnews = cap;
		}
		a = &d->news[d->nnews].a;
		memset(a, 0, sizeof(*a));
		if (util_id_new("alt", a->id) != PV_OK)
			goto out;
		util_strlcpy(a->rule, h->rule, sizeof(a->rule));
		util_strlcpy(a->severity, h->severity, sizeof(a->severity));
		util_strlcpy(a->actor, h->actor, sizeof(a->actor));
		util_strlcpy(a->source, h->source, sizeof(a->source));
		a->first_seen_ms = a->last_seen_ms = h->t_ms;
		a->count = h->count;
		util_strlcpy(a->status, "open", sizeof(a->status));
		if (open_add(d, a->rule, a->actor, a->source, a->id) != PV_OK)
			goto out;
		d->nnews++;
	}
out:
	pthread_mutex_unlock(&d->amu);
}

static void
process(struct detect *d, const struct store_audit_row *row)
{
	struct detect_event ev;
	struct detect_hit hits[DETECT_HITS_MAX];
	size_t n;

	if (row->seq <= d->pos)
		return;
	if (detect_event_from_row(row, &ev) == PV_OK) {
		/* drill_overdue's inputs (checked by time in check_drills) */
		if (ev.action != NULL && ev.outcome != NULL && strcmp(ev.outcome, "allowed") == 0) {
			if (strcmp(ev.action, "backup.create") == 0)
				d->backup_seen = true;
			else if (strcmp(ev.action, "drill.run") == 0 && ev.t_ms > d->drill_pass_ms)
				d->drill_pass_ms = ev.t_ms;
		}
		n = detect_rules_feed(d->rules, &ev, hits, DETECT_HITS_MAX);
		for (size_t i = 0; i < n; i++)
			raise_hit(d, &hits[i]);
	} else {
		log_warn("detect: audit entry %lld cannot be read; skipped", (long long)row->seq);
	}
	d->pos = row->seq;
	d->state_dirty = true;
}

struct catchup {
	struct detect *d;
	int64_t upto;
	int64_t last;
	size_t n;
};

static int
catchup_cb(const struct store_audit_row *row, void *arg)
{
	struct catchup *c = arg;

	if (row->seq > c->upto)
		return 1;
	process(c->d, row);
	c->last = row->seq;
	c->n++;
	return 0;
}

/* Read entries pos+1 .. upto from the audit table (in chunks, so no read
 * transaction stays open long). false if a read failed: pos stays at the
 * last entry processed, and the caller must not go past it. */
static bool
catch_up(struct detect *d, int64_t upto)
{
	for (;;) {
		struct catchup c = { d, upto, 0, 0 };
		struct store_audit_filter f = { .since_seq = d->pos, .limit = CATCHUP_CHUNK };
		enum pv_rc rc;

		STORE_READ(d->st, rc, store_audit_scan(tx, &f, catchup_cb, &c));

		if (rc != PV_OK) {
			log_error("detect: reading the audit trail after seq %lld failed: %s",
			    (long long)d->pos, pv_rc_name(rc));
			return false;
		}
		if (c.n < CATCHUP_CHUNK || c.last >= upto)
			return true;
	}
}

static void
write_done(enum pv_rc rc, void *arg)
{
	struct detect *d = ((struct detect **)arg)[0];

	if (rc != PV_OK)
		log_error("detect: a detector write failed: %s", pv_rc_name(rc));
	free(arg);
	pthread_mutex_lock(&d->mu);
	d->inflight--;
	pthread_cond_broadcast(&d->settled);
	pthread_mutex_unlock(&d->mu);
}

/* One new alert: its row, in the transaction of its alert.raised entry. */
struct new_job {
	struct detect *d;                  /* first: write_done reads it */
	struct store_alert a;
};

static enum pv_rc
new_fn(struct store_tx *tx, void *arg)
{
	struct new_job *j = arg;

	return store_alert_put(tx, &j->a);
}

/* A raise that did not commit: forget the alert, so the next hit raises it
 * again instead of bumping a row that does not exist. */
static void
new_done(enum pv_rc rc, void *arg)
{
	struct new_job *j = arg;

	if (rc != PV_OK)
		detect_open_forget(j->d, j->a.id);
	write_done(rc, arg);
}

static void
submit_new(struct detect *d, const struct store_alert *a)
{
	struct new_job *j = calloc(1, sizeof(*j));
	char res[96], detail[512];
	struct audit_event ev = {
		.actor = audit_actor_system(),
		.action = "alert.raised",
		.resource = res,
		.outcome = AUDIT_ALLOWED,
		.reason = a->rule,
		.detail = detail,
	};
	json_t *o;
	char *s;
	enum pv_rc rc;

	if (j == NULL)
		return;
	j->d = d;
	j->a = *a;
	snprintf(res, sizeof(res), "alerts/%s", a->id);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "rule", a->rule, "severity", a->severity,
	    "actor", a->actor, "source", a->source, "count", (json_int_t)a->count);
	s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (s == NULL || strlen(s) >= sizeof(detail)) {
		free(s);
		free(j);
		return;
	}
	util_strlcpy(detail, s, sizeof(detail));
	free(s);
	pthread_mutex_lock(&d->mu);
	d->inflight++;
	pthread_mutex_unlock(&d->mu);
	rc = audit_submit(d->audit, &ev, new_fn, j, COMMIT_BACKGROUND, new_done, j);
	if (rc != PV_OK) {
		log_error("detect: alert %s (%s) could not be submitted: %s", a->id, a->rule,
		    pv_rc_name(rc));
		detect_open_forget(d, a->id);
		pthread_mutex_lock(&d->mu);
		d->inflight--;
		pthread_mutex_unlock(&d->mu);
		free(j);
	}
}

/* Bumps, the position and the dirty baselines: one transaction, no entry. */
struct state_item {
	char key[160];
	char *value;
};
struct state_job {
	struct detect *d;                  /* first: write_done reads it */
	struct detect_bump *bumps;
	size_t nbumps;
	struct state_item *items;
	size_t nitems, capitems;
	int64_t now_ms;
	bool nomem;
};

static void
state_job_free(struct state_job *j)
{
	for (size_t i = 0; i < j->nitems; i++)
		free(j->items[i].value);
	free(j->items);
	free(j->bumps);
}

static void
state_done(enum pv_rc rc, void *arg)
{
	struct state_job *j = arg;
	struct detect *d = j->d;

	if (rc != PV_OK)
		log_error("detect: saving the detector state failed: %s", pv_rc_name(rc));
	state_job_free(j);
	free(j);
	pthread_mutex_lock(&d->mu);
	d->inflight--;
	pthread_cond_broadcast(&d->settled);
	pthread_mutex_unlock(&d->mu);
}

static enum pv_rc
state_fn(struct store_tx *tx, void *arg)
{
	struct state_job *j = arg;
	enum pv_rc rc;

	for (size_t i = 0; i < j->nbumps; i++) {
		rc = store_alert_bump(tx, j->bumps[i].id, j->bumps[i].add, j->bumps[i].last_ms);
		/* acknowledged meanwhile, or its raise failed: the hit is dropped */
		if (rc != PV_OK && rc != PV_E_NOTFOUND)
			return rc;
	}
	for (size_t i = 0; i < j->nitems; i++)
		if ((rc = store_detect_state_put(tx, j->items[i].key, j->items[i].value,
		    j->now_ms)) != PV_OK)
			return rc;
	return PV_OK;
}

static bool
state_item_add(struct state_job *j, const char *key, char *value)
{
	if (value == NULL)
		return false;
	if (j->nitems == j->capitems) {
		size_t cap = j->capitems ? j->capitems * 2 : 8;
		struct state_item *ni = realloc(j->items, cap * sizeof(*ni));

		if (ni == NULL) {
			free(value);
			return false;
		}
		j->items = ni;
		j->capitems = cap;
	}
	util_strlcpy(j->items[j->nitems].key, key, sizeof(j->items[j->nitems].key));
	j->items[j->nitems].value = value;
	j->nitems++;
	return true;
}

static void
dirty_cb(void *arg, const char *user_id, const struct detect_baseline *b)
{
	struct state_job *j = arg;
	char key[160];

	snprintf(key, sizeof(key), "user:%s", user_id);
	if (!state_item_add(j, key, detect_baseline_to_json(b)))
		j->nomem = true;
}

static void flush_writes(struct detect *d, bool final);

/* Submit what the entries up to pos produced, then tell detect_settle
 * that pos is done (its writes are in flight, counted in inflight). Bumps
 * and state wait for the next second unless final or a settle asked
 * (flush_req): under attack every read is a hit, and a commit per batch
 * would compete with the requests' own. */
static void
flush(struct detect *d, bool final)
{
	uint64_t req;

	pthread_mutex_lock(&d->mu);
	req = d->flush_req;
	pthread_mutex_unlock(&d->mu);
	flush_writes(d, final || req != d->flush_done);
	pthread_mutex_lock(&d->mu);
	d->published_pos = d->pos;
	d->flush_done = req;
	pthread_cond_broadcast(&d->settled);
	pthread_mutex_unlock(&d->mu);
}

static void
flush_writes(struct detect *d, bool final)
{
	struct state_job *j;
	struct commit_tx tx;
	char pos[64];
	int64_t now = util_mono_ms();
	size_t i;
	enum pv_rc rc;

	for (i = 0; i < d->nnews; i++)
		submit_new(d, &d->news[i].a);
	d->nnews = 0;
	if ((d->nbumps == 0 && !d->state_dirty) ||
	    (!final && now - d->last_save_mono < SAVE_EVERY_MS))
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->d = d;
	j->bumps = d->bumps;
	j->nbumps = d->nbumps;
	d->bumps = NULL;
	d->nbumps = d->capbumps = 0;
	j->now_ms = util_now_ms();
	if (d->state_dirty) {
		snprintf(pos, sizeof(pos), "{\"seq\":%lld}", (long long)d->pos);
		if (!state_item_add(j, STATE_POSITION, strdup(pos)))
			j->nomem = true;
		detect_rules_each_dirty(d->rules, dirty_cb, j);
	}
	if (j->nomem) {
		/* saved next time (the baselines stay as they are in memory) */
		log_error("detect: out of memory saving the detector state");
		state_job_free(j);
		free(j);
		return;
	}
	d->state_dirty = false;
	d->last_save_mono = now;
	memset(&tx, 0, sizeof(tx));
	tx.fn = state_fn;
	tx.fn_arg = j;
	tx.prio = COMMIT_BACKGROUND;
	tx.done = state_done;
	tx.done_arg = j;
	pthread_mutex_lock(&d->mu);
	d->inflight++;
	pthread_mutex_unlock(&d->mu);
	if ((rc = commit_submit(audit_queue(d->audit), &tx)) != PV_OK) {
		log_error("detect: the detector state could not be submitted: %s", pv_rc_name(rc));
		pthread_mutex_lock(&d->mu);
		d->inflight--;
		pthread_mutex_unlock(&d->mu);
		state_job_free(j);
		free(j);
	}
}

static void
slot_row(const struct detect_slot *s, struct store_audit_row *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = s->seq;
	r->time = s->buf + s->off[0];
	r->actor = s->buf + s->off[1];
	r->action = s->buf + s->off[2];
	r->resource = s->buf + s->off[3];
	r->outcome = s->buf + s->off[4];
	r->reason = s->buf + s->off[5];
	r->detail = s->buf + s->off[6];
	r->purpose_of_use = "";
	r->prev_hash = "";
	r->hash = "";
}

/* Every sink_lag_check_ms (the injectable clock): a sink more than
 * sink_lag_max entries behind the head at two checks sink_lag_for_ms apart
 * (and at every check between) is a sink_lag hit, actor "sink:<name>"; the
 * open alert of that sink counts each later check that still finds it behind. */
static void
check_sinks(struct detect *d)
{
	struct sinks_status ss[SINKS_MAX];
	int64_t now = util_now_ms();
	size_t n;

	_Static_assert(SINKS_MAX <= sizeof(d->lag_since_ms) / sizeof(d->lag_since_ms[0]),
	    "lag_since_ms holds a time per sink");
	if (d->sinks == NULL || now < d->lag_next_ms)
		return;
	d->lag_next_ms = now + d->t.sink_lag_check_ms;
	n = sinks_status(d->sinks, ss, SINKS_MAX);
	for (size_t i = 0; i < n; i++) {
		struct detect_hit h;

		if (ss[i].lag <= d->t.sink_lag_max) {
			d->lag_since_ms[i] = 0;
			continue;
		}
		if (d->lag_since_ms[i] == 0) {
			d->lag_since_ms[i] = now;
			continue;
		}
		if (now - d->lag_since_ms[i] < d->t.sink_lag_for_ms)
			continue;
		memset(&h, 0, sizeof(h));
		h.rule = DETECT_RULE_SINK_LAG;
		h.severity = "medium";
		snprintf(h.actor, sizeof(h.actor), "sink:%.15s", ss[i].name);
		h.count = 1;
		h.t_ms = now;
		log_warn("detect: sink %s is %lld entries behind (more than %lld for %lld s)",
		    ss[i].name, (long long)ss[i].lag, (long long)d->t.sink_lag_max,
		    (long long)((now - d->lag_since_ms[i]) / 1000));
		raise_hit(d, &h);
	}
}

/* Once a minute (the injectable clock): a vault that has backups and no
 * passing restore drill for drill_overdue_ms is a drill_overdue hit, actor
 * "system"; the open alert counts each later check that still finds it. */
static void
check_drills(struct detect *d)
{
	int64_t now = util_now_ms();
	struct detect_hit h;

	if (d->t.drill_overdue_ms <= 0 || !d->backup_seen || now < d->drill_next_ms)
		return;
	d->drill_next_ms = now + 60000;
	if (now - d->drill_pass_ms < d->t.drill_overdue_ms)
		return;
	memset(&h, 0, sizeof(h));
	h.rule = DETECT_RULE_DRILL_OVERDUE;
	h.severity = "high";
	snprintf(h.actor, sizeof(h.actor), "system");
	h.count = 1;
	h.t_ms = now;
	log_warn("detect: no passing restore drill for %lld s", (long long)((now - d->drill_pass_ms) / 1000));
	raise_hit(d, &h);
}

/* The trail before start: has the vault a backup, and when did a drill last pass? */
static int
drill_history_cb(const struct store_audit_row *row, void *arg)
{
	struct detect *d = arg;
	int64_t t;

	if (row->outcome == NULL || strcmp(row->outcome, "allowed") != 0)
		return 0;
	if (strcmp(row->action, "backup.create") == 0)
		d->backup_seen = true;
	else if ((t = util_time_parse(row->time)) > d->drill_pass_ms)
		d->drill_pass_ms = t;
	return 0;
}

static void
load_drill_history(struct detect *d)
{
	struct store_audit_filter fb = { 0, NULL, "backup.create", 0 };
	struct store_audit_filter fd = { 0, NULL, "drill.run", 0 };
	enum pv_rc rc;

	d->drill_pass_ms = util_now_ms();   /* the window starts at the start at the latest */
	if (d->t.drill_overdue_ms <= 0)
		return;
	{
		int64_t start = d->drill_pass_ms;

		d->drill_pass_ms = 0;
		STORE_READ(d->st, rc, store_audit_scan(tx, &fb, drill_history_cb, d));
		if (rc == PV_OK)
			STORE_READ(d->st, rc, store_audit_scan(tx, &fd, drill_history_cb, d));
		if (rc != PV_OK || d->drill_pass_ms == 0)
			d->drill_pass_ms = start;
	}
}

static void *
run(void *arg)
{
	struct detect *d = arg;
	struct detect_slot *batch = malloc(DETECT_BATCH * sizeof(*batch));
	struct store_audit_row row;

	/* visible in top -H and /proc (prctl PR_SET_NAME: allowed by seccomp) */
	(void)pthread_setname_np(pthread_self(), "pv-detect");
	if (batch == NULL) {
		log_error("detect: out of memory; the detector is not running");
		return NULL;
	}
	/* what was committed while the detector was not running (a failure is
	 * retried as an overflow) */
	if (!catch_up(d, INT64_MAX)) {
		pthread_mutex_lock(&d->mu);
		d->overflow = true;
		pthread_mutex_unlock(&d->mu);
	}
	flush(d, false);
	for (;;) {
		size_t n = 0;
		bool overflow, stop, failed;

		pthread_mutex_lock(&d->mu);
		if (d->rn == 0 && !d->overflow && !d->stop && d->flush_req == d->flush_done) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		}
		/* one wake-up a batch, not one a commit group */
		if (d->rn > 0 && d->rn < DETECT_BATCH && !d->overflow && !d->stop &&
		    d->flush_req == d->flush_done) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += DETECT_COALESCE_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		}
		while (d->rn > 0 && n < DETECT_BATCH) {
			const struct detect_slot *sl = &d->ring[d->rhead];

			memcpy(&batch[n++], sl, offsetof(struct detect_slot, buf) + sl->used);
			d->rhead = (d->rhead + 1) % d->rcap;
			d->rn--;
		}
		overflow = d->overflow;
		d->overflow = false;
		stop = d->stop && d->rn == 0;
		pthread_mutex_unlock(&d->mu);

		failed = false;
		for (size_t i = 0; i < n && !failed; i++) {
			/* a gap that cannot be read now: stop here; what is left of the
			 * batch is in the table and is read with it later */
			if (batch[i].seq > d->pos + 1 && !catch_up(d, batch[i].seq - 1)) {
				failed = true;
				break;
			}
			slot_row(&batch[i], &row);
			process(d, &row);
		}
		if (!failed && overflow && !catch_up(d, INT64_MAX))
			failed = true;
		if (failed && !stop) {
			/* read the table again in a moment (woken early by a commit) */
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_mutex_lock(&d->mu);
			d->overflow = true;
			if (!d->stop)
				pthread_cond_timedwait(&d->cv, &d->mu, &ts);
			pthread_mutex_unlock(&d->mu);
		}
		if (!stop) {
			check_sinks(d);
			check_drills(d);
		}
		if (stop) {
			flush(d, true);
			break;
		}
		flush(d, false);
	}
	free(batch);
	return NULL;
}

static enum pv_rc
cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int r;

	if (pthread_condattr_init(&a) != 0)
		return PV_E_NOMEM;
	r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
	return r == 0 ? PV_OK : PV_E_NOMEM;
}

static enum pv_rc
load_position(struct detect *d)
{
	char *v = NULL;
	json_t *o;
	char hash[65];
	enum pv_rc rc;

	STORE_READ(d->st, rc, store_detect_state_get(tx, STATE_POSITION, &v));

	if (rc == PV_E_NOTFOUND) {
		/* first start: detection begins with the entries committed from
		 * now on; the history before it is not re-examined */
		STORE_READ(d->st, rc, store_audit_head(tx, &d->pos, hash));
		return rc;
	}
	if (rc != PV_OK)
		return rc;
	o = json_loads(v, 0, NULL);
	free(v);
	if (o == NULL || !json_is_integer(json_object_get(o, "seq"))) {
		json_decref(o);
		log_error("detect: the stored position is damaged");
		return PV_E_IO;
	}
	d->pos = (int64_t)json_integer_value(json_object_get(o, "seq"));
	json_decref(o);
	return PV_OK;
}

enum pv_rc
detect_start(struct store *st, struct audit *a, struct sinks *sinks,
    const struct pv_config *cfg, struct detect **out)
{
	struct detect *d = calloc(1, sizeof(*d));
	struct detect_rules_io io;
	struct store_alert_filter f = { .status = "open" };
	enum pv_rc rc;

	if (d == NULL)
		return PV_E_NOMEM;
	d->st = st;
	d->audit = a;
	d->sinks = sinks;
	d->enabled = strcmp(cfg->detect_enabled, "on") == 0;
	detect_thresholds_from_config(cfg, &d->t);
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->amu, NULL);
	if ((rc = cond_init_mono(&d->cv)) != PV_OK ||
	    (rc = cond_init_mono(&d->settled)) != PV_OK) {
		free(d);
		return rc;
	}
	*out = d;
	if (!d->enabled) {
		log_info("detect: off ([detect] enabled = off)");
		return PV_OK;
	}
	io.baseline_load = io_baseline_load;
	io.user_by_name = io_user_by_name;
	io.arg = d;
	d->rcap = detect_queue_cap > 0 ? detect_queue_cap : 1;
	if ((d->ring = calloc(d->rcap, sizeof(*d->ring))) == NULL ||
	    (rc = detect_rules_new(&d->t, &io, &d->rules)) != PV_OK)
		return d->ring == NULL ? PV_E_NOMEM : rc;
	if ((rc = load_position(d)) != PV_OK)
		return rc;
	d->published_pos = d->pos;
	load_drill_history(d);
	STORE_READ(st, rc, store_alert_list(tx, &f, load_open_cb, d));
	if (rc != PV_OK)
		return rc;
	d->last_save_mono = util_mono_ms();
	d->accepting = true;
	if ((rc = commit_subscribe(audit_queue(a), on_commit, d)) != PV_OK) {
		d->accepting = false;
		return rc;
	}
	if (pthread_create(&d->thread, NULL, run, d) != 0) {
		pthread_mutex_lock(&d->mu);
		d->accepting = false;
		pthread_mutex_unlock(&d->mu);
		return PV_E_NOMEM;
	}
	d->thread_started = true;
	log_info("detect: running from audit seq %lld", (long long)d->pos);
	return PV_OK;
}

void
detect_settle(struct detect *d, int timeout_ms)
{
	struct timespec ts;
	int64_t head;
	uint64_t gen;
	char hash[65];

	if (d == NULL || !d->thread_started)
		return;
	audit_head(d->audit, &head, hash);
	pthread_mutex_lock(&d->mu);
	gen = ++d->flush_req;         /* the detector writes what it holds at once */
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	while ((d->published_pos < head || d->flush_done < gen || d->inflight > 0) && !d->stop)
		if (pthread_cond_timedwait(&d->settled, &d->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&d->mu);
}

void
detect_stop(struct detect *d)
{
	if (d == NULL || !d->thread_started)
		return;
	pthread_mutex_lock(&d->mu);
	d->accepting = false;
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_cond_broadcast(&d->settled);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	d->thread_started = false;
}

void
detect_free(struct detect *d)
{
	if (d == NULL)
		return;
	detect_stop(d);
	for (size_t b = 0; b < DETECT_OPEN_BUCKETS; b++)
		while (d->open[b]) {
			struct detect_open *o = d->open[b];

			d->open[b] = o->next;
			free(o);
		}
	detect_rules_free(d->rules);
	free(d->ring);
	free(d->news);
	free(d->bumps);
	pthread_cond_destroy(&d->cv);
	pthread_cond_destroy(&d->settled);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->amu);
	free(d);
}
