/*
 * vault: PHI records. Owns collections and their field schema (type,
 * classification, mask, searchable, required), validation and normalisation
 * of field values, the record plaintext and its AEAD associated data,
 * minimum-necessary masking of responses, HL7 purpose-of-use codes and the
 * blind-index input for exact-match search.
 *
 * This header is the pure logic: no I/O, no keys in the clear, no HTTP. The
 * operations and their routes are wired on top of it (the sections at the end).
 *
 * Invariants:
 *  - No PHI value ever reaches an error message, a log line or an audit
 *    entry. Error messages name the FIELD (or the schema key), never echo the
 *    value; a key that is not even a valid field name is not echoed either
 *    (it could itself be a value pasted in the wrong place).
 *  - A stored record holds only canonical values (vault_value_normalize), so
 *    the same fact always has the same bytes: in the ciphertext and in the
 *    blind index. Integers stay JSON integers; every other type is a string.
 *  - A record's plaintext is json_dumps(JSON_COMPACT | JSON_SORT_KEYS) of its
 *    fields object, sealed with AES-256-GCM under a per-record DEK with
 *    AAD = vault_record_aad(collection, id, version): a ciphertext moved to
 *    another record, collection or version does not open.
 *  - PHI and PII fields leave only through vault_record_mask, masked unless
 *    the caller holds records.unmask:<collection>.<field>. Internal fields
 *    are always plain (and their mask is always "none").
 *
 * Record life cycle:
 *
 *   (none) --create--> v1 --patch--> v2 --patch--> ... vN --delete--> shredded
 *
 *   create: vault_record_validate(partial=false), new record ID, version 1.
 *   patch:  vault_record_validate(partial=true) then vault_record_merge onto
 *           the decrypted current version; sealed again as version N+1 with a
 *           fresh DEK and AAD naming N+1. A null in a patch removes the field.
 *   delete: the record's DEK is destroyed (crypto-shredding); its ciphertext,
 *           if any copy survives (backups), never opens again.
 *
 * Thread safety: every function is reentrant; nothing here has global state.
 */
#ifndef PV_VAULT_H
#define PV_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "util/util.h"

struct keys;

#define VAULT_NAME_MAX 64            /* collection and field names, incl. NUL */
#define VAULT_REGION_MAX 64          /* incl. NUL */
#define VAULT_MAX_FIELDS 64
#define VAULT_RETENTION_DEFAULT 2190 /* days: six years, 45 CFR 164.316(b)(2)(i) */
#define VAULT_RETENTION_MAX 36500
#define VAULT_STRING_MAX 4096        /* bytes of a "string" value */
/* Buffer for one canonical value (and for its masked form), incl. NUL. */
#define VAULT_CANON_MAX (VAULT_STRING_MAX + 1)
/* Buffer for an error message; messages are short and value-free. */
#define VAULT_ERR_MAX 256
/* AAD: "phivault:record:v1|" + collection + "|" + record id + "|" + u32. */
#define VAULT_AAD_MAX 256
/* Blind-index MAC input: prefix + collection + field + canonical value. */
#define VAULT_BLIND_INPUT_MAX (32 + 2 * VAULT_NAME_MAX + VAULT_CANON_MAX)
#define VAULT_BLIND_LEN 32           /* HMAC-SHA256 */

enum vault_type {
	VAULT_TYPE_STRING = 0,
	VAULT_TYPE_DATE,
	VAULT_TYPE_INTEGER,
	VAULT_TYPE_SSN,
	VAULT_TYPE_EMAIL,
	VAULT_TYPE_PHONE,
	VAULT_TYPE_ZIP,
	VAULT_TYPE_MRN,
	VAULT_TYPE__COUNT
};

enum vault_class { VAULT_CLASS_PHI = 0, VAULT_CLASS_PII, VAULT_CLASS_INTERNAL, VAULT_CLASS__COUNT };

enum vault_mask { VAULT_MASK_FULL = 0, VAULT_MASK_LAST4, VAULT_MASK_NONE, VAULT_MASK__COUNT };

/* The Safe Harbor identifier a field holds ("identifier" in its definition;
 * the 18 kinds of 45 CFR 164.514(b)(2)(i), some split): how the
 * de-identified export treats it (deid.c). NONE: not annotated. */
