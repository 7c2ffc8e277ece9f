/*
 * Store ops of the vault (migration 3): collections, records with optimistic
 * versions and crypto-shredding, the blind index, tokens. What a caller or
 * an operator reading the file can observe: results, error codes, and that
 * a shredded record's DEK and ciphertext are gone from the database file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_sqlite.h"
#include "store/store_test.h"
#include "tx_helpers.h"

static void put_collection(struct store *st, const char *name)
{
	struct store_collection c;
	char schema[] = "{\"name\":\"x\",\"fields\":[]}";

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.schema = schema;
	snprintf(c.region, sizeof(c.region), "local");
	c.retention_days = 2190;
	c.created_ms = 1000;
	snprintf(c.kek_name, sizeof(c.kek_name), "collection:%s", name);
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
}

/* A record envelope with recognisable bytes (fill) in DEK and ciphertext. */
static void make_record(struct store_record *r, const char *coll, const char *id,
    uint32_t version, uint8_t fill, size_t ctlen)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->collection, sizeof(r->collection), "%s", coll);
	r->version = version;
	snprintf(r->kek_name, sizeof(r->kek_name), "collection:%s", coll);
	r->kek_version = 1;
	r->wrapped_dek = malloc(60);
	r->ciphertext = malloc(ctlen);
	assert_non_null(r->wrapped_dek);
	assert_non_null(r->ciphertext);
	for (size_t i = 0; i < 60; i++)
		r->wrapped_dek[i] = (uint8_t)(fill ^ (i * 7));
	for (size_t i = 0; i < ctlen; i++)
		r->ciphertext[i] = (uint8_t)(fill + i * 13);
	r->wrapped_dek_len = 60;
	r->ciphertext_len = ctlen;
	r->created_ms = 5000;
	r->updated_ms = 5000;
}

static void test_collections(void **state)
{
	struct st_fx *f = *state;
	struct store_collection c;
	char schema[] = "{}";

	/* the vault migration (3) is applied; later migrations may follow */
	assert_true(store_schema_version(f->st) >= 3);
	put_collection(f->st, "patients");
	put_collection(f->st, "claims");

	memset(&c, 0, sizeof(c));
	assert_int_equal(TX_RD(f->st, store_collection_get(tx, "patients", &c)), PV_OK);
	assert_string_equal(c.name, "patients");
	assert_string_equal(c.region, "local");
	assert_string_equal(c.kek_name, "collection:patients");
	assert_int_equal(c.retention_days, 2190);
	assert_string_equal(c.schema, "{\"name\":\"x\",\"fields\":[]}");
	store_collection_clear(&c);

	assert_int_equal(TX_RD(f->st, store_collection_get(tx, "nope", &c)), PV_E_NOTFOUND);

	/* a name is taken once */
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "patients");
	c.schema = schema;
	snprintf(c.region, sizeof(c.region), "eu");
	snprintf(c.kek_name, sizeof(c.kek_name), "collection:patients");
	assert_int_equal(TX_WR(f->st, store_collection_put(tx, &c)), PV_E_CONFLICT);
	c.schema = NULL;
	assert_int_equal(TX_WR(f->st, store_collection_put(tx, &c)), PV_E_INVALID);
}

static int list_cb(const struct store_collection *c, void *arg)
{
	char *names = arg;

	strcat(names, c->name);
	strcat(names, ",");
	return 0;
}

static void test_collection_list_sorted(void **state)
{
	struct st_fx *f = *state;
	char names[256] = "";

	put_collection(f->st, "zeta");
	put_collection(f->st, "alpha");
	put_collection(f->st, "mid");
	assert_int_equal(TX_RD(f->st, store_collection_list(tx, list_cb, names)), PV_OK);
	assert_string_equal(names, "alpha,mid,zeta,");
}

