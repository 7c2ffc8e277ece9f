/*
 * labels: record labels (API.md "Records may carry labels"): HL7
 * confidentiality codes (N, R, V) and sensitivity codes (psychotherapy,
 * substance use, ...), given as "labels":[...] on create and patch, and
 * tested by access conditions ({"labels":{"none_of":[...]}}).
 *
 * Storage: inside the record's ciphertext, under the key "_labels" of the
 * sealed JSON (a field name can never start with '_', so it cannot clash).
 * A sensitivity code reveals a diagnosis ("this patient has a substance use
 * record"), so labels get the protection of the record itself: no plaintext
 * column, no index, never in an audit entry (the entry names "_labels" as a
 * field written, never the codes). The cost: a label is known only once the
 * record is opened, so label conditions are decided by the record-level
 * decision after the load, and a label cannot be searched for.
 *
 * A collection that defines a field named "labels" keeps it as a field
 * (labels are then not available on it).
 */
#include <string.h>

#include "vault/vault_int.h"

#define LABELS_MAX 16

static bool
label_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= 64 || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

enum pv_rc
vault_labels_take(const struct vault_collection *c, json_t *body, json_t **labels, char *err,
    size_t errlen)
{
	json_t *l;
	size_t i, k;

	*labels = NULL;
	if (!json_is_object(body) || vault_collection_field(c, "labels") != NULL ||
	    (l = json_object_get(body, "labels")) == NULL)
		return PV_OK;
	if (!json_is_null(l)) {
		if (!json_is_array(l) || json_array_size(l) > LABELS_MAX) {
			util_strlcpy(err, "labels must be an array of at most 16 label codes", errlen);
			return PV_E_INVALID;
		}
		for (i = 0; i < json_array_size(l); i++) {
			const char *s = json_string_value(json_array_get(l, i));

			if (!label_ok(s)) {
				util_strlcpy(err, "labels must be codes of [A-Za-z0-9_.-]{1,64} "
				    "(e.g. R, V, psychotherapy)", errlen);
				return PV_E_INVALID;
			}
			for (k = 0; k < i; k++)
				if (strcmp(s, json_string_value(json_array_get(l, k))) == 0) {
					util_strlcpy(err, "labels holds a duplicate", errlen);
					return PV_E_INVALID;
				}
		}
	}
	*labels = json_incref(l);
	(void)json_object_del(body, "labels");
	return PV_OK;
}

enum pv_rc
vault_labels_put(json_t *fields, json_t *labels)
{
	if (labels == NULL)
		return PV_OK;
	/* null clears them (a patch); the merge drops a null member */
	if (json_object_set(fields, VAULT_LABELS_KEY, labels) != 0)
		return PV_E_NOMEM;
	return PV_OK;
}

bool
vault_rc_denied(enum pv_rc rc)
{
	return rc == PV_E_FORBIDDEN || rc == PV_E_POLICY || rc == PV_E_NETWORK ||
	    rc == PV_E_HOURS || rc == PV_E_STEP_UP || rc == PV_E_CONDITION;
}
