/*
 * secret: application secrets over the API (API.md "Secrets", docs/secrets.md).
 *
 *   phivault secret put PATH [--file F] [--metadata JSON] [--rotate-every S] [--cas V]
 *   phivault secret get PATH [--version N] [--field value|json]
 *   phivault secret list [--prefix P]
 *   phivault secret rm PATH
 *   phivault secret undelete PATH
 *   phivault secret destroy PATH --version N
 *
 * Common options: --addr URL, --cacert FILE, --format text|json; the token
 * comes from PHIVAULT_TOKEN only. A value is never taken from the command
 * line (argv is visible to every local user): put reads it from --file F
 * or from stdin (one trailing newline dropped), at most 64 KiB of UTF-8, in
 * locked memory wiped after use. get --field value prints the value alone,
 * without a newline, for $(...) in a start script.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define SECRET_USAGE "usage: phivault secret put PATH [--file F] [--metadata JSON] " \
	"[--rotate-every S] [--cas V] (the value from F or stdin, never argv) | " \
	"secret get PATH [--version N] [--field value|json] | secret list [--prefix P] | " \
	"secret rm PATH | secret undelete PATH | secret destroy PATH --version N  " \
	"[--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN)"
#define VALUE_MAX (64 * 1024)

/* A path on the command line: the API checks it; here only what could
 * break the URL (the API refuses everything else with invalid_request). */
static bool
path_arg_ok(const char *p)
{
	size_t n = strlen(p);

	return n > 0 && n <= 100 &&
	    strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_.-/") == n;
}

static bool
number_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 10 && strspn(s, "0123456789") == n;
}

/* The value: all of file (or stdin), one trailing newline dropped. */
static int
read_value(const char *file, struct pv_secret **out, size_t *len)
{
	struct pv_secret *v = NULL;
	FILE *f = stdin;
	size_t n = 0, got;

	if (file != NULL && (f = fopen(file, "rb")) == NULL) {
		cli_err("cannot read the value file %s", file);
		return CLI_RUNTIME;
	}
	if (crypto_secret_new(VALUE_MAX + 2, &v) != PV_OK) {
		if (f != stdin)
			fclose(f);
		return CLI_RUNTIME;
	}
	while (n < VALUE_MAX + 2 && (got = fread(v->buf + n, 1, VALUE_MAX + 2 - n, f)) > 0)
		n += got;
	if (f != stdin)
		fclose(f);
	if (n > 0 && v->buf[n - 1] == '\n')
		n--;
	if (n > 0 && v->buf[n - 1] == '\r')
		n--;
	if (n > VALUE_MAX) {
		cli_err("the value is larger than 65536 bytes");
		crypto_secret_free(v);
		return CLI_USAGE;
	}
	*out = v;
	*len = n;
	return CLI_OK;
}

struct secret_args {
	const char *file, *metadata, *rotate, *cas, *version, *field, *prefix;
};

static int
do_put(const struct cli_api *c, const char *path, const struct secret_args *a, json_t **resp)
{
	struct pv_secret *v = NULL;
	char url[256], hdr[64];
	json_t *body = NULL, *meta = NULL, *val;
	size_t len = 0;
	int ret;

	if (a->metadata != NULL)
		meta = json_loads(a->metadata, 0, NULL);   /* json_is_object evaluates twice */
	if (a->metadata != NULL && !json_is_object(meta)) {
		cli_err("--metadata must be a JSON object");
		json_decref(meta);
		return CLI_USAGE;
	}
	if ((ret = read_value(a->file, &v, &len)) != CLI_OK) {
		json_decref(meta);
		return ret;
	}
	/* jansson checks UTF-8 */
	if ((val = json_stringn((const char *)v->buf, len)) == NULL) {
		cli_err("the value is not UTF-8 text (encode binary values, e.g. base64)");
		crypto_secret_free(v);
		json_decref(meta);
		return CLI_USAGE;
	}
	crypto_secret_free(v);
	body = json_object();
	if (body == NULL || json_object_set_new(body, "value", val) != 0) {
		json_decref(body);
		json_decref(meta);
		return CLI_RUNTIME;
	}
	if (meta != NULL)
		json_object_set_new(body, "metadata", meta);
	if (a->rotate != NULL)
		json_object_set_new(body, "rotate_every_s", json_integer(atoll(a->rotate)));
	snprintf(url, sizeof(url), "/v1/secrets/%s", path);
	if (a->cas != NULL)
		snprintf(hdr, sizeof(hdr), "If-Match: %s", a->cas);
	ret = cli_api_call_hdr(c, "PUT", url, a->cas != NULL ? hdr : NULL, body, 200, 201, resp);
	val = json_object_get(body, "value");
	crypto_wipe((void *)json_string_value(val), json_string_length(val));
	json_decref(body);
	if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
		printf("%s: version %lld\n", cli_jstr(*resp, "path"),
		    (long long)json_integer_value(json_object_get(*resp, "version")));
	return ret;
}

