/*
 * backup: encrypted, signed, immutable backups (issue 12; API.md "Backups";
 * docs/internals/backup.md, docs/operations.md "Backup and disaster recovery").
 *
 * Layer: above store, keys, audit and jobs; below daemon and cli.
 *
 * A backup is one file DIR/backups/<id>.pvbak (mode 0400, never opened for
 * writing again): the store's online snapshot (store_snapshot) cut into
 * 1 MiB chunks, each sealed by keys_envelope_seal under the KEK "backup"
 * (a fresh DEK per chunk, AAD = id + chunk index + last-chunk flag), then a
 * manifest (JSON) signed with the vault's Ed25519 audit key, then a
 * trailer that points at the manifest. The format is specified byte for
 * byte in format.c.
 *
 * Online (serve): the job kind "backup.create" (POST /v1/sys/backups) takes
 * the snapshot on a worker thread of its own while its job steps report
 * progress; the file appears under its final name only once complete
 * (written as .<id>.partial, fsync, chmod 0400, rename, fsync of the dir).
 * Offline (cli): backup_verify_file checks a file (and the chain of the
 * files next to it) without a server.
 */
#ifndef PV_BACKUP_H
#define PV_BACKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "config/config.h"
#include "keys/keys.h"
#include "store/store.h"
#include "util/util.h"

struct backup;
struct jobs_runner;
struct http_server;
struct http_request;
struct json_t;

#define BACKUP_KEK "backup"
#define BACKUP_SUFFIX ".pvbak"
#define BACKUP_FORMAT 1

struct backup_config {
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	const struct pv_config *cfg;     /* [backup], [policy] allowed_regions */
	const char *node;
	/* the actor of an HTTP request (the wiring knows the principal type) */
	void (*actor_of)(struct http_request *req, struct pv_actor *out);
};

/* Register the kind backup.create and the /v1/sys/backups routes (http
 * may be NULL: no routes). Creates the backup directory (0700). */
enum pv_rc backup_install(const struct backup_config *cfg, struct jobs_runner *r,
    struct http_server *http, struct backup **out);
/* Stop the scheduler ([backup] every_s): before the job runner stops, so
 * nothing is queued on a runner that is going away. Idempotent; NULL ok. */
void backup_stop(struct backup *b);
/* backup_stop, waits for a worker in flight, frees. NULL is fine. */
void backup_free(struct backup *b);

/* ---- operations (routes.c adapts them) ---- */
/* Queue a backup.create job. PV_E_REGION (why names the collection or the
 * region) if [backup] region is not allowed or differs from a collection's;
 * audited backup.create (denied) then. */
enum pv_rc backup_request(struct backup *b, const struct pv_actor *actor,
    char job[UTIL_ID_MAX], char id[UTIL_ID_MAX], char *why, size_t whylen);
/* GET /v1/sys/backups: [{"id","file","created_at","size","manifest_sha256",
 * "immutable_until","verified"}] newest first; verified = the manifest's
 * signature verifies under this vault's audit key. */
enum pv_rc backup_list(struct backup *b, const struct pv_actor *actor, struct json_t **out);
/* DELETE: PV_E_CONFLICT inside the immutability window (audited denied,
 * whoever asks), PV_E_NOTFOUND, else the file is removed (audited). */
enum pv_rc backup_delete(struct backup *b, const struct pv_actor *actor, const char *id);
/* GET /v1/sys/backups/{id}/file?offset=N: {"offset","size","data"(base64,
 * at most BACKUP_PAGE bytes),"eof"}; audited backup.download at offset 0. */
#define BACKUP_PAGE (768 * 1024)
enum pv_rc backup_file_page(struct backup *b, const struct pv_actor *actor, const char *id,
    int64_t offset, struct json_t **out);

/* ---- offline (format.c) ---- */
struct backup_verify_result {
	bool signature_ok;        /* manifest signature under the audit key */
	bool chunks_ok;           /* every chunk's SHA-256 matches the manifest */
	bool decrypt_ok;          /* every chunk opened (only with keys) */
	bool keys_ok;             /* every key version needed exists, not revoked */
	bool chain_ok;            /* the set in the directory chains */
	int64_t bad_chunk;        /* first bad chunk index, -1 none */
	char id[UTIL_ID_MAX];
	char message[256];        /* the first problem, "" if none */
	/* the manifest's "hsm" (a restore needs the same token and its PIN) */
	bool hsm_sealed;          /* the vault was sealed by the token */
	char hsm_token[64];       /* its label, "" if no HSM */
	size_t hsm_nkeys;         /* KEK versions held in the token */
	char hsm_keys[512];       /* "<name>:<version>, ..." (as many as fit) */
};
/* Check one backup file. pub: the audit public key to trust (from the data
 * directory). keys: an unsealed keyring of the vault (NULL: decryption and
 * key versions are not checked). st: for the key versions (with keys).
 * plain_fd >= 0: the decrypted image is written there (restore). PV_OK
 * when the file could be read at all; the checks are in *out. */
