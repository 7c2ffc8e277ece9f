/*
 * directory/multi.c: change sets, several directory operations as one
 * transaction (directory.h "change sets"; docs/internals/directory.md
 * "Change sets").
 *
 * A set is open on one thread at a time (a thread-local pointer). While it
 * is, directory_write (service.c) hands each write to directory_set_collect
 * instead of submitting it: the step keeps the operation's fn, job, finish
 * and a deep copy of its entry. The operation itself ran every check it
 * runs alone; a check that looks a user or a group up sees what an earlier
 * step creates (directory_set_user / _group, called by users.c). The commit
 * is one audit_submitv (or audit_commitv off a request thread): set_fn runs
 * the steps' fns in order in one savepoint, then the read-back; the entries
 * follow, all in the same transaction. In the completion each step's finish
 * runs in order with the set's rc (effects on success: sessions dropped,
 * role sets re-resolved), then the caller's done.
 *
 * Invariants:
 *  - a step's job is freed exactly once (after its finish, or at abort);
 *  - the first failing fn decides the set's rc, and the whole set rolls
 *    back (every entry recorded with outcome "error");
 *  - done runs exactly once; the set is freed after it.
 */
#include <stdlib.h>
#include <string.h>

#include "directory/directory_int.h"

struct set_step {
	struct directory_write w;
	struct directory_result *res;
	struct audit_event ev;          /* deep copy (strings in the set's memory) */
	char user_id[UTIL_ID_MAX];      /* what it creates ("" if nothing) */
	char username[STORE_USERNAME_MAX];
	char group[STORE_ROLE_MAX];
};

struct set_mem {
	struct set_mem *next;
	bool result;                    /* a directory_result: wiped before it goes */
	max_align_t data[];
};

struct directory_set {
	struct directory *d;
	struct set_step *steps;
	size_t n, cap;
	struct set_mem *mem;
	enum { READ_NONE, READ_USER, READ_USERS } read;
	char read_id[UTIL_ID_MAX];
	json_t *out;                    /* what the transaction read back */
	enum pv_rc failed_rc;
	size_t failed;                  /* the step whose fn failed (n: none) */
	directory_set_done_fn done;
	void *done_arg;
};

static _Thread_local struct directory_set *open_set;

static void *
mem_new(struct directory_set *set, size_t n, bool result)
{
	struct set_mem *m = calloc(1, sizeof(*m) + n);

	if (m == NULL)
		return NULL;
	m->result = result;
	m->next = set->mem;
	set->mem = m;
	return m->data;
}

void *
directory_set_alloc(struct directory_set *set, size_t n)
{
	return mem_new(set, n, false);
}

char *
directory_set_strdup(struct directory_set *set, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = mem_new(set, n, false);

	if (p != NULL)
		memcpy(p, str, n);
	return p;
}

struct directory_result *
directory_set_result(struct directory_set *set)
{
	return mem_new(set, sizeof(struct directory_result), true);
}

enum pv_rc
directory_set_begin(struct directory *d, struct directory_set **out)
{
	struct directory_set *set;

	if (d == NULL || out == NULL || open_set != NULL)
		return PV_E_INVALID;
	if ((set = calloc(1, sizeof(*set))) == NULL)
		return PV_E_NOMEM;
	set->d = d;
	open_set = set;
	*out = set;
	return PV_OK;
}

static void
set_free(struct directory_set *set)
{
	struct set_mem *m, *next;
	size_t i;

	if (open_set == set)
		open_set = NULL;
	for (i = 0; i < set->n; i++) {
		struct set_step *st = &set->steps[i];

		if (st->w.job_free != NULL)
			st->w.job_free(st->w.job);
		else
			free(st->w.job);
	}
	for (m = set->mem; m != NULL; m = next) {
		next = m->next;
		if (m->result)
			directory_result_wipe((struct directory_result *)m->data);
		free(m);
	}
	json_decref(set->out);
	free(set->steps);
	free(set);
}

void
directory_set_abort(struct directory_set *set)
{
	if (set != NULL)
		set_free(set);
}

