/*
 * store/store_audit.h: the audit trail and its signed checkpoints.
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_AUDIT_H
#define PV_STORE_AUDIT_H

#include "store/store_core.h"

/* ---- audit trail: table `audit`, one row per entry (DESIGN.md) ---- */
#define STORE_AUDIT_TEXT_COLS 10    /* time, actor, ..., prev_hash, hash */
struct store_audit_row {
	int64_t seq;
	const char *time;            /* RFC 3339 UTC with ms */
	const char *actor;           /* JSON object text: {"user_id","session_id","source"} */
	const char *action;
	const char *resource;
	const char *purpose_of_use;  /* "" if none */
	const char *outcome;         /* allowed | denied | error */
	const char *reason;          /* "" if none */
	const char *detail;          /* JSON object text, "{}" if none: field names, counts; never values */
	const char *prev_hash;       /* 64 hex */
	const char *hash;            /* 64 hex */
	/* Exact byte lengths of time .. hash (this order) as the backend read
	 * them: a tampered column can hold a NUL that strlen would stop at.
	 * Backends fill them and set has_len; a row a caller builds leaves
	 * has_len false and its strings are measured with strlen. */
	bool has_len;
	size_t len[STORE_AUDIT_TEXT_COLS];
};
enum pv_rc store_audit_append(struct store_tx *tx, const struct store_audit_row *row);
/* Last entry's seq and hash; seq 0 and 64 '0' if the trail is empty. */
enum pv_rc store_audit_head(struct store_tx *tx, int64_t *seq, char hash[65]);
struct store_audit_filter {
	int64_t since_seq;           /* entries with seq > since_seq */
	const char *actor_user_id;   /* NULL: any */
	const char *action;          /* NULL: any */
	size_t limit;                /* 0: no limit */
};
typedef int (*store_audit_cb)(const struct store_audit_row *row, void *arg);  /* non-zero stops */
/* In seq order. Row pointers are valid only during the callback. */
enum pv_rc store_audit_scan(struct store_tx *tx, const struct store_audit_filter *f,
    store_audit_cb cb, void *arg);

/*
 * The subject index (table audit_subjects, migration "subject index"): the
 * subject references a PHI access touched, one row per (ref, seq), written
 * by the audit writer in the entry's own transaction (accounting of
 * disclosures, 45 CFR 164.528). ref: 64 lowercase hex (a subject's keyed
 * reference, never its value). Putting the same pair twice is a no-op.
 */
#define STORE_AUDIT_SUBJECT_REF_LEN 64
enum pv_rc store_audit_subject_put(struct store_tx *tx, int64_t seq, const char *ref);
struct store_audit_subject_filter {
	const char *subject_ref;     /* required */
	int64_t since_seq;           /* entries with seq > since_seq */
	const char *time_from;       /* RFC 3339 UTC (the entries' form); entries with time >= it; NULL: any */
	const char *time_to;         /* entries with time < it; NULL: any */
	size_t limit;                /* 0: no limit */
};
/* The entries of one subject, in seq order, through the index (no scan of
 * the trail). Row pointers are valid only during the callback. */
enum pv_rc store_audit_subject_scan(struct store_tx *tx,
    const struct store_audit_subject_filter *f, store_audit_cb cb, void *arg);

struct store_checkpoint {
	int64_t seq;
	const char *hash;        /* 64 hex, the entry hash at seq */
	const char *time;
	const char *signature;   /* base64 Ed25519 over audit_checkpoint_message() */
	const char *key_id;      /* hex SHA-256 prefix of the public key */
};
enum pv_rc store_checkpoint_put(struct store_tx *tx, const struct store_checkpoint *cp);
typedef int (*store_checkpoint_cb)(const struct store_checkpoint *cp, void *arg);
enum pv_rc store_checkpoint_scan(struct store_tx *tx, store_checkpoint_cb cb, void *arg);
enum pv_rc store_checkpoint_count(struct store_tx *tx, int64_t *n);


#endif /* PV_STORE_AUDIT_H */
