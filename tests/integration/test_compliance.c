/*
 * The compliance report end to end on the real binary over HTTPS. A vault
 * is put in a known state: users without MFA (mfa_required = off in this
 * dev server, and nobody enrolled), one account left inactive past
 * [compliance] inactive_days = 30 with the injectable clock, every key
 * older than key_rotation_days = 30, an open brute-force alert. Then:
 *  - GET /v1/compliance/report (auditor) shows exactly those controls
 *    failing with evidence naming the IDs and keys, and the settings that
 *    hold passing; the clinician and the admin get 403; a bad format 400;
 *  - generating it is audited (compliance.report with its audit_seq);
 *  - the report holds no PHI (the record's field values) and no username;
 *  - `phivault compliance verify` passes on it with the PEM of
 *    GET /v1/audit/public-key and fails, naming what, once one byte (a
 *    summary count) or one status is changed;
 *  - offline after the stop: `phivault compliance report --data DIR` twice
 *    gives byte-identical JSON bound to the last audit seq, verify passes
 *    with the directory's key, and md and html verify too;
 *  - a Shamir-sealed vault's offline report signs only with K shares on stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define NAME1 "Zebediah Quuxworth"
#define MRN1 "MRN-77120943"
#define DAY_MS (86400000LL)

struct people {
	char admin[256], aud[256], clin[256], idle[256];
	char idle_id[64], clin_id[64];
};

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

static char *
user_id(struct h_server *s, const char *token)
{
	static char id[64];
	struct h_resp r;

	h_req(s, "GET", "/v1/auth/session", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, "user_id") != NULL);
	snprintf(id, sizeof(id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);
	return id;
}

/* The control with that cfr in a report document (borrowed). */
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

/* The evidence of evaluator id under control cfr (borrowed). */
static json_t *
evidence(json_t *doc, const char *cfr, const char *id, const char **status)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(control(doc, cfr), "evaluations"), i, e)
		if (strcmp(h_jstr(e, "id"), id) == 0) {
			*status = h_jstr(e, "status");
			return json_object_get(e, "evidence");
		}
	fprintf(stderr, "no evaluator %s under %s\n", id, cfr);
	h_fail();
}

static const char *
status(json_t *doc, const char *cfr)
{
	return h_jstr(control(doc, cfr), "status");
}

static bool
array_has(json_t *a, const char *key, const char *value)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) {
		const char *s = key != NULL ? h_jstr(v, key) : json_string_value(v);

		if (s != NULL && strcmp(s, value) == 0)
			return true;
	}
	return false;
}

