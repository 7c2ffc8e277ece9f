/*
 * directory: who exists. Users (joiner, mover, leaver and the way back),
 * groups and the memberships and attributes of users, as operations in
 * domain terms apart from HTTP (DESIGN.md "Operations, then adapters").
 * The REST routes (routes_users.c, routes_groups.c) are thin adapters over
 * them (parse JSON -> call -> reply); the CLI (`init`'s bootstrap
 * administrator), jobs and later SCIM and the console call the same
 * functions.
 *
 * The module sits above authn and authz (CMake PV_MODULES). It reaches
 * credentials and sessions only through authn's public hooks
 * (authn_sessions_end_user, authn_lockout_clear, authn_password_hash, ...),
 * never through authn's internals.
 *
 * The permission (users.manage) is authz's, decided at the route; each
 * operation makes its own separation-of-duties checks against the actor
 * and audits itself (allowed, denied or error) in one transaction with its
 * data change:
 *  - nobody changes their own roles or groups (user.update denied,
 *    reason self_role_change, PV_E_FORBIDDEN);
 *  - nobody enables, unlocks or resets their own account (denied, reason
 *    self_account, PV_E_FORBIDDEN);
 *  - nobody disables their own account (PV_E_CONFLICT).
 * Every change bumps the authz generation (authn). On failure
 * res->message (if not empty) is the caller-facing reason: no PHI, never a
 * typed username.
 *
 * Invariants:
 *  - users, groups and roles are never deleted and their IDs and names
 *    never reused, so the audit trail always names someone;
 *  - the leaver flow is one transaction (user row disabled, credential
 *    epoch bumped, every session ended), then this node's cached sessions
 *    are dropped at once (authn_sessions_end_user);
 *  - no message, log or entry holds a password or a typed username.
 *
 * Workload identities (issue 10, "apps") are directory entries too:
 * directory_app_* below (apps.c), routes_apps.c, actor kind PV_ACTOR_APP.
 */
#ifndef PV_DIRECTORY_H
#define PV_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "authn/authn.h"
#include "util/util.h"

struct store;
struct audit;
struct pv_config;
struct pv_actor;
struct http_server;
struct json_t;

struct directory;
struct authz_service;
struct keys;

struct directory_config {
	/* the session cache to invalidate and the authz generation to bump;
	 * NULL when no server runs (init): nothing is cached then */
	struct authn_service *authn;
	struct store *st;
	struct audit *audit;
	const struct pv_config *cfg;       /* Argon2id parameters; must outlive d */
	/* dual control: where changes that would grant PHI access become
	 * pending requests (authz_approval_request). NULL: such a change is
	 * refused (PV_E_STATE), never applied unapproved. */
	struct authz_service *authz;
	/* the seal, for the officers' authority (keys_seal_authority); NULL:
	 * officers cannot be changed */
	struct keys *keys;
};

enum pv_rc directory_new(const struct directory_config *c, struct directory **out);
void directory_free(struct directory *d);
/* POST/GET/PATCH /v1/users..., POST/GET /v1/groups (docs/openapi.yaml). */
enum pv_rc directory_routes(struct directory *d, struct http_server *srv);

/* ---- users ---- */

struct directory_user_spec {
	const char *username;         /* create: as typed (lowercased here) */
	const char *display_name;     /* NULL: "" on create, unchanged on update */
	const char *email;            /* NULL: "" / unchanged */
	const char *attributes;       /* JSON object text; NULL: "{}" / unchanged */
	bool set_roles;               /* create: roles always set (possibly none) */
	const char *const *roles;     /* distinct names; each must exist */
	size_t nroles;
	bool set_groups;
	const char *const *groups;
	size_t ngroups;
	const char *const *fields;    /* update: the names of the fields changed (audit) */
	size_t nfields;
	/* update: the roles the user may ask a JIT elevation to (the full new
	 * set); one granting PHI access makes the change a pending request
	 * (kind user.eligible) like a role assignment */
	bool set_eligible;
	const char *const *eligible;
	size_t neligible;
};

