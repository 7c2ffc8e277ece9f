/*
 * key: key administration over the API (API.md "Keys", docs/keys.md).
 *
 *   phivault key list
 *   phivault key rotate NAME
 *   phivault key policy NAME [--rotate-every SECONDS] [--reencrypt auto|manual]
 *                            [--provider soft|pkcs11] [--double-encryption on|off]
 *     (provider and double encryption apply from the next rotation)
 *   phivault key reencrypt NAME [--mode rewrap_dek|full|reindex] [--max-rps N]
 *   phivault key reindex NAME [--max-rps N]     (reencrypt --mode reindex:
 *                                               an index:<collection> key)
 *   phivault key retire NAME VERSION
 *   phivault key revoke NAME VERSION --confirm NAME:VERSION
 *   phivault key compromised NAME VERSION --confirm NAME:VERSION
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only (keys.manage:
 * key_admin). reencrypt prints the job ID; `phivault job show ID --watch`
 * follows it.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define KEY_USAGE "usage: phivault key list | key rotate NAME | " \
	"key policy NAME [--rotate-every S] [--reencrypt auto|manual] " \
	"[--provider soft|pkcs11] [--double-encryption on|off] | " \
	"key reencrypt NAME [--mode rewrap_dek|full|reindex] [--max-rps N] | " \
	"key reindex NAME [--max-rps N] | " \
	"key retire NAME VERSION | key revoke NAME VERSION --confirm NAME:VERSION | " \
	"key compromised NAME VERSION --confirm NAME:VERSION " \
	"[--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN)"

enum { O_EVERY = 256, O_REENC, O_MODE, O_RPS, O_CONFIRM, O_PROVIDER, O_DOUBLE };

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 120 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789:._-") == n;
}

static bool
number_ok(const char *s, long long lo, long long hi, long long *out)
{
	char *end = NULL;
	long long v;

	if (s == NULL || *s == '\0' || strspn(s, "0123456789") != strlen(s))
		return false;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void
print_list(json_t *arr)
{
	json_t *k, *v;
	size_t i, j;

	printf("%-32s %-8s %-8s %-13s %-10s %-24s %s\n", "KEY", "VERSION", "PROVIDER", "STATE",
	    "OBJECTS", "CREATED", "OUTER");
	json_array_foreach(arr, i, k) {
		/* each version's own provider (a key moves into the HSM by rotation) */
		json_array_foreach(json_object_get(k, "versions"), j, v)
			printf("%-32s %-8lld %-8s %-13s %-10lld %-24s %s\n", cli_jstr(k, "name"),
			    (long long)json_integer_value(json_object_get(v, "version")),
			    json_is_string(json_object_get(v, "provider")) ?
			    cli_jstr(v, "provider") : cli_jstr(k, "provider"), cli_jstr(v, "state"),
			    (long long)json_integer_value(json_object_get(v, "objects")),
			    cli_jstr(v, "created_at"), json_is_string(json_object_get(v, "outer")) ?
			    cli_jstr(v, "outer") : "-");
	}
}

