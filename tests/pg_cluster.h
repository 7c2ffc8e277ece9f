/*
 * tests/pg_cluster.h: a throwaway PostgreSQL cluster for tests (header-only;
 * unit tests include "../../pg_cluster.h", integration tests "../pg_cluster.h").
 *
 * pg_cluster_start: initdb into a new /tmp/pvpg.XXXXXX (as the `postgres`
 * user when run as root: initdb and postgres refuse root), then postgres
 * listening on 127.0.0.1 at a free port with its unix socket in that
 * directory; waits until it answers. pg_cluster_stop: SIGINT (fast shutdown)
 * to the postmaster's PID (our child), waits for it, removes the directory.
 * One cluster per test executable; each test takes its own database
 * (pg_cluster_createdb). A missing PostgreSQL (Debian package `postgresql`,
 * installed by `make deps`) is a failure with a clear message, never a skip.
 */
#ifndef PV_TESTS_PG_CLUSTER_H
#define PV_TESTS_PG_CLUSTER_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_CLUSTER_BIN "/usr/lib/postgresql/15/bin"

struct pg_cluster {
	char dir[256];      /* /tmp/pvpg.XXXXXX */
	int port;
	pid_t pid;          /* the postmaster (our child); 0 when stopped */
	uid_t uid;          /* who runs it */
	gid_t gid;
};

static inline int pg_cluster_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* fork + (drop to uid/gid) + exec argv; stdout/stderr to logpath. */
static inline pid_t pg_cluster_spawn(const struct pg_cluster *c, char *const argv[],
    const char *logpath)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (getuid() == 0 && (setgroups(0, NULL) != 0 || setgid(c->gid) != 0 ||
	    setuid(c->uid) != 0))
		_exit(126);
	{
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	setsid();   /* a Ctrl-C of the test run does not reach it first */
	execv(argv[0], argv);
	_exit(127);
}

static inline void pg_cluster_tail(const char *logpath, char *err, size_t errlen)
{
	FILE *f = fopen(logpath, "r");
	size_t n = 0;

	if (f == NULL || errlen == 0)
		return;
	if (fseek(f, -400, SEEK_END) != 0)
		rewind(f);
	n = fread(err, 1, errlen - 1, f);
	err[n] = '\0';
	fclose(f);
}

static inline int pg_cluster_rm_cb(const char *p, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* The conninfo of database db (NULL: postgres) in the cluster, into buf. */
static inline const char *pg_cluster_url(const struct pg_cluster *c, const char *db, char *buf,
    size_t cap)
{
	snprintf(buf, cap, "host=127.0.0.1 port=%d user=postgres dbname=%s", c->port,
	    db != NULL ? db : "postgres");
	return buf;
}

/* Run one SQL command on the postgres database; 0 on success. */
static inline int pg_cluster_sql(const struct pg_cluster *c, const char *sql)
{
	char url[256];
	PGconn *db = PQconnectdb(pg_cluster_url(c, NULL, url, sizeof(url)));
	PGresult *r;
	int ok;

	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "pg_cluster: connect: %s", PQerrorMessage(db));
		PQfinish(db);
		return -1;
	}
	r = PQexec(db, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "pg_cluster: %s: %s", sql, PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	return ok ? 0 : -1;
}

static inline int pg_cluster_createdb(const struct pg_cluster *c, const char *name)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	return pg_cluster_sql(c, sql);
}

static inline int pg_cluster_dropdb(const struct pg_cluster *c, const char *name)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	return pg_cluster_sql(c, sql);
}

/* Start the postmaster on the initialised data directory (again after a
 * stop_server); 0 when it answers. */
