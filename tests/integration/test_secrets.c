/*
 * Application secrets (issue 18 item 1) on the real binary over HTTPS:
 *  - versions: each PUT a new version (201 first, 200 after); GET the
 *    current one or ?version=N, with its metadata;
 *  - check-and-set: If-Match: N (412 precondition_failed on a mismatch),
 *    If-Match: 0 (the secret must not exist);
 *  - prefix scoping: an app holding secrets.read:apps/billing/ reads
 *    apps/billing/db, is 403 on apps/hr/x and on writes, and lists only its
 *    prefix;
 *  - soft delete (reads 404 until undelete), destroy of a version (410
 *    secret_version_destroyed after), [secrets] max_versions pruning;
 *  - keys: the "secrets" KEK in GET /v1/keys with its census, rotate, then
 *    the keys.reencrypt job moves every live version; all read back;
 *  - rotate_every_s: past it (the injectable clock), the alert
 *    secret_rotation_overdue;
 *  - no secret value in the audit trail (phivault audit export), the server
 *    log or GET /metrics;
 *  - kill -9 while a client writes: every acknowledged version reads back
 *    with its value, nothing torn;
 *  - bad paths, bodies, versions and If-Match: 400 with stable codes, and
 *    nothing written.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define MAX_VERSIONS 3

/* Every value written, to look for later in the trail, the log, metrics. */
static char values[64][64];
static size_t nvalues;

struct people {
	char admin[128], dev[128], kay[128], aud[128], app[128];
};

static const char *
remember(const char *v)
{
	CHECK(nvalues < sizeof(values) / sizeof(values[0]));
	snprintf(values[nvalues], sizeof(values[0]), "%s", v);
	return values[nvalues++];
}

/* PUT value at path (hdr: an If-Match line or NULL): status; *version if 2xx. */
static long
put(struct h_server *s, const char *tok, const char *path, const char *value,
    const char *extra, const char *hdr, long *version)
{
	char url[512], body[1024];
	const char *hdrs[] = { hdr, NULL };
	struct h_resp r;
	long st;

	snprintf(url, sizeof(url), "/v1/secrets/%s", path);
	snprintf(body, sizeof(body), "{\"value\":\"%s\"%s%s}", value, extra ? "," : "",
	    extra ? extra : "");
	h_req(s, "PUT", url, tok, body, hdr != NULL ? hdrs : NULL, &r);
	st = r.status;
	if (st == 200 || st == 201) {
		CHECK(strcmp(h_jstr(r.json, "path"), path) == 0);
		if (version != NULL)
			*version = (long)json_integer_value(json_object_get(r.json, "version"));
	}
	h_resp_free(&r);
	return st;
}

/* GET path (version 0: current): status; the value copied if 200. */
static long
get(struct h_server *s, const char *tok, const char *path, long version, char *value,
    size_t len, const char **code_out)
{
	char url[512];
	static char code[64];
	struct h_resp r;
	long st;

	if (version > 0)
		snprintf(url, sizeof(url), "/v1/secrets/%s?version=%ld", path, version);
	else
		snprintf(url, sizeof(url), "/v1/secrets/%s", path);
	h_req(s, "GET", url, tok, NULL, NULL, &r);
	st = r.status;
	code[0] = '\0';
	if (st == 200) {
		CHECK(strcmp(h_jstr(r.json, "path"), path) == 0);
		CHECK(json_is_object(json_object_get(r.json, "metadata")));
		CHECK(h_jstr(r.json, "created_at") != NULL);
		if (version > 0)
			CHECK(json_integer_value(json_object_get(r.json, "version")) == version);
		if (value != NULL)
			snprintf(value, len, "%s", h_jstr(r.json, "value"));
	} else if (h_err_code(&r) != NULL) {
		snprintf(code, sizeof(code), "%s", h_err_code(&r));
	}
	if (code_out != NULL)
		*code_out = code;
	h_resp_free(&r);
	return st;
}

