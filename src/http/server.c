/*
 * server: libmicrohttpd glue. Owns the daemon (a pool of epoll threads by
 * default, or a thread per connection; see "Threads" below), TLS through
 * GnuTLS, the listen socket, and the mapping of MHD's callbacks onto the
 * request pipeline in request.c.
 *
 * Server states:
 *   NEW (routes may be added) --start--> RUNNING --stop--> STOPPED --free
 *   stop: set `stopping` (every new request, on a new or kept-alive
 *   connection, gets 503 unavailable and Connection: close), wait up to
 *   HTTP_STOP_WAIT_MS for `inflight` to reach zero, MHD_stop_daemon.
 *   MHD_quiesce_daemon is deliberately not used: in 0.9.75 with an epoll
 *   thread pool it races with workers that have already taken the listen
 *   socket out of their epoll set and aborts the process ("Failed to remove
 *   listen FD from epoll set"), seen here under parallel test load.
 *
 * Callback order for one request (MHD 0.9.75):
 *   URI log callback (raw URI; creates the ctx = MHD's con_cls; inflight++)
 *   -> access handler, first call (headers: route, limit, early 413 / 503)
 *   -> access handler with upload chunks -> access handler, final call
 *   (pipeline + response) -> NOTIFY_COMPLETED (ctx freed; inflight--).
 *   MHD marks the request "client aware" in the URI callback, so COMPLETED
 *   runs for every ctx created there, even if the request dies early.
 *
 * TLS (NIST SP 800-52r2 section 3): TLS 1.2 and 1.3 only (1.3 only when
 * configured), AEAD suites only (AES-GCM, ChaCha20-Poly1305), ECDHE key
 * exchange only (forward secrecy), no compression, no SHA-1 signatures, the
 * server's preference order. The certificate and key are tls.c's: MHD asks
 * for them at every handshake (MHD_OPTION_HTTPS_CERT_CALLBACK), so a reload
 * swaps them for new connections without touching established ones.
 *
 * Listeners: a server is one MHD daemon on one address. A sibling
 * (http_server_sibling) is a second daemon with the same routes, hooks and
 * certificate and its own address, plane (plane.c: which routes it serves;
 * the other plane's answer 404 and are reported) and allowlist (allow.c,
 * MHD's accept policy: refused before TLS, counted, reported).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "http/http_int.h"
#include "util/metrics.h"

#define TLS_FILE_MAX (1u << 20)

/* GnuTLS priority strings (gnutls_priority_init(3)). */
static const char tls_prio_12[] =
    "NONE:+VERS-TLS1.3:+VERS-TLS1.2:"
    "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AEAD:"
    "+ECDHE-ECDSA:+ECDHE-RSA:"
    "+SIGN-ALL:-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:"
    "+GROUP-EC-ALL:+COMP-NULL:%SERVER_PRECEDENCE";
static const char tls_prio_13[] =
    "NONE:+VERS-TLS1.3:"
    "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AEAD:"
    "+ECDHE-ECDSA:+ECDHE-RSA:"
    "+SIGN-ALL:-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:"
    "+GROUP-EC-ALL:+COMP-NULL:%SERVER_PRECEDENCE";

const char *
http_tls_priorities(const char *min_version)
{
	if (min_version == NULL || strcmp(min_version, "1.2") == 0)
		return tls_prio_12;
	if (strcmp(min_version, "1.3") == 0)
		return tls_prio_13;
	return NULL;   /* anything else, "1.0" and "1.1" included, is refused */
}

