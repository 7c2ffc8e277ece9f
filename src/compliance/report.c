/*
 * compliance/report.c: the report document, its signature, its three
 * renderings and their verification.
 *
 * Document (JSON, keys sorted): format "phivault-compliance-report-v1",
 * catalog {name,version,source,hitrust_note}, generated_at (the time of
 * the audit entry at audit_seq: never the wall clock), audit_seq,
 * audit_head, mode (online | offline), phivault_version, summary
 * {pass,fail,not_applicable,customer,excepted,total}, controls [...] in
 * catalog order (a failing one under a live exception: status "excepted"
 * and "exception" {id,owner,expires_at}), customer_duties [...],
 * exceptions [...] (the register, each with its state at the report's
 * clock), findings [...] (expired exceptions), digests, signature.
 * Reports made before the register carry no exceptions/findings/excepted
 * and render (and verify) as they always did.
 *
 * A control's status from its evaluators: any fail -> fail; else any
 * pass -> pass; else any customer -> customer; else not_applicable.
 *
 * digests = {"fields":{<top-level key>: sha256hex(canonical(value))},
 * "controls":{<cfr>: sha256hex(canonical(control))}} for every key but
 * digests and signature; they let verify name what changed.
 * signature = {"alg":"Ed25519","key_fingerprint":"SHA256:<hex>","value":
 * base64(Ed25519(audit key, "phivault-compliance-report-v1\n" ||
 * canonical(document without "signature")))}; canonical = jansson
 * compact with sorted keys. Ed25519 is deterministic, so the same state
 * gives the same bytes.
 *
 * Renderings: json = the document, indented by 2, keys sorted, one
 * newline; md and html = a human text generated from the document, which
 * then carries the document itself (md: a fenced json block after the
 * marker line; html: a <script type="application/json"> element with
 * <, > and & as \u escapes). verify re-renders md and html from the
 * document they carry and compares byte for byte, so the human text
 * cannot be edited apart from the signed JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/compliance_int.h"

#define REPORT_FORMAT "phivault-compliance-report-v1"
#define MD_MARK "<!-- phivault-compliance-report-json -->\n```json\n"
#define MD_END "```\n"
#define HTML_MARK "<script type=\"application/json\" id=\"phivault-report\">"
#define HTML_END "</script>"

bool
compliance_format_parse(const char *s, enum compliance_format *out)
{
	if (s == NULL || strcmp(s, "json") == 0)
		*out = COMPLIANCE_JSON;
	else if (strcmp(s, "md") == 0)
		*out = COMPLIANCE_MD;
	else if (strcmp(s, "html") == 0)
		*out = COMPLIANCE_HTML;
	else
		return false;
	return true;
}

static char *
canonical(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static enum pv_rc
digest_of(const json_t *v, char hex[65])
{
	uint8_t d[CRYPTO_SHA256_LEN];
	char *c = canonical(v);
	enum pv_rc rc;

	if (c == NULL)
		return PV_E_NOMEM;
	rc = crypto_sha256(c, strlen(c), d);
	free(c);
	if (rc == PV_OK)
		util_hex_encode(d, sizeof d, hex);
	return rc;
}

/* ---- building ---- */

static enum compliance_status
combine(enum compliance_status acc, enum compliance_status s, bool first)
{
	static const int rank[] = { [COMPLIANCE_FAIL] = 3, [COMPLIANCE_PASS] = 2,
		[COMPLIANCE_CUSTOMER] = 1, [COMPLIANCE_NA] = 0 };

	if (first || rank[s] > rank[acc])
		return s;
	return acc;
}

static enum pv_rc
build_control(const json_t *cat_ctl, const struct compliance_state *s, json_t **out,
    enum compliance_status *status)
{
	json_t *ctl = json_deep_copy(cat_ctl), *evals = json_array(), *id;
	enum compliance_status acc = COMPLIANCE_NA;
	size_t i;
	enum pv_rc rc = PV_OK;

