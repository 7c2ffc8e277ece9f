/*
 * audit_prepare, byte for byte: the stored text of an entry's actor and
 * detail for a known event with every optional member set (how and when the
 * actor authenticated, elevations, a break-glass grant, subject refs given
 * unsorted and twice, an outside recipient, a detail with nested values,
 * escapes and non-ASCII text), and the chain hash of the row they make.
 * The expected texts were taken from audit_prepare as it was before the
 * read path stopped parsing and re-dumping the detail (docs/performance.md,
 * "The audited read's CPU"), and the hash recomputed from them with Python's
 * hashlib over the layout of docs/internals/audit.md: the chain's hash
 * covers these bytes, so a change in them would break every trail since.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "crypto/crypto.h"

#define PREV "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define REF_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define REF_B "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* the detail as a caller writes it: unsorted keys, spaces, escapes */
#define DETAIL_TEXT "{ \"unmasked\": [\"ssn\", \"name\"], \"fields\": [\"dob\", \"name\", " \
	"\"ssn\", \"_labels\"], \"n\": -12, \"ok\": true, \"none\": null, " \
	"\"nested\": {\"z\": [1, {\"b\": \"x\\\"y\\\\z\\/w\"}], \"a\": \"caf\\u00e9 \xe2\x82\xac\"} }"

#define ACTOR_BYTES "{\"auth\":\"password+totp\",\"auth_time\":\"2026-01-02T03:04:05.678Z\"," \
	"\"break_glass\":\"bg_1\",\"elevations\":[\"jit_2\",\"jit_1\"],\"session_id\":\"ses_1\"," \
	"\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\"}"
#define DETAIL_BYTES "{\"fields\":[\"dob\",\"name\",\"ssn\",\"_labels\"],\"n\":-12," \
	"\"nested\":{\"a\":\"caf\xc3\xa9 \xe2\x82\xac\",\"z\":[1,{\"b\":\"x\\\"y\\\\z/w\"}]}," \
	"\"none\":null,\"ok\":true,\"recipient\":\"Acme Insurance\"," \
	"\"subjects\":[\"" REF_B "\",\"" REF_A "\"],\"unmasked\":[\"ssn\",\"name\"]}"
#define GOLDEN_HASH "a404ce7b96eb45767f3ef228d2b5d6aa145326d08e40878ee94de650da9e669b"

static const char *const REFS[] = { REF_A, REF_B, REF_A };

static struct audit_event full_event(void)
{
	struct audit_event ev = {
		.actor = {
			.user_id = "usr_a",
			.session_id = "ses_1",
			.source = "10.0.0.1",
			.auth_method = "password+totp",
			.auth_ms = 1767323045678,   /* 2026-01-02T03:04:05.678Z */
			.elevations = { "jit_2", "jit_1" },
			.nelevations = 2,
			.break_glass = "bg_1",
		},
		.action = "record.read",
		.resource = "collections/patients/records/rec_1",
		.purpose_of_use = "TREAT",
		.outcome = AUDIT_ALLOWED,
		.detail = DETAIL_TEXT,
		.subjects = REFS,
		.nsubjects = 3,
		.recipient = "Acme Insurance",
	};
	return ev;
}

static void row_hash(const struct audit_prepared *p, char out[65])
{
	struct store_audit_row r = {
		.seq = 7,
		.time = "2026-01-02T03:04:06.000Z",
		.actor = p->actor,
		.action = p->action,
		.resource = p->resource,
		.purpose_of_use = p->purpose_of_use,
		.outcome = p->outcome,
		.reason = p->reason,
		.detail = p->detail,
		.prev_hash = PREV,
	};

	assert_int_equal(audit_chain_hash(&r, out), PV_OK);
}

static void test_full_event_bytes(void **state)
{
	struct audit_event ev = full_event();
	struct audit_prepared p;
	char h[65];

	(void)state;
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	assert_string_equal(p.actor, ACTOR_BYTES);
	assert_string_equal(p.detail, DETAIL_BYTES);
	assert_int_equal(p.nsubjects, 2);
	assert_string_equal(p.subjects[0], REF_B);
	assert_string_equal(p.subjects[1], REF_A);
	row_hash(&p, h);
	assert_string_equal(h, GOLDEN_HASH);
	audit_prepared_clear(&p);
}

/* The detail given as a tree: the same bytes and hash as its text, and the
 * caller's tree as it was (borrowed, never changed). */
