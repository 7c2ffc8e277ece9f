/* util: RFC 4648 §10 test vectors, strict decoding, arena, IDs, time format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"

static const char *rfc4648_in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
static const char *rfc4648_b64[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
static const char *rfc4648_b32[] = { "", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI" };
static const char *rfc4648_hex[] = { "", "66", "666f", "666f6f", "666f6f62", "666f6f6261", "666f6f626172" };

static void
test_b64_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		char out[16];
		uint8_t dec[16];
		size_t declen = sizeof(dec);

		util_b64_encode((const uint8_t *)rfc4648_in[i], strlen(rfc4648_in[i]), out);
		assert_string_equal(out, rfc4648_b64[i]);
		assert_int_equal(util_b64_decode(rfc4648_b64[i], dec, &declen), 0);
		assert_int_equal(declen, strlen(rfc4648_in[i]));
		assert_memory_equal(dec, rfc4648_in[i], declen);
	}
}

static void
test_b64_strict(void **state)
{
	uint8_t dec[16];
	size_t n;

	(void)state;
	n = sizeof(dec);
	assert_int_equal(util_b64_decode("Zm9", dec, &n), -1);      /* not a multiple of 4 */
	n = sizeof(dec);
	assert_int_equal(util_b64_decode("Zm9v!A==", dec, &n), -1); /* bad char */
	n = sizeof(dec);
	assert_int_equal(util_b64_decode("Zh==", dec, &n), -1);     /* non-zero pad bits */
	n = sizeof(dec);
	assert_int_equal(util_b64_decode("Z===", dec, &n), -1);
	n = 2;
	assert_int_equal(util_b64_decode("Zm9v", dec, &n), -1);     /* does not fit */
}

static void
test_b32_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		char out[32];
		uint8_t dec[16];
		size_t declen = sizeof(dec);

		util_b32_encode((const uint8_t *)rfc4648_in[i], strlen(rfc4648_in[i]), out, sizeof(out));
		assert_string_equal(out, rfc4648_b32[i]);
		assert_int_equal(util_b32_decode(rfc4648_b32[i], dec, &declen), 0);
		assert_int_equal(declen, strlen(rfc4648_in[i]));
		assert_memory_equal(dec, rfc4648_in[i], declen);
	}
	/* lowercase accepted (authenticator apps), padding tolerated, junk refused */
	{
		uint8_t dec[16];
		size_t declen = sizeof(dec);

		assert_int_equal(util_b32_decode("mzxw6ytboi======", dec, &declen), 0);
		assert_int_equal(declen, 6);
		declen = sizeof(dec);
		assert_int_equal(util_b32_decode("MZXW1", dec, &declen), -1);
	}
}

static void
test_hex(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		char out[16];
		uint8_t dec[8];
		size_t len = strlen(rfc4648_in[i]);

		util_hex_encode((const uint8_t *)rfc4648_in[i], len, out);
		assert_string_equal(out, rfc4648_hex[i]);
		assert_int_equal(util_hex_decode(rfc4648_hex[i], dec, len), 0);
		assert_memory_equal(dec, rfc4648_in[i], len);
	}
	{
		uint8_t d[2];

		assert_int_equal(util_hex_decode("0g00", d, 2), -1);
		assert_int_equal(util_hex_decode("000", d, 2), -1);
		assert_int_equal(util_hex_decode("ABcd", d, 2), 0);
		assert_int_equal(d[0], 0xab);
	}
}

static void
test_arena(void **state)
{
	struct pv_arena *a = arena_new(64);
	char *s, *big;
	int i;

	(void)state;
	assert_non_null(a);
	for (i = 0; i < 1000; i++) {
		uint8_t *p = arena_alloc(a, 24);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_int_equal(p[0] | p[23], 0);   /* zeroed */
		memset(p, 0xaa, 24);
	}
	big = arena_alloc(a, 100000);
	assert_non_null(big);
	s = arena_printf(a, "%s-%d", "rec", 42);
	assert_string_equal(s, "rec-42");
	assert_string_equal(arena_strdup(a, "x"), "x");
	assert_null(arena_alloc(a, SIZE_MAX - 8));   /* overflow refused */
	arena_reset(a);
	assert_non_null(arena_alloc(a, 8));
	arena_free(a);
	arena_free(NULL);
}

static void
test_ids(void **state)
{
	char a[UTIL_ID_MAX], b[UTIL_ID_MAX];

	(void)state;
	assert_int_equal(util_id_new("usr", a), PV_OK);
	assert_int_equal(util_id_new("usr", b), PV_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), 4 + 26);
	assert_true(util_id_valid("usr", a));
	assert_false(util_id_valid("rec", a));
	assert_false(util_id_valid("usr", "usr_"));
	assert_false(util_id_valid("usr", "usr_ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
	assert_false(util_id_valid("usr", "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa/"));
}

static void
test_time_and_rc(void **state)
{
	char buf[32];

	(void)state;
	util_time_fmt(1111111111123LL, buf, sizeof(buf));
	assert_string_equal(buf, "2005-03-18T01:58:31.123Z");
	assert_true(util_mono_ms() > 0);
	assert_string_equal(pv_rc_name(PV_E_JSON), "invalid_json");
	assert_string_equal(pv_rc_name((enum pv_rc)999), "unknown");
	{
		int i;
		/* every code has a name: the enum is contiguous, 0 .. PV_E__COUNT - 1 */
		for (i = 0; i < PV_E__COUNT; i++) {
			assert_string_not_equal(pv_rc_name((enum pv_rc)i), "unknown");
		}
	}
}

#define UTIL_T0 1795000000000LL   /* 2026-11-18T...Z */

/* util_time_parse reads back exactly what util_time_fmt writes, nothing else. */
static void
test_time_parse(void **state)
{
	char buf[32];

	(void)state;
	util_time_fmt(UTIL_T0 + 123, buf, sizeof(buf));
	assert_int_equal(util_time_parse(buf), UTIL_T0 + 123);
	/* differential against the writer's formatter, 1970 .. 2200 */
	for (int64_t t = 0; t < 7258118400000LL; t += 7919LL * 3600000 + 12345) {
		util_time_fmt(t, buf, sizeof(buf));
		assert_int_equal(util_time_parse(buf), t);
	}
	util_time_fmt(951782400000LL, buf, sizeof(buf));   /* 2000-02-29 */
	assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
	assert_int_equal(util_time_parse(buf), 951782400000LL);
	assert_int_equal(util_time_parse("2026-02-30T00:00:00.000Z"), -1);
	assert_int_equal(util_time_parse("2026-11-22T23:00:00.00xZ"), -1);
	assert_int_equal(util_time_parse("2026-11-22 23:00:00.000Z"), -1);
	assert_int_equal(util_time_parse("2026-11-22T23:00:00Z"), -1);
	assert_int_equal(util_time_parse("2026-13-22T23:00:00.000Z"), -1);
	assert_int_equal(util_time_parse(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test(test_b32_vectors),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_time_and_rc),
		cmocka_unit_test(test_time_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
