/*
 * tls_wire: the listeners and the TLS certificate's life in `serve`
 * (docs/governance.md "Management plane and TLS certificates",
 * docs/internals/http.md "Listeners and certificate reload").
 *
 * Listeners. With server.listen on loopback and server.admin_listen empty,
 * one listener serves every route (every deployment until now, and the test
 * harness). Otherwise listen serves the data plane only and a sibling
 * listener on admin_listen (default CONFIG_ADMIN_LISTEN_DEFAULT, loopback)
 * the management plane; both serve sign-in and health. A management route
 * asked for on the data listener is 404 and recorded (http.wrong_listener,
 * the route pattern, never the path); a connection from outside a listener's
 * allowlist is closed before TLS and recorded (http.refused, the listener's
 * name; at most HTTP_REFUSED_REPORTS_PER_S a second). Both entries are
 * submitted without waiting (audit_submit): neither answer waits for them.
 *
 * Certificate. server_tls_reload (SIGHUP, POST /v1/sys/tls/reload) loads
 * tls.cert + tls.key again; the audit entry tls.reload says allowed (with
 * the new fingerprint) or error (the reason code; the old certificate
 * stays). The watcher thread looks once a second (the injectable clock):
 *  - with --dev, phivault's own self-signed certificate (tls/cert.pem of the
 *    data directory, subject = issuer) is renewed when 30 days or less are
 *    left: a new P-256 key and certificate for TLS_DEV_DAYS, put in place
 *    over two ticks so that a client trusting the file is never served a
 *    certificate the file does not hold (dev_renew), recorded as tls.renew;
 *  - at 30, 7 and 1 days left and once expired, tls.cert_expiring is
 *    recorded once per certificate and threshold (reason "30d", "7d", "1d",
 *    "expired"; resource tls/<fingerprint prefix>/<reason>); the detector's
 *    rule tls_cert_expiry turns each into an alert. Reported thresholds are
 *    kept in memory: after a restart the current one is reported again,
 *    which counts on the alert still open.
 *  - the gauge phivault_tls_certificate_expiry_seconds (not_after - now).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/tls_wire.h"
#include "crypto/crypto.h"
#include "util/metrics.h"

#define DAY_MS (86400LL * 1000)
#define TLS_DEV_RENEW_DAYS 30
#define TLS_DEV_DAYS 825
#define WATCH_MS 1000

struct tls_watch {
	struct pv_app *app;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool started;
	char fingerprint[65];     /* the certificate the thresholds below are for */
	int reported;             /* tightest threshold reported: 0 none, 30, 7, 1, -1 expired */
	bool renewing;            /* dev renewal: step 1 done, the switch is next (dev_renew) */
};

static struct util_metric_family *fam_expiry;

/* ---- audit, without waiting ---- */

static void
submitted(enum pv_rc rc, void *arg)
{
	(void)arg;
	if (rc != PV_OK)
		log_error("audit: a listener entry was not recorded (%s)", pv_rc_name(rc));
}

static void
record_async(struct pv_app *app, const struct audit_event *ev)
{
	if (audit_submit(app->audit, ev, NULL, NULL, COMMIT_REQUEST, submitted, NULL) != PV_OK)
		log_error("audit: could not queue %s", ev->action);
}

/* the audit resource of a route: its pattern without "/v1/" (no path
 * parameter values: those may be PHI) */
static const char *
route_resource(const struct http_route *r)
{
	const char *p = r->pattern;

	if (strncmp(p, "/v1/", 4) == 0)
		return p + 4;
	return p[0] == '/' && p[1] != '\0' ? p + 1 : p;
}

static void
on_wrong_listener(void *arg, struct http_request *req, const struct http_route *route)
{
	struct pv_app *app = arg;
	struct pv_actor actor = { .kind = PV_ACTOR_ANONYMOUS, .source = req->source };
	char detail[96];
	struct audit_event ev = {
		.actor = actor,
		.action = "http.wrong_listener",
		.resource = route_resource(route),
		.outcome = AUDIT_DENIED,
		.reason = "management_route_on_data_listener",
		.detail = detail,
	};

	snprintf(detail, sizeof(detail), "{\"method\":\"%s\",\"listener\":\"data\"}",
	    route->method);
	record_async(app, &ev);
}

