/*
 * authn_int.h: declarations shared by the files of src/authn/ and their
 * unit tests only. Nothing here is API; other modules include authn.h.
 */
#ifndef PV_AUTHN_INT_H
#define PV_AUTHN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The shipped list of common breached passwords (blocklist.c): lowercase,
 * strictly ascending by strcmp (bsearch), no duplicates. */
extern const char *const authn_blocklist[];
extern const size_t authn_blocklist_len;

/* True if the lowercase ASCII string s is on the shipped list. */
bool authn_blocklist_has(const char *s);

/*
 * Decode one UTF-8 code point at s (at most n bytes) per RFC 3629 §3:
 * no overlong forms, no surrogates, nothing above U+10FFFF. Returns the
 * number of bytes used (1..4) and sets *cp, or 0 if the bytes are invalid.
 */
size_t authn_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

#endif /* PV_AUTHN_INT_H */
