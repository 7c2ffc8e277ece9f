/*
 * Versioned index and token MAC keys on the real binary over HTTPS (issue 11
 * item 3): 120 records with a searchable field; rotate KEK index:patients,
 * then a re-index job (mode reindex, 20 entries a second) killed with
 * SIGKILL and resumed; the same searches return the same records before,
 * during and after; the census of v1 reaches 0 and v2 holds exactly one
 * entry per record (no duplicates); v1 is then retired and revoked and
 * search still answers the same. A deterministic token keeps its value's
 * token across a rotation of KEK tokens. Bad modes are 400. The CLI's
 * `key reindex` queues the same job. Item 2: marking tokens v1 compromised
 * (its priority re-encryption held back by a paused tokens job) keeps its
 * tokens readable and raises the critical alert key_compromised_use
 * (one entry for the reads within a minute); marking the active collection key compromised
 * rotates it and queues an uncapped re-encryption whose end leaves the
 * census of the compromised version at 0.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define N_REC 120
#define N_MRN 40          /* each MRN on 3 records */
#define IKEY "index:patients"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[128], kay[128], clin[128], aud[128];
};

static char tok_v1[64];   /* a token whose DEK is under tokens v1 */
#define N_V1 4
static char toks_v1[N_V1][64];   /* tok_v1 and three random tokens, all under tokens v1 */

static char *baseline[N_MRN];   /* the sorted IDs each MRN search found first */

static void
create_records(struct h_server *s, struct people *p)
{
	struct h_resp r;
	char *body = malloc(64 * 1024);
	size_t off;

	CHECK(body != NULL);
	h_collection_create(s, p->admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"searchable\":true},"
	    "{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}");
	off = (size_t)snprintf(body, 64 * 1024, "{\"create\":[");
	for (int i = 0; i < N_REC; i++) {
		if (i == 100) {
			snprintf(body + off, 64 * 1024 - off, "]}");
			h_req(s, "POST", "/v1/collections/patients/records:batch", p->clin, body,
			    NULL, &r);
			CHECK_STATUS(&r, 200);
			h_resp_free(&r);
			off = (size_t)snprintf(body, 64 * 1024, "{\"create\":[");
		}
		off += (size_t)snprintf(body + off, 64 * 1024 - off,
		    "%s{\"name\":\"Patient Index-%03d\",\"mrn\":\"IDX%04d\",\"ward\":\"W%d\"}",
		    i % 100 ? "," : "", i, i % N_MRN, i % 5);
	}
	snprintf(body + off, 64 * 1024 - off, "]}");
	h_req(s, "POST", "/v1/collections/patients/records:batch", p->clin, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	free(body);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The IDs a search for MRN number m finds, sorted, comma-joined (malloc'd). */
static char *
search(struct h_server *s, const char *tok, int m)
{
	char path[256], *ids[16], *out;
	struct h_resp r;
	json_t *recs, *rec;
	size_t i, n = 0, len = 1;

	snprintf(path, sizeof(path), "/v1/collections/patients/records?mrn=idx%04d", m);
	h_req(s, "GET", path, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	recs = json_object_get(r.json, "records");
	CHECK(json_is_array(recs) && json_array_size(recs) <= 16);
	json_array_foreach(recs, i, rec) {
		ids[n] = strdup(h_jstr(rec, "id"));
		CHECK(ids[n] != NULL);
		len += strlen(ids[n++]) + 1;
	}
	h_resp_free(&r);
	qsort(ids, n, sizeof(ids[0]), cmp_str);
	CHECK((out = calloc(1, len)) != NULL);
	for (i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, ids[i]);
		free(ids[i]);
	}
	return out;
}

/* Every MRN search answers what it answered first (record == true: note it). */
static void
search_all(struct h_server *s, const char *tok, bool record)
{
	for (int m = 0; m < N_MRN; m++) {
		char *got = search(s, tok, m);

		if (record) {
			/* 3 records each: IDX000m is on i = m, m + 40, m + 80 */
			CHECK(strchr(got, ',') != NULL && strchr(strchr(got, ',') + 1, ',') != NULL);
			free(baseline[m]);
			baseline[m] = got;
			continue;
		}
		if (strcmp(got, baseline[m]) != 0)
			fprintf(stderr, "keys_index: search %d answered %s, not %s\n", m, got,
			    baseline[m]);
		CHECK(strcmp(got, baseline[m]) == 0);
		free(got);
	}
}

/* The state and census of (name, v) in GET /v1/keys. */
static void
post(struct h_server *s, const char *tok, const char *path, const char *body, int status,
    const char *code, struct h_resp *out)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, status);
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	if (out != NULL)
		*out = r;
	else
		h_resp_free(&r);
}

static long long
job_get(struct h_server *s, const char *tok, const char *id, char st[16])
{
	char path[128];
	struct h_resp r;
	long long done;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "kind"), "keys.reencrypt") == 0);
	snprintf(st, 16, "%s", h_jstr(r.json, "state"));
	done = json_integer_value(json_object_get(r.json, "done"));
	h_resp_free(&r);
	return done;
}

