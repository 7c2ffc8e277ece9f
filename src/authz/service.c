/*
 * service: the http authenticate / authorize hooks and permission
 * resolution (authz.h "wiring").
 *
 * Resolution: effective role names (authn, direct + via groups) -> one
 * struct authz_permset: built-in roles from perm.c (authoritative), custom
 * roles from the store's roles table. Results are cached by the sorted,
 * comma-joined role list under the authn generation; a role, group or
 * membership change bumps the generation and every slot goes stale. The
 * cache holds AUTHZ_CACHE_SLOTS sets (LRU); a request copies its set into
 * its arena, so eviction never frees a set in use.
 *
 * Deny by default: no principal, a restricted principal, a malformed or
 * ungranted permission, a set that cannot be resolved: all refuse.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"

void
authz_ev_init(struct audit_event *ev, const struct authn_principal *p, const char *source,
    const char *action, const char *resource)
{
	memset(ev, 0, sizeof(*ev));
	authn_actor(p, source, &ev->actor);
	ev->action = action;
	ev->resource = resource;
	ev->outcome = AUDIT_ALLOWED;
}

static bool
privileged_cb(void *arg, const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t n)
{
	struct authz_service *z = arg;
	struct authz_permset *set = malloc(sizeof(*set));
	bool priv = true;   /* fail closed: unknown means MFA is required */

	if (set == NULL)
		return true;
	if (authz_resolve(z, roles, n, set) == PV_OK)
		priv = authz_permset_is_privileged(set);
	free(set);
	return priv;
}

enum pv_rc
authz_service_new(struct authn_service *authn, struct authz_service **out)
{
	struct authz_service *z;

	if (authn == NULL || out == NULL)
		return PV_E_INVALID;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return PV_E_NOMEM;
	if (pthread_mutex_init(&z->mu, NULL) != 0) {
		free(z);
		return PV_E_NOMEM;
	}
	z->authn = authn;
	z->st = authn_service_store(authn);
	z->audit = authn_service_audit(authn);
	z->keys = authn_service_keys(authn);
	z->approvals_expire_s = 604800;   /* [approvals] expire_s default */
	z->elevation_max_s = 3600;        /* [elevation] max_s default */
	authn_service_set_privileged(authn, privileged_cb, z);
	*out = z;
	return PV_OK;
}

void
authz_service_free(struct authz_service *z)
{
	size_t i;

	if (z == NULL)
		return;
	util_ticker_stop(&z->sweeper);
	authn_service_set_privileged(z->authn, NULL, NULL);
	for (i = 0; i < AUTHZ_CACHE_SLOTS; i++) {
		free(z->slots[i].set);
		free(z->slots[i].pol);
	}
	for (i = 0; i < AUTHZ_ATTR_SLOTS; i++)
		free(z->attrs[i].text);
	pthread_mutex_destroy(&z->mu);
	free(z);
}

/* Custom role lookup for authz_policy_compile: the store's roles table.
 * Counted, so tests can prove a PHI read reads no role. */
static enum pv_rc
role_lookup(void *arg, const char *name, char **perms, char **condition)
{
	struct authz_service *z = arg;
	struct store_role r;
	enum pv_rc rc;

	atomic_fetch_add(&z->role_reads, 1);
	memset(&r, 0, sizeof(r));
	STORE_READ(z->st, rc, store_role_get(tx, name, &r));
	if (rc != PV_OK)
		return rc;
	*perms = strdup(r.permissions != NULL ? r.permissions : "[]");
	*condition = r.condition != NULL ? strdup(r.condition) : NULL;
	store_role_clear(&r);
	if (*perms == NULL) {
		free(*condition);
		*condition = NULL;
		return PV_E_NOMEM;
	}
	return PV_OK;
}

uint64_t
authz_service_role_reads(struct authz_service *z)
{
	return z != NULL ? atomic_load(&z->role_reads) : 0;
}

uint64_t
authz_service_policy_reads(struct authz_service *z)
{
	return z != NULL ? atomic_load(&z->policy_reads) : 0;
}

/* Every stored access policy, for authz_policy_compile_all. */
struct each_ctx {
	enum pv_rc (*cb)(void *cbarg, const struct authz_policy_src *p);
	void *cbarg;
	enum pv_rc rc;
};

