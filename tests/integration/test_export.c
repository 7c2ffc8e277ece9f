/*
 * The Safe Harbor de-identified export on the real binary over HTTPS
 * (issue 14 item 5; docs/storing-phi.md "De-identified export").
 *
 * A collection "visits" whose schema covers every rule: the subject, a
 * name, street, city, a ZIP outside and one inside the restricted list,
 * dates, a birth date and an age revealing an age over 89, phone, fax,
 * email, SSN, MRN, account, free text not marked safe and a string marked
 * safe, and a kept integer. Four records: two of patient P1, one of P2
 * (aged 93), one without a subject. The exported file is checked line by
 * line against the expected output (each record identified by its kept
 * weight), with the pseudonym: the same for P1's two records, another for
 * P2, none without a subject, and the same again in a second export. The
 * file's SHA-256 is the one the export reports, and the CLI's download is
 * the same file. A clinician (reads, no records.export) is refused 403 on
 * create and on download and the refusals are in the trail; a bad mode is
 * 400 invalid_request. A collection of 1000 records is exported at one
 * step a second and the server is killed with SIGKILL while the job runs:
 * after the restart the file has each record exactly once. An export
 * deleted is 404 and its chunks are gone; with the injectable clock one
 * day later an export is 404 and the sweep removes its chunks
 * (export.expire). The trail has export.create, export.download,
 * export.delete and export.expire, and no synthetic value appears in the
 * raw trail, the server log or the database files.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define N_BULK 1000

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

/* Every synthetic value that must never leave de-identification. */
static const char *const secret_values[] = {
	"PAT-P1-Zebulon-7731", "PAT-P2-Xanthe-4410", "Zebulon Quantrill", "Xanthe Okonkwo",
	"Ilse Varga", "1428 Larkspur Lane", "77 Ostrich Row", "Quillfield", "Marrowvale",
	"10001-4421", "03601-7781", "60614-3320", "1980-07-04", "2024-03-15", "2023-11-02",
	"2125550142", "3125550199", "6175550123", "zebulon.q@example.org",
	"xanthe.o@example.org", "219-09-9999", "MRN-ZQ-55100", "MRN-XO-55200",
	"ACCT-88-1200", "ACCT-88-1300", "complains of migraines since the move",
	"lives alone near the quarry", "FAX-9911-0042",
};

struct people {
	char admin[128], clin[128], exporter[128], auditor[128];
};

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
	h_login(s, "admin", PW_ADMIN, tok, 128);
}

static int
this_year(struct h_server *s)
{
	time_t t = (time_t)(h_clock_advance(s, 0) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	return tm.tm_year + 1900;
}

static void
rec(struct h_server *s, const char *tok, const char *coll, const char *body)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/%s/records", coll);
	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
}

