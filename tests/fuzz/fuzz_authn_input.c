/*
 * fuzz_authn_input: every authn function that reads text from a client
 * (password policy with its UTF-8 decoder, bearer and MFA tokens, recovery
 * codes, TOTP codes, the username in the otpauth URI). Besides memory
 * safety, it checks the contracts: only the documented return codes, and a
 * token accepted only if it has the exact issued shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t secret[] = "12345678901234567890";
	char why[256], hash[AUTHN_HASH_HEX_MAX], uri[AUTHN_TOTP_URI_MAX];
	enum pv_rc rc;
	int64_t m;
	char *s;

	if (size > 8192)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	rc = authn_password_check_policy(s, 12, "alice", "alice.smith@example.org", why,
	    sizeof(why));
	if (rc != PV_OK && rc != PV_E_INVALID)
		abort();
	if (rc == PV_E_INVALID && why[0] == '\0')
		abort();

	rc = authn_token_hash(AUTHN_TOKEN_SESSION, s, hash);
	if (rc == PV_OK && (strlen(s) != AUTHN_TOKEN_LEN || strncmp(s, "pvt_", 4) != 0))
		abort();
	if (rc != PV_OK && rc != PV_E_UNAUTH)
		abort();
	rc = authn_token_hash(AUTHN_TOKEN_MFA, s, hash);
	if (rc == PV_OK && (strlen(s) != AUTHN_TOKEN_LEN || strncmp(s, "pvm_", 4) != 0))
		abort();

	rc = authn_recovery_hash(s, hash);
	if (rc != PV_OK && rc != PV_E_UNAUTH)
		abort();

	rc = authn_totp_verify(secret, 20, s, 1111111111, -1, &m);
	if (rc == PV_OK && (strlen(s) != 6 || m < 37037036 || m > 37037038))
		abort();

	rc = authn_totp_uri(s, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", uri, sizeof(uri));
	if (rc == PV_OK && strncmp(uri, "otpauth://totp/phivault:", 24) != 0)
		abort();

	free(s);
	return 0;
}