enum pv_rc
http_listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo hints, *res = NULL;
	char host[128];
	const char *port, *colon;
	size_t hlen;
	unsigned long pn;
	char *end;
	enum pv_rc rc = PV_E_INVALID;

	if (listen == NULL)
		return PV_E_INVALID;
	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');

		if (rb == NULL || rb[1] != ':')
			return PV_E_INVALID;
		hlen = (size_t)(rb - listen - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return PV_E_INVALID;
		memcpy(host, listen + 1, hlen);
		port = rb + 2;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL)
			return PV_E_INVALID;   /* a bare IPv6 address needs brackets */
		hlen = (size_t)(colon - listen);
		if (hlen == 0 || hlen >= sizeof(host))
			return PV_E_INVALID;
		memcpy(host, listen, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	if (port[0] < '0' || port[0] > '9' || strlen(port) > 5)
		return PV_E_INVALID;
	errno = 0;
	pn = strtoul(port, &end, 10);
	if (errno != 0 || *end != '\0' || pn > 65535)
		return PV_E_INVALID;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		goto out;
	if (res->ai_addrlen > sizeof(*ss))
		goto out;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	rc = PV_OK;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return rc;
}

static const char *
plane_name(enum http_plane p)
{
	return p == HTTP_PLANE_DATA ? "data" : p == HTTP_PLANE_MGMT ? "management" : "all";
}

static void
copy_str(char *dst, size_t dlen, const char *src, const char **field)
{
	util_strlcpy(dst, src ? src : "", dlen);
	*field = dst;
}

