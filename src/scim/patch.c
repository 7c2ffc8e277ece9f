/*
 * scim/patch.c: PATCH (RFC 7644 section 3.5.2) applied to a resource's SCIM
 * representation in memory. The caller (users.c, groups.c) then maps the
 * patched representation onto directory operations exactly like a PUT, so
 * PATCH and PUT share one validation and one write path.
 *
 *   add      path absent: value is an object of attributes, each added
 *            (multi-valued: appended, others: set); path: set, or append
 *            to a multi-valued attribute; with a filter: set on the
 *            matching elements.
 *   replace  like add, but a multi-valued attribute without a filter is
 *            replaced whole.
 *   remove   path required (400 noTarget without); a filter removes the
 *            matching elements (or their sub-attribute); "members" with a
 *            value list removes those members (Entra ID sends this form).
 *
 * Entra ID quirks tolerated (docs/scim.md "Entra ID"): "Add", "Replace",
 * "Remove" in any case; booleans as the strings "True"/"False"; no path
 * with a value object whose keys may be URN-qualified
 * ("urn:...:enterprise:2.0:User:department") or dotted ("name.givenName");
 * emails[type eq "work"].value for an element that does not exist yet
 * (created with type "work"); manager as a plain string (the manager's id).
 *
 * Read-only attributes (id, meta, a user's groups) are 400 mutability.
 * Attributes phivault drops (scim_attr_ignored) are a no-op.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scim/scim_int.h"

bool
scim_bool(json_t *v, bool *out)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	if (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0) {
		*out = true;
		return true;
	}
	if (json_is_string(v) && strcasecmp(json_string_value(v), "false") == 0) {
		*out = false;
		return true;
	}
	return false;
}

/* Delete every case-variant of key from o. */
static void
obj_del(json_t *o, const char *key)
{
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(o, tmp, k, v)
		if (strcasecmp(k, key) == 0)
			json_object_del(o, k);
}

static void
obj_set(json_t *o, const char *key, json_t *v)
{
	obj_del(o, key);
	json_object_set_new(o, key, v);
}

static enum pv_rc
bad_value(struct scim_error *err, const char *detail)
{
	return scim_fail(err, PV_E_INVALID, 400, "invalidValue", detail);
}

static enum pv_rc norm(const struct scim_attr *a, json_t *v, bool element, json_t **out,
    struct scim_error *err);

/* A complex value: an object of known sub-attributes, each normalised. */
static enum pv_rc
norm_complex(const struct scim_attr *a, json_t *v, json_t **out, struct scim_error *err)
{
	const struct scim_attr *s;
	const char *k;
	json_t *o, *x, *n;
	enum pv_rc rc;

	/* Entra ID sends manager as the manager's id */
	if (json_is_string(v) && scim_sub_find(a, "value") != NULL) {
		*out = json_pack("{s:O}", "value", v);
		return *out != NULL ? PV_OK : PV_E_NOMEM;
	}
	if (!json_is_object(v))
		return bad_value(err, "A complex attribute takes an object");
	if ((o = json_object()) == NULL)
		return PV_E_NOMEM;
	json_object_foreach(v, k, x) {
		if ((s = scim_sub_find(a, k)) == NULL) {
			json_decref(o);
			return bad_value(err, "An object names a sub-attribute this server does not "
			    "have");
		}
		if (json_is_null(x))
			continue;
		if ((rc = norm(s, x, false, &n, err)) != PV_OK) {
			json_decref(o);
			return rc;
		}
		json_object_set_new(o, s->name, n);
	}
	*out = o;
	return PV_OK;
}