static void test_tree_same_bytes(void **state)
{
	struct audit_event ev = full_event();
	struct audit_prepared p;
	json_t *d = json_loads(DETAIL_TEXT, 0, NULL);
	char *before, *after, h[65];

	(void)state;
	assert_non_null(d);
	before = json_dumps(d, JSON_COMPACT);
	ev.detail = NULL;
	ev.detail_obj = d;
	/* subjects and a recipient to add: they go into a copy */
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	assert_string_equal(p.actor, ACTOR_BYTES);
	assert_string_equal(p.detail, DETAIL_BYTES);
	row_hash(&p, h);
	assert_string_equal(h, GOLDEN_HASH);
	audit_prepared_clear(&p);
	after = json_dumps(d, JSON_COMPACT);
	assert_string_equal(after, before);
	free(after);
	/* nothing to add: the tree itself is dumped */
	ev.subjects = NULL;
	ev.nsubjects = 0;
	ev.recipient = NULL;
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	assert_string_equal(p.detail, "{\"fields\":[\"dob\",\"name\",\"ssn\",\"_labels\"],"
	    "\"n\":-12,\"nested\":{\"a\":\"caf\xc3\xa9 \xe2\x82\xac\",\"z\":[1,{\"b\":"
	    "\"x\\\"y\\\\z/w\"}]},\"none\":null,\"ok\":true,\"unmasked\":[\"ssn\",\"name\"]}");
	audit_prepared_clear(&p);
	after = json_dumps(d, JSON_COMPACT);
	assert_string_equal(after, before);
	assert_int_equal(d->refcount, 1);
	free(after);
	free(before);
	json_decref(d);
}

/* Text and tree agree beyond the stack buffer the text is dumped into
 * (a detail of ~4 KiB) and on reals; both equal json_dumps. */
static void test_long_detail_and_reals(void **state)
{
	struct audit_event ev = full_event();
	struct audit_prepared a, b;
	json_t *d = json_pack("{s:f, s:f, s:[]}", "ratio", 0.1, "big", 1e300, "names");
	char *text, *want, name[32];

	(void)state;
	assert_non_null(d);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "field_%03d", i);
		assert_int_equal(json_array_append_new(json_object_get(d, "names"),
		    json_string(name)), 0);
	}
	text = json_dumps(d, JSON_INDENT(2));
	ev.subjects = NULL;
	ev.nsubjects = 0;
	ev.recipient = NULL;
	ev.detail = text;
	assert_int_equal(audit_prepare(&ev, &a), PV_OK);
	ev.detail = NULL;
	ev.detail_obj = d;
	assert_int_equal(audit_prepare(&ev, &b), PV_OK);
	want = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	assert_true(strlen(want) > 1024);   /* dumped a second time, at its size */
	assert_string_equal(a.detail, want);
	assert_string_equal(b.detail, want);
	audit_prepared_clear(&a);
	audit_prepared_clear(&b);
	free(want);
	free(text);
	json_decref(d);
}

static void test_tree_refusals(void **state)
{
	struct audit_event ev = full_event();
	struct audit_prepared p;
	json_t *arr = json_array(), *sub = json_pack("{s:[]}", "subjects");
	json_t *rcp = json_pack("{s:s}", "recipient", "x"), *big = json_object();
	static char s[AUDIT_DETAIL_MAX];

	(void)state;
	memset(s, 'a', sizeof s - 1);
	assert_int_equal(json_object_set_new(big, "s", json_string(s)), 0);
	/* text and tree both: which would be stored? */
	ev.detail_obj = sub;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev.detail = NULL;
	ev.detail_obj = arr;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	/* the writer's own members, with and without refs to add */
	ev.detail_obj = sub;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev.detail_obj = rcp;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev.nsubjects = 0;
	ev.recipient = NULL;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	ev.detail_obj = sub;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	/* longer than AUDIT_DETAIL_MAX once written */
	ev.detail_obj = big;
	assert_int_equal(audit_prepare(&ev, &p), PV_E_INVALID);
	json_decref(arr);
	json_decref(sub);
	json_decref(rcp);
	json_decref(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_event_bytes),
		cmocka_unit_test(test_tree_same_bytes),
		cmocka_unit_test(test_long_detail_and_reals),
		cmocka_unit_test(test_tree_refusals),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
