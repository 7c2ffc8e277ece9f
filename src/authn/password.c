/*
 * password: Argon2id hashing and the password policy.
 *
 * Hashing (RFC 9106 Argon2id through libsodium crypto_pwhash_str_alg): the
 * stored form is libsodium's encoded string "$argon2id$v=19$m=..,t=..,p=1$
 * <salt>$<hash>", which carries its own parameters, so raising them later
 * only needs authn_password_needs_rehash() at the next login.
 *
 * Policy (NIST SP 800-63B §5.1.1.2 "Memorized Secret Verifiers"):
 *  - at least min_len characters, counted in Unicode code points, and at
 *    least 64 allowed (we allow 1024); no composition rules;
 *  - compared against "passwords obtained from previous breach corpuses,
 *    dictionary words, repetitive or sequential characters, context-specific
 *    words such as the name of the service, the username": our shipped list
 *    (blocklist.c), cracklib's packed dictionary (libcrack2 +
 *    cracklib-runtime), our own repetition/sequence checks and the
 *    username/email checks.
 *
 * Invariants:
 *  - sodium_init() runs once (pthread_once) before any libsodium call; if it
 *    failed, hashing is PV_E_CRYPTO and verification PV_E_UNAUTH.
 *  - cracklib is not thread-safe (static buffers): every call holds
 *    crack_lock, which also guards the dictionary path. The path is
 *    cracklib's default (/var/cache/cracklib/cracklib_dict.*) until the
 *    server sets [auth] password_dictionary (authn_password_dictionary_set);
 *    `serve` refuses to start when that dictionary is missing. Elsewhere
 *    (offline commands, --dev) a missing dictionary is said once and the
 *    shipped list alone applies (compliance can report
 *    authn_password_cracklib_available()).
 *  - The dummy hash for unknown users is made at the same parameters as
 *    real hashes, so authn_password_verify_dummy costs what a real verify
 *    costs. It is remade if the parameters change.
 *  - A reason written to `why` never contains password text.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <crack.h>
#include <sodium.h>

#include "authn/authn.h"
#include "authn/authn_int.h"
#include "crypto/crypto.h"

/* cracklib works on fixed 1 KiB buffers; a password this long is not in any
 * dictionary, so longer ones skip it (they still meet the other checks). */
#define CRACKLIB_MAX_BYTES 256
/* Repeating a unit this short is a pattern, not a passphrase. */
#define PATTERN_UNIT_MAX 4
/* Username / email local part shorter than this is only compared for
 * equality (a two-letter name would otherwise forbid half the alphabet). */
#define CONTEXT_MIN_CONTAIN 3
/* §5.1.1.2 "context-specific words, such as the name of the service". */
#define SERVICE_NAME "phivault"

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummy_encoded[crypto_pwhash_STRBYTES];
static unsigned long long dummy_ops;
static size_t dummy_mem;
static bool dummy_ready;

/*
 * At most one Argon2id computation per CPU this process may run on. Each one
 * holds memlimit bytes (19 MiB by default) for its whole run; with 8 HTTP
 * worker threads per core, a burst of logins would otherwise hold 8 times
 * that and, sharing the caches, finish no sooner (docs/performance.md:
 * 8 concurrent logins on one core, peak RSS 120-160 MiB, and 0.74-0.97x of
 * Argon2id alone instead of 0.9-1.05x). Waiting for a slot is the same for
 * known and unknown users (the dummy verify takes one too).
 */
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_cv = PTHREAD_COND_INITIALIZER;
static int slots_free;

static pthread_once_t crack_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *crack_dict;          /* NULL or crack_dict_path; under crack_lock */
static char crack_dict_path[1024];

static void
sodium_setup(void)
{
	sodium_ok = sodium_init() >= 0;
	if (!sodium_ok)
		log_error("authn: sodium_init failed");
}

static bool
sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_setup);
	return sodium_ok;
}

static void
slots_setup(void)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	slots_free = n > 0 ? n : 1;
}

/* false only if the lock is broken: the caller fails closed. */
static bool
slot_take(void)
{
	if (pthread_once(&slots_once, slots_setup) != 0 || pthread_mutex_lock(&slots_mu) != 0)
		return false;
	while (slots_free == 0)
		(void)pthread_cond_wait(&slots_cv, &slots_mu);
	slots_free--;
	(void)pthread_mutex_unlock(&slots_mu);
	return true;
}

