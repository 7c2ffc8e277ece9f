/*
 * user: joiner / mover / leaver over the API (API.md "Command line").
 *
 *   phivault user add USERNAME [--role R]... [--group G]... [--email E] [--display-name N]
 *   phivault user list
 *   phivault user show ID
 *   phivault user disable ID
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE (PHIVAULT_CACERT);
 * the bearer token comes from PHIVAULT_TOKEN only (never a command-line
 * argument: argv is visible to every local user).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define USER_USAGE "usage: phivault user add USERNAME [--role R]... [--group G]... " \
	"[--email E] [--display-name N] | user list | user show ID | user disable ID " \
	"[--addr URL] [--cacert FILE] (token from PHIVAULT_TOKEN)"

static void
print_user(json_t *u)
{
	json_t *v;
	size_t i;
	const char *s;

	printf("id:           %s\n", json_string_value(json_object_get(u, "id")));
	printf("username:     %s\n", json_string_value(json_object_get(u, "username")));
	if ((s = json_string_value(json_object_get(u, "display_name"))) != NULL && *s)
		printf("display name: %s\n", s);
	if ((s = json_string_value(json_object_get(u, "email"))) != NULL && *s)
		printf("email:        %s\n", s);
	printf("status:       %s\n", json_string_value(json_object_get(u, "status")));
	printf("roles:       ");
	json_array_foreach(json_object_get(u, "roles"), i, v)
		printf(" %s", json_string_value(v));
	printf("\ngroups:      ");
	json_array_foreach(json_object_get(u, "groups"), i, v)
		printf(" %s", json_string_value(v));
	printf("\nmfa:          %s\n",
	    json_is_true(json_object_get(u, "mfa_enabled")) ? "enrolled" : "not enrolled");
	printf("created:      %s\n", json_string_value(json_object_get(u, "created")));
	if ((s = json_string_value(json_object_get(u, "disabled_at"))) != NULL)
		printf("disabled at:  %s\n", s);
}

int
cmd_user(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "role", required_argument, NULL, 'r' },
		{ "group", required_argument, NULL, 'g' },
		{ "email", required_argument, NULL, 'e' },
		{ "display-name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	const char *addr, *cacert;
	const char *token = getenv("PHIVAULT_TOKEN"), *sub, *email = NULL, *display = NULL;
	json_t *roles = json_array(), *groups = json_array(), *body = NULL, *resp = NULL;
	char path[256];
	long status = 0;
	int c, ret = CLI_USAGE;
	size_t i;
	json_t *v;

	if (roles == NULL || groups == NULL)
		goto out;
	if (argc < 2) {
		cli_err(USER_USAGE);
		goto out;
	}
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		printf("%s\n", USER_USAGE);
		ret = CLI_OK;
		goto out;
	}
	cli_online_init(&on);
	optind = 2;
	while ((c = getopt_long(argc, argv, CLI_ONLINE_SHORTOPTS "r:g:e:n:h", opts, NULL)) != -1) {
		if (cli_online_opt(&on, c, optarg))
			continue;
		switch (c) {
		case 'r': json_array_append_new(roles, json_string(optarg)); break;
		case 'g': json_array_append_new(groups, json_string(optarg)); break;
		case 'e': email = optarg; break;
		case 'n': display = optarg; break;
		case 'h':
			printf("%s\n", USER_USAGE);
			ret = CLI_OK;
			goto out;
		default:
			goto out;
		}
	}
	addr = cli_online_addr(&on);
	cacert = on.cacert;
	if (token == NULL || *token == '\0') {
		cli_err("PHIVAULT_TOKEN is not set (run: eval \"$(phivault login)\")");
		ret = CLI_USAGE;
		goto out;
	}
	ret = CLI_RUNTIME;
	if (strcmp(sub, "add") == 0) {
		if (optind != argc - 1) {
			cli_err(USER_USAGE);
			ret = CLI_USAGE;
			goto out;
		}
		body = json_pack("{s:s, s:O, s:O}", "username", argv[optind], "roles", roles,
		    "groups", groups);
		if (body == NULL)
			goto out;
		if (email != NULL)
			json_object_set_new(body, "email", json_string(email));
		if (display != NULL)
			json_object_set_new(body, "display_name", json_string(display));
		if (cli_http(addr, cacert, token, "POST", "/v1/users", body, &status, &resp) != PV_OK)
			goto out;
		if (status != 201) {
			ret = cli_api_error(status, resp);
			goto out;
		}
		printf("created user %s\n", json_string_value(json_object_get(resp, "username")));
		printf("id: %s\n", json_string_value(json_object_get(resp, "id")));
		printf("one-time password: %s\n",
		    json_string_value(json_object_get(resp, "one_time_password")));
		printf("(give it to the user over a separate channel; it must be changed at "
		    "first login)\n");
		ret = CLI_OK;
	} else if (strcmp(sub, "list") == 0) {
		if (optind != argc) {
			cli_err(USER_USAGE);
			ret = CLI_USAGE;
			goto out;
		}
		if (cli_http(addr, cacert, token, "GET", "/v1/users", NULL, &status, &resp) != PV_OK)
			goto out;
		if (status != 200) {
			ret = cli_api_error(status, resp);
			goto out;
		}
		printf("%-30s %-24s %-9s %s\n", "ID", "USERNAME", "STATUS", "ROLES");
		json_array_foreach(json_object_get(resp, "users"), i, v) {
			json_t *r;
			size_t k;

			printf("%-30s %-24s %-9s", json_string_value(json_object_get(v, "id")),
			    json_string_value(json_object_get(v, "username")),
			    json_string_value(json_object_get(v, "status")));
			json_array_foreach(json_object_get(v, "roles"), k, r)
				printf("%s%s", k ? "," : " ", json_string_value(r));
			printf("\n");
		}
		ret = CLI_OK;
	} else if (strcmp(sub, "show") == 0 || strcmp(sub, "disable") == 0) {
		bool show = strcmp(sub, "show") == 0;

		if (optind != argc - 1 || strlen(argv[optind]) > 64 ||
		    strspn(argv[optind], "abcdefghijklmnopqrstuvwxyz0123456789_") !=
		    strlen(argv[optind])) {
			cli_err(USER_USAGE);
			ret = CLI_USAGE;
			goto out;
		}
		snprintf(path, sizeof(path), show ? "/v1/users/%s" : "/v1/users/%s/disable",
		    argv[optind]);
		if (cli_http(addr, cacert, token, show ? "GET" : "POST", path, NULL, &status,
		    &resp) != PV_OK)
			goto out;
		if (status != 200) {
			ret = cli_api_error(status, resp);
			goto out;
		}
		if (show)
			print_user(resp);
		else
			printf("disabled %s; %lld session(s) ended\n", argv[optind],
			    (long long)json_integer_value(json_object_get(resp, "sessions_ended")));
		ret = CLI_OK;
	} else {
		cli_err(USER_USAGE);
		ret = CLI_USAGE;
	}
out:
	if (resp != NULL) {
		json_t *otp = json_object_get(resp, "one_time_password");

		if (json_string_value(otp) != NULL)
			crypto_wipe((void *)json_string_value(otp), json_string_length(otp));
	}
	json_decref(roles);
	json_decref(groups);
	json_decref(body);
	json_decref(resp);
	return ret;
}
