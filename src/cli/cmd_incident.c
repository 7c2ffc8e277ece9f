/*
 * incident: the breach scope report over the API (API.md "Governance";
 * docs/governance.md "Breach scope").
 *
 *   phivault incident create (--actor ID ... | --source CIDR ...) --since T [--until T]
 *                            [--revoke] [--wait]
 *   phivault incident list
 *   phivault incident show ID [--format text|json|csv]
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT); the token comes from PHIVAULT_TOKEN only
 * (incidents.manage: security_officer). --revoke ends every session of the
 * named users and revokes the named apps' secrets and sessions in the same
 * call. --wait polls until the job is done and prints the report. show
 * --format csv prints the server's CSV (one row per subject x collection)
 * as it came: it names patients, so send it where the letters are made,
 * not to a shared log.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define INCIDENT_USAGE "usage: phivault incident create (--actor ID ... | --source CIDR ...) " \
	"--since T [--until T] [--revoke] [--wait] | incident list | " \
	"incident show ID [--format text|json|csv] [--addr URL] [--cacert FILE] " \
	"(token from PHIVAULT_TOKEN; T: RFC 3339 UTC, YYYY-MM-DDTHH:MM:SSZ)"
#define WAIT_MAX_S 3600

enum { O_ACTOR = 256, O_SOURCE, O_SINCE, O_UNTIL, O_REVOKE, O_WAIT };

static void
print_incident(json_t *r)
{
	json_t *s, *c, *counts = json_object_get(r, "counts");
	size_t i, k;

	printf("incident %s  %s (job %s)  %s .. %s\n", cli_jstr(r, "id"), cli_jstr(r, "state"),
	    cli_jstr(r, "job_state"), cli_jstr(r, "since"), cli_jstr(r, "until"));
	if (!json_is_object(counts)) {
		printf("  in progress: %lld of %lld audit entries\n",
		    (long long)json_integer_value(json_object_get(json_object_get(r, "progress"),
		    "done")), (long long)json_integer_value(json_object_get(json_object_get(r,
		    "progress"), "total")));
		return;
	}
	printf("  %lld subject(s) (%lld shredded, %lld unresolved), %lld record(s) without a "
	    "subject, %lld entries\n",
	    (long long)json_integer_value(json_object_get(counts, "subjects")),
	    (long long)json_integer_value(json_object_get(counts, "shredded")),
	    (long long)json_integer_value(json_object_get(counts, "unresolved")),
	    (long long)json_integer_value(json_object_get(counts, "records_without_subject")),
	    (long long)json_integer_value(json_object_get(counts, "entries")));
	json_array_foreach(json_object_get(r, "subjects"), i, s) {
		const char *who = cli_jstr(s, "subject");

		printf("  %-24s %-10s %s .. %s  %lld access(es)\n", who[0] ? who : "(no identifier)",
		    cli_jstr(s, "state"), cli_jstr(s, "first"), cli_jstr(s, "last"),
		    (long long)json_integer_value(json_object_get(s, "count")));
		json_array_foreach(json_object_get(s, "collections"), k, c) {
			json_t *f;
			size_t j;

			printf("      %-20s", cli_jstr(c, "collection"));
			json_array_foreach(json_object_get(c, "fields"), j, f)
				printf("%s%s", j ? "," : " ", json_string_value(f));
			printf("\n");
		}
	}
	json_array_foreach(json_object_get(r, "records_without_subject"), i, s)
		printf("  record %s/%s  %lld access(es)\n", cli_jstr(s, "collection"),
		    cli_jstr(s, "record"), (long long)json_integer_value(json_object_get(s, "count")));
}

static int
show(const struct cli_api *ctx, const char *id, const char *wire)
{
	char path[160];
	char *text = NULL;
	json_t *resp = NULL;
	long status = 0;
	int ret = CLI_RUNTIME;

	snprintf(path, sizeof(path), "/v1/incidents/%s%s", id, wire != NULL ? "?format=csv" : "");
	if (cli_http_text(ctx->addr, ctx->cacert, ctx->token, path, &status, &resp, &text) !=
	    PV_OK)
		goto out;
	if (status != 200) {
		ret = cli_api_error(status, resp);
		goto out;
	}
	if (wire != NULL)
		fputs(text, stdout);
	else if (ctx->format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else
		print_incident(resp);
	ret = CLI_OK;
out:
	if (text != NULL) {
		memset(text, 0, strlen(text));
		free(text);
	}
	json_decref(resp);
	return ret;
}

/* Poll until the incident's job ended; CLI_OK once it is done. */
static int
wait_done(const struct cli_api *ctx, const char *id)
{
	char path[160];

	snprintf(path, sizeof(path), "/v1/incidents/%s", id);
	for (int i = 0; i < WAIT_MAX_S * 5; i++) {
		json_t *resp = NULL;
		int ret = cli_api_call(ctx, "GET", path, NULL, 200, &resp);
		const char *js = cli_jstr(resp, "job_state");
		bool end = strcmp(js, "done") == 0, bad = strcmp(js, "failed") == 0 ||
		    strcmp(js, "cancelled") == 0;

		json_decref(resp);
		if (ret != CLI_OK)
			return ret;
		if (end)
			return CLI_OK;
		if (bad) {
			cli_err("incident %s: its job is %s", id, js);
			return CLI_RUNTIME;
		}
		nanosleep(&(struct timespec){ 0, 200000000 }, NULL);
	}
	cli_err("incident %s: still running after %d s", id, WAIT_MAX_S);
	return CLI_RUNTIME;
}