enum vault_ident {
	VAULT_IDENT_NONE = 0, VAULT_IDENT_NAME, VAULT_IDENT_ADDRESS, VAULT_IDENT_CITY,
	VAULT_IDENT_ZIP, VAULT_IDENT_DATE, VAULT_IDENT_BIRTH_DATE, VAULT_IDENT_AGE,
	VAULT_IDENT_PHONE, VAULT_IDENT_FAX, VAULT_IDENT_EMAIL, VAULT_IDENT_SSN, VAULT_IDENT_MRN,
	VAULT_IDENT_HEALTH_PLAN, VAULT_IDENT_ACCOUNT, VAULT_IDENT_LICENSE, VAULT_IDENT_VEHICLE,
	VAULT_IDENT_DEVICE, VAULT_IDENT_URL, VAULT_IDENT_IP, VAULT_IDENT_BIOMETRIC,
	VAULT_IDENT_PHOTO, VAULT_IDENT_OTHER, VAULT_IDENT__COUNT
};

struct vault_field {
	char name[VAULT_NAME_MAX];
	enum vault_type type;
	enum vault_class cls;
	enum vault_mask mask;
	bool searchable;
	bool required;          /* default false */
	bool subject;           /* the patient the record is about (a string field; one at most) */
	enum vault_ident ident; /* "identifier": the Safe Harbor kind it holds, NONE if not annotated */
	bool safe;              /* "safe":true: a string field its owner declares identifier-free */
};

struct vault_collection {
	char name[VAULT_NAME_MAX];
	char region[VAULT_REGION_MAX];
	int retention_days;
	size_t nfields;
	struct vault_field fields[VAULT_MAX_FIELDS];
};

/* ---- names ---- */

/* Collection and field names: [a-z][a-z0-9_]{0,62}. */
bool vault_name_valid(const char *s);
/* Regions: [a-z0-9-]{1,63}. */
bool vault_region_valid(const char *s);
/* Wire names ("ssn", "phi", "last4"); "?" for an out-of-range value. */
const char *vault_type_name(enum vault_type t);
const char *vault_class_name(enum vault_class c);
const char *vault_mask_name(enum vault_mask m);
const char *vault_ident_name(enum vault_ident i);   /* "" for NONE */

/* ---- collections (schema.c) ---- */

/*
 * Parse a collection definition (the POST /v1/collections body, or the
 * stored schema text). PV_E_INVALID with err naming the bad key or field on
 * any missing, unknown or bad key. Defaults: retention_days 2190,
 * classification "phi", searchable/required false, mask "last4" for ssn and
 * phone, "full" for other phi/pii, "none" for internal. "none" on a phi/pii
 * field must be explicit; an internal field's mask can only be "none".
 * Safe Harbor annotations: "identifier" one of the vault_ident names (a bad
 * kind is PV_E_INVALID), "safe":true only on a string field that is neither
 * an identifier nor the subject.
 */
enum pv_rc vault_collection_from_json(json_t *obj, struct vault_collection *out,
    char *err, size_t errlen);
/* Every key spelled out, defaults included; from_json(to_json(c)) == c. */
enum pv_rc vault_collection_to_json(const struct vault_collection *c, json_t **out);
/* The field called name, or NULL. */
const struct vault_field *vault_collection_field(const struct vault_collection *c,
    const char *name);
/* [policy] allowed_regions check: PV_OK if region is one of the
 * comma-separated entries (blanks around entries ignored), else PV_E_REGION. */
enum pv_rc vault_region_check(const char *allowed_csv, const char *region);

/* ---- values (types.c) ---- */

/*
 * Validate one JSON value against its field and write its canonical text
 * (the form stored and blind-indexed) into out (>= VAULT_CANON_MAX bytes is
 * always enough). PV_E_INVALID with err "field '<name>': <why>" -- never the
 * value. Canonical forms are listed in docs/internals/vault.md.
 */
enum pv_rc vault_value_normalize(const struct vault_field *f, json_t *value,
    char *out, size_t outlen, char *err, size_t errlen);
/* The same for a value that arrives as text (a search query parameter):
 * integer fields parse it as a strict decimal int64, the rest as a string. */
enum pv_rc vault_value_normalize_text(const struct vault_field *f, const char *text,
    char *out, size_t outlen, char *err, size_t errlen);

/* ---- records (record.c) ---- */

