/*
 * chain.c: what an audit entry is, byte for byte.
 *
 * Owns the canonical encoding of a row (audit_canonical), the chain hash
 * (audit_chain_hash), the checkpoint message (audit_checkpoint_message), the
 * checkpoint key id, and the validation that turns a caller's struct
 * audit_event into the exact text that is stored (audit_prepare).
 *
 * Canonical encoding, version 1 (docs/internals/audit.md repeats it for
 * outside verifiers):
 *
 *   "phivault-audit-v1"                      17 bytes, no length, no NUL
 *   seq                                      8 bytes, big-endian, two's complement
 *   for each of time, actor, action, resource, purpose_of_use, outcome,
 *   reason, detail, prev_hash (this order):
 *     length                                 4 bytes, big-endian
 *     bytes                                  the stored text, no NUL
 *
 *   hash = lowercase hex(SHA-256(raw 32-byte prev_hash || canonical))
 *
 * Invariants:
 *  - Every field is length-prefixed, so no two different rows encode to the
 *    same bytes (moving a byte from one field to the next changes a length).
 *  - The encoding never changes; a new one gets a new tag ("-v2").
 *  - Stored text never holds control characters (checked here), so the
 *    entry exports to one line of JSON, CEF or syslog without ambiguity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit_int.h"
#include "crypto/crypto.h"

const char *audit_outcome_name(enum audit_outcome o)
{
	switch (o) {
	case AUDIT_ALLOWED:
		return "allowed";
	case AUDIT_DENIED:
		return "denied";
	case AUDIT_ERROR:
		return "error";
	}
	return "error";
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* NULL encodes like "": the store never hands out NULL for a text column. */
static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* The nine fields of the encoding, their lengths and the total; checked
 * (a length must fit its 4-byte prefix, the sum must not wrap). */
struct canon {
	const char *fields[9];
	size_t flen[9];
	size_t total;
};

static enum pv_rc canon_measure(const struct store_audit_row *row, struct canon *c)
{
	size_t taglen = sizeof(AUDIT_CANON_TAG) - 1;

	c->fields[0] = row->time;
	c->fields[1] = row->actor;
	c->fields[2] = row->action;
	c->fields[3] = row->resource;
	c->fields[4] = row->purpose_of_use;
	c->fields[5] = row->outcome;
	c->fields[6] = row->reason;
	c->fields[7] = row->detail;
	c->fields[8] = row->prev_hash;
	c->total = taglen + 8;
	for (size_t i = 0; i < 9; i++) {
		/* The exact stored bytes: a row read back carries its column
		 * lengths, so a NUL and text appended after it are hashed too. */
		c->flen[i] = row->has_len ? row->len[i] : strlen(or_empty(c->fields[i]));
		if (c->flen[i] > 0 && !c->fields[i])
			return PV_E_INVALID;
		/* A length must fit its 4-byte prefix, and the sum must not wrap. */
		if (c->flen[i] > UINT32_MAX || c->flen[i] > SIZE_MAX - c->total - 4)
			return PV_E_INVALID;
		c->total += 4 + c->flen[i];
	}
	return PV_OK;
}

/* buf holds c->total bytes */
static void canon_write(const struct store_audit_row *row, const struct canon *c, uint8_t *buf)
{
	size_t taglen = sizeof(AUDIT_CANON_TAG) - 1;
	uint8_t *p = buf;

	memcpy(p, AUDIT_CANON_TAG, taglen);
	p += taglen;
	put_be64(p, (uint64_t)row->seq);
	p += 8;
	for (size_t i = 0; i < 9; i++) {
		put_be32(p, (uint32_t)c->flen[i]);
		p += 4;
		if (c->flen[i])
			memcpy(p, c->fields[i], c->flen[i]);
		p += c->flen[i];
	}
}

enum pv_rc audit_canonical(const struct store_audit_row *row, uint8_t **out, size_t *len)
{
	enum pv_rc rc;
	struct canon c;
	uint8_t *buf;

	if (!row || !out || !len)
		return PV_E_INVALID;
	if ((rc = canon_measure(row, &c)) != PV_OK)
		return rc;
	if ((buf = malloc(c.total)) == NULL)
		return PV_E_NOMEM;
	canon_write(row, &c, buf);
	*out = buf;
	*len = c.total;
	return PV_OK;
}

/* The encoding of an entry as the committer appends it fits here (the
 * benchmark's read: about 600 bytes); a longer one is encoded on the heap. */
#define CANON_STACK 2048

