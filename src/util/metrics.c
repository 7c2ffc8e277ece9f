/*
 * metrics: the registry and the Prometheus text renderer (contract in
 * util/metrics.h).
 *
 * Text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
 *   # HELP <name> <help, "\" and newline escaped as \\ and \n>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value, \ " and newline escaped>",...} <value>
 *   histograms: <name>_bucket{...,le="<bound>"} <cumulative count> for every
 *   bound and le="+Inf", then <name>_sum and <name>_count (= the +Inf bucket).
 *   Values: integers as such, other floats in the shortest form that reads
 *   back to the same double, NaN, +Inf, -Inf. Lines end with "\n".
 *
 * Lock-free hot path: a series is found by hashing its label values into the
 * family's open-addressing table of atomic pointers. Slots are only ever
 * filled (never cleared) and only under the family's mutex, so a reader that
 * finds a pointer (acquire) sees a complete series, and a reader that finds
 * an empty slot before its series retries under the mutex. Updates are
 * relaxed atomics: a render may see one update of a request and not another
 * (a bucket before the sum), never a torn value.
 *
 * Locks: registry mu (families array, creation), family mu (its series list
 * and creation), registry cmu (collectors; held for a whole render so that
 * collector_remove waits for it). Order: cmu, then mu, then a family's mu.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/metrics.h"

#define SLOTS 2048u   /* power of two, > 2 x UTIL_METRICS_SERIES_MAX */
#define DROPPED_NAME "phivault_metrics_dropped_samples"
#define COLLECTED_FAMILIES_MAX 256

struct util_metric {
	struct util_metric_family *fam;
	struct util_metric *next;              /* creation order */
	uint64_t hash;
	char *values[UTIL_METRICS_LABELS_MAX];
	_Atomic uint64_t v;                    /* counter: count; gauge: double bits */
	_Atomic uint64_t sum;                  /* histogram: double bits */
	_Atomic uint64_t b[];                  /* histogram: nbuckets + 1 (the last: +Inf) */
};

struct util_metric_family {
	char name[UTIL_METRICS_NAME_MAX];
	char help[UTIL_METRICS_HELP_MAX];
	enum util_metric_type type;
	size_t nlabels;
	char labels[UTIL_METRICS_LABELS_MAX][UTIL_METRICS_NAME_MAX];
	size_t nbuckets;
	double bounds[UTIL_METRICS_BUCKETS_MAX];

	pthread_mutex_t mu;
	_Atomic(struct util_metric *) slots[SLOTS];
	struct util_metric *first, *last;
	size_t nseries;
	bool full_logged;
};

struct util_metrics {
	pthread_mutex_t mu;
	struct util_metric_family *fam[UTIL_METRICS_FAMILIES_MAX];
	size_t nfam;
	pthread_mutex_t cmu;
	struct {
		util_metrics_collect_fn fn;
		void *arg;
	} col[UTIL_METRICS_COLLECTORS_MAX];
	size_t ncol;
};

/* ---------------------------------------------------------------- names */

static bool
name_ok(const char *s, bool colon_ok)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) >= UTIL_METRICS_NAME_MAX)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		    (colon_ok && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool
label_name_ok(const char *s)
{
	return name_ok(s, false) && strncmp(s, "__", 2) != 0 && strcmp(s, "le") != 0;
}

/* UTF-8 without controls (HELP text); values may hold any valid UTF-8. */
static bool
text_ok(const char *s, size_t max, bool controls_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, k;
	uint32_t cp;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n >= max)
		return false;
	while (n > 0) {
		k = util_utf8_next(p, n, &cp);
		if (k == 0 || (!controls_ok && util_is_control(cp)))
			return false;
		p += k;
		n -= k;
	}
	return true;
}

/* ---------------------------------------------------------------- registry */

static enum pv_rc
registry_init(struct util_metrics *m)
{
	memset(m, 0, sizeof(*m));
	if (pthread_mutex_init(&m->mu, NULL) != 0)
		return PV_E_INTERNAL;
	if (pthread_mutex_init(&m->cmu, NULL) != 0) {
		pthread_mutex_destroy(&m->mu);
		return PV_E_INTERNAL;
	}
	return PV_OK;
}

static struct util_metrics default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void
default_init(void)
{
	if (registry_init(&default_registry) != PV_OK)
		abort();   /* mutex init cannot fail with default attributes on Linux */
}