static int
do_get(const struct cli_api *c, const char *path, const struct secret_args *a, json_t **resp)
{
	char url[256];
	char *meta;
	int ret;

	if (a->version != NULL)
		snprintf(url, sizeof(url), "/v1/secrets/%s?version=%s", path, a->version);
	else
		snprintf(url, sizeof(url), "/v1/secrets/%s", path);
	if ((ret = cli_api_call(c, "GET", url, NULL, 200, resp)) != CLI_OK)
		return ret;
	if (a->field != NULL && strcmp(a->field, "value") == 0) {
		json_t *v = json_object_get(*resp, "value");

		fwrite(json_string_value(v), 1, json_string_length(v), stdout);
		return CLI_OK;
	}
	if (c->format == CLI_FORMAT_JSON || a->field != NULL)
		return CLI_OK;   /* printed by the caller */
	meta = json_dumps(json_object_get(*resp, "metadata"), JSON_COMPACT | JSON_SORT_KEYS);
	printf("path:       %s\nversion:    %lld\ncreated_at: %s\nmetadata:   %s\nvalue:      %s\n",
	    cli_jstr(*resp, "path"), (long long)json_integer_value(json_object_get(*resp, "version")),
	    cli_jstr(*resp, "created_at"), meta != NULL ? meta : "{}", cli_jstr(*resp, "value"));
	free(meta);
	return CLI_OK;
}

static int
do_list(const struct cli_api *c, const struct secret_args *a, json_t **resp)
{
	char url[256];
	json_t *e;
	size_t i;
	int ret;

	if (a->prefix != NULL)
		snprintf(url, sizeof(url), "/v1/secrets?prefix=%s", a->prefix);
	else
		snprintf(url, sizeof(url), "/v1/secrets");
	if ((ret = cli_api_call(c, "GET", url, NULL, 200, resp)) != CLI_OK ||
	    c->format != CLI_FORMAT_TEXT)
		return ret;
	printf("%-40s %-8s %-8s %-14s %s\n", "PATH", "VERSION", "DELETED", "ROTATE_EVERY_S",
	    "UPDATED");
	json_array_foreach(json_object_get(*resp, "secrets"), i, e)
		printf("%-40s %-8lld %-8s %-14lld %s\n", cli_jstr(e, "path"),
		    (long long)json_integer_value(json_object_get(e, "version")),
		    json_is_true(json_object_get(e, "deleted")) ? "yes" : "no",
		    (long long)json_integer_value(json_object_get(e, "rotate_every_s")),
		    cli_jstr(e, "updated_at"));
	return CLI_OK;
}

