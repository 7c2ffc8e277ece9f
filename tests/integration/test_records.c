/*
 * PHI records end to end on the real binary, over HTTPS, with users who log
 * in through the API: a clinician stores and reads patient records, an
 * analyst sees them masked, an admin cannot read them at all; purpose of use
 * is required and recorded; search, update, crypto-shredding delete, batch,
 * tokens; every access is in the verifiable audit trail; a read whose audit
 * entry cannot be made durable returns 503 and no data (store fault
 * injection through PHIVAULT_FAULT_FILE); and no file under the data
 * directory (nor the server log) holds any of the plaintext written.
 */
#include <curl/curl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* Distinctive plaintext: none of it may appear on disk. */
#define NAME1 "Zebediah Quuxworth"
#define SSN1 "123-45-6789"
#define SSN1_DIGITS "123456789"
#define EMAIL1 "zeb.quux@Example.ORG"
#define DOB1 "1961-02-03"
#define MRN1 "mr-xq-4242"
#define NAME2 "Philomena Vantablack"
#define SSN2 "531-77-2468"
#define TOK_SSN "404-81-9753"
#define PATCH_MRN "MR-PATCHED-77"
#define BATCH_NAME "Oswaldo Brightwater"

static const char *const needles[] = {
	"Zebediah", "Quuxworth", SSN1, SSN1_DIGITS, "zeb.quux", "Example.ORG", "example.org",
	DOB1, MRN1, "MR-XQ-4242", "Philomena", "Vantablack", SSN2, "531772468",
	TOK_SSN, "404819753", PATCH_MRN, "Oswaldo", "Brightwater", NULL
};

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

/* ---- log in through the API (identity) ---- */

struct people {
	char admin[128];
	char clin[128];
	char analyst[128];
};

static void
people(struct h_server *s, struct people *p)
{
	const char *otp = json_string_value(json_object_get(s->init, "admin_password"));

	CHECK(otp != NULL);
	h_login_fresh(s, "admin", otp, PW_ADMIN, p->admin, sizeof(p->admin));
	h_add_user(s, p->admin, "clara", "clinician", PW_USER, p->clin, sizeof(p->clin));
	h_add_user(s, p->admin, "andy", "analyst", PW_USER, p->analyst, sizeof(p->analyst));
}

/* ---- helpers ---- */

static const char *
field(struct h_resp *r, const char *name)
{
	return json_string_value(json_object_get(json_object_get(r->json, "fields"), name));
}

static const char *
field_of(json_t *rec, const char *name)
{
	const char *v = json_string_value(json_object_get(json_object_get(rec, "fields"), name));

	return v != NULL ? v : "";
}

static void
create_patients(struct h_server *s, const char *admin)
{
	h_collection_create(s, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\","
	    "\"searchable\":true},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"searchable\":true},"
	    "{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\"},"
	    "{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\"},"
	    "{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}");
}

static void
create_record(struct h_server *s, const char *token, const char *body, char *id, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/collections/patients/records", token, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 1);
	snprintf(id, len, "%s", json_string_value(json_object_get(r.json, "id")));
	CHECK(strncmp(id, "rec_", 4) == 0);
	h_resp_free(&r);
}

/* jsonl export of the audit trail (offline reader; works while serving). */
static char *
audit_export(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	return out;
}

/* What an audit entry must hold to be counted; NULL fields match anything. */
struct audit_want {
	const char *action;    /* always compared */
	const char *outcome;
	const char *res;       /* a substring of the resource, or all of it with res_exact */
	bool res_exact;
	const char *purpose;
	const char *reason;
};

static bool
field_is(json_t *e, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(e, key));

	return want == NULL || (v != NULL && strcmp(v, want) == 0);
}

/* The number of entries in an audit export (jsonl) that match w. */
static int
audit_match(const char *jsonl, const struct audit_want *w)
{
	const char *line = jsonl;
	int n = 0;

	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n');
		char *copy = strndup(line, nl ? (size_t)(nl - line) : strlen(line));
		json_t *e = json_loads(copy, 0, NULL);
		const char *rs = json_string_value(json_object_get(e, "resource"));

		if (field_is(e, "action", w->action) && field_is(e, "outcome", w->outcome) &&
		    (w->res == NULL || (rs != NULL && (w->res_exact ? strcmp(rs, w->res) == 0 :
		    strstr(rs, w->res) != NULL))) &&
		    field_is(e, "purpose_of_use", w->purpose) && field_is(e, "reason", w->reason))
			n++;
		json_decref(e);
		free(copy);
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

/* Entries with this action, outcome, resource substring and purpose (NULL: any). */
static int
audit_count(const char *jsonl, const char *action, const char *outcome, const char *res,
    const char *purpose)
{
	struct audit_want w = { action, outcome, res, false, purpose, NULL };

	return audit_match(jsonl, &w);
}

/* Entries with exactly this action, outcome, resource and reason (NULL: any;
 * the outcome is always compared). */
static int
audit_exact(const char *jsonl, const char *action, const char *outcome, const char *res,
    const char *reason)
{
	struct audit_want w = { action, outcome, res, true, NULL, reason };

	return outcome != NULL ? audit_match(jsonl, &w) : 0;
}

/* ---- the scan: no plaintext under the data directory ---- */

static const char *scan_hit;
static char scan_file[1024];
static int scan_files;

static int
scan_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	FILE *f;
	char *buf;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(sb->st_mode) || sb->st_size == 0)
		return 0;
	buf = malloc((size_t)sb->st_size);
	CHECK(buf != NULL);
	f = fopen(path, "rb");
	CHECK(f != NULL);
	CHECK(fread(buf, 1, (size_t)sb->st_size, f) == (size_t)sb->st_size);
	fclose(f);
	scan_files++;
	for (size_t i = 0; needles[i] != NULL && scan_hit == NULL; i++) {
		if (memmem(buf, (size_t)sb->st_size, needles[i], strlen(needles[i])) != NULL) {
			scan_hit = needles[i];
			snprintf(scan_file, sizeof(scan_file), "%s", path);
		}
	}
	free(buf);
	return 0;
}

