#include <getopt.h>
#include <stdio.h>

#include "app/enroll.h"
#include "core/err.h"
#include "ctlapi/ctlapi.h"

int pn_app_enroll(const char *role, int argc, char **argv, void (*usage)(FILE *f))
{
	static const struct option opts[] = {
	    {"token", required_argument, 0, 't'},
	    {"state", required_argument, 0, 's'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *token = NULL, *state = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': token = optarg; break;
		case 's': state = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!token || !state) {
		fprintf(stderr, "postern %s enroll: need --token and --state\n", role);
		return 2;
	}
	if ((r = pn_ctlapi_global_init()) != 0 || (r = pn_ctlapi_enroll(state, token)) != 0) {
		fprintf(stderr, "postern %s enroll: %s (%s)\n", role, pn_strerror(r), pn_errname(r));
		return 1;
	}
	printf("enrolled: state in %s; run with: postern %s run --state %s ...\n", state, role,
	       state);
	return 0;
}