static void test_record_versions(void **state)
{
	struct st_fx *f = *state;
	struct store_record r, g, u;

	put_collection(f->st, "patients");
	make_record(&r, "patients", "rec_a", 1, 0x11, 100);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_E_CONFLICT);   /* IDs are unique */

	memset(&g, 0, sizeof(g));
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", "rec_a", &g)), PV_OK);
	assert_int_equal(g.version, 1);
	assert_int_equal(g.kek_version, 1);
	assert_string_equal(g.kek_name, "collection:patients");
	assert_int_equal(g.ciphertext_len, 100);
	assert_memory_equal(g.ciphertext, r.ciphertext, 100);
	assert_memory_equal(g.wrapped_dek, r.wrapped_dek, 60);
	assert_int_equal(g.deleted_ms, 0);
	store_record_clear(&g);

	/* the record belongs to its collection */
	put_collection(f->st, "claims");
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "claims", "rec_a", &g)), PV_E_NOTFOUND);

	/* v2 replaces v1 only if v1 is what the writer read */
	make_record(&u, "patients", "rec_a", 2, 0x22, 120);
	u.updated_ms = 6000;
	assert_int_equal(TX_WR(f->st, store_record_update(tx, &u, 1)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_record_update(tx, &u, 2)), PV_E_INVALID);  /* v2 cannot follow v2 */
	store_record_clear(&u);
	make_record(&u, "patients", "rec_a", 2, 0x33, 120);
	/* a second writer that also read v1 loses */
	assert_int_equal(TX_WR(f->st, store_record_update(tx, &u, 1)), PV_E_CONFLICT);
	store_record_clear(&u);
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", "rec_a", &g)), PV_OK);
	assert_int_equal(g.version, 2);
	assert_int_equal(g.ciphertext_len, 120);
	assert_int_equal(g.ciphertext[0], 0x22);
	assert_int_equal(g.created_ms, 5000);
	assert_int_equal(g.updated_ms, 6000);
	store_record_clear(&g);

	make_record(&u, "patients", "rec_missing", 2, 0x33, 10);
	assert_int_equal(TX_WR(f->st, store_record_update(tx, &u, 1)), PV_E_NOTFOUND);
	store_record_clear(&u);
	store_record_clear(&r);
}

static const uint8_t MAC1[STORE_MAC_LEN] = { 1, 2, 3 };
static const uint8_t MAC2[STORE_MAC_LEN] = { 9, 9, 9 };

struct ids {
	char buf[512];
	int n;
};

static int ids_cb(const char *id, void *arg)
{
	struct ids *x = arg;

	strcat(x->buf, id);
	strcat(x->buf, ",");
	x->n++;
	return 0;
}

static void lookup(struct store *st, const char *field, const uint8_t *mac, size_t limit,
    const char *want)
{
	struct ids x;

	memset(&x, 0, sizeof(x));
	assert_int_equal(TX_RD(st, store_bidx_lookup(tx, "patients", field, mac, limit, ids_cb, &x)), PV_OK);
	assert_string_equal(x.buf, want);
}

static void scan(struct store *st, const char *coll, const char *after, size_t limit,
    const char *want)
{
	struct ids x;

	memset(&x, 0, sizeof(x));
	assert_int_equal(TX_RD(st, store_record_scan(tx, coll, after, limit, ids_cb, &x)), PV_OK);
	assert_string_equal(x.buf, want);
}

