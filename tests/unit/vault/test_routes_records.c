/*
 * The collection, record and batch routes, driven through the HTTP pipeline
 * without sockets: status, error code and body as a client sees them, the
 * audit entries as an auditor sees them, and the rows as the database holds
 * them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vault_fixture.h"
#include "tx_helpers.h"

static const char *const ADMIN[] = { "admin", NULL };
static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const ANALYST[] = { "analyst", NULL };
static const char *const NOBODY[] = { NULL };

static const char *const TREAT[] = { "X-Purpose-Of-Use", "TREAT", NULL };
static const char *const ETREAT[] = { "X-Purpose-Of-Use", "ETREAT", NULL };
static const char *const BADPOU[] = { "X-Purpose-Of-Use", "treat", NULL };

#define REC1 "{\"name\":\"Zebediah Quuxworth\",\"ssn\":\"123-45-6789\",\"mrn\":\"mr-0042\"," \
	"\"dob\":\"1961-02-03\",\"email\":\"zeb@Example.ORG\",\"visits\":7}"

static const char *str_at(json_t *j, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(j, a), b));
}

static void uri(char *buf, size_t len, const char *id)
{
	snprintf(buf, len, "/v1/collections/patients/records/%s", id);
}

/* ---- collections ---- */

static void test_collection_create(void **state)
{
	struct vf *f = *state;
	struct vf_resp r;
	struct vf_entry e;

	vf_as(f, "usr_admin", ADMIN);
	vf_req(f, "POST", "/v1/collections", NULL, NULL, VF_PATIENTS, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(json_string_value(json_object_get(r.json, "name")), "patients");
	assert_int_equal(json_array_size(json_object_get(r.json, "fields")), 6);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "collection.create");
	assert_string_equal(e.outcome, "allowed");
	assert_string_equal(e.resource, "collections/patients");

	/* once per name */
	vf_req(f, "POST", "/v1/collections", NULL, NULL, VF_PATIENTS, &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.code, "conflict");
	vf_resp_free(&r);

	/* region policy */
	vf_req(f, "POST", "/v1/collections", NULL, NULL,
	    "{\"name\":\"elsewhere\",\"region\":\"us-east\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}",
	    &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "region_not_allowed");
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "region_not_allowed");
	vf_req(f, "GET", "/v1/collections/elsewhere", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/collections", NULL, NULL,
	    "{\"name\":\"eu\",\"region\":\"eu-west\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}",
	    &r);
	assert_int_equal(r.status, 201);
	vf_resp_free(&r);

	/* a bad schema names the key */
	vf_req(f, "POST", "/v1/collections", NULL, NULL,
	    "{\"name\":\"x\",\"region\":\"local\",\"fields\":[{\"name\":\"a\",\"type\":\"blob\"}]}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	assert_non_null(strstr(r.message, "type"));
	vf_resp_free(&r);

	/* list and get */
	vf_req(f, "GET", "/v1/collections", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "collections")), 2);
	vf_resp_free(&r);

	/* a clinician cannot create one, but may read a schema it works with */
	vf_as(f, "usr_clin", CLINICIAN);
	vf_req(f, "POST", "/v1/collections", NULL, NULL, VF_PATIENTS, &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "region")), "local");
	vf_resp_free(&r);
	vf_as(f, "usr_none", NOBODY);
	vf_req(f, "GET", "/v1/collections/patients", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
}

/* ---- create, read, masking ---- */

