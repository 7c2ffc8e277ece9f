/*
 * vault_int.h: internals shared by the vault module's files and its unit
 * tests. Nothing here is API (vault.h is).
 */
#ifndef PV_VAULT_INT_H
#define PV_VAULT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "vault/vault.h"

/* snprintf into err (if err && errlen), for messages that name a field or a
 * key, never a value. */
void vault_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A key from a request, safe to put in an error message: the key itself if
 * it is a valid field name, else a fixed placeholder (an invalid "key" might
 * be a value pasted in the wrong place). */
const char *vault_safe_key(const char *key);

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool vault_utf8_valid(const char *s, size_t len);

/* Wipe memory that held PHI; not optimised away. */
void vault_wipe(void *p, size_t len);

/* ======================================================================
 * Wiring internals (service.c, ops_*.c, routes.c) and their unit tests.
 * ====================================================================== */

#include <pthread.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "http/http.h"
#include "keys/keys.h"
#include "store/store.h"

#define VAULT_KEK_RECORDS_PREFIX "collection:"   /* + collection: record DEKs */
#define VAULT_KEK_INDEX_PREFIX "index:"          /* + collection: blind-index keys */
#define VAULT_KEK_TOKENS "tokens"                /* token values, deterministic tokens */
#define VAULT_KEK_INCIDENTS "incidents"          /* breach-scope results (ops_incidents.c) */
#define VAULT_KEK_NAME_MAX 128
#define VAULT_BATCH_MAX 100                      /* items in one records:batch call */
#define VAULT_SEARCH_MAX 100                     /* records in one search answer */
#define VAULT_LIST_DEFAULT 50                    /* records in one listing page by default */
#define VAULT_LIST_MAX 500                       /* ... and at most */
#define VAULT_RESOURCE_MAX 192                   /* "collections/<c>/records/<id>" */

struct vault_ctx {
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	char allowed_regions[512];
	bool kek_default_pkcs11;           /* [pkcs11] kek_default = on */
	/* Parsed schemas. Entries are never removed or changed while the
	 * vault runs (collections are immutable), so a pointer handed out
	 * stays valid until vault_free. */
	pthread_rwlock_t mu;
	struct vault_collection **colls;
	size_t ncolls, cap;
	struct vault_keyadmin *keyadmin;   /* ops_keys.c (vault_keys_install), or NULL */
	struct vault_retention *retention; /* ops_retention.c (vault_retention_install), or NULL */
	struct vault_breakglass *breakglass; /* ops_breakglass.c (vault_breakglass_install), or NULL */
	struct vault_incidents *incidents; /* ops_incidents.c (vault_incidents_install), or NULL */
	struct vault_export *exporter;     /* ops_export.c (vault_export_install), or NULL */
};

enum pv_rc vault_ctx_new(const struct vault_deps *d, struct vault_ctx **out);
/* /v1/breakglass and /v1/reviews (routes_breakglass.c). */
enum pv_rc vault_routes_breakglass(struct http_server *srv, struct vault_ctx *v);

/* The collection's schema: from the cache, else from the store (then
 * cached). PV_E_NOTFOUND if there is no such collection (or the name is not
 * a valid one). */
enum pv_rc vault_coll_get(struct vault_ctx *v, const char *name,
    const struct vault_collection **out);
/* Add a just-created collection to the cache (a copy). */
enum pv_rc vault_coll_cache_put(struct vault_ctx *v, const struct vault_collection *c);

/* "collection:<c>" / "index:<c>" into buf (>= VAULT_KEK_NAME_MAX). */
void vault_kek_records(const char *collection, char *buf, size_t len);
void vault_kek_index(const char *collection, char *buf, size_t len);

/*
 * Seal a record's (validated, canonical) fields as version `version` under a
 * fresh DEK wrapped by the collection's current KEK version, AAD =
 * vault_record_aad(collection, id, version). Fills every envelope member of
 * *out (id, collection, version, kek, wrapped_dek, ciphertext; times are the
 * caller's); free with store_record_clear.
 */
