/*
 * compliance/service.c: the online report as an operation
 * (compliance_report_online) over the server's store, keys and audit
 * writer. The permission (compliance.read, the built-in auditor) is
 * decided at the route; the report is recorded as compliance.report
 * (resource compliance/report, detail {"audit_seq","failed","format"})
 * before it is answered: no answer without its entry (PV_E_AUDIT).
 * The report is bound to the head before that entry, so two reports of
 * an unchanged vault differ only by the compliance.report entries between
 * them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/compliance_int.h"


enum pv_rc
compliance_service_new(const struct compliance_deps *d, struct compliance_service **out)
{
	struct compliance_service *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return PV_E_NOMEM;
	s->d = *d;
	*out = s;
	return PV_OK;
}

void
compliance_service_free(struct compliance_service *s)
{
	free(s);
}

void
compliance_service_process(struct compliance_service *s, const struct compliance_process *p)
{
	s->proc = *p;
	s->proc.observed = true;
}

enum pv_rc
compliance_report_online(struct compliance_service *s, const struct pv_actor *actor,
    enum compliance_format fmt, char **out, size_t *len)
{
	static const char *const names[] = { "json", "md", "html" };
	struct compliance_inputs in = { s->d.st, s->d.cfg, s->d.datadir, s->d.keys, &s->proc,
		"online" };
	struct audit_event ev;
	char detail[160], *buf = NULL;
	size_t n = 0;
	int64_t seq = 0, failed = 0;
	enum pv_rc rc;

	if ((rc = compliance_report(&in, fmt, &buf, &n, &seq, &failed)) != PV_OK)
		return rc;
	memset(&ev, 0, sizeof(ev));
	ev.actor = *actor;
	ev.action = "compliance.report";
	ev.resource = "compliance/report";
	ev.outcome = AUDIT_ALLOWED;
	snprintf(detail, sizeof detail, "{\"audit_seq\":%lld,\"failed\":%lld,\"format\":\"%s\"}",
	    (long long)seq, (long long)failed, names[fmt]);
	ev.detail = detail;
	/* the report leaves once its entry is durable (PV_E_AUDIT if not);
	 * the answer, not the request thread, waits for the commit */
	if (audit_record_held(s->d.audit, &ev, true) != PV_OK) {
		free(buf);
		return PV_E_AUDIT;
	}
	*out = buf;
	*len = n;
	return PV_OK;
}
