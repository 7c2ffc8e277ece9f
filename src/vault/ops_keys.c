/*
 * vault/ops_keys.c: key administration (API.md "Keys", keys.manage, held
 * by key_admin, who reads no PHI) and the re-encryption job kind
 * "keys.reencrypt". routes_keys.c adapts the operations to HTTP.
 *
 *   list        every KEK with its versions, state, created_at and census
 *   rotate      new active version (keys_kek_rotate_tx)            key.rotate
 *   policy      {"rotate_every_s","reencrypt":"auto|manual"}       key.policy
 *   reencrypt   queue a keys.reencrypt job                          key.reencrypt
 *   retire      decrypt_only -> retired, only with census 0         key.retire
 *   revoke      destroy a version's material, typed confirmation    key.revoke
 *
 * Every change is one transaction: the key change and its entry (key name
 * and version in resource and detail, never key bytes) commit together.
 * Rotate, policy, retire and revoke submit it as a vault_op and answer from
 * its completion (no thread waits); the rotations and markings that queue a
 * keys.reencrypt job after the commit still use audit_commit (jobs_enqueue
 * has no submit form). Refusals are recorded too (denied / error, with the
 * stable code; one found inside the transaction is chained after it).
 *
 * Version states (store -> API): ACTIVE "active", RETIRED "decrypt_only"
 * (an older version: opens what it wrapped, wraps nothing new), DISABLED
 * "retired" (census 0, retired by the key admin or by the policy), REVOKED
 * "revoked" (material destroyed). Transitions:
 *
 *   active --rotate--> decrypt_only --retire (census 0)--> retired
 *   decrypt_only | retired --revoke--> revoked
 *   active --revoke--> refused 409 conflict (rotate first)
 *
 * The policy lives in meta "keys.policy/<name>". With reencrypt = auto a
 * rotation queues a rewrap_dek job for a collection key at once, and a
 * finished re-encryption job retires every decrypt_only version of its key
 * whose census is 0. rotate_every_s > 0: the sweeper thread (started with
 * the routes, stopped by vault_keys_stop before the audit writer) looks
 * once a second and rotates, as the system actor, every key whose active
 * version is older than that (util_now_ms: the injectable clock).
 *
 * The job (kind_step below): params {"key","collection","mode","max_rps",
 * "to_version"}; cursor "<pass>|<last record id>|<window start ms>|<n in
 * window>". A step takes up to BATCH live record IDs after the cursor and
 * moves each whose KEK version is below to_version: rewrap_dek rewraps its
 * DEK (keys_dek_rewrap), full opens and re-seals it under a fresh DEK
 * (same record version, so the same AAD). store_record_rewrap writes only
 * if the record is still at the version and KEK version read, inside the
 * step's transaction: a PATCH committed before wins (the record is on the
 * active version then), and a record already moved is skipped, so a step
 * done again after kill -9 changes nothing visible. At the end of a pass,
 * if the census of an older version is still > 0 (a PATCH sealed before
 * the rotation committed after the pass went by), one more pass starts
 * (at most MAX_PASSES). max_rps caps records per second: a step in a full
 * window does nothing; a step takes max_rps / PACE_STEPS records (at least
 * one, more when steps run late). The records walk is prepared (jobs.h
 * "Prepare / apply"): kind_prepare reads and rewraps off the committer,
 * the step applies the conditional writes only.
 *
 * The KEK "secrets" (application secrets, store_secrets.h) is walked the
 * same way over secret versions instead of records (secrets_step: the
 * cursor's last is the version's scan seq), by rewrap_dek only; its census
 * counts live secret versions, so retire and revoke hold as for a
 * collection key.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/jobs.h"
#include "keys/keys.h"
#include "vault/vault_int.h"

#define KIND_NAME "keys.reencrypt"
#define BATCH_MAX 2000       /* records a step of the prepared walk (the applies only) */
#define INLINE_BATCH_MAX 500 /* a step of a walk done whole on the committer */
#define PACE_STEPS 100      /* a paced job's steps a second (max_rps / this a step) */
#define MAX_PASSES 3
#define MAX_RPS_DEFAULT 2000
#define MAX_RPS_MAX 1000000
#define POLICY_PREFIX "keys.policy/"
#define KEY_RESOURCE_MAX 200

#define SWEEP_MS 1000
#define COMPROMISED_META "keys.compromised"
#define COMPROMISED_MAX 64
#define COMPROMISED_ALERT_MS 60000

struct compromised {
	char name[128];
	uint32_t version;
	int64_t last_use_ms;     /* last key.compromised_use entry; 0 none */
};

struct vault_keyadmin {
	struct vault_ctx *v;
	struct jobs_runner *jobs;
	struct jobs_kind kind;
	struct jobs_prepare prep;   /* the walk's prepare phase (kind_prepare) */
	/* the rotation sweeper */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	/* versions marked compromised (meta keys.compromised), for the reads */
	pthread_mutex_t cmu;
	struct compromised comp[COMPROMISED_MAX];
	size_t ncomp;
};

/* ---- helpers ---- */

static const char *state_name(enum store_kek_state s)
{
	switch (s) {
	case STORE_KEK_ACTIVE: return "active";
	case STORE_KEK_RETIRED: return "decrypt_only";
	case STORE_KEK_DISABLED: return "retired";
	case STORE_KEK_REVOKED: return "revoked";
	}
	return "unknown";
}

static void key_resource(char *buf, size_t len, const char *name, uint32_t version)
{
	if (version > 0)
		snprintf(buf, len, "keys/%s/versions/%u", name, (unsigned)version);
	else
		snprintf(buf, len, "keys/%s", name);
}

static char *key_detail(const char *name, uint32_t version, const char *extra_k,
    const char *extra_v)
{
	json_t *d = json_pack("{s:s}", "name", name);
	char *out;

	if (d == NULL)
		return NULL;
	if (version > 0)
		json_object_set_new(d, "version", json_integer(version));
	if (extra_k != NULL && extra_v != NULL)
		json_object_set_new(d, extra_k, json_string(extra_v));
	out = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	return out;
}

/* Record a refusal and answer it. */
static void refuse(struct vault_ctx *v, const struct vault_caller *who, const char *action,
    const char *resource, enum pv_rc rc, const char *msg, struct vault_answer *a)
{
	enum audit_outcome o = rc == PV_E_FORBIDDEN ? AUDIT_DENIED : AUDIT_ERROR;

	if (vault_audit(v, who, action, resource, NULL, o, pv_rc_name(rc), NULL) != PV_OK)
		rc = PV_E_AUDIT, msg = NULL;
	vault_answer_fail(a, rc, msg);
}

struct policy {
	int64_t rotate_every_s;
	bool auto_reencrypt;
	char provider[8];       /* the next version's provider: "" (as now), soft, pkcs11 */
	int double_enc;         /* the next version's double encryption: -1 (as now), 0, 1 */
};

static enum pv_rc policy_get(struct store_tx *tx, const char *name, struct policy *p)
{
	char key[KEYS_KEK_NAME_MAX + sizeof(POLICY_PREFIX) + 1];
	uint8_t *val = NULL;
	size_t len = 0;
	json_t *o;
	enum pv_rc rc;

	p->rotate_every_s = 0;
	p->auto_reencrypt = false;
	p->provider[0] = '\0';
	p->double_enc = -1;
	snprintf(key, sizeof(key), POLICY_PREFIX "%s", name);
	rc = store_meta_get(tx, key, &val, &len);
	if (rc == PV_E_NOTFOUND)
		return PV_OK;
	if (rc != PV_OK)
		return rc;
	o = json_loadb((const char *)val, len, 0, NULL);
	free(val);
	if (o == NULL)
		return PV_OK;   /* damaged: the defaults */
	if (json_is_integer(json_object_get(o, "rotate_every_s")))
		p->rotate_every_s = json_integer_value(json_object_get(o, "rotate_every_s"));
	p->auto_reencrypt = json_is_string(json_object_get(o, "reencrypt")) &&
	    strcmp(json_string_value(json_object_get(o, "reencrypt")), "auto") == 0;
	if (json_is_string(json_object_get(o, "provider")))
		util_strlcpy(p->provider, json_string_value(json_object_get(o, "provider")),
		    sizeof(p->provider));
	if (json_is_boolean(json_object_get(o, "double_encryption")))
		p->double_enc = json_is_true(json_object_get(o, "double_encryption")) ? 1 : 0;
	json_decref(o);
	return PV_OK;
}

static json_t *policy_json(const struct policy *p)
{
	json_t *o = json_pack("{s:I, s:s}", "rotate_every_s", (json_int_t)p->rotate_every_s,
	    "reencrypt", p->auto_reencrypt ? "auto" : "manual");

	/* the provider choices only once set, so older policies read the same */
	if (o != NULL && p->provider[0] != '\0')
		json_object_set_new(o, "provider", json_string(p->provider));
	if (o != NULL && p->double_enc >= 0)
		json_object_set_new(o, "double_encryption", json_boolean(p->double_enc == 1));
	return o;
}

/* What the policy asks of the next version (keys_kek_rotate_opts_tx). */
static void policy_opts(const struct policy *p, struct keys_kek_opts *o)
{
	o->provider = p->provider[0] != '\0' ? p->provider : NULL;
	o->double_enc = p->double_enc;
}

/* The blind-index key of a collection ("index:<c>"): its job re-indexes. */
static bool is_index_key(const char *name)
{
	static const char pfx[] = "index:";

	return strncmp(name, pfx, sizeof(pfx) - 1) == 0 && vault_name_valid(name + sizeof(pfx) - 1);
}

/* The collection whose records a KEK wraps ("collection:<c>") or indexes
 * ("index:<c>"), "" for the subject keys' KEK ("subjects": the job walks
 * the subjects), or NULL. */
static const char *walk_of(const char *name)
{
	static const char pfx[] = "collection:";

	if (strcmp(name, VAULT_KEK_SUBJECTS) == 0)
		return "";
	if (is_index_key(name))
		return name + sizeof("index:") - 1;
	if (strncmp(name, pfx, sizeof(pfx) - 1) != 0 || !vault_name_valid(name + sizeof(pfx) - 1))
		return NULL;
	return name + sizeof(pfx) - 1;
}

/* The application secrets' KEK (store_secrets.h): its walk is over secret
 * versions, by rewrap_dek only (a full re-seal needs the secrets module's
 * AAD, which this layer does not know). */
static bool is_secrets_key(const char *name)
{
	return strcmp(name, STORE_SECRETS_KEK) == 0;
}

/* The tokens' KEK: its walk is over the tokens (tokens_step), by
 * rewrap_dek or full; deterministic tokens get their lookup MAC again
 * under the target version either way. */
static bool is_tokens_key(const char *name)
{
	return strcmp(name, VAULT_KEK_TOKENS) == 0;
}

/* A key the re-encryption job can walk. */
static bool walkable(const char *name)
{
	return walk_of(name) != NULL || is_secrets_key(name) || is_tokens_key(name);
}

/* ---- list ---- */

struct kek_row {
	char name[128];
	char provider[16];
	char outer[128];
	uint32_t version;
	enum store_kek_state state;
	int64_t created_ms;
};

struct kek_rows {
	struct kek_row *r;
	size_t n, cap;
	const char *only;   /* NULL: every name */
	bool nomem;
};

