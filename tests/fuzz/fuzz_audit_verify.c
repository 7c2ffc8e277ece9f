/*
 * fuzz_audit_verify: a tampered database is untrusted input to
 * `phivault audit verify`. The harness plays the attacker with raw SQL on a
 * real SQLite data directory (created once, in $TMPDIR): each input
 * replaces the audit and audit_checkpoint tables, then audit_verify_with
 * reads them back through the store's row decoder and checks the chain,
 * the NUL and length checks, and every checkpoint signature.
 *
 * Input: records separated by 0x1e, fields by 0x1f. A record whose first
 * field is "c" is a checkpoint (c, seq, hash, time, signature, key_id), any
 * other an entry (seq, time, actor, action, resource, purpose_of_use,
 * outcome, reason, detail, prev_hash, hash). A missing field takes a valid
 * value; "=" as prev_hash / hash means the value that chains (the previous
 * entry's hash / this entry's own hash), "=" as a checkpoint's hash or
 * signature the right one for its seq, signed with the harness's key. A
 * field starting with 0x02 is stored as a BLOB, 0x03 as an INTEGER, so the
 * decoder also sees the column types a tampered file can hold.
 * Invariants: verify answers PV_OK with a verdict; a failure names a seq and
 * a reason without entry contents; a success counts every entry and
 * reports the last entry's hash as head.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 48
#define NFIELDS 11

static struct store *st;
static sqlite3 *db;
static sqlite3_stmt *ins_entry, *ins_cp;
static uint8_t pub[CRYPTO_ED25519_PUB_LEN], priv[CRYPTO_ED25519_PRIV_LEN];
static char dir[4096];

static void
cleanup(void)
{
	char path[4200];

	sqlite3_finalize(ins_entry);
	sqlite3_finalize(ins_cp);
	sqlite3_close(db);
	store_close(st);
	for (const char *const *s = (const char *const[]){ "phivault.db", "phivault.db-wal",
	    "phivault.db-shm", "phivault.db-journal", NULL }; *s != NULL; s++) {
		snprintf(path, sizeof path, "%s/%s", dir, *s);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4200];
	struct store *w = NULL;

	log_set_level(LOG_LVL_ERROR);   /* rejected shares and bad rows are the point */
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/fuzz-audit-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL || store_open(dir, "sqlite", NULL, false, &w) != PV_OK)
		abort();
	store_close(w);
	snprintf(path, sizeof path, "%s/phivault.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO audit(seq, time, actor, action, resource,"
	    " purpose_of_use, outcome, reason, detail, prev_hash, hash)"
	    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)", -1, &ins_entry, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO audit_checkpoint(seq, hash, time,"
	    " signature, key_id) VALUES(?1,?2,?3,?4,?5)", -1, &ins_cp, NULL) != SQLITE_OK)
		abort();
	if (store_open(dir, "sqlite", NULL, true, &st) != PV_OK)
		abort();
	memset(priv, 0x5a, sizeof priv);
	if (crypto_ed25519_pub_from_priv(priv, pub) != PV_OK)
		abort();
	atexit(cleanup);
}

struct field {
	const char *p;
	size_t len;
};

static size_t
split(const char *p, size_t len, char sep, struct field *out, size_t max)
{
	size_t n = 0;
	const char *end = p + len;

	while (n < max) {
		const char *s = memchr(p, sep, (size_t)(end - p));

		out[n].p = p;
		out[n].len = s ? (size_t)(s - p) : (size_t)(end - p);
		n++;
		if (s == NULL)
			break;
		p = s + 1;
	}
	return n;
}

static bool
is(const struct field *f, const char *s)
{
	return f->len == strlen(s) && memcmp(f->p, s, f->len) == 0;
}

static int64_t
num(const struct field *f, int64_t dflt)
{
	char buf[24];

	if (f->len == 0 || f->len >= sizeof buf)
		return dflt;
	memcpy(buf, f->p, f->len);
	buf[f->len] = '\0';
	return strtoll(buf, NULL, 10);
}

/* Bind a field: 0x02 prefix BLOB, 0x03 INTEGER, else TEXT with its exact bytes. */
static void
bind(sqlite3_stmt *s, int i, const struct field *f)
{
	if (f->len > 0 && f->p[0] == 0x02)
		sqlite3_bind_blob(s, i, f->p + 1, (int)f->len - 1, SQLITE_TRANSIENT);
	else if (f->len > 0 && f->p[0] == 0x03) {
		struct field g = { f->p + 1, f->len - 1 };

		sqlite3_bind_int64(s, i, num(&g, 0));
	} else
		sqlite3_bind_text(s, i, f->p, (int)f->len, SQLITE_TRANSIENT);
}

static struct field
str(const char *s)
{
	struct field f = { s, strlen(s) };

	return f;
}

/* NUL-terminated copy of a field (for audit_chain_hash) in buf. */
static const char *
cstr(const struct field *f, char *buf, size_t cap)
{
	size_t n = f->len < cap - 1 ? f->len : cap - 1;

	memcpy(buf, f->p, n);
	buf[n] = '\0';
	return buf;
}

struct seen {
	int64_t seq;
	char hash[65];
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const dflt[NFIELDS] = { "", "2026-01-01T00:00:00.000Z",
		"{\"session_id\":null,\"source\":null,\"user_id\":\"usr_x\"}", "record.read",
		"collections/p/records/rec_1", "TREAT", "allowed", "", "{}", "=", "=" };
	struct field recs[MAX_RECORDS], f[NFIELDS];
	struct seen seen[MAX_RECORDS];
	char prev[65], texts[NFIELDS][512];
	struct audit_verify_opts opts;
	struct audit_verify_result v;
	size_t nrec, nseen = 0, nf, i, j;
	int64_t nentries = 0, next_seq = 1;
	enum pv_rc rc;

