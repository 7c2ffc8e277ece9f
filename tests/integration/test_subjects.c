/*
 * Subject keys, patient crypto-shredding and legal hold on the real binary
 * over HTTPS (issue 11 item 4, issue 12 item 7): two collections with a
 * subject field, patients A and B in both and records without a subject;
 * the census counts the subject keys; re-encryption (rewrap_dek and full)
 * still reads every record back; a clinician and an admin get 403 on
 * shredding; B under legal hold cannot be shredded (409 legal_hold);
 * shredding A makes every A record in both collections 410
 * subject_shredded at once, a search by A's indexed field finds nothing,
 * B and the records without a subject are intact, the census drops, a new
 * record for A is refused, and the trail has subject.shred with A's
 * reference, never the value. Retention: a collection with retention_days
 * 1, two days later (the injectable clock) POST /v1/sys/retention disposes
 * its records except B's (legal hold); the run is killed with SIGKILL in
 * the middle and resumes; every disposal is a retention.dispose entry with
 * the record IDs. Tokens minted with "subject" (random and deterministic,
 * and an existing token linked later) are shredded with their patient in
 * the same transaction: detokenize answers 410 subject_shredded, tokens of
 * B and without a subject still detokenize.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define PAT_A "PAT-A-Zebulon-1001"
#define PAT_B "PAT-B-Xanthe-2002"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[128], kay[128], clin[128], olga[128];
};

struct rec {
	char coll[16];
	char id[64];
	char *want;          /* canonical fields JSON */
	char patient;        /* 'A', 'B' or 0 */
};

#define N_RECS 12
static struct rec recs[N_RECS];
static size_t nrecs;

static void
create(struct h_server *s, struct people *p, const char *coll, const char *body, char patient)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/%s/records", coll);
	h_req(s, "POST", path, p->clin, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(nrecs < N_RECS);
	snprintf(recs[nrecs].coll, sizeof(recs[nrecs].coll), "%s", coll);
	snprintf(recs[nrecs].id, sizeof(recs[nrecs].id), "%s", h_jstr(r.json, "id"));
	recs[nrecs].patient = patient;
	nrecs++;
	h_resp_free(&r);
}

/* status of a read of recs[i]; on 200 its fields compared with (or kept as) want */
static long
read_rec(struct h_server *s, struct people *p, size_t i, bool keep)
{
	char path[160];
	struct h_resp r;
	long st;

	snprintf(path, sizeof(path), "/v1/collections/%s/records/%s", recs[i].coll, recs[i].id);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	st = r.status;
	if (st == 200) {
		char *got = json_dumps(json_object_get(r.json, "fields"), JSON_COMPACT | JSON_SORT_KEYS);

		CHECK(got != NULL);
		if (keep) {
			free(recs[i].want);
			recs[i].want = got;
		} else {
			CHECK(strcmp(got, recs[i].want) == 0);
			free(got);
		}
	} else if (st == 410) {
		CHECK(strcmp(h_err_code(&r), "subject_shredded") == 0);
	}
	h_resp_free(&r);
	return st;
}

static long long
census(struct h_server *s, struct people *p, const char *key, int version)
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;
	long long n = -1;

	h_req(s, "GET", "/v1/keys", p->kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), key) != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver)
			if (json_integer_value(json_object_get(ver, "version")) == version)
				n = json_integer_value(json_object_get(ver, "objects"));
	}
	h_resp_free(&r);
	return n;
}