enum pv_rc audit_chain_hash(const struct store_audit_row *row, char out[65])
{
	enum pv_rc rc;
	uint8_t prev[CRYPTO_SHA256_LEN], digest[CRYPTO_SHA256_LEN];
	uint8_t stack[CANON_STACK], *canon;
	struct canon c;

	if (!row || !row->prev_hash || strlen(row->prev_hash) != 2 * CRYPTO_SHA256_LEN ||
	    (row->has_len && row->len[8] != 2 * CRYPTO_SHA256_LEN) ||
	    util_hex_decode(row->prev_hash, prev, sizeof prev) != 0)
		return PV_E_INVALID;
	if ((rc = canon_measure(row, &c)) != PV_OK)
		return rc;
	canon = c.total <= sizeof stack ? stack : malloc(c.total);
	if (canon == NULL)
		return PV_E_NOMEM;
	canon_write(row, &c, canon);
	rc = crypto_sha256_2(prev, sizeof prev, canon, c.total, digest);
	if (rc == PV_OK)
		util_hex_encode(digest, sizeof digest, out);
	if (canon != stack)
		free(canon);
	return rc;
}

size_t audit_checkpoint_message(int64_t seq, const char *hash_hex, char *buf, size_t cap)
{
	int n;

	if (!hash_hex || !buf || cap == 0)
		return 0;
	n = snprintf(buf, cap, "phivault-audit-checkpoint-v1\n%lld\n%s\n", (long long)seq, hash_hex);
	if (n < 0 || (size_t)n >= cap) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

enum pv_rc audit_key_id(const uint8_t pub[CRYPTO_ED25519_PUB_LEN], char out[17])
{
	uint8_t digest[CRYPTO_SHA256_LEN];
	enum pv_rc rc = crypto_sha256(pub, CRYPTO_ED25519_PUB_LEN, digest);

	if (rc != PV_OK)
		return rc;
	util_hex_encode(digest, 8, out);
	return PV_OK;
}

enum pv_rc audit_key_fingerprint(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    char out[AUDIT_FINGERPRINT_LEN + 1])
{
	uint8_t digest[CRYPTO_SHA256_LEN];
	enum pv_rc rc;

	if (!pub || !out)
		return PV_E_INVALID;
	rc = crypto_sha256(pub, CRYPTO_ED25519_PUB_LEN, digest);
	if (rc != PV_OK)
		return rc;
	memcpy(out, "SHA256:", 7);
	util_hex_encode(digest, sizeof digest, out + 7);
	return PV_OK;
}

/* DER of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4) before the 32 key
 * bytes: SEQUENCE(42) { SEQUENCE(5) { OID 1.3.101.112 }, BIT STRING(33) 00 }. */
static const uint8_t ed25519_spki_prefix[12] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
};

