/*
 * argon2_alone: the login baseline. How many Argon2id verifications per
 * second this machine allows at given parameters, with nothing else around
 * them (no TLS, no HTTP, no database). A login costs one verification, so
 * this is the ceiling for login throughput (bench/run.sh pins it to the same
 * CPU as phivault serve).
 *
 *   argon2_alone -t OPSLIMIT -m MEMLIMIT_KIB [-j THREADS] [-d SECONDS]
 *
 * Prints one line of key=value pairs: ops, seconds, rate (ops/s), p50_ms,
 * p99_ms, errors.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define MAX_THREADS 64
#define MAX_SAMPLES 100000

static const char password[] = "correct horse battery staple 42";
static char hash[crypto_pwhash_STRBYTES];
static double seconds = 5.0;
static double t_start;

struct worker {
	pthread_t tid;
	double *lat_ms;
	size_t n;
	size_t errors;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
work(void *arg)
{
	struct worker *w = arg;

	while (now_s() - t_start < seconds && w->n < MAX_SAMPLES) {
		double t0 = now_s();

		if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
			w->errors++;
		w->lat_ms[w->n++] = (now_s() - t0) * 1000.0;
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static unsigned long long
parse_num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0) {
		fprintf(stderr, "argon2_alone: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	unsigned long long opslimit = 2, mem_kib = 19456;
	unsigned threads = 1;
	struct worker w[MAX_THREADS];
	double *all, elapsed;
	size_t total = 0, errors = 0, k = 0;
	int c;

	while ((c = getopt(argc, argv, "t:m:j:d:")) != -1) {
		switch (c) {
		case 't': opslimit = parse_num(optarg, "opslimit"); break;
		case 'm': mem_kib = parse_num(optarg, "memlimit"); break;
		case 'j': threads = (unsigned)parse_num(optarg, "threads"); break;
		case 'd': seconds = (double)parse_num(optarg, "seconds"); break;
		default:
			fprintf(stderr, "usage: argon2_alone -t OPS -m MEM_KIB [-j THREADS] [-d SECONDS]\n");
			return 2;
		}
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (sodium_init() < 0) {
		fprintf(stderr, "argon2_alone: libsodium is not usable\n");
		return 3;
	}
	if (crypto_pwhash_str_alg(hash, password, strlen(password), opslimit,
	    (size_t)mem_kib * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		fprintf(stderr, "argon2_alone: cannot hash (out of memory?)\n");
		return 3;
	}
	t_start = now_s();
	for (unsigned i = 0; i < threads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].lat_ms = calloc(MAX_SAMPLES, sizeof(double));
		if (w[i].lat_ms == NULL || pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "argon2_alone: cannot start thread\n");
			return 3;
		}
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(w[i].tid, NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	elapsed = now_s() - t_start;
	all = calloc(total > 0 ? total : 1, sizeof(double));
	if (all == NULL)
		return 3;
	for (unsigned i = 0; i < threads; i++) {
		memcpy(all + k, w[i].lat_ms, w[i].n * sizeof(double));
		k += w[i].n;
		free(w[i].lat_ms);
	}
	qsort(all, total, sizeof(double), cmp_double);
	printf("ops=%zu seconds=%.3f rate=%.2f p50_ms=%.2f p99_ms=%.2f errors=%zu\n",
	    total, elapsed, (double)total / elapsed,
	    total ? all[total / 2] : 0.0,
	    total ? all[(size_t)((double)(total - 1) * 0.99)] : 0.0, errors);
	free(all);
	return errors == 0 ? 0 : 1;
}
