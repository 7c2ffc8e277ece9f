/*
 * tz: UTC offsets of named time zones for time-window conditions, without
 * touching the process's TZ (setenv("TZ") + localtime_r is not thread-safe
 * in a threaded server, and would change every other thread's idea of
 * local time).
 *
 * Source: the TZif files of Debian's tzdata (/usr/share/zoneinfo/<Name>),
 * parsed here (RFC 8536): the version 2+ block (64-bit transition times)
 * when present, else the version 1 block; the footer's POSIX TZ string
 * (RFC 8536 section 3.3, POSIX.1-2017 8.3 "TZ") decides instants after the
 * last transition (slim files hold no transitions past the present).
 *
 * Invariants:
 *  - authz_tz_parse() is a parser of untrusted bytes (fuzzed by
 *    tests/fuzz/fuzz_authz_policy.c): every count is bounded before use,
 *    every index checked; a malformed file is PV_E_INVALID, never a crash.
 *  - Zones are loaded once per process (authz_tz_get) and never freed
 *    while the process runs, so a compiled policy may point at one; the
 *    table holds at most TZ_MAX_ZONES.
 *  - The clock is the caller's (util_now_ms, injectable): nothing here
 *    reads the time.
 *  - Zone names are [A-Za-z0-9_+-] segments separated by '/', no "." and
 *    no leading '/', so a name never leaves the zoneinfo directory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

#define TZ_MAX_TIMES 4000
#define TZ_MAX_TYPES 256
#define TZ_MAX_CHARS 512
#define TZ_MAX_LEAPS 200
#define TZ_MAX_FILE (256 * 1024)
#define TZ_MAX_ZONES 64
#define TZ_NAME_MAX 64

/* A POSIX TZ rule date: Jn (julian, no Feb 29), n (zero-based day of year)
 * or Mm.w.d (day d of week w of month m, w = 5: the last). */
struct rule_date {
	char kind;                       /* 'J', 'D' (n), 'M' */
	int m, w, d, n;
	int32_t time_s;                  /* local time of day of the change */
};

struct posix_tz {
	bool present;
	int32_t std_off;                 /* UTC offset, seconds east */
	bool has_dst;
	int32_t dst_off;
	struct rule_date start, end;
};

struct authz_tz {
	char name[TZ_NAME_MAX];
	size_t ntimes;
	int64_t *times;
	uint8_t *idx;
	size_t ntypes;
	int32_t offs[TZ_MAX_TYPES];
	struct posix_tz rule;
};

/* ---------------------------------------------------------------- dates */

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian; H. Hinnant's
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

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t
year_of_days(int64_t z)
{
	int64_t era, doe, yoe, y, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return mp >= 10 ? y + 1 : y;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* Day number (since the epoch) of a rule date in year y. */
static int64_t
rule_day(const struct rule_date *r, int64_t y)
{
	int64_t jan1 = days_from_civil(y, 1, 1), first;
	int wday, day;

	switch (r->kind) {
	case 'J':   /* 1..365, February 29 never counted */
		return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60 ? 1 : 0);
	case 'D':
		return jan1 + r->n;
	default:
		first = days_from_civil(y, r->m, 1);
		wday = (int)(((first % 7) + 7 + 4) % 7);   /* 1970-01-01 was a Thursday */
		day = 1 + (r->d - wday + 7) % 7 + (r->w - 1) * 7;
		while (day > month_days(y, r->m))
			day -= 7;
		return first + day - 1;
	}
}

/* ----------------------------------------------------------- POSIX TZ */

