/*
 * audit: the tamper-evident trail (DESIGN.md "Audit chain").
 *
 * Entry hash = SHA-256(prev_hash || canonical bytes of the entry), where the
 * canonical bytes are defined in audit_canonical() (docs/internals/audit.md).
 * Every checkpoint_every entries or checkpoint_interval_s seconds (while
 * unsealed) a checkpoint signs (seq, hash) with the Ed25519 audit key.
 *
 * The writer: the chain is the participant of the commit queue
 * (commit/commit.h), whose one thread owns every database write. Callers
 * submit a job (optional data change + optional audit entry), either waiting
 * (audit_commit) or with a completion (audit_submit), and the group that
 * holds it commits as BEGIN; per job SAVEPOINT, fn, RELEASE, audit row;
 * COMMIT. One fsync per group, not per request.
 *
 * Fail closed: if a group cannot commit, every job in it gets PV_E_AUDIT and
 * its changes are rolled back; the writer reloads the chain head from the
 * database so the chain stays consistent.
 *
 * States of the writer: RUNNING -> DRAINING (audit_stop: no new jobs
 * accepted, PV_E_UNAVAILABLE) -> STOPPED (queue empty, final checkpoint
 * written if unsealed, thread joined).
 */
#ifndef PV_AUDIT_H
#define PV_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "commit/commit.h"
#include "keys/keys.h"
#include "store/store.h"
#include "util/util.h"

struct audit;

enum audit_outcome { AUDIT_ALLOWED = 0, AUDIT_DENIED = 1, AUDIT_ERROR = 2 };
const char *audit_outcome_name(enum audit_outcome o);

/*
 * The actor: who performs an operation (DESIGN.md "Three seams", seam 1).
 * The one type that every domain operation, audit event and job takes, built
 * in exactly two places: authn_actor() from an authenticated HTTP principal
 * (authn.h), and audit_actor_system() for start-up, jobs and the CLI. It
 * lives here, in audit, because the lowest module that needs it is the
 * chain, which records it. Strings are borrowed: they live as long as the
 * principal (request arena) or static storage they point into.
 *
 * In the entry (column actor, JSON): user_id, session_id and source always;
 * auth (method), auth_time, elevations and break_glass only when set, so
 * an anonymous or system entry reads as it always did.
 */
enum pv_actor_kind {
	PV_ACTOR_ANONYMOUS = 0,  /* not authenticated (a login attempt) */
	PV_ACTOR_USER,
	PV_ACTOR_APP,            /* workload identity (directory apps: not yet) */
	PV_ACTOR_SYSTEM,         /* the process itself: init, serve, jobs, CLI */
};

#define PV_ACTOR_ELEVATIONS_MAX 8

struct pv_actor {
	enum pv_actor_kind kind;
	const char *user_id;     /* the user's or app's ID, "system", or "anonymous";
	                          * NULL = "anonymous" */
	const char *session_id;  /* NULL if none */
	const char *source;      /* client address; NULL if local */
	const char *auth_method; /* "password" or "password+mfa"; NULL if not authenticated */
	int64_t auth_ms;         /* when the session was authenticated (login); 0 if none */
	bool mfa;                /* the session passed a second factor */
	/* JIT elevations and the break-glass grant in force: the fields exist so
	 * the operations already take them; nothing grants them yet. */
	size_t nelevations;
	const char *elevations[PV_ACTOR_ELEVATIONS_MAX];
	const char *break_glass; /* grant ID; NULL if none */
};

/* The actor of work the process does on its own behalf (kind SYSTEM,
 * user_id "system", no session, no source). */
struct pv_actor audit_actor_system(void);

