/*
 * secrets/ops.c: the secrets operations (secrets.h), apart from HTTP.
 *
 *   put       secrets.write:<path>  secret.write     new version (CAS: If-Match)
 *   get       secrets.read:<path>   secret.read      one version, value released
 *                                                    once its entry is durable
 *   list      secrets.read (each)   secret.list      heads the caller may read
 *   delete    secrets.write:<path>  secret.delete    soft: reads 404 until undelete
 *   undelete  secrets.write:<path>  secret.undelete
 *   destroy   secrets.write:<path>  secret.destroy   one version's DEK and
 *                                                    ciphertext gone (410 after)
 *
 * Each decides through authz_decide (the decision point records a denial
 * itself), and each write is one transaction: the change and its entry
 * (path and version in resource and detail, never the value) commit
 * together, or neither does. A refusal the operation finds (bad input,
 * not found, destroyed, precondition) is recorded too, with the stable
 * API code as reason. No purpose of use: secrets are not PHI.
 * On an HTTP request thread the refusals and the read entries (get, list)
 * are audit_record_held: the answer, not the thread, waits for the entry's
 * commit, and becomes PV_E_AUDIT if it is not durable. The writes are
 * audit_submit with a completion (put_done, change_done) that answers: the
 * version a put made or an undelete found, 404/409/412 from inside the
 * transaction. What would block (a put's retry after a lost race, the
 * first put's KEK) runs on the sweeper thread (secrets_retry_queue).
 * The answer may thus come after the operation returned, from the
 * committer or the sweeper thread.
 *
 * A write seals the next version (current + 1) before it commits, and the
 * commit writes it only if the head is still at the version read
 * (store_secret_write's compare, in the writer's transaction): with
 * If-Match a lost race is 412; without, it is sealed again for the new
 * next version (at most WRITE_TRIES times). Beyond [secrets] max_versions
 * the oldest live versions are destroyed in the same transaction. A
 * write that leaves out metadata or rotate_every_s keeps the current ones.
 *
 * The value's bytes on the server: copied out of the request body into
 * locked memory (crypto_secret_from) for sealing, opened into locked memory
 * on a read; the JSON texts holding them are freed through the process's
 * wiping allocator (daemon process.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "http/http.h"
#include "secrets/secrets_int.h"

#define WRITE_TRIES 3
#define RESOURCE_MAX (sizeof("secrets/") + SECRETS_PATH_MAX + 1)

/* ---- answers ---- */

static void answer_init(struct secrets_answer *a)
{
	memset(a, 0, sizeof(*a));
}

static enum pv_rc answer_fail(struct secrets_answer *a, enum pv_rc rc, const char *msg)
{
	a->rc = rc;
	util_strlcpy(a->message, msg != NULL ? msg : "", sizeof(a->message));
	json_decref(a->body);
	a->body = NULL;
	return rc;
}

static void answer_send(struct secrets_answer *a, secrets_done_fn done, void *arg)
{
	done(a, arg);
	json_decref(a->body);
	a->body = NULL;
}

/* ---- audit and the decision point ---- */

static char *detail_of(const char *path, uint32_t version)
{
	json_t *d = json_object();
	char *out;

	if (d == NULL)
		return NULL;
	if (secrets_path_valid(path))
		json_object_set_new(d, "path", json_string(path));
	if (version > 0)
		json_object_set_new(d, "version", json_integer(version));
	out = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	return out;
}

static void event_init(struct audit_event *ev, const struct secrets_caller *who,
    const char *action, const char *resource, const char *detail)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = *who->actor;
	ev->action = action;
	ev->resource = resource;
	ev->outcome = AUDIT_ALLOWED;
	ev->detail = detail;
}

/* Record a refusal (denied for a precondition or a destroyed version, else
 * error; the stable code as reason) and put it in *a. */
static enum pv_rc refuse(struct secrets *s, const struct secrets_caller *who,
    const char *action, const char *path, uint32_t version, enum pv_rc rc, const char *msg,
    struct secrets_answer *a)
{
	char resource[RESOURCE_MAX], *detail = detail_of(path, version);
	struct audit_event ev;

