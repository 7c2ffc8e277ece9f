/*
 * The decision's cost per PHI read (callgrind harness; docs/internals/authz.md
 * "Cost of a read's decisions"). One audited read of the benchmark
 * (bench/run.sh: GET /v1/collections/patients/records/{id} by a clinician,
 * X-Purpose-Of-Use TREAT) authenticates its session token and asks the
 * decision point three times:
 *
 *   cost_auth      authz_authenticate: token hash, session cache, the compiled
 *                  policy of the role set copied into the request arena
 *   cost_route     authz_authorize "records.read:patients" (the route hook)
 *   cost_resource  records.read on patients at the resource stage (vault_decide)
 *   cost_unmask    the same once the record is loaded, with its five fields
 *                  (record_io.c unmask_obligation: the unmask obligation)
 *
 * Each runs PV_TEST_NDECIDE times (default 3, at most 5000) and checks every
 * answer, so this is a test too. The marginal cost of 100 (110 minus 10)
 * cancels the set-up:
 *
 *   for n in 10 110; do PV_TEST_NDECIDE=$n valgrind --tool=callgrind \
 *     --toggle-collect=cost_auth --toggle-collect=cost_route \
 *     --toggle-collect=cost_resource --toggle-collect=cost_unmask \
 *     --callgrind-out-file=cg.$n ./unit_authz_test_decide_cost; done
 *   callgrind_annotate --inclusive=yes cg.110 | grep cost_
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authn/authn_fixture.h"
#include "authz/authz_int.h"

#define PW "plum velvet harbor 42"
#define SRC "198.51.100.4"
#define NDECIDE 3

static const char *const FIELDS[] = { "name", "ssn", "mrn", "dob", "notes" };

static enum pv_rc no_handler(struct http_request *req)
{
	(void)req;
	return PV_OK;
}

static const struct http_route read_route = {
	"GET", "/v1/collections/{c}/records/{id}", no_handler, "records.read:{0}",
	"record.read", 0, 0, NULL
};

struct cost {
	struct af *f;
	struct authz_service *z;
	char token[AUTHN_TOKEN_MAX];
	char auth[AUTHN_TOKEN_MAX + 16];
	const char *hdrs[3];
};

static struct http_ctx *request_new(struct cost *c)
{
	struct http_ctx *ctx = NULL;

	assert_int_equal(http_ctx_new(c->f->srv, "/v1/collections/patients/records/rec_x", &ctx),
	    PV_OK);
	ctx->test_headers = c->hdrs;
	ctx->req.method = "GET";
	ctx->req.source = SRC;
	ctx->req.route = &read_route;
	return ctx;
}

__attribute__((noinline)) static void cost_auth(struct cost *c, int n)
{
	for (int i = 0; i < n; i++) {
		struct http_ctx *ctx = request_new(c);
		const struct authn_principal *p;

		assert_int_equal(authz_authenticate(c->z, &ctx->req), PV_OK);
		p = ctx->req.principal;
		assert_non_null(p);
		assert_non_null(p->policy);
		assert_false(p->restricted);
		http_ctx_free(ctx);
	}
}

__attribute__((noinline)) static void cost_route(struct cost *c, struct http_request *req, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(authz_authorize(c->z, req, "records.read:patients"), PV_OK);
}

static void resource_request(struct authz_request *q, const struct authn_principal *p,
    bool loaded)
{
	memset(q, 0, sizeof(*q));
	q->subject = p;
	q->action = "records.read";
	q->stage = AUTHZ_AT_RESOURCE;
	q->resource.collection = "patients";
	if (loaded) {
		q->resource.fields = FIELDS;
		q->resource.nfields = sizeof(FIELDS) / sizeof(FIELDS[0]);
		q->resource.loaded = true;
	}
	q->env.source = SRC;
	q->env.purpose = "TREAT";
	q->env.time_ms = util_now_ms();
}

__attribute__((noinline)) static void cost_resource(const struct authn_principal *p, int n)
{
	for (int i = 0; i < n; i++) {
		struct authz_request q;
		struct authz_decision d;

		resource_request(&q, p, false);
		assert_int_equal(authz_decide(&q, &d), PV_OK);
		assert_true(d.allow);
		assert_int_equal(d.purposes, AUTHZ_POU_ALL);
	}
}

__attribute__((noinline)) static void cost_unmask(const struct authn_principal *p, int n)
{
	for (int i = 0; i < n; i++) {
		struct authz_request q;
		struct authz_decision d;

		resource_request(&q, p, true);
		assert_int_equal(authz_decide(&q, &d), PV_OK);
		assert_true(d.allow);
		assert_int_equal(d.unmask, 0x1f);
	}
}

static void test_read_decisions_cost(void **state)
{
	struct af *f = *state;
	struct cost c;
	struct authn_result res;
	struct http_ctx *ctx;
	json_t *out = NULL;
	const char *env = getenv("PV_TEST_NDECIDE");
	int n = env != NULL ? atoi(env) : NDECIDE;

	if (n < 1 || n > 5000)
		n = NDECIDE;
	memset(&c, 0, sizeof(c));
	c.f = f;
	f->cfg.mfa_required = CONFIG_MFA_OFF;
	af_start(f);
	assert_int_equal(authz_service_new(f->svc, &c.z), PV_OK);
	af_user(f, "clara", PW, "clinician", NULL);
	assert_int_equal(authn_login(f->svc, SRC, "clara", PW, &out, &res), PV_OK);
	snprintf(c.token, sizeof(c.token), "%s", json_string_value(json_object_get(out, "token")));
	json_decref(out);
	snprintf(c.auth, sizeof(c.auth), "Bearer %s", c.token);
	c.hdrs[0] = "Authorization";
	c.hdrs[1] = c.auth;
	c.hdrs[2] = NULL;
	/* the clock stands still: no revalidation or last-seen write inside the
	 * loops, however slowly valgrind runs them */
	util_clock_set_fixed(util_now_ms());

	cost_auth(&c, 1);   /* the session and the role set's policy are cached */
	cost_auth(&c, n);
	ctx = request_new(&c);
	assert_int_equal(authz_authenticate(c.z, &ctx->req), PV_OK);
	cost_route(&c, &ctx->req, n);
	cost_resource(ctx->req.principal, n);
	cost_unmask(ctx->req.principal, n);
	http_ctx_free(ctx);

	util_clock_reset();
	authz_service_free(c.z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_decisions_cost, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