	if (ctl == NULL || evals == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	json_object_del(ctl, "evaluators");
	json_array_foreach(json_object_get(cat_ctl, "evaluators"), i, id) {
		enum compliance_status st;
		json_t *ev = NULL;

		if ((rc = compliance_evaluate(json_string_value(id), s, &st, &ev)) != PV_OK)
			goto out;
		json_array_append_new(evals, json_pack("{s:O, s:s, s:o}", "id", id, "status",
		    compliance_status_name(st), "evidence", ev));
		acc = combine(acc, st, i == 0);
	}
	json_object_set_new(ctl, "evaluations", evals);
	evals = NULL;
	json_object_set_new(ctl, "status", json_string(compliance_status_name(acc)));
	*status = acc;
	*out = ctl;
	ctl = NULL;
out:
	json_decref(evals);
	json_decref(ctl);
	return rc;
}

/*
 * The exceptions register (tracking.c): a failing control with a live
 * exception (expires_at after the report's clock) is "excepted", with the
 * exception's id, owner and expiry; it counts in summary.excepted, not in
 * fail. An expired exception no longer applies (the control fails again)
 * and is itself a finding.
 */
static bool
except_control(json_t *ctl, const struct compliance_state *s)
{
	const json_t *e = compliance_exception_live(s->exceptions,
	    json_string_value(json_object_get(ctl, "cfr")), s->now_ms);

	if (e == NULL)
		return false;
	json_object_set_new(ctl, "status", json_string("excepted"));
	json_object_set_new(ctl, "exception", json_pack("{s:O, s:O, s:O}", "id",
	    json_object_get(e, "id"), "owner", json_object_get(e, "owner"), "expires_at",
	    json_object_get(e, "expires_at")));
	return true;
}

static enum pv_rc
add_register(json_t *doc, const struct compliance_state *s, int64_t excepted)
{
	json_t *reg = json_array(), *findings = json_array(), *e;
	size_t i;

	if (reg == NULL || findings == NULL) {
		json_decref(reg);
		json_decref(findings);
		return PV_E_NOMEM;
	}
	json_array_foreach(s->exceptions, i, e) {
		const char *state = compliance_exception_state(e, s->now_ms);
		json_t *x = json_deep_copy(e);

		if (x == NULL)
			continue;
		json_object_set_new(x, "state", json_string(state));
		json_array_append_new(reg, x);
		if (strcmp(state, "expired") == 0)
			json_array_append_new(findings, json_pack("{s:s, s:O, s:O, s:O, s:O}",
			    "finding", "exception_expired", "exception", json_object_get(e, "id"),
			    "control", json_object_get(e, "control"), "owner",
			    json_object_get(e, "owner"), "expires_at",
			    json_object_get(e, "expires_at")));
	}
	json_object_set_new(doc, "exceptions", reg);
	json_object_set_new(doc, "findings", findings);
	json_object_set_new(json_object_get(doc, "summary"), "excepted",
	    json_integer((json_int_t)excepted));
	return PV_OK;
}

enum pv_rc
compliance_report_build(const json_t *catalog, const struct compliance_state *s,
    const char *mode, json_t **out)
{
	json_t *doc = NULL, *ctls = json_array(), *duties = json_array(), *c;
	int64_t counts[4] = { 0, 0, 0, 0 }, excepted = 0;
	char when[40];
	size_t i;
	enum pv_rc rc = PV_OK;

	if (ctls == NULL || duties == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	json_array_foreach(json_object_get(catalog, "controls"), i, c) {
		enum compliance_status st;
		json_t *ctl = NULL;
		const char *duty = json_string_value(json_object_get(c, "customer_duty"));

		if ((rc = build_control(c, s, &ctl, &st)) != PV_OK)
			goto out;
		if (st == COMPLIANCE_FAIL && except_control(ctl, s)) {
			excepted++;
		} else
			counts[st]++;
		json_array_append_new(ctls, ctl);
		if (duty != NULL)
			json_array_append_new(duties, json_pack("{s:O, s:O, s:s, s:O}", "cfr",
			    json_object_get(c, "cfr"), "title", json_object_get(c, "title"), "duty",
			    duty, "owner", json_object_get(c, "owner")));
	}
	util_time_fmt(s->now_ms, when, sizeof when);
	doc = json_pack("{s:s, s:{s:O, s:O, s:O, s:O}, s:s, s:I, s:s, s:s, s:s, "
	    "s:{s:I, s:I, s:I, s:I, s:I}, s:O, s:O}",
	    "format", REPORT_FORMAT,
	    "catalog", "name", json_object_get(catalog, "catalog"),
	    "version", json_object_get(catalog, "version"),
	    "source", json_object_get(catalog, "source"),
	    "hitrust_note", json_object_get(catalog, "hitrust_note"),
	    "generated_at", when, "audit_seq", (json_int_t)s->head_seq, "audit_head", s->head,
	    "mode", mode, "phivault_version", PHIVAULT_VERSION,
	    "summary", "pass", (json_int_t)counts[COMPLIANCE_PASS],
	    "fail", (json_int_t)counts[COMPLIANCE_FAIL],
	    "not_applicable", (json_int_t)counts[COMPLIANCE_NA],
	    "customer", (json_int_t)counts[COMPLIANCE_CUSTOMER],
	    "total", (json_int_t)json_array_size(ctls),
	    "controls", ctls, "customer_duties", duties);
	if (doc == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = add_register(doc, s, excepted)) != PV_OK) {
		json_decref(doc);
		goto out;
	}
	*out = doc;
out:
	json_decref(ctls);
	json_decref(duties);
	return rc;
}

/* ---- signing ---- */

static enum pv_rc
digests(const json_t *doc, json_t **out)
{
	json_t *fields = json_object(), *ctls = json_object(), *v, *o = NULL;
	const char *k;
	char hex[65];
	size_t i;
	enum pv_rc rc = PV_OK;

	if (fields == NULL || ctls == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	json_object_foreach((json_t *)doc, k, v) {
		if (strcmp(k, "digests") == 0 || strcmp(k, "signature") == 0)
			continue;
		if ((rc = digest_of(v, hex)) != PV_OK)
			goto out;
		json_object_set_new(fields, k, json_string(hex));
	}
	json_array_foreach(json_object_get(doc, "controls"), i, v) {
		const char *cfr = json_string_value(json_object_get(v, "cfr"));

		if (cfr == NULL)
			continue;
		if ((rc = digest_of(v, hex)) != PV_OK)
			goto out;
		json_object_set_new(ctls, cfr, json_string(hex));
	}
	if ((o = json_pack("{s:O, s:O}", "fields", fields, "controls", ctls)) == NULL)
		rc = PV_E_NOMEM;
	else
		*out = o;
out:
	json_decref(fields);
	json_decref(ctls);
	return rc;
}

/* "phivault-compliance-report-v1\n" + canonical(doc without signature) */
static enum pv_rc
signed_message(const json_t *doc, char **msg, size_t *len)
{
	json_t *copy = json_copy((json_t *)doc);
	char *c;
	size_t n;

	if (copy == NULL)
		return PV_E_NOMEM;
	json_object_del(copy, "signature");
	c = canonical(copy);
	json_decref(copy);
	if (c == NULL)
		return PV_E_NOMEM;
	n = strlen(REPORT_FORMAT) + 1 + strlen(c);
	if ((*msg = malloc(n + 1)) == NULL) {
		free(c);
		return PV_E_NOMEM;
	}
	snprintf(*msg, n + 1, "%s\n%s", REPORT_FORMAT, c);
	free(c);
	*len = n;
	return PV_OK;
}

enum pv_rc
compliance_report_sign(json_t *doc, struct keys *k, struct store *st)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], sig[CRYPTO_ED25519_SIG_LEN];
	char fp[AUDIT_FINGERPRINT_LEN + 1], b64[128];
	json_t *d = NULL;
	char *msg = NULL;
	size_t len = 0;
	enum pv_rc rc;

