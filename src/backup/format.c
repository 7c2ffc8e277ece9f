/*
 * format.c: the backup file, written and read.
 *
 * File format v1 (all integers big-endian):
 *
 *   magic      "PVBACKUP1\n"                                  10 bytes
 *   chunk*     "PVCK" | u32 index | u8 last (1 on the final chunk, else 0)
 *              | u32 kek_version | u8 n | kek_name[n]
 *              | wrapped_dek[KEYS_WRAPPED_DEK_LEN] | u32 ct_len | ct[ct_len]
 *   manifest   "PVMF" | u32 len | manifest JSON[len] | Ed25519 signature[64]
 *   trailer    u64 offset of "PVMF" | "PVBKEND\n"                16 bytes
 *
 * ct = keys_envelope_seal(KEK "backup", aad, plaintext chunk): AES-256-GCM
 * under a fresh DEK (iv | ciphertext | tag), the DEK wrapped by the KEK's
 * active version. Plaintext chunks are BACKUP_CHUNK bytes but the last.
 * aad = "phivault-backup-chunk-v1" 0x00 | id 0x00 | u32 index | u8 last:
 * a chunk moved to another index, to another backup, or presented as the
 * last one (truncation) does not open. The manifest lists every chunk's
 * SHA-256 over its whole record ("PVCK" .. ct), so a changed byte is named
 * by its chunk without any key. The signature covers BACKUP_SIG_TAG |
 * manifest bytes. Versioning: a new layout is a new magic and "format".
 *
 * Manifest: {"format":1,"id","created_at","created_ms","node","region",
 * "chunk_size","plain_bytes","chunks":[{"sha256","bytes"}],"tables":{name:
 * rows},"audit":{"seq","head"},"keys":[{"name","version"}],"collections":
 * [{"name","region"}],"prev_manifest_sha256":hex|null,"prev_id":id|null,
 * "immutable_until"}.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/backup_int.h"

#define MAGIC "PVBACKUP1\n"
#define MAGIC_LEN 10
#define END_MAGIC "PVBKEND\n"
#define AAD_TAG "phivault-backup-chunk-v1"
#define REC_MAX (BACKUP_CHUNK + 512)

struct backup_writer {
	int fd;
	char dir[4096];
	char tmp[4200];
	char final[4200];
	char id[UTIL_ID_MAX];
	struct keys *keys;
	uint8_t *buf;                 /* plaintext of the chunk being filled */
	size_t fill;
	uint8_t *rec;                 /* one sealed record */
	uint32_t index;
	int64_t plain;
	int64_t off;                  /* bytes written so far */
	json_t *chunks;
	uint32_t kek_version;         /* of the chunks (one per backup in practice) */
	json_t *versions;             /* distinct KEK versions used */
};

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t
make_aad(const char *id, uint32_t index, bool last, uint8_t *aad, size_t cap)
{
	size_t t = sizeof(AAD_TAG), n = strlen(id) + 1;

	if (t + n + 5 > cap)
		return 0;
	memcpy(aad, AAD_TAG, t);
	memcpy(aad + t, id, n);
	put32(aad + t + n, index);
	aad[t + n + 4] = last ? 1 : 0;
	return t + n + 5;
}

static enum pv_rc
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PV_E_IO;
		p += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

static enum pv_rc
read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PV_E_INTEGRITY;   /* short: truncated */
		p += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

enum pv_rc
backup_writer_open(const char *dir, const char *id, struct keys *keys, struct backup_writer **out)
{
	struct backup_writer *w;
	enum pv_rc rc = PV_E_NOMEM;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return PV_E_NOMEM;
	w->fd = -1;
	w->keys = keys;
	util_strlcpy(w->dir, dir, sizeof(w->dir));
	util_strlcpy(w->id, id, sizeof(w->id));
	snprintf(w->tmp, sizeof(w->tmp), "%s/.%s.partial", dir, id);
	snprintf(w->final, sizeof(w->final), "%s/%s%s", dir, id, BACKUP_SUFFIX);
	if ((w->buf = malloc(BACKUP_CHUNK)) == NULL || (w->rec = malloc(REC_MAX)) == NULL ||
	    (w->chunks = json_array()) == NULL || (w->versions = json_array()) == NULL)
		goto fail;
	(void)unlink(w->tmp);   /* a partial file of an earlier, interrupted attempt */
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		rc = PV_E_IO;
		goto fail;
	}
	if ((rc = write_all(w->fd, MAGIC, MAGIC_LEN)) != PV_OK)
		goto fail;
	w->off = MAGIC_LEN;
	*out = w;
	return PV_OK;