struct util_metrics *
util_metrics_default(void)
{
	(void)pthread_once(&default_once, default_init);
	return &default_registry;
}

enum pv_rc
util_metrics_new(struct util_metrics **out)
{
	struct util_metrics *m;
	enum pv_rc rc;

	if (out == NULL)
		return PV_E_INVALID;
	m = malloc(sizeof(*m));
	if (m == NULL)
		return PV_E_NOMEM;
	if ((rc = registry_init(m)) != PV_OK) {
		free(m);
		return rc;
	}
	*out = m;
	return PV_OK;
}

static void
series_free(struct util_metric *s)
{
	size_t i;

	for (i = 0; i < UTIL_METRICS_LABELS_MAX; i++)
		free(s->values[i]);
	free(s);
}

static void
family_free(struct util_metric_family *f)
{
	struct util_metric *s, *next;

	for (s = f->first; s != NULL; s = next) {
		next = s->next;
		series_free(s);
	}
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void
util_metrics_free(struct util_metrics *m)
{
	size_t i;

	if (m == NULL || m == &default_registry)
		return;
	for (i = 0; i < m->nfam; i++)
		family_free(m->fam[i]);
	pthread_mutex_destroy(&m->cmu);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static enum pv_rc
def_check(const struct util_metric_def *d, size_t *nlabels)
{
	size_t i, k, n = 0;

	if (d == NULL || !name_ok(d->name, true) || strcmp(d->name, DROPPED_NAME) == 0 ||
	    !text_ok(d->help ? d->help : "", UTIL_METRICS_HELP_MAX, false))
		return PV_E_INVALID;
	if (d->type != UTIL_METRIC_COUNTER && d->type != UTIL_METRIC_GAUGE &&
	    d->type != UTIL_METRIC_HISTOGRAM)
		return PV_E_INVALID;
	for (i = 0; d->labels != NULL && d->labels[i] != NULL; i++) {
		if (i >= UTIL_METRICS_LABELS_MAX || !label_name_ok(d->labels[i]))
			return PV_E_INVALID;
		for (k = 0; k < i; k++)
			if (strcmp(d->labels[k], d->labels[i]) == 0)
				return PV_E_INVALID;
		n++;
	}
	if (d->type == UTIL_METRIC_HISTOGRAM) {
		if (d->buckets == NULL || d->nbuckets < 1 || d->nbuckets > UTIL_METRICS_BUCKETS_MAX)
			return PV_E_INVALID;
		for (i = 0; i < d->nbuckets; i++) {
			if (!isfinite(d->buckets[i]) || (i > 0 && !(d->buckets[i] > d->buckets[i - 1])))
				return PV_E_INVALID;
		}
	} else if (d->nbuckets != 0) {
		return PV_E_INVALID;
	}
	*nlabels = n;
	return PV_OK;
}

static bool
family_same(const struct util_metric_family *f, const struct util_metric_def *d, size_t nlabels)
{
	size_t i;

	if (f->type != d->type || f->nlabels != nlabels)
		return false;
	for (i = 0; i < nlabels; i++)
		if (strcmp(f->labels[i], d->labels[i]) != 0)
			return false;
	if (d->type != UTIL_METRIC_HISTOGRAM)
		return true;
	if (f->nbuckets != d->nbuckets)
		return false;
	for (i = 0; i < d->nbuckets; i++)
		if (f->bounds[i] != d->buckets[i])
			return false;
	return true;
}

enum pv_rc
util_metrics_family(struct util_metrics *m, const struct util_metric_def *def,
    struct util_metric_family **out)
{
	struct util_metric_family *f = NULL;
	size_t nlabels = 0, i;
	enum pv_rc rc;

	if (m == NULL || out == NULL)
		return PV_E_INVALID;
	if ((rc = def_check(def, &nlabels)) != PV_OK)
		return rc;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->nfam; i++) {
		if (strcmp(m->fam[i]->name, def->name) == 0) {
			rc = family_same(m->fam[i], def, nlabels) ? PV_OK : PV_E_CONFLICT;
			if (rc == PV_OK)
				*out = m->fam[i];
			goto out;
		}
	}
	if (m->nfam >= UTIL_METRICS_FAMILIES_MAX) {
		rc = PV_E_TOOBIG;
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f);
		f = NULL;
		rc = PV_E_INTERNAL;
		goto out;
	}
	util_strlcpy(f->name, def->name, sizeof(f->name));
	util_strlcpy(f->help, def->help ? def->help : "", sizeof(f->help));
	f->type = def->type;
	f->nlabels = nlabels;
	for (i = 0; i < nlabels; i++)
		util_strlcpy(f->labels[i], def->labels[i], sizeof(f->labels[i]));
	f->nbuckets = def->type == UTIL_METRIC_HISTOGRAM ? def->nbuckets : 0;
	for (i = 0; i < f->nbuckets; i++)
		f->bounds[i] = def->buckets[i];
	m->fam[m->nfam++] = f;
	*out = f;
	rc = PV_OK;
out:
	pthread_mutex_unlock(&m->mu);
	/* a family without labels has its one series from the start (reads 0) */
	if (rc == PV_OK && f != NULL && nlabels == 0)
		(void)util_metrics_series(f, NULL);
	return rc;
}