/* What an operation answers besides its rc. */
struct directory_result {
	char id[UTIL_ID_MAX];         /* the user (or "" for groups) */
	char username[AUTHN_USERNAME_MAX];
	/* create and reset: the new one-time password, shown once; the caller
	 * wipes it (directory_result_wipe) as soon as it is sent */
	char one_time_password[AUTHN_OTP_LEN + 1];
	size_t sessions_ended;        /* disable, reset */
	/* dual control: the PHI-granting part of the change is this pending
	 * request (answer 202); "" when everything took effect */
	char approval[UTIL_ID_MAX];
	char message[192];            /* why it failed, for the caller ("" if none) */
	int retry_after_s;            /* PV_E_LOCKED: Retry-After */
	/* update: the user as the transaction left it (the caller's,
	 * json_decref), when the call answered from a completion */
	struct json_t *object;
	/*
	 * An answer without a waiting thread (issue 9; docs/internals/
	 * directory.md "Commits"): a caller that can answer later (an HTTP
	 * route) sets done before the call, and every operation keeps it. An
	 * operation that reaches its commit on an HTTP request thread then
	 * submits it with a completion and returns PV_PENDING; done(rc, res,
	 * done_arg) runs exactly once, on the committer after the fsync (cheap
	 * work only), with rc and res (message, IDs, counts, object) as the
	 * waiting call would have returned them. res (and anything the call
	 * writes, such as a secret's out) must then be heap memory that lives
	 * until done. done NULL (init, jobs; zero-initialise res): the call
	 * waits, as before (a change set's results have none: the set answers).
	 */
	void (*done)(enum pv_rc rc, struct directory_result *res, void *done_arg);
	void *done_arg;
};
void directory_result_wipe(struct directory_result *res);
/* Zero res but for done / done_arg (what every operation starts with). */
void directory_result_reset(struct directory_result *res);

/* Joiner: a new user with a one-time password (user.create). */
enum pv_rc directory_user_create(struct directory *d, const struct pv_actor *actor,
    const struct directory_user_spec *spec, struct directory_result *res);
/* Mover: display name, email, attributes, roles, groups (user.update). */
enum pv_rc directory_user_update(struct directory *d, const struct pv_actor *actor,
    const char *id, const struct directory_user_spec *spec, struct directory_result *res);
/* Leaver: disable, end every session in the same transaction, forget the
 * cached ones on this node (user.disable). Idempotent. */
enum pv_rc directory_user_disable(struct directory *d, const struct pv_actor *actor,
    const char *id, struct directory_result *res);
/* Undo a disable; sessions stay ended (user.enable). */
enum pv_rc directory_user_enable(struct directory *d, const struct pv_actor *actor,
    const char *id, struct directory_result *res);
/* Forget the password and MFA lockouts (user.unlock). */
enum pv_rc directory_user_unlock(struct directory *d, const struct pv_actor *actor,
    const char *id, struct directory_result *res);
/* New one-time password; MFA, recovery codes and lockouts cleared; every
 * session ends (user.reset, detail roles / roles_not_held). PV_E_CONFLICT
 * for a disabled user. */
enum pv_rc directory_user_reset(struct directory *d, const struct pv_actor *actor,
    const char *id, struct directory_result *res);
/* The API representation of one user / of all (or of the one of that
 * username, zero or one); *out is the caller's (json_decref). Reads are
 * not audited (the route permission users.manage guards them). */
enum pv_rc directory_user_get(struct directory *d, const struct pv_actor *actor,
    const char *id, struct json_t **out, struct directory_result *res);
enum pv_rc directory_user_list(struct directory *d, const struct pv_actor *actor,
    const char *username, struct json_t **out, struct directory_result *res);

/* init: create the bootstrap administrator (role admin, the given
 * one-time password) through the audit writer, action user.create, actor
 * the system. */
enum pv_rc directory_bootstrap_admin(struct store *st, struct audit *audit,
    const struct pv_config *cfg, const char *username, const char *password,
    char user_id[UTIL_ID_MAX]);

/* ---- change sets (multi.c): several operations, one transaction ----
 *
 * A caller that makes several directory changes for one request (SCIM:
 * a user created and disabled, a group and the memberships of its
 * members) opens a set, calls the operations above as usual and commits
 * the set: every operation makes its checks (validation, separation of
 * duties, an app's forbidden grants, refusals recorded as denials) when it
 * is called, exactly as alone, but its write becomes a step of the set
 * instead of a commit of its own. directory_set_commit then submits every
 * step with every step's entry as ONE transaction (audit_submitv): all of
 * it commits, or nothing does. The checks of a later step see what earlier
 * steps create (a user to disable, a group to join) as existing.
 *
 * While a set is open on a thread (begin .. commit / abort), the
 * operations' arguments (strings, arrays) must live until the set's done:
 * directory_set_strdup / _alloc give memory that does. A change that
 * files a dual-control request is one write like any other (the request
 * is filed in its fn, authz_approval_request_tx), so it joins the set and
 * commits with it. A group made inside a set has no roles
 * (PV_E_INVALID otherwise): a membership of it then grants nothing, so the
 * checks that read a group's roles hold for it unread.
 */
