/*
 * fuzz_keys_share: keys_share_parse on arbitrary text (unseal shares arrive
 * from anyone who can reach /v1/sys/unseal). An accepted share must encode
 * back to the canonical text and parse again to the same share.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys_share s, t;
	char *text, enc[KEYS_SHARE_TEXT_LEN + 1];
	int threshold = size > 0 ? data[0] % 8 + 1 : 2;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	if (size > 0)
		memcpy(text, data + 1, size - 1);
	text[size > 0 ? size - 1 : 0] = '\0';
	if (keys_share_parse(text, threshold, &s) == PV_OK) {
		if (keys_share_encode(&s, enc) != PV_OK)
			abort();
		if (keys_share_parse(enc, threshold, &t) != PV_OK || memcmp(&s, &t, sizeof(s)) != 0)
			abort();
	}
	free(text);
	return 0;
}