	secrets_resource(resource, sizeof(resource), path);
	event_init(&ev, who, action, resource, detail);
	ev.outcome = rc == PV_E_PRECONDITION || rc == PV_E_FORBIDDEN ? AUDIT_DENIED : AUDIT_ERROR;
	/* a version that does not open is "integrity" (answered 500), so
	 * detection (decrypt_failures) can tell it apart */
	ev.reason = rc == PV_E_INTEGRITY ? "integrity" : http_rc_code(rc);
	/* answered once durable (PV_E_AUDIT if not); no request thread waits */
	if (audit_record_held(s->audit, &ev, true) != PV_OK)
		rc = PV_E_AUDIT, msg = NULL;
	free(detail);
	return answer_fail(a, rc, msg);
}

/* The decision point on secrets.read / secrets.write of path; a denial is
 * recorded there (audit set) unless quiet (a list's filter). */
static enum pv_rc decide(struct secrets *s, const struct secrets_caller *who, const char *verb,
    const char *audit_action, const char *resource, const char *path, bool quiet,
    struct secrets_answer *a)
{
	struct authz_request q;
	struct authz_decision d;

	memset(&q, 0, sizeof(q));
	q.subject = who->subject;
	q.action = verb;
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = path;
	q.env.source = who->actor->source;
	q.env.time_ms = util_now_ms();
	if (!quiet) {
		q.audit = s->audit;
		q.audit_action = audit_action;
		q.audit_resource = resource;
	}
	if (authz_decide(&q, &d) == PV_OK)
		return PV_OK;
	if (a == NULL)
		return d.rc;
	if (d.audit_failed)
		return answer_fail(a, PV_E_AUDIT, NULL);
	return answer_fail(a, d.rc, d.message);
}

/* ---- parsing ---- */

/* A version in a query or a path: decimal 1..UINT32_MAX, no sign, no
 * leading zero. */