struct directory_set;
/* Open a set on this thread (one at a time). */
enum pv_rc directory_set_begin(struct directory *d, struct directory_set **out);
/* A result for the next operation of the set (zeroed, no done), owned by
 * the set; NULL: out of memory. After the operation returned PV_OK, its
 * id / username are filled (a created user's ID too, before the commit). */
struct directory_result *directory_set_result(struct directory_set *set);
/* Memory (zeroed) / a copy of str that lives until the set is freed; NULL:
 * out of memory. */
void *directory_set_alloc(struct directory_set *set, size_t n);
char *directory_set_strdup(struct directory_set *set, const char *str);
/* What the set's transaction reads back after its steps, for the answer:
 * one user's API representation (directory_user_get's) or every user's
 * (an array, directory_user_list's). At most one of them. */
enum pv_rc directory_set_read_user(struct directory_set *set, const char *id);
void directory_set_read_users(struct directory_set *set);
/* Will directory_set_commit, called now, answer from the completion (a
 * set with steps, on an HTTP request thread)? Otherwise done runs before
 * it returns (it waited, or there was nothing to commit). */
bool directory_set_async(const struct directory_set *set);
/*
 * Close the set and commit it: done(rc, res, read, arg) runs exactly once,
 * after the commit (on the committer when directory_set_async: cheap work
 * only), with rc PV_OK or the first failing step's rc (its finish's: 409,
 * 404, ... with res->message) or PV_E_AUDIT (nothing committed), and read
 * the read-back (the callee's reference: json_decref; NULL on failure or
 * when nothing was asked). On success each step's effects follow, in
 * order (sessions dropped, role sets re-resolved). A set without steps
 * reads back at once (no commit). Returns PV_PENDING (done later) or done's
 * rc after it ran. The set is freed after done.
 */
typedef enum pv_rc (*directory_set_done_fn)(enum pv_rc rc, const struct directory_result *res,
    struct json_t *read, void *arg);
enum pv_rc directory_set_commit(struct directory_set *set, directory_set_done_fn done,
    void *arg);
/* Close and drop the set: nothing of it is submitted (refusals the
 * operations recorded stand). */
void directory_set_abort(struct directory_set *set);

/* ---- security officers (officers.c): the approvers of dual control ----
 * security_officer is given and taken only here, with the seal's
 * authority (keys_seal_authority): the key file's text, or K shares.
 * Wrong: PV_E_SEAL_AUTHORITY (recorded, counted in the lockout table;
 * PV_E_LOCKED with res->retry_after_s once locked). */
struct directory_officer_auth {
	const char *key_file;         /* the text of DIR/unseal.key, or NULL */
	const char *const *shares;    /* or K shares */
	size_t nshares;
	const char *pin;              /* or, with the pkcs11 seal, the token's user PIN */
};
/* Create the user with role security_officer (one-time password in res),
 * or promote an existing one (no password: it keeps its own). officer.add. */
enum pv_rc directory_officer_add(struct directory *d, const struct pv_actor *actor,
    const char *username, const struct directory_officer_auth *auth,
    struct directory_result *res);
/* Take the role away (officer.remove); PV_E_NOTFOUND if not an officer. */
enum pv_rc directory_officer_remove(struct directory *d, const struct pv_actor *actor,
    const char *username, const struct directory_officer_auth *auth,
    struct directory_result *res);
/* [{"user_id","username","status"}] of the users holding the role. */
enum pv_rc directory_officer_list(struct directory *d, const struct pv_actor *actor,
    struct json_t **out, struct directory_result *res);

/* `phivault dev`: a security officer as well (role security_officer, the
 * given one-time password; officer.add, actor the system, detail
 * bootstrap). The seal's authority is the process's own: it has just made
 * the seal. */