static int
call(const struct cli_api *c, const char *method, const char *path, json_t *body, long want,
    const char *what)
{
	json_t *resp = NULL;
	int ret = cli_api_call(c, method, path, body, want, &resp);

	if (ret == CLI_OK) {
		if (c->format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (strcmp(what, "list") == 0)
			print_list(resp);
		else if (strcmp(what, "reencrypt") == 0)
			printf("job %s queued (phivault job show %s --watch)\n", cli_jstr(resp, "job"),
			    cli_jstr(resp, "job"));
		else if (strcmp(what, "rotate") == 0)
			printf("%s: v%lld active\n", cli_jstr(resp, "name"),
			    (long long)json_integer_value(json_object_get(resp, "version")));
		else if (strcmp(what, "policy") == 0)
			printf("%s: rotate_every_s %lld, reencrypt %s\n", cli_jstr(resp, "name"),
			    (long long)json_integer_value(json_object_get(json_object_get(resp,
			    "policy"), "rotate_every_s")),
			    cli_jstr(json_object_get(resp, "policy"), "reencrypt"));
		else
			printf("%s v%lld: %s\n", cli_jstr(resp, "name"),
			    (long long)json_integer_value(json_object_get(resp, "version")),
			    cli_jstr(resp, "state"));
	}
	json_decref(resp);
	return ret;
}

int
cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "rotate-every", required_argument, NULL, O_EVERY },
		{ "reencrypt", required_argument, NULL, O_REENC },
		{ "mode", required_argument, NULL, O_MODE },
		{ "max-rps", required_argument, NULL, O_RPS },
		{ "confirm", required_argument, NULL, O_CONFIRM },
		{ "provider", required_argument, NULL, O_PROVIDER },
		{ "double-encryption", required_argument, NULL, O_DOUBLE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub, *every = NULL, *reenc = NULL, *mode = NULL, *rps = NULL, *confirm = NULL;
	const char *provider = NULL, *dbl = NULL;
	char path[512];
	json_t *body = NULL;
	long long n;
	int c, nargs, ret;
	bool reindex;

	if ((c = cli_subcommand(argc, argv, KEY_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	reindex = strcmp(sub, "reindex") == 0;
	if (reindex)
		sub = "reencrypt";   /* the same request with mode reindex */
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case O_EVERY: every = optarg; break;
		case O_REENC: reenc = optarg; break;
		case O_MODE: mode = optarg; break;
		case O_RPS: rps = optarg; break;
		case O_CONFIRM: confirm = optarg; break;
		case O_PROVIDER: provider = optarg; break;
		case O_DOUBLE: dbl = optarg; break;
		case 'h':
			printf("%s\n", KEY_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	nargs = argc - optind;
	/* which options each subcommand takes, and how many arguments */
	if (strcmp(sub, "list") == 0 ? nargs != 0 :
	    strcmp(sub, "rotate") == 0 ? nargs != 1 :
	    strcmp(sub, "policy") == 0 ? nargs != 1 || (every == NULL && reenc == NULL &&
	    provider == NULL && dbl == NULL) :
	    strcmp(sub, "reencrypt") == 0 ? nargs != 1 :
	    strcmp(sub, "retire") == 0 ? nargs != 2 :
	    strcmp(sub, "revoke") == 0 ? nargs != 2 || confirm == NULL :
	    strcmp(sub, "compromised") == 0 ? nargs != 2 || confirm == NULL : true)
		goto usage;
	if (reindex && mode != NULL)
		goto usage;
	if (reindex)
		mode = "reindex";
	if ((strcmp(sub, "policy") != 0 && (every != NULL || reenc != NULL || provider != NULL ||
	    dbl != NULL)) ||
	    (strcmp(sub, "reencrypt") != 0 && (mode != NULL || rps != NULL)) ||
	    (strcmp(sub, "revoke") != 0 && strcmp(sub, "compromised") != 0 && confirm != NULL))
		goto usage;
	if (nargs >= 1 && !name_ok(argv[optind]))
		goto usage;
	if (nargs == 2 && !number_ok(argv[optind + 1], 1, 4294967295LL, &n))
		goto usage;
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (strcmp(sub, "list") == 0)
		return call(&ctx, "GET", "/v1/keys", NULL, 200, "list");
	if (strcmp(sub, "rotate") == 0) {
		snprintf(path, sizeof(path), "/v1/keys/%s/rotate", argv[optind]);
		return call(&ctx, "POST", path, NULL, 200, "rotate");
	}
	if ((body = json_object()) == NULL)
		return CLI_RUNTIME;
	if (strcmp(sub, "policy") == 0) {
		if (every != NULL) {
			if (!number_ok(every, 0, 316224000LL, &n))
				goto usage;
			json_object_set_new(body, "rotate_every_s", json_integer(n));
		}
		if (reenc != NULL) {
			if (strcmp(reenc, "auto") != 0 && strcmp(reenc, "manual") != 0)
				goto usage;
			json_object_set_new(body, "reencrypt", json_string(reenc));
		}
		if (provider != NULL) {
			if (strcmp(provider, "soft") != 0 && strcmp(provider, "pkcs11") != 0)
				goto usage;
			json_object_set_new(body, "provider", json_string(provider));
		}
		if (dbl != NULL) {
			if (strcmp(dbl, "on") != 0 && strcmp(dbl, "off") != 0)
				goto usage;
			json_object_set_new(body, "double_encryption", json_boolean(strcmp(dbl,
			    "on") == 0));
		}
		snprintf(path, sizeof(path), "/v1/keys/%s/policy", argv[optind]);
		ret = call(&ctx, "PUT", path, body, 200, "policy");
	} else if (strcmp(sub, "reencrypt") == 0) {
		if (mode != NULL) {
			if (strcmp(mode, "rewrap_dek") != 0 && strcmp(mode, "full") != 0 &&
			    strcmp(mode, "reindex") != 0)
				goto usage;
			json_object_set_new(body, "mode", json_string(mode));
		}
		if (rps != NULL) {
			if (!number_ok(rps, 1, 1000000, &n))
				goto usage;
			json_object_set_new(body, "max_rps", json_integer(n));
		}
		snprintf(path, sizeof(path), "/v1/keys/%s/reencrypt", argv[optind]);
		ret = call(&ctx, "POST", path, body, 202, "reencrypt");
	} else if (strcmp(sub, "retire") == 0) {
		snprintf(path, sizeof(path), "/v1/keys/%s/versions/%s/retire", argv[optind],
		    argv[optind + 1]);
		ret = call(&ctx, "POST", path, NULL, 200, "retire");
	} else if (strcmp(sub, "compromised") == 0) {
		json_object_set_new(body, "confirm", json_string(confirm));
		snprintf(path, sizeof(path), "/v1/keys/%s/versions/%s/compromised", argv[optind],
		    argv[optind + 1]);
		ret = call(&ctx, "POST", path, body, 200, "compromised");
	} else {
		json_object_set_new(body, "confirm", json_string(confirm));
		snprintf(path, sizeof(path), "/v1/keys/%s/versions/%s/revoke", argv[optind],
		    argv[optind + 1]);
		ret = call(&ctx, "POST", path, body, 200, "revoke");
	}
	json_decref(body);
	return ret;
usage:
	json_decref(body);
	cli_err(KEY_USAGE);
	return CLI_USAGE;
}
