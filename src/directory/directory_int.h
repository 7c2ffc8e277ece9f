/*
 * directory_int.h: internals shared by the files of src/directory/ and
 * their unit tests only. Nothing here is API; other modules include
 * directory.h.
 */
#ifndef PV_DIRECTORY_INT_H
#define PV_DIRECTORY_INT_H

#include <jansson.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "config/config.h"
#include "directory/directory.h"
#include "http/http.h"
#include "store/store.h"

struct directory_campaigns;

struct directory {
	struct authn_service *authn;       /* NULL: no cache to invalidate (init) */
	struct store *st;
	struct audit *audit;
	const struct pv_config *cfg;
	struct authz_service *authz;       /* NULL: PHI-granting changes refused */
	struct keys *keys;                 /* NULL: officers cannot be changed */
	struct directory_campaigns *campaigns;   /* the due-date sweeper (campaigns.c) */
};

/* apps.c: disable app id in tx (disabled, credential epoch bumped, every
 * session ended: *ended); idempotent. The commit is the caller's. */
enum pv_rc directory_app_disable_in(struct store_tx *tx, const char *id, int64_t now_ms,
    size_t *ended);
enum pv_rc directory_route_campaigns(struct directory *d, struct http_server *srv);

/* ---- dual control (users.c, groups.c) ---- */

/* What a set of roles and groups would grant: which of them grant PHI
 * access without an approval (a role with records.* / tokens.detokenize; a
 * group carrying one that is not an approved mapping), and whether one
 * carries access.approve (reserved for the seal's authority). */
struct directory_gate {
	bool role_phi[AUTHN_ROLES_MAX];
	bool group_phi[AUTHN_ROLES_MAX];
	bool phi;                          /* some entry above */
	bool officer;                      /* a role or group with access.approve */
};
/* Classify roles and groups (each must exist: checked before). */
/* The OIDC group gate (authn_oidc_group_gate_fn; dualctl.c). */
enum pv_rc directory_oidc_group_gate(void *arg, struct store_tx *tx, const char *group,
    bool *allowed);
enum pv_rc directory_gate_check(struct directory *s, const char *const *roles, size_t nroles,
    const char *const *groups, size_t ngroups, struct directory_gate *g);
/* Record the refusal of a change naming security_officer / access.approve
 * (action on resource, reason officer_reserved) and answer it. */
enum pv_rc directory_officer_refused(struct directory *s, const struct pv_actor *actor,
    const char *action, const char *resource, struct directory_result *res);

/* A dual-control request that commits with the change it belongs to
 * (docs/internals/directory.md "Dual control"): made before the submit
 * (its ID, for the answer, and its change), filed inside the write's fn
 * with directory_request_file (authz_approval_request_tx: the row and its
 * approval.request entry in the operation's own transaction), so the user
 * or app and the request naming it exist together or not at all. Unset
 * (id ""): nothing to file. The actor's strings are the caller's request's
 * (they live until the answer). */
struct directory_request {
	struct authz_service *authz;
	struct pv_actor actor;
	char kind[32];                     /* user.roles, user.eligible, app.roles */
	char target[UTIL_ID_MAX + 8];      /* users/<id>, apps/<id> */
	json_t *change;                    /* owned */
	char id[UTIL_ID_MAX];              /* apr_...; "" unset */
};
/* q (zeroed first) for kind on target; change is taken (NULL: PV_E_NOMEM),
 * released on failure. */
enum pv_rc directory_request_init(struct directory *s, const struct pv_actor *actor,
    struct directory_request *q, const char *kind, const char *target, json_t *change);
/* Inside the write's fn: file q (NULL or unset: PV_OK). */
enum pv_rc directory_request_file(struct store_tx *tx, const struct directory_request *q);
/* Hand q over (from is left unset). */
void directory_request_move(struct directory_request *to, struct directory_request *from);
void directory_request_clear(struct directory_request *q);

/* officers.c: create the user with the given roles, bypassing the gate
 * (the seal's authority was checked by the caller). */
enum pv_rc directory_user_create_unchecked(struct directory *s, const struct pv_actor *actor,
    const struct directory_user_spec *sp, const char *detail_extra,
    struct directory_result *res);
enum pv_rc directory_route_officers(struct directory *d, struct http_server *srv);

/* Roles, groups or memberships changed: cached role sets re-resolve. */
void directory_changed(struct directory *s);

/* The API representation of u (with its roles and groups). */
json_t *directory_user_json(struct store_tx *tx, const struct store_user *u);

/* ---- answering from a completion (routes_call.c) ----
 * A write route's call: res (with done) and the outputs the operation
 * fills live here, on the heap, until the answer. reply builds the success
 * answer from c (on the committer when the operation answered from its
 * completion: cheap work only, no store call); a failure is answered with
 * res.message (and res.retry_after_s). */
struct directory_call;
typedef enum pv_rc (*directory_reply_fn)(struct http_request *req,
    struct directory_call *c);