enum pv_rc directory_bootstrap_officer(struct store *st, struct audit *audit,
    const struct pv_config *cfg, const char *username, const char *password,
    char user_id[UTIL_ID_MAX]);

/* ---- groups: named sets of roles; members inherit them ---- */

struct directory_group_spec {
	const char *name;             /* [a-z][a-z0-9_]{0,62} */
	const char *const *roles;     /* distinct role names; each must exist */
	size_t nroles;
};

/* A new group (group.create, resource groups/<name>, detail {"roles"}).
 * PV_E_INVALID (bad name, bad, duplicate or unknown role), PV_E_CONFLICT
 * (the name is taken). */
enum pv_rc directory_group_create(struct directory *d, const struct pv_actor *actor,
    const struct directory_group_spec *spec, struct directory_result *res);
/* [{"name","roles":[...]}, ...]; *out is the caller's. Not audited. */
enum pv_rc directory_group_list(struct directory *d, const struct pv_actor *actor,
    struct json_t **out, struct directory_result *res);

/* ---- apps: workload identities (apps.c, docs/internals/directory.md "Apps") ----
 * An app is a principal of its own (app_...): roles, a network allow-list
 * (CIDR), secrets (at most two live, for rotation) and, later, client
 * certificates. It never holds users.manage, roles.manage, apps.manage or
 * access.approve (authz_app_forbidden): refused at create, and denied by
 * the decision point whatever a role says. Apps are never deleted; disable
 * ends every session at once. The permission (apps.manage) is authz's, at
 * the route. */

#define DIRECTORY_APP_SECRETS_LIVE_MAX 2

struct directory_app_spec {
	const char *name;             /* [a-z0-9._-]{1,64} (lowercased), unique */
	const char *const *roles;     /* distinct existing role names */
	size_t nroles;
	const char *const *networks;  /* 1..AUTHN_APP_NETWORKS_MAX CIDRs */
	size_t nnetworks;
};

/* A new app (app.create, resource apps/<id>, detail {name, roles, networks}).
 * PV_E_INVALID (bad name, role, forbidden permission, network),
 * PV_E_CONFLICT (the name is taken). */
enum pv_rc directory_app_create(struct directory *d, const struct pv_actor *actor,
    const struct directory_app_spec *spec, struct directory_result *res);
/* {"id","name","roles","networks","status","created","created_by","secrets":[...]}
 * (secrets by ID and dates, never a hash); *out is the caller's. Not audited. */
enum pv_rc directory_app_get(struct directory *d, const struct pv_actor *actor,
    const char *id, struct json_t **out, struct directory_result *res);
enum pv_rc directory_app_list(struct directory *d, const struct pv_actor *actor,
    struct json_t **out, struct directory_result *res);
/* Disable, end every session in the same transaction (app.disable).
 * Idempotent; res->sessions_ended. */
enum pv_rc directory_app_disable(struct directory *d, const struct pv_actor *actor,
    const char *id, struct directory_result *res);

/* A new secret, shown once: the caller wipes it (directory_app_secret_wipe). */
struct directory_app_secret {
	char secret_id[UTIL_ID_MAX];
	char secret[AUTHN_TOKEN_MAX];
};
void directory_app_secret_wipe(struct directory_app_secret *s);
/* app.secret_add, resource apps/<id>/secrets/<secret_id>. PV_E_CONFLICT
 * when two are live already (delete one first) or the app is disabled. */
enum pv_rc directory_app_secret_add(struct directory *d, const struct pv_actor *actor,
    const char *id, struct directory_app_secret *out, struct directory_result *res);
/* app.secret_remove: the secret stops working at once. PV_E_NOTFOUND if
 * the app has no such live secret. */
enum pv_rc directory_app_secret_remove(struct directory *d, const struct pv_actor *actor,
    const char *id, const char *secret_id, struct directory_result *res);

/* Revoke one of the app's client certificates by serial (app.cert_revoke,
 * resource apps/<id>/certificate/<serial>, detail {sessions_ended}): refused
 * at every later sign-in, and every session bound to it ends in the same
 * transaction (res->sessions_ended). PV_E_NOTFOUND (no such app; a serial
 * that is not lower-case hex), PV_E_CONFLICT (revoked already). */
enum pv_rc directory_app_cert_revoke(struct directory *d, const struct pv_actor *actor,
    const char *id, const char *serial, struct directory_result *res);

