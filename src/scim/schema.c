/*
 * scim/schema.c: the attributes phivault's SCIM resources have (RFC 7643
 * section 4 and 8.7.1, the subset that maps onto the directory), as data,
 * and the discovery documents built from that data (RFC 7644 section 4):
 * /Schemas, /ResourceTypes, /ServiceProviderConfig. Filters, PATCH paths
 * and the documents all read this one table, so an attribute that can be
 * filtered on is one that /Schemas lists.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scim/scim_int.h"

#define END { NULL, 0, false, false, false, NULL, NULL }

static const struct scim_attr name_sub[] = {
	{ "formatted", SCIM_T_STRING, false, false, false, NULL, "The full name" },
	{ "familyName", SCIM_T_STRING, false, false, false, NULL, "Family name" },
	{ "givenName", SCIM_T_STRING, false, false, false, NULL, "Given name" },
	{ "middleName", SCIM_T_STRING, false, false, false, NULL, "Middle name" },
	{ "honorificPrefix", SCIM_T_STRING, false, false, false, NULL, "Prefix" },
	{ "honorificSuffix", SCIM_T_STRING, false, false, false, NULL, "Suffix" },
	END
};
static const struct scim_attr email_sub[] = {
	{ "value", SCIM_T_STRING, false, false, false, NULL, "The address" },
	{ "type", SCIM_T_STRING, false, false, false, NULL, "work, home, other" },
	{ "primary", SCIM_T_BOOLEAN, false, false, false, NULL, "The primary address" },
	{ "display", SCIM_T_STRING, false, false, false, NULL, "Display text" },
	END
};
static const struct scim_attr member_sub[] = {
	{ "value", SCIM_T_STRING, false, true, false, NULL, "The member's id (usr_...)" },
	{ "display", SCIM_T_STRING, false, false, true, NULL, "The member's userName" },
	{ "$ref", SCIM_T_REFERENCE, false, true, true, NULL, "The member's URI" },
	{ "type", SCIM_T_STRING, false, false, false, NULL, "User" },
	END
};
static const struct scim_attr meta_sub[] = {
	{ "resourceType", SCIM_T_STRING, false, true, true, NULL, "User or Group" },
	{ "created", SCIM_T_DATETIME, false, false, true, NULL, "Created" },
	{ "lastModified", SCIM_T_DATETIME, false, false, true, NULL, "Last modified" },
	{ "location", SCIM_T_REFERENCE, false, true, true, NULL, "The resource's URI" },
	{ "version", SCIM_T_STRING, false, true, true, NULL, "The ETag" },
	END
};
static const struct scim_attr manager_sub[] = {
	{ "value", SCIM_T_STRING, false, true, false, NULL, "The manager's id" },
	{ "$ref", SCIM_T_REFERENCE, false, true, true, NULL, "The manager's URI" },
	{ "displayName", SCIM_T_STRING, false, false, true, NULL, "The manager's name" },
	END
};

static const struct scim_attr user_attrs[] = {
	{ "id", SCIM_T_STRING, false, true, true, NULL, "phivault's user id (usr_...)" },
	{ "externalId", SCIM_T_STRING, false, true, false, NULL, "The client's id, stored" },
	{ "userName", SCIM_T_STRING, false, false, false, NULL,
	  "The phivault username: 1-64 of a-z 0-9 . _ - (case-insensitive)" },
	{ "name", SCIM_T_COMPLEX, false, false, false, name_sub, "Name parts, stored" },
	{ "displayName", SCIM_T_STRING, false, false, false, NULL, "The display name" },
	{ "emails", SCIM_T_COMPLEX, true, false, false, email_sub,
	  "Addresses; the primary (or first) is the user's email" },
	{ "active", SCIM_T_BOOLEAN, false, false, false, NULL,
	  "false disables the user and ends every session at once" },
	{ "groups", SCIM_T_COMPLEX, true, false, true, member_sub,
	  "Groups (read-only: set through Groups)" },
	{ "meta", SCIM_T_COMPLEX, false, false, true, meta_sub, "Resource metadata" },
	END
};
static const struct scim_attr enterprise_attrs[] = {
	{ "department", SCIM_T_STRING, false, false, false, NULL,
	  "The user attribute department (policy conditions read it)" },
	{ "manager", SCIM_T_COMPLEX, false, false, false, manager_sub,
	  "The user attribute manager: the manager's id" },
	END
};
static const struct scim_attr group_attrs[] = {
	{ "id", SCIM_T_STRING, false, true, true, NULL, "The phivault group name" },
	{ "externalId", SCIM_T_STRING, false, true, true, NULL, "Not stored" },
	{ "displayName", SCIM_T_STRING, false, false, false, NULL,
	  "The phivault group name ([a-z][a-z0-9_]{0,62}; other names are folded to it)" },
	{ "members", SCIM_T_COMPLEX, true, false, false, member_sub, "Users (usr_...)" },
	{ "meta", SCIM_T_COMPLEX, false, false, true, meta_sub, "Resource metadata" },
	END
};

const struct scim_attr *
scim_sub_find(const struct scim_attr *a, const char *name)
{
	const struct scim_attr *s;

	if (a == NULL || a->sub == NULL || name == NULL)
		return NULL;
	for (s = a->sub; s->name != NULL; s++)
		if (strcasecmp(s->name, name) == 0)
			return s;
	return NULL;
}

const struct scim_attr *
scim_attr_find(enum scim_kind kind, bool enterprise, const char *name)
{
	const struct scim_attr *t, *a;

	if (name == NULL)
		return NULL;
	if (kind == SCIM_GROUP)
		t = enterprise ? NULL : group_attrs;
	else
		t = enterprise ? enterprise_attrs : user_attrs;
	for (a = t; a != NULL && a->name != NULL; a++)
		if (strcasecmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* ---- discovery documents ---- */

