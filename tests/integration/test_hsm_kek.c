/*
 * KEKs held in the HSM and double encryption, on a throwaway SoftHSM2 token
 * (its own SOFTHSM2_CONF, made and removed by this test):
 *  - a collection whose KEK is a token object ("kek_provider":"pkcs11"):
 *    records write and read, the key object is sensitive and never
 *    extractable (C_GetAttributeValue(CKA_VALUE) refused), rotation makes a
 *    new object, re-encryption moves every record, revoking a version
 *    destroys its object (C_DestroyObject) and what it wrapped answers 410;
 *  - soft -> pkcs11: the policy asks for pkcs11, a rotation and a
 *    re-encryption move a collection into the HSM;
 *  - the token removed and restored under load: a writer/reader thread gets
 *    201/200 or 503 hsm_unavailable, never anything else; every acknowledged
 *    write reads back once the token is back, without a restart;
 *  - double encryption: both keys are needed (the HSM absent: 503; the outer
 *    key's version revoked: 410 although the inner one is intact);
 *  - double encryption turned on for an existing collection by a job,
 *    kill -9 in the middle, resumed, every record identical, census 0.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define PIN "815243"
#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define N_LATE 60

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[128], clin[128], kay[128];
};

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

/* ---- the token seen through the PKCS#11 API (as an auditor would) ---- */

enum obj_state { OBJ_ABSENT, OBJ_SENSITIVE, OBJ_READABLE };

/* Is there a secret key labelled `label` in token pvtoken, and does
 * C_GetAttributeValue(CKA_VALUE) give its bytes away? */
static enum obj_state
token_object(const char *label)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16, found = 0, i;
	CK_SESSION_HANDLE sess = 0;
	CK_OBJECT_HANDLE obj;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	uint8_t value[64];
	CK_ATTRIBUTE get = { CKA_VALUE, value, sizeof(value) };
	CK_TOKEN_INFO ti;
	enum obj_state st = OBJ_ABSENT;
	void *dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
	CK_RV rv;

	CHECK(dl != NULL);
	*(void **)(&get_list) = dlsym(dl, "C_GetFunctionList");
	CHECK(get_list != NULL && get_list(&f) == CKR_OK);
	CHECK(f->C_Initialize(NULL) == CKR_OK);
	CHECK(f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK);
	for (i = 0; i < n; i++)
		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, "pvtoken ", 8) == 0)
			break;
	CHECK(i < n);
	CHECK(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &sess) == CKR_OK);
	CHECK(f->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)) == CKR_OK);
	CHECK(f->C_FindObjectsInit(sess, tmpl, 2) == CKR_OK);
	CHECK(f->C_FindObjects(sess, &obj, 1, &found) == CKR_OK);
	(void)f->C_FindObjectsFinal(sess);
	if (found == 1) {
		rv = f->C_GetAttributeValue(sess, obj, &get, 1);
		st = rv == CKR_OK ? OBJ_READABLE : OBJ_SENSITIVE;
		if (rv != CKR_OK)
			CHECK(rv == CKR_ATTRIBUTE_SENSITIVE);
	}
	(void)f->C_Logout(sess);
	(void)f->C_CloseSession(sess);
	(void)f->C_Finalize(NULL);
	dlclose(dl);
	return st;
}

/* ---- helpers ---- */

static void
post(struct h_server *s, const char *tok, const char *path, const char *body, int status,
    const char *code, struct h_resp *out)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, status);
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	if (out != NULL)
		*out = r;
	else
		h_resp_free(&r);
}

/* version v of key `name` in GET /v1/keys: its provider, state and census */
static bool
key_version(struct h_server *s, const char *tok, const char *name, int v, char prov[16],
    char state[32], long long *objects)
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;
	bool found = false;

	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), name) != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver) {
			if (json_integer_value(json_object_get(ver, "version")) != v)
				continue;
			snprintf(prov, 16, "%s", h_jstr(ver, "provider"));
			snprintf(state, 32, "%s", h_jstr(ver, "state"));
			*objects = json_integer_value(json_object_get(ver, "objects"));
			found = true;
		}
	}
	h_resp_free(&r);
	return found;
}

static char *
record_create(struct h_server *s, const char *tok, const char *coll, const char *name,
    char id[64])
{
	char path[256], body[256];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/collections/%s/records", coll);
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, 64, "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	return id;
}

