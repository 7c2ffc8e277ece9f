/*
 * log: one line per event on stderr: "2026-11-22T23:00:00.123Z INFO message".
 * Messages carry IDs and error codes only; callers never pass secrets or PHI
 * (there is deliberately no helper that formats either).
 */
#include <pthread.h>
#include <stdio.h>

#include "util/util.h"

static enum log_level min_level = LOG_LVL_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void
log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vlog(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	char ts[32];

	if (lvl < min_level)
		return;
	util_time_fmt(util_now_ms(), ts, sizeof(ts));
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s %s ", ts, names[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_mu);
}

#define LOG_FN(name, lvl)                  \
	void name(const char *fmt, ...)    \
	{                                  \
		va_list ap;                \
		va_start(ap, fmt);         \
		vlog(lvl, fmt, ap);        \
		va_end(ap);                \
	}

LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_error, LOG_LVL_ERROR)
