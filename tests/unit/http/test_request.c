/*
 * test_request (http): answers held for a commit (util.h, request.c). A
 * handler that takes a hold on its answer (util_request_hold, as
 * audit_record_held does for a refusal) and answers at once is not answered
 * until the hold is released from another thread, and is counted in the
 * gauge meanwhile; a hold released with PV_E_AUDIT replaces the answer (its
 * message never leaves); a hold released before the handler returns costs
 * nothing; a PV_PENDING handler with a hold is answered only after both its
 * http_resume and the release, in either order. No clock: the test waits for
 * conditions (the gauge), never for a time. Driven without sockets: the
 * request's own thread waits, as with a thread per connection.
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

static const struct util_holder *held;   /* taken by the handler */
static bool release_inline;              /* the handler releases before it returns */
static struct http_request *pending_req; /* h_pending's request, resumed by the test */

static enum pv_rc
h_refuse(struct http_request *req)
{
	held = util_request_hold();
	assert_non_null(held);
	if (release_inline) {
		util_hold_release(held, PV_OK);
		held = NULL;
	}
	return http_fail(req, PV_E_FORBIDDEN, "You may not");
}

static enum pv_rc
h_pending(struct http_request *req)
{
	held = util_request_hold();
	assert_non_null(held);
	pending_req = req;
	return PV_PENDING;
}

static const struct http_route routes[] = {
	{ "GET", "/v1/refuse", h_refuse, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
	{ "GET", "/v1/pending", h_pending, HTTP_PERM_PUBLIC, NULL, 0, 0, NULL },
};

static struct http_server *
server_new(void)
{
	struct http_config cfg;
	struct http_server *srv = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = "/nonexistent/cert.pem";
	cfg.key_path = "/nonexistent/key.pem";
	cfg.tls_min_version = "1.2";
	assert_int_equal(http_server_new(&cfg, &srv), PV_OK);
	assert_int_equal(http_routes_add(srv, routes, 2), PV_OK);
	return srv;
}

static atomic_bool finished;               /* the request's thread is done */

static void *
finish_main(void *arg)
{
	http_ctx_finish(arg);
	atomic_store(&finished, true);
	return NULL;
}

/* The request runs on its own thread, which waits for its answer. */
static struct http_ctx *
start(struct http_server *srv, const char *uri, pthread_t *th)
{
	struct http_ctx *ctx = NULL;

	held = NULL;
	pending_req = NULL;
	atomic_store(&finished, false);
	assert_int_equal(http_ctx_new(srv, uri, &ctx), PV_OK);
	http_ctx_begin(ctx, "GET", "192.0.2.9", -1);
	assert_int_equal(pthread_create(th, NULL, finish_main, ctx), 0);
	return ctx;
}

/* Until the request is suspended (the gauge) or answered (its thread is
 * done: then it did not wait, and the test fails at once). */
static void
wait_suspended(uint64_t n)
{
	while (http_requests_suspended() < n && !atomic_load(&finished))
		sched_yield();
	assert_false(atomic_load(&finished));
	assert_true(http_requests_suspended() >= n);
}

static void
test_answer_waits_for_its_hold(void **state)
{
	struct http_server *srv = server_new();
	struct http_ctx *ctx;
	pthread_t th;

	(void)state;
	assert_int_equal(http_requests_suspended(), 0);
	ctx = start(srv, "/v1/refuse", &th);
	wait_suspended(1);
	/* the refusal is built but held: not answered until the release */
	pthread_mutex_lock(&ctx->pmu);
	assert_false(ctx->resumed);
	assert_int_equal(ctx->holds, 1);
	pthread_mutex_unlock(&ctx->pmu);
	util_hold_release(held, PV_OK);
	pthread_join(th, NULL);
	assert_true(ctx->out_ready);
	assert_int_equal(ctx->out_status, 403);
	assert_non_null(strstr(ctx->out_body, "You may not"));
	assert_int_equal(http_requests_suspended(), 0);
	http_ctx_free(ctx);
	http_server_free(srv);
}

static void
test_failed_hold_fails_closed(void **state)
{
	struct http_server *srv = server_new();
	struct http_ctx *ctx;
	pthread_t th;

	(void)state;
	ctx = start(srv, "/v1/refuse", &th);
	wait_suspended(1);
	util_hold_release(held, PV_E_AUDIT);
	pthread_join(th, NULL);
	assert_true(ctx->out_ready);
	assert_int_equal(ctx->out_status, http_rc_status(PV_E_AUDIT));
	assert_non_null(strstr(ctx->out_body, http_rc_code(PV_E_AUDIT)));
	assert_null(strstr(ctx->out_body, "You may not"));
	assert_int_equal(http_requests_suspended(), 0);
	http_ctx_free(ctx);
	http_server_free(srv);
}

static void
test_released_before_return(void **state)
{
	struct http_server *srv = server_new();
	struct http_ctx *ctx = NULL;

	(void)state;
	release_inline = true;
	assert_int_equal(http_ctx_new(srv, "/v1/refuse", &ctx), PV_OK);
	http_ctx_begin(ctx, "GET", "192.0.2.9", -1);
	http_ctx_finish(ctx);   /* on this thread: nothing to wait for */
	release_inline = false;
	assert_true(ctx->out_ready);
	assert_false(ctx->pending);
	assert_int_equal(ctx->out_status, 403);
	http_ctx_free(ctx);
	http_server_free(srv);
}

static void
pending_case(bool resume_first)
{
	struct http_server *srv = server_new();
	struct http_ctx *ctx;
	pthread_t th;

	ctx = start(srv, "/v1/pending", &th);
	wait_suspended(1);
	if (resume_first) {
		http_reply(pending_req, 200, json_object());
		http_resume(pending_req, PV_OK);
		pthread_mutex_lock(&ctx->pmu);
		assert_false(ctx->resumed);   /* the hold is still out */
		pthread_mutex_unlock(&ctx->pmu);
		util_hold_release(held, PV_OK);
	} else {
		util_hold_release(held, PV_OK);
		pthread_mutex_lock(&ctx->pmu);
		assert_false(ctx->resumed);   /* the handler has not answered */
		pthread_mutex_unlock(&ctx->pmu);
		http_reply(pending_req, 200, json_object());
		http_resume(pending_req, PV_OK);
	}
	pthread_join(th, NULL);
	assert_true(ctx->out_ready);
	assert_int_equal(ctx->out_status, 200);
	assert_int_equal(http_requests_suspended(), 0);
	http_ctx_free(ctx);
	http_server_free(srv);
}

static void
test_pending_resume_then_release(void **state)
{
	(void)state;
	pending_case(true);
}

static void
test_pending_release_then_resume(void **state)
{
	(void)state;
	pending_case(false);
}

/* Off a request thread there is no holder: the caller waits the blocking way. */
static void
test_no_hold_off_request(void **state)
{
	(void)state;
	assert_null(util_request_hold());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_waits_for_its_hold),
		cmocka_unit_test(test_failed_hold_fails_closed),
		cmocka_unit_test(test_released_before_return),
		cmocka_unit_test(test_pending_resume_then_release),
		cmocka_unit_test(test_pending_release_then_resume),
		cmocka_unit_test(test_no_hold_off_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