static int collect_row(const struct store_kek *k, void *arg)
{
	struct kek_rows *l = arg;

	if (l->only != NULL && strcmp(k->name, l->only) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct kek_row *nr = realloc(l->r, cap * sizeof(*nr));

		if (nr == NULL) {
			l->nomem = true;
			return 1;
		}
		l->r = nr;
		l->cap = cap;
	}
	util_strlcpy(l->r[l->n].name, k->name, sizeof(l->r[l->n].name));
	util_strlcpy(l->r[l->n].provider, k->provider[0] != '\0' ? k->provider : "soft",
	    sizeof(l->r[l->n].provider));
	util_strlcpy(l->r[l->n].outer, k->outer, sizeof(l->r[l->n].outer));
	l->r[l->n].version = k->version;
	l->r[l->n].state = k->state;
	l->r[l->n].created_ms = k->created_ms;
	l->n++;
	return 0;
}

static enum pv_rc list_tx(struct store_tx *tx, const char *only, json_t **out)
{
	struct kek_rows l = { NULL, 0, 0, only, false };
	json_t *arr = json_array(), *key = NULL, *versions = NULL;
	enum pv_rc rc;

	if (arr == NULL)
		return PV_E_NOMEM;
	rc = store_kek_scan(tx, collect_row, &l);   /* name, version order */
	if (rc == PV_OK && l.nomem)
		rc = PV_E_NOMEM;
	for (size_t i = 0; rc == PV_OK && i < l.n; i++) {
		char at[32];
		int64_t objects = 0;
		json_t *ver;

		if (key == NULL || strcmp(json_string_value(json_object_get(key, "name")),
		    l.r[i].name) != 0) {
			struct policy p;

			if ((rc = policy_get(tx, l.r[i].name, &p)) != PV_OK)
				break;
			versions = json_array();
			key = json_pack("{s:s, s:s, s:o, s:o}", "name", l.r[i].name,
			    "provider", "soft", "versions", versions, "policy", policy_json(&p));
			if (key == NULL || json_array_append_new(arr, key) != 0) {
				rc = PV_E_NOMEM;
				break;
			}
		}
		/* an outer key (double encryption) protects what its inner one does */
		if ((rc = store_kek_census(tx, keys_kek_census_name(l.r[i].name), l.r[i].version,
		    &objects)) != PV_OK)
			break;
		util_time_fmt(l.r[i].created_ms, at, sizeof(at));
		ver = json_pack("{s:i, s:s, s:s, s:I, s:s}", "version", (int)l.r[i].version,
		    "state", state_name(l.r[i].state), "created_at", at, "objects",
		    (json_int_t)objects, "provider", l.r[i].provider);
		if (ver != NULL && l.r[i].outer[0] != '\0')
			json_object_set_new(ver, "outer", json_string(l.r[i].outer));
		/* the key's provider: its newest version's (rows come in version order) */
		json_object_set_new(key, "provider", json_string(l.r[i].provider));
		if (ver == NULL || json_array_append_new(versions, ver) != 0)
			rc = PV_E_NOMEM;
	}
	free(l.r);
	if (rc != PV_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return PV_OK;
}

void vault_keys_list(struct vault_ctx *v, const struct vault_caller *who,
    vault_done_fn done, void *arg)
{
	struct vault_answer a;
	json_t *arr = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	STORE_READ(v->st, rc, list_tx(tx, NULL, &arr));
	if (rc == PV_OK && vault_audit(v, who, "key.list", "keys", NULL, AUDIT_ALLOWED, NULL,
	    NULL) != PV_OK)
		rc = PV_E_AUDIT;
	if (rc != PV_OK) {
		json_decref(arr);
		vault_answer_fail(&a, rc, NULL);
	} else {
		a.body = arr;
	}
	vault_answer_send(&a, done, arg);
}

/* ---- a key change, then its re-encryption job ---- */

/*
 * A rotation under reencrypt = auto, a version marked compromised and a
 * collection's double encryption each queue a keys.reencrypt job after
 * their change, and answer with its ID. No thread waits for either commit:
 * the change is a vault_op; its finish, on the committer once the change is
 * durable, sets op->again and follow_resubmit queues the job with
 * jobs_enqueue_submit (allowed there: nothing waits); the job's completion
 * runs the finish again (follow.answered) and the answer leaves. What the
 * job's params need from before the change (a job of the key in progress,
 * the census) is read on the caller's thread (follow_read); the version to
 * move to comes from the change's transaction.
 */
struct reenc_follow {
	struct vault_keyadmin *ka;
	const char *name;          /* the op's copy */
	const char *mode;          /* static */
	int64_t max_rps;
	uint32_t active;           /* the active version read before the change */
	int64_t older, through;    /* census below active, below active + 1 */
	bool running;              /* a job of the key is queued, running or paused */
	bool wanted;               /* queue the job after the change */
	uint32_t to_version;       /* set by the first finish */
	bool answered;             /* the job's completion came: the second finish */
	enum pv_rc job_rc;
	char jid[UTIL_ID_MAX];
};

struct follow_head {
	struct vault_op op;        /* first: the completion's head */
	struct reenc_follow f;
};

static enum pv_rc census_older(struct store_tx *tx, const char *name, uint32_t below,
    int64_t *out);
static int running_cb(const struct store_job *j, void *arg);

static enum pv_rc follow_read_tx(struct store_tx *tx, struct reenc_follow *f);

/* Read before the change, on the caller's thread: wanted when no job of
 * the key is in progress. PV_E_NOTFOUND: no such key (the change's
 * transaction says so too). */
static enum pv_rc follow_read(struct vault_keyadmin *ka, const char *name, const char *mode,
    int64_t max_rps, struct reenc_follow *f)
{
	enum pv_rc rc;

	memset(f, 0, sizeof(*f));
	f->ka = ka;
	f->name = name;
	f->mode = mode;
	f->max_rps = max_rps;
	if (ka->jobs == NULL)
		return PV_E_UNAVAILABLE;
	STORE_READ(ka->v->st, rc, follow_read_tx(tx, f));
	f->wanted = rc == PV_OK && !f->running;
	return rc;
}

static void follow_done(enum pv_rc rc, const char *id, void *arg)
{
	struct follow_head *h = arg;

	h->f.job_rc = rc;
	util_strlcpy(h->f.jid, rc == PV_OK ? id : "", sizeof(h->f.jid));
	h->f.answered = true;
	vault_op_complete(&h->op, PV_OK);
}

/* op->resubmit after the change (committer thread): queue the job. */
static void follow_resubmit(struct vault_op *op)
{
	struct follow_head *h = (struct follow_head *)op;
	struct reenc_follow *f = &h->f;
	const char *walk = walk_of(f->name);
	json_t *params;
	char *text;
	enum pv_rc rc;

	params = json_pack("{s:s, s:s, s:s, s:I, s:i}", "key", f->name, "collection",
	    walk != NULL ? walk : "", "mode", f->mode, "max_rps", (json_int_t)f->max_rps,
	    "to_version", (int)f->to_version);
	text = params != NULL ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(params);
	/* rotated: the active version read before is one to move too */
	rc = text == NULL ? PV_E_NOMEM : jobs_enqueue_submit(f->ka->jobs, &op->actor, KIND_NAME,
	    text, f->to_version > f->active ? f->through : f->older, follow_done, h);
	free(text);
	if (rc != PV_PENDING) {
		f->job_rc = rc != PV_OK ? rc : PV_E_INTERNAL;
		f->answered = true;
		vault_op_complete(op, PV_OK);
	}
}

/* In a finish whose change is durable: queue the job that moves to
 * to_version, answered from its completion. */
static void follow_start(struct vault_op *op, uint32_t to_version)
{
	struct follow_head *h = (struct follow_head *)op;

	h->f.to_version = to_version;
	op->again = true;
	op->resubmit = follow_resubmit;
}

/* ---- rotate ---- */

struct rotate_job {
	struct follow_head h;          /* first: the completion's head */
	struct vault_ctx *v;
	char name[KEYS_KEK_NAME_MAX + 1];
	char resource[KEY_RESOURCE_MAX];
	uint32_t nv;
	bool auto_reencrypt;
};

static enum pv_rc rotate_fn(struct store_tx *tx, void *arg)
{
	struct rotate_job *j = arg;
	struct policy p;
	enum pv_rc rc;

	struct keys_kek_opts o;

	if ((rc = policy_get(tx, j->name, &p)) != PV_OK)
		return rc;
	policy_opts(&p, &o);
	if ((rc = keys_kek_rotate_opts_tx(j->v->keys, tx, j->name, &o, &j->nv)) != PV_OK)
		return rc;
	j->auto_reencrypt = p.auto_reencrypt;
	return PV_OK;
}

/* After the fsync, on the committer thread, from the version rotate_fn
 * assigned; under reencrypt = auto first the job (follow_start), then,
 * from its completion, the answer with its ID. */
static void rotate_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct rotate_job *j = (struct rotate_job *)op;
	struct reenc_follow *f = &j->h.f;