/* ---------------------------------------------------------------- series */

static uint64_t
values_hash(const struct util_metric_family *f, const char *const *values)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a 64 */
	size_t i;
	const unsigned char *p;

	for (i = 0; i < f->nlabels; i++) {
		for (p = (const unsigned char *)values[i]; *p != '\0'; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;   /* separator: ("ab","c") != ("a","bc") */
		h *= 1099511628211ULL;
	}
	return h;
}

static bool
values_equal(const struct util_metric *s, const char *const *values)
{
	size_t i;

	for (i = 0; i < s->fam->nlabels; i++)
		if (strcmp(s->values[i], values[i]) != 0)
			return false;
	return true;
}

/* Probe for the series; *empty gets the first empty slot seen (or SLOTS). */
static struct util_metric *
probe(struct util_metric_family *f, uint64_t h, const char *const *values, size_t *empty)
{
	size_t i = (size_t)h & (SLOTS - 1), n;
	struct util_metric *s;

	*empty = SLOTS;
	for (n = 0; n < SLOTS; n++, i = (i + 1) & (SLOTS - 1)) {
		s = atomic_load_explicit(&f->slots[i], memory_order_acquire);
		if (s == NULL) {
			*empty = i;
			return NULL;
		}
		if (s->hash == h && values_equal(s, values))
			return s;
	}
	return NULL;
}

struct util_metric *
util_metrics_series(struct util_metric_family *f, const char *const *values)
{
	static const char *const none[1] = { NULL };
	struct util_metric *s;
	size_t i, empty, nb;
	uint64_t h;

	if (f == NULL)
		return NULL;
	if (values == NULL) {
		if (f->nlabels != 0)
			return NULL;
		values = none;
	}
	for (i = 0; i < f->nlabels; i++)
		if (values[i] == NULL || !text_ok(values[i], UTIL_METRICS_VALUE_MAX, true))
			return NULL;
	h = values_hash(f, values);
	s = probe(f, h, values, &empty);
	if (s != NULL)
		return s;

	pthread_mutex_lock(&f->mu);
	s = probe(f, h, values, &empty);
	if (s != NULL || empty == SLOTS)
		goto out;
	if (f->nseries >= UTIL_METRICS_SERIES_MAX) {
		if (!f->full_logged)
			log_warn("metrics: %s has %d series; new label sets are not counted",
			    f->name, UTIL_METRICS_SERIES_MAX);
		f->full_logged = true;
		goto out;
	}
	nb = f->type == UTIL_METRIC_HISTOGRAM ? f->nbuckets + 1 : 0;
	s = calloc(1, sizeof(*s) + nb * sizeof(s->b[0]));
	if (s == NULL)
		goto out;
	s->fam = f;
	s->hash = h;
	for (i = 0; i < f->nlabels; i++) {
		s->values[i] = strdup(values[i]);
		if (s->values[i] == NULL) {
			series_free(s);
			s = NULL;
			goto out;
		}
	}
	atomic_init(&s->v, 0);
	atomic_init(&s->sum, 0);
	for (i = 0; i < nb; i++)
		atomic_init(&s->b[i], 0);
	if (f->type == UTIL_METRIC_GAUGE || f->type == UTIL_METRIC_HISTOGRAM) {
		double zero = 0.0;
		uint64_t bits;

		memcpy(&bits, &zero, sizeof(bits));
		atomic_store_explicit(&s->v, f->type == UTIL_METRIC_GAUGE ? bits : 0,
		    memory_order_relaxed);
		atomic_store_explicit(&s->sum, bits, memory_order_relaxed);
	}
	if (f->last != NULL)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	f->nseries++;
	/* published last: a lock-free reader sees it whole */
	atomic_store_explicit(&f->slots[empty], s, memory_order_release);
out:
	pthread_mutex_unlock(&f->mu);
	return s;
}

