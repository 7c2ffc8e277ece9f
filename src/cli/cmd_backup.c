/*
 * backup: encrypted, signed backups (API.md "Backups", docs/operations.md
 * "Backup and disaster recovery").
 *
 *   phivault backup create [--out FILE]          online: POST /v1/sys/backups, wait
 *                                                 on the job (progress bar on a
 *                                                 terminal), --out copies the file
 *                                                 out through GET .../file pages
 *   phivault backup list                          online
 *   phivault backup delete ID                     online (409 while immutable)
 *   phivault backup verify FILE [--data DIR]      offline; exit 0 ok, 1 a check failed
 *   phivault backup restore FILE --data NEWDIR [--key-file FILE]
 *       [--pkcs11-pin-file FILE [--pkcs11-token LABEL] [--pkcs11-module LIB]
 *        [--pkcs11-key-label L]]                   offline; Shamir shares on stdin;
 *                                                 pkcs11 seal: the same token
 *                                                 and its PIN (labels default to
 *                                                 the backup manifest's)
 *   phivault backup drill --data DIR [--backup FILE]
 *                                                 offline: restore the newest (or given)
 *                                                 backup into DIR/tmp, verify, decrypt
 *                                                 every record, print signed evidence;
 *                                                 exit 0 passed, 1 failed
 *
 * Online commands take --addr/--cacert/--format (PHIVAULT_ADDR, _CACERT,
 * _TOKEN); --format defaults to text on a terminal, json otherwise.
 * verify with --data DIR (or PHIVAULT_DATA) checks the signature under
 * DIR's audit key, decrypts every chunk with DIR's keyring (key-file seal:
 * DIR/unseal.key; Shamir: shares on stdin) and checks the key versions in
 * DIR's store; without it only the file's own key and the chunk hashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "cli/cli.h"
#include "config/config.h"
#include "keys/keys.h"
#include "store/store.h"

#define BACKUP_USAGE "usage: phivault backup create [--out FILE] | backup list | " \
	"backup delete ID | backup verify FILE [--data DIR] | " \
	"backup restore FILE --data NEWDIR [--key-file FILE | --pkcs11-pin-file FILE " \
	"[--pkcs11-token LABEL] [--pkcs11-module LIB] [--pkcs11-key-label L]] | " \
	"backup drill --data DIR [--backup FILE] " \
	"(online: [--addr URL] [--cacert FILE] [--format text|json], token from PHIVAULT_TOKEN; " \
	"restore of a Shamir-sealed vault reads K shares from stdin)"
#define POLL_MS 200
#define MAX_SHARES 255

enum { O_OUT = 1000, O_DATA, O_KEYFILE, O_BACKUP, O_P11_MODULE, O_P11_TOKEN, O_P11_PIN,
	O_P11_KEY };

/* The HSM options of restore ([pkcs11] of the restored directory). */
struct p11_opts {
	const char *module, *token, *pin_file, *key_label;
	char module_abs[4096], pin_abs[4096];
};

/* [pkcs11] paths are stored absolute: serve runs from any directory. */
static const char *
abs_of(const char *in, char *out, size_t len)
{
	char cwd[4096];

	if (in == NULL || in[0] == '/')
		return in;
	if (getcwd(cwd, sizeof(cwd)) == NULL || util_path_join(out, len, cwd, in) != 0)
		return NULL;
	return out;
}

