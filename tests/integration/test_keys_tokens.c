/*
 * Re-encryption of KEK "tokens" (issue 11, s6) on the real binary over
 * HTTPS: 60 tokens (30 deterministic, 30 random) under tokens v1, then a
 * rotation and POST /v1/keys/tokens/reencrypt (rewrap_dek, 20 objects a
 * second on the test clock) killed with SIGKILL in the middle and resumed:
 *  - every token detokenizes to its value before, during and after;
 *  - the census of v1 (each token's DEK, each deterministic token's lookup
 *    MAC) reaches 0 and v2 holds all 90 objects, none twice;
 *  - a deterministic tokenization of the same value keeps its token after
 *    its MAC moved (the lookup finds it under v2);
 *  - v1 is then retired and revoked, and nothing changes for a reader;
 *  - mode full through the CLI (`phivault key reencrypt tokens --mode
 *    full`) after another rotation moves everything to v3 again; mode
 *    reindex is refused (400).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define N_TOK 60   /* even: deterministic, odd: random */

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[128], kay[128], clin[128];
};

static char toks[N_TOK][64];

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

/* census and state of tokens vN in GET /v1/keys */
static long long
census(struct h_server *s, const char *tok, int v, char state[32])
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;
	long long n = -1;

	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), "tokens") != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver) {
			if (json_integer_value(json_object_get(ver, "version")) != v)
				continue;
			n = json_integer_value(json_object_get(ver, "objects"));
			if (state != NULL)
				snprintf(state, 32, "%s", h_jstr(ver, "state"));
		}
	}
	h_resp_free(&r);
	return n;
}

/* census of tokens v1 plus v2, from one GET /v1/keys (one snapshot: the
 * job's steps may move objects between two requests) */
static long long
census_12(struct h_server *s, const char *tok)
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;
	long long n = 0;

	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), "tokens") != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver) {
			json_int_t v = json_integer_value(json_object_get(ver, "version"));

			if (v == 1 || v == 2)
				n += json_integer_value(json_object_get(ver, "objects"));
		}
	}
	h_resp_free(&r);
	return n;
}

static void
value_of(int i, char *out, size_t len)
{
	snprintf(out, len, "TOKV%04d", i);
}

static void
tokenize(struct h_server *s, const char *tok, int i, char out[64])
{
	char body[256], val[32];
	struct h_resp r;

	value_of(i, val, sizeof(val));
	snprintf(body, sizeof(body), "{\"collection\":\"patients\",\"field\":\"mrn\","
	    "\"value\":\"%s\",\"deterministic\":%s}", val, i % 2 == 0 ? "true" : "false");
	h_req(s, "POST", "/v1/tokenize", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, 64, "%s", h_jstr(r.json, "token"));
	CHECK(strncmp(out, "tok_", 4) == 0);
	h_resp_free(&r);
}

