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
 *                     All the memberships of one request (and a create's
 *                     group) are one change set: one transaction, all or
 *                     nothing (docs/internals/scim.md "One transaction a
 *                     request").
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

/* The set's done: the group as the transaction left it (every user read
 * back in it), or the failure. */
static enum pv_rc
group_done(enum pv_rc rc, const struct directory_result *res, json_t *read, void *arg)
{
	struct scim_write *w = arg;

	if (rc != PV_OK)
		scim_from_directory(rc, res != NULL ? res->message : NULL, &w->err);
	else if (w->status != 204 && (w->out = to_scim(w->s, w->id, read)) == NULL)
		rc = scim_fail(&w->err, PV_E_NOMEM, 500, "", "Out of memory");
	json_decref(read);
	return scim_write_done(w, rc);
}

/* Open the request's change set (one transaction for the whole request). */
static enum pv_rc
set_open(struct scim *s, const char *name, struct directory_set **set, struct scim_write *w)
{
	enum pv_rc rc = directory_set_begin(s->dir, set);

	if (rc != PV_OK)
		return scim_fail(&w->err, rc, 500, "", "Out of memory");
	snprintf(w->id, sizeof(w->id), "%s", name);
	return PV_OK;
}

/* Drop the set after a failure whose error is in err. */
static enum pv_rc
set_drop(struct directory_set *set, enum pv_rc rc)
{
	directory_set_abort(set);
	return rc;
}

/* Commit: the group answered as the transaction leaves it (204: nothing read). */
static enum pv_rc
set_commit(struct directory_set *set, struct scim_write *w)
{
	if (w->status != 204)
		directory_set_read_users(set);
	w->async = directory_set_async(set);
	return directory_set_commit(set, group_done, w);
}

/* Add (in true) or remove user u's membership of name: a step of set. */
static enum pv_rc
membership(struct scim *s, struct directory_set *set, const struct pv_actor *actor, json_t *u,
    const char *name, bool in, struct scim_error *err)
{
	static const char *const fields[] = { "groups" };
	struct directory_user_spec sp;
	struct directory_result *res = directory_set_result(set);
	json_t *cur = json_object_get(u, "groups"), *g;
	const char **names = directory_set_alloc(set, 33 * sizeof(*names));
	const char *id = json_string_value(json_object_get(u, "id"));
	size_t i, n = 0;
	enum pv_rc rc;

	/* what the step keeps until the commit lives in the set */
	if (res == NULL || names == NULL || (id = directory_set_strdup(set, id)) == NULL)
		return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	json_array_foreach(cur, i, g) {
		if (strcmp(json_string_value(g), name) == 0)
			continue;
		if (n >= 32)
			return scim_fail(err, PV_E_INVALID, 400, "invalidValue",
			    "A user is in at most 32 groups");
		if ((names[n++] = directory_set_strdup(set, json_string_value(g))) == NULL)
			return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	}
	if (in) {
		if (n >= 32)
			return scim_fail(err, PV_E_INVALID, 400, "invalidValue",
			    "A user is in at most 32 groups");
		if ((names[n++] = directory_set_strdup(set, name)) == NULL)
			return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	}
	memset(&sp, 0, sizeof(sp));
	sp.set_groups = true;
	sp.groups = names;
	sp.ngroups = n;
	sp.fields = fields;
	sp.nfields = 1;
	rc = directory_user_update(s->dir, actor, id, &sp, res);
	return rc == PV_OK ? PV_OK : scim_from_directory(rc, res->message, err);
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

/* Make name's members exactly the values of `members` (SCIM members): a
 * membership change of each user concerned, every one a step of set. */
static enum pv_rc
set_members(struct scim *s, struct directory_set *set, const struct pv_actor *actor,
    const char *name, json_t *members, json_t *users, struct scim_error *err)
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
		if (want != has && (rc = membership(s, set, actor, u, name, want, err)) != PV_OK)
			return rc;
	}
	return PV_OK;
}

enum pv_rc
scim_group_create(struct scim *s, const struct pv_actor *actor, json_t *body,
    struct scim_write *w)
{
	struct directory_group_spec sp;
	struct directory_result *res;
	struct directory_set *set = NULL;
	char name[GROUP_NAME_MAX + 1];
	json_t *r = NULL, *users = NULL, *groups = NULL;
	enum pv_rc rc;

