/*
 * secrets/overdue.c: rotation due dates, and the sweeper that reports
 * them, plus the module's life cycle (secrets_new / secrets_free).
 *
 * A secret is overdue at now when rotate_every_s > 0, it is not deleted,
 * and its current version was written rotate_every_s or more before now
 * (util_now_ms: the injectable clock). secrets_overdue lists them (for
 * the compliance report, which calls it with its own store and now).
 *
 * The sweeper (a thread, started with the routes, stopped before the
 * audit writer) looks once a second and records, as the system actor,
 * one entry per overdue version:
 *   action secret.rotation_overdue, resource secrets/<path>,
 *   outcome allowed, detail {"path","version","due_at"}
 * The detector's rule table turns it into the alert
 * secret_rotation_overdue (src/detect/rules.c). A version is reported once
 * per run of the server (kept in memory, bounded); after a restart it is
 * reported again, which bumps the alert still open rather than raising a
 * second one. Writing a new version ends it being overdue.
 *
 * The same thread runs the secrets writes' work that may block, which no
 * request thread and no committer may do (secrets_retry_queue, ops.c): a
 * put's attempt after a lost race and the first put, which makes KEK
 * "secrets". Queued work wakes it at once; stopping answers what is left
 * with PV_E_UNAVAILABLE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secrets/secrets_int.h"

#define SWEEP_MS 1000
#define REPORTED_MAX 4096

struct reported {
	char path[STORE_SECRET_PATH_MAX];
	uint32_t version;
};

struct overdue_ctx {
	int64_t now;
	secrets_overdue_cb cb;
	void *arg;
	bool stopped;
};

static int overdue_row(const struct store_secret *h, void *arg)
{
	struct overdue_ctx *c = arg;
	int64_t due;

	if (h->rotate_every_s <= 0 || h->deleted_ms != 0)
		return 0;
	due = h->updated_ms + h->rotate_every_s * 1000;
	if (c->now < due)
		return 0;
	if (c->cb(h->path, h->current_version, due, c->arg) != 0) {
		c->stopped = true;
		return 1;
	}
	return 0;
}

enum pv_rc secrets_overdue(struct store *st, int64_t now_ms, secrets_overdue_cb cb, void *arg)
{
	struct overdue_ctx c = { now_ms, cb, arg, false };
	enum pv_rc rc;

	if (st == NULL || cb == NULL)
		return PV_E_INVALID;
	STORE_READ(st, rc, store_secret_list(tx, "", overdue_row, &c));
	return rc;
}

/* ---- the sweeper ---- */

struct due {
	char path[STORE_SECRET_PATH_MAX];
	uint32_t version;
	int64_t due_ms;
};

struct due_list {
	struct due *d;
	size_t n, cap;
};

static int due_cb(const char *path, uint32_t version, int64_t due_ms, void *arg)
{
	struct due_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct due *nd = realloc(l->d, cap * sizeof(*nd));

		if (nd == NULL)
			return 1;
		l->d = nd;
		l->cap = cap;
	}
	util_strlcpy(l->d[l->n].path, path, sizeof(l->d[l->n].path));
	l->d[l->n].version = version;
	l->d[l->n].due_ms = due_ms;
	l->n++;
	return 0;
}

static bool seen(struct secrets *s, const struct due *d)
{
	for (size_t i = 0; i < s->nreported; i++)
		if (s->reported[i].version == d->version && strcmp(s->reported[i].path, d->path) == 0)
			return true;
	return false;
}

static void remember(struct secrets *s, const struct due *d)
{
	if (s->nreported == REPORTED_MAX)
		s->nreported = 0;   /* bounded: forget them all, and report again */
	if (s->nreported == s->capreported) {
		size_t cap = s->capreported ? 2 * s->capreported : 16;
		struct reported *nr = realloc(s->reported, cap * sizeof(*nr));

		if (nr == NULL)
			return;
		s->reported = nr;
		s->capreported = cap;
	}
	util_strlcpy(s->reported[s->nreported].path, d->path, sizeof(s->reported[0].path));
	s->reported[s->nreported].version = d->version;
	s->nreported++;
}

