/*
 * Key administration operations (ops_keys.c) with no HTTP: the census
 * against a full scan after a random mix of creates, patches, shreds,
 * rotations and re-encryptions; the re-encryption step is idempotent (a
 * step run again from an old cursor, as after kill -9, changes nothing);
 * retire and revoke refuse what they must and change nothing then.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "jobs/jobs.h"
#include "ops_fixture.h"

static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const KEYADMIN[] = { "key_admin", NULL };
#define KEK "collection:patients"
#define NREC_MAX 128

struct scan_ids {
	char (*id)[UTIL_ID_MAX];
	size_t n;
};

static int scan_cb(const char *id, void *arg)
{
	struct scan_ids *s = arg;

	snprintf(s->id[s->n++], UTIL_ID_MAX, "%s", id);
	return s->n >= NREC_MAX ? 1 : 0;
}

/* Live records under each version by reading every row (the slow truth). */
static void full_scan(struct vf *f, int64_t *per_version, size_t nver)
{
	char ids[NREC_MAX][UTIL_ID_MAX];
	struct scan_ids s = { ids, 0 };

	memset(per_version, 0, nver * sizeof(*per_version));
	assert_int_equal(TX_RD(f->st, store_record_scan(tx, "patients", "", 0, scan_cb, &s)),
	    PV_OK);
	for (size_t i = 0; i < s.n; i++) {
		struct store_record r;

		memset(&r, 0, sizeof(r));
		assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", ids[i], &r)), PV_OK);
		if (r.deleted_ms == 0 && r.wrapped_dek != NULL) {
			assert_true(r.kek_version < nver);
			per_version[r.kek_version]++;
		}
		store_record_clear(&r);
	}
}

static int64_t census(struct vf *f, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(f->st, store_kek_census(tx, KEK, v, &n)), PV_OK);
	return n;
}