static int
create(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "actor", required_argument, NULL, O_ACTOR },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "revoke", no_argument, NULL, O_REVOKE },
		{ "wait", no_argument, NULL, O_WAIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *actors = json_array(), *sources = json_array(), *body = NULL, *resp = NULL;
	const char *since = NULL, *until = NULL;
	char id[64] = "";
	bool revoke = false, wait = false;
	int c, ret = CLI_USAGE;

	cli_online_init(&on);
	optind = 2;
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case O_ACTOR: json_array_append_new(actors, json_string(optarg)); break;
		case O_SOURCE: json_array_append_new(sources, json_string(optarg)); break;
		case O_SINCE: since = optarg; break;
		case O_UNTIL: until = optarg; break;
		case O_REVOKE: revoke = true; break;
		case O_WAIT: wait = true; break;
		case 'h':
			printf("%s\n", INCIDENT_USAGE);
			ret = CLI_OK;
			goto out;
		default:
			goto out;
		}
	}
	if (on.bad_format || optind != argc || since == NULL ||
	    json_array_size(actors) + json_array_size(sources) == 0) {
		cli_err(INCIDENT_USAGE);
		goto out;
	}
	if (!cli_api_init(&ctx, &on))
		goto out;
	body = json_pack("{s:O, s:O, s:s, s:s*}", "actors", actors, "sources", sources, "since",
	    since, "until", until);
	if (body != NULL && revoke)
		json_object_set_new(body, "revoke", json_pack("{s:b, s:b}", "sessions", 1, "secrets",
		    1));
	if (body == NULL) {
		ret = CLI_RUNTIME;
		goto out;
	}
	if ((ret = cli_api_call(&ctx, "POST", "/v1/incidents", body, 202, &resp)) != CLI_OK)
		goto out;
	snprintf(id, sizeof(id), "%s", cli_jstr(resp, "incident"));
	if (!wait) {
		if (ctx.format == CLI_FORMAT_JSON) {
			cli_print_json(resp);
		} else {
			json_t *rv = json_object_get(resp, "revoked");

			printf("incident %s queued (phivault incident show %s)\n", id, id);
			if (revoke)
				printf("revoked: %lld session(s) ended, %lld app secret(s) revoked\n",
				    (long long)json_integer_value(json_object_get(rv, "sessions_ended")),
				    (long long)json_integer_value(json_object_get(rv,
				    "secrets_revoked")));
		}
		goto out;
	}
	if ((ret = wait_done(&ctx, id)) == CLI_OK)
		ret = show(&ctx, id, NULL);
out:
	json_decref(actors);
	json_decref(sources);
	json_decref(body);
	json_decref(resp);
	return ret;
}

int
cmd_incident(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub, *wire = NULL;
	json_t *resp = NULL;
	int c, ret;

	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return create(argc, argv);
	if ((c = cli_subcommand(argc, argv, INCIDENT_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = getopt_long(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, NULL)) != -1) {
		if (c == 'F' && strcmp(optarg, "csv") == 0) {
			wire = optarg;   /* the server's own rendering, printed as it came */
			continue;
		}
		if (cli_online_opt(&on, c, optarg))
			continue;
		if (c == 'h') {
			printf("%s\n", INCIDENT_USAGE);
			return CLI_OK;
		}
		return CLI_USAGE;
	}
	if (on.bad_format)
		goto usage;
	if (strcmp(sub, "list") == 0 && optind == argc && wire == NULL) {
		json_t *i;
		size_t k;

		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		if ((ret = cli_api_call(&ctx, "GET", "/v1/incidents", NULL, 200, &resp)) != CLI_OK)
			return ret;
		if (ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else
			json_array_foreach(json_object_get(resp, "incidents"), k, i)
				printf("%s  %-6s %-9s %s .. %s  by %s\n", cli_jstr(i, "id"),
				    cli_jstr(i, "state"), cli_jstr(i, "job_state"), cli_jstr(i, "since"),
				    cli_jstr(i, "until"), cli_jstr(i, "created_by"));
		json_decref(resp);
		return CLI_OK;
	}
	if (strcmp(sub, "show") == 0 && argc - optind == 1 && strlen(argv[optind]) < 64 &&
	    strspn(argv[optind], "abcdefghijklmnopqrstuvwxyz0123456789_") ==
	    strlen(argv[optind])) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		return show(&ctx, argv[optind], wire);
	}
usage:
	cli_err(INCIDENT_USAGE);
	return CLI_USAGE;
}