/* The failures and passes the known state must give, online or offline. */
static void
check_state(json_t *doc, const struct people *p, bool online)
{
	const char *st;
	json_t *e;

	/* no MFA: every account lacks it, the idle one among them */
	CHECK(strcmp(status(doc, "164.312(d)"), "fail") == 0);
	e = evidence(doc, "164.312(d)", "mfa_coverage", &st);
	CHECK(strcmp(st, "fail") == 0);
	/* four of the test's and the harness's security officer (dual control) */
	CHECK(json_integer_value(json_object_get(e, "users_without_mfa")) == 5);
	CHECK(array_has(json_object_get(e, "user_ids_without_mfa"), NULL, p->idle_id));
	CHECK(json_integer_value(json_object_get(json_object_get(e, "without_mfa_by_role"),
	    "clinician")) == 2);
	/* the idle account (and the harness's officer, idle since it approved
	 * the clinicians), never the active clinician */
	CHECK(strcmp(status(doc, "164.308(a)(3)(ii)(C)"), "fail") == 0);
	e = evidence(doc, "164.308(a)(3)(ii)(C)", "inactive_users", &st);
	CHECK(json_integer_value(json_object_get(e, "inactive_users")) >= 1);
	CHECK(array_has(json_object_get(e, "inactive"), "id", p->idle_id));
	CHECK(!array_has(json_object_get(e, "inactive"), "id", p->clin_id));
	{
		json_t *it;
		size_t k;

		json_array_foreach(json_object_get(e, "inactive"), k, it)
			if (strcmp(h_jstr(it, "id"), p->idle_id) == 0)
				CHECK(json_integer_value(json_object_get(it, "days_inactive")) >= 40);
	}
	/* keys unrotated past 30 days */
	CHECK(strcmp(status(doc, "164.312(a)(2)(iv)"), "fail") == 0);
	e = evidence(doc, "164.312(a)(2)(iv)", "key_rotation", &st);
	CHECK(strcmp(st, "fail") == 0);
	CHECK(array_has(json_object_get(e, "census"), "name", "collection:patients"));
	e = evidence(doc, "164.312(a)(2)(iv)", "encryption_at_rest", &st);
	CHECK(strcmp(st, "pass") == 0);
	/* the open alert */
	CHECK(strcmp(status(doc, "164.308(a)(6)(i)"), "fail") == 0);
	e = evidence(doc, "164.308(a)(6)(i)", "alerts_open", &st);
	CHECK(json_integer_value(json_object_get(e, "open")) >= 1);
	/* what holds */
	CHECK(strcmp(status(doc, "164.312(e)(1)"), "pass") == 0);
	CHECK(strcmp(status(doc, "164.312(a)(2)(iii)"), "pass") == 0);
	CHECK(strcmp(status(doc, "164.312(a)(2)(i)"), "pass") == 0);
	CHECK(strcmp(status(doc, "164.312(b)"), "pass") == 0);
	CHECK(strcmp(status(doc, "164.312(c)(1)"), "pass") == 0);
	CHECK(strcmp(status(doc, "164.310(d)(1)"), "pass") == 0);
	CHECK(strcmp(status(doc, "164.312(a)(1)"), "pass") == 0);
	e = evidence(doc, "164.308(a)(5)(ii)(B)", "process_hardening", &st);
	CHECK(strcmp(st, "pass") == 0);
	CHECK(json_is_true(json_object_get(e, "seccomp")));
	CHECK(strcmp(h_jstr(e, "source"), online ? "running server" :
	    "configuration (offline)") == 0);
	e = evidence(doc, "164.312(a)(1)", "phi_access", &st);
	/* the clinicians, and the harness's security officer: incidents.manage
	 * (the breach scope report names patients) is a PHI grant */
	CHECK(json_integer_value(json_object_get(e, "accounts_with_phi_access")) == 3);
	CHECK(array_has(json_object_get(e, "accounts"), "id", p->clin_id));
	/* the customer's; no backup was made: the backup plan fails, saying so */
	CHECK(strcmp(status(doc, "164.310(a)(1)"), "customer") == 0);
	e = evidence(doc, "164.308(a)(7)(ii)(A)", "backups", &st);
	CHECK(strcmp(st, "fail") == 0);
	CHECK(json_integer_value(json_object_get(e, "backups")) == 0);
	CHECK(array_has(json_object_get(doc, "customer_duties"), "cfr", "164.310(a)(1)"));
	CHECK(json_integer_value(json_object_get(json_object_get(doc, "summary"), "total")) ==
	    (json_int_t)json_array_size(json_object_get(doc, "controls")));
	CHECK(strcmp(h_jstr(doc, "mode"), online ? "online" : "offline") == 0);
}

/* No record value, no username anywhere in the report. */
static void
check_no_phi(const char *body)
{
	CHECK(strstr(body, NAME1) == NULL);
	CHECK(strstr(body, "Zebediah") == NULL);
	CHECK(strstr(body, MRN1) == NULL);
	CHECK(strstr(body, "qzaudrey") == NULL);
	CHECK(strstr(body, "qzclara") == NULL);
	CHECK(strstr(body, "qzidle") == NULL);
}

static void
write_file(const char *path, const char *buf)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	CHECK(fputs(buf, f) >= 0);
	CHECK(fclose(f) == 0);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	CHECK(f != NULL);
	CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CHECK(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* verify FILE with extra args: its exit code; its stderr+stdout in *out. */
static int
verify(const char *file, const char *args, char **out)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "%s compliance verify %s %s 2>&1", h_bin(), file, args);
	return h_run(cmd, out);
}