static void
setup(struct h_server *s, struct people *p)
{
	/* at most one subject field, and only a string */
	h_expect(s, "POST", "/v1/collections", p->admin,
	    "{\"name\":\"bad1\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"a\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"b\",\"type\":\"string\",\"subject\":true}]}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/collections", p->admin,
	    "{\"name\":\"bad2\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"a\",\"type\":\"integer\",\"subject\":true}]}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/collections", p->admin,
	    "{\"name\":\"bad3\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"a\",\"type\":\"string\",\"subject\":1}]}", NULL, 400, "invalid_request");
	h_collection_create(s, p->admin,
	    "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"searchable\":true},"
	    "{\"name\":\"note\",\"type\":\"string\"}]}");
	h_collection_create(s, p->admin,
	    "{\"name\":\"labs\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"who\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"test\",\"type\":\"string\",\"searchable\":true}]}");
	create(s, p, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA1\",\"note\":\"a1\"}", 'A');
	create(s, p, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA1\",\"note\":\"a2\"}", 'A');
	create(s, p, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA1\",\"note\":\"a3\"}", 'A');
	create(s, p, "visits", "{\"patient\":\"" PAT_B "\",\"mrn\":\"MRNB1\",\"note\":\"b1\"}", 'B');
	create(s, p, "visits", "{\"patient\":\"" PAT_B "\",\"mrn\":\"MRNB1\",\"note\":\"b2\"}", 'B');
	create(s, p, "visits", "{\"mrn\":\"MRNC1\",\"note\":\"nobody\"}", 0);
	create(s, p, "labs", "{\"who\":\"" PAT_A "\",\"test\":\"hba1c-a\"}", 'A');
	create(s, p, "labs", "{\"who\":\"" PAT_A "\",\"test\":\"lipid-a\"}", 'A');
	create(s, p, "labs", "{\"who\":\"" PAT_B "\",\"test\":\"hba1c-b\"}", 'B');
	/* a batch create under a subject, and a PATCH keeps it */
	{
		struct h_resp r;
		char path[160];

		h_req(s, "POST", "/v1/collections/labs/records:batch", p->clin,
		    "{\"create\":[{\"who\":\"" PAT_B "\",\"test\":\"tsh-b\"}]}", NULL, &r);
		CHECK_STATUS(&r, 200);
		{
			json_t *res = json_array_get(json_object_get(r.json, "results"), 0);

			CHECK(json_integer_value(json_object_get(res, "status")) == 201);
			snprintf(recs[nrecs].coll, sizeof(recs[nrecs].coll), "labs");
			snprintf(recs[nrecs].id, sizeof(recs[nrecs].id), "%s", h_jstr(res, "id"));
			recs[nrecs].patient = 'B';
			nrecs++;
		}
		h_resp_free(&r);
		snprintf(path, sizeof(path), "/v1/collections/visits/records/%s", recs[0].id);
		h_req(s, "PATCH", path, p->clin, "{\"note\":\"a1-patched\"}", NULL, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
	for (size_t i = 0; i < nrecs; i++)
		CHECK(read_rec(s, p, i, true) == 200);
	CHECK(strstr(recs[0].want, "a1-patched") != NULL);
	/* two subject keys, one per patient, whatever the collections */
	CHECK(census(s, p, "subjects", 1) == 2);
	CHECK(census(s, p, "collection:visits", 1) == 6);
	CHECK(census(s, p, "collection:labs", 1) == 4);
}

static void
wait_job(struct h_server *s, struct people *p, const char *job)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/jobs/%s", job);
	for (int i = 0; i < 20000; i++) {
		struct h_resp r;
		char st[16];

		h_req(s, "GET", path, p->admin, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(st, sizeof(st), "%s", h_jstr(r.json, "state"));
		h_resp_free(&r);
		if (strcmp(st, "done") == 0)
			return;
		CHECK(strcmp(st, "failed") != 0);
		h_clock_advance(s, 1000);
		h_pause_ms(2);
	}
	CHECK(!"job did not finish");
}

static void
reencrypt(struct h_server *s, struct people *p, const char *key, const char *mode)
{
	char path[128], body[128], job[64];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/keys/%s/rotate", key);
	h_expect(s, "POST", path, p->kay, NULL, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1/keys/%s/reencrypt", key);
	snprintf(body, sizeof(body), "{\"mode\":\"%s\",\"max_rps\":100000}", mode);
	h_req(s, "POST", path, p->kay, body, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	wait_job(s, p, job);
}

static void
test_reencrypt(struct h_server *s, struct people *p)
{
	reencrypt(s, p, "collection:visits", "rewrap_dek");
	CHECK(census(s, p, "collection:visits", 1) == 0);
	CHECK(census(s, p, "collection:visits", 2) == 6);
	reencrypt(s, p, "collection:labs", "full");
	CHECK(census(s, p, "collection:labs", 1) == 0);
	CHECK(census(s, p, "collection:labs", 2) == 4);
	reencrypt(s, p, "subjects", "rewrap_dek");
	CHECK(census(s, p, "subjects", 1) == 0);
	CHECK(census(s, p, "subjects", 2) == 2);
	for (size_t i = 0; i < nrecs; i++)
		CHECK(read_rec(s, p, i, false) == 200);
}

static void
test_shred(struct h_server *s, struct people *p)
{
	struct h_resp r;
	char refa[80];

	/* only a holder of records.shred: 403 for a clinician and an admin */
	h_expect(s, "DELETE", "/v1/subjects/" PAT_A, p->clin, NULL, NULL, 403, "forbidden");
	h_expect(s, "DELETE", "/v1/subjects/" PAT_A, p->admin, NULL, NULL, 403, "forbidden");
	h_expect(s, "POST", "/v1/subjects/" PAT_B "/hold", p->clin, "{\"reason\":\"x\"}", NULL,
	    403, "forbidden");
	h_expect(s, "GET", "/v1/subjects/" PAT_A, p->kay, NULL, NULL, 403, "forbidden");
	h_expect(s, "GET", "/v1/subjects/nobody-at-all", p->olga, NULL, NULL, 404, "not_found");

	h_req(s, "GET", "/v1/subjects/" PAT_A, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "active") == 0);
	CHECK(json_is_null(json_object_get(r.json, "hold")));
	CHECK(json_integer_value(json_object_get(r.json, "records")) == 5);
	CHECK(json_integer_value(json_object_get(json_object_get(r.json, "collections"),
	    "visits")) == 3);
	CHECK(json_integer_value(json_object_get(json_object_get(r.json, "collections"),
	    "labs")) == 2);
	snprintf(refa, sizeof(refa), "%s", h_jstr(r.json, "subject"));
	CHECK(strlen(refa) == 64);
	CHECK(strstr(r.body, PAT_A) == NULL);
	h_resp_free(&r);

	/* legal hold on B: bad bodies refused, then shredding B is 409 */
	h_expect(s, "POST", "/v1/subjects/" PAT_B "/hold", p->olga, "{}", NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/subjects/" PAT_B "/hold", p->olga,
	    "{\"reason\":\"litigation\",\"x\":1}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/subjects/" PAT_B "/hold", p->olga,
	    "{\"reason\":\"litigation hold 2026-17\"}", NULL, 200, NULL);
	h_expect(s, "DELETE", "/v1/subjects/" PAT_B, p->olga, NULL, NULL, 409, "legal_hold");
	h_req(s, "GET", "/v1/subjects/" PAT_B, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "hold"), "reason"),
	    "litigation hold 2026-17") == 0);
	CHECK(json_integer_value(json_object_get(r.json, "records")) == 4);
	h_resp_free(&r);
	/* release and hold again: the hold is what stops it */
	h_expect(s, "DELETE", "/v1/subjects/" PAT_B "/hold", p->olga, NULL, NULL, 200, NULL);
	h_req(s, "GET", "/v1/subjects/" PAT_B, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_null(json_object_get(r.json, "hold")));
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/subjects/" PAT_B "/hold", p->olga, "{\"reason\":\"litigation\"}",
	    NULL, 200, NULL);

	/* shred A */
	h_req(s, "DELETE", "/v1/subjects/" PAT_A, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "shredded") == 0);
	CHECK(json_integer_value(json_object_get(json_object_get(r.json, "collections"),
	    "visits")) == 3);
	h_resp_free(&r);
	for (size_t i = 0; i < nrecs; i++) {
		long st = read_rec(s, p, i, false);

		CHECK(st == (recs[i].patient == 'A' ? 410 : 200));
	}
	/* A's index entries went with it; B's are there */
	h_req(s, "GET", "/v1/collections/visits/records?mrn=MRNA1", p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/labs/records?test=hba1c-a", p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/visits/records?mrn=MRNB1", p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 2);
	h_resp_free(&r);
	/* the census: A's key and its five DEKs are gone */
	CHECK(census(s, p, "subjects", 2) == 1);
	CHECK(census(s, p, "collection:visits", 2) == 3);
	CHECK(census(s, p, "collection:labs", 2) == 2);
	/* again: 410; a new record for A: 410, nothing stored */
	h_expect(s, "DELETE", "/v1/subjects/" PAT_A, p->olga, NULL, NULL, 410, "subject_shredded");
	h_expect(s, "POST", "/v1/collections/visits/records", p->clin,
	    "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA2\"}", NULL, 410, "subject_shredded");
	CHECK(census(s, p, "collection:visits", 2) == 3);
	h_req(s, "GET", "/v1/subjects/" PAT_A, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "shredded") == 0);
	CHECK(json_integer_value(json_object_get(r.json, "records")) == 0);
	h_resp_free(&r);
	/* after a crash and restart, still shredded */
	h_kill9_restart(s, "--dev");
	for (size_t i = 0; i < nrecs; i++)
		CHECK(read_rec(s, p, i, false) == (recs[i].patient == 'A' ? 410 : 200));
}

