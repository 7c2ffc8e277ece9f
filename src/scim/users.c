/*
 * scim/users.c: SCIM User <-> phivault user (docs/scim.md "Mapping").
 *
 *   id              the user's usr_ id
 *   userName        username (phivault's rule: 1-64 of a-z 0-9 . _ -,
 *                   case-insensitive; it never changes: 400 mutability)
 *   displayName     display_name
 *   emails          the primary (else first) value is email; the list is
 *                   kept in attributes.scim.emails
 *   name, externalId  kept in attributes.scim (name, externalId)
 *   active          false: directory_user_disable (the leaver: every
 *                   session ends at once); true: directory_user_enable
 *   enterprise department, manager.value
 *                   attributes.department, attributes.manager: the
 *                   principal attributes policy conditions read
 *   groups          read-only (memberships are set through Groups)
 *
 * Writes: one directory change set a request (directory.h "change sets":
 * one transaction with every entry, answered from its completion): the
 * disable the active flag asks for (user.disable), one
 * directory_user_update for display name, email and attributes (only when
 * one changed; user.update with the app as actor), then the enable
 * (user.enable); a create is user.create, then user.disable for active
 * false. The answer is the user read back in that transaction. Attributes that
 * other tools set (e.g. "ward") are kept: SCIM owns department, manager
 * and scim only. DELETE is a disable: phivault never deletes a user (the
 * audit trail names it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/directory.h"
#include "http/http.h"
#include "scim/scim_int.h"

/* ---- directory -> SCIM ---- */

static json_t *
to_scim(struct scim *s, json_t *u)
{
	json_t *attrs = json_object_get(u, "attributes"), *sc = json_object_get(attrs, "scim");
	json_t *o, *ent = NULL, *groups, *g, *emails, *meta;
	const char *id = json_string_value(json_object_get(u, "id"));
	const char *email = json_string_value(json_object_get(u, "email"));
	const char *dn = json_string_value(json_object_get(u, "display_name"));
	const char *dep = json_string_value(json_object_get(attrs, "department"));
	const char *mgr = json_string_value(json_object_get(attrs, "manager"));
	char loc[800], ver[32];
	size_t i;

	o = json_pack("{s:[s], s:s, s:s, s:b}", "schemas", SCIM_URN_USER, "id", id ? id : "",
	    "userName", json_string_value(json_object_get(u, "username")),
	    "active", strcmp(json_string_value(json_object_get(u, "status")), "active") == 0);
	if (o == NULL)
		return NULL;
	if (json_is_string(json_object_get(sc, "externalId")))
		json_object_set(o, "externalId", json_object_get(sc, "externalId"));
	if (json_is_object(json_object_get(sc, "name")))
		json_object_set_new(o, "name", json_deep_copy(json_object_get(sc, "name")));
	if (dn != NULL && dn[0] != '\0')
		json_object_set_new(o, "displayName", json_string(dn));
	/* the kept list, as long as the directory's email is still its primary */
	emails = json_object_get(sc, "emails");
	if (email != NULL && email[0] != '\0') {
		bool ok = false;
		json_t *e;

		json_array_foreach(emails, i, e)
			if (json_is_string(json_object_get(e, "value")) &&
			    strcasecmp(json_string_value(json_object_get(e, "value")), email) == 0)
				ok = true;
		/* copies: a PATCH changes the representation, never u */
		if (ok)
			json_object_set_new(o, "emails", json_deep_copy(emails));
		else
			json_object_set_new(o, "emails", json_pack("[{s:s, s:s, s:b}]", "value", email,
			    "type", "work", "primary", true));
	}
	groups = json_object_get(u, "groups");
	if (json_array_size(groups) > 0) {
		json_t *arr = json_array();

		json_array_foreach(groups, i, g) {
			snprintf(loc, sizeof(loc), "%s/Groups/%s", s->base, json_string_value(g));
			json_array_append_new(arr, json_pack("{s:O, s:O, s:s, s:s}", "value", g,
			    "display", g, "$ref", loc, "type", "direct"));
		}
		json_object_set_new(o, "groups", arr);
	}
	if (dep != NULL || mgr != NULL) {
		ent = json_object();
		if (dep != NULL)
			json_object_set_new(ent, "department", json_string(dep));
		if (mgr != NULL) {
			snprintf(loc, sizeof(loc), "%s/Users/%s", s->base, mgr);
			json_object_set_new(ent, "manager", util_id_valid("usr", mgr) ?
			    json_pack("{s:s, s:s}", "value", mgr, "$ref", loc) :
			    json_pack("{s:s}", "value", mgr));
		}
		json_object_set_new(o, SCIM_URN_ENTERPRISE, ent);
		json_array_append_new(json_object_get(o, "schemas"), json_string(SCIM_URN_ENTERPRISE));
	}
	snprintf(loc, sizeof(loc), "%s/Users/%s", s->base, id ? id : "");
	scim_version(o, ver);
	meta = json_pack("{s:s, s:s, s:s, s:s, s:s}", "resourceType", "User",
	    "created", json_string_value(json_object_get(u, "created")),
	    "lastModified", json_string_value(json_object_get(u, "updated")),
	    "location", loc, "version", ver);
	json_object_set_new(o, "meta", meta);
	return o;
}

