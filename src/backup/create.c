/*
 * create.c: backups online: the job kind "backup.create", its worker, the
 * residency rule, the catalogue (the files of the backup directory) and
 * the immutability window.
 *
 * Why a worker thread: a job step runs on the audit writer thread inside
 * the group transaction (docs/internals/jobs.md) and must stay small. A
 * snapshot of a large store takes seconds, so the step only starts the
 * worker and then reports its progress; the worker reads through its own
 * STORE_RD transaction (a snapshot that blocks no writer) and writes the
 * file. States of a job's worker, seen by its steps:
 *
 *   (none) --step: file <id>.pvbak exists-->          finished
 *   (none) --step: start worker-->                    RUNNING
 *   RUNNING --step-->                                 progress, not finished
 *   RUNNING --worker ends OK-->  DONE --step-->       finished (joined)
 *   RUNNING --worker fails-->    FAILED --step-->     step error (joined; the
 *                                                     runner retries: a new
 *                                                     worker from the start)
 *
 * A crash loses the worker and its partial file (.<id>.partial, never
 * listed); the job resumes under its lease and its next step starts a new
 * worker for the same backup ID, which removes the partial first. A
 * backup's file appears under its name only when complete and read-only,
 * and is never overwritten (link(2) refuses an existing name).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup_int.h"
#include "jobs/jobs.h"

#define KIND "backup.create"
#define DRILL_KIND "backup.drill"

enum worker_state { W_NONE, W_RUNNING, W_DONE, W_FAILED };
enum work { WORK_CREATE = 0, WORK_DRILL = 1 };

struct backup;
struct kind_arg {
	struct backup *b;
	enum work work;
};

struct backup {
	struct backup_config cfg;
	char dir[4096];
	struct jobs_runner *jobs;
	struct jobs_kind kind, dkind;
	struct kind_arg karg[2];
	pthread_mutex_t mu;
	/* the one worker (the runner runs one job at a time) */
	enum worker_state state;
	bool joinable;
	pthread_t thread;
	char job[UTIL_ID_MAX];
	char id[UTIL_ID_MAX];         /* create: the backup made; drill: the one drilled ("" newest) */
	enum work work;
	struct pv_actor actor;
	int64_t done, total;
	enum pv_rc rc;
	/* the scheduler ([backup] every_s > 0) */
	pthread_cond_t cv;
	pthread_t sched;
	bool sched_running, stop;
	bool pending;                 /* a scheduled backup is queued or running */
	char pending_id[UTIL_ID_MAX];
	bool drill_pending;           /* a scheduled drill is queued or running */
	char drill_job[UTIL_ID_MAX];
	int64_t started_ms;
};

/*
 * One entry. On an HTTP request thread (a refusal, a download, a delete)
 * the answer waits for it, not the thread (audit_record_held): fail_closed,
 * an entry that is not durable turns the answer into PV_E_AUDIT; otherwise
 * the answer stands and the failure is logged. On the worker, the
 * scheduler and the job runner it is audit_record, as before.
 */
static enum pv_rc
audit_event_held(struct backup *b, const struct pv_actor *actor, const char *action,
    const char *resource, enum audit_outcome outcome, const char *reason, const char *detail,
    bool fail_closed)
{
	struct audit_event ev = {
		.actor = *actor,
		.action = action,
		.resource = resource,
		.outcome = outcome,
		.reason = reason,
		.detail = detail,
	};

	return audit_record_held(b->cfg.audit, &ev, fail_closed);
}

static enum pv_rc
audit_event(struct backup *b, const struct pv_actor *actor, const char *action,
    const char *resource, enum audit_outcome outcome, const char *reason, const char *detail)
{
	return audit_event_held(b, actor, action, resource, outcome, reason, detail, true);
}

/* ---- residency ---- */

struct region_check {
	const char *region;
	char *why;
	size_t whylen;
	bool bad;
	json_t *list;
};

static int
each_collection(const struct store_collection *c, void *arg)
{
	struct region_check *x = arg;

	if (x->list != NULL)
		json_array_append_new(x->list, json_pack("{s:s,s:s}", "name", c->name,
		    "region", c->region));
	if (!x->bad && strcmp(c->region, x->region) != 0) {
		snprintf(x->why, x->whylen, "collection %s is in region %s, the backup region "
		    "([backup] region) is %s", c->name, c->region, x->region);
		x->bad = true;
	}
	return 0;
}