/* Tokens of A (random, deterministic, and one minted without a subject then
 * linked), of B, and without a subject. */
static char tok_a1[64], tok_a2[64], tok_a3[64], tok_b[64], tok_none[64];

static void
tokenize(struct h_server *s, struct people *p, const char *body, char out[64])
{
	struct h_resp r;

	h_req(s, "POST", "/v1/tokenize", p->clin, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, 64, "%s", h_jstr(r.json, "token"));
	CHECK(strncmp(out, "tok_", 4) == 0);
	h_resp_free(&r);
}

static long
detokenize(struct h_server *s, struct people *p, const char *tok, const char *code)
{
	char body[128];
	struct h_resp r;
	long st;

	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok);
	h_req(s, "POST", "/v1/detokenize", p->clin, body, TREAT, &r);
	st = r.status;
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	CHECK(strstr(r.body, "NOTE-A-") == NULL || st == 200);
	h_resp_free(&r);
	return st;
}

static void
test_tokens_minted(struct h_server *s, struct people *p)
{
	char again[64];

	h_collection_create(s, p->admin,
	    "{\"name\":\"plain\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"note\",\"type\":\"string\"}]}");
	/* a subject needs a collection with a subject field, and a value */
	h_expect(s, "POST", "/v1/tokenize", p->clin, "{\"collection\":\"plain\",\"field\":"
	    "\"note\",\"value\":\"x\",\"subject\":\"" PAT_A "\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/tokenize", p->clin, "{\"collection\":\"visits\",\"field\":"
	    "\"note\",\"value\":\"x\",\"subject\":\"\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/tokenize", p->clin, "{\"collection\":\"visits\",\"field\":"
	    "\"note\",\"value\":\"x\",\"subject\":7}", NULL, 400, "invalid_request");
	tokenize(s, p, "{\"collection\":\"visits\",\"field\":\"note\",\"value\":\"NOTE-A-1\","
	    "\"subject\":\"" PAT_A "\"}", tok_a1);
	tokenize(s, p, "{\"collection\":\"visits\",\"field\":\"mrn\",\"value\":\"MRNA1\","
	    "\"deterministic\":true,\"subject\":\"" PAT_A "\"}", tok_a2);
	/* minted without a subject, then linked by a tokenization naming A */
	tokenize(s, p, "{\"collection\":\"visits\",\"field\":\"mrn\",\"value\":\"MRNA9\","
	    "\"deterministic\":true}", tok_a3);
	tokenize(s, p, "{\"collection\":\"visits\",\"field\":\"mrn\",\"value\":\"MRNA9\","
	    "\"deterministic\":true,\"subject\":\"" PAT_A "\"}", again);
	CHECK(strcmp(again, tok_a3) == 0);
	/* ... and then it belongs to A: B cannot take it */
	h_expect(s, "POST", "/v1/tokenize", p->clin, "{\"collection\":\"visits\",\"field\":"
	    "\"mrn\",\"value\":\"MRNA9\",\"deterministic\":true,\"subject\":\"" PAT_B "\"}",
	    NULL, 409, "conflict");
	tokenize(s, p, "{\"collection\":\"labs\",\"field\":\"test\",\"value\":\"NOTE-B-1\","
	    "\"subject\":\"" PAT_B "\"}", tok_b);
	tokenize(s, p, "{\"collection\":\"visits\",\"field\":\"note\",\"value\":\"NOTE-N\"}",
	    tok_none);
	CHECK(detokenize(s, p, tok_a1, NULL) == 200);
	CHECK(detokenize(s, p, tok_a2, NULL) == 200);
	CHECK(detokenize(s, p, tok_a3, NULL) == 200);
}

