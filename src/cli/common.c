/* common: helpers shared by the subcommands (errors, the online commands' server options). */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("phivault: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_online_init(struct cli_online_opts *o)
{
	o->addr = getenv("PHIVAULT_ADDR");
	o->cacert = getenv("PHIVAULT_CACERT");
	o->format = cli_format_default();
	o->bad_format = false;
	o->format_given = false;
}

enum cli_format
cli_format_default(void)
{
	return isatty(STDOUT_FILENO) ? CLI_FORMAT_TEXT : CLI_FORMAT_JSON;
}

bool
cli_format_parse(const char *arg, enum cli_format *out)
{
	if (strcmp(arg, "text") == 0)
		*out = CLI_FORMAT_TEXT;
	else if (strcmp(arg, "json") == 0)
		*out = CLI_FORMAT_JSON;
	else {
		cli_err("--format must be text or json, not '%s'", arg);
		return false;
	}
	return true;
}

void
cli_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

bool
cli_online_opt(struct cli_online_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'a': o->addr = arg; return true;
	case 'c': o->cacert = arg; return true;
	case 'F':
		o->format_given = true;
		if (!cli_format_parse(arg, &o->format))
			o->bad_format = true;
		return true;
	default: return false;
	}
}

const char *
cli_online_addr(const struct cli_online_opts *o)
{
	return o->addr != NULL && *o->addr != '\0' ? o->addr : CLI_DEFAULT_ADDR;
}

int
cli_online_parse(int argc, char **argv, const char *usage, struct cli_online_opts *o)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	cli_online_init(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, NULL)) != -1) {
		if (cli_online_opt(o, c, optarg))
			continue;
		if (c == 'h') {
			printf("%s\n", usage);
			return CLI_OK;
		}
		return CLI_USAGE;
	}
	return o->bad_format ? CLI_USAGE : CLI_GO_ON;
}

int
cli_subcommand(int argc, char **argv, const char *usage, struct cli_online_opts *o)
{
	if (argc < 2) {
		cli_err("%s", usage);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("%s\n", usage);
		return CLI_OK;
	}
	cli_online_init(o);
	optind = 2;
	return CLI_GO_ON;
}

int
cli_online_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
    struct cli_online_opts *o)
{
	int c;

	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1)
		if (!cli_online_opt(o, c, optarg))
			return c;
	return -1;
}

bool
cli_api_init(struct cli_api *c, const struct cli_online_opts *o)
{
	c->addr = cli_online_addr(o);
	c->cacert = o->cacert;
	c->token = getenv("PHIVAULT_TOKEN");
	c->format = o->format;
	if (c->token == NULL || *c->token == '\0') {
		cli_err("PHIVAULT_TOKEN is not set (run: eval \"$(phivault login)\")");
		return false;
	}
	return true;
}

int
cli_api_call(const struct cli_api *c, const char *method, const char *path, json_t *body,
    long want, json_t **resp)
{
	long status = 0;

	*resp = NULL;
	if (cli_http(c->addr, c->cacert, c->token, method, path, body, &status, resp) != PV_OK)
		return CLI_RUNTIME;
	if (status != want)
		return cli_api_error(status, *resp);
	return CLI_OK;
}

int
cli_api_call_hdr(const struct cli_api *c, const char *method, const char *path,
    const char *header, json_t *body, long want, long want2, json_t **resp)
{
	long status = 0;

	*resp = NULL;
	if (cli_http_hdr(c->addr, c->cacert, c->token, method, path, header, body, &status,
	    resp) != PV_OK)
		return CLI_RUNTIME;
	if (status != want && (want2 == 0 || status != want2))
		return cli_api_error(status, *resp);
	return CLI_OK;
}

int
cli_api_call2(const struct cli_api *c, const char *method, const char *path, json_t *body,
    long want, long also, long *status, json_t **resp)
{
	*resp = NULL;
	*status = 0;
	if (cli_http(c->addr, c->cacert, c->token, method, path, body, status, resp) != PV_OK)
		return CLI_RUNTIME;
	if (*status != want && *status != also)
		return cli_api_error(*status, *resp);
	return CLI_OK;
}

const char *
cli_jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}
