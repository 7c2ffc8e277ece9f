/*
 * Return and destruction of PHI at contract end (issue 19 item 3) on the
 * real binary: a vault with two collections (one with a subject field),
 * three patients (one shredded before the contract ends), a token, a
 * secret and a backup, written and read over HTTPS. Then, the server
 * stopped:
 *  - export while the server runs is refused (the data directory's lock);
 *  - `offboard export` to an X25519 and to an RSA public key (openssl
 *    made both): no value written is in any exported file; `offboard
 *    open` with the private key gives back exactly the records read over
 *    HTTPS, the shredded patient's not among them; a flipped byte in an
 *    export file, a changed manifest, or another recipient's key are
 *    refused and leave nothing decrypted;
 *  - destroy with a wrong confirmation, with a wrong key file, or while a
 *    patient is under legal hold, changes nothing (the server restarted
 *    reads every record);
 *  - destroy: the certificate says nothing decrypts (records, secrets,
 *    the backup), `verify-certificate` accepts it under the vault's audit
 *    key and refuses it once one number in it changed;
 *  - the server restarted: every record read is a clear 410 (not a 500),
 *    the secret and the token are gone, `backup verify` says
 *    unrestorable, the trail verifies and holds offboard.export and
 *    offboard.destroy.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define PAT_A "PAT-A-Ozymandias-3141"
#define PAT_B "PAT-B-Philomena-2718"
#define PAT_C "PAT-C-Gone-Quixote-1618"
#define SECRET_VALUE "db-pass-Wombat-Tangerine-77"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[256], clin[256], dev[256], olga[256], aud[256];
};

struct rec {
	char coll[16];
	char id[64];
	char *fields;        /* canonical JSON as read over HTTPS */
};

#define N_RECS 8
static struct rec recs[N_RECS];
static size_t nrecs;
static char token[64];
static char backup_file[1200];

static void
create(struct h_server *s, struct people *p, const char *coll, const char *body)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/%s/records", coll);
	h_req(s, "POST", path, p->clin, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(nrecs < N_RECS);
	snprintf(recs[nrecs].coll, sizeof(recs[nrecs].coll), "%s", coll);
	snprintf(recs[nrecs].id, sizeof(recs[nrecs].id), "%s", h_jstr(r.json, "id"));
	nrecs++;
	h_resp_free(&r);
}

