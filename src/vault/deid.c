/*
 * vault/deid.c: the Safe Harbor transform (HIPAA 45 CFR 164.514(b)(2)).
 * A pure function from one opened record and its collection's schema to the
 * record's de-identified form, plus the keyed per-subject pseudonym.
 *
 * The rule of each field, first match wins (docs/storing-phi.md has the table):
 *
 *  field                                        output                    rule
 *  the subject field                            dropped                   subject
 *  identifier name, phone, fax, email, ssn,     dropped                   identifier
 *    mrn, health_plan, account, license,
 *    vehicle, device, url, ip, biometric,
 *    photo, other; or unannotated of type
 *    ssn, email, phone, mrn
 *  identifier address, city                     dropped                   geographic
 *  identifier zip, or type zip                  first three digits;       zip3
 *                                               "000" if restricted       zip3_restricted
 *  identifier date / birth_date, or type date   the year (integer);       year
 *                                               "90+" if it implies an    age_90
 *                                               age over 89 at export
 *  identifier age                               the age (integer);        kept
 *                                               "90+" over 89             age_90
 *  string with "safe":true                      as stored                 kept
 *  other string (free text)                     dropped                   free_text
 *  integer, not an identifier                   as stored                 kept
 *  anything else (a key not in the schema, a    dropped                   unknown
 *    value not of its field's form)
 *
 * Invariants:
 *  - Fail safe: every path that does not positively recognise a value as
 *    safe drops it. An unannotated free-text field is never emitted.
 *  - "Any date": a date of any kind that lies more than 89 full years
 *    before the export date is "90+" (year dropped too): Safe Harbor removes
 *    "all elements of dates (including year) indicative of such age", and
 *    for a date that is not a birth date the transform cannot tell, so it
 *    takes the conservative reading.
 *  - The record's labels ("_labels") are access metadata, not fields: not
 *    emitted and not counted.
 *  - No value is ever logged or returned in an error; the stats carry
 *    counts only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

/*
 * The restricted three-digit ZIP areas: HHS Office for Civil Rights,
 * "Guidance Regarding Methods for De-identification of Protected Health
 * Information in Accordance with the Health Insurance Portability and
 * Accountability Act (HIPAA) Privacy Rule" (November 26, 2012), section 2.4
 * ("the initial three digits of ZIP codes ... 20,000 or fewer people",
 * Census 2000): these 17 must be replaced by "000". Sorted.
 */
static const char restricted_zip3[][4] = {
	"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831",
	"878", "879", "884", "890", "893",
};

static const char *const rule_names[VAULT_DEID__COUNT] = {
	"kept", "identifier", "geographic", "zip3", "zip3_restricted", "year", "age_90",
	"free_text", "subject", "unknown",
};

const char *vault_deid_rule_name(enum vault_deid_rule r)
{
	return (unsigned)r < VAULT_DEID__COUNT ? rule_names[r] : "?";
}

bool vault_zip3_restricted(const char *zip3)
{
	size_t i;

	if (zip3 == NULL)
		return false;
	for (i = 0; i < sizeof(restricted_zip3) / sizeof(restricted_zip3[0]); i++)
		if (strncmp(restricted_zip3[i], zip3, 3) == 0)
			return true;
	return false;
}

static bool digit(char c) { return c >= '0' && c <= '9'; }

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days, public domain). Pure: no time zone, no system call. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

void vault_deid_date_of(int64_t at_ms, int *y, int *m, int *d)
{
	int64_t days = at_ms / 86400000;

	if (at_ms < 0 && at_ms % 86400000 != 0)
		days--;
	civil_from_days(days, y, m, d);
}

/* "YYYY-MM-DD" (the canonical date; ranges as types.c checks them). */
static bool parse_date(const char *s, int *y, int *m, int *d)
{
	size_t i;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !digit(s[i]))
			return false;
	*y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	*m = (s[5] - '0') * 10 + (s[6] - '0');
	*d = (s[8] - '0') * 10 + (s[9] - '0');
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31;
}

/* Full years from (y,m,d) to the export date. */
static int age_at(int y, int m, int d, int ay, int am, int ad)
{
	int age = ay - y;

	if (am < m || (am == m && ad < d))
		age--;
	return age;
}

static enum vault_deid_rule deid_date(json_t *value, int64_t at_ms, json_t **out)
{
	int y, m, d, ay, am, ad;

	if (!json_is_string(value) || !parse_date(json_string_value(value), &y, &m, &d))
		return VAULT_DEID_UNKNOWN;
	vault_deid_date_of(at_ms, &ay, &am, &ad);
	if (age_at(y, m, d, ay, am, ad) > 89) {
		*out = json_string("90+");
		return VAULT_DEID_AGE90;
	}
	*out = json_integer(y);
	return VAULT_DEID_YEAR;
}

static enum vault_deid_rule deid_zip(json_t *value, json_t **out)
{
	const char *s = json_is_string(value) ? json_string_value(value) : NULL;
	size_t i;

	/* a US ZIP: five digits, then nothing or "-" and four digits */
	if (s == NULL || (strlen(s) != 5 && strlen(s) != 10))
		return VAULT_DEID_UNKNOWN;
	for (i = 0; s[i] != '\0'; i++)
		if (!(i == 5 ? s[i] == '-' : digit(s[i])))
			return VAULT_DEID_UNKNOWN;
	if (vault_zip3_restricted(s)) {
		*out = json_string("000");
		return VAULT_DEID_ZIP3_RESTRICTED;
	}
	*out = json_stringn(s, 3);
	return VAULT_DEID_ZIP3;
}