/* ---------------------------------------------------------------- updates */

static double
bits_double(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static uint64_t
double_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static void
atomic_double_add(_Atomic uint64_t *a, double d)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(a, &old, double_bits(bits_double(old) + d),
	    memory_order_relaxed, memory_order_relaxed))
		;
}

void
util_metric_inc(struct util_metric *s)
{
	util_metric_add(s, 1);
}

void
util_metric_add(struct util_metric *s, uint64_t n)
{
	if (s != NULL && s->fam->type == UTIL_METRIC_COUNTER)
		atomic_fetch_add_explicit(&s->v, n, memory_order_relaxed);
}

void
util_metric_set(struct util_metric *s, double v)
{
	if (s != NULL && s->fam->type == UTIL_METRIC_GAUGE)
		atomic_store_explicit(&s->v, double_bits(v), memory_order_relaxed);
}

void
util_metric_gauge_add(struct util_metric *s, double d)
{
	if (s != NULL && s->fam->type == UTIL_METRIC_GAUGE)
		atomic_double_add(&s->v, d);
}

void
util_metric_observe(struct util_metric *s, double v)
{
	size_t i;

	if (s == NULL || s->fam->type != UTIL_METRIC_HISTOGRAM || isnan(v))
		return;
	/* le: the first bound v does not exceed; past the last one, +Inf */
	for (i = 0; i < s->fam->nbuckets && v > s->fam->bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&s->b[i], 1, memory_order_relaxed);
	atomic_double_add(&s->sum, v);
}

double
util_metric_value(const struct util_metric *s)
{
	uint64_t n = 0;
	size_t i;

	if (s == NULL)
		return 0;
	switch (s->fam->type) {
	case UTIL_METRIC_COUNTER:
		return (double)atomic_load_explicit(&s->v, memory_order_relaxed);
	case UTIL_METRIC_GAUGE:
		return bits_double(atomic_load_explicit(&s->v, memory_order_relaxed));
	default:
		for (i = 0; i <= s->fam->nbuckets; i++)
			n += atomic_load_explicit(&s->b[i], memory_order_relaxed);
		return (double)n;
	}
}

/* ---------------------------------------------------------------- collectors */

enum pv_rc
util_metrics_collector_add(struct util_metrics *m, util_metrics_collect_fn fn, void *arg)
{
	enum pv_rc rc = PV_OK;
	size_t i;

	if (m == NULL || fn == NULL)
		return PV_E_INVALID;
	pthread_mutex_lock(&m->cmu);
	for (i = 0; i < m->ncol; i++)
		if (m->col[i].fn == fn && m->col[i].arg == arg)
			rc = PV_E_CONFLICT;
	if (rc == PV_OK && m->ncol >= UTIL_METRICS_COLLECTORS_MAX)
		rc = PV_E_TOOBIG;
	if (rc == PV_OK) {
		m->col[m->ncol].fn = fn;
		m->col[m->ncol].arg = arg;
		m->ncol++;
	}
	pthread_mutex_unlock(&m->cmu);
	return rc;
}

void
util_metrics_collector_remove(struct util_metrics *m, util_metrics_collect_fn fn, void *arg)
{
	size_t i;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->cmu);
	for (i = 0; i < m->ncol; i++) {
		if (m->col[i].fn == fn && m->col[i].arg == arg) {
			memmove(&m->col[i], &m->col[i + 1], (m->ncol - i - 1) * sizeof(m->col[0]));
			m->ncol--;
			break;
		}
	}
	pthread_mutex_unlock(&m->cmu);
}

/* ---------------------------------------------------------------- text */

/* Label values: \ " and newline escaped; HELP: \ and newline. */
static void
buf_escaped(struct util_buf *b, const char *s, bool quote)
{
	const char *p, *run = s;

	for (p = s; *p != '\0'; p++) {
		const char *esc = NULL;

		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '\n')
			esc = "\\n";
		else if (quote && *p == '"')
			esc = "\\\"";
		if (esc == NULL)
			continue;
		util_buf_put(b, run, (size_t)(p - run));
		util_buf_puts(b, esc);
		run = p + 1;
	}
	util_buf_put(b, run, (size_t)(p - run));
}