enum pv_rc
scim_user_get(struct scim *s, const struct pv_actor *actor, const char *id, json_t **out,
    struct scim_error *err)
{
	struct directory_result res = { .done = NULL };
	json_t *u = NULL;
	enum pv_rc rc;

	if ((rc = directory_user_get(s->dir, actor, id, &u, &res)) != PV_OK)
		return scim_from_directory(rc, res.message, err);
	*out = to_scim(s, u);
	json_decref(u);
	return *out != NULL ? PV_OK : scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
}

enum pv_rc
scim_user_list(struct scim *s, const struct pv_actor *actor, const struct scim_list_query *q,
    json_t **out, struct scim_error *err)
{
	struct directory_result res = { .done = NULL };
	json_t *users = NULL, *all, *u;
	size_t i;
	enum pv_rc rc;

	if ((rc = directory_user_list(s->dir, actor, NULL, &users, &res)) != PV_OK)
		return scim_from_directory(rc, res.message, err);
	if ((all = json_array()) == NULL) {
		json_decref(users);
		return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	}
	json_array_foreach(users, i, u)
		json_array_append_new(all, to_scim(s, u));
	json_decref(users);
	return scim_list_page(all, SCIM_USER, q, out, err);
}

/* ---- SCIM -> directory ---- */

struct user_want {
	const char *username;
	const char *display_name;
	const char *email;
	char *attributes;            /* malloc'd JSON text */
	bool active;
};

static void
want_clear(struct user_want *w)
{
	free(w->attributes);
	memset(w, 0, sizeof(*w));
}

/* What representation r asks of the user whose current attributes are
 * cur (NULL: a new user). */
