/*
 * Accounting of disclosures on the real binary over HTTPS (issue 14 item 4,
 * 45 CFR 164.528) against a scripted ground truth: patient A's records are
 * created, read by two clinicians with different purposes (one naming an
 * outside recipient with X-Disclosure-Recipient), found by a search, read
 * in a batch, listed and updated, and one created and deleted; patient B's records are read too and must
 * never show in A's accounting. GET /v1/subjects/A/disclosures (auditor,
 * compliance.read) lists exactly the scripted accesses in order, each with
 * who, purpose, recipient, collection, record, field names and whether
 * 164.528 requires it; CSV (RFC 4180) and a FHIR R4 Bundle of AuditEvent
 * have the same entries; a bad recipient header is 400 invalid_recipient
 * and reads nothing; a clinician may not ask; the query is audited with
 * the subject's reference, never its value; seven years later (the
 * injectable clock) the default window (six years) is empty; the CLI
 * prints the same; the trail still verifies.
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
#define NOTE_A "note-value-Quokka-77"
#define RECIPIENT "County Health Dept, Surveillance Unit"

struct people {
	char admin[256], clara[256], carl[256], audrey[256];
};

/* the ground truth of A's accounting, in order */
struct want {
	const char *action, *user, *purpose, *recipient, *collection;
	const char *record;     /* an id from ids[], or NULL */
	bool accountable;
	const char *basis;
	const char *field;      /* one field name that must be listed */
};

static char a_visit[64], a_lab[64], b_visit[64], a_gone[64];

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
get(struct h_server *s, const char *token, const char *path, const char **hdrs, int status)
{
	struct h_resp r;

	h_req(s, "GET", path, token, NULL, hdrs, &r);
	CHECK_STATUS(&r, status);
	h_resp_free(&r);
}