	if ((rc = scim_resource_from_body(body, SCIM_GROUP, &r, &w->err)) != PV_OK)
		return rc;
	if (!fold_name(json_string_value(scim_obj_get(r, "displayName")), name)) {
		rc = scim_fail(&w->err, PV_E_INVALID, 400, "invalidValue", "displayName is required");
		goto out;
	}
	if ((rc = load_all(s, actor, &users, &groups, &w->err)) != PV_OK)
		goto out;
	if (find_group(groups, name) != NULL) {
		rc = scim_fail(&w->err, PV_E_CONFLICT, 409, "uniqueness",
		    "A group with this displayName exists");
		goto out;
	}
	if ((rc = check_members(scim_obj_get(r, "members"), users, &w->err)) != PV_OK ||
	    (rc = set_open(s, name, &set, w)) != PV_OK)
		goto out;
	/* one transaction: the group and every member's membership of it */
	memset(&sp, 0, sizeof(sp));
	sp.name = name;
	if ((res = directory_set_result(set)) == NULL) {
		rc = set_drop(set, scim_fail(&w->err, PV_E_NOMEM, 500, "", "Out of memory"));
		goto out;
	}
	if ((rc = directory_group_create(s->dir, actor, &sp, res)) != PV_OK) {
		rc = set_drop(set, scim_from_directory(rc, res->message, &w->err));
		goto out;
	}
	if ((rc = set_members(s, set, actor, name, scim_obj_get(r, "members"), users,
	    &w->err)) != PV_OK) {
		rc = set_drop(set, rc);
		goto out;
	}
	rc = set_commit(set, w);
out:
	json_decref(r);
	json_decref(users);
	json_decref(groups);
	return rc;
}

/* Make group id what r says (members; the name never changes): one
 * change set of every membership concerned. */
static enum pv_rc
apply(struct scim *s, const struct pv_actor *actor, const char *id, json_t *r, json_t *users,
    struct scim_write *w)
{
	struct directory_set *set = NULL;
	char name[GROUP_NAME_MAX + 1];
	const char *dn = json_string_value(scim_obj_get(r, "displayName"));
	enum pv_rc rc;

	if (dn != NULL && (!fold_name(dn, name) || strcmp(name, id) != 0))
		return scim_fail(&w->err, PV_E_INVALID, 400, "mutability",
		    "A group's displayName cannot change (phivault group names are permanent)");
	if ((rc = set_open(s, id, &set, w)) != PV_OK)
		return rc;
	if ((rc = set_members(s, set, actor, id, scim_obj_get(r, "members"), users, &w->err)) !=
	    PV_OK)
		return set_drop(set, rc);
	return set_commit(set, w);
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
    const char *if_match, json_t *body, struct scim_write *w)
{
	json_t *r = NULL, *users = NULL, *groups = NULL;
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, &w->err)) != PV_OK)
		return rc;
	if (find_group(groups, id) == NULL)
		rc = scim_fail(&w->err, PV_E_NOTFOUND, 404, "", "No such group");
	else if ((rc = precondition(s, id, users, if_match, &w->err)) != PV_OK)
		;
	else if ((rc = scim_resource_from_body(body, SCIM_GROUP, &r, &w->err)) == PV_OK)
		rc = apply(s, actor, id, r, users, w);
	json_decref(r);
	json_decref(users);
	json_decref(groups);
	return rc;
}

enum pv_rc
scim_group_patch(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w)
{
	json_t *r = NULL, *users = NULL, *groups = NULL;
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, &w->err)) != PV_OK)
		return rc;
	if (find_group(groups, id) == NULL)
		rc = scim_fail(&w->err, PV_E_NOTFOUND, 404, "", "No such group");
	else if ((r = to_scim(s, id, users)) == NULL)
		rc = scim_fail(&w->err, PV_E_NOMEM, 500, "", "Out of memory");
	else if ((rc = scim_if_match(r, if_match, &w->err)) != PV_OK)
		;
	else if ((rc = scim_patch_apply(r, SCIM_GROUP, body, &w->err)) == PV_OK)
		rc = apply(s, actor, id, r, users, w);
	json_decref(r);
	json_decref(users);
	json_decref(groups);
	return rc;
}

enum pv_rc
scim_group_delete(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, struct scim_write *w)
{
	json_t *users = NULL, *groups = NULL, *none = json_array();
	struct directory_set *set = NULL;
	enum pv_rc rc;

	if ((rc = load_all(s, actor, &users, &groups, &w->err)) != PV_OK)
		goto out;
	if (find_group(groups, id) == NULL)
		rc = scim_fail(&w->err, PV_E_NOTFOUND, 404, "", "No such group");
	else if ((rc = precondition(s, id, users, if_match, &w->err)) == PV_OK &&
	    (rc = set_open(s, id, &set, w)) == PV_OK) {
		/* every member removed, in one transaction */
		if ((rc = set_members(s, set, actor, id, none, users, &w->err)) != PV_OK)
			rc = set_drop(set, rc);
		else
			rc = set_commit(set, w);
	}
out:
	json_decref(none);
	json_decref(users);
	json_decref(groups);
	return rc;
}
