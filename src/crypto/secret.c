/*
 * secret.c: process setup (crypto_init), the CSPRNG wrapper, and the memory
 * that holds key bytes (struct pv_secret), plus wipe / constant-time compare.
 *
 * Secret memory (CONVENTIONS.md "Secrets and memory"; CERT MEM03-C, MSC06-C):
 *  - Every secret lives in anonymous mmap()ed pages that are mlock()ed (never
 *    swapped) and madvise(MADV_DONTDUMP)ed (left out of core dumps). If the
 *    process may not lock memory (RLIMIT_MEMLOCK in containers: EPERM,
 *    ENOMEM, EAGAIN) we warn once and carry on unlocked; DONTDUMP is still
 *    required.
 *  - Small secrets (<= SLOT_SIZE bytes: every key phivault uses) come from
 *    slabs: one locked 4 KiB region cut into 64 slots of 64 bytes, taken and
 *    returned under a mutex. A DEK is unwrapped on every record read, so this
 *    keeps the hot path free of mmap/mlock/munmap syscalls. Larger secrets
 *    get a page-rounded mapping of their own.
 *  - A slot or mapping is zeroed when handed out and OPENSSL_cleanse()d when
 *    returned, before it is reused or unmapped. At most one empty slab is
 *    kept for reuse; further empty slabs are wiped and unmapped.
 *
 * Slab invariants (under slab_mu): slot i of a slab is in use iff bit i of
 * slab->used is set; bit 0 stays clear and unused so a full slab has
 * used == SLAB_FULL; slab->nused == popcount(used).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define SLAB_BYTES 4096u
#define SLOT_SIZE 64u
#define SLOTS_PER_SLAB (SLAB_BYTES / SLOT_SIZE)  /* 64: one uint64_t bitmap */
/* Slot 0 is never used: it keeps "all usable slots taken" a single compare. */
#define SLAB_FULL (~(uint64_t)1)

struct slab {
	uint8_t *base;        /* SLAB_BYTES usable, mapping is map_len */
	size_t map_len;
	bool locked;
	uint64_t used;
	unsigned nused;
	struct slab *next;
};

/* What crypto_secret_new hands out; callers see only .pub. */
struct secret_box {
	struct pv_secret pub;
	struct slab *slab;    /* NULL: buf is its own mapping of map_len bytes */
	size_t map_len;
	bool locked;
};

static pthread_mutex_t slab_mu = PTHREAD_MUTEX_INITIALIZER;
static struct slab *slabs;          /* every slab, in use or empty */
static unsigned empty_slabs;
static atomic_bool mlock_warned;

void
crypto_ossl_fail(const char *op)
{
	char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warn("crypto: %s failed: %s", op, buf);
	} else {
		log_warn("crypto: %s failed", op);
	}
	ERR_clear_error();
}

void
crypto_ossl_clear(void)
{
	ERR_clear_error();
}

enum pv_rc
crypto_init(void)
{
	uint8_t probe[16];

	/* RAND_status() == 1 means the DRBG is seeded (getrandom on Linux). */
	if (RAND_status() != 1 || RAND_bytes(probe, sizeof(probe)) != 1) {
		crypto_ossl_fail("RAND_status");
		return PV_E_CRYPTO;
	}
	OPENSSL_cleanse(probe, sizeof(probe));
	if (!crypto_gcm_ready() || !crypto_md_ready()) {
		log_error("crypto: libcrypto lacks AES-GCM, SHA-256, HMAC or HKDF");
		return PV_E_CRYPTO;
	}
	return PV_OK;
}

/* RAND_bytes / RAND_priv_bytes take an int length; draw in chunks. */
static enum pv_rc
draw(int (*fn)(unsigned char *, int), void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		int n = len > (size_t)INT_MAX ? INT_MAX : (int)len;

		if (fn(p, n) != 1) {
			crypto_ossl_fail("RAND_bytes");
			return PV_E_CRYPTO;
		}
		p += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

enum pv_rc
crypto_random(void *buf, size_t len)
{
	if (buf == NULL && len > 0)
		return PV_E_INVALID;
	return draw(RAND_bytes, buf, len);
}

void
crypto_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

bool
crypto_memeq(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return true;
	return CRYPTO_memcmp(a, b, len) == 0;
}

/*
 * Map len bytes (page-rounded), exclude them from core dumps and try to lock
 * them. *map_len gets the mapping size, *locked whether mlock succeeded.
 */
static enum pv_rc
map_locked(size_t len, void **out, size_t *map_len, bool *locked)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096u;
	size_t n;
	void *p;

	if (len > SIZE_MAX - page)
		return PV_E_TOOBIG;
	n = (len + page - 1) / page * page;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return PV_E_NOMEM;
	if (madvise(p, n, MADV_DONTDUMP) != 0) {
		log_error("crypto: madvise(MADV_DONTDUMP) failed errno=%d", errno);
		munmap(p, n);
		return PV_E_CRYPTO;
	}
	*locked = mlock(p, n) == 0;
	if (!*locked) {
		int e = errno;

		if (e != EPERM && e != ENOMEM && e != EAGAIN) {
			log_error("crypto: mlock failed errno=%d", e);
			munmap(p, n);
			return PV_E_NOMEM;
		}
		if (!atomic_exchange(&mlock_warned, true))
			log_warn("crypto: mlock refused (errno=%d, RLIMIT_MEMLOCK?): "
			    "key memory may be swapped", e);
	}
	*out = p;
	*map_len = n;
	return PV_OK;
}

