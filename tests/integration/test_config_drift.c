/*
 * Configuration change tracking, baseline drift and the exceptions register
 * (issue 19 item 6: "config drift recorded"), on the real binary over HTTPS:
 *  - every start records config.loaded {"hash","node"}; after a stop, a
 *    changed key and a new start, config.changed names exactly that key
 *    with its old and new values; the hash is GET /v1/sys/config's;
 *  - a security officer approves the running configuration as the baseline
 *    (the admin and the auditor may not); after another change and restart
 *    GET /v1/sys/config and `phivault config diff` name the drifted key and
 *    the report's config_drift fails naming it;
 *  - an exception for that control (officer) makes the control "excepted"
 *    with its owner and expiry; bad exceptions are refused with a clear
 *    message; once the clock passes the expiry the control fails again and
 *    the expired exception is listed as a finding;
 *  - the secret part of [store] url is in no audit entry and no response.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define PW_OFFICER "Amber-falcon-Orchard-58"
#define SECRET "Sup3rS3cretPw"
#define DAY_MS (86400000LL)
#define CFR "164.308(a)(8)"

struct people {
	char admin[256], aud[256], off[256], off_id[64];
};

static void
login_all(struct h_server *s, struct people *p)
{
	h_login(s, "admin", PW_ADMIN, p->admin, sizeof(p->admin));
	h_login(s, "qzaudrey", PW_USER, p->aud, sizeof(p->aud));
	h_login(s, "qzoffice", PW_OFFICER, p->off, sizeof(p->off));
}

/* The newest audit entry with that action (a new reference), or NULL. */
static json_t *
last_entry(struct h_server *s, const char *aud, const char *action, size_t *count)
{
	char path[160];
	struct h_resp r;
	json_t *e = NULL;

	snprintf(path, sizeof(path), "/v1/audit?action=%s&limit=1000", action);
	h_req(s, "GET", path, aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, SECRET) == NULL);
	*count = json_array_size(json_object_get(r.json, "entries"));
	if (*count > 0)
		e = json_incref(json_array_get(json_object_get(r.json, "entries"), *count - 1));
	h_resp_free(&r);
	return e;
}

static json_t *
control(json_t *doc, const char *cfr)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(doc, "controls"), i, c)
		if (strcmp(h_jstr(c, "cfr"), cfr) == 0)
			return c;
	fprintf(stderr, "no control %s in the report\n", cfr);
	h_fail();
}

static json_t *
drift_eval(json_t *doc)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(control(doc, CFR), "evaluations"), i, e)
		if (strcmp(h_jstr(e, "id"), "config_drift") == 0)
			return e;
	fprintf(stderr, "no config_drift under %s\n", CFR);
	h_fail();
}

/* The report as the auditor (a new reference). */
static json_t *
report(struct h_server *s, const char *aud)
{
	struct h_resp r;
	json_t *doc;

	h_req(s, "GET", "/v1/compliance/report?format=json", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, SECRET) == NULL);
	doc = json_incref(r.json);
	h_resp_free(&r);
	return doc;
}

static char *
sys_config(struct h_server *s, const char *admin, json_t **out)
{
	static char hash[80];
	struct h_resp r;

	h_req(s, "GET", "/v1/sys/config", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, SECRET) == NULL);
	snprintf(hash, sizeof(hash), "%s", h_jstr(r.json, "hash"));
	CHECK(strlen(hash) == 64);
	*out = json_incref(r.json);
	h_resp_free(&r);
	return hash;
}