enum pv_rc
http_server_new(const struct http_config *cfg, struct http_server **out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct http_server *srv;

	if (cfg == NULL || cfg->listen == NULL || cfg->cert_path == NULL || cfg->key_path == NULL)
		return PV_E_INVALID;
	if (strlen(cfg->listen) >= sizeof(srv->listen) ||
	    strlen(cfg->cert_path) >= sizeof(srv->cert_path) ||
	    strlen(cfg->key_path) >= sizeof(srv->key_path))
		return PV_E_INVALID;
	if (http_tls_priorities(cfg->tls_min_version) == NULL) {
		/* dev relaxes nothing about transport security */
		log_error("http: TLS minimum version refused (1.2 or 1.3 only)");
		return PV_E_CONFIG;
	}
	if (http_listen_parse(cfg->listen, &ss, &sslen) != PV_OK) {
		log_error("http: bad listen address");
		return PV_E_INVALID;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return PV_E_NOMEM;
	{
		char msg[128];

		if (http_allow_parse(cfg->allow, srv->allow, HTTP_ALLOW_MAX, &srv->nallow, msg,
		    sizeof(msg)) != PV_OK) {
			log_error("http: allowlist of %s refused: %s", cfg->listen, msg);
			free(srv);
			return PV_E_INVALID;
		}
	}
	srv->cfg = *cfg;
	copy_str(srv->name, sizeof(srv->name), cfg->name ? cfg->name : "main", &srv->cfg.name);
	srv->cfg.allow = NULL;   /* parsed into srv->allow */
	atomic_init(&srv->refused_second, 0);
	atomic_init(&srv->refused_reports, 0);
	copy_str(srv->listen, sizeof(srv->listen), cfg->listen, &srv->cfg.listen);
	copy_str(srv->cert_path, sizeof(srv->cert_path), cfg->cert_path, &srv->cfg.cert_path);
	copy_str(srv->key_path, sizeof(srv->key_path), cfg->key_path, &srv->cfg.key_path);
	copy_str(srv->tls_min_version, sizeof(srv->tls_min_version),
	    cfg->tls_min_version ? cfg->tls_min_version : "1.2", &srv->cfg.tls_min_version);
	if (srv->cfg.max_body_bytes == 0)
		srv->cfg.max_body_bytes = HTTP_DEFAULT_MAX_BODY;
	if (srv->cfg.max_body_bytes > HTTP_BODY_HARD_MAX)
		srv->cfg.max_body_bytes = HTTP_BODY_HARD_MAX;
	if (srv->cfg.conn_timeout_s == 0)
		srv->cfg.conn_timeout_s = HTTP_DEFAULT_TIMEOUT_S;
	if (srv->cfg.max_connections == 0)
		srv->cfg.max_connections = HTTP_DEFAULT_MAX_CONN;
	if (srv->cfg.max_connections_per_ip == 0)
		srv->cfg.max_connections_per_ip = HTTP_DEFAULT_PER_IP;
	if (srv->cfg.max_connections_per_ip > srv->cfg.max_connections)
		srv->cfg.max_connections_per_ip = srv->cfg.max_connections;
	if (srv->cfg.handshake_timeout_s == 0)
		srv->cfg.handshake_timeout_s = HTTP_DEFAULT_HANDSHAKE_S;
	if (srv->cfg.handshake_timeout_s > srv->cfg.conn_timeout_s)
		srv->cfg.handshake_timeout_s = srv->cfg.conn_timeout_s;
	atomic_init(&srv->started, false);
	atomic_init(&srv->stopping, false);
	atomic_init(&srv->inflight, 0);
	atomic_init(&srv->connections, 0);
	atomic_init(&srv->handshaking, 0);
	atomic_init(&srv->evicted, 0);
	if (pthread_mutex_init(&srv->hs_lock, NULL) != 0) {
		free(srv);
		return PV_E_NOMEM;
	}
	/* jansson picks its hash seed once; do it before the pool threads exist */
	json_object_seed(0);
	*out = srv;
	return PV_OK;
}

/* ---- MHD callbacks ---- */

static struct util_metric_family *fam_refused;
static pthread_once_t refused_once = PTHREAD_ONCE_INIT;

static void
refused_family(void)
{
	static const char *const l[] = { "listener", NULL };
	const struct util_metric_def d = {
		"phivault_http_connections_refused_total",
		"Connections closed before TLS because the source is not in the listener's "
		"allowlist ([server] allow, admin_allow), by listener",
		UTIL_METRIC_COUNTER, l, NULL, 0
	};

	if (util_metrics_family(util_metrics_default(), &d, &fam_refused) != PV_OK)
		log_error("http: refused-connections metric not registered");
}

/* MHD's accept policy: the allowlist, before a byte of TLS. A refusal is
 * counted always and reported (the audit hook) at most
 * HTTP_REFUSED_REPORTS_PER_S times a second. */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *srv = cls;
	char src[INET6_ADDRSTRLEN] = "";
	long long sec;

	(void)addrlen;
	if (http_allow_match(srv->allow, srv->nallow, addr))
		return MHD_YES;
	(void)pthread_once(&refused_once, refused_family);
	util_metric_inc(util_metrics_series(fam_refused, (const char *const[]){ srv->name }));
	sec = util_mono_ms() / 1000;
	if (atomic_exchange(&srv->refused_second, sec) != sec)
		atomic_store(&srv->refused_reports, 0);
	if (srv->cfg.refused != NULL &&
	    atomic_fetch_add(&srv->refused_reports, 1) < HTTP_REFUSED_REPORTS_PER_S) {
		if (addr != NULL && addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr,
			    src, sizeof(src));
		else if (addr != NULL && addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
			    &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, src,
			    sizeof(src));
		srv->cfg.refused(srv->cfg.hook_arg, srv->name, src);
	}
	return MHD_NO;
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *srv = cls;
	struct http_ctx *ctx = NULL;

	if (http_ctx_new(srv, uri, &ctx) != PV_OK)
		return NULL;
	ctx->conn = conn;
	atomic_fetch_add(&srv->inflight, 1);
	return ctx;
}

/*
 * Connection life (NOTIFY_CONNECTION): a new connection gets the short
 * handshake timeout, which covers the TLS handshake and its first request's
 * headers; the first call of the access handler gives it the normal idle
 * timeout (handshake_done). An idle or slow client thus holds a slot for
 * seconds, not for the 30 s keep-alive timeout.
 *
 * Eviction: the per-IP limit does not stop many addresses (127.0.0.2 ..
 * 127.0.0.40 are all loopback) from filling the global limit with idle
 * sockets, reconnecting as the handshake timeout closes them. So handshaking
 * connections are kept in a list, oldest first, per group (struct
 * http_conn_group), and when a new connection leaves fewer than the group's
 * reserve of slots free, the oldest handshaking connection other than the
 * new one is shut down
 * (shutdown(SHUT_RDWR) under hs_lock; MHD sees the end of the stream on its
 * next poll and closes it). MHD refuses a connection at the hard limit before
 * any callback of ours, hence the reserve: the slots freed by evictions in
 * flight (evicting) are what the next arrivals get. A connection that
 * completes its handshake and sends its headers promptly is then always
 * served; one that has sent its first request's headers (mid-request,
 * authenticated, kept alive) is never evicted.
 *
 * The fd is only touched under hs_lock while the entry is listed; MHD calls
 * NOTIFY_CLOSED (which unlists it) before it closes the socket, so the fd is
 * never a reused one.
 */
