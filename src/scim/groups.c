/*
 * scim/groups.c: SCIM Group <-> phivault group (docs/scim.md "Mapping").
 *
 *   id, displayName   the group name. phivault names are
 *                     [a-z][a-z0-9_]{0,62}; a displayName that is not one
 *                     is folded to one ("Cardiology Nurses" ->
 *                     "cardiology_nurses"), and the answer carries the
 *                     folded name. Groups are never renamed (400
 *                     mutability).
 *   members           users (value = usr_ id). A membership is the user's:
 *                     each change is a directory_user_update of that
 *                     user's groups (user.update, the app as actor), so the
 *                     directory's checks, and dual control on a membership
 *                     that grants PHI access, apply as for the REST API.
 *   roles             not SCIM's: a group made by SCIM has none until an
 *                     administrator gives it some in phivault.
 *
 * DELETE empties the group (every member removed); the group itself stays,
 * as phivault never deletes a group (the audit trail names it).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/directory.h"
#include "scim/scim_int.h"

#define GROUP_NAME_MAX 63

/* displayName -> a phivault group name; false if nothing is left. */
static bool
fold_name(const char *dn, char out[GROUP_NAME_MAX + 1])
{
	size_t o = 0, i;

	if (dn == NULL)
		return false;
	if (!isalpha((unsigned char)dn[0]) && dn[0] != '\0')
		o = (size_t)snprintf(out, GROUP_NAME_MAX + 1, "g_");
	for (i = 0; dn[i] != '\0' && o < GROUP_NAME_MAX; i++) {
		unsigned char c = (unsigned char)dn[i];

		out[o++] = isalnum(c) && c < 0x80 ? (char)tolower(c) : '_';
	}
	out[o] = '\0';
	return o > 0;
}

/* Every user (directory representation), and every group name. */
static enum pv_rc
load_all(struct scim *s, const struct pv_actor *actor, json_t **users, json_t **groups,
    struct scim_error *err)
{
	struct directory_result res = { .done = NULL };
	enum pv_rc rc;

	*users = *groups = NULL;
	if ((rc = directory_user_list(s->dir, actor, NULL, users, &res)) != PV_OK ||
	    (rc = directory_group_list(s->dir, actor, groups, &res)) != PV_OK) {
		json_decref(*users);
		*users = NULL;
		return scim_from_directory(rc, res.message, err);
	}
	return PV_OK;
}

static bool
in_names(json_t *arr, const char *name)
{
	json_t *g;
	size_t i;

	json_array_foreach(arr, i, g)
		if (json_is_string(g) && strcmp(json_string_value(g), name) == 0)
			return true;
	return false;
}

static json_t *
to_scim(struct scim *s, const char *name, json_t *users)
{
	json_t *o, *members = json_array(), *u;
	char loc[800], ver[32];
	size_t i;

	json_array_foreach(users, i, u) {
		const char *id = json_string_value(json_object_get(u, "id"));

		if (!in_names(json_object_get(u, "groups"), name))
			continue;
		snprintf(loc, sizeof(loc), "%s/Users/%s", s->base, id);
		json_array_append_new(members, json_pack("{s:s, s:O, s:s, s:s}", "value", id,
		    "display", json_object_get(u, "username"), "$ref", loc, "type", "User"));
	}
	o = json_pack("{s:[s], s:s, s:s, s:o}", "schemas", SCIM_URN_GROUP, "id", name,
	    "displayName", name, "members", members);
	if (o == NULL)
		return NULL;
	snprintf(loc, sizeof(loc), "%s/Groups/%s", s->base, name);
	scim_version(o, ver);
	json_object_set_new(o, "meta", json_pack("{s:s, s:s, s:s}", "resourceType", "Group",
	    "location", loc, "version", ver));
	return o;
}

static json_t *
find_group(json_t *groups, const char *name)
{
	json_t *g;
	size_t i;

	json_array_foreach(groups, i, g)
		if (name != NULL && strcmp(json_string_value(json_object_get(g, "name")), name) == 0)
			return g;
	return NULL;
}

static json_t *
find_user(json_t *users, const char *id)
{
	json_t *u;
	size_t i;

	json_array_foreach(users, i, u)
		if (id != NULL && strcmp(json_string_value(json_object_get(u, "id")), id) == 0)
			return u;
	return NULL;
}