static void
expect_value(struct h_server *s, const char *tok, const char *path, long version,
    const char *want)
{
	char v[256];

	CHECK(get(s, tok, path, version, v, sizeof(v), NULL) == 200);
	CHECK(strcmp(v, want) == 0);
}

static void
test_versions_cas(struct h_server *s, struct people *p)
{
	const char *v1 = remember("pw-alpha-7f3k2"), *v2 = remember("pw-bravo-9q1x8");
	const char *v3 = remember("pw-charlie-4m6z0"), *hr = remember("hr-secret-5b2w7");
	const char *m0 = "If-Match: 0", *m1 = "If-Match: 1", *m2 = "If-Match: \"2\"";
	struct h_resp r;
	long ver = 0;

	CHECK(put(s, p->dev, "apps/billing/db", v1, "\"metadata\":{\"owner\":\"billing\"}", NULL,
	    &ver) == 201);
	CHECK(ver == 1);
	CHECK(put(s, p->dev, "apps/billing/db", v2, "\"metadata\":{\"owner\":\"billing-2\"}",
	    NULL, &ver) == 200);
	CHECK(ver == 2);
	expect_value(s, p->dev, "apps/billing/db", 0, v2);
	expect_value(s, p->dev, "apps/billing/db", 1, v1);
	expect_value(s, p->dev, "apps/billing/db", 2, v2);
	h_req(s, "GET", "/v1/secrets/apps/billing/db?version=1", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "metadata"), "owner"), "billing") == 0);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/secrets/apps/billing/db?version=3", p->dev, NULL, NULL, 404,
	    "not_found");
	/* check-and-set */
	CHECK(put(s, p->dev, "apps/billing/db", "x-lost-update", NULL, m1, NULL) == 412);
	CHECK(put(s, p->dev, "apps/billing/db", "x-lost-update", NULL, m0, NULL) == 412);
	expect_value(s, p->dev, "apps/billing/db", 0, v2);    /* nothing written */
	CHECK(put(s, p->dev, "apps/billing/db", v3, NULL, m2, &ver) == 200);
	CHECK(ver == 3);
	CHECK(put(s, p->dev, "apps/hr/x", hr, NULL, m0, &ver) == 201);
	CHECK(ver == 1);
	CHECK(put(s, p->dev, "apps/hr/x", "x-second-create", NULL, m0, NULL) == 412);
	h_req(s, "PUT", "/v1/secrets/apps/billing/db", p->dev, "{\"value\":\"x\"}",
	    (const char *[]){ "If-Match: 2", NULL }, &r);
	CHECK_STATUS(&r, 412);
	CHECK(strcmp(h_err_code(&r), "precondition_failed") == 0);
	h_resp_free(&r);
	expect_value(s, p->dev, "apps/billing/db", 0, v3);
	/* a write without metadata keeps the current metadata */
	h_req(s, "GET", "/v1/secrets/apps/billing/db", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "metadata"), "owner"), "billing-2") == 0);
	h_resp_free(&r);
}

static bool
listed(json_t *list, const char *path)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(list, "secrets"), i, e)
		if (strcmp(h_jstr(e, "path"), path) == 0)
			return true;
	return false;
}