/* v as attribute a holds it (element: one element of a multi-valued a). */
static enum pv_rc
norm(const struct scim_attr *a, json_t *v, bool element, json_t **out, struct scim_error *err)
{
	json_t *arr, *el, *n;
	bool b;
	size_t i;
	enum pv_rc rc;

	if (a->multi && !element) {
		if ((arr = json_array()) == NULL)
			return PV_E_NOMEM;
		if (!json_is_array(v)) {
			if ((rc = norm(a, v, true, &n, err)) != PV_OK) {
				json_decref(arr);
				return rc;
			}
			json_array_append_new(arr, n);
		} else {
			json_array_foreach(v, i, el) {
				if ((rc = norm(a, el, true, &n, err)) != PV_OK) {
					json_decref(arr);
					return rc;
				}
				json_array_append_new(arr, n);
			}
		}
		*out = arr;
		return PV_OK;
	}
	switch (a->type) {
	case SCIM_T_BOOLEAN:
		if (!scim_bool(v, &b))
			return bad_value(err, "A boolean attribute takes true or false");
		*out = json_boolean(b);
		return PV_OK;
	case SCIM_T_COMPLEX:
		return norm_complex(a, v, out, err);
	default:
		if (!json_is_string(v))
			return bad_value(err, "A string attribute takes a string");
		*out = json_incref(v);
		return PV_OK;
	}
}

static json_t *
container(json_t *res, bool enterprise)
{
	json_t *c;

	if (!enterprise)
		return res;
	if ((c = scim_obj_get(res, SCIM_URN_ENTERPRISE)) == NULL || !json_is_object(c)) {
		c = json_object();
		obj_set(res, SCIM_URN_ENTERPRISE, c);
	}
	return c;
}

/* Is el already in arr (same "value", or equal)? */
static bool
has_element(json_t *arr, json_t *el)
{
	json_t *x, *v = scim_obj_get(el, "value");
	size_t i;

	json_array_foreach(arr, i, x) {
		json_t *xv = scim_obj_get(x, "value");

		if (v != NULL && xv != NULL ? json_equal(v, xv) : json_equal(x, el))
			return true;
	}
	return false;
}

/* add / replace of attribute a (no filter, no sub) with value v. */
static enum pv_rc
set_attr(json_t *c, const struct scim_attr *a, json_t *v, bool add, struct scim_error *err)
{
	json_t *n, *cur, *el;
	size_t i;
	enum pv_rc rc;

	if (a->read_only)
		return scim_fail(err, PV_E_INVALID, 400, "mutability",
		    "The request changes a read-only attribute");
	if (json_is_null(v)) {
		obj_del(c, a->name);
		return PV_OK;
	}
	if ((rc = norm(a, v, false, &n, err)) != PV_OK)
		return rc;
	cur = scim_obj_get(c, a->name);
	if (add && a->multi && json_is_array(cur)) {
		json_array_foreach(n, i, el)
			if (!has_element(cur, el))
				json_array_append(cur, el);
		json_decref(n);
		return PV_OK;
	}
	obj_set(c, a->name, n);
	return PV_OK;
}

/* A value object key: [URN ":"] attr ["." sub]; enterprise URN as a key
 * holds an object of extension attributes. */
static enum pv_rc
set_key(json_t *res, enum scim_kind kind, const char *key, json_t *v, bool add,
    struct scim_error *err)
{
	size_t ul = strlen(SCIM_URN_ENTERPRISE);
	const struct scim_attr *a, *s = NULL;
	char buf[128], *dot;
	bool ent = false;
	json_t *c, *o;
	enum pv_rc rc;