/* PV_E_REGION with why, or PV_OK (list: the collections, may be NULL). */
static enum pv_rc
residency(struct backup *b, struct store_tx *tx, json_t *list, char *why, size_t whylen)
{
	struct region_check x = { b->cfg.cfg->backup_region, why, whylen, false, list };
	enum pv_rc rc;

	if (!config_region_allowed(b->cfg.cfg, b->cfg.cfg->backup_region)) {
		snprintf(why, whylen, "the backup region %s is not in [policy] allowed_regions",
		    b->cfg.cfg->backup_region);
		return PV_E_REGION;
	}
	if ((rc = store_collection_list(tx, each_collection, &x)) != PV_OK)
		return rc;
	return x.bad ? PV_E_REGION : PV_OK;
}

/* ---- the catalogue ---- */

struct item {
	json_t *m;
	char sha[65];
	bool sig;
	char name[256];
	int64_t created_ms;
	int64_t size;
};

static void
items_free(struct item *it, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(it[i].m);
	free(it);
}

static int
newest_first(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return x->created_ms < y->created_ms ? 1 : x->created_ms > y->created_ms ? -1 :
	    strcmp(y->name, x->name);
}

/* Every complete backup in the directory, newest first. */
static enum pv_rc
scan(struct backup *b, struct item **out, size_t *nout)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct item *it = NULL, *ni;
	size_t n = 0, cap = 0, sl = strlen(BACKUP_SUFFIX);
	struct dirent *d;
	bool have_pub;
	DIR *dh;

	have_pub = keys_audit_public_key(b->cfg.st, pub) == PV_OK;
	if ((dh = opendir(b->dir)) == NULL)
		return PV_E_IO;
	while ((d = readdir(dh)) != NULL) {
		size_t l = strlen(d->d_name);
		char path[4400];
		struct stat sb;
		struct item x;

		if (d->d_name[0] == '.' || l <= sl || l >= sizeof(x.name) ||
		    strcmp(d->d_name + l - sl, BACKUP_SUFFIX) != 0)
			continue;
		memset(&x, 0, sizeof(x));
		snprintf(path, sizeof(path), "%s/%s", b->dir, d->d_name);
		if (stat(path, &sb) != 0 ||
		    backup_manifest_read(path, have_pub ? pub : NULL, &x.m, x.sha, &x.sig) != PV_OK)
			continue;   /* not a complete backup: never listed */
		memcpy(x.name, d->d_name, l + 1);
		x.created_ms = json_integer_value(json_object_get(x.m, "created_ms"));
		x.size = (int64_t)sb.st_size;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((ni = realloc(it, cap * sizeof(*it))) == NULL) {
				json_decref(x.m);
				closedir(dh);
				items_free(it, n);
				return PV_E_NOMEM;
			}
			it = ni;
		}
		it[n++] = x;
	}
	closedir(dh);
	if (n > 1)
		qsort(it, n, sizeof(*it), newest_first);
	*out = it;
	*nout = n;
	return PV_OK;
}

static int64_t
immutable_until_ms(json_t *m)
{
	return json_integer_value(json_object_get(m, "immutable_until_ms"));
}

enum pv_rc
backup_list(struct backup *b, const struct pv_actor *actor, json_t **out)
{
	struct item *it = NULL;
	size_t n = 0, i;
	json_t *arr;
	enum pv_rc rc;

	if ((rc = scan(b, &it, &n)) != PV_OK)
		return rc;
	if ((arr = json_array()) == NULL) {
		items_free(it, n);
		return PV_E_NOMEM;
	}
	for (i = 0; i < n; i++) {
		char path[4400];

		snprintf(path, sizeof(path), "%s/%s", b->dir, it[i].name);
		if (json_array_append_new(arr, json_pack("{s:O,s:s,s:O,s:I,s:s,s:O,s:b}",
		    "id", json_object_get(it[i].m, "id"), "file", path,
		    "created_at", json_object_get(it[i].m, "created_at"),
		    "size", (json_int_t)it[i].size, "manifest_sha256", it[i].sha,
		    "immutable_until", json_object_get(it[i].m, "immutable_until"),
		    "verified", it[i].sig)) != 0) {
			json_decref(arr);
			items_free(it, n);
			return PV_E_NOMEM;
		}
	}
	items_free(it, n);
	*out = arr;
	return PV_OK;
}