enum pv_rc
directory_set_read_user(struct directory_set *set, const char *id)
{
	if (id == NULL || strlen(id) >= sizeof(set->read_id))
		return PV_E_INVALID;
	memcpy(set->read_id, id, strlen(id) + 1);
	set->read = READ_USER;
	return PV_OK;
}

void
directory_set_read_users(struct directory_set *set)
{
	set->read = READ_USERS;
}

bool
directory_set_async(const struct directory_set *set)
{
	/* without a step nothing is committed: the answer is read at once */
	return set->n > 0 && util_request_thread();
}

/* A copy of s in the set's memory ("" stays NULL when s is NULL). */
static bool
keep(struct directory_set *set, const char **s)
{
	if (*s == NULL)
		return true;
	return (*s = directory_set_strdup(set, *s)) != NULL;
}

bool
directory_set_collect(struct directory *s, const struct audit_event *ev,
    const struct directory_write *w, const struct store_user *u, const struct store_group *g,
    struct directory_result *res, enum pv_rc *rc)
{
	struct directory_set *set = open_set;
	struct set_step *st;

	if (set == NULL || set->d != s)
		return false;
	*rc = PV_E_NOMEM;
	if (g != NULL && g->roles != NULL && strcmp(g->roles, "[]") != 0) {
		*rc = directory_fail(res, PV_E_INVALID, "a group made together with other changes "
		    "has no roles");
		goto drop;
	}
	if (ev == NULL || ev->nsubjects > 0 || ev->recipient != NULL) {
		*rc = PV_E_INVALID;   /* not a directory entry */
		goto drop;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 8;
		struct set_step *v = realloc(set->steps, cap * sizeof(*v));

		if (v == NULL)
			goto drop;
		set->steps = v;
		set->cap = cap;
	}
	st = &set->steps[set->n];
	memset(st, 0, sizeof(*st));
	st->ev = *ev;
	if (!keep(set, &st->ev.action) || !keep(set, &st->ev.resource) ||
	    !keep(set, &st->ev.purpose_of_use) || !keep(set, &st->ev.reason) ||
	    !keep(set, &st->ev.detail))
		goto drop;
	st->w = *w;
	st->res = res;
	if (u != NULL) {
		util_strlcpy(st->user_id, u->id, sizeof(st->user_id));
		util_strlcpy(st->username, u->username, sizeof(st->username));
		/* the caller's next step names the user before the commit */
		if (res != NULL) {
			util_strlcpy(res->id, st->user_id, sizeof(res->id));
			util_strlcpy(res->username, st->username, sizeof(res->username));
		}
	}
	if (g != NULL)
		util_strlcpy(st->group, g->name, sizeof(st->group));
	set->n++;   /* the set owns the job from here on */
	*rc = PV_OK;
	return true;
drop:
	/* directory_write's contract: the job is freed on every path */
	if (w->job_free != NULL)
		w->job_free(w->job);
	else
		free(w->job);
	return true;
}

bool
directory_set_user(const char *id, struct store_user *u)
{
	struct directory_set *set = open_set;
	size_t i;

	for (i = 0; set != NULL && id != NULL && i < set->n; i++)
		if (strcmp(set->steps[i].user_id, id) == 0) {
			memset(u, 0, sizeof(*u));
			util_strlcpy(u->id, set->steps[i].user_id, sizeof(u->id));
			util_strlcpy(u->username, set->steps[i].username, sizeof(u->username));
			return true;
		}
	return false;
}

bool
directory_set_group(const char *name)
{
	struct directory_set *set = open_set;
	size_t i;

	for (i = 0; set != NULL && name != NULL && i < set->n; i++)
		if (set->steps[i].group[0] != '\0' && strcmp(set->steps[i].group, name) == 0)
			return true;
	return false;
}

/* ---- the transaction ---- */

static int
on_user(const struct store_user *u, void *arg)
{
	struct directory_list *l = arg;

	return directory_list_add(l, directory_user_json(l->tx, u));
}