enum pv_rc vault_record_seal(struct keys *k, const char *collection, const char *id,
    uint32_t version, json_t *fields, struct store_record *out);
/* Open a stored record (AAD from its own collection, ID and version) into a
 * fields object. PV_E_NOTFOUND if it was shredded, PV_E_INTEGRITY if the tag
 * does not verify (moved, rolled back or tampered). */
enum pv_rc vault_record_open(struct keys *k, const struct store_record *r, json_t **fields_out);

/* ---- subject keys (subject.c; docs/internals/vault.md "Subjects") ---- */
#define VAULT_KEK_SUBJECTS "subjects"   /* subject keys and the subject-reference MAC */
/* A record's subject, as loaded with it: linked false for a record without
 * one; else the subject's reference and its key envelope. */
struct vault_subject_env {
	bool linked;
	char ref[STORE_SUBJECT_REF_LEN + 1];
	struct keys_subject_key sk;
};
/* ref = hex HMAC-SHA256(keys_mac(KEK "subjects", "ref"),
 * "phivault:subject:v1|<value>"). PV_E_NOTFOUND if no subject was ever made
 * (KEK "subjects" does not exist yet), PV_E_INVALID for an empty value or
 * one over 4096 bytes. The input buffer is wiped. */
enum pv_rc vault_subject_ref(struct keys *k, const char *value,
    char ref[STORE_SUBJECT_REF_LEN + 1]);
/* A write's subject key, without a commit: the stored one (*row NULL), or
 * (the subject's first write) a new one made in memory, its row in *row
 * (the caller's: store_subject_clear + free) for the write's own
 * transaction. PV_E_SUBJECT_SHREDDED if the subject was shredded. */
enum pv_rc vault_subject_for_write(struct vault_ctx *v, const char *ref,
    struct vault_subject_env *out, struct store_subject **row);
/* In a write's transaction: put a new subject's row unless the subject was
 * shredded (PV_E_SUBJECT_SHREDDED); one another write stored first is fine
 * (that key is the one). */
enum pv_rc vault_subject_put_row_tx(struct store_tx *tx, const struct store_subject *row);
/* The subject key of a store row into se (PV_E_INTEGRITY if malformed). */
enum pv_rc vault_subject_env_from(const struct store_subject *s, struct vault_subject_env *se);
/* In tx: the record (store_record_get) and its subject's key. A record whose
 * subject was shredded: PV_E_SUBJECT_SHREDDED. */
enum pv_rc vault_record_fetch(struct store_tx *tx, const char *collection, const char *id,
    struct store_record *r, struct vault_subject_env *se);
/* vault_record_seal / _open with the record's DEK wrap wrapped once more
 * under the subject key (se NULL or not linked: exactly vault_record_seal /
 * _open). Outer AAD: phivault:subject-dek:v1|<ref>|<collection>|<id>|<version>. */
enum pv_rc vault_record_seal_env(struct keys *k, const char *collection, const char *id,
    uint32_t version, json_t *fields, const struct vault_subject_env *se,
    struct store_record *out);
enum pv_rc vault_record_open_env(struct keys *k, const struct store_record *r,
    const struct vault_subject_env *se, json_t **fields_out);
/* The KEK-wrapped DEK of a record (inner, KEYS_WRAPPED_DEK_LEN) out of its
 * stored wrap, and back (re-encryption: rewrap the inner one, keep the
 * subject layer). */
enum pv_rc vault_subject_dek_peel(struct keys *k, const struct store_record *r,
    const struct vault_subject_env *se, uint8_t inner[KEYS_WRAPPED_DEK_LEN]);
enum pv_rc vault_subject_dek_wrap(struct keys *k, const char *collection, const char *id,
    uint32_t version, const struct vault_subject_env *se,
    const uint8_t inner[KEYS_WRAPPED_DEK_LEN], uint8_t **out, size_t *outlen);

