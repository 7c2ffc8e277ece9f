/*
 * detect internals, for the module's files and its unit tests: the sliding
 * window, the distinct-key set, the per-user baseline, the event taken from
 * an audit row, and the rules engine (pure: entries in, hits out; no I/O
 * except through the two callbacks it is given). engine.c owns the thread,
 * the queue and the store; alerts.c the alert operations and routes.
 */
#ifndef PV_DETECT_INT_H
#define PV_DETECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"

/* ---- thresholds (from [detect]; config_defaults holds the defaults) ---- */
struct detect_thresholds {
	int brute_force_failures;
	int64_t brute_force_window_ms;
	int spray_accounts;
	int64_t spray_window_ms;
	int baseline_min_logins;
	int unusual_hour_min_logins;
	int unusual_hour_margin_h;
	int mfa_failures;
	int64_t mfa_window_ms;
	int64_t bulk_read_window_ms;
	int bulk_read_max;
	int bulk_read_factor;
	int bulk_read_min;
	int bulk_read_min_windows;
	int enumeration_max;
	int64_t enumeration_window_ms;
	int64_t change_read_window_ms;
	int decrypt_failures;
	int64_t decrypt_window_ms;
	int64_t sink_lag_check_ms;
	int64_t sink_lag_max;
	int64_t sink_lag_for_ms;
	/* drill_overdue: no passing restore drill (drill.run allowed) for this
	 * long, once the vault has a backup: 2 x [backup] drill_every_s; 0 off */
	int64_t drill_overdue_ms;
};
void detect_thresholds_from_config(const struct pv_config *c, struct detect_thresholds *t);

/* ---- sliding window: events in the last window_ms, in DETECT_WINDOW_BUCKETS
 * steps (the count covers between window_ms - step and window_ms) ---- */
#define DETECT_WINDOW_BUCKETS 12
struct detect_window {
	int64_t step_ms;
	int64_t epoch[DETECT_WINDOW_BUCKETS];
	uint32_t n[DETECT_WINDOW_BUCKETS];
};
void detect_window_init(struct detect_window *w, int64_t window_ms);
void detect_window_add(struct detect_window *w, int64_t t_ms);
uint32_t detect_window_count(const struct detect_window *w, int64_t t_ms);

/* ---- distinct keys (hashes) seen within a window, at most DETECT_DISTINCT_MAX
 * (the oldest is dropped when full) ---- */
#define DETECT_DISTINCT_MAX 64
struct detect_distinct {
	uint64_t h[DETECT_DISTINCT_MAX];
	int64_t t[DETECT_DISTINCT_MAX];
	size_t n;
};
void detect_distinct_add(struct detect_distinct *d, uint64_t h, int64_t t_ms, int64_t window_ms);
void detect_distinct_remove(struct detect_distinct *d, uint64_t h);
size_t detect_distinct_count(const struct detect_distinct *d, int64_t t_ms, int64_t window_ms);
uint64_t detect_hash(const char *s);

/* ---- per-user baseline (persisted as JSON in detect_state "user:<id>") ---- */
#define DETECT_NET_MAX 64
#define DETECT_NETS_MAX 16
struct detect_baseline {
	int64_t logins;                              /* successful sign-ins seen */
	char nets[DETECT_NETS_MAX][DETECT_NET_MAX];  /* most recent last */
	size_t nnets;
	uint32_t hours[24];                          /* sign-ins per UTC hour */
	double bulk_avg;                             /* reads per active window */
	int64_t bulk_windows;                        /* active windows averaged */
	int64_t bulk_period;                         /* current window (t / window) */
	int64_t bulk_period_reads;
};
/* IPv4 -> "a.b.c.0/24", IPv6 -> its /64 ("x:x:x:x::/64"); false if not an address. */
bool detect_network_of(const char *addr, char out[DETECT_NET_MAX]);
bool detect_baseline_knows(const struct detect_baseline *b, const char *net);
void detect_baseline_learn(struct detect_baseline *b, const char *net, int hour);
/* Hours (0..12) from hour to the nearest hour with a sign-in; 24 if none. */
int detect_baseline_hour_distance(const struct detect_baseline *b, int hour);
/* malloc'd JSON text / parse it (PV_E_INVALID: damaged, *b untouched). */
char *detect_baseline_to_json(const struct detect_baseline *b);
enum pv_rc detect_baseline_from_json(const char *text, struct detect_baseline *b);

/* ---- an audit row as the rules see it ---- */
struct detect_event {
	int64_t seq;
	int64_t t_ms;
	const char *action, *outcome, *reason, *resource, *detail;   /* the row's */
	char user_id[STORE_ALERT_ACTOR_MAX];   /* actor.user_id ("anonymous" if none) */
	char source[STORE_ALERT_SOURCE_MAX];   /* actor.source ("" if none) */
};
/* PV_E_INVALID for a row whose time or actor cannot be read. */
enum pv_rc detect_event_from_row(const struct store_audit_row *row, struct detect_event *ev);

