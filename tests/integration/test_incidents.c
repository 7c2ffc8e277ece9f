/*
 * Breach scope report on the real binary over HTTPS (issue 19 item 2;
 * 45 CFR 164.404, 164.308(a)(6)(ii)) against a scripted compromise:
 * carl (127.0.0.9) creates patients P1..P8 in visits, a memo without a
 * subject and a token of P4. Before the window, alice (127.0.0.2) reads
 * P7. In the window: alice reads P1 and P2, searches and finds P3,
 * detokenizes P4's token and reads the memo; bob (127.0.0.3) reads P5;
 * the app (127.0.0.1) reads P6. After the window alice reads P8 and the
 * app P8. Then P2 is shredded. POST /v1/incidents by actor, by source and
 * by a wider window give exactly the ground-truth subject sets, with their
 * identifiers (P2: shredded, no identifier), collections, fields, actions
 * and times inside the window; the CSV parses (one row per subject x
 * collection); bad requests are 400 with stable codes; an auditor gets
 * 403; revoke ends alice's sessions (next request 401) and the app's secret
 * and session; the compliance report lists the incidents; no identifier is
 * in the audit trail, the server log or any file of the data directory;
 * the CLI creates, waits and shows; the trail still verifies.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define STEP_MS 300000LL   /* 5 minutes: less than the idle timeout */

static const char *const pats[9] = { NULL, "PAT-Quillon-0001", "PAT-Rasmund-0002",
	"PAT-Sorrel-0003", "PAT-Tamsin-0004", "PAT-Ulrich-0005", "PAT-Vesna-0006",
	"PAT-Wystan-0007", "PAT-Xiomara-0008" };
static char rec[9][64], memo[64], tok4[64];
static char since_s[32], until_s[32];

struct people {
	char admin[256], carl[256], alice[256], bob[256], olga[256], audrey[256];
	char alice_id[64], bob_id[64], app_id[64], app_secret[128], app_tok[256];
};

static const char *treat[] = { "X-Purpose-Of-Use: TREAT", NULL };