static long
read_rec(struct h_server *s, struct people *p, size_t i, char **fields, char *code, size_t cl)
{
	char path[160];
	struct h_resp r;
	long st;

	snprintf(path, sizeof(path), "/v1/collections/%s/records/%s", recs[i].coll, recs[i].id);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	st = r.status;
	if (st == 200 && fields != NULL) {
		*fields = json_dumps(json_object_get(r.json, "fields"), JSON_COMPACT | JSON_SORT_KEYS);
		CHECK(*fields != NULL);
	}
	if (st != 200 && code != NULL)
		snprintf(code, cl, "%s", h_err_code(&r) ? h_err_code(&r) : "");
	h_resp_free(&r);
	return st;
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
setup(struct h_server *s, struct people *p, const char *tmp)
{
	struct h_resp r;
	char job[64], id[64];

	h_collection_create(s, p->admin,
	    "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"searchable\":true},"
	    "{\"name\":\"note\",\"type\":\"string\"}]}");
	h_collection_create(s, p->admin,
	    "{\"name\":\"labs\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"test\",\"type\":\"string\"},"
	    "{\"name\":\"ssn\",\"type\":\"ssn\"}]}");
	create(s, p, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA1\",\"note\":\"Zanzibar-fever\"}");
	create(s, p, "visits", "{\"patient\":\"" PAT_B "\",\"mrn\":\"MRNB1\",\"note\":\"Quokka-rash\"}");
	create(s, p, "visits", "{\"patient\":\"" PAT_A "\",\"mrn\":\"MRNA2\",\"note\":\"Yodel-cough\"}");
	create(s, p, "labs", "{\"test\":\"Xylophone-panel\",\"ssn\":\"123-45-6789\"}");
	create(s, p, "labs", "{\"test\":\"Walrus-titer\",\"ssn\":\"234-56-7891\"}");
	/* patient C: shredded before the contract ends, so not exported */
	h_req(s, "POST", "/v1/collections/visits/records", p->clin,
	    "{\"patient\":\"" PAT_C "\",\"mrn\":\"MRNC1\",\"note\":\"Vanished-note\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	h_expect(s, "DELETE", "/v1/subjects/" PAT_C, p->olga, NULL, NULL, 200, NULL);
	for (size_t i = 0; i < nrecs; i++)
		CHECK(read_rec(s, p, i, &recs[i].fields, NULL, 0) == 200);
	h_req(s, "POST", "/v1/tokenize", p->clin,
	    "{\"collection\":\"labs\",\"field\":\"ssn\",\"value\":\"123-45-6789\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(token, sizeof(token), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	h_expect(s, "PUT", "/v1/secrets/apps/db", p->dev, "{\"value\":\"" SECRET_VALUE "\"}", NULL,
	    201, NULL);
	h_req(s, "POST", "/v1/sys/backups", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	snprintf(id, sizeof(id), "%s", h_jstr(r.json, "backup"));
	h_resp_free(&r);
	wait_job(s, p->admin, job);
	snprintf(backup_file, sizeof(backup_file), "%s/backups/%s.pvbak", s->dir, id);
	/* the vault's audit key, as an outside verifier keeps it */
	h_req(s, "GET", "/v1/audit/public-key", p->aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	{
		char path[700];
		FILE *f;

		snprintf(path, sizeof(path), "%s/audit.pub", tmp);
		CHECK((f = fopen(path, "w")) != NULL);
		fputs(r.body, f);
		fclose(f);
	}
	h_resp_free(&r);
}

static int
run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
run(char **out, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return h_run(cmd, out);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	CHECK(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	return buf;
}

/* PLAIN/<c>.jsonl holds exactly the records of c read over HTTPS. */
static void
compare_plain(const char *plain)
{
	const char *colls[] = { "visits", "labs" };

	for (size_t c = 0; c < 2; c++) {
		char path[800];
		char *text, *line, *save = NULL;
		size_t lines = 0, want = 0;

		snprintf(path, sizeof(path), "%s/%s.jsonl", plain, colls[c]);
		CHECK((text = slurp(path)) != NULL);
		CHECK(strstr(text, "Vanished-note") == NULL);
		for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			json_error_t je;
			json_t *o = json_loads(line, 0, &je);
			bool found = false;
			char *f;

			CHECK(o != NULL);
			f = json_dumps(json_object_get(o, "fields"), JSON_COMPACT | JSON_SORT_KEYS);
			for (size_t i = 0; i < nrecs; i++)
				if (strcmp(recs[i].id, h_jstr(o, "id")) == 0) {
					CHECK(strcmp(recs[i].coll, colls[c]) == 0);
					CHECK(strcmp(recs[i].fields, f) == 0);
					found = true;
				}
			CHECK(found);
			free(f);
			json_decref(o);
			lines++;
		}
		for (size_t i = 0; i < nrecs; i++)
			want += strcmp(recs[i].coll, colls[c]) == 0;
		CHECK(lines == want);
		free(text);
	}
}

/* No value written over HTTPS appears in any file of dir. */
static void
no_plaintext(const char *dir)
{
	const char *vals[] = { PAT_A, "Zanzibar-fever", "Quokka-rash", "Xylophone-panel",
		"123-45-6789", "MRNA1", SECRET_VALUE };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		CHECK(run(NULL, "grep -rqF -- '%s' %s", vals[i], dir) == 1);
}

static void
test_export(struct h_server *s, const char *tmp)
{
	char *out = NULL, path[700];
	const char *kinds[] = { "x25519", "rsa" };

	CHECK(run(NULL, "openssl genpkey -algorithm X25519 -out %s/x25519.pem 2>/dev/null && "
	    "openssl pkey -in %s/x25519.pem -pubout -out %s/x25519.pub 2>/dev/null", tmp, tmp,
	    tmp) == 0);
	CHECK(run(NULL, "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "
	    "%s/rsa.pem 2>/dev/null && openssl pkey -in %s/rsa.pem -pubout -out %s/rsa.pub "
	    "2>/dev/null", tmp, tmp, tmp) == 0);
	/* a key that is not a recipient: refused, nothing written */
	CHECK(run(&out, "%s offboard export --data %s --out %s/out-bad --recipient-key %s/audit.pub "
	    "--key-file %s/unseal.key 2>&1", h_bin(), s->dir, tmp, tmp, s->dir) == 2);
	CHECK(strstr(out, "X25519 or RSA") != NULL);
	free(out);
	/* without the seal's authority: refused */
	CHECK(run(&out, "%s offboard export --data %s --out %s/out-na --recipient-key %s/x25519.pub "
	    "2>&1", h_bin(), s->dir, tmp, tmp) == 3);
	CHECK(strstr(out, "--key-file") != NULL);
	free(out);
	for (size_t k = 0; k < 2; k++) {
		CHECK(run(&out, "%s offboard export --data %s --out %s/out-%s --recipient-key "
		    "%s/%s.pub --key-file %s/unseal.key 2>&1", h_bin(), s->dir, tmp, kinds[k], tmp,
		    kinds[k], s->dir) == 0);
		CHECK(strstr(out, "2 collections, 5 records") != NULL);
		CHECK(strstr(out, "1 shredded subjects") != NULL);
		free(out);
		{
			char d[800];

			snprintf(d, sizeof(d), "%s/out-%s", tmp, kinds[k]);
			no_plaintext(d);
		}
		CHECK(run(&out, "%s offboard open --in %s/out-%s --key %s/%s.pem --out %s/plain-%s "
		    "--public-key %s/audit.pub 2>&1", h_bin(), tmp, kinds[k], tmp, kinds[k], tmp,
		    kinds[k], tmp) == 0);
		CHECK(strstr(out, "2 files, 5 records") != NULL);
		free(out);
		{
			char d[800];

			snprintf(d, sizeof(d), "%s/plain-%s", tmp, kinds[k]);
			compare_plain(d);
		}
	}
	/* another recipient's key */
	CHECK(run(&out, "%s offboard open --in %s/out-x25519 --key %s/rsa.pem --out %s/plain-wrong "
	    "2>&1", h_bin(), tmp, tmp, tmp) == 1);
	free(out);
	CHECK(run(NULL, "test -z \"$(ls -A %s/plain-wrong)\"", tmp) == 0);
	/* one byte of an export file flipped (the hash no longer matches) */
	CHECK(run(NULL, "cp -r %s/out-x25519 %s/out-t1", tmp, tmp) == 0);
	snprintf(path, sizeof(path), "%s/out-t1/visits.jsonl.pvenc", tmp);
	h_flip_byte(path, 200);
	CHECK(run(&out, "%s offboard open --in %s/out-t1 --key %s/x25519.pem --out %s/plain-t1 "
	    "2>&1", h_bin(), tmp, tmp, tmp) == 1);
	CHECK(strstr(out, "visits.jsonl.pvenc") != NULL);
	free(out);
	CHECK(run(NULL, "test -z \"$(ls -A %s/plain-t1)\"", tmp) == 0);
	/* the manifest changed (a record count): the signature fails */
	CHECK(run(NULL, "cp -r %s/out-rsa %s/out-t2 && sed -i 's/\"records\": 3/\"records\": 2/' "
	    "%s/out-t2/manifest.json && ! cmp -s %s/out-rsa/manifest.json %s/out-t2/manifest.json",
	    tmp, tmp, tmp, tmp, tmp) == 0);
	CHECK(run(&out, "%s offboard open --in %s/out-t2 --key %s/rsa.pem --out %s/plain-t2 "
	    "--public-key %s/audit.pub 2>&1", h_bin(), tmp, tmp, tmp, tmp) == 1);
	CHECK(strstr(out, "signature") != NULL);
	free(out);
}

static void
test_destroy_refused(struct h_server *s, struct people *p, const char *tmp, const char *id)
{
	char *out = NULL;

	CHECK(run(&out, "%s offboard destroy --data %s --confirm 'destroy pv-0000000000000000' "
	    "--key-file %s/unseal.key 2>&1", h_bin(), s->dir, s->dir) == 2);
	CHECK(strstr(out, id) != NULL);   /* it names the phrase to type */
	free(out);
	CHECK(run(NULL, "printf '%%064d\\n' 7 > %s/wrong.key", tmp) == 0);
	CHECK(run(&out, "%s offboard destroy --data %s --confirm 'destroy %s' --key-file "
	    "%s/wrong.key 2>&1", h_bin(), s->dir, id, tmp) == 3);
	CHECK(strstr(out, "seal_authority_required") != NULL);
	free(out);
	/* nothing changed */
	h_start(s, "--dev");
	h_login(s, "admin", PW_ADMIN, p->admin, sizeof(p->admin));
	h_login(s, "clara", PW_USER, p->clin, sizeof(p->clin));
	for (size_t i = 0; i < nrecs; i++) {
		char *f = NULL;

		CHECK(read_rec(s, p, i, &f, NULL, 0) == 200);
		CHECK(strcmp(f, recs[i].fields) == 0);
		free(f);
	}
	/* a patient under legal hold: the destruction is refused, nothing destroyed */
	h_login(s, "olga", PW_USER, p->olga, sizeof(p->olga));
	h_expect(s, "POST", "/v1/subjects/" PAT_B "/hold", p->olga,
	    "{\"reason\":\"litigation 2026-9\"}", NULL, 200, NULL);
	CHECK(h_stop(s) == 0);
	CHECK(run(&out, "%s offboard destroy --data %s --confirm 'destroy %s' --key-file "
	    "%s/unseal.key 2>&1", h_bin(), s->dir, id, s->dir) == 1);
	CHECK(strstr(out, "legal hold") != NULL);
	free(out);
	h_start(s, "--dev");
	h_login(s, "clara", PW_USER, p->clin, sizeof(p->clin));
	h_login(s, "olga", PW_USER, p->olga, sizeof(p->olga));
	for (size_t i = 0; i < nrecs; i++)
		CHECK(read_rec(s, p, i, NULL, NULL, 0) == 200);
	h_expect(s, "DELETE", "/v1/subjects/" PAT_B "/hold", p->olga, NULL, NULL, 200, NULL);
	CHECK(h_stop(s) == 0);
}

static void
test_destroy(struct h_server *s, const char *tmp, const char *id)
{
	char *out = NULL;

	CHECK(run(&out, "%s offboard destroy --data %s --confirm 'destroy %s' --key-file "
	    "%s/unseal.key --backups %s/backups --certificate %s/cert.json 2>&1", h_bin(), s->dir,
	    id, s->dir, s->dir, tmp) == 0);
	CHECK(strstr(out, "nothing decrypts") != NULL);
	CHECK(strstr(out, "0/1 backups restorable") != NULL);
	CHECK(strstr(out, "0/2 records open") != NULL);
	free(out);
	CHECK(run(&out, "%s offboard verify-certificate %s/cert.json --public-key %s/audit.pub 2>&1",
	    h_bin(), tmp, tmp) == 0);
	CHECK(strstr(out, id) != NULL);
	free(out);
	CHECK(run(NULL, "%s offboard verify-certificate %s/cert.json --data %s", h_bin(), tmp,
	    s->dir) == 0);
	/* one number changed: refused */
	CHECK(run(NULL, "sed 's/\"subjects\": 2/\"subjects\": 1/' %s/cert.json > %s/cert-t.json && "
	    "! cmp -s %s/cert.json %s/cert-t.json", tmp, tmp, tmp, tmp) == 0);
	CHECK(run(&out, "%s offboard verify-certificate %s/cert-t.json --public-key %s/audit.pub "
	    "2>&1", h_bin(), tmp, tmp) == 1);
	CHECK(strstr(out, "signature") != NULL);
	free(out);
	/* no PHI in the certificate */
	CHECK(run(NULL, "grep -qF -- '" PAT_A "' %s/cert.json", tmp) == 1);
	/* the backup cannot be restored any more */
	CHECK(run(&out, "%s backup verify %s --data %s 2>&1", h_bin(), backup_file, s->dir) == 1);
	CHECK(strstr(out, "unrestorable") != NULL);
	free(out);
}

static void
test_after(struct h_server *s, struct people *p)
{
	char body[128];
	struct h_resp r;

	h_start(s, "--dev");
	h_login(s, "admin", PW_ADMIN, p->admin, sizeof(p->admin));
	h_login(s, "clara", PW_USER, p->clin, sizeof(p->clin));
	h_login(s, "dev", PW_USER, p->dev, sizeof(p->dev));
	for (size_t i = 0; i < nrecs; i++) {
		char code[64] = "";
		long st = read_rec(s, p, i, NULL, code, sizeof(code));

		CHECK(st == 410);
		CHECK(strcmp(code, "key_revoked") == 0 || strcmp(code, "subject_shredded") == 0);
	}
	h_req(s, "GET", "/v1/secrets/apps/db", p->dev, NULL, NULL, &r);
	CHECK(r.status >= 400 && r.status < 500);
	CHECK(strstr(r.body, SECRET_VALUE) == NULL);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
	h_req(s, "POST", "/v1/detokenize", p->clin, body, TREAT, &r);
	CHECK(r.status >= 400 && r.status < 500);
	h_resp_free(&r);
	CHECK(h_stop(s) == 0);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char tmp[600], id[64], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_tmpdir("offboard-keys", tmp, sizeof(tmp));
	h_init(&s, "offboard", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_expect(&s, "POST", "/v1/roles", p.admin,
	    "{\"name\":\"secrets_admin\",\"permissions\":[\"secrets.read:*\",\"secrets.write:*\"]}",
	    NULL, 201, NULL);
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	h_add_user(&s, p.admin, "dev", "secrets_admin", PW_USER, p.dev, sizeof(p.dev));
	h_add_officer(&s, p.admin, "olga", PW_USER, p.olga, sizeof(p.olga));
	h_add_user(&s, p.admin, "audra", "auditor", PW_USER, p.aud, sizeof(p.aud));
	setup(&s, &p, tmp);
	/* online: refused, the server holds the data directory */
	CHECK(run(&out, "%s offboard export --data %s --out %s/out-online --recipient-key "
	    "%s/audit.pub --key-file %s/unseal.key 2>&1", h_bin(), s.dir, tmp, tmp, s.dir) == 3);
	CHECK(strstr(out, "stop the server") != NULL);
	free(out);
	CHECK(h_stop(&s) == 0);
	CHECK(run(&out, "%s offboard id --data %s", h_bin(), s.dir) == 0);
	CHECK(sscanf(out, "%63s", id) == 1 && strncmp(id, "pv-", 3) == 0);
	free(out);
	test_export(&s, tmp);
	test_destroy_refused(&s, &p, tmp, id);
	test_destroy(&s, tmp, id);
	test_after(&s, &p);
	CHECK(run(&out, "%s audit verify --data %s 2>&1", h_bin(), s.dir) == 0);
	free(out);
	CHECK(run(&out, "%s audit export --data %s --format jsonl", h_bin(), s.dir) == 0);
	CHECK(strstr(out, "\"offboard.export\"") != NULL);
	CHECK(strstr(out, "\"offboard.destroy\"") != NULL);
	CHECK(strstr(out, "seal_authority_required") != NULL);
	CHECK(strstr(out, PAT_A) == NULL && strstr(out, "Zanzibar") == NULL);
	free(out);
	for (size_t i = 0; i < nrecs; i++)
		free(recs[i].fields);
	json_decref(s.init);
	h_done("offboard");
	return 0;
}
