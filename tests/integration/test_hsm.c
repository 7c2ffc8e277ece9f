/*
 * The PKCS#11 seal on a real SoftHSM2 token: the test makes a throwaway
 * token under its own SOFTHSM2_CONF (softhsm2-util --init-token), runs
 * `phivault init --seal pkcs11` (which generates the non-extractable AES
 * sealing key in the token), starts `serve` (which unseals through the token
 * by label), writes and reads a record, and reads GET /v1/sys/hsm as a
 * key_admin. Then the token directory is moved away: the HSM reports itself
 * unavailable with the last error; moved back, the session is re-opened by
 * label without a restart. A PIN file that others can read, or a wrong
 * token, keeps the server from starting; a data directory whose token key is
 * gone cannot be unsealed.
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
#define NAME1 "Hortensia Ultraviolet"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

/* A throwaway SoftHSM2 token of its own under dir: SOFTHSM2_CONF for this
 * process and every server it starts. */
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

static void
write_pin(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	fprintf(f, "%s\n", PIN);
	fclose(f);
	CHECK(chmod(path, mode) == 0);
}

static json_t *
hsm_status(struct h_server *s, const char *token)
{
	struct h_resp r;
	json_t *o;

	h_req(s, "GET", "/v1/sys/hsm", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	o = json_incref(r.json);
	h_resp_free(&r);
	return o;
}

static bool
has_mech(json_t *o, const char *name)
{
	json_t *m = json_object_get(o, "mechanisms"), *v;
	size_t i;

	json_array_foreach(m, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char parent[512], hsmdir[600], tokendir[700], away[800], pin[700], extra[2048];
	char cmd[4096], *out = NULL, admin[128], clin[128], keyadm[128], id[64], path[900];
	json_t *o;
	const char *otp;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_tmpdir("hsm", parent, sizeof(parent));
	snprintf(hsmdir, sizeof(hsmdir), "%s/softhsm", parent);
	softhsm_setup(hsmdir, "pvtoken", tokendir, sizeof(tokendir));
	snprintf(pin, sizeof(pin), "%s/pin", hsmdir);

	/* a PIN file others may read is refused before anything is made */
	write_pin(pin, 0644);
	snprintf(cmd, sizeof(cmd), "%s init --data %s/refused --seal pkcs11 --pkcs11-token "
	    "pvtoken --pkcs11-pin-file %s 2>&1", h_bin(), parent, pin);
	CHECK(h_run(cmd, &out) != 0);
	CHECK(strstr(out, "accessible by group or others") != NULL);
	free(out);
	/* --seal pkcs11 without the token options: a usage error */
	snprintf(cmd, sizeof(cmd), "%s init --data %s/usage --seal pkcs11 2>&1", h_bin(), parent);
	CHECK(h_run(cmd, &out) == 2);
	free(out);

	write_pin(pin, 0600);
	snprintf(extra, sizeof(extra), "--seal pkcs11 --pkcs11-module "
	    "/usr/lib/softhsm/libsofthsm2.so --pkcs11-token pvtoken --pkcs11-pin-file %s "
	    "--pkcs11-key-label pv-seal", pin);
	h_init(&s, "hsm-data", extra);
	CHECK(json_array_size(json_object_get(s.init, "unseal_shares")) == 0);
	/* the key file seal leaves DIR/unseal.key; this one leaves nothing */
	snprintf(path, sizeof(path), "%s/unseal.key", s.dir);
	CHECK(access(path, F_OK) != 0);
	/* the sealing key is in the token, sensitive and never extractable */
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so "
	    "--token-label pvtoken --login --pin %s -O 2>/dev/null", PIN);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "pv-seal") != NULL);
	CHECK(strstr(out, "never extractable") != NULL);
	free(out);

	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "sealed")));
	h_resp_free(&r);

	otp = json_string_value(json_object_get(s.init, "admin_password"));
	h_login_fresh(&s, "admin", otp, PW_ADMIN, admin, sizeof(admin));
	h_add_user(&s, admin, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_add_user(&s, admin, "kim", "key_admin", PW_USER, keyadm, sizeof(keyadm));

	h_collection_create(&s, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	h_req(&s, "POST", "/v1/collections/patients/records", clin,
	    "{\"name\":\"" NAME1 "\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
	h_req(&s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(r.json, "fields"),
	    "name")), NAME1) == 0);
	h_resp_free(&r);

	/* GET /v1/sys/hsm: keys.manage only (the admin manages users, not keys) */
	h_req(&s, "GET", "/v1/sys/hsm", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	o = hsm_status(&s, keyadm);
	CHECK(json_is_true(json_object_get(o, "configured")));
	CHECK(json_is_true(json_object_get(o, "available")));
	CHECK(strcmp(json_string_value(json_object_get(o, "token_label")), "pvtoken") == 0);
	CHECK(strcmp(json_string_value(json_object_get(o, "key_label")), "pv-seal") == 0);
	CHECK(strcmp(json_string_value(json_object_get(o, "module")),
	    "/usr/lib/softhsm/libsofthsm2.so") == 0);
	CHECK(has_mech(o, "CKM_AES_GCM"));
	CHECK(has_mech(o, "CKM_AES_KEY_WRAP_KWP"));
	CHECK(json_is_null(json_object_get(o, "last_error")));
	json_decref(o);

	/* the token goes away: the HSM says so, with the error; the data keeps
	 * opening (the root key was unsealed at start) */
	snprintf(away, sizeof(away), "%s/tokens-away", hsmdir);
	CHECK(rename(tokendir, away) == 0);
	o = hsm_status(&s, keyadm);
	CHECK(json_is_false(json_object_get(o, "available")));
	CHECK(json_string_value(json_object_get(o, "last_error")) != NULL);
	CHECK(json_string_value(json_object_get(o, "last_error_at")) != NULL);
	json_decref(o);
	/* ... and comes back: re-opened by label, no restart */
	CHECK(rename(away, tokendir) == 0);
	o = hsm_status(&s, keyadm);
	CHECK(json_is_true(json_object_get(o, "available")));
	CHECK(json_string_value(json_object_get(o, "last_error")) != NULL);
	json_decref(o);
	h_req(&s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(h_stop(&s) == 0);

	/* a restart unseals through the token again and reads the record */
	h_start(&s, "--dev");
	h_login(&s, "clara", PW_USER, clin, sizeof(clin));
	h_req(&s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(h_stop(&s) == 0);

	/* without the token the vault does not start: it cannot be unsealed */
	CHECK(rename(tokendir, away) == 0);
	CHECK(h_start_expect_exit(&s, "--dev") != 0);
	CHECK(rename(away, tokendir) == 0);
	/* a PIN file that became readable by others: refused at start */
	CHECK(chmod(pin, 0640) == 0);
	CHECK(h_start_expect_exit(&s, "--dev") != 0);
	CHECK(chmod(pin, 0600) == 0);
	h_start(&s, "--dev");
	CHECK(h_stop(&s) == 0);

	json_decref(s.init);
	h_done("hsm");
	return 0;
}