static int
each_row(const struct store_policy *p, void *arg)
{
	struct each_ctx *x = arg;
	struct authz_policy_src src = { p->name, p->deny, p->actions, p->resources,
		p->condition };

	x->rc = x->cb(x->cbarg, &src);
	return x->rc != PV_OK;
}

static enum pv_rc
policy_each(void *arg, enum pv_rc (*cb)(void *cbarg, const struct authz_policy_src *p),
    void *cbarg)
{
	struct authz_service *z = arg;
	struct each_ctx x = { cb, cbarg, PV_OK };
	enum pv_rc rc;

	atomic_fetch_add(&z->policy_reads, 1);
	STORE_READ(z->st, rc, store_policy_list(tx, each_row, &x));
	return rc != PV_OK ? rc : x.rc;
}

static size_t
attr_slot(const char *user_id)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *user_id != '\0'; user_id++)
		h = (h ^ (uint8_t)*user_id) * 16777619u;
	return h % AUTHZ_ATTR_SLOTS;
}

enum pv_rc
authz_principal_attrs(struct authz_service *z, struct authn_principal *p,
    struct pv_arena *arena)
{
	uint64_t gen = authn_authz_generation(z->authn);
	struct authz_attr_slot *sl;
	struct store_user u;
	char *text = NULL, *copy;
	enum pv_rc rc;

	if (p->policy == NULL || (p->policy->needs & AUTHZ_NEEDS_PRINCIPAL) == 0 ||
	    p->user_id[0] == '\0')
		return PV_OK;
	sl = &z->attrs[attr_slot(p->user_id)];
	pthread_mutex_lock(&z->mu);
	if (sl->text != NULL && sl->gen == gen && strcmp(sl->user_id, p->user_id) == 0) {
		copy = arena_strdup(arena, sl->text);
		pthread_mutex_unlock(&z->mu);
		if (copy == NULL)
			return PV_E_NOMEM;
		return authz_attrs_parse(copy, arena, &p->attrs);
	}
	pthread_mutex_unlock(&z->mu);
	memset(&u, 0, sizeof(u));
	STORE_READ(z->st, rc, store_user_get(tx, p->user_id, &u));
	if (rc != PV_OK)
		return rc;
	text = strdup(u.attributes != NULL ? u.attributes : "{}");
	store_user_clear(&u);
	if (text == NULL)
		return PV_E_NOMEM;
	rc = authz_attrs_parse(text, arena, &p->attrs);
	pthread_mutex_lock(&z->mu);
	free(sl->text);
	sl->text = text;
	sl->gen = gen;
	util_strlcpy(sl->user_id, p->user_id, sizeof(sl->user_id));
	pthread_mutex_unlock(&z->mu);
	return rc == PV_E_INVALID ? PV_OK : rc;   /* a damaged row: no attributes */
}

enum pv_rc
authz_principal_breakglass(struct authz_service *z, struct authn_principal *p,
    struct pv_arena *arena)
{
	uint64_t gen = authn_authz_generation(z->authn);
	int64_t now = util_now_ms();
	struct authz_bg_slot *sl;
	struct authn_breakglass *g;
	struct store_breakglass row;
	bool found = false;
	enum pv_rc rc;

	if (p->policy == NULL || !p->policy->break_glass || p->app || p->user_id[0] == '\0')
		return PV_OK;
	if ((g = arena_alloc(arena, sizeof(*g))) == NULL)
		return PV_E_NOMEM;
	memset(g, 0, sizeof(*g));
	sl = &z->bg[attr_slot(p->user_id)];
	pthread_mutex_lock(&z->mu);
	if (sl->user_id[0] != '\0' && sl->gen == gen && strcmp(sl->user_id, p->user_id) == 0 &&
	    (!sl->found || now < sl->g.expires_ms)) {
		found = sl->found;
		*g = sl->g;
		pthread_mutex_unlock(&z->mu);
		p->break_glass = found ? g : NULL;
		return PV_OK;
	}
	pthread_mutex_unlock(&z->mu);
	atomic_fetch_add(&z->bg_reads, 1);
	memset(&row, 0, sizeof(row));
	STORE_READ(z->st, rc, store_breakglass_active(tx, p->user_id, now, &row));
	if (rc == PV_OK) {
		found = true;
		util_strlcpy(g->id, row.id, sizeof(g->id));
		util_strlcpy(g->subject_ref, row.subject_ref, sizeof(g->subject_ref));
		g->expires_ms = row.expires_ms;
		store_breakglass_clear(&row);
	} else if (rc != PV_E_NOTFOUND) {
		return rc;
	}
	pthread_mutex_lock(&z->mu);
	util_strlcpy(sl->user_id, p->user_id, sizeof(sl->user_id));
	sl->gen = gen;
	sl->found = found;
	sl->g = *g;
	pthread_mutex_unlock(&z->mu);
	p->break_glass = found ? g : NULL;
	return PV_OK;
}