enum pv_rc audit_public_key_from_pem(const char *pem, size_t len,
    uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	static const char begin[] = "-----BEGIN PUBLIC KEY-----";
	static const char end[] = "-----END PUBLIC KEY-----";
	char b64[128];
	uint8_t der[64];
	size_t n = 0, derlen = sizeof der, i;
	const char *p, *e;

	if (!pem || !pub || len > 4096 || memchr(pem, '\0', len))
		return PV_E_INVALID;
	p = pem;
	e = pem + len;
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if ((size_t)(e - p) < sizeof begin - 1 || memcmp(p, begin, sizeof begin - 1) != 0)
		return PV_E_INVALID;
	p += sizeof begin - 1;
	/* base64 lines up to the END line; whitespace between them ignored */
	for (; p < e && *p != '-'; p++) {
		if (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t')
			continue;
		if (n + 1 >= sizeof b64)
			return PV_E_INVALID;
		b64[n++] = *p;
	}
	b64[n] = '\0';
	if ((size_t)(e - p) < sizeof end - 1 || memcmp(p, end, sizeof end - 1) != 0)
		return PV_E_INVALID;
	for (i = (size_t)(p - pem) + sizeof end - 1; i < len; i++)
		if (pem[i] != '\r' && pem[i] != '\n' && pem[i] != ' ' && pem[i] != '\t')
			return PV_E_INVALID;
	if (util_b64_decode(b64, der, &derlen) != 0 ||
	    derlen != sizeof ed25519_spki_prefix + CRYPTO_ED25519_PUB_LEN ||
	    memcmp(der, ed25519_spki_prefix, sizeof ed25519_spki_prefix) != 0)
		return PV_E_INVALID;
	memcpy(pub, der + sizeof ed25519_spki_prefix, CRYPTO_ED25519_PUB_LEN);
	return PV_OK;
}

enum pv_rc audit_head_parse(const char *s, int64_t *seq, char hash[65])
{
	const char *colon;
	int64_t v = 0;

	if (!s || !seq || !hash || !(colon = strchr(s, ':')) || colon == s || colon - s > 18)
		return PV_E_INVALID;
	for (const char *p = s; p < colon; p++) {
		if (*p < '0' || *p > '9')
			return PV_E_INVALID;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || strlen(colon + 1) != 64)
		return PV_E_INVALID;
	for (int i = 0; i < 64; i++) {
		char c = colon[1 + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return PV_E_INVALID;
	}
	*seq = v;
	memcpy(hash, colon + 1, 65);
	return PV_OK;
}

/*
 * UTF-8 per RFC 3629 section 4 (no overlongs, no surrogates, <= U+10FFFF),
 * and no C0 (U+0000..U+001F), DEL, or C1 (U+0080..U+009F) controls: a
 * control character in an entry could forge a line in a syslog or CEF sink.
 */
bool audit_text_ok(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, n = 0, step;
	uint32_t cp;

	if (!s)
		return false;
	len = strnlen(s, max + 1);
	if (len > max)
		return false;
	while (n < len) {
		step = util_utf8_next(p + n, len - n, &cp);
		if (step == 0 || util_is_control(cp))
			return false;
		n += step;
	}
	return true;
}

void audit_prepared_clear(struct audit_prepared *p)
{
	if (!p)
		return;
	free(p->actor);
	free(p->detail);
	free(p->subjects);
	memset(p, 0, sizeof *p);
}

struct pv_actor
audit_actor_system(void)
{
	struct pv_actor a;

	memset(&a, 0, sizeof(a));
	a.kind = PV_ACTOR_SYSTEM;
	a.user_id = "system";
	return a;
}

static int ref_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 64);
}

static bool ref_ok(const char *r)
{
	if (!r || strlen(r) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((r[i] >= '0' && r[i] <= '9') || (r[i] >= 'a' && r[i] <= 'f')))
			return false;
	return true;
}

/*
 * The subject refs and the recipient of a PHI access into the detail
 * ("subjects": sorted, unique; "recipient") and the refs into p->subjects
 * for the index rows. The caller's detail must not hold either key itself:
 * what is indexed is exactly what the chain covers.
 */
static enum pv_rc detail_subjects(const struct audit_event *ev, json_t *detail,
    struct audit_prepared *p)
{
	json_t *arr;
	size_t n = 0;

	if (json_object_get(detail, "subjects") || json_object_get(detail, "recipient"))
		return PV_E_INVALID;
	if (ev->recipient) {
		if (!ev->recipient[0] || !audit_text_ok(ev->recipient, AUDIT_TEXT_MAX) ||
		    json_object_set_new(detail, "recipient", json_string(ev->recipient)) != 0)
			return PV_E_INVALID;
	}
	if (ev->nsubjects == 0)
		return PV_OK;
	if (ev->nsubjects > AUDIT_SUBJECTS_MAX || !ev->subjects)
		return PV_E_INVALID;
	if (!(p->subjects = calloc(ev->nsubjects, sizeof *p->subjects)))
		return PV_E_NOMEM;
	for (size_t i = 0; i < ev->nsubjects; i++) {
		if (!ref_ok(ev->subjects[i]))
			return PV_E_INVALID;
		memcpy(p->subjects[i], ev->subjects[i], 65);
	}
	qsort(p->subjects, ev->nsubjects, sizeof *p->subjects, ref_cmp);
	for (size_t i = 0; i < ev->nsubjects; i++)
		if (n == 0 || memcmp(p->subjects[n - 1], p->subjects[i], 64) != 0)
			memmove(p->subjects[n++], p->subjects[i], 65);
	p->nsubjects = n;
	if (!(arr = json_array()) || json_object_set_new(detail, "subjects", arr) != 0)
		return PV_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(p->subjects[i])) != 0)
			return PV_E_NOMEM;
	return PV_OK;
}

