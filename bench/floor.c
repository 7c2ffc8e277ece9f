/*
 * floor: the least work an audited read and a record create can cost in
 * phivault's design, each part measured alone, with none of phivault's code
 * around it (issue 9, docs/performance.md "The floor").
 *
 * The design fixes, for every audited PHI read: a row fetched from SQLite,
 * an AES-256-GCM DEK unwrapped and the record opened, the record's JSON
 * parsed and the answer's JSON written (jansson), the audit entry hashed into
 * the chain (SHA-256) and appended durably before the answer leaves (an
 * INSERT into the real audit table in a group of G entries, COMMIT with
 * synchronous=FULL: one fdatasync a group); and for a create: a DEK made,
 * the record sealed and its DEK wrapped, one HMAC-SHA256 a blind index, the
 * record's rows (records, record_keys, blind_index, census triggers) and
 * its audit entry inserted in a group of G. TLS and HTTP are not measured
 * here: bench/run.sh adds nginx's CPU per request for the same bytes over
 * the same TLS (the "nginx-record" row), the least any server spends on them.
 *
 * It works on a copy of the benchmark's own database, so the tables, their
 * indexes and triggers and the rows' sizes are phivault's: the template rows
 * are the newest record, its key and index rows, and the newest
 * "record.read" and "record.create" audit entries (and their audit_subjects
 * rows); each insert is a copy of a template with a new key.
 *
 *   floor -d COPY.db -r ANSWER.json [-n N] [-g READ_GROUP] [-G CREATE_GROUP]
 *
 * ANSWER.json: the bytes of one read answer ({"id":...,"fields":{...}}).
 * Prints one line per part, "floor|PART|CPU_US_PER_OP|OPS", CPU being this
 * process's user + system time (getrusage) over the N operations: the same
 * measure as the benchmark's "server CPU µs/request".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#define MAX_COLS 32
#define MAX_ROWS 16

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "floor: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	    ru.ru_stime.tv_usec / 1e6;
}

static void
report(const char *part, double t0, long n)
{
	printf("floor|%s|%.1f|%ld\n", part, (cpu_s() - t0) * 1e6 / (double)n, n);
	fflush(stdout);
}

static void
exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die(sql, err);
}

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		die(sql, sqlite3_errmsg(db));
	return s;
}

static void
step_done(sqlite3 *db, sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		die("step", sqlite3_errmsg(db));
	sqlite3_reset(s);
}

/* A template: rows of one table read once, re-inserted with new keys. */
struct tmpl {
	const char *table;
	int ncols, nrows;
	char cols[MAX_COLS][64];
	sqlite3_value *v[MAX_ROWS][MAX_COLS];
	int key_col, fresh_col;   /* the column set to the new key; one set to random bytes (-1: none) */
	sqlite3_stmt *ins;
};

static int
tmpl_load(sqlite3 *db, struct tmpl *t, const char *table, const char *where, const char *key,
    const char *fresh)
{
	char sql[512], ins[1024];
	sqlite3_stmt *s;
	size_t off;
	int c;

	memset(t, 0, sizeof(*t));
	t->table = table;
	t->key_col = t->fresh_col = -1;
	snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE %s", table, where);
	s = prep(db, sql);
	while (sqlite3_step(s) == SQLITE_ROW && t->nrows < MAX_ROWS) {
		t->ncols = sqlite3_column_count(s);
		if (t->ncols > MAX_COLS)
			die("too many columns", table);
		for (c = 0; c < t->ncols; c++) {
			snprintf(t->cols[c], sizeof(t->cols[c]), "%s", sqlite3_column_name(s, c));
			t->v[t->nrows][c] = sqlite3_value_dup(sqlite3_column_value(s, c));
			if (strcmp(t->cols[c], key) == 0)
				t->key_col = c;
			if (fresh != NULL && strcmp(t->cols[c], fresh) == 0)
				t->fresh_col = c;
		}
		t->nrows++;
	}
	sqlite3_finalize(s);
	if (t->nrows == 0)
		return 0;
	if (t->key_col < 0)
		die("no key column in", table);
	off = (size_t)snprintf(ins, sizeof(ins), "INSERT INTO %s(", table);
	for (c = 0; c < t->ncols; c++)
		off += (size_t)snprintf(ins + off, sizeof(ins) - off, "%s%s", c ? ", " : "", t->cols[c]);
	off += (size_t)snprintf(ins + off, sizeof(ins) - off, ") VALUES (");
	for (c = 0; c < t->ncols; c++)
		off += (size_t)snprintf(ins + off, sizeof(ins) - off, "%s?%d", c ? ", " : "", c + 1);
	snprintf(ins + off, sizeof(ins) - off, ")");
	t->ins = prep(db, ins);
	return t->nrows;
}

