/*
 * restore.c: `phivault backup restore FILE --data NEWDIR` (offline).
 *
 * Needs only the backup file and the seal material of the vault it came
 * from (its key file, K of its Shamir shares, or for the pkcs11 seal the
 * same HSM token and its PIN: the token's keys never leave it, so they are
 * in no backup): the manifest carries the keyring bundle (keys/bundle.c)
 * that opens the KEK "backup" from the seal, and names the token and the
 * HSM-held KEK versions ("hsm"). Steps, each of which must pass before the
 * next:
 *
 *   1. NEWDIR is new or empty (never restore over a data directory);
 *   2. the manifest's signature verifies under the audit key of the bundle,
 *      and (when the caller pins it) that key is the expected one;
 *   3. a scratch keyring (NEWDIR/.restore-keyring, a store holding only the
 *      bundle's wrapped rows) is unsealed with the seal material (pkcs11:
 *      the token absent is PV_E_HSM, saying which token is needed);
 *   4. every chunk is checked against the manifest and decrypted straight
 *      into NEWDIR/phivault.db (0600); the scratch keyring is removed;
 *   5. the restored database is checked: row counts equal the manifest's,
 *      the audit chain verifies under the same key and reaches the
 *      manifest's head;
 *   6. apply_tombstones(): the subjects shredded up to the newest backup of
 *      the set (every signed manifest in FILE's directory lists its
 *      snapshot's tombstones) are shredded in the restored store too;
 *   7. NEWDIR gets a fresh self-signed TLS certificate (a restored node is
 *      a new host: it never reuses the old private key, which the backup
 *      does not hold), the key file (key-file seal) and last phivault.conf
 *      with the defaults, the backup's region and (pkcs11 seal) the [pkcs11]
 *      settings the restore used, so the directory unseals from the token.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/backup_int.h"
#include "vault/vault.h"

static bool
dir_empty_or_absent(const char *dir)
{
	struct dirent *d;
	DIR *dh = opendir(dir);
	bool empty = true;

	if (dh == NULL)
		return errno == ENOENT;
	while ((d = readdir(dh)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			empty = false;
	closedir(dh);
	return empty;
}

static void
rm_store_files(const char *dir)
{
	static const char *const names[] = { "phivault.db", "phivault.db-wal", "phivault.db-shm",
		"phivault.db-journal" };
	char p[4400];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", dir, names[i]) < (int)sizeof(p))
			(void)unlink(p);
	}
}

/*
 * Erasures newer than the backup (step 7, after the image was checked
 * against its manifest): every backup's signed manifest lists the
 * tombstones (shredded subjects, as their hex references) of its snapshot.
 * The union of the tombstones of every backup in FILE's directory whose
 * manifest is signed by the same audit key is applied to the restored store
 * (vault_subject_tombstones_apply: those subjects' records shredded, keys
 * deleted, tombstones written) before it ever serves, so restoring an older
 * backup never brings back a patient shredded before a newer one was made.
 * A patient shredded after the newest backup of the set is not in any
 * manifest: docs/operations.md says what that window is and how to close it.
 */
