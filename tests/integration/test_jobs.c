/*
 * Jobs on the real binary (issue 9 item 5): the synthetic kind "test.count"
 * (phivault-test only) survives kill -9 at several instants and, once done,
 * has done every item's work exactly once (no repeated line, no gap in the
 * meta value it appends to in the same transaction as its cursor), and the
 * audit chain verifies; pause / resume / cancel with 409 job_conflict for
 * a transition the state does not allow, each audited.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define N_ITEMS 150

static void
admin_login(struct h_server *s, char tok[128])
{
	char body[512];
	const char *otp = h_jstr(s->init, "admin_password");
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"username\":\"admin\",\"password\":\"%s\"}", otp);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(tok, 128, "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"%s\"}",
	    otp, PW_ADMIN);
	h_req(s, "POST", "/v1/auth/password", tok, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"admin\",\"password\":\"" PW_ADMIN "\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(tok, 128, "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
}

static void
enqueue(struct h_server *s, const char *tok, const char *body, char id[64])
{
	struct h_resp r;

	h_req(s, "POST", "/v1/test/jobs", tok, body, NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(h_jstr(r.json, "job") != NULL && strncmp(h_jstr(r.json, "job"), "job_", 4) == 0);
	snprintf(id, 64, "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
}

/* GET /v1/jobs/{id}: state into st, returns done */
static long long
job_get(struct h_server *s, const char *tok, const char *id, char st[16])
{
	char path[128];
	struct h_resp r;
	long long done;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "id"), id) == 0);
	snprintf(st, 16, "%s", h_jstr(r.json, "state"));
	done = json_integer_value(json_object_get(r.json, "done"));
	h_resp_free(&r);
	return done;
}

/* Poll until done >= want or the state is final; a few ms between polls. */
static long long
wait_done(struct h_server *s, const char *tok, const char *id, long long want, char st[16])
{
	long long done = 0;

	for (int i = 0; i < 20000; i++) {
		done = job_get(s, tok, id, st);
		if (done >= want || strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			return done;
		h_pause_ms(3);
	}
	CHECK(!"job made no progress");
	return done;
}

static void
post_expect(struct h_server *s, const char *tok, const char *id, const char *verb, int status,
    const char *code, const char *state)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/jobs/%s/%s", id, verb);
	h_req(s, "POST", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, status);
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	if (state != NULL)
		CHECK(strcmp(h_jstr(r.json, "state"), state) == 0);
	h_resp_free(&r);
}

/* The meta value the job appended to, read straight from the database. */
static char *
effects(struct h_server *s, const char *id)
{
	char path[700], key[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out = NULL;

	snprintf(path, sizeof(path), "%s/phivault.db", s->dir);
	snprintf(key, sizeof(key), "test.count/%s", id);
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) ==
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);

		out = calloc(1, (size_t)n + 1);
		CHECK(out != NULL);
		memcpy(out, sqlite3_column_blob(st, 0), (size_t)n);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out != NULL ? out : strdup("");
}

static void
test_crash_resume(struct h_server *s, const char *tok)
{
	static const long long kill_at[] = { 10, 45, 90, 130 };
	char id[64], st[16], *got, want[N_ITEMS * 8 + 1];
	long long done, prev = 0;
	size_t off = 0;

	enqueue(s, tok, "{\"n\":" "150" "}", id);
	for (size_t k = 0; k < sizeof(kill_at) / sizeof(kill_at[0]); k++) {
		done = wait_done(s, tok, id, kill_at[k], st);
		CHECK(done >= prev);
		h_kill9_restart(s, "--dev");
		/* what was committed before the kill is still there */
		CHECK(job_get(s, tok, id, st) >= done);
		prev = done;
	}
	done = wait_done(s, tok, id, N_ITEMS, st);
	CHECK(strcmp(st, "done") == 0);
	CHECK(done == N_ITEMS);
	got = effects(s, id);
	for (int i = 0; i < N_ITEMS; i++)
		off += (size_t)snprintf(want + off, sizeof(want) - off, "%d\n", i);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "effects differ: got %zu bytes, want %zu\n", strlen(got), off);
	CHECK(strcmp(got, want) == 0);   /* each item once, in order: no repeat, no gap */
	free(got);
}

