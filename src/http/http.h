/*
 * http: libmicrohttpd with its thread pool, TLS 1.2/1.3 through GnuTLS
 * (AEAD suites and ECDHE only), a route table that is data, the JSON error
 * model of API.md, request body limits and security headers.
 *
 * Request flow (DESIGN.md): accept -> read body (<= route/server limit,
 * else 413) -> route lookup (404 / 405) -> sealed? (503 unless the route is
 * HTTP_ROUTE_SEALED_OK) -> body parsed as JSON if the route takes one (400
 * invalid_json before any handler runs) -> authenticate hook -> authorize
 * hook (route permission) -> handler -> exactly one response.
 *
 * Invariants:
 *  - A route without a permission cannot be registered (PV_E_INVALID).
 *    "public" means no authentication, "authenticated" any valid session.
 *  - Every response carries Cache-Control: no-store,
 *    Strict-Transport-Security, X-Content-Type-Options: nosniff and a JSON
 *    content type (204 has no body).
 *  - Error messages never contain request data.
 */
#ifndef PV_HTTP_H
#define PV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/util.h"

struct http_server;
struct http_request;

#define HTTP_PERM_PUBLIC "public"
#define HTTP_PERM_AUTHENTICATED "authenticated"
#define HTTP_MAX_PARAMS 4

enum http_route_flags {
	/* takes a JSON object body (invalid_json check). Without it a route takes
	 * no body: an empty body or {} is accepted, anything else is refused
	 * (400 invalid_json / invalid_request) before authentication and handler. */
	HTTP_ROUTE_BODY = 1 << 0,
	HTTP_ROUTE_SEALED_OK = 1 << 1,     /* answers while sealed */
	HTTP_ROUTE_RESTRICTED_OK = 1 << 2, /* a restricted session may call it */
	/* RFC 7644 (src/scim/): the body may also be application/scim+json, and
	 * answers are application/scim+json, errors included, which take the
	 * SCIM error form {"schemas":[...Error],"status":"401","detail":...}.
	 * An unrouted path under /scim/ gets that form too. */
	HTTP_ROUTE_SCIM = 1 << 3,
	/* its path parameters may be PHI (a patient's subject value): the
	 * resource of route-level entries (http_route_resource) writes each
	 * as "-"; the handler records its own resource form */
	HTTP_ROUTE_PHI_PARAMS = 1 << 4,
	/* the pattern's first {param} takes one or more whole segments, joined
	 * with '/' (secret paths: /v1/secrets/{path}/undelete); each segment
	 * is non-empty and holds no decoded '/' */
	HTTP_ROUTE_REST = 1 << 5,
	/* takes an application/x-www-form-urlencoded body instead of JSON (OIDC
	 * Back-Channel Logout 1.0 §2.5): kept as text in req->form, read with
	 * http_form_value; any other Content-Type is 400 invalid_request */
	HTTP_ROUTE_FORM = 1 << 6,
	/* The plane a route is served on (docs/governance.md "Management plane
	 * and TLS certificates"): MGMT, DATA, or both bits for both. A route
	 * with neither is classified by its path at registration (plane.c, one
	 * table for every module); a path the table does not know is MGMT, so a
	 * new route is never exposed on the data listener by accident. */
	HTTP_ROUTE_MGMT = 1 << 7,
	HTTP_ROUTE_DATA = 1 << 8,
};

/* What one listener serves: every route (one loopback listener, the
 * default), only data-plane routes, or only management-plane routes. A
 * route of both planes is served everywhere. */
enum http_plane { HTTP_PLANE_ALL = 0, HTTP_PLANE_DATA = 1, HTTP_PLANE_MGMT = 2 };
#define HTTP_SCIM_ERROR_URN "urn:ietf:params:scim:api:messages:2.0:Error"
#define HTTP_SCIM_TYPE "application/scim+json"


typedef enum pv_rc (*http_handler_fn)(struct http_request *req);

