/*
 * vault/ops_breakglass.c: break-glass grants and their reviews (API.md
 * "Break-glass", issue 10 item 5; docs/access-control.md "An emergency
 * read at 3 a.m. and its review", docs/internals/authz.md "Break-glass").
 * routes_breakglass.c adapts them to HTTP.
 *
 *   activate  POST /v1/breakglass        breakglass.activate  breakglass.activate
 *   end       POST /v1/breakglass/{id}/end  holder or access.approve  breakglass.end
 *   list      GET  /v1/breakglass        own grants (all with access.approve)
 *   reviews   GET  /v1/reviews[?status=] access.approve
 *   review    GET  /v1/reviews/{id}      access.approve
 *   decide    POST /v1/reviews/{id}      access.approve, never the holder  review.decide
 *   sweeper   (thread)                   breakglass.expire, review.overdue
 *
 * Activation: the decision point allows breakglass.activate (built-in role
 * break_glass); the body is checked; the password is re-entered
 * (authn_password_reconfirm_async: Argon2id, counted by the login's
 * lockout, answered from its completion); the subject value becomes its
 * keyed reference (vault_subject_ref) at once and is never stored, logged
 * or audited; then the grant and its open review commit with the entry
 * breakglass.activate (resource
 * breakglass/<id>, purpose the reason code, detail {grant, review,
 * subject_ref, expires_at}) in one transaction, and the authn generation
 * moves so the holder's next request loads the grant (authz service.c).
 * The justification is kept in the grant row for the reviewer only.
 *
 * What the grant allows is decided by authz_decide alone (decide.c:
 * ETREAT reads of the records whose subject_ref is the grant's); every
 * entry of the holder while it is in force carries the grant ID in its
 * actor (authn_actor), which is how a review lists the reads made under it.
 *
 * States (store_breakglass.h): grant active -> ended | expired; review
 * open -> appropriate | inappropriate. One grant in force per holder.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

#define BG_SWEEP_MS 200
#define BG_SUBJECT_MAX 4096
#define BG_NOTE_MAX 1024
#define BG_READS_MAX 1000
#define BG_SCAN_MAX 100000
#define BG_RESOURCE_MAX (sizeof("breakglass/") + UTIL_ID_MAX)

/* HL7 v3 PurposeOfUse codes a break-glass grant may name (docs/access-control.md). */
static const char *const reason_codes[] = { "ETREAT", "BTG", "ERTREAT", "PATSFTY" };

struct vault_breakglass {
	struct authn_service *authn;
	int max_s;
	int review_due_s;
	pthread_t thread;
	bool running;
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

bool vault_breakglass_reason_valid(const char *code)
{
	for (size_t i = 0; code != NULL && i < sizeof(reason_codes) / sizeof(reason_codes[0]); i++)
		if (strcmp(code, reason_codes[i]) == 0)
			return true;
	return false;
}

static void bg_resource(char *buf, size_t len, const char *kind, const char *id)
{
	snprintf(buf, len, "%s/%s", kind, id);
}

static json_t *time_or_null(int64_t ms)
{
	char t[32];

	if (ms <= 0)
		return json_null();
	util_time_fmt(ms, t, sizeof(t));
	return json_string(t);
}

/* A decision of the decision point for a plain action, audited when it
 * denies (audit_action set); requester: dual control's self check. */
static enum pv_rc bg_decide(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *audit_action, const char *resource, const char *requester,
    struct vault_answer *a)
{
	struct authz_request q;
	struct authz_decision d;

	memset(&q, 0, sizeof(q));
	q.subject = who->subject;
	q.action = action;
	q.stage = AUTHZ_AT_RESOURCE;
	q.env.source = who->actor->source;
	q.env.time_ms = util_now_ms();
	q.audit = audit_action != NULL ? v->audit : NULL;
	q.audit_action = audit_action;
	q.audit_resource = resource;
	q.approval.requester = requester;
	if (authz_decide(&q, &d) == PV_OK)
		return PV_OK;
	if (a == NULL)
		return d.rc;
	if (d.audit_failed)
		return vault_answer_fail(a, PV_E_AUDIT, NULL);
	if (d.rc == PV_E_SELF_APPROVAL)
		return vault_answer_fail(a, d.rc,
		    "You cannot review a break-glass grant of your own");
	return vault_answer_fail(a, d.rc, d.message);
}

/* ---- the API's objects ---- */

static json_t *grant_json(const struct store_breakglass *g, int64_t now)
{
	const char *state = g->ended_ms != 0 ? g->end_reason :
	    now >= g->expires_ms ? "expired" : "active";

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "id", g->id,
	    "holder", g->user_id, "subject_ref", g->subject_ref, "reason_code", g->reason_code,
	    "state", state, "created_at", time_or_null(g->created_ms),
	    "expires_at", time_or_null(g->expires_ms), "ended_at", time_or_null(g->ended_ms),
	    "review", g->review_id);
}