static void
test_pause_resume_cancel(struct h_server *s, const char *tok)
{
	char id[64], st[16];
	struct h_resp r;

	enqueue(s, tok, "{\"n\":1000000}", id);
	post_expect(s, tok, id, "pause", 200, NULL, "paused");
	post_expect(s, tok, id, "pause", 409, "job_conflict", NULL);
	(void)job_get(s, tok, id, st);
	CHECK(strcmp(st, "paused") == 0);
	post_expect(s, tok, id, "resume", 200, NULL, "queued");
	post_expect(s, tok, id, "resume", 409, "job_conflict", NULL);
	post_expect(s, tok, id, "cancel", 200, NULL, "cancelled");
	post_expect(s, tok, id, "cancel", 409, "job_conflict", NULL);
	post_expect(s, tok, id, "resume", 409, "job_conflict", NULL);
	post_expect(s, tok, "job_aaaaaaaaaaaaaaaaaaaaaaaaaa", "pause", 404, "not_found", NULL);
	post_expect(s, tok, "nope", "pause", 404, "not_found", NULL);
	/* no runner step after the cancel: done stays where it was */
	{
		long long d1 = job_get(s, tok, id, st), d2;

		h_pause_ms(20);
		d2 = job_get(s, tok, id, st);
		CHECK(d1 == d2 && strcmp(st, "cancelled") == 0);
	}
	h_req(s, "GET", "/v1/jobs", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "jobs")) == 2);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(r.json, "jobs"), 0), "id"), id) == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/jobs", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 401);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/test/jobs", tok, "{\"n\":0}", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);
}

/* `phivault job ...` in both formats, and the progress bar on a terminal. */
static void
test_cli(struct h_server *s, const char *tok)
{
	char cmd[2048], env[1024], *out = NULL, id[64], *screen;
	json_t *j;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s",
	    s->base, s->cacert, tok, h_bin());
	snprintf(cmd, sizeof(cmd), "%s job list --format json", env);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && json_array_size(json_object_get(j, "jobs")) == 2);
	snprintf(id, sizeof(id), "%s",
	    h_jstr(json_array_get(json_object_get(j, "jobs"), 1), "id"));   /* the crash job */
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s job list --format text", env);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "test.count") != NULL && strstr(out, "cancelled") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s job show %s --format text", env, id);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "state:     done") != NULL);
	CHECK(strstr(out, "[##############################] 100% 150/150") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s job show %s --watch --format json", env, id);
	CHECK(h_run(cmd, &out) == 0);   /* an ended job: one answer, at once */
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strcmp(h_jstr(j, "state"), "done") == 0);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s job pause %s --format json 2>&1", env, id);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "job_conflict") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s job show nope 2>/dev/null", env);
	CHECK(h_run(cmd, NULL) == 2);

	/* --watch on a terminal: the bar moves in place until the job ends */
	enqueue(s, tok, "{\"n\":100}", id);
	snprintf(cmd, sizeof(cmd), "%s job show %s --watch --format text; sleep 30", env, id);
	h_tty_start(s, 200, cmd);
	screen = h_tty_wait("finished:", 20);
	CHECK(strstr(screen, "state:     done") != NULL);
	CHECK(strstr(screen, "100% 100/100") != NULL);
	free(screen);
	h_tty_stop();
}

int
main(void)
{
	struct h_server s;
	char tok[128], cmd[1024], *out = NULL;

	h_init(&s, "jobs", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "jobs_step_pause_ms", "0");
	h_config_set(&s, "jobs_max_steps_per_s", "200");
	h_start(&s, "--dev");
	admin_login(&s, tok);
	test_crash_resume(&s, tok);
	test_pause_resume_cancel(&s, tok);
	test_cli(&s, tok);
	CHECK(h_stop(&s) == 0);

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"job.create\"") != NULL);
	CHECK(strstr(out, "\"job.done\"") != NULL);
	CHECK(strstr(out, "\"job.pause\"") != NULL);
	CHECK(strstr(out, "\"job.resume\"") != NULL);
	CHECK(strstr(out, "\"job.cancel\"") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	json_decref(s.init);
	h_done("test_jobs");
	return 0;
}
