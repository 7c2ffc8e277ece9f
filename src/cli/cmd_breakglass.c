/*
 * breakglass, review: emergency access and its review over the API
 * (docs/access-control.md "An emergency read at 3 a.m. and its review").
 *
 *   phivault breakglass activate --subject S --reason CODE --justification TEXT
 *       (the password is read from the terminal without echo, or one line
 *       of stdin; never from argv)
 *   phivault breakglass end ID
 *   phivault breakglass list
 *   phivault review list [--status open|appropriate|inappropriate]
 *   phivault review show ID
 *   phivault review decide ID --verdict appropriate|inappropriate [--note TEXT]
 *   phivault review campaign ...   access review campaigns (cmd_campaign.c)
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only. Who may do what
 * (break_glass for activate, access.approve and never the holder for a
 * verdict) is the server's.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define BG_USAGE "usage: phivault breakglass activate --subject S --reason ETREAT " \
	"--justification TEXT | breakglass end ID | breakglass list [--addr URL] " \
	"[--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN; password from " \
	"the terminal or stdin)"
#define REVIEW_USAGE "usage: phivault review list [--status open|appropriate|inappropriate] " \
	"| review show ID | review decide ID --verdict appropriate|inappropriate [--note TEXT] " \
	"[--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN) " \
	"| review campaign create|list|show|decide (phivault review campaign --help)"

/* One line, without echo on a terminal; false on EOF. */
static bool
read_secret(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) != 0, restore = false, ok;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			quiet.c_lflag |= ECHONL;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	ok = fgets(buf, (int)len, stdin) != NULL;
	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (!ok)
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

