/*
 * cond: the condition language of roles and access policies
 * (docs/access-control.md "Conditions"), compiled once into a flat,
 * position-independent form and evaluated by the decision point.
 *
 * A condition is a JSON object; each key is a test and all keys must hold:
 *   "purpose" | "purposes"  [HL7 PurposeOfUse codes]   (PHI reads only)
 *   "principal"  {"attr": "value" | ["v1","v2"], ...}  principal attributes
 *   "match"      {"record": "<field>", "principal": "<attr>"}
 *   "labels"     {"none_of"|"any_of"|"all_of": [codes]}
 *   "source"     ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]
 *   "time"       {"tz":"Europe/Paris","days":["mon",...],"from":"08:00","to":"18:00"}
 *   "mfa"        {"required":true,"max_age_s":N,"methods":["totp","webauthn","recovery"]}
 *   "all" [c...], "any" [c...], "not" c
 *
 * Compiled form: nodes in a byte area (struct authz_cbuf), each 8-aligned,
 * referring to children and strings by offset into the same area, so a
 * policy block (authz.h struct authz_policy) is copied with one memcpy.
 * Time zones are pointers into tz.c's table, which lives as long as the
 * process.
 *
 * Evaluation is three-valued: TRUE, FALSE, UNKNOWN. Record labels and
 * fields are UNKNOWN until the record is loaded (request resource.loaded);
 * the purpose of use is UNKNOWN at the route stage. FALSE carries the first
 * failing leaf (the reason the decision point reports). In an object the
 * keys are evaluated in a fixed order (purpose, principal, match, labels,
 * source, time, mfa, then all, any, not), so a step-up is only asked for
 * when everything else in that object held.
 *
 * Invariants: the compiler is a parser of untrusted input (fuzzed:
 * tests/fuzz/fuzz_authz_policy.c): bounded depth, sizes and counts, no
 * input echoed in errors except key names it defines itself; evaluation
 * reads only the request and the area, allocates nothing.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

#define COND_DEPTH_MAX 8
#define COND_LIST_MAX 64
#define COND_AREA_MAX (1024 * 1024)
#define ATTR_VALUE_MAX 256
#define ATTRS_KEPT 64

enum op {
	OP_TRUE = 1, OP_FALSE, OP_ALL, OP_ANY, OP_NOT, OP_SOURCE, OP_TIME, OP_MFA, OP_PURPOSE,
	OP_PRINCIPAL, OP_LABELS, OP_MATCH,
};

struct cnode {
	uint8_t op;
	uint8_t flag;                    /* mfa: required; labels: 0 none_of 1 any_of 2 all_of */
	uint16_t n;                      /* children / items */
	int32_t a;                       /* op-specific */
	int64_t b;                       /* op-specific */
};

struct cidr {
	uint8_t fam;                     /* 4 or 6 */
	uint8_t bits;
	uint8_t addr[16];
};

struct ctime {
	const struct authz_tz *tz;
	uint8_t days;                    /* bit 0 = sunday ... bit 6 = saturday */
	uint16_t from, to;               /* minutes of the day; to may be 1440 */
};

#define MFA_TOTP 0x1
#define MFA_WEBAUTHN 0x2
#define MFA_RECOVERY 0x4

/* ------------------------------------------------------------ the area */

static int32_t
area_alloc(struct authz_cbuf *cb, size_t n)
{
	size_t at, need;
	uint8_t *nb;

	/* offset 0 is never a node: 0 means "no condition" (zeroed grants) */
	if (cb->len == 0)
		cb->len = 8;
	at = (cb->len + 7) & ~(size_t)7;
	need = at + n;

	if (cb->oom || need > COND_AREA_MAX) {
		cb->oom = true;
		return -1;
	}
	if (need > cb->cap) {
		size_t cap = cb->cap ? cb->cap : 512;

		while (cap < need)
			cap *= 2;
		if ((nb = realloc(cb->b, cap)) == NULL) {
			cb->oom = true;
			return -1;
		}
		memset(nb + cb->cap, 0, cap - cb->cap);
		cb->b = nb;
		cb->cap = cap;
	}
	memset(cb->b + (cb->len < 8 ? 0 : cb->len), 0, need - (cb->len < 8 ? 0 : cb->len));
	cb->len = need;
	return (int32_t)at;
}

int32_t
authz_cbuf_str(struct authz_cbuf *cb, const char *s)
{
	size_t n = strlen(s) + 1;
	int32_t at = area_alloc(cb, n);

	if (at >= 0)
		memcpy(cb->b + at, s, n);
	return at;
}

int32_t
authz_cbuf_alloc(struct authz_cbuf *cb, size_t n)
{
	return area_alloc(cb, n);
}