static const char *
parse_name(const char *p)
{
	const char *s = p;

	if (*p == '<') {
		for (p++; *p != '\0' && *p != '>'; p++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
				return NULL;
		return *p == '>' && p - s >= 4 ? p + 1 : NULL;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]], hh <= max_h; seconds into *out. */
static const char *
parse_hms(const char *p, int max_h, int32_t *out)
{
	int sign = 1, h = 0, m = 0, s = 0, nd = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	while (*p >= '0' && *p <= '9' && nd < 3) {
		h = h * 10 + (*p++ - '0');
		nd++;
	}
	if (nd == 0 || h > max_h)
		return NULL;
	if (*p == ':') {
		p++;
		if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
			return NULL;
		m = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (*p == ':') {
			p++;
			if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
				return NULL;
			s = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *
parse_int(const char *p, int lo, int hi, int *out)
{
	int v = 0, nd = 0;

	while (*p >= '0' && *p <= '9' && nd < 4) {
		v = v * 10 + (*p++ - '0');
		nd++;
	}
	if (nd == 0 || v < lo || v > hi)
		return NULL;
	*out = v;
	return p;
}

static const char *
parse_rule_date(const char *p, struct rule_date *r)
{
	memset(r, 0, sizeof(*r));
	r->time_s = 7200;   /* 02:00 local by default */
	if (*p == 'M') {
		r->kind = 'M';
		if ((p = parse_int(p + 1, 1, 12, &r->m)) == NULL || *p++ != '.' ||
		    (p = parse_int(p, 1, 5, &r->w)) == NULL || *p++ != '.' ||
		    (p = parse_int(p, 0, 6, &r->d)) == NULL)
			return NULL;
	} else if (*p == 'J') {
		r->kind = 'J';
		if ((p = parse_int(p + 1, 1, 365, &r->n)) == NULL)
			return NULL;
	} else {
		r->kind = 'D';
		if ((p = parse_int(p, 0, 365, &r->n)) == NULL)
			return NULL;
	}
	if (*p == '/')   /* RFC 8536 3.3.1: -167..167 hours */
		p = parse_hms(p + 1, 167, &r->time_s);
	return p;
}

/* The footer: "STDoff[DST[off][,start[/t],end[/t]]]"; "" = no rule. */
static enum pv_rc
parse_posix(const char *s, struct posix_tz *z)
{
	const char *p = s;
	int32_t off;

	memset(z, 0, sizeof(*z));
	if (*p == '\0')
		return PV_OK;
	if ((p = parse_name(p)) == NULL || (p = parse_hms(p, 24, &off)) == NULL)
		return PV_E_INVALID;
	z->std_off = -off;   /* POSIX counts west of Greenwich as positive */
	z->present = true;
	if (*p == '\0')
		return PV_OK;
	if ((p = parse_name(p)) == NULL)
		return PV_E_INVALID;
	z->has_dst = true;
	z->dst_off = z->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if ((p = parse_hms(p, 24, &off)) == NULL)
			return PV_E_INVALID;
		z->dst_off = -off;
	}
	if (*p == '\0') {   /* no rule: POSIX leaves it to the implementation; US rules */
		z->start = (struct rule_date){ 'M', 3, 2, 0, 0, 7200 };
		z->end = (struct rule_date){ 'M', 11, 1, 0, 0, 7200 };
		return PV_OK;
	}
	if (*p++ != ',' || (p = parse_rule_date(p, &z->start)) == NULL || *p++ != ',' ||
	    (p = parse_rule_date(p, &z->end)) == NULL || *p != '\0')
		return PV_E_INVALID;
	return PV_OK;
}

static int32_t
posix_offset(const struct posix_tz *z, int64_t t)
{
	int64_t y, start, end;

	if (!z->has_dst)
		return z->std_off;
	y = year_of_days(floor_div(t + z->std_off, 86400));
	/* the change to DST is given in standard time, the change back in DST */
	start = rule_day(&z->start, y) * 86400 + z->start.time_s - z->std_off;
	end = rule_day(&z->end, y) * 86400 + z->end.time_s - z->dst_off;
	if (start < end)
		return t >= start && t < end ? z->dst_off : z->std_off;
	/* southern hemisphere: DST spans the new year */
	return t >= end && t < start ? z->std_off : z->dst_off;
}

/* ---------------------------------------------------------------- TZif */

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct hdr {
	uint32_t isut, isstd, leap, time, type, chr;
};

static bool
read_hdr(const uint8_t *b, size_t len, size_t at, struct hdr *h, char *version)
{
	if (len < at || len - at < 44 || memcmp(b + at, "TZif", 4) != 0)
		return false;
	*version = (char)b[at + 4];
	h->isut = be32(b + at + 20);
	h->isstd = be32(b + at + 24);
	h->leap = be32(b + at + 28);
	h->time = be32(b + at + 32);
	h->type = be32(b + at + 36);
	h->chr = be32(b + at + 40);
	return h->time <= TZ_MAX_TIMES && h->type >= 1 && h->type <= TZ_MAX_TYPES &&
	    h->chr <= TZ_MAX_CHARS && h->leap <= TZ_MAX_LEAPS &&
	    (h->isut == 0 || h->isut == h->type) && (h->isstd == 0 || h->isstd == h->type);
}

/* Size of a data block with times of tsz bytes (all counts bounded). */
static size_t
block_size(const struct hdr *h, size_t tsz)
{
	return (size_t)h->time * tsz + h->time + (size_t)h->type * 6 + h->chr +
	    (size_t)h->leap * (tsz + 4) + h->isstd + h->isut;
}

void
authz_tz_free(struct authz_tz *z)
{
	if (z == NULL)
		return;
	free(z->times);
	free(z->idx);
	free(z);
}

enum pv_rc
authz_tz_parse(const uint8_t *b, size_t len, struct authz_tz **out)
{
	struct authz_tz *z = NULL;
	struct hdr h;
	char ver, footer[128];
	size_t at = 0, tsz = 4, i, p, n;
	enum pv_rc rc = PV_E_INVALID;

	if (b == NULL || out == NULL || !read_hdr(b, len, 0, &h, &ver))
		return PV_E_INVALID;
	if (ver >= '2') {   /* skip the 32-bit block, use the 64-bit one */
		at = 44 + block_size(&h, 4);
		if (!read_hdr(b, len, at, &h, &ver))
			return PV_E_INVALID;
		tsz = 8;
	}
	at += 44;
	if (len - at < block_size(&h, tsz))
		return PV_E_INVALID;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return PV_E_NOMEM;
	z->ntimes = h.time;
	z->ntypes = h.type;
	z->times = calloc(h.time + 1, sizeof(*z->times));
	z->idx = calloc(h.time + 1, 1);
	if (z->times == NULL || z->idx == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	p = at;
	for (i = 0; i < h.time; i++, p += tsz) {
		z->times[i] = tsz == 8 ? be64(b + p) : (int64_t)(int32_t)be32(b + p);
		if (i > 0 && z->times[i] <= z->times[i - 1])
			goto out;   /* RFC 8536: strictly ascending */
	}
	for (i = 0; i < h.time; i++, p++) {
		z->idx[i] = b[p];
		if (z->idx[i] >= h.type)
			goto out;
	}
	for (i = 0; i < h.type; i++, p += 6) {
		int32_t off = (int32_t)be32(b + p);

		/* RFC 8536: -89999..93599 (about -25h..+26h) */
		if (off < -89999 || off > 93599 || b[p + 4] > 1 || b[p + 5] >= (h.chr ? h.chr : 1))
			goto out;
		z->offs[i] = off;
	}
	p = at + block_size(&h, tsz);
	if (tsz == 8 && p < len) {   /* footer: "\n" TZ "\n" */
		if (b[p] != '\n')
			goto out;
		for (n = 0; p + 1 + n < len && b[p + 1 + n] != '\n'; n++)
			if (n + 1 >= sizeof(footer) || b[p + 1 + n] < 0x20 || b[p + 1 + n] > 0x7e)
				goto out;
		if (p + 1 + n >= len)
			goto out;
		memcpy(footer, b + p + 1, n);
		footer[n] = '\0';
		if (parse_posix(footer, &z->rule) != PV_OK)
			goto out;
	}
	*out = z;
	z = NULL;
	rc = PV_OK;
out:
	authz_tz_free(z);
	return rc;
}

int32_t
authz_tz_offset(const struct authz_tz *z, int64_t t)
{
	size_t lo, hi;

	if (z == NULL)
		return 0;
	if (z->ntimes == 0)
		return z->rule.present ? posix_offset(&z->rule, t) : z->offs[0];
	if (t < z->times[0])
		return z->offs[0];
	if (t >= z->times[z->ntimes - 1] && z->rule.present)
		return posix_offset(&z->rule, t);
	lo = 0;
	hi = z->ntimes;   /* times[lo] <= t < times[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->offs[z->idx[lo]];
}

bool
authz_tz_name_valid(const char *name)
{
	size_t i, seg = 0;

	if (name == NULL || name[0] == '\0' || strlen(name) >= TZ_NAME_MAX)
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (c == '/') {
			if (seg == 0)
				return false;
			seg = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '+' || c == '-'))
			return false;
		seg++;
	}
	return seg > 0;
}

/* ------------------------------------------------------- the zone table */

static pthread_mutex_t zones_mu = PTHREAD_MUTEX_INITIALIZER;
static struct authz_tz *zones[TZ_MAX_ZONES];
static size_t nzones;
static const char *zone_dir = "/usr/share/zoneinfo";

void
authz_tz_set_dir(const char *dir)
{
	zone_dir = dir != NULL ? dir : "/usr/share/zoneinfo";
}

static enum pv_rc
load_file(const char *name, struct authz_tz **out)
{
	char path[512];
	uint8_t *buf = NULL;
	size_t n = 0;
	FILE *f;
	enum pv_rc rc;

	if (snprintf(path, sizeof(path), "%s/%s", zone_dir, name) >= (int)sizeof(path))
		return PV_E_INVALID;
	if ((f = fopen(path, "rb")) == NULL)
		return errno == ENOENT || errno == ENOTDIR ? PV_E_NOTFOUND : PV_E_IO;
	if ((buf = malloc(TZ_MAX_FILE)) == NULL) {
		fclose(f);
		return PV_E_NOMEM;
	}
	n = fread(buf, 1, TZ_MAX_FILE, f);
	rc = ferror(f) ? PV_E_IO : authz_tz_parse(buf, n, out);
	fclose(f);
	free(buf);
	return rc == PV_E_INVALID ? PV_E_NOTFOUND : rc;
}

const struct authz_tz *
authz_tz_get(const char *name)
{
	struct authz_tz *z = NULL;
	size_t i;

	if (!authz_tz_name_valid(name))
		return NULL;
	pthread_mutex_lock(&zones_mu);
	for (i = 0; i < nzones; i++)
		if (strcmp(zones[i]->name, name) == 0) {
			z = zones[i];
			goto out;
		}
	if (nzones >= TZ_MAX_ZONES) {
		log_warn("authz: more than %d time zones in policies", TZ_MAX_ZONES);
		goto out;
	}
	if (load_file(name, &z) != PV_OK) {
		z = NULL;
		goto out;
	}
	util_strlcpy(z->name, name, sizeof(z->name));
	zones[nzones++] = z;
out:
	pthread_mutex_unlock(&zones_mu);
	return z;
}
