/*
 * app: workload identities over the API (issue 10 item 1).
 *
 *   phivault app create NAME --network CIDR... [--role R]...
 *   phivault app list
 *   phivault app show APP_ID
 *   phivault app disable APP_ID
 *   phivault app secret-add APP_ID          prints the secret once
 *   phivault app secret-rm APP_ID SECRET_ID
 *   phivault app cert APP_ID --csr FILE [--out FILE]   client certificate (mutual TLS)
 *   phivault app cert-revoke APP_ID SERIAL   refuse that certificate, end its sessions
 *   phivault login --app APP_ID [--secret-file F]   (secret from F, else $PHIVAULT_APP_SECRET)
 *   phivault login --app APP_ID --cert FILE --key FILE   (mutual TLS, no secret)
 *
 * Common options: --addr URL, --cacert FILE, --format text|json (default
 * text on a terminal, json otherwise); the bearer token comes from
 * PHIVAULT_TOKEN only. A secret is never taken from the command line
 * (argv is visible to every local user): the login reads it from a file or
 * the environment, and wipes it after use.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define APP_USAGE "usage: phivault app create NAME --network CIDR... [--role R]... | " \
	"app list | app show APP_ID | app disable APP_ID | app secret-add APP_ID | " \
	"app secret-rm APP_ID SECRET_ID | app cert APP_ID --csr FILE [--out FILE] | " \
	"app cert-revoke APP_ID SERIAL  [--addr URL] [--cacert FILE] [--format text|json] " \
	"(token from PHIVAULT_TOKEN)"
#define APP_LOGIN_USAGE "usage: phivault login --app APP_ID [--secret-file FILE | " \
	"--cert FILE --key FILE] " \
	"[--addr URL] [--cacert FILE] [--format text|json] (secret from FILE, else " \
	"$PHIVAULT_APP_SECRET; never on the command line)"

static bool
id_arg_valid(const char *a, const char *prefix)
{
	size_t n = strlen(a), p = strlen(prefix);

	return n > p && n < 64 && strncmp(a, prefix, p) == 0 &&
	    strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void
print_list(json_t *arr)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		printf("%s%s", i ? "," : " ", json_string_value(v));
}

static void
print_app(json_t *a)
{
	json_t *v;
	size_t i;

	printf("id:         %s\n", cli_jstr(a, "id"));
	printf("name:       %s\n", cli_jstr(a, "name"));
	printf("status:     %s\n", cli_jstr(a, "status"));
	printf("roles:     ");
	print_list(json_object_get(a, "roles"));
	printf("\nnetworks:  ");
	print_list(json_object_get(a, "networks"));
	printf("\nsecrets:    %zu live\n", json_array_size(json_object_get(a, "secrets")));
	json_array_foreach(json_object_get(a, "secrets"), i, v)
		printf("  %s (created %s)\n", cli_jstr(v, "secret_id"), cli_jstr(v, "created"));
	printf("created:    %s by %s\n", cli_jstr(a, "created"), cli_jstr(a, "created_by"));
	if (*cli_jstr(a, "disabled_at") != '\0')
		printf("disabled:   %s\n", cli_jstr(a, "disabled_at"));
}

/* app cert: the CSR file in, the certificate to --out (or stdout). */
static int
app_cert(const struct cli_api *c, const char *id, const char *csr_file, const char *out_file,
    json_t **resp)
{
	char path[256];
	uint8_t *csr = NULL;
	size_t len = 0;
	json_t *body;
	FILE *f;
	int ret;

	if (util_file_read(csr_file, 16384, &csr, &len) != PV_OK) {
		cli_err("cannot read the CSR file %s (at most 16 KiB of PEM)", csr_file);
		return CLI_USAGE;
	}
	body = json_pack("{s:s%}", "csr", (const char *)csr, len);
	free(csr);
	if (body == NULL) {
		cli_err("the CSR file %s is not text", csr_file);
		return CLI_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/apps/%s/certificate", id);
	ret = cli_api_call(c, "POST", path, body, 201, resp);
	json_decref(body);
	if (ret != CLI_OK)
		return ret;
	if (out_file != NULL) {
		if ((f = fopen(out_file, "w")) == NULL ||
		    fputs(cli_jstr(*resp, "certificate"), f) < 0 || fclose(f) != 0) {
			cli_err("cannot write the certificate to %s", out_file);
			return CLI_RUNTIME;
		}
	}
	if (c->format == CLI_FORMAT_JSON) {
		cli_print_json(*resp);
	} else if (out_file == NULL) {
		fputs(cli_jstr(*resp, "certificate"), stdout);
	} else {
		printf("certificate for %s written to %s\nserial: %s\nvalid until: %s\n"
		    "(the issuing CA is DIR/tls/app-ca.pem on the server)\n", id, out_file,
		    cli_jstr(*resp, "serial"), cli_jstr(*resp, "not_after"));
	}
	return CLI_OK;
}

static int
app_run(const struct cli_api *c, const char *sub, char **ops, json_t *roles, json_t *nets,
    json_t **resp)
{
	char path[256];
	json_t *body, *v;
	long status = 0;
	size_t i;
	int ret;

	if (strcmp(sub, "create") == 0) {
		body = json_pack("{s:s, s:O, s:O}", "name", ops[0], "roles", roles, "networks", nets);
		if (body == NULL)
			return CLI_RUNTIME;
		ret = cli_api_call2(c, "POST", "/v1/apps", body, 201, 202, &status, resp);
		json_decref(body);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("created app %s\nid: %s\n(add a secret: phivault app secret-add %s)\n",
			    cli_jstr(*resp, "name"), cli_jstr(*resp, "id"), cli_jstr(*resp, "id"));
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT && status == 202)
			printf("pending approval: %s (a security officer runs: phivault approval "
			    "approve %s)\n", cli_jstr(*resp, "approval"), cli_jstr(*resp, "approval"));
	} else if (strcmp(sub, "list") == 0) {
		ret = cli_api_call(c, "GET", "/v1/apps", NULL, 200, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT) {
			printf("%-32s %-24s %-9s %s\n", "ID", "NAME", "STATUS", "NETWORKS");
			json_array_foreach(json_object_get(*resp, "apps"), i, v) {
				printf("%-32s %-24s %-9s", cli_jstr(v, "id"), cli_jstr(v, "name"),
				    cli_jstr(v, "status"));
				print_list(json_object_get(v, "networks"));
				printf("\n");
			}
		}
	} else if (strcmp(sub, "show") == 0) {
		snprintf(path, sizeof(path), "/v1/apps/%s", ops[0]);
		ret = cli_api_call(c, "GET", path, NULL, 200, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			print_app(*resp);
	} else if (strcmp(sub, "disable") == 0) {
		snprintf(path, sizeof(path), "/v1/apps/%s/disable", ops[0]);
		ret = cli_api_call(c, "POST", path, NULL, 200, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("disabled %s; %lld session(s) ended\n", ops[0],
			    (long long)json_integer_value(json_object_get(*resp, "sessions_ended")));
	} else if (strcmp(sub, "secret-add") == 0) {
		snprintf(path, sizeof(path), "/v1/apps/%s/secrets", ops[0]);
		ret = cli_api_call(c, "POST", path, NULL, 201, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("secret_id: %s\nsecret: %s\n(shown once: store it in the app's secret "
			    "store now)\n", cli_jstr(*resp, "secret_id"), cli_jstr(*resp, "secret"));
	} else if (strcmp(sub, "cert-revoke") == 0) {
		snprintf(path, sizeof(path), "/v1/apps/%s/certificate/%s/revoke", ops[0], ops[1]);
		ret = cli_api_call(c, "POST", path, NULL, 200, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("revoked certificate %s of %s; %lld session(s) ended\n", ops[1], ops[0],
			    (long long)json_integer_value(json_object_get(*resp, "sessions_ended")));
	} else {
		snprintf(path, sizeof(path), "/v1/apps/%s/secrets/%s", ops[0], ops[1]);
		ret = cli_api_call(c, "DELETE", path, NULL, 204, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("deleted secret %s of %s\n", ops[1], ops[0]);
		else if (ret == CLI_OK && *resp == NULL)
			*resp = json_pack("{s:s, s:s}", "id", ops[0], "deleted", ops[1]);
	}
	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON && *resp != NULL)
		cli_print_json(*resp);
	return ret;
}

int
cmd_app(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "role", required_argument, NULL, 'r' },
		{ "network", required_argument, NULL, 'n' },
		{ "csr", required_argument, NULL, 'C' },
		{ "out", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *roles = json_array(), *nets = json_array(), *resp = NULL;
	const char *sub, *csr = NULL, *out_file = NULL;
	int c, ret = CLI_USAGE, nops;
	bool ok;

	if (roles == NULL || nets == NULL)
		goto out;
	if ((c = cli_subcommand(argc, argv, APP_USAGE, &on)) != CLI_GO_ON) {
		ret = c;
		goto out;
	}
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "r:n:h", opts, &on)) != -1) {
		switch (c) {
		case 'r': json_array_append_new(roles, json_string(optarg)); break;
		case 'n': json_array_append_new(nets, json_string(optarg)); break;
		case 'C': csr = optarg; break;
		case 'O': out_file = optarg; break;
		case 'h':
			printf("%s\n", APP_USAGE);
			ret = CLI_OK;
			goto out;
		default:
			goto out;
		}
	}
	if (on.bad_format)
		goto out;
	nops = argc - optind;
	if (strcmp(sub, "create") == 0)
		ok = nops == 1 && json_array_size(nets) > 0;
	else if (strcmp(sub, "list") == 0)
		ok = nops == 0;
	else if (strcmp(sub, "show") == 0 || strcmp(sub, "disable") == 0 ||
	    strcmp(sub, "secret-add") == 0)
		ok = nops == 1 && id_arg_valid(argv[optind], "app_");
	else if (strcmp(sub, "cert") == 0)
		ok = nops == 1 && id_arg_valid(argv[optind], "app_") && csr != NULL;
	else if (strcmp(sub, "cert-revoke") == 0)
		ok = nops == 2 && id_arg_valid(argv[optind], "app_") && argv[optind + 1][0] != '\0' &&
		    strlen(argv[optind + 1]) <= 40 &&
		    strspn(argv[optind + 1], "0123456789abcdef") == strlen(argv[optind + 1]);
	else if (strcmp(sub, "secret-rm") == 0)
		ok = nops == 2 && id_arg_valid(argv[optind], "app_") &&
		    id_arg_valid(argv[optind + 1], "aps_");
	else
		ok = false;
	if (!ok) {
		cli_err(APP_USAGE);
		goto out;
	}
	if (!cli_api_init(&ctx, &on))
		goto out;
	if (strcmp(sub, "cert") == 0)
		ret = app_cert(&ctx, argv[optind], csr, out_file, &resp);
	else
		ret = app_run(&ctx, sub, argv + optind, roles, nets, &resp);
out:
	if (resp != NULL) {
		json_t *sec = json_object_get(resp, "secret");

		if (json_string_value(sec) != NULL)
			crypto_wipe((void *)json_string_value(sec), json_string_length(sec));
	}
	json_decref(roles);
	json_decref(nets);
	json_decref(resp);
	return ret;
}

bool
cli_login_is_app(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--app") == 0 || strncmp(argv[i], "--app=", 6) == 0)
			return true;
	return false;
}

/* The secret: the first line of file, or $PHIVAULT_APP_SECRET. */
static bool
read_secret(const char *file, char *buf, size_t len)
{
	const char *env;
	FILE *f;
	bool ok;

	if (file != NULL) {
		if ((f = fopen(file, "r")) == NULL) {
			cli_err("cannot read the secret file %s", file);
			return false;
		}
		ok = fgets(buf, (int)len, f) != NULL;
		fclose(f);
		if (!ok) {
			cli_err("the secret file %s is empty", file);
			return false;
		}
		buf[strcspn(buf, "\r\n")] = '\0';
		return buf[0] != '\0';
	}
	if ((env = getenv("PHIVAULT_APP_SECRET")) == NULL || env[0] == '\0') {
		cli_err("no secret: give --secret-file FILE or set PHIVAULT_APP_SECRET");
		return false;
	}
	util_strlcpy(buf, env, len);
	return true;
}

int
cli_login_app(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "app", required_argument, NULL, 'A' },
		{ "secret-file", required_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'E' },
		{ "key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	const char *app = NULL, *file = NULL, *cert = NULL, *key = NULL, *tok;
	char secret[256];
	json_t *body = NULL, *resp = NULL;
	long status = 0;
	int c, ret = CLI_USAGE;

	cli_online_init(&on);
	optind = 1;
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'A': app = optarg; break;
		case 'S': file = optarg; break;
		case 'E': cert = optarg; break;
		case 'K': key = optarg; break;
		case 'h':
			printf("%s\n", APP_LOGIN_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (!on.format_given)
		on.format = CLI_FORMAT_TEXT;   /* eval "$(phivault login --app ...)" */
	if (on.bad_format || optind != argc || app == NULL || !id_arg_valid(app, "app_")) {
		cli_err(APP_LOGIN_USAGE);
		return CLI_USAGE;
	}
	if ((cert != NULL) != (key != NULL) || (cert != NULL && file != NULL)) {
		cli_err("--cert and --key go together, and without --secret-file");
		cli_err(APP_LOGIN_USAGE);
		return CLI_USAGE;
	}
	ret = CLI_RUNTIME;
	if (cert != NULL) {
		/* mutual TLS: the certificate names the app; no secret */
		body = json_pack("{s:s}", "app_id", app);
		if (body == NULL ||
		    cli_http_client_cert(cli_online_addr(&on), on.cacert, cert, key, "POST",
		    "/v1/auth/app", body, &status, &resp) != PV_OK)
			goto out;
	} else {
		memset(secret, 0, sizeof(secret));
		if (!read_secret(file, secret, sizeof(secret)))
			return CLI_USAGE;
		body = json_pack("{s:s, s:s}", "app_id", app, "secret", secret);
		crypto_wipe(secret, sizeof(secret));
		if (body == NULL ||
		    cli_http(cli_online_addr(&on), on.cacert, NULL, "POST", "/v1/auth/app", body,
		    &status, &resp) != PV_OK)
			goto out;
	}
	if (status != 200) {
		ret = cli_api_error(status, resp);
		goto out;
	}
	if ((tok = json_string_value(json_object_get(resp, "token"))) == NULL) {
		cli_err("the server answered without a token");
		goto out;
	}
	if (on.format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else
		printf("export PHIVAULT_TOKEN=%s\n", tok);
	fprintf(stderr, "phivault: done: an app session for %s until %s\n", app,
	    json_string_value(json_object_get(resp, "expires_at")));
	ret = CLI_OK;
out:
	if (body != NULL) {
		json_t *s = json_object_get(body, "secret");

		if (json_string_value(s) != NULL)
			crypto_wipe((void *)json_string_value(s), json_string_length(s));
	}
	if (resp != NULL) {
		json_t *t = json_object_get(resp, "token");

		if (json_string_value(t) != NULL)
			crypto_wipe((void *)json_string_value(t), json_string_length(t));
	}
	json_decref(body);
	json_decref(resp);
	return ret;
}
