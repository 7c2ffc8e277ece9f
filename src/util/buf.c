/*
 * buf.c: growable memory (util.h "growable memory"): the byte buffer every
 * text and binary writer of the tree uses, RFC 4180 fields, and the one
 * array growth step of the scan callbacks that collect rows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void
util_buf_put(struct util_buf *b, const void *s, size_t n)
{
	size_t need, cap;
	char *np;

	if (b->failed || n == 0)
		return;
	if (n > SIZE_MAX - b->len - 1 || (b->max > 0 && n > b->max - b->len)) {
		b->failed = true;
		b->toobig = b->max > 0;
		return;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (b->wipe) {
			/* no realloc: it could leave a copy behind in freed memory */
			if ((np = malloc(cap)) != NULL && b->p != NULL) {
				memcpy(np, b->p, b->len + 1);
				explicit_bzero(b->p, b->cap);
				free(b->p);
			}
		} else {
			np = realloc(b->p, cap);
		}
		if (np == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
util_buf_puts(struct util_buf *b, const char *s)
{
	util_buf_put(b, s, strlen(s));
}

void
util_buf_free(struct util_buf *b)
{
	size_t max = b->max;
	bool wipe = b->wipe;

	if (b->p != NULL && wipe)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	*b = (struct util_buf){ .max = max, .wipe = wipe };
}

void
util_csv_cell(struct util_buf *b, const char *s, bool last)
{
	s = s != NULL ? s : "";
	if (strpbrk(s, ",\"\r\n") != NULL) {
		util_buf_put(b, "\"", 1);
		for (const char *p = s; *p != '\0'; p++) {
			util_buf_put(b, p, 1);
			if (*p == '"')
				util_buf_put(b, "\"", 1);   /* RFC 4180 2.7: a quote is doubled */
		}
		util_buf_put(b, "\"", 1);
	} else {
		util_buf_puts(b, s);
	}
	util_buf_put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

int
util_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t nc;
	void *p, *np;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : (first ? first : 16);
	if (nc < *cap || nc > SIZE_MAX / elem)
		return -1;
	memcpy(&p, arr, sizeof(p));   /* *arr is some T *: read and written as bytes */
	if ((np = realloc(p, nc * elem)) == NULL)
		return -1;
	memcpy(arr, &np, sizeof(np));
	*cap = nc;
	return 0;
}
