/*
 * authz: what a caller may do. Owns the permission language of API.md,
 * the built-in roles, custom role validation, permission sets resolved for
 * a principal, and the route-level decision. Deny by default: a permission
 * that is not granted, not well-formed, or asked of no principal is denied.
 *
 * Permission strings (API.md "Users, groups and roles"):
 *   plain    users.manage  roles.manage  collections.manage  keys.manage
 *            audit.read  alerts.read  compliance.read  sys.backup
 *            metrics.read  apps.manage
 *   scoped   records.read:<collection>  records.write:<collection>
 *            records.unmask:<collection>.<field>
 *            tokens.tokenize:<collection>  tokens.detokenize:<collection>
 *   alias    bare tokens.tokenize / tokens.detokenize (the plain form of
 *            milestone 1, deprecated) parse as "<verb>:*" and format so;
 *            stored custom roles holding them keep the grant they had.
 *   names    [a-z][a-z0-9_]{0,62}, or "*" meaning every collection / field.
 *   "*" alone is not a permission (there is no superuser), nor is any
 *   unknown verb: both are refused in role definitions.
 *
 * Matching: a granted permission covers a required one if the verbs are
 * equal and each granted name is "*" or equal to the required one. A
 * required "*" is only covered by a granted "*" ("records.read:patients"
 * does not cover "records.read:*").
 *
 * Roles and groups: a principal's permissions are the union of its roles,
 * direct and inherited from its groups (API.md). The wiring loads the role
 * names, then builds one struct authz_permset with authz_permset_add_role()
 * for built-ins and authz_permset_add() for each permission of a custom
 * role, and hangs it on struct authn_principal.perms; every decision after
 * that is in memory.
 *
 * Separation of duties (API.md): the built-in roles that manage users, roles
 * or keys hold no records.* / tokens.* permission, and the auditor reads
 * the trail but manages nothing; tests/unit/authz/test_perm.c asserts it.
 */
#ifndef PV_AUTHZ_H
#define PV_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authn/authn.h"
#include "util/util.h"

#define AUTHZ_NAME_MAX 64            /* collection / field / role name + NUL */
/* "records.unmask:" + 63 + "." + 63 + NUL */
#define AUTHZ_PERM_MAX 160
/* A secret path or path prefix in a permission: [a-z0-9_.-/]{1,100} (no
 * leading '/', no "..", no "//") + NUL; "secrets.write:" + 100 < PERM_MAX. */
#define AUTHZ_PATH_MAX 101
/* Is s a secret path prefix ("apps/billing/") a permission may name? A
 * full secret path is one too (secrets_path_valid adds its own rules). */
bool authz_path_prefix_valid(const char *s);
#define AUTHZ_PERMSET_MAX 256

enum authz_verb {
	AUTHZ_VERB_NONE = 0,
	AUTHZ_USERS_MANAGE,
	AUTHZ_ROLES_MANAGE,
	AUTHZ_COLLECTIONS_MANAGE,
	AUTHZ_KEYS_MANAGE,
	AUTHZ_AUDIT_READ,
	AUTHZ_ALERTS_READ,
	AUTHZ_COMPLIANCE_READ,
	AUTHZ_SYS_BACKUP,
	AUTHZ_TOKENS_TOKENIZE,           /* :<collection> (bare = :*) */
	AUTHZ_TOKENS_DETOKENIZE,         /* :<collection> (bare = :*) */
	AUTHZ_RECORDS_READ,              /* :<collection> */
	AUTHZ_RECORDS_WRITE,             /* :<collection> */
	AUTHZ_RECORDS_UNMASK,            /* :<collection>.<field> */
	AUTHZ_METRICS_READ,              /* GET /metrics */
	AUTHZ_APPS_MANAGE,               /* /v1/apps: workload identities */
	AUTHZ_ACCESS_APPROVE,            /* approvals, reviews (security officers) */
	AUTHZ_RECORDS_SHRED,             /* DELETE /v1/subjects/{s}, legal hold */
	AUTHZ_SCIM_PROVISION,            /* /scim/v2/: an IdP's provisioning app */
	AUTHZ_SECRETS_READ,              /* :<path prefix> | :* (GET /v1/secrets) */
	AUTHZ_SECRETS_WRITE,             /* :<path prefix> | :* (PUT, DELETE, destroy) */
	AUTHZ_BREAKGLASS_ACTIVATE,       /* POST /v1/breakglass (built-in break_glass) */
	AUTHZ_INCIDENTS_MANAGE,          /* /v1/incidents: breach scope (built-in security_officer) */
	AUTHZ_RECORDS_EXPORT,            /* :<collection>: de-identified export (no built-in role) */
};

/* One parsed permission. */
struct authz_perm {
	enum authz_verb verb;
	char collection[AUTHZ_NAME_MAX]; /* "" for plain verbs */
	char field[AUTHZ_NAME_MAX];      /* "" unless records.unmask */
	char path[AUTHZ_PATH_MAX];       /* "" unless secrets.*: a path prefix or "*" */
};

