/*
 * format.c: what a receiver gets for one audit entry.
 *
 *  syslog  RFC 5424 section 6:
 *            <PRI>1 TIMESTAMP HOSTNAME phivault - AUDIT [phivault@32473 seq="N"
 *            action=".." outcome=".." reason=".." resource=".." user=".."
 *            session=".." src=".." purposeOfUse=".." detail=".." hash=".."]
 *            <action> <outcome>
 *          facility authpriv (10), severity 6 allowed / 4 denied / 3 error;
 *          PARAM-VALUEs escape '"', '\' and ']' (section 6.3.3); empty
 *          fields are left out. 32473 is the documentation PEN (RFC 5612).
 *  cef     the same RFC 5424 header with MSGID CEF, no SD, and as MSG a
 *          CEF:0 record ("Implementing ArcSight CEF" rev 25): header fields
 *          escape '\' and '|', extension values '\' and '=' and write CR/LF
 *          as \r / \n. cn1 = seq comes first, then rt, act, outcome, reason,
 *          cs1 resource, suser, cs4 sessionId, src, cs2 purposeOfUse, msg
 *          (the detail object), cs3 hash.
 *  framing each message as "LEN SP MSG" (octet counting, RFC 6587 3.4.1 and
 *          RFC 5425 4.3), LEN = bytes of MSG.
 *
 * Size limit: a message (MSG) is at most max bytes. An entry that does not
 * fit is split by field: every part repeats the header with seq and carries
 * part="k/n" (CEF: cs5Label=part cs5=k/n) and as many whole fields as fit;
 * a field too long for any part is left out and named in the first part's
 * truncated="a,b" (CEF: cs6Label=truncated cs6=a,b). A value is never cut.
 * max >= 1024 (config) leaves room for every structural field.
 *
 * Entries hold IDs, action names, codes and field names only, never PHI
 * values (audit.md); nothing here adds anything else. Control bytes (only
 * from a tampered database) are written as '?', so a message is one line.
 *
 * Cost: the actor and the OCSF line are read and written without jansson
 * when the row has the writer's shape (plain ASCII texts, a compact object
 * with sorted keys), and with jansson otherwise; the bytes are the same
 * (tests/unit/sinks/test_format_bytes.c). docs/internals/sinks.md "Cost".
 *
 *  ocsf    OCSF 1.1.0 JSON, one object a line: class 3002 Authentication for
 *          auth.*, 2004 Detection Finding for alert.*, 6003 API Activity for
 *          the rest; type_uid = class_uid * 100 + activity_id; metadata
 *          .sequence = seq, .uid = the entry hash; the phivault columns that
 *          OCSF has no place for are under "unmapped".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinks/sinks_int.h"

/* ---- buffer: util_buf (util.h) ---- */

static void buf_char(struct util_buf *b, unsigned char ch)
{
	if (ch < 0x20 || ch == 0x7f)
		ch = '?';
	util_buf_put(b, &ch, 1);
}

/* The bytes a format escapes with a backslash (a table: a call a byte
 * would cost more than the copy). */
struct esc_set {
	unsigned char esc[256];
};
static const struct esc_set esc_none = { { 0 } };
static const struct esc_set esc_sd = { { ['"'] = 1, ['\\'] = 1, [']'] = 1 } };
static const struct esc_set esc_cef_header = { { ['\\'] = 1, ['|'] = 1 } };

/* s with every byte of e preceded by a backslash and control bytes written
 * as '?': runs of plain bytes are copied at once (a message is mostly such
 * runs), the rest byte by byte. */
static void buf_escaped(struct util_buf *b, const char *s, const struct esc_set *e)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	while (*p) {
		const unsigned char *run = p;

		while (*p >= 0x20 && *p != 0x7f && !e->esc[*p])
			p++;
		if (p > run)
			util_buf_put(b, run, (size_t)(p - run));
		if (!*p)
			break;
		if (e->esc[*p])
			util_buf_put(b, "\\", 1);
		buf_char(b, *p++);
	}
}

