/*
 * util/metrics: the metrics registry (counters, gauges, fixed-bucket
 * histograms) and its rendering in the Prometheus text exposition format
 * 0.0.4. Part of util's public surface (util.h is the rest): every module
 * may count here; GET /metrics (http) renders it.
 *
 * Model:
 *  - A family is a metric name with its help text, type, label names (at
 *    most UTIL_METRICS_LABELS_MAX, fixed at registration) and, for a
 *    histogram, its bucket bounds. util_metrics_family() is get-or-create:
 *    the same definition twice returns the same family; the same name with
 *    another type, labels or buckets is PV_E_CONFLICT.
 *  - A series is one set of label values of a family. util_metrics_series()
 *    looks it up without a lock (open addressing over atomic pointers) and
 *    creates it, the first time only, under the family's mutex. At most
 *    UTIL_METRICS_SERIES_MAX series a family: beyond that it returns NULL,
 *    and every update through NULL is a no-op (a bounded registry never
 *    grows with traffic; label values must come from a bounded set anyway).
 *  - Updates are C11 atomics, no lock: counters and histogram buckets are
 *    relaxed fetch_adds, gauges and sums are doubles stored as their bits.
 *  - Collectors (util_metrics_collector_add) are called at render time to
 *    write gauges a higher module already knows (seal state, sink lag,
 *    alerts by rule): one function per module, no layer goes upward.
 *
 * Invariants:
 *  - No label value is ever PHI, a username, a record ID or a source address:
 *    callers pass route templates, status codes, kinds and states only.
 *  - Families and series are never freed while the registry lives, so the
 *    pointers callers keep stay valid.
 *  - Rendering is deterministic: families in registration order, series in
 *    creation order, collectors after them in the order they were added.
 *    A histogram's buckets are cumulative and its _count is its +Inf bucket.
 */
#ifndef PV_UTIL_METRICS_H
#define PV_UTIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define UTIL_METRICS_FAMILIES_MAX 128
#define UTIL_METRICS_LABELS_MAX 4
#define UTIL_METRICS_BUCKETS_MAX 24
#define UTIL_METRICS_SERIES_MAX 1024     /* per family */
#define UTIL_METRICS_COLLECTORS_MAX 16
#define UTIL_METRICS_NAME_MAX 96         /* metric and label names, incl. NUL */
#define UTIL_METRICS_HELP_MAX 256
#define UTIL_METRICS_VALUE_MAX 128       /* a label value, incl. NUL */
#define UTIL_METRICS_TEXT_MAX (8u << 20) /* rendered text, at most */

enum util_metric_type { UTIL_METRIC_COUNTER, UTIL_METRIC_GAUGE, UTIL_METRIC_HISTOGRAM };

struct util_metrics;          /* a registry */
struct util_metric_family;
struct util_metric;           /* one series */
struct util_metrics_writer;   /* what a collector writes to */

struct util_metric_def {
	const char *name;         /* [a-zA-Z_:][a-zA-Z0-9_:]* ("phivault_http_requests_total") */
	const char *help;         /* one line of text */
	enum util_metric_type type;
	const char *const *labels;   /* NULL-terminated label names, or NULL for none */
	const double *buckets;    /* histograms: strictly increasing finite upper bounds */
	size_t nbuckets;          /* 1 .. UTIL_METRICS_BUCKETS_MAX (+Inf is implied) */
};

/* The process-wide registry every module counts in (never freed). */
struct util_metrics *util_metrics_default(void);
/* A registry of its own (unit tests); util_metrics_free releases it and
 * everything in it: nobody may hold its series afterwards. */
enum pv_rc util_metrics_new(struct util_metrics **out);
void util_metrics_free(struct util_metrics *m);

/* Get or create a family (see above). PV_E_INVALID for a bad name, label
 * name (also "le" and "__" prefixes), help or buckets; PV_E_TOOBIG when the
 * registry is full. */
enum pv_rc util_metrics_family(struct util_metrics *m, const struct util_metric_def *def,
    struct util_metric_family **out);
/* The series for these label values (as many as the family has label names;
 * NULL for none). NULL when fam is NULL, a value is NULL or longer than
 * UTIL_METRICS_VALUE_MAX - 1, the family is full, or out of memory. */
struct util_metric *util_metrics_series(struct util_metric_family *fam,
    const char *const *values);

/* Updates; all accept NULL (no-op) and never block. */
void util_metric_inc(struct util_metric *s);                   /* counter + 1 */
void util_metric_add(struct util_metric *s, uint64_t n);       /* counter + n */
void util_metric_set(struct util_metric *s, double v);         /* gauge = v */
void util_metric_gauge_add(struct util_metric *s, double d);   /* gauge + d */
void util_metric_observe(struct util_metric *s, double v);     /* histogram */

/* Reads (tests): a counter's count, a gauge's value, a histogram's count. */
double util_metric_value(const struct util_metric *s);

/*
 * Collectors: fn runs at every render, after the registered families, while
 * the registry's collector lock is held (util_metrics_collector_remove waits
 * for a render in flight). It writes with util_metrics_emit. At most
 * UTIL_METRICS_COLLECTORS_MAX; PV_E_CONFLICT if (fn, arg) is already added.
 */
typedef void (*util_metrics_collect_fn)(struct util_metrics_writer *w, void *arg);
enum pv_rc util_metrics_collector_add(struct util_metrics *m, util_metrics_collect_fn fn,
    void *arg);
void util_metrics_collector_remove(struct util_metrics *m, util_metrics_collect_fn fn,
    void *arg);
/*
 * One sample of a gauge or counter family that a collector owns. Samples of
 * one family must be emitted one after the other (the HELP and TYPE lines are
 * written before the first); a family name already rendered, or emitted
 * earlier and left, or a bad name, label or type (histograms are not
 * emitted this way) is dropped and counted in
 * phivault_metrics_dropped_samples. labels: NULL-terminated names, values
 * as many; both may be NULL.
 */
void util_metrics_emit(struct util_metrics_writer *w, const char *name, const char *help,
    enum util_metric_type type, const char *const *labels, const char *const *values,
    double value);

/* Render everything as Prometheus text format 0.0.4 into a malloc'd,
 * NUL-terminated buffer (*len without the NUL). PV_E_TOOBIG past
 * UTIL_METRICS_TEXT_MAX, PV_E_NOMEM. */
enum pv_rc util_metrics_render(struct util_metrics *m, char **out, size_t *len);

#endif /* PV_UTIL_METRICS_H */