/* ---- key administration (ops_keys.c; routes_keys.c adapts them) ---- */
struct vault_keyadmin;
struct store_tx;
void vault_keys_list(struct vault_ctx *v, const struct vault_caller *who,
    vault_done_fn done, void *arg);
void vault_key_rotate(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, vault_done_fn done, void *arg);
void vault_key_policy(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, json_t *body, vault_done_fn done, void *arg);
void vault_key_reencrypt(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, json_t *body, vault_done_fn done, void *arg);
void vault_key_retire(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, const char *version, vault_done_fn done, void *arg);
void vault_key_revoke(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, const char *version, json_t *body, vault_done_fn done, void *arg);
/* PATCH /v1/collections/{c} {"double_encryption":bool}: the policy of
 * collection:<c> asks for it, the key rotates to a version with (or
 * without) double encryption and a keys.reencrypt job (rewrap_dek) moves
 * every record to it: 202 {"collection","double_encryption","version","job"}. */
void vault_collection_double(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *collection, json_t *body, vault_done_fn done, void *arg);
/* POST /v1/keys/{name}/versions/{v}/compromised {"confirm":"<name>:<v>"}:
 * mark the version compromised (rotate first if it is active), queue an
 * uncapped re-encryption (re-index for an index key); audited
 * key.compromised. */
void vault_key_compromised(struct vault_keyadmin *ka, const struct vault_caller *who,
    const char *name, const char *version, json_t *body, vault_done_fn done, void *arg);
/* A read opened something under (kek_name, version): if that version is
 * marked compromised, record key.compromised_use (at most once a minute
 * per version; the detector raises the alert). */
void vault_key_used(struct vault_ctx *v, const struct vault_caller *who, const char *kek_name,
    uint32_t version);
struct vault_ctx *vault_keyadmin_vault(struct vault_keyadmin *ka);
void vault_keyadmin_free(struct vault_keyadmin *ka);   /* stops the sweeper first */
struct http_server;
enum pv_rc vault_routes_keys(struct http_server *srv, struct vault_keyadmin *ka);
enum pv_rc vault_routes_subjects(struct http_server *srv, struct vault_ctx *v);

/* ---- retention (ops_retention.c; routes_retention.c adapts it) ---- */
struct vault_retention;
/* Queue a retention run now: 202 {"job"}; 409 job_conflict if one is
 * queued, running or paused. Audited retention.run. */
void vault_retention_run(struct vault_retention *rt, const struct vault_caller *who,
    vault_done_fn done, void *arg);
enum pv_rc vault_routes_retention(struct http_server *srv, struct vault_retention *rt);
struct vault_ctx *vault_retention_vault(struct vault_retention *rt);

/* ---- breach scope (ops_incidents.c; docs/governance.md "Breach scope") ----
 * The route (incidents.manage) decided; each answers through done once its
 * entry (incident.create / incident.list / incident.read) is durable. */
struct vault_incidents;
/* body {"actors","sources","since","until","revoke"} -> 202 {"job","incident",
 * "state","revoked"}; PV_E_INVALID (400) with a message naming the member. */
void vault_incident_create(struct vault_incidents *in, const struct vault_caller *who,
    json_t *body, vault_done_fn done, void *arg);
void vault_incident_list(struct vault_incidents *in, const struct vault_caller *who,
    vault_done_fn done, void *arg);
/* format NULL | "json" | "csv" (one row per subject x collection). */
void vault_incident_get(struct vault_incidents *in, const struct vault_caller *who,
    const char *id, const char *format, vault_done_fn done, void *arg);
enum pv_rc vault_routes_incidents(struct http_server *srv, struct vault_incidents *in);
void vault_incidents_free(struct vault_incidents *in);
void vault_retention_free(struct vault_retention *rt);
/* One record of the re-encryption walk, in tx: moved to to_version
 * (rewrap_dek, or full: a fresh DEK and a re-sealed body, same record
 * version and AAD) unless it is already there, shredded or gone. */
enum pv_rc vault_reencrypt_record(struct vault_ctx *v, struct store_tx *tx,
    const char *collection, const char *id, uint32_t to_version, bool full, bool *moved);
