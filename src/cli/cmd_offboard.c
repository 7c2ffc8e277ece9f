/*
 * offboard: the return and destruction of PHI at contract end (offline;
 * src/offboard/offboard.h, docs/governance.md "Return and destruction at
 * contract end").
 *
 *   phivault offboard id --data DIR
 *   phivault offboard export --data DIR --out OUT --recipient-key PEM AUTHORITY
 *   phivault offboard open --in OUT --key PRIVATE.pem --out PLAIN [--public-key PEM]
 *   phivault offboard destroy --data DIR --confirm "destroy <vault-id>" AUTHORITY
 *                            [--backups DIR] [--certificate FILE]
 *   phivault offboard verify-certificate FILE [--public-key PEM | --data DIR]
 *
 *   AUTHORITY (the seal's, as `phivault officer` asks it): --key-file FILE
 *   (the key-file seal's unseal.key), --shares (Shamir: K shares on stdin,
 *   one a line) or --pin-file FILE (pkcs11: the token's user PIN).
 *
 * export and destroy run with the server stopped: they take DIR's lock
 * (a running server holds it: refused, naming its PID), open the store,
 * unseal in this process with the authority given and append their audit
 * entries through a writer of their own, as `phivault init` does.
 * Exit: 0 done (destroy: and verified), 1 a check failed (open: refused
 * file; destroy: something still decrypts; verify-certificate: tampered),
 * 2 usage (a confirmation that does not match: nothing changed), 3 runtime.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "daemon/daemon.h"
#include "keys/keys.h"
#include "offboard/offboard.h"
#include "store/store.h"

#define OFFBOARD_USAGE "usage: phivault offboard id --data DIR\n" \
	"       phivault offboard export --data DIR --out OUT --recipient-key PEM AUTHORITY\n" \
	"       phivault offboard open --in OUT --key PRIVATE.pem --out PLAIN [--public-key PEM]\n" \
	"       phivault offboard destroy --data DIR --confirm \"destroy <vault-id>\" AUTHORITY\n" \
	"                [--backups DIR] [--certificate FILE]\n" \
	"       phivault offboard verify-certificate FILE [--public-key PEM | --data DIR]\n" \
	"  AUTHORITY: --key-file FILE | --shares (K shares on stdin) | --pin-file FILE"

#define SHARES_MAX 16

static const struct option oopts[] = {
	{ "data", required_argument, NULL, 'd' },
	{ "out", required_argument, NULL, 'o' },
	{ "in", required_argument, NULL, 'i' },
	{ "recipient-key", required_argument, NULL, 'r' },
	{ "key", required_argument, NULL, 'K' },
	{ "public-key", required_argument, NULL, 'p' },
	{ "confirm", required_argument, NULL, 'c' },
	{ "key-file", required_argument, NULL, 'k' },
	{ "shares", no_argument, NULL, 's' },
	{ "pin-file", required_argument, NULL, 'P' },
	{ "backups", required_argument, NULL, 'b' },
	{ "certificate", required_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct oargs {
	const char *data, *out, *in, *recipient, *key, *pub, *confirm;
	const char *key_file, *pin_file, *backups, *cert;
	bool shares;
};

static int
usage(void)
{
	cli_err("%s", OFFBOARD_USAGE);
	return CLI_USAGE;
}

/* An opened data directory: lock, store, keyring, writer. */
struct opened {
	struct daemon_lock *lock;
	struct pv_config cfg;
	struct store *st;
	struct keys *k;
	struct audit *audit;
	const char *seal;
};

static void
opened_close(struct opened *o)
{
	if (o->audit != NULL)
		audit_stop(o->audit);
	keys_close(o->k);
	store_close(o->st);
	if (o->lock != NULL)
		daemon_lock_release(o->lock);
	memset(o, 0, sizeof(*o));
}

static const char *
seal_name(enum keys_seal_type t)
{
	return t == KEYS_SEAL_SHAMIR ? "shamir" : t == KEYS_SEAL_PKCS11 ? "pkcs11" : "keyfile";
}

/* Read a small file's first line (key file, PIN); *out malloc'd. */
static enum pv_rc
read_line_file(const char *path, char **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	enum pv_rc rc = util_file_read(path, 4096, &buf, &len);
	char *s;

	if (rc != PV_OK)
		return rc;
	if ((s = calloc(1, len + 1)) == NULL) {
		crypto_wipe(buf, len);
		free(buf);
		return PV_E_NOMEM;
	}
	memcpy(s, buf, len);
	crypto_wipe(buf, len);
	free(buf);
	*out = s;
	return PV_OK;
}

