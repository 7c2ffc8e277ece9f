/*
 * fuzz_vault_cursor: the query parameters of GET /v1/collections/{c}/records,
 * cursor_decode and limit_parse. Both are static in src/vault/ops_records.c,
 * so this harness compiles that file into itself (its external symbols then
 * come from here, and the archive's copy of the file is not linked): no
 * declaration in a header just for the fuzzer, and a rename there fails this
 * build at once.
 *
 * Input: byte 0 picks the parser, the rest is the parameter. Invariants: an
 * accepted cursor is a valid record ID whose encoding is exactly the cursor
 * (one spelling per cursor); any valid record ID round-trips through
 * encode and decode; an accepted limit is 1..VAULT_LIST_MAX in canonical
 * decimal.
 */
#include "vault/ops_records.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, id[UTIL_ID_MAX], enc[2 * UTIL_ID_MAX], again[8];
	size_t limit = 0;

	if (size == 0)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1) {
		if (limit_parse(s, &limit) == PV_OK) {
			if (limit < 1 || limit > VAULT_LIST_MAX)
				abort();
			snprintf(again, sizeof again, "%zu", limit);
			if (strcmp(again, s) != 0)
				abort();
		}
	} else {
		memset(id, 'Z', sizeof id);
		if (cursor_decode(s, id) == PV_OK) {
			if (!vault_rec_id_ok(id))
				abort();
			cursor_encode(id, enc, sizeof enc);
			if (strcmp(enc, s) != 0)
				abort();
		}
		if (vault_rec_id_ok(s)) {
			cursor_encode(s, enc, sizeof enc);
			if (cursor_decode(enc, id) != PV_OK || strcmp(id, s) != 0)
				abort();
		}
	}
	free(s);
	return 0;
}
