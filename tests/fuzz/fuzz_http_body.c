/*
 * fuzz_http_body: http_parse_body on arbitrary bytes. Anything accepted must
 * be a JSON object that survives a compact dump and a second parse unchanged
 * (the server answers with what it parsed); nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = NULL, *w = NULL;
	char *s;

	if (http_parse_body((const char *)data, size, &v) != PV_OK) {
		if (v != NULL)
			abort();   /* no out-parameter on failure */
		return 0;
	}
	if (!json_is_object(v))
		abort();
	s = json_dumps(v, JSON_COMPACT);
	if (s == NULL)
		abort();
	if (http_parse_body(s, strlen(s), &w) != PV_OK || !json_equal(v, w))
		abort();
	free(s);
	json_decref(w);
	json_decref(v);
	return 0;
}
