/*
 * secrets_int.h: internals shared by the secrets module's files and its
 * unit tests. Nothing here is API (secrets.h is).
 */
#ifndef PV_SECRETS_INT_H
#define PV_SECRETS_INT_H

#include <pthread.h>

#include "crypto/crypto.h"
#include "secrets/secrets.h"

/* Work that may block, handed to the sweeper thread (overdue.c): run(r,
 * false) there, or run(r, true) when the module stops first (answer
 * PV_E_UNAVAILABLE). r is the first member of the caller's struct. */
struct secrets_retry {
	struct secrets_retry *next;
	void (*run)(struct secrets_retry *r, bool stopping);
};

struct secrets {
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	int max_versions;
	/* the rotation sweeper (overdue.c) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	struct reported *reported;   /* path@version already audited as overdue */
	size_t nreported, capreported;
	struct secrets_retry *retry_head, **retry_tail;   /* guarded by mu */
};

/* Queue r for the sweeper thread (any thread; never blocks on a commit).
 * false if the sweeper is not running (stopped, or never started): r was
 * not queued and the caller answers itself. */
bool secrets_retry_queue(struct secrets *s, struct secrets_retry *r);

/* "phivault:secret:v1|" + path + "|" + version */
#define SECRETS_AAD_PREFIX "phivault:secret:v1|"
#define SECRETS_AAD_MAX (sizeof(SECRETS_AAD_PREFIX) + SECRETS_PATH_MAX + 12)
enum pv_rc secrets_aad(const char *path, uint32_t version, char *buf, size_t len,
    size_t *outlen);

/*
 * Seal value (len bytes) as version `version` of path under a fresh DEK
 * wrapped by the current version of KEK "secrets": fills out's path,
 * version, kek, wrapped_dek and ciphertext (free with
 * store_secret_version_clear). PV_E_NOTFOUND if the KEK does not exist yet.
 */
enum pv_rc secrets_seal(struct keys *k, const char *path, uint32_t version,
    const uint8_t *value, size_t len, struct store_secret_version *out);
/* Open a stored version into a locked secret (its value bytes; free with
 * crypto_secret_free). PV_E_SECRET_DESTROYED if destroyed, PV_E_INTEGRITY
 * if the tag does not verify (moved to another path or version, tampered),
 * PV_E_KEY_REVOKED if its KEK version was revoked. */
enum pv_rc secrets_open(struct keys *k, const struct store_secret_version *v,
    struct pv_secret **value);

/* "secrets/<path>" (a path that is not valid: "secrets/(invalid)"). */
void secrets_resource(char *buf, size_t len, const char *path);

#endif /* PV_SECRETS_INT_H */