/* The reads under a grant: entries of its holder from the activation on
 * whose actor names the grant (record reads, searches, lists, batches). */
struct reads_ctx {
	const char *grant;
	json_t *reads;
	size_t scanned;
	bool truncated;
};

static int reads_row(const struct store_audit_row *row, void *arg)
{
	struct reads_ctx *x = arg;
	json_t *actor, *e;
	const char *bg;

	if (++x->scanned > BG_SCAN_MAX)
		return 1;
	if (strncmp(row->action, "record.", 7) != 0)
		return 0;
	if ((actor = json_loads(row->actor, 0, NULL)) == NULL)
		return 0;
	bg = json_string_value(json_object_get(actor, "break_glass"));
	if (bg != NULL && strcmp(bg, x->grant) == 0) {
		if (json_array_size(x->reads) >= BG_READS_MAX) {
			x->truncated = true;
			json_decref(actor);
			return 1;
		}
		e = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)row->seq,
		    "time", row->time, "action", row->action, "resource", row->resource,
		    "purpose_of_use", row->purpose_of_use, "outcome", row->outcome);
		if (e != NULL)
			json_array_append_new(x->reads, e);
	}
	json_decref(actor);
	return 0;
}

static enum pv_rc grant_reads(struct vault_ctx *v, const struct store_breakglass *g,
    json_t **out, bool *truncated)
{
	struct reads_ctx x = { g->id, json_array(), 0, false };
	struct store_audit_filter f;
	enum pv_rc rc;

	if (x.reads == NULL)
		return PV_E_NOMEM;
	memset(&f, 0, sizeof(f));
	f.since_seq = g->since_seq;
	f.actor_user_id = g->user_id;
	STORE_READ(v->st, rc, store_audit_scan(tx, &f, reads_row, &x));
	if (rc != PV_OK) {
		json_decref(x.reads);
		return rc;
	}
	*out = x.reads;
	*truncated = x.truncated;
	return PV_OK;
}

static json_t *review_json(struct vault_ctx *v, const struct store_breakglass *g, int64_t now)
{
	json_t *o, *reads = NULL;
	bool truncated = false;

	if (grant_reads(v, g, &reads, &truncated) != PV_OK)
		return NULL;
	o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:o, s:s, s:o, s:b}",
	    "id", g->review_id, "status", g->review_status, "grant", grant_json(g, now),
	    "holder", g->user_id, "subject_ref", g->subject_ref, "reason_code", g->reason_code,
	    "justification", g->justification != NULL ? g->justification : "",
	    "due_at", time_or_null(g->review_due_ms),
	    "overdue", strcmp(g->review_status, "open") == 0 && now >= g->review_due_ms,
	    "reviewed_by", g->reviewed_by, "reviewed_at", time_or_null(g->reviewed_ms),
	    "note", g->review_note != NULL ? g->review_note : "", "reads", reads,
	    "reads_truncated", truncated);
	return o;
}

/* ---- activate ---- */

/*
 * The activation in steps, no thread waiting for a commit:
 *   request thread: the decision, the body, then the password re-entry
 *     (authn_password_reconfirm_async: its lockout reservation, the
 *     Argon2id verify on an authn worker, the counter's reset);
 *   its completion (committer or authn worker): the subject's reference
 *     (a MAC, no store read) and the grant's transaction, a vault_op whose
 *     one-grant check is the transaction's (409 from activate_fn);
 *   the grant's completion (committer): the answer.
 * The job holds what the request lent until the answer: the caller (its
 * principal and actor strings are the request's, alive until it is
 * answered) and a reference on the body.
 */
struct activate_job {
	struct vault_op op;            /* first: the completion's head */
	struct vault_breakglass *b;
	struct pv_actor actor;
	struct vault_caller who;       /* who.actor is &actor */
	json_t *body;
	bool no_subject;               /* PV_E_NOTFOUND: no subject was ever stored */
	struct store_breakglass grant; /* justification: the job's copy */
};

static void activate_release(struct vault_op *op)
{
	struct activate_job *j = (struct activate_job *)op;

	store_breakglass_clear(&j->grant);
	json_decref(j->body);
	free(j);
}