uint64_t
authz_service_breakglass_reads(struct authz_service *z)
{
	return z != NULL ? atomic_load(&z->bg_reads) : 0;
}

enum pv_rc
authz_fail(struct http_request *req, const struct authz_decision *d)
{
	if (d->audit_failed)
		return http_fail(req, PV_E_AUDIT, NULL);
	if (d->rc == PV_E_STEP_UP)
		authz_step_up_header(req, d->step_up_max_age_s);
	return http_fail(req, d->rc, d->message);
}

void
authz_step_up_header(struct http_request *req, int64_t max_age_s)
{
	const char *h = max_age_s >= 0 ?
	    arena_printf(req->arena, "Bearer error=\"insufficient_user_authentication\", "
	    "error_description=\"A more recent authentication is required\", max_age=%lld",
	    (long long)max_age_s) :
	    "Bearer error=\"insufficient_user_authentication\", "
	    "error_description=\"A multi-factor authentication is required\"";

	if (h != NULL)
		(void)http_set_header(req, "WWW-Authenticate", h);
}

/* The permission set of a compiled policy (authz_check, privileged). */
static enum pv_rc
policy_permset(const struct authz_policy *pol, struct authz_permset *set)
{
	char perm[AUTHZ_PERM_MAX];
	enum pv_rc rc = PV_OK;
	size_t i;

	authz_permset_init(set);
	for (i = 0; i < pol->n && rc == PV_OK; i++) {
		if ((rc = authz_perm_format(&pol->g[i].perm, perm)) == PV_OK)
			rc = authz_permset_add(set, perm);
	}
	return rc;
}

/*
 * Find (or compile and insert) the slot of a role set under the current
 * generation and copy what the caller wants out of it under the lock: the
 * whole set into set_out, or into arena a copy of its entries (set_copy)
 * and of the compiled policy (pol_out).
 */
static enum pv_rc
cached(struct authz_service *z, const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles,
    struct authz_permset *set_out, struct pv_arena *arena, const struct authz_permset **set_copy,
    const struct authz_policy **pol_out)
{
	char key[AUTHZ_ROLEKEY_MAX];
	uint64_t gen = authn_authz_generation(z->authn);
	struct authz_cache_slot *victim = NULL;
	struct authz_permset *set = NULL;
	struct authz_policy *pol = NULL, *copy;
	size_t i, len = 0;
	enum pv_rc rc = PV_OK;

	key[0] = '\0';
	for (i = 0; i < nroles; i++) {
		/* "a,b,c", without snprintf: this runs on every request */
		size_t n = strnlen(roles[i], AUTHN_ROLE_NAME_MAX);

		if (n + (i ? 1 : 0) >= sizeof(key) - len)
			return PV_E_TOOBIG;
		if (i)
			key[len++] = ',';
		memcpy(key + len, roles[i], n);
		len += n;
		key[len] = '\0';
	}
	pthread_mutex_lock(&z->mu);
	for (i = 0; i < AUTHZ_CACHE_SLOTS; i++) {
		struct authz_cache_slot *sl = &z->slots[i];

		if (sl->set != NULL && sl->gen == gen && strcmp(sl->key, key) == 0) {
			victim = sl;
			break;
		}
	}
	if (victim != NULL) {
		victim->used = ++z->tick;
		goto copy_out;
	}
	pthread_mutex_unlock(&z->mu);

	if ((set = malloc(sizeof(*set))) == NULL)
		return PV_E_NOMEM;
	rc = authz_policy_compile_all(role_lookup, z, policy_each, z, roles, nroles, gen, &pol);
	if (rc == PV_OK)
		rc = policy_permset(pol, set);
	if (rc != PV_OK) {
		free(set);
		free(pol);
		return rc;
	}
	pthread_mutex_lock(&z->mu);
	for (i = 0; i < AUTHZ_CACHE_SLOTS; i++) {
		struct authz_cache_slot *sl = &z->slots[i];

		if (sl->set == NULL || sl->gen != gen) {
			victim = sl;
			break;
		}
		if (victim == NULL || sl->used < victim->used)
			victim = sl;
	}
	free(victim->set);
	free(victim->pol);
	victim->set = set;
	victim->pol = pol;
	victim->gen = gen;
	victim->used = ++z->tick;
	memcpy(victim->key, key, len + 1);
copy_out:
	if (set_out != NULL) {
		set_out->n = victim->set->n;
		memcpy(set_out->p, victim->set->p, victim->set->n * sizeof(set_out->p[0]));
	}
	if (set_copy != NULL && (*set_copy = authz_permset_copy(victim->set, arena)) == NULL)
		rc = PV_E_NOMEM;
	if (pol_out != NULL) {
		copy = arena_alloc(arena, authz_policy_size(victim->pol));
		if (copy == NULL)
			rc = PV_E_NOMEM;
		else
			memcpy(copy, victim->pol, authz_policy_size(victim->pol));
		*pol_out = copy;
	}
	pthread_mutex_unlock(&z->mu);
	return rc;
}