static int
usage(void)
{
	cli_err("%s", BACKUP_USAGE);
	return CLI_USAGE;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Copy the backup out, page by page (GET /v1/sys/backups/{id}/file). */
static int
download(const struct cli_api *c, const char *id, const char *out)
{
	char path[256], tmp[4200];
	uint8_t *buf = NULL;
	long long off = 0;
	int fd, ret = CLI_RUNTIME;

	if (snprintf(tmp, sizeof(tmp), "%s.partial", out) >= (int)sizeof(tmp))
		return CLI_USAGE;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		cli_err("cannot create %s: %s", tmp, strerror(errno));
		return CLI_RUNTIME;
	}
	for (;;) {
		json_t *resp = NULL;
		const char *data;
		size_t len;
		bool eof;

		snprintf(path, sizeof(path), "/v1/sys/backups/%s/file?offset=%lld", id, off);
		if ((ret = cli_api_call(c, "GET", path, NULL, 200, &resp)) != CLI_OK) {
			json_decref(resp);
			goto out;
		}
		data = cli_jstr(resp, "data");
		len = strlen(data) + 4;
		free(buf);
		if ((buf = malloc(len)) == NULL || util_b64_decode(data, buf, &len) != 0 ||
		    write(fd, buf, len) != (ssize_t)len) {
			cli_err("cannot write %s", tmp);
			json_decref(resp);
			ret = CLI_RUNTIME;
			goto out;
		}
		off += (long long)len;
		eof = json_is_true(json_object_get(resp, "eof"));
		json_decref(resp);
		if (eof)
			break;
		if (len == 0) {
			cli_err("the server sent an empty page before the end");
			ret = CLI_RUNTIME;
			goto out;
		}
	}
	if (fsync(fd) != 0 || fchmod(fd, 0400) != 0 || link(tmp, out) != 0) {
		cli_err("cannot create %s: %s", out, strerror(errno));
		ret = CLI_RUNTIME;
		goto out;
	}
	ret = CLI_OK;
out:
	close(fd);
	(void)unlink(tmp);
	free(buf);
	return ret;
}

static int
backup_create(const struct cli_api *c, const char *out)
{
	char path[160], bar[160];
	json_t *resp = NULL, *j = NULL, *list = NULL, *e, *mine = NULL;
	bool tty = isatty(STDERR_FILENO);
	const char *state;
	char job[64], id[64];
	size_t i;
	int ret;

	if ((ret = cli_api_call(c, "POST", "/v1/sys/backups", NULL, 202, &resp)) != CLI_OK)
		goto out;
	util_strlcpy(job, cli_jstr(resp, "job"), sizeof(job));
	util_strlcpy(id, cli_jstr(resp, "backup"), sizeof(id));
	snprintf(path, sizeof(path), "/v1/jobs/%s", job);
	for (;;) {
		json_decref(j);
		j = NULL;
		if ((ret = cli_api_call(c, "GET", path, NULL, 200, &j)) != CLI_OK)
			goto out;
		state = cli_jstr(j, "state");
		if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
		    strcmp(state, "cancelled") == 0)
			break;
		if (tty) {
			cli_job_progress(json_integer_value(json_object_get(j, "done")),
			    json_integer_value(json_object_get(j, "total")), 0, -1, 30, bar,
			    sizeof(bar));
			fprintf(stderr, "\r\033[Kbackup %s %s", id, bar);
		}
		sleep_ms(POLL_MS);
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (strcmp(state, "done") != 0) {
		json_t *err = json_array_get(json_object_get(j, "errors"), 0);

		cli_err("backup job %s %s%s%s", job, state, err ? ": " : "",
		    err ? cli_jstr(err, "code") : "");
		ret = CLI_RUNTIME;
		goto out;
	}
	if ((ret = cli_api_call(c, "GET", "/v1/sys/backups", NULL, 200, &list)) != CLI_OK)
		goto out;
	json_array_foreach(list, i, e)
		if (strcmp(cli_jstr(e, "id"), id) == 0)
			mine = e;
	if (mine == NULL) {
		cli_err("backup %s is not listed after its job ended", id);
		ret = CLI_RUNTIME;
		goto out;
	}
	if (out != NULL && (ret = download(c, id, out)) != CLI_OK)
		goto out;
	if (out != NULL)
		json_object_set_new(mine, "copied_to", json_string(out));
	if (c->format == CLI_FORMAT_JSON)
		cli_print_json(mine);
	else
		printf("backup %s: %s (%lld bytes, manifest %s, immutable until %s)%s%s\n", id,
		    cli_jstr(mine, "file"), (long long)json_integer_value(json_object_get(mine, "size")),
		    cli_jstr(mine, "manifest_sha256"), cli_jstr(mine, "immutable_until"),
		    out ? ", copied to " : "", out ? out : "");
	ret = CLI_OK;
out:
	json_decref(resp);
	json_decref(j);
	json_decref(list);
	return ret;
}