static void
on_refused(void *arg, const char *listener, const char *source)
{
	struct pv_app *app = arg;
	struct pv_actor actor = { .kind = PV_ACTOR_ANONYMOUS, .source = source };
	char resource[32];
	struct audit_event ev = {
		.actor = actor,
		.action = "http.refused",
		.resource = resource,
		.outcome = AUDIT_DENIED,
		.reason = "not_in_allowlist",
	};

	snprintf(resource, sizeof(resource), "listeners/%s", listener);
	record_async(app, &ev);
}

void
server_listeners_config(struct pv_app *app, struct http_config *hc)
{
	bool split = config_planes_split(&app->cfg);

	hc->plane = split ? HTTP_PLANE_DATA : HTTP_PLANE_ALL;
	hc->name = split ? "data" : "main";
	hc->allow = app->cfg.server_allow;
	hc->wrong_listener = on_wrong_listener;
	hc->refused = on_refused;
}

enum pv_rc
server_admin_start(struct pv_app *app)
{
	const char *addr = config_admin_listen(&app->cfg);
	enum pv_rc rc;

	if (!config_planes_split(&app->cfg))
		return PV_OK;
	rc = http_server_sibling(app->http, addr, HTTP_PLANE_MGMT, app->cfg.admin_allow,
	    "admin", &app->admin_http);
	if (rc == PV_OK)
		rc = http_server_start(app->admin_http);
	if (rc != PV_OK)
		cli_err("cannot listen on server.admin_listen = %s: %s", addr, pv_rc_name(rc));
	return rc;
}

void
server_admin_stop(struct pv_app *app)
{
	if (app->admin_http == NULL)
		return;
	http_server_stop(app->admin_http);
	http_server_free(app->admin_http);
	app->admin_http = NULL;
}

/* ---- the certificate ---- */

static void
fmt_time(int64_t ms, char *out, size_t len)
{
	util_time_fmt(ms, out, len);
}

json_t *
server_tls_json(const struct http_tls_info *in)
{
	char na[40], nb[40], la[40], key[32];
	const char *weak = http_tls_weakness(in);
	int64_t now = util_now_ms();
	long long days = (in->not_after_ms - now) / DAY_MS;

	if (in->not_after_ms < now && (in->not_after_ms - now) % DAY_MS != 0)
		days--;   /* floor: -0.5 days is -1, expired */
	fmt_time(in->not_after_ms, na, sizeof(na));
	fmt_time(in->not_before_ms, nb, sizeof(nb));
	fmt_time(in->loaded_at_ms, la, sizeof(la));
	snprintf(key, sizeof(key), "%s %d", in->key_type, in->key_bits);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:I, s:o}",
	    "subject", in->subject, "issuer", in->issuer, "not_before", nb, "not_after", na,
	    "days_left", (json_int_t)days, "key", key, "sig_alg", in->sig_alg, "loaded_at", la,
	    "fingerprint", in->fingerprint, "self_signed", in->self_signed, "generation",
	    (json_int_t)in->generation, "weakness", weak ? json_string(weak) : json_null());
}

static void
reload_event(struct pv_app *app, const struct pv_actor *actor, enum pv_rc rc,
    const struct http_tls_info *in, const char *why, struct audit_event *ev, char *detail,
    size_t dlen)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = *actor;
	ev->action = "tls.reload";
	ev->resource = "sys/tls";
	ev->outcome = rc == PV_OK ? AUDIT_ALLOWED : AUDIT_ERROR;
	ev->reason = rc == PV_OK ? why : pv_rc_name(rc);
	if (rc == PV_OK)
		snprintf(detail, dlen, "{\"fingerprint\":\"%s\",\"generation\":%llu}",
		    in->fingerprint, (unsigned long long)in->generation);
	else
		detail[0] = '\0';
	ev->detail = detail[0] != '\0' ? detail : NULL;
	(void)app;
}

static enum pv_rc
server_tls_reload_now(struct pv_app *app, struct http_tls_info *info, char *msg, size_t msglen)
{
	enum pv_rc rc;

	msg[0] = '\0';
	rc = http_server_tls_reload(app->http, info, msg, msglen);
	if (rc == PV_OK)
		log_info("tls: certificate reloaded (generation %llu, sha256 %.16s...)",
		    (unsigned long long)info->generation, info->fingerprint);
	else
		log_warn("tls: reload refused, the certificate served so far stays: %s", msg);
	return rc;
}