static enum pv_rc
want_of(json_t *r, json_t *cur, struct user_want *w, struct scim_error *err)
{
	json_t *attrs, *sc, *ent, *emails, *e, *mgr;
	size_t i;

	memset(w, 0, sizeof(*w));
	w->username = json_string_value(scim_obj_get(r, "userName"));
	if (w->username == NULL)
		return scim_fail(err, PV_E_INVALID, 400, "invalidValue", "userName is required");
	w->display_name = json_string_value(scim_obj_get(r, "displayName"));
	if (w->display_name == NULL)
		w->display_name = "";
	w->email = "";
	emails = scim_obj_get(r, "emails");
	json_array_foreach(emails, i, e) {
		const char *v = json_string_value(scim_obj_get(e, "value"));

		if (v == NULL)
			continue;
		if (w->email[0] == '\0' || json_is_true(scim_obj_get(e, "primary")))
			w->email = v;
	}
	w->active = !json_is_false(scim_obj_get(r, "active"));
	attrs = cur != NULL && json_is_object(cur) ? json_deep_copy(cur) : json_object();
	if (attrs == NULL)
		return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	json_object_del(attrs, "department");
	json_object_del(attrs, "manager");
	json_object_del(attrs, "scim");
	ent = scim_obj_get(r, SCIM_URN_ENTERPRISE);
	if (json_is_string(scim_obj_get(ent, "department")))
		json_object_set(attrs, "department", scim_obj_get(ent, "department"));
	mgr = scim_obj_get(ent, "manager");
	if (json_is_string(scim_obj_get(mgr, "value")))
		json_object_set(attrs, "manager", scim_obj_get(mgr, "value"));
	sc = json_object();
	if (json_is_string(scim_obj_get(r, "externalId")))
		json_object_set(sc, "externalId", scim_obj_get(r, "externalId"));
	if (json_is_object(scim_obj_get(r, "name")))
		json_object_set(sc, "name", scim_obj_get(r, "name"));
	if (json_array_size(emails) > 0)
		json_object_set(sc, "emails", emails);
	if (json_object_size(sc) > 0)
		json_object_set_new(attrs, "scim", sc);
	else
		json_decref(sc);
	w->attributes = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(attrs);
	if (w->attributes == NULL)
		return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	return PV_OK;
}

/* The set's done: the user as the transaction left it, or the failure. */
static enum pv_rc
user_done(enum pv_rc rc, const struct directory_result *res, json_t *read, void *arg)
{
	struct scim_write *w = arg;

	if (rc != PV_OK)
		scim_from_directory(rc, res != NULL ? res->message : NULL, &w->err);
	else if (w->status != 204 && (w->out = to_scim(w->s, read)) == NULL)
		rc = scim_fail(&w->err, PV_E_NOMEM, 500, "", "Out of memory");
	json_decref(read);
	return scim_write_done(w, rc);
}

/* An operation of the set failed (or could not start): nothing of it is
 * submitted; its error in w. */
static enum pv_rc
set_fail(struct directory_set *set, enum pv_rc rc, const struct directory_result *res,
    struct scim_write *w)
{
	if (res != NULL)
		scim_from_directory(rc, res->message, &w->err);
	else
		scim_fail(&w->err, rc, rc == PV_E_NOMEM ? 500 : http_rc_status(rc), "",
		    rc == PV_E_NOMEM ? "Out of memory" : pv_rc_name(rc));
	directory_set_abort(set);
	return rc;
}

/* The leaver (active false) or the way back, as a step of set. */
static enum pv_rc
set_active(struct scim *s, struct directory_set *set, const struct pv_actor *actor,
    const char *id, bool active, struct scim_write *w)
{
	struct directory_result *res = directory_set_result(set);
	enum pv_rc rc;

	if (res == NULL)
		return set_fail(set, PV_E_NOMEM, NULL, w);
	rc = active ? directory_user_enable(s->dir, actor, id, res) :
	    directory_user_disable(s->dir, actor, id, res);
	return rc == PV_OK ? PV_OK : set_fail(set, rc, res, w);
}

/* Open the request's change set. */
static enum pv_rc
set_open(struct scim *s, struct directory_set **set, struct scim_write *w)
{
	enum pv_rc rc = directory_set_begin(s->dir, set);

	if (rc != PV_OK)
		return scim_fail(&w->err, rc, 500, "", "Out of memory");
	return PV_OK;
}

/* Read back id, commit: PV_PENDING, or the answer's rc (w filled). */
static enum pv_rc
set_commit(struct directory_set *set, const char *id, struct scim_write *w)
{
	if (id != NULL && directory_set_read_user(set, id) != PV_OK)
		return set_fail(set, PV_E_INTERNAL, NULL, w);
	w->async = directory_set_async(set);
	return directory_set_commit(set, user_done, w);
}