/* after A's shred (under hold: B) */
static void
test_tokens_shredded(struct h_server *s, struct people *p)
{
	CHECK(detokenize(s, p, tok_a1, "subject_shredded") == 410);
	CHECK(detokenize(s, p, tok_a2, "subject_shredded") == 410);
	CHECK(detokenize(s, p, tok_a3, "subject_shredded") == 410);
	CHECK(detokenize(s, p, tok_b, NULL) == 200);
	CHECK(detokenize(s, p, tok_none, NULL) == 200);
	/* a never-issued token is still 404 for a holder of tokens.detokenize:* */
	CHECK(detokenize(s, p, "tok_aaaaaaaaaaaaaaaaaaaaaaaaaa", "not_found") == 404);
	h_expect(s, "POST", "/v1/tokenize", p->clin, "{\"collection\":\"visits\",\"field\":"
	    "\"note\",\"value\":\"NOTE-A-2\",\"subject\":\"" PAT_A "\"}", NULL, 410,
	    "subject_shredded");
}

#define N_OLD 300
static char old_ids[N_OLD][64];
static long long advanced_ms;

static void
relogin(struct h_server *s, struct people *p)
{
	h_login(s, "admin", PW_ADMIN, p->admin, sizeof(p->admin));
	h_login(s, "clara", PW_USER, p->clin, sizeof(p->clin));
	h_login(s, "olga", PW_USER, p->olga, sizeof(p->olga));
}

