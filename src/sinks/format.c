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
	char pri[16];
	const char *ts = r->time && r->time[0] && !strchr(r->time, ' ') ? r->time : "-";

	snprintf(pri, sizeof pri, "<%d>1 ", syslog_pri(r->outcome));
	util_buf_puts(b, pri);
	for (const unsigned char *p = (const unsigned char *)ts; *p; p++)
		buf_char(b, *p);
	util_buf_puts(b, " ");
	util_buf_puts(b, host && host[0] ? host : "-");
	util_buf_puts(b, " phivault - ");
	util_buf_puts(b, msgid);
	util_buf_puts(b, " ");
}

/* ---- splitting by field ---- */

struct param {
	const char *name;
	struct util_buf text;        /* rendered, with its leading space */
};

struct packer {
	struct util_buf prefix;      /* header up to and including seq */
	struct util_buf suffix;      /* after the last field */
	void (*part)(struct util_buf *b, size_t k, size_t n);
	void (*trunc)(struct util_buf *b, const char *names);
	struct param p[16];
	size_t np;
};

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
	bool oom = k->prefix.failed || k->suffix.failed;

	for (size_t i = 0; i < k->np; i++) {
		total += k->p[i].text.len;
		oom |= k->p[i].text.failed;
	}
	if (oom) {
		out->failed = true;
		return 0;
	}
	if (total <= max) {
		util_buf_put(&msg, k->prefix.p, k->prefix.len);
		for (size_t i = 0; i < k->np; i++)
			util_buf_put(&msg, k->p[i].text.p, k->p[i].text.len);
		util_buf_put(&msg, k->suffix.p, k->suffix.len);
		frame(out, &msg);
		emitted = msg.failed ? 0 : 1;
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
		size_t n = k->p[i].text.len;

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
				util_buf_put(&msg, k->p[i].text.p, k->p[i].text.len);
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
	for (size_t i = 0; i < k->np; i++)
		util_buf_free(&k->p[i].text);
}

/* ---- syslog ---- */

static void sd_value(struct util_buf *b, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == ']')
			util_buf_put(b, "\\", 1);
		buf_char(b, *p);
	}
}

static void sd_param(struct packer *k, const char *name, const char *val)
{
	struct param *p;

	if (!val || !val[0] || k->np == sizeof k->p / sizeof k->p[0])
		return;
	p = &k->p[k->np++];
	p->name = name;
	util_buf_puts(&p->text, " ");
	util_buf_puts(&p->text, name);
	util_buf_puts(&p->text, "=\"");
	sd_value(&p->text, val);
	util_buf_puts(&p->text, "\"");
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
	struct audit_actor_fields a;
	char seq[48];
	size_t n;

	memset(&k, 0, sizeof k);
	k.part = sd_part;
	k.trunc = sd_trunc;
	audit_actor_fields_parse(r->actor, &a);
	header_5424(&k.prefix, r, host, "AUDIT");
	snprintf(seq, sizeof seq, "[phivault@32473 seq=\"%lld\"", (long long)r->seq);
	util_buf_puts(&k.prefix, seq);
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
	for (const unsigned char *p = (const unsigned char *)(r->action ? r->action : ""); *p; p++)
		buf_char(&k.suffix, *p);
	util_buf_puts(&k.suffix, " ");
	for (const unsigned char *p = (const unsigned char *)(r->outcome ? r->outcome : ""); *p; p++)
		buf_char(&k.suffix, *p);
	n = pack(&k, max, out);
	packer_free(&k);
	json_decref(a.root);
	return n;
}

/* ---- cef ---- */

static void cef_header(struct util_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '\\' || *p == '|')
			util_buf_put(b, "\\", 1);
		buf_char(b, *p);
	}
}

static void cef_value(struct util_buf *b, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
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
	}
}

/* " key=value", or " keyLabel=label key=value" for a custom field. */
static void cef_param(struct packer *k, const char *name, const char *key, const char *label,
    const char *val)
{
	struct param *p;

	if (!val || !val[0] || k->np == sizeof k->p / sizeof k->p[0])
		return;
	p = &k->p[k->np++];
	p->name = name;
	if (label) {
		util_buf_puts(&p->text, " ");
		util_buf_puts(&p->text, key);
		util_buf_puts(&p->text, "Label=");
		cef_value(&p->text, label);
	}
	util_buf_puts(&p->text, " ");
	util_buf_puts(&p->text, key);
	util_buf_puts(&p->text, "=");
	cef_value(&p->text, val);
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
	struct audit_actor_fields a;
	char num[64];
	int64_t rt = util_time_parse(r->time);
	size_t n;

	memset(&k, 0, sizeof k);
	k.part = cef_part;
	k.trunc = cef_trunc;
	audit_actor_fields_parse(r->actor, &a);
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
	json_decref(a.root);
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

size_t sinks_format_ocsf(const struct store_audit_row *r, struct util_buf *out)
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
