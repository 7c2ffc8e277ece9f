/*
 * scim/filter.c: the filter language of RFC 7644 section 3.4.2.2 and the
 * PATCH path of section 3.5.2, parsed into a bounded tree and evaluated on
 * a resource's SCIM representation.
 *
 *   FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
 *   valuePath = attrPath "[" valFilter "]"
 *   attrExp   = attrPath SP "pr" / attrPath SP compareOp SP compValue
 *   compareOp = eq ne co sw ew gt lt ge le   (case-insensitive)
 *   compValue = false / null / true / number / string (JSON, escapes)
 *   attrPath  = [URI ":"] ATTRNAME *1("." subAttr)
 *   PATH      = attrPath / valuePath [subAttr]
 *
 * Precedence (3.4.2.2): "not" and grouping bind tightest, then "and", then
 * "or"; both are left-associative. Attribute names and operators are
 * case-insensitive; string comparison honours the attribute's caseExact
 * (userName is not case-exact, RFC 7643 4.1.1; id and externalId are).
 *
 * Invariants: the parser takes untrusted input (fuzzed:
 * tests/fuzz/fuzz_scim_filter.c): at most SCIM_FILTER_MAX_LEN bytes,
 * SCIM_FILTER_MAX_DEPTH levels of nesting and SCIM_FILTER_MAX_NODES
 * nodes; only attributes of the schema table (schema.c) are accepted;
 * every failure is 400 invalidFilter (invalidPath for a PATCH path) with a
 * detail that never echoes the input.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scim/scim_int.h"

enum node_kind { N_AND, N_OR, N_NOT, N_CMP, N_PR, N_VALPATH };
enum cmp_op { OP_EQ, OP_NE, OP_CO, OP_SW, OP_EW, OP_GT, OP_GE, OP_LT, OP_LE };

struct node {
	enum node_kind kind;
	enum cmp_op op;
	bool enterprise;
	bool rel;                        /* inside [..]: attr is a sub-attribute of the element */
	const struct scim_attr *attr;
	const struct scim_attr *sub;
	json_t *value;                   /* N_CMP: the comparison value */
	int a, b;                        /* children (N_AND, N_OR: both; N_NOT, N_VALPATH: a) */
};

struct scim_filter {
	enum scim_kind kind;
	int n;
	int root;
	struct node nodes[SCIM_FILTER_MAX_NODES];
};

struct parser {
	const char *s;
	size_t pos, len;
	int depth;
	struct scim_filter *f;
	bool failed;
	const char *why;                 /* a constant: never the input */
};

static const char *const op_names[] = { "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le" };

static void
skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

static bool
word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == ':' || c == '.' || c == '$' ||
	    c == '-' || c == '+';
}

/* The next word (attrPath, keyword, number) as [*start, *start + *n). */
static bool
next_word(struct parser *p, const char **start, size_t *n)
{
	size_t b;

	skip_ws(p);
	b = p->pos;
	while (p->pos < p->len && word_char(p->s[p->pos]))
		p->pos++;
	*start = p->s + b;
	*n = p->pos - b;
	return *n > 0;
}

/* Is the next word w (case-insensitive)? Consumes it if so. */
static bool
accept_word(struct parser *p, const char *w)
{
	size_t save = p->pos, n;
	const char *st;

	if (next_word(p, &st, &n) && n == strlen(w) && strncasecmp(st, w, n) == 0)
		return true;
	p->pos = save;
	return false;
}

static bool
accept_char(struct parser *p, char c)
{
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == c) {
		p->pos++;
		return true;
	}
	return false;
}

static int
fail(struct parser *p, const char *why)
{
	if (!p->failed) {
		p->failed = true;
		p->why = why;
	}
	return -1;
}

static int
new_node(struct parser *p, enum node_kind k)
{
	struct node *nd;

	if (p->f->n >= SCIM_FILTER_MAX_NODES)
		return fail(p, "The filter has too many terms");
	nd = &p->f->nodes[p->f->n];
	memset(nd, 0, sizeof(*nd));
	nd->kind = k;
	nd->a = nd->b = -1;
	return p->f->n++;
}

/*
 * Resolve an attrPath word: [URN ":"] attr ["." sub]. parent (inside a
 * valuePath) makes attr a sub-attribute of it.
 */