/* One token of the "tokens" re-encryption walk (ops_tokens.c), in tx: its
 * DEK moved to to_version (rewrap_dek; full: the value re-sealed under a
 * fresh DEK with the v2 AAD) and, for a deterministic token, its lookup
 * MAC made again under to_version (the value is opened for it inside the
 * keyring's call and wiped), unless it is there already. *moved if
 * written; a token changed under the step (PV_E_CONFLICT) is left alone.
 * PV_E_FORBIDDEN / PV_E_INTEGRITY: it cannot move (revoked, damaged). */
enum pv_rc vault_reencrypt_token(struct vault_ctx *v, struct store_tx *tx,
    const struct store_token *t, uint32_t to_version, bool full, bool *moved);

/* ---- de-identified export (ops_export.c; routes_export.c adapts it) ----
 * create: body {"mode":"safe_harbor","pseudonym":bool} -> 202 {"job","export"}
 * (records.export on c; audited export.create); list: {"exports":[...]} (the
 * ones the caller may export, every one for access.approve); get: one
 * export; file: the JSON lines (text, application/x-ndjson; chunk NULL: the
 * whole file, else one chunk's index as text; audited export.download);
 * delete: no body (audited export.delete). PV_E_NOTFOUND for an unknown,
 * deleted or expired export; PV_E_STATE for a download before it is done. */
struct vault_export;
void vault_export_create(struct vault_export *ve, const struct vault_caller *who,
    const char *collection, json_t *body, vault_done_fn done, void *arg);
void vault_export_list(struct vault_export *ve, const struct vault_caller *who,
    vault_done_fn done, void *arg);
void vault_export_get(struct vault_export *ve, const struct vault_caller *who, const char *id,
    vault_done_fn done, void *arg);
void vault_export_file(struct vault_export *ve, const struct vault_caller *who, const char *id,
    const char *chunk, vault_done_fn done, void *arg);
void vault_export_delete(struct vault_export *ve, const struct vault_caller *who,
    const char *id, vault_done_fn done, void *arg);
enum pv_rc vault_routes_export(struct http_server *srv, struct vault_export *ve);
void vault_export_free(struct vault_ctx *v);

/* ---- the caller and the answer (ops.c): what operations share ---- */

/* The purpose of use if it is a valid code, else NULL (writes: recorded
 * if given). */
const char *vault_purpose_optional(const struct vault_caller *who);
/* One durable audit entry with the caller's actor; audit_record's rc. A PHI
 * read answers nothing unless this returned PV_OK. */
enum pv_rc vault_audit(struct vault_ctx *v, const struct vault_caller *who, const char *action,
    const char *resource, const char *purpose, enum audit_outcome outcome, const char *reason,
    const char *detail);
/* An entry whose failure the answer survives (logged): held on a request
 * thread (audit_record_held, !fail_closed), audit_record elsewhere. */
enum pv_rc vault_audit_note(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, enum audit_outcome outcome, const char *detail);
/*
 * A write answered from its completion, no thread waiting for the fsync
 * (docs/internals/vault.md "Writes without a waiting thread"). The op is
 * the head of a heap job the caller fills (v, done, done_arg, finish,
 * release: NULL frees the op). vault_op_submit queues fn(tx, fn_arg) + ev
 * (audit_submit, COMMIT_REQUEST); after the fsync, on the committer thread,
 * finish(op, rc, &a) builds the answer from what fn computed (rc as
 * audit_commit returns it; cheap work only, never a blocking commit). A
 * finish that calls vault_op_refuse has the refusal's entry (error, or
 * denied for PV_E_FORBIDDEN, reason the code) submitted after, and the
 * answer (rc, msg) leaves once it is durable (PV_E_AUDIT if not). Then the
 * op is released. If nothing could be queued the answer is sent at once.
 * The actor's strings must live until the answer is sent (the request's).
 */