/* v in decimal, as "%lld" writes it (snprintf costs more than the rest of
 * a line's numbers together). */
static void put_int(struct util_buf *b, long long v)
{
	char num[24], *e = num + sizeof num, *p = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	util_buf_put(b, p, (size_t)(e - p));
}

/* a string literal, without strlen */
#define PUT_LIT(b, lit) util_buf_put((b), lit, sizeof(lit) - 1)

/* ---- the actor's fields without jansson ----
 *
 * The writer stores the actor as compact JSON with sorted keys and string
 * or null values ({"auth":"password",...,"user_id":"usr_..."}). A text of
 * that shape whose strings are printable ASCII without '"' or '\\' is read
 * here with no allocation; what it yields is what audit_actor_fields_parse
 * (jansson) yields for it: the value of user_id, session_id and source when
 * it is a string, else NULL (keys strictly increasing: no duplicate whose
 * last value jansson would keep). Anything else goes to jansson. */

struct actor_view {
	const char *user_id, *session_id, *source;
	struct audit_actor_fields slow;   /* root set: the jansson fallback */
	char buf[512];                    /* the three values, NUL-terminated */
};

static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* p at '"': the byte after the closing quote of a string of plain bytes, or NULL. */
static const char *plain_string(const char *p)
{
	if (*p != '"')
		return NULL;
	for (p++; plain_byte((unsigned char)*p); p++)
		;
	return *p == '"' ? p + 1 : NULL;
}

/* An integer jansson reads and writes back as the same text: no sign on 0,
 * no leading zero, no fraction or exponent, within int64 (18 digits). */
static const char *plain_int(const char *p)
{
	const char *d = *p == '-' ? p + 1 : p;
	const char *e = d;

	while (*e >= '0' && *e <= '9')
		e++;
	if (e == d || e - d > 18 || (*d == '0' && (e - d > 1 || d != p)))
		return NULL;
	if (*e == '.' || *e == 'e' || *e == 'E')
		return NULL;
	return e;
}

static const char *plain_object(const char *p, int depth);