/* Keyset pagination: ID order, after a cursor, one collection, no shredded rows. */
static void test_record_scan(void **state)
{
	struct st_fx *f = *state;
	struct store_record r;
	const char *ids[] = { "rec_d", "rec_b", "rec_e", "rec_a", "rec_c" };

	put_collection(f->st, "patients");
	put_collection(f->st, "claims");
	for (size_t i = 0; i < 5; i++) {
		make_record(&r, "patients", ids[i], 1, 0x40, 16);
		assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
		store_record_clear(&r);
	}
	make_record(&r, "claims", "rec_aa", 1, 0x41, 16);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
	store_record_clear(&r);
	scan(f->st, "patients", "", 2, "rec_a,rec_b,");
	scan(f->st, "patients", "rec_b", 2, "rec_c,rec_d,");
	scan(f->st, "patients", "rec_d", 2, "rec_e,");
	scan(f->st, "patients", "rec_e", 2, "");
	scan(f->st, "patients", "", 0, "rec_a,rec_b,rec_c,rec_d,rec_e,");
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_c", 7000)), PV_OK);
	scan(f->st, "patients", "rec_b", 2, "rec_d,rec_e,");
	scan(f->st, "claims", "", 10, "rec_aa,");
	assert_int_equal(TX_RD(f->st, store_record_scan(tx, "patients", NULL, 1, ids_cb, NULL)), PV_E_INVALID);
}

static void test_blind_index(void **state)
{
	struct st_fx *f = *state;
	struct store_record r;
	const char *ids[] = { "rec_c", "rec_a", "rec_b" };

	put_collection(f->st, "patients");
	for (size_t i = 0; i < 3; i++) {
		make_record(&r, "patients", ids[i], 1, (uint8_t)i, 32);
		assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
		store_record_clear(&r);
		assert_int_equal(TX_WR(f->st, store_bidx_put(tx, "patients", "ssn", MAC1, ids[i])), PV_OK);
	}
	assert_int_equal(TX_WR(f->st, store_bidx_put(tx, "patients", "ssn", MAC1, "rec_a")), PV_OK);  /* idempotent */
	assert_int_equal(TX_WR(f->st, store_bidx_put(tx, "patients", "mrn", MAC2, "rec_a")), PV_OK);
	/* an index entry must point at a record */
	assert_int_equal(TX_WR(f->st, store_bidx_put(tx, "patients", "ssn", MAC1, "rec_zz")), PV_E_IO);

	lookup(f->st, "ssn", MAC1, 0, "rec_a,rec_b,rec_c,");
	lookup(f->st, "ssn", MAC1, 2, "rec_a,rec_b,");
	lookup(f->st, "ssn", MAC2, 0, "");
	lookup(f->st, "mrn", MAC2, 0, "rec_a,");

	/* one field of one record */
	assert_int_equal(TX_WR(f->st, store_bidx_delete(tx, "patients", "rec_a", "ssn")), PV_OK);
	lookup(f->st, "ssn", MAC1, 0, "rec_b,rec_c,");
	lookup(f->st, "mrn", MAC2, 0, "rec_a,");
	/* every field of one record */
	assert_int_equal(TX_WR(f->st, store_bidx_delete(tx, "patients", "rec_a", NULL)), PV_OK);
	lookup(f->st, "mrn", MAC2, 0, "");
}

/* The whole database file (and WAL, if any) as one buffer. */
static bool files_hold(const char *dir, const uint8_t *needle, size_t nlen)
{
	const char *names[] = { "phivault.db", "phivault.db-wal" };
	bool found = false;

	for (size_t k = 0; k < 2 && !found; k++) {
		char path[4096];
		struct stat sb;
		uint8_t *buf;
		FILE *fp;

		st_path(path, sizeof(path), dir, names[k]);
		if (stat(path, &sb) != 0 || sb.st_size == 0)
			continue;
		buf = malloc((size_t)sb.st_size);
		assert_non_null(buf);
		fp = fopen(path, "rb");
		assert_non_null(fp);
		assert_int_equal(fread(buf, 1, (size_t)sb.st_size, fp), (size_t)sb.st_size);
		fclose(fp);
		found = memmem(buf, (size_t)sb.st_size, needle, nlen) != NULL;
		free(buf);
	}
	return found;
}

