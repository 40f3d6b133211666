/* Placeholder until the ctl role lands: prints usage, refuses to run. */
#include <stdio.h>
#include <string.h>

#include "app/cmds.h"

int pn_cmd_ctl(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: postern ctl [options]\n\n(not implemented yet)\n");
		return 0;
	}
	fprintf(stderr, "postern ctl: not implemented yet\n");
	return 1;
}
