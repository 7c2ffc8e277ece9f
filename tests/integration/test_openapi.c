/*
 * docs/openapi.yaml is valid OpenAPI 3.0 and documents exactly the routes the
 * server registers: openapi_check.py (beside this file) validates it against
 * the OpenAPI 3.0 JSON Schema of Debian's openapi-specification package
 * (python3-jsonschema, python3-yaml), resolves every $ref and compares its
 * operations with the `{ "METHOD", "/v1/..." }` route tables in src/.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

int
main(void)
{
	const char *src = getenv("PV_SOURCE_DIR");
	char cmd[2048], *out = NULL;
	int code;

	CHECK(src != NULL);
	code = h_run("test -r /usr/share/openapi-specification/schemas/v3.0/schema.json && "
	    "python3 -c 'import jsonschema, yaml'", NULL);
	if (code != 0) {
		printf("test_openapi: openapi-specification, python3-jsonschema or python3-yaml "
		    "missing (make deps installs them)\n");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/integration/openapi_check.py' '%s' 2>&1",
	    src, src);
	code = h_run(cmd, &out);
	fputs(out, stdout);
	free(out);
	CHECK(code == 0);
	h_done("test_openapi");
	return 0;
}