static int
backup_list_cmd(const struct cli_api *c)
{
	json_t *resp = NULL, *e;
	size_t i;
	int ret = cli_api_call(c, "GET", "/v1/sys/backups", NULL, 200, &resp);

	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (ret == CLI_OK) {
		printf("%-31s %-25s %12s %-25s %s\n", "ID", "CREATED", "SIZE", "IMMUTABLE UNTIL",
		    "VERIFIED");
		json_array_foreach(resp, i, e)
			printf("%-31s %-25s %12lld %-25s %s\n", cli_jstr(e, "id"),
			    cli_jstr(e, "created_at"),
			    (long long)json_integer_value(json_object_get(e, "size")),
			    cli_jstr(e, "immutable_until"),
			    json_is_true(json_object_get(e, "verified")) ? "yes" : "NO");
	}
	json_decref(resp);
	return ret;
}

static int
backup_delete_cmd(const struct cli_api *c, const char *id)
{
	char path[160];
	json_t *resp = NULL;
	int ret;

	if (snprintf(path, sizeof(path), "/v1/sys/backups/%s", id) >= (int)sizeof(path))
		return usage();
	ret = cli_api_call(c, "DELETE", path, NULL, 204, &resp);
	json_decref(resp);
	if (ret == CLI_OK && c->format != CLI_FORMAT_JSON)
		printf("backup %s deleted\n", id);
	return ret;
}

/* Shares, one a line, from stdin (Shamir seal). */
static size_t
read_shares(char **shares, size_t max)
{
	char line[1024];
	size_t n = 0;

	while (n < max && fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if ((shares[n] = strdup(line)) == NULL)
			break;
		n++;
	}
	crypto_wipe(line, sizeof(line));
	return n;
}

static void
free_shares(char **shares, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crypto_wipe(shares[i], strlen(shares[i]));
		free(shares[i]);
	}
}