static void create(struct vf *f, struct op_caller *c, int i, char id[UTIL_ID_MAX])
{
	char body[256];
	json_t *rec;
	struct answer w;

	snprintf(body, sizeof(body), "{\"name\":\"Census Person %d\",\"visits\":%d}", i, i);
	rec = json_loads(body, 0, NULL);
	answer_init(&w);
	vault_record_create(f->v, &c->who, "patients", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(id, UTIL_ID_MAX, "%s", json_string_value(json_object_get(w.body, "id")));
	answer_free(&w);
	json_decref(rec);
}

static uint32_t latest(struct vf *f)
{
	struct store_kek k;
	uint32_t v;

	memset(&k, 0, sizeof(k));
	assert_int_equal(TX_RD(f->st, store_kek_latest(tx, KEK, &k)), PV_OK);
	v = k.version;
	store_kek_clear(&k);
	return v;
}

static void test_census_matches_full_scan(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	char ids[NREC_MAX][UTIL_ID_MAX];
	bool live[NREC_MAX];
	int64_t truth[16];
	size_t n = 0;
	unsigned seed = 20261201;

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	for (int step = 0; step < 400; step++) {
		int op = (int)(rand_r(&seed) % 100);
		size_t k = n > 0 ? rand_r(&seed) % n : 0;
		struct answer w;

		if (n == 0 || (op < 35 && n < NREC_MAX)) {
			create(f, &clin, step, ids[n]);
			live[n++] = true;
		} else if (op < 60) {
			json_t *patch = json_pack("{s:i}", "visits", step);

			answer_init(&w);
			vault_record_update(f->v, &clin.who, "patients", ids[k], NULL, patch, on_done,
			    &w);
			answer_wait(&w);
			assert_int_equal(w.rc, live[k] ? PV_OK : PV_E_NOTFOUND);
			answer_free(&w);
			json_decref(patch);
		} else if (op < 72) {
			answer_init(&w);
			vault_record_shred(f->v, &clin.who, "patients", ids[k], on_done, &w);
			answer_wait(&w);
			assert_int_equal(w.rc, live[k] ? PV_OK : PV_E_NOTFOUND);
			answer_free(&w);
			live[k] = false;
		} else if (op < 76 && latest(f) < 15) {
			uint32_t nv;

			assert_int_equal(keys_kek_rotate(f->keys, KEK, &nv), PV_OK);
		} else {
			bool moved = false;
			uint32_t to = latest(f);

			assert_int_equal(TX_WR(f->st, vault_reencrypt_record(f->v, tx, "patients",
			    ids[k], to, op % 2 == 0, &moved)), PV_OK);
		}
		if (step % 50 == 49 || step == 399) {
			full_scan(f, truth, 16);
			for (uint32_t v = 1; v < 16; v++)
				assert_int_equal(census(f, v), truth[v]);
		}
	}
	/* the mix did rotate and move records between versions */
	assert_true(latest(f) >= 3);
	caller_free(&clin);
}

/* One step as the runner runs it: prepare in a read transaction (plan
 * NULL: the walk has no prepare phase), then the step applying the plan;
 * between (optional) runs in between. prepared false: the step alone (no
 * plan, it does all the work in its transaction). */
static void run_step_x(struct vf *f, const char *params, const char *cursor, bool prepared,
    void (*between)(struct vf *f), struct jobs_step_out *out)
{
	struct jobs_step_ctx ctx;
	void *plan = NULL;

	memset(&ctx, 0, sizeof(ctx));
	memset(out, 0, sizeof(*out));
	snprintf(out->cursor, sizeof(out->cursor), "%s", cursor);
	ctx.job_id = "job_test";
	ctx.params = params;
	if (prepared)
		assert_int_equal(TX_RD(f->st, (ctx.tx = tx, vault_keys_kind_prepare(f->v, &ctx,
		    cursor, &plan))), PV_OK);
	if (between != NULL)
		between(f);
	ctx.plan = plan;
	assert_int_equal(TX_WR(f->st, (ctx.tx = tx, vault_keys_kind_step(f->v, &ctx, cursor, out))),
	    PV_OK);
	vault_keys_plan_free(plan);
}

static void run_step(struct vf *f, const char *params, const char *cursor,
    struct jobs_step_out *out)
{
	run_step_x(f, params, cursor, true, NULL, out);
}

static void snapshot(struct vf *f, char ids[][UTIL_ID_MAX], size_t n, uint8_t (*wd)[64],
    uint32_t *kv)
{
	for (size_t i = 0; i < n; i++) {
		struct store_record r;

		memset(&r, 0, sizeof(r));
		assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", ids[i], &r)), PV_OK);
		assert_true(r.wrapped_dek_len <= 64);
		memset(wd[i], 0, 64);
		memcpy(wd[i], r.wrapped_dek, r.wrapped_dek_len);
		kv[i] = r.kek_version;
		store_record_clear(&r);
	}
}

/* Two cursors "<pass>|<last>|<window>|<n>" at the same pass and record. */
static bool same_last(const char *a, const char *b)
{
	const char *ea = strchr(a, '|'), *eb = strchr(b, '|');

	ea = ea != NULL ? strchr(ea + 1, '|') : NULL;
	eb = eb != NULL ? strchr(eb + 1, '|') : NULL;
	return ea != NULL && eb != NULL && ea - a == eb - b && strncmp(a, b, (size_t)(ea - a)) == 0;
}

static void test_step_idempotent(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	char ids[12][UTIL_ID_MAX], params[256];
	uint8_t before[12][64], after[12][64];
	uint32_t kv[12], kv2[12], nv;
	struct jobs_step_out o1, o2, o3;
	char c1[JOBS_CURSOR_MAX];

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	for (int i = 0; i < 12; i++)
		create(f, &clin, i, ids[i]);
	assert_int_equal(keys_kek_rotate(f->keys, KEK, &nv), PV_OK);
	assert_int_equal(nv, 2);
	snprintf(params, sizeof(params), "{\"key\":\"" KEK "\",\"collection\":\"patients\","
	    "\"mode\":\"rewrap_dek\",\"max_rps\":1000,\"to_version\":2}");
	/* paced: max_rps 1000 is 10 records a step (max_rps / 100); two steps
	 * move all 12 and finish */
	run_step(f, params, "", &o1);
	assert_int_equal(o1.done, 10);
	assert_false(o1.finished);
	assert_int_equal(census(f, 1), 2);
	snprintf(c1, sizeof(c1), "%s", o1.cursor);
	run_step(f, params, c1, &o3);
	assert_int_equal(o3.done, 2);
	assert_true(o3.finished);
	assert_int_equal(census(f, 1), 0);
	assert_int_equal(census(f, 2), 12);
	snapshot(f, ids, 12, before, kv);
	for (int i = 0; i < 12; i++)
		assert_int_equal(kv[i], 2);
	/* the same steps again from the old cursors (their commits lost), once
	 * prepared and applied, once done in the step alone: nothing moves, no
	 * DEK is wrapped again, the census stays */
	for (int prepared = 0; prepared < 2; prepared++) {
		run_step_x(f, params, "", prepared != 0, NULL, &o2);
		assert_int_equal(o2.done, 0);
		assert_false(o2.finished);
		assert_true(same_last(o2.cursor, c1));   /* the same records, in order */
		run_step_x(f, params, c1, prepared != 0, NULL, &o2);
		assert_int_equal(o2.done, 0);
		assert_true(o2.finished);
		snapshot(f, ids, 12, after, kv2);
		assert_memory_equal(before, after, sizeof(before));
		assert_int_equal(census(f, 2), 12);
	}
	/* full mode on an older version, max_rps 5: one record a step, five
	 * steps fill the second's window */
	assert_int_equal(keys_kek_rotate(f->keys, KEK, &nv), PV_OK);
	snprintf(params, sizeof(params), "{\"key\":\"" KEK "\",\"collection\":\"patients\","
	    "\"mode\":\"full\",\"max_rps\":5,\"to_version\":3}");
	c1[0] = '\0';
	/* the clock held still: a slow run must not make a step catch up */
	util_clock_set_fixed(util_now_ms());
	for (int i = 0; i < 5; i++) {
		run_step(f, params, c1, &o3);
		assert_int_equal(o3.done, 1);
		assert_false(o3.finished);
		snprintf(c1, sizeof(c1), "%s", o3.cursor);
	}
	/* a full window: the next step does nothing, whatever the records */
	run_step(f, params, o3.cursor, &o2);
	assert_int_equal(o2.done, 0);
	assert_string_equal(o2.cursor, o3.cursor);
	assert_int_equal(census(f, 3), 5);
	assert_int_equal(census(f, 2), 7);
	/* the next second: one record a step again; a step that runs late
	 * catches up to what the window's time allows (610 ms in: 3 due, 1
	 * done, so 2), never past max_rps (995 ms in: 5 due, 2 left) */
	util_clock_advance(1000);
	run_step(f, params, o2.cursor, &o3);
	assert_int_equal(o3.done, 1);
	util_clock_advance(600);
	run_step(f, params, o3.cursor, &o2);
	assert_int_equal(o2.done, 2);
	util_clock_advance(395);
	run_step(f, params, o2.cursor, &o3);
	assert_int_equal(o3.done, 2);
	run_step(f, params, o3.cursor, &o2);
	assert_int_equal(o2.done, 0);    /* the window is full */
	util_clock_reset();
	assert_int_equal(census(f, 3), 10);
	assert_int_equal(census(f, 2), 2);
	/* every record still opens with its fields */
	for (int i = 0; i < 12; i++) {
		struct answer w;

		answer_init(&w);
		vault_record_read(f->v, &clin.who, "patients", ids[i], on_done, &w);
		answer_wait(&w);
		assert_int_equal(w.rc, PV_OK);
		assert_non_null(strstr(field(&w, "name"), "Census Person"));
		answer_free(&w);
	}
	caller_free(&clin);
}

/* A record PATCHed between a step's prepare and its apply: the PATCH
 * (sealed under the active version) stands, the plan's rewrap of the old
 * envelope is not written over it, and every other record moves. */
static struct op_caller *patch_who;
static const char *patch_id;

static void patch_between(struct vf *f)
{
	json_t *patch = json_pack("{s:s}", "name", "Patched Between");
	struct answer w;

	answer_init(&w);
	vault_record_update(f->v, &patch_who->who, "patients", patch_id, NULL, patch, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	json_decref(patch);
}

static void test_prepare_apply_patched(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	char ids[6][UTIL_ID_MAX], params[256];
	uint32_t nv;
	struct jobs_step_out o;
	struct answer w;

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	for (int i = 0; i < 6; i++)
		create(f, &clin, i, ids[i]);
	assert_int_equal(keys_kek_rotate(f->keys, KEK, &nv), PV_OK);
	snprintf(params, sizeof(params), "{\"key\":\"" KEK "\",\"collection\":\"patients\","
	    "\"mode\":\"rewrap_dek\",\"max_rps\":1000000,\"to_version\":2}");
	patch_who = &clin;
	patch_id = ids[3];
	run_step_x(f, params, "", true, patch_between, &o);
	assert_int_equal(o.done, 5);          /* the patched one was skipped */
	assert_true(o.finished);
	assert_int_equal(census(f, 1), 0);
	assert_int_equal(census(f, 2), 6);
	for (int i = 0; i < 6; i++) {
		answer_init(&w);
		vault_record_read(f->v, &clin.who, "patients", ids[i], on_done, &w);
		answer_wait(&w);
		assert_int_equal(w.rc, PV_OK);
		if (i == 3)
			assert_string_equal(field(&w, "name"), "Patched Between");
		else
			assert_non_null(strstr(field(&w, "name"), "Census Person"));
		answer_free(&w);
	}
	caller_free(&clin);
}

/* The whole walk over NCOST records (PV_TEST_NCOST, up to 2000) at full
 * speed, prepared and applied step by step; PV_TEST_INLINE set: each step
 * alone, as a kind without prepare. Also the callgrind harness of
 * docs/performance.md "Re-encryption" (--toggle-collect=cost_walk, or
 * vault_keys_kind_prepare / vault_keys_kind_step for each phase). */
#define NCOST 100

__attribute__((noinline)) static void cost_walk(struct vf *f, const char *params, bool prepared,
    int64_t *moved)
{
	char cur[JOBS_CURSOR_MAX] = "";
	struct jobs_step_out o;
	int steps = 0;

	do {
		run_step_x(f, params, cur, prepared, NULL, &o);
		*moved += o.done;
		snprintf(cur, sizeof(cur), "%s", o.cursor);
		assert_true(++steps < 50);
	} while (!o.finished);
}

static void test_walk_cost(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	char id[UTIL_ID_MAX], params[256];
	uint32_t nv;
	int64_t moved = 0;
	int n = getenv("PV_TEST_NCOST") != NULL ? atoi(getenv("PV_TEST_NCOST")) : NCOST;

	if (n < 1 || n > 2000)
		n = NCOST;
	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	for (int i = 0; i < n; i++)
		create(f, &clin, i, id);
	assert_int_equal(keys_kek_rotate(f->keys, KEK, &nv), PV_OK);
	snprintf(params, sizeof(params), "{\"key\":\"" KEK "\",\"collection\":\"patients\","
	    "\"mode\":\"rewrap_dek\",\"max_rps\":1000000,\"to_version\":2}");
	cost_walk(f, params, getenv("PV_TEST_INLINE") == NULL, &moved);
	assert_int_equal(moved, n);
	assert_int_equal(census(f, 1), 0);
	assert_int_equal(census(f, 2), n);
	caller_free(&clin);
}

static void test_retire_revoke_refusals(void **state)
{
	struct vf *f = *state;
	struct op_caller clin, kay;
	struct answer w;
	char id[UTIL_ID_MAX];
	json_t *bad = json_loads("{\"confirm\":\"" KEK ":2\"}", 0, NULL);
	json_t *good = json_loads("{\"confirm\":\"" KEK ":1\"}", 0, NULL);
	struct vf_entry e;

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	caller(f, &kay, "usr_kay", KEYADMIN, NULL);
	assert_int_equal(vault_keys_install(f->v, NULL, NULL), PV_OK);
	create(f, &clin, 1, id);
	answer_init(&w);
	vault_key_rotate(f->v->keyadmin, &kay.who, KEK, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "key.rotate");
	/* retire while one record is under v1 */
	answer_init(&w);
	vault_key_retire(f->v->keyadmin, &kay.who, KEK, "1", on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_RETIRED_KEY_IN_USE);
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "key.retire");
	assert_string_equal(e.reason, "retired_key_in_use");
	/* revoke with the confirmation of another version */
	answer_init(&w);
	vault_key_revoke(f->v->keyadmin, &kay.who, KEK, "1", bad, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_INVALID);
	answer_free(&w);
	answer_init(&w);
	vault_record_read(f->v, &clin.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	/* the right one: the record is gone for good, with a clear code */
	answer_init(&w);
	vault_key_revoke(f->v->keyadmin, &kay.who, KEK, "1", good, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	answer_init(&w);
	vault_record_read(f->v, &clin.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_KEY_REVOKED);
	answer_free(&w);
	{
		struct store_kek k;

		memset(&k, 0, sizeof(k));
		assert_int_equal(TX_RD(f->st, store_kek_get(tx, KEK, 1, &k)), PV_OK);
		assert_int_equal(k.state, STORE_KEK_REVOKED);
		assert_int_equal(k.wrapped_len, 0);   /* the material is gone from the store */
		store_kek_clear(&k);
	}
	json_decref(bad);
	json_decref(good);
	caller_free(&clin);
	caller_free(&kay);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_census_matches_full_scan, vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_step_idempotent, vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_prepare_apply_patched, vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_walk_cost, vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_retire_revoke_refusals, vf_setup, vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