static void
setup_visits(struct h_server *s, struct people *p)
{
	char body[2048];
	int y = this_year(s);

	h_collection_create(s, p->admin, "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"full_name\",\"type\":\"string\",\"identifier\":\"name\"},"
	    "{\"name\":\"street\",\"type\":\"string\",\"identifier\":\"address\"},"
	    "{\"name\":\"city\",\"type\":\"string\",\"identifier\":\"city\"},"
	    "{\"name\":\"zip\",\"type\":\"zip\"},"
	    "{\"name\":\"visit_date\",\"type\":\"date\"},"
	    "{\"name\":\"dob\",\"type\":\"date\",\"identifier\":\"birth_date\"},"
	    "{\"name\":\"age\",\"type\":\"integer\",\"identifier\":\"age\"},"
	    "{\"name\":\"phone\",\"type\":\"phone\"},"
	    "{\"name\":\"fax\",\"type\":\"string\",\"identifier\":\"fax\"},"
	    "{\"name\":\"email\",\"type\":\"email\"},"
	    "{\"name\":\"ssn\",\"type\":\"ssn\"},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\"},"
	    "{\"name\":\"account\",\"type\":\"string\",\"identifier\":\"account\"},"
	    "{\"name\":\"notes\",\"type\":\"string\"},"
	    "{\"name\":\"diagnosis\",\"type\":\"string\",\"safe\":true},"
	    "{\"name\":\"weight_kg\",\"type\":\"integer\"}]}");
	rec(s, p->clin, "visits", "{\"patient\":\"PAT-P1-Zebulon-7731\","
	    "\"full_name\":\"Zebulon Quantrill\",\"street\":\"1428 Larkspur Lane\","
	    "\"city\":\"Quillfield\",\"zip\":\"10001-4421\",\"visit_date\":\"2024-03-15\","
	    "\"dob\":\"1980-07-04\",\"age\":44,\"phone\":\"2125550142\","
	    "\"fax\":\"FAX-9911-0042\",\"email\":\"zebulon.q@example.org\","
	    "\"ssn\":\"219-09-9999\",\"mrn\":\"MRN-ZQ-55100\",\"account\":\"ACCT-88-1200\","
	    "\"notes\":\"complains of migraines since the move\",\"diagnosis\":\"G43.909\","
	    "\"weight_kg\":71}");
	rec(s, p->clin, "visits", "{\"patient\":\"PAT-P1-Zebulon-7731\","
	    "\"full_name\":\"Zebulon Quantrill\",\"city\":\"Marrowvale\",\"zip\":\"03601-7781\","
	    "\"visit_date\":\"2023-11-02\",\"diagnosis\":\"R51.9\",\"weight_kg\":72}");
	snprintf(body, sizeof(body), "{\"patient\":\"PAT-P2-Xanthe-4410\","
	    "\"full_name\":\"Xanthe Okonkwo\",\"street\":\"77 Ostrich Row\",\"zip\":\"60614-3320\","
	    "\"dob\":\"%d-01-01\",\"age\":93,\"phone\":\"3125550199\","
	    "\"email\":\"xanthe.o@example.org\",\"mrn\":\"MRN-XO-55200\","
	    "\"account\":\"ACCT-88-1300\",\"notes\":\"lives alone near the quarry\","
	    "\"diagnosis\":\"I10\",\"weight_kg\":58}", y - 93);
	rec(s, p->clin, "visits", body);
	rec(s, p->clin, "visits", "{\"full_name\":\"Ilse Varga\",\"phone\":\"6175550123\","
	    "\"zip\":\"60614-3320\",\"diagnosis\":\"Z00.00\",\"weight_kg\":90}");
}

/* GET /v1/exports/{id} until it has ended; its JSON (the caller frees). */
static json_t *
wait_export(struct h_server *s, const char *tok, const char *id)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/exports/%s", id);
	for (int i = 0; i < 600; i++) {
		json_t *o;
		const char *st;

		h_req(s, "GET", path, tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		st = h_jstr(r.json, "state");
		if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0 ||
		    strcmp(st, "cancelled") == 0) {
			o = json_incref(r.json);
			h_resp_free(&r);
			return o;
		}
		h_resp_free(&r);
		h_pause_ms(100);
	}
	CHECK(!"the export did not end within 60 s");
	return NULL;
}

static void
create_export(struct h_server *s, const char *tok, const char *coll, bool pseudonym,
    char id[64])
{
	char path[128], body[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/%s/export", coll);
	snprintf(body, sizeof(body), "{\"mode\":\"safe_harbor\",\"pseudonym\":%s}",
	    pseudonym ? "true" : "false");
	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(strncmp(h_jstr(r.json, "export"), "exp_", 4) == 0);
	CHECK(strncmp(h_jstr(r.json, "job"), "job_", 4) == 0);
	snprintf(id, 64, "%s", h_jstr(r.json, "export"));
	h_resp_free(&r);
}

static char *
download(struct h_server *s, const char *tok, const char *id)
{
	char path[128], *out;
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/exports/%s/file", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: application/x-ndjson"));
	out = strdup(r.body != NULL ? r.body : "");
	h_resp_free(&r);
	return out;
}

/* The expected de-identified line of each record, by weight. */
static json_t *
expected(int weight, int y)
{
	switch (weight) {
	case 71:
		return json_pack("{s:i, s:i, s:i, s:s, s:i, s:s}", "age", 44, "dob", 1980,
		    "visit_date", 2024, "diagnosis", "G43.909", "weight_kg", 71, "zip", "100");
	case 72:
		return json_pack("{s:i, s:s, s:i, s:s}", "visit_date", 2023, "diagnosis", "R51.9",
		    "weight_kg", 72, "zip", "000");
	case 58:
		(void)y;
		return json_pack("{s:s, s:s, s:s, s:i, s:s}", "age", "90+", "dob", "90+",
		    "diagnosis", "I10", "weight_kg", 58, "zip", "606");
	case 90:
		return json_pack("{s:s, s:i, s:s}", "diagnosis", "Z00.00", "weight_kg", 90, "zip",
		    "606");
	}
	return NULL;
}

