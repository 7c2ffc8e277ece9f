/*
 * policy: access policies over the API (docs/access-control.md).
 *
 *   phivault policy add NAME --effect allow|deny --actions A[,A...]
 *                            [--resources R[,R...]] [--condition JSON]
 *   phivault policy list
 *   phivault policy show NAME
 *   phivault policy rm NAME
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only. The server checks
 * the definition (the CLI only checks that --condition is a JSON object).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define POLICY_USAGE "usage: phivault policy add NAME --effect allow|deny --actions A[,A...] " \
	"[--resources R[,R...]] [--condition JSON] | policy list | policy show NAME | " \
	"policy rm NAME [--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN)"

static json_t *
csv_array(const char *csv)
{
	json_t *a = json_array();
	const char *p = csv, *e;

	while (a != NULL && p != NULL && *p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p)
			json_array_append_new(a, json_stringn(p, (size_t)(e - p)));
		p = *e == ',' ? e + 1 : e;
	}
	return a;
}

static void
print_one(json_t *p)
{
	char *cond = json_dumps(json_object_get(p, "condition"), JSON_COMPACT | JSON_SORT_KEYS);
	char *acts = json_dumps(json_object_get(p, "actions"), JSON_COMPACT);
	char *res = json_dumps(json_object_get(p, "resources"), JSON_COMPACT);

	printf("%-24s %-5s v%-3lld %-8s actions=%s resources=%s condition=%s\n",
	    cli_jstr(p, "name"), cli_jstr(p, "effect"),
	    (long long)json_integer_value(json_object_get(p, "version")), cli_jstr(p, "status"),
	    acts ? acts : "[]", res ? res : "[]", cond ? cond : "{}");
	free(cond);
	free(acts);
	free(res);
}

static bool
name_ok(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len < 64 && n[0] >= 'a' && n[0] <= 'z' &&
	    strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

int
cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "effect", required_argument, NULL, 'e' },
		{ "actions", required_argument, NULL, 'A' },
		{ "resources", required_argument, NULL, 'R' },
		{ "condition", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *effect = NULL, *actions = NULL, *resources = NULL, *condition = NULL, *sub;
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *body = NULL, *cond = NULL, *p;
	char path[160];
	size_t i;
	int c, ret;
	long status = 0;
	bool add, one;

	if ((c = cli_subcommand(argc, argv, POLICY_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'e': effect = optarg; break;
		case 'A': actions = optarg; break;
		case 'R': resources = optarg; break;
		case 'C': condition = optarg; break;
		case 'h':
			printf("%s\n", POLICY_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	add = strcmp(sub, "add") == 0;
	one = add || strcmp(sub, "show") == 0 || strcmp(sub, "rm") == 0;
	if ((strcmp(sub, "list") != 0 && !one) || (one ? optind != argc - 1 || !name_ok(argv[optind])
	    : optind != argc) || (add ? effect == NULL || actions == NULL :
	    effect != NULL || actions != NULL || resources != NULL || condition != NULL)) {
		cli_err(POLICY_USAGE);
		return CLI_USAGE;
	}
	/* json_is_object is a macro that evaluates its argument twice */
	if (condition != NULL)
		cond = json_loads(condition, 0, NULL);
	if (condition != NULL && !json_is_object(cond)) {
		json_decref(cond);
		cli_err("--condition must be a JSON object");
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on)) {
		json_decref(cond);
		return CLI_USAGE;
	}
	if (strcmp(sub, "list") == 0) {
		ret = cli_api_call(&ctx, "GET", "/v1/policies", NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			json_array_foreach(json_object_get(resp, "policies"), i, p)
				print_one(p);
		json_decref(resp);
		return ret;
	}
	snprintf(path, sizeof(path), "/v1/policies/%s", argv[optind]);
	if (add) {
		body = json_pack("{s:s, s:s, s:o}", "name", argv[optind], "effect", effect,
		    "actions", csv_array(actions));
		if (body != NULL && resources != NULL)
			json_object_set_new(body, "resources", csv_array(resources));
		if (body != NULL && cond != NULL)
			json_object_set(body, "condition", cond);
		json_decref(cond);
		if (body == NULL) {
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
		ret = cli_api_call2(&ctx, "POST", "/v1/policies", body, 201, 202, &status, &resp);
		json_decref(body);
		if (ret == CLI_OK && status == 202 && ctx.format != CLI_FORMAT_JSON) {
			/* dual control: a PHI allow policy waits for a security officer */
			printf("%s: pending approval: %s\n", argv[optind],
			    cli_jstr(resp, "approval"));
			json_decref(resp);
			return ret;
		}
	} else if (strcmp(sub, "show") == 0) {
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
	} else {
		ret = cli_api_call(&ctx, "DELETE", path, NULL, 204, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON) {
			json_decref(resp);
			resp = json_pack("{s:s, s:b}", "name", argv[optind], "deleted", 1);
		} else if (ret == CLI_OK) {
			printf("%s: deleted\n", argv[optind]);
		}
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		json_decref(resp);
		return ret;
	}
	if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (ret == CLI_OK)
		print_one(resp);
	json_decref(resp);
	return ret;
}