static void test_create_and_read(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	struct vf_resp r;
	struct vf_entry e;
	json_t *flds;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, id);
	assert_true(util_id_valid("rec", id));
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.create");
	assert_string_equal(e.outcome, "allowed");
	assert_non_null(strstr(e.resource, id));
	assert_non_null(strstr(e.detail, "\"ssn\""));
	assert_null(strstr(e.detail, "6789"));
	assert_null(strstr(e.detail, "Quuxworth"));
	assert_non_null(strstr(e.actor, "usr_clin"));

	/* clinician: unmask on every field, values in canonical form */
	uri(path, sizeof(path), id);
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 1);
	flds = json_object_get(r.json, "fields");
	assert_string_equal(json_string_value(json_object_get(flds, "name")), "Zebediah Quuxworth");
	assert_string_equal(json_string_value(json_object_get(flds, "ssn")), "123-45-6789");
	assert_string_equal(json_string_value(json_object_get(flds, "mrn")), "MR-0042");
	assert_string_equal(json_string_value(json_object_get(flds, "email")), "zeb@example.org");
	assert_int_equal(json_integer_value(json_object_get(flds, "visits")), 7);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.read");
	assert_string_equal(e.purpose, "TREAT");
	assert_string_equal(e.outcome, "allowed");
	assert_non_null(strstr(e.detail, "\"unmasked\":[\""));
	assert_null(strstr(e.detail, "6789"));

	/* analyst: masked; the internal field is plain */
	vf_as(f, "usr_ana", ANALYST);
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	flds = json_object_get(r.json, "fields");
	assert_string_equal(json_string_value(json_object_get(flds, "ssn")), "***-**-6789");
	assert_string_equal(json_string_value(json_object_get(flds, "name")), "****");
	assert_string_equal(json_string_value(json_object_get(flds, "dob")), "****");
	assert_string_equal(json_string_value(json_object_get(flds, "email")), "****");
	assert_int_equal(json_integer_value(json_object_get(flds, "visits")), 7);
	assert_null(strstr(r.body, "Quuxworth"));
	assert_null(strstr(r.body, "1961"));
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_non_null(strstr(e.detail, "\"unmasked\":[]"));

	/* one field unmasked for this analyst */
	vf_grant(f, "records.unmask:patients.dob");
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_string_equal(str_at(r.json, "fields", "dob"), "1961-02-03");
	assert_string_equal(str_at(r.json, "fields", "name"), "****");
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_non_null(strstr(e.detail, "\"unmasked\":[\"dob\"]"));

	/* admin: no read permission at all */
	vf_as(f, "usr_admin", ADMIN);
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "forbidden");
	assert_null(r.body != NULL ? strstr(r.body, "6789") : NULL);
	vf_resp_free(&r);
}

static void test_create_refusals(void **state)
{
	struct vf *f = *state;
	struct vf_resp r;
	struct vf_entry e;
	int before;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	before = vf_count(f, "record.create");
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL,
	    "{\"ssn\":\"123-45-6789\",\"shoe_size\":\"ZQX7MARK\"}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	assert_non_null(strstr(r.message, "shoe_size"));
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL,
	    "{\"ssn\":\"000-12-ZQX7\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.message, "ssn"));
	assert_null(strstr(r.message, "ZQX7"));
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL,
	    "{\"visits\":\"seven\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.message, "visits"));
	vf_resp_free(&r);
	/* refusals are audited too, without the values */
	assert_int_equal(vf_count(f, "record.create"), before + 3);
	vf_last_entry(f, &e);
	assert_string_equal(e.outcome, "error");
	assert_string_equal(e.reason, "invalid_request");

	vf_req(f, "POST", "/v1/collections/nosuch/records", NULL, NULL, "{}", &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL, "[1]", &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);

	/* the analyst may not write */
	vf_as(f, "usr_ana", ANALYST);
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL, "{\"mrn\":\"A1\"}", &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
}

/* ---- purpose of use ---- */

static void test_purpose_required(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	const char *const empty[] = { NULL };
	struct vf_resp r;
	struct vf_entry e;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, id);
	uri(path, sizeof(path), id);

	vf_req(f, "GET", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "purpose_required");
	assert_null(json_object_get(r.json, "fields"));
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.read");
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "purpose_required");

	vf_req(f, "GET", path, BADPOU, NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "purpose_required");
	vf_resp_free(&r);

	/* ETREAT belongs to break-glass sessions */
	vf_req(f, "GET", path, ETREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.message, "break-glass"));
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.purpose, "ETREAT");
	assert_string_equal(e.outcome, "denied");
	{
		static const char *const bg[] = { "clinician", "break_glass", NULL };

		/* the role alone is not a grant: ETREAT needs one in force
		 * (POST /v1/breakglass, tests/integration/test_breakglass.c) */
		vf_as(f, "usr_bg", bg);
		vf_req(f, "GET", path, ETREAT, NULL, NULL, &r);
		assert_int_equal(r.status, 403);
		vf_resp_free(&r);
		vf_last_entry(f, &e);
		assert_string_equal(e.purpose, "ETREAT");
		assert_string_equal(e.reason, "breakglass_inactive");
	}

	/* searches too */
	vf_req(f, "GET", "/v1/collections/patients/records", empty,
	    (const char *const[]){ "ssn", "123-45-6789", NULL }, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "purpose_required");
	vf_resp_free(&r);
}