/* GET the record: its status, and (200) whether its name is `name` */
static long
record_read(struct h_server *s, const char *tok, const char *coll, const char *id,
    const char *name, char code[64])
{
	char path[256];
	struct h_resp r;
	long st;

	snprintf(path, sizeof(path), "/v1/collections/%s/records/%s", coll, id);
	h_req(s, "GET", path, tok, NULL, TREAT, &r);
	st = r.status;
	if (code != NULL)
		snprintf(code, 64, "%s", st == 200 ? "" : h_err_code(&r));
	if (st == 200 && name != NULL)
		CHECK(strcmp(json_string_value(json_object_get(json_object_get(r.json, "fields"),
		    "name")), name) == 0);
	h_resp_free(&r);
	return st;
}

static long long
job_get(struct h_server *s, const char *tok, const char *id, char st[16])
{
	char path[128];
	struct h_resp r;
	long long done;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "kind"), "keys.reencrypt") == 0);
	snprintf(st, 16, "%s", h_jstr(r.json, "state"));
	done = json_integer_value(json_object_get(r.json, "done"));
	h_resp_free(&r);
	return done;
}

/* Poll until done >= want or the job ended, moving the server's clock on
 * when max_rps holds it back. */
static long long
wait_done(struct h_server *s, const char *tok, const char *id, long long wantd, char st[16])
{
	long long done = 0, last = -1;

	for (int i = 0; i < 20000; i++) {
		done = job_get(s, tok, id, st);
		if (done >= wantd || strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			return done;
		if (done == last)
			h_clock_advance(s, 1000);
		last = done;
		h_pause_ms(3);
	}
	CHECK(!"re-encryption made no progress");
	return done;
}

static void
wait_job_end(struct h_server *s, const char *tok, const char *id, char st[16])
{
	for (int i = 0; i < 100; i++) {
		(void)wait_done(s, tok, id, 1LL << 40, st);
		if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			return;
	}
	CHECK(!"job did not end");
}

/* ---- 1. a collection with its KEK in the HSM ---- */

static void
test_hsm_kek(struct h_server *s, struct people *p)
{
	char ids[6][64], shred[64], st[32], prov[16], job[64], code[64];
	long long n = 0;
	struct h_resp r;

	/* bad provider names and shapes: 400, nothing made */
	post(s, p->admin, "/v1/collections", "{\"name\":\"badprov\",\"region\":\"local\","
	    "\"kek_provider\":\"tpm\",\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}", 400, "invalid_request", NULL);
	post(s, p->admin, "/v1/collections", "{\"name\":\"badprov\",\"region\":\"local\","
	    "\"double_encryption\":\"yes\",\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}", 400, "invalid_request", NULL);
	h_expect(s, "GET", "/v1/collections/badprov", p->admin, NULL, NULL, 404, NULL);

	post(s, p->admin, "/v1/collections", "{\"name\":\"hsmpat\",\"region\":\"local\","
	    "\"kek_provider\":\"pkcs11\",\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}", 201, NULL, &r);
	CHECK(strcmp(h_jstr(r.json, "kek_provider"), "pkcs11") == 0);
	CHECK(json_is_false(json_object_get(r.json, "double_encryption")));
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/hsmpat", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "kek_provider"), "pkcs11") == 0);
	h_resp_free(&r);
	CHECK(key_version(s, p->kay, "collection:hsmpat", 1, prov, st, &n));
	CHECK(strcmp(prov, "pkcs11") == 0 && strcmp(st, "active") == 0 && n == 0);
	/* the KEK is a token object whose value the token refuses to give out */
	CHECK(token_object("phivault-kek-collection:hsmpat-v1") == OBJ_SENSITIVE);

	for (int i = 0; i < 4; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Hsm Patient %d", i);
		record_create(s, p->clin, "hsmpat", name, ids[i]);
	}
	for (int i = 0; i < 4; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Hsm Patient %d", i);
		CHECK(record_read(s, p->clin, "hsmpat", ids[i], name, NULL) == 200);
	}
	CHECK(key_version(s, p->kay, "collection:hsmpat", 1, prov, st, &n) && n == 4);

	/* rotate: a new token object; re-encryption moves every DEK to it */
	post(s, p->kay, "/v1/keys/collection:hsmpat/rotate", NULL, 200, NULL, &r);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	CHECK(token_object("phivault-kek-collection:hsmpat-v2") == OBJ_SENSITIVE);
	CHECK(key_version(s, p->kay, "collection:hsmpat", 2, prov, st, &n));
	CHECK(strcmp(prov, "pkcs11") == 0 && strcmp(st, "active") == 0);
	record_create(s, p->clin, "hsmpat", "Hsm Patient 4", ids[4]);
	post(s, p->kay, "/v1/keys/collection:hsmpat/reencrypt", "{\"mode\":\"rewrap_dek\"}", 202,
	    NULL, &r);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	wait_job_end(s, p->admin, job, st);
	CHECK(strcmp(st, "done") == 0);
	CHECK(key_version(s, p->kay, "collection:hsmpat", 1, prov, st, &n) && n == 0);
	CHECK(key_version(s, p->kay, "collection:hsmpat", 2, prov, st, &n) && n == 5);
	/* revoke v1: its object is destroyed in the token; nothing was under it */
	post(s, p->kay, "/v1/keys/collection:hsmpat/versions/1/revoke",
	    "{\"confirm\":\"collection:hsmpat:1\"}", 200, NULL, NULL);
	CHECK(token_object("phivault-kek-collection:hsmpat-v1") == OBJ_ABSENT);
	CHECK(token_object("phivault-kek-collection:hsmpat-v2") == OBJ_SENSITIVE);
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Hsm Patient %d", i);
		CHECK(record_read(s, p->clin, "hsmpat", ids[i], name, NULL) == 200);
	}

	/* revoking the version a record is under makes it unrecoverable: 410 */
	post(s, p->admin, "/v1/collections", "{\"name\":\"hsmshred\",\"region\":\"local\","
	    "\"kek_provider\":\"pkcs11\",\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}", 201, NULL, NULL);
	record_create(s, p->clin, "hsmshred", "Shred Me", shred);
	post(s, p->kay, "/v1/keys/collection:hsmshred/rotate", NULL, 200, NULL, NULL);
	post(s, p->kay, "/v1/keys/collection:hsmshred/versions/1/revoke",
	    "{\"confirm\":\"collection:hsmshred:1\"}", 200, NULL, NULL);
	CHECK(token_object("phivault-kek-collection:hsmshred-v1") == OBJ_ABSENT);
	CHECK(record_read(s, p->clin, "hsmshred", shred, NULL, code) == 410);
	CHECK(strcmp(code, "key_revoked") == 0);
	(void)ids[5];
}

