/*
 * SCIM 2.0 (issue 16 item 1) on the real binary over HTTPS: a conformance
 * test of our own for every endpoint and error of RFC 7644 that phivault
 * uses, and the Entra ID quirks.
 *  - auth: an app holding scim.provision (custom role) with a pva_ token;
 *    no token 401, an app without the verb 403, both as SCIM errors;
 *  - discovery: ServiceProviderConfig, Schemas, ResourceTypes;
 *  - Users: create (201, Location, ETag, meta.location from public_url),
 *    409 uniqueness on userName whatever its case, 400s (bad userName,
 *    unknown attribute, no schemas, password, wrong content type, bad
 *    JSON), get, 404, list with every filter operator, and/or/not and
 *    precedence, value paths, the enterprise URN, invalid filters,
 *    pagination, attributes/excludedAttributes, PUT, PATCH add/replace/
 *    remove with and without path, path filters, DELETE (a disable);
 *  - Entra quirks: "Replace"/"Add"/"Remove", active "False", PATCH without
 *    path and URN-qualified keys, emails[type eq "work"].value creating
 *    the element, members removal with a value list;
 *  - active=false ends a live session at once (the next request is 401);
 *  - enterprise department reaches a policy condition (403 -> 200);
 *  - Groups: create with members, 409, get, list, filter on members, PATCH
 *    add/remove, PUT, rename refused, non-user member refused, DELETE;
 *  - every change is audited by the directory with the app as actor; no
 *    e-mail address or name in the server log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* a string that is there and equal (a missing one fails the CHECK, not the process) */
#define JEQ(x, lit) ((x) != NULL && strcmp((x), (lit)) == 0)

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_AUD "Copper-meadow-Violin-73"
#define PW_W "Amber-willow-Kettle-58"
#define PW_R "Slate-river-Comet-26"
#define PW_C "Olive-canyon-Harp-44"
#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define USER_URN "urn:ietf:params:scim:schemas:core:2.0:User"
#define GROUP_URN "urn:ietf:params:scim:schemas:core:2.0:Group"
#define PATCH_URN "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define ERR_URN "urn:ietf:params:scim:api:messages:2.0:Error"

static const char *SCIM_CT[] = { "Content-Type: application/scim+json", NULL };
static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };
static char tok[128];      /* the provisioning app's token */

/* A SCIM request as an IdP sends it (application/scim+json body). */
static void
scim(struct h_server *s, const char *method, const char *path, const char *body,
    struct h_resp *r)
{
	h_req(s, method, path, tok, body, body != NULL ? SCIM_CT : NULL, r);
}

/* The SCIM error form with this status and scimType (NULL: none). */
static void
check_error(struct h_resp *r, int status, const char *type)
{
	char st[8];

	CHECK_STATUS(r, status);
	CHECK(h_has_header(r, "Content-Type: application/scim+json"));
	snprintf(st, sizeof(st), "%d", status);
	CHECK(r->json != NULL);
	CHECK(JEQ(json_string_value(json_array_get(json_object_get(r->json, "schemas"), 0)),
	    ERR_URN));
	CHECK(h_jstr(r->json, "status") != NULL && strcmp(h_jstr(r->json, "status"), st) == 0);
	CHECK(h_jstr(r->json, "detail") != NULL);
	if (type != NULL)
		CHECK(h_jstr(r->json, "scimType") != NULL &&
		    strcmp(h_jstr(r->json, "scimType"), type) == 0);
}

static void
expect_error(struct h_server *s, const char *method, const char *path, const char *body,
    int status, const char *type)
{
	struct h_resp r;

	scim(s, method, path, body, &r);
	check_error(&r, status, type);
	h_resp_free(&r);
}

/* The totalResults of GET /scim/v2/<what>?filter=<url-encoded filter>. */
static long
total(struct h_server *s, const char *what, const char *filter_enc)
{
	char path[2048];
	struct h_resp r;
	long n;

	snprintf(path, sizeof(path), "/scim/v2/%s%s%s", what, filter_enc ? "?filter=" : "",
	    filter_enc ? filter_enc : "");
	scim(s, "GET", path, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(JEQ(json_string_value(json_array_get(json_object_get(r.json, "schemas"), 0)),
	    "urn:ietf:params:scim:api:messages:2.0:ListResponse"));
	n = (long)json_integer_value(json_object_get(r.json, "totalResults"));
	h_resp_free(&r);
	return n;
}

/* POST /scim/v2/Users: 201; the new id in id. */
static void
create_user(struct h_server *s, const char *body, char id[64])
{
	struct h_resp r;

	scim(s, "POST", "/scim/v2/Users", body, &r);
	CHECK_STATUS(&r, 201);
	CHECK(strncmp(h_jstr(r.json, "id"), "usr_", 4) == 0);
	snprintf(id, 64, "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
}

/* phivault's own view of a user (GET /v1/users/{id}, the admin). */
static json_t *
v1_user(struct h_server *s, const char *admin, const char *id)
{
	char path[128];
	struct h_resp r;
	json_t *j;

	snprintf(path, sizeof(path), "/v1/users/%s", id);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	j = json_incref(r.json);
	h_resp_free(&r);
	return j;
}

static int
audit_count(struct h_server *s, const char *aud, const char *action, const char *actor)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = "allowed",
	    .actor_user = actor });
}

