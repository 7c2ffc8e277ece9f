/*
 * Backups of a vault sealed by an HSM, with HSM-held and doubly encrypted
 * keys (issue 11, s6), on a throwaway SoftHSM2 token (its own
 * SOFTHSM2_CONF, made and removed by this test) and the real binary:
 *  - a vault `init --seal pkcs11` with a collection whose KEK is a token
 *    object and a doubly encrypted one (outer key in the token), and KEK
 *    "backup" itself moved into the token and doubly encrypted (policy and
 *    rotation): the backup's keyring bundle must carry each version's
 *    provider and the outer key's versions, or nothing opens;
 *  - `backup verify FILE --data DIR` passes and names the token and the
 *    HSM-held versions;
 *  - `backup restore FILE --data NEWDIR --pkcs11-pin-file PIN` (the token
 *    and key labels from the manifest) restores into a new directory that
 *    serves: every record of both collections reads back with its value;
 *  - with the token absent the restore fails with hsm_unavailable naming
 *    the token (not an integrity error) and leaves NEWDIR empty; without a
 *    PIN file it says to give one.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define PIN "815243"
#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define N_REC 4

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };
static const char *const COLLS[] = { "hsmpat", "dbl" };
static char ids[2][N_REC][64];

static void
softhsm_setup(const char *dir, const char *label, char *tokendir, size_t len)
{
	char path[700], cmd[2048], *out = NULL;
	FILE *f;

	snprintf(tokendir, len, "%s/tokens", dir);
	CHECK(mkdir(dir, 0700) == 0 || access(dir, F_OK) == 0);
	CHECK(mkdir(tokendir, 0700) == 0);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
	    tokendir);
	fclose(f);
	CHECK(setenv("SOFTHSM2_CONF", path, 1) == 0);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label %s --pin %s "
	    "--so-pin 97531 2>&1", label, PIN);
	if (h_run(cmd, &out) != 0)
		fprintf(stderr, "softhsm2-util: %s\n", out ? out : "");
	CHECK(out != NULL && strstr(out, "initialized") != NULL);
	free(out);
}

static int
run(const char *cmd, char **out)
{
	int code = h_run(cmd, out);

	if (out != NULL && *out != NULL && code != 0)
		fprintf(stderr, "[%s] exit %d: %s\n", cmd, code, *out);
	return code;
}

static void
wait_job(struct h_server *s, const char *tok, const char *job)
{
	char path[128], state[16] = "";

	snprintf(path, sizeof(path), "/v1/jobs/%s", job);
	for (int i = 0; i < 4000; i++) {
		struct h_resp r;

		h_req(s, "GET", path, tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(state, sizeof(state), "%s", h_jstr(r.json, "state"));
		h_resp_free(&r);
		if (strcmp(state, "done") == 0)
			return;
		CHECK(strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0);
		h_pause_ms(5);
	}
	CHECK(!"job did not end");
}

static void
backup_now(struct h_server *s, const char *tok, char id[64])
{
	char job[64];
	struct h_resp r;

	h_req(s, "POST", "/v1/sys/backups", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	snprintf(id, 64, "%s", h_jstr(r.json, "backup"));
	h_resp_free(&r);
	wait_job(s, tok, job);
}

/* the provider of version v of key name in GET /v1/keys ("" if none) */
static void
provider_of(struct h_server *s, const char *tok, const char *name, int v, char prov[16])
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;

	prov[0] = '\0';
	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), name) != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver)
			if (json_integer_value(json_object_get(ver, "version")) == v)
				snprintf(prov, 16, "%s", h_jstr(ver, "provider"));
	}
	h_resp_free(&r);
}

static void
read_all(struct h_server *s, const char *tok)
{
	for (int c = 0; c < 2; c++) {
		for (int i = 0; i < N_REC; i++) {
			char path[256], want[64];
			struct h_resp r;

			snprintf(path, sizeof(path), "/v1/collections/%s/records/%s", COLLS[c],
			    ids[c][i]);
			h_req(s, "GET", path, tok, NULL, TREAT, &r);
			CHECK_STATUS(&r, 200);
			snprintf(want, sizeof(want), "Hsm Backup %s %d", COLLS[c], i);
			CHECK(strcmp(h_jstr(json_object_get(r.json, "fields"), "name"), want) == 0);
			h_resp_free(&r);
		}
	}
}

