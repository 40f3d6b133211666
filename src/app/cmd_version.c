#include <stdio.h>

#include <gnutls/gnutls.h>
#include <uv.h>

#include "app/cmds.h"

int pn_cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("postern " PN_VERSION " (libuv %s, GnuTLS %s)\n", uv_version_string(),
	       gnutls_check_version(NULL));
	return 0;
}