struct http_conn_group {
	pthread_t thread;          /* the MHD pool thread it belongs to (ngroups > 1) */
	bool claimed;
	unsigned limit;            /* MHD's connection limit for this group */
	unsigned reserve;          /* slots kept free for new connections */
	unsigned open;             /* connections open */
	unsigned evicting;         /* of those, shut down, not yet closed by MHD */
	struct http_conn *head, *tail;   /* handshaking, oldest first */
};

struct http_conn {
	struct http_conn *prev, *next;
	struct http_conn_group *g;
	int fd;
	bool handshaking;          /* listed in g->head .. g->tail */
	bool evicted;              /* shut down by evict_oldest; counted in evicting */
};

/*
 * MHD splits MHD_OPTION_CONNECTION_LIMIT among the threads of a pool (each
 * gets limit / threads, some one more) and refuses a connection when its
 * thread's share is used up, so a pool thread is a group of its own. NOTIFY
 * STARTED and CLOSED run in the thread that owns the connection there; with
 * a thread per connection or a single thread there is one group.
 */
static enum pv_rc
groups_init(struct http_server *srv, unsigned threads)
{
	unsigned i, n = threads > 1 ? threads : 1, limit;

	srv->groups = calloc(n, sizeof(*srv->groups));
	if (srv->groups == NULL)
		return PV_E_NOMEM;
	srv->ngroups = n;
	limit = srv->cfg.max_connections / n;
	if (limit < 1)
		limit = 1;
	for (i = 0; i < n; i++) {
		struct http_conn_group *g = &srv->groups[i];

		g->limit = limit;
		g->reserve = limit / 64;
		if (g->reserve < HTTP_EVICT_RESERVE_MIN)
			g->reserve = HTTP_EVICT_RESERVE_MIN;
		if (g->reserve > HTTP_EVICT_RESERVE_MAX)
			g->reserve = HTTP_EVICT_RESERVE_MAX;
		if (g->reserve >= limit)
			g->reserve = limit > 1 ? limit - 1 : 1;
	}
	return PV_OK;
}

/* Under hs_lock: the calling thread's group (NULL: none left, untracked). */
static struct http_conn_group *
group_of_thread(struct http_server *srv)
{
	pthread_t self = pthread_self();
	unsigned i;

	if (srv->ngroups == 1)
		return &srv->groups[0];
	for (i = 0; i < srv->ngroups; i++)
		if (srv->groups[i].claimed && pthread_equal(srv->groups[i].thread, self))
			return &srv->groups[i];
	for (i = 0; i < srv->ngroups; i++)
		if (!srv->groups[i].claimed) {
			srv->groups[i].claimed = true;
			srv->groups[i].thread = self;
			return &srv->groups[i];
		}
	return NULL;
}

static void
hs_unlink(struct http_server *srv, struct http_conn *c)
{
	struct http_conn_group *g = c->g;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		g->tail = c->prev;
	c->prev = c->next = NULL;
	c->handshaking = false;
	atomic_fetch_sub(&srv->handshaking, 1);
}

/* Under hs_lock: shut down g's handshaking connections, oldest first (never
 * self), until g->reserve slots are free again, counting the evictions
 * already under way as free. */
