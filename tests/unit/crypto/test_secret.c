/*
 * test_secret: key memory (struct pv_secret), the CSPRNG wrapper, wipe and
 * constant-time compare.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/hexvec.h"

static void
test_secret_new_is_zeroed(void **state)
{
	static const size_t sizes[] = { 1, 16, 32, 64, 65, 4096, 10000 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct pv_secret *s = NULL;

		assert_int_equal(crypto_secret_new(sizes[i], &s), PV_OK);
		assert_non_null(s);
		assert_int_equal(s->len, sizes[i]);
		assert_true(hexvec_all_zero(s->buf, s->len));
		/* All of it is writable. */
		memset(s->buf, 0x5a, s->len);
		crypto_secret_free(s);
	}
	crypto_secret_free(NULL);   /* allowed, no effect */
}

/* Memory handed back and out again comes back zeroed, not holding the
 * previous key (slots are wiped when freed). */
static void
test_secret_reuse_is_wiped(void **state)
{
	struct pv_secret *s[200];
	size_t i;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(crypto_secret_new(32, &s[i]), PV_OK);
		memset(s[i]->buf, 0xee, 32);
	}
	/* Distinct, non-overlapping buffers. */
	for (i = 1; i < 200; i++)
		assert_true(s[i]->buf != s[i - 1]->buf);
	for (i = 0; i < 200; i += 2)
		crypto_secret_free(s[i]);
	for (i = 0; i < 200; i += 2) {
		assert_int_equal(crypto_secret_new(32, &s[i]), PV_OK);
		assert_true(hexvec_all_zero(s[i]->buf, 32));
	}
	/* Odd ones kept their contents through all that. */
	for (i = 1; i < 200; i += 2) {
		size_t k;

		for (k = 0; k < 32; k++)
			assert_int_equal(s[i]->buf[k], 0xee);
	}
	for (i = 0; i < 200; i++)
		crypto_secret_free(s[i]);
}

/*
 * VmFlags of the mapping that holds p, from /proc/self/smaps ("dd": do not
 * dump, "lo": locked), copied into flags as " f1 f2 ... "; 0 if found.
 */
static int
vm_flags_of(const void *p, char *flags, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, rc = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		char sp;

		/* Mapping header: "lo-hi perms ..."; field lines are "Name: ...". */
		if (sscanf(line, "%lx-%lx%c", &lo, &hi, &sp) == 3 && sp == ' ') {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(flags, cap, "%s ", line + 8);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static bool
has_flag(const char *flags, const char *flag)
{
	char want[8];

	snprintf(want, sizeof(want), " %s ", flag);
	return strstr(flags, want) != NULL;
}

/* What an operator would check: key pages are excluded from core dumps and,
 * where the process may lock memory at all, locked. */
static void
test_secret_memory_flags(void **state)
{
	static const size_t sizes[] = { 32, 5000 };
	long pg = sysconf(_SC_PAGESIZE);
	bool can_lock;
	void *probe;
	size_t i;

	(void)state;
	probe = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(probe != MAP_FAILED);
	/* Locking can be refused (RLIMIT_MEMLOCK) or be a no-op (ASan
	 * intercepts mlock): only expect "lo" if a probe page gets it. */
	{
		char pf[512];

		can_lock = mlock(probe, (size_t)pg) == 0 &&
		    vm_flags_of(probe, pf, sizeof(pf)) == 0 && has_flag(pf, "lo");
	}
	munmap(probe, (size_t)pg);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct pv_secret *s = NULL;
		char flags[512];

		assert_int_equal(crypto_secret_new(sizes[i], &s), PV_OK);
		assert_int_equal(vm_flags_of(s->buf, flags, sizeof(flags)), 0);
		assert_true(has_flag(flags, "dd"));
		if (can_lock)
			assert_true(has_flag(flags, "lo"));
		else
			print_message("mlock not permitted here: lock not checked\n");
		crypto_secret_free(s);
	}
}

static void
test_secret_from(void **state)
{
	static const uint8_t key[32] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
		0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	};
	struct pv_secret *s = NULL;

	(void)state;
	assert_int_equal(crypto_secret_from(key, sizeof(key), &s), PV_OK);
	assert_int_equal(s->len, sizeof(key));
	assert_true(s->buf != key);
	assert_memory_equal(s->buf, key, sizeof(key));
	crypto_secret_free(s);
}

static void
test_secret_random(void **state)
{
	struct pv_secret *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(crypto_secret_random(32, &a), PV_OK);
	assert_int_equal(crypto_secret_random(32, &b), PV_OK);
	assert_int_equal(a->len, 32);
	/* P(all zero) = 2^-256; P(equal) = 2^-256. */
	assert_false(hexvec_all_zero(a->buf, a->len));
	assert_memory_not_equal(a->buf, b->buf, 32);
	crypto_secret_free(a);
	crypto_secret_free(b);
}

static void
test_secret_bad_args(void **state)
{
	struct pv_secret *s = (struct pv_secret *)0x1;

	(void)state;
	assert_int_equal(crypto_secret_new(0, &s), PV_E_INVALID);
	assert_ptr_equal(s, (struct pv_secret *)0x1);   /* untouched on failure */
	assert_int_equal(crypto_secret_from(NULL, 8, &s), PV_E_INVALID);
	assert_int_equal(crypto_secret_new(8, NULL), PV_E_INVALID);
}

static void
test_random(void **state)
{
	uint8_t a[64], b[64];

	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_int_equal(crypto_random(a, sizeof(a)), PV_OK);
	assert_int_equal(crypto_random(b, sizeof(b)), PV_OK);
	assert_false(hexvec_all_zero(a, sizeof(a)));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypto_random(a, 0), PV_OK);
}

static void
test_wipe(void **state)
{
	uint8_t buf[100];

	(void)state;
	memset(buf, 0xff, sizeof(buf));
	crypto_wipe(buf + 10, 50);
	assert_true(hexvec_all_zero(buf + 10, 50));
	assert_int_equal(buf[9], 0xff);
	assert_int_equal(buf[60], 0xff);
	crypto_wipe(NULL, 10);      /* allowed, no effect */
	crypto_wipe(buf, 0);
	assert_int_equal(buf[0], 0xff);
}

static void
test_memeq(void **state)
{
	uint8_t a[32], b[32];
	size_t i;

	(void)state;
	memset(a, 0x42, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(crypto_memeq(a, b, sizeof(a)));
	assert_true(crypto_memeq(a, b, 0));
	/* A difference in any byte position, first to last, is seen. */
	for (i = 0; i < sizeof(b); i++) {
		b[i] ^= 0x01;
		assert_false(crypto_memeq(a, b, sizeof(a)));
		b[i] ^= 0x01;
	}
	b[31] ^= 0x80;
	assert_true(crypto_memeq(a, b, 31));   /* only len bytes compared */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_new_is_zeroed),
		cmocka_unit_test(test_secret_reuse_is_wiped),
		cmocka_unit_test(test_secret_memory_flags),
		cmocka_unit_test(test_secret_from),
		cmocka_unit_test(test_secret_random),
		cmocka_unit_test(test_secret_bad_args),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_memeq),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
