/*
 * authz_int.h: declarations shared by the files of src/authz/ (the
 * identity wiring) and their tests. Not API.
 */
#ifndef PV_AUTHZ_INT_H
#define PV_AUTHZ_INT_H

#include <pthread.h>
#include <stdint.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "authz/authz.h"
#include "http/http.h"
#include "store/store.h"
#include "util/ticker.h"

/* Resolved permission sets, keyed by the sorted role list. */
#define AUTHZ_CACHE_SLOTS 64
#define AUTHZ_ROLEKEY_MAX (AUTHN_ROLES_MAX * AUTHN_ROLE_NAME_MAX)

struct authz_cache_slot {
	char key[AUTHZ_ROLEKEY_MAX];     /* role names joined by ',' ; "" = free */
	uint64_t gen;                    /* authn generation it was resolved under */
	uint64_t used;                   /* LRU tick */
	struct authz_permset *set;       /* malloc'd */
	struct authz_policy *pol;        /* malloc'd, compiled with set */
};

/* User attributes for principal conditions, by user, under the generation
 * (every user update bumps it). */
#define AUTHZ_ATTR_SLOTS 256
struct authz_attr_slot {
	char user_id[UTIL_ID_MAX];       /* "" = free */
	uint64_t gen;
	char *text;                      /* malloc'd JSON object text */
};

/* Active JIT elevations, by user, under the generation (every approval,
 * revocation and expiry bumps it); elevations.c. */
#define AUTHZ_ELEV_SLOTS 256
struct authz_elev_slot {
	char user_id[UTIL_ID_MAX];       /* "" = free */
	uint64_t gen;
	size_t n;
	char id[AUTHN_ELEVATIONS_MAX][UTIL_ID_MAX];
	char role[AUTHN_ELEVATIONS_MAX][AUTHN_ROLE_NAME_MAX];
	int64_t expires_ms[AUTHN_ELEVATIONS_MAX];
};

/* The break-glass grant of a user in force, cached under the authn
 * generation (activation and end bump it); expiry needs no bump: the
 * decision compares expires_ms with the request's time. */
struct authz_bg_slot {
	char user_id[UTIL_ID_MAX];       /* "" = free */
	uint64_t gen;
	bool found;
	struct authn_breakglass g;
};

struct authz_service {
	struct authn_service *authn;
	struct store *st;
	struct audit *audit;
	struct keys *keys;
	pthread_mutex_t mu;
	uint64_t tick;
	_Atomic uint64_t role_reads;     /* custom roles read from the store */
	struct authz_cache_slot slots[AUTHZ_CACHE_SLOTS];
	_Atomic uint64_t policy_reads;   /* policy lists read from the store */
	struct authz_attr_slot attrs[AUTHZ_ATTR_SLOTS];
	int approvals_expire_s;          /* [approvals] expire_s (approvals.c) */
	int elevation_max_s;             /* [elevation] max_s (elevations.c) */
	size_t nrole_max;                /* [elevation] role_max_s (elevations.c) */
	struct {
		char role[AUTHN_ROLE_NAME_MAX];
		int max_s;
	} role_max[AUTHZ_ROLE_MAX_N];
	struct authz_elev_slot elev[AUTHZ_ELEV_SLOTS];
	struct authz_bg_slot bg[AUTHZ_ATTR_SLOTS];
	_Atomic uint64_t bg_reads;       /* break-glass grants read from the store */
	struct util_ticker sweeper;      /* expiries (authz_sweeper_start) */
};

/* elevations.c: add the roles of the user's active elevations to p (and
 * their IDs to p->elevations), dropping any past its expires_ms; called by
 * authz_authenticate before the policy is resolved. */
enum pv_rc authz_elevations_attach(struct authz_service *z, struct authn_principal *p);
/* With [auth] mfa_required = admins: p holds an elevation, did no MFA and
 * its permissions `set` (elevated roles included) are privileged: MFA is
 * owed, as for a new admin: step up if enrolled (p->elevation_mfa_owed,
 * authz_decide answers step_up_required), else restricted to enrolment. */
void authz_elevations_mfa(struct authz_service *z, struct authn_principal *p,
    const struct authz_permset *set);
/* The sweeper's steps (service.c, authz_expiry_sweep): write the expiry
 * of what is due at now, each at its own instant with its entry (actor
 * system): elevation.expire (and the generation moves), approval.expire.
 * Off a request thread: each waits for its commit. */
enum pv_rc authz_elevations_expire(struct authz_service *z, int64_t now);
enum pv_rc authz_approvals_expire(struct authz_service *z, int64_t now);
enum pv_rc authz_route_elevations(struct authz_service *z, struct http_server *srv);

/* Record a denial decided by authz_decide (decide.c). On a request thread
 * the answer waits for the entry's commit instead of the thread
 * (audit_record_held): fail_closed, an entry that is not durable turns the
 * answer into PV_E_AUDIT; otherwise the refusal stands, logged. */
enum pv_rc authz_audit_denial(struct audit *audit, const struct authz_request *r,
    const struct authz_decision *d, bool fail_closed);

/* Audit event with the principal as actor. */
void authz_ev_init(struct audit_event *ev, const struct authn_principal *p, const char *source,
    const char *action, const char *resource);
/* The audit entry of a route-level denial (service.c); *detail malloc'd. */
void authz_denial_event(struct http_request *req, const char *reason, enum pv_rc rc,
    struct audit_event *ev, char **detail);
enum pv_rc authz_route_roles(struct authz_service *z, struct http_server *srv);
enum pv_rc authz_route_audit(struct authz_service *z, struct http_server *srv);
enum pv_rc authz_route_explain(struct authz_service *z, struct http_server *srv);
enum pv_rc authz_route_policies(struct authz_service *z, struct http_server *srv);
enum pv_rc authz_route_approvals(struct authz_service *z, struct http_server *srv);

