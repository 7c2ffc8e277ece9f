/*
 * body: request bodies as JSON objects, and typed field access for handlers.
 *
 * Invariants:
 *  - A body is accepted only if it is one JSON object (RFC 8259) in valid
 *    UTF-8, with no duplicate keys, no "\u0000" in strings, nesting at most
 *    HTTP_BODY_MAX_DEPTH and size at most HTTP_BODY_HARD_MAX. Everything else
 *    is PV_E_JSON, decided before any handler runs.
 *  - Nesting is checked by a linear pre-scan before jansson sees the input:
 *    jansson's own limit is 2048 levels, far more than an API body needs.
 *  - Error messages name the field (a constant of the handler), never a value.
 */
#include <string.h>

#include "http/http_int.h"

/* Max nesting of objects/arrays in buf, stopping early above max. Strings are
 * skipped (brackets inside them do not count); malformed input is left for
 * the parser to refuse. */
static bool
depth_ok(const char *buf, size_t len, int max)
{
	bool in_str = false, esc = false;
	int depth = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '{':
		case '[':
			if (++depth > max)
				return false;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return true;
}

enum pv_rc
http_parse_body(const char *buf, size_t len, json_t **out)
{
	json_error_t jerr;
	json_t *v;

	if (buf == NULL || len == 0 || len > HTTP_BODY_HARD_MAX)
		return PV_E_JSON;
	/* a raw NUL can only be garbage; refuse it before any parser sees it */
	if (memchr(buf, '\0', len) != NULL)
		return PV_E_JSON;
	if (!depth_ok(buf, len, HTTP_BODY_MAX_DEPTH))
		return PV_E_JSON;
	/* no JSON_DECODE_ANY: a scalar top level is refused by the parser;
	 * no JSON_ALLOW_NUL: strings stay C strings */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		return PV_E_JSON;
	if (!json_is_object(v)) {
		json_decref(v);
		return PV_E_JSON;
	}
	*out = v;
	return PV_OK;
}

/* The message naming a field; the field name is a handler constant. */
static const char *
field_msg(struct http_request *req, const char *what, const char *key)
{
	const char *m = NULL;

	if (req->arena != NULL)
		m = arena_printf(req->arena, "field \"%s\" %s", key, what);
	return m ? m : "invalid field";
}

static bool
field_name_like(const char *s)
{
	size_t n = 0;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n <= 63;
}

enum pv_rc
http_body_only(struct http_request *req, const char *const *allowed)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(req->body, k, v) {
		(void)v;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		req->err_message = field_name_like(k) && req->arena != NULL ?
		    arena_printf(req->arena, "unknown field \"%s\" in the request body", k) : NULL;
		if (req->err_message == NULL)
			req->err_message = "unknown field in the request body";
		return PV_E_INVALID;
	}
	return PV_OK;
}

enum pv_rc
http_body_string(struct http_request *req, const char *key, bool required,
    size_t max_len, const char **out)
{
	const char *msg = NULL;
	json_t *v = NULL;
	enum pv_rc rc = PV_E_INVALID;

	if (req->body != NULL)
		v = json_object_get(req->body, key);
	if (v == NULL || json_is_null(v)) {
		if (!required) {
			*out = NULL;
			return PV_OK;
		}
		msg = field_msg(req, "is required", key);
		goto out;
	}
	if (!json_is_string(v)) {
		msg = field_msg(req, "must be a string", key);
		goto out;
	}
	if (required && json_string_length(v) == 0) {
		msg = field_msg(req, "must not be empty", key);
		goto out;
	}
	if (max_len > 0 && json_string_length(v) > max_len) {
		msg = field_msg(req, "is too long", key);
		goto out;
	}
	*out = json_string_value(v);
	rc = PV_OK;
out:
	if (rc != PV_OK)
		req->err_message = msg;
	return rc;
}
