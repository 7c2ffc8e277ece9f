/*
 * serve, dev: run the server (server.c); dev initialises the data directory
 * first if new. --listen applies to this run only, for both: it is never
 * written into phivault.conf (dev prints it as such), so the next run without
 * it uses [server] listen again. --allow-core (only with dev / serve --dev)
 * keeps core dumps possible for debugging; they may hold keys.
 */
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
	{ "allow-core", no_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
cmd_serve(int argc, char **argv)
{
	const char *data = NULL, *listen = NULL;
	bool dev = false, allow_core = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:l:h", serve_opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'l': listen = optarg; break;
		case 'D': dev = true; break;
		case 'C': allow_core = true; break;
		case 'h':
			printf("usage: phivault serve --data DIR [--listen ADDR:PORT] [--dev [--allow-core]]\n");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (data == NULL || optind != argc) {
		cli_err("usage: phivault serve --data DIR [--listen ADDR:PORT] [--dev [--allow-core]]");
		return CLI_USAGE;
	}
	if (allow_core && !dev) {
		cli_err("--allow-core is allowed only with --dev");
		return CLI_USAGE;
	}
	return server_run(data, listen, dev, allow_core);
}

int
cmd_dev(int argc, char **argv)
{
	const char *data = "./phivault-data", *listen = NULL;
	char conf[4096];
	struct stat sb;
	char addr[128];
	bool allow_core = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:l:h", serve_opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'l': listen = optarg; break;
		case 'C': allow_core = true; break;
		case 'h':
			printf("usage: phivault dev [--data DIR] [--listen ADDR:PORT] [--allow-core]\n");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("usage: phivault dev [--data DIR] [--listen ADDR:PORT] [--allow-core]");
		return CLI_USAGE;
	}
	if (util_path_join(conf, sizeof(conf), data, "phivault.conf") != 0) {
		cli_err("data directory path too long");
		return CLI_USAGE;
	}
	if (stat(conf, &sb) != 0) {
		struct cli_init_result res;
		int ret = cli_init_datadir_dev(data, &res);

		if (ret != CLI_OK)
			return ret;
		printf("phivault dev: initialised %s (key-file seal: %s/unseal.key)\n", data, data);
		printf("  bootstrap admin: username %s, one-time password %s\n", res.admin_username,
		    res.admin_password);
		printf("  security officer: username %s, one-time password %s\n",
		    res.officer_username, res.officer_password);
		printf("  (change them at first login; they are not shown again. The officer "
		    "approves PHI access: phivault approval approve ID)\n");
		printf("  audit key fingerprint: %s\n", res.audit_key_fingerprint);
		cli_init_result_clear(&res);
	} else {
		printf("phivault dev: using existing %s\n", data);
	}
	if (listen == NULL) {
		struct pv_config cfg;
		char err[512];

		/* the address this run will use: [server] listen */
		if (config_load(data, &cfg, err, sizeof(err)) != PV_OK) {
			cli_err("%s", err);
			return CLI_RUNTIME;
		}
		util_strlcpy(addr, cfg.listen, sizeof(addr));
	} else {
		util_strlcpy(addr, listen, sizeof(addr));
	}
	printf("  CA certificate: %s/tls/cert.pem\n", data);
	printf("  URL: https://%s/v1/sys/health\n", addr);
	if (listen != NULL)
		printf("  --listen %s applies to this run only (not saved; [server] listen in "
		    "%s/phivault.conf is what a run without --listen uses)\n", listen, data);
	printf("  try: curl --cacert %s/tls/cert.pem https://%s/v1/sys/health\n", data, addr);
	fflush(stdout);
	return server_run(data, listen, true, allow_core);
}
