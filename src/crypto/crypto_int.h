/*
 * crypto_int.h: declarations shared by the files of src/crypto/ only.
 * Nothing here is API; other modules include crypto.h.
 */
#ifndef PV_CRYPTO_INT_H
#define PV_CRYPTO_INT_H

#include <stdbool.h>

/*
 * Log a libcrypto failure (operation name and OpenSSL's error string, which
 * never contains key bytes or data) and empty the thread's error queue so a
 * stale error cannot be blamed on a later call.
 */
void crypto_ossl_fail(const char *op);

/* Empty the thread's OpenSSL error queue without logging (expected
 * failures: tag mismatch, bad signature). */
void crypto_ossl_clear(void);

/* True once the algorithm handles each file fetches (once per process)
 * were found in the default provider; crypto_init uses them to fail early. */
bool crypto_gcm_ready(void);
bool crypto_md_ready(void);

#endif /* PV_CRYPTO_INT_H */