struct http_route {
	const char *method;        /* "GET", "POST", "PATCH", "DELETE" */
	const char *pattern;       /* "/v1/users/{id}"; {x} matches one segment */
	http_handler_fn handler;
	/* Required permission. May name path params: "records.read:{0}" uses param 0. */
	const char *permission;
	const char *audit_action;  /* action recorded for denials, e.g. "record.read"; may be NULL */
	unsigned flags;
	size_t max_body;           /* 0: the server's max_body_bytes */
	void *arg;                 /* the registering module's context */
};

struct http_request {
	struct pv_arena *arena;    /* freed when the response is sent */
	const char *method;
	const char *path;
	const char *params[HTTP_MAX_PARAMS];   /* decoded {x} segments */
	size_t nparams;
	json_t *body;              /* parsed object if the route takes a body, else NULL */
	const char *source;        /* client IP address text */
	const struct http_route *route;
	void *principal;           /* set by the authenticate hook (struct authn_principal *) */
	/* The TLS client certificate the peer presented (DER, in the arena),
	 * NOT verified: the listener asks for one and accepts any; whoever uses
	 * it checks it (authn: phivault's app CA). NULL if none. */
	const uint8_t *tls_client_cert;
	size_t tls_client_cert_len;

	/* response, filled by the handler */
	int status;                /* default 200; 201, 204 ... */
	json_t *resp;              /* owned reference; NULL with 204 */
	const char *resp_text;     /* alternative raw body (e.g. PEM), with resp_type */
	const char *resp_type;
	const char *err_message;   /* with a failing rc; no request data in it */
	int retry_after_s;         /* > 0: Retry-After header (423, 429, 503) */

	void *priv;                /* http module only */
	const char *form;          /* HTTP_ROUTE_FORM: the body as sent, NUL-terminated */
};

/* The decoded value of name in an application/x-www-form-urlencoded body
 * (HTTP_ROUTE_FORM; '+' is a space): PV_OK with *out in the arena,
 * PV_E_NOTFOUND if absent, PV_E_INVALID if malformed, given twice or longer
 * than max bytes. */
enum pv_rc http_form_value(struct http_request *req, const char *name, size_t max,
    const char **out);
/* Header / query lookup; NULL if absent. */
const char *http_header(struct http_request *req, const char *name);
const char *http_query(struct http_request *req, const char *name);
/* Calls fn for every query argument (search on arbitrary fields). */
void http_query_each(struct http_request *req,
    void (*fn)(void *arg, const char *key, const char *value), void *arg);

/* Set the error message for a failing handler and return rc: `return http_fail(req, PV_E_INVALID, "...")`. */
enum pv_rc http_fail(struct http_request *req, enum pv_rc rc, const char *message);
/*
 * Asynchronous handlers: a handler may return PV_PENDING after arranging that
 * http_resume(req, rc) is called exactly once, from any thread, once it has
 * filled the response (http_reply / http_fail / http_set_header) -- e.g. from
 * a commit completion. Between its return and that call the handler and
 * everyone else leave req alone; after http_resume nobody touches req. With
 * a pool of event threads the connection is suspended meanwhile
 * (MHD_suspend_connection), so no thread waits; with a thread per connection
 * (or in unit tests) the request's own thread waits for the call.
 */
void http_resume(struct http_request *req, enum pv_rc rc);
/* Requests whose answer waits for a completion right now (a handler that
 * returned PV_PENDING, or an answer held for a commit: util.h), their
 * connection suspended or, with a thread per connection, their thread
 * waiting. The gauge phivault_http_requests_suspended; tests wait on it. */
uint64_t http_requests_suspended(void);
/* Respond with a JSON object (steals the reference) and status. Returns PV_OK. */
enum pv_rc http_reply(struct http_request *req, int status, json_t *body);

/* PV_E_INVALID unless every key of the body is in `allowed` (NULL-terminated).
 * The message names the key only if it looks like a field name
 * ([a-z][a-z0-9_]{0,62}): a value pasted in the wrong place is never echoed. */
enum pv_rc http_body_only(struct http_request *req, const char *const *allowed);

/* Body field helpers: PV_E_INVALID with a message naming the field. */
enum pv_rc http_body_string(struct http_request *req, const char *key, bool required,
    size_t max_len, const char **out);

/* Stable error code and HTTP status of a pv_rc (API.md). */
const char *http_rc_code(enum pv_rc rc);
int http_rc_status(enum pv_rc rc);