static enum pv_rc
apply_tombstones(const char *newdir, const char *file, const uint8_t *pub, size_t *applied)
{
	struct vault_tombstone *t = NULL;
	size_t n = 0, cap = 0;
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *d;
	struct store *st = NULL;
	DIR *dh;
	enum pv_rc rc = PV_OK;
	const char *slash = strrchr(file, '/');

	*applied = 0;
	if (slash == NULL)
		util_strlcpy(dir, ".", sizeof(dir));
	else if ((size_t)(slash - file) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file), file);
	else
		return PV_E_INVALID;
	if ((dh = opendir(dir[0] != '\0' ? dir : "/")) == NULL)
		return PV_OK;   /* the file alone: only its own (already restored) tombstones */
	while ((d = readdir(dh)) != NULL) {
		size_t len = strlen(d->d_name), sl = strlen(BACKUP_SUFFIX);
		json_t *m = NULL, *arr, *v;
		char sha[65];
		bool sig = false;
		size_t i;

		if (len <= sl || strcmp(d->d_name + len - sl, BACKUP_SUFFIX) != 0 ||
		    d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (backup_manifest_read(path, pub, &m, sha, &sig) != PV_OK || !sig) {
			json_decref(m);
			continue;   /* unreadable or signed by another vault: not trusted */
		}
		arr = json_object_get(m, "tombstones");
		json_array_foreach(arr, i, v) {
			const char *ref = json_string_value(v);

			if (ref == NULL || strlen(ref) != 64)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct vault_tombstone *nt = realloc(t, nc * sizeof(*t));

				if (nt == NULL) {
					rc = PV_E_NOMEM;
					json_decref(m);
					goto out;
				}
				t = nt;
				cap = nc;
			}
			util_strlcpy(t[n].ref, ref, sizeof(t[n].ref));
			t[n].shredded_ms = json_integer_value(json_object_get(m, "created_ms"));
			n++;
		}
		json_decref(m);
	}
	if (n == 0)
		goto out;
	if ((rc = store_open(newdir, "sqlite", NULL, false, &st)) != PV_OK)
		goto out;
	rc = vault_subject_tombstones_apply(st, t, n, applied);
out:
	closedir(dh);
	store_close(st);
	free(t);
	return rc;
}

struct count_sink {
	int dummy;
};

static enum pv_rc
discard(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return PV_OK;
}

/* Step 6: counts and the audit chain of the restored store. */
static enum pv_rc
check_restored(const char *newdir, json_t *m, const uint8_t *pub,
    struct backup_restore_result *res)
{
	struct store_snapshot_info info;
	struct store_snapshot_sink sink = { .write = discard };
	struct audit_verify_result vr;
	struct store *st = NULL;
	json_t *tables = json_object_get(m, "tables");
	enum pv_rc rc;

	if ((rc = store_open(newdir, "sqlite", NULL, true, &st)) != PV_OK) {
		snprintf(res->message, sizeof(res->message), "the restored database does not open");
		return rc;
	}
	STORE_READ(st, rc, store_snapshot(tx, &sink, &info));
	if (rc != PV_OK)
		goto out;
	rc = PV_E_INTEGRITY;
	if (json_object_size(tables) != info.ntables) {
		snprintf(res->message, sizeof(res->message), "the restored database has %zu tables, "
		    "the manifest %zu", info.ntables, json_object_size(tables));
		goto out;
	}
	for (size_t i = 0; i < info.ntables; i++) {
		json_t *want = json_object_get(tables, info.tables[i].name);

		if (!json_is_integer(want) || json_integer_value(want) != info.tables[i].rows) {
			snprintf(res->message, sizeof(res->message), "table %s has %lld rows, the "
			    "manifest says %lld", info.tables[i].name, (long long)info.tables[i].rows,
			    (long long)json_integer_value(want));
			goto out;
		}
		if (strcmp(info.tables[i].name, "records") == 0)
			res->records = info.tables[i].rows;
	}
	if (audit_verify(st, pub, &vr) != PV_OK || !vr.ok) {
		snprintf(res->message, sizeof(res->message), "the restored audit chain does not "
		    "verify");
		goto out;
	}
	if (vr.head_seq != json_integer_value(json_object_get(json_object_get(m, "audit"), "seq"))) {
		snprintf(res->message, sizeof(res->message), "the restored audit chain ends at %lld, "
		    "not at the manifest's head", (long long)vr.head_seq);
		goto out;
	}
	res->audit_seq = vr.head_seq;
	res->audit_verified = true;
	rc = PV_OK;
out:
	store_close(st);
	return rc;
}

/* The pkcs11 seal: the same token (found by label in every slot of the
 * module) and its PIN. A token that is not there is PV_E_HSM with a
 * message naming it (never an integrity error: the backup is fine). */
