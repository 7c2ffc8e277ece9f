/*
 * time: wall clock in UTC milliseconds, monotonic milliseconds, RFC 3339
 * formatting, and the injectable clock behind both.
 *
 * Clock states (one process-wide source; every caller of util_now_ms /
 * util_mono_ms sees the same one):
 *   REAL   the default: clock_gettime(CLOCK_REALTIME / CLOCK_MONOTONIC).
 *   OFFSET real time plus an offset (util_clock_advance from REAL): time keeps
 *          moving and jumps forward by each advance; both clocks move together.
 *   FIXED  frozen at a value (util_clock_set_fixed); advances move it.
 * REAL -> OFFSET (advance), any -> FIXED (set_fixed), any -> REAL (reset).
 *
 * Invariants: neither clock ever goes backwards through an advance (negative
 * advances are refused); the monotonic clock moves by exactly what the wall
 * clock moves in OFFSET and FIXED. The REAL path costs one relaxed atomic load
 * more than clock_gettime. The overrides are for tests: the shipped server
 * never calls them (phivault-test's POST /v1/test/clock does, see cli/server.c).
 * The state is published with release/acquire so a reader that sees a mode
 * sees the values set for it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

enum { CLOCK_REAL, CLOCK_OFFSET, CLOCK_FIXED };

static _Atomic int clock_mode = CLOCK_REAL;
static _Atomic int64_t clock_offset_ms;   /* OFFSET: added to both clocks */
static _Atomic int64_t clock_wall_ms;     /* FIXED: the wall clock */
static _Atomic int64_t clock_mono_ms;     /* FIXED: the monotonic clock */

static int64_t
real_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_now_ms(void)
{
	switch (atomic_load_explicit(&clock_mode, memory_order_acquire)) {
	case CLOCK_OFFSET:
		return real_ms(CLOCK_REALTIME) + atomic_load(&clock_offset_ms);
	case CLOCK_FIXED:
		return atomic_load(&clock_wall_ms);
	default:
		return real_ms(CLOCK_REALTIME);
	}
}

int64_t
util_mono_ms(void)
{
	switch (atomic_load_explicit(&clock_mode, memory_order_acquire)) {
	case CLOCK_OFFSET:
		return real_ms(CLOCK_MONOTONIC) + atomic_load(&clock_offset_ms);
	case CLOCK_FIXED:
		return atomic_load(&clock_mono_ms);
	default:
		return real_ms(CLOCK_MONOTONIC);
	}
}

/* Microseconds for durations (metrics): the same clock as util_mono_ms, with
 * the real clock's microseconds in REAL and OFFSET (FIXED: frozen ms x 1000). */
int64_t
util_mono_us(void)
{
	struct timespec ts;

	switch (atomic_load_explicit(&clock_mode, memory_order_acquire)) {
	case CLOCK_FIXED:
		return atomic_load(&clock_mono_ms) * 1000;
	case CLOCK_OFFSET:
		clock_gettime(CLOCK_MONOTONIC, &ts);
		return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 +
		    atomic_load(&clock_offset_ms) * 1000;
	default:
		clock_gettime(CLOCK_MONOTONIC, &ts);
		return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	}
}

void
util_clock_set_fixed(int64_t now_ms)
{
	/* the monotonic clock freezes where it is now, so deadlines already
	 * computed from it stay meaningful */
	atomic_store(&clock_wall_ms, now_ms);
	atomic_store(&clock_mono_ms, util_mono_ms());
	atomic_store_explicit(&clock_mode, CLOCK_FIXED, memory_order_release);
}

enum pv_rc
util_clock_advance(int64_t ms)
{
	int mode;

	if (ms < 0 || ms > UTIL_CLOCK_ADVANCE_MAX_MS)
		return PV_E_INVALID;
	mode = atomic_load_explicit(&clock_mode, memory_order_acquire);
	if (mode == CLOCK_FIXED) {
		atomic_fetch_add(&clock_wall_ms, ms);
		atomic_fetch_add(&clock_mono_ms, ms);
		return PV_OK;
	}
	atomic_fetch_add(&clock_offset_ms, ms);
	if (mode == CLOCK_REAL)
		atomic_store_explicit(&clock_mode, CLOCK_OFFSET, memory_order_release);
	return PV_OK;
}

void
util_clock_reset(void)
{
	atomic_store_explicit(&clock_mode, CLOCK_REAL, memory_order_release);
	atomic_store(&clock_offset_ms, 0);
}

bool
util_clock_is_real(void)
{
	return atomic_load_explicit(&clock_mode, memory_order_acquire) == CLOCK_REAL;
}

void
util_time_fmt(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	if (len == 0)
		return;
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* n ASCII digits at s as a number; -1 if any is not a digit */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t
util_time_parse(const char *s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, milli;

	if (s == NULL || strlen(s) != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return -1;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	milli = digits(s + 20, 3);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 60 || milli < 0)
		return -1;
	return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + milli;
}

/* ---- request threads (util.h) ---- */

static _Thread_local bool request_thread;
static atomic_uint_fast64_t request_thread_waits;

void
util_request_thread_set(bool on)
{
	request_thread = on;
}

bool
util_request_thread(void)
{
	return request_thread;
}

static _Thread_local const char *request_method, *request_pattern;

void
util_request_label_set(const char *method, const char *pattern)
{
	request_method = method;
	request_pattern = pattern;
}

void
util_request_thread_wait(void)
{
	if (!request_thread)
		return;
	atomic_fetch_add_explicit(&request_thread_waits, 1, memory_order_relaxed);
	/* which route still blocks a thread (operators and the test suite
	 * read it: docs/internals/commit.md) */
	log_info("util: a request thread waits for a commit (%s %s)",
	    request_method ? request_method : "-", request_pattern ? request_pattern : "-");
}

uint64_t
util_request_thread_waits(void)
{
	return atomic_load_explicit(&request_thread_waits, memory_order_relaxed);
}

/* ---- answers held for a commit (util.h) ---- */

static _Thread_local const struct util_holder *request_holder;

void
util_request_holder_set(const struct util_holder *h)
{
	request_holder = h;
}

const struct util_holder *
util_request_hold(void)
{
	const struct util_holder *h = request_holder;

	if (h == NULL || !request_thread)
		return NULL;
	h->take(h->ctx);
	return h;
}

void
util_hold_release(const struct util_holder *h, enum pv_rc rc)
{
	if (h != NULL)
		h->release(h->ctx, rc);
}
