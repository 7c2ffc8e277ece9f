/*
 * metrics_wire: GET /metrics in `serve` (server.h): the route (unless
 * [metrics] enabled = off), the optional plain-HTTP listener ([metrics]
 * listen) and the collector of the gauges the composition root can read
 * from the modules below it at scrape time:
 *
 *   phivault_build_info{version}                 1
 *   phivault_process_start_time_seconds          UTC seconds since the epoch
 *   phivault_sealed                              1 sealed, 0 unsealed
 *   phivault_audit_head_seq                      seq of the newest audit entry
 *   phivault_sessions_active                     open sessions (a count; no names)
 *   phivault_jobs{state}                         jobs by state, all six states
 *   phivault_job_items_done{kind}                running jobs, summed per kind
 *   phivault_job_items_total{kind}
 *
 * Labels are fixed vocabularies (versions, job states, registered job
 * kinds): never a user, an ID, a value or an address. Counters that modules
 * keep themselves (http requests, commit groups) are in util's registry.
 *
 * Adding a module's gauges (sinks' lag per sink, detect's alerts by rule) is
 * one call here: util_metrics_collector_add(util_metrics_default(), fn, ctx)
 * with fn emitting through util_metrics_emit, and the matching
 * util_metrics_collector_remove in server_metrics_stop.
 */
#include <string.h>

#include "cli/server.h"
#include "jobs/jobs.h"
#include "sinks/sinks.h"
#include "util/metrics.h"

#define KINDS_MAX 32
#define NSTATES 6   /* enum jobs_state: queued .. cancelled */

struct job_tally {
	int64_t by_state[NSTATES];
	struct {
		char kind[STORE_JOB_KIND_MAX];
		int64_t done, total;
	} run[KINDS_MAX];
	size_t nrun;
};

static int
tally_job(const struct store_job *j, void *arg)
{
	struct job_tally *t = arg;
	enum jobs_state s;
	size_t i;

	if (!jobs_state_parse(j->state, &s) || (unsigned)s >= NSTATES)
		return 0;
	t->by_state[s]++;
	if (s != JOBS_RUNNING)
		return 0;
	for (i = 0; i < t->nrun; i++)
		if (strcmp(t->run[i].kind, j->kind) == 0)
			break;
	if (i == t->nrun) {
		if (t->nrun >= KINDS_MAX)
			return 0;
		util_strlcpy(t->run[i].kind, j->kind, sizeof(t->run[i].kind));
		t->nrun++;
	}
	t->run[i].done += j->done;
	t->run[i].total += j->total;
	return 0;
}

static void
collect_jobs(struct util_metrics_writer *w, struct pv_app *app)
{
	static const char *const state_l[] = { "state", NULL };
	static const char *const kind_l[] = { "kind", NULL };
	struct job_tally t;
	size_t i;

	enum pv_rc rc;

	memset(&t, 0, sizeof(t));
	STORE_READ(app->st, rc, store_job_list(tx, tally_job, &t));
	if (rc != PV_OK) {
		log_warn("metrics: jobs not readable; phivault_jobs left out of this scrape");
		return;
	}
	for (i = 0; i < NSTATES; i++)
		util_metrics_emit(w, "phivault_jobs", "Jobs by state", UTIL_METRIC_GAUGE,
		    state_l, (const char *const[]){ jobs_state_name((enum jobs_state)i) },
		    (double)t.by_state[i]);
	for (i = 0; i < t.nrun; i++)
		util_metrics_emit(w, "phivault_job_items_done",
		    "Items done by the running jobs, summed per job kind", UTIL_METRIC_GAUGE,
		    kind_l, (const char *const[]){ t.run[i].kind }, (double)t.run[i].done);
	for (i = 0; i < t.nrun; i++)
		util_metrics_emit(w, "phivault_job_items_total",
		    "Items to do of the running jobs, summed per job kind (0: unknown)",
		    UTIL_METRIC_GAUGE, kind_l, (const char *const[]){ t.run[i].kind },
		    (double)t.run[i].total);
}

/* The SIEM sinks: lag, delivered count and whether the last attempt failed,
 * per sink (its kind name: syslog, cef, ocsf_file, webhook; never a host). */
static void
collect_sinks(struct util_metrics_writer *w, struct pv_app *app)
{
	static const char *const sink_l[] = { "sink", NULL };
	struct sinks_status st[8];
	size_t i, n;

	if (app->sinks == NULL)
		return;
	n = sinks_status(app->sinks, st, sizeof(st) / sizeof(st[0]));
	for (i = 0; i < n; i++)
		util_metrics_emit(w, "phivault_sink_lag",
		    "Committed audit entries not yet accepted by the sink", UTIL_METRIC_GAUGE,
		    sink_l, (const char *const[]){ st[i].name }, (double)st[i].lag);
	for (i = 0; i < n; i++)
		util_metrics_emit(w, "phivault_sink_delivered_total",
		    "Audit entries the sink accepted", UTIL_METRIC_COUNTER, sink_l,
		    (const char *const[]){ st[i].name }, (double)st[i].delivered);
	for (i = 0; i < n; i++)
		util_metrics_emit(w, "phivault_sink_failing",
		    "1 while the sink's last attempt failed", UTIL_METRIC_GAUGE, sink_l,
		    (const char *const[]){ st[i].name }, st[i].last_error[0] != '\0' ? 1 : 0);
}

