/*
 * SQLite's share of an audited read, as the server does it, through the
 * public store API only (so the same file builds against an older tree):
 *
 *  - a read: one STORE_RD transaction with what vault_record_fetch runs in
 *    it (store_record_get, store_subject_of_record), as STORE_READ does;
 *  - its audit entry: appended by the commit queue in a group of 32, each
 *    entry under its own savepoint (src/commit/commit.c), one COMMIT (the
 *    group's fsync) a group.
 *
 * Reads and appends run on two stores opened on the same file, so that the
 * reads' connection sees another connection's commits as the server's
 * request threads see the committer's: every 32 reads a group of 32 entries
 * commits (not counted), then the next 32 reads are counted.
 *
 * The callgrind harness of /work/wt/s9/perf-store.md (docs/performance.md):
 *   PV_TEST_NCOST={32,352} valgrind --tool=callgrind \
 *       --toggle-collect=cost_read_tx --toggle-collect=cost_append_group \
 *       ./unit_store_test_store_cost
 * marginal cost of 320 reads and 10 groups; every answer and every entry is
 * checked, so the figures are of work that was done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_test.h"
#include "tx_helpers.h"

#define NCOST 64        /* reads (and appended entries) by default */
#define NRECORDS 1000   /* records in the collection */
#define NSEED 2000      /* audit entries already in the trail */
#define GROUP 32        /* entries a group commit */
#define CT_LEN 1100     /* ciphertext of a ~1 KiB record */

struct cost {
	char *dir;
	struct store *rd;   /* the request threads' store */
	struct store *wr;   /* the committer's */
	int64_t seq;        /* the trail's last seq */
	char head[65];
};

/* IDs in no particular order, as util_id's random ones; made once, so the
 * counted functions do not count their formatting */
static char rec_ids[NRECORDS][32];
static char rec_res[NRECORDS][64];

static void make_ids(void)
{
	for (unsigned i = 0; i < NRECORDS; i++) {
		snprintf(rec_ids[i], sizeof(rec_ids[i]), "rec_%08x%08x",
		    (i * 2654435761u) ^ 0x5bd1e995u, i);
		snprintf(rec_res[i], sizeof(rec_res[i]), "records/patients/%s", rec_ids[i]);
	}
}

static void hex_hash(char out[65], int64_t seq)
{
	for (int i = 0; i < 64; i++)
		out[i] = "0123456789abcdef"[(unsigned)(seq * 31 + i * 7) % 16];
	out[64] = '\0';
}

static void seed(struct cost *c)
{
	struct store_collection cl;
	struct store_tx *wtx;
	char schema[] = "{\"name\":\"patients\",\"fields\":[]}";
	uint8_t dek[60], ct[CT_LEN];

	memset(&cl, 0, sizeof(cl));
	snprintf(cl.name, sizeof(cl.name), "patients");
	cl.schema = schema;
	snprintf(cl.region, sizeof(cl.region), "local");
	cl.retention_days = 2190;
	cl.created_ms = 1000;
	snprintf(cl.kek_name, sizeof(cl.kek_name), "collection:patients");
	assert_int_equal(TX_WR(c->wr, store_collection_put(tx, &cl)), PV_OK);
	memset(dek, 0x44, sizeof(dek));
	memset(ct, 0x63, sizeof(ct));
	assert_int_equal(store_begin(c->wr, STORE_WR, &wtx), PV_OK);
	for (unsigned i = 0; i < NRECORDS; i++) {
		struct store_record r;

		memset(&r, 0, sizeof(r));
		memcpy(r.id, rec_ids[i], strlen(rec_ids[i]) + 1);
		snprintf(r.collection, sizeof(r.collection), "patients");
		r.version = 1;
		snprintf(r.kek_name, sizeof(r.kek_name), "collection:patients");
		r.kek_version = 1;
		r.wrapped_dek = dek;
		r.wrapped_dek_len = sizeof(dek);
		r.ciphertext = ct;
		r.ciphertext_len = sizeof(ct);
		r.created_ms = 2000 + i;
		assert_int_equal(store_record_put(wtx, &r), PV_OK);
	}
	assert_int_equal(store_commit(wtx), PV_OK);
	store_end(wtx);
}

/* One entry as the audit writer appends a record read's (sizes of the
 * benchmark's: the actor, a five-field detail, two hashes). */