enum pv_rc
authz_resolve(struct authz_service *z, const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles,
    struct authz_permset *out)
{
	return cached(z, roles, nroles, out, NULL, NULL, NULL);
}

enum pv_rc
authz_policy_get(struct authz_service *z, const char (*roles)[AUTHN_ROLE_NAME_MAX],
    size_t nroles, struct pv_arena *arena, const struct authz_policy **out)
{
	if (z == NULL || arena == NULL || out == NULL)
		return PV_E_INVALID;
	return cached(z, roles, nroles, NULL, arena, NULL, out);
}

enum pv_rc
authz_authenticate(struct authz_service *z, struct http_request *req)
{
	struct authn_principal *p = NULL;
	const struct authz_permset *set = NULL;
	enum pv_rc rc;

	if (z == NULL)
		return PV_E_UNAUTH;   /* not wired: fail closed */
	if ((rc = authn_authenticate(z->authn, req, &p)) != PV_OK)
		return rc;
	if (!p->restricted) {
		if ((rc = authz_elevations_attach(z, p)) != PV_OK) {
			log_error("authz: cannot load elevations: %s", pv_rc_name(rc));
			return PV_E_INTERNAL;   /* never decide without knowing */
		}
		/* the set's entries only, not the ~60 KiB of its type (zeroed
		 * here, wiped again when the arena is freed: on every request) */
		rc = cached(z, (const char (*)[AUTHN_ROLE_NAME_MAX])p->roles, p->nroles, NULL,
		    req->arena, &set, &p->policy);
		if (rc != PV_OK) {
			log_error("authz: cannot resolve permissions: %s", pv_rc_name(rc));
			return PV_E_INTERNAL;   /* never run with a partial set */
		}
		p->perms = set;
		authz_elevations_mfa(z, p, set);
		if ((rc = authz_principal_attrs(z, p, req->arena)) != PV_OK) {
			log_error("authz: cannot load principal attributes: %s", pv_rc_name(rc));
			return PV_E_INTERNAL;
		}
		if ((rc = authz_principal_breakglass(z, p, req->arena)) != PV_OK) {
			log_error("authz: cannot load the break-glass grant: %s", pv_rc_name(rc));
			return PV_E_INTERNAL;
		}
	}
	req->principal = p;
	return PV_OK;
}

/*
 * The entry of a route-level denial: action = the route's audit_action (or
 * "access"), resource = http_route_resource (the same form the handler's
 * allowed entries use, parameters decoded, bounded and escaped, so the entry
 * always passes audit validation), detail = {"method","route"} (the pattern,
 * never the raw path), reason = `reason` or "restricted_session".
 * *detail is malloc'd (may be NULL on allocation failure: the entry is
 * still made, without it).
 */
void
authz_denial_event(struct http_request *req, const char *reason, enum pv_rc rc,
    struct audit_event *ev, char **detail)
{
	const struct http_route *r = req->route;
	json_t *d = r != NULL ? json_pack("{s:s, s:s}", "method", r->method, "route", r->pattern)
	    : NULL;