struct audit_event {
	struct pv_actor actor;
	const char *action;           /* API.md action name, e.g. "record.read" */
	const char *resource;         /* e.g. "collections/patients/records/rec_x"; never a PHI value */
	const char *purpose_of_use;   /* HL7 code or NULL */
	enum audit_outcome outcome;
	const char *reason;           /* short machine reason, e.g. "bad_password"; NULL if none */
	const char *detail;           /* JSON object text or NULL: field names, counts; never values */
	/*
	 * The detail as a jansson object instead of text (detail NULL; both set
	 * is PV_E_INVALID): borrowed, never changed, read only while the call
	 * that takes the event runs. Stored as exactly the bytes its text
	 * would be (compact, sorted keys), without that text being written
	 * and parsed again: for a caller that builds the detail as a tree
	 * anyway (the record read, docs/internals/audit.md "Preparing an
	 * entry").
	 */
	struct json_t *detail_obj;
	/*
	 * Accounting of disclosures (45 CFR 164.528; docs/internals/audit.md
	 * "Subject index"): the subject references (64 lowercase hex, the
	 * keyed HMAC of vault_subject_ref, never a value) of the patients a
	 * PHI access concerned, and the outside recipient it was made to
	 * (X-Disclosure-Recipient, validated by the caller). The writer puts
	 * them into the entry's detail ("subjects": sorted, unique;
	 * "recipient"), so the chain covers them, and writes one
	 * audit_subjects row per ref in the entry's own transaction. NULL/0:
	 * none (every older caller).
	 */
	const char *const *subjects;
	size_t nsubjects;             /* at most AUDIT_SUBJECTS_MAX */
	const char *recipient;
};
#define AUDIT_SUBJECTS_MAX 1024

struct audit_config {
	int checkpoint_every;         /* entries; >= 1 */
	int checkpoint_interval_s;    /* seconds; >= 1 */
	int max_group;                /* most jobs per commit; 0 = default (256) */
};

/* A data change run on the writer thread inside the entry's transaction. */
typedef enum pv_rc (*audit_job_fn)(struct store_tx *tx, void *arg);

/*
 * One more entry of the transaction whose fn is running (call it from that
 * fn, on the committer, with any form: audit_submit, audit_commit, the held
 * forms): a change that is two audited operations at once (a user and the
 * dual-control request naming it) commits with both entries or with
 * neither. ev is validated and copied now (PV_E_INVALID: bad ev, or not
 * inside an fn); the entry is appended after the transaction's own (if
 * any), in call order, and like it becomes outcome "error" with reason
 * pv_rc_name(rc) if fn fails after all; subscribers get every entry. At
 * most AUDIT_TX_ENTRIES_MAX per transaction.
 */
#define AUDIT_TX_ENTRIES_MAX 64
enum pv_rc audit_tx_entry(const struct audit_event *ev);

enum pv_rc audit_start(struct store *st, struct keys *keys, const struct audit_config *cfg,
    struct audit **out);
/* Drain, write a final checkpoint if unsealed, join the writer, free. */
void audit_stop(struct audit *a);

/*
 * The asynchronous form: validate ev (PV_E_INVALID before anything is
 * queued), copy it, queue fn + ev at prio and return at once. done(rc,
 * done_arg) runs exactly once on the committer thread after the group's
 * fsync (rc as audit_commit would return it) -- or never, if this returns an
 * error. done must not block; it may submit again.
 */
typedef void (*audit_done_fn)(enum pv_rc rc, void *arg);
enum pv_rc audit_submit(struct audit *a, const struct audit_event *ev, audit_job_fn fn,
    void *arg, enum commit_prio prio, audit_done_fn done, void *done_arg);
/*
 * One transaction carrying several entries (a change made of several
 * operations that must commit whole, e.g. a SCIM request: the directory's
 * change sets, docs/internals/directory.md "Change sets"): fn runs, then
 * evs[0..nev) are appended in order in the same transaction, so every entry
 * commits with the change or none does; if fn fails, its changes are rolled
 * back and each entry is recorded with outcome "error" (reason
 * pv_rc_name(rc)). Otherwise as audit_submit / audit_commit_at (which are
 * these with nev 0 or 1). nev 0: fn alone.
 */
enum pv_rc audit_submitv(struct audit *a, const struct audit_event *evs, size_t nev,
    audit_job_fn fn, void *arg, enum commit_prio prio, audit_done_fn done, void *done_arg);
