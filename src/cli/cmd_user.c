/*
 * user: joiner / mover / leaver and the way back, over the API (API.md
 * "Command line").
 *
 *   phivault user add USERNAME [--role R]... [--group G]... [--email E] [--display-name N]
 *   phivault user list
 *   phivault user show USER
 *   phivault user disable|enable|unlock|reset USER
 *
 * USER is a user ID when it starts with "usr_", else a username (looked up
 * with GET /v1/users?username=). Common options: --addr URL (PHIVAULT_ADDR),
 * --cacert FILE (PHIVAULT_CACERT), --format text|json (default text on a
 * terminal, json otherwise); the bearer token comes from PHIVAULT_TOKEN only
 * (never a command-line argument: argv is visible to every local user).
 * --format json prints the API's answer as one line of JSON; text prints it
 * for a person. A one-time password (add, reset) is printed once, in
 * either form, and wiped from memory afterwards.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define USER_USAGE "usage: phivault user add USERNAME [--role R]... [--group G]... " \
	"[--email E] [--display-name N] | user list | user show USER | " \
	"user disable|enable|unlock|reset USER  (USER: a username or a usr_ ID) " \
	"[--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN)"

static void
print_user(json_t *u)
{
	json_t *v;
	size_t i;
	const char *s;

	printf("id:           %s\n", cli_jstr(u, "id"));
	printf("username:     %s\n", cli_jstr(u, "username"));
	if (*(s = cli_jstr(u, "display_name")) != '\0')
		printf("display name: %s\n", s);
	if (*(s = cli_jstr(u, "email")) != '\0')
		printf("email:        %s\n", s);
	printf("status:       %s\n", cli_jstr(u, "status"));
	printf("roles:       ");
	json_array_foreach(json_object_get(u, "roles"), i, v)
		printf(" %s", json_string_value(v));
	printf("\ngroups:      ");
	json_array_foreach(json_object_get(u, "groups"), i, v)
		printf(" %s", json_string_value(v));
	printf("\nmfa:          %s\n",
	    json_is_true(json_object_get(u, "mfa_enabled")) ? "enrolled" : "not enrolled");
	if (json_is_true(json_object_get(u, "must_change_password")))
		printf("password:     one-time (must be changed at next login)\n");
	printf("created:      %s\n", cli_jstr(u, "created"));
	printf("created by:   %s\n", *(s = cli_jstr(u, "created_by")) != '\0' ? s : "(init)");
	if (*(s = cli_jstr(u, "disabled_at")) != '\0')
		printf("disabled at:  %s\n", s);
}

/* One API call; on a status other than want, report it (exit 3). */
/* A username as the server accepts it (any case), or a usr_ ID. */
static bool
user_arg_valid(const char *a)
{
	size_t n = strlen(a);

	if (n == 0 || n > 64)
		return false;
	if (strncmp(a, "usr_", 4) == 0)
		return strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
	return strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* USER -> the user object: GET /v1/users/ID, or the one match of
 * GET /v1/users?username=NAME. *user is a new reference. */
static int
resolve(const struct cli_api *c, const char *arg, json_t **user)
{
	char path[256];
	json_t *resp = NULL, *u;
	int ret;

	*user = NULL;
	if (strncmp(arg, "usr_", 4) == 0) {
		snprintf(path, sizeof(path), "/v1/users/%s", arg);
		if ((ret = cli_api_call(c, "GET", path, NULL, 200, &resp)) == CLI_OK)
			*user = resp;
		else
			json_decref(resp);
		return ret;
	}
	snprintf(path, sizeof(path), "/v1/users?username=%s", arg);
	if ((ret = cli_api_call(c, "GET", path, NULL, 200, &resp)) != CLI_OK) {
		json_decref(resp);
		return ret;
	}
	u = json_array_get(json_object_get(resp, "users"), 0);
	if (u == NULL || json_string_value(json_object_get(u, "id")) == NULL) {
		json_decref(resp);
		cli_err("no user named %s", arg);
		return CLI_RUNTIME;
	}
	*user = json_incref(u);
	json_decref(resp);
	return CLI_OK;
}

static void
print_otp_note(void)
{
	printf("(give it to the user over a separate channel; it must be changed at "
	    "first login)\n");
}

static int
user_add(const struct cli_api *c, const char *username, json_t *roles, json_t *groups,
    const char *email, const char *display, json_t **resp)
{
	json_t *body = json_pack("{s:s, s:O, s:O}", "username", username, "roles", roles,
	    "groups", groups);
	long status = 0;
	int ret;

	if (body == NULL)
		return CLI_RUNTIME;
	if (email != NULL)
		json_object_set_new(body, "email", json_string(email));
	if (display != NULL)
		json_object_set_new(body, "display_name", json_string(display));
	ret = cli_api_call2(c, "POST", "/v1/users", body, 201, 202, &status, resp);
	json_decref(body);
	if (ret != CLI_OK)
		return ret;
	if (c->format == CLI_FORMAT_JSON) {
		cli_print_json(*resp);
		return CLI_OK;
	}
	printf("created user %s\n", cli_jstr(*resp, "username"));
	printf("id: %s\n", cli_jstr(*resp, "id"));
	printf("one-time password: %s\n", cli_jstr(*resp, "one_time_password"));
	print_otp_note();
	if (status == 202)   /* dual control: the PHI-granting roles wait */
		printf("pending approval: %s (a security officer runs: phivault approval "
		    "approve %s)\n", cli_jstr(*resp, "approval"), cli_jstr(*resp, "approval"));
	return CLI_OK;
}

static int
user_list(const struct cli_api *c, json_t **resp)
{
	json_t *v, *r;
	size_t i, k;
	int ret;

	if ((ret = cli_api_call(c, "GET", "/v1/users", NULL, 200, resp)) != CLI_OK)
		return ret;
	if (c->format == CLI_FORMAT_JSON) {
		cli_print_json(*resp);
		return CLI_OK;
	}
	printf("%-30s %-24s %-9s %s\n", "ID", "USERNAME", "STATUS", "ROLES");
	json_array_foreach(json_object_get(*resp, "users"), i, v) {
		printf("%-30s %-24s %-9s", cli_jstr(v, "id"), cli_jstr(v, "username"), cli_jstr(v, "status"));
		json_array_foreach(json_object_get(v, "roles"), k, r)
			printf("%s%s", k ? "," : " ", json_string_value(r));
		printf("\n");
	}
	return CLI_OK;
}

/* disable, enable, unlock, reset: POST /v1/users/{id}/<verb>. */
static int
user_verb(const struct cli_api *c, const char *verb, json_t *user, json_t **resp)
{
	const char *name = cli_jstr(user, "username");
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "/v1/users/%s/%s", cli_jstr(user, "id"), verb);
	if ((ret = cli_api_call(c, "POST", path, NULL, 200, resp)) != CLI_OK)
		return ret;
	if (c->format == CLI_FORMAT_JSON) {
		cli_print_json(*resp);
		return CLI_OK;
	}
	if (strcmp(verb, "disable") == 0) {
		printf("disabled %s; %lld session(s) ended\n", name,
		    (long long)json_integer_value(json_object_get(*resp, "sessions_ended")));
	} else if (strcmp(verb, "enable") == 0) {
		printf("enabled %s (sessions ended by the disable stay ended)\n", name);
	} else if (strcmp(verb, "unlock") == 0) {
		printf("unlocked %s (password and MFA lockouts cleared)\n", name);
	} else {
		printf("reset %s; %lld session(s) ended; MFA must be enrolled again\n", name,
		    (long long)json_integer_value(json_object_get(*resp, "sessions_ended")));
		printf("one-time password: %s\n", cli_jstr(*resp, "one_time_password"));
		print_otp_note();
	}
	return CLI_OK;
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
	static const char *const verbs[] = { "disable", "enable", "unlock", "reset", NULL };
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub, *email = NULL, *display = NULL, *verb = NULL;
	json_t *roles = json_array(), *groups = json_array(), *resp = NULL, *user = NULL;
	int c, ret = CLI_USAGE;
	size_t i;

	if (roles == NULL || groups == NULL)
		goto out;
	if ((c = cli_subcommand(argc, argv, USER_USAGE, &on)) != CLI_GO_ON) {
		ret = c;
		goto out;
	}
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "r:g:e:n:h", opts,
	    &on)) != -1) {
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
	if (on.bad_format)
		goto out;   /* cli_online_opt has said why */
	for (i = 0; verbs[i] != NULL; i++)
		if (strcmp(sub, verbs[i]) == 0)
			verb = verbs[i];
	/* operands: add NAME, list (none), show / verbs USER */
	if (strcmp(sub, "add") == 0 ? optind != argc - 1 :
	    strcmp(sub, "list") == 0 ? optind != argc :
	    strcmp(sub, "show") == 0 || verb != NULL ?
	    optind != argc - 1 || !user_arg_valid(argv[optind]) : true) {
		cli_err(USER_USAGE);
		goto out;
	}
	if (!cli_api_init(&ctx, &on))
		goto out;
	if (strcmp(sub, "add") == 0) {
		ret = user_add(&ctx, argv[optind], roles, groups, email, display, &resp);
	} else if (strcmp(sub, "list") == 0) {
		ret = user_list(&ctx, &resp);
	} else if ((ret = resolve(&ctx, argv[optind], &user)) != CLI_OK) {
		/* reported */
	} else if (verb != NULL) {
		ret = user_verb(&ctx, verb, user, &resp);
	} else if (ctx.format == CLI_FORMAT_JSON) {
		cli_print_json(user);
	} else {
		print_user(user);
	}
out:
	if (resp != NULL) {
		json_t *otp = json_object_get(resp, "one_time_password");

		if (json_string_value(otp) != NULL)
			crypto_wipe((void *)json_string_value(otp), json_string_length(otp));
	}
	json_decref(roles);
	json_decref(groups);
	json_decref(user);
	json_decref(resp);
	return ret;
}