void
authz_cbuf_free(struct authz_cbuf *cb)
{
	free(cb->b);
	memset(cb, 0, sizeof(*cb));
}

static struct cnode *
node_at(struct authz_cbuf *cb, int32_t at)
{
	return (struct cnode *)(void *)(cb->b + at);
}

/* A node with room for extra payload bytes after it. */
static int32_t
node_new(struct authz_cbuf *cb, enum op op, size_t extra)
{
	int32_t at = area_alloc(cb, sizeof(struct cnode) + extra);

	if (at >= 0)
		node_at(cb, at)->op = (uint8_t)op;
	return at;
}

static void *
payload(uint8_t *base, int32_t at)
{
	return base + at + sizeof(struct cnode);
}

/* ----------------------------------------------------------- compiling */

struct cc {
	struct authz_cbuf *cb;
	unsigned needs;
	bool lenient;                    /* stored rows: accept the legacy purpose string */
	char *why;
	size_t whylen;
};

static enum pv_rc
bad(struct cc *c, const char *msg)
{
	if (c->why != NULL && c->whylen > 0 && c->why[0] == '\0')
		snprintf(c->why, c->whylen, "%s", msg);
	return PV_E_INVALID;
}

static bool
token_ok(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];

		if (i >= max || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

/* An array of 1..max distinct strings each passing ok(); offsets into offs. */
static enum pv_rc
string_list(struct cc *c, const json_t *arr, size_t max, bool (*ok)(const char *),
    const char *what, int32_t *offs, size_t *n)
{
	size_t i, k;
	char msg[160];

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > max) {
		snprintf(msg, sizeof(msg), "%s must be a non-empty array of at most %zu strings",
		    what, max);
		return bad(c, msg);
	}
	for (i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (!ok(s)) {
			snprintf(msg, sizeof(msg), "%s[%zu] is not valid", what, i);
			return bad(c, msg);
		}
		for (k = 0; k < i; k++)
			if (strcmp(s, json_string_value(json_array_get(arr, k))) == 0) {
				snprintf(msg, sizeof(msg), "%s[%zu] is a duplicate", what, i);
				return bad(c, msg);
			}
		if (offs != NULL && (offs[i] = authz_cbuf_str(c->cb, s)) < 0)
			return PV_E_NOMEM;
	}
	*n = i;
	return PV_OK;
}

static bool
label_ok(const char *s)
{
	return token_ok(s, 64);
}

static bool
attr_name_ok(const char *s)
{
	return token_ok(s, 64);
}

static bool
attr_value_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= ATTR_VALUE_MAX;
}

static bool
purpose_ok(const char *s)
{
	return authz_purpose_valid(s);
}

/* "a.b.c.d[/n]" or "v6[/n]". */
static bool
cidr_parse(const char *s, struct cidr *out)
{
	char buf[64], *slash;
	long bits = -1;
	int max;

	if (s == NULL || strlen(s) >= sizeof(buf))
		return false;
	memset(out, 0, sizeof(*out));
	memcpy(buf, s, strlen(s) + 1);
	if ((slash = strchr(buf, '/')) != NULL) {
		char *end;

		*slash = '\0';
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return false;
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0')
			return false;
	}
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->fam = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->fam = 6;
		max = 128;
	} else {
		return false;
	}
	if (bits < 0)
		bits = max;
	if (bits > max)
		return false;
	out->bits = (uint8_t)bits;
	return true;
}

static bool
hhmm(const char *s, bool allow_24, uint16_t *out)
{
	int h, m;

	if (s == NULL || strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' ||
	    s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return false;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || (h == 24 && (m != 0 || !allow_24)))
		return false;
	*out = (uint16_t)(h * 60 + m);
	return true;
}

static int
day_bit(const char *s)
{
	static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	int i;

	for (i = 0; s != NULL && i < 7; i++)
		if (strcmp(s, days[i]) == 0)
			return i;
	return -1;
}

static enum pv_rc compile_obj(struct cc *c, const json_t *o, int depth, int32_t *out);

static enum pv_rc
c_source(struct cc *c, const json_t *v, int32_t *out)
{
	size_t i, n = json_array_size(v);
	struct cidr one;
	int32_t at;

	if (!json_is_array(v) || n == 0 || n > COND_LIST_MAX)
		return bad(c, "source must be a non-empty array of at most 64 CIDR blocks");
	if ((at = node_new(c->cb, OP_SOURCE, n * sizeof(struct cidr))) < 0)
		return PV_E_NOMEM;
	for (i = 0; i < n; i++) {
		char msg[96];

		if (!cidr_parse(json_string_value(json_array_get(v, i)), &one)) {
			snprintf(msg, sizeof(msg), "source[%zu] is not an IPv4 or IPv6 CIDR block", i);
			return bad(c, msg);
		}
		memcpy((struct cidr *)payload(c->cb->b, at) + i, &one, sizeof(one));
	}
	node_at(c->cb, at)->n = (uint16_t)n;
	*out = at;
	return PV_OK;
}

