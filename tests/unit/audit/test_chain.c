/*
 * chain.c: the canonical encoding and hash of an entry, byte for byte.
 * The golden hash below was computed by hand-assembling the bytes of the
 * layout in docs/internals/audit.md (here and, independently, with Python's
 * hashlib); if it changes, every existing trail stops verifying.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "crypto/crypto.h"

#define PREV "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define GOLDEN_HASH "368142032200b5f28e83008ae8624f2047a08011d42c6c7b90570651be3e1211"

static struct store_audit_row golden_row(void)
{
	struct store_audit_row r = {
		.seq = 42,
		.time = "2026-01-02T03:04:05.678Z",
		.actor = "{\"session_id\":\"ses_1\",\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\"}",
		.action = "record.read",
		.resource = "collections/patients/records/rec_1",
		.purpose_of_use = "TREAT",
		.outcome = "allowed",
		.reason = "",
		.detail = "{\"fields\":[\"name\"]}",
		.prev_hash = PREV,
		.hash = NULL,
	};
	return r;
}

/* The layout, written out independently of chain.c. */
static size_t hand_encode(const struct store_audit_row *r, uint8_t *buf)
{
	const char *f[9] = { r->time, r->actor, r->action, r->resource, r->purpose_of_use,
		r->outcome, r->reason, r->detail, r->prev_hash };
	size_t n = 0;
	uint64_t seq = (uint64_t)r->seq;

	memcpy(buf, "phivault-audit-v1", 17);
	n = 17;
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(seq >> (8 * i));
	for (int i = 0; i < 9; i++) {
		uint32_t l = (uint32_t)strlen(f[i]);

		buf[n++] = (uint8_t)(l >> 24);
		buf[n++] = (uint8_t)(l >> 16);
		buf[n++] = (uint8_t)(l >> 8);
		buf[n++] = (uint8_t)l;
		memcpy(buf + n, f[i], l);
		n += l;
	}
	return n;
}

static void test_canonical_layout(void **state)
{
	struct store_audit_row r = golden_row();
	uint8_t expect[1024], *got = NULL;
	size_t elen, glen = 0;

	(void)state;
	elen = hand_encode(&r, expect);
	assert_int_equal(elen, 285);
	assert_int_equal(audit_canonical(&r, &got, &glen), PV_OK);
	assert_int_equal(glen, elen);
	assert_memory_equal(got, expect, elen);
	free(got);
}

static void test_hash_golden(void **state)
{
	struct store_audit_row r = golden_row();
	uint8_t buf[1024], digest[CRYPTO_SHA256_LEN];
	char expect[65], got[65];
	size_t n;

	(void)state;
	/* raw prev_hash || canonical bytes */
	assert_int_equal(util_hex_decode(PREV, buf, 32), 0);
	n = hand_encode(&r, buf + 32);
	assert_int_equal(crypto_sha256(buf, 32 + n, digest), PV_OK);
	util_hex_encode(digest, sizeof digest, expect);

	assert_int_equal(audit_chain_hash(&r, got), PV_OK);
	assert_string_equal(got, expect);
	assert_string_equal(got, GOLDEN_HASH);
}

