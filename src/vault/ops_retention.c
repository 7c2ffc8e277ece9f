/*
 * vault/ops_retention.c: retention and disposal (API.md "Jobs",
 * POST /v1/sys/retention; issue 12 item 7). A collection's retention_days
 * is enforced by the job kind "retention": records created (records.
 * created_ms, the injectable clock) more than retention_days ago are
 * crypto-shredded (DEK and ciphertext destroyed, blind-index entries
 * removed: NIST SP 800-88 purge by cryptographic erase), except records of
 * a subject under legal hold.
 *
 * The job: params {}, cursor "<collection>|<last record id>". A step
 * scans up to BATCH records of one collection after the cursor (read only,
 * in the step's transaction) and picks the disposable ones; it then submits
 * ONE transaction through the audit writer (audit_submit, background
 * priority) holding their shredding and the disposal record
 * `retention.dispose` (resource collections/<c>, detail: collection,
 * count, record IDs, records skipped for legal hold; never a value), so a
 * disposal is never without its record nor a record without its disposal.
 * That transaction checks again that each record is live, still past
 * retention and not held; if one is not, it changes nothing and its entry
 * is recorded as error (reason conflict): the next run takes them. A crash
 * between a step and its disposal transaction leaves those records for the
 * next run (they stay past retention); the job itself resumes at its
 * cursor after kill -9 like every job.
 *
 * Schedule: [retention] every_s (default 86400). A thread looks once a
 * second (real time) at meta "retention.last_run_ms" and, when every_s
 * has passed on the injectable clock, queues a run as the system actor
 * (unless one is queued, running or paused). POST /v1/sys/retention
 * (sys.backup) queues one now: 202 {"job"} (audited retention.run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/jobs.h"
#include "util/ticker.h"
#include "vault/vault_int.h"

#define KIND_NAME "retention"
#define BATCH 100
#define DAY_MS 86400000LL
#define LAST_RUN_META "retention.last_run_ms"

struct vault_retention {
	struct vault_ctx *v;
	struct jobs_runner *jobs;
	struct jobs_kind kind;
	int64_t every_s;
	struct util_ticker scheduler;   /* tick(), once a second; started with the routes */
};

/* ---- one disposal: shred + its entry, one transaction ---- */

struct dispose {
	struct vault_ctx *v;
	char collection[VAULT_NAME_MAX];
	int64_t cutoff_ms;
	size_t n;
	char ids[BATCH][STORE_ID_MAX];
	char resource[VAULT_RESOURCE_MAX];
	char *detail;
};

