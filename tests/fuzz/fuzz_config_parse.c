/*
 * fuzz_config_parse: config_parse on arbitrary bytes, then validation and the
 * region lookup on whatever was accepted. A refusal must always explain
 * itself (a non-empty error naming phivault.conf); nothing may crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_config c;
	char err[256];
	enum pv_rc rc;

	config_defaults(&c, "/fuzz");
	err[0] = '\0';
	rc = config_parse((const char *)data, size, &c, err, sizeof(err));
	if (rc == PV_E_CONFIG) {
		if (strncmp(err, "phivault.conf", 13) != 0)
			abort();
		return 0;
	}
	if (rc != PV_OK)
		return 0;
	if (memchr(c.listen, '\0', sizeof(c.listen)) == NULL ||
	    memchr(c.store_url, '\0', sizeof(c.store_url)) == NULL)
		abort();   /* every string stays terminated */
	err[0] = '\0';
	if (config_validate(&c, false, err, sizeof(err)) == PV_E_CONFIG && err[0] == '\0')
		abort();
	(void)config_validate(&c, true, err, sizeof(err));
	(void)config_region_allowed(&c, c.region);
	return 0;
}