/*
 * Validate a record's fields object. !partial (create): every required field
 * must be present and no value may be null. partial (PATCH): any subset; a
 * null value means "remove the field" and is kept as null in the output
 * (refused for required fields). Unknown field -> "unknown field 'x'".
 * *normalized_out: a new object of canonical values (strings; integers stay
 * integers), json_decref by the caller.
 */
enum pv_rc vault_record_validate(const struct vault_collection *c, json_t *fields_in,
    bool partial, json_t **normalized_out, char *err, size_t errlen);
/* PATCH: a new object = old with each patch key set, or removed if null.
 * Neither input is modified. Both must come from vault_record_validate. */
enum pv_rc vault_record_merge(json_t *old, json_t *patch, json_t **out);
/*
 * AEAD associated data, "phivault:record:v1|<collection>|<record_id>|<version>"
 * with version in decimal. No component may contain '|' (so the encoding is
 * injective); the collection must be a valid name, version >= 1.
 * Writes a NUL-terminated string; *outlen = strlen (the AAD bytes).
 */
enum pv_rc vault_record_aad(const char *collection, const char *record_id, uint32_t version,
    char *buf, size_t len, size_t *outlen);
/* The plaintext to seal: the bytes of json_dumps(fields, JSON_COMPACT |
 * JSON_SORT_KEYS), NUL-terminated, in a block of jansson's allocator.
 * Free with vault_plaintext_free, which wipes it. */
enum pv_rc vault_record_plaintext(json_t *fields, char **out, size_t *outlen);
void vault_plaintext_free(char *p, size_t len);
/* Parse an opened plaintext back into a fields object (PV_E_INTEGRITY if it
 * is not a JSON object). */
enum pv_rc vault_record_from_plaintext(const char *p, size_t len, json_t **out);

/* ---- masking (mask.c) ---- */

/*
 * The masked text of one canonical value, by the field's mask:
 *  full  -> "****"
 *  last4 -> ssn/phone: every alphanumeric but the last 4 becomes '*',
 *           separators stay ("***-**-6789", "+*******4567");
 *           integer: "****"; others: "****" + the last 4 characters.
 *           A value of 4 characters or fewer is "****" (never shown whole).
 *  none  -> the value.
 * out >= VAULT_CANON_MAX is always enough; PV_E_INTERNAL if out is too small.
 */
enum pv_rc vault_mask_value(const struct vault_field *f, const char *canonical,
    char *out, size_t outlen);
/*
 * The response view of a stored record, in place: phi/pii fields of fields
 * (an opened record's object, which the caller owns and shares with nobody)
 * masked unless can_unmask(arg, field) (NULL: nothing unmasked); internal
 * fields plain. A masked integer becomes the string "****"; every field
 * keeps its place, so the view's key order is the record's. What stays in
 * clear is not copied. PV_E_INTERNAL if the stored record does not match
 * the schema, found before anything is changed (fails closed: the caller
 * drops the record); after PV_E_NOMEM it may be partly masked (dropped too).
 */
enum pv_rc vault_record_mask(const struct vault_collection *c, json_t *fields,
    bool (*can_unmask)(void *arg, const char *field), void *arg);
/* vault_record_mask on a deep copy: record_fields is left as it is. */
enum pv_rc vault_record_view(const struct vault_collection *c, json_t *record_fields,
    bool (*can_unmask)(void *arg, const char *field), void *arg, json_t **out);

/* ---- blind index (blind.c, blind_index.c) ---- */

/*
 * The exact bytes MACed for a blind index:
 * "phivault:bidx:v1|<collection>|<field>|<canonical value>". collection and
 * field must be valid names (so they hold no '|' and the encoding is
 * injective); the value is last and may hold anything. buf holds PHI: wipe it.
 */
enum pv_rc vault_blind_input(const char *collection, const char *field, const char *canonical,
    uint8_t *buf, size_t len, size_t *outlen);
/* HMAC-SHA256 of vault_blind_input under keys_mac(k, "index:<collection>",
 * purpose = field): one index key per searchable field. */
/* Under a given version of KEK "index:<collection>", or the active one
 * (*version says which): entries carry the version (docs/internals/vault.md). */
enum pv_rc vault_blind_index_version(struct keys *k, const char *collection, const char *field,
    uint32_t version, const char *canonical, uint8_t out[VAULT_BLIND_LEN]);