static void
unmap_wiped(void *p, size_t map_len, bool locked)
{
	OPENSSL_cleanse(p, map_len);
	if (locked)
		munlock(p, map_len);
	munmap(p, map_len);
}

/* Called with slab_mu held. */
static enum pv_rc
slot_take(struct slab **slab_out, uint8_t **buf_out)
{
	struct slab *s;
	enum pv_rc rc;
	void *base;
	unsigned i;

	for (s = slabs; s != NULL; s = s->next)
		if (s->used != SLAB_FULL)
			break;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return PV_E_NOMEM;
		rc = map_locked(SLAB_BYTES, &base, &s->map_len, &s->locked);
		if (rc != PV_OK) {
			free(s);
			return rc;
		}
		s->base = base;
		s->next = slabs;
		slabs = s;
		empty_slabs++;
	}
	/* Lowest clear bit, skipping slot 0. */
	i = (unsigned)__builtin_ctzll(~(s->used | 1u));
	if (s->nused == 0)
		empty_slabs--;
	s->used |= (uint64_t)1 << i;
	s->nused++;
	*slab_out = s;
	*buf_out = s->base + (size_t)i * SLOT_SIZE;
	return PV_OK;
}

/* Called with slab_mu held; the slot was wiped by the caller. */
static void
slot_give(struct slab *s, uint8_t *buf)
{
	unsigned i = (unsigned)((size_t)(buf - s->base) / SLOT_SIZE);
	struct slab **pp;

	s->used &= ~((uint64_t)1 << i);
	s->nused--;
	if (s->nused > 0)
		return;
	if (empty_slabs == 0) {
		empty_slabs++;          /* keep one for the next secret */
		return;
	}
	for (pp = &slabs; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	unmap_wiped(s->base, s->map_len, s->locked);
	free(s);
}

enum pv_rc
crypto_secret_new(size_t len, struct pv_secret **out)
{
	struct secret_box *b;
	enum pv_rc rc;
	void *p;

	if (len == 0 || out == NULL)
		return PV_E_INVALID;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return PV_E_NOMEM;
	if (len <= SLOT_SIZE) {
		if (pthread_mutex_lock(&slab_mu) != 0) {
			free(b);
			return PV_E_INTERNAL;
		}
		rc = slot_take(&b->slab, &b->pub.buf);
		pthread_mutex_unlock(&slab_mu);
		if (rc != PV_OK) {
			free(b);
			return rc;
		}
		/* Slots are wiped on return and fresh mappings are zero. */
	} else {
		rc = map_locked(len, &p, &b->map_len, &b->locked);
		if (rc != PV_OK) {
			free(b);
			return rc;
		}
		b->pub.buf = p;
	}
	b->pub.len = len;
	*out = &b->pub;
	return PV_OK;
}

void
crypto_secret_free(struct pv_secret *s)
{
	struct secret_box *b;

	if (s == NULL)
		return;
	/* pub is the first member: s points at the start of its box. */
	b = (struct secret_box *)(void *)s;
	if (b->slab != NULL) {
		OPENSSL_cleanse(b->pub.buf, SLOT_SIZE);
		pthread_mutex_lock(&slab_mu);
		slot_give(b->slab, b->pub.buf);
		pthread_mutex_unlock(&slab_mu);
	} else {
		unmap_wiped(b->pub.buf, b->map_len, b->locked);
	}
	OPENSSL_cleanse(b, sizeof(*b));
	free(b);
}

enum pv_rc
crypto_secret_random(size_t len, struct pv_secret **out)
{
	struct pv_secret *s = NULL;
	enum pv_rc rc;

	if (out == NULL)
		return PV_E_INVALID;
	rc = crypto_secret_new(len, &s);
	if (rc != PV_OK)
		goto out;
	/* Key material comes from OpenSSL's private DRBG, separate from the
	 * one whose output (IVs, IDs) is visible to others. */
	rc = draw(RAND_priv_bytes, s->buf, len);
	if (rc != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	crypto_secret_free(s);
	return rc;
}

enum pv_rc
crypto_secret_from(const void *buf, size_t len, struct pv_secret **out)
{
	struct pv_secret *s = NULL;
	enum pv_rc rc;

	if (buf == NULL || out == NULL)
		return PV_E_INVALID;
	rc = crypto_secret_new(len, &s);
	if (rc != PV_OK)
		return rc;
	memcpy(s->buf, buf, len);
	*out = s;
	return PV_OK;
}
