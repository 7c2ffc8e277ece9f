/*
 * The census triggers (census_record_keys_*, migration 31) under a
 * re-encryption step and record creates, on SQLite: the census is exact
 * after a step of conditional rewraps (records already moved, shredded or
 * at another version skipped), after creates and after shreds.
 *
 * Also the callgrind harness for what the triggers cost (figures in
 * docs/internals/store.md "Records and their keys"):
 *   PV_TEST_NREC=2000 valgrind --tool=callgrind --toggle-collect=cost_rewrap_step \
 *       ./unit_store_test_census_cost
 *   ... --toggle-collect=cost_creates
 * with PV_TEST_CENSUS_TRIGGERS=off the harness drops the two triggers
 * before measuring (and asserts nothing about the census then): the
 * difference of the two runs is the triggers' share. cost_rewrap_step is
 * one step's transaction as the job's apply writes it (2,000 store_record_rewrap
 * in ID order, commit); cost_creates 200 store_record_put in one transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_test.h"
#include "tx_helpers.h"

#define KEK "collection:patients"

/* a measured function keeps its name (callgrind --toggle-collect): no
 * inlining, and no GCC clone (cost_rewrap_step.constprop.0) */
#if defined(__clang__)
#define COST_FN __attribute__((noinline))
#else
#define COST_FN __attribute__((noinline, noclone))
#endif
#define NCREATE 200

static size_t nrec = 2000;
static bool triggers = true;
static char (*ids)[STORE_ID_MAX];

static void rec_fill(struct store_record *r, const char *id, uint32_t kv, uint8_t *dek,
    uint8_t *ct)
{
	memset(r, 0, sizeof(*r));
	util_strlcpy(r->id, id, sizeof(r->id));
	util_strlcpy(r->collection, "patients", sizeof(r->collection));
	util_strlcpy(r->kek_name, KEK, sizeof(r->kek_name));
	r->version = 1;
	r->kek_version = kv;
	r->wrapped_dek = dek;
	r->wrapped_dek_len = 60;
	r->ciphertext = ct;
	r->ciphertext_len = 1024;
	r->created_ms = 1000;
	r->updated_ms = 1000;
}

static int64_t census(struct store *st, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(st, store_kek_census(tx, KEK, v, &n)), PV_OK);
	return n;
}

/* One re-encryption step's writes: every record to v2 if still at v1. */
static inline __attribute__((always_inline)) enum pv_rc rewrap_all(struct store *st,
    size_t *moved)
{
	uint8_t dek[60];
	struct store_tx *tx = NULL;
	struct store_record r;
	enum pv_rc rc;

	memset(dek, 0xd2, sizeof(dek));
	*moved = 0;
	if ((rc = store_begin(st, STORE_WR, &tx)) != PV_OK)
		return rc;
	for (size_t i = 0; i < nrec && rc == PV_OK; i++) {
		rec_fill(&r, ids[i], 2, dek, NULL);
		r.ciphertext_len = 0;
		rc = store_record_rewrap(tx, &r, 1);
		if (rc == PV_OK)
			(*moved)++;
		else if (rc == PV_E_CONFLICT)
			rc = PV_OK;
	}
	if (rc == PV_OK)
		rc = store_commit(tx);
	store_end(tx);
	return rc;
}

/* the measured step (callgrind --toggle-collect), and the same once more */
COST_FN static enum pv_rc cost_rewrap_step(struct store *st, size_t *moved)
{
	return rewrap_all(st, moved);
}

/* (another body than cost_rewrap_step's, so that no pass merges the two) */
COST_FN static enum pv_rc rewrap_again(struct store *st, size_t *moved)
{
	enum pv_rc rc = rewrap_all(st, moved);

	return rc == PV_OK && *moved != 0 ? PV_E_INTERNAL : rc;
}