static void
assert_no_plaintext(const char *root)
{
	scan_hit = NULL;
	scan_files = 0;
	CHECK(nftw(root, scan_cb, 16, FTW_PHYS) == 0);
	if (scan_hit != NULL)
		fprintf(stderr, "plaintext '%s' found in %s\n", scan_hit, scan_file);
	CHECK(scan_hit == NULL);
	CHECK(scan_files > 0);
}

/* ---- the flows ---- */

static void
test_collections(struct h_server *s, struct people *p)
{
	struct h_resp r;

	create_patients(s, p->admin);
	h_req(s, "POST", "/v1/collections", p->admin,
	    "{\"name\":\"offshore\",\"region\":\"mars-1\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}",
	    NULL, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(h_err_code(&r), "region_not_allowed") == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/collections", p->clin,
	    "{\"name\":\"mine\",\"region\":\"local\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}",
	    NULL, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "collections")) == 1);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients", p->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);

	/* Safe Harbor annotations: a kind outside the list is 400 and creates
	 * nothing; the ones given are shown back, only where set. */
	h_req(s, "POST", "/v1/collections", p->admin,
	    "{\"name\":\"study\",\"region\":\"local\",\"fields\":[{\"name\":\"a\","
	    "\"type\":\"string\",\"identifier\":\"nickname\"}]}", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/study", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/collections", p->admin,
	    "{\"name\":\"study\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"full_name\",\"type\":\"string\",\"identifier\":\"name\"},"
	    "{\"name\":\"dx\",\"type\":\"string\",\"safe\":true},"
	    "{\"name\":\"notes\",\"type\":\"string\"}]}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/study", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		json_t *fs = json_object_get(r.json, "fields");

		CHECK(strcmp(json_string_value(json_object_get(json_array_get(fs, 0),
		    "identifier")), "name") == 0);
		CHECK(json_is_true(json_object_get(json_array_get(fs, 1), "safe")));
		CHECK(json_object_get(json_array_get(fs, 1), "identifier") == NULL);
		CHECK(json_object_get(json_array_get(fs, 2), "safe") == NULL);
		CHECK(json_object_get(json_array_get(fs, 2), "identifier") == NULL);
	}
	h_resp_free(&r);
}

static void
test_read_write(struct h_server *s, struct people *p, char *id1, size_t idlen)
{
	char path[256], body[1024];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"ssn\":\"%s\",\"mrn\":\"%s\",\"dob\":\"%s\","
	    "\"email\":\"%s\",\"ward\":\"B4\"}", NAME1, SSN1_DIGITS, MRN1, DOB1, EMAIL1);
	create_record(s, p->clin, body, id1, idlen);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id1);

	/* the clinician reads it in clear (canonical forms) */
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "name"), NAME1) == 0);
	CHECK(strcmp(field(&r, "ssn"), SSN1) == 0);
	CHECK(strcmp(field(&r, "mrn"), "MR-XQ-4242") == 0);
	CHECK(strcmp(field(&r, "email"), "zeb.quux@example.org") == 0);
	CHECK(strcmp(field(&r, "ward"), "B4") == 0);
	h_resp_free(&r);

	/* the analyst sees it masked */
	h_req(s, "GET", path, p->analyst, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "ssn"), "***-**-6789") == 0);
	CHECK(strcmp(field(&r, "name"), "****") == 0);
	CHECK(strcmp(field(&r, "dob"), "****") == 0);
	CHECK(strcmp(field(&r, "ward"), "B4") == 0);
	CHECK(strstr(r.body, "Quuxworth") == NULL);
	h_resp_free(&r);

	/* the admin cannot read it at all */
	h_req(s, "GET", path, p->admin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strstr(r.body, "6789") == NULL);
	h_resp_free(&r);

	/* purpose of use */
	h_req(s, "GET", path, p->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "purpose_required") == 0);
	CHECK(strstr(r.body, "Quuxworth") == NULL);
	h_resp_free(&r);
	h_req(s, "GET", path, p->clin, NULL, (const char *[]){ "X-Purpose-Of-Use: SHOPPING", NULL },
	    &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "purpose_required") == 0);
	h_resp_free(&r);
	h_req(s, "GET", path, p->clin, NULL, (const char *[]){ "X-Purpose-Of-Use: ETREAT", NULL },
	    &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);

	/* bad input names the field, never the value */
	h_req(s, "POST", "/v1/collections/patients/records", p->clin,
	    "{\"ssn\":\"000-00-Quuxworth\"}", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	CHECK(strstr(r.body, "ssn") != NULL);
	CHECK(strstr(r.body, "Quuxworth") == NULL);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/collections/patients/records", p->clin, "{\"blood_type\":\"O\"}", NULL,
	    &r);
	CHECK_STATUS(&r, 400);
	CHECK(strstr(r.body, "blood_type") != NULL);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/collections/patients/records", p->analyst, "{\"ward\":\"C1\"}", NULL,
	    &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
}

static void
test_search_patch_delete(struct h_server *s, struct people *p, const char *id1)
{
	char id2[64], path[256], body[512];
	struct h_resp r;
	json_t *recs;

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"ssn\":\"%s\"}", NAME2, SSN2);
	create_record(s, p->clin, body, id2, sizeof(id2));

	/* exact match through the blind index, any spelling */
	h_req(s, "GET", "/v1/collections/patients/records?ssn=" SSN1_DIGITS, p->clin, NULL, TREAT,
	    &r);
	CHECK_STATUS(&r, 200);
	recs = json_object_get(r.json, "records");
	CHECK(json_array_size(recs) == 1);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(recs, 0), "id")), id1) == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients/records?mrn=MR-XQ-4242", p->analyst, NULL, TREAT,
	    &r);
	CHECK_STATUS(&r, 200);
	recs = json_object_get(r.json, "records");
	CHECK(json_array_size(recs) == 1);
	CHECK(strstr(r.body, "Quuxworth") == NULL);   /* masked for the analyst */
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients/records?name=Philomena", p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strstr(r.body, "not searchable") != NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients/records?ssn=" SSN2, p->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "purpose_required") == 0);
	h_resp_free(&r);

	/* PATCH: a new version, re-indexed */
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id2);
	h_req(s, "PATCH", path, p->clin, "{\"mrn\":\"" PATCH_MRN "\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients/records?mrn=" PATCH_MRN, p->clin, NULL, TREAT, &r);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 1);
	h_resp_free(&r);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	CHECK(strcmp(field(&r, "name"), NAME2) == 0);
	CHECK(strcmp(field(&r, "mrn"), PATCH_MRN) == 0);
	h_resp_free(&r);

	/* DELETE: crypto-shredded, gone from reads and searches */
	h_req(s, "DELETE", path, p->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 204);
	h_resp_free(&r);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 404);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients/records?ssn=" SSN2, p->clin, NULL, TREAT, &r);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 0);
	h_resp_free(&r);
	h_req(s, "DELETE", path, p->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	h_resp_free(&r);
}

