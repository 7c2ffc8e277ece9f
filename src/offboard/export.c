/*
 * offboard/export.c: the return of PHI (offboard.h "export", "open").
 *
 * OUT/<collection>.jsonl.pvenc: the collection's live records, one JSON
 * object a line, {"fields":{...},"id":"rec_...","version":N} (sorted
 * keys), unmasked (the covered entity gets its data back whole), streamed
 * record by record into crypto_rcpt_write: no plaintext file, no
 * plaintext longer in memory than one record. OUT/manifest.json, signed:
 *   {"format":1,"kind":"phivault-offboard-export","vault_id","created_at",
 *    "recipient":{"kind","sha256"},"files":[{"file","collection",
 *    "records","bytes","sha256"}],"records","shredded_subjects",
 *    "audit_head":{"seq","hash"},"audit_public_key","signature"}
 * Shredded records are not exported: they cannot be (their keys are gone);
 * the subjects shredded are counted (tombstones).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "offboard/offboard_int.h"
#include "vault/vault.h"

#define PATH_MAX_OB 4200

/* An empty or new directory, 0700. */
static enum pv_rc
fresh_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;

	if (mkdir(dir, 0700) == 0)
		return PV_OK;
	if (errno != EEXIST || (d = opendir(dir)) == NULL)
		return PV_E_IO;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			closedir(d);
			return PV_E_CONFLICT;
		}
	}
	closedir(d);
	return chmod(dir, 0700) == 0 ? PV_OK : PV_E_IO;
}

struct line_ctx {
	struct crypto_rcpt_writer *w;
};

static enum pv_rc
put_line(const char *collection, const char *id, uint32_t version, json_t *fields, void *arg)
{
	struct line_ctx *lc = arg;
	json_t *o = json_object();
	char *text = NULL;
	size_t len;
	enum pv_rc rc = PV_E_NOMEM;

	(void)collection;
	if (o == NULL || json_object_set_new(o, "id", json_string(id)) != 0 ||
	    json_object_set_new(o, "version", json_integer(version)) != 0 ||
	    json_object_set(o, "fields", fields) != 0 ||
	    (text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	len = strlen(text);
	if ((rc = crypto_rcpt_write(lc->w, text, len)) == PV_OK)
		rc = crypto_rcpt_write(lc->w, "\n", 1);
	crypto_wipe(text, len);
out:
	free(text);
	json_decref(o);
	return rc;
}

static int
count_tomb(const char *ref, int64_t ms, void *arg)
{
	(void)ref;
	(void)ms;
	(*(int64_t *)arg)++;
	return 0;
}

/* One collection into dir/<name>.jsonl.pvenc; its manifest entry. */
static enum pv_rc
export_one(const struct offboard_ctx *c, const struct crypto_recipient *r, const char *dir,
    const char *name, json_t *files, int64_t *records)
{
	char file[STORE_NAME_MAX + sizeof(OFFBOARD_SUFFIX)], path[PATH_MAX_OB], sha[65];
	struct line_ctx lc = { NULL };
	struct stat sb;
	int64_t n = 0;
	int fd;
	enum pv_rc rc;

	snprintf(file, sizeof(file), "%s%s", name, OFFBOARD_SUFFIX);
	if (util_path_join(path, sizeof(path), dir, file) != 0)
		return PV_E_INVALID;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return PV_E_IO;
	rc = crypto_rcpt_writer_new(r, fd, &lc.w);
	if (rc == PV_OK)
		rc = vault_offboard_export(c->st, c->keys, name, put_line, &lc, &n);
	if (rc == PV_OK)
		rc = crypto_rcpt_finish(lc.w);
	crypto_rcpt_writer_free(lc.w);
	if (rc == PV_OK && (fsync(fd) != 0 || fstat(fd, &sb) != 0))
		rc = PV_E_IO;
	if (close(fd) != 0 && rc == PV_OK)
		rc = PV_E_IO;
	if (rc == PV_OK)
		rc = offboard_file_sha256(path, sha);
	if (rc == PV_OK && json_array_append_new(files, json_pack("{s:s,s:s,s:I,s:I,s:s}",
	    "file", file, "collection", name, "records", (json_int_t)n,
	    "bytes", (json_int_t)sb.st_size, "sha256", sha)) != 0)
		rc = PV_E_NOMEM;
	if (rc == PV_OK)
		*records += n;
	return rc;
}

static void
remove_written(const char *dir, json_t *files)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX_OB];

	(void)files;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (util_path_join(path, sizeof(path), dir, e->d_name) == 0)
			(void)unlink(path);
	}
	closedir(d);
}

