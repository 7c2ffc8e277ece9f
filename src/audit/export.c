/*
 * export.c: entries out to a SIEM, one line each.
 *
 *  jsonl   one compact JSON object a line, every column; actor and detail
 *          embedded as JSON objects (as text if a tampered row no longer
 *          parses, so the export never silently drops a row).
 *  cef     ArcSight CEF:0 (Micro Focus "Implementing ArcSight CEF" rev 25):
 *          header fields escape '\' and '|'; extension values escape '\' and
 *          '=' and write CR/LF as \r / \n. Pipes in extension values need no
 *          escape per that spec.
 *  syslog  RFC 5424 section 6: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
 *          STRUCTURED-DATA MSG, facility authpriv (10), one SD element
 *          "phivault@32473" whose PARAM-VALUEs escape '"', '\' and ']'
 *          (section 6.3.3). 32473 is the documentation PEN of RFC 5612.
 *
 * Stored text holds no control characters (audit_prepare refuses them), but
 * an export may run over a tampered database: any control byte that reaches
 * a cef or syslog line is written as '?', so one entry is always one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit_int.h"

enum export_fmt { FMT_JSONL, FMT_CEF, FMT_SYSLOG };

struct export_ctx {
	enum export_fmt fmt;
	FILE *out;
	enum pv_rc rc;
	char host[256];
};

/* ---- jsonl ---- */

/* A JSON object column as an object, or as a string if it does not parse. */
static json_t *embed_json(const char *text)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	if (v && json_is_object(v))
		return v;
	json_decref(v);
	return json_string(text ? text : "");
}

static json_t *str_or_empty(const char *s)
{
	json_t *v = json_string(s ? s : "");

	/* Not UTF-8 (only possible in a tampered row): keep the row, mark the field. */
	return v ? v : json_string("?");
}

static enum pv_rc export_jsonl(struct export_ctx *c, const struct store_audit_row *r)
{
	enum pv_rc rc = PV_OK;
	json_t *o = json_object();
	char *line = NULL;

	if (!o ||
	    json_object_set_new(o, "seq", json_integer(r->seq)) != 0 ||
	    json_object_set_new(o, "time", str_or_empty(r->time)) != 0 ||
	    json_object_set_new(o, "actor", embed_json(r->actor)) != 0 ||
	    json_object_set_new(o, "action", str_or_empty(r->action)) != 0 ||
	    json_object_set_new(o, "resource", str_or_empty(r->resource)) != 0 ||
	    json_object_set_new(o, "purpose_of_use", str_or_empty(r->purpose_of_use)) != 0 ||
	    json_object_set_new(o, "outcome", str_or_empty(r->outcome)) != 0 ||
	    json_object_set_new(o, "reason", str_or_empty(r->reason)) != 0 ||
	    json_object_set_new(o, "detail", embed_json(r->detail)) != 0 ||
	    json_object_set_new(o, "prev_hash", str_or_empty(r->prev_hash)) != 0 ||
	    json_object_set_new(o, "hash", str_or_empty(r->hash)) != 0) {
		rc = PV_E_NOMEM;
		goto out;
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (fputs(line, c->out) == EOF || fputc('\n', c->out) == EOF)
		rc = PV_E_IO;
out:
	free(line);
	json_decref(o);
	return rc;
}

/* ---- shared by cef and syslog, and by the SIEM formatters (audit.h) ---- */

void audit_actor_fields_parse(const char *text, struct audit_actor_fields *a)
{
	memset(a, 0, sizeof *a);
	a->root = text ? json_loads(text, 0, NULL) : NULL;
	if (!a->root)
		return;
	a->user_id = json_string_value(json_object_get(a->root, "user_id"));
	a->session_id = json_string_value(json_object_get(a->root, "session_id"));
	a->source = json_string_value(json_object_get(a->root, "source"));
}

static int put_char(FILE *f, unsigned char ch)
{
	if (ch < 0x20 || ch == 0x7f)
		ch = '?';
	return fputc(ch, f) == EOF ? -1 : 0;
}

/* ---- cef ---- */

static int cef_header(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if ((*p == '\\' || *p == '|') && fputc('\\', f) == EOF)
			return -1;
		if (put_char(f, *p) != 0)
			return -1;
	}
	return 0;
}