/* Unseal with the seal's authority and check it (keys_seal_authority*). */
static enum pv_rc
authority(struct opened *o, const struct oargs *a)
{
	struct keys_seal_status ss;
	char *text = NULL, *shares[SHARES_MAX], line[1100];
	size_t n = 0;
	enum pv_rc rc;

	keys_status(o->k, &ss);
	o->seal = seal_name(ss.type);
	if ((ss.type == KEYS_SEAL_KEYFILE && a->key_file == NULL) ||
	    (ss.type == KEYS_SEAL_SHAMIR && !a->shares) ||
	    (ss.type == KEYS_SEAL_PKCS11 && a->pin_file == NULL)) {
		cli_err("this vault's seal is %s: give its authority with %s", o->seal,
		    ss.type == KEYS_SEAL_KEYFILE ? "--key-file FILE" :
		    ss.type == KEYS_SEAL_SHAMIR ? "--shares (K shares on stdin)" : "--pin-file FILE");
		return PV_E_SEAL_AUTHORITY;
	}
	if (ss.type == KEYS_SEAL_KEYFILE) {
		if ((rc = read_line_file(a->key_file, &text)) != PV_OK)
			return PV_E_SEAL_AUTHORITY;
		if ((rc = keys_unseal_keyfile(o->k)) == PV_OK)
			rc = keys_seal_authority(o->k, text, NULL, 0);
		crypto_wipe(text, strlen(text));
		free(text);
		return rc;
	}
	if (ss.type == KEYS_SEAL_PKCS11) {
		const struct keys_hsm_spec hs = { o->cfg.pkcs11_module, o->cfg.pkcs11_token_label,
			o->cfg.pkcs11_pin_file, o->cfg.pkcs11_key_label };

		if ((rc = read_line_file(a->pin_file, &text)) != PV_OK)
			return PV_E_SEAL_AUTHORITY;
		text[strcspn(text, "\r\n")] = '\0';
		if ((rc = keys_unseal_pkcs11(o->k, &hs)) == PV_OK)
			rc = keys_seal_authority_pin(o->k, text);
		crypto_wipe(text, strlen(text));
		free(text);
		return rc;
	}
	while (n < SHARES_MAX && fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if ((shares[n] = strdup(line)) == NULL)
			break;
		n++;
		crypto_wipe(line, sizeof line);
	}
	rc = n == 0 ? PV_E_SEAL_AUTHORITY : PV_OK;
	for (size_t i = 0; rc == PV_OK && i < n && keys_is_sealed(o->k); i++)
		rc = keys_unseal_share(o->k, shares[i], &ss);
	if (rc == PV_OK && keys_is_sealed(o->k))
		rc = PV_E_SEAL_AUTHORITY;
	if (rc == PV_OK)
		rc = keys_seal_authority(o->k, NULL, (const char *const *)shares, n);
	for (size_t i = 0; i < n; i++) {
		crypto_wipe(shares[i], strlen(shares[i]));
		free(shares[i]);
	}
	return rc == PV_E_SHARE || rc == PV_E_INTEGRITY ? PV_E_SEAL_AUTHORITY : rc;
}

