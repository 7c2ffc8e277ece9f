/* version: `phivault version`. */
#include <stdio.h>

#include "cli/cli.h"

int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("phivault %s\n", PHIVAULT_VERSION);
	return CLI_OK;
}