/* A custom role may limit the purposes its permissions serve. */
static void test_role_purposes(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	char perms[] = "[\"records.read:patients\"]", cond[] = "{\"purposes\":[\"TREAT\",\"HPAYMT\"]}";
	char perms2[] = "[\"records.read:*\"]", cond2[] = "{}";
	struct store_role role;
	struct vf_resp r;
	struct vf_entry e;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, id);
	uri(path, sizeof(path), id);

	memset(&role, 0, sizeof(role));
	snprintf(role.name, sizeof(role.name), "billing_reader");
	role.permissions = perms;
	role.condition = cond;
	assert_int_equal(TX_WR(f->st, store_role_put(tx, &role)), PV_OK);
	snprintf(role.name, sizeof(role.name), "researcher");
	role.permissions = perms2;
	role.condition = cond2;
	assert_int_equal(TX_WR(f->st, store_role_put(tx, &role)), PV_OK);

	vf_as(f, "usr_bill", NULL);
	vf_grant(f, "records.read:patients");
	snprintf(f->who.roles[f->who.nroles++], AUTHN_ROLE_NAME_MAX, "billing_reader");
	vf_req(f, "GET", path, (const char *const[]){ "X-Purpose-Of-Use", "HPAYMT", NULL }, NULL,
	    NULL, &r);
	assert_int_equal(r.status, 200);
	vf_resp_free(&r);
	vf_req(f, "GET", path, (const char *const[]){ "X-Purpose-Of-Use", "HRESCH", NULL }, NULL,
	    NULL, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "forbidden");
	assert_null(json_object_get(r.json, "fields"));
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "purpose_not_allowed");
	assert_string_equal(e.purpose, "HRESCH");

	/* another role granting the same read without a list lifts the limit */
	snprintf(f->who.roles[f->who.nroles++], AUTHN_ROLE_NAME_MAX, "researcher");
	vf_req(f, "GET", path, (const char *const[]){ "X-Purpose-Of-Use", "HRESCH", NULL }, NULL,
	    NULL, &r);
	assert_int_equal(r.status, 200);
	vf_resp_free(&r);
}

/* ---- search ---- */

static void test_search(void **state)
{
	struct vf *f = *state;
	char a[UTIL_ID_MAX], b[UTIL_ID_MAX], c[UTIL_ID_MAX];
	struct vf_resp r;
	struct vf_entry e;
	json_t *recs;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, a);
	vf_create(f, "{\"name\":\"Other Person\",\"ssn\":\"123456789\",\"visits\":2}", b);
	vf_create(f, "{\"name\":\"Third\",\"ssn\":\"555-65-4321\",\"mrn\":\"MR-0042\"}", c);

	/* any accepted spelling finds the canonical value */
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "123456789", NULL }, NULL, &r);
	assert_int_equal(r.status, 200);
	recs = json_object_get(r.json, "records");
	assert_int_equal(json_array_size(recs), 2);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.search");
	assert_string_equal(e.purpose, "TREAT");
	assert_non_null(strstr(e.detail, a));
	assert_non_null(strstr(e.detail, b));
	assert_non_null(strstr(e.detail, "\"query_field\":\"ssn\""));
	assert_null(strstr(e.detail, "6789"));

	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "mrn", "mr-0042", NULL }, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "records")), 2);
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "visits", "2", NULL }, NULL, &r);
	recs = json_object_get(r.json, "records");
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "id")), b);
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "111-22-3333", NULL }, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "records")), 0);
	vf_resp_free(&r);

	/* masked for the analyst */
	vf_as(f, "usr_ana", ANALYST);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "555-65-4321", NULL }, NULL, &r);
	recs = json_object_get(r.json, "records");
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(str_at(json_array_get(recs, 0), "fields", "ssn"), "***-**-4321");
	vf_resp_free(&r);

	/* bad queries name the field */
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "name", "Third", NULL }, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.message, "'name' is not searchable"));
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "height", "1", NULL }, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.message, "height"));
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "1", "mrn", "2", NULL }, NULL, &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);
	/* no field parameter: a listing now (test_list) */
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "12-ZQX7MARK", NULL }, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_null(strstr(r.message, "ZQX7MARK"));
	vf_resp_free(&r);
}