/* Poll until done >= wantd or the job ended; max_rps holds the job back, so
 * move the server's clock a second on when a poll sees no progress. */
static long long
wait_done(struct h_server *s, const char *tok, const char *id, long long wantd, char st[16])
{
	long long done = 0, last = -1;

	for (int i = 0; i < 20000; i++) {
		done = job_get(s, tok, id, st);
		if (done >= wantd || strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			return done;
		if (done == last)
			h_clock_advance(s, 1000);
		last = done;
		h_pause_ms(3);
	}
	CHECK(!"re-index made no progress");
	return done;
}

static void
test_reindex(struct h_server *s, struct people *p)
{
	char st[32], job[64];
	long long n = 0, done;
	struct h_resp r;

	h_key_version(s, p->kay, IKEY, 1, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == N_REC);   /* one entry a record */
	post(s, p->kay, "/v1/keys/" IKEY "/rotate", NULL, 200, NULL, &r);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	/* rotated, nothing re-indexed yet: v1's entries still answer */
	search_all(s, p->clin, false);
	h_key_version(s, p->kay, IKEY, 1, st, &n);
	CHECK(strcmp(st, "decrypt_only") == 0 && n == N_REC);
	post(s, p->kay, "/v1/keys/" IKEY "/versions/1/retire", NULL, 409, "retired_key_in_use",
	    NULL);
	/* an index key re-indexes and only it; bad modes change nothing */
	post(s, p->kay, "/v1/keys/" IKEY "/reencrypt", "{\"mode\":\"rewrap_dek\"}", 400,
	    "invalid_request", NULL);
	post(s, p->kay, "/v1/keys/" IKEY "/reencrypt", "{\"mode\":\"full\"}", 400,
	    "invalid_request", NULL);
	post(s, p->kay, "/v1/keys/collection:patients/reencrypt", "{\"mode\":\"reindex\"}", 400,
	    "invalid_request", NULL);
	/* a record written now is indexed under v2 and found */
	h_req(s, "POST", "/v1/collections/patients/records", p->clin,
	    "{\"name\":\"Patient New\",\"mrn\":\"IDX9999\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	h_key_version(s, p->kay, IKEY, 2, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == 1);
	{
		char *got = search(s, p->clin, 9999);

		CHECK(got[0] != '\0' && strchr(got, ',') == NULL);
		free(got);
	}

	/* 20 entries a second: several steps and windows */
	post(s, p->kay, "/v1/keys/" IKEY "/reencrypt", "{\"max_rps\":20}", 202, NULL, &r);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	CHECK(strncmp(job, "job_", 4) == 0);
	h_resp_free(&r);
	post(s, p->kay, "/v1/keys/" IKEY "/reencrypt", "{}", 409, "job_conflict", NULL);
	done = wait_done(s, p->admin, job, 40, st);
	fprintf(stderr, "keys_index: searching mid re-index at done=%lld (%s)\n", done, st);
	CHECK(strcmp(st, "running") == 0 || strcmp(st, "queued") == 0);
	search_all(s, p->clin, false);     /* during: half v1, half v2 */
	h_kill9_restart(s, "--dev");
	CHECK(job_get(s, p->admin, job, st) >= done);
	search_all(s, p->clin, false);
	done = wait_done(s, p->admin, job, N_REC, st);
	while (strcmp(st, "done") != 0 && strcmp(st, "failed") != 0)
		done = wait_done(s, p->admin, job, N_REC + 1, st);
	CHECK(strcmp(st, "done") == 0);
	CHECK(done == N_REC);              /* every old entry replaced once */
	h_key_version(s, p->kay, IKEY, 1, st, &n);
	CHECK(n == 0);
	h_key_version(s, p->kay, IKEY, 2, st, &n);
	CHECK(n == N_REC + 1);             /* one entry a record: no duplicates */
	search_all(s, p->clin, false);     /* after */

	/* v1 is now retirable and revocable; search still the same */
	post(s, p->kay, "/v1/keys/" IKEY "/versions/1/retire", NULL, 200, NULL, NULL);
	post(s, p->kay, "/v1/keys/" IKEY "/versions/1/revoke", "{\"confirm\":\"" IKEY ":1\"}",
	    200, NULL, NULL);
	h_key_version(s, p->kay, IKEY, 1, st, &n);
	CHECK(strcmp(st, "revoked") == 0);
	search_all(s, p->clin, false);
	h_kill9_restart(s, "--dev");
	search_all(s, p->clin, false);
}

static char *
tokenize(struct h_server *s, const char *tok, const char *mrn)
{
	char body[256], *out;
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"collection\":\"patients\",\"field\":\"mrn\","
	    "\"value\":\"%s\",\"deterministic\":true}", mrn);
	h_req(s, "POST", "/v1/tokenize", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	out = strdup(h_jstr(r.json, "token"));
	CHECK(out != NULL && strncmp(out, "tok_", 4) == 0);
	h_resp_free(&r);
	return out;
}

static void
test_token_stability(struct h_server *s, struct people *p)
{
	char *t1 = tokenize(s, p->clin, "TOKMRN1"), *t1b, *t2, body[128], st[32];
	long long n = 0;
	struct h_resp r;

	h_key_version(s, p->kay, "tokens", 1, st, &n);
	CHECK(n == 2);                      /* its DEK and its lookup MAC */
	/* three random tokens under v1 as well (test_compromised reads them) */
	for (int i = 1; i < N_V1; i++) {
		snprintf(body, sizeof(body), "{\"collection\":\"patients\",\"field\":\"mrn\","
		    "\"value\":\"TOKRND%d\"}", i);
		h_req(s, "POST", "/v1/tokenize", p->clin, body, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(toks_v1[i], sizeof(toks_v1[i]), "%s", h_jstr(r.json, "token"));
		h_resp_free(&r);
	}
	h_key_version(s, p->kay, "tokens", 1, st, &n);
	CHECK(n == 2 + N_V1 - 1);
	post(s, p->kay, "/v1/keys/tokens/rotate", NULL, 200, NULL, NULL);
	/* the same value keeps its token; a new one is minted under v2 */
	t1b = tokenize(s, p->clin, "tokmrn1");
	CHECK(strcmp(t1, t1b) == 0);
	t2 = tokenize(s, p->clin, "TOKMRN2");
	CHECK(strcmp(t1, t2) != 0);
	free(t1b);
	t1b = tokenize(s, p->clin, "TOKMRN2");
	CHECK(strcmp(t2, t1b) == 0);
	h_key_version(s, p->kay, "tokens", 2, st, &n);
	CHECK(n == 2);
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", t1);
	h_req(s, "POST", "/v1/detokenize", p->clin, body, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "value"), "TOKMRN1") == 0);
	h_resp_free(&r);
	snprintf(tok_v1, sizeof(tok_v1), "%s", t1);
	snprintf(toks_v1[0], sizeof(toks_v1[0]), "%s", t1);
	free(t1);
	free(t1b);
	free(t2);
}

static void
test_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], env[1024], *out = NULL, st[32], job[64];
	long long n = 0;
	const char *j;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=https://127.0.0.1:%u PHIVAULT_CACERT=%s/tls/cert.pem "
	    "PHIVAULT_TOKEN=%s", s->port, s->dir, p->kay);
	snprintf(cmd, sizeof(cmd), "%s %s key rotate " IKEY " --format json", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key reindex " IKEY " --mode full 2>&1", env, h_bin());
	CHECK(h_run(cmd, &out) == 2);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key reindex " IKEY " --max-rps 1000000 --format json",
	    env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = strstr(out, "job_")) != NULL);
	snprintf(job, sizeof(job), "%.*s", (int)strspn(j, "abcdefghijklmnopqrstuvwxyz0123456789_"),
	    j);
	free(out);
	wait_done(s, p->admin, job, N_REC + 1, st);
	while (strcmp(st, "done") != 0 && strcmp(st, "failed") != 0)
		wait_done(s, p->admin, job, N_REC + 2, st);
	CHECK(strcmp(st, "done") == 0);
	h_key_version(s, p->kay, IKEY, 2, st, &n);
	CHECK(n == 0);
	h_key_version(s, p->kay, IKEY, 3, st, &n);
	CHECK(n == N_REC + 1);
	search_all(s, p->clin, false);
}