static void
script(struct h_server *s, struct people *p)
{
	static const char *treat[] = { "X-Purpose-Of-Use: TREAT", NULL };
	static const char *pubhlth[] = { "X-Purpose-Of-Use: PUBHLTH",
		"X-Disclosure-Recipient: " RECIPIENT, NULL };
	static const char *hresch[] = { "X-Purpose-Of-Use: HRESCH", NULL };
	static const char *hoperat[] = { "X-Purpose-Of-Use: HOPERAT", NULL };
	static const char *patrqt[] = { "X-Purpose-Of-Use: PATRQT", NULL };
	static const char *bad_nonascii[] = { "X-Purpose-Of-Use: TREAT",
		"X-Disclosure-Recipient: Caf\xc3\xa9 Clinic", NULL };
	char path[256], body[256], bad_long[300];
	const char *bad_len[] = { "X-Purpose-Of-Use: TREAT", bad_long, NULL };
	struct h_resp r;

	h_collection_create(s, p->admin,
	    "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"searchable\":true},"
	    "{\"name\":\"note\",\"type\":\"string\"}]}");
	h_collection_create(s, p->admin,
	    "{\"name\":\"labs\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"who\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"test\",\"type\":\"string\"}]}");
	/* 1, 2: created by clara */
	create(s, p->clara, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA1\",\"note\":\""
	    NOTE_A "\"}", a_visit);
	create(s, p->clara, "labs", "{\"who\":\"" PAT_A "\",\"test\":\"hba1c\"}", a_lab);
	/* B: never in A's accounting */
	create(s, p->carl, "visits", "{\"patient\":\"" PAT_B "\",\"mrn\":\"MRNB1\",\"note\":\"b\"}",
	    b_visit);
	snprintf(path, sizeof(path), "/v1/collections/visits/records/%s", b_visit);
	get(s, p->carl, path, treat, 200);
	/* 3: clara reads for treatment */
	snprintf(path, sizeof(path), "/v1/collections/visits/records/%s", a_visit);
	get(s, p->clara, path, treat, 200);
	/* 4: carl discloses to public health, naming the recipient */
	get(s, p->carl, path, pubhlth, 200);
	/* bad recipients: 400, nothing read, nothing in the accounting */
	h_expect(s, "GET", path, p->carl, NULL, bad_nonascii, 400, "invalid_recipient");
	memset(bad_long, 'x', sizeof(bad_long) - 1);
	bad_long[sizeof(bad_long) - 1] = '\0';
	memcpy(bad_long, "X-Disclosure-Recipient: ", 24);
	h_expect(s, "GET", path, p->carl, NULL, bad_len, 400, "invalid_recipient");
	/* 5: a research search that finds A (and not B) */
	get(s, p->clara, "/v1/collections/visits/records?mrn=MRNA1", hresch, 200);
	/* 6: a batch read of A's lab (and B's visit, which is another collection's id: 404) */
	snprintf(body, sizeof(body), "{\"read\":[\"%s\"]}", a_lab);
	h_req(s, "POST", "/v1/collections/labs/records:batch", p->carl, body, patrqt, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* 7: a listing for operations */
	get(s, p->clara, "/v1/collections/labs/records?limit=10", hoperat, 200);
	/* 8: an update */
	h_req(s, "PATCH", path, p->clara, "{\"note\":\"amended\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* 9, 10: a record created in error and deleted */
	create(s, p->carl, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA9\",\"note\":\"x\"}",
	    a_gone);
	snprintf(path, sizeof(path), "/v1/collections/visits/records/%s", a_gone);
	h_req(s, "DELETE", path, p->carl, NULL, NULL, &r);
	CHECK(r.status == 200 || r.status == 204);
	h_resp_free(&r);
}

static const struct want *
truth(size_t *n)
{
	static struct want w[10];

	w[0] = (struct want){ "record.create", "clara", NULL, NULL, "visits", a_visit, false,
		"internal_use", "note" };
	w[1] = (struct want){ "record.create", "clara", NULL, NULL, "labs", a_lab, false,
		"internal_use", "test" };
	w[2] = (struct want){ "record.read", "clara", "TREAT", NULL, "visits", a_visit, false,
		"treatment", "note" };
	w[3] = (struct want){ "record.read", "carl", "PUBHLTH", RECIPIENT, "visits", a_visit,
		true, "disclosure", "patient" };
	w[4] = (struct want){ "record.search", "clara", "HRESCH", NULL, "visits", NULL, true,
		"disclosure", "mrn" };
	w[5] = (struct want){ "record.read", "carl", "PATRQT", NULL, "labs", a_lab, false,
		"to_the_individual", "test" };
	w[6] = (struct want){ "record.list", "clara", "HOPERAT", NULL, "labs", NULL, false,
		"health_care_operations", "who" };
	w[7] = (struct want){ "record.update", "clara", NULL, NULL, "visits", a_visit, false,
		"internal_use", "note" };
	w[8] = (struct want){ "record.create", "carl", NULL, NULL, "visits", a_gone, false,
		"internal_use", "mrn" };
	w[9] = (struct want){ "record.delete", "carl", NULL, NULL, "visits", a_gone, false,
		"internal_use", NULL };
	*n = 10;
	return w;
}

static bool
lists(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static void
check_json(struct h_server *s, struct people *p, char ref[65])
{
	struct h_resp r;
	const struct want *w;
	json_t *entries, *e;
	size_t n, i, nacct = 0;

	h_req(s, "GET", "/v1/subjects/" PAT_A "/disclosures", p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, PAT_A) == NULL && strstr(r.body, NOTE_A) == NULL);   /* no values */
	CHECK(strstr(r.body, b_visit) == NULL);    /* B's accesses are not A's */
	snprintf(ref, 65, "%s", h_jstr(r.json, "subject_ref"));
	CHECK(strlen(ref) == 64);
	entries = json_object_get(r.json, "entries");
	w = truth(&n);
	if (json_array_size(entries) != n)
		fprintf(stderr, "disclosures: %s\n", r.body);
	CHECK(json_array_size(entries) == n);
	json_array_foreach(entries, i, e) {
		json_t *actor = json_object_get(e, "actor");

		if (strcmp(h_jstr(e, "action"), w[i].action) != 0)
			fprintf(stderr, "entry %zu: %s\n", i, json_dumps(e, JSON_COMPACT));
		CHECK(strcmp(h_jstr(e, "action"), w[i].action) == 0);
		CHECK(strcmp(h_jstr(actor, "username"), w[i].user) == 0);
		CHECK(strcmp(h_jstr(actor, "kind"), "user") == 0);
		CHECK(strncmp(h_jstr(actor, "id"), "usr_", 4) == 0);
		CHECK(strcmp(h_jstr(e, "outcome"), "allowed") == 0);
		CHECK(strcmp(h_jstr(e, "collection"), w[i].collection) == 0);
		if (w[i].purpose != NULL)
			CHECK(strcmp(h_jstr(e, "purpose_of_use"), w[i].purpose) == 0);
		else
			CHECK(json_object_get(e, "purpose_of_use") == NULL);
		if (w[i].recipient != NULL)
			CHECK(strcmp(h_jstr(e, "recipient"), w[i].recipient) == 0);
		else
			CHECK(json_object_get(e, "recipient") == NULL);
		if (w[i].record != NULL)
			CHECK(strcmp(h_jstr(e, "record"), w[i].record) == 0);
		CHECK(json_is_true(json_object_get(e, "accountable")) == w[i].accountable);
		CHECK(strcmp(h_jstr(e, "basis"), w[i].basis) == 0);
		if (w[i].field != NULL)
			CHECK(lists(json_object_get(e, "fields"), w[i].field));
		CHECK(json_integer_value(json_object_get(e, "seq")) > 0);
		CHECK(strlen(h_jstr(e, "time")) == 24);
		if (i > 0)
			CHECK(json_integer_value(json_object_get(e, "seq")) >
			    json_integer_value(json_object_get(json_array_get(entries, i - 1), "seq")));
		nacct += w[i].accountable;
	}
	CHECK(json_integer_value(json_object_get(r.json, "total")) == (json_int_t)n);
	CHECK(json_integer_value(json_object_get(r.json, "accountable")) == (json_int_t)nacct);
	CHECK(json_is_false(json_object_get(r.json, "truncated")));
	CHECK(strstr(h_jstr(r.json, "rule"), "164.528") != NULL);
	h_resp_free(&r);

	/* B has its own: its create and carl's read, nothing of A */
	h_req(s, "GET", "/v1/subjects/" PAT_B "/disclosures", p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == 2);
	CHECK(strstr(r.body, a_visit) == NULL && strstr(r.body, a_lab) == NULL);
	h_resp_free(&r);
	/* a patient never seen: an empty accounting, not an error */
	h_req(s, "GET", "/v1/subjects/PAT-nobody/disclosures", p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == 0);
	h_resp_free(&r);
}

static void
check_csv(struct h_server *s, struct people *p)
{
	struct h_resp r;
	char *line, *save = NULL, *copy;
	size_t lines = 0, n;

	(void)truth(&n);
	h_req(s, "GET", "/v1/subjects/" PAT_A "/disclosures?format=csv", p->audrey, NULL, NULL,
	    &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: text/csv"));
	CHECK(strncmp(r.body, "seq,time,action,outcome,purpose_of_use,recipient,actor_kind,"
	    "actor_id,username,collection,record,fields,accountable,basis\r\n", 120) == 0);
	/* RFC 4180: CRLF after every record; the recipient has a comma: quoted */
	CHECK(strstr(r.body, ",\"" RECIPIENT "\",") != NULL);
	CHECK(strstr(r.body, PAT_A) == NULL);
	copy = strdup(r.body);
	CHECK(copy != NULL);
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		CHECK(line[strlen(line) - 1] == '\r');
		lines++;
	}
	CHECK(lines == n + 1);
	CHECK(strstr(r.body, ",PUBHLTH,") != NULL && strstr(r.body, ",true,disclosure\r\n") != NULL);
	free(copy);
	h_resp_free(&r);
}

static void
check_fhir(struct h_server *s, struct people *p, const char *ref)
{
	struct h_resp r;
	json_t *entries, *e;
	size_t i, n;
	char patient[80];

	(void)truth(&n);
	snprintf(patient, sizeof(patient), "Patient/%s", ref);
	h_req(s, "GET", "/v1/subjects/" PAT_A "/disclosures?format=fhir", p->audrey, NULL, NULL,
	    &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: application/fhir+json"));
	CHECK(r.json != NULL);
	CHECK(strcmp(h_jstr(r.json, "resourceType"), "Bundle") == 0);
	CHECK(strcmp(h_jstr(r.json, "type"), "collection") == 0);
	entries = json_object_get(r.json, "entry");
	CHECK(json_array_size(entries) == n);
	json_array_foreach(entries, i, e) {
		json_t *ae = json_object_get(e, "resource"), *agent, *ent;

		CHECK(strcmp(h_jstr(ae, "resourceType"), "AuditEvent") == 0);
		/* R4 AuditEvent's required elements: type, recorded, agent (requestor), source.observer */
		CHECK(strcmp(h_jstr(json_object_get(ae, "type"), "code"), "110110") == 0);
		CHECK(strlen(h_jstr(ae, "recorded")) == 24);
		agent = json_array_get(json_object_get(ae, "agent"), 0);
		CHECK(json_is_boolean(json_object_get(agent, "requestor")));
		CHECK(json_object_get(agent, "who") != NULL);
		CHECK(json_object_get(json_object_get(ae, "source"), "observer") != NULL);
		CHECK(strcmp(h_jstr(ae, "outcome"), "0") == 0);
		CHECK(json_array_size(json_object_get(ae, "subtype")) == 1);
		CHECK(strlen(h_jstr(ae, "action")) == 1);
		ent = json_array_get(json_object_get(ae, "entity"), 0);
		CHECK(strcmp(h_jstr(json_object_get(ent, "what"), "reference"), patient) == 0);
		if (i == 3) {   /* carl's PUBHLTH read: purpose and the recipient agent */
			json_t *poe = json_array_get(json_object_get(ae, "purposeOfEvent"), 0);

			CHECK(strcmp(h_jstr(json_array_get(json_object_get(poe, "coding"), 0), "code"),
			    "PUBHLTH") == 0);
			CHECK(json_array_size(json_object_get(ae, "agent")) == 2);
			CHECK(strcmp(h_jstr(json_object_get(json_array_get(json_object_get(ae, "agent"),
			    1), "who"), "display"), RECIPIENT) == 0);
		}
	}
	CHECK(strstr(r.body, PAT_A) == NULL);
	h_resp_free(&r);
}

static void
check_refusals(struct h_server *s, struct people *p)
{
	/* only compliance.read may ask */
	h_expect(s, "GET", "/v1/subjects/" PAT_A "/disclosures", p->clara, NULL, NULL, 403,
	    "forbidden");
	h_expect(s, "GET", "/v1/subjects/" PAT_A "/disclosures?format=xml", p->audrey, NULL, NULL,
	    400, "invalid_request");
	h_expect(s, "GET", "/v1/subjects/" PAT_A "/disclosures?since=yesterday", p->audrey, NULL,
	    NULL, 400, "invalid_request");
	h_expect(s, "GET", "/v1/subjects/" PAT_A "/disclosures?since=2026-02-30", p->audrey, NULL,
	    NULL, 400, "invalid_request");
	h_expect(s, "GET", "/v1/subjects/" PAT_A "/disclosures", NULL, NULL, NULL, 401, NULL);
}

/* The queries are audited, by reference; the value is in no entry. */
static void
check_audited(struct h_server *s, struct people *p, const char *ref)
{
	struct h_resp r;
	char res[80];

	snprintf(res, sizeof(res), "subjects/%s", ref);
	h_req(s, "GET", "/v1/audit?action=disclosure.list&limit=100", p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, res) != NULL);
	CHECK(strstr(r.body, "\"forbidden\"") != NULL || strstr(r.body, "denied") != NULL);
	CHECK(strstr(r.body, PAT_A) == NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/audit?limit=1000", p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, PAT_A) == NULL && strstr(r.body, PAT_B) == NULL);
	CHECK(strstr(r.body, NOTE_A) == NULL);
	CHECK(strstr(r.body, "\"recipient\":\"" RECIPIENT "\"") != NULL);
	h_resp_free(&r);
}

static void
check_window(struct h_server *s, struct people *p)
{
	struct h_resp r;
	size_t n;

	(void)truth(&n);
	h_req(s, "GET", "/v1/subjects/" PAT_A "/disclosures?since=2000-01-01", p->audrey, NULL,
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == n);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/subjects/" PAT_A "/disclosures?until=2000-01-01T00:00:00Z",
	    p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == 0);
	h_resp_free(&r);
	/* seven years on, the default window (the last six years) is empty */
	for (int y = 0; y < 7; y++)
		h_clock_advance(s, 366LL * 86400 * 1000);
	h_login(s, "audrey", PW_USER, p->audrey, sizeof(p->audrey));   /* the old session expired */
	h_req(s, "GET", "/v1/subjects/" PAT_A "/disclosures", p->audrey, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/subjects/" PAT_A "/disclosures?since=2000-01-01", p->audrey, NULL,
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == n);
	h_resp_free(&r);
}

static void
check_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], *out = NULL;

	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s subject disclosures " PAT_A " --since 2000-01-01 --format csv 2>&1", s->base,
	    s->cacert, p->audrey, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strncmp(out, "seq,time,action,", 16) == 0);
	CHECK(strstr(out, ",PUBHLTH,") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s subject disclosures " PAT_A " --since 2000-01-01 --format fhir 2>&1", s->base,
	    s->cacert, p->audrey, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"resourceType\":\"Bundle\"") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s subject disclosures " PAT_A " --since 2000-01-01 --format text 2>&1", s->base,
	    s->cacert, p->audrey, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "accountable") != NULL && strstr(out, RECIPIENT) != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s subject disclosures " PAT_A " --format xml 2>&1", s->base, s->cacert, p->audrey,
	    h_bin());
	CHECK(h_run(cmd, &out) == 2);
	free(out);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char ref[65], cmd[1024], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "disclosures", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clara, sizeof(p.clara));
	h_add_user(&s, p.admin, "carl", "clinician", PW_USER, p.carl, sizeof(p.carl));
	h_add_user(&s, p.admin, "audrey", "auditor", PW_USER, p.audrey, sizeof(p.audrey));
	script(&s, &p);
	check_json(&s, &p, ref);
	check_csv(&s, &p);
	check_fhir(&s, &p, ref);
	check_refusals(&s, &p);
	check_audited(&s, &p, ref);
	check_cli(&s, &p);
	check_window(&s, &p);
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	json_decref(s.init);
	h_done("disclosures");
	return 0;
}