static enum pv_rc
unseal_hsm(struct keys *k, const struct backup_unseal *u, const struct keys_hsm_spec *hs,
    char *msg, size_t ml)
{
	enum pv_rc rc;

	if (u->pkcs11_pin_file == NULL || hs->token_label == NULL || hs->token_label[0] == '\0') {
		snprintf(msg, ml, "the vault was sealed by the HSM token '%s': give "
		    "--pkcs11-pin-file (its user PIN) with the same token present",
		    hs->token_label != NULL ? hs->token_label : "?");
		return PV_E_INVALID;
	}
	rc = keys_unseal_pkcs11(k, hs);
	if (rc == PV_E_HSM)
		snprintf(msg, ml, "the HSM token '%s' (module %s) that seals this backup's vault "
		    "is not present or has no key '%s': a restore needs the same token and its "
		    "PIN", hs->token_label, hs->module, hs->key_label);
	else if (rc == PV_E_CONFIG)
		snprintf(msg, ml, "the HSM could not be opened: check --pkcs11-pin-file (mode "
		    "0600, ours, the user PIN) and --pkcs11-module");
	else if (rc == PV_E_INTEGRITY)
		snprintf(msg, ml, "the key '%s' of token '%s' does not open this backup's "
		    "keyring: another token or another vault", hs->key_label, hs->token_label);
	return rc;
}

static enum pv_rc
scratch_keyring(const char *newdir, const char *scratch, const uint8_t *bundle, size_t blen,
    const struct backup_unseal *u, const struct keys_hsm_spec *hs, struct store **stp,
    struct keys **kp, enum keys_seal_type *type, char *msg, size_t ml)
{
	struct store *st = NULL;
	struct keys *k = NULL;
	struct store_tx *tx = NULL;
	struct keys_seal_status ss;
	enum pv_rc rc;

	if (mkdir(scratch, 0700) != 0) {
		snprintf(msg, ml, "cannot create the scratch keyring directory");
		return PV_E_IO;
	}
	if ((rc = store_open(scratch, "sqlite", NULL, false, &st)) != PV_OK)
		goto fail;
	if ((rc = store_begin(st, STORE_WR, &tx)) != PV_OK ||
	    (rc = keys_bundle_import(tx, BACKUP_KEK, bundle, blen)) != PV_OK ||
	    (rc = store_commit(tx)) != PV_OK) {
		store_end(tx);
		snprintf(msg, ml, "the manifest's keyring bundle is damaged");
		goto fail;
	}
	store_end(tx);
	if ((rc = keys_open(st, newdir, &k)) != PV_OK)
		goto fail;
	keys_status(k, &ss);
	*type = ss.type;
	if (ss.type == KEYS_SEAL_KEYFILE) {
		if (u->key_file == NULL) {
			snprintf(msg, ml, "the vault used the key-file seal: give --key-file (its "
			    "unseal.key)");
			rc = PV_E_INVALID;
			goto fail;
		}
		rc = keys_unseal_keyfile(k);
	} else if (ss.type == KEYS_SEAL_SHAMIR) {
		rc = PV_E_SEALED;
		for (size_t i = 0; i < u->nshares && keys_is_sealed(k); i++)
			if ((rc = keys_unseal_share(k, u->shares[i], &ss)) != PV_OK)
				break;
		if (rc == PV_OK && keys_is_sealed(k))
			rc = PV_E_SEALED;
	} else {
		msg[0] = '\0';
		rc = unseal_hsm(k, u, hs, msg, ml);
		if (rc != PV_OK && msg[0] != '\0')
			goto fail;
	}
	if (rc != PV_OK) {
		snprintf(msg, ml, "the seal material does not open this backup's keyring (%s)",
		    pv_rc_name(rc));
		goto fail;
	}
	*stp = st;
	*kp = k;
	return PV_OK;
fail:
	if (k != NULL)
		keys_close(k);
	store_close(st);
	return rc;
}