static long long
job_state(struct h_server *s, struct people *p, const char *job, char st[16])
{
	char path[128];
	struct h_resp r;
	long long done;

	snprintf(path, sizeof(path), "/v1/jobs/%s", job);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "kind"), "retention") == 0);
	snprintf(st, 16, "%s", h_jstr(r.json, "state"));
	done = json_integer_value(json_object_get(r.json, "done"));
	h_resp_free(&r);
	return done;
}

static void
retention_run(struct h_server *s, struct people *p, char job[64])
{
	struct h_resp r;

	h_req(s, "POST", "/v1/sys/retention", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, 64, "%s", h_jstr(r.json, "job"));
	CHECK(strncmp(job, "job_", 4) == 0);
	h_resp_free(&r);
}

static void
retention_wait(struct h_server *s, struct people *p, const char *job)
{
	char st[16];

	for (int i = 0; i < 20000; i++) {
		(void)job_state(s, p, job, st);
		if (strcmp(st, "done") == 0)
			return;
		CHECK(strcmp(st, "failed") != 0);
		h_pause_ms(3);
	}
	CHECK(!"the retention run did not finish");
}

static void
test_retention(struct h_server *s, struct people *p)
{
	char job[64], path[160], env[64], *body = malloc(64 * 1024);
	struct h_resp r;
	size_t eb, ed;
	long long done = 0;
	char st[16];

	CHECK(body != NULL);
	h_collection_create(s, p->admin,
	    "{\"name\":\"episodes\",\"region\":\"local\",\"retention_days\":1,\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"note\",\"type\":\"string\",\"searchable\":true}]}");
	eb = nrecs;
	create(s, p, "episodes", "{\"patient\":\"" PAT_B "\",\"note\":\"held-b\"}", 'B');
	ed = nrecs;
	create(s, p, "episodes", "{\"patient\":\"PAT-D-Quillon-4004\",\"note\":\"d\"}", 'D');
	for (int b = 0; b < N_OLD / 100; b++) {
		size_t off = (size_t)snprintf(body, 64 * 1024, "{\"create\":[");

		for (int i = 0; i < 100; i++)
			off += (size_t)snprintf(body + off, 64 * 1024 - off,
			    "%s{\"note\":\"old-%03d\"}", i ? "," : "", b * 100 + i);
		snprintf(body + off, 64 * 1024 - off, "]}");
		h_req(s, "POST", "/v1/collections/episodes/records:batch", p->clin, body, NULL, &r);
		CHECK_STATUS(&r, 200);
		for (int i = 0; i < 100; i++) {
			json_t *res = json_array_get(json_object_get(r.json, "results"), (size_t)i);

			CHECK(json_integer_value(json_object_get(res, "status")) == 201);
			snprintf(old_ids[b * 100 + i], 64, "%s", h_jstr(res, "id"));
		}
		h_resp_free(&r);
	}
	free(body);
	/* only sys.backup may run it */
	h_expect(s, "POST", "/v1/sys/retention", p->clin, NULL, NULL, 403, "forbidden");
	h_expect(s, "POST", "/v1/sys/retention", p->olga, NULL, NULL, 403, "forbidden");
	/* not yet due: a run now disposes nothing */
	retention_run(s, p, job);
	retention_wait(s, p, job);
	CHECK(job_state(s, p, job, st) == 0);
	CHECK(read_rec(s, p, eb, true) == 200);
	CHECK(read_rec(s, p, ed, true) == 200);
	/* two days later */
	advanced_ms += 2LL * 86400 * 1000 + 1000;
	h_clock_advance(s, 2LL * 86400 * 1000 + 1000);
	relogin(s, p);
	/* refused before the handler (a restricted first session): the route-level
	 * entry never carries the subject from the path */
	{
		char otp[128], rtok[128];

		h_user_create(s, p->admin, "rita", "clinician", NULL, NULL, 0, otp, sizeof(otp));
		CHECK(h_login_status(s, "rita", otp, rtok, sizeof(rtok)) == 200);
		h_expect(s, "DELETE", "/v1/subjects/PAT-Z-Ozymandias-77", rtok, NULL, NULL, 403,
		    "password_change_required");
	}
	retention_run(s, p, job);
	for (int i = 0; i < 20000; i++) {
		done = job_state(s, p, job, st);
		if (done >= 100 || strcmp(st, "done") == 0)
			break;
		h_pause_ms(3);
	}
	fprintf(stderr, "retention: kill -9 at done=%lld (%s)\n", done, st);
	CHECK(strcmp(st, "running") == 0 || strcmp(st, "queued") == 0);
	snprintf(env, sizeof(env), "%lld", advanced_ms);
	CHECK(setenv("PHIVAULT_TEST_CLOCK_ADVANCE_MS", env, 1) == 0);
	h_kill9_restart(s, "--dev");
	CHECK(job_state(s, p, job, st) >= done);
	retention_wait(s, p, job);
	/* a batch whose disposal had not committed at the kill: the next run */
	retention_run(s, p, job);
	retention_wait(s, p, job);
	/* every old record is gone (404), B's (legal hold) reads, D's is gone */
	for (int i = 0; i < N_OLD; i++) {
		snprintf(path, sizeof(path), "/v1/collections/episodes/records/%s", old_ids[i]);
		h_expect(s, "GET", path, p->clin, NULL, TREAT, 404, "not_found");
	}
	CHECK(read_rec(s, p, eb, false) == 200);
	snprintf(path, sizeof(path), "/v1/collections/episodes/records/%s", recs[ed].id);
	h_expect(s, "GET", path, p->clin, NULL, TREAT, 404, "not_found");
	/* their index entries went too */
	h_req(s, "GET", "/v1/collections/episodes/records?note=old-007", p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 0);
	h_resp_free(&r);
	/* other collections keep 2190 days: untouched */
	for (size_t i = 0; i < eb; i++)
		CHECK(read_rec(s, p, i, false) == (recs[i].patient == 'A' ? 410 : 200));
	/* the hold is what kept B's: released, the next run disposes it */
	h_expect(s, "DELETE", "/v1/subjects/" PAT_B "/hold", p->olga, NULL, NULL, 200, NULL);
	retention_run(s, p, job);
	retention_wait(s, p, job);
	snprintf(path, sizeof(path), "/v1/collections/episodes/records/%s", recs[eb].id);
	h_expect(s, "GET", path, p->clin, NULL, TREAT, 404, "not_found");
}

