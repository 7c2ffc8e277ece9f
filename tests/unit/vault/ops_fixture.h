/*
 * ops_fixture.h: calling the vault operations with no HTTP (header-only;
 * include after vault_fixture.h): a caller as the HTTP adapter would make
 * it (principal with its compiled policy, actor, purpose of use) and an
 * answer that waits on a condition variable for the completion, whichever
 * thread gives it.
 */
#ifndef PV_VAULT_OPS_FIXTURE_H
#define PV_VAULT_OPS_FIXTURE_H

#include <pthread.h>

#include "vault_fixture.h"

/* A caller as the HTTP adapter would make it, without a request. */
struct op_caller {
	struct authn_principal p;
	struct pv_actor actor;
	struct vault_caller who;
	struct authz_policy *pol;
};

static inline void caller(struct vf *f, struct op_caller *c, const char *user,
    const char *const *roles, const char *purpose)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->p.user_id, sizeof(c->p.user_id), "%s", user);
	snprintf(c->p.session_id, sizeof(c->p.session_id), "ses_%s", user);
	snprintf(c->p.source, sizeof(c->p.source), "203.0.113.7");
	for (size_t i = 0; roles[i] != NULL; i++)
		snprintf(c->p.roles[c->p.nroles++], AUTHN_ROLE_NAME_MAX, "%s", roles[i]);
	assert_int_equal(authz_policy_compile(vf_role_lookup, f,
	    (const char (*)[AUTHN_ROLE_NAME_MAX])c->p.roles, c->p.nroles, 0, &c->pol), PV_OK);
	c->p.policy = c->pol;
	authn_actor(&c->p, c->p.source, &c->actor);
	c->who.subject = &c->p;
	c->who.actor = &c->actor;
	c->who.purpose = purpose;
}

static inline void caller_free(struct op_caller *c)
{
	free(c->pol);
}

/* The answer, whichever thread gives it. */
struct answer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int calls;
	enum pv_rc rc;
	char message[VAULT_ERR_MAX];
	json_t *body;
	uint32_t version;
};

static inline void on_done(struct vault_answer *a, void *arg)
{
	struct answer *w = arg;

	pthread_mutex_lock(&w->mu);
	w->calls++;
	w->rc = a->rc;
	snprintf(w->message, sizeof(w->message), "%s", a->message);
	w->body = a->body;   /* taken: the operation releases what it still holds */
	a->body = NULL;
	w->version = a->version;
	w->done = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static inline void answer_init(struct answer *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

/* Wait for the completion (no timing assumed: a condition variable). */
static inline void answer_wait(struct answer *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	assert_int_equal(w->calls, 1);
}

static inline void answer_free(struct answer *w)
{
	json_decref(w->body);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

static inline const char *field(const struct answer *w, const char *name)
{
	return json_string_value(json_object_get(json_object_get(w->body, "fields"), name));
}

static inline void make_patients(struct vf *f)
{
	static const char *const ADMIN[] = { "admin", NULL };
	struct op_caller adm;
	struct answer w;
	json_t *schema = json_loads(VF_PATIENTS, 0, NULL);

	caller(f, &adm, "usr_admin", ADMIN, NULL);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_string_equal(json_string_value(json_object_get(w.body, "name")), "patients");
	answer_free(&w);
	json_decref(schema);
	caller_free(&adm);
}

#endif /* PV_VAULT_OPS_FIXTURE_H */