/* DIR's keyring, unsealed (key file, or shares on stdin). */
static int
open_keyring(const char *data, struct store **stp, struct keys **kp)
{
	struct pv_config cfg;
	struct keys_seal_status ss;
	struct store *st = NULL;
	struct keys *k = NULL;
	char err[256], *shares[MAX_SHARES];
	size_t n = 0;
	enum pv_rc rc;

	if (config_load(data, &cfg, err, sizeof(err)) != PV_OK) {
		cli_err("%s", err);
		return CLI_RUNTIME;
	}
	if ((rc = store_open(data, cfg.store_backend, cfg.store_url, true, &st)) != PV_OK) {
		cli_err("cannot open the store of %s: %s", data, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	if ((rc = keys_open(st, data, &k)) != PV_OK) {
		cli_err("cannot open the keyring of %s: %s", data, pv_rc_name(rc));
		store_close(st);
		return CLI_RUNTIME;
	}
	keys_status(k, &ss);
	if (ss.type == KEYS_SEAL_KEYFILE)
		rc = keys_unseal_keyfile(k);
	else if (ss.type == KEYS_SEAL_SHAMIR) {
		n = read_shares(shares, MAX_SHARES);
		rc = PV_E_SEALED;
		for (size_t i = 0; i < n && keys_is_sealed(k); i++)
			if ((rc = keys_unseal_share(k, shares[i], &ss)) != PV_OK)
				break;
		free_shares(shares, n);
		if (rc == PV_OK && keys_is_sealed(k))
			rc = PV_E_SEALED;
	} else {
		/* pkcs11: the token and PIN of DIR's [pkcs11] */
		struct keys_hsm_spec hs = { cfg.pkcs11_module, cfg.pkcs11_token_label,
			cfg.pkcs11_pin_file, cfg.pkcs11_key_label };

		rc = keys_unseal_pkcs11(k, &hs);
	}
	if (rc != PV_OK) {
		cli_err("cannot unseal the keyring of %s: %s (key-file seal: DIR/unseal.key; "
		    "Shamir: K shares on stdin; pkcs11: the token and PIN of its [pkcs11])", data,
		    pv_rc_name(rc));
		keys_close(k);
		store_close(st);
		return CLI_RUNTIME;
	}
	*stp = st;
	*kp = k;
	return CLI_OK;
}

static int
backup_verify_cmd(const char *file, const char *data, enum cli_format fmt)
{
	struct backup_verify_result v;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct store *st = NULL;
	struct keys *k = NULL;
	char dir[4096], why[512] = "";
	bool chain, ok;
	int ret;
	enum pv_rc rc;

	if (crypto_init() != PV_OK)
		return CLI_RUNTIME;
	if (data != NULL) {
		if ((ret = open_keyring(data, &st, &k)) != CLI_OK)
			return ret;
		rc = keys_audit_public_key(st, pub);
	} else
		rc = backup_file_public_key(file, pub);
	if (rc == PV_E_NOTFOUND && data == NULL) {
		cli_err("cannot read %s", file);
		return CLI_RUNTIME;
	}
	if (rc != PV_OK)
		memset(pub, 0, sizeof(pub));   /* no key: the signature check fails */
	rc = backup_verify_file(file, pub, st, k, -1, &v);
	if (k != NULL)
		keys_close(k);
	store_close(st);
	if (rc != PV_OK) {
		cli_err("cannot read %s: %s", file, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	util_strlcpy(dir, file, sizeof(dir));
	chain = backup_chain_check(dirname(dir), why, sizeof(why));
	ok = v.signature_ok && v.chunks_ok && chain && (data == NULL || (v.decrypt_ok && v.keys_ok));
	if (fmt == CLI_FORMAT_JSON) {
		json_t *o = json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:b}", "id", v.id, "ok", ok,
		    "signature", v.signature_ok, "chunks", v.chunks_ok, "chain", chain,
		    "decrypted", v.decrypt_ok, "keys", v.keys_ok);

		if (o != NULL) {
			json_object_set_new(o, "bad_chunk", v.bad_chunk >= 0 ?
			    json_integer(v.bad_chunk) : json_null());
			json_object_set_new(o, "message", json_string(v.message[0] ? v.message : why));
			json_object_set_new(o, "checked_with", json_string(data ? "data directory" :
			    "the file's own key (no --data: damage, not forgery, is detected)"));
			if (v.hsm_token[0] != '\0' || v.hsm_nkeys > 0)
				json_object_set_new(o, "hsm", json_pack("{s:b,s:s,s:I,s:s}",
				    "sealed", v.hsm_sealed, "token_label", v.hsm_token, "versions",
				    (json_int_t)v.hsm_nkeys, "keys", v.hsm_keys));
			cli_print_json(o);
			json_decref(o);
		}
	} else {
		printf("backup %s\n", v.id[0] ? v.id : "(unreadable)");
		printf("  signature:  %s%s\n", v.signature_ok ? "ok" : "BAD",
		    data ? "" : " (under the file's own key; give --data DIR to pin the vault's)");
		printf("  chunks:     %s\n", v.chunks_ok ? "ok" : "BAD");
		if (data != NULL) {
			printf("  decryption: %s\n", v.decrypt_ok ? "ok" : "BAD");
			printf("  key versions: %s\n", v.keys_ok ? "ok" : "UNRESTORABLE");
		}
		printf("  chain:      %s\n", chain ? "ok" : "BROKEN");
		if (v.hsm_token[0] != '\0' || v.hsm_nkeys > 0)
			printf("  hsm:        restore needs token '%s' and its PIN%s; %zu key "
			    "version(s) held in it%s%s\n", v.hsm_token, v.hsm_sealed ?
			    " (it seals the vault)" : "", v.hsm_nkeys, v.hsm_nkeys ? ": " : "",
			    v.hsm_keys);
	}
	if (!ok) {
		if (v.message[0] != '\0')
			cli_err("%s", v.message);
		if (!chain)
			cli_err("%s", why);
		return CLI_CHECK_FAILED;
	}
	return CLI_OK;
}

static int
backup_restore_cmd(const char *file, const char *data, const char *keyfile,
    struct p11_opts *p11, enum cli_format fmt)
{
	struct backup_unseal u = { 0 };
	struct backup_restore_result r;
	char *shares[MAX_SHARES];
	size_t n = 0;
	enum pv_rc rc;

	if (crypto_init() != PV_OK)
		return CLI_RUNTIME;
	u.key_file = keyfile;
	u.pkcs11_token = p11->token;
	u.pkcs11_key_label = p11->key_label;
	if ((p11->module != NULL && (u.pkcs11_module = abs_of(p11->module, p11->module_abs,
	    sizeof(p11->module_abs))) == NULL) || (p11->pin_file != NULL &&
	    (u.pkcs11_pin_file = abs_of(p11->pin_file, p11->pin_abs, sizeof(p11->pin_abs))) ==
	    NULL)) {
		cli_err("--pkcs11-module / --pkcs11-pin-file: the path is too long");
		return CLI_USAGE;
	}
	if (keyfile == NULL && p11->pin_file == NULL) {
		n = read_shares(shares, MAX_SHARES);
		u.shares = shares;
		u.nshares = n;
	}
	rc = backup_restore(file, data, &u, &r);
	free_shares(shares, n);
	if (rc != PV_OK) {
		cli_err("restore refused (%s): %s", pv_rc_name(rc), r.message[0] ? r.message :
		    pv_rc_name(rc));
		return rc == PV_E_INTEGRITY ? CLI_CHECK_FAILED : CLI_RUNTIME;
	}
	if (fmt == CLI_FORMAT_JSON) {
		json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b,s:f,s:I}", "backup", r.id, "data", data,
		    "records", (json_int_t)r.records, "audit_seq", (json_int_t)r.audit_seq,
		    "audit_verified", r.audit_verified, "rto_s", (double)r.rto_ms / 1000.0,
		    "tombstones_applied", (json_int_t)r.tombstones_applied);

		if (o != NULL) {
			cli_print_json(o);
			json_decref(o);
		}
	} else
		printf("restored backup %s into %s: %lld records, audit chain verified to seq %lld, "
		    "%zu subjects shredded after it shredded again, %.3f s\n"
		    "start it with: phivault serve --data %s\n", r.id, data,
		    (long long)r.records, (long long)r.audit_seq, r.tombstones_applied,
		    (double)r.rto_ms / 1000.0, data);
	return CLI_OK;
}

