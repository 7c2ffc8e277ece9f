/*
 * The key provider table (src/keys/provider.c) and the pkcs11 provider
 * (src/keys/pkcs11.c) against a real SoftHSM2 token made for this test
 * under its own SOFTHSM2_CONF: lookup by name, wrap/unwrap round trips in
 * both providers, tampering and wrong AAD refused, a key that never leaves
 * the token, a missing key label, the PIN file checks, and what the HSM
 * reports (mechanisms, last error).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/keys_int.h"
#include "util/util.h"

#define PIN "246810"
#define TOKEN "pvunit"

static char dir[256], pin_path[320];

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
	const char *base = getenv("PV_TEST_TMP");
	char conf[320], cmd[1024];
	FILE *f;

	(void)state;
	if (base && *base) {
		snprintf(cmd, sizeof(cmd), "mkdir -p %s", base);
		if (system(cmd) != 0)
			return -1;
	}
	snprintf(dir, sizeof(dir), "%s/provider-XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(dir) == NULL || crypto_init() != PV_OK)
		return -1;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	snprintf(cmd, sizeof(cmd), "mkdir %s/tokens", dir);
	if (system(cmd) != 0 || (f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
	    "log.level = ERROR\n", dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label " TOKEN
	    " --pin " PIN " --so-pin 13579 >/dev/null");
	if (system(cmd) != 0)
		return -1;
	snprintf(pin_path, sizeof(pin_path), "%s/pin", dir);
	f = fopen(pin_path, "w");
	if (f == NULL)
		return -1;
	fputs(PIN "\n", f);
	fclose(f);
	return chmod(pin_path, 0600);
}

static int
teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_table(void **state)
{
	(void)state;
	assert_ptr_equal(keys_provider_find("soft"), &keys_provider_soft);
	assert_ptr_equal(keys_provider_find("pkcs11"), &keys_provider_pkcs11);
	assert_string_equal(keys_provider_find("soft")->name, "soft");
	assert_string_equal(keys_provider_find("pkcs11")->name, "pkcs11");
	assert_null(keys_provider_find("SOFT"));
	assert_null(keys_provider_find("kms"));
	assert_null(keys_provider_find(""));
	assert_null(keys_provider_find(NULL));
}

static void
test_soft(void **state)
{
	const struct keys_provider *p = keys_provider_find("soft");
	struct pv_secret *key = NULL, *shortkey = NULL;
	uint8_t pt[32], box[32 + CRYPTO_BOX_OVERHEAD], back[32];
	const uint8_t aad[] = "phivault:test:v1";

	(void)state;
	assert_int_equal(crypto_secret_random(CRYPTO_KEY_LEN, &key), PV_OK);
	assert_int_equal(crypto_random(pt, sizeof(pt)), PV_OK);
	assert_int_equal(p->wrap(key, NULL, aad, sizeof(aad), pt, sizeof(pt), box), PV_OK);
	/* the box of crypto_gcmbox_seal: anyone with the key opens it */
	assert_int_equal(crypto_gcmbox_open(key->buf, aad, sizeof(aad), box, sizeof(box), back),
	    PV_OK);
	assert_memory_equal(back, pt, sizeof(pt));
	memset(back, 0, sizeof(back));
	assert_int_equal(p->unwrap(key, NULL, aad, sizeof(aad), box, sizeof(box), back), PV_OK);
	assert_memory_equal(back, pt, sizeof(pt));
	assert_int_equal(p->unwrap(key, NULL, aad, sizeof(aad) - 1, box, sizeof(box), back),
	    PV_E_INTEGRITY);
	box[20] ^= 1;
	assert_int_equal(p->unwrap(key, NULL, aad, sizeof(aad), box, sizeof(box), back),
	    PV_E_INTEGRITY);
	assert_int_equal(crypto_secret_random(16, &shortkey), PV_OK);
	assert_int_equal(p->wrap(shortkey, NULL, aad, sizeof(aad), pt, sizeof(pt), box),
	    PV_E_INVALID);
	assert_int_equal(p->wrap(NULL, NULL, aad, sizeof(aad), pt, sizeof(pt), box), PV_E_INVALID);
	crypto_secret_free(shortkey);
	crypto_secret_free(key);
}