	if ((rc = keys_audit_public_key(st, pub)) != PV_OK ||
	    (rc = audit_key_fingerprint(pub, fp)) != PV_OK)
		return rc;
	if ((rc = digests(doc, &d)) != PV_OK)
		return rc;
	json_object_set_new(doc, "digests", d);
	if ((rc = signed_message(doc, &msg, &len)) != PV_OK)
		return rc;
	rc = keys_audit_sign(k, (const uint8_t *)msg, len, sig);
	free(msg);
	if (rc != PV_OK)
		return rc;
	util_b64_encode(sig, sizeof sig, b64);
	if (json_object_set_new(doc, "signature", json_pack("{s:s, s:s, s:s}", "alg", "Ed25519",
	    "key_fingerprint", fp, "value", b64)) != 0)
		return PV_E_NOMEM;
	return PV_OK;
}

/* ---- rendering ---- */

static const char *
s_of(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v != NULL ? v : "";
}

static long long
i_of(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* Markdown text: '|' and '`' would break a table cell or a code span. */
static void
md_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '`')
			fputc('\'', f);
		else if (*s == '\n')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

static void
html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* The document inside <script>: no '<', '>' or '&' can end the element. */
static void
html_json(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("\\u003c", f);
		else if (*s == '>')
			fputs("\\u003e", f);
		else if (*s == '&')
			fputs("\\u0026", f);
		else
			fputc(*s, f);
	}
}

