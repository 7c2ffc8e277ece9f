/*
 * vault/ops_subjects.c: subjects (patients) as an API (API.md "Keys":
 * DELETE /v1/subjects/{subject}, legal hold). Every operation needs
 * records.shred (built-in security_officer), decided here by the decision
 * point on resource "subjects/<ref>", so neither a denial nor an allowed
 * entry ever names the subject value: only its reference (the keyed HMAC,
 * vault_subject_ref). routes_subjects.c adapts them to HTTP.
 *
 *   show      hold state and live records per collection        subject.read
 *   shred     destroy the subject key, shred its records        subject.shred
 *   hold      set a legal hold {"reason"}                       subject.hold
 *   release   clear it                                          subject.release
 *
 * A shred is one transaction (a vault_op, answered from its completion
 * once durable): the records' DEKs and blind-index entries,
 * the subject key, the tombstone and the entry (detail: counts per
 * collection) commit together or not at all. The counts are read first
 * and checked again inside the transaction (a record written meanwhile:
 * the completion reads again and resubmits, at most three attempts), so the
 * entry is exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define SUBJECT_RESOURCE_MAX (sizeof("subjects/") + STORE_SUBJECT_REF_LEN)
#define SHRED_ATTEMPTS 3

/* The reference of a path's subject value into ref ("" if there can be no
 * such subject) and the entry's resource. PV_E_INVALID for a bad value. */
static enum pv_rc subject_resource(struct vault_ctx *v, const char *value,
    char ref[STORE_SUBJECT_REF_LEN + 1], char *res, size_t reslen)
{
	enum pv_rc rc = vault_subject_ref(v->keys, value, ref);

	if (rc == PV_E_NOTFOUND)
		ref[0] = '\0', rc = PV_OK;   /* no subject was ever made */
	if (rc != PV_OK)
		ref[0] = '\0';
	snprintf(res, reslen, "subjects%s%s", ref[0] != '\0' ? "/" : "", ref);
	return rc;
}

/* decide records.shred and the reference; PV_OK or a's failure */
static enum pv_rc subject_begin(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *value, char ref[STORE_SUBJECT_REF_LEN + 1],
    char *res, size_t reslen, struct vault_answer *a)
{
	const char *purpose = NULL;
	enum pv_rc rc = subject_resource(v, value, ref, res, reslen);
	enum pv_rc drc;

	if ((drc = vault_decide(v, who, action, res, "records.shred", NULL, &purpose, a)) != PV_OK)
		return drc;
	if (rc != PV_OK)
		return vault_fail_audited(v, who, action, res, NULL, PV_E_INVALID,
		    "the subject must be 1 to 4096 bytes", a);
	return PV_OK;
}

/* ---- counts per collection ---- */

struct counts {
	json_t *obj;      /* {"<collection>": n} */
	uint64_t total;
};

static int count_cb(const char *collection, uint64_t n, void *arg)
{
	struct counts *c = arg;

	c->total += n;
	return json_object_set_new(c->obj, collection, json_integer((json_int_t)n)) != 0;
}

static enum pv_rc counts_tx(struct store_tx *tx, const char *ref, struct counts *c)
{
	return store_subject_counts(tx, ref, count_cb, c);
}

/* ---- show ---- */

struct show_ctx {
	const char *ref;
	struct store_subject s;
	int64_t tomb_ms;
	bool shredded;
	struct counts counts;
};

static enum pv_rc show_tx(struct store_tx *tx, struct show_ctx *x)
{
	enum pv_rc rc = store_subject_get(tx, x->ref, &x->s);

	if (rc == PV_E_NOTFOUND) {
		rc = store_subject_tombstone_get(tx, x->ref, &x->tomb_ms);
		x->shredded = rc == PV_OK;
	}
	if (rc == PV_OK)
		rc = counts_tx(tx, x->ref, &x->counts);
	return rc;
}