static enum pv_rc
c_time(struct cc *c, const json_t *v, int32_t *out)
{
	const char *k, *zname = "UTC";
	const json_t *x, *days = NULL, *from = NULL, *to = NULL;
	struct ctime t;
	int32_t at;
	size_t i;

	if (!json_is_object(v))
		return bad(c, "time must be an object {tz, days, from, to}");
	memset(&t, 0, sizeof(t));
	json_object_foreach((json_t *)v, k, x) {
		if (strcmp(k, "tz") == 0) {
			if ((zname = json_string_value(x)) == NULL)
				return bad(c, "time.tz must be a time zone name (e.g. Europe/Paris)");
		} else if (strcmp(k, "days") == 0) {
			days = x;
		} else if (strcmp(k, "from") == 0) {
			from = x;
		} else if (strcmp(k, "to") == 0) {
			to = x;
		} else {
			return bad(c, "time takes only tz, days, from and to");
		}
	}
	if ((t.tz = authz_tz_get(zname)) == NULL)
		return bad(c, "time.tz is not a known time zone (a name under /usr/share/zoneinfo, "
		    "e.g. Europe/Paris or UTC)");
	if (days != NULL) {
		if (!json_is_array(days) || json_array_size(days) == 0 || json_array_size(days) > 7)
			return bad(c, "time.days must be a non-empty array of mon, tue, wed, thu, fri, "
			    "sat, sun");
		for (i = 0; i < json_array_size(days); i++) {
			int b = day_bit(json_string_value(json_array_get(days, i)));

			if (b < 0 || (t.days & (1u << b)) != 0)
				return bad(c, "time.days must be distinct days among mon, tue, wed, thu, "
				    "fri, sat, sun");
			t.days |= (uint8_t)(1u << b);
		}
	} else {
		t.days = 0x7f;
	}
	if ((from == NULL) != (to == NULL))
		return bad(c, "time needs both from and to (or neither: the whole day)");
	if (from == NULL) {
		t.from = 0;
		t.to = 1440;
	} else if (!hhmm(json_string_value(from), false, &t.from) ||
	    !hhmm(json_string_value(to), true, &t.to)) {
		return bad(c, "time.from and time.to must be HH:MM (00:00 to 23:59; to may be 24:00)");
	} else if (t.from == t.to) {
		return bad(c, "time.from and time.to must differ (a window crossing midnight has "
		    "from > to)");
	}
	if ((at = node_new(c->cb, OP_TIME, sizeof(t))) < 0)
		return PV_E_NOMEM;
	memcpy(payload(c->cb->b, at), &t, sizeof(t));
	*out = at;
	return PV_OK;
}

static enum pv_rc
c_mfa(struct cc *c, const json_t *v, int32_t *out)
{
	const char *k;
	const json_t *x;
	bool required = true;
	int64_t max_age = -1;
	unsigned methods = 0;
	size_t i;
	int32_t at;

	if (!json_is_object(v))
		return bad(c, "mfa must be an object {required, max_age_s, methods}");
	json_object_foreach((json_t *)v, k, x) {
		if (strcmp(k, "required") == 0) {
			if (!json_is_boolean(x))
				return bad(c, "mfa.required must be true or false");
			required = json_is_true(x);
		} else if (strcmp(k, "max_age_s") == 0) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > 31536000)
				return bad(c, "mfa.max_age_s must be an integer from 1 to 31536000");
			max_age = json_integer_value(x);
		} else if (strcmp(k, "methods") == 0) {
			if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > 3)
				return bad(c, "mfa.methods must be a non-empty array of totp, webauthn, "
				    "recovery");
			for (i = 0; i < json_array_size(x); i++) {
				const char *m = json_string_value(json_array_get(x, i));

				if (m != NULL && strcmp(m, "totp") == 0)
					methods |= MFA_TOTP;
				else if (m != NULL && strcmp(m, "webauthn") == 0)
					methods |= MFA_WEBAUTHN;
				else if (m != NULL && strcmp(m, "recovery") == 0)
					methods |= MFA_RECOVERY;
				else
					return bad(c, "mfa.methods must be a non-empty array of totp, "
					    "webauthn, recovery");
			}
		} else {
			return bad(c, "mfa takes only required, max_age_s and methods");
		}
	}
	if (!required && (max_age >= 0 || methods != 0))
		return bad(c, "mfa.max_age_s and mfa.methods need mfa.required = true");
	if ((at = node_new(c->cb, OP_MFA, 0)) < 0)
		return PV_E_NOMEM;
	node_at(c->cb, at)->flag = required;
	node_at(c->cb, at)->a = (int32_t)(methods != 0 ? methods : MFA_TOTP | MFA_WEBAUTHN |
	    MFA_RECOVERY);
	node_at(c->cb, at)->b = max_age;
	*out = at;
	return PV_OK;
}