/* A principal's permissions: fixed capacity, no allocation, can live on
 * the stack or in a request arena. Kept minimal: adding a permission that
 * an existing one covers is a no-op, and one that covers existing entries
 * replaces them. */
struct authz_permset {
	size_t n;
	struct authz_perm p[AUTHZ_PERMSET_MAX];
};

/* ---- permission strings ---- */
/* Syntax and known verb; "*" alone and unknown verbs are invalid. */
bool authz_perm_valid(const char *perm);
/* Parse into *out; PV_E_INVALID if not valid. */
enum pv_rc authz_perm_parse(const char *perm, struct authz_perm *out);
/* The permission "<verb>:<scope>" ("<verb>:<scope>.<field>" for
 * records.unmask; scope and field NULL for a plain verb) made without
 * writing or parsing its text: exactly what authz_perm_parse makes of that
 * text, PV_E_INVALID where it refuses it (the decision point builds the
 * permission it requires so, for every field of a read). */
enum pv_rc authz_perm_scoped(enum authz_verb verb, const char *scope, const char *field,
    struct authz_perm *out);
/* Write the canonical text of p; PV_E_INVALID if p is not well-formed. */
enum pv_rc authz_perm_format(const struct authz_perm *p, char out[AUTHZ_PERM_MAX]);
/* True if granted covers required; false if either is invalid. */
bool authz_perm_match(const char *granted, const char *required);
/* The same on parsed permissions. */
bool authz_perm_covers(const struct authz_perm *granted, const struct authz_perm *required);
/* [a-z][a-z0-9_]{0,62}: collection, field and role names. */
bool authz_name_valid(const char *name);

/* ---- permission sets ---- */
void authz_permset_init(struct authz_permset *s);
/* PV_E_INVALID for an invalid permission, PV_E_TOOBIG when full (the
 * caller must fail the request rather than run with a partial set). */
enum pv_rc authz_permset_add(struct authz_permset *s, const char *perm);
/* Add every permission of a built-in role; PV_E_NOTFOUND if name is not
 * a built-in role. */
enum pv_rc authz_permset_add_role(struct authz_permset *s, const char *role);
/* A read-only copy of s in arena with room for its n permissions only
 * (offsetof(p) + n entries, not the AUTHZ_PERMSET_MAX of the type: every
 * reader of a set stops at n; never add to the copy). A request's set is
 * this copy: the full type is ~60 KiB, zeroed when allocated and wiped when
 * the arena is freed, for a handful of entries. NULL on allocation failure. */
const struct authz_permset *authz_permset_copy(const struct authz_permset *s,
    struct pv_arena *arena);
/* True if some granted permission covers required (false if s is NULL or
 * required invalid). */
bool authz_permset_has(const struct authz_permset *s, const char *required);
/* Holds an administrative permission (users/roles/collections/keys manage,
 * sys.backup): these principals need MFA when [auth] mfa_required = admins. */
bool authz_permset_is_privileged(const struct authz_permset *s);

/* ---- roles ---- */
/* NULL-terminated permission list of a built-in role (n set to its length),
 * or NULL if name is not built in. break_glass holds only
 * breakglass.activate (its reads come from a grant in force). */
const char *const *authz_builtin_role(const char *name, size_t *n);
/* The i-th built-in role name, NULL past the end (GET /v1/roles). */
const char *authz_builtin_role_name(size_t i);
bool authz_role_name_valid(const char *name);
/*
 * Check a custom role definition (POST /v1/roles): PV_E_INVALID (why says
 * which permission, by index, or the name) for a bad name, a bad or "*"
 * permission, a duplicate or more than AUTHZ_PERMSET_MAX permissions;
 * PV_E_CONFLICT if the name is a built-in role's.
 */
enum pv_rc authz_role_def_check(const char *name, const char *const *perms, size_t n,
    char *why, size_t whylen);

/* ---- decision ---- */
/*
 * The route-level decision (http authorize hook, minus auditing):
 *  permission "public" -> PV_OK; no principal -> PV_E_UNAUTH;
 *  restricted principal on a route not flagged restricted_ok, or asking
 *  for any real permission -> PV_E_RESTRICTED;
 *  "authenticated" -> PV_OK; otherwise PV_OK only if p->perms has it, else
 *  PV_E_FORBIDDEN (also for NULL / invalid permission: deny by default).
 */
enum pv_rc authz_check(const struct authn_principal *p, const char *permission,
    bool restricted_ok);

/* ======================================================================
 * the one decision point (decide.c, docs/internals/authz.md "Decision")
 *
 * A principal's roles are compiled once into a struct authz_policy (every
 * grant with the role that gives it and the purposes of use that role's
 * condition allows) and cached under the authn generation (the epoch bumped
 * by any role, group or membership change); the principal carries it, so a
 * decision is a walk over a few grants in memory and never reads the store.
 * ====================================================================== */

