/*
 * Threat detection end to end on the real binary over HTTPS: each detector
 * fires on a scripted scenario and stays quiet on normal traffic of
 * comparable volume; alerts are listed, filtered and acknowledged through
 * the API and the CLI; each raised alert and each acknowledgement has its
 * own audit entry; a restart resumes from the persisted position without
 * raising again (a repeat counts on the open alert); and no alert, nor any
 * alert.* audit entry, holds a PHI value or a typed unknown username.
 *
 * Sources: requests leave from distinct loopback addresses (h_source_set),
 * so each scenario has its own source and the per-source login throttle of
 * one does not touch another. Thresholds: the defaults for brute force
 * (10), spray (10 accounts) and the sign-in baseline (5 logins); low test
 * values for bulk reads and enumeration, set in phivault.conf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define NAME1 "Zebediah Quuxworth"
#define SSN1 "123-45-6789"
#define SPRAY_NAME "zz-sprayee-"      /* typed usernames of accounts that do not exist */

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

/* Create a user; returns its ID in id and its one-time password in otp. */
static void
add_user(struct h_server *s, const char *admin, const char *user, const char *role, char *id,
    char *otp)
{
	/* a PHI role is approved by the harness's officer (dual control) */
	h_user_create(s, admin, user, role, NULL, id, 64, otp, 128);
}

static void
add_user_full(struct h_server *s, const char *admin, const char *user, const char *role,
    char *id, char *token, size_t len)
{
	char otp[128];

	add_user(s, admin, user, role, id, otp);
	h_login_fresh(s, user, otp, PW_USER, token, len);
}

/* GET /v1/alerts?query as the auditor; the array (a new reference). */
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

/* The alerts of rule (and actor, if not NULL). */
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

static void
create_patients(struct h_server *s, const char *admin)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/collections", admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\","
	    "\"searchable\":true}]}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
}

static void
read_record(struct h_server *s, const char *token, const char *id, int n)
{
	char path[256];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
	for (int i = 0; i < n; i++) {
		h_req(s, "GET", path, token, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
}

static void
search(struct h_server *s, const char *token, int n)
{
	struct h_resp r;

	for (int i = 0; i < n; i++) {
		h_req(s, "GET", "/v1/collections/patients/records?ssn=" SSN1, token, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
}

/* No PHI value and no typed unknown username in what detection produced:
 * every alert, and every alert.* entry of the audit trail. */
static void
assert_no_phi(struct h_server *s, json_t *all)
{
	static const char *const needles[] = { "Zebediah", "Quuxworth", SSN1, "123456789",
	    SPRAY_NAME, "sprayee", PW_USER, PW_ADMIN, NULL };
	char cmd[1024], *out = NULL, *text = json_dumps(all, JSON_COMPACT), *line, *save = NULL;
	int alert_lines = 0;

	CHECK(text != NULL);
	for (size_t i = 0; needles[i]; i++)
		CHECK(strstr(text, needles[i]) == NULL);
	free(text);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "\"action\":\"alert.") == NULL)
			continue;
		alert_lines++;
		for (size_t i = 0; needles[i]; i++)
			CHECK(strstr(line, needles[i]) == NULL);
	}
	CHECK(alert_lines > 0);
	free(out);
}

static int
count_entries(struct h_server *s, const char *action)
{
	char cmd[1024], want[96], *out = NULL, *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	snprintf(want, sizeof(want), "\"action\":\"%s\"", action);
	for (p = out; (p = strstr(p, want)) != NULL; p++)
		n++;
	free(out);
	return n;
}

/* TOTP of secret for time step `step` (oathtool, independent of the server). */
static void
totp(const char *secret, long long step, char out[16])
{
	char cmd[256], *o = NULL;

	snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s -N @%lld", secret, step * 30);
	CHECK(h_run(cmd, &o) == 0);
	CHECK(strlen(o) >= 6);
	memcpy(out, o, 6);
	out[6] = '\0';
	free(o);
}

/* The server's current TOTP step, early in it (the clock is moved past the
 * next step's start if it is late), so steps -1 .. +1 hold for a while. */
static long long
totp_step(struct h_server *s)
{
	long long now = h_clock_advance(s, 0), into = now % 30000;

	if (into > 12000)
		now = h_clock_advance(s, 30000 - into + 500);
	return now / 30000;
}

/* Log in with a password to an MFA challenge; the mfa_token. */
static void
mfa_login(struct h_server *s, const char *user, char *mtok, size_t len)
{
	char body[256];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, PW_USER);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	snprintf(mtok, len, "%s", h_jstr(r.json, "mfa_token"));
	h_resp_free(&r);
}