void vault_subject_show(struct vault_ctx *v, const struct vault_caller *who, const char *value,
    vault_done_fn done, void *arg)
{
	char ref[STORE_SUBJECT_REF_LEN + 1], res[SUBJECT_RESOURCE_MAX];
	struct show_ctx x;
	struct vault_answer a;
	json_t *hold = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	memset(&x, 0, sizeof(x));
	if (subject_begin(v, who, "subject.read", value, ref, res, sizeof(res), &a) != PV_OK)
		goto out;
	x.ref = ref;
	rc = PV_E_NOTFOUND;
	if (ref[0] != '\0' && (x.counts.obj = json_object()) != NULL)
		STORE_READ(v->st, rc, show_tx(tx, &x));
	if (rc != PV_OK) {
		vault_fail_audited(v, who, "subject.read", res, NULL, rc,
		    rc == PV_E_NOTFOUND ? "no such subject" : NULL, &a);
		goto out;
	}
	if (x.s.hold_ms != 0)
		hold = json_pack("{s:s, s:s, s:I}", "reason", x.s.hold_reason, "by", x.s.hold_by,
		    "since_ms", (json_int_t)x.s.hold_ms);
	else
		hold = json_null();
	a.body = json_pack("{s:s, s:s, s:o, s:O, s:I, s:I}", "subject", ref,
	    "state", x.shredded ? "shredded" : "active", "hold", hold,
	    "collections", x.counts.obj, "records", (json_int_t)x.counts.total,
	    x.shredded ? "shredded_ms" : "created_ms",
	    (json_int_t)(x.shredded ? x.tomb_ms : x.s.created_ms));
	if (a.body == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	if (vault_audit(v, who, "subject.read", res, NULL, AUDIT_ALLOWED, NULL, NULL) != PV_OK) {
		json_decref(a.body);
		a.body = NULL;
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	}
out:
	json_decref(x.counts.obj);
	store_subject_clear(&x.s);
	vault_answer_send(&a, done, arg);
}

/* ---- shred ---- */

struct shred_job {
	const char *ref;
	json_t *expect;    /* counts read before */
	json_t *got;       /* counts of what the transaction shreds */
};

static int shred_cb(const char *collection, const char *record_id, void *arg)
{
	struct shred_job *j = arg;
	json_int_t n = json_integer_value(json_object_get(j->got, collection));

	(void)record_id;
	return json_object_set_new(j->got, collection, json_integer(n + 1)) != 0;
}

static enum pv_rc shred_fn(struct store_tx *tx, void *arg)
{
	struct shred_job *j = arg;
	struct store_subject s;
	int64_t ms;
	enum pv_rc rc;

	memset(&s, 0, sizeof(s));
	rc = store_subject_get(tx, j->ref, &s);
	if (rc == PV_E_NOTFOUND && store_subject_tombstone_get(tx, j->ref, &ms) == PV_OK)
		rc = PV_E_SUBJECT_SHREDDED;
	if (rc == PV_OK && s.hold_ms != 0)
		rc = PV_E_LEGAL_HOLD;
	store_subject_clear(&s);
	if (rc != PV_OK)
		return rc;
	json_object_clear(j->got);
	rc = store_subject_shred(tx, j->ref, util_now_ms(), shred_cb, j);
	if (rc == PV_OK && !json_equal(j->got, j->expect))
		rc = PV_E_CONFLICT;   /* a record came or went since the count: again */
	return rc;
}

/* A shred from a request: counted, submitted, answered from the
 * completion; a record that came or went since the count (the
 * transaction's PV_E_CONFLICT) has the count done again and the shred
 * submitted again from the completion, at most SHRED_ATTEMPTS in all. */
struct shred_op {
	struct vault_op op;            /* first: the completion's head */
	struct shred_job j;
	char ref[STORE_SUBJECT_REF_LEN + 1];
	char res[SUBJECT_RESOURCE_MAX];
	int attempt;
};

static void shred_release(struct vault_op *op)
{
	struct shred_op *s = (struct shred_op *)op;

	json_decref(s->j.expect);
	json_decref(s->j.got);
	free(s);
}

static void shred_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct shred_op *s = (struct shred_op *)op;

	if (rc == PV_E_CONFLICT && s->attempt < SHRED_ATTEMPTS) {
		op->again = true;
		return;
	}
	if (rc == PV_OK) {
		log_info("vault: subject %.12s... shredded", s->ref);
		a->body = json_pack("{s:s, s:s, s:O}", "subject", s->ref, "state", "shredded",
		    "collections", s->j.expect);
		if (a->body == NULL)
			vault_answer_fail(a, PV_E_NOMEM, NULL);
	} else if (rc == PV_E_LEGAL_HOLD || rc == PV_E_SUBJECT_SHREDDED || rc == PV_E_CONFLICT) {
		/* recorded with the entry (outcome error, reason the code) */
		vault_answer_fail(a, rc, rc == PV_E_LEGAL_HOLD ?
		    "the subject is under legal hold" : NULL);
	} else if (rc == PV_E_NOTFOUND) {
		vault_op_refuse_as(op, "subject.shred", s->res, AUDIT_ERROR, http_rc_code(rc), rc,
		    "no such subject");
	} else {
		vault_answer_fail(a, rc, NULL);
	}
}