struct vault_op;
typedef void (*vault_op_finish_fn)(struct vault_op *op, enum pv_rc rc, struct vault_answer *a);
struct vault_op {
	struct vault_ctx *v;
	vault_done_fn done;
	void *done_arg;
	vault_op_finish_fn finish;
	void (*release)(struct vault_op *op);
	/* another attempt (shred's recount): finish sets again, and op_done
	 * calls resubmit instead of answering; resubmit answers from then on */
	void (*resubmit)(struct vault_op *op);
	bool again;
	/* set by vault_op_submit / vault_op_refuse */
	struct pv_actor actor;
	bool refuse;
	enum audit_outcome refuse_outcome;
	char refuse_reason[48];
	enum pv_rc refuse_rc;
	char refuse_action[48];
	char refuse_resource[256];
	char refuse_msg[VAULT_ERR_MAX];
};
void vault_op_submit(struct vault_op *op, const struct audit_event *ev, audit_job_fn fn,
    void *fn_arg);
/* Outcome denied for PV_E_FORBIDDEN else error, reason pv_rc_name(rc). */
void vault_op_refuse(struct vault_op *op, const char *action, const char *resource,
    enum pv_rc rc, const char *msg);
void vault_op_refuse_as(struct vault_op *op, const char *action, const char *resource,
    enum audit_outcome outcome, const char *reason, enum pv_rc rc, const char *msg);
/* As if the transaction had returned rc: finish, then the answer (for an
 * attempt that failed before its submit, on any thread). */
void vault_op_complete(struct vault_op *op, enum pv_rc rc);
/* A refusal's entry (vault_fail_audited): on a request thread the answer,
 * not the thread, waits for its commit (audit_record_held, fail closed);
 * elsewhere vault_audit. */
enum pv_rc vault_audit_refusal(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, enum audit_outcome outcome,
    const char *reason);
/*
 * A PHI read's last step, without blocking: submit its entry (outcome
 * allowed, the caller's actor) and answer body (taken; with version as the
 * ETag, 0 for none) from the commit completion once the entry is durable;
 * if it is not, the body is dropped and the answer is PV_E_AUDIT (fail
 * closed). done is called exactly once, possibly on the committer thread
 * and possibly before this returns.
 */
void vault_answer_durable(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, const char *detail,
    json_t *body, uint32_t version, vault_done_fn done, void *arg);
/* {"fields":[names of obj's keys, in obj's order]} plus extra members (may
 * be NULL; stolen). Names only, never values. NULL on allocation failure.
 * _tree: the same as a jansson object, for audit_event.detail_obj (the
 * writer stores the bytes of its text without that text being written and
 * parsed again; docs/internals/audit.md "Preparing an entry"). */
char *vault_detail_fields(json_t *obj, json_t *extra);
json_t *vault_detail_fields_tree(json_t *obj, json_t *extra);

/*
 * The operation's call of the decision point (authz_decide at the resource
 * stage): `action` ("records.read", "tokens.detokenize", ...) on
 * `collection`, with the caller's subject, source and purpose of use. A
 * denial is audited by the decision point (audit_action, resource) and put
 * in *a (PV_E_PURPOSE, PV_E_FORBIDDEN, PV_E_AUDIT if it could not be
 * recorded, with the decision's message); its rc is returned. *purpose
 * (may be NULL): the caller's purpose if it is a valid code, else NULL.
 */
enum pv_rc vault_decide(struct vault_ctx *v, const struct vault_caller *who,
    const char *audit_action, const char *resource, const char *action,
    const char *collection, const char **purpose, struct vault_answer *a);

/* The same decision, not recorded (q.audit NULL): whether to show an item
 * of a listing, never to refuse an operation. */
bool vault_decide_quiet(const struct vault_caller *who, const char *action,
    const char *collection);

/* An answer: empty (rc PV_OK, no body); a refusal (rc and msg, copied,
 * NULL for the code's own; returns rc). */
void vault_answer_init(struct vault_answer *a);
enum pv_rc vault_answer_fail(struct vault_answer *a, enum pv_rc rc, const char *msg);
/* Record a failed operation (not found: error, forbidden: denied, ...)
 * and put rc with msg in *a; PV_E_AUDIT if the entry fails. Returns a->rc. */