enum pv_rc
server_tls_reload_submit(struct pv_app *app, const struct pv_actor *actor, const char *why,
    audit_done_fn done, void *done_arg, struct http_tls_info *info, enum pv_rc *reload_rc,
    char *msg, size_t msglen)
{
	struct audit_event ev;
	char detail[160];

	*reload_rc = server_tls_reload_now(app, info, msg, msglen);
	reload_event(app, actor, *reload_rc, info, why, &ev, detail, sizeof(detail));
	return audit_submit(app->audit, &ev, NULL, NULL, COMMIT_REQUEST, done, done_arg);
}

enum pv_rc
server_tls_reload(struct pv_app *app, const struct pv_actor *actor, const char *why)
{
	struct http_tls_info info;
	struct audit_event ev;
	char msg[200], detail[160];
	enum pv_rc rc = server_tls_reload_now(app, &info, msg, sizeof(msg));

	reload_event(app, actor, rc, &info, why, &ev, detail, sizeof(detail));
	if (audit_record(app->audit, &ev) != PV_OK)
		log_error("audit: could not record tls.reload");
	return rc;
}

/* ---- the watcher ---- */

static bool
own_selfsigned(struct pv_app *app, const struct http_tls_info *in)
{
	char own[PATH_MAX];

	return app->dev && in->self_signed &&
	    util_path_join(own, sizeof(own), app->cfg.datadir, "tls/cert.pem") == 0 &&
	    strcmp(own, app->cfg.tls_cert) == 0;
}

/*
 * --dev renewal in two ticks of the watcher. A client that trusts the file
 * (tls/cert.pem is the dev certificate and its own trust anchor: init's
 * ca_cert) reads it, then the server picks the certificate for that
 * connection's handshake. No single step replaces both at one instant: with
 * only the new certificate in the file while the old one is served (between
 * the rename and the reload), a client that read the file in that window
 * met a certificate it did not trust (curl 60, status 0: integ_test_tls_reload
 * and integ_test_disclosures under load, 1 run in 3). So the trust overlaps:
 *  1. "overlap": a new pair is made beside the files (cert.pem.next,
 *     key.pem.next); cert.pem becomes [old, new] (old first: it is still the
 *     leaf that key.pem belongs to, so a SIGHUP reload meanwhile serves the
 *     old one). A client reading the file from now on trusts both.
 *  2. "switch", on the next tick (a second later): key.pem becomes the new
 *     key, cert.pem [new, old], the store is reloaded, tls.renew recorded.
 *     A client that read the file at any point since step 1 trusts what it
 *     is served, before and after the reload; only one that read it before
 *     step 1 and is handed its certificate after step 2, a second or more
 *     later, would not.
 * The old certificate stays in the file until the next renewal replaces it
 * (the file never holds more than two); the server sends no certificate
 * after a self-signed one (http/tls.c), so its chain is the new one alone.
 * Valid from before both the wall clock and the injectable clock (a test may
 * have moved the latter; a client checks the former) to TLS_DEV_DAYS after
 * the injectable clock.
 */
#define PEM_END "-----END CERTIFICATE-----"

#ifdef PV_TEST_HOOKS
/* PHIVAULT_TEST_TLS_HOLD=<file> (test binary only): while <file> holds the
 * name of the point reached ("overlap": after step 1; "reload": after step
 * 2's renames, before the reload), the renewal writes that name to
 * <file>.at and waits, so a test can connect in the window itself. */
static void
hold_point(const char *point)
{
	const char *f = getenv("PHIVAULT_TEST_TLS_HOLD");
	char at[PATH_MAX + 8];
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	bool told = false;

	if (f == NULL || snprintf(at, sizeof(at), "%s.at", f) >= (int)sizeof(at))
		return;
	for (;;) {
		uint8_t *b = NULL;
		size_t n = 0;
		bool here = util_file_read(f, 64, &b, &n) == PV_OK && n >= strlen(point) &&
		    strncmp((const char *)b, point, strlen(point)) == 0;

		free(b);
		if (!here)
			return;
		if (!told)
			told = util_file_write_atomic(at, point, strlen(point), 0600) == PV_OK;
		nanosleep(&ts, NULL);
	}
}
#else
#define hold_point(p) ((void)0)
#endif

/* the first PEM certificate of path (the leaf) and a line end, in *out */
static enum pv_rc
first_pem(const char *path, char **out, size_t *len)
{
	uint8_t *b = NULL;
	size_t n = 0;
	char *e;
	enum pv_rc rc = util_file_read(path, 1u << 20, &b, &n);

	if (rc != PV_OK)
		return rc;
	e = memmem(b, n, PEM_END, strlen(PEM_END));
	if (e != NULL) {
		*len = (size_t)(e - (char *)b) + strlen(PEM_END);
		if ((*out = malloc(*len + 1)) == NULL) {
			rc = PV_E_NOMEM;
		} else {
			memcpy(*out, b, *len);
			(*out)[(*len)++] = '\n';
		}
	} else {
		rc = PV_E_INVALID;
	}
	free(b);
	return rc;
}