static int
denied_count(struct h_server *s, const char *aud, const char *action, const char *actor,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = "denied",
	    .reason = reason, .actor_user = actor });
}

static void
app_token(struct h_server *s, const char *admin, const char *name, const char *role,
    char app[64], char out[128])
{
	char body[512], path[128];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"roles\":[\"%s\"],\"networks\":"
	    "[\"127.0.0.0/8\"]}", name, role);
	h_app_create(s, admin, body, app, 64);
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	h_req(s, "POST", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", app,
	    h_jstr(r.json, "secret"));
	h_resp_free(&r);
	h_req(s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, 128, "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
}

static void
test_auth_and_discovery(struct h_server *s, const char *other)
{
	struct h_resp r;

	h_req(s, "GET", "/scim/v2/Users", NULL, NULL, NULL, &r);
	check_error(&r, 401, NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/scim/v2/Users", other, NULL, NULL, &r);
	check_error(&r, 403, NULL);
	h_resp_free(&r);
	h_req(s, "POST", "/scim/v2/Users", other, "{}", SCIM_CT, &r);
	check_error(&r, 403, NULL);
	h_resp_free(&r);
	/* an unrouted SCIM path is a SCIM 404 too */
	expect_error(s, "GET", "/scim/v2/Nothing", NULL, 404, NULL);

	scim(s, "GET", "/scim/v2/ServiceProviderConfig", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: application/scim+json"));
	CHECK(json_is_true(json_object_get(json_object_get(r.json, "patch"), "supported")));
	CHECK(json_is_true(json_object_get(json_object_get(r.json, "filter"), "supported")));
	CHECK(json_integer_value(json_object_get(json_object_get(r.json, "filter"),
	    "maxResults")) == 200);
	CHECK(json_is_false(json_object_get(json_object_get(r.json, "bulk"), "supported")));
	h_resp_free(&r);
	scim(s, "GET", "/scim/v2/Schemas", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "totalResults")) == 3);
	CHECK(strstr(r.body, ENT) != NULL && strstr(r.body, "\"department\"") != NULL);
	h_resp_free(&r);
	scim(s, "GET", "/scim/v2/ResourceTypes", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "totalResults")) == 2);
	CHECK(strstr(r.body, "\"/Users\"") != NULL && strstr(r.body, "\"/Groups\"") != NULL);
	h_resp_free(&r);
}