static int
backup_drill_cmd(const char *data, const char *file, enum cli_format fmt)
{
	struct backup_drill_result r;
	struct backup_drill_spec spec = { .datadir = data, .file = file };
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct pv_config cfg;
	struct store *st = NULL;
	struct keys *k = NULL;
	char err[256], bdir[4200];
	json_t *ev;
	int ret;
	enum pv_rc rc;

	if (crypto_init() != PV_OK)
		return CLI_RUNTIME;
	if (config_load(data, &cfg, err, sizeof(err)) != PV_OK) {
		cli_err("%s", err);
		return CLI_RUNTIME;
	}
	if (cfg.backup_dir[0] != '\0')
		util_strlcpy(bdir, cfg.backup_dir, sizeof(bdir));
	else
		snprintf(bdir, sizeof(bdir), "%s/backups", data);
	spec.backup_dir = bdir;
	/* DIR's keyring signs the evidence; its audit key must have signed the backup */
	if ((ret = open_keyring(data, &st, &k)) != CLI_OK)
		return ret;
	if (keys_audit_public_key(st, pub) == PV_OK)
		spec.pub = pub;
	spec.keys = k;
	rc = backup_drill_run(&spec, &r);
	keys_close(k);
	store_close(st);
	if (rc != PV_OK) {
		cli_err("drill not run: %s", r.message[0] ? r.message : pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	if ((ev = backup_drill_evidence(&r, true)) == NULL)
		return CLI_RUNTIME;
	if (fmt == CLI_FORMAT_JSON)
		cli_print_json(ev);
	else
		printf("drill of %s: %s\n  records checked: %lld (failed %lld)\n  audit chain: %s\n"
		    "  rto: %.3f s\n  signature: %s\n", r.backup, r.ok ? "PASSED" : "FAILED",
		    (long long)r.records_checked, (long long)r.records_failed,
		    r.audit_verified ? "verified" : "NOT verified", (double)r.rto_ms / 1000.0, r.signature);
	json_decref(ev);
	if (!r.ok) {
		cli_err("drill failed: %s", r.message);
		return CLI_CHECK_FAILED;
	}
	return CLI_OK;
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "out", required_argument, NULL, O_OUT },
		{ "data", required_argument, NULL, O_DATA },
		{ "key-file", required_argument, NULL, O_KEYFILE },
		{ "backup", required_argument, NULL, O_BACKUP },
		{ "pkcs11-module", required_argument, NULL, O_P11_MODULE },
		{ "pkcs11-token", required_argument, NULL, O_P11_TOKEN },
		{ "pkcs11-pin-file", required_argument, NULL, O_P11_PIN },
		{ "pkcs11-key-label", required_argument, NULL, O_P11_KEY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub, *out = NULL, *data = NULL, *keyfile = NULL, *bfile = NULL;
	static struct p11_opts p11;
	bool any_p11;
	int c, nargs;

	if ((c = cli_subcommand(argc, argv, BACKUP_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case O_OUT: out = optarg; break;
		case O_DATA: data = optarg; break;
		case O_KEYFILE: keyfile = optarg; break;
		case O_BACKUP: bfile = optarg; break;
		case O_P11_MODULE: p11.module = optarg; break;
		case O_P11_TOKEN: p11.token = optarg; break;
		case O_P11_PIN: p11.pin_file = optarg; break;
		case O_P11_KEY: p11.key_label = optarg; break;
		case 'h':
			printf("%s\n", BACKUP_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	nargs = argc - optind;
	any_p11 = p11.module != NULL || p11.token != NULL || p11.pin_file != NULL ||
	    p11.key_label != NULL;
	/* the HSM options go with restore, the PIN file with them, and not
	 * with a key file */
	if (any_p11 && (strcmp(sub, "restore") != 0 || p11.pin_file == NULL || keyfile != NULL))
		return usage();
	if (strcmp(sub, "drill") == 0) {
		if (nargs != 0 || out != NULL || keyfile != NULL)
			return usage();
		if (data == NULL)
			data = getenv("PHIVAULT_DATA");
		if (data == NULL || data[0] == '\0')
			return usage();
		return backup_drill_cmd(data, bfile, on.format);
	}
	if (bfile != NULL)
		return usage();
	if (strcmp(sub, "verify") == 0 || strcmp(sub, "restore") == 0) {
		if (nargs != 1 || out != NULL)
			return usage();
		if (data == NULL)
			data = getenv("PHIVAULT_DATA");
		if (strcmp(sub, "verify") == 0) {
			if (keyfile != NULL)
				return usage();
			return backup_verify_cmd(argv[optind], data, on.format);
		}
		if (data == NULL || data[0] == '\0')
			return usage();
		return backup_restore_cmd(argv[optind], data, keyfile, &p11, on.format);
	}
	if (data != NULL || keyfile != NULL)
		return usage();
	if (strcmp(sub, "create") == 0 ? nargs != 0 :
	    strcmp(sub, "list") == 0 ? nargs != 0 || out != NULL :
	    strcmp(sub, "delete") == 0 ? nargs != 1 || out != NULL : true)
		return usage();
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (strcmp(sub, "create") == 0)
		return backup_create(&ctx, out);
	if (strcmp(sub, "list") == 0)
		return backup_list_cmd(&ctx);
	return backup_delete_cmd(&ctx, argv[optind]);
}
