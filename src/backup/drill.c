/*
 * drill.c: restore drills with evidence (issue 12 item 6).
 *
 * A drill restores a backup (the newest, or the one named) into a scratch
 * directory (DIR/tmp/drill-XXXXXX, 0700, removed afterwards), with the
 * same code path as `backup restore` (restore.c: signature, every chunk,
 * row counts against the manifest, the audit chain up to the manifest's
 * head), then opens the restored store in process with the restored
 * directory's own keyring and decrypts EVERY live record (the AEAD tag of
 * each, under its own AAD), and measures the RTO: from the start until
 * the scratch directory is restored, verified and every record read.
 *
 * In process, not a child `phivault serve`: the server runs under a
 * seccomp allowlist without execve (src/daemon/seccomp.c), and a child
 * server would need a user allowed to read PHI to prove anything about
 * the records; opening the restored store with its own keyring checks the
 * same things without a credential. docs/internals/backup.md "Drills".
 *
 * Evidence: {"backup","started_at","rto_s","rto_ms","records_checked",
 * "records_failed","audit_verified","sampled","ok","signature"}; the
 * signature is Ed25519 with the audit key over the text of drill_message()
 * (one line per member, so no JSON number formatting is signed). The server records it as the
 * detail of an audit entry `drill.run` (allowed if ok, error otherwise),
 * which is also where GET /v1/sys/drills and backup_last_drill read it.
 *
 * Needs the key-file seal for now (it restores with DIR/unseal.key).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/backup_int.h"
#include "vault/vault.h"

#define BACKUP_DRILL_TAG "phivault-drill-evidence-v1\n"

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct ids {
	char (*id)[STORE_ID_MAX];
	size_t n, cap;
	bool nomem;
};

static int
each_id(const char *id, void *arg)
{
	struct ids *x = arg;

	if (util_grow(&x->id, &x->cap, x->n, sizeof(*x->id), 256) != 0) {
		x->nomem = true;
		return 1;
	}
	util_strlcpy(x->id[x->n++], id, STORE_ID_MAX);
	return 0;
}

struct colls {
	char name[64][STORE_NAME_MAX];
	size_t n;
	bool more;
};

static int
each_coll(const struct store_collection *c, void *arg)
{
	struct colls *x = arg;

	if (x->n == sizeof(x->name) / sizeof(x->name[0])) {
		x->more = true;
		return 1;
	}
	util_strlcpy(x->name[x->n++], c->name, STORE_NAME_MAX);
	return 0;
}

/* Open every live record of the restored store with its own keyring. */
static enum pv_rc
check_records(const char *dir, struct backup_drill_result *res)
{
	struct store *st = NULL;
	struct keys *k = NULL;
	struct colls *cl = calloc(1, sizeof(*cl));
	enum pv_rc rc;

	if (cl == NULL)
		return PV_E_NOMEM;
	if ((rc = store_open(dir, "sqlite", NULL, true, &st)) != PV_OK ||
	    (rc = keys_open(st, dir, &k)) != PV_OK || (rc = keys_unseal_keyfile(k)) != PV_OK) {
		snprintf(res->message, sizeof(res->message), "the restored keyring does not open");
		goto out;
	}
	STORE_READ(st, rc, store_collection_list(tx, each_coll, cl));
	if (rc != PV_OK)
		goto out;
	if (cl->more) {
		snprintf(res->message, sizeof(res->message), "more than 64 collections: sampled");
		res->sampled = true;
	}
	for (size_t c = 0; c < cl->n; c++) {
		struct ids ids = { 0 };

		STORE_READ(st, rc, store_record_scan(tx, cl->name[c], "", 0, each_id, &ids));
		if (rc == PV_OK && ids.nomem)
			rc = PV_E_NOMEM;
		for (size_t i = 0; rc == PV_OK && i < ids.n; i++) {
			struct store_record r;
			struct keys_envelope env;
			char aad[VAULT_AAD_MAX];
			size_t aadlen = 0;
			uint8_t *pt = NULL;
			enum pv_rc orc;

			memset(&r, 0, sizeof(r));
			STORE_READ(st, rc, store_record_get(tx, cl->name[c], ids.id[i], &r));
			if (rc != PV_OK)
				break;
			res->records_checked++;
			orc = PV_E_INTEGRITY;
			if (r.ciphertext != NULL && r.ciphertext_len > CRYPTO_BOX_OVERHEAD &&
			    r.wrapped_dek_len == KEYS_WRAPPED_DEK_LEN &&
			    strlen(r.kek_name) < sizeof(env.kek_name) &&
			    vault_record_aad(r.collection, r.id, r.version, aad, sizeof(aad), &aadlen) ==
			    PV_OK && (pt = malloc(r.ciphertext_len - CRYPTO_BOX_OVERHEAD)) != NULL) {
				memset(&env, 0, sizeof(env));
				util_strlcpy(env.kek_name, r.kek_name, sizeof(env.kek_name));
				env.kek_version = r.kek_version;
				memcpy(env.wrapped_dek, r.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
				orc = keys_envelope_open(k, &env, (const uint8_t *)aad, aadlen,
				    r.ciphertext, r.ciphertext_len, pt);
				crypto_wipe(pt, r.ciphertext_len - CRYPTO_BOX_OVERHEAD);
			}
			free(pt);
			if (orc != PV_OK)
				res->records_failed++;
			store_record_clear(&r);
		}
		free(ids.id);
		if (rc != PV_OK)
			goto out;
	}
out:
	if (k != NULL)
		keys_close(k);
	store_close(st);
	free(cl);
	return rc;
}

/* The newest complete backup of dir (by manifest created_ms). */
static enum pv_rc
newest_file(const char *dir, char *path, size_t len)
{
	struct dirent *d;
	int64_t best = -1;
	DIR *dh = opendir(dir);
	size_t sl = strlen(BACKUP_SUFFIX);

	if (dh == NULL)
		return PV_E_NOTFOUND;
	while ((d = readdir(dh)) != NULL) {
		size_t l = strlen(d->d_name);
		char p[4400], sha[65];
		json_t *m = NULL;
		bool sig;
		int64_t t;

		if (d->d_name[0] == '.' || l <= sl || strcmp(d->d_name + l - sl, BACKUP_SUFFIX) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		if (backup_manifest_read(p, NULL, &m, sha, &sig) != PV_OK)
			continue;
		t = json_integer_value(json_object_get(m, "created_ms"));
		json_decref(m);
		if (t > best && strlen(p) < len) {
			best = t;
			memcpy(path, p, strlen(p) + 1);
		}
	}
	closedir(dh);
	return best >= 0 ? PV_OK : PV_E_NOTFOUND;
}

json_t *
backup_drill_evidence(const struct backup_drill_result *r, bool with_signature)
{
	json_t *o = json_pack("{s:s,s:s,s:f,s:I,s:I,s:I,s:b,s:b,s:b}", "backup", r->backup,
	    "started_at", r->started_at, "rto_s", (double)r->rto_ms / 1000.0,
	    "rto_ms", (json_int_t)r->rto_ms,
	    "records_checked", (json_int_t)r->records_checked,
	    "records_failed", (json_int_t)r->records_failed, "audit_verified", r->audit_verified,
	    "sampled", r->sampled, "ok", r->ok);

	if (o != NULL && with_signature)
		json_object_set_new(o, "signature", json_string(r->signature));
	return o;
}

/* The signed message: BACKUP_DRILL_TAG then one line per member, in this
 * order (text, never JSON, so no number formatting can differ between the
 * signer and a verifier): backup, started_at, rto_ms, records_checked,
 * records_failed, audit_verified, sampled, ok (booleans 0 / 1). */
static char *
drill_message(const char *backup, const char *started_at, long long rto_ms, long long checked,
    long long failed, bool audit_verified, bool sampled, bool ok)
{
	char *msg = NULL;

	if (asprintf(&msg, "%s%s\n%s\n%lld\n%lld\n%lld\n%d\n%d\n%d\n", BACKUP_DRILL_TAG, backup,
	    started_at, rto_ms, checked, failed, audit_verified, sampled, ok) < 0)
		return NULL;
	return msg;
}

enum pv_rc
backup_drill_sign(struct keys *keys, struct backup_drill_result *r)
{
	uint8_t sig[CRYPTO_ED25519_SIG_LEN];
	char *msg = drill_message(r->backup, r->started_at, (long long)r->rto_ms,
	    (long long)r->records_checked, (long long)r->records_failed, r->audit_verified,
	    r->sampled, r->ok);
	enum pv_rc rc;

	if (msg == NULL)
		return PV_E_NOMEM;
	if ((rc = keys_audit_sign(keys, (const uint8_t *)msg, strlen(msg), sig)) == PV_OK)
		util_hex_encode(sig, sizeof(sig), r->signature);
	free(msg);
	return rc;
}

bool
backup_drill_signature_ok(json_t *ev, const uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	const char *hex = json_string_value(json_object_get(ev, "signature"));
	const char *backup = json_string_value(json_object_get(ev, "backup"));
	const char *started = json_string_value(json_object_get(ev, "started_at"));
	uint8_t sig[CRYPTO_ED25519_SIG_LEN];
	char *msg;
	bool ok;

	if (hex == NULL || backup == NULL || started == NULL ||
	    !json_is_integer(json_object_get(ev, "rto_ms")) ||
	    util_hex_decode(hex, sig, sizeof(sig)) != 0)
		return false;
	msg = drill_message(backup, started,
	    (long long)json_integer_value(json_object_get(ev, "rto_ms")),
	    (long long)json_integer_value(json_object_get(ev, "records_checked")),
	    (long long)json_integer_value(json_object_get(ev, "records_failed")),
	    json_is_true(json_object_get(ev, "audit_verified")),
	    json_is_true(json_object_get(ev, "sampled")), json_is_true(json_object_get(ev, "ok")));
	if (msg == NULL)
		return false;
	ok = crypto_ed25519_verify(pub, (const uint8_t *)msg, strlen(msg), sig) == PV_OK;
	free(msg);
	return ok;
}

enum pv_rc
backup_drill_run(const struct backup_drill_spec *spec, struct backup_drill_result *out)
{
	struct backup_drill_result r;
	struct backup_restore_result rr;
	struct backup_unseal u = { 0 };
	char file[4400], tmp[4400], scratch[4400], data[4500], keyfile[4400];
	int64_t t0 = util_mono_ms();
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	util_time_fmt(util_now_ms(), r.started_at, sizeof(r.started_at));
	if (spec->file != NULL)
		util_strlcpy(file, spec->file, sizeof(file));
	else if ((rc = newest_file(spec->backup_dir, file, sizeof(file))) != PV_OK) {
		snprintf(r.message, sizeof(r.message), "no backup to drill");
		*out = r;
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp", spec->datadir);
	snprintf(keyfile, sizeof(keyfile), "%s/%s", spec->datadir, KEYS_UNSEAL_FILE);
	if ((mkdir(tmp, 0700) != 0 && errno != EEXIST) ||
	    snprintf(scratch, sizeof(scratch), "%s/drill-XXXXXX", tmp) >= (int)sizeof(scratch) ||
	    mkdtemp(scratch) == NULL) {
		snprintf(r.message, sizeof(r.message), "cannot create the scratch directory");
		*out = r;
		return PV_E_IO;
	}
	snprintf(data, sizeof(data), "%s/data", scratch);
	if (access(keyfile, R_OK) != 0) {
		snprintf(r.message, sizeof(r.message), "drills need the key-file seal for now");
		rc = PV_E_UNSUPPORTED;
		goto done;
	}
	u.key_file = keyfile;
	u.pub = spec->pub;
	rc = backup_restore(file, data, &u, &rr);
	util_strlcpy(r.backup, rr.id, sizeof(r.backup));
	r.audit_verified = rr.audit_verified;
	if (rc != PV_OK) {
		util_strlcpy(r.message, rr.message, sizeof(r.message));
		goto done;
	}
	rc = check_records(data, &r);
	if (rc == PV_OK && r.records_failed > 0)
		snprintf(r.message, sizeof(r.message), "%lld records did not decrypt",
		    (long long)r.records_failed);
done:
	r.rto_ms = util_mono_ms() - t0;
	r.ok = rc == PV_OK && r.audit_verified && r.records_failed == 0;
	(void)nftw(scratch, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	if (r.backup[0] == '\0') {
		json_t *m = NULL;
		char sha[65];
		bool sig;

		if (backup_manifest_read(file, NULL, &m, sha, &sig) == PV_OK &&
		    json_is_string(json_object_get(m, "id")))
			util_strlcpy(r.backup, json_string_value(json_object_get(m, "id")),
			    sizeof(r.backup));
		json_decref(m);
	}
	if (spec->keys != NULL && backup_drill_sign(spec->keys, &r) != PV_OK)
		log_warn("backup: drill evidence not signed");
	*out = r;
	return PV_OK;
}

/* ---- the evidence in the audit trail ---- */

struct drills_ctx {
	bool passing;
	json_t *last;
	int64_t seq, at;
	json_t *all;        /* every evidence, in seq order, or NULL */
};

static int
each_drill(const struct store_audit_row *row, void *arg)
{
	struct drills_ctx *x = arg;
	json_error_t je;
	json_t *ev = json_loads(row->detail != NULL ? row->detail : "{}", 0, &je);

	if (ev == NULL || !json_is_object(ev) || json_object_get(ev, "backup") == NULL) {
		json_decref(ev);
		return 0;
	}
	if (x->all != NULL)
		json_array_append(x->all, ev);
	if (!x->passing || json_is_true(json_object_get(ev, "ok"))) {
		json_decref(x->last);
		x->last = json_incref(ev);
		x->seq = row->seq;
		x->at = util_time_parse(row->time);
	}
	json_decref(ev);
	return 0;
}

static enum pv_rc
scan_drills(struct store *st, struct drills_ctx *x)
{
	struct store_audit_filter f = { 0, NULL, "drill.run", 0 };
	enum pv_rc rc;

	STORE_READ(st, rc, store_audit_scan(tx, &f, each_drill, x));
	return rc;
}

enum pv_rc
backup_last_drill(struct store *st, bool passing, json_t **evidence, int64_t *seq, int64_t *at_ms)
{
	struct drills_ctx x = { passing, NULL, 0, 0, NULL };
	enum pv_rc rc = scan_drills(st, &x);

	if (rc == PV_OK && x.last == NULL)
		rc = PV_E_NOTFOUND;
	if (rc != PV_OK) {
		json_decref(x.last);
		return rc;
	}
	if (evidence != NULL)
		*evidence = x.last;
	else
		json_decref(x.last);
	if (seq != NULL)
		*seq = x.seq;
	if (at_ms != NULL)
		*at_ms = x.at;
	return PV_OK;
}

enum pv_rc
backup_drills_scan(struct store *st, json_t **out)
{
	struct drills_ctx x = { false, NULL, 0, 0, json_array() };
	json_t *rev;
	enum pv_rc rc;

	if (x.all == NULL)
		return PV_E_NOMEM;
	rc = scan_drills(st, &x);
	json_decref(x.last);
	if (rc != PV_OK || (rev = json_array()) == NULL) {
		json_decref(x.all);
		return rc != PV_OK ? rc : PV_E_NOMEM;
	}
	for (size_t i = json_array_size(x.all); i > 0; i--)
		json_array_append(rev, json_array_get(x.all, i - 1));
	json_decref(x.all);
	*out = rev;
	return PV_OK;
}
