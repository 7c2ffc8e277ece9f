/*
 * subject / retention: patients and disposal over the API (API.md "Keys"
 * subjects, "Backups" retention; docs/keys.md "Subject keys and patient
 * crypto-shredding", docs/operations.md "Retention and disposal").
 *
 *   phivault subject show SUBJECT
 *   phivault subject shred SUBJECT [--yes]
 *   phivault subject hold SUBJECT --reason TEXT
 *   phivault subject release SUBJECT
 *   phivault subject disclosures SUBJECT [--since T] [--until T]
 *                                [--format text|json|csv|fhir]
 *   phivault retention run
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json; the token comes from
 * PHIVAULT_TOKEN only (records.shred: security_officer; retention:
 * sys.backup, admin). shred destroys every record of that patient in every
 * collection: it asks to type "shred" on the terminal unless --yes is given
 * (without a terminal, --yes is required). The subject travels
 * percent-encoded in the path; the server keeps only its keyed reference.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define SUBJECT_USAGE "usage: phivault subject show SUBJECT | subject shred SUBJECT [--yes] | " \
	"subject hold SUBJECT --reason TEXT | subject release SUBJECT | " \
	"subject disclosures SUBJECT [--since T] [--until T] [--format text|json|csv|fhir] " \
	"[--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN)"
#define DISCLOSURES_USAGE "usage: phivault subject disclosures SUBJECT [--since T] " \
	"[--until T] [--format text|json|csv|fhir] [--addr URL] [--cacert FILE] " \
	"(token from PHIVAULT_TOKEN; T: YYYY-MM-DD or RFC 3339 UTC)"
#define RETENTION_USAGE "usage: phivault retention run [--addr URL] [--cacert FILE] " \
	"[--format text|json] (token from PHIVAULT_TOKEN)"
#define SUBJECT_MAX 4096

enum { O_YES = 256, O_REASON, O_SINCE, O_UNTIL };

/* RFC 3986 percent-encoding of one path segment (unreserved kept). */
static bool
segment(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
		bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';

		if (o + (keep ? 1 : 3) >= cap)
			return false;
		if (keep) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return o > 0;
}

static void
print_subject(const char *what, json_t *r)
{
	json_t *cols = json_object_get(r, "collections"), *n;
	json_t *hold = json_object_get(r, "hold");
	const char *c;

	if (strcmp(what, "show") == 0) {
		printf("subject  %s\nstate    %s\n", cli_jstr(r, "subject"), cli_jstr(r, "state"));
		if (json_is_object(hold))
			printf("hold     yes, by %s: %s\n", cli_jstr(hold, "by"),
			    cli_jstr(hold, "reason"));
		else
			printf("hold     no\n");
		printf("records  %lld\n", (long long)json_integer_value(json_object_get(r,
		    "records")));
		json_object_foreach(cols, c, n)
			printf("  %-30s %lld\n", c, (long long)json_integer_value(n));
	} else if (strcmp(what, "shred") == 0) {
		printf("subject %s shredded:", cli_jstr(r, "subject"));
		json_object_foreach(cols, c, n)
			printf(" %s %lld", c, (long long)json_integer_value(n));
		printf("\n");
	} else {
		printf("subject %s: legal hold %s\n", cli_jstr(r, "subject"),
		    json_is_true(json_object_get(r, "hold")) ? "on" : "off");
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
		else if (strcmp(what, "retention") == 0)
			printf("retention run %s queued (phivault job show %s --watch)\n",
			    cli_jstr(resp, "job"), cli_jstr(resp, "job"));
		else
			print_subject(what, resp);
	}
	json_decref(resp);
	return ret;
}

/* Type "shred" on the terminal. */
static bool
confirmed(void)
{
	char line[64];

	if (!isatty(STDIN_FILENO)) {
		cli_err("subject shred destroys every record of the patient: give --yes, or run it "
		    "on a terminal to confirm");
		return false;
	}
	fprintf(stderr, "This destroys every record of this patient in every collection, for "
	    "good.\nType shred to go on: ");
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	if (strcmp(line, "shred") != 0) {
		cli_err("not confirmed: nothing was changed");
		return false;
	}
	return true;
}

/* A query parameter value (RFC 3986 unreserved kept; the times given are
 * ASCII). */
static bool
query_value(const char *in, char *out, size_t cap)
{
	return strlen(in) < 64 && segment(in, out, cap);
}

static void
print_disclosures(json_t *r)
{
	json_t *e;
	size_t i;

	printf("subject ref %s: %lld entries, %lld accountable (45 CFR 164.528), %s .. %s%s\n",
	    cli_jstr(r, "subject_ref"), (long long)json_integer_value(json_object_get(r, "total")),
	    (long long)json_integer_value(json_object_get(r, "accountable")), cli_jstr(r, "since"),
	    cli_jstr(r, "until"), json_is_true(json_object_get(r, "truncated")) ? " (truncated)"
	    : "");
	json_array_foreach(json_object_get(r, "entries"), i, e) {
		json_t *a = json_object_get(e, "actor");
		const char *who = cli_jstr(a, "username");

		printf("%8lld %s %-14s %-8s %-8s %-20s %s/%s %s%s%s\n",
		    (long long)json_integer_value(json_object_get(e, "seq")), cli_jstr(e, "time"),
		    cli_jstr(e, "action"), cli_jstr(e, "outcome"),
		    cli_jstr(e, "purpose_of_use")[0] ? cli_jstr(e, "purpose_of_use") : "-",
		    who[0] ? who : cli_jstr(a, "id"), cli_jstr(e, "collection"),
		    cli_jstr(e, "record")[0] ? cli_jstr(e, "record") : "*",
		    json_is_true(json_object_get(e, "accountable")) ? "accountable" : "not accountable",
		    cli_jstr(e, "recipient")[0] ? ", recipient: " : "", cli_jstr(e, "recipient"));
	}
}