enum pv_rc
scim_group_get(struct scim *s, const struct pv_actor *actor, const char *id, json_t **out,
    struct scim_error *err)
{
	json_t *users, *groups;
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, err)) != PV_OK)
		return rc;
	if (find_group(groups, id) == NULL)
		rc = scim_fail(err, PV_E_NOTFOUND, 404, "", "No such group");
	else if ((*out = to_scim(s, id, users)) == NULL)
		rc = scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	json_decref(users);
	json_decref(groups);
	return rc;
}

enum pv_rc
scim_group_list(struct scim *s, const struct pv_actor *actor, const struct scim_list_query *q,
    json_t **out, struct scim_error *err)
{
	json_t *users, *groups, *all, *g;
	size_t i;
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, err)) != PV_OK)
		return rc;
	all = json_array();
	json_array_foreach(groups, i, g)
		json_array_append_new(all, to_scim(s, json_string_value(json_object_get(g, "name")),
		    users));
	json_decref(users);
	json_decref(groups);
	return scim_list_page(all, SCIM_GROUP, q, out, err);
}

/* Add (in true) or remove user u's membership of name. */
static enum pv_rc
membership(struct scim *s, const struct pv_actor *actor, json_t *u, const char *name, bool in,
    struct scim_error *err)
{
	static const char *const fields[] = { "groups" };
	struct directory_user_spec sp;
	struct directory_result res = { .done = NULL };
	json_t *cur = json_object_get(u, "groups"), *g;
	const char *names[33];
	size_t i, n = 0;
	enum pv_rc rc;

	json_array_foreach(cur, i, g) {
		if (strcmp(json_string_value(g), name) == 0)
			continue;
		if (n >= 32)
			return scim_fail(err, PV_E_INVALID, 400, "invalidValue",
			    "A user is in at most 32 groups");
		names[n++] = json_string_value(g);
	}
	if (in) {
		if (n >= 32)
			return scim_fail(err, PV_E_INVALID, 400, "invalidValue",
			    "A user is in at most 32 groups");
		names[n++] = name;
	}
	memset(&sp, 0, sizeof(sp));
	sp.set_groups = true;
	sp.groups = names;
	sp.ngroups = n;
	sp.fields = fields;
	sp.nfields = 1;
	rc = directory_user_update(s->dir, actor, json_string_value(json_object_get(u, "id")), &sp,
	    &res);
	return rc == PV_OK ? PV_OK : scim_from_directory(rc, res.message, err);
}

/* Every named member is a user: checked before anything changes. */
static enum pv_rc
check_members(json_t *members, json_t *users, struct scim_error *err)
{
	json_t *m;
	size_t i;

	json_array_foreach(members, i, m)
		if (find_user(users, json_string_value(scim_obj_get(m, "value"))) == NULL)
			return scim_fail(err, PV_E_INVALID, 400, "invalidValue",
			    "A member's value is not the id of a user");
	return PV_OK;
}

/* Make name's members exactly the values of `members` (SCIM members). */
static enum pv_rc
set_members(struct scim *s, const struct pv_actor *actor, const char *name, json_t *members,
    json_t *users, struct scim_error *err)
{
	json_t *m, *u;
	size_t i;
	enum pv_rc rc;

	if ((rc = check_members(members, users, err)) != PV_OK)
		return rc;
	json_array_foreach(users, i, u) {
		const char *id = json_string_value(json_object_get(u, "id"));
		bool want = false, has = in_names(json_object_get(u, "groups"), name);
		size_t k;

		json_array_foreach(members, k, m)
			if (strcmp(json_string_value(scim_obj_get(m, "value")), id) == 0)
				want = true;
		if (want != has && (rc = membership(s, actor, u, name, want, err)) != PV_OK)
			return rc;
	}
	return PV_OK;
}

enum pv_rc
scim_group_create(struct scim *s, const struct pv_actor *actor, json_t *body, json_t **out,
    struct scim_error *err)
{
	struct directory_group_spec sp;
	struct directory_result res = { .done = NULL };
	char name[GROUP_NAME_MAX + 1];
	json_t *r = NULL, *users = NULL, *groups = NULL;
	enum pv_rc rc;