/* ---- 2. soft -> pkcs11 by policy, rotation and re-encryption ---- */

static void
test_soft_to_hsm(struct h_server *s, struct people *p)
{
	char ids[5][64], st[32], prov[16], job[64];
	long long n = 0;
	struct h_resp r;

	h_collection_create(s, p->admin, "{\"name\":\"softpat\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Soft Patient %d", i);
		record_create(s, p->clin, "softpat", name, ids[i]);
	}
	CHECK(key_version(s, p->kay, "collection:softpat", 1, prov, st, &n));
	CHECK(strcmp(prov, "soft") == 0 && n == 5);
	h_req(s, "PUT", "/v1/keys/collection:softpat/policy", p->kay, "{\"provider\":\"hsm\"}",
	    NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	h_req(s, "PUT", "/v1/keys/collection:softpat/policy", p->kay, "{\"provider\":\"pkcs11\"}",
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "policy"), "provider"), "pkcs11") == 0);
	h_resp_free(&r);
	post(s, p->kay, "/v1/keys/collection:softpat/rotate", NULL, 200, NULL, NULL);
	CHECK(key_version(s, p->kay, "collection:softpat", 2, prov, st, &n));
	CHECK(strcmp(prov, "pkcs11") == 0);
	CHECK(token_object("phivault-kek-collection:softpat-v2") == OBJ_SENSITIVE);
	post(s, p->kay, "/v1/keys/collection:softpat/reencrypt", "{}", 202, NULL, &r);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	wait_job_end(s, p->admin, job, st);
	CHECK(strcmp(st, "done") == 0);
	CHECK(key_version(s, p->kay, "collection:softpat", 1, prov, st, &n) && n == 0);
	CHECK(key_version(s, p->kay, "collection:softpat", 2, prov, st, &n) && n == 5);
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Soft Patient %d", i);
		CHECK(record_read(s, p->clin, "softpat", ids[i], name, NULL) == 200);
	}
}

/* ---- 3. the token removed and restored under load ---- */

#define LOAD_MAX 4000

struct load {
	struct h_server *s;
	const char *tok;
	const char *known;           /* a record read in every round */
	atomic_bool stop;
	atomic_int ok, unavailable, other, rounds;
	atomic_int ok_after_mark;    /* successes after `mark` was set */
	atomic_bool mark;
	char acked[LOAD_MAX][64];    /* acknowledged writes */
	atomic_int nacked;
	char bad[256];
};

