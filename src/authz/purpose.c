/*
 * authz/purpose.c: HL7 v3 PurposeOfUse codes (code system
 * 2.16.840.1.113883.5.8) carried in X-Purpose-Of-Use on every read or search
 * of PHI, and role-level allow-lists of them.
 *
 * Invariants:
 *  - Codes match exactly, uppercase, as HL7 spells them; "treat" or " TREAT"
 *    is not a purpose (a request without a valid one gets purpose_required).
 *  - Only the seven codes phivault acts on are known; any other HL7 code is
 *    refused rather than passed through to the audit trail unchecked.
 */
#include <string.h>

#include "authz/authz.h"

static const struct {
	const char *code;
	unsigned bit;
} purposes[] = {
	{ "TREAT", AUTHZ_POU_TREAT },
	{ "ETREAT", AUTHZ_POU_ETREAT },
	{ "HPAYMT", AUTHZ_POU_HPAYMT },
	{ "HOPERAT", AUTHZ_POU_HOPERAT },
	{ "HRESCH", AUTHZ_POU_HRESCH },
	{ "PUBHLTH", AUTHZ_POU_PUBHLTH },
	{ "PATRQT", AUTHZ_POU_PATRQT },
};
#define NPURPOSES (sizeof(purposes) / sizeof(purposes[0]))

/* Match the n bytes at s against the codes; 0 if none. */
static unsigned lookup_n(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < NPURPOSES; i++)
		if (strlen(purposes[i].code) == n && memcmp(purposes[i].code, s, n) == 0)
			return purposes[i].bit;
	return 0;
}

bool authz_purpose_valid(const char *code)
{
	return code != NULL && lookup_n(code, strlen(code)) != 0;
}

enum pv_rc authz_purpose_parse(const char *code, unsigned *bit)
{
	unsigned b;

	if (code == NULL || (b = lookup_n(code, strlen(code))) == 0)
		return PV_E_PURPOSE;
	if (bit != NULL)
		*bit = b;
	return PV_OK;
}

enum pv_rc authz_purpose_list_parse(const char *csv, unsigned *set)
{
	unsigned acc = 0;
	const char *p, *end;

	if (csv == NULL || set == NULL)
		return PV_E_INVALID;
	p = csv;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {   /* empty list: no purpose allowed */
		*set = 0;
		return PV_OK;
	}
	for (;;) {
		const char *a, *b;
		unsigned bit;

		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		a = p;
		b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b - a == 1 && *a == '*')
			bit = AUTHZ_POU_ALL;
		else if ((bit = lookup_n(a, (size_t)(b - a))) == 0)
			return PV_E_INVALID;   /* unknown code or empty entry */
		acc |= bit;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*set = acc;
	return PV_OK;
}

bool authz_purpose_allowed(unsigned set, const char *code)
{
	unsigned bit;

	return authz_purpose_parse(code, &bit) == PV_OK && (set & bit) != 0;
}