static void
test_prefix_scope(struct h_server *s, struct people *p)
{
	const char *v3 = values[2];
	struct h_resp r;
	json_t *e;
	size_t i;

	expect_value(s, p->app, "apps/billing/db", 0, v3);
	h_expect(s, "GET", "/v1/secrets/apps/hr/x", p->app, NULL, NULL, 403, "forbidden");
	CHECK(put(s, p->app, "apps/billing/db", "x-app-write", NULL, NULL, NULL) == 403);
	h_expect(s, "DELETE", "/v1/secrets/apps/billing/db", p->app, NULL, NULL, 403,
	    "forbidden");
	/* the list: only its prefix, names and metadata, never a value */
	h_req(s, "GET", "/v1/secrets", p->app, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(listed(r.json, "apps/billing/db"));
	CHECK(!listed(r.json, "apps/hr/x"));
	json_array_foreach(json_object_get(r.json, "secrets"), i, e) {
		CHECK(json_object_get(e, "value") == NULL);
		CHECK(strncmp(h_jstr(e, "path"), "apps/billing/", 13) == 0);
	}
	CHECK(strstr(r.body, v3) == NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/secrets?prefix=apps/", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(listed(r.json, "apps/billing/db") && listed(r.json, "apps/hr/x"));
	json_array_foreach(json_object_get(r.json, "secrets"), i, e)
		if (strcmp(h_jstr(e, "path"), "apps/billing/db") == 0)
			CHECK(json_integer_value(json_object_get(e, "version")) == 3);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/secrets?prefix=apps/hr/", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(!listed(r.json, "apps/billing/db") && listed(r.json, "apps/hr/x"));
	h_resp_free(&r);
	/* a user with no secrets permission: 403 on a read, an empty list */
	h_expect(s, "GET", "/v1/secrets/apps/billing/db", p->aud, NULL, NULL, 403, "forbidden");
	h_req(s, "GET", "/v1/secrets", p->aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "secrets")) == 0);
	h_resp_free(&r);
}

static void
test_delete_destroy_prune(struct h_server *s, struct people *p)
{
	const char *t = remember("tmp-delta-3c8v1");
	const char *code = NULL;
	char path[64];
	struct h_resp r;
	long ver = 0;

	CHECK(put(s, p->dev, "apps/billing/tmp", t, NULL, NULL, NULL) == 201);
	h_expect(s, "DELETE", "/v1/secrets/apps/billing/tmp", p->dev, NULL, NULL, 204, NULL);
	CHECK(get(s, p->dev, "apps/billing/tmp", 0, NULL, 0, &code) == 404);
	CHECK(strcmp(code, "not_found") == 0);
	CHECK(get(s, p->dev, "apps/billing/tmp", 1, NULL, 0, NULL) == 404);
	h_expect(s, "DELETE", "/v1/secrets/apps/billing/tmp", p->dev, NULL, NULL, 404,
	    "not_found");
	h_req(s, "GET", "/v1/secrets?prefix=apps/billing/tmp", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(json_array_get(json_object_get(r.json, "secrets"), 0),
	    "deleted")));
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/secrets/apps/billing/tmp/undelete", p->dev, NULL, NULL, 200,
	    NULL);
	expect_value(s, p->dev, "apps/billing/tmp", 0, t);
	h_expect(s, "POST", "/v1/secrets/apps/nothing/undelete", p->dev, NULL, NULL, 404,
	    "not_found");

	/* destroy: that version is gone for good, the others stay */
	h_expect(s, "POST", "/v1/secrets/apps/billing/db/versions/1/destroy", p->dev, NULL, NULL,
	    200, NULL);
	CHECK(get(s, p->dev, "apps/billing/db", 1, NULL, 0, &code) == 410);
	CHECK(strcmp(code, "secret_version_destroyed") == 0);
	expect_value(s, p->dev, "apps/billing/db", 2, values[1]);
	expect_value(s, p->dev, "apps/billing/db", 0, values[2]);
	h_expect(s, "POST", "/v1/secrets/apps/billing/db/versions/1/destroy", p->dev, NULL, NULL,
	    200, NULL);                                         /* idempotent */
	h_expect(s, "POST", "/v1/secrets/apps/billing/db/versions/9/destroy", p->dev, NULL, NULL,
	    404, "not_found");
	h_expect(s, "POST", "/v1/secrets/apps/billing/db/versions/1/destroy", p->app, NULL, NULL,
	    403, "forbidden");

	/* max_versions = 3: the fourth and fifth writes destroy v1 and v2 */
	for (int i = 1; i <= 5; i++) {
		char v[64];

		snprintf(v, sizeof(v), "rot-echo-%d-8n2p", i);
		CHECK(put(s, p->dev, "apps/billing/rot", remember(v), NULL, NULL, &ver) ==
		    (i == 1 ? 201 : 200));
		CHECK(ver == i);
	}
	for (int i = 1; i <= 5; i++) {
		snprintf(path, sizeof(path), "rot-echo-%d-8n2p", i);
		if (i <= 5 - MAX_VERSIONS) {
			CHECK(get(s, p->dev, "apps/billing/rot", i, NULL, 0, &code) == 410);
			CHECK(strcmp(code, "secret_version_destroyed") == 0);
		} else {
			expect_value(s, p->dev, "apps/billing/rot", i, path);
		}
	}
}