/* Check the file line by line; the pseudonyms by weight into ps (71, 72, 58, 90). */
static void
check_visits_file(const char *file, int y, bool pseudonym, char ps[4][80])
{
	static const int weights[4] = { 71, 72, 58, 90 };
	char *copy = strdup(file), *save = NULL, *line;
	int seen[4] = { 0, 0, 0, 0 }, lines = 0;

	CHECK(copy != NULL);
	CHECK(file[0] != '\0' && file[strlen(file) - 1] == '\n');
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL), *want, *p;
		char *canon;
		int w, k;

		CHECK(o != NULL);
		/* each line is the compact, key-sorted form */
		canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		CHECK(canon != NULL && strcmp(canon, line) == 0);
		free(canon);
		w = (int)json_integer_value(json_object_get(o, "weight_kg"));
		for (k = 0; k < 4 && weights[k] != w; k++)
			;
		CHECK(k < 4);
		seen[k]++;
		p = json_object_get(o, "_pseudonym");
		if (pseudonym && w != 90) {
			CHECK(json_is_string(p) && strlen(json_string_value(p)) == 64);
			snprintf(ps[k], 80, "%s", json_string_value(p));
		} else {
			CHECK(p == NULL);   /* no pseudonym asked, or no subject */
			ps[k][0] = '\0';
		}
		json_object_del(o, "_pseudonym");
		want = expected(w, y);
		if (!json_equal(o, want)) {
			char *got = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

			fprintf(stderr, "line of weight %d: %s\n", w, got);
			free(got);
		}
		CHECK(json_equal(o, want));
		json_decref(want);
		json_decref(o);
		lines++;
	}
	CHECK(lines == 4);
	for (int k = 0; k < 4; k++)
		CHECK(seen[k] == 1);
	free(copy);
}

static char *
sha256_hex_of(struct h_server *s, const char *text)
{
	char path[700], cmd[800], *out = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/../export-check.ndjson", s->dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	CHECK(fwrite(text, 1, strlen(text), f) == strlen(text));
	CHECK(fclose(f) == 0);
	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strlen(out) >= 64);
	out[64] = '\0';
	remove(path);
	return out;
}

static int64_t
chunk_rows(struct h_server *s, const char *id)
{
	char path[700];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/phivault.db", s->dir);
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM export_chunks WHERE export_id = ?1",
	    -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
test_refusals(struct h_server *s, struct people *p)
{
	char id[64];
	struct h_resp r;

	/* a reader without records.export */
	h_expect(s, "POST", "/v1/collections/visits/export", p->clin,
	    "{\"mode\":\"safe_harbor\"}", NULL, 403, "forbidden");
	/* bad input changes nothing */
	h_expect(s, "POST", "/v1/collections/visits/export", p->exporter,
	    "{\"mode\":\"expert_determination\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/collections/visits/export", p->exporter, "{}", NULL, 400,
	    "invalid_request");
	h_expect(s, "POST", "/v1/collections/visits/export", p->exporter,
	    "{\"mode\":\"safe_harbor\",\"pseudonym\":\"yes\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/collections/visits/export", p->exporter, "{\"mode\":", NULL, 400,
	    "invalid_json");
	h_expect(s, "POST", "/v1/collections/nosuch/export", p->exporter,
	    "{\"mode\":\"safe_harbor\"}", NULL, 403, "forbidden");
	h_req(s, "GET", "/v1/exports", p->exporter, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "exports")) == 0);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/exports/exp_nosuch", p->exporter, NULL, NULL, 404, "not_found");
	/* the clinician may not download one either */
	create_export(s, p->exporter, "visits", false, id);
	json_decref(wait_export(s, p->exporter, id));
	{
		char path[128];

		snprintf(path, sizeof(path), "/v1/exports/%s/file", id);
		h_expect(s, "GET", path, p->clin, NULL, NULL, 403, "forbidden");
		snprintf(path, sizeof(path), "/v1/exports/%s", id);
		h_expect(s, "GET", path, p->clin, NULL, NULL, 403, "forbidden");
		h_expect(s, "DELETE", path, p->clin, NULL, NULL, 403, "forbidden");
		snprintf(path, sizeof(path), "/v1/exports/%s/file?chunk=7", id);
		h_expect(s, "GET", path, p->exporter, NULL, NULL, 400, "invalid_request");
	}
}