static inline int pg_cluster_start_server(struct pg_cluster *c, char *err, size_t errlen)
{
	char data[300], sock[300], log[300], port[16], url[256];
	char *argv[] = { (char *)PG_CLUSTER_BIN "/postgres", (char *)"-D", data, (char *)"-p", port,
	    (char *)"-k", sock, (char *)"-c", (char *)"listen_addresses=127.0.0.1",
	    (char *)"-c", (char *)"fsync=off", (char *)"-c", (char *)"max_connections=200",
	    (char *)"-c", (char *)"shared_buffers=32MB", NULL };

	snprintf(data, sizeof(data), "%s/data", c->dir);
	snprintf(sock, sizeof(sock), "%s/sock", c->dir);
	snprintf(log, sizeof(log), "%s/postgres.log", c->dir);
	snprintf(port, sizeof(port), "%d", c->port);
	c->pid = pg_cluster_spawn(c, argv, log);
	if (c->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	pg_cluster_url(c, NULL, url, sizeof(url));
	for (int i = 0; i < 3000; i++) {   /* up to ~15 s */
		struct timespec ts = { 0, 5 * 1000000L };
		int st;

		if (PQping(url) == PQPING_OK)
			return 0;
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = 0;
			pg_cluster_tail(log, err, errlen);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "postgres did not answer on port %d", c->port);
	return -1;
}

/* Fast shutdown of the postmaster (the data directory stays). */
static inline void pg_cluster_stop_server(struct pg_cluster *c)
{
	int st;

	if (c->pid <= 0)
		return;
	kill(c->pid, SIGINT);
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
}

/* 0 on success; else err says why (PostgreSQL missing, initdb failed...). */
static inline int pg_cluster_start(struct pg_cluster *c, char *err, size_t errlen)
{
	char data[300], sock[300], log[300];
	char *initdb[] = { (char *)PG_CLUSTER_BIN "/initdb", (char *)"-D", data, (char *)"-A",
	    (char *)"trust", (char *)"-U", (char *)"postgres", (char *)"--locale=C",
	    (char *)"-E", (char *)"UTF8", (char *)"--no-sync", NULL };
	int st;
	pid_t pid;

	memset(c, 0, sizeof(*c));
	if (access(PG_CLUSTER_BIN "/initdb", X_OK) != 0 ||
	    access(PG_CLUSTER_BIN "/postgres", X_OK) != 0) {
		snprintf(err, errlen, "PostgreSQL 15 is not installed (%s/initdb missing): "
		    "run `make deps` (Debian package postgresql)", PG_CLUSTER_BIN);
		return -1;
	}
	c->uid = getuid();
	c->gid = getgid();
	if (c->uid == 0) {
		struct passwd *pw = getpwnam("postgres");

		if (pw == NULL) {
			snprintf(err, errlen, "running as root but there is no `postgres` user "
			    "(install the Debian package postgresql)");
			return -1;
		}
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	}
	snprintf(c->dir, sizeof(c->dir), "/tmp/pvpg.XXXXXX");
	if (mkdtemp(c->dir) == NULL) {
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(data, sizeof(data), "%s/data", c->dir);
	snprintf(sock, sizeof(sock), "%s/sock", c->dir);
	snprintf(log, sizeof(log), "%s/postgres.log", c->dir);
	if (mkdir(sock, 0700) != 0 || chown(c->dir, c->uid, c->gid) != 0 ||
	    chown(sock, c->uid, c->gid) != 0) {
		snprintf(err, errlen, "prepare %s: %s", c->dir, strerror(errno));
		return -1;
	}
	pid = pg_cluster_spawn(c, initdb, log);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		size_t n = (size_t)snprintf(err, errlen, "initdb failed: ");

		if (n < errlen)
			pg_cluster_tail(log, err + n, errlen - n);
		return -1;
	}
	if ((c->port = pg_cluster_free_port()) < 0) {
		snprintf(err, errlen, "no free port");
		return -1;
	}
	return pg_cluster_start_server(c, err, errlen);
}

static inline void pg_cluster_stop(struct pg_cluster *c)
{
	pg_cluster_stop_server(c);
	if (c->dir[0] != '\0')
		nftw(c->dir, pg_cluster_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	c->dir[0] = '\0';
}

#endif /* PV_TESTS_PG_CLUSTER_H */