/* every `step`-th token detokenizes to its value */
static void
read_all(struct h_server *s, const char *tok, int step)
{
	for (int i = 0; i < N_TOK; i += step) {
		char body[128], val[32];
		struct h_resp r;

		value_of(i, val, sizeof(val));
		snprintf(body, sizeof(body), "{\"token\":\"%s\"}", toks[i]);
		h_req(s, "POST", "/v1/detokenize", tok, body, TREAT, &r);
		CHECK_STATUS(&r, 200);
		CHECK(strcmp(h_jstr(r.json, "value"), val) == 0);
		h_resp_free(&r);
	}
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

/* Poll until done >= want or the job ended, moving the server's clock on
 * when max_rps holds it back. */
static long long
wait_done(struct h_server *s, const char *tok, const char *id, long long want, char st[16])
{
	long long done = 0, last = -1;

	for (int i = 0; i < 20000; i++) {
		done = job_get(s, tok, id, st);
		if (done >= want || strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			return done;
		if (done == last)
			h_clock_advance(s, 1000);
		last = done;
		h_pause_ms(3);
	}
	CHECK(!"re-encryption made no progress");
	return done;
}

static void
wait_end(struct h_server *s, const char *tok, const char *id, char st[16])
{
	for (int i = 0; i < 100; i++) {
		(void)wait_done(s, tok, id, 1LL << 40, st);
		if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			return;
	}
	CHECK(!"job did not end");
}

int
main(void)
{
	struct h_server s;
	struct people p;
	struct h_resp r;
	char st[32], job[64], again[64], cmd[2048], *out = NULL;
	const long long objects = N_TOK + N_TOK / 2;   /* DEKs + deterministic MACs */
	long long done;
	const char *j;

	h_clock_enable();
	h_init(&s, "keys_tokens", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "kay", "key_admin", PW_USER, p.kay, sizeof(p.kay));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	h_collection_create(&s, p.admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\"}]}");
	for (int i = 0; i < N_TOK; i++)
		tokenize(&s, p.clin, i, toks[i]);
	CHECK(census(&s, p.kay, 1, NULL) == objects);

	/* rotate: new tokens go to v2, the old ones stay on v1 until the job */
	post(&s, p.kay, "/v1/keys/tokens/rotate", NULL, 200, NULL, NULL);
	CHECK(census(&s, p.kay, 2, NULL) == 0);
	post(&s, p.kay, "/v1/keys/tokens/versions/1/retire", NULL, 409, "retired_key_in_use",
	    NULL);
	post(&s, p.kay, "/v1/keys/tokens/reencrypt", "{\"mode\":\"reindex\"}", 400,
	    "invalid_request", NULL);
	post(&s, p.clin, "/v1/keys/tokens/reencrypt", "{}", 403, NULL, NULL);
	CHECK(census(&s, p.kay, 1, NULL) == objects);

	/* 20 objects a second: several steps and windows; kill -9 mid-way */
	post(&s, p.kay, "/v1/keys/tokens/reencrypt", "{\"mode\":\"rewrap_dek\",\"max_rps\":20}",
	    202, NULL, &r);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	post(&s, p.kay, "/v1/keys/tokens/reencrypt", "{}", 409, "job_conflict", NULL);
	done = wait_done(&s, p.admin, job, 30, st);
	fprintf(stderr, "keys_tokens: kill -9 at done=%lld (%s)\n", done, st);
	CHECK(strcmp(st, "running") == 0 || strcmp(st, "queued") == 0);
	CHECK(census_12(&s, p.kay) == objects);   /* each object under v1 or v2, once */
	read_all(&s, p.clin, 7);                 /* detokenize works while it runs */
	h_kill9_restart(&s, "--dev");
	CHECK(job_get(&s, p.admin, job, st) >= done);
	read_all(&s, p.clin, 5);
	wait_end(&s, p.admin, job, st);
	CHECK(strcmp(st, "done") == 0);
	CHECK(census(&s, p.kay, 1, NULL) == 0);
	CHECK(census(&s, p.kay, 2, NULL) == objects);   /* each moved once */
	read_all(&s, p.clin, 1);
	/* a deterministic value keeps its token: its MAC is found under v2 */
	tokenize(&s, p.clin, 4, again);
	CHECK(strcmp(again, toks[4]) == 0);
	CHECK(census(&s, p.kay, 2, NULL) == objects);   /* no second token */

	/* nothing left under v1: retire, revoke; readers see no change */
	post(&s, p.kay, "/v1/keys/tokens/versions/1/retire", NULL, 200, NULL, NULL);
	post(&s, p.kay, "/v1/keys/tokens/versions/1/revoke", "{\"confirm\":\"tokens:1\"}", 200,
	    NULL, NULL);
	census(&s, p.kay, 1, st);
	CHECK(strcmp(st, "revoked") == 0);
	read_all(&s, p.clin, 1);
	tokenize(&s, p.clin, 10, again);
	CHECK(strcmp(again, toks[10]) == 0);

	/* mode full through the CLI, after another rotation */
	post(&s, p.kay, "/v1/keys/tokens/rotate", NULL, 200, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s key reencrypt tokens --mode full --format json 2>&1", s.base, s.cacert, p.kay,
	    h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = strstr(out, "job_")) != NULL);
	snprintf(job, sizeof(job), "%.*s", (int)strspn(j, "abcdefghijklmnopqrstuvwxyz0123456789_"),
	    j);
	free(out);
	wait_end(&s, p.admin, job, st);
	CHECK(strcmp(st, "done") == 0);
	CHECK(census(&s, p.kay, 2, NULL) == 0);
	CHECK(census(&s, p.kay, 3, NULL) == objects);
	read_all(&s, p.clin, 1);
	tokenize(&s, p.clin, 20, again);
	CHECK(strcmp(again, toks[20]) == 0);

	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("keys_tokens");
	return 0;
}