	authz_ev_init(ev, req->principal, req->source,
	    r != NULL && r->audit_action != NULL ? r->audit_action : "access",
	    http_route_resource(req));
	ev->outcome = AUDIT_DENIED;
	ev->reason = rc == PV_E_RESTRICTED ? "restricted_session" : reason;
	*detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	ev->detail = *detail;
	json_decref(d);
}

/*
 * The route-level call of the decision point: the route's permission is an
 * action ("records.read") on a collection ("records.read:patients" after
 * expansion) or a plain action. The denial's entry is the route's
 * (authz_denial_event: action, http_route_resource, detail).
 */
enum pv_rc
authz_authorize(struct authz_service *z, struct http_request *req, const char *permission)
{
	struct authz_request q;
	struct authz_decision d;
	struct audit_event ev;
	char action[AUTHZ_PERM_MAX], *colon, *detail = NULL;

	if (z == NULL)
		return PV_E_FORBIDDEN;
	memset(&q, 0, sizeof(q));
	util_strlcpy(action, permission != NULL ? permission : "", sizeof(action));
	if ((colon = strchr(action, ':')) != NULL) {
		*colon = '\0';
		q.resource.collection = colon + 1;
	}
	q.subject = req->principal;
	q.action = action;
	q.stage = AUTHZ_AT_ROUTE;
	q.restricted_ok = (req->route->flags & HTTP_ROUTE_RESTRICTED_OK) != 0;
	q.env.source = req->source;
	q.env.time_ms = util_now_ms();
	if (authz_decide(&q, &d) == PV_OK)
		return PV_OK;
	if (d.rc == PV_E_UNAUTH)
		return PV_E_UNAUTH;
	/* keep the reason of a permission the route table could not express */
	if (d.rc == PV_E_FORBIDDEN && strcmp(d.reason, "unknown_action") == 0)
		util_strlcpy(d.reason, "missing_permission:(invalid)", sizeof(d.reason));
	authz_denial_event(req, d.reason, d.rc, &ev, &detail);
	q.audit = z->audit;
	q.audit_action = ev.action;
	q.audit_resource = ev.resource;
	q.audit_detail = detail;
	if (authz_audit_denial(z->audit, &q, &d, false) != PV_OK)
		log_error("authz: denial not recorded");
	free(detail);
	if (d.rc == PV_E_FORBIDDEN)
		return http_fail(req, PV_E_FORBIDDEN, d.message);
	if (d.rc == PV_E_NETWORK || d.rc == PV_E_HOURS || d.rc == PV_E_STEP_UP ||
	    d.rc == PV_E_POLICY || d.rc == PV_E_CONDITION) {
		d.audit_failed = false;   /* the route hook logs and still refuses */
		return authz_fail(req, &d);
	}
	return d.rc;
}

/* ---- the expiry sweeper ---- */

enum pv_rc
authz_expiry_sweep(struct authz_service *z, int64_t now)
{
	enum pv_rc rc = authz_approvals_expire(z, now), rc2;

	/* one failing does not hold the other up */
	rc2 = authz_elevations_expire(z, now);
	return rc != PV_OK ? rc : rc2;
}

static void
sweep_tick(void *arg)
{
	struct authz_service *z = arg;

	if (authz_expiry_sweep(z, util_now_ms()) != PV_OK)
		log_warn("authz: expiry sweep failed; trying again");
}

enum pv_rc
authz_sweeper_start(struct authz_service *z)
{
	if (z == NULL)
		return PV_E_INVALID;
	return util_ticker_start(&z->sweeper, sweep_tick, z);
}

void
authz_sweeper_stop(struct authz_service *z)
{
	if (z != NULL)
		util_ticker_stop(&z->sweeper);
}

enum pv_rc
authz_routes(struct authz_service *z, struct http_server *srv)
{
	enum pv_rc rc;

	if ((rc = authz_route_roles(z, srv)) != PV_OK ||
	    (rc = authz_route_explain(z, srv)) != PV_OK ||
	    (rc = authz_route_policies(z, srv)) != PV_OK ||
	    (rc = authz_route_approvals(z, srv)) != PV_OK ||
	    (rc = authz_route_elevations(z, srv)) != PV_OK)
		return rc;
	return authz_route_audit(z, srv);
}