static void
evict_oldest(struct http_server *srv, struct http_conn_group *g, const struct http_conn *self)
{
	struct http_conn *c;

	while (g->open - g->evicting + g->reserve > g->limit) {
		c = g->head;
		if (c == NULL || c == self)
			return;   /* nothing evictable: MHD refuses at the hard limit */
		hs_unlink(srv, c);
		c->evicted = true;
		g->evicting++;
		atomic_fetch_add(&srv->evicted, 1);
		(void)shutdown(c->fd, SHUT_RDWR);
		log_debug("http: connection limit near, closed the oldest handshaking connection");
	}
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	struct http_conn *c;
	struct http_conn_group *g;
	bool hs;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&srv->connections, 1);
		c = calloc(1, sizeof(*c));
		*socket_context = c;
		if (c == NULL)
			return;   /* keeps the normal timeout, never evicted, not counted */
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci != NULL ? ci->connect_fd : -1;
		pthread_mutex_lock(&srv->hs_lock);
		g = group_of_thread(srv);
		c->g = g;
		if (g != NULL) {
			g->open++;
			if (c->fd >= 0) {
				c->handshaking = true;
				c->prev = g->tail;
				if (g->tail != NULL)
					g->tail->next = c;
				else
					g->head = c;
				g->tail = c;
				atomic_fetch_add(&srv->handshaking, 1);
			}
			evict_oldest(srv, g, c);
		}
		hs = c->handshaking;
		pthread_mutex_unlock(&srv->hs_lock);
		if (hs)
			(void)MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
			    srv->cfg.handshake_timeout_s);
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	c = *socket_context;
	*socket_context = NULL;
	if (c != NULL) {
		pthread_mutex_lock(&srv->hs_lock);
		if (c->handshaking)
			hs_unlink(srv, c);
		if (c->g != NULL) {
			c->g->open--;
			if (c->evicted)
				c->g->evicting--;
		}
		pthread_mutex_unlock(&srv->hs_lock);
		free(c);
	}
	atomic_fetch_sub(&srv->connections, 1);
}

/* The first request's headers are in: from now on the normal idle timeout,
 * and the connection is never evicted. */
static void
handshake_done(struct http_server *srv, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	struct http_conn *c;
	bool was;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = ci != NULL ? ci->socket_context : NULL;
	if (c == NULL)
		return;
	pthread_mutex_lock(&srv->hs_lock);
	was = c->handshaking;
	if (was)
		hs_unlink(srv, c);
	pthread_mutex_unlock(&srv->hs_lock);
	if (was)
		(void)MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
		    srv->cfg.conn_timeout_s);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_ctx *ctx = *con_cls;

	(void)conn;
	(void)toe;
	if (ctx == NULL)
		return;
	*con_cls = NULL;
	http_ctx_free(ctx);
	atomic_fetch_sub(&srv->inflight, 1);
}

static __attribute__((format(printf, 2, 0))) void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;
	char buf[256];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* after start, MHD reports per-connection trouble (TLS handshakes of
	 * scanners, resets): debug noise. Before, it explains a failed start. */
	if (atomic_load(&srv->started))
		log_debug("http: mhd: %s", buf);
	else
		log_error("http: mhd: %s", buf);
}

static bool
add_header(struct MHD_Response *resp, const char *name, const char *value)
{
	return MHD_add_response_header(resp, name, value) == MHD_YES;
}

