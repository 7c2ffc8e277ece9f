/*
 * Backups on the real binary (issue 12): it follows docs/operations.md
 * "Backup and disaster recovery" command by command.
 *
 *  - POST /v1/sys/backups while serving -> a backup.create job; the file is
 *    listed with its manifest hash and immutability date, mode 0400, holds
 *    no plaintext of the database (a username stored in clear in
 *    phivault.db is not in it); `backup create --out` copies it out byte
 *    for byte; sys.backup is needed;
 *  - `backup verify FILE --data DIR`: 0 on a good set; a one-byte change
 *    is reported with its chunk (exit 1); the middle backup of three
 *    removed or replaced is detected (exit 1); a revoked backup key version
 *    makes the backup unrestorable (exit 1);
 *  - DELETE inside the immutability window: 409 conflict, audited denied,
 *    even for the admin; after it (injectable clock) 204;
 *  - residency: a collection in another region refuses the backup with
 *    403 region_not_allowed naming the collection;
 *  - restore into a new directory (refuses a non-empty one), then that
 *    directory serves with the same unseal material, `audit verify` passes
 *    and a record reads back with its fields;
 *  - kill -9 right after a backup is queued: after restart the job ends
 *    done, the backup verifies, and a stale partial file is never listed.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define N_REC 30

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[128], kay[128], clin[128];
};

static char rec_id[N_REC][64];

static void
create_records(struct h_server *s, struct people *p)
{
	struct h_resp r;
	char body[256];

	h_collection_create(s, p->admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"searchable\":true}]}");
	for (int i = 0; i < N_REC; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"Patient Backup-%03d\",\"mrn\":\"MRN%06d\"}",
		    i, 4200 + i);
		h_req(s, "POST", "/v1/collections/patients/records", p->clin, body, NULL, &r);
		CHECK_STATUS(&r, 201);
		snprintf(rec_id[i], 64, "%s", h_jstr(r.json, "id"));
		h_resp_free(&r);
	}
}

/* Poll the job until it has ended; returns its final state. */
static void
wait_job(struct h_server *s, const char *tok, const char *job, char state[16])
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/jobs/%s", job);
	for (int i = 0; i < 2000; i++) {
		struct h_resp r;

		h_req(s, "GET", path, tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(state, 16, "%s", h_jstr(r.json, "state"));
		h_resp_free(&r);
		if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
		    strcmp(state, "cancelled") == 0)
			return;
		h_pause_ms(5);
	}
	CHECK(!"job did not end");
}

/* POST /v1/sys/backups, wait; the backup's ID into id. */
static void
backup_now(struct h_server *s, const char *tok, char id[64])
{
	char job[64], state[16];
	struct h_resp r;

	h_req(s, "POST", "/v1/sys/backups", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(strncmp(h_jstr(r.json, "job"), "job_", 4) == 0);
	CHECK(strncmp(h_jstr(r.json, "backup"), "bkp_", 4) == 0);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	snprintf(id, 64, "%s", h_jstr(r.json, "backup"));
	h_resp_free(&r);
	wait_job(s, tok, job, state);
	CHECK(strcmp(state, "done") == 0);
}

/* The listed entry of a backup (a new reference) or NULL. */
static json_t *
listed(struct h_server *s, const char *tok, const char *id)
{
	struct h_resp r;
	json_t *e, *found = NULL;
	size_t i;

	h_req(s, "GET", "/v1/sys/backups", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_array(r.json));
	json_array_foreach(r.json, i, e)
		if (strcmp(h_jstr(e, "id"), id) == 0)
			found = json_incref(e);
	h_resp_free(&r);
	return found;
}

static bool
file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	size_t n = strlen(needle), got;
	char *buf;
	bool hit = false;
	struct stat sb;

	CHECK(f != NULL && stat(path, &sb) == 0);
	buf = malloc((size_t)sb.st_size + 1);
	CHECK(buf != NULL);
	got = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	for (size_t i = 0; i + n <= got && !hit; i++)
		hit = memcmp(buf + i, needle, n) == 0;
	free(buf);
	return hit;
}

static int
run(const char *cmd, char **out)
{
	int code = h_run(cmd, out);

	if (out != NULL && *out != NULL && code != 0)
		fprintf(stderr, "[%s] exit %d: %s\n", cmd, code, *out);
	return code;
}

