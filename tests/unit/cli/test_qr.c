/*
 * cli_qr_write: the terminal drawing of a QR code is read back module by
 * module (ANSI colours of each upper half block), checked for a QR symbol's
 * structure (side 4*version+17, finder patterns in three corners, the quiet
 * zone) and decoded by zbarimg from a PGM made of those modules: the picture
 * on the screen is the otpauth:// URI it stands for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/cli.h"

#define URI "otpauth://totp/phivault:admin?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" \
	"&issuer=phivault&algorithm=SHA1&digits=6&period=30"
#define MAXW 200

/* Modules read back from the drawing: m[y][x] = 1 dark. Returns the side (with quiet zone). */
static int
parse(const char *s, unsigned char m[MAXW][MAXW])
{
	int x = 0, y = 0, cols = -1, fg, bg, n;

	memset(m, 0, MAXW * MAXW);
	while (*s) {
		if (strncmp(s, "\033[0m\n", 5) == 0) {
			if (cols < 0)
				cols = x;
			assert_int_equal(x, cols);
			x = 0;
			y += 2;
			s += 5;
			continue;
		}
		assert_int_equal(sscanf(s, "\033[%d;%dm%n", &fg, &bg, &n), 2);
		s += n;
		assert_memory_equal(s, "\xe2\x96\x80", 3);
		s += 3;
		assert_true(fg == 30 || fg == 97);
		assert_true(bg == 40 || bg == 107);
		assert_true(x < MAXW && y + 1 < MAXW);
		m[y][x] = fg == 30;
		m[y + 1][x] = bg == 40;
		x++;
	}
	assert_int_equal(x, 0);
	assert_true(cols > 0 && y >= cols);
	return cols;
}

static char *
render(const char *text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(cli_qr_write(f, text), PV_OK);
	fclose(f);
	return buf;
}

/* The 7x7 finder pattern with its top-left module at (x, y). */
static void
assert_finder(unsigned char m[MAXW][MAXW], int x0, int y0)
{
	int x, y;

	for (y = 0; y < 7; y++)
		for (x = 0; x < 7; x++) {
			int ring = x == 0 || y == 0 || x == 6 || y == 6;
			int core = x >= 2 && x <= 4 && y >= 2 && y <= 4;

			assert_int_equal(m[y0 + y][x0 + x], ring || core);
		}
}

static void
test_structure(void **state)
{
	static unsigned char m[MAXW][MAXW];
	char *s = render(URI);
	int side = parse(s, m), w = side - 8, i;

	(void)state;
	free(s);
	assert_true(w >= 21 && (w - 17) % 4 == 0);
	assert_finder(m, 4, 4);
	assert_finder(m, 4 + w - 7, 4);
	assert_finder(m, 4, 4 + w - 7);
	/* no finder in the fourth corner: its centre module belongs to data */
	for (i = 0; i < side; i++) {
		int k;

		for (k = 0; k < 4; k++) {
			assert_int_equal(m[k][i], 0);
			assert_int_equal(m[i][k], 0);
			assert_int_equal(m[side - 1 - k][i], 0);
			assert_int_equal(m[i][side - 1 - k], 0);
		}
	}
}

static void
test_decodes(void **state)
{
	static unsigned char m[MAXW][MAXW];
	const char *tmp = getenv("PV_TEST_TMP");
	char path[512], cmd[700], got[512];
	char *s = render(URI);
	int side = parse(s, m), x, y, k;
	size_t n;
	FILE *f, *p;

	(void)state;
	free(s);
	if (tmp == NULL)
		tmp = "/tmp";
	mkdir(tmp, 0700);
	snprintf(path, sizeof(path), "%s/test_qr-%ld.pgm", tmp, (long)getpid());
	f = fopen(path, "wb");
	assert_non_null(f);
	fprintf(f, "P5\n%d %d\n255\n", side * 4, side * 4);
	for (y = 0; y < side * 4; y++)
		for (x = 0; x < side; x++)
			for (k = 0; k < 4; k++)
				fputc(m[y / 4][x] ? 0 : 255, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "zbarimg -q --raw '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(got, 1, sizeof(got) - 1, p);
	got[n] = '\0';
	assert_int_equal(pclose(p), 0);
	remove(path);
	assert_string_equal(got, URI "\n");
}

static void
test_too_long(void **state)
{
	static char big[4000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(cli_qr_write(stdout, big), PV_E_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_decodes),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