static void
test_online(struct h_server *s, struct people *p, json_int_t *seq_online)
{
	char path[700], pem[700], args[800], *out = NULL, *tampered, *q;
	struct h_resp r;
	json_t *doc;
	size_t i;
	json_t *e;
	bool audited = false;

	/* who may: the auditor (compliance.read); not the clinician nor the admin */
	h_expect(s, "GET", "/v1/compliance/report", p->clin, NULL, NULL, 403, NULL);
	h_expect(s, "GET", "/v1/compliance/report", p->admin, NULL, NULL, 403, NULL);
	h_expect(s, "GET", "/v1/compliance/report?format=xml", p->aud, NULL, NULL, 400,
	    "invalid_request");
	h_req(s, "GET", "/v1/compliance/report?format=json", p->aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: application/json"));
	doc = json_incref(r.json);
	CHECK(doc != NULL);
	check_state(doc, p, true);
	check_no_phi(r.body);
	*seq_online = json_integer_value(json_object_get(doc, "audit_seq"));
	CHECK(*seq_online > 0);
	snprintf(path, sizeof(path), "%s/../compliance-online.json", s->dir);
	write_file(path, r.body);

	/* generating it was audited, bound to the seq it reports */
	h_resp_free(&r);
	h_req(s, "GET", "/v1/audit?action=compliance.report&limit=1000", p->aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e)
		if (json_integer_value(json_object_get(json_object_get(e, "detail"),
		    "audit_seq")) == *seq_online &&
		    strcmp(h_jstr(json_object_get(e, "detail"), "format"), "json") == 0 &&
		    json_integer_value(json_object_get(e, "seq")) > *seq_online)
			audited = true;
	CHECK(audited);
	/* and the clinician's and the admin's attempts were recorded as denials */
	audited = false;
	json_array_foreach(json_object_get(r.json, "entries"), i, e)
		if (strcmp(h_jstr(e, "outcome"), "denied") == 0 &&
		    strcmp(h_jstr(json_object_get(e, "actor"), "user_id"), p->clin_id) == 0)
			audited = true;
	CHECK(audited);
	h_resp_free(&r);

	/* verify with the public key of the API */
	h_req(s, "GET", "/v1/audit/public-key", p->aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(pem, sizeof(pem), "%s/../audit-public.pem", s->dir);
	write_file(pem, r.body);
	h_resp_free(&r);
	snprintf(args, sizeof(args), "--public-key %s", pem);
	CHECK(verify(path, args, &out) == 0);
	CHECK(strstr(out, "compliance report intact: json") != NULL);
	free(out);

	/* one byte: the summary's fail count */
	tampered = read_file(path);
	q = strstr(tampered, "\"fail\": ");
	CHECK(q != NULL);
	q += 8;
	*q = *q == '9' ? '8' : (char)(*q + 1);
	snprintf(path, sizeof(path), "%s/../compliance-tampered.json", s->dir);
	write_file(path, tampered);
	CHECK(verify(path, args, &out) == 1);
	CHECK(strstr(out, "compliance report tampered: field summary was changed") != NULL);
	free(out);
	free(tampered);
	/* a status flipped */
	snprintf(path, sizeof(path), "%s/../compliance-online.json", s->dir);
	tampered = read_file(path);
	q = strstr(tampered, "\"status\": \"fail\"");
	CHECK(q != NULL);
	memcpy(q + 11, "pass", 4);
	snprintf(path, sizeof(path), "%s/../compliance-tampered.json", s->dir);
	write_file(path, tampered);
	CHECK(verify(path, args, &out) == 1);
	CHECK(strstr(out, "was changed after signing") != NULL);
	free(out);
	free(tampered);

	/* the Markdown rendering carries the same signature */
	h_req(s, "GET", "/v1/compliance/report?format=md", p->aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: text/markdown"));
	CHECK(strncmp(r.body, "# phivault compliance report", 28) == 0);
	check_no_phi(r.body);
	snprintf(path, sizeof(path), "%s/../compliance-online.md", s->dir);
	write_file(path, r.body);
	h_resp_free(&r);
	CHECK(verify(path, args, &out) == 0);
	free(out);
	json_decref(doc);
}

static void
test_offline(struct h_server *s, const struct people *p, json_int_t seq_online)
{
	char cmd[2048], f1[700], f2[700], *out = NULL, *a, *b;
	json_t *doc;
	const char *fmts[] = { "md", "html" };

	snprintf(f1, sizeof(f1), "%s/../offline-1.json", s->dir);
	snprintf(f2, sizeof(f2), "%s/../offline-2.json", s->dir);
	snprintf(cmd, sizeof(cmd), "%s compliance report --data %s --format json --out %s 2>&1",
	    h_bin(), s->dir, f1);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s compliance report --data %s --out %s 2>&1", h_bin(),
	    s->dir, f2);
	CHECK(h_run(cmd, NULL) == 0);
	a = read_file(f1);
	b = read_file(f2);
	CHECK(strcmp(a, b) == 0);   /* reproducible, byte for byte */
	doc = json_loads(a, 0, NULL);
	CHECK(doc != NULL);
	check_state(doc, p, false);
	check_no_phi(a);
	CHECK(json_integer_value(json_object_get(doc, "audit_seq")) > seq_online);
	json_decref(doc);
	free(a);
	free(b);
	snprintf(cmd, sizeof(cmd), "--data %s", s->dir);
	CHECK(verify(f1, cmd, &out) == 0);
	free(out);
	for (size_t i = 0; i < 2; i++) {
		snprintf(f2, sizeof(f2), "%s/../offline.%s", s->dir, fmts[i]);
		snprintf(cmd, sizeof(cmd), "%s compliance report --data %s --format %s --out %s "
		    "2>&1", h_bin(), s->dir, fmts[i], f2);
		CHECK(h_run(cmd, NULL) == 0);
		snprintf(cmd, sizeof(cmd), "--data %s", s->dir);
		CHECK(verify(f2, cmd, &out) == 0);
		CHECK(strstr(out, fmts[i]) != NULL);
		free(out);
	}
	/* usage errors: exit 2 */
	snprintf(cmd, sizeof(cmd), "%s compliance report --data %s --format pdf 2>&1", h_bin(),
	    s->dir);
	CHECK(h_run(cmd, NULL) == 2);
	snprintf(cmd, sizeof(cmd), "%s compliance verify 2>&1", h_bin());
	CHECK(h_run(cmd, NULL) == 2);
	/* the report wrote nothing: the trail still verifies */
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s->dir);
	CHECK(h_run(cmd, NULL) == 0);
}

/* A Shamir-sealed vault: the offline report needs K shares on stdin to sign. */
static void
test_offline_shamir(void)
{
	struct h_server s;
	char cmd[4096], out_file[700], *out = NULL;
	json_t *shares;

	h_init(&s, "compliance-shamir", "--seal shamir:2/3");
	shares = json_object_get(s.init, "unseal_shares");
	CHECK(json_array_size(shares) == 3);
	snprintf(out_file, sizeof(out_file), "%s/../shamir.json", s.dir);
	/* no shares: nothing to sign with, exit 3, and the message says what is needed */
	snprintf(cmd, sizeof(cmd), "%s compliance report --data %s --out %s < /dev/null 2>&1",
	    h_bin(), s.dir, out_file);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "shares on stdin") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "printf '%%s\\n%%s\\n' '%s' '%s' | %s compliance report "
	    "--data %s --out %s 2>&1", json_string_value(json_array_get(shares, 0)),
	    json_string_value(json_array_get(shares, 2)), h_bin(), s.dir, out_file);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "--data %s", s.dir);
	CHECK(verify(out_file, cmd, &out) == 0);
	free(out);
	json_decref(s.init);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	struct h_resp r;
	char body[512], otp[128];
	json_int_t seq_online = 0;
	bool alert = false;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "compliance", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "inactive_days", "30");
	h_config_set(&s, "key_rotation_days", "30");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "qzaudrey", "auditor", PW_USER, p.aud, sizeof(p.aud));
	h_add_user(&s, p.admin, "qzclara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	snprintf(p.clin_id, sizeof(p.clin_id), "%s", user_id(&s, p.clin));
	h_user_create(&s, p.admin, "qzidle", "clinician", NULL, p.idle_id, sizeof(p.idle_id),
	    otp, sizeof(otp));
	h_login_fresh(&s, "qzidle", otp, PW_USER, p.idle, sizeof(p.idle));
	h_collection_create(&s, p.admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"searchable\":true}]}");
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"mrn\":\"%s\"}", NAME1, MRN1);
	h_expect(&s, "POST", "/v1/collections/patients/records", p.clin, body, TREAT, 201, NULL);

	/* 40 days pass; everyone but qzidle comes back (sessions have expired) */
	h_clock_advance(&s, 40 * DAY_MS);
	h_login(&s, "admin", PW_ADMIN, p.admin, sizeof(p.admin));
	h_login(&s, "qzaudrey", PW_USER, p.aud, sizeof(p.aud));
	h_login(&s, "qzclara", PW_USER, p.clin, sizeof(p.clin));
	/* ten wrong passwords on qzidle's account from one source: brute_force */
	h_source_set("127.0.2.1");
	for (int i = 0; i < 10; i++)
		CHECK(h_login_status(&s, "qzidle", "Wrong-guess-Password-1", NULL, 0) != 200);
	h_source_set(NULL);
	for (int i = 0; i < 2000 && !alert; i++) {
		h_req(&s, "GET", "/v1/alerts?status=open&rule=brute_force", p.aud, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		alert = json_array_size(r.json) > 0;
		h_resp_free(&r);
		if (!alert)
			h_pause_ms(5);
	}
	CHECK(alert);

	test_online(&s, &p, &seq_online);
	CHECK(h_stop(&s) == 0);
	test_offline(&s, &p, seq_online);
	test_offline_shamir();
	json_decref(s.init);
	h_done("compliance");
	return 0;
}