static size_t
retention_jobs(struct h_server *s, struct people *p)
{
	struct h_resp r;
	json_t *j, *list;
	size_t i, n = 0;

	h_req(s, "GET", "/v1/jobs", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	list = json_is_array(r.json) ? r.json : json_object_get(r.json, "jobs");
	json_array_foreach(list, i, j)
		if (strcmp(h_jstr(j, "kind"), "retention") == 0)
			n++;
	h_resp_free(&r);
	return n;
}

/* [retention] every_s: once a year has passed on the server's clock since the
 * last run, the server queues one by itself */
static void
test_schedule(struct h_server *s, struct people *p)
{
	size_t before = retention_jobs(s, p), now = before;

	h_clock_advance(s, 366LL * 86400 * 1000);
	advanced_ms += 366LL * 86400 * 1000;
	relogin(s, p);
	for (int i = 0; i < 5000 && now == before; i++) {
		now = retention_jobs(s, p);
		if (now == before)
			h_pause_ms(3);
	}
	CHECK(now == before + 1);
}

/* phivault subject show|hold|release|shred and phivault retention run */
static void
test_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], env_o[1024], env_a[1024], *out = NULL;

	snprintf(env_o, sizeof(env_o), "PHIVAULT_ADDR=https://127.0.0.1:%u "
	    "PHIVAULT_CACERT=%s/tls/cert.pem PHIVAULT_TOKEN=%s", s->port, s->dir, p->olga);
	snprintf(env_a, sizeof(env_a), "PHIVAULT_ADDR=https://127.0.0.1:%u "
	    "PHIVAULT_CACERT=%s/tls/cert.pem PHIVAULT_TOKEN=%s", s->port, s->dir, p->admin);
	snprintf(cmd, sizeof(cmd), "%s %s subject show '" PAT_B "' --format json", env_o, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"active\"") != NULL && strstr(out, "Xanthe") == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s subject hold '" PAT_B "' --reason 'audit 7' "
	    "--format text", env_o, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "legal hold on") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s subject show '" PAT_B "' --format text", env_o, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "hold     yes") != NULL && strstr(out, "audit 7") != NULL);
	free(out);
	/* held: shred refused by the server (409 legal_hold, exit 3) */
	snprintf(cmd, sizeof(cmd), "%s %s subject shred '" PAT_B "' --yes 2>&1", env_o, h_bin());
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "legal_hold") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s subject release '" PAT_B "' --format text", env_o,
	    h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "legal hold off") != NULL);
	free(out);
	/* no terminal and no --yes: refused before any request */
	snprintf(cmd, sizeof(cmd), "%s %s subject shred '" PAT_B "' </dev/null 2>&1", env_o,
	    h_bin());
	CHECK(h_run(cmd, &out) == 2);
	CHECK(strstr(out, "--yes") != NULL);
	free(out);
	h_expect(s, "GET", "/v1/subjects/" PAT_B, p->olga, NULL, NULL, 200, NULL);
	/* a value with characters a path must escape */
	snprintf(cmd, sizeof(cmd), "%s %s subject show 'a b/c?d' 2>&1", env_o, h_bin());
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "not_found") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s subject shred 'PAT-D-Quillon-4004' --yes --format json",
	    env_o, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"shredded\"") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s retention run --format json", env_a, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "job_") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s subject frob X 2>&1", env_o, h_bin());
	CHECK(h_run(cmd, &out) == 2);
	free(out);
}

