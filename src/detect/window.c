/*
 * window.c: the small state the rules keep, all pure functions of the
 * times they are given (entry times: the injectable clock of the process
 * that wrote them), never of the wall clock:
 *
 *  - detect_window: events in the last W ms, counted in 12 buckets of
 *    ceil(W / 12) ms; a bucket older than 12 steps is reused (reset) when
 *    time reaches it again, so memory is fixed and the count covers between
 *    W - step and W;
 *  - detect_distinct: distinct keys (64-bit FNV-1a hashes) seen in the last
 *    W ms, at most 64 (the oldest is dropped when full);
 *  - detect_baseline: a user's sign-in networks (/24, /64; at most 16, the
 *    least recently used dropped), sign-ins per UTC hour, and the average
 *    reads per active bulk window; JSON for detect_state.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_int.h"

void
detect_window_init(struct detect_window *w, int64_t window_ms)
{
	memset(w, 0, sizeof(*w));
	if (window_ms < DETECT_WINDOW_BUCKETS)
		window_ms = DETECT_WINDOW_BUCKETS;
	w->step_ms = (window_ms + DETECT_WINDOW_BUCKETS - 1) / DETECT_WINDOW_BUCKETS;
	for (size_t i = 0; i < DETECT_WINDOW_BUCKETS; i++)
		w->epoch[i] = -1;
}

static int64_t
step_of(const struct detect_window *w, int64_t t_ms)
{
	return t_ms < 0 ? 0 : t_ms / w->step_ms;
}

void
detect_window_add(struct detect_window *w, int64_t t_ms)
{
	int64_t e = step_of(w, t_ms);
	size_t i = (size_t)(e % DETECT_WINDOW_BUCKETS);

	if (w->epoch[i] < e) {
		w->epoch[i] = e;
		w->n[i] = 0;
	}
	/* an entry older than its bucket (clock skew between nodes) counts in
	 * the newer bucket rather than resetting it */
	if (w->n[i] < UINT32_MAX)
		w->n[i]++;
}

uint32_t
detect_window_count(const struct detect_window *w, int64_t t_ms)
{
	int64_t e = step_of(w, t_ms);
	uint64_t sum = 0;

	for (size_t i = 0; i < DETECT_WINDOW_BUCKETS; i++)
		if (w->epoch[i] >= 0 && e - w->epoch[i] < DETECT_WINDOW_BUCKETS)
			sum += w->n[i];
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

uint64_t
detect_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a 64 */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
distinct_expire(struct detect_distinct *d, int64_t t_ms, int64_t window_ms)
{
	size_t i = 0;

	while (i < d->n) {
		if (t_ms - d->t[i] >= window_ms) {
			d->h[i] = d->h[d->n - 1];
			d->t[i] = d->t[d->n - 1];
			d->n--;
		} else {
			i++;
		}
	}
}

void
detect_distinct_add(struct detect_distinct *d, uint64_t h, int64_t t_ms, int64_t window_ms)
{
	size_t i, oldest = 0;

	distinct_expire(d, t_ms, window_ms);
	for (i = 0; i < d->n; i++) {
		if (d->h[i] == h) {
			if (t_ms > d->t[i])
				d->t[i] = t_ms;
			return;
		}
		if (d->t[i] < d->t[oldest])
			oldest = i;
	}
	if (d->n == DETECT_DISTINCT_MAX)
		i = oldest;
	else
		i = d->n++;
	d->h[i] = h;
	d->t[i] = t_ms;
}

void
detect_distinct_remove(struct detect_distinct *d, uint64_t h)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->h[i] == h) {
			d->h[i] = d->h[d->n - 1];
			d->t[i] = d->t[d->n - 1];
			d->n--;
			return;
		}
}

size_t
detect_distinct_count(const struct detect_distinct *d, int64_t t_ms, int64_t window_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		if (t_ms - d->t[i] < window_ms)
			n++;
	return n;
}

bool
detect_network_of(const char *addr, char out[DETECT_NET_MAX])
{
	unsigned char b[16];
	char txt[INET6_ADDRSTRLEN];

	if (addr == NULL || *addr == '\0')
		return false;
	if (inet_pton(AF_INET, addr, b) == 1) {
		snprintf(out, DETECT_NET_MAX, "%u.%u.%u.0/24", b[0], b[1], b[2]);
		return true;
	}
	if (inet_pton(AF_INET6, addr, b) == 1) {
		memset(b + 8, 0, 8);
		if (inet_ntop(AF_INET6, b, txt, sizeof(txt)) == NULL)
			return false;
		snprintf(out, DETECT_NET_MAX, "%s/64", txt);
		return true;
	}
	return false;
}

