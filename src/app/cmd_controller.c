/* Placeholder until the controller role lands: prints usage, refuses to run. */
#include <stdio.h>
#include <string.h>

#include "app/cmds.h"

int pn_cmd_controller(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: postern controller [options]\n\n(not implemented yet)\n");
		return 0;
	}
	fprintf(stderr, "postern controller: not implemented yet\n");
	return 1;
}