static void
classify(struct load *l, struct h_resp *r, int want)
{
	if (r->status == want) {
		atomic_fetch_add(&l->ok, 1);
		if (atomic_load(&l->mark))
			atomic_fetch_add(&l->ok_after_mark, 1);
	} else if (r->status == 503 && strcmp(h_err_code(r), "hsm_unavailable") == 0) {
		atomic_fetch_add(&l->unavailable, 1);
	} else {
		if (atomic_fetch_add(&l->other, 1) == 0)
			snprintf(l->bad, sizeof(l->bad), "%ld %s", r->status,
			    r->body ? r->body : "");
	}
}

static void *
load_loop(void *arg)
{
	struct load *l = arg;
	char path[256];

	while (!atomic_load(&l->stop) && atomic_load(&l->nacked) < LOAD_MAX) {
		struct h_resp r;

		h_req(l->s, "POST", "/v1/collections/hsmpat/records", l->tok,
		    "{\"name\":\"Load Patient\"}", NULL, &r);
		classify(l, &r, 201);
		if (r.status == 201) {
			int i = atomic_load(&l->nacked);

			snprintf(l->acked[i], sizeof(l->acked[i]), "%s", h_jstr(r.json, "id"));
			atomic_store(&l->nacked, i + 1);
		}
		h_resp_free(&r);
		snprintf(path, sizeof(path), "/v1/collections/hsmpat/records/%s", l->known);
		h_req(l->s, "GET", path, l->tok, NULL, TREAT, &r);
		classify(l, &r, 200);
		h_resp_free(&r);
		atomic_fetch_add(&l->rounds, 1);
	}
	return NULL;
}

static void
test_token_removed_under_load(struct h_server *s, struct people *p, const char *tokendir,
    const char *away)
{
	static struct load l;
	char known[64];
	pthread_t t;
	int i, base;

	record_create(s, p->clin, "hsmpat", "Known Patient", known);
	memset(&l, 0, sizeof(l));
	l.s = s;
	l.tok = p->clin;
	l.known = known;
	CHECK(pthread_create(&t, NULL, load_loop, &l) == 0);
	for (i = 0; i < 5000 && atomic_load(&l.ok) < 10; i++)
		h_pause_ms(2);
	/* the token goes away while requests are in flight */
	CHECK(rename(tokendir, away) == 0);
	for (i = 0; i < 5000 && atomic_load(&l.unavailable) < 6; i++)
		h_pause_ms(2);
	fprintf(stderr, "hsm_kek: token away: ok=%d unavailable=%d other=%d\n",
	    atomic_load(&l.ok), atomic_load(&l.unavailable), atomic_load(&l.other));
	CHECK(atomic_load(&l.unavailable) >= 6);
	/* ... and comes back: the loop succeeds again, no restart */
	CHECK(rename(away, tokendir) == 0);
	atomic_store(&l.mark, true);
	for (i = 0; i < 5000 && atomic_load(&l.ok_after_mark) < 10; i++)
		h_pause_ms(2);
	atomic_store(&l.stop, true);
	CHECK(pthread_join(t, NULL) == 0);
	fprintf(stderr, "hsm_kek: rounds=%d ok=%d unavailable=%d other=%d acked=%d\n",
	    atomic_load(&l.rounds), atomic_load(&l.ok), atomic_load(&l.unavailable),
	    atomic_load(&l.other), atomic_load(&l.nacked));
	if (atomic_load(&l.other) != 0)
		fprintf(stderr, "hsm_kek: unexpected answer: %s\n", l.bad);
	CHECK(atomic_load(&l.other) == 0);           /* never a 500, never another code */
	CHECK(atomic_load(&l.ok_after_mark) >= 10);
	/* no acknowledged write lost */
	base = atomic_load(&l.nacked);
	CHECK(base > 0);
	for (i = 0; i < base; i++)
		CHECK(record_read(s, p->clin, "hsmpat", l.acked[i], "Load Patient", NULL) == 200);
}

/* ---- 4. double encryption ---- */