static void
test_batch_and_tokens(struct h_server *s, struct people *p, const char *id1)
{
	char body[1024], tok[64], tok2[64];
	struct h_resp r;
	json_t *res;

	h_req(s, "POST", "/v1/collections/patients/records:batch", p->clin,
	    "{\"create\":[{\"name\":\"" BATCH_NAME "\"},{\"ssn\":\"nope\"},{\"ward\":\"A1\"}]}",
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	res = json_object_get(r.json, "results");
	CHECK(json_array_size(res) == 3);
	CHECK(json_integer_value(json_object_get(json_array_get(res, 0), "status")) == 201);
	CHECK(json_integer_value(json_object_get(json_array_get(res, 1), "status")) == 400);
	CHECK(json_integer_value(json_object_get(json_array_get(res, 2), "status")) == 201);
	h_resp_free(&r);

	snprintf(body, sizeof(body), "{\"read\":[\"%s\",\"rec_aaaaaaaaaaaaaaaaaaaaaaaaaa\"]}", id1);
	h_req(s, "POST", "/v1/collections/patients/records:batch", p->analyst, body, TREAT, &r);
	CHECK_STATUS(&r, 200);
	res = json_object_get(r.json, "results");
	CHECK(json_integer_value(json_object_get(json_array_get(res, 0), "status")) == 200);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_array_get(res, 0),
	    "fields"), "ssn")), "***-**-6789") == 0);
	CHECK(json_integer_value(json_object_get(json_array_get(res, 1), "status")) == 404);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/collections/patients/records:batch", p->analyst, body, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "purpose_required") == 0);
	h_resp_free(&r);

	/* tokens */
	h_req(s, "POST", "/v1/tokenize", p->clin,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"" TOK_SSN "\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(r.json, "token")));
	CHECK(strncmp(tok, "tok_", 4) == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/tokenize", p->clin,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"404819753\","
	    "\"deterministic\":true}", NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(tok2, sizeof(tok2), "%s", json_string_value(json_object_get(r.json, "token")));
	h_resp_free(&r);
	h_req(s, "POST", "/v1/tokenize", p->clin,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"" TOK_SSN "\","
	    "\"deterministic\":true}", NULL, &r);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "token")), tok2) == 0);
	h_resp_free(&r);

	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok);
	h_req(s, "POST", "/v1/detokenize", p->clin, body, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "value")), TOK_SSN) == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/detokenize", p->clin, body, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "purpose_required") == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/detokenize", p->analyst, body, TREAT, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
}

/*
 * Route-level denials are recorded whatever the path holds (issue 8 item 4):
 * a 5 KiB segment, control bytes and invalid UTF-8 used to fail audit
 * validation (403 and no entry); a percent-encoded name was recorded
 * undecoded. The resource is the allowed entries' form, decoded, each
 * parameter bounded and escaped; reasons are the stable API codes.
 */