	if ((rc = scim_resource_from_body(body, SCIM_GROUP, &r, err)) != PV_OK)
		return rc;
	if (!fold_name(json_string_value(scim_obj_get(r, "displayName")), name)) {
		rc = scim_fail(err, PV_E_INVALID, 400, "invalidValue", "displayName is required");
		goto out;
	}
	if ((rc = load_all(s, actor, &users, &groups, err)) != PV_OK)
		goto out;
	if (find_group(groups, name) != NULL) {
		rc = scim_fail(err, PV_E_CONFLICT, 409, "uniqueness",
		    "A group with this displayName exists");
		goto out;
	}
	if ((rc = check_members(scim_obj_get(r, "members"), users, err)) != PV_OK)
		goto out;
	memset(&sp, 0, sizeof(sp));
	sp.name = name;
	if ((rc = directory_group_create(s->dir, actor, &sp, &res)) != PV_OK) {
		rc = scim_from_directory(rc, res.message, err);
		goto out;
	}
	if ((rc = set_members(s, actor, name, scim_obj_get(r, "members"), users, err)) == PV_OK)
		rc = scim_group_get(s, actor, name, out, err);
out:
	json_decref(r);
	json_decref(users);
	json_decref(groups);
	return rc;
}

/* Make group id what r says (members; the name never changes). */
static enum pv_rc
apply(struct scim *s, const struct pv_actor *actor, const char *id, json_t *r, json_t *users,
    json_t **out, struct scim_error *err)
{
	char name[GROUP_NAME_MAX + 1];
	const char *dn = json_string_value(scim_obj_get(r, "displayName"));
	enum pv_rc rc;

	if (dn != NULL && (!fold_name(dn, name) || strcmp(name, id) != 0))
		return scim_fail(err, PV_E_INVALID, 400, "mutability",
		    "A group's displayName cannot change (phivault group names are permanent)");
	if ((rc = set_members(s, actor, id, scim_obj_get(r, "members"), users, err)) != PV_OK)
		return rc;
	return scim_group_get(s, actor, id, out, err);
}

/* The group's current representation against If-Match. */
static enum pv_rc
precondition(struct scim *s, const char *id, json_t *users, const char *if_match,
    struct scim_error *err)
{
	json_t *cur;
	enum pv_rc rc;

	if (if_match == NULL)
		return PV_OK;
	if ((cur = to_scim(s, id, users)) == NULL)
		return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	rc = scim_if_match(cur, if_match, err);
	json_decref(cur);
	return rc;
}

enum pv_rc
scim_group_replace(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, json_t **out, struct scim_error *err)
{
	json_t *r = NULL, *users = NULL, *groups = NULL;
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, err)) != PV_OK)
		return rc;
	if (find_group(groups, id) == NULL)
		rc = scim_fail(err, PV_E_NOTFOUND, 404, "", "No such group");
	else if ((rc = precondition(s, id, users, if_match, err)) != PV_OK)
		;
	else if ((rc = scim_resource_from_body(body, SCIM_GROUP, &r, err)) == PV_OK)
		rc = apply(s, actor, id, r, users, out, err);
	json_decref(r);
	json_decref(users);
	json_decref(groups);
	return rc;
}

enum pv_rc
scim_group_patch(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, json_t **out, struct scim_error *err)
{
	json_t *r = NULL, *users = NULL, *groups = NULL;
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, err)) != PV_OK)
		return rc;
	if (find_group(groups, id) == NULL)
		rc = scim_fail(err, PV_E_NOTFOUND, 404, "", "No such group");
	else if ((r = to_scim(s, id, users)) == NULL)
		rc = scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	else if ((rc = scim_if_match(r, if_match, err)) != PV_OK)
		;
	else if ((rc = scim_patch_apply(r, SCIM_GROUP, body, err)) == PV_OK)
		rc = apply(s, actor, id, r, users, out, err);
	json_decref(r);
	json_decref(users);
	json_decref(groups);
	return rc;
}

enum pv_rc
scim_group_delete(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, struct scim_error *err)
{
	json_t *users = NULL, *groups = NULL, *none = json_array();
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, err)) != PV_OK)
		goto out;
	if (find_group(groups, id) == NULL)
		rc = scim_fail(err, PV_E_NOTFOUND, 404, "", "No such group");
	else if ((rc = precondition(s, id, users, if_match, err)) == PV_OK)
		rc = set_members(s, actor, id, none, users, err);
out:
	json_decref(none);
	json_decref(users);
	json_decref(groups);
	return rc;
}
