/*
 * test_password: Argon2id hashing round trip and the NIST SP 800-63B
 * password policy, as an administrator setting a password would see it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authn/authn.h"
#include "authn/authn_int.h"

/* Small parameters keep the suite fast; one test runs the OWASP ones. */
#define FAST_OPS 1ULL
#define FAST_MEM ((size_t)8 * 1024 * 1024)

static void
test_hash_round_trip(void **state)
{
	char enc[crypto_pwhash_STRBYTES];

	(void)state;
	assert_int_equal(authn_password_hash("correct horse battery staple", FAST_OPS, FAST_MEM, enc),
	    PV_OK);
	assert_true(strncmp(enc, "$argon2id$v=19$", 15) == 0);
	assert_non_null(strstr(enc, "m=8192,t=1,p=1$"));
	assert_int_equal(authn_password_verify(enc, "correct horse battery staple"), PV_OK);
	assert_int_equal(authn_password_verify(enc, "correct horse battery stapl"), PV_E_UNAUTH);
	assert_int_equal(authn_password_verify(enc, "Correct horse battery staple"), PV_E_UNAUTH);
	assert_int_equal(authn_password_verify(enc, ""), PV_E_UNAUTH);
}

static void
test_hash_salted(void **state)
{
	char a[crypto_pwhash_STRBYTES], b[crypto_pwhash_STRBYTES];

	(void)state;
	assert_int_equal(authn_password_hash("same password here", FAST_OPS, FAST_MEM, a), PV_OK);
	assert_int_equal(authn_password_hash("same password here", FAST_OPS, FAST_MEM, b), PV_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(authn_password_verify(a, "same password here"), PV_OK);
	assert_int_equal(authn_password_verify(b, "same password here"), PV_OK);
}

static void
test_hash_owasp_params(void **state)
{
	char enc[crypto_pwhash_STRBYTES];

	(void)state;
	assert_int_equal(authn_password_hash("kx8#Pq2!vZm9@Lw4", AUTHN_PWHASH_OPSLIMIT_OWASP,
	    AUTHN_PWHASH_MEMLIMIT_OWASP, enc), PV_OK);
	/* 19 MiB = 19456 KiB, t = 2 */
	assert_true(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	assert_int_equal(authn_password_verify(enc, "kx8#Pq2!vZm9@Lw4"), PV_OK);
	assert_int_equal(authn_password_verify(enc, "kx8#Pq2!vZm9@Lw5"), PV_E_UNAUTH);
	assert_false(authn_password_needs_rehash(enc, AUTHN_PWHASH_OPSLIMIT_OWASP,
	    AUTHN_PWHASH_MEMLIMIT_OWASP));
	assert_true(authn_password_needs_rehash(enc, 3, AUTHN_PWHASH_MEMLIMIT_OWASP));
}

static void
test_hash_bad_input(void **state)
{
	char enc[crypto_pwhash_STRBYTES];

	(void)state;
	assert_int_equal(authn_password_hash(NULL, FAST_OPS, FAST_MEM, enc), PV_E_INVALID);
	assert_int_equal(authn_password_hash("x", 0, FAST_MEM, enc), PV_E_INVALID);
	assert_int_equal(authn_password_hash("x", FAST_OPS, 1024, enc), PV_E_INVALID);
	/* Malformed stored strings fail closed. */
	assert_int_equal(authn_password_verify("", "x"), PV_E_UNAUTH);
	assert_int_equal(authn_password_verify("$argon2id$v=19$garbage", "x"), PV_E_UNAUTH);
	assert_int_equal(authn_password_verify(NULL, "x"), PV_E_UNAUTH);
	assert_true(authn_password_needs_rehash("not a hash", FAST_OPS, FAST_MEM));
}

static void
test_needs_rehash(void **state)
{
	char enc[crypto_pwhash_STRBYTES];

	(void)state;
	assert_int_equal(authn_password_hash("some long password", FAST_OPS, FAST_MEM, enc), PV_OK);
	assert_false(authn_password_needs_rehash(enc, FAST_OPS, FAST_MEM));
	assert_true(authn_password_needs_rehash(enc, FAST_OPS + 1, FAST_MEM));
	assert_true(authn_password_needs_rehash(enc, FAST_OPS, FAST_MEM * 2));
}

static void
test_dummy_verify(void **state)
{
	(void)state;
	/* Twice: the first makes the dummy hash, the second reuses it. */
	assert_int_equal(authn_password_verify_dummy("password", FAST_OPS, FAST_MEM), PV_E_UNAUTH);
	assert_int_equal(authn_password_verify_dummy("", FAST_OPS, FAST_MEM), PV_E_UNAUTH);
	/* New parameters: a new dummy. */
	assert_int_equal(authn_password_verify_dummy("x", FAST_OPS + 1, FAST_MEM), PV_E_UNAUTH);
	assert_int_equal(authn_password_verify_dummy(NULL, FAST_OPS, FAST_MEM), PV_E_UNAUTH);
}

/* ---- policy ---- */

static enum pv_rc
policy(const char *pw, char *why, size_t len)
{
	return authn_password_check_policy(pw, AUTHN_PASSWORD_MIN_DEFAULT, "alice",
	    "alice.smith@example.org", why, len);
}

static void
assert_refused(const char *pw, const char *reason_part)
{
	char why[256] = "";

	if (policy(pw, why, sizeof(why)) != PV_E_INVALID)
		fail_msg("accepted: [%s]", pw);
	if (reason_part != NULL && strstr(why, reason_part) == NULL)
		fail_msg("[%s]: reason \"%s\" lacks \"%s\"", pw, why, reason_part);
	/* The reason never repeats the password. */
	if (strlen(pw) >= 4 && strstr(why, pw) != NULL)
		fail_msg("reason quotes the password: %s", why);
}

static void
assert_accepted(const char *pw)
{
	char why[256] = "";

	if (policy(pw, why, sizeof(why)) != PV_OK)
		fail_msg("refused [%s]: %s", pw, why);
}

static void
test_policy_length(void **state)
{
	char buf[1100];

	(void)state;
	assert_refused("kx8#Pq2!vZm", "too short");      /* 11 */
	assert_accepted("kx8#Pq2!vZm9");                 /* exactly 12 */
	assert_refused("", "too short");
	/* 64 characters are allowed (§5.1.1.2 "at least 64"). */
	memcpy(buf, "Lw4kx8#Pq2!vZm9@", 16);
	memcpy(buf + 16, "Rt7&nB3$yH6^cJ1*", 16);
	memcpy(buf + 32, "Tq5%gF8(sD2)aZ0_", 16);
	memcpy(buf + 48, "Mv9+eX4=wK7~pU3;", 16);
	buf[64] = '\0';
	assert_accepted(buf);
	/* 1024 allowed, 1025 refused. */
	for (size_t i = 0; i < 1025; i++)
		buf[i] = "Lw4kx8#Pq2!vZm9@Rt7&nB3$yH6^cJ1*Tq5%gF8(sD2)aZ0_Mv9+eX4=wK7~pU3;r"[i % 65];
	buf[1024] = '\0';
	assert_accepted(buf);
	buf[1024] = 'x';
	buf[1025] = '\0';
	assert_refused(buf, "too long");
	/* A configured minimum above the default. */
	assert_int_equal(authn_password_check_policy("kx8#Pq2!vZm9", 15, NULL, NULL, NULL, 0),
	    PV_E_INVALID);
	assert_int_equal(authn_password_check_policy("kx8#Pq2!vZm9@Lw", 15, NULL, NULL, NULL, 0),
	    PV_OK);
}

static void
test_policy_code_points(void **state)
{
	char why[128];

	(void)state;
	/* 12 code points, 24 bytes: long enough. "Ωμέγα" letters, 2 bytes each. */
	assert_accepted("ΩμέγαΨφχβζλΔ");
	/* 11 code points but 22 bytes: too short (bytes are not characters). */
	assert_refused("ΩμέγαΨφχβζλ", "too short");
	/* 4-byte code points (emoji) count once each: 12 of them = 48 bytes. */
	assert_accepted("🐈🦊🐙🦉🐢🦀🐝🦋🐌🦎🐍🦜");
	assert_refused("🐈🦊🐙🦉🐢🦀🐝🦋🐌🦎🐍", "too short");
	/* 1024 two-byte code points (2048 bytes) are allowed. */
	{
		static char big[2 * 1025 + 1];
		for (size_t i = 0; i < 1024; i++) {
			/* U+0100.. varied so it is no repeated pattern */
			unsigned cp = 0x100 + (unsigned)((i * 7919) % 0x600);
			big[2 * i] = (char)(0xc0 | (cp >> 6));
			big[2 * i + 1] = (char)(0x80 | (cp & 0x3f));
		}
		big[2048] = '\0';
		assert_int_equal(authn_password_check_policy(big, 12, NULL, NULL, why, sizeof(why)),
		    PV_OK);
	}
}

static void
test_policy_utf8(void **state)
{
	(void)state;
	assert_refused("kx8#Pq2!vZm9\xff", "UTF-8");           /* invalid byte */
	assert_refused("kx8#Pq2!vZm9\xc3", "UTF-8");           /* truncated sequence */
	assert_refused("kx8#Pq2!vZm9\xc0\xaf", "UTF-8");       /* overlong '/' */
	assert_refused("kx8#Pq2!vZm9\xed\xa0\x80", "UTF-8");   /* surrogate U+D800 */
	assert_refused("kx8#Pq2!vZm9\xf4\x90\x80\x80", "UTF-8"); /* above U+10FFFF */
	assert_refused("kx8#Pq2!\tvZm9", "control");
	assert_refused("kx8#Pq2!\nvZm9", "control");
	assert_refused("kx8#Pq2!\x7fvZm9", "control");
	assert_refused("kx8#Pq2!\xc2\x85vZm9", "control");      /* U+0085 NEL */
	/* Spaces are fine (passphrases). */
	assert_accepted("tangerine  walrus  opera");
}

static void
test_policy_context(void **state)
{
	(void)state;
	assert_refused("alice-kx8#Pq2!", "username");
	assert_refused("kx8#ALICEPq2!v", "username");          /* case-insensitive */
	{
		char why[128] = "";
		assert_int_equal(authn_password_check_policy("kx8#Jsmith.MD!", 12, "john",
		    "jsmith.md@example.org", why, sizeof(why)), PV_E_INVALID);
		assert_non_null(strstr(why, "email"));
	}
	assert_refused("xx-ALICE-xx-kq", "username");           /* contains "alice" */
	assert_int_equal(authn_password_check_policy("zz-kx8#Pq2!vZm9", 12, "zz", NULL, NULL, 0),
	    PV_OK);                                              /* 2-letter name: equality only */
	assert_int_equal(authn_password_check_policy("zz", 1, "zz", NULL, NULL, 0), PV_E_INVALID);
	assert_int_equal(authn_password_check_policy("dr.bob.jones is here", 12, "bob",
	    "bjones@example.org", NULL, 0), PV_E_INVALID);
	assert_int_equal(authn_password_check_policy("kx8#Pq2!vZm9@Lw4", 12, NULL, NULL, NULL, 0),
	    PV_OK);
}

static void
test_policy_patterns(void **state)
{
	(void)state;
	assert_refused("aaaaaaaaaaaa", "repeated character");
	assert_refused("ÄÄÄÄÄÄÄÄÄÄÄÄ", "repeated character");
	assert_refused("123456789012", "sequence");
	assert_refused("abcdefghijklm", "sequence");
	assert_refused("ZYXWVUTSRQPO", "sequence");
	assert_refused("987654321098", "sequence");
	assert_refused("abababababab", "pattern");
	assert_refused("Xy7!Xy7!Xy7!Xy7!", "pattern");
	assert_refused("passwordpassword", "common");
}

static void
test_policy_blocklist(void **state)
{
	(void)state;
	assert_refused("password123!", "common");
	assert_refused("Password1234", "common");
	assert_refused("P@ssw0rd2024!", "common");
	assert_refused("Summer2024!!", "common");
	assert_refused("!!iloveyou!!", "common");
	assert_refused("qwertyuiop12", "common");
	assert_refused("Tr0ubl3-phivault", "service");          /* the service's name */
	assert_refused("phivault2024!", "service");
	assert_refused("1q2w3e4r5t6y", NULL);
	assert_refused("letmein12345", "common");
	assert_refused("monkey123456", "common");
}

static void
test_policy_accepts_good(void **state)
{
	(void)state;
	assert_accepted("kx8#Pq2!vZm9@Lw4");                 /* random-looking, 16 */
	assert_accepted("Lwq2vBn8Rtyz");
	assert_accepted("correct horse battery staple");
	assert_accepted("the quick brown fox jumps");
	assert_accepted("zebrafish bicycle umbrella 42");
	assert_accepted("émilie-à-la-plage-2019");
}

static void
test_policy_why_optional(void **state)
{
	(void)state;
	assert_int_equal(authn_password_check_policy(NULL, 12, NULL, NULL, NULL, 0), PV_E_INVALID);
	assert_int_equal(authn_password_check_policy("short", 12, NULL, NULL, NULL, 0),
	    PV_E_INVALID);
}

static void
test_blocklist_sorted(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(authn_blocklist_len >= 200);
	for (i = 0; i < authn_blocklist_len; i++) {
		for (j = 0; authn_blocklist[i][j] != '\0'; j++) {
			char c = authn_blocklist[i][j];
			if (c >= 'A' && c <= 'Z')
				fail_msg("entry %zu not lowercase", i);
		}
		if (i > 0 && strcmp(authn_blocklist[i - 1], authn_blocklist[i]) >= 0)
			fail_msg("entries %zu/%zu out of order", i - 1, i);
		assert_true(authn_blocklist_has(authn_blocklist[i]));
	}
	assert_false(authn_blocklist_has("zzzz-not-there"));
	assert_false(authn_blocklist_has(""));
}

/*
 * The dictionary is the one the build packed from the word lists make deps
 * installs (CMake target cracklib_dict, passed as PV_CRACKLIB_DICT), not
 * whatever /var/cache/cracklib holds on this machine. Missing is a failure.
 */
static void
test_cracklib_in_use(void **state)
{
	const char *dict = getenv("PV_CRACKLIB_DICT");

	(void)state;
	if (dict == NULL || dict[0] == '\0')
		fail_msg("PV_CRACKLIB_DICT is not set: run this test through ctest (make test)");
	if (authn_password_dictionary_set(dict) != PV_OK)
		fail_msg("the project's cracklib dictionary %s.pwd/.pwi/.hwm is missing: "
		    "run make build", dict);
	assert_true(authn_password_cracklib_available());
	/* Dictionary words the shipped list does not know. */
	assert_refused("Encyclopedia", "cracklib");
	assert_refused("dragonflies1", "cracklib");
}

static void
test_cracklib_dictionary_check(void **state)
{
	char path[512];
	const char *dict = getenv("PV_CRACKLIB_DICT");

	(void)state;
	assert_int_equal(authn_password_dictionary_check("/nonexistent/phivault/pw_dict"),
	    PV_E_NOTFOUND);
	assert_int_equal(authn_password_dictionary_set("/nonexistent/phivault/pw_dict"),
	    PV_E_NOTFOUND);
	assert_int_equal(authn_password_dictionary_check(""), PV_E_INVALID);
	assert_int_equal(authn_password_dictionary_check(NULL), PV_E_INVALID);
	assert_non_null(dict);
	assert_int_equal(authn_password_dictionary_check(dict), PV_OK);
	/* one of the three files missing is as bad as all three */
	assert_true((size_t)snprintf(path, sizeof(path), "%s.pw", dict) < sizeof(path));
	assert_int_equal(authn_password_dictionary_check(path), PV_E_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_round_trip),
		cmocka_unit_test(test_hash_salted),
		cmocka_unit_test(test_hash_owasp_params),
		cmocka_unit_test(test_hash_bad_input),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_dummy_verify),
		cmocka_unit_test(test_policy_length),
		cmocka_unit_test(test_policy_code_points),
		cmocka_unit_test(test_policy_utf8),
		cmocka_unit_test(test_policy_context),
		cmocka_unit_test(test_policy_patterns),
		cmocka_unit_test(test_policy_blocklist),
		cmocka_unit_test(test_policy_accepts_good),
		cmocka_unit_test(test_policy_why_optional),
		cmocka_unit_test(test_blocklist_sorted),
		cmocka_unit_test(test_cracklib_in_use),
		cmocka_unit_test(test_cracklib_dictionary_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