/* One value that jansson would write back (compact) as exactly its text. */
static const char *plain_value(const char *p, int depth)
{
	if (depth > 16)
		return NULL;
	switch (*p) {
	case '"':
		return plain_string(p);
	case '{':
		return plain_object(p, depth + 1);
	case '[':
		p++;
		if (*p == ']')
			return p + 1;
		for (;;) {
			if ((p = plain_value(p, depth + 1)) == NULL)
				return NULL;
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return plain_int(p);
	}
}

/* Keys strictly increasing (bytewise): no duplicates. */
static const char *plain_object(const char *p, int depth)
{
	const char *prev = NULL;
	size_t prevn = 0;

	if (*p++ != '{')
		return NULL;
	if (*p == '}')
		return p + 1;
	for (;;) {
		const char *k = p, *e = plain_string(p);
		size_t kn;
		int c;

		if (e == NULL || *e != ':')
			return NULL;
		kn = (size_t)(e - k - 2);
		if (prev != NULL) {
			c = memcmp(prev, k + 1, prevn < kn ? prevn : kn);
			if (c > 0 || (c == 0 && prevn >= kn))
				return NULL;
		}
		prev = k + 1;
		prevn = kn;
		if ((p = plain_value(e + 1, depth)) == NULL)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

/* The whole text is a plain object (see plain_value). */
static bool plain_json_object(const char *text)
{
	const char *e = text ? plain_object(text, 0) : NULL;

	return e != NULL && *e == '\0';
}

static bool actor_fast(const char *p, struct actor_view *v)
{
	size_t used = 0;

	if (!plain_json_object(p))
		return false;
	p++;
	while (*p == '"') {
		const char *k = p + 1, *e = plain_string(p), *val = e + 1, *ve;
		size_t kn = (size_t)(e - k - 1);
		const char **slot = NULL;

		if (kn == 7 && memcmp(k, "user_id", 7) == 0)
			slot = &v->user_id;
		else if (kn == 10 && memcmp(k, "session_id", 10) == 0)
			slot = &v->session_id;
		else if (kn == 6 && memcmp(k, "source", 6) == 0)
			slot = &v->source;
		ve = plain_value(val, 0);
		if (slot != NULL && *val == '"') {
			size_t n = (size_t)(ve - val - 2);

			if (used + n + 1 > sizeof v->buf)
				return false;
			memcpy(v->buf + used, val + 1, n);
			v->buf[used + n] = '\0';
			*slot = v->buf + used;
			used += n + 1;
		}
		p = ve;
		if (*p == ',')
			p++;
	}
	return true;
}

static void actor_view_parse(const char *text, struct actor_view *v)
{
	v->user_id = v->session_id = v->source = NULL;
	memset(&v->slow, 0, sizeof v->slow);
	if (text == NULL || actor_fast(text, v))
		return;
	v->user_id = v->session_id = v->source = NULL;
	audit_actor_fields_parse(text, &v->slow);
	v->user_id = v->slow.user_id;
	v->session_id = v->slow.session_id;
	v->source = v->slow.source;
}

static void actor_view_free(struct actor_view *v)
{
	json_decref(v->slow.root);
	v->slow.root = NULL;
}

/* ---- what the formats share ---- */

static bool is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

/* RFC 5424 section 6.2.1: facility 10 (authpriv); severity by outcome. */
static int syslog_pri(const char *outcome)
{
	return 10 * 8 + (is(outcome, "allowed") ? 6 : is(outcome, "denied") ? 4 : 3);
}

static int cef_severity(const char *outcome)
{
	return is(outcome, "allowed") ? 3 : is(outcome, "denied") ? 6 : 8;
}

/* "<PRI>1 TIMESTAMP HOSTNAME phivault - MSGID " */
static void header_5424(struct util_buf *b, const struct store_audit_row *r, const char *host,
    const char *msgid)
{
	const char *ts = r->time && r->time[0] && !strchr(r->time, ' ') ? r->time : "-";

	PUT_LIT(b, "<");
	put_int(b, syslog_pri(r->outcome));
	PUT_LIT(b, ">1 ");
	buf_escaped(b, ts, &esc_none);
	util_buf_puts(b, " ");
	util_buf_puts(b, host && host[0] ? host : "-");
	util_buf_puts(b, " phivault - ");
	util_buf_puts(b, msgid);
	util_buf_puts(b, " ");
}

/* ---- splitting by field ---- */

struct param {
	const char *name;
	size_t off, len;             /* rendered, with its leading space, in texts */
};

struct packer {
	struct util_buf prefix;      /* header up to and including seq */
	struct util_buf suffix;      /* after the last field */
	struct util_buf texts;       /* every field's text, one after the other */
	void (*part)(struct util_buf *b, size_t k, size_t n);
	void (*trunc)(struct util_buf *b, const char *names);
	struct param p[16];
	size_t np;
};

static void put_param(struct util_buf *msg, const struct packer *k, size_t i)
{
	util_buf_put(msg, k->texts.p + k->p[i].off, k->p[i].len);
}

static void frame(struct util_buf *out, const struct util_buf *msg)
{
	char len[24];

	snprintf(len, sizeof len, "%zu ", msg->len);
	util_buf_puts(out, len);
	util_buf_put(out, msg->p, msg->len);
}

static size_t pack(struct packer *k, size_t max, struct util_buf *out)
{
	struct util_buf msg = { 0 }, tmp = { 0 }, names = { 0 }, dropped = { 0 };
	size_t total = k->prefix.len + k->suffix.len, cap, used, nparts = 1, part_of[16];
	size_t reserve, emitted = 0;
	bool oom = k->prefix.failed || k->suffix.failed || k->texts.failed;

	for (size_t i = 0; i < k->np; i++)
		total += k->p[i].len;
	if (oom) {
		out->failed = true;
		return 0;
	}
	if (total <= max) {
		/* one message: framed straight into out */
		put_int(out, (long long)total);
		PUT_LIT(out, " ");
		util_buf_put(out, k->prefix.p, k->prefix.len);
		util_buf_put(out, k->texts.p, k->texts.len);
		util_buf_put(out, k->suffix.p, k->suffix.len);
		emitted = out->failed ? 0 : 1;
		goto out;
	}
	/* room a part has for fields: max less the repeated header and markers */
	k->part(&tmp, 99999, 99999);
	for (size_t i = 0; i < k->np; i++) {
		if (i)
			util_buf_puts(&names, ",");
		util_buf_puts(&names, k->p[i].name);
	}
	k->trunc(&tmp, names.p ? names.p : "");
	reserve = k->prefix.len + k->suffix.len + tmp.len;
	cap = max > reserve ? max - reserve : 0;
	used = 0;
	for (size_t i = 0; i < k->np; i++) {
		size_t n = k->p[i].len;

		if (n > cap) {
			part_of[i] = 0;     /* left out */
			if (dropped.len)
				util_buf_puts(&dropped, ",");
			util_buf_puts(&dropped, k->p[i].name);
			continue;
		}
		if (used + n > cap) {
			nparts++;
			used = 0;
		}
		used += n;
		part_of[i] = nparts;
	}
	for (size_t part = 1; part <= nparts; part++) {
		msg.len = 0;
		util_buf_put(&msg, k->prefix.p, k->prefix.len);
		k->part(&msg, part, nparts);
		if (part == 1 && dropped.len)
			k->trunc(&msg, dropped.p);
		for (size_t i = 0; i < k->np; i++)
			if (part_of[i] == part)
				put_param(&msg, k, i);
		util_buf_put(&msg, k->suffix.p, k->suffix.len);
		frame(out, &msg);
		emitted++;
	}
	if (msg.failed)
		out->failed = true;
out:
	util_buf_free(&msg);
	util_buf_free(&tmp);
	util_buf_free(&names);
	util_buf_free(&dropped);
	return out->failed ? 0 : emitted;
}

static void packer_free(struct packer *k)
{
	util_buf_free(&k->prefix);
	util_buf_free(&k->suffix);
	util_buf_free(&k->texts);
}

/* A new field of k, rendered by the caller into k->texts after this. */
static struct param *param_begin(struct packer *k, const char *name)
{
	struct param *p = &k->p[k->np++];

	p->name = name;
	p->off = k->texts.len;
	return p;
}

static void param_end(struct packer *k, struct param *p)
{
	p->len = k->texts.len - p->off;
}

/* ---- syslog ---- */

static void sd_value(struct util_buf *b, const char *v)
{
	buf_escaped(b, v, &esc_sd);
}

static void sd_param(struct packer *k, const char *name, const char *val)
{
	struct param *p;

	if (!val || !val[0] || k->np == sizeof k->p / sizeof k->p[0])
		return;
	p = param_begin(k, name);
	util_buf_puts(&k->texts, " ");
	util_buf_puts(&k->texts, name);
	util_buf_puts(&k->texts, "=\"");
	sd_value(&k->texts, val);
	util_buf_puts(&k->texts, "\"");
	param_end(k, p);
}

static void sd_part(struct util_buf *b, size_t k, size_t n)
{
	char s[48];

	snprintf(s, sizeof s, " part=\"%zu/%zu\"", k, n);
	util_buf_puts(b, s);
}

static void sd_trunc(struct util_buf *b, const char *names)
{
	util_buf_puts(b, " truncated=\"");
	sd_value(b, names);
	util_buf_puts(b, "\"");
}

size_t sinks_format_syslog(const struct store_audit_row *r, const char *host, size_t max,
    struct util_buf *out)
{
	struct packer k;
	struct actor_view a;
	size_t n;

	memset(&k, 0, sizeof k);
	k.part = sd_part;
	k.trunc = sd_trunc;
	actor_view_parse(r->actor, &a);
	header_5424(&k.prefix, r, host, "AUDIT");
	PUT_LIT(&k.prefix, "[phivault@32473 seq=\"");
	put_int(&k.prefix, (long long)r->seq);
	PUT_LIT(&k.prefix, "\"");
	sd_param(&k, "action", r->action);
	sd_param(&k, "outcome", r->outcome);
	sd_param(&k, "reason", r->reason);
	sd_param(&k, "resource", r->resource);
	sd_param(&k, "user", a.user_id);
	sd_param(&k, "session", a.session_id);
	sd_param(&k, "src", a.source);
	sd_param(&k, "purposeOfUse", r->purpose_of_use);
	if (r->detail && strcmp(r->detail, "{}") != 0)
		sd_param(&k, "detail", r->detail);
	sd_param(&k, "hash", r->hash);
	util_buf_puts(&k.suffix, "] ");
	buf_escaped(&k.suffix, r->action, &esc_none);
	util_buf_puts(&k.suffix, " ");
	buf_escaped(&k.suffix, r->outcome, &esc_none);
	n = pack(&k, max, out);
	packer_free(&k);
	actor_view_free(&a);
	return n;
}

/* ---- cef ---- */

static void cef_header(struct util_buf *b, const char *s)
{
	buf_escaped(b, s, &esc_cef_header);
}

static void cef_value(struct util_buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	while (*p) {
		const unsigned char *run = p;

		while (*p >= 0x20 && *p != 0x7f && *p != '\\' && *p != '=')
			p++;
		if (p > run)
			util_buf_put(b, run, (size_t)(p - run));
		if (!*p)
			break;
		if (*p == '\\' || *p == '=') {
			util_buf_put(b, "\\", 1);
			buf_char(b, *p);
		} else if (*p == '\n') {
			util_buf_puts(b, "\\n");
		} else if (*p == '\r') {
			util_buf_puts(b, "\\r");
		} else {
			buf_char(b, *p);
		}
		p++;
	}
}

/* " key=value", or " keyLabel=label key=value" for a custom field. */
static void cef_param(struct packer *k, const char *name, const char *key, const char *label,
    const char *val)
{
	struct param *p;

	if (!val || !val[0] || k->np == sizeof k->p / sizeof k->p[0])
		return;
	p = param_begin(k, name);
	if (label) {
		util_buf_puts(&k->texts, " ");
		util_buf_puts(&k->texts, key);
		util_buf_puts(&k->texts, "Label=");
		cef_value(&k->texts, label);
	}
	util_buf_puts(&k->texts, " ");
	util_buf_puts(&k->texts, key);
	util_buf_puts(&k->texts, "=");
	cef_value(&k->texts, val);
	param_end(k, p);
}

static void cef_part(struct util_buf *b, size_t k, size_t n)
{
	char s[64];

	snprintf(s, sizeof s, " cs5Label=part cs5=%zu/%zu", k, n);
	util_buf_puts(b, s);
}

static void cef_trunc(struct util_buf *b, const char *names)
{
	util_buf_puts(b, " cs6Label=truncated cs6=");
	cef_value(b, names);
}

size_t sinks_format_cef(const struct store_audit_row *r, const char *host, size_t max,
    struct util_buf *out)
{
	struct packer k;
	struct actor_view a;
	char num[64];
	int64_t rt = util_time_parse(r->time);
	size_t n;

	memset(&k, 0, sizeof k);
	k.part = cef_part;
	k.trunc = cef_trunc;
	actor_view_parse(r->actor, &a);
	header_5424(&k.prefix, r, host, "CEF");
	util_buf_puts(&k.prefix, "- CEF:0|phivault|phivault|");
	cef_header(&k.prefix, PHIVAULT_VERSION);
	util_buf_puts(&k.prefix, "|");
	cef_header(&k.prefix, r->action);
	util_buf_puts(&k.prefix, "|");
	cef_header(&k.prefix, r->action);
	snprintf(num, sizeof num, "|%d|cn1Label=seq cn1=%lld", cef_severity(r->outcome),
	    (long long)r->seq);
	util_buf_puts(&k.prefix, num);
	if (rt >= 0) {
		snprintf(num, sizeof num, "%lld", (long long)rt);
		cef_param(&k, "rt", "rt", NULL, num);
	}
	cef_param(&k, "action", "act", NULL, r->action);
	cef_param(&k, "outcome", "outcome", NULL, r->outcome);
	cef_param(&k, "reason", "reason", NULL, r->reason);
	cef_param(&k, "resource", "cs1", "resource", r->resource);
	cef_param(&k, "user", "suser", NULL, a.user_id);
	cef_param(&k, "session", "cs4", "sessionId", a.session_id);
	cef_param(&k, "src", "src", NULL, a.source);
	cef_param(&k, "purposeOfUse", "cs2", "purposeOfUse", r->purpose_of_use);
	if (r->detail && strcmp(r->detail, "{}") != 0)
		cef_param(&k, "detail", "msg", NULL, r->detail);
	cef_param(&k, "hash", "cs3", "hash", r->hash);
	n = pack(&k, max, out);
	packer_free(&k);
	actor_view_free(&a);
	return n;
}

/* ---- JSON: the export object and OCSF ---- */

static json_t *jstr(const char *s)
{
	json_t *v = json_string(s ? s : "");

	return v ? v : json_string("?");   /* not UTF-8: only a tampered row */
}

static json_t *embed_json(const char *text)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	if (v && json_is_object(v))
		return v;
	json_decref(v);
	return jstr(text);
}

json_t *sinks_entry_json(const struct store_audit_row *r)
{
	json_t *o = json_object();

	if (!o ||
	    json_object_set_new(o, "seq", json_integer(r->seq)) != 0 ||
	    json_object_set_new(o, "time", jstr(r->time)) != 0 ||
	    json_object_set_new(o, "actor", embed_json(r->actor)) != 0 ||
	    json_object_set_new(o, "action", jstr(r->action)) != 0 ||
	    json_object_set_new(o, "resource", jstr(r->resource)) != 0 ||
	    json_object_set_new(o, "purpose_of_use", jstr(r->purpose_of_use)) != 0 ||
	    json_object_set_new(o, "outcome", jstr(r->outcome)) != 0 ||
	    json_object_set_new(o, "reason", jstr(r->reason)) != 0 ||
	    json_object_set_new(o, "detail", embed_json(r->detail)) != 0 ||
	    json_object_set_new(o, "prev_hash", jstr(r->prev_hash)) != 0 ||
	    json_object_set_new(o, "hash", jstr(r->hash)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int sinks_ocsf_class(const char *action)
{
	if (action && strncmp(action, "auth.", 5) == 0)
		return 3002;
	if (action && strncmp(action, "alert.", 6) == 0)
		return 2004;
	return 6003;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* OCSF activity_id of the class: 1 Logon / 2 Logoff (3002); 1 Create, 2 Read,
 * 3 Update, 4 Delete (6003); 1 Create (2004); 99 Other. */
static int ocsf_activity(int cls, const char *action)
{
	if (cls == 3002)
		return is(action, "auth.login") || is(action, "auth.mfa") ? 1 :
		    is(action, "auth.logout") ? 2 : 99;
	if (cls == 2004)
		return 1;
	if (ends_with(action, ".create") || ends_with(action, ".tokenize"))
		return 1;
	if (ends_with(action, ".read") || ends_with(action, ".search") ||
	    ends_with(action, ".detokenize") || ends_with(action, ".list"))
		return 2;
	if (ends_with(action, ".update") || ends_with(action, ".rotate"))
		return 3;
	if (ends_with(action, ".delete") || ends_with(action, ".shred") ||
	    ends_with(action, ".revoke"))
		return 4;
	return 99;
}

/* A column the fast writer copies between quotes as it is: NULL (written
 * as jansson writes NULL here: "") or plain bytes (no escaping needed). */
static bool plain_text(const char *s)
{
	if (s == NULL)
		return true;
	for (; *s; s++)
		if (!plain_byte((unsigned char)*s))
			return false;
	return true;
}

static void put_str(struct util_buf *b, const char *s)
{
	util_buf_put(b, "\"", 1);
	if (s != NULL)
		util_buf_puts(b, s);
	util_buf_put(b, "\"", 1);
}

/* The line ocsf_jansson writes, written directly: for rows whose texts are
 * all plain (plain_text), whose actor actor_fast reads and whose detail is
 * NULL or a plain JSON object (written as it is: jansson's compact dump of
 * it is the same text). false (nothing written) for any other row. */
static bool ocsf_fast(const struct store_audit_row *r, struct util_buf *out)
{
	struct actor_view a;
	int cls, act;
	bool ok;
	int64_t t;
	const char *action = r->action ? r->action : "";
	const char *resource = r->resource ? r->resource : "";

	if (!plain_text(r->action) || !plain_text(r->reason) || !plain_text(r->resource) ||
	    !plain_text(r->purpose_of_use) || !plain_text(r->outcome) || !plain_text(r->hash) ||
	    (r->detail != NULL && !plain_json_object(r->detail)))
		return false;
	a.user_id = a.session_id = a.source = NULL;
	if (r->actor != NULL && !actor_fast(r->actor, &a))
		return false;
	cls = sinks_ocsf_class(r->action);
	act = ocsf_activity(cls, r->action);
	ok = is(r->outcome, "allowed");
	t = util_time_parse(r->time);
	PUT_LIT(out, "{\"class_uid\":");
	put_int(out, cls);
	PUT_LIT(out, ",\"category_uid\":");
	put_int(out, cls / 1000);
	PUT_LIT(out, ",\"activity_id\":");
	put_int(out, act);
	PUT_LIT(out, ",\"type_uid\":");
	put_int(out, (long long)cls * 100 + act);
	PUT_LIT(out, ",\"time\":");
	put_int(out, (long long)(t >= 0 ? t : 0));
	PUT_LIT(out, ",\"severity_id\":");
	put_int(out, ok ? 1 : is(r->outcome, "denied") ? 3 : 4);
	if (ok)
		PUT_LIT(out, ",\"status\":\"Success\",\"status_id\":1");
	else
		PUT_LIT(out, ",\"status\":\"Failure\",\"status_id\":2");
	PUT_LIT(out, ",\"message\":");
	put_str(out, action);
	PUT_LIT(out, ",\"status_detail\":");
	if (r->reason && r->reason[0])
		put_str(out, r->reason);
	else
		PUT_LIT(out, "null");
	PUT_LIT(out, ",\"actor\":{\"user\":{\"uid\":");
	if (a.user_id)
		put_str(out, a.user_id);
	else
		PUT_LIT(out, "null");
	PUT_LIT(out, "}");
	if (a.session_id) {
		PUT_LIT(out, ",\"session\":{\"uid\":");
		put_str(out, a.session_id);
		PUT_LIT(out, "}");
	}
	PUT_LIT(out, "},\"metadata\":{\"version\":\"1.1.0\",\"product\":{\"name\":"
	    "\"phivault\",\"vendor_name\":\"phivault\",\"version\":\"" PHIVAULT_VERSION "\"},"
	    "\"uid\":");
	put_str(out, r->hash);
	PUT_LIT(out, ",\"sequence\":");
	put_int(out, (long long)r->seq);
	PUT_LIT(out, ",\"log_name\":\"audit\"}");
	if (a.source) {
		PUT_LIT(out, ",\"src_endpoint\":{\"ip\":");
		put_str(out, a.source);
		PUT_LIT(out, "}");
	}
	if (cls == 3002) {
		PUT_LIT(out, ",\"user\":{\"uid\":");
		if (a.user_id)
			put_str(out, a.user_id);
		else
			PUT_LIT(out, "null");
		PUT_LIT(out, "}");
	} else if (cls == 2004) {
		PUT_LIT(out, ",\"finding_info\":{\"uid\":");
		put_str(out, resource);
		PUT_LIT(out, ",\"title\":");
		put_str(out, action);
		PUT_LIT(out, ",\"types\":[");
		put_str(out, action);
		PUT_LIT(out, "]}");
	} else {
		PUT_LIT(out, ",\"api\":{\"operation\":");
		put_str(out, action);
		PUT_LIT(out, "},\"resources\":[{\"uid\":");
		put_str(out, resource);
		PUT_LIT(out, "}]");
	}
	PUT_LIT(out, ",\"unmapped\":{\"resource\":");
	put_str(out, resource);
	PUT_LIT(out, ",\"outcome\":");
	put_str(out, r->outcome);
	PUT_LIT(out, ",\"purpose_of_use\":");
	put_str(out, r->purpose_of_use);
	PUT_LIT(out, ",\"detail\":");
	if (r->detail)
		util_buf_puts(out, r->detail);
	else
		PUT_LIT(out, "\"\"");
	PUT_LIT(out, "}}\n");
	return true;
}

size_t sinks_format_ocsf(const struct store_audit_row *r, struct util_buf *out)
{
	if (ocsf_fast(r, out))
		return out->failed ? 0 : 1;
	return sinks_format_ocsf_jansson(r, out);
}

size_t sinks_format_ocsf_jansson(const struct store_audit_row *r, struct util_buf *out)
{
	struct audit_actor_fields a;
	int cls = sinks_ocsf_class(r->action), act = ocsf_activity(cls, r->action);
	bool ok = is(r->outcome, "allowed");
	int64_t t = util_time_parse(r->time);
	json_t *o = NULL, *actor, *user;
	char *line = NULL;
	size_t n = 0;

	audit_actor_fields_parse(r->actor, &a);
	user = json_pack("{s:s?}", "uid", a.user_id);
	actor = json_pack("{s:o?}", "user", user);
	if (actor && a.session_id)
		json_object_set_new(actor, "session", json_pack("{s:s}", "uid", a.session_id));
	o = json_pack("{s:i, s:i, s:i, s:I, s:I, s:i, s:s, s:i, s:s, s:s?, s:o?,"
	    " s:{s:s, s:{s:s, s:s, s:s}, s:s, s:I, s:s}}",
	    "class_uid", cls,
	    "category_uid", cls / 1000,
	    "activity_id", act,
	    "type_uid", (json_int_t)cls * 100 + act,
	    "time", (json_int_t)(t >= 0 ? t : 0),
	    "severity_id", ok ? 1 : is(r->outcome, "denied") ? 3 : 4,
	    "status", ok ? "Success" : "Failure",
	    "status_id", ok ? 1 : 2,
	    "message", r->action ? r->action : "",
	    "status_detail", r->reason && r->reason[0] ? r->reason : NULL,
	    "actor", actor,
	    "metadata",
		"version", "1.1.0",
		"product", "name", "phivault", "vendor_name", "phivault",
		    "version", PHIVAULT_VERSION,
		"uid", r->hash ? r->hash : "",
		"sequence", (json_int_t)r->seq,
		"log_name", "audit");
	if (!o)
		goto out;
	if (a.source)
		json_object_set_new(o, "src_endpoint", json_pack("{s:s}", "ip", a.source));
	if (cls == 3002) {
		json_object_set(o, "user", json_object_get(actor, "user"));
	} else if (cls == 2004) {
		json_object_set_new(o, "finding_info", json_pack("{s:s, s:s, s:[s]}",
		    "uid", r->resource ? r->resource : "", "title", r->action ? r->action : "",
		    "types", r->action ? r->action : ""));
	} else {
		json_object_set_new(o, "api", json_pack("{s:s}", "operation",
		    r->action ? r->action : ""));
		json_object_set_new(o, "resources", json_pack("[{s:s}]", "uid",
		    r->resource ? r->resource : ""));
	}
	json_object_set_new(o, "unmapped", json_pack("{s:s, s:s, s:s, s:o}",
	    "resource", r->resource ? r->resource : "",
	    "outcome", r->outcome ? r->outcome : "",
	    "purpose_of_use", r->purpose_of_use ? r->purpose_of_use : "",
	    "detail", embed_json(r->detail)));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line)
		goto out;
	util_buf_puts(out, line);
	util_buf_puts(out, "\n");
	n = out->failed ? 0 : 1;
out:
	if (!n)
		out->failed = true;
	free(line);
	json_decref(o);
	json_decref(a.root);
	return n;
}
