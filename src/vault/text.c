/*
 * vault/text.c: small text helpers shared by the vault files: value-free
 * error formatting, the key sanitiser for error messages, strict UTF-8
 * validation, wiping, and the wipe-on-free allocator for jansson.
 *
 * Invariant: nothing here formats a value; vault_errf callers pass field
 * names and fixed words only.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

void vault_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

const char *vault_safe_key(const char *key)
{
	if (key != NULL && vault_name_valid(key))
		return key;
	return "(not a valid field name)";
}

bool vault_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (p[i] < 0x80) {   /* ASCII, most of a record's text: no decoder call */
			i++;
			continue;
		}
		if ((n = util_utf8_next(p + i, len - i, &cp)) == 0)
			return false;
		i += n;
	}
	return true;
}

void vault_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

/* jansson's allocator (a free that wipes each block) is a process-wide
 * setting: daemon_process_init makes it at start-up (daemon/process.c). */