#define AUTHZ_GRANTS_MAX 1024
#define AUTHZ_MATCHED_MAX 8
#define AUTHZ_REASON_MAX (AUTHZ_PERM_MAX + 32)
#define AUTHZ_RULE_MAX (AUTHN_ROLE_NAME_MAX + AUTHZ_PERM_MAX + 8)
#define AUTHZ_FIELDS_MAX 64

struct authz_grant {
	struct authz_perm perm;
	unsigned purposes;               /* AUTHZ_POU_* allowed with this grant */
	uint8_t role;                    /* index into authz_policy.roles */
	int32_t cond;                    /* the role's compiled condition (offset into
	                                  * the policy's condition area), 0: none */
};

/* What a compiled policy's conditions read (authz_policy.needs). */
#define AUTHZ_NEEDS_PRINCIPAL 0x1u   /* principal attributes (principal, match) */
#define AUTHZ_NEEDS_RECORD 0x2u      /* record labels or fields (labels, match) */

/*
 * Immutable once compiled; allocated as one block: header, n grants, then
 * the condition area (ext_len bytes: the compiled conditions of roles and
 * policies and the policy rules, cond.c), addressed only by offsets, so the
 * block can be copied into a request arena with one memcpy.
 */
struct authz_policy {
	uint64_t epoch;                  /* authn generation compiled under */
	bool break_glass;                /* holds the built-in break_glass role */
	size_t nroles;
	char roles[AUTHN_ROLES_MAX][AUTHN_ROLE_NAME_MAX];
	unsigned needs;                  /* AUTHZ_NEEDS_* */
	size_t nrules;                   /* access policies (allow/deny rules) */
	uint32_t rules_off;              /* their array in the condition area */
	size_t ext_len;                  /* bytes of the condition area */
	size_t n;
	struct authz_grant g[];
};

/* Principal attributes (the user's "attributes" object, flattened: a string
 * value is one pair, an array of strings one pair per element, numbers and
 * booleans their JSON text). Loaded by the wiring when a compiled policy
 * needs them (AUTHZ_NEEDS_PRINCIPAL); lives in the request arena. */
struct authz_attr {
	const char *key;
	const char *value;
};
struct authz_attrs {
	size_t n;
	struct authz_attr a[];
};
/* Flatten an attributes JSON object text into arena; PV_E_INVALID if it is
 * not an object. At most 64 pairs are kept (the rest never match). */
enum pv_rc authz_attrs_parse(const char *json_text, struct pv_arena *arena,
    const struct authz_attrs **out);

/* Where the decision is asked: the route knows the action and the
 * collection; after the resource is loaded the purpose of use is weighed
 * and the field obligations computed. */
enum authz_stage {
	AUTHZ_AT_ROUTE = 0,
	AUTHZ_AT_RESOURCE = 1,
};

struct audit;

struct authz_request {
	const struct authn_principal *subject;   /* NULL: anonymous */
	/* "public", "authenticated", a plain verb ("users.manage"), a scoped
	 * one ("records.read", "records.write", "records.unmask",
	 * "tokens.tokenize", "tokens.detokenize") with resource.collection,
	 * "collections.read" (manage, or read or write that collection) or
	 * "authz.explain" (roles.manage or audit.read). Anything else: deny. */
	const char *action;
	enum authz_stage stage;
	bool restricted_ok;              /* the route admits restricted sessions */
	struct {
		const char *collection;
		const char *record;
		const char *const *fields;   /* unmask obligation asked for these */
		size_t nfields;              /* <= AUTHZ_FIELDS_MAX */
		/* The record's attributes, once it is loaded (loaded = true): its
		 * labels and the text of one of its fields (NULL if absent; the
		 * "match" condition compares an internal field). Before that,
		 * conditions on them are unknown: an allow rule holds
		 * provisionally, a deny rule does not apply yet. */
		bool loaded;
		const char *const *labels;
		size_t nlabels;
		const char *(*field_text)(void *arg, const char *name);
		void *field_arg;
		/* The keyed reference (64 hex) of the loaded record's subject,
		 * NULL if it names none: a break-glass grant covers only the
		 * records whose subject_ref is its own. */
		const char *subject_ref;
	} resource;
	struct {
		int64_t time_ms;
		const char *source;
		const char *purpose;         /* X-Purpose-Of-Use as sent (may be NULL) */
	} env;
	/* Auditing of a denial, by the decision point: audit NULL or
	 * audit_action NULL = not audited (explain, unit tests). */
	struct audit *audit;
	const char *audit_action;
	const char *audit_resource;
	const char *audit_detail;
	/* Dual control (approvals.c): deciding a request of another principal.
	 * Once everything else allows, the subject must be neither the
	 * requester (the principal, whatever its session) nor the user the
	 * change is for: deny self_approval (403, PV_E_SELF_APPROVAL). NULL:
	 * not checked. */
	struct {
		const char *requester;
		const char *target_user;
	} approval;
};