static bool
resolve(struct parser *p, const char *w, size_t n, const struct scim_attr *parent,
    bool *enterprise, const struct scim_attr **attr, const struct scim_attr **sub)
{
	char buf[128], *dot;
	const char *rest = w;
	size_t rn = n;

	*enterprise = false;
	*sub = NULL;
	if (parent == NULL) {
		static const struct { const char *urn; bool ent; enum scim_kind kind; } urns[] = {
			{ SCIM_URN_ENTERPRISE, true, SCIM_USER },
			{ SCIM_URN_USER, false, SCIM_USER },
			{ SCIM_URN_GROUP, false, SCIM_GROUP },
		};
		size_t i;

		for (i = 0; i < sizeof(urns) / sizeof(urns[0]); i++) {
			size_t ul = strlen(urns[i].urn);

			if (n > ul + 1 && strncasecmp(w, urns[i].urn, ul) == 0 && w[ul] == ':') {
				if (urns[i].kind != p->f->kind)
					return false;
				*enterprise = urns[i].ent;
				rest = w + ul + 1;
				rn = n - ul - 1;
				break;
			}
		}
	}
	if (rn == 0 || rn >= sizeof(buf))
		return false;
	memcpy(buf, rest, rn);
	buf[rn] = '\0';
	if ((dot = strchr(buf, '.')) != NULL)
		*dot++ = '\0';
	if (parent != NULL) {
		if (dot != NULL)
			return false;
		*attr = scim_sub_find(parent, buf);
		return *attr != NULL;
	}
	if ((*attr = scim_attr_find(p->f->kind, *enterprise, buf)) == NULL)
		return false;
	if (dot != NULL && (*sub = scim_sub_find(*attr, dot)) == NULL)
		return false;
	return true;
}

