/*
 * sqlite_backup.c: the snapshot op of the SQLite backend (store_backup.h).
 *
 * The source is the connection of the caller's STORE_RD transaction. A
 * first read pins its WAL snapshot; the online backup API then copies the
 * pages that snapshot sees, pages_per_step at a time, into a private
 * in-memory database (memdb VFS). Because the source connection holds its
 * read transaction for the whole copy, writers on other connections are
 * never blocked (WAL) and the copy is exactly one committed state: no
 * backup restart, no torn copy. Row counts and the audit head are read
 * through the same read transaction, so they describe the same state as
 * the image. The image
 * is then handed to the sink straight from memdb's buffer
 * (sqlite3_serialize NOCOPY), zeroed and freed: no plaintext copy of the
 * database is ever written to disk by this op.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store_sqlite.h"

#define PIECE (1024 * 1024)

static enum pv_rc snap_counts(sqlite3 *db, struct store_snapshot_info *out)
{
	sqlite3_stmt *s = NULL, *c = NULL;
	enum pv_rc rc = PV_OK;
	int src;

	src = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' "
	    "AND name NOT LIKE 'sqlite_%' ORDER BY name", -1, &s, NULL);
	if (src != SQLITE_OK)
		return store_sqlite_rc(src, "snapshot/counts");
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		char sql[160];

		if (name == NULL || strlen(name) >= sizeof(out->tables[0].name) ||
		    out->ntables >= STORE_SNAPSHOT_TABLES_MAX) {
			rc = PV_E_INTEGRITY;
			goto out;
		}
		/* table names come from our own schema; quoted all the same */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", name);
		if ((src = sqlite3_prepare_v2(db, sql, -1, &c, NULL)) != SQLITE_OK ||
		    (src = sqlite3_step(c)) != SQLITE_ROW) {
			rc = store_sqlite_rc(src, "snapshot/counts");
			goto out;
		}
		memcpy(out->tables[out->ntables].name, name, strlen(name) + 1);
		out->tables[out->ntables].rows = sqlite3_column_int64(c, 0);
		out->ntables++;
		sqlite3_finalize(c);
		c = NULL;
	}
	if (src != SQLITE_DONE) {
		rc = store_sqlite_rc(src, "snapshot/counts");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	src = sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1,
	    &s, NULL);
	if (src != SQLITE_OK) {
		rc = store_sqlite_rc(src, "snapshot/head");
		goto out;
	}
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s, 1);

		if (h == NULL || strlen(h) >= sizeof(out->audit_head)) {
			rc = PV_E_INTEGRITY;
			goto out;
		}
		out->audit_seq = sqlite3_column_int64(s, 0);
		memcpy(out->audit_head, h, strlen(h) + 1);
	} else if (src != SQLITE_DONE)
		rc = store_sqlite_rc(src, "snapshot/head");
out:
	sqlite3_finalize(c);
	sqlite3_finalize(s);
	return rc;
}

static enum pv_rc sq_snapshot(struct store_tx *tx, const struct store_snapshot_sink *sink,
    struct store_snapshot_info *out)
{
	struct store_sqlite_conn *conn = (struct store_sqlite_conn *)tx;
	struct store_snapshot_info info;
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	unsigned char *img = NULL;
	sqlite3_int64 sz = 0;
	int step = sink->pages_per_step > 0 ? sink->pages_per_step : 256;
	enum pv_rc rc;
	int src;

	memset(&info, 0, sizeof(info));
	if ((rc = store_fault_check("snapshot")) != PV_OK)
		return rc;
	/* pin the read snapshot of tx before the copy starts */
	src = sqlite3_exec(conn->db, "SELECT count(*) FROM meta", NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return store_sqlite_rc(src, "snapshot");
	src = sqlite3_open_v2("file:pv-snapshot?vfs=memdb", &dst,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
	if (src != SQLITE_OK) {
		rc = store_sqlite_rc(src, "snapshot/open");
		goto out;
	}
	if ((b = sqlite3_backup_init(dst, "main", conn->db, "main")) == NULL) {
		rc = store_sqlite_rc(sqlite3_errcode(dst), "snapshot/init");
		goto out;
	}
	for (;;) {
		src = sqlite3_backup_step(b, step);
		if (src == SQLITE_DONE)
			break;
		if (src == SQLITE_BUSY || src == SQLITE_LOCKED) {
			struct timespec ts = { 0, 2 * 1000 * 1000 };

			nanosleep(&ts, NULL);
			continue;
		}
		if (src != SQLITE_OK) {
			rc = store_sqlite_rc(src, "snapshot/step");
			goto out;
		}
		if (sink->progress != NULL) {
			int total = sqlite3_backup_pagecount(b);

			if (sink->progress(sink->arg, total - sqlite3_backup_remaining(b),
			    total) != 0) {
				rc = PV_E_UNAVAILABLE;
				goto out;
			}
		}
	}
	if (sink->progress != NULL) {
		int total = sqlite3_backup_pagecount(b);

		(void)sink->progress(sink->arg, total, total);
	}
	src = sqlite3_backup_finish(b);
	b = NULL;
	if (src != SQLITE_OK) {
		rc = store_sqlite_rc(src, "snapshot/finish");
		goto out;
	}
	/* counted on the source, inside the same read snapshot the pages came
	 * from (the memdb copy keeps the source's WAL header byte, which memdb,
	 * having no shared memory, cannot open with SQL) */
	if ((rc = snap_counts(conn->db, &info)) != PV_OK)
		goto out;
	img = sqlite3_serialize(dst, "main", &sz, SQLITE_SERIALIZE_NOCOPY);
	if (img == NULL || sz <= 0) {
		rc = PV_E_NOMEM;
		goto out;
	}
	info.bytes = sz;
	for (sqlite3_int64 off = 0; off < sz; off += PIECE) {
		size_t n = (size_t)(sz - off < PIECE ? sz - off : PIECE);

		if ((rc = sink->write(sink->arg, img + off, n)) != PV_OK)
			goto out;
	}
	*out = info;
out:
	if (b != NULL)
		(void)sqlite3_backup_finish(b);
	if (img != NULL)
		memset(img, 0, (size_t)sz);
	if (dst != NULL)
		sqlite3_close(dst);
	return rc;
}

const struct store_backup_ops store_sqlite_backup_ops = {
	.snapshot = sq_snapshot,
};
