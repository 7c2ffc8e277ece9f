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
	ev->actor.user_id = p != NULL ? p->user_id : "anonymous";
	ev->actor.session_id = p != NULL && p->session_id[0] ? p->session_id : NULL;
	ev->actor.source = p != NULL && p->source[0] ? p->source : source;
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
	authn_service_set_privileged(z->authn, NULL, NULL);
	for (i = 0; i < AUTHZ_CACHE_SLOTS; i++)
		free(z->slots[i].set);
	pthread_mutex_destroy(&z->mu);
	free(z);
}

/* Add the permissions of one custom role from the store. */
static enum pv_rc
add_custom(struct authz_service *z, const char *name, struct authz_permset *set)
{
	struct store_role r;
	json_t *arr;
	size_t i;
	enum pv_rc rc;

	rc = store_role_get(z->st, name, &r);
	if (rc == PV_E_NOTFOUND)
		return PV_OK;   /* grants nothing */
	if (rc != PV_OK)
		return rc;
	arr = json_loads(r.permissions, 0, NULL);
	store_role_clear(&r);
	if (!json_is_array(arr)) {
		json_decref(arr);
		log_error("authz: role permissions are not a JSON array");
		return PV_E_INTEGRITY;
	}
	rc = PV_OK;
	for (i = 0; i < json_array_size(arr) && rc == PV_OK; i++) {
		const char *perm = json_string_value(json_array_get(arr, i));

		rc = perm != NULL ? authz_permset_add(set, perm) : PV_E_INVALID;
		if (rc == PV_E_INVALID) {
			/* validated at creation; a damaged row grants nothing more */
			log_error("authz: role holds an invalid permission; skipped");
			rc = PV_OK;
		}
	}
	json_decref(arr);
	return rc;
}

enum pv_rc
authz_resolve(struct authz_service *z, const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t nroles,
    struct authz_permset *out)
{
	char key[AUTHZ_ROLEKEY_MAX];
	uint64_t gen = authn_authz_generation(z->authn);
	struct authz_cache_slot *victim = NULL;
	struct authz_permset *set;
	size_t i, len = 0;
	enum pv_rc rc = PV_OK;

	key[0] = '\0';
	for (i = 0; i < nroles; i++) {
		int n = snprintf(key + len, sizeof(key) - len, "%s%s", i ? "," : "", roles[i]);

		if (n < 0 || (size_t)n >= sizeof(key) - len)
			return PV_E_TOOBIG;
		len += (size_t)n;
	}
	pthread_mutex_lock(&z->mu);
	for (i = 0; i < AUTHZ_CACHE_SLOTS; i++) {
		struct authz_cache_slot *sl = &z->slots[i];

		if (sl->set != NULL && sl->gen == gen && strcmp(sl->key, key) == 0) {
			sl->used = ++z->tick;
			out->n = sl->set->n;
			memcpy(out->p, sl->set->p, sl->set->n * sizeof(out->p[0]));
			pthread_mutex_unlock(&z->mu);
			return PV_OK;
		}
	}
	pthread_mutex_unlock(&z->mu);

	if ((set = malloc(sizeof(*set))) == NULL)
		return PV_E_NOMEM;
	authz_permset_init(set);
	for (i = 0; i < nroles && rc == PV_OK; i++) {
		rc = authz_permset_add_role(set, roles[i]);
		if (rc == PV_E_NOTFOUND)
			rc = add_custom(z, roles[i], set);
	}
	if (rc != PV_OK) {
		free(set);
		return rc;
	}
	out->n = set->n;
	memcpy(out->p, set->p, set->n * sizeof(out->p[0]));

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
	victim->set = set;
	victim->gen = gen;
	victim->used = ++z->tick;
	memcpy(victim->key, key, len + 1);
	pthread_mutex_unlock(&z->mu);
	return PV_OK;
}

enum pv_rc
authz_authenticate(struct authz_service *z, struct http_request *req)
{
	struct authn_principal *p = NULL;
	struct authz_permset *set;
	enum pv_rc rc;

	if (z == NULL)
		return PV_E_UNAUTH;   /* not wired: fail closed */
	if ((rc = authn_authenticate(z->authn, req, &p)) != PV_OK)
		return rc;
	if (!p->restricted) {
		if ((set = arena_alloc(req->arena, sizeof(*set))) == NULL)
			return PV_E_NOMEM;
		rc = authz_resolve(z, (const char (*)[AUTHN_ROLE_NAME_MAX])p->roles, p->nroles,
		    set);
		if (rc != PV_OK) {
			log_error("authz: cannot resolve permissions: %s", pv_rc_name(rc));
			return PV_E_INTERNAL;   /* never run with a partial set */
		}
		p->perms = set;
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

enum pv_rc
authz_authorize(struct authz_service *z, struct http_request *req, const char *permission)
{
	const struct authn_principal *p = req->principal;
	struct audit_event ev;
	char reason[AUTHZ_PERM_MAX + 32], *detail = NULL;
	enum pv_rc rc;

	if (z == NULL)
		return PV_E_FORBIDDEN;
	rc = authz_check(p, permission, (req->route->flags & HTTP_ROUTE_RESTRICTED_OK) != 0);
	if (rc == PV_OK)
		return PV_OK;
	if (p == NULL)
		return PV_E_UNAUTH;
	snprintf(reason, sizeof(reason), "missing_permission:%s",
	    permission != NULL && authz_perm_valid(permission) ? permission : "(invalid)");
	authz_denial_event(req, reason, rc, &ev, &detail);
	if (audit_record(z->audit, &ev) != PV_OK)
		log_error("authz: denial not recorded");
	free(detail);
	if (rc == PV_E_FORBIDDEN)
		return http_fail(req, PV_E_FORBIDDEN, "Permission denied: your roles do not grant "
		    "this operation");
	return rc;
}

enum pv_rc
authz_routes(struct authz_service *z, struct http_server *srv)
{
	enum pv_rc rc;

	if ((rc = authz_route_roles(z, srv)) != PV_OK)
		return rc;
	return authz_route_audit(z, srv);
}