/* One attempt: count, then submit the shred with the counts as its entry's
 * detail. On a failure before the submit the op completes with it. */
static void shred_attempt(struct vault_op *op)
{
	struct shred_op *s = (struct shred_op *)op;
	struct vault_ctx *v = op->v;
	struct audit_event ev;
	struct show_ctx x;
	char *detail = NULL;
	json_t *d;
	enum pv_rc rc;

	s->attempt++;
	json_decref(s->j.expect);
	s->j.expect = NULL;
	memset(&x, 0, sizeof(x));
	x.ref = s->ref;
	if ((x.counts.obj = json_object()) == NULL) {
		s->attempt = SHRED_ATTEMPTS;
		vault_op_complete(op, PV_E_NOMEM);
		return;
	}
	STORE_READ(v->st, rc, show_tx(tx, &x));
	store_subject_clear(&x.s);
	if (rc == PV_OK && x.shredded)
		rc = PV_E_SUBJECT_SHREDDED;
	if (rc != PV_OK) {
		json_decref(x.counts.obj);
		s->attempt = SHRED_ATTEMPTS;
		vault_op_complete(op, rc);
		return;
	}
	s->j.expect = x.counts.obj;
	d = json_pack("{s:s, s:O, s:I}", "subject", s->ref, "collections", x.counts.obj,
	    "records", (json_int_t)x.counts.total);
	detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	if (detail == NULL) {
		s->attempt = SHRED_ATTEMPTS;
		vault_op_complete(op, PV_E_NOMEM);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.actor = op->actor;
	ev.action = "subject.shred";
	ev.resource = s->res;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	/* the hold and shredded checks are the transaction's; the answer
	 * (200 only once the shred is durable) leaves from the completion */
	vault_op_submit(op, &ev, shred_fn, &s->j);
	free(detail);
}

void vault_subject_shred(struct vault_ctx *v, const struct vault_caller *who, const char *value,
    vault_done_fn done, void *arg)
{
	char ref[STORE_SUBJECT_REF_LEN + 1], res[SUBJECT_RESOURCE_MAX];
	struct shred_op *s = NULL;
	struct vault_answer a;

	vault_answer_init(&a);
	if (subject_begin(v, who, "subject.shred", value, ref, res, sizeof(res), &a) != PV_OK)
		goto out;
	if (ref[0] == '\0') {
		vault_fail_audited(v, who, "subject.shred", res, NULL, PV_E_NOTFOUND,
		    "no such subject", &a);
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->j.got = json_object()) == NULL) {
		free(s);
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	util_strlcpy(s->ref, ref, sizeof(s->ref));
	util_strlcpy(s->res, res, sizeof(s->res));
	s->j.ref = s->ref;
	s->op.v = v;
	s->op.done = done;
	s->op.done_arg = arg;
	s->op.finish = shred_finish;
	s->op.release = shred_release;
	s->op.resubmit = shred_attempt;
	s->op.actor = *who->actor;
	shred_attempt(&s->op);
	return;
out:
	vault_answer_send(&a, done, arg);
}

/* ---- hold and release ---- */

struct hold_job {
	const char *ref;
	const char *reason;   /* NULL: release */
	const char *by;
};

struct hold_op {
	struct vault_op op;            /* first: the completion's head */
	struct hold_job j;
	char ref[STORE_SUBJECT_REF_LEN + 1];
	char *by;
	char *reason;
	bool hold;
};

static void hold_release(struct vault_op *op)
{
	struct hold_op *h = (struct hold_op *)op;

	free(h->reason);
	free(h->by);
	free(h);
}

static void hold_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct hold_op *h = (struct hold_op *)op;

	if (rc == PV_OK)
		a->body = json_pack("{s:s, s:b}", "subject", h->ref, "hold", h->hold);
	else
		vault_answer_fail(a, rc, rc == PV_E_NOTFOUND ? "no such subject" : NULL);
	if (rc == PV_OK && a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

static enum pv_rc hold_fn(struct store_tx *tx, void *arg)
{
	struct hold_job *j = arg;
	int64_t ms;
	enum pv_rc rc = store_subject_hold(tx, j->ref, j->reason, j->by, util_now_ms());

	if (rc == PV_E_NOTFOUND && store_subject_tombstone_get(tx, j->ref, &ms) == PV_OK)
		rc = PV_E_SUBJECT_SHREDDED;
	return rc;
}

void vault_subject_hold(struct vault_ctx *v, const struct vault_caller *who, const char *value,
    bool hold, json_t *body, vault_done_fn done, void *arg)
{
	const char *action = hold ? "subject.hold" : "subject.release";
	char ref[STORE_SUBJECT_REF_LEN + 1], res[SUBJECT_RESOURCE_MAX];
	struct hold_job j = { ref, NULL, who->actor->user_id };
	struct hold_op *h = NULL;
	struct vault_answer a;
	struct audit_event ev;
	const char *key;
	json_t *val;

	vault_answer_init(&a);
	if (subject_begin(v, who, action, value, ref, res, sizeof(res), &a) != PV_OK)
		goto out;
	if (hold) {
		size_t n;

		json_object_foreach(body, key, val) {
			if (strcmp(key, "reason") != 0) {
				vault_fail_audited(v, who, action, res, NULL, PV_E_INVALID,
				    "unknown key (only 'reason')", &a);
				goto out;
			}
		}
		j.reason = json_string_value(json_object_get(body, "reason"));
		if (j.reason == NULL || (n = strlen(j.reason)) == 0 ||
		    n >= STORE_SUBJECT_REASON_MAX) {
			vault_fail_audited(v, who, action, res, NULL, PV_E_INVALID,
			    "'reason' must be a string of 1 to 256 bytes", &a);
			goto out;
		}
	}
	if (ref[0] == '\0') {
		vault_fail_audited(v, who, action, res, NULL, PV_E_NOTFOUND, "no such subject", &a);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = action;
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	/* the reason is free text an officer typed: kept with the subject, not
	 * copied into the trail (it could name the patient) */
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (j.reason != NULL && (h->reason = strdup(j.reason)) == NULL) ||
	    (j.by != NULL && (h->by = strdup(j.by)) == NULL)) {
		if (h != NULL)
			hold_release(&h->op);
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	util_strlcpy(h->ref, ref, sizeof(h->ref));
	h->j.ref = h->ref;
	h->j.reason = h->reason;
	h->j.by = h->by;
	h->hold = hold;
	h->op.v = v;
	h->op.done = done;
	h->op.done_arg = arg;
	h->op.finish = hold_finish;
	h->op.release = hold_release;
	/* the shredded / no-such-subject checks are the transaction's; the
	 * answer leaves from the completion */
	vault_op_submit(&h->op, &ev, hold_fn, &h->j);
	return;
out:
	vault_answer_send(&a, done, arg);
}

/* ---- tombstones (for backup and restore) ---- */

struct tomb_list {
	struct vault_tombstone *t;
	size_t n, cap;
};

static int tomb_cb(const char *ref, int64_t ms, void *arg)
{
	struct tomb_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct vault_tombstone *t = realloc(l->t, cap * sizeof(*t));

		if (t == NULL)
			return 1;
		l->t = t;
		l->cap = cap;
	}
	if (strlen(ref) != STORE_SUBJECT_REF_LEN)
		return 1;
	memcpy(l->t[l->n].ref, ref, STORE_SUBJECT_REF_LEN + 1);
	l->t[l->n].shredded_ms = ms;
	l->n++;
	return 0;
}

enum pv_rc vault_subject_tombstones_list(struct store *st, struct vault_tombstone **out,
    size_t *n)
{
	struct tomb_list l = { NULL, 0, 0 };
	enum pv_rc rc;

	if (st == NULL || out == NULL || n == NULL)
		return PV_E_INVALID;
	STORE_READ(st, rc, store_subject_tombstone_list(tx, "", 0, tomb_cb, &l));
	if (rc == PV_OK && l.n > 0 && l.t == NULL)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		free(l.t);
		return rc;
	}
	*out = l.t;
	*n = l.n;
	return PV_OK;
}

enum pv_rc vault_subject_tombstones_apply(struct store *restored,
    const struct vault_tombstone *t, size_t n, size_t *applied)
{
	struct store_tx *tx = NULL;
	size_t done = 0;
	enum pv_rc rc;

	if (restored == NULL || (t == NULL && n > 0))
		return PV_E_INVALID;
	if ((rc = store_begin(restored, STORE_WR, &tx)) != PV_OK)
		return rc;
	for (size_t i = 0; rc == PV_OK && i < n; i++) {
		int64_t ms;

		if (store_subject_tombstone_get(tx, t[i].ref, &ms) == PV_OK)
			continue;   /* already there */
		rc = store_subject_shred(tx, t[i].ref, t[i].shredded_ms > 0 ? t[i].shredded_ms : 1,
		    NULL, NULL);
		done++;
	}
	if (rc == PV_OK)
		rc = store_commit(tx);
	store_end(tx);
	if (rc == PV_OK && applied != NULL)
		*applied = done;
	return rc;
}