static void
render_md(FILE *f, const json_t *doc, const char *pretty)
{
	const json_t *sum = json_object_get(doc, "summary"), *c, *e;
	size_t i, j;

	fprintf(f, "# phivault compliance report\n\n");
	fprintf(f, "Bound to audit seq %lld (head `%s`), generated at %s (the time of that entry), "
	    "%s, phivault %s.\n\n", i_of(doc, "audit_seq"), s_of(doc, "audit_head"),
	    s_of(doc, "generated_at"), s_of(doc, "mode"), s_of(doc, "phivault_version"));
	fprintf(f, "## Summary\n\n| status | controls |\n|---|---|\n| pass | %lld |\n"
	    "| fail | %lld |\n| not_applicable | %lld |\n| customer | %lld |\n| total | %lld |\n\n",
	    i_of(sum, "pass"), i_of(sum, "fail"), i_of(sum, "not_applicable"),
	    i_of(sum, "customer"), i_of(sum, "total"));
	if (json_object_get(sum, "excepted") != NULL)
		fprintf(f, "Excepted (failing, under a live exception): %lld.\n\n",
		    i_of(sum, "excepted"));
	fprintf(f, "## Controls\n\n| 45 CFR | control | requirement | owner | status |\n"
	    "|---|---|---|---|---|\n");
	json_array_foreach(json_object_get(doc, "controls"), i, c) {
		fprintf(f, "| %s | ", s_of(c, "cfr"));
		md_text(f, s_of(c, "title"));
		fprintf(f, " | %s | %s | **%s** |\n", s_of(c, "requirement"), s_of(c, "owner"),
		    s_of(c, "status"));
	}
	fprintf(f, "\n## Evidence\n");
	json_array_foreach(json_object_get(doc, "controls"), i, c) {
		fprintf(f, "\n### %s ", s_of(c, "cfr"));
		md_text(f, s_of(c, "title"));
		fprintf(f, ": %s\n\n", s_of(c, "status"));
		if (json_object_get(c, "exception") != NULL) {
			const json_t *x = json_object_get(c, "exception");

			fprintf(f, "- excepted by `%s` (owner `%s`) until %s\n", s_of(x, "id"),
			    s_of(x, "owner"), s_of(x, "expires_at"));
		}
		json_array_foreach(json_object_get(c, "evaluations"), j, e) {
			char *ev = canonical(json_object_get(e, "evidence"));

			fprintf(f, "- `%s`: %s, evidence `", s_of(e, "id"), s_of(e, "status"));
			md_text(f, ev != NULL ? ev : "");
			fprintf(f, "`\n");
			free(ev);
		}
	}
	if (json_object_get(doc, "exceptions") != NULL) {
		fprintf(f, "\n## Exceptions register\n\n");
		if (json_array_size(json_object_get(doc, "exceptions")) == 0)
			fprintf(f, "No exceptions.\n");
		else
			fprintf(f, "| id | control | owner | expires_at | state | reason |\n"
			    "|---|---|---|---|---|---|\n");
		json_array_foreach(json_object_get(doc, "exceptions"), i, c) {
			fprintf(f, "| %s | %s | %s | %s | **%s** | ", s_of(c, "id"), s_of(c, "control"),
			    s_of(c, "owner"), s_of(c, "expires_at"), s_of(c, "state"));
			md_text(f, s_of(c, "reason"));
			fprintf(f, " |\n");
		}
		fprintf(f, "\n## Findings\n\n");
		if (json_array_size(json_object_get(doc, "findings")) == 0)
			fprintf(f, "None.\n");
		json_array_foreach(json_object_get(doc, "findings"), i, c)
			fprintf(f, "- %s: `%s` for %s (owner `%s`) expired at %s; the control is "
			    "evaluated as if it did not exist\n", s_of(c, "finding"),
			    s_of(c, "exception"), s_of(c, "control"), s_of(c, "owner"),
			    s_of(c, "expires_at"));
	}
	fprintf(f, "\n## Your duties (customer and shared controls)\n\n");
	json_array_foreach(json_object_get(doc, "customer_duties"), i, c) {
		fprintf(f, "- **%s ", s_of(c, "cfr"));
		md_text(f, s_of(c, "title"));
		fprintf(f, "** (%s): ", s_of(c, "owner"));
		md_text(f, s_of(c, "duty"));
		fprintf(f, "\n");
	}
	fprintf(f, "\n## Signature\n\nEd25519 with the audit key %s over the JSON document "
	    "below, which this text is generated from; check both with "
	    "`phivault compliance verify FILE`.\n\n",
	    s_of(json_object_get(doc, "signature"), "key_fingerprint"));
	fprintf(f, "%s%s\n%s", MD_MARK, pretty, MD_END);
}

