/*
 * ops_fixture.h: the authz operations without HTTP (header-only; include
 * after <cmocka.h>). The authn fixture's store, keys, writer and service,
 * an authz service over them, and principals holding one role with its
 * compiled policy, as the wiring builds them for a request.
 */
#ifndef PV_AUTHZ_OPS_FIXTURE_H
#define PV_AUTHZ_OPS_FIXTURE_H

#include "authn/authn_fixture.h"
#include "authz/authz_int.h"

struct zf {
	struct af *f;
	struct authz_service *z;
	struct pv_arena *arena;
};

static inline void zf_start(struct af *f, struct zf *x)
{
	af_start(f);
	x->f = f;
	assert_int_equal(authz_service_new(f->svc, &x->z), PV_OK);
	assert_non_null(x->arena = arena_new(1 << 16));
}

static inline void zf_stop(struct zf *x)
{
	authz_service_free(x->z);
	arena_free(x->arena);
}

/* A user with one role (in the store), and its principal with the role's
 * compiled policy. */
static inline void zf_principal(struct zf *x, const char *name, const char *role,
    struct authn_principal *p)
{
	memset(p, 0, sizeof(*p));
	af_user(x->f, name, "plum velvet harbor 42", role, p->user_id);
	snprintf(p->username, sizeof(p->username), "%s", name);
	assert_int_equal(util_id_new("ses", p->session_id), PV_OK);
	snprintf(p->source, sizeof(p->source), "203.0.113.9");
	p->mfa_verified = true;
	assert_int_equal(authn_user_roles(x->f->st, p->user_id, p->roles, &p->nroles), PV_OK);
	assert_int_equal(authz_policy_get(x->z, (const char (*)[AUTHN_ROLE_NAME_MAX])p->roles,
	    p->nroles, x->arena, &p->policy), PV_OK);
}

#endif /* PV_AUTHZ_OPS_FIXTURE_H */