static enum pv_rc append_one(struct store_tx *tx, struct cost *c, unsigned rec)
{
	char hash[65];
	struct store_audit_row row;

	hex_hash(hash, c->seq + 1);
	memset(&row, 0, sizeof(row));
	row.seq = c->seq + 1;
	row.time = "2026-12-02T05:31:00.123Z";
	row.actor = "{\"user_id\":\"usr_0123456789abcdef\",\"session_id\":"
	    "\"ses_0123456789abcdef01234567\",\"source\":\"203.0.113.7\"}";
	row.action = "record.read";
	row.resource = rec_res[rec];
	row.purpose_of_use = "TREAT";
	row.outcome = "allowed";
	row.reason = "";
	row.detail = "{\"fields\":[\"dob\",\"mrn\",\"name\",\"notes\",\"ssn\"],"
	    "\"unmasked\":[\"dob\",\"mrn\",\"name\",\"notes\",\"ssn\"]}";
	row.prev_hash = c->head;
	row.hash = hash;
	enum pv_rc rc = store_audit_append(tx, &row);

	if (rc == PV_OK) {
		c->seq++;
		memcpy(c->head, hash, sizeof(c->head));
	}
	return rc;
}

/* A group of the commit queue: one write transaction, a savepoint per
 * entry, one durable COMMIT. */
__attribute__((noinline)) static void cost_append_group(struct cost *c, unsigned first)
{
	struct store_tx *tx;

	assert_int_equal(store_begin(c->wr, STORE_WR, &tx), PV_OK);
	for (unsigned i = 0; i < GROUP; i++) {
		assert_int_equal(store_savepoint(tx), PV_OK);
		assert_int_equal(append_one(tx, c, (first + i) % NRECORDS), PV_OK);
		assert_int_equal(store_release(tx), PV_OK);
	}
	assert_int_equal(store_commit(tx), PV_OK);
	store_end(tx);
}

/* A read's store work (vault_record_fetch under STORE_READ). */
__attribute__((noinline)) static void cost_read_tx(struct cost *c, unsigned i)
{
	struct store_record r;
	const char *rid = rec_ids[i % NRECORDS];
	char ref[STORE_SUBJECT_REF_LEN + 1];
	enum pv_rc rc, rc2 = PV_E_IO;

	memset(&r, 0, sizeof(r));
	STORE_READ(c->rd, rc, store_record_get(tx, "patients", rid, &r) != PV_OK ? PV_E_IO :
	    (rc2 = store_subject_of_record(tx, "patients", rid, ref)) == PV_E_NOTFOUND ? PV_OK :
	    PV_E_IO);
	assert_int_equal(rc, PV_OK);
	assert_int_equal(rc2, PV_E_NOTFOUND);
	assert_string_equal(r.id, rid);
	assert_int_equal(r.ciphertext_len, CT_LEN);
	assert_int_equal(r.wrapped_dek_len, 60);
	assert_int_equal(r.ciphertext[CT_LEN - 1], 0x63);
	store_record_clear(&r);
}

static void test_read_and_append_cost(void **state)
{
	struct cost c;
	const char *env = getenv("PV_TEST_NCOST");
	int n = env != NULL ? atoi(env) : NCOST;
	int64_t seq = 0;
	char head[65];

	(void)state;
	if (n < GROUP || n > 20000)
		n = NCOST;
	n -= n % GROUP;
	memset(&c, 0, sizeof(c));
	make_ids();
	assert_non_null(c.dir = st_tmpdir());
	assert_int_equal(store_open(c.dir, "sqlite", NULL, false, &c.wr), PV_OK);
	assert_int_equal(store_open(c.dir, "sqlite", NULL, false, &c.rd), PV_OK);
	seed(&c);
	memset(c.head, '0', 64);
	for (unsigned g = 0; g < NSEED / GROUP; g++)
		cost_append_group(&c, g * GROUP);
	/* the counted part starts from the same state whatever n is */
	for (int i = 0; i < n; i += GROUP) {
		cost_append_group(&c, (unsigned)i);
		for (int k = 0; k < GROUP; k++)
			cost_read_tx(&c, (unsigned)(i + k) * 7);
	}
	assert_int_equal(TX_RD(c.rd, store_audit_head(tx, &seq, head)), PV_OK);
	assert_int_equal(seq, c.seq);
	assert_string_equal(head, c.head);
	store_close(c.rd);
	store_close(c.wr);
	st_rmtree(c.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_and_append_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