/* The comparison value: a JSON string, true, false, null or a number. */
static json_t *
comp_value(struct parser *p)
{
	json_error_t je;
	const char *st;
	size_t n, b;
	char num[64];
	json_t *v;

	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '"') {
		b = p->pos++;
		while (p->pos < p->len && p->s[p->pos] != '"') {
			if (p->s[p->pos] == '\\')
				p->pos++;
			p->pos++;
		}
		if (p->pos >= p->len)
			return NULL;
		p->pos++;
		v = json_loadb(p->s + b, p->pos - b, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
		if (v != NULL && !json_is_string(v)) {
			json_decref(v);
			return NULL;
		}
		return v;
	}
	if (!next_word(p, &st, &n))
		return NULL;
	if (n == 4 && strncasecmp(st, "true", 4) == 0)
		return json_true();
	if (n == 5 && strncasecmp(st, "false", 5) == 0)
		return json_false();
	if (n == 4 && strncasecmp(st, "null", 4) == 0)
		return json_null();
	if (n >= sizeof(num))
		return NULL;
	memcpy(num, st, n);
	num[n] = '\0';
	v = json_loads(num, JSON_DECODE_ANY, &je);
	if (v != NULL && !json_is_number(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* The type a comparison on (attr, sub) compares: a complex attribute
 * without a sub-attribute compares its "value". */
static const struct scim_attr *
compared(const struct scim_attr *attr, const struct scim_attr *sub)
{
	if (sub != NULL)
		return sub;
	if (attr->type == SCIM_T_COMPLEX)
		return scim_sub_find(attr, "value");
	return attr;
}

static int parse_or(struct parser *p, const struct scim_attr *parent);

static int
parse_attr_exp(struct parser *p, const struct scim_attr *parent)
{
	const struct scim_attr *attr, *sub, *t;
	const char *w;
	size_t n, i;
	bool ent;
	int id, child;

	if (!next_word(p, &w, &n))
		return fail(p, "Expected an attribute path");
	if (!resolve(p, w, n, parent, &ent, &attr, &sub))
		return fail(p, "The filter names an attribute this server does not have");
	if (parent == NULL && sub == NULL && accept_char(p, '[')) {
		if (attr->type != SCIM_T_COMPLEX)
			return fail(p, "Only a complex attribute takes [...]");
		if (++p->depth > SCIM_FILTER_MAX_DEPTH)
			return fail(p, "The filter is nested too deeply");
		child = parse_or(p, attr);
		p->depth--;
		if (child < 0)
			return -1;
		if (!accept_char(p, ']'))
			return fail(p, "Expected ']'");
		if ((id = new_node(p, N_VALPATH)) < 0)
			return -1;
		p->f->nodes[id].attr = attr;
		p->f->nodes[id].enterprise = ent;
		p->f->nodes[id].a = child;
		return id;
	}
	if (accept_word(p, "pr")) {
		if ((id = new_node(p, N_PR)) < 0)
			return -1;
	} else {
		const char *ow;
		size_t on;

		if (!next_word(p, &ow, &on))
			return fail(p, "Expected an operator");
		for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
			if (on == 2 && strncasecmp(ow, op_names[i], 2) == 0)
				break;
		if (i == sizeof(op_names) / sizeof(op_names[0]))
			return fail(p, "Unknown operator (eq ne co sw ew gt ge lt le pr)");
		if ((t = compared(attr, sub)) == NULL)
			return fail(p, "This complex attribute needs a sub-attribute");
		if ((id = new_node(p, N_CMP)) < 0)
			return -1;
		p->f->nodes[id].op = (enum cmp_op)i;
		if ((p->f->nodes[id].value = comp_value(p)) == NULL)
			return fail(p, "Expected a value (a JSON string, true, false, null or a number)");
		if (json_is_null(p->f->nodes[id].value)) {
			if (i != OP_EQ && i != OP_NE)
				return fail(p, "null compares only with eq and ne");
		} else if (t->type == SCIM_T_BOOLEAN) {
			if (!json_is_boolean(p->f->nodes[id].value) || (i != OP_EQ && i != OP_NE))
				return fail(p, "A boolean attribute compares with eq or ne and true or "
				    "false");
		} else if (!json_is_string(p->f->nodes[id].value)) {
			return fail(p, "This attribute compares with a string");
		}
	}
	p->f->nodes[id].attr = attr;
	p->f->nodes[id].sub = sub;
	p->f->nodes[id].enterprise = ent;
	p->f->nodes[id].rel = parent != NULL;
	return id;
}

static int
parse_not(struct parser *p, const struct scim_attr *parent)
{
	int id, child;
	bool neg = false;

	if (accept_word(p, "not")) {
		neg = true;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '(')
			return fail(p, "Expected '(' after not");
	}
	if (accept_char(p, '(')) {
		if (++p->depth > SCIM_FILTER_MAX_DEPTH)
			return fail(p, "The filter is nested too deeply");
		child = parse_or(p, parent);
		p->depth--;
		if (child < 0)
			return -1;
		if (!accept_char(p, ')'))
			return fail(p, "Expected ')'");
	} else {
		child = parse_attr_exp(p, parent);
		if (child < 0)
			return -1;
	}
	if (!neg)
		return child;
	if ((id = new_node(p, N_NOT)) < 0)
		return -1;
	p->f->nodes[id].a = child;
	return id;
}

static int
parse_and(struct parser *p, const struct scim_attr *parent)
{
	int left = parse_not(p, parent), right, id;

	while (left >= 0 && accept_word(p, "and")) {
		if ((right = parse_not(p, parent)) < 0 || (id = new_node(p, N_AND)) < 0)
			return -1;
		p->f->nodes[id].a = left;
		p->f->nodes[id].b = right;
		left = id;
	}
	return left;
}

static int
parse_or(struct parser *p, const struct scim_attr *parent)
{
	int left = parse_and(p, parent), right, id;

	while (left >= 0 && accept_word(p, "or")) {
		if ((right = parse_and(p, parent)) < 0 || (id = new_node(p, N_OR)) < 0)
			return -1;
		p->f->nodes[id].a = left;
		p->f->nodes[id].b = right;
		left = id;
	}
	return left;
}

void
scim_filter_free(struct scim_filter *f)
{
	int i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		json_decref(f->nodes[i].value);
	free(f);
}

static bool
parser_init(struct parser *p, const char *text, enum scim_kind kind, struct scim_error *err,
    const char *type)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	if (text == NULL || strnlen(text, SCIM_FILTER_MAX_LEN + 1) > SCIM_FILTER_MAX_LEN) {
		scim_fail(err, PV_E_INVALID, 400, type, "The expression is longer than 4096 bytes");
		return false;
	}
	for (i = 0; text[i] != '\0'; i++)
		if ((unsigned char)text[i] < ' ') {
			scim_fail(err, PV_E_INVALID, 400, type,
			    "The expression holds a control character");
			return false;
		}
	if ((p->f = calloc(1, sizeof(*p->f))) == NULL) {
		scim_fail(err, PV_E_NOMEM, 500, "", "Out of memory");
		return false;
	}
	p->f->kind = kind;
	p->s = text;
	p->len = strlen(text);
	return true;
}

enum pv_rc
scim_filter_parse(const char *text, enum scim_kind kind, struct scim_filter **out,
    struct scim_error *err)
{
	struct parser p;

	if (!parser_init(&p, text, kind, err, "invalidFilter"))
		return err->status == 500 ? PV_E_NOMEM : PV_E_INVALID;
	p.f->root = parse_or(&p, NULL);
	skip_ws(&p);
	if (p.f->root >= 0 && p.pos != p.len)
		fail(&p, "Unexpected text after the filter");
	if (p.failed || p.f->root < 0) {
		scim_fail(err, PV_E_INVALID, 400, "invalidFilter", p.why ? p.why : "Bad filter");
		scim_filter_free(p.f);
		return PV_E_INVALID;
	}
	*out = p.f;
	return PV_OK;
}

/* ---- PATCH paths ---- */

void
scim_path_clear(struct scim_path *p)
{
	scim_filter_free(p->filter);
	memset(p, 0, sizeof(*p));
}

/* Does the path's first word name an attribute phivault drops? */
static bool
ignored_path(enum scim_kind kind, const char *w, size_t n)
{
	char buf[128], *dot;
	bool ent = false;
	size_t ul = strlen(SCIM_URN_ENTERPRISE), cl = strlen(SCIM_URN_USER);

	if (n > ul + 1 && strncasecmp(w, SCIM_URN_ENTERPRISE, ul) == 0 && w[ul] == ':') {
		ent = true;
		w += ul + 1;
		n -= ul + 1;
	} else if (n > cl + 1 && strncasecmp(w, SCIM_URN_USER, cl) == 0 && w[cl] == ':') {
		w += cl + 1;
		n -= cl + 1;
	}
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, w, n);
	buf[n] = '\0';
	if ((dot = strchr(buf, '.')) != NULL)
		*dot = '\0';
	return scim_attr_ignored(kind, ent, buf);
}

