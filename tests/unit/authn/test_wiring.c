/*
 * Pure helpers of the identity wiring: usernames (the stored lowercase
 * form), generated one-time passwords, and the throttle key of a client
 * address (IPv6 reduced to its /64, IPv4-mapped to IPv4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "authn/authn.h"
#include "authn/authn_int.h"

static void test_usernames(void **state)
{
	char key[STORE_USERNAME_MAX];
	char long_name[80];

	(void)state;
	assert_true(authn_username_valid("alice"));
	assert_true(authn_username_valid("a.b_c-9"));
	assert_false(authn_username_valid(""));
	assert_false(authn_username_valid("Alice"));
	assert_false(authn_username_valid("al ice"));
	assert_false(authn_username_valid("al/ice"));
	assert_false(authn_username_valid(NULL));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	assert_true(authn_username_valid(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	assert_false(authn_username_valid(long_name));
	/* presented names are lowercased for lookup and lockout */
	assert_true(authn_username_key("ALICE", key));
	assert_string_equal(key, "alice");
	assert_false(authn_username_key("bad name", key));
	assert_false(authn_username_key(long_name, key));
	assert_false(authn_username_key(NULL, key));
}

static void test_generated_passwords(void **state)
{
	char a[AUTHN_OTP_LEN + 1], b[AUTHN_OTP_LEN + 1], why[160];
	size_t i;

	(void)state;
	assert_int_equal(authn_password_generate(a, 5), PV_E_INVALID);
	assert_int_equal(authn_password_generate(a, sizeof(a)), PV_OK);
	assert_int_equal(authn_password_generate(b, sizeof(b)), PV_OK);
	assert_int_equal(strlen(a), AUTHN_OTP_LEN);
	assert_string_not_equal(a, b);
	for (i = 0; i < AUTHN_OTP_LEN; i++)
		assert_null(strchr("0O1lI", a[i]));   /* no look-alikes */
	/* a generated password passes the policy it will be replaced under */
	assert_int_equal(authn_password_check_policy(a, 12, "alice", NULL, why, sizeof(why)), PV_OK);
}

static void test_source_key(void **state)
{
	char out[AUTHN_SOURCE_MAX];

	(void)state;
	authn_source_key("192.0.2.7", out);
	assert_string_equal(out, "192.0.2.7");
	authn_source_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", out);
	assert_string_equal(out, "2001:db8:1:2::/64");
	authn_source_key("2001:db8:1:2::1", out);
	assert_string_equal(out, "2001:db8:1:2::/64");
	authn_source_key("::ffff:198.51.100.4", out);
	assert_string_equal(out, "198.51.100.4");
	authn_source_key(NULL, out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usernames),
		cmocka_unit_test(test_generated_passwords),
		cmocka_unit_test(test_source_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
