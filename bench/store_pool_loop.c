/*
 * bench/store_pool_loop.c: the store's hot path without HTTP, to compare the
 * connection pool before and after a change (docs/performance.md "Store
 * pool loop"). T threads each run N read transactions (store_begin RD,
 * store_epoch_get, store_end) on SQLite, then on a throwaway PostgreSQL
 * cluster (tests/pg_cluster.h), and print transactions per second.
 *
 *   cc -O2 -Isrc -Itests bench/store_pool_loop.c build/libpv_store.a \
 *      build/libpv_util.a $(pkg-config --libs sqlite3 libpq libsodium openssl jansson) \
 *      -lpthread -o /tmp/store_pool_loop && /tmp/store_pool_loop 2 20000
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "pg_cluster.h"

static struct store *st;
static int iters;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < iters; i++) {
		int64_t e;
		enum pv_rc rc;

		STORE_READ(st, rc, store_epoch_get(tx, &e));
		if (rc != PV_OK) {
			fprintf(stderr, "read failed: %d\n", rc);
			exit(1);
		}
	}
	return NULL;
}

static double run(int threads)
{
	pthread_t th[64];
	double t0 = now_s();

	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return (double)threads * iters / (now_s() - t0);
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	char dir[] = "/tmp/pvloop.XXXXXX", err[512], url[256];
	struct pg_cluster pgc;

	iters = argc > 2 ? atoi(argv[2]) : 20000;
	if (threads < 1 || threads > 64 || mkdtemp(dir) == NULL)
		return 2;
	if (store_open(dir, "sqlite", NULL, false, &st) != PV_OK)
		return 1;
	printf("sqlite    %d threads x %d: %.0f read tx/s\n", threads, iters, run(threads));
	store_close(st);
	if (pg_cluster_start(&pgc, err, sizeof(err)) != 0 ||
	    pg_cluster_createdb(&pgc, "loop") != 0) {
		fprintf(stderr, "no PostgreSQL: %s\n", err);
		pg_cluster_stop(&pgc);
		return 1;
	}
	if (store_open(NULL, "postgres", pg_cluster_url(&pgc, "loop", url, sizeof(url)), false,
	    &st) != PV_OK) {
		pg_cluster_stop(&pgc);
		return 1;
	}
	printf("postgres  %d threads x %d: %.0f read tx/s\n", threads, iters, run(threads));
	store_close(st);
	pg_cluster_stop(&pgc);
	return 0;
}