/* The census of the "secrets" KEK version v (-1: no such version). */
static long long
census(struct h_server *s, const char *tok, int v)
{
	struct h_resp r;
	json_t *key, *ver;
	size_t a, b;
	long long n = -1;

	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, a, key)
		if (strcmp(h_jstr(key, "name"), "secrets") == 0)
			json_array_foreach(json_object_get(key, "versions"), b, ver)
				if (json_integer_value(json_object_get(ver, "version")) == v)
					n = json_integer_value(json_object_get(ver, "objects"));
	h_resp_free(&r);
	return n;
}

/* Every live version written so far reads back with its value. */
static void
all_read_back(struct h_server *s, struct people *p)
{
	expect_value(s, p->dev, "apps/billing/db", 2, values[1]);
	expect_value(s, p->dev, "apps/billing/db", 3, values[2]);
	expect_value(s, p->dev, "apps/hr/x", 1, values[3]);
	expect_value(s, p->dev, "apps/billing/tmp", 1, values[4]);
	for (int i = 5 - MAX_VERSIONS + 1; i <= 5; i++)
		expect_value(s, p->dev, "apps/billing/rot", i, values[4 + i]);
}

static void
test_keys(struct h_server *s, struct people *p)
{
	/* live: db v2 v3, hr/x v1, tmp v1, rot v3 v4 v5 */
	const long long live = 7;
	char path[128], st[32] = "";
	struct h_resp r;

	CHECK(census(s, p->kay, 1) == live);
	h_req(s, "POST", "/v1/keys/secrets/rotate", p->kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	CHECK(census(s, p->kay, 1) == live);
	CHECK(census(s, p->kay, 2) <= 0);
	/* a write after the rotation is under v2 */
	CHECK(put(s, p->dev, "apps/hr/y", remember("hr-foxtrot-1t5r6"), NULL, NULL, NULL) == 201);
	CHECK(census(s, p->kay, 2) == 1);
	h_expect(s, "POST", "/v1/keys/secrets/reencrypt", p->kay, "{\"mode\":\"full\"}", NULL,
	    400, "invalid_request");
	h_req(s, "POST", "/v1/keys/secrets/reencrypt", p->kay, "{}", NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(path, sizeof(path), "/v1/jobs/%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	for (int i = 0; i < 20000; i++) {
		h_req(s, "GET", path, p->admin, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(st, sizeof(st), "%s", h_jstr(r.json, "state"));
		h_resp_free(&r);
		if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			break;
		h_pause_ms(3);
	}
	CHECK(strcmp(st, "done") == 0);
	CHECK(census(s, p->kay, 1) == 0);
	CHECK(census(s, p->kay, 2) == live + 1);
	all_read_back(s, p);
	expect_value(s, p->dev, "apps/hr/y", 1, values[nvalues - 1]);
	/* v1 wraps nothing now: it can be retired */
	h_expect(s, "POST", "/v1/keys/secrets/versions/1/retire", p->kay, NULL, NULL, 200, NULL);
	all_read_back(s, p);
}

static void
test_rotation_overdue(struct h_server *s, struct people *p)
{
	bool raised = false;

	CHECK(put(s, p->dev, "apps/billing/api-key", remember("key-golf-6y3u9"),
	    "\"rotate_every_s\":3600", NULL, NULL) == 201);
	h_clock_advance(s, 3601LL * 1000);
	/* sessions idled out meanwhile */
	h_login(s, "audra", PW_USER, p->aud, sizeof(p->aud));
	h_login(s, "dev", PW_USER, p->dev, sizeof(p->dev));
	h_login(s, "admin", PW_ADMIN, p->admin, sizeof(p->admin));
	for (int i = 0; i < 5000 && !raised; i++) {
		struct h_resp r;
		json_t *a;
		size_t k;

		h_req(s, "GET", "/v1/alerts?rule=secret_rotation_overdue", p->aud, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(json_is_array(r.json));
		json_array_foreach(r.json, k, a)
			if (strcmp(h_jstr(a, "rule"), "secret_rotation_overdue") == 0 &&
			    strcmp(h_jstr(a, "actor"), "secrets/apps/billing/api-key") == 0)
				raised = true;
		h_resp_free(&r);
		if (!raised)
			h_pause_ms(3);
	}
	CHECK(raised);
}

static void
test_bad_input(struct h_server *s, struct people *p)
{
	char big[70 * 1024 + 64], url[256];
	const char *bad_paths[] = {
		"/v1/secrets/Apps/x", "/v1/secrets/apps/%2E%2E/x", "/v1/secrets/apps/%2E/x",
		"/v1/secrets/apps/x%7Cy", "/v1/secrets/a/b/c/d/e/f/g/h/i", "/v1/secrets/apps/x%20y",
	};
	struct h_resp r;

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
		h_expect(s, "PUT", bad_paths[i], p->dev, "{\"value\":\"v\"}", NULL, 400,
		    "invalid_request");
	memset(url, 'a', sizeof(url));
	memcpy(url, "/v1/secrets/", 12);
	url[12 + 101] = '\0';                                /* a 101-byte path */
	h_expect(s, "PUT", url, p->dev, "{\"value\":\"v\"}", NULL, 400, "invalid_request");
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev, "{\"value\":5}", NULL, 400,
	    "invalid_request");
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev, "{}", NULL, 400, "invalid_request");
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev, "{\"value\":\"v\",\"x\":1}", NULL,
	    400, "invalid_request");
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev,
	    "{\"value\":\"v\",\"metadata\":[]}", NULL, 400, "invalid_request");
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev,
	    "{\"value\":\"v\",\"rotate_every_s\":-1}", NULL, 400, "invalid_request");
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev, "[1]", NULL, 400, NULL);
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev, "{\"value\":\"v\"}",
	    (const char *[]){ "If-Match: W/\"1\"", NULL }, 400, "invalid_request");
	snprintf(big, sizeof(big), "{\"value\":\"");
	memset(big + 10, 'z', 65 * 1024);
	snprintf(big + 10 + 65 * 1024, 8, "\"}");
	h_expect(s, "PUT", "/v1/secrets/bad/body", p->dev, big, NULL, 413, "payload_too_large");
	h_expect(s, "GET", "/v1/secrets/apps/billing/db?version=x", p->dev, NULL, NULL, 400,
	    "invalid_request");
	h_expect(s, "GET", "/v1/secrets/apps/billing/db?version=0", p->dev, NULL, NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/secrets/apps/billing/db/versions/x/destroy", p->dev, NULL, NULL,
	    400, "invalid_request");
	h_expect(s, "GET", "/v1/secrets?prefix=/abs", p->dev, NULL, NULL, 400,
	    "invalid_request");
	h_expect(s, "GET", "/v1/secrets/apps/billing/db", NULL, NULL, NULL, 401, NULL);
	/* nothing of it was written */
	h_req(s, "GET", "/v1/secrets?prefix=bad/", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "secrets")) == 0);
	h_resp_free(&r);
	expect_value(s, p->dev, "apps/billing/db", 0, values[2]);
}