enum pv_rc backup_verify_file(const char *path, const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    struct store *st, struct keys *keys, int plain_fd, struct backup_verify_result *out);
/* The chain of every *.pvbak in dir: each manifest's prev_manifest_sha256
 * names one in the set (the first names none). false with why otherwise. */
bool backup_chain_check(const char *dir, char *why, size_t whylen);

/* The audit public key carried by the file's own keyring bundle (verify
 * without a data directory: detects damage, not a forger who re-signed). */
enum pv_rc backup_file_public_key(const char *path, uint8_t pub[CRYPTO_ED25519_PUB_LEN]);

/* ---- restore (restore.c) ---- */
struct backup_unseal {
	const char *key_file;           /* the vault's unseal.key (key-file seal) */
	char **shares;                  /* K Shamir shares (shamir seal) */
	size_t nshares;
	const uint8_t *pub;             /* expected audit public key, or NULL */
	/* pkcs11 seal: the same token and its PIN. pin_file is required; a
	 * NULL module is the [pkcs11] default, NULL labels are the manifest's
	 * (the token and seal key labels at backup time). Written into the
	 * restored phivault.conf's [pkcs11], so the directory serves. */
	const char *pkcs11_module;
	const char *pkcs11_token;
	const char *pkcs11_pin_file;
	const char *pkcs11_key_label;
};
struct backup_restore_result {
	char id[UTIL_ID_MAX];
	int64_t records;                /* rows of the records table */
	int64_t audit_seq;              /* head of the restored chain */
	bool audit_verified;
	int64_t rto_ms;                 /* from start to a servable directory */
	size_t tombstones_applied;      /* subjects shredded after the backup, shredded again */
	char message[256];              /* why not, on failure */
};
/* Restore FILE into the new (absent or empty) data directory newdir:
 * PV_E_CONFLICT if it is not empty, PV_E_INTEGRITY if a check fails
 * (message says which); on failure newdir is left as empty as it was. */
enum pv_rc backup_restore(const char *file, const char *newdir, const struct backup_unseal *u,
    struct backup_restore_result *out);

/* ---- drills (drill.c) ---- */
struct backup_drill_spec {
	const char *datadir;            /* the vault's data directory (DIR/tmp, DIR/unseal.key) */
	const char *backup_dir;         /* where the newest backup is looked for */
	const char *file;               /* a given backup, or NULL: the newest */
	struct keys *keys;              /* signs the evidence (NULL: unsigned) */
	const uint8_t *pub;             /* the audit key the backup must be signed by, or NULL */
};
struct backup_drill_result {
	char backup[UTIL_ID_MAX];
	char started_at[40];
	int64_t rto_ms;                 /* start to restored, verified, every record read */
	int64_t records_checked;
	int64_t records_failed;
	bool audit_verified;
	bool sampled;                   /* not every record was checked (more than 64 collections) */
	bool ok;
	char signature[2 * CRYPTO_ED25519_SIG_LEN + 1];
	char message[256];              /* why not ok, "" otherwise */
};
/* Restore into DIR/tmp/drill-XXXXXX, verify, decrypt every record, time it,
 * remove the scratch directory, sign the evidence. PV_OK once a drill ran
 * (passed or not: see out->ok); PV_E_NOTFOUND if there is no backup. */
enum pv_rc backup_drill_run(const struct backup_drill_spec *spec, struct backup_drill_result *out);
/* The evidence as GET /v1/sys/drills shows it (a new reference). */
struct json_t *backup_drill_evidence(const struct backup_drill_result *r, bool with_signature);
/* The evidence's signature (over drill.c's line-per-member text, not the
 * JSON) verifies under pub. */
bool backup_drill_signature_ok(struct json_t *evidence, const uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
/* For the compliance report: the newest drill.run evidence in the audit
 * trail (passing only: the newest with "ok":true), its audit seq and time
 * (ms). PV_E_NOTFOUND if there is none. *evidence is the caller's. */
enum pv_rc backup_last_drill(struct store *st, bool passing, struct json_t **evidence,
    int64_t *seq, int64_t *at_ms);

/* ---- drill operations (create.c) ---- */
/* Queue a backup.drill job of backup id (NULL: the newest at run time). */
enum pv_rc backup_drill_request(struct backup *b, const struct pv_actor *actor, const char *id,
    char job[UTIL_ID_MAX]);
/* GET /v1/sys/drills: the evidence of every drill, newest first. */
enum pv_rc backup_drills_list(struct backup *b, const struct pv_actor *actor,
    struct json_t **out);

#endif /* PV_BACKUP_H */