	if (kind == SCIM_USER && strcasecmp(key, SCIM_URN_ENTERPRISE) == 0) {
		const char *k;
		json_t *x;

		if (!json_is_object(v))
			return bad_value(err, "The enterprise extension takes an object");
		json_object_foreach(v, k, x) {
			char q[256];

			snprintf(q, sizeof(q), "%s:%s", SCIM_URN_ENTERPRISE, k);
			if ((rc = set_key(res, kind, q, x, add, err)) != PV_OK)
				return rc;
		}
		return PV_OK;
	}
	if (strcasecmp(key, "schemas") == 0)
		return PV_OK;
	if (kind == SCIM_USER && strncasecmp(key, SCIM_URN_ENTERPRISE, ul) == 0 && key[ul] == ':') {
		ent = true;
		key += ul + 1;
	} else if (strncasecmp(key, "urn:", 4) == 0) {
		const char *core = kind == SCIM_USER ? SCIM_URN_USER : SCIM_URN_GROUP;
		size_t cl = strlen(core);

		if (strncasecmp(key, core, cl) != 0 || key[cl] != ':')
			return scim_fail(err, PV_E_INVALID, 400, "invalidPath",
			    "The value names a schema this server does not have");
		key += cl + 1;
	}
	if (strlen(key) >= sizeof(buf))
		return scim_fail(err, PV_E_INVALID, 400, "invalidPath", "Attribute name too long");
	snprintf(buf, sizeof(buf), "%s", key);
	if ((dot = strchr(buf, '.')) != NULL)
		*dot++ = '\0';
	if ((a = scim_attr_find(kind, ent, buf)) == NULL) {
		if (scim_attr_ignored(kind, ent, buf))
			return PV_OK;
		return scim_fail(err, PV_E_INVALID, 400, "invalidPath",
		    "The value names an attribute this server does not have");
	}
	if (dot != NULL && (s = scim_sub_find(a, dot)) == NULL)
		return scim_fail(err, PV_E_INVALID, 400, "invalidPath",
		    "The value names a sub-attribute this server does not have");
	c = container(res, ent);
	if (s == NULL)
		return set_attr(c, a, v, add, err);
	if (a->read_only || s->read_only)
		return scim_fail(err, PV_E_INVALID, 400, "mutability",
		    "The request changes a read-only attribute");
	if (a->multi)
		return scim_fail(err, PV_E_INVALID, 400, "invalidPath",
		    "A sub-attribute of a multi-valued attribute needs a filter");
	if ((o = scim_obj_get(c, a->name)) == NULL || !json_is_object(o)) {
		o = json_object();
		obj_set(c, a->name, o);
	}
	if (json_is_null(v)) {
		obj_del(o, s->name);
		return PV_OK;
	}
	if ((rc = norm(s, v, false, &v, err)) != PV_OK)
		return rc;
	obj_set(o, s->name, v);
	return PV_OK;
}

/* remove "members" with a value list: drop those elements. */
static void
remove_listed(json_t *arr, json_t *list)
{
	json_t *el;
	size_t i;

	if (!json_is_array(list))
		list = json_pack("[O]", list);
	else
		json_incref(list);
	for (i = json_array_size(arr); i-- > 0;) {
		el = json_array_get(arr, i);
		if (has_element(list, el))
			json_array_remove(arr, i);
	}
	json_decref(list);
}

enum op_kind { OP_ADD, OP_REPLACE, OP_REMOVE };

static enum pv_rc
apply_path(json_t *res, const struct scim_path *p, enum op_kind op, json_t *v,
    struct scim_error *err)
{
	json_t *c = container(res, p->enterprise), *arr, *el, *n;
	const struct scim_attr *a = p->attr;
	size_t i, matched = 0;
	enum pv_rc rc;

