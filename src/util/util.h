/*
 * util: the error enum every module returns, logging that never prints PHI,
 * UTC and monotonic time, random IDs, the per-request arena, and the text
 * encodings (hex, base64, base32) used across modules.
 *
 * Invariants:
 *  - enum pv_rc values are fixed forever and only appended; a retired code
 *    keeps its number as PV_E_OBSOLETE_n (curl's CURLcode discipline).
 *  - log_* take IDs and error codes only. There is no helper that formats a
 *    secret, a token or a PHI value, and none must be added.
 */
#ifndef PV_UTIL_H
#define PV_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pv_rc {
	PV_OK = 0,
	PV_E_NOMEM = 1,       /* 500 internal          */
	PV_E_INVALID = 2,     /* 400 invalid_request   */
	PV_E_NOTFOUND = 3,    /* 404 not_found         */
	PV_E_CONFLICT = 4,    /* 409 conflict          */
	PV_E_IO = 5,          /* 500 internal          */
	PV_E_CRYPTO = 6,      /* 500 internal          */
	PV_E_SEALED = 7,      /* 503 sealed            */
	PV_E_UNAUTH = 8,      /* 401 unauthenticated   */
	PV_E_FORBIDDEN = 9,   /* 403 forbidden         */
	PV_E_TOOBIG = 10,     /* 413 payload_too_large */
	PV_E_AUDIT = 11,      /* 503 audit_unavailable */
	PV_E_INTEGRITY = 12,  /* 500 internal: AEAD tag or hash mismatch */
	PV_E_LOCKED = 13,     /* 423 locked            */
	PV_E_EXPIRED = 14,    /* 401 session_expired   */
	PV_E_MFA = 15,        /* 401 mfa_required      */
	PV_E_RATE = 16,       /* 429 rate_limited      */
	PV_E_CONFIG = 17,     /* configuration refused */
	PV_E_INTERNAL = 18,   /* 500 internal          */
	PV_E_PURPOSE = 19,    /* 400 purpose_required  */
	PV_E_REGION = 20,     /* 403 region_not_allowed */
	PV_E_JSON = 21,       /* 400 invalid_json      */
	PV_E_SHARE = 22,      /* 400 invalid_share: malformed unseal share */
	PV_E_STATE = 23,      /* 409 conflict: wrong state for the operation */
	PV_E_UNAVAILABLE = 24,/* 503 unavailable (shutting down, busy) */
	PV_E_METHOD = 25,     /* 405 method_not_allowed */
	PV_E_RESTRICTED = 26, /* 403 password_change_required / restricted session */
	PV_E_PRECONDITION = 27, /* 412 precondition_failed: If-Match does not match */
	PV_PENDING = 28,      /* not an error: the handler completes later (http_resume) */
	PV_E_JOB_CONFLICT = 29, /* 409 job_conflict: a job state change its state does not allow */
	PV_E_NETWORK = 30,    /* 403 network_not_allowed: source address outside a policy's networks */
	PV_E_HOURS = 31,      /* 403 outside_hours: outside a policy's time window */
	PV_E_STEP_UP = 32,    /* 401 step_up_required: fresher MFA needed (RFC 9470) */
	PV_E_POLICY = 33,     /* 403 policy_denied: an explicit deny policy applies */
	PV_E_CONDITION = 34,  /* 403 condition_not_met: a grant's condition (attributes, labels) fails */
	PV_E_READONLY = 35,   /* 500 internal: a write op on a read-only store transaction (a bug) */
	PV_E_RETIRED_KEY_IN_USE = 36, /* 409 retired_key_in_use: the key version still protects objects */
	PV_E_KEY_REVOKED = 37, /* 410 key_revoked: the data's key version was revoked (unrecoverable) */
	PV_E_HSM = 38,        /* 503 hsm_unavailable: the PKCS#11 token is absent or refuses */
	PV_E_UNSUPPORTED = 39, /* 501 unsupported: the store backend cannot do this (yet) */
	PV_E_SUBJECT_SHREDDED = 40, /* 410 subject_shredded: the record's patient was crypto-shredded */
	PV_E_LEGAL_HOLD = 41, /* 409 legal_hold: the subject is under legal hold */
	PV_E_SECRET_DESTROYED = 42, /* 410 secret_version_destroyed: that secret version was destroyed */
	PV_E_SELF_APPROVAL = 43, /* 403 self_approval: the requester (or the change's target) approves */
	PV_E_SEAL_AUTHORITY = 44, /* 403 seal_authority_required: key file / shares missing or wrong */
	PV_E_OFFICER_RESERVED = 45, /* 403 officer_reserved: security_officer / access.approve via the API */
	PV_E_WEBAUTHN = 46,   /* 400 webauthn_invalid: a passkey response fails verification */
	PV_E_CSRF = 47,       /* 403 csrf: a cookie-authenticated change without its X-CSRF-Token */
	PV_E_CERT = 48,       /* 401 certificate_invalid: a client certificate not from phivault's app CA, damaged or revoked */
	PV_E_CERT_EXPIRED = 49, /* 401 certificate_expired: a client certificate outside its validity */
	PV_E_RECIPIENT = 50,  /* 400 invalid_recipient: X-Disclosure-Recipient too long or not printable */
	PV_E_OIDC = 51,              /* 401 oidc_invalid: the IdP's answer or token failed a check */
	PV_E_OIDC_USER = 52,         /* 403 oidc_user_unknown: no user for this (issuer, subject) */
	PV_E_LOCAL_PASSWORD = 53,    /* 403 local_password_disabled: [oidc] local_passwords = breakglass_only */
	PV_E_OIDC_PROVIDER = 54,     /* 502 oidc_provider_unavailable: discovery / JWKS / token request failed */
	PV_E_NOT_ELIGIBLE = 55, /* 403 not_eligible: a JIT elevation to a role the user is not eligible for */
	PV_E_CERT_MISMATCH = 56, /* 401 certificate_mismatch: an mtls app token without its client certificate */
	PV_E_TLS_REFUSED = 57,   /* 422 tls_refused: a TLS reload's certificate/key pair is unusable; the old one is served */
	PV_E__COUNT
};

