/*
 * json_out: the compact JSON text of a response body, written straight into
 * the request's arena.
 *
 * Why not json_dumpb: jansson's encoder walks every string one UTF-8
 * character at a time through a callback; on a 1 KiB record read that was
 * a tenth of the server's CPU (perf, bench/results, docs/performance.md).
 * The values we encode were built by jansson, so their strings are already
 * valid UTF-8 and need only the escapes RFC 8259 section 7 requires. This
 * encoder scans for those bytes and copies the runs between them.
 *
 * Output is byte-for-byte what json_dumpb(v, JSON_COMPACT) gives (tested in
 * tests/unit/http/test_json_out.c): same key order (insertion order), same
 * escapes ("\"", "\\", \b \f \n \r \t, other controls as \u00XX in upper
 * case; '/' and non-ASCII as is), integers in decimal. Reals are rare in
 * responses and are handed to jansson, so their format is jansson's by
 * construction.
 *
 * Two passes over the value: the exact length first, then the bytes into
 * one arena allocation (no regrowth, no copy). Nesting deeper than
 * JSON_OUT_MAX_DEPTH falls back to json_dumpb; handlers never build that.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

#define JSON_OUT_MAX_DEPTH 64

/* Strings: util_json_string_len / util_json_string_put (util/json_text.c),
 * the escapes listed above. */

/* Length of v's text; SIZE_MAX if it cannot be encoded here. */
static size_t
value_len(const json_t *v, int depth)
{
	size_t n, sub;
	char num[32];

	if (depth > JSON_OUT_MAX_DEPTH)
		return SIZE_MAX;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		size_t klen, i = 0;
		json_t *m;

		n = 2;
		json_object_keylen_foreach((json_t *)v, key, klen, m) {
			sub = value_len(m, depth + 1);
			if (sub == SIZE_MAX)
				return SIZE_MAX;
			n += (i++ ? 1 : 0) + util_json_string_len(key, klen) + 1 + sub;
		}
		return n;
	}
	case JSON_ARRAY: {
		size_t i, count = json_array_size(v);

		n = 2;
		for (i = 0; i < count; i++) {
			sub = value_len(json_array_get(v, i), depth + 1);
			if (sub == SIZE_MAX)
				return SIZE_MAX;
			n += (i ? 1 : 0) + sub;
		}
		return n;
	}
	case JSON_STRING:
		return util_json_string_len(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	case JSON_REAL:
		n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT);
		return n == 0 ? SIZE_MAX : n;
	case JSON_TRUE:
		return 4;
	case JSON_FALSE:
		return 5;
	case JSON_NULL:
		return 4;
	}
	return SIZE_MAX;
}

/* Write v at p (room measured by value_len); returns the end. */
static char *
value_put(char *p, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		size_t klen;
		json_t *m;
		bool first = true;

		*p++ = '{';
		json_object_keylen_foreach((json_t *)v, key, klen, m) {
			if (!first)
				*p++ = ',';
			first = false;
			p = util_json_string_put(p, key, klen);
			*p++ = ':';
			p = value_put(p, m);
		}
		*p++ = '}';
		return p;
	}
	case JSON_ARRAY: {
		size_t i, count = json_array_size(v);

		*p++ = '[';
		for (i = 0; i < count; i++) {
			if (i)
				*p++ = ',';
			p = value_put(p, json_array_get(v, i));
		}
		*p++ = ']';
		return p;
	}
	case JSON_STRING:
		return util_json_string_put(p, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		char num[32];
		int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));

		memcpy(p, num, (size_t)n);
		return p + n;
	}
	case JSON_REAL: {
		/* the same call value_len measured; dumpb writes exactly n bytes, no NUL */
		size_t n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT);

		return p + json_dumpb(v, p, n, JSON_ENCODE_ANY | JSON_COMPACT);
	}
	case JSON_TRUE:
		memcpy(p, "true", 4);
		return p + 4;
	case JSON_FALSE:
		memcpy(p, "false", 5);
		return p + 5;
	case JSON_NULL:
		memcpy(p, "null", 4);
		return p + 4;
	}
	return p;
}

/* jansson's own encoder, for what this one does not take. */
static enum pv_rc
fallback(struct pv_arena *a, const json_t *v, char **out, size_t *len)
{
	size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	char *buf;

	if (n == 0)
		return PV_E_INTERNAL;
	buf = arena_alloc(a, n + 1);
	if (buf == NULL)
		return PV_E_NOMEM;
	if (json_dumpb(v, buf, n, JSON_COMPACT | JSON_ENCODE_ANY) != n)
		return PV_E_INTERNAL;
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return PV_OK;
}

enum pv_rc
http_json_encode(struct pv_arena *a, const json_t *v, char **out, size_t *len)
{
	size_t n;
	char *buf, *end;

	if (a == NULL || v == NULL || out == NULL || len == NULL)
		return PV_E_INVALID;
	n = value_len(v, 0);
	if (n == SIZE_MAX || n > HTTP_BODY_HARD_MAX)
		return fallback(a, v, out, len);
	buf = arena_alloc(a, n + 1);
	if (buf == NULL)
		return PV_E_NOMEM;
	end = value_put(buf, v);
	if ((size_t)(end - buf) != n)   /* a real whose text changed length: cannot be */
		return fallback(a, v, out, len);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return PV_OK;
}