enum pv_rc
scim_user_create(struct scim *s, const struct pv_actor *actor, json_t *body,
    struct scim_write *wr)
{
	struct directory_user_spec sp;
	struct directory_result *res;
	struct directory_set *set = NULL;
	struct user_want w;
	json_t *r = NULL;
	enum pv_rc rc;

	memset(&w, 0, sizeof(w));
	if ((rc = scim_resource_from_body(body, SCIM_USER, &r, &wr->err)) != PV_OK ||
	    (rc = want_of(r, NULL, &w, &wr->err)) != PV_OK ||
	    (rc = set_open(s, &set, wr)) != PV_OK)
		goto out;
	if ((res = directory_set_result(set)) == NULL) {
		rc = set_fail(set, PV_E_NOMEM, NULL, wr);
		goto out;
	}
	memset(&sp, 0, sizeof(sp));
	sp.username = w.username;
	sp.display_name = w.display_name;
	sp.email = w.email;
	sp.attributes = w.attributes;
	sp.set_roles = true;    /* none: roles come through groups, managed in phivault */
	/* one transaction: the user, and its disable for active false; the
	 * one-time password nobody learns (an admin's reset makes one) is
	 * wiped with the set */
	if ((rc = directory_user_create(s->dir, actor, &sp, res)) != PV_OK) {
		rc = set_fail(set, rc, res, wr);
		goto out;
	}
	if (!w.active && (rc = set_active(s, set, actor, res->id, false, wr)) != PV_OK)
		goto out;
	rc = set_commit(set, res->id, wr);
out:
	want_clear(&w);
	json_decref(r);
	return rc;
}

/* Make user id (directory representation u) what r says: one change set,
 * the leaver first (sessions end before anything else changes), then the
 * update, then the way back; the user read back in its transaction. */
static enum pv_rc
apply(struct scim *s, const struct pv_actor *actor, json_t *u, json_t *r,
    struct scim_write *wr)
{
	const char *cur_id = json_string_value(json_object_get(u, "id"));
	const char **fields;
	struct directory_user_spec sp;
	struct directory_result *res;
	struct directory_set *set = NULL;
	struct user_want w;
	char *cur_attrs = NULL, *id;
	bool was_active;
	enum pv_rc rc;

	if ((rc = want_of(r, json_object_get(u, "attributes"), &w, &wr->err)) != PV_OK)
		return rc;
	if (strcasecmp(w.username, json_string_value(json_object_get(u, "username"))) != 0) {
		rc = scim_fail(&wr->err, PV_E_INVALID, 400, "mutability",
		    "userName cannot change (phivault usernames are permanent)");
		goto out;
	}
	if ((rc = set_open(s, &set, wr)) != PV_OK)
		goto out;
	/* what the steps keep until the commit lives in the set */
	fields = directory_set_alloc(set, 3 * sizeof(*fields));
	id = cur_id != NULL ? directory_set_strdup(set, cur_id) : NULL;
	if (fields == NULL || id == NULL)
		goto nomem;
	memset(&sp, 0, sizeof(sp));
	sp.fields = fields;
	cur_attrs = json_dumps(json_object_get(u, "attributes"), JSON_COMPACT | JSON_SORT_KEYS);
	if (strcmp(w.display_name, json_string_value(json_object_get(u, "display_name"))) != 0) {
		if ((sp.display_name = directory_set_strdup(set, w.display_name)) == NULL)
			goto nomem;
		fields[sp.nfields++] = "display_name";
	}
	if (strcmp(w.email, json_string_value(json_object_get(u, "email"))) != 0) {
		if ((sp.email = directory_set_strdup(set, w.email)) == NULL)
			goto nomem;
		fields[sp.nfields++] = "email";
	}
	if (cur_attrs == NULL || strcmp(cur_attrs, w.attributes) != 0) {
		if ((sp.attributes = directory_set_strdup(set, w.attributes)) == NULL)
			goto nomem;
		fields[sp.nfields++] = "attributes";
	}
	was_active = strcmp(json_string_value(json_object_get(u, "status")), "active") == 0;
	if (was_active && !w.active && (rc = set_active(s, set, actor, id, false, wr)) != PV_OK)
		goto out;
	if (sp.nfields > 0) {
		if ((res = directory_set_result(set)) == NULL) {
			rc = set_fail(set, PV_E_NOMEM, NULL, wr);
			goto out;
		}
		if ((rc = directory_user_update(s->dir, actor, id, &sp, res)) != PV_OK) {
			rc = set_fail(set, rc, res, wr);
			goto out;
		}
	}
	if (!was_active && w.active && (rc = set_active(s, set, actor, id, true, wr)) != PV_OK)
		goto out;
	rc = set_commit(set, id, wr);
out:
	free(cur_attrs);
	want_clear(&w);
	return rc;
nomem:
	rc = set_fail(set, PV_E_NOMEM, NULL, wr);
	goto out;
}