/* ---- listing ---- */

/* One page; returns its next_cursor (copied into next, "" for null). */
static size_t list_page(struct vf *f, const char *const *query, char ids[][UTIL_ID_MAX],
    size_t have, char *next, size_t nextlen)
{
	struct vf_resp r;
	json_t *recs, *rec, *nc;
	size_t i;

	vf_req(f, "GET", "/v1/collections/patients/records", TREAT, query, NULL, &r);
	assert_int_equal(r.status, 200);
	recs = json_object_get(r.json, "records");
	json_array_foreach(recs, i, rec) {
		const char *id = json_string_value(json_object_get(rec, "id"));

		for (size_t k = 0; k < have; k++)
			assert_string_not_equal(ids[k], id);   /* no duplicates across pages */
		snprintf(ids[have++], UTIL_ID_MAX, "%s", id);
		/* masked as for a read: the analyst holds no unmask */
		assert_string_equal(str_at(rec, "fields", "ssn"), "***-**-6789");
	}
	nc = json_object_get(r.json, "next_cursor");
	assert_true(json_is_string(nc) || json_is_null(nc));
	snprintf(next, nextlen, "%s", json_is_string(nc) ? json_string_value(nc) : "");
	vf_resp_free(&r);
	return have;
}

static void test_list(void **state)
{
	struct vf *f = *state;
	char ids[16][UTIL_ID_MAX], made[7][UTIL_ID_MAX], next[128], bad[128];
	struct vf_resp r;
	struct vf_entry e;
	size_t n = 0;
	int lists;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	for (size_t i = 0; i < 7; i++)
		vf_create(f, REC1, made[i]);
	vf_as(f, "usr_andy", ANALYST);
	lists = vf_count(f, "record.list");
	n = list_page(f, (const char *const[]){ "limit", "3", NULL }, ids, n, next, sizeof(next));
	assert_int_equal(n, 3);
	assert_true(next[0] != '\0');
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.list");
	assert_string_equal(e.outcome, "allowed");
	assert_string_equal(e.purpose, "TREAT");
	assert_string_equal(e.resource, "collections/patients/records");
	assert_non_null(strstr(e.detail, "\"count\":3"));
	assert_null(strstr(e.detail, "6789"));
	n = list_page(f, (const char *const[]){ "limit", "3", "cursor", next, NULL }, ids, n,
	    next, sizeof(next));
	assert_int_equal(n, 6);
	assert_true(next[0] != '\0');
	n = list_page(f, (const char *const[]){ "cursor", next, "limit", "3", NULL }, ids, n,
	    next, sizeof(next));
	assert_int_equal(n, 7);
	assert_string_equal(next, "");
	assert_int_equal(vf_count(f, "record.list"), lists + 3);   /* one entry a page */
	/* every record created, in ID order */
	for (size_t i = 0; i < 7; i++) {
		bool seen = false;

		for (size_t k = 0; k < 7; k++)
			seen = seen || strcmp(made[i], ids[k]) == 0;
		assert_true(seen);
		if (i > 0)
			assert_true(strcmp(ids[i - 1], ids[i]) < 0);
	}
	/* the default page holds all 7 */
	n = list_page(f, NULL, ids + 8, 0, next, sizeof(next));
	assert_int_equal(n, 7);
	assert_string_equal(next, "");

	/* refusals: tampered cursor, limits, no purpose */
	n = list_page(f, (const char *const[]){ "limit", "1", NULL }, ids + 8, 0, next,
	    sizeof(next));
	snprintf(bad, sizeof(bad), "%s", next);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
	{
		const char *const bads[] = { bad, "!!!", "cmVjXw", "Zm9v", "" };

		for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
			vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
			    (const char *const[]){ "cursor", bads[i], NULL }, NULL, &r);
			assert_int_equal(r.status, 400);
			assert_string_equal(r.code, "invalid_request");
			vf_resp_free(&r);
		}
	}
	{
		const char *const limits[] = { "0", "501", "-1", "abc", "1e2", "" };

		for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
			vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
			    (const char *const[]){ "limit", limits[i], NULL }, NULL, &r);
			assert_int_equal(r.status, 400);
			assert_string_equal(r.code, "invalid_request");
			vf_resp_free(&r);
		}
	}
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "limit", "500", NULL }, NULL, &r);
	assert_int_equal(r.status, 200);
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", NULL,
	    (const char *const[]){ "limit", "3", NULL }, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "purpose_required");
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.list");
	assert_string_equal(e.outcome, "denied");
	/* the clinician sees the same page unmasked */
	vf_as(f, "usr_clin", CLINICIAN);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "limit", "1", NULL }, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(str_at(json_array_get(json_object_get(r.json, "records"), 0), "fields",
	    "ssn"), "123-45-6789");
	vf_resp_free(&r);
}

