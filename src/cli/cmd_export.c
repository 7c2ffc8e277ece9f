/*
 * export: the Safe Harbor de-identified export over the API (API.md
 * "Compliance and disclosures", docs/storing-phi.md "De-identified export").
 *
 *   phivault export create COLLECTION [--pseudonym] [--wait]
 *   phivault export list
 *   phivault export show ID
 *   phivault export get ID [--out FILE]
 *   phivault export rm ID
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only. `create --wait`
 * polls the export twice a second until it is done (exit 0), failed or
 * cancelled (exit 3). `get` downloads the file chunk by chunk
 * (GET /v1/exports/{id}/file?chunk=N), so no answer exceeds the client's
 * limit, and writes the JSON lines to FILE (created 0600, never
 * overwritten) or to stdout; it checks the SHA-256 the server reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define EXPORT_USAGE "usage: phivault export create COLLECTION [--pseudonym] [--wait] | " \
	"export list | export show ID | export get ID [--out FILE] | export rm ID " \
	"[--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN)"
#define WAIT_MS 500

static bool
name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 && s[0] >= 'a' && s[0] <= 'z' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool
id_valid(const char *a)
{
	size_t n = strlen(a);

	return n > 4 && n < 48 && strncmp(a, "exp_", 4) == 0 &&
	    strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void
print_counts(const char *label, json_t *o)
{
	const char *k;
	json_t *v;
	bool first = true;

	printf("%-11s", label);
	json_object_foreach(o, k, v) {
		printf("%s%s %lld", first ? "" : ", ", k, (long long)json_integer_value(v));
		first = false;
	}
	printf("\n");
}

static void
print_export(json_t *e)
{
	printf("id:        %s\n", cli_jstr(e, "id"));
	printf("collection: %s\n", cli_jstr(e, "collection"));
	printf("state:     %s\n", cli_jstr(e, "state"));
	printf("job:       %s\n", cli_jstr(e, "job"));
	printf("pseudonym: %s\n", json_is_true(json_object_get(e, "pseudonym")) ? "yes" : "no");
	printf("rows:      %lld\n", (long long)json_integer_value(json_object_get(e, "rows")));
	printf("bytes:     %lld in %lld chunk(s)\n",
	    (long long)json_integer_value(json_object_get(e, "bytes")),
	    (long long)json_integer_value(json_object_get(e, "chunks")));
	print_counts("dropped:", json_object_get(e, "dropped_fields"));
	print_counts("generalized:", json_object_get(e, "generalized_fields"));
	printf("created:   %s by %s\n", cli_jstr(e, "created_at"), cli_jstr(e, "created_by"));
	printf("expires:   %s\n", cli_jstr(e, "expires_at"));
	if (*cli_jstr(e, "sha256") != '\0')
		printf("sha256:    %s\n", cli_jstr(e, "sha256"));
}

static int
show(const struct cli_api *c, const char *id, json_t **out)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/exports/%s", id);
	return cli_api_call(c, "GET", path, NULL, 200, out);
}

static int
export_create(const struct cli_api *c, const char *coll, bool pseudonym, bool wait)
{
	char path[160], id[64];
	json_t *body = json_pack("{s:s, s:b}", "mode", "safe_harbor", "pseudonym", pseudonym);
	json_t *resp = NULL, *e = NULL;
	int ret;

	snprintf(path, sizeof(path), "/v1/collections/%s/export", coll);
	ret = cli_api_call(c, "POST", path, body, 202, &resp);
	json_decref(body);
	if (ret != CLI_OK)
		goto out;
	snprintf(id, sizeof(id), "%s", cli_jstr(resp, "export"));
	if (!wait) {
		if (c->format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else
			printf("export %s queued (job %s)\n", id, cli_jstr(resp, "job"));
		goto out;
	}
	for (;;) {
		const char *st;

		json_decref(e);
		e = NULL;
		if ((ret = show(c, id, &e)) != CLI_OK)
			goto out;
		st = cli_jstr(e, "state");
		if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0 ||
		    strcmp(st, "cancelled") == 0) {
			if (c->format == CLI_FORMAT_JSON)
				cli_print_json(e);
			else
				print_export(e);
			if (strcmp(st, "done") != 0) {
				cli_err("export %s %s", id, st);
				ret = CLI_RUNTIME;
			}
			goto out;
		}
		{
			struct timespec ts = { WAIT_MS / 1000, (WAIT_MS % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
out:
	json_decref(e);
	json_decref(resp);
	return ret;
}

static int
export_list(const struct cli_api *c)
{
	json_t *resp = NULL, *e;
	size_t i;
	int ret = cli_api_call(c, "GET", "/v1/exports", NULL, 200, &resp);

	if (ret == CLI_OK && c->format == CLI_FORMAT_JSON) {
		cli_print_json(resp);
	} else if (ret == CLI_OK) {
		printf("%-31s %-16s %-10s %8s %s\n", "ID", "COLLECTION", "STATE", "ROWS", "EXPIRES");
		json_array_foreach(json_object_get(resp, "exports"), i, e)
			printf("%-31s %-16s %-10s %8lld %s\n", cli_jstr(e, "id"),
			    cli_jstr(e, "collection"), cli_jstr(e, "state"),
			    (long long)json_integer_value(json_object_get(e, "rows")),
			    cli_jstr(e, "expires_at"));
	}
	json_decref(resp);
	return ret;
}

static int
export_get(const struct cli_api *c, const char *id, const char *out)
{
	struct crypto_sha256_stream *h = NULL;
	uint8_t md[CRYPTO_SHA256_LEN];
	char path[160], hex[2 * CRYPTO_SHA256_LEN + 1];
	json_t *e = NULL, *resp = NULL;
	char *text = NULL;
	long long chunks, i;
	long status = 0;
	FILE *f = stdout;
	int ret, fd = -1;

	if ((ret = show(c, id, &e)) != CLI_OK)
		goto out;
	if (strcmp(cli_jstr(e, "state"), "done") != 0) {
		cli_err("export %s is %s, not done yet", id, cli_jstr(e, "state"));
		ret = CLI_RUNTIME;
		goto out;
	}
	chunks = json_integer_value(json_object_get(e, "chunks"));
	if (crypto_sha256_begin(&h) != PV_OK) {
		ret = CLI_RUNTIME;
		goto out;
	}
	if (out != NULL) {
		if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
		    (f = fdopen(fd, "w")) == NULL) {
			cli_err("cannot create %s: %s", out, strerror(errno));
			if (fd >= 0)
				close(fd);
			f = NULL;
			ret = CLI_RUNTIME;
			goto out;
		}
	}
	for (i = 0; i < chunks; i++) {
		size_t n;

		snprintf(path, sizeof(path), "/v1/exports/%s/file?chunk=%lld", id, i);
		if (cli_http_text(c->addr, c->cacert, c->token, path, &status, &resp, &text) !=
		    PV_OK) {
			ret = CLI_RUNTIME;
			goto out;
		}
		if (status != 200) {
			ret = cli_api_error(status, resp);
			goto out;
		}
		n = strlen(text);
		if (fwrite(text, 1, n, f) != n || crypto_sha256_update(h, text, n) != PV_OK) {
			cli_err("cannot write the export: %s", strerror(errno));
			ret = CLI_RUNTIME;
			goto out;
		}
		memset(text, 0, n);
		free(text);
		text = NULL;
		json_decref(resp);
		resp = NULL;
	}
	if (fflush(f) != 0 || crypto_sha256_end(h, md) != PV_OK) {
		h = NULL;
		ret = CLI_RUNTIME;
		goto out;
	}
	h = NULL;
	for (i = 0; i < CRYPTO_SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, cli_jstr(e, "sha256")) != 0) {
		cli_err("the download's SHA-256 differs from the export's (%s)", cli_jstr(e, "sha256"));
		ret = CLI_RUNTIME;
		goto out;
	}
	if (out != NULL)
		fprintf(stderr, "%lld rows, sha256 %s -> %s\n",
		    (long long)json_integer_value(json_object_get(e, "rows")), hex, out);
	ret = CLI_OK;
out:
	if (f != NULL && f != stdout && fclose(f) != 0 && ret == CLI_OK)
		ret = CLI_RUNTIME;
	crypto_sha256_free(h);
	if (text != NULL) {
		memset(text, 0, strlen(text));
		free(text);
	}
	json_decref(resp);
	json_decref(e);
	return ret;
}

static int
export_rm(const struct cli_api *c, const char *id)
{
	char path[128];
	json_t *resp = NULL;
	int ret;

	snprintf(path, sizeof(path), "/v1/exports/%s", id);
	if ((ret = cli_api_call(c, "DELETE", path, NULL, 204, &resp)) == CLI_OK &&
	    c->format == CLI_FORMAT_TEXT)
		printf("export %s deleted\n", id);
	json_decref(resp);
	return ret;
}

int
cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "pseudonym", no_argument, NULL, 'p' },
		{ "wait", no_argument, NULL, 'w' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub, *out = NULL;
	bool pseudonym = false, wait = false, one;
	int c;

	if ((c = cli_subcommand(argc, argv, EXPORT_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "pwo:h", opts, &on)) !=
	    -1) {
		switch (c) {
		case 'p': pseudonym = true; break;
		case 'w': wait = true; break;
		case 'o': out = optarg; break;
		case 'h':
			printf("%s\n", EXPORT_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	one = optind == argc - 1;
	if (strcmp(sub, "create") == 0 ? !one || !name_valid(argv[optind]) || out != NULL :
	    strcmp(sub, "list") == 0 ? optind != argc || pseudonym || wait || out != NULL :
	    strcmp(sub, "get") == 0 ? !one || !id_valid(argv[optind]) || pseudonym || wait :
	    strcmp(sub, "show") == 0 || strcmp(sub, "rm") == 0 ?
	    !one || !id_valid(argv[optind]) || pseudonym || wait || out != NULL : true) {
		cli_err(EXPORT_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (strcmp(sub, "create") == 0)
		return export_create(&ctx, argv[optind], pseudonym, wait);
	if (strcmp(sub, "list") == 0)
		return export_list(&ctx);
	if (strcmp(sub, "get") == 0)
		return export_get(&ctx, argv[optind], out);
	if (strcmp(sub, "rm") == 0)
		return export_rm(&ctx, argv[optind]);
	{
		json_t *e = NULL;
		int ret = show(&ctx, argv[optind], &e);

		if (ret == CLI_OK) {
			if (ctx.format == CLI_FORMAT_JSON)
				cli_print_json(e);
			else
				print_export(e);
		}
		json_decref(e);
		return ret;
	}
}