struct authz_decision {
	bool allow;
	enum pv_rc rc;                   /* PV_OK, or the error to answer with */
	char reason[AUTHZ_REASON_MAX];   /* stable code; "allowed" when allowed */
	const char *message;             /* for the error body (no PHI) */
	size_t nmatched;                 /* the grants that decided: "role:perm" */
	char matched[AUTHZ_MATCHED_MAX][AUTHZ_RULE_MAX];
	/* obligations */
	unsigned purposes;               /* purposes this grant may be used for */
	uint64_t unmask;                 /* bit i: resource.fields[i] may be clear */
	const char *alert;               /* alert to raise: none yet (NULL) */
	const char *step_up;             /* step-up needed: "mfa" with step_up_max_age_s
	                                  * (RFC 9470 max_age, -1: none), else NULL */
	int64_t step_up_max_age_s;
	bool audit_failed;               /* a denial whose entry was not recorded */
};

/* A permission an app can never hold (users.manage, roles.manage,
 * apps.manage, access.approve): refused at app create and role change, and
 * denied by authz_decide to an app whatever its roles grant. */
bool authz_app_forbidden(const char *perm);

/* Decide; always fills *d (deny by default). Returns d->rc. */
enum pv_rc authz_decide(const struct authz_request *r, struct authz_decision *d);

/* Custom role lookup for compilation: *perms and *condition are malloc'd
 * JSON texts (condition may be NULL); PV_E_NOTFOUND = not a role. */
typedef enum pv_rc (*authz_role_lookup_fn)(void *arg, const char *role, char **perms,
    char **condition);
/* Compile roles into a malloc'd policy (free()); PV_E_TOOBIG beyond
 * AUTHZ_GRANTS_MAX grants. */
enum pv_rc authz_policy_compile(authz_role_lookup_fn lookup, void *arg,
    const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles, uint64_t epoch,
    struct authz_policy **out);

/* ---- access policies (ABAC, conditional access; docs/access-control.md) ---- */
#define AUTHZ_POLICIES_MAX 1000
#define AUTHZ_POLICY_ACTIONS_MAX 32
#define AUTHZ_POLICY_RESOURCES_MAX 64

/* One stored policy as the compiler reads it (texts are JSON). */
struct authz_policy_src {
	const char *name;
	bool deny;                       /* effect: deny (else allow) */
	const char *actions;             /* JSON array of action patterns */
	const char *resources;           /* JSON array of collection names or "*" */
	const char *condition;           /* JSON object, NULL or "{}": always */
};
/* Every policy, for compilation: call cb once per policy; non-PV_OK stops. */
typedef enum pv_rc (*authz_policy_each_fn)(void *arg,
    enum pv_rc (*cb)(void *cbarg, const struct authz_policy_src *p), void *cbarg);
/* authz_policy_compile with the access policies of `each` (NULL: none). */
enum pv_rc authz_policy_compile_all(authz_role_lookup_fn lookup, void *arg,
    authz_policy_each_fn each, void *each_arg,
    const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles, uint64_t epoch,
    struct authz_policy **out);
/* Check a condition object (roles and policies share the language): PV_OK,
 * or PV_E_INVALID with why naming the offending part (no input echoed
 * beyond key names). json_text NULL is "always". */
enum pv_rc authz_condition_check(const char *json_text, char *why, size_t whylen);
/* Check a policy definition (name, actions, resources, condition). */
enum pv_rc authz_policy_check(const struct authz_policy_src *p, char *why, size_t whylen);
size_t authz_policy_size(const struct authz_policy *pol);
/* The condition area of a compiled policy (16-aligned, after the grants). */
const uint8_t *authz_policy_area(const struct authz_policy *pol);
/* The purposes a role condition allows: its "purposes" (array of codes or
 * one "TREAT,HPAYMT" string), all without one, none if unparsable. */
unsigned authz_condition_purposes(const char *condition_json);

/* ======================================================================
 * wiring (identity integration): the http hooks, permission resolution
 * with a cache, and the roles / groups / audit routes.
 *
 * Permission sets are resolved from a principal's effective roles
 * (built-ins from this module, custom roles from the store) and cached by
 * role set; the cache is dropped whenever the authn generation moves (any
 * role, group or membership change). Each request gets its own copy in
 * its arena, so eviction never pulls a set from under a handler.
 * ====================================================================== */
struct authz_service;
struct authn_service;
struct http_server;
struct http_request;

enum pv_rc authz_service_new(struct authn_service *authn, struct authz_service **out);
void authz_service_free(struct authz_service *z);

/* http authenticate hook: authn_authenticate + permission resolution;
 * sets req->principal. */
