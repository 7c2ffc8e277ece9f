/*
 * The backup keyring bundle (src/keys/bundle.c): the rows of KEK "backup"
 * keep their provider and outer key through export and import (format
 * PVKB2), the outer key's versions travel with them, a pkcs11 version names
 * its token object and carries no key material, bundles of the first format
 * (PVKB1) still import (as soft versions), and a crafted bundle cannot
 * write another KEK, another outer key, a bad label or an unknown provider.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys/keys.h"
#include "keys_test.h"
#include "store/store.h"

struct fx {
	char src[PATH_MAX], dst[PATH_MAX];
	struct store *a, *b;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || kt_tmpdir(f->src, sizeof(f->src)) != 0 ||
	    kt_tmpdir(f->dst, sizeof(f->dst)) != 0 ||
	    store_open(f->src, "sqlite", NULL, false, &f->a) != PV_OK ||
	    store_open(f->dst, "sqlite", NULL, false, &f->b) != PV_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->a);
	store_close(f->b);
	kt_rmtree(f->src);
	kt_rmtree(f->dst);
	free(f);
	return 0;
}

static void
put_kek(struct store *st, const char *name, uint32_t v, const char *prov, const char *outer,
    uint8_t fill)
{
	struct store_kek k;
	uint8_t w[60];
	struct store_tx *tx = NULL;

	memset(&k, 0, sizeof(k));
	memset(w, fill, sizeof(w));
	snprintf(k.name, sizeof(k.name), "%s", name);
	k.version = v;
	k.state = STORE_KEK_ACTIVE;
	k.created_ms = 1000 + v;
	k.wrapped = w;
	k.wrapped_len = sizeof(w);
	snprintf(k.provider, sizeof(k.provider), "%s", prov);
	snprintf(k.outer, sizeof(k.outer), "%s", outer);
	assert_int_equal(store_begin(st, STORE_WR, &tx), PV_OK);
	assert_int_equal(store_kek_put(tx, &k), PV_OK);
	assert_int_equal(store_commit(tx), PV_OK);
	store_end(tx);
}

static enum pv_rc
export(struct store *st, uint8_t **out, size_t *len)
{
	struct store_tx *tx = NULL;
	enum pv_rc rc;

	assert_int_equal(store_begin(st, STORE_RD, &tx), PV_OK);
	rc = keys_bundle_export(tx, "backup", out, len);
	store_end(tx);
	return rc;
}

static enum pv_rc
import(struct store *st, const uint8_t *b, size_t len)
{
	struct store_tx *tx = NULL;
	enum pv_rc rc;

	assert_int_equal(store_begin(st, STORE_WR, &tx), PV_OK);
	rc = keys_bundle_import(tx, "backup", b, len);
	if (rc == PV_OK)
		rc = store_commit(tx);
	store_end(tx);
	return rc;
}

static void
get_kek(struct store *st, const char *name, uint32_t v, struct store_kek *out)
{
	struct store_tx *tx = NULL;

	assert_int_equal(store_begin(st, STORE_RD, &tx), PV_OK);
	assert_int_equal(store_kek_get(tx, name, v, out), PV_OK);
	store_end(tx);
}

static size_t
find(const uint8_t *hay, size_t n, const char *needle)
{
	size_t l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(hay + i, needle, l) == 0)
			return i;
	return (size_t)-1;
}

static void
test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_kek k;
	uint8_t *b = NULL;
	size_t len = 0;

	put_kek(f->a, "backup", 1, "soft", "", 0x11);
	put_kek(f->a, "backup", 2, "pkcs11", "outer:backup", 0x22);
	put_kek(f->a, "outer:backup", 2, "soft", "", 0x33);
	put_kek(f->a, "collection:x", 1, "soft", "", 0x44);   /* never in a bundle */
	assert_int_equal(export(f->a, &b, &len), PV_OK);
	assert_memory_equal(b, "PVKB2", 5);
	/* the token object is named; the collection key is not there */
	assert_true(find(b, len, "phivault-kek-backup-v2") != (size_t)-1);
	assert_true(find(b, len, "collection:x") == (size_t)-1);
	assert_int_equal(import(f->b, b, len), PV_OK);
	memset(&k, 0, sizeof(k));
	get_kek(f->b, "backup", 2, &k);
	assert_string_equal(k.provider, "pkcs11");
	assert_string_equal(k.outer, "outer:backup");
	assert_int_equal(k.wrapped_len, 60);
	assert_int_equal(k.wrapped[0], 0x22);
	store_kek_clear(&k);
	get_kek(f->b, "outer:backup", 2, &k);
	assert_string_equal(k.provider, "soft");
	assert_int_equal(k.wrapped[0], 0x33);
	store_kek_clear(&k);
	get_kek(f->b, "backup", 1, &k);
	assert_true(k.provider[0] == '\0' || strcmp(k.provider, "soft") == 0);
	store_kek_clear(&k);
	free(b);
}

