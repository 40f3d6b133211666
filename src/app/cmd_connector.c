/* Placeholder until the connector role lands: prints usage, refuses to run. */
#include <stdio.h>
#include <string.h>

#include "app/cmds.h"

int pn_cmd_connector(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: postern connector [options]\n\n(not implemented yet)\n");
		return 0;
	}
	fprintf(stderr, "postern connector: not implemented yet\n");
	return 1;
}