/* key=value; extensions are separated by one space, the first has none. */
static int cef_ext(FILE *f, bool *first, const char *key, const char *val)
{
	if (!val || !val[0])
		return 0;
	if (fprintf(f, "%s%s=", *first ? "" : " ", key) < 0)
		return -1;
	*first = false;
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		int r;

		if (*p == '\\' || *p == '=')
			r = fputc('\\', f) == EOF ? -1 : put_char(f, *p);
		else if (*p == '\n')
			r = fputs("\\n", f) == EOF ? -1 : 0;
		else if (*p == '\r')
			r = fputs("\\r", f) == EOF ? -1 : 0;
		else
			r = put_char(f, *p);
		if (r != 0)
			return -1;
	}
	return 0;
}

/* A custom field and its label, both or neither. */
static int cef_custom(FILE *f, bool *first, const char *key, const char *label, const char *val)
{
	char lkey[16];

	if (!val || !val[0])
		return 0;
	snprintf(lkey, sizeof lkey, "%sLabel", key);
	return cef_ext(f, first, lkey, label) || cef_ext(f, first, key, val) ? -1 : 0;
}

static int cef_severity(const char *outcome)
{
	if (outcome && strcmp(outcome, "allowed") == 0)
		return 3;
	if (outcome && strcmp(outcome, "denied") == 0)
		return 6;
	return 8;
}

static enum pv_rc export_cef(struct export_ctx *c, const struct store_audit_row *r)
{
	enum pv_rc rc = PV_E_IO;
	struct audit_actor_fields a;
	FILE *f = c->out;
	char num[32], rtbuf[32];
	bool first = true;
	int64_t rt = util_time_parse(r->time);

	audit_actor_fields_parse(r->actor, &a);
	if (fputs("CEF:0|phivault|phivault|", f) == EOF || cef_header(f, PHIVAULT_VERSION) ||
	    fputc('|', f) == EOF || cef_header(f, r->action) || fputc('|', f) == EOF ||
	    cef_header(f, r->action) || fprintf(f, "|%d|", cef_severity(r->outcome)) < 0)
		goto out;
	snprintf(rtbuf, sizeof rtbuf, "%lld", (long long)rt);
	snprintf(num, sizeof num, "%lld", (long long)r->seq);
	if (cef_ext(f, &first, "rt", rt >= 0 ? rtbuf : NULL) ||
	    cef_ext(f, &first, "suser", a.user_id) || cef_ext(f, &first, "src", a.source) ||
	    cef_ext(f, &first, "act", r->action) || cef_ext(f, &first, "outcome", r->outcome) ||
	    cef_ext(f, &first, "reason", r->reason) ||
	    cef_custom(f, &first, "cs1", "resource", r->resource) ||
	    cef_custom(f, &first, "cs2", "purposeOfUse", r->purpose_of_use) ||
	    cef_custom(f, &first, "cs3", "hash", r->hash) ||
	    cef_custom(f, &first, "cs4", "sessionId", a.session_id) ||
	    cef_custom(f, &first, "cn1", "seq", num) ||
	    fputc('\n', f) == EOF)
		goto out;
	rc = PV_OK;
out:
	json_decref(a.root);
	return rc;
}

/* ---- syslog ---- */

static int sd_param(FILE *f, const char *name, const char *val)
{
	if (!val || !val[0])
		return 0;
	if (fprintf(f, " %s=\"", name) < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if ((*p == '"' || *p == '\\' || *p == ']') && fputc('\\', f) == EOF)
			return -1;
		if (put_char(f, *p) != 0)
			return -1;
	}
	return fputc('"', f) == EOF ? -1 : 0;
}

/* RFC 5424 section 6.2.1: facility 10 (authpriv); severity by outcome. */
static int syslog_pri(const char *outcome)
{
	int sev = 3;   /* error */

	if (outcome && strcmp(outcome, "allowed") == 0)
		sev = 6;   /* informational */
	else if (outcome && strcmp(outcome, "denied") == 0)
		sev = 4;   /* warning */
	return 10 * 8 + sev;
}