static void
test_create(struct h_server *s, const char *admin, char alice[64])
{
	struct h_resp r;
	json_t *u, *ent;

	scim(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\",\"" ENT "\"],"
	    "\"userName\":\"Alice.Smith\",\"externalId\":\"ext-1\","
	    "\"name\":{\"givenName\":\"Alice\",\"familyName\":\"Smith\"},"
	    "\"displayName\":\"Alice Smith\",\"title\":\"Nurse\",\"active\":true,"
	    "\"emails\":[{\"value\":\"alice@hospital.test\",\"type\":\"work\",\"primary\":true}],"
	    "\"" ENT "\":{\"department\":\"oncology\",\"employeeNumber\":\"77\","
	    "\"manager\":{\"value\":\"usr_boss\"}}}", &r);
	CHECK_STATUS(&r, 201);
	CHECK(h_has_header(&r, "Content-Type: application/scim+json"));
	snprintf(alice, 64, "%s", h_jstr(r.json, "id"));
	CHECK(strncmp(alice, "usr_", 4) == 0);
	CHECK(JEQ(h_jstr(r.json, "userName"), "alice.smith"));
	CHECK(JEQ(h_jstr(r.json, "externalId"), "ext-1"));
	CHECK(JEQ(h_jstr(json_object_get(r.json, "name"), "givenName"), "Alice"));
	CHECK(json_is_true(json_object_get(r.json, "active")));
	CHECK(json_object_get(r.json, "title") == NULL);            /* dropped, documented */
	CHECK(json_object_get(r.json, "password") == NULL);
	ent = json_object_get(r.json, ENT);
	CHECK(JEQ(h_jstr(ent, "department"), "oncology"));
	CHECK(JEQ(h_jstr(json_object_get(ent, "manager"), "value"), "usr_boss"));
	CHECK(strncmp(h_jstr(json_object_get(r.json, "meta"), "location"),
	    "https://vault.example.org:8443/scim/v2/Users/usr_", 49) == 0);
	CHECK(JEQ(h_jstr(json_object_get(r.json, "meta"), "resourceType"), "User"));
	CHECK(h_has_header(&r, "Location: https://vault.example.org:8443/scim/v2/Users/usr_"));
	CHECK(h_has_header(&r, "ETag: W/\""));
	CHECK(strncmp(h_jstr(json_object_get(r.json, "meta"), "version"), "W/\"", 3) == 0);
	h_resp_free(&r);
	/* phivault's view: the attributes policies read, the email */
	u = v1_user(s, admin, alice);
	CHECK(JEQ(h_jstr(json_object_get(u, "attributes"), "department"), "oncology"));
	CHECK(JEQ(h_jstr(json_object_get(u, "attributes"), "manager"), "usr_boss"));
	CHECK(JEQ(h_jstr(u, "email"), "alice@hospital.test"));
	CHECK(JEQ(h_jstr(u, "display_name"), "Alice Smith"));
	CHECK(json_array_size(json_object_get(u, "roles")) == 0);
	json_decref(u);

	/* 409 uniqueness, whatever the case of userName */
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],"
	    "\"userName\":\"ALICE.SMITH\"}", 409, "uniqueness");
	/* 400s: nothing is made */
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],"
	    "\"userName\":\"bad name\"}", 400, "invalidValue");
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],"
	    "\"displayName\":\"No Name\"}", 400, "invalidValue");
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],"
	    "\"userName\":\"eve\",\"favouriteColour\":\"red\"}", 400, "invalidSyntax");
	expect_error(s, "POST", "/scim/v2/Users", "{\"userName\":\"eve\"}", 400, "invalidSyntax");
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],"
	    "\"userName\":\"eve\",\"password\":\"Hunter-2-Hunter-2\"}", 400, "invalidValue");
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],"
	    "\"userName\":\"eve\",\"active\":\"maybe\"}", 400, "invalidValue");
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],"
	    "\"userName\":\"eve\",\"emails\":[{\"value\":\"not-an-address\"}]}", 400,
	    "invalidValue");
	expect_error(s, "POST", "/scim/v2/Users", "{\"schemas\":[", 400, "invalidSyntax");
	{
		static const char *text[] = { "Content-Type: text/plain", NULL };

		h_req(s, "POST", "/scim/v2/Users", tok, "{\"schemas\":[\"" USER_URN "\"],"
		    "\"userName\":\"eve\"}", text, &r);
		check_error(&r, 400, NULL);
		h_resp_free(&r);
	}
	/* application/json is accepted too */
	h_req(s, "POST", "/scim/v2/Users", tok, "{\"schemas\":[\"" USER_URN "\"],"
	    "\"userName\":\"bob.jones\",\"externalId\":\"ext-2\",\"displayName\":\"Bob Jones\","
	    "\"emails\":[{\"value\":\"bob@hospital.test\",\"type\":\"work\"}],"
	    "\"" ENT "\":{\"department\":\"radiology\"}}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	CHECK(total(s, "Users", "userName%20eq%20%22eve%22") == 0);   /* no 400 made one */

	/* get, 404 */
	{
		char path[128];

		snprintf(path, sizeof(path), "/scim/v2/Users/%s", alice);
		scim(s, "GET", path, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(JEQ(h_jstr(r.json, "id"), alice));
		CHECK(h_has_header(&r, "ETag: W/\""));
		h_resp_free(&r);
	}
	expect_error(s, "GET", "/scim/v2/Users/usr_00000000000000000000000000", NULL, 404, NULL);
	expect_error(s, "GET", "/scim/v2/Users/garbage", NULL, 404, NULL);
}

static void
test_filters(struct h_server *s, const char *carol, const char *dave)
{
	long all = total(s, "Users", NULL);
	char f[512];
	struct h_resp r;

	(void)carol;
	(void)dave;
	CHECK(all >= 5);
	/* eq on userName is case-insensitive (RFC 7643 4.1.1) */
	CHECK(total(s, "Users", "userName%20eq%20%22ALICE.SMITH%22") == 1);
	/* externalId is case-exact */
	CHECK(total(s, "Users", "externalId%20eq%20%22ext-2%22") == 1);
	CHECK(total(s, "Users", "externalId%20eq%20%22EXT-2%22") == 0);
	CHECK(total(s, "Users", "userName%20ne%20%22alice.smith%22") == all - 1);
	CHECK(total(s, "Users", "userName%20co%20%22smi%22") == 1);
	CHECK(total(s, "Users", "userName%20sw%20%22BO%22") == 1);
	CHECK(total(s, "Users", "userName%20ew%20%22jones%22") == 1);
	CHECK(total(s, "Users", "externalId%20pr") == 4);
	CHECK(total(s, "Users", "userName%20ge%20%22carol%22%20and%20userName%20lt%20%22dave%22")
	    == 1);
	CHECK(total(s, "Users", "userName%20gt%20%22audra%22%20and%20userName%20le%20"
	    "%22bob.jones%22") == 1);
	/* precedence: and binds tighter than or: alice or (bob and inactive) */
	CHECK(total(s, "Users", "userName%20eq%20%22alice.smith%22%20or%20userName%20eq%20"
	    "%22bob.jones%22%20and%20active%20eq%20false") == 1);
	CHECK(total(s, "Users", "(userName%20eq%20%22alice.smith%22%20or%20userName%20eq%20"
	    "%22bob.jones%22)%20and%20active%20eq%20false") == 0);
	CHECK(total(s, "Users", "not%20(active%20eq%20true)") == 1);   /* dave */
	CHECK(total(s, "Users", "active%20eq%20false%20and%20not%20(userName%20eq%20%22dave%22)")
	    == 0);
	/* value path and the enterprise URN */
	CHECK(total(s, "Users", "emails%5Btype%20eq%20%22work%22%20and%20value%20co%20"
	    "%22alice%22%5D") == 1);
	CHECK(total(s, "Users", "emails%5Btype%20eq%20%22home%22%5D") == 1);   /* carol */
	CHECK(total(s, "Users", "emails.value%20eq%20%22BOB%40hospital.test%22") == 1);
	CHECK(total(s, "Users", ENT ":department%20eq%20%22radiology%22") == 1);
	CHECK(total(s, "Users", "name.familyName%20eq%20%22Smith%22") == 1);
	CHECK(total(s, "Users", "userName%20eq%20%22a%5C%22b%22") == 0);   /* escape */
	/* invalid filters */
	expect_error(s, "GET", "/scim/v2/Users?filter=userName%20eq", NULL, 400, "invalidFilter");
	expect_error(s, "GET", "/scim/v2/Users?filter=foo%20eq%20%22x%22", NULL, 400,
	    "invalidFilter");
	expect_error(s, "GET", "/scim/v2/Users?filter=userName%20zz%20%22x%22", NULL, 400,
	    "invalidFilter");
	expect_error(s, "GET", "/scim/v2/Users?filter=active%20gt%20true", NULL, 400,
	    "invalidFilter");
	expect_error(s, "GET", "/scim/v2/Users?filter=(userName%20pr", NULL, 400, "invalidFilter");
	expect_error(s, "GET", "/scim/v2/Users?filter=userName%20pr%20junk", NULL, 400,
	    "invalidFilter");
	/* the detail never echoes the filter */
	scim(s, "GET", "/scim/v2/Users?filter=secretword%20eq%20%22x%22", NULL, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strstr(r.body, "secretword") == NULL);
	h_resp_free(&r);

	/* pagination: 1-based startIndex, count, totalResults */
	scim(s, "GET", "/scim/v2/Users?startIndex=1&count=2", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "totalResults")) == all);
	CHECK(json_integer_value(json_object_get(r.json, "itemsPerPage")) == 2);
	CHECK(json_integer_value(json_object_get(r.json, "startIndex")) == 1);
	CHECK(json_array_size(json_object_get(r.json, "Resources")) == 2);
	h_resp_free(&r);
	snprintf(f, sizeof(f), "/scim/v2/Users?startIndex=%ld&count=10", all);
	scim(s, "GET", f, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "Resources")) == 1);
	h_resp_free(&r);
	scim(s, "GET", "/scim/v2/Users?count=0", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "Resources")) == 0);
	CHECK(json_integer_value(json_object_get(r.json, "totalResults")) == all);
	h_resp_free(&r);
	scim(s, "GET", "/scim/v2/Users?count=100000", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK((long)json_array_size(json_object_get(r.json, "Resources")) == all);
	h_resp_free(&r);
	expect_error(s, "GET", "/scim/v2/Users?count=many", NULL, 400, "invalidValue");
	/* attributes / excludedAttributes */
	scim(s, "GET", "/scim/v2/Users?filter=userName%20eq%20%22alice.smith%22"
	    "&attributes=userName", NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		json_t *u = json_array_get(json_object_get(r.json, "Resources"), 0);

		CHECK(h_jstr(u, "id") != NULL && h_jstr(u, "userName") != NULL);
		CHECK(json_object_get(u, "emails") == NULL && json_object_get(u, "name") == NULL);
	}
	h_resp_free(&r);
	scim(s, "GET", "/scim/v2/Users?filter=userName%20eq%20%22alice.smith%22"
	    "&excludedAttributes=emails,name", NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		json_t *u = json_array_get(json_object_get(r.json, "Resources"), 0);

		CHECK(json_object_get(u, "emails") == NULL && json_object_get(u, "name") == NULL);
		CHECK(h_jstr(u, "userName") != NULL);
	}
	h_resp_free(&r);
}