enum pv_rc vault_fail_audited(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, enum pv_rc rc,
    const char *msg, struct vault_answer *a);
/* done(a) once, then a's body is released if done left it. */
void vault_answer_send(struct vault_answer *a, vault_done_fn done, void *arg);
/* The end of an operation that stopped with rc: a's own failure if it has
 * one, else rc's (vault_answer_fail, no message) unless rc is PV_OK; then
 * vault_answer_send. */
void vault_answer_finish(struct vault_answer *a, enum pv_rc rc, vault_done_fn done, void *arg);

/* ---- accounting of disclosures (ops_disclosures.c) ---- */
#define VAULT_RECIPIENT_HEADER "X-Disclosure-Recipient"
#define VAULT_RECIPIENT_MAX 200
/* The caller's recipient if it is a valid one (1..VAULT_RECIPIENT_MAX
 * printable ASCII, not all blanks), else NULL. */
const char *vault_recipient_valid(const struct vault_caller *who);
/* The entry of a PHI access: who, the subjects it concerns (refs, n; the
 * writer indexes them) and the caller's recipient. */
void vault_event_phi(struct audit_event *ev, const struct vault_caller *who,
    const char *const *refs, size_t n);
/* vault_answer_durable with the subjects the answer concerns. */
void vault_answer_durable_phi(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, const char *detail,
    const char *const *refs, size_t nrefs, json_t *body, uint32_t version, vault_done_fn done,
    void *arg);
/* A set of subject refs (search, list): add one ("" is ignored). */
struct vault_refs {
	char (*ref)[STORE_SUBJECT_REF_LEN + 1];
	const char **ptr;
	size_t n, cap;
};
enum pv_rc vault_refs_add(struct vault_refs *r, const char *ref);
void vault_refs_free(struct vault_refs *r);
/* vault_record_load_view and the record's subject ref (into ref, "" if the
 * record has none; ref may be NULL). */
enum pv_rc vault_record_load_view_ref(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_collection *c, const char *id, json_t **view, json_t **detail,
    char ref[STORE_SUBJECT_REF_LEN + 1]);
/* The subject ref of a stored record ("" if it has none or there is no such record). */
void vault_record_subject_ref(struct vault_ctx *v, const char *collection, const char *id,
    char ref[STORE_SUBJECT_REF_LEN + 1]);

/* ---- HTTP adapter helpers (service.c), for routes.c only ---- */

/* The caller of a request: its principal, authn_actor of it (into *actor),
 * X-Purpose-Of-Use. who borrows the request's strings. */
void vault_caller_from(struct http_request *req, struct pv_actor *actor,
    struct vault_caller *who);
/* A route's reply to an operation's answer: vault_reply_new(req, status of
 * success) in the request arena, passed with vault_reply_done as the
 * operation's completion; the route then returns PV_PENDING. The reply
 * sets the ETag of a single record, the body or the error, and resumes
 * the request. */
struct vault_reply;
struct vault_reply *vault_reply_new(struct http_request *req, int status);
void vault_reply_done(struct vault_answer *a, void *arg);
/* What a route passes to an operation: the caller (vault_caller_from) and a
 * reply (vault_reply_new) with the status of success. vault_call_begin
 * fills c, or returns PV_E_NOMEM (then the route returns that); the route
 * passes &c->who and vault_reply_done, c->reply, and returns PV_PENDING. */
struct vault_call {
	struct pv_actor actor;
	struct vault_caller who;   /* who.actor is &actor */
	struct vault_reply *reply;
};
enum pv_rc vault_call_begin(struct http_request *req, int status, struct vault_call *c);

/* One item of a batch: an audit entry and an optional data change,
 * submitted with the others (ops_batch.c). */
struct vault_job {
	struct audit_event ev;
	audit_job_fn fn;
	void *arg;
	enum pv_rc rc;          /* out: the commit's */
};