struct http_config {
	const char *listen;         /* "127.0.0.1:8443"; port 0 picks a free port */
	const char *cert_path;
	const char *key_path;
	/* PEM CA list sent in the TLS CertificateRequest (phivault's app CA);
	 * NULL or unreadable: the server's own certificate stands in, so a
	 * client certificate is still asked for (it is verified elsewhere) */
	const char *client_ca_path;
	const char *tls_min_version;   /* "1.2" or "1.3" */
	size_t max_body_bytes;
	unsigned threads;           /* 0: a thread per connection; N: a pool of N (server.c) */
	unsigned conn_timeout_s;    /* idle connection timeout; 0: 30 */
	unsigned max_connections;   /* 0: 1024 */
	unsigned max_connections_per_ip;   /* 0: 32; one address never holds more */
	unsigned handshake_timeout_s;      /* 0: 5; until a connection's first request headers */
	bool dev;                   /* relaxes nothing security-related; marks health */
	enum http_plane plane;      /* the routes this listener serves (HTTP_PLANE_ALL) */
	/* "CIDR,CIDR,..." (IPv4 or IPv6, a bare address is one host): only these
	 * sources may connect; NULL or "" any. Others are closed before TLS
	 * (MHD's accept policy), counted and reported through `refused`. */
	const char *allow;
	const char *name;           /* "main" | "data" | "admin": logs, metrics, audit */

	/* hooks, all may be NULL */
	bool (*is_sealed)(void *hook_arg);
	/* set req->principal or fail with PV_E_UNAUTH / PV_E_EXPIRED / ... */
	enum pv_rc (*authenticate)(void *hook_arg, struct http_request *req);
	/* PV_OK or PV_E_FORBIDDEN / PV_E_RESTRICTED; records denials */
	enum pv_rc (*authorize)(void *hook_arg, struct http_request *req, const char *permission);
	/* A request for a route of the other plane (a management route on the
	 * data listener): answered 404 not_found exactly like an unknown route,
	 * and reported here with the route that matched (record its pattern,
	 * never the path: a path may carry PHI). Nothing is authenticated. */
	void (*wrong_listener)(void *hook_arg, struct http_request *req,
	    const struct http_route *route);
	/* A connection refused by `allow`: the listener's name and the source
	 * address. At most HTTP_REFUSED_REPORTS_PER_S calls a second per listener
	 * (a flood is counted in the metric, not reported one by one); called on
	 * MHD's listen thread, so it must not block. */
	void (*refused)(void *hook_arg, const char *listener, const char *source);
	void *hook_arg;
};
#define HTTP_REFUSED_REPORTS_PER_S 10

enum pv_rc http_server_new(const struct http_config *cfg, struct http_server **out);
enum pv_rc http_route_add(struct http_server *srv, const struct http_route *route);
enum pv_rc http_routes_add(struct http_server *srv, const struct http_route *routes, size_t n);
enum pv_rc http_server_start(struct http_server *srv);
/* The bound port (after start; useful with port 0). */
unsigned http_server_port(struct http_server *srv);
/*
 * A second listener of the same server (the management listener): its own
 * address, plane, allowlist and name from cfg (every other field comes from
 * srv), the routes registered on srv so far (call it after every route is
 * added) and, once started, srv's TLS certificate (a reload of either
 * reloads both). Start srv first; stop and free the sibling before srv.
 */
enum pv_rc http_server_sibling(struct http_server *srv, const char *listen,
    enum http_plane plane, const char *allow, const char *name, struct http_server **out);
/* "CIDR,CIDR,...": PV_OK if every item parses (an empty list is any source),
 * else PV_E_INVALID with the bad item's position in msg (config check). */
enum pv_rc http_allow_check(const char *allow, char *msg, size_t msglen);
/* true if the address text ("10.1.2.3", "::1") is loopback (127/8, ::1,
 * ::ffff:127/104); false for anything else, names included. */
bool http_addr_is_loopback(const char *addr);

