/*
 * vault_fixture.h: a running vault without sockets, for the wiring tests
 * (header-only; include after <cmocka.h>). A real SQLite store, an unsealed
 * key-file keyring and the audit writer in a fresh temporary directory; an
 * http server that is never started, its requests driven through the
 * pipeline (http_int.h, as tests/unit/http does); authenticate/authorize
 * hooks that stand in for the identity wiring: the principal is whatever the
 * test put in vf->who, the decision is authz_check on its permissions.
 */
#ifndef PV_VAULT_FIXTURE_H
#define PV_VAULT_FIXTURE_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "stack_fixture.h"
#include "authz/authz.h"
#include "crypto/crypto.h"
#include "http/http_int.h"
#include "keys/keys.h"
#include "store/store.h"
#include "vault/vault.h"
#include "vault/vault_int.h"
#include "tx_helpers.h"

struct vf {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	struct http_server *srv;
	struct vault_ctx *v;
	struct authn_principal who;      /* the caller; user_id "" = unauthenticated */
	struct authz_permset perms;
	int denials;                     /* authorize hook refusals */
};

struct vf_resp {
	int status;
	char code[64];
	char message[256];
	json_t *json;                    /* parsed body (NULL for 204) */
	char *body;                      /* raw body text */
	char etag[32];                   /* ETag response header, "" if none */
	bool pending;                    /* the handler returned PV_PENDING (replied from its commit completion) */
};

/* Custom roles from the fixture's store, as the wiring reads them. */
static inline enum pv_rc vf_role_lookup(void *arg, const char *name, char **perms,
    char **cond)
{
	struct vf *f = arg;
	struct store_role r;
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	if ((rc = TX_RD(f->st, store_role_get(tx, name, &r))) != PV_OK)
		return rc;
	*perms = strdup(r.permissions);
	*cond = r.condition != NULL ? strdup(r.condition) : NULL;
	store_role_clear(&r);
	return *perms != NULL ? PV_OK : PV_E_NOMEM;
}

/*
 * Stand-in for the wiring's compilation: the caller's roles (built-in and
 * custom from the store) compiled by authz_policy_compile, plus each
 * vf_grant permission no role explains (unconditional, as a grant of the
 * wiring's permission set), into the request arena.
 */
static inline void vf_compile(struct vf *f, struct http_request *req)
{
	struct authz_policy *pol = NULL, *copy;
	size_t extra = 0, i, k;

	assert_int_equal(authz_policy_compile(vf_role_lookup, f,
	    (const char (*)[AUTHN_ROLE_NAME_MAX])f->who.roles, f->who.nroles, 0, &pol), PV_OK);
	copy = arena_alloc(req->arena, authz_policy_size(pol) +
	    f->perms.n * sizeof(pol->g[0]) + 16);
	assert_non_null(copy);
	memcpy(copy, pol, authz_policy_size(pol) - pol->ext_len);
	for (i = 0; i < f->perms.n; i++) {
		bool explained = false;

		for (k = 0; k < pol->n && !explained; k++)
			explained = authz_perm_covers(&pol->g[k].perm, &f->perms.p[i]);
		if (explained)
			continue;
		copy->g[copy->n].perm = f->perms.p[i];
		copy->g[copy->n].purposes = AUTHZ_POU_ALL;
		copy->g[copy->n].role = 0;
		copy->n++;
		extra++;
	}
	(void)extra;
	/* the condition area follows the grants */
	if (pol->ext_len > 0)
		memcpy((uint8_t *)authz_policy_area(copy), authz_policy_area(pol), pol->ext_len);
	free(pol);
	f->who.policy = copy;
}

static inline enum pv_rc vf_authn(void *arg, struct http_request *req)
{
	struct vf *f = arg;

	if (f->who.user_id[0] == '\0')
		return PV_E_UNAUTH;
	f->who.policy = NULL;
	if (!f->who.restricted)
		vf_compile(f, req);
	req->principal = &f->who;
	return PV_OK;
}