static void test_shred(void **state)
{
	struct st_fx *f = *state;
	struct store_record r, g;
	uint8_t dek[60], ct[64];

	put_collection(f->st, "patients");
	make_record(&r, "patients", "rec_s", 1, 0x5a, 3000);
	memcpy(dek, r.wrapped_dek, sizeof(dek));
	memcpy(ct, r.ciphertext + 1000, sizeof(ct));
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_bidx_put(tx, "patients", "ssn", MAC1, "rec_s")), PV_OK);

	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_s", 7000)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_s", 7001)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_none", 7001)), PV_E_NOTFOUND);

	/* the row stays (the ID is never reused) without DEK or ciphertext */
	memset(&g, 0, sizeof(g));
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", "rec_s", &g)), PV_OK);
	assert_int_equal(g.deleted_ms, 7000);
	assert_null(g.wrapped_dek);
	assert_null(g.ciphertext);
	store_record_clear(&g);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_E_CONFLICT);
	/* not findable, not updatable */
	lookup(f->st, "ssn", MAC1, 0, "");
	r.version = 2;
	assert_int_equal(TX_WR(f->st, store_record_update(tx, &r, 1)), PV_E_NOTFOUND);
	store_record_clear(&r);

	/* secure_delete: after the WAL is checkpointed into the file, neither
	 * the wrapped DEK nor the ciphertext is anywhere in it */
	store_close(f->st);
	f->st = NULL;
	assert_false(files_hold(f->dir, dek, sizeof(dek)));
	assert_false(files_hold(f->dir, ct, sizeof(ct)));
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
}

static void make_token(struct store_token *t, const char *token, bool det, const uint8_t *mac)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->token, sizeof(t->token), "%s", token);
	snprintf(t->collection, sizeof(t->collection), "patients");
	snprintf(t->field, sizeof(t->field), "ssn");
	t->deterministic = det;
	if (mac != NULL)
		memcpy(t->mac, mac, STORE_MAC_LEN);
	snprintf(t->kek_name, sizeof(t->kek_name), "tokens");
	t->kek_version = 1;
	t->wrapped_dek = calloc(1, 60);
	t->ciphertext = calloc(1, 40);
	t->wrapped_dek_len = 60;
	t->ciphertext_len = 40;
	t->ciphertext[0] = 0x77;
	t->created_ms = 42;
}

static void test_tokens(void **state)
{
	struct st_fx *f = *state;
	struct store_token t, g;

	make_token(&t, "tok_r1", false, NULL);
	assert_int_equal(TX_WR(f->st, store_token_put(tx, &t)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_token_put(tx, &t)), PV_E_CONFLICT);
	store_token_clear(&t);
	make_token(&t, "tok_r2", false, NULL);   /* random tokens share no MAC */
	assert_int_equal(TX_WR(f->st, store_token_put(tx, &t)), PV_OK);
	store_token_clear(&t);

	make_token(&t, "tok_d1", true, MAC1);
	assert_int_equal(TX_WR(f->st, store_token_put(tx, &t)), PV_OK);
	store_token_clear(&t);
	make_token(&t, "tok_d2", true, MAC1);    /* same value, another token: refused */
	assert_int_equal(TX_WR(f->st, store_token_put(tx, &t)), PV_E_CONFLICT);
	store_token_clear(&t);

	memset(&g, 0, sizeof(g));
	assert_int_equal(TX_RD(f->st, store_token_get(tx, "tok_r1", &g)), PV_OK);
	assert_false(g.deterministic);
	assert_string_equal(g.collection, "patients");
	assert_string_equal(g.field, "ssn");
	assert_string_equal(g.kek_name, "tokens");
	assert_int_equal(g.ciphertext_len, 40);
	assert_int_equal(g.ciphertext[0], 0x77);
	assert_int_equal(g.created_ms, 42);
	store_token_clear(&g);

	assert_int_equal(TX_RD(f->st, store_token_get_by_mac(tx, MAC1, &g)), PV_OK);
	assert_string_equal(g.token, "tok_d1");
	assert_true(g.deterministic);
	assert_memory_equal(g.mac, MAC1, STORE_MAC_LEN);
	store_token_clear(&g);
	assert_int_equal(TX_RD(f->st, store_token_get_by_mac(tx, MAC2, &g)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_token_get(tx, "tok_none", &g)), PV_E_NOTFOUND);
}

