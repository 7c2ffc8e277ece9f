/*
 * config / compliance baseline / compliance exception: configuration change
 * tracking over the API (docs/governance.md "Configuration change tracking
 * and exceptions").
 *
 *   phivault config show          GET /v1/sys/config (admin: users.manage)
 *   phivault config diff          the drift list of the same answer
 *   phivault compliance baseline approve   POST /v1/compliance/baseline (officer)
 *   phivault compliance baseline show      GET /v1/compliance/baseline (auditor)
 *   phivault compliance exception add --control CFR --reason TEXT --owner USER_ID
 *                                     --expires-at RFC3339        (officer)
 *   phivault compliance exception list                            (auditor)
 *   phivault compliance exception rm ID                           (officer)
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token from PHIVAULT_TOKEN only. `config diff` exits 1
 * when the configuration drifted from the baseline (a check that failed).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CONFIG_USAGE "usage: phivault config show|diff [--addr URL] [--cacert FILE] " \
	"[--format text|json] (token from PHIVAULT_TOKEN)"
#define GOV_USAGE "usage: phivault compliance baseline approve|show | compliance exception " \
	"add --control CFR --reason TEXT --owner USER_ID --expires-at TIME | exception list | " \
	"exception rm ID [--addr URL] [--cacert FILE] [--format text|json]"

static void
print_value(json_t *v)
{
	char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	fputs(t != NULL ? t : "?", stdout);
	free(t);
}

static void
print_drift(json_t *drift)
{
	json_t *d;
	size_t i;

	json_array_foreach(drift, i, d) {
		printf("  %s", cli_jstr(d, "key"));
		if (json_is_true(json_object_get(d, "secret")))
			printf(" (secret: changed, values not shown)");
		else if (json_is_true(json_object_get(d, "long")))
			printf(" (value too long to show)");
		else {
			printf(": ");
			print_value(json_object_get(d, "old"));
			printf(" -> ");
			print_value(json_object_get(d, "new"));
		}
		printf("\n");
	}
}

int
cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *v, *drift;
	const char *sub, *k;
	bool show;
	int c, ret;

	if ((c = cli_subcommand(argc, argv, CONFIG_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		if (c == 'h') {
			printf("%s\n", CONFIG_USAGE);
			return CLI_OK;
		}
		return CLI_USAGE;
	}
	show = strcmp(sub, "show") == 0;
	if (on.bad_format || (!show && strcmp(sub, "diff") != 0) || optind != argc) {
		cli_err(CONFIG_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	ret = cli_api_call(&ctx, "GET", "/v1/sys/config", NULL, 200, &resp);
	if (ret != CLI_OK) {
		json_decref(resp);
		return ret;
	}
	drift = json_object_get(resp, "drift");
	if (ctx.format == CLI_FORMAT_JSON) {
		cli_print_json(show ? resp : json_object_get(resp, "drift"));
	} else if (show) {
		printf("# node %s, hash %s\n", cli_jstr(resp, "node"), cli_jstr(resp, "hash"));
		json_object_foreach(json_object_get(resp, "config"), k, v) {
			printf("%s = ", k);
			if (json_is_string(v))
				fputs(json_string_value(v), stdout);
			else
				print_value(v);
			printf("\n");
		}
	} else {
		json_t *b = json_object_get(resp, "baseline");

		if (!json_is_object(b))
			printf("no baseline approved yet (phivault compliance baseline approve)\n");
		else if (json_array_size(drift) == 0)
			printf("no drift from the baseline %s (approved %s by %s)\n", cli_jstr(b, "hash"),
			    cli_jstr(b, "approved_at"), cli_jstr(b, "approved_by"));
		else {
			printf("%zu key(s) differ from the baseline %s (approved %s by %s):\n",
			    json_array_size(drift), cli_jstr(b, "hash"), cli_jstr(b, "approved_at"),
			    cli_jstr(b, "approved_by"));
			print_drift(drift);
		}
	}
	ret = !show && json_array_size(drift) > 0 ? CLI_CHECK_FAILED : CLI_OK;
	json_decref(resp);
	return ret;
}

static int
baseline_cmd(const struct cli_api *c, bool approve)
{
	json_t *resp = NULL;
	int ret = approve ? cli_api_call(c, "POST", "/v1/compliance/baseline", NULL, 200, &resp) :
	    cli_api_call(c, "GET", "/v1/compliance/baseline", NULL, 200, &resp);

	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (ret == CLI_OK)
		printf("baseline %s approved %s by %s (node %s)\n", cli_jstr(resp, "hash"),
		    cli_jstr(resp, "approved_at"), cli_jstr(resp, "approved_by"),
		    cli_jstr(resp, "node"));
	json_decref(resp);
	return ret;
}

static int
exception_list(const struct cli_api *c)
{
	json_t *resp = NULL, *e;
	size_t i;
	int ret = cli_api_call(c, "GET", "/v1/compliance/exceptions", NULL, 200, &resp);

	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON) {
		cli_print_json(resp);
	} else if (ret == CLI_OK) {
		printf("%-31s %-22s %-31s %-25s %-8s %s\n", "ID", "CONTROL", "OWNER", "EXPIRES AT",
		    "STATE", "REASON");
		json_array_foreach(json_object_get(resp, "exceptions"), i, e)
			printf("%-31s %-22s %-31s %-25s %-8s %s\n", cli_jstr(e, "id"),
			    cli_jstr(e, "control"), cli_jstr(e, "owner"), cli_jstr(e, "expires_at"),
			    cli_jstr(e, "state"), cli_jstr(e, "reason"));
	}
	json_decref(resp);
	return ret;
}

static int
exception_add(const struct cli_api *c, const char *control, const char *reason,
    const char *owner, const char *expires)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "control", control, "reason", reason,
	    "owner", owner, "expires_at", expires), *resp = NULL;
	int ret;

	if (body == NULL) {
		cli_err("out of memory");
		return CLI_RUNTIME;
	}
	ret = cli_api_call(c, "POST", "/v1/compliance/exceptions", body, 201, &resp);
	json_decref(body);
	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (ret == CLI_OK)
		printf("%s: %s excepted until %s\n", cli_jstr(resp, "id"), cli_jstr(resp, "control"),
		    cli_jstr(resp, "expires_at"));
	json_decref(resp);
	return ret;
}

static int
exception_rm(const struct cli_api *c, const char *id)
{
	char path[160];
	json_t *resp = NULL;
	size_t n = strlen(id);
	int ret;

	if (n == 0 || n > 47 || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") != n) {
		cli_err(GOV_USAGE);
		return CLI_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/compliance/exceptions/%s", id);
	ret = cli_api_call(c, "DELETE", path, NULL, 204, &resp);
	if (ret == CLI_OK && c->format != CLI_FORMAT_JSON)
		printf("%s removed\n", id);
	json_decref(resp);
	return ret;
}

/* phivault compliance baseline|exception ...: argv[0] is "baseline" or
 * "exception", argv[1] its subcommand. */