/* path := a then b, written beside and renamed over */
static enum pv_rc
write_pair(const char *path, const char *a, size_t alen, const char *b, size_t blen)
{
	char *buf = malloc(alen + blen);
	enum pv_rc rc;

	if (buf == NULL)
		return PV_E_NOMEM;
	memcpy(buf, a, alen);
	memcpy(buf + alen, b, blen);
	rc = util_file_write_atomic(path, buf, alen + blen, 0644);
	free(buf);
	return rc;
}

static void
renew_failed(struct pv_app *app, struct audit_event *ev, enum pv_rc rc, const char *ncert,
    const char *nkey)
{
	(void)remove(ncert);
	(void)remove(nkey);
	log_error("tls: renewing the dev certificate failed (%s)", pv_rc_name(rc));
	ev->outcome = AUDIT_ERROR;
	ev->reason = pv_rc_name(rc);
	(void)audit_record(app->audit, ev);
}

static void
dev_renew_abandon(struct pv_app *app)
{
	char n[PATH_MAX + 8];

	if (snprintf(n, sizeof(n), "%s.next", app->cfg.tls_cert) < (int)sizeof(n))
		(void)remove(n);
	if (snprintf(n, sizeof(n), "%s.next", app->cfg.tls_key) < (int)sizeof(n))
		(void)remove(n);
}

static void
dev_renew(struct tls_watch *w, const struct http_tls_info *old)
{
	struct pv_app *app = w->app;
	const struct pv_actor sys = audit_actor_system();
	int64_t now_s = util_now_ms() / 1000, wall = (int64_t)time(NULL);
	int64_t from = (wall < now_s ? wall : now_s) - 3600;
	struct audit_event ev = { .actor = sys, .action = "tls.renew", .resource = "sys/tls",
		.outcome = AUDIT_ALLOWED, .reason = "dev_selfsigned" };
	char ncert[PATH_MAX + 8], nkey[PATH_MAX + 8];
	char *oldp = NULL, *newp = NULL;
	size_t oldn = 0, newn = 0;
	enum pv_rc rc;

	if (snprintf(ncert, sizeof(ncert), "%s.next", app->cfg.tls_cert) >= (int)sizeof(ncert) ||
	    snprintf(nkey, sizeof(nkey), "%s.next", app->cfg.tls_key) >= (int)sizeof(nkey)) {
		w->renewing = false;
		renew_failed(app, &ev, PV_E_INVALID, "", "");
		return;
	}
	if (!w->renewing) {
		/* step 1: the new pair beside, cert.pem = [old, new] */
		rc = crypto_tls_selfsigned_span(ncert, nkey, "localhost", from,
		    now_s + (int64_t)TLS_DEV_DAYS * 86400);
		if (rc == PV_OK)
			rc = first_pem(app->cfg.tls_cert, &oldp, &oldn);
		if (rc == PV_OK)
			rc = first_pem(ncert, &newp, &newn);
		if (rc == PV_OK)
			rc = write_pair(app->cfg.tls_cert, oldp, oldn, newp, newn);
		free(oldp);
		free(newp);
		if (rc != PV_OK) {
			renew_failed(app, &ev, rc, ncert, nkey);
			return;
		}
		w->renewing = true;
		hold_point("overlap");
		return;
	}
	/* step 2, a tick later: key.pem = the new key, cert.pem = [new, old], reload */
	w->renewing = false;
	rc = first_pem(app->cfg.tls_cert, &oldp, &oldn);
	if (rc == PV_OK)
		rc = first_pem(ncert, &newp, &newn);
	/* cert.pem.next becomes [new, old] first: then only two renames switch */
	if (rc == PV_OK)
		rc = write_pair(ncert, newp, newn, oldp, oldn);
	if (rc == PV_OK && (rename(nkey, app->cfg.tls_key) != 0 ||
	    rename(ncert, app->cfg.tls_cert) != 0))
		rc = PV_E_IO;
	free(oldp);
	free(newp);
	if (rc != PV_OK) {
		renew_failed(app, &ev, rc, ncert, nkey);
		return;
	}
	hold_point("reload");
	(void)server_tls_reload(app, &sys, "dev_renewal");
	log_info("tls: dev certificate renewed (%.16s... had %lld days left)", old->fingerprint,
	    (long long)((old->not_after_ms - util_now_ms()) / DAY_MS));
	(void)audit_record(app->audit, &ev);
}