static void
time_fmt(long long ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	struct h_resp r;
	json_t *e, *d, *cfg, *doc, *ch, *c;
	char hash1[80], body[1024], exp[40], exc_id[64], cmd[2048], *out = NULL;
	size_t n_loaded = 0, n_changed = 0, n;
	long long now;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "config-drift", NULL);
	s.fixed_port = h_free_port();   /* the same server.listen on every start */
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "url", "host=db1 password=" SECRET " dbname=pv");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "qzaudrey", "auditor", PW_USER, p.aud, sizeof(p.aud));
	h_add_officer(&s, p.admin, "qzoffice", PW_OFFICER, p.off, sizeof(p.off));
	h_req(&s, "GET", "/v1/auth/session", p.off, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p.off_id, sizeof(p.off_id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);

	/* the first run: config.loaded with the hash of the effective config,
	 * no config.changed (nothing to compare with) */
	snprintf(hash1, sizeof(hash1), "%s", sys_config(&s, p.admin, &cfg));
	CHECK(strcmp(h_jstr(json_object_get(cfg, "config"), "store.url"),
	    "host=db1 password=[redacted] dbname=pv") == 0);
	CHECK(json_array_size(json_object_get(cfg, "drift")) == 0);
	CHECK(json_is_null(json_object_get(cfg, "baseline")));
	json_decref(cfg);
	e = last_entry(&s, p.aud, "config.loaded", &n_loaded);
	CHECK(e != NULL && n_loaded == 1);
	d = json_object_get(e, "detail");
	CHECK(strcmp(h_jstr(d, "hash"), hash1) == 0);
	CHECK(h_jstr(d, "node") != NULL && strcmp(h_jstr(d, "reason"), "start") == 0);
	json_decref(e);
	CHECK(last_entry(&s, p.aud, "config.changed", &n_changed) == NULL && n_changed == 0);
	/* the admin reads the config, nobody else; the auditor and admin approve nothing */
	h_expect(&s, "GET", "/v1/sys/config", p.aud, NULL, NULL, 403, "forbidden");
	h_expect(&s, "POST", "/v1/compliance/baseline", p.admin, NULL, NULL, 403, "forbidden");
	h_expect(&s, "POST", "/v1/compliance/baseline", p.aud, NULL, NULL, 403, "forbidden");
	h_expect(&s, "GET", "/v1/compliance/baseline", p.aud, NULL, NULL, 404, "not_found");
	/* no baseline yet: the customer's duty */
	doc = report(&s, p.aud);
	CHECK(strcmp(h_jstr(drift_eval(doc), "status"), "customer") == 0);
	json_decref(doc);

	/* a restart with the same file: config.loaded again, nothing changed */
	CHECK(h_stop(&s) == 0);
	h_start(&s, "--dev");
	login_all(&s, &p);
	CHECK(last_entry(&s, p.aud, "config.changed", &n_changed) == NULL);
	json_decref(last_entry(&s, p.aud, "config.loaded", &n_loaded));
	CHECK(n_loaded == 2);

	/* stop, change one key, start: config.changed names exactly it */
	CHECK(h_stop(&s) == 0);
	h_config_set(&s, "idle_timeout_s", "600");
	h_start(&s, "--dev");
	login_all(&s, &p);
	e = last_entry(&s, p.aud, "config.changed", &n_changed);
	CHECK(e != NULL && n_changed == 1);
	d = json_object_get(e, "detail");
	CHECK(strcmp(h_jstr(d, "previous_hash"), hash1) == 0);
	CHECK(strcmp(h_jstr(d, "hash"), hash1) != 0);
	ch = json_object_get(d, "changed");
	CHECK(json_array_size(ch) == 1);
	CHECK(strcmp(h_jstr(json_array_get(ch, 0), "key"), "session.idle_timeout_s") == 0);
	CHECK(json_integer_value(json_object_get(json_array_get(ch, 0), "old")) == 900);
	CHECK(json_integer_value(json_object_get(json_array_get(ch, 0), "new")) == 600);
	CHECK(strcmp(h_jstr(d, "hash"), sys_config(&s, p.admin, &cfg)) == 0);
	json_decref(cfg);
	json_decref(e);

	/* the officer approves the running configuration as the baseline */
	h_req(&s, "POST", "/v1/compliance/baseline", p.off, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "approved_by"), p.off_id) == 0);
	CHECK(strstr(r.body, SECRET) == NULL);
	h_resp_free(&r);
	/* the two refusals above were recorded as denied, then this one */
	e = last_entry(&s, p.aud, "config.baseline", &n);
	CHECK(e != NULL && n == 3);
	CHECK(strcmp(h_jstr(e, "outcome"), "allowed") == 0);
	json_decref(e);
	h_req(&s, "GET", "/v1/compliance/baseline", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "hash"), sys_config(&s, p.admin, &cfg)) == 0);
	json_decref(cfg);
	h_resp_free(&r);
	doc = report(&s, p.aud);
	CHECK(strcmp(h_jstr(drift_eval(doc), "status"), "pass") == 0);
	json_decref(doc);

	/* another change: drift from the baseline, named */
	CHECK(h_stop(&s) == 0);
	h_config_set(&s, "lockout_threshold", "6");
	h_start(&s, "--dev");
	login_all(&s, &p);
	sys_config(&s, p.admin, &cfg);
	d = json_object_get(cfg, "drift");
	CHECK(json_array_size(d) == 1);
	CHECK(strcmp(h_jstr(json_array_get(d, 0), "key"), "auth.lockout_threshold") == 0);
	CHECK(json_integer_value(json_object_get(json_array_get(d, 0), "old")) == 5);
	CHECK(json_integer_value(json_object_get(json_array_get(d, 0), "new")) == 6);
	json_decref(cfg);
	doc = report(&s, p.aud);
	e = drift_eval(doc);
	CHECK(strcmp(h_jstr(e, "status"), "fail") == 0);
	CHECK(json_array_size(json_object_get(json_object_get(e, "evidence"), "drift")) == 1);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(json_object_get(e,
	    "evidence"), "drift"), 0)), "auth.lockout_threshold") == 0);
	CHECK(strcmp(h_jstr(control(doc, CFR), "status"), "fail") == 0);
	json_decref(doc);
	/* the CLI: config diff exits 1 naming the key; config show redacts */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "config diff --format text", s.base, s.cacert, p.admin, h_bin());
	CHECK(h_run(cmd, &out) == 1);
	CHECK(strstr(out, "auth.lockout_threshold: 5 -> 6") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "config show --format text", s.base, s.cacert, p.admin, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "auth.lockout_threshold = 6") != NULL);
	CHECK(strstr(out, SECRET) == NULL);
	free(out);

	/* bad exceptions: refused, naming the field; nothing recorded */
	now = h_clock_advance(&s, 0);
	time_fmt(now + DAY_MS, exp, sizeof(exp));
	snprintf(body, sizeof(body), "{\"control\":\"164.999(z)\",\"reason\":\"r\",\"owner\":\"%s\","
	    "\"expires_at\":\"%s\"}", p.off_id, exp);
	h_expect(&s, "POST", "/v1/compliance/exceptions", p.off, body, NULL, 400, "invalid_request");
	snprintf(body, sizeof(body), "{\"control\":\"%s\",\"reason\":\"r\",\"owner\":\"%s\","
	    "\"expires_at\":\"2001-01-01T00:00:00.000Z\"}", CFR, p.off_id);
	h_expect(&s, "POST", "/v1/compliance/exceptions", p.off, body, NULL, 400, "invalid_request");
	snprintf(body, sizeof(body), "{\"control\":\"%s\",\"reason\":\"r\",\"owner\":"
	    "\"usr_aaaaaaaaaaaaaaaaaaaaaaaaaa\",\"expires_at\":\"%s\"}", CFR, exp);
	h_expect(&s, "POST", "/v1/compliance/exceptions", p.off, body, NULL, 400, "invalid_request");
	snprintf(body, sizeof(body), "{\"control\":\"%s\",\"reason\":\"lockout raised for the "
	    "pilot ward\",\"owner\":\"%s\",\"expires_at\":\"%s\"}", CFR, p.off_id, exp);
	h_expect(&s, "POST", "/v1/compliance/exceptions", p.admin, body, NULL, 403, "forbidden");
	/* the invalid ones change and record nothing; the admin's refusal is a denial */
	e = last_entry(&s, p.aud, "exception.create", &n);
	CHECK(e != NULL && n == 1 && strcmp(h_jstr(e, "outcome"), "denied") == 0);
	json_decref(e);
	/* the officer records the accepted risk: the control is excepted */
	h_req(&s, "POST", "/v1/compliance/exceptions", p.off, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(exc_id, sizeof(exc_id), "%s", h_jstr(r.json, "id"));
	CHECK(strncmp(exc_id, "exc_", 4) == 0);
	CHECK(strcmp(h_jstr(r.json, "state"), "live") == 0);
	h_resp_free(&r);
	e = last_entry(&s, p.aud, "exception.create", &n);
	CHECK(e != NULL && n == 2 && strcmp(h_jstr(e, "outcome"), "allowed") == 0);
	CHECK(strcmp(h_jstr(json_object_get(e, "detail"), "control"), CFR) == 0);
	out = json_dumps(json_object_get(e, "detail"), 0);
	CHECK(out != NULL && strstr(out, "pilot") == NULL);
	free(out);
	json_decref(e);
	doc = report(&s, p.aud);
	c = control(doc, CFR);
	CHECK(strcmp(h_jstr(c, "status"), "excepted") == 0);
	CHECK(strcmp(h_jstr(json_object_get(c, "exception"), "id"), exc_id) == 0);
	CHECK(strcmp(h_jstr(json_object_get(c, "exception"), "owner"), p.off_id) == 0);
	CHECK(strcmp(h_jstr(json_object_get(c, "exception"), "expires_at"), exp) == 0);
	CHECK(json_integer_value(json_object_get(json_object_get(doc, "summary"), "excepted")) >= 1);
	CHECK(json_array_size(json_object_get(doc, "findings")) == 0);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(doc, "exceptions"), 0), "state"),
	    "live") == 0);
	json_decref(doc);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "compliance exception list --format text", s.base, s.cacert, p.aud, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, exc_id) != NULL && strstr(out, "live") != NULL);
	free(out);

	/* two days later the exception has expired: the control fails again and
	 * the expired exception is a finding */
	h_clock_advance(&s, 2 * DAY_MS);
	login_all(&s, &p);
	json_decref(report(&s, p.aud));   /* its own entry carries the new time */
	doc = report(&s, p.aud);
	c = control(doc, CFR);
	CHECK(strcmp(h_jstr(c, "status"), "fail") == 0);
	CHECK(json_object_get(c, "exception") == NULL);
	d = json_object_get(doc, "findings");
	CHECK(json_array_size(d) == 1);
	CHECK(strcmp(h_jstr(json_array_get(d, 0), "finding"), "exception_expired") == 0);
	CHECK(strcmp(h_jstr(json_array_get(d, 0), "exception"), exc_id) == 0);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(doc, "exceptions"), 0), "state"),
	    "expired") == 0);
	json_decref(doc);
	h_req(&s, "GET", "/v1/compliance/exceptions", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(r.json, "exceptions"), 0), "state"),
	    "expired") == 0);
	h_resp_free(&r);
	/* removed by the officer: gone, audited, a second time 404 */
	snprintf(cmd, sizeof(cmd), "/v1/compliance/exceptions/%s", exc_id);
	h_expect(&s, "DELETE", cmd, p.admin, NULL, NULL, 403, "forbidden");
	h_expect(&s, "DELETE", cmd, p.off, NULL, NULL, 204, NULL);
	h_expect(&s, "DELETE", cmd, p.off, NULL, NULL, 404, "not_found");
	/* denied (admin), allowed, then error (not_found) */
	e = last_entry(&s, p.aud, "exception.delete", &n);
	CHECK(e != NULL && n == 3 && strcmp(h_jstr(e, "outcome"), "error") == 0);
	json_decref(e);

	/* SIGHUP reads phivault.conf again for change tracking: the edit made
	 * while serving is recorded (config.loaded with reason "reload", then
	 * config.changed naming the key), with no restart */
	{
		size_t before, loaded;
		json_t *l;

		json_decref(last_entry(&s, p.aud, "config.changed", &before));
		h_config_set(&s, "lockout_threshold", "7");
		CHECK(kill(s.pid, SIGHUP) == 0);
		for (int i = 0; i < 2000; i++) {   /* a bounded poll: the signal is asynchronous */
			e = last_entry(&s, p.aud, "config.changed", &n);
			if (n > before)
				break;
			json_decref(e);
			e = NULL;
			h_pause_ms(5);
		}
		CHECK(e != NULL && n == before + 1);
		ch = json_object_get(json_object_get(e, "detail"), "changed");
		CHECK(json_array_size(ch) == 1);
		CHECK(strcmp(h_jstr(json_array_get(ch, 0), "key"), "auth.lockout_threshold") == 0);
		CHECK(json_integer_value(json_object_get(json_array_get(ch, 0), "new")) == 7);
		json_decref(e);
		l = last_entry(&s, p.aud, "config.loaded", &loaded);
		CHECK(l != NULL && strcmp(h_jstr(json_object_get(l, "detail"), "reason"), "reload") == 0);
		json_decref(l);
	}

	/* the secret is in no audit entry at all */
	h_req(&s, "GET", "/v1/audit?limit=1000", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, SECRET) == NULL);
	CHECK(strstr(r.body, "config.changed") != NULL);
	h_resp_free(&r);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("config_drift");
	return 0;
}