/*
 * The stored text of a JSON value written directly: exactly the bytes of
 * json_dumpb(j, JSON_COMPACT | JSON_SORT_KEYS) (jansson 2.14, the library
 * this links: keys ordered by memcmp then length; a string's '"' and '\\',
 * \b \f \n \r \t and \u00XX for the other control characters escaped,
 * everything else, UTF-8 included, as it is; integers "%lld"; reals as
 * jansson writes them, by jansson), without jansson's per-character
 * callbacks and the key array and sort it builds for every object: about
 * two thirds of an audited read's audit_prepare. What this writer does not
 * take (an object of more than JW_KEYS members, nesting deeper than
 * JW_DEPTH, a string that is not UTF-8) it leaves to json_dumpb (JW_OTHER).
 * tests/unit/audit/test_json_text.c compares the two on every kind of value.
 */
#define JW_KEYS 64
#define JW_DEPTH 32
#define JW_OTHER PV_E_UNSUPPORTED

struct jw {
	char *p;
	size_t n, cap, max;
	char stack[1024];
	enum pv_rc rc;
};

/* Room for n more bytes at w->p + w->n (NULL and w->rc set if not). */
static char *jw_room(struct jw *w, size_t n)
{
	if (w->rc != PV_OK)
		return NULL;
	if (n > w->max - w->n) {
		w->rc = PV_E_INVALID;   /* longer than max */
		return NULL;
	}
	if (n > w->cap - w->n) {
		size_t cap = w->cap * 2 > w->n + n ? w->cap * 2 : w->n + n;
		char *q = malloc(cap);

		if (q == NULL) {
			w->rc = PV_E_NOMEM;
			return NULL;
		}
		memcpy(q, w->p, w->n);
		if (w->p != w->stack)
			free(w->p);
		w->p = q;
		w->cap = cap;
	}
	return w->p + w->n;
}

static void jw_put(struct jw *w, const char *s, size_t n)
{
	char *q = jw_room(w, n);

	if (q != NULL) {
		memcpy(q, s, n);
		w->n += n;
	}
}

/* A string as jansson writes it (util_json_string_put); one that is not
 * UTF-8, which jansson refuses, is left to it. */
static void jw_string(struct jw *w, const char *s, size_t len)
{
	size_t i = 0, step, need;
	uint32_t cp;
	char *q;

	if (w->rc != PV_OK)
		return;
	while (i < len) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		if ((step = util_utf8_next((const unsigned char *)s + i, len - i, &cp)) == 0) {
			w->rc = JW_OTHER;
			return;
		}
		i += step;
	}
	need = util_json_string_len(s, len);
	if ((q = jw_room(w, need)) != NULL) {
		util_json_string_put(q, s, len);
		w->n += need;
	}
}

struct jw_key {
	const char *k;
	size_t len;
	json_t *v;
};

static int jw_key_cmp(const void *a, const void *b)
{
	const struct jw_key *x = a, *y = b;
	size_t min = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->k, y->k, min);

	if (r != 0)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void jw_value(struct jw *w, json_t *j, int depth)
{
	char num[64];
	int n;

	if (w->rc != PV_OK)
		return;
	if (depth > JW_DEPTH) {
		w->rc = JW_OTHER;
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		struct jw_key keys[JW_KEYS];
		size_t nk = 0;
		const char *k;
		size_t klen;
		json_t *v;

		if (json_object_size(j) > JW_KEYS) {
			w->rc = JW_OTHER;
			return;
		}
		json_object_keylen_foreach(j, k, klen, v) {
			keys[nk++] = (struct jw_key){ k, klen, v };
		}
		qsort(keys, nk, sizeof keys[0], jw_key_cmp);
		jw_put(w, "{", 1);
		for (size_t i = 0; i < nk; i++) {
			if (i > 0)
				jw_put(w, ",", 1);
			jw_string(w, keys[i].k, keys[i].len);
			jw_put(w, ":", 1);
			jw_value(w, keys[i].v, depth + 1);
		}
		jw_put(w, "}", 1);
		break;
	}
	case JSON_ARRAY:
		jw_put(w, "[", 1);
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i > 0)
				jw_put(w, ",", 1);
			jw_value(w, json_array_get(j, i), depth + 1);
		}
		jw_put(w, "]", 1);
		break;
	case JSON_STRING:
		jw_string(w, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		jw_put(w, num, (size_t)n);
		break;
	case JSON_REAL: {
		/* jansson's own digits (precision, ".0", exponent form) */
		size_t rn = json_dumpb(j, num, sizeof num, JSON_COMPACT | JSON_ENCODE_ANY);

		if (rn == 0 || rn > sizeof num) {
			w->rc = JW_OTHER;
			return;
		}
		jw_put(w, num, rn);
		break;
	}
	case JSON_TRUE:
		jw_put(w, "true", 4);
		break;
	case JSON_FALSE:
		jw_put(w, "false", 5);
		break;
	case JSON_NULL:
		jw_put(w, "null", 4);
		break;
	default:
		w->rc = JW_OTHER;
	}
}

