/*
 * scim/service.c: the SCIM service (struct scim), its errors (RFC 7644
 * 3.12), ListResponse pages (3.4.2.4), attribute projection (3.4.2.5) and
 * resource versions (3.14).
 *
 * Pagination: startIndex is 1-based (below 1 is 1); count defaults to
 * SCIM_COUNT_DEFAULT and is capped at SCIM_COUNT_MAX (a negative count is
 * 0: totalResults only). The directory is listed whole and filtered in
 * memory (docs/internals/scim.md "Scale").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "http/http.h"
#include "scim/scim_int.h"

enum pv_rc
scim_fail(struct scim_error *err, enum pv_rc rc, int status, const char *type,
    const char *detail)
{
	err->status = status;
	snprintf(err->scim_type, sizeof(err->scim_type), "%s", type ? type : "");
	snprintf(err->detail, sizeof(err->detail), "%s", detail ? detail : "");
	return rc;
}

json_t *
scim_error_json(const struct scim_error *err)
{
	char st[8];
	json_t *o;

	snprintf(st, sizeof(st), "%d", err->status);
	o = json_pack("{s:[s], s:s, s:s}", "schemas", "urn:ietf:params:scim:api:messages:2.0:Error",
	    "status", st, "detail", err->detail);
	if (o != NULL && err->scim_type[0] != '\0')
		json_object_set_new(o, "scimType", json_string(err->scim_type));
	return o;
}

enum pv_rc
scim_from_directory(enum pv_rc rc, const char *message, struct scim_error *err)
{
	const char *m = message != NULL && message[0] != '\0' ? message : pv_rc_name(rc);

	switch (rc) {
	case PV_E_INVALID:
		return scim_fail(err, rc, 400, "invalidValue", m);
	case PV_E_NOTFOUND:
		return scim_fail(err, rc, 404, "", "No such resource");
	case PV_E_CONFLICT:
		return scim_fail(err, rc, 409, "uniqueness", m);
	case PV_E_FORBIDDEN:
		return scim_fail(err, rc, 403, "", m);
	case PV_E_NOMEM:
		return scim_fail(err, rc, 500, "", "Out of memory");
	default:
		return scim_fail(err, rc, http_rc_status(rc), "", m);
	}
}

/* 64-bit FNV-1a: a version tag, not a security measure. */
void
scim_version(json_t *res, char out[32])
{
	json_t *c = json_copy(res);
	char *t;
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;

	if (c != NULL)
		json_object_del(c, "meta");
	t = c != NULL ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	for (p = (const unsigned char *)(t ? t : ""); *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	snprintf(out, 32, "W/\"%016llx\"", (unsigned long long)h);
	free(t);
	json_decref(c);
}

enum pv_rc
scim_if_match(json_t *res, const char *if_match, struct scim_error *err)
{
	const char *v = json_string_value(json_object_get(json_object_get(res, "meta"), "version"));

	if (if_match == NULL || strcmp(if_match, "*") == 0 || (v != NULL && strcmp(if_match, v) == 0))
		return PV_OK;
	return scim_fail(err, PV_E_CONFLICT, 412, "", "The resource changed (If-Match does not match "
	    "its version)");
}

enum pv_rc
scim_list_page(json_t *all, enum scim_kind kind, const struct scim_list_query *q,
    json_t **out, struct scim_error *err)
{
	struct scim_filter *f = NULL;
	json_t *page = NULL, *o, *el;
	long start = q->start_index < 1 ? 1 : q->start_index;
	long count = q->count < 0 ? 0 : (q->count > SCIM_COUNT_MAX ? SCIM_COUNT_MAX : q->count);
	size_t i, total = 0;
	enum pv_rc rc;

	if (q->filter != NULL && (rc = scim_filter_parse(q->filter, kind, &f, err)) != PV_OK) {
		json_decref(all);
		return rc;
	}
	if ((page = json_array()) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	json_array_foreach(all, i, el) {
		if (f != NULL && !scim_filter_match(f, el))
			continue;
		total++;
		if ((long)total >= start && (long)json_array_size(page) < count)
			json_array_append(page, el);
	}
	o = json_pack("{s:[s], s:I, s:I, s:I, s:O}", "schemas", SCIM_URN_LIST,
	    "totalResults", (json_int_t)total, "startIndex", (json_int_t)start,
	    "itemsPerPage", (json_int_t)json_array_size(page), "Resources", page);
	if (o == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	*out = o;
	rc = PV_OK;
out:
	if (rc == PV_E_NOMEM)
		scim_fail(err, rc, 500, "", "Out of memory");
	json_decref(page);
	json_decref(all);
	scim_filter_free(f);
	return rc;
}

/* Is name in the comma-separated list (case-insensitive, a URN-qualified
 * name counts by its last component)? */
static bool
listed(const char *list, const char *name)
{
	const char *p = list, *e, *c;
	size_t n;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		e = p + strcspn(p, ",");
		n = (size_t)(e - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		/* urn:...:User:userName -> userName */
		for (c = p + n; c > p && c[-1] != ':'; c--)
			;
		if (c != p && (size_t)(c - p) < n)
			n -= (size_t)(c - p), p = c;
		if (n == strlen(name) && strncasecmp(p, name, n) == 0)
			return true;
		if (n > strlen(name) && strncasecmp(p, name, strlen(name)) == 0 &&
		    p[strlen(name)] == '.')
			return true;   /* name.givenName keeps name */
		p = e;
	}
	return false;
}

void
scim_project(json_t *res, const char *attributes, const char *excluded)
{
	const char *k;
	json_t *v;
	void *tmp;

	if (!json_is_object(res))
		return;
	json_object_foreach_safe(res, tmp, k, v) {
		bool keep = true;

		/* returned "always": never projected away */
		if (strcmp(k, "id") == 0 || strcmp(k, "schemas") == 0)
			continue;
		if (attributes != NULL && attributes[0] != '\0')
			keep = listed(attributes, k) || (strcmp(k, SCIM_URN_ENTERPRISE) == 0 &&
			    (listed(attributes, "department") || listed(attributes, "manager")));
		else if (excluded != NULL && excluded[0] != '\0')
			keep = !listed(excluded, k);
		if (!keep)
			json_object_del(res, k);
	}
}

enum pv_rc
scim_new(const struct scim_config *c, struct scim **out)
{
	struct scim *s;

	if (c == NULL || c->directory == NULL || c->cfg == NULL || out == NULL)
		return PV_E_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PV_E_NOMEM;
	s->dir = c->directory;
	s->cfg = c->cfg;
	snprintf(s->base, sizeof(s->base), "%s/scim/v2", c->cfg->public_url);
	*out = s;
	return PV_OK;
}

void
scim_free(struct scim *s)
{
	free(s);
}
