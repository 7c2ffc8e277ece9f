/*
 * backup internals shared by the module's files and its unit tests.
 */
#ifndef PV_BACKUP_INT_H
#define PV_BACKUP_INT_H

#include <jansson.h>

#include "backup/backup.h"

#define BACKUP_CHUNK (1024 * 1024)           /* plaintext bytes per chunk */
#define BACKUP_MANIFEST_MAX (16 * 1024 * 1024)

/* A file being written (format.c). */
struct backup_writer;
/* Open DIR/.<id>.partial (0600, O_EXCL; a stale one is removed first). */
enum pv_rc backup_writer_open(const char *dir, const char *id, struct keys *keys,
    struct backup_writer **out);
/* Plaintext in any pieces; sealed chunk by chunk. */
enum pv_rc backup_writer_data(struct backup_writer *w, const uint8_t *buf, size_t len);
/* Seal the last chunk, add the chunk list, size and key versions to
 * manifest (which the caller filled with the rest), sign it, write it and
 * the trailer, fsync, chmod 0400, rename to DIR/<id>.pvbak, fsync DIR.
 * sha: SHA-256 (hex) of the manifest bytes as written. */
enum pv_rc backup_writer_finish(struct backup_writer *w, json_t *manifest,
    char sha[65], int64_t *file_bytes);
/* Remove the partial file and free. NULL ok. */
void backup_writer_abort(struct backup_writer *w);

/* Read a file's manifest: its JSON (caller's), its SHA-256 (hex) and
 * whether its signature verifies under pub. PV_E_INTEGRITY if the
 * container is damaged. */
enum pv_rc backup_manifest_read(const char *path, const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    json_t **manifest, char sha[65], bool *sig_ok);

/* The message the manifest signature covers. */
#define BACKUP_SIG_TAG "phivault-backup-manifest-v1\n"

/* Sign r (keys_audit_sign) into r->signature (drill.c). */
enum pv_rc backup_drill_sign(struct keys *keys, struct backup_drill_result *r);
/* Every drill.run evidence of the trail, newest first (drill.c). */
enum pv_rc backup_drills_scan(struct store *st, json_t **out);

/* routes.c: the /v1/sys/backups routes. */
enum pv_rc backup_routes(struct backup *b, struct http_server *http);
/* The actor of a request (backup_config.actor_of, else the system). */
void backup_actor_of(struct backup *b, struct http_request *req, struct pv_actor *out);

#endif /* PV_BACKUP_INT_H */
