/*
 * The backup file format (src/backup/format.c) with a real keyring: a
 * round trip gives the exact image back; a changed byte is named by its
 * chunk; a chunk spliced in from another backup, or two chunks swapped,
 * do not decrypt (the AAD binds the backup ID and the index) even where a
 * hash check alone would not say why; a truncated file is no backup; the
 * signature verifies only under the vault's audit key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup_int.h"
#include "keys/keys_test.h"

#define PLAIN (2 * BACKUP_CHUNK + 12345)   /* two full chunks and a short one */
#define NAME "backup"
/* a full chunk's record: "PVCK" index last version n name wrapped ct_len ct */
#define REC_FULL (14 + sizeof(NAME) - 1 + KEYS_WRAPPED_DEK_LEN + 4 + BACKUP_CHUNK + \
	CRYPTO_BOX_OVERHEAD)
#define OFF0 10

struct fx {
	char dir[512];
	char bdir[600];
	struct store *st;
	struct keys *k;
	uint8_t *plain;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };

	if (f == NULL || crypto_init() != PV_OK || kt_tmpdir(f->dir, sizeof(f->dir)) != 0)
		return -1;
	snprintf(f->bdir, sizeof(f->bdir), "%s/backups", f->dir);
	if (mkdir(f->bdir, 0700) != 0 ||
	    store_open(f->dir, "sqlite", NULL, false, &f->st) != PV_OK ||
	    keys_initialize(f->st, f->dir, &spec, NULL, NULL) != PV_OK ||
	    keys_open(f->st, f->dir, &f->k) != PV_OK || keys_unseal_keyfile(f->k) != PV_OK ||
	    keys_kek_ensure(f->k, BACKUP_KEK) != PV_OK ||
	    keys_audit_public_key(f->st, f->pub) != PV_OK)
		return -1;
	if ((f->plain = malloc(PLAIN)) == NULL)
		return -1;
	for (size_t i = 0; i < PLAIN; i++)
		f->plain[i] = (uint8_t)(i * 31 + (i >> 11));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	keys_close(f->k);
	store_close(f->st);
	kt_rmtree(f->dir);
	free(f->plain);
	free(f);
	return 0;
}