/* Short stable name of a code ("invalid", "not_found", ...) for logs. */
const char *pv_rc_name(enum pv_rc rc);

/* ---- logging: stderr, one line, UTC timestamp, level; IDs and codes only ---- */
enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };
void log_set_level(enum log_level lvl);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- time ---- */
int64_t util_now_ms(void);     /* wall clock, UTC, milliseconds since the epoch */
int64_t util_mono_ms(void);    /* monotonic, milliseconds */
int64_t util_mono_us(void);    /* monotonic, microseconds (durations; same clock) */
/*
 * The injectable clock behind both (tests only; see time.c for the states).
 * set_fixed freezes the wall clock at now_ms (and the monotonic clock where it
 * is); advance moves both forward by ms (from the real clock: real + offset),
 * PV_E_INVALID if ms < 0 or > UTIL_CLOCK_ADVANCE_MAX_MS; reset returns to the
 * real clock. Thread-safe; callers of util_now_ms/util_mono_ms need no change.
 */
#define UTIL_CLOCK_ADVANCE_MAX_MS (400LL * 86400 * 1000)
void util_clock_set_fixed(int64_t now_ms);
enum pv_rc util_clock_advance(int64_t ms);
void util_clock_reset(void);
bool util_clock_is_real(void);
/* RFC 3339 UTC with milliseconds: "2026-11-22T23:00:00.123Z"; buf >= 25 bytes. */
void util_time_fmt(int64_t ms, char *buf, size_t len);
/* The inverse of util_time_fmt: ms since the epoch of exactly that form
 * (fixed positions, no sscanf or timegm: cheap enough for the detector's
 * path); -1 for anything else. */
int64_t util_time_parse(const char *s);

/* ---- IDs: "<prefix>_" + 26 chars of lowercase base32 of 128 random bits ---- */
#define UTIL_ID_MAX 48
enum pv_rc util_id_new(const char *prefix, char out[UTIL_ID_MAX]);
/* True if s looks like an ID with this prefix (charset and length), for input checks. */
bool util_id_valid(const char *prefix, const char *s);