/* Lock DIR, open its store and keyring (sealed). */
static int
open_dir(const char *data, bool write, struct opened *o)
{
	char err[512];
	pid_t holder = 0;
	enum pv_rc rc;

	memset(o, 0, sizeof(*o));
	if (crypto_init() != PV_OK) {
		cli_err("libcrypto is not usable");
		return CLI_RUNTIME;
	}
	daemon_json_wipe_on_free();
	if (config_load(data, &o->cfg, err, sizeof err) != PV_OK) {
		cli_err("%s", err);
		return CLI_RUNTIME;
	}
	if (write) {
		rc = daemon_lock_take(data, &o->lock, &holder);
		if (rc == PV_E_LOCKED) {
			cli_err("%s is in use by phivault PID %ld: stop the server first (offboarding "
			    "runs offline)", data, (long)holder);
			return CLI_RUNTIME;
		}
		if (rc != PV_OK) {
			cli_err("cannot lock %s/%s: %s", data, DAEMON_LOCK_FILE, strerror(errno));
			return CLI_RUNTIME;
		}
	}
	if ((rc = store_open(data, o->cfg.store_backend, o->cfg.store_url, !write, &o->st)) != PV_OK) {
		cli_err("cannot open the store of %s: %s", data, pv_rc_name(rc));
		opened_close(o);
		return CLI_RUNTIME;
	}
	if ((rc = keys_open(o->st, data, &o->k)) != PV_OK) {
		cli_err("cannot open the keyring of %s: %s", data, pv_rc_name(rc));
		opened_close(o);
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

static int
start_writer(struct opened *o)
{
	struct audit_config ac = { o->cfg.checkpoint_every, o->cfg.checkpoint_interval_s, 0 };
	enum pv_rc rc = audit_start(o->st, o->k, &ac, &o->audit);

	if (rc != PV_OK) {
		cli_err("cannot start the audit trail: %s", pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

/* A refused authority is recorded (action denied), then reported. */
static int
authority_refused(struct opened *o, const char *action, enum pv_rc rc)
{
	if (!keys_is_sealed(o->k) && start_writer(o) == CLI_OK) {
		struct audit_event ev = {
			.actor = audit_actor_system(), .action = action, .resource = "sys/offboard",
			.outcome = AUDIT_DENIED, .reason = "seal_authority_required",
		};

		(void)audit_record(o->audit, &ev);
	}
	cli_err("the seal's authority was not given or is wrong (%s): nothing was done",
	    pv_rc_name(rc));
	return CLI_RUNTIME;
}

static int
id_cmd(const struct oargs *a)
{
	struct opened o;
	char id[OFFBOARD_VAULT_ID_MAX];
	int ret;
	enum pv_rc rc;

	if ((ret = open_dir(a->data, false, &o)) != CLI_OK)
		return ret;
	rc = offboard_vault_id(o.st, id);
	opened_close(&o);
	if (rc != PV_OK) {
		cli_err("cannot read the vault id: %s", pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	printf("%s\n", id);
	return CLI_OK;
}

static int
export_cmd(const struct oargs *a)
{
	struct opened o;
	struct offboard_export_result r;
	struct offboard_ctx c;
	uint8_t *pem = NULL;
	size_t pemlen = 0;
	int ret;
	enum pv_rc rc;

	if (a->out == NULL || a->recipient == NULL)
		return usage();
	if ((rc = util_file_read(a->recipient, 65536, &pem, &pemlen)) != PV_OK) {
		cli_err("cannot read --recipient-key %s: %s", a->recipient, pv_rc_name(rc));
		return CLI_USAGE;
	}
	if ((ret = open_dir(a->data, true, &o)) != CLI_OK) {
		free(pem);
		return ret;
	}
	if ((rc = authority(&o, a)) != PV_OK) {
		ret = authority_refused(&o, "offboard.export", rc);
		goto out;
	}
	if ((ret = start_writer(&o)) != CLI_OK)
		goto out;
	c.st = o.st;
	c.keys = o.k;
	c.audit = o.audit;
	c.seal = o.seal;
	rc = offboard_export(&c, a->out, (const char *)pem, pemlen, &r);
	if (rc != PV_OK) {
		cli_err("export refused: %s", r.message);
		ret = rc == PV_E_INVALID || rc == PV_E_CONFLICT ? CLI_USAGE : CLI_RUNTIME;
		goto out;
	}
	printf("exported vault %s: %zu collections, %lld records, to %s (%s); %lld shredded "
	    "subjects not exported\n", r.vault_id, r.files, (long long)r.records, a->out,
	    OFFBOARD_MANIFEST, (long long)r.shredded_subjects);
	ret = CLI_OK;
out:
	free(pem);
	opened_close(&o);
	return ret;
}

static int
pub_from(const char *pemfile, const char *data, uint8_t pub[CRYPTO_ED25519_PUB_LEN], bool *have)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	enum pv_rc rc;

	*have = false;
	if (pemfile != NULL) {
		if ((rc = util_file_read(pemfile, 4096, &buf, &len)) != PV_OK ||
		    audit_public_key_from_pem((const char *)buf, len, pub) != PV_OK) {
			free(buf);
			cli_err("--public-key %s is not an Ed25519 public key PEM (GET "
			    "/v1/audit/public-key)", pemfile);
			return CLI_USAGE;
		}
		free(buf);
		*have = true;
	} else if (data != NULL) {
		struct pv_config cfg;
		struct store *st = NULL;
		char err[512];

		if (config_load(data, &cfg, err, sizeof err) != PV_OK) {
			cli_err("%s", err);
			return CLI_RUNTIME;
		}
		if ((rc = store_open(data, cfg.store_backend, cfg.store_url, true, &st)) != PV_OK) {
			cli_err("cannot open the store of %s: %s", data, pv_rc_name(rc));
			return CLI_RUNTIME;
		}
		rc = keys_audit_public_key(st, pub);
		store_close(st);
		if (rc != PV_OK) {
			cli_err("cannot read the audit public key of %s", data);
			return CLI_RUNTIME;
		}
		*have = true;
	}
	return CLI_OK;
}

static int
open_cmd(const struct oargs *a)
{
	struct offboard_open_result r;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], *pem = NULL;
	size_t pemlen = 0;
	bool have = false;
	int ret;
	enum pv_rc rc;

	if (a->in == NULL || a->key == NULL || a->out == NULL)
		return usage();
	if (crypto_init() != PV_OK)
		return CLI_RUNTIME;
	if ((ret = pub_from(a->pub, NULL, pub, &have)) != CLI_OK)
		return ret;
	if ((rc = util_file_read(a->key, 65536, &pem, &pemlen)) != PV_OK) {
		cli_err("cannot read --key %s: %s", a->key, pv_rc_name(rc));
		return CLI_USAGE;
	}
	rc = offboard_open(a->in, (const char *)pem, pemlen, a->out, have ? pub : NULL, &r);
	crypto_wipe(pem, pemlen);
	free(pem);
	if (rc == PV_E_INTEGRITY) {
		cli_err("export refused: %s (nothing was decrypted)", r.message);
		return CLI_CHECK_FAILED;
	}
	if (rc != PV_OK) {
		cli_err("cannot open the export: %s", r.message);
		return rc == PV_E_CONFLICT || rc == PV_E_INVALID ? CLI_USAGE : CLI_RUNTIME;
	}
	printf("export of vault %s intact (manifest signed by %s%s): %zu files, %lld records "
	    "in %s\n", r.vault_id, r.fingerprint, have ? "" : ", the key it carries: compare "
	    "with the vault's audit key", r.files, (long long)r.records, a->out);
	return CLI_OK;
}

static int
destroy_cmd(const struct oargs *a)
{
	struct opened o;
	struct offboard_destroy_result r;
	struct offboard_destroy_spec s;
	struct offboard_ctx c;
	char id[OFFBOARD_VAULT_ID_MAX], want[64], cert[4400], bdir[4400];
	struct stat sb;
	int ret;
	enum pv_rc rc;

	if ((ret = open_dir(a->data, true, &o)) != CLI_OK)
		return ret;
	/* the typed confirmation before anything: a mismatch changes and records nothing */
	if ((rc = offboard_vault_id(o.st, id)) != PV_OK) {
		cli_err("cannot read the vault id: %s", pv_rc_name(rc));
		ret = CLI_RUNTIME;
		goto out;
	}
	snprintf(want, sizeof(want), "destroy %s", id);
	if (a->confirm == NULL || strcmp(a->confirm, want) != 0) {
		cli_err("refused: type --confirm \"%s\" to destroy every key, subject and secret "
		    "of this vault (nothing was changed)", want);
		ret = CLI_USAGE;
		goto out;
	}
	if ((rc = authority(&o, a)) != PV_OK) {
		ret = authority_refused(&o, "offboard.destroy", rc);
		goto out;
	}
	if ((ret = start_writer(&o)) != CLI_OK)
		goto out;
	if (a->cert != NULL)
		util_strlcpy(cert, a->cert, sizeof(cert));
	else
		snprintf(cert, sizeof(cert), "%s/certificate-of-destruction.json", a->data);
	if (a->backups != NULL)
		util_strlcpy(bdir, a->backups, sizeof(bdir));
	else if (o.cfg.backup_dir[0] != '\0')
		util_strlcpy(bdir, o.cfg.backup_dir, sizeof(bdir));
	else
		snprintf(bdir, sizeof(bdir), "%s/backups", a->data);
	c.st = o.st;
	c.keys = o.k;
	c.audit = o.audit;
	c.seal = o.seal;
	s.confirm = a->confirm;
	s.backups = a->backups != NULL || (stat(bdir, &sb) == 0 && S_ISDIR(sb.st_mode)) ? bdir : NULL;
	s.cert_path = cert;
	rc = offboard_destroy(&c, &s, &r);
	if (rc != PV_OK) {
		cli_err("destroy refused: %s", r.message);
		ret = rc == PV_E_LEGAL_HOLD ? CLI_CHECK_FAILED : CLI_RUNTIME;
		goto out;
	}
	printf("destroyed vault %s: %lld key versions, %lld subjects, %lld secret versions\n"
	    "verification: %lld/%lld records open, %lld/%lld secrets open, %lld/%lld backups "
	    "restorable: %s\ncertificate of destruction: %s\n", r.vault_id,
	    (long long)r.kek_versions, (long long)r.subjects, (long long)r.secret_versions,
	    (long long)r.records_opened, (long long)r.records_tried, (long long)r.secrets_opened,
	    (long long)r.secrets_tried, (long long)r.backups_restorable, (long long)r.backups,
	    r.verified ? "nothing decrypts" : "FAILED", cert);
	if (!r.verified)
		cli_err("%s", r.message);
	ret = r.verified ? CLI_OK : CLI_CHECK_FAILED;
out:
	opened_close(&o);
	return ret;
}

static int
verify_cmd(const char *file, const struct oargs *a)
{
	struct offboard_cert_check r;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], *buf = NULL;
	size_t len = 0;
	bool have = false;
	int ret;
	enum pv_rc rc;

	if (crypto_init() != PV_OK)
		return CLI_RUNTIME;
	if ((ret = pub_from(a->pub, a->data, pub, &have)) != CLI_OK)
		return ret;
	if ((rc = util_file_read(file, 16u << 20, &buf, &len)) != PV_OK) {
		cli_err("cannot read %s: %s", file, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	rc = offboard_certificate_verify((const char *)buf, len, have ? pub : NULL, &r);
	free(buf);
	if (rc != PV_OK || !r.signature_ok || !r.verified) {
		cli_err("certificate refused: %s", r.message);
		return CLI_CHECK_FAILED;
	}
	printf("certificate of destruction intact: vault %s, destroyed %s, signed by %s%s; "
	    "nothing decrypted in its verification pass\n", r.vault_id, r.destroyed_at,
	    r.fingerprint, have ? "" : " (the key it carries: compare with the vault's audit key)");
	return CLI_OK;
}

int
cmd_offboard(int argc, char **argv)
{
	struct oargs a;
	const char *sub;
	int c;

	memset(&a, 0, sizeof(a));
	a.data = getenv("PHIVAULT_DATA");
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s\n", OFFBOARD_USAGE);
		return CLI_OK;
	}
	if (argc < 2)
		return usage();
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "d:o:i:r:K:p:c:k:sP:b:C:h", oopts, NULL)) != -1) {
		switch (c) {
		case 'd': a.data = optarg; break;
		case 'o': a.out = optarg; break;
		case 'i': a.in = optarg; break;
		case 'r': a.recipient = optarg; break;
		case 'K': a.key = optarg; break;
		case 'p': a.pub = optarg; break;
		case 'c': a.confirm = optarg; break;
		case 'k': a.key_file = optarg; break;
		case 's': a.shares = true; break;
		case 'P': a.pin_file = optarg; break;
		case 'b': a.backups = optarg; break;
		case 'C': a.cert = optarg; break;
		case 'h':
			printf("%s\n", OFFBOARD_USAGE);
			return CLI_OK;
		default:
			return usage();
		}
	}
	if (a.data != NULL && a.data[0] == '\0')
		a.data = NULL;
	if (strcmp(sub, "verify-certificate") == 0) {
		if (optind + 1 != argc)
			return usage();
		return verify_cmd(argv[optind], &a);
	}
	if (optind != argc)
		return usage();
	if (strcmp(sub, "open") == 0)
		return open_cmd(&a);
	if (a.data == NULL)
		return usage();
	if (strcmp(sub, "id") == 0)
		return id_cmd(&a);
	if (strcmp(sub, "export") == 0)
		return export_cmd(&a);
	if (strcmp(sub, "destroy") == 0)
		return destroy_cmd(&a);
	return usage();
}