static long
mfa_code(struct h_server *s, const char *mtok, const char *code)
{
	char body[256];
	struct h_resp r;
	long st;

	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mtok, code);
	h_req(s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
	st = r.status;
	h_resp_free(&r);
	return st;
}

/* MFA failures after a correct password: one wrong code then the right one
 * is quiet; three more wrong codes within the window fire mfa_failures. */
static void
test_mfa(struct h_server *s, const char *admin, const char *auditor)
{
	char id[64], tok[128], secret[64], body[128], code[16], wrong[16], mtok[128];
	struct h_resp r;
	long long step;
	json_t *all, *a = NULL;

	add_user_full(s, admin, "mira", "clinician", id, tok, sizeof(tok));
	h_req(s, "POST", "/v1/auth/mfa/enroll", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	step = totp_step(s);
	totp(secret, step - 1, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(s, "POST", "/v1/auth/mfa/confirm", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	totp(secret, step + 5, wrong);   /* outside the accepted steps -1 .. +1 */
	totp(secret, step, code);
	CHECK(strcmp(wrong, code) != 0);
	mfa_login(s, "mira", mtok, sizeof(mtok));
	CHECK(mfa_code(s, mtok, wrong) == 401);
	CHECK(mfa_code(s, mtok, code) == 200);
	all = alerts(s, auditor, "?rule=mfa_failures");
	CHECK(json_array_size(all) == 0);
	json_decref(all);
	mfa_login(s, "mira", mtok, sizeof(mtok));
	for (int i = 0; i < 3; i++)
		CHECK(mfa_code(s, mtok, wrong) == 401);
	all = alerts(s, auditor, "?rule=mfa_failures");
	CHECK(count_rule(all, "mfa_failures", id, &a) == 1);
	CHECK(json_array_size(all) == 1);
	/* raised at the 3rd failure in the window (the quiet one counted), +1 */
	CHECK(json_integer_value(json_object_get(a, "count")) == 4);
	CHECK(strcmp(h_jstr(a, "severity"), "high") == 0);
	json_decref(all);
}

/* A sign-in far outside the hours of a user's history (baseline of 20). */
static void
test_unusual_hour(struct h_server *s, const char *admin, char *auditor, size_t alen)
{
	char id[64], tok[128];
	json_t *all, *a = NULL;

	add_user_full(s, admin, "hana", "clinician", id, tok, sizeof(tok));
	for (int i = 0; i < 20; i++)
		CHECK(h_login_status(s, "hana", PW_USER, NULL, 0) == 200);
	/* an hour later: within unusual_hour_margin_h (3) of her hours */
	h_clock_advance(s, 3600000);
	CHECK(h_login_status(s, "hana", PW_USER, NULL, 0) == 200);
	CHECK(h_login_status(s, "audrey", PW_USER, auditor, alen) == 200);
	all = alerts(s, auditor, "?rule=unusual_hour");
	CHECK(json_array_size(all) == 0);
	json_decref(all);
	/* twelve hours on: far from every hour she signed in at */
	h_clock_advance(s, 12 * 3600000LL);
	CHECK(h_login_status(s, "hana", PW_USER, NULL, 0) == 200);
	CHECK(h_login_status(s, "audrey", PW_USER, auditor, alen) == 200);   /* the old session ended */
	all = alerts(s, auditor, "?rule=unusual_hour");
	CHECK(count_rule(all, "unusual_hour", id, &a) == 1);
	CHECK(json_array_size(all) == 1);
	CHECK(strcmp(h_jstr(a, "severity"), "low") == 0);
	CHECK(strcmp(h_jstr(a, "source"), "127.0.0.1") == 0);
	json_decref(all);
}

struct people {
	char admin[128], aud[128], clara[128], carl[128], nina[128], dora[128];
	char clara_id[64], carl_id[64], nina_id[64], dora_id[64], aud_id[64];
};

static void
test_detect(void)
{
	struct h_server s;
	struct people p;
	char body[512], rec[64], id[64], otp[128], tok[128], name[64], cmd[2048], *out = NULL;
	const char *aotp;
	struct h_resp r;
	json_t *all, *a = NULL, *j;
	long long count_before;
	size_t nalerts;
	unsigned metrics_port;
	char mlisten[64];

	h_init(&s, "detect", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "bulk_read_max", "20");
	h_config_set(&s, "enumeration_max", "15");
	metrics_port = h_free_port();
	snprintf(mlisten, sizeof(mlisten), "127.0.0.1:%u", metrics_port);
	h_config_set_in(&s, "metrics", "listen", mlisten);
	h_clock_enable();
	h_start(&s, "--dev");
	memset(&p, 0, sizeof(p));
	aotp = h_jstr(s.init, "admin_password");
	h_login_fresh(&s, "admin", aotp, PW_ADMIN, p.admin, sizeof(p.admin));
	add_user_full(&s, p.admin, "audrey", "auditor", p.aud_id, p.aud, sizeof(p.aud));
	add_user_full(&s, p.admin, "clara", "clinician", p.clara_id, p.clara, sizeof(p.clara));
	add_user_full(&s, p.admin, "carl", "clinician", p.carl_id, p.carl, sizeof(p.carl));
	add_user_full(&s, p.admin, "nina", "clinician", p.nina_id, p.nina, sizeof(p.nina));
	add_user_full(&s, p.admin, "dora", "clinician", p.dora_id, p.dora, sizeof(p.dora));
	create_patients(&s, p.admin);
	h_req(&s, "POST", "/v1/collections/patients/records", p.clara,
	    "{\"name\":\"" NAME1 "\",\"ssn\":\"" SSN1 "\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(rec, sizeof(rec), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);

	/* ---- normal traffic: nothing fires ---- */
	/* 12 people from one network mistype once, then sign in (30 sign-in events) */
	h_source_set("127.0.4.1");
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "quiet%02d", i);
		add_user(&s, p.admin, name, "analyst", id, otp);
		CHECK(h_login_status(&s, name, "Not-the-password-42", NULL, 0) == 401);
		CHECK(h_login_status(&s, name, otp, NULL, 0) == 200);
	}
	/* dora signs in from her usual network again and again */
	h_source_set(NULL);
	for (int i = 0; i < 6; i++)
		CHECK(h_login_status(&s, "dora", PW_USER, p.dora, sizeof(p.dora)) == 200);
	/* reads and searches under the thresholds, by two people */
	read_record(&s, p.carl, rec, 18);
	read_record(&s, p.nina, rec, 15);
	search(&s, p.carl, 10);
	/* a change that is no role change, then a read */
	snprintf(body, sizeof(body), "/v1/users/%s", p.nina_id);
	h_req(&s, "PATCH", body, p.admin, "{\"display_name\":\"Nina N\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	read_record(&s, p.nina, rec, 1);
	all = alerts(&s, p.aud, "");
	if (json_array_size(all) != 0)
		fprintf(stderr, "unexpected alerts: %s\n", json_dumps(all, JSON_COMPACT));
	CHECK(json_array_size(all) == 0);
	json_decref(all);

	/* ---- brute force: 10 failed logins on clara's account from one source ---- */
	h_source_set("127.0.2.1");
	for (int i = 0; i < 10; i++)
		CHECK(h_login_status(&s, "clara", "Wrong-guess-Password-1", NULL, 0) != 200);
	/* ---- password spray: 15 accounts (that do not exist) from 127.0.0.1 ---- */
	h_source_set(NULL);
	for (int i = 0; i < 15; i++) {
		snprintf(name, sizeof(name), SPRAY_NAME "%02d", i);
		CHECK(h_login_status(&s, name, "Summer-Spray-2026!", NULL, 0) == 401);
	}
	/* ---- a sign-in from a network dora never used (her baseline: 7 logins) ---- */
	h_source_set("127.0.5.9");
	CHECK(h_login_status(&s, "dora", PW_USER, NULL, 0) == 200);
	h_source_set(NULL);
	/* ---- bulk reads: more than bulk_read_max = 20 in the window ---- */
	read_record(&s, p.clara, rec, 25);
	/* ---- enumeration: enumeration_max = 15 searches ---- */
	search(&s, p.nina, 15);
	/* ---- a role change, then reads by the changed principal ---- */
	snprintf(body, sizeof(body), "/v1/users/%s", p.carl_id);
	h_req(&s, "PATCH", body, p.admin, "{\"roles\":[\"clinician\",\"analyst\"]}", NULL, &r);
	CHECK_STATUS(&r, 202);   /* analyst reads PHI: dual control */
	h_officer_approve(&s, p.admin, h_jstr(r.json, "approval"));
	h_resp_free(&r);
	read_record(&s, p.carl, rec, 1);

	all = alerts(&s, p.aud, "?status=open");
	CHECK(count_rule(all, "brute_force", p.clara_id, &a) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 10);
	CHECK(strcmp(h_jstr(a, "source"), "127.0.2.1") == 0);
	CHECK(strcmp(h_jstr(a, "severity"), "high") == 0);
	CHECK(strcmp(h_jstr(a, "status"), "open") == 0);
	CHECK(*h_jstr(a, "first_seen") != '\0' && *h_jstr(a, "last_seen") != '\0');
	CHECK(count_rule(all, "brute_force", NULL, NULL) == 1);
	/* GET /metrics counts open alerts by rule (no actor, no source) */
	CHECK(h_metric_value(metrics_port, "phivault_alerts_open{rule=\"brute_force\"}") == 1);
	CHECK(count_rule(all, "password_spray", "anonymous", &a) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 15);
	CHECK(strcmp(h_jstr(a, "source"), "127.0.0.1") == 0);
	CHECK(count_rule(all, "new_network", p.dora_id, &a) == 1);
	CHECK(strcmp(h_jstr(a, "source"), "127.0.5.9") == 0);
	CHECK(count_rule(all, "new_network", NULL, NULL) == 1);
	CHECK(count_rule(all, "bulk_read", p.clara_id, &a) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 25);
	CHECK(count_rule(all, "bulk_read", NULL, NULL) == 1);
	CHECK(count_rule(all, "enumeration", p.nina_id, &a) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 15);
	CHECK(count_rule(all, "enumeration", NULL, NULL) == 1);
	CHECK(count_rule(all, "change_then_read", p.carl_id, NULL) == 1);
	CHECK(count_rule(all, "change_then_read", NULL, NULL) == 1);
	nalerts = json_array_size(all);
	CHECK(nalerts == 6);
	json_decref(all);
	/* each raised alert has its own audit entry */
	CHECK(count_entries(&s, "alert.raised") == (int)nalerts);

	/* filters and bad input */
	all = alerts(&s, p.aud, "?rule=bulk_read&limit=5");
	CHECK(json_array_size(all) == 1);
	json_decref(all);
	all = alerts(&s, p.aud, "?status=acknowledged");
	CHECK(json_array_size(all) == 0);
	json_decref(all);
	h_req(&s, "GET", "/v1/alerts?status=closed", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/alerts?rule=nope", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/alerts?limit=0", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	/* alerts.read: the auditor's; a clinician or an admin gets 403 */
	h_req(&s, "GET", "/v1/alerts", p.clara, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/alerts", p.admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);

	/* ---- restart: resumes where it was, raises nothing again ---- */
	CHECK(h_stop(&s) == 0);
	h_start(&s, "--dev");
	CHECK(h_login_status(&s, "audrey", PW_USER, p.aud, sizeof(p.aud)) == 200);
	CHECK(h_login_status(&s, "admin", PW_ADMIN, p.admin, sizeof(p.admin)) == 200);
	all = alerts(&s, p.aud, "");
	CHECK(json_array_size(all) == nalerts);
	CHECK(count_rule(all, "brute_force", p.clara_id, &a) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 10);
	CHECK(count_rule(all, "bulk_read", p.clara_id, &a) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 25);
	json_decref(all);
	CHECK(count_entries(&s, "alert.raised") == (int)nalerts);
	/* the same attack again after the throttle refilled: it counts on the
	 * open alert (the windows restarted empty: the 10th failure is the hit) */
	h_clock_advance(&s, 61000);
	h_source_set("127.0.2.1");
	for (int i = 0; i < 10; i++)
		CHECK(h_login_status(&s, "clara", "Wrong-guess-Password-1", NULL, 0) != 200);
	h_source_set(NULL);
	all = alerts(&s, p.aud, "");
	CHECK(json_array_size(all) == nalerts);
	CHECK(count_rule(all, "brute_force", p.clara_id, &a) == 1);
	CHECK(json_integer_value(json_object_get(a, "count")) == 11);
	snprintf(id, sizeof(id), "%s", h_jstr(a, "id"));
	json_decref(all);

	/* ---- acknowledge ---- */
	snprintf(body, sizeof(body), "/v1/alerts/%s/ack", id);
	h_req(&s, "POST", body, p.clara, "{\"note\":\"mine\"}", NULL, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	h_req(&s, "POST", body, p.aud, "{\"note\":\"bad\\u0001note\"}", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);
	h_req(&s, "POST", body, p.aud, "{\"note\":\"x\",\"extra\":1}", NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	h_req(&s, "POST", body, p.aud, "{}", NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/alerts/alt_aaaaaaaaaaaaaaaaaaaaaaaaaa/ack", p.aud,
	    "{\"note\":\"x\"}", NULL, &r);
	CHECK_STATUS(&r, 404);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	h_resp_free(&r);
	all = alerts(&s, p.aud, "?status=open");
	CHECK(json_array_size(all) == nalerts);   /* the refusals changed nothing */
	json_decref(all);
	h_req(&s, "POST", body, p.aud, "{\"note\":\"reset by the help desk, ticket 42\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "acknowledged") == 0);
	CHECK(strcmp(h_jstr(r.json, "ack_by"), p.aud_id) == 0);
	CHECK(strcmp(h_jstr(r.json, "ack_note"), "reset by the help desk, ticket 42") == 0);
	h_resp_free(&r);
	h_req(&s, "POST", body, p.aud, "{\"note\":\"again\"}", NULL, &r);
	CHECK_STATUS(&r, 409);
	CHECK(strcmp(h_err_code(&r), "conflict") == 0);
	h_resp_free(&r);
	all = alerts(&s, p.aud, "?status=acknowledged");
	CHECK(json_array_size(all) == 1);
	json_decref(all);
	/* after the ack, the attack continuing raises a new alert */
	h_clock_advance(&s, 61000);
	h_source_set("127.0.2.1");
	for (int i = 0; i < 10; i++)
		CHECK(h_login_status(&s, "clara", "Wrong-guess-Password-1", NULL, 0) != 200);
	h_source_set(NULL);
	all = alerts(&s, p.aud, "?rule=brute_force");
	CHECK(json_array_size(all) == 2);
	CHECK(count_rule(all, "brute_force", p.clara_id, &a) == 2);
	CHECK(strcmp(h_jstr(a, "status"), "open") == 0);   /* newest first */
	json_decref(all);
	/* recorded: the 403 (denied), the 404 and the 409 (errors), the ack itself */
	CHECK(count_entries(&s, "alert.ack") == 4);

	/* ---- the CLI ---- */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "alert list --rule password_spray --format json", s.base, s.cacert, p.aud, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(json_is_array(j) && json_array_size(j) == 1);
	snprintf(id, sizeof(id), "%s", h_jstr(json_array_get(j, 0), "id"));
	count_before = json_integer_value(json_object_get(json_array_get(j, 0), "count"));
	CHECK(count_before == 15);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "alert ack %s --note 'pen test, scheduled' --format text", s.base, s.cacert, p.aud,
	    h_bin(), id);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "acknowledged") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "alert list --status acknowledged --format text", s.base, s.cacert, p.aud, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "password_spray") != NULL && strstr(out, "brute_force") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "alert list --status bogus --format json 2>&1", s.base, s.cacert, p.aud, h_bin());
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "invalid_request") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s alert ack 2>/dev/null", h_bin());
	CHECK(h_run(cmd, &out) == 2);
	free(out);

	test_mfa(&s, p.admin, p.aud);
	test_unusual_hour(&s, p.admin, p.aud, sizeof(p.aud));

	/* ---- nothing of PHI, nothing a user typed ---- */
	all = alerts(&s, p.aud, "");
	assert_no_phi(&s, all);
	json_decref(all);
	(void)tok;
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	json_decref(s.init);
}

int
main(void)
{
	test_detect();
	h_done("integ_test_detect");
	return 0;
}