/* The text of j (an object or array) as json_dumpb(JSON_COMPACT |
 * JSON_SORT_KEYS) writes it, NUL-terminated, into one malloc'd block.
 * PV_E_INVALID if it is longer than max; JW_OTHER: not taken (above). */
enum pv_rc audit_json_text(json_t *j, size_t max, char **out, size_t *len)
{
	struct jw w = { .max = max, .rc = PV_OK };
	char *t;

	if (!json_is_object(j) && !json_is_array(j))
		return JW_OTHER;
	w.p = w.stack;
	w.cap = sizeof w.stack;
	jw_value(&w, j, 0);
	if (w.rc == PV_OK && (t = malloc(w.n + 1)) != NULL) {
		memcpy(t, w.p, w.n);
		t[w.n] = '\0';
		*out = t;
		if (len)
			*len = w.n;
	} else if (w.rc == PV_OK) {
		w.rc = PV_E_NOMEM;
	}
	if (w.p != w.stack)
		free(w.p);
	return w.rc;
}

/*
 * The actor object's text, written member by member in key order (auth,
 * auth_time, break_glass, elevations, session_id, source, user_id): the
 * optional members only when set (older entries and anonymous or system
 * actors keep their exact form); session_id and source null when NULL.
 * Every text is checked first (audit_text_ok: UTF-8, no control character).
 */
static void jw_key_str(struct jw *w, const char *key, const char *v, bool first)
{
	if (!first)
		jw_put(w, ",", 1);
	jw_string(w, key, strlen(key));
	jw_put(w, ":", 1);
	if (v)
		jw_string(w, v, strlen(v));
	else
		jw_put(w, "null", 4);
}

static enum pv_rc actor_text(const struct pv_actor *a, const char *user, char **out)
{
	struct jw w = { .max = SIZE_MAX, .rc = PV_OK };
	char t[32];
	bool first = true;

	if (a->nelevations > PV_ACTOR_ELEVATIONS_MAX ||
	    (a->auth_method && !audit_text_ok(a->auth_method, AUDIT_TEXT_MAX)) ||
	    (a->break_glass && !audit_text_ok(a->break_glass, AUDIT_TEXT_MAX)))
		return PV_E_INVALID;
	for (size_t i = 0; i < a->nelevations; i++)
		if (!a->elevations[i] || !audit_text_ok(a->elevations[i], AUDIT_TEXT_MAX))
			return PV_E_INVALID;
	w.p = w.stack;
	w.cap = sizeof w.stack;
	jw_put(&w, "{", 1);
	if (a->auth_method) {
		jw_key_str(&w, "auth", a->auth_method, first);
		first = false;
	}
	if (a->auth_ms > 0) {
		util_time_fmt(a->auth_ms, t, sizeof(t));
		jw_key_str(&w, "auth_time", t, first);
		first = false;
	}
	if (a->break_glass) {
		jw_key_str(&w, "break_glass", a->break_glass, first);
		first = false;
	}
	if (a->nelevations > 0) {
		if (!first)
			jw_put(&w, ",", 1);
		jw_put(&w, "\"elevations\":[", 14);
		for (size_t i = 0; i < a->nelevations; i++) {
			if (i > 0)
				jw_put(&w, ",", 1);
			jw_string(&w, a->elevations[i], strlen(a->elevations[i]));
		}
		jw_put(&w, "]", 1);
		first = false;
	}
	jw_key_str(&w, "session_id", a->session_id, first);
	jw_key_str(&w, "source", a->source, false);
	jw_key_str(&w, "user_id", user, false);
	jw_put(&w, "}", 1);
	if (w.rc == PV_OK) {
		if ((*out = malloc(w.n + 1)) != NULL) {
			memcpy(*out, w.p, w.n);
			(*out)[w.n] = '\0';
		} else {
			w.rc = PV_E_NOMEM;
		}
	}
	if (w.p != w.stack)
		free(w.p);
	/* the texts were checked: a string jw_string cannot take is a bug */
	return w.rc == PV_OK || w.rc == PV_E_NOMEM ? w.rc : PV_E_INVALID;
}

