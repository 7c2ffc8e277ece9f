/*
 * alert: threat-detection alerts over the API (API.md "Alerts",
 * docs/monitoring.md "Detection and alerts").
 *
 *   phivault alert list [--status open|acknowledged] [--rule RULE] [--limit N]
 *   phivault alert ack ID --note TEXT
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only (an auditor's: the
 * routes need alerts.read). Filters are checked by the server (400
 * invalid_request names the bad one); the CLI only refuses what cannot be
 * put in a URL.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ALERT_USAGE "usage: phivault alert list [--status open|acknowledged] [--rule RULE] " \
	"[--limit N] | alert ack ID --note TEXT [--addr URL] [--cacert FILE] " \
	"[--format text|json] (token from PHIVAULT_TOKEN)"

static bool
word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int
alert_list(const struct cli_api *c, const char *status, const char *rule, const char *limit)
{
	char path[256];
	json_t *resp = NULL, *a;
	size_t i, off;
	int ret;

	off = (size_t)snprintf(path, sizeof(path), "/v1/alerts?");
	if (status != NULL)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "status=%s&", status);
	if (rule != NULL)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "rule=%s&", rule);
	if (limit != NULL)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "limit=%s&", limit);
	path[off - 1] = '\0';   /* the trailing '?' or '&' */
	ret = cli_api_call(c, "GET", path, NULL, 200, &resp);
	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON) {
		cli_print_json(resp);
	} else if (ret == CLI_OK) {
		printf("%-31s %-17s %-8s %-13s %-32s %-15s %6s %s\n", "ID", "RULE", "SEVERITY",
		    "STATUS", "ACTOR", "SOURCE", "COUNT", "LAST SEEN");
		json_array_foreach(resp, i, a)
			printf("%-31s %-17s %-8s %-13s %-32s %-15s %6lld %s\n", cli_jstr(a, "id"),
			    cli_jstr(a, "rule"), cli_jstr(a, "severity"), cli_jstr(a, "status"),
			    cli_jstr(a, "actor"), cli_jstr(a, "source"),
			    (long long)json_integer_value(json_object_get(a, "count")),
			    cli_jstr(a, "last_seen"));
	}
	json_decref(resp);
	return ret;
}

static int
alert_ack(const struct cli_api *c, const char *id, const char *note)
{
	char path[160];
	json_t *body = json_pack("{s:s}", "note", note), *resp = NULL;
	int ret;

	if (body == NULL) {
		cli_err("out of memory");
		return CLI_RUNTIME;
	}
	snprintf(path, sizeof(path), "/v1/alerts/%s/ack", id);
	ret = cli_api_call(c, "POST", path, body, 200, &resp);
	json_decref(body);
	if (ret == CLI_OK) {
		if (c->format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else
			printf("%s: %s\n", cli_jstr(resp, "id"), cli_jstr(resp, "status"));
	}
	json_decref(resp);
	return ret;
}

int
cmd_alert(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "status", required_argument, NULL, 's' },
		{ "rule", required_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'l' },
		{ "note", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub, *status = NULL, *rule = NULL, *limit = NULL, *note = NULL;
	bool list, ack;
	int c;

	if ((c = cli_subcommand(argc, argv, ALERT_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 's': status = optarg; break;
		case 'r': rule = optarg; break;
		case 'l': limit = optarg; break;
		case 'n': note = optarg; break;
		case 'h':
			printf("%s\n", ALERT_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	list = strcmp(sub, "list") == 0;
	ack = strcmp(sub, "ack") == 0;
	if (list ? optind != argc || note != NULL ||
	    (status != NULL && !word_ok(status, 32)) || (rule != NULL && !word_ok(rule, 32)) ||
	    (limit != NULL && (strlen(limit) > 6 || strspn(limit, "0123456789") != strlen(limit) ||
	    *limit == '\0')) :
	    ack ? optind != argc - 1 || note == NULL || !word_ok(argv[optind], 47) ||
	    status != NULL || rule != NULL || limit != NULL : true) {
		cli_err(ALERT_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (list)
		return alert_list(&ctx, status, rule, limit);
	return alert_ack(&ctx, argv[optind], note);
}