static void
test_create_list(struct h_server *s, struct people *p, char b1[64])
{
	json_t *e;
	struct stat sb;
	struct h_resp r;

	/* sys.backup only: a clinician may not */
	h_req(s, "POST", "/v1/sys/backups", p->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	backup_now(s, p->admin, b1);
	CHECK((e = listed(s, p->admin, b1)) != NULL);
	CHECK(json_is_true(json_object_get(e, "verified")));
	CHECK(strlen(h_jstr(e, "manifest_sha256")) == 64);
	CHECK(h_jstr(e, "created_at")[0] == '2' && h_jstr(e, "immutable_until")[0] == '2');
	CHECK(strcmp(h_jstr(e, "immutable_until"), h_jstr(e, "created_at")) > 0);
	CHECK(stat(h_jstr(e, "file"), &sb) == 0);
	CHECK((sb.st_mode & 0777) == 0400);
	CHECK(json_integer_value(json_object_get(e, "size")) == (long long)sb.st_size);
	/* encrypted: "clara" is in clear in phivault.db (users.username), never in the backup */
	{
		char db[700], wal[700];

		snprintf(db, sizeof(db), "%s/phivault.db", s->dir);
		snprintf(wal, sizeof(wal), "%s/phivault.db-wal", s->dir);
		CHECK(file_has(db, "clara") || (access(wal, F_OK) == 0 && file_has(wal, "clara")));
		CHECK(!file_has(h_jstr(e, "file"), "clara"));
		CHECK(!file_has(h_jstr(e, "file"), "SQLite format 3"));
	}
	json_decref(e);
}

/* The runbook: create with --out, list, verify. */
static void
test_cli(struct h_server *s, struct people *p, const char *env, char b2[64], char *copy,
    size_t copylen)
{
	char cmd[4096], *out = NULL, dir[600];
	json_t *j;
	json_error_t je;

	h_tmpdir("backup-out", dir, sizeof(dir));
	snprintf(copy, copylen, "%s/offsite.pvbak", dir);
	snprintf(cmd, sizeof(cmd), "%s %s backup create --out %s --format json", env, h_bin(),
	    copy);
	CHECK(run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, &je)) != NULL);
	snprintf(b2, 64, "%s", h_jstr(j, "id"));
	CHECK(strncmp(b2, "bkp_", 4) == 0);
	snprintf(cmd, sizeof(cmd), "cmp %s %s", h_jstr(j, "file"), copy);
	CHECK(run(cmd, NULL) == 0);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s backup list --format text", env, h_bin());
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, b2) != NULL && strncmp(out, "ID ", 3) == 0);
	free(out);
	/* a tty-less create prints JSON by default and needs a token */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s %s backup create 2>&1",
	    s->base, s->cacert, h_bin());
	CHECK(run(cmd, &out) == 2);
	free(out);
	(void)p;
}

static void
test_verify(struct h_server *s, const char *b1, const char *b2, const char *b3)
{
	char cmd[4096], *out = NULL, set[600], path[800];

	/* the whole set, pinned to the vault's key and keyring */
	snprintf(cmd, sizeof(cmd), "%s backup verify %s/backups/%s.pvbak --data %s --format text 2>&1", h_bin(),
	    s->dir, b3, s->dir);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "decryption: ok") != NULL && strstr(out, "chain:      ok") != NULL);
	free(out);
	/* a copy of the set with one byte of b2's first chunk changed */
	h_tmpdir("backup-corrupt", set, sizeof(set));
	snprintf(cmd, sizeof(cmd), "cp %s/backups/*.pvbak %s/ && chmod u+w %s/%s.pvbak", s->dir, set,
	    set, b2);
	CHECK(run(cmd, NULL) == 0);
	snprintf(path, sizeof(path), "%s/%s.pvbak", set, b2);
	h_flip_byte(path, 200);
	snprintf(cmd, sizeof(cmd), "%s backup verify %s/%s.pvbak --data %s --format text 2>&1", h_bin(), set, b2,
	    s->dir);
	CHECK(run(cmd, &out) == 1);
	CHECK(strstr(out, "chunk 0 is corrupt") != NULL);
	free(out);
	/* without --data: still found (the file's own key, chunk hashes) */
	snprintf(cmd, sizeof(cmd), "%s backup verify %s/%s.pvbak --format json 2>/dev/null",
	    h_bin(), set, b2);
	CHECK(run(cmd, &out) == 1);
	CHECK(strstr(out, "\"bad_chunk\": 0") != NULL || strstr(out, "\"bad_chunk\":0") != NULL);
	free(out);
	/* the middle one removed: the chain breaks, and says where */
	snprintf(cmd, sizeof(cmd), "rm -f %s/%s.pvbak", set, b2);
	CHECK(run(cmd, NULL) == 0);
	snprintf(path, sizeof(path), "%s/%s.pvbak", set, b3);
	snprintf(cmd, sizeof(cmd), "%s backup verify %s --data %s --format text 2>&1", h_bin(), path, s->dir);
	CHECK(run(cmd, &out) == 1);
	CHECK(strstr(out, "chain:      BROKEN") != NULL && strstr(out, b3) != NULL &&
	    strstr(out, "missing or was replaced") != NULL);
	free(out);
	/* replaced by another backup (b1 copied under b2's name) is no better */
	snprintf(cmd, sizeof(cmd), "cp %s/backups/%s.pvbak %s/%s.pvbak", s->dir, b1, set, b2);
	CHECK(run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s backup verify %s --data %s --format text 2>&1", h_bin(), path, s->dir);
	CHECK(run(cmd, &out) == 1);
	free(out);
}