/* A client certificate for mutual TLS from phivault's app CA (app.certificate,
 * resource apps/<id>, detail {serial, not_after}): the CSR's self-signature
 * must verify, only its key is used. PV_E_NOTFOUND, PV_E_STATE (disabled),
 * PV_E_INVALID (not a CSR, bad signature), PV_E_SEALED. */
struct directory_app_cert {
	char *cert_pem;   /* malloc'd: directory_app_cert_free */
	char *ca_pem;
	char serial[41];
	int64_t not_after_ms;
};
enum pv_rc directory_app_certificate(struct directory *d, const struct pv_actor *actor,
    const char *id, const char *csr_pem, struct directory_app_cert *out,
    struct directory_result *res);
void directory_app_cert_free(struct directory_app_cert *c);

/* ---- access review campaigns (campaigns.c, docs/governance.md "Access
 * reviews", docs/internals/directory.md "Access review campaigns") ----
 * A campaign lists every principal in its scope with what it holds (roles,
 * groups, the grants that put it in scope, active elevations, last use,
 * who approved it, unused flag); a reviewer holding access.approve (the
 * route's permission; an officer), never the principal itself and never an
 * app, decides each item keep or revoke. Revoke removes the in-scope roles
 * and groups of a user (security_officer is never among them: officers
 * change only with the seal's authority) or disables an app, in the same
 * transaction as its review.campaign.decide entry. At the due date the
 * sweeper removes what is still pending (on_due remove, entry
 * review.campaign.remove) or marks it unattested and raises
 * access_review_overdue (on_due alert, entry review.campaign.overdue), then
 * closes the campaign with its result signed by the audit key
 * (review.campaign.close). */

#define DIRECTORY_CAMPAIGN_DUE_MIN_S 60
#define DIRECTORY_CAMPAIGN_DUE_MAX_S 31536000
#define DIRECTORY_CAMPAIGN_NOTE_MAX 1024
/* The signed message: this tag, then the result text (JSON, compact,
 * sorted keys) exactly as stored and served. */
#define DIRECTORY_CAMPAIGN_SIG_TAG "phivault-review-campaign-v1\n"

struct directory_campaign_spec {
	const char *scope;            /* phi_access | admins | apps */
	const char *reviewers;        /* officers ("managers": PV_E_INVALID, not supported) */
	int64_t due_in_s;             /* 0: [reviews] campaign_due_s */
};
/* review.campaign.create (resource reviews/campaigns/<id>); res->id.
 * PV_E_INVALID with res->message for a bad scope, reviewers or due_in_s. */
enum pv_rc directory_campaign_create(struct directory *d, const struct pv_actor *actor,
    const struct directory_campaign_spec *spec, struct directory_result *res);
/* {"campaigns":[...]} newest first (status NULL, "open" or "closed"). Not audited. */
enum pv_rc directory_campaign_list(struct directory *d, const struct pv_actor *actor,
    const char *status, struct json_t **out, struct directory_result *res);
/* One campaign with its items, its result and signature once closed and
 * whether that signature verifies now ("signature_valid"). Not audited. */
enum pv_rc directory_campaign_get(struct directory *d, const struct pv_actor *actor,
    const char *id, struct json_t **out, struct directory_result *res);
/* keep | revoke one pending item (review.campaign.decide). PV_E_NOTFOUND,
 * PV_E_FORBIDDEN (self-review, an app; audited as a denial), PV_E_STATE (the
 * campaign is closed), PV_E_CONFLICT (decided already), PV_E_INVALID. */
enum pv_rc directory_campaign_record(struct directory *d, const struct pv_actor *actor,
    const char *id, const char *item, const char *decision, const char *note,
    struct directory_result *res);
/* Process what is due at now (the injectable clock): campaigns past due_at
 * (remove or alert, then close and sign) and the schedule ([reviews]
 * campaign_every_s). The sweeper calls it; tests may too. */
enum pv_rc directory_campaigns_sweep(struct directory *d, int64_t now_ms);
/* Start / stop the sweeper thread (looks every 500 ms of real time).
 * stop is idempotent and NULL-safe; directory_free stops it. */
enum pv_rc directory_campaigns_start(struct directory *d);
void directory_campaigns_stop(struct directory *d);

#endif /* PV_DIRECTORY_H */