static void
test_pkcs11(void **state)
{
	const struct keys_provider *p = keys_provider_find("pkcs11");
	struct keys_hsm_spec spec = { "/usr/lib/softhsm/libsofthsm2.so", TOKEN, pin_path,
	    "unit-kek" };
	struct keys_hsm_status st;
	struct keys_hsm *h = NULL;
	uint8_t pt[32], box[32 + CRYPTO_BOX_OVERHEAD], box2[sizeof(box)], back[32];
	const uint8_t aad[] = "phivault:test:v1";
	size_t i;
	bool gcm = false;

	(void)state;
	assert_int_equal(keys_hsm_open(&spec, &h), PV_OK);
	assert_int_equal(keys_hsm_key_ensure(h, "unit-kek"), PV_OK);
	assert_int_equal(keys_hsm_key_ensure(h, "unit-kek"), PV_OK);   /* idempotent */
	assert_int_equal(crypto_random(pt, sizeof(pt)), PV_OK);
	assert_int_equal(p->wrap(h, "unit-kek", aad, sizeof(aad), pt, sizeof(pt), box), PV_OK);
	assert_int_equal(p->wrap(h, "unit-kek", aad, sizeof(aad), pt, sizeof(pt), box2), PV_OK);
	assert_memory_not_equal(box, box2, sizeof(box));   /* a fresh IV each time */
	assert_int_equal(p->unwrap(h, "unit-kek", aad, sizeof(aad), box, sizeof(box), back),
	    PV_OK);
	assert_memory_equal(back, pt, sizeof(pt));
	/* other AAD, any flipped byte: refused by the token */
	assert_int_equal(p->unwrap(h, "unit-kek", aad, sizeof(aad) - 1, box, sizeof(box), back),
	    PV_E_INTEGRITY);
	for (i = 0; i < sizeof(box); i += 7) {
		box[i] ^= 0x80;
		assert_int_equal(p->unwrap(h, "unit-kek", aad, sizeof(aad), box, sizeof(box),
		    back), PV_E_INTEGRITY);
		box[i] ^= 0x80;
	}
	assert_int_equal(p->unwrap(h, "unit-kek", aad, sizeof(aad), box, 10, back),
	    PV_E_INTEGRITY);
	/* no key of that label in the token */
	assert_int_equal(p->wrap(h, "no-such-key", aad, sizeof(aad), pt, sizeof(pt), box),
	    PV_E_HSM);
	keys_hsm_report(h, &st);
	assert_true(st.configured);
	assert_string_equal(st.token_label, TOKEN);
	assert_non_null(strstr(st.last_error, "key not in token"));
	assert_true(st.last_error_ms > 0);
	for (i = 0; i < st.nmechanisms; i++)
		gcm = gcm || strcmp(st.mechanisms[i], "CKM_AES_GCM") == 0;
	assert_true(gcm);
	assert_true(st.available);   /* re-opened after the miss */
	keys_hsm_close(h);
}

static void
test_open_refused(void **state)
{
	struct keys_hsm_spec spec = { "/usr/lib/softhsm/libsofthsm2.so", TOKEN, pin_path, "k" };
	struct keys_hsm *h = NULL;
	char path[400], link[400];

	(void)state;
	/* no such token */
	spec.token_label = "nosuchtoken";
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_HSM);
	spec.token_label = TOKEN;
	/* not a PKCS#11 module */
	spec.module = "/nonexistent/libnothing.so";
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_CONFIG);
	spec.module = "/usr/lib/softhsm/libsofthsm2.so";
	/* a wrong PIN */
	snprintf(path, sizeof(path), "%s/wrongpin", dir);
	write_file(path, "000000\n", 0600);
	spec.pin_file = path;
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_CONFIG);
	/* PIN files: others may read it, a link, empty, two lines, missing */
	write_file(path, PIN "\n", 0640);
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_CONFIG);
	write_file(path, "", 0600);
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_CONFIG);
	write_file(path, PIN "\n" PIN "\n", 0600);
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_CONFIG);
	snprintf(link, sizeof(link), "%s/pinlink", dir);
	assert_int_equal(symlink(pin_path, link), 0);
	spec.pin_file = link;
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_CONFIG);
	snprintf(path, sizeof(path), "%s/missing", dir);
	spec.pin_file = path;
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_NOTFOUND);
	/* settings missing */
	spec.pin_file = pin_path;
	spec.key_label = "";
	assert_int_equal(keys_hsm_open(&spec, &h), PV_E_CONFIG);
	assert_null(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_soft),
		cmocka_unit_test(test_pkcs11),
		cmocka_unit_test(test_open_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
