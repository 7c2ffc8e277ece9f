/*
 * Shared set-up for the audit unit tests: a real SQLite store and an
 * unsealed key-file keyring in a fresh temporary data directory, plus the
 * raw-SQL and file helpers the tamper tests use to play the attacker.
 * Header-only; every helper is static inline so each test links what it uses.
 */
#ifndef PV_TEST_AUDIT_FIXTURE_H
#define PV_TEST_AUDIT_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "store/store.h"
#include "tx_helpers.h"

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
};

static inline void fx_mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(buf, 0700);
			*p = '/';
		}
	}
	(void)mkdir(buf, 0700);
}

/* A new empty directory under $PV_TEST_TMP (or /tmp). */
static inline int fx_tempdir(char *out, size_t len)
{
	const char *base = getenv("PV_TEST_TMP");

	if (!base || !base[0])
		base = "/tmp";
	fx_mkdir_p(base);
	if ((size_t)snprintf(out, len, "%s/audit-XXXXXX", base) >= len)
		return -1;
	return mkdtemp(out) ? 0 : -1;
}

static inline int fx_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void fx_rmrf(const char *dir)
{
	if (dir && dir[0])
		(void)nftw(dir, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Store + keyring in a new data directory, unsealed. 0 on success. */
static inline int fx_open(struct fx *f)
{
	struct keys_seal_spec spec = { .type = KEYS_SEAL_KEYFILE };
	char **shares = NULL;
	size_t nshares = 0;

	memset(f, 0, sizeof *f);
	if (crypto_init() != PV_OK || fx_tempdir(f->dir, sizeof f->dir) != 0)
		return -1;
	if (store_open(f->dir, "sqlite", NULL, false, &f->st) != PV_OK)
		return -1;
	if (keys_initialize(f->st, f->dir, &spec, &shares, &nshares) != PV_OK)
		return -1;
	keys_shares_free(shares, nshares);
	if (keys_open(f->st, f->dir, &f->keys) != PV_OK)
		return -1;
	if (keys_unseal_keyfile(f->keys) != PV_OK)
		return -1;
	return 0;
}

static inline int fx_start(struct fx *f, int every, int interval_s)
{
	struct audit_config cfg = { .checkpoint_every = every, .checkpoint_interval_s = interval_s };

	return audit_start(f->st, f->keys, &cfg, &f->audit) == PV_OK ? 0 : -1;
}

/* Stops the writer, closes everything, removes the directory unless keep. */
static inline void fx_close(struct fx *f, int keep)
{
	if (f->audit)
		audit_stop(f->audit);
	f->audit = NULL;
	if (f->keys)
		keys_close(f->keys);
	f->keys = NULL;
	if (f->st)
		store_close(f->st);
	f->st = NULL;
	if (!keep)
		fx_rmrf(f->dir);
}

/* cmocka group setup / teardown of the writer tests: a fixture opened and
 * its writer started (checkpoint every 100,000 entries or hour: none in a
 * test), then stopped and removed with every store fault cleared. */
static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	if (!f || fx_open(f) != 0 || fx_start(f, 100000, 3600) != 0)
		return -1;
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;

	store_fault_clear_all();
	fx_close(f, 0);
	free(f);
	return 0;
}

/* A typical read of a record. */
static inline struct audit_event fx_event(const char *resource)
{
	struct audit_event ev = {
		.actor = { .user_id = "usr_test", .session_id = "ses_test", .source = "127.0.0.1" },
		.action = "record.read",
		.resource = resource,
		.purpose_of_use = "TREAT",
		.outcome = AUDIT_ALLOWED,
		.reason = NULL,
		.detail = "{\"fields\":[\"name\",\"dob\"]}",
	};
	return ev;
}

/* Copy every regular file of src into a new directory; the copy's path in out. */
static inline int fx_copy_dir(const char *src, char *out, size_t len)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (fx_tempdir(out, len) != 0)
		return -1;
	d = opendir(src);
	if (!d)
		return -1;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char from[PATH_MAX], to[PATH_MAX];
		FILE *in, *outf;
		char buf[65536];
		size_t n;
		struct stat sb;

		if (snprintf(from, sizeof from, "%s/%s", src, e->d_name) >= (int)sizeof from ||
		    snprintf(to, sizeof to, "%s/%s", out, e->d_name) >= (int)sizeof to)
			return -1;
		if (stat(from, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		in = fopen(from, "rb");
		outf = fopen(to, "wb");
		if (!in || !outf)
			rc = -1;
		while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
			if (fwrite(buf, 1, n, outf) != n)
				rc = -1;
		if (in)
			fclose(in);
		if (outf && fclose(outf) != 0)
			rc = -1;
		if (rc == 0)
			(void)chmod(to, sb.st_mode & 0777);
	}
	closedir(d);
	return rc;
}

/* Open the data directory's database directly, as an attacker with file access would. */
static inline sqlite3 *fx_db(const char *dir)
{
	char path[PATH_MAX + 16];
	sqlite3 *db = NULL;

	snprintf(path, sizeof path, "%s/phivault.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static inline int fx_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		fprintf(stderr, "sql failed: %s: %s\n", sql, err ? err : "?");
	sqlite3_free(err);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Recompute hash (and the next rows' prev_hash and hash) from seq `from` to
 * the end, the way an attacker without the signing key would. */
static inline int fx_rechain(sqlite3 *db, int64_t from)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	char prev[65] = { 0 };
	int rc = -1, have_prev = 0;

	if (sqlite3_prepare_v2(db,
		"SELECT seq, time, actor, action, resource, purpose_of_use, outcome, reason, detail,"
		" prev_hash FROM audit WHERE seq >= ?1 ORDER BY seq", -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", -1,
		&upd, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(sel, 1, from);
	for (;;) {
		int s = sqlite3_step(sel);
		struct store_audit_row r = { 0 };
		char hash[65];

		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW)
			goto out;
		r.seq = sqlite3_column_int64(sel, 0);
		r.time = (const char *)sqlite3_column_text(sel, 1);
		r.actor = (const char *)sqlite3_column_text(sel, 2);
		r.action = (const char *)sqlite3_column_text(sel, 3);
		r.resource = (const char *)sqlite3_column_text(sel, 4);
		r.purpose_of_use = (const char *)sqlite3_column_text(sel, 5);
		r.outcome = (const char *)sqlite3_column_text(sel, 6);
		r.reason = (const char *)sqlite3_column_text(sel, 7);
		r.detail = (const char *)sqlite3_column_text(sel, 8);
		r.prev_hash = have_prev ? prev : (const char *)sqlite3_column_text(sel, 9);
		r.hash = NULL;
		if (audit_chain_hash(&r, hash) != PV_OK)
			goto out;
		sqlite3_reset(upd);
		sqlite3_bind_text(upd, 1, r.prev_hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(upd, 2, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 3, r.seq);
		if (sqlite3_step(upd) != SQLITE_DONE)
			goto out;
		memcpy(prev, hash, sizeof prev);
		have_prev = 1;
	}
	rc = 0;
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc;
}

/* One text column of one row, copied into buf ("" if absent). */
static inline void fx_sql_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s = NULL;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_text(s, 0))
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

/* Collect rows with a store scan. */
struct fx_rows {
	int64_t n;
	int64_t first_seq, last_seq;
	int contiguous;
	char last_outcome[16];
	char last_reason[64];
	char last_actor[256];
	char last_detail[256];
};

static inline int fx_rows_cb(const struct store_audit_row *r, void *arg)
{
	struct fx_rows *x = arg;

	if (x->n == 0)
		x->first_seq = r->seq;
	else if (r->seq != x->last_seq + 1)
		x->contiguous = 0;
	x->last_seq = r->seq;
	x->n++;
	snprintf(x->last_outcome, sizeof x->last_outcome, "%s", r->outcome);
	snprintf(x->last_reason, sizeof x->last_reason, "%s", r->reason);
	snprintf(x->last_actor, sizeof x->last_actor, "%s", r->actor);
	snprintf(x->last_detail, sizeof x->last_detail, "%s", r->detail);
	return 0;
}

static inline enum pv_rc fx_rows(struct store *st, struct fx_rows *x)
{
	struct store_audit_filter f = { 0 };

	memset(x, 0, sizeof *x);
	x->contiguous = 1;
	return TX_RD(st, store_audit_scan(tx, &f, fx_rows_cb, x));
}

#endif /* PV_TEST_AUDIT_FIXTURE_H */