enum pv_rc vault_blind_index_active(struct keys *k, const char *collection, const char *field,
    const char *canonical, uint8_t out[VAULT_BLIND_LEN], uint32_t *version);
enum pv_rc vault_blind_index(struct keys *k, const char *collection, const char *field,
    const char *canonical, uint8_t out[VAULT_BLIND_LEN]);

/* ---- wiring: operations (ops_*.c) and the record routes (service.c, routes.c) ----
 *
 * struct vault_ctx is the running vault: the store, keyring and audit
 * writer it works through, the region policy, and an in-memory cache of
 * parsed collection schemas (collections are immutable once created, so a
 * cached entry never goes stale; a miss reads the store).
 *
 * Every database write is one commit-queue transaction together with its
 * audit entry. A PHI read is decrypted into request memory first, then its
 * audit entry is submitted, and only from the completion that says it is
 * durable is the data sent: if the entry cannot be made durable the
 * plaintext is wiped and the answer is 503 audit_unavailable (fail closed,
 * DESIGN.md "Audit chain"). No success path waits on a thread for the
 * fsync (audit_submit); audited refusals still write their entry with
 * audit_record before answering.
 */
struct store;
struct audit;
struct http_server;
struct vault_ctx;

struct vault_deps {
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	const char *allowed_regions;   /* [policy] allowed_regions (copied) */
	bool kek_default_pkcs11;       /* [pkcs11] kek_default = on */
};

/* ---- operations: the vault in domain terms (ops_*.c) ----
 *
 * What HTTP (routes.c), and later the CLI, jobs, SCIM and the console,
 * call: no struct http_request anywhere. Each operation takes the caller
 * (who asks, with which compiled policy and purpose of use), calls the
 * decision point where the route alone could not decide (and again once
 * the resource is loaded, for the unmask set), builds its transaction
 * (data change + audit entry) and answers through done:
 *
 *  - done is called exactly once: on this thread before the operation
 *    returns (refusals, reads that are not audited), or later on the
 *    committer thread once the entry is durable (every success that
 *    commits: collection create, record create, read, update, shred, list,
 *    search, batch, token create and detokenize). After calling done the operation touches neither arg nor
 *    anything of the caller's; the caller struct itself need only live
 *    until the operation returns.
 *  - the answer is rc (PV_OK or the refusal), a caller-facing message ("":
 *    the code's own) that never holds a value, on PV_OK the answer object
 *    (body, the receiver's: json_decref) and for a single record its
 *    version (the ETag; 0 for none).
 *  - fail closed: a PHI read answers PV_OK with data only once its entry is
 *    durable; otherwise PV_E_AUDIT and nothing.
 */
struct authn_principal;
struct pv_actor;

struct vault_caller {
	/* what the decision point decides on (roles, compiled policy,
	 * restriction); NULL: nobody (every decision denies) */
	const struct authn_principal *subject;
	const struct pv_actor *actor;     /* who, in every entry; its source is the env's */
	const char *purpose;              /* purpose of use as asked (unchecked), NULL if none */
	const char *recipient;            /* X-Disclosure-Recipient as sent (unchecked), NULL if none */
};

struct vault_answer {
	enum pv_rc rc;
	char message[VAULT_ERR_MAX];
	json_t *body;
	uint32_t version;
	int64_t step_up_max_age_s;   /* rc PV_E_STEP_UP: RFC 9470 max_age (-1: none) */
	char *text;                  /* instead of body: a text answer (malloc'd; CSV, FHIR) */
	const char *text_type;       /* its Content-Type (static) */
};
typedef void (*vault_done_fn)(struct vault_answer *a, void *arg);

/* Collections (ops_collections.c). schema: the API's collection object.
 * Collections are immutable once created: there is no update. */
void vault_collection_create(struct vault_ctx *v, const struct vault_caller *who,
    json_t *schema, vault_done_fn done, void *arg);
void vault_collection_get(struct vault_ctx *v, const struct vault_caller *who,
    const char *name, vault_done_fn done, void *arg);
void vault_collection_list(struct vault_ctx *v, const struct vault_caller *who,
    vault_done_fn done, void *arg);