/* ---- arena: a request's memory, freed in one call ---- */
struct pv_arena;
struct pv_arena *arena_new(size_t block_size);
void *arena_alloc(struct pv_arena *a, size_t n);          /* zeroed, 16-aligned; NULL on overflow/OOM */
char *arena_strdup(struct pv_arena *a, const char *s);
char *arena_printf(struct pv_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_reset(struct pv_arena *a);                      /* keep the first block, drop the rest */
void arena_free(struct pv_arena *a);                       /* wipes and frees every block */

/* ---- strings and encodings. Return 0 on success, -1 on bad input / short buffer. ---- */
size_t util_strlcpy(char *dst, const char *src, size_t size);
bool util_str_has_prefix(const char *s, const char *prefix);

/* hex: out must hold 2*len+1 */
void util_hex_encode(const uint8_t *in, size_t len, char *out);
int util_hex_decode(const char *in, uint8_t *out, size_t outlen);   /* exact length */

/* The UTF-8 sequence at s[0..n) (RFC 3629 section 3: shortest form only, no
 * surrogates, at most U+10FFFF): its length (1..4) with the code point in *cp,
 * or 0 if it is not one (also for n == 0 and for a sequence cut by n). The one
 * decoder every module uses. */
size_t util_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* A C0 control, DEL or a C1 control (U+0080..U+009F). */
bool util_is_control(uint32_t cp);

/* A JSON string's text as jansson's json_dumpb writes it (quotes included;
 * '"' '\\' \b \f \n \r \t escaped, other C0 controls as \u00XX, the rest as
 * is), for valid UTF-8 s[0..n) (json_text.c). _len: its length; _put: writes
 * it at p, which has room for _len bytes, and returns the end (no NUL). */
size_t util_json_string_len(const char *s, size_t n);
char *util_json_string_put(char *p, const char *s, size_t n);

/* base64 (RFC 4648 §4, with padding). encode: out must hold util_b64_len(len)+1 */
size_t util_b64_len(size_t len);
void util_b64_encode(const uint8_t *in, size_t len, char *out);
/* decode: *outlen is capacity in, length out; -1 on any non-canonical input */
int util_b64_decode(const char *in, uint8_t *out, size_t *outlen);

/* base32 (RFC 4648 §6, uppercase, no padding) for TOTP secrets */
void util_b32_encode(const uint8_t *in, size_t len, char *out, size_t outcap);
int util_b32_decode(const char *in, uint8_t *out, size_t *outlen);

/* Read a whole file (at most max bytes) / write one atomically with mode. */
enum pv_rc util_file_read(const char *path, size_t max, uint8_t **buf, size_t *len);
enum pv_rc util_file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode);
/* path join into buf; -1 if it does not fit */
int util_path_join(char *buf, size_t len, const char *dir, const char *name);

/* ---- growable memory (buf.c) ----
 * A byte buffer that grows geometrically and stays NUL-terminated after len
 * (so text can be read as a C string). A growth that fails (no memory, or
 * beyond max when max > 0: toobig too) sets failed and turns every later
 * put into a no-op, so a writer checks failed once at the end. With wipe,
 * storage given up (on growth and in util_buf_free) is zeroed first: for
 * PHI and key material. Start from a zeroed struct (set max / wipe). */
struct util_buf {
	char *p;
	size_t len, cap;
	size_t max;          /* 0: no bound */
	bool wipe;
	bool failed, toobig;
};
void util_buf_put(struct util_buf *b, const void *s, size_t n);
void util_buf_puts(struct util_buf *b, const char *s);
/* Frees (wiped first with wipe) and zeroes the buffer, keeping max and wipe. */
void util_buf_free(struct util_buf *b);
/* One CSV field (RFC 4180: quoted when it holds a comma, quote, CR or LF; a
 * quote doubled), then "," or, for the last field of a row, CRLF. NULL is
 * the empty field. */
void util_csv_cell(struct util_buf *b, const char *s, bool last);
/* Room for element n of the array at *arr (elem bytes each, capacity *cap):
 * grows it (doubling, from first) when n == *cap. 0, or -1 when out of
 * memory (the array is unchanged). */
int util_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first);

/* ---- request threads ----
 * The HTTP layer marks the thread that runs a request's handler (and its
 * authentication) for the duration of that call, so a lower layer can tell
 * whether a blocking wait would hold a request thread. Thread-local; no lock. */
void util_request_thread_set(bool on);
bool util_request_thread(void);
/* A blocking wait is about to start: counted if this is a request thread
 * (commit_run, and authn's blocking waiter). util_request_thread_waits:
 * the count since start (the test binary shows it). */
void util_request_thread_wait(void);
uint64_t util_request_thread_waits(void);
/* What the request thread runs, for the log line a wait writes ("GET
 * /v1/users/{id}": a route pattern, never a path with values); NULL: none.
 * The string must outlive the request (route tables are static). */
void util_request_label_set(const char *method, const char *pattern);

/* ---- answers held for a commit ----
 * While the HTTP layer runs a request (authentication, the route's
 * authorization, the handler) on a request thread, it lends that thread the
 * request's holder. A lower layer that submitted a transaction the answer
 * must not overtake (an audited refusal: the 403 leaves only once its entry
 * is durable) takes a hold (util_request_hold) and releases it from the
 * commit's completion, on any thread (util_hold_release). The answer is
 * queued once the handler has answered AND every hold is released, so no
 * thread waits for the fsync; a hold released with an rc other than PV_OK
 * turns the answer into that rc (fail closed: PV_E_AUDIT). Off a request
 * thread there is no holder: util_request_hold returns NULL and the caller
 * waits the blocking way. The holder outlives every hold taken on it. */
struct util_holder {
	void (*take)(void *ctx);
	void (*release)(void *ctx, enum pv_rc rc);
	void *ctx;
};
void util_request_holder_set(const struct util_holder *h);   /* NULL: none */
/* A hold on the current request's answer, or NULL (no request here). */
const struct util_holder *util_request_hold(void);
void util_hold_release(const struct util_holder *h, enum pv_rc rc);

#endif /* PV_UTIL_H */
