/*
 * Drill evidence (src/backup/drill.c): signed with the audit key; any
 * member changed, or another key, and the signature no longer verifies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup_int.h"
#include "keys/keys_test.h"

static void
test_evidence_signature(void **state)
{
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };
	struct backup_drill_result r;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct store *st = NULL;
	struct keys *k = NULL;
	char dir[512];
	json_t *ev;

	(void)state;
	assert_int_equal(crypto_init(), PV_OK);
	assert_int_equal(kt_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	assert_int_equal(keys_initialize(st, dir, &spec, NULL, NULL), PV_OK);
	assert_int_equal(keys_open(st, dir, &k), PV_OK);
	assert_int_equal(keys_unseal_keyfile(k), PV_OK);
	assert_int_equal(keys_audit_public_key(st, pub), PV_OK);

	memset(&r, 0, sizeof(r));
	snprintf(r.backup, sizeof(r.backup), "bkp_drilled");
	snprintf(r.started_at, sizeof(r.started_at), "2026-12-01T14:00:00.000Z");
	r.rto_ms = 1234;
	r.records_checked = 30;
	r.audit_verified = true;
	r.ok = true;
	assert_int_equal(backup_drill_sign(k, &r), PV_OK);
	assert_int_equal(strlen(r.signature), 128);
	ev = backup_drill_evidence(&r, true);
	assert_non_null(ev);
	assert_true(backup_drill_signature_ok(ev, pub));
	assert_int_equal(json_integer_value(json_object_get(ev, "rto_ms")), 1234);
	/* a member changed: no longer */
	json_object_set_new(ev, "records_checked", json_integer(31));
	assert_false(backup_drill_signature_ok(ev, pub));
	json_object_set_new(ev, "records_checked", json_integer(30));
	assert_true(backup_drill_signature_ok(ev, pub));
	json_object_set_new(ev, "ok", json_false());
	assert_false(backup_drill_signature_ok(ev, pub));
	json_object_set_new(ev, "ok", json_true());
	/* another key */
	pub[3] ^= 1;
	assert_false(backup_drill_signature_ok(ev, pub));
	json_decref(ev);
	keys_close(k);
	store_close(st);
	kt_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evidence_signature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
