/*
 * authn_fixture.h: the identity wiring without sockets (header-only; include
 * after <cmocka.h>). A real SQLite store, an unsealed key-file keyring and
 * the audit writer in a fresh temporary directory; the authn service and its
 * /v1/auth routes on an http server that is never started, requests driven
 * through the pipeline (http_int.h) with the real authenticate step
 * (authn_authenticate). authz is a higher layer: "authenticated" routes
 * need no authorize hook, and the one test route below needs none either.
 *
 * af_setup makes the store, keys and writer; a test may adjust f->cfg and
 * then calls af_start, which makes the service and the routes.
 */
#ifndef PV_AUTHN_FIXTURE_H
#define PV_AUTHN_FIXTURE_H

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "stack_fixture.h"
#include "authn/authn.h"
#include "authn/authn_int.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "http/http_int.h"
#include "keys/keys.h"
#include "store/store.h"
#include "tx_helpers.h"

struct af {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	struct pv_config cfg;
	struct authn_service *svc;
	struct http_server *srv;
};

struct af_resp {
	int status;
	char code[64];
	char message[256];
	json_t *json;
};

static inline enum pv_rc af_authn(void *arg, struct http_request *req)
{
	struct af *f = arg;
	struct authn_principal *p = NULL;
	enum pv_rc rc = authn_authenticate(f->svc, req, &p);

	if (rc == PV_OK)
		req->principal = p;
	return rc;
}

static inline enum pv_rc af_authz(void *arg, struct http_request *req, const char *perm)
{
	(void)arg;
	(void)req;
	(void)perm;
	return PV_E_FORBIDDEN;   /* no permission route is registered */
}

/* GET /v1/test/full: an authenticated route NOT open to restricted sessions. */
static inline enum pv_rc af_full(struct http_request *req)
{
	json_t *o = json_pack("{s:b}", "ok", 1);

	return o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
}

static inline int af_setup(void **state)
{
	struct af *f = calloc(1, sizeof(*f));

	if (f == NULL || pv_stack_open("authn", f->dir, &f->st, &f->keys, &f->audit) != 0)
		return -1;
	config_defaults(&f->cfg, f->dir);
	/* cheap but real Argon2id: 1 pass over 1 MiB */
	f->cfg.argon2_opslimit = 1;
	f->cfg.argon2_memlimit = (size_t)1024 * 1024;
	*state = f;
	return 0;
}

static inline void af_start(struct af *f)
{
	struct authn_service_config sc = { f->st, f->keys, f->audit, &f->cfg, true };
	const struct http_route extra[] = {
		{ "GET", "/v1/test/full", af_full, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, f },
	};
	struct http_config hc;

	memset(&hc, 0, sizeof(hc));
	hc.listen = "127.0.0.1:0";
	hc.cert_path = "/nonexistent/cert.pem";   /* read only at start */
	hc.key_path = "/nonexistent/key.pem";
	hc.tls_min_version = "1.2";
	hc.max_body_bytes = 1 << 20;
	hc.authenticate = af_authn;
	hc.authorize = af_authz;
	hc.hook_arg = f;
	assert_int_equal(http_server_new(&hc, &f->srv), PV_OK);
	assert_int_equal(authn_service_new(&sc, &f->svc), PV_OK);
	assert_int_equal(authn_kek_start(f->svc), PV_OK);   /* as serve's start-up */
	assert_int_equal(authn_routes(f->svc, f->srv), PV_OK);
	assert_int_equal(http_routes_add(f->srv, extra, 1), PV_OK);
}

static inline int af_teardown(void **state)
{
	struct af *f = *state;

	store_fault_clear_all();
	http_server_free(f->srv);
	audit_stop(f->audit);
	authn_service_free(f->svc);
	keys_close(f->keys);
	store_close(f->st);
	pv_stack_remove_dir(f->dir);
	free(f);
	return 0;
}

/* One request from source through the pipeline; token may be NULL. */
static inline void af_req_from(struct af *f, const char *source, const char *method,
    const char *uri, const char *token, const char *body, struct af_resp *r)
{
	const char *hdrs[8];
	char auth[96];
	struct http_ctx *ctx = NULL;
	size_t blen = body ? strlen(body) : 0, n = 0;

	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		hdrs[n++] = "Authorization";
		hdrs[n++] = auth;
	}
	if (body != NULL) {
		hdrs[n++] = "Content-Type";
		hdrs[n++] = "application/json";
	}
	hdrs[n] = NULL;
	memset(r, 0, sizeof(*r));
	assert_int_equal(http_ctx_new(f->srv, uri, &ctx), PV_OK);
	ctx->test_headers = hdrs;
	http_ctx_begin(ctx, method, source, body ? (long long)blen : -1);
	if (blen > 0)
		assert_true(http_ctx_body(ctx, body, blen));
	http_ctx_finish(ctx);
	assert_true(ctx->out_ready);
	r->status = ctx->out_status;
	if (ctx->out_len > 0) {
		json_error_t e;

		r->json = json_loadb(ctx->out_body, ctx->out_len, 0, &e);
		assert_non_null(r->json);
		if (r->status >= 400) {
			json_t *err = json_object_get(r->json, "error");

			snprintf(r->code, sizeof(r->code), "%s",
			    json_string_value(json_object_get(err, "code")));
			snprintf(r->message, sizeof(r->message), "%s",
			    json_string_value(json_object_get(err, "message")));
		}
	}
	http_ctx_free(ctx);
}

