/*
 * job: background jobs over the API (API.md "Jobs", docs/operations.md).
 *
 *   phivault job list
 *   phivault job show ID [--watch]
 *   phivault job pause|resume|cancel ID
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only. `show` prints the
 * job and its progress line; --watch polls twice a second until the job
 * has ended (done, failed, cancelled) and, on a terminal, redraws the
 * progress bar in place. With --format json each poll prints the API's
 * answer as one line of JSON.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define JOB_USAGE "usage: phivault job list | job show ID [--watch] | " \
	"job pause|resume|cancel ID [--addr URL] [--cacert FILE] [--format text|json] " \
	"(token from PHIVAULT_TOKEN)"
#define BAR_WIDTH 30
#define WATCH_MS 500

char *
cli_job_progress(long long done, long long total, double rate, long long eta, int width,
    char *buf, size_t len)
{
	size_t off = 0;
	int fill = 0, pct = 0;

	if (len == 0)
		return buf;
	if (width < 1)
		width = 1;
	if (total > 0) {
		long long d = done < 0 ? 0 : done > total ? total : done;

		fill = (int)(d * width / total);
		pct = (int)(d * 100 / total);
	}
#define PUT(...) do { \
	int n_ = snprintf(buf + off, len - off, __VA_ARGS__); \
	if (n_ < 0 || (size_t)n_ >= len - off) \
		return buf; \
	off += (size_t)n_; \
} while (0)
	PUT("[");
	for (int i = 0; i < width; i++)
		PUT("%c", i < fill ? '#' : '.');
	PUT("]");
	if (total > 0)
		PUT(" %d%% %lld/%lld", pct, done, total);
	else
		PUT(" %lld", done);
	if (rate > 0)
		PUT(" %.0f/s", rate);
	if (eta >= 0)
		PUT(" eta %llds", eta);
#undef PUT
	return buf;
}

static void
progress_of(json_t *j, char *buf, size_t len)
{
	json_t *eta = json_object_get(j, "eta_s");

	cli_job_progress(json_integer_value(json_object_get(j, "done")),
	    json_integer_value(json_object_get(j, "total")),
	    json_number_value(json_object_get(j, "rate_per_s")),
	    json_is_integer(eta) ? json_integer_value(eta) : -1, BAR_WIDTH, buf, len);
}

static void
print_job(json_t *j)
{
	char bar[160];
	json_t *e;
	size_t i;

	printf("id:        %s\n", cli_jstr(j, "id"));
	printf("kind:      %s\n", cli_jstr(j, "kind"));
	printf("state:     %s\n", cli_jstr(j, "state"));
	printf("created:   %s by %s\n", cli_jstr(j, "created_at"), cli_jstr(j, "created_by"));
	if (*cli_jstr(j, "started_at") != '\0')
		printf("started:   %s\n", cli_jstr(j, "started_at"));
	if (*cli_jstr(j, "finished_at") != '\0')
		printf("finished:  %s\n", cli_jstr(j, "finished_at"));
	progress_of(j, bar, sizeof(bar));
	printf("progress:  %s\n", bar);
	printf("errors:    %lld\n", (long long)json_integer_value(json_object_get(j, "error_count")));
	json_array_foreach(json_object_get(j, "errors"), i, e)
		printf("  %s %s %s\n", cli_jstr(e, "at"), cli_jstr(e, "code"), cli_jstr(e, "item"));
}

static bool
ended(json_t *j)
{
	const char *s = cli_jstr(j, "state");

	return strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0;
}

static int
job_show(const struct cli_api *c, const char *id, bool watch)
{
	char path[128], bar[160];
	bool tty = isatty(STDOUT_FILENO);
	json_t *j = NULL;
	int ret;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	for (;;) {
		json_decref(j);
		if ((ret = cli_api_call(c, "GET", path, NULL, 200, &j)) != CLI_OK)
			break;
		if (!watch || ended(j)) {
			if (watch && tty && c->format == CLI_FORMAT_TEXT)
				printf("\r\033[K");
			if (c->format == CLI_FORMAT_JSON)
				cli_print_json(j);
			else
				print_job(j);
			break;
		}
		if (c->format == CLI_FORMAT_JSON) {
			cli_print_json(j);
		} else {
			progress_of(j, bar, sizeof(bar));
			/* on a terminal the bar is redrawn in place, elsewhere a line each */
			printf(tty ? "\r\033[K%s %s" : "%s %s\n", cli_jstr(j, "state"), bar);
		}
		fflush(stdout);
		{
			struct timespec ts = { WATCH_MS / 1000, (WATCH_MS % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	json_decref(j);
	return ret;
}

static int
job_list(const struct cli_api *c)
{
	json_t *resp = NULL, *j;
	char bar[160];
	size_t i;
	int ret = cli_api_call(c, "GET", "/v1/jobs", NULL, 200, &resp);

	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON) {
		cli_print_json(resp);
	} else if (ret == CLI_OK) {
		printf("%-31s %-16s %-10s %s\n", "ID", "KIND", "STATE", "PROGRESS");
		json_array_foreach(json_object_get(resp, "jobs"), i, j) {
			progress_of(j, bar, sizeof(bar));
			printf("%-31s %-16s %-10s %s\n", cli_jstr(j, "id"), cli_jstr(j, "kind"),
			    cli_jstr(j, "state"), bar);
		}
	}
	json_decref(resp);
	return ret;
}

static int
job_verb(const struct cli_api *c, const char *verb, const char *id)
{
	char path[160];
	json_t *resp = NULL;
	int ret;

	snprintf(path, sizeof(path), "/v1/jobs/%s/%s", id, verb);
	if ((ret = cli_api_call(c, "POST", path, NULL, 200, &resp)) == CLI_OK) {
		if (c->format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else
			printf("%s: %s\n", cli_jstr(resp, "id"), cli_jstr(resp, "state"));
	}
	json_decref(resp);
	return ret;
}

static bool
id_valid(const char *a)
{
	size_t n = strlen(a);

	return n > 4 && n < 48 && strncmp(a, "job_", 4) == 0 &&
	    strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int
cmd_job(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "watch", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub;
	bool watch = false, verb;
	int c;

	if ((c = cli_subcommand(argc, argv, JOB_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "wh", opts, &on)) != -1) {
		switch (c) {
		case 'w': watch = true; break;
		case 'h':
			printf("%s\n", JOB_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	verb = strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0 ||
	    strcmp(sub, "cancel") == 0;
	if (strcmp(sub, "list") == 0 ? optind != argc || watch :
	    strcmp(sub, "show") == 0 ? optind != argc - 1 || !id_valid(argv[optind]) :
	    verb ? optind != argc - 1 || !id_valid(argv[optind]) || watch : true) {
		cli_err(JOB_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (strcmp(sub, "list") == 0)
		return job_list(&ctx);
	if (strcmp(sub, "show") == 0)
		return job_show(&ctx, argv[optind], watch);
	return job_verb(&ctx, sub, argv[optind]);
}