/* ---- update and delete ---- */

struct row_probe {
	int64_t deleted;
	bool dek_null;
	bool ct_null;
	int index_rows;
};

static void probe(struct vf *f, const char *id, struct row_probe *p)
{
	struct store_record rec;

	memset(p, 0, sizeof(*p));
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", id, &rec)), PV_OK);
	p->deleted = rec.deleted_ms;
	p->dek_null = rec.wrapped_dek == NULL;
	p->ct_null = rec.ciphertext == NULL;
	store_record_clear(&rec);
}

static void test_patch(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	struct vf_resp r;
	struct vf_entry e;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, id);
	uri(path, sizeof(path), id);

	vf_req(f, "PATCH", path, NULL, NULL, "{\"ssn\":\"222-33-4444\",\"email\":null}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.update");
	assert_non_null(strstr(e.detail, "\"email\""));
	assert_null(strstr(e.detail, "4444"));

	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
	assert_string_equal(str_at(r.json, "fields", "ssn"), "222-33-4444");
	assert_string_equal(str_at(r.json, "fields", "name"), "Zebediah Quuxworth");
	assert_null(json_object_get(json_object_get(r.json, "fields"), "email"));
	vf_resp_free(&r);

	/* the index follows: old value gone, new value found */
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "123-45-6789", NULL }, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "records")), 0);
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "222334444", NULL }, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "records")), 1);
	vf_resp_free(&r);
	/* untouched searchable fields still found */
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "mrn", "MR-0042", NULL }, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "records")), 1);
	vf_resp_free(&r);
	/* removing a searchable field removes its entry */
	vf_req(f, "PATCH", path, NULL, NULL, "{\"mrn\":null}", &r);
	assert_int_equal(r.status, 200);
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "mrn", "MR-0042", NULL }, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "records")), 0);
	vf_resp_free(&r);

	vf_req(f, "PATCH", path, NULL, NULL, "{\"nope\":1}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.message, "nope"));
	vf_resp_free(&r);
	vf_req(f, "PATCH", path, NULL, NULL, "{}", &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);
	vf_req(f, "PATCH", "/v1/collections/patients/records/rec_aaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
	    NULL, "{\"mrn\":\"B2\"}", &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
}

/* PATCH honours If-Match (412 precondition_failed, nothing changed, denial
 * audited); every single-record response carries ETag: "<version>". */
static void test_patch_if_match(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	struct vf_resp r;
	struct vf_entry e;
	int updates;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL, REC1, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.etag, "\"1\"");
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
	vf_resp_free(&r);
	uri(path, sizeof(path), id);
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.etag, "\"1\"");
	vf_resp_free(&r);

	/* the quoted form, as a client echoes the ETag */
	vf_req(f, "PATCH", path, (const char *const[]){ "If-Match", "\"1\"", NULL }, NULL,
	    "{\"mrn\":\"B1\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.etag, "\"2\"");
	vf_resp_free(&r);
	/* the bare form */
	vf_req(f, "PATCH", path, (const char *const[]){ "If-Match", "2", NULL }, NULL,
	    "{\"mrn\":\"B2\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.etag, "\"3\"");
	vf_resp_free(&r);
	/* *: any current version */
	vf_req(f, "PATCH", path, (const char *const[]){ "If-Match", "*", NULL }, NULL,
	    "{\"mrn\":\"B3\"}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 4);
	vf_resp_free(&r);

	/* a stale version: 412, nothing changed, the denial recorded */
	updates = vf_count(f, "record.update");
	vf_req(f, "PATCH", path, (const char *const[]){ "If-Match", "\"2\"", NULL }, NULL,
	    "{\"mrn\":\"STALE\"}", &r);
	assert_int_equal(r.status, 412);
	assert_string_equal(r.code, "precondition_failed");
	assert_string_equal(r.etag, "");
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.update");
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "precondition_failed");
	assert_int_equal(vf_count(f, "record.update"), updates + 1);
	/* a weak tag never matches; junk is a bad request */
	vf_req(f, "PATCH", path, (const char *const[]){ "If-Match", "W/\"4\"", NULL }, NULL,
	    "{\"mrn\":\"WEAK\"}", &r);
	assert_int_equal(r.status, 412);
	vf_resp_free(&r);
	vf_req(f, "PATCH", path, (const char *const[]){ "If-Match", "\"4\", \"5\"", NULL }, NULL,
	    "{\"mrn\":\"LIST\"}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "invalid_request");
	vf_resp_free(&r);
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 4);
	assert_string_equal(str_at(r.json, "fields", "mrn"), "B3");
	assert_string_equal(r.etag, "\"4\"");
	vf_resp_free(&r);
}

