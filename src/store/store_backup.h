/*
 * store/store_backup.h: online, consistent snapshots of the whole store for
 * src/backup/ (docs/internals/backup.md). Part of the store interface
 * (store.h includes every store_*.h); the backend's table for this domain is
 * in store_int.h.
 *
 * A snapshot is taken inside a STORE_RD transaction, so it is exactly the
 * state that transaction sees (SQLite: a WAL read snapshot), while writers
 * go on. SQLite copies it with the online backup API in small steps
 * (pages_per_step) into an in-memory database (the memdb VFS: the copy is
 * never on disk), then hands its bytes to the sink in order. The copy holds
 * the database image in this process's memory for the length of the call
 * (about the size of phivault.db).
 *
 * PostgreSQL (issue 15, written in parallel) answers PV_E_UNSUPPORTED until
 * it has its own (pg_dump-like) snapshot.
 */
#ifndef PV_STORE_BACKUP_H
#define PV_STORE_BACKUP_H

#include "store/store_core.h"

#define STORE_SNAPSHOT_TABLES_MAX 64
struct store_snapshot_table {
	char name[64];
	int64_t rows;
};
struct store_snapshot_info {
	int64_t bytes;                 /* size of the image handed to the sink */
	size_t ntables;                /* tables in name order */
	struct store_snapshot_table tables[STORE_SNAPSHOT_TABLES_MAX];
	int64_t audit_seq;             /* head of the audit chain in the snapshot (0: empty) */
	char audit_head[65];           /* its hash (hex), "" when empty */
};
struct store_snapshot_sink {
	/* the image, in order, in pieces of at most 1 MiB; an error stops */
	enum pv_rc (*write)(void *arg, const uint8_t *buf, size_t len);
	/* copy progress in pages (may be NULL); non-zero: give up (PV_E_UNAVAILABLE) */
	int (*progress)(void *arg, int64_t done, int64_t total);
	void *arg;
	int pages_per_step;            /* <= 0: 256 */
};
/* tx must be STORE_RD (PV_E_INVALID otherwise). PV_E_UNSUPPORTED on a
 * backend without snapshots. */
enum pv_rc store_snapshot(struct store_tx *tx, const struct store_snapshot_sink *sink,
    struct store_snapshot_info *out);

#endif /* PV_STORE_BACKUP_H */