	if (f->answered) {
		if (f->job_rc != PV_OK)
			log_warn("vault: key %s: the automatic re-encryption job was not queued",
			    j->name);
	} else if (rc == PV_E_NOTFOUND) {
		vault_op_refuse(op, "key.rotate", j->resource, rc, "no such key");
		return;
	} else if (rc != PV_OK) {
		vault_answer_fail(a, rc, NULL);
		return;
	} else {
		log_info("vault: key %s rotated to v%u", j->name, (unsigned)j->nv);
		if (f->wanted && j->auto_reencrypt) {
			follow_start(op, j->nv);
			return;
		}
		/* the policy turned auto between the read and the rotation, or a
		 * job of the key is in progress: none is queued from here */
		if (j->auto_reencrypt && walkable(j->name))
			log_warn("vault: key %s: the automatic re-encryption job was not queued",
			    j->name);
	}
	a->body = json_pack("{s:s, s:i}", "name", j->name, "version", (int)j->nv);
	if (a->body != NULL && f->jid[0] != '\0')
		json_object_set_new(a->body, "job", json_string(f->jid));
	if (a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

static enum pv_rc policy_auto_tx(struct store_tx *tx, void *arg)
{
	struct rotate_job *j = arg;
	struct policy p;
	enum pv_rc rc;

	if ((rc = policy_get(tx, j->name, &p)) != PV_OK)
		return rc;
	j->auto_reencrypt = p.auto_reencrypt;
	return PV_OK;
}

void vault_key_rotate(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ka->v;
	struct rotate_job *j = NULL;
	struct audit_event ev;
	struct vault_answer a;
	char *detail = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	if (!keys_kek_name_valid(name)) {
		refuse(v, who, "key.rotate", "keys", PV_E_NOTFOUND, "no such key", &a);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (detail = key_detail(name, 0, NULL, NULL)) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	j->v = v;
	util_strlcpy(j->name, name, sizeof(j->name));
	key_resource(j->resource, sizeof(j->resource), name, 0);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "key.rotate";
	ev.resource = j->resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	/* under reencrypt = auto the job follows the rotation (follow_read:
	 * what its params need from before it) */
	STORE_READ(v->st, rc, policy_auto_tx(tx, j));
	if (rc == PV_OK && j->auto_reencrypt && walkable(name))
		(void)follow_read(ka, j->name, is_index_key(name) ? "reindex" : "rewrap_dek",
		    MAX_RPS_DEFAULT, &j->h.f);
	j->auto_reencrypt = false;
	j->h.op.v = v;
	j->h.op.done = done;
	j->h.op.done_arg = arg;
	j->h.op.finish = rotate_finish;
	vault_op_submit(&j->h.op, &ev, rotate_fn, j);
	free(detail);
	return;
out:
	free(j);
	free(detail);
	vault_answer_send(&a, done, arg);
}

/* ---- policy ---- */

struct policy_job {
	struct vault_op op;            /* first: the completion's head */
	char name[KEYS_KEK_NAME_MAX + 1];
	char resource[KEY_RESOURCE_MAX];
	char *text;
	json_t *pj;
};

static void policy_release(struct vault_op *op)
{
	struct policy_job *j = (struct policy_job *)op;

	free(j->text);
	json_decref(j->pj);
	free(j);
}

static void policy_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct policy_job *j = (struct policy_job *)op;

	if (rc == PV_E_NOTFOUND) {
		vault_op_refuse(op, "key.policy", j->resource, rc, "no such key");
		return;
	}
	if (rc != PV_OK) {
		vault_answer_fail(a, rc, NULL);
		return;
	}
	a->body = json_pack("{s:s, s:O}", "name", j->name, "policy", j->pj);
	if (a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

static enum pv_rc policy_fn(struct store_tx *tx, void *arg)
{
	struct policy_job *j = arg;
	char key[KEYS_KEK_NAME_MAX + sizeof(POLICY_PREFIX) + 1];
	struct store_kek row;
	enum pv_rc rc;

	memset(&row, 0, sizeof(row));
	rc = store_kek_latest(tx, j->name, &row);
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	snprintf(key, sizeof(key), POLICY_PREFIX "%s", j->name);
	return store_meta_put(tx, key, (const uint8_t *)j->text, strlen(j->text));
}

void vault_key_policy(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, json_t *body, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ka->v;
	struct audit_event ev;
	struct vault_answer a;
	struct policy p = { 0, false, "", -1 };
	struct policy_job *j = NULL;
	char resource[KEY_RESOURCE_MAX];
	char *detail = NULL, *text = NULL;
	json_t *pj = NULL, *re, *every, *prov, *dbl;
	const char *k;
	json_t *val;

	vault_answer_init(&a);
	if (!keys_kek_name_valid(name)) {
		refuse(v, who, "key.policy", "keys", PV_E_NOTFOUND, "no such key", &a);
		goto out;
	}
	key_resource(resource, sizeof(resource), name, 0);
	json_object_foreach(body, k, val) {
		if (strcmp(k, "rotate_every_s") != 0 && strcmp(k, "reencrypt") != 0 &&
		    strcmp(k, "provider") != 0 && strcmp(k, "double_encryption") != 0) {
			refuse(v, who, "key.policy", resource, PV_E_INVALID,
			    "unknown key in the policy (rotate_every_s, reencrypt, provider, "
			    "double_encryption)", &a);
			goto out;
		}
	}
	prov = json_object_get(body, "provider");
	dbl = json_object_get(body, "double_encryption");
	if ((prov != NULL && (!json_is_string(prov) || (strcmp(json_string_value(prov), "soft") != 0 &&
	    strcmp(json_string_value(prov), "pkcs11") != 0))) ||
	    (dbl != NULL && !json_is_boolean(dbl))) {
		refuse(v, who, "key.policy", resource, PV_E_INVALID,
		    "provider must be soft or pkcs11, double_encryption true or false", &a);
		goto out;
	}
	if (prov != NULL && strcmp(json_string_value(prov), "pkcs11") == 0 &&
	    !keys_hsm_configured(v->keys)) {
		refuse(v, who, "key.policy", resource, PV_E_INVALID,
		    "provider pkcs11 needs the pkcs11 seal (an HSM); this vault has none", &a);
		goto out;
	}
	if (prov != NULL)
		util_strlcpy(p.provider, json_string_value(prov), sizeof(p.provider));
	if (dbl != NULL)
		p.double_enc = json_is_true(dbl) ? 1 : 0;
	every = json_object_get(body, "rotate_every_s");
	re = json_object_get(body, "reencrypt");
	if ((every != NULL && (!json_is_integer(every) || json_integer_value(every) < 0 ||
	    json_integer_value(every) > 10LL * 366 * 86400)) ||
	    (re != NULL && (!json_is_string(re) || (strcmp(json_string_value(re), "auto") != 0 &&
	    strcmp(json_string_value(re), "manual") != 0)))) {
		refuse(v, who, "key.policy", resource, PV_E_INVALID,
		    "rotate_every_s must be an integer 0..316224000 (0: never), reencrypt auto or manual",
		    &a);
		goto out;
	}
	p.rotate_every_s = every != NULL ? json_integer_value(every) : 0;
	p.auto_reencrypt = re != NULL && strcmp(json_string_value(re), "auto") == 0;
	if ((pj = policy_json(&p)) == NULL ||
	    (text = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
	    (detail = key_detail(name, 0, "policy", text)) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	util_strlcpy(j->name, name, sizeof(j->name));
	util_strlcpy(j->resource, resource, sizeof(j->resource));
	j->text = text;
	j->pj = pj;
	text = NULL;
	pj = NULL;
	j->op.v = v;
	j->op.done = done;
	j->op.done_arg = arg;
	j->op.finish = policy_finish;
	j->op.release = policy_release;
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "key.policy";
	ev.resource = resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	/* answered from the completion: 404 is the transaction's finding */
	vault_op_submit(&j->op, &ev, policy_fn, j);
	free(detail);
	return;
out:
	json_decref(pj);
	free(text);
	free(detail);
	vault_answer_send(&a, done, arg);
}

/* ---- retire and revoke ---- */

static bool parse_version(const char *s, uint32_t *out)
{
	uint64_t n = 0;

	if (s == NULL || s[0] == '\0' || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n == 0 || n > UINT32_MAX || (s[0] == '0'))
		return false;
	*out = (uint32_t)n;
	return true;
}

struct version_job {
	struct vault_op op;            /* first: the completion's head */
	struct vault_ctx *v;
	char name[KEYS_KEK_NAME_MAX + 1];
	uint32_t version;
	bool revoke;
	char resource[KEY_RESOURCE_MAX];
};

/* After the fsync (committer thread): a refusal found in the transaction
 * (404, 409 state / retired_key_in_use) gets its own entry, as before. */
static void version_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct version_job *j = (struct version_job *)op;
	const char *action = j->revoke ? "key.revoke" : "key.retire";

	if (rc == PV_E_NOTFOUND || rc == PV_E_STATE || rc == PV_E_RETIRED_KEY_IN_USE) {
		const char *msg = rc == PV_E_NOTFOUND ? "no such key version" :
		    rc == PV_E_RETIRED_KEY_IN_USE ?
		    "the version still protects objects: re-encrypt them first" :
		    j->revoke ? "the active version cannot be revoked: rotate first" :
		    "only a decrypt_only version can be retired";

		vault_op_refuse(op, action, j->resource, rc, msg);
		return;
	}
	if (rc != PV_OK) {
		vault_answer_fail(a, rc, NULL);
		return;
	}
	a->body = json_pack("{s:s, s:i, s:s}", "name", j->name, "version", (int)j->version,
	    "state", j->revoke ? "revoked" : "retired");
	if (a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

static enum pv_rc version_fn(struct store_tx *tx, void *arg)
{
	struct version_job *j = arg;

	return j->revoke ? keys_kek_destroy_tx(j->v->keys, tx, j->name, j->version) :
	    keys_kek_retire_tx(j->v->keys, tx, j->name, j->version);
}

static void version_change(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, const char *vtext, json_t *body, bool revoke, vault_done_fn done,
    void *arg)
{
	struct vault_ctx *v = ka->v;
	const char *action = revoke ? "key.revoke" : "key.retire";
	struct version_job *j = NULL;
	uint32_t version = 0;
	struct audit_event ev;
	struct vault_answer a;
	char resource[KEY_RESOURCE_MAX];
	char *detail = NULL;

	vault_answer_init(&a);
	if (!keys_kek_name_valid(name) || !parse_version(vtext, &version)) {
		refuse(v, who, action, "keys", PV_E_NOTFOUND, "no such key version", &a);
		goto out;
	}
	key_resource(resource, sizeof(resource), name, version);
	if (revoke) {
		char want[KEY_RESOURCE_MAX];
		json_t *c = body != NULL ? json_object_get(body, "confirm") : NULL;

		snprintf(want, sizeof(want), "%s:%u", name, (unsigned)version);
		if (body == NULL || json_object_size(body) != 1 || !json_is_string(c) ||
		    strcmp(json_string_value(c), want) != 0) {
			refuse(v, who, action, resource, PV_E_INVALID,
			    "confirm must be exactly \"<name>:<version>\" of the version revoked", &a);
			goto out;
		}
	}
	if ((detail = key_detail(name, version, NULL, NULL)) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = action;
	ev.resource = resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	j->v = v;
	util_strlcpy(j->name, name, sizeof(j->name));
	j->version = version;
	j->revoke = revoke;
	util_strlcpy(j->resource, resource, sizeof(j->resource));
	j->op.v = v;
	j->op.done = done;
	j->op.done_arg = arg;
	j->op.finish = version_finish;
	/* the census check (retired_key_in_use) and the state checks are the
	 * transaction's; the answer leaves from the completion */
	vault_op_submit(&j->op, &ev, version_fn, j);
	free(detail);
	return;
out:
	free(detail);
	vault_answer_send(&a, done, arg);
}

void vault_key_retire(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, const char *version, vault_done_fn done, void *arg)
{
	version_change(ka, who, name, version, NULL, false, done, arg);
}

void vault_key_revoke(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, const char *version, json_t *body, vault_done_fn done, void *arg)
{
	version_change(ka, who, name, version, body, true, done, arg);
}

/* ---- compromised versions ----
 *
 * Meta "keys.compromised" is a JSON array [{"name","version"}], written in
 * the marking transaction and loaded at install; the keyadmin keeps it in
 * memory so a read can tell, without a store read, whether it used a
 * compromised version. The use is recorded, not refused: what the version
 * protects stays readable until the priority re-encryption has moved it and
 * the key admin revokes the version. */

static json_t *compromised_read(struct store_tx *tx)
{
	uint8_t *val = NULL;
	size_t len = 0;
	json_t *a = NULL;

	if (store_meta_get(tx, COMPROMISED_META, &val, &len) == PV_OK) {
		a = json_loadb((const char *)val, len, 0, NULL);
		free(val);
	}
	if (!json_is_array(a)) {
		json_decref(a);
		a = json_array();
	}
	return a;
}

static void compromised_add(struct vault_keyadmin *ka, const char *name, uint32_t version)
{
	pthread_mutex_lock(&ka->cmu);
	for (size_t i = 0; i < ka->ncomp; i++)
		if (ka->comp[i].version == version && strcmp(ka->comp[i].name, name) == 0)
			goto out;
	if (ka->ncomp < COMPROMISED_MAX) {
		util_strlcpy(ka->comp[ka->ncomp].name, name, sizeof(ka->comp[0].name));
		ka->comp[ka->ncomp].version = version;
		ka->comp[ka->ncomp].last_use_ms = 0;
		ka->ncomp++;
	} else {
		log_warn("vault: more than %d compromised key versions: %s v%u not watched",
		    COMPROMISED_MAX, name, (unsigned)version);
	}
out:
	pthread_mutex_unlock(&ka->cmu);
}

static enum pv_rc compromised_load_tx(struct store_tx *tx, struct vault_keyadmin *ka)
{
	json_t *a = compromised_read(tx), *e;
	size_t i;

	if (a == NULL)
		return PV_E_NOMEM;
	json_array_foreach(a, i, e) {
		json_t *n = json_object_get(e, "name"), *ver = json_object_get(e, "version");

		if (json_is_string(n) && json_is_integer(ver) && json_integer_value(ver) > 0 &&
		    json_integer_value(ver) <= UINT32_MAX)
			compromised_add(ka, json_string_value(n), (uint32_t)json_integer_value(ver));
	}
	json_decref(a);
	return PV_OK;
}

void vault_key_used(struct vault_ctx *v, const struct vault_caller *who, const char *kek_name,
    uint32_t version)
{
	struct vault_keyadmin *ka = v != NULL ? v->keyadmin : NULL;
	char resource[KEY_RESOURCE_MAX], *detail;
	int64_t now = util_now_ms();
	bool fire = false;

	if (ka == NULL || kek_name == NULL)
		return;
	pthread_mutex_lock(&ka->cmu);
	for (size_t i = 0; i < ka->ncomp; i++) {
		struct compromised *c = &ka->comp[i];

		if (c->version != version || strcmp(c->name, kek_name) != 0)
			continue;
		/* at most one entry a minute a version: a read storm is one alert
		 * whose count grows, not a flood of entries */
		if (c->last_use_ms == 0 || now - c->last_use_ms >= COMPROMISED_ALERT_MS ||
		    now < c->last_use_ms) {
			c->last_use_ms = now;
			fire = true;
		}
		break;
	}
	pthread_mutex_unlock(&ka->cmu);
	if (!fire)
		return;
	key_resource(resource, sizeof(resource), kek_name, version);
	detail = key_detail(kek_name, version, NULL, NULL);
	if (vault_audit_note(v, who, "key.compromised_use", resource, AUDIT_ALLOWED, detail) !=
	    PV_OK)
		log_warn("vault: key.compromised_use of %s v%u not recorded", kek_name,
		    (unsigned)version);
	free(detail);
}

struct compromise_job {
	struct follow_head h;          /* first: the completion's head */
	struct vault_ctx *v;
	char name[KEYS_KEK_NAME_MAX + 1];
	char resource[KEY_RESOURCE_MAX];
	uint32_t version;
	uint32_t nv;          /* the new active version if it rotated, else 0 */
};

static enum pv_rc compromise_fn(struct store_tx *tx, void *arg)
{
	struct compromise_job *j = arg;
	struct store_kek row;
	enum store_kek_state state;
	json_t *a = NULL, *e;
	char *text = NULL;
	bool have = false;
	size_t i;
	enum pv_rc rc;

	memset(&row, 0, sizeof(row));
	rc = store_kek_get(tx, j->name, j->version, &row);
	state = row.state;
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	if (state == STORE_KEK_REVOKED)
		return PV_E_STATE;   /* destroyed already: nothing can use it */
	/* the active one: new writes go to a fresh version at once */
	if (state == STORE_KEK_ACTIVE &&
	    (rc = keys_kek_rotate_tx(j->v->keys, tx, j->name, &j->nv)) != PV_OK)
		return rc;
	if ((a = compromised_read(tx)) == NULL)
		return PV_E_NOMEM;
	json_array_foreach(a, i, e)
		if (json_integer_value(json_object_get(e, "version")) == j->version &&
		    json_is_string(json_object_get(e, "name")) &&
		    strcmp(json_string_value(json_object_get(e, "name")), j->name) == 0)
			have = true;
	if (!have)
		json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "name", j->name, "version",
		    (json_int_t)j->version, "at_ms", (json_int_t)util_now_ms()));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (text == NULL)
		return PV_E_NOMEM;
	rc = store_meta_put(tx, COMPROMISED_META, (const uint8_t *)text, strlen(text));
	free(text);
	return rc;
}

/* After the fsync (committer thread): the version is marked; the priority
 * re-encryption follows (follow_start), then the answer with its job. */
static void compromise_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct compromise_job *j = (struct compromise_job *)op;
	struct reenc_follow *f = &j->h.f;

	if (!f->answered) {
		if (rc == PV_E_NOTFOUND || rc == PV_E_STATE) {
			vault_op_refuse(op, "key.compromised", j->resource, rc, rc == PV_E_NOTFOUND ?
			    "no such key version" : "the version is revoked already");
			return;
		}
		if (rc != PV_OK) {
			vault_answer_fail(a, rc, NULL);
			return;
		}
		compromised_add(f->ka, j->name, j->version);
		log_warn("vault: key %s v%u marked compromised%s", j->name, (unsigned)j->version,
		    j->nv ? " (rotated)" : "");
		if (walkable(j->name) && f->wanted) {
			follow_start(op, j->nv > 0 ? j->nv : f->active);
			return;
		}
		if (walkable(j->name))
			f->job_rc = f->running ? PV_E_JOB_CONFLICT : PV_E_UNAVAILABLE;
	}
	if (walkable(j->name) && f->job_rc != PV_OK)
		log_warn("vault: key %s: no re-encryption queued after the compromise (%s)",
		    j->name, pv_rc_name(f->job_rc));
	a->body = json_pack("{s:s, s:i, s:s}", "name", j->name, "version", (int)j->version,
	    "state", "compromised");
	if (a->body != NULL && j->nv > 0)
		json_object_set_new(a->body, "rotated_to", json_integer(j->nv));
	if (a->body != NULL && f->jid[0] != '\0')
		json_object_set_new(a->body, "job", json_string(f->jid));
	if (a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

void vault_key_compromised(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, const char *vtext, json_t *body, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ka->v;
	struct compromise_job *j = NULL;
	struct audit_event ev;
	struct vault_answer a;
	char resource[KEY_RESOURCE_MAX], want[KEY_RESOURCE_MAX];
	char *detail = NULL;
	uint32_t version = 0;
	json_t *c;

	vault_answer_init(&a);
	if (!keys_kek_name_valid(name) || !parse_version(vtext, &version)) {
		refuse(v, who, "key.compromised", "keys", PV_E_NOTFOUND, "no such key version", &a);
		goto out;
	}
	key_resource(resource, sizeof(resource), name, version);
	c = body != NULL ? json_object_get(body, "confirm") : NULL;
	snprintf(want, sizeof(want), "%s:%u", name, (unsigned)version);
	if (body == NULL || json_object_size(body) != 1 || !json_is_string(c) ||
	    strcmp(json_string_value(c), want) != 0) {
		refuse(v, who, "key.compromised", resource, PV_E_INVALID,
		    "confirm must be exactly \"<name>:<version>\" of the version", &a);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (detail = key_detail(name, version, NULL, NULL)) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	j->v = v;
	util_strlcpy(j->name, name, sizeof(j->name));
	util_strlcpy(j->resource, resource, sizeof(j->resource));
	j->version = version;
	/* the priority re-encryption, no rate cap: read what it needs now */
	(void)follow_read(ka, j->name, is_index_key(name) ? "reindex" : "rewrap_dek",
	    MAX_RPS_MAX, &j->h.f);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "key.compromised";
	ev.resource = j->resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	j->h.op.v = v;
	j->h.op.done = done;
	j->h.op.done_arg = arg;
	j->h.op.finish = compromise_finish;
	vault_op_submit(&j->h.op, &ev, compromise_fn, j);
	free(detail);
	return;
out:
	free(j);
	free(detail);
	vault_answer_send(&a, done, arg);
}

/* ---- re-encryption: queue the job ---- */

struct running_ctx {
	const char *name;
	bool found;
};

static int running_cb(const struct store_job *j, void *arg)
{
	struct running_ctx *c = arg;
	json_t *p;

	if (strcmp(j->kind, KIND_NAME) != 0 || (strcmp(j->state, "queued") != 0 &&
	    strcmp(j->state, "running") != 0 && strcmp(j->state, "paused") != 0))
		return 0;
	p = json_loads(j->params != NULL ? j->params : "{}", 0, NULL);
	if (p != NULL && json_is_string(json_object_get(p, "key")) &&
	    strcmp(json_string_value(json_object_get(p, "key")), c->name) == 0)
		c->found = true;
	json_decref(p);
	return c->found ? 1 : 0;
}

struct census_sum {
	const char *name;
	uint32_t below;      /* versions < below */
	struct store_tx *tx;
	int64_t sum;
	enum pv_rc rc;
};

static int census_cb(const struct store_kek *k, void *arg)
{
	struct census_sum *c = arg;
	int64_t n = 0;

	if (strcmp(k->name, c->name) != 0 || k->version >= c->below ||
	    k->state == STORE_KEK_REVOKED)
		return 0;
	if ((c->rc = store_kek_census(c->tx, k->name, k->version, &n)) != PV_OK)
		return 1;
	c->sum += n;
	return 0;
}

/* Objects under versions of name older than below (revoked ones aside:
 * nothing can move them). */
static enum pv_rc census_older(struct store_tx *tx, const char *name, uint32_t below,
    int64_t *out)
{
	struct census_sum c = { name, below, tx, 0, PV_OK };
	enum pv_rc rc = store_kek_scan(tx, census_cb, &c);

	if (rc == PV_OK)
		rc = c.rc;
	if (rc == PV_OK)
		*out = c.sum;
	return rc;
}

struct enqueue_read {
	const char *name;
	uint32_t active;
	int64_t total;
	bool running;
};

static enum pv_rc enqueue_read_tx(struct store_tx *tx, struct enqueue_read *e)
{
	struct running_ctx rc_ = { e->name, false };
	struct store_kek row;
	enum pv_rc rc;

	memset(&row, 0, sizeof(row));
	rc = store_kek_latest(tx, e->name, &row);
	e->active = row.version;
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	if ((rc = census_older(tx, e->name, e->active, &e->total)) != PV_OK)
		return rc;
	if ((rc = store_job_list(tx, running_cb, &rc_)) != PV_OK)
		return rc;
	e->running = rc_.found;
	return PV_OK;
}

static enum pv_rc follow_read_tx(struct store_tx *tx, struct reenc_follow *f)
{
	struct enqueue_read e = { f->name, 0, 0, false };
	enum pv_rc rc;

	if ((rc = enqueue_read_tx(tx, &e)) != PV_OK)
		return rc;
	f->active = e.active;
	f->older = e.total;
	f->running = e.running;
	return census_older(tx, f->name, e.active + 1, &f->through);
}

static enum pv_rc enqueue_reencrypt(struct vault_keyadmin *ka, const struct pv_actor *actor,
    const char *name, const char *mode, int64_t max_rps, char id[UTIL_ID_MAX])
{
	struct enqueue_read e = { name, 0, 0, false };
	json_t *params;
	char *text;
	enum pv_rc rc;

	if (ka->jobs == NULL)
		return PV_E_UNAVAILABLE;
	STORE_READ(ka->v->st, rc, enqueue_read_tx(tx, &e));
	if (rc != PV_OK)
		return rc;
	if (e.running)
		return PV_E_JOB_CONFLICT;
	params = json_pack("{s:s, s:s, s:s, s:I, s:i}", "key", name, "collection",
	    walk_of(name) != NULL ? walk_of(name) : "", "mode", mode, "max_rps", (json_int_t)max_rps,
	    "to_version",
	    (int)e.active);
	text = params != NULL ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(params);
	if (text == NULL)
		return PV_E_NOMEM;
	rc = jobs_enqueue(ka->jobs, actor, KIND_NAME, text, e.total, id);
	free(text);
	return rc;
}

void vault_key_reencrypt(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, json_t *body, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ka->v;
	struct vault_answer a;
	char resource[KEY_RESOURCE_MAX], id[UTIL_ID_MAX] = "";
	const char *mode = is_index_key(name) ? "reindex" : "rewrap_dek", *k;
	int64_t max_rps = MAX_RPS_DEFAULT;
	json_t *val;
	char *detail = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	if (!keys_kek_name_valid(name)) {
		refuse(v, who, "key.reencrypt", "keys", PV_E_NOTFOUND, "no such key", &a);
		goto out;
	}
	key_resource(resource, sizeof(resource), name, 0);
	json_object_foreach(body, k, val) {
		if (strcmp(k, "mode") == 0 && json_is_string(val) &&
		    (strcmp(json_string_value(val), "rewrap_dek") == 0 ||
		    strcmp(json_string_value(val), "full") == 0 ||
		    strcmp(json_string_value(val), "reindex") == 0)) {
			mode = json_string_value(val);
		} else if (strcmp(k, "max_rps") == 0 && json_is_integer(val) &&
		    json_integer_value(val) >= 1 && json_integer_value(val) <= MAX_RPS_MAX) {
			max_rps = json_integer_value(val);
		} else {
			refuse(v, who, "key.reencrypt", resource, PV_E_INVALID,
			    "mode must be rewrap_dek, full or reindex, max_rps an integer 1..1000000", &a);
			goto out;
		}
	}
	if (!walkable(name)) {
		refuse(v, who, "key.reencrypt", resource, PV_E_INVALID,
		    "re-encryption walks a collection key (collection:<name>), an index key "
		    "(index:<name>), subjects, secrets or tokens", &a);
		goto out;
	}
	if (is_index_key(name) != (strcmp(mode, "reindex") == 0)) {
		refuse(v, who, "key.reencrypt", resource, PV_E_INVALID,
		    "an index key (index:<name>) re-indexes (mode reindex), and only it", &a);
		goto out;
	}
	if (is_secrets_key(name) && strcmp(mode, "rewrap_dek") != 0) {
		refuse(v, who, "key.reencrypt", resource, PV_E_INVALID,
		    "the secrets key re-encrypts by rewrap_dek only", &a);
		goto out;
	}
	rc = enqueue_reencrypt(ka, who->actor, name, mode, max_rps, id);
	if (rc == PV_E_NOTFOUND || rc == PV_E_JOB_CONFLICT) {
		refuse(v, who, "key.reencrypt", resource, rc, rc == PV_E_NOTFOUND ? "no such key" :
		    "a re-encryption job for this key is queued, running or paused", &a);
		goto out;
	}
	if (rc != PV_OK) {
		vault_answer_fail(&a, rc, NULL);
		goto out;
	}
	/* job.create is in the enqueue's transaction; this names the key */
	detail = key_detail(name, 0, "job", id);
	if (vault_audit_note(v, who, "key.reencrypt", resource, AUDIT_ALLOWED, detail) != PV_OK)
		log_warn("vault: key.reencrypt entry for job %s not recorded (job.create is)", id);
	a.body = json_pack("{s:s}", "job", id);
	if (a.body == NULL)
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
out:
	free(detail);
	vault_answer_send(&a, done, arg);
}

/* ---- double encryption of an existing collection ---- */

struct double_job {
	struct follow_head h;          /* first: the completion's head */
	struct vault_ctx *v;
	char name[KEYS_KEK_NAME_MAX + 1];
	char collection[VAULT_NAME_MAX];
	char resource[VAULT_RESOURCE_MAX];
	int want;
	uint32_t nv;
};

static enum pv_rc double_fn(struct store_tx *tx, void *arg)
{
	struct double_job *j = arg;
	char key[KEYS_KEK_NAME_MAX + sizeof(POLICY_PREFIX) + 1];
	struct keys_kek_opts o;
	struct policy p;
	json_t *pj;
	char *text;
	enum pv_rc rc;

	if ((rc = policy_get(tx, j->name, &p)) != PV_OK)
		return rc;
	p.double_enc = j->want;
	if ((pj = policy_json(&p)) == NULL)
		return PV_E_NOMEM;
	text = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(pj);
	if (text == NULL)
		return PV_E_NOMEM;
	snprintf(key, sizeof(key), POLICY_PREFIX "%s", j->name);
	rc = store_meta_put(tx, key, (const uint8_t *)text, strlen(text));
	free(text);
	if (rc != PV_OK)
		return rc;
	policy_opts(&p, &o);
	return keys_kek_rotate_opts_tx(j->v->keys, tx, j->name, &o, &j->nv);
}

/* After the fsync (committer thread): the policy written and the key
 * rotated; the job that moves every record follows (follow_start), then
 * the answer with its ID. */
static void double_finish(struct vault_op *op, enum pv_rc rc, struct vault_answer *a)
{
	struct double_job *j = (struct double_job *)op;
	struct reenc_follow *f = &j->h.f;

	if (!f->answered) {
		if (rc == PV_E_STATE || rc == PV_E_HSM) {
			vault_op_refuse(op, "collection.update", j->resource, rc, rc == PV_E_HSM ?
			    "the HSM is not available" : "the key's provider is not available");
			return;
		}
		if (rc != PV_OK) {
			vault_answer_fail(a, rc, NULL);
			return;
		}
		log_info("vault: %s rotated to v%u (double encryption %s)", j->name,
		    (unsigned)j->nv, j->want ? "on" : "off");
		follow_start(op, j->nv);
		return;
	}
	if (f->job_rc != PV_OK) {
		vault_answer_fail(a, f->job_rc, "the key rotated; start its re-encryption with "
		    "POST /v1/keys/{name}/reencrypt");
		return;
	}
	a->body = json_pack("{s:s, s:b, s:i, s:s}", "collection", j->collection,
	    "double_encryption", j->want == 1, "version", (int)j->nv, "job", f->jid);
	if (a->body == NULL)
		vault_answer_fail(a, PV_E_NOMEM, NULL);
}

void vault_collection_double(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *collection, json_t *body, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ka->v;
	struct double_job *j = NULL;
	struct audit_event ev;
	struct vault_answer a;
	char resource[VAULT_RESOURCE_MAX];
	char *detail = NULL;
	int64_t max_rps = MAX_RPS_DEFAULT;
	json_t *d = json_object_get(body, "double_encryption");
	enum pv_rc rc;

	vault_answer_init(&a);
	snprintf(resource, sizeof(resource), "collections/%s",
	    vault_name_valid(collection) ? collection : "(invalid)");
	if (!vault_name_valid(collection)) {
		refuse(v, who, "collection.update", resource, PV_E_NOTFOUND, "no such collection",
		    &a);
		goto out;
	}
	{
		json_t *mr = json_object_get(body, "max_rps");

		if (!json_is_boolean(d) || json_object_size(body) != (mr != NULL ? 2u : 1u) ||
		    (mr != NULL && (!json_is_integer(mr) || json_integer_value(mr) < 1 ||
		    json_integer_value(mr) > MAX_RPS_MAX))) {
			refuse(v, who, "collection.update", resource, PV_E_INVALID,
			    "the body is {\"double_encryption\": true|false} and an optional "
			    "max_rps 1..1000000 for its re-encryption job", &a);
			goto out;
		}
		if (mr != NULL)
			max_rps = json_integer_value(mr);
	}
	if (ka->jobs == NULL) {
		vault_answer_fail(&a, PV_E_UNAVAILABLE, NULL);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	j->v = v;
	vault_kek_records(collection, j->name, sizeof(j->name));
	util_strlcpy(j->collection, collection, sizeof(j->collection));
	util_strlcpy(j->resource, resource, sizeof(j->resource));
	j->want = json_is_true(d) ? 1 : 0;
	/* refuse before rotating: the move needs the job */
	rc = follow_read(ka, j->name, "rewrap_dek", max_rps, &j->h.f);
	if (rc == PV_OK && j->h.f.running)
		rc = PV_E_JOB_CONFLICT;
	if (rc == PV_E_NOTFOUND || rc == PV_E_JOB_CONFLICT) {
		refuse(v, who, "collection.update", resource, rc, rc == PV_E_NOTFOUND ?
		    "no such collection" : "a re-encryption job for this collection's key is "
		    "queued, running or paused", &a);
		goto out;
	}
	if (rc != PV_OK) {
		vault_answer_fail(&a, rc, NULL);
		goto out;
	}
	{
		json_t *dj = json_pack("{s:s, s:b}", "key", j->name, "double_encryption",
		    j->want == 1);

		detail = dj != NULL ? json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(dj);
	}
	if (detail == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "collection.update";
	ev.resource = j->resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	j->h.op.v = v;
	j->h.op.done = done;
	j->h.op.done_arg = arg;
	j->h.op.finish = double_finish;
	vault_op_submit(&j->h.op, &ev, double_fn, j);
	free(detail);
	return;
out:
	free(j);
	free(detail);
	vault_answer_send(&a, done, arg);
}

/* ---- the job kind ---- */

/* a record ID, or a subject's ref (the "subjects" walk) */
#define WALK_ID_MAX (STORE_SUBJECT_REF_LEN + 1)

struct step_cursor {
	int pass;
	char last[WALK_ID_MAX];
	int64_t window_ms;
	int64_t in_window;
};

static bool cursor_parse(const char *s, struct step_cursor *c)
{
	char last[WALK_ID_MAX] = "";
	int pass = 0, n = 0;
	long long w = 0, iw = 0;

	memset(c, 0, sizeof(*c));
	if (s == NULL || s[0] == '\0')
		return true;
	/* "<pass>|<last>|<window>|<n>"; last is an ID ([A-Za-z0-9_]) or empty */
	if (sscanf(s, "%d|%n", &pass, &n) != 1 || pass < 0 || pass > MAX_PASSES)
		return false;
	{
		const char *p = s + n, *bar = strchr(p, '|');

		if (bar == NULL || (size_t)(bar - p) >= sizeof(last))
			return false;
		memcpy(last, p, (size_t)(bar - p));
		last[bar - p] = '\0';
		if (sscanf(bar + 1, "%lld|%lld", &w, &iw) != 2)
			return false;
	}
	c->pass = pass;
	util_strlcpy(c->last, last, sizeof(c->last));
	c->window_ms = w;
	c->in_window = iw;
	return true;
}

static void cursor_fmt(const struct step_cursor *c, char *buf, size_t len)
{
	snprintf(buf, len, "%d|%s|%lld|%lld", c->pass, c->last, (long long)c->window_ms,
	    (long long)c->in_window);
}

struct ids {
	char id[BATCH_MAX][WALK_ID_MAX];
	size_t n;
};

static int id_cb(const char *id, void *arg)
{
	struct ids *l = arg;

	if (l->n < BATCH_MAX)
		util_strlcpy(l->id[l->n++], id, WALK_ID_MAX);
	return 0;
}

/*
 * The new envelope of one record on to_version (or beyond), read in tx
 * (any kind): *write = true and *nr filled (the caller's to clear), with
 * *old_kek the KEK version it was read under; a record already there,
 * shredded or gone needs nothing (*write false). No write: record_apply
 * does that, in the same transaction or a later one (prepare / apply).
 */
static enum pv_rc record_plan(struct vault_ctx *v, struct store_tx *tx,
    const char *collection, const char *id, uint32_t to_version, bool full,
    struct store_record *nr_out, uint32_t *old_kek, bool *write)
{
	struct store_record r, nr;
	struct vault_subject_env se;
	enum pv_rc rc;

	*write = false;
	memset(&r, 0, sizeof(r));
	memset(&nr, 0, sizeof(nr));
	rc = vault_record_fetch(tx, collection, id, &r, &se);
	if (rc == PV_E_NOTFOUND || rc == PV_E_SUBJECT_SHREDDED)
		return PV_OK;   /* gone, or its patient shredded: nothing to move */
	if (rc != PV_OK)
		return rc;
	if (r.deleted_ms != 0 || r.wrapped_dek == NULL || r.kek_version >= to_version)
		goto out;    /* shredded, or already on the active version: idempotent */
	if (full) {
		json_t *fields = NULL;

		if ((rc = vault_record_open_env(v->keys, &r, &se, &fields)) == PV_OK)
			rc = vault_record_seal_env(v->keys, collection, id, r.version, fields, &se,
			    &nr);
		json_decref(fields);
		if (rc != PV_OK)
			goto out;
	} else {
		struct keys_envelope in, outenv;

		if (strlen(r.kek_name) >= sizeof(in.kek_name)) {
			rc = PV_E_INTEGRITY;
			goto out;
		}
		memset(&in, 0, sizeof(in));
		util_strlcpy(in.kek_name, r.kek_name, sizeof(in.kek_name));
		in.kek_version = r.kek_version;
		/* under a subject key: peel that layer, rewrap, put it back */
		if ((rc = vault_subject_dek_peel(v->keys, &r, &se, in.wrapped_dek)) != PV_OK ||
		    (rc = keys_dek_rewrap(v->keys, &in, to_version, &outenv)) != PV_OK)
			goto out;
		/* the data stays as it is: only the wrapped DEK is written */
		util_strlcpy(nr.id, r.id, sizeof(nr.id));
		util_strlcpy(nr.collection, r.collection, sizeof(nr.collection));
		util_strlcpy(nr.kek_name, r.kek_name, sizeof(nr.kek_name));
		nr.version = r.version;
		nr.kek_version = outenv.kek_version;
		if (se.linked) {
			if ((rc = vault_subject_dek_wrap(v->keys, collection, id, r.version, &se,
			    outenv.wrapped_dek, &nr.wrapped_dek, &nr.wrapped_dek_len)) != PV_OK)
				goto out;
		} else {
			if ((nr.wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN)) == NULL) {
				rc = PV_E_NOMEM;
				goto out;
			}
			memcpy(nr.wrapped_dek, outenv.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
			nr.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
		}
		vault_wipe(&outenv, sizeof(outenv));
	}
	*old_kek = r.kek_version;
	*nr_out = nr;
	memset(&nr, 0, sizeof(nr));   /* the caller's now */
	*write = true;
out:
	vault_wipe(&se, sizeof(se));
	store_record_clear(&r);
	store_record_clear(&nr);
	return rc;
}

/* Write a planned envelope if the record is still live, at nr's version
 * and under old_kek (store_record_rewrap): a record PATCHed, shredded or
 * moved since the plan was read is left alone (the census at the end of a
 * pass sends the walk over it again if it is still on an older version). */
static enum pv_rc record_apply(struct store_tx *tx, const struct store_record *nr,
    uint32_t old_kek, bool *moved)
{
	enum pv_rc rc = store_record_rewrap(tx, nr, old_kek);

	*moved = rc == PV_OK;
	return rc == PV_E_CONFLICT ? PV_OK : rc;
}

/*
 * Move one record to to_version (or beyond). *moved = true if it was
 * written; a record already there, shredded or gone is left alone.
 */
enum pv_rc vault_reencrypt_record(struct vault_ctx *v, struct store_tx *tx,
    const char *collection, const char *id, uint32_t to_version, bool full, bool *moved)
{
	struct store_record nr;
	uint32_t old = 0;
	bool write = false;
	enum pv_rc rc;

	*moved = false;
	memset(&nr, 0, sizeof(nr));
	rc = record_plan(v, tx, collection, id, to_version, full, &nr, &old, &write);
	if (rc == PV_OK && write)
		rc = record_apply(tx, &nr, old, moved);
	store_record_clear(&nr);
	return rc;
}

/*
 * Re-index one record (KEK "index:<c>", mode reindex): if any of its
 * blind-index entries is under a version below to_version, open the record,
 * MAC each searchable field's canonical value under to_version, write those
 * entries and delete the older ones, all in the step's transaction. A record
 * with no older entry is skipped without being opened, so a step done again
 * after kill -9 changes nothing and never duplicates an entry (the primary
 * key is (collection, field, mac, record) and the old ones are gone).
 * *moved counts the older entries replaced (the census unit).
 */
static enum pv_rc reindex_record(struct vault_ctx *v, struct store_tx *tx,
    const struct vault_collection *c, const char *id, uint32_t to_version, int64_t *moved)
{
	struct store_record r;
	struct vault_subject_env se;
	uint8_t mac[VAULT_BLIND_LEN];
	json_t *fields = NULL;
	char *canon = NULL;
	int64_t below = 0, deleted = 0;
	enum pv_rc rc;

	*moved = 0;
	if ((rc = store_bidx_count_below(tx, c->name, id, to_version, &below)) != PV_OK)
		return rc;
	if (below == 0)
		return PV_OK;   /* done already, or nothing indexed: idempotent */
	memset(&r, 0, sizeof(r));
	memset(&se, 0, sizeof(se));
	rc = vault_record_fetch(tx, c->name, id, &r, &se);
	if (rc == PV_E_NOTFOUND || rc == PV_E_SUBJECT_SHREDDED) {
		rc = PV_OK;   /* gone: its stale entries only go */
		goto drop;
	}
	if (rc != PV_OK)
		goto out;
	if (r.deleted_ms != 0 || r.wrapped_dek == NULL)
		goto drop;
	if ((rc = vault_record_open_env(v->keys, &r, &se, &fields)) != PV_OK)
		goto out;
	if ((canon = malloc(VAULT_CANON_MAX)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->nfields; i++) {
		const struct vault_field *f = &c->fields[i];
		json_t *val = json_object_get(fields, f->name);

		if (!f->searchable || val == NULL || json_is_null(val))
			continue;
		if ((rc = vault_value_normalize(f, val, canon, VAULT_CANON_MAX, NULL, 0)) != PV_OK ||
		    (rc = vault_blind_index_version(v->keys, c->name, f->name, to_version, canon,
		    mac)) != PV_OK ||
		    (rc = store_bidx_put_version(tx, c->name, f->name, mac, id, to_version)) != PV_OK)
			goto out;
	}
drop:
	if ((rc = store_bidx_delete_below(tx, c->name, id, to_version, &deleted)) == PV_OK)
		*moved = deleted;
out:
	vault_wipe(mac, sizeof(mac));
	if (canon != NULL) {
		vault_wipe(canon, VAULT_CANON_MAX);
		free(canon);
	}
	json_decref(fields);
	vault_wipe(&se, sizeof(se));
	store_record_clear(&r);
	return rc;
}

/*
 * Move one subject key to to_version (KEK "subjects"): its envelope's DEK is
 * rewrapped (both modes: the subject key itself never leaves the keyring,
 * and what it wraps is unchanged). Conditional on the KEK version read, so
 * a repeated step is a no-op.
 */
static enum pv_rc reencrypt_subject(struct vault_ctx *v, struct store_tx *tx, const char *ref,
    uint32_t to_version, bool *moved)
{
	struct store_subject s, ns;
	struct vault_subject_env se;
	struct keys_envelope outenv;
	enum pv_rc rc;

	*moved = false;
	memset(&s, 0, sizeof(s));
	rc = store_subject_get(tx, ref, &s);
	if (rc == PV_E_NOTFOUND)
		return PV_OK;   /* shredded meanwhile */
	if (rc != PV_OK)
		return rc;
	if (s.kek_version >= to_version)
		goto out;
	if ((rc = vault_subject_env_from(&s, &se)) != PV_OK ||
	    (rc = keys_dek_rewrap(v->keys, &se.sk.env, to_version, &outenv)) != PV_OK)
		goto out;
	ns = s;
	ns.kek_version = outenv.kek_version;
	ns.wrapped_dek = outenv.wrapped_dek;
	ns.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	rc = store_subject_rewrap(tx, &ns, s.kek_version);
	if (rc == PV_E_CONFLICT)
		rc = PV_OK;
	else if (rc == PV_OK)
		*moved = true;
	vault_wipe(&outenv, sizeof(outenv));
out:
	vault_wipe(&se, sizeof(se));
	store_subject_clear(&s);
	return rc;
}

struct auto_retire {
	const char *name;
	uint32_t below;
	struct store_tx *tx;
	struct vault_ctx *v;
	uint32_t v_[64];
	size_t n;
};

static int retire_cb(const struct store_kek *k, void *arg)
{
	struct auto_retire *c = arg;

	if (strcmp(k->name, c->name) == 0 && k->version < c->below &&
	    k->state == STORE_KEK_RETIRED && c->n < 64)
		c->v_[c->n++] = k->version;
	return 0;
}

/* The key.retire entry of a retirement the policy made (actor system,
 * reason "policy"), in the step's transaction beside its job entry: it
 * commits with the retirement or not at all, like a key admin's. */
static enum pv_rc audit_auto_retire(const char *name, uint32_t version)
{
	struct pv_actor sys = audit_actor_system();
	char resource[KEY_RESOURCE_MAX];
	char *detail = key_detail(name, version, NULL, NULL);
	struct audit_event ev;
	enum pv_rc rc;

	if (detail == NULL)
		return PV_E_NOMEM;
	key_resource(resource, sizeof(resource), name, version);
	memset(&ev, 0, sizeof(ev));
	ev.actor = sys;
	ev.action = "key.retire";
	ev.resource = resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "policy";
	ev.detail = detail;
	rc = audit_tx_entry(&ev);
	free(detail);
	return rc;
}

/* policy reencrypt = auto: retire every decrypt_only version of the key
 * with census 0, in the step's transaction (the job's last). */
static enum pv_rc auto_retire(struct vault_ctx *v, struct store_tx *tx, const char *name,
    uint32_t below)
{
	struct auto_retire c;
	struct policy p;
	enum pv_rc rc;

	if ((rc = policy_get(tx, name, &p)) != PV_OK || !p.auto_reencrypt)
		return rc;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.below = below;
	if ((rc = store_kek_scan(tx, retire_cb, &c)) != PV_OK)
		return rc;
	for (size_t i = 0; i < c.n; i++) {
		rc = keys_kek_retire_tx(v->keys, tx, name, c.v_[i]);
		if (rc == PV_E_RETIRED_KEY_IN_USE)
			continue;
		if (rc != PV_OK || (rc = audit_auto_retire(name, c.v_[i])) != PV_OK)
			return rc;
		log_info("vault: key %s v%u retired (census 0, policy reencrypt = auto)", name,
		    (unsigned)c.v_[i]);
	}
	return PV_OK;
}

/* The secrets key's walk: up to batch live secret versions after the
 * cursor (their seq, decimal, as `last`), each under an older version than
 * to rewrapped onto it (keys_dek_rewrap: the DEK never leaves the keyring,
 * the ciphertext and its AAD stay). store_secret_version_rewrap writes only
 * if the version is still at the KEK version read, so a step done again
 * after kill -9 changes nothing. *n: versions looked at. */
struct sv_list {
	struct store_secret_version v[INLINE_BATCH_MAX];
	size_t n;
	bool nomem;
};

static int sv_cb(const struct store_secret_version *v, void *arg)
{
	struct sv_list *l = arg;
	struct store_secret_version *d;

	if (l->n == INLINE_BATCH_MAX)
		return 1;
	d = &l->v[l->n];
	memset(d, 0, sizeof(*d));
	d->seq = v->seq;
	util_strlcpy(d->path, v->path, sizeof(d->path));
	util_strlcpy(d->kek_name, v->kek_name, sizeof(d->kek_name));
	d->version = v->version;
	d->kek_version = v->kek_version;
	if (v->wrapped_dek_len != KEYS_WRAPPED_DEK_LEN) {
		d->wrapped_dek_len = 0;    /* damaged: reported as integrity */
	} else {
		d->wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN);
		if (d->wrapped_dek == NULL) {
			l->nomem = true;
			return 1;
		}
		memcpy(d->wrapped_dek, v->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
		d->wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	}
	l->n++;
	return 0;
}

static enum pv_rc secrets_step(const struct jobs_step_ctx *ctx, struct step_cursor *c,
    uint32_t to, int64_t batch, struct jobs_step_out *out, size_t *n)
{
	struct vault_ctx *v = ctx->kind_arg;
	struct sv_list *l = calloc(1, sizeof(*l));
	long long after = 0;
	enum pv_rc rc;

	*n = 0;
	if (l == NULL)
		return PV_E_NOMEM;
	if (c->last[0] != '\0' && sscanf(c->last, "%lld", &after) != 1) {
		free(l);
		return PV_E_INVALID;
	}
	rc = store_secret_version_scan(ctx->tx, after, (size_t)batch, sv_cb, l);
	if (rc == PV_OK && l->nomem)
		rc = PV_E_NOMEM;
	for (size_t i = 0; rc == PV_OK && i < l->n; i++) {
		struct store_secret_version *sv = &l->v[i];
		struct keys_envelope in, outenv;

		snprintf(c->last, sizeof(c->last), "%lld", (long long)sv->seq);
		if (sv->kek_version >= to || strcmp(sv->kek_name, STORE_SECRETS_KEK) != 0)
			continue;
		if (sv->wrapped_dek_len != KEYS_WRAPPED_DEK_LEN) {
			rc = PV_E_INTEGRITY;
		} else {
			memset(&in, 0, sizeof(in));
			util_strlcpy(in.kek_name, sv->kek_name, sizeof(in.kek_name));
			in.kek_version = sv->kek_version;
			memcpy(in.wrapped_dek, sv->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
			rc = keys_dek_rewrap(v->keys, &in, to, &outenv);
		}
		if (rc == PV_OK) {
			uint32_t old = sv->kek_version;

			sv->kek_version = outenv.kek_version;
			memcpy(sv->wrapped_dek, outenv.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
			rc = store_secret_version_rewrap(ctx->tx, sv, old);
			if (rc == PV_OK)
				out->done++;
			else if (rc == PV_E_CONFLICT)
				rc = PV_OK;   /* changed under us: nothing to do */
		}
		if (rc == PV_E_FORBIDDEN || rc == PV_E_KEY_REVOKED || rc == PV_E_INTEGRITY) {
			/* under a revoked version or damaged: say which (a path and a
			 * code, never a value) and go on */
			util_strlcpy(out->error_code, rc == PV_E_INTEGRITY ? "integrity" :
			    "key_revoked", sizeof(out->error_code));
			util_strlcpy(out->error_item, sv->path, sizeof(out->error_item));
			rc = PV_OK;
		}
	}
	*n = l->n;
	for (size_t i = 0; i < l->n; i++)
		store_secret_version_clear(&l->v[i]);
	free(l);
	return rc;
}

/* The tokens key's walk: up to batch tokens after the cursor (the token,
 * as `last`), each moved by vault_reencrypt_token (DEK to `to`, and a
 * deterministic token's lookup MAC). store_token_rewrap writes only if the
 * token is still under the versions read, so a step done again after
 * kill -9 changes nothing; done counts census objects moved (a DEK, a MAC). */
struct tok_list {
	struct store_token t[INLINE_BATCH_MAX];
	size_t n;
	bool nomem;
};

static int tok_cb(const struct store_token *t, void *arg)
{
	struct tok_list *l = arg;
	struct store_token *d;

	if (l->n == INLINE_BATCH_MAX)
		return 1;
	d = &l->t[l->n];
	*d = *t;
	d->wrapped_dek = malloc(t->wrapped_dek_len > 0 ? t->wrapped_dek_len : 1);
	d->ciphertext = malloc(t->ciphertext_len > 0 ? t->ciphertext_len : 1);
	if (d->wrapped_dek == NULL || d->ciphertext == NULL) {
		free(d->wrapped_dek);
		free(d->ciphertext);
		l->nomem = true;
		return 1;
	}
	memcpy(d->wrapped_dek, t->wrapped_dek, t->wrapped_dek_len);
	memcpy(d->ciphertext, t->ciphertext, t->ciphertext_len);
	l->n++;
	return 0;
}

static enum pv_rc tokens_step(const struct jobs_step_ctx *ctx, struct step_cursor *c,
    uint32_t to, bool full, int64_t batch, struct jobs_step_out *out, size_t *n)
{
	struct vault_ctx *v = ctx->kind_arg;
	struct tok_list *l = calloc(1, sizeof(*l));
	enum pv_rc rc;

	*n = 0;
	if (l == NULL)
		return PV_E_NOMEM;
	rc = store_token_scan(ctx->tx, c->last, (size_t)batch, tok_cb, l);
	if (rc == PV_OK && l->nomem)
		rc = PV_E_NOMEM;
	for (size_t i = 0; rc == PV_OK && i < l->n; i++) {
		const struct store_token *t = &l->t[i];
		int64_t objects = (t->kek_version < to ? 1 : 0) +
		    (t->deterministic && t->mac_version < to ? 1 : 0);
		bool moved = false;

		rc = vault_reencrypt_token(v, ctx->tx, t, to, full, &moved);
		if (rc == PV_E_FORBIDDEN || rc == PV_E_KEY_REVOKED || rc == PV_E_INTEGRITY) {
			/* under a revoked version or damaged: say which (a token ID
			 * and a code, never a value) and go on */
			util_strlcpy(out->error_code, rc == PV_E_INTEGRITY ? "integrity" :
			    "key_revoked", sizeof(out->error_code));
			util_strlcpy(out->error_item, t->token, sizeof(out->error_item));
			rc = PV_OK;
		}
		if (rc == PV_OK && moved)
			out->done += objects;
		if (rc == PV_OK)
			util_strlcpy(c->last, t->token, sizeof(c->last));
	}
	*n = l->n;
	for (size_t i = 0; i < l->n; i++)
		store_token_clear(&l->t[i]);
	free(l);
	return rc;
}

/* One step's parameters, from the job's params and cursor (prepare and
 * step both read them; the cursor is the same, so the batch is too unless
 * the rate window rolled over in between). */
struct walk {
	json_t *p;
	const char *key, *coll;
	uint32_t to;
	int64_t batch;           /* <= 0: a full window, the step does nothing */
	bool full, reindex;
	struct step_cursor c;
};

/* the records walk (a collection key, rewrap_dek or full) is prepared */
static bool walk_prepared(const struct walk *w)
{
	return !is_secrets_key(w->key) && !is_tokens_key(w->key) && !w->reindex &&
	    w->coll[0] != '\0';
}

static enum pv_rc walk_begin(const struct jobs_step_ctx *ctx, const char *cursor,
    struct walk *w)
{
	int64_t max_rps, now = util_now_ms(), per_step, due;
	const char *mode;

	memset(w, 0, sizeof(*w));
	w->p = json_loads(ctx->params, 0, NULL);
	if (w->p == NULL || !json_is_string(json_object_get(w->p, "key")) ||
	    !json_is_string(json_object_get(w->p, "collection")) ||
	    !json_is_string(json_object_get(w->p, "mode")) ||
	    !json_is_integer(json_object_get(w->p, "to_version")) ||
	    !json_is_integer(json_object_get(w->p, "max_rps")) || !cursor_parse(cursor, &w->c))
		return PV_E_INVALID;
	w->key = json_string_value(json_object_get(w->p, "key"));
	w->coll = json_string_value(json_object_get(w->p, "collection"));
	mode = json_string_value(json_object_get(w->p, "mode"));
	w->full = strcmp(mode, "full") == 0;
	w->reindex = strcmp(mode, "reindex") == 0;
	w->to = (uint32_t)json_integer_value(json_object_get(w->p, "to_version"));
	max_rps = json_integer_value(json_object_get(w->p, "max_rps"));
	if (max_rps < 1 || w->to == 0)
		return PV_E_INVALID;
	/* the rate window: at most max_rps records a second */
	if (now - w->c.window_ms >= 1000 || now < w->c.window_ms) {
		w->c.window_ms = now;
		w->c.in_window = 0;
	}
	/* paced in small steps: max_rps / PACE_STEPS records a step (at least
	 * one), so a paced job's records are spread over the second instead of
	 * one burst that holds the committer; at full speed BATCH_MAX for the
	 * prepared records walk (its step on the committer is the writes only),
	 * INLINE_BATCH_MAX for the walks done whole there */
	per_step = max_rps / PACE_STEPS;
	if (per_step < 1)
		per_step = 1;
	/* steps that run late (a loaded machine) catch up: as many as the
	 * window's time so far allows, so the rate stays near max_rps */
	due = max_rps * (now - w->c.window_ms + 1000 / PACE_STEPS) / 1000 - w->c.in_window;
	if (due > per_step)
		per_step = due;
	if (per_step > (walk_prepared(w) ? BATCH_MAX : INLINE_BATCH_MAX))
		per_step = walk_prepared(w) ? BATCH_MAX : INLINE_BATCH_MAX;
	w->batch = max_rps - w->c.in_window;
	if (w->batch > per_step)
		w->batch = per_step;
	return PV_OK;
}

/* The plan of one records step (prepare / apply, jobs.h): the IDs scanned
 * from the cursor and, for each, the envelope to write or the error to
 * report. Made in a read transaction on the runner thread. */
struct plan_item {
	char id[WALK_ID_MAX];
	enum pv_rc rc;           /* PV_OK, or why it cannot move (reported) */
	bool write;
	uint32_t old_kek;
	struct store_record nr;
};

struct walk_plan {
	int64_t batch;           /* what it was made for */
	size_t n;
	struct plan_item item[]; /* batch of them */
};

static void plan_free(void *arg)
{
	struct walk_plan *pl = arg;

	if (pl == NULL)
		return;
	for (size_t i = 0; i < pl->n; i++)
		store_record_clear(&pl->item[i].nr);
	free(pl);
}

/* The cursor the step leaves if it applies pl (made from cursor) whole:
 * the prepare of the next step starts there while this one commits
 * (jobs.h "Prepared ahead"). Not when the plan is short: that step ends the
 * pass (the census decides what follows). The window is carried as it is;
 * the step that applies the next plan recomputes its own. */
static bool plan_next_cursor(const void *arg, const char *cursor, char next[JOBS_CURSOR_MAX])
{
	const struct walk_plan *pl = arg;
	struct step_cursor c;

	if (pl == NULL || pl->n == 0 || (int64_t)pl->n < pl->batch || !cursor_parse(cursor, &c))
		return false;
	util_strlcpy(c.last, pl->item[pl->n - 1].id, sizeof(c.last));
	c.in_window += (int64_t)pl->n;
	cursor_fmt(&c, next, JOBS_CURSOR_MAX);
	return true;
}

/* Two cursors at the same position (pass and last item): a plan made from
 * one fits a step at the other, whatever their rate windows. */
static bool cursor_same(const char *planned, const char *cursor)
{
	struct step_cursor a, b;

	return cursor_parse(planned, &a) && cursor_parse(cursor, &b) && a.pass == b.pass &&
	    strcmp(a.last, b.last) == 0;
}

static bool cannot_move(enum pv_rc rc)
{
	return rc == PV_E_FORBIDDEN || rc == PV_E_KEY_REVOKED || rc == PV_E_INTEGRITY;
}

static enum pv_rc kind_prepare(const struct jobs_step_ctx *ctx, const char *cursor,
    void **out)
{
	struct vault_ctx *v = ctx->kind_arg;
	struct walk w;
	struct walk_plan *pl = NULL;
	struct ids *ids = NULL;
	enum pv_rc rc;

	*out = NULL;
	if ((rc = walk_begin(ctx, cursor, &w)) != PV_OK || w.batch <= 0 || !walk_prepared(&w))
		goto out;
	if ((pl = calloc(1, sizeof(*pl) + (size_t)w.batch * sizeof(pl->item[0]))) == NULL ||
	    (ids = calloc(1, sizeof(*ids))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	pl->batch = w.batch;
	if ((rc = store_record_scan(ctx->tx, w.coll, w.c.last, (size_t)w.batch, id_cb, ids)) !=
	    PV_OK)
		goto out;
	for (size_t i = 0; i < ids->n && i < (size_t)w.batch; i++) {
		struct plan_item *it = &pl->item[pl->n++];

		util_strlcpy(it->id, ids->id[i], sizeof(it->id));
		it->rc = record_plan(v, ctx->tx, w.coll, it->id, w.to, w.full, &it->nr,
		    &it->old_kek, &it->write);
		if (!cannot_move(it->rc) && it->rc != PV_OK) {
			rc = it->rc;
			goto out;
		}
	}
	*out = pl;
	pl = NULL;
out:
	plan_free(pl);
	free(ids);
	json_decref(w.p);
	return rc;
}

static enum pv_rc kind_step(const struct jobs_step_ctx *ctx, const char *cursor,
    struct jobs_step_out *out)
{
	struct vault_ctx *v = ctx->kind_arg;
	struct walk w;
	struct ids *ids = NULL;
	const struct walk_plan *pl = ctx->plan;
	const struct vault_collection *ic = NULL;
	int64_t left = 0, batch;
	size_t n = 0;
	enum pv_rc rc;

	if ((rc = walk_begin(ctx, cursor, &w)) != PV_OK)
		goto out;
	if (w.batch <= 0) {
		cursor_fmt(&w.c, out->cursor, sizeof(out->cursor));
		goto out;   /* a full window: this step does nothing */
	}
	if (pl != NULL && !walk_prepared(&w))
		pl = NULL;
	/* a plan made for another batch (its rate window was another, or
	 * predicted: prepared ahead) still fits: the step takes at most the
	 * smaller of the two, from the same position */
	batch = pl != NULL && pl->batch < w.batch ? pl->batch : w.batch;
	if (is_secrets_key(w.key)) {
		if ((rc = secrets_step(ctx, &w.c, w.to, w.batch, out, &n)) != PV_OK)
			goto out;
		goto counted;   /* the pass's end and the rate window count n below */
	}
	if (is_tokens_key(w.key)) {
		if ((rc = tokens_step(ctx, &w.c, w.to, w.full, w.batch, out, &n)) != PV_OK)
			goto out;
		goto counted;
	}
	if (w.reindex && (w.coll[0] == '\0' || (rc = vault_coll_get(v, w.coll, &ic)) != PV_OK)) {
		if (rc == PV_OK)
			rc = PV_E_INVALID;
		goto out;
	}
	if (pl == NULL) {
		if ((ids = calloc(1, sizeof(*ids))) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		/* collection "" : the subject keys of KEK "subjects", in ref order */
		if ((rc = w.coll[0] == '\0' ?
		    store_subject_scan(ctx->tx, w.c.last, (size_t)w.batch, id_cb, ids) :
		    store_record_scan(ctx->tx, w.coll, w.c.last, (size_t)w.batch, id_cb, ids)) !=
		    PV_OK)
			goto out;
	}
	n = pl != NULL ? pl->n : ids->n;
	if ((int64_t)n > batch)
		n = (size_t)batch;
	for (size_t i = 0; i < n; i++) {
		const char *id = pl != NULL ? pl->item[i].id : ids->id[i];
		bool moved = false;
		int64_t entries = 0;

		if (pl != NULL) {
			/* apply: only the conditional write of what prepare made */
			rc = pl->item[i].rc;
			if (rc == PV_OK && pl->item[i].write)
				rc = record_apply(ctx->tx, &pl->item[i].nr, pl->item[i].old_kek, &moved);
		} else if (w.reindex) {
			rc = reindex_record(v, ctx->tx, ic, id, w.to, &entries);
			out->done += entries;
		} else {
			rc = w.coll[0] == '\0' ? reencrypt_subject(v, ctx->tx, id, w.to, &moved) :
			    vault_reencrypt_record(v, ctx->tx, w.coll, id, w.to, w.full, &moved);
		}
		if (cannot_move(rc)) {
			/* under a revoked version or damaged: nothing can move it; say
			 * which (an ID and a code, never a value) and go on */
			util_strlcpy(out->error_code, rc == PV_E_INTEGRITY ? "integrity" :
			    "key_revoked", sizeof(out->error_code));
			util_strlcpy(out->error_item, id, sizeof(out->error_item));
			rc = PV_OK;
		}
		if (rc != PV_OK)
			goto out;
		if (moved)
			out->done++;
		util_strlcpy(w.c.last, id, sizeof(w.c.last));
	}
counted:
	w.c.in_window += (int64_t)n;
	out->total = -1;
	if ((int64_t)n < batch) {
		/* end of a pass: anything left under an older version? */
		if ((rc = census_older(ctx->tx, w.key, w.to, &left)) != PV_OK)
			goto out;
		if (left > 0 && w.c.pass + 1 < MAX_PASSES) {
			w.c.pass++;
			w.c.last[0] = '\0';
			out->total = ctx->done + out->done + left;
		} else {
			out->finished = true;
			if ((rc = auto_retire(v, ctx->tx, w.key, w.to)) != PV_OK)
				goto out;
		}
	}
	cursor_fmt(&w.c, out->cursor, sizeof(out->cursor));
out:
	free(ids);
	json_decref(w.p);
	return rc;
}

/* ---- scheduled rotation ---- */

struct due {
	char name[128];
	uint32_t version;
	int64_t created_ms;
};

struct due_list {
	struct due d[64];
	size_t n;
};

static int due_cb(const struct store_kek *k, void *arg)
{
	struct due_list *l = arg;

	if (k->state != STORE_KEK_ACTIVE)
		return 0;
	if (l->n < sizeof(l->d) / sizeof(l->d[0])) {
		util_strlcpy(l->d[l->n].name, k->name, sizeof(l->d[l->n].name));
		l->d[l->n].version = k->version;
		l->d[l->n].created_ms = k->created_ms;
		l->n++;
	}
	return 0;
}

static enum pv_rc due_tx(struct store_tx *tx, int64_t now, struct due_list *l)
{
	size_t keep = 0;
	enum pv_rc rc = store_kek_scan(tx, due_cb, l);

	for (size_t i = 0; rc == PV_OK && i < l->n; i++) {
		struct policy p;

		if ((rc = policy_get(tx, l->d[i].name, &p)) != PV_OK)
			break;
		if (p.rotate_every_s > 0 && now - l->d[i].created_ms >= p.rotate_every_s * 1000)
			l->d[keep++] = l->d[i];
	}
	l->n = keep;
	return rc;
}

static void sweep_done(struct vault_answer *a, void *arg)
{
	(void)a;
	(void)arg;
}

/* Rotate every key whose policy's rotate_every_s has passed since its
 * active version was made. */
static void sweep(struct vault_keyadmin *ka)
{
	struct due_list *l = calloc(1, sizeof(*l));
	struct pv_actor sys = audit_actor_system();
	struct vault_caller who = { NULL, &sys, NULL, NULL };
	enum pv_rc rc;

	if (l == NULL || keys_is_sealed(ka->v->keys)) {
		free(l);
		return;
	}
	STORE_READ(ka->v->st, rc, due_tx(tx, util_now_ms(), l));
	for (size_t i = 0; rc == PV_OK && i < l->n; i++) {
		log_info("vault: key %s v%u is older than its rotate_every_s: rotating", l->d[i].name,
		    (unsigned)l->d[i].version);
		vault_key_rotate(ka, &who, l->d[i].name, sweep_done, NULL);
	}
	free(l);
}

static void *sweeper(void *arg)
{
	struct vault_keyadmin *ka = arg;

	pthread_mutex_lock(&ka->mu);
	while (!ka->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += SWEEP_MS / 1000;
		pthread_cond_timedwait(&ka->cv, &ka->mu, &ts);
		if (ka->stop)
			break;
		pthread_mutex_unlock(&ka->mu);
		sweep(ka);
		pthread_mutex_lock(&ka->mu);
	}
	pthread_mutex_unlock(&ka->mu);
	return NULL;
}

void vault_keys_stop(struct vault_ctx *v)
{
	struct vault_keyadmin *ka = v != NULL ? v->keyadmin : NULL;

	if (ka == NULL || !ka->running)
		return;
	pthread_mutex_lock(&ka->mu);
	ka->stop = true;
	pthread_cond_broadcast(&ka->cv);
	pthread_mutex_unlock(&ka->mu);
	pthread_join(ka->thread, NULL);
	ka->running = false;
}

void vault_keyadmin_free(struct vault_keyadmin *ka)
{
	if (ka == NULL)
		return;
	vault_keys_stop(ka->v);
	pthread_cond_destroy(&ka->cv);
	pthread_mutex_destroy(&ka->mu);
	pthread_mutex_destroy(&ka->cmu);
	free(ka);
}

/* ---- wiring ---- */

enum pv_rc vault_keys_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv)
{
	struct vault_keyadmin *ka;
	enum pv_rc rc;

	if (v == NULL || v->keyadmin != NULL)
		return PV_E_INVALID;
	if ((ka = calloc(1, sizeof(*ka))) == NULL)
		return PV_E_NOMEM;
	ka->v = v;
	ka->jobs = r;
	pthread_mutex_init(&ka->mu, NULL);
	pthread_cond_init(&ka->cv, NULL);
	pthread_mutex_init(&ka->cmu, NULL);
	ka->kind.name = KIND_NAME;
	ka->kind.step = kind_step;
	ka->kind.arg = v;
	ka->prep = (struct jobs_prepare){ kind_prepare, plan_free, plan_next_cursor, cursor_same };
	v->keyadmin = ka;   /* freed by vault_free */
	STORE_READ(v->st, rc, compromised_load_tx(tx, ka));
	if (rc != PV_OK)
		log_warn("vault: the compromised key versions were not loaded (%s)", pv_rc_name(rc));
	if (r != NULL && (rc = jobs_kind_register_prepared(r, &ka->kind, &ka->prep)) !=
	    PV_OK)
		return rc;
	if (srv != NULL && (rc = vault_routes_keys(srv, ka)) != PV_OK)
		return rc;
	/* the server (routes given) gets the rotation sweeper */
	if (srv != NULL) {
		if (pthread_create(&ka->thread, NULL, sweeper, ka) != 0)
			return PV_E_NOMEM;
		ka->running = true;
	}
	return PV_OK;
}

enum pv_rc vault_keys_kind_step(struct vault_ctx *v, const struct jobs_step_ctx *ctx,
    const char *cursor, struct jobs_step_out *out)
{
	struct jobs_step_ctx c = *ctx;

	c.kind_arg = v;
	return kind_step(&c, cursor, out);
}

enum pv_rc vault_keys_kind_prepare(struct vault_ctx *v, const struct jobs_step_ctx *ctx,
    const char *cursor, void **plan)
{
	struct jobs_step_ctx c = *ctx;

	c.kind_arg = v;
	c.plan = NULL;
	return kind_prepare(&c, cursor, plan);
}

void vault_keys_plan_free(void *plan)
{
	plan_free(plan);
}

bool vault_keys_plan_next_cursor(const void *plan, const char *cursor, char *next, size_t len)
{
	char buf[JOBS_CURSOR_MAX];

	if (!plan_next_cursor(plan, cursor, buf))
		return false;
	util_strlcpy(next, buf, len);
	return true;
}

bool vault_keys_cursor_same(const char *planned, const char *cursor)
{
	return cursor_same(planned, cursor);
}

struct vault_ctx *vault_keyadmin_vault(struct vault_keyadmin *ka)
{
	return ka->v;
}