COST_FN static enum pv_rc cost_creates(struct store *st)
{
	static uint8_t dek[60], ct[1024];
	struct store_tx *tx = NULL;
	struct store_record r;
	char id[STORE_ID_MAX];
	enum pv_rc rc;

	if ((rc = store_begin(st, STORE_WR, &tx)) != PV_OK)
		return rc;
	for (size_t i = 0; i < NCREATE && rc == PV_OK; i++) {
		snprintf(id, sizeof(id), "new_%05zu", i);
		rec_fill(&r, id, 2, dek, ct);
		rc = store_record_put(tx, &r);
	}
	if (rc == PV_OK)
		rc = store_commit(tx);
	store_end(tx);
	return rc;
}

static void drop_triggers(const char *dir)
{
	char path[4096];
	sqlite3 *db = NULL;

	st_path(path, sizeof(path), dir, "phivault.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER census_record_keys_ins;"
	    "DROP TRIGGER census_record_keys_upd", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_census_exact_under_steps(void **state)
{
	static uint8_t dek[60], ct[1024];
	char *dir = st_tmpdir();
	struct store *st = NULL;
	struct store_collection c;
	struct store_record r;
	size_t moved = 0;

	(void)state;
	assert_non_null(dir);
	assert_non_null(ids = calloc(nrec, sizeof(*ids)));
	assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	memset(&c, 0, sizeof(c));
	util_strlcpy(c.name, "patients", sizeof(c.name));
	c.schema = (char *)"{\"fields\":[]}";
	util_strlcpy(c.region, "local", sizeof(c.region));
	util_strlcpy(c.kek_name, KEK, sizeof(c.kek_name));
	c.created_ms = 1;
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
	/* IDs in random-looking order, as util IDs are */
	for (size_t i = 0; i < nrec; i++)
		snprintf(ids[i], sizeof(ids[i]), "rec_%08x", (unsigned)((i * 2654435761u) ^ 0x5bd1e995u));
	for (size_t b = 0; b < nrec; b += 500)
		assert_int_equal(TX_WR(st, ({
			enum pv_rc rc_ = PV_OK;

			for (size_t i = b; i < b + 500 && i < nrec && rc_ == PV_OK; i++) {
				rec_fill(&r, ids[i], 1, dek, ct);
				rc_ = store_record_put(tx, &r);
			}
			rc_;
		})), PV_OK);
	if (triggers) {
		assert_int_equal(census(st, 1), (int64_t)nrec);
		/* a record shredded and one already moved: the step skips both */
		assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", ids[1], 5)), PV_OK);
		rec_fill(&r, ids[2], 2, dek, NULL);
		assert_int_equal(TX_WR(st, store_record_rewrap(tx, &r, 1)), PV_OK);
		assert_int_equal(census(st, 1), (int64_t)nrec - 2);
		assert_int_equal(census(st, 2), 1);
	} else {
		store_close(st);
		drop_triggers(dir);
		assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	}
	assert_int_equal(cost_rewrap_step(st, &moved), PV_OK);
	assert_int_equal(cost_creates(st), PV_OK);
	if (triggers) {
		assert_int_equal(moved, nrec - 2);
		assert_int_equal(census(st, 1), 0);
		assert_int_equal(census(st, 2), (int64_t)nrec - 1 + NCREATE);
		/* the same step again moves nothing and changes no count */
		assert_int_equal(rewrap_again(st, &moved), PV_OK);
		assert_int_equal(moved, 0);
		assert_int_equal(census(st, 2), (int64_t)nrec - 1 + NCREATE);
		assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", ids[0], 6)), PV_OK);
		assert_int_equal(census(st, 2), (int64_t)nrec - 2 + NCREATE);
	}
	store_close(st);
	free(ids);
	st_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_census_exact_under_steps),
	};
	const char *n = getenv("PV_TEST_NREC"), *t = getenv("PV_TEST_CENSUS_TRIGGERS");

	if (n != NULL && atoi(n) >= 10)
		nrec = (size_t)atoi(n);
	if (t != NULL && strcmp(t, "off") == 0)
		triggers = false;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