/* ---- conditions (cond.c) ---- */
#include <jansson.h>

/* A growable byte area of compiled conditions (8-aligned nodes). */
struct authz_cbuf {
	uint8_t *b;
	size_t len, cap;
	bool oom;
};
int32_t authz_cbuf_str(struct authz_cbuf *cb, const char *s);
int32_t authz_cbuf_alloc(struct authz_cbuf *cb, size_t n);
void authz_cbuf_free(struct authz_cbuf *cb);

/* Three-valued results. */
#define AUTHZ_T_FALSE 0
#define AUTHZ_T_TRUE 1
#define AUTHZ_T_UNKNOWN 2

/* The first failing test of a FALSE condition. */
enum authz_cfail {
	AUTHZ_CF_NONE = 0,
	AUTHZ_CF_PURPOSE,
	AUTHZ_CF_PRINCIPAL,
	AUTHZ_CF_MATCH,
	AUTHZ_CF_LABELS,
	AUTHZ_CF_SOURCE,
	AUTHZ_CF_TIME,
	AUTHZ_CF_MFA,
	AUTHZ_CF_NOT,
};

struct authz_ceval {
	const struct authz_request *r;
	const uint8_t *area;
	bool phi_read;                   /* the purpose of use is weighed */
	unsigned pbit;                   /* the request's purpose bit (0: none) */
	int src_state;                   /* 0 not parsed, 1 ok, -1 none */
	uint8_t src_fam;
	uint8_t src[16];
	int fail;                        /* AUTHZ_CF_* of the first failing test */
	int64_t max_age;                 /* of a failing mfa test (-1: none) */
};

/* Compile cond (NULL, null or {}: *root = 0, always; nodes are at offsets > 0). lenient: a stored
 * role's legacy "purposes" forms. PV_E_INVALID with why. */
enum pv_rc authz_cond_compile(struct authz_cbuf *cb, const json_t *cond, bool lenient,
    int32_t *root, unsigned *needs, char *why, size_t whylen);
int32_t authz_cond_never(struct authz_cbuf *cb);
int authz_cond_eval(struct authz_ceval *e, int32_t root);
/* AUTHZ_CF_SOURCE/TIME/MFA if root is "not" of that single test, else NONE. */
int authz_cond_not_kind(const uint8_t *area, int32_t root);
/* max_age_s of the mfa test of a "not mfa" root (-1: none). */
int64_t authz_cond_not_max_age(const uint8_t *area, int32_t root);

/* A compiled access policy, in the policy's condition area. */
struct authz_rule {
	int32_t name;                    /* string offsets ... */
	int32_t actions;                 /* int32_t[nactions] of string offsets */
	int32_t resources;               /* int32_t[nres]; nres 0 = every resource */
	uint16_t nactions, nres;
	int32_t cond;                    /* 0: always */
	uint8_t deny;
	uint8_t deny_kind;               /* authz_cond_not_kind of cond */
};

/* ---- time zones (tz.c) ---- */
struct authz_tz;
/* The zone (loaded once per process, never freed); NULL if unknown. */
const struct authz_tz *authz_tz_get(const char *name);
bool authz_tz_name_valid(const char *name);
/* Parse a TZif file (RFC 8536); PV_E_INVALID if malformed. */
enum pv_rc authz_tz_parse(const uint8_t *buf, size_t len, struct authz_tz **out);
void authz_tz_free(struct authz_tz *z);
/* UTC offset (seconds east) at unix time t. */
int32_t authz_tz_offset(const struct authz_tz *z, int64_t t);
/* Tests: read zones from another directory. */
void authz_tz_set_dir(const char *dir);

/*
 * One write of an authz operation and its entry without a waiting thread
 * (held.c; docs/internals/commit.md "Who submits how"): audit_commit_held
 * plus what authz owes after the commit and before the answer leaves. On
 * an HTTP request thread with a holder, fn + ev are submitted with a hold
 * on the request's answer and PV_OK returns at once; the answer the caller
 * then builds (from what it knew before: no read of fn's outputs, no read
 * of fn's changes) leaves only after the group's fsync. At the completion,
 * on the committer: if the change committed and AUTHZ_HELD_BUMP is set,
 * this node's authz generation moves first (authn_authz_changed: after
 * the commit, so no decision caches the old rows under the new
 * generation; before the answer, so a request sent after the answer
 * decides under the change); then the hold is released with the
 * outcome, which replaces the answer unless PV_OK: fn's rc
 * (PV_E_NOTFOUND read as PV_E_CONFLICT with AUTHZ_HELD_LOST_IS_CONFLICT:
 * a row that left its state meanwhile; the entry keeps fn's own rc) or
 * PV_E_AUDIT. Off a request thread (CLI, jobs, unit tests): audit_commit,
 * the bump, and fn's rc as audit_commit returns it (unmapped: the caller
 * answers it with its own messages, as before). arg is heap memory owned from here
 * on; arg_free(arg) (may be NULL) runs exactly once on every path, after
 * fn. Errors when nothing was queued: PV_E_INVALID, PV_E_AUDIT,
 * PV_E_UNAVAILABLE, PV_E_NOMEM.
 */
#define AUTHZ_HELD_BUMP 1u
#define AUTHZ_HELD_LOST_IS_CONFLICT 2u
enum pv_rc authz_commit_held(struct authz_service *z, const struct audit_event *ev,
    audit_job_fn fn, void *arg, void (*arg_free)(void *arg), unsigned flags);

#endif /* PV_AUTHZ_INT_H */