/* ---- the rules ---- */
struct detect_hit {
	const char *rule;      /* static: DETECT_RULE_* */
	const char *severity;  /* static: low | medium | high */
	char actor[STORE_ALERT_ACTOR_MAX];
	char source[STORE_ALERT_SOURCE_MAX];
	int64_t count;         /* events behind the hit (window count), >= 1 */
	int64_t t_ms;
};
#define DETECT_HITS_MAX 4

struct detect_rules_io {
	/* the persisted baseline of user_id (false: none yet) */
	bool (*baseline_load)(void *arg, const char *user_id, struct detect_baseline *out);
	/* the user ID of a known username (false: none) */
	bool (*user_by_name)(void *arg, const char *username, char out[STORE_ALERT_ACTOR_MAX]);
	void *arg;
};
struct detect_rules;
enum pv_rc detect_rules_new(const struct detect_thresholds *t, const struct detect_rules_io *io,
    struct detect_rules **out);
void detect_rules_free(struct detect_rules *r);
/* Feed one committed entry (in seq order); returns the number of hits
 * written to hits (at most max). */
size_t detect_rules_feed(struct detect_rules *r, const struct detect_event *ev,
    struct detect_hit *hits, size_t max);
/* Calls cb for every user whose baseline changed since the last call, and
 * marks it clean. */
void detect_rules_each_dirty(struct detect_rules *r,
    void (*cb)(void *arg, const char *user_id, const struct detect_baseline *b), void *arg);

#endif /* PV_DETECT_INT_H */

/* ---- the engine (engine.c), shared with alerts.c ---- */
#include <pthread.h>

#define DETECT_QUEUE_MAX 1024          /* committed entries waiting for the detector */
/* The ring's size for detectors started from now on (DETECT_QUEUE_MAX; unit
 * tests make it tiny to force the queue-full path). */
extern size_t detect_queue_cap;
#define DETECT_SLOT_BYTES 2048         /* an entry's text; larger ones are read back */
#define DETECT_OPEN_BUCKETS 256

#define DETECT_BATCH 64                /* entries the detector takes at once */
#define DETECT_COALESCE_MS 10          /* waits this long for a batch to fill */

struct detect_slot {
	int64_t seq;
	uint16_t off[7];                   /* time, actor, action, resource, outcome, reason, detail */
	uint16_t used;                     /* bytes of buf in use */
	char buf[DETECT_SLOT_BYTES];
};

/* An open alert the detector knows (rule, actor, source) -> id. */
struct detect_open {
	struct detect_open *next;
	char rule[STORE_ALERT_RULE_MAX];
	char actor[STORE_ALERT_ACTOR_MAX];
	char source[STORE_ALERT_SOURCE_MAX];
	char id[UTIL_ID_MAX];
};

struct detect_bump {
	char id[UTIL_ID_MAX];
	int64_t add;
	int64_t last_ms;
};

struct detect {
	struct store *st;
	struct audit *audit;
	bool enabled;
	struct detect_thresholds t;
	struct detect_rules *rules;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;                /* ring, flags, published_pos, inflight */
	pthread_cond_t cv;                 /* work for the detector */
	pthread_cond_t settled;            /* pos or inflight moved */
	struct detect_slot *ring;
	size_t rcap, rhead, rn;
	uint64_t dropped;                  /* entries the subscriber could not queue */
	bool overflow;                     /* an entry was dropped: read the table */
	bool accepting;                    /* the subscriber takes entries */
	bool stop;
	int64_t published_pos;             /* pos whose writes are submitted (settle) */
	int inflight;                      /* submitted writes not yet done */
	uint64_t flush_req, flush_done;    /* settle asks for the writes at once */
	int64_t pos;                       /* processed up to this seq (detector thread) */

	/* detector thread only */
	int64_t last_save_mono;
	bool state_dirty;
	struct detect_alert_new *news;
	size_t nnews, capnews;
	struct detect_bump *bumps;
	size_t nbumps, capbumps;

	/* sink lag (detector thread only) */
	struct sinks *sinks;               /* NULL: none to watch */
	int64_t lag_next_ms;               /* next check (util_now_ms) */
	int64_t lag_since_ms[4];           /* SINKS_MAX: first check that found it behind; 0 */

	/* drill overdue (detector thread only, after start) */
	bool backup_seen;                  /* a backup.create allowed is in the trail */
	int64_t drill_pass_ms;             /* newest passing drill.run, else the start */
	int64_t drill_next_ms;             /* next check (util_now_ms) */

	pthread_mutex_t amu;               /* open alerts */
	struct detect_open *open[DETECT_OPEN_BUCKETS];
};

/* Forget the open alert id (acknowledged): the next hit raises a new one. */
void detect_open_forget(struct detect *d, const char *id);