static inline enum pv_rc vf_authz(void *arg, struct http_request *req, const char *perm)
{
	struct vf *f = arg;
	enum pv_rc rc = authz_check(req->principal, perm,
	    (req->route->flags & HTTP_ROUTE_RESTRICTED_OK) != 0);

	if (rc != PV_OK)
		f->denials++;
	return rc;
}

/* Become a user holding the built-in roles given (NULL-terminated). */
static inline void vf_as(struct vf *f, const char *user, const char *const *roles)
{
	memset(&f->who, 0, sizeof(f->who));
	authz_permset_init(&f->perms);
	snprintf(f->who.user_id, sizeof(f->who.user_id), "%s", user);
	snprintf(f->who.session_id, sizeof(f->who.session_id), "ses_%s", user);
	for (size_t i = 0; roles != NULL && roles[i] != NULL; i++) {
		assert_int_equal(authz_permset_add_role(&f->perms, roles[i]), PV_OK);
		snprintf(f->who.roles[f->who.nroles++], AUTHN_ROLE_NAME_MAX, "%s", roles[i]);
	}
	f->who.perms = &f->perms;
}

/* Add one permission string to the current caller. */
static inline void vf_grant(struct vf *f, const char *perm)
{
	assert_int_equal(authz_permset_add(&f->perms, perm), PV_OK);
}

static inline int vf_setup(void **state)
{
	struct http_config hc;
	struct vault_deps deps;
	struct vf *f = calloc(1, sizeof(*f));

	if (f == NULL || pv_stack_open("vault", f->dir, &f->st, &f->keys, &f->audit) != 0)
		return -1;
	memset(&hc, 0, sizeof(hc));
	hc.listen = "127.0.0.1:0";
	hc.cert_path = "/nonexistent/cert.pem";   /* read only at start */
	hc.key_path = "/nonexistent/key.pem";
	hc.tls_min_version = "1.2";
	hc.max_body_bytes = 1 << 20;
	hc.authenticate = vf_authn;
	hc.authorize = vf_authz;
	hc.hook_arg = f;
	if (http_server_new(&hc, &f->srv) != PV_OK)
		return -1;
	memset(&deps, 0, sizeof(deps));   /* members added later default to 0 */
	deps.st = f->st;
	deps.keys = f->keys;
	deps.audit = f->audit;
	deps.allowed_regions = "local, eu-west";
	if (vault_routes(f->srv, &deps, &f->v) != PV_OK)
		return -1;
	*state = f;
	return 0;
}

static inline int vf_teardown(void **state)
{
	struct vf *f = *state;

	store_fault_clear_all();
	http_server_free(f->srv);
	audit_stop(f->audit);
	vault_free(f->v);
	keys_close(f->keys);
	store_close(f->st);
	pv_stack_remove_dir(f->dir);
	free(f);
	return 0;
}

/*
 * One request through the pipeline. headers / query: NULL-terminated
 * name, value pairs (may be NULL). The response is copied out.
 */