static void
test_audit(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>&1", h_bin(),
	    s->dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"action\":\"subject.shred\"") != NULL);
	CHECK(strstr(out, "\"action\":\"subject.hold\"") != NULL);
	CHECK(strstr(out, "\"action\":\"subject.release\"") != NULL);
	CHECK(strstr(out, "legal_hold") != NULL);
	CHECK(strstr(out, "\"resource\":\"subjects/") != NULL);
	/* never a subject value, in any entry (denials included) */
	CHECK(strstr(out, "Zebulon") == NULL);
	CHECK(strstr(out, "Xanthe") == NULL);
	CHECK(strstr(out, "nobody-at-all") == NULL);
	CHECK(strstr(out, "Quillon") == NULL);
	CHECK(strstr(out, "Ozymandias") == NULL);
	/* the disposal records: every old record ID; B skipped for its hold */
	CHECK(strstr(out, "\"action\":\"retention.dispose\"") != NULL);
	CHECK(strstr(out, "\"action\":\"retention.run\"") != NULL);
	CHECK(strstr(out, "\"held\":1") != NULL);
	for (int i = 0; i < N_OLD; i++)
		CHECK(strstr(out, old_ids[i]) != NULL);
	free(out);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char cmd[1024], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "subjects", NULL);
	h_config_set(&s, "mfa_required", "off");
	/* a retention run takes several steps (real time) so a kill lands inside it */
	h_config_set_in(&s, "server", "jobs_max_steps_per_s", "4");
	/* the schedule: a year, so only test_schedule's move of the clock triggers it */
	h_config_set_in(&s, "retention", "every_s", "31536000");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "kay", "key_admin", PW_USER, p.kay, sizeof(p.kay));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	h_add_officer(&s, p.admin, "olga", PW_USER, p.olga, sizeof(p.olga));
	setup(&s, &p);
	test_reencrypt(&s, &p);
	test_tokens_minted(&s, &p);
	test_shred(&s, &p);
	test_tokens_shredded(&s, &p);
	test_retention(&s, &p);
	test_cli(&s, &p);
	test_schedule(&s, &p);
	CHECK(h_stop(&s) == 0);
	test_audit(&s);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	for (size_t i = 0; i < nrecs; i++)
		free(recs[i].want);
	json_decref(s.init);
	h_done("subjects");
	return 0;
}