/* Accounting of disclosures (ops_disclosures.c): every access to the
 * subject's records in [since, until) (default: the last six years) from
 * the audit trail's subject index, each marked accountable per 45 CFR
 * 164.528(a)(1). format "json" (default), "csv" (RFC 4180) or "fhir" (an R4
 * Bundle of AuditEvent). compliance.read; audited disclosure.list. */
void vault_subject_disclosures(struct vault_ctx *v, const struct vault_caller *who,
    const char *subject, const char *since, const char *until, const char *format,
    vault_done_fn done, void *arg);

/* Records (ops_records.c). create: {"id","version":1}; read:
 * {"id","version","fields"} masked for the caller; update (a merge patch,
 * null removes a field; if_match: the If-Match text, NULL for none):
 * {"id","version"}; shred: no body. */
void vault_record_create(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, json_t *fields, vault_done_fn done, void *arg);
void vault_record_read(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *id, vault_done_fn done, void *arg);
void vault_record_update(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *id, const char *if_match, json_t *patch,
    vault_done_fn done, void *arg);
void vault_record_shred(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *id, vault_done_fn done, void *arg);
/* One page in ID order: limit ("1".."500", NULL: 50) and cursor (as
 * returned, NULL: from the start) as given. {"records":[...],"next_cursor"}. */
void vault_record_list(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *limit, const char *cursor, vault_done_fn done,
    void *arg);
/* Exact-match search: the field = value pairs asked (exactly one, on a
 * searchable field, is what is supported). {"records":[...]} */
struct vault_match {
	const char *field;
	const char *value;
};
void vault_record_search(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const struct vault_match *m, size_t n, vault_done_fn done,
    void *arg);
/* A batch of creates (items: field objects) or reads (items: record IDs),
 * 1..100: {"results":[per item, in order]} (ops_batch.c). */
void vault_record_batch(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, bool create, json_t *items, vault_done_fn done, void *arg);

/* Tokens (ops_tokens.c). invalid != PV_OK: the request did not parse
 * (invalid_message says why); the operation records the failure and
 * answers it. {"token"} / {"value"} */
struct vault_tokenize_spec {
	enum pv_rc invalid;
	const char *invalid_message;
	const char *collection;
	const char *field;
	json_t *value;                    /* NULL: missing */
	bool deterministic;
	/* the patient the value belongs to (the collection's subject field's
	 * value), NULL none: the token is linked and shredded with them */
	const char *subject;
};
void vault_token_create(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_tokenize_spec *spec, vault_done_fn done, void *arg);
void vault_token_detokenize(struct vault_ctx *v, const struct vault_caller *who,
    const char *token, vault_done_fn done, void *arg);

/* Subjects (ops_subjects.c; API.md DELETE /v1/subjects/{subject}): value is
 * the subject as the path gave it; records.shred is decided on
 * "subjects/<ref>". show: {"subject":ref,"state":"active|shredded","hold",
 * "collections":{c:n},"records",...}; shred: {"subject","state","collections"}
 * (409 legal_hold, 410 subject_shredded); hold (body {"reason"}) / release:
 * {"subject","hold"}. */
void vault_subject_show(struct vault_ctx *v, const struct vault_caller *who, const char *value,
    vault_done_fn done, void *arg);
void vault_subject_shred(struct vault_ctx *v, const struct vault_caller *who, const char *value,
    vault_done_fn done, void *arg);
void vault_subject_hold(struct vault_ctx *v, const struct vault_caller *who, const char *value,
    bool hold, json_t *body, vault_done_fn done, void *arg);

/* Tombstones of shredded subjects, for backup and restore
 * (docs/internals/vault.md "Tombstones"): a restore applies the live
 * vault's list to the restored store, so no patient shredded after the
 * backup comes back. list: every tombstone of st (malloc'd array, free()).
 * apply: in one write transaction of restored, each tombstone it lacks is
 * applied as a shred (records of that subject shredded, its key deleted,
 * the tombstone written); *applied (may be NULL) = how many were new. */
struct vault_tombstone {
	char ref[65];            /* hex HMAC reference, never the value */
	int64_t shredded_ms;
};
enum pv_rc vault_subject_tombstones_list(struct store *st, struct vault_tombstone **out,
    size_t *n);
enum pv_rc vault_subject_tombstones_apply(struct store *restored,
    const struct vault_tombstone *t, size_t n, size_t *applied);