/* phivault subject disclosures SUBJECT [--since T] [--until T] [--format ...] */
static int
subject_disclosures(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *since = NULL, *until = NULL, *wire = NULL;
	char seg[SUBJECT_MAX * 3 + 1], path[SUBJECT_MAX * 3 + 512], q1[200] = "", q2[200] = "";
	char *text = NULL;
	json_t *resp = NULL;
	long status = 0;
	int c, ret = CLI_RUNTIME;

	cli_online_init(&on);
	optind = 2;
	while ((c = getopt_long(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, NULL)) != -1) {
		if (c == 'F' && (strcmp(optarg, "csv") == 0 || strcmp(optarg, "fhir") == 0)) {
			wire = optarg;   /* the server's own rendering, printed as it came */
			continue;
		}
		if (cli_online_opt(&on, c, optarg))
			continue;
		switch (c) {
		case O_SINCE: since = optarg; break;
		case O_UNTIL: until = optarg; break;
		case 'h':
			printf("%s\n", DISCLOSURES_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format || argc - optind != 1 || strlen(argv[optind]) > SUBJECT_MAX ||
	    !segment(argv[optind], seg, sizeof(seg)) ||
	    (since != NULL && !query_value(since, q1, sizeof(q1))) ||
	    (until != NULL && !query_value(until, q2, sizeof(q2)))) {
		cli_err(DISCLOSURES_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	snprintf(path, sizeof(path), "/v1/subjects/%s/disclosures?format=%s%s%s%s%s", seg,
	    wire != NULL ? wire : "json", since ? "&since=" : "", q1, until ? "&until=" : "", q2);
	if (cli_http_text(ctx.addr, ctx.cacert, ctx.token, path, &status, &resp, &text) != PV_OK)
		goto out;
	if (status != 200) {
		ret = cli_api_error(status, resp);
		goto out;
	}
	if (wire != NULL)
		fputs(text, stdout);
	else if (ctx.format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else
		print_disclosures(resp);
	ret = CLI_OK;
out:
	if (text != NULL) {
		memset(text, 0, strlen(text));
		free(text);
	}
	json_decref(resp);
	return ret;
}

int
cmd_subject(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "yes", no_argument, NULL, O_YES },
		{ "reason", required_argument, NULL, O_REASON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub, *reason = NULL;
	char seg[SUBJECT_MAX * 3 + 1], path[SUBJECT_MAX * 3 + 64];
	json_t *body = NULL;
	bool yes = false;
	int c, ret;

	if (argc >= 2 && strcmp(argv[1], "disclosures") == 0)
		return subject_disclosures(argc, argv);
	if ((c = cli_subcommand(argc, argv, SUBJECT_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case O_YES: yes = true; break;
		case O_REASON: reason = optarg; break;
		case 'h':
			printf("%s\n", SUBJECT_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format || argc - optind != 1)
		goto usage;
	if (strcmp(sub, "show") != 0 && strcmp(sub, "shred") != 0 && strcmp(sub, "hold") != 0 &&
	    strcmp(sub, "release") != 0)
		goto usage;
	if ((yes && strcmp(sub, "shred") != 0) || ((reason != NULL) != (strcmp(sub, "hold") == 0)))
		goto usage;
	if (strlen(argv[optind]) > SUBJECT_MAX || !segment(argv[optind], seg, sizeof(seg)))
		goto usage;
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	snprintf(path, sizeof(path), "/v1/subjects/%s", seg);
	if (strcmp(sub, "show") == 0)
		return call(&ctx, "GET", path, NULL, 200, "show");
	if (strcmp(sub, "shred") == 0) {
		if (!yes && !confirmed())
			return CLI_USAGE;
		return call(&ctx, "DELETE", path, NULL, 200, "shred");
	}
	snprintf(path, sizeof(path), "/v1/subjects/%s/hold", seg);
	if (strcmp(sub, "release") == 0)
		return call(&ctx, "DELETE", path, NULL, 200, "hold");
	if ((body = json_pack("{s:s}", "reason", reason)) == NULL)
		return CLI_RUNTIME;
	ret = call(&ctx, "POST", path, body, 200, "hold");
	json_decref(body);
	return ret;
usage:
	cli_err(SUBJECT_USAGE);
	return CLI_USAGE;
}

int
cmd_retention(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	int c;

	if ((c = cli_subcommand(argc, argv, RETENTION_USAGE, &on)) != CLI_GO_ON)
		return c;
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'h':
			printf("%s\n", RETENTION_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format || argc - optind != 0 || strcmp(argv[1], "run") != 0) {
		cli_err(RETENTION_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	return call(&ctx, "POST", "/v1/sys/retention", NULL, 202, "retention");
}