enum pv_rc authz_authenticate(struct authz_service *z, struct http_request *req);
/* http authorize hook: authz_check; a denial is audited (the route's
 * audit_action or "access", outcome denied, reason
 * "missing_permission:<perm>") and answered 403. */
enum pv_rc authz_authorize(struct authz_service *z, struct http_request *req,
    const char *permission);

/* Resolve the union of the permissions of roles into *out (built-in and
 * custom). PV_E_TOOBIG if it does not fit; unknown roles add nothing. */
enum pv_rc authz_resolve(struct authz_service *z, const char (*roles)[AUTHN_ROLE_NAME_MAX],
    size_t nroles, struct authz_permset *out);

/* POST/GET /v1/roles, POST/GET /v1/groups, GET /v1/audit, /v1/audit/verify,
 * /v1/audit/public-key, /v1/authz/explain, /v1/policies[/{name}]. */
enum pv_rc authz_routes(struct authz_service *z, struct http_server *srv);

/* The expiry sweeper (service.c): a thread that about once a second writes
 * the expiry of what is due on the injectable clock, pending approval
 * requests (approval.expire) and elevations (elevation.expire), each at its
 * own instant, actor system. Reads never write an expiry: they answer what
 * is due as expired already. Stop it before the audit writer stops;
 * authz_service_free stops it too. */
enum pv_rc authz_sweeper_start(struct authz_service *z);
void authz_sweeper_stop(struct authz_service *z);
/* One sweep at now (the sweeper's step; tests call it). */
enum pv_rc authz_expiry_sweep(struct authz_service *z, int64_t now);

/* The compiled policy of a set of roles, from the cache (compiled on a
 * miss, under the current authn generation); copied into arena. */
enum pv_rc authz_policy_get(struct authz_service *z, const char (*roles)[AUTHN_ROLE_NAME_MAX],
    size_t nroles, struct pv_arena *arena, const struct authz_policy **out);
/* Number of custom-role reads from the store since start (tests: a PHI
 * read must not add any). */
uint64_t authz_service_role_reads(struct authz_service *z);
/* Number of policy-table reads (compilations) since start. */
uint64_t authz_service_policy_reads(struct authz_service *z);
/* The RFC 9470 challenge of a step_up_required answer on req:
 * WWW-Authenticate: Bearer error="insufficient_user_authentication"[, max_age=N]
 * (max_age_s < 0: without max_age). authz_fail sets it itself. */
void authz_step_up_header(struct http_request *req, int64_t max_age_s);
/* Answer a denial of the decision point: its rc and message, 503 if it was
 * not recorded, and for step_up_required the RFC 9470 challenge. */
enum pv_rc authz_fail(struct http_request *req, const struct authz_decision *d);
/* The principal's attributes for principal conditions, if its compiled
 * policy tests them (cached per user under the authn generation). */
enum pv_rc authz_principal_attrs(struct authz_service *z, struct authn_principal *p,
    struct pv_arena *arena);

/* The principal's break-glass grant in force (authn_principal.break_glass),
 * if it holds the break_glass role: cached per user under the authn
 * generation, read from the store on a miss (store_breakglass_active). */
enum pv_rc authz_principal_breakglass(struct authz_service *z, struct authn_principal *p,
    struct pv_arena *arena);
/* Number of break-glass grant reads from the store since start. */
uint64_t authz_service_breakglass_reads(struct authz_service *z);

/* ---- access policy operations (policies.c), apart from HTTP ----
 * The CRUD of access policies in API terms (routes_policies.c adapts them
 * to /v1/policies). Each write checks the definition with the compiler
 * before anything is written, commits the change with its audit entry
 * (policy.create / policy.update / policy.delete, resource
 * policies/<name>, detail the definition) and bumps the authz generation.
 * The permission (roles.manage) is the route's; reads are not audited.
 * *out (the API's policy object, or for list the array) is the caller's
 * (json_decref); on failure res->message (if not empty) says why, for the
 * caller. (authz_policy_get is the compiled-policy cache above, hence
 * _read for one stored policy.) */
struct pv_actor;
struct json_t;

struct authz_policy_def {
	const char *name;                /* create: required; update: NULL or unchanged */
	const char *effect;              /* "allow" | "deny" */
	struct json_t *actions;          /* array of action patterns (NULL: missing) */
	struct json_t *resources;        /* array of collections or "*" (NULL: []) */
	struct json_t *condition;        /* object, null or NULL: always */
};
struct authz_policy_result {
	char message[192];
	/* dual control: an allow policy over a PHI action (records.read /
	 * write / unmask, tokens.detokenize, or a pattern covering one) was
	 * stored as this pending request (kind policy.put): answer 202; *out
	 * is then {"approval","status":"pending","name"}. "" when it took
	 * effect. */
	char approval[UTIL_ID_MAX];
};
/* PV_E_INVALID (bad name or definition), PV_E_CONFLICT (name taken). */
enum pv_rc authz_policy_create(struct authz_service *z, const struct pv_actor *actor,
    const struct authz_policy_def *def, struct json_t **out, struct authz_policy_result *res);