static void
test_rules(struct h_server *s, struct people *p)
{
	char id[64], id2[64], ps[4][80], ps2[4][80], path[128];
	char *file, *hex;
	json_t *e;
	int y = this_year(s);

	create_export(s, p->exporter, "visits", true, id);
	e = wait_export(s, p->exporter, id);
	CHECK(strcmp(h_jstr(e, "state"), "done") == 0);
	CHECK(json_integer_value(json_object_get(e, "rows")) == 4);
	CHECK(json_integer_value(json_object_get(e, "chunks")) == 1);
	CHECK(json_is_true(json_object_get(e, "pseudonym")));
	CHECK(strcmp(h_jstr(e, "collection"), "visits") == 0);
	CHECK(strcmp(h_jstr(e, "mode"), "safe_harbor") == 0);
	/* counts by rule, never values */
	{
		json_t *d = json_object_get(e, "dropped_fields");
		json_t *g = json_object_get(e, "generalized_fields");

		/* identifier: full_name x4, phone x3, fax, email x2, ssn, mrn x2, account x2 */
		CHECK(json_integer_value(json_object_get(d, "identifier")) == 15);
		CHECK(json_integer_value(json_object_get(d, "geographic")) == 4);
		CHECK(json_integer_value(json_object_get(d, "free_text")) == 2);
		CHECK(json_integer_value(json_object_get(d, "subject")) == 3);
		CHECK(json_integer_value(json_object_get(g, "zip3")) == 3);
		CHECK(json_integer_value(json_object_get(g, "zip3_restricted")) == 1);
		CHECK(json_integer_value(json_object_get(g, "year")) == 3);
		CHECK(json_integer_value(json_object_get(g, "age_90")) == 2);
	}
	CHECK(json_is_string(json_object_get(e, "expires_at")));
	CHECK(json_is_string(json_object_get(e, "created_at")));
	file = download(s, p->exporter, id);
	check_visits_file(file, y, true, ps);
	/* one patient, one pseudonym; two patients, two */
	CHECK(strcmp(ps[0], ps[1]) == 0);
	CHECK(strcmp(ps[0], ps[2]) != 0);
	CHECK(ps[3][0] == '\0');
	hex = sha256_hex_of(s, file);
	CHECK(strcmp(hex, h_jstr(e, "sha256")) == 0);
	free(hex);
	/* stable across exports of the same vault */
	create_export(s, p->exporter, "visits", true, id2);
	json_decref(wait_export(s, p->exporter, id2));
	{
		char *f2 = download(s, p->exporter, id2);

		check_visits_file(f2, y, true, ps2);
		free(f2);
	}
	for (int k = 0; k < 4; k++)
		CHECK(strcmp(ps[k], ps2[k]) == 0);
	/* chunk by chunk: the same bytes */
	snprintf(path, sizeof(path), "/v1/exports/%s/file?chunk=0", id);
	{
		struct h_resp r;

		h_req(s, "GET", path, p->exporter, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(strcmp(r.body, file) == 0);
		h_resp_free(&r);
	}
	/* the CLI: get writes the same file; list and show know it; create --wait */
	{
		char cmd[4096], out_path[700], *out = NULL, env[2048];
		FILE *f;
		char got[8192];
		size_t n;

		snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s",
		    s->base, s->cacert, p->exporter);
		snprintf(out_path, sizeof(out_path), "%s/../export-cli.ndjson", s->dir);
		remove(out_path);
		snprintf(cmd, sizeof(cmd), "%s %s export get %s --out %s 2>&1", env, h_bin(), id,
		    out_path);
		CHECK(h_run(cmd, &out) == 0);
		free(out);
		f = fopen(out_path, "r");
		CHECK(f != NULL);
		n = fread(got, 1, sizeof(got) - 1, f);
		got[n] = '\0';
		fclose(f);
		CHECK(strcmp(got, file) == 0);
		/* never overwritten */
		snprintf(cmd, sizeof(cmd), "%s %s export get %s --out %s 2>&1", env, h_bin(), id,
		    out_path);
		CHECK(h_run(cmd, &out) == 3);
		free(out);
		remove(out_path);
		snprintf(cmd, sizeof(cmd), "%s %s export list --format text", env, h_bin());
		CHECK(h_run(cmd, &out) == 0);
		CHECK(strstr(out, id) != NULL && strstr(out, id2) != NULL);
		free(out);
		snprintf(cmd, sizeof(cmd), "%s %s export show %s --format text", env, h_bin(), id);
		CHECK(h_run(cmd, &out) == 0);
		CHECK(strstr(out, "state:     done") != NULL);
		CHECK(strstr(out, h_jstr(e, "sha256")) != NULL);
		free(out);
		snprintf(cmd, sizeof(cmd), "%s %s export create visits --pseudonym --wait "
		    "--format json", env, h_bin());
		CHECK(h_run(cmd, &out) == 0);
		{
			json_t *o = json_loads(out, 0, NULL);

			CHECK(o != NULL && strcmp(h_jstr(o, "state"), "done") == 0);
			CHECK(json_integer_value(json_object_get(o, "rows")) == 4);
			/* rm through the CLI */
			snprintf(cmd, sizeof(cmd), "%s %s export rm %s --format text", env, h_bin(),
			    h_jstr(o, "id"));
			json_decref(o);
		}
		free(out);
		CHECK(h_run(cmd, &out) == 0);
		CHECK(strstr(out, "deleted") != NULL);
		free(out);
		snprintf(cmd, sizeof(cmd), "%s %s export create 'Bad Name' 2>/dev/null", env,
		    h_bin());
		CHECK(h_run(cmd, NULL) == 2);
	}
	/* delete: 404 afterwards, its chunks gone from the store */
	CHECK(chunk_rows(s, id2) == 1);
	snprintf(path, sizeof(path), "/v1/exports/%s", id2);
	h_expect(s, "DELETE", path, p->exporter, NULL, NULL, 204, NULL);
	h_expect(s, "GET", path, p->exporter, NULL, NULL, 404, "not_found");
	h_expect(s, "DELETE", path, p->exporter, NULL, NULL, 404, "not_found");
	snprintf(path, sizeof(path), "/v1/exports/%s/file", id2);
	h_expect(s, "GET", path, p->exporter, NULL, NULL, 404, "not_found");
	CHECK(chunk_rows(s, id2) == 0);
	free(file);
	json_decref(e);
}

