/*
 * metrics: what http counts (util/metrics.h, the process registry) and the
 * GET /metrics route that renders the registry.
 *
 *   phivault_http_requests_total{method,route,code}         counter
 *   phivault_http_request_duration_seconds{method,route}    histogram
 *
 * route is the route's pattern ("/v1/collections/{c}/records/{id}"), never
 * the request's path: paths carry collection names, record and user IDs.
 * A request that matched no route counts as route="(unmatched)", its method
 * as one of the methods a route may have or "other". code is the status
 * sent. No label carries the source address, a parameter or a header.
 * A request is counted when its one response is queued (server.c
 * send_response), before the client can have it: a client that has its
 * answer also sees it counted in the next scrape. The duration runs from the
 * request line (http_ctx_new) to that moment, a suspended commit wait
 * included, the sending of the body not.
 *
 * Invariants: the hot path (http_metrics_request_done) takes no lock after
 * the first request of a (method, route, code), allocates nothing, and
 * cannot fail a request: a series the registry refuses is simply not counted.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "util/metrics.h"

#define UNMATCHED "(unmatched)"

static const double latency_buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

static struct util_metric_family *fam_requests, *fam_duration, *fam_suspended;
static struct util_metric *suspended;
static atomic_long suspended_now;
static pthread_once_t fam_once = PTHREAD_ONCE_INIT;

static void
families_init(void)
{
	static const char *const l3[] = { "method", "route", "code", NULL };
	static const char *const l2[] = { "method", "route", NULL };
	const struct util_metric_def reqs = {
		"phivault_http_requests_total",
		"HTTP requests answered, by method, route template and status code",
		UTIL_METRIC_COUNTER, l3, NULL, 0
	};
	const struct util_metric_def dur = {
		"phivault_http_request_duration_seconds",
		"Time from the request line to its response queued, by method and route template",
		UTIL_METRIC_HISTOGRAM, l2, latency_buckets,
		sizeof(latency_buckets) / sizeof(latency_buckets[0])
	};
	const struct util_metric_def susp = {
		"phivault_http_requests_suspended",
		"Requests whose answer waits for a completion (a commit) right now",
		UTIL_METRIC_GAUGE, NULL, NULL, 0
	};
	struct util_metrics *m = util_metrics_default();

	if (util_metrics_family(m, &reqs, &fam_requests) != PV_OK ||
	    util_metrics_family(m, &dur, &fam_duration) != PV_OK ||
	    util_metrics_family(m, &susp, &fam_suspended) != PV_OK)
		log_error("http: metrics families not registered; requests are not counted");
	suspended = util_metrics_series(fam_suspended, NULL);
}

void
http_metrics_init(void)
{
	(void)pthread_once(&fam_once, families_init);
}

/* A method label from a bounded set (an unmatched request's method is
 * whatever the client sent). */
static const char *
method_label(const char *m)
{
	static const char *const known[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL
	};
	size_t i;

	for (i = 0; m != NULL && known[i] != NULL; i++)
		if (strcmp(m, known[i]) == 0)
			return known[i];
	return "other";
}

void
http_metrics_request_done(const struct http_ctx *ctx)
{
	const struct http_route *r;
	const char *method, *route;
	char code[8];
	int st;

	if (ctx == NULL || !ctx->out_ready)
		return;   /* never answered (the client went away first) */
	http_metrics_init();
	r = ctx->req.route;
	method = r != NULL ? r->method : method_label(ctx->req.method);
	route = r != NULL ? r->pattern : UNMATCHED;
	st = ctx->out_status;
	if (st < 100 || st > 599)
		st = 0;
	code[0] = (char)('0' + st / 100);
	code[1] = (char)('0' + st / 10 % 10);
	code[2] = (char)('0' + st % 10);
	code[3] = '\0';
	util_metric_inc(util_metrics_series(fam_requests,
	    (const char *const[]){ method, route, code }));
	util_metric_observe(util_metrics_series(fam_duration,
	    (const char *const[]){ method, route }),
	    (double)(util_mono_us() - ctx->start_us) / 1e6);
}

void
http_metrics_suspended(int delta)
{
	http_metrics_init();
	atomic_fetch_add_explicit(&suspended_now, delta, memory_order_relaxed);
	util_metric_gauge_add(suspended, (double)delta);
}

uint64_t
http_requests_suspended(void)
{
	long n = atomic_load_explicit(&suspended_now, memory_order_relaxed);

	return n > 0 ? (uint64_t)n : 0;
}

/* ---- GET /metrics ---- */

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4"