static void
test_denials_audited(struct h_server *s, struct people *p)
{
	char *path = malloc(6000), *jsonl, want[512];
	struct h_resp r;

	CHECK(path != NULL);
	/* the admin holds no records.read: every one of these is a denial */
	memcpy(path, "/v1/collections/patients/records/", 33);
	memset(path + 33, 'a', 5120);
	path[33 + 5120] = '\0';
	h_req(s, "GET", path, p->admin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	memcpy(path, "/v1/collections/", 16);
	memset(path + 16, 'b', 5120);
	memcpy(path + 16 + 5120, "/records", 9);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);   /* not a collection name */
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/pat%01%ffients/records", p->admin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/pat%69ents/records/rec_aaaaaaaaaaaaaaaaaaaaaaaaab",
	    p->admin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	/* a restricted session (one-time password not yet changed) is denied
	 * in the same bounded resource form, not with the raw 5 KiB path */
	{
		char body[256], otp[128], restricted[128];

		h_req(s, "POST", "/v1/users", p->admin, "{\"username\":\"rita\","
		    "\"roles\":[\"clinician\"]}", NULL, &r);
		CHECK_STATUS(&r, 202);   /* clinician pending (dual control): rita exists */
		snprintf(otp, sizeof(otp), "%s",
		    json_string_value(json_object_get(r.json, "one_time_password")));
		h_resp_free(&r);
		snprintf(body, sizeof(body), "{\"username\":\"rita\",\"password\":\"%s\"}", otp);
		h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(json_is_true(json_object_get(r.json, "restricted")));
		snprintf(restricted, sizeof(restricted), "%s",
		    json_string_value(json_object_get(r.json, "token")));
		h_resp_free(&r);
		memcpy(path, "/v1/collections/patients/records/", 33);
		memset(path + 33, 'r', 5120);
		path[33 + 5120] = '\0';
		h_req(s, "GET", path, restricted, NULL, TREAT, &r);
		CHECK_STATUS(&r, 403);
		h_resp_free(&r);
	}
	/* a NUL cannot be a path segment: refused before routing, changes nothing */
	h_req(s, "GET", "/v1/collections/pat%00ients/records", p->admin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	/* a record that is not there: reason not_found (was "notfound") */
	h_req(s, "DELETE", "/v1/collections/patients/records/rec_aaaaaaaaaaaaaaaaaaaaaaaaac",
	    p->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	h_resp_free(&r);

	jsonl = audit_export(s);
	memcpy(want, "collections/patients/records/", 29);
	memset(want + 29, 'a', 128);
	memcpy(want + 29 + 128, "...", 4);
	CHECK(audit_exact(jsonl, "record.read", "denied", want,
	    "missing_permission:records.read:patients") == 1);
	memcpy(want, "collections/", 12);
	memset(want + 12, 'b', 128);
	memcpy(want + 12 + 128, ".../records", 12);
	CHECK(audit_exact(jsonl, "record.search", "denied", want,
	    "missing_permission:(invalid)") == 1);
	CHECK(audit_exact(jsonl, "record.search", "denied", "collections/pat%01%FFients/records",
	    "missing_permission:(invalid)") == 1);
	CHECK(audit_exact(jsonl, "record.read", "denied",
	    "collections/patients/records/rec_aaaaaaaaaaaaaaaaaaaaaaaaab",
	    "missing_permission:records.read:patients") == 1);
	memcpy(want, "collections/patients/records/", 29);
	memset(want + 29, 'r', 128);
	memcpy(want + 29 + 128, "...", 4);
	CHECK(audit_exact(jsonl, "record.read", "denied", want, "restricted_session") == 1);
	CHECK(strstr(jsonl, "pat%69ents") == NULL);
	CHECK(strstr(jsonl, "\"route\":\"/v1/collections/{c}/records/{id}\"") != NULL);
	CHECK(audit_exact(jsonl, "record.delete", "error",
	    "collections/patients/records/rec_aaaaaaaaaaaaaaaaaaaaaaaaac", "not_found") == 1);
	CHECK(strstr(jsonl, "\"notfound\"") == NULL);
	free(jsonl);
	free(path);
}

/* ETag on record responses; PATCH honours If-Match (412, nothing changed). */
static void
test_if_match(struct h_server *s, struct people *p)
{
	static const char *stale[] = { "If-Match: \"1\"", NULL };
	static const char *fresh[] = { "If-Match: 2", NULL };
	char id[64], path[128], *jsonl;
	struct h_resp r;

	create_record(s, p->clin, "{\"name\":\"" NAME2 "\"}", id, sizeof(id));
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "ETag: \"1\""));
	h_resp_free(&r);
	h_req(s, "PATCH", path, p->clin, "{\"mrn\":\"A1\"}", stale, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "ETag: \"2\""));
	h_resp_free(&r);
	h_req(s, "PATCH", path, p->clin, "{\"mrn\":\"A2\"}", stale, &r);
	CHECK_STATUS(&r, 412);
	CHECK(strcmp(h_err_code(&r), "precondition_failed") == 0);
	h_resp_free(&r);
	h_req(s, "PATCH", path, p->clin, "{\"mrn\":\"A3\"}", fresh, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 3);
	h_resp_free(&r);
	jsonl = audit_export(s);
	snprintf(path, sizeof(path), "collections/patients/records/%s", id);
	CHECK(audit_exact(jsonl, "record.update", "denied", path, "precondition_failed") == 1);
	CHECK(audit_exact(jsonl, "record.update", "allowed", path, NULL) == 2);
	free(jsonl);
}