/* Insert every template row with key column = key (text, or integer if ikey >= 0). */
static void
tmpl_insert(sqlite3 *db, struct tmpl *t, const char *key, sqlite3_int64 ikey)
{
	unsigned char fresh[32];
	int r, c;

	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			if (c == t->key_col && key != NULL)
				sqlite3_bind_text(t->ins, c + 1, key, -1, SQLITE_STATIC);
			else if (c == t->key_col)
				sqlite3_bind_int64(t->ins, c + 1, ikey);
			else if (c == t->fresh_col) {
				RAND_bytes(fresh, sizeof(fresh));
				sqlite3_bind_blob(t->ins, c + 1, fresh, sizeof(fresh), SQLITE_TRANSIENT);
			} else
				sqlite3_bind_value(t->ins, c + 1, t->v[r][c]);
		}
		step_done(db, t->ins);
	}
}

static sqlite3_int64
max_seq(sqlite3 *db)
{
	sqlite3_stmt *s = prep(db, "SELECT COALESCE(MAX(seq), 0) FROM audit");
	sqlite3_int64 v = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* AES-256-GCM with a context whose key is set per call (a DEK differs per record). */
static int
gcm(EVP_CIPHER_CTX *x, int enc, const unsigned char *key, const unsigned char *iv,
    const unsigned char *in, int n, unsigned char *out, unsigned char tag[16])
{
	int l = 0, f = 0;

	if (!EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, key, iv, enc))
		return -1;
	if (!enc && !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, tag))
		return -1;
	if (!EVP_CipherUpdate(x, out, &l, in, n) || !EVP_CipherFinal_ex(x, out + l, &f))
		return -1;
	if (enc && !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, tag))
		return -1;
	return l + f;
}

