/*
 * Anchoring the audit trail outside the database (issue 8 item 5), through
 * the real binary: init prints the checkpoint key's fingerprint;
 * `audit verify --format json` prints the head as SEQ:HASH; with
 * --public-key-fingerprint a replaced stored key exits 1; with
 * --expect-head a tail cut together with its checkpoints exits 1, where a
 * plain verify cannot tell.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* `audit verify` of dir with extra options; exit code, stdout+stderr in *out. */
static int
verify(const char *dir, const char *extra, char **out)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s %s 2>&1", h_bin(), dir, extra);
	return h_run(cmd, out);
}

/* A fresh copy of s's data directory at copy; then the SQL, if any. */
static void
tampered_copy(struct h_server *s, char *copy, size_t len, const char *sql)
{
	char cmd[2048];

	snprintf(copy, len, "%s-copy", s->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s", copy, s->dir, copy);
	CHECK(h_run(cmd, NULL) == 0);
	if (sql != NULL) {
		snprintf(cmd, sizeof(cmd), "sqlite3 %s/phivault.db \"%s\"", copy, sql);
		CHECK(h_run(cmd, NULL) == 0);
	}
}

int
main(void)
{
	struct h_server s;
	char opt[512], copy[600], head1[128], head2[128], *out = NULL;
	const char *fp;
	json_t *j;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_init(&s, "anchor", NULL);
	fp = json_string_value(json_object_get(s.init, "audit_key_fingerprint"));
	CHECK(fp != NULL && strncmp(fp, "SHA256:", 7) == 0 && strlen(fp) == 7 + 64);

	/* json output: ok, counts and the head as SEQ:HASH */
	CHECK(verify(s.dir, "--format json", &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL);
	CHECK(json_is_true(json_object_get(j, "ok")));
	CHECK(json_is_null(json_object_get(j, "first_bad_seq")));
	CHECK(json_integer_value(json_object_get(j, "entries")) >= 2);
	CHECK(json_integer_value(json_object_get(j, "checkpoints")) >= 1);
	snprintf(head1, sizeof(head1), "%s", json_string_value(json_object_get(j, "head")));
	CHECK(strchr(head1, ':') != NULL && strlen(strchr(head1, ':') + 1) == 64);
	json_decref(j);
	free(out);

	/* text output prints the same SEQ:HASH */
	CHECK(verify(s.dir, "--format text", &out) == 0);
	CHECK(strstr(out, head1) != NULL);
	free(out);

	/* the fingerprint init printed matches; any other does not */
	snprintf(opt, sizeof(opt), "--public-key-fingerprint %s", fp);
	CHECK(verify(s.dir, opt, &out) == 0);
	free(out);
	snprintf(opt, sizeof(opt), "--public-key-fingerprint SHA256:%064d", 0);
	CHECK(verify(s.dir, opt, &out) == 1);
	CHECK(strstr(out, "checkpoint signatures do not match the expected key") != NULL);
	free(out);
	CHECK(verify(s.dir, "--public-key-fingerprint SHA256:xyz", &out) == 2);
	free(out);
	CHECK(verify(s.dir, "--public-key /nonexistent.pem", &out) == 2);
	free(out);

	/* more entries and a newer head (sys.start, sys.unseal, sys.stop) */
	h_start(&s, NULL);
	CHECK(h_stop(&s) == 0);
	CHECK(verify(s.dir, "--format json", &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL);
	snprintf(head2, sizeof(head2), "%s", json_string_value(json_object_get(j, "head")));
	json_decref(j);
	free(out);
	CHECK(strcmp(head1, head2) != 0);

	/* both heads are on the chain */
	snprintf(opt, sizeof(opt), "--expect-head %s", head1);
	CHECK(verify(s.dir, opt, &out) == 0);
	free(out);
	snprintf(opt, sizeof(opt), "--expect-head %s", head2);
	CHECK(verify(s.dir, opt, &out) == 0);
	free(out);

	/* cut back to head1 with the later checkpoints: intact on its own ... */
	snprintf(opt, sizeof(opt), "DELETE FROM audit WHERE seq > %lld; "
	    "DELETE FROM audit_checkpoint WHERE seq > %lld", atoll(head1), atoll(head1));
	tampered_copy(&s, copy, sizeof(copy), opt);
	CHECK(verify(copy, "", &out) == 0);
	free(out);
	/* ... but not against the head recorded elsewhere */
	snprintf(opt, sizeof(opt), "--expect-head %s --format json", head2);
	CHECK(verify(copy, opt, &out) == 1);
	CHECK(strstr(out, "\"ok\":false") != NULL);
	CHECK(strstr(out, "are missing") != NULL);
	free(out);

	/* the stored key replaced: the fingerprint catches it */
	tampered_copy(&s, copy, sizeof(copy),
	    "UPDATE meta SET value = randomblob(32) WHERE key = 'audit.public_key'");
	snprintf(opt, sizeof(opt), "--public-key-fingerprint %s", fp);
	CHECK(verify(copy, opt, &out) == 1);
	CHECK(strstr(out, "do not match the expected key") != NULL);
	free(out);

	/* a malformed head is a usage error */
	CHECK(verify(s.dir, "--expect-head 12", &out) == 2);
	free(out);

	json_decref(s.init);
	h_done("test_audit_anchor");
	curl_global_cleanup();
	return 0;
}