static void
slot_give(void)
{
	if (pthread_mutex_lock(&slots_mu) != 0)
		return;
	slots_free++;
	(void)pthread_cond_signal(&slots_cv);
	(void)pthread_mutex_unlock(&slots_mu);
}

static bool
params_ok(unsigned long long opslimit, size_t memlimit)
{
	return opslimit >= crypto_pwhash_OPSLIMIT_MIN && opslimit <= crypto_pwhash_OPSLIMIT_MAX &&
	    memlimit >= crypto_pwhash_MEMLIMIT_MIN && memlimit <= crypto_pwhash_MEMLIMIT_MAX;
}

enum pv_rc
authn_password_hash(const char *pw, unsigned long long opslimit, size_t memlimit,
    char encoded[crypto_pwhash_STRBYTES])
{
	char tmp[crypto_pwhash_STRBYTES];
	enum pv_rc rc;
	size_t len;
	bool ok;

	if (pw == NULL || encoded == NULL || !params_ok(opslimit, memlimit)) {
		rc = PV_E_INVALID;
		goto out;
	}
	len = strnlen(pw, AUTHN_PASSWORD_MAX_BYTES + 1);
	if (len > AUTHN_PASSWORD_MAX_BYTES) {
		rc = PV_E_INVALID;
		goto out;
	}
	if (!sodium_ready()) {
		rc = PV_E_CRYPTO;
		goto out;
	}
	if (!slot_take()) {
		rc = PV_E_CRYPTO;
		goto out;
	}
	ok = crypto_pwhash_str_alg(tmp, pw, len, opslimit, memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) == 0;
	slot_give();
	if (!ok) {
		/* libsodium's only runtime failure here is memory. */
		log_error("authn: argon2id hash failed (memlimit %zu)", memlimit);
		rc = PV_E_CRYPTO;
		goto out;
	}
	memcpy(encoded, tmp, sizeof(tmp));
	rc = PV_OK;
out:
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}