static void
render_html(FILE *f, const json_t *doc, const char *pretty)
{
	const json_t *sum = json_object_get(doc, "summary"), *c, *e;
	size_t i, j;

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<title>phivault compliance report, audit seq %lld</title>\n"
	    "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
	    "td,th{border:1px solid #999;padding:.2em .5em;text-align:left}"
	    ".pass{color:#060}.fail{color:#a00;font-weight:bold}code{font-size:85%%}</style>\n"
	    "</head>\n<body>\n<h1>phivault compliance report</h1>\n", i_of(doc, "audit_seq"));
	fprintf(f, "<p>Bound to audit seq %lld (head <code>%s</code>), generated at %s "
	    "(the time of that entry), %s, phivault ", i_of(doc, "audit_seq"),
	    s_of(doc, "audit_head"), s_of(doc, "generated_at"), s_of(doc, "mode"));
	html_text(f, s_of(doc, "phivault_version"));
	fprintf(f, ".</p>\n<h2>Summary</h2>\n<table>\n<tr><th>status</th><th>controls</th></tr>\n"
	    "<tr><td>pass</td><td>%lld</td></tr>\n<tr><td>fail</td><td>%lld</td></tr>\n"
	    "<tr><td>not_applicable</td><td>%lld</td></tr>\n<tr><td>customer</td><td>%lld</td></tr>\n"
	    "<tr><td>total</td><td>%lld</td></tr>\n</table>\n", i_of(sum, "pass"),
	    i_of(sum, "fail"), i_of(sum, "not_applicable"), i_of(sum, "customer"),
	    i_of(sum, "total"));
	if (json_object_get(sum, "excepted") != NULL)
		fprintf(f, "<p>Excepted (failing, under a live exception): %lld.</p>\n",
		    i_of(sum, "excepted"));
	fprintf(f, "<h2>Controls</h2>\n<table>\n<tr><th>45 CFR</th><th>control</th>"
	    "<th>requirement</th><th>owner</th><th>status</th><th>evidence</th></tr>\n");
	json_array_foreach(json_object_get(doc, "controls"), i, c) {
		fprintf(f, "<tr><td>%s</td><td>", s_of(c, "cfr"));
		html_text(f, s_of(c, "title"));
		fprintf(f, "</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>",
		    s_of(c, "requirement"), s_of(c, "owner"), s_of(c, "status"), s_of(c, "status"));
		if (json_object_get(c, "exception") != NULL) {
			const json_t *x = json_object_get(c, "exception");

			fprintf(f, "<div>excepted by <code>%s</code> (owner <code>%s</code>) until "
			    "%s</div>", s_of(x, "id"), s_of(x, "owner"), s_of(x, "expires_at"));
		}
		json_array_foreach(json_object_get(c, "evaluations"), j, e) {
			char *ev = canonical(json_object_get(e, "evidence"));

			fprintf(f, "<div><b>%s</b>: %s <code>", s_of(e, "id"), s_of(e, "status"));
			html_text(f, ev != NULL ? ev : "");
			fprintf(f, "</code></div>");
			free(ev);
		}
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
	if (json_object_get(doc, "exceptions") != NULL) {
		fprintf(f, "<h2>Exceptions register</h2>\n<table>\n<tr><th>id</th><th>control</th>"
		    "<th>owner</th><th>expires_at</th><th>state</th><th>reason</th></tr>\n");
		json_array_foreach(json_object_get(doc, "exceptions"), i, c) {
			fprintf(f, "<tr><td>%s</td><td>", s_of(c, "id"));
			html_text(f, s_of(c, "control"));
			fprintf(f, "</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>",
			    s_of(c, "owner"), s_of(c, "expires_at"),
			    strcmp(s_of(c, "state"), "expired") == 0 ? "fail" : "pass",
			    s_of(c, "state"));
			html_text(f, s_of(c, "reason"));
			fprintf(f, "</td></tr>\n");
		}
		fprintf(f, "</table>\n<h2>Findings</h2>\n<ul>\n");
		json_array_foreach(json_object_get(doc, "findings"), i, c) {
			fprintf(f, "<li>%s: <code>%s</code> for ", s_of(c, "finding"),
			    s_of(c, "exception"));
			html_text(f, s_of(c, "control"));
			fprintf(f, " (owner <code>%s</code>) expired at %s; the control is evaluated "
			    "as if it did not exist</li>\n", s_of(c, "owner"), s_of(c, "expires_at"));
		}
		fprintf(f, "</ul>\n");
	}
	fprintf(f, "<h2>Your duties (customer and shared controls)</h2>\n<ul>\n");
	json_array_foreach(json_object_get(doc, "customer_duties"), i, c) {
		fprintf(f, "<li><b>%s ", s_of(c, "cfr"));
		html_text(f, s_of(c, "title"));
		fprintf(f, "</b> (%s): ", s_of(c, "owner"));
		html_text(f, s_of(c, "duty"));
		fprintf(f, "</li>\n");
	}
	fprintf(f, "</ul>\n<h2>Signature</h2>\n<p>Ed25519 with the audit key %s over the JSON "
	    "document in this page, which this text is generated from; check both with "
	    "<code>phivault compliance verify FILE</code>.</p>\n",
	    s_of(json_object_get(doc, "signature"), "key_fingerprint"));
	fprintf(f, "%s\n", HTML_MARK);
	html_json(f, pretty);
	fprintf(f, "\n%s\n</body>\n</html>\n", HTML_END);
}

