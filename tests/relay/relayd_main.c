/*
 * pn-relay-daemon: `postern relay` alone (the same src/app/cmd_relay.c),
 * so the relay's tests do not depend on every other role linking.  The
 * scripts prefer the real postern binary when it exists.
 */
#include "app/cmds.h"

int main(int argc, char **argv)
{
	return pn_cmd_relay(argc - 1, argv + 1);
}