/* Create the vault service and register every route of API.md "PHI
 * records" on srv (jansson's wiping free is the daemon's start-up setting,
 * daemon_process_init). *out is freed with vault_free after the server stopped. */
enum pv_rc vault_routes(struct http_server *srv, const struct vault_deps *deps,
    struct vault_ctx **out);
void vault_free(struct vault_ctx *v);
/* The KEKs that a first use would make on its request thread (tokens, for
 * the first tokenization; incidents, for the first breach-scope report),
 * made now if the keyring is unsealed and they do not exist: one commit
 * with no entry, as the first use makes them. For serve's start-up (off
 * any request thread: it waits for that commit). A vault sealed then makes
 * each at its first use, once. PV_E_SEALED if sealed. */
enum pv_rc vault_keks_ensure(struct vault_ctx *v);

/* Key administration (API.md "Keys"; ops_keys.c): register the job kind
 * "keys.reencrypt" on r and the /v1/keys routes on srv (either may be
 * NULL in tests). Called once, from the job runner's install step. */
struct jobs_runner;
enum pv_rc vault_keys_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv);
/* Retention and disposal (ops_retention.c): register the job kind
 * "retention" on r, POST /v1/sys/retention on srv and (with srv) the
 * scheduler thread that queues a run every every_s seconds ([retention]
 * every_s, on the injectable clock). Called once, from the job runner's
 * install step; vault_retention_stop joins the scheduler (before the audit
 * writer stops). */
/* ---- break-glass (ops_breakglass.c; docs/internals/authz.md "Break-glass") ----
 * Grants of emergency read access to one subject and the review each
 * opens. Every operation answers through done (synchronously: each commits
 * with audit_commit). Body members as API.md "Break-glass". */
struct authn_service;
/* Wire break-glass: [breakglass] max_s, review_due_s; registers the
 * /v1/breakglass and /v1/reviews routes and starts the sweeper (expiry:
 * breakglass.expire; reviews open past due: review.overdue) if srv is not
 * NULL. vault_breakglass_stop before the audit writer stops. */
enum pv_rc vault_breakglass_install(struct vault_ctx *v, struct http_server *srv,
    struct authn_service *authn, int max_s, int review_due_s);
void vault_breakglass_stop(struct vault_ctx *v);
void vault_breakglass_free(struct vault_ctx *v);
/* One sweep at now (the sweeper's step; tests call it). */
enum pv_rc vault_breakglass_sweep(struct vault_ctx *v, int64_t now);
/* Is code an HL7 PurposeOfUse a grant may name (ETREAT, BTG, ERTREAT, PATSFTY)? */
bool vault_breakglass_reason_valid(const char *code);
/* {"subject","reason_code","justification","password"} -> 201 {"grant",
 * "subject_ref","reason_code","expires_at","review"}. PV_E_FORBIDDEN (no
 * breakglass.activate), PV_E_INVALID, PV_E_UNAUTH (wrong password: counted
 * by the lockout), PV_E_LOCKED, PV_E_NOTFOUND (no such subject was ever
 * stored), PV_E_CONFLICT (a grant of the caller's is in force). */
void vault_breakglass_activate(struct vault_ctx *v, const struct vault_caller *who,
    const json_t *body, vault_done_fn done, void *arg);
/* The holder, or an access.approve holder: PV_E_NOTFOUND, PV_E_CONFLICT
 * (no longer in force). */
void vault_breakglass_end(struct vault_ctx *v, const struct vault_caller *who, const char *id,
    vault_done_fn done, void *arg);
/* {"grants":[...]}: the caller's own (every one for access.approve). */
void vault_breakglass_list(struct vault_ctx *v, const struct vault_caller *who,
    vault_done_fn done, void *arg);
/* access.approve: {"reviews":[review]} (status NULL|open|appropriate|
 * inappropriate), one review, and its verdict {"verdict","note"} (never by
 * the grant's holder: PV_E_SELF_APPROVAL; PV_E_CONFLICT once decided). */
void vault_review_list(struct vault_ctx *v, const struct vault_caller *who, const char *status,
    vault_done_fn done, void *arg);
void vault_review_get(struct vault_ctx *v, const struct vault_caller *who, const char *id,
    vault_done_fn done, void *arg);