int
main(void)
{
	struct h_server s, r2;
	char admin[128], kay[128], clin[128], tok[128], prov[16], bkp[64], file[900];
	char parent[512], hsmdir[600], tokendir[700], away[800], pin[700], extra[2048];
	char rparent[600], cmd[4096], *out = NULL;
	struct h_resp r;
	FILE *f;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_tmpdir("backup_hsm", parent, sizeof(parent));
	snprintf(hsmdir, sizeof(hsmdir), "%s/softhsm", parent);
	softhsm_setup(hsmdir, "pvtoken", tokendir, sizeof(tokendir));
	snprintf(away, sizeof(away), "%s/tokens-away", hsmdir);
	snprintf(pin, sizeof(pin), "%s/pin", hsmdir);
	f = fopen(pin, "w");
	CHECK(f != NULL);
	fprintf(f, "%s\n", PIN);
	fclose(f);
	CHECK(chmod(pin, 0600) == 0);
	snprintf(extra, sizeof(extra), "--seal pkcs11 --pkcs11-module " MODULE
	    " --pkcs11-token pvtoken --pkcs11-pin-file %s --pkcs11-key-label pv-seal", pin);
	h_init(&s, "backup-hsm-data", extra);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_add_user(&s, admin, "kim", "key_admin", PW_USER, kay, sizeof(kay));

	/* a collection in the token, a doubly encrypted one (outer key in the token) */
	h_req(&s, "POST", "/v1/collections", admin, "{\"name\":\"hsmpat\",\"region\":\"local\","
	    "\"kek_provider\":\"pkcs11\",\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	h_req(&s, "POST", "/v1/collections", admin, "{\"name\":\"dbl\",\"region\":\"local\","
	    "\"double_encryption\":true,\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	provider_of(&s, kay, "collection:hsmpat", 1, prov);
	CHECK(strcmp(prov, "pkcs11") == 0);
	provider_of(&s, kay, "outer:collection:dbl", 1, prov);
	CHECK(strcmp(prov, "pkcs11") == 0);
	for (int c = 0; c < 2; c++) {
		for (int i = 0; i < N_REC; i++) {
			char path[128], body[128];

			snprintf(path, sizeof(path), "/v1/collections/%s/records", COLLS[c]);
			snprintf(body, sizeof(body), "{\"name\":\"Hsm Backup %s %d\"}", COLLS[c], i);
			h_req(&s, "POST", path, clin, body, NULL, &r);
			CHECK_STATUS(&r, 201);
			snprintf(ids[c][i], 64, "%s", h_jstr(r.json, "id"));
			h_resp_free(&r);
		}
	}
	read_all(&s, clin);

	/* KEK backup too: the first backup makes v1 (soft); the policy moves
	 * the next version into the token, doubly encrypted (outer soft) */
	backup_now(&s, admin, bkp);
	h_expect(&s, "PUT", "/v1/keys/backup/policy", kay,
	    "{\"provider\":\"pkcs11\",\"double_encryption\":true}", NULL, 200, NULL);
	h_expect(&s, "POST", "/v1/keys/backup/rotate", kay, NULL, NULL, 200, NULL);
	provider_of(&s, kay, "backup", 2, prov);
	CHECK(strcmp(prov, "pkcs11") == 0);
	provider_of(&s, kay, "outer:backup", 2, prov);
	CHECK(strcmp(prov, "soft") == 0);
	backup_now(&s, admin, bkp);
	snprintf(file, sizeof(file), "%s/backups/%s.pvbak", s.dir, bkp);

	/* verify names what the restore needs from the token */
	snprintf(cmd, sizeof(cmd), "%s backup verify %s --data %s --format text 2>&1", h_bin(),
	    file, s.dir);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "restore needs token 'pvtoken'") != NULL);
	CHECK(strstr(out, "collection:hsmpat:1") != NULL);
	CHECK(strstr(out, "outer:collection:dbl:1") != NULL);
	CHECK(strstr(out, "backup:2") != NULL);
	free(out);
	CHECK(h_stop(&s) == 0);

	memset(&r2, 0, sizeof(r2));
	h_tmpdir("backup-hsm-restored", rparent, sizeof(rparent));
	snprintf(r2.dir, sizeof(r2.dir), "%s/data", rparent);
	snprintf(r2.log, sizeof(r2.log), "%s/server.log", rparent);
	snprintf(r2.cacert, sizeof(r2.cacert), "%s/tls/cert.pem", r2.dir);

	/* without a PIN file: told to give one, nothing left behind */
	snprintf(cmd, sizeof(cmd), "%s backup restore %s --data %s < /dev/null 2>&1", h_bin(),
	    file, r2.dir);
	CHECK(run(cmd, &out) != 0);
	CHECK(strstr(out, "--pkcs11-pin-file") != NULL);
	free(out);
	/* the token absent: a clear, stable error naming it, not an integrity error */
	CHECK(rename(tokendir, away) == 0);
	snprintf(cmd, sizeof(cmd), "%s backup restore %s --data %s --pkcs11-pin-file %s 2>&1",
	    h_bin(), file, r2.dir, pin);
	CHECK(run(cmd, &out) == 3);
	CHECK(strstr(out, "hsm_unavailable") != NULL && strstr(out, "'pvtoken'") != NULL);
	CHECK(strstr(out, "integrity") == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s 2>/dev/null)\"", r2.dir);
	CHECK(run(cmd, NULL) == 0);
	CHECK(rename(away, tokendir) == 0);

	/* the same token and its PIN: restored, and it serves every record */
	snprintf(cmd, sizeof(cmd), "%s backup restore %s --data %s --pkcs11-pin-file %s "
	    "--format text 2>&1", h_bin(), file, r2.dir, pin);
	CHECK(run(cmd, &out) == 0);
	CHECK(strstr(out, "audit chain verified") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), r2.dir);
	CHECK(run(cmd, &out) == 0);
	free(out);
	if (getenv("PV_CRACKLIB_DICT") != NULL)
		h_config_set(&r2, "password_dictionary", getenv("PV_CRACKLIB_DICT"));
	h_config_set(&r2, "mfa_required", "off");
	h_start(&r2, "--dev");
	h_login(&r2, "clara", PW_USER, tok, sizeof(tok));
	read_all(&r2, tok);
	CHECK(h_stop(&r2) == 0);

	json_decref(s.init);
	h_done("backup_hsm");
	return 0;
}