static inline void vf_req(struct vf *f, const char *method, const char *uri,
    const char *const *headers, const char *const *query, const char *body, struct vf_resp *r)
{
	static const char *const json_ct[] = { "Content-Type", "application/json", NULL };
	const char *hdrs[16];
	struct http_ctx *ctx = NULL;
	size_t blen = body ? strlen(body) : 0, n = 0;

	for (size_t i = 0; headers != NULL && headers[i] != NULL && n < 12; i++)
		hdrs[n++] = headers[i];
	if (body != NULL) {
		hdrs[n++] = json_ct[0];
		hdrs[n++] = json_ct[1];
	}
	hdrs[n] = NULL;
	memset(r, 0, sizeof(*r));
	assert_int_equal(http_ctx_new(f->srv, uri, &ctx), PV_OK);
	ctx->test_headers = hdrs;
	ctx->test_query = query;
	http_ctx_begin(ctx, method, "192.0.2.7", body ? (long long)blen : -1);
	if (blen > 0)
		assert_true(http_ctx_body(ctx, body, blen));
	http_ctx_finish(ctx);
	assert_true(ctx->out_ready);
	r->status = ctx->out_status;
	r->pending = ctx->pending;
	snprintf(r->etag, sizeof(r->etag), "%s",
	    http_response_header(&ctx->req, "ETag") ? http_response_header(&ctx->req, "ETag") : "");
	if (ctx->out_len > 0) {
		json_error_t e;

		r->body = strndup(ctx->out_body, ctx->out_len);
		assert_non_null(r->body);
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

static inline void vf_resp_free(struct vf_resp *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The last audit entry: action, outcome, reason, purpose, resource, detail. */
struct vf_entry {
	int64_t seq;
	char action[64];
	char outcome[16];
	char reason[128];
	char purpose[16];
	char resource[200];
	char detail[4096];
	char actor[256];
};

static inline int vf_entry_cb(const struct store_audit_row *row, void *arg)
{
	struct vf_entry *e = arg;

	e->seq = row->seq;
	snprintf(e->action, sizeof(e->action), "%s", row->action);
	snprintf(e->outcome, sizeof(e->outcome), "%s", row->outcome);
	snprintf(e->reason, sizeof(e->reason), "%s", row->reason);
	snprintf(e->purpose, sizeof(e->purpose), "%s", row->purpose_of_use);
	snprintf(e->resource, sizeof(e->resource), "%s", row->resource);
	snprintf(e->detail, sizeof(e->detail), "%s", row->detail);
	snprintf(e->actor, sizeof(e->actor), "%s", row->actor);
	return 0;
}

static inline void vf_last_entry(struct vf *f, struct vf_entry *e)
{
	memset(e, 0, sizeof(*e));
	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, vf_entry_cb, e)), PV_OK);
}

static inline int vf_count_cb(const struct store_audit_row *row, void *arg)
{
	(void)row;
	(*(int *)arg)++;
	return 0;
}

/* Entries with this action (all if NULL). */
static inline int vf_count(struct vf *f, const char *action)
{
	struct store_audit_filter flt = { 0, NULL, action, 0 };
	int n = 0;

	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, &flt, vf_count_cb, &n)), PV_OK);
	return n;
}

/* The patients collection most tests use. */
#define VF_PATIENTS "{\"name\":\"patients\",\"region\":\"local\",\"fields\":[" \
	"{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}," \
	"{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"searchable\":true}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"searchable\":true}," \
	"{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\"}," \
	"{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\"}," \
	"{\"name\":\"visits\",\"type\":\"integer\",\"classification\":\"internal\"," \
	"\"searchable\":true}]}"

static inline void vf_make_patients(struct vf *f)
{
	static const char *const admin[] = { "admin", NULL };
	struct authn_principal keep = f->who;
	struct authz_permset kp = f->perms;
	struct vf_resp r;

	vf_as(f, "usr_admin", admin);
	vf_req(f, "POST", "/v1/collections", NULL, NULL, VF_PATIENTS, &r);
	assert_int_equal(r.status, 201);
	vf_resp_free(&r);
	f->who = keep;
	f->perms = kp;
	f->who.perms = &f->perms;
}

/* POST a record as the current caller; returns its ID in id. */
static inline void vf_create(struct vf *f, const char *body, char id[UTIL_ID_MAX])
{
	struct vf_resp r;

	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL, body, &r);
	if (r.status != 201)
		print_error("create: %d %s\n", r.status, r.body ? r.body : "");
	assert_int_equal(r.status, 201);
	snprintf(id, UTIL_ID_MAX, "%s", json_string_value(json_object_get(r.json, "id")));
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 1);
	vf_resp_free(&r);
}

#endif /* PV_VAULT_FIXTURE_H */