enum pv_rc
backup_restore(const char *file, const char *newdir, const struct backup_unseal *u,
    struct backup_restore_result *out)
{
	struct backup_restore_result res;
	struct backup_verify_result v;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], *bundle = NULL, *kf = NULL;
	char scratch[4400], dbpath[4400], kfpath[4400], tlsdir[4400], confpath[4400], sha[65];
	char err[256];
	struct store *ks = NULL;
	struct keys *k = NULL;
	struct pv_config cfg;
	struct keys_hsm_spec hs;
	enum keys_seal_type seal = KEYS_SEAL_KEYFILE;
	json_t *m = NULL, *hsm;
	const char *b64;
	size_t blen = 0, kflen = 0;
	bool sig = false, made_db = false, made_kf = false;
	int fd = -1;
	int64_t t0 = util_mono_ms();
	enum pv_rc rc;

	memset(&res, 0, sizeof(res));
	snprintf(scratch, sizeof(scratch), "%s/.restore-keyring", newdir);
	snprintf(dbpath, sizeof(dbpath), "%s/phivault.db", newdir);
	snprintf(kfpath, sizeof(kfpath), "%s/%s", newdir, KEYS_UNSEAL_FILE);
	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", newdir);
	snprintf(confpath, sizeof(confpath), "%s/phivault.conf", newdir);
	/* 1 */
	if (!dir_empty_or_absent(newdir)) {
		snprintf(res.message, sizeof(res.message), "%s is not empty: restore only into a new "
		    "data directory", newdir);
		rc = PV_E_CONFLICT;
		goto out;
	}
	if (mkdir(newdir, 0700) != 0 && errno != EEXIST) {
		snprintf(res.message, sizeof(res.message), "cannot create %s", newdir);
		rc = PV_E_IO;
		goto out;
	}
	/* 2 */
	if ((rc = backup_manifest_read(file, NULL, &m, sha, &sig)) != PV_OK) {
		snprintf(res.message, sizeof(res.message), "%s is not a complete backup", file);
		goto out;
	}
	rc = PV_E_INTEGRITY;
	if ((b64 = json_string_value(json_object_get(m, "keyring"))) == NULL ||
	    (bundle = malloc(blen = strlen(b64) + 4)) == NULL ||
	    util_b64_decode(b64, bundle, &blen) != 0 ||
	    keys_bundle_public_key(bundle, blen, pub) != PV_OK) {
		snprintf(res.message, sizeof(res.message), "the manifest carries no keyring bundle");
		goto out;
	}
	if (u->pub != NULL && !crypto_memeq(u->pub, pub, sizeof(pub))) {
		snprintf(res.message, sizeof(res.message), "the backup is signed by another audit "
		    "key than the one given");
		goto out;
	}
	json_decref(m);
	m = NULL;
	if ((rc = backup_manifest_read(file, pub, &m, sha, &sig)) != PV_OK || !sig) {
		snprintf(res.message, sizeof(res.message), "the manifest signature does not verify");
		rc = PV_E_INTEGRITY;
		goto out;
	}
	/* 3: the HSM named by the caller, else by the manifest (labels) and
	 * the [pkcs11] default module */
	config_defaults(&cfg, newdir);
	hsm = json_object_get(m, "hsm");
	hs.module = u->pkcs11_module != NULL ? u->pkcs11_module : cfg.pkcs11_module;
	hs.token_label = u->pkcs11_token != NULL ? u->pkcs11_token :
	    json_string_value(json_object_get(hsm, "token_label"));
	hs.key_label = u->pkcs11_key_label != NULL ? u->pkcs11_key_label :
	    json_string_value(json_object_get(hsm, "key_label")) != NULL ?
	    json_string_value(json_object_get(hsm, "key_label")) : "phivault-seal";
	hs.pin_file = u->pkcs11_pin_file;
	if (u->key_file != NULL) {
		if ((rc = util_file_read(u->key_file, 4096, &kf, &kflen)) != PV_OK ||
		    (rc = util_file_write_atomic(kfpath, kf, kflen, 0600)) != PV_OK) {
			snprintf(res.message, sizeof(res.message), "cannot copy the key file");
			goto out;
		}
		made_kf = true;
	}
	if ((rc = scratch_keyring(newdir, scratch, bundle, blen, u, &hs, &ks, &k, &seal,
	    res.message, sizeof(res.message))) != PV_OK)
		goto out;
	/* 4 */
	if ((fd = open(dbpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		rc = PV_E_IO;
		goto out;
	}
	made_db = true;
	if ((rc = backup_verify_file(file, pub, ks, k, fd, &v)) != PV_OK)
		goto out;
	if (!v.signature_ok || !v.chunks_ok || !v.decrypt_ok || !v.keys_ok) {
		util_strlcpy(res.message, v.message, sizeof(res.message));
		rc = PV_E_INTEGRITY;
		goto out;
	}
	if (fsync(fd) != 0) {
		rc = PV_E_IO;
		goto out;
	}
	close(fd);
	fd = -1;
	keys_close(k);
	k = NULL;
	store_close(ks);
	ks = NULL;
	rm_store_files(scratch);
	(void)rmdir(scratch);
	/* 5: the image is the backup's (counts, chain) */
	if ((rc = check_restored(newdir, m, pub, &res)) != PV_OK)
		goto out;
	/* 6: then the erasures the set knows of */
	if ((rc = apply_tombstones(newdir, file, pub, &res.tombstones_applied)) != PV_OK) {
		snprintf(res.message, sizeof(res.message), "the shredded subjects of the backup set "
		    "could not be applied");
		goto out;
	}
	/* 7 */
	if (seal == KEYS_SEAL_PKCS11 &&
	    (util_strlcpy(cfg.pkcs11_module, hs.module, sizeof(cfg.pkcs11_module)) >=
	    sizeof(cfg.pkcs11_module) || util_strlcpy(cfg.pkcs11_token_label, hs.token_label,
	    sizeof(cfg.pkcs11_token_label)) >= sizeof(cfg.pkcs11_token_label) ||
	    util_strlcpy(cfg.pkcs11_pin_file, hs.pin_file, sizeof(cfg.pkcs11_pin_file)) >=
	    sizeof(cfg.pkcs11_pin_file) || util_strlcpy(cfg.pkcs11_key_label, hs.key_label,
	    sizeof(cfg.pkcs11_key_label)) >= sizeof(cfg.pkcs11_key_label))) {
		snprintf(res.message, sizeof(res.message), "a --pkcs11-* path or label is too long");
		rc = PV_E_INVALID;
		goto out;
	}
	if (json_is_string(json_object_get(m, "region"))) {
		util_strlcpy(cfg.region, json_string_value(json_object_get(m, "region")),
		    sizeof(cfg.region));
		util_strlcpy(cfg.backup_region, cfg.region, sizeof(cfg.backup_region));
		util_strlcpy(cfg.allowed_regions, cfg.region, sizeof(cfg.allowed_regions));
	}
	if (config_validate(&cfg, false, err, sizeof(err)) != PV_OK) {
		util_strlcpy(res.message, err, sizeof(res.message));
		rc = PV_E_CONFIG;
		goto out;
	}
	if ((mkdir(tlsdir, 0700) != 0 && errno != EEXIST) ||
	    (rc = crypto_tls_selfsigned(cfg.tls_cert, cfg.tls_key, "localhost", 825)) != PV_OK ||
	    (rc = config_write(&cfg, confpath)) != PV_OK) {
		snprintf(res.message, sizeof(res.message), "cannot write the TLS files or the "
		    "config");
		rc = rc == PV_OK ? PV_E_IO : rc;
		goto out;
	}
	util_strlcpy(res.id, v.id, sizeof(res.id));
	res.rto_ms = util_mono_ms() - t0;
	rc = PV_OK;
out:
	if (fd >= 0)
		close(fd);
	if (k != NULL)
		keys_close(k);
	store_close(ks);
	if (rc != PV_OK) {
		/* leave NEWDIR as empty as it was: nothing half-restored is left to serve */
		rm_store_files(scratch);
		(void)rmdir(scratch);
		if (made_db)
			rm_store_files(newdir);
		if (made_kf)
			(void)unlink(kfpath);
	}
	if (kf != NULL) {
		crypto_wipe(kf, kflen);
		free(kf);
	}
	free(bundle);
	json_decref(m);
	*out = res;
	return rc;
}