enum pv_rc
backup_delete(struct backup *b, const struct pv_actor *actor, const char *id)
{
	char path[4400], sha[65], resource[128], detail[160];
	json_t *m = NULL;
	bool sig;
	int64_t until;
	enum pv_rc rc;

	if (!util_id_valid("bkp", id))
		return PV_E_NOTFOUND;
	snprintf(resource, sizeof(resource), "sys/backups/%s", id);
	snprintf(path, sizeof(path), "%s/%s%s", b->dir, id, BACKUP_SUFFIX);
	if ((rc = backup_manifest_read(path, NULL, &m, sha, &sig)) != PV_OK)
		return rc == PV_E_INTEGRITY ? PV_E_NOTFOUND : rc;
	until = immutable_until_ms(m);
	json_decref(m);
	if (util_now_ms() < until) {
		snprintf(detail, sizeof(detail), "{\"immutable_until_ms\":%lld}", (long long)until);
		if (audit_event(b, actor, "backup.delete", resource, AUDIT_DENIED, "immutable",
		    detail) != PV_OK)
			return PV_E_AUDIT;
		return PV_E_CONFLICT;
	}
	if (unlink(path) != 0)
		return PV_E_IO;
	snprintf(detail, sizeof(detail), "{\"manifest_sha256\":\"%s\"}", sha);
	/* the file is gone: the 204 stands even if its entry fails (logged) */
	if (audit_event_held(b, actor, "backup.delete", resource, AUDIT_ALLOWED, NULL, detail,
	    false) != PV_OK)
		log_error("backup: backup.delete of %s not recorded", id);
	return PV_OK;
}