static void
test_put_patch(struct h_server *s, const char *admin, const char *alice, const char *carol)
{
	char path[128], cpath[128];
	struct h_resp r;
	json_t *u, *emails;

	snprintf(path, sizeof(path), "/scim/v2/Users/%s", alice);
	snprintf(cpath, sizeof(cpath), "/scim/v2/Users/%s", carol);
	/* PUT replaces: the enterprise extension gone, new address */
	scim(s, "PUT", path, "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"alice.smith\","
	    "\"externalId\":\"ext-1\",\"displayName\":\"Alice Smith-Jones\",\"active\":true,"
	    "\"emails\":[{\"value\":\"asj@hospital.test\",\"type\":\"work\"}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(JEQ(h_jstr(r.json, "displayName"), "Alice Smith-Jones"));
	CHECK(json_object_get(r.json, ENT) == NULL);
	h_resp_free(&r);
	u = v1_user(s, admin, alice);
	CHECK(json_object_get(json_object_get(u, "attributes"), "department") == NULL);
	CHECK(JEQ(h_jstr(u, "email"), "asj@hospital.test"));
	json_decref(u);
	expect_error(s, "PUT", path, "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"alice2\"}",
	    400, "mutability");
	expect_error(s, "PUT", "/scim/v2/Users/usr_00000000000000000000000000",
	    "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"x\"}", 404, NULL);

	/* PATCH replace with a path */
	scim(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"Alice S.\"}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(JEQ(h_jstr(r.json, "displayName"), "Alice S."));
	h_resp_free(&r);
	/* add to a multi-valued attribute, then remove through a path filter */
	scim(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"value\":\"a@home.test\","
	    "\"type\":\"home\"}]}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "emails")) == 2);
	h_resp_free(&r);
	scim(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"remove\",\"path\":\"emails[type eq \\\"home\\\"]\"}]}", &r);
	CHECK_STATUS(&r, 200);
	emails = json_object_get(r.json, "emails");
	CHECK(json_array_size(emails) == 1);
	CHECK(JEQ(h_jstr(json_array_get(emails, 0), "type"), "work"));
	h_resp_free(&r);
	/* remove a sub-attribute with a plain path, add without a path */
	scim(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"add\",\"value\":{\"name\":{\"givenName\":\"Al\",\"familyName\":\"Smith\"},"
	    "\"" ENT "\":{\"department\":\"cardiology\"}}},"
	    "{\"op\":\"remove\",\"path\":\"name.familyName\"}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(JEQ(h_jstr(json_object_get(r.json, "name"), "givenName"), "Al"));
	CHECK(json_object_get(json_object_get(r.json, "name"), "familyName") == NULL);
	CHECK(JEQ(h_jstr(json_object_get(r.json, ENT), "department"), "cardiology"));
	h_resp_free(&r);

	/* Entra ID: "Replace" with no path and URN-qualified keys; the work email by value path */
	scim(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"Replace\",\"value\":{\"displayName\":\"Alice E.\",\"" ENT
	    ":department\":\"neurology\",\"" ENT ":manager\":\"usr_chief\"}},"
	    "{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"work\\\"].value\","
	    "\"value\":\"alice.e@hospital.test\"},"
	    "{\"op\":\"Add\",\"path\":\"title\",\"value\":\"Charge nurse\"}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(JEQ(h_jstr(r.json, "displayName"), "Alice E."));
	CHECK(JEQ(h_jstr(json_object_get(r.json, ENT), "department"), "neurology"));
	CHECK(JEQ(h_jstr(json_object_get(json_object_get(r.json, ENT), "manager"), "value"),
	    "usr_chief"));
	h_resp_free(&r);
	u = v1_user(s, admin, alice);
	CHECK(JEQ(h_jstr(u, "email"), "alice.e@hospital.test"));
	CHECK(JEQ(h_jstr(json_object_get(u, "attributes"), "manager"), "usr_chief"));
	json_decref(u);
	/* carol has a home address only: Entra's work value path creates the element */
	scim(s, "PATCH", cpath, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"Add\",\"path\":\"emails[type eq \\\"work\\\"].value\","
	    "\"value\":\"carol@hospital.test\"}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "emails")) == 2);
	CHECK(strstr(r.body, "\"carol@hospital.test\"") != NULL);
	h_resp_free(&r);
	/* a filter without an eq to build from, matching nothing: noTarget */
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"path\":\"emails[value co \\\"zzz\\\"].type\",\"value\":\"x\"}]}",
	    400, "noTarget");
	/* PATCH errors; nothing changes */
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"remove\"}]}", 400, "noTarget");
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"path\":\"shoeSize\",\"value\":\"9\"}]}", 400, "invalidPath");
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"path\":\"emails[type eq\",\"value\":\"x\"}]}", 400,
	    "invalidPath");
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"jump\",\"path\":\"displayName\",\"value\":\"x\"}]}", 400, "invalidSyntax");
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"path\":\"id\",\"value\":\"usr_x\"}]}", 400, "mutability");
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"path\":\"userName\",\"value\":\"mallory\"}]}", 400, "mutability");
	expect_error(s, "PATCH", path, "{\"Operations\":[{\"op\":\"replace\",\"path\":"
	    "\"displayName\",\"value\":\"x\"}]}", 400, "invalidSyntax");
	expect_error(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"Changed\"},"
	    "{\"op\":\"replace\",\"path\":\"nope\",\"value\":\"x\"}]}", 400, "invalidPath");
	scim(s, "GET", path, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(JEQ(h_jstr(r.json, "displayName"), "Alice E."));   /* all or nothing */
	h_resp_free(&r);
	expect_error(s, "PATCH", "/scim/v2/Users/usr_00000000000000000000000000",
	    "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":\"replace\",\"path\":"
	    "\"displayName\",\"value\":\"x\"}]}", 404, NULL);

	/* If-Match (RFC 7644 3.14): the current version passes, a stale one is 412 */
	{
		static const char *stale[] = { "Content-Type: application/scim+json",
			"If-Match: W/\"0000000000000000\"", NULL };
		const char *fresh[3] = { "Content-Type: application/scim+json", NULL, NULL };
		char im[96];

		scim(s, "GET", path, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(im, sizeof(im), "If-Match: %s", h_jstr(json_object_get(r.json, "meta"),
		    "version"));
		h_resp_free(&r);
		h_req(s, "PATCH", path, tok, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
		    "{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"Stale\"}]}", stale, &r);
		check_error(&r, 412, NULL);
		h_resp_free(&r);
		h_req(s, "DELETE", path, tok, NULL, stale + 1, &r);
		check_error(&r, 412, NULL);
		h_resp_free(&r);
		fresh[1] = im;
		h_req(s, "PATCH", path, tok, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
		    "{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"Alice E.\"}]}", fresh,
		    &r);
		CHECK_STATUS(&r, 200);
		CHECK(JEQ(h_jstr(r.json, "displayName"), "Alice E."));
		CHECK(json_is_true(json_object_get(r.json, "active")));
		h_resp_free(&r);
	}
}

/* active=false (Entra: the string "False") ends the user's live session at once. */
static void
test_leaver(struct h_server *s, const char *admin, const char *app, const char *aud)
{
	char wendy[128], id[64], path[128];
	struct h_resp r;
	json_t *u;

	h_add_user(s, admin, "wendy", "analyst", PW_W, wendy, sizeof(wendy));
	h_expect(s, "GET", "/v1/auth/session", wendy, NULL, NULL, 200, NULL);
	CHECK(total(s, "Users", "userName%20eq%20%22wendy%22") == 1);
	scim(s, "GET", "/scim/v2/Users?filter=userName%20eq%20%22wendy%22", NULL, &r);
	snprintf(id, sizeof(id), "%s",
	    h_jstr(json_array_get(json_object_get(r.json, "Resources"), 0), "id"));
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/scim/v2/Users/%s", id);
	scim(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "active")));
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/auth/session", wendy, NULL, NULL, 401, NULL);
	u = v1_user(s, admin, id);
	CHECK(JEQ(h_jstr(u, "status"), "disabled"));
	json_decref(u);
	CHECK(h_login_status(s, "wendy", PW_W, NULL, 0) != 200);
	CHECK(audit_count(s, aud, "user.disable", app) >= 1);
	/* and back: active true (Entra "True") enables; the ended session stays ended */
	scim(s, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"replace\",\"value\":{\"active\":\"True\"}}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "active")));
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/auth/session", wendy, NULL, NULL, 401, NULL);
	CHECK(audit_count(s, aud, "user.enable", app) >= 1);
	/* DELETE is a disable too: the user stays, inactive */
	h_add_user(s, admin, "walt", "analyst", PW_W, wendy, sizeof(wendy));
	scim(s, "GET", "/scim/v2/Users?filter=userName%20eq%20%22walt%22", NULL, &r);
	snprintf(id, sizeof(id), "%s",
	    h_jstr(json_array_get(json_object_get(r.json, "Resources"), 0), "id"));
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/scim/v2/Users/%s", id);
	scim(s, "DELETE", path, NULL, &r);
	CHECK_STATUS(&r, 204);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/auth/session", wendy, NULL, NULL, 401, NULL);
	scim(s, "GET", path, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "active")));
	h_resp_free(&r);
	expect_error(s, "DELETE", "/scim/v2/Users/usr_00000000000000000000000000", NULL, 404,
	    NULL);
}