static void test_each_field_changes_hash(void **state)
{
	char base[65], seen[10][65];

	(void)state;
	{
		struct store_audit_row r = golden_row();
		assert_int_equal(audit_chain_hash(&r, base), PV_OK);
	}
	for (int i = 0; i < 10; i++) {
		struct store_audit_row r = golden_row();

		switch (i) {
		case 0: r.seq = 43; break;
		case 1: r.time = "2026-01-02T03:04:05.679Z"; break;
		case 2: r.actor = "{\"session_id\":null,\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\"}"; break;
		case 3: r.action = "record.update"; break;
		case 4: r.resource = "collections/patients/records/rec_2"; break;
		case 5: r.purpose_of_use = "ETREAT"; break;
		case 6: r.outcome = "denied"; break;
		case 7: r.reason = "x"; break;
		case 8: r.detail = "{\"fields\":[\"dob\"]}"; break;
		case 9: r.prev_hash = AUDIT_GENESIS_HASH; break;
		}
		assert_int_equal(audit_chain_hash(&r, seen[i]), PV_OK);
		assert_string_not_equal(seen[i], base);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
}

/* Moving bytes across a field boundary changes the encoding (length prefixes). */
static void test_field_boundary_unambiguous(void **state)
{
	struct store_audit_row a = golden_row(), b = golden_row();
	char ha[65], hb[65];

	(void)state;
	a.action = "record.rea";
	a.resource = "dcollections/patients/records/rec_1";
	assert_int_equal(audit_chain_hash(&a, ha), PV_OK);
	assert_int_equal(audit_chain_hash(&b, hb), PV_OK);
	assert_string_not_equal(ha, hb);

	a = golden_row();
	b = golden_row();
	a.purpose_of_use = "";
	a.reason = "TREAT";
	b.reason = "";
	assert_int_equal(audit_chain_hash(&a, ha), PV_OK);
	assert_int_equal(audit_chain_hash(&b, hb), PV_OK);
	assert_string_not_equal(ha, hb);
}

static void test_bad_prev_hash_refused(void **state)
{
	struct store_audit_row r = golden_row();
	char h[65];

	(void)state;
	r.prev_hash = "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_int_equal(audit_chain_hash(&r, h), PV_E_INVALID);
	r.prev_hash = "0123";
	assert_int_equal(audit_chain_hash(&r, h), PV_E_INVALID);
	r.prev_hash = NULL;
	assert_int_equal(audit_chain_hash(&r, h), PV_E_INVALID);
}

static void test_checkpoint_message(void **state)
{
	char buf[256], small[20];
	size_t n;

	(void)state;
	n = audit_checkpoint_message(1000, GOLDEN_HASH, buf, sizeof buf);
	assert_string_equal(buf, "phivault-audit-checkpoint-v1\n1000\n" GOLDEN_HASH "\n");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(audit_checkpoint_message(1000, GOLDEN_HASH, small, sizeof small), 0);
}

static void test_outcome_names(void **state)
{
	(void)state;
	assert_string_equal(audit_outcome_name(AUDIT_ALLOWED), "allowed");
	assert_string_equal(audit_outcome_name(AUDIT_DENIED), "denied");
	assert_string_equal(audit_outcome_name(AUDIT_ERROR), "error");
}

static void test_prepare_actor_and_detail(void **state)
{
	struct audit_event ev = {
		.actor = { .user_id = "usr_a", .session_id = "ses_1", .source = "10.0.0.1" },
		.action = "record.read",
		.resource = "collections/patients/records/rec_1",
		.outcome = AUDIT_DENIED,
		.detail = "{ \"z\": 1, \"a\": [\"name\"] }",
	};
	struct audit_prepared p;

	(void)state;
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	assert_string_equal(p.actor,
	    "{\"session_id\":\"ses_1\",\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\"}");
	assert_string_equal(p.detail, "{\"a\":[\"name\"],\"z\":1}");
	assert_string_equal(p.outcome, "denied");
	assert_string_equal(p.purpose_of_use, "");
	assert_string_equal(p.reason, "");
	audit_prepared_clear(&p);

	/* No user: anonymous; no session or source: JSON null; no detail: {}. */
	memset(&ev.actor, 0, sizeof ev.actor);
	ev.detail = NULL;
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	assert_string_equal(p.actor, "{\"session_id\":null,\"source\":null,\"user_id\":\"anonymous\"}");
	assert_string_equal(p.detail, "{}");
	audit_prepared_clear(&p);
}

static void test_prepare_refuses_bad_input(void **state)
{
	struct audit_event ok = {
		.actor = { .user_id = "usr_a" },
		.action = "record.read",
		.resource = "collections/p/records/rec_1",
	};
	struct audit_event ev;
	struct audit_prepared p;
	static char big[AUDIT_TEXT_MAX + 2];

	(void)state;
	assert_int_equal(audit_prepare(&ok, &p), PV_OK);
	audit_prepared_clear(&p);

	ev = ok; ev.action = "record.read\n2 forged line";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.resource = "collections/p\r/records";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.resource = "tab\there";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.action = "";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.action = NULL;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.resource = "bad\xc3(utf8";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.resource = "c1 control \xc2\x85 here";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.reason = "del\x7f";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.actor.source = "1.2.3.4\n";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.detail = "[1,2]";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.detail = "{\"a\":";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.detail = "{\"a\":1,\"a\":2}";
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev = ok; ev.outcome = (enum audit_outcome)7;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	memset(big, 'a', sizeof big - 1);
	ev = ok; ev.resource = big;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	/* Multi-byte UTF-8 is fine. */
	ev = ok; ev.resource = "collections/pati\xc3\xa9nts";
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	audit_prepared_clear(&p);
}

/* A row read back from the store carries its column lengths: a NUL and
 * text after it are part of the hashed bytes, not cut off by strlen. */
static void test_exact_lengths_hashed(void **state)
{
	static const char res_nul[] = "collections/patients/records/rec_1\0allowed";
	struct store_audit_row r = golden_row(), n = golden_row();
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	char ha[65], hb[65];
	const char *f[STORE_AUDIT_TEXT_COLS] = { r.time, r.actor, r.action, r.resource,
		r.purpose_of_use, r.outcome, r.reason, r.detail, r.prev_hash, GOLDEN_HASH };

	(void)state;
	/* exact lengths of clean text: the same bytes and hash as strlen (v1 unchanged) */
	n.has_len = true;
	for (int i = 0; i < STORE_AUDIT_TEXT_COLS; i++)
		n.len[i] = strlen(f[i]);
	assert_int_equal(audit_chain_hash(&n, hb), PV_OK);
	assert_string_equal(hb, GOLDEN_HASH);

	n.resource = res_nul;
	n.len[3] = sizeof res_nul - 1;
	assert_int_equal(audit_canonical(&r, &a, &alen), PV_OK);
	assert_int_equal(audit_canonical(&n, &b, &blen), PV_OK);
	assert_int_equal(blen, alen + 8);
	assert_int_equal(audit_chain_hash(&r, ha), PV_OK);
	assert_int_equal(audit_chain_hash(&n, hb), PV_OK);
	assert_string_not_equal(ha, hb);
	free(a);
	free(b);
	/* a prev_hash column longer than its 64 digits is refused */
	n = golden_row();
	n.has_len = true;
	for (int i = 0; i < STORE_AUDIT_TEXT_COLS; i++)
		n.len[i] = strlen(f[i]);
	n.len[8] = 66;
	assert_int_equal(audit_chain_hash(&n, hb), PV_E_INVALID);
}

static void test_fingerprint_and_pem(void **state)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], back[CRYPTO_ED25519_PUB_LEN], digest[32];
	struct pv_secret *priv = NULL;
	char fp[AUDIT_FINGERPRINT_LEN + 1], hex[65], *pem = NULL, bad[512];

	(void)state;
	assert_int_equal(crypto_ed25519_keygen(pub, &priv), PV_OK);
	crypto_secret_free(priv);
	assert_int_equal(audit_key_fingerprint(pub, fp), PV_OK);
	assert_int_equal(crypto_sha256(pub, sizeof pub, digest), PV_OK);
	util_hex_encode(digest, sizeof digest, hex);
	assert_int_equal(strlen(fp), AUDIT_FINGERPRINT_LEN);
	assert_memory_equal(fp, "SHA256:", 7);
	assert_string_equal(fp + 7, hex);

	/* the PEM that GET /v1/audit/public-key serves parses back to the key */
	assert_int_equal(crypto_ed25519_pub_pem(pub, &pem), PV_OK);
	assert_int_equal(audit_public_key_from_pem(pem, strlen(pem), back), PV_OK);
	assert_memory_equal(back, pub, sizeof pub);
	/* anything else is refused */
	assert_int_equal(audit_public_key_from_pem("", 0, back), PV_E_INVALID);
	assert_int_equal(audit_public_key_from_pem(pem, strlen(pem) - 30, back), PV_E_INVALID);
	snprintf(bad, sizeof bad, "%s", pem);
	bad[40] = bad[40] == 'A' ? 'B' : 'A';    /* inside the DER prefix */
	assert_int_equal(audit_public_key_from_pem(bad, strlen(bad), back), PV_E_INVALID);
	snprintf(bad, sizeof bad, "%sjunk\n", pem);
	assert_int_equal(audit_public_key_from_pem(bad, strlen(bad), back), PV_E_INVALID);
	free(pem);
}