/* A crafted change to one byte of a PVKB2 record is refused, nothing imported. */
static void
test_crafted(void **state)
{
	struct fx *f = *state;
	uint8_t *b = NULL, *c;
	size_t len = 0, at;
	struct store_tx *tx = NULL;
	struct store_kek k;

	put_kek(f->a, "backup", 1, "pkcs11", "", 0x55);
	assert_int_equal(export(f->a, &b, &len), PV_OK);
	c = malloc(len);
	assert_non_null(c);
	/* another object's label */
	memcpy(c, b, len);
	at = find(c, len, "phivault-kek-backup-v1");
	assert_true(at != (size_t)-1);
	c[at + strlen("phivault-kek-backup-v")] = '7';
	assert_int_equal(import(f->b, c, len), PV_E_INTEGRITY);
	/* an unknown provider */
	memcpy(c, b, len);
	at = find(c, len, "pkcs11");
	c[at] = 'q';
	assert_int_equal(import(f->b, c, len), PV_E_INTEGRITY);
	/* another KEK name (same length) */
	memcpy(c, b, len);
	at = find(c, len, "backup");
	while (at != (size_t)-1 && c[at - 1] == '-')
		at = find(c + at + 1, len - at - 1, "backup") + at + 1;
	memcpy(c + at, "bankup", 6);
	assert_int_equal(import(f->b, c, len), PV_E_INTEGRITY);
	/* nothing was written by the refused imports */
	assert_int_equal(store_begin(f->b, STORE_RD, &tx), PV_OK);
	memset(&k, 0, sizeof(k));
	assert_int_equal(store_kek_get(tx, "backup", 1, &k), PV_E_NOTFOUND);
	store_end(tx);
	free(c);
	free(b);
}

/* A first-format bundle (as backups made before PVKB2 carry). */
static void
test_v1(void **state)
{
	struct fx *f = *state;
	uint8_t b[256];
	size_t n = 0;
	struct store_kek k;

	memcpy(b, "PVKB1", 5);
	n = 5;
	b[n++] = 2;
	b[n++] = 0;
	b[n++] = 6;
	memcpy(b + n, "backup", 6);
	n += 6;
	memcpy(b + n, "\0\0\0\1", 4);                  /* version 1 */
	n += 4;
	b[n++] = STORE_KEK_ACTIVE;
	memcpy(b + n, "\0\0\0\0\0\0\x03\xe8", 8);       /* created_ms */
	n += 8;
	memcpy(b + n, "\0\0\0\x3c", 4);                /* 60 bytes */
	n += 4;
	memset(b + n, 0x66, 60);
	n += 60;
	assert_int_equal(import(f->b, b, n), PV_OK);
	memset(&k, 0, sizeof(k));
	get_kek(f->b, "backup", 1, &k);
	assert_true(k.provider[0] == '\0' || strcmp(k.provider, "soft") == 0);
	assert_string_equal(k.outer, "");
	assert_int_equal(k.wrapped[59], 0x66);
	store_kek_clear(&k);
	/* a type-3 record is not part of the first format */
	b[5] = 3;
	assert_int_equal(keys_bundle_public_key(b, n, (uint8_t[32]){ 0 }), PV_E_INTEGRITY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crafted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
