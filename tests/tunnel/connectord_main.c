/*
 * pn-connector-daemon: `postern connector` alone (the same
 * src/app/cmd_connector.c), so the tunnel tests do not depend on every
 * other role linking.  The scripts prefer the real postern binary.
 */
#include "app/cmds.h"

int main(int argc, char **argv)
{
	return pn_cmd_connector(argc - 1, argv + 1);
}
