/*
 * The detectors that watch the trail itself and the data's integrity, on the
 * real binary over HTTPS (docs/monitoring.md "Detection and alerts"):
 *
 * - sink_lag: a syslog sink pointed at a port nobody listens on falls more
 *   than [detect] sink_lag_max entries behind; once it stayed behind for
 *   sink_lag_for_s (the server's test clock moved, no sleeping) one alert
 *   for that sink is raised; the OCSF file sink, checked at the same
 *   moments, keeps up and raises nothing.
 * - decrypt_failures: a record whose ciphertext was overwritten with
 *   sqlite3 (server stopped) fails to decrypt; each read is audited with
 *   reason "integrity"; four reads are quiet, the fifth fires.
 * - audit_verify_failure: GET /v1/audit/verify records its result
 *   (audit.verify, allowed "ok"); after an entry was edited with sqlite3 it
 *   records outcome error, reason chain_broken and the first bad seq, and a
 *   critical alert is raised. A clean verify raised nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

static void
add_user_full(struct h_server *s, const char *admin, const char *user, const char *role,
    char *id, char *token, size_t len)
{
	char otp[128];

	/* a PHI role is approved by the harness's officer (dual control) */
	h_user_create(s, admin, user, role, NULL, id, 64, otp, sizeof(otp));
	h_login_fresh(s, user, otp, PW_USER, token, len);
}

static json_t *
alerts(struct h_server *s, const char *auditor, const char *query)
{
	char path[256];
	struct h_resp r;
	json_t *a;

	snprintf(path, sizeof(path), "/v1/alerts%s", query);
	h_req(s, "GET", path, auditor, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_array(r.json));
	a = json_incref(r.json);
	h_resp_free(&r);
	return a;
}

static size_t
count_rule(json_t *list, const char *rule, const char *actor, json_t **first)
{
	size_t i, n = 0;
	json_t *a;

	json_array_foreach(list, i, a) {
		if (strcmp(h_jstr(a, "rule"), rule) != 0)
			continue;
		if (actor != NULL && strcmp(h_jstr(a, "actor"), actor) != 0)
			continue;
		if (n++ == 0 && first != NULL)
			*first = a;
	}
	return n;
}

static char *
create_record(struct h_server *s, const char *token, const char *name, char *id, size_t len)
{
	char body[256];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"mrn\":\"MRN-0001\"}", name);
	h_req(s, "POST", "/v1/collections/patients/records", token, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, len, "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	return id;
}

static long
read_record(struct h_server *s, const char *token, const char *id)
{
	char path[256];
	struct h_resp r;
	long st;

	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
	h_req(s, "GET", path, token, NULL, TREAT, &r);
	st = r.status;
	if (st != 200)
		CHECK(strcmp(h_err_code(&r), "internal") == 0);
	h_resp_free(&r);
	return st;
}

/* The audit.verify entries, as GET /v1/audit returns them (a new reference). */
static json_t *
verify_entries(struct h_server *s, const char *auditor)
{
	struct h_resp r;
	json_t *e;

	h_req(s, "GET", "/v1/audit?action=audit.verify&limit=1000", auditor, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	e = json_incref(json_object_get(r.json, "entries"));
	CHECK(json_is_array(e));
	h_resp_free(&r);
	return e;
}

/* The number of entries with this action and reason in the trail. */
static int
count_entries(struct h_server *s, const char *action, const char *reason)
{
	char cmd[1024], want[160], *out = NULL, *line, *save = NULL;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	snprintf(want, sizeof(want), "\"action\":\"%s\"", action);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);

		CHECK(o != NULL);
		if (strcmp(h_jstr(o, "action"), action) == 0 && strcmp(h_jstr(o, "reason"), reason) == 0)
			n++;
		json_decref(o);
	}
	free(out);
	return n;
}

/* sink_lag: move the server's clock in steps of sink_lag_for_s / 2 + 1 s
 * until the alert of the syslog sink is there (the detector checks at
 * least once a second of real time), at most 20 steps. */
