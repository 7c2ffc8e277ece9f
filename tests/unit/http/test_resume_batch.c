/*
 * test_resume_batch (http): an answer completed inside a wake-up batch
 * (util/wake.h; the committer's group, commit.c complete_group) is woken
 * at the batch's end, not at its http_resume or its hold's release: two
 * PV_PENDING requests resumed (one through its hold) inside a batch are
 * both complete (resumed) but neither thread is posted until the end; then
 * both are answered. Outside a batch http_resume wakes at once (the other
 * tests of test_request.c). Driven without sockets: the request's own
 * thread waits, as with a thread per connection; no clock.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"
#include "util/wake.h"

static struct http_request *pending_req;   /* the handler's request */
static const struct util_holder *held;     /* taken by h_held */

static enum pv_rc
h_pending(struct http_request *req)
{
	pending_req = req;
	return PV_PENDING;
}

static enum pv_rc
h_held(struct http_request *req)
{
	held = util_request_hold();
	assert_non_null(held);
	http_reply(req, 200, json_object());
	return PV_OK;   /* answered at once, held until the release */
}

static const struct http_route routes[] = {
	{ "GET", "/v1/pending", h_pending, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "GET", "/v1/held", h_held, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
};

static atomic_int finished;

static void *
finish_main(void *arg)
{
	http_ctx_finish(arg);
	atomic_fetch_add(&finished, 1);
	return NULL;
}

/* Start uri on its own thread; returns once its handler has run and the
 * request waits (the gauge counts it). */
static struct http_ctx *
start(struct http_server *srv, const char *uri, pthread_t *th, uint64_t nsusp)
{
	struct http_ctx *ctx = NULL;

	assert_int_equal(http_ctx_new(srv, uri, &ctx), PV_OK);
	http_ctx_begin(ctx, "GET", "192.0.2.9", -1);
	assert_int_equal(pthread_create(th, NULL, finish_main, ctx), 0);
	while (http_requests_suspended() < nsusp && atomic_load(&finished) == 0)
		sched_yield();
	assert_int_equal(atomic_load(&finished), 0);
	return ctx;
}

static bool
resumed(struct http_ctx *ctx)
{
	bool r;

	pthread_mutex_lock(&ctx->pmu);
	r = ctx->resumed;
	pthread_mutex_unlock(&ctx->pmu);
	return r;
}

static void
test_batch_defers_the_wake(void **state)
{
	struct http_config cfg;
	struct http_server *srv = NULL;
	struct http_ctx *a, *b;
	pthread_t ta, tb;
	struct util_wake_stats s0, s1;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = "/nonexistent/cert.pem";
	cfg.key_path = "/nonexistent/key.pem";
	cfg.tls_min_version = "1.2";
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_equal(http_routes_add(srv, routes, 2), PV_OK);
	a = start(srv, "/v1/pending", &ta, 1);
	b = start(srv, "/v1/held", &tb, 2);
	util_wake_stats_get(&s0);
	util_wake_batch_begin();
	http_reply(pending_req, 200, json_object());
	http_resume(pending_req, PV_OK);
	util_hold_release(held, PV_OK);
	/* both complete, neither woken: their wake-ups wait for the end */
	assert_true(resumed(a));
	assert_true(resumed(b));
	util_wake_stats_get(&s1);
	assert_int_equal(s1.pending, 2);
	assert_int_equal(s1.deferred - s0.deferred, 2);
	assert_int_equal(atomic_load(&finished), 0);
	util_wake_batch_end();
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(atomic_load(&finished), 2);
	assert_int_equal(a->out_status, 200);
	assert_int_equal(b->out_status, 200);
	assert_int_equal(http_requests_suspended(), 0);
	http_ctx_free(a);
	http_ctx_free(b);
	http_server_free(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_defers_the_wake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