static enum vault_deid_rule deid_age(json_t *value, json_t **out)
{
	json_int_t age;

	if (json_is_integer(value)) {
		age = json_integer_value(value);
	} else if (json_is_string(value)) {
		const char *s = json_string_value(value);
		size_t i, n = strlen(s);

		if (n == 0 || n > 3)
			return VAULT_DEID_UNKNOWN;
		for (i = 0, age = 0; i < n; i++) {
			if (!digit(s[i]))
				return VAULT_DEID_UNKNOWN;
			age = age * 10 + (s[i] - '0');
		}
	} else {
		return VAULT_DEID_UNKNOWN;
	}
	if (age < 0)
		return VAULT_DEID_UNKNOWN;
	if (age > 89) {
		*out = json_string("90+");
		return VAULT_DEID_AGE90;
	}
	*out = json_integer(age);
	return VAULT_DEID_KEPT;
}

enum vault_deid_rule vault_deid_value(const struct vault_field *f, json_t *value,
    int64_t at_ms, json_t **out)
{
	enum vault_deid_rule r = VAULT_DEID_UNKNOWN;

	*out = NULL;
	if (f == NULL || value == NULL || json_is_null(value))
		return VAULT_DEID_UNKNOWN;
	if (f->subject)
		return VAULT_DEID_SUBJECT;
	switch (f->ident) {
	case VAULT_IDENT_ADDRESS:
	case VAULT_IDENT_CITY:
		return VAULT_DEID_GEOGRAPHIC;
	case VAULT_IDENT_ZIP:
		r = deid_zip(value, out);
		break;
	case VAULT_IDENT_DATE:
	case VAULT_IDENT_BIRTH_DATE:
		r = deid_date(value, at_ms, out);
		break;
	case VAULT_IDENT_AGE:
		r = deid_age(value, out);
		break;
	case VAULT_IDENT_NONE:
		switch (f->type) {
		case VAULT_TYPE_ZIP:
			r = deid_zip(value, out);
			break;
		case VAULT_TYPE_DATE:
			r = deid_date(value, at_ms, out);
			break;
		case VAULT_TYPE_INTEGER:
			if (!json_is_integer(value))
				return VAULT_DEID_UNKNOWN;
			*out = json_integer(json_integer_value(value));
			r = VAULT_DEID_KEPT;
			break;
		case VAULT_TYPE_STRING:
			if (!f->safe)
				return VAULT_DEID_FREE_TEXT;
			if (!json_is_string(value))
				return VAULT_DEID_UNKNOWN;
			*out = json_string(json_string_value(value));
			r = VAULT_DEID_KEPT;
			break;
		default:   /* ssn, email, phone, mrn: identifiers by their type */
			return VAULT_DEID_IDENTIFIER;
		}
		break;
	default:       /* every other kind is a direct identifier */
		return VAULT_DEID_IDENTIFIER;
	}
	if (r != VAULT_DEID_UNKNOWN && *out == NULL)
		return VAULT_DEID_UNKNOWN;   /* allocation failed: drop, never leak */
	return r;
}

enum pv_rc vault_deid_record(const struct vault_collection *c, json_t *fields, int64_t at_ms,
    json_t **out, struct vault_deid_stats *stats)
{
	struct vault_deid_stats st;
	const char *key;
	json_t *obj, *v;

	if (c == NULL || !json_is_object(fields) || out == NULL)
		return PV_E_INVALID;
	memset(&st, 0, sizeof(st));
	if ((obj = json_object()) == NULL)
		return PV_E_NOMEM;
	json_object_foreach(fields, key, v) {
		const struct vault_field *f;
		enum vault_deid_rule r;
		json_t *nv = NULL;

		if (strcmp(key, VAULT_LABELS_KEY) == 0)
			continue;
		f = vault_collection_field(c, key);
		r = f != NULL ? vault_deid_value(f, v, at_ms, &nv) : VAULT_DEID_UNKNOWN;
		st.n[r]++;
		if (nv != NULL && json_object_set_new(obj, key, nv) != 0) {
			json_decref(obj);
			return PV_E_NOMEM;
		}
	}
	*out = obj;
	if (stats != NULL)
		for (size_t i = 0; i < VAULT_DEID__COUNT; i++)
			stats->n[i] += st.n[i];
	return PV_OK;
}

#define PSEUDONYM_PREFIX "phivault:pseudonym:v1|"

enum pv_rc vault_deid_pseudonym(struct keys *k, const char *ref,
    char out[VAULT_PSEUDONYM_LEN + 1])
{
	char in[sizeof(PSEUDONYM_PREFIX) + STORE_SUBJECT_REF_LEN];
	uint8_t mac[CRYPTO_SHA256_LEN];
	enum pv_rc rc;
	int n;

	if (ref == NULL || strlen(ref) != STORE_SUBJECT_REF_LEN)
		return PV_E_INVALID;
	n = snprintf(in, sizeof(in), PSEUDONYM_PREFIX "%s", ref);
	if (n < 0 || (size_t)n >= sizeof(in))
		return PV_E_INVALID;
	/* Its own HKDF purpose: not the reference key, so the pseudonym says
	 * nothing about the ref (and so nothing about the value behind it). */
	rc = keys_mac(k, VAULT_KEK_SUBJECTS, "export-pseudonym", (const uint8_t *)in, (size_t)n,
	    mac);
	if (rc != PV_OK)
		return rc;
	util_hex_encode(mac, sizeof(mac), out);
	vault_wipe(mac, sizeof(mac));
	return PV_OK;
}