fail:
	backup_writer_abort(w);
	return rc;
}

static enum pv_rc
seal_chunk(struct backup_writer *w, bool last)
{
	struct keys_envelope env;
	uint8_t aad[256], hash[CRYPTO_SHA256_LEN];
	char hex[65];
	size_t aadlen, n, p = 0, ctlen = w->fill + CRYPTO_BOX_OVERHEAD;
	enum pv_rc rc;
	json_t *c;

	if ((aadlen = make_aad(w->id, w->index, last, aad, sizeof(aad))) == 0)
		return PV_E_INVALID;
	memset(&env, 0, sizeof(env));
	n = strlen(BACKUP_KEK);
	/* record header: "PVCK" index last version n name wrapped ct_len */
	memcpy(w->rec, "PVCK", 4);
	p = 4 + 4 + 1 + 4 + 1 + n + KEYS_WRAPPED_DEK_LEN + 4;
	rc = keys_envelope_seal(w->keys, BACKUP_KEK, aad, aadlen, w->buf, w->fill, w->rec + p,
	    &env);
	crypto_wipe(w->buf, w->fill);
	if (rc != PV_OK)
		return rc;
	put32(w->rec + 4, w->index);
	w->rec[8] = last ? 1 : 0;
	put32(w->rec + 9, env.kek_version);
	w->rec[13] = (uint8_t)n;
	memcpy(w->rec + 14, BACKUP_KEK, n);
	memcpy(w->rec + 14 + n, env.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	put32(w->rec + 14 + n + KEYS_WRAPPED_DEK_LEN, (uint32_t)ctlen);
	p += ctlen;
	if ((rc = crypto_sha256(w->rec, p, hash)) != PV_OK ||
	    (rc = write_all(w->fd, w->rec, p)) != PV_OK)
		return rc;
	util_hex_encode(hash, sizeof(hash), hex);
	if ((c = json_pack("{s:s,s:I}", "sha256", hex, "bytes", (json_int_t)p)) == NULL ||
	    json_array_append_new(w->chunks, c) != 0)
		return PV_E_NOMEM;
	if (w->kek_version != env.kek_version) {
		w->kek_version = env.kek_version;
		if (json_array_append_new(w->versions, json_pack("{s:s,s:i}", "name", BACKUP_KEK,
		    "version", (int)env.kek_version)) != 0)
			return PV_E_NOMEM;
	}
	w->off += (int64_t)p;
	w->plain += (int64_t)w->fill;
	w->fill = 0;
	w->index++;
	return PV_OK;
}

enum pv_rc
backup_writer_data(struct backup_writer *w, const uint8_t *buf, size_t len)
{
	enum pv_rc rc;

	while (len > 0) {
		size_t n;

		/* a full chunk is sealed only once more data shows it is not the last */
		if (w->fill == BACKUP_CHUNK && (rc = seal_chunk(w, false)) != PV_OK)
			return rc;
		n = BACKUP_CHUNK - w->fill;
		if (n > len)
			n = len;
		memcpy(w->buf + w->fill, buf, n);
		w->fill += n;
		buf += n;
		len -= n;
	}
	return PV_OK;
}

static enum pv_rc
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return PV_E_IO;
	r = fsync(fd);
	close(fd);
	return r == 0 ? PV_OK : PV_E_IO;
}