/* Is the record live, past retention, and not under a held subject? */
static enum pv_rc disposable(struct store_tx *tx, const char *collection, const char *id,
    int64_t cutoff_ms, bool *yes, bool *held)
{
	struct store_record r;
	struct store_subject s;
	char ref[STORE_SUBJECT_REF_LEN + 1];
	enum pv_rc rc;

	*yes = *held = false;
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	rc = store_record_get(tx, collection, id, &r);
	if (rc == PV_E_NOTFOUND)
		return PV_OK;
	if (rc != PV_OK)
		return rc;
	if (r.deleted_ms != 0 || r.created_ms >= cutoff_ms)
		goto out;
	rc = store_subject_of_record(tx, collection, id, ref);
	if (rc == PV_E_NOTFOUND) {
		rc = PV_OK;
		*yes = true;
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	rc = store_subject_get(tx, ref, &s);
	if (rc == PV_E_NOTFOUND) {
		rc = PV_OK;   /* its subject shredded: the record is gone already */
		goto out;
	}
	if (rc == PV_OK) {
		*held = s.hold_ms != 0;
		*yes = !*held;
	}
out:
	store_subject_clear(&s);
	store_record_clear(&r);
	return rc;
}

static enum pv_rc dispose_fn(struct store_tx *tx, void *arg)
{
	struct dispose *d = arg;
	int64_t now = util_now_ms();
	enum pv_rc rc = PV_OK;

	for (size_t i = 0; rc == PV_OK && i < d->n; i++) {
		bool yes, held;

		if ((rc = disposable(tx, d->collection, d->ids[i], d->cutoff_ms, &yes, &held)) !=
		    PV_OK)
			break;
		if (!yes) {
			rc = PV_E_CONFLICT;   /* changed since the step looked: next run */
			break;
		}
		rc = store_record_shred(tx, d->collection, d->ids[i], now);
	}
	return rc;
}

static void dispose_done(enum pv_rc rc, void *arg)
{
	struct dispose *d = arg;

	if (rc != PV_OK)
		log_warn("retention: a disposal in %s did not commit (%s); the next run retries",
		    d->collection, pv_rc_name(rc));
	else if (d->n > 0)
		log_info("retention: %zu record(s) of %s disposed", d->n, d->collection);
	free(d->detail);
	free(d);
}

static enum pv_rc dispose_submit(struct vault_ctx *v, struct dispose *d, size_t held)
{
	struct audit_event ev;
	json_t *ids = json_array(), *det;
	enum pv_rc rc;

	for (size_t i = 0; ids != NULL && i < d->n; i++)
		if (json_array_append_new(ids, json_string(d->ids[i])) != 0) {
			json_decref(ids);
			ids = NULL;
		}
	det = ids != NULL ? json_pack("{s:s, s:I, s:o, s:I, s:s}", "collection", d->collection,
	    "count", (json_int_t)d->n, "records", ids, "held", (json_int_t)held,
	    "method", "crypto_erase") : NULL;
	d->detail = det != NULL ? json_dumps(det, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(det);
	if (d->detail == NULL)
		return PV_E_NOMEM;
	snprintf(d->resource, sizeof(d->resource), "collections/%s", d->collection);
	memset(&ev, 0, sizeof(ev));
	ev.actor = audit_actor_system();
	ev.action = "retention.dispose";
	ev.resource = d->resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = d->detail;
	rc = audit_submit(v->audit, &ev, d->n > 0 ? dispose_fn : NULL, d, COMMIT_BACKGROUND,
	    dispose_done, d);
	return rc;
}

/* ---- the job kind ---- */

struct coll_pick {
	const char *after;            /* the cursor's collection ("" : first) */
	bool inclusive;
	char name[VAULT_NAME_MAX];
	int retention_days;
	bool found;
};

static int coll_cb(const struct store_collection *c, void *arg)
{
	struct coll_pick *p = arg;
	int cmp = strcmp(c->name, p->after);

	if (cmp > 0 || (cmp == 0 && p->inclusive)) {
		util_strlcpy(p->name, c->name, sizeof(p->name));
		p->retention_days = c->retention_days;
		p->found = true;
		return 1;
	}
	return 0;
}

struct idl {
	char id[BATCH][STORE_ID_MAX];
	size_t n;
};

static int idl_cb(const char *id, void *arg)
{
	struct idl *l = arg;

	if (l->n < BATCH)
		util_strlcpy(l->id[l->n++], id, STORE_ID_MAX);
	return 0;
}

static enum pv_rc kind_step(const struct jobs_step_ctx *ctx, const char *cursor,
    struct jobs_step_out *out)
{
	struct vault_retention *rt = ctx->kind_arg;
	struct coll_pick pick;
	struct idl *ids = NULL;
	struct dispose *d = NULL;
	char coll[VAULT_NAME_MAX] = "", last[STORE_ID_MAX] = "";
	const char *bar = cursor != NULL ? strchr(cursor, '|') : NULL;
	size_t held = 0;
	enum pv_rc rc;

	if (cursor != NULL && cursor[0] != '\0') {
		if (bar == NULL || (size_t)(bar - cursor) >= sizeof(coll) ||
		    strlen(bar + 1) >= sizeof(last))
			return PV_E_INVALID;
		memcpy(coll, cursor, (size_t)(bar - cursor));
		coll[bar - cursor] = '\0';
		util_strlcpy(last, bar + 1, sizeof(last));
	}
	memset(&pick, 0, sizeof(pick));
	pick.after = coll;
	pick.inclusive = coll[0] != '\0';
	if ((rc = store_collection_list(ctx->tx, coll_cb, &pick)) != PV_OK)
		return rc;
	if (!pick.found) {
		out->finished = true;
		return PV_OK;
	}
	if (strcmp(pick.name, coll) != 0)
		last[0] = '\0';   /* a new collection: from its first record */
	if ((ids = calloc(1, sizeof(*ids))) == NULL || (d = calloc(1, sizeof(*d))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	d->v = rt->v;
	util_strlcpy(d->collection, pick.name, sizeof(d->collection));
	d->cutoff_ms = util_now_ms() - (int64_t)pick.retention_days * DAY_MS;
	if ((rc = store_record_scan(ctx->tx, pick.name, last, BATCH, idl_cb, ids)) != PV_OK)
		goto out;
	for (size_t i = 0; i < ids->n; i++) {
		bool yes, h;

		if ((rc = disposable(ctx->tx, pick.name, ids->id[i], d->cutoff_ms, &yes, &h)) !=
		    PV_OK)
			goto out;
		if (yes)
			util_strlcpy(d->ids[d->n++], ids->id[i], STORE_ID_MAX);
		held += h ? 1 : 0;
	}
	if (ids->n < BATCH)
		snprintf(out->cursor, sizeof(out->cursor), "%s|", pick.name);   /* next collection */
	else
		snprintf(out->cursor, sizeof(out->cursor), "%s|%s", pick.name, ids->id[ids->n - 1]);
	/* a collection done: the next step starts after it (exclusive) */
	if (ids->n < BATCH) {
		struct coll_pick nx;

		memset(&nx, 0, sizeof(nx));
		nx.after = pick.name;
		if ((rc = store_collection_list(ctx->tx, coll_cb, &nx)) != PV_OK)
			goto out;
		if (!nx.found)
			out->finished = true;
		else
			snprintf(out->cursor, sizeof(out->cursor), "%s|", nx.name);
	}
	out->done = (int64_t)d->n;
	if (d->n > 0 || held > 0) {
		if ((rc = dispose_submit(rt->v, d, held)) != PV_OK)
			goto out;
		d = NULL;   /* dispose_done frees it */
	}
out:
	if (d != NULL)
		free(d->detail);
	free(d);
	free(ids);
	return rc;
}

/* ---- queueing a run ---- */

struct busy_ctx {
	bool found;
};

static int busy_cb(const struct store_job *j, void *arg)
{
	struct busy_ctx *c = arg;

	if (strcmp(j->kind, KIND_NAME) == 0 && (strcmp(j->state, "queued") == 0 ||
	    strcmp(j->state, "running") == 0 || strcmp(j->state, "paused") == 0))
		c->found = true;
	return c->found ? 1 : 0;
}

struct mark_job {
	int64_t now;
};

static enum pv_rc mark_fn(struct store_tx *tx, void *arg)
{
	struct mark_job *m = arg;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)m->now);

	return store_meta_put(tx, LAST_RUN_META, (const uint8_t *)buf, (size_t)n);
}

struct mark_held {
	struct mark_job m;
	const struct util_holder *h;   /* the request's answer, or NULL */
};

static void mark_done(enum pv_rc rc, void *arg)
{
	struct mark_held *mh = arg;

	if (rc != PV_OK)
		log_warn("retention: last run time not recorded");
	if (mh->h != NULL)
		util_hold_release(mh->h, PV_OK);   /* the answer stands either way */
	free(mh);
}

/* The last run time after a run is queued from a request: submitted with
 * a hold on the answer (it leaves once the time is durable, and stands if
 * it is not: logged), no thread waiting. Elsewhere: audit_commit. */
static void mark_submit(struct vault_retention *rt, const struct mark_job *m)
{
	struct mark_held *mh;

	if (!util_request_thread() || (mh = calloc(1, sizeof(*mh))) == NULL) {
		struct mark_job copy = *m;

		if (audit_commit(rt->v->audit, NULL, mark_fn, &copy) != PV_OK)
			log_warn("retention: last run time not recorded");
		return;
	}
	mh->m = *m;
	mh->h = util_request_hold();
	if (audit_submit(rt->v->audit, NULL, mark_fn, &mh->m, COMMIT_REQUEST, mark_done, mh) !=
	    PV_OK)
		mark_done(PV_E_AUDIT, mh);
}

static enum pv_rc enqueue_run(struct vault_retention *rt, const struct pv_actor *actor,
    char id[UTIL_ID_MAX])
{
	struct busy_ctx b = { false };
	struct mark_job m = { util_now_ms() };
	enum pv_rc rc;

	if (rt->jobs == NULL)
		return PV_E_UNAVAILABLE;
	STORE_READ(rt->v->st, rc, store_job_list(tx, busy_cb, &b));
	if (rc != PV_OK)
		return rc;
	if (b.found)
		return PV_E_JOB_CONFLICT;
	if ((rc = jobs_enqueue(rt->jobs, actor, KIND_NAME, "{}", 0, id)) != PV_OK)
		return rc;
	mark_submit(rt, &m);
	return PV_OK;
}

void vault_retention_run(struct vault_retention *rt, const struct vault_caller *who,
    vault_done_fn done, void *arg)
{
	struct vault_answer a;
	char id[UTIL_ID_MAX] = "", detail[96];
	enum pv_rc rc;

	vault_answer_init(&a);
	rc = enqueue_run(rt, who->actor, id);
	if (rc == PV_E_JOB_CONFLICT) {
		if (vault_audit(rt->v, who, "retention.run", "sys/retention", NULL, AUDIT_ERROR,
		    "job_conflict", NULL) != PV_OK)
			rc = PV_E_AUDIT;
		vault_answer_fail(&a, rc, rc == PV_E_JOB_CONFLICT ?
		    "a retention run is queued, running or paused" : NULL);
		goto out;
	}
	if (rc != PV_OK) {
		vault_answer_fail(&a, rc, NULL);
		goto out;
	}
	snprintf(detail, sizeof(detail), "{\"job\":\"%s\"}", id);
	if (vault_audit_note(rt->v, who, "retention.run", "sys/retention", AUDIT_ALLOWED,
	    detail) != PV_OK)
		log_warn("retention: run %s queued, its retention.run entry failed", id);
	if ((a.body = json_pack("{s:s}", "job", id)) == NULL)
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
out:
	vault_answer_send(&a, done, arg);
}

/* ---- the schedule ---- */

static enum pv_rc last_run_tx(struct store_tx *tx, int64_t *out)
{
	uint8_t *val = NULL;
	size_t len = 0;
	char buf[32];
	enum pv_rc rc = store_meta_get(tx, LAST_RUN_META, &val, &len);

	*out = 0;
	if (rc == PV_E_NOTFOUND)
		return PV_OK;
	if (rc != PV_OK)
		return rc;
	if (len < sizeof(buf)) {
		memcpy(buf, val, len);
		buf[len] = '\0';
		*out = strtoll(buf, NULL, 10);
	}
	free(val);
	return PV_OK;
}

static void tick(void *arg)
{
	struct vault_retention *rt = arg;
	int64_t last = 0, now = util_now_ms();
	struct pv_actor sys = audit_actor_system();
	char id[UTIL_ID_MAX];
	enum pv_rc rc;

	if (keys_is_sealed(rt->v->keys))
		return;
	STORE_READ(rt->v->st, rc, last_run_tx(tx, &last));
	if (rc != PV_OK)
		return;
	if (last == 0) {
		/* first start: the schedule counts from now */
		struct mark_job m = { now };

		(void)audit_commit(rt->v->audit, NULL, mark_fn, &m);
		return;
	}
	if (now - last < rt->every_s * 1000)
		return;
	rc = enqueue_run(rt, &sys, id);
	if (rc == PV_OK)
		log_info("retention: scheduled run %s queued", id);
}

enum pv_rc vault_retention_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv, int64_t every_s)
{
	struct vault_retention *rt;
	enum pv_rc rc;

	if (v == NULL || v->retention != NULL || every_s < 1)
		return PV_E_INVALID;
	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return PV_E_NOMEM;
	rt->v = v;
	rt->jobs = r;
	rt->every_s = every_s;
	rt->kind = (struct jobs_kind){ KIND_NAME, kind_step, rt };
	v->retention = rt;   /* freed by vault_free */
	if (r != NULL && (rc = jobs_kind_register(r, &rt->kind)) != PV_OK)
		return rc;
	if (srv != NULL && (rc = vault_routes_retention(srv, rt)) != PV_OK)
		return rc;
	if (srv != NULL)
		return util_ticker_start(&rt->scheduler, tick, rt);
	return PV_OK;
}

void vault_retention_stop(struct vault_ctx *v)
{
	struct vault_retention *rt = v != NULL ? v->retention : NULL;

	if (rt != NULL)
		util_ticker_stop(&rt->scheduler);
}

void vault_retention_free(struct vault_retention *rt)
{
	if (rt == NULL)
		return;
	free(rt);
}

struct vault_ctx *vault_retention_vault(struct vault_retention *rt)
{
	return rt->v;
}