enum pv_rc
scim_path_parse(const char *text, enum scim_kind kind, struct scim_path *out,
    struct scim_error *err)
{
	struct parser p;
	const char *w;
	size_t n;
	int child;
	const struct scim_attr *attr, *sub;
	bool ent;

	memset(out, 0, sizeof(*out));
	if (!parser_init(&p, text, kind, err, "invalidPath"))
		return err->status == 500 ? PV_E_NOMEM : PV_E_INVALID;
	if (!next_word(&p, &w, &n)) {
		fail(&p, "Expected an attribute path");
		goto bad;
	}
	if (!resolve(&p, w, n, NULL, &ent, &attr, &sub)) {
		if (ignored_path(kind, w, n)) {
			out->ignored = true;
			scim_filter_free(p.f);
			return PV_OK;
		}
		fail(&p, "The path names an attribute this server does not have");
		goto bad;
	}
	out->enterprise = ent;
	out->attr = attr;
	out->sub = sub;
	if (sub == NULL && accept_char(&p, '[')) {
		if (attr->type != SCIM_T_COMPLEX || !attr->multi) {
			fail(&p, "Only a multi-valued attribute takes [...]");
			goto bad;
		}
		child = parse_or(&p, attr);
		if (child < 0)
			goto bad;
		if (!accept_char(&p, ']')) {
			fail(&p, "Expected ']'");
			goto bad;
		}
		p.f->root = child;
		if (p.f->nodes[child].kind == N_CMP && p.f->nodes[child].op == OP_EQ &&
		    json_is_string(p.f->nodes[child].value)) {
			snprintf(out->eq_attr, sizeof(out->eq_attr), "%s",
			    p.f->nodes[child].attr->name);
			if (strlen(json_string_value(p.f->nodes[child].value)) < sizeof(out->eq_value))
				snprintf(out->eq_value, sizeof(out->eq_value), "%s",
				    json_string_value(p.f->nodes[child].value));
			else
				out->eq_attr[0] = '\0';
		}
		if (p.pos < p.len && p.s[p.pos] == '.') {
			p.pos++;
			if (!next_word(&p, &w, &n) || n >= 64) {
				fail(&p, "Expected a sub-attribute after ']'");
				goto bad;
			} else {
				char sb[64];

				memcpy(sb, w, n);
				sb[n] = '\0';
				if ((out->sub = scim_sub_find(attr, sb)) == NULL) {
					fail(&p, "The path names a sub-attribute this server does not have");
					goto bad;
				}
			}
		}
		out->filter = p.f;
		p.f = NULL;
	}
	skip_ws(&p);
	if (p.pos != p.len) {
		fail(&p, "Unexpected text after the path");
		goto bad;
	}
	scim_filter_free(p.f);
	return PV_OK;
bad:
	scim_fail(err, PV_E_INVALID, 400, "invalidPath", p.why ? p.why : "Bad path");
	scim_filter_free(p.f);
	scim_path_clear(out);
	return PV_E_INVALID;
}

/* ---- evaluation ---- */