static bool
id_ok(const char *id, const char *prefix)
{
	size_t n = strlen(id), p = strlen(prefix);

	return n > p && n < 64 && strncmp(id, prefix, p) == 0 &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void
print_grant(json_t *g)
{
	printf("%-28s %-8s holder %s subject %.16s... %s until %s (review %s)\n",
	    cli_jstr(g, "id"), cli_jstr(g, "state"), cli_jstr(g, "holder"),
	    cli_jstr(g, "subject_ref"), cli_jstr(g, "reason_code"), cli_jstr(g, "expires_at"),
	    cli_jstr(g, "review"));
}

static void
print_review(json_t *r, bool reads)
{
	json_t *g = json_object_get(r, "grant"), *e;
	size_t i;

	printf("%-28s %-13s grant %s holder %s %s%s\n", cli_jstr(r, "id"), cli_jstr(r, "status"),
	    cli_jstr(g, "id"), cli_jstr(r, "holder"), cli_jstr(r, "reason_code"),
	    json_is_true(json_object_get(r, "overdue")) ? " OVERDUE" : "");
	printf("    subject %s, due %s, %zu read(s)\n", cli_jstr(r, "subject_ref"),
	    cli_jstr(r, "due_at"), json_array_size(json_object_get(r, "reads")));
	printf("    justification: %s\n", cli_jstr(r, "justification"));
	if (*cli_jstr(r, "reviewed_by") != '\0')
		printf("    verdict by %s at %s%s%s\n", cli_jstr(r, "reviewed_by"),
		    cli_jstr(r, "reviewed_at"), *cli_jstr(r, "note") ? ": " : "",
		    cli_jstr(r, "note"));
	if (reads)
		json_array_foreach(json_object_get(r, "reads"), i, e)
			printf("    seq %-8lld %s %-13s %-8s %s\n",
			    (long long)json_integer_value(json_object_get(e, "seq")),
			    cli_jstr(e, "time"), cli_jstr(e, "action"), cli_jstr(e, "outcome"),
			    cli_jstr(e, "resource"));
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

static void
print_review_full(json_t *r)
{
	print_review(r, true);
}

int
cmd_breakglass(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "subject", required_argument, NULL, 'S' },
		{ "reason", required_argument, NULL, 'r' },
		{ "justification", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *subject = NULL, *reason = NULL, *just = NULL, *sub;
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *body, *g;
	char path[160], pw[1100];
	size_t i;
	int c, ret;

	if ((c = cli_subcommand(argc, argv, BG_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'S': subject = optarg; break;
		case 'r': reason = optarg; break;
		case 'j': just = optarg; break;
		case 'h':
			printf("%s\n", BG_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	if (strcmp(sub, "activate") == 0) {
		if (optind != argc || subject == NULL || reason == NULL || just == NULL) {
			cli_err(BG_USAGE);
			return CLI_USAGE;
		}
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		if (!read_secret("Your password: ", pw, sizeof(pw)) || pw[0] == '\0') {
			cli_err("no password: type yours, or give it on one line of stdin");
			return CLI_USAGE;
		}
		body = json_pack("{s:s, s:s, s:s, s:s}", "subject", subject, "reason_code", reason,
		    "justification", just, "password", pw);
		crypto_wipe(pw, sizeof(pw));
		if (body == NULL) {
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
		ret = cli_api_call(&ctx, "POST", "/v1/breakglass", body, 201, &resp);
		{
			/* jansson's copy of the password: wiped before it is freed */
			char *v = (char *)json_string_value(json_object_get(body, "password"));

			if (v != NULL)
				crypto_wipe(v, strlen(v));
		}
		json_decref(body);
		if (ret == CLI_OK && ctx.format != CLI_FORMAT_JSON) {
			printf("%s in force until %s (subject %s); review %s\n",
			    cli_jstr(resp, "grant"), cli_jstr(resp, "expires_at"),
			    cli_jstr(resp, "subject_ref"), cli_jstr(resp, "review"));
			printf("read with X-Purpose-Of-Use: ETREAT; every read is recorded and "
			    "reviewed\n");
			json_decref(resp);
			return ret;
		}
		return reply(&ctx, ret, resp, print_grant);
	}
	if (strcmp(sub, "end") == 0) {
		if (optind != argc - 1 || !id_ok(argv[optind], "bg_") || subject || reason || just) {
			cli_err(BG_USAGE);
			return CLI_USAGE;
		}
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/v1/breakglass/%s/end", argv[optind]);
		ret = cli_api_call(&ctx, "POST", path, NULL, 200, &resp);
		return reply(&ctx, ret, resp, print_grant);
	}
	if (strcmp(sub, "list") == 0 && optind == argc && !subject && !reason && !just) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		ret = cli_api_call(&ctx, "GET", "/v1/breakglass", NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			json_array_foreach(json_object_get(resp, "grants"), i, g)
				print_grant(g);
		json_decref(resp);
		return ret;
	}
	cli_err(BG_USAGE);
	return CLI_USAGE;
}

int
cmd_review(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "status", required_argument, NULL, 's' },
		{ "verdict", required_argument, NULL, 'v' },
		{ "note", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *status = NULL, *verdict = NULL, *note = NULL, *sub;
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *body, *r;
	char path[160];
	size_t i;
	int c, ret;

	if ((c = cli_subcommand(argc, argv, REVIEW_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	if (strcmp(sub, "campaign") == 0)
		return cli_review_campaign(argc - 1, argv + 1);   /* access reviews */
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 's': status = optarg; break;
		case 'v': verdict = optarg; break;
		case 'n': note = optarg; break;
		case 'h':
			printf("%s\n", REVIEW_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	if (strcmp(sub, "list") == 0 && optind == argc && !verdict && !note &&
	    (status == NULL || strcmp(status, "open") == 0 || strcmp(status, "appropriate") == 0 ||
	    strcmp(status, "inappropriate") == 0)) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/v1/reviews%s%s", status ? "?status=" : "",
		    status ? status : "");
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			json_array_foreach(json_object_get(resp, "reviews"), i, r)
				print_review(r, false);
		json_decref(resp);
		return ret;
	}
	if (strcmp(sub, "show") == 0 && optind == argc - 1 && id_ok(argv[optind], "rev_") &&
	    !status && !verdict && !note) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/v1/reviews/%s", argv[optind]);
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
		return reply(&ctx, ret, resp, print_review_full);
	}
	if (strcmp(sub, "decide") == 0 && optind == argc - 1 && id_ok(argv[optind], "rev_") &&
	    !status && verdict != NULL && (strcmp(verdict, "appropriate") == 0 ||
	    strcmp(verdict, "inappropriate") == 0)) {
		if (!cli_api_init(&ctx, &on))
			return CLI_USAGE;
		snprintf(path, sizeof(path), "/v1/reviews/%s", argv[optind]);
		body = note != NULL ? json_pack("{s:s, s:s}", "verdict", verdict, "note", note) :
		    json_pack("{s:s}", "verdict", verdict);
		if (body == NULL) {
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
		ret = cli_api_call(&ctx, "POST", path, body, 200, &resp);
		json_decref(body);
		return reply(&ctx, ret, resp, print_review_full);
	}
	cli_err(REVIEW_USAGE);
	return CLI_USAGE;
}