static bool version_parse(const char *t, uint32_t *out)
{
	uint64_t v = 0;

	if (t == NULL || t[0] < '1' || t[0] > '9' || strlen(t) > 10)
		return false;
	for (const char *p = t; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* If-Match of a write: NULL -> none; "0" -> must not exist; "N" or "\"N\""
 * (blanks around ignored) -> the current version must be N. */
static bool if_match_parse(const char *h, bool *cas, uint32_t *expect)
{
	char buf[16];
	const char *p = h;
	size_t n;

	*cas = false;
	*expect = 0;
	if (h == NULL)
		return true;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*cas = true;
	if (strcmp(buf, "0") == 0)
		return true;
	return version_parse(buf, expect);
}

struct put_body {
	const char *value;
	size_t len;
	char *metadata;            /* compact JSON text, malloc'd; NULL: "{}" */
	bool has_rotate;
	int64_t rotate_every_s;
};

static enum pv_rc body_parse(json_t *body, struct put_body *b, const char **why)
{
	const char *key;
	json_t *val;

	memset(b, 0, sizeof(*b));
	if (!json_is_object(body)) {
		*why = "the body must be a JSON object {\"value\",\"metadata\",\"rotate_every_s\"}";
		return PV_E_INVALID;
	}
	json_object_foreach(body, key, val) {
		if (strcmp(key, "value") == 0) {
			if (!json_is_string(val)) {
				*why = "value must be a string";
				return PV_E_INVALID;
			}
			b->value = json_string_value(val);
			b->len = json_string_length(val);
			if (b->len > SECRETS_VALUE_MAX) {
				*why = "value is larger than 65536 bytes";
				return PV_E_TOOBIG;
			}
		} else if (strcmp(key, "metadata") == 0) {
			if (!json_is_object(val) || json_object_size(val) > SECRETS_METADATA_KEYS) {
				*why = "metadata must be an object of at most 32 keys";
				return PV_E_INVALID;
			}
			free(b->metadata);
			b->metadata = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
			if (b->metadata == NULL)
				return PV_E_NOMEM;
			if (strlen(b->metadata) > SECRETS_METADATA_MAX) {
				*why = "metadata is larger than 4096 bytes";
				return PV_E_INVALID;
			}
		} else if (strcmp(key, "rotate_every_s") == 0) {
			if (!json_is_integer(val) || json_integer_value(val) < 0 ||
			    json_integer_value(val) > SECRETS_ROTATE_MAX_S) {
				*why = "rotate_every_s must be an integer from 0 (none) to 316224000";
				return PV_E_INVALID;
			}
			b->has_rotate = true;
			b->rotate_every_s = json_integer_value(val);
		} else {
			*why = "unknown key in the body (value, metadata, rotate_every_s)";
			return PV_E_INVALID;
		}
	}
	if (b->value == NULL) {
		*why = "value is required";
		return PV_E_INVALID;
	}
	return PV_OK;
}

/* ---- put ---- */

static enum pv_rc ensure_fn(struct store_tx *tx, void *arg)
{
	return keys_kek_ensure_tx(arg, tx, STORE_SECRETS_KEK);
}

struct write_job {
	struct store_secret head;
	struct store_secret_version ver;
	uint32_t expected;
	int max_versions;
	int64_t now;
};

static enum pv_rc write_fn(struct store_tx *tx, void *arg)
{
	struct write_job *j = arg;
	enum pv_rc rc = store_secret_write(tx, &j->head, &j->ver, j->expected);

	/* [secrets] max_versions: the oldest live ones beyond it are destroyed */
	if (rc == PV_OK && j->ver.version > (uint32_t)j->max_versions)
		rc = store_secret_versions_prune(tx, j->ver.path,
		    j->ver.version - (uint32_t)j->max_versions + 1, j->now, NULL);
	return rc;
}

struct head_read {
	bool exists;
	uint32_t current;
	int64_t rotate_every_s;
	char *metadata;            /* the current version's (malloc'd) */
};

static enum pv_rc head_read_tx(struct store_tx *tx, const char *path, struct head_read *h)
{
	struct store_secret row;
	enum pv_rc rc;

	memset(&row, 0, sizeof(row));
	memset(h, 0, sizeof(*h));
	rc = store_secret_get(tx, path, &row);
	if (rc == PV_E_NOTFOUND)
		return PV_OK;
	if (rc != PV_OK)
		return rc;
	h->exists = true;
	h->current = row.current_version;
	h->rotate_every_s = row.rotate_every_s;
	h->metadata = row.metadata;
	row.metadata = NULL;
	store_secret_clear(&row);
	return PV_OK;
}

/*
 * One PUT in flight. Its first attempt runs on the request thread and
 * submits the write with put_done as completion (audit_submit): no thread
 * waits for the fsync. What must block goes to the sweeper thread
 * (secrets_retry_queue, overdue.c), which runs the attempt again and may
 * wait (it is no request thread): a lost race without If-Match (read the
 * head again, seal the next version: the committer does neither) and the
 * very first write, which makes KEK "secrets" through the audit writer.
 * The caller's strings (actor, principal) live until done, called once.
 */
struct put_op {
	struct secrets_retry retry;   /* first: the queue's link */
	struct secrets *s;
	struct pv_actor actor;
	struct secrets_caller who;    /* who.actor is &actor */
	char path[SECRETS_PATH_MAX + 1];
	char resource[RESOURCE_MAX];
	struct pv_secret *value;
	size_t len;
	char *metadata;               /* NULL: the current version's */
	bool has_rotate;
	int64_t rotate_every_s;
	bool cas;
	uint32_t expect;
	int attempt;
	bool exists;                  /* the head the attempt read */
	uint32_t next;                /* the version it sealed */
	struct write_job j;
	char *detail;
	secrets_done_fn done;
	void *arg;
};

static void put_op_free(struct put_op *op)
{
	crypto_secret_free(op->value);
	op->j.ver.metadata = NULL;    /* borrowed */
	store_secret_version_clear(&op->j.ver);
	free(op->metadata);
	free(op->detail);
	free(op);
}

static void put_finish(struct put_op *op, struct secrets_answer *a)
{
	answer_send(a, op->done, op->arg);
	put_op_free(op);
}

static void put_fail(struct put_op *op, enum pv_rc rc, const char *msg)
{
	struct secrets_answer a;

	answer_init(&a);
	answer_fail(&a, rc, msg);
	put_finish(op, &a);
}

static void put_refuse(struct put_op *op, enum pv_rc rc, uint32_t version, const char *msg)
{
	struct secrets_answer a;

	answer_init(&a);
	refuse(op->s, &op->who, "secret.write", op->path, version, rc, msg, &a);
	put_finish(op, &a);
}

static void put_retry_queue(struct put_op *op)
{
	if (!secrets_retry_queue(op->s, &op->retry))
		put_fail(op, PV_E_UNAVAILABLE, NULL);   /* stopping */
}

/* On the committer, after the group: the answer, or a retry queued. */
static void put_done(enum pv_rc rc, void *arg)
{
	struct put_op *op = arg;
	struct secrets_answer a;

	op->j.ver.metadata = NULL;
	store_secret_version_clear(&op->j.ver);
	if (rc == PV_E_CONFLICT && !op->cas && ++op->attempt < WRITE_TRIES) {
		put_retry_queue(op);   /* another writer got that version: seal the next one */
		return;
	}
	if (rc == PV_E_CONFLICT) {
		put_fail(op, op->cas ? PV_E_PRECONDITION : PV_E_CONFLICT, op->cas ?
		    "the secret changed under the If-Match" :
		    "the secret is being written by others; try again");
		return;
	}
	if (rc != PV_OK) {
		put_fail(op, rc, NULL);
		return;
	}
	answer_init(&a);
	a.created = !op->exists;
	a.body = json_pack("{s:s, s:i}", "path", op->path, "version", (int)op->next);
	if (a.body == NULL)
		answer_fail(&a, PV_E_NOMEM, NULL);
	put_finish(op, &a);
}

/* One attempt: read the head, check it, seal the next version, submit.
 * Ends in an answer, a queued retry, or (later) put_done. */
static void put_attempt(struct put_op *op)
{
	struct secrets *s = op->s;
	struct head_read h;
	struct audit_event ev;
	enum pv_rc rc;

	STORE_READ(s->st, rc, head_read_tx(tx, op->path, &h));
	if (rc != PV_OK) {
		put_fail(op, rc, NULL);
		return;
	}
	/* what the body leaves out stays as it was: metadata, rotate_every_s */
	if (op->metadata == NULL) {
		op->metadata = h.metadata;
		h.metadata = NULL;
	}
	free(h.metadata);
	if (op->cas && (op->expect == 0 ? h.exists : (!h.exists || h.current != op->expect))) {
		put_refuse(op, PV_E_PRECONDITION, h.current, op->expect == 0 ?
		    "the secret exists (If-Match: 0)" :
		    "the secret is not at the version of If-Match");
		return;
	}
	if (h.current == UINT32_MAX) {
		put_refuse(op, PV_E_STATE, h.current, "the secret has no version number left");
		return;
	}
	op->next = h.current + 1;
	op->exists = h.exists;
	memset(&op->j, 0, sizeof(op->j));
	rc = secrets_seal(s->keys, op->path, op->next, op->value->buf, op->len, &op->j.ver);
	if (rc == PV_E_NOTFOUND) {
		/* KEK "secrets" is made on first use, through the audit writer
		 * like every runtime key write: a blocking commit, so not here
		 * on a request thread */
		if (util_request_thread()) {
			put_retry_queue(op);
			return;
		}
		if ((rc = audit_commit(s->audit, NULL, ensure_fn, s->keys)) == PV_OK)
			rc = secrets_seal(s->keys, op->path, op->next, op->value->buf, op->len,
			    &op->j.ver);
	}
	if (rc != PV_OK) {
		put_fail(op, rc, NULL);
		return;
	}
	op->j.now = util_now_ms();
	op->j.expected = h.exists ? h.current : 0;
	op->j.max_versions = s->max_versions;
	util_strlcpy(op->j.head.path, op->path, sizeof(op->j.head.path));
	op->j.head.current_version = op->next;
	op->j.head.rotate_every_s = op->has_rotate ? op->rotate_every_s : h.rotate_every_s;
	op->j.head.updated_ms = op->j.now;
	op->j.head.metadata = op->metadata;      /* borrowed */
	op->j.ver.metadata = op->metadata;       /* borrowed */
	op->j.ver.created_ms = op->j.now;
	free(op->detail);
	if ((op->detail = detail_of(op->path, op->next)) == NULL) {
		put_fail(op, PV_E_NOMEM, NULL);
		return;
	}
	event_init(&ev, &op->who, "secret.write", op->resource, op->detail);
	/* a lost race comes back as put_done's rc, recorded as an error entry */
	if ((rc = audit_submit(s->audit, &ev, write_fn, &op->j, COMMIT_REQUEST, put_done, op)) !=
	    PV_OK)
		put_fail(op, rc, NULL);
}

static void put_retry(struct secrets_retry *r, bool stopping)
{
	struct put_op *op = (struct put_op *)r;

	if (stopping)
		put_fail(op, PV_E_UNAVAILABLE, NULL);
	else
		put_attempt(op);
}

void secrets_put(struct secrets *s, const struct secrets_caller *who, const char *path,
    const char *if_match, json_t *body, secrets_done_fn done, void *arg)
{
	struct secrets_answer a;
	struct put_body b;
	struct put_op *op;
	char resource[RESOURCE_MAX];
	const char *why = NULL;
	bool cas = false;
	uint32_t expect = 0;
	enum pv_rc rc;

	answer_init(&a);
	memset(&b, 0, sizeof(b));
	if (!secrets_path_valid(path)) {
		refuse(s, who, "secret.write", NULL, 0, PV_E_INVALID,
		    "path must be 1..100 of [a-z0-9_.-/], at most 8 segments, no empty, '.' "
		    "or '..' segment", &a);
		goto out;
	}
	secrets_resource(resource, sizeof(resource), path);
	if (decide(s, who, "secrets.write", "secret.write", resource, path, false, &a) != PV_OK)
		goto out;
	if (!if_match_parse(if_match, &cas, &expect)) {
		refuse(s, who, "secret.write", path, 0, PV_E_INVALID,
		    "If-Match must be a version number (0: the secret must not exist)", &a);
		goto out;
	}
	if ((rc = body_parse(body, &b, &why)) != PV_OK) {
		refuse(s, who, "secret.write", path, 0, rc, why, &a);
		goto out;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	if ((rc = crypto_secret_from(b.len > 0 ? b.value : "", b.len > 0 ? b.len : 1,
	    &op->value)) != PV_OK) {
		put_op_free(op);
		answer_fail(&a, rc, NULL);
		goto out;
	}
	op->retry.run = put_retry;
	op->s = s;
	op->actor = *who->actor;
	op->who.subject = who->subject;
	op->who.actor = &op->actor;
	util_strlcpy(op->path, path, sizeof(op->path));
	util_strlcpy(op->resource, resource, sizeof(op->resource));
	op->len = b.len;
	op->metadata = b.metadata;
	b.metadata = NULL;
	op->has_rotate = b.has_rotate;
	op->rotate_every_s = b.rotate_every_s;
	op->cas = cas;
	op->expect = expect;
	op->done = done;
	op->arg = arg;
	put_attempt(op);   /* answers, now or from a completion */
	return;
out:
	free(b.metadata);
	answer_send(&a, done, arg);
}

/* ---- get ---- */

struct read_job {
	const char *path;
	uint32_t version;          /* 0: current */
	struct store_secret_version ver;
};

static enum pv_rc read_tx(struct store_tx *tx, struct read_job *j)
{
	struct store_secret head;
	enum pv_rc rc;

	memset(&head, 0, sizeof(head));
	if ((rc = store_secret_get(tx, j->path, &head)) != PV_OK)
		return rc;
	if (head.deleted_ms != 0 || (j->version != 0 && j->version > head.current_version)) {
		store_secret_clear(&head);
		return PV_E_NOTFOUND;
	}
	if (j->version == 0)
		j->version = head.current_version;
	store_secret_clear(&head);
	return store_secret_version_get(tx, j->path, j->version, &j->ver);
}

void secrets_get(struct secrets *s, const struct secrets_caller *who, const char *path,
    const char *version, secrets_done_fn done, void *arg)
{
	struct secrets_answer a;
	struct read_job j;
	struct pv_secret *pt = NULL;
	struct audit_event ev;
	char resource[RESOURCE_MAX], at[32], *detail = NULL;
	json_t *meta = NULL, *val = NULL;
	enum pv_rc rc;

	answer_init(&a);
	memset(&j, 0, sizeof(j));
	j.path = path;
	if (!secrets_path_valid(path)) {
		refuse(s, who, "secret.read", NULL, 0, PV_E_INVALID, "not a secret path", &a);
		goto out;
	}
	secrets_resource(resource, sizeof(resource), path);
	if (version != NULL && !version_parse(version, &j.version)) {
		refuse(s, who, "secret.read", path, 0, PV_E_INVALID,
		    "version must be a number from 1", &a);
		goto out;
	}
	if (decide(s, who, "secrets.read", "secret.read", resource, path, false, &a) != PV_OK)
		goto out;
	STORE_READ(s->st, rc, read_tx(tx, &j));
	if (rc == PV_E_NOTFOUND) {
		refuse(s, who, "secret.read", path, j.version, rc, "no such secret or version", &a);
		goto out;
	}
	if (rc != PV_OK) {
		answer_fail(&a, rc, NULL);
		goto out;
	}
	rc = secrets_open(s->keys, &j.ver, &pt);
	if (rc == PV_E_SECRET_DESTROYED || rc == PV_E_KEY_REVOKED || rc == PV_E_INTEGRITY) {
		refuse(s, who, "secret.read", path, j.version, rc, NULL, &a);
		goto out;
	}
	if (rc != PV_OK) {
		answer_fail(&a, rc, NULL);
		goto out;
	}
	meta = json_loads(j.ver.metadata != NULL ? j.ver.metadata : "{}", 0, NULL);
	val = json_stringn((const char *)pt->buf, pt->len);
	crypto_secret_free(pt);
	pt = NULL;
	if (!json_is_object(meta) || val == NULL) {
		json_decref(val);
		refuse(s, who, "secret.read", path, j.version, PV_E_INTEGRITY, NULL, &a);
		goto out;
	}
	util_time_fmt(j.ver.created_ms, at, sizeof(at));
	if ((detail = detail_of(path, j.version)) == NULL) {
		json_decref(val);
		answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	a.body = json_pack("{s:s, s:i, s:o, s:O, s:s}", "path", path, "version", (int)j.version,
	    "value", val, "metadata", meta, "created_at", at);
	if (a.body == NULL) {
		answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	/* the value leaves only once its entry is durable (fail closed: the
	 * answer becomes PV_E_AUDIT and the body is never sent); the answer,
	 * not the request thread, waits for the commit */
	event_init(&ev, who, "secret.read", resource, detail);
	if (audit_record_held(s->audit, &ev, true) != PV_OK)
		answer_fail(&a, PV_E_AUDIT, NULL);
out:
	crypto_secret_free(pt);
	json_decref(meta);
	store_secret_version_clear(&j.ver);
	free(detail);
	answer_send(&a, done, arg);
}

/* ---- list ---- */

struct list_ctx {
	json_t *arr;
	bool nomem;
};

static int list_cb(const struct store_secret *h, void *arg)
{
	struct list_ctx *l = arg;
	char created[32], updated[32];
	json_t *meta = json_loads(h->metadata != NULL ? h->metadata : "{}", 0, NULL), *o;

	util_time_fmt(h->created_ms, created, sizeof(created));
	util_time_fmt(h->updated_ms, updated, sizeof(updated));
	o = json_pack("{s:s, s:i, s:o, s:I, s:b, s:s, s:s}", "path", h->path, "version",
	    (int)h->current_version, "metadata", json_is_object(meta) ? meta : json_object(),
	    "rotate_every_s", (json_int_t)h->rotate_every_s, "deleted", h->deleted_ms != 0,
	    "created_at", created, "updated_at", updated);
	if (!json_is_object(meta))
		json_decref(meta);
	if (o == NULL || json_array_append_new(l->arr, o) != 0) {
		l->nomem = true;
		return 1;
	}
	return 0;
}

void secrets_list(struct secrets *s, const struct secrets_caller *who, const char *prefix,
    secrets_done_fn done, void *arg)
{
	struct secrets_answer a;
	struct list_ctx l = { NULL, false };
	struct audit_event ev;
	json_t *out = NULL, *el, *d = NULL;
	char *detail = NULL;
	size_t i;
	enum pv_rc rc;

	answer_init(&a);
	if (prefix == NULL)
		prefix = "";
	if (prefix[0] != '\0' && !authz_path_prefix_valid(prefix)) {
		refuse(s, who, "secret.list", NULL, 0, PV_E_INVALID,
		    "prefix must be [a-z0-9_.-/], no leading '/', no '//' or '..'", &a);
		goto out;
	}
	if ((l.arr = json_array()) == NULL || (out = json_array()) == NULL) {
		answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	STORE_READ(s->st, rc, store_secret_list(tx, prefix, list_cb, &l));
	if (rc == PV_OK && l.nomem)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		answer_fail(&a, rc, NULL);
		goto out;
	}
	/* only what the caller may read, each decided by the decision point
	 * (quietly: one secret.list entry says what was listed) */
	json_array_foreach(l.arr, i, el) {
		const char *p = json_string_value(json_object_get(el, "path"));

		if (decide(s, who, "secrets.read", NULL, NULL, p, true, NULL) == PV_OK &&
		    json_array_append(out, el) != 0) {
			answer_fail(&a, PV_E_NOMEM, NULL);
			goto out;
		}
	}
	d = json_pack("{s:s, s:I}", "prefix", prefix, "count", (json_int_t)json_array_size(out));
	if (d == NULL || (detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	event_init(&ev, who, "secret.list", "secrets", detail);
	/* the list leaves once its entry is durable, and no thread waits */
	if (audit_record_held(s->audit, &ev, true) != PV_OK) {
		answer_fail(&a, PV_E_AUDIT, NULL);
		goto out;
	}
	a.body = json_pack("{s:O}", "secrets", out);
	if (a.body == NULL)
		answer_fail(&a, PV_E_NOMEM, NULL);
out:
	json_decref(d);
	json_decref(l.arr);
	json_decref(out);
	free(detail);
	answer_send(&a, done, arg);
}

/* ---- delete, undelete, destroy ---- */

enum change { CH_DELETE, CH_UNDELETE, CH_DESTROY };

struct change_job {
	enum change what;
	const char *path;
	uint32_t version;          /* destroy: the version; out: the current one */
	int64_t now;
};

static enum pv_rc change_fn(struct store_tx *tx, void *arg)
{
	struct change_job *j = arg;
	struct store_secret head;
	struct store_secret_version v;
	enum pv_rc rc;

	memset(&head, 0, sizeof(head));
	memset(&v, 0, sizeof(v));
	if ((rc = store_secret_get(tx, j->path, &head)) != PV_OK)
		return rc;
	switch (j->what) {
	case CH_DELETE:
		rc = head.deleted_ms != 0 ? PV_E_NOTFOUND :
		    store_secret_set_deleted(tx, j->path, j->now);
		j->version = head.current_version;
		break;
	case CH_UNDELETE:
		rc = head.deleted_ms == 0 ? PV_OK : store_secret_set_deleted(tx, j->path, 0);
		j->version = head.current_version;
		break;
	case CH_DESTROY:
		if (j->version > head.current_version) {
			rc = PV_E_NOTFOUND;
			break;
		}
		if ((rc = store_secret_version_get(tx, j->path, j->version, &v)) != PV_OK)
			break;
		/* destroyed already: nothing left to destroy (idempotent) */
		if (v.wrapped_dek != NULL)
			rc = store_secret_version_destroy(tx, j->path, j->version, j->now);
		break;
	}
	store_secret_clear(&head);
	store_secret_version_clear(&v);
	return rc;
}

/* A delete, undelete or destroy in flight: answered from its completion. */
struct change_op {
	struct change_job j;          /* j.path is path */
	char path[SECRETS_PATH_MAX + 1];
	secrets_done_fn done;
	void *arg;
};

/* On the committer, after the group: the answer (404 and the like are the
 * rc of change_fn, recorded as an error entry with its code as reason). */
static void change_done(enum pv_rc rc, void *arg)
{
	struct change_op *op = arg;
	struct secrets_answer a;

	answer_init(&a);
	if (rc != PV_OK)
		answer_fail(&a, rc, rc == PV_E_NOTFOUND ? "no such secret or version" : NULL);
	else if (op->j.what == CH_DESTROY)
		a.body = json_pack("{s:s, s:i, s:b}", "path", op->path, "version",
		    (int)op->j.version, "destroyed", 1);
	else if (op->j.what == CH_UNDELETE)
		a.body = json_pack("{s:s, s:i}", "path", op->path, "version", (int)op->j.version);
	if (rc == PV_OK && op->j.what != CH_DELETE && a.body == NULL)
		answer_fail(&a, PV_E_NOMEM, NULL);
	answer_send(&a, op->done, op->arg);
	free(op);
}

static void change(struct secrets *s, const struct secrets_caller *who, enum change what,
    const char *path, const char *version, secrets_done_fn done, void *arg)
{
	static const char *const actions[] = { "secret.delete", "secret.undelete",
		"secret.destroy" };
	const char *action = actions[what];
	struct secrets_answer a;
	struct change_op *op = NULL;
	uint32_t v = 0;
	struct audit_event ev;
	char resource[RESOURCE_MAX], *detail = NULL;
	enum pv_rc rc;

	answer_init(&a);
	if (!secrets_path_valid(path)) {
		refuse(s, who, action, NULL, 0, PV_E_INVALID, "not a secret path", &a);
		goto out;
	}
	secrets_resource(resource, sizeof(resource), path);
	if (what == CH_DESTROY && !version_parse(version, &v)) {
		refuse(s, who, action, path, 0, PV_E_INVALID, "version must be a number from 1",
		    &a);
		goto out;
	}
	if (decide(s, who, "secrets.write", action, resource, path, false, &a) != PV_OK)
		goto out;
	if ((detail = detail_of(path, v)) == NULL || (op = calloc(1, sizeof(*op))) == NULL) {
		answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	util_strlcpy(op->path, path, sizeof(op->path));
	op->j.what = what;
	op->j.path = op->path;
	op->j.version = v;
	op->j.now = util_now_ms();
	op->done = done;
	op->arg = arg;
	event_init(&ev, who, action, resource, detail);
	/* the change and its entry in one transaction; the answer comes from
	 * change_done, and no thread waits for the fsync */
	rc = audit_submit(s->audit, &ev, change_fn, &op->j, COMMIT_REQUEST, change_done, op);
	free(detail);
	if (rc == PV_OK)
		return;
	free(op);
	answer_fail(&a, rc, NULL);
	detail = NULL;
out:
	free(detail);
	answer_send(&a, done, arg);
}

void secrets_delete(struct secrets *s, const struct secrets_caller *who, const char *path,
    secrets_done_fn done, void *arg)
{
	change(s, who, CH_DELETE, path, NULL, done, arg);
}

void secrets_undelete(struct secrets *s, const struct secrets_caller *who, const char *path,
    secrets_done_fn done, void *arg)
{
	change(s, who, CH_UNDELETE, path, NULL, done, arg);
}

void secrets_destroy(struct secrets *s, const struct secrets_caller *who, const char *path,
    const char *version, secrets_done_fn done, void *arg)
{
	change(s, who, CH_DESTROY, path, version, done, arg);
}
