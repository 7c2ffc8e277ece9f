/*
 * http internals shared by the src/http/ sources and tests/unit/http/. Not API: other
 * modules include only http.h.
 *
 * The request pipeline (struct http_ctx) is independent of libmicrohttpd so
 * that unit tests can drive routing, the error model and the hooks without
 * sockets (h2o's t/00unit style); server.c is the thin MHD glue around it.
 *
 * Life of a request (one struct http_ctx, allocated in its own arena):
 *   http_ctx_new (request line seen, raw URI copied)
 *   -> http_ctx_begin (headers seen: route match, body limit, early 413)
 *   -> http_ctx_body* (upload chunks, never buffered beyond the limit)
 *   -> http_ctx_finish (sealed, JSON body, authn, authz, handler; fills out_*)
 *   -> response sent -> http_ctx_free (arena wiped and freed).
 * A ctx produces exactly one response: out_ready is set once, by finish.
 */
#ifndef PV_HTTP_INT_H
#define PV_HTTP_INT_H

#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <strings.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http/http.h"
#include "util/wake.h"

#define HTTP_ARENA_BLOCK 8192
#define HTTP_BODY_MAX_DEPTH 32             /* nesting levels of a request body */
#define HTTP_BODY_HARD_MAX (64u << 20)     /* absolute ceiling, whatever the config */
#define HTTP_MAX_SEGMENTS 16               /* path segments; more never matches */
#define HTTP_DEFAULT_MAX_BODY (1u << 20)
#define HTTP_DEFAULT_TIMEOUT_S 30
#define HTTP_DEFAULT_MAX_CONN 1024
#define HTTP_DEFAULT_PER_IP 32             /* connections from one address */
#define HTTP_DEFAULT_HANDSHAKE_S 5         /* TLS handshake + first request's headers */
#define HTTP_BODY_FIRST_CAP 512            /* first body buffer; doubles as bytes arrive */
#define HTTP_NOBODY_KEEP 64                /* bytes kept for a route without HTTP_ROUTE_BODY */
#define HTTP_EARLY_AUTH_BYTES 4096         /* larger bodies: authenticate before reading */
#define HTTP_STOP_WAIT_MS 10000            /* graceful stop: wait for requests in flight */
#define HTTP_EXTRA_HEADERS_MAX 4           /* http_set_header per response */
#define HTTP_EVICT_RESERVE_MIN 2           /* free slots kept for new connections (server.c) */
#define HTTP_EVICT_RESERVE_MAX 16

struct http_conn_group;                    /* server.c */
struct http_tls;                           /* tls.c */

/* allow.c: one network of a listener's allowlist */
#define HTTP_ALLOW_MAX 64
struct http_net {
	int family;                /* AF_INET | AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

struct http_server {
	struct http_config cfg;    /* strings point at the copies below */
	char listen[128];
	char cert_path[PATH_MAX];
	char key_path[PATH_MAX];
	char tls_min_version[8];

	struct http_route *routes; /* registered before start; read-only afterwards */
	size_t nroutes;
	size_t routes_cap;

	struct MHD_Daemon *daemon;
	atomic_bool started;       /* read by MHD threads (logger) */
	atomic_bool stopping;      /* new requests get 503 unavailable + close */
	atomic_uint inflight;      /* requests between URI seen and completion */
	atomic_uint connections;   /* open connections (NOTIFY_CONNECTION) */
	atomic_uint handshaking;   /* of those, still before their first request's headers */
	/* Eviction (server.c): per group of connections (one MHD thread's in a
	 * pool, all of them otherwise) the ones still handshaking, oldest first.
	 * hs_lock guards the groups, their lists and each entry's state. */
	pthread_mutex_t hs_lock;
	struct http_conn_group *groups;
	unsigned ngroups;
	atomic_uint evicted;       /* connections evicted since start (tests, logs) */
	unsigned port;
	bool can_suspend;          /* a pool of event threads: MHD_ALLOW_SUSPEND_RESUME */

	/* planes (plane.c) and the allowlist (allow.c) */
	char name[16];
	struct http_net allow[HTTP_ALLOW_MAX];
	size_t nallow;             /* 0: any source */
	atomic_llong refused_second;   /* util_mono_ms / 1000 of the current report budget */
	atomic_uint refused_reports;   /* reports made in that second */
	/* the certificate (tls.c): owned by the primary, shared by siblings */
	struct http_tls *tls;
	bool tls_owned;
	struct http_server *parent;    /* a sibling's primary, NULL for a primary */
};