static const char *
type_name(enum scim_type t)
{
	switch (t) {
	case SCIM_T_BOOLEAN: return "boolean";
	case SCIM_T_COMPLEX: return "complex";
	case SCIM_T_DATETIME: return "dateTime";
	case SCIM_T_REFERENCE: return "reference";
	default: return "string";
	}
}

static json_t *
attrs_json(const struct scim_attr *t)
{
	json_t *arr = json_array(), *o;
	const struct scim_attr *a;

	for (a = t; arr != NULL && a->name != NULL; a++) {
		o = json_pack("{s:s, s:s, s:b, s:s, s:b, s:b, s:s, s:s, s:s}",
		    "name", a->name, "type", type_name(a->type), "multiValued", a->multi,
		    "description", a->description, "required", strcmp(a->name, "userName") == 0,
		    "caseExact", a->case_exact, "mutability", a->read_only ? "readOnly" : "readWrite",
		    "returned", "default",
		    "uniqueness", strcmp(a->name, "userName") == 0 || strcmp(a->name, "id") == 0 ?
		    "server" : "none");
		if (o != NULL && a->sub != NULL)
			json_object_set_new(o, "subAttributes", attrs_json(a->sub));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *
schema_json(const char *base, const char *urn, const char *name, const char *desc,
    const struct scim_attr *t)
{
	char loc[800];

	snprintf(loc, sizeof(loc), "%s/Schemas/%s", base, urn);
	return json_pack("{s:[s], s:s, s:s, s:s, s:o, s:{s:s, s:s}}",
	    "schemas", "urn:ietf:params:scim:schemas:core:2.0:Schema",
	    "id", urn, "name", name, "description", desc, "attributes", attrs_json(t),
	    "meta", "resourceType", "Schema", "location", loc);
}

/* A ListResponse holding every element of all (stolen). */
static json_t *
list_of(json_t *all)
{
	return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_URN_LIST,
	    "totalResults", (json_int_t)json_array_size(all), "itemsPerPage",
	    (json_int_t)json_array_size(all), "startIndex", (json_int_t)1, "Resources", all);
}

json_t *
scim_schemas_json(const char *base)
{
	json_t *all = json_array();

	json_array_append_new(all, schema_json(base, SCIM_URN_USER, "User", "User Account",
	    user_attrs));
	json_array_append_new(all, schema_json(base, SCIM_URN_GROUP, "Group", "Group",
	    group_attrs));
	json_array_append_new(all, schema_json(base, SCIM_URN_ENTERPRISE, "EnterpriseUser",
	    "Enterprise User", enterprise_attrs));
	return list_of(all);
}

static json_t *
resource_type(const char *base, const char *name, const char *ep, const char *urn, bool ext)
{
	char loc[800], epu[64];
	json_t *o;

	snprintf(loc, sizeof(loc), "%s/ResourceTypes/%s", base, name);
	snprintf(epu, sizeof(epu), "/%s", ep);
	o = json_pack("{s:[s], s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
	    "schemas", "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
	    "id", name, "name", name, "endpoint", epu, "description", name, "schema", urn,
	    "meta", "resourceType", "ResourceType", "location", loc);
	if (o != NULL && ext)
		json_object_set_new(o, "schemaExtensions", json_pack("[{s:s, s:b}]",
		    "schema", SCIM_URN_ENTERPRISE, "required", false));
	return o;
}

json_t *
scim_resource_types_json(const char *base)
{
	json_t *all = json_array();

	json_array_append_new(all, resource_type(base, "User", "Users", SCIM_URN_USER, true));
	json_array_append_new(all, resource_type(base, "Group", "Groups", SCIM_URN_GROUP, false));
	return list_of(all);
}

/* RFC 7643 section 5: what this provider supports. */
json_t *
scim_service_provider_json(const char *base)
{
	char loc[800];

	snprintf(loc, sizeof(loc), "%s/ServiceProviderConfig", base);
	return json_pack("{s:[s], s:s, s:{s:b}, s:{s:b, s:i, s:i}, s:{s:b, s:i}, "
	    "s:{s:b}, s:{s:b}, s:{s:b}, s:[{s:s, s:s, s:s, s:b}], s:{s:s, s:s}}",
	    "schemas", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
	    "documentationUri", "docs/scim.md",
	    "patch", "supported", true,
	    "bulk", "supported", false, "maxOperations", 0, "maxPayloadSize", 0,
	    "filter", "supported", true, "maxResults", SCIM_COUNT_MAX,
	    "changePassword", "supported", false,
	    "sort", "supported", false,
	    "etag", "supported", true,
	    "authenticationSchemes", "type", "oauthbearertoken", "name", "OAuth Bearer Token",
	    "description", "An app token (pva_...) from POST /v1/auth/app; the app holds "
	    "scim.provision", "primary", true,
	    "meta", "resourceType", "ServiceProviderConfig", "location", loc);
}

/*
 * RFC 7643 attributes phivault does not map: accepted in a request (an
 * IdP sends them by default: Entra ID's title, phoneNumbers, addresses,
 * employeeNumber...) and dropped, never stored or returned.
 */
bool
scim_attr_ignored(enum scim_kind kind, bool enterprise, const char *name)
{
	static const char *const user_core[] = { "nickName", "profileUrl", "title", "userType",
		"preferredLanguage", "locale", "timezone", "phoneNumbers", "ims", "photos",
		"addresses", "entitlements", "roles", "x509Certificates", NULL };
	static const char *const user_ent[] = { "employeeNumber", "costCenter", "organization",
		"division", NULL };
	const char *const *t;

	if (kind != SCIM_USER || name == NULL)
		return false;
	for (t = enterprise ? user_ent : user_core; *t != NULL; t++)
		if (strcasecmp(*t, name) == 0)
			return true;
	return false;
}