static enum pv_rc
metrics_get(struct http_request *req)
{
	char *text = NULL, *copy;
	size_t len = 0;
	enum pv_rc rc;

	rc = util_metrics_render(util_metrics_default(), &text, &len);
	if (rc != PV_OK)
		return rc == PV_E_TOOBIG ? PV_E_INTERNAL : rc;
	copy = arena_alloc(req->arena, len + 1);
	if (copy == NULL) {
		free(text);
		return PV_E_NOMEM;
	}
	memcpy(copy, text, len + 1);
	free(text);
	req->resp_text = copy;
	req->resp_type = METRICS_CONTENT_TYPE;
	req->status = 200;
	return PV_OK;
}

enum pv_rc
http_metrics_routes(struct http_server *srv, const char *permission)
{
	struct http_route r = { "GET", "/metrics", metrics_get, permission, "metrics.read",
		HTTP_ROUTE_SEALED_OK, 0, NULL };

	if (srv == NULL || permission == NULL)
		return PV_E_INVALID;
	http_metrics_init();
	return http_route_add(srv, &r);
}

/* ---- [metrics] listen: a plain-HTTP listener of its own ---- */

/*
 * Serves GET /metrics only, without TLS and without authentication, for a
 * Prometheus on the same host (config refuses a non-loopback address outside
 * --dev). One internal poll thread, few connections, a short timeout: a
 * scraper makes one request every few seconds. Everything else is 404 /
 * 405 JSON; request bodies are read and dropped. Its requests are not
 * counted in phivault_http_requests_total (that is the HTTPS API's).
 */
#define LISTENER_MAX_CONN 16
#define LISTENER_PER_IP 8
#define LISTENER_TIMEOUT_S 10

struct http_metrics_listener {
	struct MHD_Daemon *daemon;
	unsigned port;
};

static const char listener_404[] =
    "{\"error\":{\"code\":\"not_found\",\"message\":\"Only GET /metrics is served here\"}}";
static const char listener_405[] =
    "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"Only GET /metrics is served here\"}}";
static const char listener_500[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"Internal error\"}}";

static enum MHD_Result
listener_send(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
    size_t len, bool owned, bool allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret = MHD_NO;

	resp = MHD_create_response_from_buffer(len, body,
	    owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, "Content-Type", type) == MHD_YES &&
	    MHD_add_response_header(resp, "Cache-Control", "no-store") == MHD_YES &&
	    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") == MHD_YES &&
	    MHD_add_response_header(resp, "Server", "phivault") == MHD_YES &&
	    (!allow || MHD_add_response_header(resp, "Allow", "GET") == MHD_YES))
		ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
listener_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *data, size_t *data_size, void **con_cls)
{
	static int seen;
	char *text = NULL;
	size_t len = 0;

	(void)cls;
	(void)version;
	(void)data;
	if (*con_cls == NULL) {
		*con_cls = &seen;   /* headers: wait for the (dropped) body */
		return MHD_YES;
	}
	if (*data_size != 0) {
		*data_size = 0;
		return MHD_YES;
	}
	/* MHD hands over the path without the query string */
	if (url == NULL || strcmp(url, "/metrics") != 0)
		return listener_send(conn, 404, "application/json", (char *)listener_404,
		    strlen(listener_404), false, false);
	if (strcmp(method, "GET") != 0)
		return listener_send(conn, 405, "application/json", (char *)listener_405,
		    strlen(listener_405), false, true);
	if (util_metrics_render(util_metrics_default(), &text, &len) != PV_OK)
		return listener_send(conn, 500, "application/json", (char *)listener_500,
		    strlen(listener_500), false, false);
	return listener_send(conn, 200, METRICS_CONTENT_TYPE, text, len, true, false);
}

static __attribute__((format(printf, 2, 0))) void
listener_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\r\n")] = '\0';
	log_debug("http: metrics listener: mhd: %s", buf);
}

enum pv_rc
http_metrics_listener_start(const char *listen, struct http_metrics_listener **out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct http_metrics_listener *l;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG |
	    MHD_USE_ITC;

	if (listen == NULL || out == NULL || http_listen_parse(listen, &ss, &sslen) != PV_OK)
		return PV_E_INVALID;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return PV_E_NOMEM;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	http_metrics_init();
	l->daemon = MHD_start_daemon(flags, 0, NULL, NULL, listener_access, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, listener_log, NULL,
	    MHD_OPTION_SOCK_ADDR, &ss,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LISTENER_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)LISTENER_MAX_CONN,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)LISTENER_PER_IP,
	    MHD_OPTION_END);
	if (l->daemon == NULL) {
		log_error("http: cannot start the metrics listener on %s", listen);
		free(l);
		return PV_E_IO;
	}
	di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_BIND_PORT);
	l->port = di != NULL ? di->port : 0;
	log_info("http: metrics on http://%s/metrics (plain HTTP, no authentication)", listen);
	*out = l;
	return PV_OK;
}

void
http_metrics_listener_stop(struct http_metrics_listener *l)
{
	if (l == NULL)
		return;
	if (l->daemon != NULL)
		MHD_stop_daemon(l->daemon);
	free(l);
}
