/* Placeholder until the client role lands: prints usage, refuses to run. */
#include <stdio.h>
#include <string.h>

#include "app/cmds.h"

int pn_cmd_client(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: postern client [options]\n\n(not implemented yet)\n");
		return 0;
	}
	fprintf(stderr, "postern client: not implemented yet\n");
	return 1;
}