int
main(int argc, char **argv)
{
	const char *dbpath = NULL, *answer = NULL;
	long n = 20000, i;
	int rg = 32, cg = 8, opt;
	sqlite3 *db;
	sqlite3_stmt *get;
	struct tmpl a_read, a_read_subj, a_create, a_create_subj, rec, rkey, bidx;
	char rec_id[128], id[160], where[256], plain[8192];
	sqlite3_int64 seq;
	unsigned int run;
	json_t *ans, *fields, *parsed;
	json_error_t jerr;
	size_t plen;
	unsigned char kek[32], dek[32], iv[12], tag[16], wdek[48], ct[8192], out[8192], h[32];
	unsigned char entry[640];
	EVP_CIPHER_CTX *x;
	double t0;

	while ((opt = getopt(argc, argv, "d:r:n:g:G:")) != -1) {
		switch (opt) {
		case 'd': dbpath = optarg; break;
		case 'r': answer = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'g': rg = atoi(optarg); break;
		case 'G': cg = atoi(optarg); break;
		default: die("usage: floor -d COPY.db -r ANSWER.json [-n N] [-g G] [-G G]", NULL);
		}
	}
	if (dbpath == NULL || answer == NULL || n < 100 || rg < 1 || cg < 1)
		die("usage: floor -d COPY.db -r ANSWER.json [-n N] [-g G] [-G G]", NULL);

	/* ---- the database: phivault's connection settings (store/sqlite.c) */
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die("open", dbpath);
	exec_sql(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;");
	{
		sqlite3_stmt *s = prep(db, "SELECT r.id FROM records r JOIN record_keys k ON k.id = r.id "
		    "WHERE r.ciphertext IS NOT NULL AND k.wrapped_dek IS NOT NULL "
		    "ORDER BY r.created_ms DESC LIMIT 1");

		if (sqlite3_step(s) != SQLITE_ROW)
			die("no record in", dbpath);
		snprintf(rec_id, sizeof(rec_id), "%s", (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	snprintf(where, sizeof(where), "id = '%s'", rec_id);
	if (!tmpl_load(db, &rec, "records", where, "id", NULL) ||
	    !tmpl_load(db, &rkey, "record_keys", where, "id", NULL))
		die("template record", rec_id);
	snprintf(where, sizeof(where), "record_id = '%s'", rec_id);
	tmpl_load(db, &bidx, "blind_index", where, "record_id", "mac");
	if (!tmpl_load(db, &a_read, "audit", "seq = (SELECT MAX(seq) FROM audit WHERE action = "
	    "'record.read')", "seq", NULL) ||
	    !tmpl_load(db, &a_create, "audit", "seq = (SELECT MAX(seq) FROM audit WHERE action = "
	    "'record.create')", "seq", NULL))
		die("no record.read or record.create entry in", dbpath);
	tmpl_load(db, &a_read_subj, "audit_subjects", "seq = (SELECT MAX(seq) FROM audit WHERE "
	    "action = 'record.read')", "seq", NULL);
	tmpl_load(db, &a_create_subj, "audit_subjects", "seq = (SELECT MAX(seq) FROM audit WHERE "
	    "action = 'record.create')", "seq", NULL);
	get = prep(db, "SELECT r.id, r.collection, r.version, k.kek_name, k.kek_version, "
	    "k.wrapped_dek, r.ciphertext, r.created_ms, r.updated_ms, r.deleted_ms "
	    "FROM records r JOIN record_keys k ON k.id = r.id WHERE r.id = ?2 AND r.collection = ?1");
	fprintf(stderr, "floor: templates: record %s (%d blind index rows), read entry %d subject "
	    "rows, create entry %d subject rows\n", rec_id, bidx.nrows, a_read_subj.nrows,
	    a_create_subj.nrows);

	/* ---- the answer and its plaintext */
	if ((ans = json_load_file(answer, 0, &jerr)) == NULL)
		die("answer", jerr.text);
	if ((fields = json_object_get(ans, "fields")) == NULL)
		die("answer has no fields", answer);
	plen = json_dumpb(fields, plain, sizeof(plain), JSON_COMPACT | JSON_SORT_KEYS);
	if (plen == 0 || plen >= sizeof(plain))
		die("plaintext too large", NULL);

	/* ---- read: the row fetch, one read transaction each */
	{
		sqlite3_value *coll = rec.v[0][1];

		t0 = cpu_s();
		for (i = 0; i < n; i++) {
			exec_sql(db, "BEGIN");
			sqlite3_bind_value(get, 1, coll);
			sqlite3_bind_text(get, 2, rec_id, -1, SQLITE_STATIC);
			if (sqlite3_step(get) != SQLITE_ROW)
				die("fetch", sqlite3_errmsg(db));
			sqlite3_reset(get);
			exec_sql(db, "COMMIT");
		}
		report("read.fetch", t0, n);
	}

	/* ---- read: unwrap the DEK, open ~1 KiB */
	x = EVP_CIPHER_CTX_new();
	RAND_bytes(kek, sizeof(kek));
	RAND_bytes(dek, sizeof(dek));
	RAND_bytes(iv, sizeof(iv));
	{
		unsigned char wtag[16], ctag[16];

		if (gcm(x, 1, kek, iv, dek, 32, wdek, wtag) != 32 ||
		    gcm(x, 1, dek, iv, (const unsigned char *)plain, (int)plen, ct, ctag) != (int)plen)
			die("seal", NULL);
		t0 = cpu_s();
		for (i = 0; i < n; i++) {
			unsigned char d[32];

			if (gcm(x, 0, kek, iv, wdek, 32, d, wtag) != 32 ||
			    gcm(x, 0, d, iv, ct, (int)plen, out, ctag) != (int)plen)
				die("open", NULL);
			OPENSSL_cleanse(d, sizeof(d));
		}
		report("read.open", t0, n);
	}

	/* ---- read: parse the plaintext, write the answer */
	t0 = cpu_s();
	for (i = 0; i < n; i++) {
		char buf[8192];

		if ((parsed = json_loadb(plain, plen, 0, &jerr)) == NULL)
			die("parse", jerr.text);
		json_object_set(ans, "fields", parsed);
		if (json_dumpb(ans, buf, sizeof(buf), JSON_COMPACT) == 0)
			die("dump", NULL);
		json_decref(parsed);
	}
	report("read.json", t0, n);

	/* ---- the chain hash of one entry (~600 bytes) */
	RAND_bytes(entry, sizeof(entry));
	t0 = cpu_s();
	for (i = 0; i < n; i++) {
		EVP_Digest(entry, sizeof(entry), h, NULL, EVP_sha256(), NULL);
		entry[0] = h[0];
	}
	report("audit.hash", t0, n);

	/* ---- read: the durable audit append, groups of rg */
	seq = max_seq(db);
	t0 = cpu_s();
	for (i = 0; i < n; i++) {
		if (i % rg == 0)
			exec_sql(db, "BEGIN IMMEDIATE");
		seq++;
		tmpl_insert(db, &a_read, NULL, seq);
		if (a_read_subj.nrows)
			tmpl_insert(db, &a_read_subj, NULL, seq);
		if (i % rg == rg - 1 || i == n - 1)
			exec_sql(db, "COMMIT");
	}
	report("read.audit_append", t0, n);

	/* ---- create: a DEK, seal, wrap, one HMAC a blind index */
	t0 = cpu_s();
	for (i = 0; i < n; i++) {
		unsigned char d[32], mac[32], iv2[12];
		unsigned int ml;
		int b;

		RAND_bytes(d, sizeof(d));
		RAND_bytes(iv2, sizeof(iv2));
		if (gcm(x, 1, d, iv2, (const unsigned char *)plain, (int)plen, ct, tag) != (int)plen ||
		    gcm(x, 1, kek, iv2, d, 32, wdek, tag) != 32)
			die("seal", NULL);
		for (b = 0; b < (bidx.nrows ? bidx.nrows : 1); b++)
			HMAC(EVP_sha256(), kek, 32, (const unsigned char *)plain, 24, mac, &ml);
		OPENSSL_cleanse(d, sizeof(d));
	}
	report("create.seal", t0, n);

	/* ---- create: parse the request's fields (the body is parsed once) */
	t0 = cpu_s();
	for (i = 0; i < n; i++) {
		if ((parsed = json_loadb(plain, plen, 0, &jerr)) == NULL)
			die("parse", jerr.text);
		json_decref(parsed);
	}
	report("create.json", t0, n);

	/* ---- create: the rows and the entry, durable, groups of cg (new IDs each run) */
	RAND_bytes((unsigned char *)&run, sizeof(run));
	t0 = cpu_s();
	for (i = 0; i < n; i++) {
		if (i % cg == 0)
			exec_sql(db, "BEGIN IMMEDIATE");
		snprintf(id, sizeof(id), "rec_floor%08x%012ld", run, i);
		tmpl_insert(db, &rec, id, 0);
		tmpl_insert(db, &rkey, id, 0);
		if (bidx.nrows)
			tmpl_insert(db, &bidx, id, 0);
		seq++;
		tmpl_insert(db, &a_create, NULL, seq);
		if (a_create_subj.nrows)
			tmpl_insert(db, &a_create_subj, NULL, seq);
		if (i % cg == cg - 1 || i == n - 1)
			exec_sql(db, "COMMIT");
	}
	report("create.rows_append", t0, n);

	EVP_CIPHER_CTX_free(x);
	json_decref(ans);
	sqlite3_finalize(get);
	sqlite3_close(db);   /* the templates' values are left to the exit */
	return 0;
}