/* GET .../records without a field: pages of records in ID order. */
static void
test_list(struct h_server *s, struct people *p)
{
	char ids[8][64], path[256], cursor[128] = "", *jsonl;
	size_t n = 0, pages = 0;
	struct h_resp r;
	json_t *rec;
	size_t i;

	h_collection_create(s, p->admin,
	    "{\"name\":\"notes\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\"},"
	    "{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}");
	for (i = 0; i < 7; i++) {
		h_req(s, "POST", "/v1/collections/notes/records", p->clin,
		    "{\"ssn\":\"" SSN2 "\",\"ward\":\"W7\"}", NULL, &r);
		CHECK_STATUS(&r, 201);
		h_resp_free(&r);
	}
	do {
		snprintf(path, sizeof(path), "/v1/collections/notes/records?limit=3%s%s",
		    cursor[0] ? "&cursor=" : "", cursor);
		h_req(s, "GET", path, p->analyst, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		CHECK(json_array_size(json_object_get(r.json, "records")) == (pages < 2 ? 3 : 1));
		json_array_foreach(json_object_get(r.json, "records"), i, rec) {
			const char *id = json_string_value(json_object_get(rec, "id"));

			for (size_t k = 0; k < n; k++)
				CHECK(strcmp(ids[k], id) != 0);
			CHECK(n < 7);
			snprintf(ids[n++], sizeof(ids[0]), "%s", id);
			CHECK(strcmp(field_of(rec, "ssn"), "***-**-2468") == 0);
			CHECK(strcmp(field_of(rec, "ward"), "W7") == 0);
		}
		snprintf(cursor, sizeof(cursor), "%s",
		    json_is_string(json_object_get(r.json, "next_cursor")) ?
		    json_string_value(json_object_get(r.json, "next_cursor")) : "");
		CHECK(pages < 2 ? cursor[0] != '\0' : json_is_null(json_object_get(r.json,
		    "next_cursor")));
		h_resp_free(&r);
		pages++;
	} while (cursor[0] != '\0' && pages < 5);
	CHECK(pages == 3 && n == 7);
	/* a tampered cursor, a limit beyond 500, no purpose */
	h_req(s, "GET", "/v1/collections/notes/records?cursor=cmVjXzE", p->analyst, NULL, TREAT, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/notes/records?limit=501", p->analyst, NULL, TREAT, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/notes/records?limit=3", p->analyst, NULL, NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "purpose_required") == 0);
	h_resp_free(&r);
	jsonl = audit_export(s);
	CHECK(audit_exact(jsonl, "record.list", "allowed", "collections/notes/records", NULL) == 3);
	CHECK(audit_exact(jsonl, "record.list", "error", "collections/notes/records",
	    "invalid_request") == 2);
	CHECK(audit_exact(jsonl, "record.list", "denied", "collections/notes/records",
	    "purpose_required") == 1);
	free(jsonl);
}

static void
test_audit_trail(struct h_server *s, const char *id1)
{
	char *jsonl = audit_export(s);

	/* every access, allowed or denied, with its purpose */
	CHECK(audit_count(jsonl, "collection.create", "allowed", "collections/patients", NULL) == 1);
	CHECK(audit_count(jsonl, "collection.create", "denied", NULL, NULL) >= 1);
	CHECK(audit_count(jsonl, "record.create", "allowed", NULL, NULL) >= 4);
	CHECK(audit_count(jsonl, "record.create", "error", NULL, NULL) >= 2);
	CHECK(audit_count(jsonl, "record.read", "allowed", id1, "TREAT") >= 3);
	CHECK(audit_count(jsonl, "record.read", "denied", NULL, NULL) >= 3);   /* admin, no purpose, ETREAT */
	CHECK(audit_count(jsonl, "record.read", "denied", id1, "ETREAT") == 1);
	CHECK(audit_count(jsonl, "record.search", "allowed", NULL, "TREAT") >= 3);
	CHECK(audit_count(jsonl, "record.update", "allowed", NULL, NULL) == 3);   /* + 2 in test_if_match */
	CHECK(audit_count(jsonl, "collection.read", "denied", "collections/ward9", NULL) == 1);
	CHECK(audit_count(jsonl, "record.delete", "allowed", NULL, NULL) == 1);
	CHECK(audit_count(jsonl, "token.create", "allowed", NULL, NULL) == 3);
	CHECK(audit_count(jsonl, "token.detokenize", "allowed", NULL, "TREAT") == 1);
	CHECK(audit_count(jsonl, "token.detokenize", "denied", NULL, NULL) >= 2);
	/* entries name fields, never values */
	for (size_t i = 0; needles[i] != NULL; i++)
		CHECK(strstr(jsonl, needles[i]) == NULL);
	CHECK(strstr(jsonl, "\"ssn\"") != NULL);
	free(jsonl);
}

