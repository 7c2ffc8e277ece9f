/*
 * officer: the security officers, set with the seal's authority (API.md
 * "phivault officer"; docs/access-control.md "Security officers").
 *
 *   phivault officer add USERNAME (--key-file FILE | --shares)
 *   phivault officer remove USERNAME (--key-file FILE | --shares)
 *   phivault officer list
 *
 * --key-file reads the key file (DIR/unseal.key) and sends its contents;
 * --shares reads K Shamir unseal shares from stdin, one a line, never from
 * argv (every local user can read argv). With the pkcs11 seal,
 * --pin-file FILE sends the token's user PIN instead. Common options:
 * --addr, --cacert, --format text|json; the token (an administrator's:
 * users.manage) from PHIVAULT_TOKEN. `add` prints the new officer's
 * one-time password (none when an existing user is promoted).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define OFFICER_USAGE "usage: phivault officer add|remove USERNAME (--key-file FILE | " \
	"--shares | --pin-file FILE) | officer list [--addr URL] [--cacert FILE] " \
	"[--format text|json] (token from PHIVAULT_TOKEN; shares on stdin, one a line)"
#define SHARES_MAX 255
#define LINE_MAX_LEN 512

/* The first line of path, without its newline, into buf. */
static bool
read_line_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (f == NULL) {
		cli_err("cannot read %s", path);
		return false;
	}
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok) {
		cli_err("%s is empty", path);
		return false;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

/* Shares from stdin, one a line (blank lines skipped), into arr. */
static bool
read_shares(json_t *arr)
{
	char line[LINE_MAX_LEN];
	bool ok = true;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (json_array_size(arr) >= SHARES_MAX ||
		    json_array_append_new(arr, json_string(line)) != 0)
			ok = false;
		crypto_wipe(line, sizeof(line));
	}
	if (ok && json_array_size(arr) == 0) {
		cli_err("no shares on stdin (one a line)");
		return false;
	}
	return ok;
}

static bool
username_ok(const char *u)
{
	size_t n = strlen(u);

	return n > 0 && n <= 64 &&
	    strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Wipe every string member and element of the authority in body. */
static void
wipe_body(json_t *body)
{
	json_t *v, *s;
	size_t i;

	if (body == NULL)
		return;
	if ((v = json_object_get(body, "key_file")) != NULL ||
	    (v = json_object_get(body, "pin")) != NULL)
		crypto_wipe((void *)json_string_value(v), json_string_length(v));
	json_array_foreach(json_object_get(body, "shares"), i, s)
		crypto_wipe((void *)json_string_value(s), json_string_length(s));
}

int
cmd_officer(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "key-file", required_argument, NULL, 'k' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "shares", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyfile = NULL, *pinfile = NULL, *sub;
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *body = NULL, *o, *shares;
	char path[160], secret[LINE_MAX_LEN];
	bool use_shares = false, add, remove;
	long status = 0;
	size_t i;
	int c, ret = CLI_USAGE;

	if ((c = cli_subcommand(argc, argv, OFFICER_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'p': pinfile = optarg; break;
		case 's': use_shares = true; break;
		case 'h':
			printf("%s\n", OFFICER_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	add = strcmp(sub, "add") == 0;
	remove = strcmp(sub, "remove") == 0;
	if (strcmp(sub, "list") == 0 ? optind != argc || keyfile || pinfile || use_shares :
	    !(add || remove) || optind != argc - 1 || !username_ok(argv[optind]) ||
	    (keyfile != NULL) + (pinfile != NULL) + use_shares != 1) {
		cli_err(OFFICER_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (!add && !remove) {
		ret = cli_api_call(&ctx, "GET", "/v1/sys/officers", NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			json_array_foreach(json_object_get(resp, "officers"), i, o)
				printf("%-30s %-24s %s\n", cli_jstr(o, "user_id"),
				    cli_jstr(o, "username"), cli_jstr(o, "status"));
		json_decref(resp);
		return ret;
	}
	body = add ? json_pack("{s:s}", "username", argv[optind]) : json_object();
	if (body == NULL)
		return CLI_RUNTIME;
	if (keyfile != NULL || pinfile != NULL) {
		if (!read_line_file(keyfile != NULL ? keyfile : pinfile, secret, sizeof(secret))) {
			ret = CLI_RUNTIME;
			goto out;
		}
		json_object_set_new(body, keyfile != NULL ? "key_file" : "pin", json_string(secret));
		crypto_wipe(secret, sizeof(secret));
	} else {
		if ((shares = json_array()) == NULL || !read_shares(shares)) {
			json_decref(shares);
			ret = CLI_RUNTIME;
			goto out;
		}
		json_object_set_new(body, "shares", shares);
	}
	if (add) {
		ret = cli_api_call2(&ctx, "POST", "/v1/sys/officers", body, 201, 200, &status,
		    &resp);
	} else {
		snprintf(path, sizeof(path), "/v1/sys/officers/%s", argv[optind]);
		ret = cli_api_call(&ctx, "DELETE", path, body, 200, &resp);
	}
	if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON) {
		cli_print_json(resp);
	} else if (ret == CLI_OK && add) {
		printf("security officer %s (%s)\n", cli_jstr(resp, "username"),
		    cli_jstr(resp, "user_id"));
		if (status == 201)
			printf("one-time password: %s\n(give it to the officer over a separate "
			    "channel; it must be changed at first login)\n",
			    cli_jstr(resp, "one_time_password"));
		else
			printf("promoted an existing user (it keeps its password)\n");
	} else if (ret == CLI_OK) {
		printf("%s is no longer a security officer\n", cli_jstr(resp, "username"));
	}
out:
	if (resp != NULL && (o = json_object_get(resp, "one_time_password")) != NULL &&
	    json_string_value(o) != NULL)
		crypto_wipe((void *)json_string_value(o), json_string_length(o));
	wipe_body(body);
	json_decref(body);
	json_decref(resp);
	return ret;
}