static void test_head_parse(void **state)
{
	int64_t seq = -1;
	char h[65], in[200];

	(void)state;
	snprintf(in, sizeof in, "42:%s", GOLDEN_HASH);
	assert_int_equal(audit_head_parse(in, &seq, h), PV_OK);
	assert_int_equal(seq, 42);
	assert_string_equal(h, GOLDEN_HASH);
	snprintf(in, sizeof in, "0:%s", GOLDEN_HASH);
	assert_int_equal(audit_head_parse(in, &seq, h), PV_E_INVALID);
	snprintf(in, sizeof in, "-1:%s", GOLDEN_HASH);
	assert_int_equal(audit_head_parse(in, &seq, h), PV_E_INVALID);
	snprintf(in, sizeof in, ":%s", GOLDEN_HASH);
	assert_int_equal(audit_head_parse(in, &seq, h), PV_E_INVALID);
	snprintf(in, sizeof in, "4:%.63s", GOLDEN_HASH);
	assert_int_equal(audit_head_parse(in, &seq, h), PV_E_INVALID);
	snprintf(in, sizeof in, "4:%sa", GOLDEN_HASH);
	assert_int_equal(audit_head_parse(in, &seq, h), PV_E_INVALID);
	snprintf(in, sizeof in, "99999999999999999999:%s", GOLDEN_HASH);
	assert_int_equal(audit_head_parse(in, &seq, h), PV_E_INVALID);
	assert_int_equal(seq, 42);   /* untouched on failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_layout),
		cmocka_unit_test(test_hash_golden),
		cmocka_unit_test(test_each_field_changes_hash),
		cmocka_unit_test(test_field_boundary_unambiguous),
		cmocka_unit_test(test_bad_prev_hash_refused),
		cmocka_unit_test(test_checkpoint_message),
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test(test_prepare_actor_and_detail),
		cmocka_unit_test(test_prepare_refuses_bad_input),
		cmocka_unit_test(test_exact_lengths_hashed),
		cmocka_unit_test(test_fingerprint_and_pem),
		cmocka_unit_test(test_head_parse),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
