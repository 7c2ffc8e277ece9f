/*
 * qr: draw a QR code on a terminal (the otpauth:// URI of MFA enrolment in
 * `phivault login`). libqrencode makes the symbol; each line of output holds
 * two module rows as U+2580 UPPER HALF BLOCK with the foreground colour for
 * the upper module and the background colour for the lower one (ANSI: dark =
 * 30/40, light = 97/107), so the code is black on white whatever the
 * terminal's own colours. A quiet zone of QR_QUIET light modules surrounds it.
 */
#include <qrencode.h>
#include <stdio.h>

#include "cli/cli.h"

#define QR_QUIET 4

static int
dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}

enum pv_rc
cli_qr_write(FILE *f, const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int x, y;

	if (q == NULL)
		return PV_E_INVALID;
	for (y = -QR_QUIET; y < q->width + QR_QUIET; y += 2) {
		for (x = -QR_QUIET; x < q->width + QR_QUIET; x++)
			fprintf(f, "\033[%d;%dm\xe2\x96\x80", dark(q, x, y) ? 30 : 97,
			    dark(q, x, y + 1) ? 40 : 107);
		fputs("\033[0m\n", f);
	}
	QRcode_free(q);
	return PV_OK;
}
