/*
 * arena: bump allocator for one request. Blocks are chained; arena_free
 * wipes every block (a request may have held PHI or tokens) and frees them.
 * Invariant: every size computation is checked for overflow before use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define ARENA_ALIGN 16

struct arena_block {
	struct arena_block *next;
	size_t size;   /* usable bytes in data[] */
	size_t used;
	_Alignas(16) unsigned char data[];   /* malloc is 16-aligned on glibc; keep data so */
};

struct pv_arena {
	struct arena_block *head;   /* current block (most recent) */
	struct arena_block *first;
	size_t block_size;
};

static struct arena_block *
block_new(size_t size)
{
	struct arena_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct pv_arena *
arena_new(size_t block_size)
{
	struct pv_arena *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->block_size = block_size ? block_size : 8192;
	a->first = a->head = block_new(a->block_size);
	if (a->first == NULL) {
		free(a);
		return NULL;
	}
	return a;
}

void *
arena_alloc(struct pv_arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t off, need;

	if (n > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	off = (b->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (off > b->size || n > b->size - off) {
		need = n > a->block_size ? n : a->block_size;
		b = block_new(need);
		if (b == NULL)
			return NULL;
		/* keep `first` at the chain's end so reset can drop the rest */
		b->next = a->head;
		a->head = b;
		off = 0;
	}
	b->used = off + n;
	memset(b->data + off, 0, n);
	return b->data + off;
}

char *
arena_strdup(struct pv_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

char *
arena_printf(struct pv_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = arena_alloc(a, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static void
block_wipe(struct arena_block *b)
{
	/* volatile write so the compiler keeps it */
	explicit_bzero(b->data, b->used);
	b->used = 0;
}

void
arena_reset(struct pv_arena *a)
{
	struct arena_block *b = a->head, *next;

	while (b != a->first) {
		next = b->next;
		block_wipe(b);
		free(b);
		b = next;
	}
	a->head = a->first;
	block_wipe(a->first);
}

void
arena_free(struct pv_arena *a)
{
	if (a == NULL)
		return;
	arena_reset(a);
	free(a->first);
	free(a);
}
