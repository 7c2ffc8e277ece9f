/*
 * fuzz_vault_value: field values as they arrive in record bodies and search
 * queries, through vault_value_normalize (JSON) and _text for every field type.
 * Invariants: canonical output is idempotent (normalizing the canonical text
 * again gives the same text), and no error message contains the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum vault_type types[] = {
	VAULT_TYPE_STRING, VAULT_TYPE_DATE, VAULT_TYPE_INTEGER, VAULT_TYPE_SSN,
	VAULT_TYPE_EMAIL, VAULT_TYPE_PHONE, VAULT_TYPE_ZIP, VAULT_TYPE_MRN,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_field f;
	char *text, out[VAULT_CANON_MAX], out2[VAULT_CANON_MAX], err[VAULT_ERR_MAX];

	if (size < 1)
		return 0;
	memset(&f, 0, sizeof(f));
	strcpy(f.name, "f");
	f.type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (vault_value_normalize_text(&f, text, out, sizeof(out), err, sizeof(err)) == PV_OK) {
		if (vault_value_normalize_text(&f, out, out2, sizeof(out2), err, sizeof(err)) != PV_OK ||
		    strcmp(out, out2) != 0)
			abort();
	} else if (strlen(text) >= 6 && strstr(err, text) != NULL) {
		/* an error message echoed the value, unless the value is a piece of
		 * the message's own text ("12345-67" in "(12345 or 12345-6789)") */
		char err0[VAULT_ERR_MAX];

		if (vault_value_normalize_text(&f, "\x01", out2, sizeof(out2), err0,
		    sizeof(err0)) == PV_OK || strstr(err0, text) == NULL)
			abort();
	}
	/* the same bytes as a JSON record value (a string, or a number / literal
	 * if they parse as one): canonical output is idempotent there too */
	{
		json_t *v = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);

		if (v == NULL)
			v = json_stringn_nocheck((const char *)data + 1, size - 1);
		if (v != NULL &&
		    vault_value_normalize(&f, v, out, sizeof(out), err, sizeof(err)) == PV_OK) {
			json_t *w = f.type == VAULT_TYPE_INTEGER ?
			    json_integer(strtoll(out, NULL, 10)) : json_string(out);

			if (w == NULL ||
			    vault_value_normalize(&f, w, out2, sizeof(out2), err, sizeof(err)) != PV_OK ||
			    strcmp(out, out2) != 0)
				abort();
			json_decref(w);
		}
		json_decref(v);
	}
	free(text);
	return 0;
}