/* Write a backup of f->plain as id into f->bdir; the file's path into path. */
static void
write_backup(struct fx *f, const char *id, char *path, size_t len)
{
	struct backup_writer *w = NULL;
	json_t *m = json_pack("{s:i,s:s}", "format", BACKUP_FORMAT, "id", id);
	char sha[65];
	int64_t bytes = 0;

	assert_non_null(m);
	assert_int_equal(backup_writer_open(f->bdir, id, f->k, &w), PV_OK);
	/* in uneven pieces, as the store's sink hands them over */
	assert_int_equal(backup_writer_data(w, f->plain, 1000), PV_OK);
	assert_int_equal(backup_writer_data(w, f->plain + 1000, PLAIN - 1000), PV_OK);
	assert_int_equal(backup_writer_finish(w, m, sha, &bytes), PV_OK);
	json_decref(m);
	snprintf(path, len, "%s/%s%s", f->bdir, id, BACKUP_SUFFIX);
	assert_int_equal(access(path, F_OK), 0);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
put_file(const char *path, const uint8_t *buf, size_t len)
{
	(void)chmod(path, 0600);
	assert_int_equal(kt_write(path, buf, len, 0400), 0);
}

static void
test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct backup_verify_result v;
	char path[700], out[700];
	uint8_t *got;
	size_t n;
	int fd;

	write_backup(f, "bkp_roundtrip", path, sizeof(path));
	snprintf(out, sizeof(out), "%s/image", f->dir);
	assert_true((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(backup_verify_file(path, f->pub, f->st, f->k, fd, &v), PV_OK);
	close(fd);
	assert_true(v.signature_ok && v.chunks_ok && v.decrypt_ok && v.keys_ok);
	assert_int_equal(v.bad_chunk, -1);
	assert_string_equal(v.id, "bkp_roundtrip");
	got = slurp(out, &n);
	assert_int_equal(n, PLAIN);
	assert_memory_equal(got, f->plain, PLAIN);
	free(got);
	/* nothing of the plaintext is in the file */
	got = slurp(path, &n);
	assert_null(memmem(got, n, f->plain + BACKUP_CHUNK, 64));
	free(got);
}

static void
test_byte_flip_names_chunk(void **state)
{
	struct fx *f = *state;
	struct backup_verify_result v;
	char path[700];
	uint8_t *buf;
	size_t n;

	write_backup(f, "bkp_flip", path, sizeof(path));
	buf = slurp(path, &n);
	buf[OFF0 + REC_FULL + 5000] ^= 0x01;     /* inside chunk 1's ciphertext */
	put_file(path, buf, n);
	free(buf);
	assert_int_equal(backup_verify_file(path, f->pub, f->st, f->k, -1, &v), PV_OK);
	assert_true(v.signature_ok);
	assert_false(v.chunks_ok);
	assert_false(v.decrypt_ok);
	assert_int_equal(v.bad_chunk, 1);
	assert_non_null(strstr(v.message, "chunk 1 is corrupt"));
	/* without a keyring: the hash alone names it */
	assert_int_equal(backup_verify_file(path, f->pub, NULL, NULL, -1, &v), PV_OK);
	assert_false(v.chunks_ok);
	assert_int_equal(v.bad_chunk, 1);
}

static void
test_splice_and_swap_do_not_open(void **state)
{
	struct fx *f = *state;
	struct backup_verify_result v;
	char a[700], b[700];
	uint8_t *fa, *fb, *tmp;
	size_t na, nb;

	write_backup(f, "bkp_splicea", a, sizeof(a));
	write_backup(f, "bkp_spliceb", b, sizeof(b));
	fa = slurp(a, &na);
	fb = slurp(b, &nb);
	assert_int_equal(na, nb);
	/* chunk 0 of b into a: a valid chunk, of the same length, wrong backup */
	memcpy(fa + OFF0, fb + OFF0, REC_FULL);
	put_file(a, fa, na);
	assert_int_equal(backup_verify_file(a, f->pub, f->st, f->k, -1, &v), PV_OK);
	assert_false(v.decrypt_ok);
	assert_int_equal(v.bad_chunk, 0);
	/* chunks 0 and 1 of b swapped (index fields swapped back so the headers
	 * look right): the AAD's index refuses both */
	tmp = malloc(REC_FULL);
	assert_non_null(tmp);
	memcpy(tmp, fb + OFF0, REC_FULL);
	memcpy(fb + OFF0, fb + OFF0 + REC_FULL, REC_FULL);
	memcpy(fb + OFF0 + REC_FULL, tmp, REC_FULL);
	memcpy(tmp, fb + OFF0 + 4, 4);
	memcpy(fb + OFF0 + 4, fb + OFF0 + REC_FULL + 4, 4);
	memcpy(fb + OFF0 + REC_FULL + 4, tmp, 4);
	free(tmp);
	put_file(b, fb, nb);
	assert_int_equal(backup_verify_file(b, f->pub, f->st, f->k, -1, &v), PV_OK);
	assert_false(v.decrypt_ok);
	assert_false(v.chunks_ok);
	free(fa);
	free(fb);
}

static void
test_truncated_and_wrong_key(void **state)
{
	struct fx *f = *state;
	struct backup_verify_result v;
	uint8_t other[CRYPTO_ED25519_PUB_LEN];
	char path[700];
	uint8_t *buf;
	size_t n;

	write_backup(f, "bkp_trunc", path, sizeof(path));
	memcpy(other, f->pub, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(backup_verify_file(path, other, NULL, NULL, -1, &v), PV_OK);
	assert_false(v.signature_ok);
	assert_true(v.chunks_ok);
	buf = slurp(path, &n);
	put_file(path, buf, n - 100);   /* the manifest's end is gone */
	free(buf);
	assert_int_equal(backup_verify_file(path, f->pub, f->st, f->k, -1, &v), PV_OK);
	assert_false(v.signature_ok || v.chunks_ok || v.decrypt_ok);
	assert_non_null(strstr(v.message, "not a complete backup"));
}

/* The chain over a directory: one start; a removed middle one is named. */
static void
test_chain(void **state)
{
	struct fx *f = *state;
	char why[512], p1[700], p2[700], p3[700], sha[65];
	const char *ids[] = { "bkp_chain1", "bkp_chain2", "bkp_chain3" };
	char prev[65] = "";
	json_t *m;
	bool sig;

	kt_rmtree(f->bdir);
	assert_int_equal(mkdir(f->bdir, 0700), 0);
	for (int i = 0; i < 3; i++) {
		struct backup_writer *w = NULL;
		int64_t bytes;

		m = json_pack("{s:i,s:s}", "format", BACKUP_FORMAT, "id", ids[i]);
		json_object_set_new(m, "prev_manifest_sha256", prev[0] ? json_string(prev) :
		    json_null());
		assert_int_equal(backup_writer_open(f->bdir, ids[i], f->k, &w), PV_OK);
		assert_int_equal(backup_writer_data(w, f->plain, 100), PV_OK);
		assert_int_equal(backup_writer_finish(w, m, sha, &bytes), PV_OK);
		json_decref(m);
		memcpy(prev, sha, sizeof(prev));
	}
	assert_true(backup_chain_check(f->bdir, why, sizeof(why)));
	snprintf(p1, sizeof(p1), "%s/%s%s", f->bdir, ids[0], BACKUP_SUFFIX);
	snprintf(p2, sizeof(p2), "%s/%s%s", f->bdir, ids[1], BACKUP_SUFFIX);
	snprintf(p3, sizeof(p3), "%s/%s%s", f->bdir, ids[2], BACKUP_SUFFIX);
	assert_int_equal(backup_manifest_read(p3, f->pub, &m, sha, &sig), PV_OK);
	assert_true(sig);
	json_decref(m);
	/* the oldest pruned: still one chain */
	assert_int_equal(unlink(p1), 0);
	assert_true(backup_chain_check(f->bdir, why, sizeof(why)));
	/* the middle one removed: two starts, the newest names what is missing */
	write_backup(f, "bkp_chain0", p1, sizeof(p1));   /* another start */
	assert_false(backup_chain_check(f->bdir, why, sizeof(why)));
	assert_int_equal(unlink(p1), 0);
	assert_int_equal(unlink(p2), 0);
	assert_true(backup_chain_check(f->bdir, why, sizeof(why)));   /* p3 alone */
	(void)p3;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_flip_names_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_splice_and_swap_do_not_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