enum pv_rc
authn_password_verify(const char *encoded, const char *pw)
{
	size_t len;
	bool ok;

	if (encoded == NULL || pw == NULL || !sodium_ready())
		return PV_E_UNAUTH;
	len = strnlen(pw, AUTHN_PASSWORD_MAX_BYTES + 1);
	if (len > AUTHN_PASSWORD_MAX_BYTES)
		return PV_E_UNAUTH;
	if (strnlen(encoded, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
		return PV_E_UNAUTH;
	if (!slot_take())
		return PV_E_UNAUTH;
	ok = crypto_pwhash_str_verify(encoded, pw, len) == 0;
	slot_give();
	return ok ? PV_OK : PV_E_UNAUTH;
}

bool
authn_password_needs_rehash(const char *encoded, unsigned long long opslimit, size_t memlimit)
{
	if (encoded == NULL || !sodium_ready() || !params_ok(opslimit, memlimit))
		return true;
	if (strnlen(encoded, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
		return true;
	/* 0: same algorithm and parameters; 1: different; -1: not ours. */
	return crypto_pwhash_str_needs_rehash(encoded, opslimit, memlimit) != 0;
}

enum pv_rc
authn_password_verify_dummy(const char *pw, unsigned long long opslimit, size_t memlimit)
{
	char enc[crypto_pwhash_STRBYTES];
	uint8_t rnd[24];
	char rndhex[2 * sizeof(rnd) + 1];
	bool have = false;
	size_t len;

	if (pw == NULL || !sodium_ready() || !params_ok(opslimit, memlimit))
		return PV_E_UNAUTH;
	if (pthread_mutex_lock(&dummy_lock) != 0)
		return PV_E_UNAUTH;
	if (!dummy_ready || dummy_ops != opslimit || dummy_mem != memlimit) {
		/* A password nobody knows: the dummy must never verify. */
		randombytes_buf(rnd, sizeof(rnd));
		util_hex_encode(rnd, sizeof(rnd), rndhex);
		if (authn_password_hash(rndhex, opslimit, memlimit, dummy_encoded) == PV_OK) {
			dummy_ops = opslimit;
			dummy_mem = memlimit;
			dummy_ready = true;
		} else {
			dummy_ready = false;
		}
		sodium_memzero(rnd, sizeof(rnd));
		sodium_memzero(rndhex, sizeof(rndhex));
	}
	if (dummy_ready) {
		memcpy(enc, dummy_encoded, sizeof(enc));
		have = true;
	}
	pthread_mutex_unlock(&dummy_lock);

	if (have) {
		len = strnlen(pw, AUTHN_PASSWORD_MAX_BYTES + 1);
		/* Nobody knows the dummy's password; a match would mean a
		 * broken RNG. Either way the answer is "no". */
		if (len <= AUTHN_PASSWORD_MAX_BYTES && slot_take()) {
			if (crypto_pwhash_str_verify(enc, pw, len) == 0)
				log_error("authn: dummy password hash matched");
			slot_give();
		}
	}
	return PV_E_UNAUTH;
}

/* ---------------------------------------------------------------- policy */

static enum pv_rc
refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum pv_rc
refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return PV_E_INVALID;
}

static char
lower_ascii(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void
lower_copy(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = lower_ascii(src[i]);
	dst[n] = '\0';
}

/* True if lower-cased pw equals or contains the lower-cased word w[0..wlen). */
static bool
context_match(const char *lpw, const char *w, size_t wlen)
{
	char lw[AUTHN_PASSWORD_MAX_BYTES + 1];
	bool hit;

	if (wlen == 0 || wlen > AUTHN_PASSWORD_MAX_BYTES)
		return false;
	lower_copy(lw, w, wlen);
	hit = strcmp(lpw, lw) == 0 || (wlen >= CONTEXT_MIN_CONTAIN && strstr(lpw, lw) != NULL);
	crypto_wipe(lw, wlen);
	return hit;
}

/* Smallest period p of cps[0..n): cps[i] == cps[i - p] for all i >= p. */
static size_t
smallest_period(const uint32_t *cps, size_t n)
{
	size_t p, i;

	for (p = 1; p < n; p++) {
		for (i = p; i < n; i++)
			if (cps[i] != cps[i - p])
				break;
		if (i == n)
			return p;
	}
	return n;
}

/* Position of c in a run alphabet (digits wrap 9 -> 0, letters fold case),
 * or -1. Digits and letters are separate runs. */
static int
run_pos(uint32_t c, int *cls)
{
	if (c >= '0' && c <= '9') {
		*cls = 0;
		return (int)(c - '0');
	}
	if (c >= 'a' && c <= 'z') {
		*cls = 1;
		return (int)(c - 'a');
	}
	if (c >= 'A' && c <= 'Z') {
		*cls = 1;
		return (int)(c - 'A');
	}
	return -1;
}

/* "123456789012", "abcdefghijkl", "987654321098", "zyxwvutsrqpo". */
static bool
is_simple_run(const uint32_t *cps, size_t n)
{
	int cls0, cls, step = 0, prev, cur, d;
	size_t i;

	if (n < 3 || (prev = run_pos(cps[0], &cls0)) < 0)
		return false;
	for (i = 1; i < n; i++) {
		if ((cur = run_pos(cps[i], &cls)) < 0 || cls != cls0)
			return false;
		if (cls == 0)                  /* digits wrap: 9 -> 0 is +1 */
			d = (cur - prev + 10) % 10 == 1 ? 1 : (prev - cur + 10) % 10 == 1 ? -1 : 0;
		else
			d = cur - prev == 1 ? 1 : prev - cur == 1 ? -1 : 0;
		if (d == 0 || (step != 0 && d != step))
			return false;
		step = d;
		prev = cur;
	}
	return true;
}

/* Strip leading and trailing characters that are not letters (digits,
 * symbols, spaces): "password123!" -> "password", "!!qwerty" -> "qwerty". */
static void
strip_decorations(const char *in, char *out, size_t outcap)
{
	size_t b = 0, e = strlen(in), n;

	while (b < e && !((in[b] >= 'a' && in[b] <= 'z') || (unsigned char)in[b] >= 0x80))
		b++;
	while (e > b && !((in[e - 1] >= 'a' && in[e - 1] <= 'z') ||
	    (unsigned char)in[e - 1] >= 0x80))
		e--;
	n = e - b < outcap ? e - b : outcap - 1;
	memcpy(out, in + b, n);
	out[n] = '\0';
}

/* Undo the usual character substitutions: "p@ssw0rd" -> "password". */
static void
unleet(const char *in, char *out, size_t outcap)
{
	static const char from[] = "@4310$5!7+", to[] = "aaeiossitt";
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outcap; i++) {
		const char *p = strchr(from, in[i]);

		out[i] = p != NULL ? to[p - from] : in[i];
	}
	out[i] = '\0';
}

static bool
shipped_list_has(const char *lpw)
{
	char stripped[AUTHN_PASSWORD_MAX_BYTES + 1], leet[AUTHN_PASSWORD_MAX_BYTES + 1];
	bool hit;

	strip_decorations(lpw, stripped, sizeof(stripped));
	unleet(lpw, leet, sizeof(leet));
	hit = authn_blocklist_has(lpw) || authn_blocklist_has(leet) ||
	    (stripped[0] != '\0' && authn_blocklist_has(stripped));
	if (!hit) {
		/* strip then undo substitutions: "p4ssw0rd123" -> "p4ssw0rd" -> "password" */
		unleet(stripped, leet, sizeof(leet));
		hit = leet[0] != '\0' && authn_blocklist_has(leet);
	}
	if (!hit) {
		/* undo then strip: "p@ssw0rd!!" -> "password!!"... -> "password" */
		unleet(lpw, leet, sizeof(leet));
		strip_decorations(leet, stripped, sizeof(stripped));
		hit = stripped[0] != '\0' && authn_blocklist_has(stripped);
	}
	crypto_wipe(stripped, sizeof(stripped));
	crypto_wipe(leet, sizeof(leet));
	return hit;
}

/* PV_OK if the packed dictionary d (d.pwd, d.pwi, d.hwm) is readable. */
enum pv_rc
authn_password_dictionary_check(const char *d)
{
	static const char *const ext[] = { ".pwd", ".pwi", ".hwm" };
	char path[1024];
	size_t i;

	if (d == NULL || d[0] == '\0')
		return PV_E_INVALID;
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		if (snprintf(path, sizeof(path), "%s%s", d, ext[i]) >= (int)sizeof(path))
			return PV_E_INVALID;
		if (access(path, R_OK) != 0)
			return PV_E_NOTFOUND;
	}
	return PV_OK;
}

static void
crack_setup(void)
{
	const char *d = GetDefaultCracklibDict();

	if (d != NULL && strlen(d) < sizeof(crack_dict_path) &&
	    authn_password_dictionary_check(d) == PV_OK) {
		util_strlcpy(crack_dict_path, d, sizeof(crack_dict_path));
		crack_dict = crack_dict_path;
	}
}

enum pv_rc
authn_password_dictionary_set(const char *d)
{
	enum pv_rc rc;

	if (d == NULL || strlen(d) >= sizeof(crack_dict_path))
		return PV_E_INVALID;
	if ((rc = authn_password_dictionary_check(d)) != PV_OK)
		return rc;
	pthread_once(&crack_once, crack_setup);
	if (pthread_mutex_lock(&crack_lock) != 0)
		return PV_E_INTERNAL;
	util_strlcpy(crack_dict_path, d, sizeof(crack_dict_path));
	crack_dict = crack_dict_path;
	pthread_mutex_unlock(&crack_lock);
	return PV_OK;
}

bool
authn_password_cracklib_available(void)
{
	bool ok;

	pthread_once(&crack_once, crack_setup);
	if (pthread_mutex_lock(&crack_lock) != 0)
		return false;
	ok = crack_dict != NULL;
	pthread_mutex_unlock(&crack_lock);
	return ok;
}

/* cracklib's verdict: NULL if acceptable, else its (fixed, password-free)
 * message. */
static const char *
cracklib_verdict(const char *pw, const char *username)
{
	const char *msg = NULL;

	static bool warned;

	pthread_once(&crack_once, crack_setup);
	if (pthread_mutex_lock(&crack_lock) != 0)
		return "cracklib unavailable";
	if (crack_dict == NULL) {
		if (!warned)
			log_warn("authn: cracklib dictionary not found (install cracklib-runtime, "
			    "or set [auth] password_dictionary); passwords are checked against "
			    "the shipped list only");
		warned = true;
		pthread_mutex_unlock(&crack_lock);
		return NULL;
	}
	/* FascistCheckUser, not FascistCheck: the latter compares against the
	 * gecos of the *process* user, which means nothing here. */
	msg = FascistCheckUser(pw, crack_dict, username != NULL ? username : "", "");
	pthread_mutex_unlock(&crack_lock);
	if (msg != NULL && strstr(msg, "error loading dictionary") != NULL) {
		log_warn("authn: cracklib could not load its dictionary");
		return NULL;
	}
	return msg;
}

enum pv_rc
authn_password_check_policy(const char *pw, int min_len, const char *username,
    const char *email, char *why, size_t whylen)
{
	uint32_t cps[AUTHN_PASSWORD_MAX_CODEPOINTS + 1], cp;
	char lpw[AUTHN_PASSWORD_MAX_BYTES + 1], unit[AUTHN_PASSWORD_MAX_BYTES + 1];
	size_t blen, off = 0, n = 0, step, p, k;
	const char *at, *msg;
	enum pv_rc rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	lpw[0] = unit[0] = '\0';
	if (min_len < 1)
		min_len = 1;
	if (pw == NULL) {
		rc = refuse(why, whylen, "password is required");
		goto out;
	}
	blen = strnlen(pw, AUTHN_PASSWORD_MAX_BYTES + 1);
	if (blen > AUTHN_PASSWORD_MAX_BYTES) {
		rc = refuse(why, whylen, "password is too long: at most %d characters",
		    AUTHN_PASSWORD_MAX_CODEPOINTS);
		goto out;
	}

	/* Length in code points (§5.1.1.2: "each Unicode code point SHALL be
	 * counted as a single character"), refusing what cannot be typed back. */
	while (off < blen) {
		step = util_utf8_next((const unsigned char *)pw + off, blen - off, &cp);
		if (step == 0) {
			rc = refuse(why, whylen, "password is not valid UTF-8");
			goto out;
		}
		if (util_is_control(cp)) {
			rc = refuse(why, whylen, "password contains a control character");
			goto out;
		}
		if (n == AUTHN_PASSWORD_MAX_CODEPOINTS) {
			rc = refuse(why, whylen, "password is too long: at most %d characters",
			    AUTHN_PASSWORD_MAX_CODEPOINTS);
			goto out;
		}
		cps[n++] = cp;
		off += step;
	}
	if (n < (size_t)min_len) {
		rc = refuse(why, whylen, "password is too short: at least %d characters", min_len);
		goto out;
	}

	/* Context-specific words (§5.1.1.2). */
	lower_copy(lpw, pw, blen);
	if (username != NULL &&
	    context_match(lpw, username, strnlen(username, AUTHN_PASSWORD_MAX_BYTES + 1))) {
		rc = refuse(why, whylen, "password must not contain the username");
		goto out;
	}
	if (email != NULL && (at = strchr(email, '@')) != NULL &&
	    context_match(lpw, email, (size_t)(at - email))) {
		rc = refuse(why, whylen, "password must not contain the email name");
		goto out;
	}

	if (context_match(lpw, SERVICE_NAME, strlen(SERVICE_NAME))) {
		rc = refuse(why, whylen, "password must not contain the service name");
		goto out;
	}

	/* Repetitive or sequential characters (§5.1.1.2). */
	p = smallest_period(cps, n);
	if (p == 1) {
		rc = refuse(why, whylen, "password is one repeated character");
		goto out;
	}
	if (p <= PATTERN_UNIT_MAX) {
		rc = refuse(why, whylen, "password repeats a short pattern");
		goto out;
	}
	if (is_simple_run(cps, n)) {
		rc = refuse(why, whylen, "password is a simple sequence");
		goto out;
	}

	/* Breach corpuses and dictionary words (§5.1.1.2). */
	if (shipped_list_has(lpw)) {
		rc = refuse(why, whylen, "password is too common (on the list of breached passwords)");
		goto out;
	}
	if (p < n) {
		/* "passwordpassword": the repeated unit itself is common. */
		for (k = 0, off = 0; k < p; k++)
			off += util_utf8_next((const unsigned char *)lpw + off, blen - off, &cp);
		memcpy(unit, lpw, off);
		unit[off] = '\0';
		if (shipped_list_has(unit)) {
			rc = refuse(why, whylen, "password is too common (a breached password repeated)");
			goto out;
		}
	}
	if (blen <= CRACKLIB_MAX_BYTES && (msg = cracklib_verdict(pw, username)) != NULL) {
		rc = refuse(why, whylen, "password is too easy to guess (cracklib: %s)", msg);
		goto out;
	}
	rc = PV_OK;
out:
	crypto_wipe(lpw, sizeof(lpw));
	crypto_wipe(unit, sizeof(unit));
	crypto_wipe(cps, sizeof(cps));
	return rc;
}