static void sweep(struct secrets *s)
{
	struct due_list l = { NULL, 0, 0 };
	enum pv_rc rc = secrets_overdue(s->st, util_now_ms(), due_cb, &l);

	for (size_t i = 0; rc == PV_OK && i < l.n; i++) {
		struct audit_event ev;
		char resource[sizeof("secrets/") + STORE_SECRET_PATH_MAX], at[32], *detail;
		json_t *d;

		if (seen(s, &l.d[i]))
			continue;
		util_time_fmt(l.d[i].due_ms, at, sizeof(at));
		d = json_pack("{s:s, s:i, s:s}", "path", l.d[i].path, "version",
		    (int)l.d[i].version, "due_at", at);
		detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
		if (detail == NULL)
			break;
		secrets_resource(resource, sizeof(resource), l.d[i].path);
		memset(&ev, 0, sizeof(ev));
		ev.actor = audit_actor_system();
		ev.action = "secret.rotation_overdue";
		ev.resource = resource;
		ev.outcome = AUDIT_ALLOWED;
		ev.detail = detail;
		if (audit_record(s->audit, &ev) == PV_OK) {
			remember(s, &l.d[i]);
			log_info("secrets: %s v%u is past its rotate_every_s", resource,
			    (unsigned)l.d[i].version);
		}
		free(detail);
	}
	free(l.d);
}

bool secrets_retry_queue(struct secrets *s, struct secrets_retry *r)
{
	bool ok;

	pthread_mutex_lock(&s->mu);
	ok = s->running && !s->stop;
	if (ok) {
		r->next = NULL;
		*s->retry_tail = r;
		s->retry_tail = &r->next;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* Take the queue (with mu held). */
static struct secrets_retry *retry_take(struct secrets *s)
{
	struct secrets_retry *q = s->retry_head;

	s->retry_head = NULL;
	s->retry_tail = &s->retry_head;
	return q;
}

static void retry_run(struct secrets_retry *q, bool stopping)
{
	while (q != NULL) {
		struct secrets_retry *next = q->next;

		q->run(q, stopping);   /* may free q */
		q = next;
	}
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
}

static bool deadline_past(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

/* Once a second a sweep; in between, the queued retries (secrets_retry) as
 * they come. */
static void *sweeper(void *arg)
{
	struct secrets *s = arg;
	struct timespec ts;

	deadline_in(&ts, SWEEP_MS);
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct secrets_retry *q;

		if (s->retry_head == NULL)
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->stop)
			break;
		q = retry_take(s);
		pthread_mutex_unlock(&s->mu);
		retry_run(q, false);
		if (deadline_past(&ts)) {
			sweep(s);
			deadline_in(&ts, SWEEP_MS);
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

enum pv_rc secrets_sweeper_start(struct secrets *s)
{
	if (s == NULL)
		return PV_E_INVALID;
	if (s->running)
		return PV_OK;
	s->stop = false;
	if (pthread_create(&s->thread, NULL, sweeper, s) != 0)
		return PV_E_NOMEM;
	s->running = true;
	return PV_OK;
}

void secrets_stop(struct secrets *s)
{
	struct secrets_retry *q;

	if (s == NULL || !s->running)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->mu);
	s->running = false;
	q = retry_take(s);
	pthread_mutex_unlock(&s->mu);
	retry_run(q, true);   /* what the sweeper did not reach: 503 */
}

/* ---- life cycle ---- */

enum pv_rc secrets_new(const struct secrets_deps *d, struct secrets **out)
{
	struct secrets *s;

	if (d == NULL || d->st == NULL || d->keys == NULL || d->audit == NULL || out == NULL ||
	    d->max_versions < 1)
		return PV_E_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PV_E_NOMEM;
	s->st = d->st;
	s->keys = d->keys;
	s->audit = d->audit;
	s->max_versions = d->max_versions;
	s->retry_tail = &s->retry_head;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return PV_E_NOMEM;
	}
	if (pthread_cond_init(&s->cv, NULL) != 0) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return PV_E_NOMEM;
	}
	*out = s;
	return PV_OK;
}

void secrets_free(struct secrets *s)
{
	if (s == NULL)
		return;
	secrets_stop(s);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->reported);
	free(s);
}