enum pv_rc
compliance_render(const json_t *doc, enum compliance_format fmt, char **out, size_t *len)
{
	char *pretty = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS), *buf = NULL;
	size_t n = 0;
	FILE *f;

	if (pretty == NULL)
		return PV_E_NOMEM;
	if ((f = open_memstream(&buf, &n)) == NULL) {
		free(pretty);
		return PV_E_NOMEM;
	}
	if (fmt == COMPLIANCE_JSON)
		fprintf(f, "%s\n", pretty);
	else if (fmt == COMPLIANCE_MD)
		render_md(f, doc, pretty);
	else
		render_html(f, doc, pretty);
	free(pretty);
	if (ferror(f) != 0) {
		fclose(f);
		free(buf);
		return PV_E_NOMEM;
	}
	if (fclose(f) != 0) {
		free(buf);
		return PV_E_NOMEM;
	}
	*out = buf;
	*len = n;
	return PV_OK;
}

/* ---- the whole report ---- */

enum pv_rc
compliance_report(const struct compliance_inputs *in, enum compliance_format fmt, char **out,
    size_t *len, int64_t *seq, int64_t *failed)
{
	struct compliance_state s;
	json_t *cat = NULL, *doc = NULL;
	enum pv_rc rc;

	if (in->keys == NULL || keys_is_sealed(in->keys))
		return PV_E_SEALED;
	if ((rc = compliance_catalog(&cat)) != PV_OK)
		return rc;
	if ((rc = compliance_gather(in, &s)) != PV_OK)
		goto out;
	rc = compliance_report_build(cat, &s, in->mode, &doc);
	if (rc == PV_OK) {
		*seq = s.head_seq;
		*failed = json_integer_value(json_object_get(json_object_get(doc, "summary"),
		    "fail"));
	}
	compliance_state_free(&s);
	if (rc != PV_OK)
		goto out;
	if ((rc = compliance_report_sign(doc, in->keys, in->st)) != PV_OK)
		goto out;
	rc = compliance_render(doc, fmt, out, len);
out:
	json_decref(doc);
	json_decref(cat);
	return rc;
}