static enum pv_rc
c_purpose(struct cc *c, const json_t *v, int32_t *out)
{
	unsigned set = 0, bit;
	size_t i, n;
	int32_t at;
	enum pv_rc rc;

	if (json_is_string(v) && c->lenient) {
		/* roles stored before the condition engine: "TREAT,HPAYMT" */
		if (authz_purpose_list_parse(json_string_value(v), &set) != PV_OK)
			set = 0;
	} else {
		if ((rc = string_list(c, v, 16, purpose_ok, "purpose", NULL, &n)) != PV_OK) {
			if (!c->lenient)
				return rc;
			/* a stored list with an unknown code allows nothing */
			for (i = 0; i < json_array_size(v); i++)
				if (authz_purpose_parse(json_string_value(json_array_get(v, i)),
				    &bit) == PV_OK)
					set |= bit;
			if (!json_is_array(v))
				set = 0;
			if (c->why != NULL)
				c->why[0] = '\0';
		} else {
			for (i = 0; i < n; i++)
				if (authz_purpose_parse(json_string_value(json_array_get(v, i)),
				    &bit) == PV_OK)
					set |= bit;
		}
	}
	if ((at = node_new(c->cb, OP_PURPOSE, 0)) < 0)
		return PV_E_NOMEM;
	node_at(c->cb, at)->a = (int32_t)set;
	*out = at;
	return PV_OK;
}

static int32_t
list_node(struct cc *c, enum op op, const int32_t *items, size_t n)
{
	int32_t at = node_new(c->cb, op, n * sizeof(int32_t));

	if (at < 0)
		return -1;
	node_at(c->cb, at)->n = (uint16_t)n;
	memcpy(payload(c->cb->b, at), items, n * sizeof(int32_t));
	return at;
}

/* All of several nodes: the node itself if one. */
static enum pv_rc
all_of(struct cc *c, const int32_t *items, size_t n, int32_t *out)
{
	int32_t at;

	if (n == 1) {
		*out = items[0];
		return PV_OK;
	}
	if ((at = list_node(c, OP_ALL, items, n)) < 0)
		return PV_E_NOMEM;
	*out = at;
	return PV_OK;
}

static enum pv_rc
c_principal(struct cc *c, const json_t *v, int32_t *out)
{
	int32_t items[16], vals[COND_LIST_MAX], at;
	const char *k;
	const json_t *x;
	size_t n = 0, nv;
	enum pv_rc rc;

	if (!json_is_object(v) || json_object_size(v) == 0 || json_object_size(v) > 16)
		return bad(c, "principal must be an object of 1 to 16 attribute tests "
		    "{\"attr\": \"value\" | [\"value\", ...]}");
	json_object_foreach((json_t *)v, k, x) {
		if (!attr_name_ok(k))
			return bad(c, "principal: attribute names are [A-Za-z0-9_.-]{1,64}");
		if (json_is_string(x)) {
			if (!attr_value_ok(json_string_value(x)))
				return bad(c, "principal: values are 1 to 256 bytes");
			if ((vals[0] = authz_cbuf_str(c->cb, json_string_value(x))) < 0)
				return PV_E_NOMEM;
			nv = 1;
		} else if ((rc = string_list(c, x, COND_LIST_MAX, attr_value_ok, "principal value",
		    vals, &nv)) != PV_OK) {
			return rc;
		}
		if ((at = node_new(c->cb, OP_PRINCIPAL, nv * sizeof(int32_t))) < 0)
			return PV_E_NOMEM;
		node_at(c->cb, at)->n = (uint16_t)nv;
		memcpy(payload(c->cb->b, at), vals, nv * sizeof(int32_t));
		if ((node_at(c->cb, at)->a = authz_cbuf_str(c->cb, k)) < 0)
			return PV_E_NOMEM;
		items[n++] = at;
	}
	c->needs |= AUTHZ_NEEDS_PRINCIPAL;
	return all_of(c, items, n, out);
}