enum pv_rc audit_commitv(struct audit *a, const struct audit_event *evs, size_t nev,
    audit_job_fn fn, void *arg, enum commit_prio prio);
/* The commit queue the chain participates in (commit_subscribe: committed
 * entries in commit order, for detection and SIEM sinks). */
struct commit_queue *audit_queue(struct audit *a);

/* Append one entry; returns once it is durable. PV_E_AUDIT if it could not be. */
enum pv_rc audit_record(struct audit *a, const struct audit_event *ev);
/*
 * Append one entry that the current request's answer must not overtake (an
 * audited refusal). On an HTTP request thread (util.h "answers held for a
 * commit") it is submitted with a hold on the answer and PV_OK returns at
 * once: the answer leaves after the entry's fsync, and if the entry is not
 * durable it becomes PV_E_AUDIT (fail_closed) or stands with the failure
 * logged (!fail_closed). Elsewhere (CLI, jobs, unit tests, the committer)
 * it is audit_record. PV_E_AUDIT if the entry could not even be queued.
 */
enum pv_rc audit_record_held(struct audit *a, const struct audit_event *ev, bool fail_closed);
/*
 * Run fn (may be NULL) and append ev (may be NULL) in one transaction;
 * returns once durable. If fn fails its changes are rolled back, ev is
 * recorded with outcome "error" and reason = pv_rc_name(rc), and fn's rc is
 * returned. If the commit fails: PV_E_AUDIT, nothing of fn persists.
 */
enum pv_rc audit_commit(struct audit *a, const struct audit_event *ev, audit_job_fn fn, void *arg);
/*
 * audit_commit without a waiting thread, for a write whose answer does not
 * depend on what fn computes (the answer is built from what the caller knew
 * before, e.g. an ID it generated). On an HTTP request thread with a holder
 * (util.h "answers held for a commit"), fn + ev are queued with a hold on
 * the request's answer and PV_OK returns at once: the answer the handler
 * then builds leaves only after the group's fsync, and if fn failed or the
 * group did not commit it is replaced by fn's rc (or PV_E_AUDIT), so no
 * answer ever claims a write that did not happen. fn runs later, on the
 * committer: arg must be heap memory that the call owns from here on, and
 * arg_free(arg) (may be NULL) runs exactly once after fn, on every path
 * (also when nothing could be queued). After PV_OK the caller must neither
 * read what fn writes into arg nor expect fn's changes in the store. Off a
 * request thread (CLI, jobs, tests) it is audit_commit, then arg_free.
 * Errors: PV_E_INVALID (bad ev), PV_E_AUDIT / PV_E_UNAVAILABLE (not queued).
 */
enum pv_rc audit_commit_held(struct audit *a, const struct audit_event *ev, audit_job_fn fn,
    void *arg, void (*arg_free)(void *arg));
/* audit_commit at a priority: background work (jobs) passes COMMIT_BACKGROUND,
 * so it fills a group only after requests and within a bounded share. */
enum pv_rc audit_commit_at(struct audit *a, const struct audit_event *ev, audit_job_fn fn,
    void *arg, enum commit_prio prio);

/* Entries appended since start and the chain head (for /v1/audit/verify, metrics). */
void audit_head(struct audit *a, int64_t *seq, char hash[65]);

/* ---- offline ---- */
struct audit_verify_result {
	bool ok;
	int64_t entries;          /* entries checked */
	int64_t checkpoints;      /* checkpoints whose signature verified */
	int64_t first_bad_seq;    /* 0 if ok */
	char head[65];            /* hash of the last entry */
	char reason[160];         /* why it failed, no PHI */
	int64_t head_seq;         /* seq of the last entry (0: empty trail) */
	char code[16];            /* "" if ok, else AUDIT_VERIFY_CHAIN_BROKEN or
	                           * AUDIT_VERIFY_SIGNATURE_BAD */
};
/* Stable reasons of a failed verification (the audit.verify entry's reason). */
#define AUDIT_VERIFY_CHAIN_BROKEN "chain_broken"    /* an entry edited, dropped or inserted */
#define AUDIT_VERIFY_SIGNATURE_BAD "signature_bad"  /* a checkpoint signature or key does not verify */
/* Recompute the chain and every checkpoint signature from the store alone.
 * pub NULL: the public key stored in the data directory's meta. */