struct directory_call {
	struct http_request *req;
	directory_reply_fn reply;
	struct directory_result res;
	struct directory_app_secret secret;   /* secret add's out */
	struct directory_app_cert cert;       /* certificate's out */
	const char *name;                     /* the route's own (e.g. the group's name) */
	const char *const *names;
	size_t nnames;
};
/* NULL: out of memory. */
struct directory_call *directory_call_new(struct http_request *req, directory_reply_fn reply);
/* The handler's return for the operation's rc: PV_PENDING (answered, and c
 * freed, from the completion) or the answer now (c freed). */
enum pv_rc directory_call_end(struct directory_call *c, enum pv_rc rc);

/* Route tables (one registration function per file). */
enum pv_rc directory_route_users(struct directory *d, struct http_server *srv);
enum pv_rc directory_route_groups(struct directory *d, struct http_server *srv);
enum pv_rc directory_route_apps(struct directory *d, struct http_server *srv);

/* ---- shared by the operations (service.c) ---- */

/* Does role (built-in or custom) grant a permission an app can never hold
 * (authz_app_forbidden)? Its name in perm ("" if none); *exists false if
 * there is no such role (apps.c). */
enum pv_rc directory_role_app_forbidden(struct directory *s, const char *role, char *perm,
    size_t len, bool *exists);

/* ---- writes (service.c; docs/internals/directory.md "Commits") ----
 *
 * An operation's transaction: fn(tx, job) (NULL: the entry alone) and ev.
 * job is heap memory the call owns from here on (job_free, NULL: free(),
 * runs exactly once, after finish); it may point into the caller's
 * request (the arena, the principal: they live until the answer) but never
 * into the caller's stack. finish(s, rc, job, res) (NULL: rc as is) runs
 * exactly once after the commit, with fn's rc (or PV_E_AUDIT when the
 * group did not commit, or the submit's error): it maps rc to the answer
 * (message), fills res from job (IDs, counts, the user read back) and, on
 * success, runs the effects that follow a commit (directory_changed,
 * dropping cached sessions); it returns the answer's rc.
 *
 * With res->done set, on an HTTP request thread: submitted with a
 * completion (audit_submit);
 * returns PV_PENDING (or the submit's error, after finish), and finish then
 * res->done run on the committer. Otherwise: audit_commit, finish, and its
 * rc is returned. ev is copied; its strings need not outlive the call.
 */
struct directory_write {
	audit_job_fn fn;
	void *job;
	void (*job_free)(void *job);
	enum pv_rc (*finish)(struct directory *s, enum pv_rc rc, void *job,
	    struct directory_result *res);	enum commit_prio prio;   /* COMMIT_BACKGROUND: the sweeper's (waits) */
};
enum pv_rc directory_write(struct directory *s, const struct audit_event *ev,
    const struct directory_write *w, struct directory_result *res);
/* directory_write of a write that creates user u or group g (the job's
 * rows; NULL: not), so that the checks of a change set's later steps see
 * them (multi.c). */
enum pv_rc directory_write_creating(struct directory *s, const struct audit_event *ev,
    const struct directory_write *w, const struct store_user *u, const struct store_group *g,
    struct directory_result *res);
/* Would directory_write answer from a completion? */
bool directory_write_async(const struct directory_result *res);
/* ---- change sets (multi.c; directory.h "change sets") ----
 * directory_write's first step: with a set open on this thread, the write
 * becomes a step of it: true, *rc its answer (PV_OK: collected; finish runs
 * after the set's commit). false: no set, write as usual. */
bool directory_set_collect(struct directory *s, const struct audit_event *ev,
    const struct directory_write *w, const struct store_user *u, const struct store_group *g,
    struct directory_result *res, enum pv_rc *rc);
/* For the checks of a set's later steps: does the open set create user id
 * (then *u gets its id and username, the rest zero) / group name? */
bool directory_set_user(const char *id, struct store_user *u);
bool directory_set_group(const char *name);

/* An audited refusal (outcome denied): held on a request thread
 * (audit_record_held, fail closed), else recorded before the answer.
 * PV_E_AUDIT if it could not be; else the caller answers its refusal. */
enum pv_rc directory_refusal(struct directory *s, const struct audit_event *ev);

/* msg into res->message; returns rc. */
enum pv_rc directory_fail(struct directory_result *res, enum pv_rc rc, const char *msg);
/* An allowed audit event by actor: action on resource, the rest zero. */
void directory_event_init(struct audit_event *ev, const struct pv_actor *actor,
    const char *action, const char *resource);

/* A listing: a JSON array filled inside one read transaction.
 * directory_list_begin makes both; directory_list_add appends one item
 * (NULL: it could not be made; the listing fails, a store callback's 1 stops
 * it); directory_list_end ends the transaction and puts the array in *out
 * when rc is PV_OK and every item was made (else PV_E_INTERNAL or rc, and
 * the array is released). */
struct directory_list {
	struct store_tx *tx;
	json_t *arr;
	bool failed;
};
enum pv_rc directory_list_begin(struct directory *d, struct directory_list *l);
int directory_list_add(struct directory_list *l, json_t *o);
enum pv_rc directory_list_end(struct directory_list *l, enum pv_rc rc, json_t **out);

#endif /* PV_DIRECTORY_INT_H */