static enum pv_rc export_syslog(struct export_ctx *c, const struct store_audit_row *r)
{
	enum pv_rc rc = PV_E_IO;
	struct audit_actor_fields a;
	FILE *f = c->out;
	char num[32];
	const char *ts = r->time && r->time[0] && !strchr(r->time, ' ') ? r->time : "-";

	audit_actor_fields_parse(r->actor, &a);
	snprintf(num, sizeof num, "%lld", (long long)r->seq);
	if (fprintf(f, "<%d>1 ", syslog_pri(r->outcome)) < 0)
		goto out;
	for (const unsigned char *p = (const unsigned char *)ts; *p; p++)
		if (put_char(f, *p) != 0)
			goto out;
	if (fprintf(f, " %s phivault - AUDIT [phivault@32473", c->host) < 0 ||
	    sd_param(f, "seq", num) || sd_param(f, "action", r->action) ||
	    sd_param(f, "resource", r->resource) || sd_param(f, "outcome", r->outcome) ||
	    sd_param(f, "reason", r->reason) || sd_param(f, "purposeOfUse", r->purpose_of_use) ||
	    sd_param(f, "user", a.user_id) || sd_param(f, "session", a.session_id) ||
	    sd_param(f, "src", a.source) || sd_param(f, "hash", r->hash) ||
	    fputs("] ", f) == EOF)
		goto out;
	for (const unsigned char *p = (const unsigned char *)(r->action ? r->action : ""); *p; p++)
		if (put_char(f, *p) != 0)
			goto out;
	if (fputc(' ', f) == EOF)
		goto out;
	for (const unsigned char *p = (const unsigned char *)(r->outcome ? r->outcome : ""); *p; p++)
		if (put_char(f, *p) != 0)
			goto out;
	if (fputc('\n', f) == EOF)
		goto out;
	rc = PV_OK;
out:
	json_decref(a.root);
	return rc;
}

/* RFC 5424 HOSTNAME: 1-255 PRINTUSASCII, "-" if unknown. */
static void syslog_host(char *buf, size_t len)
{
	size_t i;

	if (gethostname(buf, len) != 0 || !buf[0]) {
		util_strlcpy(buf, "-", len);
		return;
	}
	buf[len - 1] = '\0';
	for (i = 0; buf[i]; i++)
		if (buf[i] <= 0x20 || buf[i] >= 0x7f)
			buf[i] = '-';
}

static int export_row(const struct store_audit_row *r, void *arg)
{
	struct export_ctx *c = arg;

	switch (c->fmt) {
	case FMT_JSONL:
		c->rc = export_jsonl(c, r);
		break;
	case FMT_CEF:
		c->rc = export_cef(c, r);
		break;
	case FMT_SYSLOG:
		c->rc = export_syslog(c, r);
		break;
	}
	return c->rc != PV_OK;
}

enum pv_rc audit_export(struct store *st, const char *format, int64_t since_seq, FILE *out)
{
	enum pv_rc rc;
	struct export_ctx c;
	struct store_audit_filter f;

	if (!st || !format || !out)
		return PV_E_INVALID;
	memset(&c, 0, sizeof c);
	c.out = out;
	if (strcmp(format, "jsonl") == 0)
		c.fmt = FMT_JSONL;
	else if (strcmp(format, "cef") == 0)
		c.fmt = FMT_CEF;
	else if (strcmp(format, "syslog") == 0)
		c.fmt = FMT_SYSLOG;
	else
		return PV_E_INVALID;
	if (c.fmt == FMT_SYSLOG)
		syslog_host(c.host, sizeof c.host);
	memset(&f, 0, sizeof f);
	f.since_seq = since_seq;
	STORE_READ(st, rc, store_audit_scan(tx, &f, export_row, &c));
	if (rc == PV_OK)
		rc = c.rc;
	if (rc == PV_OK && fflush(out) != 0)
		rc = PV_E_IO;
	return rc;
}