/* The enterprise department is a principal attribute a role condition reads. */
static void
test_policy(struct h_server *s, const char *admin)
{
	char rita[128], clin[128], rec[64], path[128], id[64];
	struct h_resp r;

	h_collection_create(s, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	h_create_approved(s, admin, "/v1/roles", "{\"name\":\"cardio_reader\",\"permissions\":"
	    "[\"records.read:patients\"],\"condition\":{\"principal\":{\"department\":"
	    "\"cardiology\"}}}");
	h_add_user(s, admin, "clara", "clinician", PW_C, clin, sizeof(clin));
	h_req(s, "POST", "/v1/collections/patients/records", clin, "{\"name\":\"Ada Quux\"}",
	    TREAT, &r);
	CHECK_STATUS(&r, 201);
	snprintf(rec, sizeof(rec), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	h_add_user(s, admin, "rita", "cardio_reader", PW_R, rita, sizeof(rita));
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", rec);
	h_expect(s, "GET", path, rita, NULL, TREAT, 403, "condition_not_met");
	scim(s, "GET", "/scim/v2/Users?filter=userName%20eq%20%22rita%22", NULL, &r);
	snprintf(id, sizeof(id), "%s",
	    h_jstr(json_array_get(json_object_get(r.json, "Resources"), 0), "id"));
	h_resp_free(&r);
	{
		char p[128];

		snprintf(p, sizeof(p), "/scim/v2/Users/%s", id);
		scim(s, "PATCH", p, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
		    "{\"op\":\"add\",\"path\":\"" ENT ":department\",\"value\":\"cardiology\"}]}", &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
	h_expect(s, "GET", path, rita, NULL, TREAT, 200, NULL);
}

static void
test_groups(struct h_server *s, const char *admin, const char *alice, const char *bob,
    const char *carol)
{
	char body[1024], path[128];
	struct h_resp r;
	json_t *u;

	snprintf(body, sizeof(body), "{\"schemas\":[\"" GROUP_URN "\"],\"displayName\":"
	    "\"Cardiology Nurses\",\"externalId\":\"g-1\",\"members\":[{\"value\":\"%s\"}]}", alice);
	scim(s, "POST", "/scim/v2/Groups", body, &r);
	CHECK_STATUS(&r, 201);
	CHECK(JEQ(h_jstr(r.json, "id"), "cardiology_nurses"));
	CHECK(JEQ(h_jstr(r.json, "displayName"), "cardiology_nurses"));
	CHECK(json_array_size(json_object_get(r.json, "members")) == 1);
	CHECK(h_has_header(&r, "Location: https://vault.example.org:8443/scim/v2/Groups/"
	    "cardiology_nurses"));
	h_resp_free(&r);
	u = v1_user(s, admin, alice);
	CHECK(JEQ(json_string_value(json_array_get(json_object_get(u, "groups"), 0)),
	    "cardiology_nurses"));
	json_decref(u);
	expect_error(s, "POST", "/scim/v2/Groups", "{\"schemas\":[\"" GROUP_URN "\"],"
	    "\"displayName\":\"cardiology nurses\"}", 409, "uniqueness");
	expect_error(s, "POST", "/scim/v2/Groups", "{\"schemas\":[\"" GROUP_URN "\"],"
	    "\"displayName\":\"Ghosts\",\"members\":[{\"value\":\"usr_nobody\"}]}", 400,
	    "invalidValue");
	CHECK(total(s, "Groups", "displayName%20eq%20%22Cardiology_Nurses%22") == 1);
	snprintf(path, sizeof(path), "/scim/v2/Groups?filter=members%%5Bvalue%%20eq%%20%%22%s"
	    "%%22%%5D", alice);
	scim(s, "GET", path, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "totalResults")) == 1);
	h_resp_free(&r);
	expect_error(s, "GET", "/scim/v2/Groups?filter=roles%20pr", NULL, 400, "invalidFilter");
	expect_error(s, "GET", "/scim/v2/Groups/nosuchgroup", NULL, 404, NULL);

	/* Entra: "Add" members, "Remove" by value filter, "Remove" with a value list */
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"},{\"value\":\"%s\"}]}"
	    "]}", bob, carol);
	scim(s, "PATCH", "/scim/v2/Groups/cardiology_nurses", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 3);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"Remove\",\"path\":\"members[value eq \\\"%s\\\"]\"}]}", alice);
	scim(s, "PATCH", "/scim/v2/Groups/cardiology_nurses", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 2);
	CHECK(strstr(r.body, alice) == NULL);
	h_resp_free(&r);
	u = v1_user(s, admin, alice);
	CHECK(json_array_size(json_object_get(u, "groups")) == 0);
	json_decref(u);
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"}]}]}", bob);
	scim(s, "PATCH", "/scim/v2/Groups/cardiology_nurses", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 1);
	h_resp_free(&r);
	/* the group's name never changes */
	expect_error(s, "PATCH", "/scim/v2/Groups/cardiology_nurses", "{\"schemas\":[\""
	    PATCH_URN "\"],\"Operations\":[{\"op\":\"replace\",\"path\":\"displayName\","
	    "\"value\":\"Oncology\"}]}", 400, "mutability");
	/* PUT sets the members */
	snprintf(body, sizeof(body), "{\"schemas\":[\"" GROUP_URN "\"],\"displayName\":"
	    "\"cardiology_nurses\",\"members\":[{\"value\":\"%s\"},{\"value\":\"%s\"}]}", alice, bob);
	scim(s, "PUT", "/scim/v2/Groups/cardiology_nurses", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 2);
	CHECK(strstr(r.body, carol) == NULL);
	h_resp_free(&r);
	/* the user's read-only groups attribute shows it */
	snprintf(path, sizeof(path), "/scim/v2/Users/%s", bob);
	scim(s, "GET", path, NULL, &r);
	CHECK(strstr(r.body, "cardiology_nurses") != NULL);
	h_resp_free(&r);
	/* DELETE empties the group; it stays */
	scim(s, "DELETE", "/scim/v2/Groups/cardiology_nurses", NULL, &r);
	CHECK_STATUS(&r, 204);
	h_resp_free(&r);
	scim(s, "GET", "/scim/v2/Groups/cardiology_nurses", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 0);
	h_resp_free(&r);
	u = v1_user(s, admin, bob);
	CHECK(json_array_size(json_object_get(u, "groups")) == 0);
	json_decref(u);

	/* an app hands out nothing it could never hold: no membership of a group
	 * granting users.manage (the directory refuses, audited as denied) */
	h_expect(s, "POST", "/v1/groups", admin, "{\"name\":\"ops_admins\",\"roles\":"
	    "[\"admin\"]}", NULL, 201, NULL);
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":["
	    "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"}]}]}", bob);
	scim(s, "PATCH", "/scim/v2/Groups/ops_admins", body, &r);
	check_error(&r, 403, NULL);
	h_resp_free(&r);
	u = v1_user(s, admin, bob);
	CHECK(json_array_size(json_object_get(u, "groups")) == 0);
	json_decref(u);
	/* a group of an ordinary role is fine */
	h_create_approved(s, admin, "/v1/groups", "{\"name\":\"readers\",\"roles\":"
	    "[\"analyst\"]}");
	scim(s, "PATCH", "/scim/v2/Groups/readers", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 1);
	h_resp_free(&r);
}