enum pv_rc
backup_file_page(struct backup *b, const struct pv_actor *actor, const char *id,
    int64_t offset, json_t **out)
{
	char path[4400], resource[128], *b64 = NULL;
	uint8_t *buf = NULL;
	struct stat sb;
	ssize_t got;
	int fd;
	enum pv_rc rc = PV_E_NOMEM;

	if (!util_id_valid("bkp", id))
		return PV_E_NOTFOUND;
	if (offset < 0)
		return PV_E_INVALID;
	snprintf(path, sizeof(path), "%s/%s%s", b->dir, id, BACKUP_SUFFIX);
	snprintf(resource, sizeof(resource), "sys/backups/%s", id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? PV_E_NOTFOUND : PV_E_IO;
	if (fstat(fd, &sb) != 0) {
		rc = PV_E_IO;
		goto out;
	}
	if (offset > (int64_t)sb.st_size) {
		rc = PV_E_INVALID;
		goto out;
	}
	if ((buf = malloc(BACKUP_PAGE)) == NULL ||
	    (b64 = malloc(util_b64_len(BACKUP_PAGE) + 1)) == NULL)
		goto out;
	if ((got = pread(fd, buf, BACKUP_PAGE, (off_t)offset)) < 0) {
		rc = PV_E_IO;
		goto out;
	}
	if (offset == 0 && audit_event(b, actor, "backup.download", resource, AUDIT_ALLOWED,
	    NULL, NULL) != PV_OK) {
		rc = PV_E_AUDIT;
		goto out;
	}
	util_b64_encode(buf, (size_t)got, b64);
	if ((*out = json_pack("{s:I,s:I,s:s,s:b}", "offset", (json_int_t)offset,
	    "size", (json_int_t)sb.st_size, "data", b64,
	    "eof", offset + got >= (int64_t)sb.st_size)) == NULL)
		goto out;
	rc = PV_OK;
out:
	close(fd);
	free(buf);
	free(b64);
	return rc;
}

/* ---- the worker ---- */

struct progress_arg {
	struct backup *b;
	struct backup_writer *w;
};

static enum pv_rc
sink_write(void *arg, const uint8_t *buf, size_t len)
{
	return backup_writer_data(((struct progress_arg *)arg)->w, buf, len);
}

static int
sink_progress(void *arg, int64_t done, int64_t total)
{
	struct backup *b = ((struct progress_arg *)arg)->b;

	pthread_mutex_lock(&b->mu);
	b->done = done;
	b->total = total;
	pthread_mutex_unlock(&b->mu);
	return 0;
}

static enum pv_rc
kek_ensure(struct store_tx *tx, void *arg)
{
	struct backup *b = arg;

	return keys_kek_ensure_tx(b->cfg.keys, tx, BACKUP_KEK);
}

/* Every tombstone (shredded subject: its hex reference, never a value) of
 * the snapshot's transaction, into arr as strings. */
struct tomb_page {
	json_t *arr;
	char last[STORE_SUBJECT_REF_LEN + 1];   /* the page's start (bound by the scan) */
	char next[STORE_SUBJECT_REF_LEN + 1];   /* the newest seen: the next page's start */
	size_t n;
};

static int
on_tomb(const char *ref, int64_t shredded_ms, void *arg)
{
	struct tomb_page *pg = arg;

	(void)shredded_ms;
	if (json_array_append_new(pg->arr, json_string(ref)) != 0)
		return 1;
	util_strlcpy(pg->next, ref, sizeof(pg->next));
	pg->n++;
	return 0;
}

static enum pv_rc
tombstones(struct store_tx *tx, json_t *arr)
{
	struct tomb_page pg = { arr, "", "", 0 };
	enum pv_rc rc;

	do {
		pg.n = 0;
		if ((rc = store_subject_tombstone_list(tx, pg.last, 1000, on_tomb, &pg)) != PV_OK)
			return rc;
		memcpy(pg.last, pg.next, sizeof(pg.last));
	} while (pg.n == 1000);
	return PV_OK;
}

/* What a restore of this snapshot needs from the HSM (docs/operations.md
 * "Backups of HSM vaults"): every KEK version held in the token (provider
 * pkcs11, not revoked) as "<name>:<version>" into arr. Labels and
 * versions only: the keys stay in the token. */
static int
on_hsm_kek(const struct store_kek *k, void *arg)
{
	char ref[KEYS_KEK_NAME_MAX + 16];

	if (strcmp(k->provider, "pkcs11") != 0 || k->state == STORE_KEK_REVOKED)
		return 0;
	snprintf(ref, sizeof(ref), "%s:%u", k->name, (unsigned)k->version);
	return json_array_append_new(arg, json_string(ref)) != 0;
}

/* The manifest's "hsm" member, or NULL (no HSM seal and nothing in a
 * token): the seal's token and key labels, and the HSM-held versions. */
static enum pv_rc
hsm_member(struct backup *b, struct store_tx *tx, json_t **out)
{
	struct keys_hsm_status hs;
	struct keys_seal_status ss;
	json_t *keys = json_array(), *o;
	enum pv_rc rc;

	*out = NULL;
	if (keys == NULL)
		return PV_E_NOMEM;
	if ((rc = store_kek_scan(tx, on_hsm_kek, keys)) != PV_OK) {
		json_decref(keys);
		return rc;
	}
	keys_status(b->cfg.keys, &ss);
	if (ss.type != KEYS_SEAL_PKCS11 && json_array_size(keys) == 0) {
		json_decref(keys);
		return PV_OK;
	}
	memset(&hs, 0, sizeof(hs));
	keys_hsm_status(b->cfg.keys, &hs);
	o = json_pack("{s:s, s:s, s:s, s:o}", "seal", ss.type == KEYS_SEAL_PKCS11 ? "pkcs11" :
	    "other", "token_label", hs.token_label, "key_label", hs.key_label, "keys", keys);
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

/* Build the manifest (all but what the writer adds) and write the file. */
static enum pv_rc
run_backup(struct backup *b, const char *id, char *why, size_t whylen)
{
	struct store_snapshot_info info;
	struct backup_writer *w = NULL;
	struct store_tx *tx = NULL;
	struct item *it = NULL;
	size_t n = 0, i;
	json_t *m = NULL, *tables = NULL, *colls = NULL, *tombs = NULL, *hsm = NULL;
	char created[40], until[40], sha[65], resource[128], detail[256];
	int64_t now = util_now_ms(), until_ms, file_bytes = 0;
	struct store_snapshot_sink sink;
	struct progress_arg pa = { b, NULL };
	uint8_t *bundle = NULL;
	size_t blen = 0;
	char *b64 = NULL;
	enum pv_rc rc;

	if ((rc = audit_commit(b->cfg.audit, NULL, kek_ensure, b)) != PV_OK)
		return rc;
	if ((rc = scan(b, &it, &n)) != PV_OK)
		return rc;
	rc = PV_E_NOMEM;
	if ((colls = json_array()) == NULL || (tables = json_object()) == NULL)
		goto out;
	if ((rc = backup_writer_open(b->dir, id, b->cfg.keys, &w)) != PV_OK)
		goto out;
	pa.w = w;
	sink = (struct store_snapshot_sink){ .write = sink_write, .progress = sink_progress,
		.arg = &pa, .pages_per_step = 256 };
	if ((rc = store_begin(b->cfg.st, STORE_RD, &tx)) != PV_OK)
		goto out;
	/* the collections of the same snapshot: residency is checked on exactly
	 * what the backup holds */
	if ((rc = residency(b, tx, colls, why, whylen)) != PV_OK)
		goto out;
	/* the subjects shredded so far: a restore of any older backup of the set
	 * applies them (restore.c apply_tombstones) */
	if ((tombs = json_array()) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = tombstones(tx, tombs)) != PV_OK)
		goto out;
	/* what a restore needs to open the KEK "backup" from the seal alone,
	 * and what it needs from the HSM */
	if ((rc = hsm_member(b, tx, &hsm)) != PV_OK ||
	    (rc = keys_bundle_export(tx, BACKUP_KEK, &bundle, &blen)) != PV_OK ||
	    (rc = store_snapshot(tx, &sink, &info)) != PV_OK)
		goto out;
	store_end(tx);
	tx = NULL;
	rc = PV_E_NOMEM;
	if ((b64 = malloc(util_b64_len(blen) + 1)) == NULL)
		goto out;
	util_b64_encode(bundle, blen, b64);
	for (i = 0; i < info.ntables; i++)
		json_object_set_new(tables, info.tables[i].name, json_integer(info.tables[i].rows));
	util_time_fmt(now, created, sizeof(created));
	until_ms = now + (int64_t)b->cfg.cfg->backup_immutable_days * 86400000;
	util_time_fmt(until_ms, until, sizeof(until));
	m = json_pack("{s:i,s:s,s:s,s:I,s:s,s:s,s:O,s:{s:I,s:s},s:O,s:s,s:I,s:I}",
	    "format", BACKUP_FORMAT, "id", id, "created_at", created, "created_ms",
	    (json_int_t)now, "node", b->cfg.node, "region", b->cfg.cfg->backup_region,
	    "tables", tables, "audit", "seq", (json_int_t)info.audit_seq, "head",
	    info.audit_head, "collections", colls, "immutable_until", until,
	    "immutable_until_ms", (json_int_t)until_ms, "image_bytes", (json_int_t)info.bytes);
	if (m == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	json_object_set_new(m, "prev_manifest_sha256", n > 0 ? json_string(it[0].sha) :
	    json_null());
	json_object_set(m, "prev_id", n > 0 ? json_object_get(it[0].m, "id") : json_null());
	json_object_set_new(m, "keyring", json_string(b64));
	json_object_set_new(m, "tombstones", tombs);
	tombs = NULL;
	if (hsm != NULL) {
		json_object_set_new(m, "hsm", hsm);
		hsm = NULL;
	}
	rc = backup_writer_finish(w, m, sha, &file_bytes);
	w = NULL;
	if (rc != PV_OK)
		goto out;
	snprintf(resource, sizeof(resource), "sys/backups/%s", id);
	snprintf(detail, sizeof(detail), "{\"manifest_sha256\":\"%s\",\"bytes\":%lld,"
	    "\"audit_seq\":%lld}", sha, (long long)file_bytes, (long long)info.audit_seq);
	if (audit_event(b, &b->actor, "backup.create", resource, AUDIT_ALLOWED, NULL, detail) !=
	    PV_OK)
		log_error("backup: backup.create of %s not recorded", id);
	log_info("backup: %s written (%lld bytes)", id, (long long)file_bytes);
out:
	store_end(tx);
	backup_writer_abort(w);
	json_decref(m);
	json_decref(tables);
	json_decref(colls);
	json_decref(tombs);
	json_decref(hsm);
	items_free(it, n);
	free(bundle);
	free(b64);
	return rc;
}

/* Scheduled pruning: keep the newest [backup] keep backups; an older one
 * is removed only once outside its immutability window (backup_delete:
 * audited, actor system). */
static void
prune(struct backup *b)
{
	struct pv_actor sys = audit_actor_system();
	struct item *it = NULL;
	size_t n = 0;

	if (scan(b, &it, &n) != PV_OK)
		return;
	for (size_t i = (size_t)b->cfg.cfg->backup_keep; i < n; i++) {
		const char *id = json_string_value(json_object_get(it[i].m, "id"));

		if (id != NULL && util_now_ms() >= immutable_until_ms(it[i].m) &&
		    backup_delete(b, &sys, id) == PV_OK)
			log_info("backup: %s pruned ([backup] keep = %d)", id, b->cfg.cfg->backup_keep);
	}
	items_free(it, n);
}

/* A drill of backup id ("" the newest), recorded as drill.run with the
 * signed evidence as its detail. PV_OK once it ran, passed or not. */
static enum pv_rc
run_drill(struct backup *b, const char *id)
{
	struct backup_drill_result r;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	char file[4400], resource[128];
	struct backup_drill_spec spec = {
		.datadir = b->cfg.cfg->datadir,
		.backup_dir = b->dir,
		.keys = b->cfg.keys,
	};
	json_t *ev;
	char *detail;
	enum pv_rc rc;

	if (keys_audit_public_key(b->cfg.st, pub) == PV_OK)
		spec.pub = pub;
	if (id[0] != '\0') {
		snprintf(file, sizeof(file), "%s/%s%s", b->dir, id, BACKUP_SUFFIX);
		spec.file = file;
	}
	if ((rc = backup_drill_run(&spec, &r)) != PV_OK)
		return rc;
	if ((ev = backup_drill_evidence(&r, true)) == NULL)
		return PV_E_NOMEM;
	detail = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(ev);
	if (detail == NULL)
		return PV_E_NOMEM;
	snprintf(resource, sizeof(resource), "sys/backups/%s/drill", r.backup);
	rc = audit_event(b, &b->actor, "drill.run", resource, r.ok ? AUDIT_ALLOWED : AUDIT_ERROR,
	    r.ok ? NULL : "drill_failed", detail);
	free(detail);
	if (!r.ok)
		log_warn("backup: drill of %s failed: %s", r.backup, r.message);
	else
		log_info("backup: drill of %s passed: %lld records, rto %lld ms", r.backup,
		    (long long)r.records_checked, (long long)r.rto_ms);
	return rc;
}

static void *
worker(void *arg)
{
	struct backup *b = arg;
	char id[UTIL_ID_MAX], why[256] = "";
	enum work work;
	enum pv_rc rc;

	pthread_mutex_lock(&b->mu);
	util_strlcpy(id, b->id, sizeof(id));
	work = b->work;
	pthread_mutex_unlock(&b->mu);
	if (work == WORK_DRILL) {
		rc = run_drill(b, id);
		pthread_mutex_lock(&b->mu);
		b->rc = rc;
		b->state = rc == PV_OK ? W_DONE : W_FAILED;
		if (strcmp(b->drill_job, b->job) == 0)
			b->drill_pending = false;
		pthread_mutex_unlock(&b->mu);
		return NULL;
	}
	rc = run_backup(b, id, why, sizeof(why));
	if (rc == PV_E_REGION) {
		char resource[128];

		snprintf(resource, sizeof(resource), "sys/backups/%s", id);
		(void)audit_event(b, &b->actor, "backup.create", resource, AUDIT_DENIED,
		    "region_not_allowed", NULL);
		log_warn("backup: %s refused: %s", id, why);
	} else if (rc != PV_OK)
		log_warn("backup: %s failed: %s", id, pv_rc_name(rc));
	if (rc == PV_OK && b->cfg.cfg->backup_every_s > 0)
		prune(b);
	pthread_mutex_lock(&b->mu);
	b->rc = rc;
	b->state = rc == PV_OK ? W_DONE : W_FAILED;
	if (rc == PV_OK && strcmp(b->pending_id, id) == 0)
		b->pending = false;
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static bool
file_exists(struct backup *b, const char *id)
{
	char path[4400];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s%s", b->dir, id, BACKUP_SUFFIX);
	return stat(path, &sb) == 0;
}

static enum pv_rc
kind_step(const struct jobs_step_ctx *ctx, const char *cursor, struct jobs_step_out *out)
{
	struct kind_arg *ka = ctx->kind_arg;
	struct backup *b = ka->b;
	json_error_t je;
	json_t *p = json_loads(ctx->params != NULL ? ctx->params : "{}", 0, &je);
	const char *id = json_string_value(json_object_get(p, "backup"));
	enum pv_rc rc = PV_OK;

	if (ka->work == WORK_DRILL && id == NULL)
		id = "";   /* the newest at run time */
	else if (id == NULL || !util_id_valid("bkp", id)) {
		json_decref(p);
		return PV_E_INVALID;
	}
	pthread_mutex_lock(&b->mu);
	if (b->state != W_NONE && strcmp(b->job, ctx->job_id) != 0) {
		/* the worker of an earlier (cancelled) job is still finishing */
		if (b->state == W_RUNNING)
			goto unlock;
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
		pthread_mutex_lock(&b->mu);
		b->state = W_NONE;
	}
	switch (b->state) {
	case W_NONE:
		if (ka->work == WORK_CREATE && file_exists(b, id)) {
			out->finished = true;
			break;
		}
		util_strlcpy(b->job, ctx->job_id, sizeof(b->job));
		util_strlcpy(b->id, id, sizeof(b->id));
		b->work = ka->work;
		b->done = b->total = 0;
		b->state = W_RUNNING;
		if (pthread_create(&b->thread, NULL, worker, b) != 0) {
			b->state = W_NONE;
			rc = PV_E_NOMEM;
		}
		break;
	case W_RUNNING:
		out->total = b->total;
		out->done = b->done > ctx->done ? b->done - ctx->done : 0;
		break;
	case W_DONE:
	case W_FAILED:
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
		pthread_mutex_lock(&b->mu);
		if (b->state == W_DONE) {
			out->finished = true;
			out->total = b->total;
			out->done = b->total > ctx->done ? b->total - ctx->done : 0;
		} else
			rc = b->rc;
		b->state = W_NONE;
		break;
	}
unlock:
	pthread_mutex_unlock(&b->mu);
	json_decref(p);
	return rc;
}

enum pv_rc
backup_request(struct backup *b, const struct pv_actor *actor, char job[UTIL_ID_MAX],
    char id[UTIL_ID_MAX], char *why, size_t whylen)
{
	char params[96], nid[UTIL_ID_MAX];
	enum pv_rc rc;

	STORE_READ(b->cfg.st, rc, residency(b, tx, NULL, why, whylen));
	if (rc == PV_E_REGION) {
		if (audit_event(b, actor, "backup.create", "sys/backups", AUDIT_DENIED,
		    "region_not_allowed", NULL) != PV_OK)
			return PV_E_AUDIT;
		return rc;
	}
	if (rc != PV_OK)
		return rc;
	if ((rc = util_id_new("bkp", nid)) != PV_OK)
		return rc;
	snprintf(params, sizeof(params), "{\"backup\":\"%s\"}", nid);
	pthread_mutex_lock(&b->mu);
	/* the worker audits as the system: the request's actor strings live in
	 * its arena only */
	b->actor = audit_actor_system();
	pthread_mutex_unlock(&b->mu);
	/* the scheduler's call blocks as before; a request's does not */
	if ((rc = jobs_enqueue(b->jobs, actor, KIND, params, 0, job)) != PV_OK)
		return rc;
	memcpy(id, nid, UTIL_ID_MAX);
	return PV_OK;
}

enum pv_rc
backup_drill_request(struct backup *b, const struct pv_actor *actor, const char *id,
    char job[UTIL_ID_MAX])
{
	char params[96];

	if (id != NULL) {
		if (!util_id_valid("bkp", id) || !file_exists(b, id))
			return PV_E_NOTFOUND;
		snprintf(params, sizeof(params), "{\"backup\":\"%s\"}", id);
	} else
		snprintf(params, sizeof(params), "{}");
	return jobs_enqueue(b->jobs, actor, DRILL_KIND, params, 0, job);
}

enum pv_rc
backup_drills_list(struct backup *b, const struct pv_actor *actor, json_t **out)
{
	(void)actor;
	return backup_drills_scan(b->cfg.st, out);
}

/* The newest backup's creation time (0: none). */
static int64_t
newest_ms(struct backup *b)
{
	struct item *it = NULL;
	size_t n = 0;
	int64_t t = 0;

	if (scan(b, &it, &n) == PV_OK && n > 0)
		t = it[0].created_ms;
	items_free(it, n);
	return t;
}

/* Every second: a backup is due every_s after the newest one (or after the
 * start, when there is none), unless a scheduled one is still on its way.
 * The injectable clock decides (tests move it). */
/* A scheduled backup, if due: every_s after the newest one (or after the
 * start, when there is none), unless one is still on its way. */
static void
schedule_backup(struct backup *b, int64_t now)
{
	int64_t last = newest_ms(b);
	struct pv_actor sys = audit_actor_system();
	char job[UTIL_ID_MAX], id[UTIL_ID_MAX], why[256] = "";
	enum pv_rc rc;

	if ((last > b->started_ms ? last : b->started_ms) +
	    (int64_t)b->cfg.cfg->backup_every_s * 1000 > now)
		return;
	rc = backup_request(b, &sys, job, id, why, sizeof(why));
	pthread_mutex_lock(&b->mu);
	if (rc == PV_OK) {
		b->pending = true;
		util_strlcpy(b->pending_id, id, sizeof(b->pending_id));
		log_info("backup: scheduled backup %s queued (job %s)", id, job);
	} else {
		log_warn("backup: scheduled backup refused: %s%s%s", pv_rc_name(rc),
		    why[0] ? ": " : "", why);
		b->started_ms = now;   /* try again every_s later */
	}
	pthread_mutex_unlock(&b->mu);
}

/* A scheduled drill of the newest backup, if there is one and the last
 * drill (passed or not) is drill_every_s old. */
static void
schedule_drill(struct backup *b, int64_t now)
{
	struct pv_actor sys = audit_actor_system();
	char job[UTIL_ID_MAX];
	int64_t last = 0;

	if (newest_ms(b) == 0)
		return;
	if (backup_last_drill(b->cfg.st, false, NULL, NULL, &last) != PV_OK)
		last = b->started_ms;
	if (last + (int64_t)b->cfg.cfg->backup_drill_every_s * 1000 > now)
		return;
	if (backup_drill_request(b, &sys, NULL, job) != PV_OK)
		return;
	pthread_mutex_lock(&b->mu);
	b->drill_pending = true;
	util_strlcpy(b->drill_job, job, sizeof(b->drill_job));
	pthread_mutex_unlock(&b->mu);
	log_info("backup: scheduled drill queued (job %s)", job);
}

/* Every second (the injectable clock decides what is due). */
static void *
scheduler(void *arg)
{
	struct backup *b = arg;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		struct timespec ts;
		bool backup_due, drill_due;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&b->cv, &b->mu, &ts);
		if (b->stop)
			break;
		backup_due = b->cfg.cfg->backup_every_s > 0 && !b->pending;
		pthread_mutex_unlock(&b->mu);
		if (backup_due)
			schedule_backup(b, util_now_ms());
		/* a drill never races a backup of the scheduler's: it waits for it */
		pthread_mutex_lock(&b->mu);
		drill_due = b->cfg.cfg->backup_drill_every_s > 0 && !b->drill_pending && !b->pending &&
		    b->state == W_NONE;
		pthread_mutex_unlock(&b->mu);
		if (drill_due)
			schedule_drill(b, util_now_ms());
		pthread_mutex_lock(&b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

void
backup_stop(struct backup *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	if (b->sched_running) {
		pthread_join(b->sched, NULL);
		b->sched_running = false;
	}
}

enum pv_rc
backup_install(const struct backup_config *cfg, struct jobs_runner *r, struct http_server *http,
    struct backup **out)
{
	struct backup *b;
	enum pv_rc rc;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return PV_E_NOMEM;
	b->cfg = *cfg;
	b->jobs = r;
	b->actor = audit_actor_system();
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->started_ms = util_now_ms();
	if (cfg->cfg->backup_dir[0] != '\0')
		util_strlcpy(b->dir, cfg->cfg->backup_dir, sizeof(b->dir));
	else if (util_path_join(b->dir, sizeof(b->dir), cfg->cfg->datadir, "backups") != 0) {
		rc = PV_E_CONFIG;
		goto fail;
	}
	if (mkdir(b->dir, 0700) != 0 && errno != EEXIST) {
		log_error("backup: cannot create the backup directory");
		rc = PV_E_IO;
		goto fail;
	}
	b->karg[0] = (struct kind_arg){ b, WORK_CREATE };
	b->karg[1] = (struct kind_arg){ b, WORK_DRILL };
	b->kind = (struct jobs_kind){ .name = KIND, .step = kind_step, .arg = &b->karg[0] };
	b->dkind = (struct jobs_kind){ .name = DRILL_KIND, .step = kind_step, .arg = &b->karg[1] };
	if (r != NULL && ((rc = jobs_kind_register(r, &b->kind)) != PV_OK ||
	    (rc = jobs_kind_register(r, &b->dkind)) != PV_OK))
		goto fail;
	if (http != NULL && (rc = backup_routes(b, http)) != PV_OK)
		goto fail;
	if (r != NULL && (cfg->cfg->backup_every_s > 0 || cfg->cfg->backup_drill_every_s > 0)) {
		if (pthread_create(&b->sched, NULL, scheduler, b) != 0) {
			rc = PV_E_NOMEM;
			goto fail;
		}
		b->sched_running = true;
	}
	*out = b;
	return PV_OK;
fail:
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
	return rc;
}

void
backup_free(struct backup *b)
{
	if (b == NULL)
		return;
	backup_stop(b);
	pthread_mutex_lock(&b->mu);
	if (b->state != W_NONE) {
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
	} else
		pthread_mutex_unlock(&b->mu);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void
backup_actor_of(struct backup *b, struct http_request *req, struct pv_actor *out)
{
	*out = audit_actor_system();
	if (b->cfg.actor_of != NULL)
		b->cfg.actor_of(req, out);
}