/* A new version; PV_E_NOTFOUND, PV_E_INVALID (also for a changed name),
 * PV_E_CONFLICT (deleted or changed meanwhile). */
enum pv_rc authz_policy_update(struct authz_service *z, const struct pv_actor *actor,
    const char *name, const struct authz_policy_def *def, struct json_t **out,
    struct authz_policy_result *res);
/* PV_E_NOTFOUND if there is none. */
enum pv_rc authz_policy_delete(struct authz_service *z, const struct pv_actor *actor,
    const char *name, struct authz_policy_result *res);
enum pv_rc authz_policy_read(struct authz_service *z, const struct pv_actor *actor,
    const char *name, struct json_t **out, struct authz_policy_result *res);
enum pv_rc authz_policy_list(struct authz_service *z, const struct pv_actor *actor,
    struct json_t **out, struct authz_policy_result *res);

/* ---- purpose of use (purpose.c): HL7 v3 PurposeOfUse, part of access policy:
 * roles may restrict which purposes they may use (condition.purposes) ---- */

enum authz_purpose {
	AUTHZ_POU_TREAT = 1u << 0,    /* treatment */
	AUTHZ_POU_ETREAT = 1u << 1,   /* emergency treatment (break-glass) */
	AUTHZ_POU_HPAYMT = 1u << 2,   /* healthcare payment */
	AUTHZ_POU_HOPERAT = 1u << 3,  /* healthcare operations */
	AUTHZ_POU_HRESCH = 1u << 4,   /* healthcare research */
	AUTHZ_POU_PUBHLTH = 1u << 5,  /* public health */
	AUTHZ_POU_PATRQT = 1u << 6,   /* patient requested */
};
#define AUTHZ_POU_ALL 0x7fu
#define AUTHZ_PURPOSE_HEADER "X-Purpose-Of-Use"

/* Exact, uppercase match of one of the codes above. */
bool authz_purpose_valid(const char *code);
/* The code's bit; PV_E_PURPOSE if it is not a known code (NULL included). */
enum pv_rc authz_purpose_parse(const char *code, unsigned *bit);
/* A role's allow-list: "TREAT,HPAYMT" (blanks around entries ignored), "*"
 * for all, "" for none. PV_E_INVALID on an unknown code or an empty entry. */
enum pv_rc authz_purpose_list_parse(const char *csv, unsigned *set);
/* True if code is valid and in set. */
bool authz_purpose_allowed(unsigned set, const char *code);

/* ---- operations apart from HTTP (roles.c, explain.c, audit_read.c) ----
 * The /v1/roles, /v1/authz/explain and /v1/audit routes are adapters over
 * these (parse -> call -> reply). Each takes the caller (the decision
 * point's subject and the source; the actor of every entry it writes is
 * authn_actor of them), audits itself and, on failure, leaves the
 * caller-facing reason in res->message ("" if none): no PHI, no typed
 * username. *out (a JSON value) is the caller's (json_decref). */

struct json_t;

struct authz_caller {
	const struct authn_principal *subject;   /* NULL: nobody (decisions deny) */
	const char *source;                      /* client address, or NULL */
};

#define AUTHZ_MSG_MAX 256                /* room for "condition: " + a compiler reason */
struct authz_result {
	char message[AUTHZ_MSG_MAX];
	/* dual control: the change was stored as this pending request (answer
	 * 202 {"approval","status":"pending"}); "" when it took effect */
	char approval[UTIL_ID_MAX];
};

/* A custom role (role.create, resource roles/<name>, detail
 * {"permissions"}), checked by authz_role_def_check; condition NULL, null,
 * or an object of the policy condition language (authz_condition_check:
 * purposes, source, time, mfa, principal, labels, match, all/any/not).
 * *out: the role as GET /v1/roles shows it.
 * PV_E_INVALID (bad name, permission or condition), PV_E_CONFLICT (a
 * built-in or existing role has the name). */
struct authz_role_spec {
	const char *name;
	const char *const *permissions;          /* each non-NULL */
	size_t npermissions;                     /* 1..AUTHZ_PERMSET_MAX */
	const struct json_t *condition;          /* or NULL */
};
enum pv_rc authz_role_create(struct authz_service *z, const struct authz_caller *c,
    const struct authz_role_spec *spec, struct json_t **out, struct authz_result *res);
/* Built-in and custom roles: a JSON array of {"name","permissions",
 * "condition","builtin"}. Not audited (the route's permission guards it). */
enum pv_rc authz_role_list(struct authz_service *z, const struct authz_caller *c,
    struct json_t **out, struct authz_result *res);

