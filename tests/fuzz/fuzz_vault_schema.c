/*
 * fuzz_vault_schema: a collection definition (POST /v1/collections body)
 * through the JSON body parser and vault_collection_from_json. Accepted
 * schemas must round-trip through vault_collection_to_json unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "vault/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_collection *c = calloc(1, sizeof(*c)), *d = calloc(1, sizeof(*d));
	char err[VAULT_ERR_MAX];
	json_t *body = NULL, *again = NULL;

	if (c == NULL || d == NULL)
		goto out;
	if (http_parse_body((const char *)data, size, &body) != PV_OK)
		goto out;
	if (vault_collection_from_json(body, c, err, sizeof(err)) != PV_OK)
		goto out;
	if (vault_collection_to_json(c, &again) != PV_OK)
		abort();
	if (vault_collection_from_json(again, d, err, sizeof(err)) != PV_OK)
		abort();
	if (memcmp(c, d, sizeof(*c)) != 0)
		abort();
out:
	json_decref(again);
	json_decref(body);
	free(c);
	free(d);
	return 0;
}