enum pv_rc audit_verify(struct store *st, const uint8_t *pub, struct audit_verify_result *out);

/*
 * What an outside verifier brings, so that it need not trust the database
 * it checks: the checkpoint key it recorded at init (pub), and the last head
 * (expect_seq, expect_hash) it saw. With pub set, a stored public key that
 * differs from it is tampering (a forger who rewrote the chain re-signs the
 * checkpoints with a key of his own and stores that key). With expect_seq
 * >= 1, entry expect_seq must exist with hash expect_hash (64 hex): this
 * catches a tail cut or rewritten after the last checkpoint.
 */
struct audit_verify_opts {
	const uint8_t *pub;       /* NULL: the stored key */
	const char *fingerprint;  /* or the expected key's fingerprint (audit_key_fingerprint);
	                           * the stored key is used iff it matches */
	int64_t expect_seq;       /* 0: no expectation */
	const char *expect_hash;  /* with expect_seq */
};
enum pv_rc audit_verify_with(struct store *st, const struct audit_verify_opts *opts,
    struct audit_verify_result *out);

/*
 * Record the result of a verification run on behalf of actor (the API's
 * GET /v1/audit/verify): one entry audit.verify, resource "audit", outcome
 * allowed with reason "ok", or error with reason vr->code and detail
 * {"first_bad_seq":N,"entries":N} (seq numbers only, like the reasons).
 * An audit_record_held entry: on a request thread the answer waits for it
 * (nobody blocks), elsewhere it returns once durable; PV_E_AUDIT if it
 * could not be.
 */
enum pv_rc audit_verify_record(struct audit *a, const struct pv_actor *actor,
    const struct audit_verify_result *vr);

/* Fingerprint of a checkpoint key for operators to record at init:
 * "SHA256:" + 64 lowercase hex digits of SHA-256(raw 32-byte Ed25519 key). */
#define AUDIT_FINGERPRINT_LEN (7 + 64)
enum pv_rc audit_key_fingerprint(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    char out[AUDIT_FINGERPRINT_LEN + 1]);
/* The raw key of an Ed25519 SubjectPublicKeyInfo PEM (RFC 8410), the form
 * GET /v1/audit/public-key serves. PV_E_INVALID for anything else. */
enum pv_rc audit_public_key_from_pem(const char *pem, size_t len,
    uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
/* "SEQ:HASH" (seq >= 1, 64 hex digits) into its parts; PV_E_INVALID otherwise. */
enum pv_rc audit_head_parse(const char *s, int64_t *seq, char hash[65]);

/* Canonical bytes of a row (everything but hash); *out malloc'd. */
enum pv_rc audit_canonical(const struct store_audit_row *row, uint8_t **out, size_t *len);
/* The message a checkpoint signs: "phivault-audit-checkpoint-v1\n<seq>\n<hash>\n". */
size_t audit_checkpoint_message(int64_t seq, const char *hash_hex, char *buf, size_t cap);

/* Export entries with seq > since_seq: format "jsonl" (one JSON object a line),
 * "cef" or "syslog" (RFC 5424). */
/* The IDs in an entry's actor column (its JSON text), borrowed from root;
 * NULL where absent or when the text does not parse. json_decref(root) when
 * done. For the exporters (export.c) and the SIEM formatters (sinks). */
struct json_t;
struct audit_actor_fields {
	struct json_t *root;
	const char *user_id, *session_id, *source;
};
void audit_actor_fields_parse(const char *actor_json, struct audit_actor_fields *a);

enum pv_rc audit_export(struct store *st, const char *format, int64_t since_seq, FILE *out);

#endif /* PV_AUDIT_H */