/* A child writes new secrets one after another and reports each
 * acknowledged one on a pipe; the server is killed meanwhile. */
static void
test_kill9(struct h_server *s, struct people *p)
{
	int fd[2], acked[4096], nacked = 0, n;
	pid_t pid;
	FILE *in;

	CHECK(pipe(fd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		FILE *out = fdopen(fd[1], "w");

		close(fd[0]);
		for (int i = 0; i < 4096; i++) {
			char path[64], v[64];

			snprintf(path, sizeof(path), "load/k%d", i);
			snprintf(v, sizeof(v), "load-value-%d-h7j3", i);
			if (put(s, p->dev, path, v, NULL, NULL, NULL) != 201)
				break;
			fprintf(out, "%d\n", i);
			fflush(out);
		}
		fclose(out);
		_exit(0);
	}
	close(fd[1]);
	in = fdopen(fd[0], "r");
	/* kill once the writer is well under way */
	while (nacked < 20 && fscanf(in, "%d", &n) == 1)
		acked[nacked++] = n;
	CHECK(nacked == 20);
	h_kill9_restart(s, "--dev");
	while (nacked < 4096 && fscanf(in, "%d", &n) == 1)
		acked[nacked++] = n;
	fclose(in);
	CHECK(waitpid(pid, NULL, 0) == pid);
	fprintf(stderr, "secrets: kill -9 after %d acknowledged writes\n", nacked);
	/* every acknowledged write is there, with its value */
	for (int i = 0; i < nacked; i++) {
		char path[64], v[64];

		snprintf(path, sizeof(path), "load/k%d", acked[i]);
		snprintf(v, sizeof(v), "load-value-%d-h7j3", acked[i]);
		expect_value(s, p->dev, path, 1, v);
	}
	/* the one in flight: there whole, or not at all (never torn) */
	{
		char path[64], want[64], v[256];
		long st;

		snprintf(path, sizeof(path), "load/k%d", nacked);
		snprintf(want, sizeof(want), "load-value-%d-h7j3", nacked);
		st = get(s, p->dev, path, 0, v, sizeof(v), NULL);
		CHECK(st == 404 || (st == 200 && strcmp(v, want) == 0));
	}
	all_read_back(s, p);
}

/* The CLI: the value from stdin or a file, never argv; --format json. */
static void
test_cli(struct h_server *s, struct people *p)
{
	char env[1024], cmd[2048], file[700], *out = NULL;
	const char *v1 = remember("cli-hotel-2k9d4"), *v2 = remember("cli-india-7s3f1");
	json_t *j;
	FILE *f;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s",
	    s->base, s->cacert, p->dev, h_bin());
	/* stdin, one trailing newline dropped */
	snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | %s secret put apps/cli/db "
	    "--metadata '{\"owner\":\"cli\"}' --rotate-every 0 --format json", v1, env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(json_integer_value(json_object_get(j, "version")) == 1);
	json_decref(j);
	free(out);
	/* a file, check-and-set on version 1 */
	snprintf(file, sizeof(file), "%s/value.txt", s->dir);
	CHECK((f = fopen(file, "w")) != NULL);
	fputs(v2, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s secret put apps/cli/db --file %s --cas 1 --format text", env, file);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "apps/cli/db: version 2") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s secret put apps/cli/db --file %s --cas 1 2>&1", env, file);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "precondition_failed") != NULL);
	free(out);
	/* never from argv */
	snprintf(cmd, sizeof(cmd), "%s secret put apps/cli/db x-on-argv 2>/dev/null", env);
	CHECK(h_run(cmd, NULL) == 2);
	/* get: the value alone, by version; json */
	snprintf(cmd, sizeof(cmd), "%s secret get apps/cli/db --field value", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strcmp(out, v2) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s secret get apps/cli/db --version 1 --field value", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strcmp(out, v1) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s secret get apps/cli/db --field json", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(strcmp(h_jstr(json_object_get(j, "metadata"), "owner"), "cli") == 0);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s secret list --prefix apps/cli/ --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(listed(j, "apps/cli/db") && !listed(j, "apps/billing/db"));
	CHECK(strstr(out, v2) == NULL);
	json_decref(j);
	free(out);
	/* rm, undelete, destroy */
	snprintf(cmd, sizeof(cmd), "%s secret rm apps/cli/db", env);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s secret get apps/cli/db 2>&1", env);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "not_found") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s secret undelete apps/cli/db --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"version\": 2") != NULL || strstr(out, "\"version\":2") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s secret destroy apps/cli/db --version 1", env);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s secret get apps/cli/db --version 1 2>&1", env);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "secret_version_destroyed") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s secret destroy apps/cli/db 2>/dev/null", env);
	CHECK(h_run(cmd, NULL) == 2);                      /* --version is required */
}