struct http_ctx {
	struct http_request req;   /* req.priv points back here */
	struct http_server *srv;
	struct MHD_Connection *conn;   /* NULL when driven by unit tests */
	char *raw_path;            /* as received, still percent-encoded */
	/* unit tests only (conn == NULL): NULL-terminated name, value pairs */
	const char *const *test_headers;
	const char *const *test_query;

	bool begun;
	enum pv_rc early_rc;       /* decided before the body: 413, 503 while stopping */
	enum pv_rc route_rc;       /* PV_OK, PV_E_NOTFOUND, PV_E_METHOD, PV_E_INVALID */
	const char *allow;         /* Allow header value for 405 */
	/* the route of the other plane that the path matched (answered 404) */
	const struct http_route *wrong_route;

	/* Grown geometrically as bytes arrive (HTTP_BODY_FIRST_CAP, doubling),
	 * never allocated at the declared Content-Length. */
	char *body;
	size_t body_len;
	size_t body_cap;           /* bytes allocated for body (tests check it) */
	size_t body_seen;          /* bytes received, kept or not */
	size_t body_limit;         /* more is 413 */
	size_t body_keep;          /* bytes kept: body_limit (HTTP_ROUTE_BODY) or HTTP_NOBODY_KEEP */
	bool authed;               /* authenticate hook already ran in begin (large body) */

	/* the one response */
	bool out_ready;
	int out_status;
	const char *out_body;      /* in the arena or static */
	size_t out_len;
	const char *out_type;      /* NULL: no Content-Type (204) */
	bool out_close;            /* add Connection: close */
	int out_retry_after;
	const char *out_hdr[HTTP_EXTRA_HEADERS_MAX][2];   /* http_set_header: name, value */
	size_t out_nhdr;

	/* PV_PENDING (http_resume): pmu guards resumed, resume_rc, suspended;
	 * psem is posted once, after pmu is released, for a request thread that
	 * waits (a thread per connection, unit tests) */
	pthread_mutex_t pmu;
	sem_t psem;
	bool pending;              /* the handler returned PV_PENDING (request thread only) */
	bool resumed;
	bool suspended;            /* MHD_suspend_connection called; resume must wake MHD */
	enum pv_rc resume_rc;
	/* the complete answer's wake-up (MHD_resume_connection, or the post of
	 * psem), made after pmu is released: at the end of the committer's
	 * group when it completes there (util/wake.h) */
	struct util_wake wake;
	/* Holds on the answer (util.h "answers held for a commit"), under pmu:
	 * resumed = answered && holds == 0; hold_rc: the first failed release */
	struct util_holder holder;
	unsigned holds;
	bool answered;             /* the handler's rc is known (resume_rc) */
	bool gauged;               /* counted in phivault_http_requests_suspended (finish thread) */
	enum pv_rc hold_rc;

	int64_t start_us;          /* util_mono_us at the request line (metrics.c) */
};

/* ---- route.c ---- */
/* Split and percent-decode a raw path ("/v1/users/usr_x") into segments in
 * the arena. PV_E_INVALID on a malformed escape, a NUL byte or no leading '/';
 * PV_E_NOTFOUND if it has more than HTTP_MAX_SEGMENTS segments. */
enum pv_rc http_path_split(struct pv_arena *a, const char *raw, char **segs, size_t *nsegs);
/* Find the route for method + segments. PV_OK (route, params set),
 * PV_E_NOTFOUND, or PV_E_METHOD with *allow listing the methods that match
 * the path ("GET, POST", arena). */
enum pv_rc http_route_match(const struct http_server *srv, struct pv_arena *a,
    const char *method, char *const *segs, size_t nsegs,
    const struct http_route **route, const char **params, size_t *nparams,
    const char **allow);
/* Expand "{N}" placeholders in a permission with decoded path params. */
enum pv_rc http_perm_expand(struct pv_arena *a, const char *perm,
    const char *const *params, size_t nparams, const char **out);
/* Check a route definition (pattern syntax, permission placeholders). */
enum pv_rc http_route_check(const struct http_route *r);