/*
 * The stored text of a JSON value: compact, sorted keys (json_dumps' bytes),
 * into one malloc'd string: audit_json_text, or what it does not take
 * dumped by jansson into a stack buffer first (json_dumps would grow a
 * buffer from 16 bytes by doubling and then copy it); json_dumpb says the
 * length, so a longer text is dumped once more into a block of its exact
 * size. PV_E_INVALID if the text is longer than max.
 */
static enum pv_rc
dump_sorted(json_t *j, size_t max, char **out)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
	char buf[1024], *t;
	size_t n;
	enum pv_rc rc = audit_json_text(j, max, out, NULL);

	if (rc != JW_OTHER)
		return rc;
	n = json_dumpb(j, buf, sizeof buf, flags);
	if (n == 0)
		return PV_E_NOMEM;   /* "{}" at least: 0 is jansson's failure */
	if (n > max)
		return PV_E_INVALID;
	if ((t = malloc(n + 1)) == NULL)
		return PV_E_NOMEM;
	if (n <= sizeof buf)
		memcpy(t, buf, n);
	else if (json_dumpb(j, t, n, flags) != n) {
		free(t);
		return PV_E_NOMEM;
	}
	t[n] = '\0';
	*out = t;
	return PV_OK;
}

/* The detail object to store: the caller's text parsed, the caller's tree
 * itself (nothing to add to it) or a shallow copy that the subjects and
 * the recipient go into (its values are shared, never changed), or {}. */
static enum pv_rc
detail_tree(const struct audit_event *ev, json_t **out)
{
	json_error_t jerr;
	json_t *d;

	if (ev->detail != NULL && ev->detail_obj != NULL)
		return PV_E_INVALID;
	if (ev->detail != NULL) {
		if (strlen(ev->detail) > AUDIT_DETAIL_MAX)
			return PV_E_INVALID;
		d = json_loads(ev->detail, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(d)) {
			json_decref(d);
			return PV_E_INVALID;
		}
	} else if (ev->detail_obj != NULL) {
		if (!json_is_object(ev->detail_obj))
			return PV_E_INVALID;
		d = ev->recipient == NULL && ev->nsubjects == 0 ? json_incref(ev->detail_obj)
		    : json_copy(ev->detail_obj);
	} else {
		d = json_object();
	}
	if (d == NULL)
		return PV_E_NOMEM;
	*out = d;
	return PV_OK;
}

enum pv_rc audit_prepare(const struct audit_event *ev, struct audit_prepared *out)
{
	enum pv_rc rc = PV_OK;
	struct audit_prepared p = { 0 };
	const char *user;
	json_t *detail = NULL;

	if (!ev || !out)
		return PV_E_INVALID;
	user = ev->actor.user_id ? ev->actor.user_id : "anonymous";
	if (!ev->action || !ev->action[0] || !audit_text_ok(ev->action, AUDIT_TEXT_MAX) ||
	    !audit_text_ok(or_empty(ev->resource), AUDIT_TEXT_MAX) ||
	    !audit_text_ok(or_empty(ev->purpose_of_use), AUDIT_TEXT_MAX) ||
	    !audit_text_ok(or_empty(ev->reason), AUDIT_TEXT_MAX) ||
	    !user[0] || !audit_text_ok(user, AUDIT_TEXT_MAX) ||
	    !audit_text_ok(or_empty(ev->actor.session_id), AUDIT_TEXT_MAX) ||
	    !audit_text_ok(or_empty(ev->actor.source), AUDIT_TEXT_MAX) ||
	    (ev->outcome != AUDIT_ALLOWED && ev->outcome != AUDIT_DENIED &&
		ev->outcome != AUDIT_ERROR)) {
		rc = PV_E_INVALID;
		goto out;
	}
	/* the actor's members are checked texts of at most AUDIT_TEXT_MAX */
	if ((rc = actor_text(&ev->actor, user, &p.actor)) != PV_OK ||
	    (rc = detail_tree(ev, &detail)) != PV_OK ||
	    (rc = detail_subjects(ev, detail, &p)) != PV_OK ||
	    /* one line with a stable key order, whatever the caller's text */
	    (rc = dump_sorted(detail, AUDIT_DETAIL_MAX, &p.detail)) != PV_OK)
		goto out;
	p.action = ev->action;
	p.resource = or_empty(ev->resource);
	p.purpose_of_use = or_empty(ev->purpose_of_use);
	p.outcome = audit_outcome_name(ev->outcome);
	p.reason = or_empty(ev->reason);
	*out = p;
	memset(&p, 0, sizeof p);
out:
	json_decref(detail);
	audit_prepared_clear(&p);
	return rc;
}