/* No value anywhere but in GET answers: not in the trail, the log, metrics. */
static void
test_no_values_leak(struct h_server *s, struct people *p)
{
	char cmd[1024], role[256], *trail = NULL, *log = NULL;
	struct h_resp r;
	FILE *f;
	long len;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &trail) == 0);
	CHECK(strstr(trail, "\"secret.read\"") != NULL);
	CHECK(strstr(trail, "\"secret.write\"") != NULL);
	CHECK(strstr(trail, "\"secret.list\"") != NULL);
	CHECK(strstr(trail, "\"secret.delete\"") != NULL);
	CHECK(strstr(trail, "\"secret.undelete\"") != NULL);
	CHECK(strstr(trail, "\"secret.destroy\"") != NULL);
	CHECK(strstr(trail, "\"secret.rotation_overdue\"") != NULL);
	CHECK(strstr(trail, "apps/billing/db") != NULL);
	f = fopen(s->log, "r");
	CHECK(f != NULL);
	CHECK(fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0);
	rewind(f);
	log = calloc(1, (size_t)len + 1);
	CHECK(log != NULL && fread(log, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	snprintf(role, sizeof(role), "{\"name\":\"scraper\",\"permissions\":[\"metrics.read\"]}");
	h_expect(s, "POST", "/v1/roles", p->admin, role, NULL, 201, NULL);
	{
		char tok[128];

		h_add_user(s, p->admin, "prom", "scraper", PW_USER, tok, sizeof(tok));
		h_req(s, "GET", "/metrics", tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
	}
	for (size_t i = 0; i < nvalues; i++) {
		CHECK(strstr(trail, values[i]) == NULL);
		CHECK(strstr(log, values[i]) == NULL);
		CHECK(strstr(r.body, values[i]) == NULL);
	}
	CHECK(strstr(trail, "load-value-") == NULL && strstr(log, "load-value-") == NULL);
	h_resp_free(&r);
	free(trail);
	free(log);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	struct h_resp r;
	char app[64], secret[128], body[512];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "secrets", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set_in(&s, "secrets", "max_versions", "3");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_expect(&s, "POST", "/v1/roles", p.admin,
	    "{\"name\":\"secrets_admin\",\"permissions\":[\"secrets.read:*\",\"secrets.write:*\"]}",
	    NULL, 201, NULL);
	h_expect(&s, "POST", "/v1/roles", p.admin,
	    "{\"name\":\"billing_secrets\",\"permissions\":[\"secrets.read:apps/billing/\"]}",
	    NULL, 201, NULL);
	h_expect(&s, "POST", "/v1/roles", p.admin,
	    "{\"name\":\"bad\",\"permissions\":[\"secrets.read:../x\"]}", NULL, 400,
	    "invalid_request");
	h_add_user(&s, p.admin, "dev", "secrets_admin", PW_USER, p.dev, sizeof(p.dev));
	h_add_user(&s, p.admin, "kay", "key_admin", PW_USER, p.kay, sizeof(p.kay));
	h_add_user(&s, p.admin, "audra", "auditor", PW_USER, p.aud, sizeof(p.aud));
	/* the billing app reads its own secrets */
	h_req(&s, "POST", "/v1/apps", p.admin,
	    "{\"name\":\"billing\",\"roles\":[\"billing_secrets\"],\"networks\":[\"127.0.0.1/32\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(app, sizeof(app), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "/v1/apps/%s/secrets", app);
	h_req(&s, "POST", body, p.admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(secret, sizeof(secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", app, secret);
	h_req(&s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p.app, sizeof(p.app), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);

	test_versions_cas(&s, &p);
	test_prefix_scope(&s, &p);
	test_delete_destroy_prune(&s, &p);
	test_keys(&s, &p);
	test_bad_input(&s, &p);
	test_kill9(&s, &p);
	test_rotation_overdue(&s, &p);
	test_cli(&s, &p);
	test_no_values_leak(&s, &p);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("secrets");
	return 0;
}