static void
fmt_time(long long ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
create(struct h_server *s, const char *token, const char *coll, const char *body, char *id)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/%s/records", coll);
	h_req(s, "POST", path, token, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, 64, "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
}

static void
read_rec(struct h_server *s, const char *token, const char *coll, const char *id)
{
	char path[160];

	snprintf(path, sizeof(path), "/v1/collections/%s/records/%s", coll, id);
	h_expect(s, "GET", path, token, NULL, treat, 200, NULL);
}

static void
setup(struct h_server *s, struct people *p)
{
	char body[512], path[128];
	struct h_resp r;

	h_login_fresh(s, "admin", h_jstr(s->init, "admin_password"), PW_ADMIN, p->admin,
	    sizeof(p->admin));
	h_add_officer(s, p->admin, "olga", PW_USER, p->olga, sizeof(p->olga));
	h_add_user(s, p->admin, "audrey", "auditor", PW_USER, p->audrey, sizeof(p->audrey));
	h_source_set("127.0.0.9");
	h_add_user(s, p->admin, "carl", "clinician", PW_USER, p->carl, sizeof(p->carl));
	h_source_set("127.0.0.2");
	h_add_user(s, p->admin, "alice", "clinician", PW_USER, p->alice, sizeof(p->alice));
	h_source_set("127.0.0.3");
	h_add_user(s, p->admin, "bob", "clinician", PW_USER, p->bob, sizeof(p->bob));
	h_source_set(NULL);
	h_req(s, "GET", "/v1/users?username=alice", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p->alice_id, 64, "%s", h_jstr(json_array_get(json_object_get(r.json, "users"),
	    0), "id"));
	h_resp_free(&r);
	h_req(s, "GET", "/v1/users?username=bob", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p->bob_id, 64, "%s", h_jstr(json_array_get(json_object_get(r.json, "users"),
	    0), "id"));
	h_resp_free(&r);
	CHECK(strncmp(p->alice_id, "usr_", 4) == 0 && strncmp(p->bob_id, "usr_", 4) == 0);
	h_app_create(s, p->admin, "{\"name\":\"reader\",\"roles\":[\"analyst\"],"
	    "\"networks\":[\"127.0.0.1/32\"]}", p->app_id, sizeof(p->app_id));
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", p->app_id);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(p->app_secret, sizeof(p->app_secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", p->app_id,
	    p->app_secret);
	h_req(s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p->app_tok, sizeof(p->app_tok), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);

	h_collection_create(s, p->admin,
	    "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"searchable\":true},"
	    "{\"name\":\"note\",\"type\":\"string\"}]}");
	h_collection_create(s, p->admin,
	    "{\"name\":\"memos\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"text\",\"type\":\"string\"}]}");
	h_source_set("127.0.0.9");
	for (int i = 1; i <= 8; i++) {
		snprintf(body, sizeof(body), "{\"patient\":\"%s\",\"mrn\":\"MRN%d\",\"note\":"
		    "\"note-%d\"}", pats[i], 1000 + i, i);
		create(s, p->carl, "visits", body, rec[i]);
	}
	create(s, p->carl, "memos", "{\"text\":\"shift handover\"}", memo);
	snprintf(body, sizeof(body), "{\"collection\":\"visits\",\"field\":\"note\","
	    "\"value\":\"note-4\",\"subject\":\"%s\"}", pats[4]);
	h_req(s, "POST", "/v1/tokenize", p->carl, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(tok4, sizeof(tok4), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	h_source_set(NULL);
}

static void
script(struct h_server *s, struct people *p)
{
	char body[128];
	long long now;

	/* before the window */
	h_source_set("127.0.0.2");
	read_rec(s, p->alice, "visits", rec[7]);
	h_source_set(NULL);
	now = h_clock_advance(s, STEP_MS);
	fmt_time(now - STEP_MS / 2, since_s);
	/* the window */
	h_source_set("127.0.0.2");
	read_rec(s, p->alice, "visits", rec[1]);
	read_rec(s, p->alice, "visits", rec[2]);
	h_expect(s, "GET", "/v1/collections/visits/records?mrn=MRN1003", p->alice, NULL, treat,
	    200, NULL);
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok4);
	h_expect(s, "POST", "/v1/detokenize", p->alice, body, treat, 200, NULL);
	read_rec(s, p->alice, "memos", memo);
	/* a failed read discloses nothing: never in the scope */
	h_expect(s, "GET", "/v1/collections/visits/records/rec_nonesuch", p->alice, NULL, treat,
	    404, NULL);
	h_source_set("127.0.0.3");
	read_rec(s, p->bob, "visits", rec[5]);
	h_source_set(NULL);
	read_rec(s, p->app_tok, "visits", rec[6]);
	now = h_clock_advance(s, STEP_MS);
	fmt_time(now - STEP_MS / 2, until_s);
	/* after the window */
	h_source_set("127.0.0.2");
	read_rec(s, p->alice, "visits", rec[8]);
	h_source_set(NULL);
	read_rec(s, p->app_tok, "visits", rec[8]);
	/* P2 is shredded afterwards */
	h_expect(s, "DELETE", "/v1/subjects/PAT-Rasmund-0002", p->olga, NULL, NULL, 200, NULL);
}

/* POST /v1/incidents, wait for its job, GET it: the incident (caller's). */
static json_t *
incident(struct h_server *s, struct people *p, const char *body, char id[64])
{
	struct h_resp r;
	json_t *out = NULL;

	h_req(s, "POST", "/v1/incidents", p->olga, body, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(id, 64, "%s", h_jstr(r.json, "job"));
	CHECK(strncmp(id, "job_", 4) == 0);
	CHECK(strcmp(h_jstr(r.json, "incident"), id) == 0);
	h_resp_free(&r);
	for (int i = 0; i < 600; i++) {
		char path[128];

		snprintf(path, sizeof(path), "/v1/incidents/%s", id);
		h_req(s, "GET", path, p->olga, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(strcmp(h_jstr(r.json, "job_state"), "failed") != 0);
		if (strcmp(h_jstr(r.json, "job_state"), "done") == 0) {
			CHECK(strcmp(h_jstr(r.json, "state"), "closed") == 0);
			out = json_incref(r.json);
			h_resp_free(&r);
			return out;
		}
		CHECK(json_object_get(r.json, "subjects") == NULL);   /* only once resolved */
		h_resp_free(&r);
		h_pause_ms(100);
	}
	CHECK(!"the incident's job did not finish");
	return NULL;
}

/* The subject of identifier pats[i] in inc, or NULL. */
static json_t *
subject_of(json_t *inc, int i)
{
	json_t *s;
	size_t k;

	json_array_foreach(json_object_get(inc, "subjects"), k, s)
		if (h_jstr(s, "subject") != NULL && strcmp(h_jstr(s, "subject"), pats[i]) == 0)
			return s;
	return NULL;
}

static bool
has(json_t *arr, const char *v)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
		if (strcmp(json_string_value(e), v) == 0)
			return true;
	return false;
}

/* inc lists exactly the identified subjects in want (plus nshredded
 * shredded ones), each inside the window if inside is set. */
static void
check_set(json_t *inc, const int *want, size_t n, size_t nshredded, bool inside)
{
	json_t *s;
	size_t k, ident = 0, shred = 0;

	json_array_foreach(json_object_get(inc, "subjects"), k, s) {
		if (strcmp(h_jstr(s, "state"), "shredded") == 0) {
			CHECK(json_object_get(s, "subject") == NULL);
			CHECK(strlen(h_jstr(s, "subject_ref")) == 64);
			shred++;
			continue;
		}
		CHECK(strcmp(h_jstr(s, "state"), "active") == 0);
		ident++;
		if (inside) {
			CHECK(strcmp(h_jstr(s, "first"), since_s) >= 0);
			CHECK(strcmp(h_jstr(s, "last"), until_s) < 0);
		}
		CHECK(json_integer_value(json_object_get(s, "count")) >= 1);
		CHECK(json_array_size(json_object_get(s, "seqs")) >= 1);
	}
	for (size_t i = 0; i < n; i++) {
		if (subject_of(inc, want[i]) == NULL)
			fprintf(stderr, "missing %s in %s\n", pats[want[i]],
			    json_dumps(inc, JSON_COMPACT));
		CHECK(subject_of(inc, want[i]) != NULL);
	}
	if (ident != n || shred != nshredded)
		fprintf(stderr, "incident: %s\n", json_dumps(inc, JSON_COMPACT));
	CHECK(ident == n);
	CHECK(shred == nshredded);
	CHECK(json_integer_value(json_object_get(json_object_get(inc, "counts"), "subjects")) ==
	    (json_int_t)(n + nshredded));
}

static void
check_by_actor(struct h_server *s, struct people *p, char id_out[64])
{
	char body[512];
	json_t *inc, *s1, *s3, *s4, *c, *recs;
	static const int want[] = { 1, 3, 4 };

	snprintf(body, sizeof(body), "{\"actors\":[\"%s\"],\"since\":\"%s\",\"until\":\"%s\"}",
	    p->alice_id, since_s, until_s);
	inc = incident(s, p, body, id_out);
	check_set(inc, want, 3, 1, true);   /* P1, P3, P4 and P2 (shredded) */
	/* P1: a read of visits, every field of the record, its record ID */
	s1 = subject_of(inc, 1);
	CHECK(has(json_object_get(s1, "actions"), "record.read"));
	c = json_array_get(json_object_get(s1, "collections"), 0);
	CHECK(strcmp(h_jstr(c, "collection"), "visits") == 0);
	CHECK(has(json_object_get(c, "fields"), "patient") && has(json_object_get(c, "fields"),
	    "note"));
	recs = json_object_get(c, "records");
	CHECK(json_array_size(recs) == 1 && has(recs, rec[1]));
	/* P3 found by a search on mrn; P4 by a detokenization of its note */
	s3 = subject_of(inc, 3);
	CHECK(has(json_object_get(s3, "actions"), "record.search"));
	CHECK(has(json_object_get(s3, "fields"), "mrn"));
	s4 = subject_of(inc, 4);
	CHECK(has(json_object_get(s4, "actions"), "token.detokenize"));
	CHECK(json_array_size(json_object_get(s4, "actions")) == 1);
	CHECK(has(json_object_get(s4, "fields"), "note"));
	/* the memo has no subject: by record */
	CHECK(json_array_size(json_object_get(inc, "records_without_subject")) == 1);
	c = json_array_get(json_object_get(inc, "records_without_subject"), 0);
	CHECK(strcmp(h_jstr(c, "collection"), "memos") == 0 && strcmp(h_jstr(c, "record"),
	    memo) == 0);
	CHECK(json_integer_value(json_object_get(json_object_get(inc, "counts"), "shredded")) == 1);
	/* nothing of bob's, the app's, or outside the window */
	CHECK(subject_of(inc, 5) == NULL && subject_of(inc, 6) == NULL);
	CHECK(subject_of(inc, 7) == NULL && subject_of(inc, 8) == NULL);
	json_decref(inc);
}

static void
check_by_source(struct h_server *s, struct people *p)
{
	char body[512], id[64];
	json_t *inc;
	static const int want[] = { 6 };
	static const int want_b[] = { 5 };

	snprintf(body, sizeof(body), "{\"sources\":[\"127.0.0.1/32\",\"2001:db8::/32\"],"
	    "\"since\":\"%s\",\"until\":\"%s\"}", since_s, until_s);
	inc = incident(s, p, body, id);
	check_set(inc, want, 1, 0, true);
	CHECK(json_array_size(json_object_get(inc, "records_without_subject")) == 0);
	json_decref(inc);
	/* bob's source: P5 */
	snprintf(body, sizeof(body), "{\"sources\":[\"127.0.0.3\"],\"since\":\"%s\","
	    "\"until\":\"%s\"}", since_s, until_s);
	inc = incident(s, p, body, id);
	check_set(inc, want_b, 1, 0, true);
	json_decref(inc);
}

static void
check_by_window(struct h_server *s, struct people *p)
{
	char body[512], id[64];
	json_t *inc;
	static const int wide[] = { 1, 3, 4, 7, 8 };
	static const int app_wide[] = { 6, 8 };

	/* a wider window: before and after too */
	snprintf(body, sizeof(body), "{\"actors\":[\"%s\"],\"since\":\"2000-01-01T00:00:00Z\"}",
	    p->alice_id);
	inc = incident(s, p, body, id);
	check_set(inc, wide, 5, 1, false);
	json_decref(inc);
	snprintf(body, sizeof(body), "{\"actors\":[\"%s\"],\"since\":\"2000-01-01T00:00:00Z\"}",
	    p->app_id);
	inc = incident(s, p, body, id);
	check_set(inc, app_wide, 2, 0, false);
	json_decref(inc);
}

static void
check_csv(struct h_server *s, struct people *p, const char *id)
{
	char path[128], *line, *save = NULL, *copy;
	struct h_resp r;
	int rows = 0;
	bool p1 = false;

	snprintf(path, sizeof(path), "/v1/incidents/%s?format=csv", id);
	h_req(s, "GET", path, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: text/csv"));
	CHECK(strncmp(r.body, "subject,subject_ref,state,collection,fields,actions,first,last,"
	    "count,records\r\n", 71) == 0);
	copy = strdup(r.body);
	for (line = strtok_r(copy, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n",
	    &save)) {
		int commas = 0;

		for (char *c = line; *c != '\0'; c++)
			commas += *c == ',';
		CHECK(commas == 9);   /* no cell needs quoting here: 10 cells */
		rows++;
		if (strncmp(line, pats[1], strlen(pats[1])) == 0) {
			p1 = true;
			CHECK(strstr(line, ",active,visits,") != NULL);
			CHECK(strstr(line, "record.read") != NULL && strstr(line, rec[1]) != NULL);
		}
	}
	free(copy);
	CHECK(rows == 1 + 4);   /* header; P1, P2, P3, P4 in visits */
	CHECK(p1);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/incidents/job_nonesuch?format=json", p->olga, NULL, NULL, 404,
	    "not_found");
	snprintf(path, sizeof(path), "/v1/incidents/%s?format=xml", id);
	h_expect(s, "GET", path, p->olga, NULL, NULL, 400, "invalid_request");
}

static void
check_refusals(struct h_server *s, struct people *p)
{
	char body[512];

	/* an auditor may not (incidents.manage: security_officer) */
	h_expect(s, "GET", "/v1/incidents", p->audrey, NULL, NULL, 403, "forbidden");
	snprintf(body, sizeof(body), "{\"actors\":[\"%s\"],\"since\":\"%s\"}", p->alice_id,
	    since_s);
	h_expect(s, "POST", "/v1/incidents", p->audrey, body, NULL, 403, "forbidden");
	h_expect(s, "POST", "/v1/incidents", p->alice, body, NULL, 403, "forbidden");
	/* bad requests: 400, nothing queued */
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"actors\":[],\"sources\":[],"
	    "\"since\":\"2026-01-01T00:00:00Z\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"since\":\"2026-01-01T00:00:00Z\"}",
	    NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"sources\":[\"10.0.0.1/8\"],"
	    "\"since\":\"2026-01-01T00:00:00Z\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"sources\":[\"10.0.0.0/8\"],"
	    "\"since\":\"yesterday\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"sources\":[\"10.0.0.0/8\"],"
	    "\"since\":\"2026-01-02T00:00:00Z\",\"until\":\"2026-01-01T00:00:00Z\"}", NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"actors\":[\"bob\"],"
	    "\"since\":\"2026-01-01T00:00:00Z\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"actors\":[\"usr_aaaaaaaaaaaaaaaaaaaaaaaaaa\"],"
	    "\"since\":\"2026-01-01T00:00:00Z\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"sources\":[\"10.0.0.0/8\"],"
	    "\"since\":\"2026-01-01T00:00:00Z\",\"revoke\":{\"sessions\":\"yes\"}}", NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/incidents", p->olga, "{\"sources\":[\"10.0.0.0/8\"],"
	    "\"since\":\"2026-01-01T00:00:00Z\",\"extra\":1}", NULL, 400, "invalid_request");
}

static void
check_revoke(struct h_server *s, struct people *p)
{
	char body[512], id[64];
	struct h_resp r;
	json_t *inc;
	static const int want[] = { 1, 3, 4, 6 };

	h_expect(s, "GET", "/v1/auth/session", p->alice, NULL, NULL, 200, NULL);
	h_expect(s, "GET", "/v1/auth/session", p->app_tok, NULL, NULL, 200, NULL);
	snprintf(body, sizeof(body), "{\"actors\":[\"%s\",\"%s\"],\"since\":\"%s\","
	    "\"until\":\"%s\",\"revoke\":{\"sessions\":true,\"secrets\":true}}", p->alice_id,
	    p->app_id, since_s, until_s);
	h_req(s, "POST", "/v1/incidents", p->olga, body, NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(json_integer_value(json_object_get(json_object_get(r.json, "revoked"),
	    "sessions_ended")) >= 2);
	CHECK(json_integer_value(json_object_get(json_object_get(r.json, "revoked"),
	    "secrets_revoked")) == 1);
	snprintf(id, sizeof(id), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	/* at once: alice's and the app's next requests are refused */
	h_expect(s, "GET", "/v1/auth/session", p->alice, NULL, NULL, 401, NULL);
	h_expect(s, "GET", "/v1/auth/session", p->app_tok, NULL, NULL, 401, NULL);
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", p->app_id,
	    p->app_secret);
	h_expect(s, "POST", "/v1/auth/app", NULL, body, NULL, 401, NULL);
	/* bob was not named */
	h_expect(s, "GET", "/v1/auth/session", p->bob, NULL, NULL, 200, NULL);
	/* alice may sign in again (not disabled) */
	CHECK(h_login_status(s, "alice", PW_USER, NULL, 0) == 200);
	for (int i = 0; i < 600; i++) {
		char path[128];

		snprintf(path, sizeof(path), "/v1/incidents/%s", id);
		h_req(s, "GET", path, p->olga, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		if (strcmp(h_jstr(r.json, "job_state"), "done") == 0)
			break;
		h_resp_free(&r);
		h_pause_ms(100);
	}
	inc = json_incref(r.json);
	h_resp_free(&r);
	check_set(inc, want, 4, 1, true);   /* alice's and the app's reads */
	json_decref(inc);
}

static void
check_list_and_compliance(struct h_server *s, struct people *p)
{
	struct h_resp r;
	json_t *c, *ev = NULL;
	size_t i;

	h_req(s, "GET", "/v1/incidents", p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "incidents")) == 6);
	CHECK(strstr(r.body, pats[1]) == NULL);   /* the list names no patient */
	h_resp_free(&r);
	h_req(s, "GET", "/v1/compliance/report", p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "controls"), i, c) {
		json_t *e;
		size_t k;

		if (strcmp(h_jstr(c, "cfr"), "164.308(a)(6)(ii)") != 0)
			continue;
		json_array_foreach(json_object_get(c, "evaluations"), k, e)
			if (strcmp(h_jstr(e, "id"), "incidents") == 0) {
				CHECK(strcmp(h_jstr(e, "status"), "pass") == 0);
				ev = json_object_get(e, "evidence");
			}
	}
	if (ev == NULL)
		fprintf(stderr, "report: %.2000s\n", r.body);
	CHECK(ev != NULL);
	CHECK(json_integer_value(json_object_get(ev, "incidents")) == 6);
	CHECK(json_array_size(json_object_get(ev, "recent")) == 6);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(ev, "recent"), 0), "state"),
	    "closed") == 0);
	CHECK(strstr(r.body, pats[1]) == NULL);
	h_resp_free(&r);
}