static enum pv_rc
c_labels(struct cc *c, const json_t *v, int32_t *out)
{
	static const char *const kinds[] = { "none_of", "any_of", "all_of" };
	int32_t items[3], vals[COND_LIST_MAX], at;
	size_t n = 0, nv, i;
	const json_t *x;
	enum pv_rc rc;

	if (!json_is_object(v) || json_object_size(v) == 0)
		return bad(c, "labels must be an object with none_of, any_of or all_of");
	for (i = 0; i < 3; i++) {
		if ((x = json_object_get(v, kinds[i])) == NULL)
			continue;
		if ((rc = string_list(c, x, COND_LIST_MAX, label_ok, kinds[i], vals, &nv)) != PV_OK)
			return rc;
		if ((at = node_new(c->cb, OP_LABELS, nv * sizeof(int32_t))) < 0)
			return PV_E_NOMEM;
		node_at(c->cb, at)->flag = (uint8_t)i;
		node_at(c->cb, at)->n = (uint16_t)nv;
		memcpy(payload(c->cb->b, at), vals, nv * sizeof(int32_t));
		items[n++] = at;
	}
	if (n != json_object_size(v))
		return bad(c, "labels takes only none_of, any_of and all_of");
	c->needs |= AUTHZ_NEEDS_RECORD;
	return all_of(c, items, n, out);
}

static enum pv_rc
c_match(struct cc *c, const json_t *v, int32_t *out)
{
	const char *rf = json_string_value(json_object_get(v, "record"));
	const char *pa = json_string_value(json_object_get(v, "principal"));
	int32_t at;

	if (!json_is_object(v) || json_object_size(v) != 2 || rf == NULL || pa == NULL ||
	    !authz_name_valid(rf) || strcmp(rf, "*") == 0 || !attr_name_ok(pa))
		return bad(c, "match must be {\"record\": \"<field name>\", \"principal\": "
		    "\"<attribute>\"}");
	if ((at = node_new(c->cb, OP_MATCH, 0)) < 0)
		return PV_E_NOMEM;
	if ((node_at(c->cb, at)->a = authz_cbuf_str(c->cb, rf)) < 0 ||
	    (node_at(c->cb, at)->b = authz_cbuf_str(c->cb, pa)) < 0)
		return PV_E_NOMEM;
	c->needs |= AUTHZ_NEEDS_PRINCIPAL | AUTHZ_NEEDS_RECORD;
	*out = at;
	return PV_OK;
}

static enum pv_rc
c_list(struct cc *c, const json_t *v, enum op op, int depth, int32_t *out)
{
	int32_t items[32];
	size_t i, n = json_array_size(v);
	enum pv_rc rc;

	if (!json_is_array(v) || n == 0 || n > 32)
		return bad(c, op == OP_ALL ? "all must be a non-empty array of at most 32 conditions"
		    : "any must be a non-empty array of at most 32 conditions");
	for (i = 0; i < n; i++)
		if ((rc = compile_obj(c, json_array_get(v, i), depth + 1, &items[i])) != PV_OK)
			return rc;
	if ((*out = list_node(c, op, items, n)) < 0)
		return PV_E_NOMEM;
	return PV_OK;
}

static enum pv_rc
compile_obj(struct cc *c, const json_t *o, int depth, int32_t *out)
{
	static const char *const order[] = { "purpose", "purposes", "principal", "match",
		"labels", "source", "time", "mfa", "all", "any", "not", NULL };
	int32_t items[16];
	size_t i, n = 0, seen = 0;
	const json_t *v;
	enum pv_rc rc;

	if (depth > COND_DEPTH_MAX)
		return bad(c, "condition nested too deeply (at most 8 levels)");
	if (!json_is_object(o))
		return bad(c, "a condition must be a JSON object");
	if (json_object_get(o, "purpose") != NULL && json_object_get(o, "purposes") != NULL)
		return bad(c, "condition: purpose and purposes are the same test; give one");
	for (i = 0; order[i] != NULL; i++) {
		int32_t at = -1;

		if ((v = json_object_get(o, order[i])) == NULL)
			continue;
		seen++;
		switch (i) {
		case 0: case 1: rc = c_purpose(c, v, &at); break;
		case 2: rc = c_principal(c, v, &at); break;
		case 3: rc = c_match(c, v, &at); break;
		case 4: rc = c_labels(c, v, &at); break;
		case 5: rc = c_source(c, v, &at); break;
		case 6: rc = c_time(c, v, &at); break;
		case 7: rc = c_mfa(c, v, &at); break;
		case 8: rc = c_list(c, v, OP_ALL, depth, &at); break;
		case 9: rc = c_list(c, v, OP_ANY, depth, &at); break;
		default: rc = compile_obj(c, v, depth + 1, &at);
			if (rc == PV_OK) {
				int32_t child = at;

				if ((at = node_new(c->cb, OP_NOT, 0)) < 0)
					return PV_E_NOMEM;
				node_at(c->cb, at)->a = child;
			}
			break;
		}
		if (rc != PV_OK)
			return rc;
		items[n++] = at;
	}
	if (seen != json_object_size(o))
		return bad(c, "condition: unknown key (use purpose, principal, match, labels, "
		    "source, time, mfa, all, any, not)");
	if (n == 0) {
		if ((*out = node_new(c->cb, OP_TRUE, 0)) < 0)
			return PV_E_NOMEM;
		return PV_OK;
	}
	return all_of(c, items, n, out);
}