static inline void af_req(struct af *f, const char *method, const char *uri, const char *token,
    const char *body, struct af_resp *r)
{
	af_req_from(f, "192.0.2.7", method, uri, token, body, r);
}

static inline void af_resp_free(struct af_resp *r)
{
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static inline const char *af_str(const struct af_resp *r, const char *key)
{
	return json_string_value(json_object_get(r->json, key));
}

/* ---- users, written on the audit writer like the wiring does ---- */

struct af_user_job {
	struct store_user *u;
	const char *role;
};

static inline enum pv_rc af_user_fn(struct store_tx *tx, void *arg)
{
	struct af_user_job *j = arg;
	const char *roles[1] = { j->role };
	enum pv_rc rc = store_user_put(tx, j->u);

	if (rc == PV_OK && j->role != NULL)
		rc = store_user_roles_set(tx, j->u->id, roles, 1);
	return rc;
}

/* A user with a (not one-time) password and one role (or none). */
static inline void af_user(struct af *f, const char *name, const char *password,
    const char *role, char id[UTIL_ID_MAX])
{
	struct store_user u;
	struct af_user_job j = { &u, role };

	memset(&u, 0, sizeof(u));
	assert_int_equal(util_id_new("usr", u.id), PV_OK);
	snprintf(u.username, sizeof(u.username), "%s", name);
	u.attributes = (char *)"{}";
	assert_int_equal(authn_password_hash(password, f->cfg.argon2_opslimit,
	    f->cfg.argon2_memlimit, u.password_hash), PV_OK);
	u.credential_epoch = 1;
	u.mfa_last_step = -1;
	u.created_ms = u.updated_ms = util_now_ms();
	assert_int_equal(audit_commit(f->audit, NULL, af_user_fn, &j), PV_OK);
	if (id != NULL)
		snprintf(id, UTIL_ID_MAX, "%s", u.id);
}

struct af_roles_job {
	const char *user_id;
	const char *role;
};

static inline enum pv_rc af_roles_fn(struct store_tx *tx, void *arg)
{
	struct af_roles_job *j = arg;
	const char *roles[1] = { j->role };

	return store_user_roles_set(tx, j->user_id, roles, 1);
}

/* Replace a user's roles (as PATCH /v1/users/{id} does, generation bump included). */
static inline void af_set_role(struct af *f, const char *user_id, const char *role)
{
	struct af_roles_job j = { user_id, role };

	assert_int_equal(audit_commit(f->audit, NULL, af_roles_fn, &j), PV_OK);
	authn_authz_changed(f->svc);
}

/* ---- the audit trail ---- */

struct af_count {
	const char *action;
	const char *reason;
	const char *needle;              /* detail or actor must contain it, if set */
	int n;
};

static inline int af_count_cb(const struct store_audit_row *row, void *arg)
{
	struct af_count *c = arg;

	if ((c->action == NULL || strcmp(row->action, c->action) == 0) &&
	    (c->reason == NULL || strcmp(row->reason, c->reason) == 0))
		c->n++;
	return 0;
}

/* Entries with this action and reason (either NULL: any). */
static inline int af_count(struct af *f, const char *action, const char *reason)
{
	struct af_count c = { action, reason, NULL, 0 };

	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, af_count_cb, &c)), PV_OK);
	return c.n;
}

static inline int af_grep_cb(const struct store_audit_row *row, void *arg)
{
	struct af_count *c = arg;

	if (strstr(row->detail, c->needle) != NULL || strstr(row->actor, c->needle) != NULL ||
	    strstr(row->resource, c->needle) != NULL)
		c->n++;
	return 0;
}

/* Entries whose detail, actor or resource contain needle. */
static inline int af_grep(struct af *f, const char *needle)
{
	struct af_count c = { NULL, NULL, needle, 0 };

	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, af_grep_cb, &c)), PV_OK);
	return c.n;
}

/* ---- concurrency: n threads each send one request, released together ---- */

struct af_par {
	struct af *f;
	pthread_barrier_t *go;
	char source[64];
	const char *uri;
	char body[512];
	int status;
};

static inline void *af_par_run(void *arg)
{
	struct af_par *p = arg;
	struct af_resp r;

	pthread_barrier_wait(p->go);
	af_req_from(p->f, p->source, "POST", p->uri, NULL, p->body, &r);
	p->status = r.status;
	af_resp_free(&r);
	return NULL;
}

/* Run the n prepared requests at once; waits for all. */
static inline void af_parallel(struct af_par *ps, size_t n)
{
	pthread_t th[64];
	pthread_barrier_t go;
	size_t i;

	assert_true(n <= 64);
	assert_int_equal(pthread_barrier_init(&go, NULL, (unsigned)n), 0);
	for (i = 0; i < n; i++) {
		ps[i].go = &go;
		assert_int_equal(pthread_create(&th[i], NULL, af_par_run, &ps[i]), 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
}

#endif /* PV_AUTHN_FIXTURE_H */