/* The If-Match compare is the store's, inside the write transaction: a job
 * built against version 1 of a record that is at version 2 meanwhile is
 * refused (412 under If-Match, 409 without) and stores nothing. */
static void test_if_match_atomic(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	struct vault_write_job *j = calloc(1, sizeof(*j));
	struct store_record cur;
	struct vf_resp r;

	assert_non_null(j);
	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, id);
	uri(path, sizeof(path), id);
	vf_req(f, "PATCH", path, NULL, NULL, "{\"mrn\":\"B1\"}", &r);   /* now v2 */
	assert_int_equal(r.status, 200);
	vf_resp_free(&r);
	/* a writer that read v1 before that PATCH committed */
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", id, &cur)), PV_OK);
	j->rec = cur;
	j->rec.version = 2;
	j->expected_version = 1;
	j->if_match = true;
	assert_int_equal(TX_WR(f->st, vault_write_fn(tx, j)), PV_E_PRECONDITION);
	j->if_match = false;
	assert_int_equal(TX_WR(f->st, vault_write_fn(tx, j)), PV_E_CONFLICT);
	vault_write_job_clear(j);
	free(j);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(TX_RD(f->st, store_record_get(tx, "patients", id, &cur)), PV_OK);
	assert_int_equal(cur.version, 2);
	store_record_clear(&cur);
}