/* Queue the ctx's one response with the headers every response carries. */
static enum MHD_Result
send_response(struct http_ctx *ctx)
{
	struct MHD_Response *resp;
	enum MHD_Result ret = MHD_NO;
	bool ok;
	char ra[16];

	http_metrics_request_done(ctx);   /* metrics.c: route template, status, duration */
	resp = MHD_create_response_from_buffer(ctx->out_len, (void *)ctx->out_body,
	    MHD_RESPMEM_PERSISTENT);   /* out_body lives in the arena until COMPLETED */
	if (resp == NULL)
		return MHD_NO;
	/* a response may bring its own Content-Security-Policy (the console's,
	 * src/console): it replaces the default, never adds a second one */
	const char *csp = "default-src 'none'; frame-ancestors 'none'";

	for (size_t i = 0; i < ctx->out_nhdr; i++)
		if (strcasecmp(ctx->out_hdr[i][0], "Content-Security-Policy") == 0)
			csp = ctx->out_hdr[i][1];
	ok = add_header(resp, "Cache-Control", "no-store") &&
	    add_header(resp, "Strict-Transport-Security", "max-age=63072000; includeSubDomains") &&
	    add_header(resp, "X-Content-Type-Options", "nosniff") &&
	    add_header(resp, "X-Frame-Options", "DENY") &&
	    add_header(resp, "Content-Security-Policy", csp) &&
	    add_header(resp, "Referrer-Policy", "no-referrer") &&
	    add_header(resp, "Server", "phivault");
	if (ok && ctx->out_type != NULL)
		ok = add_header(resp, "Content-Type", ctx->out_type);
	if (ok && ctx->out_retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", ctx->out_retry_after);
		ok = add_header(resp, "Retry-After", ra);
	}
	if (ok && ctx->out_status == 405 && ctx->allow != NULL)
		ok = add_header(resp, "Allow", ctx->allow);
	if (ok && ctx->out_close)
		ok = add_header(resp, "Connection", "close");
	for (size_t i = 0; ok && i < ctx->out_nhdr; i++)
		if (strcasecmp(ctx->out_hdr[i][0], "Content-Security-Policy") != 0)
			ok = add_header(resp, ctx->out_hdr[i][0], ctx->out_hdr[i][1]);
	if (ok)
		ret = MHD_queue_response(ctx->conn, (unsigned)ctx->out_status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static long long
content_length(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n = 0;

	if (v == NULL || *v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return -1;   /* MHD refuses malformed lengths itself */
		if (n > (unsigned long long)LLONG_MAX / 10)
			return LLONG_MAX;
		n = n * 10 + (unsigned)(*v - '0');
	}
	return n > (unsigned long long)LLONG_MAX ? LLONG_MAX : (long long)n;
}

static void
client_address(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	buf[0] = '\0';
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    buf, (socklen_t)len);
}

/* The peer's certificate as presented (mutual TLS for apps): copied into
 * the request arena, verified by whoever uses it. */
#define CLIENT_CERT_MAX 16384
static void
client_cert(struct http_ctx *ctx, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	unsigned int n = 0;
	uint8_t *p;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return;
	peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (peers == NULL || n == 0 || peers[0].size == 0 || peers[0].size > CLIENT_CERT_MAX)
		return;
	if ((p = arena_alloc(ctx->req.arena, peers[0].size)) == NULL)
		return;
	memcpy(p, peers[0].data, peers[0].size);
	ctx->req.tls_client_cert = p;
	ctx->req.tls_client_cert_len = peers[0].size;
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_ctx *ctx = *con_cls;
	char src[INET6_ADDRSTRLEN];

	(void)url;
	(void)version;
	if (ctx == NULL)
		return MHD_NO;   /* out of memory when the request line arrived */
	if (!ctx->begun) {
		bool early_ok;

		handshake_done(srv, conn);
		client_address(conn, src, sizeof(src));
		client_cert(ctx, conn);
		http_ctx_begin(ctx, method, src, content_length(conn));
		if (atomic_load(&srv->stopping) && ctx->early_rc == PV_OK)
			ctx->early_rc = PV_E_UNAVAILABLE;
		/* MHD 0.9.75 stops reading the body only for POST and PUT when a
		 * response is queued now; other methods answer after the body. */
		early_ok = strcmp(method, MHD_HTTP_METHOD_POST) == 0 ||
		    strcmp(method, MHD_HTTP_METHOD_PUT) == 0 ||
		    (content_length(conn) <= 0 &&
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_TRANSFER_ENCODING) == NULL);
		if (ctx->early_rc != PV_OK && early_ok) {
			http_ctx_finish(ctx);
			return send_response(ctx);
		}
		return MHD_YES;
	}
	if (ctx->out_ready) {
		*data_size = 0;
		return MHD_YES;
	}
	if (*data_size != 0) {
		bool go_on = http_ctx_body(ctx, data, *data_size);

		*data_size = 0;
		return go_on ? MHD_YES : MHD_NO;
	}
	http_ctx_finish(ctx);
	if (!ctx->out_ready) {
		/* PV_PENDING: suspend the connection, not this thread, unless the
		 * completion already came; MHD calls us again after the resume */
		pthread_mutex_lock(&ctx->pmu);
		if (!ctx->resumed) {
			ctx->suspended = true;
			MHD_suspend_connection(conn);
			pthread_mutex_unlock(&ctx->pmu);
			return MHD_YES;
		}
		pthread_mutex_unlock(&ctx->pmu);
		http_ctx_finish(ctx);
	}
	return send_response(ctx);
}