/* POST /v1/authz/explain: may the principal do action on the resource in
 * the context? The caller needs roles.manage or audit.read (action
 * "authz.explain" of the decision point, which audits a denial:
 * PV_E_FORBIDDEN); the question is checked (PV_E_INVALID), the principal
 * must exist (PV_E_NOTFOUND), the answer is recorded (authz.explain,
 * resource users/<id>) before it is returned (PV_E_AUDIT if it cannot be).
 * *out = {"allow","reason","policies","obligations":{"unmask","purposes"},
 * "step_up":null | {"method":"mfa"[,"max_age_s"]}}. The principal's
 * attributes are loaded when its policies test them; a record's labels and
 * internal fields, the time and the age of an MFA are the question's. */
#define AUTHZ_EXPLAIN_LABELS_MAX 16
struct authz_explain_query {
	const char *principal;                   /* usr_... */
	const char *action;                      /* records.read, ... */
	const char *collection;                  /* or NULL */
	const char *record;                      /* or NULL */
	const char *const *fields;               /* field names, or NULL */
	size_t nfields;                          /* <= AUTHZ_FIELDS_MAX */
	/* The record as if loaded (record_loaded): its labels (label codes) and
	 * the text of its internal fields (internal_text(internal_arg, name),
	 * NULL if absent; internal_text NULL: none). Not loaded: conditions on
	 * them are unknown, as before a record is read. */
	bool record_loaded;
	const char *const *labels;               /* or NULL */
	size_t nlabels;                          /* <= AUTHZ_EXPLAIN_LABELS_MAX */
	const char *(*internal_text)(void *arg, const char *name);
	void *internal_arg;
	const char *source;                      /* context, or NULL */
	const char *purpose;
	const char *time;                        /* RFC 3339, "now" or NULL: now */
	bool mfa_given;                          /* a session that did MFA ... */
	int64_t mfa_age_s;                       /* ... that long ago (0..31536000) */
};
enum pv_rc authz_explain(struct authz_service *z, const struct authz_caller *c,
    const struct authz_explain_query *q, struct json_t **out, struct authz_result *res);

/* Reading the trail (permission audit.read at the route). Each read is
 * recorded (audit.read, resource audit, reason list / verify) before the
 * answer: PV_E_AUDIT if that entry cannot be written, and nothing is
 * answered. audit_list: entries with seq > since_seq, at most limit
 * (1..1000), optionally of one actor user ID / one action; *out =
 * {"entries":[...],"next_seq":N}. audit_verify: the chain verified now;
 * *out = {"ok","entries","head","checkpoints"[,"first_bad_seq","reason"]}.
 * audit_public_key: the checkpoint key as PEM, malloc'd (*pem, free). */
struct authz_audit_query {
	int64_t since_seq;                       /* >= 0 */
	int64_t limit;                           /* 1..1000 */
	const char *actor;                       /* user ID, or NULL */
	const char *action;                      /* or NULL */
};
enum pv_rc authz_audit_list(struct authz_service *z, const struct authz_caller *c,
    const struct authz_audit_query *q, struct json_t **out, struct authz_result *res);
enum pv_rc authz_audit_verify(struct authz_service *z, const struct authz_caller *c,
    struct json_t **out, struct authz_result *res);
enum pv_rc authz_audit_public_key(struct authz_service *z, const struct authz_caller *c,
    char **pem, struct authz_result *res);

/* ---- dual control (approvals.c, docs/internals/authz.md "Dual control") ----
 * A change that would give someone PHI access is a pending request until a
 * different principal holding access.approve approves it; the approval
 * applies it in the same transaction as its approval.approve entry. */

/* records.read / records.write / records.unmask / tokens.detokenize, and
 * breakglass.activate (a grant reads a subject's records) and records.export
 * (a bulk read derived from PHI). */
bool authz_perm_grants_phi(const char *perm);
/* Does a policy's actions array (JSON text) cover a PHI action: "*",
 * "records.*", "tokens.*", or one of the five names (records.export too)? */
bool authz_policy_actions_grant_phi(const char *actions_json);
/* access.approve: set only with the seal's authority (phivault officer). */
bool authz_perm_is_officer(const char *perm);
struct store_tx;
/* Does the role (built-in or custom) grant PHI access / access.approve?
 * PV_E_NOTFOUND if there is no such role. */
enum pv_rc authz_role_traits(struct store_tx *tx, const char *role, bool *phi,
    bool *officer);
/* [approvals] expire_s (default 7 days). */
void authz_approvals_configure(struct authz_service *z, int expire_s);
/* Store a pending request (approval.request, resource approvals/<id>,
 * reason pending, detail {kind, target, change}) and its ID in id. kind:
 * user.roles {"user","roles"?,"groups"?} (the full new sets),
 * group.create {"name","roles"}, role.create {"name","permissions",
 * "condition"}, app.roles {"app","roles"}, user.eligible {"user",
 * "eligible_roles"}, policy.put {"name","effect","actions","resources",
 * "condition","version"} (version 0: create, else the version replaced);
 * target users/<id>, groups/<name>, roles/<name>, apps/<id>,
 * policies/<name>. */