	if (st == NULL)
		setup();
	memcpy(prev, AUDIT_GENESIS_HASH, sizeof prev);
	if (sqlite3_exec(db, "BEGIN; DELETE FROM audit; DELETE FROM audit_checkpoint;",
	    NULL, NULL, NULL) != SQLITE_OK)
		abort();
	nrec = size ? split((const char *)data, size, 0x1e, recs, MAX_RECORDS) : 0;
	for (i = 0; i < nrec; i++) {
		nf = split(recs[i].p, recs[i].len, 0x1f, f, NFIELDS);
		if (nf >= 1 && is(&f[0], "c")) {
			/* checkpoint: c, seq, hash, time, signature, key_id */
			struct field cf[5] = { str("1"), str("="), str(dflt[1]), str("="), str("") };
			char sigb64[128], msg[160], key_id[17], hx[65] = "";
			uint8_t sig[CRYPTO_ED25519_SIG_LEN];
			int64_t seq;

			for (j = 1; j < nf && j <= 5; j++)
				cf[j - 1] = f[j];
			seq = num(&cf[0], 1);
			for (j = 0; j < nseen; j++)
				if (seen[j].seq == seq)
					memcpy(hx, seen[j].hash, sizeof hx);
			if (is(&cf[1], "="))
				cf[1] = str(hx);
			if (is(&cf[3], "=")) {
				size_t ml = audit_checkpoint_message(seq, hx, msg, sizeof msg);

				if (ml == 0 || crypto_ed25519_sign(priv, (const uint8_t *)msg, ml, sig) != PV_OK)
					sigb64[0] = '\0';
				else
					util_b64_encode(sig, sizeof sig, sigb64);
				cf[3] = str(sigb64);
			}
			if (cf[4].len == 0 && audit_key_id(pub, key_id) == PV_OK)
				cf[4] = str(key_id);
			sqlite3_reset(ins_cp);
			sqlite3_clear_bindings(ins_cp);
			sqlite3_bind_int64(ins_cp, 1, seq);
			for (j = 1; j < 5; j++)
				bind(ins_cp, (int)j + 1, &cf[j]);
			(void)sqlite3_step(ins_cp);
			continue;
		}
		/* entry */
		{
			struct field ef[NFIELDS];
			struct store_audit_row row;
			char hash[65] = "";
			int64_t seq;

			for (j = 0; j < NFIELDS; j++)
				ef[j] = j < nf ? f[j] : str(dflt[j]);
			seq = num(&ef[0], next_seq);
			if (is(&ef[9], "="))
				ef[9] = str(prev);
			memset(&row, 0, sizeof row);
			row.seq = seq;
			row.time = cstr(&ef[1], texts[1], sizeof texts[1]);
			row.actor = cstr(&ef[2], texts[2], sizeof texts[2]);
			row.action = cstr(&ef[3], texts[3], sizeof texts[3]);
			row.resource = cstr(&ef[4], texts[4], sizeof texts[4]);
			row.purpose_of_use = cstr(&ef[5], texts[5], sizeof texts[5]);
			row.outcome = cstr(&ef[6], texts[6], sizeof texts[6]);
			row.reason = cstr(&ef[7], texts[7], sizeof texts[7]);
			row.detail = cstr(&ef[8], texts[8], sizeof texts[8]);
			row.prev_hash = cstr(&ef[9], texts[9], sizeof texts[9]);
			if (audit_chain_hash(&row, hash) != PV_OK)
				hash[0] = '\0';
			if (is(&ef[10], "="))
				ef[10] = str(hash);
			sqlite3_reset(ins_entry);
			sqlite3_clear_bindings(ins_entry);
			sqlite3_bind_int64(ins_entry, 1, seq);
			for (j = 1; j < NFIELDS; j++)
				bind(ins_entry, (int)j + 1, &ef[j]);
			if (sqlite3_step(ins_entry) == SQLITE_DONE) {
				nentries++;
				if (nseen < MAX_RECORDS) {
					seen[nseen].seq = seq;
					cstr(&ef[10], seen[nseen].hash, sizeof seen[nseen].hash);
					nseen++;
				}
			}
			memcpy(prev, hash, sizeof prev);
			next_seq = seq < INT64_MAX ? seq + 1 : seq;   /* strtoll saturates */
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		abort();

	memset(&opts, 0, sizeof opts);
	opts.pub = pub;
	memset(&v, 0xaa, sizeof v);
	rc = audit_verify_with(st, &opts, &v);
	if (rc != PV_OK)
		abort();   /* a verdict, whatever the file holds */
	if (memchr(v.reason, '\0', sizeof v.reason) == NULL ||
	    memchr(v.head, '\0', sizeof v.head) == NULL)
		abort();
	if (!v.ok) {
		if (v.reason[0] == '\0' || strstr(v.reason, "rec_") != NULL ||
		    strstr(v.reason, "usr_") != NULL)
			abort();   /* named, and without entry contents */
	} else {
		/* INSERT OR REPLACE may have replaced a row: at most what was inserted */
		if (v.entries > nentries || v.first_bad_seq != 0)
			abort();
	}
	return 0;
}