enum pv_rc
offboard_export(const struct offboard_ctx *c, const char *outdir, const char *recipient_pem,
    size_t pemlen, struct offboard_export_result *out)
{
	struct offboard_export_result res;
	struct crypto_recipient *r = NULL;
	char (*names)[STORE_NAME_MAX] = NULL;
	json_t *files = NULL, *man = NULL;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], ph[CRYPTO_SHA256_LEN];
	char pubhex[2 * CRYPTO_ED25519_PUB_LEN + 1], phex[65], now[40], hash[65], path[PATH_MAX_OB];
	char detail[256], *text = NULL;
	size_t nn = 0;
	int64_t seq = 0;
	bool wrote = false;
	enum pv_rc rc;

	memset(&res, 0, sizeof(res));
	if ((rc = crypto_recipient_load(recipient_pem, pemlen, &r)) != PV_OK) {
		snprintf(res.message, sizeof(res.message), "the recipient key is not an X25519 or "
		    "RSA (2048 bits or more) public key PEM");
		goto out;
	}
	if ((rc = offboard_vault_id(c->st, res.vault_id)) != PV_OK ||
	    (rc = keys_audit_public_key(c->st, pub)) != PV_OK)
		goto out;
	if ((rc = fresh_dir(outdir)) != PV_OK) {
		snprintf(res.message, sizeof(res.message), rc == PV_E_CONFLICT ?
		    "the output directory is not empty" : "cannot create the output directory");
		goto out;
	}
	wrote = true;
	if ((files = json_array()) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = vault_offboard_collections(c->st, &names, &nn)) != PV_OK)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		if ((rc = export_one(c, r, outdir, names[i], files, &res.records)) != PV_OK) {
			snprintf(res.message, sizeof(res.message), "collection %s: %s", names[i],
			    pv_rc_name(rc));
			goto out;
		}
		res.files++;
	}
	STORE_READ(c->st, rc, store_subject_tombstone_list(tx, "", 0, count_tomb,
	    &res.shredded_subjects));
	if (rc != PV_OK)
		goto out;
	/* the entry first, so the manifest names the head that records it */
	snprintf(detail, sizeof(detail), "{\"collections\":%zu,\"records\":%lld,"
	    "\"recipient_key\":\"%s\"}", res.files, (long long)res.records, crypto_recipient_kind(r));
	{
		struct audit_event ev = {
			.actor = audit_actor_system(),
			.action = "offboard.export",
			.resource = "sys/offboard",
			.outcome = AUDIT_ALLOWED,
			.reason = c->seal,
			.detail = detail,
		};

		if ((rc = audit_commit(c->audit, &ev, NULL, NULL)) != PV_OK)
			goto out;
	}
	audit_head(c->audit, &seq, hash);
	util_hex_encode(pub, sizeof(pub), pubhex);
	if ((rc = crypto_sha256(recipient_pem, pemlen, ph)) != PV_OK)
		goto out;
	util_hex_encode(ph, sizeof(ph), phex);
	util_time_fmt(util_now_ms(), now, sizeof(now));
	man = json_pack("{s:i,s:s,s:s,s:s,s:{s:s,s:s},s:O,s:I,s:I,s:{s:I,s:s},s:s}",
	    "format", OFFBOARD_FORMAT, "kind", "phivault-offboard-export",
	    "vault_id", res.vault_id, "created_at", now,
	    "recipient", "kind", crypto_recipient_kind(r), "sha256", phex,
	    "files", files, "records", (json_int_t)res.records,
	    "shredded_subjects", (json_int_t)res.shredded_subjects,
	    "audit_head", "seq", (json_int_t)seq, "hash", hash, "audit_public_key", pubhex);
	if (man == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = offboard_sign(c->keys, man, OFFBOARD_MANIFEST_TAG)) != PV_OK)
		goto out;
	if ((text = json_dumps(man, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (util_path_join(path, sizeof(path), outdir, OFFBOARD_MANIFEST) != 0) {
		rc = PV_E_INVALID;
		goto out;
	}
	rc = util_file_write_atomic(path, text, strlen(text), 0600);
out:
	if (rc != PV_OK && wrote)
		remove_written(outdir, files);
	free(text);
	free(names);
	json_decref(files);
	json_decref(man);
	crypto_recipient_free(r);
	if (rc != PV_OK && res.message[0] == '\0')
		snprintf(res.message, sizeof(res.message), "%s", pv_rc_name(rc));
	*out = res;
	return rc;
}

/* ---- the customer's side ---- */

struct plain_out {
	int fd;
	int64_t lines;
};

static enum pv_rc
to_plain(const uint8_t *pt, size_t len, void *arg)
{
	struct plain_out *po = arg;
	size_t off = 0;

	for (size_t i = 0; i < len; i++)
		po->lines += pt[i] == '\n';
	while (off < len) {
		ssize_t n = write(po->fd, pt + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PV_E_IO;
		off += (size_t)n;
	}
	return PV_OK;
}

static bool
file_name_ok(const char *f)
{
	size_t l = strlen(f), sl = strlen(OFFBOARD_SUFFIX);

	if (l <= sl || l > STORE_NAME_MAX + sl || strcmp(f + l - sl, OFFBOARD_SUFFIX) != 0)
		return false;
	for (size_t i = 0; i < l - sl; i++)
		if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_'))
			return false;
	return true;
}

enum pv_rc
offboard_open(const char *indir, const char *priv_pem, size_t pemlen, const char *outdir,
    const uint8_t *pub, struct offboard_open_result *out)
{
	struct offboard_open_result res;
	uint8_t *mtext = NULL;
	size_t mlen = 0, i;
	json_t *man = NULL, *f;
	json_error_t je;
	char path[PATH_MAX_OB];
	bool made = false;
	enum pv_rc rc;

	memset(&res, 0, sizeof(res));
	if (util_path_join(path, sizeof(path), indir, OFFBOARD_MANIFEST) != 0) {
		rc = PV_E_INVALID;
		goto out;
	}
	if ((rc = util_file_read(path, 16u << 20, &mtext, &mlen)) != PV_OK) {
		snprintf(res.message, sizeof(res.message), "cannot read %s", OFFBOARD_MANIFEST);
		goto out;
	}
	man = json_loadb((const char *)mtext, mlen, 0, &je);
	rc = PV_E_INTEGRITY;
	if (man == NULL || !json_is_object(man) ||
	    json_integer_value(json_object_get(man, "format")) != OFFBOARD_FORMAT ||
	    !json_is_array(json_object_get(man, "files"))) {
		snprintf(res.message, sizeof(res.message), "%s is not an offboarding manifest",
		    OFFBOARD_MANIFEST);
		goto out;
	}
	if (!offboard_signature_ok(man, OFFBOARD_MANIFEST_TAG, pub, res.fingerprint,
	    sizeof(res.fingerprint))) {
		snprintf(res.message, sizeof(res.message), "the manifest signature does not verify");
		goto out;
	}
	util_strlcpy(res.vault_id, json_string_value(json_object_get(man, "vault_id")) ?
	    json_string_value(json_object_get(man, "vault_id")) : "", sizeof(res.vault_id));
	if ((rc = fresh_dir(outdir)) != PV_OK) {
		snprintf(res.message, sizeof(res.message), rc == PV_E_CONFLICT ?
		    "the output directory is not empty" : "cannot create the output directory");
		goto out;
	}
	made = true;
	json_array_foreach(json_object_get(man, "files"), i, f) {
		const char *name = json_string_value(json_object_get(f, "file"));
		const char *want = json_string_value(json_object_get(f, "sha256"));
		json_int_t records = json_integer_value(json_object_get(f, "records"));
		char sha[65], plain[PATH_MAX_OB], pname[STORE_NAME_MAX + 8];
		struct plain_out po = { -1, 0 };
		int in;

		rc = PV_E_INTEGRITY;
		if (name == NULL || want == NULL || !file_name_ok(name) ||
		    util_path_join(path, sizeof(path), indir, name) != 0) {
			snprintf(res.message, sizeof(res.message), "the manifest names a bad file");
			goto out;
		}
		if (offboard_file_sha256(path, sha) != PV_OK || strcmp(sha, want) != 0) {
			snprintf(res.message, sizeof(res.message), "%s: SHA-256 differs from the "
			    "manifest (altered or missing)", name);
			goto out;
		}
		snprintf(pname, sizeof(pname), "%.*s.jsonl", (int)(strlen(name) -
		    strlen(OFFBOARD_SUFFIX)), name);
		if (util_path_join(plain, sizeof(plain), outdir, pname) != 0 ||
		    (in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			rc = PV_E_IO;
			goto out;
		}
		if ((po.fd = open(plain, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
			close(in);
			rc = PV_E_IO;
			goto out;
		}
		rc = crypto_rcpt_open(priv_pem, pemlen, in, to_plain, &po);
		close(in);
		if (rc == PV_OK && fsync(po.fd) != 0)
			rc = PV_E_IO;
		close(po.fd);
		if (rc == PV_OK && po.lines != records)
			rc = PV_E_INTEGRITY;
		if (rc != PV_OK) {
			if (rc == PV_E_INVALID)
				snprintf(res.message, sizeof(res.message), "the private key is not an "
				    "X25519 or RSA private key PEM");
			else
				snprintf(res.message, sizeof(res.message), "%s does not decrypt with "
				    "this key (another recipient, or altered)", name);
			goto out;
		}
		res.files++;
		res.records += po.lines;
	}
	rc = PV_OK;
out:
	if (rc != PV_OK && made)
		remove_written(outdir, NULL);   /* nothing of a refused export stays */
	json_decref(man);
	free(mtext);
	if (rc != PV_OK && res.message[0] == '\0')
		snprintf(res.message, sizeof(res.message), "%s", pv_rc_name(rc));
	*out = res;
	return rc;
}