/* A read whose audit entry cannot be made durable: 503 and no data. */
static void
test_fail_closed(void)
{
	struct h_server s;
	struct people p;
	char fault[700], id[64], path[256], cmd[1024], batch[256], detok[128], *out = NULL;
	struct h_resp r;
	FILE *f;

	h_init(&s, "records-fault", NULL);
	h_config_set(&s, "mfa_required", "off");
	snprintf(fault, sizeof(fault), "%s/../faults", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	h_start(&s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	people(&s, &p);
	create_patients(&s, p.admin);
	create_record(&s, p.clin, "{\"name\":\"" NAME1 "\",\"ssn\":\"" SSN1 "\"}", id, sizeof(id));
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
	snprintf(batch, sizeof(batch), "{\"read\":[\"%s\",\"%s\"]}", id, id);
	h_req(&s, "POST", "/v1/tokenize", p.clin,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"" TOK_SSN "\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_string_value(json_object_get(r.json, "token")) != NULL);
	snprintf(detok, sizeof(detok), "{\"token\":\"%s\"}",
	    json_string_value(json_object_get(r.json, "token")));
	h_resp_free(&r);

	f = fopen(fault, "w");
	CHECK(f != NULL);
	fputs("audit_append\n", f);
	fclose(f);
	h_req(&s, "GET", path, p.clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 503);
	CHECK(strcmp(h_err_code(&r), "audit_unavailable") == 0);
	CHECK(strstr(r.body, "Quuxworth") == NULL);
	CHECK(strstr(r.body, "6789") == NULL);
	CHECK(json_object_get(r.json, "fields") == NULL);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/collections/patients/records?ssn=" SSN1, p.clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 503);
	CHECK(strstr(r.body, "Quuxworth") == NULL);
	h_resp_free(&r);
	/* a batch read: every item 503, none carries the record */
	h_req(&s, "POST", "/v1/collections/patients/records:batch", p.clin, batch, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "results")) == 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *it = json_array_get(json_object_get(r.json, "results"), i);

		CHECK(json_integer_value(json_object_get(it, "status")) == 503);
		CHECK(json_object_get(it, "fields") == NULL);
	}
	CHECK(strstr(r.body, "Quuxworth") == NULL);
	CHECK(strstr(r.body, "6789") == NULL);
	h_resp_free(&r);
	/* detokenization is a PHI read too */
	h_req(&s, "POST", "/v1/detokenize", p.clin, detok, TREAT, &r);
	CHECK_STATUS(&r, 503);
	CHECK(strcmp(h_err_code(&r), "audit_unavailable") == 0);
	CHECK(json_object_get(r.json, "value") == NULL);
	CHECK(strstr(r.body, "9753") == NULL);
	h_resp_free(&r);
	/* nor is anything written without its entry */
	h_req(&s, "POST", "/v1/collections/patients/records", p.clin, "{\"name\":\"x\"}", NULL, &r);
	CHECK_STATUS(&r, 503);
	h_resp_free(&r);

	CHECK(unlink(fault) == 0);
	h_req(&s, "GET", path, p.clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "name"), NAME1) == 0);
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/collections/patients/records:batch", p.clin, batch, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(r.json,
	    "results"), 1), "status")) == 200);
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/detokenize", p.clin, detok, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "value")), TOK_SSN) == 0);
	h_resp_free(&r);
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	json_decref(s.init);
}

