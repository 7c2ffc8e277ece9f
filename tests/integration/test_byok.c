/*
 * BYOK on the real binary: a key_admin fetches phivault's RSA-3072 import
 * key (GET /v1/keys/import-key), wraps 32 random bytes to it with the
 * openssl CLI (RSA-OAEP, SHA-256, MGF1-SHA-256: an independent
 * implementation), and imports them as the next version of the patients
 * collection key (POST /v1/keys/{name}/import). A blob with one byte
 * flipped is refused 400 and changes nothing; the good one makes v2 active:
 * the next record is wrapped under v2, which the test proves by opening
 * that record's wrapped DEK itself with the bytes it imported (AES-256-GCM,
 * the AAD of docs/internals/keys.md); older records still read, also after
 * a restart; the audit trail has key.import with the version, denied and
 * allowed, and never the key bytes.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "crypto/crypto.h"
#include "util/util.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

static void
write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	CHECK(fwrite(buf, 1, len, f) == len);
	fclose(f);
}

static size_t
read_file(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	CHECK(f != NULL);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void
create_record(struct h_server *s, const char *tok, const char *name, char *id, size_t len)
{
	char body[256];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	h_req(s, "POST", "/v1/collections/patients/records", tok, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, len, "%s", json_string_value(json_object_get(r.json, "id")));
	h_resp_free(&r);
}

static void
read_record(struct h_server *s, const char *tok, const char *id, const char *want)
{
	char path[256];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
	h_req(s, "GET", path, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(r.json, "fields"),
	    "name")), want) == 0);
	h_resp_free(&r);
}

static char *
sql(struct h_server *s, const char *q)
{
	char cmd[2048], *out = NULL;

	snprintf(cmd, sizeof(cmd), "sqlite3 %s/phivault.db \"%s\"", s->dir, q);
	CHECK(h_run(cmd, &out) == 0);
	return out;
}

static void
post_import(struct h_server *s, const char *tok, const char *key, const uint8_t *blob,
    size_t len, struct h_resp *r)
{
	char path[256], *b64 = malloc(util_b64_len(len) + 1), *body;

	CHECK(b64 != NULL);
	util_b64_encode(blob, len, b64);
	body = malloc(strlen(b64) + 32);
	CHECK(body != NULL);
	sprintf(body, "{\"wrapped_key\":\"%s\"}", b64);
	snprintf(path, sizeof(path), "/v1/keys/%s/import", key);
	h_req(s, "POST", path, tok, body, NULL, r);
	free(body);
	free(b64);
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[128], clin[128], keyadm[128], id1[64], id2[64], q[512], cmd[4096];
	char pem_path[700], key_path[700], wrapped_path[700], *out = NULL, hexkey[65];
	uint8_t key[32], wrapped[1024], bad[1024], wdek[256], dek[32];
	size_t wlen, i;
	const char *pem;
	const char *aad = "phivault:dek:collection:patients:2";

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_init(&s, "byok", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", json_string_value(json_object_get(s.init, "admin_password")),
	    PW_ADMIN, admin, sizeof(admin));
	h_add_user(&s, admin, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_add_user(&s, admin, "kim", "key_admin", PW_USER, keyadm, sizeof(keyadm));
	h_collection_create(&s, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	create_record(&s, clin, "Before Import", id1, sizeof(id1));

	/* the import key: keys.manage only */
	h_req(&s, "GET", "/v1/keys/import-key", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/keys/import-key", keyadm, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	pem = json_string_value(json_object_get(r.json, "public_key_pem"));
	CHECK(pem != NULL && strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	snprintf(pem_path, sizeof(pem_path), "%s/../import.pem", s.dir);
	write_file(pem_path, pem, strlen(pem));
	h_resp_free(&r);
	/* the same key on a second call (made once) */
	h_req(&s, "GET", "/v1/keys/import-key", keyadm, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		uint8_t again[2048];
		size_t n = read_file(pem_path, again, sizeof(again));

		CHECK(strlen(json_string_value(json_object_get(r.json, "public_key_pem"))) == n);
		CHECK(memcmp(json_string_value(json_object_get(r.json, "public_key_pem")), again,
		    n) == 0);
	}
	h_resp_free(&r);
	snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -in %s -noout -text | head -1", pem_path);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "3072 bit") != NULL);
	free(out);

	/* the customer's key, wrapped by openssl */
	CHECK(crypto_random(key, sizeof(key)) == PV_OK);
	snprintf(key_path, sizeof(key_path), "%s/../customer.key", s.dir);
	snprintf(wrapped_path, sizeof(wrapped_path), "%s/../customer.wrapped", s.dir);
	write_file(key_path, key, sizeof(key));
	snprintf(cmd, sizeof(cmd), "openssl pkeyutl -encrypt -pubin -inkey %s -pkeyopt "
	    "rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 "
	    "-in %s -out %s 2>&1", pem_path, key_path, wrapped_path);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	wlen = read_file(wrapped_path, wrapped, sizeof(wrapped));
	CHECK(wlen == 384);

	/* one byte flipped: refused, nothing changed */
	memcpy(bad, wrapped, wlen);
	bad[200] ^= 0x01;
	post_import(&s, keyadm, "collection:patients", bad, wlen, &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);
	out = sql(&s, "select max(version) from kek where name='collection:patients'");
	CHECK(strcmp(out, "1\n") == 0);
	free(out);
	/* not base64, a key that does not exist, the admin: refused */
	h_req(&s, "POST", "/v1/keys/collection:patients/import", keyadm,
	    "{\"wrapped_key\":\"@@@\"}", NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	post_import(&s, keyadm, "collection:nosuch", wrapped, wlen, &r);
	CHECK_STATUS(&r, 404);
	h_resp_free(&r);
	post_import(&s, admin, "collection:patients", wrapped, wlen, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);

	/* the real one: v2, active */
	post_import(&s, keyadm, "collection:patients", wrapped, wlen, &r);
	CHECK_STATUS(&r, 201);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "state")), "active") == 0);
	h_resp_free(&r);
	out = sql(&s, "select version || ':' || state from kek where name='collection:patients' "
	    "order by version");
	CHECK(strcmp(out, "1:1\n2:0\n") == 0);   /* v1 retired (1), v2 active (0) */
	free(out);

	/* the next record is under v2, and its DEK opens with the imported bytes */
	create_record(&s, clin, "After Import", id2, sizeof(id2));
	snprintf(q, sizeof(q), "select kek_version from record_keys where id='%s'", id2);
	out = sql(&s, q);
	CHECK(strcmp(out, "2\n") == 0);
	free(out);
	snprintf(q, sizeof(q), "select hex(wrapped_dek) from record_keys where id='%s'", id2);
	out = sql(&s, q);
	CHECK(strlen(out) == 2 * 60 + 1);
	for (i = 0; i < 60; i++)
		CHECK(sscanf(out + 2 * i, "%2hhx", &wdek[i]) == 1);
	free(out);
	CHECK(crypto_gcmbox_open(key, (const uint8_t *)aad, strlen(aad), wdek, 60, dek) == PV_OK);
	/* and not with other bytes */
	key[0] ^= 1;
	CHECK(crypto_gcmbox_open(key, (const uint8_t *)aad, strlen(aad), wdek, 60, dek) != PV_OK);
	key[0] ^= 1;
	snprintf(q, sizeof(q), "select kek_version from record_keys where id='%s'", id1);
	out = sql(&s, q);
	CHECK(strcmp(out, "1\n") == 0);
	free(out);
	read_record(&s, clin, id1, "Before Import");
	read_record(&s, clin, id2, "After Import");

	/* audited with name and version, refused and done; never the key */
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl | grep key.import",
	    h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"bad_wrapped_key\"") != NULL);
	CHECK(strstr(out, "\"key:collection:patients\"") != NULL);
	CHECK(strstr(out, "\"version\":2") != NULL);
	for (i = 0; i < 32; i++)
		sprintf(hexkey + 2 * i, "%02x", key[i]);
	CHECK(strstr(out, hexkey) == NULL);
	free(out);

	/* after a restart the imported version still opens what it wrapped */
	CHECK(h_stop(&s) == 0);
	h_start(&s, "--dev");
	h_login(&s, "clara", PW_USER, clin, sizeof(clin));
	read_record(&s, clin, id2, "After Import");
	read_record(&s, clin, id1, "Before Import");
	CHECK(h_stop(&s) == 0);
	crypto_wipe(key, sizeof(key));
	unlink(key_path);
	json_decref(s.init);
	h_done("byok");
	return 0;
}