static void
test_double(struct h_server *s, struct people *p, const char *tokendir, const char *away)
{
	char ids[3][64], st[32], prov[16], code[64];
	long long n = 0;
	struct h_resp r;

	post(s, p->admin, "/v1/collections", "{\"name\":\"dbl\",\"region\":\"local\","
	    "\"double_encryption\":true,\"fields\":[{\"name\":\"name\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}", 201, NULL, &r);
	CHECK(json_is_true(json_object_get(r.json, "double_encryption")));
	CHECK(strcmp(h_jstr(r.json, "kek_provider"), "soft") == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/collections/dbl", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "double_encryption")));
	h_resp_free(&r);
	record_create(s, p->clin, "dbl", "Double One", ids[0]);
	record_create(s, p->clin, "dbl", "Double Two", ids[1]);
	CHECK(record_read(s, p->clin, "dbl", ids[0], "Double One", NULL) == 200);
	/* two keys: the record KEK (soft) and its outer key (in the HSM); the
	 * census counts the records under both */
	CHECK(key_version(s, p->kay, "collection:dbl", 1, prov, st, &n));
	CHECK(strcmp(prov, "soft") == 0 && n == 2);
	CHECK(key_version(s, p->kay, "outer:collection:dbl", 1, prov, st, &n));
	CHECK(strcmp(prov, "pkcs11") == 0 && n == 2);
	CHECK(token_object("phivault-kek-outer:collection:dbl-v1") == OBJ_SENSITIVE);

	/* the HSM absent: reads fail closed with 503, and work again after */
	CHECK(rename(tokendir, away) == 0);
	CHECK(record_read(s, p->clin, "dbl", ids[0], NULL, code) == 503);
	CHECK(strcmp(code, "hsm_unavailable") == 0);
	CHECK(rename(away, tokendir) == 0);
	CHECK(record_read(s, p->clin, "dbl", ids[0], "Double One", NULL) == 200);

	/* rotation keeps double encryption (both keys get v2) */
	post(s, p->kay, "/v1/keys/collection:dbl/rotate", NULL, 200, NULL, NULL);
	CHECK(key_version(s, p->kay, "outer:collection:dbl", 2, prov, st, &n));
	CHECK(strcmp(st, "active") == 0);
	CHECK(key_version(s, p->kay, "outer:collection:dbl", 1, prov, st, &n));
	CHECK(strcmp(st, "decrypt_only") == 0);
	record_create(s, p->clin, "dbl", "Double Three", ids[2]);
	/* the outer key's v1 revoked: v1 records fail closed although their
	 * record KEK v1 is intact (one key alone is not enough); v2 reads */
	post(s, p->kay, "/v1/keys/outer:collection:dbl/versions/1/revoke",
	    "{\"confirm\":\"outer:collection:dbl:1\"}", 200, NULL, NULL);
	CHECK(token_object("phivault-kek-outer:collection:dbl-v1") == OBJ_ABSENT);
	CHECK(key_version(s, p->kay, "collection:dbl", 1, prov, st, &n));
	CHECK(strcmp(st, "decrypt_only") == 0);
	for (int i = 0; i < 2; i++) {
		CHECK(record_read(s, p->clin, "dbl", ids[i], NULL, code) == 410);
		CHECK(strcmp(code, "key_revoked") == 0);
	}
	CHECK(record_read(s, p->clin, "dbl", ids[2], "Double Three", NULL) == 200);

	/* an HSM-held record KEK gets a soft outer key */
	post(s, p->admin, "/v1/collections", "{\"name\":\"dbl2\",\"region\":\"local\","
	    "\"kek_provider\":\"pkcs11\",\"double_encryption\":true,\"fields\":[{\"name\":"
	    "\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}", 201, NULL, NULL);
	CHECK(key_version(s, p->kay, "outer:collection:dbl2", 1, prov, st, &n));
	CHECK(strcmp(prov, "soft") == 0);
	record_create(s, p->clin, "dbl2", "Double Four", ids[0]);
	CHECK(record_read(s, p->clin, "dbl2", ids[0], "Double Four", NULL) == 200);
}

/* ---- 5. double encryption for an existing collection, by a job ---- */

static void
test_enable_by_job(struct h_server *s, struct people *p)
{
	static char ids[N_LATE][64];
	char st[32], prov[16], job[64];
	long long n = 0, done;
	struct h_resp r;

	h_collection_create(s, p->admin, "{\"name\":\"late\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	for (int i = 0; i < N_LATE; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Late Patient %d", i);
		record_create(s, p->clin, "late", name, ids[i]);
	}
	/* bad requests change nothing; PHI readers may not */
	h_expect(s, "PATCH", "/v1/collections/late", p->kay, "{\"double_encryption\":1}", NULL,
	    400, "invalid_request");
	h_expect(s, "PATCH", "/v1/collections/late", p->kay, "{\"double_encryption\":true,"
	    "\"extra\":1}", NULL, 400, "invalid_request");
	h_expect(s, "PATCH", "/v1/collections/nope", p->kay, "{\"double_encryption\":true}", NULL,
	    404, "not_found");
	h_expect(s, "PATCH", "/v1/collections/late", p->clin, "{\"double_encryption\":true}", NULL,
	    403, NULL);
	CHECK(!key_version(s, p->kay, "outer:collection:late", 2, prov, st, &n));

	h_req(s, "PATCH", "/v1/collections/late", p->kay,
	    "{\"double_encryption\":true,\"max_rps\":20}", NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	h_expect(s, "PATCH", "/v1/collections/late", p->kay, "{\"double_encryption\":true}", NULL,
	    409, "job_conflict");
	h_req(s, "GET", "/v1/collections/late", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "double_encryption")));
	h_resp_free(&r);
	CHECK(key_version(s, p->kay, "outer:collection:late", 2, prov, st, &n));
	CHECK(strcmp(prov, "pkcs11") == 0);

	done = wait_done(s, p->admin, job, 20, st);
	fprintf(stderr, "hsm_kek: kill -9 at done=%lld (%s)\n", done, st);
	CHECK(strcmp(st, "running") == 0 || strcmp(st, "queued") == 0);
	/* reads are served while it runs */
	CHECK(record_read(s, p->clin, "late", ids[0], "Late Patient 0", NULL) == 200);
	CHECK(record_read(s, p->clin, "late", ids[N_LATE - 1], NULL, NULL) == 200);
	h_kill9_restart(s, "--dev");
	CHECK(job_get(s, p->admin, job, st) >= done);
	wait_job_end(s, p->admin, job, st);
	CHECK(strcmp(st, "done") == 0);
	CHECK(key_version(s, p->kay, "collection:late", 1, prov, st, &n) && n == 0);
	CHECK(key_version(s, p->kay, "collection:late", 2, prov, st, &n) && n == N_LATE);
	CHECK(key_version(s, p->kay, "outer:collection:late", 2, prov, st, &n) && n == N_LATE);
	for (int i = 0; i < N_LATE; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Late Patient %d", i);
		CHECK(record_read(s, p->clin, "late", ids[i], name, NULL) == 200);
	}
	/* every record is under both keys now: the outer v2 revoked (after a
	 * rotation) and none of them reads */
	post(s, p->kay, "/v1/keys/collection:late/rotate", NULL, 200, NULL, NULL);
	post(s, p->kay, "/v1/keys/outer:collection:late/versions/2/revoke",
	    "{\"confirm\":\"outer:collection:late:2\"}", 200, NULL, NULL);
	CHECK(record_read(s, p->clin, "late", ids[7], NULL, NULL) == 410);
}