static void
check_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], env[1024], *out = NULL;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s",
	    s->base, s->cacert, p->olga, h_bin());
	snprintf(cmd, sizeof(cmd), "%s incident create --actor %s --since %s --until %s --wait "
	    "--format text", env, p->bob_id, since_s, until_s);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, pats[5]) != NULL && strstr(out, "closed") != NULL);
	CHECK(strstr(out, pats[1]) == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s incident list --format text", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "closed") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s incident create --since %s 2>&1", env, since_s);
	CHECK(h_run(cmd, &out) == 2);   /* no actor, no source: usage */
	free(out);
}

/* No identifier in the trail, the log, or any file of the data directory. */
static void
check_no_identifiers(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>&1", h_bin(),
	    s->dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "incident.create") != NULL && strstr(out, "incident.read") != NULL);
	for (int i = 1; i <= 8; i++)
		CHECK(strstr(out, pats[i]) == NULL);
	free(out);
	for (int i = 1; i <= 8; i++) {
		snprintf(cmd, sizeof(cmd), "grep -r -l -a -F '%s' %s %s", pats[i], s->dir, s->log);
		CHECK(h_run(cmd, NULL) == 1);   /* grep: no match anywhere */
	}
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char id[64], cmd[1024], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "incidents", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	setup(&s, &p);
	script(&s, &p);
	check_refusals(&s, &p);
	check_by_actor(&s, &p, id);
	check_csv(&s, &p, id);
	check_by_source(&s, &p);
	check_by_window(&s, &p);
	check_revoke(&s, &p);
	check_list_and_compliance(&s, &p);
	check_cli(&s, &p);
	CHECK(h_stop(&s) == 0);
	check_no_identifiers(&s);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	json_decref(s.init);
	h_done("incidents");
	return 0;
}