static void
test_immutable(struct h_server *s, struct people *p, const char *b1)
{
	char path[128], cmd[2048], *out = NULL;

	snprintf(path, sizeof(path), "/v1/sys/backups/%s", b1);
	h_expect(s, "DELETE", path, p->admin, NULL, NULL, 409, "conflict");
	h_expect(s, "DELETE", path, p->clin, NULL, NULL, 403, "forbidden");
	h_expect(s, "DELETE", "/v1/sys/backups/bkp_nosuchbackup", p->admin, NULL, NULL, 404,
	    "not_found");
	snprintf(cmd, sizeof(cmd), "%s/backups/%s.pvbak", s->dir, b1);
	CHECK(access(cmd, F_OK) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>/dev/null", h_bin(),
	    s->dir);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "\"action\":\"backup.delete\"") != NULL &&
	    strstr(out, "\"reason\":\"immutable\"") != NULL);
	CHECK(strstr(out, "\"action\":\"backup.create\"") != NULL);
	CHECK(strstr(out, "Patient Backup-") == NULL);   /* no PHI in the trail */
	free(out);
}

static void
test_restore(struct h_server *s, struct people *p, const char *copy)
{
	struct h_server r2;
	char cmd[4096], *out = NULL, parent[600], path[256], tok[128];
	struct h_resp r;

	memset(&r2, 0, sizeof(r2));
	h_tmpdir("backup-restored", parent, sizeof(parent));
	snprintf(r2.dir, sizeof(r2.dir), "%s/data", parent);
	snprintf(r2.log, sizeof(r2.log), "%s/server.log", parent);
	snprintf(r2.cacert, sizeof(r2.cacert), "%s/tls/cert.pem", r2.dir);
	/* refuses a directory that is not empty */
	snprintf(cmd, sizeof(cmd), "%s backup restore %s --data %s --key-file %s/unseal.key --format text 2>&1",
	    h_bin(), copy, s->dir, s->dir);
	CHECK(run(cmd, &out) == 3);
	CHECK(strstr(out, "not empty") != NULL);
	free(out);
	/* wrong unseal material: refused, and nothing is left behind */
	snprintf(cmd, sizeof(cmd), "head -c 32 /dev/urandom > %s/wrong.key && %s backup restore %s "
	    "--data %s --key-file %s/wrong.key 2>&1", parent, h_bin(), copy, r2.dir, parent);
	CHECK(run(cmd, &out) != 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s 2>/dev/null)\"", r2.dir);
	CHECK(run(cmd, NULL) == 0);
	/* the runbook's restore, from the off-site copy */
	snprintf(cmd, sizeof(cmd), "%s backup restore %s --data %s --key-file %s/unseal.key --format text 2>&1",
	    h_bin(), copy, r2.dir, s->dir);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "audit chain verified") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), r2.dir);
	CHECK(run(cmd, &out) == 0);
	free(out);
	/* it serves, auto-unsealed by the same key file, and the data is there */
	if (getenv("PV_CRACKLIB_DICT") != NULL)
		h_config_set(&r2, "password_dictionary", getenv("PV_CRACKLIB_DICT"));
	h_config_set(&r2, "mfa_required", "off");
	h_start(&r2, "--dev");
	h_req(&r2, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	h_login(&r2, "clara", PW_USER, tok, sizeof(tok));
	for (int i = 0; i < N_REC; i += 7) {
		char want[64];

		snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", rec_id[i]);
		h_req(&r2, "GET", path, tok, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		snprintf(want, sizeof(want), "Patient Backup-%03d", i);
		CHECK(strcmp(h_jstr(json_object_get(r.json, "fields"), "name"), want) == 0);
		h_resp_free(&r);
	}
	CHECK(h_stop(&r2) == 0);
	(void)p;
}

/* Drills: on demand through the API (evidence in GET /v1/sys/drills and the
 * trail) and offline with the CLI; a damaged backup fails its drill. */
static void
test_drill(struct h_server *s, struct people *p, const char *b3)
{
	char path[128], job[64], state[16], cmd[4096], *out = NULL, dir[600];
	struct h_resp r;
	json_t *ev;

	snprintf(path, sizeof(path), "/v1/sys/backups/%s/drill", b3);
	h_expect(s, "POST", path, p->clin, NULL, NULL, 403, "forbidden");
	h_expect(s, "POST", "/v1/sys/backups/bkp_nosuchbackup/drill", p->admin, NULL, NULL, 404,
	    "not_found");
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	wait_job(s, p->admin, job, state);
	CHECK(strcmp(state, "done") == 0);
	h_req(s, "GET", "/v1/sys/drills", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_array(r.json) && json_array_size(r.json) >= 1);
	ev = json_array_get(r.json, 0);
	CHECK(strcmp(h_jstr(ev, "backup"), b3) == 0);
	CHECK(json_is_true(json_object_get(ev, "ok")));
	CHECK(json_is_true(json_object_get(ev, "audit_verified")));
	CHECK(json_integer_value(json_object_get(ev, "records_checked")) == N_REC);
	CHECK(json_integer_value(json_object_get(ev, "records_failed")) == 0);
	CHECK(json_is_number(json_object_get(ev, "rto_s")) &&
	    json_number_value(json_object_get(ev, "rto_s")) >= 0);
	CHECK(strlen(h_jstr(ev, "signature")) == 128);
	CHECK(h_jstr(ev, "started_at")[0] == '2');
	h_resp_free(&r);
	/* the scratch directory is gone */
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/tmp 2>/dev/null)\"", s->dir);
	CHECK(run(cmd, NULL) == 0);
	/* the runbook's offline drill of the newest backup */
	snprintf(cmd, sizeof(cmd), "%s backup drill --data %s --format text 2>&1", h_bin(), s->dir);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "PASSED") != NULL && strstr(out, "records checked: 30 (failed 0)") != NULL);
	free(out);
	/* a damaged backup fails its drill, exit 1 */
	h_tmpdir("backup-drill-bad", dir, sizeof(dir));
	snprintf(cmd, sizeof(cmd), "cp %s/backups/%s.pvbak %s/bad.pvbak && chmod u+w %s/bad.pvbak", s->dir, b3,
	    dir, dir);
	CHECK(run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s/bad.pvbak", dir);
	h_flip_byte(cmd, 300);
	snprintf(cmd, sizeof(cmd), "%s backup drill --data %s --backup %s/bad.pvbak --format json "
	    "2>/dev/null", h_bin(), s->dir, dir);
	CHECK(run(cmd, &out) == 1);
	CHECK(strstr(out, "\"ok\": false") != NULL || strstr(out, "\"ok\":false") != NULL);
	free(out);
}