static void
test_sink_lag(struct h_server *s, const char *auditor)
{
	json_t *all = NULL, *a = NULL;
	struct h_resp r;
	int step;

	/* quiet until it has been behind for sink_lag_for_s */
	all = alerts(s, auditor, "?rule=sink_lag");
	CHECK(json_array_size(all) == 0);
	json_decref(all);
	for (step = 0; step < 20; step++) {
		h_clock_advance(s, 31000);
		for (int i = 0; i < 300; i++) {
			all = alerts(s, auditor, "?rule=sink_lag");
			if (json_array_size(all) > 0)
				break;
			json_decref(all);
			all = NULL;
			usleep(5000);
		}
		if (all != NULL)
			break;
	}
	CHECK(all != NULL);
	CHECK(count_rule(all, "sink_lag", "sink:syslog", &a) == 1);
	CHECK(strcmp(h_jstr(a, "severity"), "medium") == 0);
	CHECK(strcmp(h_jstr(a, "status"), "open") == 0);
	/* the OCSF file sink was checked at the same moments and kept up */
	CHECK(count_rule(all, "sink_lag", "sink:ocsf_file", NULL) == 0);
	CHECK(json_array_size(all) == 1);
	json_decref(all);
	/* and it did: nothing behind it (the syslog sink is far behind) */
	h_req(s, "GET", "/v1/sys/sinks", auditor, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	for (size_t i = 0; i < json_array_size(r.json); i++) {
		json_t *k = json_array_get(r.json, i);

		if (strcmp(h_jstr(k, "name"), "syslog") == 0)
			CHECK(json_integer_value(json_object_get(k, "lag")) > 5);
	}
	h_resp_free(&r);
	/* still behind at the next checks: the same alert counts them */
	h_clock_advance(s, 31000);
	for (int i = 0; i < 300; i++) {
		all = alerts(s, auditor, "?rule=sink_lag");
		CHECK(json_array_size(all) == 1);
		a = json_array_get(all, 0);
		if (json_integer_value(json_object_get(a, "count")) > 1)
			break;
		json_decref(all);
		all = NULL;
		usleep(5000);
	}
	CHECK(all != NULL);
	CHECK(strcmp(h_jstr(a, "actor"), "sink:syslog") == 0);
	json_decref(all);
}

static void
test_detect_trail(void)
{
	struct h_server s;
	char admin[128], aud[128], clara[128], aud_id[64], clara_id[64], good[64], bad[64];
	char cmd[2048], conf[128], *out = NULL;
	struct h_resp r;
	json_t *all, *a = NULL, *e;
	unsigned dead_port = h_free_port();

	h_init(&s, "detect_trail", NULL);
	h_config_set(&s, "mfa_required", "off");
	/* a syslog receiver that is not there, and the OCSF file */
	snprintf(conf, sizeof(conf), "tcp://127.0.0.1:%u", dead_port);
	h_config_set(&s, "syslog", conf);
	h_config_set(&s, "retry_max_ms", "200");
	snprintf(cmd, sizeof(cmd), "sed -i 's|^# ocsf_file = .*|ocsf_file = audit.ocsf.jsonl|' "
	    "%s/phivault.conf && grep -q '^ocsf_file = audit.ocsf.jsonl' %s/phivault.conf",
	    s.dir, s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	h_config_set(&s, "sink_lag_check_s", "1");
	h_config_set(&s, "sink_lag_max", "5");
	h_config_set(&s, "sink_lag_for_s", "60");
	h_clock_enable();
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, sizeof(admin));
	add_user_full(&s, admin, "audrey", "auditor", aud_id, aud, sizeof(aud));
	add_user_full(&s, admin, "clara", "clinician", clara_id, clara, sizeof(clara));
	h_req(&s, "POST", "/v1/collections", admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\"}]}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	create_record(&s, clara, "Quentin Zarkov", good, sizeof(good));
	create_record(&s, clara, "Ulla Brennivin", bad, sizeof(bad));

	/* ---- quiet: a clean verify, reads that decrypt ---- */
	h_req(&s, "GET", "/v1/audit/verify", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "ok")));
	h_resp_free(&r);
	for (int i = 0; i < 8; i++)
		CHECK(read_record(&s, clara, good) == 200);
	e = verify_entries(&s, aud);
	CHECK(json_array_size(e) == 1);
	CHECK(strcmp(h_jstr(json_array_get(e, 0), "outcome"), "allowed") == 0);
	CHECK(strcmp(h_jstr(json_array_get(e, 0), "reason"), "ok") == 0);
	json_decref(e);
	all = alerts(&s, aud, "");
	CHECK(json_array_size(all) == 0);
	json_decref(all);

	/* ---- sink_lag ---- */
	test_sink_lag(&s, aud);

	/* ---- tamper with the stopped server's database ---- */
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "sqlite3 %s/phivault.db \"UPDATE records SET ciphertext = "
	    "randomblob(length(ciphertext)) WHERE id = '%s'\"", s.dir, bad);
	CHECK(h_run(cmd, NULL) == 0);
	h_start(&s, "--dev");
	CHECK(h_login_status(&s, "audrey", PW_USER, aud, sizeof(aud)) == 200);
	CHECK(h_login_status(&s, "clara", PW_USER, clara, sizeof(clara)) == 200);

	/* ---- decrypt_failures: 4 quiet, the 5th fires ---- */
	CHECK(read_record(&s, clara, good) == 200);
	for (int i = 0; i < 4; i++)
		CHECK(read_record(&s, clara, bad) == 500);
	all = alerts(&s, aud, "?rule=decrypt_failures");
	CHECK(json_array_size(all) == 0);
	json_decref(all);
	CHECK(read_record(&s, clara, bad) == 500);
	all = alerts(&s, aud, "?rule=decrypt_failures");
	CHECK(count_rule(all, "decrypt_failures", clara_id, &a) == 1);
	CHECK(json_array_size(all) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 5);
	CHECK(strcmp(h_jstr(a, "severity"), "high") == 0);
	CHECK(strcmp(h_jstr(a, "source"), "127.0.0.1") == 0);
	json_decref(all);
	CHECK(count_entries(&s, "record.read", "integrity") == 5);

	/* ---- audit_verify_failure: an entry edited ---- */
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "sqlite3 %s/phivault.db \"UPDATE audit SET reason='edited' "
	    "WHERE seq=2\"", s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	h_start(&s, "--dev");
	CHECK(h_login_status(&s, "audrey", PW_USER, aud, sizeof(aud)) == 200);
	all = alerts(&s, aud, "?rule=audit_verify_failure");
	CHECK(json_array_size(all) == 0);
	json_decref(all);
	h_req(&s, "GET", "/v1/audit/verify", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "ok")));
	CHECK(json_integer_value(json_object_get(r.json, "first_bad_seq")) == 2);
	h_resp_free(&r);
	e = verify_entries(&s, aud);
	CHECK(json_array_size(e) == 2);
	a = json_array_get(e, 1);
	CHECK(strcmp(h_jstr(a, "outcome"), "error") == 0);
	CHECK(strcmp(h_jstr(a, "reason"), "chain_broken") == 0);
	CHECK(json_integer_value(json_object_get(json_object_get(a, "detail"),
	    "first_bad_seq")) == 2);
	json_decref(e);
	all = alerts(&s, aud, "?rule=audit_verify_failure");
	CHECK(count_rule(all, "audit_verify_failure", aud_id, &a) == 1);
	CHECK(json_array_size(all) == 1);
	CHECK(strcmp(h_jstr(a, "severity"), "critical") == 0);
	json_decref(all);
	/* the OCSF file got the alert as a Detection Finding, and no PHI */
	snprintf(cmd, sizeof(cmd), "grep -c '\"class_uid\":2004' %s/audit.ocsf.jsonl", s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(atoi(out) >= 2);
	free(out);
	snprintf(cmd, sizeof(cmd), "grep -E -c 'Quentin|Zarkov|Ulla|Brennivin|MRN-0001' "
	    "%s/audit.ocsf.jsonl", s.dir);
	CHECK(h_run(cmd, &out) == 1);
	free(out);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	test_detect_trail();
	h_done("integ_test_detect_trail");
	return 0;
}