	if (a->read_only || (p->sub != NULL && p->sub->read_only))
		return scim_fail(err, PV_E_INVALID, 400, "mutability",
		    "The request changes a read-only attribute");
	if (p->filter == NULL) {
		if (op == OP_REMOVE) {
			if (a->multi && v != NULL && (arr = scim_obj_get(c, a->name)) != NULL &&
			    json_is_array(arr)) {
				remove_listed(arr, v);
				return PV_OK;
			}
			if (p->sub != NULL && !a->multi) {
				if ((el = scim_obj_get(c, a->name)) != NULL)
					obj_del(el, p->sub->name);
				return PV_OK;
			}
			if (p->sub != NULL) {
				json_array_foreach(scim_obj_get(c, a->name), i, el)
					obj_del(el, p->sub->name);
				return PV_OK;
			}
			obj_del(c, a->name);
			return PV_OK;
		}
		if (v == NULL)
			return bad_value(err, "add and replace take a value");
		if (p->sub == NULL)
			return set_attr(c, a, v, op == OP_ADD, err);
		if ((rc = norm(p->sub, v, false, &n, err)) != PV_OK)
			return rc;
		if (a->multi) {
			json_array_foreach(scim_obj_get(c, a->name), i, el)
				obj_set(el, p->sub->name, json_incref(n));
			json_decref(n);
			return PV_OK;
		}
		if ((el = scim_obj_get(c, a->name)) == NULL || !json_is_object(el)) {
			el = json_object();
			obj_set(c, a->name, el);
		}
		obj_set(el, p->sub->name, n);
		return PV_OK;
	}
	/* a value filter: attr[filter][.sub] */
	arr = scim_obj_get(c, a->name);
	if (op == OP_REMOVE) {
		for (i = json_array_size(arr); arr != NULL && i-- > 0;) {
			el = json_array_get(arr, i);
			if (!scim_filter_match(p->filter, el))
				continue;
			if (p->sub != NULL)
				obj_del(el, p->sub->name);
			else
				json_array_remove(arr, i);
		}
		return PV_OK;
	}
	if (v == NULL)
		return bad_value(err, "add and replace take a value");
	if (!json_is_array(arr)) {
		arr = json_array();
		obj_set(c, a->name, arr);
	}
	json_array_foreach(arr, i, el) {
		if (!scim_filter_match(p->filter, el))
			continue;
		matched++;
		if (p->sub != NULL) {
			if ((rc = norm(p->sub, v, false, &n, err)) != PV_OK)
				return rc;
			obj_set(el, p->sub->name, n);
		} else {
			const char *k;
			json_t *x;

			if ((rc = norm(a, v, true, &n, err)) != PV_OK)
				return rc;
			json_object_foreach(n, k, x)
				obj_set(el, k, json_incref(x));
			json_decref(n);
		}
	}
	if (matched > 0)
		return PV_OK;
	/* Entra ID: replace emails[type eq "work"].value on a user without one */
	if (p->eq_attr[0] == '\0')
		return scim_fail(err, PV_E_NOTFOUND, 400, "noTarget",
		    "The path's filter matches no value");
	if ((el = json_pack("{s:s}", p->eq_attr, p->eq_value)) == NULL)
		return PV_E_NOMEM;
	if (p->sub != NULL) {
		if ((rc = norm(p->sub, v, false, &n, err)) != PV_OK) {
			json_decref(el);
			return rc;
		}
		obj_set(el, p->sub->name, n);
	} else {
		const char *k;
		json_t *x;

		if ((rc = norm(a, v, true, &n, err)) != PV_OK) {
			json_decref(el);
			return rc;
		}
		json_object_foreach(n, k, x)
			obj_set(el, k, json_incref(x));
		json_decref(n);
	}
	/* the new element must be one the filter selects */
	if (!scim_filter_match(p->filter, el)) {
		json_decref(el);
		return scim_fail(err, PV_E_NOTFOUND, 400, "noTarget",
		    "The path's filter matches no value");
	}
	json_array_append_new(arr, el);
	return PV_OK;
}

static bool
has_patch_schema(json_t *body)
{
	json_t *s = json_object_get(body, "schemas"), *x;
	size_t i;

	json_array_foreach(s, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), SCIM_URN_PATCH) == 0)
			return true;
	return false;
}