enum pv_rc authz_approval_request(struct authz_service *z, const struct pv_actor *actor,
    const char *kind, const char *target, const struct json_t *change,
    char id[UTIL_ID_MAX]);
/* The same request inside a caller's transaction (the fn of the caller's
 * audit_submit / directory_write, on the committer): the row is inserted
 * with tx and its approval.request entry becomes one more entry of that
 * transaction (audit_tx_entry), so a change and the request that names it
 * commit together or not at all. id: the request's ID, made by the caller
 * with util_id_new("apr", id) before the submit (its answer names it).
 * authz_approval_request is this in a transaction of its own. */
enum pv_rc authz_approval_request_tx(struct authz_service *z, struct store_tx *tx,
    const struct pv_actor *actor, const char *kind, const char *target,
    const struct json_t *change, const char id[UTIL_ID_MAX]);
/* Every request (holders of access.approve) or the caller's own; status
 * NULL or pending|approved|denied|expired (else PV_E_INVALID). */
enum pv_rc authz_approval_list(struct authz_service *z, const struct authz_caller *c,
    const char *status, struct json_t **out, struct authz_result *res);
/* One request, if the caller may see it (else PV_E_NOTFOUND). */
enum pv_rc authz_approval_get(struct authz_service *z, const struct authz_caller *c,
    const char *id, struct json_t **out, struct authz_result *res);
/* Approve (apply) or deny a pending request: PV_E_FORBIDDEN (no
 * access.approve, or an app), PV_E_SELF_APPROVAL (the requester or the
 * change's user), PV_E_NOTFOUND, PV_E_CONFLICT (not pending, or the change
 * no longer applies). *out: the request as it is now. */
enum pv_rc authz_approval_settle(struct authz_service *z, const struct authz_caller *c,
    const char *id, bool approve, const char *note, struct json_t **out,
    struct authz_result *res);

/* ---- JIT elevation (elevations.c, docs/internals/authz.md "JIT elevation") ----
 * A user eligible for a role asks to hold it for a while; another
 * principal holding access.approve approves; the role is the user's from
 * the approval until expires_at (or a revocation), checked on every
 * request. Each operation first expires what is due. */

/* [elevation] max_s (default 3600): the longest duration_s. */
void authz_elevations_configure(struct authz_service *z, int max_s);
/* [elevation] role_max_s: the longest duration_s of an elevation to role
 * (60..86400), replacing max_s for it; PV_E_TOOBIG past AUTHZ_ROLE_MAX_N. */
#define AUTHZ_ROLE_MAX_N 32
enum pv_rc authz_elevations_role_max(struct authz_service *z, const char *role, int max_s);
struct authz_elevation_spec {
	const char *role;                /* one of the caller's eligible roles */
	const char *justification;       /* required, <= 1024 bytes */
	const char *ticket;              /* or NULL; <= 128 bytes */
	bool duration_set;
	int64_t duration_s;              /* 60 .. max_s; default min(3600, max_s) */
};
/* A pending request (elevation.request, reason pending): PV_E_FORBIDDEN
 * (an app), PV_E_NOT_ELIGIBLE (audited, reason not_eligible), PV_E_INVALID,
 * PV_E_CONFLICT (one pending or active for that role already). *out: the
 * elevation. */
enum pv_rc authz_elevation_request(struct authz_service *z, const struct authz_caller *c,
    const struct authz_elevation_spec *spec, struct json_t **out, struct authz_result *res);
/* The caller's own, or every one for holders of access.approve; status NULL
 * or pending|active|denied|revoked|expired (else PV_E_INVALID). */
enum pv_rc authz_elevation_list(struct authz_service *z, const struct authz_caller *c,
    const char *status, struct json_t **out, struct authz_result *res);
enum pv_rc authz_elevation_get(struct authz_service *z, const struct authz_caller *c,
    const char *id, struct json_t **out, struct authz_result *res);
/* Approve (the clock starts now) or deny a pending elevation
 * (elevation.approve / elevation.deny): PV_E_FORBIDDEN (no access.approve,
 * an app), PV_E_SELF_APPROVAL (the requester, any session), PV_E_NOTFOUND,
 * PV_E_CONFLICT (not pending). */
enum pv_rc authz_elevation_settle(struct authz_service *z, const struct authz_caller *c,
    const char *id, bool approve, struct json_t **out, struct authz_result *res);
/* End a pending or active elevation (elevation.revoke): the requester, a
 * holder of access.approve or of users.manage; PV_E_CONFLICT if it has
 * ended already. */
enum pv_rc authz_elevation_revoke(struct authz_service *z, const struct authz_caller *c,
    const char *id, struct json_t **out, struct authz_result *res);

#endif /* PV_AUTHZ_H */
