/*
 * offboard: the return and destruction of PHI at contract end (issue 19
 * item 3; docs/governance.md "Return and destruction at contract end";
 * docs/internals/offboard.md). HIPAA 164.310(d)(2)(i) disposal,
 * 164.310(d)(2)(ii) media re-use, the BAA's return-or-destroy clause.
 *
 * Layer: above backup, vault, secrets, audit and keys; only cli calls it.
 *
 * Offline only: the caller (phivault offboard ...) holds the data
 * directory's lock (no server runs), opened the store, unsealed the keyring
 * in its own process and started an audit writer, as `phivault init` does.
 *
 *  export   every collection's live records, decrypted, as JSON lines, one
 *           file per collection, each encrypted to the customer's public key
 *           (crypto_rcpt_*: X25519 age-style or RSA-OAEP), plus a manifest
 *           signed with the audit key. Plaintext exists only in memory, one
 *           record at a time.
 *  open     the customer's side: the manifest's signature and each file's
 *           SHA-256 checked, each file decrypted (nothing of a refused file
 *           is kept).
 *  destroy  one transaction (with its offboard.destroy entry): every KEK
 *           version erased (HSM objects destroyed), every subject shredded,
 *           every secret version destroyed; then a verification pass with
 *           the keyring reloaded from the store; then the signed certificate
 *           of destruction (NIST SP 800-88 Rev. 1 cryptographic erase).
 *           Survives, on purpose: the root key, the seal and the Ed25519
 *           audit key (wrapped by the root key), so the trail and the
 *           certificate stay verifiable and the vault still opens, empty.
 *
 * Signed documents (manifest, certificate): a JSON object whose
 * "signature" is the hex Ed25519 signature, by the audit key, of
 * tag || json_dumps(object without "signature", JSON_COMPACT |
 * JSON_SORT_KEYS); integers only, so the bytes are the same for every
 * reader. Never a PHI value in either: IDs, names, counts and hashes.
 */
#ifndef PV_OFFBOARD_H
#define PV_OFFBOARD_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "keys/keys.h"
#include "store/store.h"
#include "util/util.h"

#define OFFBOARD_MANIFEST "manifest.json"
#define OFFBOARD_SUFFIX ".jsonl.pvenc"
#define OFFBOARD_VAULT_ID_MAX 24   /* "pv-" + 16 hex + NUL */

/* The vault's id: "pv-" + the first 16 hex digits of SHA-256(audit public
 * key). Stable for the vault's life; the typed confirmation names it. */
enum pv_rc offboard_vault_id(struct store *st, char id[OFFBOARD_VAULT_ID_MAX]);

struct offboard_ctx {
	struct store *st;
	struct keys *keys;       /* unsealed */
	struct audit *audit;     /* the writer of this process */
	const char *seal;        /* "keyfile" | "shamir" | "pkcs11": who authorised */
};

struct offboard_export_result {
	char vault_id[OFFBOARD_VAULT_ID_MAX];
	size_t files;
	int64_t records;
	int64_t shredded_subjects;
	char message[256];
};
/* Export into outdir (created 0700; must not exist or be empty) for the
 * recipient public key (PEM text). PV_E_INVALID for a key we do not take,
 * PV_E_CONFLICT for a directory that is not empty; on failure what was
 * written is removed. Audited offboard.export. */
enum pv_rc offboard_export(const struct offboard_ctx *c, const char *outdir,
    const char *recipient_pem, size_t pemlen, struct offboard_export_result *out);

struct offboard_open_result {
	size_t files;
	int64_t records;
	char vault_id[OFFBOARD_VAULT_ID_MAX];
	char fingerprint[80];    /* of the key the manifest verified under */
	char message[256];       /* what was refused, "" if none */
};
/* Verify and decrypt indir into outdir (created 0700, must not exist or
 * be empty). pub: the vault's audit key to trust (NULL: the key the
 * manifest carries, which proves integrity, not origin). PV_E_INTEGRITY
 * (message names the file) for a bad signature, a file whose hash or
 * contents do not match; nothing decrypted stays then. */
enum pv_rc offboard_open(const char *indir, const char *priv_pem, size_t pemlen,
    const char *outdir, const uint8_t *pub, struct offboard_open_result *out);

struct offboard_destroy_spec {
	const char *confirm;     /* must be exactly "destroy <vault-id>" */
	const char *backups;     /* directory of backups to verify, or NULL */
	const char *cert_path;   /* where the certificate goes */
};
struct offboard_destroy_result {
	char vault_id[OFFBOARD_VAULT_ID_MAX];
	int64_t kek_versions, subjects, secret_versions;
	int64_t records_tried, records_opened, secrets_tried, secrets_opened;
	int64_t backups, backups_restorable;
	bool verified;           /* nothing decrypts any more */
	char message[256];
};
/* PV_E_INVALID (nothing changed, nothing recorded) if the confirmation is
 * not "destroy <vault-id>"; PV_E_LEGAL_HOLD (nothing changed) while a
 * subject is under legal hold; PV_OK once the destruction committed (see
 * out->verified) and the certificate is written. */
enum pv_rc offboard_destroy(const struct offboard_ctx *c, const struct offboard_destroy_spec *s,
    struct offboard_destroy_result *out);

struct offboard_cert_check {
	bool signature_ok;
	bool verified;           /* the certificate says nothing decrypted */
	char vault_id[OFFBOARD_VAULT_ID_MAX];
	char fingerprint[80];
	char destroyed_at[40];
	char message[256];
};
/* Check a certificate (file text) under pub (NULL: the key it carries).
 * PV_OK if it could be read at all; the verdict is in out. */
enum pv_rc offboard_certificate_verify(const char *text, size_t len, const uint8_t *pub,
    struct offboard_cert_check *out);

#endif /* PV_OFFBOARD_H */