/* ---- verification ---- */

static void
vfail(struct compliance_verify_result *r, const char *what)
{
	r->ok = false;
	util_strlcpy(r->reason, what, sizeof(r->reason));
}

/* The document's bytes inside md / html; NULL if the markers are absent. */
static char *
extract(const char *buf, size_t len, const char *mark, const char *end)
{
	const char *p = memmem(buf, len, mark, strlen(mark)), *q;

	if (p == NULL)
		return NULL;
	p += strlen(mark);
	q = memmem(p, len - (size_t)(p - buf), end, strlen(end));
	if (q == NULL)
		return NULL;
	return strndup(p, (size_t)(q - p));
}

/* Name the first top-level field or control whose digest differs. */
static bool
name_change(const json_t *doc, char *out, size_t outlen)
{
	const json_t *d = json_object_get(doc, "digests"), *v;
	const json_t *df = json_object_get(d, "fields"), *dc = json_object_get(d, "controls");
	const char *k;
	char hex[65];
	size_t i;

	json_array_foreach(json_object_get(doc, "controls"), i, v) {
		const char *cfr = json_string_value(json_object_get(v, "cfr"));
		const char *want = cfr ? json_string_value(json_object_get(dc, cfr)) : NULL;

		if (want == NULL || digest_of(v, hex) != PV_OK || strcmp(hex, want) != 0) {
			snprintf(out, outlen, "control %s was changed after signing",
			    cfr ? cfr : "(without cfr)");
			return true;
		}
	}
	json_object_foreach((json_t *)doc, k, v) {
		const char *want;

		if (strcmp(k, "digests") == 0 || strcmp(k, "signature") == 0)
			continue;
		want = json_string_value(json_object_get(df, k));
		if (want == NULL) {
			snprintf(out, outlen, "field %s was added after signing", k);
			return true;
		}
		if (digest_of(v, hex) != PV_OK || strcmp(hex, want) != 0) {
			snprintf(out, outlen, "field %s was changed after signing", k);
			return true;
		}
	}
	json_object_foreach((json_t *)df, k, v)
		if (json_object_get(doc, k) == NULL) {
			snprintf(out, outlen, "field %s was removed after signing", k);
			return true;
		}
	return false;
}