bool
detect_baseline_knows(const struct detect_baseline *b, const char *net)
{
	for (size_t i = 0; i < b->nnets; i++)
		if (strcmp(b->nets[i], net) == 0)
			return true;
	return false;
}

void
detect_baseline_learn(struct detect_baseline *b, const char *net, int hour)
{
	size_t i;

	b->logins++;
	if (hour >= 0 && hour < 24 && b->hours[hour] < UINT32_MAX)
		b->hours[hour]++;
	if (net == NULL || *net == '\0')
		return;
	/* most recently used last: move a known network to the end */
	for (i = 0; i < b->nnets; i++)
		if (strcmp(b->nets[i], net) == 0)
			break;
	if (i == b->nnets && b->nnets == DETECT_NETS_MAX)
		i = 0;                         /* full: drop the least recently used */
	else if (i == b->nnets)
		b->nnets++;
	memmove(b->nets[i], b->nets[i + 1], (b->nnets - 1 - i) * DETECT_NET_MAX);
	util_strlcpy(b->nets[b->nnets - 1], net, DETECT_NET_MAX);
}

int
detect_baseline_hour_distance(const struct detect_baseline *b, int hour)
{
	int best = 24;

	for (int h = 0; h < 24; h++) {
		int d;

		if (b->hours[h] == 0)
			continue;
		d = abs(h - hour);
		if (24 - d < d)
			d = 24 - d;
		if (d < best)
			best = d;
	}
	return best;
}

char *
detect_baseline_to_json(const struct detect_baseline *b)
{
	json_t *o, *nets = json_array(), *hours = json_array();
	char *s = NULL;

	if (nets == NULL || hours == NULL)
		goto fail;
	for (size_t i = 0; i < b->nnets; i++)
		if (json_array_append_new(nets, json_string(b->nets[i])) != 0)
			goto fail;
	for (size_t i = 0; i < 24; i++)
		if (json_array_append_new(hours, json_integer(b->hours[i])) != 0)
			goto fail;
	o = json_pack("{s:I, s:o, s:o, s:f, s:I, s:I, s:I}", "logins", (json_int_t)b->logins,
	    "nets", nets, "hours", hours, "bulk_avg", b->bulk_avg,
	    "bulk_windows", (json_int_t)b->bulk_windows, "bulk_period",
	    (json_int_t)b->bulk_period, "bulk_period_reads", (json_int_t)b->bulk_period_reads);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
fail:
	json_decref(nets);
	json_decref(hours);
	return NULL;
}

enum pv_rc
detect_baseline_from_json(const char *text, struct detect_baseline *out)
{
	struct detect_baseline b;
	json_t *o = json_loads(text, 0, NULL), *nets, *hours, *v;
	json_int_t logins = 0, windows = 0, period = 0, preads = 0;
	double avg = 0;
	size_t i;
	enum pv_rc rc = PV_E_INVALID;

	memset(&b, 0, sizeof(b));
	if (o == NULL || json_unpack(o, "{s:I, s:o, s:o, s:F, s:I, s:I, s:I}", "logins", &logins,
	    "nets", &nets, "hours", &hours, "bulk_avg", &avg, "bulk_windows", &windows,
	    "bulk_period", &period, "bulk_period_reads", &preads) != 0 ||
	    !json_is_array(nets) || !json_is_array(hours) || json_array_size(hours) != 24 ||
	    json_array_size(nets) > DETECT_NETS_MAX || logins < 0)
		goto out;
	json_array_foreach(nets, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL || strlen(s) >= DETECT_NET_MAX)
			goto out;
		util_strlcpy(b.nets[i], s, DETECT_NET_MAX);
	}
	b.nnets = json_array_size(nets);
	json_array_foreach(hours, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT32_MAX)
			goto out;
		b.hours[i] = (uint32_t)json_integer_value(v);
	}
	b.logins = logins;
	b.bulk_avg = avg;
	b.bulk_windows = windows;
	b.bulk_period = period;
	b.bulk_period_reads = preads;
	*out = b;
	rc = PV_OK;
out:
	json_decref(o);
	return rc;
}

