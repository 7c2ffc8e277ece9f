/*
 * fuzz_audit_anchor: what an outside verifier brings to `audit verify`
 * (audit_head_parse for --expect-head SEQ:HASH, audit_public_key_from_pem for
 * the key file or GET /v1/audit/public-key) and audit_text_ok, the check
 * every stored text passes. The first byte picks the parser.
 * Invariants: an accepted head formats back and parses to the same seq and
 * a 64-digit lowercase hash; an accepted PEM re-encodes (crypto's encoder)
 * to a PEM that parses to the same key; out-parameters are untouched on
 * refusal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
head(const char *s)
{
	int64_t seq = -7, seq2 = 0;
	char hash[65], hash2[65], again[96];

	memset(hash, 'Z', sizeof hash);
	if (audit_head_parse(s, &seq, hash) != PV_OK) {
		if (seq != -7 || hash[0] != 'Z')
			abort();
		return;
	}
	if (seq < 1 || strlen(hash) != 64 || strspn(hash, "0123456789abcdef") != 64)
		abort();
	snprintf(again, sizeof again, "%lld:%s", (long long)seq, hash);
	if (audit_head_parse(again, &seq2, hash2) != PV_OK || seq2 != seq ||
	    strcmp(hash, hash2) != 0)
		abort();
}

static void
pem(const char *p, size_t len)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], pub2[CRYPTO_ED25519_PUB_LEN];
	char *out = NULL;

	memset(pub, 0xa5, sizeof pub);
	if (audit_public_key_from_pem(p, len, pub) != PV_OK)
		return;
	if (crypto_ed25519_pub_pem(pub, &out) != PV_OK)
		abort();
	if (audit_public_key_from_pem(out, strlen(out), pub2) != PV_OK ||
	    memcmp(pub, pub2, sizeof pub) != 0)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	/* a NUL-terminated copy; the PEM reader gets the exact bytes and length */
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		head(s);
		break;
	case 1:
		pem(s, size - 1);
		break;
	default:
		(void)audit_text_ok(s, data[0] / 3u * 8u);
		break;
	}
	free(s);
	return 0;
}