int
main(void)
{
	struct h_server s;
	char admin[128], aud[128], app[64], other_app[64], other[128];
	char alice[64], bob[64], carol[64], dave[64], cmd[1200];
	json_t *u;

	h_clock_enable();
	h_init(&s, "scim", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set_in(&s, "server", "public_url", "https://vault.example.org:8443");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, 128);
	h_add_user(&s, admin, "audra", "auditor", PW_AUD, aud, sizeof(aud));
	/* the docs/scim.md recipe: a role with scim.provision, an app holding it */
	h_expect(&s, "POST", "/v1/roles", admin, "{\"name\":\"scim_provisioner\","
	    "\"permissions\":[\"scim.provision\"]}", NULL, 201, NULL);
	app_token(&s, admin, "entra", "scim_provisioner", app, tok);
	app_token(&s, admin, "reporting", "analyst", other_app, other);

	test_auth_and_discovery(&s, other);
	test_create(&s, admin, alice);
	{
		struct h_resp r;

		scim(&s, "GET", "/scim/v2/Users?filter=userName%20eq%20%22bob.jones%22", NULL, &r);
		snprintf(bob, sizeof(bob), "%s",
		    h_jstr(json_array_get(json_object_get(r.json, "Resources"), 0), "id"));
		h_resp_free(&r);
	}
	create_user(&s, "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"carol\","
	    "\"externalId\":\"ext-3\",\"emails\":[{\"value\":\"carol@home.test\","
	    "\"type\":\"home\"}]}", carol);
	create_user(&s, "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"dave\","
	    "\"externalId\":\"ext-4\",\"active\":false}", dave);
	u = v1_user(&s, admin, dave);
	CHECK(JEQ(h_jstr(u, "status"), "disabled"));
	json_decref(u);
	test_filters(&s, carol, dave);
	test_put_patch(&s, admin, alice, carol);
	test_leaver(&s, admin, app, aud);
	test_policy(&s, admin);
	test_groups(&s, admin, alice, bob, carol);

	/* audited by the directory, the app as actor */
	CHECK(audit_count(&s, aud, "user.create", app) == 4);
	CHECK(audit_count(&s, aud, "user.update", app) >= 8);
	CHECK(audit_count(&s, aud, "group.create", app) == 1);
	CHECK(denied_count(&s, aud, "user.update", app, "app_forbidden_grant") == 1);
	/* no address or name in the server log */
	snprintf(cmd, sizeof(cmd), "grep -c -e 'hospital.test' -e 'home.test' -e 'Alice' %s",
	    s.log);
	CHECK(h_run(cmd, NULL) == 1);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("scim");
	return 0;
}