static void test_faults_and_args(void **state)
{
	struct st_fx *f = *state;
	struct store_record r, g;

	put_collection(f->st, "patients");
	make_record(&r, "patients", "rec_f", 1, 1, 10);
	store_fault_set("record_put", 1);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_E_IO);
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", "rec_f", &g)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
	store_fault_set("record_shred", 1);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_f", 1)), PV_E_IO);
	store_fault_set("bidx_lookup", 1);
	assert_int_equal(TX_RD(f->st, store_bidx_lookup(tx, "patients", "ssn", MAC1, 0, ids_cb, NULL)), PV_E_IO);

	/* a record without an envelope is refused before the database */
	free(r.ciphertext);
	r.ciphertext = NULL;
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_E_INVALID);
	r.ciphertext_len = 0;
	store_record_clear(&r);
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", NULL, &g)), PV_E_INVALID);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_f", 0)), PV_E_INVALID);
}

/* Faults live in the statement runners: an op's first statement carries the
 * op's name, later ones "<op>/<step>", so a later step of a multi-statement op
 * can be failed inside a transaction (which then rolls back whole), arming
 * another op that shares a statement does not fail this one, and "n-th next
 * call" counts op calls, not statements. */
static void test_fault_in_runner_steps(void **state)
{
	struct st_fx *f = *state;
	struct store_record r, g;

	put_collection(f->st, "patients");
	make_record(&r, "patients", "rec_s", 1, 3, 10);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
	store_record_clear(&r);
	assert_int_equal(TX_WR(f->st, store_bidx_put(tx, "patients", "ssn", MAC1, "rec_s")), PV_OK);

	/* the second statement of record_shred fails: nothing of it survives */
	store_fault_set("record_shred/bidx", 1);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_s", 7)), PV_E_IO);
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", "rec_s", &g)), PV_OK);
	assert_int_equal(g.deleted_ms, 0);
	assert_non_null(g.ciphertext);
	store_record_clear(&g);
	lookup(f->st, "ssn", MAC1, 0, "rec_s,");

	/* bidx_delete armed: record_shred runs the same statement, unharmed */
	store_fault_set("bidx_delete", -1);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_s", 7)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_bidx_delete(tx, "patients", "rec_s", NULL)), PV_E_IO);
	store_fault_set("bidx_delete", 0);
	lookup(f->st, "ssn", MAC1, 0, "");

	/* record_update: its fallback read is a step of it, not a record_get */
	make_record(&r, "patients", "rec_u", 1, 4, 10);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
	store_record_clear(&r);
	make_record(&r, "patients", "rec_u", 3, 5, 10);
	store_fault_set("record_get", -1);
	assert_int_equal(TX_WR(f->st, store_record_update(tx, &r, 2)), PV_E_CONFLICT);
	store_fault_set("record_get", 0);
	store_fault_set("record_update/get", 1);
	assert_int_equal(TX_WR(f->st, store_record_update(tx, &r, 2)), PV_E_IO);
	store_record_clear(&r);

	/* the 2nd call of a two-statement op fails, not its 2nd statement */
	make_record(&r, "patients", "rec_t", 1, 6, 10);
	assert_int_equal(TX_WR(f->st, store_record_put(tx, &r)), PV_OK);
	store_record_clear(&r);
	store_fault_set("record_shred", 2);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_t", 8)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_record_shred(tx, "patients", "rec_u", 8)), PV_E_IO);
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", "rec_u", &g)), PV_OK);
	assert_int_equal(g.deleted_ms, 0);
	store_record_clear(&g);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, st_fx_setup, st_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_collections),
		T(test_collection_list_sorted),
		T(test_record_versions),
		T(test_blind_index),
		T(test_record_scan),
		T(test_shred),
		T(test_tokens),
		T(test_faults_and_args),
		T(test_fault_in_runner_steps),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