/* ---- record_io.c: shared by ops_records.c and ops_batch.c ---- */
/* One blind-index change of a write. */
struct vault_bidx_entry {
	char field[VAULT_NAME_MAX];
	bool put;                       /* false: delete only (field removed) */
	uint8_t mac[VAULT_BLIND_LEN];
	uint32_t mac_version;           /* the "index:<c>" version mac is under */
};

/* A record write run by the audit writer: insert (expected_version 0) or
 * update, then the blind-index changes. */
struct vault_write_job {
	struct store_record rec;
	uint32_t expected_version;      /* 0: insert */
	bool if_match;                  /* update under If-Match: a lost race is 412, not 409 */
	bool reindex_all;               /* insert: every entry is new */
	size_t nbidx;
	struct vault_bidx_entry bidx[VAULT_MAX_FIELDS];
	bool subject_link;              /* the collection has a subject field: (re)link */
	char subject_ref[STORE_SUBJECT_REF_LEN + 1];   /* "" : the record has no subject */
	/* A subject's first record: its key, made in memory, is put in the
	 * write's own transaction (vault_subject_put_tx) instead of a commit of
	 * its own before it. cur_se: the key rec's DEK is wrapped under now
	 * (new_subject's, or the stored one's if another write made it first). */
	struct store_subject *new_subject;
	struct vault_subject_env cur_se;
	struct keys *keys;
};
/* In vault_write_fn's transaction: put j->new_subject unless shredded
 * (PV_E_SUBJECT_SHREDDED) or made first by another write, then rewrap
 * j->rec's DEK under the stored key (idempotent when the job runs again). */
enum pv_rc vault_subject_put_tx(struct store_tx *tx, struct vault_write_job *j);

enum pv_rc vault_write_fn(struct store_tx *tx, void *arg);   /* audit_job_fn */
/* The active version of KEK "index:<collection>" (new entries go under it). */
enum pv_rc vault_index_active_version(struct vault_ctx *v, const char *collection,
    uint32_t *version);
void vault_write_job_clear(struct vault_write_job *j);
/*
 * Blind-index entries for the searchable fields among the keys of `which`
 * (the new record, or a patch), with values from `fields` (the record as it
 * will be stored); a field absent there is delete-only.
 */
/* Seal fields as record (c, id, version) into j->rec, under its subject's key
 * when c has a subject field and fields name one (j->subject_link,
 * j->subject_ref set for vault_write_fn). */
enum pv_rc vault_record_seal_job(struct vault_ctx *v, const struct vault_collection *c,
    const char *id, uint32_t version, json_t *fields, struct vault_write_job *j);
enum pv_rc vault_index_entries(struct vault_ctx *v, const struct vault_collection *c,
    json_t *fields, json_t *which, struct vault_write_job *j);
bool vault_rec_id_ok(const char *id);
/*
 * If-Match of a record write (RFC 9110 section 13.1.1, strong comparison):
 * NULL -> no precondition (*any true, *version 0); "*" -> any current version
 * (*any true); "3", "\"3\"" (blanks around ignored) -> *version 3. A weak tag
 * (W/"3") never matches strongly: PV_E_PRECONDITION. Anything else (a list,
 * 0, junk) -> PV_E_INVALID.
 */
enum pv_rc vault_if_match_parse(const char *h, bool *any, uint32_t *version);
/* ETag: "<version>" on a single-record response. */
enum pv_rc vault_set_etag(struct http_request *req, uint32_t version);
/* "collections/<c>/records[/<id>]" (an ID that is not one is "(invalid)"). */
void vault_resource(char *buf, size_t len, const char *c, const char *id);
/* Load and open one record into {"id","version","fields"[,"labels"]}
 * masked for the caller (the decision point's unmask obligation), and the
 * audit detail naming its fields and those in clear, as a tree
 * (audit_event.detail_obj; read_detail in record_io.c). No audit entry
 * here: the operation makes it durable before answering the view. */
enum pv_rc vault_record_load_view(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_collection *c, const char *id, json_t **view, json_t **detail);