/* A role may limit the purposes its holders read PHI for (condition.purposes). */
static void
test_role_purposes(struct h_server *s, struct people *p, const char *id)
{
	static const char *HPAYMT[] = { "X-Purpose-Of-Use: HPAYMT", NULL };
	char billing[128], path[256];
	struct h_resp r;

	h_req(s, "POST", "/v1/roles", p->admin,
	    "{\"name\":\"billing\",\"permissions\":[\"records.read:patients\"],"
	    "\"condition\":{\"purposes\":[\"HPAYMT\"]}}", NULL, &r);
	CHECK_STATUS(&r, 202);   /* a PHI role: dual control */
	h_officer_approve(s, p->admin, h_jstr(r.json, "approval"));
	h_resp_free(&r);
	h_req(s, "GET", "/v1/roles", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		json_t *el;
		size_t i;
		int found = 0;

		json_array_foreach(json_object_get(r.json, "roles"), i, el)
			if (strcmp(h_jstr(el, "name"), "billing") == 0 && json_array_size(
			    json_object_get(json_object_get(el, "condition"), "purposes")) == 1)
				found = 1;
		CHECK(found);
	}
	h_resp_free(&r);
	/* unknown codes and other conditions are refused, not stored and ignored */
	h_req(s, "POST", "/v1/roles", p->admin,
	    "{\"name\":\"billing2\",\"permissions\":[\"records.read:patients\"],"
	    "\"condition\":{\"purposes\":[\"SHOPPING\"]}}", NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/roles", p->admin,
	    "{\"name\":\"billing3\",\"permissions\":[\"records.read:patients\"],"
	    "\"condition\":{\"purposes\":[\"HPAYMT\"],\"network\":\"10.0.0.0/8\"}}", NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);

	h_add_user(s, p->admin, "bill", "billing", PW_USER, billing, sizeof(billing));
	/* a collection's schema is for those who may use it; the denial is recorded */
	h_req(s, "GET", "/v1/collections/ward9", billing, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/patients", billing, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
	h_req(s, "GET", path, billing, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
	CHECK(r.body != NULL && strstr(r.body, "6789") == NULL);
	h_resp_free(&r);
	h_req(s, "GET", path, billing, NULL, HPAYMT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_object_get(r.json, "fields") != NULL);
	h_resp_free(&r);
}

/* Tokenization is scoped per collection (issue 8 item 7): a user holding
 * tokens.* on patients only cannot detokenize a token minted in claims (403,
 * the same answer as for an unknown token, audited as a denial); the
 * clinician (tokens.detokenize:*) and a stored custom role with the
 * deprecated bare permission can; deterministic tokens differ per collection. */
static const char *
tok_of(struct h_server *s, const char *who, const char *body, char *out, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/tokenize", who, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_string_value(json_object_get(r.json, "token")) != NULL);
	snprintf(out, len, "%s", json_string_value(json_object_get(r.json, "token")));
	h_resp_free(&r);
	return out;
}

static void
test_token_scope(struct h_server *s, struct people *p)
{
	char tess[128], lena[128], tc[64], tp[64], d1[64], d2[64], body[128], want[128];
	char denied_body[512], *jsonl;
	struct h_resp r;

	h_collection_create(s, p->admin,
	    "{\"name\":\"claims\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"member_ssn\",\"type\":\"ssn\",\"classification\":\"phi\"}]}");
	/* detokenize grants PHI: each role is approved (dual control) */
	h_create_approved(s, p->admin, "/v1/roles",
	    "{\"name\":\"tok_patients\",\"permissions\":[\"tokens.tokenize:patients\","
	    "\"tokens.detokenize:patients\"]}");
	h_create_approved(s, p->admin, "/v1/roles",
	    "{\"name\":\"tok_legacy\",\"permissions\":[\"tokens.detokenize\"]}");
	h_add_user(s, p->admin, "tess", "tok_patients", PW_USER, tess, sizeof(tess));
	h_add_user(s, p->admin, "lena", "tok_legacy", PW_USER, lena, sizeof(lena));

	tok_of(s, p->clin, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\""
	    TOK_SSN "\"}", tc, sizeof(tc));
	tok_of(s, tess, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"" TOK_SSN "\"}",
	    tp, sizeof(tp));

	/* tess: her collection yes, claims no */
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tp);
	h_req(s, "POST", "/v1/detokenize", tess, body, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "value")), TOK_SSN) == 0);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tc);
	h_req(s, "POST", "/v1/detokenize", tess, body, TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
	CHECK(json_object_get(r.json, "value") == NULL);
	CHECK(strstr(r.body, "9753") == NULL && strstr(r.body, "claims") == NULL);
	snprintf(denied_body, sizeof(denied_body), "%s", r.body);
	h_resp_free(&r);
	/* an unknown token: the very same answer */
	h_req(s, "POST", "/v1/detokenize", tess, "{\"token\":\"tok_aaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	    TREAT, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(r.body, denied_body) == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/tokenize", tess,
	    "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\"" TOK_SSN "\"}", NULL,
	    &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);

	/* the clinician and the bare (deprecated, = ":*") custom role can */
	h_req(s, "POST", "/v1/detokenize", p->clin, body, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "value")), TOK_SSN) == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/detokenize", lena, body, TREAT, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);

	/* deterministic: one token per collection */
	tok_of(s, p->clin, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\""
	    TOK_SSN "\",\"deterministic\":true}", d1, sizeof(d1));
	tok_of(s, p->clin, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\""
	    TOK_SSN "\",\"deterministic\":true}", d2, sizeof(d2));
	CHECK(strcmp(d1, d2) != 0);
	tok_of(s, p->clin, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\""
	    TOK_SSN "\",\"deterministic\":true}", d2, sizeof(d2));
	CHECK(strcmp(d1, d2) == 0);

	jsonl = audit_export(s);
	snprintf(want, sizeof(want), "tokens/%s", tc);
	CHECK(audit_exact(jsonl, "token.detokenize", "denied", want,
	    "missing_permission:tokens.detokenize:claims") == 1);
	CHECK(audit_exact(jsonl, "token.detokenize", "denied",
	    "tokens/tok_aaaaaaaaaaaaaaaaaaaaaaaaaa", "missing_permission:tokens.detokenize:*") == 1);
	CHECK(audit_exact(jsonl, "token.create", "denied", "tokens",
	    "missing_permission:tokens.tokenize:claims") == 1);
	CHECK(audit_exact(jsonl, "token.detokenize", "allowed", want, NULL) == 2);
	free(jsonl);
}

/* ---- POST /v1/authz/explain: the decision point answers "why" ---- */

static void
user_id_of(struct h_server *s, const char *tok, char *out, size_t len)
{
	struct h_resp r;

	h_req(s, "GET", "/v1/auth/session", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, len, "%s", json_string_value(json_object_get(r.json, "user_id")));
	h_resp_free(&r);
}

static void
explain(struct h_server *s, const char *tok, const char *body, int status, struct h_resp *r)
{
	h_req(s, "POST", "/v1/authz/explain", tok, body, NULL, r);
	CHECK_STATUS(r, status);
}

static bool
has_string(json_t *arr, const char *want)
{
	size_t i;
	json_t *el;

	json_array_foreach(arr, i, el)
		if (json_is_string(el) && strcmp(json_string_value(el), want) == 0)
			return true;
	return false;
}