enum pv_rc
authz_cond_compile(struct authz_cbuf *cb, const json_t *cond, bool lenient, int32_t *root,
    unsigned *needs, char *why, size_t whylen)
{
	struct cc c = { cb, 0, lenient, why, whylen };
	enum pv_rc rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	*root = 0;
	if (cond == NULL || json_is_null(cond) || (json_is_object(cond) &&
	    json_object_size(cond) == 0))
		return PV_OK;
	rc = compile_obj(&c, cond, 0, root);
	if (rc == PV_OK && cb->oom)
		rc = cb->len + 64 > COND_AREA_MAX ? bad(&c, "condition too large") : PV_E_NOMEM;
	if (rc == PV_OK && needs != NULL)
		*needs |= c.needs;
	return rc;
}

/* A node whose test never holds (a stored condition that no longer compiles). */
int32_t
authz_cond_never(struct authz_cbuf *cb)
{
	return node_new(cb, OP_FALSE, 0);
}

enum pv_rc
authz_condition_check(const char *json_text, char *why, size_t whylen)
{
	struct authz_cbuf cb = { 0 };
	json_t *j;
	int32_t root;
	enum pv_rc rc;

	if (json_text == NULL)
		return PV_OK;
	if ((j = json_loads(json_text, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		snprintf(why, whylen, "condition is not valid JSON");
		return PV_E_INVALID;
	}
	rc = authz_cond_compile(&cb, j, false, &root, NULL, why, whylen);
	json_decref(j);
	authz_cbuf_free(&cb);
	return rc;
}

/* Reason of a "not <leaf>" deny rule: the leaf's kind. */
int
authz_cond_not_kind(const uint8_t *area, int32_t root)
{
	const struct cnode *n, *ch;

	if (root <= 0)
		return AUTHZ_CF_NONE;
	n = (const struct cnode *)(const void *)(area + root);
	if (n->op != OP_NOT)
		return AUTHZ_CF_NONE;
	ch = (const struct cnode *)(const void *)(area + n->a);
	switch (ch->op) {
	case OP_SOURCE: return AUTHZ_CF_SOURCE;
	case OP_TIME: return AUTHZ_CF_TIME;
	case OP_MFA: return AUTHZ_CF_MFA;
	default: return AUTHZ_CF_NONE;
	}
}

/* ---------------------------------------------------------- evaluation */

static int
fail(struct authz_ceval *e, int kind)
{
	if (e->fail == AUTHZ_CF_NONE)
		e->fail = kind;
	return AUTHZ_T_FALSE;
}

static bool
source_addr(struct authz_ceval *e)
{
	char buf[64], *pct;
	const char *s = e->r->env.source;

	if (e->src_state != 0)
		return e->src_state > 0;
	e->src_state = -1;
	if (s == NULL || strlen(s) >= sizeof(buf))
		return false;
	memcpy(buf, s, strlen(s) + 1);
	if ((pct = strchr(buf, '%')) != NULL)
		*pct = '\0';
	if (inet_pton(AF_INET, buf, e->src) == 1) {
		e->src_fam = 4;
	} else if (inet_pton(AF_INET6, buf, e->src) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		e->src_fam = 6;
		if (memcmp(e->src, mapped, 12) == 0) {   /* ::ffff:a.b.c.d is IPv4 */
			memmove(e->src, e->src + 12, 4);
			e->src_fam = 4;
		}
	} else {
		return false;
	}
	e->src_state = 1;
	return true;
}

static bool
in_cidr(const struct cidr *c, uint8_t fam, const uint8_t *a)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (c->fam != fam || memcmp(c->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static int
e_time(struct authz_ceval *e, const struct ctime *t)
{
	int64_t s = e->r->env.time_ms / 1000, local, days;
	int mins, wday, yday;

	if (e->r->env.time_ms <= 0)
		return fail(e, AUTHZ_CF_TIME);
	local = s + authz_tz_offset(t->tz, s);
	days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	mins = (int)((local - days * 86400) / 60);
	wday = (int)(((days % 7) + 7 + 4) % 7);   /* 1970-01-01 was a Thursday */
	yday = (wday + 6) % 7;                    /* the day before */
	if (t->from < t->to) {
		if ((t->days & (1u << wday)) && mins >= t->from && mins < t->to)
			return AUTHZ_T_TRUE;
	} else {
		/* crossing midnight: the window belongs to the day it starts on */
		if ((t->days & (1u << wday)) && mins >= t->from)
			return AUTHZ_T_TRUE;
		if ((t->days & (1u << yday)) && mins < t->to)
			return AUTHZ_T_TRUE;
	}
	return fail(e, AUTHZ_CF_TIME);
}

static int
e_mfa(struct authz_ceval *e, const struct cnode *n)
{
	const struct authn_principal *p = e->r->subject;
	int64_t age_ms;

	if (!n->flag)
		return AUTHZ_T_TRUE;
	if (p == NULL || !p->mfa_verified)
		goto no;
	/* the method of the session's last MFA (authn: "totp", "recovery",
	 * "webauthn"; "" from before methods were recorded = TOTP) */
	if ((n->a & (strcmp(p->mfa_method, "webauthn") == 0 ? MFA_WEBAUTHN :
	    strcmp(p->mfa_method, "recovery") == 0 ? MFA_RECOVERY : MFA_TOTP)) == 0)
		goto no;
	if (n->b < 0)
		return AUTHZ_T_TRUE;
	age_ms = e->r->env.time_ms - (p->mfa_at_ms > 0 ? p->mfa_at_ms : p->authenticated_ms);
	if (age_ms >= 0 && age_ms <= n->b * 1000)
		return AUTHZ_T_TRUE;
no:
	if (e->fail == AUTHZ_CF_NONE)
		e->max_age = n->b;
	return fail(e, AUTHZ_CF_MFA);
}

/* Some principal value of key equals s (or any listed value if s NULL). */
static bool
principal_has(const struct authz_ceval *e, const char *key, const uint8_t *area,
    const int32_t *vals, size_t nv, const char *s)
{
	const struct authz_attrs *at = e->r->subject != NULL ? e->r->subject->attrs : NULL;
	size_t i, k;

	for (i = 0; at != NULL && i < at->n; i++) {
		if (strcmp(at->a[i].key, key) != 0)
			continue;
		if (s != NULL) {
			if (strcmp(at->a[i].value, s) == 0)
				return true;
			continue;
		}
		for (k = 0; k < nv; k++)
			if (strcmp(at->a[i].value, (const char *)area + vals[k]) == 0)
				return true;
	}
	return false;
}

static bool
has_label(const struct authz_ceval *e, const char *l)
{
	size_t i;

	for (i = 0; i < e->r->resource.nlabels; i++)
		if (e->r->resource.labels[i] != NULL && strcmp(e->r->resource.labels[i], l) == 0)
			return true;
	return false;
}

static int
e_labels(struct authz_ceval *e, const struct cnode *n, const int32_t *vals)
{
	size_t i, hits = 0;

	if (!e->r->resource.loaded)
		return AUTHZ_T_UNKNOWN;
	for (i = 0; i < n->n; i++)
		hits += has_label(e, (const char *)e->area + vals[i]);
	if ((n->flag == 0 && hits == 0) || (n->flag == 1 && hits > 0) ||
	    (n->flag == 2 && hits == n->n))
		return AUTHZ_T_TRUE;
	return fail(e, AUTHZ_CF_LABELS);
}

int
authz_cond_eval(struct authz_ceval *e, int32_t at)
{
	const struct cnode *n;
	const int32_t *items;
	int v, acc;
	size_t i;

	if (at <= 0)
		return AUTHZ_T_TRUE;
	n = (const struct cnode *)(const void *)(e->area + at);
	items = (const int32_t *)(const void *)(e->area + at + sizeof(*n));
	switch (n->op) {
	case OP_TRUE:
		return AUTHZ_T_TRUE;
	case OP_ALL:
		acc = AUTHZ_T_TRUE;
		for (i = 0; i < n->n; i++) {
			v = authz_cond_eval(e, items[i]);
			if (v == AUTHZ_T_FALSE)
				return v;
			if (v == AUTHZ_T_UNKNOWN)
				acc = v;
		}
		return acc;
	case OP_ANY: {
		int first = AUTHZ_CF_NONE, saved = e->fail;
		int64_t age = e->max_age;

		acc = AUTHZ_T_FALSE;
		for (i = 0; i < n->n; i++) {
			e->fail = AUTHZ_CF_NONE;
			v = authz_cond_eval(e, items[i]);
			if (v == AUTHZ_T_TRUE) {
				e->fail = saved;
				e->max_age = age;
				return v;
			}
			if (v == AUTHZ_T_UNKNOWN)
				acc = v;
			else if (first == AUTHZ_CF_NONE)
				first = e->fail, age = e->max_age;
		}
		e->fail = saved != AUTHZ_CF_NONE ? saved : acc == AUTHZ_T_FALSE ? first : saved;
		e->max_age = age;
		return acc;
	}
	case OP_NOT: {
		int saved = e->fail;

		v = authz_cond_eval(e, n->a);
		e->fail = saved;
		if (v == AUTHZ_T_UNKNOWN)
			return v;
		return v == AUTHZ_T_TRUE ? fail(e, AUTHZ_CF_NOT) : AUTHZ_T_TRUE;
	}
	case OP_SOURCE: {
		const struct cidr *c = (const struct cidr *)(const void *)items;

		if (source_addr(e))
			for (i = 0; i < n->n; i++)
				if (in_cidr(&c[i], e->src_fam, e->src))
					return AUTHZ_T_TRUE;
		return fail(e, AUTHZ_CF_SOURCE);
	}
	case OP_TIME:
		return e_time(e, (const struct ctime *)(const void *)items);
	case OP_MFA:
		return e_mfa(e, n);
	case OP_PURPOSE:
		if (!e->phi_read)
			return AUTHZ_T_TRUE;   /* the purpose of use is weighed on PHI reads */
		if (e->r->stage != AUTHZ_AT_RESOURCE)
			return AUTHZ_T_UNKNOWN;
		return (e->pbit & (unsigned)n->a) != 0 ? AUTHZ_T_TRUE : fail(e, AUTHZ_CF_PURPOSE);
	case OP_PRINCIPAL:
		return principal_has(e, (const char *)e->area + n->a, e->area, items, n->n, NULL) ?
		    AUTHZ_T_TRUE : fail(e, AUTHZ_CF_PRINCIPAL);
	case OP_LABELS:
		return e_labels(e, n, items);
	case OP_MATCH: {
		const char *rv;

		if (!e->r->resource.loaded)
			return AUTHZ_T_UNKNOWN;
		rv = e->r->resource.field_text != NULL ?
		    e->r->resource.field_text(e->r->resource.field_arg, (const char *)e->area + n->a) :
		    NULL;
		return rv != NULL && principal_has(e, (const char *)e->area + n->b, NULL, NULL, 0,
		    rv) ? AUTHZ_T_TRUE : fail(e, AUTHZ_CF_MATCH);
	}
	default:
		return fail(e, AUTHZ_CF_NOT);   /* OP_FALSE and anything damaged */
	}
}

/* ------------------------------------------------ principal attributes */

enum pv_rc
authz_attrs_parse(const char *text, struct pv_arena *arena, const struct authz_attrs **out)
{
	json_t *o = json_loads(text != NULL ? text : "{}", 0, NULL), *v, *el;
	struct authz_attrs *at;
	const char *k;
	size_t n = 0, i;
	enum pv_rc rc = PV_OK;

	if (!json_is_object(o)) {
		json_decref(o);
		return PV_E_INVALID;
	}
	if ((at = arena_alloc(arena, sizeof(*at) + ATTRS_KEPT * sizeof(at->a[0]))) == NULL) {
		json_decref(o);
		return PV_E_NOMEM;
	}
	json_object_foreach(o, k, v) {
		json_t *one[1] = { v };
		json_t *const *list = one;
		size_t nl = 1;
		json_t *arr = json_is_array(v) ? v : NULL;

		if (arr != NULL)
			nl = json_array_size(arr);
		for (i = 0; i < nl && n < ATTRS_KEPT; i++) {
			char num[64];
			const char *s = NULL;

			el = arr != NULL ? json_array_get(arr, i) : list[0];
			if (json_is_string(el))
				s = json_string_value(el);
			else if (json_is_integer(el))
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(el)), s = num;
			else if (json_is_boolean(el))
				s = json_is_true(el) ? "true" : "false";
			if (s == NULL)
				continue;
			at->a[n].key = arena_strdup(arena, k);
			at->a[n].value = arena_strdup(arena, s);
			if (at->a[n].key == NULL || at->a[n].value == NULL) {
				rc = PV_E_NOMEM;
				goto out;
			}
			n++;
		}
	}
	at->n = n;
	*out = at;
out:
	json_decref(o);
	return rc;
}

int64_t
authz_cond_not_max_age(const uint8_t *area, int32_t root)
{
	const struct cnode *n, *ch;

	if (root <= 0)
		return -1;
	n = (const struct cnode *)(const void *)(area + root);
	if (n->op != OP_NOT)
		return -1;
	ch = (const struct cnode *)(const void *)(area + n->a);
	return ch->op == OP_MFA ? ch->b : -1;
}
