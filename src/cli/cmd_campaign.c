/*
 * review campaign: access review campaigns over the API (docs/governance.md
 * "Access reviews"); reached as `phivault review campaign ...` (cmd_review
 * hands it argv from "campaign" on).
 *
 *   phivault review campaign create --scope phi_access|admins|apps
 *       [--reviewers officers] [--due-in SECONDS]
 *   phivault review campaign list [--status open|closed]
 *   phivault review campaign show ID
 *   phivault review campaign decide ID ITEM --decision keep|revoke [--note TEXT]
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json; the token comes from
 * PHIVAULT_TOKEN only. Who may do what (access.approve, never one's own
 * item) is the server's.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CAMPAIGN_USAGE "usage: phivault review campaign create --scope phi_access|admins|apps " \
	"[--reviewers officers] [--due-in SECONDS] | review campaign list [--status " \
	"open|closed] | review campaign show ID | review campaign decide ID ITEM --decision " \
	"keep|revoke [--note TEXT] [--addr URL] [--cacert FILE] [--format text|json] (token " \
	"from PHIVAULT_TOKEN)"

static bool
id_ok(const char *id, const char *prefix)
{
	size_t n = strlen(id), p = strlen(prefix);

	return n > p && n < 64 && strncmp(id, prefix, p) == 0 &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void
print_counts(json_t *k)
{
	printf("    pending %lld, keep %lld, revoke %lld, removed %lld, unattested %lld, "
	    "unused %lld\n",
	    (long long)json_integer_value(json_object_get(k, "pending")),
	    (long long)json_integer_value(json_object_get(k, "keep")),
	    (long long)json_integer_value(json_object_get(k, "revoke")),
	    (long long)json_integer_value(json_object_get(k, "removed")),
	    (long long)json_integer_value(json_object_get(k, "unattested")),
	    (long long)json_integer_value(json_object_get(k, "unused")));
}

static void
print_campaign(json_t *c)
{
	printf("%-30s %-6s %-10s due %s%s%s\n", cli_jstr(c, "id"), cli_jstr(c, "status"),
	    cli_jstr(c, "scope"), cli_jstr(c, "due_at"),
	    *cli_jstr(c, "closed_at") ? ", closed " : "", cli_jstr(c, "closed_at"));
	print_counts(json_object_get(c, "counts"));
}

static void
names(const char *label, json_t *arr)
{
	json_t *v;
	size_t i;

	printf(" %s", label);
	if (json_array_size(arr) == 0)
		printf(" -");
	json_array_foreach(arr, i, v)
		printf("%s%s", i ? "," : " ", json_is_string(v) ? json_string_value(v) :
		    cli_jstr(v, "name"));
}

static void
print_full(json_t *c)
{
	json_t *it;
	size_t i;

	print_campaign(c);
	json_array_foreach(json_object_get(c, "items"), i, it) {
		const char *d = cli_jstr(it, "decision");

		printf("  %-30s %-4s %-24s %s%s\n", cli_jstr(it, "item"), cli_jstr(it, "kind"),
		    cli_jstr(it, "name"), *d ? d : "pending",
		    json_is_true(json_object_get(it, "unused")) ? " UNUSED" : "");
		printf("   ");
		names("roles", json_object_get(it, "roles"));
		names("groups", json_object_get(it, "groups"));
		printf(" last used %s, approved by %s\n",
		    *cli_jstr(it, "last_used") ? cli_jstr(it, "last_used") : "never",
		    *cli_jstr(it, "approved_by") ? cli_jstr(it, "approved_by") : "-");
	}
	if (json_is_boolean(json_object_get(c, "signature_valid")))
		printf("result signed by the audit key: %s\n",
		    json_is_true(json_object_get(c, "signature_valid")) ? "verifies" :
		    "DOES NOT VERIFY");
}

static int
reply(struct cli_api *ctx, int ret, json_t *resp, void (*print)(json_t *))
{
	if (ret == CLI_OK && ctx->format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (ret == CLI_OK)
		print(resp);
	json_decref(resp);
	return ret;
}

int
cli_review_campaign(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "scope", required_argument, NULL, 's' },
		{ "reviewers", required_argument, NULL, 'r' },
		{ "due-in", required_argument, NULL, 'd' },
		{ "status", required_argument, NULL, 't' },
		{ "decision", required_argument, NULL, 'D' },
		{ "note", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *scope = NULL, *reviewers = NULL, *due = NULL, *status = NULL;
	const char *decision = NULL, *note = NULL, *sub;
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *body, *c;
	char path[200], *end;
	long long due_s = 0;
	size_t i;
	int ch, ret;

	if ((ch = cli_subcommand(argc, argv, CAMPAIGN_USAGE, &on)) != CLI_GO_ON)
		return ch;
	sub = argv[1];
	while ((ch = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (ch) {
		case 's': scope = optarg; break;
		case 'r': reviewers = optarg; break;
		case 'd': due = optarg; break;
		case 't': status = optarg; break;
		case 'D': decision = optarg; break;
		case 'n': note = optarg; break;
		case 'h':
			printf("%s\n", CAMPAIGN_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	if (strcmp(sub, "create") == 0 && optind == argc && scope != NULL && !status &&
	    !decision && !note) {
		if (due != NULL) {
			due_s = strtoll(due, &end, 10);
			if (*due == '\0' || *end != '\0' || due_s <= 0) {
				cli_err("--due-in takes a number of seconds");
				return CLI_USAGE;
			}
		}
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		body = json_pack("{s:s, s:s}", "scope", scope, "reviewers",
		    reviewers != NULL ? reviewers : "officers");
		if (body != NULL && due_s > 0)
			json_object_set_new(body, "due_in_s", json_integer(due_s));
		if (body == NULL) {
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
		ret = cli_api_call(&ctx, "POST", "/v1/reviews/campaigns", body, 201, &resp);
		json_decref(body);
		if (ret == CLI_OK && ctx.format != CLI_FORMAT_JSON) {
			printf("%s\n", cli_jstr(resp, "id"));
			json_decref(resp);
			return ret;
		}
		return reply(&ctx, ret, resp, print_campaign);
	}
	if (strcmp(sub, "list") == 0 && optind == argc && !scope && !reviewers && !due &&
	    !decision && !note && (status == NULL || strcmp(status, "open") == 0 ||
	    strcmp(status, "closed") == 0)) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/v1/reviews/campaigns%s%s", status ? "?status=" : "",
		    status ? status : "");
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			json_array_foreach(json_object_get(resp, "campaigns"), i, c)
				print_campaign(c);
		json_decref(resp);
		return ret;
	}
	if (strcmp(sub, "show") == 0 && optind == argc - 1 && id_ok(argv[optind], "rvc_") &&
	    !scope && !reviewers && !due && !status && !decision && !note) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/v1/reviews/campaigns/%s", argv[optind]);
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
		return reply(&ctx, ret, resp, print_full);
	}
	if (strcmp(sub, "decide") == 0 && optind == argc - 2 && id_ok(argv[optind], "rvc_") &&
	    id_ok(argv[optind + 1], "rvi_") && decision != NULL &&
	    (strcmp(decision, "keep") == 0 || strcmp(decision, "revoke") == 0) && !scope &&
	    !reviewers && !due && !status) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/v1/reviews/campaigns/%s/items/%s", argv[optind],
		    argv[optind + 1]);
		body = note != NULL ? json_pack("{s:s, s:s}", "decision", decision, "note", note) :
		    json_pack("{s:s}", "decision", decision);
		if (body == NULL) {
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
		ret = cli_api_call(&ctx, "POST", path, body, 200, &resp);
		json_decref(body);
		if (ret == CLI_OK && ctx.format != CLI_FORMAT_JSON) {
			printf("%s %s\n", cli_jstr(resp, "item"), cli_jstr(resp, "decision"));
			json_decref(resp);
			return ret;
		}
		return reply(&ctx, ret, resp, print_campaign);
	}
	cli_err(CAMPAIGN_USAGE);
	return CLI_USAGE;
}
