/*
 * Break-glass with reviews on the real binary over HTTPS (issue 10 item 5):
 * a clinician without break_glass is refused; a wrong password is refused
 * (401) and counted by the login's lockout (a third one locks the account);
 * a holder activates a grant for patient A (the alert break_glass_use is
 * raised at once) and reads A's records in two collections with purpose
 * ETREAT, in clear, but not with TREAT, not B's record, and a search
 * answers only A's; every read entry carries the grant in its actor; a
 * second grant while one is in force is refused; the review lists the reads
 * by seq; the holder (also an officer) cannot review itself, another
 * officer records a verdict (inappropriate raises an alert); the injectable
 * clock expires the grant and the very next read is refused, the sweeper
 * records breakglass.expire; a review left open past review_due_s raises
 * review_overdue; the CLI activates (password on stdin), lists, ends and
 * decides; and no entry of the trail holds a subject value.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define PW_OFF "Olive-crane-Meadow-7305"
#define PAT_A "PAT-A-Zebulon-1001"
#define PAT_B "PAT-B-Xanthe-2002"
#define JUST "unconscious in the ED, no chart"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };
static const char *ETREAT[] = { "X-Purpose-Of-Use: ETREAT", NULL };

struct people {
	char admin[256], clin[256], erin[256], ned[256], olga[256], aud[256];
	char erin_id[64];
};

struct ids {
	char a_visit[64], a_lab[64], b_visit[64];
};

static void
create(struct h_server *s, const char *tok, const char *coll, const char *body, char *id)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/%s/records", coll);
	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, 64, "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
}

static long
read_as(struct h_server *s, const char *tok, const char *coll, const char *id,
    const char **hdrs, const char *want_code, json_t **fields)
{
	char path[160];
	struct h_resp r;
	long st;

	snprintf(path, sizeof(path), "/v1/collections/%s/records/%s", coll, id);
	h_req(s, "GET", path, tok, NULL, hdrs, &r);
	st = r.status;
	if (want_code != NULL)
		CHECK(h_err_code(&r) != NULL && strcmp(h_err_code(&r), want_code) == 0);
	if (fields != NULL && st == 200)
		*fields = json_incref(json_object_get(r.json, "fields"));
	h_resp_free(&r);
	return st;
}

static bool
alert_open(struct h_server *s, const char *tok, const char *rule, const char *actor)
{
	char path[128];
	bool found = false;

	snprintf(path, sizeof(path), "/v1/alerts?rule=%s", rule);
	for (int i = 0; i < 3000 && !found; i++) {
		struct h_resp r;
		json_t *a;
		size_t k;

		h_req(s, "GET", path, tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		json_array_foreach(r.json, k, a)
			if (strcmp(h_jstr(a, "rule"), rule) == 0 &&
			    (actor == NULL || strcmp(h_jstr(a, "actor"), actor) == 0))
				found = true;
		h_resp_free(&r);
		if (!found)
			h_pause_ms(3);
	}
	return found;
}

/* The trail as JSON lines (offline export while the server runs). */
static char *
trail(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	return out;
}

/* Count the entries of action (and outcome, if not NULL) whose actor
 * carries grant (NULL: any or none). */