static bool
alert_open(struct h_server *s, struct people *p, const char *rule, const char *actor)
{
	for (int i = 0; i < 3000; i++) {
		struct h_resp r;
		json_t *al;
		size_t k;
		bool found = false;

		h_req(s, "GET", "/v1/alerts?status=open", p->aud, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		json_array_foreach(r.json, k, al)
			if (strcmp(h_jstr(al, "rule"), rule) == 0 &&
			    strcmp(h_jstr(al, "actor"), actor) == 0)
				found = true;
		h_resp_free(&r);
		if (found)
			return true;
		h_pause_ms(3);
	}
	return false;
}

static void
test_compromised(struct h_server *s, struct people *p)
{
	char body[128], st[32], job[64];
	long long n = 0;
	struct h_resp r;

	/* typed confirmation; unknown versions */
	post(s, p->kay, "/v1/keys/tokens/versions/1/compromised", "{}", 400, "invalid_request",
	    NULL);
	post(s, p->kay, "/v1/keys/tokens/versions/1/compromised", "{\"confirm\":\"tokens:2\"}",
	    400, "invalid_request", NULL);
	post(s, p->kay, "/v1/keys/tokens/versions/9/compromised", "{\"confirm\":\"tokens:9\"}",
	    404, "not_found", NULL);
	post(s, p->clin, "/v1/keys/tokens/versions/1/compromised", "{\"confirm\":\"tokens:1\"}",
	    403, "forbidden", NULL);
	/* tokens are walked by a re-encryption job now, so marking a version
	 * compromised queues one at once, which would move the tokens before
	 * a read could use v1. Hold it back: a tokens job at 1 token a second
	 * (the test clock stands still) looks at one token at most and is
	 * paused; the priority job conflicts with it and is not queued. Of
	 * the four v1 tokens three at least stay under v1. */
	post(s, p->kay, "/v1/keys/tokens/reencrypt", "{\"max_rps\":1}", 202, NULL, &r);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "/v1/jobs/%s/pause", job);
	post(s, p->admin, body, NULL, 200, NULL, NULL);
	/* tokens v1 (decrypt_only): marked, no rotation, no second job */
	post(s, p->kay, "/v1/keys/tokens/versions/1/compromised", "{\"confirm\":\"tokens:1\"}",
	    200, NULL, &r);
	CHECK(strcmp(h_jstr(r.json, "state"), "compromised") == 0);
	CHECK(json_object_get(r.json, "rotated_to") == NULL);
	CHECK(json_object_get(r.json, "job") == NULL);
	h_resp_free(&r);
	/* still readable, twice; the use raises the alert */
	for (int i = 0; i < 2; i++) {
		for (int t = 0; t < N_V1; t++) {
			snprintf(body, sizeof(body), "{\"token\":\"%s\"}", toks_v1[t]);
			h_req(s, "POST", "/v1/detokenize", p->clin, body, TREAT, &r);
			CHECK_STATUS(&r, 200);
			if (t == 0)
				CHECK(strcmp(h_jstr(r.json, "value"), "TOKMRN1") == 0);
			h_resp_free(&r);
		}
	}
	CHECK(alert_open(s, p, "key_compromised_use", "keys/tokens/versions/1"));

	/* the active collection key: rotated, priority re-encryption, census 0 */
	h_key_version(s, p->kay, "collection:patients", 1, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == N_REC + 1);
	post(s, p->kay, "/v1/keys/collection:patients/versions/1/compromised",
	    "{\"confirm\":\"collection:patients:1\"}", 200, NULL, &r);
	CHECK(json_integer_value(json_object_get(r.json, "rotated_to")) == 2);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	CHECK(strncmp(job, "job_", 4) == 0);
	h_resp_free(&r);
	wait_done(s, p->admin, job, N_REC + 1, st);
	while (strcmp(st, "done") != 0 && strcmp(st, "failed") != 0)
		wait_done(s, p->admin, job, N_REC + 2, st);
	CHECK(strcmp(st, "done") == 0);
	h_key_version(s, p->kay, "collection:patients", 1, st, &n);
	CHECK(strcmp(st, "decrypt_only") == 0 && n == 0);
	h_key_version(s, p->kay, "collection:patients", 2, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == N_REC + 1);
	search_all(s, p->clin, false);
	/* after a restart the mark holds: still one alert, the version is known */
	h_kill9_restart(s, "--dev");
	for (int t = 0; t < N_V1; t++) {
		snprintf(body, sizeof(body), "{\"token\":\"%s\"}", toks_v1[t]);
		h_req(s, "POST", "/v1/detokenize", p->clin, body, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
}

/* allowed entries of action for resource in the jsonl export */
static int
count_entries(const char *jsonl, const char *action, const char *resource)
{
	char a[128], res[256];
	int n = 0;

	snprintf(a, sizeof(a), "\"action\":\"%s\"", action);
	snprintf(res, sizeof(res), "\"resource\":\"%s\"", resource);
	for (const char *l = jsonl; l != NULL && *l != '\0';) {
		const char *e = strchr(l, '\n');
		size_t len = e != NULL ? (size_t)(e - l) : strlen(l);
		char *line = strndup(l, len);

		CHECK(line != NULL);
		if (strstr(line, a) != NULL && strstr(line, res) != NULL &&
		    strstr(line, "\"outcome\":\"allowed\"") != NULL)
			n++;
		free(line);
		l = e != NULL ? e + 1 : NULL;
	}
	return n;
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char cmd[1024], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "keys_index", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "kay", "key_admin", PW_USER, p.kay, sizeof(p.kay));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	h_add_user(&s, p.admin, "audra", "auditor", PW_USER, p.aud, sizeof(p.aud));
	create_records(&s, &p);
	search_all(&s, p.clin, true);
	test_reindex(&s, &p);
	test_token_stability(&s, &p);
	test_cli(&s, &p);
	test_compromised(&s, &p);
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "keys/" IKEY "/versions/1") != NULL);
	CHECK(count_entries(out, "key.compromised", "keys/tokens/versions/1") == 1);
	/* two reads within a minute: one use entry; one more after the restart */
	CHECK(count_entries(out, "key.compromised_use", "keys/tokens/versions/1") == 2);
	CHECK(strstr(out, "Patient Index-") == NULL && strstr(out, "IDX00") == NULL &&
	    strstr(out, "TOKMRN") == NULL);   /* no PHI */
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	for (int i = 0; i < N_MRN; i++)
		free(baseline[i]);
	json_decref(s.init);
	h_done("keys_index");
	return 0;
}