/* Open alerts by rule (rule names only: no actor, no source). */
struct alert_tally {
	char rule[16][STORE_ALERT_RULE_MAX];
	int64_t n[16];
	size_t nrules;
};

static int
tally_alert(const struct store_alert *a, void *arg)
{
	struct alert_tally *t = arg;
	size_t i;

	for (i = 0; i < t->nrules && strcmp(t->rule[i], a->rule) != 0; i++)
		;
	if (i == t->nrules) {
		if (t->nrules == sizeof(t->rule) / sizeof(t->rule[0]))
			return 0;
		util_strlcpy(t->rule[i], a->rule, sizeof(t->rule[i]));
		t->nrules++;
	}
	t->n[i]++;
	return 0;
}

static void
collect_alerts(struct util_metrics_writer *w, struct pv_app *app)
{
	static const char *const rule_l[] = { "rule", NULL };
	struct store_alert_filter f = { .status = "open" };
	struct alert_tally t;
	enum pv_rc rc;
	size_t i;

	memset(&t, 0, sizeof(t));
	STORE_READ(app->st, rc, store_alert_list(tx, &f, tally_alert, &t));
	if (rc != PV_OK) {
		log_warn("metrics: alerts not readable; phivault_alerts_open left out of this scrape");
		return;
	}
	for (i = 0; i < t.nrules; i++)
		util_metrics_emit(w, "phivault_alerts_open", "Open threat-detection alerts by rule",
		    UTIL_METRIC_GAUGE, rule_l, (const char *const[]){ t.rule[i] }, (double)t.n[i]);
}

static void
collect(struct util_metrics_writer *w, void *arg)
{
	struct pv_app *app = arg;
	int64_t seq = 0, open = 0, now = util_now_ms();
	char head[65];

	util_metrics_emit(w, "phivault_build_info", "The running phivault's version",
	    UTIL_METRIC_GAUGE, (const char *const[]){ "version", NULL },
	    (const char *const[]){ PHIVAULT_VERSION }, 1);
	util_metrics_emit(w, "phivault_process_start_time_seconds",
	    "When this server started, UTC seconds since the epoch", UTIL_METRIC_GAUGE, NULL,
	    NULL, (double)app->metrics_start_ms / 1000.0);
	util_metrics_emit(w, "phivault_sealed", "1 while the vault is sealed, 0 unsealed",
	    UTIL_METRIC_GAUGE, NULL, NULL, keys_is_sealed(app->keys) ? 1 : 0);
	audit_head(app->audit, &seq, head);
	util_metrics_emit(w, "phivault_audit_head_seq", "Sequence number of the newest audit entry",
	    UTIL_METRIC_GAUGE, NULL, NULL, (double)seq);
	enum pv_rc rc;

	STORE_READ(app->st, rc, store_session_count_open(tx, now,
	    now - (int64_t)app->cfg.idle_timeout_s * 1000, &open));
	if (rc == PV_OK)
		util_metrics_emit(w, "phivault_sessions_active",
		    "Sessions open: not ended, within their idle and absolute limits",
		    UTIL_METRIC_GAUGE, NULL, NULL, (double)open);
	else
		log_warn("metrics: sessions not readable; left out of this scrape");
	collect_jobs(w, app);
	collect_sinks(w, app);
	collect_alerts(w, app);
}

enum pv_rc
server_metrics_start(struct pv_app *app)
{
	enum pv_rc rc;

	app->metrics_start_ms = util_now_ms();
	if (strcmp(app->cfg.metrics_enabled, "on") != 0) {
		log_info("metrics: off ([metrics] enabled = off): GET /metrics is 404");
		return PV_OK;
	}
	rc = util_metrics_collector_add(util_metrics_default(), collect, app);
	if (rc != PV_OK)
		return rc;
	app->metrics_collecting = true;
	if ((rc = http_metrics_routes(app->http, "metrics.read")) != PV_OK)
		return rc;
	if (app->cfg.metrics_listen[0] != '\0')
		rc = http_metrics_listener_start(app->cfg.metrics_listen, &app->metrics_listener);
	return rc;
}

void
server_metrics_stop(struct pv_app *app)
{
	http_metrics_listener_stop(app->metrics_listener);
	app->metrics_listener = NULL;
	if (app->metrics_collecting)
		util_metrics_collector_remove(util_metrics_default(), collect, app);
	app->metrics_collecting = false;
}