/* Route tables (routes.c), one registration function per resource. */
enum pv_rc vault_routes_collections(struct http_server *srv, struct vault_ctx *v);
enum pv_rc vault_routes_records(struct http_server *srv, struct vault_ctx *v);
enum pv_rc vault_routes_batch(struct http_server *srv, struct vault_ctx *v);
enum pv_rc vault_routes_tokens(struct http_server *srv, struct vault_ctx *v);

/* ---- record labels (labels.c) ---- */
#define VAULT_LABELS_KEY "_labels"   /* in the sealed JSON; never a field name */
/* Take "labels" out of a create / patch body into *labels (NULL if absent;
 * json null on a patch: clear). PV_E_INVALID with err. */
enum pv_rc vault_labels_take(const struct vault_collection *c, json_t *body, json_t **labels,
    char *err, size_t errlen);
/* A denial by the decision point (forbidden, policy_denied, network,
 * hours, step-up): a list or search skips such a record. */
bool vault_rc_denied(enum pv_rc rc);
/* Put taken labels into the fields to seal (a null clears on merge). */
enum pv_rc vault_labels_put(json_t *fields, json_t *labels);

/* ---- the Safe Harbor transform (deid.c; docs/storing-phi.md) ---- */
enum vault_deid_rule {
	VAULT_DEID_KEPT = 0,          /* emitted as stored (an age <= 89 too) */
	VAULT_DEID_IDENTIFIER,        /* a direct identifier: dropped */
	VAULT_DEID_GEOGRAPHIC,        /* address, city: dropped */
	VAULT_DEID_ZIP3,              /* a ZIP: its first three digits */
	VAULT_DEID_ZIP3_RESTRICTED,   /* ... "000" for a restricted area */
	VAULT_DEID_YEAR,              /* a date: its year, an integer */
	VAULT_DEID_AGE90,             /* an age over 89, or a date implying one: "90+" */
	VAULT_DEID_FREE_TEXT,         /* a string not marked safe: dropped */
	VAULT_DEID_SUBJECT,           /* the subject field: dropped */
	VAULT_DEID_UNKNOWN,           /* not in the schema or not of its form: dropped */
	VAULT_DEID__COUNT
};
struct vault_deid_stats {
	uint64_t n[VAULT_DEID__COUNT];   /* fields, by the rule that handled them */
};
#define VAULT_PSEUDONYM_LEN 64   /* hex HMAC-SHA256 */
/* "kept", "identifier", "geographic", "zip3", "zip3_restricted", "year",
 * "age_90", "free_text", "subject", "unknown". */
const char *vault_deid_rule_name(enum vault_deid_rule r);
/* Whether the first three characters of zip3 are a restricted area (HHS
 * OCR 2012 guidance section 2.4, 17 areas). */
bool vault_zip3_restricted(const char *zip3);
/* The UTC calendar date of at_ms (pure, no time zone). */
void vault_deid_date_of(int64_t at_ms, int *y, int *m, int *d);
/* One value of field f at export time at_ms: the rule, and *out the new
 * value (NULL when the rule drops it). */
enum vault_deid_rule vault_deid_value(const struct vault_field *f, json_t *value,
    int64_t at_ms, json_t **out);
/* A record's opened fields to a new object of what Safe Harbor lets out;
 * stats (may be NULL) accumulate per-rule counts. */
enum pv_rc vault_deid_record(const struct vault_collection *c, json_t *fields, int64_t at_ms,
    json_t **out, struct vault_deid_stats *stats);
/* hex HMAC-SHA256(keys_mac(KEK "subjects", purpose "export-pseudonym"),
 * "phivault:pseudonym:v1|<ref>"): stable per subject, unrelated to ref.
 * PV_E_INVALID if ref is not a subject reference. */
enum pv_rc vault_deid_pseudonym(struct keys *k, const char *ref,
    char out[VAULT_PSEUDONYM_LEN + 1]);

#endif /* PV_VAULT_INT_H */