enum pv_rc
compliance_verify(const char *buf, size_t len, const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    struct compliance_verify_result *r)
{
	enum compliance_format fmt;
	const json_t *sig;
	json_t *doc = NULL;
	char *text = NULL, *msg = NULL, *again = NULL, fp[AUDIT_FINGERPRINT_LEN + 1];
	char why[400];
	uint8_t raw[CRYPTO_ED25519_SIG_LEN + 4];
	size_t rawlen = sizeof raw, mlen = 0, alen = 0;
	enum pv_rc rc = PV_OK;

	memset(r, 0, sizeof(*r));
	r->ok = true;
	if (len >= 15 && strncmp(buf, "<!DOCTYPE html>", 15) == 0) {
		fmt = COMPLIANCE_HTML;
		text = extract(buf, len, HTML_MARK "\n", "\n" HTML_END);
	} else if (len >= 28 && strncmp(buf, "# phivault compliance report", 28) == 0) {
		fmt = COMPLIANCE_MD;
		text = extract(buf, len, MD_MARK, "\n" MD_END);
	} else {
		fmt = COMPLIANCE_JSON;
		text = strndup(buf, len);
	}
	util_strlcpy(r->format, fmt == COMPLIANCE_JSON ? "json" : fmt == COMPLIANCE_MD ? "md" :
	    "html", sizeof(r->format));
	if (text == NULL || (doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    strcmp(s_of(doc, "format"), REPORT_FORMAT) != 0) {
		rc = PV_E_INVALID;
		goto out;
	}
	r->audit_seq = i_of(doc, "audit_seq");
	sig = json_object_get(doc, "signature");
	if (!json_is_object(sig) || strcmp(s_of(sig, "alg"), "Ed25519") != 0) {
		vfail(r, "the signature is missing or not Ed25519");
		goto out;
	}
	if ((rc = audit_key_fingerprint(pub, fp)) != PV_OK)
		goto out;
	if (strcmp(s_of(sig, "key_fingerprint"), fp) != 0) {
		snprintf(why, sizeof why, "signed by another key (%s, expected %s)",
		    s_of(sig, "key_fingerprint"), fp);
		vfail(r, why);
		goto out;
	}
	if (name_change(doc, why, sizeof why)) {
		vfail(r, why);
		goto out;
	}
	if (strlen(s_of(sig, "value")) > 100 ||
	    util_b64_decode(s_of(sig, "value"), raw, &rawlen) != 0 ||
	    rawlen != CRYPTO_ED25519_SIG_LEN) {
		vfail(r, "the signature value is not a base64 Ed25519 signature");
		goto out;
	}
	if ((rc = signed_message(doc, &msg, &mlen)) != PV_OK)
		goto out;
	if (crypto_ed25519_verify(pub, (const uint8_t *)msg, mlen, raw) != PV_OK) {
		vfail(r, "the signature does not verify (the digests or the signature were "
		    "changed)");
		goto out;
	}
	if (fmt != COMPLIANCE_JSON) {
		size_t i;

		if ((rc = compliance_render(doc, fmt, &again, &alen)) != PV_OK)
			goto out;
		for (i = 0; i < len && i < alen && buf[i] == again[i]; i++)
			;
		if (i != len || i != alen) {
			long line = 1;

			for (size_t k = 0; k < i && k < len; k++)
				line += buf[k] == '\n';
			snprintf(why, sizeof why, "the %s text differs from the signed JSON it "
			    "carries (line %ld)", r->format, line);
			vfail(r, why);
		}
	}
out:
	free(again);
	free(msg);
	free(text);
	json_decref(doc);
	return rc;
}
