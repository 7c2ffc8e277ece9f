/*
 * elevation: just-in-time elevation over the API (docs/access-control.md
 * "Just-in-time elevation").
 *
 *   phivault elevation request ROLE --justification TEXT [--ticket T] [--duration S]
 *   phivault elevation list [--status pending|active|denied|revoked|expired]
 *   phivault elevation show ID
 *   phivault elevation approve ID | deny ID | revoke ID
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only. Eligibility, who
 * may approve (a security officer, never the requester, never an app) and
 * who may revoke are the server's.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ELEVATION_USAGE "usage: phivault elevation request ROLE --justification TEXT " \
	"[--ticket T] [--duration S] | elevation list [--status S] | elevation show ID | " \
	"elevation approve|deny|revoke ID [--addr URL] [--cacert FILE] [--format text|json] " \
	"(token from PHIVAULT_TOKEN)"

static void
print_one(json_t *e)
{
	printf("%-30s %-8s %-20s %-30s %llds", cli_jstr(e, "id"), cli_jstr(e, "status"),
	    cli_jstr(e, "role"), cli_jstr(e, "user_id"),
	    (long long)json_integer_value(json_object_get(e, "duration_s")));
	if (*cli_jstr(e, "expires_at") != '\0')
		printf(" until %s (approved by %s)", cli_jstr(e, "expires_at"),
		    cli_jstr(e, "approved_by"));
	printf("\n    ticket %s: %s\n", *cli_jstr(e, "ticket") ? cli_jstr(e, "ticket") : "-",
	    cli_jstr(e, "justification"));
	if (*cli_jstr(e, "ended_by") != '\0')
		printf("    ended by %s at %s\n", cli_jstr(e, "ended_by"), cli_jstr(e, "ended_at"));
}

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 4 && n < 64 && strncmp(id, "elv_", 4) == 0 &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool
lower_word(const char *s)
{
	return s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

int
cmd_elevation(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "justification", required_argument, NULL, 'j' },
		{ "ticket", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "status", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *just = NULL, *ticket = NULL, *dur = NULL, *status = NULL, *sub;
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *body = NULL, *e;
	char path[160], *end = NULL;
	long long duration = 0;
	size_t i;
	int c, ret, want = 200;
	bool req, list, one;

	if ((c = cli_subcommand(argc, argv, ELEVATION_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'j': just = optarg; break;
		case 't': ticket = optarg; break;
		case 'd': dur = optarg; break;
		case 's': status = optarg; break;
		case 'h':
			printf("%s\n", ELEVATION_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	req = strcmp(sub, "request") == 0;
	list = strcmp(sub, "list") == 0;
	one = strcmp(sub, "show") == 0 || strcmp(sub, "approve") == 0 ||
	    strcmp(sub, "deny") == 0 || strcmp(sub, "revoke") == 0;
	if (dur != NULL) {
		duration = strtoll(dur, &end, 10);
		if (end == dur || *end != '\0' || duration <= 0) {
			cli_err("--duration must be a number of seconds");
			return CLI_USAGE;
		}
	}
	if ((!req && !list && !one) ||
	    (req && (optind != argc - 1 || !lower_word(argv[optind]) || just == NULL ||
	    status != NULL)) ||
	    (list && (optind != argc || just != NULL || ticket != NULL || dur != NULL ||
	    (status != NULL && !lower_word(status)))) ||
	    (one && (optind != argc - 1 || !id_ok(argv[optind]) || just != NULL ||
	    ticket != NULL || dur != NULL || status != NULL))) {
		cli_err(ELEVATION_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (list) {
		snprintf(path, sizeof(path), "/v1/elevations%s%s", status ? "?status=" : "",
		    status ? status : "");
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			json_array_foreach(json_object_get(resp, "elevations"), i, e)
				print_one(e);
		json_decref(resp);
		return ret;
	}
	if (req) {
		body = json_pack("{s:s, s:s}", "role", argv[optind], "justification", just);
		if (body != NULL && ticket != NULL)
			json_object_set_new(body, "ticket", json_string(ticket));
		if (body != NULL && dur != NULL)
			json_object_set_new(body, "duration_s", json_integer(duration));
		snprintf(path, sizeof(path), "/v1/elevations");
		want = 202;
	} else if (strcmp(sub, "show") == 0) {
		snprintf(path, sizeof(path), "/v1/elevations/%s", argv[optind]);
	} else {
		snprintf(path, sizeof(path), "/v1/elevations/%s/%s", argv[optind], sub);
		body = json_object();
	}
	if (body == NULL && strcmp(sub, "show") != 0) {
		cli_err("out of memory");
		return CLI_RUNTIME;
	}
	ret = cli_api_call(&ctx, body != NULL ? "POST" : "GET", path, body, want, &resp);
	json_decref(body);
	if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (ret == CLI_OK)
		print_one(resp);
	json_decref(resp);
	return ret;
}