enum pv_rc
backup_writer_finish(struct backup_writer *w, json_t *manifest, char sha[65],
    int64_t *file_bytes)
{
	uint8_t hdr[8], sig[CRYPTO_ED25519_SIG_LEN], trailer[16], hash[CRYPTO_SHA256_LEN];
	char *text = NULL, *msg = NULL;
	size_t len, tl = strlen(BACKUP_SIG_TAG);
	int64_t moff;
	enum pv_rc rc;

	if ((rc = seal_chunk(w, true)) != PV_OK)
		goto out;
	rc = PV_E_NOMEM;
	if (json_object_set(manifest, "chunks", w->chunks) != 0 ||
	    json_object_set(manifest, "keys", w->versions) != 0 ||
	    json_object_set_new(manifest, "plain_bytes", json_integer(w->plain)) != 0 ||
	    json_object_set_new(manifest, "chunk_size", json_integer(BACKUP_CHUNK)) != 0)
		goto out;
	if ((text = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	len = strlen(text);
	if ((msg = malloc(tl + len)) == NULL)
		goto out;
	memcpy(msg, BACKUP_SIG_TAG, tl);
	memcpy(msg + tl, text, len);
	if ((rc = keys_audit_sign(w->keys, (const uint8_t *)msg, tl + len, sig)) != PV_OK ||
	    (rc = crypto_sha256(text, len, hash)) != PV_OK)
		goto out;
	moff = w->off;
	memcpy(hdr, "PVMF", 4);
	put32(hdr + 4, (uint32_t)len);
	put32(trailer, (uint32_t)((uint64_t)moff >> 32));
	put32(trailer + 4, (uint32_t)moff);
	memcpy(trailer + 8, END_MAGIC, 8);
	if ((rc = write_all(w->fd, hdr, 8)) != PV_OK ||
	    (rc = write_all(w->fd, text, len)) != PV_OK ||
	    (rc = write_all(w->fd, sig, sizeof(sig))) != PV_OK ||
	    (rc = write_all(w->fd, trailer, sizeof(trailer))) != PV_OK)
		goto out;
	rc = PV_E_IO;
	if (fsync(w->fd) != 0 || fchmod(w->fd, 0400) != 0)
		goto out;
	close(w->fd);
	w->fd = -1;
	/* never over an existing backup: link fails if the name is taken */
	if (link(w->tmp, w->final) != 0)
		goto out;
	(void)unlink(w->tmp);
	if ((rc = fsync_dir(w->dir)) != PV_OK)
		goto out;
	util_hex_encode(hash, sizeof(hash), sha);
	*file_bytes = moff + 8 + (int64_t)len + (int64_t)sizeof(sig) + (int64_t)sizeof(trailer);
	rc = PV_OK;
out:
	free(text);
	free(msg);
	backup_writer_abort(w);
	return rc;
}

void
backup_writer_abort(struct backup_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	(void)unlink(w->tmp);   /* after finish: already gone */
	if (w->buf != NULL) {
		crypto_wipe(w->buf, BACKUP_CHUNK);
		free(w->buf);
	}
	if (w->rec != NULL) {
		crypto_wipe(w->rec, REC_MAX);
		free(w->rec);
	}
	json_decref(w->chunks);
	json_decref(w->versions);
	free(w);
}

/* ---- reading ---- */

static enum pv_rc
read_manifest_fd(int fd, const uint8_t *pub, json_t **manifest, char sha[65], bool *sig_ok,
    int64_t *moff_out)
{
	uint8_t trailer[16], hdr[8], sig[CRYPTO_ED25519_SIG_LEN], hash[CRYPTO_SHA256_LEN];
	char *text = NULL, *msg = NULL;
	size_t tl = strlen(BACKUP_SIG_TAG);
	uint32_t len;
	off_t size;
	uint64_t moff;
	json_error_t je;
	enum pv_rc rc = PV_E_INTEGRITY;

	if ((size = lseek(fd, 0, SEEK_END)) < (off_t)(MAGIC_LEN + 16) ||
	    lseek(fd, size - 16, SEEK_SET) < 0 || read_all(fd, trailer, 16) != PV_OK ||
	    memcmp(trailer + 8, END_MAGIC, 8) != 0)
		return PV_E_INTEGRITY;
	moff = (uint64_t)get32(trailer) << 32 | get32(trailer + 4);
	if (moff < MAGIC_LEN || moff > (uint64_t)size - 16 - 8 - sizeof(sig) ||
	    lseek(fd, (off_t)moff, SEEK_SET) < 0 || read_all(fd, hdr, 8) != PV_OK ||
	    memcmp(hdr, "PVMF", 4) != 0)
		return PV_E_INTEGRITY;
	len = get32(hdr + 4);
	if (len == 0 || len > BACKUP_MANIFEST_MAX ||
	    moff + 8 + len + sizeof(sig) + 16 != (uint64_t)size)
		return PV_E_INTEGRITY;
	if ((text = malloc((size_t)len + 1)) == NULL || (msg = malloc(tl + len)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (read_all(fd, text, len) != PV_OK || read_all(fd, sig, sizeof(sig)) != PV_OK)
		goto out;
	text[len] = '\0';
	memcpy(msg, BACKUP_SIG_TAG, tl);
	memcpy(msg + tl, text, len);
	*sig_ok = pub != NULL &&
	    crypto_ed25519_verify(pub, (const uint8_t *)msg, tl + len, sig) == PV_OK;
	if (crypto_sha256(text, len, hash) != PV_OK)
		goto out;
	util_hex_encode(hash, sizeof(hash), sha);
	if ((*manifest = json_loadb(text, len, 0, &je)) == NULL || !json_is_object(*manifest)) {
		json_decref(*manifest);
		*manifest = NULL;
		goto out;
	}
	*moff_out = (int64_t)moff;
	rc = PV_OK;
out:
	free(text);
	free(msg);
	return rc;
}

enum pv_rc
backup_manifest_read(const char *path, const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    json_t **manifest, char sha[65], bool *sig_ok)
{
	int64_t moff;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	enum pv_rc rc;

	if (fd < 0)
		return errno == ENOENT ? PV_E_NOTFOUND : PV_E_IO;
	rc = read_manifest_fd(fd, pub, manifest, sha, sig_ok, &moff);
	close(fd);
	return rc;
}

static void fail(struct backup_verify_result *r, int64_t chunk, const char *fmt,
    const char *what) __attribute__((format(printf, 3, 0)));
static void
fail(struct backup_verify_result *r, int64_t chunk, const char *fmt, const char *what)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (chunk >= 0 && r->bad_chunk < 0)
		r->bad_chunk = chunk;
	if (r->message[0] == '\0')
		snprintf(r->message, sizeof(r->message), fmt, what);
#pragma GCC diagnostic pop
}

/* What the backup needs from the HSM (its manifest's "hsm", create.c):
 * the token label and the HSM-held versions, for the report. */
static void
hsm_of(json_t *m, struct backup_verify_result *r)
{
	json_t *h = json_object_get(m, "hsm"), *k;
	size_t i, off = 0;

	if (!json_is_object(h))
		return;
	r->hsm_sealed = json_is_string(json_object_get(h, "seal")) &&
	    strcmp(json_string_value(json_object_get(h, "seal")), "pkcs11") == 0;
	util_strlcpy(r->hsm_token, json_string_value(json_object_get(h, "token_label")) ?
	    json_string_value(json_object_get(h, "token_label")) : "", sizeof(r->hsm_token));
	json_array_foreach(json_object_get(h, "keys"), i, k) {
		const char *ref = json_string_value(k);
		int n;

		if (ref == NULL)
			continue;
		r->hsm_nkeys++;
		n = snprintf(r->hsm_keys + off, sizeof(r->hsm_keys) - off, "%s%s",
		    off > 0 ? ", " : "", ref);
		if (n < 0 || (size_t)n >= sizeof(r->hsm_keys) - off) {
			/* a long list: the count says how many */
			r->hsm_keys[off] = '\0';
			break;
		}
		off += (size_t)n;
	}
}

/* The key versions the manifest names: present and not revoked. */
static void
check_keys(struct store *st, json_t *m, struct backup_verify_result *r)
{
	json_t *k;
	size_t i;

	r->keys_ok = json_is_array(json_object_get(m, "keys")) &&
	    json_array_size(json_object_get(m, "keys")) > 0;
	json_array_foreach(json_object_get(m, "keys"), i, k) {
		const char *name = json_string_value(json_object_get(k, "name"));
		json_int_t v = json_integer_value(json_object_get(k, "version"));
		struct store_kek row;
		enum pv_rc rc;
		char what[160];

		memset(&row, 0, sizeof(row));
		if (name == NULL || v < 1 || v > UINT32_MAX) {
			r->keys_ok = false;
			fail(r, -1, "%s", "the manifest names a malformed key version");
			continue;
		}
		STORE_READ(st, rc, store_kek_get(tx, name, (uint32_t)v, &row));
		snprintf(what, sizeof(what), "%s v%lld", name, (long long)v);
		if (rc != PV_OK) {
			r->keys_ok = false;
			fail(r, -1, "key %s is missing: unrestorable", what);
		} else if (row.state == STORE_KEK_REVOKED) {
			r->keys_ok = false;
			fail(r, -1, "key %s was revoked: unrestorable", what);
		}
		store_kek_clear(&row);
	}
}

enum pv_rc
backup_verify_file(const char *path, const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    struct store *st, struct keys *keys, int plain_fd, struct backup_verify_result *out)
{
	struct backup_verify_result r;
	json_t *m = NULL, *chunks;
	uint8_t *rec = NULL, *pt = NULL, magic[MAGIC_LEN];
	char sha[65];
	int64_t moff = 0, pos = MAGIC_LEN;
	size_t i, n;
	int fd;
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	r.bad_chunk = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? PV_E_NOTFOUND : PV_E_IO;
	rc = read_manifest_fd(fd, pub, &m, sha, &r.signature_ok, &moff);
	if (rc == PV_E_INTEGRITY) {
		fail(&r, -1, "%s", "the file is not a complete backup (no readable manifest)");
		rc = PV_OK;
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	util_strlcpy(r.id, json_string_value(json_object_get(m, "id")) ?
	    json_string_value(json_object_get(m, "id")) : "", sizeof(r.id));
	hsm_of(m, &r);
	if (!r.signature_ok)
		fail(&r, -1, "%s", "the manifest signature does not verify");
	if (json_integer_value(json_object_get(m, "format")) != BACKUP_FORMAT || r.id[0] == '\0') {
		fail(&r, -1, "%s", "unknown manifest format");
		goto out;
	}
	if (keys != NULL && st != NULL)
		check_keys(st, m, &r);
	chunks = json_object_get(m, "chunks");
	n = json_array_size(chunks);
	r.chunks_ok = n > 0;
	r.decrypt_ok = keys != NULL && n > 0;
	rc = PV_E_NOMEM;
	if ((rec = malloc(REC_MAX)) == NULL || (pt = malloc(BACKUP_CHUNK)) == NULL)
		goto out;
	if (lseek(fd, 0, SEEK_SET) != 0 || read_all(fd, magic, MAGIC_LEN) != PV_OK ||
	    memcmp(magic, MAGIC, MAGIC_LEN) != 0) {
		r.chunks_ok = r.decrypt_ok = false;
		fail(&r, 0, "%s", "bad magic");
		rc = PV_OK;
		goto out;
	}
	for (i = 0; i < n; i++) {
		json_t *c = json_array_get(chunks, i);
		json_int_t bytes = json_integer_value(json_object_get(c, "bytes"));
		const char *want = json_string_value(json_object_get(c, "sha256"));
		uint8_t hash[CRYPTO_SHA256_LEN];
		char hex[65], what[32];
		size_t nl, hl;
		uint32_t ctlen;

		snprintf(what, sizeof(what), "%zu", i);
		if (bytes < 14 || bytes > REC_MAX || pos + bytes > moff || want == NULL ||
		    read_all(fd, rec, (size_t)bytes) != PV_OK) {
			r.chunks_ok = r.decrypt_ok = false;
			fail(&r, (int64_t)i, "chunk %s is missing or truncated", what);
			break;
		}
		pos += bytes;
		if (crypto_sha256(rec, (size_t)bytes, hash) != PV_OK)
			goto out;
		util_hex_encode(hash, sizeof(hash), hex);
		if (strcmp(hex, want) != 0) {
			r.chunks_ok = false;
			fail(&r, (int64_t)i, "chunk %s is corrupt (SHA-256 differs)", what);
		}
		nl = rec[13];
		hl = 14 + nl + KEYS_WRAPPED_DEK_LEN + 4;
		if (memcmp(rec, "PVCK", 4) != 0 || get32(rec + 4) != i ||
		    rec[8] != (i + 1 == n ? 1 : 0) || hl > (size_t)bytes || nl >= 128 ||
		    (ctlen = get32(rec + hl - 4)) != (size_t)bytes - hl ||
		    ctlen < CRYPTO_BOX_OVERHEAD || ctlen - CRYPTO_BOX_OVERHEAD > BACKUP_CHUNK) {
			r.chunks_ok = r.decrypt_ok = false;
			fail(&r, (int64_t)i, "chunk %s has a bad header", what);
			continue;
		}
		if (keys != NULL) {
			struct keys_envelope env;
			uint8_t aad[256];
			size_t aadlen = make_aad(r.id, (uint32_t)i, i + 1 == n, aad, sizeof(aad));

			memset(&env, 0, sizeof(env));
			memcpy(env.kek_name, rec + 14, nl);
			env.kek_version = get32(rec + 9);
			memcpy(env.wrapped_dek, rec + 14 + nl, KEYS_WRAPPED_DEK_LEN);
			if (aadlen == 0 || keys_envelope_open(keys, &env, aad, aadlen, rec + hl, ctlen,
			    pt) != PV_OK) {
				r.decrypt_ok = false;
				fail(&r, (int64_t)i, "chunk %s does not decrypt", what);
				continue;
			}
			if (plain_fd >= 0 && write_all(plain_fd, pt, ctlen - CRYPTO_BOX_OVERHEAD) !=
			    PV_OK) {
				rc = PV_E_IO;
				goto out;
			}
			crypto_wipe(pt, ctlen - CRYPTO_BOX_OVERHEAD);
		}
	}
	if (r.chunks_ok && pos != moff) {
		r.chunks_ok = false;
		fail(&r, (int64_t)n, "%s", "bytes between the last chunk and the manifest");
	}
	rc = PV_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rec != NULL) {
		crypto_wipe(rec, REC_MAX);
		free(rec);
	}
	if (pt != NULL) {
		crypto_wipe(pt, BACKUP_CHUNK);
		free(pt);
	}
	json_decref(m);
	if (rc == PV_OK)
		*out = r;
	return rc;
}

/* ---- the chain of a directory's backups ---- */

struct entry {
	char sha[65];
	char prev[65];
	char id[UTIL_ID_MAX];
};

bool
backup_chain_check(const char *dir, char *why, size_t whylen)
{
	struct entry *e = NULL, *ne;
	size_t n = 0, cap = 0, i, j, roots = 0;
	struct dirent *d;
	DIR *dh;
	bool ok = true;

	if ((dh = opendir(dir)) == NULL) {
		snprintf(why, whylen, "cannot read the backup directory");
		return false;
	}
	while ((d = readdir(dh)) != NULL) {
		size_t l = strlen(d->d_name), sl = strlen(BACKUP_SUFFIX);
		char path[4400], sha[65];
		json_t *m = NULL;
		bool sig;
		const char *prev, *id;

		if (d->d_name[0] == '.' || l <= sl || strcmp(d->d_name + l - sl, BACKUP_SUFFIX) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (backup_manifest_read(path, NULL, &m, sha, &sig) != PV_OK) {
			snprintf(why, whylen, "%s has no readable manifest", d->d_name);
			ok = false;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((ne = realloc(e, cap * sizeof(*e))) == NULL) {
				json_decref(m);
				ok = false;
				snprintf(why, whylen, "out of memory");
				break;
			}
			e = ne;
		}
		memset(&e[n], 0, sizeof(e[n]));
		memcpy(e[n].sha, sha, sizeof(sha));
		prev = json_string_value(json_object_get(m, "prev_manifest_sha256"));
		id = json_string_value(json_object_get(m, "id"));
		util_strlcpy(e[n].prev, prev ? prev : "", sizeof(e[n].prev));
		util_strlcpy(e[n].id, id ? id : "", sizeof(e[n].id));
		n++;
		json_decref(m);
	}
	closedir(dh);
	/* one connected chain: exactly one backup starts it (the first, or the
	 * oldest left after pruning); a removed or replaced backup in the
	 * middle leaves a second start, whose predecessor it names */
	why[0] = '\0';
	for (i = 0; ok && i < n; i++) {
		bool found = false;

		for (j = 0; e[i].prev[0] != '\0' && j < n && !found; j++)
			found = strcmp(e[j].sha, e[i].prev) == 0;
		if (found)
			continue;
		roots++;
		if (e[i].prev[0] != '\0' && why[0] == '\0')
			snprintf(why, whylen, "the backup before %s (manifest %.16s...) is missing or "
			    "was replaced", e[i].id, e[i].prev);
	}
	if (ok && roots > 1) {
		if (why[0] == '\0')
			snprintf(why, whylen, "%zu backups claim to be the first of the chain", roots);
		ok = false;
	}
	free(e);
	return ok;
}

enum pv_rc
backup_file_public_key(const char *path, uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	json_t *m = NULL;
	char sha[65];
	bool sig;
	const char *b64;
	uint8_t *bundle = NULL;
	size_t blen = 0;
	enum pv_rc rc;

	if ((rc = backup_manifest_read(path, NULL, &m, sha, &sig)) != PV_OK)
		return rc;
	rc = PV_E_INTEGRITY;
	if ((b64 = json_string_value(json_object_get(m, "keyring"))) != NULL &&
	    (bundle = malloc(blen = strlen(b64) + 4)) != NULL &&
	    util_b64_decode(b64, bundle, &blen) == 0)
		rc = keys_bundle_public_key(bundle, blen, pub);
	free(bundle);
	json_decref(m);
	return rc;
}
