/*
 * fuzz_scim_filter: the SCIM filter parser (RFC 7644 3.4.2.2), the PATCH
 * path parser and PATCH application (3.5.2), src/scim/filter.c and patch.c.
 *
 * Input: byte 0 picks what the rest is: bit 0..1 = 0 a User filter, 1 a
 * Group filter, 2 a PATCH path, 3 a PATCH body (JSON) applied to a fixed
 * user. Invariants: a refusal is a 400 with a scimType and a detail that
 * does not hold the input; an accepted filter evaluates on a fixed
 * resource (and again, with the same answer); parsing is deterministic; a
 * patch either applies or is a 400 and leaves a JSON object behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scim/scim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char user_text[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"usr_a\","
    "\"userName\":\"alice\",\"externalId\":\"e1\",\"active\":true,\"displayName\":\"A\","
    "\"name\":{\"givenName\":\"A\"},\"emails\":[{\"value\":\"a@w.test\",\"type\":\"work\","
    "\"primary\":true}],\"groups\":[{\"value\":\"g\"}],\"meta\":{\"lastModified\":"
    "\"2026-01-01T00:00:00.000Z\"},\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:"
    "User\":{\"department\":\"d\",\"manager\":{\"value\":\"usr_m\"}}}";

static void
check_refusal(const struct scim_error *err, const char *in)
{
	if (err->status == 500)
		return;   /* out of memory */
	if (err->status != 400 || err->scim_type[0] == '\0')
		abort();
	if (strlen(in) >= 12 && strstr(err->detail, in) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scim_filter *f = NULL, *g = NULL;
	struct scim_error err;
	struct scim_path p;
	json_t *res, *body;
	enum scim_kind kind;
	char *s;
	int mode;

	if (size == 0 || size > 2 * SCIM_FILTER_MAX_LEN)
		return 0;
	mode = data[0] & 3;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	res = json_loads(user_text, 0, NULL);
	if (res == NULL)
		abort();
	kind = mode == 1 ? SCIM_GROUP : SCIM_USER;
	switch (mode) {
	case 0:
	case 1:
		if (scim_filter_parse(s, kind, &f, &err) == PV_OK) {
			bool a = scim_filter_match(f, res);

			if (scim_filter_match(f, res) != a)
				abort();
			if (scim_filter_parse(s, kind, &g, &err) != PV_OK)
				abort();
			if (scim_filter_match(g, res) != a)
				abort();
			scim_filter_free(g);
			scim_filter_free(f);
		} else {
			check_refusal(&err, s);
		}
		break;
	case 2:
		if (scim_path_parse(s, SCIM_USER, &p, &err) == PV_OK) {
			if (!p.ignored && p.attr == NULL)
				abort();
			if (p.filter != NULL)
				(void)scim_filter_match(p.filter,
				    json_array_get(json_object_get(res, "emails"), 0));
			scim_path_clear(&p);
		} else {
			check_refusal(&err, s);
		}
		break;
	default:
		body = json_loadb((const char *)data + 1, size - 1, 0, NULL);
		if (body != NULL) {
			if (scim_patch_apply(res, SCIM_USER, body, &err) != PV_OK &&
			    err.status != 400 && err.status != 500)
				abort();
			if (!json_is_object(res))
				abort();
			json_decref(body);
		}
		break;
	}
	json_decref(res);
	free(s);
	return 0;
}
