/* serve, dev: run the server (server.c); dev initialises the data directory first if new. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/server.h"

static const struct option serve_opts[] = {
	{ "data", required_argument, NULL, 'd' },
	{ "listen", required_argument, NULL, 'l' },
	{ "dev", no_argument, NULL, 'D' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
cmd_serve(int argc, char **argv)
{
	const char *data = NULL, *listen = NULL;
	bool dev = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:l:h", serve_opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'l': listen = optarg; break;
		case 'D': dev = true; break;
		case 'h':
			printf("usage: phivault serve --data DIR [--listen ADDR:PORT] [--dev]\n");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (data == NULL || optind != argc) {
		cli_err("usage: phivault serve --data DIR [--listen ADDR:PORT] [--dev]");
		return CLI_USAGE;
	}
	return server_run(data, listen, dev);
}

int
cmd_dev(int argc, char **argv)
{
	const char *data = "./phivault-data", *listen = NULL;
	char conf[4096];
	struct stat sb;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:l:h", serve_opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'l': listen = optarg; break;
		case 'h':
			printf("usage: phivault dev [--data DIR] [--listen ADDR:PORT]\n");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("usage: phivault dev [--data DIR] [--listen ADDR:PORT]");
		return CLI_USAGE;
	}
	if (util_path_join(conf, sizeof(conf), data, "phivault.conf") != 0) {
		cli_err("data directory path too long");
		return CLI_USAGE;
	}
	if (stat(conf, &sb) != 0) {
		struct cli_init_result res;
		int ret = cli_init_datadir(data, "keyfile", "local", &res);

		if (ret != CLI_OK)
			return ret;
		printf("phivault dev: initialised %s (key-file seal: %s/unseal.key)\n", data, data);
		printf("  bootstrap admin: username %s, one-time password %s\n", res.admin_username,
		    res.admin_password);
		printf("  (change it at first login; it is not shown again)\n");
		printf("  audit key fingerprint: %s\n", res.audit_key_fingerprint);
		cli_init_result_clear(&res);
	} else {
		printf("phivault dev: using existing %s\n", data);
	}
	printf("  CA certificate: %s/tls/cert.pem\n", data);
	printf("  URL: https://%s/v1/sys/health\n", listen ? listen : "127.0.0.1:8443");
	printf("  try: curl --cacert %s/tls/cert.pem https://%s/v1/sys/health\n", data,
	    listen ? listen : "127.0.0.1:8443");
	fflush(stdout);
	return server_run(data, listen, true);
}