static int
count_entries(const char *jsonl, const char *action, const char *outcome, const char *grant,
    const char *purpose)
{
	const char *p = jsonl;
	int n = 0;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		json_t *e = json_loadb(p, len, 0, NULL);

		if (e != NULL) {
			json_t *actor = json_object_get(e, "actor");
			const char *bg = json_string_value(json_object_get(actor, "break_glass"));

			if (strcmp(h_jstr(e, "action"), action) == 0 &&
			    (outcome == NULL || strcmp(h_jstr(e, "outcome"), outcome) == 0) &&
			    (grant == NULL || (bg != NULL && strcmp(bg, grant) == 0)) &&
			    (purpose == NULL || (h_jstr(e, "purpose_of_use") != NULL &&
			    strcmp(h_jstr(e, "purpose_of_use"), purpose) == 0)))
				n++;
			json_decref(e);
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

static void
setup(struct h_server *s, struct people *p, struct ids *id)
{
	h_login_fresh(s, "admin", h_jstr(s->init, "admin_password"), PW_ADMIN, p->admin,
	    sizeof(p->admin));
	h_add_user(s, p->admin, "clara", "clinician", PW_USER, p->clin, sizeof(p->clin));
	h_add_user(s, p->admin, "audra", "auditor", PW_USER, p->aud, sizeof(p->aud));
	h_add_user(s, p->admin, "ned", "break_glass", PW_USER, p->ned, sizeof(p->ned));
	{
		/* erin: break_glass and also a security officer (the self-review
		 * case); promoting keeps her one-time password */
		char auth[4096], body[4400], otp[128];
		struct h_resp r;

		h_user_create(s, p->admin, "erin", "break_glass", NULL, p->erin_id,
		    sizeof(p->erin_id), otp, sizeof(otp));
		h_seal_authority(s, auth, sizeof(auth));
		snprintf(body, sizeof(body), "{\"username\":\"erin\",%s}", auth);
		h_req(s, "POST", "/v1/sys/officers", p->admin, body, NULL, &r);
		CHECK(r.status == 200 || r.status == 201);
		h_resp_free(&r);
		h_login_fresh(s, "erin", otp, PW_USER, p->erin, sizeof(p->erin));
	}
	h_add_officer(s, p->admin, "olga", PW_OFF, p->olga, sizeof(p->olga));
	h_collection_create(s, p->admin,
	    "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"classification\":\"phi\","
	    "\"mask\":\"full\",\"subject\":true},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"searchable\":true},"
	    "{\"name\":\"note\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"full\"}]}");
	h_collection_create(s, p->admin,
	    "{\"name\":\"labs\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"who\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"test\",\"type\":\"string\"}]}");
	create(s, p->clin, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA1\","
	    "\"note\":\"allergic to penicillin\"}", id->a_visit);
	create(s, p->clin, "labs", "{\"who\":\"" PAT_A "\",\"test\":\"k 5.9\"}", id->a_lab);
	create(s, p->clin, "visits", "{\"patient\":\"" PAT_B "\",\"mrn\":\"MRNB1\","
	    "\"note\":\"b note\"}", id->b_visit);
}

static const char *
activate_body(char *buf, size_t len, const char *subject, const char *code, const char *just,
    const char *pw)
{
	snprintf(buf, len, "{\"subject\":\"%s\",\"reason_code\":\"%s\",\"justification\":\"%s\","
	    "\"password\":\"%s\"}", subject, code, just, pw);
	return buf;
}

static void
test_refusals(struct h_server *s, struct people *p, struct ids *id)
{
	char body[512];
	struct h_resp r;

	/* a clinician holds no break_glass */
	h_expect(s, "POST", "/v1/breakglass", p->clin,
	    activate_body(body, sizeof(body), PAT_A, "ETREAT", JUST, PW_USER), NULL, 403,
	    "forbidden");
	/* the role alone reads nothing, with or without ETREAT */
	CHECK(read_as(s, p->ned, "visits", id->a_visit, TREAT, "forbidden", NULL) == 403);
	CHECK(read_as(s, p->ned, "visits", id->a_visit, ETREAT, "forbidden", NULL) == 403);
	/* bad input changes nothing */
	h_expect(s, "POST", "/v1/breakglass", p->ned,
	    activate_body(body, sizeof(body), PAT_A, "TREAT", JUST, PW_USER), NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/breakglass", p->ned,
	    activate_body(body, sizeof(body), PAT_A, "ETREAT", "", PW_USER), NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/breakglass", p->ned,
	    "{\"reason_code\":\"ETREAT\",\"justification\":\"x\",\"password\":\"y\"}", NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/breakglass", p->ned, "{\"subject\":", NULL, 400, "invalid_json");
	/* a wrong password: 401, counted like a login (threshold 3 here) */
	h_expect(s, "POST", "/v1/breakglass", p->ned,
	    activate_body(body, sizeof(body), PAT_A, "ETREAT", JUST, "not-my-password-123"), NULL,
	    401, "unauthenticated");
	h_expect(s, "POST", "/v1/breakglass", p->ned,
	    activate_body(body, sizeof(body), PAT_A, "ETREAT", JUST, "not-my-password-123"), NULL,
	    401, "unauthenticated");
	h_expect(s, "POST", "/v1/breakglass", p->ned,
	    activate_body(body, sizeof(body), PAT_A, "ETREAT", JUST, "not-my-password-123"), NULL,
	    401, "unauthenticated");
	h_expect(s, "POST", "/v1/breakglass", p->ned,
	    activate_body(body, sizeof(body), PAT_A, "ETREAT", JUST, PW_USER), NULL, 423, "locked");
	CHECK(h_login_status(s, "ned", PW_USER, NULL, 0) == 423);
	h_req(s, "GET", "/v1/breakglass", p->ned, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "grants")) == 0);   /* nothing granted */
	h_resp_free(&r);
}

static void
test_grant_and_review(struct h_server *s, struct people *p, struct ids *id)
{
	char body[512], grant[64], review[64], path[160], ref[80];
	json_t *fields = NULL, *rv = NULL, *el;
	struct h_resp r;
	char *jsonl;
	size_t i;
	bool found = false;

	h_req(s, "POST", "/v1/breakglass", p->erin,
	    activate_body(body, sizeof(body), PAT_A, "ETREAT", JUST, PW_USER), NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(grant, sizeof(grant), "%s", h_jstr(r.json, "grant"));
	snprintf(review, sizeof(review), "%s", h_jstr(r.json, "review"));
	snprintf(ref, sizeof(ref), "%s", h_jstr(r.json, "subject_ref"));
	CHECK(strncmp(grant, "bg_", 3) == 0 && strncmp(review, "rev_", 4) == 0);
	CHECK(strlen(ref) == 64);
	CHECK(h_jstr(r.json, "expires_at") != NULL);
	CHECK(strstr(r.body, PAT_A) == NULL);
	h_resp_free(&r);
	/* raised at once, for the holder */
	CHECK(alert_open(s, p->aud, "break_glass_use", p->erin_id));
	/* one grant in force at a time */
	h_expect(s, "POST", "/v1/breakglass", p->erin,
	    activate_body(body, sizeof(body), PAT_B, "ETREAT", JUST, PW_USER), NULL, 409,
	    "conflict");

	/* A's records in two collections, under ETREAT, in clear */
	CHECK(read_as(s, p->erin, "visits", id->a_visit, ETREAT, NULL, &fields) == 200);
	CHECK(strcmp(h_jstr(fields, "patient"), PAT_A) == 0);
	CHECK(strcmp(h_jstr(fields, "note"), "allergic to penicillin") == 0);
	json_decref(fields);
	fields = NULL;
	CHECK(read_as(s, p->erin, "labs", id->a_lab, ETREAT, NULL, &fields) == 200);
	CHECK(strcmp(h_jstr(fields, "who"), PAT_A) == 0);
	json_decref(fields);
	/* not with another purpose, not another subject's record */
	CHECK(read_as(s, p->erin, "visits", id->a_visit, TREAT, "forbidden", NULL) == 403);
	CHECK(read_as(s, p->erin, "visits", id->b_visit, ETREAT, "forbidden", NULL) == 403);
	/* a search answers the subject's records only */
	h_req(s, "GET", "/v1/collections/visits/records?mrn=MRNA1", p->erin, NULL, ETREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 1);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/visits/records?mrn=MRNB1", p->erin, NULL, ETREAT, &r);
	CHECK(r.status == 200 || r.status == 403);
	if (r.status == 200)
		CHECK(json_array_size(json_object_get(r.json, "records")) == 0);
	h_resp_free(&r);
	/* writes: never */
	snprintf(path, sizeof(path), "/v1/collections/visits/records/%s", id->a_visit);
	h_expect(s, "PATCH", path, p->erin, "{\"note\":\"x\"}", NULL, 403, "forbidden");

	/* every read entry names the grant */
	jsonl = trail(s);
	CHECK(count_entries(jsonl, "breakglass.activate", "allowed", NULL, "ETREAT") == 1);
	CHECK(count_entries(jsonl, "breakglass.activate", "denied", NULL, NULL) >= 4);
	CHECK(count_entries(jsonl, "record.read", "allowed", grant, "ETREAT") == 2);
	CHECK(count_entries(jsonl, "record.read", "allowed", NULL, "ETREAT") == 2);
	CHECK(count_entries(jsonl, "record.read", "denied", grant, NULL) >= 2);
	CHECK(count_entries(jsonl, "auth.lockout", NULL, NULL, NULL) >= 1);
	CHECK(strstr(jsonl, ref) != NULL);   /* the subject by its reference */
	free(jsonl);

	/* the review: officers only; the reads under the grant by seq */
	h_expect(s, "GET", "/v1/reviews", p->clin, NULL, NULL, 403, "forbidden");
	h_req(s, "GET", "/v1/reviews?status=open", p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "reviews"), i, el)
		if (strcmp(h_jstr(el, "id"), review) == 0) {
			found = true;
			rv = json_incref(el);
		}
	h_resp_free(&r);
	CHECK(found && rv != NULL);
	CHECK(strcmp(h_jstr(rv, "status"), "open") == 0);
	CHECK(strcmp(h_jstr(rv, "subject_ref"), ref) == 0);
	CHECK(strcmp(h_jstr(rv, "justification"), JUST) == 0);
	CHECK(strcmp(h_jstr(rv, "reason_code"), "ETREAT") == 0);
	CHECK(strcmp(h_jstr(json_object_get(rv, "grant"), "id"), grant) == 0);
	{
		int allowed = 0;

		json_array_foreach(json_object_get(rv, "reads"), i, el) {
			CHECK(json_integer_value(json_object_get(el, "seq")) > 0);
			if (strcmp(h_jstr(el, "outcome"), "allowed") == 0 &&
			    strcmp(h_jstr(el, "action"), "record.read") == 0)
				allowed++;
		}
		CHECK(allowed == 2);
	}
	json_decref(rv);
	snprintf(path, sizeof(path), "/v1/reviews/%s", review);
	/* never the holder, though an officer */
	h_expect(s, "POST", path, p->erin, "{\"verdict\":\"appropriate\",\"note\":\"mine\"}", NULL,
	    403, "self_approval");
	h_expect(s, "POST", path, p->clin, "{\"verdict\":\"appropriate\"}", NULL, 403, "forbidden");
	h_expect(s, "POST", path, p->olga, "{\"verdict\":\"maybe\"}", NULL, 400, "invalid_request");
	h_req(s, "POST", path, p->olga,
	    "{\"verdict\":\"inappropriate\",\"note\":\"no emergency on record\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "inappropriate") == 0);
	h_resp_free(&r);
	h_expect(s, "POST", path, p->olga, "{\"verdict\":\"appropriate\"}", NULL, 409, "conflict");
	snprintf(path, sizeof(path), "reviews/%s", review);
	CHECK(alert_open(s, p->aud, "breakglass_inappropriate", path));

	/* expiry on the injectable clock ends access on the next request */
	CHECK(read_as(s, p->erin, "labs", id->a_lab, ETREAT, NULL, NULL) == 200);
	h_clock_advance(s, 3601LL * 1000);
	h_login(s, "erin", PW_USER, p->erin, sizeof(p->erin));
	CHECK(read_as(s, p->erin, "labs", id->a_lab, ETREAT, "forbidden", NULL) == 403);
	for (int k = 0; k < 3000; k++) {
		jsonl = trail(s);
		found = count_entries(jsonl, "breakglass.expire", "allowed", NULL, NULL) == 1;
		free(jsonl);
		if (found)
			break;
		h_pause_ms(3);
	}
	CHECK(found);
	h_login(s, "olga", PW_OFF, p->olga, sizeof(p->olga));
	h_login(s, "audra", PW_USER, p->aud, sizeof(p->aud));
	h_login(s, "clara", PW_USER, p->clin, sizeof(p->clin));
}

/* a review left open past [breakglass] review_due_s raises review_overdue */
static void
test_overdue(struct h_server *s, struct people *p, struct ids *id)
{
	char body[512], review[64], grant[64], path[160];
	struct h_resp r;

	h_req(s, "POST", "/v1/breakglass", p->erin,
	    activate_body(body, sizeof(body), PAT_B, "ETREAT", JUST, PW_USER), NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(review, sizeof(review), "%s", h_jstr(r.json, "review"));
	snprintf(grant, sizeof(grant), "%s", h_jstr(r.json, "grant"));
	h_resp_free(&r);
	CHECK(read_as(s, p->erin, "visits", id->b_visit, ETREAT, NULL, NULL) == 200);
	/* the holder ends it early */
	snprintf(path, sizeof(path), "/v1/breakglass/%s/end", grant);
	h_expect(s, "POST", path, p->clin, NULL, NULL, 403, "forbidden");
	h_expect(s, "POST", path, p->erin, NULL, NULL, 200, NULL);
	h_expect(s, "POST", path, p->erin, NULL, NULL, 409, "conflict");
	CHECK(read_as(s, p->erin, "visits", id->b_visit, ETREAT, "forbidden", NULL) == 403);
	snprintf(path, sizeof(path), "reviews/%s", review);
	h_clock_advance(s, 7201LL * 1000);   /* review_due_s = 7200 here */
	h_login(s, "audra", PW_USER, p->aud, sizeof(p->aud));
	CHECK(alert_open(s, p->aud, "review_overdue", path));
	h_login(s, "olga", PW_OFF, p->olga, sizeof(p->olga));
	h_login(s, "erin", PW_USER, p->erin, sizeof(p->erin));
	h_login(s, "clara", PW_USER, p->clin, sizeof(p->clin));
	snprintf(path, sizeof(path), "/v1/reviews/%s", review);
	h_req(s, "GET", path, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "overdue")));
	CHECK(json_array_size(json_object_get(r.json, "reads")) == 1);
	h_resp_free(&r);
}

static void
test_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], *out = NULL, grant[64] = "", review[64] = "";
	json_t *j;

	snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s "
	    "PHIVAULT_TOKEN=%s %s breakglass activate --subject '%s' --reason ETREAT "
	    "--justification 'cardiac arrest, bay 4' --format json", PW_USER, s->base, s->cacert,
	    p->erin, h_bin(), PAT_A);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, PAT_A) == NULL);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	snprintf(grant, sizeof(grant), "%s", h_jstr(j, "grant"));
	snprintf(review, sizeof(review), "%s", h_jstr(j, "review"));
	json_decref(j);
	free(out);
	CHECK(strncmp(grant, "bg_", 3) == 0);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s breakglass list", s->base, s->cacert, p->erin, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, grant) != NULL && strstr(out, "active") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s breakglass end %s", s->base, s->cacert, p->erin, h_bin(), grant);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review list --status open", s->base, s->cacert, p->olga, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, review) != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review show %s --format json", s->base, s->cacert, p->olga, h_bin(), review);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(strcmp(h_jstr(j, "status"), "open") == 0);
	json_decref(j);
	free(out);
	/* the holder may not decide its own; usage errors exit 2 */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review decide %s --verdict appropriate --note mine", s->base, s->cacert, p->erin,
	    h_bin(), review);
	CHECK(h_run(cmd, &out) == 3);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review decide %s --verdict perhaps", s->base, s->cacert, p->olga, h_bin(), review);
	CHECK(h_run(cmd, &out) == 2);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review decide %s --verdict appropriate --note 'code blue documented'", s->base,
	    s->cacert, p->olga, h_bin(), review);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "appropriate") != NULL);
	free(out);
	/* the password never on the command line */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s breakglass activate --subject x --reason ETREAT --justification y --password z",
	    s->base, s->cacert, p->erin, h_bin());
	CHECK(h_run(cmd, &out) == 2);
	free(out);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	struct ids id;
	char *jsonl;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&p, 0, sizeof(p));
	h_clock_enable();
	h_init(&s, "breakglass", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "lockout_threshold", "3");
	h_config_set_in(&s, "breakglass", "review_due_s", "7200");
	h_start(&s, "--dev");
	setup(&s, &p, &id);
	test_refusals(&s, &p, &id);
	test_grant_and_review(&s, &p, &id);
	test_overdue(&s, &p, &id);
	test_cli(&s, &p);
	/* no subject value in any entry of the trail */
	jsonl = trail(&s);
	CHECK(strstr(jsonl, PAT_A) == NULL);
	CHECK(strstr(jsonl, PAT_B) == NULL);
	CHECK(strstr(jsonl, PW_USER) == NULL);
	CHECK(strstr(jsonl, JUST) == NULL);
	free(jsonl);
	CHECK(h_stop(&s) == 0);
	{
		/* nor in the server's log */
		char cmd[1200], *out = NULL;

		snprintf(cmd, sizeof(cmd), "grep -c -e '" PAT_A "' -e '" PAT_B "' -e '" PW_USER
		    "' '%s'", s.log);
		CHECK(h_run(cmd, &out) == 1);   /* grep: no line matched */
		free(out);
	}
	json_decref(s.init);
	h_done("breakglass");
	return 0;
}
