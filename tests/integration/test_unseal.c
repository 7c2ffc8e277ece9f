/*
 * POST /v1/sys/unseal under attack (issue 8 item 6), on the real binary:
 * a well-formed forged share (right checksum, x inside or outside 1..N) is
 * refused with 400 invalid_share and discards no custodian's progress; the
 * same share twice counts once; rejected shares are rate limited per
 * source (429 rate_limited with Retry-After); and an unseal whose audit
 * entry cannot be written is undone (503 audit_unavailable, still sealed).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "harness.h"
#include "util/util.h"

/* A share in the pvs1 text format with a valid checksum but random y: what
 * anyone can make without holding a share. */
static void
forge_share(unsigned x, unsigned k, char out[128])
{
	uint8_t bin[38], buf[4 + 34], h[32];
	char hex[77];

	bin[0] = (uint8_t)x;
	bin[1] = (uint8_t)k;
	CHECK(crypto_random(bin + 2, 32) == PV_OK);
	memcpy(buf, "pvs1", 4);
	memcpy(buf + 4, bin, 34);
	CHECK(crypto_sha256(buf, sizeof(buf), h) == PV_OK);
	memcpy(bin + 34, h, 4);
	util_hex_encode(bin, sizeof(bin), hex);
	snprintf(out, 128, "pvs1:%s", hex);
}

static void
unseal(struct h_server *s, const char *share, struct h_resp *r)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"share\":\"%s\"}", share);
	h_req(s, "POST", "/v1/sys/unseal", NULL, body, NULL, r);
}

static void
expect_progress(struct h_resp *r, bool sealed, int progress)
{
	CHECK_STATUS(r, 200);
	CHECK(json_is_boolean(json_object_get(r->json, "sealed")));
	CHECK(json_is_true(json_object_get(r->json, "sealed")) == sealed);
	CHECK(json_integer_value(json_object_get(r->json, "progress")) == progress);
	h_resp_free(r);
}

static void
expect_error(struct h_resp *r, int status, const char *code)
{
	CHECK_STATUS(r, status);
	CHECK(strcmp(h_err_code(r), code) == 0);
	h_resp_free(r);
}

static bool
is_sealed(struct h_server *s)
{
	struct h_resp r;
	bool sealed;

	h_req(s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	sealed = json_is_true(json_object_get(r.json, "sealed"));
	h_resp_free(&r);
	return sealed;
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	json_t *shares;
	char forged[128], fault[700], cmd[1024];
	const char *s0, *s1, *s2;
	FILE *f;
	int i;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CHECK(crypto_init() == PV_OK);
	h_init(&s, "unseal", "--seal shamir:2/3");
	shares = json_object_get(s.init, "unseal_shares");
	s0 = json_string_value(json_array_get(shares, 0));
	s1 = json_string_value(json_array_get(shares, 1));
	s2 = json_string_value(json_array_get(shares, 2));
	snprintf(fault, sizeof(fault), "%s/../faults", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by each server */
	h_start(&s, NULL);

	/* one custodian's share, then the same again: counted once */
	unseal(&s, s0, &r);
	expect_progress(&r, true, 1);
	unseal(&s, s0, &r);
	expect_progress(&r, true, 1);

	/* forged shares, for x = 2 (not given yet) and x = 9 (N is 3): refused,
	 * and the progress of the custodians stays */
	forge_share(2, 2, forged);
	unseal(&s, forged, &r);
	expect_error(&r, 400, "invalid_share");
	forge_share(9, 2, forged);
	unseal(&s, forged, &r);
	expect_error(&r, 400, "invalid_share");
	CHECK(is_sealed(&s));

	/* the second custodian unseals with the share collected before */
	unseal(&s, s2, &r);
	expect_progress(&r, false, 0);
	CHECK(!is_sealed(&s));
	CHECK(h_stop(&s) == 0);

	/* an unseal that cannot be audited does not happen */
	h_start(&s, NULL);
	CHECK(is_sealed(&s));
	f = fopen(fault, "w");
	CHECK(f != NULL);
	fputs("audit_append\n", f);
	fclose(f);
	unseal(&s, s0, &r);
	expect_error(&r, 503, "audit_unavailable");
	unseal(&s, s1, &r);
	expect_error(&r, 503, "audit_unavailable");
	CHECK(is_sealed(&s));
	CHECK(unlink(fault) == 0);
	unseal(&s, s0, &r);
	expect_progress(&r, true, 1);
	unseal(&s, s1, &r);
	expect_progress(&r, false, 0);
	CHECK(!is_sealed(&s));
	CHECK(h_stop(&s) == 0);

	/* rejected shares are rate limited per source: 10 a minute */
	h_start(&s, NULL);
	for (i = 0; i < 10; i++) {
		forge_share(1 + (unsigned)(i % 3), 2, forged);
		unseal(&s, forged, &r);
		expect_error(&r, 400, "invalid_share");
	}
	unseal(&s, s0, &r);
	CHECK_STATUS(&r, 429);
	CHECK(strcmp(h_err_code(&r), "rate_limited") == 0);
	CHECK(h_has_header(&r, "Retry-After:"));
	h_resp_free(&r);
	CHECK(is_sealed(&s));
	CHECK(h_stop(&s) == 0);

	unsetenv("PHIVAULT_FAULT_FILE");

	/* every attempt above is in the trail, which verifies */
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s >/dev/null 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl | grep -c "
	    "'\"reason\":\"bad_share\"' | grep -qx 12", h_bin(), s.dir);
	CHECK(h_run(cmd, NULL) == 0);

	json_decref(s.init);
	h_done("test_unseal");
	curl_global_cleanup();
	return 0;
}