/* A float in the form Prometheus reads back to the same value. */
static void
fmt_value(double v, char *out, size_t len)
{
	int prec;

	if (isnan(v)) {
		util_strlcpy(out, "NaN", len);
		return;
	}
	if (isinf(v)) {
		util_strlcpy(out, v > 0 ? "+Inf" : "-Inf", len);
		return;
	}
	if (v == 0) {
		util_strlcpy(out, "0", len);
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(out, len, "%.0f", v);
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(out, len, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void
buf_value(struct util_buf *b, double v)
{
	char num[40];

	fmt_value(v, num, sizeof(num));
	util_buf_puts(b, num);
}

static void
buf_header(struct util_buf *b, const char *name, const char *help, enum util_metric_type t)
{
	util_buf_puts(b, "# HELP ");
	util_buf_puts(b, name);
	util_buf_puts(b, " ");
	buf_escaped(b, help, false);
	util_buf_puts(b, "\n# TYPE ");
	util_buf_puts(b, name);
	util_buf_puts(b, t == UTIL_METRIC_COUNTER ? " counter\n" :
	    t == UTIL_METRIC_GAUGE ? " gauge\n" : " histogram\n");
}

/* name{l1="v1",...[,le="x"]} (no braces when there are no labels) */
static void
buf_sample_name(struct util_buf *b, const char *name, const char *suffix, size_t n,
    const char *const *labels, const char *const *values, const char *le)
{
	size_t i;

	util_buf_puts(b, name);
	util_buf_puts(b, suffix);
	if (n == 0 && le == NULL)
		return;
	util_buf_puts(b, "{");
	for (i = 0; i < n; i++) {
		if (i > 0)
			util_buf_puts(b, ",");
		util_buf_puts(b, labels[i]);
		util_buf_puts(b, "=\"");
		buf_escaped(b, values[i], true);
		util_buf_puts(b, "\"");
	}
	if (le != NULL) {
		if (n > 0)
			util_buf_puts(b, ",");
		util_buf_puts(b, "le=\"");
		util_buf_puts(b, le);
		util_buf_puts(b, "\"");
	}
	util_buf_puts(b, "}");
}

static void
render_series(struct util_buf *b, const struct util_metric_family *f, const struct util_metric *s)
{
	const char *labels[UTIL_METRICS_LABELS_MAX];
	const char *values[UTIL_METRICS_LABELS_MAX];
	char le[40];
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < f->nlabels; i++) {
		labels[i] = f->labels[i];
		values[i] = s->values[i];
	}
	if (f->type != UTIL_METRIC_HISTOGRAM) {
		buf_sample_name(b, f->name, "", f->nlabels, labels, values, NULL);
		util_buf_puts(b, " ");
		buf_value(b, util_metric_value(s));
		util_buf_puts(b, "\n");
		return;
	}
	for (i = 0; i <= f->nbuckets; i++) {
		cum += atomic_load_explicit(&s->b[i], memory_order_relaxed);
		if (i < f->nbuckets)
			fmt_value(f->bounds[i], le, sizeof(le));
		else
			util_strlcpy(le, "+Inf", sizeof(le));
		buf_sample_name(b, f->name, "_bucket", f->nlabels, labels, values, le);
		util_buf_puts(b, " ");
		buf_value(b, (double)cum);
		util_buf_puts(b, "\n");
	}
	buf_sample_name(b, f->name, "_sum", f->nlabels, labels, values, NULL);
	util_buf_puts(b, " ");
	buf_value(b, bits_double(atomic_load_explicit(&s->sum, memory_order_relaxed)));
	util_buf_puts(b, "\n");
	buf_sample_name(b, f->name, "_count", f->nlabels, labels, values, NULL);
	util_buf_puts(b, " ");
	buf_value(b, (double)cum);   /* the +Inf bucket, so the two always agree */
	util_buf_puts(b, "\n");
}

struct util_metrics_writer {
	struct util_buf *b;
	struct util_metric_family *const *fam;   /* the registered families */
	size_t nfam;
	char (*seen)[UTIL_METRICS_NAME_MAX];     /* collector families, in order */
	size_t nseen;
	enum util_metric_type cur_type;          /* of seen[nseen - 1] */
	uint64_t dropped;
};

static bool
name_taken(const struct util_metrics_writer *w, const char *name)
{
	size_t i;

	if (strcmp(name, DROPPED_NAME) == 0)
		return true;
	for (i = 0; i < w->nfam; i++)
		if (strcmp(w->fam[i]->name, name) == 0)
			return true;
	for (i = 0; i < w->nseen; i++)
		if (strcmp(w->seen[i], name) == 0)
			return true;
	return false;
}

void
util_metrics_emit(struct util_metrics_writer *w, const char *name, const char *help,
    enum util_metric_type type, const char *const *labels, const char *const *values,
    double value)
{
	size_t n = 0, k;

	if (w == NULL)
		return;
	if (!name_ok(name, true) || (type != UTIL_METRIC_COUNTER && type != UTIL_METRIC_GAUGE))
		goto drop;
	for (n = 0; labels != NULL && labels[n] != NULL; n++) {
		if (n >= UTIL_METRICS_LABELS_MAX || !label_name_ok(labels[n]) || values == NULL ||
		    values[n] == NULL || !text_ok(values[n], UTIL_METRICS_VALUE_MAX, true))
			goto drop;
		for (k = 0; k < n; k++)
			if (strcmp(labels[k], labels[n]) == 0)
				goto drop;
	}
	if (w->nseen == 0 || strcmp(w->seen[w->nseen - 1], name) != 0) {
		if (name_taken(w, name) || w->nseen >= COLLECTED_FAMILIES_MAX ||
		    !text_ok(help ? help : "", UTIL_METRICS_HELP_MAX, false))
			goto drop;
		util_strlcpy(w->seen[w->nseen], name, sizeof(w->seen[0]));
		w->nseen++;
		w->cur_type = type;
		buf_header(w->b, name, help ? help : "", type);
	} else if (w->cur_type != type) {
		goto drop;
	}
	buf_sample_name(w->b, name, "", n, labels, values, NULL);
	util_buf_puts(w->b, " ");
	buf_value(w->b, value);
	util_buf_puts(w->b, "\n");
	return;
drop:
	w->dropped++;
}

enum pv_rc
util_metrics_render(struct util_metrics *m, char **out, size_t *len)
{
	struct util_metric_family *fam[UTIL_METRICS_FAMILIES_MAX];
	struct util_metrics_writer w;
	struct util_buf b = { .max = UTIL_METRICS_TEXT_MAX };   /* failed: no memory or past it */
	struct util_metric *s;
	size_t nfam, i;
	enum pv_rc rc;

	if (m == NULL || out == NULL || len == NULL)
		return PV_E_INVALID;
	memset(&w, 0, sizeof(w));
	w.seen = calloc(COLLECTED_FAMILIES_MAX, sizeof(*w.seen));
	if (w.seen == NULL)
		return PV_E_NOMEM;
	pthread_mutex_lock(&m->cmu);
	pthread_mutex_lock(&m->mu);
	nfam = m->nfam;
	memcpy(fam, m->fam, nfam * sizeof(fam[0]));
	pthread_mutex_unlock(&m->mu);

	for (i = 0; i < nfam; i++) {
		struct util_metric_family *f = fam[i];

		buf_header(&b, f->name, f->help, f->type);
		pthread_mutex_lock(&f->mu);
		for (s = f->first; s != NULL; s = s->next)
			render_series(&b, f, s);
		pthread_mutex_unlock(&f->mu);
	}
	w.b = &b;
	w.fam = fam;
	w.nfam = nfam;
	for (i = 0; i < m->ncol; i++)
		m->col[i].fn(&w, m->col[i].arg);
	pthread_mutex_unlock(&m->cmu);
	if (w.dropped > 0)
		log_warn("metrics: %llu collected samples dropped (bad or repeated name or label)",
		    (unsigned long long)w.dropped);
	buf_header(&b, DROPPED_NAME,
	    "Samples a collector emitted that this scrape dropped (bad or repeated name or label)",
	    UTIL_METRIC_GAUGE);
	util_buf_puts(&b, DROPPED_NAME " ");
	buf_value(&b, (double)w.dropped);
	util_buf_puts(&b, "\n");
	free(w.seen);
	if (b.failed) {
		rc = b.toobig ? PV_E_TOOBIG : PV_E_NOMEM;
		free(b.p);
		return rc;
	}
	*out = b.p;
	*len = b.len;
	return PV_OK;
}