static enum pv_rc
load(struct scim *s, const struct pv_actor *actor, const char *id, json_t **u,
    struct scim_error *err)
{
	struct directory_result res = { .done = NULL };
	enum pv_rc rc;

	if ((rc = directory_user_get(s->dir, actor, id, u, &res)) != PV_OK)
		return scim_from_directory(rc, res.message, err);
	return PV_OK;
}

/* The user's current representation against If-Match. */
static enum pv_rc
precondition(struct scim *s, json_t *u, const char *if_match, struct scim_error *err)
{
	json_t *cur;
	enum pv_rc rc;

	if (if_match == NULL)
		return PV_OK;
	if ((cur = to_scim(s, u)) == NULL)
		return scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
	rc = scim_if_match(cur, if_match, err);
	json_decref(cur);
	return rc;
}

enum pv_rc
scim_user_replace(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w)
{
	json_t *u = NULL, *r = NULL;
	enum pv_rc rc;

	if ((rc = load(s, actor, id, &u, &w->err)) == PV_OK &&
	    (rc = precondition(s, u, if_match, &w->err)) == PV_OK &&
	    (rc = scim_resource_from_body(body, SCIM_USER, &r, &w->err)) == PV_OK)
		rc = apply(s, actor, u, r, w);
	json_decref(u);
	json_decref(r);
	return rc;
}

enum pv_rc
scim_user_patch(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w)
{
	json_t *u = NULL, *r = NULL;
	enum pv_rc rc;

	if ((rc = load(s, actor, id, &u, &w->err)) != PV_OK)
		return rc;
	if ((r = to_scim(s, u)) == NULL) {
		rc = scim_fail(&w->err, PV_E_NOMEM, 500, "", "Out of memory");
		goto out;
	}
	if ((rc = scim_if_match(r, if_match, &w->err)) != PV_OK)
		goto out;
	if ((rc = scim_patch_apply(r, SCIM_USER, body, &w->err)) == PV_OK)
		rc = apply(s, actor, u, r, w);
out:
	json_decref(u);
	json_decref(r);
	return rc;
}

enum pv_rc
scim_user_delete(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, struct scim_write *w)
{
	struct directory_set *set = NULL;
	json_t *u = NULL;
	const char *uid;
	enum pv_rc rc;

	if ((rc = load(s, actor, id, &u, &w->err)) != PV_OK)
		return rc;
	if ((rc = precondition(s, u, if_match, &w->err)) != PV_OK ||
	    (rc = set_open(s, &set, w)) != PV_OK)
		goto out;
	/* a disable: the user stays (the trail names it) */
	if ((uid = directory_set_strdup(set, json_string_value(json_object_get(u, "id")))) == NULL) {
		rc = set_fail(set, PV_E_NOMEM, NULL, w);
		goto out;
	}
	if ((rc = set_active(s, set, actor, uid, false, w)) == PV_OK)
		rc = set_commit(set, NULL, w);
out:
	json_decref(u);
	return rc;
}
