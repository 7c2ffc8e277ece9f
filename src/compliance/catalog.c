/*
 * compliance/catalog.c: the control catalog, src/compliance/catalog.json,
 * embedded at build time (scripts/embed.cmake -> compliance_catalog_json[]).
 *
 * Shape: {"catalog","version","source","hitrust_note","controls":[{
 *   "cfr": "164.312(a)(2)(iv)", "title", "kind": standard |
 *   implementation_specification, "parent" (a specification's standard),
 *   "requirement": required | addressable, "owner": phivault | customer |
 *   shared, "hitrust": [refs], "implementation": [repo paths],
 *   "evaluators": [ids of evaluate.c], "customer_duty" (customer and shared:
 *   what the customer must do, in plain words)}]}
 * Invariants checked here: every field of the right type and vocabulary,
 * cfr unique, a parent names a standard in the catalog, every evaluator id
 * exists, customer and shared controls state their duty.
 */
#include <stdio.h>
#include <string.h>

#include "compliance/compliance_int.h"

extern const char compliance_catalog_json[];
extern const size_t compliance_catalog_json_len;

static bool
one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static bool
string_array(const json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
		if (!json_is_string(v) || json_string_length(v) == 0)
			return false;
	return true;
}

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static enum pv_rc
check_control(const json_t *ctl, const json_t *all, size_t idx, char *err, size_t errlen)
{
	static const char *const kinds[] = { "standard", "implementation_specification", NULL };
	static const char *const reqs[] = { "required", "addressable", NULL };
	static const char *const owners[] = { "phivault", "customer", "shared", NULL };
	const char *cfr = str(ctl, "cfr"), *kind = str(ctl, "kind"), *parent;
	const char *owner = str(ctl, "owner"), *duty = str(ctl, "customer_duty");
	size_t i;
	json_t *v;

	if (!json_is_object(ctl) || cfr == NULL || strncmp(cfr, "164.3", 5) != 0) {
		snprintf(err, errlen, "controls[%zu]: no cfr of 164.3xx", idx);
		return PV_E_INVALID;
	}
	if (str(ctl, "title") == NULL || kind == NULL || !one_of(kind, kinds) ||
	    str(ctl, "requirement") == NULL || !one_of(str(ctl, "requirement"), reqs) ||
	    owner == NULL || !one_of(owner, owners)) {
		snprintf(err, errlen, "%s: title, kind, requirement or owner missing or unknown",
		    cfr);
		return PV_E_INVALID;
	}
	if (!string_array(json_object_get(ctl, "hitrust")) ||
	    !string_array(json_object_get(ctl, "implementation")) ||
	    !string_array(json_object_get(ctl, "evaluators")) ||
	    json_array_size(json_object_get(ctl, "evaluators")) == 0) {
		snprintf(err, errlen, "%s: hitrust, implementation and evaluators must be "
		    "arrays of strings (at least one evaluator)", cfr);
		return PV_E_INVALID;
	}
	json_array_foreach(json_object_get(ctl, "evaluators"), i, v)
		if (compliance_evaluator_find(json_string_value(v)) == NULL) {
			snprintf(err, errlen, "%s: unknown evaluator %s", cfr, json_string_value(v));
			return PV_E_INVALID;
		}
	if (strcmp(owner, "phivault") != 0 && (duty == NULL || *duty == '\0')) {
		snprintf(err, errlen, "%s: a %s control needs its customer_duty", cfr, owner);
		return PV_E_INVALID;
	}
	if (strcmp(kind, "implementation_specification") == 0) {
		bool found = false;

		parent = str(ctl, "parent");
		json_array_foreach(all, i, v)
			if (parent != NULL && str(v, "cfr") != NULL &&
			    strcmp(str(v, "cfr"), parent) == 0 && str(v, "kind") != NULL &&
			    strcmp(str(v, "kind"), "standard") == 0)
				found = true;
		if (!found) {
			snprintf(err, errlen, "%s: parent is not a standard of the catalog", cfr);
			return PV_E_INVALID;
		}
	}
	for (i = 0; i < idx; i++)
		if (strcmp(str(json_array_get(all, i), "cfr"), cfr) == 0) {
			snprintf(err, errlen, "%s appears twice", cfr);
			return PV_E_INVALID;
		}
	return PV_OK;
}

enum pv_rc
compliance_catalog_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *ctls, *v;
	size_t i;
	enum pv_rc rc;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "line %d: %s", je.line, je.text);
		return PV_E_INVALID;
	}
	ctls = json_object_get(root, "controls");
	if (!json_is_array(ctls) || json_array_size(ctls) == 0) {
		snprintf(err, errlen, "no controls array");
		json_decref(root);
		return PV_E_INVALID;
	}
	json_array_foreach(ctls, i, v)
		if ((rc = check_control(v, ctls, i, err, errlen)) != PV_OK) {
			json_decref(root);
			return rc;
		}
	*out = root;
	return PV_OK;
}

enum pv_rc
compliance_catalog(json_t **out)
{
	char err[256];

	if (compliance_catalog_parse(compliance_catalog_json, compliance_catalog_json_len, out,
	    err, sizeof err) != PV_OK) {
		log_error("compliance: the embedded catalog is invalid: %s", err);
		return PV_E_INTERNAL;
	}
	return PV_OK;
}