/* ---- lifecycle ---- */

/*
 * Threads. The default ([server] threads = 2) is a pool of epoll threads
 * with suspend/resume: a request whose answer waits for its commit (every
 * write, every audited PHI read, every audited refusal) suspends its
 * connection and frees its thread, so the pool's size does not bound how
 * many requests share a group. Measured back to back on 2 quiet cores, 32
 * keep-alive connections (docs/performance.md "The threading default,
 * measured again"): the pool read 1.58x the rate of a thread per
 * connection at 0.71x the server CPU a read, created 1.59x, with a lower
 * p99. threads = 0 keeps a thread per connection (milestone 1): its thread
 * waits where the pool suspends; threads are then bounded by
 * max_connections and idle connections by conn_timeout_s. The routes that
 * still wait on their thread (docs/internals/commit.md) hold one pool
 * thread for one fsync.
 */
enum pv_rc
http_server_start(struct http_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint8_t *cert = NULL, *trust = NULL;
	size_t cert_len = 0, trust_len = 0;
	struct MHD_OptionItem opts[17];
	unsigned flags, n = 0, threads;
	const union MHD_DaemonInfo *di;
	enum pv_rc rc;

	if (srv == NULL || atomic_load(&srv->started))
		return PV_E_STATE;
	rc = http_listen_parse(srv->cfg.listen, &ss, &sslen);
	if (rc != PV_OK)
		goto out;
	rc = util_file_read(srv->cfg.cert_path, TLS_FILE_MAX, &cert, &cert_len);
	if (rc != PV_OK) {
		log_error("http: cannot read TLS certificate %s (%s)", srv->cfg.cert_path,
		    pv_rc_name(rc));
		goto out;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
		log_error("http: libmicrohttpd without the certificate callback");
		rc = PV_E_INTERNAL;
		goto out;
	}
	if (srv->parent != NULL) {
		srv->tls = srv->parent->tls;   /* the primary's: one certificate */
		if (srv->tls == NULL) {
			rc = PV_E_STATE;
			goto out;
		}
	} else if (srv->tls == NULL) {
		char msg[160];

		rc = http_tls_new(srv->cfg.cert_path, srv->cfg.key_path, &srv->tls, msg,
		    sizeof(msg));
		if (rc != PV_OK) {
			log_error("http: TLS certificate refused: %s", msg);
			goto out;
		}
		srv->tls_owned = true;
	}

	if (srv->groups == NULL) {
		rc = groups_init(srv, srv->cfg.threads);
		if (rc != PV_OK)
			goto out;
	}

	flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	threads = srv->cfg.threads;
	if (threads == 0)
		flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	else
		flags |= (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ?
		    MHD_USE_EPOLL : MHD_USE_POLL) | MHD_ALLOW_SUSPEND_RESUME;
	/* MHD forbids suspend with a thread per connection: there the request's
	 * own thread waits for http_resume (request.c) */
	srv->can_suspend = threads > 0;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;

#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (void *)(p) }
	/* the logger first, or MHD reports option errors on stderr itself */
	OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv);
	/* the certificate and key come from tls.c at every handshake */
	OPT(MHD_OPTION_HTTPS_CERT_CALLBACK, 0, http_tls_retrieve);
	/* Ask (not require) for a client certificate: MHD sets
	 * GNUTLS_CERT_REQUEST when a trust list is given, and verifies nothing
	 * itself (authn checks app certificates against the app CA, at the
	 * injectable clock). A client without a certificate is unaffected. */
	if (srv->cfg.client_ca_path == NULL ||
	    util_file_read(srv->cfg.client_ca_path, TLS_FILE_MAX, &trust, &trust_len) != PV_OK)
		trust = NULL;
	OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, trust != NULL ? (const char *)trust : (const char *)cert);
	OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, http_tls_priorities(srv->cfg.tls_min_version));
	OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.conn_timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->cfg.max_connections_per_ip, NULL);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv);
	if (threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

	http_tls_register(srv->tls, 0);   /* before the first handshake can come */
	srv->daemon = MHD_start_daemon(flags, 0, srv->nallow > 0 ? on_accept : NULL, srv,
	    on_access, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (srv->daemon == NULL) {
		http_tls_unregister(srv->tls, 0);
		log_error("http: cannot start the HTTPS listener on %s", srv->cfg.listen);
		rc = PV_E_IO;
		goto out;
	}
	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di != NULL ? di->port : 0;
	http_tls_port_set(srv->tls, srv->port);
	atomic_store(&srv->started, true);
	if (threads == 0)
		log_info("http: %s listener on %s port %u (%s routes), a thread per connection, "
		    "TLS >= %s", srv->name, srv->cfg.listen, srv->port, plane_name(srv->cfg.plane),
		    srv->cfg.tls_min_version);
	else
		log_info("http: %s listener on %s port %u (%s routes), %u threads, TLS >= %s",
		    srv->name, srv->cfg.listen, srv->port, plane_name(srv->cfg.plane), threads,
		    srv->cfg.tls_min_version);
	rc = PV_OK;
out:
	free(cert);
	free(trust);
	return rc;
}

enum pv_rc
http_server_sibling(struct http_server *srv, const char *listen, enum http_plane plane,
    const char *allow, const char *name, struct http_server **out)
{
	struct http_config c;
	struct http_server *sib = NULL;
	enum pv_rc rc;

	if (srv == NULL || listen == NULL || srv->parent != NULL)
		return PV_E_INVALID;
	c = srv->cfg;
	c.listen = listen;
	c.plane = plane;
	c.allow = allow;
	c.name = name;
	if ((rc = http_server_new(&c, &sib)) != PV_OK)
		return rc;
	if (srv->nroutes > 0) {
		sib->routes = calloc(srv->nroutes, sizeof(*sib->routes));
		if (sib->routes == NULL) {
			http_server_free(sib);
			return PV_E_NOMEM;
		}
		memcpy(sib->routes, srv->routes, srv->nroutes * sizeof(*sib->routes));
		sib->nroutes = sib->routes_cap = srv->nroutes;
	}
	sib->parent = srv;
	*out = sib;
	return PV_OK;
}

unsigned
http_server_evicting(struct http_server *srv)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&srv->hs_lock);
	for (i = 0; i < srv->ngroups; i++)
		n += srv->groups[i].evicting;
	pthread_mutex_unlock(&srv->hs_lock);
	return n;
}

unsigned
http_server_port(struct http_server *srv)
{
	return srv != NULL ? srv->port : 0;
}

void
http_server_stop(struct http_server *srv)
{
	int64_t deadline;
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	if (srv == NULL || srv->daemon == NULL)
		return;
	atomic_store(&srv->stopping, true);
	deadline = util_mono_ms() + HTTP_STOP_WAIT_MS;
	while (atomic_load(&srv->inflight) > 0 && util_mono_ms() < deadline)
		nanosleep(&ts, NULL);
	if (atomic_load(&srv->inflight) > 0)
		log_warn("http: stopping with %u requests still in flight",
		    atomic_load(&srv->inflight));
	MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	log_info("http: stopped");
}

void
http_server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	http_server_stop(srv);
	if (srv->tls_owned)
		http_tls_free(srv->tls);
	else if (srv->tls != NULL)
		http_tls_unregister(srv->tls, srv->port);
	srv->tls = NULL;
	pthread_mutex_destroy(&srv->hs_lock);
	free(srv->groups);
	free(srv->routes);
	free(srv);
}