static int
secret_run(const struct cli_api *c, const char *sub, const char *path,
    const struct secret_args *a, json_t **resp)
{
	char url[256];
	bool json = c->format == CLI_FORMAT_JSON;
	int ret;

	if (strcmp(sub, "put") == 0)
		ret = do_put(c, path, a, resp);
	else if (strcmp(sub, "get") == 0)
		ret = do_get(c, path, a, resp);
	else if (strcmp(sub, "list") == 0)
		ret = do_list(c, a, resp);
	else if (strcmp(sub, "rm") == 0) {
		snprintf(url, sizeof(url), "/v1/secrets/%s", path);
		ret = cli_api_call(c, "DELETE", url, NULL, 204, resp);
		if (ret == CLI_OK && *resp == NULL)
			*resp = json_pack("{s:s, s:b}", "path", path, "deleted", 1);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("%s: deleted (phivault secret undelete %s brings it back)\n", path, path);
	} else if (strcmp(sub, "undelete") == 0) {
		snprintf(url, sizeof(url), "/v1/secrets/%s/undelete", path);
		ret = cli_api_call(c, "POST", url, NULL, 200, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("%s: undeleted, version %lld\n", path,
			    (long long)json_integer_value(json_object_get(*resp, "version")));
	} else {
		snprintf(url, sizeof(url), "/v1/secrets/%s/versions/%s/destroy", path, a->version);
		ret = cli_api_call(c, "POST", url, NULL, 200, resp);
		if (ret == CLI_OK && c->format == CLI_FORMAT_TEXT)
			printf("%s: version %s destroyed (it can never be read again)\n", path,
			    a->version);
	}
	if (ret != CLI_OK || *resp == NULL)
		return ret;
	if (strcmp(sub, "get") == 0 && a->field != NULL)
		json = strcmp(a->field, "json") == 0;   /* value: printed raw already */
	if (json)
		cli_print_json(*resp);
	return ret;
}

int
cmd_secret(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "file", required_argument, NULL, 'f' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "rotate-every", required_argument, NULL, 'R' },
		{ "cas", required_argument, NULL, 'C' },
		{ "version", required_argument, NULL, 'V' },
		{ "field", required_argument, NULL, 'L' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct secret_args a;
	struct cli_api ctx;
	json_t *resp = NULL;
	const char *sub, *path = NULL;
	int c, ret = CLI_USAGE, nops;
	bool ok;

	memset(&a, 0, sizeof(a));
	if ((c = cli_subcommand(argc, argv, SECRET_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "f:m:R:C:V:L:P:h", opts,
	    &on)) != -1) {
		switch (c) {
		case 'f': a.file = optarg; break;
		case 'm': a.metadata = optarg; break;
		case 'R': a.rotate = optarg; break;
		case 'C': a.cas = optarg; break;
		case 'V': a.version = optarg; break;
		case 'L': a.field = optarg; break;
		case 'P': a.prefix = optarg; break;
		case 'h':
			printf("%s\n", SECRET_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	nops = argc - optind;
	if (nops >= 1)
		path = argv[optind];
	if (strcmp(sub, "list") == 0)
		ok = nops == 0 && (a.prefix == NULL || path_arg_ok(a.prefix));
	else
		ok = nops == 1 && path_arg_ok(path);
	/* each option only where it means something */
	if (strcmp(sub, "put") == 0)
		ok = ok && a.version == NULL && a.field == NULL && a.prefix == NULL &&
		    (a.rotate == NULL || number_ok(a.rotate)) && (a.cas == NULL || number_ok(a.cas));
	else if (strcmp(sub, "get") == 0)
		ok = ok && a.file == NULL && a.metadata == NULL && a.rotate == NULL &&
		    a.cas == NULL && a.prefix == NULL && (a.version == NULL || number_ok(a.version)) &&
		    (a.field == NULL || strcmp(a.field, "value") == 0 || strcmp(a.field, "json") == 0);
	else if (strcmp(sub, "destroy") == 0)
		ok = ok && a.version != NULL && number_ok(a.version) && a.file == NULL &&
		    a.metadata == NULL && a.rotate == NULL && a.cas == NULL && a.field == NULL &&
		    a.prefix == NULL;
	else if (strcmp(sub, "list") == 0 || strcmp(sub, "rm") == 0 ||
	    strcmp(sub, "undelete") == 0)
		ok = ok && a.file == NULL && a.metadata == NULL && a.rotate == NULL &&
		    a.cas == NULL && a.version == NULL && a.field == NULL &&
		    (strcmp(sub, "list") == 0 || a.prefix == NULL);
	else
		ok = false;
	if (!ok) {
		cli_err(SECRET_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	ret = secret_run(&ctx, sub, path, &a, &resp);
	if (resp != NULL) {
		json_t *v = json_object_get(resp, "value");

		if (json_string_value(v) != NULL)
			crypto_wipe((void *)json_string_value(v), json_string_length(v));
	}
	json_decref(resp);
	return ret;
}