json_t *
scim_obj_get(json_t *o, const char *key)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || key == NULL)
		return NULL;
	if ((v = json_object_get(o, key)) != NULL)
		return v;
	json_object_foreach(o, k, v)
		if (strcasecmp(k, key) == 0)
			return v;
	return NULL;
}

static bool
str_has(const char *h, const char *n, bool exact, enum cmp_op op)
{
	size_t hl = strlen(h), nl = strlen(n);
	size_t i;

	switch (op) {
	case OP_SW:
		return hl >= nl && (exact ? strncmp(h, n, nl) : strncasecmp(h, n, nl)) == 0;
	case OP_EW:
		return hl >= nl && (exact ? strcmp(h + hl - nl, n) : strcasecmp(h + hl - nl, n)) == 0;
	default:
		for (i = 0; i + nl <= hl; i++)
			if ((exact ? strncmp(h + i, n, nl) : strncasecmp(h + i, n, nl)) == 0)
				return true;
		return false;
	}
}

/* One value against the node's comparison (op other than ne: callers
 * make ne the negation of eq). */
static bool
cmp_one(const struct node *nd, const struct scim_attr *t, json_t *v)
{
	json_t *fv = nd->value;
	const char *a, *b;
	int c;

	if (json_is_boolean(fv))
		return json_is_boolean(v) && json_is_true(v) == json_is_true(fv);
	if (!json_is_string(v) || !json_is_string(fv))
		return false;
	a = json_string_value(v);
	b = json_string_value(fv);
	switch (nd->op) {
	case OP_CO: case OP_SW: case OP_EW:
		return str_has(a, b, t->case_exact, nd->op);
	default:
		break;
	}
	c = t->case_exact ? strcmp(a, b) : strcasecmp(a, b);
	switch (nd->op) {
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	default: return c == 0;
	}
}

static bool
present(json_t *v)
{
	if (v == NULL || json_is_null(v))
		return false;
	if (json_is_string(v))
		return json_string_value(v)[0] != '\0';
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	return true;
}

/* The values a node's attribute path has in root, one callback each. */
static bool
any_value(const struct node *nd, json_t *root, bool (*fn)(const struct node *, json_t *))
{
	json_t *c, *v, *el, *x;
	const char *subname;
	size_t i;

	c = nd->enterprise ? scim_obj_get(root, SCIM_URN_ENTERPRISE) : root;
	v = scim_obj_get(c, nd->attr->name);
	if (v == NULL)
		return false;
	subname = nd->sub != NULL ? nd->sub->name :
	    (nd->attr->type == SCIM_T_COMPLEX && nd->kind == N_CMP ? "value" : NULL);
	if (json_is_array(v)) {
		json_array_foreach(v, i, el) {
			x = subname != NULL ? scim_obj_get(el, subname) : el;
			if (x != NULL && fn(nd, x))
				return true;
		}
		return false;
	}
	x = subname != NULL ? scim_obj_get(v, subname) : v;
	return x != NULL && fn(nd, x);
}

static bool
on_present(const struct node *nd, json_t *v)
{
	(void)nd;
	return present(v);
}

static bool
on_cmp(const struct node *nd, json_t *v)
{
	return cmp_one(nd, compared(nd->attr, nd->sub), v);
}

static bool
eval(const struct scim_filter *f, int i, json_t *root)
{
	const struct node *nd = &f->nodes[i];

	switch (nd->kind) {
	case N_AND:
		return eval(f, nd->a, root) && eval(f, nd->b, root);
	case N_OR:
		return eval(f, nd->a, root) || eval(f, nd->b, root);
	case N_NOT:
		return !eval(f, nd->a, root);
	case N_PR:
		return any_value(nd, root, on_present);
	case N_CMP:
		if (json_is_null(nd->value)) {
			bool has = any_value(nd, root, on_present);

			return nd->op == OP_EQ ? !has : has;
		}
		if (nd->op == OP_NE) {
			struct node eq = *nd;

			eq.op = OP_EQ;
			return !any_value(&eq, root, on_cmp);
		}
		return any_value(nd, root, on_cmp);
	case N_VALPATH: {
		json_t *c = nd->enterprise ? scim_obj_get(root, SCIM_URN_ENTERPRISE) : root;
		json_t *v = scim_obj_get(c, nd->attr->name), *el;
		size_t k;

		if (json_is_object(v))
			return eval(f, nd->a, v);
		json_array_foreach(v, k, el)
			if (eval(f, nd->a, el))
				return true;
		return false;
	}
	}
	return false;
}

bool
scim_filter_match(const struct scim_filter *f, json_t *resource)
{
	return f != NULL && f->root >= 0 && eval(f, f->root, resource);
}