enum pv_rc
scim_patch_apply(json_t *res, enum scim_kind kind, json_t *body, struct scim_error *err)
{
	json_t *ops = json_object_get(body, "Operations"), *o, *v, *x;
	struct scim_path p;
	const char *opname, *path, *k;
	enum op_kind op;
	size_t i;
	enum pv_rc rc;

	if (!json_is_object(body) || !has_patch_schema(body))
		return scim_fail(err, PV_E_INVALID, 400, "invalidSyntax",
		    "A PATCH body has schemas [\"" SCIM_URN_PATCH "\"]");
	if (!json_is_array(ops) || json_array_size(ops) == 0 ||
	    json_array_size(ops) > SCIM_PATCH_MAX_OPS)
		return scim_fail(err, PV_E_INVALID, 400, "invalidSyntax",
		    "Operations must be an array of 1 to 64 operations");
	json_array_foreach(ops, i, o) {
		json_t *jop = scim_obj_get(o, "op"), *jpath = scim_obj_get(o, "path");

		if (!json_is_object(o) || !json_is_string(jop) ||
		    (jpath != NULL && !json_is_string(jpath)))
			return scim_fail(err, PV_E_INVALID, 400, "invalidSyntax",
			    "Each operation has a string op and, optionally, a string path");
		opname = json_string_value(jop);
		if (strcasecmp(opname, "add") == 0)
			op = OP_ADD;
		else if (strcasecmp(opname, "replace") == 0)
			op = OP_REPLACE;
		else if (strcasecmp(opname, "remove") == 0)
			op = OP_REMOVE;
		else
			return scim_fail(err, PV_E_INVALID, 400, "invalidSyntax",
			    "op must be add, replace or remove");
		v = scim_obj_get(o, "value");
		path = jpath != NULL ? json_string_value(jpath) : NULL;
		if (path == NULL || path[0] == '\0') {
			if (op == OP_REMOVE)
				return scim_fail(err, PV_E_INVALID, 400, "noTarget",
				    "remove needs a path");
			if (!json_is_object(v))
				return bad_value(err, "Without a path the value is an object of "
				    "attributes");
			json_object_foreach(v, k, x)
				if ((rc = set_key(res, kind, k, x, op == OP_ADD, err)) != PV_OK)
					return rc;
			continue;
		}
		if ((rc = scim_path_parse(path, kind, &p, err)) != PV_OK)
			return rc;
		rc = p.ignored ? PV_OK : apply_path(res, &p, op, v, err);
		scim_path_clear(&p);
		if (rc != PV_OK)
			return rc;
	}
	return PV_OK;
}

static bool
has_schema(json_t *body, const char *urn)
{
	json_t *s = json_object_get(body, "schemas"), *x;
	size_t i;

	json_array_foreach(s, i, x)
		if (json_is_string(x) && strcasecmp(json_string_value(x), urn) == 0)
			return true;
	return false;
}

enum pv_rc
scim_resource_from_body(json_t *body, enum scim_kind kind, json_t **out,
    struct scim_error *err)
{
	const char *k;
	json_t *res, *v;
	enum pv_rc rc;

	if (!json_is_object(body) ||
	    !has_schema(body, kind == SCIM_USER ? SCIM_URN_USER : SCIM_URN_GROUP))
		return scim_fail(err, PV_E_INVALID, 400, "invalidSyntax", kind == SCIM_USER ?
		    "The body has schemas [\"" SCIM_URN_USER "\", ...]" :
		    "The body has schemas [\"" SCIM_URN_GROUP "\"]");
	if (scim_obj_get(body, "password") != NULL)
		return scim_fail(err, PV_E_INVALID, 400, "invalidValue",
		    "phivault takes no password over SCIM (docs/scim.md \"Signing in\")");
	if ((res = json_object()) == NULL)
		return PV_E_NOMEM;
	json_object_foreach(body, k, v) {
		const struct scim_attr *a = scim_attr_find(kind, false, k);

		if (strcasecmp(k, "schemas") == 0 || (a != NULL && a->read_only))
			continue;
		if ((rc = set_key(res, kind, k, v, false, err)) != PV_OK) {
			/* a body has no paths: an unknown name is a bad body */
			if (strcmp(err->scim_type, "invalidPath") == 0)
				scim_fail(err, rc, 400, "invalidSyntax",
				    "The body names an attribute this server does not have");
			json_decref(res);
			return rc;
		}
	}
	*out = res;
	return PV_OK;
}