/* Revoking the backup key version a backup needs makes it unrestorable. */
static void
test_revoked(struct h_server *s, struct people *p, const char *b1)
{
	char cmd[2048], *out = NULL;
	struct h_resp r;

	h_req(s, "POST", "/v1/keys/backup/rotate", p->kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/keys/backup/versions/1/revoke", p->kay, "{\"confirm\":\"backup:1\"}",
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	snprintf(cmd, sizeof(cmd), "%s backup verify %s/backups/%s.pvbak --data %s --format text 2>&1", h_bin(),
	    s->dir, b1, s->dir);
	CHECK(run(cmd, &out) == 1);
	CHECK(strstr(out, "revoked: unrestorable") != NULL);
	free(out);
}

static void
test_residency(struct h_server *s, struct people *p)
{
	struct h_resp r;

	h_collection_create(s, p->admin,
	    "{\"name\":\"eu_patients\",\"region\":\"eu\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	h_req(s, "POST", "/v1/sys/backups", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(h_err_code(&r), "region_not_allowed") == 0);
	CHECK(strstr(r.body, "eu_patients") != NULL);
	h_resp_free(&r);
}

/* kill -9 while a client writes records and a backup job is queued: after
 * the restart every acknowledged write reads back, the job ends done, the
 * backup verifies, the audit chain verifies, and a stale partial file is
 * never listed. */
static void
test_crash(struct h_server *s, struct people *p)
{
	char id[64], job[64], state[16], cmd[2048], acked[700], *out = NULL, line[128];
	struct h_resp r;
	json_t *e;
	pid_t writer;
	FILE *f;
	int fd, n = 0, status;

	snprintf(cmd, sizeof(cmd), "%s/backups/.bkp_stale0000000000000000000000.partial", s->dir);
	CHECK((fd = open(cmd, O_WRONLY | O_CREAT, 0600)) >= 0);
	CHECK(write(fd, "PVBACKUP1\n", 10) == 10);
	close(fd);
	snprintf(acked, sizeof(acked), "%s/../acked.txt", s->dir);
	/* the writer: creates records until the server goes away, one line per 201 */
	writer = fork();
	CHECK(writer >= 0);
	if (writer == 0) {
		FILE *af = fopen(acked, "w");

		if (af == NULL)
			_exit(1);
		for (int i = 0; i < 100000; i++) {
			char body[128];

			snprintf(body, sizeof(body), "{\"name\":\"Crash Person-%d\",\"mrn\":\"MRN%06d\"}",
			    i, 900000 + i);
			h_req(s, "POST", "/v1/collections/patients/records", p->clin, body, NULL, &r);
			if (r.status != 201) {
				h_resp_free(&r);
				break;
			}
			fprintf(af, "%s\n", h_jstr(r.json, "id"));
			fflush(af);
			h_resp_free(&r);
		}
		fclose(af);
		_exit(0);
	}
	/* the backup starts once the writer has its first write acknowledged */
	for (int i = 0; i < 2000; i++) {
		struct stat sb;

		if (stat(acked, &sb) == 0 && sb.st_size > 0)
			break;
		h_pause_ms(5);
	}
	h_req(s, "POST", "/v1/sys/backups", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	snprintf(id, sizeof(id), "%s", h_jstr(r.json, "backup"));
	h_resp_free(&r);
	h_pause_ms(5);
	h_kill9_restart(s, "--dev");
	CHECK(waitpid(writer, &status, 0) == writer);
	/* every acknowledged write is there */
	CHECK((f = fopen(acked, "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		char path[160];

		line[strcspn(line, "\n")] = '\0';
		snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", line);
		h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
		n++;
	}
	fclose(f);
	CHECK(n > 0);
	wait_job(s, p->admin, job, state);
	CHECK(strcmp(state, "done") == 0);
	CHECK((e = listed(s, p->admin, id)) != NULL);
	json_decref(e);
	h_req(s, "GET", "/v1/sys/backups", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, "stale") == NULL && strstr(r.body, "partial") == NULL);
	h_resp_free(&r);
	snprintf(cmd, sizeof(cmd), "%s backup verify %s/backups/%s.pvbak --data %s --format text 2>&1", h_bin(),
	    s->dir, id, s->dir);
	CHECK(run(cmd, &out) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s->dir);
	CHECK(run(cmd, &out) == 0);
	free(out);
}

/* The number of listed backups, polled until it is want (the scheduler
 * looks once a second). */
static size_t
wait_listed(struct h_server *s, const char *tok, size_t want)
{
	size_t n = 0;

	for (int i = 0; i < 2000; i++) {
		struct h_resp r;

		h_req(s, "GET", "/v1/sys/backups", tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		n = json_array_size(r.json);
		h_resp_free(&r);
		if (n == want)
			break;
		h_pause_ms(5);
	}
	return n;
}

/* [backup] every_s and keep: a backup each time the clock passes every_s,
 * the oldest pruned beyond keep (immutable_days = 0 here), audited. */
/* A patient shredded after a backup stays shredded when that backup is
 * restored: the newer backup's signed manifest lists the tombstone, and the
 * restore applies the set's tombstones before the restored vault serves. */
static void
test_restore_shredded(void)
{
	struct h_server s, r2;
	char adm[128], clin[128], off[128], tok[128], ra[64], rb[64], b1[64], b2[64];
	char cmd[4096], *out = NULL, parent[600], path[256], file[1200];
	struct h_resp r;
	json_t *o;

	h_init(&s, "backup-shred", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, adm, sizeof(adm));
	h_add_user(&s, adm, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_add_officer(&s, adm, "olive", PW_USER, off, sizeof(off));
	h_collection_create(&s, adm, "{\"name\":\"charts\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"mrn\",\"type\":\"string\",\"classification\":\"phi\",\"subject\":true},"
	    "{\"name\":\"note\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	h_req(&s, "POST", "/v1/collections/charts/records", clin,
	    "{\"mrn\":\"MRN-SHRED-A\",\"note\":\"Patient A note\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(ra, sizeof(ra), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/collections/charts/records", clin,
	    "{\"mrn\":\"MRN-KEEP-B\",\"note\":\"Patient B note\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(rb, sizeof(rb), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	backup_now(&s, adm, b1);                 /* holds A */
	h_expect(&s, "DELETE", "/v1/subjects/MRN-SHRED-A", off, NULL, NULL, 200, NULL);
	backup_now(&s, adm, b2);                 /* its manifest lists A's tombstone */
	CHECK(h_stop(&s) == 0);

	memset(&r2, 0, sizeof(r2));
	h_tmpdir("backup-shred-restored", parent, sizeof(parent));
	snprintf(r2.dir, sizeof(r2.dir), "%s/data", parent);
	snprintf(r2.log, sizeof(r2.log), "%s/server.log", parent);
	snprintf(r2.cacert, sizeof(r2.cacert), "%s/tls/cert.pem", r2.dir);
	snprintf(file, sizeof(file), "%s/backups/%s.pvbak", s.dir, b1);
	snprintf(cmd, sizeof(cmd), "%s backup restore %s --data %s --key-file %s/unseal.key "
	    "--format json 2>/dev/null", h_bin(), file, r2.dir, s.dir);
	CHECK(run(cmd, &out) == 0);
	o = json_loads(out, 0, NULL);
	if (o == NULL || json_integer_value(json_object_get(o, "tombstones_applied")) != 1)
		fprintf(stderr, "restore said: %s\n", out);
	CHECK(o != NULL && json_integer_value(json_object_get(o, "tombstones_applied")) == 1);
	json_decref(o);
	free(out);
	if (getenv("PV_CRACKLIB_DICT") != NULL)
		h_config_set(&r2, "password_dictionary", getenv("PV_CRACKLIB_DICT"));
	h_config_set(&r2, "mfa_required", "off");
	h_start(&r2, "--dev");
	h_login(&r2, "clara", PW_USER, tok, sizeof(tok));
	snprintf(path, sizeof(path), "/v1/collections/charts/records/%s", ra);
	h_req(&r2, "GET", path, tok, NULL, TREAT, &r);
	CHECK(r.status == 410 && strcmp(h_err_code(&r), "subject_shredded") == 0);
	CHECK(strstr(r.body, "Patient A") == NULL);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/collections/charts/records/%s", rb);
	h_req(&r2, "GET", path, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "fields"), "note"), "Patient B note") == 0);
	h_resp_free(&r);
	CHECK(h_stop(&r2) == 0);
	json_decref(s.init);
}

static void
test_schedule(void)
{
	struct h_server s;
	char tok[128], aud[128], first[64], cmd[2048], *out = NULL;
	struct h_resp r;
	bool raised = false;

	h_init(&s, "backup-sched", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set_in(&s, "backup", "every_s", "600");
	h_config_set_in(&s, "backup", "keep", "2");
	h_config_set_in(&s, "backup", "immutable_days", "0");
	h_config_set_in(&s, "backup", "drill_every_s", "1200");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, tok, sizeof(tok));
	h_add_user(&s, tok, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	CHECK(wait_listed(&s, tok, 0) == 0);
	h_clock_advance(&s, 601LL * 1000);
	CHECK(wait_listed(&s, tok, 1) == 1);
	h_req(&s, "GET", "/v1/sys/backups", tok, NULL, NULL, &r);
	snprintf(first, sizeof(first), "%s", h_jstr(json_array_get(r.json, 0), "id"));
	h_resp_free(&r);
	h_clock_advance(&s, 601LL * 1000);
	CHECK(wait_listed(&s, tok, 2) == 2);
	h_clock_advance(&s, 601LL * 1000);
	/* a third, then the oldest pruned: two again, the first gone */
	for (int i = 0; i < 2000; i++) {
		h_req(&s, "GET", "/v1/sys/backups", tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		if (json_array_size(r.json) == 2 && strstr(r.body, first) == NULL) {
			h_resp_free(&r);
			break;
		}
		h_resp_free(&r);
		h_pause_ms(5);
	}
	h_req(&s, "GET", "/v1/sys/backups", tok, NULL, NULL, &r);
	CHECK(json_array_size(r.json) == 2 && strstr(r.body, first) == NULL);
	h_resp_free(&r);
	/* a scheduled drill runs (due drill_every_s after the start) and passes; no
	 * drill_overdue alert */
	for (int i = 0; i < 2000 && !raised; i++) {
		h_req(&s, "GET", "/v1/sys/drills", tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		raised = json_array_size(r.json) >= 1 &&
		    json_is_true(json_object_get(json_array_get(r.json, 0), "ok"));
		h_resp_free(&r);
		if (!raised)
			h_pause_ms(5);
	}
	CHECK(raised);
	raised = false;
	h_login(&s, "audrey", PW_USER, aud, sizeof(aud));   /* idle since it was made */
	h_req(&s, "GET", "/v1/alerts?rule=drill_overdue", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(r.json) == 0);
	h_resp_free(&r);
	/* drills can no longer pass (their key file is gone): after 2 x drill_every_s
	 * (1200 s here)
	 * without a passing drill, drill_overdue */
	snprintf(cmd, sizeof(cmd), "%s/unseal.key", s.dir);
	CHECK(unlink(cmd) == 0);
	h_clock_advance(&s, 2401LL * 1000);
	h_login(&s, "audrey", PW_USER, aud, sizeof(aud));
	for (int i = 0; i < 2000 && !raised; i++) {
		h_req(&s, "GET", "/v1/alerts?rule=drill_overdue", aud, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		raised = json_array_size(r.json) == 1 &&
		    strcmp(h_jstr(json_array_get(r.json, 0), "severity"), "high") == 0;
		h_resp_free(&r);
		if (!raised)
			h_pause_ms(5);
	}
	CHECK(raised);
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>/dev/null", h_bin(),
	    s.dir);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "\"action\":\"backup.delete\"") != NULL && strstr(out, first) != NULL);
	free(out);
	json_decref(s.init);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char cmd[2048], env[2048], *out = NULL, b1[64], b2[64], b3[64], copy[700], path[128];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "backup", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "allowed_regions", "local,eu");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "kay", "key_admin", PW_USER, p.kay, sizeof(p.kay));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	create_records(&s, &p);
	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s", s.base,
	    s.cacert, p.admin);

	test_create_list(&s, &p, b1);
	test_cli(&s, &p, env, b2, copy, sizeof(copy));
	backup_now(&s, p.admin, b3);
	test_verify(&s, b1, b2, b3);
	test_immutable(&s, &p, b1);
	test_restore(&s, &p, copy);
	test_drill(&s, &p, b3);
	test_crash(&s, &p);
	test_revoked(&s, &p, b1);
	/* past the window the oldest may go (pruning keeps the chain: one start) */
	h_clock_advance(&s, 31LL * 86400 * 1000);
	h_login(&s, "admin", PW_ADMIN, p.admin, sizeof(p.admin));   /* the old session expired */
	snprintf(path, sizeof(path), "/v1/sys/backups/%s", b1);
	h_expect(&s, "DELETE", path, p.admin, NULL, NULL, 204, NULL);
	snprintf(cmd, sizeof(cmd), "%s/backups/%s.pvbak", s.dir, b1);
	CHECK(access(cmd, F_OK) != 0);
	test_residency(&s, &p);
	CHECK(h_stop(&s) == 0);
	test_schedule();
	test_restore_shredded();
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(run(cmd, &out) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>/dev/null", h_bin(),
	    s.dir);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "\"action\":\"drill.run\"") != NULL);
	CHECK(strstr(out, "Patient Backup-") == NULL && strstr(out, "MRN0042") == NULL);
	free(out);
	json_decref(s.init);
	h_done("backup");
	return 0;
}