static void
test_kill9(struct h_server *s, struct people *p)
{
	char id[64], path[128], body[64 * 1024], *file, *save = NULL, *line;
	static char seen[N_BULK];
	struct h_resp r;
	json_t *e;
	int lines = 0;

	h_collection_create(s, p->admin, "{\"name\":\"bulk\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"n\",\"type\":\"integer\"},{\"name\":\"zip\",\"type\":\"zip\"},"
	    "{\"name\":\"who\",\"type\":\"string\",\"identifier\":\"name\"}]}");
	for (int b = 0; b < N_BULK / 100; b++) {
		size_t off = (size_t)snprintf(body, sizeof(body), "{\"create\":[");

		for (int i = 0; i < 100; i++)
			off += (size_t)snprintf(body + off, sizeof(body) - off,
			    "%s{\"n\":%d,\"zip\":\"94110\",\"who\":\"Bulk Person %d\"}", i ? "," : "",
			    b * 100 + i, b * 100 + i);
		snprintf(body + off, sizeof(body) - off, "]}");
		h_req(s, "POST", "/v1/collections/bulk/records:batch", p->clin, body, NULL, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
	create_export(s, p->exporter, "bulk", false, id);
	/* at one step a second (jobs_max_steps_per_s = 1) the job runs for
	 * seconds: kill the server once the first chunk is written */
	snprintf(path, sizeof(path), "/v1/exports/%s", id);
	for (int i = 0; i < 300; i++) {
		h_req(s, "GET", path, p->exporter, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		if (json_integer_value(json_object_get(r.json, "rows")) > 0 ||
		    strcmp(h_jstr(r.json, "state"), "done") == 0) {
			fprintf(stderr, "killing with %lld rows written, state %s\n",
			    (long long)json_integer_value(json_object_get(r.json, "rows")),
			    h_jstr(r.json, "state"));
			h_resp_free(&r);
			break;
		}
		h_resp_free(&r);
		h_pause_ms(50);
	}
	h_kill9_restart(s, "--dev");
	e = wait_export(s, p->exporter, id);
	CHECK(strcmp(h_jstr(e, "state"), "done") == 0);
	CHECK(json_integer_value(json_object_get(e, "rows")) == N_BULK);
	file = download(s, p->exporter, id);
	memset(seen, 0, sizeof(seen));
	for (line = strtok_r(file, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);
		json_int_t n;

		CHECK(o != NULL);
		n = json_integer_value(json_object_get(o, "n"));
		CHECK(n >= 0 && n < N_BULK);
		CHECK(seen[n] == 0);   /* no line twice */
		seen[n] = 1;
		CHECK(strcmp(h_jstr(o, "zip"), "941") == 0);
		CHECK(json_object_get(o, "who") == NULL);
		CHECK(json_object_size(o) == 2);
		json_decref(o);
		lines++;
	}
	CHECK(lines == N_BULK);   /* and none missing */
	free(file);
	json_decref(e);
}

static void
test_expiry(struct h_server *s, struct people *p)
{
	char id[64], path[128];
	bool swept = false;

	create_export(s, p->exporter, "visits", false, id);
	json_decref(wait_export(s, p->exporter, id));
	CHECK(chunk_rows(s, id) == 1);
	snprintf(path, sizeof(path), "/v1/exports/%s", id);
	h_expect(s, "GET", path, p->exporter, NULL, NULL, 200, NULL);
	/* [export] keep_s = 86400: a day later it is gone */
	h_clock_advance(s, 86400LL * 1000 + 1000);
	/* (the sessions expired too: sign in again) */
	h_login(s, "ezra", PW_USER, p->exporter, sizeof(p->exporter));
	h_expect(s, "GET", path, p->exporter, NULL, NULL, 404, "not_found");
	snprintf(path, sizeof(path), "/v1/exports/%s/file", id);
	h_expect(s, "GET", path, p->exporter, NULL, NULL, 404, "not_found");
	for (int i = 0; i < 100 && !swept; i++) {
		swept = chunk_rows(s, id) == 0;
		if (!swept)
			h_pause_ms(100);
	}
	CHECK(swept);
}

static void
check_no_values(const char *what, const char *text, size_t len)
{
	for (size_t i = 0; i < sizeof(secret_values) / sizeof(secret_values[0]); i++) {
		const char *v = secret_values[i];
		size_t n = strlen(v);
		bool hit = false;

		for (size_t j = 0; n <= len && j + n <= len && !hit; j++)
			hit = memcmp(text + j, v, n) == 0;
		if (hit)
			fprintf(stderr, "%s holds a synthetic value (#%zu)\n", what, i);
		CHECK(!hit);
	}
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	CHECK(buf != NULL);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char cmd[1024], path[700], *out = NULL, *buf;
	size_t len;

	h_clock_enable();
	h_init(&s, "export", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "jobs_step_pause_ms", "0");
	h_config_set(&s, "jobs_max_steps_per_s", "1");
	h_start(&s, "--dev");
	admin_login(&s, p.admin);
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	h_create_approved(&s, p.admin, "/v1/roles",
	    "{\"name\":\"exporter\",\"permissions\":[\"records.export:visits\","
	    "\"records.export:bulk\"]}");
	h_add_user(&s, p.admin, "ezra", "exporter", PW_USER, p.exporter, sizeof(p.exporter));
	h_add_user(&s, p.admin, "audrey", "auditor", PW_USER, p.auditor, sizeof(p.auditor));
	setup_visits(&s, &p);
	/* the clinician reads the records in clear: they are stored as given */
	h_expect(&s, "GET", "/v1/collections/visits/records", p.clin, NULL, TREAT, 200, NULL);

	test_refusals(&s, &p);
	test_rules(&s, &p);
	test_kill9(&s, &p);
	test_expiry(&s, &p);
	CHECK(h_stop(&s) == 0);

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"export.create\"") != NULL);
	CHECK(strstr(out, "\"export.download\"") != NULL);
	CHECK(strstr(out, "\"export.delete\"") != NULL);
	CHECK(strstr(out, "\"export.expire\"") != NULL);
	/* the refusals are recorded: the clinician's create and download */
	{
		int denied_create = 0, denied_download = 0;
		char *save = NULL, *line;

		for (line = strtok_r(out, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if (strstr(line, "\"export.create\"") && strstr(line, "\"denied\""))
				denied_create++;
			if (strstr(line, "\"export.download\"") && strstr(line, "\"denied\""))
				denied_download++;
		}
		CHECK(denied_create >= 1);
		CHECK(denied_download >= 1);
	}
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	check_no_values("the audit trail", out, strlen(out));
	free(out);
	buf = slurp(s.log, &len);
	CHECK(buf != NULL);
	check_no_values("the server log", buf, len);
	free(buf);
	/* nothing readable on disk: the database and its WAL */
	snprintf(path, sizeof(path), "%s/phivault.db", s.dir);
	buf = slurp(path, &len);
	CHECK(buf != NULL);
	check_no_values("phivault.db", buf, len);
	free(buf);
	snprintf(path, sizeof(path), "%s/phivault.db-wal", s.dir);
	if ((buf = slurp(path, &len)) != NULL) {
		check_no_values("phivault.db-wal", buf, len);
		free(buf);
	}
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	json_decref(s.init);
	h_done("test_export");
	return 0;
}