static void test_delete_shreds(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	struct row_probe p;
	struct vf_resp r;
	struct vf_entry e;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, id);
	uri(path, sizeof(path), id);

	vf_req(f, "DELETE", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 204);
	assert_null(r.json);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.delete");
	assert_string_equal(e.outcome, "allowed");
	probe(f, id, &p);
	assert_true(p.deleted > 0);
	assert_true(p.dek_null);
	assert_true(p.ct_null);

	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.read");
	assert_string_equal(e.outcome, "error");
	assert_string_equal(e.reason, "not_found");
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "123-45-6789", NULL }, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "records")), 0);
	vf_resp_free(&r);
	vf_req(f, "DELETE", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
	vf_req(f, "PATCH", path, NULL, NULL, "{\"mrn\":\"X\"}", &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
}

/*
 * Record writes reply from their commit completion (issue 9 item 4): the
 * handler returns PV_PENDING, so with a pool the connection is suspended and
 * no thread waits for the fsync. The answers are those of a blocking write:
 * the ETag of the new version, 404 from inside the transaction, 503 with
 * nothing changed when the entry cannot be made durable.
 */
static void test_writes_reply_from_completion(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	struct row_probe p;
	struct vf_resp r;
	struct vf_entry e;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL, REC1, &r);
	assert_int_equal(r.status, 201);
	assert_true(r.pending);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
	vf_resp_free(&r);
	uri(path, sizeof(path), id);

	vf_req(f, "PATCH", path, (const char *const[]){ "If-Match", "1", NULL }, NULL,
	    "{\"mrn\":\"B1\"}", &r);
	assert_int_equal(r.status, 200);
	assert_true(r.pending);
	assert_string_equal(r.etag, "\"2\"");
	assert_string_equal(json_string_value(json_object_get(r.json, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
	vf_resp_free(&r);

	/* fail closed: the completion says PV_E_AUDIT, nothing changes */
	store_fault_set("audit_append", -1);
	vf_req(f, "PATCH", path, NULL, NULL, "{\"mrn\":\"LOST\"}", &r);
	assert_int_equal(r.status, 503);
	assert_true(r.pending);
	assert_string_equal(r.code, "audit_unavailable");
	assert_string_equal(r.etag, "");
	vf_resp_free(&r);
	vf_req(f, "DELETE", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 503);
	assert_true(r.pending);
	vf_resp_free(&r);
	store_fault_clear_all();
	probe(f, id, &p);
	assert_int_equal(p.deleted, 0);
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
	assert_string_equal(str_at(r.json, "fields", "mrn"), "B1");
	vf_resp_free(&r);

	vf_req(f, "DELETE", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 204);
	assert_true(r.pending);
	assert_null(r.json);
	vf_resp_free(&r);
	/* a second delete finds nothing inside its transaction: 404, an error entry */
	vf_req(f, "DELETE", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_true(r.pending);
	assert_string_equal(r.code, "not_found");
	assert_string_equal(r.message, "no such record");
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.delete");
	assert_string_equal(e.outcome, "error");
	assert_string_equal(e.reason, "not_found");
}

/* ---- fail closed ---- */

static void test_read_fails_closed(void **state)
{
	struct vf *f = *state;
	char id[UTIL_ID_MAX], path[128];
	struct vf_resp r;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_create(f, REC1, id);
	uri(path, sizeof(path), id);

	store_fault_set("audit_append", -1);
	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.code, "audit_unavailable");
	assert_null(strstr(r.body, "Quuxworth"));
	assert_null(strstr(r.body, "6789"));
	assert_null(json_object_get(r.json, "fields"));
	vf_resp_free(&r);
	vf_req(f, "GET", "/v1/collections/patients/records", TREAT,
	    (const char *const[]){ "ssn", "123-45-6789", NULL }, NULL, &r);
	assert_int_equal(r.status, 503);
	assert_null(strstr(r.body, "Quuxworth"));
	vf_resp_free(&r);
	/* writes too: nothing stored without its entry */
	vf_req(f, "POST", "/v1/collections/patients/records", NULL, NULL, REC1, &r);
	assert_int_equal(r.status, 503);
	vf_resp_free(&r);
	vf_req(f, "DELETE", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 503);
	vf_resp_free(&r);
	store_fault_clear_all();

	vf_req(f, "GET", path, TREAT, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(str_at(r.json, "fields", "name"), "Zebediah Quuxworth");
	vf_resp_free(&r);
}

/* ---- batch ---- */

static void test_batch(void **state)
{
	struct vf *f = *state;
	char a[UTIL_ID_MAX], body[1024];
	struct vf_resp r;
	json_t *res;
	int before;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	before = vf_count(f, "record.create");
	vf_req(f, "POST", "/v1/collections/patients/records:batch", NULL, NULL,
	    "{\"create\":[{\"mrn\":\"B1\",\"ssn\":\"111-22-3333\"},{\"mrn\":\"B2\",\"bad\":1},"
	    "{\"mrn\":\"B3\"}]}", &r);
	assert_int_equal(r.status, 200);
	res = json_object_get(r.json, "results");
	assert_int_equal(json_array_size(res), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 0), "status")), 201);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 1), "status")), 400);
	assert_non_null(strstr(str_at(json_array_get(res, 1), "error", "message"), "bad"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 2), "status")), 201);
	snprintf(a, sizeof(a), "%s", json_string_value(json_object_get(json_array_get(res, 0), "id")));
	vf_resp_free(&r);
	assert_int_equal(vf_count(f, "record.create"), before + 3);   /* one per record */

	before = vf_count(f, "record.read");
	snprintf(body, sizeof(body), "{\"read\":[\"%s\",\"rec_aaaaaaaaaaaaaaaaaaaaaaaaaa\",7]}", a);
	vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 200);
	res = json_object_get(r.json, "results");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 0), "status")), 200);
	assert_string_equal(str_at(json_array_get(res, 0), "fields", "ssn"), "111-22-3333");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 1), "status")), 404);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 2), "status")), 400);
	vf_resp_free(&r);
	assert_int_equal(vf_count(f, "record.read"), before + 3);

	/* reads need a purpose; masking applies */
	vf_req(f, "POST", "/v1/collections/patients/records:batch", NULL, NULL, body, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "purpose_required");
	vf_resp_free(&r);
	vf_as(f, "usr_ana", ANALYST);
	vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL, body, &r);
	res = json_object_get(r.json, "results");
	assert_string_equal(str_at(json_array_get(res, 0), "fields", "ssn"), "***-**-3333");
	vf_resp_free(&r);
	/* the analyst may not create */
	before = vf_count(f, "record.create");
	vf_req(f, "POST", "/v1/collections/patients/records:batch", NULL, NULL,
	    "{\"create\":[{\"mrn\":\"B9\"}]}", &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
	assert_int_equal(vf_count(f, "record.create"), before + 1);   /* the denial */
	/* nor may an admin read */
	vf_as(f, "usr_admin", ADMIN);
	vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
	/* a restricted session gets nothing */
	vf_as(f, "usr_clin", CLINICIAN);
	f->who.restricted = true;
	f->who.restrict_flags = AUTHN_RESTRICT_PASSWORD_CHANGE;
	vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body, "3333"));
	vf_resp_free(&r);
	f->who.restricted = false;
	f->who.restrict_flags = 0;

	/* shape and size */
	vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL,
	    "{\"read\":[],\"create\":[]}", &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL, "{\"read\":[]}", &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);
	{
		char big[4096] = "{\"read\":[";

		for (int i = 0; i < 101; i++)
			strcat(big, i ? ",\"x\"" : "\"x\"");
		strcat(big, "]}");
		vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL, big, &r);
		assert_int_equal(r.status, 400);
		vf_resp_free(&r);
	}

	/* a read whose entry is not durable returns no data for that record */
	store_fault_set("audit_append", -1);
	vf_req(f, "POST", "/v1/collections/patients/records:batch", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 200);
	res = json_object_get(r.json, "results");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 0), "status")), 503);
	assert_null(strstr(r.body, "3333"));
	vf_resp_free(&r);
	store_fault_clear_all();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, vf_setup, vf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_collection_create),
		T(test_create_and_read),
		T(test_create_refusals),
		T(test_purpose_required),
		T(test_role_purposes),
		T(test_search),
		T(test_list),
		T(test_patch),
		T(test_patch_if_match),
		T(test_if_match_atomic),
		T(test_delete_shreds),
		T(test_writes_reply_from_completion),
		T(test_read_fails_closed),
		T(test_batch),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