/* What the answer shows, read in tx (the set's own, or a read one). */
static enum pv_rc
read_back(struct directory_set *set, struct store_tx *tx)
{
	struct directory_list l = { tx, NULL, false };
	struct store_user u;
	enum pv_rc rc;

	switch (set->read) {
	case READ_NONE:
		return PV_OK;
	case READ_USER:
		if ((rc = store_user_get(tx, set->read_id, &u)) != PV_OK)
			return rc;
		set->out = directory_user_json(tx, &u);
		store_user_clear(&u);
		return set->out != NULL ? PV_OK : PV_E_NOMEM;
	case READ_USERS:
		if ((l.arr = json_array()) == NULL)
			return PV_E_NOMEM;
		rc = store_user_list(tx, on_user, &l);
		if (rc == PV_OK && l.failed)
			rc = PV_E_NOMEM;
		if (rc != PV_OK) {
			json_decref(l.arr);
			return rc;
		}
		set->out = l.arr;
		return PV_OK;
	}
	return PV_E_INTERNAL;
}

static enum pv_rc
set_fn(struct store_tx *tx, void *arg)
{
	struct directory_set *set = arg;
	size_t i;
	enum pv_rc rc;

	set->failed = set->n;
	json_decref(set->out);
	set->out = NULL;
	for (i = 0; i < set->n; i++) {
		struct set_step *st = &set->steps[i];

		if (st->w.fn != NULL && (rc = st->w.fn(tx, st->w.job)) != PV_OK) {
			set->failed = i;
			return rc;
		}
	}
	if ((rc = read_back(set, tx)) != PV_OK) {
		json_decref(set->out);
		set->out = NULL;
	}
	return rc;
}

/* After the commit: each step's finish in order, then the caller's done. */
static enum pv_rc
set_end(struct directory_set *set, enum pv_rc rc)
{
	const struct directory_result *res = NULL;
	enum pv_rc out = rc, r;
	json_t *read = NULL;
	size_t i;

	for (i = 0; i < set->n; i++) {
		struct set_step *st = &set->steps[i];

		r = st->w.finish != NULL ? st->w.finish(set->d, rc, st->w.job, st->res) : rc;
		/* the answer: the failing step's (its message), else the last's */
		if (rc != PV_OK && (i == set->failed || (set->failed == set->n && res == NULL))) {
			out = r;
			res = st->res;
		}
		if (rc == PV_OK)
			res = st->res;
	}
	if (out == PV_OK) {
		read = set->out;
		set->out = NULL;
	}
	r = set->done(out, res, read, set->done_arg);
	set_free(set);
	return r;
}

static void
set_done(enum pv_rc rc, void *arg)
{
	(void)set_end(arg, rc);
}

enum pv_rc
directory_set_commit(struct directory_set *set, directory_set_done_fn done, void *arg)
{
	struct audit_event *evs = NULL;
	struct store_tx *tx = NULL;
	size_t i;
	enum pv_rc rc;

	if (open_set == set)
		open_set = NULL;
	set->done = done;
	set->done_arg = arg;
	set->failed = set->n;
	if (set->n == 0) {
		/* nothing to write: the answer is read now, no commit */
		if ((rc = store_begin(set->d->st, STORE_RD, &tx)) == PV_OK) {
			rc = read_back(set, tx);
			store_end(tx);
		}
		return set_end(set, rc);
	}
	if ((evs = calloc(set->n, sizeof(*evs))) == NULL)
		return set_end(set, PV_E_NOMEM);
	for (i = 0; i < set->n; i++)
		evs[i] = set->steps[i].ev;
	if (!directory_set_async(set)) {
		rc = audit_commitv(set->d->audit, evs, set->n, set_fn, set, COMMIT_REQUEST);
		free(evs);
		return set_end(set, rc);
	}
	/* the entries are copied by the writer; the steps' strings need not outlive this */
	rc = audit_submitv(set->d->audit, evs, set->n, set_fn, set, COMMIT_REQUEST, set_done, set);
	free(evs);
	if (rc != PV_OK)   /* not queued: no completion comes */
		return set_end(set, rc == PV_E_INVALID || rc == PV_E_UNAVAILABLE ? rc : PV_E_AUDIT);
	return PV_PENDING;
}