/* After the fsync (committer thread): the grant is durable, so the
 * holder's next request may load it. Also the answer of a step that
 * stopped before the submit (vault_op_complete). */
static void activate_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct activate_job *j = (struct activate_job *)op;
	struct store_breakglass *g = &j->grant;

	if (rc == PV_E_NOTFOUND && j->no_subject) {
		/* nothing to read; the refusal's entry, then the answer */
		vault_op_refuse_as(op, "breakglass.activate", "breakglass", AUDIT_ERROR,
		    http_rc_code(rc), rc, "No records name this subject");
		return;
	}
	if (rc != PV_OK) {
		vault_answer_fail(a, rc, rc == PV_E_CONFLICT ?
		    "A break-glass grant of yours is in force: end it first" : NULL);
		return;
	}
	authn_authz_changed(j->b->authn);
	a->body = json_pack("{s:s, s:s, s:s, s:o, s:s}", "grant", g->id, "subject_ref",
	    g->subject_ref, "reason_code", g->reason_code, "expires_at",
	    time_or_null(g->expires_ms), "review", g->review_id);
	if (a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

static enum pv_rc activate_fn(struct store_tx *tx, void *arg)
{
	struct activate_job *j = arg;
	struct store_breakglass cur;
	enum pv_rc rc;

	memset(&cur, 0, sizeof(cur));
	rc = store_breakglass_active(tx, j->grant.user_id, j->grant.created_ms, &cur);
	store_breakglass_clear(&cur);
	if (rc == PV_OK)
		return PV_E_CONFLICT;   /* one grant in force per holder */
	if (rc != PV_E_NOTFOUND)
		return rc;
	return store_breakglass_put(tx, &j->grant);
}

static bool text_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

/* The password was re-entered: the grant's row and entry, submitted. On
 * the thread of the reconfirmation's completion: nothing here waits. */
static void activate_submit(struct activate_job *j)
{
	struct vault_ctx *v = j->op.v;
	struct vault_breakglass *b = j->b;
	struct store_breakglass *g = &j->grant;
	const char *subject = json_string_value(json_object_get(j->body, "subject"));
	const char *code = json_string_value(json_object_get(j->body, "reason_code"));
	const char *just = json_string_value(json_object_get(j->body, "justification"));
	struct audit_event ev;
	char res[BG_RESOURCE_MAX], *detail = NULL, head_hash[65];
	int64_t now = util_now_ms(), head_seq = 0;
	json_t *d;
	enum pv_rc rc;

	rc = vault_subject_ref(v->keys, subject, g->subject_ref);
	if (rc == PV_E_NOTFOUND)
		j->no_subject = true;
	if (rc == PV_OK && ((rc = util_id_new("bg", g->id)) != PV_OK ||
	    (rc = util_id_new("rev", g->review_id)) != PV_OK))
		j->no_subject = false;
	if (rc != PV_OK) {
		vault_op_complete(&j->op, rc);
		return;
	}
	audit_head(v->audit, &head_seq, head_hash);
	util_strlcpy(g->user_id, j->who.subject->user_id, sizeof(g->user_id));
	util_strlcpy(g->reason_code, code, sizeof(g->reason_code));
	g->created_ms = now;
	g->expires_ms = now + (int64_t)b->max_s * 1000;
	g->since_seq = head_seq;
	util_strlcpy(g->review_status, "open", sizeof(g->review_status));
	g->review_due_ms = now + (int64_t)b->review_due_s * 1000;
	bg_resource(res, sizeof(res), "breakglass", g->id);
	d = json_pack("{s:s, s:s, s:s, s:o}", "grant", g->id, "review", g->review_id,
	    "subject_ref", g->subject_ref, "expires_at", time_or_null(g->expires_ms));
	detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	if (detail == NULL || (g->justification = strdup(just)) == NULL) {
		free(detail);
		vault_op_complete(&j->op, PV_E_NOMEM);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.actor = j->actor;
	ev.action = "breakglass.activate";
	ev.resource = res;
	ev.purpose_of_use = "ETREAT";
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = code;
	ev.detail = detail;
	/* the one-grant check is the transaction's (409 from activate_fn); the
	 * answer leaves from the completion, and the holder's next request
	 * loads the grant (authz caches are keyed on it) */
	vault_op_submit(&j->op, &ev, activate_fn, j);
	free(detail);
}

/* The reconfirmation's answer (authn's completion: committer or worker). */
static void activate_reconfirmed(enum pv_rc rc, json_t *out, const struct authn_result *res,
    void *arg)
{
	struct activate_job *j = arg;
	struct vault_answer a;

	json_decref(out);
	if (rc == PV_OK) {
		activate_submit(j);
		return;
	}
	/* refused (401, 423, 429): authn recorded it */
	vault_answer_init(&a);
	vault_answer_fail(&a, rc, res != NULL && res->message[0] != '\0' ? res->message : NULL);
	vault_answer_send(&a, j->op.done, j->op.done_arg);
	activate_release(&j->op);
}

void vault_breakglass_activate(struct vault_ctx *v, const struct vault_caller *who,
    const json_t *body, vault_done_fn done, void *arg)
{
	struct vault_breakglass *b = v->breakglass;
	const char *subject, *code, *just, *pw;
	struct activate_job *j;
	struct vault_answer a;

	vault_answer_init(&a);
	if (b == NULL) {
		vault_answer_fail(&a, PV_E_INTERNAL, NULL);
		goto out;
	}
	if (bg_decide(v, who, "breakglass.activate", "breakglass.activate", "breakglass", NULL,
	    &a) != PV_OK)
		goto out;
	subject = json_string_value(json_object_get(body, "subject"));
	code = json_string_value(json_object_get(body, "reason_code"));
	just = json_string_value(json_object_get(body, "justification"));
	pw = json_string_value(json_object_get(body, "password"));
	if (!json_is_object(body) || !text_ok(subject, BG_SUBJECT_MAX)) {
		vault_answer_fail(&a, PV_E_INVALID, "subject is required (1 to 4096 bytes)");
		goto out;
	}
	if (!vault_breakglass_reason_valid(code)) {
		vault_answer_fail(&a, PV_E_INVALID,
		    "reason_code must be one of ETREAT, BTG, ERTREAT, PATSFTY");
		goto out;
	}
	if (!text_ok(just, STORE_BG_JUSTIFICATION_MAX)) {
		vault_answer_fail(&a, PV_E_INVALID, "justification is required (1 to 1024 bytes)");
		goto out;
	}
	if (pw == NULL || pw[0] == '\0') {
		vault_answer_fail(&a, PV_E_INVALID, "password is required (re-enter yours)");
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	j->b = b;
	j->actor = *who->actor;
	j->who = *who;
	j->who.actor = &j->actor;
	j->body = json_incref((json_t *)body);
	j->op.v = v;
	j->op.done = done;
	j->op.done_arg = arg;
	j->op.finish = activate_finish;
	j->op.release = activate_release;
	j->op.actor = j->actor;        /* a refusal before the submit names it */
	/* the password first (a wrong one is counted by the lockout); the
	 * grant from its completion */
	authn_password_reconfirm_async(b->authn, j->who.subject, j->actor.source, pw,
	    "breakglass.activate", "breakglass", activate_reconfirmed, j);
	return;
out:
	vault_answer_send(&a, done, arg);
}

/* ---- end ---- */

struct end_job {
	const char *id;
	int64_t at;
	const char *reason;
};

/* breakglass.end from a request: the grant as it will read once ended */
struct end_op {
	struct vault_op op;            /* first: the completion's head */
	struct end_job j;
	struct vault_breakglass *b;
	struct store_breakglass g;
	int64_t now;
};

static void end_release(struct vault_op *op)
{
	struct end_op *e = (struct end_op *)op;

	store_breakglass_clear(&e->g);
	free(e);
}

static void end_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct end_op *e = (struct end_op *)op;

	if (rc != PV_OK) {
		vault_answer_fail(a, rc == PV_E_NOTFOUND ? PV_E_CONFLICT : rc,
		    rc == PV_E_NOTFOUND ? "This break-glass grant is no longer in force" : NULL);
		return;
	}
	authn_authz_changed(e->b->authn);
	e->g.ended_ms = e->now;
	util_strlcpy(e->g.end_reason, "ended", sizeof(e->g.end_reason));
	a->body = grant_json(&e->g, e->now);
	if (a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

static enum pv_rc end_fn(struct store_tx *tx, void *arg)
{
	struct end_job *j = arg;

	return store_breakglass_end(tx, j->id, j->at, j->reason);
}

void vault_breakglass_end(struct vault_ctx *v, const struct vault_caller *who, const char *id,
    vault_done_fn done, void *arg)
{
	struct store_breakglass g;
	struct vault_answer a;
	struct audit_event ev;
	struct end_op *e = NULL;
	char res[BG_RESOURCE_MAX];
	int64_t now = util_now_ms();
	enum pv_rc rc;

	vault_answer_init(&a);
	memset(&g, 0, sizeof(g));
	if (v->breakglass == NULL || who->subject == NULL) {
		vault_answer_fail(&a, who->subject == NULL ? PV_E_UNAUTH : PV_E_INTERNAL, NULL);
		goto out;
	}
	if (id == NULL || strlen(id) >= UTIL_ID_MAX || strncmp(id, "bg_", 3) != 0) {
		vault_answer_fail(&a, PV_E_NOTFOUND, "no such break-glass grant");
		goto out;
	}
	bg_resource(res, sizeof(res), "breakglass", id);
	STORE_READ(v->st, rc, store_breakglass_get(tx, id, &g));
	/* the holder ends its own grant; a security officer ends anyone's */
	if (rc == PV_OK && strcmp(g.user_id, who->subject->user_id) != 0 &&
	    bg_decide(v, who, "access.approve", "breakglass.end", res, NULL, &a) != PV_OK)
		goto out;
	if (rc == PV_E_NOTFOUND) {
		vault_answer_fail(&a, PV_E_NOTFOUND, "no such break-glass grant");
		goto out;
	}
	if (rc != PV_OK) {
		vault_answer_fail(&a, rc, NULL);
		goto out;
	}
	if (g.ended_ms != 0 || now >= g.expires_ms) {
		vault_answer_fail(&a, PV_E_CONFLICT, "This break-glass grant is no longer in force");
		goto out;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	e->g = g;                      /* the job owns the row's strings now */
	memset(&g, 0, sizeof(g));
	e->b = v->breakglass;
	e->now = now;
	e->j.id = e->g.id;
	e->j.at = now;
	e->j.reason = "ended";
	e->op.v = v;
	e->op.done = done;
	e->op.done_arg = arg;
	e->op.finish = end_finish;
	e->op.release = end_release;
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "breakglass.end";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "ended";
	/* a grant ended meanwhile is the transaction's 409 */
	vault_op_submit(&e->op, &ev, end_fn, &e->j);
	return;
out:
	store_breakglass_clear(&g);
	vault_answer_send(&a, done, arg);
}

/* ---- lists ---- */

struct list_ctx {
	json_t *arr;
	int64_t now;
	bool failed;
	/* reviews: collected first, opened after the scan (no nested reads) */
	char (*ids)[UTIL_ID_MAX];
	size_t n, cap;
};

static int grant_row(const struct store_breakglass *g, void *arg)
{
	struct list_ctx *x = arg;
	json_t *o = grant_json(g, x->now);

	if (o == NULL || json_array_append_new(x->arr, o) != 0) {
		x->failed = true;
		return 1;
	}
	return 0;
}

static int review_row(const struct store_breakglass *g, void *arg)
{
	struct list_ctx *x = arg;

	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 32;
		char (*ni)[UTIL_ID_MAX] = realloc(x->ids, cap * sizeof(*ni));

		if (ni == NULL) {
			x->failed = true;
			return 1;
		}
		x->ids = ni;
		x->cap = cap;
	}
	util_strlcpy(x->ids[x->n++], g->review_id, UTIL_ID_MAX);
	return 0;
}

void vault_breakglass_list(struct vault_ctx *v, const struct vault_caller *who,
    vault_done_fn done, void *arg)
{
	struct list_ctx x = { json_array(), util_now_ms(), false, NULL, 0, 0 };
	struct vault_answer a;
	bool officer;
	enum pv_rc rc;

	vault_answer_init(&a);
	if (who->subject == NULL || x.arr == NULL) {
		json_decref(x.arr);
		vault_answer_fail(&a, who->subject == NULL ? PV_E_UNAUTH : PV_E_NOMEM, NULL);
		goto out;
	}
	/* a security officer sees every grant, anyone else its own */
	officer = bg_decide(v, who, "access.approve", NULL, NULL, NULL, NULL) == PV_OK;
	STORE_READ(v->st, rc, store_breakglass_list(tx, officer ? NULL : who->subject->user_id,
	    NULL, grant_row, &x));
	if (rc != PV_OK || x.failed) {
		json_decref(x.arr);
		vault_answer_fail(&a, rc != PV_OK ? rc : PV_E_NOMEM, NULL);
		goto out;
	}
	a.body = json_pack("{s:o}", "grants", x.arr);
out:
	vault_answer_send(&a, done, arg);
}

void vault_review_list(struct vault_ctx *v, const struct vault_caller *who, const char *status,
    vault_done_fn done, void *arg)
{
	struct list_ctx x = { NULL, util_now_ms(), false, NULL, 0, 0 };
	struct store_breakglass g;
	struct vault_answer a;
	enum pv_rc rc;

	vault_answer_init(&a);
	if (bg_decide(v, who, "access.approve", "review.list", "reviews", NULL, &a) != PV_OK)
		goto out;
	if (status != NULL && strcmp(status, "open") != 0 && strcmp(status, "appropriate") != 0 &&
	    strcmp(status, "inappropriate") != 0) {
		vault_answer_fail(&a, PV_E_INVALID,
		    "status must be open, appropriate or inappropriate");
		goto out;
	}
	if ((x.arr = json_array()) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	STORE_READ(v->st, rc, store_breakglass_list(tx, NULL, status, review_row, &x));
	for (size_t i = 0; rc == PV_OK && !x.failed && i < x.n; i++) {
		json_t *o;

		memset(&g, 0, sizeof(g));
		STORE_READ(v->st, rc, store_breakglass_review_get(tx, x.ids[i], &g));
		if (rc == PV_OK && ((o = review_json(v, &g, x.now)) == NULL ||
		    json_array_append_new(x.arr, o) != 0))
			x.failed = true;
		store_breakglass_clear(&g);
	}
	if (rc != PV_OK || x.failed) {
		json_decref(x.arr);
		vault_answer_fail(&a, rc != PV_OK ? rc : PV_E_NOMEM, NULL);
		goto out;
	}
	a.body = json_pack("{s:o}", "reviews", x.arr);
out:
	free(x.ids);
	vault_answer_send(&a, done, arg);
}

static bool review_id_ok(const char *id)
{
	return id != NULL && strlen(id) < UTIL_ID_MAX && strncmp(id, "rev_", 4) == 0;
}

void vault_review_get(struct vault_ctx *v, const struct vault_caller *who, const char *id,
    vault_done_fn done, void *arg)
{
	struct store_breakglass g;
	struct vault_answer a;
	enum pv_rc rc;

	vault_answer_init(&a);
	memset(&g, 0, sizeof(g));
	if (bg_decide(v, who, "access.approve", "review.read", "reviews", NULL, &a) != PV_OK)
		goto out;
	rc = PV_E_NOTFOUND;
	if (review_id_ok(id))
		STORE_READ(v->st, rc, store_breakglass_review_get(tx, id, &g));
	if (rc != PV_OK) {
		vault_answer_fail(&a, rc, rc == PV_E_NOTFOUND ? "no such review" : NULL);
		goto out;
	}
	if ((a.body = review_json(v, &g, util_now_ms())) == NULL)
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
out:
	store_breakglass_clear(&g);
	vault_answer_send(&a, done, arg);
}

struct decide_job {
	const char *id;
	const char *verdict;
	const char *by;
	int64_t at;
	const char *note;
};

static enum pv_rc decide_fn(struct store_tx *tx, void *arg)
{
	struct decide_job *j = arg;

	return store_breakglass_review_decide(tx, j->id, j->verdict, j->by, j->at, j->note);
}

/* review.decide from a request: the review as it reads once decided,
 * built before the submit (its reads list is a store read, not the
 * committer's work) and sent from the completion */
struct decide_op {
	struct vault_op op;            /* first: the completion's head */
	struct decide_job j;
	char id[UTIL_ID_MAX];
	char verdict[STORE_BG_CODE_MAX];
	char by[UTIL_ID_MAX];
	char *note;
	json_t *body;
};

static void decide_release(struct vault_op *op)
{
	struct decide_op *d = (struct decide_op *)op;

	free(d->note);
	json_decref(d->body);
	free(d);
}

static void decide_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct decide_op *d = (struct decide_op *)op;

	if (rc != PV_OK) {
		vault_answer_fail(a, rc == PV_E_NOTFOUND ? PV_E_CONFLICT : rc,
		    rc == PV_E_NOTFOUND ? "This review has a verdict already" : NULL);
		return;
	}
	a->body = d->body;
	d->body = NULL;
}

void vault_review_settle(struct vault_ctx *v, const struct vault_caller *who, const char *id,
    const json_t *body, vault_done_fn done, void *arg)
{
	struct store_breakglass g;
	struct vault_answer a;
	struct audit_event ev;
	struct decide_op *dop = NULL;
	const char *verdict = json_string_value(json_object_get(body, "verdict"));
	const json_t *nj = json_object_get(body, "note");
	const char *note = json_string_value(nj);
	char res[BG_RESOURCE_MAX], *detail = NULL;
	int64_t now = util_now_ms();
	json_t *d;
	enum pv_rc rc;

	vault_answer_init(&a);
	memset(&g, 0, sizeof(g));
	/* access.approve first: a stranger learns nothing of the review */
	if (bg_decide(v, who, "access.approve", "review.decide", "reviews", NULL, &a) != PV_OK)
		goto out;
	rc = PV_E_NOTFOUND;
	if (review_id_ok(id))
		STORE_READ(v->st, rc, store_breakglass_review_get(tx, id, &g));
	if (rc != PV_OK) {
		vault_answer_fail(&a, rc, rc == PV_E_NOTFOUND ? "no such review" : NULL);
		goto out;
	}
	bg_resource(res, sizeof(res), "reviews", id);
	/* never the grant's holder (by principal: any session of it) */
	if (bg_decide(v, who, "access.approve", "review.decide", res, g.user_id, &a) != PV_OK)
		goto out;
	if (!json_is_object(body) || verdict == NULL || (strcmp(verdict, "appropriate") != 0 &&
	    strcmp(verdict, "inappropriate") != 0)) {
		vault_answer_fail(&a, PV_E_INVALID, "verdict must be appropriate or inappropriate");
		goto out;
	}
	if ((nj != NULL && !json_is_string(nj) && !json_is_null(nj)) ||
	    (note != NULL && strlen(note) > BG_NOTE_MAX)) {
		vault_answer_fail(&a, PV_E_INVALID, "note must be a string of at most 1024 bytes");
		goto out;
	}
	if (strcmp(g.review_status, "open") != 0) {
		vault_answer_fail(&a, PV_E_CONFLICT, "This review has a verdict already");
		goto out;
	}
	if ((dop = calloc(1, sizeof(*dop))) == NULL ||
	    (dop->note = strdup(note != NULL ? note : "")) == NULL) {
		free(dop);
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	util_strlcpy(dop->id, id, sizeof(dop->id));
	util_strlcpy(dop->verdict, verdict, sizeof(dop->verdict));
	util_strlcpy(dop->by, who->subject->user_id, sizeof(dop->by));
	dop->j.id = dop->id;
	dop->j.verdict = dop->verdict;
	dop->j.by = dop->by;
	dop->j.at = now;
	dop->j.note = dop->note;
	dop->op.v = v;
	dop->op.done = done;
	dop->op.done_arg = arg;
	dop->op.finish = decide_finish;
	dop->op.release = decide_release;
	d = json_pack("{s:s, s:s, s:s}", "grant", g.id, "holder", g.user_id, "verdict", verdict);
	detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	util_strlcpy(g.review_status, verdict, sizeof(g.review_status));
	util_strlcpy(g.reviewed_by, dop->by, sizeof(g.reviewed_by));
	g.reviewed_ms = now;
	free(g.review_note);
	g.review_note = strdup(dop->note);
	if (detail == NULL || g.review_note == NULL ||
	    (dop->body = review_json(v, &g, now)) == NULL) {
		decide_release(&dop->op);
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "review.decide";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = verdict;   /* detect: inappropriate raises breakglass_inappropriate */
	ev.detail = detail;
	/* a verdict that came first is the transaction's 409 */
	vault_op_submit(&dop->op, &ev, decide_fn, &dop->j);
	free(detail);
	store_breakglass_clear(&g);
	return;
out:
	free(detail);
	store_breakglass_clear(&g);
	vault_answer_send(&a, done, arg);
}

/* ---- the sweeper: expiries and overdue reviews ---- */

struct due {
	char id[UTIL_ID_MAX];
	char review[UTIL_ID_MAX];
	char holder[UTIL_ID_MAX];
	int64_t at;
	bool expire;                     /* else: review overdue */
};

struct due_list {
	struct due d[64];
	size_t n;
	int64_t now;
};

static int due_row(const struct store_breakglass *g, void *arg)
{
	struct due_list *l = arg;
	bool expire = g->ended_ms == 0 && l->now >= g->expires_ms;
	bool overdue = strcmp(g->review_status, "open") == 0 && !g->overdue_reported &&
	    l->now >= g->review_due_ms;

	if (!expire && !overdue)
		return 0;
	if (l->n == sizeof(l->d) / sizeof(l->d[0]))
		return 1;   /* the rest at the next sweep */
	util_strlcpy(l->d[l->n].id, g->id, UTIL_ID_MAX);
	util_strlcpy(l->d[l->n].review, g->review_id, UTIL_ID_MAX);
	util_strlcpy(l->d[l->n].holder, g->user_id, UTIL_ID_MAX);
	l->d[l->n].at = expire ? g->expires_ms : g->review_due_ms;
	l->d[l->n].expire = expire;
	l->n++;
	return 0;
}

static enum pv_rc overdue_fn(struct store_tx *tx, void *arg)
{
	return store_breakglass_overdue_mark(tx, (const char *)arg);
}

enum pv_rc vault_breakglass_sweep(struct vault_ctx *v, int64_t now)
{
	struct due_list *l = calloc(1, sizeof(*l));
	enum pv_rc rc;
	bool changed = false;

	if (l == NULL)
		return PV_E_NOMEM;
	l->now = now;
	STORE_READ(v->st, rc, store_breakglass_list(tx, NULL, NULL, due_row, l));
	for (size_t i = 0; rc == PV_OK && i < l->n; i++) {
		struct due *d = &l->d[i];
		struct audit_event ev;
		struct end_job j = { d->id, d->at, "expired" };
		char res[BG_RESOURCE_MAX], at[32], *detail;
		json_t *dj;
		enum pv_rc r;

		util_time_fmt(d->at, at, sizeof(at));
		dj = d->expire ? json_pack("{s:s, s:s}", "holder", d->holder, "expired_at", at) :
		    json_pack("{s:s, s:s, s:s}", "grant", d->id, "holder", d->holder, "due_at", at);
		detail = dj != NULL ? json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(dj);
		if (detail == NULL) {
			rc = PV_E_NOMEM;
			break;
		}
		bg_resource(res, sizeof(res), d->expire ? "breakglass" : "reviews",
		    d->expire ? d->id : d->review);
		memset(&ev, 0, sizeof(ev));
		ev.actor = audit_actor_system();
		ev.action = d->expire ? "breakglass.expire" : "review.overdue";
		ev.resource = res;
		ev.outcome = AUDIT_ALLOWED;
		ev.detail = detail;
		r = d->expire ? audit_commit_at(v->audit, &ev, end_fn, &j, COMMIT_BACKGROUND) :
		    audit_commit_at(v->audit, &ev, overdue_fn, d->review, COMMIT_BACKGROUND);
		free(detail);
		if (r == PV_OK && d->expire)
			changed = true;
		else if (r != PV_OK && r != PV_E_NOTFOUND)
			rc = r;   /* ended or decided meanwhile: nothing to report */
	}
	free(l);
	if (changed && v->breakglass != NULL)
		authn_authz_changed(v->breakglass->authn);
	return rc;
}

static void *sweeper(void *arg)
{
	struct vault_ctx *v = arg;
	struct vault_breakglass *b = v->breakglass;
	struct timespec ts;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		pthread_mutex_unlock(&b->mu);
		if (vault_breakglass_sweep(v, util_now_ms()) != PV_OK)
			log_warn("vault: break-glass sweep failed; trying again");
		pthread_mutex_lock(&b->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)BG_SWEEP_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!b->stop)
			(void)pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

enum pv_rc vault_breakglass_install(struct vault_ctx *v, struct http_server *srv,
    struct authn_service *authn, int max_s, int review_due_s)
{
	struct vault_breakglass *b;
	enum pv_rc rc;

	if (v == NULL || authn == NULL || v->breakglass != NULL)
		return PV_E_INVALID;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return PV_E_NOMEM;
	b->authn = authn;
	b->max_s = max_s;
	b->review_due_s = review_due_s;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	v->breakglass = b;
	if (srv != NULL && (rc = vault_routes_breakglass(srv, v)) != PV_OK)
		return rc;
	if (srv != NULL) {
		if (pthread_create(&b->thread, NULL, sweeper, v) != 0)
			return PV_E_NOMEM;
		b->running = true;
	}
	return PV_OK;
}

void vault_breakglass_stop(struct vault_ctx *v)
{
	struct vault_breakglass *b = v != NULL ? v->breakglass : NULL;

	if (b == NULL || !b->running)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	b->running = false;
}

void vault_breakglass_free(struct vault_ctx *v)
{
	struct vault_breakglass *b = v != NULL ? v->breakglass : NULL;

	if (b == NULL)
		return;
	vault_breakglass_stop(v);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b);
	v->breakglass = NULL;
}
