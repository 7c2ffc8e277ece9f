/*
 * fuzz_authn_webauthn: the WebAuthn parsers of authn/webauthn.c on
 * untrusted bytes. The first byte picks the target, the rest is its input:
 *   0  attestation object (registration_verify, RP ID "localhost")
 *   1  authenticator data (authdata_parse)
 *   2  COSE_Key (cose_key)
 *   3  assertion authenticator data against a fixed Ed25519 key
 *   4  clientDataJSON (client_data)
 * Besides memory safety it checks the contracts: only the documented
 * return codes, a reason with every refusal, and what an accepted input
 * promises (bounded credential ID, ES256/EdDSA, a key that parses again).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* {1: 1, 3: -8, -1: 6, -2: RFC 8032 §7.1 TEST 1 public key} */
static const uint8_t ED_KEY[] = {
	0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20,
	0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
	0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
	0xf7, 0x07, 0x51, 0x1a };

static void
refusal(enum pv_rc rc, const char *reason)
{
	if (rc != PV_OK && rc != PV_E_WEBAUTHN && rc != PV_E_NOMEM)
		abort();
	if (rc == PV_E_WEBAUTHN && reason == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char cdj[] = "{\"type\":\"webauthn.create\"}";
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	const char *reason = NULL;
	enum pv_rc rc;

	if (size < 1 || size > 70000)
		return 0;
	switch (data[0] % 5) {
	case 0: {
		struct authn_wa_registration reg;
		int alg = 0;

		rc = authn_wa_registration_verify(in, n, (const uint8_t *)cdj, strlen(cdj),
		    "localhost", &reg, &reason);
		refusal(rc, reason);
		if (rc == PV_OK) {
			if (reg.cred_id_len == 0 || reg.cred_id_len > AUTHN_WA_CRED_ID_MAX ||
			    (reg.alg != AUTHN_WA_ES256 && reg.alg != AUTHN_WA_EDDSA) ||
			    !(reg.flags & AUTHN_WA_FLAG_UV) || !(reg.flags & AUTHN_WA_FLAG_UP) ||
			    authn_wa_cose_key(reg.cose_key, reg.cose_key_len, &alg, NULL) != PV_OK ||
			    alg != reg.alg)
				abort();
			authn_wa_registration_clear(&reg);
		}
		break;
	}
	case 1: {
		struct authn_wa_authdata d;

		rc = authn_wa_authdata_parse(in, n, &d);
		if (rc != PV_OK && rc != PV_E_WEBAUTHN)
			abort();
		if (rc == PV_OK && (d.flags & AUTHN_WA_FLAG_AT) &&
		    (d.cred_id == NULL || d.cred_id_len > AUTHN_WA_CRED_ID_MAX ||
		    d.cose_key + d.cose_key_len > in + n))
			abort();
		break;
	}
	case 2: {
		int alg = 0;

		rc = authn_wa_cose_key(in, n, &alg, NULL);
		if (rc != PV_OK && rc != PV_E_WEBAUTHN)
			abort();
		if (rc == PV_OK && alg != AUTHN_WA_ES256 && alg != AUTHN_WA_EDDSA)
			abort();
		break;
	}
	case 3: {
		static const uint8_t sig[64] = { 1 };
		uint32_t count = 0;

		/* no input is signed by the fixed key: never accepted */
		rc = authn_wa_assertion_verify(in, n, (const uint8_t *)cdj, strlen(cdj), sig,
		    sizeof(sig), "localhost", ED_KEY, sizeof(ED_KEY), AUTHN_WA_EDDSA, 0, &count,
		    &reason);
		if (rc != PV_E_WEBAUTHN && rc != PV_E_NOMEM)
			abort();
		refusal(rc, reason);
		break;
	}
	default: {
		char ch[AUTHN_WA_CHALLENGE_B64_MAX];

		rc = authn_wa_client_data(in, n, "webauthn.get", "https://localhost:8443", ch,
		    &reason);
		refusal(rc, reason);
		if (rc == PV_OK && (strlen(ch) == 0 || strlen(ch) >= sizeof(ch)))
			abort();
		break;
	}
	}
	return 0;
}