/* Of the routes the listener does not serve (its plane), the one that
 * matches method + segments (the wrong-listener report), or NULL. */
const struct http_route *http_route_other_plane(const struct http_server *srv,
    struct pv_arena *a, char *const *segs, size_t nsegs, const char *method);

/* ---- plane.c ---- */
/* The plane bits (HTTP_ROUTE_MGMT | HTTP_ROUTE_DATA) of a route: its own
 * flags if it has any, else its path's class in the table. */
unsigned http_route_planes(const struct http_route *r);
/* Does a listener of this plane serve a route with these plane bits? */
bool http_plane_serves(enum http_plane plane, unsigned planes);

/* ---- allow.c ---- */
enum pv_rc http_allow_parse(const char *allow, struct http_net *nets, size_t max, size_t *n,
    char *msg, size_t msglen);
bool http_allow_match(const struct http_net *nets, size_t n, const struct sockaddr *sa);

/* ---- tls.c ---- */
enum pv_rc http_tls_new(const char *cert_path, const char *key_path, struct http_tls **out,
    char *msg, size_t msglen);
enum pv_rc http_tls_reload_store(struct http_tls *t, struct http_tls_info *info, char *msg,
    size_t msglen);
void http_tls_current(struct http_tls *t, struct http_tls_info *info);
/* Registered with port 0 before MHD starts (a handshake may come at once),
 * then given the bound port (http_tls_port_set). */
void http_tls_register(struct http_tls *t, unsigned port);
void http_tls_port_set(struct http_tls *t, unsigned port);
/* the entry of t with that port */
void http_tls_unregister(struct http_tls *t, unsigned port);
void http_tls_free(struct http_tls *t);
/* gnutls_certificate_retrieve_function2 for MHD_OPTION_HTTPS_CERT_CALLBACK */
#include <gnutls/abstract.h>
int http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
    unsigned int *pcert_length, gnutls_privkey_t *privkey);

/* ---- status.c ---- */
const char *http_rc_message(enum pv_rc rc);   /* default message per code */

/* ---- request.c ---- */
enum pv_rc http_ctx_new(struct http_server *srv, const char *raw_uri, struct http_ctx **out);
/* content_length < 0: not declared. source may be NULL. Refuses ambiguous
 * framing (duplicate Content-Length, Content-Length with Transfer-Encoding,
 * a transfer coding other than chunked: RFC 9112 6.1, 6.3) with 400 and
 * Connection: close; authenticates now if the route needs it and the body is
 * large (over HTTP_EARLY_AUTH_BYTES or chunked). */
void http_ctx_begin(struct http_ctx *ctx, const char *method, const char *source,
    long long content_length);
/* false: the client keeps sending far past the limit; drop the connection. */
bool http_ctx_body(struct http_ctx *ctx, const char *data, size_t len);
void http_ctx_finish(struct http_ctx *ctx);
/* Answer without running the pipeline (503 while stopping). */
void http_ctx_reject(struct http_ctx *ctx, enum pv_rc rc);
void http_ctx_free(struct http_ctx *ctx);

/* ---- json_out.c ---- */
/* Compact JSON text of v in the arena (NUL-terminated; *len without it):
 * byte-for-byte json_dumpb(v, JSON_COMPACT | JSON_ENCODE_ANY), faster. */
enum pv_rc http_json_encode(struct pv_arena *a, const json_t *v, char **out, size_t *len);

/* ---- server.c ---- */
/* Parse "host:port" / "[v6]:port" (port 0..65535). */
enum pv_rc http_listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen);
/* GnuTLS priority string for a minimum TLS version ("1.2" or "1.3"); NULL if refused. */
const char *http_tls_priorities(const char *min_version);
/* Connections evicted (shut down) that MHD has not closed yet (tests). */
unsigned http_server_evicting(struct http_server *srv);

/* ---- metrics.c ---- */
/* Register http's metric families in the process registry (idempotent). */
void http_metrics_init(void);
/* When a request's one response is queued (send_response): count it by
 * method, route template and status, and its duration. Answered only. */
void http_metrics_request_done(const struct http_ctx *ctx);
/* A request's answer starts (+1) / stops (-1) waiting for a completion:
 * the gauge phivault_http_requests_suspended (http_requests_suspended). */
void http_metrics_suspended(int delta);

#endif /* PV_HTTP_INT_H */
