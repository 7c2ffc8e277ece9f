/*
 * offboard_int.h: what the offboard module's files share (not API).
 */
#ifndef PV_OFFBOARD_INT_H
#define PV_OFFBOARD_INT_H

#include <jansson.h>

#include "offboard/offboard.h"

#define OFFBOARD_MANIFEST_TAG "phivault-offboard-manifest-v1\n"
#define OFFBOARD_CERT_TAG "phivault-certificate-of-destruction-v1\n"
#define OFFBOARD_FORMAT 1
/* the largest export file or document read back whole (hashing, open) */
#define OFFBOARD_FILE_MAX ((size_t)4 << 30)

/* Add "signature" to doc (tag as above). */
enum pv_rc offboard_sign(struct keys *k, json_t *doc, const char *tag);
/* Does doc's signature verify under pub (NULL: the hex "audit_public_key"
 * the doc carries)? With pub, the carried key must be pub. fp (may be
 * NULL) gets the fingerprint of the key used. */
bool offboard_signature_ok(json_t *doc, const char *tag, const uint8_t *pub, char *fp,
    size_t fplen);
/* SHA-256 (hex) of a file's bytes. */
enum pv_rc offboard_file_sha256(const char *path, char hex[65]);

#endif /* PV_OFFBOARD_INT_H */