int
cli_compliance_online(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "control", required_argument, NULL, 'C' },
		{ "reason", required_argument, NULL, 'r' },
		{ "owner", required_argument, NULL, 'o' },
		{ "expires-at", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *what = argv[0], *sub, *control = NULL, *reason = NULL, *owner = NULL;
	const char *expires = NULL;
	bool baseline = strcmp(what, "baseline") == 0, add, list, rm, any;
	int c;

	if ((c = cli_subcommand(argc, argv, GOV_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'C': control = optarg; break;
		case 'r': reason = optarg; break;
		case 'o': owner = optarg; break;
		case 'e': expires = optarg; break;
		case 'h':
			printf("%s\n", GOV_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	any = control != NULL || reason != NULL || owner != NULL || expires != NULL;
	add = !baseline && strcmp(sub, "add") == 0;
	list = !baseline && strcmp(sub, "list") == 0;
	rm = !baseline && strcmp(sub, "rm") == 0;
	if (on.bad_format ||
	    (baseline ? (strcmp(sub, "approve") != 0 && strcmp(sub, "show") != 0) || any ||
	    optind != argc :
	    add ? optind != argc || control == NULL || reason == NULL || owner == NULL ||
	    expires == NULL :
	    list ? optind != argc || any :
	    rm ? optind != argc - 1 || any : true)) {
		cli_err(GOV_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (baseline)
		return baseline_cmd(&ctx, strcmp(sub, "approve") == 0);
	if (add)
		return exception_add(&ctx, control, reason, owner, expires);
	if (list)
		return exception_list(&ctx);
	return exception_rm(&ctx, argv[optind]);
}