/* ---- the TLS certificate (tls.c) ---- */
struct http_tls_info {
	char subject[256];          /* RFC 4514 DN */
	char issuer[256];
	bool self_signed;           /* subject == issuer */
	int64_t not_before_ms, not_after_ms;
	int64_t loaded_at_ms;       /* util_now_ms when this generation was loaded */
	char key_type[8];           /* "RSA" | "EC" | "Ed25519" | "other" */
	int key_bits;
	char sig_alg[48];           /* GnuTLS name, "ECDSA-SHA256" */
	bool sig_sha1;
	char fingerprint[65];       /* SHA-256 of the leaf certificate's DER, hex */
	uint64_t generation;        /* 1 at start, +1 a reload */
};
#define HTTP_TLS_GENERATIONS_MAX 1024
/* Load tls.cert + tls.key again from the configured paths; new handshakes
 * (both listeners) use them, established connections are untouched.
 * PV_E_TLS_REFUSED (unreadable as PEM, key not the certificate's, too many
 * reloads) or PV_E_IO / PV_E_NOTFOUND (file unreadable) with msg saying
 * which: the certificate served so far stays. *info (may be NULL): the new
 * one. */
enum pv_rc http_server_tls_reload(struct http_server *srv, struct http_tls_info *info,
    char *msg, size_t msglen);
/* The certificate served now. PV_E_STATE before start. */
enum pv_rc http_server_tls_info(struct http_server *srv, struct http_tls_info *info);
/* The same checks and description for a pair of files, nothing served. */
enum pv_rc http_tls_file_info(const char *cert_path, const char *key_path,
    struct http_tls_info *info, char *msg, size_t msglen);
/* NULL if the certificate meets the policy (RSA >= 2048, EC >= 256,
 * Ed25519; no SHA-1 signature), else what falls short. Expiry is not
 * judged here. */
const char *http_tls_weakness(const struct http_tls_info *info);
/* Graceful: stop accepting, let requests in flight finish, then stop. */
void http_server_stop(struct http_server *srv);
void http_server_free(struct http_server *srv);

/* Parse the first `len` bytes as a JSON request body: a JSON object, depth
 * and size bounded. PV_E_JSON on anything else. Exposed for the fuzzer. */
enum pv_rc http_parse_body(const char *buf, size_t len, json_t **out);

/* ---- audit resource and extra response headers (resource.c) ---- */
#define HTTP_RESOURCE_PARAM_MAX 128   /* bytes one path parameter adds to a resource */
/* The audit resource of a routed request: the route pattern without "/v1/",
 * "{x}" replaced by the decoded parameter, each bounded and escaped (controls,
 * '%' and invalid UTF-8 as %XX) so it always passes audit validation
 * ("collections/patients/records/rec_x"). Arena memory; "(unrouted)" without
 * a route or on allocation failure. */
const char *http_route_resource(struct http_request *req);
/* Add a response header (e.g. ETag), copied into the arena: PV_E_INVALID for a
 * name that is not an RFC 9110 token or a value with CR/LF, PV_E_TOOBIG past
 * HTTP_EXTRA_HEADERS_MAX. */
enum pv_rc http_set_header(struct http_request *req, const char *name, const char *value);
/* A header set with http_set_header (tests), NULL if none. */
const char *http_response_header(struct http_request *req, const char *name);

/* ---- metrics (metrics.c) ---- */
/* GET /metrics: the process metrics registry (util/metrics.h) as Prometheus
 * text format 0.0.4 ("text/plain; version=0.0.4"), behind `permission`;
 * answers while sealed. Requests are counted by route template and status
 * whether or not the route is registered. */
enum pv_rc http_metrics_routes(struct http_server *srv, const char *permission);
/* [metrics] listen: a plain-HTTP listener of its own on `listen`
 * ("127.0.0.1:9464") that serves GET /metrics only, without authentication
 * (the configuration keeps it on loopback outside --dev). PV_E_INVALID for a
 * bad address, PV_E_IO if it cannot listen. stop accepts NULL. */
struct http_metrics_listener;
enum pv_rc http_metrics_listener_start(const char *listen, struct http_metrics_listener **out);
void http_metrics_listener_stop(struct http_metrics_listener *l);

#endif /* PV_HTTP_H */