static void
test_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], *out = NULL;

	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s key list 2>&1", s->base, s->cacert, p->kay, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "collection:hsmpat") != NULL && strstr(out, "pkcs11") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s key policy collection:hsmpat --provider pkcs11 --double-encryption on "
	    "--format json 2>&1", s->base, s->cacert, p->kay, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"double_encryption\":true") != NULL ||
	    strstr(out, "\"double_encryption\": true") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s key policy collection:hsmpat --provider tpm 2>&1", s->base, s->cacert, p->kay,
	    h_bin());
	CHECK(h_run(cmd, &out) != 0);
	free(out);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char parent[512], hsmdir[600], tokendir[700], away[800], pin[700], extra[2048];
	const char *otp;
	FILE *f;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_tmpdir("hsm_kek", parent, sizeof(parent));
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
	h_init(&s, "hsm-kek-data", extra);
	h_config_set(&s, "mfa_required", "off");
	h_clock_enable();   /* the job's max_rps windows move with the test clock */
	h_start(&s, "--dev");
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	h_login_fresh(&s, "admin", otp, PW_ADMIN, p.admin, sizeof(p.admin));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	h_add_user(&s, p.admin, "kim", "key_admin", PW_USER, p.kay, sizeof(p.kay));

	test_hsm_kek(&s, &p);
	test_soft_to_hsm(&s, &p);
	test_token_removed_under_load(&s, &p, tokendir, away);
	test_double(&s, &p, tokendir, away);
	test_enable_by_job(&s, &p);
	test_cli(&s, &p);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("hsm_kek");
	return 0;
}