static void
expiry_check(struct tls_watch *w, const struct http_tls_info *in)
{
	static const int thresholds[] = { 30, 7, 1 };
	struct pv_app *app = w->app;
	int64_t left = in->not_after_ms - util_now_ms();
	int reach = 0;
	char resource[64], detail[160];
	const char *reason;
	size_t i;

	util_metric_set(util_metrics_series(fam_expiry, NULL), (double)left / 1000.0);
	if (strcmp(w->fingerprint, in->fingerprint) != 0) {
		util_strlcpy(w->fingerprint, in->fingerprint, sizeof(w->fingerprint));
		w->reported = 0;
	}
	if (left <= 0) {
		reach = -1;
	} else {
		for (i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++)
			if (left <= thresholds[i] * DAY_MS)
				reach = thresholds[i];
	}
	/* report only a threshold tighter than any reported for this certificate */
	if (reach == 0 || (w->reported != 0 && (w->reported == -1 || reach >= w->reported)))
		return;
	w->reported = reach;
	reason = reach == 30 ? "30d" : reach == 7 ? "7d" : reach == 1 ? "1d" : "expired";
	snprintf(resource, sizeof(resource), "tls/%.16s/%s", in->fingerprint, reason);
	snprintf(detail, sizeof(detail),
	    "{\"fingerprint\":\"%s\",\"seconds_left\":%lld,\"threshold\":\"%s\"}",
	    in->fingerprint, (long long)(left / 1000), reason);
	{
		struct audit_event ev = { .actor = audit_actor_system(),
			.action = "tls.cert_expiring", .resource = resource,
			.outcome = AUDIT_ALLOWED, .reason = reason, .detail = detail };

		if (audit_record(app->audit, &ev) != PV_OK)
			log_error("audit: could not record tls.cert_expiring");
	}
	log_warn("tls: the certificate (sha256 %.16s...) %s", in->fingerprint,
	    reach == -1 ? "has expired" : reach == 1 ? "expires within a day" :
	    reach == 7 ? "expires within 7 days" : "expires within 30 days");
}

static void
server_tls_watch_once(struct tls_watch *w)
{
	struct http_tls_info in;

	if (http_server_tls_info(w->app->http, &in) != PV_OK)
		return;
	if (own_selfsigned(w->app, &in) && (w->renewing ||
	    in.not_after_ms - util_now_ms() <= TLS_DEV_RENEW_DAYS * DAY_MS)) {
		dev_renew(w, &in);
		if (w->renewing)
			return;   /* the switch is next: no expiry report for the old one */
		if (http_server_tls_info(w->app->http, &in) != PV_OK)
			return;
	} else if (w->renewing) {
		/* replaced meanwhile (a reload of another certificate): no switch */
		w->renewing = false;
		dev_renew_abandon(w->app);
	}
	expiry_check(w, &in);
}

static void *
watch_main(void *arg)
{
	struct tls_watch *w = arg;
	struct timespec ts;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		pthread_mutex_unlock(&w->mu);
		server_tls_watch_once(w);
		pthread_mutex_lock(&w->mu);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += WATCH_MS / 1000;
		while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

enum pv_rc
server_tls_watch_start(struct pv_app *app)
{
	static const struct util_metric_def d = {
		"phivault_tls_certificate_expiry_seconds",
		"Seconds until the served TLS certificate expires (negative: expired)",
		UTIL_METRIC_GAUGE, NULL, NULL, 0
	};
	struct tls_watch *w;
	pthread_condattr_t ca;

	if (util_metrics_family(util_metrics_default(), &d, &fam_expiry) != PV_OK)
		log_error("tls: expiry gauge not registered");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return PV_E_NOMEM;
	w->app = app;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return PV_E_NOMEM;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&w->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return PV_E_NOMEM;
	}
	pthread_condattr_destroy(&ca);
	/* at start, before the first request: a renewal or an alert is due now */
	server_tls_watch_once(w);
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return PV_E_INTERNAL;
	}
	w->started = true;
	app->tls_watch = w;
	return PV_OK;
}

void
server_tls_watch_stop(struct pv_app *app)
{
	struct tls_watch *w = app->tls_watch;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	app->tls_watch = NULL;
}