void vault_review_settle(struct vault_ctx *v, const struct vault_caller *who, const char *id,
    const json_t *body, vault_done_fn done, void *arg);

enum pv_rc vault_retention_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv, int64_t every_s);
/* Breach scope (ops_incidents.c, docs/governance.md "Breach scope"):
 * register the job kind "incident.scope" on r and (with srv and r) the
 * /v1/incidents routes; authn (may be NULL) drops this node's cached
 * sessions of the actors an incident revokes. Called once, from the job
 * runner's install step. */
enum pv_rc vault_incidents_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv, struct authn_service *authn);
/* De-identified export (ops_export.c; docs/storing-phi.md "De-identified
 * export"): register the job kind "export.safe_harbor" on r, the export
 * routes on srv and (with srv) the sweeper thread that deletes exports
 * keep_s seconds after their creation ([export] keep_s, on the injectable
 * clock). Called once, from the job runner's install step;
 * vault_export_stop joins the sweeper (before the audit writer stops). */
enum pv_rc vault_export_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv, int64_t keep_s);
void vault_export_stop(struct vault_ctx *v);
/* One sweep at now (the sweeper's step): every export past its expiry loses
 * its chunks (export.expire); *expired (may be NULL) how many. */
enum pv_rc vault_export_sweep(struct vault_ctx *v, int64_t now, size_t *expired);
void vault_retention_stop(struct vault_ctx *v);
/* Stop the scheduled-rotation sweeper (started by vault_keys_install with
 * routes); before the audit writer stops. Idempotent; NULL is fine. */
void vault_keys_stop(struct vault_ctx *v);
/* Test and bench access to the job's step (the kind's step function with
 * v as its argument). */
struct jobs_step_ctx;
struct jobs_step_out;
enum pv_rc vault_keys_kind_step(struct vault_ctx *v, const struct jobs_step_ctx *ctx,
    const char *cursor, struct jobs_step_out *out);
/* The same for its prepare phase (jobs.h "Prepare / apply"): *plan goes
 * into ctx->plan of the step from the same cursor, then to
 * vault_keys_plan_free. */
enum pv_rc vault_keys_kind_prepare(struct vault_ctx *v, const struct jobs_step_ctx *ctx,
    const char *cursor, void **plan);
void vault_keys_plan_free(void *plan);
/* Its jobs_prepare.next_cursor / same (jobs.h "Prepared ahead"). */
bool vault_keys_plan_next_cursor(const void *plan, const char *cursor, char *next, size_t len);
bool vault_keys_cursor_same(const char *planned, const char *cursor);

/* ---- offboarding (ops_offboard.c; docs/governance.md "Return and
 * destruction at contract end"): offline, over a store and a keyring this
 * process unsealed; the seal's authority, checked by the caller, is the
 * authorization. ---- */
/* Every collection name, in name order (malloc'd; free()). */
enum pv_rc vault_offboard_collections(struct store *st, char (**names)[STORE_NAME_MAX],
    size_t *n);
/* Every live record of collection, opened (subject layer included): cb
 * gets its ID, version and fields (borrowed for the call). A record that
 * does not open for another reason than a shred stops the export with that
 * rc (nothing is skipped silently). *exported: how many went to cb. */
typedef enum pv_rc (*vault_offboard_cb)(const char *collection, const char *id,
    uint32_t version, json_t *fields, void *arg);
enum pv_rc vault_offboard_export(struct store *st, struct keys *k, const char *collection,
    vault_offboard_cb cb, void *arg, int64_t *exported);
/* In tx: shred every subject (store_subject_shred each: records, tokens,
 * key, tombstone). PV_E_LEGAL_HOLD, nothing changed, if any is on hold. */
enum pv_rc vault_offboard_shred_subjects_tx(struct store_tx *tx, int64_t now_ms,
    int64_t *shredded);
/* How many subjects are under legal hold. */
enum pv_rc vault_offboard_holds(struct store *st, int64_t *held);
/* The verification pass: try to open every live record with k; count the
 * subject keys left. After a destruction records_opened and
 * subject_keys_left are 0. */
struct vault_offboard_check {
	int64_t records_tried;
	int64_t records_opened;
	int64_t subject_keys_left;
};
enum pv_rc vault_offboard_verify(struct store *st, struct keys *k,
    struct vault_offboard_check *out);

#endif /* PV_VAULT_H */
