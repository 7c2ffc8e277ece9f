/*
 * secrets: the application secrets store (API.md "Secrets",
 * docs/secrets.md, docs/internals/secrets.md). Versioned values at paths
 * like "apps/billing/db", sealed like records -- a fresh DEK per version,
 * AAD binding path and version, the DEK wrapped by the KEK "secrets"
 * (STORE_SECRETS_KEK, made on first use) -- with check-and-set, soft
 * delete, crypto-shredding of one version and a bound on the versions
 * kept ([secrets] max_versions).
 *
 * Layer: beside vault; above keys, audit, commit, authz and authn (the
 * decision point decides secrets.read:<path> / secrets.write:<path>),
 * below daemon and cli.
 *
 * Every operation takes a caller and answers through a completion, called
 * exactly once: before the operation returns (reads, refusals), or later
 * from the commit's completion on the committer or the sweeper thread
 * (writes: no thread waits for their fsync). The caller's strings (actor,
 * principal) must live until then. Every read and write is
 * audited (secret.read, .write, .delete, .undelete, .destroy, .list) with
 * the path and version, never the value; no purpose of use (not PHI). A
 * value is released only after its secret.read entry is durable.
 */
#ifndef PV_SECRETS_H
#define PV_SECRETS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "authn/authn.h"
#include "keys/keys.h"
#include "store/store.h"

/* A path: 1..100 bytes of [a-z0-9_.-/], at most 8 segments, no empty
 * segment, no "." or ".." segment, no leading or trailing '/'. */
#define SECRETS_PATH_MAX 100
#define SECRETS_DEPTH_MAX 8
/* The largest value (bytes of its UTF-8 text). */
#define SECRETS_VALUE_MAX (64 * 1024)
/* The largest metadata object (compact JSON text), and its keys. */
#define SECRETS_METADATA_MAX 4096
#define SECRETS_METADATA_KEYS 32
#define SECRETS_ROTATE_MAX_S (10LL * 366 * 86400)

bool secrets_path_valid(const char *path);

struct secrets;

struct secrets_deps {
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	int max_versions;     /* [secrets] max_versions (1..1000) */
};
enum pv_rc secrets_new(const struct secrets_deps *d, struct secrets **out);
/* Stops the rotation sweeper first. NULL ok. */
void secrets_free(struct secrets *s);

struct secrets_caller {
	const struct authn_principal *subject;   /* what the decision point decides on */
	const struct pv_actor *actor;            /* who, in every entry */
};

#define SECRETS_ERR_MAX 256
struct secrets_answer {
	enum pv_rc rc;
	char message[SECRETS_ERR_MAX];
	json_t *body;          /* owned; NULL with rc != PV_OK or no body */
	bool created;          /* a PUT that made the secret (201) */
};
typedef void (*secrets_done_fn)(struct secrets_answer *a, void *arg);

/* PUT: body {"value":"...","metadata":{},"rotate_every_s":N}; if_match the
 * If-Match text (NULL: none; "0": must not exist; "N": current must be N).
 * {"path","version"}. */
void secrets_put(struct secrets *s, const struct secrets_caller *who, const char *path,
    const char *if_match, json_t *body, secrets_done_fn done, void *arg);
/* version: the query's text (NULL: current). {"path","version","value","metadata","created_at"} */
void secrets_get(struct secrets *s, const struct secrets_caller *who, const char *path,
    const char *version, secrets_done_fn done, void *arg);
/* prefix: NULL or "" for all. {"secrets":[{"path","version","metadata",...}]}: only
 * the paths the caller may read, never a value. */
void secrets_list(struct secrets *s, const struct secrets_caller *who, const char *prefix,
    secrets_done_fn done, void *arg);
void secrets_delete(struct secrets *s, const struct secrets_caller *who, const char *path,
    secrets_done_fn done, void *arg);
void secrets_undelete(struct secrets *s, const struct secrets_caller *who, const char *path,
    secrets_done_fn done, void *arg);
void secrets_destroy(struct secrets *s, const struct secrets_caller *who, const char *path,
    const char *version, secrets_done_fn done, void *arg);

/*
 * The secrets past their rotation interval at now_ms (rotate_every_s > 0
 * and the current version older than that), deleted ones aside, in path
 * order: cb(path, version, due_ms, arg) for each (non-zero stops). Reads
 * st in a read transaction of its own; no audit entry. For the compliance
 * report and the rotation sweeper.
 */
typedef int (*secrets_overdue_cb)(const char *path, uint32_t version, int64_t due_ms,
    void *arg);
enum pv_rc secrets_overdue(struct store *st, int64_t now_ms, secrets_overdue_cb cb, void *arg);

/* Start the rotation sweeper: once a second it audits, as the system
 * actor, secret.rotation_overdue for each overdue secret version not
 * reported yet (src/detect raises secret_rotation_overdue from it). */
enum pv_rc secrets_sweeper_start(struct secrets *s);
/* Stop it (before the audit writer stops). Idempotent; NULL ok. */
void secrets_stop(struct secrets *s);

struct http_server;
/* The routes (routes.c): GET /v1/secrets, PUT|GET|DELETE /v1/secrets/{path},
 * POST /v1/secrets/{path}/undelete, POST /v1/secrets/{path}/versions/{v}/destroy. */
enum pv_rc secrets_routes(struct http_server *srv, struct secrets *s);

/* Offboarding (offboard.c; docs/governance.md "Return and destruction at
 * contract end"): in tx, destroy every live version of every path
 * (*destroyed: how many); the verification pass tries to open every
 * version left with k (*opened must be 0 after a destruction). */
enum pv_rc secrets_offboard_destroy_tx(struct store_tx *tx, int64_t now_ms, int64_t *destroyed);
enum pv_rc secrets_offboard_verify(struct store *st, struct keys *k, int64_t *tried,
    int64_t *opened);

#endif /* PV_SECRETS_H */