static void
test_explain(struct h_server *s, struct people *p)
{
	char clin_id[64], andy_id[64], audrey[128], body[1024], path[128], bogus[64];
	struct h_resp r;
	json_t *ob;

	user_id_of(s, p->clin, clin_id, sizeof(clin_id));
	user_id_of(s, p->analyst, andy_id, sizeof(andy_id));
	h_add_user(s, p->admin, "audrey", "auditor", PW_USER, audrey, sizeof(audrey));

	/* allow for a clinician's read, with its grant and obligations */
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.read\","
	    "\"resource\":{\"collection\":\"patients\",\"record\":\"rec_x\"},"
	    "\"context\":{\"source\":\"10.1.2.3\",\"purpose\":\"TREAT\",\"time\":\"now\"}}",
	    clin_id);
	explain(s, p->admin, body, 200, &r);
	CHECK(json_is_true(json_object_get(r.json, "allow")));
	CHECK(strcmp(json_string_value(json_object_get(r.json, "reason")), "allowed") == 0);
	CHECK(has_string(json_object_get(r.json, "policies"), "role:clinician records.read:*"));
	ob = json_object_get(r.json, "obligations");
	CHECK(has_string(json_object_get(ob, "unmask"), "*"));
	CHECK(has_string(json_object_get(ob, "purposes"), "TREAT"));
	CHECK(json_is_null(json_object_get(r.json, "step_up")));
	h_resp_free(&r);

	/* deny with the reason for an analyst's unmask (the auditor may ask too) */
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.unmask\","
	    "\"resource\":{\"collection\":\"patients\",\"fields\":[\"ssn\"]}}", andy_id);
	explain(s, audrey, body, 200, &r);
	CHECK(json_is_false(json_object_get(r.json, "allow")));
	CHECK(strcmp(json_string_value(json_object_get(r.json, "reason")),
	    "missing_permission:records.unmask:patients.ssn") == 0);
	CHECK(json_array_size(json_object_get(json_object_get(r.json, "obligations"), "unmask"))
	    == 0);
	h_resp_free(&r);
	/* the analyst's read: allowed, nothing unmasked */
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.read\","
	    "\"resource\":{\"collection\":\"patients\",\"fields\":[\"ssn\",\"name\"]},"
	    "\"context\":{\"purpose\":\"TREAT\"}}", andy_id);
	explain(s, p->admin, body, 200, &r);
	CHECK(json_is_true(json_object_get(r.json, "allow")));
	CHECK(json_array_size(json_object_get(json_object_get(r.json, "obligations"), "unmask"))
	    == 0);
	h_resp_free(&r);
	/* ETREAT without break_glass; no purpose at all */
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.read\","
	    "\"resource\":{\"collection\":\"patients\"},\"context\":{\"purpose\":\"ETREAT\"}}",
	    clin_id);
	explain(s, p->admin, body, 200, &r);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "reason")),
	    "purpose_not_allowed") == 0);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.read\","
	    "\"resource\":{\"collection\":\"patients\"}}", clin_id);
	explain(s, p->admin, body, 200, &r);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "reason")),
	    "purpose_required") == 0);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.nuke\"}",
	    clin_id);
	explain(s, p->admin, body, 200, &r);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "reason")), "unknown_action") == 0);
	h_resp_free(&r);

	/* a caller without roles.manage or audit.read: 403, and it is audited */
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.read\"}",
	    andy_id);
	explain(s, p->clin, body, 403, &r);
	CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
	h_resp_free(&r);
	/* unknown principal: 404; bad input: 400 */
	snprintf(bogus, sizeof(bogus), "%s", clin_id);
	bogus[strlen(bogus) - 1] = bogus[strlen(bogus) - 1] == 'a' ? 'b' : 'a';
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.read\"}", bogus);
	explain(s, p->admin, body, 404, &r);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	h_resp_free(&r);
	explain(s, p->admin, "{\"principal\":\"clara\",\"action\":\"records.read\"}", 400, &r);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);

	/* the trail: the explanations and the refusal */
	h_req(s, "GET", "/v1/audit?action=authz.explain&limit=1000", audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		json_t *e;
		size_t i, allowed = 0, denied = 0;

		json_array_foreach(json_object_get(r.json, "entries"), i, e) {
			const char *o = json_string_value(json_object_get(e, "outcome"));

			allowed += strcmp(o, "allowed") == 0;
			denied += strcmp(o, "denied") == 0;
		}
		CHECK(allowed == 6);
		CHECK(denied == 1);
	}
	h_resp_free(&r);

	/* a mover: andy becomes a clinician; the next decision differs at once */
	snprintf(path, sizeof(path), "/v1/users/%s", andy_id);
	h_req(s, "PATCH", path, p->admin, "{\"roles\":[\"clinician\"]}", NULL, &r);
	CHECK_STATUS(&r, 202);   /* clinician: dual control */
	h_officer_approve(s, p->admin, h_jstr(r.json, "approval"));
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.unmask\","
	    "\"resource\":{\"collection\":\"patients\",\"fields\":[\"ssn\"]}}", andy_id);
	explain(s, p->admin, body, 200, &r);
	CHECK(json_is_true(json_object_get(r.json, "allow")));
	CHECK(has_string(json_object_get(json_object_get(r.json, "obligations"), "unmask"),
	    "ssn"));
	h_resp_free(&r);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char id1[64], cmd[1024], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_init(&s, "records", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	people(&s, &p);
	test_collections(&s, &p);
	test_read_write(&s, &p, id1, sizeof(id1));
	test_search_patch_delete(&s, &p, id1);
	test_batch_and_tokens(&s, &p, id1);
	test_role_purposes(&s, &p, id1);
	test_denials_audited(&s, &p);
	test_if_match(&s, &p);
	test_list(&s, &p);
	test_audit_trail(&s, id1);
	test_token_scope(&s, &p);   /* after the counts of test_audit_trail */
	test_explain(&s, &p);
	/* while serving: database, WAL and shared-memory files hold no plaintext */
	assert_no_plaintext(s.dir);
	CHECK(h_stop(&s) == 0);

	/* the chain (with every entry above) verifies offline */
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	/* no plaintext anywhere under the data directory, nor in the server log */
	assert_no_plaintext(s.dir);
	assert_no_plaintext(s.log);
	json_decref(s.init);

	test_fail_closed();
	h_done("test_records");
	return 0;
}
